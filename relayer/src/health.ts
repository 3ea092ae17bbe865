/**
 * What `/health` and the lag metrics say about the work a node holds, measured from what it processed
 * rather than from what it fetched: a partition whose records wait while its processed offset stands
 * still, a transfer held in a reorder window for an earlier seq that never comes, or a chain that has
 * not answered lately each degrade health with a reason. Pure bookkeeping over an injected clock; the
 * node feeds it end offsets and partition views.
 */
import type { TopicNames } from "./config";

/** Offsets processed per consumed topic (-1: nothing yet). */
export interface ProcessedOffsets {
  readonly transfers: number;
  readonly control: number;
  readonly signatures: number;
}

/** What the monitor needs of an owned partition. */
export interface PartitionView {
  readonly partition: number;
  readonly progress: ProcessedOffsets;
  /** Transfers held in the partition's reorder windows, and the lowest log offset among them. */
  waiting(): { readonly count: number; readonly oldestOffset: number | null };
}

export interface HealthLimits {
  readonly stallMs: number;
  readonly windowMaxAgeMs: number;
  readonly chainStaleMs: number;
}

/** One partition's lag on one topic: end offset minus the next offset to process. */
export interface PartitionLag {
  readonly topic: string;
  readonly partition: number;
  readonly lag: number;
}

interface Motion {
  offset: number;
  sinceMs: number;
}

const TOPIC_KEYS = ["transfers", "control", "signatures"] as const;

export class HealthMonitor {
  private readonly ends = new Map<string, number>();
  /** Per topic/partition: the processed offset and since when it stands. */
  private readonly motion = new Map<string, Motion>();
  /** Per partition: the oldest waiting transfer's offset and since when it waits. */
  private readonly oldest = new Map<number, Motion>();
  private lags: PartitionLag[] = [];
  private waitingCount = 0;
  private stalledCount = 0;
  private oldestAgeMs = 0;
  private current: string[] = [];

  constructor(
    private readonly limits: HealthLimits,
    private readonly topics: TopicNames,
    private readonly now: () => number = Date.now,
  ) {}

  private topicName(key: (typeof TOPIC_KEYS)[number]): string {
    const t = this.topics;
    return key === "transfers" ? t.transfers : key === "control" ? t.control : t.checkpointSignatures;
  }

  /** Records a partition's end offset (from a fetch's high watermark or a periodic poll). */
  noteEnd(topic: string, partition: number, end: number): void {
    const key = `${topic}/${partition}`;
    if (end > (this.ends.get(key) ?? -1)) this.ends.set(key, end);
  }

  /**
   * Re-evaluates health over the owned partitions. `chainOkAtMs`: when the chain last answered a poll
   * (null: never).
   */
  observe(partitions: readonly PartitionView[], chainOkAtMs: number | null): void {
    const now = this.now();
    const problems: string[] = [];
    const lags: PartitionLag[] = [];
    const owned = new Set<number>();
    let waiting = 0;
    let stalled = 0;
    let oldestAge = 0;
    for (const ps of partitions) {
      owned.add(ps.partition);
      let partitionStalled = false;
      for (const k of TOPIC_KEYS) {
        const topic = this.topicName(k);
        const key = `${topic}/${ps.partition}`;
        const processed = ps.progress[k];
        const end = this.ends.get(key);
        const lag = end === undefined ? 0 : Math.max(0, end - processed - 1);
        lags.push({ topic, partition: ps.partition, lag });
        const m = this.motion.get(key);
        if (!m || m.offset !== processed || lag === 0) {
          this.motion.set(key, { offset: processed, sinceMs: now });
          continue;
        }
        const still = now - m.sinceMs;
        if (still >= this.limits.stallMs) {
          partitionStalled = true;
          problems.push(
            `${topic} partition ${ps.partition}: ${lag} records waiting, nothing processed for ` +
              `${Math.round(still / 1000)} s`,
          );
        }
      }
      if (partitionStalled) stalled++;
      const w = ps.waiting();
      waiting += w.count;
      const o = this.oldest.get(ps.partition);
      if (w.oldestOffset === null) this.oldest.delete(ps.partition);
      else if (!o || o.offset !== w.oldestOffset)
        this.oldest.set(ps.partition, { offset: w.oldestOffset, sinceMs: now });
      else {
        const age = now - o.sinceMs;
        oldestAge = Math.max(oldestAge, age);
        if (age >= this.limits.windowMaxAgeMs) {
          problems.push(
            `partition ${ps.partition}: the transfer at offset ${o.offset} has waited ` +
              `${Math.round(age / 1000)} s in the reorder window for an earlier seq`,
          );
        }
      }
    }
    for (const key of [...this.motion.keys()])
      if (!owned.has(Number(key.slice(key.lastIndexOf("/") + 1)))) this.motion.delete(key);
    for (const p of [...this.oldest.keys()]) if (!owned.has(p)) this.oldest.delete(p);
    if (chainOkAtMs === null || now - chainOkAtMs >= this.limits.chainStaleMs) {
      problems.push(
        chainOkAtMs === null
          ? "the chain RPC has not answered yet"
          : `the chain RPC has not answered for ${Math.round((now - chainOkAtMs) / 1000)} s`,
      );
    }
    this.lags = lags;
    this.waitingCount = waiting;
    this.stalledCount = stalled;
    this.oldestAgeMs = oldestAge;
    this.current = problems;
  }

  /** Why the node is degraded (empty when healthy), as of the last `observe`. */
  problems(): readonly string[] {
    return this.current;
  }

  lag(): readonly PartitionLag[] {
    return this.lags;
  }

  /** Transfers held in reorder windows, partitions stalled, and the oldest held transfer's age. */
  summary(): { readonly waiting: number; readonly stalled: number; readonly oldestWaitingMs: number } {
    return { waiting: this.waitingCount, stalled: this.stalledCount, oldestWaitingMs: this.oldestAgeMs };
  }
}
