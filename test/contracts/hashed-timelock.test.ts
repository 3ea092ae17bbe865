// HashedTimelock: the standalone ETH / ERC-20 HTLC escrow for atomic swaps.
import { expect } from "chai";
import hre from "hardhat";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { AbiCoder, keccak256, parseEther } from "ethers";
import { hashlockOf, word } from "../helpers/kit";
import { now } from "./fixtures";

const { ethers } = hre;
const ETH = ethers.ZeroAddress;
const SECRET = word(0xbeef);
const HASHLOCK = hashlockOf(SECRET);

async function deploy() {
  const [sender, receiver, carol] = await ethers.getSigners();
  const htlc = await ethers.deployContract("HashedTimelock");
  const token = await ethers.deployContract("TestToken", ["Test", "TST", 6]);
  const fee = await ethers.deployContract("FeeOnTransferToken");
  const address = await htlc.getAddress();
  for (const t of [token, fee]) {
    await t.mint(sender.address, 1_000_000n);
    await t.connect(sender).approve(address, ethers.MaxUint256);
  }
  return { htlc, token, fee, sender, receiver, carol, address };
}

function escrowId(
  sender: string,
  receiver: string,
  asset: string,
  amount: bigint,
  hashlock: string,
  timelock: bigint,
) {
  return keccak256(
    AbiCoder.defaultAbiCoder().encode(
      ["address", "address", "address", "uint256", "bytes32", "uint64"],
      [sender, receiver, asset, amount, hashlock, timelock],
    ),
  );
}

describe("HashedTimelock", () => {
  describe("ETH", () => {
    it("locks, and the receiver's preimage claims it before the timelock (submitted by anyone)", async () => {
      const { htlc, sender, receiver, carol } = await loadFixture(deploy);
      const timelock = (await now()) + 3_600n;
      const amount = parseEther("1");
      const id = escrowId(sender.address, receiver.address, ETH, amount, HASHLOCK, timelock);
      const lock = htlc.lock(receiver.address, ETH, amount, HASHLOCK, timelock, { value: amount });
      await expect(lock)
        .to.emit(htlc, "Locked")
        .withArgs(id, sender.address, receiver.address, ETH, amount, HASHLOCK, timelock);
      await expect(lock).to.changeEtherBalances([sender, htlc], [-amount, amount]);
      const e = await htlc.escrowOf(id);
      expect([e.sender, e.receiver, e.asset, e.timelock, e.settled, e.amount, e.hashlock]).to.deep.equal([
        sender.address,
        receiver.address,
        ETH,
        timelock,
        false,
        amount,
        HASHLOCK,
      ]);
      await time.setNextBlockTimestamp(timelock - 1n);
      const claim = htlc.connect(carol).claim(id, SECRET);
      await expect(claim).to.emit(htlc, "Claimed").withArgs(id, SECRET);
      await expect(claim).to.changeEtherBalances([receiver, carol, htlc], [amount, 0n, -amount]);
      expect((await htlc.escrowOf(id)).settled).to.equal(true);
      await expect(htlc.claim(id, SECRET)).to.be.revertedWithCustomError(htlc, "EscrowSettled").withArgs(id);
      await expect(htlc.refund(id)).to.be.revertedWithCustomError(htlc, "EscrowSettled").withArgs(id);
    });

    it("refunds the sender from the timelock on, and not before", async () => {
      const { htlc, sender, receiver, carol } = await loadFixture(deploy);
      const timelock = (await now()) + 3_600n;
      const amount = 12_345n;
      await htlc.lock(receiver.address, ETH, amount, HASHLOCK, timelock, { value: amount });
      const id = escrowId(sender.address, receiver.address, ETH, amount, HASHLOCK, timelock);
      await expect(htlc.refund(id))
        .to.be.revertedWithCustomError(htlc, "TimelockNotExpired")
        .withArgs(timelock);
      await time.setNextBlockTimestamp(timelock);
      await expect(htlc.connect(receiver).claim(id, SECRET))
        .to.be.revertedWithCustomError(htlc, "TimelockExpired")
        .withArgs(timelock);
      const refund = htlc.connect(carol).refund(id);
      await expect(refund).to.emit(htlc, "Refunded").withArgs(id);
      await expect(refund).to.changeEtherBalances([sender, receiver, htlc], [amount, 0n, -amount]);
      await expect(htlc.claim(id, SECRET)).to.be.revertedWithCustomError(htlc, "EscrowSettled").withArgs(id);
      await expect(htlc.refund(id)).to.be.revertedWithCustomError(htlc, "EscrowSettled").withArgs(id);
    });

    it("refuses a wrong preimage and unknown escrows", async () => {
      const { htlc, sender, receiver } = await loadFixture(deploy);
      const timelock = (await now()) + 3_600n;
      await htlc.lock(receiver.address, ETH, 1n, HASHLOCK, timelock, { value: 1n });
      const id = escrowId(sender.address, receiver.address, ETH, 1n, HASHLOCK, timelock);
      await expect(htlc.claim(id, word(0xbeee)))
        .to.be.revertedWithCustomError(htlc, "WrongPreimage")
        .withArgs(id);
      // the hashlock itself, or keccak of the secret, is not a preimage
      await expect(htlc.claim(id, HASHLOCK))
        .to.be.revertedWithCustomError(htlc, "WrongPreimage")
        .withArgs(id);
      const unknown = word(1);
      await expect(htlc.claim(unknown, SECRET))
        .to.be.revertedWithCustomError(htlc, "EscrowNotFound")
        .withArgs(unknown);
      await expect(htlc.refund(unknown))
        .to.be.revertedWithCustomError(htlc, "EscrowNotFound")
        .withArgs(unknown);
    });

    it("refuses a zero receiver, a past or present timelock, zero or mismatched amounts, and duplicates", async () => {
      const { htlc, receiver } = await loadFixture(deploy);
      const t = (await now()) + 100n;
      await expect(htlc.lock(ETH, ETH, 1n, HASHLOCK, t, { value: 1n }))
        .to.be.revertedWithCustomError(htlc, "InvalidReceiver")
        .withArgs(ETH);
      await time.setNextBlockTimestamp(t);
      await expect(htlc.lock(receiver.address, ETH, 1n, HASHLOCK, t, { value: 1n }))
        .to.be.revertedWithCustomError(htlc, "TimelockInPast")
        .withArgs(t);
      const later = t + 1_000n;
      await expect(htlc.lock(receiver.address, ETH, 0n, HASHLOCK, later))
        .to.be.revertedWithCustomError(htlc, "InvalidAmount")
        .withArgs(0n, 0n);
      await expect(htlc.lock(receiver.address, ETH, 5n, HASHLOCK, later, { value: 4n }))
        .to.be.revertedWithCustomError(htlc, "InvalidAmount")
        .withArgs(5n, 4n);
      await expect(htlc.lock(receiver.address, ETH, 5n, HASHLOCK, later, { value: 6n }))
        .to.be.revertedWithCustomError(htlc, "InvalidAmount")
        .withArgs(5n, 6n);
      await htlc.lock(receiver.address, ETH, 5n, HASHLOCK, later, { value: 5n });
      const [sender] = await ethers.getSigners();
      const id = escrowId(sender.address, receiver.address, ETH, 5n, HASHLOCK, later);
      await expect(htlc.lock(receiver.address, ETH, 5n, HASHLOCK, later, { value: 5n }))
        .to.be.revertedWithCustomError(htlc, "EscrowExists")
        .withArgs(id);
      // after settling, the same terms still cannot be reused
      await htlc.claim(id, SECRET);
      await expect(htlc.lock(receiver.address, ETH, 5n, HASHLOCK, later, { value: 5n }))
        .to.be.revertedWithCustomError(htlc, "EscrowExists")
        .withArgs(id);
    });

    it("a receiver that rejects ETH cannot claim; the sender refunds after the timelock", async () => {
      const { htlc, sender } = await loadFixture(deploy);
      const rx = await ethers.deployContract("RejectingReceiver");
      const timelock = (await now()) + 3_600n;
      await htlc.lock(await rx.getAddress(), ETH, 7n, HASHLOCK, timelock, { value: 7n });
      const id = escrowId(sender.address, await rx.getAddress(), ETH, 7n, HASHLOCK, timelock);
      await expect(htlc.claim(id, SECRET)).to.be.revertedWith("no ETH please");
      expect((await htlc.escrowOf(id)).settled).to.equal(false);
      await time.increaseTo(timelock);
      await expect(htlc.refund(id)).to.changeEtherBalances([sender, htlc], [7n, -7n]);
    });

    it("a receiver reentering lock, claim or refund from its payout meets the reentrancy guard", async () => {
      const { htlc, token, sender, address } = await loadFixture(deploy);
      const probe = await ethers.deployContract("ReentrancyProbe");
      const px = await probe.getAddress();
      const timelock = (await now()) + 3_600n;
      await htlc.lock(px, ETH, 9n, HASHLOCK, timelock, { value: 9n });
      await htlc.lock(px, ETH, 10n, HASHLOCK, timelock, { value: 10n });
      const id = escrowId(sender.address, px, ETH, 9n, HASHLOCK, timelock);
      const other = escrowId(sender.address, px, ETH, 10n, HASHLOCK, timelock);
      await probe.arm(address, [
        htlc.interface.encodeFunctionData("claim", [other, SECRET]),
        htlc.interface.encodeFunctionData("refund", [other]),
        htlc.interface.encodeFunctionData("lock", [
          sender.address,
          await token.getAddress(),
          1n,
          HASHLOCK,
          timelock,
        ]),
      ]);
      const claim = htlc.claim(id, SECRET);
      const selector = htlc.interface.getError("ReentrancyGuardReentrantCall")!.selector;
      await expect(claim).to.changeEtherBalances([probe, htlc], [9n, -9n]);
      const logs = (await (await claim).wait())!.logs
        .map((l) => probe.interface.parseLog(l))
        .filter((e) => e?.name === "Reentered")
        .map((e) => [e!.args.ok, e!.args.returnData]);
      expect(logs).to.deep.equal([
        [false, selector],
        [false, selector],
        [false, selector],
      ]);
      expect((await htlc.escrowOf(other)).settled).to.equal(false);
    });
  });

  describe("ERC-20", () => {
    it("locks tokens, claims them to the receiver and refunds another escrow to the sender", async () => {
      const { htlc, token, sender, receiver } = await loadFixture(deploy);
      const asset = await token.getAddress();
      const timelock = (await now()) + 3_600n;
      const lock = htlc.lock(receiver.address, asset, 500n, HASHLOCK, timelock);
      const id = escrowId(sender.address, receiver.address, asset, 500n, HASHLOCK, timelock);
      await expect(lock)
        .to.emit(htlc, "Locked")
        .withArgs(id, sender.address, receiver.address, asset, 500n, HASHLOCK, timelock);
      await expect(lock).to.changeTokenBalances(token, [sender, htlc], [-500n, 500n]);
      await expect(htlc.claim(id, SECRET)).to.changeTokenBalances(token, [receiver, htlc], [500n, -500n]);

      const other = hashlockOf(word(7));
      await htlc.lock(receiver.address, asset, 300n, other, timelock);
      const id2 = escrowId(sender.address, receiver.address, asset, 300n, other, timelock);
      await time.increaseTo(timelock);
      await expect(htlc.refund(id2)).to.changeTokenBalances(
        token,
        [sender, receiver, htlc],
        [300n, 0n, -300n],
      );
    });

    it("refuses ETH sent along with a token lock, and a lock without allowance", async () => {
      const { htlc, token, receiver, carol } = await loadFixture(deploy);
      const asset = await token.getAddress();
      const timelock = (await now()) + 3_600n;
      await expect(htlc.lock(receiver.address, asset, 5n, HASHLOCK, timelock, { value: 5n }))
        .to.be.revertedWithCustomError(htlc, "InvalidAmount")
        .withArgs(5n, 5n);
      await expect(htlc.lock(receiver.address, asset, 0n, HASHLOCK, timelock))
        .to.be.revertedWithCustomError(htlc, "InvalidAmount")
        .withArgs(0n, 0n);
      await expect(htlc.connect(carol).lock(receiver.address, asset, 5n, HASHLOCK, timelock))
        .to.be.revertedWithCustomError(token, "ERC20InsufficientAllowance")
        .withArgs(await htlc.getAddress(), 0n, 5n);
    });

    it("escrows what arrived of a fee-on-transfer token and pays exactly that", async () => {
      const { htlc, fee, sender, receiver } = await loadFixture(deploy);
      const asset = await fee.getAddress();
      const timelock = (await now()) + 3_600n;
      const id = escrowId(sender.address, receiver.address, asset, 10_000n, HASHLOCK, timelock);
      await expect(htlc.lock(receiver.address, asset, 10_000n, HASHLOCK, timelock))
        .to.emit(htlc, "Locked")
        .withArgs(id, sender.address, receiver.address, asset, 9_900n, HASHLOCK, timelock);
      expect((await htlc.escrowOf(id)).amount).to.equal(9_900n);
      await expect(htlc.claim(id, SECRET)).to.changeTokenBalances(fee, [receiver, htlc], [9_801n, -9_900n]);
      expect(await fee.balanceOf(await htlc.getAddress())).to.equal(0n);
    });
  });
});
