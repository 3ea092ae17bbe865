/**
 * The hot path: full verification of transfers from the wire at the speed of libsecp256k1.
 *
 * `check(wire)` decodes a framed Avro `Transfer` (transfer.v1.avsc) straight into the EIP-712 struct
 * layout inside the keccak module's memory (no objects, no hex), hashes struct and digest with the
 * domain separator precomputed, recovers the public key natively into that memory, hashes it to an
 * address and compares it with the claimed signer. It returns a numeric reason (`ReasonCode`, 0 = ok)
 * and never throws. Messages written with another known schema version take the Avro-resolving path.
 *
 * Node only (native addon). `reference.ts` is the slow ethers path it is tested against.
 */
import { fromHex, toHex, writeUint } from "../bytes";
import { codecs } from "../avro/messages";
import { domainSeparator, TYPE_HASHES } from "../eip712";
import {
  BadSignatureError,
  InvalidTransferFieldsError,
  MalformedError,
  ReasonCode,
  UnknownKindError,
  UnknownSchemaError,
  WrongChannelError,
  WrongDomainError,
  isParsecError,
  type ParsecError,
} from "../errors";
import { SECP256K1_HALF_N } from "../sign";
import type { Address, Domain, Hash, PayerIndex, SignedTransfer } from "../types";
import type { TransferMessage } from "../avro/messages";
import { KeccakWasm } from "./keccak-wasm";
import { loadSecp256k1, type Secp256k1Native } from "./native";

// Layout of the keccak module's memory (below KeccakWasm.SCRATCH_OFFSET).
const STRUCT = 256; // 13 words = 416 bytes, padded to 4 blocks (544)
const DIGEST_IN = 800; // 0x1901 || domainSeparator || structHash, padded to 1 block (136)
const STRUCT_HASH = DIGEST_IN + 34;
const DIGEST_OUT = 936;
const PUB = 1000; // 0x04 || X || Y from recovery; X || Y padded to 1 block for the address hash
const ADDR_OUT = 1144;

const OK = ReasonCode.Ok;
const MALFORMED = ReasonCode.Malformed;
const BAD_SIGNATURE = ReasonCode.BadSignature;
const WRONG_DOMAIN = ReasonCode.WrongDomain;
const WRONG_CHANNEL = ReasonCode.WrongChannel;
const INVALID_FIELDS = ReasonCode.InvalidTransferFields;
const UNKNOWN_KIND = ReasonCode.UnknownKind;
const UNKNOWN_SCHEMA = ReasonCode.UnknownSchema;

// Public key → address memo: a direct-mapped table of (64-byte key, 20-byte address) entries, so a
// payer seen before costs a 64-byte compare instead of a keccak. Exact: the whole key is compared.
const MEMO_SLOTS = 1024;
const MEMO_ENTRY = 84;

const POW2 = Array.from({ length: 10 }, (_, k) => 2 ** (7 * k));
const HALF_N = fromHex(("0x" + SECP256K1_HALF_N.toString(16).padStart(64, "0")) as Hash);

/** The participants of a channel by id (lower-case hex), for the optional payer check. */
export type ParticipantLookup = (channelId: Hash) => readonly [Address, Address] | undefined;

export interface VerifierOptions {
  readonly domain: Domain;
  /** When given, the claimed signer must be the channel's participant `payer` (else BadSignature/WrongChannel). */
  readonly participants?: ParticipantLookup;
}

/** The result of a batch: one reason per input (0 = ok) and the 32-byte transfer hash of each ok input. */
export interface BatchVerifyResult {
  readonly codes: Uint8Array;
  /** `hashes[32 i, 32 i + 32)` is input i's transfer hash when `codes[i] === 0`, else zeros. */
  readonly hashes: Uint8Array;
}

/** A decoded, fully verified transfer message with its transfer hash. */
export interface VerifiedMessage {
  readonly message: TransferMessage;
  readonly hash: Hash;
}

function copy(src: Uint8Array, s: number, dst: Uint8Array, d: number, len: number): void {
  for (let i = 0; i < len; i++) dst[d + i] = src[s + i];
}

/** Verifies transfers against one domain; one instance per thread (it owns scratch memory). */
export class TransferVerifier {
  readonly domain: Domain;
  private readonly keccak = new KeccakWasm();
  private readonly mem: Uint8Array;
  private readonly secp: Secp256k1Native;
  private readonly sig64 = new Uint8Array(64);
  private readonly pubOut: Uint8Array;
  private readonly digest: Uint8Array;
  private readonly chainId: number;
  private readonly contract: Uint8Array;
  private readonly fingerprint: Uint8Array;
  /** The `schemaVersion` a message framed with `fingerprint` must carry. */
  private readonly version: number;
  private readonly participants: ParticipantLookup | undefined;
  private pos = 0;
  private readonly memo = new Uint8Array(MEMO_SLOTS * MEMO_ENTRY);
  private readonly memoUsed = new Uint8Array(MEMO_SLOTS);
  /** The payer of the last successful check. */
  private lastPayer = 0;

  constructor(opts: VerifierOptions) {
    this.domain = opts.domain;
    this.participants = opts.participants;
    this.secp = loadSecp256k1();
    const m = this.keccak.memory;
    this.mem = m;
    m.set(fromHex(TYPE_HASHES.Transfer), STRUCT);
    m[STRUCT + 416] = 0x01;
    m[STRUCT + 543] = 0x80;
    m[DIGEST_IN] = 0x19;
    m[DIGEST_IN + 1] = 0x01;
    m.set(fromHex(domainSeparator(opts.domain)), DIGEST_IN + 2);
    m[DIGEST_IN + 66] = 0x01;
    m[DIGEST_IN + 135] = 0x80;
    m[PUB + 1 + 64] = 0x01;
    m[PUB + 1 + 135] = 0x80;
    this.pubOut = m.subarray(PUB, PUB + 65);
    this.digest = m.subarray(DIGEST_OUT, DIGEST_OUT + 32);
    this.chainId = opts.domain.chainId <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(opts.domain.chainId) : -1;
    this.contract = fromHex(opts.domain.verifyingContract, "verifyingContract", 20);
    this.fingerprint = codecs().transfer.reader.fingerprintBytes;
    this.version = codecs().transfer.reader.version;
  }

  /** A zigzag varint (Avro int/long) at `pos`; NaN if longer than 10 bytes. */
  private readLong(w: Uint8Array): number {
    let p = this.pos;
    let b = w[p++];
    let n = b & 0x7f;
    let k = 1;
    while (b & 0x80) {
      if (k >= 10) {
        this.pos = Infinity;
        return NaN;
      }
      b = w[p++];
      n += (b & 0x7f) * POW2[k++];
    }
    this.pos = p;
    return n % 2 === 0 ? n / 2 : -(n + 1) / 2;
  }

  /**
   * Fully verifies one framed `Transfer` message. Returns 0 when the signature is the claimed signer's
   * for this domain (and, with `participants`, the signer is the channel's payer); else the reason.
   * After 0, `lastHash()` is the transfer hash. Never throws.
   */
  check(wire: Uint8Array): number {
    const w = wire;
    const n = w.length;
    if (n < 10 || w[0] !== 0xc3 || w[1] !== 0x01) return MALFORMED;
    const fp = this.fingerprint;
    for (let i = 0; i < 8; i++) if (w[2 + i] !== fp[i]) return this.checkOtherVersion(w);
    const m = this.mem;
    this.pos = 10;
    const version = this.readLong(w);
    const chainId = this.readLong(w);
    let p = this.pos;
    let wrongDomain = chainId !== this.chainId;
    const contract = this.contract;
    for (let i = 0; i < 20; i++) if (w[p + i] !== contract[i]) wrongDomain = true;
    p += 20;
    copy(w, p, m, STRUCT + 32, 32);
    p += 32;
    this.pos = p;
    const payer = this.readLong(w);
    const signerAt = this.pos;
    this.pos += 20;
    const seq = this.readLong(w);
    const kind = this.readLong(w);
    p = this.pos;
    copy(w, p, m, STRUCT + 176, 16); // amount
    copy(w, p + 16, m, STRUCT + 208, 16); // paidTotal
    copy(w, p + 32, m, STRUCT + 240, 16); // lockedTotal
    copy(w, p + 48, m, STRUCT + 256, 32); // locksRoot
    copy(w, p + 80, m, STRUCT + 288, 32); // hashlock
    copy(w, p + 112, m, STRUCT + 344, 8); // expiry
    copy(w, p + 120, m, STRUCT + 352, 32); // invoiceId
    copy(w, p + 152, m, STRUCT + 384, 32); // prev
    const sigAt = p + 184;
    this.pos = sigAt + 65;
    const appKindLength = this.readLong(w);
    if (!(appKindLength >= 0)) return MALFORMED;
    this.pos += appKindLength;
    const appDataLength = this.readLong(w);
    if (!(appDataLength >= 0)) return MALFORMED;
    this.pos += appDataLength;
    this.readLong(w); // sentAtMs
    if (this.pos !== n) return MALFORMED;
    if (version !== this.version) return MALFORMED; // the fingerprint says v1: so must the field
    if (wrongDomain) return WRONG_DOMAIN;
    if (payer !== 0 && payer !== 1) return MALFORMED;
    if (!(seq >= 1 && seq <= 0xffffffff)) return MALFORMED;
    if (!(kind >= 0 && kind <= 255)) return MALFORMED;
    if (kind > 3) return UNKNOWN_KIND;
    m[STRUCT + 95] = payer;
    m[STRUCT + 124] = seq >>> 24;
    m[STRUCT + 125] = (seq >>> 16) & 0xff;
    m[STRUCT + 126] = (seq >>> 8) & 0xff;
    m[STRUCT + 127] = seq & 0xff;
    m[STRUCT + 159] = kind;
    return this.verifyFilled(w, sigAt, w, signerAt, payer);
  }

  /** Checks kind rules, the signature and the signer for a struct already in memory. */
  private verifyFilled(
    sigSrc: Uint8Array,
    sigAt: number,
    signerSrc: Uint8Array,
    signerAt: number,
    payer: number,
  ): number {
    const m = this.mem;
    let amount = 0;
    for (let i = STRUCT + 176; i < STRUCT + 192; i++) amount |= m[i];
    if (amount === 0) return INVALID_FIELDS;
    let lock = 0;
    for (let i = STRUCT + 288; i < STRUCT + 320; i++) lock |= m[i];
    let expiry = 0;
    for (let i = STRUCT + 344; i < STRUCT + 352; i++) expiry |= m[i];
    if (m[STRUCT + 159] === 0 ? lock !== 0 || expiry !== 0 : lock === 0 || expiry === 0)
      return INVALID_FIELDS;
    const v = sigSrc[sigAt + 64];
    if (v !== 27 && v !== 28) return BAD_SIGNATURE;
    // Low s only (s <= n/2), as the contract's ECDSA.tryRecover.
    for (let i = 0; i < 32; i++) {
      const a = sigSrc[sigAt + 32 + i];
      const h = HALF_N[i];
      if (a < h) break;
      if (a > h) return BAD_SIGNATURE;
    }
    const sig = this.sig64;
    copy(sigSrc, sigAt, sig, 0, 64);
    const k = this.keccak;
    k.hashBlocks(STRUCT, 4, STRUCT_HASH);
    k.hashBlocks(DIGEST_IN, 1, DIGEST_OUT);
    if (this.secp.ecdsaRecover(this.pubOut, sig, v - 27, this.digest) !== 0) return BAD_SIGNATURE;
    const address = this.addressOfRecovered();
    const memo = this.memo;
    for (let i = 0; i < 20; i++) if (memo[address + i] !== signerSrc[signerAt + i]) return BAD_SIGNATURE;
    this.lastPayer = payer;
    if (this.participants) return this.checkParticipant(signerSrc, signerAt, payer);
    return OK;
  }

  /** Offset in `memo` of the 20-byte address of the key just recovered into memory. */
  private addressOfRecovered(): number {
    const m = this.mem;
    const memo = this.memo;
    const slot = (m[PUB + 1] | (m[PUB + 2] << 8)) & (MEMO_SLOTS - 1);
    const at = slot * MEMO_ENTRY;
    if (this.memoUsed[slot] === 1) {
      let same = true;
      for (let i = 0; i < 64; i++) {
        if (memo[at + i] !== m[PUB + 1 + i]) {
          same = false;
          break;
        }
      }
      if (same) return at + 64;
    }
    this.keccak.hashBlocks(PUB + 1, 1, ADDR_OUT);
    for (let i = 0; i < 64; i++) memo[at + i] = m[PUB + 1 + i];
    for (let i = 0; i < 20; i++) memo[at + 64 + i] = m[ADDR_OUT + 12 + i];
    this.memoUsed[slot] = 1;
    return at + 64;
  }

  private checkParticipant(signerSrc: Uint8Array, signerAt: number, payer: number): number {
    const pair = this.participants?.(toHex(this.mem, STRUCT + 32, STRUCT + 64) as Hash);
    if (!pair) return WRONG_CHANNEL;
    const expected = fromHex(pair[payer === 0 ? 0 : 1], "participant", 20);
    for (let i = 0; i < 20; i++) if (expected[i] !== signerSrc[signerAt + i]) return BAD_SIGNATURE;
    return OK;
  }

  /** Messages written with another registered schema version: resolve through Avro, then verify. */
  private checkOtherVersion(w: Uint8Array): number {
    let message: TransferMessage;
    try {
      message = codecs().transfer.decode(w);
    } catch (e) {
      return isParsecError(e) ? e.reason : MALFORMED;
    }
    return this.checkMessage(message);
  }

  /** Verifies an already decoded message (same checks as `check`). */
  checkMessage(message: TransferMessage): number {
    if (message.domain.chainId !== this.domain.chainId) return WRONG_DOMAIN;
    if (message.domain.verifyingContract !== this.domain.verifyingContract) return WRONG_DOMAIN;
    this.fillStruct(message.transfer);
    return this.verifyFilled(
      fromHex(message.transfer.signature, "signature", 65),
      0,
      fromHex(message.signer, "signer", 20),
      0,
      message.transfer.payer,
    );
  }

  private fillStruct(t: SignedTransfer): void {
    const m = this.mem;
    m.set(fromHex(t.channelId), STRUCT + 32);
    m[STRUCT + 95] = t.payer;
    writeUint(m, STRUCT + 124, 4, t.seq);
    m[STRUCT + 159] = t.kind;
    writeUint(m, STRUCT + 176, 16, t.amount);
    writeUint(m, STRUCT + 208, 16, t.paidTotal);
    writeUint(m, STRUCT + 240, 16, t.lockedTotal);
    m.set(fromHex(t.locksRoot), STRUCT + 256);
    m.set(fromHex(t.hashlock), STRUCT + 288);
    writeUint(m, STRUCT + 344, 8, t.expiry);
    m.set(fromHex(t.invoiceId), STRUCT + 352);
    m.set(fromHex(t.prev), STRUCT + 384);
  }

  /** The transfer hash computed by the last successful check (a view, valid until the next call). */
  lastHashView(): Uint8Array {
    return this.mem.subarray(STRUCT_HASH, STRUCT_HASH + 32);
  }

  /** The transfer hash of the last successful check, as hex. */
  lastHash(): Hash {
    return toHex(this.mem, STRUCT_HASH, STRUCT_HASH + 32) as Hash;
  }

  /** The payer of the last successful check. */
  lastPayerIndex(): PayerIndex {
    return this.lastPayer === 1 ? 1 : 0;
  }

  /** Verifies many wire messages; see `BatchVerifyResult`. */
  checkBatch(wires: readonly Uint8Array[]): BatchVerifyResult {
    const codes = new Uint8Array(wires.length);
    const hashes = new Uint8Array(wires.length * 32);
    const m = this.mem;
    for (let i = 0; i < wires.length; i++) {
      const code = this.check(wires[i]);
      codes[i] = code;
      if (code === OK) copy(m, STRUCT_HASH, hashes, 32 * i, 32);
    }
    return { codes, hashes };
  }

  /** Decodes and verifies one wire message; throws the typed error of its reason. */
  verify(wire: Uint8Array): VerifiedMessage {
    const message = codecs().transfer.decode(wire);
    const code = this.checkMessage(message);
    if (code !== OK) throw this.errorFor(code, message);
    return { message, hash: this.lastHash() };
  }

  /**
   * Verifies a typed signed transfer against `expectedSigner` and returns its hash (the native
   * `SignatureCheck` for `ChannelLedger`). Throws `BadSignatureError` or `InvalidTransferFieldsError`.
   */
  verifySigned(t: SignedTransfer, expectedSigner: Address): Hash {
    this.fillStruct(t);
    const code = this.verifyFilled(
      fromHex(t.signature, "signature", 65),
      0,
      fromHex(expectedSigner),
      0,
      t.payer,
    );
    if (code !== OK) {
      throw code === INVALID_FIELDS
        ? new InvalidTransferFieldsError(t.seq, t.kind, "fields break the kind's rules")
        : new BadSignatureError(`transfer seq ${t.seq} is not signed by ${expectedSigner}`);
    }
    return this.lastHash();
  }

  /** The typed error for a reason code returned by `check`. */
  errorFor(code: number, message?: TransferMessage): ParsecError {
    const where = message
      ? `transfer seq ${message.transfer.seq} of channel ${message.transfer.channelId}`
      : "transfer";
    switch (code) {
      case BAD_SIGNATURE:
        return new BadSignatureError(
          `${where} is not signed by its claimed signer (or is high-s or has a bad v)`,
        );
      case WRONG_DOMAIN:
        return new WrongDomainError(
          `chain ${this.domain.chainId} contract ${this.domain.verifyingContract}`,
          message
            ? `chain ${message.domain.chainId} contract ${message.domain.verifyingContract}`
            : "another domain",
        );
      case WRONG_CHANNEL:
        return new WrongChannelError(`${where}: the channel is unknown here`);
      case INVALID_FIELDS:
        return new InvalidTransferFieldsError(
          message?.transfer.seq ?? 0,
          message?.transfer.kind ?? 0,
          "fields break the kind's rules",
        );
      case UNKNOWN_KIND:
        return new UnknownKindError(message?.transfer.kind ?? "unknown");
      case UNKNOWN_SCHEMA:
        return new UnknownSchemaError("unknown");
      default:
        return new MalformedError(`${where} does not decode`);
    }
  }
}
