/**
 * Where a routed payment's time goes, as the bench's reader sees the log: for each payment timed, when
 * each hop's LOCK, SECRET and UNLOCK first appeared, counted from the invoice. The medians of these
 * cumulative times give the path step by step (payer → M1 → M2 → payee and back) without touching the
 * nodes; a step's cost is the difference between two neighbouring medians.
 */
import { TRANSFER_KIND_NAMES, type Hash } from "../../../sdk";
import type { LoggedTransfer, PeerMessage } from "../../../client";
import { quantile } from "./stats";

/** What the reader passes on: a transfer or a peer message, as decoded. */
export type TracedRecord = { readonly transfer: LoggedTransfer } | { readonly message: PeerMessage };

export interface StepFigures {
  readonly payments: number;
  readonly p50Ms: number | null;
  readonly p90Ms: number | null;
}

export class PaymentTrace {
  /** Per hashlock being timed: when its invoice was made, and when each event was first seen. */
  private readonly timed = new Map<
    string,
    { readonly startMs: number; readonly seen: Map<string, number> }
  >();

  /** @param hops names a channel by its lower-case id ("P–M1"); other channels are not traced. */
  constructor(private readonly hops: ReadonlyMap<string, string>) {}

  /** Times the payment of `hashlock` from now (its invoice). */
  start(hashlock: Hash): void {
    this.timed.set(hashlock.toLowerCase(), { startMs: Date.now(), seen: new Map() });
  }

  /** The reader saw `r`: the first LOCK, UNLOCK or SECRET of a timed payment on a traced channel counts. */
  observe(r: TracedRecord): void {
    const [channelId, hashlock, kind] =
      "transfer" in r
        ? [
            r.transfer.transfer.channelId,
            r.transfer.transfer.hashlock,
            TRANSFER_KIND_NAMES[r.transfer.transfer.kind],
          ]
        : [r.message.channelId, r.message.hashlock, r.message.kind];
    const t = this.timed.get(hashlock.toLowerCase());
    const hop = this.hops.get(channelId.toLowerCase());
    if (!t || !hop) return;
    const event = `${kind} ${hop}`;
    if (!t.seen.has(event)) t.seen.set(event, Date.now() - t.startMs);
  }

  /** Per event, over the timed payments that reached it, ordered by median: ms since the invoice. */
  steps(): Record<string, StepFigures> {
    const byEvent = new Map<string, number[]>();
    for (const t of this.timed.values()) {
      for (const [event, ms] of t.seen) {
        let list = byEvent.get(event);
        if (!list) byEvent.set(event, (list = []));
        list.push(ms);
      }
    }
    const rows = [...byEvent].map(
      ([event, ms]) =>
        [event, { payments: ms.length, p50Ms: quantile(ms, 0.5), p90Ms: quantile(ms, 0.9) }] as const,
    );
    rows.sort((a, b) => (a[1].p50Ms ?? 0) - (b[1].p50Ms ?? 0));
    return Object.fromEntries(rows);
  }

  /** Forgets every payment timed so far (a new phase). */
  clear(): void {
    this.timed.clear();
  }
}
