/**
 * What a node keeps per channel: each payer's chain state (the SDK's `PayerState`), the transfers since
 * the on-chain head (compact: seq, kind, hash and the original message bytes; decoded only when a proof
 * needs them), transfers waiting in the reorder window, and the commit bookkeeping. On-chain facts
 * (params, deposits, on-chain seqs) are not here: the chain registry owns them.
 */
import {
  applyTransfer,
  ChannelLedger,
  type ChannelParams,
  type Domain,
  GENESIS_STATE,
  type Hash,
  type Hex,
  InsufficientBalanceError,
  type Lock,
  MalformedError,
  type PayerIndex,
  type PayerState,
  type SignedCheckpoint,
  type Transfer,
  TransferKind,
  isParsecError,
  type VerifiedTransfer,
  decodeVerifiedTransfer,
  prevOf,
  type LoggedTransfer,
} from "../../../sdk";
import { hashTransfer } from "../../../sdk/src/eip712";
import type { StoredValue } from "./local-store";
import { carriedConsent, consentRuleOf } from "./consent";
import type { InboxEntry, MediationState, PaymentEntry } from "../mediate/entry";
import { isTerminal } from "../mediate/log";

/**
 * A transfer held in a payer's history. Its bytes are in memory (`wire`) until a flush writes them
 * to the local store, then only their place there (`pos`, `len`) is kept. `hash` is kept for the head
 * and recomputed from the bytes when an older one is needed.
 */
export interface HistoryEntry {
  readonly seq: number;
  readonly offset: number;
  hash: Hash | null;
  wire: Buffer | null;
  /** Where the bytes are in the local store (-1: not written yet). */
  pos: number;
  len: number;
}

/** Reads held bytes back from the local store. */
export type WireReader = (stored: StoredValue) => Buffer;

/** A verified transfer on its way through the reorder window, with where it came from. */
export type WindowItem = LoggedTransfer;

/** One payer's chain as the node holds it. */
export interface PayerTrack {
  state: PayerState;
  /** The oldest transfer kept (the on-chain head once the chain holds one); 0 = genesis. */
  baseSeq: number;
  /** Pending locks right after `baseSeq`. */
  baseLocks: readonly Lock[];
  /** Transfers `max(baseSeq, 1) … state.seq`, in order. */
  history: HistoryEntry[];
  /** Verified transfers ahead of a gap, by seq (mirrors the reorder window, which has no iterator). */
  readonly pending: Map<number, WindowItem>;
  /**
   * In-order transfers waiting for funds: the first overdraws the payer's balance now, but the other
   * payer's chain (a different order on the wire) or a deposit may still cover it.
   */
  blocked: WindowItem[];
  blockedSinceMs: number;
}

/** A checkpoint this node proposed, with the signatures received so far. */
export interface ProposalState {
  readonly proposalId: string;
  readonly seq0: number;
  readonly head0: Hash;
  readonly seq1: number;
  readonly head1: Hash;
  readonly proposedAtMs: number;
  sig0: Hex | null;
  sig1: Hex | null;
}

/** A control request being carried out (kept in the snapshot so a restart finishes it). */
export interface ControlState {
  readonly requestId: string;
  readonly action: "SETTLE_NOW" | "DISPUTE";
  readonly atMs: number;
}

/** The latest co-signed checkpoint (without channel id). */
export type CheckpointState = Omit<SignedCheckpoint, "channelId">;

function newTrack(): PayerTrack {
  return {
    state: GENESIS_STATE,
    baseSeq: 0,
    baseLocks: [],
    history: [],
    pending: new Map(),
    blocked: [],
    blockedSinceMs: 0,
  };
}

/**
 * The funds rule a payee applies (as `ChannelLedger.apply`, with the SDK's `channelBalances`
 * definition of available): PAY and LOCK must not overdraw the payer.
 */
export function checkFunds(
  deposits: readonly [bigint, bigint],
  before: readonly [PayerState, PayerState],
  payer: PayerIndex,
  after: PayerState,
): void {
  const other = before[payer === 0 ? 1 : 0];
  // available_i = deposit_i - paid_i + paid_other - locked_i (channelBalances); the other side is unchanged.
  const base = deposits[payer] + other.paidTotal;
  const now = base - after.paidTotal - after.lockedTotal;
  if (now >= 0n) return;
  const was = base - before[payer].paidTotal - before[payer].lockedTotal;
  if (now < was) throw new InsufficientBalanceError(payer, was, was - now);
}

export class ChannelState {
  readonly payers: [PayerTrack, PayerTrack] = [newTrack(), newTrack()];
  lastTransferOffset = -1;
  lastControlOffset = -1;
  lastSignatureOffset = -1;
  /** When the oldest transfer not yet on-chain was applied; 0 when everything is committed. */
  uncommittedSinceMs = 0;
  /** Set by the m-th transfer or a checkpoint-now request; cleared when a commit is proposed. */
  commitDue = false;
  proposal: ProposalState | null = null;
  checkpoint: CheckpointState | null = null;
  control: ControlState | null = null;
  /**
   * Routed payments the node mediates whose incoming lock is in this channel (`paymentKey`). Change them
   * with `putPayment` / `deletePayment`: each payment is its own changelog record, and a flush writes
   * only the ones that changed.
   */
  readonly payments = new Map<string, PaymentEntry>();
  /** `payments` as the last committed flush holds them: the mediator acts only on these entries. */
  readonly durablePayments = new Map<string, PaymentEntry>();
  /** The payments changed since the last committed flush (their records are due). */
  readonly changedPayments = new Set<string>();
  /**
   * The keys of `payments` not finished yet: a mediation round steps these only (finished ones stay in
   * `payments` a while, for `GET /payments` and the inbox prune).
   */
  readonly livePayments = new Set<string>();
  /** Verified peer messages about the node's own locks in this channel (`inboxKey`). */
  inbox = new Map<string, InboxEntry>();
  updatedAtMs = 0;

  constructor(
    readonly channelId: Hash,
    private readonly reader: WireReader | null = null,
  ) {}

  /** Each payer's seq as the last committed flush holds it (the mediator's transfers count as done then). */
  durableSeqs: readonly [number, number] = [0, 0];

  putPayment(key: string, entry: PaymentEntry): void {
    this.payments.set(key, entry);
    this.changedPayments.add(key);
    this.trackLive(key, entry);
  }

  deletePayment(key: string): void {
    this.payments.delete(key);
    this.changedPayments.add(key);
    this.livePayments.delete(key);
  }

  /** The payments not finished yet, with their entries. */
  *live(): Iterable<[string, PaymentEntry]> {
    for (const key of this.livePayments) {
      const e = this.payments.get(key);
      if (e) yield [key, e];
    }
  }

  private trackLive(key: string, entry: PaymentEntry): void {
    if (isTerminal(entry.record)) this.livePayments.delete(key);
    else this.livePayments.add(key);
  }

  /**
   * The flush that wrote the channel's snapshot and `flushed` (the payments changed before it) committed:
   * those payments are journaled as they are now (a flush runs under the partition's lock: nothing
   * changed them since it read them).
   */
  markDurable(flushed: readonly string[]): void {
    this.durableSeqs = [this.payers[0].state.seq, this.payers[1].state.seq];
    for (const key of flushed) {
      const e = this.payments.get(key);
      if (e) this.durablePayments.set(key, e);
      else this.durablePayments.delete(key);
      this.changedPayments.delete(key);
    }
  }

  /**
   * Installs the mediation state of a restored snapshot and the payment records read with it (durable:
   * they came from the changelog or the local store). Payments inside the snapshot (written before each
   * payment had its own record) are due as records at the next flush.
   */
  restoreMediation(m: MediationState, records: ReadonlyMap<string, PaymentEntry> = new Map()): void {
    this.payments.clear();
    this.durablePayments.clear();
    this.changedPayments.clear();
    this.livePayments.clear();
    for (const [k, e] of m.payments) {
      this.payments.set(k, e);
      if (!records.has(k)) this.changedPayments.add(k);
    }
    for (const [k, e] of records) this.payments.set(k, e);
    for (const [k, e] of this.payments) {
      this.durablePayments.set(k, e);
      this.trackLive(k, e);
    }
    this.inbox = new Map(m.inbox);
    this.durableSeqs = [this.payers[0].state.seq, this.payers[1].state.seq];
  }

  /** The bytes of a held transfer (from memory or the local store), or null when they are gone. */
  wireOf(e: HistoryEntry): Buffer | null {
    if (e.wire) return e.wire;
    return e.pos >= 0 && this.reader ? this.reader({ pos: e.pos, len: e.len }) : null;
  }

  /** The held history entry of payer's `seq`, if any. */
  entry(payer: PayerIndex, seq: number): HistoryEntry | undefined {
    const t = this.payers[payer];
    const first = t.baseSeq > 0 ? t.baseSeq : 1;
    const e = t.history[seq - first];
    return e !== undefined && e.seq === seq ? e : undefined;
  }

  /** The transfer hash of a held entry (computed from its bytes once, after a restore). */
  entryHash(payer: PayerIndex, e: HistoryEntry): Hash | undefined {
    if (e.hash === null) {
      // The next transfer's `prev` is this one's hash: a field read instead of a keccak.
      const next = this.entry(payer, e.seq + 1);
      const nextWire = next ? this.wireOf(next) : null;
      if (nextWire) e.hash = prevOf(nextWire);
      else {
        const wire = this.wireOf(e);
        if (wire) e.hash = hashTransfer(decodeVerifiedTransfer(wire).transfer);
      }
    }
    return e.hash ?? undefined;
  }

  /** The hash of payer's transfer `seq` (zero hash for 0), if held. */
  hashAt(payer: PayerIndex, seq: number): Hash | undefined {
    if (seq === 0) return GENESIS_STATE.head;
    if (seq === this.payers[payer].state.seq) return this.payers[payer].state.head;
    const e = this.entry(payer, seq);
    return e ? this.entryHash(payer, e) : undefined;
  }

  /**
   * Applies the next transfer of a payer (in order, verified): the SDK's chain rule (CANCEL only after
   * expiry when `nowSec` is given and only if `revealedAt` knows no reveal of its secret at or before the
   * expiry, or else with the payee's consent carried in its message when `consent` names the channel),
   * then the funds rule. Throws the SDK's error (`CancelNotAllowed`, `InvalidCancelConsent`, …) and
   * changes nothing when the transfer is rejected.
   */
  apply(
    item: WindowItem,
    deposits: readonly [bigint, bigint],
    enforceFunds: boolean,
    nowSec?: bigint,
    consent?: { readonly domain: Domain; readonly params: ChannelParams },
    revealedAt?: (hashlock: Hash) => bigint | undefined,
  ): PayerState {
    const track = this.payers[item.payer];
    // With `now`, a CANCEL before its lock's expiry is refused, as a payee (and the contract) would,
    // unless its message carries the payee's consent (read only for such a CANCEL: a cold path).
    const consentedCancel =
      consent && nowSec !== undefined && item.kind === TransferKind.Cancel && item.wire.length > 0
        ? consentRuleOf(consent.domain, consent.params, item.wire, nowSec)
        : undefined;
    // As `ChainVerifier`: a secret registered at or before the lock's expiry forbids the payer's own CANCEL.
    const revealedInTime = revealedAt
      ? (lock: Lock): boolean => {
          const at = revealedAt(lock.hashlock);
          return at !== undefined && at <= lock.expiry;
        }
      : undefined;
    const next = applyTransfer(track.state, item, {
      hash: item.hash,
      now: nowSec,
      consentedCancel,
      revealedInTime,
    });
    if (enforceFunds) checkFunds(deposits, [this.payers[0].state, this.payers[1].state], item.payer, next);
    track.state = next;
    // Only the head's hash stays in memory; older ones are recomputed when needed.
    const last = track.history[track.history.length - 1];
    if (last) last.hash = null;
    track.history.push({
      seq: item.seq,
      offset: item.offset,
      hash: item.hash,
      wire: item.wire,
      pos: -1,
      len: 0,
    });
    return next;
  }

  /**
   * Puts the consent a held CANCEL carries into `ledger`. A CANCEL applied after its expiry was applied
   * without reading its consent: one that is not the payee's is left out (the CANCEL needs none).
   */
  private keepConsent(
    ledger: ChannelLedger,
    wire: Buffer,
    cancel: VerifiedTransfer | Transfer,
    hash: Hash,
  ): void {
    try {
      const consent = carriedConsent(wire, cancel, hash);
      if (consent) ledger.addCancelConsent(consent);
    } catch (e) {
      if (!(isParsecError(e) && e.code === "InvalidCancelConsent")) throw e;
    }
  }

  /** Decodes a held transfer; throws when its bytes are gone. */
  transferAt(payer: PayerIndex, seq: number): VerifiedTransfer {
    const e = this.entry(payer, seq);
    const wire = e ? this.wireOf(e) : null;
    if (!e || !wire) throw new MalformedError(`the node holds no bytes of payer ${payer}'s transfer ${seq}`);
    const t = decodeVerifiedTransfer(wire).transfer;
    e.hash ??= hashTransfer(t);
    return { ...t, hash: e.hash };
  }

  /** The state of payer right after the base transfer. */
  private baseState(payer: PayerIndex): PayerState {
    const t = this.payers[payer];
    if (t.baseSeq === 0) return GENESIS_STATE;
    const base = this.transferAt(payer, t.baseSeq);
    return {
      seq: base.seq,
      head: base.hash,
      paidTotal: base.paidTotal,
      lockedTotal: base.lockedTotal,
      locksRoot: base.locksRoot,
      locks: t.baseLocks,
    };
  }

  /**
   * Drops payer's transfers before `seq` (it reached the chain); `seq` becomes the base. Computes the
   * pending locks at `seq` by replaying only when lock operations happened in between. Returns the
   * offsets of the dropped transfers.
   */
  prune(payer: PayerIndex, seq: number): number[] {
    const t = this.payers[payer];
    if (seq <= t.baseSeq || seq > t.state.seq) return [];
    const first = t.baseSeq > 0 ? t.baseSeq : 1;
    const cut = seq - first;
    let locks = t.baseLocks;
    const between = t.history.slice(t.baseSeq > 0 ? 1 : 0, cut + 1);
    if (seq === t.state.seq) {
      locks = t.state.locks;
    } else {
      const wires = between.map((e) => this.wireOf(e));
      if (wires.some((w) => !w)) return []; // cannot recompute: keep the longer history
      const transfers = wires.map((w) => decodeVerifiedTransfer(w as Buffer).transfer);
      if (transfers.some((x) => x.kind !== 0)) {
        // Lock operations in between: replay them (the SDK's rule) for the pending locks at `seq`.
        let s = this.baseState(payer);
        transfers.forEach((x, i) => (s = applyTransfer(s, x, { hash: between[i].hash ?? undefined })));
        locks = s.locks;
      }
    }
    const dropped = t.history.slice(0, cut).map((e) => e.offset);
    t.history = t.history.slice(cut);
    t.baseSeq = seq;
    t.baseLocks = locks;
    return dropped;
  }

  /** Whether payer has applied transfers the chain does not hold. */
  aheadOf(onchainSeq0: number, onchainSeq1: number): boolean {
    return this.payers[0].state.seq > onchainSeq0 || this.payers[1].state.seq > onchainSeq1;
  }

  /** Verified transfers not applied yet (blocked for funds, or waiting behind a gap). */
  waiting(payer: PayerIndex): WindowItem[] {
    const t = this.payers[payer];
    return [...t.blocked, ...t.pending.values()];
  }

  /**
   * The first of payer's held transfers after `fromSeq` that the contract would refuse: a CANCEL whose
   * message carries no payee consent and that `plainCounts` (the chain's view: expiry passed, secret not
   * revealed by it) rejects. Null when every one counts (or its bytes are gone).
   */
  firstRefusedCancel(
    payer: PayerIndex,
    fromSeq: number,
    plainCounts: (cancel: Transfer) => boolean,
  ): number | null {
    for (const e of this.payers[payer].history) {
      if (e.seq <= fromSeq) continue;
      const wire = this.wireOf(e);
      if (!wire) return null;
      const t = decodeVerifiedTransfer(wire).transfer;
      if (t.kind !== TransferKind.Cancel) continue;
      let consented = false;
      try {
        consented = carriedConsent(wire, t, e.hash ?? hashTransfer(t)) !== null;
      } catch {
        consented = false;
      }
      if (!consented && !plainCounts(t)) return e.seq;
    }
    return null;
  }

  /**
   * The SDK ledger of what the node holds (for proofs and evidence); decodes the held transfers. The
   * payee consents carried by held CANCELs go into the ledger, so a dispute carries them on-chain.
   * `upTo` leaves out each payer's transfers after that seq (evidence the contract would refuse).
   */
  toLedger(
    domain: Domain,
    params: ChannelParams,
    deposits: readonly [bigint, bigint],
    upTo?: readonly [number, number],
  ): ChannelLedger {
    const ledger = new ChannelLedger({
      domain,
      params,
      deposit0: deposits[0],
      deposit1: deposits[1],
      verifySignature: "none",
      enforceFunds: false,
    });
    for (const payer of [0, 1] as const) {
      const t = this.payers[payer];
      const entries = t.history;
      let i = 0;
      if (t.baseSeq > 0) {
        ledger.startAt(this.transferAt(payer, t.baseSeq), t.baseLocks);
        i = 1;
      }
      for (; i < entries.length; i++) {
        const e = entries[i];
        if (upTo && e.seq > upTo[payer]) break;
        const wire = this.wireOf(e);
        if (!wire) throw new MalformedError(`the node holds no bytes of payer ${payer}'s transfer ${e.seq}`);
        const transfer = decodeVerifiedTransfer(wire).transfer;
        if (transfer.kind === TransferKind.Cancel) {
          this.keepConsent(ledger, wire, transfer, e.hash ?? hashTransfer(transfer));
        }
        ledger.apply(transfer, { hash: e.hash ?? undefined });
      }
    }
    return ledger;
  }
}
