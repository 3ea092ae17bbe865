/**
 * The mediator service (protocol §11.5) with fake ports and a fake clock, no Kafka or chain: a book of
 * payments that becomes durable only when the test "flushes", a channel view whose chain the test
 * advances, and recorders for what the service signs, sends and registers. Each scenario is a table of
 * steps; the service must act only on journaled entries and never sign a second transfer for a seq.
 */
import { expect } from "chai";
import {
  type Address,
  applyTransfer,
  createFailure,
  decodeFailure,
  GENESIS_STATE,
  type Hash,
  type Hex,
  type Lock,
  OnionFailureCode,
  peelOnion,
  type PayerState,
  type PaymentMessageBody,
  type PaymentMessageLock,
  type Transfer,
  TransferKind,
  toHex,
} from "../../sdk";
import {
  hashCancelConsent,
  hashTransfer,
  locksRootOf,
  parsecDomain,
  typedDataDigest,
} from "../../sdk/src/eip712";
import { localSigner, recoverSigner } from "../../sdk/src/sign";
import { buildTransfer, cancelConsentOf, signCancelConsent, type SignedCancelConsent } from "../../sdk";
import { silentLogger } from "../../relayer/src/log";
import {
  decodeMediation,
  encodeMediation,
  type InboxEntry,
  type PaymentEntry,
} from "../../relayer/src/mediate/entry";
import { isTerminal } from "../../relayer/src/mediate/log";
import {
  MediationService,
  type PayerChannel,
  type PaymentBook,
  ROUTE_APP_KIND,
} from "../../relayer/src/mediate/service";
import {
  ASSET,
  BOB_KEY,
  CAROL_KEY,
  HASHLOCK,
  IN_AMOUNT,
  IN_CH,
  IN_EXPIRY,
  OUT_AMOUNT,
  OUT_CH,
  OUT_EXPIRY,
  POLICY,
  SECRET,
  T0,
  twoHopOnion as onion,
} from "./mediate-fixtures";

const DOMAIN = parsecDomain(31337n, `0x${"c0".repeat(20)}` as Address);
const CAROL = localSigner(CAROL_KEY);
const BOB = localSigner(BOB_KEY);

interface Sent {
  readonly transfer: Transfer;
  readonly appKind?: string;
  readonly appData?: Hex;
}

/** A fake node around one service: the book, the outgoing channel, and what was sent. */
class World {
  now = T0;
  nowMs = 0;
  readonly entries = new Map<string, PaymentEntry>();
  durable = new Map<string, PaymentEntry>();
  outState: PayerState = GENESIS_STATE;
  available = 10_000_000n;
  readonly inbox = new Map<string, InboxEntry>();
  readonly transfers: Sent[] = [];
  readonly messages: { lock: PaymentMessageLock; body: PaymentMessageBody }[] = [];
  readonly registrations: Hash[] = [];
  /** The upstream's chain in the incoming channel: its LOCK (seq 7) pending. */
  inState: PayerState = {
    seq: 7,
    head: `0x${"77".repeat(32)}` as Hash,
    paidTotal: 0n,
    lockedTotal: IN_AMOUNT,
    locksRoot: locksRootOf([{ amount: IN_AMOUNT, expiry: IN_EXPIRY, hashlock: HASHLOCK }]),
    locks: [{ amount: IN_AMOUNT, expiry: IN_EXPIRY, hashlock: HASHLOCK }],
  };
  registration: Promise<bigint> | null = null;
  /** The registry's `secretRevealedAt` of the hashlock (0: not registered). */
  revealedAt = 0n;
  service = this.newService();
  readonly sharedSecrets: readonly Uint8Array[];
  readonly packet: Hex;

  constructor() {
    const o = onion();
    this.packet = o.packet;
    this.sharedSecrets = o.sharedSecrets;
  }

  newService(): MediationService {
    return new MediationService({
      policy: POLICY,
      logger: silentLogger,
      resendAfterMs: 1_000,
      ports: {
        chainNow: () => this.now,
        nowMs: () => this.nowMs,
        chainSeenThrough: () => this.now,
        channel: (id) => (id === OUT_CH ? this.outChannel() : null),
        sendTransfer: async (transfer, extra) => {
          this.transfers.push({ transfer, ...extra });
        },
        sendMessage: async (lock, body) => {
          this.messages.push({ lock, body });
        },
        registerSecret: (_id, secret) => {
          this.registrations.push(secret);
          this.registration = Promise.resolve(this.now);
          return this.registration;
        },
        incomingState: (id, payer) => (id === IN_CH && payer === 0 ? this.inState : null),
        signCancelConsent: async (cancel) => (await signCancelConsent(BOB, DOMAIN, cancel)).signature,
        // The outgoing lock's payee is Carol.
        secretRevealedAt: async () => this.revealedAt,
        validCancelConsent: (c) =>
          recoverSigner(typedDataDigest(DOMAIN, hashCancelConsent(c)), c.signature) === CAROL.address,
      },
    });
  }

  outChannel(): PayerChannel {
    return {
      payer: 0,
      state: this.outState,
      durableSeq: this.outState.seq,
      view: {
        channelId: OUT_CH,
        asset: ASSET,
        status: "OPEN",
        disabled: false,
        available: this.available - this.outState.lockedTotal - this.outState.paidTotal,
        pendingLocks: this.outState.locks.length,
      },
      messages: (seq) => [...this.inbox.values()].filter((m) => m.seq === seq),
    };
  }

  get book(): PaymentBook {
    return {
      channelId: IN_CH,
      entries: () => this.entries.entries(),
      live: () => [...this.entries].filter(([, e]) => !isTerminal(e.record)),
      get: (k) => this.entries.get(k),
      isDurable: (k, e) => this.durable.get(k) === e,
      put: (k, e) => void this.entries.set(k, e),
      delete: (k) => void this.entries.delete(k),
    };
  }

  receive(): PaymentEntry | null {
    return this.service.receive(this.book, {
      incoming: {
        channelId: IN_CH,
        asset: ASSET,
        payerSeq: 7n,
        hashlock: HASHLOCK,
        amount: IN_AMOUNT,
        expiry: IN_EXPIRY,
      },
      upstream: 0,
      packet: this.packet,
      routingKey: BOB_KEY,
    });
  }

  flush(): void {
    this.durable = new Map(this.entries);
  }

  async step(): Promise<void> {
    this.service.setBooks([this.book]);
    await this.service.step(this.book);
  }

  /** Steps and flushes until nothing changes (the node's ticks between flushes). */
  async settle(rounds = 8): Promise<void> {
    for (let i = 0; i < rounds; i++) {
      await this.step();
      this.flush();
      await this.registration;
    }
  }

  /** The outgoing channel applies the mediator's transfers sent so far (the node consumed them). */
  applySent(): void {
    for (const s of this.transfers) {
      if (s.transfer.seq === this.outState.seq + 1) {
        this.outState = applyTransfer(this.outState, s.transfer, { hash: hashTransfer(s.transfer) });
      }
    }
  }

  /** A restart: a new service over the book restored from what was durable (through its encoding). */
  restart(): void {
    const restored = decodeMediation(encodeMediation({ payments: this.durable, inbox: new Map() }));
    this.entries.clear();
    for (const [k, e] of restored.payments) this.entries.set(k, e);
    this.durable = new Map(this.entries);
    this.service = this.newService();
    this.nowMs += 60_000;
  }

  get entry(): PaymentEntry {
    return [...this.entries.values()][0];
  }

  /** Carol consents to the CANCEL of her lock built on the outgoing chain as it is now (by `signer`). */
  async carolConsents(signer = CAROL, seq = this.outState.seq + 1): Promise<SignedCancelConsent> {
    const lockSeq = Number(outgoingSeq(this.entry));
    const cancel = buildTransfer(
      this.outState,
      { channelId: OUT_CH, payer: 0 },
      { kind: "CANCEL", lock: LOCK },
    );
    const c = await signCancelConsent(signer, DOMAIN, { ...cancel, seq });
    this.inbox.set(`0/${lockSeq}/CONSENT`, {
      kind: "CONSENT",
      seq: lockSeq,
      consent: { seq: c.seq, transfer: c.transfer, signature: c.signature },
      at: this.now,
    });
    return c;
  }

  carolSays(kind: "SECRET" | "FAIL", at = this.now): void {
    const seq = Number(this.entry.op?.seq ?? 1);
    if (kind === "SECRET") this.inbox.set(`0/${seq}/SECRET`, { kind, seq, secret: SECRET, at });
    else {
      const { sharedSecret } = peelOnion(
        peelOnion(this.packet, BOB_KEY, HASHLOCK).next as Uint8Array,
        CAROL_KEY,
        HASHLOCK,
      );
      const failure = toHex(createFailure(sharedSecret, { code: OnionFailureCode.UnknownPayment }));
      this.inbox.set(`0/${seq}/FAIL`, { kind, seq, failure, at });
    }
  }
}

const LOCK: Lock = { amount: OUT_AMOUNT, expiry: OUT_EXPIRY, hashlock: HASHLOCK };

function outgoingSeq(e: PaymentEntry): bigint {
  const p = e.record;
  if (p.state === "FAILED_DOWNSTREAM" || p.state === "CANCELLED_UPSTREAM")
    return p.outgoing?.lock.payerSeq ?? 0n;
  return p.state === "RECEIVED" ? 0n : p.outgoing.payerSeq;
}

describe("relayer unit: mediation service (fake ports)", () => {
  it("forwards once: journals FORWARDED before signing; replays and re-steps never sign a second LOCK", async () => {
    const w = new World();
    type Row = [string, () => void | Promise<void>, () => void];
    const rows: Row[] = [
      [
        "receive: RECEIVED, nothing signed",
        () => void w.receive(),
        () => expect(w.entry.record.state).to.equal("RECEIVED"),
      ],
      [
        // A decision that only journals does not wait: it commits in the flush that holds RECEIVED.
        "step before the flush: FORWARDED journaled (seq 1), nothing signed",
        () => w.step(),
        () => {
          expect(w.entry.record.state).to.equal("FORWARDED");
          expect(w.entry.op).to.deep.equal({ kind: "LOCK", seq: 1 });
          expect(w.transfers).to.have.length(0);
        },
      ],
      ["step again unflushed: nothing", () => w.step(), () => expect(w.transfers).to.have.length(0)],
      [
        "flush, step: the LOCK is signed",
        async () => {
          w.flush();
          await w.step();
        },
        () => expect(w.transfers).to.have.length(1),
      ],
      [
        "a replayed RECEIVED (same LOCK) changes nothing",
        () => void w.receive(),
        () => expect(w.entries.size).to.equal(1),
      ],
      [
        "steps within the re-send interval: nothing more",
        async () => {
          await w.step();
          await w.step();
        },
        () => expect(w.transfers).to.have.length(1),
      ],
      [
        "after the interval, not yet applied: the same LOCK again",
        async () => {
          w.nowMs += 5_000;
          await w.step();
        },
        () => {
          expect(w.transfers).to.have.length(2);
          expect(hashTransfer(w.transfers[1].transfer)).to.equal(hashTransfer(w.transfers[0].transfer));
        },
      ],
      [
        "applied: LOCK_DELIVERED; no more sends",
        async () => {
          w.applySent();
          w.nowMs += 60_000;
          await w.settle();
        },
        () => {
          expect(w.entry.record).to.include({ state: "FORWARDED", delivered: true });
          expect(w.entry.op).to.equal(null);
          expect(w.transfers).to.have.length(2);
        },
      ],
    ];
    for (const [, act, check] of rows) {
      await act();
      check();
    }
    const t = w.transfers[0];
    expect(t.transfer).to.include({ channelId: OUT_CH, payer: 0, seq: 1, kind: TransferKind.Lock });
    expect(t.transfer).to.include({ amount: OUT_AMOUNT, expiry: OUT_EXPIRY, hashlock: HASHLOCK });
    expect(t.appKind).to.equal(ROUTE_APP_KIND);
    // Carol can open the packet the mediator forwarded, under the same hashlock.
    const peeled = peelOnion(t.appData as Hex, CAROL_KEY, HASHLOCK);
    expect(peeled.final).to.equal(true);
  });

  type Refusal = [string, (w: World) => void, number];
  const refusals: Refusal[] = [
    ["too little capacity", (w) => (w.available = OUT_AMOUNT - 1n), OnionFailureCode.InsufficientCapacity],
    [
      "too little time before the outgoing expiry",
      (w) => (w.now = OUT_EXPIRY),
      OnionFailureCode.ExpiryTooSoon,
    ],
  ];
  for (const [name, setup, code] of refusals) {
    it(`refuses (${name}): journals REFUSED, then sends the payer a failure it reads as code ${code}`, async () => {
      const w = new World();
      setup(w);
      w.receive();
      await w.settle();
      expect(w.transfers).to.have.length(0);
      expect(w.entry.record.state).to.equal("FAILED_DOWNSTREAM");
      // No outgoing lock was signed: the consent to the upstream's CANCEL follows the failure at once.
      expect(w.messages.map((m) => m.body.kind)).to.deep.equal(["FAIL", "CONSENT"]);
      const { lock, body } = w.messages[0];
      expect(lock).to.deep.equal({ channelId: IN_CH, payer: 0, seq: 7n, hashlock: HASHLOCK });
      expect(body.kind).to.equal("FAIL");
      const read = decodeFailure(w.sharedSecrets, (body as { failure: Hex }).failure);
      expect(read).to.include({ hop: 0, code });
    });
  }

  it("a downstream failure releases both locks: the failure goes upstream at once, the CANCEL after the expiry", async () => {
    const w = new World();
    w.receive();
    await w.settle();
    w.applySent();
    await w.settle();
    w.carolSays("FAIL");
    await w.settle();
    expect(w.entry.record.state).to.equal("FAILED_DOWNSTREAM");
    expect(w.messages.map((m) => m.body.kind)).to.deep.equal(["FAIL"]);
    const read = decodeFailure(w.sharedSecrets, (w.messages[0].body as { failure: Hex }).failure);
    expect(read).to.include({ hop: 1, code: OnionFailureCode.UnknownPayment });
    expect(w.transfers).to.have.length(1); // no CANCEL before the outgoing expiry without Carol's consent (§3)
    w.now = OUT_EXPIRY + 1n;
    await w.settle();
    // The CANCEL is signed, not applied yet: no consent upstream while Carol could still claim the lock.
    expect(w.messages.map((m) => m.body.kind)).to.deep.equal(["FAIL"]);
    expect(w.transfers[1].appKind).to.equal(undefined);
    expect(w.transfers.map((s) => s.transfer.kind)).to.deep.equal([TransferKind.Lock, TransferKind.Cancel]);
    expect(w.transfers[1].transfer).to.include({ seq: 2, amount: OUT_AMOUNT, hashlock: HASHLOCK });
    w.applySent();
    await w.settle();
    expect(w.messages.map((m) => m.body.kind)).to.deep.equal(["FAIL", "CONSENT"]);
    w.service.resolved(w.book, 0, { amount: IN_AMOUNT, expiry: IN_EXPIRY, hashlock: HASHLOCK }, "CANCEL");
    await w.settle();
    expect(w.entry.record.state).to.equal("CANCELLED_UPSTREAM");
  });

  it("with Carol's consent both locks go at once: the CANCEL carries it before the expiry, Bob consents upstream only once it is applied", async () => {
    const w = new World();
    w.receive();
    await w.settle();
    w.applySent();
    await w.settle();
    w.carolSays("FAIL");
    const c = await w.carolConsents();
    await w.settle();
    expect(w.now < OUT_EXPIRY).to.equal(true);
    expect(w.transfers.map((s) => s.transfer.kind)).to.deep.equal([TransferKind.Lock, TransferKind.Cancel]);
    expect(w.transfers[1]).to.include({ appKind: "CANCEL_CONSENT", appData: c.signature });
    expect(hashTransfer(w.transfers[1].transfer)).to.equal(c.transfer);
    // Signed and sent, not applied: Carol's lock is not released yet, so no consent upstream.
    expect(w.messages.map((m) => m.body.kind)).to.deep.equal(["FAIL"]);
    w.applySent();
    await w.settle();
    expect(w.messages.map((m) => m.body.kind)).to.deep.equal(["FAIL", "CONSENT"]);
    const { consent } = w.messages[1].body as Extract<PaymentMessageBody, { kind: "CONSENT" }>;
    const upstreamCancel = buildTransfer(
      w.inState,
      { channelId: IN_CH, payer: 0 },
      { kind: "CANCEL", lock: { amount: IN_AMOUNT, expiry: IN_EXPIRY, hashlock: HASHLOCK } },
    );
    expect(consent.seq).to.equal(8);
    expect(consent.transfer).to.equal(hashTransfer(upstreamCancel));
    const named = { ...cancelConsentOf(upstreamCancel), signature: consent.signature };
    expect(recoverSigner(typedDataDigest(DOMAIN, hashCancelConsent(named)), named.signature)).to.equal(
      BOB.address,
    );
    w.service.resolved(w.book, 0, { amount: IN_AMOUNT, expiry: IN_EXPIRY, hashlock: HASHLOCK }, "CANCEL");
    await w.settle();
    expect(w.entry.record.state).to.equal("CANCELLED_UPSTREAM");
  });

  const noConsent: [string, (w: World) => Promise<unknown>][] = [
    ["no consent", async () => undefined],
    ["a consent forged by Bob himself", (w) => w.carolConsents(BOB)],
    ["a stale consent (another seq)", (w) => w.carolConsents(CAROL, w.outState.seq + 2)],
  ];
  for (const [name, consent] of noConsent) {
    it(`a FAIL with ${name}: the CANCEL waits for the expiry, and nothing is consented upstream until it is applied`, async () => {
      const w = new World();
      w.receive();
      await w.settle();
      w.applySent();
      await w.settle();
      w.carolSays("FAIL");
      await consent(w);
      await w.settle();
      w.now = OUT_EXPIRY;
      await w.settle();
      expect(w.transfers).to.have.length(1);
      expect(w.messages.map((m) => m.body.kind)).to.deep.equal(["FAIL"]);
      w.now = OUT_EXPIRY + 1n;
      await w.settle();
      expect(w.transfers.map((s) => s.appKind)).to.deep.equal([ROUTE_APP_KIND, undefined]);
      expect(w.messages.map((m) => m.body.kind)).to.deep.equal(["FAIL"]);
      w.applySent();
      await w.settle();
      expect(w.messages.map((m) => m.body.kind)).to.deep.equal(["FAIL", "CONSENT"]);
    });
  }

  it("a downstream that FAILs, then registers the secret on-chain by the expiry: Bob's plain CANCEL does not count, so he never consents upstream", async () => {
    const w = new World();
    w.receive();
    await w.settle();
    w.applySent();
    await w.settle();
    w.carolSays("FAIL");
    await w.settle();
    w.revealedAt = OUT_EXPIRY - 5n;
    w.now = OUT_EXPIRY + 1n;
    await w.settle();
    w.applySent();
    await w.settle();
    expect(w.transfers.map((s) => s.transfer.kind)).to.deep.equal([TransferKind.Lock, TransferKind.Cancel]);
    expect(w.entry.record).to.deep.include({ state: "FAILED_DOWNSTREAM" });
    w.now += 3_600n;
    await w.settle();
    expect(w.messages.map((m) => m.body.kind)).to.deep.equal(["FAIL"]);
    // A registration after the expiry does not undo the CANCEL: then the consent goes.
    w.revealedAt = OUT_EXPIRY + 1n;
    await w.settle();
    expect(w.messages.map((m) => m.body.kind)).to.deep.equal(["FAIL", "CONSENT"]);
  });

  it("the secret shown: UNLOCK downstream, then the secret upstream with the UNLOCK asked; the upstream UNLOCK settles", async () => {
    const w = new World();
    w.receive();
    await w.settle();
    w.applySent();
    w.carolSays("SECRET");
    await w.settle();
    const kinds = w.transfers.map((s) => s.transfer.kind);
    expect(kinds).to.deep.equal([TransferKind.Lock, TransferKind.Unlock]);
    expect(applyTransfer(w.outState, w.transfers[1].transfer).paidTotal).to.equal(OUT_AMOUNT);
    w.applySent();
    await w.settle();
    expect(w.messages).to.deep.equal([
      {
        lock: { channelId: IN_CH, payer: 0, seq: 7n, hashlock: HASHLOCK },
        body: { kind: "SECRET", secret: SECRET },
      },
    ]);
    w.service.resolved(w.book, 0, { amount: IN_AMOUNT, expiry: IN_EXPIRY, hashlock: HASHLOCK }, "UNLOCK");
    await w.settle();
    expect(w.entry.record).to.include({ state: "SETTLED_UPSTREAM", via: "unlock", downstream: "unlocked" });
    expect(w.registrations).to.have.length(0);
  });

  it("the upstream withholds the UNLOCK: registers the secret once, at e_in − m, before e_in", async () => {
    const w = new World();
    w.receive();
    await w.settle();
    w.applySent();
    w.carolSays("SECRET");
    await w.settle();
    w.applySent();
    await w.settle();
    w.now = IN_EXPIRY - POLICY.minConfirmationMarginSeconds - 1n;
    await w.settle();
    expect(w.registrations).to.have.length(0);
    w.now = IN_EXPIRY - POLICY.minConfirmationMarginSeconds;
    await w.settle();
    expect(w.registrations).to.deep.equal([SECRET]);
    expect(w.entry.record).to.include({ state: "SETTLED_UPSTREAM", via: "onchain" });
  });

  type Crash = [string, (w: World) => Promise<void>];
  const crashes: Crash[] = [
    [
      "after FORWARDED was journaled, before the LOCK was signed",
      async (w) => {
        w.receive();
        w.flush();
        await w.step();
        w.flush();
      },
    ],
    [
      "after the LOCK was signed, before it was applied",
      async (w) => {
        w.receive();
        w.flush();
        await w.step();
        w.flush();
        await w.step();
        expect(w.transfers).to.have.length(1);
      },
    ],
  ];
  for (const [name, before] of crashes) {
    it(`a restart ${name} resumes with the same LOCK (same seq, same hash), never a second one`, async () => {
      const w = new World();
      await before(w);
      const first = w.transfers.map((s) => hashTransfer(s.transfer));
      w.restart();
      await w.settle();
      w.applySent();
      await w.settle();
      const hashes = new Set([...first, ...w.transfers.map((s) => hashTransfer(s.transfer))]);
      expect(hashes.size).to.equal(1);
      expect(w.entry.record).to.include({ state: "FORWARDED", delivered: true });
      expect(w.outState.seq).to.equal(1);
      expect(w.outState.locks).to.deep.equal([LOCK]);
    });
  }

  it("a restart while registering re-registers (the earlier outcome is unknown)", async () => {
    const w = new World();
    w.receive();
    await w.settle();
    w.applySent();
    w.carolSays("SECRET");
    await w.settle();
    w.applySent();
    await w.settle();
    w.now = IN_EXPIRY - POLICY.minConfirmationMarginSeconds;
    let resolve!: (v: bigint) => void;
    w.service = w.newService();
    const ports = (w.service as unknown as { deps: { ports: { registerSecret: unknown } } }).deps.ports;
    ports.registerSecret = (_id: Hash, secret: Hash) => {
      w.registrations.push(secret);
      return new Promise<bigint>((r) => (resolve = r));
    };
    await w.step();
    w.flush();
    expect(w.entry.record.state).to.equal("REGISTERING_SECRET");
    w.restart();
    await w.settle();
    expect(w.registrations).to.deep.equal([SECRET, SECRET]);
    expect(w.entry.record).to.include({ state: "SETTLED_UPSTREAM", via: "onchain" });
    resolve(0n);
  });

  it("a forward onto a channel whose partition is not ready waits (up to 60 s), then is refused", async () => {
    const w = new World();
    let ready = false;
    const ports = (w.service as unknown as { deps: { ports: Record<string, unknown> } }).deps.ports;
    const channel = ports.channel as (id: Hash) => PayerChannel | null;
    ports.channel = (id: Hash) => (ready ? channel(id) : null);
    ports.pending = () => !ready;
    w.receive();
    await w.settle();
    expect(w.entry.record.state).to.equal("RECEIVED");
    ready = true;
    await w.settle();
    expect(w.entry.record.state).to.equal("FORWARDED");
    const late = new World();
    const lp = (late.service as unknown as { deps: { ports: Record<string, unknown> } }).deps.ports;
    lp.channel = () => null;
    lp.pending = () => true;
    late.receive();
    await late.settle();
    expect(late.entry.record.state).to.equal("RECEIVED");
    late.now += 60n;
    await late.settle();
    expect(late.entry.record.state).to.equal("FAILED_DOWNSTREAM");
  });

  it("an onion that does not open is refused as InvalidOnion (an unreadable failure upstream)", async () => {
    const w = new World();
    const bad = `${w.packet.slice(0, -2)}00` as Hex;
    (w as unknown as { packet: Hex }).packet = bad;
    w.receive();
    await w.settle();
    expect(w.entry.record.state).to.equal("FAILED_DOWNSTREAM");
    // Nothing was signed downstream: the consent to the upstream's CANCEL follows at once.
    expect(w.messages.map((m) => m.body.kind)).to.deep.equal(["FAIL", "CONSENT"]);
    expect(() => decodeFailure(w.sharedSecrets, (w.messages[0].body as { failure: Hex }).failure)).to.throw();
  });
});
