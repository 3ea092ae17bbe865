/**
 * A channel's off-chain ledger: both payers' chains, the state and balances after every transfer, and
 * the settlement the contract would compute. It is what a wallet or the relayer keeps per channel and
 * what `proofs.ts` builds on-chain evidence from.
 */
import { channelIdOf, hashTransfer, locksRootOf } from "./eip712";
import { cancelConsentRule, verifyCancelConsent } from "./cancel-consent";
import {
  BadSignatureError,
  InsufficientBalanceError,
  InvalidCancelConsentError,
  LockedTotalMismatchError,
  LocksRootMismatchError,
  MalformedError,
  WrongChannelError,
} from "./errors";
import { GENESIS_STATE, applyTransfer, type ApplyOptions, type PayerState } from "./payer-state";
import { settlementOutcome, type SettlementInput, type SettlementOutcome } from "./settlement";
import { transferSigner } from "./sign";
import type {
  Address,
  ChannelParams,
  Checkpoint,
  Domain,
  Hash,
  Lock,
  PayerIndex,
  SignedCancelConsent,
  SignedTransfer,
  VerifiedTransfer,
  Withdraw,
} from "./types";

/** Balances of a channel after some transfer (all in base units): the settlement inputs and what is available. */
export interface ChannelBalances extends SettlementInput {
  /**
   * `deposit0 − paid0 + paid1 − locked0 − pendingWithdraw0`: what P0 can still pay, lock or withdraw
   * (`pendingWithdraw0` sums P0's amounts in co-signed withdrawals not yet applied on-chain).
   */
  readonly available0: bigint;
  /** `deposit1 − paid1 + paid0 − locked1 − pendingWithdraw1`. */
  readonly available1: bigint;
}

/** One applied transfer with the payer's state and the channel's balances right after it. */
export interface LedgerEntry {
  readonly transfer: VerifiedTransfer;
  readonly state: PayerState;
  readonly balances: ChannelBalances;
}

/** Checks a transfer's signature and returns its hash; throws `BadSignatureError` otherwise. */
export type SignatureCheck = (transfer: SignedTransfer, expectedSigner: Address) => Hash;

export interface LedgerOptions {
  readonly domain: Domain;
  readonly params: ChannelParams;
  readonly deposit0?: bigint;
  readonly deposit1?: bigint;
  /**
   * How signatures are checked: `"ethers"` (default; isomorphic, slow), `"none"` for transfers already
   * verified upstream (e.g. by the native verifier), or a custom check.
   */
  readonly verifySignature?: "ethers" | "none" | SignatureCheck;
  /**
   * Refuse transfers that leave the payer's available balance negative (a payee must). Defaults to
   * true when deposits are given.
   */
  readonly enforceFunds?: boolean;
}

/**
 * The balances for deposits and two payer states, less the sides' pending (signed, not yet applied)
 * withdrawals.
 */
export function channelBalances(
  deposit0: bigint,
  deposit1: bigint,
  s0: PayerState,
  s1: PayerState,
  pendingWithdraw0 = 0n,
  pendingWithdraw1 = 0n,
): ChannelBalances {
  return {
    deposit0,
    deposit1,
    paid0: s0.paidTotal,
    paid1: s1.paidTotal,
    locked0: s0.lockedTotal,
    locked1: s1.lockedTotal,
    available0: deposit0 - s0.paidTotal + s1.paidTotal - s0.lockedTotal - pendingWithdraw0,
    available1: deposit1 - s1.paidTotal + s0.paidTotal - s1.lockedTotal - pendingWithdraw1,
  };
}

/** What co-signed withdrawals not yet applied on-chain take from each side. */
export interface PendingWithdrawTotals {
  readonly amount0: bigint;
  readonly amount1: bigint;
}

/** A channel's two chains and balances. */
export class ChannelLedger {
  readonly domain: Domain;
  readonly params: ChannelParams;
  readonly channelId: Hash;
  private deposits: [bigint, bigint];
  private readonly enforceFunds: boolean;
  private readonly check: SignatureCheck | null;
  /** Entries after the base, in order: `entries[i].state.seq === bases[payer].seq + 1 + i`. */
  private readonly entries: [LedgerEntry[], LedgerEntry[]] = [[], []];
  /** The state each chain starts from (genesis, or a transfer the ledger was started at or pruned to). */
  private readonly bases: [PayerState, PayerState] = [GENESIS_STATE, GENESIS_STATE];
  private readonly baseTransfers: [VerifiedTransfer | null, VerifiedTransfer | null] = [null, null];
  /** Co-signed withdrawals not yet applied on-chain nor expired, in nonce order. */
  private pending: Withdraw[] = [];
  /** The channel's next withdraw nonce on-chain (`withdrawNonceOf`), as last told by `setDeposits`. */
  private withdrawNonce = 0;
  /** Per payer, the payee's consents to early CANCELs of that payer's chain (checked when added). */
  private readonly consents: [SignedCancelConsent[], SignedCancelConsent[]] = [[], []];

  constructor(opts: LedgerOptions) {
    this.domain = opts.domain;
    this.params = opts.params;
    this.channelId = channelIdOf(opts.domain, opts.params);
    this.deposits = [opts.deposit0 ?? 0n, opts.deposit1 ?? 0n];
    this.enforceFunds = opts.enforceFunds ?? (opts.deposit0 !== undefined || opts.deposit1 !== undefined);
    const mode = opts.verifySignature ?? "ethers";
    this.check =
      mode === "none"
        ? null
        : mode === "ethers"
          ? (t, expected) => {
              const signer = transferSigner(this.domain, t);
              if (signer !== expected) {
                throw new BadSignatureError(
                  `transfer seq ${t.seq} is signed by ${signer}, not payer ${expected}`,
                );
              }
              return hashTransfer(t);
            }
          : mode;
  }

  /** The signer of payer `i`'s transfers. */
  payerAddress(payer: PayerIndex): Address {
    return payer === 0 ? this.params.participant0 : this.params.participant1;
  }

  /**
   * Sets the deposits (after a deposit or withdrawal on-chain). Give `withdrawNonce`, the contract's
   * `withdrawNonceOf(channelId)` read with them, so pending withdrawals below it (now in the deposits)
   * are dropped; without it they stay counted, which only understates what is available.
   */
  setDeposits(deposit0: bigint, deposit1: bigint, withdrawNonce?: number): void {
    if (deposit0 < 0n || deposit1 < 0n) throw new MalformedError("deposits cannot be negative");
    this.deposits = [deposit0, deposit1];
    if (withdrawNonce !== undefined) {
      if (!Number.isInteger(withdrawNonce) || withdrawNonce < 0) {
        throw new MalformedError(`withdrawNonce must be a uint32, got ${withdrawNonce}`);
      }
      this.withdrawNonce = Math.max(this.withdrawNonce, withdrawNonce);
      this.pending = this.pending.filter((w) => w.nonce >= this.withdrawNonce);
    }
  }

  /** The channel's next withdraw nonce on-chain, as last given to `setDeposits` (0 at first). */
  onchainWithdrawNonce(): number {
    return this.withdrawNonce;
  }

  /**
   * Keeps the payee's consent to a CANCEL of the payer's chain (protocol §3), after checking it names this
   * channel and is the payee's (`InvalidCancelConsent` otherwise). Add it before applying its CANCEL: with
   * it, `apply` accepts that CANCEL before the lock's expiry, and disputes carry it on-chain.
   */
  addCancelConsent(consent: SignedCancelConsent): void {
    verifyCancelConsent(this.domain, this.params, consent);
    const held = this.consents[consent.payer];
    if (held.some((c) => c.seq === consent.seq && c.transfer === consent.transfer)) return;
    if (held.some((c) => c.seq === consent.seq))
      throw new InvalidCancelConsentError(
        consent.seq,
        "the ledger holds a consent to another CANCEL at this seq",
      );
    held.push(consent);
  }

  /** The consents held for CANCELs of payer's chain with seqs in `(fromSeq, toSeq]`, in seq order. */
  cancelConsents(payer: PayerIndex, fromSeq = 0, toSeq = Number.MAX_SAFE_INTEGER): SignedCancelConsent[] {
    return this.consents[payer]
      .filter((c) => c.seq > fromSeq && c.seq <= toSeq)
      .sort((a, b) => a.seq - b.seq);
  }

  /**
   * Registers a withdrawal both sides signed (or are about to sign) that is not applied on-chain yet:
   * until `setDeposits` reports its nonce used, or `dropExpiredWithdraws` its expiry passed, its
   * amounts are taken off `available0`/`available1`, so neither side pays, and no payee accepts,
   * transfers that rely on the withdrawn funds. Call it before releasing your signature.
   */
  addPendingWithdraw(w: Withdraw): void {
    if (w.channelId !== this.channelId) {
      throw new WrongChannelError(`withdrawal is for ${w.channelId}, this ledger is ${this.channelId}`, {
        expected: this.channelId,
        got: w.channelId,
      });
    }
    if (w.amount0 < 0n || w.amount1 < 0n) throw new MalformedError("withdrawal amounts cannot be negative");
    if (w.nonce < this.withdrawNonce) return; // already applied on-chain, so already in the deposits
    const same = this.pending.find(
      (p) =>
        p.nonce === w.nonce && p.amount0 === w.amount0 && p.amount1 === w.amount1 && p.expiry === w.expiry,
    );
    if (same) return;
    this.pending = [...this.pending, w].sort((a, b) => a.nonce - b.nonce);
  }

  /**
   * Forgets a registered pending withdrawal whose own signature was never produced (so it can never be
   * applied). Never call it for one you signed: it stays usable on-chain until it expires.
   */
  removePendingWithdraw(w: Withdraw): void {
    const i = this.pending.findIndex(
      (p) =>
        p.nonce === w.nonce && p.amount0 === w.amount0 && p.amount1 === w.amount1 && p.expiry === w.expiry,
    );
    if (i >= 0) this.pending = [...this.pending.slice(0, i), ...this.pending.slice(i + 1)];
  }

  /** The registered pending withdrawals, in nonce order. */
  pendingWithdraws(): readonly Withdraw[] {
    return this.pending;
  }

  /** The sums of the pending withdrawals' amounts per side. */
  pendingWithdrawTotals(): PendingWithdrawTotals {
    let amount0 = 0n;
    let amount1 = 0n;
    for (const w of this.pending) {
      amount0 += w.amount0;
      amount1 += w.amount1;
    }
    return { amount0, amount1 };
  }

  /**
   * Drops pending withdrawals the contract can no longer accept: `now` (the chain's latest block
   * timestamp, seconds) is past their expiry. Returns the dropped ones.
   */
  dropExpiredWithdraws(now: bigint): Withdraw[] {
    const dropped = this.pending.filter((w) => w.expiry < now);
    if (dropped.length > 0) this.pending = this.pending.filter((w) => w.expiry >= now);
    return dropped;
  }

  /**
   * The nonce a new withdrawal must carry: the lowest one at or above the on-chain next nonce that no
   * pending withdrawal holds (a pending one's nonce is used until it expires).
   */
  nextWithdrawNonce(): number {
    const used = new Set(this.pending.map((w) => w.nonce));
    let n = this.withdrawNonce;
    while (used.has(n)) n++;
    return n;
  }

  /** Payer `i`'s latest state. */
  state(payer: PayerIndex): PayerState {
    const list = this.entries[payer];
    return list.length === 0 ? this.bases[payer] : list[list.length - 1].state;
  }

  /** The first seq whose state this ledger still holds for payer `i` (0 unless started later or pruned). */
  baseSeq(payer: PayerIndex): number {
    return this.bases[payer].seq;
  }

  /** Payer `i`'s state after its transfer `seq` (genesis for 0). */
  stateAt(payer: PayerIndex, seq: number): PayerState {
    const base = this.bases[payer];
    if (seq === base.seq) return base;
    const e = this.entries[payer][seq - base.seq - 1];
    if (seq < base.seq || !e)
      throw new MalformedError(`the ledger holds no state of payer ${payer} at seq ${seq}`);
    return e.state;
  }

  /** Whether the ledger holds payer `i`'s transfer `seq`. */
  hasTransfer(payer: PayerIndex, seq: number): boolean {
    const base = this.bases[payer].seq;
    if (seq === base) return this.baseTransfers[payer] !== null;
    return seq > base && seq <= this.state(payer).seq;
  }

  /** Payer `i`'s transfer `seq`. */
  transfer(payer: PayerIndex, seq: number): VerifiedTransfer {
    const base = this.bases[payer].seq;
    const t = seq === base ? this.baseTransfers[payer] : this.entries[payer][seq - base - 1]?.transfer;
    if (seq < base || !t) throw new MalformedError(`the ledger holds no transfer ${seq} of payer ${payer}`);
    return t;
  }

  /** Payer `i`'s transfers with `from < seq <= to`. */
  transfers(payer: PayerIndex, from = this.baseSeq(payer), to = this.state(payer).seq): VerifiedTransfer[] {
    const base = this.bases[payer].seq;
    if (from < base)
      throw new MalformedError(`the ledger holds payer ${payer}'s transfers from seq ${base + 1} only`);
    return this.entries[payer].slice(from - base, to - base).map((e) => e.transfer);
  }

  /**
   * Starts payer `i`'s chain at a signed transfer instead of genesis (e.g. the on-chain head, when the
   * transfers before it are gone), with its pending locks. Only before any transfer of that payer.
   */
  startAt(t: SignedTransfer, locks: readonly Lock[]): void {
    if (t.channelId !== this.channelId) throw new WrongChannelError(`transfer is for ${t.channelId}`);
    if (this.entries[t.payer].length !== 0 || this.bases[t.payer].seq !== 0) {
      throw new MalformedError(`payer ${t.payer}'s chain has started already`);
    }
    const hash = this.check ? this.check(t, this.payerAddress(t.payer)) : hashTransfer(t);
    const locksRoot = locksRootOf(locks);
    if (locksRoot !== t.locksRoot) throw new LocksRootMismatchError(t.seq, t.locksRoot, locksRoot);
    const sum = locks.reduce((a, l) => a + l.amount, 0n);
    if (sum !== t.lockedTotal) throw new LockedTotalMismatchError(t.seq, sum, t.lockedTotal);
    this.bases[t.payer] = {
      seq: t.seq,
      head: hash,
      paidTotal: t.paidTotal,
      lockedTotal: t.lockedTotal,
      locksRoot,
      locks: [...locks],
    };
    this.baseTransfers[t.payer] = { ...t, hash };
  }

  /** Drops payer `i`'s entries before `seq` (e.g. once on-chain); `seq` becomes the base. */
  prune(payer: PayerIndex, seq: number): void {
    const base = this.bases[payer].seq;
    if (seq <= base) return;
    const entry = this.entries[payer][seq - base - 1];
    if (!entry) throw new MalformedError(`payer ${payer} has no transfer ${seq} to prune to`);
    this.bases[payer] = entry.state;
    this.baseTransfers[payer] = entry.transfer;
    this.entries[payer].splice(0, seq - base);
  }

  /** Every entry of payer `i`, in chain order. */
  history(payer: PayerIndex): readonly LedgerEntry[] {
    return this.entries[payer];
  }

  /** The channel's balances now (available less pending withdrawals). */
  balances(): ChannelBalances {
    const p = this.pendingWithdrawTotals();
    return channelBalances(
      this.deposits[0],
      this.deposits[1],
      this.state(0),
      this.state(1),
      p.amount0,
      p.amount1,
    );
  }

  /**
   * Verifies and applies a signed transfer; returns the entry with the balances after it. Throws
   * `WrongChannel`, `BadSignature`, the chain-rule errors of `applyTransfer`, or `InsufficientBalance`.
   */
  apply(t: SignedTransfer, opts: ApplyOptions = {}): LedgerEntry {
    if (t.channelId !== this.channelId) {
      throw new WrongChannelError(`transfer is for ${t.channelId}, this ledger is ${this.channelId}`, {
        expected: this.channelId,
        got: t.channelId,
      });
    }
    const hash = this.check ? this.check(t, this.payerAddress(t.payer)) : (opts.hash ?? hashTransfer(t));
    const consentedCancel =
      opts.consentedCancel ?? cancelConsentRule(this.domain, this.params, this.consents[t.payer]);
    const state = applyTransfer(this.state(t.payer), t, { ...opts, hash, consentedCancel });
    const s0 = t.payer === 0 ? state : this.state(0);
    const s1 = t.payer === 1 ? state : this.state(1);
    const p = this.pendingWithdrawTotals();
    const balances = channelBalances(this.deposits[0], this.deposits[1], s0, s1, p.amount0, p.amount1);
    if (this.enforceFunds) {
      // Only transfers that lower the payer's available balance (PAY, LOCK) can overdraw it.
      const pick = (b: ChannelBalances): bigint => (t.payer === 0 ? b.available0 : b.available1);
      const before = pick(this.balances());
      const after = pick(balances);
      if (after < 0n && after < before) throw new InsufficientBalanceError(t.payer, before, before - after);
    }
    const entry: LedgerEntry = { transfer: { ...t, hash }, state, balances };
    this.entries[t.payer].push(entry);
    return entry;
  }

  /** The checkpoint of the current heads (both participants sign it). */
  checkpoint(): Checkpoint {
    const s0 = this.state(0);
    const s1 = this.state(1);
    return { channelId: this.channelId, seq0: s0.seq, head0: s0.head, seq1: s1.seq, head1: s1.head };
  }

  /** What the contract would pay if the current heads were settled now. */
  settlement(): SettlementOutcome {
    const b = this.balances();
    return settlementOutcome({
      deposit0: b.deposit0,
      deposit1: b.deposit1,
      paid0: b.paid0,
      paid1: b.paid1,
      locked0: b.locked0,
      locked1: b.locked1,
    });
  }
}
