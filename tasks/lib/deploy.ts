/**
 * Deploys the Parsec contracts with the first signer and writes `deployments/<network>.json`. The file's
 * one type and parser are the SDK's (`sdk/src/deployment.ts`); `relayer/src/deployment.ts` finds, reads
 * and writes it for the node (`PARSEC_DEPLOYMENT`), this task and the other tasks; the block the node and
 * the tasks index events from is its `blockNumber`.
 */
import path from "node:path";
import { ContractFactory, formatUnits, type Signer } from "ethers";
import type { Artifacts, HardhatRuntimeEnvironment } from "hardhat/types";
import { deploymentPath, writeDeployment, type DeploymentWith } from "../../relayer/src/deployment";
import { print } from "./output";

/** Chain ids of local development chains (Hardhat, Anvil/Ganache): they get a TestToken for demos. */
export const LOCAL_CHAIN_IDS: readonly number[] = [31337, 1337];
/** TST minted to each of the first signers of a local chain. */
export const DEMO_TOKEN_MINT = 1_000_000n * 10n ** 18n;

export interface DeployOptions {
  /** Deploy the demo TestToken: default on local chains, or with `PARSEC_DEPLOY_TEST_TOKEN=1`. */
  readonly withTestToken?: boolean;
  /** Where to write the JSON; `null` writes nothing. Default `deployments/<network>.json`. */
  readonly outFile?: string | null;
}

/** The default deployment file of the network Hardhat runs on. */
export function deploymentFile(hre: HardhatRuntimeEnvironment): string {
  return deploymentPath(hre.config.paths.root, hre.network.name);
}

/**
 * Deploys with any ethers signer and the project's artifacts: the in-process network, a node over HTTP,
 * or a second provider (the fork tests). `mintTo` receive demo tokens when a TestToken is deployed.
 */
export async function deployWith(
  deployer: Signer,
  artifacts: Artifacts,
  options: { readonly withTestToken: boolean; readonly mintTo?: readonly string[] },
): Promise<Deployed> {
  const chainId = Number((await deployer.provider?.getNetwork())?.chainId ?? 0n);
  const deploy = async (name: string, args: readonly unknown[] = []) => {
    const artifact = await artifacts.readArtifact(name);
    const contract = await new ContractFactory(artifact.abi, artifact.bytecode, deployer).deploy(...args);
    const receipt = await contract.deploymentTransaction()?.wait();
    if (!receipt) throw new Error(`${name}: the deployment transaction has no receipt`);
    const address = (await contract.getAddress()) as `0x${string}`;
    print(`  ${name} ${address} (gas ${receipt.gasUsed}, block ${receipt.blockNumber})`);
    return { address, blockNumber: receipt.blockNumber, contract };
  };
  const channels = await deploy("ParsecChannels");
  const htlc = await deploy("HashedTimelock");
  let token: `0x${string}` | undefined;
  if (options.withTestToken) {
    const deployed = await deploy("TestToken", ["Parsec Test Token", "TST", 18]);
    token = deployed.address;
    const mint = deployed.contract.getFunction("mint");
    for (const to of options.mintTo ?? []) await (await mint(to, DEMO_TOKEN_MINT)).wait();
    if (options.mintTo?.length)
      print(`  minted ${formatUnits(DEMO_TOKEN_MINT, 18)} TST to each of ${options.mintTo.length} accounts`);
  }
  return {
    chainId,
    ParsecChannels: channels.address,
    HashedTimelock: htlc.address,
    ...(token ? { TestToken: token } : {}),
    blockNumber: channels.blockNumber,
  };
}

export { writeDeployment };

/** What a deploy returns: a `Deployment` (the file's one type) that always has `HashedTimelock`. */
export type Deployed = DeploymentWith<"HashedTimelock">;

export async function deployParsec(
  hre: HardhatRuntimeEnvironment,
  options: DeployOptions = {},
): Promise<Deployed> {
  const signers = await hre.ethers.getSigners();
  const deployer = signers[0];
  if (!deployer)
    throw new Error(`network ${hre.network.name} has no account: set PARSEC_PRIVATE_KEY or PARSEC_KEYSTORE`);
  const chainId = Number((await hre.ethers.provider.getNetwork()).chainId);
  const withTestToken =
    options.withTestToken ??
    (LOCAL_CHAIN_IDS.includes(chainId) || process.env.PARSEC_DEPLOY_TEST_TOKEN === "1");
  print(`deploying to ${hre.network.name} (chain ${chainId}) from ${deployer.address}`);
  const deployment = await deployWith(deployer, hre.artifacts, {
    withTestToken,
    mintTo: signers.slice(0, 5).map((s) => s.address),
  });
  const outFile = options.outFile === undefined ? deploymentFile(hre) : options.outFile;
  if (outFile) {
    writeDeployment(outFile, deployment);
    print(`wrote ${path.relative(hre.config.paths.root, outFile)}`);
  }
  return deployment;
}
