/**
 * Collects ready commits of many channels into one transaction, bounded by entry count, estimated gas
 * and waiting time. One batch is in flight at a time per batcher, so batches for the same channels are
 * applied in order; entries added meanwhile form the next batch.
 */
import type { Logger } from "../log";
import { messageOf } from "../errors";

export interface BatchLimits {
  readonly maxEntries: number;
  readonly maxGas: number;
  readonly maxWaitMs: number;
}

export class Batcher<T extends { readonly channelId: string }> {
  private queue: T[] = [];
  private gas = 0;
  private firstAt = 0;
  private timer: NodeJS.Timeout | null = null;
  private sending: Promise<void> | null = null;
  private closed = false;

  constructor(
    readonly name: string,
    private readonly limits: BatchLimits,
    private readonly gasPerEntry: number,
    private readonly send: (entries: T[]) => Promise<void>,
    private readonly logger: Logger,
  ) {}

  get size(): number {
    return this.queue.length;
  }

  /** Whether a channel has an entry waiting or in flight. */
  has(channelId: string): boolean {
    return this.queue.some((e) => e.channelId === channelId);
  }

  /** Queues an entry, replacing an older one of the same channel (a newer commit supersedes it). */
  add(entry: T): void {
    if (this.closed) return;
    const i = this.queue.findIndex((e) => e.channelId === entry.channelId);
    if (i >= 0) {
      this.queue[i] = entry;
    } else {
      if (this.queue.length === 0) this.firstAt = Date.now();
      this.queue.push(entry);
      this.gas += this.gasPerEntry;
    }
    if (this.queue.length >= this.limits.maxEntries || this.gas >= this.limits.maxGas) this.kick();
    else if (!this.timer)
      this.timer = setTimeout(
        () => this.kick(),
        Math.max(0, this.firstAt + this.limits.maxWaitMs - Date.now()),
      );
  }

  private kick(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.sending || this.queue.length === 0) return;
    const max = Math.max(
      1,
      Math.min(this.limits.maxEntries, Math.floor(this.limits.maxGas / this.gasPerEntry)),
    );
    const entries = this.queue.slice(0, max);
    this.queue = this.queue.slice(entries.length);
    this.gas = this.queue.length * this.gasPerEntry;
    this.firstAt = Date.now();
    this.sending = this.send(entries)
      .catch((e) =>
        this.logger.warn(`${this.name} batch failed`, { entries: entries.length, error: messageOf(e) }),
      )
      .finally(() => {
        this.sending = null;
        if (this.queue.length > 0) this.kick();
      });
  }

  /** Sends what is queued now and waits for in-flight batches. */
  async drain(): Promise<void> {
    this.kick();
    while (this.sending) await this.sending;
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
