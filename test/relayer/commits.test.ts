/**
 * Items 5 and 6: the paper's commit policy (every m-th transfer, `checkpoint_timeout`, checkpoint-now)
 * with co-signed checkpoints whose proposals and signatures travel on their topics, batched into one
 * `checkpointBatch`; the payee's head proof when signatures do not come.
 */
import { expect } from "chai";
import { parseEther } from "ethers";
import { codecs } from "../../sdk";
import { ParsecNode } from "../../relayer/src/node";
import { M } from "../../relayer/src/http/metrics";
import { channelKey } from "../../relayer/src/kafka/topics";
import { Harness, testLogger, waitFor, type TestChannel } from "./harness";

describe("relayer: commit policy and batching", function () {
  this.timeout(180_000);
  let h: Harness;
  let node: ParsecNode | null = null;
  const both: TestChannel[] = [];
  let onlyPayee: TestChannel;
  let timed: TestChannel;
  let asked: TestChannel;

  before(async () => {
    h = await Harness.create();
    for (let i = 0; i < 3; i++) both.push(await h.openChannel(parseEther("2"), parseEther("2")));
    timed = await h.openChannel(parseEther("2"), parseEther("2"));
    asked = await h.openChannel(parseEther("2"), parseEther("2"));
    onlyPayee = await h.openChannel(parseEther("2"), parseEther("2"));
    const keys = [...both, timed, asked].flatMap((c) => c.wallets.map((w) => w.privateKey));
    keys.push(onlyPayee.wallets[1].privateKey); // the payee of payer 0's chain only
    node = await ParsecNode.start(
      h.config(
        {
          commit: {
            everyM: 5,
            checkpointTimeoutMs: 8000,
            signatureTimeoutMs: 1500,
            batchMaxWaitMs: 400,
            batchMaxEntries: 50,
          },
        },
        { PARSEC_SIGNER_KEYS: keys.join(",") },
      ),
      { logger: testLogger() },
    );
  });
  after(async () => {
    await node?.stop();
    await h?.close();
  });

  it("commits every m-th transfer with co-signed checkpoints, many channels in one transaction", async () => {
    const started = Date.now();
    // `timed` gets fewer than m transfers: only the timeout commits it.
    await h.produce([timed.record(timed.next(0, { kind: "PAY", amount: 3n }).wire)]);
    const records = both.flatMap((c) =>
      [0, 1, 2, 3, 4].map(() => c.record(c.next(0, { kind: "PAY", amount: 1000n }).wire)),
    );
    await h.produce(records);
    for (const c of both) {
      await waitFor(`checkpoint of ${c.id}`, async () => (await h.onchain(c.id)).seq0 === 5, 20_000);
    }
    const events = await waitFor("checkpoint events", async () => {
      const e = (await h.settlements()).filter((x) => x.action === "CHECKPOINT" && x.status === "CONFIRMED");
      return e.length >= 3 ? e : undefined;
    });
    const txs = new Set(events.filter((e) => both.some((c) => c.id === e.channelId)).map((e) => e.txHash));
    expect(txs.size, "one batch transaction for the three channels").to.equal(1);
    // Proposals and signatures travelled on their topics.
    expect((await h.readAll(h.topics.checkpointProposals)).length).to.be.greaterThanOrEqual(3);
    const sigs = (await h.readAll(h.topics.checkpointSignatures)).map((r) =>
      codecs().checkpointSignature.decode(r.value as Buffer),
    );
    expect(
      sigs
        .filter((s) => s.checkpoint.channelId === both[0].id)
        .map((s) => s.signerIndex)
        .sort(),
    ).to.deep.equal([0, 1]);
    // The m-th rule fired well before the timeout; the channel below m waits for the timeout.
    if (Date.now() - started < 6000) expect((await h.onchain(timed.id)).seq0).to.equal(0);
    expect(
      node?.metrics.value(M.commits, { kind: "checkpoint", status: "applied" }),
    ).to.be.greaterThanOrEqual(3);
    expect(node?.metrics.total(M.gas)).to.be.greaterThan(0);
  });

  it("commits after checkpoint_timeout when fewer than m transfers arrived", async () => {
    await waitFor("timeout commit", async () => (await h.onchain(timed.id)).seq0 === 1, 20_000);
  });

  it("commits at once on a CHECKPOINT_NOW control request", async () => {
    await h.produce([asked.record(asked.next(1, { kind: "PAY", amount: 9n }).wire)]);
    await waitFor("applied", () => node?.locate(asked.id)?.ch.payers[1].state.seq === 1);
    const req = codecs().control.encode({
      schemaVersion: 1,
      requestId: "cp-now-1",
      channelId: asked.id,
      action: "CHECKPOINT_NOW",
      requestedBy: null,
      requestedAtMs: Date.now(),
      reason: null,
    });
    await h.produce([{ key: channelKey(asked.id), value: req }], h.topics.control);
    await waitFor("checkpoint-now commit", async () => (await h.onchain(asked.id)).seq1 === 1, 6000);
  });

  it("falls back to the payee's head proof when the payer never signs the checkpoint", async () => {
    await h.produce(
      [0, 1, 2, 3, 4].map(() => onlyPayee.record(onlyPayee.next(0, { kind: "PAY", amount: 77n }).wire)),
    );
    await waitFor("head proof on-chain", async () => (await h.onchain(onlyPayee.id)).seq0 === 5, 20_000);
    const ev = await waitFor("head proof event", async () =>
      (await h.settlements()).find(
        (e) => e.channelId === onlyPayee.id && e.action === "HEAD_PROOF" && e.status === "CONFIRMED",
      ),
    );
    expect(ev.seq0).to.equal(5);
    // The node's state moved its base to the committed head (history pruned).
    await waitFor("pruned", () => node?.locate(onlyPayee.id)?.ch.payers[0].baseSeq === 5);
  });
});
