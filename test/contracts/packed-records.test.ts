// The packed calldata records of protocol §6, as the contract's readers see what the encoders wrote.
import { expect } from "chai";
import hre from "hardhat";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { concat, dataSlice, Signature } from "ethers";
import { channelId, hashlockOf, Kind, packLock, packParams, PayerChain, word } from "../helpers/kit";
import type { Params } from "../helpers/kit";
import {
  checkpointOf,
  deployBase,
  HEAD_PROOF_RECORD_LENGTH,
  headProofRecord,
  openEth,
  TRANSFER_BODY_LENGTH,
} from "./fixtures";

const { ethers } = hre;

async function withHarness() {
  const base = await deployBase();
  const harness = await ethers.deployContract("PackedRecordsHarness");
  return { ...base, harness, harnessAddress: await harness.getAddress() };
}

describe("PackedRecords: §6 layouts", () => {
  it("reads a SignedTransfer: the 189-byte body, then r, s, v", async () => {
    const { harness, alice, dom } = await loadFixture(withHarness);
    const chain = new PayerChain(alice, dom, word(7), 0);
    await chain.pay(5n);
    await chain.push(Kind.Lock, 2n ** 127n + 3n, hashlockOf(word(1)), 2n ** 63n + 1n, word(0xabc));
    const body = chain.bodies[1];
    const signed = chain.signed[1];
    expect(ethers.dataLength(signed)).to.equal(254);
    const read = await harness.readBody(signed, 0);
    expect([
      read.seq,
      read.kind,
      read.amount,
      read.paidTotal,
      read.lockedTotal,
      read.locksRoot,
      read.hashlock,
      read.expiry,
      read.invoiceId,
      read.prev,
    ]).to.deep.equal([
      BigInt(body.seq),
      BigInt(body.kind),
      body.amount,
      body.paidTotal,
      body.lockedTotal,
      body.locksRoot,
      body.hashlock,
      body.expiry,
      body.invoiceId,
      body.prev,
    ]);
    const sig = Signature.from(dataSlice(signed, TRANSFER_BODY_LENGTH));
    const s = await harness.readSignature(signed, TRANSFER_BODY_LENGTH);
    expect([s.r, s.s, s.v]).to.deep.equal([sig.r, sig.s, BigInt(sig.v)]);
    // the same body at an offset inside a longer buffer
    const inBatch = concat([chain.signed[0], signed]);
    expect((await harness.readBody(inBatch, 254)).amount).to.equal(body.amount);
  });

  it("reads a CheckpointRecord: PackedParams, then seq0 head0 seq1 head1, then two signatures", async () => {
    const b = await loadFixture(withHarness);
    const ch = await openEth(b);
    await ch.c0.pay(1n);
    await ch.c0.pay(1n);
    await ch.c1.pay(1n);
    const record = await checkpointOf(b, ch);
    const batch = concat([record, record]);
    expect(ethers.dataLength(record)).to.equal(274);
    const params = await b.harness.readParams(batch, 274);
    expect([
      params.participant0,
      params.participant1,
      params.asset,
      params.challengePeriod,
      params.nonce,
    ]).to.deep.equal([
      ch.params.participant0,
      ch.params.participant1,
      ch.params.asset,
      BigInt(ch.params.challengePeriod),
      ch.params.nonce,
    ]);
    // the id binds the reading contract's address
    expect(await b.harness.readChannelId(batch, 274)).to.equal(
      channelId(b.chainId, b.harnessAddress, ch.params),
    );
    expect(await b.harness.readParticipants(record, 0)).to.deep.equal([b.alice.address, b.bob.address]);
    expect(await b.harness.readAddress(record, 40)).to.equal(ethers.ZeroAddress);
    const heads = await b.harness.readCheckpointHeads(batch, 274 + 72);
    expect([heads.seq0, heads.head0, heads.seq1, heads.head1]).to.deep.equal([
      2n,
      ch.c0.head,
      1n,
      ch.c1.head,
    ]);
    expect(await b.harness.readUint32(record, 72 + 36)).to.equal(1n);
    const sig1 = await b.harness.readSignature(record, 72 + 72 + 65);
    expect(sig1.v === 27n || sig1.v === 28n).to.equal(true);
  });

  it("reads a HeadProofRecord and a Lock", async () => {
    const { harness, alice, bob, dom } = await loadFixture(withHarness);
    const p: Params = {
      participant0: alice.address,
      participant1: bob.address,
      asset: bob.address,
      challengePeriod: 7_200,
      nonce: 2n ** 64n - 1n,
    };
    const chain = new PayerChain(bob, dom, word(1), 1);
    await chain.pay(9n);
    const record = headProofRecord(p, 1, chain.signed[0]);
    expect(ethers.dataLength(record)).to.equal(HEAD_PROOF_RECORD_LENGTH);
    expect(ethers.dataSlice(record, 0, 72)).to.equal(packParams(p));
    const read = await harness.readParams(record, 0);
    expect([read.asset, read.challengePeriod, read.nonce]).to.deep.equal([
      bob.address,
      7_200n,
      2n ** 64n - 1n,
    ]);
    expect(ethers.dataSlice(record, 72, 73)).to.equal("0x01");
    expect((await harness.readBody(record, 73)).amount).to.equal(9n);
    const lock = await harness.readLock(
      concat([packLock(1n, 2n, word(3)), packLock(2n ** 128n - 1n, 2n ** 64n - 1n, word(4))]),
      56,
    );
    expect([lock.amount, lock.expiry, lock.hashlock]).to.deep.equal([
      2n ** 128n - 1n,
      2n ** 64n - 1n,
      word(4),
    ]);
  });
});
