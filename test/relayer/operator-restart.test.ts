/**
 * Defect 7: a restart must cause no duplicate on-chain work. A node proposes checkpoints that nobody
 * signs yet (its signer is off) and stops with the proposals out, older than the signature timeout;
 * restarted with its signer on, it must wait for the signatures from the restore time (not fall back to
 * head proofs at once while its signer co-signs) and send each channel's commit exactly once. The test
 * counts the transactions of every key the node holds by their nonces.
 */
import { expect } from "chai";
import hre from "hardhat";
import { parseEther } from "ethers";
import { ParsecNode } from "../../relayer/src/node";
import { Harness, sleep, testLogger, waitFor, type TestChannel } from "./harness";

const CHANNELS = 6;
const TRANSFERS = 3;
/** The restarted node's signature timeout; the proposals are older than this when it restarts. */
const SIGNATURE_TIMEOUT_MS = 6000;

describe("relayer: a restart with checkpoint proposals out", function () {
  this.timeout(180_000);
  let h: Harness;
  let node: ParsecNode | null = null;
  const channels: TestChannel[] = [];

  before(async () => {
    h = await Harness.create();
    for (let i = 0; i < CHANNELS; i++) channels.push(await h.openChannel(parseEther("2"), parseEther("2")));
  });
  after(async () => {
    await node?.stop();
    await h?.close();
  });

  it("sends no duplicate transactions: each channel's checkpoint once, no head proofs", async () => {
    const keys = channels.flatMap((c) => c.wallets.map((w) => w.privateKey));
    const env = { PARSEC_SIGNER_KEYS: keys.join(",") };
    const commit = {
      everyM: TRANSFERS,
      checkpointTimeoutMs: 600_000,
      batchMaxWaitMs: 1500,
      batchMaxEntries: 50,
    };
    // Run 1: proposals go out, nobody signs them (the signer is off, the timeout is long).
    node = await ParsecNode.start(
      h.config({ commit: { ...commit, signatureTimeoutMs: 120_000 }, signer: { enabled: false } }, env),
      { logger: testLogger() },
    );
    await h.produce(
      channels.flatMap((c) =>
        Array.from({ length: TRANSFERS }, () => c.record(c.next(0, { kind: "PAY", amount: 1000n }).wire)),
      ),
    );
    await waitFor(
      "every channel has a proposal out",
      () => channels.every((c) => node?.locate(c.id)?.ch.proposal),
      30_000,
    );
    // The proposals are now older than the next run's signature timeout.
    await sleep(SIGNATURE_TIMEOUT_MS + 1000);
    await node.stop();
    node = null;

    const addresses = [h.submitter.address, ...channels.flatMap((c) => c.wallets.map((w) => w.address))];
    const nonces = async (): Promise<number> => {
      let n = 0;
      for (const a of addresses) n += await hre.ethers.provider.getTransactionCount(a, "latest");
      return n;
    };
    const before = await nonces();
    const eventsBefore = (await h.settlements()).length;

    // Run 2: the restart, with the signer on.
    node = await ParsecNode.start(
      h.config({ commit: { ...commit, signatureTimeoutMs: SIGNATURE_TIMEOUT_MS } }, env),
      { logger: testLogger() },
    );
    for (const c of channels) {
      await waitFor(`${c.id} committed`, async () => (await h.onchain(c.id)).seq0 === TRANSFERS, 60_000);
    }
    // Long enough for a late fallback or a second batch to show up.
    await sleep(SIGNATURE_TIMEOUT_MS + 2000);

    const sent = (await nonces()) - before;
    const events = (await h.settlements()).slice(eventsBefore);
    const done = events.filter((e) => e.status === "CONFIRMED" || e.status === "SKIPPED");
    const txs = new Set(done.map((e) => e.txHash));
    console.log(`      transactions after the restart: ${sent} (${CHANNELS} channels)`);
    expect(
      done.filter((e) => e.action === "HEAD_PROOF"),
      "no head proof while the signer co-signs",
    ).to.deep.equal([]);
    expect(
      done.filter((e) => e.status === "SKIPPED"),
      "no entry the chain already held",
    ).to.deep.equal([]);
    for (const c of channels) {
      expect(
        done.filter((e) => e.channelId === c.id),
        `one commit of ${c.id}`,
      ).to.have.length(1);
    }
    expect(sent, "transactions sent = batch transactions reported").to.equal(txs.size);
    expect(sent, "the checkpoints share batches").to.be.lessThanOrEqual(2);
  });
});
