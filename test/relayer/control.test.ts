/**
 * Items 7 and 8: the control topic (dispute in pieces, settle now cooperatively or unilaterally) and
 * the watchtower (a counterparty closes with an older state: the node brings newer evidence within the
 * challenge period and settles when it ends).
 */
import { expect } from "chai";
import hre from "hardhat";
import { Wallet, parseEther, type Contract } from "ethers";
import { codecs, hashlockOf, type ControlAction, type Hash } from "../../sdk";
import { ParsecNode } from "../../relayer/src/node";
import { channelKey } from "../../relayer/src/kafka/topics";
import { Harness, sleep, testLogger, waitFor, type TestChannel } from "./harness";

describe("relayer: control requests and the watchtower", function () {
  this.timeout(180_000);
  let h: Harness;
  let node: ParsecNode | null = null;
  let disputed: TestChannel;
  let coop: TestChannel;
  let unilateral: TestChannel;
  let watched: TestChannel;
  let locked: TestChannel;
  let twoPots: TestChannel;
  let token: Contract;
  let tokenChannel: TestChannel;

  const control = async (c: TestChannel, action: ControlAction, requestId: string): Promise<void> => {
    const value = codecs().control.encode({
      schemaVersion: 1,
      requestId,
      channelId: c.id,
      action,
      requestedBy: c.params.participant0,
      requestedAtMs: Date.now(),
      reason: "test",
    });
    await h.produce([{ key: channelKey(c.id), value }], h.topics.control);
  };
  const balance = (a: string): Promise<bigint> => hre.ethers.provider.getBalance(a);
  const timeTravel = async (seconds: number): Promise<void> => {
    await hre.network.provider.send("evm_increaseTime", [seconds]);
    await hre.network.provider.send("evm_mine", []);
  };

  before(async () => {
    h = await Harness.create();
    disputed = await h.openChannel(parseEther("2"), parseEther("2"));
    coop = await h.openChannel(parseEther("2"), parseEther("2"));
    unilateral = await h.openChannel(parseEther("2"), parseEther("2"));
    watched = await h.openChannel(parseEther("2"), parseEther("2"));
    locked = await h.openChannel(parseEther("2"), parseEther("2"));
    twoPots = await h.openChannel(parseEther("2"), parseEther("2"));
    token = await h.deployToken();
    tokenChannel = await h.openChannel(parseEther("300"), parseEther("100"), undefined, token);
    const keys = [
      ...coop.wallets.map((w) => w.privateKey),
      ...tokenChannel.wallets.map((w) => w.privateKey),
      unilateral.wallets[0].privateKey,
    ];
    node = await ParsecNode.start(
      h.config(
        { commit: { everyM: 100_000, maxTransfersPerCall: 20, signatureTimeoutMs: 60_000 } },
        { PARSEC_SIGNER_KEYS: keys.join(",") },
      ),
      { logger: testLogger() },
    );
  });
  after(async () => {
    await node?.stop();
    await h?.close();
  });

  it("DISPUTE brings the whole chain since the on-chain state on-chain, in pieces", async () => {
    const wires = Array.from(
      { length: 45 },
      (_, i) => disputed.next(0, { kind: "PAY", amount: 1000n + BigInt(i) }).wire,
    );
    await h.produce(wires.map((w) => disputed.record(w)));
    await waitFor("applied", () => node?.locate(disputed.id)?.ch.payers[0].state.seq === 45);
    await control(disputed, "DISPUTE", "dispute-1");
    await waitFor("chain on-chain", async () => (await h.onchain(disputed.id)).seq0 === 45, 30_000);
    const pieces = await waitFor("three piece events", async () => {
      const e = (await h.settlements()).filter(
        (x) => x.channelId === disputed.id && x.action === "CHAIN_EXTENSION" && x.status === "CONFIRMED",
      );
      return e.length >= 3 ? e : undefined;
    });
    expect(pieces).to.have.length(3);
    expect(pieces.every((p) => p.requestId === "dispute-1")).to.equal(true);
  });

  it("SETTLE_NOW closes cooperatively when the node holds both keys", async () => {
    await h.produce([
      coop.record(coop.next(0, { kind: "PAY", amount: parseEther("0.5") }).wire),
      coop.record(coop.next(1, { kind: "PAY", amount: parseEther("0.2") }).wire),
    ]);
    await waitFor("applied", () => node?.locate(coop.id)?.ch.payers[1].state.seq === 1);
    const before = [await balance(coop.params.participant0), await balance(coop.params.participant1)];
    await control(coop, "SETTLE_NOW", "settle-1");
    await waitFor("settled", async () => (await h.onchain(coop.id)).status === 3, 20_000);
    const out = coop.ledger.settlement();
    expect((await balance(coop.params.participant0)) - before[0]).to.equal(out.payout0);
    expect((await balance(coop.params.participant1)) - before[1]).to.equal(out.payout1);
    const ev = await waitFor("close event", async () =>
      (await h.settlements()).find((e) => e.channelId === coop.id && e.action === "COOPERATIVE_CLOSE"),
    );
    expect(ev.status).to.equal("CONFIRMED");
    expect(ev.requestId).to.equal("settle-1");
  });

  it("runs an ERC-20 channel like an ETH one: applies, settles cooperatively, pays out in token units", async () => {
    const tokenBalance = async (a: string): Promise<bigint> =>
      (await token.getFunction("balanceOf")(a)) as bigint;
    await h.produce([
      tokenChannel.record(tokenChannel.next(0, { kind: "PAY", amount: parseEther("40") }).wire),
      tokenChannel.record(tokenChannel.next(1, { kind: "PAY", amount: parseEther("15") }).wire),
      tokenChannel.record(tokenChannel.next(0, { kind: "PAY", amount: 7n }).wire),
    ]);
    await waitFor("applied", () => node?.locate(tokenChannel.id)?.ch.payers[0].state.seq === 2);
    const [p0, p1] = [tokenChannel.params.participant0, tokenChannel.params.participant1];
    const before = [await tokenBalance(p0), await tokenBalance(p1)];
    await control(tokenChannel, "SETTLE_NOW", "settle-token");
    await waitFor("settled", async () => (await h.onchain(tokenChannel.id)).status === 3, 20_000);
    const out = tokenChannel.ledger.settlement();
    expect(out.payout0).to.equal(parseEther("275") - 7n);
    expect((await tokenBalance(p0)) - before[0]).to.equal(out.payout0);
    expect((await tokenBalance(p1)) - before[1]).to.equal(out.payout1);
    expect(await tokenBalance(h.address)).to.equal(0n);
  });

  it("SETTLE_NOW with one key: newest evidence on-chain, unilateral close, settled when the period ends", async () => {
    const wires = [0, 1, 2].map(() => unilateral.next(1, { kind: "PAY", amount: parseEther("0.1") }).wire);
    await h.produce(wires.map((w) => unilateral.record(w)));
    await waitFor("applied", () => node?.locate(unilateral.id)?.ch.payers[1].state.seq === 3);
    await control(unilateral, "SETTLE_NOW", "settle-2");
    await waitFor("closing", async () => (await h.onchain(unilateral.id)).status === 2, 20_000);
    expect((await h.onchain(unilateral.id)).seq1).to.equal(3);
    const before = await balance(unilateral.params.participant0);
    await timeTravel(3601);
    await waitFor(
      "settled by the watchtower",
      async () => (await h.onchain(unilateral.id)).status === 3,
      20_000,
    );
    expect((await balance(unilateral.params.participant0)) - before).to.equal(
      unilateral.ledger.settlement().payout0,
    );
  });

  it("the watchtower answers a close with an older state by newer evidence, then settles", async () => {
    // P1 paid P0 ten times; P1 then closes hoping the chain forgets it.
    const wires = Array.from(
      { length: 10 },
      () => watched.next(1, { kind: "PAY", amount: parseEther("0.05") }).wire,
    );
    await h.produce(wires.map((w) => watched.record(w)));
    await waitFor("applied", () => node?.locate(watched.id)?.ch.payers[1].state.seq === 10);
    const p1 = new Wallet(watched.wallets[1].privateKey, hre.ethers.provider);
    await (await (h.channels.connect(p1) as Contract).getFunction("close")(watched.params)).wait();
    await waitFor("newer evidence on-chain", async () => (await h.onchain(watched.id)).seq1 === 10, 20_000);
    expect((await h.onchain(watched.id)).status).to.equal(2);
    const before = await balance(watched.params.participant0);
    await timeTravel(3601);
    await waitFor("settled", async () => (await h.onchain(watched.id)).status === 3, 20_000);
    expect((await balance(watched.params.participant0)) - before).to.equal(
      watched.ledger.settlement().payout0,
    );
    expect(watched.ledger.settlement().payout0).to.equal(parseEther("2.5"));
  });

  it("after settling, resolves the locked pot once every lock has expired: registered secrets to the payee", async () => {
    const secret = ("0x" + "5e".repeat(32)) as Hash;
    const unrevealed = ("0x" + "0d".repeat(32)) as Hash;
    const expiry = BigInt((await hre.ethers.provider.getBlock("latest"))!.timestamp + 3 * 3600);
    const wires = [
      locked.next(0, { kind: "LOCK", amount: parseEther("0.3"), hashlock: hashlockOf(secret), expiry }).wire,
      locked.next(0, { kind: "LOCK", amount: parseEther("0.1"), hashlock: hashlockOf(unrevealed), expiry })
        .wire,
      locked.next(0, { kind: "PAY", amount: parseEther("0.05") }).wire,
    ];
    await h.produce(wires.map((w) => locked.record(w)));
    await waitFor("applied", () => node?.locate(locked.id)?.ch.payers[0].state.seq === 3);
    // P0 closes with nothing on-chain; the watchtower brings its chain (with both locks) and settles.
    const p0 = new Wallet(locked.wallets[0].privateKey, hre.ethers.provider);
    await (await (h.channels.connect(p0) as Contract).getFunction("close")(locked.params)).wait();
    await waitFor("chain on-chain", async () => (await h.onchain(locked.id)).seq0 === 3, 20_000);
    await timeTravel(3601);
    await waitFor("settled", async () => (await h.onchain(locked.id)).status === 3, 20_000);
    const pot = async (): Promise<bigint> =>
      ((await h.channels.getFunction("pendingLocksOf")(locked.id)) as { pot0: bigint }).pot0;
    expect(await pot()).to.equal(parseEther("0.4"));
    // The payee reveals one secret in time; before the locks expire the node leaves the pot alone.
    await (await (h.channels.connect(p0) as Contract).getFunction("registerSecrets")([secret])).wait();
    await sleep(1500);
    expect(await pot()).to.equal(parseEther("0.4"));
    const before = [await balance(locked.params.participant0), await balance(locked.params.participant1)];
    await timeTravel(3 * 3600);
    await waitFor("resolved by the node", async () => ((await pot()) === 0n ? true : undefined), 20_000);
    expect((await balance(locked.params.participant1)) - before[1]).to.equal(parseEther("0.3"));
    expect((await balance(locked.params.participant0)) - before[0]).to.equal(parseEther("0.1"));
    const ev = await waitFor("resolve event", async () =>
      (await h.settlements()).find((e) => e.channelId === locked.id && e.action === "RESOLVE_LOCKS"),
    );
    expect(ev.status).to.equal("CONFIRMED");
  });

  it("an open lock of one payer blocks nothing: the other payer's expired lock is resolved", async () => {
    const latest = async (): Promise<number> => (await hre.ethers.provider.getBlock("latest"))!.timestamp;
    const now = await latest();
    // Payer 0 locks with a far expiry and a secret nobody reveals; payer 1 locks with a short expiry.
    const wires = [
      twoPots.next(0, {
        kind: "LOCK",
        amount: parseEther("0.2"),
        hashlock: hashlockOf(("0x" + "f0".repeat(32)) as Hash),
        expiry: BigInt(now + 365 * 86_400),
      }).wire,
      twoPots.next(1, {
        kind: "LOCK",
        amount: parseEther("0.1"),
        hashlock: hashlockOf(("0x" + "f1".repeat(32)) as Hash),
        expiry: BigInt(now + 2 * 3600),
      }).wire,
      twoPots.next(1, { kind: "PAY", amount: parseEther("0.05") }).wire,
    ];
    await h.produce(wires.map((w) => twoPots.record(w)));
    await waitFor("applied", () => node?.locate(twoPots.id)?.ch.payers[1].state.seq === 2);
    const p1 = new Wallet(twoPots.wallets[1].privateKey, hre.ethers.provider);
    await (await (h.channels.connect(p1) as Contract).getFunction("close")(twoPots.params)).wait();
    await waitFor("chains on-chain", async () => {
      const s = await h.onchain(twoPots.id);
      return s.seq0 === 1 && s.seq1 === 2;
    });
    await timeTravel(3601);
    await waitFor("settled", async () => (await h.onchain(twoPots.id)).status === 3, 20_000);
    const pending = async () =>
      (await h.channels.getFunction("pendingLocksOf")(twoPots.id)) as {
        pot0: bigint;
        pot1: bigint;
        resolved0: bigint;
      };
    expect((await pending()).pot0).to.equal(parseEther("0.2"));
    expect((await pending()).pot1).to.equal(parseEther("0.1"));
    const before = await balance(twoPots.params.participant1);
    await timeTravel(2 * 3600);
    await waitFor("payer 1's pot resolved", async () => (await pending()).pot1 === 0n, 20_000);
    expect((await balance(twoPots.params.participant1)) - before).to.equal(parseEther("0.1"));
    // Payer 0's lock is still open: its pot stays until the lock expires or its secret is revealed.
    expect((await pending()).pot0).to.equal(parseEther("0.2"));
    expect((await pending()).resolved0).to.equal(0n);
  });
});
