/**
 * Failure messages of routed payments (protocol §11.4): a hop that cannot forward (or the payee, refusing)
 * fails the incoming lock back with a reason code. The message is authenticated with that hop's key and
 * encrypted again by every hop on the way back, so only the payer reads it, and a hop that alters it is
 * detected.
 *
 * Message (288 bytes before encryption): `hmac (32) || code (uint16) || dataLength (uint16) || data ||
 * zero padding` with the body after the HMAC always 256 bytes.
 */
import { checkSmallUint, readSmallUint, writeUint } from "../bytes";
import { OnionFailureUnreadableError, OnionMalformedError } from "../errors";
import {
  constantTimeEqual,
  deriveKey,
  mac,
  onionBytes,
  onionSha256,
  xorStream,
  type OnionBytes,
} from "./onion-crypto";

/** Reason codes (uint16) a failing hop reports; stable numbers, only append. */
export const OnionFailureCode = {
  /** Any hop: a transient problem (overloaded, a restart); the same route may work later. */
  TemporaryFailure: 1,
  /** Any hop: the node forwards nothing at all; avoid the node. */
  PermanentNodeFailure: 2,
  /** Reported by the hop before the one that could not open the onion; `hopData` = sha256(the packet it sent). */
  InvalidOnion: 3,
  /** Mediator: `nextChannel` is not one of its channels (or not to a peer it knows). */
  UnknownNextChannel: 16,
  /** Mediator: the next channel exists but is closing, closed or switched off. */
  ChannelDisabled: 17,
  /** Mediator: the next channel cannot carry `amount` now (available balance, lock count). */
  InsufficientCapacity: 18,
  /** Mediator: incoming amount − outgoing amount is below its fee. */
  FeeInsufficient: 19,
  /** Mediator or payee: the incoming lock's expiry leaves too little time (delta or payee minimum). */
  ExpiryTooSoon: 20,
  /** Mediator: the outgoing lock's expiry is further in the future than it accepts. */
  ExpiryTooFar: 21,
  /** Payee: unknown hashlock, wrong `paymentSecret`, or `totalAmount` not the invoice's. */
  UnknownPayment: 32,
  /** Payee: the incoming lock carries less than the payload's `amount`, or an expiry below its `expiry`. */
  IncorrectAmount: 33,
} as const;
export type OnionFailureName = keyof typeof OnionFailureCode;
export type OnionFailureCode = (typeof OnionFailureCode)[OnionFailureName];

/** Bytes of the authenticated body: code, data length, data, padding. */
export const ONION_FAILURE_BODY_SIZE = 256;
/** Bytes of a failure message on the wire. */
export const ONION_FAILURE_SIZE = 32 + ONION_FAILURE_BODY_SIZE;
/** Most bytes of `hopData`. */
export const ONION_FAILURE_MAX_DATA = ONION_FAILURE_BODY_SIZE - 4;

const NAME_OF = new Map<number, OnionFailureName>(
  Object.entries(OnionFailureCode).map(([name, code]) => [code, name as OnionFailureName]),
);

export interface CreateFailureParameters {
  /** The reason (`OnionFailureCode`); numbers outside the table are allowed for later versions. */
  readonly code: number;
  /** Data the code defines (at most 252 bytes), e.g. the channel id for channel failures. */
  readonly hopData?: OnionBytes;
}

export interface DecodeFailureReturnType {
  /** Index in the route (0 = the first mediator) of the hop that failed. */
  readonly hop: number;
  readonly code: number;
  /** The code's name, `null` for a code this SDK does not know. */
  readonly name: OnionFailureName | null;
  readonly hopData: Uint8Array;
}

/**
 * Builds the failure a hop sends back for the lock it received: authenticated with its shared secret
 * (from `peelOnion`) and encrypted once with it.
 */
export function createFailure(sharedSecret: OnionBytes, params: CreateFailureParameters): Uint8Array {
  const secret = onionBytes(sharedSecret, "sharedSecret", 32);
  checkSmallUint(params.code, 16, "code");
  const data = params.hopData === undefined ? new Uint8Array(0) : onionBytes(params.hopData, "hopData");
  if (data.length > ONION_FAILURE_MAX_DATA) {
    throw new OnionMalformedError(`hopData is ${data.length} bytes; at most ${ONION_FAILURE_MAX_DATA}`);
  }
  const message = new Uint8Array(ONION_FAILURE_SIZE);
  const body = message.subarray(32);
  writeUint(body, 0, 2, params.code);
  writeUint(body, 2, 2, data.length);
  body.set(data, 4);
  message.set(mac(deriveKey(secret, "failureMac"), body), 0);
  return xorStream(deriveKey(secret, "failureStream"), message);
}

/**
 * Adds this hop's layer to a failure coming back from downstream before passing it on to its own
 * previous hop. Throws `OnionMalformedError` for a failure of the wrong size; the hop then sends its own
 * `TemporaryFailure` instead.
 */
export function forwardFailure(sharedSecret: OnionBytes, failure: OnionBytes): Uint8Array {
  const secret = onionBytes(sharedSecret, "sharedSecret", 32);
  const message = onionBytes(failure, "failure", ONION_FAILURE_SIZE).slice();
  return xorStream(deriveKey(secret, "failureStream"), message);
}

/**
 * The payer's reading of a failure: removes the layers hop by hop (shared secrets from `createOnion`, in
 * route order) until one hop's HMAC matches. `OnionFailureUnreadableError` when none does.
 */
export function decodeFailure(
  sharedSecrets: readonly OnionBytes[],
  failure: OnionBytes,
): DecodeFailureReturnType {
  const message = onionBytes(failure, "failure", ONION_FAILURE_SIZE).slice();
  const body = message.subarray(32);
  for (let hop = 0; hop < sharedSecrets.length; hop++) {
    const secret = onionBytes(sharedSecrets[hop], `sharedSecrets[${hop}]`, 32);
    xorStream(deriveKey(secret, "failureStream"), message);
    if (!constantTimeEqual(mac(deriveKey(secret, "failureMac"), body), message.subarray(0, 32))) continue;
    const code = readSmallUint(body, 0, 2);
    const length = readSmallUint(body, 2, 2);
    if (length > ONION_FAILURE_MAX_DATA) break; // authenticated but malformed: treat as unreadable
    return { hop, code, name: NAME_OF.get(code) ?? null, hopData: body.slice(4, 4 + length) };
  }
  throw new OnionFailureUnreadableError(sharedSecrets.length);
}

/** `hopData` of an `InvalidOnion` failure: sha256 of the packet the next hop could not open. */
export function invalidOnionData(packet: OnionBytes): Uint8Array {
  return onionSha256(onionBytes(packet, "packet"));
}
