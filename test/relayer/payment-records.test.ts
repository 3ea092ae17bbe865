// Each mediated payment is its own changelog record (unit, no Kafka: the transactional writer and the
// changelog are an in-memory log). A flush writes the channel's snapshot and only the payments that
// changed; a finished payment leaves a tombstone; a restore, from the changelog or from the local file,
// gets back exactly the payments in flight; a snapshot that still carries its payments (written before
// they had records of their own) is restored and its payments are written as records at the next flush.
import { expect } from "chai";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { type Address, type Hash, type Hex, OnionFailureCode } from "../../sdk";
import { loadConfig } from "../../relayer/src/config";
import { Metrics } from "../../relayer/src/http/metrics";
import type { InRecord, LogClient, PartitionWriter } from "../../relayer/src/kafka/client";
import { silentLogger } from "../../relayer/src/log";
import { applyEvent, startPayment } from "../../relayer/src/mediate";
import { awaitsFlush, type PaymentEntry } from "../../relayer/src/mediate/entry";
import { PartitionState } from "../../relayer/src/state/partition";
import { encodeSnapshot, paymentOfChangelogKey, snapshotOf } from "../../relayer/src/state/snapshot";

const CHANNEL = `0x${"c1".repeat(32)}` as Hash;
const NEXT = `0x${"c2".repeat(32)}` as Hash;

function received(seq: bigint): PaymentEntry {
  return {
    record: startPayment({
      type: "RECEIVED",
      incoming: {
        channelId: CHANNEL,
        asset: `0x${"00".repeat(20)}` as Address,
        payerSeq: seq,
        hashlock: `0x${seq.toString(16).padStart(64, "0")}` as Hash,
        amount: 1_002_000n,
        expiry: 1_700_007_200n,
      },
      instructions: { nextChannel: NEXT, amount: 1_000_000n, expiry: 1_700_003_600n },
      at: 1_700_000_000n,
    }),
    upstream: 0,
    upstreamResolved: null,
    sharedSecret: `0x${"11".repeat(32)}` as Hex,
    next: null,
    op: null,
    updatedAt: 1_700_000_000n,
  };
}

/** The same payment refused upstream and cancelled: finished. */
function cancelled(e: PaymentEntry): PaymentEntry {
  const refused = applyEvent(e.record, {
    type: "REFUSED",
    failure: { code: OnionFailureCode.TemporaryFailure, reason: "test" },
    at: 1_700_000_001n,
  });
  const sent = applyEvent(refused, { type: "FAILURE_SENT", at: 1_700_000_002n });
  return { ...e, record: applyEvent(sent, { type: "UPSTREAM_CANCELLED", at: 1_700_000_003n }) };
}

/** A changelog shared by the partitions of one test: what their writers commit, a restore reads. */
class MemoryChangelog {
  readonly records: InRecord[] = [];

  client(): LogClient {
    return {
      endOffsets: async () => new Map([[0, this.records.length]]),
      readPartition: async (
        _topic: string,
        _p: number,
        from: number,
        to: number,
        each: (rs: readonly InRecord[]) => void,
      ) => each(this.records.slice(from, to)),
    } as unknown as LogClient;
  }

  writer(): PartitionWriter {
    return {
      transactionalId: "test",
      commit: async (writes) => {
        const last = new Map<string, number>();
        for (const w of writes) {
          if (!w.topic.endsWith("changelog")) continue;
          for (const r of w.records)
            this.records.push({
              topic: w.topic,
              partition: 0,
              offset: this.records.length,
              key: r.key === null || r.key === undefined ? null : Buffer.from(r.key),
              value: r.value === null || r.value === undefined ? null : Buffer.from(r.value),
              timestampMs: 0,
            });
          last.set(w.topic, this.records.length - 1);
        }
        return last;
      },
      close: async () => undefined,
    };
  }

  /** The payment keys of the records from `from` on, a tombstone as `-key`. */
  paymentsSince(from: number): string[] {
    return this.records.slice(from).flatMap((r) => {
      const p = paymentOfChangelogKey(r.key);
      return p ? [r.value === null ? `-${p.key}` : p.key] : [];
    });
  }
}

async function partition(log: MemoryChangelog, dir: string): Promise<PartitionState> {
  const config = loadConfig({
    env: {
      KAFKA_BROKERS: "127.0.0.1:1",
      PARSEC_RPC_URL: "http://127.0.0.1:1",
      PARSEC_CHANNELS_ADDRESS: "0x5FbDB2315678afecb367f032d93F642f64180aa3",
    },
    overrides: { state: { dir } },
  });
  const ps = new PartitionState(0, {
    config,
    client: log.client(),
    logger: silentLogger,
    metrics: new Metrics(),
    hashWires: async () => [],
  });
  ps.attach(log.writer());
  await ps.restore();
  return ps;
}

describe("relayer: each mediated payment is a changelog record of its own", () => {
  const dirs: string[] = [];
  const tempDir = (): string => {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), "parsec-payment-records-"));
    dirs.push(d);
    return d;
  };
  after(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));
  /** A partition on a fresh changelog and disk, its channel holding payments 0/1 and 0/2 in flight. */
  const withTwoPayments = async () => {
    const log = new MemoryChangelog();
    const dir = tempDir();
    const ps = await partition(log, dir);
    const ch = ps.channel(CHANNEL);
    const [a, b] = [received(1n), received(2n)];
    ch.putPayment("0/1", a);
    ch.putPayment("0/2", b);
    return { log, dir, ps, ch, a, b };
  };

  it("a flush writes only the changed payments, a finished one as a tombstone; restores get the ones in flight", async () => {
    const { log, dir, ps, ch, a, b } = await withTwoPayments();
    ps.markDirty(ch);
    let from = log.records.length;
    await ps.flush("journal");
    expect(log.paymentsSince(from).sort()).to.deep.equal(["0/1", "0/2"]);
    expect(ch.durablePayments.get("0/1")).to.equal(a);

    // One payment changes: only its record goes (the snapshot goes too, without payments inside).
    const b2: PaymentEntry = { ...b, updatedAt: b.updatedAt + 1n };
    ch.putPayment("0/2", b2);
    ps.markDirty(ch);
    expect(ch.durablePayments.get("0/2"), "not durable before the flush").to.equal(b);
    from = log.records.length;
    await ps.flush("journal");
    expect(log.paymentsSince(from)).to.deep.equal(["0/2"]);
    expect(ch.durablePayments.get("0/2")).to.equal(b2);

    // One finishes: a tombstone; dropping it from memory later writes nothing more.
    ch.putPayment("0/1", cancelled(a));
    ps.markDirty(ch);
    from = log.records.length;
    await ps.flush("journal");
    expect(log.paymentsSince(from)).to.deep.equal(["-0/1"]);
    ch.deletePayment("0/1");
    ps.markDirty(ch);
    from = log.records.length;
    await ps.flush("journal");
    expect(log.paymentsSince(from)).to.deep.equal([]);
    await ps.close();

    // From the changelog alone (a new member's empty disk), and from this node's local file.
    for (const restoreDir of [tempDir(), dir]) {
      const again = await partition(log, restoreDir);
      const restored = again.channels.get(CHANNEL);
      expect([...(restored?.payments.keys() ?? [])]).to.deep.equal(["0/2"]);
      expect(restored?.payments.get("0/2")).to.deep.equal(b2);
      expect(restored?.durablePayments.get("0/2")).to.equal(restored?.payments.get("0/2"));
      expect(restored?.changedPayments.size).to.equal(0);
      await again.close();
    }
  });

  it("a snapshot that carries its payments (the earlier layout) is restored, and its payments become records", async () => {
    const log = new MemoryChangelog();
    const ps = await partition(log, tempDir());
    const ch = ps.channel(CHANNEL);
    ps.markDirty(ch);
    await ps.flush("full");
    await ps.close();
    // Replace the channel's snapshot by one in the earlier layout, with a payment inside.
    const snapshotAt = log.records.findIndex((r) => r.key?.length === 32);
    const legacy = encodeSnapshot({
      ...snapshotOf(ch),
      mediation: { payments: new Map([["0/5", received(5n)]]), inbox: new Map() },
    });
    log.records[snapshotAt] = { ...log.records[snapshotAt], value: legacy };

    const again = await partition(log, tempDir());
    const restored = again.channel(CHANNEL);
    expect(restored.payments.get("0/5")).to.deep.equal(received(5n));
    expect([...restored.changedPayments]).to.deep.equal(["0/5"]);
    again.markDirty(restored);
    const from = log.records.length;
    await again.flush("full");
    expect(log.paymentsSince(from)).to.deep.equal(["0/5"]);
    await again.close();
    const third = await partition(log, tempDir());
    expect([...(third.channels.get(CHANNEL)?.payments.keys() ?? [])]).to.deep.equal(["0/5"]);
    await third.close();
  });

  it("a round steps the payments in flight only: a finished one leaves the live set, a restore rebuilds it", async () => {
    const { log, dir, ps, ch, a } = await withTwoPayments();
    expect([...ch.live()].map(([k]) => k)).to.deep.equal(["0/1", "0/2"]);
    ch.putPayment("0/1", cancelled(a));
    expect(
      [...ch.live()].map(([k]) => k),
      "finished: kept, not stepped",
    ).to.deep.equal(["0/2"]);
    expect(ch.payments.has("0/1")).to.equal(true);
    ps.markDirty(ch);
    await ps.flush("journal");
    await ps.close();
    const again = await partition(log, dir);
    expect([...again.channel(CHANNEL).live()].map(([k]) => k)).to.deep.equal(["0/2"]);
    again.channel(CHANNEL).deletePayment("0/2");
    expect([...again.channel(CHANNEL).live()]).to.deep.equal([]);
    await again.close();
  });
});

describe("relayer unit: which journal changes a payer waits on (awaitsFlush)", () => {
  const r = received(1n);
  const outgoing = { channelId: NEXT, payerSeq: 4n, amount: 1_000_000n, expiry: 1_700_003_600n };
  const forwarded: PaymentEntry = {
    ...r,
    record: applyEvent(r.record, { type: "FORWARDED", outgoing, at: 1_700_000_001n }),
    op: { kind: "LOCK", seq: 4 },
  };
  const delivered: PaymentEntry = {
    ...forwarded,
    record: applyEvent(forwarded.record, { type: "LOCK_DELIVERED", at: 1_700_000_002n }),
    op: null,
  };
  const unlockOwed: PaymentEntry = {
    ...delivered,
    record: applyEvent(delivered.record, {
      type: "SECRET_REVEALED",
      secret: `0x${"42".repeat(32)}` as Hash,
      at: 1_700_000_003n,
    }),
    op: { kind: "UNLOCK", seq: 5 },
  };
  const refused: PaymentEntry = {
    ...r,
    record: applyEvent(r.record, {
      type: "REFUSED",
      failure: { code: OnionFailureCode.TemporaryFailure, reason: "test" },
      at: 1_700_000_001n,
    }),
  };
  const failureSent: PaymentEntry = {
    ...refused,
    record: applyEvent(refused.record, { type: "FAILURE_SENT", at: 1_700_000_002n }),
  };
  const cases: [string, PaymentEntry, PaymentEntry | undefined, boolean][] = [
    ["a new payment, no decision yet", r, undefined, false],
    ["a forward: its LOCK is signed once journaled", forwarded, r, true],
    ["the same forward, already journaled", forwarded, forwarded, false],
    ["the LOCK seen applied (op cleared)", delivered, forwarded, false],
    ["an UNLOCK owed downstream: a new op (a later LOCK may follow it)", unlockOwed, delivered, true],
    ["another change while that UNLOCK is journaled", { ...unlockOwed, updatedAt: 1n }, unlockOwed, false],
    ["a refusal: the failure goes upstream once journaled", refused, r, true],
    ["a refusal never journaled before", refused, undefined, true],
    ["the failure sent", failureSent, refused, false],
  ];
  for (const [name, e, durable, expected] of cases)
    it(`${name}: ${expected ? "flush now" : "can wait"}`, () =>
      expect(awaitsFlush(e, durable)).to.equal(expected));
});
