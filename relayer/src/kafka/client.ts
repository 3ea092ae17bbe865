/**
 * The only module that knows the Kafka client library (kafkajs 2.2.4). Everything else in the relayer
 * talks to the small interfaces below, so the client can be swapped (e.g. for a librdkafka binding)
 * by rewriting this file alone.
 *
 * kafkajs has no manual partition assignment, so `readPartition` (restoring state from a changelog
 * partition, fetching a few records of the transfer topic) uses its internal cluster and broker
 * objects: stable in this pinned, unmaintained version, and confined here.
 */
import {
  AssignerProtocol,
  ConfigResourceTypes,
  Kafka,
  Partitioners,
  logLevel as KafkaLogLevel,
  type Admin,
  type Consumer,
  type LogEntry,
  type PartitionAssigner,
  type Producer,
} from "kafkajs";
import type { Logger } from "../log";
import { FencedError, KafkaError, WriterStuckError } from "../errors";
import { assignPartitions, decodeClaim, encodeClaim } from "./assignment";

/** A record read from a topic. Offsets are numbers: safe up to 2^53, far beyond any real log. */
export interface InRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly timestampMs: number;
}

/** A record to write. Without `partition`, the key's hash picks it (Kafka's default partitioner). */
export interface OutRecord {
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly partition?: number;
}

export interface TopicSpec {
  readonly name: string;
  readonly partitions: number;
  /** -1: the broker's default. */
  readonly replicationFactor: number;
  readonly config?: Readonly<Record<string, string>>;
}

/** One partition's share of a fetch, in offset order. */
export interface PartitionBatch {
  readonly topic: string;
  readonly partition: number;
  readonly records: readonly InRecord[];
  /** The partition's end offset when fetched (lag = highWatermark − next offset). */
  readonly highWatermark: number;
}

export interface BatchContext {
  /** False once the consumer is stopping: finish quickly. */
  isRunning(): boolean;
  /** True when a rebalance made this batch obsolete (the partition may be gone). */
  isStale(): boolean;
  /** Keeps the group membership alive during long batches. */
  heartbeat(): Promise<void>;
}

/** Partitions per topic. */
export type Assignment = ReadonlyMap<string, readonly number[]>;

export interface CommitOffset {
  readonly topic: string;
  readonly partition: number;
  /** The next offset to read (last processed + 1). */
  readonly offset: number;
}

export interface GroupConsumerOptions {
  readonly groupId: string;
  readonly topics: readonly string[];
  readonly sessionTimeoutMs: number;
  readonly heartbeatIntervalMs: number;
  /** Topics whose same-numbered partitions must go to one member (all keyed by channel id). */
  readonly coPartitioned: boolean;
  /**
   * Partitions this member asks the group to keep on one member (with `coPartitioned`; asked at every
   * join): a mediator's channels. Default: none.
   */
  readonly colocate?: () => readonly number[];
  /** Where a group without committed offsets starts: the beginning (true) or the end. */
  readonly fromBeginning: boolean;
  /** Partitions handled at once (default: all assigned). */
  readonly concurrency?: number;
  readonly maxBytesPerPartition?: number;
}

export type BatchHandler = (batch: PartitionBatch, ctx: BatchContext) => Promise<void>;

export interface GroupConsumer {
  /** Starts fetching; `handler` runs once per partition batch, sequentially per partition. */
  run(handler: BatchHandler): Promise<void>;
  /** Commits offsets for the group (only for partitions still assigned). */
  commit(offsets: readonly CommitOffset[]): Promise<void>;
  /** The current assignment (empty until the first join). */
  assignment(): Assignment;
  /** Called after every join with the new assignment. */
  onAssignment(listener: (assignment: Assignment) => void): void;
  /** Called when the consumer crashed and will (or will not) restart. */
  onCrash(listener: (error: Error, restarting: boolean) => void): void;
  /** Moves the next fetch of a partition to `offset`. */
  seek(topic: string, partition: number, offset: number): void;
  /** The partitions this member claimed (`colocate`) when it last joined. */
  claimed(): readonly number[];
  /**
   * Leaves the group and joins it again, so the group splits its partitions anew with this member's
   * current claim. Listeners first hear an empty assignment (this member gives up every partition).
   */
  rejoin(): Promise<void>;
  stop(): Promise<void>;
}

export interface SendResult {
  readonly partition: number;
  /** Offset of the last record written to this partition by the call. */
  readonly lastOffset: number;
}

export interface LogProducer {
  /**
   * Writes records idempotently and waits for all in-sync replicas. Records without a partition are
   * placed by their key (murmur2, as Kafka's default partitioner); each partition's records go in
   * order, in requests of up to ~900 KB. Returns the last offset written per partition (-1 when a
   * retried request turned out to be written already).
   */
  send(topic: string, records: readonly OutRecord[]): Promise<SendResult[]>;
  close(): Promise<void>;
}

/** Records for one topic, each with its partition, written by a `PartitionWriter`. */
export interface TopicWrite {
  readonly topic: string;
  readonly records: readonly OutRecord[];
}

/** Group offsets committed in the same transaction as a `PartitionWriter`'s records. */
export interface GroupOffsets {
  readonly groupId: string;
  readonly offsets: readonly CommitOffset[];
}

/**
 * The only writer of one partition's durable state (its changelog and dead letters) and of the group
 * offsets of its input. Each `commit` is one Kafka transaction: the records and the offsets land
 * together or not at all. Opening a writer with the same transactional id elsewhere fences this one:
 * its later commits throw `FencedError` and its open transaction is aborted, so a node that lost its
 * partition (a stall past the session timeout) can never write over the new owner.
 */
/** Test-only hooks of a partition writer. */
export interface WriterHooks {
  /** Awaited inside each transaction, after its writes and offsets, right before it commits. */
  readonly beforeCommit?: () => Promise<void> | void;
}

export interface PartitionWriter {
  readonly transactionalId: string;
  /**
   * Writes and commits atomically; returns the offset of the last record written per topic. Throws
   * `FencedError` when a newer writer took the id over, `WriterStuckError` when the transaction could
   * not be ended (the writer is unusable: open a new one).
   */
  commit(writes: readonly TopicWrite[], offsets: GroupOffsets): Promise<Map<string, number>>;
  close(): Promise<void>;
}

export interface LogClient {
  readonly brokers: readonly string[];
  /** Creates missing topics and waits until every partition has a leader. */
  ensureTopics(specs: readonly TopicSpec[]): Promise<void>;
  partitionCount(topic: string): Promise<number>;
  /** A topic's effective setting `name` (its own or the broker's default), or null when unknown. */
  topicSetting(topic: string, name: string): Promise<string | null>;
  /** The end offset (next offset to be written) of each partition. */
  endOffsets(topic: string): Promise<Map<number, number>>;
  /** The first offset still kept (older records were deleted by retention) and the end offset of each partition. */
  offsetRanges(topic: string): Promise<Map<number, { readonly start: number; readonly end: number }>>;
  /** A group's committed offsets for a topic (partitions without a commit are absent). */
  committedOffsets(groupId: string, topic: string): Promise<Map<number, number>>;
  /**
   * Reads `[from, until)` of one partition without a consumer group, calling `onRecords` in order.
   * Stops early at the partition end. Resolves with the offset it reached: past every record, transaction
   * marker and aborted record it saw (records of an open transaction are not seen yet).
   */
  readPartition(
    topic: string,
    partition: number,
    from: number,
    until: number,
    onRecords: (records: readonly InRecord[]) => void,
  ): Promise<number>;
  /** An idempotent producer: a retried request never duplicates a record. */
  producer(): Promise<LogProducer>;
  /**
   * Opens the transactional writer `transactionalId`, fencing every earlier writer with that id (their
   * open transaction is aborted, their later commits fail). Returns once the fence is in place.
   */
  partitionWriter(transactionalId: string, hooks?: WriterHooks): Promise<PartitionWriter>;
  groupConsumer(opts: GroupConsumerOptions): Promise<GroupConsumer>;
  listTopics(): Promise<string[]>;
  deleteTopics(topics: readonly string[]): Promise<void>;
  deleteGroups(groupIds: readonly string[]): Promise<void>;
  close(): Promise<void>;
}

export interface ClientOptions {
  readonly brokers: readonly string[];
  readonly clientId: string;
  readonly logger: Logger;
}

// ---------------------------------------------------------------- partitioning

const defaultPartitioner = Partitioners.DefaultPartitioner();

/** The partition Kafka's default (murmur2) partitioner gives `key` among `partitions`. */
export function partitionOf(key: Buffer, partitions: number): number {
  const partitionMetadata = Array.from({ length: partitions }, (_, i) => ({
    partitionId: i,
    leader: 0,
    partitionErrorCode: 0,
    replicas: [0],
    isr: [0],
  }));
  return defaultPartitioner({ topic: "", partitionMetadata, message: { key, value: null } });
}

// ---------------------------------------------------------------- kafkajs internals used by readPartition

interface InternalRecord {
  readonly offset: string;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly timestamp: string;
  /** Commit and abort markers of transactions: not data. */
  readonly isControlRecord?: boolean;
}
interface InternalFetchPartition {
  readonly partition: number;
  readonly errorCode: number;
  readonly highWatermark: string;
  readonly abortedTransactions?: readonly unknown[];
  readonly messages: readonly InternalRecord[];
}
interface InternalProduceResponse {
  readonly topics: readonly {
    readonly partitions: readonly { readonly partition: number; readonly baseOffset: string }[];
  }[];
}
interface InternalBroker {
  produce(req: {
    acks: number;
    timeout: number;
    producerId: string | number;
    producerEpoch: number;
    topicData: {
      topic: string;
      partitions: {
        partition: number;
        firstSequence: number;
        messages: { key: Buffer | null; value: Buffer | null }[];
      }[];
    }[];
  }): Promise<InternalProduceResponse>;
  initProducerId(req: {
    transactionalId?: string;
    transactionTimeout: number;
  }): Promise<{ producerId: string; producerEpoch: number }>;
  fetch(req: {
    replicaId: number;
    isolationLevel: number;
    maxWaitTime: number;
    minBytes: number;
    maxBytes: number;
    topics: { topic: string; partitions: { partition: number; fetchOffset: string; maxBytes: number }[] }[];
  }): Promise<{ responses: { topicName: string; partitions: InternalFetchPartition[] }[] }>;
}
interface InternalCluster {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  addTargetTopic(topic: string): Promise<void>;
  refreshMetadata(): Promise<void>;
  findLeaderForPartitions(topic: string, partitions: number[]): Record<string, number[]>;
  findBroker(q: { nodeId: string }): Promise<InternalBroker>;
  findTopicPartitionMetadata(topic: string): readonly { partitionId: number }[];
}
type ClusterFactory = (opts: {
  metadataMaxAge?: number;
  allowAutoTopicCreation?: boolean;
}) => InternalCluster;

/** The Kafka instance's private cluster factory (every producer, consumer and admin gets its cluster here). */
function clusterFactory(kafka: Kafka, what: string): { key: symbol; factory: ClusterFactory } {
  const key = Object.getOwnPropertySymbols(kafka).find(
    (s) => s.description === "private:Kafka:createCluster",
  );
  const factory =
    key === undefined ? undefined : (kafka as unknown as Record<symbol, ClusterFactory | undefined>)[key];
  if (key === undefined || typeof factory !== "function") {
    throw new KafkaError(`${what} (this kafkajs version has no internal cluster factory; pin kafkajs 2.2.4)`);
  }
  return { key, factory };
}

function internalCluster(kafka: Kafka): InternalCluster {
  return clusterFactory(kafka, "reading a partition").factory({ allowAutoTopicCreation: false });
}

// ---------------------------------------------------------------- the transaction coordinator, cached

/** How long a cluster reuses the coordinator it found (an error on a call to it drops it sooner). */
const COORDINATOR_TTL_MS = 10_000;

type FindCoordinator = (q: { groupId: string; coordinatorType?: number }) => Promise<object>;

/**
 * kafkajs asks the cluster for the transaction coordinator (a FindCoordinator round trip) before every
 * AddPartitionsToTxn and before every EndTxn: two of a flush's five sequential round trips, on the path
 * of every routed payment, and as many requests to the broker as the flushes themselves. This makes the
 * clusters `kafka` creates keep the coordinator they found for `COORDINATOR_TTL_MS`. A call to it that
 * fails (it moved: NOT_COORDINATOR, or its broker is gone) drops the entry, so the retry asks again.
 */
export function cacheCoordinators(kafka: Kafka): void {
  const { key, factory } = clusterFactory(kafka, "opening a transactional writer");
  const wrapped: ClusterFactory = (opts) => {
    const cluster = factory(opts) as InternalCluster & { findGroupCoordinator: FindCoordinator };
    const find = cluster.findGroupCoordinator.bind(cluster);
    const cache = new Map<string, { broker: object; atMs: number }>();
    cluster.findGroupCoordinator = async (q) => {
      const id = `${q.coordinatorType ?? 0}/${q.groupId}`;
      const hit = cache.get(id);
      if (hit && Date.now() - hit.atMs < COORDINATOR_TTL_MS) return hit.broker;
      const found = await find(q);
      const broker = new Proxy(found, {
        get(target, prop, receiver) {
          const v: unknown = Reflect.get(target, prop, receiver);
          if (typeof v !== "function") return v;
          return (...args: unknown[]) => {
            const out: unknown = (v as (...a: unknown[]) => unknown).apply(target, args);
            return out instanceof Promise
              ? out.catch((e: unknown) => {
                  if (cache.get(id)?.broker === broker) cache.delete(id);
                  throw e;
                })
              : out;
          };
        },
      });
      cache.set(id, { broker, atMs: Date.now() });
      return broker;
    };
    return cluster;
  };
  (kafka as unknown as Record<symbol, ClusterFactory>)[key] = wrapped;
}

type AbortedFilter = (batch: {
  messages: readonly InternalRecord[];
  abortedTransactions?: readonly unknown[];
}) => InternalRecord[];

/**
 * The records of a read-committed fetch that are data of committed (or non-transactional) writes:
 * records of aborted transactions (listed in the response) and the transaction markers are dropped,
 * as kafkajs's own consumer does.
 */
function committedRecords(part: InternalFetchPartition): InternalRecord[] {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const filterAborted = require("kafkajs/src/consumer/filterAbortedMessages") as AbortedFilter;
  return filterAborted({ messages: part.messages, abortedTransactions: part.abortedTransactions }).filter(
    (m) => !m.isControlRecord,
  );
}

/** Error types with which the broker refuses a producer whose transactional id a newer producer took. */
const FENCING_ERRORS = new Set([
  "INVALID_PRODUCER_EPOCH",
  "PRODUCER_FENCED",
  "TRANSACTION_COORDINATOR_FENCED",
]);
/** PRODUCER_FENCED (90) is newer than kafkajs 2.2.4, which reports it by code only. */
const FENCING_CODES = new Set([47, 52, 90]);

/** Whether `e` (or an error it wraps) says the producer was fenced. */
function isFenced(e: unknown): boolean {
  for (let cur: unknown = e, depth = 0; cur !== null && typeof cur === "object" && depth < 8; depth++) {
    const err = cur as { type?: unknown; code?: unknown; originalError?: unknown; cause?: unknown };
    if (typeof err.type === "string" && FENCING_ERRORS.has(err.type)) return true;
    if (typeof err.code === "number" && FENCING_CODES.has(err.code)) return true;
    cur = err.originalError ?? err.cause;
  }
  return false;
}

// ---------------------------------------------------------------- helpers

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function kafkaLogCreator(logger: Logger) {
  return () =>
    ({ level, log }: LogEntry): void => {
      const { message, ...rest } = log;
      // Bounded retries are deliberate: a failed send surfaces, and its caller retries it (a flush in a
      // new transaction) or reports it; kafkajs warns about that on every idempotent producer.
      if (message.startsWith("Limiting retries for the idempotent producer")) {
        logger.debug(`kafkajs: ${message}`, { kafkajs: rest.logger });
        return;
      }
      const fields = { kafkajs: rest.logger, broker: rest.broker, error: rest.error };
      if (level === KafkaLogLevel.ERROR) logger.warn(`kafkajs: ${message}`, fields);
      else if (level === KafkaLogLevel.WARN) logger.info(`kafkajs: ${message}`, fields);
      else logger.debug(`kafkajs: ${message}`, fields);
    };
}

/**
 * Same-numbered partitions of every subscribed topic go to the same member (`assignPartitions`: the
 * partitions a member claims through `colocate` stay together, the rest are spread evenly). `declared`
 * hears the claim this member sends with each join.
 */
function coPartitionedAssigner(
  colocate: () => readonly number[],
  declared: (claim: readonly number[]) => void,
): PartitionAssigner {
  return ({ cluster }) => ({
    name: "ParsecCoPartitioned",
    version: 1,
    async assign({ members, topics }) {
      const claims = members.map((m) => ({
        memberId: m.memberId,
        colocate: decodeClaim(AssignerProtocol.MemberMetadata.decode(m.memberMetadata)?.userData),
      }));
      const perMember = new Map<string, Record<string, number[]>>(claims.map((c) => [c.memberId, {}]));
      for (const topic of topics) {
        const count = cluster.findTopicPartitionMetadata(topic).length;
        for (const [memberId, parts] of assignPartitions(claims, count))
          if (parts.length > 0) (perMember.get(memberId) as Record<string, number[]>)[topic] = parts;
      }
      return [...perMember].map(([memberId, assignment]) => ({
        memberId,
        memberAssignment: AssignerProtocol.MemberAssignment.encode({
          version: 1,
          assignment,
          userData: Buffer.alloc(0),
        }),
      }));
    },
    protocol({ topics }) {
      const claim = [...colocate()];
      declared(claim);
      return {
        name: "ParsecCoPartitioned",
        metadata: AssignerProtocol.MemberMetadata.encode({
          version: 1,
          topics,
          userData: encodeClaim(claim),
        }),
      };
    },
  });
}

/**
 * Splits records into sends of at most `maxBytes` (approximate) and `maxRecords` each, keeping their
 * order. The count bound matters for kafkajs's producer: 2.2.4 groups a send's messages by partition
 * with an array spread per message (groupMessagesPerPartition.js), quadratic in a partition's messages.
 */
function chunk(records: readonly OutRecord[], maxBytes: number, maxRecords: number): OutRecord[][] {
  const out: OutRecord[][] = [];
  let current: OutRecord[] = [];
  let size = 0;
  for (const r of records) {
    const n = (r.key?.length ?? 0) + (r.value?.length ?? 0) + 24;
    if (current.length > 0 && (size + n > maxBytes || current.length >= maxRecords)) {
      out.push(current);
      current = [];
      size = 0;
    }
    current.push(r);
    size += n;
  }
  if (current.length > 0) out.push(current);
  return out;
}

const MAX_SEND_BYTES = 900_000;
const MAX_SEND_RECORDS = 500;
/** How long a transaction may stay open: far above a flush, far below the broker's 15-minute maximum. */
const TRANSACTION_TIMEOUT_MS = 60_000;
/**
 * The transactional writer's retries. A transaction that starts right after the previous commit is
 * refused with CONCURRENT_TRANSACTIONS while the coordinator still writes that commit's markers (a few
 * ms); kafkajs retries it with this backoff. Starting at 200 ms put ~300 ms into one flush in ten, on
 * the path of every routed payment. Starting at 10 ms and doubling to 5 s, 13 retries still wait ~25 s
 * in all, past a broker's restart.
 */
const WRITER_RETRY = { retries: 13, initialRetryTime: 10, maxRetryTime: 5000 } as const;

// ---------------------------------------------------------------- idempotent produce

/** Broker error types that say it no longer knows this producer's id or sequence: start a new id. */
const PRODUCER_RESET_ERRORS = new Set([
  "OUT_OF_ORDER_SEQUENCE_NUMBER",
  "UNKNOWN_PRODUCER_ID",
  "INVALID_PRODUCER_EPOCH",
]);
const SEND_ATTEMPTS = 40;
/** Kafka's sequence numbers are int32 and wrap to 0. */
const MAX_SEQUENCE = 2 ** 31 - 1;

/**
 * Idempotent writes, one partition per request, straight to the partition's leader (acks = all):
 * each request carries this producer's id and the partition's next sequence number, and a retry
 * (after a timeout, a broker restart, a leader change) repeats the same sequence, so the broker keeps
 * the batch once. Sends to one partition are serialised (the sequence is per partition). Measured
 * against kafkajs's own producer, which lost acknowledged records when a broker was killed under load
 * (the chaos command's kill-broker scenario; kafkajs issue #1303) and groups messages in quadratic time.
 */
class IdempotentProducer {
  private id: Promise<{ producerId: string; producerEpoch: number }> | null = null;
  private readonly sequences = new Map<string, number>();
  private readonly queues = new Map<string, Promise<unknown>>();

  constructor(
    private readonly leaderOf: (topic: string, partition: number) => Promise<InternalBroker>,
    private readonly refresh: () => Promise<void>,
    private readonly logger: Logger,
  ) {}

  private producerId(broker: InternalBroker): Promise<{ producerId: string; producerEpoch: number }> {
    this.id ??= broker.initProducerId({ transactionTimeout: TRANSACTION_TIMEOUT_MS }).catch((e: unknown) => {
      this.id = null;
      throw e;
    });
    return this.id;
  }

  /** Writes `records` to one partition in order; returns the offset of the last. */
  send(topic: string, partition: number, records: readonly OutRecord[]): Promise<number> {
    const key = `${topic}/${partition}`;
    const run = (this.queues.get(key) ?? Promise.resolve()).then(() => this.write(topic, partition, records));
    this.queues.set(
      key,
      run.catch(() => undefined),
    );
    return run;
  }

  private async write(topic: string, partition: number, records: readonly OutRecord[]): Promise<number> {
    const key = `${topic}/${partition}`;
    let last = -1;
    for (const part of chunk(records, MAX_SEND_BYTES, Infinity)) {
      const messages = part.map((r) => ({ key: r.key, value: r.value }));
      for (let attempt = 1; ; attempt++) {
        const sequence = this.sequences.get(key) ?? 0;
        try {
          const broker = await this.leaderOf(topic, partition);
          const { producerId, producerEpoch } = await this.producerId(broker);
          const res = await broker.produce({
            acks: -1,
            timeout: 30_000,
            producerId,
            producerEpoch,
            topicData: [{ topic, partitions: [{ partition, firstSequence: sequence, messages }] }],
          });
          const base = res.topics[0]?.partitions.find((p) => p.partition === partition)?.baseOffset;
          if (base === undefined) throw new Error("the produce response names no offset");
          last = Number(base) + messages.length - 1;
          this.sequences.set(key, (sequence + messages.length) % (MAX_SEQUENCE + 1));
          break;
        } catch (e) {
          const type = (e as { type?: unknown }).type;
          if (type === "DUPLICATE_SEQUENCE_NUMBER") {
            // The broker already holds this batch (an earlier attempt landed): done, offset unknown.
            this.sequences.set(key, (sequence + messages.length) % (MAX_SEQUENCE + 1));
            break;
          }
          if (typeof type === "string" && PRODUCER_RESET_ERRORS.has(type)) {
            // The broker dropped this producer's state (expired id, deleted log): a new id starts at 0.
            // A batch an earlier attempt landed may then be written twice (at least once, as before).
            this.logger.warn("kafka producer state lost on the broker; continuing with a new producer id", {
              topic,
              partition,
              error: type,
            });
            this.id = null;
            this.sequences.clear();
          }
          if (attempt >= SEND_ATTEMPTS)
            throw new KafkaError(`writing ${messages.length} records to ${topic}/${partition}`, e);
          this.logger.debug("produce retry", { topic, partition, attempt, error: e });
          await this.refresh();
          await sleep(Math.min(1000, 100 * attempt));
        }
      }
    }
    return last;
  }
}

// ---------------------------------------------------------------- the client

class KafkajsClient implements LogClient {
  private readonly kafka: Kafka;
  /** The transactional writers' client: its clusters keep the transaction coordinator they found. */
  private readonly writerKafka: Kafka;
  private adminClient: Admin | null = null;
  private cluster: InternalCluster | null = null;
  private readonly closers = new Set<() => Promise<void>>();

  constructor(
    readonly brokers: readonly string[],
    clientId: string,
    private readonly logger: Logger,
  ) {
    const config = {
      brokers: [...brokers],
      clientId,
      logLevel: KafkaLogLevel.WARN,
      logCreator: kafkaLogCreator(logger),
      connectionTimeout: 3000,
      requestTimeout: 30_000,
      // A broker restart takes a few seconds to elect new leaders; retry well past it.
      retry: { retries: 12, initialRetryTime: 200, maxRetryTime: 5000, factor: 0.2, multiplier: 1.6 },
    };
    this.kafka = new Kafka(config);
    this.writerKafka = new Kafka(config);
    cacheCoordinators(this.writerKafka);
  }

  private async admin(): Promise<Admin> {
    if (!this.adminClient) {
      const admin = this.kafka.admin();
      await admin.connect();
      this.adminClient = admin;
    }
    return this.adminClient;
  }

  async ensureTopics(specs: readonly TopicSpec[]): Promise<void> {
    const admin = await this.admin();
    try {
      const existing = new Set(await admin.listTopics());
      const missing = specs.filter((s) => !existing.has(s.name));
      if (missing.length > 0) {
        // waitForLeaders: true can fail with UNKNOWN_TOPIC_OR_PARTITION on KRaft; poll metadata instead.
        await admin.createTopics({
          waitForLeaders: false,
          topics: missing.map((s) => ({
            topic: s.name,
            numPartitions: s.partitions,
            replicationFactor: s.replicationFactor,
            configEntries: Object.entries(s.config ?? {}).map(([name, value]) => ({ name, value })),
          })),
        });
      }
      // Each broker learns of new topics on its own: wait until several answers in a row agree.
      const deadline = Date.now() + 60_000;
      let streak = 0;
      while (streak < 5) {
        const meta = await admin.fetchTopicMetadata({ topics: specs.map((s) => s.name) }).catch(() => null);
        const ready =
          meta !== null &&
          specs.every((s) => {
            const t = meta.topics.find((x) => x.name === s.name);
            return t !== undefined && t.partitions.length > 0 && t.partitions.every((p) => p.leader >= 0);
          });
        streak = ready ? streak + 1 : 0;
        if (Date.now() > deadline) throw new Error("partition leaders were not elected within 60 s");
        await sleep(ready ? 50 : 100);
      }
    } catch (e) {
      throw new KafkaError(`creating topics ${specs.map((s) => s.name).join(", ")}`, e);
    }
  }

  async partitionCount(topic: string): Promise<number> {
    const admin = await this.admin();
    for (let attempt = 1; ; attempt++) {
      try {
        const meta = await admin.fetchTopicMetadata({ topics: [topic] });
        return meta.topics[0]?.partitions.length ?? 0;
      } catch (e) {
        // A broker that has not caught up with a new topic answers UNKNOWN_TOPIC_OR_PARTITION for a while.
        if (attempt >= 20 || !/does not host this topic|UNKNOWN_TOPIC/i.test(String(e))) {
          if (/does not host this topic|UNKNOWN_TOPIC/i.test(String(e))) return 0;
          throw new KafkaError(`reading the metadata of ${topic}`, e);
        }
        await sleep(250);
      }
    }
  }

  async topicSetting(topic: string, name: string): Promise<string | null> {
    const admin = await this.admin();
    try {
      const res = await admin.describeConfigs({
        includeSynonyms: false,
        resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configNames: [name] }],
      });
      return res.resources[0]?.configEntries.find((e) => e.configName === name)?.configValue ?? null;
    } catch (e) {
      throw new KafkaError(`reading setting ${name} of ${topic}`, e);
    }
  }

  async endOffsets(topic: string): Promise<Map<number, number>> {
    const admin = await this.admin();
    const offsets = await admin.fetchTopicOffsets(topic);
    return new Map(offsets.map((o) => [o.partition, Number(o.high)]));
  }

  async offsetRanges(topic: string): Promise<Map<number, { readonly start: number; readonly end: number }>> {
    const admin = await this.admin();
    const offsets = await admin.fetchTopicOffsets(topic);
    return new Map(offsets.map((o) => [o.partition, { start: Number(o.low), end: Number(o.high) }]));
  }

  async committedOffsets(groupId: string, topic: string): Promise<Map<number, number>> {
    const admin = await this.admin();
    const res = await admin.fetchOffsets({ groupId, topics: [topic] });
    const out = new Map<number, number>();
    for (const p of res[0]?.partitions ?? [])
      if (Number(p.offset) >= 0) out.set(p.partition, Number(p.offset));
    return out;
  }

  private async internal(): Promise<InternalCluster> {
    if (!this.cluster) {
      const cluster = internalCluster(this.kafka);
      await cluster.connect();
      this.cluster = cluster;
    }
    return this.cluster;
  }

  async readPartition(
    topic: string,
    partition: number,
    from: number,
    until: number,
    onRecords: (records: readonly InRecord[]) => void,
  ): Promise<number> {
    let offset = from;
    let failures = 0;
    while (offset < until) {
      try {
        const cluster = await this.internal();
        await cluster.addTargetTopic(topic);
        const leaders = cluster.findLeaderForPartitions(topic, [partition]);
        const nodeId = Object.keys(leaders)[0];
        if (nodeId === undefined) throw new Error(`no leader for ${topic}/${partition}`);
        const broker = await cluster.findBroker({ nodeId });
        const res = await broker.fetch({
          replicaId: -1,
          isolationLevel: 1,
          maxWaitTime: 50,
          minBytes: 1,
          maxBytes: 16 << 20,
          topics: [{ topic, partitions: [{ partition, fetchOffset: String(offset), maxBytes: 8 << 20 }] }],
        });
        const part = res.responses[0]?.partitions[0];
        if (!part) throw new Error("empty fetch response");
        const end = Math.min(until, Number(part.highWatermark));
        const records: InRecord[] = [];
        for (const m of committedRecords(part)) {
          const o = Number(m.offset);
          if (o < offset || o >= end) continue;
          records.push({
            topic,
            partition,
            offset: o,
            key: m.key,
            value: m.value,
            timestampMs: Number(m.timestamp),
          });
        }
        if (records.length > 0) {
          onRecords(records);
          offset = records[records.length - 1].offset + 1;
        } else if (offset >= end) {
          return offset;
        } else if (part.messages.length > 0) {
          // Only records below `offset`, transaction markers or aborted records came back: skip past them.
          offset = Math.max(offset, Number(part.messages[part.messages.length - 1].offset) + 1);
        } else {
          // Offsets in [offset, end) were compacted away entirely (or are an open transaction's).
          return offset;
        }
        failures = 0;
      } catch (e) {
        if (++failures > 20) throw new KafkaError(`reading ${topic}/${partition} from ${offset}`, e);
        this.logger.debug("readPartition retry", { topic, partition, offset, error: e });
        await this.cluster?.refreshMetadata().catch(() => undefined);
        await sleep(Math.min(2000, 100 * failures));
      }
    }
    return offset;
  }

  /** Sends `records` through `send` in chunks, returning the last offset written per partition. */
  private static async sendChunked(
    send: (
      messages: { key: Buffer | null; value: Buffer | null; partition?: number }[],
    ) => Promise<readonly { partition: number; baseOffset?: string }[]>,
    records: readonly OutRecord[],
  ): Promise<Map<number, number>> {
    const last = new Map<number, number>();
    for (const part of chunk(records, MAX_SEND_BYTES, MAX_SEND_RECORDS)) {
      const counts = new Map<number, number>();
      for (const r of part)
        if (r.partition !== undefined) counts.set(r.partition, (counts.get(r.partition) ?? 0) + 1);
      const metadata = await send(part.map((r) => ({ key: r.key, value: r.value, partition: r.partition })));
      for (const m of metadata) {
        const n = counts.get(m.partition);
        if (n !== undefined && m.baseOffset !== undefined)
          last.set(m.partition, Number(m.baseOffset) + n - 1);
      }
    }
    return last;
  }

  /** The leader of a partition, found through the internal cluster (metadata refreshed on demand). */
  private async leaderOf(topic: string, partition: number): Promise<InternalBroker> {
    const cluster = await this.internal();
    await cluster.addTargetTopic(topic);
    const nodeId = Object.keys(cluster.findLeaderForPartitions(topic, [partition]))[0];
    if (nodeId === undefined) throw new Error(`no leader for ${topic}/${partition}`);
    return cluster.findBroker({ nodeId });
  }

  private async partitionsOf(topic: string): Promise<number> {
    const cluster = await this.internal();
    await cluster.addTargetTopic(topic);
    return cluster.findTopicPartitionMetadata(topic).length;
  }

  async producer(): Promise<LogProducer> {
    const direct = new IdempotentProducer(
      (topic, partition) => this.leaderOf(topic, partition),
      () => this.cluster?.refreshMetadata().catch(() => undefined) ?? Promise.resolve(),
      this.logger,
    );
    const partitionsOf = (topic: string): Promise<number> => this.partitionsOf(topic);
    let closed = false;
    const close = async (): Promise<void> => {
      closed = true;
      this.closers.delete(close);
    };
    this.closers.add(close);
    return {
      async send(topic, records) {
        if (closed) throw new KafkaError(`writing to ${topic} after the producer was closed`);
        // Records without a partition go where Kafka's default partitioner puts their key (murmur2).
        const byPartition = new Map<number, OutRecord[]>();
        let count = 0;
        for (const r of records) {
          let p = r.partition;
          if (p === undefined) {
            count ||= await partitionsOf(topic);
            if (count === 0) throw new KafkaError(`writing to ${topic}: the topic does not exist`);
            p = r.key === null ? Math.floor(Math.random() * count) : partitionOf(r.key, count);
          }
          let list = byPartition.get(p);
          if (!list) byPartition.set(p, (list = []));
          list.push(r);
        }
        const sent = await Promise.all(
          [...byPartition].map(async ([partition, list]) => ({
            partition,
            lastOffset: await direct.send(topic, partition, list),
          })),
        );
        return sent;
      },
      close,
    };
  }

  async partitionWriter(transactionalId: string, hooks: WriterHooks = {}): Promise<PartitionWriter> {
    const producer: Producer = this.writerKafka.producer({
      allowAutoTopicCreation: false,
      createPartitioner: Partitioners.DefaultPartitioner,
      transactionalId,
      idempotent: true,
      maxInFlightRequests: 1,
      // An open transaction of a writer that stalls is aborted after this (or at once by the next owner).
      transactionTimeout: TRANSACTION_TIMEOUT_MS,
      retry: WRITER_RETRY,
    });
    const fail = (what: string, e: unknown): Error =>
      isFenced(e) ? new FencedError(transactionalId, e) : new KafkaError(what, e);
    try {
      await producer.connect();
      // InitProducerId: bumps the epoch of the id (fencing earlier writers) and aborts their open transaction.
      await (await producer.transaction()).abort();
    } catch (e) {
      await producer.disconnect().catch(() => undefined);
      throw fail(`opening the transactional writer ${transactionalId}`, e);
    }
    const close = async (): Promise<void> => {
      this.closers.delete(close);
      await producer.disconnect().catch(() => undefined);
    };
    this.closers.add(close);
    return {
      transactionalId,
      async commit(writes, { groupId, offsets }) {
        const txn = await producer.transaction().catch((e: unknown) => {
          throw fail(`starting a transaction of ${transactionalId}`, e);
        });
        const last = new Map<string, number>();
        try {
          for (const w of writes) {
            if (w.records.length === 0) continue;
            const written = await KafkajsClient.sendChunked(
              (messages) => txn.send({ topic: w.topic, acks: -1, timeout: 30_000, messages }),
              w.records,
            );
            last.set(w.topic, Math.max(-1, ...written.values()));
          }
          if (offsets.length > 0) {
            const byTopic = new Map<string, { partition: number; offset: string }[]>();
            for (const o of offsets) {
              let list = byTopic.get(o.topic);
              if (!list) byTopic.set(o.topic, (list = []));
              list.push({ partition: o.partition, offset: String(o.offset) });
            }
            await txn.sendOffsets({
              consumerGroupId: groupId,
              topics: [...byTopic].map(([topic, partitions]) => ({ topic, partitions })),
            });
          }
          await hooks.beforeCommit?.();
          await txn.commit();
          return last;
        } catch (e) {
          if (isFenced(e)) throw new FencedError(transactionalId, e);
          // kafkajs leaves a transaction whose commit or abort failed half ended: no other can start.
          const aborted = await txn.abort().then(
            () => true,
            () => false,
          );
          if (!aborted) throw new WriterStuckError(transactionalId, e);
          throw fail(`committing a transaction of ${transactionalId}`, e);
        }
      },
      close,
    };
  }

  async groupConsumer(opts: GroupConsumerOptions): Promise<GroupConsumer> {
    let claimed: readonly number[] = [];
    const consumer: Consumer = this.kafka.consumer({
      groupId: opts.groupId,
      sessionTimeout: opts.sessionTimeoutMs,
      rebalanceTimeout: Math.max(opts.sessionTimeoutMs * 2, 20_000),
      heartbeatInterval: opts.heartbeatIntervalMs,
      maxBytesPerPartition: opts.maxBytesPerPartition ?? 1 << 20,
      // kafkajs decodes a whole fetch response in one go on the main thread: keep it a few MiB, so
      // the decode does not starve work fed from the event loop (the verifier pool).
      maxBytes: 4 << 20,
      maxWaitTimeInMs: 100,
      allowAutoTopicCreation: false,
      partitionAssigners: opts.coPartitioned
        ? [coPartitionedAssigner(opts.colocate ?? (() => []), (c) => (claimed = c))]
        : undefined,
      retry: { retries: 12, initialRetryTime: 300, maxRetryTime: 5000 },
    });
    await consumer.connect();
    for (const topic of opts.topics) await consumer.subscribe({ topic, fromBeginning: opts.fromBeginning });
    let assignment: Assignment = new Map();
    const assignListeners: ((a: Assignment) => void)[] = [];
    const crashListeners: ((e: Error, restarting: boolean) => void)[] = [];
    consumer.on(consumer.events.GROUP_JOIN, (event) => {
      const next = new Map<string, number[]>();
      for (const [topic, parts] of Object.entries(event.payload.memberAssignment))
        next.set(
          topic,
          [...parts].sort((a, b) => a - b),
        );
      assignment = next;
      for (const l of assignListeners) l(assignment);
    });
    consumer.on(consumer.events.CRASH, (event) => {
      const error =
        event.payload.error instanceof Error ? event.payload.error : new Error(String(event.payload.error));
      for (const l of crashListeners) l(error, event.payload.restart);
    });
    let stopped = false;
    const stop = async (): Promise<void> => {
      if (stopped) return;
      stopped = true;
      this.closers.delete(stop);
      await consumer.disconnect().catch(() => undefined);
    };
    this.closers.add(stop);
    const concurrency = opts.concurrency;
    let running: Parameters<Consumer["run"]>[0] | null = null;
    return {
      async run(handler) {
        running = {
          autoCommit: false,
          eachBatchAutoResolve: false,
          partitionsConsumedConcurrently: concurrency ?? 64,
          eachBatch: async ({ batch, isRunning, isStale, heartbeat, resolveOffset }) => {
            const records: InRecord[] = new Array(batch.messages.length);
            for (let i = 0; i < batch.messages.length; i++) {
              const m = batch.messages[i];
              records[i] = {
                topic: batch.topic,
                partition: batch.partition,
                offset: Number(m.offset),
                key: m.key,
                value: m.value,
                timestampMs: Number(m.timestamp),
              };
            }
            await handler(
              {
                topic: batch.topic,
                partition: batch.partition,
                records,
                highWatermark: Number(batch.highWatermark),
              },
              { isRunning, isStale, heartbeat },
            );
            // Moves the fetch position only; offsets are committed explicitly after a durable flush.
            if (records.length > 0 && !isStale()) resolveOffset(batch.lastOffset());
          },
        };
        await consumer.run(running);
      },
      async rejoin() {
        if (stopped || running === null) return;
        assignment = new Map();
        for (const l of assignListeners) l(assignment);
        // kafkajs's stop leaves the group (its batches in flight finish first); run joins it again.
        await consumer.stop();
        if (!stopped) await consumer.run(running);
      },
      claimed: () => claimed,
      async commit(offsets) {
        const owned = offsets.filter((o) => assignment.get(o.topic)?.includes(o.partition));
        if (owned.length === 0) return;
        await consumer.commitOffsets(
          owned.map((o) => ({ topic: o.topic, partition: o.partition, offset: String(o.offset) })),
        );
      },
      assignment: () => assignment,
      onAssignment: (l) => void assignListeners.push(l),
      onCrash: (l) => void crashListeners.push(l),
      seek: (topic, partition, offset) => consumer.seek({ topic, partition, offset: String(offset) }),
      stop,
    };
  }

  async listTopics(): Promise<string[]> {
    return (await this.admin()).listTopics();
  }

  async deleteTopics(topics: readonly string[]): Promise<void> {
    if (topics.length === 0) return;
    const admin = await this.admin();
    const existing = new Set(await admin.listTopics());
    const present = topics.filter((t) => existing.has(t));
    if (present.length > 0) await admin.deleteTopics({ topics: present, timeout: 30_000 });
  }

  async deleteGroups(groupIds: readonly string[]): Promise<void> {
    if (groupIds.length === 0) return;
    const admin = await this.admin();
    await admin.deleteGroups([...groupIds]).catch(() => undefined);
  }

  async close(): Promise<void> {
    for (const close of [...this.closers]) await close();
    await this.adminClient?.disconnect().catch(() => undefined);
    this.adminClient = null;
    await this.cluster?.disconnect().catch(() => undefined);
    this.cluster = null;
  }
}

/** A Kafka client over `brokers`. */
export function createLogClient(opts: ClientOptions): LogClient {
  return new KafkajsClient(opts.brokers, opts.clientId, opts.logger);
}
