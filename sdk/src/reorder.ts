/**
 * Order reconstruction, the paper's sliding window: transfers of many channels arrive out of order and
 * repeated; the window emits each payer's transfers in exact chain order (seq + 1 and `prev` = hash of
 * the predecessor), holds at most `capacity` transfers per payer waiting for a missing one, drops exact
 * duplicates, reports a gap that outlives the window, and turns two different transfers with one
 * (channel, payer, seq) into an equivocation proof.
 *
 * Input must be signature-verified already (the verifier computes `hash`); the window checks only order.
 */
import { BrokenHashPointerError, DuplicateError, EquivocationError, SeqGapError, StaleError } from "./errors";
import { ZERO_HASH, type Hash, type PayerIndex } from "./types";

/** What the window needs of a transfer. `VerifiedTransfer` satisfies it. */
export interface Sequenced {
  readonly channelId: Hash;
  readonly payer: PayerIndex;
  readonly seq: number;
  readonly hash: Hash;
  readonly prev: Hash;
}

/** Two different transfers of one payer with one seq: what `proveEquivocation` takes. */
export interface EquivocationProof<T extends Sequenced> {
  readonly channelId: Hash;
  readonly payer: PayerIndex;
  readonly seq: number;
  /** The transfer seen first (emitted or pending). */
  readonly first: T;
  readonly second: T;
}

/** What a push produced. */
export type WindowEvent<T extends Sequenced> =
  /** The next transfer of its payer's chain, in order. */
  | { readonly type: "ordered"; readonly item: T }
  /** An exact copy of a transfer already emitted or pending; dropped. */
  | { readonly type: "duplicate"; readonly item: T; readonly error: DuplicateError }
  /** A different transfer with the seq of one already seen; the first stays, the proof goes on-chain. */
  | { readonly type: "equivocation"; readonly proof: EquivocationProof<T>; readonly error: EquivocationError }
  /**
   * Dropped: a broken hash pointer, a gap that outlived the window (the farthest pending transfer is
   * evicted), or a transfer older than the window's history (cannot tell duplicate from equivocation).
   */
  | {
      readonly type: "rejected";
      readonly item: T;
      readonly error: BrokenHashPointerError | SeqGapError | StaleError;
    };

export interface ReorderWindowOptions {
  /** Transfers held per payer while one is missing (n of the paper); default 64. */
  readonly capacity?: number;
  /** Emitted transfers remembered per payer to classify late copies; default `capacity`. */
  readonly history?: number;
}

/** A gap currently open in a payer's chain. */
export interface OpenGap {
  readonly channelId: Hash;
  readonly payer: PayerIndex;
  /** The missing seq. */
  readonly expected: number;
  /** How many later transfers wait for it. */
  readonly pending: number;
  /** The lowest waiting seq. */
  readonly lowestPending: number;
}

interface Track<T extends Sequenced> {
  nextSeq: number;
  head: Hash;
  readonly pending: Map<number, T>;
  /** Emitted transfers by `seq % history`. */
  readonly recent: (T | undefined)[];
}

/** The sliding reorder window over many channels. */
export class ReorderWindow<T extends Sequenced> {
  readonly capacity: number;
  readonly history: number;
  private readonly tracks = new Map<Hash, [Track<T> | undefined, Track<T> | undefined]>();

  constructor(opts: ReorderWindowOptions = {}) {
    this.capacity = opts.capacity ?? 64;
    this.history = opts.history ?? this.capacity;
    if (!Number.isInteger(this.capacity) || this.capacity < 1)
      throw new RangeError("capacity must be a positive integer");
    if (!Number.isInteger(this.history) || this.history < 1)
      throw new RangeError("history must be a positive integer");
  }

  private track(channelId: Hash, payer: PayerIndex): Track<T> {
    let pair = this.tracks.get(channelId);
    if (!pair) {
      pair = [undefined, undefined];
      this.tracks.set(channelId, pair);
    }
    let t = pair[payer];
    if (!t) {
      t = { nextSeq: 1, head: ZERO_HASH, pending: new Map(), recent: new Array<T | undefined>(this.history) };
      pair[payer] = t;
    }
    return t;
  }

  /**
   * Starts a payer's chain after a known state (restored from a changelog or an on-chain head): the next
   * transfer expected is `seq + 1` with `prev = head`.
   */
  resume(channelId: Hash, payer: PayerIndex, seq: number, head: Hash): void {
    const t = this.track(channelId, payer);
    t.nextSeq = seq + 1;
    t.head = head;
    t.pending.clear();
    t.recent.fill(undefined);
  }

  /** The next seq expected from a payer. */
  expected(channelId: Hash, payer: PayerIndex): number {
    return this.tracks.get(channelId)?.[payer]?.nextSeq ?? 1;
  }

  /** How many transfers of a payer wait for a missing one. */
  pendingCount(channelId: Hash, payer: PayerIndex): number {
    return this.tracks.get(channelId)?.[payer]?.pending.size ?? 0;
  }

  /** Every open gap (payers with transfers waiting for a missing one), e.g. to time them out. */
  gaps(): OpenGap[] {
    const out: OpenGap[] = [];
    for (const [channelId, pair] of this.tracks) {
      for (const payer of [0, 1] as const) {
        const t = pair[payer];
        if (!t || t.pending.size === 0) continue;
        let lowest = Infinity;
        for (const s of t.pending.keys()) if (s < lowest) lowest = s;
        out.push({ channelId, payer, expected: t.nextSeq, pending: t.pending.size, lowestPending: lowest });
      }
    }
    return out;
  }

  /** Forgets a channel (settled, or moved to another node). */
  forget(channelId: Hash): void {
    this.tracks.delete(channelId);
  }

  /** Feeds one transfer; returns what it caused, in order. */
  push(item: T): WindowEvent<T>[] {
    const t = this.track(item.channelId, item.payer);
    const seq = item.seq;
    const out: WindowEvent<T>[] = [];
    if (seq === t.nextSeq) {
      if (item.prev !== t.head) {
        out.push({ type: "rejected", item, error: new BrokenHashPointerError(seq, t.head, item.prev) });
        return out;
      }
      this.emit(t, item, out);
      this.drain(t, out);
      return out;
    }
    if (seq < t.nextSeq) {
      const seen = t.recent[seq % this.history];
      if (seen && seen.seq === seq) {
        if (seen.hash === item.hash)
          out.push({ type: "duplicate", item, error: new DuplicateError(item.channelId, item.payer, seq) });
        else out.push(this.equivocation(seen, item));
      } else {
        out.push({
          type: "rejected",
          item,
          error: new StaleError(
            `seq ${seq} of payer ${item.payer} in channel ${item.channelId} is older than the window`,
            {
              seq,
              expected: t.nextSeq,
            },
          ),
        });
      }
      return out;
    }
    const waiting = t.pending.get(seq);
    if (waiting) {
      if (waiting.hash === item.hash)
        out.push({ type: "duplicate", item, error: new DuplicateError(item.channelId, item.payer, seq) });
      else out.push(this.equivocation(waiting, item));
      return out;
    }
    t.pending.set(seq, item);
    if (t.pending.size > this.capacity) {
      // The gap outlived the window: drop the transfer farthest from the head, keep the nearest n.
      let farthest = seq;
      for (const s of t.pending.keys()) if (s > farthest) farthest = s;
      const evicted = t.pending.get(farthest) as T;
      t.pending.delete(farthest);
      out.push({
        type: "rejected",
        item: evicted,
        error: new SeqGapError(
          item.channelId,
          item.payer,
          t.nextSeq,
          farthest,
          `window of ${this.capacity} full`,
        ),
      });
    }
    return out;
  }

  private emit(t: Track<T>, item: T, out: WindowEvent<T>[]): void {
    out.push({ type: "ordered", item });
    t.recent[item.seq % this.history] = item;
    t.nextSeq = item.seq + 1;
    t.head = item.hash;
  }

  private drain(t: Track<T>, out: WindowEvent<T>[]): void {
    if (t.pending.size === 0) return;
    for (;;) {
      const next = t.pending.get(t.nextSeq);
      if (!next) return;
      t.pending.delete(t.nextSeq);
      if (next.prev !== t.head) {
        out.push({
          type: "rejected",
          item: next,
          error: new BrokenHashPointerError(next.seq, t.head, next.prev),
        });
        return;
      }
      this.emit(t, next, out);
    }
  }

  private equivocation(first: T, second: T): WindowEvent<T> {
    return {
      type: "equivocation",
      proof: { channelId: first.channelId, payer: first.payer, seq: first.seq, first, second },
      error: new EquivocationError(first.channelId, first.payer, first.seq),
    };
  }
}
