// The dapp's payment engine (app/src/payments/) in Node, against a real mediating Parsec node on Kafka
// and the in-process chain: the same engine the page runs, over the node's HTTP payments API
// (`httpPaymentLog`), with Web Storage replaced by an in-memory `Storage`. A routed invoice paid across two
// hops, a direct PAY, the capacity failure in words, and a "reload" (a second engine on the same storage)
// that resumes a payment whose LOCK was journaled but never written, sending that same LOCK.
import { expect } from "chai";
import { Wallet, parseEther, ZeroAddress } from "ethers";
import {
  TransferKind,
  buildTransfer,
  signTransferUnjournaled,
  forwardingFee,
  hashlockOf,
  localSigner,
  onionPublicKey,
  toHex,
  type Address,
  type Hash,
  type Hex,
  type JournalStorage,
} from "../../sdk";
import { httpPaymentLog, nodePayerViews, type PaymentLog } from "../../client";
import { ParsecNode } from "../../relayer/src/node";
import { paymentEngine, nodeRouting, type PaymentEngine } from "../../app/src/payments/engine";
import { paymentStore, type PaymentStore } from "../../app/src/payments/store";
import type { SessionKey } from "../../app/src/payments/session";
import type { ChannelView } from "../../app/src/chain-data";
import {
  Harness,
  TEST_MEDIATION_POLICY,
  getJson,
  testLogger,
  waitFor,
  type TestChannel,
} from "../relayer/harness";

/** Web Storage in memory (what a tab's `localStorage` is to the engine). */
export class MemoryStorage implements JournalStorage {
  private readonly items = new Map<string, string>();
  get length(): number {
    return this.items.size;
  }
  clear(): void {
    this.items.clear();
  }
  getItem(key: string): string | null {
    return this.items.get(key) ?? null;
  }
  key(index: number): string | null {
    return [...this.items.keys()][index] ?? null;
  }
  removeItem(key: string): void {
    this.items.delete(key);
  }
  setItem(key: string, value: string): void {
    this.items.set(key, String(value));
  }
}

const sessionOf = (w: Wallet): SessionKey => ({
  owner: w.address as Address,
  address: w.address as Address,
  privateKey: w.privateKey as Hex,
  signer: localSigner(w.privateKey as Hex),
});

describe("dapp payment engine against a mediating node (its HTTP payments API on Kafka, in-process chain)", function () {
  this.timeout(240_000);
  let h: Harness;
  let node: ParsecNode | null = null;
  let ab: TestChannel; // Alice's session (0) – Bob's node (1)
  let bc: TestChannel; // Bob's node (0) – Carol's session (1)
  const alice = new Wallet(Wallet.createRandom().privateKey);
  const bob = new Wallet(Wallet.createRandom().privateKey);
  const carol = new Wallet(Wallet.createRandom().privateKey);
  const ALICE_DEPOSIT = parseEther("0.05");
  const BOB_TO_CAROL = parseEther("0.02");
  let log: ReturnType<typeof httpPaymentLog>;
  let skewMs = 0;
  const now = () => Date.now() + skewMs;
  const aliceStorage = new MemoryStorage();
  const carolStorage = new MemoryStorage();
  let aliceEngine: PaymentEngine;
  let carolEngine: PaymentEngine;
  const scope = () => `${h.domain.chainId}:${h.domain.verifyingContract.toLowerCase()}`;
  const routing = () =>
    nodeRouting(toHex(onionPublicKey(bob.privateKey as Hex)), {
      feeBase: TEST_MEDIATION_POLICY.feeBase,
      feePpm: TEST_MEDIATION_POLICY.feePpm,
      expiryDelta: TEST_MEDIATION_POLICY.expiryDelta,
    });

  /** The channel as the page's `loadChannels` gives it: chain deposits and the node's channel JSON. */
  const viewOf = async (c: TestChannel, side: 0 | 1, d0: bigint, d1: bigint): Promise<ChannelView> => {
    const { body } = await getJson<unknown>(`${node?.url}/channels/${c.id}`);
    return {
      channelId: c.id.toLowerCase() as Hash,
      params: c.params,
      status: "OPEN",
      deposit0: d0,
      deposit1: d1,
      side,
      offchain: { channelId: c.id, seq0: null, seq1: null, balance0: null, balance1: null, raw: body },
      offchainError: null,
    } as unknown as ChannelView;
  };
  const refreshAlice = async (engine = aliceEngine) =>
    engine.update([await viewOf(ab, 0, ALICE_DEPOSIT, parseEther("1"))]);
  const refreshCarol = async () => carolEngine.update([await viewOf(bc, 1, BOB_TO_CAROL, parseEther("1"))]);
  const engineFor = (w: Wallet, storage: JournalStorage, via: PaymentLog = log): PaymentEngine =>
    paymentEngine({
      session: sessionOf(w),
      domain: h.domain,
      log: via,
      store: paymentStore(storage, scope(), w.address as Address),
      routing: routing(),
      now,
      readNode: async (id) => (await getJson<unknown>(`${node?.url}/channels/${id}`)).body,
      onChange: () => undefined,
    });
  const nodeState = async (c: TestChannel, payer: 0 | 1) => {
    const { body } = await getJson<unknown>(`${node?.url}/channels/${c.id}`);
    return nodePayerViews(body)?.[payer];
  };

  before(async () => {
    h = await Harness.create({ brokers: process.env.KAFKA_BROKERS?.split(",") });
    ab = await h.openChannel(ALICE_DEPOSIT, parseEther("1"), [alice, bob]);
    bc = await h.openChannel(BOB_TO_CAROL, parseEther("1"), [bob, carol]);
    node = await ParsecNode.start(h.mediatorConfig(bob.privateKey), { logger: testLogger() });
    // The browser's path: the node's HTTP payments API.
    log = httpPaymentLog({ baseUrl: node.url as string });
    const latest = await (await import("hardhat")).default.ethers.provider.getBlock("latest");
    skewMs = (latest?.timestamp ?? 0) * 1000 - Date.now();
    await waitFor(
      "the node holds both channels",
      async () => (await nodeState(bc, 0)) && (await nodeState(ab, 0)),
    );
    aliceEngine = engineFor(alice, aliceStorage);
    carolEngine = engineFor(carol, carolStorage);
    await refreshAlice();
    await refreshCarol();
  });
  after(async () => {
    aliceEngine?.stop();
    carolEngine?.stop();
    log?.close();
    await node?.stop();
    await h?.client
      .deleteTopics([`${h.prefix}parsec.payment-messages`, `${h.prefix}parsec.channel-graph`])
      .catch(() => undefined);
    await h?.close();
  });

  it("Carol requests, Alice previews and pays across two hops through Bob's node: receipt, route, fee; Carol sees it paid", async () => {
    const amount = parseEther("0.004");
    const inv = await carolEngine.request({
      amount,
      asset: ZeroAddress as Address,
      description: "coffee",
      validitySeconds: 3600,
    });
    expect(inv.text).to.match(/^parsec1/);
    const fee = forwardingFee(
      { feeBase: TEST_MEDIATION_POLICY.feeBase, feePpm: TEST_MEDIATION_POLICY.feePpm },
      amount,
    );
    const preview = await aliceEngine.preview(inv.text);
    expect(preview.route.hops.map((x) => x.channelId.toLowerCase())).to.deep.equal(
      [ab.id, bc.id].map((x) => x.toLowerCase()),
    );
    expect(preview.fee).to.equal(fee);
    expect(preview.invoice.invoice.description).to.equal("coffee");
    const rec = await aliceEngine.payInvoice(inv.text);
    expect(rec.status, rec.reason).to.equal("done");
    expect(rec.preimage).to.equal(inv.secret.toLowerCase());
    expect(hashlockOf(rec.preimage as Hash)).to.equal(inv.hashlock);
    expect(rec.fee).to.equal(fee);
    expect(rec.route).to.deep.equal([alice.address, bob.address, carol.address]);
    await waitFor("Carol's invoice marked paid", () => carolEngine.invoices()[0].paidAtMs !== undefined);
    expect(carolEngine.history()[0]).to.include({ direction: "received", status: "done", amount });
    // Balances match the node: Alice paid amount + fee (LOCK then UNLOCK), nothing held.
    await waitFor(
      "the node applied Alice's UNLOCK",
      async () => (await nodeState(ab, 0))?.paidTotal === amount + fee,
    );
    await refreshAlice();
    const [b] = aliceEngine.balances();
    expect(b).to.include({ canSend: ALICE_DEPOSIT - amount - fee, heldOut: 0n, mySeq: 2 });
  });

  it("pays the node directly by amount: pending, then done once the node applied the PAY", async () => {
    const before = aliceEngine.balances()[0].canSend;
    const rec = await aliceEngine.payDirect(ab.id, parseEther("0.001"));
    expect(rec).to.include({ status: "done", kind: "direct", seq: 3 });
    expect((await nodeState(ab, 0))?.seq).to.equal(3);
    await refreshAlice();
    expect(aliceEngine.balances()[0].canSend).to.equal(before - parseEther("0.001"));
  });

  it("a payment above what Alice can lock fails with the reason in words, and nothing is signed", async () => {
    const inv = await carolEngine.request({
      amount: parseEther("0.2"),
      asset: ZeroAddress as Address,
      description: "too much",
      validitySeconds: 3600,
    });
    const seqBefore = (await nodeState(ab, 0))?.seq;
    const rec = await aliceEngine.payInvoice(inv.text);
    expect(rec.status).to.equal("failed");
    expect(rec.reason).to.match(/carry this amount|capacity/i);
    expect((await nodeState(ab, 0))?.seq).to.equal(seqBefore);
  });

  it("a direct PAY from the counterparty shows in the payee's history as received", async () => {
    const bobState = await nodeState(bc, 0);
    if (!bobState) throw new Error("the node holds no state of Bob's chain");
    const amount = parseEther("0.0005");
    const t = buildTransfer(bobState, { channelId: bc.id, payer: 0 }, { kind: "PAY", amount });
    await log.sendTransfer(signTransferUnjournaled(localSigner(bob.privateKey as Hex), h.domain, t));
    const row = await waitFor("Carol's history shows the PAY", () =>
      carolEngine.history().find((p) => p.kind === "direct" && p.direction === "received"),
    );
    expect(row).to.include({ amount, status: "done", seq: t.seq, counterparty: bob.address });
    await waitFor("the node applied it", async () => (await nodeState(bc, 0))?.seq === t.seq);
  });

  const crashes: { what: string; seq: number; tab: (log: PaymentLog) => PaymentLog }[] = [
    {
      what: "LOCK journaled, its write never completes",
      seq: 4,
      tab: (l) => ({ ...l, sendTransfer: () => new Promise<void>(() => undefined) }),
    },
    {
      what: "LOCK written, the tab closes before the answer is read",
      seq: 6,
      tab: (l) => ({ ...l, peerMessages: () => ({ stop: () => undefined }) }),
    },
  ];
  for (const crash of crashes) {
    it(`a reload mid-payment (${crash.what}) resumes that LOCK on the next start, never a second one`, async () => {
      const amount = parseEther("0.002");
      const inv = await carolEngine.request({
        amount,
        asset: ZeroAddress as Address,
        description: crash.what,
        validitySeconds: 3600,
      });
      const seq = crash.seq;
      const tab1 = engineFor(alice, aliceStorage, crash.tab(log));
      await refreshAlice(tab1);
      void tab1.payInvoice(inv.text);
      const store: PaymentStore = paymentStore(aliceStorage, scope(), alice.address as Address);
      const journaled = await waitFor("the LOCK journaled", async () => {
        const e = await store.journal.get(ab.id, 0, seq);
        return e?.signature !== undefined && e;
      });
      expect(journaled.transfer.kind).to.equal(TransferKind.Lock);
      await new Promise((r) => setTimeout(r, 500)); // the write (when it goes through) lands
      tab1.stop();
      aliceEngine.stop();
      expect(store.payments().find((p) => p.invoice === inv.text)?.status).to.equal("pending");
      // The reopened tab: a fresh engine on the same storage resumes it.
      aliceEngine = engineFor(alice, aliceStorage);
      await refreshAlice();
      const done = await waitFor("the resumed payment settles", () =>
        aliceEngine.history().find((p) => p.invoice === inv.text && p.status !== "pending"),
      );
      expect(done.status, done.reason).to.equal("done");
      expect(done.preimage).to.equal(
        carolEngine
          .invoices()
          .find((i) => i.text === inv.text)
          ?.secret.toLowerCase(),
      );
      // The journaled LOCK (same hash) was the one applied, then its UNLOCK; nothing else is held.
      expect((await store.journal.get(ab.id, 0, seq))?.transferHash).to.equal(journaled.transferHash);
      const after = await waitFor("the node applied the UNLOCK", async () => {
        const p0 = await nodeState(ab, 0);
        return p0?.seq === seq + 1 && p0;
      });
      expect(after.lockedTotal).to.equal(0n);
      expect(await store.journal.get(ab.id, 0, seq + 2)).to.equal(undefined);
    });
  }
});
