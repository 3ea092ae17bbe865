// Head proofs: the payee commits the payer's latest signed transfer (protocol §4.2). Since issue 9 a
// `HeadProofRecord` names no heads: it writes the payer's proven word and depends only on that payer's
// on-chain seq, so nothing the counterparty submits first can invalidate it.
import { expect } from "chai";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { concat, dataSlice, parseEther } from "ethers";
import { checkpointRecord, ZERO32 } from "../helpers/kit";
import {
  commitment,
  coopArgs,
  deployBase,
  head224,
  headAt,
  headProof as proof,
  headProofRecord,
  HEAD_PROOF_RECORD_LENGTH,
  openEth,
  settleArgs,
  Skip,
  stateOf,
} from "./fixtures";
import type { Channel } from "./fixtures";

describe("ParsecChannels: proveHead and proveHeads", () => {
  describe("proveHead", () => {
    it("lets the payee commit the payer's transfer, for either payer, into that payer's proven word", async () => {
      const b = await loadFixture(deployBase);
      const ch = await openEth(b);
      await ch.c0.pay(4n);
      await ch.c0.pay(4n);
      await expect(b.channels.connect(b.bob).proveHead(proof(ch, 0, 2)))
        .to.emit(b.channels, "HeadProved")
        .withArgs(ch.id, 0, 2);
      let s = await stateOf(b.channels, ch.id);
      // the checkpoint word stays untouched; the proven word of P0 holds seq 2
      expect([s.seq0, s.seq1, s.commitment]).to.deep.equal([0, 0, 0n]);
      expect(s.proven0).to.deep.equal({ seq: 2, head224: head224(ch.c0.head) });
      expect(s.proven1).to.deep.equal({ seq: 0, head224: 0n });
      expect([s.head0, s.head1, s.hasProofs]).to.deep.equal([2, 0, true]);
      await ch.c1.pay(1n);
      await expect(b.channels.connect(b.alice).proveHead(proof(ch, 1, 1)))
        .to.emit(b.channels, "HeadProved")
        .withArgs(ch.id, 1, 1);
      s = await stateOf(b.channels, ch.id);
      expect(s.proven1).to.deep.equal({ seq: 1, head224: head224(ch.c1.head) });
      expect([s.head0, s.head1]).to.deep.equal([2, 1]);
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
        await expect(b.channels.connect(who).proveHead(proof(ch, payer, 1)))
          .to.be.revertedWithCustomError(b.channels, "EntryRejected")
          .withArgs(ch.id, Skip.NotPayee);
      }
    });

    it("rejects a transfer that is not newer than the payer's on-chain head (StaleState)", async () => {
      const b = await loadFixture(deployBase);
      const ch = await openEth(b);
      await ch.c0.pay(1n);
      await ch.c0.pay(1n);
      await ch.c0.pay(1n);
      // on-chain head from a checkpoint
      await b.channels.checkpoint(
        await checkpointRecord(b.alice, b.bob, b.dom, ch.params, ch.id, 2, headAt(ch.c0, 2), 0, ZERO32),
      );
      for (const seq of [1, 2]) {
        await expect(b.channels.connect(b.bob).proveHead(proof(ch, 0, seq)))
          .to.be.revertedWithCustomError(b.channels, "EntryRejected")
          .withArgs(ch.id, Skip.StaleState);
      }
      // on-chain head from a head proof
      await b.channels.connect(b.bob).proveHead(proof(ch, 0, 3));
      for (const seq of [1, 2, 3]) {
        await expect(b.channels.connect(b.bob).proveHead(proof(ch, 0, seq)))
          .to.be.revertedWithCustomError(b.channels, "EntryRejected")
          .withArgs(ch.id, Skip.StaleState);
      }
    });

    it("stays valid whatever moved on-chain meanwhile (StateChanged is no longer produced)", async () => {
      const b = await loadFixture(deployBase);
      const ch = await openEth(b);
      await ch.c0.pay(1n);
      await ch.c0.pay(1n);
      await ch.c1.pay(1n);
      await ch.c1.pay(1n);
      // P1's head moves (a head proof by alice, then a checkpoint): bob's proof of P0 needs nothing of it
      await b.channels.connect(b.alice).proveHead(proof(ch, 1, 1));
      await b.channels.checkpoint(
        await checkpointRecord(b.alice, b.bob, b.dom, ch.params, ch.id, 1, headAt(ch.c0, 1), 2, ch.c1.head),
      );
      await expect(b.channels.connect(b.bob).proveHead(proof(ch, 0, 2)))
        .to.emit(b.channels, "HeadProved")
        .withArgs(ch.id, 0, 2);
      const s = await stateOf(b.channels, ch.id);
      expect([s.head0, s.head1]).to.deep.equal([2, 2]);
      expect([s.seq0, s.seq1, s.commitment]).to.deep.equal([1, 2, commitment(headAt(ch.c0, 1), ch.c1.head)]);
    });

    it("a later checkpoint below the proven seq does not lower the payer's head; a higher one takes over", async () => {
      const b = await loadFixture(deployBase);
      const ch = await openEth(b);
      for (let i = 0; i < 4; i++) await ch.c0.pay(1n);
      await b.channels.connect(b.bob).proveHead(proof(ch, 0, 3));
      const cpAt = (seq0: number) =>
        checkpointRecord(b.alice, b.bob, b.dom, ch.params, ch.id, seq0, headAt(ch.c0, seq0), 0, ZERO32);
      await expect(b.channels.checkpoint(await cpAt(2)))
        .to.emit(b.channels, "Checkpointed")
        .withArgs(ch.id, 2, 0);
      expect((await stateOf(b.channels, ch.id)).head0).to.equal(3);
      await b.channels.checkpoint(await cpAt(4));
      const s = await stateOf(b.channels, ch.id);
      expect([s.head0, s.seq0, s.proven0.seq]).to.deep.equal([4, 4, 3]);
      await expect(b.channels.connect(b.bob).proveHead(proof(ch, 0, 4)))
        .to.be.revertedWithCustomError(b.channels, "EntryRejected")
        .withArgs(ch.id, Skip.StaleState);
    });

    it("rejects payer > 1 (Malformed), a bad signature, unknown or settled channels, and wrong lengths", async () => {
      const b = await loadFixture(deployBase);
      const ch = await openEth(b);
      await ch.c0.pay(1n);
      await expect(b.channels.connect(b.bob).proveHead(headProofRecord(ch.params, 2, ch.c0.signed[0])))
        .to.be.revertedWithCustomError(b.channels, "EntryRejected")
        .withArgs(ch.id, Skip.Malformed);
      // a transfer P0 signed for another channel: not a signature over this channel's transfer
      const other = await openEth(b);
      await other.c0.pay(1n);
      await expect(b.channels.connect(b.bob).proveHead(headProofRecord(ch.params, 0, other.c0.signed[0])))
        .to.be.revertedWithCustomError(b.channels, "EntryRejected")
        .withArgs(ch.id, Skip.BadSignature);
      const unknown = { ...ch.params, nonce: 55_555n };
      const unknownId = await b.channels.channelIdOf(unknown);
      await expect(b.channels.connect(b.bob).proveHead(headProofRecord(unknown, 0, ch.c0.signed[0])))
        .to.be.revertedWithCustomError(b.channels, "EntryRejected")
        .withArgs(unknownId, Skip.ChannelNotOpen);
      const one = parseEther("1");
      await b.channels.cooperativeClose(...(await coopArgs(b, ch, one, one)));
      await expect(b.channels.connect(b.bob).proveHead(proof(ch, 0, 1)))
        .to.be.revertedWithCustomError(b.channels, "EntryRejected")
        .withArgs(ch.id, Skip.ChannelNotOpen);
      const rec = proof(other, 0, 1);
      await expect(b.channels.connect(b.bob).proveHead(dataSlice(rec, 1)))
        .to.be.revertedWithCustomError(b.channels, "MalformedRecord")
        .withArgs(HEAD_PROOF_RECORD_LENGTH - 1, HEAD_PROOF_RECORD_LENGTH);
    });

    it("may jump ahead of the on-chain seq, and counts while closing and after the period ended", async () => {
      const b = await loadFixture(deployBase);
      const ch = await openEth(b);
      for (let i = 0; i < 5; i++) await ch.c0.pay(parseEther("0.1"));
      await b.channels.connect(b.alice).close(ch.params);
      await time.increase(ch.params.challengePeriod + 1);
      await expect(b.channels.connect(b.bob).proveHead(proof(ch, 0, 5)))
        .to.emit(b.channels, "HeadProved")
        .withArgs(ch.id, 0, 5);
      await expect(b.channels.settle(...(await settleArgs(b.channels, ch)))).to.changeEtherBalances(
        [b.alice, b.bob],
        [parseEther("0.5"), parseEther("1.5")],
      );
      // settling clears the proven words
      const s = await stateOf(b.channels, ch.id);
      expect([s.proven0.seq, s.proven1.seq]).to.deep.equal([0, 0]);
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
      await b.channels.connect(b.bob).proveHead(proof(d, 0, 2));
      const batch = concat([
        proof(a, 0, 2), // applies
        proof(c, 1, 1), // bob is the payer here: NotPayee
        proof(d, 0, 1), // stale
        headProofRecord(e.params, 0, d.c0.signed[0]), // another channel's transfer: bad signature
        headProofRecord(e.params, 7, e.c0.signed[0]), // malformed payer
        proof(c, 0, 1), // applies
      ]);
      expect(await b.channels.connect(b.bob).proveHeads.staticCall(batch)).to.equal(2n);
      const tx = b.channels.connect(b.bob).proveHeads(batch);
      await expect(tx).to.emit(b.channels, "HeadProved").withArgs(a.id, 0, 2);
      await expect(tx).to.emit(b.channels, "HeadProved").withArgs(c.id, 0, 1);
      await expect(tx).to.emit(b.channels, "HeadProofSkipped").withArgs(c.id, Skip.NotPayee);
      await expect(tx).to.emit(b.channels, "HeadProofSkipped").withArgs(d.id, Skip.StaleState);
      await expect(tx).to.emit(b.channels, "HeadProofSkipped").withArgs(e.id, Skip.BadSignature);
      await expect(tx).to.emit(b.channels, "HeadProofSkipped").withArgs(e.id, Skip.Malformed);
      expect((await stateOf(b.channels, a.id)).proven0).to.deep.equal({
        seq: 2,
        head224: head224(a.c0.head),
      });
      expect((await stateOf(b.channels, c.id)).proven0).to.deep.equal({
        seq: 1,
        head224: head224(headAt(c.c0, 1)),
      });
      expect((await stateOf(b.channels, e.id)).head0).to.equal(0);
    });

    it("applies a second entry for one channel above the seq the first one left, and skips a lower one", async () => {
      const b = await loadFixture(deployBase);
      const ch = await openEth(b);
      await ch.c0.pay(1n);
      await ch.c0.pay(1n);
      const good = concat([proof(ch, 0, 1), proof(ch, 0, 2)]);
      expect(await b.channels.connect(b.bob).proveHeads.staticCall(good)).to.equal(2n);
      const stale = concat([proof(ch, 0, 2), proof(ch, 0, 1)]);
      await expect(b.channels.connect(b.bob).proveHeads(stale))
        .to.emit(b.channels, "HeadProofSkipped")
        .withArgs(ch.id, Skip.StaleState);
      expect((await stateOf(b.channels, ch.id)).head0).to.equal(2);
    });

    it("reverts on an empty batch or a partial record", async () => {
      const b = await loadFixture(deployBase);
      const ch = await openEth(b);
      await ch.c0.pay(1n);
      await expect(b.channels.connect(b.bob).proveHeads("0x"))
        .to.be.revertedWithCustomError(b.channels, "MalformedRecord")
        .withArgs(0, HEAD_PROOF_RECORD_LENGTH);
      await expect(b.channels.connect(b.bob).proveHeads(concat([proof(ch, 0, 1), "0x00"])))
        .to.be.revertedWithCustomError(b.channels, "MalformedRecord")
        .withArgs(HEAD_PROOF_RECORD_LENGTH + 1, HEAD_PROOF_RECORD_LENGTH);
    });
  });
});
