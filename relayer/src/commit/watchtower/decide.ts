/** The watchtower's decision for a closing channel (pure). */
import type { ChannelStatusName } from "../../chain/abi";

export interface WatchInput {
  readonly status: ChannelStatusName | null;
  /** This node holds the channel's state. */
  readonly held: boolean;
  /** The node's evidence raises a payer's on-chain head (longer chain, or a newer co-signed checkpoint). */
  readonly newer: boolean;
  /** Chain time (s) and when the challenge period ends. */
  readonly chainNow: number;
  readonly closesAt: number;
  readonly settleEnabled: boolean;
  readonly hasSubmitter: boolean;
  /** Another action holds the channel, or a retry waits. */
  readonly blocked: boolean;
}

export type WatchDecision =
  /** Not closing any more: stop watching it. */
  | { readonly kind: "drop" }
  | { readonly kind: "wait" }
  | { readonly kind: "evidence" }
  | { readonly kind: "settle" };

export function decideWatch(i: WatchInput): WatchDecision {
  if (i.status !== "CLOSING") return { kind: "drop" };
  if (!i.held || !i.hasSubmitter || i.blocked) return { kind: "wait" };
  // Evidence only counts within the challenge period; after it, settle on what the chain holds.
  if (i.newer && i.chainNow < i.closesAt) return { kind: "evidence" };
  if (i.settleEnabled && i.chainNow >= i.closesAt) return { kind: "settle" };
  return { kind: "wait" };
}

export interface FraudInput {
  readonly status: ChannelStatusName | null;
  readonly hasSubmitter: boolean;
  readonly busyWithFraudProof: boolean;
}

export type FraudDecision =
  | { readonly kind: "drop"; readonly reason: string | null }
  | { readonly kind: "wait" }
  | { readonly kind: "prove" };

/** Whether to send a pending fraud proof now (pure). */
export function decideFraudProof(i: FraudInput): FraudDecision {
  if (!i.hasSubmitter) return { kind: "drop", reason: "no submitter key configured" };
  if (i.status === null || i.status === "SETTLED") return { kind: "drop", reason: null };
  return i.busyWithFraudProof ? { kind: "wait" } : { kind: "prove" };
}
