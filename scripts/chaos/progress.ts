/**
 * Follows how far the nodes have applied a scenario's channels (every 500 ms, one request per channel
 * and live node) and answers "when had the nodes applied everything the brokers had acknowledged at
 * moment X": the seconds to recover from a fault.
 */
import type { Hash } from "../../sdk";
import type { NodeFleet } from "./nodes";
import { channelView } from "./probe";
import type { Traffic } from "./traffic";

type Target = ReadonlyMap<Hash, readonly [number, number]>;

export class Progress {
  /** Per channel, each payer's seq as last served by the node holding it. */
  private readonly applied = new Map<Hash, [number, number]>();
  private timer: NodeJS.Timeout | null = null;
  private busy = false;
  private polledAt = 0;

  constructor(
    private readonly fleet: NodeFleet,
    private readonly traffic: Traffic,
  ) {}

  start(everyMs = 500): void {
    this.timer = setInterval(() => void this.poll(), everyMs);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** What the brokers have acknowledged so far, per channel and payer. */
  target(): Target {
    return new Map(
      this.traffic.channels.map((c) => [c.channel.id, [c.payers[0].acked, c.payers[1].acked] as const]),
    );
  }

  /** Whether the last poll saw every channel at or past `target`. */
  reached(target: Target): boolean {
    for (const [id, [t0, t1]] of target) {
      const a = this.applied.get(id);
      if (!a || a[0] < t0 || a[1] < t1) return false;
    }
    return true;
  }

  /**
   * Seconds from `fromMs` until a poll (started after `fromMs`) saw `target` applied, or null if that
   * did not happen by `deadlineMs`.
   */
  async recovered(target: Target, fromMs: number, deadlineMs: number): Promise<number | null> {
    for (;;) {
      if (this.polledAt > fromMs && this.reached(target)) return (this.polledAt - fromMs) / 1000;
      if (Date.now() > deadlineMs) return null;
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  private async poll(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    const startedAt = Date.now();
    try {
      const nodes = this.fleet.live();
      const views = await Promise.all(
        this.traffic.channels.map(
          async (c) => [c.channel.id, await channelView(nodes, c.channel.id)] as const,
        ),
      );
      for (const [id, v] of views) {
        // A channel no node serves right now (a rebalance) counts as not applied.
        if (v) this.applied.set(id, [v.payers[0].seq, v.payers[1].seq]);
        else this.applied.delete(id);
      }
      this.polledAt = startedAt;
    } finally {
      this.busy = false;
    }
  }
}
