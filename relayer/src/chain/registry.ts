/**
 * The node's index of `ParsecChannels`: every channel's parameters, deposits, status and on-chain seqs,
 * built from the contract's events (the contract stores no parameters, so events are the only source).
 * It follows the chain by polling `eth_getLogs` and tells listeners what changed.
 *
 * It acts on a block's events only once the block is `confirmations` deep, and checks that the blocks it
 * read are still on the chain (block hash continuity): when a reorganisation replaced some, it finds the
 * common ancestor, undoes what the replaced blocks changed, tells listeners (`reorg`) and reads the new
 * blocks. See "Chain reorganisations" in docs/relayer.md.
 */
import type { EventFragment, Result } from "ethers";
import {
  type Address,
  type ChannelParams,
  type Hash,
  type Hex,
  type OnchainChannel as OnchainChannelView,
  type OnchainState,
  onchainStateOf,
  toAddress,
} from "../../../sdk";
import type { Logger } from "../log";
import { ChainError, messageOf } from "../errors";
import { M, type Metrics } from "../http/metrics";
import {
  CHANNEL_STATUS,
  SKIP_REASONS,
  channelsInterface,
  type ChannelStatusName,
  type SkipReasonName,
} from "./abi";
import { BlockHistory, DEFAULT_HISTORY_BLOCKS, defaultConfirmations } from "./reorg";
import type { BlockHeader, RawLog, Rpc } from "./rpc";

/** The SDK's on-chain view of a channel, with the node's own fields; the registry updates it in place. */
export interface OnchainChannel extends OnchainChannelView {
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
}

export type CommitHow = "checkpoint" | "head" | "chain";

/** A secret registered on-chain (`SecretRevealed`), as the confirmed index holds it. */
export interface OnchainReveal {
  readonly secret: Hash;
  /** Its block's timestamp: the contract's `secretRevealedAt(hashlock)`. */
  readonly at: bigint;
}

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
    }
  | {
      /**
       * Blocks the index had read left the chain: what they changed is undone. `channels` are the records
       * that changed, as they are now (re-read them); `removed` were opened in an undone block and are
       * gone (their records say `NONE`). Events of the blocks that replaced them follow as usual. A channel
       * that is closing after the rewind is announced with `closing` again right after this event.
       */
      readonly type: "reorg";
      /** The newest block the index kept (the common ancestor; the start block − 1 after a rebuild). */
      readonly ancestor: number;
      /** How many indexed blocks were undone. */
      readonly depth: number;
      readonly channels: readonly OnchainChannel[];
      readonly removed: readonly Hash[];
    };

export type ChainListener = (event: ChainEvent) => void;

export interface ChainRegistryOptions {
  /**
   * How deep a block must be before its events are acted on (0: at once). Default (undefined or null):
   * `defaultConfirmations(chainId)`, 0 on local development chains and 12 elsewhere.
   */
  readonly confirmations?: number | null;
  /** Indexed blocks kept to rewind from (`DEFAULT_HISTORY_BLOCKS`); deeper reorganisations rebuild. */
  readonly historyBlocks?: number;
  /** Where `parsec_chain_reorgs_total` is counted. */
  readonly metrics?: Metrics;
}

const BLOCK_RANGE = 5000;

/** Attempts of one sync when the chain changes while it is being read. */
const SYNC_ATTEMPTS = 3;

/** What events change in a channel record: what a rewind restores. */
type ChannelFields = Pick<
  OnchainChannel,
  | "deposit0"
  | "deposit1"
  | "status"
  | "closesAt"
  | "closer"
  | "seq0"
  | "seq1"
  | "checkpoint"
  | "lockPots"
  | "locksResolved"
>;

/**
 * How to undo one change: a channel's record before it (null when the change created the channel), or
 * a secret's reveal (forgotten on undo).
 */
type Undo = { readonly channelId: Hash; readonly before: ChannelFields | null } | { readonly hashlock: Hash };

function fieldsOf(ch: ChannelFields): ChannelFields {
  return {
    deposit0: ch.deposit0,
    deposit1: ch.deposit1,
    status: ch.status,
    closesAt: ch.closesAt,
    closer: ch.closer,
    seq0: ch.seq0,
    seq1: ch.seq1,
    checkpoint: { ...ch.checkpoint },
    lockPots: [...ch.lockPots],
    locksResolved: [...ch.locksResolved],
  };
}

/** Writes `f` into the record in place: listeners holding the object see the restored values. */
function restore(ch: OnchainChannel, f: ChannelFields): void {
  Object.assign(ch, fieldsOf(f));
}

function sameFields(a: ChannelFields, b: ChannelFields): boolean {
  const key = (f: ChannelFields): string =>
    JSON.stringify(f, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v));
  return key(a) === key(b);
}

/**
 * The index proper: the channels, who is in them, the secrets revealed, how far it has read and the
 * recent blocks read.
 */
class IndexState {
  readonly channels = new Map<Hash, OnchainChannel>();
  readonly participants = new Map<string, Set<Hash>>();
  /**
   * `SecretRevealed`: each hashlock's secret and when it was first registered (its block's timestamp, as
   * the contract's `secretRevealedAt`). One entry per registered secret, never pruned: a reveal decides
   * the CANCEL of any lock under its hashlock expiring at or after it, whenever that lock was made. About
   * 250 bytes an entry, and each costs its registrant gas (a million entries: ~25 G gas, ~250 MB).
   */
  readonly reveals = new Map<Hash, OnchainReveal>();
  /** Timestamp of block `cursor` (0 before the first block is read). */
  cursorTimestamp = 0;
  readonly history: BlockHistory<Undo>;

  constructor(
    /** The newest block whose events are applied. */
    public cursor: number,
    historyBlocks: number,
  ) {
    this.history = new BlockHistory<Undo>(historyBlocks);
  }

  add(ch: OnchainChannel): void {
    this.channels.set(ch.channelId, ch);
    for (const p of ch.participantsLower) {
      let set = this.participants.get(p);
      if (!set) this.participants.set(p, (set = new Set()));
      set.add(ch.channelId);
    }
  }

  remove(id: Hash): void {
    const ch = this.channels.get(id);
    if (!ch) return;
    this.channels.delete(id);
    for (const p of ch.participantsLower) {
      const set = this.participants.get(p);
      set?.delete(id);
      if (set?.size === 0) this.participants.delete(p);
    }
  }
}

/** Events by topic0, computed once (ethers' parseLog re-hashes every fragment signature per call). */
const EVENTS = (() => {
  const m = new Map<string, EventFragment>();
  channelsInterface.forEachEvent((e) => m.set(e.topicHash, e));
  return m;
})();

const REORGS_HELP = "Chain reorganisations that undid indexed blocks";

const SECRET_REVEALED_TOPIC = channelsInterface.getEvent("SecretRevealed")?.topicHash;

/**
 * Whether freshly read headers and logs describe one chain that continues the kept tip: each header the
 * child of the one before (the first, of the tip when it is the next height), and each log of a kept
 * height in the block the header names.
 */
function consistent(
  tip: { number: number; hash: Hash } | undefined,
  headers: readonly (BlockHeader | null)[],
  logs: readonly RawLog[],
  keepFrom: number,
): boolean {
  for (let i = 0; i < headers.length; i++) {
    const h = headers[i];
    if (!h || h.number !== keepFrom + i) return false;
    const parent = i > 0 ? headers[i - 1] : tip && tip.number === h.number - 1 ? tip : null;
    if (parent && h.parentHash !== parent.hash) return false;
  }
  for (const log of logs) {
    if (log.blockNumber < keepFrom) continue;
    if (log.blockHash !== headers[log.blockNumber - keepFrom]?.hash) return false;
  }
  return true;
}

export class ChainRegistry {
  private state: IndexState;
  private readonly listeners: ChainListener[] = [];
  private running: Promise<void> | null = null;
  private again = false;
  private timer: NodeJS.Timeout | null = null;
  /** Blocks below the head before an event is acted on. */
  readonly confirmations: number;
  private readonly historyBlocks: number;
  private readonly metrics: Metrics | null;
  /** Timestamp of the newest block seen (seconds): the chain's time now, not the confirmed block's. */
  latestTimestamp = 0;
  /** The newest block seen (the head; events are applied up to `confirmedBlock`). */
  latestBlock = 0;
  /** When a sync last completed (ms since the epoch; null: never): health reads the chain's reachability. */
  syncedAtMs: number | null = null;

  constructor(
    private readonly rpc: Rpc,
    readonly address: Address,
    private readonly startBlock: number,
    private readonly logger: Logger,
    options: ChainRegistryOptions = {},
  ) {
    this.confirmations = options.confirmations ?? defaultConfirmations(rpc.chainId);
    if (!Number.isInteger(this.confirmations) || this.confirmations < 0)
      throw new RangeError(`confirmations must be a non-negative integer, got ${this.confirmations}`);
    this.historyBlocks = options.historyBlocks ?? DEFAULT_HISTORY_BLOCKS;
    this.metrics = options.metrics ?? null;
    this.metrics?.declare(M.reorgs, REORGS_HELP, "counter");
    this.state = new IndexState(startBlock - 1, this.historyBlocks);
  }

  on(listener: ChainListener): void {
    this.listeners.push(listener);
  }

  get(channelId: Hash): OnchainChannel | undefined {
    return this.state.channels.get(channelId);
  }

  /** Channels where `participant` is P0 or P1. */
  byParticipant(participant: string): OnchainChannel[] {
    const ids = this.state.participants.get(participant.toLowerCase());
    return ids ? [...ids].map((id) => this.state.channels.get(id) as OnchainChannel) : [];
  }

  get size(): number {
    return this.state.channels.size;
  }

  all(): IterableIterator<OnchainChannel> {
    return this.state.channels.values();
  }

  /** The newest block whose events the index reflects: `latestBlock − confirmations` once synced. */
  get confirmedBlock(): number {
    return this.state.cursor;
  }

  /**
   * Timestamp (Unix seconds) of `confirmedBlock`: the chain time the index is complete through. A reveal
   * at or before it is indexed; one after it may still come (0 before the first sync).
   */
  get confirmedTimestamp(): number {
    return this.state.cursorTimestamp;
  }

  /**
   * When `hashlock`'s secret was registered on-chain (its block's timestamp), as the confirmed index
   * holds it; undefined when no confirmed block registered it.
   */
  secretRevealedAt(hashlock: Hash): bigint | undefined {
    return this.state.reveals.get(hashlock.toLowerCase() as Hash)?.at;
  }

  /** The secret of `hashlock` and when it was registered, as the confirmed index holds it. */
  revealedSecret(hashlock: Hash): OnchainReveal | undefined {
    return this.state.reveals.get(hashlock.toLowerCase() as Hash);
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

  /**
   * Indexes up to `confirmations` below the latest block, rewinding first if blocks it read left the
   * chain. Concurrent callers share a run; a call during a run gets a fresh one.
   */
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
    for (let attempt = 1; ; attempt++) {
      const head = await this.rpc.block("latest");
      await this.checkTip(head);
      if (await this.follow(this.state, head, true)) {
        this.latestBlock = head.number;
        this.latestTimestamp = head.timestamp;
        this.syncedAtMs = Date.now();
        return;
      }
      if (attempt >= SYNC_ATTEMPTS)
        throw new ChainError("the chain kept changing while the index read it; retrying at the next poll");
    }
  }

  /**
   * Reads blocks up to `head − confirmations` into `state`. Returns false, having applied only whole
   * consistent ranges, when the chain changed under the reads (headers that do not chain, logs of another
   * block than the header at their height): the caller starts over from a fresh head.
   */
  private async follow(state: IndexState, head: BlockHeader, live: boolean): Promise<boolean> {
    const target = head.number - this.confirmations;
    while (state.cursor < target) {
      const from = state.cursor + 1;
      const to = Math.min(target, from + BLOCK_RANGE - 1);
      // Headers only of the blocks the history keeps; older ones are past any reorganisation expected.
      const keepFrom = Math.max(from, target - state.history.depth + 1);
      const headers = keepFrom <= to ? await this.rpc.blocks(keepFrom, to) : [];
      const logs = await this.rpc.logs(this.address, from, to);
      if (!consistent(state.history.tip, headers, logs, keepFrom)) return false;
      const times = await this.timestamps(headers, logs, to);
      if (!times) return false;
      // Blocks read without headers are not journaled: no rewind may pass them, so the history restarts.
      if (headers.length === 0) state.history.clear();
      for (const h of headers) state.history.push(h as BlockHeader);
      for (const log of logs) {
        const e = this.apply(state, log, times.get(log.blockNumber) ?? 0);
        if (e && live) this.emit(e);
      }
      state.cursor = to;
      state.cursorTimestamp = times.get(to) ?? state.cursorTimestamp;
    }
    return true;
  }

  /**
   * Timestamps of the blocks a range needs: its last block (the confirmed time) and those holding a
   * `SecretRevealed` (the reveal's time). Headers read for the range are used; a block older than the kept
   * history is fetched (rare: reveals only). Null when a fetched header is not the block a log names.
   */
  private async timestamps(
    headers: readonly (BlockHeader | null)[],
    logs: readonly RawLog[],
    to: number,
  ): Promise<Map<number, number> | null> {
    const times = new Map<number, number>();
    for (const h of headers) if (h) times.set(h.number, h.timestamp);
    const need = new Map<number, Hash | null>();
    if (!times.has(to)) need.set(to, null);
    for (const log of logs)
      if (log.topics[0] === SECRET_REVEALED_TOPIC && !times.has(log.blockNumber))
        need.set(log.blockNumber, log.blockHash);
    for (const [n, hash] of need) {
      const h = await this.rpc.blockOrNull(n);
      if (!h || (hash !== null && h.hash !== hash)) return null;
      times.set(n, h.timestamp);
    }
    return times;
  }

  /** Checks that the newest block read is still on the chain; if not, rewinds (or rebuilds) the index. */
  private async checkTip(head: BlockHeader): Promise<void> {
    const kept = this.state.history.newestFirst();
    const at = async (n: number): Promise<BlockHeader | null> =>
      n === head.number ? head : n > head.number ? null : this.rpc.blockOrNull(n);
    if (kept.length === 0 || (await at(kept[0].number))?.hash === kept[0].hash) return;
    // Reorganised: the newest kept block still on the chain is the common ancestor.
    for (const b of kept.slice(1)) {
      if ((await at(b.number))?.hash === b.hash) {
        this.rewind(b.number);
        return;
      }
    }
    await this.rebuild(head);
  }

  /** Undoes what the blocks after `ancestor` changed, and says so. */
  private rewind(ancestor: number): void {
    const state = this.state;
    const touched = new Set<Hash>();
    for (const u of state.history.rewindTo(ancestor)) {
      if ("hashlock" in u) {
        state.reveals.delete(u.hashlock);
        continue;
      }
      touched.add(u.channelId);
      const ch = state.channels.get(u.channelId);
      if (!ch) continue;
      if (u.before) {
        restore(ch, u.before);
      } else {
        ch.status = "NONE";
        state.remove(u.channelId);
      }
    }
    const depth = state.cursor - ancestor;
    state.cursor = ancestor;
    // The ancestor is the history's tip now (kept blocks carry their header's timestamp).
    state.cursorTimestamp = state.history.tip?.timestamp ?? state.cursorTimestamp;
    const channels: OnchainChannel[] = [];
    const removed: Hash[] = [];
    for (const id of touched) {
      const ch = state.channels.get(id);
      if (ch) channels.push(ch);
      else removed.push(id);
    }
    this.reorganised(ancestor, depth, channels, removed, false);
  }

  /**
   * A reorganisation deeper than the kept history: reads everything again from the start block into a
   * fresh index, then carries the result into the records listeners hold.
   */
  private async rebuild(head: BlockHeader): Promise<void> {
    this.logger.warn("chain reorganisation deeper than the kept history; rebuilding the index", {
      indexedTo: this.state.cursor,
      keptBlocks: this.state.history.size,
      startBlock: this.startBlock,
    });
    const fresh = new IndexState(this.startBlock - 1, this.historyBlocks);
    if (!(await this.follow(fresh, head, false)))
      throw new ChainError("the chain changed while the index was rebuilt; retrying at the next poll");
    const old = this.state;
    const channels: OnchainChannel[] = [];
    const removed: Hash[] = [];
    for (const [id, ch] of old.channels) {
      if (fresh.channels.has(id)) continue;
      ch.status = "NONE";
      removed.push(id);
    }
    for (const [id, ch] of fresh.channels) {
      const held = old.channels.get(id);
      if (!held) {
        channels.push(ch);
        continue;
      }
      if (!sameFields(fieldsOf(held), fieldsOf(ch))) {
        restore(held, fieldsOf(ch));
        channels.push(held);
      }
      fresh.channels.set(id, held);
    }
    const depth = old.cursor - (this.startBlock - 1);
    this.state = fresh;
    this.reorganised(this.startBlock - 1, depth, channels, removed, true);
  }

  private reorganised(
    ancestor: number,
    depth: number,
    channels: OnchainChannel[],
    removed: Hash[],
    rebuilt: boolean,
  ): void {
    this.metrics?.inc(M.reorgs, REORGS_HELP);
    this.logger.warn("chain reorganisation: rewound the index", {
      ancestor,
      depth,
      rebuilt,
      confirmations: this.confirmations,
      channelsChanged: channels.length,
      channelsRemoved: removed.length,
    });
    this.emit({ type: "reorg", ancestor, depth, channels, removed });
    for (const ch of channels) if (ch.status === "CLOSING") this.emit({ type: "closing", channel: ch });
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

  /** Applies one log to `state` (journaled when its block is kept) and returns what to tell listeners. */
  private apply(state: IndexState, log: RawLog, timestamp: number): ChainEvent | null {
    const fragment = EVENTS.get(log.topics[0]);
    if (!fragment) return null; // an event of the vault the node does not track
    let a: Result;
    try {
      a = channelsInterface.decodeEventLog(fragment, log.data, log.topics);
    } catch {
      return null;
    }
    const name = fragment.name;
    if (name === "SecretRevealed") {
      const hashlock = String(a.hashlock).toLowerCase() as Hash;
      // The contract records only the first registration; so does the index.
      if (!state.reveals.has(hashlock)) {
        state.reveals.set(hashlock, {
          secret: String(a.secret).toLowerCase() as Hash,
          at: BigInt(timestamp),
        });
        state.history.note(log.blockNumber, { hashlock });
      }
      return null;
    }
    const id = String(a.channelId).toLowerCase() as Hash;
    const ch = state.channels.get(id);
    switch (name) {
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
        state.history.note(log.blockNumber, { channelId: id, before: ch ? fieldsOf(ch) : null });
        if (ch) state.remove(id);
        state.add(opened);
        return { type: "opened", channel: opened };
      }
      case "CheckpointSkipped":
      case "HeadProofSkipped":
        return {
          type: "skipped",
          channelId: id,
          what: name === "CheckpointSkipped" ? "checkpoint" : "head",
          reason: SKIP_REASONS[Number(a.reason)] ?? "Malformed",
          txHash: log.transactionHash,
        };
    }
    if (!ch) return null;
    state.history.note(log.blockNumber, { channelId: id, before: fieldsOf(ch) });
    switch (name) {
      case "Deposited":
        if (Number(a.side) === 0) ch.deposit0 = BigInt(a.total);
        else ch.deposit1 = BigInt(a.total);
        return { type: "deposit", channel: ch };
      case "Withdrawn":
        ch.deposit0 -= BigInt(a.amount0);
        ch.deposit1 -= BigInt(a.amount1);
        return { type: "deposit", channel: ch };
      case "Checkpointed":
        // A payer's on-chain head is the checkpoint's or a proven one, whichever has the higher seq.
        ch.checkpoint = { seq0: Number(a.seq0), seq1: Number(a.seq1) };
        ch.seq0 = Math.max(ch.seq0, Number(a.seq0));
        ch.seq1 = Math.max(ch.seq1, Number(a.seq1));
        return { type: "committed", channel: ch, how: "checkpoint", txHash: log.transactionHash };
      case "HeadProved":
        if (Number(a.payer) === 0) ch.seq0 = Number(a.seq);
        else ch.seq1 = Number(a.seq);
        return { type: "committed", channel: ch, how: "head", txHash: log.transactionHash };
      case "ChainExtended":
        if (Number(a.payer) === 0) ch.seq0 = Number(a.toSeq);
        else ch.seq1 = Number(a.toSeq);
        return { type: "committed", channel: ch, how: "chain", txHash: log.transactionHash };
      case "ChannelClosing":
        ch.status = "CLOSING";
        ch.closesAt = Number(a.closesAt);
        ch.closer = toAddress(String(a.closer));
        return { type: "closing", channel: ch };
      case "LocksResolved": {
        // Locks resolve one by one now: the pot shrinks by what was paid, the mask grows.
        const side = Number(a.payer) === 0 ? 0 : 1;
        const paid = BigInt(a.toPayee) + BigInt(a.toPayer);
        ch.lockPots[side] = ch.lockPots[side] > paid ? ch.lockPots[side] - paid : 0n;
        ch.locksResolved[side] |= BigInt(a.resolved);
        return null;
      }
      case "ChannelSettled":
      case "ChannelClosedCooperatively":
      case "EquivocationProved":
        ch.status = CHANNEL_STATUS[3];
        if (name === "ChannelSettled") {
          ch.lockPots = [BigInt(a.pot0), BigInt(a.pot1)];
          ch.locksResolved = [0n, 0n];
        }
        return {
          type: "settled",
          channel: ch,
          how:
            name === "ChannelSettled"
              ? "settle"
              : name === "EquivocationProved"
                ? "equivocation"
                : "cooperative",
          txHash: log.transactionHash,
        };
    }
    return null;
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
