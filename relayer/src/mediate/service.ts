/**
 * The mediator service (protocol §11.5), lnd's htlcswitch link beside the commit services: it pairs each
 * incoming routed LOCK with the outgoing LOCK it signs, through narrow ports (a channel view, "sign and
 * send a transfer", "send a peer message", "register a secret", a clock). It feeds every observation to
 * the pure reducer (`applyEvent`) and asks `decideNext` for one action per payment.
 *
 * Journal before sign: every change goes into the payment's entry in the incoming channel's state (the
 * `PaymentBook`), and the service acts on an entry only once that exact entry is durable (the flush that
 * holds it committed). The outgoing transfer's seq is journaled with its kind (`PaymentEntry.op`) before
 * it is signed. Several may be outstanding per outgoing channel (a pipeline: op `s` is built on the
 * channel's applied state and the journaled ops before `s`), and one is signed only once every op before
 * it is durable too, so a transfer re-built after a crash is the same transfer (same state, same
 * operations): never a second one under the same seq. A seq whose op was lost unjournaled in a crash is
 * allocated again (lowest free seq first); nothing after it was signed.
 */
import {
  applyTransfer,
  buildTransfer,
  cancelConsentOf,
  type SignedCancelConsent,
  createFailure,
  forwardFailure,
  type Hash,
  type Hex,
  type Lock,
  MAX_PENDING_LOCKS,
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
import { applyEvent, isTerminal, startPayment } from "./log";
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

/**
 * The sends of a mediation round: the ports produce them together (the node's outbox writes one request
 * per partition), and each one's journal update (`after`) runs only once it landed, under its book's lock.
 */
export class SendBatch {
  private readonly items: {
    readonly book: Hash;
    readonly done: Promise<void>;
    readonly after?: () => void;
  }[] = [];

  constructor(private readonly logger: Logger) {}

  private readonly transfers: {
    readonly book: Hash;
    readonly channelId: Hash;
    readonly seq: number;
    readonly send: () => Promise<void>;
  }[] = [];

  add(book: Hash, done: Promise<void>, after?: () => void): void {
    this.items.push({ book, done, after });
  }

  /** A transfer to produce at `settle`, after those before it in its channel (a payee reads the chain in order). */
  addTransfer(book: Hash, channelId: Hash, seq: number, send: () => Promise<void>): void {
    this.transfers.push({ book, channelId, seq, send });
  }

  /**
   * Waits for every send; returns, by book, the journal updates of those that landed (a failed send is
   * retried by a later round).
   */
  async settle(): Promise<Map<Hash, (() => void)[]>> {
    this.transfers.sort((a, b) =>
      a.channelId < b.channelId ? -1 : a.channelId > b.channelId ? 1 : a.seq - b.seq,
    );
    for (const t of this.transfers.splice(0)) this.items.push({ book: t.book, done: t.send() });
    const results = await Promise.allSettled(this.items.map((d) => d.done));
    const afters = new Map<Hash, (() => void)[]>();
    results.forEach((r, i) => {
      const { book, after } = this.items[i];
      if (r.status === "rejected")
        this.logger.warn("mediation send failed; retrying", { book, error: messageOf(r.reason) });
      else if (after) afters.set(book, [...(afters.get(book) ?? []), after]);
    });
    return afters;
  }
}

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
  /** The payments not finished yet (`isTerminal`): what a round steps. */
  live(): Iterable<[string, PaymentEntry]>;
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
  /** Called once a payment reaches a terminal state (the node records it in its payment history). */
  readonly onFinished?: (entry: PaymentEntry) => void;
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

/**
 * The locks a forward decision counts as pending in a channel: `applied` pending in its applied state,
 * `added` journaled LOCKs and `released` journaled UNLOCKs and CANCELs not applied yet. A new op may take
 * a seq before the journaled releases (the lowest free seq), where they have not released anything yet:
 * once `applied + added` reaches the contract's limit the channel counts as full.
 */
export function pendingLocksAhead(applied: number, added: number, released: number): number {
  if (applied + added >= MAX_PENDING_LOCKS) return MAX_PENDING_LOCKS;
  return Math.max(0, applied + added - released);
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

/**
 * Whether `a` may be taken on a record not yet durable. Decisions that only journal (a forward: the
 * outgoing op is signed once FORWARDED is durable; a refusal: the FAIL goes once REFUSED is; an UNLOCK's
 * op allocation) commit in the same flush as what they follow from. Asking the upstream to UNLOCK with
 * the secret never costs the mediator: whoever showed it the secret can claim its outgoing lock anyway,
 * and after a crash the peer message or the on-chain reveal it came from is read again.
 */
function actsBeforeDurable(a: MediationAction, e: PaymentEntry): boolean {
  return (
    a.kind === "forward" ||
    (a.kind === "failUpstream" && a.refused) ||
    (a.kind === "unlockOutgoing" && e.op === null) ||
    a.kind === "requestUpstreamUnlock"
  );
}

export class MediationService {
  /** Last time each journaled transfer was sent (by `channel/seq`), for re-sends. */
  private readonly sentAt = new Map<string, number>();
  /** Outcomes of registrations in flight, applied on the next step. */
  private readonly outcomes = new Map<string, MediationEvent>();
  private readonly registering = new Set<string>();
  private readonly books = new Map<Hash, PaymentBook>();
  /** Journaled outgoing ops by channel and seq (rebuilt each round; an entry's current op is re-checked). */
  private readonly outstanding = new Map<Hash, Map<number, { book: PaymentBook; key: string }>>();
  /**
   * Each outgoing channel's projected chain (the state after each journaled op in seq order), kept while
   * its applied state and those ops' entries are the same objects: a round builds each op once.
   */
  private readonly projections = new Map<
    Hash,
    { base: PayerState; chain: { readonly entry: PaymentEntry; readonly after: PayerState }[] }
  >();
  /** Where the current step's sends go. */
  private sends: { readonly batch: SendBatch; readonly book: Hash } | null = null;

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
    for (const [key, e] of book.live()) {
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
    this.outstanding.clear();
    for (const b of books) {
      this.books.set(b.channelId, b);
      for (const [key, e] of b.live()) this.track(b, key, e);
    }
    this.forgetApplied();
  }

  /** Drops the re-send times of ops their channel has applied (or no longer held): none is sent again. */
  private forgetApplied(): void {
    for (const sentKey of this.sentAt.keys()) {
      const slash = sentKey.lastIndexOf("/");
      const ch = this.ports.channel(sentKey.slice(0, slash) as Hash);
      if (!ch || Number(sentKey.slice(slash + 1)) <= ch.state.seq) this.sentAt.delete(sentKey);
    }
  }

  /** Indexes an entry's journaled outgoing op (if it has one). */
  private track(book: PaymentBook, key: string, e: PaymentEntry): void {
    const out = e.op ? outgoingOf(e.record) : null;
    if (!e.op || !out) return;
    let ops = this.outstanding.get(out.channelId);
    if (!ops) this.outstanding.set(out.channelId, (ops = new Map()));
    ops.set(e.op.seq, { book, key });
  }

  /** Every payment of every tracked book (for `GET /payments`). */
  *all(): Iterable<PaymentEntry> {
    for (const b of this.books.values()) for (const [, e] of b.entries()) yield e;
  }

  /** The entry whose journaled op is `seq` in `channelId` and not yet applied (`state`), if any. */
  private opAt(channelId: Hash, seq: number): { book: PaymentBook; key: string; e: PaymentEntry } | null {
    const at = this.outstanding.get(channelId)?.get(seq);
    const e = at?.book.get(at.key);
    if (!at || !e || !e.op || e.op.seq !== seq || outgoingOf(e.record)?.channelId !== channelId) return null;
    return { ...at, e };
  }

  /** The lowest seq after the applied state that no journaled op holds: where the next op goes. */
  private freeSeq(channelId: Hash, state: PayerState): number {
    let seq = state.seq + 1;
    while (this.opAt(channelId, seq)) seq++;
    return seq;
  }

  /**
   * What the journaled ops not yet applied change in `channelId`: the amount their LOCKs hold back (so a
   * forward never overdraws), and the locks pending once all of them are applied (LOCKs add one, UNLOCKs
   * and CANCELs each release one of the applied locks), bounded below by the contract's hard limit on the
   * locks pending at any seq.
   */
  private outstandingLocks(channelId: Hash, state: PayerState): { amount: bigint; pendingLocks: number } {
    let amount = 0n;
    let added = 0;
    let released = 0;
    for (const seq of this.outstanding.get(channelId)?.keys() ?? []) {
      if (seq <= state.seq) continue;
      const at = this.opAt(channelId, seq);
      const out = at ? outgoingOf(at.e.record) : null;
      if (!at?.e.op || !out) continue;
      if (at.e.op.kind === "LOCK") {
        amount += out.amount;
        added += 1;
      } else released += 1;
    }
    return { amount, pendingLocks: pendingLocksAhead(state.locks.length, added, released) };
  }

  /** The transfer an entry's op is, built on `state` (the node's chain right before the op). */
  private transferOf(e: PaymentEntry, op: OutgoingOp, state: PayerState, payer: PayerIndex): Transfer {
    const out = outgoingOf(e.record) as OutgoingLock;
    const lock = lockOf(out, e.record.incoming.hashlock);
    const origin = { channelId: out.channelId, payer };
    return op.kind === "LOCK"
      ? buildTransfer(state, origin, { kind: "LOCK", ...lock })
      : buildTransfer(state, origin, { kind: op.kind, lock });
  }

  /**
   * The node's chain in `ch` right before `seq`: its applied state with the journaled ops between applied
   * in order; null when one is missing (a gap) or, with `durable`, not yet committed.
   */
  private chainBefore(ch: PayerChannel, seq: number, durable: boolean): PayerState | null {
    const id = ch.view.channelId;
    let memo = this.projections.get(id);
    if (!memo || memo.base !== ch.state) this.projections.set(id, (memo = { base: ch.state, chain: [] }));
    let state = ch.state;
    for (let s = state.seq + 1, i = 0; s < seq; s++, i++) {
      const at = this.opAt(id, s);
      if (!at || (durable && !at.book.isDurable(at.key, at.e))) return null;
      const known = memo.chain[i];
      if (known?.entry === at.e) {
        state = known.after;
        continue;
      }
      const t = this.transferOf(at.e, at.e.op as OutgoingOp, state, ch.payer);
      // Projected only: the downstream's consent was checked when the op was journaled.
      state = applyTransfer(state, t, { consentedCancel: () => true });
      memo.chain.length = i;
      memo.chain.push({ entry: at.e, after: state });
    }
    return state;
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
    const updated = { ...e, record, op, next, updatedAt: this.ports.chainNow() };
    this.transition(e, updated);
    return updated;
  }

  /** Counts a state change, and hands a payment that just finished to `deps.onFinished`. */
  private transition(before: PaymentEntry, after: PaymentEntry): void {
    this.count(before.record, after.record);
    if (!isTerminal(before.record) && isTerminal(after.record)) this.deps.onFinished?.(after);
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

  /**
   * Every payment of a book: observe, journal, and (once durable) act. Call under the book's lock. What
   * the step sends goes into `sends` when given (the caller settles the batch of a whole round, then
   * journals under each book's lock); else it is settled and journaled at the end of this step.
   */
  async step(book: PaymentBook, sends?: SendBatch): Promise<void> {
    if (!this.books.has(book.channelId)) this.books.set(book.channelId, book);
    const batch = sends ?? new SendBatch(this.deps.logger);
    this.sends = { batch, book: book.channelId };
    try {
      for (const [key, entry] of [...book.live()]) {
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
    } finally {
      this.sends = null;
    }
    if (!sends) for (const afters of (await batch.settle()).values()) for (const after of afters) after();
  }

  /**
   * Drops a book's finished payments `retainSeconds` after their last change (nothing can change a
   * finished payment; until then it stays listed and its peer messages are recognised as done). Call
   * under the book's lock.
   */
  pruneFinished(book: PaymentBook): void {
    const retain = this.deps.retainSeconds ?? DEFAULT_RETAIN_SECONDS;
    const now = this.ports.chainNow();
    const due: string[] = [];
    for (const [key, e] of book.entries())
      if (isTerminal(e.record) && now - e.updatedAt >= retain) due.push(key);
    for (const key of due) book.delete(key);
  }

  private async stepOne(book: PaymentBook, key: string, entry: PaymentEntry): Promise<void> {
    const e = this.absorb(key, entry, this.observe(key, entry));
    if (e !== entry) book.put(key, e);
    // Signing waits for the journal; a decision that only journals does not (`actsBeforeDurable`).
    const durable = e === entry && book.isDurable(key, e);
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
    let outgoingChannel = next?.view ?? null;
    if (next && outgoingChannel) {
      // Journaled LOCKs not applied yet already hold their amounts back.
      const held = this.outstandingLocks(outgoingChannel.channelId, next.state);
      outgoingChannel = {
        ...outgoingChannel,
        available: outgoingChannel.available > held.amount ? outgoingChannel.available - held.amount : 0n,
        pendingLocks: held.pendingLocks,
      };
    }
    const action = decideNext(
      p,
      {
        policy: this.deps.policy,
        outgoingChannel,
        chainSeenThrough: this.ports.chainSeenThrough(),
        secretRevealedAt: this.ports.onchainReveal?.(p.incoming.hashlock)?.at ?? null,
      },
      now,
    );
    if (!durable && !actsBeforeDurable(action, e)) return;
    await this.act(book, key, e, action, now);
  }

  private put(book: PaymentBook, key: string, e: PaymentEntry, patch: Partial<PaymentEntry>): void {
    const updated = { ...e, ...patch, updatedAt: this.ports.chainNow() };
    this.transition(e, updated);
    book.put(key, updated);
    if (patch.op) this.track(book, key, updated);
  }

  /**
   * Applies `event` to the entry as it is now (a send's journal update runs after the step: the entry may
   * have changed meanwhile, e.g. the upstream's UNLOCK was applied).
   */
  private journal(book: PaymentBook, key: string, event: MediationEvent): void {
    const e = book.get(key);
    if (e) this.put(book, key, e, { record: applyEvent(e.record, event) });
  }

  /** A transfer of this step, produced with the batch in seq order (`SendBatch.addTransfer`). */
  private deferTransfer(channelId: Hash, seq: number, send: () => Promise<void>): void {
    if (this.sends) this.sends.batch.addTransfer(this.sends.book, channelId, seq, send);
    else void send().catch(() => undefined);
  }

  /** A send of this step (produced with the batch); `after` journals what it achieved once it landed. */
  private defer(done: Promise<void>, after?: () => void): void {
    if (this.sends) this.sends.batch.add(this.sends.book, done, after);
    else void done.catch(() => undefined);
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
        if (!ch) return;
        const seq = this.freeSeq(a.channelId, ch.state);
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
        this.sendOp(book, key, e, a.outgoing, { kind: "LOCK", seq: Number(a.outgoing.payerSeq) });
        return;
      case "unlockOutgoing":
      case "cancelOutgoing": {
        const kind = a.kind === "unlockOutgoing" ? "UNLOCK" : "CANCEL";
        const ch = this.ports.channel(a.outgoing.channelId);
        if (kind === "CANCEL" && now <= a.outgoing.expiry) {
          // A CANCEL counts before the lock's expiry only with the downstream's consent (§4.5); without
          // one it waits for the expiry. Either way the upstream learns of the failure at once.
          if (p.state === "FAILED_DOWNSTREAM" && p.failureSentAt === null) {
            this.failUpstream(book, key, e);
            return;
          }
          if (!ch) return;
          // The consent names its seq: journal the CANCEL there, when that seq is still free.
          const seq = e.op?.seq ?? this.consentSeq(a.outgoing, ch);
          if (seq === null || this.consentFor(e, a.outgoing, ch, seq) === null) return;
          if (e.op === null) {
            if (seq <= ch.state.seq || this.opAt(a.outgoing.channelId, seq)) return;
            this.put(book, key, e, { op: { kind, seq, consented: true } });
            return;
          }
        }
        if (e.op === null) {
          if (!ch) return;
          this.put(book, key, e, { op: { kind, seq: this.freeSeq(a.outgoing.channelId, ch.state) } });
          return;
        }
        if (e.op.kind === kind) this.sendOp(book, key, e, a.outgoing, e.op);
        return;
      }
      case "requestUpstreamUnlock": {
        // The UNLOCK owed downstream is journaled in the same round (signed once durable), so showing the
        // secret upstream first does not delay it, and the outgoing lock is released as soon as possible.
        if (p.state === "SETTLED_DOWNSTREAM" && p.downstream === "unlockDue" && e.op === null) {
          const ch = this.ports.channel(p.outgoing.channelId);
          if (ch)
            this.put(book, key, e, {
              op: { kind: "UNLOCK", seq: this.freeSeq(p.outgoing.channelId, ch.state) },
            });
        }
        this.defer(this.ports.sendMessage(this.incomingLockOf(e), { kind: "SECRET", secret: a.secret }), () =>
          this.journal(book, key, { type: "UNLOCK_REQUESTED", at: now }),
        );
        return;
      }
      case "failUpstream":
        if (a.refused) {
          this.put(book, key, e, {
            record: applyEvent(p, { type: "REFUSED", failure: a.failure, at: now }),
          });
          return;
        }
        this.failUpstream(book, key, e);
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
      case "none":
        // A payment that just finished stays listed until `pruneFinished` drops it.
        return;
    }
  }

  /** The incoming LOCK as peer messages name it. */
  private incomingLockOf(e: PaymentEntry): PaymentMessageLock {
    const i = e.record.incoming;
    return { channelId: i.channelId, payer: e.upstream, seq: i.payerSeq, hashlock: i.hashlock };
  }

  /**
   * Moves the channel's lowest journaled op down to the seq right after the applied state when that seq
   * has no op (its op was lost unjournaled in a crash, in another partition's flush): nothing after such a
   * gap was signed, so the op may take the free seq (journaled again before it is signed). A consented
   * CANCEL keeps its seq (the consent names it).
   */
  private closeGap(book: PaymentBook, key: string, e: PaymentEntry, ch: PayerChannel, op: OutgoingOp): void {
    const first = ch.state.seq + 1;
    if (op.consented || op.seq <= first || this.opAt(ch.view.channelId, first)) return;
    for (let s = first + 1; s < op.seq; s++) if (this.opAt(ch.view.channelId, s)) return; // not the lowest
    const moved = { ...op, seq: first };
    if (op.kind === "LOCK") {
      if (e.record.state !== "FORWARDED") return;
      const outgoing = { ...e.record.outgoing, payerSeq: BigInt(first) };
      this.put(book, key, e, { op: moved, record: { ...e.record, outgoing } });
    } else {
      this.put(book, key, e, { op: moved });
    }
    this.deps.logger.info("mediator moved a journaled transfer into a gap", {
      channelId: ch.view.channelId,
      from: op.seq,
      to: first,
    });
  }

  /** The seq the downstream's consent to the CANCEL of `out` names, if it sent one. */
  private consentSeq(out: OutgoingLock, ch: PayerChannel): number | null {
    const m = ch.messages(Number(out.payerSeq)).find((x) => x.kind === "CONSENT");
    return m?.kind === "CONSENT" ? m.consent.seq : null;
  }

  /**
   * The downstream's consent to the CANCEL of `out` at `seq`, when it names exactly the CANCEL the node
   * would sign there (built on its chain right before `seq`) and is the downstream's signature; else null
   * (a stale or forged consent: the CANCEL waits for the lock's expiry, and no outgoing transfer is blocked).
   */
  private consentFor(e: PaymentEntry, out: OutgoingLock, ch: PayerChannel, seq: number): Hex | null {
    const m = ch.messages(Number(out.payerSeq)).find((x) => x.kind === "CONSENT");
    if (!m || m.kind !== "CONSENT" || m.consent.seq !== seq || seq <= ch.state.seq) return null;
    const before = this.chainBefore(ch, seq, false);
    if (!before) return null;
    const lock = lockOf(out, e.record.incoming.hashlock);
    let cancel: Transfer;
    try {
      cancel = buildTransfer(before, { channelId: out.channelId, payer: ch.payer }, { kind: "CANCEL", lock });
    } catch {
      return null; // the lock is not pending there
    }
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
      this.defer(
        this.ports.sendMessage(this.incomingLockOf(e), {
          kind: "CONSENT",
          consent: { seq: cancel.seq, transfer: hashTransfer(cancel), signature },
        }),
        () => this.journal(book, key, { type: "CONSENT_SENT", at: this.ports.chainNow() }),
      );
      return;
    }
    this.put(book, key, e, { record: applyEvent(p, { type: "CONSENT_SENT", at: this.ports.chainNow() }) });
  }

  /** Sends the failure upstream (the downstream's, wrapped in this hop's layer, or its own) and journals it. */
  private failUpstream(book: PaymentBook, key: string, e: PaymentEntry): void {
    const p = e.record;
    if (p.state !== "FAILED_DOWNSTREAM") return;
    this.defer(
      this.ports.sendMessage(this.incomingLockOf(e), {
        kind: "FAIL",
        failure: this.failureBytes(e, p.failure),
      }),
      () => this.journal(book, key, { type: "FAILURE_SENT", at: this.ports.chainNow() }),
    );
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
   * Signs and sends the journaled outgoing transfer `op` once every op before it is durable (the chain it
   * is built on is then the one a restart rebuilds, so the same transfer), at most every `resendAfterMs`.
   * The send is produced with the rest of the step's (`step`).
   */
  private sendOp(book: PaymentBook, key: string, e: PaymentEntry, out: OutgoingLock, op: OutgoingOp): void {
    const ch = this.ports.channel(out.channelId);
    if (!ch || op.seq <= ch.state.seq) return;
    if (op.kind === "LOCK" && !e.next) return; // the packet is gone only once the LOCK was applied
    const sentKey = `${out.channelId}/${op.seq}`;
    const last = this.sentAt.get(sentKey);
    const nowMs = this.ports.nowMs();
    if (last !== undefined && nowMs - last < (this.deps.resendAfterMs ?? DEFAULT_RESEND_AFTER_MS)) return;
    const before = this.chainBefore(ch, op.seq, true);
    if (!before) {
      this.closeGap(book, key, e, ch, op);
      return; // an op before it is not journaled yet
    }
    const t = this.transferOf(e, op, before, ch.payer);
    // A CANCEL before the lock's expiry carries the downstream's consent (checked before it was journaled);
    // without it, it is signed only after the expiry (a refused CANCEL would block the seq for good).
    const consent = op.kind === "CANCEL" ? this.consentFor(e, out, ch, op.seq) : null;
    if (op.kind === "CANCEL" && consent === null && (op.consented || this.ports.chainNow() <= out.expiry))
      return;
    this.sentAt.set(sentKey, nowMs);
    this.deferTransfer(out.channelId, op.seq, () =>
      this.ports
        .sendTransfer(
          t,
          op.kind === "LOCK"
            ? { appKind: ROUTE_APP_KIND, appData: e.next ?? undefined }
            : consent
              ? { appKind: CANCEL_CONSENT_APP_KIND, appData: consent }
              : {},
        )
        .then(() =>
          this.deps.logger.debug("mediator sent its transfer", {
            channelId: out.channelId,
            seq: op.seq,
            kind: op.kind,
          }),
        ),
    );
  }
}
