// Unilateral close and settle, cooperative close, and withdrawals while open (protocol §1, §5).
import { expect } from "chai";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { parseEther } from "ethers";
import { packBody } from "../helpers/kit";
import {
  checkpointHeads,
  checkpointOf,
  coopArgs,
  coopSigs,
  coopTerms,
  deployBase,
  now,
  openEth,
  openToken,
  stateOf,
  Status,
  withdrawSigs,
} from "./fixtures";
import type { Base, Channel } from "./fixtures";

const ONE = parseEther("1");

/** Closes `ch` as alice and returns closesAt. */
async function closeNow(b: Base, ch: Channel): Promise<bigint> {
  await b.channels.close(ch.params);
  return (await stateOf(b.channels, ch.id)).closesAt;
}

describe("ParsecChannels: close, settle, cooperative close, withdraw", () => {
  describe("close", () => {
    it("either participant starts the challenge period; closesAt = now + challengePeriod", async () => {
      const b = await loadFixture(deployBase);
      for (const who of [b.alice, b.bob]) {
        const ch = await openEth(b, ONE, ONE, 2 * 3_600);
        const at = (await now()) + 10n;
        await time.setNextBlockTimestamp(at);
        await expect(b.channels.connect(who).close(ch.params))
          .to.emit(b.channels, "ChannelClosing")
          .withArgs(ch.id, who.address, at + 7_200n);
        const s = await stateOf(b.channels, ch.id);
        expect([s.status, s.closesAt, s.deposit0, s.deposit1]).to.deep.equal([
          Status.Closing,
          at + 7_200n,
          ONE,
          ONE,
        ]);
      }
    });

    it("refuses outsiders, a second close and unknown channels", async () => {
      const b = await loadFixture(deployBase);
      const ch = await openEth(b);
      await expect(b.channels.connect(b.carol).close(ch.params))
        .to.be.revertedWithCustomError(b.channels, "NotParticipant")
        .withArgs(b.carol.address);
      await b.channels.connect(b.bob).close(ch.params);
      await expect(b.channels.close(ch.params))
        .to.be.revertedWithCustomError(b.channels, "ChannelNotInStatus")
        .withArgs(ch.id, Status.Closing);
      const unknown = { ...ch.params, nonce: 1n };
      await expect(b.channels.close(unknown))
        .to.be.revertedWithCustomError(b.channels, "ChannelNotInStatus")
        .withArgs(await b.channels.channelIdOf(unknown), Status.None);
    });
  });

  describe("settle", () => {
    it("pays the deposits back when nothing was committed, from anyone, once the period ended", async () => {
      const b = await loadFixture(deployBase);
      const ch = await openEth(b, ONE, parseEther("2"));
      const closesAt = await closeNow(b, ch);
      await time.setNextBlockTimestamp(closesAt);
      const tx = b.channels
        .connect(b.carol)
        .settle(ch.params, "0x", "0x", ...(await checkpointHeads(b.channels, ch)));
      await expect(tx).to.emit(b.channels, "ChannelSettled").withArgs(ch.id, ONE, parseEther("2"), 0n, 0n);
      await expect(tx).to.changeEtherBalances(
        [b.alice, b.bob, b.carol, b.channels],
        [ONE, parseEther("2"), 0n, -parseEther("3")],
      );
      const s = await stateOf(b.channels, ch.id);
      expect([s.status, s.seq0, s.seq1, s.commitment]).to.deep.equal([Status.Settled, 0, 0, 0n]);
    });

    it("refuses to settle before closesAt (ChallengePeriodActive), an open channel, and a settled one", async () => {
      const b = await loadFixture(deployBase);
      const ch = await openEth(b);
      await expect(b.channels.settle(ch.params, "0x", "0x", ...(await checkpointHeads(b.channels, ch))))
        .to.be.revertedWithCustomError(b.channels, "ChannelNotInStatus")
        .withArgs(ch.id, Status.Open);
      const closesAt = await closeNow(b, ch);
      await expect(b.channels.settle(ch.params, "0x", "0x", ...(await checkpointHeads(b.channels, ch))))
        .to.be.revertedWithCustomError(b.channels, "ChallengePeriodActive")
        .withArgs(closesAt);
      await time.setNextBlockTimestamp(closesAt - 1n);
      await expect(b.channels.settle(ch.params, "0x", "0x", ...(await checkpointHeads(b.channels, ch))))
        .to.be.revertedWithCustomError(b.channels, "ChallengePeriodActive")
        .withArgs(closesAt);
      await b.channels.settle(ch.params, "0x", "0x", ...(await checkpointHeads(b.channels, ch)));
      await expect(b.channels.settle(ch.params, "0x", "0x", ...(await checkpointHeads(b.channels, ch))))
        .to.be.revertedWithCustomError(b.channels, "ChannelNotInStatus")
        .withArgs(ch.id, Status.Settled);
      await expect(b.channels.close(ch.params))
        .to.be.revertedWithCustomError(b.channels, "ChannelNotInStatus")
        .withArgs(ch.id, Status.Settled);
    });

    it("pays by the committed heads: a0 = d0 + paid1 - paid0", async () => {
      const b = await loadFixture(deployBase);
      const ch = await openEth(b, ONE, parseEther("0.5"));
      await ch.c0.pay(parseEther("0.3"));
      await ch.c0.pay(parseEther("0.1"));
      await ch.c1.pay(parseEther("0.05"));
      await b.channels.checkpoint(await checkpointOf(b, ch));
      const closesAt = await closeNow(b, ch);
      await time.setNextBlockTimestamp(closesAt);
      const tx = b.channels.settle(
        ch.params,
        ch.c0.headBody,
        ch.c1.headBody,
        ...(await checkpointHeads(b.channels, ch)),
      );
      await expect(tx).to.changeEtherBalances([b.alice, b.bob], [parseEther("0.65"), parseEther("0.85")]);
      await expect(tx)
        .to.emit(b.channels, "ChannelSettled")
        .withArgs(ch.id, parseEther("0.65"), parseEther("0.85"), 0n, 0n);
    });

    it("clamps: a side that signed away more than it had gets zero, the other gets everything", async () => {
      const b = await loadFixture(deployBase);
      const ch = await openEth(b, ONE, parseEther("0.5"));
      await ch.c1.pay(parseEther("0.2"));
      await ch.c1.pay(parseEther("5"));
      await b.channels.checkpoint(await checkpointOf(b, ch));
      await time.increaseTo((await closeNow(b, ch)) + 1n);
      await expect(
        b.channels.settle(ch.params, "0x", ch.c1.headBody, ...(await checkpointHeads(b.channels, ch))),
      ).to.changeEtherBalances([b.alice, b.bob], [parseEther("1.5"), 0n]);
      const other = await openEth(b, ONE, parseEther("0.5"));
      await other.c0.pay(parseEther("1.2"));
      await b.channels.checkpoint(await checkpointOf(b, other));
      await time.increaseTo((await closeNow(b, other)) + 1n);
      await expect(
        b.channels.settle(
          other.params,
          other.c0.headBody,
          "0x",
          ...(await checkpointHeads(b.channels, other)),
        ),
      ).to.changeEtherBalances([b.alice, b.bob], [0n, parseEther("1.5")]);
    });

    it("needs the bodies of the committed heads (StateMismatch, MalformedRecord)", async () => {
      const b = await loadFixture(deployBase);
      const ch = await openEth(b);
      await ch.c0.pay(1n);
      await ch.c0.pay(2n);
      await ch.c1.pay(3n);
      await b.channels.checkpoint(await checkpointOf(b, ch));
      await time.increaseTo((await closeNow(b, ch)) + 1n);
      const h0 = ch.c0.headBody;
      const h1 = ch.c1.headBody;
      for (const [a, c] of [
        [h1, h0], // swapped
        [packBody(ch.c0.bodies[0]), h1], // an older body of P0
        [packBody({ ...ch.c0.bodies[1], paidTotal: 0n }), h1], // tampered
        [h0, packBody({ ...ch.c1.bodies[0], invoiceId: h0.slice(0, 66) })], // tampered P1 body
      ]) {
        await expect(b.channels.settle(ch.params, a, c, ...(await checkpointHeads(b.channels, ch))))
          .to.be.revertedWithCustomError(b.channels, "StateMismatch")
          .withArgs(ch.id);
      }
      await expect(b.channels.settle(ch.params, "0x", h1, ...(await checkpointHeads(b.channels, ch))))
        .to.be.revertedWithCustomError(b.channels, "MalformedRecord")
        .withArgs(0, 189);
      await expect(b.channels.settle(ch.params, h0, h1, ...(await checkpointHeads(b.channels, ch)))).to.emit(
        b.channels,
        "ChannelSettled",
      );
    });

    it("needs empty bodies for payers with nothing committed", async () => {
      const b = await loadFixture(deployBase);
      const ch = await openEth(b);
      await ch.c0.pay(1n);
      await time.increaseTo((await closeNow(b, ch)) + 1n);
      await expect(
        b.channels.settle(ch.params, ch.c0.headBody, "0x", ...(await checkpointHeads(b.channels, ch))),
      )
        .to.be.revertedWithCustomError(b.channels, "MalformedRecord")
        .withArgs(189, 0);
      await b.channels.checkpoint(await checkpointOf(b, ch));
      await expect(
        b.channels.settle(
          ch.params,
          ch.c0.headBody,
          ch.c0.headBody,
          ...(await checkpointHeads(b.channels, ch)),
        ),
      )
        .to.be.revertedWithCustomError(b.channels, "MalformedRecord")
        .withArgs(189, 0);
      await expect(
        b.channels.settle(ch.params, ch.c0.headBody, "0x", ...(await checkpointHeads(b.channels, ch))),
      )
        .to.emit(b.channels, "ChannelSettled")
        .withArgs(ch.id, ONE - 1n, ONE + 1n, 0n, 0n);
    });

    it("settles token channels with exact token movements", async () => {
      const b = await loadFixture(deployBase);
      const ch = await openToken(b, 1_000n, 500n);
      await ch.c0.pay(300n);
      await ch.c1.pay(100n);
      await b.channels.checkpoint(await checkpointOf(b, ch));
      await time.increaseTo((await closeNow(b, ch)) + 1n);
      await expect(
        b.channels.settle(
          ch.params,
          ch.c0.headBody,
          ch.c1.headBody,
          ...(await checkpointHeads(b.channels, ch)),
        ),
      ).to.changeTokenBalances(b.token, [b.alice, b.bob, b.channels], [800n, 700n, -1_500n]);
    });
  });

  describe("cooperativeClose", () => {
    it("pays the signed split at once, from anyone, while open or closing", async () => {
      const b = await loadFixture(deployBase);
      const ch = await openEth(b, ONE, ONE);
      const b0 = parseEther("0.7");
      const b1 = parseEther("1.3");
      const tx = b.channels.connect(b.carol).cooperativeClose(...(await coopArgs(b, ch, b0, b1)));
      await expect(tx).to.emit(b.channels, "ChannelClosedCooperatively").withArgs(ch.id, b0, b1);
      await expect(tx).to.changeEtherBalances([b.alice, b.bob, b.channels], [b0, b1, -2n * ONE]);
      expect((await stateOf(b.channels, ch.id)).status).to.equal(Status.Settled);

      const closing = await openEth(b, ONE, ONE);
      await closing.c0.pay(5n);
      await b.channels.checkpoint(await checkpointOf(b, closing));
      await b.channels.connect(b.bob).close(closing.params);
      await expect(
        b.channels.cooperativeClose(...(await coopArgs(b, closing, 2n * ONE, 0n))),
      ).to.changeEtherBalances([b.alice, b.bob], [2n * ONE, 0n]);
      const s = await stateOf(b.channels, closing.id);
      expect([s.status, s.seq0, s.commitment]).to.deep.equal([Status.Settled, 0, 0n]);
    });

    it("refuses balances that do not sum to the deposits, and settled or unknown channels", async () => {
      const b = await loadFixture(deployBase);
      const ch = await openEth(b, ONE, ONE);
      await expect(b.channels.cooperativeClose(...(await coopArgs(b, ch, ONE, ONE + 1n))))
        .to.be.revertedWithCustomError(b.channels, "BalancesMismatch")
        .withArgs(2n * ONE + 1n, 2n * ONE);
      await expect(b.channels.cooperativeClose(...(await coopArgs(b, ch, ONE, ONE - 1n))))
        .to.be.revertedWithCustomError(b.channels, "BalancesMismatch")
        .withArgs(2n * ONE - 1n, 2n * ONE);
      const terms = await coopTerms(ch, ONE, ONE);
      const sigs = await coopSigs(b, ch, terms);
      await b.channels.cooperativeClose(ch.params, terms, ...sigs);
      await expect(b.channels.cooperativeClose(ch.params, terms, ...sigs))
        .to.be.revertedWithCustomError(b.channels, "ChannelNotInStatus")
        .withArgs(ch.id, Status.Settled);
      const unknown = { ...ch.params, nonce: 3n };
      await expect(b.channels.cooperativeClose(unknown, { ...terms, balance0: 0n, balance1: 0n }, ...sigs))
        .to.be.revertedWithCustomError(b.channels, "ChannelNotInStatus")
        .withArgs(await b.channels.channelIdOf(unknown), Status.None);
    });

    it("pays token channels", async () => {
      const b = await loadFixture(deployBase);
      const ch = await openToken(b, 600n, 400n);
      await expect(b.channels.cooperativeClose(...(await coopArgs(b, ch, 999n, 1n)))).to.changeTokenBalances(
        b.token,
        [b.alice, b.bob, b.channels],
        [999n, 1n, -1_000n],
      );
    });
  });

  describe("withdraw", () => {
    it("pays both sides and lowers the deposits, keeping the channel open", async () => {
      const b = await loadFixture(deployBase);
      const ch = await openEth(b, ONE, ONE);
      const expiry = (await now()) + 100n;
      const a0 = parseEther("0.25");
      const a1 = parseEther("0.5");
      const tx = b.channels
        .connect(b.carol)
        .withdraw(ch.params, 0, a0, a1, expiry, ...(await withdrawSigs(b, ch, 0, a0, a1, expiry)));
      await expect(tx).to.emit(b.channels, "Withdrawn").withArgs(ch.id, 0, a0, a1);
      await expect(tx).to.changeEtherBalances([b.alice, b.bob, b.channels], [a0, a1, -(a0 + a1)]);
      const s = await stateOf(b.channels, ch.id);
      expect([s.status, s.deposit0, s.deposit1]).to.deep.equal([Status.Open, ONE - a0, ONE - a1]);
      expect(await b.channels.withdrawNonceOf(ch.id)).to.equal(1n);
      // the next withdrawal takes nonce 1; settling afterwards pays from what is left
      await b.channels.withdraw(
        ch.params,
        1,
        0n,
        a1,
        expiry,
        ...(await withdrawSigs(b, ch, 1, 0n, a1, expiry)),
      );
      await time.increaseTo((await closeNow(b, ch)) + 1n);
      await expect(
        b.channels.settle(ch.params, "0x", "0x", ...(await checkpointHeads(b.channels, ch))),
      ).to.changeEtherBalances([b.alice, b.bob], [ONE - a0, 0n]);
    });

    it("refuses a replayed nonce, a skipped nonce, an expired message and amounts above a deposit", async () => {
      const b = await loadFixture(deployBase);
      const ch = await openEth(b, ONE, parseEther("0.5"));
      const expiry = (await now()) + 100n;
      const sigs = await withdrawSigs(b, ch, 0, 1n, 1n, expiry);
      await b.channels.withdraw(ch.params, 0, 1n, 1n, expiry, ...sigs);
      await expect(b.channels.withdraw(ch.params, 0, 1n, 1n, expiry, ...sigs))
        .to.be.revertedWithCustomError(b.channels, "WithdrawNonceMismatch")
        .withArgs(1, 0);
      await expect(
        b.channels.withdraw(ch.params, 2, 1n, 1n, expiry, ...(await withdrawSigs(b, ch, 2, 1n, 1n, expiry))),
      )
        .to.be.revertedWithCustomError(b.channels, "WithdrawNonceMismatch")
        .withArgs(1, 2);
      await expect(
        b.channels.withdraw(
          ch.params,
          1,
          ONE,
          0n,
          expiry,
          ...(await withdrawSigs(b, ch, 1, ONE, 0n, expiry)),
        ),
      )
        .to.be.revertedWithCustomError(b.channels, "WithdrawExceedsDeposit")
        .withArgs(0, ONE, ONE - 1n);
      const half = parseEther("0.5");
      await expect(
        b.channels.withdraw(
          ch.params,
          1,
          0n,
          half,
          expiry,
          ...(await withdrawSigs(b, ch, 1, 0n, half, expiry)),
        ),
      )
        .to.be.revertedWithCustomError(b.channels, "WithdrawExceedsDeposit")
        .withArgs(1, half, half - 1n);
      const late = await withdrawSigs(b, ch, 1, 1n, 0n, expiry);
      await time.setNextBlockTimestamp(expiry);
      await expect(b.channels.withdraw(ch.params, 1, 1n, 0n, expiry, ...late)).to.emit(
        b.channels,
        "Withdrawn",
      );
      const later = await withdrawSigs(b, ch, 2, 1n, 0n, expiry);
      await expect(b.channels.withdraw(ch.params, 2, 1n, 0n, expiry, ...later))
        .to.be.revertedWithCustomError(b.channels, "WithdrawExpired")
        .withArgs(expiry);
    });

    it("only while open", async () => {
      const b = await loadFixture(deployBase);
      const ch = await openEth(b);
      const expiry = (await now()) + 1_000n;
      const sigs = await withdrawSigs(b, ch, 0, 1n, 0n, expiry);
      await b.channels.close(ch.params);
      await expect(b.channels.withdraw(ch.params, 0, 1n, 0n, expiry, ...sigs))
        .to.be.revertedWithCustomError(b.channels, "ChannelNotInStatus")
        .withArgs(ch.id, Status.Closing);
    });

    it("pays token channels", async () => {
      const b = await loadFixture(deployBase);
      const ch = await openToken(b, 600n, 400n);
      const expiry = (await now()) + 1_000n;
      await expect(
        b.channels.withdraw(
          ch.params,
          0,
          100n,
          400n,
          expiry,
          ...(await withdrawSigs(b, ch, 0, 100n, 400n, expiry)),
        ),
      ).to.changeTokenBalances(b.token, [b.alice, b.bob, b.channels], [100n, 400n, -500n]);
      const s = await stateOf(b.channels, ch.id);
      expect([s.deposit0, s.deposit1]).to.deep.equal([500n, 0n]);
    });
  });
});
