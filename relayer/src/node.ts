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
import { ConfigError, FencedError, WriterStuckError, messageOf } from "./errors";
import { HealthMonitor } from "./health";
import { M, Metrics } from "./http/metrics";
import { graphReader } from "./http/graph";
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
import { shouldRejoin } from "./kafka/assignment";
import { channelPartition, consumedTopics, prepareTopics } from "./kafka/topics";
import { createLogger, type Logger } from "./log";
import { checkMediationPolicy } from "./mediate/forward";
import { NodeMediation } from "./mediate/wiring";
import { awaitsFlush } from "./mediate/entry";
import { RequestPipeline } from "./pipeline/requests";
import { TransferPipeline } from "./pipeline/transfers";
import { ChannelState } from "./state/channel";
import { PartitionState, type FaultPoint, type FlushMode } from "./state/partition";
import { CheckpointSigner, signerGroupId } from "./signer/signer";

export interface NodeOptions {
  readonly logger?: Logger;
  /** Called once when the node cannot go on (its health says why); the CLI exits non-zero. */
  readonly onFatal?: (reason: string) => void;
  /** Test-only: called at fault points (a test's hook may kill the process there). */
  readonly fault?: (point: FaultPoint) => void | Promise<void>;
}

const ZERO_ADDRESS = "0x0000000000000000000000000000000000000000" as Address;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
/** Fetched records a node holds before it stops taking more (a few batches: enough to keep the pool busy). */
const MAX_QUEUED_RECORDS = 20000;
/** And their bytes: records near the broker's 1 MB limit must not pile up gigabytes. */
const MAX_QUEUED_BYTES = 64 << 20;
/** Consecutive failed flushes of a partition (about a minute of doubling delays) before the node fails. */
const MAX_FLUSH_FAILURES = 10;
/** A restore that fails on a Kafka error (a broker restarting, no coordinator yet) is tried this often. */
const MAX_RESTORE_ATTEMPTS = 8;
/** The mediator's periodic round (input wakes it at once; this catches time-driven steps). */
const MEDIATION_TICK_MS = 200;
/**
 * How long a mediated channel's change that no payer waits on (an op seen applied, a peer message, the
 * node's own transfer) may wait for a flush it shares with others (`journalDue`).
 */
const LAZY_JOURNAL_MS = 50;
/** How often a mediator compares the partitions it needs together with what the group gave it. */
const COLOCATION_CHECK_MS = 2_000;
/** The least time between two rejoins for the mediator's claim (each one moves every partition). */
const MIN_REJOIN_INTERVAL_MS = 30_000;

export class ParsecNode {
  private readonly partitions = new Map<number, PartitionState>();
  private consumer: GroupConsumer | null = null;
  private signer: CheckpointSigner | null = null;
  private http: HttpApi | null = null;
  private timers: NodeJS.Timeout[] = [];
  private ticking = false;
  private stopping = false;
  private consumerFailed: string | null = null;
  private monitor!: HealthMonitor;
  /** Batches handed to `handle` so far (see `PartitionState.acceptAfterDelivery`). */
  private deliveries = 0;
  /** Assignments seen so far; a fenced partition is taken back only if no newer one came. */
  private assignments = 0;
  /** Records fetched and not processed yet, and handlers waiting for room. */
  private queued = 0;
  private queuedBytes = 0;
  private queueWaiters: (() => void)[] = [];
  private transfers!: TransferPipeline;
  private requests!: RequestPipeline;
  private operator!: Operator;
  /** Routed-payment forwarding (`mediation.enabled`); null when off. */
  private mediation: NodeMediation | null = null;
  private partitionCount = 0;
  /** A mediation round is running; another was asked for meanwhile. */
  private mediating = false;
  private mediateAgain = false;
  /** The wake-up set for journal changes waiting to share a flush (`journalDue`). */
  private lazyWake: ReturnType<typeof setTimeout> | null = null;
  /** When the node last left and joined the group for its mediation claim. */
  private rejoinedAtMs = 0;

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
    const registry = new ChainRegistry(rpc, domain.verifyingContract, config.chain.startBlock, logger, {
      confirmations: config.chain.confirmations,
      metrics,
    });
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
      const onMined = (): void => void options.fault?.("after-chain-tx");
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

  private hashWires = async (wires: readonly Buffer[]): Promise<(Hash | null)[]> => {
    const { codes, hashes } = await this.pool.verifyBatch(wires);
    return wires.map((_, i) =>
      codes[i] === 0
        ? (`0x${Buffer.from(hashes.subarray(32 * i, 32 * i + 32)).toString("hex")}` as Hash)
        : null,
    );
  };

  /** The transactional id of a partition's writer: one per group, changelog and partition. */
  private writerId(p: number): string {
    const k = this.config.kafka;
    return `${k.groupId}.${k.topics.stateChangelog}.${p}`;
  }

  /**
   * Every assignment (a new group generation) re-acquires each partition it lists, kept ones too: the
   * node cannot tell whether another member held a partition in between (it may have been stalled past
   * its session timeout), so it flushes what it has (refused if it was fenced), drops the state, fences
   * any other writer, restores from the changelog and seeks to the restored progress.
   */
  private onAssignment(a: Assignment): void {
    this.assignments++;
    const mine = new Set(a.get(this.config.kafka.topics.transfers) ?? []);
    const released = new Map<number, Promise<void>>();
    for (const [p, ps] of this.partitions)
      released.set(p, this.release(ps, mine.has(p) ? "reassigned" : "revoked"));
    for (const p of mine) this.acquire(p, released.get(p));
    this.metrics.set(M.partitions, "Partitions of the transfer topic this node holds", mine.size);
  }

  /**
   * Stops using `ps`: a last flush (refused when fenced), then its local file and writer are released.
   * The returned promise settles when they are (a new state for the partition must wait for it).
   */
  private release(
    ps: PartitionState,
    why: "revoked" | "reassigned" | "fenced" | "unrestored" | "stuck",
  ): Promise<void> {
    if (this.partitions.get(ps.partition) === ps) this.partitions.delete(ps.partition);
    const wasLive = !ps.revoked;
    ps.revoked = true;
    if (why === "revoked") this.logger.info("partition revoked", { partition: ps.partition });
    return ps.lock.run(async () => {
      // A fenced state may not write, a stuck writer cannot; a failed restore has nothing of its own.
      if (wasLive && (why === "revoked" || why === "reassigned")) {
        await ps.flush().catch((e) => {
          if (e instanceof FencedError) this.countFenced();
          this.logger.info("last flush of a released partition refused", {
            partition: ps.partition,
            error: messageOf(e),
          });
        });
      }
      await ps.close().catch(() => undefined);
    });
  }

  /**
   * Opens the partition's writer (fencing any earlier owner), restores it, and seeks its input; starts
   * once `released` (the node's previous state of the partition) has let go of the local file. A restore
   * that fails on a Kafka error is retried with a doubling delay while the partition stays ours (right
   * after a broker restart the transaction coordinator may not be found yet); after
   * `MAX_RESTORE_ATTEMPTS` the node fails with the reason.
   */
  private acquire(p: number, released?: Promise<void>, attempt = 1): void {
    const ps = new PartitionState(p, {
      config: this.config,
      client: this.client,
      logger: this.logger,
      metrics: this.metrics,
      hashWires: this.hashWires,
      fault: this.options.fault,
    });
    this.partitions.set(p, ps);
    void ps.lock
      .run(async () => {
        await released;
        if (ps.revoked) return false;
        this.options.fault?.("before-restore");
        const fault = this.options.fault;
        ps.attach(
          await this.client.partitionWriter(
            this.writerId(p),
            fault ? { beforeCommit: () => fault("before-transaction-commit") } : {},
          ),
        );
        await ps.restore();
        this.transfers.readmit(ps);
        // Whatever was fetched before this point came from a position the restore did not choose.
        ps.acceptAfterDelivery = this.deliveries;
        const t = this.config.kafka.topics;
        const next: [string, number][] = [
          [t.transfers, ps.progress.transfers + 1],
          [t.control, ps.progress.control + 1],
          [t.checkpointSignatures, ps.progress.signatures + 1],
          [t.paymentMessages, ps.progress.payments + 1],
        ];
        for (const [topic, offset] of next) this.consumer?.seek(topic, p, offset);
        return !ps.revoked;
      })
      .then((restored) => {
        if (restored) this.operator.noteRestored(ps);
      })
      .catch((e) => {
        // A stop while restoring ends the restore (the consumer is gone); the next owner restores it.
        if (ps.revoked || this.stopping) return;
        if (e instanceof FencedError) return this.fenced(ps, e);
        if (attempt >= MAX_RESTORE_ATTEMPTS)
          return this.fail(`restoring partition ${p} failed ${attempt} times: ${messageOf(e)}`);
        this.logger.warn("restoring a partition failed; retrying", {
          partition: p,
          attempt,
          error: messageOf(e),
        });
        const releasing = this.release(ps, "unrestored");
        const seen = this.assignments;
        const retry = setTimeout(
          () => {
            this.timers = this.timers.filter((t) => t !== retry);
            // A newer assignment acquires the partition itself (or no longer lists it).
            if (this.stopping || this.assignments !== seen || this.partitions.has(p)) return;
            this.acquire(p, releasing, attempt + 1);
          },
          Math.min(10_000, 250 * 2 ** attempt),
        );
        this.timers.push(retry);
      });
  }

  /** The partitions of the channels the node mediates between, which the group keeps on one member. */
  private mediatedPartitions(): number[] {
    const ids = this.mediation?.mediatedChannels() ?? [];
    return [...new Set(ids.map((id) => channelPartition(id, this.partitionCount)))].sort((a, b) => a - b);
  }

  /**
   * Joins the group again when a channel opened since the last join split the mediated partitions
   * between members (`shouldRejoin`): a forward onto the other member's channel would wait, then fail.
   */
  private checkColocation(): void {
    const consumer = this.consumer;
    if (!consumer || this.stopping || Date.now() - this.rejoinedAtMs < MIN_REJOIN_INTERVAL_MS) return;
    const held = consumer.assignment().get(this.config.kafka.topics.transfers) ?? [];
    const wanted = this.mediatedPartitions();
    if (!shouldRejoin(wanted, consumer.claimed(), held)) return;
    this.rejoinedAtMs = Date.now();
    this.metrics.inc(
      M.rejoins,
      "Times the node left and joined its group to keep its mediated channels together",
    );
    this.logger.info("joining the group again to keep the mediated channels together", {
      wanted,
      held,
      claimed: consumer.claimed(),
    });
    consumer.rejoin().catch((e) => {
      if (!this.stopping) this.fail(`joining the consumer group again failed: ${messageOf(e)}`);
    });
  }

  /** Whether the group's current assignment gives this node partition `p`. */
  private assigned(p: number): boolean {
    return (this.consumer?.assignment().get(this.config.kafka.topics.transfers) ?? []).includes(p);
  }

  private countFenced(): void {
    this.metrics.inc(M.fenced, "Partitions dropped because another node took over their writer");
  }

  /**
   * The partition's writer cannot end its transaction: drop the unflushed state (its input is read again
   * from the committed offsets) and acquire the partition again with a new writer, if it is still ours.
   */
  private reopen(ps: PartitionState, e: WriterStuckError): void {
    if (ps.revoked) return;
    this.metrics.inc(M.writersReopened, "Partition writers opened again after a transaction could not end");
    this.logger.warn("the partition's writer is stuck; acquiring the partition again", {
      partition: ps.partition,
      error: e.message,
    });
    const releasing = this.release(ps, "stuck");
    if (!this.stopping && this.assigned(ps.partition)) this.acquire(ps.partition, releasing);
  }

  /**
   * Another node opened this partition's writer after us: drop the state. If the partition is still
   * ours after a few heartbeats without a newer assignment, the fencer was the stale one (it acquired
   * late): take the partition back.
   */
  private fenced(ps: PartitionState, e: FencedError): void {
    if (ps.revoked) return;
    this.countFenced();
    this.logger.warn("partition taken over by another node; its state is dropped", {
      partition: ps.partition,
      error: e.message,
    });
    const releasing = this.release(ps, "fenced");
    const seen = this.assignments;
    const retake = setTimeout(() => {
      this.timers = this.timers.filter((t) => t !== retake);
      if (this.stopping || this.assignments !== seen || this.partitions.has(ps.partition)) return;
      if (this.assigned(ps.partition)) this.acquire(ps.partition, releasing);
    }, 3 * this.config.kafka.heartbeatIntervalMs);
    this.timers.push(retake);
  }

  /**
   * Takes a fetched batch: transfers start verifying at once, then the batch waits for its turn on
   * the partition. Returns as soon as it is queued, so kafkajs fetches the next data (its fetcher
   * waits for every handler of a fetch before fetching again) while the pool and the main thread work;
   * only a full queue makes it wait. Offsets are committed by flushes, never by this.
   */
  private async handle(batch: PartitionBatch, ctx: BatchContext): Promise<void> {
    const delivery = ++this.deliveries;
    this.monitor.noteEnd(batch.topic, batch.partition, batch.highWatermark);
    const ps = this.partitions.get(batch.partition);
    // A batch fetched before the partition's restore and seek would be dropped: do not verify it.
    const restoring = ps !== undefined && ps.acceptAfterDelivery === Number.MAX_SAFE_INTEGER;
    if (!ps || restoring || batch.records.length === 0 || ctx.isStale()) return;
    while ((this.queued >= MAX_QUEUED_RECORDS || this.queuedBytes >= MAX_QUEUED_BYTES) && !this.stopping) {
      // Waiting for room can take a while (a partition restoring): stay a member of the group.
      await Promise.race([new Promise<void>((r) => this.queueWaiters.push(r)), sleep(1000)]);
      await ctx.heartbeat().catch(() => undefined);
    }
    const n = batch.records.length;
    let bytes = 0;
    for (const r of batch.records) bytes += (r.value?.length ?? 0) + (r.key?.length ?? 0);
    this.queued += n;
    this.queuedBytes += bytes;
    const t = this.config.kafka.topics;
    const topicKey =
      batch.topic === t.transfers
        ? "transfers"
        : batch.topic === t.control
          ? "control"
          : batch.topic === t.paymentMessages
            ? "payments"
            : "signatures";
    // Transfers start verifying at once, while the batch waits for its turn on the partition.
    const prepared = topicKey === "transfers" ? this.transfers.prepare(batch.records) : null;
    const done = (): void => {
      this.queued -= n;
      this.queuedBytes -= bytes;
      for (const w of this.queueWaiters.splice(0)) w();
    };
    void ps.lock
      .run(async () => {
        if (ps.revoked || delivery <= ps.acceptAfterDelivery) return;
        // A re-fetch after a seek may overlap what was processed: input is applied once, in offset order.
        const done = ps.progress[topicKey];
        const whole = batch.records[0].offset > done;
        const records = whole ? batch.records : batch.records.filter((r) => r.offset > done);
        if (records.length === 0) return;
        if (prepared) {
          await this.transfers.process(ps, records, whole ? prepared : this.transfers.prepare(records));
        } else if (batch.topic === t.control) await this.requests.processControl(ps, records);
        else if (topicKey === "payments") {
          // Without mediation the topic is only read past (its offsets still commit).
          this.mediation?.processMessages(ps, records);
          ps.progress.payments = Math.max(ps.progress.payments, records[records.length - 1].offset);
        } else if (batch.topic === t.checkpointSignatures) await this.requests.processSignatures(ps, records);
        // A routed LOCK, an UNLOCK or a peer message may be what a payment waits for.
        if (topicKey === "transfers" || topicKey === "payments") this.wakeMediation();
        // A flush that failed is retried by flushDue with its backoff, not on every batch.
        if (ps.dirty.size >= this.config.state.flushMaxDirty && ps.flushFailures === 0) {
          await ps.flush().catch((e) => {
            if (e instanceof FencedError || e instanceof WriterStuckError) throw e;
            ps.flushFailures = 1;
            ps.retryFlushAtMs = Date.now() + 500;
            this.logger.warn("flush failed; retrying", { partition: ps.partition, error: messageOf(e) });
          });
        }
      })
      .catch((e) => {
        if (e instanceof FencedError) return this.fenced(ps, e);
        if (e instanceof WriterStuckError) return this.reopen(ps, e);
        // Unprocessed input would be skipped by this consumer session: stop, so a restart replays it.
        this.logger.error("processing a batch failed; the node stops to replay it after a restart", {
          partition: batch.partition,
          topic: batch.topic,
          error: messageOf(e),
        });
        this.fail(`processing ${batch.topic}/${batch.partition} failed: ${messageOf(e)}`);
      })
      .finally(done);
  }

  /**
   * Flushes partitions whose interval is up (all when `force`). A failed flush keeps the state dirty
   * and is retried with a doubling delay; after `MAX_FLUSH_FAILURES` in a row the node fails with the
   * reason (a supervisor restarts it and the restore replays from the last commit). A fenced flush
   * drops the partition.
   */
  private async flushDue(force: boolean): Promise<void> {
    const now = Date.now();
    await Promise.all(
      this.owned().map((ps) => {
        if (!ps.needsFlush || (!force && now - ps.lastFlushMs < this.config.state.flushIntervalMs))
          return undefined;
        if (!force && now < ps.retryFlushAtMs) return undefined;
        return this.flushOne(ps);
      }),
    );
  }

  /** Flushes one partition now, with the failure handling `flushDue` describes. */
  private flushOne(ps: PartitionState, mode: FlushMode = "full"): Promise<void> {
    return ps.lock
      .run(() => (ps.revoked ? undefined : ps.flush(mode)))
      .then(() => {
        ps.flushFailures = 0;
      })
      .catch((e) => {
        if (e instanceof FencedError) return this.fenced(ps, e);
        if (e instanceof WriterStuckError) return this.reopen(ps, e);
        ps.flushFailures++;
        ps.retryFlushAtMs = Date.now() + Math.min(30_000, 250 * 2 ** ps.flushFailures);
        const fields = { partition: ps.partition, attempt: ps.flushFailures, error: messageOf(e) };
        if (ps.flushFailures < MAX_FLUSH_FAILURES) return this.logger.warn("flush failed; retrying", fields);
        this.fail(`flushing partition ${ps.partition} failed ${ps.flushFailures} times: ${messageOf(e)}`);
      });
  }

  /**
   * Whether a change of `ch` holds up a routed payment: the node holds a participant key of the channel,
   * so the mediator's next step waits for a flush that journals it (a payment entry, its own transfer
   * applied, a peer message).
   */
  private mediates(ch: Hash): boolean {
    const onchain = this.registry.get(ch);
    return onchain !== undefined && onchain.participantsLower.some((p) => this.signers.has(p));
  }

  /**
   * Runs the mediator now (coalesced: one run at a time; a request during a run makes it go once more).
   * A round steps every payment, then flushes at once each partition whose dirty channels a payment
   * waits on (while the round's sends go out), then steps again: an action waits for a Kafka commit, not
   * for `state.flushIntervalMs`. Journal before sign is kept: the service acts only on entries a flush
   * made durable, and a send's outcome is journaled after it, for the next round's flush.
   */
  private wakeMediation(): void {
    if (!this.mediation || this.stopping) return;
    if (this.mediating) {
      this.mediateAgain = true;
      return;
    }
    this.mediating = true;
    const mediation = this.mediation;
    void (async () => {
      try {
        do {
          this.mediateAgain = false;
          // The round's journal is flushed while its sends (of what earlier flushes made durable) go out.
          const journaled = await mediation.tick(async () => {
            const now = Date.now();
            const urgent = this.owned().filter((ps) => ps.flushFailures === 0 && this.journalDue(ps, now));
            const before = urgent.map((ps) => ps.lastFlushMs);
            await Promise.all(urgent.map((ps) => this.flushOne(ps, "journal")));
            // What a flush made durable may be acted on now (a partition still restoring does not flush).
            if (urgent.some((ps, i) => ps.lastFlushMs !== before[i])) this.mediateAgain = true;
          });
          // What the sends achieved is journaled now: one more round flushes it.
          if (journaled) this.mediateAgain = true;
        } while (this.mediateAgain && !this.stopping);
      } catch (e) {
        this.logger.warn("mediation tick failed", { error: messageOf(e) });
      } finally {
        this.mediating = false;
      }
    })();
  }

  /**
   * Whether to flush a partition's dirty mediated channels in this round: at once when a payer waits on
   * one of their payment changes (`awaitsFlush`: an op to sign, a failure to send upstream); the rest
   * (ops seen applied, inboxes, the node's own transfers) once `LAZY_JOURNAL_MS` passed since the
   * partition's last flush, so that under load many payments share one transaction. A timer brings
   * the mediator back for what waits.
   */
  private journalDue(ps: PartitionState, now: number): boolean {
    let lazy = false;
    for (const id of ps.dirty) {
      if (!this.mediates(id)) continue;
      lazy = true;
      const ch = ps.channels.get(id);
      if (!ch) continue;
      for (const key of ch.changedPayments) {
        const e = ch.payments.get(key);
        if (e && awaitsFlush(e, ch.durablePayments.get(key))) return true;
      }
    }
    if (!lazy) return false;
    const wait = ps.lastFlushMs + LAZY_JOURNAL_MS - now;
    if (wait <= 0) return true;
    this.wakeMediationIn(wait);
    return false;
  }

  /** Runs the mediator in `ms` (once: an earlier wake-up already set stands). */
  private wakeMediationIn(ms: number): void {
    if (this.lazyWake !== null || this.stopping) return;
    this.lazyWake = setTimeout(() => {
      this.lazyWake = null;
      this.wakeMediation();
    }, ms);
  }

  /** The node cannot go on: health reports why and `options.onFatal` (the CLI exits) is told. */
  private fail(reason: string): void {
    // Once stopping, whatever fails is part of the stop (bounded by stopTimeoutMs), not a fatal error.
    if (this.consumerFailed !== null || this.stopping) return;
    this.consumerFailed = reason;
    this.logger.error("the node stops working", { reason });
    this.options.onFatal?.(reason);
  }

  /** Fetches end offsets for the lag and health checks (a stalled partition receives no batches). */
  private async pollEnds(): Promise<void> {
    for (const topic of consumedTopics(this.config.kafka.topics)) {
      const ends = await this.client.endOffsets(topic);
      for (const [p, end] of ends) this.monitor.noteEnd(topic, p, end);
    }
  }

  private async run(): Promise<void> {
    const { config, logger, metrics } = this;
    this.monitor = new HealthMonitor(config.health, config.kafka.topics);
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
      domain: this.domain,
      verifier: this.pool,
      metrics,
      everyM: config.commit.everyM,
      maxAppDataBytes: config.input.maxAppDataBytes,
      maxRecordBytes: config.kafka.maxRecordBytes,
      onEquivocation: (onchain, proof) => this.operator.proveEquivocation(onchain, proof),
      onApplied: (ps, ch, onchain, item) => this.mediation?.onApplied(ps, ch, onchain, item),
    });
    if (config.mediation.enabled) this.mediation = this.startMediation();
    this.requests = new RequestPipeline({
      domain: this.domain,
      registry: this.registry,
      operator: this.operator,
      metrics,
      maxRecordBytes: config.kafka.maxRecordBytes,
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
      colocate: this.mediation ? () => this.mediatedPartitions() : undefined,
      fromBeginning: true,
      concurrency: this.partitionCount * 3,
      maxBytesPerPartition: config.kafka.fetchMaxBytesPerPartition,
    });
    this.consumer = consumer;
    consumer.onAssignment((a) => this.onAssignment(a));
    consumer.onCrash((e, restarting) => {
      logger.error("consumer crashed", { error: e.message, restarting });
      if (!restarting && !this.stopping) this.fail(`the Kafka consumer crashed: ${e.message}`);
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
    this.timers.push(
      setInterval(() => this.monitor.observe(this.owned(), this.registry.syncedAtMs), 1000),
      setInterval(() => {
        this.pollEnds().catch((e) => logger.debug("reading end offsets failed", { error: messageOf(e) }));
      }, 5000),
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
    // Besides the wake-ups on input, a periodic round sees what time alone changes (expiries, outcomes).
    if (this.mediation) this.timers.push(setInterval(() => this.wakeMediation(), MEDIATION_TICK_MS));
    if (this.mediation) this.timers.push(setInterval(() => this.checkColocation(), COLOCATION_CHECK_MS));
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
          payments: () => this.mediation?.report() ?? null,
          paymentsLog: config.http.paymentsApi
            ? {
                client: this.client,
                producer: this.producer,
                topics: config.kafka.topics,
                partitions: this.partitionCount,
                maxAppDataBytes: config.input.maxAppDataBytes,
              }
            : null,
          graph: config.http.paymentsApi
            ? graphReader({
                client: this.client,
                topic: config.kafka.topics.channelGraph,
                registry: this.registry,
                domain: this.domain,
                now: () => BigInt(Math.max(this.registry.latestTimestamp, Math.floor(Date.now() / 1000))),
              })
            : null,
        },
        config.http.host,
        config.http.port,
        { corsOrigins: config.http.corsOrigins, maxLongPolls: config.http.maxLongPolls },
      );
      logger.info("http api listening", { url: this.http.url });
    }
    logger.info("node running", { partitions: this.partitionCount, channelsOnChain: this.registry.size });
  }

  /** The mediator (protocol §11.5): its policy is checked here, with what to fix. */
  private startMediation(): NodeMediation {
    const { config } = this;
    const keys = new Map<string, Hex>();
    for (const key of config.signer.keys) keys.set(nativeSigner(key).address.toLowerCase(), key);
    const mediation = new NodeMediation({
      config,
      domain: this.domain,
      registry: this.registry,
      rpc: this.rpc,
      producer: this.producer,
      logger: this.logger,
      metrics: this.metrics,
      signers: this.signers,
      keys,
      actions: this.operator.actions,
      sender: (payee) => this.submitter ?? this.senders.get(payee.toLowerCase()) ?? null,
      // A partition still restoring shows a genesis state: never build a transfer on it.
      view: (id) => {
        const v = this.view(id);
        return v && v.ps.acceptAfterDelivery !== Number.MAX_SAFE_INTEGER ? v : null;
      },
      owned: () => this.owned(),
    });
    const problems = checkMediationPolicy(mediation.policy);
    if (problems.length > 0) {
      throw new ConfigError(
        problems.map((p) => ({ path: "mediation", problem: p, fix: "change the mediation section" })),
      );
    }
    if (this.signers.size === 0) {
      throw new ConfigError([
        {
          path: "mediation.enabled",
          problem: "is true but the node holds no participant key",
          fix: "set PARSEC_SIGNER_KEYS to the keys of the channels it forwards between",
        },
      ]);
    }
    this.logger.info("mediation on", {
      feeBase: config.mediation.feeBase.toString(),
      feePpm: config.mediation.feePpm,
      expiryDelta: config.mediation.expiryDelta,
    });
    return mediation;
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
      const channels = this.owned().reduce((n, ps) => n + ps.channels.size, 0);
      const health = this.monitor.summary();
      m.set(M.channels, "Channels whose state this node holds", channels);
      m.set(M.pending, "Transfers waiting in reorder windows for an earlier seq", health.waiting);
      m.set(
        M.windowOldest,
        "How long the oldest transfer in a reorder window has waited (s)",
        health.oldestWaitingMs / 1000,
      );
      m.set(M.stalled, "Partitions with records waiting and no progress for health.stallMs", health.stalled);
      const mem = process.memoryUsage();
      m.set(M.rss, "Resident memory of the node process (bytes)", mem.rss);
      m.set("nodejs_heap_used_bytes", "V8 heap in use, main thread (bytes)", mem.heapUsed);
      m.set("nodejs_external_bytes", "Memory of Buffers and other external objects (bytes)", mem.external);
      let total = 0;
      for (const { topic, partition, lag } of this.monitor.lag()) {
        m.set(
          M.lag,
          "Records not processed yet (end offset minus processed offset), by topic and partition",
          lag,
          {
            topic,
            partition: String(partition),
          },
        );
        total += lag;
      }
      m.set(`${M.lag}_total`, "Consumer lag summed over owned partitions", total);
    });
  }

  /** What `/health` reports. */
  health(): { ok: boolean } & Record<string, unknown> {
    const chainAge = this.registry.latestBlock;
    const problems = [
      ...(this.consumerFailed === null ? [] : [this.consumerFailed]),
      ...this.monitor.problems(),
    ];
    if (this.stopping) problems.push("stopping");
    const summary = this.monitor.summary();
    return {
      ok: problems.length === 0,
      nodeId: this.config.nodeId,
      problem: problems[0] ?? null,
      problems,
      domain: { chainId: this.domain.chainId.toString(), verifyingContract: this.domain.verifyingContract },
      partitions: this.owned().map((p) => p.partition),
      channelsHeld: this.owned().reduce((n, p) => n + p.channels.size, 0),
      channelsOnChain: this.registry.size,
      chainBlock: chainAge,
      chainConfirmedBlock: this.registry.confirmedBlock,
      submitter: this.submitter?.address ?? null,
      signerKeys: [...this.signers.values()].map((s) => s.address),
      applied: this.metrics.total(M.applied),
      rejected: this.metrics.total(M.rejected),
      lag: this.monitor.lag().reduce((n, l) => n + l.lag, 0),
      waitingInWindows: summary.waiting,
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
    if (this.lazyWake !== null) clearTimeout(this.lazyWake);
    this.lazyWake = null;
    this.registry.stop();
    await this.signer?.stop().catch(() => undefined);
    // Flush while still a group member (so offsets commit), then leave and flush what came in between.
    await this.flushDue(true);
    await this.consumer?.stop().catch(() => undefined);
    await this.flushDue(true);
    await this.operator.stop();
    for (const ps of this.partitions.values()) await ps.lock.run(() => ps.close().catch(() => undefined));
    this.partitions.clear();
    await this.http?.close();
    await this.pool.close().catch(() => undefined);
    await this.producer.close().catch(() => undefined);
    await this.client.close().catch(() => undefined);
    this.rpc.close();
    this.logger.info("node stopped");
  }
}
