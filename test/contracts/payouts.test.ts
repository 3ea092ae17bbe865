// Payouts: pushed, credited when the push fails, pulled with withdrawCredit; reentrancy (protocol §5).
import { expect } from "chai";
import hre from "hardhat";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { readFileSync } from "node:fs";
import path from "node:path";
import { concat, id as keccakOfText, parseEther } from "ethers";
import { hashlockOf, Kind, PayerChain, word, ZERO32 } from "../helpers/kit";
import type { Params } from "../helpers/kit";
import { coopArgs, DAY, deployBase, now, openEth, openToken, stateOf, Status } from "./fixtures";
import type { Base, Channel } from "./fixtures";

const { ethers } = hre;
const ONE = parseEther("1");
const ETH = ethers.ZeroAddress;

async function withContracts() {
  const base = await deployBase();
  const rejecting = await ethers.deployContract("RejectingReceiver");
  const reentrant = await ethers.deployContract("ReentrantReceiver");
  const probe = await ethers.deployContract("ReentrancyProbe");
  const bad = await ethers.deployContract("MisbehavingToken");
  const quirky = await ethers.deployContract("QuirkyToken");
  for (const s of [base.alice, base.bob]) {
    await bad.mint(s.address, parseEther("100"));
    await bad.connect(s).approve(base.address, ethers.MaxUint256);
    await quirky.mint(s.address, parseEther("100"));
    await quirky.connect(s).approve(base.address, ethers.MaxUint256);
  }
  return { ...base, rejecting, reentrant, probe, bad, quirky };
}

interface Half {
  params: Params;
  id: string;
  c0: PayerChain;
}

let nonce = 50_000n;

/** An ETH channel alice (P0) ↔ a contract (P1); carol deposits P1's share. Only alice can sign. */
async function openWithContract(b: Base, counterparty: string, d0 = ONE, d1 = ONE): Promise<Half> {
  const n = ++nonce;
  await b.channels.openEth(counterparty, DAY, n, { value: d0 });
  const params: Params = {
    participant0: b.alice.address,
    participant1: counterparty,
    asset: ETH,
    challengePeriod: DAY,
    nonce: n,
  };
  const id = await b.channels.channelIdOf(params);
  if (d1 > 0n) await b.channels.connect(b.carol).deposit(id, 1, { value: d1 });
  return { params, id, c0: new PayerChain(b.alice, b.dom, id, 0) };
}

/** alice's chain on-chain, alice closes, the period passes. */
async function closeAndWait(b: Base, ch: Half | Channel) {
  if (ch.c0.seq > 0) await b.channels.extendChain(ch.params, 0, "0x", ZERO32, "0x", concat(ch.c0.signed));
  await b.channels.close(ch.params);
  await time.increase(DAY);
}

describe("ParsecChannels: payouts, credits and reentrancy", () => {
  it('keeps the reentrancy flag in the pinned transient slot keccak256("parsec.vault.reentrancy")', () => {
    // The guard is hand-rolled (PayoutVault predates OZ's transient guard here): pin its slot as v4-core
    // pins its lock slot, so an edit cannot silently move it onto another contract's transient state.
    const source = readFileSync(path.join(__dirname, "../../contracts/PayoutVault.sol"), "utf8");
    const slot = /REENTRANCY_SLOT = (0x[0-9a-f]{64});/.exec(source)?.[1];
    expect(slot).to.equal(keccakOfText("parsec.vault.reentrancy"));
  });

  describe("a recipient that rejects ETH", () => {
    it("is credited on settle while the other side is paid; it pulls the credit later", async () => {
      const b = await loadFixture(withContracts);
      const rx = await b.rejecting.getAddress();
      const ch = await openWithContract(b, rx);
      await ch.c0.pay(parseEther("0.3"));
      await closeAndWait(b, ch);
      const tx = b.channels.connect(b.carol).settle(ch.params, ch.c0.headBody, "0x", ZERO32, ZERO32);
      await expect(tx).to.emit(b.channels, "PayoutCredited").withArgs(rx, ETH, parseEther("1.3"));
      await expect(tx).to.changeEtherBalances(
        [b.alice, b.rejecting, b.channels],
        [parseEther("0.7"), 0n, -parseEther("0.7")],
      );
      expect(await b.channels.creditOf(rx, ETH)).to.equal(parseEther("1.3"));
      const pull = b.channels.interface.encodeFunctionData("withdrawCredit", [ETH]);
      await expect(b.rejecting.execute(b.address, pull))
        .to.be.revertedWithCustomError(b.channels, "CreditTransferFailed")
        .withArgs(rx, ETH);
      expect(await b.channels.creditOf(rx, ETH)).to.equal(parseEther("1.3"));
      await b.rejecting.setAccepting(true);
      const ok = b.rejecting.execute(b.address, pull);
      await expect(ok).to.emit(b.channels, "CreditWithdrawn").withArgs(rx, ETH, parseEther("1.3"));
      await expect(ok).to.changeEtherBalances(
        [b.rejecting, b.channels],
        [parseEther("1.3"), -parseEther("1.3")],
      );
      expect(await b.channels.creditOf(rx, ETH)).to.equal(0n);
      await expect(b.rejecting.execute(b.address, pull))
        .to.be.revertedWithCustomError(b.channels, "NothingToWithdraw")
        .withArgs(rx, ETH);
    });

    it("is credited its lock winnings and forfeits, and a credit in one asset is not another's", async () => {
      const b = await loadFixture(withContracts);
      const rx = await b.rejecting.getAddress();
      const ch = await openWithContract(b, rx, ONE, 0n);
      const secret = word(42);
      await ch.c0.push(Kind.Lock, 400n, hashlockOf(secret), (await now()) + 30n * 86_400n);
      await closeAndWait(b, ch);
      await b.channels.settle(ch.params, ch.c0.headBody, "0x", ZERO32, ZERO32);
      await expect(b.channels.resolveLocks(ch.params, 0, concat(ch.c0.locks), [secret]))
        .to.emit(b.channels, "PayoutCredited")
        .withArgs(rx, ETH, 400n);
      const eq = await openWithContract(b, rx, ONE, ONE);
      await eq.c0.pay(1n);
      const first = eq.c0.signed[0];
      const other = new PayerChain(b.alice, b.dom, eq.id, 0);
      await other.pay(2n);
      await expect(b.channels.proveEquivocation(eq.params, 0, first, other.signed[0]))
        .to.emit(b.channels, "PayoutCredited")
        .withArgs(rx, ETH, 2n * ONE);
      expect(await b.channels.creditOf(rx, ETH)).to.equal(2n * ONE + 400n);
      await expect(
        b.rejecting.execute(
          b.address,
          b.channels.interface.encodeFunctionData("withdrawCredit", [b.token.target as string]),
        ),
      )
        .to.be.revertedWithCustomError(b.channels, "NothingToWithdraw")
        .withArgs(rx, b.token.target);
    });
  });

  describe("tokens that fail to pay", () => {
    it("a reverting transfer is credited, the other side is paid, and the credit is pulled once it works", async () => {
      const b = await loadFixture(withContracts);
      const asset = await b.bad.getAddress();
      const ch = await openToken(b, 600n, 400n, asset);
      await b.bad.blockRecipient(b.bob.address);
      const tx = b.channels.cooperativeClose(...(await coopArgs(b, ch, 300n, 700n)));
      await expect(tx).to.emit(b.channels, "PayoutCredited").withArgs(b.bob.address, asset, 700n);
      await expect(tx).to.changeTokenBalances(b.bad, [b.alice, b.bob, b.channels], [300n, 0n, -300n]);
      await expect(b.channels.connect(b.bob).withdrawCredit(asset))
        .to.be.revertedWithCustomError(b.channels, "CreditTransferFailed")
        .withArgs(b.bob.address, asset);
      await b.bad.blockRecipient(ethers.ZeroAddress);
      const pull = b.channels.connect(b.bob).withdrawCredit(asset);
      await expect(pull).to.emit(b.channels, "CreditWithdrawn").withArgs(b.bob.address, asset, 700n);
      await expect(pull).to.changeTokenBalances(b.bad, [b.bob, b.channels], [700n, -700n]);
      // the books balance: a later deposit of this token finds no shortfall
      await expect(openToken(b, 5n, 5n, asset)).to.not.be.reverted;
      expect(await b.bad.balanceOf(b.address)).to.equal(10n);
    });

    it("a transfer returning false is credited; one returning no data counts as paid", async () => {
      const b = await loadFixture(withContracts);
      const asset = await b.quirky.getAddress();
      const ch = await openToken(b, 600n, 400n, asset);
      await b.quirky.setMode(1); // ReturnsFalse
      const tx = b.channels.cooperativeClose(...(await coopArgs(b, ch, 250n, 750n)));
      await expect(tx).to.emit(b.channels, "PayoutCredited").withArgs(b.alice.address, asset, 250n);
      await expect(tx).to.emit(b.channels, "PayoutCredited").withArgs(b.bob.address, asset, 750n);
      await expect(b.channels.withdrawCredit(asset))
        .to.be.revertedWithCustomError(b.channels, "CreditTransferFailed")
        .withArgs(b.alice.address, asset);
      await b.quirky.setMode(2); // ReturnsNothing
      await expect(b.channels.withdrawCredit(asset)).to.changeTokenBalances(
        b.quirky,
        [b.alice, b.channels],
        [250n, -250n],
      );
      await expect(b.channels.connect(b.bob).withdrawCredit(asset)).to.changeTokenBalances(
        b.quirky,
        [b.bob, b.channels],
        [750n, -750n],
      );
      // pushed payouts of a no-return-data token are not credited
      const other = await openToken(b, 100n, 0n, asset);
      const push = b.channels.cooperativeClose(...(await coopArgs(b, other, 40n, 60n)));
      await expect(push).to.not.emit(b.channels, "PayoutCredited");
      await expect(push).to.changeTokenBalances(b.quirky, [b.alice, b.bob, b.channels], [40n, 60n, -100n]);
      expect(await b.quirky.balanceOf(b.address)).to.equal(0n);
    });
  });

  describe("reentrancy", () => {
    it("a receiver calling back during its payout meets ReentrantCall and gets exactly its due", async () => {
      const b = await loadFixture(withContracts);
      const probe = await b.probe.getAddress();
      const ch = await openWithContract(b, probe, ONE, ONE);
      await b.probe.arm(b.address, [b.channels.interface.encodeFunctionData("withdrawCredit", [ETH])]);
      await ch.c0.pay(parseEther("0.25"));
      await closeAndWait(b, ch);
      const tx = b.channels.settle(ch.params, ch.c0.headBody, "0x", ZERO32, ZERO32);
      const selector = b.channels.interface.getError("ReentrantCall")!.selector;
      await expect(tx).to.emit(b.probe, "Reentered").withArgs(false, selector);
      await expect(tx).to.changeEtherBalances(
        [b.alice, b.probe, b.channels],
        [parseEther("0.75"), parseEther("1.25"), -2n * ONE],
      );
      expect(await b.channels.creditOf(probe, ETH)).to.equal(0n);
    });

    it("every paying entry point refuses to be entered from inside a payout (ReentrantCall)", async () => {
      const b = await loadFixture(withContracts);
      const probe = await b.probe.getAddress();
      const ch = await openWithContract(b, probe, ONE, ONE);
      // a credit for the probe: it rejects its settle payout
      await b.probe.setRejecting(true);
      await closeAndWait(b, ch);
      await b.channels.settle(ch.params, "0x", "0x", ZERO32, ZERO32);
      expect(await b.channels.creditOf(probe, ETH)).to.equal(ONE);
      // pulling the credit forwards all gas: the probe calls back into each guarded function in turn
      const i = b.channels.interface;
      const p = ch.params;
      const payloads = [
        i.encodeFunctionData("openToken", [b.alice.address, b.token.target as string, DAY, 1n, 1n]),
        i.encodeFunctionData("depositToken", [p, 0, 1n]),
        i.encodeFunctionData("withdraw", [p, 0, 0n, 0n, 0n, "0x", "0x"]),
        i.encodeFunctionData("settle", [p, "0x", "0x", ZERO32, ZERO32]),
        i.encodeFunctionData("cooperativeClose", [
          p,
          { seq0: 0, seq1: 0, balance0: 0n, balance1: 0n, expiry: 0n },
          "0x",
          "0x",
        ]),
        i.encodeFunctionData("proveEquivocation", [p, 0, "0x", "0x"]),
        i.encodeFunctionData("resolveLocks", [p, 0, "0x", []]),
        i.encodeFunctionData("withdrawCredit", [ETH]),
      ];
      await b.probe.arm(b.address, payloads);
      await b.probe.setRejecting(false);
      const tx = b.probe.execute(b.address, i.encodeFunctionData("withdrawCredit", [ETH]));
      await expect(tx).to.changeEtherBalances([b.probe, b.channels], [ONE, -ONE]);
      const receipt = await (await tx).wait();
      const selector = i.getError("ReentrantCall")!.selector;
      const calls = receipt!.logs
        .map((l) => b.probe.interface.parseLog(l))
        .filter((e) => e?.name === "Reentered")
        .map((e) => [e!.args.ok, e!.args.returnData]);
      expect(calls).to.deep.equal(payloads.map(() => [false, selector]));
      expect(await b.channels.creditOf(probe, ETH)).to.equal(0n);
    });

    it("ReentrantReceiver cannot settle another channel from inside a payout, nor pull its credit twice", async () => {
      const b = await loadFixture(withContracts);
      const rx = await b.reentrant.getAddress();
      const ch = await openWithContract(b, rx, ONE, ONE);
      // a second channel, ready to settle: settling it from inside the payout would succeed if not guarded
      const ready = await openEth(b);
      await b.channels.close(ready.params);
      await b.reentrant.arm(
        b.address,
        b.channels.interface.encodeFunctionData("settle", [ready.params, "0x", "0x", ZERO32, ZERO32]),
      );
      await closeAndWait(b, ch);
      await b.channels.settle(ch.params, "0x", "0x", ZERO32, ZERO32);
      expect(await b.reentrant.reentrySucceeded()).to.equal(false);
      expect((await stateOf(b.channels, ready.id)).status).to.equal(Status.Closing);
      // Its receive hook needs more than the 30,000 gas stipend, so its payout was credited instead.
      expect(await b.reentrant.attempts()).to.equal(0n);
      expect(await b.channels.creditOf(rx, ETH)).to.equal(ONE);
      // Pulling gives all the gas: the hook runs and tries to pull again, which the guard refuses.
      const pull = b.channels.interface.encodeFunctionData("withdrawCredit", [ETH]);
      await b.reentrant.arm(b.address, pull);
      const tx = b.reentrant.execute(b.address, pull);
      await expect(tx).to.changeEtherBalances([b.reentrant, b.channels], [ONE, -ONE]);
      expect(await b.reentrant.attempts()).to.equal(1n);
      expect(await b.reentrant.reentrySucceeded()).to.equal(false);
      expect(await b.channels.creditOf(rx, ETH)).to.equal(0n);
      // the other channel settles normally afterwards
      await expect(b.channels.settle(ready.params, "0x", "0x", ZERO32, ZERO32)).to.changeEtherBalances(
        [b.alice, b.bob],
        [ONE, ONE],
      );
    });

    it("a token calling back from inside a payout transfer cannot reenter; payouts stay exact", async () => {
      const b = await loadFixture(withContracts);
      const asset = await b.bad.getAddress();
      const ch = await openToken(b, 600n, 400n, asset);
      const ready = await openToken(b, 50n, 50n, asset);
      await b.channels.close(ready.params);
      await ch.c0.pay(100n);
      await closeAndWait(b, ch);
      const settleReady = b.channels.interface.encodeFunctionData("settle", [
        ready.params,
        "0x",
        "0x",
        ZERO32,
        ZERO32,
      ]);
      // would succeed on its own
      await expect(b.channels.settle.staticCall(ready.params, "0x", "0x", ZERO32, ZERO32)).to.not.be.reverted;
      await b.bad.armReentry(b.address, settleReady);
      const tx = b.channels.settle(ch.params, ch.c0.headBody, "0x", ZERO32, ZERO32);
      await expect(tx).to.changeTokenBalances(b.bad, [b.alice, b.bob, b.channels], [500n, 500n, -1_000n]);
      expect(await b.bad.reentered()).to.equal(true);
      expect(await b.bad.reentrySucceeded()).to.equal(false);
      expect((await stateOf(b.channels, ready.id)).status).to.equal(Status.Closing);
      expect(await b.channels.creditOf(b.alice.address, asset)).to.equal(0n);
      await expect(b.channels.settle(ready.params, "0x", "0x", ZERO32, ZERO32)).to.changeTokenBalances(
        b.bad,
        [b.alice, b.bob, b.channels],
        [50n, 50n, -100n],
      );
    });
  });
});
