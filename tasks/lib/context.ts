/**
 * What every task needs: the deployment of the network it runs on, the contracts, the signer (`--from`),
 * channels looked up by id, amounts in the asset's units, and transactions sent with their gas printed
 * and their reverts in words.
 */
import fs from "node:fs";
import type { ContractTransactionReceipt, ContractTransactionResponse } from "ethers";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import type { HardhatRuntimeEnvironment } from "hardhat/types";
import type { HashedTimelock, ParsecChannels, TestToken } from "../../typechain-types";
import {
  parseAmount,
  formatAmount,
  paramsFromOpened,
  toChannelViews,
  type ChannelWithViews,
  type Deployment,
} from "../../client";
import { parsecDomain, ZERO_ADDRESS, type Domain, type Hash, type Hex } from "../../sdk/isomorphic";
import { readDeployment } from "../../relayer/src/deployment";
import { deploymentFile } from "./deploy";
import { TaskError, toTaskError } from "./errors";
import { print } from "./output";

export interface ContextOptions {
  /** Path of the deployment JSON; default deployments/<network>.json. */
  readonly deployment?: string;
  /** The sending account: an address, or an index into the network's accounts. Default the first. */
  readonly from?: string;
}

/** What a task that only reads the chain needs (it may run on a network without accounts). */
export interface ReadContext {
  readonly hre: HardhatRuntimeEnvironment;
  readonly deployment: Deployment;
  readonly domain: Domain;
  readonly channels: ParsecChannels;
  readonly htlc: HashedTimelock;
}

export interface ParsecContext extends ReadContext {
  readonly signer: HardhatEthersSigner;
}

/** One mined transaction of a task. */
export interface TxReport {
  readonly label: string;
  readonly hash: Hex;
  readonly gasUsed: bigint;
  readonly blockNumber: number;
  readonly receipt: ContractTransactionReceipt;
}

/** The deployment the tasks use (`HashedTimelock` required), read by the node's one reader. */
export function loadDeployment(hre: HardhatRuntimeEnvironment, file = deploymentFile(hre)): Deployment {
  if (!fs.existsSync(file)) {
    throw new TaskError(
      `no deployment at ${file}. Deploy first: npx hardhat run scripts/deploy.ts --network ${hre.network.name}`,
    );
  }
  try {
    return readDeployment(file, { require: ["HashedTimelock"] });
  } catch (e) {
    throw new TaskError(e instanceof Error ? e.message : String(e), e);
  }
}

async function resolveSigner(
  hre: HardhatRuntimeEnvironment,
  from: string | undefined,
): Promise<HardhatEthersSigner> {
  const signers = await hre.ethers.getSigners();
  if (from === undefined || from === "") {
    if (!signers[0])
      throw new TaskError(
        `network ${hre.network.name} has no account: set PARSEC_PRIVATE_KEY or PARSEC_KEYSTORE`,
      );
    return signers[0];
  }
  if (/^\d+$/.test(from)) {
    const signer = signers[Number(from)];
    if (!signer) throw new TaskError(`--from ${from}: the network has only ${signers.length} accounts`);
    return signer;
  }
  if (!hre.ethers.isAddress(from))
    throw new TaskError(`--from must be an address or an account index, got ${from}`);
  return hre.ethers.getSigner(from);
}

/** The deployment and the contracts on the network Hardhat runs on, read through its provider. */
export async function readContext(
  hre: HardhatRuntimeEnvironment,
  options: Pick<ContextOptions, "deployment"> = {},
): Promise<ReadContext> {
  const deployment = loadDeployment(hre, options.deployment || undefined);
  const chainId = Number((await hre.ethers.provider.getNetwork()).chainId);
  if (chainId !== deployment.chainId) {
    throw new TaskError(
      `the deployment is for chain ${deployment.chainId} but ${hre.network.name} is chain ${chainId}`,
    );
  }
  const provider = hre.ethers.provider;
  const channels = new hre.ethers.Contract(
    deployment.ParsecChannels,
    (await hre.artifacts.readArtifact("ParsecChannels")).abi,
    provider,
  ) as unknown as ParsecChannels;
  const htlc = new hre.ethers.Contract(
    deployment.HashedTimelock,
    (await hre.artifacts.readArtifact("HashedTimelock")).abi,
    provider,
  ) as unknown as HashedTimelock;
  return { hre, deployment, domain: parsecDomain(chainId, deployment.ParsecChannels), channels, htlc };
}

export async function parsecContext(
  hre: HardhatRuntimeEnvironment,
  options: ContextOptions = {},
): Promise<ParsecContext> {
  const read = await readContext(hre, options);
  const signer = await resolveSigner(hre, options.from);
  return {
    ...read,
    signer,
    channels: read.channels.connect(signer) as ParsecChannels,
    htlc: read.htlc.connect(signer) as HashedTimelock,
  };
}

/** Sends a transaction, waits for it, prints its hash and gas; a revert becomes a `TaskError` in words. */
export async function send(
  label: string,
  sendTx: () => Promise<ContractTransactionResponse>,
): Promise<TxReport> {
  let receipt: ContractTransactionReceipt | null;
  try {
    const tx = await sendTx();
    print(`  ${label}: sent ${tx.hash}, waiting…`);
    receipt = await tx.wait();
  } catch (e) {
    throw toTaskError(label, e);
  }
  if (!receipt) throw new TaskError(`${label}: the transaction was dropped`);
  print(`  ${label}: mined in block ${receipt.blockNumber}, gas used ${receipt.gasUsed}`);
  return {
    label,
    hash: receipt.hash as Hex,
    gasUsed: receipt.gasUsed,
    blockNumber: receipt.blockNumber,
    receipt,
  };
}

/** A channel's parameters (from its `ChannelOpened` event) and on-chain state (both views, one block). */
export async function findChannel(ctx: ReadContext, channelId: string): Promise<ChannelWithViews> {
  if (!/^0x[0-9a-fA-F]{64}$/.test(channelId))
    throw new TaskError(`--channel must be a 32-byte 0x id, got ${channelId}`);
  const logs = await ctx.channels.queryFilter(
    ctx.channels.filters.ChannelOpened(channelId),
    ctx.deployment.blockNumber,
  );
  const opened = logs[0];
  if (!opened)
    throw new TaskError(
      `no channel ${channelId} was opened on ParsecChannels ${ctx.deployment.ParsecChannels}`,
    );
  // Both views at one block: the checkpoint word (`channelState`) and the proven words (`provenHeadsOf`).
  const blockTag = await ctx.hre.ethers.provider.getBlockNumber();
  const [state, proven] = await Promise.all([
    ctx.channels.channelState(channelId, { blockTag }),
    ctx.channels.provenHeadsOf(channelId, { blockTag }),
  ]);
  return {
    channelId: channelId.toLowerCase() as Hash,
    params: paramsFromOpened({
      channelId,
      participant0: opened.args.participant0,
      participant1: opened.args.participant1,
      asset: opened.args.asset,
      challengePeriod: opened.args.challengePeriod,
      nonce: opened.args.nonce,
    }),
    openedAtBlock: opened.blockNumber,
    ...toChannelViews(state, proven),
  };
}

/** The ERC-20 at `address` (or the deployment's TestToken for "TestToken"/"TST"). */
export async function tokenAt(ctx: ReadContext | ParsecContext, address: string): Promise<TestToken> {
  const resolved = address === "TestToken" || address === "TST" ? ctx.deployment.TestToken : address;
  if (!resolved || !ctx.hre.ethers.isAddress(resolved)) {
    throw new TaskError(
      `--token must be an ERC-20 address${ctx.deployment.TestToken ? " or TST" : ""}, got ${address}`,
    );
  }
  const signer = "signer" in ctx ? ctx.signer : undefined;
  return (await ctx.hre.ethers.getContractAt("TestToken", resolved, signer)) as unknown as TestToken;
}

/** The decimals and symbol of an asset (ETH for the zero address). */
export async function assetInfo(
  ctx: ReadContext,
  asset: string,
): Promise<{ decimals: number; symbol: string }> {
  if (asset === ZERO_ADDRESS) return { decimals: 18, symbol: "ETH" };
  const token = await tokenAt(ctx, asset);
  try {
    return { decimals: Number(await token.decimals()), symbol: await token.symbol() };
  } catch (e) {
    throw toTaskError(`reading the token ${asset}`, e);
  }
}

/** `--amount` in base units of the asset, with a message that says what is wrong. */
export function amountArg(name: string, input: string, decimals: number, allowZero = false): bigint {
  try {
    return parseAmount(input, decimals, { allowZero });
  } catch (e) {
    throw new TaskError(`--${name}: ${(e as Error).message}`, e);
  }
}

/** Approves `spender` for `amount` if the allowance is lower, printing the approve step. */
export async function ensureAllowance(
  token: TestToken,
  owner: string,
  spender: string,
  amount: bigint,
): Promise<TxReport | null> {
  const allowance = await token.allowance(owner, spender);
  if (allowance >= amount) {
    print(`  allowance ${allowance} already covers ${amount}`);
    return null;
  }
  return send("approve", () => token.approve(spender, amount));
}

export { formatAmount };
