/**
 * The SDK against the real contract on the in-process chain: its hashes equal the contract's view
 * functions, and every record and argument list it builds is accepted (and bad ones rejected).
 */
import { expect } from "chai";
import fc from "fast-check";
import { ethers, network } from "hardhat";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import type { ParsecChannels, ParsecEncoding } from "../../typechain-types";
import {
  ChannelLedger,
  ReorderWindow,
  TransferVerifier,
  ZERO_HASH,
  chainProof,
  channelIdOf,
  checkpointArgs,
  checkpointBatchArgs,
  proveHeadsArgs,
  codecs,
  commitmentOf,
  cooperativeCloseArgs,
  cosignCheckpoint,
  encodeLocks,
  encodeTransferBody,
  equivocationArgs,
  decodeTransferBody,
  exportEvidence,
  extendChainArgs,
  fromHex,
  hashCheckpoint,
  hashCooperativeClose,
  hashTransfer,
  hashWithdraw,
  hashlockOf,
  headProof,
  ledgerFromEvidence,
  locksRootOf,
  onchainHeads,
  onchainStateOf,
  parseEvidence,
  parsecDomain,
  planDispute,
  proveHeadArgs,
  resolveLocksArgs,
  resolveLocksOutcome,
  serializeEvidence,
  settleArgsFromLedger,
  settlementOutcome,
  signCheckpoint,
  signCooperativeClose,
  signTransfer,
  signTransferUnjournaled,
  signWithdraw,
  toHex,
  toLock,
  toTransfer,
  transferMessage,
  typedDataDigest,
  journaledTransferSigner,
  memoryJournal,
  walletSigner,
  withdrawArgs,
  type Hash,
  type HeadPair,
  type Hex,
  type Lock,
  type OnchainHeads,
  type SignedCheckpoint,
  type PayerIndex,
  type VerifiedTransfer,
} from "../../sdk";
import { expectCode, makeChannel, pays, signChain } from "./helpers";

const ETH = 10n ** 18n;

async function deploy() {
  const [p0, p1, outsider] = await ethers.getSigners();
  const factory = await ethers.getContractFactory("ParsecChannels");
  const contract = (await factory.deploy()) as unknown as ParsecChannels;
  await contract.waitForDeployment();
  const encoding = (await (
    await ethers.getContractFactory("ParsecEncoding")
  ).deploy()) as unknown as ParsecEncoding;
  await encoding.waitForDeployment();
  const chainId = (await ethers.provider.getNetwork()).chainId;
  const domain = parsecDomain(chainId, (await contract.getAddress()) as Hex);
  return { contract, encoding, domain, p0, p1, outsider };
}

/** Opens a channel between Hardhat accounts #0 and #1 with 5 ETH each. */
async function openChannel(nonce = 1n) {
  const env = await loadFixture(deploy);
  const ch = makeChannel({ domain: env.domain, nonce });
  expect(ch.params.participant0).to.equal(env.p0.address);
  await env.contract.connect(env.p0).openEth(env.p1.address, 3600, nonce, { value: 5n * ETH });
  await env.contract.connect(env.p1).deposit(ch.channelId, 1, { value: 5n * ETH });
  const ledger = new ChannelLedger({
    domain: ch.domain,
    params: ch.params,
    deposit0: 5n * ETH,
    deposit1: 5n * ETH,
  });
  return { ...env, ch, ledger };
}

/** The contract's state of a channel as the SDK reads it: checkpoint word, proven words, and the record. */
async function readState(contract: ParsecChannels, channelId: Hash) {
  const state = await contract.channelState(channelId);
  const proven = await contract.provenHeadsOf(channelId);
  return { ...onchainStateOf(state, proven), record: state.record };
}

/** The low 224 bits of a head, as a proven word keeps it. */
const low224 = (h: Hash): bigint => BigInt(h) & ((1n << 224n) - 1n);

/** A checkpoint both participants sign at payer 0's seq `seq0` and payer 1's seq `seq1` of the ledger. */
async function checkpointAt(
  ch: ReturnType<typeof makeChannel>,
  ledger: ChannelLedger,
  seq0: number,
  seq1: number,
): Promise<SignedCheckpoint> {
  const c = {
    channelId: ch.channelId,
    seq0,
    head0: seq0 === 0 ? ZERO_HASH : ledger.transfer(0, seq0).hash,
    seq1,
    head1: seq1 === 0 ? ZERO_HASH : ledger.transfer(1, seq1).hash,
  };
  const [sig0, sig1] = await Promise.all([
    signCheckpoint(ch.signers[0], ch.domain, c),
    signCheckpoint(ch.signers[1], ch.domain, c),
  ]);
  return { ...c, sig0, sig1 };
}

function applyAll(ledger: ChannelLedger, transfers: readonly VerifiedTransfer[]): void {
  for (const t of transfers) ledger.apply(t);
}

const hex32 = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => toHex(b) as Hash);
const uint = (bits: number) => fc.bigInt({ min: 0n, max: (1n << BigInt(bits)) - 1n });

describe("sdk ↔ ParsecChannels", function () {
  this.timeout(300_000);

  it("SDK hashes equal the contract's view functions (random values)", async () => {
    const { contract, encoding, domain } = await loadFixture(deploy);
    const ch0 = makeChannel({ domain });
    await fc.assert(
      fc.asyncProperty(
        hex32,
        fc.constantFrom<PayerIndex>(0, 1),
        fc.integer({ min: 1, max: 2 ** 32 - 1 }),
        fc.integer({ min: 0, max: 3 }),
        uint(128),
        uint(128),
        uint(128),
        hex32,
        hex32,
        uint(64),
        hex32,
        async (channelId, payer, seq, kind, amount, paid, locked, root, hashlock, expiry, prev) => {
          const t = toTransfer({
            channelId,
            payer,
            seq,
            kind,
            amount: amount === 0n ? 1n : amount,
            paidTotal: paid,
            lockedTotal: locked,
            locksRoot: root,
            hashlock:
              kind === 0 ? ZERO_HASH : hashlock === ZERO_HASH ? (("0x" + "01".repeat(32)) as Hash) : hashlock,
            expiry: kind === 0 ? 0n : expiry === 0n ? 1n : expiry,
            invoiceId: root,
            prev,
          });
          const h = hashTransfer(t);
          expect(await encoding.hashTransfer(channelId, payer, toHex(encodeTransferBody(t)))).to.equal(h);
          expect(await contract.typedDataDigest(h)).to.equal(typedDataDigest(domain, h));
          const c = { channelId, seq0: seq, head0: h, seq1: seq >>> 1, head1: prev };
          expect(await encoding.hashCheckpoint(channelId, c.seq0, c.head0, c.seq1, c.head1)).to.equal(
            hashCheckpoint(c),
          );
          const close = { channelId, seq0: seq, seq1: seq >>> 1, balance0: paid, balance1: locked, expiry };
          const noSig = ("0x" + "00".repeat(65)) as Hex;
          const [, terms] = cooperativeCloseArgs(ch0.params, close, noSig, noSig);
          expect(await encoding.hashCooperativeClose(channelId, terms)).to.equal(hashCooperativeClose(close));
          const w = { channelId, nonce: seq, amount0: amount, amount1: paid, expiry };
          expect(await encoding.hashWithdraw(channelId, w.nonce, w.amount0, w.amount1, w.expiry)).to.equal(
            hashWithdraw(w),
          );
          expect(await encoding.commitmentOf(h, prev)).to.equal(commitmentOf(h, prev));
          const locks: Lock[] = [
            { amount: amount, expiry, hashlock: root },
            { amount: locked, expiry: 1n, hashlock: prev },
          ];
          expect(await encoding.locksRootOf(toHex(encodeLocks(locks)))).to.equal(locksRootOf(locks));
          expect(await encoding.locksRootOf("0x")).to.equal(locksRootOf([]));
        },
      ),
      { numRuns: 25 },
    );
    const ch = makeChannel({ domain });
    expect(await contract.channelIdOf(ch.params)).to.equal(channelIdOf(domain, ch.params));
  });

  it("accepts an SDK checkpoint record, then a newer head proof from the payee", async () => {
    const { contract, ch, ledger, p1 } = await openChannel();
    applyAll(ledger, signChain(ch, 0, pays(3, ETH / 10n)).transfers);
    applyAll(ledger, signChain(ch, 1, pays(2, ETH / 100n)).transfers);
    const signed = await cosignCheckpoint(ledger, ch.signers[0], ch.signers[1]);
    await expect(contract.checkpoint(...checkpointArgs(ch.params, signed))).to.emit(contract, "Checkpointed");
    let s = await readState(contract, ch.channelId);
    expect([s.seq0, s.seq1]).to.deep.equal([3, 2]);
    expect(s.commitment).to.equal(commitmentOf(signed.head0, signed.head1));
    expect(s.record.hasProofs).to.equal(false);
    const checkpointPair: HeadPair = {
      seq0: 3,
      head0: signed.head0,
      seq1: 2,
      head1: signed.head1,
    };
    const heads = onchainHeads(ledger, s);
    expect(heads).to.deep.equal({ ...checkpointPair, checkpoint: checkpointPair });

    // Payer 0 pays twice more; its payee (P1) proves the head.
    applyAll(
      ledger,
      signChain(
        ch,
        0,
        [
          { kind: "PAY", amount: 1n },
          { kind: "PAY", amount: 2n },
        ],
        ledger.state(0),
      ).transfers,
    );
    const proof = headProof(ledger, 0, heads);
    await expect(contract.connect(p1).proveHead(...proveHeadArgs(proof)))
      .to.emit(contract, "HeadProved")
      .withArgs(ch.channelId, 0, 5);
    s = await readState(contract, ch.channelId);
    // The checkpoint word stays; payer 0's proven word holds seq 5 and the low 224 bits of its head.
    expect([s.seq0, s.seq1]).to.deep.equal([3, 2]);
    expect(s.commitment).to.equal(commitmentOf(signed.head0, signed.head1));
    expect(s.proven).to.deep.equal([
      { seq: 5, head224: low224(ledger.state(0).head) },
      { seq: 0, head224: 0n },
    ]);
    expect(s.record.hasProofs).to.equal(true);
    expect(onchainHeads(ledger, s)).to.deep.equal({
      seq0: 5,
      head0: ledger.state(0).head,
      seq1: 2,
      head1: signed.head1,
      checkpoint: checkpointPair,
    });

    // The same record twice is stale; a checkpoint with a forged signature is rejected.
    await expect(contract.connect(p1).proveHead(...proveHeadArgs(proof))).to.be.revertedWithCustomError(
      contract,
      "EntryRejected",
    );
    const forged = { ...(await cosignCheckpoint(ledger, ch.signers[0], ch.signers[1])) };
    const bad = { ...forged, sig1: forged.sig0 };
    await expect(contract.checkpoint(...checkpointArgs(ch.params, bad))).to.be.revertedWithCustomError(
      contract,
      "EntryRejected",
    );

    // Payer 1 pays once more; a checkpoint at (4, 3) lands: newer than the checkpoint word, but below
    // payer 0's proven head, which stays its on-chain head.
    applyAll(ledger, signChain(ch, 1, [{ kind: "PAY", amount: 3n }], ledger.state(1)).transfers);
    const below = await checkpointAt(ch, ledger, 4, 3);
    await expect(contract.checkpoint(...checkpointArgs(ch.params, below)))
      .to.emit(contract, "Checkpointed")
      .withArgs(ch.channelId, 4, 3);
    s = await readState(contract, ch.channelId);
    expect([s.seq0, s.seq1, s.commitment]).to.deep.equal([4, 3, commitmentOf(below.head0, below.head1)]);
    expect(s.proven[0]).to.deep.equal({ seq: 5, head224: low224(ledger.state(0).head) });
    const after = onchainHeads(ledger, s);
    expect(after).to.deep.equal({
      seq0: 5,
      head0: ledger.state(0).head,
      seq1: 3,
      head1: ledger.state(1).head,
      checkpoint: { seq0: 4, head0: below.head0, seq1: 3, head1: below.head1 },
    });
    // Nothing newer to prove for payer 0.
    expectCode(() => headProof(ledger, 0, after), "Stale");

    // Settling from the ledger names payer 0's proven head, payer 1's checkpoint head and the checkpoint.
    await contract.connect(p1).close(ch.params);
    await time.increase(3601);
    const expected = ledger.settlement();
    const args = settleArgsFromLedger(ledger, after);
    expect([args[3], args[4]]).to.deep.equal([below.head0, below.head1]);
    await expect(contract.settle(...args))
      .to.emit(contract, "ChannelSettled")
      .withArgs(ch.channelId, expected.payout0, expected.payout1, expected.pot0, expected.pot1);
  });

  it("accepts SDK-built checkpoint and head-proof batches, skipping the bad entry", async () => {
    const { contract, domain, p0, p1 } = await loadFixture(deploy);
    const channels = [11n, 12n, 13n].map((nonce) => makeChannel({ domain, nonce }));
    const ledgers = channels.map((ch) => new ChannelLedger({ domain, params: ch.params }));
    for (const [i, ch] of channels.entries()) {
      await contract.connect(p0).openEth(p1.address, 3600, ch.params.nonce, { value: ETH });
      applyAll(ledgers[i], signChain(ch, 0, pays(i + 1, 1000n)).transfers);
    }
    const signed = await Promise.all(
      ledgers.map((l, i) => cosignCheckpoint(l, channels[i].signers[0], channels[i].signers[1])),
    );
    const entries = channels.map((ch, i) => ({ params: ch.params, checkpoint: signed[i] }));
    entries[1] = { ...entries[1], checkpoint: { ...signed[1], sig1: signed[1].sig0 } };
    const tx = contract.checkpointBatch(...checkpointBatchArgs(entries));
    await expect(tx).to.emit(contract, "CheckpointSkipped").withArgs(channels[1].channelId, 3);
    for (const [i, ch] of channels.entries()) {
      const s = await readState(contract, ch.channelId);
      expect(s.seq0).to.equal(i === 1 ? 0 : i + 1);
    }
    // Payer 0 pays once more everywhere; P1 proves all heads in one transaction.
    const records = ledgers.map((l, i) => {
      applyAll(l, signChain(channels[i], 0, [{ kind: "PAY", amount: 1n }], l.state(0)).transfers);
      return l;
    });
    const proofs = await Promise.all(
      records.map(async (l, i) =>
        headProof(l, 0, onchainHeads(l, await readState(contract, channels[i].channelId))),
      ),
    );
    await expect(contract.connect(p1).proveHeads(...proveHeadsArgs(proofs))).to.not.emit(
      contract,
      "HeadProofSkipped",
    );
    for (const [i, ch] of channels.entries()) {
      const s = await readState(contract, ch.channelId);
      // The checkpoint word stays where the checkpoints left it; the proven word moved on.
      expect(s.seq0).to.equal(i === 1 ? 0 : i + 1);
      expect(s.proven[0]).to.deep.equal({ seq: i + 2, head224: low224(ledgers[i].state(0).head) });
      expect(onchainHeads(ledgers[i], s).seq0).to.equal(i + 2);
    }
  });

  it("accepts a chain proof in pieces with every kind, and settles exactly as settlementOutcome", async () => {
    const { contract, ch, ledger, p0, p1 } = await openChannel(2n);
    const now = BigInt(await time.latest());
    const preimage = ("0x" + "42".repeat(32)) as Hash;
    const hashlock = hashlockOf(preimage);
    const expiry = now + 600n;
    const lockA: Lock = { amount: ETH / 4n, expiry, hashlock };
    const lockB: Lock = { amount: ETH / 8n, expiry, hashlock: hashlockOf(("0x" + "43".repeat(32)) as Hash) };
    const first = signChain(ch, 0, [
      ...pays(4, ETH / 100n),
      { kind: "LOCK", ...lockA },
      { kind: "LOCK", ...lockB },
      { kind: "UNLOCK", lock: lockA },
      { kind: "LOCK", amount: ETH / 16n, expiry, hashlock },
    ]);
    applyAll(ledger, first.transfers);
    await time.increaseTo(expiry + 1n);
    const later = signChain(
      ch,
      0,
      [{ kind: "CANCEL", lock: lockB }, ...pays(3, ETH / 1000n)],
      ledger.state(0),
    );
    for (const t of later.transfers) ledger.apply(t, { now: expiry + 1n });
    applyAll(ledger, signChain(ch, 1, pays(5, ETH / 50n)).transfers);

    let heads: OnchainHeads = onchainHeads(ledger, await readState(contract, ch.channelId));
    for (const payer of [0, 1] as const) {
      const pieces = chainProof(ledger, payer, heads, { maxTransfersPerPiece: 3 });
      expect(pieces.length).to.equal(Math.ceil(ledger.state(payer).seq / 3));
      for (const args of pieces)
        await expect(contract.extendChain(...args)).to.emit(contract, "ChainExtended");
      heads = onchainHeads(ledger, await readState(contract, ch.channelId));
    }
    expect(heads.seq0).to.equal(12);
    expect(heads.seq1).to.equal(5);

    await contract.connect(p0).close(ch.params);
    await time.increase(3601);
    const expected = settlementOutcome({
      deposit0: 5n * ETH,
      deposit1: 5n * ETH,
      paid0: ledger.state(0).paidTotal,
      paid1: ledger.state(1).paidTotal,
      locked0: ledger.state(0).lockedTotal,
      locked1: ledger.state(1).lockedTotal,
    });
    expect(expected).to.deep.equal(ledger.settlement());
    await expect(contract.settle(...settleArgsFromLedger(ledger, heads)))
      .to.emit(contract, "ChannelSettled")
      .withArgs(ch.channelId, expected.payout0, expected.payout1, expected.pot0, expected.pot1);

    // The one pending lock of payer 0 (ETH/16 under `hashlock`) goes to the payee with the preimage... but
    // it expired already, so without a timely registration it returns to the payer.
    const locks = ledger.state(0).locks;
    expect(locks).to.have.length(1);
    const outcome = resolveLocksOutcome(locks, expected.pot0, () => false, BigInt(await time.latest()) + 1n);
    await expect(contract.resolveLocks(...resolveLocksArgs(ch.params, 0, locks, [preimage])))
      .to.emit(contract, "LocksResolved")
      .withArgs(ch.channelId, 0, outcome.resolved, outcome.toPayee, outcome.toPayer);
    expect([outcome.resolved, outcome.open, outcome.toPayee]).to.deep.equal([1n, [], 0n]);
    void p1;
  });

  it("pays a lock to the payee when the preimage comes in time", async () => {
    const { contract, ch, ledger, p0 } = await openChannel(3n);
    const now = BigInt(await time.latest());
    const preimage = ("0x" + "77".repeat(32)) as Hash;
    const lock = toLock({ amount: ETH / 2n, expiry: now + 100_000n, hashlock: hashlockOf(preimage) });
    applyAll(
      ledger,
      signChain(ch, 0, [
        { kind: "PAY", amount: ETH },
        { kind: "LOCK", ...lock },
      ]).transfers,
    );
    const heads = onchainHeads(ledger, await readState(contract, ch.channelId));
    for (const args of chainProof(ledger, 0, heads)) await contract.extendChain(...args);
    await contract.connect(p0).close(ch.params);
    await time.increase(3601);
    const after = onchainHeads(ledger, await readState(contract, ch.channelId));
    await contract.settle(...settleArgsFromLedger(ledger, after));
    const pot = ledger.settlement().pot0;
    expect(pot).to.equal(ETH / 2n);
    const outcome = resolveLocksOutcome(ledger.state(0).locks, pot, () => true);
    await expect(contract.resolveLocks(...resolveLocksArgs(ch.params, 0, ledger.state(0).locks, [preimage])))
      .to.emit(contract, "LocksResolved")
      .withArgs(ch.channelId, 0, outcome.resolved, outcome.toPayee, 0n);
    expect(outcome.resolved).to.equal(1n);
  });

  it("a chain proof from below the on-chain head lands after the payee moved the head", async () => {
    const { contract, ch, ledger, p0, p1 } = await openChannel(9n);
    applyAll(ledger, signChain(ch, 0, pays(2, ETH / 100n)).transfers);
    applyAll(ledger, signChain(ch, 1, pays(2, ETH / 100n)).transfers);
    const cp = await cosignCheckpoint(ledger, ch.signers[0], ch.signers[1]);
    await contract.checkpoint(...checkpointArgs(ch.params, cp));
    applyAll(ledger, signChain(ch, 0, pays(6, 1n), ledger.state(0)).transfers);
    await contract.connect(p0).close(ch.params);

    // P0 builds its evidence from the checkpoint (seq 2) to 8, in one piece from genesis…
    const before = onchainHeads(ledger, await readState(contract, ch.channelId));
    expect(before.seq0).to.equal(2);
    const [fromGenesis] = chainProof(ledger, 0, before, { fromSeq: 0 });
    expect(fromGenesis[2]).to.equal("0x");
    expect(fromGenesis[3]).to.equal(cp.head1);
    // …and P1, payee of that chain, moves payer 0's head to seq 5 first.
    await contract.connect(p1).proveHead(...proveHeadArgs(headProof(ledger, 0, before, 5)));
    let s = await readState(contract, ch.channelId);
    const moved = onchainHeads(ledger, s);
    expect([moved.seq0, moved.head0]).to.deep.equal([5, ledger.transfer(0, 5).hash]);
    expect(moved.checkpoint).to.deep.equal({ seq0: 2, head0: cp.head0, seq1: 2, head1: cp.head1 });

    // A piece from the checkpoint head (seq 2, below the on-chain seq 5) still lands, in two pieces of 2
    // new transfers each: the first re-derives 3..5 and adds 6..7, the second continues from 7.
    const pieces = chainProof(ledger, 0, moved, { fromSeq: 2, maxTransfersPerPiece: 2 });
    expect(pieces).to.have.length(2);
    const startSeq = (args: (typeof pieces)[number]) =>
      args[2] === "0x" ? 0 : decodeTransferBody(fromHex(args[2])).seq;
    expect(pieces.map(startSeq)).to.deep.equal([2, 7]);
    await expect(contract.connect(p0).extendChain(...pieces[0]))
      .to.emit(contract, "ChainExtended")
      .withArgs(ch.channelId, 0, 5, 7);
    // The piece P0 built before the head moved runs through seq 5 and beyond 7: it lands as well.
    await expect(contract.connect(p0).extendChain(...fromGenesis))
      .to.emit(contract, "ChainExtended")
      .withArgs(ch.channelId, 0, 7, 8);
    // The second piece now ends at the on-chain head: stale.
    await expect(contract.connect(p0).extendChain(...pieces[1]))
      .to.be.revertedWithCustomError(contract, "EntryRejected")
      .withArgs(ch.channelId, 4);
    s = await readState(contract, ch.channelId);
    expect(s.proven[0]).to.deep.equal({ seq: 8, head224: low224(ledger.state(0).head) });
    // A start above the on-chain seq is refused by the SDK and the contract alike.
    const after = onchainHeads(ledger, s);
    expect(() =>
      chainProof(ledger, 0, { ...after, seq0: 5, head0: ledger.transfer(0, 5).hash }, { fromSeq: 6 }),
    ).to.throw(RangeError);
    applyAll(ledger, signChain(ch, 1, pays(2, 1n), ledger.state(1)).transfers);
    const ahead = extendChainArgs({
      params: ch.params,
      payer: 1,
      startBody: ledger.transfer(1, 3),
      otherHead: cp.head0,
      startLocks: [],
      transfers: [ledger.transfer(1, 4)],
    });
    await expect(contract.connect(p1).extendChain(...ahead)).to.be.revertedWithCustomError(
      contract,
      "StateMismatch",
    );

    // Payer 1's on-chain head is the checkpoint's: a piece from genesis names the checkpoint's head0.
    const [p1Piece] = chainProof(ledger, 1, after, { fromSeq: 0 });
    expect(p1Piece[3]).to.equal(cp.head0);
    await expect(contract.connect(p1).extendChain(...p1Piece))
      .to.emit(contract, "ChainExtended")
      .withArgs(ch.channelId, 1, 2, 4);

    // settle names both proven heads and the checkpoint's heads.
    const final = onchainHeads(ledger, await readState(contract, ch.channelId));
    expect([final.seq0, final.seq1]).to.deep.equal([8, 4]);
    await time.increase(3601);
    const expected = ledger.settlement();
    await expect(contract.settle(...settleArgsFromLedger(ledger, final)))
      .to.emit(contract, "ChannelSettled")
      .withArgs(ch.channelId, expected.payout0, expected.payout1, expected.pot0, expected.pot1);
  });

  it("resolves locks one by one over two calls exactly as resolveLocksOutcome", async () => {
    const { contract, ch, ledger, p0 } = await openChannel(10n);
    const now = BigInt(await time.latest());
    const preimageA = ("0x" + "a1".repeat(32)) as Hash;
    const lockA = toLock({ amount: ETH / 4n, expiry: now + 200_000n, hashlock: hashlockOf(preimageA) });
    const lockB = toLock({
      amount: ETH / 8n,
      expiry: now + 5_000n,
      hashlock: hashlockOf(("0x" + "b2".repeat(32)) as Hash),
    });
    const lockC = toLock({
      amount: ETH / 16n,
      expiry: now + 100_000n,
      hashlock: hashlockOf(("0x" + "c3".repeat(32)) as Hash),
    });
    applyAll(
      ledger,
      signChain(ch, 0, [
        { kind: "PAY", amount: ETH },
        { kind: "LOCK", ...lockA },
        { kind: "LOCK", ...lockB },
        { kind: "LOCK", ...lockC },
      ]).transfers,
    );
    const heads = onchainHeads(ledger, await readState(contract, ch.channelId));
    for (const args of chainProof(ledger, 0, heads)) await contract.extendChain(...args);
    await contract.connect(p0).close(ch.params);
    await time.increase(3601);
    await contract.settle(
      ...settleArgsFromLedger(ledger, onchainHeads(ledger, await readState(contract, ch.channelId))),
    );
    const locks = ledger.state(0).locks;
    const pot = ledger.settlement().pot0;
    expect(pot).to.equal(lockA.amount + lockB.amount + lockC.amount);
    expect((await contract.pendingLocksOf(ch.channelId)).pot0).to.equal(pot);
    const preimages = locks.map((l) => (l.hashlock === lockA.hashlock ? preimageA : null));
    const revealed = (l: Lock) => l.hashlock === lockA.hashlock;

    // First call after B expired: A (preimage shown in time) → payee, B → payer, C stays open.
    const t1 = now + 6_000n;
    const first = resolveLocksOutcome(locks, pot, revealed, t1);
    expect(first.open).to.deep.equal([locks.findIndex((l) => l.hashlock === lockC.hashlock)]);
    expect([first.toPayee, first.toPayer, first.uncovered]).to.deep.equal([lockA.amount, lockB.amount, 0n]);
    await time.setNextBlockTimestamp(t1);
    await expect(contract.resolveLocks(...resolveLocksArgs(ch.params, 0, locks, preimages)))
      .to.emit(contract, "LocksResolved")
      .withArgs(ch.channelId, 0, first.resolved, first.toPayee, first.toPayer);
    const mid = await contract.pendingLocksOf(ch.channelId);
    expect(mid.resolved0).to.equal(first.resolved);

    // Nothing more is known before C expires: the SDK resolves nothing, the contract reverts.
    const idle = resolveLocksOutcome(locks, mid.pot0, revealed, now + 50_000n, mid.resolved0);
    expect([idle.resolved, idle.uncovered]).to.deep.equal([0n, 0n]);
    await time.setNextBlockTimestamp(now + 50_000n);
    await expect(contract.resolveLocks(...resolveLocksArgs(ch.params, 0, locks, preimages)))
      .to.be.revertedWithCustomError(contract, "NoLockResolvable")
      .withArgs(ch.channelId, 0);

    // After C's expiry the second call returns it to the payer; A and B are not paid twice.
    const t2 = lockC.expiry + 1n;
    const second = resolveLocksOutcome(locks, mid.pot0, revealed, t2, mid.resolved0);
    expect([second.toPayee, second.toPayer, second.open]).to.deep.equal([0n, lockC.amount, []]);
    expect(first.resolved | second.resolved).to.equal(7n);
    await time.setNextBlockTimestamp(t2);
    await expect(contract.resolveLocks(...resolveLocksArgs(ch.params, 0, locks, [])))
      .to.emit(contract, "LocksResolved")
      .withArgs(ch.channelId, 0, second.resolved, second.toPayee, second.toPayer);
    expect((await contract.pendingLocksOf(ch.channelId)).pot0).to.equal(0n);
    await expect(
      contract.resolveLocks(...resolveLocksArgs(ch.params, 0, locks, [])),
    ).to.be.revertedWithCustomError(contract, "NoPendingLocks");
  });

  it("a dispute from an exported evidence file brings the contract to the newest state", async () => {
    const { contract, ch, ledger, p0, p1 } = await openChannel(4n);
    applyAll(ledger, signChain(ch, 0, pays(2, ETH / 10n)).transfers);
    applyAll(ledger, signChain(ch, 1, pays(2, ETH / 10n)).transfers);
    const cp = await cosignCheckpoint(ledger, ch.signers[0], ch.signers[1]);
    applyAll(ledger, signChain(ch, 0, pays(7, 1n), ledger.state(0)).transfers);
    applyAll(ledger, signChain(ch, 1, pays(4, 1n), ledger.state(1)).transfers);

    const file = serializeEvidence(exportEvidence(ledger, { exportedBy: "wallet", checkpoint: cp }));
    const evidence = ledgerFromEvidence(parseEvidence(file));
    await contract.connect(p1).close(ch.params);
    const steps = planDispute(evidence, await readState(contract, ch.channelId), {
      sender: p0.address,
      maxTransfersPerPiece: 4,
    });
    // checkpoint, head proof of payer 1 (P0 is its payee), payer 0's chain in two pieces
    expect(steps.map((s) => s.method)).to.deep.equal([
      "checkpoint",
      "extendChain",
      "extendChain",
      "proveHead",
    ]);
    for (const step of steps) {
      if (step.method === "checkpoint") await contract.connect(p0).checkpoint(...step.args);
      else if (step.method === "proveHead") await contract.connect(p0).proveHead(...step.args);
      else await contract.connect(p0).extendChain(...step.args);
    }
    const s = await readState(contract, ch.channelId);
    // The checkpoint word holds the checkpoint; the proven words hold the newest heads.
    expect([s.seq0, s.seq1]).to.deep.equal([2, 2]);
    expect(s.commitment).to.equal(commitmentOf(cp.head0, cp.head1));
    expect(s.proven).to.deep.equal([
      { seq: 9, head224: low224(ledger.state(0).head) },
      { seq: 6, head224: low224(ledger.state(1).head) },
    ]);
    const heads = onchainHeads(ledger, s);
    expect([heads.seq0, heads.head0, heads.seq1, heads.head1]).to.deep.equal([
      9,
      ledger.state(0).head,
      6,
      ledger.state(1).head,
    ]);
    expect(planDispute(evidence, s)).to.deep.equal([]);
  });

  it("accepts cooperative close and withdraw signed through the SDK", async () => {
    const { contract, ch, domain, ledger, p1 } = await openChannel(5n);
    const w = {
      channelId: ch.channelId,
      nonce: 0,
      amount0: ETH,
      amount1: 2n * ETH,
      expiry: BigInt(await time.latest()) + 1000n,
    };
    const [w0, w1] = await Promise.all([
      signWithdraw(ch.signers[0], domain, w),
      signWithdraw(ch.signers[1], domain, w),
    ]);
    await expect(contract.withdraw(...withdrawArgs(ch.params, w, w0, w1))).to.emit(contract, "Withdrawn");
    // A replay of the same withdrawal fails on its nonce.
    await expect(contract.withdraw(...withdrawArgs(ch.params, w, w0, w1))).to.be.revertedWithCustomError(
      contract,
      "WithdrawNonceMismatch",
    );
    const cosign = async (c: Parameters<typeof signCooperativeClose>[2]) =>
      Promise.all([
        signCooperativeClose(ch.signers[0], domain, c),
        signCooperativeClose(ch.signers[1], domain, c),
      ]);
    const now = BigInt(await time.latest());
    // Signed at seqs (0, 0); then payer 0 pays once and its payee proves it: the close is stale.
    const old = {
      channelId: ch.channelId,
      seq0: 0,
      seq1: 0,
      balance0: 4n * ETH,
      balance1: 3n * ETH,
      expiry: now + 3600n,
    };
    const [o0, o1] = await cosign(old);
    applyAll(ledger, signChain(ch, 0, [{ kind: "PAY", amount: ETH }]).transfers);
    const heads = onchainHeads(ledger, await readState(contract, ch.channelId));
    await contract.connect(p1).proveHead(...proveHeadArgs(headProof(ledger, 0, heads)));
    await expect(contract.cooperativeClose(...cooperativeCloseArgs(ch.params, old, o0, o1)))
      .to.be.revertedWithCustomError(contract, "CooperativeCloseStale")
      .withArgs(0, 0, 1);

    // Bound to the ledger's seqs now; expired once the chain's time passes its expiry.
    const close = {
      channelId: ch.channelId,
      seq0: ledger.state(0).seq,
      seq1: ledger.state(1).seq,
      balance0: 3n * ETH,
      balance1: 4n * ETH,
      expiry: now + 3600n,
    };
    const [c0, c1] = await cosign(close);
    await expect(
      contract.cooperativeClose(...cooperativeCloseArgs(ch.params, close, c1, c0)),
    ).to.be.revertedWithCustomError(contract, "InvalidSignature");
    const short = { ...close, expiry: BigInt(await time.latest()) + 5n };
    const [s0, s1] = await cosign(short);
    await time.increaseTo(short.expiry + 1n);
    await expect(contract.cooperativeClose(...cooperativeCloseArgs(ch.params, short, s0, s1)))
      .to.be.revertedWithCustomError(contract, "CooperativeCloseExpired")
      .withArgs(short.expiry);
    const unbalanced = { ...close, balance1: 5n * ETH };
    const [u0, u1] = await cosign(unbalanced);
    await expect(
      contract.cooperativeClose(...cooperativeCloseArgs(ch.params, unbalanced, u0, u1)),
    ).to.be.revertedWithCustomError(contract, "BalancesMismatch");
    await expect(contract.cooperativeClose(...cooperativeCloseArgs(ch.params, close, c0, c1)))
      .to.emit(contract, "ChannelClosedCooperatively")
      .withArgs(ch.channelId, 3n * ETH, 4n * ETH);
  });

  it("the reorder window's equivocation proof is accepted by proveEquivocation", async () => {
    const { contract, ch, domain, outsider } = await openChannel(6n);
    const { transfers } = signChain(ch, 0, pays(3, ETH / 10n));
    const forkBase = signChain(ch, 0, pays(1, ETH / 10n)).state;
    const fork = signChain(ch, 0, [{ kind: "PAY", amount: 1n }], forkBase).transfers[0];
    const window = new ReorderWindow<VerifiedTransfer>({ capacity: 8 });
    const events = [...transfers, fork].flatMap((t) => window.push(t));
    const eq = events.find((e) => e.type === "equivocation");
    if (!eq || eq.type !== "equivocation") throw new Error("no equivocation reported");
    expect(eq.proof.seq).to.equal(2);
    await expect(
      contract.connect(outsider).proveEquivocation(...equivocationArgs(domain, ch.params, eq.proof)),
    )
      .to.emit(contract, "EquivocationProved")
      .withArgs(ch.channelId, 0, 2, 10n * ETH);
  });

  it("signatures from an EIP-1193 wallet (eth_signTypedData_v4) equal local ones and are accepted", async () => {
    const { contract, ch, domain, p1 } = await openChannel(7n);
    const wallet = journaledTransferSigner(
      walletSigner(network.provider, ch.params.participant0),
      memoryJournal(),
    );
    const ledger = new ChannelLedger({ domain, params: ch.params, deposit0: 5n * ETH, deposit1: 5n * ETH });
    const local = signChain(ch, 0, pays(2, ETH / 10n)).transfers;
    for (const t of local) {
      const fromWallet = await signTransfer(wallet, domain, t);
      expect(fromWallet.signature).to.equal(t.signature);
      ledger.apply(fromWallet);
    }
    const heads = onchainHeads(ledger, await readState(contract, ch.channelId));
    await expect(contract.connect(p1).proveHead(...proveHeadArgs(headProof(ledger, 0, heads)))).to.emit(
      contract,
      "HeadProved",
    );

    // The native verifier agrees with the contract on the wire message of the same transfer.
    const verifier = new TransferVerifier({ domain });
    const wire = codecs().transfer.encode(
      transferMessage(domain, ledger.transfer(0, 2), ch.params.participant0),
    );
    expect(verifier.check(wire)).to.equal(0);
    expect(verifier.lastHash()).to.equal(ledger.transfer(0, 2).hash);
  });

  it("rejects what the SDK rejects: a transfer signed for another contract", async () => {
    const { contract, ch, domain } = await openChannel(8n);
    const elsewhere = makeChannel({
      domain: parsecDomain(domain.chainId, "0x000000000000000000000000000000000000dEaD"),
      nonce: 8n,
    });
    // Same channel params, signed in another domain: the contract's channel id differs, and even with
    // this channel's id the signature does not verify.
    const t = toTransfer({ ...signChain(elsewhere, 0, pays(1)).transfers[0], channelId: ch.channelId });
    const signedElsewhere = signTransferUnjournaled(ch.signers[0], elsewhere.domain, t);
    const ledger = new ChannelLedger({ domain, params: ch.params, verifySignature: "none" });
    ledger.apply(signedElsewhere);
    const heads = onchainHeads(ledger, await readState(contract, ch.channelId));
    const pieces = chainProof(ledger, 0, heads);
    await expect(contract.extendChain(...pieces[0])).to.be.revertedWithCustomError(
      contract,
      "InvalidSignature",
    );
    const strict = new ChannelLedger({ domain, params: ch.params });
    expect(() => strict.apply(signedElsewhere))
      .to.throw()
      .with.property("code", "BadSignature");
  });
});
