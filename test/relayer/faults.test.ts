/**
 * The faults of the relayer issue, against real brokers and nodes running as child processes:
 *
 * - kill -9 of the node at random points, including between a chain transaction and the offset commit;
 * - a broker restart while the node runs (a one-broker cluster of its own, so it can be restarted);
 * - a three-broker cluster with two nodes where one stalls past its session timeout (SIGSTOP) and is
 *   fenced, and where one dies and the other takes over its partitions;
 * - random bytes and truncated Avro mixed into the transfer topic.
 *
 * Each scenario compares the final state with an independent computation (the test's own SDK ledgers)
 * and with the chain, and checks that nothing was applied twice: the only transfers dead-lettered as
 * Duplicate are the copies the test sent on purpose, and no valid transfer is dead-lettered at all.
 */
import { expect } from "chai";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { parseEther } from "ethers";
import { commitmentOf } from "../../sdk/src/eip712";
import type { Hash } from "../../sdk";
import { ParsecNode } from "../../relayer/src/node";
import { KafkaError } from "../../relayer/src/errors";
import { channelKey } from "../../relayer/src/kafka/topics";
import {
  startBroker,
  startKafka,
  stopBroker,
  stopKafka,
  type KafkaCluster,
} from "../../scripts/kafka/launcher";
import { prng } from "../../scripts/simulator/generate";
import { Harness, getJson, sleep, testLogger, waitFor, workload, type TestChannel } from "./harness";

interface Payers {
  payers: { seq: number; paidTotal: string }[];
}

/** Waits until every channel's state (asked from whichever node holds it) equals the test's ledgers. */
async function converged(
  urls: () => readonly string[],
  channels: readonly TestChannel[],
  timeoutMs = 60_000,
): Promise<void> {
  await waitFor(
    "node state equal to the independent computation",
    async () => {
      for (const c of channels) {
        let ok = false;
        for (const url of urls()) {
          const r = await getJson<Payers>(`${url}/channels/${c.id}`).catch(() => null);
          if (!r || r.status !== 200) continue;
          ok = ([0, 1] as const).every(
            (i) =>
              r.body.payers[i].seq === c.ledger.state(i).seq &&
              r.body.payers[i].paidTotal === c.ledger.state(i).paidTotal.toString(),
          );
        }
        if (!ok) return false;
      }
      return true;
    },
    timeoutMs,
    250,
  );
}

/**
 * The chain holds only states the node holds too, and their heads are the test's transfers: the checkpoint
 * word's commitment and each proven word's head.
 */
async function chainConsistent(h: Harness, channels: readonly TestChannel[]): Promise<number> {
  let committed = 0;
  for (const c of channels) {
    const { seq0, seq1, checkpoint, proven } = await h.onchain(c.id);
    expect(seq0).to.be.at.most(c.ledger.state(0).seq);
    expect(seq1).to.be.at.most(c.ledger.state(1).seq);
    if (seq0 + seq1 === 0) continue;
    committed++;
    const head = (payer: 0 | 1, seq: number): Hash =>
      seq === 0 ? (`0x${"00".repeat(32)}` as Hash) : c.ledger.transfer(payer, seq).hash;
    if (checkpoint.seq0 + checkpoint.seq1 > 0) {
      expect(checkpoint.commitment).to.equal(
        commitmentOf(head(0, checkpoint.seq0), head(1, checkpoint.seq1)),
      );
    }
    for (const payer of [0, 1] as const) {
      const p = proven[payer];
      if (p.seq === 0) continue;
      expect(p.head224).to.equal(BigInt(head(payer, p.seq)) & ((1n << 224n) - 1n));
    }
  }
  return committed;
}

/** No valid transfer was dead-lettered, and Duplicate only for the copies sent on purpose. */
async function nothingAppliedTwice(
  h: Harness,
  duplicates: Set<string>,
  garbage: Set<string> = new Set(),
): Promise<void> {
  const letters = (await h.deadLetters()).filter((l) => l.topic === h.topics.transfers);
  for (const l of letters) {
    const hex = Buffer.from(l.original).toString("hex");
    if (garbage.has(hex)) continue;
    expect(l.reasonCode, `unexpected dead letter: ${l.reasonText}`).to.equal("Duplicate");
    expect(duplicates.has(hex), "a transfer sent once was seen twice").to.equal(true);
  }
}

describe("relayer faults", function () {
  this.timeout(300_000);

  describe("kill -9 of the node at random points", () => {
    let h: Harness;
    before(async () => {
      h = await Harness.create();
    });
    after(async () => {
      await h?.close();
    });

    it("loses nothing and applies nothing twice across crashes, including between a chain tx and the offset commit", async () => {
      const random = prng(4242);
      const channels: TestChannel[] = [];
      for (let i = 0; i < 6; i++) channels.push(await h.openChannel(parseEther("50"), parseEther("50")));
      const keys = channels.flatMap((c) => c.wallets.map((w) => w.privateKey));
      const settings = {
        state: { flushIntervalMs: 300 },
        commit: { everyM: 10, checkpointTimeoutMs: 2000, signatureTimeoutMs: 2000, batchMaxWaitMs: 200 },
      };
      const env = { PARSEC_SIGNER_KEYS: keys.join(",") };
      const { records, duplicates } = workload(channels, 600, random);
      const chunks = [
        records.slice(0, 120),
        records.slice(120, 240),
        records.slice(240, 360),
        records.slice(360, 480),
        records.slice(480),
      ];
      // Fault points in the order they happen in a flush, plus the chain; the last run is killed from outside.
      const faults = [
        "after-chain-tx:1",
        "after-changelog:2",
        "after-dead-letters:1",
        "after-local-store:3",
        "after-offset-commit:2",
      ];
      let killed = 0;
      for (let i = 0; i < faults.length; i++) {
        const run = await h.spawnNode(`crash${i}`, settings, { ...env, PARSEC_FAULT: faults[i] }, "node");
        await h.produce(chunks[i]);
        const code = await Promise.race([run.exited, sleep(25_000).then(() => "alive" as const)]);
        if (code === "alive") run.child.kill("SIGKILL");
        else killed++;
        await run.exited;
      }
      expect(killed, "fault points reached").to.be.greaterThanOrEqual(4);
      // A run killed from outside at a random moment while it works.
      const extra = workload(channels, 150, random);
      for (const d of extra.duplicates) duplicates.add(d);
      const victim = await h.spawnNode("crash-random", settings, env, "node");
      const produced = h.produce(extra.records);
      await sleep(300 + Math.floor(random() * 1200));
      victim.child.kill("SIGKILL");
      await victim.exited;
      await produced;
      // The survivor: everything must be there exactly once.
      const last = await h.spawnNode("final", settings, env, "node");
      await converged(() => [last.url], channels, 90_000);
      const committed = await waitFor(
        "commits on-chain",
        async () => {
          const n = await chainConsistent(h, channels);
          return n === channels.length ? n : undefined;
        },
        30_000,
      );
      expect(committed).to.equal(channels.length);
      await waitFor(
        "flushed",
        async () => (await getJson<{ applied: number }>(`${last.url}/health`)).status === 200,
      );
      await sleep(600); // two flush intervals, so the last dead letters are on the topic
      await nothingAppliedTwice(h, duplicates);
      const metrics = await (await fetch(`${last.url}/metrics`)).text();
      expect(metrics).to.match(/parsec_double_apply_total 0/);
      expect(fs.readFileSync(path.join(h.stateDir, "crash0.log"), "utf8")).to.include(
        "PARSEC_FAULT: killing the node at after-chain-tx",
      );
      last.child.kill("SIGTERM");
      await last.exited;
    });
  });

  describe("a broker restart while the node runs", () => {
    const dir = path.join(os.tmpdir(), `parsec-kafka-restart-${process.pid}`);
    let cluster: KafkaCluster;
    let h: Harness;
    let node: ParsecNode | null = null;
    // The tests share the dead-letter topic: the copies and the junk each sent on purpose.
    const sentTwice = new Set<string>();
    const junkSent = new Set<string>();
    before(async () => {
      cluster = await startKafka({
        dir,
        brokers: 1,
        port: 9392,
        properties: { "broker.session.timeout.ms": 4000 },
      });
      h = await Harness.create({ brokers: cluster.brokers });
    });
    after(async () => {
      await node?.stop().catch(() => undefined);
      await h?.close();
      await stopKafka(dir, true);
      fs.rmSync(dir, { recursive: true, force: true });
    });

    it("keeps going through the outage; random bytes and truncated Avro are dead-lettered", async () => {
      const random = prng(7);
      const channels: TestChannel[] = [];
      for (let i = 0; i < 4; i++) channels.push(await h.openChannel(parseEther("50"), parseEther("50")));
      node = await ParsecNode.start(h.config({ state: { flushIntervalMs: 300 } }), { logger: testLogger() });
      const first = workload(channels, 200, random);
      const garbage = new Set<string>();
      const junk = () => {
        const out = [];
        for (let i = 0; i < 40; i++) {
          const c = channels[i % channels.length];
          const valid = c.sign(0, { kind: "PAY", amount: 1n }).wire;
          const value =
            i % 2 === 0
              ? randomBytes(1 + Math.floor(random() * 400))
              : valid.subarray(0, 10 + Math.floor(random() * (valid.length - 11)));
          garbage.add(value.toString("hex"));
          out.push({ key: channelKey(c.id), value });
        }
        return out;
      };
      await h.produce([...first.records, ...junk()]);
      await converged(() => [node?.url as string], channels);
      await stopBroker(dir, 0, "SIGKILL");
      const second = workload(channels, 200, random);
      const producing = h.produce([...second.records, ...junk()]); // retries until the broker is back
      await sleep(1500);
      await startBroker(dir, 0);
      await producing;
      await converged(() => [node?.url as string], channels, 90_000);
      await node.flush();
      await waitFor(
        "dead letters of the junk",
        async () => (await h.deadLetters()).length >= garbage.size,
        30_000,
      );
      const letters = await h.deadLetters();
      for (const l of letters.filter((x) => garbage.has(Buffer.from(x.original).toString("hex")))) {
        expect(["Malformed", "UnknownSchema"]).to.include(l.reasonCode);
      }
      for (const d of [...first.duplicates, ...second.duplicates]) sentTwice.add(d);
      for (const g of garbage) junkSent.add(g);
      await nothingAppliedTwice(h, sentTwice, junkSent);
      // A long outage (a slow broker restart under load) may have reported a stall; health heals once
      // the node makes progress again.
      const running = node;
      await waitFor("health ok again after the outage", () => running.health().ok || undefined, 20_000).catch(
        (e: unknown) => {
          const health = JSON.stringify(running.health(), (_, v: unknown) =>
            typeof v === "bigint" ? `${v}` : v,
          );
          throw new Error(`${(e as Error).message}; health: ${health}`);
        },
      );
    });

    it("a restore that fails on a Kafka error (no coordinator yet after a restart) is retried, not fatal", async () => {
      await node?.stop();
      node = null;
      const random = prng(11);
      const channels: TestChannel[] = [];
      for (let i = 0; i < 2; i++) channels.push(await h.openChannel(parseEther("50"), parseEther("50")));
      // The first three restores fail as a broker that has just restarted makes them fail.
      let failuresLeft = 3;
      let fatal: string | null = null;
      node = await ParsecNode.start(h.config({ state: { flushIntervalMs: 300 } }), {
        logger: testLogger(),
        onFatal: (reason) => (fatal = reason),
        fault: (point) => {
          if (point === "before-restore" && failuresLeft-- > 0)
            throw new KafkaError(
              "opening the transactional writer",
              new Error("Failed to find group coordinator"),
            );
        },
      });
      const load = workload(channels, 100, random);
      for (const d of load.duplicates) sentTwice.add(d);
      await h.produce(load.records);
      await converged(() => [node?.url as string], channels, 60_000);
      expect(failuresLeft).to.be.below(0);
      expect(fatal).to.equal(null);
      const running = node;
      await waitFor("health ok", () => running.health().ok || undefined, 20_000);
    });
    it("a broker lost inside a flush's transaction (before its commit) leaves no stuck writer: the partition is acquired again", async function () {
      // Every wait below is bounded, and they add up to less than this: a failure names its step.
      this.timeout(420_000);
      await node?.stop();
      node = null;
      const random = prng(13);
      const channels: TestChannel[] = [];
      for (let i = 0; i < 3; i++) channels.push(await h.openChannel(parseEther("50"), parseEther("50")));
      let armed = false;
      let killing: Promise<void> | null = null;
      let fatal: string | null = null;
      node = await ParsecNode.start(h.config({ state: { flushIntervalMs: 300 } }), {
        logger: testLogger(),
        onFatal: (reason) => (fatal = reason),
        // The broker dies between the transaction's writes and its commit: kafkajs can then neither
        // commit nor abort it, and that writer cannot start another transaction.
        fault: async (point) => {
          if (point !== "before-transaction-commit" || !armed || killing) return;
          killing = stopBroker(dir, 0, "SIGKILL");
          await killing;
        },
      });
      const first = workload(channels, 100, random);
      await h.produce(first.records);
      await converged(() => [node?.url as string], channels);
      const running = node;
      const reopened = async (): Promise<number> => {
        const text = await (await fetch(`${running.url}/metrics`)).text();
        return Number(/parsec_partition_writers_reopened_total (\d+)/.exec(text)?.[1] ?? 0);
      };
      expect(await reopened()).to.equal(0);
      const second = workload(channels, 100, random);
      await h.produce(second.records);
      armed = true;
      // The next flush kills the broker, maybe while this is being produced: it lands after the restart
      // (the producer retries until then), so it is awaited only after the restart.
      const junk = channels.map((c) => ({ key: channelKey(c.id), value: randomBytes(64) }));
      const producingJunk = h.produce(junk);
      await waitFor("the broker killed inside a transaction", () => killing !== null || undefined, 30_000);
      // Started again only once it is down: a writer may fail (and be replaced) while the kill is under way.
      await killing;
      // While the broker is down: the commit fails, the abort cannot run, and the node opens a new writer.
      await waitFor("the stuck writer replaced", async () => (await reopened()) >= 1 || undefined, 120_000);
      await startBroker(dir, 0);
      await producingJunk;
      await converged(() => [running.url as string], channels, 90_000).catch((e: unknown) => {
        const health = JSON.stringify(running.health(), (_, v: unknown) =>
          typeof v === "bigint" ? `${v}` : v,
        );
        throw new Error(`${(e as Error).message}; health: ${health}`);
      });
      await Promise.race([
        running.flush(),
        sleep(30_000).then(() => Promise.reject(new Error("the node's flush did not end within 30 s"))),
      ]);
      await waitFor(
        "dead letters of the junk",
        async () => {
          const letters = await h.deadLetters();
          return junk.every((j) => letters.some((l) => Buffer.from(l.original).equals(j.value))) || undefined;
        },
        60_000,
      );
      for (const d of [...first.duplicates, ...second.duplicates]) sentTwice.add(d);
      for (const g of junk) junkSent.add(g.value.toString("hex"));
      await nothingAppliedTwice(h, sentTwice, junkSent);
      expect(fatal).to.equal(null);
    });
  });

  describe("three brokers, two nodes, one node dies", () => {
    const dir = path.join(os.tmpdir(), `parsec-kafka-3b-${process.pid}`);
    let cluster: KafkaCluster;
    let h: Harness;
    // The copies each test sends on purpose: the tests share the dead-letter topic.
    const sentTwice = new Set<string>();
    before(async () => {
      cluster = await startKafka({
        dir,
        brokers: 3,
        port: 9492,
        properties: { "broker.session.timeout.ms": 4000 },
      });
      h = await Harness.create({ brokers: cluster.brokers, partitions: 6 });
    });
    // A failed test leaves its nodes running; the next test's nodes must be the group's only members.
    afterEach(() => h?.killNodes());
    after(async () => {
      await h?.close();
      await stopKafka(dir, true);
      fs.rmSync(dir, { recursive: true, force: true });
    });

    const openChannels = async (n: number): Promise<TestChannel[]> => {
      const channels: TestChannel[] = [];
      for (let i = 0; i < n; i++) channels.push(await h.openChannel(parseEther("50"), parseEther("50")));
      return channels;
    };
    /** Two child nodes in one group, once they have split the partitions between them. */
    const twoNodes = async (name: string) => {
      const settings = { kafka: { replicationFactor: 3 }, state: { flushIntervalMs: 300 } };
      const a = await h.spawnNode(`${name}-a`, settings);
      const b = await h.spawnNode(`${name}-b`, settings);
      await waitFor(
        "partitions split between the nodes",
        async () => {
          const [pa, pb] = [await owned(a.url), await owned(b.url)];
          return pa.length > 0 && pb.length > 0 && pa.length + pb.length === h.partitions;
        },
        60_000,
      );
      return { a, b };
    };
    const owned = async (url: string): Promise<number[]> =>
      (await getJson<{ partitions: number[] }>(`${url}/health`)).body.partitions;

    it("a node stalled past its session timeout (SIGSTOP) is fenced: nothing lost, applied twice or stuck", async () => {
      const random = prng(7);
      const channels = await openChannels(12);
      const { a, b } = await twoNodes("node-stall");
      // 4,000 transfers streamed in slices while node a stalls for 2.5 session timeouts (6 s) and resumes.
      const load = workload(channels, 4000, random);
      const slices = 40;
      const per = Math.ceil(load.records.length / slices);
      const streaming = (async () => {
        for (let i = 0; i < slices; i++) {
          await h.produce(load.records.slice(i * per, (i + 1) * per));
          await sleep(500);
        }
      })();
      await sleep(3000);
      const restoredFromChangelog = async (): Promise<bigint> => {
        const text = await (await fetch(`${a.url}/metrics`)).text();
        const m = /parsec_restore_records_read_total\{source="changelog"\} (\d+)/.exec(text);
        return BigInt(m?.[1] ?? 0);
      };
      const readBeforeStall = await restoredFromChangelog();
      a.child.kill("SIGSTOP");
      await waitFor(
        "node b holds every partition",
        async () => (await owned(b.url)).length === h.partitions,
        60_000,
      );
      await sleep(15_000 - 3000);
      a.child.kill("SIGCONT");
      await streaming;
      await waitFor(
        "partitions split again",
        async () => {
          const [pa, pb] = [await owned(a.url).catch(() => []), await owned(b.url)];
          return pa.length > 0 && pa.length + pb.length === h.partitions;
        },
        90_000,
      );
      // Not lost, not stuck: every channel's state on whichever node holds it equals the test's ledgers.
      await converged(() => [a.url, b.url], channels, 120_000);
      await sleep(600);
      for (const d of load.duplicates) sentTwice.add(d);
      await nothingAppliedTwice(h, sentTwice);
      for (const url of [a.url, b.url]) {
        const metrics = await (await fetch(`${url}/metrics`)).text();
        expect(metrics).to.not.match(/parsec_double_apply_total\S* [1-9]/);
        const health = await getJson<{ ok: boolean; problems: string[] }>(`${url}/health`);
        expect(health.body.problems).to.deep.equal([]);
      }
      // The stalled node dropped its pre-stall state and restored what node b applied during the stall
      // from the changelog (whether it learnt of the takeover from a refused flush or from the rebalance).
      expect(await restoredFromChangelog(), "the stalled node restored from the changelog").to.be.above(
        readBeforeStall,
      );
      for (const n of [a, b]) {
        n.child.kill("SIGTERM");
        await n.exited;
      }
    });

    it("the surviving node takes over the dead node's partitions from the changelog", async () => {
      const random = prng(99);
      const channels = await openChannels(8);
      const { a, b } = await twoNodes("node");
      const first = workload(channels, 300, random);
      await h.produce(first.records);
      await converged(() => [a.url, b.url], channels);
      const second = workload(channels, 300, random);
      const producing = h.produce(second.records);
      await sleep(200);
      a.child.kill("SIGKILL");
      await a.exited;
      await producing;
      await waitFor(
        "node b holds every partition",
        async () => (await owned(b.url)).length === h.partitions,
        60_000,
      );
      await converged(() => [b.url], channels, 90_000);
      await sleep(600);
      for (const d of [...first.duplicates, ...second.duplicates]) sentTwice.add(d);
      await nothingAppliedTwice(h, sentTwice);
      const metrics = await (await fetch(`${b.url}/metrics`)).text();
      expect(metrics).to.match(/parsec_restore_records_read_total\{source="changelog"\} [1-9]/);
      b.child.kill("SIGTERM");
      await b.exited;
    });
  });
});
