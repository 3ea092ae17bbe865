/**
 * Collects ready commits of many channels into one transaction, bounded by entry count, estimated gas
 * and waiting time. One batch is in flight at a time per batcher, so batches for the same channels are
 * applied in order; entries added meanwhile form the next batch. `addAndWait` tells the caller when its
 * entry's batch was sent (or failed), so the action that queued it holds its channel until then.
 */
import type { Logger } from "../log";
import { messageOf, RelayerError } from "../errors";

export interface BatchLimits {
  readonly maxEntries: number;
  readonly maxGas: number;
  readonly maxWaitMs: number;
}

/** The batcher was closed before the entry was sent. */
export class BatcherClosedError extends RelayerError {
  readonly code = "BatcherClosed" as const;

  constructor(name: string) {
    super(`${name}: closed before the entry was sent.`);
  }
}

interface Waiter {
  resolve(): void;
  reject(e: unknown): void;
}

export class Batcher<T extends { readonly channelId: string }> {
  private queue: T[] = [];
  /** Channels of the batch being sent. */
  private inFlight = new Set<string>();
  /** Callers of `addAndWait`, by channel: settled with the batch that carries the channel's entry. */
  private waiters = new Map<string, Waiter[]>();
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
    return this.queue.length + this.inFlight.size;
  }

  /** Whether a channel has an entry waiting or in flight. */
  has(channelId: string): boolean {
    return this.inFlight.has(channelId) || this.queue.some((e) => e.channelId === channelId);
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

  /** Queues an entry and resolves once the batch carrying it was sent; rejects when that batch failed. */
  addAndWait(entry: T): Promise<void> {
    if (this.closed) return Promise.reject(new BatcherClosedError(this.name));
    return new Promise<void>((resolve, reject) => {
      const list = this.waiters.get(entry.channelId) ?? [];
      list.push({ resolve, reject });
      this.waiters.set(entry.channelId, list);
      this.add(entry);
    });
  }

  private settle(channelIds: Iterable<string>, error: unknown): void {
    for (const id of channelIds) {
      // A newer entry of the channel queued meanwhile supersedes this one: its waiters wait for that batch.
      const list = this.waiters.get(id);
      if (!list || this.queue.some((e) => e.channelId === id)) continue;
      this.waiters.delete(id);
      for (const w of list) {
        if (error === null) w.resolve();
        else w.reject(error);
      }
    }
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
    const ids = entries.map((e) => e.channelId);
    this.inFlight = new Set(ids);
    this.sending = this.send(entries)
      .then(
        () => this.settle(ids, null),
        (e) => {
          this.logger.warn(`${this.name} batch failed`, { entries: entries.length, error: messageOf(e) });
          this.settle(ids, e);
        },
      )
      .finally(() => {
        this.sending = null;
        this.inFlight = new Set();
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
    const err = new BatcherClosedError(this.name);
    for (const list of this.waiters.values()) for (const w of list) w.reject(err);
    this.waiters.clear();
    this.queue = [];
  }
}
