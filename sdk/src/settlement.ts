/**
 * The payout rule of protocol §5, identical to `contracts/libraries/Settlement.sol`, and the lock
 * resolution of `resolveLocks`.
 */
import { LockNotExpiredError } from "./errors";
import type { Lock } from "./types";

export interface SettlementInput {
  readonly deposit0: bigint;
  readonly deposit1: bigint;
  readonly paid0: bigint;
  readonly paid1: bigint;
  readonly locked0: bigint;
  readonly locked1: bigint;
}

export interface SettlementOutcome {
  readonly payout0: bigint;
  readonly payout1: bigint;
  /** Held back for payer 0's pending locks, split by `resolveLocks`. */
  readonly pot0: bigint;
  readonly pot1: bigint;
}

/** `a0 = clamp(d0 + paid1 − paid0, 0, total)`, `pot_i = min(locked_i, a_i)`, `payout_i = a_i − pot_i`. */
export function settlementOutcome(i: SettlementInput): SettlementOutcome {
  const total = i.deposit0 + i.deposit1;
  const credit0 = i.deposit0 + i.paid1;
  let a0 = credit0 > i.paid0 ? credit0 - i.paid0 : 0n;
  if (a0 > total) a0 = total;
  const a1 = total - a0;
  const pot0 = i.locked0 < a0 ? i.locked0 : a0;
  const pot1 = i.locked1 < a1 ? i.locked1 : a1;
  return { payout0: a0 - pot0, payout1: a1 - pot1, pot0, pot1 };
}

export interface LockResolution {
  readonly toPayee: bigint;
  readonly toPayer: bigint;
  /** What each lock took from the pot, in list order. */
  readonly shares: readonly bigint[];
}

/**
 * How `resolveLocks` splits a payer's pot: in list order each lock takes `min(amount, pot left)`, to the
 * payee when `unlockable(lock, i)` (preimage shown before expiry or registered in time), else to the payer.
 * With `now` (the block time), throws `LockNotExpiredError` where the contract reverts `LockNotExpired`: a
 * lock with a share that is not unlockable and has not expired (`now <= expiry`).
 */
export function resolveLocksOutcome(
  locks: readonly Lock[],
  pot: bigint,
  unlockable: (lock: Lock, index: number) => boolean,
  now?: bigint,
): LockResolution {
  let left = pot;
  let toPayee = 0n;
  const shares: bigint[] = [];
  for (let i = 0; i < locks.length; i++) {
    const share = left === 0n ? 0n : locks[i].amount < left ? locks[i].amount : left;
    left -= share;
    shares.push(share);
    if (share === 0n) continue;
    if (unlockable(locks[i], i)) toPayee += share;
    else if (now !== undefined && now <= locks[i].expiry)
      throw new LockNotExpiredError(locks[i].hashlock, locks[i].expiry, now);
  }
  return { toPayee, toPayer: pot - toPayee, shares };
}
