/**
 * Whether to forward an incoming lock, and what (protocol §11.5): a pure function of the incoming lock, the
 * onion's instructions, the mediator's policy, its view of the outgoing channel and now.
 */
import { type Hash, OnionFailureCode, forwardingFee } from "../../../sdk";
import type { MediationConfig } from "../config";
import {
  DEFAULT_MAX_EXPIRY_AHEAD_SECONDS,
  MAX_PENDING_LOCKS,
  type Failure,
  type ForwardInstructions,
  type IncomingLock,
  type MediationPolicy,
  type OutgoingChannelView,
} from "./types";

export type ForwardDecision =
  /** Lock `amount` until `expiry` on `channelId`, under the incoming hashlock. */
  | {
      readonly kind: "forward";
      readonly channelId: Hash;
      readonly amount: bigint;
      readonly expiry: bigint;
      /** What the mediator keeps: `incoming.amount − amount` (≥ its fee). */
      readonly fee: bigint;
    }
  | ({ readonly kind: "fail" } & Failure);

export interface DecideForwardParameters {
  readonly incoming: IncomingLock;
  readonly instructions: ForwardInstructions;
  readonly policy: MediationPolicy;
  /** The mediator's view of `instructions.nextChannel`; null when it is not one of its channels. */
  readonly outgoing: OutgoingChannelView | null;
  /** Chain time, Unix seconds. */
  readonly now: bigint;
}

function fail(code: OnionFailureCode, reason: string): ForwardDecision {
  return { kind: "fail", code, reason };
}

/**
 * The checks, in order (the first that fails gives the code):
 *
 * 1. `nextChannel` is one of the mediator's channels, not the incoming one, of the same asset
 *    (`UnknownNextChannel`);
 * 2. it is OPEN and not disabled (`ChannelDisabled`);
 * 3. `instructions.expiry > now` and `incoming.expiry − instructions.expiry ≥ expiryDelta` (`ExpiryTooSoon`);
 * 4. `instructions.expiry − now ≤ maxExpiryAheadSeconds` (`ExpiryTooFar`);
 * 5. `incoming.amount ≥ instructions.amount + forwardingFee(policy, instructions.amount)` (`FeeInsufficient`);
 * 6. `instructions.amount ≤ available` and `pendingLocks < min(maxPendingLocks, 64)` (`InsufficientCapacity`).
 */
export function decideForward(p: DecideForwardParameters): ForwardDecision {
  const { incoming, instructions: ins, policy, outgoing: ch, now } = p;
  if (ch === null || ch.channelId !== ins.nextChannel) {
    return fail(OnionFailureCode.UnknownNextChannel, `${ins.nextChannel} is not a channel of this node`);
  }
  if (ch.channelId === incoming.channelId) {
    return fail(OnionFailureCode.UnknownNextChannel, "the next channel is the incoming channel");
  }
  if (ch.asset.toLowerCase() !== incoming.asset.toLowerCase()) {
    return fail(
      OnionFailureCode.UnknownNextChannel,
      `the next channel holds ${ch.asset}, not ${incoming.asset}`,
    );
  }
  if (ch.status !== "OPEN" || ch.disabled) {
    return fail(
      OnionFailureCode.ChannelDisabled,
      `the next channel is ${ch.disabled ? "disabled" : ch.status}`,
    );
  }
  if (ins.expiry <= now) {
    return fail(
      OnionFailureCode.ExpiryTooSoon,
      `the outgoing expiry ${ins.expiry} is not after now (${now})`,
    );
  }
  if (incoming.expiry - ins.expiry < policy.expiryDelta) {
    return fail(
      OnionFailureCode.ExpiryTooSoon,
      `incoming expiry ${incoming.expiry} − outgoing expiry ${ins.expiry} is below the delta ${policy.expiryDelta}`,
    );
  }
  if (ins.expiry - now > policy.maxExpiryAheadSeconds) {
    return fail(
      OnionFailureCode.ExpiryTooFar,
      `the outgoing expiry is ${ins.expiry - now} s ahead; at most ${policy.maxExpiryAheadSeconds}`,
    );
  }
  const fee = forwardingFee(policy, ins.amount);
  if (incoming.amount < ins.amount + fee) {
    return fail(
      OnionFailureCode.FeeInsufficient,
      `incoming ${incoming.amount} < forwarded ${ins.amount} + fee ${fee}`,
    );
  }
  if (ins.amount > ch.available) {
    return fail(OnionFailureCode.InsufficientCapacity, `${ins.amount} exceeds the available ${ch.available}`);
  }
  const cap = Math.min(policy.maxPendingLocks, MAX_PENDING_LOCKS);
  if (ch.pendingLocks >= cap) {
    return fail(OnionFailureCode.InsufficientCapacity, `${ch.pendingLocks} locks pending; at most ${cap}`);
  }
  return {
    kind: "forward",
    channelId: ch.channelId,
    amount: ins.amount,
    expiry: ins.expiry,
    fee: incoming.amount - ins.amount,
  };
}

/**
 * Problems with a policy (empty when usable): the delta must leave room to register a secret learned at the
 * outgoing expiry before the incoming expiry (`expiryDelta ≥ minConfirmationMarginSeconds > 0`).
 */
export function checkMediationPolicy(policy: MediationPolicy): string[] {
  const problems: string[] = [];
  if (policy.feeBase < 0n) problems.push("feeBase must not be negative");
  if (!Number.isInteger(policy.feePpm) || policy.feePpm < 0 || policy.feePpm > 0xffffffff) {
    problems.push("feePpm must be a uint32");
  }
  if (policy.minConfirmationMarginSeconds <= 0n)
    problems.push("minConfirmationMarginSeconds must be positive");
  if (policy.expiryDelta < policy.minConfirmationMarginSeconds) {
    problems.push(
      `expiryDelta (${policy.expiryDelta}) must be at least minConfirmationMarginSeconds (${policy.minConfirmationMarginSeconds})`,
    );
  }
  if (
    !Number.isInteger(policy.maxPendingLocks) ||
    policy.maxPendingLocks < 1 ||
    policy.maxPendingLocks > MAX_PENDING_LOCKS
  ) {
    problems.push(`maxPendingLocks must be 1 … ${MAX_PENDING_LOCKS}`);
  }
  if (policy.maxExpiryAheadSeconds <= policy.expiryDelta)
    problems.push("maxExpiryAheadSeconds must exceed expiryDelta");
  return problems;
}

/** The policy of a node's `mediation` config section. */
export function mediationPolicy(
  c: Pick<
    MediationConfig,
    "feeBase" | "feePpm" | "expiryDelta" | "maxPendingLocks" | "minConfirmationMarginSeconds"
  >,
  maxExpiryAheadSeconds: bigint = DEFAULT_MAX_EXPIRY_AHEAD_SECONDS,
): MediationPolicy {
  return {
    feeBase: c.feeBase,
    feePpm: c.feePpm,
    expiryDelta: BigInt(c.expiryDelta),
    maxPendingLocks: c.maxPendingLocks,
    minConfirmationMarginSeconds: BigInt(c.minConfirmationMarginSeconds),
    maxExpiryAheadSeconds,
  };
}
