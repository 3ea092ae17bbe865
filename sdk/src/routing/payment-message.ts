/**
 * Peer messages of routed payments (protocol §11.5, *Peer messages*): what the payee of a LOCK tells its
 * payer off-chain, on the `parsec.payment-messages` topic (key: the channel id, co-partitioned with the
 * transfers). SECRET shows the preimage and asks for the UNLOCK; FAIL carries the onion failure message
 * (§11.4) and asks for the CANCEL; ACK acknowledges the LOCK; CONSENT carries the payee's `CancelConsent`
 * (§4.5) to one CANCEL of the LOCK, so the payer may take it back before its expiry. Each is signed by the payee over a
 * domain-separated digest, so nobody else can fail (or settle) a payment, and a message cannot be moved
 * to another deployment, channel, lock or kind. Browser-safe; the Avro mapping is in `payment-message-avro.ts`.
 */
import { keccak256, sha256, toUtf8Bytes } from "ethers";
import { concatBytes, fromHex, isHexOfLength, writeUint } from "../bytes";
import { domainSeparator } from "../eip712";
import { BadSignatureError, MalformedError } from "../errors";
import { recoverSigner, type LocalSigner } from "../sign";
import type { Address, Domain, Hash } from "../types";
import {
  PAYMENT_MESSAGE_KINDS,
  type PaymentMessage,
  type PaymentMessageBody,
  type PaymentMessageKind,
  type UnsignedPaymentMessage,
} from "./payment-message-types";
import { ONION_FAILURE_SIZE } from "./onion-failure";

/** The topic of peer messages (each node prefixes it like every topic). */
export const PAYMENT_MESSAGES_TOPIC = "parsec.payment-messages";
/** No valid payment message is longer (framing, fixed fields and a failure): larger input is refused unread. */
export const MAX_PAYMENT_MESSAGE_BYTES = 640;
/** The digest's prefix: not an EIP-712 `0x1901` message, so no wallet prompt can be replayed as one. */
const DIGEST_PREFIX = toUtf8Bytes("\x19Parsec payment message v1");

export {
  PAYMENT_MESSAGE_KINDS,
  ROUTE_APP_KIND,
  type CancelConsentRef,
  type PaymentMessage,
  type PaymentMessageBody,
  type PaymentMessageKind,
  type PaymentMessageLock,
  type UnsignedPaymentMessage,
} from "./payment-message-types";

const KIND_CODE: Record<PaymentMessageKind, number> = { SECRET: 1, FAIL: 2, ACK: 3, CONSENT: 4 };

function bodyBytes(m: PaymentMessageBody): Uint8Array {
  switch (m.kind) {
    case "SECRET":
      return fromHex(m.secret, "secret", 32);
    case "FAIL":
      return fromHex(m.failure, "failure", ONION_FAILURE_SIZE);
    case "ACK":
      return new Uint8Array(0);
    case "CONSENT": {
      const seq = new Uint8Array(4);
      writeUint(seq, 0, 4, checkSmallSeq(m.consent.seq));
      return concatBytes(
        seq,
        fromHex(m.consent.transfer, "consent.transfer", 32),
        fromHex(m.consent.signature, "consent.signature", 65),
      );
    }
  }
}

function checkSmallSeq(seq: number): number {
  if (!Number.isInteger(seq) || seq < 1 || seq > 0xffffffff)
    throw new MalformedError("consent.seq must be 1 … 2^32 − 1");
  return seq;
}

/** Checks the fields of a message (`Malformed`); a SECRET must open the hashlock. */
export function checkPaymentMessage<T extends UnsignedPaymentMessage>(m: T): T {
  if (!isHexOfLength(m.channelId, 32)) throw new MalformedError("channelId must be 32 bytes");
  if (m.payer !== 0 && m.payer !== 1) throw new MalformedError("payer must be 0 or 1");
  if (typeof m.seq !== "bigint" || m.seq < 1n || m.seq > 0xffffffffn)
    throw new MalformedError("seq must be 1 … 2^32 − 1");
  if (!isHexOfLength(m.hashlock, 32)) throw new MalformedError("hashlock must be 32 bytes");
  if (!PAYMENT_MESSAGE_KINDS.includes(m.kind)) throw new MalformedError(`unknown kind ${String(m.kind)}`);
  bodyBytes(m);
  if (m.kind === "SECRET" && sha256(m.secret).toLowerCase() !== m.hashlock.toLowerCase()) {
    throw new MalformedError("the secret does not open the hashlock (sha256(secret) ≠ hashlock)");
  }
  return m;
}

/** The digest the payee signs (domain-separated; binds the lock, the kind and the body). */
export function paymentMessageDigest(domain: Domain, m: UnsignedPaymentMessage): Hash {
  checkPaymentMessage(m);
  const fixed = new Uint8Array(1 + 8 + 1);
  writeUint(fixed, 0, 1, m.payer);
  writeUint(fixed, 1, 8, m.seq);
  writeUint(fixed, 9, 1, KIND_CODE[m.kind]);
  return keccak256(
    concatBytes(
      DIGEST_PREFIX,
      fromHex(domainSeparator(domain)),
      fromHex(m.channelId),
      fixed.subarray(0, 9),
      fromHex(m.hashlock),
      fixed.subarray(9),
      fromHex(keccak256(bodyBytes(m))),
    ),
  ) as Hash;
}

/** Signs a message as the LOCK's payee. */
export function signPaymentMessage(
  signer: LocalSigner,
  domain: Domain,
  m: UnsignedPaymentMessage,
  sentAtMs = 0,
): PaymentMessage {
  const signature = signer.signDigest(paymentMessageDigest(domain, m));
  return { ...m, schemaVersion: 2, domain, sender: signer.address, signature, sentAtMs };
}

/**
 * Checks that `m` was signed by `payee` (the LOCK's payee, participant `1 − payer` of the channel) in
 * `domain`: `BadSignature` otherwise (a forged, re-addressed or unsigned message).
 */
export function verifyPaymentMessage(m: PaymentMessage, domain: Domain, payee: Address): void {
  if (m.domain.chainId !== domain.chainId || m.domain.verifyingContract !== domain.verifyingContract) {
    throw new BadSignatureError("the message is for another deployment");
  }
  if (m.sender !== payee) {
    throw new BadSignatureError(`the sender ${m.sender} is not the lock's payee ${payee}`);
  }
  const recovered = recoverSigner(paymentMessageDigest(domain, m), m.signature);
  if (recovered !== payee)
    throw new BadSignatureError(`the signature recovers to ${recovered}, not ${payee}`);
}

/** Refuses input too large to be a payment message before it is decoded (`Malformed`), else null. */
export function screenPaymentMessage(wire: Uint8Array): MalformedError | null {
  return wire.length > MAX_PAYMENT_MESSAGE_BYTES
    ? new MalformedError(
        `a payment message is at most ${MAX_PAYMENT_MESSAGE_BYTES} bytes, got ${wire.length}`,
        { length: wire.length },
      )
    : null;
}
