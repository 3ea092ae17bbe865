/** Reads the user's channels and escrows from contract events and state, plus the relayer's view. */
import { getPublicClient, readContract, type Config } from "@wagmi/core";
import type { Address, Hex } from "viem";
import {
  hashedTimelockAbi,
  parsecChannelsAbi,
  testTokenAbi,
  paramsFromOpened,
  sideOf,
  toChannelViews,
  type ChannelWithViews,
  type Deployment,
  type RelayerChannel,
  type RelayerClient,
} from "../../client";
import { ZERO_ADDRESS, type Hash } from "../../sdk/isomorphic";

export interface AssetInfo {
  readonly address: Address;
  readonly symbol: string;
  readonly decimals: number;
}

export interface ChannelView extends ChannelWithViews {
  /** The connected account's side. */
  readonly side: 0 | 1;
  readonly asset: AssetInfo;
  /** The relayer's off-chain state, when a relayer is configured and knows the channel. */
  readonly offchain: RelayerChannel | null;
  readonly offchainError: string | null;
}

export interface EscrowView {
  readonly id: Hash;
  readonly sender: Address;
  readonly receiver: Address;
  readonly asset: AssetInfo;
  readonly amount: bigint;
  readonly hashlock: Hex;
  readonly timelock: number;
  readonly settled: boolean;
}

const ETH: AssetInfo = { address: ZERO_ADDRESS, symbol: "ETH", decimals: 18 };
const assetCache = new Map<string, Promise<AssetInfo>>();

export function assetInfo(config: Config, address: Address): Promise<AssetInfo> {
  if (address === ZERO_ADDRESS) return Promise.resolve(ETH);
  let cached = assetCache.get(address);
  if (!cached) {
    cached = Promise.all([
      readContract(config, { address, abi: testTokenAbi, functionName: "symbol" }),
      readContract(config, { address, abi: testTokenAbi, functionName: "decimals" }),
    ]).then(([symbol, decimals]) => ({ address, symbol, decimals: Number(decimals) }));
    cached.catch(() => assetCache.delete(address));
    assetCache.set(address, cached);
  }
  return cached;
}

function client(config: Config) {
  const c = getPublicClient(config);
  if (!c) throw new Error("No RPC client for the deployment's chain: check the rpc setting.");
  return c;
}

/** The timestamp of the latest block: what the contract's countdowns compare against. */
export async function chainTime(config: Config): Promise<number> {
  const block = await client(config).getBlock({ blockTag: "latest" });
  return Number(block.timestamp);
}

/** Every channel `account` is a participant of, newest first, with its on-chain and relayer state. */
export async function loadChannels(
  config: Config,
  deployment: Deployment,
  account: Address,
  relayer: RelayerClient | null,
): Promise<ChannelView[]> {
  const c = client(config);
  const fromBlock = BigInt(deployment.blockNumber);
  const common = {
    address: deployment.ParsecChannels,
    abi: parsecChannelsAbi,
    eventName: "ChannelOpened",
    fromBlock,
  } as const;
  const [asP0, asP1] = await Promise.all([
    c.getContractEvents({ ...common, args: { participant0: account } }),
    c.getContractEvents({ ...common, args: { participant1: account } }),
  ]);
  const opened = new Map<string, (typeof asP0)[number]>();
  for (const log of [...asP0, ...asP1])
    if (log.args.channelId) opened.set(log.args.channelId.toLowerCase(), log);
  if (relayer) {
    // Channels only the relayer lists are looked up by id (their event gives the parameters).
    const ids = await relayer.channels(account).catch(() => [] as Hex[]);
    const missing = ids.filter((id) => !opened.has(id));
    if (missing.length > 0) {
      const logs = await c.getContractEvents({ ...common, args: { channelId: missing } });
      for (const log of logs) if (log.args.channelId) opened.set(log.args.channelId.toLowerCase(), log);
    }
  }
  const views = await Promise.all(
    [...opened.values()].map(async (log): Promise<ChannelView | null> => {
      const a = log.args;
      if (
        !a.channelId ||
        !a.participant0 ||
        !a.participant1 ||
        !a.asset ||
        a.challengePeriod === undefined ||
        a.nonce === undefined
      ) {
        return null;
      }
      const params = paramsFromOpened({
        ...a,
        channelId: a.channelId,
        participant0: a.participant0,
        participant1: a.participant1,
        asset: a.asset,
        challengePeriod: a.challengePeriod,
        nonce: a.nonce,
      });
      const side = sideOf(params, account);
      if (side === null) return null;
      const [state, proven, asset, off] = await Promise.all([
        readContract(config, {
          address: deployment.ParsecChannels,
          abi: parsecChannelsAbi,
          functionName: "channelState",
          args: [a.channelId],
        }),
        readContract(config, {
          address: deployment.ParsecChannels,
          abi: parsecChannelsAbi,
          functionName: "provenHeadsOf",
          args: [a.channelId],
        }),
        assetInfo(config, params.asset),
        relayer
          ? relayer.channel(a.channelId.toLowerCase() as Hex).then(
              (v) => ({ v, e: null }),
              (e: Error) => ({ v: null, e: e.message }),
            )
          : Promise.resolve({ v: null, e: null }),
      ]);
      return {
        channelId: a.channelId.toLowerCase() as Hash,
        params,
        openedAtBlock: Number(log.blockNumber ?? 0n),
        ...toChannelViews(state, proven),
        side,
        asset,
        offchain: off.v,
        offchainError: off.e,
      };
    }),
  );
  return views.filter((v): v is ChannelView => v !== null).sort((x, y) => y.openedAtBlock - x.openedAtBlock);
}

/** Escrows locked for `account` in the HashedTimelock, newest first. */
export async function loadEscrows(
  config: Config,
  deployment: Deployment,
  account: Address,
): Promise<EscrowView[]> {
  const logs = await client(config).getContractEvents({
    address: deployment.HashedTimelock,
    abi: hashedTimelockAbi,
    eventName: "Locked",
    args: { receiver: account },
    fromBlock: BigInt(deployment.blockNumber),
  });
  const views = await Promise.all(
    logs.map(async (log): Promise<EscrowView | null> => {
      const id = log.args.id;
      if (!id) return null;
      const escrow = await readContract(config, {
        address: deployment.HashedTimelock,
        abi: hashedTimelockAbi,
        functionName: "escrowOf",
        args: [id],
      });
      return {
        id: id.toLowerCase() as Hash,
        sender: escrow.sender,
        receiver: escrow.receiver,
        asset: await assetInfo(config, escrow.asset),
        amount: escrow.amount,
        hashlock: escrow.hashlock,
        timelock: Number(escrow.timelock),
        settled: escrow.settled,
      };
    }),
  );
  return views.filter((v): v is EscrowView => v !== null).reverse();
}
