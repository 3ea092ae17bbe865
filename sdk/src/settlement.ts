/**
 * The payout rule of protocol §5, identical to `contracts/libraries/Settlement.sol`, and the lock
 * resolution of `resolveLocks`.
 */
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
  /** Paid to the payee by this call. */
  readonly toPayee: bigint;
  /** Paid back to the payer by this call, `uncovered` included. */
  readonly toPayer: bigint;
  /** Each lock's share of the pot, in list order: `min(amount, pot − amounts before it)`, at least 0. */
  readonly shares: readonly bigint[];
  /** Bit i set: lock i is resolved by this call. */
  readonly resolved: bigint;
  /** Indexes of the locks that stay open (unrevealed and not expired): a later call resolves them. */
  readonly open: readonly number[];
  /** The part of the pot no lock of the list covers; paid to the payer by the first call. */
  readonly uncovered: bigint;
}

/**
 * What one `resolveLocks` call does (protocol §5), lock by lock, for the pot as `pendingLocksOf` holds it
 * now (the first call pays the uncovered part and stores the pot without it, so pass the current pot, not
 * the one `ChannelSettled` reported, once `alreadyResolved` is non-zero): a lock already in `alreadyResolved` is
 * skipped; a lock with no share resolves at once; a lock goes to the payee when `unlockable(lock, i)`
 * (preimage shown before expiry or registered in time), to the payer once expired (`now > expiry`; without
 * `now` every lock counts as expired), and otherwise stays open. `resolved === 0n && uncovered === 0n` is
 * where the contract reverts `NoLockResolvable`.
 */
export function resolveLocksOutcome(
  locks: readonly Lock[],
  pot: bigint,
  unlockable: (lock: Lock, index: number) => boolean,
  now?: bigint,
  alreadyResolved = 0n,
): LockResolution {
  let before = 0n;
  let toPayee = 0n;
  let toPayer = 0n;
  let resolved = 0n;
  const shares: bigint[] = [];
  const open: number[] = [];
  for (let i = 0; i < locks.length; i++) {
    const lock = locks[i];
    const left = pot > before ? pot - before : 0n;
    const share = lock.amount < left ? lock.amount : left;
    before += lock.amount;
    shares.push(share);
    const bit = 1n << BigInt(i);
    if ((alreadyResolved & bit) !== 0n) continue;
    if (share !== 0n) {
      if (unlockable(lock, i)) toPayee += share;
      else if (now === undefined || now > lock.expiry) toPayer += share;
      else {
        open.push(i);
        continue;
      }
    }
    resolved |= bit;
  }
  const uncovered = pot > before ? pot - before : 0n;
  return { toPayee, toPayer: toPayer + uncovered, shares, resolved, open, uncovered };
}
