/**
 * The decision log's reducer (protocol §11.5): `applyEvent` is pure and total. An event that does not fit
 * the payment's state (a duplicate, a late or a wrong secret) leaves the record as it is, so applying an
 * event twice, or replaying a log with repeats, gives the same record. Forwarding happens once: only the
 * RECEIVED state accepts a FORWARDED event, and the record keeps the first outgoing LOCK's seq.
 */
import { sha256 } from "ethers";
import { type Hash, OnionFailureCode } from "../../../sdk";
import type { ForwardedPayment, MediationEvent, OutgoingLock } from "./types";

type Event<T extends MediationEvent["type"]> = Extract<MediationEvent, { type: T }>;

/** Starts a record from its RECEIVED event. */
export function startPayment(e: Event<"RECEIVED">): ForwardedPayment {
  return { state: "RECEIVED", incoming: e.incoming, instructions: e.instructions, receivedAt: e.at };
}

/** Whether `secret` opens `hashlock` (sha256 of the 32-byte secret, §3). */
export function opens(secret: Hash, hashlock: Hash): boolean {
  return /^0x[0-9a-fA-F]{64}$/.test(secret) && sha256(secret).toLowerCase() === hashlock.toLowerCase();
}

/** The record after one more event of its log. */
export function applyEvent(p: ForwardedPayment, e: MediationEvent): ForwardedPayment {
  const base = { incoming: p.incoming, instructions: p.instructions, receivedAt: p.receivedAt };
  switch (p.state) {
    case "RECEIVED":
      if (e.type === "FORWARDED")
        return { ...base, state: "FORWARDED", outgoing: e.outgoing, delivered: false };
      if (e.type === "REFUSED") {
        return {
          ...base,
          state: "FAILED_DOWNSTREAM",
          failure: e.failure,
          outgoing: null,
          failureSentAt: null,
        };
      }
      return p;
    case "FORWARDED":
      switch (e.type) {
        case "LOCK_DELIVERED":
          return p.delivered ? p : { ...p, delivered: true };
        case "SECRET_REVEALED":
          return revealed(p, p.outgoing, e);
        case "DOWNSTREAM_FAILED":
          return {
            ...base,
            state: "FAILED_DOWNSTREAM",
            failure: e.failure,
            outgoing: { lock: p.outgoing, cancelled: false },
            failureSentAt: null,
          };
        case "OUTGOING_CANCELLED":
          // The outgoing lock expired without the secret (decideNext): the payment failed downstream.
          return {
            ...base,
            state: "FAILED_DOWNSTREAM",
            failure: {
              code: OnionFailureCode.TemporaryFailure,
              reason: "the outgoing lock expired without the secret",
            },
            outgoing: { lock: p.outgoing, cancelled: true },
            failureSentAt: null,
          };
        default:
          return p;
      }
    case "SETTLED_DOWNSTREAM":
    case "REGISTERING_SECRET":
    case "SETTLED_UPSTREAM": {
      if (e.type === "OUTGOING_UNLOCKED" && p.downstream === "unlockDue")
        return { ...p, downstream: "unlocked" };
      if (e.type === "OUTGOING_CANCELLED" && p.downstream === "cancelDue")
        return { ...p, downstream: "cancelled" };
      if (p.state === "SETTLED_UPSTREAM") return p;
      const known = {
        ...base,
        outgoing: p.outgoing,
        secret: p.secret,
        secretAt: p.secretAt,
        downstream: p.downstream,
        unlockRequestedAt: p.unlockRequestedAt,
      };
      switch (e.type) {
        case "UNLOCK_REQUESTED":
          return p.unlockRequestedAt === null ? { ...p, unlockRequestedAt: e.at } : p;
        case "UPSTREAM_UNLOCKED":
          return { ...known, state: "SETTLED_UPSTREAM", via: "unlock" };
        case "SECRET_REGISTERED":
          // Counts for the incoming lock only at or before its expiry (§5.1).
          return e.revealedAt <= p.incoming.expiry
            ? { ...known, state: "SETTLED_UPSTREAM", via: "onchain" }
            : p;
        case "REGISTRATION_SENT":
          return p.state === "SETTLED_DOWNSTREAM"
            ? { ...known, state: "REGISTERING_SECRET", registrationSentAt: e.at }
            : p;
        case "REGISTRATION_FAILED":
          return p.state === "REGISTERING_SECRET" ? { ...known, state: "SETTLED_DOWNSTREAM" } : p;
        default:
          return p;
      }
    }
    case "FAILED_DOWNSTREAM":
      switch (e.type) {
        case "OUTGOING_CANCELLED":
          return p.outgoing && !p.outgoing.cancelled
            ? { ...p, outgoing: { lock: p.outgoing.lock, cancelled: true, consented: e.consented === true } }
            : p;
        case "SECRET_REVEALED":
          // A downstream that failed and then shows the secret in time is still owed: settle instead.
          return p.outgoing && !p.outgoing.cancelled ? revealed(p, p.outgoing.lock, e) : p;
        case "FAILURE_SENT":
          return p.failureSentAt === null ? { ...p, failureSentAt: e.at } : p;
        case "CONSENT_SENT":
          // Never while the outgoing lock can still be claimed downstream.
          if (p.outgoing && !p.outgoing.cancelled) return p;
          return p.consentSentAt === undefined ? { ...p, consentSentAt: e.at } : p;
        case "UPSTREAM_CANCELLED":
          // Only a record whose outgoing lock is released (none, or cancelled) may let the incoming one go.
          if (p.outgoing && !p.outgoing.cancelled) return p;
          return {
            ...base,
            state: "CANCELLED_UPSTREAM",
            failure: p.failure,
            outgoing: p.outgoing ? { lock: p.outgoing.lock, cancelled: true } : null,
          };
        default:
          return p;
      }
    case "CANCELLED_UPSTREAM":
      return p;
  }
}

function revealed(
  p: ForwardedPayment,
  outgoing: OutgoingLock,
  e: Event<"SECRET_REVEALED">,
): ForwardedPayment {
  if (!opens(e.secret, p.incoming.hashlock)) return p;
  return {
    incoming: p.incoming,
    instructions: p.instructions,
    receivedAt: p.receivedAt,
    state: "SETTLED_DOWNSTREAM",
    outgoing,
    secret: e.secret,
    secretAt: e.at,
    downstream: e.at <= outgoing.expiry ? "unlockDue" : "cancelDue",
    unlockRequestedAt: null,
  };
}

/**
 * Whether a payment is finished: the incoming lock cancelled, or settled upstream with the outgoing lock
 * resolved too. No event changes such a record (`applyEvent` returns it as it is).
 */
export function isTerminal(p: ForwardedPayment): boolean {
  return (
    p.state === "CANCELLED_UPSTREAM" ||
    (p.state === "SETTLED_UPSTREAM" && (p.downstream === "unlocked" || p.downstream === "cancelled"))
  );
}

/** Rebuilds a record from its log (the first event must be RECEIVED); null for an empty log. */
export function replay(events: readonly MediationEvent[]): ForwardedPayment | null {
  let p: ForwardedPayment | null = null;
  for (const e of events) {
    if (p === null) {
      if (e.type === "RECEIVED") p = startPayment(e);
    } else {
      p = applyEvent(p, e);
    }
  }
  return p;
}
