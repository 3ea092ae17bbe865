/**
 * The node's topics, their settings, and the message key of a channel. Every topic that carries
 * per-channel messages is keyed by the channel id and has the same partition count, so one channel's
 * transfers, control requests and checkpoint signatures land in the same-numbered partition and are
 * handled by the one node that owns it.
 */
import { fromHex, type Hash, toHex } from "../../../sdk";
import type { KafkaConfig, TopicNames } from "../config";
import { KafkaError } from "../errors";
import { partitionOf, type LogClient, type TopicSpec } from "./client";

/** The message key of a channel: the 32 bytes of its id (not hex). Producers must use exactly this. */
export function channelKey(channelId: Hash): Buffer {
  return Buffer.from(fromHex(channelId, "channelId", 32));
}

/** The channel id of a key, or null when the key is not 32 bytes. */
export function channelIdOfKey(key: Buffer | null): Hash | null {
  return key !== null && key.length === 32 ? (toHex(key) as Hash) : null;
}

/**
 * Channels' partitions already computed, by partition count. The node looks a channel up many times a
 * routed payment (murmur2 over a fresh key each time was ~3% of a mediator's main thread); the cache is
 * dropped whole when it reaches `PARTITION_CACHE_MAX` entries.
 */
const partitionCache = new Map<number, Map<string, number>>();
const PARTITION_CACHE_MAX = 1_000_000;

/** The partition of a channel among `partitions` (Kafka's default partitioner on `channelKey`). */
export function channelPartition(channelId: Hash, partitions: number): number {
  let byId = partitionCache.get(partitions);
  if (!byId) partitionCache.set(partitions, (byId = new Map()));
  const known = byId.get(channelId);
  if (known !== undefined) return known;
  const p = partitionOf(channelKey(channelId), partitions);
  if (byId.size >= PARTITION_CACHE_MAX) byId.clear();
  byId.set(channelId, p);
  return p;
}

/** The topics a node consumes in its group (all co-partitioned). */
export function consumedTopics(t: TopicNames): string[] {
  return [t.transfers, t.control, t.checkpointSignatures, t.paymentMessages];
}

/** Specs of every topic, for creating them. */
export function topicSpecs(k: KafkaConfig): TopicSpec[] {
  const keyed = (name: string, config?: Record<string, string>): TopicSpec => ({
    name,
    partitions: k.partitions,
    replicationFactor: k.replicationFactor,
    config,
  });
  const t = k.topics;
  return [
    keyed(t.transfers),
    keyed(t.control),
    keyed(t.checkpointProposals),
    keyed(t.checkpointSignatures),
    keyed(t.settlements),
    keyed(t.paymentMessages),
    // Compacted: the latest snapshot per channel is all a restoring node needs.
    keyed(t.stateChangelog, {
      "cleanup.policy": "compact",
      "min.cleanable.dirty.ratio": "0.1",
      "segment.ms": "600000",
    }),
    // The newest update per (channel, direction) is all a router needs.
    {
      name: t.channelGraph,
      partitions: k.partitions,
      replicationFactor: k.replicationFactor,
      config: { "cleanup.policy": "compact" },
    },
    // Rejected input is evidence for operators; keep it a week.
    {
      name: t.deadLetter,
      partitions: k.partitions,
      replicationFactor: k.replicationFactor,
      config: { "retention.ms": "604800000" },
    },
  ];
}

/**
 * Creates missing topics (when allowed) and checks that the co-partitioned topics agree on the
 * partition count. Returns that count.
 */
export async function prepareTopics(client: LogClient, k: KafkaConfig): Promise<number> {
  const specs = topicSpecs(k);
  if (k.createTopics) await client.ensureTopics(specs);
  const t = k.topics;
  const keyed = [t.transfers, t.control, t.checkpointSignatures, t.paymentMessages, t.stateChangelog];
  const counts = await Promise.all(keyed.map((name) => client.partitionCount(name)));
  const missing = keyed.filter((_, i) => counts[i] === 0);
  if (missing.length > 0) {
    throw new KafkaError(
      `finding topics ${missing.join(", ")} (create them, or set kafka.createTopics to true)`,
    );
  }
  if (new Set(counts).size !== 1) {
    throw new KafkaError(
      `checking partition counts: ${keyed.map((n, i) => `${n}=${counts[i]}`).join(", ")} differ; the keyed topics ` +
        `must have the same number of partitions so one node owns all of a channel's messages`,
    );
  }
  // A dead letter is cut to kafka.maxRecordBytes; the topic must accept a record of that size.
  const limit = Number(await client.topicSetting(t.deadLetter, "max.message.bytes"));
  if (Number.isFinite(limit) && limit > 0 && limit < k.maxRecordBytes) {
    throw new KafkaError(
      `checking ${t.deadLetter}: its max.message.bytes is ${limit}, below kafka.maxRecordBytes ` +
        `${k.maxRecordBytes}, so a dead letter could be refused; lower kafka.maxRecordBytes ` +
        `(PARSEC_MAX_RECORD_BYTES) below ${limit} or raise the topic's max.message.bytes`,
    );
  }
  return counts[0];
}
