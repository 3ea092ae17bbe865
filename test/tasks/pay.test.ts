// channel:pay and payment:status on the in-process chain, a real broker and a real node: two payments
// applied; an overspend refused with the sum in words; a crash between journal and send (an injected
// failing producer) → the rerun sends the same transfer and the node applies it once; a payment the node
// dead-letters (paid from a deposit it has not confirmed yet) shows its reason, and once the deposit is
// confirmed a rerun sends that same transfer again; payment:status in words at each step.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect } from "chai";
import hre from "hardhat";
import { parseEther } from "ethers";
import { nodePayerViews, relayerClient, type RelayerClient } from "../../client";
import { ParsecNode } from "../../relayer/src/node";
import { fileJournal, hashTransfer, type Hash } from "../../sdk";
import { deployParsec, type Deployed } from "../../tasks/lib/deploy";
import { setPrinter } from "../../tasks/lib/output";
import { runPay, type PayResult, type StatusResult } from "../../tasks/lib/pay";
import type { TransferTransport } from "../../tasks/lib/pay-transport";
import type { OpenResult } from "../../tasks/channel";
import { Harness, getJson, testLogger, waitFor } from "../relayer/harness";

interface NodeChannel {
  payers: { seq: number; paidTotal: string; head: string }[];
}

describe("payment tasks: channel:pay and payment:status", function () {
  this.timeout(240_000);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "parsec-pay-"));
  const deploymentPath = path.join(tmp, "hardhat.json");
  const journalA = path.join(tmp, "a.jsonl");
  const journalB = path.join(tmp, "b.jsonl");
  const lines: string[] = [];
  let restorePrinter: (line: string) => void;
  let h: Harness;
  let node: ParsecNode | null = null;
  let deployment: Deployed;
  let channelA: Hash;
  let channelB: Hash;
  const CONFIRMATIONS = 2;

  const out = () => lines.join("\n");
  const base = (channel: Hash, journal: string) => ({
    deployment: deploymentPath,
    channel,
    journal,
    from: "0",
    key: "",
    relayer: node?.url ?? "",
    brokers: h.brokers.join(","),
    prefix: h.prefix,
    nodeConfig: "",
  });
  const pay = (channel: Hash, journal: string, amount: string, wait = 30) =>
    hre.run("channel:pay", { ...base(channel, journal), amount, wait }) as Promise<PayResult>;
  const status = (channel: Hash, journal: string, seq = 0) =>
    hre.run("payment:status", { ...base(channel, journal), seq }) as Promise<StatusResult>;
  const failure = async (promise: Promise<unknown>): Promise<string> => {
    try {
      await promise;
    } catch (e) {
      return (e as Error).message;
    }
    expect.fail("the task should have failed");
  };
  const nodeChannel = async (id: Hash) => (await getJson<NodeChannel>(`${node?.url}/channels/${id}`)).body;
  const mine = (blocks: number) => hre.network.provider.send("hardhat_mine", [`0x${blocks.toString(16)}`]);
  const open = async (amount: string): Promise<Hash> => {
    const [, counterparty] = await hre.ethers.getSigners();
    const opened = (await hre.run("channel:open", {
      deployment: deploymentPath,
      from: "0",
      counterparty: counterparty.address,
      amount,
      token: "",
      period: 3600,
      nonce: "",
    })) as OpenResult;
    return opened.channelId;
  };

  before(async () => {
    restorePrinter = setPrinter((line) => lines.push(line));
    h = await Harness.create();
    deployment = await deployParsec(hre, { outFile: deploymentPath });
    channelA = await open("2");
    channelB = await open("1");
    await mine(CONFIRMATIONS + 1);
    node = await ParsecNode.start(
      h.config({
        chain: { channels: deployment.ParsecChannels, confirmations: CONFIRMATIONS },
        window: { fundsWaitMs: 1000 },
      }),
      { logger: testLogger() },
    );
    for (const id of [channelA, channelB]) {
      await waitFor("the node holds the channel", async () => (await nodeChannel(id)).payers?.length === 2);
    }
  });
  after(async () => {
    setPrinter(restorePrinter);
    await node?.stop();
    await h?.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  });
  beforeEach(() => (lines.length = 0));

  it("pays twice: each PAY is journaled, sent and applied by the node", async () => {
    const first = await pay(channelA, journalA, "0.5");
    expect(first.outcome).to.equal("applied");
    expect(first.signedNow).to.equal(true);
    expect(first.transfer.seq).to.equal(1);
    expect(out()).to.contain(`starting ${journalA} from the channel's start`);
    expect(out()).to.match(
      /signed seq 1 PAY 0\.5 ETH \(500000000000000000 base units\) .*journaled it \(fsynced\)/,
    );
    expect(out()).to.match(/sent seq 1 PAY .* partition \d+ offset \d+/);
    expect(out()).to.match(
      /applied by the node: seq 1, \d+\.\d s after it was sent \(route: direct, fee 0\)/,
    );
    const second = await pay(channelA, journalA, "0.25");
    expect(second.outcome).to.equal("applied");
    expect(second.transfer.seq).to.equal(2);
    expect(second.transfer.prev).to.equal(hashTransfer(first.transfer));
    const view = await nodeChannel(channelA);
    expect(view.payers[0].seq).to.equal(2);
    expect(view.payers[0].paidTotal).to.equal(parseEther("0.75").toString());
    expect(view.payers[0].head).to.equal(hashTransfer(second.transfer));
  });

  it("refuses an overspend with the numbers in words, signing nothing", async () => {
    const message = await failure(pay(channelA, journalA, "1.5"));
    expect(message).to.contain(
      "you (P0) can pay at most 1.25 ETH (1250000000000000000 base units) now: deposit 2 ETH (2000000000000000000 base units) − paid 0.75 ETH (750000000000000000 base units) − locked 0 ETH (0 base units) + received 0 ETH (0 base units)",
    );
    expect(message).to.contain("this payment of 1.5 ETH (1500000000000000000 base units) is 0.25 ETH");
    const journal = await fileJournal(journalA);
    expect(await journal.get(channelA, 0, 3)).to.equal(undefined);
    await journal.close();
  });

  it("refuses to start an empty journal when the node already holds the payer's transfers", async () => {
    const message = await failure(pay(channelA, path.join(tmp, "lost.jsonl"), "0.1"));
    expect(message).to.match(/holds none of your transfers, but the node holds your chain to seq 2/);
    expect(message).to.contain("Give that journal with --journal");
  });

  it("refuses while another process holds the journal", async () => {
    fs.writeFileSync(`${journalA}.lock`, String(process.pid));
    try {
      const message = await failure(pay(channelA, journalA, "0.1"));
      expect(message).to.contain(`another process (pid ${process.pid}) uses the journal ${journalA}`);
    } finally {
      fs.rmSync(`${journalA}.lock`);
    }
  });

  it("a crash between journal and send: the rerun sends the same transfer and the node applies it once", async () => {
    const ctx = { sends: 0 };
    const failing: TransferTransport = {
      send: () => {
        ctx.sends++;
        return Promise.reject(new Error("the producer died"));
      },
      mark: () => Promise.resolve(new Map()),
      deadLetters: () => Promise.resolve([]),
      close: () => Promise.resolve(),
    };
    const message = await failure(
      runPay({ ...base(channelA, journalA), amount: "0.1", wait: 30 }, hre, {
        transport: () => Promise.resolve(failing),
      }),
    );
    expect(ctx.sends).to.equal(1);
    expect(message).to.contain("is signed and journaled in");
    expect(message).to.contain("run channel:pay again to send the same transfer");
    const journal = await fileJournal(journalA);
    const journaled = await journal.get(channelA, 0, 3);
    await journal.close();
    expect(journaled?.signature).to.match(/^0x[0-9a-f]{130}$/);
    expect((await nodeChannel(channelA)).payers[0].seq).to.equal(2);

    lines.length = 0;
    const st = await status(channelA, journalA, 3);
    expect(st.lines).to.have.length(1);
    expect(st.lines[0].fate).to.equal("not-sent");
    expect(out()).to.match(/seq 3 PAY 0\.1 ETH .*, not sent: journaled but never sent: channel:pay sends it/);

    // A crashed run leaves its lock behind: the rerun takes it over (its process is gone).
    const gone = spawnSync(process.execPath, ["-e", ""]).pid;
    fs.writeFileSync(`${journalA}.lock`, String(gone));
    lines.length = 0;
    const rerun = await pay(channelA, journalA, "0.1");
    expect(fs.existsSync(`${journalA}.lock`)).to.equal(false);
    expect(rerun.outcome).to.equal("applied");
    expect(rerun.signedNow).to.equal(false);
    expect(rerun.transfer.signature).to.equal(journaled?.signature);
    expect(hashTransfer(rerun.transfer)).to.equal(journaled?.transferHash);
    expect(out()).to.contain(
      "was journaled by an earlier run and never sent: sending the same signed transfer, not a new one",
    );
    expect(out()).to.contain("that is this payment");
    const view = await nodeChannel(channelA);
    expect(view.payers[0].seq).to.equal(3);
    expect(view.payers[0].paidTotal).to.equal(parseEther("0.85").toString());
    const after = await fileJournal(journalA);
    expect(await after.get(channelA, 0, 4)).to.equal(undefined);
    await after.close();
  });

  it("a payment the node dead-letters shows its reason; once the cause is gone the same transfer is sent again", async () => {
    // A deposit the chain shows at once but the node counts only after its confirmations.
    await hre.run("channel:deposit", {
      deployment: deploymentPath,
      from: "0",
      channel: channelB,
      amount: "1",
      side: "",
    });
    lines.length = 0;
    const message = await failure(pay(channelB, journalB, "1.5"));
    expect(message).to.match(/the node refused seq 1 PAY 1\.5 ETH .*: InsufficientBalance: /);
    expect(message).to.contain("channel:pay sends the same transfer again");

    lines.length = 0;
    const st = await status(channelB, journalB);
    expect(st.lines.map((l) => l.fate)).to.deep.equal(["dead-lettered"]);
    expect(st.lines[0].reason).to.match(/^InsufficientBalance: /);
    expect(out()).to.match(
      /seq 1 PAY 1\.5 ETH .*, sent \d{4}-.*Z: dead-lettered at .*: InsufficientBalance: /,
    );

    await mine(CONFIRMATIONS + 1);
    await waitFor("the node counts the deposit", async () => {
      const b = (await getJson<{ deposits: { deposit0: string } }>(`${node?.url}/channels/${channelB}`)).body;
      return b.deposits.deposit0 === parseEther("2").toString();
    });
    lines.length = 0;
    const rerun = await pay(channelB, journalB, "1.5");
    expect(rerun.outcome).to.equal("applied");
    expect(rerun.signedNow).to.equal(false);
    expect(out()).to.match(
      /seq 1 PAY 1\.5 ETH .* was refused by the node \(InsufficientBalance: .*\) after it was last sent: sending the same signed transfer again, not a new one/,
    );
    expect(out()).to.contain("that is this payment");
    expect((await nodeChannel(channelB)).payers[0].paidTotal).to.equal(parseEther("1.5").toString());
  });

  it("a rerun for another amount sends the unseen transfer and does not make the new payment", async () => {
    const failing: TransferTransport = {
      send: () => Promise.reject(new Error("the producer died")),
      mark: () => Promise.resolve(new Map()),
      deadLetters: () => Promise.resolve([]),
      close: () => Promise.resolve(),
    };
    await failure(
      runPay({ ...base(channelB, journalB), amount: "0.1", wait: 30 }, hre, {
        transport: () => Promise.resolve(failing),
      }),
    );
    lines.length = 0;
    const rerun = await pay(channelB, journalB, "0.2");
    expect(rerun.outcome).to.equal("resent-earlier");
    expect(rerun.transfer.seq).to.equal(2);
    expect(rerun.transfer.amount).to.equal(parseEther("0.1"));
    expect(out()).to.contain("your new payment of 0.2 ETH (200000000000000000 base units) was NOT made");
    const view = await nodeChannel(channelB);
    expect(view.payers[0].seq).to.equal(2);
    expect(view.payers[0].paidTotal).to.equal(parseEther("1.6").toString());
  });

  it("starts an empty journal from the node's copy where the node's head is the chain's", async () => {
    // The payee puts P0's head (seq 2) on-chain with a head proof from the node's evidence.
    await hre.run("channel:dispute", {
      deployment: deploymentPath,
      from: "1",
      channel: channelB,
      evidence: "",
      relayer: node?.url ?? "",
      mode: "auto",
      chunk: 50,
    });
    await mine(CONFIRMATIONS + 1);
    await waitFor("the node indexes the proven head", async () => {
      const b = (await getJson<{ onchain: { seq0: number } }>(`${node?.url}/channels/${channelB}`)).body;
      return b.onchain.seq0 === 2;
    });
    const fresh = path.join(tmp, "fresh.jsonl");
    lines.length = 0;
    const result = await pay(channelB, fresh, "0.05");
    expect(result.outcome).to.equal("applied");
    expect(result.transfer.seq).to.equal(3);
    expect(out()).to.match(
      /the node's head of your chain is the one the chain holds \(seq 2, 0x[0-9a-f]{64}\), so .*fresh\.jsonl starts from the node's copy of your signed transfer\(s\) 2 to 2 \(signatures checked\)/,
    );
    const copied = await fileJournal(fresh);
    const original = await fileJournal(journalB);
    // The chain holds seq 2: the journal starts there, with the node's copy of it (the same signature).
    expect(await copied.get(channelB, 0, 1)).to.equal(undefined);
    expect((await copied.get(channelB, 0, 2))?.signature).to.equal(
      (await original.get(channelB, 0, 2))?.signature,
    );
    expect((await copied.get(channelB, 0, 3))?.transferHash).to.equal(hashTransfer(result.transfer));
    await copied.close();
    await original.close();
    lines.length = 0;
    const st = await status(channelB, fresh);
    expect(st.lines.map((l) => [l.seq, l.fate])).to.deep.equal([
      [2, "applied"],
      [3, "applied"],
    ]);
    expect(out()).to.match(
      /seq 2 PAY 0\.1 ETH .*, sent from elsewhere \(no send recorded here\): applied by the node/,
    );
    // The next run finds the started journal from the chain's seq and builds on it.
    const next = await pay(channelB, fresh, "0.05");
    expect(next.outcome).to.equal("applied");
    expect(next.transfer.seq).to.equal(4);
    expect(next.transfer.prev).to.equal(hashTransfer(result.transfer));
  });

  it("payment:status lists each journaled transfer and the balances now", async () => {
    const st = await status(channelA, journalA);
    expect(st.lines.map((l) => [l.seq, l.kind, l.fate])).to.deep.equal([
      [1, "PAY", "applied"],
      [2, "PAY", "applied"],
      [3, "PAY", "applied"],
    ]);
    expect(st.lines.every((l) => l.sentAtMs !== null)).to.equal(true);
    const text = out();
    expect(text).to.contain("3 journaled; the node applied your chain to seq 3");
    expect(text).to.match(
      /seq 2 PAY 0\.25 ETH \(250000000000000000 base units\), sent \d{4}-\d\d-\d\dT.*Z: applied by the node/,
    );
    expect(text).to.contain(
      "you (P0) can send 1.15 ETH (1150000000000000000 base units) and receive 0.85 ETH (850000000000000000 base units)",
    );
    expect(text).to.contain(
      "the counterparty (P1) can send 0.85 ETH (850000000000000000 base units) and receive 1.15 ETH",
    );
    expect(text).to.contain("held in pending locks: yours 0 ETH (0 base units), theirs 0 ETH (0 base units)");
    // The counterparty without a journal: nothing journaled, the same balances from its side, no file made.
    const none = path.join(tmp, "p1.jsonl");
    lines.length = 0;
    const theirs = (await hre.run("payment:status", {
      ...base(channelA, none),
      from: "1",
      seq: 0,
    })) as StatusResult;
    expect(theirs.lines).to.deep.equal([]);
    expect(out()).to.contain("0 journaled; the node applied your chain to seq 0");
    expect(out()).to.contain(
      "you (P1) can send 0.85 ETH (850000000000000000 base units) and receive 1.15 ETH",
    );
    expect(fs.existsSync(none)).to.equal(false);
  });

  it("a second payment of the same amount while the first is in flight is a second payment", async () => {
    const first = await pay(channelA, journalA, "0.05", 0);
    expect(first.outcome).to.equal("sent");
    // The second run reads the node once before it applied the first (a node that lags), then for real.
    const real = relayerClient(node?.url ?? "");
    let reads = 0;
    const lagging: RelayerClient = {
      ...real,
      channel: async (id) => {
        const answer = await real.channel(id);
        if (reads++ > 0 || !answer) return answer;
        const raw = JSON.parse(JSON.stringify(answer.raw)) as NodeChannel;
        raw.payers[0] = { ...raw.payers[0], seq: first.transfer.seq - 1, head: first.transfer.prev };
        return { ...answer, raw };
      },
    };
    lines.length = 0;
    const second = await runPay({ ...base(channelA, journalA), amount: "0.05", wait: 30 }, hre, {
      node: lagging,
    });
    expect(out()).to.contain(
      `seq ${first.transfer.seq} PAY 0.05 ETH (50000000000000000 base units) is in flight (sent, not applied yet): this payment builds on it`,
    );
    expect(out()).not.to.contain("that is this payment");
    expect(second.signedNow).to.equal(true);
    expect(second.transfer.seq).to.equal(first.transfer.seq + 1);
    expect(second.outcome).to.equal("applied");
    expect((await nodeChannel(channelA)).payers[0].paidTotal).to.equal(parseEther("0.95").toString());
  });
});

describe("client nodePayerViews: each payer's chain from the node's channel JSON", () => {
  const payer = (seq: number) => ({
    payer: 0,
    seq,
    head: `0x${"11".repeat(32)}`,
    paidTotal: "5",
    lockedTotal: "7",
    locksRoot: `0x${"22".repeat(32)}`,
    pendingLocks: [{ amount: "7", expiry: "1000", hashlock: `0x${"33".repeat(32)}` }],
    waitingInWindow: [seq + 2],
  });

  it("reads seq, head, totals, pending locks and the seqs waiting in the window", () => {
    const views = nodePayerViews({ payers: [payer(3), payer(0)] });
    expect(views?.[0]).to.deep.include({ seq: 3, paidTotal: 5n, lockedTotal: 7n, waitingInWindow: [5] });
    expect(views?.[0].locks).to.deep.equal([{ amount: 7n, expiry: 1000n, hashlock: `0x${"33".repeat(32)}` }]);
  });

  it("is null for an answer without two well-formed payers", () => {
    expect(nodePayerViews(null)).to.equal(null);
    expect(nodePayerViews({ payers: [payer(1)] })).to.equal(null);
    expect(nodePayerViews({ payers: [payer(1), { ...payer(1), paidTotal: 5 }] })).to.equal(null);
    expect(nodePayerViews({ payers: [payer(1), { ...payer(1), head: "0x12" }] })).to.equal(null);
    expect(nodePayerViews({ payers: [payer(-1), payer(1)] })).to.equal(null);
  });
});
