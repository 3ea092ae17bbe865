/**
 * What the wallet side of routed payments (protocol §11.6) needs from the outside, as small ports: the
 * log the node reads (transfers and peer messages), the signing of peer messages, the payer's state and
 * the payee's invoices. The Kafka adapter (`tasks/lib/payment-kafka.ts`), the HTTP adapter
 * (`http-log.ts`, for browsers) and the tests' fakes implement them. Peer messages are signed and checked
 * by the SDK's `signPaymentMessage` / `verifyPaymentMessage` (in `sdk/isomorphic`), passed in as
 * `PeerMessageCrypto`.
 */
import type {
  Address,
  Domain,
  Hash,
  Hex,
  LocalSigner,
  PayerState,
  PaymentMessage,
  PaymentMessageBody,
  SignedTransfer,
  UnsignedPaymentMessage,
} from "../../../sdk/isomorphic";

/** The catalogue kinds of a LOCK that carries an onion packet and of a CANCEL that carries a consent. */
export { CANCEL_CONSENT_APP_KIND, ROUTE_APP_KIND } from "../../../sdk/isomorphic";
import { CANCEL_CONSENT_APP_KIND, ROUTE_APP_KIND } from "../../../sdk/isomorphic";

/** What a peer message says: the SDK's `PaymentMessageBody` (SECRET, FAIL, ACK, CONSENT). */
export type PeerMessageBody = PaymentMessageBody;

/** A peer message before its payee signs it: the SDK's `UnsignedPaymentMessage`. */
export type UnsignedPeerMessage = UnsignedPaymentMessage;

/** A signed peer message: the SDK's `PaymentMessage`. */
export type PeerMessage = PaymentMessage;

/** Signing and checking peer messages: `{ sign: signPaymentMessage, verify: verifyPaymentMessage }` in Node. */
export interface PeerMessageCrypto {
  sign(signer: LocalSigner, domain: Domain, m: UnsignedPeerMessage, sentAtMs?: number): PeerMessage;
  /** Throws unless `m` is signed by `payee` for `domain`. */
  verify(m: PeerMessage, domain: Domain, payee: Address): void;
}

/** A transfer as it travels on the log, with its catalogue kind and data (a LOCK's onion packet). */
export interface LoggedTransfer {
  readonly transfer: SignedTransfer;
  readonly appKind: string;
  readonly appData: Hex;
}

/**
 * What travels with a transfer besides its signed fields: a LOCK's onion packet (`appKind` `ROUTE`), or an
 * early CANCEL's consent, the payee's 65-byte `CancelConsent` signature (`appKind` `CANCEL_CONSENT`).
 */
export type TransferAttachment = { readonly packet: Hex } | { readonly consent: Hex };

/** The `appKind` and `appData` a transfer's attachment travels as on the log. */
export function attachmentFields(attachment?: TransferAttachment): { appKind: string; appData: Hex } {
  if (!attachment) return { appKind: "", appData: "0x" };
  return "packet" in attachment
    ? { appKind: ROUTE_APP_KIND, appData: attachment.packet }
    : { appKind: CANCEL_CONSENT_APP_KIND, appData: attachment.consent };
}

/** A running subscription; `stop` ends it (idempotent). */
export interface Subscription {
  stop(): void;
}

/**
 * The log the payment travels on. Subscriptions replay a channel's records from the start of the log and
 * then follow it, in log order; a caller filters what it has seen.
 */
export interface PaymentLog {
  /** Writes a signed transfer with its attachment (`attachmentFields`); resolves once it is durable. */
  sendTransfer(transfer: SignedTransfer, attachment?: TransferAttachment): Promise<void>;
  sendPeerMessage(message: PeerMessage): Promise<void>;
  peerMessages(channelId: Hash, onMessage: (m: PeerMessage) => void): Subscription;
  transfers(channelId: Hash, onTransfer: (m: LoggedTransfer) => void): Subscription;
}

/**
 * The payer's state in its channel with the first hop: what its sent transfers add up to. `set` must be
 * durable; the signing journal, not this store, is what keeps a seq from being signed twice.
 */
export interface PayerStateStore {
  get(): Promise<PayerState>;
  set(state: PayerState): Promise<void>;
}

/** An invoice the payee issued, with its secret. */
export interface IssuedInvoice {
  readonly invoiceId: Hash;
  readonly hashlock: Hash;
  readonly secret: Hash;
  /** What the payee must receive, base units. */
  readonly amount: bigint;
  /** The invoice's own expiry, Unix seconds: no payment is accepted after it. */
  readonly expiry: bigint;
  /** Seconds the last lock must still run when it arrives (§11.1). */
  readonly minFinalExpiryDelta: number;
  /** The payee already showed the secret for a lock of this invoice. */
  readonly revealed?: boolean;
}

/** The payee's invoices by hashlock. */
export interface InvoiceSecretStore {
  lookup(hashlock: Hash): Promise<IssuedInvoice | undefined>;
  /**
   * Records, durably, that the secret is about to be shown; `lookup` then reports `revealed`. A payee
   * replaying its log after a restart thus answers a lock it settled with the secret again, never with a
   * failure its clock would now find (the invoice expired meanwhile).
   */
  markRevealed(hashlock: Hash): Promise<void>;
}

/** A channel as one side of it sees it: its id, which payer index the OTHER side has, and its address. */
export interface ChannelSide {
  readonly channelId: Hash;
  /** The counterparty's address (it signs what the counterparty sends). */
  readonly counterparty: Address;
}
