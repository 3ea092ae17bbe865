/**
 * The payer's `PaymentTransport` (protocol §11.6): signs the first hop's LOCK through the signing journal
 * (§10: durable before it is released), writes it with the onion packet, and waits for the first hop's
 * answer on the peer-message log: a SECRET that opens the hashlock, signed by the first hop, is the proof
 * of payment, and the payer UNLOCKs; a FAIL hands its onion failure message to `pay`, which reads the
 * hop and the reason. The wait is bounded by the lock's expiry. A FAIL is usually followed by the first
 * hop's CONSENT to the CANCEL of the lock (§4.5, sent once nothing downstream can still claim): the payer
 * waits a little for it and releases the lock at once with a CANCEL carrying the consent, instead of
 * leaving its amount locked until the expiry.
 *
 * Crash safety: before building a transfer, the journal is read at the next seq. A transfer found there
 * was signed but not known to be sent: it is sent again, never replaced by another (a second transfer for
 * one seq is an equivocation). If it is a LOCK of this very attempt it is this attempt's LOCK; a LOCK
 * under the same hashlock with other terms is an earlier attempt that may still settle: it is sent again
 * with its kept packet and its outcome awaited first (settled: that is the payment's; failed back: this
 * attempt locks anew), or, with no packet kept, the attempt stops (`EarlierLockPending`).
 */
import {
  OnionFailureCode,
  TransferKind,
  applyTransfer,
  buildTransfer,
  cancelConsentOf,
  cancelConsentSignedBy,
  hashTransfer,
  hashlockOf,
  journaledTransferSigner,
  signTransfer,
  type AttemptOutcome,
  type Domain,
  type Hash,
  type Hex,
  type Lock,
  type ParsecSigner,
  type PayerIndex,
  type PayerState,
  type PaymentAttempt,
  type PaymentTransport,
  type SigningJournal,
  type Transfer,
  toAddress,
  toHex,
} from "../../../sdk/isomorphic";
import { PaymentTransportError } from "./errors";
import type {
  ChannelSide,
  PayerStateStore,
  PaymentLog,
  PeerMessage,
  PeerMessageCrypto,
  TransferAttachment,
} from "./ports";

/** How often the wait checks the lock's expiry, milliseconds. */
const DEFAULT_EXPIRY_CHECK_MS = 1_000;
/** How long after a FAIL the payer waits for the first hop's consent to cancel the lock, milliseconds. */
const DEFAULT_CONSENT_WAIT_MS = 5_000;

export interface PayerChannel extends ChannelSide {
  /** The payer's own index in the channel (its LOCKs are payer `payer`'s transfers). */
  readonly payer: PayerIndex;
}

/**
 * What travels with each transfer the payer signed with an attachment, by (channel, seq): a LOCK's onion
 * packet, a consented CANCEL's consent signature. Kept before signing, so a transfer sent again after a
 * crash travels as it first did.
 */
export interface PacketStore {
  get(channelId: Hash, seq: number): Promise<Hex | undefined>;
  /** Resolves once the packet is durable. */
  put(channelId: Hash, seq: number, packet: Hex): Promise<void>;
}

export interface PaymentTransportDeps {
  /** The payer's key or wallet; its transfers are signed through `journal`. */
  readonly signer: ParsecSigner;
  readonly journal: SigningJournal;
  readonly domain: Domain;
  /** The channel with the first hop. */
  readonly channel: PayerChannel;
  readonly state: PayerStateStore;
  readonly log: PaymentLog;
  /**
   * What the payer can still lock in the channel now (its deposit, plus what the first hop paid it, minus
   * what it paid and locked), base units. When given, a LOCK above it is not signed: the attempt fails
   * locally with `InsufficientCapacity` and `pay` tries another route.
   */
  readonly spendable?: () => Promise<bigint>;
  /**
   * Where each LOCK's onion packet is kept (durably) before the LOCK is signed. With it, a wallet that
   * crashed after signing a LOCK sends it again with its packet and waits for its outcome before a new
   * attempt locks under the same hashlock; without it, such an attempt stops (`EarlierLockPending`).
   */
  readonly packets?: PacketStore;
  /** Checks the first hop's signature on its answers. */
  readonly peer: Pick<PeerMessageCrypto, "verify">;
  /** Milliseconds since the epoch (`Date.now` by default); the lock's expiry is compared in its seconds. */
  readonly now?: () => number;
  readonly expiryCheckMs?: number;
  /**
   * How long after a FAIL to wait for the first hop's CONSENT (default 5 s; 0: do not wait). Without a
   * `packets` store no consented CANCEL is signed (it could not be sent again with its consent).
   */
  readonly consentWaitMs?: number;
  /** Told about answers that were read and ignored (not for this lock, a bad signature). */
  readonly onIgnored?: (message: PeerMessage, reason: string) => void;
}

/** A CONSENT peer message. */
type ConsentMessage = Extract<PeerMessage, { readonly kind: "CONSENT" }>;

function sameLockTerms(t: Transfer, lock: Lock): boolean {
  return (
    t.kind === TransferKind.Lock &&
    t.amount === lock.amount &&
    t.expiry === lock.expiry &&
    t.hashlock.toLowerCase() === lock.hashlock.toLowerCase()
  );
}

/** The payer's transport; `resume` is for a wallet starting up. */
export interface PayerTransport extends PaymentTransport {
  /**
   * Sends the transfers the journal holds beyond the state (signed before a crash, not known to be sent),
   * up to the first LOCK: e.g. the UNLOCK of a payment whose secret came just before the crash, which the
   * first hop would otherwise have to claim on-chain. Returns how many were sent.
   */
  resume(): Promise<number>;
}

/** A `PaymentTransport` for `pay()` over one channel with the first hop. */
export function paymentTransport(deps: PaymentTransportDeps): PayerTransport {
  const { domain, channel, log } = deps;
  const signer = journaledTransferSigner(deps.signer, deps.journal);
  const now = deps.now ?? Date.now;
  const origin = { channelId: channel.channelId, payer: channel.payer };
  const firstHop = toAddress(channel.counterparty, "counterparty");
  // One transfer chain per channel: attempts (of different payments) take turns building on the state.
  let turn: Promise<unknown> = Promise.resolve();
  const serial = <T>(run: () => Promise<T>): Promise<T> => {
    const mine = turn.then(run, run);
    turn = mine.catch(() => undefined);
    return mine;
  };

  /** How a journaled transfer travels again: with the attachment kept for its seq, if any. */
  const attachmentOf = (t: Transfer, stored: Hex | undefined): TransferAttachment | undefined =>
    stored === undefined
      ? undefined
      : t.kind === TransferKind.Cancel
        ? { consent: stored }
        : t.kind === TransferKind.Lock
          ? { packet: stored }
          : undefined;

  /** Signs (through the journal), writes and records one transfer; returns the state after it. */
  const send = async (
    state: PayerState,
    t: Transfer,
    attachment?: TransferAttachment,
  ): Promise<PayerState> => {
    const signed = await signTransfer(signer, domain, t);
    const next = applyTransfer(state, t);
    try {
      await log.sendTransfer(signed, attachment);
    } catch (e) {
      throw new PaymentTransportError(
        "SendFailed",
        `writing transfer ${t.seq} of channel ${t.channelId} failed; it is journaled and is sent again on the next attempt`,
        { cause: e },
      );
    }
    await deps.state.set(next);
    return next;
  };

  /**
   * Sends `lock` (the next transfer after `state`) with `packet` and waits for the first hop's answer:
   * SECRET → UNLOCK, settled; FAIL → its failure message. Throws `AttemptUnresolved` at the lock's expiry.
   */
  const lockAndWait = async (state: PayerState, lock: Transfer, packet: Hex): Promise<AttemptOutcome> => {
    const hashlock = lock.hashlock.toLowerCase() as Hash;
    let settle!: (answer: PeerMessage) => void;
    const answered = new Promise<PeerMessage>((resolve) => (settle = resolve));
    let consented!: (message: ConsentMessage) => void;
    const consent = new Promise<ConsentMessage>((resolve) => (consented = resolve));
    // Listen before writing: the answer may come back at once.
    const sub = log.peerMessages(channel.channelId, (m) => {
      if (m.payer !== channel.payer || m.seq !== BigInt(lock.seq) || m.hashlock.toLowerCase() !== hashlock) {
        return;
      }
      if (m.kind === "ACK") return;
      try {
        deps.peer.verify(m, domain, firstHop);
      } catch (e) {
        deps.onIgnored?.(m, e instanceof Error ? e.message : String(e));
        return;
      }
      if (m.kind === "SECRET" && hashlockOf(m.secret).toLowerCase() !== hashlock) {
        deps.onIgnored?.(m, "the secret does not open the hashlock");
        return;
      }
      if (m.kind === "CONSENT") consented(m);
      else settle(m);
    });
    let timer: ReturnType<typeof setInterval> | undefined;
    try {
      const locked = await send(state, lock, { packet });
      const expired = new Promise<never>((_, reject) => {
        timer = setInterval(() => {
          if (BigInt(Math.floor(now() / 1000)) >= lock.expiry) {
            reject(
              new PaymentTransportError(
                "AttemptUnresolved",
                `no answer from the first hop before the lock expired at ${lock.expiry}; cancel it (seq ${lock.seq})`,
              ),
            );
          }
        }, deps.expiryCheckMs ?? DEFAULT_EXPIRY_CHECK_MS);
      });
      const answer = await Promise.race([answered, expired]);
      if (answer.kind === "FAIL") {
        await releaseWithConsent(locked, lock, consent);
        return { settled: false, failure: answer.failure };
      }
      if (answer.kind !== "SECRET") throw new Error("unreachable: ACKs are not answers");
      // The preimage is the proof of payment; the UNLOCK pays the first hop what it is owed.
      const unlock = buildTransfer(locked, origin, {
        kind: "UNLOCK",
        lock: { amount: lock.amount, expiry: lock.expiry, hashlock: lock.hashlock },
      });
      try {
        await send(locked, unlock);
      } catch {
        // Journaled: the next attempt on this channel sends it again. The payment is settled either way.
      }
      return { settled: true, preimage: answer.secret };
    } finally {
      if (timer !== undefined) clearInterval(timer);
      sub.stop();
    }
  };

  /**
   * After a FAIL: waits (bounded) for the first hop's CONSENT to cancel `lock`; if it names exactly the
   * CANCEL that follows `locked` and is the first hop's signature, keeps it, then signs and sends that
   * CANCEL with it. Anything else leaves the lock pending until its expiry (the payment failed either way).
   */
  const releaseWithConsent = async (
    locked: PayerState,
    lock: Transfer,
    consent: Promise<ConsentMessage>,
  ): Promise<void> => {
    const waitMs = Math.min(
      deps.consentWaitMs ?? DEFAULT_CONSENT_WAIT_MS,
      Number(lock.expiry) * 1000 - now(),
    );
    if (!deps.packets || waitMs <= 0) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const message = await Promise.race([
      consent,
      new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), waitMs))),
    ]);
    clearTimeout(timer);
    if (!message) return;
    const ref = message.consent;
    const cancel = buildTransfer(locked, origin, {
      kind: "CANCEL",
      lock: { amount: lock.amount, expiry: lock.expiry, hashlock: lock.hashlock },
    });
    const hash = hashTransfer(cancel);
    const signed = { ...cancelConsentOf(cancel, hash), signature: ref.signature };
    const fits = ref.seq === cancel.seq && ref.transfer.toLowerCase() === hash.toLowerCase();
    if (!fits || cancelConsentSignedBy(domain, signed) !== firstHop) {
      const why = fits
        ? "the consent is not the first hop's signature"
        : `the consent names another CANCEL than seq ${cancel.seq}`;
      deps.onIgnored?.(message, why);
      return;
    }
    await deps.packets.put(channel.channelId, cancel.seq, ref.signature);
    try {
      await send(locked, cancel, { consent: ref.signature });
    } catch {
      // Journaled with its consent: the next attempt on this channel sends it again.
    }
  };

  const attempt = async (a: PaymentAttempt): Promise<AttemptOutcome> => {
    if (a.firstHopLock.channelId.toLowerCase() !== channel.channelId.toLowerCase()) {
      throw new PaymentTransportError(
        "Misconfigured",
        `the route starts on channel ${a.firstHopLock.channelId}, not on this wallet's channel ${channel.channelId}`,
      );
    }
    const packet = toHex(a.packet);
    const wanted: Lock = {
      amount: a.firstHopLock.amount,
      expiry: a.firstHopLock.expiry,
      hashlock: a.hashlock,
    };
    let state = await deps.state.get();
    // What the journal holds beyond the state was signed and is not known to be sent: send it as it is.
    for (;;) {
      const pending = await deps.journal.get(channel.channelId, channel.payer, state.seq + 1);
      if (!pending || pending.abandoned) break;
      const t = pending.transfer;
      const stored = await deps.packets?.get(channel.channelId, t.seq);
      if (sameLockTerms(t, wanted) && (stored === undefined || stored === packet)) {
        return lockAndWait(state, t, packet);
      }
      if (t.kind === TransferKind.Lock && t.hashlock.toLowerCase() === a.hashlock.toLowerCase()) {
        // An earlier attempt's LOCK under this hashlock: finish it first, it may still settle.
        if (stored === undefined) {
          throw new PaymentTransportError(
            "EarlierLockPending",
            `a LOCK of an earlier attempt under ${a.hashlock} (seq ${t.seq}) was signed, its packet is not ` +
              `kept, and it may still settle; pay again after it expires at ${t.expiry}`,
          );
        }
        const earlier = await lockAndWait(state, t, stored);
        if (earlier.settled) return earlier;
        state = await deps.state.get(); // failed back for good: this attempt locks anew
        continue;
      }
      state = await send(state, t, attachmentOf(t, stored));
    }
    if (deps.spendable) {
      const available = await deps.spendable();
      if (wanted.amount > available) {
        return {
          settled: false,
          local: {
            reason: `the channel to the first hop has ${available} to lock, the route needs ${wanted.amount}`,
            code: OnionFailureCode.InsufficientCapacity,
          },
        };
      }
    }
    const invoiceId = a.route.hops.length === 1 ? a.invoiceId : undefined;
    const lock = buildTransfer(state, origin, { kind: "LOCK", ...wanted, invoiceId });
    // The packet is kept before the LOCK is signed, so a wallet restarted after signing can send both.
    await deps.packets?.put(channel.channelId, lock.seq, packet);
    return lockAndWait(state, lock, packet);
  };

  /** Sends what the journal holds beyond the state, up to the first LOCK (which needs its attempt). */
  const resume = async (): Promise<number> => {
    let state = await deps.state.get();
    let sent = 0;
    for (;;) {
      const pending = await deps.journal.get(channel.channelId, channel.payer, state.seq + 1);
      if (!pending || pending.abandoned || pending.transfer.kind === TransferKind.Lock) return sent;
      const stored = await deps.packets?.get(channel.channelId, pending.transfer.seq);
      state = await send(state, pending.transfer, attachmentOf(pending.transfer, stored));
      sent += 1;
    }
  };

  return { sendAttempt: (a) => serial(() => attempt(a)), resume: () => serial(resume) };
}
