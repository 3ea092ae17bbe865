/**
 * The SDK against the real contract on the in-process chain: its hashes equal the contract's view
 * functions, and every record and argument list it builds is accepted (and bad ones rejected).
 */
import { expect } from "chai";
import fc from "fast-check";
import { ethers, network } from "hardhat";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import type { ParsecChannels } from "../../typechain-types";
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
  exportEvidence,
  hashCheckpoint,
  hashCooperativeClose,
  hashTransfer,
  hashWithdraw,
  hashlockOf,
  headProof,
  ledgerFromEvidence,
  locksRootOf,
  onchainHeads,
  parseEvidence,
  parsecDomain,
  planDispute,
  proveHeadArgs,
  resolveLocksArgs,
  resolveLocksOutcome,
  serializeEvidence,
  settleArgsFromLedger,
  settlementOutcome,
  signCooperativeClose,
  signTransfer,
  signTransferSync,
  signWithdraw,
  toHex,
  toLock,
  toTransfer,
  transferMessage,
  typedDataDigest,
  walletSigner,
  withdrawArgs,
  type Hash,
  type Hex,
  type Lock,
  type OnchainHeads,
  type PayerIndex,
  type VerifiedTransfer,
} from "../../sdk";
import { makeChannel, pays, signChain } from "./helpers";

const ETH = 10n ** 18n;

async function deploy() {
  const [p0, p1, outsider] = await ethers.getSigners();
  const factory = await ethers.getContractFactory("ParsecChannels");
  const contract = (await factory.deploy()) as unknown as ParsecChannels;
  await contract.waitForDeployment();
  const chainId = (await ethers.provider.getNetwork()).chainId;
  const domain = parsecDomain(chainId, (await contract.getAddress()) as Hex);
  return { contract, domain, p0, p1, outsider };
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

async function readState(contract: ParsecChannels, channelId: Hash) {
  const [record, seq0, seq1, commitment] = await contract.channelState(channelId);
  return { record, seq0: Number(seq0), seq1: Number(seq1), commitment: BigInt(commitment) };
}

function applyAll(ledger: ChannelLedger, transfers: readonly VerifiedTransfer[]): void {
  for (const t of transfers) ledger.apply(t);
}

const hex32 = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => toHex(b) as Hash);
const uint = (bits: number) => fc.bigInt({ min: 0n, max: (1n << BigInt(bits)) - 1n });

describe("sdk ↔ ParsecChannels", function () {
  this.timeout(300_000);

  it("SDK hashes equal the contract's view functions (random values)", async () => {
    const { contract, domain } = await loadFixture(deploy);
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
          expect(await contract.hashTransfer(channelId, payer, toHex(encodeTransferBody(t)))).to.equal(h);
          expect(await contract.typedDataDigest(h)).to.equal(typedDataDigest(domain, h));
          const c = { channelId, seq0: seq, head0: h, seq1: seq >>> 1, head1: prev };
          expect(await contract.hashCheckpoint(channelId, c.seq0, c.head0, c.seq1, c.head1)).to.equal(
            hashCheckpoint(c),
          );
          expect(await contract.hashCooperativeClose(channelId, paid, locked)).to.equal(
            hashCooperativeClose({ channelId, balance0: paid, balance1: locked }),
          );
          const w = { channelId, nonce: seq, amount0: amount, amount1: paid, expiry };
          expect(await contract.hashWithdraw(channelId, w.nonce, w.amount0, w.amount1, w.expiry)).to.equal(
            hashWithdraw(w),
          );
          expect(await contract.commitmentOf(h, prev)).to.equal(commitmentOf(h, prev));
          const locks: Lock[] = [
            { amount: amount, expiry, hashlock: root },
            { amount: locked, expiry: 1n, hashlock: prev },
          ];
          expect(await contract.locksRootOf(toHex(encodeLocks(locks)))).to.equal(locksRootOf(locks));
          expect(await contract.locksRootOf("0x")).to.equal(locksRootOf([]));
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
    const heads = onchainHeads(ledger, s);

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
    await expect(contract.connect(p1).proveHead(...proveHeadArgs(proof))).to.emit(contract, "HeadProved");
    s = await readState(contract, ch.channelId);
    expect(s.seq0).to.equal(5);
    expect(s.commitment).to.equal(commitmentOf(ledger.state(0).head, ledger.state(1).head));

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
    for (const [i, ch] of channels.entries())
      expect((await readState(contract, ch.channelId)).seq0).to.equal(i + 2);
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
      .withArgs(ch.channelId, 0, outcome.toPayee, outcome.toPayer);
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
      .withArgs(ch.channelId, 0, outcome.toPayee, 0n);
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
    expect([s.seq0, s.seq1]).to.deep.equal([9, 6]);
    expect(s.commitment).to.equal(commitmentOf(ledger.state(0).head, ledger.state(1).head));
    expect(planDispute(evidence, s)).to.deep.equal([]);
  });

  it("accepts cooperative close and withdraw signed through the SDK", async () => {
    const { contract, ch, domain } = await openChannel(5n);
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
    const close = { channelId: ch.channelId, balance0: 4n * ETH, balance1: 3n * ETH };
    const [c0, c1] = await Promise.all([
      signCooperativeClose(ch.signers[0], domain, close),
      signCooperativeClose(ch.signers[1], domain, close),
    ]);
    await expect(
      contract.cooperativeClose(...cooperativeCloseArgs(ch.params, close, c1, c0)),
    ).to.be.revertedWithCustomError(contract, "InvalidSignature");
    await expect(contract.cooperativeClose(...cooperativeCloseArgs(ch.params, close, c0, c1)))
      .to.emit(contract, "ChannelClosedCooperatively")
      .withArgs(ch.channelId, 4n * ETH, 3n * ETH);
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
    const wallet = walletSigner(network.provider, ch.params.participant0);
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
    const signedElsewhere = signTransferSync(ch.signers[0], elsewhere.domain, t);
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
