/**
 * When a failed action is tried again, and when it gives up (lnd's `decideNextStep`): exponential
 * backoff with full jitter — attempt n waits a random time in [d/2, d] with d = min(max, base · 2^(n-1)),
 * so many channels failing together (an RPC outage) do not retry in lockstep — and at most
 * `maxAttempts` attempts. Pure: the caller keeps the record and passes the time and the random draw.
 */
import type { RetryConfig } from "../../config";

/** What an action's earlier attempts left behind. */
export interface RetryRecord {
  readonly attempts: number;
  /** Not before this (ms). */
  readonly nextAtMs: number;
  readonly lastError: string;
}

export type NextStep =
  | { readonly kind: "proceed" }
  | { readonly kind: "wait"; readonly untilMs: number }
  | { readonly kind: "give-up"; readonly reason: string };

/** The delay after the `attempts`-th failure; `random` in [0, 1). */
export function backoffDelay(policy: RetryConfig, attempts: number, random: number): number {
  const exp = Math.min(30, Math.max(0, attempts - 1));
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** exp);
  return Math.round(ceiling / 2 + (ceiling / 2) * random);
}

/** The record after one more failure. */
export function recordFailure(
  policy: RetryConfig,
  prev: RetryRecord | undefined,
  error: string,
  nowMs: number,
  random: number,
): RetryRecord {
  const attempts = (prev?.attempts ?? 0) + 1;
  return { attempts, nextAtMs: nowMs + backoffDelay(policy, attempts, random), lastError: error };
}

/** Proceed, wait, or give up (after `maxAttempts` failed attempts, with the last error as the reason). */
export function nextStep(policy: RetryConfig, record: RetryRecord | undefined, nowMs: number): NextStep {
  if (!record) return { kind: "proceed" };
  if (record.attempts >= policy.maxAttempts) {
    return {
      kind: "give-up",
      reason: `gave up after ${record.attempts} attempt${record.attempts === 1 ? "" : "s"}: ${record.lastError}`,
    };
  }
  return nowMs < record.nextAtMs ? { kind: "wait", untilMs: record.nextAtMs } : { kind: "proceed" };
}
