/**
 * The wallet side of routed payments with fake ports (client/src/payment): the payer's transport answers
 * `pay` from the first hop's peer messages and UNLOCKs once; answers that are not for its lock or not
 * signed by the first hop are ignored; a crash between journaling and sending re-sends the same LOCK.
 * The payee answers a routed LOCK with its secret or the right onion failure.
 */
import { expect } from "chai";
import { randomBytes } from "node:crypto";
import {
  GENESIS_STATE,
  OnionFailureCode,
  TransferKind,
  applyTransfer,
  ZERO_HASH,
  buildTransfer,
  cancelConsentOf,
  cancelConsentSignedBy,
  createOnion,
  decodeFailure,
  hashTransfer,
  hashlockOf,
  localSigner,
  memoryJournal,
  onionPublicKey,
  signCancelConsent,
  signPaymentMessage,
  signTransferUnjournaled,
  toHex,
  verifyPaymentMessage,
  type Hash,
  type Hex,
  type PayerState,
  type PaymentAttempt,
  type Route,
  type SignedTransfer,
} from "../../sdk";
import { DOMAIN } from "../sdk/helpers";
import {
  PaymentTransportError,
  attachmentFields,
  judgeFinalLock,
  paymentTransport,
  receivePayments,
  type IssuedInvoice,
  type LoggedTransfer,
  type PayeeEvent,
  type PaymentLog,
  type PeerMessage,
  type PeerMessageCrypto,
} from "../../client";

const key = (n: number): Hex => `0x${n.toString(16).padStart(64, "0")}` as Hex;
const ALICE = localSigner(key(0xa1));
const BOB = localSigner(key(0xb2));
const MALLORY = localSigner(key(0xee));
const CHANNEL = `0x${"ab".repeat(32)}` as Hash;
const CRYPTO: PeerMessageCrypto = { sign: signPaymentMessage, verify: verifyPaymentMessage };
const NOW_MS = 1_800_000_000_000;
const NOW_S = BigInt(NOW_MS / 1000);

/** An in-memory log: subscriptions replay and follow, as the Kafka adapter does. */
function fakeLog() {
  const transfers: LoggedTransfer[] = [];
  const messages: PeerMessage[] = [];
  const tListeners = new Set<(m: LoggedTransfer) => void>();
  const mListeners = new Set<(m: PeerMessage) => void>();
  let failNextSend = false;
  const log: PaymentLog = {
    async sendTransfer(transfer, attachment) {
      if (failNextSend) {
        failNextSend = false;
        throw new Error("broker unreachable");
      }
      const m = { transfer, ...attachmentFields(attachment) };
      transfers.push(m);
      for (const l of tListeners) l(m);
    },
    async sendPeerMessage(m) {
      messages.push(m);
      for (const l of mListeners) l(m);
    },
    peerMessages(channelId, on) {
      const l = (m: PeerMessage) => m.channelId === channelId && on(m);
      messages.forEach(l);
      mListeners.add(l);
      return { stop: () => mListeners.delete(l) };
    },
    transfers(channelId, on) {
      const l = (m: LoggedTransfer) => m.transfer.channelId === channelId && on(m);
      transfers.forEach(l);
      tListeners.add(l);
      return { stop: () => tListeners.delete(l) };
    },
  };
  return { log, transfers, messages, failNext: () => (failNextSend = true) };
}

function stateStore(initial: PayerState = GENESIS_STATE) {
  let s = initial;
  return {
    get: async () => s,
    set: async (n: PayerState) => void (s = n),
    current: () => s,
  };
}

/** A one-hop attempt (Alice → Bob, Bob the payee) with a real onion for Bob. */
function attemptFor(secret: Hash, amount = 1_000n, expiry = NOW_S + 3_600n): PaymentAttempt {
  const hashlock = hashlockOf(secret);
  const invoiceId = toHex(randomBytes(32)) as Hash;
  const { packet } = createOnion({
    hops: [
      {
        nodePublicKey: onionPublicKey(key(0xb2)),
        payload: { final: true, amount, expiry, totalAmount: amount, paymentSecret: invoiceId },
      },
    ],
    associatedData: hashlock,
  });
  const route: Route = {
    hops: [
      { channelId: CHANNEL, direction: 0, from: ALICE.address, to: BOB.address, amount, expiry, fee: 0n },
    ],
    amount,
    fee: 0n,
    expiry,
    expiryDelta: 3_600,
    probability: 1,
    cost: 0n,
  };
  return {
    attempt: 1,
    route,
    packet,
    hashlock,
    invoiceId,
    firstHopLock: { channelId: CHANNEL, amount, expiry },
  };
}

const until = async (cond: () => boolean, what: string): Promise<void> => {
  for (let i = 0; i < 200; i++) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`timed out waiting for ${what}`);
};

describe("client: the payer's payment transport", () => {
  const setup = () => {
    const f = fakeLog();
    const journal = memoryJournal();
    const state = stateStore();
    const transport = paymentTransport({
      signer: ALICE,
      journal,
      domain: DOMAIN,
      channel: { channelId: CHANNEL, payer: 0, counterparty: BOB.address },
      state,
      log: f.log,
      peer: CRYPTO,
      now: () => NOW_MS,
      expiryCheckMs: 10,
    });
    const bobSays = (
      seq: number,
      hashlock: Hash,
      body: { kind: "SECRET"; secret: Hash } | { kind: "FAIL"; failure: Hex },
      by = BOB,
    ) =>
      f.log.sendPeerMessage(
        signPaymentMessage(by, DOMAIN, { channelId: CHANNEL, payer: 0, seq: BigInt(seq), hashlock, ...body }),
      );
    const kinds = () => f.transfers.map((t) => t.transfer.kind);
    return { f, journal, state, transport, bobSays, kinds };
  };

  it("SECRET → settled with the preimage, the UNLOCK signed and sent once (a repeated SECRET changes nothing)", async () => {
    const { f, journal, state, transport, bobSays, kinds } = setup();
    const secret = toHex(randomBytes(32)) as Hash;
    const a = attemptFor(secret);
    const outcome = transport.sendAttempt(a);
    await until(() => f.transfers.length === 1, "the LOCK");
    const lock = f.transfers[0];
    expect(lock).to.include({ appKind: "ROUTE", appData: toHex(a.packet) });
    expect(lock.transfer).to.include({
      kind: TransferKind.Lock,
      seq: 1,
      amount: 1_000n,
      hashlock: a.hashlock,
    });
    // Journaled before it was released.
    expect(journal.entries.size).to.be.greaterThanOrEqual(1);
    await bobSays(1, a.hashlock, { kind: "SECRET", secret });
    await bobSays(1, a.hashlock, { kind: "SECRET", secret });
    expect(await outcome).to.deep.equal({ settled: true, preimage: secret });
    expect(kinds()).to.deep.equal([TransferKind.Lock, TransferKind.Unlock]);
    expect(state.current()).to.include({ seq: 2, paidTotal: 1_000n, lockedTotal: 0n });
    expect(journal.entries.size).to.equal(2);
  });

  const ignoredCases: [
    string,
    (s: ReturnType<typeof setup>, a: PaymentAttempt, secret: Hash) => Promise<void>,
  ][] = [
    [
      "signed by someone else",
      (s, a, secret) => s.bobSays(1, a.hashlock, { kind: "SECRET", secret }, MALLORY),
    ],
    ["for another seq", (s, a, secret) => s.bobSays(2, a.hashlock, { kind: "SECRET", secret })],
    [
      "with another secret in Bob's signed message",
      async (s, a, secret) => {
        const real = signPaymentMessage(BOB, DOMAIN, {
          channelId: CHANNEL,
          payer: 0,
          seq: 1n,
          hashlock: a.hashlock,
          kind: "SECRET",
          secret,
        });
        await s.f.log.sendPeerMessage({ ...real, secret: toHex(randomBytes(32)) as Hash } as PeerMessage);
      },
    ],
    [
      "for another hashlock",
      async (s) => {
        const other = toHex(randomBytes(32)) as Hash;
        await s.bobSays(1, hashlockOf(other), { kind: "SECRET", secret: other });
      },
    ],
  ];
  for (const [name, send] of ignoredCases) {
    it(`a SECRET ${name} is ignored; the real one then settles`, async () => {
      const s = setup();
      const secret = toHex(randomBytes(32)) as Hash;
      const a = attemptFor(secret);
      let done = false;
      const outcome = s.transport.sendAttempt(a).finally(() => (done = true));
      await until(() => s.f.transfers.length === 1, "the LOCK");
      await send(s, a, secret);
      await new Promise((r) => setTimeout(r, 30));
      expect(done).to.equal(false);
      expect(s.kinds()).to.deep.equal([TransferKind.Lock]);
      await s.bobSays(1, a.hashlock, { kind: "SECRET", secret });
      expect(await outcome).to.deep.equal({ settled: true, preimage: secret });
      expect(s.kinds()).to.deep.equal([TransferKind.Lock, TransferKind.Unlock]);
    });
  }

  it("FAIL → the onion failure message is handed to pay; no UNLOCK", async () => {
    const s = setup();
    const secret = toHex(randomBytes(32)) as Hash;
    const a = attemptFor(secret);
    const outcome = s.transport.sendAttempt(a);
    await until(() => s.f.transfers.length === 1, "the LOCK");
    const failure = toHex(randomBytes(288));
    await s.bobSays(1, a.hashlock, { kind: "FAIL", failure });
    expect(await outcome).to.deep.equal({ settled: false, failure });
    expect(s.kinds()).to.deep.equal([TransferKind.Lock]);
  });

  it("resume: an UNLOCK journaled before a crash and never sent is sent at start, once", async () => {
    const s = setup();
    const secret = toHex(randomBytes(32)) as Hash;
    const a = attemptFor(secret);
    const outcome = s.transport.sendAttempt(a);
    await until(() => s.f.transfers.length === 1, "the LOCK");
    s.f.failNext(); // the UNLOCK's write dies with the process
    await s.bobSays(1, a.hashlock, { kind: "SECRET", secret });
    expect(await outcome).to.deep.equal({ settled: true, preimage: secret });
    expect(s.kinds()).to.deep.equal([TransferKind.Lock]);
    const restarted = paymentTransport({
      signer: ALICE,
      journal: s.journal,
      domain: DOMAIN,
      channel: { channelId: CHANNEL, payer: 0, counterparty: BOB.address },
      state: s.state,
      log: s.f.log,
      peer: CRYPTO,
    });
    expect(await restarted.resume()).to.equal(1);
    expect(await restarted.resume()).to.equal(0);
    expect(s.kinds()).to.deep.equal([TransferKind.Lock, TransferKind.Unlock]);
    expect(s.state.current()).to.include({ seq: 2, paidTotal: 1_000n });
  });

  it("a LOCK above what the payer can spend is not signed: a local InsufficientCapacity failure", async () => {
    const f = fakeLog();
    const journal = memoryJournal();
    const transport = paymentTransport({
      signer: ALICE,
      journal,
      domain: DOMAIN,
      channel: { channelId: CHANNEL, payer: 0, counterparty: BOB.address },
      state: stateStore(),
      log: f.log,
      peer: CRYPTO,
      spendable: async () => 999n,
    });
    const outcome = await transport.sendAttempt(attemptFor(toHex(randomBytes(32)) as Hash, 1_000n));
    expect(outcome).to.deep.include({ settled: false });
    expect((outcome as { local: { code: number } }).local.code).to.equal(
      OnionFailureCode.InsufficientCapacity,
    );
    expect(f.transfers).to.have.length(0);
    expect(journal.entries.size).to.equal(0);
  });

  it("no answer before the lock's expiry → AttemptUnresolved (pay stops, tries no other route)", async () => {
    const s = setup();
    const a = attemptFor(toHex(randomBytes(32)) as Hash, 1_000n, NOW_S - 1n);
    const e = await s.transport.sendAttempt(a).catch((x: unknown) => x);
    expect(e).to.be.instanceOf(PaymentTransportError);
    expect((e as PaymentTransportError).code).to.equal("AttemptUnresolved");
  });

  it("a crash after journaling the LOCK and before sending it: the restarted wallet sends the same LOCK, never a second", async () => {
    const s = setup();
    const secret = toHex(randomBytes(32)) as Hash;
    const a = attemptFor(secret);
    s.f.failNext();
    const e = await s.transport.sendAttempt(a).catch((x: unknown) => x);
    expect((e as PaymentTransportError).code).to.equal("SendFailed");
    expect(s.f.transfers).to.have.length(0);
    expect(s.state.current().seq).to.equal(0);
    const journaled = [...s.journal.entries.values()];
    expect(journaled).to.have.length(1);
    // A new process on the same journal and state: another attempt of the same payment with other terms
    // would be a second lock under the hashlock, so it is refused and nothing is sent.
    const restarted = paymentTransport({
      signer: ALICE,
      journal: s.journal,
      domain: DOMAIN,
      channel: { channelId: CHANNEL, payer: 0, counterparty: BOB.address },
      state: s.state,
      log: s.f.log,
      peer: CRYPTO,
      now: () => NOW_MS,
      expiryCheckMs: 10,
    });
    const other = { ...a, firstHopLock: { ...a.firstHopLock, expiry: a.firstHopLock.expiry + 1n } };
    const refused = await restarted.sendAttempt(other).catch((x: unknown) => x);
    expect((refused as PaymentTransportError).code).to.equal("EarlierLockPending");
    expect(s.f.transfers).to.have.length(0);
    // The same attempt: the journaled LOCK itself, with its recorded signature.
    const outcome = restarted.sendAttempt(a);
    await until(() => s.f.transfers.length === 1, "the re-sent LOCK");
    const sent = s.f.transfers[0].transfer;
    expect(hashTransfer(sent)).to.equal(journaled[0].transferHash);
    expect(sent.signature).to.equal(s.journal.entries.get(`${CHANNEL}:0:1`)?.signature);
    await s.bobSays(1, a.hashlock, { kind: "SECRET", secret });
    expect(await outcome).to.deep.equal({ settled: true, preimage: secret });
    const locks = s.f.transfers.filter((t) => t.transfer.kind === TransferKind.Lock);
    expect(new Set(locks.map((t) => hashTransfer(t.transfer)))).to.have.property("size", 1);
    expect(s.journal.entries.size).to.equal(2);
  });
});

describe("client: a payer restarted with its packets kept finishes the earlier attempt first", () => {
  const restart = (answer: "SECRET" | "FAIL") =>
    it(`crash after signing; pay() again (new terms): the journaled LOCK is re-sent with its own packet; ${answer} → ${
      answer === "SECRET" ? "settled, no second LOCK" : "only then a new LOCK"
    }`, async () => {
      const f = fakeLog();
      const journal = memoryJournal();
      const state = stateStore();
      const kept = new Map<string, Hex>();
      const packets = {
        get: async (c: Hash, seq: number) => kept.get(`${c}:${seq}`),
        put: async (c: Hash, seq: number, p: Hex) => void kept.set(`${c}:${seq}`, p),
      };
      const wallet = () =>
        paymentTransport({
          signer: ALICE,
          journal,
          domain: DOMAIN,
          channel: { channelId: CHANNEL, payer: 0, counterparty: BOB.address },
          state,
          log: f.log,
          peer: CRYPTO,
          packets,
          now: () => NOW_MS,
          consentWaitMs: 20, // no CONSENT comes in this test
        });
      const secret = toHex(randomBytes(32)) as Hash;
      const first = attemptFor(secret);
      f.failNext();
      expect(
        (
          (await wallet()
            .sendAttempt(first)
            .catch((e: unknown) => e)) as PaymentTransportError
        ).code,
      ).to.equal("SendFailed");
      const second = attemptFor(secret, 1_000n, first.firstHopLock.expiry + 5n);
      const outcome = wallet().sendAttempt({ ...second, attempt: 1 });
      await until(() => f.transfers.length === 1, "the re-sent LOCK");
      expect(f.transfers[0].appData).to.equal(toHex(first.packet));
      expect(f.transfers[0].transfer.expiry).to.equal(first.firstHopLock.expiry);
      const say = (seq: number, body: { kind: "SECRET"; secret: Hash } | { kind: "FAIL"; failure: Hex }) =>
        f.log.sendPeerMessage(
          signPaymentMessage(BOB, DOMAIN, {
            channelId: CHANNEL,
            payer: 0,
            seq: BigInt(seq),
            hashlock: first.hashlock,
            ...body,
          }),
        );
      if (answer === "SECRET") {
        await say(1, { kind: "SECRET", secret });
        expect(await outcome).to.deep.equal({ settled: true, preimage: secret });
        expect(f.transfers.map((t) => t.transfer.kind)).to.deep.equal([
          TransferKind.Lock,
          TransferKind.Unlock,
        ]);
      } else {
        await say(1, { kind: "FAIL", failure: toHex(randomBytes(288)) });
        await until(() => f.transfers.length === 2, "the new attempt's LOCK");
        expect(f.transfers[1].transfer).to.include({ seq: 2, expiry: second.firstHopLock.expiry });
        expect(f.transfers[1].appData).to.equal(toHex(second.packet));
        await say(2, { kind: "SECRET", secret });
        expect(await outcome).to.deep.equal({ settled: true, preimage: secret });
      }
    });
  restart("SECRET");
  restart("FAIL");
});

describe("client: after a FAIL the payer releases its lock with the first hop's consent", () => {
  const setup = () => {
    const f = fakeLog();
    const journal = memoryJournal();
    const state = stateStore();
    const kept = new Map<string, Hex>();
    const packets = {
      get: async (c: Hash, seq: number) => kept.get(`${c}:${seq}`),
      put: async (c: Hash, seq: number, p: Hex) => void kept.set(`${c}:${seq}`, p),
    };
    const ignored: string[] = [];
    const wallet = () =>
      paymentTransport({
        signer: ALICE,
        journal,
        domain: DOMAIN,
        channel: { channelId: CHANNEL, payer: 0, counterparty: BOB.address },
        state,
        log: f.log,
        peer: CRYPTO,
        packets,
        now: () => NOW_MS,
        consentWaitMs: 300,
        onIgnored: (_, why) => ignored.push(why),
      });
    /** Bob's FAIL of the lock at seq 1, then (when `consentBy`) his CONSENT to the CANCEL at `cancelSeq`. */
    const bobFails = async (a: PaymentAttempt, consentBy = BOB, cancelSeq = 2) => {
      const lockRef = { channelId: CHANNEL, payer: 0 as const, seq: 1n, hashlock: a.hashlock };
      await f.log.sendPeerMessage(
        signPaymentMessage(BOB, DOMAIN, { ...lockRef, kind: "FAIL", failure: toHex(randomBytes(288)) }),
      );
      const lock = f.transfers[0].transfer;
      const cancel = buildTransfer(
        { ...state.current(), seq: cancelSeq - 1 },
        { channelId: CHANNEL, payer: 0 },
        { kind: "CANCEL", lock: { amount: lock.amount, expiry: lock.expiry, hashlock: lock.hashlock } },
      );
      const c = await signCancelConsent(consentBy, DOMAIN, cancel);
      await f.log.sendPeerMessage(
        signPaymentMessage(BOB, DOMAIN, {
          ...lockRef,
          kind: "CONSENT",
          consent: { seq: c.seq, transfer: c.transfer, signature: c.signature },
        }),
      );
    };
    return { f, journal, state, kept, ignored, wallet, bobFails };
  };

  it("FAIL then CONSENT: a CANCEL carrying the consent is sent at once and the lock is gone from the state", async () => {
    const s = setup();
    const a = attemptFor(toHex(randomBytes(32)) as Hash);
    const outcome = s.wallet().sendAttempt(a);
    await until(() => s.f.transfers.length === 1, "the LOCK");
    await s.bobFails(a);
    expect((await outcome).settled).to.equal(false);
    expect(s.f.transfers.map((t) => t.transfer.kind)).to.deep.equal([TransferKind.Lock, TransferKind.Cancel]);
    const cancel = s.f.transfers[1];
    expect(cancel.appKind).to.equal("CANCEL_CONSENT");
    // The consent it carries is Bob's, for exactly this CANCEL (what the node and the contract check).
    const consent = { ...cancelConsentOf(cancel.transfer), signature: cancel.appData };
    expect(cancelConsentSignedBy(DOMAIN, consent)).to.equal(BOB.address);
    expect(s.state.current()).to.include({ seq: 2, lockedTotal: 0n, paidTotal: 0n });
    expect(s.kept.get(`${CHANNEL}:2`)).to.equal(cancel.appData);
  });

  it("the CANCEL journaled with its consent but not sent (a crash) is sent again with the consent by resume()", async () => {
    const s = setup();
    const a = attemptFor(toHex(randomBytes(32)) as Hash);
    const outcome = s.wallet().sendAttempt(a);
    await until(() => s.f.transfers.length === 1, "the LOCK");
    s.f.failNext();
    await s.bobFails(a);
    expect((await outcome).settled).to.equal(false);
    expect(s.f.transfers).to.have.length(1); // the CANCEL's write failed
    expect(await s.wallet().resume()).to.equal(1);
    expect(s.f.transfers[1]).to.include({ appKind: "CANCEL_CONSENT", appData: s.kept.get(`${CHANNEL}:2`) });
    expect(s.state.current()).to.include({ seq: 2, lockedTotal: 0n });
  });

  const refused: [string, (s: ReturnType<typeof setup>, a: PaymentAttempt) => Promise<void>, RegExp][] = [
    ["signed by someone else than the first hop", (s, a) => s.bobFails(a, MALLORY), /not the first hop's/],
    ["naming another CANCEL (another seq)", (s, a) => s.bobFails(a, BOB, 3), /another CANCEL/],
  ];
  for (const [name, fail, why] of refused) {
    it(`a consent ${name} is ignored: no CANCEL, the lock stays until its expiry`, async () => {
      const s = setup();
      const a = attemptFor(toHex(randomBytes(32)) as Hash);
      const outcome = s.wallet().sendAttempt(a);
      await until(() => s.f.transfers.length === 1, "the LOCK");
      await fail(s, a);
      expect((await outcome).settled).to.equal(false);
      expect(s.f.transfers).to.have.length(1);
      expect(s.state.current()).to.include({ seq: 1, lockedTotal: 1_000n });
      expect(s.ignored.join("; ")).to.match(why);
    });
  }

  it("no consent within consentWaitMs: the attempt ends with the FAIL, the lock stays", async () => {
    const s = setup();
    const a = attemptFor(toHex(randomBytes(32)) as Hash);
    const outcome = s.wallet().sendAttempt(a);
    await until(() => s.f.transfers.length === 1, "the LOCK");
    await s.f.log.sendPeerMessage(
      signPaymentMessage(BOB, DOMAIN, {
        channelId: CHANNEL,
        payer: 0,
        seq: 1n,
        hashlock: a.hashlock,
        kind: "FAIL",
        failure: toHex(randomBytes(288)),
      }),
    );
    expect((await outcome).settled).to.equal(false);
    expect(s.f.transfers).to.have.length(1);
  });
});

describe("client: the payee answers routed LOCKs", () => {
  const invoiceOf = (secret: Hash, amount = 1_000n): IssuedInvoice => ({
    invoiceId: toHex(randomBytes(32)) as Hash,
    hashlock: hashlockOf(secret),
    secret,
    amount,
    expiry: NOW_S + 7_200n,
    minFinalExpiryDelta: 600,
  });
  const payload = (
    inv: IssuedInvoice,
    over: Partial<{ amount: bigint; expiry: bigint; totalAmount: bigint }> = {},
  ) => ({
    final: true as const,
    amount: inv.amount,
    expiry: NOW_S + 3_600n,
    totalAmount: inv.amount,
    paymentSecret: inv.invoiceId,
    ...over,
  });

  const table: [string, (inv: IssuedInvoice) => Parameters<typeof judgeFinalLock>, number | null][] = [
    ["the invoice's lock", (i) => [{ amount: 1_000n, expiry: NOW_S + 3_600n }, payload(i), i, NOW_S], null],
    [
      "an unknown hashlock",
      (i) => [{ amount: 1_000n, expiry: NOW_S + 3_600n }, payload(i), undefined, NOW_S],
      OnionFailureCode.UnknownPayment,
    ],
    [
      "another invoice id",
      (i) => [
        { amount: 1_000n, expiry: NOW_S + 3_600n },
        { ...payload(i), paymentSecret: ZERO_HASH },
        i,
        NOW_S,
      ],
      OnionFailureCode.UnknownPayment,
    ],
    [
      "a revealed invoice, expired since, with a late lock",
      (i) => [
        { amount: 1_000n, expiry: NOW_S + 7_300n },
        payload(i, { expiry: NOW_S + 7_300n }),
        { ...i, revealed: true },
        NOW_S + 7_200n,
      ],
      null,
    ],
    [
      "a revealed invoice paid too little",
      (i) => [
        { amount: 999n, expiry: NOW_S + 3_600n },
        payload(i, { amount: 999n }),
        { ...i, revealed: true },
        NOW_S,
      ],
      OnionFailureCode.IncorrectAmount,
    ],
    [
      "an expired invoice",
      (i) => [{ amount: 1_000n, expiry: NOW_S + 9_000n }, payload(i), i, NOW_S + 7_200n],
      OnionFailureCode.UnknownPayment,
    ],
    [
      "less than the invoice",
      (i) => [{ amount: 999n, expiry: NOW_S + 3_600n }, payload(i, { amount: 999n }), i, NOW_S],
      OnionFailureCode.IncorrectAmount,
    ],
    [
      "less than the onion says",
      (i) => [{ amount: 1_000n, expiry: NOW_S + 3_600n }, payload(i, { amount: 1_001n }), i, NOW_S],
      OnionFailureCode.IncorrectAmount,
    ],
    [
      "a total other than the invoice",
      (i) => [{ amount: 1_000n, expiry: NOW_S + 3_600n }, payload(i, { totalAmount: 2_000n }), i, NOW_S],
      OnionFailureCode.IncorrectAmount,
    ],
    [
      "an expiry below the onion's",
      (i) => [{ amount: 1_000n, expiry: NOW_S + 3_599n }, payload(i), i, NOW_S],
      OnionFailureCode.ExpiryTooSoon,
    ],
    [
      "an expiry inside minFinalExpiryDelta",
      (i) => [{ amount: 1_000n, expiry: NOW_S + 599n }, payload(i, { expiry: NOW_S + 599n }), i, NOW_S],
      OnionFailureCode.ExpiryTooSoon,
    ],
  ];
  for (const [name, args, code] of table) {
    it(`judgeFinalLock: ${name} → ${code === null ? "reveal" : `code ${code}`}`, () => {
      const inv = invoiceOf(toHex(randomBytes(32)) as Hash);
      const r = judgeFinalLock(...args(inv));
      expect(r?.code ?? null).to.equal(code);
      if (r) expect(r.reason).to.be.a("string").and.not.equal("");
    });
  }

  /** Alice's routed LOCK to Bob (the payee) carrying `amount`, on the fake log; returns the onion's secrets. */
  const aliceLocks = async (
    log: PaymentLog,
    inv: IssuedInvoice,
    amount: bigint,
    signer = ALICE,
  ): Promise<{ secrets: readonly Uint8Array[]; transfer: SignedTransfer }> => {
    const expiry = NOW_S + 3_600n;
    const { packet, sharedSecrets } = createOnion({
      hops: [{ nodePublicKey: onionPublicKey(key(0xb2)), payload: payload(inv, { amount }) }],
      associatedData: inv.hashlock,
    });
    const t = buildTransfer(
      GENESIS_STATE,
      { channelId: CHANNEL, payer: 0 },
      { kind: "LOCK", amount, expiry, hashlock: inv.hashlock },
    );
    const transfer = signTransferUnjournaled(signer, DOMAIN, t);
    await log.sendTransfer(transfer, { packet: toHex(packet) });
    return { secrets: sharedSecrets, transfer };
  };

  const run = (invoices: IssuedInvoice[]) => {
    const f = fakeLog();
    const sub = receivePayments({
      signer: BOB,
      onionKey: key(0xb2),
      domain: DOMAIN,
      channels: [{ channelId: CHANNEL, payer: 0, counterparty: ALICE.address, counterpartyDeposit: 5_000n }],
      invoices: {
        lookup: async (h) => invoices.find((i) => i.hashlock === h),
        markRevealed: async (h) => {
          const i = invoices.findIndex((x) => x.hashlock === h);
          invoices[i] = { ...invoices[i], revealed: true };
        },
      },
      log: f.log,
      peer: CRYPTO,
      now: () => NOW_MS,
    });
    return { f, sub };
  };

  it("a LOCK that pays the invoice → a SECRET signed by the payee", async () => {
    const inv = invoiceOf(toHex(randomBytes(32)) as Hash);
    const { f, sub } = run([inv]);
    await aliceLocks(f.log, inv, 1_000n);
    await until(() => f.messages.length === 1, "the payee's answer");
    const [m] = f.messages;
    verifyPaymentMessage(m, DOMAIN, BOB.address);
    expect(m).to.include({ kind: "SECRET", secret: inv.secret, seq: 1n, payer: 0, channelId: CHANNEL });
    sub.stop();
    // Restarted after the invoice expired: the replayed LOCK gets the secret again, not a failure.
    const later = receivePayments({
      signer: BOB,
      onionKey: key(0xb2),
      domain: DOMAIN,
      channels: [{ channelId: CHANNEL, payer: 0, counterparty: ALICE.address, counterpartyDeposit: 5_000n }],
      invoices: { lookup: async () => ({ ...inv, revealed: true }), markRevealed: async () => undefined },
      log: f.log,
      peer: CRYPTO,
      now: () => NOW_MS + 10_000_000,
    });
    await until(() => f.messages.length === 2, "the replayed answer");
    expect(f.messages[1]).to.include({ kind: "SECRET", secret: inv.secret });
    later.stop();
  });

  it("LOCKs that reach the log out of order (seq 2 before seq 1) are both answered once the gap fills", async () => {
    const [first, second] = [0, 1].map(() => invoiceOf(toHex(randomBytes(32)) as Hash));
    const { f, sub } = run([first, second]);
    const lockOf = (inv: IssuedInvoice, state: typeof GENESIS_STATE) => {
      const { packet } = createOnion({
        hops: [{ nodePublicKey: onionPublicKey(key(0xb2)), payload: payload(inv) }],
        associatedData: inv.hashlock,
      });
      const t = buildTransfer(
        state,
        { channelId: CHANNEL, payer: 0 },
        { kind: "LOCK", amount: inv.amount, expiry: NOW_S + 3_600n, hashlock: inv.hashlock },
      );
      return { t, packet: toHex(packet) };
    };
    const one = lockOf(first, GENESIS_STATE);
    const two = lockOf(second, applyTransfer(GENESIS_STATE, one.t));
    await f.log.sendTransfer(signTransferUnjournaled(ALICE, DOMAIN, two.t), { packet: two.packet });
    await new Promise((r) => setTimeout(r, 50));
    expect(f.messages).to.have.length(0); // seq 2 waits for seq 1
    await f.log.sendTransfer(signTransferUnjournaled(ALICE, DOMAIN, one.t), { packet: one.packet });
    await until(() => f.messages.length === 2, "both answers");
    expect(f.messages.map((m) => [m.seq, m.kind === "SECRET" && m.secret])).to.deep.equal([
      [1n, first.secret],
      [2n, second.secret],
    ]);
    sub.stop();
  });

  it("a LOCK for less → a FAIL the payer reads as IncorrectAmount at the payee", async () => {
    const inv = invoiceOf(toHex(randomBytes(32)) as Hash);
    const { f, sub } = run([inv]);
    const { secrets } = await aliceLocks(f.log, inv, 900n);
    await until(() => f.messages.length === 1, "the payee's answer");
    const [m] = f.messages;
    verifyPaymentMessage(m, DOMAIN, BOB.address);
    expect(m.kind).to.equal("FAIL");
    const read = decodeFailure(secrets, (m as { failure: Hex }).failure);
    expect(read).to.include({ hop: 0, code: OnionFailureCode.IncorrectAmount });
    // Then the payee's consent to the CANCEL right after the LOCK: the payer can release at once.
    await until(() => f.messages.length === 2, "the payee's consent");
    const c = f.messages[1];
    verifyPaymentMessage(c, DOMAIN, BOB.address);
    if (c.kind !== "CONSENT") throw new Error(`expected a CONSENT, got ${c.kind}`);
    const lock = f.transfers[0].transfer;
    const cancel = buildTransfer(
      applyTransfer(GENESIS_STATE, lock),
      { channelId: CHANNEL, payer: 0 },
      { kind: "CANCEL", lock: { amount: lock.amount, expiry: lock.expiry, hashlock: lock.hashlock } },
    );
    expect(c.consent).to.include({ seq: 2, transfer: hashTransfer(cancel) });
    expect(
      cancelConsentSignedBy(DOMAIN, { ...cancelConsentOf(cancel), signature: c.consent.signature }),
    ).to.equal(BOB.address);
    sub.stop();
  });

  it("a LOCK its payer's deposit does not back → a FAIL (TemporaryFailure), the secret kept", async () => {
    const inv = invoiceOf(toHex(randomBytes(32)) as Hash, 6_000n);
    const { f, sub } = run([inv]);
    const { secrets } = await aliceLocks(f.log, inv, 6_000n);
    await until(() => f.messages.length === 1, "the payee's answer");
    const [m] = f.messages;
    expect(m.kind).to.equal("FAIL");
    expect(decodeFailure(secrets, (m as { failure: Hex }).failure)).to.include({
      hop: 0,
      code: OnionFailureCode.TemporaryFailure,
    });
    sub.stop();
  });

  it("a LOCK whose onion does not open with the payee's key is not answered (reported as unanswered)", async () => {
    const inv = invoiceOf(toHex(randomBytes(32)) as Hash);
    const f = fakeLog();
    const events: PayeeEvent[] = [];
    const sub = receivePayments({
      signer: BOB,
      onionKey: key(0xb3), // not the key the onion was made for
      domain: DOMAIN,
      channels: [{ channelId: CHANNEL, payer: 0, counterparty: ALICE.address, counterpartyDeposit: 5_000n }],
      invoices: { lookup: async () => inv, markRevealed: async () => undefined },
      log: f.log,
      peer: CRYPTO,
      now: () => NOW_MS,
      onEvent: (e) => events.push(e),
    });
    await aliceLocks(f.log, inv, 1_000n);
    await until(() => events.length === 1, "the payee's event");
    expect(events[0]).to.include({ kind: "unanswered", seq: 1 });
    expect(f.messages).to.have.length(0);
    sub.stop();
  });

  it("a LOCK not signed by the counterparty is not answered", async () => {
    const inv = invoiceOf(toHex(randomBytes(32)) as Hash);
    const { f, sub } = run([inv]);
    await aliceLocks(f.log, inv, 1_000n, MALLORY);
    await new Promise((r) => setTimeout(r, 30));
    expect(f.messages).to.have.length(0);
    sub.stop();
  });
});
