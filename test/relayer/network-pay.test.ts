/**
 * Routed payments end to end on a real network (protocol §11.6): a Kafka broker, the in-process chain,
 * the channels Alice–Bob and Bob–Carol, and Bob's node a real `ParsecNode` mediating with Bob's key.
 * Alice pays with the SDK's `pay()` through the client's payment transport over the Kafka log, on the
 * graph Bob's node announced; Carol answers with the client's `receivePayments`. Nobody plays a hop by hand.
 */
import { expect } from "chai";
import hre from "hardhat";
import { Wallet, ZeroAddress, parseEther } from "ethers";
import {
  ChannelGraph,
  GENESIS_STATE,
  channelIdOf,
  graphEntryFromJson,
  MissionControl,
  PaymentFailedError,
  TransferKind,
  codecs,
  createRoutedInvoice,
  describePaymentError,
  forwardingFee,
  localSigner,
  memoryJournal,
  onionPublicKey,
  pay,
  signChannelUpdate,
  signPaymentMessage,
  verifyPaymentMessage,
  type Address,
  type Hash,
  type Hex,
  type OpenChannel,
  type PayerState,
  type PaymentEvent,
  type PaymentTransport,
} from "../../sdk";
import {
  ROUTE_APP_KIND,
  paymentTransport,
  receivePayments,
  type IssuedInvoice,
  type PayeeEvent,
  type PaymentLog,
  type Subscription,
} from "../../client";
import { ParsecNode } from "../../relayer/src/node";
import { ROUTE_APP_KIND as NODE_ROUTE_APP_KIND } from "../../relayer/src/mediate/service";
import { resolveTopicNames } from "../../relayer/src/config";
import { kafkaPaymentLog } from "../../tasks/lib/payment-kafka";
import {
  Harness,
  TEST_MEDIATION_POLICY,
  getJson,
  sleep,
  testLogger,
  waitFor,
  type TestChannel,
} from "./harness";

const { feeBase: FEE_BASE, feePpm: FEE_PPM } = TEST_MEDIATION_POLICY;
/** Bob's side of Bob–Carol: what he can forward to Carol at most. */
const BOB_TO_CAROL = parseEther("0.01");

describe("relayer: a wallet pays through a mediating node over Kafka", function () {
  this.timeout(240_000);
  let h: Harness;
  let node: ParsecNode | null = null;
  let ab: TestChannel; // Alice (0) – Bob (1)
  let bc: TestChannel; // Bob (0) – Carol (1)
  const alice = new Wallet(Wallet.createRandom().privateKey);
  const bob = new Wallet(Wallet.createRandom().privateKey);
  const carol = new Wallet(Wallet.createRandom().privateKey);
  const invoices: IssuedInvoice[] = [];
  const carolSaw: PayeeEvent[] = [];
  let graph: ChannelGraph;
  let transport: PaymentTransport;
  let carolSub: Subscription;
  let log: ReturnType<typeof kafkaPaymentLog>;
  let aliceState: PayerState = GENESIS_STATE;
  const peer = { sign: signPaymentMessage, verify: verifyPaymentMessage };
  // The node judges expiries and announcements in chain time, which earlier tests moved ahead of the wall
  // clock: every party here runs on the chain's clock (set in \`before\`).
  let skewMs = 0;
  const chainNowMs = (): number => Date.now() + skewMs;
  const chainNowS = (): bigint => BigInt(Math.floor(chainNowMs() / 1000));

  const routingKeys = new Map<Address, Uint8Array>();
  const bobOf = () => node?.locate(bc.id)?.ch.payers[0].state;
  const aliceOf = () => node?.locate(ab.id)?.ch.payers[0].state;

  /** Carol's invoice for `amount`, kept in her secret store. */
  const carolInvoice = async (amount: bigint): Promise<string> => {
    const { invoice, text, secret } = await createRoutedInvoice({
      domain: h.domain,
      signer: localSigner(carol.privateKey as Hex),
      amount,
      validity: 3_600,
      now: chainNowS(),
    });
    invoices.push({
      invoiceId: invoice.invoiceId,
      hashlock: invoice.invoice.hashlock,
      secret,
      amount: invoice.invoice.amount,
      expiry: invoice.invoice.expiry,
      minFinalExpiryDelta: invoice.invoice.minFinalExpiryDelta,
    });
    return text;
  };

  // Alice's durable stores (a restarted wallet keeps them): signing journal, packets, channel state.
  const aliceJournal = memoryJournal();
  const alicePackets = new Map<string, Hex>();
  const aliceWallet = (via: PaymentLog): PaymentTransport =>
    paymentTransport({
      signer: localSigner(alice.privateKey as Hex),
      journal: aliceJournal,
      domain: h.domain,
      channel: { channelId: ab.id, payer: 0, counterparty: bob.address as Address },
      state: { get: async () => aliceState, set: async (s) => void (aliceState = s) },
      packets: {
        get: async (c, seq) => alicePackets.get(`${c}:${seq}`),
        put: async (c, seq, p) => void alicePackets.set(`${c}:${seq}`, p),
      },
      log: via,
      peer,
      now: chainNowMs,
    });

  const alicePays = (text: string, events: PaymentEvent[] = []) =>
    pay(
      text,
      { timeoutMs: 60_000, onStatus: (e) => events.push(e) },
      {
        graph,
        missionControl: new MissionControl(),
        source: alice.address as Address,
        domain: h.domain,
        routingKeyOf: (n) => routingKeys.get(n),
        transport,
        now: chainNowMs,
      },
    );

  before(async () => {
    h = await Harness.create({ brokers: process.env.KAFKA_BROKERS?.split(",") });
    ab = await h.openChannel(parseEther("10"), parseEther("10"), [alice, bob]);
    bc = await h.openChannel(BOB_TO_CAROL, parseEther("1"), [bob, carol]);
    node = await ParsecNode.start(h.mediatorConfig(bob.privateKey), { logger: testLogger() });
    const topics = resolveTopicNames({ topicPrefix: h.prefix });
    log = kafkaPaymentLog({ client: h.client, topics, domain: h.domain });
    for (const w of [bob, carol]) routingKeys.set(w.address as Address, onionPublicKey(w.privateKey as Hex));

    // Alice's graph: Bob's signed updates from the graph topic, and her own channel's direction to Bob.
    const open = new Map<Hash, OpenChannel>([
      [
        ab.id,
        {
          participant0: alice.address as Address,
          participant1: bob.address as Address,
          asset: ZeroAddress as Address,
        },
      ],
      [
        bc.id,
        {
          participant0: bob.address as Address,
          participant1: carol.address as Address,
          asset: ZeroAddress as Address,
        },
      ],
    ]);
    graph = new ChannelGraph({ domain: h.domain });
    const latest = await hre.ethers.provider.getBlock("latest");
    skewMs = (latest?.timestamp ?? 0) * 1000 - Date.now();
    const now = chainNowS();
    await waitFor("Bob's channel updates on the graph topic", async () => {
      const updates = (await h.readAll(topics.channelGraph))
        .filter((r) => r.value)
        .map((r) => codecs().channelUpdate.decode(r.value as Buffer));
      for (const m of updates) graph.applyUpdate(m.update, (id) => open.get(id), now);
      return updates.some((m) => m.update.channelId === bc.id);
    });
    const own = await signChannelUpdate(localSigner(alice.privateKey as Hex), h.domain, {
      channelId: ab.id,
      direction: 0,
      timestamp: now,
      capacity: parseEther("10"),
      feeBase: 0n,
      feePpm: 0,
      expiryDelta: 0,
      htlcMinimum: 1n,
      htlcMaximum: parseEther("10"),
      disabled: false,
    });
    expect(graph.applyUpdate(own, (id) => open.get(id), now).applied).to.equal(true);

    transport = aliceWallet(log);
    carolSub = receivePayments({
      signer: localSigner(carol.privateKey as Hex),
      onionKey: carol.privateKey as Hex,
      domain: h.domain,
      channels: [
        {
          channelId: bc.id,
          payer: 0,
          counterparty: bob.address as Address,
          counterpartyDeposit: BOB_TO_CAROL,
        },
      ],
      invoices: {
        lookup: async (hl) => invoices.find((i) => i.hashlock.toLowerCase() === hl.toLowerCase()),
        markRevealed: async (hl) => {
          const i = invoices.findIndex((x) => x.hashlock.toLowerCase() === hl.toLowerCase());
          invoices[i] = { ...invoices[i], revealed: true };
        },
      },
      log,
      peer,
      onEvent: (e) => carolSaw.push(e),
      now: chainNowMs,
    });
  });
  after(async () => {
    carolSub?.stop();
    await log?.close();
    await node?.stop();
    await h?.client
      .deleteTopics([`${h.prefix}parsec.payment-messages`, `${h.prefix}parsec.channel-graph`])
      .catch(() => undefined);
    await h?.close();
  });

  it("Alice pays Carol's routed invoice through Bob's node: pay resolves with the preimage, route and fee; Bob earns exactly his fee", async () => {
    expect(ROUTE_APP_KIND).to.equal(NODE_ROUTE_APP_KIND); // the wallet's LOCKs carry the kind the node reads
    const amount = parseEther("0.004");
    const text = await carolInvoice(amount);
    const events: PaymentEvent[] = [];
    const started = Date.now();
    const result = await alicePays(text, events);
    const took = Date.now() - started;
    const fee = forwardingFee({ feeBase: FEE_BASE, feePpm: FEE_PPM }, amount);
    expect(result.preimage).to.equal(invoices[0].secret.toLowerCase());
    expect(result.route.hops.map((x) => x.channelId)).to.deep.equal([ab.id, bc.id]);
    expect(result).to.include({ amount, fee, attempts: 1 });
    expect(events.map((e) => e.kind)).to.deep.equal(["attempt", "succeeded"]);
    expect(carolSaw).to.deep.include({
      kind: "settling",
      channelId: bc.id,
      seq: 1,
      invoiceId: invoices[0].invoiceId,
    });
    // Alice's UNLOCK reaches Bob's node: he received amount + fee and paid amount.
    await waitFor("Alice's UNLOCK applied by Bob's node", () => aliceOf()?.paidTotal === amount + fee);
    await waitFor("Bob's UNLOCK to Carol", () => bobOf()?.paidTotal === amount);
    expect((aliceOf()?.paidTotal ?? 0n) - (bobOf()?.paidTotal ?? 0n)).to.equal(fee);
    expect(aliceState).to.include({ seq: 2, paidTotal: amount + fee, lockedTotal: 0n });
    const [row] = await waitFor("Bob's node records the payment settled both ways", async () => {
      const { body } = await getJson<{ payments: { state: string; fee: string }[] }>(`${node?.url}/payments`);
      return body.payments.length === 1 && body.payments[0].state === "SETTLED_UPSTREAM" && body.payments;
    });
    expect(row.fee).to.equal(fee.toString());
    // Carol's SECRET in Bob's inbox is dropped once the payment is finished (no longer journaled).
    await waitFor(
      "Bob's inbox for the finished payment emptied",
      () => node?.locate(bc.id)?.ch.inbox.size === 0,
    );
    const metrics = await (await fetch(`${node?.url}/metrics`)).text();
    expect(metrics).to.match(new RegExp(`parsec_payments_fees_earned(\\{[^}]*\\})? ${fee}\\b`));
    console.log(`      (paid ${amount} + fee ${fee} through Bob's node in ${took} ms)`);
  });

  it("GET /graph serves the node's signed announcements with each channel's parameters; a reader re-checks both", async () => {
    const { status, body } = await getJson<{ entries: unknown[]; ignored: number }>(`${node?.url}/graph`);
    expect(status).to.equal(200);
    const entries = body.entries.map((e) => graphEntryFromJson(e));
    const bobToCarol = entries.find((e) => e.update.channelId === bc.id && e.update.direction === 0);
    expect(bobToCarol?.announcer).to.equal(bob.address);
    expect(bobToCarol?.update).to.include({ feeBase: TEST_MEDIATION_POLICY.feeBase, disabled: false });
    // What a browser does with it: the parameters hash to the channel id, the signature is Bob's.
    const graph = new ChannelGraph({ domain: h.domain });
    for (const e of entries) {
      expect(channelIdOf(h.domain, e.channel)).to.equal(e.update.channelId);
      const applied = graph.applyUpdate(
        e.update,
        (id) => (id === e.update.channelId ? e.channel : undefined),
        chainNowS(),
      );
      expect(applied.applied).to.equal(true);
    }
    // A forged entry (another announcer's fee on Bob's direction) does not apply.
    const forged = { ...bobToCarol!.update, feeBase: 0n };
    const lookup = (id: Hash) => (id === bc.id ? bobToCarol!.channel : undefined);
    expect(new ChannelGraph({ domain: h.domain }).applyUpdate(forged, lookup, chainNowS()).applied).to.equal(
      false,
    );
  });

  it("Alice's wallet crashes after journaling its LOCK, before writing it: restarted, pay() sends that LOCK (with its packet) and the payment settles; Bob forwards once", async () => {
    const amount = parseEther("0.001");
    const text = await carolInvoice(amount);
    const hashlock = invoices[invoices.length - 1].hashlock;
    let broken = true;
    const crashing: PaymentLog = {
      ...log,
      sendTransfer: async (t, route) => {
        if (broken) {
          broken = false;
          throw new Error("the process died here");
        }
        return log.sendTransfer(t, route);
      },
    };
    transport = aliceWallet(crashing);
    const e = await alicePays(text).catch((x: unknown) => x);
    expect(e).to.include({ name: "PaymentTransportError", code: "SendFailed" });
    const before = aliceState.seq;
    // The restarted wallet: same journal, packets and state; pay() routes again (a later expiry).
    await sleep(1_100);
    transport = aliceWallet(log);
    const result = await alicePays(text);
    expect(result.preimage).to.equal(invoices[invoices.length - 1].secret.toLowerCase());
    expect(aliceState.seq).to.equal(before + 2); // the journaled LOCK and its UNLOCK, nothing else
    const locks = (await h.readAll(h.topics.transfers))
      .filter((r) => r.value)
      .map((r) => codecs().transfer.decode(r.value as Buffer).transfer)
      .filter((t) => t.channelId === ab.id && t.kind === TransferKind.Lock && t.hashlock === hashlock);
    expect(locks).to.have.length(1);
    await waitFor("Bob's node records both payments settled", async () => {
      const rows = (await getJson<{ payments: { state: string }[] }>(`${node?.url}/payments`)).body.payments;
      return rows.length === 2 && rows.every((x) => x.state === "SETTLED_UPSTREAM");
    });
    expect((await h.deadLetters()).filter((d) => d.reasonCode === "Equivocation")).to.have.length(0);
  });

  it("Carol does not know the invoice: she fails it back through Bob's node, pay rejects at once (terminal) naming the payee's hop", async () => {
    const amount = parseEther("0.001");
    const { text } = await createRoutedInvoice({
      domain: h.domain,
      signer: localSigner(carol.privateKey as Hex),
      amount,
      validity: 3_600,
      now: chainNowS(),
    }); // not in Carol's store: she has no secret for it
    const events: PaymentEvent[] = [];
    const e = await alicePays(text, events).catch((x: unknown) => x);
    expect(e).to.be.instanceOf(PaymentFailedError);
    expect(e).to.include({ hop: 1, channelId: bc.id, failureName: "UnknownPayment" });
    expect(describePaymentError(e)).to.equal(
      "The payment failed at hop 2 of 2: the payee does not know this payment (wrong, altered or already paid invoice).",
    );
    expect(events.map((x) => x.kind)).to.deep.equal(["attempt", "failed-attempt", "failed"]);
    expect(carolSaw.at(-1)).to.include({ kind: "refused", channelId: bc.id });
    // Carol consented to the CANCEL of the lock she refused, Bob's node cancelled its lock to her with it
    // and consented upstream, and Alice's wallet cancelled hers: every lock is released before any expiry.
    expect(aliceState.locks).to.have.length(0);
    expect(aliceState.lockedTotal).to.equal(0n);
    await waitFor("Bob's node applies Alice's consented CANCEL", () => aliceOf()?.seq === aliceState.seq);
    expect(aliceOf()?.lockedTotal).to.equal(0n);
    expect(bobOf()?.lockedTotal).to.equal(0n);
  });

  it("an invoice for more than Bob–Carol can carry now: Bob's node fails it back, pay rejects naming hop 2 and the reason", async () => {
    // Alice's graph still says Bob can forward 0.01 to Carol; after the first payment he has 0.006.
    const amount = parseEther("0.008");
    const text = await carolInvoice(amount);
    const events: PaymentEvent[] = [];
    const e = await alicePays(text, events).catch((x: unknown) => x);
    expect(e).to.be.instanceOf(PaymentFailedError);
    const failed = e as PaymentFailedError;
    expect(failed).to.include({ hop: 1, channelId: bc.id, failureName: "InsufficientCapacity" });
    const words = describePaymentError(e);
    expect(words).to.equal("The payment failed at hop 2 of 2: the channel cannot carry the amount now.");
    expect(events.map((x) => x.kind)).to.deep.equal(["attempt", "failed-attempt", "failed"]);
    // Bob's node never forwarded: it consented to the CANCEL at once and Alice's wallet released the lock.
    expect(aliceState.locks).to.have.length(0);
    await waitFor("Bob's node applies Alice's consented CANCEL", () => aliceOf()?.seq === aliceState.seq);
    expect(aliceOf()?.lockedTotal).to.equal(0n);
    expect(carolSaw.filter((x) => x.kind === "settling")).to.have.length(2);
    const { body } = await getJson<{ payments: { state: string }[] }>(`${node?.url}/payments`);
    expect(body.payments.map((x) => x.state)).to.include("SETTLED_UPSTREAM");
  });
});
