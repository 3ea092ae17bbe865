/**
 * Co-signing withdrawals safely (protocol, *SDK* → *Withdrawals*). The contract caps a withdrawal only by
 * the side's on-chain deposit, not by what that side has paid away off-chain, and a co-signed `Withdraw`
 * stays usable until its expiry. So before co-signing, each participant checks the withdrawal against its
 * own ledger of both chains and the withdrawals it already signed, and then counts it as pending until it
 * is applied on-chain or expires. Isomorphic.
 *
 * @example
 * const w = { channelId: ledger.channelId, nonce: ledger.nextWithdrawNonce(), amount0: 10n ** 17n, amount1: 0n, expiry: now + 600n };
 * const mySig = await cosignWithdraw(ledger, signer, w, { now }); // throws UnsafeWithdrawError if unsafe
 * await channels.withdraw(...withdrawArgs(params, w, sig0, sig1));
 * ledger.setDeposits(d0, d1, Number(await channels.withdrawNonceOf(ledger.channelId))); // drops it from pending
 */
import type { ChannelLedger } from "./chain";
import { MalformedError, UnsafeWithdrawError, WrongChannelError, WalletError } from "./errors";
import { signWithdraw, type ParsecSigner } from "./sign";
import type { Hex, PayerIndex, Withdraw } from "./types";

/** The default bound on how far ahead a co-signed withdrawal may expire: one hour. */
export const DEFAULT_MAX_WITHDRAW_EXPIRY_SECONDS = 3600n;

export interface WithdrawSafetyOptions {
  /** The chain's time now (the latest block's timestamp), in seconds. */
  readonly now: bigint;
  /** The latest expiry accepted is `now + maxExpirySeconds` (default one hour). */
  readonly maxExpirySeconds?: bigint;
  /**
   * The contract's `withdrawNonceOf(channelId)` if fresher than what the ledger was last told by
   * `setDeposits`; the larger of the two is used.
   */
  readonly onchainNonce?: number;
  /** Signed, not yet applied withdrawals not registered in the ledger (`addPendingWithdraw`). */
  readonly pending?: readonly Withdraw[];
}

/** The numbers a withdrawal was checked against. */
export interface WithdrawSafety {
  /** The nonce the withdrawal had to carry. */
  readonly nonce: number;
  /** Per side: `deposit − paid + received − locked − pending` (before this withdrawal). */
  readonly available: readonly [bigint, bigint];
  /** Per side: the amounts of the pending withdrawals counted (live ones other than this one). */
  readonly pending: readonly [bigint, bigint];
  /** Per side: the most this withdrawal may take (`min(available, deposit − pending)`, at least 0). */
  readonly maxAmount: readonly [bigint, bigint];
}

const max0 = (x: bigint): bigint => (x > 0n ? x : 0n);

function sameWithdraw(a: Withdraw, b: Withdraw): boolean {
  return (
    a.channelId === b.channelId &&
    a.nonce === b.nonce &&
    a.amount0 === b.amount0 &&
    a.amount1 === b.amount1 &&
    a.expiry === b.expiry
  );
}

/**
 * Checks that co-signing `w` is safe for the holder of `ledger`, and returns the numbers it used. Throws
 * `UnsafeWithdrawError` (with the numbers in its message and `details`) when
 * - a side's amount exceeds its available balance, `deposit − paid + received − locked − pending` from
 *   the ledger's two chains, where `pending` sums that side's live signed-but-unapplied withdrawals
 *   (the ledger's and `opts.pending`, expired ones and those below the on-chain nonce not counted);
 * - a side's amount exceeds its on-chain deposit less its pending withdrawals (the contract would revert);
 * - the nonce is not the next one: the lowest at or above the on-chain next nonce that no live pending
 *   withdrawal holds;
 * - it has expired (`expiry < now`) or expires more than `maxExpirySeconds` after `now`.
 * A withdrawal identical to a registered pending one is checked as itself, not counted twice. Throws
 * `WrongChannelError` for another channel. Does not change the ledger.
 */
export function checkWithdrawSafety(
  ledger: ChannelLedger,
  w: Withdraw,
  opts: WithdrawSafetyOptions,
): WithdrawSafety {
  if (w.channelId !== ledger.channelId) {
    throw new WrongChannelError(`withdrawal is for ${w.channelId}, this ledger is ${ledger.channelId}`, {
      expected: ledger.channelId,
      got: w.channelId,
    });
  }
  if (w.amount0 < 0n || w.amount1 < 0n) throw new MalformedError("withdrawal amounts cannot be negative");
  const { now } = opts;
  const maxExpiry = opts.maxExpirySeconds ?? DEFAULT_MAX_WITHDRAW_EXPIRY_SECONDS;
  const onchainNonce = Math.max(ledger.onchainWithdrawNonce(), opts.onchainNonce ?? 0);
  const live = [...ledger.pendingWithdraws(), ...(opts.pending ?? [])].filter(
    (p) => p.expiry >= now && p.nonce >= onchainNonce && !sameWithdraw(p, w),
  );
  // Distinct pending withdrawals (the ledger's and the caller's lists may overlap).
  const others = live.filter((p, i) => live.findIndex((q) => sameWithdraw(p, q)) === i);

  const used = new Set(others.map((p) => p.nonce));
  let nonce = onchainNonce;
  while (used.has(nonce)) nonce++;

  const b = ledger.balances();
  const pendingSum = (side: PayerIndex): bigint =>
    others.reduce((a, p) => a + (side === 0 ? p.amount0 : p.amount1), 0n);
  const pending: [bigint, bigint] = [pendingSum(0), pendingSum(1)];
  const ledgerPending = ledger.pendingWithdrawTotals();
  const deposit: [bigint, bigint] = [b.deposit0, b.deposit1];
  const paid: [bigint, bigint] = [b.paid0, b.paid1];
  const locked: [bigint, bigint] = [b.locked0, b.locked1];
  // The ledger's available balances already subtract its own pending list; recompute with `others`.
  const available: [bigint, bigint] = [
    b.available0 + ledgerPending.amount0 - pending[0],
    b.available1 + ledgerPending.amount1 - pending[1],
  ];
  const maxAmount: [bigint, bigint] = [
    max0(available[0] < deposit[0] - pending[0] ? available[0] : deposit[0] - pending[0]),
    max0(available[1] < deposit[1] - pending[1] ? available[1] : deposit[1] - pending[1]),
  ];
  const safety: WithdrawSafety = { nonce, available, pending, maxAmount };

  for (const side of [0, 1] as const) {
    const amount = side === 0 ? w.amount0 : w.amount1;
    const other = side === 0 ? 1 : 0;
    const numbers = {
      side,
      amount,
      max: maxAmount[side],
      deposit: deposit[side],
      paid: paid[side],
      received: paid[other],
      locked: locked[side],
      pending: pending[side],
    };
    if (amount > 0n && amount > available[side]) {
      throw new UnsafeWithdrawError(
        `side ${side} asks for ${amount} but may withdraw at most ${maxAmount[side]}: deposit ` +
          `${deposit[side]} − paid ${paid[side]} + received ${paid[other]} − locked ${locked[side]} − ` +
          `pending ${pending[side]} = ${available[side]}. The rest is owed to the other side or held by ` +
          `pending locks and withdrawals; ask for at most ${maxAmount[side]}`,
        numbers,
      );
    }
    if (amount > 0n && amount > deposit[side] - pending[side]) {
      throw new UnsafeWithdrawError(
        `side ${side} asks for ${amount} but its on-chain deposit ${deposit[side]} less pending ` +
          `withdrawals ${pending[side]} is ${deposit[side] - pending[side]}, so the contract would revert ` +
          `(WithdrawExceedsDeposit); a side withdraws from its own deposit only. Ask for at most ` +
          `${maxAmount[side]}`,
        numbers,
      );
    }
  }
  if (w.nonce !== nonce) {
    throw new UnsafeWithdrawError(
      `nonce ${w.nonce} is not the next withdraw nonce ${nonce} (on-chain next ${onchainNonce}, pending ` +
        `${others.map((p) => p.nonce).join(", ") || "none"}); an out-of-order withdrawal stays usable ` +
        `later. Sign it again with nonce ${nonce}`,
      { nonce: w.nonce, expected: nonce, onchainNonce },
    );
  }
  if (w.expiry < now) {
    throw new UnsafeWithdrawError(`it expired at ${w.expiry} (now ${now}); sign a fresh one`, {
      expiry: w.expiry,
      now,
    });
  }
  if (w.expiry > now + maxExpiry) {
    throw new UnsafeWithdrawError(
      `it expires at ${w.expiry}, ${w.expiry - now} s from now (${now}), more than the ${maxExpiry} s ` +
        `allowed: a co-signed withdrawal stays usable until it expires. Ask for an expiry at most ` +
        `${now + maxExpiry}`,
      { expiry: w.expiry, now, maxExpirySeconds: maxExpiry },
    );
  }
  return safety;
}

/** Whether a signing failure proves that no signature exists. */
function producedNoSignature(e: unknown, signer: ParsecSigner): boolean {
  return signer.type === "local" || (e instanceof WalletError && e.details.walletCode === 4001);
}

/**
 * Checks `w` with `checkWithdrawSafety`, registers it as pending in `ledger` (so the balances and the
 * funds check of `ledger.apply` count it from now on) and signs it with `signer`, a participant of the
 * channel. Returns the signature. If signing fails without producing a signature (a local key threw, the
 * wallet's user rejected it) the pending entry is removed again.
 */
export async function cosignWithdraw(
  ledger: ChannelLedger,
  signer: ParsecSigner,
  w: Withdraw,
  opts: WithdrawSafetyOptions,
): Promise<Hex> {
  if (signer.address !== ledger.params.participant0 && signer.address !== ledger.params.participant1) {
    throw new WrongChannelError(`${signer.address} is not a participant of channel ${ledger.channelId}`, {
      signer: signer.address,
    });
  }
  checkWithdrawSafety(ledger, w, opts);
  const wasPending = ledger.pendingWithdraws().some((p) => sameWithdraw(p, w));
  ledger.addPendingWithdraw(w);
  try {
    return await signWithdraw(signer, ledger.domain, w);
  } catch (e) {
    if (!wasPending && producedNoSignature(e, signer)) ledger.removePendingWithdraw(w);
    throw e;
  }
}
