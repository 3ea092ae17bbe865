import { expect } from "chai";
import { toUtf8Bytes, toUtf8String } from "ethers";
import {
  GENESIS_STATE,
  TransactionCatalogue,
  TransferKind,
  applyTransfer,
  codecs,
  hashlockOf,
  kindTag,
  signTransferUnjournaled,
  toHex,
  transferMessage,
  type Hash,
  type Hex,
  type KindDefinition,
  type PayerState,
} from "../../sdk";
import { expectCode, makeChannel } from "./helpers";

const ch = makeChannel();
const origin = { channelId: ch.channelId, payer: 0 as const };
const MAX_TIP = 10n ** 16n;

/** A tip: a PAY of at most 0.01 ETH with a short note, bound into the signature; counts tips. */
const TIP: KindDefinition = {
  name: "TIP",
  onchainKind: TransferKind.Pay,
  description: "a small PAY with a note of at most 140 bytes",
  bindsTag: true,
  validate: ({ transfer, appData }) => {
    if (transfer.amount > MAX_TIP) return `a tip is at most ${MAX_TIP} wei`;
    if ((appData.length - 2) / 2 > 140) return "the note is longer than 140 bytes";
    return null;
  },
  appEffect: ({ transfer }) => ({ tips: transfer.amount, tipCount: 1n }),
};

/** A subscription period: a PAY of exactly the plan price; the app data is the period number. */
const SUBSCRIPTION: KindDefinition = {
  name: "SUBSCRIPTION",
  onchainKind: TransferKind.Pay,
  description: "pays one period of a 1000-wei plan",
  bindsTag: true,
  validate: ({ transfer, appData }) => {
    if (transfer.amount !== 1000n) return "a period costs exactly 1000 wei";
    return /^0x[0-9a-f]{8}$/.test(appData) ? null : "appData must be the 4-byte period number";
  },
  appEffect: () => ({ periods: 1n }),
};

const note = (s: string): Hex => toHex(toUtf8Bytes(s));

describe("sdk/catalogue: predefined and custom transaction kinds", () => {
  it("has the four predefined kinds mapped onto the on-chain codes", () => {
    const c = TransactionCatalogue.withBuiltins();
    expect(c.list().map((k) => [k.name, k.onchainKind])).to.deep.equal([
      ["PAY", 0],
      ["LOCK", 1],
      ["UNLOCK", 2],
      ["CANCEL", 3],
    ]);
    const { transfer } = c.build(GENESIS_STATE, origin, "PAY", { amount: 5n });
    expect(c.classify(transfer).effect).to.deep.equal({ paid: 5n, locked: 0n });
    const lock = { amount: 4n, expiry: 9n, hashlock: hashlockOf(("0x" + "01".repeat(32)) as Hash) };
    const locked = c.build(GENESIS_STATE, origin, "LOCK", lock).transfer;
    expect(c.classify(locked).effect).to.deep.equal({ paid: 0n, locked: 4n });
    const s = applyTransfer(GENESIS_STATE, locked);
    expect(c.classify(c.build(s, origin, "UNLOCK", { lock }).transfer).effect).to.deep.equal({
      paid: 4n,
      locked: -4n,
    });
    expect(c.classify(c.build(s, origin, "CANCEL", { lock }).transfer).effect).to.deep.equal({
      paid: 0n,
      locked: -4n,
    });
  });

  it("an app registers TIP and SUBSCRIPTION, builds, validates and accumulates their effects", () => {
    const c = TransactionCatalogue.withBuiltins();
    c.register(TIP);
    c.register(SUBSCRIPTION);
    expect(c.has("TIP")).to.equal(true);
    let state: PayerState = GENESIS_STATE;
    const counters: Record<string, bigint> = {};
    const ops: [string, { amount: bigint; appData: Hex }][] = [
      ["TIP", { amount: 10n ** 15n, appData: note("great stream!") }],
      ["SUBSCRIPTION", { amount: 1000n, appData: "0x00000001" }],
      ["TIP", { amount: 5n, appData: note("gm") }],
      ["SUBSCRIPTION", { amount: 1000n, appData: "0x00000002" }],
    ];
    for (const [name, op] of ops) {
      const built = c.build(state, origin, name, op);
      expect(built.transfer.kind).to.equal(TransferKind.Pay);
      expect(built.transfer.invoiceId).to.equal(kindTag(name, op.appData));
      // The kind travels in the Avro message; the receiver classifies what it decoded.
      const signed = signTransferUnjournaled(ch.signers[0], ch.domain, built.transfer);
      const wire = codecs().transfer.encode(
        transferMessage(ch.domain, signed, ch.params.participant0, {
          appKind: built.appKind,
          appData: built.appData,
        }),
      );
      const msg = codecs().transfer.decode(wire);
      const seen = c.classify(msg.transfer, msg.appKind, msg.appData, state);
      for (const [k, v] of Object.entries(seen.appEffect)) counters[k] = (counters[k] ?? 0n) + v;
      state = applyTransfer(state, msg.transfer);
    }
    expect(counters).to.deep.equal({ tips: 10n ** 15n + 5n, tipCount: 2n, periods: 2n });
    expect(state.paidTotal).to.equal(10n ** 15n + 5n + 2000n);
    expect(toUtf8String(note("gm"))).to.equal("gm");
  });

  it("refuses transfers that break a custom kind's rules, relabeled transfers and unknown kinds", () => {
    const c = TransactionCatalogue.withBuiltins();
    c.register(TIP);
    c.register(SUBSCRIPTION);
    expectCode(
      () => c.build(GENESIS_STATE, origin, "TIP", { amount: MAX_TIP + 1n, appData: note("big") }),
      "KindRuleViolation",
    );
    expectCode(
      () => c.build(GENESIS_STATE, origin, "TIP", { amount: 1n, appData: note("x".repeat(141)) }),
      "KindRuleViolation",
    );
    expectCode(
      () => c.build(GENESIS_STATE, origin, "SUBSCRIPTION", { amount: 999n, appData: "0x00000001" }),
      "KindRuleViolation",
    );
    const tip = c.build(GENESIS_STATE, origin, "TIP", { amount: 1000n, appData: note("hi") }).transfer;
    // Relabeling a signed TIP as a SUBSCRIPTION (or changing its note) breaks the bound tag.
    expectCode(() => c.classify(tip, "SUBSCRIPTION", "0x00000001"), "KindRuleViolation");
    expectCode(() => c.classify(tip, "TIP", note("changed")), "KindRuleViolation");
    // A PAY cannot be classified as a kind that maps onto LOCK.
    c.register({ name: "ESCROW", onchainKind: TransferKind.Lock, description: "a lock" });
    expectCode(() => c.classify(tip, "ESCROW"), "KindRuleViolation");
    expectCode(() => c.classify(tip, "NOPE"), "UnknownKind");
    expectCode(() => c.register(TIP), "Malformed");
    expectCode(() => c.register({ ...TIP, name: "tip" }), "Malformed");
    expectCode(() => c.register({ ...TIP, name: "BAD", onchainKind: 7 as TransferKind }), "Malformed");
  });
});
