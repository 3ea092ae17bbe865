// The operator tasks against a real broker and an in-process node: node:control sends a control request
// and prints the node's answer in words; node:follow prints settlement events and dead letters.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect } from "chai";
import hre from "hardhat";
import { Wallet, parseEther, type Contract } from "ethers";
import { ParsecNode } from "../../relayer/src/node";
import { channelKey } from "../../relayer/src/kafka/topics";
import { kafkaTarget } from "../../tasks/lib/kafka";
import type { ControlResult, FollowResult } from "../../tasks/lib/operator";
import { setPrinter } from "../../tasks/lib/output";
import { Harness, sleep, testLogger, waitFor, type TestChannel } from "../relayer/harness";

describe("operator tasks: node:control and node:follow", function () {
  this.timeout(240_000);
  let h: Harness;
  let node: ParsecNode | null = null;
  let coop: TestChannel;
  let keyless: TestChannel;
  const lines: string[] = [];
  let restorePrinter: (line: string) => void;

  const kafka = () => ({ brokers: h.brokers.join(","), prefix: h.prefix });
  const failure = async (promise: Promise<unknown>): Promise<string> => {
    try {
      await promise;
    } catch (e) {
      return (e as Error).message;
    }
    expect.fail("the task should have failed");
  };
  const closeAndWait = async (c: TestChannel, seconds: number): Promise<void> => {
    const p0 = new Wallet(c.wallets[0].privateKey, hre.ethers.provider);
    await (await (h.channels.connect(p0) as Contract).getFunction("close")(c.params)).wait();
    await hre.network.provider.send("evm_increaseTime", [seconds]);
    await hre.network.provider.send("evm_mine", []);
  };

  before(async () => {
    restorePrinter = setPrinter((line) => lines.push(line));
    h = await Harness.create();
    coop = await h.openChannel(parseEther("2"), parseEther("2"));
    keyless = await h.openChannel(parseEther("1"), parseEther("1"));
    // No watchtower here (holding both keys, it would answer the close with a cooperative close of its
    // own), so the control request is what pays out.
    node = await ParsecNode.start(
      h.config(
        { watchtower: { enabled: false, settle: false }, commit: { signatureTimeoutMs: 60_000 } },
        { PARSEC_SIGNER_KEYS: coop.wallets.map((w) => w.privateKey).join(",") },
      ),
      { logger: testLogger() },
    );
    await h.produce([
      coop.record(coop.next(0, { kind: "PAY", amount: parseEther("0.5") }).wire),
      keyless.record(keyless.next(1, { kind: "PAY", amount: parseEther("0.25") }).wire),
    ]);
    await waitFor("applied", () => node?.locate(coop.id)?.ch.payers[0].state.seq === 1);
    await waitFor("applied", () => node?.locate(keyless.id)?.ch.payers[1].state.seq === 1);
  });
  after(async () => {
    setPrinter(restorePrinter);
    await node?.stop();
    await h?.close();
  });
  beforeEach(() => (lines.length = 0));

  it("settle-now for a closed channel past its challenge period answers with the outcome in words", async () => {
    await closeAndWait(coop, 3601);
    const result = (await hre.run("node:control", {
      ...kafka(),
      channel: coop.id,
      action: "settle-now",
      wait: 60,
    })) as ControlResult;
    const out = lines.join("\n");
    expect(result.outcome).to.equal("done");
    expect(out).to.match(new RegExp(`sent SETTLE_NOW for channel ${coop.id} as request ${result.requestId}`));
    expect(out).to.match(
      /cooperative close confirmed at seqs \(1, 0\): tx 0x[0-9a-f]{64}, gas [\d,]+, paid P0 1500000000000000000 and P1 2500000000000000000 \(base units\) \[answers request op-/,
    );
    expect(out).to.contain("outcome: the channel is closed cooperatively and paid out");
    expect((await h.onchain(coop.id)).status).to.equal(3);
    const last = result.events[result.events.length - 1];
    expect(last.action).to.equal("COOPERATIVE_CLOSE");
    expect(last.requestId).to.equal(result.requestId);
  });

  it("settle-now the node cannot carry out fails with the node's reason", async () => {
    const message = await failure(
      hre.run("node:control", { ...kafka(), channel: keyless.id, action: "settle-now", wait: 60 }),
    );
    expect(message).to.match(
      /request op-\S+ \(settle-now\) failed: the node could not do it: .*participant key/,
    );
    expect(lines.join("\n")).to.match(/unilateral close FAILED: .*participant key/);
  });

  it("a request for a channel the contract does not know comes back as the node's dead letter", async () => {
    const unknown = `0x${"ab".repeat(32)}`;
    const message = await failure(
      hre.run("node:control", { ...kafka(), channel: unknown, action: "checkpoint-now", wait: 60 }),
    );
    expect(message).to.match(/the node refused request op-\S+: WrongChannel: .*not open on this contract/);
    expect(lines.join("\n")).to.match(
      new RegExp(
        `dead letter: a control request for channel ${unknown} \\(${h.topics.control} partition \\d+ offset \\d+\\) was refused: WrongChannel`,
      ),
    );
  });

  it("node:follow prints a dead letter's reason, and settlements, one line per record", async () => {
    const garbage = Buffer.from("not an avro transfer");
    await h.produce([{ key: channelKey(keyless.id), value: garbage }]);
    const followed = (await hre.run("node:follow", {
      ...kafka(),
      topics: "dead-letter",
      fromBeginning: true,
      channel: keyless.id,
      limit: 1,
    })) as FollowResult;
    expect(followed.lines).to.have.length(1);
    expect(followed.lines[0]).to.match(
      new RegExp(
        `dead letter: a transfer for channel ${keyless.id} \\(${h.topics.transfers} partition \\d+ offset \\d+\\) was refused: \\w+: .+`,
      ),
    );

    const settlements = (await hre.run("node:follow", {
      ...kafka(),
      topics: "settlements",
      fromBeginning: true,
      channel: coop.id,
      idle: 5,
    })) as FollowResult;
    expect(settlements.lines.some((l) => /cooperative close confirmed/.test(l))).to.equal(true);
    expect(settlements.lines.every((l) => l.includes(coop.id))).to.equal(true);
  });

  it("node:follow without --from-beginning prints only what is written after it starts", async () => {
    const following = hre.run("node:follow", {
      ...kafka(),
      topics: "dead-letter,settlements",
      channel: keyless.id,
      limit: 1,
    }) as Promise<FollowResult>;
    await sleep(4000);
    await h.produce([{ key: channelKey(keyless.id), value: Buffer.from([0xc3, 0x01, 1, 2, 3]) }]);
    const followed = await following;
    expect(followed.lines).to.have.length(1);
    expect(followed.lines[0]).to.contain("dead letter: a transfer");
    expect(followed.lines[0]).to.not.contain("not an avro transfer");
  });

  it("says what to fix on bad input", async () => {
    expect(
      await failure(hre.run("node:control", { ...kafka(), channel: "0x12", action: "settle-now" })),
    ).to.contain("--channel must be a 32-byte 0x channel id");
    expect(
      await failure(hre.run("node:control", { ...kafka(), channel: coop.id, action: "close-now" })),
    ).to.contain("--action must be one of settle-now, dispute, checkpoint-now");
    expect(await failure(hre.run("node:follow", { ...kafka(), topics: "transfers" }))).to.contain(
      "--topics takes settlements, dead-letter, control",
    );
    expect(
      await failure(hre.run("node:follow", { brokers: "127.0.0.1:1", prefix: h.prefix, limit: 1 })),
    ).to.contain("no Kafka broker answers at 127.0.0.1:1");
    expect(
      await failure(hre.run("node:follow", { ...kafka(), prefix: "nobody-runs-this.", limit: 1 })),
    ).to.contain("do not exist");
    expect(() => kafkaTarget({}, {})).to.throw("no Kafka brokers: give --brokers");
    expect(() => kafkaTarget({ brokers: "localhost" }, {})).to.throw("is not host:port");
  });

  it("topic names follow the node's settings: prefix, then the config file's kafka section", () => {
    const t = kafkaTarget({}, { KAFKA_BROKERS: "k:1", PARSEC_TOPIC_PREFIX: "x." });
    expect(t.brokers).to.deep.equal(["k:1"]);
    expect(t.topics.control).to.equal("x.parsec.control");
    expect(t.topics.deadLetter).to.equal("x.parsec.dead-letter");
    expect(kafkaTarget({ brokers: "a:1,b:2", prefix: "p." }, {}).topics.settlements).to.equal(
      "p.parsec.settlements",
    );
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "parsec-op-")), "node.json");
    fs.writeFileSync(
      file,
      JSON.stringify({ kafka: { brokers: ["f:9"], topicPrefix: "f.", topics: { settlements: "ops.done" } } }),
    );
    const fromFile = kafkaTarget({ nodeConfig: file }, {});
    expect(fromFile.brokers).to.deep.equal(["f:9"]);
    expect(fromFile.topics.settlements).to.equal("ops.done");
    expect(fromFile.topics.deadLetter).to.equal("f.parsec.dead-letter");
    expect(kafkaTarget({}, { PARSEC_CONFIG: file, KAFKA_BROKERS: "e:1" }).brokers).to.deep.equal(["e:1"]);
  });
});
