import { expect } from "chai";
import { sha256 } from "ethers";
import {
  ChannelGraph,
  InsufficientCapacityError,
  MissionControl,
  NoRouteError,
  OnionFailureCode,
  PaymentFailedError,
  PaymentTimeoutError,
  ZERO_ADDRESS,
  createFailure,
  createRoutedInvoice,
  describePaymentError,
  forwardFailure,
  forwardingFee,
  localSigner,
  onionPublicKey,
  pay,
  payWithEvents,
  peelOnion,
  signChannelUpdate,
  type Address,
  type AttemptOutcome,
  type ChannelDirection,
  type ChannelUpdate,
  type Hash,
  type Hex,
  type LocalSigner,
  type OpenChannel,
  type PaymentAttempt,
  type PaymentDeps,
  type PaymentEvent,
  type PaymentTransport,
  type SignedRoutedInvoice,
} from "../../sdk/isomorphic";
import { DOMAIN, expectCodeAsync } from "./helpers";

const NOW = 1_700_000_000n;
const key = (n: number): Hex => `0x${n.toString(16).padStart(64, "0")}` as Hex;
const KEYS = { alice: key(0xa1), bob: key(0xb2), carol: key(0xc3), dave: key(0xd4), erin: key(0xe5) };
type Name = keyof typeof KEYS;
const nodes = Object.fromEntries(Object.entries(KEYS).map(([n, k]) => [n, localSigner(k)])) as Record<
  Name,
  LocalSigner
>;
const addr = (n: Name): Address => nodes[n].address;
const nameOf = (a: Address): Name => (Object.keys(KEYS) as Name[]).find((n) => addr(n) === a) as Name;
const channelId = (a: Name, b: Name): Hash =>
  `0x${Buffer.from(`${a}-${b}`.padEnd(32, ".")).subarray(0, 32).toString("hex")}` as Hash;

type Policy = Partial<Omit<ChannelUpdate, "channelId" | "direction" | "timestamp">>;
const DEFAULT_POLICY = {
  capacity: 10_000_000n,
  feeBase: 0n,
  feePpm: 0,
  expiryDelta: 600,
  htlcMinimum: 1n,
  htlcMaximum: 10_000_000n,
  disabled: false,
};

/** Channels a→b, each announced by `a` (direction 0) with its policy. */
async function buildGraph(links: readonly [Name, Name, Policy][]): Promise<ChannelGraph> {
  const channels = new Map<Hash, OpenChannel>();
  const graph = new ChannelGraph({ domain: DOMAIN });
  for (const [a, b, policy] of links) {
    const id = channelId(a, b);
    channels.set(id, { participant0: addr(a), participant1: addr(b), asset: ZERO_ADDRESS });
    const u: ChannelUpdate = { ...DEFAULT_POLICY, ...policy, channelId: id, direction: 0, timestamp: NOW };
    const signed = await signChannelUpdate(nodes[a], DOMAIN, u);
    expect(graph.applyUpdate(signed, (c) => channels.get(c), NOW).applied).to.equal(true);
  }
  return graph;
}

// Alice → Bob → Carol → Dave (cheaper) and Alice → Bob → Erin → Dave (dearer).
const TWO_WAYS: [Name, Name, Policy][] = [
  ["alice", "bob", {}],
  ["bob", "carol", { feeBase: 10n, feePpm: 1000, expiryDelta: 600 }],
  ["carol", "dave", { feeBase: 5n, feePpm: 2000, expiryDelta: 300 }],
  ["bob", "erin", { feeBase: 20n, feePpm: 3000, expiryDelta: 600 }],
  ["erin", "dave", { feeBase: 5n, feePpm: 2000, expiryDelta: 300 }],
];

interface Sim {
  readonly transport: PaymentTransport;
  readonly attempts: PaymentAttempt[];
  /** Channel id → the code its forwarder fails with. */
  readonly refuse: Map<Hash, number>;
}

/**
 * Simulates the network: each node peels the onion with its own routing key, checks the lock as §11.4
 * says, forwards or fails (the failure made with its shared secret and wrapped by every earlier hop),
 * and the payee settles with its secret.
 */
function simulate(
  graph: ChannelGraph,
  invoice: SignedRoutedInvoice,
  secret: Hash,
  opts: { onAttempt?: () => void; answer?: (a: PaymentAttempt) => AttemptOutcome | undefined } = {},
): Sim {
  const attempts: PaymentAttempt[] = [];
  const refuse = new Map<Hash, number>();
  const transport: PaymentTransport = {
    async sendAttempt(attempt) {
      attempts.push(attempt);
      opts.onAttempt?.();
      const preset = opts.answer?.(attempt);
      if (preset) return preset;
      let packet: Uint8Array = attempt.packet;
      let lock = attempt.firstHopLock;
      let node = nameOf(attempt.route.hops[0].to);
      const secrets: Uint8Array[] = [];
      const failWith = (code: number, data?: Hash): AttemptOutcome => {
        let failure = createFailure(secrets[secrets.length - 1], { code, hopData: data });
        for (let i = secrets.length - 2; i >= 0; i--) failure = forwardFailure(secrets[i], failure);
        return { settled: false, failure };
      };
      for (;;) {
        const peeled = peelOnion(packet, KEYS[node], attempt.hashlock);
        secrets.push(peeled.sharedSecret);
        const p = peeled.payload;
        if (p.final) {
          if (node !== nameOf(invoice.invoice.payeeNode)) throw new Error("final payload at a mediator");
          if (p.paymentSecret !== invoice.invoiceId || p.totalAmount !== invoice.invoice.amount) {
            return failWith(OnionFailureCode.UnknownPayment);
          }
          if (lock.amount < p.amount) return failWith(OnionFailureCode.IncorrectAmount);
          if (lock.expiry < p.expiry) return failWith(OnionFailureCode.ExpiryTooSoon);
          return { settled: true, preimage: secret };
        }
        const code = refuse.get(p.nextChannel);
        if (code !== undefined) return failWith(code, p.nextChannel);
        const edge = graph.edge(p.nextChannel, 0 as ChannelDirection);
        if (!edge || edge.from !== addr(node))
          return failWith(OnionFailureCode.UnknownNextChannel, p.nextChannel);
        if (lock.amount - p.amount < forwardingFee(edge, p.amount)) {
          return failWith(OnionFailureCode.FeeInsufficient, p.nextChannel);
        }
        if (lock.expiry - p.expiry < BigInt(edge.expiryDelta)) {
          return failWith(OnionFailureCode.ExpiryTooSoon, p.nextChannel);
        }
        packet = peeled.next as Uint8Array;
        lock = { channelId: p.nextChannel, amount: p.amount, expiry: p.expiry };
        node = nameOf(edge.to);
      }
    },
  };
  return { transport, attempts, refuse };
}

/** A fake clock in milliseconds. */
function clock(startMs = Number(NOW) * 1000): { now: () => number; advance: (ms: number) => void } {
  let t = startMs;
  return { now: () => t, advance: (ms) => (t += ms) };
}

async function setup(over: { validity?: number; createdAt?: bigint } = {}) {
  const graph = await buildGraph(TWO_WAYS);
  const { invoice, text, secret } = await createRoutedInvoice({
    domain: DOMAIN,
    signer: nodes.dave,
    amount: 1_000_000n,
    description: "coffee",
    now: over.createdAt ?? NOW,
    validity: over.validity ?? 3600,
    minFinalExpiryDelta: 3600,
  });
  const missionControl = new MissionControl();
  const time = clock();
  const deps = (transport: PaymentTransport): PaymentDeps => ({
    graph,
    missionControl,
    source: addr("alice"),
    domain: DOMAIN,
    routingKeyOf: (n) => onionPublicKey(KEYS[nameOf(n)]),
    transport,
    now: time.now,
    sleep: async (ms) => time.advance(ms),
  });
  return { graph, invoice, text, secret, missionControl, time, deps };
}

describe("sdk/routing/payment: pay a routed invoice", () => {
  it("succeeds on the first route: the preimage, the fee and the route, the onion peeled hop by hop", async () => {
    const { graph, invoice, text, secret, deps } = await setup();
    const sim = simulate(graph, invoice, secret);
    const result = await pay(text, { maxFee: 10_000n }, deps(sim.transport));
    expect(result.preimage).to.equal(secret);
    expect(sha256(result.preimage)).to.equal(invoice.invoice.hashlock);
    expect(result.route.hops.map((h) => nameOf(h.to))).to.deep.equal(["bob", "carol", "dave"]);
    // Carol: 5 + 2000 ppm of 1,000,000 = 2,005; Bob: 10 + 1000 ppm of 1,002,005 = 1,012.
    expect(result.fee).to.equal(3_017n);
    expect(result.amount).to.equal(1_000_000n);
    expect(result.attempts).to.equal(1);
    expect(sim.attempts).to.have.length(1);
    expect(sim.attempts[0].firstHopLock).to.deep.equal({
      channelId: channelId("alice", "bob"),
      amount: 1_003_017n,
      expiry: result.route.expiry,
    });
    // The last lock expires minFinalExpiryDelta + the default 120 s margin after now.
    expect(result.route.hops[2].expiry).to.equal(NOW + 3600n + 120n);
  });

  it("retries another route when hop 1 lacks capacity, and mission control penalises that channel", async () => {
    const { graph, invoice, text, secret, missionControl, deps } = await setup();
    const sim = simulate(graph, invoice, secret);
    sim.refuse.set(channelId("bob", "carol"), OnionFailureCode.InsufficientCapacity);
    const events: PaymentEvent[] = [];
    const result = await pay(text, { maxFee: 10_000n, onStatus: (e) => events.push(e) }, deps(sim.transport));
    expect(result.preimage).to.equal(secret);
    expect(result.attempts).to.equal(2);
    expect(result.route.hops.map((h) => nameOf(h.to))).to.deep.equal(["bob", "erin", "dave"]);
    const failed = events[1];
    expect(failed.kind).to.equal("failed-attempt");
    if (failed.kind !== "failed-attempt") throw new Error("unreachable");
    expect(failed.failure).to.include({ hop: 1, channelId: channelId("bob", "carol"), node: addr("bob") });
    expect(failed.failure).to.include({ code: 18, name: "InsufficientCapacity", terminal: false });
    expect(failed.message).to.equal("failed at hop 2 of 3: the channel cannot carry the amount now");
    expect(failed.retrying).to.equal(true);
    // The failed amount is out for now; the hop before it forwarded, so it counts as a success.
    expect(missionControl.probability(channelId("bob", "carol"), 0, 1_002_005n, NOW)).to.equal(0);
    expect(missionControl.probability(channelId("alice", "bob"), 0, 1_000_000n, NOW)).to.be.above(0.9);
  });

  it("gives up with PaymentFailedError naming the last failing hop and reason when every route fails", async () => {
    const { graph, invoice, text, secret, deps } = await setup();
    const sim = simulate(graph, invoice, secret);
    sim.refuse.set(channelId("bob", "carol"), OnionFailureCode.InsufficientCapacity);
    sim.refuse.set(channelId("bob", "erin"), OnionFailureCode.ChannelDisabled);
    const e = (await expectCodeAsync(
      () => pay(text, { maxFee: 10_000n }, deps(sim.transport)),
      "PaymentFailed",
    )) as PaymentFailedError;
    expect(sim.attempts).to.have.length(2);
    expect(e.hop).to.equal(1);
    expect(e.channelId).to.equal(channelId("bob", "erin"));
    expect(e.failureCode).to.equal(OnionFailureCode.ChannelDisabled);
    expect(e.failureName).to.equal("ChannelDisabled");
    expect(e.details).to.include({ node: addr("bob"), attempts: 2, hops: 3 });
    expect(describePaymentError(e)).to.equal(
      "The payment failed at hop 2 of 3: the next channel is closing, closed or switched off.",
    );
  });

  it("stops at once when the payee refuses (UnknownPayment is terminal)", async () => {
    const { graph, invoice, text, secret, deps } = await setup();
    const other = await createRoutedInvoice({
      domain: DOMAIN,
      signer: nodes.dave,
      amount: 1_000_000n,
      now: NOW,
      secret,
    });
    // The payee checks the payment secret against another invoice of the same hashlock.
    const sim = simulate(graph, other.invoice, secret);
    const e = (await expectCodeAsync(
      () => pay(text, { maxFee: 10_000n }, deps(sim.transport)),
      "PaymentFailed",
    )) as PaymentFailedError;
    expect(sim.attempts).to.have.length(1);
    expect(e.failureName).to.equal("UnknownPayment");
    expect(e.hop).to.equal(2);
    expect(invoice.invoiceId).to.not.equal(other.invoice.invoiceId);
  });

  it("rejects a fee limit below the cheapest route with FeeTooHighError, sending nothing", async () => {
    const { graph, invoice, text, secret, deps } = await setup();
    const sim = simulate(graph, invoice, secret);
    const e = await expectCodeAsync(() => pay(text, { maxFee: 3_016n }, deps(sim.transport)), "FeeTooHigh");
    expect(e).to.have.nested.property("details.cheapestFee", 3_017n);
    expect(sim.attempts).to.have.length(0);
    expect(describePaymentError(e)).to.equal(
      "The cheapest route costs 3017 in fees, above your limit of 3016.",
    );
  });

  it("rejects an expired invoice with PaymentExpiredError before any attempt", async () => {
    const { graph, invoice, text, secret, deps } = await setup({ createdAt: NOW - 7200n, validity: 3600 });
    const sim = simulate(graph, invoice, secret);
    const events: PaymentEvent[] = [];
    const e = await expectCodeAsync(
      () => pay(text, { onStatus: (ev) => events.push(ev) }, deps(sim.transport)),
      "PaymentExpired",
    );
    expect(sim.attempts).to.have.length(0);
    expect(events.map((ev) => ev.kind)).to.deep.equal(["failed"]);
    expect(describePaymentError(e)).to.equal("The invoice has expired; ask the payee for a new one.");
    // A parsed invoice is checked as well.
    await expectCodeAsync(() => pay(invoice, {}, deps(sim.transport)), "PaymentExpired");
  });

  it("is bounded in time: no attempt starts after timeoutMs (fake clock)", async () => {
    const { graph, invoice, text, secret, time, deps } = await setup();
    const sim = simulate(graph, invoice, secret, {
      onAttempt: () => time.advance(10_000),
      answer: () => undefined,
    });
    sim.refuse.set(channelId("bob", "carol"), OnionFailureCode.TemporaryFailure);
    sim.refuse.set(channelId("bob", "erin"), OnionFailureCode.TemporaryFailure);
    const e = await expectCodeAsync(
      () => pay(text, { maxFee: 10_000n, timeoutMs: 15_000 }, deps(sim.transport)),
      "PaymentTimeout",
    );
    expect(sim.attempts).to.have.length(2);
    expect(e).to.have.nested.property("details.attempts", 2);
    expect(e).to.have.nested.property("details.failureName", "TemporaryFailure");
  });

  it("bounds attempts by maxAttempts", async () => {
    const { graph, invoice, text, secret, deps } = await setup();
    const sim = simulate(graph, invoice, secret);
    sim.refuse.set(channelId("bob", "carol"), OnionFailureCode.TemporaryFailure);
    const e = await expectCodeAsync(
      () => pay(text, { maxFee: 10_000n, maxAttempts: 1 }, deps(sim.transport)),
      "PaymentFailed",
    );
    expect(sim.attempts).to.have.length(1);
    expect(e.message).to.contain("1 attempts made");
  });

  it("does not accept a preimage that does not hash to the hashlock, and tries no other route", async () => {
    const { graph, invoice, text, secret, deps } = await setup();
    const sim = simulate(graph, invoice, secret, {
      answer: () => ({ settled: true, preimage: `0x${"77".repeat(32)}` as Hash }),
    });
    const e = (await expectCodeAsync(
      () => pay(text, { maxFee: 10_000n }, deps(sim.transport)),
      "PaymentFailed",
    )) as PaymentFailedError;
    expect(e.failureName).to.equal("WrongPreimage");
    expect(e.hop).to.equal(0);
    expect(sim.attempts).to.have.length(1);
  });

  it("reports status events in order, as a callback and as an async iterable", async () => {
    const { graph, invoice, text, secret, deps } = await setup();
    const sim = simulate(graph, invoice, secret);
    sim.refuse.set(channelId("bob", "carol"), OnionFailureCode.InsufficientCapacity);
    const { events, result } = payWithEvents(text, { maxFee: 10_000n }, deps(sim.transport));
    const seen: PaymentEvent[] = [];
    for await (const ev of events) seen.push(ev);
    expect(seen.map((ev) => ev.kind)).to.deep.equal(["attempt", "failed-attempt", "attempt", "succeeded"]);
    expect(seen.map((ev) => ("attempt" in ev ? ev.attempt : null))).to.deep.equal([1, 1, 2, null]);
    const done = seen[3];
    expect(done.kind === "succeeded" && done.result.preimage).to.equal(secret);
    expect((await result).attempts).to.equal(2);

    sim.refuse.set(channelId("bob", "erin"), OnionFailureCode.InsufficientCapacity);
    const failing = payWithEvents(text, { maxFee: 10_000n }, deps(sim.transport));
    const kinds: string[] = [];
    for await (const ev of failing.events) kinds.push(ev.kind);
    // Mission control still remembers Bob → Carol from the first payment, so only Bob → Erin is tried.
    expect(kinds).to.deep.equal(["attempt", "failed-attempt", "failed"]);
    await expectCodeAsync(() => failing.result, "PaymentFailed");
  });

  it("refuses a second payment of one hashlock while the first is in flight", async () => {
    const { graph, invoice, text, secret, deps } = await setup();
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => (release = r));
    const sim = simulate(graph, invoice, secret);
    const slow: PaymentTransport = {
      sendAttempt: async (a) => {
        await gate;
        return sim.transport.sendAttempt(a);
      },
    };
    const first = pay(text, { maxFee: 10_000n }, deps(slow));
    await expectCodeAsync(() => pay(text, { maxFee: 10_000n }, deps(slow)), "PaymentInFlight");
    release();
    expect((await first).preimage).to.equal(secret);
    // Once it is over, the hashlock is free again.
    expect((await pay(text, { maxFee: 10_000n }, deps(slow))).attempts).to.equal(1);
  });

  it("words every payment error", () => {
    expect(describePaymentError(new NoRouteError("no path"))).to.equal("No route to the payee was found.");
    expect(describePaymentError(new InsufficientCapacityError(10n, 7n))).to.equal(
      "No route can carry this amount (at most 7 fits through the network).",
    );
    expect(describePaymentError(new PaymentTimeoutError(1000, 3))).to.equal(
      "The payment took too long and was stopped after 3 attempt(s).",
    );
    expect(describePaymentError(new Error("boom"))).to.equal("boom");
  });
});
