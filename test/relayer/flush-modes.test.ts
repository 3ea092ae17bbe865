// A partition's two kinds of flush (unit, no Kafka: the transactional writer is a recording fake).
// A mediator's "journal" flush, on the path of every routed payment, leaves the consumer offsets out
// while the last commit of them is recent (two round trips fewer); a full flush always catches them up,
// and a partition whose offsets lag still needs a flush, so the periodic one sends them.
import { expect } from "chai";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { loadConfig } from "../../relayer/src/config";
import { Metrics } from "../../relayer/src/http/metrics";
import type { GroupOffsets, LogClient, PartitionWriter, TopicWrite } from "../../relayer/src/kafka/client";
import { silentLogger } from "../../relayer/src/log";
import { PartitionState } from "../../relayer/src/state/partition";

interface Commit {
  readonly writes: readonly TopicWrite[];
  readonly offsets: GroupOffsets["offsets"];
}

async function partition(
  flushIntervalMs: number,
): Promise<{ ps: PartitionState; commits: Commit[]; done: () => Promise<void> }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "parsec-flush-modes-"));
  const config = loadConfig({
    env: {
      KAFKA_BROKERS: "127.0.0.1:1",
      PARSEC_RPC_URL: "http://127.0.0.1:1",
      PARSEC_CHANNELS_ADDRESS: "0x5FbDB2315678afecb367f032d93F642f64180aa3",
    },
    overrides: { state: { dir, flushIntervalMs } },
  });
  // An empty changelog: the restore reads nothing.
  const client = {
    endOffsets: async () => new Map<number, number>(),
    readPartition: async () => undefined,
  } as unknown as LogClient;
  const ps = new PartitionState(0, {
    config,
    client,
    logger: silentLogger,
    metrics: new Metrics(),
    hashWires: async () => [],
  });
  const commits: Commit[] = [];
  let offset = 0;
  const writer: PartitionWriter = {
    transactionalId: "test",
    async commit(writes, { offsets }) {
      commits.push({ writes, offsets });
      const last = new Map<string, number>();
      for (const w of writes) if (w.records.length > 0) last.set(w.topic, (offset += w.records.length) - 1);
      return last;
    },
    close: async () => undefined,
  };
  ps.attach(writer);
  await ps.restore();
  const done = async (): Promise<void> => {
    await ps.close();
    fs.rmSync(dir, { recursive: true, force: true });
  };
  return { ps, commits, done };
}

const transfersOffset = (c: Commit): number | undefined =>
  c.offsets.find((o) => o.topic.endsWith("transfers"))?.offset;

describe("relayer: journal and full flushes of a partition", () => {
  it("a journal flush leaves recent offsets to the next full flush; the lag keeps the partition due", async () => {
    const { ps, commits, done } = await partition(600_000);
    ps.progress.transfers = 4;
    await ps.flush("full");
    expect(transfersOffset(commits[0])).to.equal(5);
    expect(ps.needsFlush).to.equal(false);

    ps.progress.transfers = 9;
    await ps.flush("journal");
    expect(commits).to.have.length(2);
    expect(commits[1].offsets).to.deep.equal([]);
    // The changelog's progress marker went out in the same transaction: a restore seeks to offset 10.
    expect(commits[1].writes.some((w) => w.records.length > 0)).to.equal(true);
    expect(ps.needsFlush, "offsets lagging the changelog still need a flush").to.equal(true);

    await ps.flush("full");
    expect(transfersOffset(commits[2])).to.equal(10);
    expect(ps.needsFlush).to.equal(false);
    // Nothing new: no transaction at all.
    await ps.flush("full");
    expect(commits).to.have.length(3);
    await done();
  });

  it("a journal flush sends the offsets once their last commit is a flush interval old", async () => {
    const { ps, commits, done } = await partition(1);
    ps.progress.transfers = 2;
    await ps.flush("journal");
    expect(transfersOffset(commits[0]), "never committed: due at once").to.equal(3);
    await new Promise((r) => setTimeout(r, 5));
    ps.progress.transfers = 6;
    await ps.flush("journal");
    expect(transfersOffset(commits[1])).to.equal(7);
    expect(ps.needsFlush).to.equal(false);
    await done();
  });
});
