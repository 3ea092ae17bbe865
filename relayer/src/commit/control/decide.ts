/** What a tick does with a pending SETTLE_NOW / DISPUTE request (pure). */
import type { SettlementAction } from "../../../../sdk";
import type { ChannelStatusName } from "../../chain/abi";
import type { NextStep } from "../core/retry";

export type RequestAction = "SETTLE_NOW" | "DISPUTE";

export interface RequestInput {
  /** The partition is still this node's and the channel, its request and its on-chain record exist. */
  readonly held: boolean;
  readonly status: ChannelStatusName | null;
  /** Another action holds the channel. */
  readonly busy: boolean;
  /** The request's retry record says. */
  readonly step: NextStep;
}

export type RequestDecision =
  /** Not this node's any more (or gone): forget it here; its owner finishes it. */
  | { readonly kind: "drop" }
  /** The channel is settled and nothing of this node runs on it: answer SKIPPED. */
  | { readonly kind: "settled" }
  | { readonly kind: "wait" }
  | { readonly kind: "run" }
  /** Out of attempts: answer FAILED with the reason and clear the request. */
  | { readonly kind: "give-up"; readonly reason: string };

export function decideRequest(i: RequestInput): RequestDecision {
  if (!i.held || i.status === null) return { kind: "drop" };
  // A running action may be the request's own, mined and about to report: the chain index can show its
  // effect (SETTLED) before the action returns. Answering SKIPPED then would hide the real outcome.
  if (i.busy) return { kind: "wait" };
  if (i.status === "SETTLED") return { kind: "settled" };
  if (i.step.kind === "give-up") return { kind: "give-up", reason: i.step.reason };
  if (i.step.kind === "wait") return { kind: "wait" };
  return { kind: "run" };
}

/** The settlement action a request's final outcome is reported under. */
export const outcomeActionOf = (action: RequestAction): SettlementAction =>
  action === "SETTLE_NOW" ? "CLOSE" : "CHAIN_EXTENSION";
