/**
 * Constructors that check raw values and return the SDK's typed objects. Everything that enters the
 * SDK from outside (wire, JSON, user input) goes through here, so invalid states never exist inside.
 */
import { checkSmallUint, checkUint, isZero, fromHex, toAddress, toHash } from "./bytes";
import { InvalidTransferFieldsError, MalformedError, UnknownKindError } from "./errors";
import {
  TransferKind,
  ZERO_HASH,
  type ChannelParams,
  type Domain,
  type Hash,
  type Lock,
  type PayerIndex,
  type Transfer,
  type TransferBody,
} from "./types";

/** A transfer body before validation: any kind code, plain values. */
export interface RawTransferBody {
  readonly seq: number;
  readonly kind: number;
  readonly amount: bigint;
  readonly paidTotal: bigint;
  readonly lockedTotal: bigint;
  readonly locksRoot: string;
  readonly hashlock: string;
  readonly expiry: bigint;
  readonly invoiceId: string;
  readonly prev: string;
}

/** The payer index, or `MalformedError`. */
export function toPayer(value: number): PayerIndex {
  if (value !== 0 && value !== 1) throw new MalformedError(`payer must be 0 or 1, got ${String(value)}`);
  return value;
}

/**
 * Checks ranges (uint32 seq ≥ 1, uint128 amounts, uint64 expiry) and the kind's field rules exactly as
 * `ChainVerifier._applyKind` does: amount > 0; PAY has zero hashlock and expiry; the others have both.
 */
export function toTransferBody(raw: RawTransferBody): TransferBody {
  const seq = checkSmallUint(raw.seq, 32, "seq");
  if (seq === 0) throw new MalformedError("seq must be at least 1 (seq 0 is the genesis state)");
  const kind = checkSmallUint(raw.kind, 8, "kind");
  if (kind > TransferKind.Cancel) throw new UnknownKindError(kind);
  const amount = checkUint(raw.amount, 128, "amount");
  const paidTotal = checkUint(raw.paidTotal, 128, "paidTotal");
  const lockedTotal = checkUint(raw.lockedTotal, 128, "lockedTotal");
  const expiry = checkUint(raw.expiry, 64, "expiry");
  const locksRoot = toHash(raw.locksRoot, "locksRoot");
  const hashlock = toHash(raw.hashlock, "hashlock");
  const invoiceId = toHash(raw.invoiceId, "invoiceId");
  const prev = toHash(raw.prev, "prev");
  if (amount === 0n) throw new InvalidTransferFieldsError(seq, kind, "amount must be greater than zero");
  const common = { seq, amount, paidTotal, lockedTotal, locksRoot, invoiceId, prev };
  const zeroLock = isZero(fromHex(hashlock));
  if (kind === TransferKind.Pay) {
    if (!zeroLock || expiry !== 0n) {
      throw new InvalidTransferFieldsError(seq, kind, "a PAY must have hashlock = 0x0 and expiry = 0");
    }
    return { ...common, kind, hashlock: ZERO_HASH, expiry: 0n };
  }
  if (zeroLock || expiry === 0n) {
    throw new InvalidTransferFieldsError(seq, kind, "LOCK, UNLOCK and CANCEL need a hashlock and an expiry");
  }
  if (kind === TransferKind.Lock) return { ...common, kind, hashlock, expiry };
  if (kind === TransferKind.Unlock) return { ...common, kind, hashlock, expiry };
  return { ...common, kind: TransferKind.Cancel, hashlock, expiry };
}

/** A full `Transfer` from a raw body, its channel and its payer. */
export function toTransfer(raw: RawTransferBody & { channelId: string; payer: number }): Transfer {
  const body = toTransferBody(raw);
  return { ...body, channelId: toHash(raw.channelId, "channelId"), payer: toPayer(raw.payer) };
}

/** Checked channel parameters (checksummed addresses, uint32 period, uint64 nonce, distinct participants). */
export function toChannelParams(raw: {
  participant0: string;
  participant1: string;
  asset: string;
  challengePeriod: number;
  nonce: bigint;
}): ChannelParams {
  const participant0 = toAddress(raw.participant0, "participant0");
  const participant1 = toAddress(raw.participant1, "participant1");
  if (participant0 === participant1) throw new MalformedError("participant0 and participant1 must differ");
  return {
    participant0,
    participant1,
    asset: toAddress(raw.asset, "asset"),
    challengePeriod: checkSmallUint(raw.challengePeriod, 32, "challengePeriod"),
    nonce: checkUint(raw.nonce, 64, "nonce"),
  };
}

/** A checked Parsec domain. */
export function toDomain(raw: { chainId: bigint | number; verifyingContract: string }): Domain {
  return {
    name: "Parsec",
    version: "1",
    chainId: checkUint(BigInt(raw.chainId), 256, "chainId"),
    verifyingContract: toAddress(raw.verifyingContract, "verifyingContract"),
  };
}

/** A checked lock. */
export function toLock(raw: { amount: bigint; expiry: bigint; hashlock: string }): Lock {
  return {
    amount: checkUint(raw.amount, 128, "lock amount"),
    expiry: checkUint(raw.expiry, 64, "lock expiry"),
    hashlock: toHash(raw.hashlock, "lock hashlock"),
  };
}

/** Whether a hash is the zero hash. */
export function isZeroHash(h: Hash): boolean {
  return h === ZERO_HASH;
}

/** A transfer body as JSON-safe fields: integers as decimal strings, bytes as `0x` hex. */
export interface TransferBodyJson {
  readonly seq: number;
  readonly kind: number;
  readonly amount: string;
  readonly paidTotal: string;
  readonly lockedTotal: string;
  readonly locksRoot: Hash;
  readonly hashlock: Hash;
  readonly expiry: string;
  readonly invoiceId: Hash;
  readonly prev: Hash;
}

/**
 * The fields of a transfer body in the JSON form every Parsec file and wallet payload uses (the inverse of
 * `toTransferBody` for them): evidence files, the signing journal, `eth_signTypedData_v4` messages.
 */
export function transferBodyJson(t: TransferBody): TransferBodyJson {
  return {
    seq: t.seq,
    kind: t.kind,
    amount: t.amount.toString(),
    paidTotal: t.paidTotal.toString(),
    lockedTotal: t.lockedTotal.toString(),
    locksRoot: t.locksRoot,
    hashlock: t.hashlock,
    expiry: t.expiry.toString(),
    invoiceId: t.invoiceId,
    prev: t.prev,
  };
}
