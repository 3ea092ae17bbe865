/**
 * A payer's chain state and the transition rule of protocol §3, exactly as `ChainVerifier.sol` checks it:
 * seq contiguity, hash pointer, the kind's lock operation, then `paidTotal`, `lockedTotal`, `locksRoot`.
 */
import { sha256 } from "ethers";
import { MAX_UINT128, fromHex } from "./bytes";
import { hashTransfer, locksRootOf } from "./eip712";
import {
  BrokenHashPointerError,
  CancelNotAllowedError,
  LockNotPendingError,
  LockedTotalMismatchError,
  LocksRootMismatchError,
  OverflowError,
  PaidTotalMismatchError,
  SeqGapError,
  TooManyLocksError,
} from "./errors";
import { MAX_PENDING_LOCKS } from "./records";
import { toTransferBody } from "./validate";
import {
  TransferKind,
  ZERO_HASH,
  type Hash,
  type Lock,
  type Transfer,
  type TransferBody,
  type TransferOrigin,
} from "./types";

/** A payer's state after its transfer `seq` (seq 0: the genesis state, all zero). */
export interface PayerState {
  readonly seq: number;
  /** The transfer hash of transfer `seq`; zero at genesis. */
  readonly head: Hash;
  readonly paidTotal: bigint;
  readonly lockedTotal: bigint;
  readonly locksRoot: Hash;
  /** Pending locks in creation order; `locksRoot` is their root. */
  readonly locks: readonly Lock[];
}

export const GENESIS_STATE: PayerState = Object.freeze({
  seq: 0,
  head: ZERO_HASH,
  paidTotal: 0n,
  lockedTotal: 0n,
  locksRoot: ZERO_HASH,
  locks: Object.freeze([]) as readonly Lock[],
});

/** Options of `applyTransfer`. */
export interface ApplyOptions {
  /** Unix seconds. When given, a CANCEL at or before its lock's expiry is refused, as on-chain. */
  readonly now?: bigint;
  /** Whether the secret of a lock was revealed on-chain at or before its expiry (refuses its CANCEL). */
  readonly revealedInTime?: (lock: Lock) => boolean;
  /**
   * Whether the payee consented to this CANCEL (its transfer hash given), so that it counts although the
   * two rules above refuse it (protocol §3). `cancelConsentRule` builds it from signed consents; it throws
   * `InvalidCancelConsent` for a consent that names the seq but does not fit, as the contract reverts.
   */
  readonly consentedCancel?: (cancel: Transfer, hash: Hash) => boolean;
  /** The transfer's hash when already known (the verifier computes it); else it is computed. */
  readonly hash?: Hash;
}

interface OpResult {
  readonly paidTotal: bigint;
  readonly lockedTotal: bigint;
  readonly locks: readonly Lock[];
  /** A CANCEL the payer may not make alone: it counts only with the payee's consent. */
  readonly needsConsent?: boolean;
}

/**
 * The CANCEL rule of protocol §3 without consent: a payer may take a lock back on its own only after its
 * expiry (`now > expiry`) and only if its secret was not revealed on-chain at or before the expiry.
 */
export function cancelNeedsConsent(lock: Lock, now: bigint | undefined, revealedInTime: boolean): boolean {
  return (now !== undefined && now <= lock.expiry) || revealedInTime;
}

function sameLock(a: Lock, b: Lock): boolean {
  return a.amount === b.amount && a.expiry === b.expiry && a.hashlock === b.hashlock;
}

/** The state change of a kind's operation (totals and list), with the contract's checks. */
function applyOperation(state: PayerState, t: TransferBody, opts: ApplyOptions): OpResult {
  switch (t.kind) {
    case TransferKind.Pay: {
      const paidTotal = state.paidTotal + t.amount;
      if (paidTotal > MAX_UINT128) throw new OverflowError(`paidTotal at seq ${t.seq}`, paidTotal, 128);
      return { paidTotal, lockedTotal: state.lockedTotal, locks: state.locks };
    }
    case TransferKind.Lock: {
      if (state.locks.length >= MAX_PENDING_LOCKS) throw new TooManyLocksError(t.seq, MAX_PENDING_LOCKS);
      const lockedTotal = state.lockedTotal + t.amount;
      if (lockedTotal > MAX_UINT128) throw new OverflowError(`lockedTotal at seq ${t.seq}`, lockedTotal, 128);
      const lock: Lock = { amount: t.amount, expiry: t.expiry, hashlock: t.hashlock };
      return { paidTotal: state.paidTotal, lockedTotal, locks: [...state.locks, lock] };
    }
    case TransferKind.Unlock:
    case TransferKind.Cancel: {
      const lock: Lock = { amount: t.amount, expiry: t.expiry, hashlock: t.hashlock };
      const index = state.locks.findIndex((l) => sameLock(l, lock));
      if (index < 0) throw new LockNotPendingError(t.seq, t.hashlock);
      if (state.lockedTotal < t.amount)
        throw new LockedTotalMismatchError(t.seq, state.lockedTotal, t.lockedTotal);
      const locks = [...state.locks.slice(0, index), ...state.locks.slice(index + 1)];
      const lockedTotal = state.lockedTotal - t.amount;
      if (t.kind === TransferKind.Unlock) {
        const paidTotal = state.paidTotal + t.amount;
        if (paidTotal > MAX_UINT128) throw new OverflowError(`paidTotal at seq ${t.seq}`, paidTotal, 128);
        return { paidTotal, lockedTotal, locks };
      }
      const needsConsent = cancelNeedsConsent(lock, opts.now, opts.revealedInTime?.(lock) ?? false);
      return { paidTotal: state.paidTotal, lockedTotal, locks, needsConsent };
    }
  }
}

/**
 * Applies `t` to `state` and returns the state after it, or throws the error the contract would revert
 * with, in its order (`SeqGap`, `BrokenHashPointer`, `LockNotPending`, `TooManyLocks`, `Overflow`,
 * `PaidTotalMismatch`, `LockedTotalMismatch`, `LocksRootMismatch`, then `CancelNotAllowed` or
 * `InvalidCancelConsent`). Does not check the transfer's signature.
 */
export function applyTransfer(state: PayerState, t: Transfer, opts: ApplyOptions = {}): PayerState {
  if (t.seq !== state.seq + 1) throw new SeqGapError(t.channelId, t.payer, state.seq + 1, t.seq);
  if (t.prev !== state.head) throw new BrokenHashPointerError(t.seq, state.head, t.prev);
  const op = applyOperation(state, t, opts);
  if (t.paidTotal !== op.paidTotal) throw new PaidTotalMismatchError(t.seq, op.paidTotal, t.paidTotal);
  if (t.lockedTotal !== op.lockedTotal)
    throw new LockedTotalMismatchError(t.seq, op.lockedTotal, t.lockedTotal);
  const locksRoot = op.locks === state.locks ? state.locksRoot : locksRootOf(op.locks);
  if (t.locksRoot !== locksRoot) throw new LocksRootMismatchError(t.seq, locksRoot, t.locksRoot);
  const head = opts.hash ?? hashTransfer(t);
  // Judged last, with the hash, exactly where `ChainVerifier` judges it.
  if (op.needsConsent && !(opts.consentedCancel?.(t, head) ?? false))
    throw new CancelNotAllowedError(t.seq, t.expiry, opts.now ?? 0n);
  return {
    seq: t.seq,
    head,
    paidTotal: op.paidTotal,
    lockedTotal: op.lockedTotal,
    locksRoot,
    locks: op.locks,
  };
}

/** An operation a payer wants to perform; `buildTransfer` turns it into the next valid transfer. */
export type TransferOp =
  | { readonly kind: "PAY"; readonly amount: bigint; readonly invoiceId?: Hash }
  | {
      readonly kind: "LOCK";
      readonly amount: bigint;
      readonly hashlock: Hash;
      readonly expiry: bigint;
      readonly invoiceId?: Hash;
    }
  | { readonly kind: "UNLOCK"; readonly lock: Lock; readonly invoiceId?: Hash }
  | { readonly kind: "CANCEL"; readonly lock: Lock; readonly invoiceId?: Hash };

/**
 * The next transfer of a payer in `state`: seq, prev, totals and root computed from the operation, so
 * the result always satisfies the chain rule. Throws the same errors as `applyTransfer` (e.g. a lock
 * that is not pending) and `InvalidTransferFields` for a zero amount or missing hashlock.
 */
export function buildTransfer(state: PayerState, origin: TransferOrigin, op: TransferOp): Transfer {
  const fields =
    op.kind === "PAY"
      ? { kind: TransferKind.Pay, amount: op.amount, hashlock: ZERO_HASH, expiry: 0n }
      : op.kind === "LOCK"
        ? { kind: TransferKind.Lock, amount: op.amount, hashlock: op.hashlock, expiry: op.expiry }
        : {
            kind: op.kind === "UNLOCK" ? TransferKind.Unlock : TransferKind.Cancel,
            amount: op.lock.amount,
            hashlock: op.lock.hashlock,
            expiry: op.lock.expiry,
          };
  const draft = toTransferBody({
    ...fields,
    seq: state.seq + 1,
    paidTotal: 0n,
    lockedTotal: 0n,
    locksRoot: ZERO_HASH,
    invoiceId: op.invoiceId ?? ZERO_HASH,
    prev: state.head,
  });
  const result = applyOperation(state, draft, {});
  const body = toTransferBody({
    ...draft,
    paidTotal: result.paidTotal,
    lockedTotal: result.lockedTotal,
    locksRoot: result.locks === state.locks ? state.locksRoot : locksRootOf(result.locks),
  });
  return { ...body, channelId: origin.channelId, payer: origin.payer };
}

/** The hashlock of a 32-byte preimage: `sha256(preimage)`, as in Bitcoin and Lightning HTLCs. */
export function hashlockOf(preimage: Hash): Hash {
  fromHex(preimage, "preimage", 32);
  return sha256(preimage) as Hash;
}

/** Replays transfers from genesis (or `from`) and returns every intermediate state. */
export function replay(transfers: readonly Transfer[], from: PayerState = GENESIS_STATE): PayerState[] {
  const out: PayerState[] = [];
  let s = from;
  for (const t of transfers) {
    s = applyTransfer(s, t);
    out.push(s);
  }
  return out;
}
