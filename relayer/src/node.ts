/**
 * A Parsec node: one member of the consumer group over the transfer topic. It wires the parts together
 * — chain index, Kafka client, verifier pool, partition states, pipelines, operator, signer, HTTP API —
 * and runs the timers (flush, commit tick). `ParsecNode.start` returns once the node consumes.
 */
import fs from "node:fs";
import path from "node:path";
import {
  type Address,
  type Domain,
  type Hash,
  type Hex,
  type LocalSigner,
  toDomain,
  VerifierPool,
  nativeSigner,
} from "../../sdk";
import { ChainRegistry } from "./chain/registry";
import { Rpc } from "./chain/rpc";
import { TxSender } from "./chain/tx-sender";
import { Operator, type OwnedChannel } from "./commit/operator";
import { redactConfig, type RelayerConfig } from "./config";
import { messageOf } from "./errors";
import { M, Metrics } from "./http/metrics";
import { startHttpApi, type HttpApi } from "./http/server";
import {
  createLogClient,
  type Assignment,
  type BatchContext,
  type GroupConsumer,
  type LogClient,
  type LogProducer,
  type PartitionBatch,
} from "./kafka/client";
import { channelPartition, consumedTopics, prepareTopics } from "./kafka/topics";
import { createLogger, type Logger } from "./log";
import { RequestPipeline } from "./pipeline/requests";
import { TransferPipeline } from "./pipeline/transfers";
import { ChannelState } from "./state/channel";
import { PartitionState, type FaultPoint, type Progress } from "./state/partition";
import { CheckpointSigner, signerGroupId } from "./signer/signer";

export interface NodeOptions {
  readonly logger?: Logger;
  /** Test-only: called at fault points (a test's hook may kill the process there). */
  readonly fault?: (point: FaultPoint) => void;
}

const ZERO_ADDRESS = "0x0000000000000000000000000000000000000000" as Address;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
/** Fetched records a node holds before it stops taking more (a few batches: enough to keep the pool busy). */
const MAX_QUEUED_RECORDS = 20000;

export class ParsecNode {
  private readonly partitions = new Map<number, PartitionState>();
  private consumer: GroupConsumer | null = null;
  private signer: CheckpointSigner | null = null;
  private http: HttpApi | null = null;
  private timers: NodeJS.Timeout[] = [];
  private ticking = false;
  private stopping = false;
  private consumerFailed: string | null = null;
  private readonly lag = new Map<string, number>();
  /** Records fetched and not processed yet, and handlers waiting for room. */
  private queued = 0;
  private queueWaiters: (() => void)[] = [];
  private transfers!: TransferPipeline;
  private requests!: RequestPipeline;
  private operator!: Operator;
  private partitionCount = 0;

  private constructor(
    readonly config: RelayerConfig,
    readonly domain: Domain,
    readonly logger: Logger,
    readonly metrics: Metrics,
    readonly rpc: Rpc,
    readonly registry: ChainRegistry,
    readonly client: LogClient,
    readonly producer: LogProducer,
    readonly pool: VerifierPool,
    readonly submitter: TxSender | null,
    readonly signers: ReadonlyMap<string, LocalSigner>,
    readonly senders: ReadonlyMap<string, TxSender>,
    private readonly options: NodeOptions,
  ) {}

  /** Starts a node; throws `ConfigError`/`ChainError`/`KafkaError` with what to fix. */
  static async start(config: RelayerConfig, options: NodeOptions = {}): Promise<ParsecNode> {
    const logger = options.logger ?? createLogger(config.logLevel, { node: config.nodeId });
    logger.info("starting", { config: redactConfig(config) });
    // The default state dir lives in the repo: keep it out of git without touching the root .gitignore.
    fs.mkdirSync(config.state.dir, { recursive: true });
    const ignore = path.join(config.state.dir, ".gitignore");
    if (!fs.existsSync(ignore)) fs.writeFileSync(ignore, "*\n");
    const metrics = new Metrics();
    const rpc = await Rpc.connect(config.chain.rpcUrl, config.chain.chainId);
    const domain = toDomain({ chainId: rpc.chainId, verifyingContract: config.chain.channels });
    const registry = new ChainRegistry(rpc, domain.verifyingContract, config.chain.startBlock, logger);
    await registry.sync();
    const client = createLogClient({
      brokers: config.kafka.brokers,
      clientId: config.kafka.clientId,
      logger,
    });
    let producer: LogProducer | null = null;
    let pool: VerifierPool | null = null;
    try {
      const partitions = await prepareTopics(client, config.kafka);
      producer = await client.producer();
      pool = await VerifierPool.create({
        domain,
        threads: config.verify.threads,
        chunkSize: config.verify.chunkSize,
      });
      const onMined = (): void => options.fault?.("after-chain-tx");
      const sender = (key: Hex): TxSender =>
        new TxSender({
          rpc,
          key,
          fees: config.chain.fees,
          logger,
          pollMs: Math.max(50, Math.min(1000, config.chain.pollIntervalMs / 2)),
          onMined,
        });
      const submitter = config.chain.submitterKey ? sender(config.chain.submitterKey) : null;
      const signers = new Map<string, LocalSigner>();
      const senders = new Map<string, TxSender>();
      for (const key of config.signer.keys) {
        const s = nativeSigner(key);
        signers.set(s.address.toLowerCase(), s);
        senders.set(s.address.toLowerCase(), sender(key));
      }
      if (!submitter) logger.warn("no PARSEC_SUBMITTER_KEY: the node keeps state but sends no transactions");
      const node = new ParsecNode(
        config,
        domain,
        logger,
        metrics,
        rpc,
        registry,
        client,
        producer,
        pool,
        submitter,
        signers,
        senders,
        options,
      );
      node.partitionCount = partitions;
      await node.run();
      return node;
    } catch (e) {
      await pool?.close().catch(() => undefined);
      await producer?.close().catch(() => undefined);
      await client.close().catch(() => undefined);
      rpc.close();
      throw e;
    }
  }

  /** The channel's state when this node holds it. */
  locate(channelId: Hash): OwnedChannel | null {
    const ps = this.partitions.get(channelPartition(channelId, this.partitionCount));
    const ch = ps?.channels.get(channelId);
    return ps && ch && !ps.revoked ? { ps, ch } : null;
  }

  /**
   * Like `locate`, but a channel of an owned partition that has seen no input yet is returned with an
   * empty (genesis) state that is not kept: its state is still the genesis.
   */
  view(channelId: Hash): OwnedChannel | null {
    const found = this.locate(channelId);
    if (found) return found;
    const ps = this.partitions.get(channelPartition(channelId, this.partitionCount));
    return ps && !ps.revoked ? { ps, ch: new ChannelState(channelId) } : null;
  }

  /** Partitions this node holds now. */
  owned(): PartitionState[] {
    return [...this.partitions.values()].filter((p) => !p.revoked);
  }

  get url(): string | null {
    return this.http?.url ?? null;
  }

  private get proposer(): Address {
    return (
      this.submitter?.address ??
      ([...this.signers.values()][0]?.address as Address | undefined) ??
      ZERO_ADDRESS
    );
  }

  private async commitOffsets(p: number, progress: Progress): Promise<void> {
    const t = this.config.kafka.topics;
    const offsets = [
      { topic: t.transfers, offset: progress.transfers },
      { topic: t.control, offset: progress.control },
      { topic: t.checkpointSignatures, offset: progress.signatures },
    ]
      .filter((o) => o.offset >= 0)
      .map((o) => ({ topic: o.topic, partition: p, offset: o.offset + 1 }));
    await this.consumer
      ?.commit(offsets)
      .catch((e) =>
        this.logger.info("offset commit skipped (rebalancing?)", { partition: p, error: messageOf(e) }),
      );
  }

  private hashWires = async (wires: readonly Buffer[]): Promise<(Hash | null)[]> => {
    const { codes, hashes } = await this.pool.verifyBatch(wires);
    return wires.map((_, i) =>
      codes[i] === 0
        ? (`0x${Buffer.from(hashes.subarray(32 * i, 32 * i + 32)).toString("hex")}` as Hash)
        : null,
    );
  };

  private onAssignment(a: Assignment): void {
    const mine = new Set(a.get(this.config.kafka.topics.transfers) ?? []);
    for (const [p, ps] of this.partitions) {
      if (mine.has(p)) continue;
      // Revoked: another node may own it already, so write nothing more for it.
      ps.revoked = true;
      this.partitions.delete(p);
      void ps.lock.run(() => ps.close());
      this.logger.info("partition revoked", { partition: p });
    }
    for (const p of mine) {
      if (this.partitions.has(p)) continue;
      const ps = new PartitionState(p, {
        config: this.config,
        client: this.client,
        producer: this.producer,
        logger: this.logger,
        metrics: this.metrics,
        hashWires: this.hashWires,
        commitOffsets: (q, progress) => this.commitOffsets(q, progress),
        fault: this.options.fault,
      });
      this.partitions.set(p, ps);
      void ps.lock
        .run(async () => {
          await ps.restore();
          this.transfers.readmit(ps);
        })
        .then(() => this.operator.noteRestored(ps))
        .catch((e) => {
          this.logger.error("restoring a partition failed; the node stops consuming it", {
            partition: p,
            error: messageOf(e),
          });
          this.consumerFailed = `restore of partition ${p} failed: ${messageOf(e)}`;
        });
    }
    this.metrics.set(M.partitions, "Partitions of the transfer topic this node holds", mine.size);
  }

  /**
   * Takes a fetched batch: transfers start verifying at once, then the batch waits for its turn on
   * the partition. Returns as soon as it is queued, so kafkajs fetches the next data (its fetcher
   * waits for every handler of a fetch before fetching again) while the pool and the main thread work;
   * only a full queue makes it wait. Offsets are committed by flushes, never by this.
   */
  private async handle(batch: PartitionBatch, ctx: BatchContext): Promise<void> {
    const ps = this.partitions.get(batch.partition);
    if (!ps || batch.records.length === 0) return;
    while (this.queued >= MAX_QUEUED_RECORDS && !this.stopping) {
      // Waiting for room can take a while (a partition restoring): stay a member of the group.
      await Promise.race([new Promise<void>((r) => this.queueWaiters.push(r)), sleep(1000)]);
      await ctx.heartbeat().catch(() => undefined);
    }
    const n = batch.records.length;
    this.queued += n;
    const t = this.config.kafka.topics;
    const prepared = batch.topic === t.transfers ? this.transfers.prepare(batch.records) : null;
    const done = (): void => {
      this.queued -= n;
      for (const w of this.queueWaiters.splice(0)) w();
    };
    void ps.lock
      .run(async () => {
        if (ps.revoked) return;
        const records = batch.records;
        if (prepared) await this.transfers.process(ps, records, prepared);
        else if (batch.topic === t.control) await this.requests.processControl(ps, records);
        else if (batch.topic === t.checkpointSignatures) await this.requests.processSignatures(ps, records);
        const last = records[records.length - 1];
        this.lag.set(`${batch.topic}/${batch.partition}`, Math.max(0, batch.highWatermark - last.offset - 1));
        if (ps.dirty.size >= this.config.state.flushMaxDirty) await ps.flush();
      })
      .catch((e) => {
        // Unprocessed input would be skipped by this consumer session: stop, so a restart replays it.
        this.logger.error("processing a batch failed; the node stops to replay it after a restart", {
          partition: batch.partition,
          topic: batch.topic,
          error: messageOf(e),
        });
        this.consumerFailed = `processing ${batch.topic}/${batch.partition} failed: ${messageOf(e)}`;
      })
      .finally(done);
  }

  private async flushDue(force: boolean): Promise<void> {
    const now = Date.now();
    await Promise.all(
      this.owned().map((ps) => {
        if (!ps.needsFlush || (!force && now - ps.lastFlushMs < this.config.state.flushIntervalMs))
          return undefined;
        return ps.lock
          .run(() => (ps.revoked ? undefined : ps.flush()))
          .catch((e) =>
            this.logger.warn("flush failed; retrying", { partition: ps.partition, error: messageOf(e) }),
          );
      }),
    );
  }

  private async run(): Promise<void> {
    const { config, logger, metrics } = this;
    this.operator = new Operator({
      config,
      domain: this.domain,
      registry: this.registry,
      producer: this.producer,
      logger,
      metrics,
      submitter: this.submitter,
      senders: this.senders,
      signers: this.signers,
      proposer: this.proposer,
      locate: (id) => this.locate(id),
      owned: () => this.owned(),
    });
    this.transfers = new TransferPipeline({
      topic: config.kafka.topics.transfers,
      partitions: this.partitionCount,
      registry: this.registry,
      verifier: this.pool,
      metrics,
      everyM: config.commit.everyM,
      onEquivocation: (onchain, proof) => this.operator.proveEquivocation(onchain, proof),
    });
    this.requests = new RequestPipeline({
      domain: this.domain,
      registry: this.registry,
      operator: this.operator,
      metrics,
    });
    // A deposit may cover transfers that wait for funds.
    this.registry.on((e) => {
      if (e.type !== "deposit") return;
      const owned = this.locate(e.channel.channelId);
      if (owned && owned.ps.blocked.has(e.channel.channelId)) {
        void owned.ps.lock.run(() => this.transfers.unblock(owned.ps, owned.ch, e.channel));
      }
    });
    this.declareMetrics();
    this.registry.start(config.chain.pollIntervalMs);

    if (this.signers.size > 0 && config.signer.enabled) {
      this.signer = new CheckpointSigner({
        client: this.client,
        producer: this.producer,
        topics: config.kafka.topics,
        groupId: signerGroupId(config.kafka.groupId, this.signers),
        domain: this.domain,
        registry: this.registry,
        signers: this.signers,
        trustedProposers:
          config.signer.trustedProposers === "self" ? [this.proposer] : config.signer.trustedProposers,
        validate: (p) => {
          const owned = this.locate(p.checkpoint.channelId);
          if (!owned) return null; // a trusted proposer holds it
          const c = p.checkpoint;
          const ok = owned.ch.hashAt(0, c.seq0) === c.head0 && owned.ch.hashAt(1, c.seq1) === c.head1;
          return ok ? null : "the heads are not the ones this node holds";
        },
        sessionTimeoutMs: config.kafka.sessionTimeoutMs,
        heartbeatIntervalMs: config.kafka.heartbeatIntervalMs,
        logger,
        metrics,
      });
      await this.signer.start();
    }

    const consumer = await this.client.groupConsumer({
      groupId: config.kafka.groupId,
      topics: consumedTopics(config.kafka.topics),
      sessionTimeoutMs: config.kafka.sessionTimeoutMs,
      heartbeatIntervalMs: config.kafka.heartbeatIntervalMs,
      coPartitioned: true,
      fromBeginning: true,
      concurrency: this.partitionCount * 3,
      maxBytesPerPartition: config.kafka.fetchMaxBytesPerPartition,
    });
    this.consumer = consumer;
    consumer.onAssignment((a) => this.onAssignment(a));
    consumer.onCrash((e, restarting) => {
      logger.error("consumer crashed", { error: e.message, restarting });
      if (!restarting && !this.stopping) this.consumerFailed = e.message;
    });
    await consumer.run((batch, ctx) => this.handle(batch, ctx));

    this.timers.push(
      setInterval(() => {
        for (const ps of this.owned()) {
          if (ps.blocked.size === 0) continue;
          void ps.lock.run(() =>
            ps.revoked ? undefined : this.transfers.expireBlocked(ps, Date.now(), config.window.fundsWaitMs),
          );
        }
      }, 1000),
    );
    const flushEvery = Math.max(20, Math.min(250, config.state.flushIntervalMs / 2));
    this.timers.push(setInterval(() => void this.flushDue(false), flushEvery));
    this.timers.push(
      setInterval(() => {
        if (this.ticking || this.stopping) return;
        this.ticking = true;
        this.operator
          .tick()
          .catch((e) => logger.warn("operator tick failed", { error: messageOf(e) }))
          .finally(() => (this.ticking = false));
      }, 200),
    );
    if (config.http.enabled) {
      this.http = await startHttpApi(
        {
          nodeId: config.nodeId,
          domain: this.domain,
          registry: this.registry,
          metrics,
          logger,
          locate: (id) => this.view(id),
          health: () => this.health(),
          signerFor: (onchain, prefer) => this.operator.signerFor(onchain, prefer),
        },
        config.http.host,
        config.http.port,
      );
      logger.info("http api listening", { url: this.http.url });
    }
    logger.info("node running", { partitions: this.partitionCount, channelsOnChain: this.registry.size });
  }

  private declareMetrics(): void {
    const m = this.metrics;
    m.declare(M.applied, "Transfers applied to channel state", "counter");
    m.declare(M.duplicateApply, "Transfers applied out of sequence (must stay 0)", "counter");
    m.declare(M.rejected, "Transfers rejected, by reason", "counter");
    m.declare(M.commits, "Commits by kind and outcome", "counter", { kind: "checkpoint", status: "applied" });
    m.declare(M.commits, "Commits by kind and outcome", "counter", { kind: "head", status: "applied" });
    m.declare(M.gas, "Gas used by the node's transactions, by kind", "counter", { kind: "checkpointBatch" });
    m.declare(M.txs, "Transactions mined, by kind and status", "counter");
    m.rate(M.tps, "Transfers applied per second (10 s window)", M.applied);
    m.collect(() => {
      let channels = 0;
      let pending = 0;
      for (const ps of this.owned()) {
        channels += ps.channels.size;
        for (const ch of ps.channels.values())
          pending += ch.payers[0].pending.size + ch.payers[1].pending.size;
      }
      m.set(M.channels, "Channels whose state this node holds", channels);
      m.set(M.pending, "Transfers waiting in reorder windows", pending);
      const mem = process.memoryUsage();
      m.set(M.rss, "Resident memory of the node process (bytes)", mem.rss);
      m.set("nodejs_heap_used_bytes", "V8 heap in use, main thread (bytes)", mem.heapUsed);
      m.set("nodejs_external_bytes", "Memory of Buffers and other external objects (bytes)", mem.external);
      let total = 0;
      for (const [key, lag] of this.lag) {
        const [topic, partition] = key.split("/");
        m.set(M.lag, "Consumer lag (records behind the partition end), by topic and partition", lag, {
          topic,
          partition,
        });
        total += lag;
      }
      m.set(`${M.lag}_total`, "Consumer lag summed over owned partitions", total);
    });
  }

  /** What `/health` reports. */
  health(): { ok: boolean } & Record<string, unknown> {
    const chainAge = this.registry.latestBlock;
    return {
      ok: this.consumerFailed === null && !this.stopping,
      nodeId: this.config.nodeId,
      problem: this.consumerFailed,
      domain: { chainId: this.domain.chainId.toString(), verifyingContract: this.domain.verifyingContract },
      partitions: this.owned().map((p) => p.partition),
      channelsHeld: this.owned().reduce((n, p) => n + p.channels.size, 0),
      channelsOnChain: this.registry.size,
      chainBlock: chainAge,
      submitter: this.submitter?.address ?? null,
      signerKeys: [...this.signers.values()].map((s) => s.address),
      applied: this.metrics.total(M.applied),
      rejected: this.metrics.total(M.rejected),
      lag: [...this.lag.values()].reduce((a, b) => a + b, 0),
    };
  }

  /** Flushes every partition now (tests and shutdown). */
  async flush(): Promise<void> {
    await this.flushDue(true);
  }

  /** Stops consuming, makes the state durable, and releases everything. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    for (const w of this.queueWaiters.splice(0)) w();
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    this.registry.stop();
    await this.signer?.stop().catch(() => undefined);
    // Flush while still a group member (so offsets commit), then leave and flush what came in between.
    await this.flushDue(true);
    await this.consumer?.stop().catch(() => undefined);
    await this.flushDue(true);
    await this.operator.stop();
    for (const ps of this.partitions.values()) await ps.lock.run(() => ps.close());
    this.partitions.clear();
    await this.http?.close();
    await this.pool.close().catch(() => undefined);
    await this.producer.close().catch(() => undefined);
    await this.client.close().catch(() => undefined);
    this.rpc.close();
    this.logger.info("node stopped");
  }
}
