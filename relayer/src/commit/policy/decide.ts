/**
 * The commit policy's decisions, pure functions of (channel state, on-chain view, now): what one tick does
 * for one uncommitted channel, and which fallback to take when the signatures do not come.
 */
import type { PayerIndex } from "../../../../sdk";
import type { ChannelStatusName } from "../../chain/abi";

export interface CommitInput {
  readonly status: ChannelStatusName;
  /** The node holds transfers the chain (index, raised by our own mined commits) does not. */
  readonly ahead: boolean;
  readonly proposal: {
    /** Both signatures are in. */
    readonly signed: boolean;
    /**
     * Since when the node waits for the signatures: the proposal's time, or the partition's restore
     * time when later (a restored proposal's signer may only now be running again).
     */
    readonly waitingSinceMs: number;
  } | null;
  /** The co-signed checkpoint still raises the chain's checkpoint word. */
  readonly checkpointNeeded: boolean;
  /** Another action holds the channel, its checkpoint is queued or in flight, or a retry waits. */
  readonly blocked: boolean;
  /** The m-th transfer or a CHECKPOINT_NOW request made the channel due. */
  readonly commitDue: boolean;
  readonly uncommittedSinceMs: number;
  readonly nowMs: number;
  readonly checkpointTimeoutMs: number;
  readonly signatureTimeoutMs: number;
}

export type CommitDecision =
  /** Nothing left to commit (the chain holds it, or the channel settled): leave the uncommitted set. */
  | { readonly kind: "forget" }
  /** Closing: the watchtower's business, not the commit policy's. */
  | { readonly kind: "skip" }
  | { readonly kind: "wait" }
  /** Both signatures are in: queue the co-signed checkpoint for the next batch. */
  | { readonly kind: "queue" }
  /** The signatures did not come within the timeout. */
  | { readonly kind: "fallback" }
  | { readonly kind: "propose" };

export function decideCommit(i: CommitInput): CommitDecision {
  if (i.status === "SETTLED" || !i.ahead) return { kind: "forget" };
  if (i.status !== "OPEN") return { kind: "skip" };
  if (i.blocked) return { kind: "wait" };
  const p = i.proposal;
  if (p) {
    // A co-signed checkpoint the chain already holds: the chain event clears the proposal.
    if (p.signed) return i.checkpointNeeded ? { kind: "queue" } : { kind: "wait" };
    return i.nowMs - p.waitingSinceMs < i.signatureTimeoutMs ? { kind: "wait" } : { kind: "fallback" };
  }
  const due = i.commitDue || i.nowMs - i.uncommittedSinceMs >= i.checkpointTimeoutMs;
  return due ? { kind: "propose" } : { kind: "wait" };
}

export interface FallbackInput {
  /** Per payer: the node holds transfers beyond its on-chain head. */
  readonly ahead: readonly [boolean, boolean];
  /** Per payer: the node holds the key of that payer's payee (who alone may prove the payer's head). */
  readonly payeeKeyHeld: readonly [boolean, boolean];
  readonly chainProofFallback: boolean;
  readonly hasSubmitter: boolean;
}

export type FallbackDecision =
  | { readonly kind: "headProof"; readonly payer: PayerIndex }
  | { readonly kind: "chainProof" }
  /** Nothing this node can do alone: ask for the signatures again. */
  | { readonly kind: "propose" };

export function chooseFallback(i: FallbackInput): FallbackDecision {
  const payer = ([0, 1] as const).find((p) => i.ahead[p] && i.payeeKeyHeld[p]);
  if (payer !== undefined) return { kind: "headProof", payer };
  if (i.chainProofFallback && i.hasSubmitter) return { kind: "chainProof" };
  return { kind: "propose" };
}
