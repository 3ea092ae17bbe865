/**
 * Reading partitions without a consumer group (nothing is left on the cluster): following some from given
 * offsets (the operator tasks, the terminal wallet's Kafka log), and one bounded read of a channel's
 * records (the HTTP payments API). Built on `LogClient.readPartition`.
 */
import type { InRecord, LogClient } from "./client";

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A partition to follow and the offset to start at. */
export interface TailSource {
  readonly topic: string;
  readonly partition: number;
  readonly from: number;
}

/**
 * Follows some partitions from the given offsets: polls `readPartition` every `pollMs` and hands each
 * record over in offset order (per partition), until `onRecord` returns true or `stop()` does.
 */
export async function tailPartitions(
  client: LogClient,
  sources: readonly TailSource[],
  onRecord: (record: InRecord) => boolean | void,
  stop: () => boolean,
  pollMs = 200,
): Promise<void> {
  const next: { topic: string; partition: number; from: number }[] = sources.map((s) => ({ ...s }));
  for (;;) {
    for (const s of next) {
      const batch: InRecord[] = [];
      await client.readPartition(s.topic, s.partition, s.from, Number.MAX_SAFE_INTEGER, (rs) =>
        batch.push(...rs),
      );
      for (const r of batch) {
        s.from = r.offset + 1;
        if (onRecord(r)) return;
      }
    }
    if (stop()) return;
    await sleep(pollMs);
  }
}

export interface KeyedRead {
  readonly topic: string;
  readonly partition: number;
  /** Only records with exactly this key (and a value) are returned. */
  readonly key: Buffer;
  readonly from: number;
  /** At most this many records are returned. */
  readonly maxRecords: number;
  /** At most this many offsets (of any key) are scanned. */
  readonly maxScan: number;
}

/** What one bounded read found: the matching records in offset order, and the offset to read from next. */
export interface KeyedBatch {
  readonly records: readonly InRecord[];
  readonly next: number;
}

/**
 * One bounded read of the records of `key` at offsets ≥ `from`: stops at the partition's end, after
 * `maxRecords` matches or `maxScan` offsets. `next` is past everything looked at (never before `from`).
 */
export async function readKeyed(client: LogClient, q: KeyedRead): Promise<KeyedBatch> {
  const records: InRecord[] = [];
  let full = false;
  let next = q.from;
  const reached = await client.readPartition(q.topic, q.partition, q.from, q.from + q.maxScan, (rs) => {
    for (const r of rs) {
      if (full) return;
      next = r.offset + 1;
      if (r.value !== null && r.key !== null && r.key.equals(q.key)) {
        records.push(r);
        full = records.length >= q.maxRecords;
      }
    }
  });
  return { records, next: full ? next : Math.max(next, reached) };
}

interface EndWaiter {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly wake: () => void;
}

/**
 * Waits for partitions to grow, for any number of waiters at the cost of one end-offsets request per topic
 * and poll (not one fetch per waiter): long polls wait here, then read. Polls only while someone waits.
 */
export class PartitionEnds {
  private readonly waiters = new Set<EndWaiter>();
  private running = false;

  constructor(
    private readonly client: LogClient,
    private readonly pollMs: number,
    /** Told about a failed end-offsets request (the waiters keep waiting; the next poll retries). */
    private readonly onError: (error: unknown) => void = () => undefined,
  ) {}

  /** Resolves once the partition's end offset is past `offset`, or after `ms`, or when `signal` aborts. */
  wait(topic: string, partition: number, offset: number, ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => wake(), ms);
      const waiter: EndWaiter = { topic, partition, offset, wake: () => wake() };
      const wake = (): void => {
        clearTimeout(timer);
        signal.removeEventListener("abort", wake);
        this.waiters.delete(waiter);
        resolve();
      };
      if (signal.aborted) return wake();
      signal.addEventListener("abort", wake, { once: true });
      this.waiters.add(waiter);
      if (!this.running) void this.run();
    });
  }

  /** Waiters now. */
  get size(): number {
    return this.waiters.size;
  }

  private async run(): Promise<void> {
    this.running = true;
    try {
      while (this.waiters.size > 0) {
        for (const topic of new Set([...this.waiters].map((w) => w.topic))) {
          let ends: Map<number, number>;
          try {
            ends = await this.client.endOffsets(topic);
          } catch (e) {
            this.onError(e);
            continue;
          }
          for (const w of [...this.waiters]) {
            if (w.topic === topic && (ends.get(w.partition) ?? 0) > w.offset) w.wake();
          }
        }
        if (this.waiters.size > 0) await sleep(this.pollMs);
      }
    } finally {
      this.running = false;
    }
  }
}
