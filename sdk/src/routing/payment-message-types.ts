/**
 * The shapes of routed payments' peer messages (protocol §11.5, *Peer messages*), apart from their
 * signing and Avro mapping (./payment-message.ts, Node only), so browser code shares the one definition.
 */
import type { Address, Domain, Hash, Hex, PayerIndex } from "../types";

/** The catalogue kind of a LOCK transfer that carries an onion packet in its `appData` (§11.5 *Wiring*). */
export const ROUTE_APP_KIND = "ROUTE";

export const PAYMENT_MESSAGE_KINDS = ["SECRET", "FAIL", "ACK", "CONSENT"] as const;
export type PaymentMessageKind = (typeof PAYMENT_MESSAGE_KINDS)[number];

/** What a message says, by kind. */
export type PaymentMessageBody =
  /** The preimage of the LOCK's hashlock: "UNLOCK it". */
  | { readonly kind: "SECRET"; readonly secret: Hash }
  /** The onion failure message (288 bytes, §11.4): "CANCEL it". */
  | { readonly kind: "FAIL"; readonly failure: Hex }
  /** The LOCK arrived. */
  | { readonly kind: "ACK" }
  /** The payee's consent to the CANCEL of this LOCK at `consent.seq` (transfer hash `consent.transfer`). */
  | { readonly kind: "CONSENT"; readonly consent: CancelConsentRef };

/**
 * A `CancelConsent` as a CONSENT message carries it: the CANCEL's seq and transfer hash and the payee's
 * signature; the channel, payer and lock (amount, expiry, hashlock) are the LOCK's the message names.
 */
export interface CancelConsentRef {
  readonly seq: number;
  readonly transfer: Hash;
  readonly signature: Hex;
}

/** The LOCK a message is about: (channel, payer, seq) and its hashlock. */
export interface PaymentMessageLock {
  readonly channelId: Hash;
  readonly payer: PayerIndex;
  readonly seq: bigint;
  readonly hashlock: Hash;
}

export type UnsignedPaymentMessage = PaymentMessageLock & PaymentMessageBody;

export type PaymentMessage = UnsignedPaymentMessage & {
  readonly schemaVersion: number;
  readonly domain: Domain;
  /** The LOCK's payee (participant `1 − payer`); the signature recovers to it. */
  readonly sender: Address;
  readonly signature: Hex;
  /** Producer wall clock, Unix ms; 0 when unknown. */
  readonly sentAtMs: number;
};
