/**
 * Item 3 of the node-reliability issue: health and lag say what the node processed, not what it fetched.
 * The monitor's rules in a table (injected clock, no Kafka), then a node on a real broker whose reorder
 * window holds a transfer for a seq that does not come: health degrades with the reason and recovers
 * when the seq arrives.
 */
import { expect } from "chai";
import { parseEther } from "ethers";
import { DEFAULT_TOPICS } from "../../sdk";
import { HealthMonitor, type PartitionView, type ProcessedOffsets } from "../../relayer/src/health";
import { ParsecNode } from "../../relayer/src/node";
import { Harness, getJson, testLogger, waitFor } from "./harness";

const LIMITS = { stallMs: 10_000, windowMaxAgeMs: 20_000, chainStaleMs: 30_000 };

function view(
  partition: number,
  progress: ProcessedOffsets,
  waiting: { count: number; oldestOffset: number | null } = { count: 0, oldestOffset: null },
): PartitionView {
  return { partition, progress, waiting: () => waiting };
}

describe("relayer unit: health from processed offsets (item 3)", () => {
  const t = DEFAULT_TOPICS;
  let now = 0;
  const monitor = (): HealthMonitor => new HealthMonitor(LIMITS, t, () => now);
  const at = (n: number): ProcessedOffsets => ({ transfers: n, control: -1, signatures: -1 });

  beforeEach(() => (now = 1_000_000));

  it("lag is the end offset minus the processed offset, per partition", () => {
    const m = monitor();
    m.noteEnd(t.transfers, 0, 100);
    m.noteEnd(t.transfers, 1, 50);
    m.observe([view(0, at(89)), view(1, at(49))], now);
    const lag = m.lag().filter((l) => l.topic === t.transfers);
    expect(lag).to.deep.equal([
      { topic: t.transfers, partition: 0, lag: 10 },
      { topic: t.transfers, partition: 1, lag: 0 },
    ]);
    expect(m.problems()).to.deep.equal([]);
  });

  it("a partition with records waiting and no progress for stallMs degrades health; progress clears it", () => {
    const m = monitor();
    m.noteEnd(t.transfers, 3, 500);
    m.observe([view(3, at(199))], now);
    now += LIMITS.stallMs - 1;
    m.observe([view(3, at(199))], now);
    expect(m.problems()).to.deep.equal([]);
    now += 1;
    m.observe([view(3, at(199))], now);
    expect(m.problems()).to.have.length(1);
    expect(m.problems()[0]).to.include("partition 3").and.include("300 records waiting");
    expect(m.summary().stalled).to.equal(1);
    now += 1000;
    m.observe([view(3, at(250))], now);
    expect(m.problems()).to.deep.equal([]);
  });

  it("no records waiting is not a stall, however long nothing arrives", () => {
    const m = monitor();
    m.noteEnd(t.transfers, 0, 10);
    for (let i = 0; i < 5; i++) {
      m.observe([view(0, at(9))], now);
      now += LIMITS.stallMs;
    }
    expect(m.problems()).to.deep.equal([]);
  });

  it("a transfer held in a window for windowMaxAgeMs degrades health until it leaves", () => {
    const m = monitor();
    const held = { count: 3, oldestOffset: 42 };
    m.observe([view(1, at(60), held)], now);
    now += LIMITS.windowMaxAgeMs;
    m.observe([view(1, at(60), held)], now);
    expect(m.problems()[0]).to.include("offset 42").and.include("reorder window");
    expect(m.summary()).to.include({ waiting: 3, oldestWaitingMs: LIMITS.windowMaxAgeMs });
    // The gap filled: the old transfer left, a younger one waits now.
    m.observe([view(1, at(70), { count: 1, oldestOffset: 71 })], now);
    expect(m.problems()).to.deep.equal([]);
  });

  it("an unreachable chain degrades health after chainStaleMs", () => {
    const m = monitor();
    m.observe([], null);
    expect(m.problems()).to.deep.equal(["the chain RPC has not answered yet"]);
    const polled = now;
    now += LIMITS.chainStaleMs;
    m.observe([], polled);
    expect(m.problems()[0]).to.include("has not answered for 30 s");
    m.observe([], now);
    expect(m.problems()).to.deep.equal([]);
  });

  it("forgets partitions it no longer holds", () => {
    const m = monitor();
    m.noteEnd(t.transfers, 2, 100);
    m.observe([view(2, at(10))], now);
    now += LIMITS.stallMs;
    m.observe([view(2, at(10))], now);
    expect(m.problems()).to.have.length(1);
    m.observe([], now);
    expect(m.problems()).to.deep.equal([]);
    expect(m.lag()).to.deep.equal([]);
  });
});

describe("relayer: health on a real broker (item 3)", function () {
  this.timeout(120_000);
  let h: Harness;
  let node: ParsecNode | null = null;
  before(async () => {
    h = await Harness.create();
  });
  after(async () => {
    await node?.stop();
    await h?.close();
  });

  it("a transfer waiting for a seq that never comes degrades /health with the reason; the seq heals it", async () => {
    const c = await h.openChannel(parseEther("5"), parseEther("5"));
    node = await ParsecNode.start(h.config({ health: { windowMaxAgeMs: 1500 } }), { logger: testLogger() });
    const first = c.next(0, { kind: "PAY", amount: 1000n });
    const second = c.next(0, { kind: "PAY", amount: 1000n });
    await h.produce([c.record(second.wire)]);
    const url = node.url as string;
    const degraded = await waitFor(
      "health degraded by the waiting transfer",
      async () => {
        const r = await getJson<{ ok: boolean; problems: string[]; waitingInWindows: number }>(
          `${url}/health`,
        );
        return r.status === 503 && r.body.problems.some((p) => p.includes("reorder window")) ? r : undefined;
      },
      30_000,
    );
    expect(degraded.body.ok).to.equal(false);
    expect(degraded.body.waitingInWindows).to.equal(1);
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).to.match(/parsec_window_pending 1\b/);
    await h.produce([c.record(first.wire)]);
    await waitFor(
      "healthy again, both transfers applied",
      async () => {
        const r = await getJson<{ ok: boolean; lag: number }>(`${url}/health`);
        const ch = await getJson<{ payers: { seq: number }[] }>(`${url}/channels/${c.id}`);
        return r.body.ok && r.body.lag === 0 && ch.body.payers[0].seq === 2;
      },
      30_000,
    );
  });
});
