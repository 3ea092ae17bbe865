/**
 * Fast decoding of transfer messages the `TransferVerifier` already accepted (code 0), for a node's hot path.
 *
 * `codecs().transfer.decode` costs ~65 µs per message (its mapping re-derives EIP-55 checksums with a JS
 * keccak and re-validates every field), as much as the signature recovery itself. A verified message has
 * passed those checks, so this builds the same transfer from the bytes without repeating them. Messages in
 * the current transfer.v1 layout are read in place (the fields `TransferVerifier.check` reads: varints and
 * fixed fields at known places), others through `decodeRecord`. Hex comes from Node's native encoder: flat
 * strings, cheap to hash and compare. Never use it on unverified input. Node only.
 */
import type { Hash, Hex, PayerIndex, SignedTransfer, TransferKind, VerifiedTransfer } from "../types";
import { codecs } from "./messages";

/**
 * A verified transfer with where it came from: its message bytes and its offset in the log. A consumer may
 * let `wire` go (empty it) once it keeps the transfer's bytes elsewhere; `invoiceId` and `signature` of an
 * in-place item are read from `wire` and throw after that.
 */
export type LoggedTransfer = VerifiedTransfer & {
  wire: Buffer;
  readonly offset: number;
  readonly sentAtMs: number;
};

/** A verified transfer message, decoded. */
export interface DecodedTransfer {
  readonly transfer: SignedTransfer;
  /** The channel id's 32 bytes (compared with the message key without allocating). */
  readonly channelIdBytes: Buffer;
  /** The claimed (and verified) signer, lower-case hex. */
  readonly signerLower: string;
  readonly chainId: number;
  readonly sentAtMs: number;
}

function hex(v: unknown): Hex {
  const b = v as Uint8Array;
  return `0x${Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("hex")}` as Hex;
}

function uint(v: unknown): bigint {
  const b = v as Uint8Array;
  return BigInt(`0x${Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("hex")}`);
}

let fingerprint: Buffer | null = null;

/** Reads an Avro long (zigzag varint) at `at[0]`, advancing it. */
function long(w: Buffer, at: number[]): number {
  let p = at[0];
  let b = w[p++];
  let n = b & 0x7f;
  let mul = 0x80;
  while (b & 0x80) {
    b = w[p++];
    n += (b & 0x7f) * mul;
    mul *= 0x80;
  }
  at[0] = p;
  return n % 2 === 0 ? n / 2 : -(n + 1) / 2;
}

function u128(w: Buffer, p: number): bigint {
  const hi = w.readBigUInt64BE(p);
  const lo = w.readBigUInt64BE(p + 8);
  return hi === 0n ? lo : (hi << 64n) | lo;
}

/** Node's native hex encoder without the Buffer view `toString("hex", …)` creates per call. */
const hexSlice = (
  Buffer.prototype as unknown as { hexSlice?: (this: Buffer, start: number, end: number) => string }
).hexSlice;

function hexAt(w: Buffer, p: number, n: number): Hex {
  return `0x${hexSlice ? hexSlice.call(w, p, p + n) : w.toString("hex", p, p + n)}` as Hex;
}

const ZERO32 = `0x${"00".repeat(32)}` as Hash;

/** A 32-byte field as hex; the all-zero value (an empty lock list, a PAY's hashlock) as one shared string. */
function hash32At(w: Buffer, p: number): Hash {
  for (let i = p; i < p + 32; i++) if (w[i] !== 0) return hexAt(w, p, 32) as Hash;
  return ZERO32;
}

/**
 * A transfer read in place. The fields the chain rule needs are decoded at once; `invoiceId` and
 * `signature` (only proofs and evidence need them) are read from `wire` when asked, while the item
 * still has its bytes.
 */
class WireItem {
  constructor(
    readonly channelId: Hash,
    readonly payer: PayerIndex,
    readonly seq: number,
    readonly kind: TransferKind,
    readonly amount: bigint,
    readonly paidTotal: bigint,
    readonly lockedTotal: bigint,
    readonly locksRoot: Hash,
    readonly hashlock: Hash,
    readonly expiry: bigint,
    readonly prev: Hash,
    readonly hash: Hash,
    public wire: Buffer,
    readonly offset: number,
    readonly sentAtMs: number,
    private readonly body: number,
  ) {}

  private bytes(): Buffer {
    if (this.wire.length === 0)
      throw new Error(`transfer ${this.seq} of ${this.channelId} no longer holds its bytes`);
    return this.wire;
  }

  get invoiceId(): Hash {
    return hexAt(this.bytes(), this.body + 120, 32) as Hash;
  }

  get signature(): Hex {
    return hexAt(this.bytes(), this.body + 184, 65);
  }
}

/** Reads a verified message in the current layout in place (no intermediate record or buffers). */
function decodeInPlace(
  w: Buffer,
  hash: Hash,
  offset: number,
): { item: WireItem; channelIdBytes: Buffer; signer: Buffer } {
  const at = [10];
  long(w, at); // schemaVersion
  long(w, at); // chainId (checked by the verifier)
  let p = at[0] + 20; // verifyingContract (checked by the verifier)
  const channelIdBytes = w.subarray(p, p + 32);
  const channelId = hexAt(w, p, 32) as Hash;
  at[0] = p + 32;
  const payer = long(w, at) as PayerIndex;
  const signer = w.subarray(at[0], at[0] + 20);
  at[0] += 20;
  const seq = long(w, at);
  const kind = long(w, at) as TransferKind;
  p = at[0];
  at[0] = p + 249;
  const appKind = long(w, at);
  at[0] += appKind;
  const appData = long(w, at);
  at[0] += appData;
  const sentAtMs = long(w, at);
  const item = new WireItem(
    channelId,
    payer,
    seq,
    kind,
    u128(w, p),
    u128(w, p + 16),
    u128(w, p + 32),
    hash32At(w, p + 48),
    hash32At(w, p + 80),
    w.readBigUInt64BE(p + 112),
    hexAt(w, p + 152, 32) as Hash,
    hash,
    w,
    offset,
    sentAtMs,
    p,
  );
  return { item, channelIdBytes, signer };
}

/**
 * The `prev` field of a verified message — the transfer hash of the payer's transfer before it — read
 * in place (current layout) or decoded.
 */
export function prevOf(wire: Buffer): Hash {
  fingerprint ??= Buffer.from(codecs().transfer.reader.fingerprintBytes);
  if (wire.length > 10 && wire.compare(fingerprint, 0, 8, 2, 10) === 0) {
    const at = [10];
    long(wire, at); // schemaVersion
    long(wire, at); // chainId
    at[0] += 52; // verifyingContract, channelId
    long(wire, at); // payer
    at[0] += 20; // signer
    long(wire, at); // seq
    long(wire, at); // kind
    return hexAt(wire, at[0] + 152, 32) as Hash;
  }
  return decodeVerifiedTransfer(wire).transfer.prev;
}

/**
 * A verified message as the pipeline's item: `wire` must be a buffer the node owns (a copy, not a
 * slice of a fetch response), `hash` the verifier's transfer hash.
 */
export function decodeVerifiedItem(
  wire: Buffer,
  hash: Hash,
  offset: number,
): { item: LoggedTransfer; channelIdBytes: Buffer; signer: Buffer } {
  fingerprint ??= Buffer.from(codecs().transfer.reader.fingerprintBytes);
  if (wire.length > 10 && wire.compare(fingerprint, 0, 8, 2, 10) === 0) {
    const d = decodeInPlace(wire, hash, offset);
    return { item: d.item as unknown as LoggedTransfer, channelIdBytes: d.channelIdBytes, signer: d.signer };
  }
  const d = decodeVerifiedTransfer(wire);
  return {
    item: { ...d.transfer, hash, wire, offset, sentAtMs: d.sentAtMs },
    channelIdBytes: d.channelIdBytes,
    signer: Buffer.from(d.signerLower.slice(2), "hex"),
  };
}

/** Decodes a framed transfer message the verifier accepted (any schema version; the cold path). */
export function decodeVerifiedTransfer(wire: Uint8Array): DecodedTransfer {
  const r = codecs().transfer.decodeRecord(wire);
  const id = r.channelId as Buffer;
  const transfer = {
    channelId: hex(id) as Hash,
    payer: r.payer as PayerIndex,
    seq: r.seq as number,
    kind: r.kind as TransferKind,
    amount: uint(r.amount),
    paidTotal: uint(r.paidTotal),
    lockedTotal: uint(r.lockedTotal),
    locksRoot: hex(r.locksRoot) as Hash,
    hashlock: hex(r.hashlock) as Hash,
    expiry: uint(r.expiry),
    invoiceId: hex(r.invoiceId) as Hash,
    prev: hex(r.prev) as Hash,
    signature: hex(r.signature),
  } as SignedTransfer;
  return {
    transfer,
    channelIdBytes: id,
    signerLower: hex(r.signer),
    chainId: r.chainId as number,
    sentAtMs: typeof r.sentAtMs === "number" ? r.sentAtMs : 0,
  };
}
