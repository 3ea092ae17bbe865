import { expect } from "chai";
import {
  ChannelGraph,
  MissionControl,
  ZERO_ADDRESS,
  findRoutes,
  isParsecError,
  localSigner,
  nextRoute,
  reportAttempt,
  signChannelUpdate,
  type Address,
  type ChannelDirection,
  type ChannelUpdate,
  type FindRoutesRequest,
  type Hash,
  type Hex,
  type LocalSigner,
  type OpenChannel,
  type SignedChannelUpdate,
} from "../../sdk";
import { DOMAIN } from "./helpers";

const NOW = 1_700_000_000n;
const HOUR = 3600n;
const key = (n: number): Hex => `0x${n.toString(16).padStart(64, "0")}` as Hex;
const nodes = {
  alice: localSigner(key(0xa1)),
  bob: localSigner(key(0xb2)),
  carol: localSigner(key(0xc3)),
  dave: localSigner(key(0xd4)),
  erin: localSigner(key(0xe5)),
};
type Name = keyof typeof nodes;
const addr = (n: Name): Address => nodes[n].address;

/** A forwarding policy from `from` to `to` (the fields of the update `from` signs). */
type Policy = Partial<Omit<ChannelUpdate, "channelId" | "direction" | "timestamp">> & { at?: bigint };
interface Link {
  readonly a: Name;
  readonly b: Name;
  /** a's policy forwarding to b; b's forwarding to a (omitted: b does not announce). */
  readonly ab: Policy;
  readonly ba?: Policy;
}

const DEFAULT_POLICY = {
  capacity: 10_000_000n,
  feeBase: 0n,
  feePpm: 0,
  expiryDelta: 600,
  htlcMinimum: 1n,
  htlcMaximum: 10_000_000n,
  disabled: false,
};

interface Net {
  readonly graph: ChannelGraph;
  readonly ids: Record<string, Hash>;
  readonly updates: SignedChannelUpdate[];
  readonly lookup: (id: Hash) => OpenChannel | undefined;
}

const channelId = (a: Name, b: Name): Hash =>
  `0x${Buffer.from(`${a}-${b}`.padEnd(32, ".")).subarray(0, 32).toString("hex")}` as Hash;

async function build(links: readonly Link[]): Promise<Net> {
  const channels = new Map<Hash, OpenChannel>();
  const ids: Record<string, Hash> = {};
  const updates: SignedChannelUpdate[] = [];
  for (const l of links) {
    const id = channelId(l.a, l.b);
    ids[`${l.a}-${l.b}`] = id;
    channels.set(id, { participant0: addr(l.a), participant1: addr(l.b), asset: ZERO_ADDRESS });
    const sign = async (signer: LocalSigner, direction: ChannelDirection, p: Policy) => {
      const { at, ...policy } = p;
      const u: ChannelUpdate = {
        ...DEFAULT_POLICY,
        ...policy,
        channelId: id,
        direction,
        timestamp: at ?? NOW,
      };
      updates.push(await signChannelUpdate(signer, DOMAIN, u));
    };
    await sign(nodes[l.a], 0, l.ab);
    if (l.ba) await sign(nodes[l.b], 1, l.ba);
  }
  const lookup = (id: Hash) => channels.get(id);
  const graph = new ChannelGraph({ domain: DOMAIN });
  for (const u of updates) expect(graph.applyUpdate(u, lookup, NOW).applied).to.equal(true);
  return { graph, ids, updates, lookup };
}

const request = (over: Partial<FindRoutesRequest> = {}): FindRoutesRequest => ({
  source: addr("alice"),
  target: addr("dave"),
  amount: 1_000_000n,
  asset: ZERO_ADDRESS,
  finalExpiryDelta: 3600,
  now: NOW,
  ...over,
});

function expectError(fn: () => unknown, code: string): Record<string, unknown> {
  try {
    fn();
  } catch (e) {
    if (!isParsecError(e)) throw e;
    expect(e.code).to.equal(code, e.message);
    return e.details as Record<string, unknown>;
  }
  throw new Error(`expected ${code}`);
}

// Alice → Bob → Carol → Dave; Bob charges 10 + 1000 ppm and 600 s, Carol 5 + 2000 ppm and 300 s.
const LINE: Link[] = [
  { a: "alice", b: "bob", ab: { feeBase: 1_000n, feePpm: 50_000, expiryDelta: 9_999 } },
  { a: "bob", b: "carol", ab: { feeBase: 10n, feePpm: 1000, expiryDelta: 600 } },
  { a: "carol", b: "dave", ab: { feeBase: 5n, feePpm: 2000, expiryDelta: 300 } },
];

// Alice → Bob → Dave (cheap) and Alice → Carol → Dave (dearer).
const diamond = (bobCapacity: bigint): Link[] => [
  { a: "alice", b: "bob", ab: {} },
  { a: "alice", b: "carol", ab: {} },
  { a: "bob", b: "dave", ab: { feeBase: 1n, feePpm: 100, capacity: bobCapacity } },
  { a: "carol", b: "dave", ab: { feeBase: 1n, feePpm: 200 } },
];

describe("sdk/routing/router: findRoutes, mission control, attempts", () => {
  it("computes amounts and expiries backwards from the payee (4-node line, hand-computed)", async () => {
    const { graph, ids } = await build(LINE);
    const [route, ...rest] = findRoutes(graph, request());
    expect(rest).to.deep.equal([]);
    // hop 3 Carol→Dave: 1,000,000 at now+3600; Carol keeps 5 + floor(1,000,000 × 2000 / 1e6) = 2005.
    // hop 2 Bob→Carol: 1,002,005 at now+3900; Bob keeps 10 + floor(1,002,005 × 1000 / 1e6) = 1012.
    // hop 1 Alice→Bob: 1,003,017 at now+4500; Alice's own policy is not charged.
    expect(route.hops).to.deep.equal([
      {
        channelId: ids["alice-bob"],
        direction: 0,
        from: addr("alice"),
        to: addr("bob"),
        amount: 1_003_017n,
        expiry: NOW + 4500n,
        fee: 0n,
      },
      {
        channelId: ids["bob-carol"],
        direction: 0,
        from: addr("bob"),
        to: addr("carol"),
        amount: 1_002_005n,
        expiry: NOW + 3900n,
        fee: 1012n,
      },
      {
        channelId: ids["carol-dave"],
        direction: 0,
        from: addr("carol"),
        to: addr("dave"),
        amount: 1_000_000n,
        expiry: NOW + 3600n,
        fee: 2005n,
      },
    ]);
    expect(route).to.include({ amount: 1_003_017n, fee: 3017n, expiry: NOW + 4500n, expiryDelta: 4500 });
    expect(route.probability).to.be.closeTo(0.6 ** 3, 1e-12);
  });

  it("picks the dearer branch of a diamond when the cheaper lacks capacity", async () => {
    const table: [bigint, Name][] = [
      [10_000_000n, "bob"],
      [999_999n, "carol"],
    ];
    for (const [capacity, via] of table) {
      const { graph } = await build(diamond(capacity));
      const [best] = findRoutes(graph, request());
      expect(
        best.hops.map((h) => h.to),
        String(capacity),
      ).to.deep.equal([addr(via), addr("dave")]);
    }
    const { graph } = await build(diamond(10_000_000n));
    const routes = findRoutes(graph, request());
    expect(routes.map((r) => r.hops[0].to)).to.deep.equal([addr("bob"), addr("carol")]);
    expect(routes[0].cost < routes[1].cost).to.equal(true);
  });

  it("respects the hop limit and the expiry budget", async () => {
    const { graph } = await build(LINE);
    expect(findRoutes(graph, request({ hopLimit: 3 }))).to.have.length(1);
    expect(expectError(() => findRoutes(graph, request({ hopLimit: 2 })), "NoRoute")).to.include({
      hopLimit: 2,
    });
    expect(findRoutes(graph, request({ maxExpiryDelta: 4500 }))).to.have.length(1);
    expect(expectError(() => findRoutes(graph, request({ maxExpiryDelta: 4499 })), "NoRoute")).to.include({
      maxExpiryDelta: 4499,
      neededExpiryDelta: 4500,
    });
  });

  it("refuses routes over the fee limit with FeeTooHighError carrying the numbers", async () => {
    const { graph } = await build(LINE);
    expect(findRoutes(graph, request({ maxFee: 3017n }))).to.have.length(1);
    expect(expectError(() => findRoutes(graph, request({ maxFee: 3016n })), "FeeTooHigh")).to.deep.equal({
      amount: 1_000_000n,
      maxFee: 3016n,
      cheapestFee: 3017n,
    });
    // Default: 1% of the amount.
    expect(expectError(() => findRoutes(graph, request({ amount: 200n })), "FeeTooHigh")).to.include({
      maxFee: 2n,
    });
  });

  it("reports InsufficientCapacityError with the largest routable amount, NoRouteError without a path", async () => {
    const { graph } = await build(diamond(999_999n));
    expect(
      expectError(() => findRoutes(graph, request({ amount: 20_000_000n })), "InsufficientCapacity"),
    ).to.deep.equal({
      amount: 20_000_000n,
      maxRoutable: 10_000_000n,
    });
    expectError(() => findRoutes(graph, request({ target: addr("erin") })), "NoRoute");
    expectError(() => findRoutes(graph, request({ asset: addr("erin") })), "NoRoute");
    expectError(() => findRoutes(graph, request({ source: addr("dave"), target: addr("alice") })), "NoRoute");
    expectError(() => findRoutes(graph, request({ amount: 0n })), "Malformed");
  });

  it("does not use a disabled direction", async () => {
    const links = diamond(10_000_000n);
    links[2] = { ...links[2], ab: { ...links[2].ab, disabled: true } };
    const { graph } = await build(links);
    const routes = findRoutes(graph, request());
    expect(routes.map((r) => r.hops[0].to)).to.deep.equal([addr("carol")]);
    const { graph: line } = await build([LINE[0], { ...LINE[1], ab: { disabled: true } }, LINE[2]]);
    expectError(() => findRoutes(line, request()), "NoRoute");
    // The payer's own direction may be disabled (it forwards nothing for others) and is still its first hop.
    const { graph: wallet } = await build([{ ...LINE[0], ab: { disabled: true } }, LINE[1], LINE[2]]);
    expect(findRoutes(wallet, request())[0].amount).to.equal(1_003_017n);
  });

  it("routes around a failed channel, and the penalty decays with the half-life", async () => {
    const { graph, ids } = await build(diamond(10_000_000n));
    const mc = new MissionControl();
    const via = (now: bigint) => findRoutes(graph, request({ now, missionControl: mc }))[0].hops[0].to;
    expect(via(NOW)).to.equal(addr("bob"));
    const [best] = findRoutes(graph, request({ missionControl: mc }));
    reportAttempt(mc, best, { failedHop: 1 }, NOW);
    expect(mc.probability(ids["bob-dave"], 0, 1_000_000n, NOW)).to.equal(0);
    expect(mc.probability(ids["alice-bob"], 0, 1_000_000n, NOW)).to.equal(0.95);
    expect(via(NOW)).to.equal(addr("carol"));
    // One half-life later the probability is half the a-priori one; still penalised against Carol.
    expect(mc.probability(ids["bob-dave"], 0, 1_000_000n, NOW + HOUR)).to.be.closeTo(0.3, 1e-12);
    expect(via(NOW + HOUR)).to.equal(addr("carol"));
    // Smaller amounts than the failed one are not penalised.
    expect(mc.probability(ids["bob-dave"], 0, 999_999n, NOW)).to.equal(0.6);
    // After several half-lives Bob is cheaper again.
    expect(via(NOW + 10n * HOUR)).to.equal(addr("bob"));
    // Bounded memory.
    const small = new MissionControl({ maxEntries: 2 });
    for (const id of Object.values(ids)) small.reportFailure(id, 0, 0n, NOW);
    expect(small.size).to.equal(2);
  });

  it("nextRoute tries, then gives up after the attempts or the deadline", async () => {
    const { graph } = await build(diamond(10_000_000n));
    const mc = new MissionControl();
    const req = request({ missionControl: mc });
    const first = nextRoute(graph, req, { attempts: 0, startedAt: NOW });
    if (first.action !== "try") throw new Error("expected a route");
    expect(first.attempt).to.equal(1);
    reportAttempt(mc, first.route, { failedHop: 1, anyAmount: true }, NOW);
    const second = nextRoute(graph, req, { attempts: 1, startedAt: NOW });
    if (second.action !== "try") throw new Error("expected a route");
    expect(second.route.hops[0].to).to.equal(addr("carol"));
    reportAttempt(mc, second.route, { failedHop: 1 }, NOW);
    const third = nextRoute(graph, req, { attempts: 2, startedAt: NOW });
    expect(third).to.include({ action: "giveUp", reason: "noRoute" });
    expect(nextRoute(graph, req, { attempts: 3, startedAt: NOW }, { maxAttempts: 3 })).to.deep.equal({
      action: "giveUp",
      reason: "maxAttempts",
    });
    expect(nextRoute(graph, request({ now: NOW + 60n }), { attempts: 0, startedAt: NOW })).to.deep.equal({
      action: "giveUp",
      reason: "deadline",
    });
  });

  it("uses the payee's route hints for unannounced last hops", async () => {
    const { graph } = await build([LINE[0], LINE[1]]);
    expectError(() => findRoutes(graph, request()), "NoRoute");
    const hint = {
      channelId: channelId("carol", "dave"),
      node: addr("carol"),
      feeBase: 5n,
      feePpm: 2000,
      expiryDelta: 300,
    };
    const [route] = findRoutes(graph, request({ routeHints: [hint] }));
    expect(route).to.include({ amount: 1_003_017n, fee: 3017n, expiryDelta: 4500 });
  });

  it("is deterministic: the same routes whatever the order updates arrived in", async () => {
    const links: Link[] = [
      ...diamond(10_000_000n),
      { a: "alice", b: "erin", ab: {} },
      { a: "erin", b: "dave", ab: { feeBase: 1n, feePpm: 100 } },
    ];
    const { updates, lookup } = await build(links);
    const results: string[] = [];
    for (let k = 0; k < 5; k++) {
      const g = new ChannelGraph({ domain: DOMAIN });
      const order = updates
        .map((u, i) => ({ u, r: (i * 7 + k * 3) % updates.length }))
        .sort((x, y) => x.r - y.r);
      for (const { u } of order) g.applyUpdate(u, lookup, NOW);
      const routes = findRoutes(g, request({ maxRoutes: 5 }));
      results.push(JSON.stringify(routes, (_, v) => (typeof v === "bigint" ? v.toString() : v)));
    }
    expect(new Set(results).size).to.equal(1);
    expect(JSON.parse(results[0])).to.have.length(3);
  });
});
