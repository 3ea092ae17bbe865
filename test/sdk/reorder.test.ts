import { expect } from "chai";
import fc from "fast-check";
import {
  ReorderWindow,
  ZERO_HASH,
  type Hash,
  type PayerIndex,
  type Sequenced,
  type WindowEvent,
} from "../../sdk";
import { makeChannel, pays, rng, signChain } from "./helpers";

/** A synthetic chain of `n` links for `channel`/`payer` (hashes derived from the position). */
function chainOf(channel: number, payer: PayerIndex, n: number, variant = 0): Sequenced[] {
  const channelId = ("0x" + channel.toString(16).padStart(64, "0")) as Hash;
  const out: Sequenced[] = [];
  let prev: Hash = ZERO_HASH;
  for (let seq = 1; seq <= n; seq++) {
    const hash = ("0x" +
      [channel, payer, seq, variant].map((x) => x.toString(16).padStart(16, "0")).join("")) as Hash;
    out.push({ channelId, payer, seq, hash, prev });
    prev = hash;
  }
  return out;
}

function ordered<T extends Sequenced>(events: WindowEvent<T>[]): T[] {
  return events.flatMap((e) => (e.type === "ordered" ? [e.item] : []));
}

describe("sdk/reorder: the sliding window", () => {
  it("emits each payer's chain in exact order from shuffled, repeated input of many channels (property)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 31 }), fc.integer({ min: 2, max: 16 }), (seed, spread) => {
        const r = rng(seed);
        const chains = [chainOf(1, 0, 40), chainOf(1, 1, 25), chainOf(2, 0, 60), chainOf(3, 1, 10)];
        // Interleave, then displace each item by at most `spread` positions, then repeat some.
        const input: Sequenced[] = [];
        const cursors = chains.map(() => 0);
        while (cursors.some((c, i) => c < chains[i].length)) {
          const i = Math.floor(r() * chains.length);
          if (cursors[i] < chains[i].length) input.push(chains[i][cursors[i]++]);
        }
        const keyed = input.map((item, i) => ({ item, key: i + r() * spread }));
        keyed.sort((a, b) => a.key - b.key);
        const shuffled = keyed.map((k) => k.item);
        const withDupes: Sequenced[] = [];
        for (const it of shuffled) {
          withDupes.push(it);
          if (r() < 0.1) withDupes.splice(Math.max(0, withDupes.length - Math.floor(r() * 5)), 0, it);
        }
        const w = new ReorderWindow<Sequenced>({ capacity: spread * 4 + 8 });
        const events = withDupes.flatMap((it) => w.push(it));
        expect(events.filter((e) => e.type === "rejected" || e.type === "equivocation")).to.deep.equal([]);
        expect(events.filter((e) => e.type === "duplicate")).to.have.length(withDupes.length - input.length);
        const out = ordered(events);
        for (const c of chains) {
          const mine = out.filter((t) => t.channelId === c[0].channelId && t.payer === c[0].payer);
          expect(mine).to.deep.equal(c);
        }
        expect(w.gaps()).to.deep.equal([]);
      }),
      { numRuns: 60 },
    );
  });

  it("reports a gap that outlives the window and keeps the transfers nearest the head", () => {
    const c = chainOf(5, 0, 10);
    const w = new ReorderWindow<Sequenced>({ capacity: 3 });
    expect(w.push(c[0]).map((e) => e.type)).to.deep.equal(["ordered"]);
    // seq 2 is missing; 3, 4, 5 wait; 6 overflows the window.
    for (const i of [2, 3, 4]) expect(w.push(c[i])).to.deep.equal([]);
    expect(w.gaps()).to.deep.equal([
      { channelId: c[0].channelId, payer: 0, expected: 2, pending: 3, lowestPending: 3 },
    ]);
    const over = w.push(c[5]);
    expect(over).to.have.length(1);
    const gap = over[0];
    if (gap.type !== "rejected") throw new Error("expected a rejection");
    expect(gap.error.code).to.equal("SeqGap");
    expect(gap.item.seq).to.equal(6);
    expect(gap.error.details).to.include({ expected: 2, got: 6 });
    expect(w.pendingCount(c[0].channelId, 0)).to.equal(3);
    // The missing transfer arrives: 2..5 flow out in order.
    expect(ordered(w.push(c[1])).map((t) => t.seq)).to.deep.equal([2, 3, 4, 5]);
    expect(w.expected(c[0].channelId, 0)).to.equal(6);
  });

  it("a nearer arrival evicts the farthest pending transfer", () => {
    const c = chainOf(6, 1, 10);
    const w = new ReorderWindow<Sequenced>({ capacity: 3 });
    for (const i of [3, 4, 5]) expect(w.push(c[i])).to.deep.equal([]);
    const r = w.push(c[2]);
    expect(r.length).to.equal(1);
    expect(r[0].type === "rejected" && r[0].item.seq).to.equal(6);
    expect(ordered(w.push(c[0])).map((t) => t.seq)).to.deep.equal([1]);
    expect(ordered(w.push(c[1])).map((t) => t.seq)).to.deep.equal([2, 3, 4, 5]);
  });

  it("turns two different transfers with one seq into an equivocation proof, pending or emitted", () => {
    const a = chainOf(7, 1, 4);
    const b = chainOf(7, 1, 4, 1);
    const w = new ReorderWindow<Sequenced>({ capacity: 8 });
    w.push(a[0]);
    w.push(a[2]); // pending
    const pendingEq = w.push(b[2]);
    expect(pendingEq[0].type).to.equal("equivocation");
    if (pendingEq[0].type !== "equivocation") throw new Error("unreachable");
    expect(pendingEq[0].proof).to.deep.equal({
      channelId: a[0].channelId,
      payer: 1,
      seq: 3,
      first: a[2],
      second: b[2],
    });
    expect(pendingEq[0].error.code).to.equal("Equivocation");
    const emittedEq = w.push(b[0]);
    expect(emittedEq[0].type).to.equal("equivocation");
    // The first-seen transfer stays; the chain goes on from it.
    expect(ordered(w.push(a[1])).map((t) => t.hash)).to.deep.equal([a[1].hash, a[2].hash]);
  });

  it("rejects broken hash pointers and transfers older than its history", () => {
    const c = chainOf(9, 0, 30);
    const w = new ReorderWindow<Sequenced>({ capacity: 4, history: 4 });
    w.push(c[0]);
    const forged = { ...c[1], prev: c[1].hash };
    const r = w.push(forged);
    expect(r[0].type === "rejected" && r[0].error.code).to.equal("BrokenHashPointer");
    // A pending successor with a wrong pointer is dropped when its turn comes.
    w.push({ ...c[2], prev: ZERO_HASH });
    const drained = w.push(c[1]);
    expect(drained.map((e) => e.type)).to.deep.equal(["ordered", "rejected"]);
    for (const t of c.slice(2, 20)) w.push(t);
    const late = w.push(c[3]);
    expect(late[0].type === "rejected" && late[0].error.code).to.equal("Stale");
    expect(w.push(c[18])[0].type).to.equal("duplicate");
  });

  it("resumes a payer after a restored state, forgets channels, checks its options", () => {
    const c = chainOf(11, 0, 6);
    const w = new ReorderWindow<Sequenced>();
    w.resume(c[0].channelId, 0, 3, c[2].hash);
    expect(ordered(w.push(c[3])).map((t) => t.seq)).to.deep.equal([4]);
    w.forget(c[0].channelId);
    expect(w.expected(c[0].channelId, 0)).to.equal(1);
    expect(() => new ReorderWindow({ capacity: 0 })).to.throw(RangeError);
  });

  it("orders real signed transfers", () => {
    const ch = makeChannel();
    const { transfers } = signChain(ch, 0, pays(6));
    const w = new ReorderWindow<(typeof transfers)[number]>({ capacity: 6 });
    const out = [5, 3, 1, 0, 2, 4, 4].flatMap((i) => ordered(w.push(transfers[i])));
    expect(out.map((t) => t.seq)).to.deep.equal([1, 2, 3, 4, 5, 6]);
  });
});
