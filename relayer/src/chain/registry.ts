/**
 * The node's index of `ParsecChannels`: every channel's parameters, deposits, status and on-chain seqs,
 * built from the contract's events (the contract stores no parameters, so events are the only source).
 * It follows the chain by polling `eth_getLogs` and tells listeners what changed.
 */
import type { EventFragment, Result } from "ethers";
import {
  type Address,
  type ChannelParams,
  type Hash,
  type Hex,
  type OnchainState,
  onchainStateOf,
  toAddress,
} from "../../../sdk";
import type { Logger } from "../log";
import { messageOf } from "../errors";
import {
  CHANNEL_STATUS,
  SKIP_REASONS,
  channelsInterface,
  type ChannelStatusName,
  type SkipReasonName,
} from "./abi";
import type { RawLog, Rpc } from "./rpc";

export interface OnchainChannel {
  readonly channelId: Hash;
  readonly params: ChannelParams;
  /** Lower-case participant addresses, for comparisons. */
  readonly participantsLower: readonly [string, string];
  /** Participant addresses as bytes, compared with a transfer's claimed signer without decoding it. */
  readonly participantBytes: readonly [Buffer, Buffer];
  deposit0: bigint;
  deposit1: bigint;
  status: ChannelStatusName;
  /** Unix seconds when a closing channel may be settled; 0 otherwise. */
  closesAt: number;
  closer: Address | null;
  /** Each payer's on-chain head seq: the checkpoint word's or a proven one, whichever is higher. */
  seq0: number;
  seq1: number;
  /**
   * The checkpoint word's seqs: what a new checkpoint must be newer than (the contract compares a
   * checkpoint with these, not with proven heads).
   */
  checkpoint: { seq0: number; seq1: number };
  /** Each payer's locked pot held back at settlement, until `resolveLocks` splits it (0 when none). */
  lockPots: [bigint, bigint];
  /** Per payer, which locks of the settled pot are resolved (bit i: lock i). */
  locksResolved: [bigint, bigint];
  readonly openedAtBlock: number;
}

export type CommitHow = "checkpoint" | "head" | "chain";

export type ChainEvent =
  | { readonly type: "opened"; readonly channel: OnchainChannel }
  | { readonly type: "deposit"; readonly channel: OnchainChannel }
  | {
      readonly type: "committed";
      readonly channel: OnchainChannel;
      readonly how: CommitHow;
      readonly txHash: Hash;
    }
  | { readonly type: "closing"; readonly channel: OnchainChannel }
  | {
      readonly type: "settled";
      readonly channel: OnchainChannel;
      readonly how: "settle" | "cooperative" | "equivocation";
      readonly txHash: Hash;
    }
  | {
      readonly type: "skipped";
      readonly channelId: Hash;
      readonly what: "checkpoint" | "head";
      readonly reason: SkipReasonName;
      readonly txHash: Hash;
    };

export type ChainListener = (event: ChainEvent) => void;

const BLOCK_RANGE = 5000;

/** Events by topic0, computed once (ethers' parseLog re-hashes every fragment signature per call). */
const EVENTS = (() => {
  const m = new Map<string, EventFragment>();
  channelsInterface.forEachEvent((e) => m.set(e.topicHash, e));
  return m;
})();

export class ChainRegistry {
  private readonly channels = new Map<Hash, OnchainChannel>();
  private readonly participants = new Map<string, Set<Hash>>();
  private readonly listeners: ChainListener[] = [];
  private cursor: number;
  private running: Promise<void> | null = null;
  private again = false;
  private timer: NodeJS.Timeout | null = null;
  /** Timestamp of the newest block synced (seconds). */
  latestTimestamp = 0;
  latestBlock = 0;

  constructor(
    private readonly rpc: Rpc,
    readonly address: Address,
    startBlock: number,
    private readonly logger: Logger,
  ) {
    this.cursor = startBlock - 1;
  }

  on(listener: ChainListener): void {
    this.listeners.push(listener);
  }

  get(channelId: Hash): OnchainChannel | undefined {
    return this.channels.get(channelId);
  }

  /** Channels where `participant` is P0 or P1. */
  byParticipant(participant: string): OnchainChannel[] {
    const ids = this.participants.get(participant.toLowerCase());
    return ids ? [...ids].map((id) => this.channels.get(id) as OnchainChannel) : [];
  }

  get size(): number {
    return this.channels.size;
  }

  all(): IterableIterator<OnchainChannel> {
    return this.channels.values();
  }

  /** Starts polling every `pollMs`. */
  start(pollMs: number): void {
    const tick = (): void => {
      this.sync()
        .catch((e) => this.logger.warn("chain sync failed; retrying", { error: messageOf(e) }))
        .finally(() => {
          if (this.timer) this.timer = setTimeout(tick, pollMs);
        });
    };
    this.timer = setTimeout(tick, pollMs);
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /** Indexes up to the latest block. Concurrent callers share a run; a call during a run gets a fresh one. */
  sync(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      try {
        do {
          this.again = false;
          await this.syncOnce();
        } while (this.again);
      } finally {
        this.running = null;
      }
    })();
    return this.running;
  }

  private async syncOnce(): Promise<void> {
    const latest = await this.rpc.block("latest");
    while (this.cursor < latest.number) {
      const from = this.cursor + 1;
      const to = Math.min(latest.number, from + BLOCK_RANGE - 1);
      const logs = await this.rpc.logs(this.address, from, to);
      for (const log of logs) this.apply(log);
      this.cursor = to;
    }
    this.latestBlock = latest.number;
    this.latestTimestamp = latest.timestamp;
  }

  private emit(e: ChainEvent): void {
    for (const l of this.listeners) {
      try {
        l(e);
      } catch (err) {
        this.logger.error("chain listener failed", { error: messageOf(err), event: e.type });
      }
    }
  }

  private apply(log: RawLog): void {
    const fragment = EVENTS.get(log.topics[0]);
    if (!fragment) return; // an event of the vault or registry the node does not track
    let a: Result;
    try {
      a = channelsInterface.decodeEventLog(fragment, log.data, log.topics);
    } catch {
      return;
    }
    const parsed = { name: fragment.name };
    const id = String(a.channelId).toLowerCase() as Hash;
    const ch = this.channels.get(id);
    switch (parsed.name) {
      case "ChannelOpened": {
        const params: ChannelParams = {
          participant0: toAddress(String(a.participant0)),
          participant1: toAddress(String(a.participant1)),
          asset: toAddress(String(a.asset)),
          challengePeriod: Number(a.challengePeriod),
          nonce: BigInt(a.nonce),
        };
        const opened: OnchainChannel = {
          channelId: id,
          params,
          participantsLower: [params.participant0.toLowerCase(), params.participant1.toLowerCase()],
          participantBytes: [
            Buffer.from(params.participant0.slice(2), "hex"),
            Buffer.from(params.participant1.slice(2), "hex"),
          ],
          deposit0: BigInt(a.deposit0),
          deposit1: 0n,
          status: "OPEN",
          closesAt: 0,
          closer: null,
          seq0: 0,
          seq1: 0,
          checkpoint: { seq0: 0, seq1: 0 },
          lockPots: [0n, 0n],
          locksResolved: [0n, 0n],
          openedAtBlock: log.blockNumber,
        };
        this.channels.set(id, opened);
        for (const p of opened.participantsLower) {
          let set = this.participants.get(p);
          if (!set) this.participants.set(p, (set = new Set()));
          set.add(id);
        }
        this.emit({ type: "opened", channel: opened });
        return;
      }
      case "CheckpointSkipped":
      case "HeadProofSkipped":
        this.emit({
          type: "skipped",
          channelId: id,
          what: parsed.name === "CheckpointSkipped" ? "checkpoint" : "head",
          reason: SKIP_REASONS[Number(a.reason)] ?? "Malformed",
          txHash: log.transactionHash,
        });
        return;
    }
    if (!ch) return;
    switch (parsed.name) {
      case "Deposited":
        if (Number(a.side) === 0) ch.deposit0 = BigInt(a.total);
        else ch.deposit1 = BigInt(a.total);
        this.emit({ type: "deposit", channel: ch });
        return;
      case "Withdrawn":
        ch.deposit0 -= BigInt(a.amount0);
        ch.deposit1 -= BigInt(a.amount1);
        this.emit({ type: "deposit", channel: ch });
        return;
      case "Checkpointed":
        // A payer's on-chain head is the checkpoint's or a proven one, whichever has the higher seq.
        ch.checkpoint = { seq0: Number(a.seq0), seq1: Number(a.seq1) };
        ch.seq0 = Math.max(ch.seq0, Number(a.seq0));
        ch.seq1 = Math.max(ch.seq1, Number(a.seq1));
        this.emit({ type: "committed", channel: ch, how: "checkpoint", txHash: log.transactionHash });
        return;
      case "HeadProved":
        if (Number(a.payer) === 0) ch.seq0 = Number(a.seq);
        else ch.seq1 = Number(a.seq);
        this.emit({ type: "committed", channel: ch, how: "head", txHash: log.transactionHash });
        return;
      case "ChainExtended":
        if (Number(a.payer) === 0) ch.seq0 = Number(a.toSeq);
        else ch.seq1 = Number(a.toSeq);
        this.emit({ type: "committed", channel: ch, how: "chain", txHash: log.transactionHash });
        return;
      case "ChannelClosing":
        ch.status = "CLOSING";
        ch.closesAt = Number(a.closesAt);
        ch.closer = toAddress(String(a.closer));
        this.emit({ type: "closing", channel: ch });
        return;
      case "LocksResolved": {
        // Locks resolve one by one now: the pot shrinks by what was paid, the mask grows.
        const side = Number(a.payer) === 0 ? 0 : 1;
        const paid = BigInt(a.toPayee) + BigInt(a.toPayer);
        ch.lockPots[side] = ch.lockPots[side] > paid ? ch.lockPots[side] - paid : 0n;
        ch.locksResolved[side] |= BigInt(a.resolved);
        return;
      }
      case "ChannelSettled":
      case "ChannelClosedCooperatively":
      case "EquivocationProved":
        ch.status = CHANNEL_STATUS[3];
        if (parsed.name === "ChannelSettled") {
          ch.lockPots = [BigInt(a.pot0), BigInt(a.pot1)];
          ch.locksResolved = [0n, 0n];
        }
        this.emit({
          type: "settled",
          channel: ch,
          how:
            parsed.name === "ChannelSettled"
              ? "settle"
              : parsed.name === "EquivocationProved"
                ? "equivocation"
                : "cooperative",
          txHash: log.transactionHash,
        });
        return;
    }
  }

  /** The contract's state of a channel: checkpoint word and proven words (to find its heads), status. */
  async onchainState(
    channelId: Hash,
  ): Promise<OnchainState & { status: ChannelStatusName; closesAt: number }> {
    const call = async (name: "channelState" | "provenHeadsOf") => {
      const data = channelsInterface.encodeFunctionData(name, [channelId]);
      return channelsInterface.decodeFunctionResult(name, await this.rpc.ethCall(this.address, data as Hex));
    };
    const [state, proven] = await Promise.all([call("channelState"), call("provenHeadsOf")]);
    const record = state[0] as { status: bigint; closesAt: bigint };
    return {
      ...onchainStateOf(
        [record, state[1] as bigint, state[2] as bigint, state[3] as bigint],
        [proven[0] as bigint, proven[1] as bigint, proven[2] as bigint, proven[3] as bigint],
      ),
      status: CHANNEL_STATUS[Number(record.status)] ?? "NONE",
      closesAt: Number(record.closesAt),
    };
  }
}
