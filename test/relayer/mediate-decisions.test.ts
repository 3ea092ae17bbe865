/**
 * The mediator's decisions as tables (protocol §11.5), without Kafka or a chain: forwarding rules at their
 * boundaries, the decision log's replay, and the adversaries of routed payments against a small simulated
 * world with a fake clock, where the mediator's balance change is computed as settlement would pay it.
 */
import { expect } from "chai";
import { type Address, type Hash, OnionFailureCode, forwardingFee } from "../../sdk";
import { loadConfig } from "../../relayer/src/config";
import { ConfigError } from "../../relayer/src/errors";
import {
  applyEvent,
  checkMediationPolicy,
  decideForward,
  decideNext,
  mediationPolicy,
  replay,
  startPayment,
  type ForwardInstructions,
  type ForwardedPayment,
  type IncomingLock,
  type MediationAction,
  type MediationEvent,
  type MediationView,
  type OutgoingChannelView,
} from "../../relayer/src/mediate";

import {
  ASSET,
  FEE,
  HASHLOCK,
  IN_CH,
  OUT_AMOUNT,
  OUT_CH,
  OUT_EXPIRY,
  POLICY,
  SECRET,
  T0,
} from "./mediate-fixtures";

const INSTRUCTIONS: ForwardInstructions = { nextChannel: OUT_CH, amount: OUT_AMOUNT, expiry: OUT_EXPIRY };
const INCOMING: IncomingLock = {
  channelId: IN_CH,
  asset: ASSET,
  payerSeq: 7n,
  hashlock: HASHLOCK,
  amount: OUT_AMOUNT + FEE,
  expiry: OUT_EXPIRY + POLICY.expiryDelta,
};
const CHANNEL: OutgoingChannelView = {
  channelId: OUT_CH,
  asset: ASSET,
  status: "OPEN",
  disabled: false,
  available: OUT_AMOUNT,
  pendingLocks: POLICY.maxPendingLocks - 1,
};

describe("relayer unit: mediation decisions", () => {
  describe("decideForward: every rule at its boundary", () => {
    type Row = [
      string,
      Partial<IncomingLock>,
      Partial<OutgoingChannelView> | null,
      Partial<ForwardInstructions>,
      number | null,
    ];
    const rows: Row[] = [
      ["amount exactly forwarded + fee → forward", {}, {}, {}, null],
      [
        "one wei less → FeeInsufficient",
        { amount: OUT_AMOUNT + FEE - 1n },
        {},
        {},
        OnionFailureCode.FeeInsufficient,
      ],
      ["expiry exactly outgoing + delta → forward", {}, {}, {}, null],
      [
        "incoming expiry one second less → ExpiryTooSoon",
        { expiry: OUT_EXPIRY + POLICY.expiryDelta - 1n },
        {},
        {},
        OnionFailureCode.ExpiryTooSoon,
      ],
      [
        "outgoing expiry not after now → ExpiryTooSoon",
        { expiry: T0 + POLICY.expiryDelta },
        {},
        { expiry: T0 },
        OnionFailureCode.ExpiryTooSoon,
      ],
      [
        "outgoing expiry exactly maxExpiryAhead → forward",
        { expiry: T0 + POLICY.maxExpiryAheadSeconds + POLICY.expiryDelta },
        {},
        { expiry: T0 + POLICY.maxExpiryAheadSeconds },
        null,
      ],
      [
        "one second further → ExpiryTooFar",
        { expiry: T0 + POLICY.maxExpiryAheadSeconds + 1n + POLICY.expiryDelta },
        {},
        { expiry: T0 + POLICY.maxExpiryAheadSeconds + 1n },
        OnionFailureCode.ExpiryTooFar,
      ],
      ["capacity exactly the amount → forward", {}, { available: OUT_AMOUNT }, {}, null],
      [
        "capacity one wei short → InsufficientCapacity",
        {},
        { available: OUT_AMOUNT - 1n },
        {},
        OnionFailureCode.InsufficientCapacity,
      ],
      [
        "pending locks one below the cap → forward",
        {},
        { pendingLocks: POLICY.maxPendingLocks - 1 },
        {},
        null,
      ],
      [
        "pending locks at the cap → InsufficientCapacity",
        {},
        { pendingLocks: POLICY.maxPendingLocks },
        {},
        OnionFailureCode.InsufficientCapacity,
      ],
      ["unknown next channel → UnknownNextChannel", {}, null, {}, OnionFailureCode.UnknownNextChannel],
      [
        "view of another channel → UnknownNextChannel",
        {},
        { channelId: IN_CH },
        {},
        OnionFailureCode.UnknownNextChannel,
      ],
      [
        "back into the incoming channel → UnknownNextChannel",
        { channelId: OUT_CH },
        {},
        {},
        OnionFailureCode.UnknownNextChannel,
      ],
      [
        "another asset → UnknownNextChannel",
        {},
        { asset: `0x${"11".repeat(20)}` as Address },
        {},
        OnionFailureCode.UnknownNextChannel,
      ],
      [
        "closing next channel → ChannelDisabled",
        {},
        { status: "CLOSING" },
        {},
        OnionFailureCode.ChannelDisabled,
      ],
      [
        "settled next channel → ChannelDisabled",
        {},
        { status: "SETTLED" },
        {},
        OnionFailureCode.ChannelDisabled,
      ],
      ["disabled direction → ChannelDisabled", {}, { disabled: true }, {}, OnionFailureCode.ChannelDisabled],
    ];
    for (const [name, inc, ch, ins, want] of rows) {
      it(name, () => {
        const d = decideForward({
          incoming: { ...INCOMING, ...inc },
          instructions: { ...INSTRUCTIONS, ...ins },
          policy: POLICY,
          outgoing: ch === null ? null : { ...CHANNEL, ...ch },
          now: T0,
        });
        if (want === null) {
          expect(d.kind).to.equal("forward");
          if (d.kind === "forward") expect(d.fee).to.be.gte(forwardingFee(POLICY, d.amount));
        } else {
          expect(d).to.include({ kind: "fail", code: want });
          if (d.kind === "fail") expect(d.reason).to.be.a("string").and.not.empty;
        }
      });
    }

    it("the pending-lock cap never exceeds the protocol's 64 locks", () => {
      const d = decideForward({
        incoming: INCOMING,
        instructions: INSTRUCTIONS,
        policy: { ...POLICY, maxPendingLocks: 100 },
        outgoing: { ...CHANNEL, pendingLocks: 64 },
        now: T0,
      });
      expect(d).to.include({ kind: "fail", code: OnionFailureCode.InsufficientCapacity });
    });

    it("the config section: off by default, a usable policy, a delta below the margin refused", () => {
      const env = {
        KAFKA_BROKERS: "127.0.0.1:9092",
        PARSEC_RPC_URL: "http://127.0.0.1:8545",
        PARSEC_CHANNELS_ADDRESS: "0x5FbDB2315678afecb367f032d93F642f64180aa3",
      };
      const c = loadConfig({ env, overrides: { mediation: { feeBase: "1000", feePpm: 100 } } });
      expect(c.mediation).to.deep.include({ enabled: false, feeBase: 1000n, feePpm: 100, expiryDelta: 3600 });
      expect(checkMediationPolicy(mediationPolicy(c.mediation))).to.deep.equal([]);
      expect(() =>
        loadConfig({ env, overrides: { mediation: { expiryDelta: 60, minConfirmationMarginSeconds: 600 } } }),
      ).to.throw(ConfigError, /mediation.expiryDelta/);
    });

    it("a policy whose delta cannot cover the confirmation margin is rejected", () => {
      expect(checkMediationPolicy(POLICY)).to.deep.equal([]);
      expect(checkMediationPolicy({ ...POLICY, expiryDelta: 599n })).to.have.length(1);
      expect(checkMediationPolicy({ ...POLICY, maxPendingLocks: 65 })).to.have.length(1);
    });
  });

  describe("decideNext per state", () => {
    const view: MediationView = {
      policy: POLICY,
      outgoingChannel: CHANNEL,
      chainSeenThrough: T0,
      secretRevealedAt: null,
    };
    const received = startPayment({
      type: "RECEIVED",
      incoming: INCOMING,
      instructions: INSTRUCTIONS,
      at: T0,
    });
    const outgoing = { channelId: OUT_CH, payerSeq: 3n, amount: OUT_AMOUNT, expiry: OUT_EXPIRY };
    const forwarded = applyEvent(received, { type: "FORWARDED", outgoing, at: T0 });
    const delivered = applyEvent(forwarded, { type: "LOCK_DELIVERED", at: T0 });
    const known = applyEvent(delivered, { type: "SECRET_REVEALED", secret: SECRET, at: T0 + 10n });
    const unlocked = applyEvent(known, { type: "OUTGOING_UNLOCKED", at: T0 + 10n });
    const asked = applyEvent(unlocked, { type: "UNLOCK_REQUESTED", at: T0 + 10n });
    const askedFirst = applyEvent(known, { type: "UNLOCK_REQUESTED", at: T0 + 10n });
    const registerAt = INCOMING.expiry - POLICY.minConfirmationMarginSeconds;
    const failed = applyEvent(delivered, {
      type: "DOWNSTREAM_FAILED",
      failure: { code: OnionFailureCode.TemporaryFailure, reason: "downstream" },
      at: T0 + 5n,
    });
    const cancelledOut = applyEvent(failed, { type: "OUTGOING_CANCELLED", at: T0 + 5n });
    const sent = applyEvent(cancelledOut, { type: "FAILURE_SENT", at: T0 + 5n });
    const rows: [string, ForwardedPayment, Partial<MediationView>, bigint, MediationAction["kind"]][] = [
      ["received, rules hold → forward", received, {}, T0, "forward"],
      [
        "received, next channel closing → failUpstream",
        received,
        { outgoingChannel: { ...CHANNEL, status: "CLOSING" } },
        T0,
        "failUpstream",
      ],
      ["forwarded, not acknowledged → resend the same LOCK", forwarded, {}, T0, "resendLock"],
      ["forwarded, acknowledged → wait", delivered, {}, T0 + 1n, "wait"],
      [
        "forwarded, chain seen up to the expiry → wait",
        delivered,
        { chainSeenThrough: OUT_EXPIRY },
        OUT_EXPIRY,
        "wait",
      ],
      [
        "forwarded, chain seen past the expiry, no secret → cancel outgoing",
        delivered,
        { chainSeenThrough: OUT_EXPIRY + 1n },
        OUT_EXPIRY + 1n,
        "cancelOutgoing",
      ],
      ["secret shown in time → show it upstream first", known, {}, T0 + 10n, "requestUpstreamUnlock"],
      ["shown upstream → unlock outgoing", askedFirst, {}, T0 + 10n, "unlockOutgoing"],
      [
        "unlocked downstream, not yet shown upstream → show it",
        unlocked,
        {},
        T0 + 10n,
        "requestUpstreamUnlock",
      ],
      ["asked upstream, before the register time → wait", asked, {}, registerAt - 1n, "wait"],
      ["asked upstream, at the register time → registerSecret", asked, {}, registerAt, "registerSecret"],
      [
        "asked upstream, at the incoming expiry → registerSecret",
        asked,
        {},
        INCOMING.expiry,
        "registerSecret",
      ],
      ["registration comes first even with the outgoing UNLOCK due", known, {}, registerAt, "registerSecret"],
      [
        "past the incoming expiry → wait (a registration would not count)",
        asked,
        {},
        INCOMING.expiry + 1n,
        "wait",
      ],
      [
        "registering → wait",
        applyEvent(asked, { type: "REGISTRATION_SENT", at: registerAt }),
        {},
        registerAt,
        "wait",
      ],
      [
        "settled upstream, downstream done → none",
        applyEvent(asked, { type: "UPSTREAM_UNLOCKED", at: T0 + 20n }),
        {},
        T0 + 20n,
        "none",
      ],
      [
        "settled upstream first, outgoing UNLOCK still due → unlock",
        applyEvent(known, { type: "UPSTREAM_UNLOCKED", at: T0 + 20n }),
        {},
        T0 + 20n,
        "unlockOutgoing",
      ],
      ["downstream failed → cancel outgoing first", failed, {}, T0 + 5n, "cancelOutgoing"],
      ["outgoing cancelled → fail upstream", cancelledOut, {}, T0 + 5n, "failUpstream"],
      [
        "failure sent, outgoing cancelled → consent to the upstream's CANCEL",
        sent,
        {},
        T0 + 5n,
        "consentUpstream",
      ],
      [
        "failure sent first, outgoing still pending → cancel outgoing, never consent upstream",
        applyEvent(failed, { type: "FAILURE_SENT", at: T0 + 5n }),
        {},
        T0 + 5n,
        "cancelOutgoing",
      ],
      [
        "consent sent → wait for the CANCEL",
        applyEvent(sent, { type: "CONSENT_SENT", at: T0 + 5n }),
        {},
        T0 + 5n,
        "wait",
      ],
      [
        "upstream cancelled → none",
        applyEvent(sent, { type: "UPSTREAM_CANCELLED", at: T0 + 6n }),
        {},
        T0 + 6n,
        "none",
      ],
    ];
    for (const [name, p, over, now, want] of rows) {
      it(name, () => expect(decideNext(p, { ...view, ...over }, now).kind).to.equal(want));
    }

    it("a secret shown after the outgoing expiry is not owed: cancel outgoing, still claim upstream", () => {
      const late = applyEvent(delivered, { type: "SECRET_REVEALED", secret: SECRET, at: OUT_EXPIRY + 1n });
      expect(late).to.include({ state: "SETTLED_DOWNSTREAM", downstream: "cancelDue" });
      expect(decideNext(late, { ...view, chainSeenThrough: OUT_EXPIRY }, OUT_EXPIRY + 1n).kind).to.equal(
        "requestUpstreamUnlock",
      );
      const lateAsked = applyEvent(late, { type: "UNLOCK_REQUESTED", at: OUT_EXPIRY + 1n });
      expect(decideNext(lateAsked, { ...view, chainSeenThrough: OUT_EXPIRY }, OUT_EXPIRY + 1n).kind).to.equal(
        "wait",
      );
      expect(
        decideNext(lateAsked, { ...view, chainSeenThrough: OUT_EXPIRY + 1n }, OUT_EXPIRY + 1n).kind,
      ).to.equal("cancelOutgoing");
    });

    it("a wrong secret changes nothing", () => {
      const wrong = `0x${"43".repeat(32)}` as Hash;
      expect(applyEvent(delivered, { type: "SECRET_REVEALED", secret: wrong, at: T0 })).to.equal(delivered);
    });

    it("the upstream's CANCEL is not taken while the outgoing lock is still pending", () => {
      expect(applyEvent(failed, { type: "UPSTREAM_CANCELLED", at: T0 })).to.equal(failed);
    });

    it("a consent upstream after a plain outgoing CANCEL waits for the registry check; after a consented one it does not", () => {
      const v: MediationView = {
        policy: POLICY,
        outgoingChannel: null,
        chainSeenThrough: T0 + 5n,
        secretRevealedAt: null,
      };
      const early = applyEvent(failed, { type: "FAILURE_SENT", at: T0 + 5n });
      const plain = applyEvent(early, { type: "OUTGOING_CANCELLED", at: T0 + 6n });
      const consented = applyEvent(early, { type: "OUTGOING_CANCELLED", at: T0 + 6n, consented: true });
      expect(decideNext(plain, v, T0 + 6n)).to.deep.equal({ kind: "consentUpstream", checkRegistry: true });
      expect(decideNext(consented, v, T0 + 6n)).to.deep.equal({
        kind: "consentUpstream",
        checkRegistry: false,
      });
    });

    describe("a secret registered on-chain (the confirmed index) by the outgoing expiry", () => {
      const after = OUT_EXPIRY + 10n;
      const seen = (at: bigint | null, through = after): MediationView => ({
        ...view,
        chainSeenThrough: through,
        secretRevealedAt: at,
      });
      const cases: [string, ForwardedPayment, MediationView, bigint, string][] = [
        ["FORWARDED, revealed at e − 5", delivered, seen(OUT_EXPIRY - 5n), after, "wait"],
        ["FORWARDED, revealed at e", delivered, seen(OUT_EXPIRY), after, "wait"],
        [
          "FORWARDED, revealed at e + 1 (too late)",
          delivered,
          seen(OUT_EXPIRY + 1n),
          after,
          "cancelOutgoing",
        ],
        ["FORWARDED, not revealed", delivered, seen(null), after, "cancelOutgoing"],
        ["FORWARDED, head past e but the index not", delivered, seen(null, OUT_EXPIRY), after, "wait"],
        [
          "FAILED_DOWNSTREAM (lock pending, failure sent), revealed at e − 5",
          applyEvent(failed, { type: "FAILURE_SENT", at: T0 + 31n }),
          seen(OUT_EXPIRY - 5n),
          after,
          "wait",
        ],
        [
          "FAILED_DOWNSTREAM (lock pending, failure sent), head past e but the index not",
          applyEvent(failed, { type: "FAILURE_SENT", at: T0 + 31n }),
          seen(null, OUT_EXPIRY),
          after,
          "wait",
        ],
        [
          "FAILED_DOWNSTREAM (lock pending, failure sent), the index past e, not revealed",
          applyEvent(failed, { type: "FAILURE_SENT", at: T0 + 31n }),
          seen(null),
          after,
          "cancelOutgoing",
        ],
        [
          "FAILED_DOWNSTREAM (lock pending), revealed at e − 5",
          failed,
          seen(OUT_EXPIRY - 5n),
          after,
          "failUpstream",
        ],
      ];
      for (const [name, p, v, now, kind] of cases) {
        it(`${name} → ${kind}`, () => {
          expect(decideNext(p, v, now).kind).to.equal(kind);
        });
      }

      it("the node logs the reveal before acting: from FORWARDED it owes the UNLOCK and asks upstream", () => {
        const learnt = applyEvent(delivered, {
          type: "SECRET_REVEALED",
          secret: SECRET,
          at: OUT_EXPIRY - 5n,
        });
        expect(learnt).to.deep.include({ state: "SETTLED_DOWNSTREAM", downstream: "unlockDue" });
        const v = seen(OUT_EXPIRY - 5n);
        expect(decideNext(learnt, v, after)).to.deep.equal({ kind: "requestUpstreamUnlock", secret: SECRET });
        const shown = applyEvent(learnt, { type: "UNLOCK_REQUESTED", at: after });
        expect(decideNext(shown, v, after)).to.deep.include({ kind: "unlockOutgoing", secret: SECRET });
        // At the register time it does not register again: the registry has it by the incoming expiry.
        const asked = applyEvent(shown, { type: "OUTGOING_UNLOCKED", at: after });
        expect(decideNext(asked, v, registerAt).kind).to.equal("wait");
        expect(decideNext(asked, seen(null), registerAt).kind).to.equal("registerSecret");
        const settled = applyEvent(asked, {
          type: "SECRET_REGISTERED",
          revealedAt: OUT_EXPIRY - 5n,
          at: after,
        });
        expect(settled).to.deep.include({ state: "SETTLED_UPSTREAM", via: "onchain" });
      });

      it("no consent upstream after a plain outgoing CANCEL that the reveal voids", () => {
        const sent = applyEvent(failed, { type: "FAILURE_SENT", at: T0 + 31n });
        const plain = applyEvent(sent, { type: "OUTGOING_CANCELLED", at: after });
        expect(decideNext(plain, seen(OUT_EXPIRY - 5n), after).kind).to.equal("wait");
        expect(decideNext(plain, seen(null), after).kind).to.equal("consentUpstream");
        const consented = applyEvent(sent, { type: "OUTGOING_CANCELLED", at: T0 + 32n, consented: true });
        expect(decideNext(consented, seen(OUT_EXPIRY - 5n), after).kind).to.equal("consentUpstream");
      });
    });

    it("no consent to the upstream's CANCEL is journaled while the outgoing lock is still pending", () => {
      const early = applyEvent(failed, { type: "FAILURE_SENT", at: T0 + 5n });
      expect(applyEvent(early, { type: "CONSENT_SENT", at: T0 + 6n })).to.equal(early);
      const released = applyEvent(early, { type: "OUTGOING_CANCELLED", at: T0 + 7n });
      expect(applyEvent(released, { type: "CONSENT_SENT", at: T0 + 8n })).to.deep.include({
        consentSentAt: T0 + 8n,
      });
    });
  });

  describe("the decision log", () => {
    const outgoing = { channelId: OUT_CH, payerSeq: 3n, amount: OUT_AMOUNT, expiry: OUT_EXPIRY };
    const log: MediationEvent[] = [
      { type: "RECEIVED", incoming: INCOMING, instructions: INSTRUCTIONS, at: T0 },
      { type: "FORWARDED", outgoing, at: T0 },
      { type: "LOCK_DELIVERED", at: T0 + 1n },
      { type: "SECRET_REVEALED", secret: SECRET, at: T0 + 10n },
      { type: "OUTGOING_UNLOCKED", at: T0 + 10n },
      { type: "UNLOCK_REQUESTED", at: T0 + 11n },
      { type: "REGISTRATION_SENT", at: T0 + 20n },
      { type: "REGISTRATION_FAILED", at: T0 + 30n },
      { type: "REGISTRATION_SENT", at: T0 + 40n },
      { type: "SECRET_REGISTERED", revealedAt: T0 + 50n, at: T0 + 50n },
      { type: "UPSTREAM_UNLOCKED", at: T0 + 60n },
    ];

    it("replays to the same record, also with every event applied twice", () => {
      const once = replay(log);
      const twice = replay(log.flatMap((e) => [e, e]));
      expect(once).to.deep.include({ state: "SETTLED_UPSTREAM", via: "onchain", downstream: "unlocked" });
      expect(twice).to.deep.equal(once);
      let p: ForwardedPayment | null = null;
      for (const e of log) {
        p = p === null ? replay([e]) : applyEvent(p, e);
        expect(applyEvent(p as ForwardedPayment, e)).to.deep.equal(p);
      }
    });

    it("a failure log replays to the same record, also doubled", () => {
      const failLog: MediationEvent[] = [
        log[0],
        log[1],
        {
          type: "DOWNSTREAM_FAILED",
          failure: { code: OnionFailureCode.FeeInsufficient, reason: "x" },
          at: T0 + 2n,
        },
        { type: "OUTGOING_CANCELLED", at: T0 + 3n },
        { type: "FAILURE_SENT", at: T0 + 3n },
        { type: "UPSTREAM_CANCELLED", at: T0 + 4n },
      ];
      const once = replay(failLog);
      expect(once).to.deep.include({ state: "CANCELLED_UPSTREAM" });
      expect(replay(failLog.flatMap((e) => [e, e]))).to.deep.equal(once);
    });

    it("forwards once: a second FORWARDED (another seq) is ignored and no replay decides to forward again", () => {
      const p = replay([
        ...log.slice(0, 2),
        { type: "FORWARDED", outgoing: { ...outgoing, payerSeq: 4n }, at: T0 + 1n },
      ]);
      expect(p).to.deep.include({ state: "FORWARDED", outgoing });
      for (let n = 2; n <= log.length; n++) {
        const q = replay(log.slice(0, n)) as ForwardedPayment;
        for (const now of [T0, OUT_EXPIRY, INCOMING.expiry]) {
          const view = {
            policy: POLICY,
            outgoingChannel: CHANNEL,
            chainSeenThrough: now,
            secretRevealedAt: null,
          };
          expect(decideNext(q, view, now).kind).to.not.equal("forward");
        }
      }
    });
  });

  describe("adversaries: the mediator never ends with less than it started plus its fee", () => {
    interface Script {
      /** The downstream shows the secret off-chain at this time (asking for the UNLOCK). */
      readonly revealAt?: bigint;
      /** The downstream registers the secret on-chain itself at this time. */
      readonly downstreamRegistersAt?: bigint;
      /** The downstream fails the outgoing lock at this time. */
      readonly failAt?: bigint;
      /** Seconds after the request until the upstream UNLOCKs; undefined: it never does. */
      readonly upstreamUnlockDelay?: bigint;
      /** The mediator crashes at these times (after logging, before acting when `midAction`). */
      readonly crashes?: readonly bigint[];
      readonly crashMidAction?: boolean;
      /** Seconds a registration takes to land (default: the whole margin, the worst case allowed). */
      readonly confirmationSeconds?: bigint;
      /** Seconds the node's confirmed chain index lags the head (reveals are seen only through it). */
      readonly indexLag?: bigint;
      /** The downstream fails without consenting to the CANCEL: it counts only after the expiry. */
      readonly failWithoutConsent?: boolean;
    }

    interface Outcome {
      readonly final: ForwardedPayment;
      readonly balanceChange: bigint;
      readonly lockSeqsSigned: Set<bigint>;
      readonly forwards: number;
      readonly resumedSame: boolean;
      /** The mediator signed a plain CANCEL the contract refuses (the secret was registered in time). */
      readonly plainCancelVoid: boolean;
    }

    const START = T0;
    const END = INCOMING.expiry + 100n;

    /** Runs the mediator second by second in a small world; settlement is computed as §5.1 pays it. */
    function run(s: Script): Outcome {
      const log: MediationEvent[] = [
        { type: "RECEIVED", incoming: INCOMING, instructions: INSTRUCTIONS, at: START },
      ];
      let p = replay(log) as ForwardedPayment;
      const confirm = s.confirmationSeconds ?? POLICY.minConfirmationMarginSeconds;
      let registeredAt: bigint | null = null; // the shared SecretRegistry
      let landing: bigint | null = null;
      let upstreamUnlockAt: bigint | null = null;
      let upstreamUnlocked = false;
      let upstreamCancelAt: bigint | null = null;
      let revealedToUs: bigint | null = null;
      let downstreamPaidOffchain = false;
      const lockSeqsSigned = new Set<bigint>();
      let forwards = 0;
      let resumedSame = true;
      const log1 = (e: MediationEvent) => {
        log.push(e);
        p = applyEvent(p, e);
      };
      const crashes = new Set(s.crashes ?? []);
      let revealLogged = false;
      let plainCancelVoid = false;
      for (let now = START; now <= END; now++) {
        // The world moves.
        if (landing !== null && now >= landing) {
          registeredAt ??= landing;
          landing = null;
        }
        if (s.downstreamRegistersAt === now) registeredAt ??= now;
        // The node sees the chain through its confirmed index, `indexLag` behind.
        const seenThrough = now - (s.indexLag ?? 0n);
        const indexed = registeredAt !== null && registeredAt <= seenThrough ? registeredAt : null;
        if (indexed !== null && !revealLogged) {
          revealLogged = true;
          log1({ type: "SECRET_REVEALED", secret: SECRET, at: indexed });
          log1({ type: "SECRET_REGISTERED", revealedAt: indexed, at: now });
        }
        if (s.revealAt === now && p.state === "FORWARDED") {
          revealedToUs = now;
          log1({ type: "SECRET_REVEALED", secret: SECRET, at: now });
        }
        if (s.failAt === now)
          log1({
            type: "DOWNSTREAM_FAILED",
            failure: { code: OnionFailureCode.TemporaryFailure, reason: "downstream" },
            at: now,
          });
        if (upstreamUnlockAt !== null && now >= upstreamUnlockAt && !upstreamUnlocked) {
          upstreamUnlocked = true;
          log1({ type: "UPSTREAM_UNLOCKED", at: now });
        }
        if (upstreamCancelAt !== null && now >= upstreamCancelAt) {
          upstreamCancelAt = null;
          log1({ type: "UPSTREAM_CANCELLED", at: now });
        }
        // The mediator acts until it waits.
        const view: MediationView = {
          policy: POLICY,
          outgoingChannel: CHANNEL,
          chainSeenThrough: seenThrough,
          secretRevealedAt: indexed,
        };
        for (let step = 0; step < 10; step++) {
          const a = decideNext(p, view, now);
          if (crashes.has(now)) {
            crashes.delete(now);
            const restored = replay(log) as ForwardedPayment;
            resumedSame &&= JSON.stringify(decideNext(restored, view, now), big) === JSON.stringify(a, big);
            p = restored;
            if (s.crashMidAction && a.kind === "forward") {
              // Logged FORWARDED (journal before signing), then crashed before signing or sending.
              log1({
                type: "FORWARDED",
                outgoing: { channelId: a.channelId, payerSeq: 1n, amount: a.amount, expiry: a.expiry },
                at: now,
              });
              p = replay(log) as ForwardedPayment;
              continue;
            }
          }
          if (a.kind === "wait" || a.kind === "none") break;
          switch (a.kind) {
            case "forward":
              forwards++;
              log1({
                type: "FORWARDED",
                outgoing: { channelId: a.channelId, payerSeq: 1n, amount: a.amount, expiry: a.expiry },
                at: now,
              });
              lockSeqsSigned.add(1n);
              log1({ type: "LOCK_DELIVERED", at: now });
              break;
            case "resendLock":
              lockSeqsSigned.add(a.outgoing.payerSeq);
              log1({ type: "LOCK_DELIVERED", at: now });
              break;
            case "unlockOutgoing":
              downstreamPaidOffchain = true;
              log1({ type: "OUTGOING_UNLOCKED", at: now });
              break;
            case "requestUpstreamUnlock":
              log1({ type: "UNLOCK_REQUESTED", at: now });
              if (s.upstreamUnlockDelay !== undefined) upstreamUnlockAt = now + s.upstreamUnlockDelay;
              break;
            case "registerSecret":
              log1({ type: "REGISTRATION_SENT", at: now });
              landing = now + confirm;
              break;
            case "cancelOutgoing":
              if (s.failWithoutConsent && now <= a.outgoing.expiry) {
                // As the service: no consent, so the CANCEL waits for the expiry; the failure goes upstream.
                if (p.state === "FAILED_DOWNSTREAM" && p.failureSentAt === null) {
                  log1({ type: "FAILURE_SENT", at: now });
                  upstreamCancelAt = now + 1n;
                  continue;
                }
                step = 10;
                break;
              }
              // Counts on-chain only if it carried consent or no reveal by the expiry exists.
              if (now > a.outgoing.expiry && registeredAt !== null && registeredAt <= a.outgoing.expiry)
                plainCancelVoid = true;
              log1({ type: "OUTGOING_CANCELLED", at: now });
              break;
            case "failUpstream":
              if (a.refused) log1({ type: "REFUSED", failure: a.failure, at: now });
              log1({ type: "FAILURE_SENT", at: now });
              upstreamCancelAt = now + 1n;
              break;
          }
        }
      }
      // Settlement (§5.1): a lock pays its payee when revealed at or before its expiry.
      const incomingPaid = upstreamUnlocked || (registeredAt !== null && registeredAt <= INCOMING.expiry);
      const downstreamRevealed = [revealedToUs, s.downstreamRegistersAt ?? null].some(
        (t) => t !== null && t <= OUT_EXPIRY,
      );
      const outgoingPaid = downstreamPaidOffchain || downstreamRevealed;
      const balanceChange = (incomingPaid ? INCOMING.amount : 0n) - (outgoingPaid ? OUT_AMOUNT : 0n);
      return { final: p, balanceChange, lockSeqsSigned, forwards, resumedSame, plainCancelVoid };
    }

    const big = (_: string, v: unknown) => (typeof v === "bigint" ? v.toString() : v);

    const rows: [string, Script, string, "fee" | "zero" | "whole"][] = [
      [
        "honest route: secret early, upstream UNLOCKs",
        { revealAt: T0 + 10n, upstreamUnlockDelay: 5n },
        "SETTLED_UPSTREAM",
        "fee",
      ],
      [
        "downstream withholds the secret until its expiry, upstream UNLOCKs late",
        { revealAt: OUT_EXPIRY, upstreamUnlockDelay: 3_000n },
        "SETTLED_UPSTREAM",
        "fee",
      ],
      [
        "downstream withholds the secret until its expiry, upstream withholds: registered in time",
        { revealAt: OUT_EXPIRY },
        "SETTLED_UPSTREAM",
        "fee",
      ],
      [
        "upstream withholds the UNLOCK: registered before the incoming expiry",
        { revealAt: T0 + 10n },
        "SETTLED_UPSTREAM",
        "fee",
      ],
      [
        "downstream registers on-chain at its expiry, upstream withholds: the shared registry covers both",
        { downstreamRegistersAt: OUT_EXPIRY },
        "SETTLED_UPSTREAM",
        "fee",
      ],
      [
        "downstream fails: outgoing cancelled, failure sent upstream",
        { failAt: T0 + 30n },
        "CANCELLED_UPSTREAM",
        "zero",
      ],
      [
        "downstream front-runs: registers at e − 5 s without showing it, the index 12 s behind: never cancelled",
        { downstreamRegistersAt: OUT_EXPIRY - 5n, indexLag: 12n },
        "SETTLED_UPSTREAM",
        "fee",
      ],
      [
        "downstream fails first, then registers at e − 5 s, the index 12 s behind: the reveal wins",
        { failAt: T0 + 30n, failWithoutConsent: true, downstreamRegistersAt: OUT_EXPIRY - 5n, indexLag: 12n },
        "SETTLED_UPSTREAM",
        "fee",
      ],
      ["downstream holds the lock silently: cancelled after its expiry", {}, "CANCELLED_UPSTREAM", "zero"],
      [
        "downstream shows the secret only after its expiry: not owed, upstream still pays",
        { revealAt: OUT_EXPIRY + 1n },
        "SETTLED_UPSTREAM",
        "whole",
      ],
      [
        "crash after logging FORWARDED, before signing: the same LOCK is sent, never a second",
        { revealAt: T0 + 10n, upstreamUnlockDelay: 5n, crashes: [T0], crashMidAction: true },
        "SETTLED_UPSTREAM",
        "fee",
      ],
      [
        "crashes while the secret is known and while registering: resumes with the same action",
        { revealAt: T0 + 10n, crashes: [T0 + 10n, INCOMING.expiry - 600n, INCOMING.expiry - 300n] },
        "SETTLED_UPSTREAM",
        "fee",
      ],
      [
        "crash while failing: resumes and releases both locks",
        { failAt: T0 + 30n, crashes: [T0 + 30n, T0 + 31n] },
        "CANCELLED_UPSTREAM",
        "zero",
      ],
    ];
    for (const [name, script, state, gain] of rows) {
      it(name, () => {
        const o = run(script);
        expect(o.final.state).to.equal(state);
        expect(o.forwards).to.be.at.most(1);
        expect([...o.lockSeqsSigned]).to.deep.equal([1n]);
        expect(o.resumedSame).to.equal(true);
        expect(o.plainCancelVoid).to.equal(false);
        if (gain === "fee") expect(o.balanceChange).to.equal(FEE);
        if (gain === "zero") expect(o.balanceChange).to.equal(0n);
        if (gain === "whole") expect(o.balanceChange).to.equal(INCOMING.amount);
        expect(o.balanceChange >= (gain === "zero" ? 0n : FEE)).to.equal(true);
      });
    }

    it("a registration slower than the margin would come too late: the margin must cover confirmation", () => {
      const o = run({ revealAt: OUT_EXPIRY, confirmationSeconds: POLICY.minConfirmationMarginSeconds + 1n });
      expect(o.balanceChange).to.equal(-OUT_AMOUNT);
    });
  });
});
