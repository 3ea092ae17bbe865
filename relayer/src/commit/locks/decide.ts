/** When a settled channel's locked pot of one payer can be split by `resolveLocks` (pure). */
import type { Lock, PayerIndex } from "../../../../sdk";

/** A payer's pending locks at its settled head. */
export interface PotLocks {
  readonly payer: PayerIndex;
  readonly locks: readonly Lock[];
}

/**
 * Due as soon as one lock not yet resolved (bit i of `resolved` clear) has expired in chain time: the
 * contract then resolves every lock whose outcome is known and leaves the still-open ones.
 */
export function potDue(pot: PotLocks, resolved: bigint, chainNowSec: bigint): boolean {
  return pot.locks.some((l, i) => (resolved & (1n << BigInt(i))) === 0n && l.expiry < chainNowSec);
}

/** The payers whose pot still holds funds. */
export function payersWithPots(lockPots: readonly [bigint, bigint]): PayerIndex[] {
  return ([0, 1] as const).filter((p) => lockPots[p] > 0n);
}
