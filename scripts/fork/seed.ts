/**
 * The fork source used when no FORK_URL is given: a local `hardhat node` seeded like a public chain —
 * two tokens shaped like USDC (6 decimals) and WBTC (8 decimals) held by addresses nobody has the key of
 * (the mainnet holders' addresses), a few blocks on top. The fork tests then fork it at `forkBlock` and
 * must impersonate those holders, exactly as on mainnet. Changes after `forkBlock` must not show in a fork.
 */
import { ContractFactory, type JsonRpcProvider } from "ethers";
import type { Artifacts } from "hardhat/types";
import { MAINNET_TOKENS, type ForkToken } from "./tokens";

export interface SeededSource {
  readonly tokens: readonly ForkToken[];
  /** Each holder's balance at `forkBlock`, in whole tokens. */
  readonly wholeTokensAtFork: bigint;
  readonly forkBlock: number;
}

/** Which of the node's 20 accounts deploys the seeded tokens. */
const SEED_DEPLOYER_INDEX = 19;

/** Base units each holder gets before the fork block (1,000,000 whole tokens). */
const SEED_WHOLE_TOKENS = 1_000_000n;

/**
 * Deploys and mints the tokens, mines, and returns the fork block. `provider` must not cache requests
 * (`cacheTimeout: -1`): the fork block is read right after mining.
 */
export async function seedForkSource(provider: JsonRpcProvider, artifacts: Artifacts): Promise<SeededSource> {
  // A deployer the fork never uses: the fork's own accounts start again at nonce 0 and would redeploy
  // onto the seeded tokens' addresses.
  const deployer = await provider.getSigner(SEED_DEPLOYER_INDEX);
  const artifact = await artifacts.readArtifact("TestToken");
  const tokens: ForkToken[] = [];
  for (const shape of MAINNET_TOKENS) {
    const token = await new ContractFactory(artifact.abi, artifact.bytecode, deployer).deploy(
      `${shape.symbol} (seeded)`,
      shape.symbol,
      shape.decimals,
    );
    await token.waitForDeployment();
    const holder = shape.holders[0];
    await (await token.getFunction("mint")(holder, SEED_WHOLE_TOKENS * 10n ** BigInt(shape.decimals))).wait();
    tokens.push({
      symbol: shape.symbol,
      address: (await token.getAddress()) as `0x${string}`,
      decimals: shape.decimals,
      holders: [holder],
    });
  }
  await provider.send("hardhat_mine", ["0x5"]);
  const forkBlock = await provider.getBlockNumber();
  // State after the fork block: a fork pinned at forkBlock must not see these mints.
  for (const t of tokens) {
    const token = new ContractFactory(artifact.abi, artifact.bytecode, deployer).attach(t.address);
    await (await token.getFunction("mint")(t.holders[0], 1n)).wait();
  }
  await provider.send("hardhat_mine", ["0x3"]);
  return { tokens, wholeTokensAtFork: SEED_WHOLE_TOKENS, forkBlock };
}
