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
  let next = q.from;
  await client.readPartition(q.topic, q.partition, q.from, q.from + q.maxScan, (rs) => {
    for (const r of rs) {
      if (records.length >= q.maxRecords) return;
      next = r.offset + 1;
      if (r.value !== null && r.key !== null && r.key.equals(q.key)) records.push(r);
    }
  });
  return { records, next };
}
