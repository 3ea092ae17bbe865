/**
 * The packed calldata records of protocol §6 and the argument tuples of every contract call.
 * Encoders take checked SDK objects; decoders take untrusted bytes and throw only `ParsecError`s.
 * Isomorphic (plain `Uint8Array`), so the dapp builds dispute calldata with it too.
 */
import { checkUint, fromHex, readSmallUint, readUint, toHex, writeUint } from "./bytes";
import { MalformedError } from "./errors";
import { toChannelParams, toLock, toPayer, toTransferBody } from "./validate";
import { TransferKind } from "./types";
import type {
  CancelConsent,
  ChannelParams,
  CooperativeClose,
  Hash,
  Hex,
  Lock,
  PayerIndex,
  SignedCancelConsent,
  SignedCheckpoint,
  SignedTransfer,
  TransferBody,
  TransferOrigin,
  Withdraw,
} from "./types";

/** Byte lengths of the packed records (protocol §6). */
export const RECORD_LENGTH = {
  transferBody: 189,
  signature: 65,
  signedTransfer: 254,
  params: 72,
  checkpointHeads: 72,
  checkpointRecord: 274,
  headProofRecord: 327,
  lock: 56,
  cancelConsentRecord: 69,
} as const;

/** The most locks a payer may have pending (protocol §3). */
export const MAX_PENDING_LOCKS = 64;

function requireLength(bytes: Uint8Array, offset: number, length: number, what: string): void {
  if (!(bytes instanceof Uint8Array)) throw new MalformedError(`${what} must be bytes`);
  if (offset < 0 || bytes.length - offset < length) {
    throw new MalformedError(`${what} needs ${length} bytes, got ${Math.max(0, bytes.length - offset)}`);
  }
}

function hashAt(bytes: Uint8Array, offset: number): Hash {
  return toHex(bytes, offset, offset + 32) as Hash;
}

// ---------------------------------------------------------------- TransferBody and SignedTransfer

/** Writes the 189-byte `TransferBody` of `body` into `out` at `offset`. */
export function writeTransferBody(out: Uint8Array, offset: number, body: TransferBody): void {
  writeUint(out, offset, 4, body.seq);
  out[offset + 4] = body.kind;
  writeUint(out, offset + 5, 16, checkUint(body.amount, 128, "amount"));
  writeUint(out, offset + 21, 16, checkUint(body.paidTotal, 128, "paidTotal"));
  writeUint(out, offset + 37, 16, checkUint(body.lockedTotal, 128, "lockedTotal"));
  out.set(fromHex(body.locksRoot, "locksRoot", 32), offset + 53);
  out.set(fromHex(body.hashlock, "hashlock", 32), offset + 85);
  writeUint(out, offset + 117, 8, checkUint(body.expiry, 64, "expiry"));
  out.set(fromHex(body.invoiceId, "invoiceId", 32), offset + 125);
  out.set(fromHex(body.prev, "prev", 32), offset + 157);
}

/** The packed `TransferBody` (189 bytes). */
export function encodeTransferBody(body: TransferBody): Uint8Array {
  const out = new Uint8Array(RECORD_LENGTH.transferBody);
  writeTransferBody(out, 0, body);
  return out;
}

/** Reads and checks a packed `TransferBody` at `offset`. */
export function decodeTransferBody(bytes: Uint8Array, offset = 0): TransferBody {
  requireLength(bytes, offset, RECORD_LENGTH.transferBody, "TransferBody");
  return toTransferBody({
    seq: readSmallUint(bytes, offset, 4),
    kind: bytes[offset + 4],
    amount: readUint(bytes, offset + 5, 16),
    paidTotal: readUint(bytes, offset + 21, 16),
    lockedTotal: readUint(bytes, offset + 37, 16),
    locksRoot: hashAt(bytes, offset + 53),
    hashlock: hashAt(bytes, offset + 85),
    expiry: readUint(bytes, offset + 117, 8),
    invoiceId: hashAt(bytes, offset + 125),
    prev: hashAt(bytes, offset + 157),
  });
}

/** The packed `SignedTransfer` (254 bytes): body then `r || s || v`. */
export function encodeSignedTransfer(t: SignedTransfer): Uint8Array {
  const out = new Uint8Array(RECORD_LENGTH.signedTransfer);
  writeTransferBody(out, 0, t);
  out.set(fromHex(t.signature, "signature", 65), RECORD_LENGTH.transferBody);
  return out;
}

/** Reads a packed `SignedTransfer`; channel and payer come from the surrounding call. */
export function decodeSignedTransfer(bytes: Uint8Array, origin: TransferOrigin, offset = 0): SignedTransfer {
  requireLength(bytes, offset, RECORD_LENGTH.signedTransfer, "SignedTransfer");
  const body = decodeTransferBody(bytes, offset);
  const sigAt = offset + RECORD_LENGTH.transferBody;
  return {
    ...body,
    channelId: origin.channelId,
    payer: toPayer(origin.payer),
    signature: toHex(bytes, sigAt, sigAt + RECORD_LENGTH.signature),
  };
}

/** Packed `SignedTransfer`s back to back (the `transfers` argument of `extendChain`). */
export function encodeSignedTransfers(transfers: readonly SignedTransfer[]): Uint8Array {
  const out = new Uint8Array(transfers.length * RECORD_LENGTH.signedTransfer);
  transfers.forEach((t, i) => out.set(encodeSignedTransfer(t), i * RECORD_LENGTH.signedTransfer));
  return out;
}

/** Reads back-to-back packed `SignedTransfer`s. */
export function decodeSignedTransfers(bytes: Uint8Array, origin: TransferOrigin): SignedTransfer[] {
  if (bytes.length % RECORD_LENGTH.signedTransfer !== 0) {
    throw new MalformedError(`transfers length ${bytes.length} is not a multiple of 254`);
  }
  const out: SignedTransfer[] = [];
  for (let o = 0; o < bytes.length; o += RECORD_LENGTH.signedTransfer)
    out.push(decodeSignedTransfer(bytes, origin, o));
  return out;
}

// ---------------------------------------------------------------- PackedParams

/** The packed `ChannelParams` (72 bytes). */
export function encodeParams(params: ChannelParams): Uint8Array {
  const out = new Uint8Array(RECORD_LENGTH.params);
  out.set(fromHex(params.participant0, "participant0", 20), 0);
  out.set(fromHex(params.participant1, "participant1", 20), 20);
  out.set(fromHex(params.asset, "asset", 20), 40);
  writeUint(out, 60, 4, params.challengePeriod);
  writeUint(out, 64, 8, checkUint(params.nonce, 64, "nonce"));
  return out;
}

/** Reads packed `ChannelParams` at `offset`. */
export function decodeParams(bytes: Uint8Array, offset = 0): ChannelParams {
  requireLength(bytes, offset, RECORD_LENGTH.params, "PackedParams");
  return toChannelParams({
    participant0: toHex(bytes, offset, offset + 20),
    participant1: toHex(bytes, offset + 20, offset + 40),
    asset: toHex(bytes, offset + 40, offset + 60),
    challengePeriod: readSmallUint(bytes, offset + 60, 4),
    nonce: readUint(bytes, offset + 64, 8),
  });
}

// ---------------------------------------------------------------- Locks

/** One packed lock (56 bytes). */
export function encodeLock(lock: Lock): Uint8Array {
  const out = new Uint8Array(RECORD_LENGTH.lock);
  writeUint(out, 0, 16, checkUint(lock.amount, 128, "lock amount"));
  writeUint(out, 16, 8, checkUint(lock.expiry, 64, "lock expiry"));
  out.set(fromHex(lock.hashlock, "lock hashlock", 32), 24);
  return out;
}

/** A packed pending-lock list (what `locksRoot` hashes and `resolveLocks` takes). */
export function encodeLocks(locks: readonly Lock[]): Uint8Array {
  const out = new Uint8Array(locks.length * RECORD_LENGTH.lock);
  locks.forEach((l, i) => out.set(encodeLock(l), i * RECORD_LENGTH.lock));
  return out;
}

/** Reads a packed pending-lock list. */
export function decodeLocks(bytes: Uint8Array): Lock[] {
  if (!(bytes instanceof Uint8Array) || bytes.length % RECORD_LENGTH.lock !== 0) {
    throw new MalformedError(`a lock list must be a multiple of 56 bytes`);
  }
  if (bytes.length / RECORD_LENGTH.lock > MAX_PENDING_LOCKS) {
    throw new MalformedError(`a lock list holds at most ${MAX_PENDING_LOCKS} locks`);
  }
  const out: Lock[] = [];
  for (let o = 0; o < bytes.length; o += RECORD_LENGTH.lock) {
    out.push(
      toLock({
        amount: readUint(bytes, o, 16),
        expiry: readUint(bytes, o + 16, 8),
        hashlock: hashAt(bytes, o + 24),
      }),
    );
  }
  return out;
}

// ---------------------------------------------------------------- CheckpointRecord

/** A checkpoint record without its channel id (the record carries the params it derives from). */
export interface CheckpointRecord {
  readonly params: ChannelParams;
  readonly seq0: number;
  readonly head0: Hash;
  readonly seq1: number;
  readonly head1: Hash;
  readonly sig0: Hex;
  readonly sig1: Hex;
}

/** The packed `CheckpointRecord` (274 bytes) of a co-signed checkpoint. */
export function encodeCheckpointRecord(params: ChannelParams, c: SignedCheckpoint): Uint8Array {
  const out = new Uint8Array(RECORD_LENGTH.checkpointRecord);
  out.set(encodeParams(params), 0);
  writeUint(out, 72, 4, c.seq0);
  out.set(fromHex(c.head0, "head0", 32), 76);
  writeUint(out, 108, 4, c.seq1);
  out.set(fromHex(c.head1, "head1", 32), 112);
  out.set(fromHex(c.sig0, "sig0", 65), 144);
  out.set(fromHex(c.sig1, "sig1", 65), 209);
  return out;
}

/** Reads a packed `CheckpointRecord`. */
export function decodeCheckpointRecord(bytes: Uint8Array, offset = 0): CheckpointRecord {
  requireLength(bytes, offset, RECORD_LENGTH.checkpointRecord, "CheckpointRecord");
  const o = offset;
  return {
    params: decodeParams(bytes, o),
    seq0: readSmallUint(bytes, o + 72, 4),
    head0: hashAt(bytes, o + 76),
    seq1: readSmallUint(bytes, o + 108, 4),
    head1: hashAt(bytes, o + 112),
    sig0: toHex(bytes, o + 144, o + 209),
    sig1: toHex(bytes, o + 209, o + 274),
  };
}

// ---------------------------------------------------------------- HeadProofRecord

/** A head proof: payer's signed transfer and the on-chain heads it replaces one of. */
export interface HeadProofRecord {
  readonly params: ChannelParams;
  readonly payer: PayerIndex;
  readonly transfer: SignedTransfer;
}

/** The packed `HeadProofRecord` (327 bytes). */
export function encodeHeadProofRecord(r: HeadProofRecord): Uint8Array {
  if (r.transfer.payer !== r.payer) throw new MalformedError("the head proof's transfer is not the payer's");
  const out = new Uint8Array(RECORD_LENGTH.headProofRecord);
  out.set(encodeParams(r.params), 0);
  out[72] = r.payer;
  out.set(encodeSignedTransfer(r.transfer), 73);
  return out;
}

/** Reads a packed `HeadProofRecord`; `channelId` is the id of its params (the caller derives it). */
export function decodeHeadProofRecord(bytes: Uint8Array, channelId: Hash, offset = 0): HeadProofRecord {
  requireLength(bytes, offset, RECORD_LENGTH.headProofRecord, "HeadProofRecord");
  const payer = toPayer(bytes[offset + 72]);
  return {
    params: decodeParams(bytes, offset),
    payer,
    transfer: decodeSignedTransfer(bytes, { channelId, payer }, offset + 73),
  };
}

// ---------------------------------------------------------------- contract call arguments

/** Hex of bytes, as ethers takes `bytes` arguments. */
export function bytesArg(bytes: Uint8Array): Hex {
  return toHex(bytes);
}

/** `checkpoint(record)`. */
export function checkpointArgs(params: ChannelParams, c: SignedCheckpoint): readonly [Hex] {
  return [bytesArg(encodeCheckpointRecord(params, c))];
}

/** `checkpointBatch(records)`. */
export function checkpointBatchArgs(
  entries: readonly { readonly params: ChannelParams; readonly checkpoint: SignedCheckpoint }[],
): readonly [Hex] {
  if (entries.length === 0) throw new MalformedError("a checkpoint batch needs at least one entry");
  const out = new Uint8Array(entries.length * RECORD_LENGTH.checkpointRecord);
  entries.forEach((e, i) =>
    out.set(encodeCheckpointRecord(e.params, e.checkpoint), i * RECORD_LENGTH.checkpointRecord),
  );
  return [bytesArg(out)];
}

/** `proveHead(record)`. */
export function proveHeadArgs(r: HeadProofRecord): readonly [Hex] {
  return [bytesArg(encodeHeadProofRecord(r))];
}

/** `proveHeads(records)`. */
export function proveHeadsArgs(records: readonly HeadProofRecord[]): readonly [Hex] {
  if (records.length === 0) throw new MalformedError("a head-proof batch needs at least one entry");
  const out = new Uint8Array(records.length * RECORD_LENGTH.headProofRecord);
  records.forEach((r, i) => out.set(encodeHeadProofRecord(r), i * RECORD_LENGTH.headProofRecord));
  return [bytesArg(out)];
}

/** The arguments of `extendChain`. */
export type ExtendChainArgs = readonly [
  params: ChannelParams,
  payer: PayerIndex,
  startBody: Hex,
  otherHead: Hash,
  startLocks: Hex,
  transfers: Hex,
];

/**
 * `extendChain(params, payer, startBody, otherHead, startLocks, transfers)`: `start` is the on-chain head
 * of payer's chain or an earlier transfer of it (`null`: genesis) with its pending locks; `transfers`
 * continue it and must run through the on-chain head. `otherHead` is the other payer's head in the
 * checkpoint word (read only when payer's on-chain head is the checkpoint's).
 */
export function extendChainArgs(input: {
  readonly params: ChannelParams;
  readonly payer: PayerIndex;
  readonly startBody: TransferBody | null;
  readonly startLocks: readonly Lock[];
  readonly otherHead: Hash;
  readonly transfers: readonly SignedTransfer[];
}): ExtendChainArgs {
  if (input.transfers.length === 0) throw new MalformedError("a chain extension needs at least one transfer");
  if (input.transfers.some((t) => t.payer !== input.payer))
    throw new MalformedError("all transfers must be the payer's");
  return [
    input.params,
    input.payer,
    bytesArg(input.startBody ? encodeTransferBody(input.startBody) : new Uint8Array(0)),
    input.otherHead,
    bytesArg(encodeLocks(input.startLocks)),
    bytesArg(encodeSignedTransfers(input.transfers)),
  ];
}

/**
 * `settle(params, head0, head1, checkpointHead0, checkpointHead1)`: the bodies of the on-chain heads
 * (`null` where the seq is 0) and the two heads of the checkpoint word (zero when there is none).
 */
export function settleArgs(
  params: ChannelParams,
  head0: TransferBody | null,
  head1: TransferBody | null,
  checkpointHeads: { readonly head0: Hash; readonly head1: Hash },
): readonly [ChannelParams, Hex, Hex, Hash, Hash] {
  const enc = (b: TransferBody | null): Hex => bytesArg(b ? encodeTransferBody(b) : new Uint8Array(0));
  return [
    params,
    enc(head0),
    enc(head1),
    toHex(fromHex(checkpointHeads.head0, "checkpointHead0", 32)) as Hash,
    toHex(fromHex(checkpointHeads.head1, "checkpointHead1", 32)) as Hash,
  ];
}

/** `resolveLocks(params, payer, locks, preimages)`: preimages empty or one per lock (`null` → 0x0). */
export function resolveLocksArgs(
  params: ChannelParams,
  payer: PayerIndex,
  locks: readonly Lock[],
  preimages: readonly (Hash | null)[] = [],
): readonly [ChannelParams, PayerIndex, Hex, Hash[]] {
  if (preimages.length !== 0 && preimages.length !== locks.length) {
    throw new MalformedError(
      `preimages must be empty or one per lock (${locks.length}), got ${preimages.length}`,
    );
  }
  const zero = toHex(new Uint8Array(32)) as Hash;
  return [params, payer, bytesArg(encodeLocks(locks)), preimages.map((p) => p ?? zero)];
}

/** `proveEquivocation(params, payer, transferA, transferB)`. */
export function proveEquivocationArgs(
  params: ChannelParams,
  a: SignedTransfer,
  b: SignedTransfer,
): readonly [ChannelParams, PayerIndex, Hex, Hex] {
  if (a.payer !== b.payer || a.channelId !== b.channelId || a.seq !== b.seq) {
    throw new MalformedError("an equivocation needs two transfers of one payer, channel and seq");
  }
  const ea = encodeSignedTransfer(a);
  const eb = encodeSignedTransfer(b);
  if (
    toHex(ea.subarray(0, RECORD_LENGTH.transferBody)) === toHex(eb.subarray(0, RECORD_LENGTH.transferBody))
  ) {
    throw new MalformedError("the two transfers are identical: not an equivocation");
  }
  return [params, a.payer, bytesArg(ea), bytesArg(eb)];
}

/**
 * How long a cooperative close stays usable by default, and the longest a participant should co-sign: a
 * signed close can be replayed until it expires, and no transfer is safe in the channel until then.
 */
export const DEFAULT_COOPERATIVE_CLOSE_VALIDITY_SECONDS = 3600;
export const MAX_COOPERATIVE_CLOSE_VALIDITY_SECONDS = 86_400;

/** The `terms` tuple of `cooperativeClose`. */
export interface CooperativeCloseTerms {
  readonly seq0: number;
  readonly seq1: number;
  readonly balance0: bigint;
  readonly balance1: bigint;
  readonly expiry: bigint;
}

/** `cooperativeClose(params, terms, sig0, sig1)` with `terms = (seq0, seq1, balance0, balance1, expiry)`. */
export function cooperativeCloseArgs(
  params: ChannelParams,
  close: CooperativeClose,
  sig0: Hex,
  sig1: Hex,
): readonly [ChannelParams, CooperativeCloseTerms, Hex, Hex] {
  return [
    params,
    {
      seq0: Number(checkUint(BigInt(close.seq0), 32, "seq0")),
      seq1: Number(checkUint(BigInt(close.seq1), 32, "seq1")),
      balance0: checkUint(close.balance0, 128, "balance0"),
      balance1: checkUint(close.balance1, 128, "balance1"),
      expiry: checkUint(close.expiry, 64, "expiry"),
    },
    bytesArg(fromHex(sig0, "sig0", 65)),
    bytesArg(fromHex(sig1, "sig1", 65)),
  ];
}

/** `withdraw(params, nonce, amount0, amount1, expiry, sig0, sig1)`. */
export function withdrawArgs(
  params: ChannelParams,
  w: Withdraw,
  sig0: Hex,
  sig1: Hex,
): readonly [ChannelParams, number, bigint, bigint, bigint, Hex, Hex] {
  return [
    params,
    w.nonce,
    checkUint(w.amount0, 128, "amount0"),
    checkUint(w.amount1, 128, "amount1"),
    checkUint(w.expiry, 64, "expiry"),
    bytesArg(fromHex(sig0, "sig0", 65)),
    bytesArg(fromHex(sig1, "sig1", 65)),
  ];
}

/** The arguments of `extendChainUsingConsentedCancels`: `extendChain`'s and the packed consents. */
export type ExtendChainWithConsentsArgs = readonly [...ExtendChainArgs, consents: Hex];

/**
 * Packed `CancelConsentRecord`s (`seq:u32 signature:65`, 69 bytes each): the channel, payer and lock of a
 * consent are those of the CANCEL at its seq in the piece, so only the seq and the signature travel.
 */
export function encodeCancelConsentRecords(
  consents: readonly Pick<SignedCancelConsent, "seq" | "signature">[],
) {
  const unit = RECORD_LENGTH.cancelConsentRecord;
  const out = new Uint8Array(consents.length * unit);
  consents.forEach((c, i) => {
    writeUint(out, i * unit, 4, c.seq);
    out.set(fromHex(c.signature, "consent signature", RECORD_LENGTH.signature), i * unit + 4);
  });
  return out;
}

/**
 * `extendChainUsingConsentedCancels(params, payer, startBody, otherHead, startLocks, transfers, consents)`: a chain
 * piece (as `extendChainArgs`) with the payee's consents to CANCELs of it. Every consent must be the payer's
 * chain's and name a CANCEL of the piece (else `Malformed`: it could never be used).
 */
export function extendChainWithConsentsArgs(
  input: Parameters<typeof extendChainArgs>[0] & { readonly consents: readonly SignedCancelConsent[] },
): ExtendChainWithConsentsArgs {
  const cancels = new Set(input.transfers.filter((t) => t.kind === TransferKind.Cancel).map((t) => t.seq));
  const stray = input.consents.find((c: CancelConsent) => c.payer !== input.payer || !cancels.has(c.seq));
  if (stray) throw new MalformedError(`the consent for seq ${stray.seq} names no CANCEL of this piece`);
  return [...extendChainArgs(input), bytesArg(encodeCancelConsentRecords(input.consents))];
}
