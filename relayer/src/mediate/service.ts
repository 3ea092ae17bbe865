/**
 * The mediator service (protocol §11.5), lnd's htlcswitch link beside the commit services: it pairs each
 * incoming routed LOCK with the outgoing LOCK it signs, through narrow ports (a channel view, "sign and
 * send a transfer", "send a peer message", "register a secret", a clock). It feeds every observation to
 * the pure reducer (`applyEvent`) and asks `decideNext` for one action per payment.
 *
 * Journal before sign: every change goes into the payment's entry in the incoming channel's state (the
 * `PaymentBook`), and the service acts on an entry only once that exact entry is durable (the flush that
 * holds it committed). The outgoing transfer's seq is journaled with its kind (`PaymentEntry.op`) before
 * it is signed, and the node has at most one such transfer outstanding per outgoing channel, so a
 * transfer re-built after a crash is the same transfer (same state, same operation): never a second one
 * under the same seq.
 */
import {
  buildTransfer,
  cancelConsentOf,
  type SignedCancelConsent,
  createFailure,
  forwardFailure,
  type Hash,
  type Hex,
  type Lock,
  ONION_FAILURE_SIZE,
  OnionFailureCode,
  type PayerIndex,
  type PayerState,
  peelOnion,
  ROUTE_APP_KIND,
  type PaymentMessageBody,
  type PaymentMessageLock,
  type Transfer,
  toHex,
} from "../../../sdk";
import { hashTransfer } from "../../../sdk/src/eip712";
import { messageOf } from "../errors";
import { CANCEL_CONSENT_APP_KIND } from "../state/consent";
import type { Logger } from "../log";
import { decideNext, type MediationAction } from "./decide";
import { type InboxEntry, type OutgoingOp, type PaymentEntry, paymentKey } from "./entry";
import { applyEvent, startPayment } from "./log";
import type {
  Failure,
  ForwardedPayment,
  IncomingLock,
  MediationEvent,
  MediationPolicy,
  OutgoingChannelView,
  OutgoingLock,
} from "./types";

/** The `appKind` of a LOCK that carries a forwarding onion in its `appData`: the SDK's (protocol §11.5). */
export { ROUTE_APP_KIND };
/** A zero shared secret marks an onion the node could not open (it cannot authenticate a failure). */
const NO_SECRET = `0x${"00".repeat(32)}` as Hex;
const DEFAULT_RESEND_AFTER_MS = 5_000;
/** How long a forward waits for the outgoing channel's partition (restore, hand-over) before refusing. */
const PENDING_WAIT_SECONDS = 60n;
/** Settled and failed payments stay visible (`GET /payments`) this long after their last change. */
export const DEFAULT_RETAIN_SECONDS = 86_400n;

/** Failure code names, for the failed-payments metric's `reason`. */
const FAILURE_NAMES = new Map<number, string>(
  Object.entries(OnionFailureCode).map(([name, code]) => [code as number, name]),
);

/** The node's side of a channel it can forward on (it holds the participant key of `payer`). */
export interface PayerChannel {
  readonly view: OutgoingChannelView;
  /** The node's participant index in the channel. */
  readonly payer: PayerIndex;
  /** The node's own chain in the channel, as applied (the next transfer builds on it). */
  readonly state: PayerState;
  /**
   * Its seq as committed with the channel's snapshot: a journaled transfer counts as done only once
   * this reaches it, so after a crash no transfer of the node is in the log beyond both the
   * channel's restored state and a journaled operation (a new seq is never one the log already has).
   */
  readonly durableSeq: number;
  /** Verified peer messages about the node's LOCK `seq` in the channel. */
  messages(seq: number): readonly InboxEntry[];
}

/** One channel's payments (incoming locks), as kept in the channel's state. */
export interface PaymentBook {
  readonly channelId: Hash;
  entries(): Iterable<[string, PaymentEntry]>;
  get(key: string): PaymentEntry | undefined;
  /** Whether this very entry is what the last committed flush holds. */
  isDurable(key: string, entry: PaymentEntry): boolean;
  /** Replaces an entry (marks the channel dirty: the next flush journals it). */
  put(key: string, entry: PaymentEntry): void;
  delete(key: string): void;
}

export interface MediationPorts {
  /** Chain time, Unix seconds (never behind the wall clock). */
  chainNow(): bigint;
  /** Wall clock, ms (re-sends). */
  nowMs(): number;
  /** Chain time up to which confirmed `SecretRevealed` events are known (the confirmed block's time). */
  chainSeenThrough(): bigint;
  /**
   * The secret of `hashlock` and when it was registered on-chain, from the confirmed chain index (null:
   * not registered as far as `chainSeenThrough`). Absent: the node learns secrets off-chain only.
   */
  onchainReveal?(hashlock: Hash): { readonly secret: Hash; readonly at: bigint } | null;
  /** The node's view of a channel it can pay from; null when it cannot. */
  channel(channelId: Hash): PayerChannel | null;
  /**
   * Whether the node holds a key of the channel but cannot see its state yet (its partition is being
   * restored or handed over): a forward onto it waits a little instead of being refused.
   */
  pending?(channelId: Hash): boolean;
  /** Signs `t` with the node's key of `t.payer` and produces it to the transfers topic. */
  sendTransfer(t: Transfer, extra: { readonly appKind?: string; readonly appData?: Hex }): Promise<void>;
  /** Signs a peer message as the LOCK's payee and produces it to the payment-messages topic. */
  sendMessage(lock: PaymentMessageLock, body: PaymentMessageBody): Promise<void>;
  /** Registers the secret on-chain (through ChainActions); resolves with `secretRevealedAt`. */
  registerSecret(channelId: Hash, secret: Hash): Promise<bigint>;
  /** The upstream's chain in an incoming channel, as applied; null when the node cannot see it. */
  incomingState(channelId: Hash, payer: PayerIndex): PayerState | null;
  /** Signs, with the node's key of the lock's payee, the `CancelConsent` to exactly `cancel` (§4.5). */
  signCancelConsent(cancel: Transfer): Promise<Hex>;
  /** Whether `consent` is the payee's valid signature in its channel (§4.5). */
  validCancelConsent(consent: SignedCancelConsent): boolean;
  /** The registry's `secretRevealedAt(hashlock)` now (0: not registered). */
  secretRevealedAt(hashlock: Hash): Promise<bigint>;
}

/** What the service counts (the node maps it onto its metrics). */
export interface MediationMetrics {
  forwarded(): void;
  settled(fee: bigint): void;
  failed(reason: string): void;
}

export interface MediationServiceDeps {
  readonly policy: MediationPolicy;
  readonly ports: MediationPorts;
  readonly logger: Logger;
  readonly metrics?: MediationMetrics;
  readonly resendAfterMs?: number;
  readonly retainSeconds?: bigint;
}

/** An incoming routed LOCK the node is the payee of, with its onion. */
export interface ReceivedLock {
  readonly incoming: IncomingLock;
  readonly upstream: PayerIndex;
  readonly packet: Hex;
  /** The node's routing (participant) private key for the incoming channel. */
  readonly routingKey: Hex;
}

function lockOf(l: { amount: bigint; expiry: bigint }, hashlock: Hash): Lock {
  return { amount: l.amount, expiry: l.expiry, hashlock };
}

/** The outgoing lock of a record, if one was signed. */
export function outgoingOf(p: ForwardedPayment): OutgoingLock | null {
  switch (p.state) {
    case "RECEIVED":
      return null;
    case "FAILED_DOWNSTREAM":
    case "CANCELLED_UPSTREAM":
      return p.outgoing?.lock ?? null;
    default:
      return p.outgoing;
  }
}

function terminal(p: ForwardedPayment): boolean {
  return (
    p.state === "CANCELLED_UPSTREAM" ||
    (p.state === "SETTLED_UPSTREAM" && (p.downstream === "unlocked" || p.downstream === "cancelled"))
  );
}

export class MediationService {
  /** Last time each journaled transfer was sent (by `channel/seq`), for re-sends. */
  private readonly sentAt = new Map<string, number>();
  /** Outcomes of registrations in flight, applied on the next step. */
  private readonly outcomes = new Map<string, MediationEvent>();
  private readonly registering = new Set<string>();
  private readonly books = new Map<Hash, PaymentBook>();

  constructor(private readonly deps: MediationServiceDeps) {}

  private get ports(): MediationPorts {
    return this.deps.ports;
  }

  /**
   * A routed LOCK the node received as payee (applied to the incoming channel): peels the onion and
   * journals RECEIVED (or RECEIVED then REFUSED `InvalidOnion` when the onion does not open). A LOCK seen
   * again (a replay) changes nothing. A final payload (the node is the payee) is not a mediation: null.
   */
  receive(book: PaymentBook, r: ReceivedLock): PaymentEntry | null {
    const key = paymentKey(r.upstream, r.incoming.payerSeq);
    const known = book.get(key);
    if (known) return known;
    const now = this.ports.chainNow();
    let entry: PaymentEntry;
    try {
      const peeled = peelOnion(r.packet, r.routingKey, r.incoming.hashlock);
      if (peeled.final || peeled.payload.final) return null;
      const { nextChannel, amount, expiry } = peeled.payload;
      entry = {
        record: startPayment({
          type: "RECEIVED",
          incoming: r.incoming,
          instructions: { nextChannel, amount, expiry },
          at: now,
        }),
        upstream: r.upstream,
        upstreamResolved: null,
        sharedSecret: toHex(peeled.sharedSecret),
        next: peeled.next ? toHex(peeled.next) : null,
        op: null,
        updatedAt: now,
      };
    } catch (e) {
      const received = startPayment({
        type: "RECEIVED",
        incoming: r.incoming,
        instructions: { nextChannel: `0x${"00".repeat(32)}` as Hash, amount: 0n, expiry: 0n },
        at: now,
      });
      const failure: Failure = { code: OnionFailureCode.InvalidOnion, reason: messageOf(e) };
      entry = {
        record: applyEvent(received, { type: "REFUSED", failure, at: now }),
        upstream: r.upstream,
        upstreamResolved: null,
        sharedSecret: NO_SECRET,
        next: null,
        op: null,
        updatedAt: now,
      };
      this.deps.metrics?.failed("InvalidOnion");
    }
    book.put(key, entry);
    this.deps.logger.info("routed lock received", {
      channelId: r.incoming.channelId,
      seq: r.incoming.payerSeq.toString(),
      state: entry.record.state,
    });
    return entry;
  }

  /** The upstream resolved an incoming lock (its UNLOCK or CANCEL was applied to the incoming channel). */
  resolved(book: PaymentBook, upstream: PayerIndex, lock: Lock, how: "UNLOCK" | "CANCEL"): void {
    for (const [key, e] of book.entries()) {
      const i = e.record.incoming;
      if (e.upstream !== upstream || e.upstreamResolved !== null) continue;
      if (i.hashlock !== lock.hashlock || i.amount !== lock.amount || i.expiry !== lock.expiry) continue;
      book.put(key, { ...e, upstreamResolved: how, updatedAt: this.ports.chainNow() });
      return;
    }
  }

  /**
   * The books of every channel with payments, before a round of `step`s: a seq is allocated in an
   * outgoing channel only when no book holds a journaled transfer outstanding there.
   */
  setBooks(books: readonly PaymentBook[]): void {
    this.books.clear();
    for (const b of books) this.books.set(b.channelId, b);
  }

  /** Every payment of every tracked book (for `GET /payments`). */
  *all(): Iterable<PaymentEntry> {
    for (const b of this.books.values()) for (const [, e] of b.entries()) yield e;
  }

  /** Whether the node has a journaled transfer outstanding (not applied) in `channelId`. */
  private busy(channelId: Hash, state: PayerState): boolean {
    for (const b of this.books.values()) {
      for (const [, e] of b.entries()) {
        if (!e.op || e.op.seq <= state.seq) continue;
        if (outgoingOf(e.record)?.channelId === channelId) return true;
      }
    }
    return false;
  }

  /** Events the world shows for an entry now (idempotent: applying them again changes nothing). */
  private observe(key: string, e: PaymentEntry): MediationEvent[] {
    const now = this.ports.chainNow();
    const events: MediationEvent[] = [];
    const outcome = this.outcomes.get(key);
    if (outcome) events.push(outcome);
    if (e.record.state === "REGISTERING_SECRET" && !this.registering.has(key) && !outcome) {
      // A registration sent before a restart: its outcome is unknown here; register again (idempotent).
      events.push({ type: "REGISTRATION_FAILED", at: now });
    }
    if (e.upstreamResolved === "UNLOCK") events.push({ type: "UPSTREAM_UNLOCKED", at: now });
    if (e.upstreamResolved === "CANCEL") events.push({ type: "UPSTREAM_CANCELLED", at: now });
    const out = outgoingOf(e.record);
    const p = e.record;
    // The secret on-chain (anyone's `registerSecrets`, e.g. a downstream that never showed it to us):
    // learnt as if shown at its registration time; with an earlier off-chain reveal, the earlier counts.
    const reveal = out ? (this.ports.onchainReveal?.(p.incoming.hashlock) ?? null) : null;
    const secrets: MediationEvent[] = [];
    if (reveal) {
      secrets.push({ type: "SECRET_REVEALED", secret: reveal.secret, at: reveal.at });
      // Registered by the incoming expiry: the incoming lock is the node's (after asking the upstream).
      if (
        reveal.at <= p.incoming.expiry &&
        (p.state === "REGISTERING_SECRET" ||
          (p.state === "SETTLED_DOWNSTREAM" && p.unlockRequestedAt !== null))
      )
        events.push({ type: "SECRET_REGISTERED", revealedAt: reveal.at, at: now });
    }
    const ch = out ? this.ports.channel(out.channelId) : null;
    if (out && ch) {
      if (e.op && ch.durableSeq >= e.op.seq) {
        if (e.op.kind === "LOCK") events.push({ type: "LOCK_DELIVERED", at: now });
        if (e.op.kind === "UNLOCK") events.push({ type: "OUTGOING_UNLOCKED", at: now });
        if (e.op.kind === "CANCEL")
          events.push({ type: "OUTGOING_CANCELLED", at: now, consented: e.op.consented === true });
      }
      for (const m of ch.messages(Number(out.payerSeq))) {
        if (m.kind === "CONSENT") continue; // read when the CANCEL is due (`consentFor`)
        if (m.kind === "SECRET") secrets.push({ type: "SECRET_REVEALED", secret: m.secret, at: m.at });
        else
          events.push({
            type: "DOWNSTREAM_FAILED",
            failure: {
              code: OnionFailureCode.TemporaryFailure,
              reason: "the downstream failed the lock",
              message: m.failure,
            },
            at: m.at,
          });
      }
    }
    // The first reveal decides whether the outgoing lock is owed (`applyEvent` keeps the first).
    return [...events, ...secrets.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0))];
  }

  /** Applies observed events; returns the new entry (the same object when nothing changed). */
  private absorb(key: string, e: PaymentEntry, events: readonly MediationEvent[]): PaymentEntry {
    let record = e.record;
    let op = e.op;
    let next = e.next;
    for (const ev of events) {
      record = applyEvent(record, ev);
      if (
        op &&
        ((ev.type === "LOCK_DELIVERED" && op.kind === "LOCK") ||
          (ev.type === "OUTGOING_UNLOCKED" && op.kind === "UNLOCK") ||
          (ev.type === "OUTGOING_CANCELLED" && op.kind === "CANCEL"))
      ) {
        op = null;
        if (ev.type === "LOCK_DELIVERED") next = null;
      }
    }
    this.outcomes.delete(key);
    if (record === e.record && op === e.op && next === e.next) return e;
    this.count(e.record, record);
    return { ...e, record, op, next, updatedAt: this.ports.chainNow() };
  }

  private count(before: ForwardedPayment, after: ForwardedPayment): void {
    const m = this.deps.metrics;
    if (!m || before.state === after.state) return;
    const fee = after.incoming.amount - after.instructions.amount;
    if (after.state === "FORWARDED") m.forwarded();
    if (after.state === "SETTLED_UPSTREAM") m.settled(fee);
    if (after.state === "FAILED_DOWNSTREAM" && before.state !== "RECEIVED") m.failed("downstream");
    if (after.state === "FAILED_DOWNSTREAM" && before.state === "RECEIVED")
      m.failed(FAILURE_NAMES.get(after.failure.code) ?? String(after.failure.code));
  }

  /** Every payment of a book: observe, journal, and (once durable) act. Call under the book's lock. */
  async step(book: PaymentBook): Promise<void> {
    if (!this.books.has(book.channelId)) this.books.set(book.channelId, book);
    for (const [key, entry] of [...book.entries()]) {
      try {
        await this.stepOne(book, key, entry);
      } catch (e) {
        this.deps.logger.warn("mediation step failed; retrying", {
          channelId: book.channelId,
          payment: key,
          error: messageOf(e),
        });
      }
    }
  }

  private async stepOne(book: PaymentBook, key: string, entry: PaymentEntry): Promise<void> {
    const e = this.absorb(key, entry, this.observe(key, entry));
    if (e !== entry) {
      book.put(key, e);
      return; // act once this is journaled
    }
    if (!book.isDurable(key, e)) return;
    const now = this.ports.chainNow();
    const p = e.record;
    const next = p.state === "RECEIVED" ? this.ports.channel(p.instructions.nextChannel) : null;
    if (
      p.state === "RECEIVED" &&
      next === null &&
      now - p.receivedAt < PENDING_WAIT_SECONDS &&
      this.ports.pending?.(p.instructions.nextChannel)
    )
      return; // its partition is not ready yet
    const action = decideNext(
      p,
      {
        policy: this.deps.policy,
        outgoingChannel: next?.view ?? null,
        chainSeenThrough: this.ports.chainSeenThrough(),
        secretRevealedAt: this.ports.onchainReveal?.(p.incoming.hashlock)?.at ?? null,
      },
      now,
    );
    await this.act(book, key, e, action, now);
  }

  private put(book: PaymentBook, key: string, e: PaymentEntry, patch: Partial<PaymentEntry>): void {
    const updated = { ...e, ...patch, updatedAt: this.ports.chainNow() };
    this.count(e.record, updated.record);
    book.put(key, updated);
  }

  private async act(
    book: PaymentBook,
    key: string,
    e: PaymentEntry,
    a: MediationAction,
    now: bigint,
  ): Promise<void> {
    const p = e.record;
    switch (a.kind) {
      case "forward": {
        const ch = this.ports.channel(a.channelId);
        if (!ch || this.busy(a.channelId, ch.state)) return; // one outstanding transfer per channel
        const seq = ch.state.seq + 1;
        const outgoing: OutgoingLock = {
          channelId: a.channelId,
          payerSeq: BigInt(seq),
          amount: a.amount,
          expiry: a.expiry,
        };
        this.put(book, key, e, {
          record: applyEvent(p, { type: "FORWARDED", outgoing, at: now }),
          op: { kind: "LOCK", seq },
        });
        return;
      }
      case "resendLock":
        await this.sendOp(e, a.outgoing, { kind: "LOCK", seq: Number(a.outgoing.payerSeq) });
        return;
      case "unlockOutgoing":
      case "cancelOutgoing": {
        const kind = a.kind === "unlockOutgoing" ? "UNLOCK" : "CANCEL";
        const ch = this.ports.channel(a.outgoing.channelId);
        if (kind === "CANCEL" && now <= a.outgoing.expiry) {
          // A CANCEL counts before the lock's expiry only with the downstream's consent (§4.5); without
          // one it waits for the expiry. Either way the upstream learns of the failure at once.
          if (p.state === "FAILED_DOWNSTREAM" && p.failureSentAt === null) {
            await this.failUpstream(book, key, e);
            return;
          }
          const seq = e.op?.seq ?? (ch ? ch.state.seq + 1 : 0);
          if (!ch || this.consentFor(e, a.outgoing, ch, seq) === null) return;
          if (e.op === null && !this.busy(a.outgoing.channelId, ch.state)) {
            this.put(book, key, e, { op: { kind, seq, consented: true } });
            return;
          }
        }
        if (e.op === null) {
          if (!ch || this.busy(a.outgoing.channelId, ch.state)) return;
          this.put(book, key, e, { op: { kind, seq: ch.state.seq + 1 } });
          return;
        }
        if (e.op.kind === kind) await this.sendOp(e, a.outgoing, e.op);
        return;
      }
      case "requestUpstreamUnlock":
        await this.ports.sendMessage(this.incomingLockOf(e), { kind: "SECRET", secret: a.secret });
        this.put(book, key, e, { record: applyEvent(p, { type: "UNLOCK_REQUESTED", at: now }) });
        return;
      case "failUpstream":
        if (a.refused) {
          this.put(book, key, e, {
            record: applyEvent(p, { type: "REFUSED", failure: a.failure, at: now }),
          });
          return;
        }
        await this.failUpstream(book, key, e);
        return;
      case "consentUpstream":
        if (a.checkRegistry && !(await this.plainCancelCounts(e))) return;
        await this.consentUpstream(book, key, e);
        return;
      case "registerSecret": {
        this.registering.add(key);
        this.ports
          .registerSecret(p.incoming.channelId, a.secret)
          .then(
            (revealedAt) => this.outcomes.set(key, { type: "SECRET_REGISTERED", revealedAt, at: revealedAt }),
            (err: unknown) => {
              this.deps.logger.warn("registering a secret failed", { payment: key, error: messageOf(err) });
              this.outcomes.set(key, { type: "REGISTRATION_FAILED", at: this.ports.chainNow() });
            },
          )
          .finally(() => this.registering.delete(key));
        this.put(book, key, e, { record: applyEvent(p, { type: "REGISTRATION_SENT", at: now }) });
        return;
      }
      case "wait":
        return;
      case "none": {
        const retain = this.deps.retainSeconds ?? DEFAULT_RETAIN_SECONDS;
        if (terminal(p) && now - e.updatedAt >= retain) book.delete(key);
        return;
      }
    }
  }

  /** The incoming LOCK as peer messages name it. */
  private incomingLockOf(e: PaymentEntry): PaymentMessageLock {
    const i = e.record.incoming;
    return { channelId: i.channelId, payer: e.upstream, seq: i.payerSeq, hashlock: i.hashlock };
  }

  /**
   * The downstream's consent to the CANCEL of `out` at `seq`, when it names exactly the CANCEL the node
   * would sign now (its chain right before `seq`) and is the downstream's signature; else null (a stale
   * or forged consent: the CANCEL waits for the lock's expiry, and no outgoing transfer is blocked).
   */
  private consentFor(e: PaymentEntry, out: OutgoingLock, ch: PayerChannel, seq: number): Hex | null {
    const m = ch.messages(Number(out.payerSeq)).find((x) => x.kind === "CONSENT");
    if (!m || m.kind !== "CONSENT" || m.consent.seq !== seq || ch.state.seq !== seq - 1) return null;
    const lock = lockOf(out, e.record.incoming.hashlock);
    const cancel = buildTransfer(
      ch.state,
      { channelId: out.channelId, payer: ch.payer },
      { kind: "CANCEL", lock },
    );
    const hash = hashTransfer(cancel);
    if (hash !== m.consent.transfer) return null;
    const consent = { ...cancelConsentOf(cancel, hash), signature: m.consent.signature };
    return this.ports.validCancelConsent(consent) ? m.consent.signature : null;
  }

  /**
   * Whether the node's plain (unconsented) outgoing CANCEL counts on-chain: chain time is past the
   * outgoing expiry and the secret was not registered at or before it (a registration now comes later).
   * Until then the downstream may still claim the lock, so no consent goes upstream.
   */
  private async plainCancelCounts(e: PaymentEntry): Promise<boolean> {
    const out = outgoingOf(e.record);
    if (!out) return true;
    if (this.ports.chainSeenThrough() <= out.expiry) return false;
    const revealedAt = await this.ports.secretRevealedAt(e.record.incoming.hashlock);
    return revealedAt === 0n || revealedAt > out.expiry;
  }

  /**
   * Consents, as the incoming lock's payee, to the upstream's CANCEL of it built on the upstream's chain
   * as applied now, and journals CONSENT_SENT (`decideNext` asks only once the outgoing lock is released).
   * Nothing when the lock is no longer pending (the upstream resolved it).
   */
  private async consentUpstream(book: PaymentBook, key: string, e: PaymentEntry): Promise<void> {
    const p = e.record;
    if (p.state !== "FAILED_DOWNSTREAM" || (p.outgoing && !p.outgoing.cancelled)) return;
    const i = p.incoming;
    const state = this.ports.incomingState(i.channelId, e.upstream);
    if (!state) return;
    const lock = lockOf(i, i.hashlock);
    const pending = state.locks.some(
      (l) => l.hashlock === lock.hashlock && l.amount === lock.amount && l.expiry === lock.expiry,
    );
    if (pending) {
      const cancel = buildTransfer(
        state,
        { channelId: i.channelId, payer: e.upstream },
        { kind: "CANCEL", lock },
      );
      const signature = await this.ports.signCancelConsent(cancel);
      await this.ports.sendMessage(this.incomingLockOf(e), {
        kind: "CONSENT",
        consent: { seq: cancel.seq, transfer: hashTransfer(cancel), signature },
      });
    }
    this.put(book, key, e, { record: applyEvent(p, { type: "CONSENT_SENT", at: this.ports.chainNow() }) });
  }

  /** Sends the failure upstream (the downstream's, wrapped in this hop's layer, or its own) and journals it. */
  private async failUpstream(book: PaymentBook, key: string, e: PaymentEntry): Promise<void> {
    const p = e.record;
    if (p.state !== "FAILED_DOWNSTREAM") return;
    await this.ports.sendMessage(this.incomingLockOf(e), {
      kind: "FAIL",
      failure: this.failureBytes(e, p.failure),
    });
    this.put(book, key, e, { record: applyEvent(p, { type: "FAILURE_SENT", at: this.ports.chainNow() }) });
  }

  private failureBytes(e: PaymentEntry, f: Failure): Hex {
    if (e.sharedSecret === NO_SECRET) return `0x${"00".repeat(ONION_FAILURE_SIZE)}` as Hex;
    if (f.message) {
      try {
        return toHex(forwardFailure(e.sharedSecret, f.message));
      } catch {
        // A malformed downstream failure: send our own TemporaryFailure instead (§11.4).
      }
    }
    const channelCodes: number[] = [
      OnionFailureCode.UnknownNextChannel,
      OnionFailureCode.ChannelDisabled,
      OnionFailureCode.InsufficientCapacity,
      OnionFailureCode.FeeInsufficient,
      OnionFailureCode.ExpiryTooSoon,
      OnionFailureCode.ExpiryTooFar,
    ];
    const code = f.message ? OnionFailureCode.TemporaryFailure : f.code;
    const hopData = channelCodes.includes(code) ? e.record.instructions.nextChannel : undefined;
    return toHex(createFailure(e.sharedSecret, { code, hopData }));
  }

  /**
   * Signs and sends the journaled outgoing transfer `op` when the node's chain is right before it (the
   * same state it was journaled on, so the same transfer), at most every `resendAfterMs`.
   */
  private async sendOp(e: PaymentEntry, out: OutgoingLock, op: OutgoingOp): Promise<void> {
    const ch = this.ports.channel(out.channelId);
    if (!ch || ch.state.seq !== op.seq - 1) return;
    const sentKey = `${out.channelId}/${op.seq}`;
    const last = this.sentAt.get(sentKey);
    const nowMs = this.ports.nowMs();
    if (last !== undefined && nowMs - last < (this.deps.resendAfterMs ?? DEFAULT_RESEND_AFTER_MS)) return;
    const lock = lockOf(out, e.record.incoming.hashlock);
    const origin = { channelId: out.channelId, payer: ch.payer };
    const t =
      op.kind === "LOCK"
        ? buildTransfer(ch.state, origin, { kind: "LOCK", ...lock })
        : buildTransfer(ch.state, origin, { kind: op.kind, lock });
    if (op.kind === "LOCK" && !e.next) return; // the packet is gone only once the LOCK was applied
    this.sentAt.set(sentKey, nowMs);
    // A CANCEL before the lock's expiry carries the downstream's consent (checked before it was journaled).
    const consent = op.kind === "CANCEL" ? this.consentFor(e, out, ch, op.seq) : null;
    await this.ports.sendTransfer(
      t,
      op.kind === "LOCK"
        ? { appKind: ROUTE_APP_KIND, appData: e.next ?? undefined }
        : consent
          ? { appKind: CANCEL_CONSENT_APP_KIND, appData: consent }
          : {},
    );
    this.deps.logger.info("mediator sent its transfer", {
      channelId: out.channelId,
      seq: op.seq,
      kind: op.kind,
    });
  }
}
