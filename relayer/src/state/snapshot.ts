/**
 * The changelog's values: a channel's snapshot and a partition's progress marker, Avro-encoded with
 * the SDK's codec machinery (single-object framing, writer fingerprints, flat schemas) and the
 * relayer's own schemas in `schemas/`.
 */
import fs from "node:fs";
import path from "node:path";
import type avro from "avsc";
import {
  AvroCodec,
  decodeLocks,
  encodeLocks,
  type Hash,
  type Hex,
  type Lock,
  MalformedError,
  type MessageMapping,
  type PayerState,
  SchemaRegistry,
  toHex,
} from "../../../sdk";
import { locksRootOf } from "../../../sdk/src/eip712";
import { decodeMediation, encodeMediation, type MediationState, type PaymentEntry } from "../mediate/entry";
import { channelIdOfKey, channelKey } from "../kafka/topics";
import type { ChannelState, CheckpointState, ControlState, ProposalState } from "./channel";

/** The snapshot schema version written (1: before mediation; still read). */
export const SNAPSHOT_VERSION = 2;
/** The progress schema version written (1: before the payment-messages topic; still read). */
export const PROGRESS_VERSION = 2;

/** A history entry without its bytes (they stay in the transfers topic) and without its hash. */
export interface HistoryRef {
  readonly seq: number;
  readonly offset: number;
}

export interface PayerSnapshot {
  readonly state: PayerState;
  readonly baseSeq: number;
  readonly baseLocks: readonly Lock[];
  readonly history: readonly HistoryRef[];
  readonly pending: readonly { readonly seq: number; readonly offset: number }[];
}

export interface ChannelSnapshot {
  readonly channelId: Hash;
  readonly payers: readonly [PayerSnapshot, PayerSnapshot];
  readonly lastTransferOffset: number;
  readonly lastControlOffset: number;
  readonly lastSignatureOffset: number;
  readonly uncommittedSinceMs: number;
  readonly commitDue: boolean;
  readonly proposal: Readonly<ProposalState> | null;
  readonly checkpoint: CheckpointState | null;
  readonly control: ControlState | null;
  readonly updatedAtMs: number;
  /** The mediator's payments and inbox of the channel (empty in version 1 snapshots). */
  readonly mediation: MediationState;
}

export interface PartitionProgress {
  readonly transfers: number;
  readonly control: number;
  readonly signatures: number;
  /** -1 in version 1 markers (written before the topic existed). */
  readonly payments: number;
  readonly writer: string;
  readonly atMs: number;
}

/** The changelog key of a partition's progress marker (channel keys are 32 bytes, so no clash). */
export const PROGRESS_KEY = Buffer.from("progress", "ascii");

const PENDING_ENTRY = 12;

/** Hex of known length to bytes (native decoding: snapshots are encoded by the thousand per flush). */
function b(hex: string, field: string, length: number): Buffer {
  const out = Buffer.from(hex.slice(2), "hex");
  if (out.length !== length || hex.length !== 2 + 2 * length)
    throw new MalformedError(`${field} must be ${length} bytes of hex`);
  return out;
}

function u(value: bigint, size: 8 | 16): Buffer {
  const out = Buffer.allocUnsafe(size);
  if (size === 16) {
    out.writeBigUInt64BE(value >> 64n, 0);
    out.writeBigUInt64BE(value & 0xffffffffffffffffn, 8);
  } else {
    out.writeBigUInt64BE(value, 0);
  }
  return out;
}

function view(b: Uint8Array): Buffer {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

function u128Of(b: Uint8Array): bigint {
  return BigInt(`0x${view(b).toString("hex")}`);
}

function bytesOf(r: Record<string, unknown>, field: string, length?: number): Uint8Array {
  const v = r[field];
  if (!(v instanceof Uint8Array) || (length !== undefined && v.length !== length)) {
    throw new MalformedError(`${field} must be ${length ?? "some"} bytes`);
  }
  return v;
}

function num(r: Record<string, unknown>, field: string): number {
  const v = r[field];
  if (typeof v !== "number" || !Number.isSafeInteger(v))
    throw new MalformedError(`${field} must be an integer`);
  return v;
}

/** Zigzag varints: history offsets as deltas (a few bytes per transfer; seqs are implicit). */
function packHistory(entries: readonly HistoryRef[]): Buffer {
  const out = Buffer.allocUnsafe(entries.length * 10);
  let at = 0;
  let prev = 0;
  for (const e of entries) {
    let z = e.offset - prev;
    prev = e.offset;
    z = z >= 0 ? z * 2 : -z * 2 - 1;
    while (z >= 0x80) {
      out[at++] = (z % 0x80) | 0x80;
      z = Math.floor(z / 0x80);
    }
    out[at++] = z;
  }
  return out.subarray(0, at);
}

function unpackHistory(bytes: Uint8Array, firstSeq: number, count: number): HistoryRef[] {
  const out: HistoryRef[] = [];
  let at = 0;
  let prev = 0;
  for (let i = 0; i < count; i++) {
    let z = 0;
    let mul = 1;
    for (;;) {
      if (at >= bytes.length) throw new MalformedError("history ends early");
      const b = bytes[at++];
      z += (b & 0x7f) * mul;
      mul *= 0x80;
      if (b < 0x80) break;
    }
    prev += z % 2 === 0 ? z / 2 : -(z + 1) / 2;
    out.push({ seq: firstSeq + i, offset: prev });
  }
  if (at !== bytes.length) throw new MalformedError("history has trailing bytes");
  return out;
}

function packPending(entries: readonly { seq: number; offset: number }[]): Buffer {
  const out = Buffer.alloc(entries.length * PENDING_ENTRY);
  entries.forEach((e, i) => {
    out.writeUInt32BE(e.seq, i * PENDING_ENTRY);
    out.writeBigUInt64BE(BigInt(e.offset), i * PENDING_ENTRY + 4);
  });
  return out;
}

function unpackPending(bytes: Uint8Array): { seq: number; offset: number }[] {
  if (bytes.length % PENDING_ENTRY !== 0) throw new MalformedError("pending must be a multiple of 12 bytes");
  const out: { seq: number; offset: number }[] = [];
  for (let o = 0; o < bytes.length; o += PENDING_ENTRY) {
    out.push({ seq: view(bytes).readUInt32BE(o), offset: Number(view(bytes).readBigUInt64BE(o + 4)) });
  }
  return out;
}

function payerToAvro(p: PayerSnapshot): Record<string, unknown> {
  const s = p.state;
  return {
    seq: s.seq,
    head: b(s.head, "head", 32),
    paidTotal: u(s.paidTotal, 16),
    lockedTotal: u(s.lockedTotal, 16),
    locksRoot: b(s.locksRoot, "locksRoot", 32),
    locks: Buffer.from(encodeLocks(s.locks)),
    baseSeq: p.baseSeq,
    baseLocks: Buffer.from(encodeLocks(p.baseLocks)),
    history: packHistory(p.history),
    pending: packPending(p.pending),
  };
}

function payerFromAvro(v: unknown, field: string): PayerSnapshot {
  if (typeof v !== "object" || v === null) throw new MalformedError(`${field} must be a record`);
  const r = v as Record<string, unknown>;
  const locks = decodeLocks(bytesOf(r, "locks"));
  const state: PayerState = {
    seq: num(r, "seq"),
    head: toHex(bytesOf(r, "head", 32)) as Hash,
    paidTotal: u128Of(bytesOf(r, "paidTotal", 16)),
    lockedTotal: u128Of(bytesOf(r, "lockedTotal", 16)),
    locksRoot: toHex(bytesOf(r, "locksRoot", 32)) as Hash,
    locks,
  };
  if (locksRootOf(locks) !== state.locksRoot)
    throw new MalformedError(`${field}.locks do not hash to its locksRoot`);
  const baseSeq = num(r, "baseSeq");
  const first = baseSeq > 0 ? baseSeq : 1;
  return {
    state,
    baseSeq,
    baseLocks: decodeLocks(bytesOf(r, "baseLocks")),
    history: unpackHistory(bytesOf(r, "history"), first, Math.max(0, state.seq - first + 1)),
    pending: unpackPending(bytesOf(r, "pending")),
  };
}

const snapshotMapping: MessageMapping<ChannelSnapshot> = {
  toAvro(s) {
    const p = s.proposal;
    const c = s.checkpoint;
    return {
      schemaVersion: SNAPSHOT_VERSION,
      channelId: b(s.channelId, "channelId", 32),
      payer0: payerToAvro(s.payers[0]),
      payer1: payerToAvro(s.payers[1]),
      lastTransferOffset: s.lastTransferOffset,
      lastControlOffset: s.lastControlOffset,
      lastSignatureOffset: s.lastSignatureOffset,
      uncommittedSinceMs: s.uncommittedSinceMs,
      commitDue: s.commitDue,
      proposal: p && {
        proposalId: p.proposalId,
        seq0: p.seq0,
        head0: b(p.head0, "head0", 32),
        seq1: p.seq1,
        head1: b(p.head1, "head1", 32),
        proposedAtMs: p.proposedAtMs,
        sig0: p.sig0 === null ? null : b(p.sig0, "sig0", 65),
        sig1: p.sig1 === null ? null : b(p.sig1, "sig1", 65),
      },
      checkpoint: c && {
        seq0: c.seq0,
        head0: b(c.head0, "head0", 32),
        seq1: c.seq1,
        head1: b(c.head1, "head1", 32),
        sig0: b(c.sig0, "sig0", 65),
        sig1: b(c.sig1, "sig1", 65),
      },
      control: s.control && { ...s.control },
      updatedAtMs: s.updatedAtMs,
      mediation: Buffer.from(encodeMediation(s.mediation)),
    };
  },
  fromAvro(r) {
    const hex = (x: Record<string, unknown>, f: string, n: number): Hex => toHex(bytesOf(x, f, n));
    const p = r.proposal as Record<string, unknown> | null;
    const c = r.checkpoint as Record<string, unknown> | null;
    const k = r.control as Record<string, unknown> | null;
    return {
      channelId: hex(r, "channelId", 32) as Hash,
      payers: [payerFromAvro(r.payer0, "payer0"), payerFromAvro(r.payer1, "payer1")],
      lastTransferOffset: num(r, "lastTransferOffset"),
      lastControlOffset: num(r, "lastControlOffset"),
      lastSignatureOffset: num(r, "lastSignatureOffset"),
      uncommittedSinceMs: num(r, "uncommittedSinceMs"),
      commitDue: r.commitDue === true,
      proposal: p && {
        proposalId: typeof p.proposalId === "string" ? p.proposalId : "",
        seq0: num(p, "seq0"),
        head0: hex(p, "head0", 32) as Hash,
        seq1: num(p, "seq1"),
        head1: hex(p, "head1", 32) as Hash,
        proposedAtMs: num(p, "proposedAtMs"),
        sig0: p.sig0 === null ? null : hex(p, "sig0", 65),
        sig1: p.sig1 === null ? null : hex(p, "sig1", 65),
      },
      checkpoint: c && {
        seq0: num(c, "seq0"),
        head0: hex(c, "head0", 32) as Hash,
        seq1: num(c, "seq1"),
        head1: hex(c, "head1", 32) as Hash,
        sig0: hex(c, "sig0", 65),
        sig1: hex(c, "sig1", 65),
      },
      control:
        k && (k.action === "SETTLE_NOW" || k.action === "DISPUTE")
          ? { requestId: String(k.requestId), action: k.action, atMs: num(k, "atMs") }
          : null,
      updatedAtMs: num(r, "updatedAtMs"),
      mediation: decodeMediation(r.mediation instanceof Uint8Array ? r.mediation : new Uint8Array(0)),
    };
  },
};

const progressMapping: MessageMapping<PartitionProgress> = {
  toAvro: (p) => ({ schemaVersion: PROGRESS_VERSION, ...p }),
  fromAvro: (r) => ({
    transfers: num(r, "transfers"),
    control: num(r, "control"),
    signatures: num(r, "signatures"),
    payments: num(r, "payments"),
    writer: typeof r.writer === "string" ? r.writer : "",
    atMs: num(r, "atMs"),
  }),
};

function schema(file: string): avro.Schema {
  return JSON.parse(fs.readFileSync(path.join(__dirname, "schemas", file), "utf8")) as avro.Schema;
}

export interface StateCodecs {
  readonly snapshot: AvroCodec<ChannelSnapshot>;
  readonly progress: AvroCodec<PartitionProgress>;
}

let cached: StateCodecs | null = null;

/** The changelog codecs. */
export function stateCodecs(): StateCodecs {
  if (!cached) {
    const registry = new SchemaRegistry();
    // Earlier writers, so snapshots and markers written before mediation keep reading.
    registry.register(schema("channel-snapshot.v1.avsc"));
    registry.register(schema("partition-progress.v1.avsc"));
    cached = {
      snapshot: new AvroCodec(
        "ChannelSnapshot",
        schema("channel-snapshot.v2.avsc"),
        registry,
        snapshotMapping,
      ),
      progress: new AvroCodec(
        "PartitionProgress",
        schema("partition-progress.v2.avsc"),
        registry,
        progressMapping,
      ),
    };
  }
  return cached;
}

/** Avro binary writer for the hot path (the encoding avsc produces; see `encodeSnapshot`). */
class AvroWriter {
  buf = Buffer.allocUnsafe(4096);
  at = 0;

  private room(n: number): void {
    if (this.at + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.at + n));
    this.buf.copy(next, 0, 0, this.at);
    this.buf = next;
  }

  long(v: number): void {
    this.room(10);
    let z = v >= 0 ? v * 2 : -v * 2 - 1;
    while (z >= 0x80) {
      this.buf[this.at++] = (z % 0x80) | 0x80;
      z = Math.floor(z / 0x80);
    }
    this.buf[this.at++] = z;
  }

  hex(h: string, n: number, field: string): void {
    if (h.length !== 2 + 2 * n) throw new MalformedError(`${field} must be ${n} bytes of hex`);
    this.room(n);
    if (this.buf.write(h.slice(2), this.at, "hex") !== n)
      throw new MalformedError(`${field} must be ${n} bytes of hex`);
    this.at += n;
  }

  u128(v: bigint): void {
    this.room(16);
    this.buf.writeBigUInt64BE(v >> 64n, this.at);
    this.buf.writeBigUInt64BE(v & 0xffffffffffffffffn, this.at + 8);
    this.at += 16;
  }

  bytes(b: Uint8Array): void {
    this.long(b.length);
    this.room(b.length);
    this.buf.set(b, this.at);
    this.at += b.length;
  }

  raw(b: Uint8Array): void {
    this.room(b.length);
    this.buf.set(b, this.at);
    this.at += b.length;
  }

  string(v: string): void {
    const n = Buffer.byteLength(v);
    this.long(n);
    this.room(n);
    this.at += this.buf.write(v, this.at, "utf8");
  }
}

const NOTHING = new Uint8Array(0);

function writePayer(w: AvroWriter, p: PayerSnapshot): void {
  const s = p.state;
  w.long(s.seq);
  w.hex(s.head, 32, "head");
  w.u128(s.paidTotal);
  w.u128(s.lockedTotal);
  w.hex(s.locksRoot, 32, "locksRoot");
  w.bytes(s.locks.length === 0 ? NOTHING : encodeLocks(s.locks));
  w.long(p.baseSeq);
  w.bytes(p.baseLocks.length === 0 ? NOTHING : encodeLocks(p.baseLocks));
  w.bytes(packHistory(p.history));
  w.bytes(p.pending.length === 0 ? NOTHING : packPending(p.pending));
}

/** One writer reused by every snapshot (single-threaded): only the result is copied out. */
const writer = new AvroWriter();

/**
 * The framed Avro encoding of a snapshot, written directly: byte for byte what
 * `stateCodecs().snapshot.encode` produces (a unit test holds them equal), without the intermediate
 * record of Buffers — a flush encodes thousands of snapshots.
 */
export function encodeSnapshot(s: ChannelSnapshot): Buffer {
  const w = writer;
  w.at = 0;
  w.raw(framePrefixOf());
  w.long(SNAPSHOT_VERSION);
  w.hex(s.channelId, 32, "channelId");
  writePayer(w, s.payers[0]);
  writePayer(w, s.payers[1]);
  w.long(s.lastTransferOffset);
  w.long(s.lastControlOffset);
  w.long(s.lastSignatureOffset);
  w.long(s.uncommittedSinceMs);
  w.raw(Uint8Array.of(s.commitDue ? 1 : 0));
  const p = s.proposal;
  if (p === null) w.long(0);
  else {
    w.long(1);
    w.string(p.proposalId);
    w.long(p.seq0);
    w.hex(p.head0, 32, "head0");
    w.long(p.seq1);
    w.hex(p.head1, 32, "head1");
    w.long(p.proposedAtMs);
    for (const sig of [p.sig0, p.sig1]) {
      if (sig === null) w.long(0);
      else {
        w.long(1);
        w.hex(sig, 65, "signature");
      }
    }
  }
  const c = s.checkpoint;
  if (c === null) w.long(0);
  else {
    w.long(1);
    w.long(c.seq0);
    w.hex(c.head0, 32, "head0");
    w.long(c.seq1);
    w.hex(c.head1, 32, "head1");
    w.hex(c.sig0, 65, "sig0");
    w.hex(c.sig1, 65, "sig1");
  }
  const k = s.control;
  if (k === null) w.long(0);
  else {
    w.long(1);
    w.string(k.requestId);
    w.string(k.action);
    w.long(k.atMs);
  }
  w.long(s.updatedAtMs);
  w.bytes(encodeMediation(s.mediation));
  return Buffer.from(w.buf.subarray(0, w.at));
}

let framePrefix: Uint8Array | null = null;

/** `C3 01` and the snapshot schema's fingerprint (Avro single-object encoding). */
function framePrefixOf(): Uint8Array {
  if (!framePrefix) {
    framePrefix = new Uint8Array(10);
    framePrefix[0] = 0xc3;
    framePrefix[1] = 0x01;
    framePrefix.set(stateCodecs().snapshot.reader.fingerprintBytes, 2);
  }
  return framePrefix;
}

/** A channel's snapshot (history by reference). */
export function snapshotOf(ch: ChannelState): ChannelSnapshot {
  const payer = (i: 0 | 1): PayerSnapshot => {
    const t = ch.payers[i];
    return {
      state: t.state,
      baseSeq: t.baseSeq,
      baseLocks: t.baseLocks,
      history: t.history,
      pending: ch.waiting(i).map((p) => ({ seq: p.seq, offset: p.offset })),
    };
  };
  return {
    channelId: ch.channelId,
    payers: [payer(0), payer(1)],
    lastTransferOffset: ch.lastTransferOffset,
    lastControlOffset: ch.lastControlOffset,
    lastSignatureOffset: ch.lastSignatureOffset,
    uncommittedSinceMs: ch.uncommittedSinceMs,
    commitDue: ch.commitDue,
    proposal: ch.proposal,
    checkpoint: ch.checkpoint,
    control: ch.control,
    updatedAtMs: ch.updatedAtMs,
    // Each payment is its own changelog record (`paymentChangelogKey`): a flush writes only those changed.
    mediation: { payments: NO_PAYMENTS, inbox: ch.inbox },
  };
}

const NO_PAYMENTS: ReadonlyMap<string, PaymentEntry> = new Map();

/**
 * The changelog key of a payment the node mediates: the channel's 32-byte key followed by the UTF-8 of
 * its `paymentKey` (longer than a channel key, and not the progress marker's).
 */
export function paymentChangelogKey(channelId: Hash, key: string): Buffer {
  return Buffer.concat([channelKey(channelId), Buffer.from(key, "utf8")]);
}

/** The channel and payment key of a `paymentChangelogKey`; null for any other key. */
export function paymentOfChangelogKey(k: Buffer | null): { channelId: Hash; key: string } | null {
  if (k === null || k.length <= 32 || k.equals(PROGRESS_KEY)) return null;
  return { channelId: channelIdOfKey(k.subarray(0, 32)) as Hash, key: k.subarray(32).toString("utf8") };
}
