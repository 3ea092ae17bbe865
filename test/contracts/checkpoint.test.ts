// Co-signed checkpoints, one at a time and in batches (protocol §4.1).
import { expect } from "chai";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { concat, dataSlice, parseEther } from "ethers";
import { checkpointRecord, ZERO32 } from "../helpers/kit";
import type { Hex } from "../helpers/kit";
import {
  checkpointOf,
  commitment,
  coopArgs,
  deployBase,
  headAt,
  openEth,
  settleArgs,
  Skip,
  stateOf,
  Status,
} from "./fixtures";
import type { Base, Channel } from "./fixtures";

/** A checkpoint of explicit seqs and heads, co-signed by the channel's participants. */
function cp(b: Base, ch: Channel, seq0: number, head0: string, seq1: number, head1: string): Promise<Hex> {
  return checkpointRecord(ch.c0.wallet, ch.c1.wallet, b.dom, ch.params, ch.id, seq0, head0, seq1, head1);
}

describe("ParsecChannels: checkpoint and checkpointBatch", () => {
  describe("checkpoint", () => {
    it("commits both heads, from anyone, and emits Checkpointed", async () => {
      const b = await loadFixture(deployBase);
      const ch = await openEth(b);
      await ch.c0.pay(10n);
      await ch.c0.pay(5n);
      await ch.c1.pay(3n);
      await expect(b.channels.connect(b.carol).checkpoint(await checkpointOf(b, ch)))
        .to.emit(b.channels, "Checkpointed")
        .withArgs(ch.id, 2, 1);
      const s = await stateOf(b.channels, ch.id);
      expect([s.seq0, s.seq1, s.commitment]).to.deep.equal([2, 1, commitment(ch.c0.head, ch.c1.head)]);
      expect(s.status).to.equal(Status.Open);
    });

    it("accepts a state where one side moved and the other stayed, and one with a side still at zero", async () => {
      const b = await loadFixture(deployBase);
      const ch = await openEth(b);
      await ch.c1.pay(3n);
      await expect(b.channels.checkpoint(await checkpointOf(b, ch)))
        .to.emit(b.channels, "Checkpointed")
        .withArgs(ch.id, 0, 1);
      await ch.c0.pay(1n);
      await expect(b.channels.checkpoint(await checkpointOf(b, ch)))
        .to.emit(b.channels, "Checkpointed")
        .withArgs(ch.id, 1, 1);
      await ch.c1.pay(1n);
      await ch.c1.pay(1n);
      await expect(b.channels.checkpoint(await checkpointOf(b, ch)))
        .to.emit(b.channels, "Checkpointed")
        .withArgs(ch.id, 1, 3);
      expect((await stateOf(b.channels, ch.id)).commitment).to.equal(commitment(ch.c0.head, ch.c1.head));
    });

    it("rejects a state that is not newer: equal, older, or one side going back", async () => {
      const b = await loadFixture(deployBase);
      const ch = await openEth(b);
      for (let i = 0; i < 3; i++) await ch.c0.pay(1n);
      for (let i = 0; i < 3; i++) await ch.c1.pay(1n);
      const h0 = (n: number) => headAt(ch.c0, n);
      const h1 = (n: number) => headAt(ch.c1, n);
      await b.channels.checkpoint(await cp(b, ch, 2, h0(2), 2, h1(2)));
      const before = await stateOf(b.channels, ch.id);
      for (const [s0, s1] of [
        [2, 2],
        [1, 2],
        [1, 1],
        [1, 3],
        [3, 1],
        [0, 0],
      ]) {
        await expect(b.channels.checkpoint(await cp(b, ch, s0, h0(s0), s1, h1(s1))))
          .to.be.revertedWithCustomError(b.channels, "EntryRejected")
          .withArgs(ch.id, Skip.StaleState);
      }
      expect(await stateOf(b.channels, ch.id)).to.deep.equal(before);
      await expect(b.channels.checkpoint(await cp(b, ch, 3, h0(3), 2, h1(2))))
        .to.emit(b.channels, "Checkpointed")
        .withArgs(ch.id, 3, 2);
    });

    it("rejects the all-zero state before anything is committed", async () => {
      const b = await loadFixture(deployBase);
      const ch = await openEth(b);
      await expect(b.channels.checkpoint(await cp(b, ch, 0, ZERO32, 0, ZERO32)))
        .to.be.revertedWithCustomError(b.channels, "EntryRejected")
        .withArgs(ch.id, Skip.StaleState);
    });

    it("rejects a head that is zero exactly when its seq is not (Malformed), even if co-signed", async () => {
      const b = await loadFixture(deployBase);
      const ch = await openEth(b);
      await ch.c0.pay(1n);
      for (const [s0, h0, s1, h1] of [
        [1, ZERO32, 0, ZERO32],
        [0, ch.c0.head, 1, ch.c0.head],
        [1, ch.c0.head, 1, ZERO32],
        [1, ch.c0.head, 0, ch.c0.head],
      ] as const) {
        await expect(b.channels.checkpoint(await cp(b, ch, s0, h0, s1, h1)))
          .to.be.revertedWithCustomError(b.channels, "EntryRejected")
          .withArgs(ch.id, Skip.Malformed);
      }
    });

    it("rejects channels that are unknown or settled (ChannelNotOpen)", async () => {
      const b = await loadFixture(deployBase);
      const ch = await openEth(b);
      await ch.c0.pay(1n);
      const unknown = { ...ch.params, nonce: 999_999n };
      const unknownId = await b.channels.channelIdOf(unknown);
      const rec = await checkpointRecord(b.alice, b.bob, b.dom, unknown, unknownId, 1, ch.c0.head, 0, ZERO32);
      await expect(b.channels.checkpoint(rec))
        .to.be.revertedWithCustomError(b.channels, "EntryRejected")
        .withArgs(unknownId, Skip.ChannelNotOpen);
      const first = await checkpointOf(b, ch);
      await b.channels.checkpoint(first);
      await ch.c0.pay(1n);
      const second = await checkpointOf(b, ch);
      await b.channels.cooperativeClose(...(await coopArgs(b, ch, parseEther("1"), parseEther("1"))));
      await expect(b.channels.checkpoint(second))
        .to.be.revertedWithCustomError(b.channels, "EntryRejected")
        .withArgs(ch.id, Skip.ChannelNotOpen);
    });

    it("is accepted while closing, also after the challenge period ended, until settle", async () => {
      const b = await loadFixture(deployBase);
      const ch = await openEth(b);
      await ch.c0.pay(1n);
      await b.channels.checkpoint(await checkpointOf(b, ch));
      await b.channels.close(ch.params);
      await ch.c0.pay(2n);
      await expect(b.channels.checkpoint(await checkpointOf(b, ch)))
        .to.emit(b.channels, "Checkpointed")
        .withArgs(ch.id, 2, 0);
      await time.increase(2 * ch.params.challengePeriod);
      await ch.c1.pay(4n);
      await expect(b.channels.checkpoint(await checkpointOf(b, ch)))
        .to.emit(b.channels, "Checkpointed")
        .withArgs(ch.id, 2, 1);
      // settle pays what that last checkpoint says: P0 paid 3, P1 paid 4.
      await expect(b.channels.settle(...(await settleArgs(b.channels, ch)))).to.changeEtherBalances(
        [b.alice, b.bob],
        [parseEther("1") + 1n, parseEther("1") - 1n],
      );
    });
  });

  describe("checkpointBatch", () => {
    it("applies the good entries and skips each bad one with CheckpointSkipped(channelId, reason)", async () => {
      const b = await loadFixture(deployBase);
      const opened: Channel[] = [];
      for (let i = 0; i < 6; i++) opened.push(await openEth(b));
      const [good1, stale, badSig, settled, malformed, good2] = opened;
      for (const ch of [good1, stale, badSig, settled, malformed, good2]) await ch.c0.pay(5n);
      // stale: the same state is on-chain already
      await b.channels.checkpoint(await checkpointOf(b, stale));
      // settled: closed cooperatively before the batch
      const one = parseEther("1");
      await b.channels.cooperativeClose(...(await coopArgs(b, settled, one, one)));
      const unknownParams = { ...good1.params, nonce: 123_456_789n };
      const unknownId = await b.channels.channelIdOf(unknownParams);
      const entries: Hex[] = [
        await checkpointOf(b, good1),
        await checkpointOf(b, stale),
        await checkpointRecord(
          b.alice,
          b.carol,
          b.dom,
          badSig.params,
          badSig.id,
          1,
          badSig.c0.head,
          0,
          ZERO32,
        ),
        await checkpointOf(b, settled),
        await checkpointRecord(b.alice, b.bob, b.dom, unknownParams, unknownId, 1, good1.c0.head, 0, ZERO32),
        await cp(b, malformed, 1, ZERO32, 0, ZERO32),
        await checkpointOf(b, good2),
      ];
      const batch = concat(entries);
      expect(await b.channels.checkpointBatch.staticCall(batch)).to.equal(2n);
      const before = await Promise.all([stale, badSig, malformed].map((ch) => stateOf(b.channels, ch.id)));
      const tx = b.channels.connect(b.carol).checkpointBatch(batch);
      await expect(tx).to.emit(b.channels, "Checkpointed").withArgs(good1.id, 1, 0);
      await expect(tx).to.emit(b.channels, "Checkpointed").withArgs(good2.id, 1, 0);
      await expect(tx).to.emit(b.channels, "CheckpointSkipped").withArgs(stale.id, Skip.StaleState);
      await expect(tx).to.emit(b.channels, "CheckpointSkipped").withArgs(badSig.id, Skip.BadSignature);
      await expect(tx).to.emit(b.channels, "CheckpointSkipped").withArgs(settled.id, Skip.ChannelNotOpen);
      await expect(tx).to.emit(b.channels, "CheckpointSkipped").withArgs(unknownId, Skip.ChannelNotOpen);
      await expect(tx).to.emit(b.channels, "CheckpointSkipped").withArgs(malformed.id, Skip.Malformed);
      const receipt = await (await tx).wait();
      const names = receipt!.logs.map((l) => b.channels.interface.parseLog(l)?.name);
      expect(names).to.deep.equal([
        "Checkpointed",
        "CheckpointSkipped",
        "CheckpointSkipped",
        "CheckpointSkipped",
        "CheckpointSkipped",
        "CheckpointSkipped",
        "Checkpointed",
      ]);
      for (const ch of [good1, good2]) {
        const s = await stateOf(b.channels, ch.id);
        expect([s.seq0, s.seq1, s.commitment]).to.deep.equal([1, 0, commitment(ch.c0.head, ZERO32)]);
      }
      expect(
        await Promise.all([stale, badSig, malformed].map((ch) => stateOf(b.channels, ch.id))),
      ).to.deep.equal(before);
      const s = await stateOf(b.channels, settled.id);
      expect([s.status, s.seq0, s.commitment]).to.deep.equal([Status.Settled, 0, 0n]);
    });

    it("applies entries in order: an older entry after a newer one for the same channel is skipped", async () => {
      const b = await loadFixture(deployBase);
      const ch = await openEth(b);
      await ch.c0.pay(1n);
      const older = await checkpointOf(b, ch);
      await ch.c0.pay(1n);
      const newer = await checkpointOf(b, ch);
      expect(await b.channels.checkpointBatch.staticCall(concat([older, newer]))).to.equal(2n);
      const tx = b.channels.checkpointBatch(concat([newer, older]));
      await expect(tx).to.emit(b.channels, "CheckpointSkipped").withArgs(ch.id, Skip.StaleState);
      expect((await stateOf(b.channels, ch.id)).seq0).to.equal(2);
    });

    it("skips everything without reverting when no entry applies", async () => {
      const b = await loadFixture(deployBase);
      const ch = await openEth(b);
      const zero = await cp(b, ch, 0, ZERO32, 0, ZERO32);
      expect(await b.channels.checkpointBatch.staticCall(concat([zero, zero]))).to.equal(0n);
      await expect(b.channels.checkpointBatch(zero))
        .to.emit(b.channels, "CheckpointSkipped")
        .withArgs(ch.id, Skip.StaleState);
    });

    it("reverts on an empty batch or one that is not a whole number of records", async () => {
      const b = await loadFixture(deployBase);
      const ch = await openEth(b);
      await ch.c0.pay(1n);
      const rec = await checkpointOf(b, ch);
      await expect(b.channels.checkpointBatch("0x"))
        .to.be.revertedWithCustomError(b.channels, "MalformedRecord")
        .withArgs(0, 274);
      await expect(b.channels.checkpointBatch(concat([rec, dataSlice(rec, 0, 10)])))
        .to.be.revertedWithCustomError(b.channels, "MalformedRecord")
        .withArgs(284, 274);
    });
  });
});
