/**
 * The JSON forms of a signed transfer and of a routed payment's peer message, as the node's HTTP payments
 * API and its browser clients exchange them: integers that may exceed 2^53 as decimal strings, bytes as
 * `0x` hex. A transfer's body fields are those of the evidence file and the signing journal
 * (`transferBodyJson`). Parsing checks every field and throws a `MalformedError` naming it; signatures are
 * the caller's to verify (the node recovers them). Browser-safe.
 */
import { checkSmallUint, checkUint, isHexOfLength, toAddress, toHash } from "./bytes";
import { MalformedError } from "./errors";
import {
  PAYMENT_MESSAGE_KINDS,
  type PaymentMessage,
  type PaymentMessageBody,
  type PaymentMessageKind,
} from "./routing/payment-message-types";
import type { SignedChannelUpdate } from "./routing/graph";
import type { Address, ChannelParams, Hash, Hex, PayerIndex, SignedTransfer } from "./types";
import { toTransfer, transferBodyJson, type TransferBodyJson } from "./validate";

/** A signed transfer as JSON: its channel, payer, body fields (as in evidence files) and signature. */
export interface SignedTransferJson extends TransferBodyJson {
  readonly channelId: Hash;
  readonly payer: PayerIndex;
  readonly signature: Hex;
}

/** The body of a peer message as JSON, by kind (a CONSENT's `seq` stays a number: it is a uint32). */
export type PaymentMessageBodyJson =
  | { readonly kind: "SECRET"; readonly secret: Hash }
  | { readonly kind: "FAIL"; readonly failure: Hex }
  | { readonly kind: "ACK" }
  | {
      readonly kind: "CONSENT";
      readonly consent: { readonly seq: number; readonly transfer: Hash; readonly signature: Hex };
    };

/** A signed peer message as JSON. */
export type PaymentMessageJson = PaymentMessageBodyJson & {
  readonly schemaVersion: number;
  readonly domain: { readonly chainId: string; readonly verifyingContract: Address };
  readonly channelId: Hash;
  readonly payer: PayerIndex;
  /** The LOCK's seq, a decimal string (the SDK type is a bigint). */
  readonly seq: string;
  readonly hashlock: Hash;
  readonly sender: Address;
  readonly signature: Hex;
  readonly sentAtMs: number;
};

/** A peer message's failure packet is at most this long (the onion failure message is 288 bytes). */
const MAX_FAILURE_BYTES = 1024;

export function signedTransferToJson(t: SignedTransfer): SignedTransferJson {
  return { channelId: t.channelId, payer: t.payer, ...transferBodyJson(t), signature: t.signature };
}

export function paymentMessageToJson(m: PaymentMessage): PaymentMessageJson {
  const head = {
    schemaVersion: m.schemaVersion,
    domain: { chainId: m.domain.chainId.toString(), verifyingContract: m.domain.verifyingContract },
    channelId: m.channelId,
    payer: m.payer,
    seq: m.seq.toString(),
    hashlock: m.hashlock,
    sender: m.sender,
    signature: m.signature,
    sentAtMs: m.sentAtMs,
  };
  return { ...head, ...bodyToJson(m) };
}

function bodyToJson(m: PaymentMessageBody): PaymentMessageBodyJson {
  switch (m.kind) {
    case "SECRET":
      return { kind: "SECRET", secret: m.secret };
    case "FAIL":
      return { kind: "FAIL", failure: m.failure };
    case "ACK":
      return { kind: "ACK" };
    case "CONSENT":
      return {
        kind: "CONSENT",
        consent: { seq: m.consent.seq, transfer: m.consent.transfer, signature: m.consent.signature },
      };
  }
}

// Parsing: `field` is the path of the value in the caller's document, so an error names what to fix.

function obj(v: unknown, field: string): Record<string, unknown> {
  if (typeof v !== "object" || v === null || Array.isArray(v))
    throw new MalformedError(`${field} must be an object`);
  return v as Record<string, unknown>;
}

function str(v: unknown, field: string): string {
  if (typeof v !== "string") throw new MalformedError(`${field} must be a string`);
  return v;
}

function int(v: unknown, field: string, bits: number): number {
  if (typeof v !== "number") throw new MalformedError(`${field} must be a number`);
  return checkSmallUint(v, bits, field);
}

function big(v: unknown, field: string, bits: number): bigint {
  if (typeof v !== "string" || !/^(0|[1-9][0-9]*)$/.test(v))
    throw new MalformedError(`${field} must be a decimal integer string, e.g. "1000"`);
  return checkUint(BigInt(v), bits, field);
}

function hash(v: unknown, field: string): Hash {
  return toHash(str(v, field), field);
}

function bytes(v: unknown, field: string, length: number): Hex {
  if (!isHexOfLength(v, length)) throw new MalformedError(`${field} must be ${length} bytes of 0x hex`);
  return v.toLowerCase() as Hex;
}

function payerOf(v: unknown, field: string): PayerIndex {
  if (v !== 0 && v !== 1) throw new MalformedError(`${field} must be 0 or 1`);
  return v;
}

/** Parses `signedTransferToJson`'s form (as a value, not text); `field` names it in errors. */
export function signedTransferFromJson(v: unknown, field = "transfer"): SignedTransfer {
  const r = obj(v, field);
  const t = toTransfer({
    channelId: hash(r.channelId, `${field}.channelId`),
    payer: payerOf(r.payer, `${field}.payer`),
    seq: int(r.seq, `${field}.seq`, 32),
    kind: int(r.kind, `${field}.kind`, 8),
    amount: big(r.amount, `${field}.amount`, 128),
    paidTotal: big(r.paidTotal, `${field}.paidTotal`, 128),
    lockedTotal: big(r.lockedTotal, `${field}.lockedTotal`, 128),
    locksRoot: hash(r.locksRoot, `${field}.locksRoot`),
    hashlock: hash(r.hashlock, `${field}.hashlock`),
    expiry: big(r.expiry, `${field}.expiry`, 64),
    invoiceId: hash(r.invoiceId, `${field}.invoiceId`),
    prev: hash(r.prev, `${field}.prev`),
  });
  return { ...t, signature: bytes(r.signature, `${field}.signature`, 65) };
}

function bodyFromJson(r: Record<string, unknown>, field: string): PaymentMessageBody {
  const kind = r.kind;
  if (typeof kind !== "string" || !(PAYMENT_MESSAGE_KINDS as readonly string[]).includes(kind)) {
    throw new MalformedError(`${field}.kind must be one of ${PAYMENT_MESSAGE_KINDS.join(", ")}`);
  }
  switch (kind as PaymentMessageKind) {
    case "SECRET":
      return { kind: "SECRET", secret: hash(r.secret, `${field}.secret`) };
    case "FAIL": {
      const failure = str(r.failure, `${field}.failure`);
      if (!/^0x([0-9a-fA-F]{2})*$/.test(failure) || failure.length > 2 + 2 * MAX_FAILURE_BYTES)
        throw new MalformedError(`${field}.failure must be 0x hex of at most ${MAX_FAILURE_BYTES} bytes`);
      return { kind: "FAIL", failure: failure.toLowerCase() as Hex };
    }
    case "ACK":
      return { kind: "ACK" };
    case "CONSENT": {
      const c = obj(r.consent, `${field}.consent`);
      return {
        kind: "CONSENT",
        consent: {
          seq: int(c.seq, `${field}.consent.seq`, 32),
          transfer: hash(c.transfer, `${field}.consent.transfer`),
          signature: bytes(c.signature, `${field}.consent.signature`, 65),
        },
      };
    }
  }
}

/**
 * Parses `paymentMessageToJson`'s form; `field` names it in errors. The message's own rules (a SECRET
 * opens the hashlock) and its signature are checked by the SDK's `checkPaymentMessage` /
 * `verifyPaymentMessage`.
 */
export function paymentMessageFromJson(v: unknown, field = "message"): PaymentMessage {
  const r = obj(v, field);
  const d = obj(r.domain, `${field}.domain`);
  const sentAtMs = r.sentAtMs ?? 0;
  if (typeof sentAtMs !== "number" || !Number.isSafeInteger(sentAtMs) || sentAtMs < 0)
    throw new MalformedError(`${field}.sentAtMs must be a non-negative integer (Unix ms)`);
  const seq = big(r.seq, `${field}.seq`, 32);
  if (seq === 0n) throw new MalformedError(`${field}.seq must be 1 … 2^32 − 1`);
  return {
    schemaVersion: int(r.schemaVersion, `${field}.schemaVersion`, 16),
    domain: {
      name: "Parsec",
      version: "1",
      chainId: big(d.chainId, `${field}.domain.chainId`, 256),
      verifyingContract: toAddress(
        str(d.verifyingContract, `${field}.domain.verifyingContract`),
        `${field}.domain.verifyingContract`,
      ),
    },
    channelId: hash(r.channelId, `${field}.channelId`),
    payer: payerOf(r.payer, `${field}.payer`),
    seq,
    hashlock: hash(r.hashlock, `${field}.hashlock`),
    ...bodyFromJson(r, field),
    sender: toAddress(str(r.sender, `${field}.sender`), `${field}.sender`),
    signature: bytes(r.signature, `${field}.signature`, 65),
    sentAtMs,
  };
}

/**
 * A channel's announced direction as the node's `GET /graph` serves it: the signed `ChannelUpdate`, its
 * announcer and the channel's parameters, so a reader checks `channelIdOf(domain, channel) = channelId`
 * and the signature itself instead of trusting the node.
 */
export interface GraphEntryJson {
  readonly announcer: Address;
  readonly channel: {
    readonly participant0: Address;
    readonly participant1: Address;
    readonly asset: Address;
    readonly challengePeriod: number;
    readonly nonce: string;
  };
  readonly update: {
    readonly channelId: Hash;
    readonly direction: 0 | 1;
    readonly timestamp: string;
    readonly capacity: string;
    readonly feeBase: string;
    readonly feePpm: number;
    readonly expiryDelta: number;
    readonly htlcMinimum: string;
    readonly htlcMaximum: string;
    readonly disabled: boolean;
    readonly signature: Hex;
  };
}

/** A graph entry read back: the update, its announcer and the channel's parameters. */
export interface GraphEntry {
  readonly announcer: Address;
  readonly channel: ChannelParams;
  readonly update: SignedChannelUpdate;
}

export function graphEntryToJson(e: GraphEntry): GraphEntryJson {
  const u = e.update;
  return {
    announcer: e.announcer,
    channel: { ...e.channel, nonce: e.channel.nonce.toString() },
    update: {
      channelId: u.channelId,
      direction: u.direction,
      timestamp: u.timestamp.toString(),
      capacity: u.capacity.toString(),
      feeBase: u.feeBase.toString(),
      feePpm: u.feePpm,
      expiryDelta: u.expiryDelta,
      htlcMinimum: u.htlcMinimum.toString(),
      htlcMaximum: u.htlcMaximum.toString(),
      disabled: u.disabled,
      signature: u.signature,
    },
  };
}

/** Parses `graphEntryToJson`'s form; the update's signature and channel are the reader's to check. */
export function graphEntryFromJson(v: unknown, field = "entry"): GraphEntry {
  const r = obj(v, field);
  const c = obj(r.channel, `${field}.channel`);
  const u = obj(r.update, `${field}.update`);
  const f = `${field}.update`;
  if (typeof u.disabled !== "boolean") throw new MalformedError(`${f}.disabled must be true or false`);
  return {
    announcer: toAddress(str(r.announcer, `${field}.announcer`), `${field}.announcer`),
    channel: {
      participant0: toAddress(
        str(c.participant0, `${field}.channel.participant0`),
        `${field}.channel.participant0`,
      ),
      participant1: toAddress(
        str(c.participant1, `${field}.channel.participant1`),
        `${field}.channel.participant1`,
      ),
      asset: toAddress(str(c.asset, `${field}.channel.asset`), `${field}.channel.asset`),
      challengePeriod: int(c.challengePeriod, `${field}.channel.challengePeriod`, 32),
      nonce: big(c.nonce, `${field}.channel.nonce`, 64),
    },
    update: {
      channelId: hash(u.channelId, `${f}.channelId`),
      direction: payerOf(u.direction, `${f}.direction`),
      timestamp: big(u.timestamp, `${f}.timestamp`, 64),
      capacity: big(u.capacity, `${f}.capacity`, 128),
      feeBase: big(u.feeBase, `${f}.feeBase`, 128),
      feePpm: int(u.feePpm, `${f}.feePpm`, 32),
      expiryDelta: int(u.expiryDelta, `${f}.expiryDelta`, 32),
      htlcMinimum: big(u.htlcMinimum, `${f}.htlcMinimum`, 128),
      htlcMaximum: big(u.htlcMaximum, `${f}.htlcMaximum`, 128),
      disabled: u.disabled,
      signature: bytes(u.signature, `${f}.signature`, 65),
    },
  };
}
