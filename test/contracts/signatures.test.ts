// EIP-712 signatures: what they bind (channel, contract, chain, message type) and what encodings pass (§2).
import { expect } from "chai";
import hre from "hardhat";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { concat, parseEther, TypedDataEncoder } from "ethers";
import {
  channelId,
  checkpointRecord,
  domain,
  locksRoot,
  packBody,
  packLock,
  PayerChain,
  signCheckpoint,
  signTransfer,
  signWithdraw,
  transferHash,
  types,
  ZERO32,
} from "../helpers/kit";
import type { Hex } from "../helpers/kit";
import {
  checkpointOf,
  coopSigs,
  coopTerms,
  copyChannel,
  deployBase,
  ecrecover,
  highS,
  now,
  openEth,
  packCheckpoint,
  resign,
  sigOf,
  headProofRecord,
  signCooperativeClose,
  Skip,
  withV,
} from "./fixtures";
import type { Base, Channel } from "./fixtures";

const { ethers } = hre;

interface Setup extends Base {
  x: Channel;
  y: Channel;
  other: Base["channels"];
  z: Channel;
}

/** Channels x and y (same pair, other nonce) here, and z (same parameters as x) on a second contract. */
async function setup(): Promise<Setup> {
  const b = await deployBase();
  const x = await openEth(b);
  const y = await openEth(b);
  const other = await ethers.deployContract("ParsecChannels");
  const otherAddress = await other.getAddress();
  await other.openEth(b.bob.address, x.params.challengePeriod, x.params.nonce, { value: parseEther("1") });
  const zDom = domain(b.chainId, otherAddress);
  const zId = channelId(b.chainId, otherAddress, x.params);
  const z: Channel = {
    params: x.params,
    id: zId,
    c0: new PayerChain(b.alice, zDom, zId, 0),
    c1: new PayerChain(b.bob, zDom, zId, 1),
  };
  await x.c0.pay(1n);
  await y.c0.pay(1n);
  await z.c0.pay(1n);
  return { ...b, x, y, other, z };
}

/** The cached setup with fresh copies of its chains. */
async function fixture(): Promise<Setup> {
  const s = await loadFixture(setup);
  return { ...s, x: copyChannel(s.x), y: copyChannel(s.y), z: copyChannel(s.z) };
}

describe("ParsecChannels: signatures and replay protection", () => {
  describe("hashing agrees with the specification", () => {
    it("exposes the EIP-712 domain Parsec/1 bound to this chain and contract", async () => {
      const { channels, chainId, address } = await fixture();
      const d = await channels.eip712Domain();
      expect([d.name, d.version, d.chainId, d.verifyingContract]).to.deep.equal([
        "Parsec",
        "1",
        chainId,
        address,
      ]);
    });

    it("hashes transfers, checkpoints, closes and withdrawals as the typed-data encoder does", async () => {
      const { channels, encoding, dom, x } = await fixture();
      await x.c0.push(1, 5n, ethers.sha256("0x" + "11".repeat(32)), 99n, "0x" + "ab".repeat(32));
      const body = x.c0.bodies[1];
      const hash = transferHash(x.id, 0, body);
      expect(await encoding.hashTransfer(x.id, 0, packBody(body))).to.equal(hash);
      expect(await encoding.hashTransfer(x.id, 1, packBody(body))).to.not.equal(hash);
      expect(await channels.typedDataDigest(hash)).to.equal(
        TypedDataEncoder.hash(dom, { Transfer: types.Transfer }, { channelId: x.id, payer: 0, ...body }),
      );
      const cp = { channelId: x.id, seq0: 3, head0: hash, seq1: 0, head1: ZERO32 };
      expect(await encoding.hashCheckpoint(x.id, 3, hash, 0, ZERO32)).to.equal(
        TypedDataEncoder.hashStruct("Checkpoint", { Checkpoint: types.Checkpoint }, cp),
      );
      expect(
        await encoding.hashCooperativeClose(x.id, {
          seq0: 7,
          seq1: 9,
          balance0: 4n,
          balance1: 6n,
          expiry: 123n,
        }),
      ).to.equal(
        TypedDataEncoder.hashStruct(
          "CooperativeClose",
          { CooperativeClose: types.CooperativeClose },
          { channelId: x.id, seq0: 7, seq1: 9, balance0: 4n, balance1: 6n, expiry: 123n },
        ),
      );
      expect(await encoding.hashWithdraw(x.id, 2, 4n, 6n, 77n)).to.equal(
        TypedDataEncoder.hashStruct(
          "Withdraw",
          { Withdraw: types.Withdraw },
          { channelId: x.id, nonce: 2, amount0: 4n, amount1: 6n, expiry: 77n },
        ),
      );
      const lockA = packLock(5n, 99n, ethers.sha256("0x" + "11".repeat(32)));
      const lockB = packLock(7n, 100n, ethers.sha256("0x" + "22".repeat(32)));
      expect(await encoding.locksRootOf("0x")).to.equal(ZERO32);
      expect(await encoding.locksRootOf(concat([lockA, lockB]))).to.equal(locksRoot([lockA, lockB]));
      const commitment = BigInt(ethers.keccak256(concat([hash, ZERO32]))) & ((1n << 192n) - 1n);
      expect(await encoding.commitmentOf(hash, ZERO32)).to.equal(commitment);
    });

    it("refuses to hash a body of the wrong length", async () => {
      const { encoding, x } = await fixture();
      await expect(encoding.hashTransfer(x.id, 0, "0x00"))
        .to.be.revertedWithCustomError(encoding, "MalformedBody")
        .withArgs(1);
    });
  });

  describe("Checkpoint signatures", () => {
    it("a correct record applies (control for the cases below)", async () => {
      const b = await fixture();
      await expect(b.channels.checkpoint(await checkpointOf(b, b.x)))
        .to.emit(b.channels, "Checkpointed")
        .withArgs(b.x.id, 1, 0);
      await expect(b.other.checkpoint(await checkpointOf(b, b.z, b.z.c0.dom)))
        .to.emit(b.other, "Checkpointed")
        .withArgs(b.z.id, 1, 0);
    });

    it("is rejected when signed by someone else, or with the two signatures swapped", async () => {
      const b = await fixture();
      const { x } = b;
      const bad = await checkpointRecord(b.carol, b.bob, b.dom, x.params, x.id, 1, x.c0.head, 0, ZERO32);
      await expect(b.channels.checkpoint(bad))
        .to.be.revertedWithCustomError(b.channels, "EntryRejected")
        .withArgs(x.id, Skip.BadSignature);
      const bad1 = await checkpointRecord(b.alice, b.carol, b.dom, x.params, x.id, 1, x.c0.head, 0, ZERO32);
      await expect(b.channels.checkpoint(bad1))
        .to.be.revertedWithCustomError(b.channels, "EntryRejected")
        .withArgs(x.id, Skip.BadSignature);
      const s0 = await signCheckpoint(b.alice, b.dom, x.id, 1, x.c0.head, 0, ZERO32);
      const s1 = await signCheckpoint(b.bob, b.dom, x.id, 1, x.c0.head, 0, ZERO32);
      await expect(b.channels.checkpoint(packCheckpoint(x.params, 1, x.c0.head, 0, ZERO32, s1, s0)))
        .to.be.revertedWithCustomError(b.channels, "EntryRejected")
        .withArgs(x.id, Skip.BadSignature);
      await expect(b.channels.checkpoint(packCheckpoint(x.params, 1, x.c0.head, 0, ZERO32, s0, s1))).to.emit(
        b.channels,
        "Checkpointed",
      );
    });

    it("is worthless on another channel", async () => {
      const b = await fixture();
      const { x, y } = b;
      const s0 = await signCheckpoint(b.alice, b.dom, x.id, 1, y.c0.head, 0, ZERO32);
      const s1 = await signCheckpoint(b.bob, b.dom, x.id, 1, y.c0.head, 0, ZERO32);
      await expect(b.channels.checkpoint(packCheckpoint(y.params, 1, y.c0.head, 0, ZERO32, s0, s1)))
        .to.be.revertedWithCustomError(b.channels, "EntryRejected")
        .withArgs(y.id, Skip.BadSignature);
    });

    it("is worthless on another contract", async () => {
      const b = await fixture();
      // Same channel id and heads as z, but signed for the first contract's domain.
      const record = await checkpointRecord(
        b.alice,
        b.bob,
        b.dom,
        b.z.params,
        b.z.id,
        1,
        b.z.c0.head,
        0,
        ZERO32,
      );
      await expect(b.other.checkpoint(record))
        .to.be.revertedWithCustomError(b.other, "EntryRejected")
        .withArgs(b.z.id, Skip.BadSignature);
      // And x's own record, replayed on the second contract, names a channel the parameters do not give there.
      const xRecord = await checkpointOf(b, b.x);
      await expect(b.other.checkpoint(xRecord))
        .to.be.revertedWithCustomError(b.other, "EntryRejected")
        .withArgs(b.z.id, Skip.BadSignature);
    });

    it("is worthless on another chain", async () => {
      const b = await fixture();
      const record = await checkpointRecord(
        b.alice,
        b.bob,
        domain(1n, b.address),
        b.x.params,
        b.x.id,
        1,
        b.x.c0.head,
        0,
        ZERO32,
      );
      await expect(b.channels.checkpoint(record))
        .to.be.revertedWithCustomError(b.channels, "EntryRejected")
        .withArgs(b.x.id, Skip.BadSignature);
    });

    it("a signature of another message type does not count as a checkpoint signature", async () => {
      const b = await fixture();
      const { x } = b;
      // The transfer signature over the head itself, and a close signature, in place of checkpoint signatures.
      const transferSig = sigOf(x.c0.signed[0]);
      const s1 = await signCheckpoint(b.bob, b.dom, x.id, 1, x.c0.head, 0, ZERO32);
      await expect(b.channels.checkpoint(packCheckpoint(x.params, 1, x.c0.head, 0, ZERO32, transferSig, s1)))
        .to.be.revertedWithCustomError(b.channels, "EntryRejected")
        .withArgs(x.id, Skip.BadSignature);
      const [c0, c1] = await coopSigs(b, x, await coopTerms(x, 1n, 0n));
      await expect(b.channels.checkpoint(packCheckpoint(x.params, 1, x.c0.head, 0, ZERO32, c0, c1)))
        .to.be.revertedWithCustomError(b.channels, "EntryRejected")
        .withArgs(x.id, Skip.BadSignature);
    });

    it("rejects high-s (n - s, flipped v) and v outside {27, 28}", async () => {
      const b = await fixture();
      const { x } = b;
      const s0 = await signCheckpoint(b.alice, b.dom, x.id, 1, x.c0.head, 0, ZERO32);
      const s1 = await signCheckpoint(b.bob, b.dom, x.id, 1, x.c0.head, 0, ZERO32);
      // The high-s twin recovers the same address, so only the s <= n/2 rule rejects it.
      const digest = await b.channels.typedDataDigest(
        await b.encoding.hashCheckpoint(x.id, 1, x.c0.head, 0, ZERO32),
      );
      expect(await ecrecover(digest, highS(s0))).to.equal(b.alice.address);
      expect(await ecrecover(digest, withV(s0, 29))).to.equal(ethers.ZeroAddress);
      for (const [a, c] of [
        [highS(s0), s1],
        [s0, highS(s1)],
        [withV(s0, 29), s1],
        [withV(s0, 0), s1],
        [withV(s0, 1), s1],
        [s0, withV(s1, 26)],
      ]) {
        await expect(b.channels.checkpoint(packCheckpoint(x.params, 1, x.c0.head, 0, ZERO32, a, c)))
          .to.be.revertedWithCustomError(b.channels, "EntryRejected")
          .withArgs(x.id, Skip.BadSignature);
      }
      await expect(b.channels.checkpoint(packCheckpoint(x.params, 1, x.c0.head, 0, ZERO32, s0, s1))).to.emit(
        b.channels,
        "Checkpointed",
      );
    });

    it("rejects records of the wrong length", async () => {
      const b = await fixture();
      const record = await checkpointOf(b, b.x);
      await expect(b.channels.checkpoint(ethers.dataSlice(record, 0, 273)))
        .to.be.revertedWithCustomError(b.channels, "MalformedRecord")
        .withArgs(273, 274);
      await expect(b.channels.checkpoint(concat([record, "0x00"])))
        .to.be.revertedWithCustomError(b.channels, "MalformedRecord")
        .withArgs(275, 274);
    });
  });

  describe("Transfer signatures", () => {
    it("a transfer signed for another channel, contract, chain or payer does not prove a head", async () => {
      const b = await fixture();
      const { x, y } = b;
      const body = x.c0.bodies[0];
      const cases: Hex[] = [
        await signTransfer(b.alice, b.dom, y.id, 0, body), // another channel
        await signTransfer(b.alice, domain(b.chainId, await b.other.getAddress()), x.id, 0, body), // contract
        await signTransfer(b.alice, domain(1n, b.address), x.id, 0, body), // chain
        await signTransfer(b.alice, b.dom, x.id, 1, body), // payer
        await signTransfer(b.carol, b.dom, x.id, 0, body), // signer
        highS(sigOf(x.c0.signed[0])),
        withV(sigOf(x.c0.signed[0]), 29),
      ];
      for (const sig of cases) {
        const record = headProofRecord(x.params, 0, resign(x.c0.signed[0], sig));
        await expect(b.channels.connect(b.bob).proveHead(record))
          .to.be.revertedWithCustomError(b.channels, "EntryRejected")
          .withArgs(x.id, Skip.BadSignature);
        await expect(b.channels.extendChain(x.params, 0, "0x", ZERO32, "0x", resign(x.c0.signed[0], sig)))
          .to.be.revertedWithCustomError(b.channels, "InvalidSignature")
          .withArgs(b.alice.address);
      }
      await expect(b.channels.connect(b.bob).proveHead(headProofRecord(x.params, 0, x.c0.signed[0]))).to.emit(
        b.channels,
        "HeadProved",
      );
    });

    it("payer 1's transfers must be signed by P1", async () => {
      const b = await fixture();
      const { x } = b;
      await x.c1.pay(3n);
      const forged = resign(x.c1.signed[0], await signTransfer(b.alice, b.dom, x.id, 1, x.c1.bodies[0]));
      await expect(b.channels.extendChain(x.params, 1, "0x", ZERO32, "0x", forged))
        .to.be.revertedWithCustomError(b.channels, "InvalidSignature")
        .withArgs(b.bob.address);
      await expect(b.channels.extendChain(x.params, 1, "0x", ZERO32, "0x", x.c1.signed[0]))
        .to.emit(b.channels, "ChainExtended")
        .withArgs(x.id, 1, 0, 1);
    });
  });

  describe("CooperativeClose and Withdraw signatures", () => {
    it("cooperative close: wrong signer, another channel/contract/chain/type, high-s, bad v and length", async () => {
      const b = await fixture();
      const { x, y } = b;
      const one = parseEther("1");
      const t = await coopTerms(x, one, one);
      const good = await coopSigs(b, x, t);
      const otherDom = domain(b.chainId, await b.other.getAddress());
      const bad0: Hex[] = [
        await signCooperativeClose(b.carol, b.dom, x.id, t),
        await signCooperativeClose(b.alice, b.dom, y.id, t),
        await signCooperativeClose(b.alice, otherDom, x.id, t),
        await signCooperativeClose(b.alice, domain(1n, b.address), x.id, t),
        // the seqs and the expiry are signed too
        await signCooperativeClose(b.alice, b.dom, x.id, { ...t, seq0: t.seq0 + 1 }),
        await signCooperativeClose(b.alice, b.dom, x.id, { ...t, seq1: t.seq1 + 1 }),
        await signCooperativeClose(b.alice, b.dom, x.id, { ...t, expiry: t.expiry + 1n }),
        await signWithdraw(b.alice, b.dom, x.id, 0, one, one, 0n),
        await signCheckpoint(b.alice, b.dom, x.id, 0, ZERO32, 0, ZERO32),
        highS(good[0]),
        withV(good[0], 29),
      ];
      for (const sig of bad0) {
        await expect(b.channels.cooperativeClose(x.params, t, sig, good[1]))
          .to.be.revertedWithCustomError(b.channels, "InvalidSignature")
          .withArgs(b.alice.address);
      }
      await expect(b.channels.cooperativeClose(x.params, t, good[0], highS(good[1])))
        .to.be.revertedWithCustomError(b.channels, "InvalidSignature")
        .withArgs(b.bob.address);
      await expect(b.channels.cooperativeClose(x.params, t, good[1], good[0]))
        .to.be.revertedWithCustomError(b.channels, "InvalidSignature")
        .withArgs(b.alice.address);
      await expect(b.channels.cooperativeClose(x.params, t, ethers.dataSlice(good[0], 0, 64), good[1]))
        .to.be.revertedWithCustomError(b.channels, "MalformedRecord")
        .withArgs(64, 65);
      await expect(b.channels.cooperativeClose(x.params, t, good[0], concat([good[1], "0x1b"])))
        .to.be.revertedWithCustomError(b.channels, "MalformedRecord")
        .withArgs(66, 65);
      // x's signatures do not close y either, though y has the same deposits and seqs.
      await expect(b.channels.cooperativeClose(y.params, t, ...good))
        .to.be.revertedWithCustomError(b.channels, "InvalidSignature")
        .withArgs(b.alice.address);
      // terms other than the signed ones do not match the signatures
      await expect(b.channels.cooperativeClose(x.params, { ...t, expiry: t.expiry - 1n }, ...good))
        .to.be.revertedWithCustomError(b.channels, "InvalidSignature")
        .withArgs(b.alice.address);
      await expect(b.channels.cooperativeClose(x.params, t, ...good)).to.emit(
        b.channels,
        "ChannelClosedCooperatively",
      );
    });

    it("withdraw: wrong signer, another channel/chain/type, high-s and bad length", async () => {
      const b = await fixture();
      const { x, y } = b;
      const expiry = (await now()) + 1_000n;
      const amt = parseEther("0.1");
      const s0 = await signWithdraw(b.alice, b.dom, x.id, 0, amt, 0n, expiry);
      const s1 = await signWithdraw(b.bob, b.dom, x.id, 0, amt, 0n, expiry);
      const bad1: Hex[] = [
        await signWithdraw(b.carol, b.dom, x.id, 0, amt, 0n, expiry),
        await signWithdraw(b.bob, b.dom, y.id, 0, amt, 0n, expiry),
        await signWithdraw(b.bob, domain(1n, b.address), x.id, 0, amt, 0n, expiry),
        await signCooperativeClose(b.bob, b.dom, x.id, {
          seq0: 0,
          seq1: 0,
          balance0: amt,
          balance1: 0n,
          expiry,
        }),
        highS(s1),
        withV(s1, 29),
      ];
      for (const sig of bad1) {
        await expect(b.channels.withdraw(x.params, 0, amt, 0n, expiry, s0, sig))
          .to.be.revertedWithCustomError(b.channels, "InvalidSignature")
          .withArgs(b.bob.address);
      }
      await expect(b.channels.withdraw(x.params, 0, amt, 0n, expiry, "0x", s1))
        .to.be.revertedWithCustomError(b.channels, "MalformedRecord")
        .withArgs(0, 65);
      await expect(b.channels.withdraw(y.params, 0, amt, 0n, expiry, s0, s1))
        .to.be.revertedWithCustomError(b.channels, "InvalidSignature")
        .withArgs(b.alice.address);
      await expect(b.channels.withdraw(x.params, 0, amt, 0n, expiry, s0, s1))
        .to.emit(b.channels, "Withdrawn")
        .withArgs(x.id, 0, amt, 0n);
    });
  });
});
