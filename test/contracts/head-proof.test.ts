// Head proofs: the payee commits the payer's latest signed transfer (protocol §4.2).
import { expect } from "chai";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { concat, dataSlice, parseEther } from "ethers";
import { headProofRecord, ZERO32 } from "../helpers/kit";
import type { Hex } from "../helpers/kit";
import { checkpointOf, commitment, coopSigs, deployBase, headAt, openEth, Skip, stateOf } from "./fixtures";
import type { Channel } from "./fixtures";

/** A head proof of payer's transfer `seq` against the channel's current on-chain heads `h0`, `h1`. */
function proof(ch: Channel, payer: number, seq: number, h0: string, h1: string): Hex {
  const chain = payer === 0 ? ch.c0 : ch.c1;
  return headProofRecord(ch.params, payer, h0, h1, chain.signed[seq - 1]);
}

describe("ParsecChannels: proveHead and proveHeads", () => {
  describe("proveHead", () => {
    it("lets the payee commit the payer's transfer, for either payer", async () => {
      const b = await loadFixture(deployBase);
      const ch = await openEth(b);
      await ch.c0.pay(4n);
      await ch.c0.pay(4n);
      await expect(b.channels.connect(b.bob).proveHead(proof(ch, 0, 2, ZERO32, ZERO32)))
        .to.emit(b.channels, "HeadProved")
        .withArgs(ch.id, 0, 2);
      let s = await stateOf(b.channels, ch.id);
      expect([s.seq0, s.seq1, s.commitment]).to.deep.equal([2, 0, commitment(ch.c0.head, ZERO32)]);
      await ch.c1.pay(1n);
      await expect(b.channels.connect(b.alice).proveHead(proof(ch, 1, 1, ch.c0.head, ZERO32)))
        .to.emit(b.channels, "HeadProved")
        .withArgs(ch.id, 1, 1);
      s = await stateOf(b.channels, ch.id);
      expect([s.seq0, s.seq1, s.commitment]).to.deep.equal([2, 1, commitment(ch.c0.head, ch.c1.head)]);
    });

    it("rejects a proof from the payer itself or a third party (NotPayee)", async () => {
      const b = await loadFixture(deployBase);
      const ch = await openEth(b);
      await ch.c0.pay(4n);
      await ch.c1.pay(4n);
      for (const [who, payer] of [
        [b.alice, 0],
        [b.carol, 0],
        [b.bob, 1],
        [b.carol, 1],
      ] as const) {
        await expect(b.channels.connect(who).proveHead(proof(ch, payer, 1, ZERO32, ZERO32)))
          .to.be.revertedWithCustomError(b.channels, "EntryRejected")
          .withArgs(ch.id, Skip.NotPayee);
      }
    });

    it("rejects a transfer that is not newer than the payer's on-chain head (StaleState)", async () => {
      const b = await loadFixture(deployBase);
      const ch = await openEth(b);
      await ch.c0.pay(1n);
      await ch.c0.pay(1n);
      await b.channels.checkpoint(await checkpointOf(b, ch));
      for (const seq of [1, 2]) {
        await expect(b.channels.connect(b.bob).proveHead(proof(ch, 0, seq, ch.c0.head, ZERO32)))
          .to.be.revertedWithCustomError(b.channels, "EntryRejected")
          .withArgs(ch.id, Skip.StaleState);
      }
    });

    it("rejects heads that do not open the on-chain commitment (StateChanged)", async () => {
      const b = await loadFixture(deployBase);
      const ch = await openEth(b);
      await ch.c0.pay(1n);
      await ch.c1.pay(1n);
      // nothing committed: the heads must be zero
      await expect(b.channels.connect(b.bob).proveHead(proof(ch, 0, 1, ZERO32, ch.c1.head)))
        .to.be.revertedWithCustomError(b.channels, "EntryRejected")
        .withArgs(ch.id, Skip.StateChanged);
      await b.channels.connect(b.alice).proveHead(proof(ch, 1, 1, ZERO32, ZERO32));
      await ch.c0.pay(1n);
      // the state moved: proofs made against the old heads are stale evidence of the commitment
      await expect(b.channels.connect(b.bob).proveHead(proof(ch, 0, 2, ZERO32, ZERO32)))
        .to.be.revertedWithCustomError(b.channels, "EntryRejected")
        .withArgs(ch.id, Skip.StateChanged);
      await expect(b.channels.connect(b.bob).proveHead(proof(ch, 0, 2, ch.c1.head, ZERO32)))
        .to.be.revertedWithCustomError(b.channels, "EntryRejected")
        .withArgs(ch.id, Skip.StateChanged);
      await expect(b.channels.connect(b.bob).proveHead(proof(ch, 0, 2, ZERO32, ch.c1.head)))
        .to.emit(b.channels, "HeadProved")
        .withArgs(ch.id, 0, 2);
    });

    it("rejects payer > 1 (Malformed), a bad signature, unknown or settled channels, and wrong lengths", async () => {
      const b = await loadFixture(deployBase);
      const ch = await openEth(b);
      await ch.c0.pay(1n);
      await expect(
        b.channels.connect(b.bob).proveHead(headProofRecord(ch.params, 2, ZERO32, ZERO32, ch.c0.signed[0])),
      )
        .to.be.revertedWithCustomError(b.channels, "EntryRejected")
        .withArgs(ch.id, Skip.Malformed);
      // a transfer P0 signed for another channel: not a signature over this channel's transfer
      const other = await openEth(b);
      await other.c0.pay(1n);
      await expect(
        b.channels
          .connect(b.bob)
          .proveHead(headProofRecord(ch.params, 0, ZERO32, ZERO32, other.c0.signed[0])),
      )
        .to.be.revertedWithCustomError(b.channels, "EntryRejected")
        .withArgs(ch.id, Skip.BadSignature);
      const unknown = { ...ch.params, nonce: 55_555n };
      const unknownId = await b.channels.channelIdOf(unknown);
      await expect(
        b.channels.connect(b.bob).proveHead(headProofRecord(unknown, 0, ZERO32, ZERO32, ch.c0.signed[0])),
      )
        .to.be.revertedWithCustomError(b.channels, "EntryRejected")
        .withArgs(unknownId, Skip.ChannelNotOpen);
      const one = parseEther("1");
      await b.channels.cooperativeClose(ch.params, one, one, ...(await coopSigs(b, ch, one, one)));
      await expect(b.channels.connect(b.bob).proveHead(proof(ch, 0, 1, ZERO32, ZERO32)))
        .to.be.revertedWithCustomError(b.channels, "EntryRejected")
        .withArgs(ch.id, Skip.ChannelNotOpen);
      const rec = proof(other, 0, 1, ZERO32, ZERO32);
      await expect(b.channels.connect(b.bob).proveHead(dataSlice(rec, 1)))
        .to.be.revertedWithCustomError(b.channels, "MalformedRecord")
        .withArgs(390, 391);
    });

    it("may jump ahead of the on-chain seq, and counts while closing and after the period ended", async () => {
      const b = await loadFixture(deployBase);
      const ch = await openEth(b);
      for (let i = 0; i < 5; i++) await ch.c0.pay(parseEther("0.1"));
      await b.channels.connect(b.alice).close(ch.params);
      await time.increase(ch.params.challengePeriod + 1);
      await expect(b.channels.connect(b.bob).proveHead(proof(ch, 0, 5, ZERO32, ZERO32)))
        .to.emit(b.channels, "HeadProved")
        .withArgs(ch.id, 0, 5);
      await expect(b.channels.settle(ch.params, ch.c0.headBody, "0x")).to.changeEtherBalances(
        [b.alice, b.bob],
        [parseEther("0.5"), parseEther("1.5")],
      );
    });
  });

  describe("proveHeads", () => {
    it("applies good entries and skips bad ones with HeadProofSkipped(channelId, reason)", async () => {
      const b = await loadFixture(deployBase);
      const chs: Channel[] = [];
      for (let i = 0; i < 4; i++) chs.push(await openEth(b));
      const [a, c, d, e] = chs;
      for (const ch of chs) {
        await ch.c0.pay(2n);
        await ch.c0.pay(2n);
        await ch.c1.pay(1n);
      }
      await b.channels.connect(b.bob).proveHead(proof(d, 0, 2, ZERO32, ZERO32));
      const batch = concat([
        proof(a, 0, 2, ZERO32, ZERO32), // applies
        proof(c, 1, 1, ZERO32, ZERO32), // bob is the payer here: NotPayee
        proof(d, 0, 1, d.c0.head, ZERO32), // stale
        proof(e, 0, 1, headAt(e.c0, 1), ZERO32), // wrong heads
        headProofRecord(e.params, 7, ZERO32, ZERO32, e.c0.signed[0]), // malformed payer
        proof(c, 0, 1, ZERO32, ZERO32), // applies
      ]);
      expect(await b.channels.connect(b.bob).proveHeads.staticCall(batch)).to.equal(2n);
      const tx = b.channels.connect(b.bob).proveHeads(batch);
      await expect(tx).to.emit(b.channels, "HeadProved").withArgs(a.id, 0, 2);
      await expect(tx).to.emit(b.channels, "HeadProved").withArgs(c.id, 0, 1);
      await expect(tx).to.emit(b.channels, "HeadProofSkipped").withArgs(c.id, Skip.NotPayee);
      await expect(tx).to.emit(b.channels, "HeadProofSkipped").withArgs(d.id, Skip.StaleState);
      await expect(tx).to.emit(b.channels, "HeadProofSkipped").withArgs(e.id, Skip.StateChanged);
      await expect(tx).to.emit(b.channels, "HeadProofSkipped").withArgs(e.id, Skip.Malformed);
      expect((await stateOf(b.channels, a.id)).commitment).to.equal(commitment(a.c0.head, ZERO32));
      expect((await stateOf(b.channels, c.id)).commitment).to.equal(commitment(headAt(c.c0, 1), ZERO32));
      expect((await stateOf(b.channels, e.id)).seq0).to.equal(0);
    });

    it("applies a second entry for one channel only against the heads the first one left", async () => {
      const b = await loadFixture(deployBase);
      const ch = await openEth(b);
      await ch.c0.pay(1n);
      await ch.c0.pay(1n);
      const good = concat([proof(ch, 0, 1, ZERO32, ZERO32), proof(ch, 0, 2, headAt(ch.c0, 1), ZERO32)]);
      expect(await b.channels.connect(b.bob).proveHeads.staticCall(good)).to.equal(2n);
      const stale = concat([proof(ch, 0, 1, ZERO32, ZERO32), proof(ch, 0, 2, ZERO32, ZERO32)]);
      await expect(b.channels.connect(b.bob).proveHeads(stale))
        .to.emit(b.channels, "HeadProofSkipped")
        .withArgs(ch.id, Skip.StateChanged);
      expect((await stateOf(b.channels, ch.id)).seq0).to.equal(1);
    });

    it("reverts on an empty batch or a partial record", async () => {
      const b = await loadFixture(deployBase);
      const ch = await openEth(b);
      await ch.c0.pay(1n);
      await expect(b.channels.connect(b.bob).proveHeads("0x"))
        .to.be.revertedWithCustomError(b.channels, "MalformedRecord")
        .withArgs(0, 391);
      await expect(b.channels.connect(b.bob).proveHeads(concat([proof(ch, 0, 1, ZERO32, ZERO32), "0x00"])))
        .to.be.revertedWithCustomError(b.channels, "MalformedRecord")
        .withArgs(392, 391);
    });
  });
});
