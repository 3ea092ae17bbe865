/**
 * The mediator's records (protocol §11.5): one `ForwardedPayment` per incoming lock, pairing it with the
 * outgoing lock the mediator signed for it, as lnd's circuit map pairs HTLCs. The record is rebuilt from
 * the mediator's decision log (`MediationEvent`s, `applyEvent`), so a restored node resumes every payment
 * in flight. Amounts in base units of the channels' asset, times in Unix seconds (chain time).
 */
import type { Address, Hash, Hex, OnionFailureCode } from "../../../sdk";
import type { ChannelStatusName } from "../chain/abi";

/** The most locks one payer may have pending in a channel (protocol §3, `TooManyLocks`). */
export const MAX_PENDING_LOCKS = 64;
/** The default furthest an outgoing lock may expire ahead of now: 14 days, the router's expiry budget (§11.3). */
export const DEFAULT_MAX_EXPIRY_AHEAD_SECONDS = 1_209_600n;

/** What the mediator asks for forwarding, as it announces it in its `ChannelUpdate`s (§11.2). */
export interface MediationPolicy {
  readonly feeBase: bigint;
  readonly feePpm: number;
  /** Seconds the mediator wants between the outgoing lock's expiry and the incoming lock's expiry. */
  readonly expiryDelta: bigint;
  /** The most locks the mediator keeps pending as payer in one outgoing channel (≤ 64). */
  readonly maxPendingLocks: number;
  /**
   * Seconds before the incoming lock's expiry at which the mediator stops waiting for the upstream UNLOCK
   * and registers the secret on-chain: the chain's confirmation time plus a margin. `expiryDelta` must be
   * at least this (`checkMediationPolicy`).
   */
  readonly minConfirmationMarginSeconds: bigint;
  /** The furthest ahead of now an outgoing lock may expire (`ExpiryTooFar`). */
  readonly maxExpiryAheadSeconds: bigint;
}

/** The LOCK the mediator received (it is the payee) in the incoming channel. */
export interface IncomingLock {
  readonly channelId: Hash;
  readonly asset: Address;
  /** The upstream payer's seq of the LOCK transfer; with `channelId` the payment's key. */
  readonly payerSeq: bigint;
  readonly hashlock: Hash;
  readonly amount: bigint;
  readonly expiry: bigint;
}

/** The mediator's instructions from the onion (`peelOnion`'s `OnionForwardPayload`). */
export interface ForwardInstructions {
  readonly nextChannel: Hash;
  readonly amount: bigint;
  readonly expiry: bigint;
}

/** The LOCK the mediator signed (it is the payer) in the outgoing channel, same hashlock. */
export interface OutgoingLock {
  readonly channelId: Hash;
  /** The mediator's seq of the LOCK transfer: journaled in the FORWARDED event before it is signed. */
  readonly payerSeq: bigint;
  readonly amount: bigint;
  readonly expiry: bigint;
}

/** What the mediator knows now of the channel it is asked to forward on; `null`: not its channel. */
export interface OutgoingChannelView {
  readonly channelId: Hash;
  readonly asset: Address;
  readonly status: ChannelStatusName;
  /** The mediator announces this direction as disabled (or has stopped forwarding on it). */
  readonly disabled: boolean;
  /** What the mediator can still lock as payer: its balance minus its pending locks and withdrawals. */
  readonly available: bigint;
  /** Its locks pending as payer in the channel. */
  readonly pendingLocks: number;
}

export interface Failure {
  readonly code: OnionFailureCode;
  readonly reason: string;
  /** The downstream's encrypted failure message, to pass on with `forwardFailure`; absent for our own. */
  readonly message?: Hex;
}

/** How the mediator's own outgoing lock ends once the secret is known. */
export type DownstreamSettlement =
  /** Revealed at or before the outgoing expiry: the mediator owes the UNLOCK. */
  | "unlockDue"
  /** Revealed only after the outgoing expiry: not owed (§10 rule 4); the mediator cancels it. */
  | "cancelDue"
  | "unlocked"
  | "cancelled";

interface Base {
  readonly incoming: IncomingLock;
  readonly instructions: ForwardInstructions;
  readonly receivedAt: bigint;
}

interface SecretKnown extends Base {
  readonly outgoing: OutgoingLock;
  /** sha256(secret) = incoming.hashlock, checked by `applyEvent`. */
  readonly secret: Hash;
  /** When the secret was first revealed to the mediator (downstream, or on-chain). */
  readonly secretAt: bigint;
  readonly downstream: DownstreamSettlement;
  /** When the mediator showed the secret upstream and asked for the UNLOCK; null: not yet. */
  readonly unlockRequestedAt: bigint | null;
}

/** The incoming lock is logged; no decision yet (nothing signed). */
export interface Received extends Base {
  readonly state: "RECEIVED";
}

/** The outgoing LOCK (with its seq) is journaled; it is never signed again under another seq. */
export interface Forwarded extends Base {
  readonly state: "FORWARDED";
  readonly outgoing: OutgoingLock;
  /** The downstream acknowledged the LOCK; until then it is re-sent (the same transfer). */
  readonly delivered: boolean;
}

/** The downstream showed the secret (or it appeared on-chain); the upstream has not paid yet. */
export interface SettledDownstream extends SecretKnown {
  readonly state: "SETTLED_DOWNSTREAM";
}

/** The upstream did not UNLOCK in time: a `registerSecrets` transaction is under way. */
export interface RegisteringSecret extends SecretKnown {
  readonly state: "REGISTERING_SECRET";
  readonly registrationSentAt: bigint;
}

/** The incoming lock is the mediator's: the upstream UNLOCKed, or the secret is on-chain in time. */
export interface SettledUpstream extends SecretKnown {
  readonly state: "SETTLED_UPSTREAM";
  readonly via: "unlock" | "onchain";
}

/** The payment cannot go on: refused here (no outgoing lock), failed downstream, or the outgoing lock expired. */
export interface FailedDownstream extends Base {
  readonly state: "FAILED_DOWNSTREAM";
  readonly failure: Failure;
  /**
   * The outgoing lock, if one was signed, whether the mediator has cancelled it, and whether that CANCEL
   * carried the downstream's consent (final, §4.5; a plain CANCEL does not count if the secret was
   * registered on-chain by the expiry).
   */
  readonly outgoing: {
    readonly lock: OutgoingLock;
    readonly cancelled: boolean;
    readonly consented?: boolean;
  } | null;
  /** When the failure was sent upstream; null: not yet. */
  readonly failureSentAt: bigint | null;
  /**
   * When the mediator, as the incoming lock's payee, sent its consent to the upstream's CANCEL (§4.5):
   * only once the outgoing lock is released (none, or cancelled). Absent: not yet.
   */
  readonly consentSentAt?: bigint;
}

/** The upstream cancelled the incoming lock: nothing left to do. */
export interface CancelledUpstream extends Base {
  readonly state: "CANCELLED_UPSTREAM";
  readonly failure: Failure;
  readonly outgoing: { readonly lock: OutgoingLock; readonly cancelled: true } | null;
}

export type ForwardedPayment =
  | Received
  | Forwarded
  | SettledDownstream
  | RegisteringSecret
  | SettledUpstream
  | FailedDownstream
  | CancelledUpstream;

export type PaymentState = ForwardedPayment["state"];

/**
 * The mediator's decision log, one topic record per event, keyed by the incoming lock. Every event is
 * written before the mediator acts on it (a FORWARDED event before the LOCK is signed), so replaying the
 * log rebuilds every payment (`replay`). Applying an event twice changes nothing.
 */
export type MediationEvent =
  /** An incoming LOCK with its peeled instructions (starts the record). */
  | {
      readonly type: "RECEIVED";
      readonly incoming: IncomingLock;
      readonly instructions: ForwardInstructions;
      readonly at: bigint;
    }
  /** The decision to forward, with the outgoing LOCK's seq (journaled before signing). */
  | { readonly type: "FORWARDED"; readonly outgoing: OutgoingLock; readonly at: bigint }
  /** The decision not to forward (`decideForward` failed). */
  | { readonly type: "REFUSED"; readonly failure: Failure; readonly at: bigint }
  | { readonly type: "LOCK_DELIVERED"; readonly at: bigint }
  /** The downstream failed the outgoing lock (its failure message in `failure.message`). */
  | { readonly type: "DOWNSTREAM_FAILED"; readonly failure: Failure; readonly at: bigint }
  /**
   * The secret became known: shown by the downstream (asking for the UNLOCK) or seen in a confirmed
   * `SecretRevealed` event (`at` = its `secretRevealedAt`). Ignored unless sha256(secret) = hashlock.
   */
  | { readonly type: "SECRET_REVEALED"; readonly secret: Hash; readonly at: bigint }
  /** The mediator signed the outgoing UNLOCK. */
  | { readonly type: "OUTGOING_UNLOCKED"; readonly at: bigint }
  /** The mediator's outgoing CANCEL was applied (`consented`: it carried the downstream's consent). */
  | { readonly type: "OUTGOING_CANCELLED"; readonly at: bigint; readonly consented?: boolean }
  | { readonly type: "UNLOCK_REQUESTED"; readonly at: bigint }
  /** The upstream signed the UNLOCK of the incoming lock (the mediator accepted it). */
  | { readonly type: "UPSTREAM_UNLOCKED"; readonly at: bigint }
  | { readonly type: "REGISTRATION_SENT"; readonly at: bigint }
  /** The registration transaction failed or was dropped: register again. */
  | { readonly type: "REGISTRATION_FAILED"; readonly at: bigint }
  /** The secret is registered on-chain (`secretRevealedAt` = `revealedAt`, confirmed). */
  | { readonly type: "SECRET_REGISTERED"; readonly revealedAt: bigint; readonly at: bigint }
  | { readonly type: "FAILURE_SENT"; readonly at: bigint }
  /** The mediator sent its consent to the upstream's CANCEL of the incoming lock. */
  | { readonly type: "CONSENT_SENT"; readonly at: bigint }
  /** The upstream cancelled the incoming lock (the mediator accepted it). */
  | { readonly type: "UPSTREAM_CANCELLED"; readonly at: bigint };
