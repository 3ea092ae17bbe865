/**
 * The per-hop payload of the forwarding onion (protocol §11.4): what one node must do with the lock it
 * receives. Fixed size (104 bytes), so every hop's frame looks alike.
 *
 * | offset | size | field |
 * |---|---|---|
 * | 0 | 32 | `nextChannel` (zero: this node is the payee) |
 * | 32 | 16 | `amount` (uint128) |
 * | 48 | 8 | `expiry` (uint64) |
 * | 56 | 16 | `totalAmount` (uint128; final hop only, else zero) |
 * | 72 | 32 | `paymentSecret` (final hop only, else zero) |
 */
import { checkUint, fromHex, isZero, readUint, toHex, writeUint } from "../bytes";
import { OnionMalformedError } from "../errors";
import { ZERO_HASH, type Hash } from "../types";

/** Bytes of one encoded payload. */
export const ONION_PAYLOAD_SIZE = 104;

/**
 * Instructions for a mediator: lock `amount` on `nextChannel` with expiry `expiry` (the outgoing lock,
 * same hashlock as the incoming one).
 */
export interface OnionForwardPayload {
  readonly final: false;
  /** The channel to forward on (non-zero). */
  readonly nextChannel: Hash;
  /** Amount of the outgoing lock (uint128, > 0); the incoming lock's amount minus it is the fee. */
  readonly amount: bigint;
  /** Expiry of the outgoing lock (uint64, > 0, same unit as a LOCK's `expiry`). */
  readonly expiry: bigint;
}

/**
 * Instructions for the payee: accept a lock of at least `amount` with expiry at least `expiry`, as part of a
 * payment of `totalAmount` bound to the invoice by `paymentSecret`.
 */
export interface OnionFinalPayload {
  readonly final: true;
  /** The amount this lock must carry (uint128, > 0). */
  readonly amount: bigint;
  /** The smallest expiry the incoming lock may have (uint64, > 0). */
  readonly expiry: bigint;
  /** The whole payment's amount (uint128, >= `amount`; larger when the payment is split into parts). */
  readonly totalAmount: bigint;
  /** The invoice's payment secret, known only to the payer and the payee. */
  readonly paymentSecret: Hash;
}

export type OnionPayload = OnionForwardPayload | OnionFinalPayload;

/** Encodes a payload into its 104 bytes; `OnionMalformedError` / `OverflowError` for invalid fields. */
export function encodeOnionPayload(payload: OnionPayload): Uint8Array {
  const out = new Uint8Array(ONION_PAYLOAD_SIZE);
  checkUint(payload.amount, 128, "amount");
  checkUint(payload.expiry, 64, "expiry");
  if (payload.amount === 0n) throw new OnionMalformedError("amount must be > 0");
  if (payload.expiry === 0n) throw new OnionMalformedError("expiry must be > 0");
  writeUint(out, 32, 16, payload.amount);
  writeUint(out, 48, 8, payload.expiry);
  if (payload.final) {
    checkUint(payload.totalAmount, 128, "totalAmount");
    if (payload.totalAmount < payload.amount) {
      throw new OnionMalformedError("totalAmount must be >= amount", {
        amount: payload.amount,
        totalAmount: payload.totalAmount,
      });
    }
    writeUint(out, 56, 16, payload.totalAmount);
    out.set(fromHex(payload.paymentSecret, "paymentSecret", 32), 72);
  } else {
    const channel = fromHex(payload.nextChannel, "nextChannel", 32);
    if (isZero(channel)) throw new OnionMalformedError("nextChannel of a forward payload must not be zero");
    out.set(channel, 0);
  }
  return out;
}

/** Decodes 104 payload bytes; `OnionMalformedError` if they break the payload rules. */
export function decodeOnionPayload(bytes: Uint8Array): OnionPayload {
  if (bytes.length !== ONION_PAYLOAD_SIZE) {
    throw new OnionMalformedError(`payload must be ${ONION_PAYLOAD_SIZE} bytes, got ${bytes.length}`);
  }
  const amount = readUint(bytes, 32, 16);
  const expiry = readUint(bytes, 48, 8);
  if (amount === 0n) throw new OnionMalformedError("payload amount is zero");
  if (expiry === 0n) throw new OnionMalformedError("payload expiry is zero");
  if (isZero(bytes, 0, 32)) {
    const totalAmount = readUint(bytes, 56, 16);
    if (totalAmount < amount) {
      throw new OnionMalformedError("final payload totalAmount is below amount", { amount, totalAmount });
    }
    return { final: true, amount, expiry, totalAmount, paymentSecret: toHex(bytes, 72, 104) as Hash };
  }
  if (!isZero(bytes, 56, 104)) {
    throw new OnionMalformedError("a forward payload must have zero totalAmount and paymentSecret");
  }
  return { final: false, nextChannel: toHex(bytes, 0, 32) as Hash, amount, expiry };
}

/** The zero channel id that marks the final hop. */
export const ONION_FINAL_CHANNEL: Hash = ZERO_HASH;
