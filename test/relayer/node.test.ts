/**
 * Items 1, 2, 3, 4 and 9 of the relayer issue against a real broker and the in-process chain: the
 * consumer group processes its partitions in order, transfers are verified, reordered and applied,
 * every kind of bad input goes to the dead-letter topic with its reason and original bytes, the HTTP
 * API serves state, evidence and cooperative-close signatures, and a restarted node restores from its
 * local store and the changelog instead of replaying the transfer topic.
 */
import { expect } from "chai";
import { parseEther } from "ethers";
import hre from "hardhat";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import {
  codecs,
  type Hex,
  ledgerFromEvidence,
  MAX_UINT128,
  parseEvidence,
  type SignedTransfer,
  signTransferUnjournaled,
  toTransferBody,
  transferMessage,
} from "../../sdk";
import { hashTransfer, parsecDomain } from "../../sdk/src/eip712";
import { ParsecNode } from "../../relayer/src/node";
import { M } from "../../relayer/src/http/metrics";
import { channelKey } from "../../relayer/src/kafka/topics";
import { Harness, getJson, testLogger, waitFor, type TestChannel } from "./harness";

interface ChannelJson {
  payers: {
    seq: number;
    paidTotal: string;
    lockedTotal: string;
    pendingLocks: unknown[];
    waitingInWindow: number[];
  }[];
  balances: Record<string, string>;
  settlement: { payout0: string; payout1: string } | null;
  onchain: { status: string; seq0: number; seq1: number };
}

describe("relayer: node on a real broker", function () {
  this.timeout(180_000);
  let h: Harness;
  let node: ParsecNode | null = null;
  let a: TestChannel;
  let b: TestChannel;

  const state = async (id: string): Promise<ChannelJson | undefined> => {
    const r = await getJson<ChannelJson>(`${node?.url}/channels/${id}`);
    return r.status === 200 ? r.body : undefined;
  };
  const seqs = (ch: TestChannel) => async (): Promise<ChannelJson | undefined> => {
    const s = await state(ch.id);
    return s && s.payers[0].seq === ch.ledger.state(0).seq && s.payers[1].seq === ch.ledger.state(1).seq
      ? s
      : undefined;
  };

  before(async () => {
    h = await Harness.create();
    a = await h.openChannel(parseEther("5"), parseEther("5"));
    b = await h.openChannel(parseEther("1"), 0n);
    // The node holds P1's key of channel a: it can co-sign a cooperative close for P0's wallet.
    node = await ParsecNode.start(
      h.config(
        { window: { capacity: 4, fundsWaitMs: 1000 } },
        { PARSEC_SIGNER_KEYS: a.wallets[1].privateKey },
      ),
      {
        logger: testLogger(),
      },
    );
  });
  after(async () => {
    await node?.stop();
    await h?.close();
  });

  it("applies transfers of many channels in chain order, whatever the arrival order and copies", async () => {
    const wires: Buffer[] = [];
    for (let i = 0; i < 30; i++)
      wires.push(a.next(i % 3 === 0 ? 1 : 0, { kind: "PAY", amount: 1_000_000n + BigInt(i) }).wire);
    const lockPre = randomBytes(32);
    const hashlock =
      `0x${(await import("node:crypto")).createHash("sha256").update(lockPre).digest("hex")}` as Hex;
    const expiry = BigInt(Math.floor(Date.now() / 1000) + 86_400);
    wires.push(a.next(0, { kind: "LOCK", amount: 5000n, hashlock, expiry }).wire);
    // A lock that expired long ago: the payer may cancel it.
    wires.push(
      a.next(0, { kind: "LOCK", amount: 7000n, hashlock: `0x${"11".repeat(32)}` as Hex, expiry: 1000n }).wire,
    );
    wires.push(a.next(0, { kind: "UNLOCK", lock: { amount: 5000n, expiry, hashlock } }).wire);
    const bw = [
      b.next(0, { kind: "PAY", amount: 10n }).wire,
      b.next(0, { kind: "PAY", amount: 20n }).wire,
      b.next(1, { kind: "PAY", amount: 5n }).wire,
    ];
    // Reverse blocks of three and interleave the channels: the window must rebuild the order.
    const shuffled: Buffer[] = [];
    for (let i = 0; i < wires.length; i += 3) shuffled.push(...wires.slice(i, i + 3).reverse());
    await h.produce([...shuffled.map((w) => a.record(w)), ...bw.reverse().map((w) => b.record(w))]);
    const s = await waitFor("channel a applied", seqs(a));
    expect(s.payers[0].paidTotal).to.equal(a.ledger.state(0).paidTotal.toString());
    expect(s.payers[0].lockedTotal).to.equal("7000");
    expect(s.payers[0].pendingLocks).to.have.length(1);
    expect(s.balances.available0).to.equal(a.ledger.balances().available0.toString());
    const sb = await waitFor("channel b applied", seqs(b));
    expect(sb.payers[1].paidTotal).to.equal("5");
    expect(node?.metrics.value(M.duplicateApply)).to.equal(0);
  });

  it("dead-letters every kind of bad input with its reason and original bytes, and keeps going", async () => {
    const before = (await h.deadLetters()).length;
    const other = parsecDomain(h.chainId + 1n, h.address);
    const good = a.sign(0, { kind: "PAY", amount: 1n });
    const corrupt = (t: SignedTransfer): Buffer => {
      const sig = Buffer.from(t.signature.slice(2), "hex");
      sig[5] ^= 0xff;
      return a.encode({ ...t, signature: `0x${sig.toString("hex")}` as Hex });
    };
    const wrongDomain = codecs().transfer.encode(
      transferMessage(
        other,
        signTransferUnjournaled(a.signers[0], other, good.transfer),
        a.signers[0].address,
      ),
    );
    const head = a.ledger.state(1);
    const overflowBody = toTransferBody({
      seq: head.seq + 1,
      kind: 0,
      amount: MAX_UINT128,
      paidTotal: 0n,
      lockedTotal: head.lockedTotal,
      locksRoot: head.locksRoot,
      hashlock: `0x${"00".repeat(32)}`,
      expiry: 0n,
      invoiceId: `0x${"00".repeat(32)}`,
      prev: head.head,
    });
    const overflow = a.encode(
      signTransferUnjournaled(a.signers[1], h.domain, { ...overflowBody, channelId: a.id, payer: 1 }),
    );
    const unknown = await h.openChannel(parseEther("1"), 0n);
    const cases: { name: string; key: Buffer | null; value: Buffer; code: string }[] = [
      { name: "random bytes", key: channelKey(a.id), value: randomBytes(97), code: "Malformed" },
      { name: "truncated avro", key: channelKey(a.id), value: good.wire.subarray(0, 120), code: "Malformed" },
      { name: "empty value", key: channelKey(a.id), value: Buffer.alloc(0), code: "Malformed" },
      { name: "bad signature", key: channelKey(a.id), value: corrupt(good.transfer), code: "BadSignature" },
      { name: "wrong domain", key: channelKey(a.id), value: wrongDomain, code: "WrongDomain" },
      { name: "wrong key", key: Buffer.from(a.id), value: good.wire, code: "Malformed" },
      { name: "overflow", key: channelKey(a.id), value: overflow, code: "Overflow" },
      {
        name: "signer not a participant",
        key: channelKey(unknown.id),
        value: codecs().transfer.encode(
          transferMessage(
            h.domain,
            signTransferUnjournaled(a.signers[0], h.domain, {
              ...unknown.sign(0, { kind: "PAY", amount: 1n }).transfer,
            }),
            a.signers[0].address,
          ),
        ),
        code: "BadSignature",
      },
      {
        name: "insufficient balance",
        key: channelKey(b.id),
        value: b.sign(1, { kind: "PAY", amount: parseEther("3") }).wire,
        code: "InsufficientBalance",
      },
    ];
    // A gap that outlives the window (capacity 4): seqs +2 … +7 of b's payer 0 without +1.
    const gapBase = b.ledger.state(0);
    const skipped = b.sign(0, { kind: "PAY", amount: 1n }, gapBase);
    let s = {
      ...gapBase,
      seq: skipped.transfer.seq,
      head: hashTransfer(skipped.transfer),
      paidTotal: gapBase.paidTotal + 1n,
    };
    const gap: Buffer[] = [];
    for (let i = 0; i < 6; i++) {
      const t = b.sign(0, { kind: "PAY", amount: 1n }, s);
      gap.push(t.wire);
      s = { ...s, seq: t.transfer.seq, head: hashTransfer(t.transfer), paidTotal: t.transfer.paidTotal };
    }
    // A duplicate of an applied transfer.
    const dup = a.next(0, { kind: "PAY", amount: 3n }).wire;
    await h.produce([
      ...cases.map((c) => ({ key: c.key, value: c.value })),
      { key: channelKey(a.id), value: dup },
      { key: channelKey(a.id), value: dup },
    ]);
    await h.produce(gap.map((w) => b.record(w)));
    // The node keeps going: a valid transfer after all that is applied.
    const after = a.next(1, { kind: "PAY", amount: 11n }).wire;
    await h.produce([a.record(after)]);
    await waitFor("valid transfer after bad input", seqs(a));
    await node?.flush();
    const letters = await waitFor("dead letters", async () => {
      const all = (await h.deadLetters()).slice(before);
      return all.length >= cases.length + 1 + 2 ? all : undefined;
    });
    for (const c of cases) {
      const l = letters.find((x) => Buffer.from(x.original).equals(c.value));
      expect(l, c.name).to.not.equal(undefined);
      expect(l?.reasonCode, c.name).to.equal(c.code);
      expect(l?.reasonText.length, c.name).to.be.greaterThan(10);
      expect(l?.topic).to.equal(h.topics.transfers);
    }
    expect(letters.find((x) => Buffer.from(x.original).equals(dup))?.reasonCode).to.equal("Duplicate");
    const gapLetters = letters.filter((x) => x.reasonCode === "SeqGap");
    expect(gapLetters).to.have.length(2); // 6 waiting, window of 4: the two farthest are evicted
    expect(gap.some((g) => Buffer.from(gapLetters[0].original).equals(g))).to.equal(true);
    const sb = await state(b.id);
    expect(sb?.payers[0].waitingInWindow).to.have.length(4);
  });

  it("proves an equivocation on-chain and dead-letters the second transfer", async () => {
    const c = await h.openChannel(parseEther("2"), parseEther("2"));
    const first = c.next(0, { kind: "PAY", amount: 100n });
    const second = c.sign(0, { kind: "PAY", amount: 999n }, c.ledger.stateAt(0, 0));
    await h.produce([c.record(first.wire), c.record(second.wire)]);
    await waitFor("EquivocationProved on-chain", async () => (await h.onchain(c.id)).status === 3);
    await node?.flush();
    const letters = await h.deadLetters();
    expect(letters.find((x) => Buffer.from(x.original).equals(second.wire))?.reasonCode).to.equal(
      "Equivocation",
    );
    const events = await waitFor("settlement event", async () => {
      const e = (await h.settlements()).filter(
        (x) => x.channelId === c.id && x.action === "EQUIVOCATION_PROOF",
      );
      return e.length > 0 ? e : undefined;
    });
    expect(events[0].status).to.equal("CONFIRMED");
  });

  it("serves health, metrics, channel lists, evidence and cooperative-close signatures", async () => {
    const url = node?.url as string;
    const health = await getJson<{ ok: boolean; partitions: number[] }>(`${url}/health`);
    expect(health.status).to.equal(200);
    expect(health.body.partitions).to.have.length(h.partitions);
    const metrics = await (await fetch(`${url}/metrics`)).text();
    for (const name of [M.applied, M.tps, M.rejected, M.lag, M.commits, M.gas])
      expect(metrics).to.include(name);
    expect(metrics).to.match(/parsec_transfers_rejected_total\{reason="BadSignature"\} \d+/);

    const list = await getJson<{ channels: { channelId: string; held: boolean }[] }>(
      `${url}/channels?participant=${a.params.participant0}`,
    );
    expect(list.body.channels.map((c) => c.channelId)).to.deep.equal([a.id]);
    expect((await getJson(`${url}/channels?participant=nope`)).status).to.equal(400);
    // A channel that saw no transfer yet is served with its genesis state.
    const fresh = await h.openChannel(parseEther("1"), 0n);
    await waitFor(
      "registry sees the new channel",
      async () => (await getJson(`${url}/channels/${fresh.id}`)).status === 200,
    );
    const empty = await getJson<ChannelJson>(`${url}/channels/${fresh.id}`);
    expect(empty.body.payers[0].seq).to.equal(0);
    expect(empty.body.balances.available0).to.equal(parseEther("1").toString());
    expect((await getJson(`${url}/channels/0x${"ab".repeat(32)}`)).status).to.equal(404);

    const ev = await fetch(`${url}/channels/${a.id}/evidence`);
    expect(ev.status).to.equal(200);
    const evidence = parseEvidence(await ev.text());
    const { ledger } = ledgerFromEvidence(evidence, { verifySignature: "ethers" });
    expect(ledger.state(0).paidTotal).to.equal(a.ledger.state(0).paidTotal);
    expect(ledger.state(1).seq).to.equal(a.ledger.state(1).seq);

    // The split of the node's state, asked by P0's wallet: the node signs as P1 (the key it holds).
    const lockFree = a.ledger.settlement();
    const post = (body: unknown) =>
      fetch(`${url}/channels/${a.id}/cooperative-close`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
    // Channel a has a pending lock: no cooperative split yet.
    const locked = await post({
      balance0: lockFree.payout0.toString(),
      balance1: lockFree.payout1.toString(),
    });
    expect(locked.status).to.equal(409);
    expect(((await locked.json()) as { message: string }).message).to.match(/locks are pending/);
    // The wallet's client (dapp and channel:close --relayer) shows the node's own reason, not a URL hint.
    const { relayerClient } = await import("../../client");
    const client = relayerClient(url);
    const refused = await client
      .cooperativeClose(a.id as Hex, lockFree.payout0, lockFree.payout1, a.params.participant1)
      .then(
        () => null,
        (e: Error) => e.message,
      );
    expect(refused).to.match(/answered 409: Conflict: locks are pending/);
    expect(refused).to.not.include("Check that the relayer runs");
    const s = a.ledger.state(0);
    // The lock expired: the payer cancels it, the node accepts the CANCEL.
    const cancel = a.next(0, { kind: "CANCEL", lock: s.locks[0] });
    await h.produce([a.record(cancel.wire)]);
    await waitFor("cancel applied", seqs(a));
    const out = a.ledger.settlement();
    const wrong = await post({
      balance0: (out.payout0 + 1n).toString(),
      balance1: (out.payout1 - 1n).toString(),
    });
    expect(wrong.status).to.equal(409);
    expect((await post({ balance0: "x", balance1: "1" })).status).to.equal(400);
    const split = { balance0: out.payout0.toString(), balance1: out.payout1.toString() };
    // The close binds to the node's seqs: other seqs are refused, and so is an expiry out of range.
    const [seq0, seq1] = [a.ledger.state(0).seq, a.ledger.state(1).seq];
    const otherSeqs = await post({ ...split, seq0: seq0 - 1, seq1 });
    expect(otherSeqs.status).to.equal(409);
    expect(((await otherSeqs.json()) as { message: string }).message).to.include(`(${seq0}, ${seq1})`);
    expect((await post({ ...split, seq0: "1" })).status).to.equal(400);
    expect((await post({ ...split, expiry: "1" })).status).to.equal(400);
    const chainNow = BigInt((await hre.ethers.provider.getBlock("latest"))!.timestamp);
    expect((await post({ ...split, expiry: (chainNow + 10n * 86_400n).toString() })).status).to.equal(400);
    // Named seqs equal to the node's and an expiry within the window are signed as asked.
    const named = await post({ ...split, seq0, seq1, expiry: (chainNow + 600n).toString() });
    expect(named.status).to.equal(200);
    expect(((await named.json()) as { expiry: string }).expiry).to.equal((chainNow + 600n).toString());
    const ok = await post(split);
    expect(ok.status).to.equal(200);
    const sig = (await ok.json()) as {
      signer: string;
      signature: Hex;
      seq0: number;
      seq1: number;
      balance0: string;
      balance1: string;
      expiry: string;
    };
    expect(sig.signer).to.equal(a.params.participant1);
    expect([sig.seq0, sig.seq1, sig.balance0, sig.balance1]).to.deep.equal([
      seq0,
      seq1,
      split.balance0,
      split.balance1,
    ]);
    expect(BigInt(sig.expiry) > chainNow).to.equal(true);
    // The client names the participant whose signature it wants (a node holding both keys needs it) and
    // gets the same terms; a key the node does not hold is refused with the node's reason.
    const viaClient = await client.cooperativeClose(
      a.id as Hex,
      out.payout0,
      out.payout1,
      a.params.participant1,
    );
    expect([viaClient.signer, viaClient.seq0, viaClient.seq1]).to.deep.equal([
      a.params.participant1,
      seq0,
      seq1,
    ]);
    const notHeld = await client
      .cooperativeClose(a.id as Hex, out.payout0, out.payout1, a.params.participant0)
      .then(
        () => null,
        (e: Error) => e.message,
      );
    expect(notHeld).to.match(/answered 409: Conflict: this node holds no key of/);
    // The wallet adds its own signature over the same terms and closes on-chain with the node's.
    const { signCooperativeClose } = await import("../../sdk/src/sign");
    const { cooperativeCloseArgs } = await import("../../sdk/src/records");
    const close = {
      channelId: a.id,
      seq0: sig.seq0,
      seq1: sig.seq1,
      balance0: out.payout0,
      balance1: out.payout1,
      expiry: BigInt(sig.expiry),
    };
    const sig0 = await signCooperativeClose(a.signers[0], h.domain, close);
    await (
      await h.channels.getFunction("cooperativeClose")(
        ...cooperativeCloseArgs(a.params, close, sig0, sig.signature),
      )
    ).wait();
    expect((await h.onchain(a.id)).status).to.equal(3);
  });

  it("restarts from its local store, and from the changelog alone, without replaying the transfer topic", async () => {
    const c = await h.openChannel(parseEther("3"), parseEther("3"));
    const wires = Array.from(
      { length: 40 },
      (_, i) => c.next((i % 2) as 0 | 1, { kind: "PAY", amount: 1000n }).wire,
    );
    await h.produce(wires.map((w) => c.record(w)));
    await waitFor("applied", seqs(c));
    const received = node?.metrics.total(M.received) ?? 0;
    expect(received).to.be.greaterThan(40);
    await node?.stop();
    node = null;

    // Produce while it is down, then restart on the same state dir: local store + changelog tail.
    const more = Array.from({ length: 10 }, () => c.next(0, { kind: "PAY", amount: 1n }).wire);
    await h.produce(more.map((w) => c.record(w)));
    node = await ParsecNode.start(h.config({ window: { capacity: 4, fundsWaitMs: 1000 } }), {
      logger: testLogger(),
    });
    await waitFor("applied after restart", seqs(c));
    expect(node.metrics.value(M.restoreRead, { source: "local" })).to.be.greaterThan(0);
    // Only what arrived while it was down was consumed again, not the topic from its start.
    expect(node.metrics.value(M.received, { topic: "transfers" })).to.be.lessThan(20);
    expect(node.metrics.value(M.duplicateApply)).to.equal(0);
    await node.stop();

    // Without the local store (a new machine): the changelog and the referenced transfers only.
    fs.rmSync(h.stateDir + "/" + h.groupId, { recursive: true, force: true });
    node = await ParsecNode.start(h.config({ window: { capacity: 4, fundsWaitMs: 1000 } }), {
      logger: testLogger(),
    });
    const s = await waitFor("restored from the changelog", seqs(c));
    expect(node.metrics.value(M.restoreRead, { source: "local" })).to.equal(0);
    expect(node.metrics.value(M.restoreRead, { source: "changelog" })).to.be.greaterThan(0);
    expect(node.metrics.value(M.received, { topic: "transfers" })).to.equal(0);
    expect(s.payers[0].paidTotal).to.equal(c.ledger.state(0).paidTotal.toString());
    const ev = parseEvidence(await (await fetch(`${node.url}/channels/${c.id}/evidence`)).text());
    expect(ledgerFromEvidence(ev, { verifySignature: "ethers" }).ledger.state(0).seq).to.equal(
      c.ledger.state(0).seq,
    );
  });
});
