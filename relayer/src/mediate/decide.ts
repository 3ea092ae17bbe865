/**
 * The next step for a payment in flight (protocol §11.5): a pure function of the record, the mediator's
 * view and now. One action per call; the node logs the action's event before it acts (and the FORWARDED
 * event, carrying the outgoing seq, before it signs the LOCK), then asks again.
 *
 * Who signs what: on the incoming channel the mediator is the PAYEE of the upstream's LOCK (it asks for the
 * UNLOCK by showing the secret, or registers the secret on-chain, and accepts a CANCEL); on the outgoing
 * channel it is the PAYER of its own LOCK (it signs LOCK, then UNLOCK once the downstream shows the secret
 * in time, or CANCEL when the downstream fails or the lock expires without the secret).
 */
import type { Hash } from "../../../sdk";
import { decideForward, type ForwardDecision } from "./forward";
import type { Failure, ForwardedPayment, MediationPolicy, OutgoingChannelView, OutgoingLock } from "./types";

export interface MediationView {
  readonly policy: MediationPolicy;
  /** The mediator's view of the RECEIVED payment's next channel (null: not its channel); unused otherwise. */
  readonly outgoingChannel: OutgoingChannelView | null;
  /**
   * Chain time up to which the node has scanned confirmed `SecretRevealed` events (the confirmed block's
   * timestamp): a lock with `expiry < chainSeenThrough` and no reveal by its expiry was not revealed in time.
   */
  readonly chainSeenThrough: bigint;
  /**
   * When the payment's secret was registered on-chain, as the confirmed index holds it (null: not, as far
   * as `chainSeenThrough`). The node logs it as SECRET_REVEALED before deciding; this view keeps the
   * decision safe on its own: no CANCEL of a lock, and no consent upstream, that the reveal forbids.
   */
  readonly secretRevealedAt: bigint | null;
}

/** Whether the secret was registered on-chain at or before `expiry` (a payer's own CANCEL cannot count). */
function revealedBy(view: MediationView, expiry: bigint): boolean {
  return view.secretRevealedAt !== null && view.secretRevealedAt <= expiry;
}

export type MediationAction =
  /** RECEIVED: log FORWARDED with the next seq of the outgoing channel, then sign that LOCK. */
  | Extract<ForwardDecision, { readonly kind: "forward" }>
  /** FORWARDED, not acknowledged: send the journaled LOCK again (the same seq and transfer). */
  | { readonly kind: "resendLock"; readonly outgoing: OutgoingLock }
  /** Sign the outgoing UNLOCK (the downstream showed the secret in time). */
  | { readonly kind: "unlockOutgoing"; readonly outgoing: OutgoingLock; readonly secret: Hash }
  /** Show the secret upstream and ask for the UNLOCK of the incoming lock. */
  | { readonly kind: "requestUpstreamUnlock"; readonly secret: Hash }
  /** `registerSecrets([secret])`: it must land at or before `deadline` (the incoming expiry). */
  | { readonly kind: "registerSecret"; readonly secret: Hash; readonly deadline: bigint }
  /** Sign the outgoing CANCEL. */
  | { readonly kind: "cancelOutgoing"; readonly outgoing: OutgoingLock; readonly reason: string }
  /** Send the failure upstream and ask it to cancel the incoming lock (REFUSED is logged first when `refused`). */
  | { readonly kind: "failUpstream"; readonly failure: Failure; readonly refused: boolean }
  /**
   * As the incoming lock's payee, sign the consent to the upstream's CANCEL of it (§4.5) and send it
   * upstream: only once the outgoing lock is released (none was signed, or it is cancelled).
   */
  | {
      readonly kind: "consentUpstream";
      /**
       * The outgoing CANCEL carried no consent: it counts only if the secret was not registered on-chain by
       * the outgoing expiry, which the node checks (`secretRevealedAt`) before consenting.
       */
      readonly checkRegistry: boolean;
    }
  /** Nothing now; ask again at `until` at the latest (or on the next event). */
  | { readonly kind: "wait"; readonly until: bigint | null; readonly reason: string }
  /** The payment is over. */
  | { readonly kind: "none" };

function wait(until: bigint | null, reason: string): MediationAction {
  return { kind: "wait", until, reason };
}

/**
 * In order of precedence:
 *
 * - RECEIVED → `forward` or `failUpstream` (`decideForward`);
 * - FORWARDED → wait when the secret is on-chain by the outgoing expiry (the node logs SECRET_REVEALED
 *   first), else `cancelOutgoing` once the outgoing lock expired unrevealed (`chainSeenThrough >
 *   expiry`), else `resendLock` until acknowledged, else wait for the secret or a failure;
 * - secret known, incoming not settled → `registerSecret` once `incoming.expiry − now ≤
 *   minConfirmationMarginSeconds` (while `now ≤ incoming.expiry`, unless it is registered already), then
 *   `requestUpstreamUnlock` once, then the downstream's due `unlockOutgoing`/`cancelOutgoing`, else wait
 *   until the register time;
 * - REGISTERING_SECRET, SETTLED_UPSTREAM → the downstream's due action, else wait / none;
 * - FAILED_DOWNSTREAM → `cancelOutgoing` (outgoing lock still pending: at once with the downstream's consent,
 *   else after its expiry; the failure goes upstream meanwhile; never when the secret is on-chain by the
 *   outgoing expiry), then `failUpstream` once, then `consentUpstream` once (never before the outgoing
 *   lock is released, nor after a plain CANCEL that an in-time reveal voids), else wait;
 * - CANCELLED_UPSTREAM → none.
 */
export function decideNext(p: ForwardedPayment, view: MediationView, now: bigint): MediationAction {
  const margin = view.policy.minConfirmationMarginSeconds;
  switch (p.state) {
    case "RECEIVED": {
      const d = decideForward({
        incoming: p.incoming,
        instructions: p.instructions,
        policy: view.policy,
        outgoing: view.outgoingChannel,
        now,
      });
      if (d.kind === "forward") return d;
      return { kind: "failUpstream", failure: { code: d.code, reason: d.reason }, refused: true };
    }
    case "FORWARDED":
      if (revealedBy(view, p.outgoing.expiry))
        return wait(null, "the secret is on-chain in time: the downstream is owed the lock");
      if (view.chainSeenThrough > p.outgoing.expiry) {
        return { kind: "cancelOutgoing", outgoing: p.outgoing, reason: "expired without the secret" };
      }
      if (!p.delivered) return { kind: "resendLock", outgoing: p.outgoing };
      return wait(p.outgoing.expiry + 1n, "waiting for the downstream's secret or failure");
    case "SETTLED_DOWNSTREAM": {
      const registerAt = p.incoming.expiry - margin;
      // Registered already (by anyone) by the incoming expiry: the incoming lock is claimable as is.
      if (now >= registerAt && now <= p.incoming.expiry && !revealedBy(view, p.incoming.expiry)) {
        return { kind: "registerSecret", secret: p.secret, deadline: p.incoming.expiry };
      }
      // The upstream is asked first: the secret reaches the payer one round sooner, and showing it
      // upstream costs nothing (the downstream that showed it can claim the outgoing lock anyway).
      if (p.unlockRequestedAt === null) return { kind: "requestUpstreamUnlock", secret: p.secret };
      const down = downstreamAction(p.outgoing, p.secret, p.downstream, view);
      if (down) return down;
      if (now > p.incoming.expiry)
        return wait(null, "the incoming lock expired; only the upstream can still UNLOCK");
      return wait(registerAt, "waiting for the upstream's UNLOCK");
    }
    case "REGISTERING_SECRET":
      return (
        downstreamAction(p.outgoing, p.secret, p.downstream, view) ??
        wait(p.incoming.expiry, "waiting for the registration to be confirmed")
      );
    case "SETTLED_UPSTREAM":
      return downstreamAction(p.outgoing, p.secret, p.downstream, view) ?? { kind: "none" };
    case "FAILED_DOWNSTREAM":
      if (p.outgoing && !p.outgoing.cancelled) {
        const expiry = p.outgoing.lock.expiry;
        // After the expiry a CANCEL is plain: signed only once the confirmed index is past the expiry
        // with no reveal by then (a signed CANCEL the contract refuses would block the chain's seq).
        const unsure = now > expiry && view.chainSeenThrough <= expiry;
        if (revealedBy(view, expiry) || unsure) {
          if (p.failureSentAt === null) return { kind: "failUpstream", failure: p.failure, refused: false };
          return revealedBy(view, expiry)
            ? wait(null, "the secret is on-chain in time: the downstream is owed the lock")
            : wait(null, "the outgoing lock expired by the head; waiting for the confirmed index");
        }
        return { kind: "cancelOutgoing", outgoing: p.outgoing.lock, reason: p.failure.reason };
      }
      if (p.failureSentAt === null) return { kind: "failUpstream", failure: p.failure, refused: false };
      // A plain outgoing CANCEL does not count when the secret was registered by the outgoing expiry.
      if (
        p.consentSentAt === undefined &&
        p.outgoing !== null &&
        p.outgoing.consented !== true &&
        revealedBy(view, p.outgoing.lock.expiry)
      )
        return wait(null, "the secret is on-chain in time: no consent to the upstream's CANCEL");
      if (p.consentSentAt === undefined)
        return {
          kind: "consentUpstream",
          checkRegistry: p.outgoing !== null && p.outgoing.consented !== true,
        };
      return wait(p.incoming.expiry + 1n, "waiting for the upstream's CANCEL");
    case "CANCELLED_UPSTREAM":
      return { kind: "none" };
  }
}

function downstreamAction(
  outgoing: OutgoingLock,
  secret: Hash,
  downstream: "unlockDue" | "cancelDue" | "unlocked" | "cancelled",
  view: MediationView,
): MediationAction | null {
  if (downstream === "unlockDue") return { kind: "unlockOutgoing", outgoing, secret };
  if (
    downstream === "cancelDue" &&
    view.chainSeenThrough > outgoing.expiry &&
    !revealedBy(view, outgoing.expiry)
  ) {
    return { kind: "cancelOutgoing", outgoing, reason: "the secret came only after the outgoing expiry" };
  }
  return null;
}
