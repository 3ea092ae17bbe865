/**
 * The hot path: a batch of one transfers partition, in offset order. Signatures are verified on all
 * cores (the SDK's `VerifierPool`), then on the main thread each transfer is checked against its
 * channel (participant, partition), put through the reorder window and applied; anything rejected goes
 * to the dead-letter topic with its reason and its original bytes. Nothing here throws for bad input.
 *
 * Before verification each message is screened (`screenTransferMessage`): an oversized message, an
 * `appData` over `input.maxAppDataBytes`, or a `schemaVersion` that contradicts the schema fingerprint
 * is dead-lettered without being verified, decoded or copied, so its bytes leave memory with the batch.
 */
import {
  codeOfReason,
  DEFAULT_MAX_APP_DATA_BYTES,
  type MalformedError,
  screenTransferMessage,
  type TransferLimits,
  type EquivocationProof,
  type ErrorCode,
  errorForReason,
  type Hash,
  isParsecError,
  type ParsecError,
  type PayerIndex,
  type VerifiedTransfer,
  decodeVerifiedItem,
  type Domain,
  TransferKind,
} from "../../../sdk";
import type { ChainRegistry, OnchainChannel } from "../chain/registry";
import type { InRecord } from "../kafka/client";
import { channelIdOfKey, channelKey, channelPartition } from "../kafka/topics";
import { M, type Counter, type Metrics } from "../http/metrics";
import type { ChannelState, WindowItem } from "../state/channel";
import type { PartitionState } from "../state/partition";
import { deadLetterRecord } from "./dead-letter";
import { DEFAULT_MAX_RECORD_BYTES } from "../config";
import { messageOf } from "../errors";

/** A batch whose verification is under way. */
export interface PreparedBatch {
  readonly records: readonly InRecord[];
  /** What goes to the verifier: empty for a screened-out record. */
  readonly wires: readonly Buffer[];
  /** Per record, the reason it was refused before verification, or null. */
  readonly screened: readonly (MalformedError | null)[];
  readonly verified: Promise<{ readonly codes: Uint8Array; readonly hashes: Uint8Array }>;
}

export interface BatchVerifier {
  verifyBatch(
    wires: readonly Uint8Array[],
  ): Promise<{ readonly codes: Uint8Array; readonly hashes: Uint8Array }>;
}

export interface TransferPipelineDeps {
  readonly topic: string;
  readonly partitions: number;
  readonly registry: ChainRegistry;
  /** The deployment's EIP-712 domain: a payee's consent to an early CANCEL is verified in it. */
  readonly domain: Domain;
  readonly verifier: BatchVerifier;
  readonly metrics: Metrics;
  readonly everyM: number;
  /** `input.maxAppDataBytes` (default `DEFAULT_MAX_APP_DATA_BYTES`). */
  readonly maxAppDataBytes?: number;
  /** `kafka.maxRecordBytes`: dead letters are cut to fit it (default `DEFAULT_MAX_RECORD_BYTES`). */
  readonly maxRecordBytes?: number;
  /** Called for every equivocation (the operator sends the fraud proof). */
  readonly onEquivocation: (channel: OnchainChannel, proof: EquivocationProof<VerifiedTransfer>) => void;
  /** Called for every applied transfer while its bytes are still held (the mediator's hook). */
  readonly onApplied?: (
    ps: PartitionState,
    ch: ChannelState,
    channel: OnchainChannel,
    item: WindowItem,
  ) => void;
}

/** A rejection that is not an SDK error (wrong partition, unknown channel…). */
class Rejection {
  constructor(
    readonly code: ErrorCode,
    readonly message: string,
  ) {}
}

type Reason = ParsecError | Rejection;

/**
 * A plain CANCEL the confirmed index cannot judge yet: its lock expired by the chain head (or the wall
 * clock) but not by the newest confirmed block, so a reveal of its secret at or before the expiry may
 * still be confirmed. It waits like a transfer short of funds (`blocked`), never dead-lettered for this.
 */
class AwaitingConfirmations {
  constructor(readonly seq: number) {}
}

/**
 * How long a CANCEL waits for the confirmed chain to pass its lock's expiry before it is dead-lettered
 * (the payer may send it again): far beyond the confirmation delay of any supported chain (12 blocks of
 * 12 s: 2.4 min), so it bounds the held transfers only when the chain stalls.
 */
export const MAX_CONFIRMATION_WAIT_MS = 15 * 60_000;

/** Whether a rejection means "wait" (for funds or confirmations) rather than "refused". */
function waits(e: unknown): boolean {
  return e instanceof AwaitingConfirmations || (isParsecError(e) && e.code === "InsufficientBalance");
}

const EMPTY = Buffer.alloc(0);

/**
 * A transfer produced to the wrong partition: nearly always a producer whose partitioner is not Kafka's
 * Java default (murmur2 of the key), e.g. librdkafka's default `consistent_random` (CRC32).
 */
function wrongPartition(id: Hash, expected: number, got: number, partitions: number): Rejection {
  return new Rejection(
    "WrongChannel",
    `channel ${id} belongs to partition ${expected} of ${partitions}, but the transfer was produced to ` +
      `partition ${got}. Produce with the key = the channel id's 32 bytes and the Java client's murmur2 ` +
      `partitioner: librdkafka and confluent-kafka (Python, Go, .NET) need partitioner=murmur2_random ` +
      `(their default, consistent_random, hashes with CRC32); or set the partition explicitly ` +
      `(docs/relayer.md, Producing transfers)`,
  );
}
const YIELD_EVERY = 512;

/** Resolves after pending I/O callbacks (worker messages) ran. */
export const yieldNow = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function hashAt(hashes: Buffer, i: number): Hash {
  return `0x${hashes.toString("hex", 32 * i, 32 * i + 32)}` as Hash;
}

export class TransferPipeline {
  private readonly appliedCount: Counter;
  private readonly receivedCount: Counter;
  private readonly limits: TransferLimits;
  private readonly maxRecordBytes: number;

  constructor(private readonly deps: TransferPipelineDeps) {
    this.limits = { maxAppDataBytes: deps.maxAppDataBytes ?? DEFAULT_MAX_APP_DATA_BYTES };
    this.maxRecordBytes = deps.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES;
    this.appliedCount = deps.metrics.counter(M.applied, "Transfers applied to channel state");
    this.receivedCount = deps.metrics.counter(M.received, "Messages received, by topic", {
      topic: "transfers",
    });
  }

  private reject(ps: PartitionState, r: InRecord, reason: Reason, channelId: Hash | null): void {
    this.deps.metrics.inc(M.rejected, "Transfers rejected, by reason", { reason: reason.code });
    ps.deadLetter(deadLetterRecord(r, reason.code, reason.message, channelId, this.maxRecordBytes));
  }

  /**
   * Starts verifying a batch on the pool right away (verification needs no state), so the pool works
   * on this batch while the main thread still applies earlier ones.
   */
  prepare(records: readonly InRecord[]): PreparedBatch {
    const screened = records.map((r) => screenTransferMessage(r.value ?? EMPTY, this.limits));
    const wires = records.map((r, i) => (screened[i] ? EMPTY : (r.value ?? EMPTY)));
    return { records, wires, screened, verified: this.deps.verifier.verifyBatch(wires) };
  }

  /** Processes one batch of a partition in offset order. Call under the partition's lock. */
  async process(
    ps: PartitionState,
    records: readonly InRecord[],
    prepared: PreparedBatch = this.prepare(records),
  ): Promise<void> {
    const { codes, hashes: hashBytes } = await prepared.verified;
    const hashes = Buffer.from(hashBytes.buffer, hashBytes.byteOffset, hashBytes.byteLength);
    const wires = prepared.wires;
    if (records.length === 0) return;
    this.receivedCount.inc(records.length);

    let synced = false;
    for (let i = 0; i < records.length; i++) {
      // Let the event loop run now and then: the verifier pool is fed from it, and a batch of
      // thousands of transfers would otherwise leave its threads without work.
      if (i > 0 && i % YIELD_EVERY === 0) await yieldNow();
      const r = records[i];
      if (r.offset <= ps.skip.transfers) continue; // reflected before the restore
      const refused = prepared.screened[i];
      if (refused) {
        this.reject(ps, r, refused, channelIdOfKey(r.key));
        continue;
      }
      if (codes[i] !== 0) {
        const code = codes[i];
        this.reject(
          ps,
          r,
          errorForReason(
            code,
            `transfer at ${r.topic}/${r.partition}@${r.offset} (${codeOfReason(code) ?? "Malformed"})`,
          ),
          channelIdOfKey(r.key),
        );
        continue;
      }
      // Copy: the item outlives the fetch response its bytes are a slice of.
      const { item, channelIdBytes, signer } = decodeVerifiedItem(
        Buffer.from(wires[i]),
        hashAt(hashes, i),
        r.offset,
      );
      const id = item.channelId;
      if (!r.key || !r.key.equals(channelIdBytes)) {
        this.reject(
          ps,
          r,
          new Rejection("Malformed", `the message key must be the 32 bytes of the channel id ${id}`),
          id,
        );
        continue;
      }
      // A channel lives in one partition only; checked once, when the partition first sees it.
      if (!ps.channels.has(id)) {
        const expected = channelPartition(id, this.deps.partitions);
        if (expected !== r.partition) {
          this.reject(ps, r, wrongPartition(id, expected, r.partition, this.deps.partitions), id);
          continue;
        }
      }
      let onchain = this.deps.registry.get(id);
      if (!onchain && !synced) {
        // Opened moments ago? Look at the chain once per batch.
        synced = true;
        await this.deps.registry.sync().catch(() => undefined);
        onchain = this.deps.registry.get(id);
      }
      if (!onchain) {
        this.reject(ps, r, new Rejection("WrongChannel", `channel ${id} is not open on this contract`), id);
        continue;
      }
      if (!signer.equals(onchain.participantBytes[item.payer])) {
        this.reject(
          ps,
          r,
          new Rejection("BadSignature", `the signer is not participant ${item.payer} of channel ${id}`),
          id,
        );
        continue;
      }
      const ch = ps.channel(id);
      if (r.offset <= ch.lastTransferOffset) continue; // reflected in the restored snapshot already
      this.accept(ps, ch, onchain, item);
      ch.lastTransferOffset = r.offset;
      ps.markDirty(ch);
    }
    ps.progress.transfers = Math.max(ps.progress.transfers, records[records.length - 1].offset);
  }

  /** Re-admits the verified, not yet applied transfers of a restored partition. Call under its lock. */
  readmit(ps: PartitionState): void {
    const items = ps.restoredWaiting.sort((x, y) => x.seq - y.seq);
    ps.restoredWaiting = [];
    for (const item of items) {
      const onchain = this.deps.registry.get(item.channelId);
      if (!onchain) continue;
      this.accept(ps, ps.channel(item.channelId), onchain, item);
    }
  }

  /**
   * Routes a verified transfer through the window and applies what comes out, in order. A transfer
   * the funds rule refuses does not fail: it and its successors wait (blocked) until the other payer's
   * chain or a deposit covers it, or until `fundsWaitMs`.
   */
  private accept(ps: PartitionState, ch: ChannelState, onchain: OnchainChannel, item: WindowItem): void {
    const track = ch.payers[item.payer];
    if (item.seq <= track.state.seq) {
      // Older than the head: classify against the held history (the window only remembers n).
      const held = ch.entry(item.payer, item.seq);
      if (!held) {
        this.rejectItem(
          ps,
          item,
          new Rejection(
            "Stale",
            `seq ${item.seq} of payer ${item.payer} is older than the state the node holds`,
          ),
        );
      } else if (ch.entryHash(item.payer, held) === item.hash) {
        this.rejectItem(
          ps,
          item,
          new Rejection(
            "Duplicate",
            `seq ${item.seq} of payer ${item.payer} in ${ch.channelId} was already applied`,
          ),
        );
      } else {
        this.equivocation(ps, ch, onchain, {
          channelId: ch.channelId,
          payer: item.payer,
          seq: item.seq,
          first: ch.transferAt(item.payer, item.seq),
          second: item,
        });
      }
      return;
    }
    const blockedAt = item.seq - track.state.seq - 1;
    if (blockedAt < track.blocked.length) {
      // A copy (or a rival) of a transfer waiting for funds.
      const held = track.blocked[blockedAt];
      if (held.hash === item.hash)
        this.rejectItem(
          ps,
          item,
          new Rejection(
            "Duplicate",
            `seq ${item.seq} of payer ${item.payer} in ${ch.channelId} is already waiting for funds`,
          ),
        );
      else
        this.equivocation(ps, ch, onchain, {
          channelId: ch.channelId,
          payer: item.payer,
          seq: item.seq,
          first: held,
          second: item,
        });
      return;
    }
    let failed: WindowItem | null = null;
    let placed = false;
    let applied = false;
    for (const ev of ps.window.push(item)) {
      switch (ev.type) {
        case "ordered": {
          if (ev.item === item) placed = true;
          track.pending.delete(ev.item.seq);
          if (failed) {
            this.rejectItem(
              ps,
              ev.item,
              new Rejection("BrokenHashPointer", `seq ${ev.item.seq} builds on rejected seq ${failed.seq}`),
            );
            continue;
          }
          if (track.blocked.length > 0) {
            track.blocked.push(ev.item);
            ps.holdWire(ev.item.offset, ev.item.wire);
            continue;
          }
          try {
            this.applyOne(ps, ch, onchain, ev.item);
            applied = true;
          } catch (e) {
            if (waits(e)) {
              track.blocked.push(ev.item);
              track.blockedSinceMs = Date.now();
              ps.blocked.add(ch.channelId);
              ps.holdWire(ev.item.offset, ev.item.wire);
            } else {
              failed = ev.item;
              this.rejectItem(
                ps,
                ev.item,
                isParsecError(e) || e instanceof Rejection ? e : new Rejection("Malformed", messageOf(e)),
              );
            }
          }
          break;
        }
        case "duplicate":
          if (ev.item === item) placed = true;
          this.rejectItem(ps, item, ev.error);
          break;
        case "equivocation":
          if (ev.proof.second === item) placed = true;
          this.equivocation(ps, ch, onchain, ev.proof);
          break;
        case "rejected":
          if (ev.item === item) placed = true;
          track.pending.delete(ev.item.seq);
          this.rejectItem(ps, ev.item, ev.error);
          break;
      }
    }
    if (!placed) {
      track.pending.set(item.seq, item);
      ps.holdWire(item.offset, item.wire);
    }
    if (failed) {
      this.rejectDescendants(ps, ch, failed);
      this.resync(ps, ch, onchain, item.payer);
    }
    if (applied && ps.blocked.has(ch.channelId)) this.unblock(ps, ch, onchain);
  }

  /** Retries blocked transfers of a channel (after the other payer's chain moved or a deposit). */
  unblock(ps: PartitionState, ch: ChannelState, onchain: OnchainChannel): void {
    let progressed = true;
    while (progressed) {
      progressed = false;
      for (const payer of [0, 1] as const) {
        const t = ch.payers[payer];
        while (t.blocked.length > 0) {
          const head = t.blocked[0];
          try {
            this.applyOne(ps, ch, onchain, head);
            t.blocked.shift();
            t.blockedSinceMs = Date.now();
            progressed = true;
          } catch (e) {
            if (waits(e)) break;
            this.dropBlocked(
              ps,
              ch,
              onchain,
              payer,
              isParsecError(e) || e instanceof Rejection ? e : new Rejection("Malformed", messageOf(e)),
            );
          }
        }
      }
    }
    if (ch.payers[0].blocked.length === 0 && ch.payers[1].blocked.length === 0)
      ps.blocked.delete(ch.channelId);
    ps.markDirty(ch);
  }

  /** Rejects a payer's blocked transfers (the first for `reason`, the rest as built on it). */
  private dropBlocked(
    ps: PartitionState,
    ch: ChannelState,
    onchain: OnchainChannel,
    payer: PayerIndex,
    reason: Reason,
  ): void {
    const t = ch.payers[payer];
    const [first, ...rest] = t.blocked;
    t.blocked = [];
    if (!first) return;
    this.rejectItem(ps, first, reason);
    for (const x of rest)
      this.rejectItem(
        ps,
        x,
        new Rejection("BrokenHashPointer", `seq ${x.seq} builds on rejected seq ${first.seq}`),
      );
    this.rejectDescendants(ps, ch, rest[rest.length - 1] ?? first);
    this.resync(ps, ch, onchain, payer);
  }

  /**
   * Gives up on transfers blocked for funds longer than `fundsWaitMs`, and on a CANCEL waiting for the
   * confirmed chain longer than `MAX_CONFIRMATION_WAIT_MS`. Call under the partition lock.
   */
  expireBlocked(ps: PartitionState, now: number, fundsWaitMs: number): void {
    for (const id of [...ps.blocked]) {
      const ch = ps.channels.get(id);
      const onchain = this.deps.registry.get(id);
      if (!ch || !onchain) {
        ps.blocked.delete(id);
        continue;
      }
      this.unblock(ps, ch, onchain);
      for (const payer of [0, 1] as const) {
        const t = ch.payers[payer];
        const need = t.blocked[0];
        if (!need) continue;
        // A blocked CANCEL never overdraws: it waits for the confirmed chain to pass its lock's expiry.
        const confirming = need.kind === TransferKind.Cancel;
        if (now - t.blockedSinceMs < (confirming ? MAX_CONFIRMATION_WAIT_MS : fundsWaitMs)) continue;
        this.dropBlocked(
          ps,
          ch,
          onchain,
          payer,
          confirming
            ? new Rejection(
                "CancelNotAllowed",
                `CANCEL at seq ${need.seq} of payer ${payer} in ${id}: the confirmed chain (time ` +
                  `${this.deps.registry.confirmedTimestamp}) did not pass its lock's expiry ${need.expiry} ` +
                  `within ${MAX_CONFIRMATION_WAIT_MS} ms; send it again once it has`,
              )
            : new Rejection(
                "InsufficientBalance",
                `seq ${need.seq} of payer ${payer} overdraws channel ${id} (waited ${fundsWaitMs} ms for funds)`,
              ),
        );
      }
      if (ch.payers[0].blocked.length === 0 && ch.payers[1].blocked.length === 0) ps.blocked.delete(id);
      ps.markDirty(ch);
    }
  }

  /** Rejects pending transfers that build on a rejected one (seq + 1 with its hash as prev, and so on). */
  private rejectDescendants(ps: PartitionState, ch: ChannelState, rejected: WindowItem): void {
    const pending = ch.payers[rejected.payer].pending;
    let prev = rejected;
    for (;;) {
      const next = pending.get(prev.seq + 1);
      if (!next || next.prev !== prev.hash) return;
      pending.delete(next.seq);
      this.rejectItem(
        ps,
        next,
        new Rejection("BrokenHashPointer", `seq ${next.seq} builds on rejected seq ${rejected.seq}`),
      );
      prev = next;
    }
  }

  /** Puts the window back on the applied head after a refusal; pending transfers are pushed again. */
  private resync(ps: PartitionState, ch: ChannelState, onchain: OnchainChannel, payer: PayerIndex): void {
    const track = ch.payers[payer];
    ps.window.resume(ch.channelId, payer, track.state.seq, track.state.head);
    const waiting = [...track.pending.values()].sort((a, b) => a.seq - b.seq);
    track.pending.clear();
    for (const w of waiting) this.accept(ps, ch, onchain, w);
  }

  /** Dead-letters a transfer that came out of the window (its own offset and bytes). */
  private rejectItem(ps: PartitionState, item: WindowItem, error: Reason): void {
    ps.dropWire(item.offset);
    this.reject(
      ps,
      {
        topic: this.deps.topic,
        partition: ps.partition,
        offset: item.offset,
        key: channelKey(item.channelId),
        value: item.wire,
        timestampMs: 0,
      },
      error,
      item.channelId,
    );
  }

  private applyOne(ps: PartitionState, ch: ChannelState, onchain: OnchainChannel, item: WindowItem): void {
    const before = ch.payers[item.payer].state.seq;
    const { registry } = this.deps;
    // A plain CANCEL is judged as the contract would in any later block: by the confirmed index's time
    // and the reveals it holds (once that time is past the expiry, no reveal can count any more).
    const confirmedNow = BigInt(registry.confirmedTimestamp);
    try {
      ch.apply(
        item,
        [onchain.deposit0, onchain.deposit1],
        true,
        confirmedNow,
        { domain: this.deps.domain, params: onchain.params },
        (hashlock) => registry.secretRevealedAt(hashlock),
      );
    } catch (e) {
      if (item.kind === TransferKind.Cancel && isParsecError(e) && e.code === "CancelNotAllowed")
        throw this.refusedCancel(item, e);
      throw e;
    }
    const { metrics } = this.deps;
    const track = ch.payers[item.payer];
    if (track.state.seq !== before + 1)
      metrics.inc(M.duplicateApply, "Transfers applied out of sequence (must stay 0)");
    ps.holdWire(item.offset, item.wire, track.history[track.history.length - 1]);
    this.deps.onApplied?.(ps, ch, onchain, item);
    // The reorder window remembers the last item of each payer: it must not pin the bytes (or the
    // 8 KiB buffer pool slab they were copied into) once the history owns them.
    item.wire = EMPTY;
    this.appliedCount.inc();
    if (item.sentAtMs > 0)
      metrics.observe(M.latency, "Produce-to-applied latency of transfers (ms)", Date.now() - item.sentAtMs);
    const now = Date.now();
    if (ch.uncommittedSinceMs === 0) ch.uncommittedSinceMs = now;
    if (item.seq % this.deps.everyM === 0) {
      ch.commitDue = true;
      ps.attention.add(ch.channelId);
    }
    ps.uncommitted.add(ch.channelId);
  }

  /**
   * Why a CANCEL without (valid) consent does not count now: its secret was revealed on-chain in time
   * (final: dead-lettered), or its expiry passed by the head or the wall clock but not yet by the
   * confirmed index (it waits), or the lock has not expired (the SDK's refusal).
   */
  private refusedCancel(
    item: WindowItem,
    refusal: ParsecError,
  ): ParsecError | Rejection | AwaitingConfirmations {
    const { registry } = this.deps;
    const revealedAt = registry.secretRevealedAt(item.hashlock);
    if (revealedAt !== undefined && revealedAt <= item.expiry)
      return new Rejection(
        "CancelNotAllowed",
        `CancelNotAllowed: the CANCEL at seq ${item.seq} of payer ${item.payer} in ${item.channelId} takes ` +
          `back a lock whose secret was registered on-chain at ${revealedAt}, at or before its expiry ` +
          `${item.expiry}: the contract refuses it (the payee may claim the lock); only the payee's consent ` +
          `could release it`,
      );
    const headNow = BigInt(Math.max(registry.latestTimestamp, Math.floor(Date.now() / 1000)));
    if (headNow > item.expiry && BigInt(registry.confirmedTimestamp) <= item.expiry)
      return new AwaitingConfirmations(item.seq);
    return refusal;
  }

  private equivocation(
    ps: PartitionState,
    ch: ChannelState,
    onchain: OnchainChannel,
    proof: EquivocationProof<VerifiedTransfer>,
  ): void {
    const second = proof.second as WindowItem;
    this.rejectItem(
      ps,
      second,
      new Rejection(
        "Equivocation",
        `payer ${proof.payer} of ${ch.channelId} signed two different transfers with seq ${proof.seq}`,
      ),
    );
    this.deps.onEquivocation(onchain, proof);
  }
}
