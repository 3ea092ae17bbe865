/**
 * The simulator end to end: it opens channels on the chain and generates protocol messages (payments,
 * invoice payments, HTLC lock/unlock pairs, reordered and repeated) into Kafka; a node applies them
 * all and ends in exactly the state the simulator computed.
 */
import { expect } from "chai";
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { REPO_ROOT } from "../../scripts/kafka/launcher";
import { ParsecNode } from "../../relayer/src/node";
import { M } from "../../relayer/src/http/metrics";
import { Harness, getJson, testLogger, waitFor } from "./harness";

interface SimOut {
  channels: { channelId: string; expected: { seq: [number, number]; paidTotal: [string, string] } }[];
}

describe("relayer: the simulator feeds a node", function () {
  this.timeout(180_000);
  let h: Harness;
  let node: ParsecNode | null = null;
  before(async () => {
    h = await Harness.create();
  });
  after(async () => {
    await node?.stop();
    await h?.close();
  });

  it("generates signed protocol messages into Kafka that a node applies exactly", async () => {
    const out = path.join(h.stateDir, "sim.json");
    const args = [
      "-r",
      "ts-node/register/transpile-only",
      path.join(REPO_ROOT, "scripts/simulator/index.ts"),
    ];
    args.push(
      "--rpc",
      h.rpcUrl,
      "--contract",
      h.address,
      "--brokers",
      h.brokers.join(","),
      "--topic-prefix",
      h.prefix,
    );
    args.push(
      "--partitions",
      String(h.partitions),
      "--channels",
      "12",
      "--transfers",
      "600",
      "--rate",
      "3000",
      "--seed",
      "7",
      "--control",
      "--out",
      out,
    );
    const summary = await new Promise<string>((resolve, reject) => {
      const child = spawn(process.execPath, args, { cwd: REPO_ROOT, stdio: ["ignore", "pipe", "pipe"] });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
      child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
      child.on("exit", (code) =>
        code === 0 ? resolve(stdout) : reject(new Error(`simulator exited ${code}: ${stderr}`)),
      );
    });
    const s = JSON.parse(summary) as { transfers: number; messages: number; topic: string };
    expect(s.transfers).to.be.greaterThanOrEqual(600);
    expect(s.topic).to.equal(h.topics.transfers);
    const sim = JSON.parse(fs.readFileSync(out, "utf8")) as SimOut;
    node = await ParsecNode.start(h.config(), { logger: testLogger() });
    for (const c of sim.channels) {
      await waitFor(`channel ${c.channelId}`, async () => {
        const r = await getJson<{ payers: { seq: number; paidTotal: string }[] }>(
          `${node?.url}/channels/${c.channelId}`,
        );
        return (
          r.status === 200 &&
          ([0, 1] as const).every(
            (i) =>
              r.body.payers[i].seq === c.expected.seq[i] &&
              r.body.payers[i].paidTotal === c.expected.paidTotal[i],
          )
        );
      });
    }
    expect(node.metrics.total(M.applied)).to.equal(s.transfers);
    expect(node.metrics.value(M.control, { action: "CHECKPOINT_NOW" })).to.equal(12);
  });
});
