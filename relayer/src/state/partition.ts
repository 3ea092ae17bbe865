/**
 * One owned partition: the channels whose messages land in it, the reorder window over their chains,
 * and the durable side of the state. `restore` rebuilds it from the local store plus whatever the
 * changelog gained since (written by this node or by a previous owner); `flush` makes everything
 * processed so far durable — dead letters, channel snapshots, the progress marker, the local copy —
 * and only then commits the consumer offsets. A crash at any point replays from the last committed
 * offset; snapshots and the progress marker tell which of the replayed inputs are already reflected.
 */
import path from "node:path";
import { type Hash, ReorderWindow, decodeVerifiedItem } from "../../../sdk";
import type { RelayerConfig } from "../config";
import { KafkaError, messageOf } from "../errors";
import type { CommitOffset, InRecord, LogClient, OutRecord, PartitionWriter } from "../kafka/client";
import { channelIdOfKey, channelKey } from "../kafka/topics";
import type { Logger } from "../log";
import { M, type Metrics } from "../http/metrics";
import { decodePaymentEntry, encodePaymentEntry, type PaymentEntry } from "../mediate/entry";
import { isTerminal } from "../mediate/log";
import { ChannelState, type HistoryEntry, type WindowItem } from "./channel";
import { loadStore, StoreWriter, type StoreMeta, type StoredValue } from "./local-store";
import {
  PROGRESS_KEY,
  encodeSnapshot,
  paymentChangelogKey,
  paymentOfChangelogKey,
  snapshotOf,
  stateCodecs,
  type ChannelSnapshot,
  type PartitionProgress,
} from "./snapshot";

/** Offsets processed per consumed topic (-1: nothing yet). */
export interface Progress {
  transfers: number;
  control: number;
  signatures: number;
  /** The payment-messages topic (mediation, protocol §11.5). */
  payments: number;
}

/** `full`: everything, consumer offsets included; `journal`: a mediator's flush (see `flush`). */
export type FlushMode = "full" | "journal";

/** Verifies wires and returns their transfer hashes (null where invalid). */
export type HashWires = (wires: readonly Buffer[]) => Promise<(Hash | null)[]>;

export interface PartitionDeps {
  readonly config: RelayerConfig;
  readonly client: LogClient;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly hashWires: HashWires;
  /** Test-only fault injection between the steps of a flush. */
  readonly fault?: (point: FaultPoint) => void;
}

/** Points where fault-injection tests may kill the node. */
export type FaultPoint =
  | "before-restore"
  | "after-verify"
  | "after-dead-letters"
  | "after-changelog"
  | "after-local-store"
  | "after-offset-commit"
  | "after-chain-tx"
  /** Inside a flush's Kafka transaction, right before its commit (awaited). */
  | "before-transaction-commit";

/** A simple FIFO mutex: partition work (batches, flushes, commits) runs one at a time. */
export class Mutex {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(fn: () => Promise<T> | T): Promise<T> {
    const next = this.tail.then(fn, fn);
    this.tail = next.catch(() => undefined);
    return next;
  }
}

const wireKey = (offset: number): string => `w/${offset}`;

function sameProgress(a: Progress | null, b: Progress): boolean {
  return (
    a !== null &&
    a.transfers === b.transfers &&
    a.control === b.control &&
    a.signatures === b.signatures &&
    a.payments === b.payments
  );
}
const channelStoreKey = (id: Hash): string => `c/${id}`;
/** A mediated payment in the local store: `m/<channel id>/<payment key>` (the id is 66 characters). */
const paymentStoreKey = (id: Hash, key: string): string => `m/${id}/${key}`;

/** Whether a payment's record is live in the changelog: journaled while in flight, dropped once finished. */
const journaled = (e: PaymentEntry | undefined): e is PaymentEntry =>
  e !== undefined && !isTerminal(e.record);

export class PartitionState {
  readonly channels = new Map<Hash, ChannelState>();
  readonly window: ReorderWindow<WindowItem>;
  readonly lock = new Mutex();
  /** Channels changed since the last flush. */
  readonly dirty = new Set<Hash>();
  /** Channels with transfers the chain does not hold yet. */
  readonly uncommitted = new Set<Hash>();
  /** Uncommitted channels to look at on every operator tick (due now, or a proposal is out). */
  readonly attention = new Set<Hash>();
  /** Channels with transfers blocked for funds. */
  readonly blocked = new Set<Hash>();
  /** Verified transfers of the restored state that were not applied yet; the pipeline re-admits them. */
  restoredWaiting: WindowItem[] = [];
  /** Everything up to these offsets is reflected in memory. */
  readonly progress: Progress = { transfers: -1, control: -1, signatures: -1, payments: -1 };
  /** Inputs up to these offsets were reflected before the restore: skip them when replayed. */
  skip: Progress = { transfers: -1, control: -1, signatures: -1, payments: -1 };
  private deadLetters: OutRecord[] = [];
  /** Bytes of transfers received since the last flush (entry: the history entry that will point at them). */
  private newWires = new Map<number, { readonly wire: Buffer; readonly entry: HistoryEntry | null }>();
  private droppedWires = new Set<number>();
  private flushedProgress: Progress = { transfers: -1, control: -1, signatures: -1, payments: -1 };
  /** The progress whose consumer offsets this state's own last flush committed (null: none yet). */
  private offsetsCommitted: Progress | null = null;
  private offsetsCommittedAtMs = 0;
  private writer: StoreWriter | null = null;
  /** The partition's transactional writer: open means this node owns the partition (see `attach`). */
  private owner: PartitionWriter | null = null;
  private changelogEnd = 0;
  lastFlushMs = Date.now();
  /** Flushes failed in a row, and when the next may be tried (the node backs off). */
  flushFailures = 0;
  retryFlushAtMs = 0;
  revoked = false;
  /**
   * Batches handed to the node up to this count were positioned before the restore's seek: drop them
   * (the seek fetches them again from the right offset).
   */
  acceptAfterDelivery = Number.MAX_SAFE_INTEGER;

  constructor(
    readonly partition: number,
    private readonly deps: PartitionDeps,
  ) {
    // The window's own history of emitted transfers is kept tiny: late copies are classified against
    // the node's history (see TransferPipeline.accept), and each remembered item is a full object.
    this.window = new ReorderWindow<WindowItem>({ capacity: deps.config.window.capacity, history: 1 });
  }

  private get storeFile(): string {
    const c = this.deps.config;
    return path.join(
      c.state.dir,
      c.kafka.groupId,
      c.kafka.topics.stateChangelog,
      `partition-${this.partition}.log`,
    );
  }

  /** Reads held transfer bytes back from the local store. */
  private readonly reader = (v: StoredValue): Buffer => {
    if (!this.writer) throw new Error(`partition ${this.partition} is closed`);
    return this.writer.read(v);
  };

  /** The channel's state, created empty on first use. */
  channel(id: Hash): ChannelState {
    let ch = this.channels.get(id);
    if (!ch) {
      ch = new ChannelState(id, this.reader);
      this.channels.set(id, ch);
    }
    return ch;
  }

  markDirty(ch: ChannelState): void {
    ch.updatedAtMs = Date.now();
    this.dirty.add(ch.channelId);
  }

  /**
   * Remembers a newly held transfer's bytes for the local store; once written there, the history
   * `entry` (if any) keeps only their place and the bytes leave memory.
   */
  holdWire(offset: number, wire: Buffer, entry: HistoryEntry | null = null): void {
    this.newWires.set(offset, { wire, entry });
    this.droppedWires.delete(offset);
  }

  /** Forgets held bytes (pruned or rejected). */
  dropWire(offset: number): void {
    if (!this.newWires.delete(offset)) this.droppedWires.add(offset);
  }

  deadLetter(record: OutRecord): void {
    this.deadLetters.push({ ...record, partition: this.partition });
  }

  get pendingDeadLetters(): number {
    return this.deadLetters.length;
  }

  /** Transfers held in the reorder windows (waiting for an earlier seq), and the lowest offset among them. */
  waiting(): { count: number; oldestOffset: number | null } {
    let count = 0;
    let oldestOffset: number | null = null;
    for (const ch of this.channels.values()) {
      for (const t of ch.payers) {
        if (t.pending.size === 0) continue;
        count += t.pending.size;
        for (const item of t.pending.values())
          if (oldestOffset === null || item.offset < oldestOffset) oldestOffset = item.offset;
      }
    }
    return { count, oldestOffset };
  }

  /** Whether the partition has anything a flush would write. */
  get needsFlush(): boolean {
    const p = this.progress;
    const f = this.flushedProgress;
    return (
      this.dirty.size > 0 ||
      this.deadLetters.length > 0 ||
      p.transfers !== f.transfers ||
      p.control !== f.control ||
      p.signatures !== f.signatures ||
      p.payments !== f.payments ||
      // A journal flush left the consumer offsets behind the changelog's progress.
      (this.offsetsCommitted !== null && !sameProgress(this.offsetsCommitted, f))
    );
  }

  /**
   * Takes ownership: `owner` was opened (fencing every earlier owner) before the restore reads the
   * changelog, so nothing an earlier owner writes can land after what the restore read.
   */
  attach(owner: PartitionWriter): void {
    this.owner = owner;
  }

  // ------------------------------------------------------------------ restore

  /** Rebuilds the partition from the local store and the changelog. */
  async restore(): Promise<void> {
    const { config, client, logger, metrics } = this.deps;
    const topics = config.kafka.topics;
    const started = Date.now();
    const local = loadStore(this.storeFile);
    this.writer = new StoreWriter(this.storeFile, local.size);
    const writer = this.writer;
    const snapshots = new Map<Hash, Buffer>();
    const stored = new Map<number, StoredValue>();
    let progress: PartitionProgress | null = null;
    // Each channel's payment records by payment key (null: a tombstone read after the record).
    const payments = new Map<Hash, Map<string, Buffer | null>>();
    const paymentRecord = (id: Hash, key: string, value: Buffer | null): void => {
      let m = payments.get(id);
      if (!m) payments.set(id, (m = new Map()));
      m.set(key, value);
    };
    for (const [k, v] of local.records) {
      if (k.startsWith("c/")) snapshots.set(k.slice(2) as Hash, writer.read(v));
      else if (k.startsWith("w/")) stored.set(Number(k.slice(2)), v);
      else if (k.startsWith("m/")) paymentRecord(k.slice(2, 68) as Hash, k.slice(69), writer.read(v));
      else if (k === "progress") progress = stateCodecs().progress.decode(writer.read(v));
    }
    const end = (await client.endOffsets(topics.stateChangelog)).get(this.partition) ?? 0;
    let from = local.meta?.changelogEnd ?? 0;
    let discarded = false;
    if (from > end) {
      discarded = true;
      logger.warn("local store is ahead of the changelog (topic recreated?): discarding it", {
        partition: this.partition,
      });
      snapshots.clear();
      stored.clear();
      payments.clear();
      progress = null;
      from = 0;
    }
    let fromChangelog = 0;
    await client.readPartition(
      topics.stateChangelog,
      this.partition,
      from,
      end,
      (records: readonly InRecord[]) => {
        for (const r of records) {
          fromChangelog++;
          if (r.key && r.key.equals(PROGRESS_KEY)) {
            if (r.value) progress = stateCodecs().progress.decode(r.value);
            continue;
          }
          const payment = paymentOfChangelogKey(r.key);
          if (payment) {
            paymentRecord(payment.channelId, payment.key, r.value);
            continue;
          }
          const id = channelIdOfKey(r.key);
          if (!id) continue;
          if (r.value === null) snapshots.delete(id);
          else snapshots.set(id, r.value);
        }
      },
    );
    metrics.inc(M.restoreRead, "Records read while restoring state", { source: "local" }, local.records.size);
    metrics.inc(M.restoreRead, "Records read while restoring state", { source: "changelog" }, fromChangelog);

    const decoded: ChannelSnapshot[] = [];
    const needed = new Set<number>();
    for (const [id, bytes] of snapshots) {
      try {
        const s = stateCodecs().snapshot.decode(bytes);
        decoded.push(s);
        for (const p of s.payers) {
          for (const h of p.history) if (!stored.has(h.offset)) needed.add(h.offset);
          for (const q of p.pending) if (!stored.has(q.offset)) needed.add(q.offset);
        }
      } catch (e) {
        logger.error("unreadable channel snapshot; the channel restarts from the transfers", {
          channelId: id,
          error: messageOf(e),
        });
      }
    }
    const fetched = await this.fetchTransfers([...needed].sort((a, b) => a - b));
    metrics.inc(M.restoreRead, "Records read while restoring state", { source: "transfers" }, fetched.size);
    const wireAt = (o: number): Buffer | null =>
      fetched.get(o) ?? (stored.has(o) ? writer.read(stored.get(o) as StoredValue) : null);

    // Pending transfers need their hash again (only order is checked in the window): re-verify them.
    const pendingOffsets = decoded.flatMap((s) => s.payers.flatMap((p) => p.pending.map((q) => q.offset)));
    const pendingWires = pendingOffsets.map(wireAt);
    const present = pendingOffsets.filter((_, i) => pendingWires[i] !== null);
    const pendingHashes = await this.deps.hashWires(pendingWires.filter((w): w is Buffer => w !== null));
    const hashOf = new Map(present.map((o, i) => [o, pendingHashes[i]]));

    for (const s of decoded) {
      this.install(s, stored, fetched, wireAt, hashOf);
      this.channels.get(s.channelId)?.restoreMediation(s.mediation, this.readPayments(s.channelId, payments));
    }
    if (progress !== null) {
      const p: PartitionProgress = progress;
      this.skip = {
        transfers: p.transfers,
        control: p.control,
        signatures: p.signatures,
        payments: p.payments,
      };
    }
    Object.assign(this.progress, this.skip);
    this.flushedProgress = { ...this.skip };
    this.changelogEnd = end;

    // When the state came (partly) from elsewhere, start a fresh local file holding exactly it.
    if (discarded || fromChangelog > 0 || fetched.size > 0 || local.meta === null) this.rewriteStore(-1);
    metrics.inc(M.restored, "Channels restored from the local store and the changelog", {}, decoded.length);
    logger.info("partition restored", {
      partition: this.partition,
      channels: decoded.length,
      fromLocal: local.records.size,
      fromChangelog,
      fetchedTransfers: fetched.size,
      skipTo: this.skip,
      ms: Date.now() - started,
    });
  }

  /** Reads the given offsets of the transfers partition (in ranges, skipping large gaps). */
  private async fetchTransfers(offsets: readonly number[]): Promise<Map<number, Buffer>> {
    const out = new Map<number, Buffer>();
    if (offsets.length === 0) return out;
    const want = new Set(offsets);
    const topic = this.deps.config.kafka.topics.transfers;
    let i = 0;
    while (i < offsets.length) {
      let j = i;
      while (j + 1 < offsets.length && offsets[j + 1] - offsets[j] < 5000) j++;
      await this.deps.client.readPartition(topic, this.partition, offsets[i], offsets[j] + 1, (records) => {
        for (const r of records) if (want.has(r.offset) && r.value) out.set(r.offset, Buffer.from(r.value));
      });
      i = j + 1;
    }
    const missing = offsets.filter((o) => !out.has(o));
    if (missing.length > 0) {
      this.deps.logger.error(
        "transfers referenced by the state are gone from the transfers topic (retention?)",
        {
          partition: this.partition,
          missing: missing.length,
          first: missing[0],
        },
      );
    }
    return out;
  }

  /** A channel's payment records as restored (an unreadable one is logged and left out). */
  private readPayments(
    id: Hash,
    all: ReadonlyMap<Hash, ReadonlyMap<string, Buffer | null>>,
  ): Map<string, PaymentEntry> {
    const out = new Map<string, PaymentEntry>();
    for (const [key, value] of all.get(id) ?? []) {
      if (value === null) continue;
      try {
        out.set(key, decodePaymentEntry(value));
      } catch (e) {
        this.deps.logger.error("unreadable payment record; the payment is not resumed", {
          channelId: id,
          payment: key,
          error: messageOf(e),
        });
      }
    }
    return out;
  }

  private install(
    s: ChannelSnapshot,
    stored: Map<number, StoredValue>,
    fetched: Map<number, Buffer>,
    wireAt: (offset: number) => Buffer | null,
    hashOf: Map<number, Hash | null>,
  ): void {
    const ch = this.channel(s.channelId);
    for (const payer of [0, 1] as const) {
      const p = s.payers[payer];
      const t = ch.payers[payer];
      t.state = p.state;
      t.baseSeq = p.baseSeq;
      t.baseLocks = p.baseLocks;
      t.history = p.history.map((h): HistoryEntry => ({
        seq: h.seq,
        offset: h.offset,
        hash: h.seq === p.state.seq ? p.state.head : null,
        wire: fetched.get(h.offset) ?? null,
        pos: stored.get(h.offset)?.pos ?? -1,
        len: stored.get(h.offset)?.len ?? 0,
      }));
      this.window.resume(s.channelId, payer, p.state.seq, p.state.head);
      for (const q of p.pending) {
        const wire = wireAt(q.offset);
        const hash = hashOf.get(q.offset);
        if (!wire || !hash) continue;
        this.restoredWaiting.push(decodeVerifiedItem(wire, hash, q.offset).item);
      }
    }
    ch.lastTransferOffset = s.lastTransferOffset;
    ch.lastControlOffset = s.lastControlOffset;
    ch.lastSignatureOffset = s.lastSignatureOffset;
    ch.uncommittedSinceMs = s.uncommittedSinceMs;
    ch.commitDue = s.commitDue;
    ch.proposal = s.proposal && { ...s.proposal };
    ch.checkpoint = s.checkpoint;
    ch.control = s.control;
    ch.updatedAtMs = s.updatedAtMs;
    if (ch.uncommittedSinceMs > 0 || ch.commitDue) this.uncommitted.add(ch.channelId);
    if (ch.commitDue || ch.proposal) this.attention.add(ch.channelId);
  }

  // ------------------------------------------------------------------ flush

  private meta(changelogOffset: number): StoreMeta {
    return {
      changelogOffset,
      changelogEnd: this.changelogEnd,
      writer: this.deps.config.nodeId,
      atMs: Date.now(),
    };
  }

  private progressRecord(): Buffer {
    return stateCodecs().progress.encode({
      ...this.progress,
      writer: this.deps.config.nodeId,
      atMs: Date.now(),
    });
  }

  /** Every record of the local store for the current state; `owners[i]` is record i's history entry. */
  private *storeRecords(owners: (HistoryEntry | null)[]): Generator<readonly [string, Buffer]> {
    for (const ch of this.channels.values()) {
      owners.push(null);
      yield [channelStoreKey(ch.channelId), encodeSnapshot(snapshotOf(ch))];
      for (const [key, e] of ch.durablePayments) {
        if (!journaled(e)) continue;
        owners.push(null);
        yield [paymentStoreKey(ch.channelId, key), encodePaymentEntry(e)];
      }
      for (const t of ch.payers) {
        for (const e of t.history) {
          const wire = ch.wireOf(e);
          if (!wire) continue;
          owners.push(e);
          yield [wireKey(e.offset), wire];
        }
      }
      for (const payer of [0, 1] as const) {
        for (const p of ch.waiting(payer)) {
          owners.push(null);
          yield [wireKey(p.offset), p.wire];
        }
      }
    }
    for (const p of this.restoredWaiting) {
      owners.push(null);
      yield [wireKey(p.offset), p.wire];
    }
    owners.push(null);
    yield ["progress", this.progressRecord()];
  }

  /**
   * Replaces the local file with exactly the current state (snapshots, held bytes, progress) and
   * points every history entry at its bytes' new place.
   */
  private rewriteStore(changelogOffset: number): void {
    const writer = this.writer;
    if (!writer) return;
    const owners: (HistoryEntry | null)[] = [];
    const places = writer.rewrite(this.storeRecords(owners), this.meta(changelogOffset));
    places.forEach((v, i) => {
      const e = owners[i];
      if (e) {
        e.pos = v.pos;
        e.len = v.len;
        e.wire = null;
      }
    });
    // Everything is in the new file; nothing is waiting for the next flush.
    this.newWires.clear();
    this.droppedWires.clear();
  }

  /** The consumer offsets that `progress` stands for (the next offset to read per topic). */
  private offsetsOf(progress: Progress): CommitOffset[] {
    const t = this.deps.config.kafka.topics;
    return [
      { topic: t.transfers, offset: progress.transfers },
      { topic: t.control, offset: progress.control },
      { topic: t.checkpointSignatures, offset: progress.signatures },
      { topic: t.paymentMessages, offset: progress.payments },
    ]
      .filter((o) => o.offset >= 0)
      .map((o) => ({ topic: o.topic, partition: this.partition, offset: o.offset + 1 }));
  }

  /**
   * Makes the processed state durable: dead letters, changelog snapshots, the progress marker and the
   * consumer offsets in one Kafka transaction, then the local copy. Call under `lock`. On a failure
   * nothing is committed and the state stays dirty for the next flush; `FencedError` means another
   * node owns the partition now.
   *
   * A `"journal"` flush (the mediator's, on the path of a routed payment) leaves the consumer offsets
   * out unless the last commit of them is a flush interval old: that saves the transaction two round
   * trips. Nothing depends on them being current — a restore seeks to the changelog's progress marker,
   * which every flush writes — and the next full flush (periodic, or the last one on release) sends them.
   * It also writes the local copy without an fdatasync: the local store is a cache of the changelog
   * (a tail lost with the machine is read from the changelog again, transfers from their topic).
   */
  async flush(mode: FlushMode = "full"): Promise<void> {
    if (!this.needsFlush || !this.writer) return;
    const owner = this.owner;
    if (!owner) throw new KafkaError(`flushing partition ${this.partition} before it was attached`);
    const { config, metrics } = this.deps;
    const topics = config.kafka.topics;
    const started = Date.now();
    const deadLetters = this.deadLetters;
    const ids = [...this.dirty];
    const puts: [string, Buffer][] = [];
    const records: OutRecord[] = [];
    const paymentDeletes: string[] = [];
    const flushedPayments = new Map<Hash, string[]>();
    let n = 0;
    for (const id of ids) {
      // Encoding thousands of snapshots takes a while: let the event loop (and the verifier pool) run.
      if (++n % 1000 === 0) await new Promise<void>((resolve) => setImmediate(resolve));
      const ch = this.channels.get(id);
      if (!ch) continue;
      const value = encodeSnapshot(snapshotOf(ch));
      records.push({ key: channelKey(id), value, partition: this.partition });
      puts.push([channelStoreKey(id), value]);
      // Only the payments that changed: one record each, a tombstone once finished (or dropped).
      const changed = [...ch.changedPayments];
      flushedPayments.set(id, changed);
      for (const key of changed) {
        const e = ch.payments.get(key);
        if (journaled(e)) {
          const entry = encodePaymentEntry(e);
          records.push({ key: paymentChangelogKey(id, key), value: entry, partition: this.partition });
          puts.push([paymentStoreKey(id, key), entry]);
        } else if (journaled(ch.durablePayments.get(key))) {
          records.push({ key: paymentChangelogKey(id, key), value: null, partition: this.partition });
          paymentDeletes.push(paymentStoreKey(id, key));
        }
      }
    }
    const progress = this.progressRecord();
    records.push({ key: PROGRESS_KEY, value: progress, partition: this.partition });
    puts.push(["progress", progress]);
    const committed: Progress = { ...this.progress };
    const offsetsDue =
      !sameProgress(this.offsetsCommitted, committed) &&
      (mode === "full" || Date.now() - this.offsetsCommittedAtMs >= config.state.flushIntervalMs);
    const written = await owner.commit(
      [
        { topic: topics.deadLetter, records: deadLetters },
        { topic: topics.stateChangelog, records },
      ],
      // Offsets this state already committed are not sent again.
      { groupId: config.kafka.groupId, offsets: offsetsDue ? this.offsetsOf(committed) : [] },
    );
    if (offsetsDue) {
      this.offsetsCommitted = committed;
      this.offsetsCommittedAtMs = Date.now();
    }
    if (deadLetters.length > 0) this.deps.fault?.("after-dead-letters");
    this.deadLetters = this.deadLetters.slice(deadLetters.length);
    const last = written.get(topics.stateChangelog) ?? -1;
    if (last < 0)
      throw new KafkaError(`writing the changelog of partition ${this.partition} returned no offset`);
    // The transaction's commit marker follows at last + 1; a restore reading from there skips it.
    this.changelogEnd = last + 1;
    this.deps.fault?.("after-changelog");
    this.deps.fault?.("after-offset-commit");
    const firstWire = puts.length;
    const owners: (HistoryEntry | null)[] = [];
    for (const [o, w] of this.newWires) {
      puts.push([wireKey(o), w.wire]);
      owners.push(w.entry);
    }
    const deletes = [...[...this.droppedWires].map(wireKey), ...paymentDeletes];
    // A journal flush does not wait for the disk: the changelog is the record (see `flush`).
    const places = this.writer.commit(puts, deletes, this.meta(last), mode === "full");
    // The bytes are in the local file now: history keeps their place, memory lets them go.
    owners.forEach((e, i) => {
      if (e && e.wire) {
        e.pos = places[firstWire + i].pos;
        e.len = places[firstWire + i].len;
        e.wire = null;
      }
    });
    this.deps.fault?.("after-local-store");
    for (const id of ids) {
      this.dirty.delete(id);
      // What the mediator may act on now: the payments this commit journaled.
      this.channels.get(id)?.markDurable(flushedPayments.get(id) ?? []);
    }
    this.newWires.clear();
    this.droppedWires.clear();
    this.flushedProgress = committed;
    this.lastFlushMs = Date.now();
    metrics.inc(M.flushes, "Changelog flushes");
    metrics.inc(M.flushRecords, "Channel snapshots written to the changelog", {}, ids.length);
    this.deps.logger.debug("flushed", {
      partition: this.partition,
      snapshots: ids.length,
      ms: Date.now() - started,
    });
    this.maybeCompact();
  }

  /** Rewrites the local file when it holds mostly superseded records. */
  private maybeCompact(): void {
    const w = this.writer;
    if (!w || w.bytes < 64 << 20) return;
    let live = 0;
    for (const ch of this.channels.values()) {
      live += 600;
      for (const t of ch.payers) live += t.history.length * 400 + t.pending.size * 400;
    }
    if (w.bytes > 4 * live) this.rewriteStore(this.changelogEnd - 1);
  }

  /** Releases the local file and the transactional writer. */
  async close(): Promise<void> {
    this.writer?.close();
    this.writer = null;
    const owner = this.owner;
    this.owner = null;
    await owner?.close();
  }
}
