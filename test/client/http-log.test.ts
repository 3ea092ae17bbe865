/**
 * The client's `httpPaymentLog` (client/src/payment/http-log.ts) against a real node: the routed payment
 * of test/relayer/network-pay.test.ts (Alice → Bob's mediating node → Carol, real broker and chain) with
 * both wallets on the node's HTTP payments API instead of Kafka; then the adapter's own contract: the
 * node's refusals surface as `PaymentLogHttpError`s with its `{ error, message }`, a subscription rides out
 * failed polls with backoff, and `close()` stops it.
 */
import { expect } from "chai";
import hre from "hardhat";
import { Wallet, ZeroAddress, parseEther } from "ethers";
import {
  ChannelGraph,
  GENESIS_STATE,
  MissionControl,
  codecs,
  createRoutedInvoice,
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
  PaymentLogHttpError,
  httpPaymentLog,
  isClientError,
  paymentTransport,
  receivePayments,
  type IssuedInvoice,
  type LoggedTransfer,
  type PayeeEvent,
  type PaymentLog,
  type Subscription,
} from "../../client";
import { ParsecNode } from "../../relayer/src/node";
import { resolveTopicNames } from "../../relayer/src/config";
import {
  Harness,
  TEST_MEDIATION_POLICY,
  getJson,
  sleep,
  testLogger,
  waitFor,
  type TestChannel,
} from "../relayer/harness";

const { feeBase: FEE_BASE, feePpm: FEE_PPM } = TEST_MEDIATION_POLICY;
/** Bob's side of Bob–Carol: what he can forward to Carol at most. */
const BOB_TO_CAROL = parseEther("0.01");

describe("client: httpPaymentLog, a routed payment over a node's HTTP API", function () {
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
  let aliceLog: ReturnType<typeof httpPaymentLog>;
  let carolLog: ReturnType<typeof httpPaymentLog>;
  const logErrors: PaymentLogHttpError[] = [];
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
    // Two wallets, each with its own log on Bob's node (as two browsers would have).
    const onError = (e: PaymentLogHttpError) => void logErrors.push(e);
    aliceLog = httpPaymentLog({ baseUrl: node.url as string, pollWaitMs: 2_000, onError });
    carolLog = httpPaymentLog({ baseUrl: node.url as string, pollWaitMs: 2_000, onError });
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

    transport = aliceWallet(aliceLog);
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
      log: carolLog,
      peer,
      onEvent: (e) => carolSaw.push(e),
      now: chainNowMs,
    });
  });
  after(async () => {
    carolSub?.stop();
    aliceLog?.close();
    carolLog?.close();
    await node?.stop();
    await h?.client
      .deleteTopics([`${h.prefix}parsec.payment-messages`, `${h.prefix}parsec.channel-graph`])
      .catch(() => undefined);
    await h?.close();
  });

  it("Alice pays Carol's routed invoice through Bob's node, both wallets on HTTP only: pay resolves with the preimage, route and fee; Bob earns exactly his fee", async () => {
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
    const metrics = await (await fetch(`${node?.url}/metrics`)).text();
    expect(metrics).to.match(new RegExp(`parsec_payments_fees_earned(\\{[^}]*\\})? ${fee}\\b`));
    console.log(`      (paid ${amount} + fee ${fee} through Bob's node in ${took} ms)`);
  });

  it("the node's refusal rejects the send with a PaymentLogHttpError keeping the node's { error, message }", async () => {
    const t = ab.sign(1, { kind: "PAY", amount: 1n }).transfer; // Bob's key, but it claims to be Alice's
    const e = await aliceLog.sendTransfer({ ...t, payer: 0 }).catch((x: unknown) => x);
    expect(e).to.be.instanceOf(PaymentLogHttpError);
    expect(isClientError(e)).to.equal(true);
    const err = e as PaymentLogHttpError;
    expect(err).to.include({ code: "NodeApi", status: 400 });
    expect(err.nodeError?.error).to.equal("BadSignature");
    expect(err.message).to.include("BadSignature").and.include("not to payer 0");
  });

  it("a subscription retries failed polls with backoff and still hands every record over once, in order; close() stops it", async () => {
    let failures = 3;
    const flaky: typeof fetch = async (input, init) => {
      if (failures > 0) {
        failures -= 1;
        throw new TypeError("fetch failed (the network is down)");
      }
      return fetch(input, init);
    };
    const errors: PaymentLogHttpError[] = [];
    const log: PaymentLog & { close(): void } = httpPaymentLog({
      baseUrl: node?.url as string,
      fetch: flaky,
      pollWaitMs: 1_000,
      onError: (e) => void errors.push(e),
    });
    const seen: LoggedTransfer[] = [];
    log.transfers(ab.id, (m) => void seen.push(m));
    const onTopic = (await h.readAll(h.topics.transfers))
      .filter((r) => r.value && r.key?.toString("hex") === ab.id.slice(2))
      .map((r) => codecs().transfer.decode(r.value as Buffer));
    await waitFor("every transfer of Alice–Bob, after the failed polls", () => seen.length >= onTopic.length);
    expect(errors).to.have.length(3);
    expect(errors[0]).to.include({ status: null });
    expect(seen.map((m) => [m.transfer.payer, m.transfer.seq, m.appKind])).to.deep.equal(
      onTopic.map((m) => [m.transfer.payer, m.transfer.seq, m.appKind]),
    );
    expect(seen.find((m) => m.appKind === "ROUTE")?.appData).to.have.length.greaterThan(100);
    log.close();
    const count = seen.length;
    await aliceLog.sendTransfer(ab.next(1, { kind: "PAY", amount: 1n }).transfer);
    await sleep(1_500);
    expect(seen).to.have.length(count);
    expect(logErrors, logErrors.map((e) => e.message).join("\n")).to.deep.equal([]);
  });
});
