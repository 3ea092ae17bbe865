/**
 * The payee's side of routed payments (protocol §11.6): follows its channels' transfers, applies the
 * counterparty's chain itself (signature and §3 rule, so it answers only LOCKs that hold), peels its
 * layer of each routed LOCK's onion and checks the final payload against the invoice it issued. A LOCK
 * that pays the invoice is answered with the secret (a SECRET peer message signed by the payee), any
 * other with a FAIL carrying the onion failure code for the first problem found (§11.4), followed by the
 * payee's CONSENT to the CANCEL of that lock (§4.5): a refused lock is one the payee will never claim, and
 * the consent lets the payer (and every hop before it) release its lock at once instead of at expiry.
 */
import {
  GENESIS_STATE,
  OnionFailureCode,
  TransferKind,
  applyTransfer,
  buildTransfer,
  createFailure,
  peelOnion,
  signCancelConsent,
  toAddress,
  toHex,
  transferSigner,
  type Domain,
  type Hash,
  type Hex,
  type LocalSigner,
  type OnionFinalPayload,
  type PayerIndex,
  type PayerState,
  type SignedTransfer,
} from "../../../sdk/isomorphic";
import {
  ROUTE_APP_KIND,
  type ChannelSide,
  type InvoiceSecretStore,
  type IssuedInvoice,
  type LoggedTransfer,
  type PaymentLog,
  type PeerMessageCrypto,
  type Subscription,
} from "./ports";

/** A channel in which the counterparty pays the payee. */
export interface PayeeChannel extends ChannelSide {
  /** The counterparty's payer index (its LOCKs are payer `payer`'s transfers). */
  readonly payer: PayerIndex;
  /**
   * The counterparty's deposit in the channel now (after withdrawals), base units. A LOCK its deposit and
   * what the payee paid it do not cover could never be claimed: its secret is not revealed.
   */
  readonly counterpartyDeposit: bigint;
}

/** What the payee did with a routed LOCK. */
export type PayeeEvent =
  | { readonly kind: "settling"; readonly channelId: Hash; readonly seq: number; readonly invoiceId: Hash }
  | {
      readonly kind: "refused";
      readonly channelId: Hash;
      readonly seq: number;
      readonly code: number;
      /** In words, for the payee's log. */
      readonly reason: string;
    }
  /**
   * Not answered: the onion did not open with the payee's key (no failure can be addressed; the lock
   * expires back), or the invoice store or the log failed (the next replay answers it).
   */
  | { readonly kind: "unanswered"; readonly channelId: Hash; readonly seq: number; readonly reason: string };

export interface ReceivePaymentsDeps {
  /** The payee's key: signs its peer messages. */
  readonly signer: LocalSigner;
  /** The payee's routing private key (§11.4), for its onion layer. */
  readonly onionKey: Hex;
  readonly domain: Domain;
  readonly channels: readonly PayeeChannel[];
  readonly invoices: InvoiceSecretStore;
  readonly log: PaymentLog;
  readonly peer: PeerMessageCrypto;
  /** Milliseconds since the epoch; `Date.now` by default. */
  readonly now?: () => number;
  readonly onEvent?: (event: PayeeEvent) => void;
}

/** A refusal: the onion failure code and the reason in words. */
export interface Refusal {
  readonly code: number;
  readonly reason: string;
}

/**
 * Whether a LOCK (amount, expiry) carrying final payload `p` pays `invoice` (undefined: unknown hashlock),
 * at `nowS` Unix seconds. Returns the refusal, or null to reveal the secret. The clock's checks (invoice
 * expiry, lock expiry) no longer apply once the invoice's secret was revealed.
 */
export function judgeFinalLock(
  lock: { readonly amount: bigint; readonly expiry: bigint },
  p: OnionFinalPayload,
  invoice: IssuedInvoice | undefined,
  nowS: bigint,
): Refusal | null {
  if (!invoice || p.paymentSecret.toLowerCase() !== invoice.invoiceId.toLowerCase()) {
    return {
      code: OnionFailureCode.UnknownPayment,
      reason: "no invoice of this payee has this hashlock and id",
    };
  }
  if (!invoice.revealed && nowS >= invoice.expiry) {
    return { code: OnionFailureCode.UnknownPayment, reason: `the invoice expired at ${invoice.expiry}` };
  }
  if (lock.amount < p.amount || p.totalAmount !== invoice.amount || lock.amount < invoice.amount) {
    return {
      code: OnionFailureCode.IncorrectAmount,
      reason: `the lock carries ${lock.amount} (onion: ${p.amount} of ${p.totalAmount}); the invoice asks ${invoice.amount}`,
    };
  }
  // Once the secret is out, the lock's timing no longer protects the payee: take what is owed.
  if (
    !invoice.revealed &&
    (lock.expiry < p.expiry || lock.expiry < nowS + BigInt(invoice.minFinalExpiryDelta))
  ) {
    return {
      code: OnionFailureCode.ExpiryTooSoon,
      reason: `the lock expires at ${lock.expiry}; it must run to ${p.expiry} and at least ${invoice.minFinalExpiryDelta} s from now`,
    };
  }
  return null;
}

/** How many of the counterparty's transfers ahead of a gap a payee keeps (as the node's window). */
const MAX_AHEAD = 64;

/** Starts answering routed LOCKs in `deps.channels`; `stop()` ends it. */
export function receivePayments(deps: ReceivePaymentsDeps): Subscription {
  const now = deps.now ?? Date.now;
  const subs = deps.channels.map((ch) => follow(ch));
  return { stop: () => subs.forEach((s) => s.stop()) };

  function follow(ch: PayeeChannel): Subscription {
    const counterparty = toAddress(ch.counterparty, "counterparty");
    let state: PayerState = GENESIS_STATE;
    // The payee's own chain in the channel: what it paid the counterparty backs the counterparty's locks.
    let own: PayerState = GENESIS_STATE;
    // Records are handled one at a time, in log order (an answer awaits the invoice store and the log).
    let queue: Promise<void> = Promise.resolve();
    // The counterparty's transfers that came before their predecessor, by seq.
    const ahead = new Map<number, LoggedTransfer>();
    const sub = deps.log.transfers(ch.channelId, (m) => {
      queue = queue.then(() => handle(m)).catch(() => undefined);
    });

    async function handle(m: LoggedTransfer): Promise<void> {
      const t = m.transfer;
      if (t.payer !== ch.payer) {
        if (t.seq !== own.seq + 1) return;
        try {
          if (transferSigner(deps.domain, t) === deps.signer.address) own = applyTransfer(own, t);
        } catch {
          // not the payee's own chain
        }
        return;
      }
      if (t.seq <= state.seq) return; // replays
      try {
        if (transferSigner(deps.domain, t) !== counterparty) return;
      } catch {
        return; // not a transfer of this chain: the node dead-letters it, the payee ignores it
      }
      if (t.seq > state.seq + 1) {
        // Ahead of a transfer not seen yet (the log may carry a chain out of order, e.g. a re-send):
        // kept until the gap fills, as the node's reorder window does; the farthest goes when full.
        if (ahead.size >= MAX_AHEAD) {
          const farthest = Math.max(...ahead.keys());
          if (t.seq >= farthest) return;
          ahead.delete(farthest);
        }
        ahead.set(t.seq, m);
        return;
      }
      try {
        state = applyTransfer(state, t);
      } catch {
        return; // does not extend the chain: the node dead-letters it, the payee ignores it
      }
      await answerLock(m);
      for (let next = ahead.get(state.seq + 1); next; next = ahead.get(state.seq + 1)) {
        ahead.delete(next.transfer.seq);
        await handle(next);
        if (state.seq < next.transfer.seq) break; // it did not apply: the gap stays
      }
      for (const seq of ahead.keys()) if (seq <= state.seq) ahead.delete(seq);
    }

    async function answerLock(m: LoggedTransfer): Promise<void> {
      const t = m.transfer;
      if (t.kind !== TransferKind.Lock || m.appKind !== ROUTE_APP_KIND) return;
      const backing = ch.counterpartyDeposit + own.paidTotal;
      const backed = state.paidTotal + state.lockedTotal <= backing;
      try {
        await answer(ch, t, state, m.appData, backed ? null : backing);
      } catch (e) {
        deps.onEvent?.({ kind: "unanswered", channelId: ch.channelId, seq: t.seq, reason: messageOf(e) });
      }
    }
    return sub;
  }

  /** Answers a routed LOCK; `unbackedBy` is what backs the counterparty's chain when the LOCK exceeds it. */
  async function answer(
    ch: PayeeChannel,
    t: SignedTransfer,
    afterLock: PayerState,
    packet: Hex,
    unbackedBy: bigint | null,
  ): Promise<void> {
    let peeled: ReturnType<typeof peelOnion>;
    try {
      peeled = peelOnion(packet, deps.onionKey, t.hashlock);
    } catch (e) {
      deps.onEvent?.({ kind: "unanswered", channelId: ch.channelId, seq: t.seq, reason: messageOf(e) });
      return;
    }
    const lockRef = { channelId: ch.channelId, payer: ch.payer, seq: BigInt(t.seq), hashlock: t.hashlock };
    const invoice = await deps.invoices.lookup(t.hashlock);
    const refusal: Refusal | null = !peeled.payload.final
      ? { code: OnionFailureCode.UnknownNextChannel, reason: "the payee forwards nothing" }
      : unbackedBy !== null
        ? {
            code: OnionFailureCode.TemporaryFailure,
            reason: `the counterparty's locks and payments exceed what backs them (${unbackedBy})`,
          }
        : judgeFinalLock(t, peeled.payload, invoice, BigInt(Math.floor(now() / 1000)));
    if (refusal || !invoice) {
      const r = refusal ?? { code: OnionFailureCode.UnknownPayment, reason: "unknown invoice" };
      const failure = toHex(createFailure(peeled.sharedSecret, { code: r.code }));
      await deps.log.sendPeerMessage(
        deps.peer.sign(deps.signer, deps.domain, { ...lockRef, kind: "FAIL", failure }, now()),
      );
      // The consent names the CANCEL right after the LOCK: the one the payer signs if it acts at once.
      const cancel = buildTransfer(
        afterLock,
        { channelId: ch.channelId, payer: ch.payer },
        { kind: "CANCEL", lock: { amount: t.amount, expiry: t.expiry, hashlock: t.hashlock } },
      );
      const consent = await signCancelConsent(deps.signer, deps.domain, cancel);
      await deps.log.sendPeerMessage(
        deps.peer.sign(
          deps.signer,
          deps.domain,
          {
            ...lockRef,
            kind: "CONSENT",
            consent: { seq: consent.seq, transfer: consent.transfer, signature: consent.signature },
          },
          now(),
        ),
      );
      deps.onEvent?.({ kind: "refused", channelId: ch.channelId, seq: t.seq, ...r });
      return;
    }
    if (!invoice.revealed) await deps.invoices.markRevealed(invoice.hashlock);
    await deps.log.sendPeerMessage(
      deps.peer.sign(deps.signer, deps.domain, { ...lockRef, kind: "SECRET", secret: invoice.secret }, now()),
    );
    deps.onEvent?.({ kind: "settling", channelId: ch.channelId, seq: t.seq, invoiceId: invoice.invoiceId });
  }
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
