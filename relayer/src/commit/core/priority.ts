/**
 * What may run on a channel when another action holds it. One action per channel is in flight at a time
 * (two would race for the same on-chain state and waste gas); which one wins is this explicit order:
 *
 *   fraud proof  >  contest (control DISPUTE / SETTLE_NOW, watchtower evidence)  >  settle, resolveLocks
 *   >  commit (checkpoint, head proof, chain proof)
 *
 * Rules:
 * - A fraud proof preempts any lower action: it takes the channel at once (it forfeits the equivocator's
 *   deposit and ends the channel, so nothing else matters). The preempted action is not aborted mid-call
 *   (a broadcast transaction cannot be recalled) but stops before its next transaction, and its release
 *   is a no-op (its token is no longer the holder).
 * - Every other action waits for the holder to finish. While it waits it holds a claim: when the channel
 *   frees, an action of lower priority than the claim yields to it, so a stream of commits cannot starve
 *   a dispute. A claim lapses after `CLAIM_TTL_MS` unless renewed (the claimant asks again every tick).
 * - Equal priority never preempts: a second fraud proof while one runs waits (one suffices).
 */

export type ActionKind =
  | "fraudProof"
  | "dispute"
  | "settleNow"
  | "evidence"
  | "settle"
  | "resolveLocks"
  | "checkpoint"
  | "headProof"
  | "chainProof";

export const PRIORITY: Readonly<Record<ActionKind, number>> = {
  fraudProof: 4,
  dispute: 3,
  settleNow: 3,
  evidence: 3,
  settle: 2,
  resolveLocks: 2,
  checkpoint: 1,
  headProof: 1,
  chainProof: 1,
};

/** A claimant's mark lapses after this unless it asks again (claimants are tick-driven, ~200 ms). */
export const CLAIM_TTL_MS = 5000;

/** Only a fraud proof preempts, and only an action below it. */
export function mayPreempt(incoming: ActionKind, holder: ActionKind): boolean {
  return incoming === "fraudProof" && PRIORITY[holder] < PRIORITY.fraudProof;
}

export interface SlotView {
  /** The running action, if any. */
  readonly holder: ActionKind | null;
  /** The highest-priority action waiting, and when it last asked. */
  readonly claim: { readonly kind: ActionKind; readonly atMs: number } | null;
}

export type SlotDecision =
  | { readonly kind: "grant" }
  | { readonly kind: "preempt"; readonly holder: ActionKind }
  | { readonly kind: "wait"; readonly behind: ActionKind };

/** Whether `incoming` may take the channel now (pure). */
export function decideSlot(view: SlotView, incoming: ActionKind, nowMs: number): SlotDecision {
  if (view.holder !== null) {
    return mayPreempt(incoming, view.holder)
      ? { kind: "preempt", holder: view.holder }
      : { kind: "wait", behind: view.holder };
  }
  const claim = view.claim;
  if (claim && nowMs - claim.atMs < CLAIM_TTL_MS && PRIORITY[claim.kind] > PRIORITY[incoming]) {
    return { kind: "wait", behind: claim.kind };
  }
  return { kind: "grant" };
}
