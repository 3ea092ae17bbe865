// Early release of a lock the payee consents to (protocol §3 "CANCEL", §4.3, §6 CancelConsentRecord):
// `extendChainUsingConsentedCancels` counts a CANCEL before its lock's expiry, or of a secret registered in time,
// exactly when the payee signed a `CancelConsent` for that very CANCEL transfer. Everything else refuses.
import { expect } from "chai";
import hre from "hardhat";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { concat, parseEther, toBeHex, Wallet } from "ethers";
import type { Signer, TypedDataDomain } from "ethers";
import { EIP712_TYPES } from "../../sdk/src/eip712";
import {
  domain,
  hashlockOf,
  Kind,
  packBody,
  packLock,
  PayerChain,
  sigBytes,
  transferHash,
  word,
  ZERO32,
} from "../helpers/kit";
import type { Body, Hex } from "../helpers/kit";
import {
  checkpointAt,
  deployBase,
  head224,
  headAt,
  headProof,
  highS,
  now,
  openEth,
  settleArgs,
  stateOf,
  Status,
} from "./fixtures";
import type { Base, Channel } from "./fixtures";

const { ethers } = hre;
const SECRET = word(0x5ec2e7);
const HASHLOCK = hashlockOf(SECRET);
const LOCK = parseEther("0.25");
const CONSENT_RECORD_LENGTH = 69;

/** The payee's `CancelConsent` signature over `body` (a CANCEL of `payer`'s chain in channel `id`). */
async function signConsent(
  signer: Signer,
  dom: TypedDataDomain,
  id: string,
  payer: number,
  body: Body,
  over: Partial<{ amount: bigint; expiry: bigint; hashlock: string; transfer: string; payer: number }> = {},
): Promise<Hex> {
  const value = {
    channelId: id,
    payer,
    seq: body.seq,
    amount: body.amount,
    expiry: body.expiry,
    hashlock: body.hashlock,
    transfer: transferHash(id, payer, body),
    ...over,
  };
  return sigBytes(await signer.signTypedData(dom, { CancelConsent: [...EIP712_TYPES.CancelConsent] }, value));
}

/** A packed `CancelConsentRecord`: `seq:u32 signature:65`. */
function consentRecord(seq: number, sig: string): Hex {
  return concat([toBeHex(seq, 4), sig]) as Hex;
}

/** The packed pending-lock list of a chain after its transfer `seq`. */
function locksAt(chain: PayerChain, seq: number): Hex[] {
  let locks: Hex[] = [];
  for (const body of chain.bodies.slice(0, seq)) {
    const lock = packLock(body.amount, body.expiry, body.hashlock);
    if (body.kind === Kind.Lock) locks = [...locks, lock];
    if (body.kind === Kind.Unlock || body.kind === Kind.Cancel) {
      const i = locks.indexOf(lock);
      if (i >= 0) locks = locks.filter((_, j) => j !== i);
    }
  }
  return locks;
}

/** The arguments of `extendChain` for payer 0's transfers `fromSeq+1 .. toSeq` (no checkpoint on-chain). */
function pieceArgs(ch: Channel, fromSeq: number, toSeq: number, chain: PayerChain = ch.c0) {
  return [
    ch.params,
    0,
    fromSeq === 0 ? "0x" : packBody(chain.bodies[fromSeq - 1]),
    ZERO32,
    concat(locksAt(chain, fromSeq)),
    concat(chain.signed.slice(fromSeq, toSeq)),
  ] as const;
}

function extendWith(b: Base, ch: Channel, fromSeq: number, toSeq: number, consents: Hex[], from?: Signer) {
  const channels = from ? b.channels.connect(from) : b.channels;
  return channels.extendChainUsingConsentedCancels(...pieceArgs(ch, fromSeq, toSeq), concat(consents));
}

/**
 * Alice (payer 0) pays 0.1, locks LOCK to bob expiring in a day, and cancels it at once (seq 3): the fail
 * of a routed payment. Returns the channel, the expiry and bob's consent to the CANCEL.
 */
async function lockedAndCancelled(b: Base) {
  const ch = await openEth(b);
  const expiry = (await now()) + 86_400n;
  await ch.c0.pay(parseEther("0.1"));
  await ch.c0.push(Kind.Lock, LOCK, HASHLOCK, expiry);
  const cancel = await ch.c0.push(Kind.Cancel, LOCK, HASHLOCK, expiry);
  const consent = await signConsent(b.bob, b.dom, ch.id, 0, cancel);
  return { ch, expiry, cancel, consent };
}

describe("CancelConsent: early release of a lock the payee consents to", () => {
  describe("without consent nothing changes", () => {
    it("an early CANCEL is refused by extendChain, and by extendChainUsingConsentedCancels without its consent", async () => {
      const b = await loadFixture(deployBase);
      const { ch } = await lockedAndCancelled(b);
      await expect(b.channels.extendChain(...pieceArgs(ch, 0, 3)))
        .to.be.revertedWithCustomError(b.channels, "CancelNotAllowed")
        .withArgs(3);
      await expect(extendWith(b, ch, 0, 3, []))
        .to.be.revertedWithCustomError(b.channels, "CancelNotAllowed")
        .withArgs(3);
      // A consent naming another seq is not this CANCEL's.
      const other = await signConsent(b.bob, b.dom, ch.id, 0, ch.c0.bodies[2]);
      await expect(extendWith(b, ch, 0, 3, [consentRecord(2, other)]))
        .to.be.revertedWithCustomError(b.channels, "CancelNotAllowed")
        .withArgs(3);
      expect((await stateOf(b.channels, ch.id)).head0).to.equal(0);
    });

    it("a consent is read only when the plain rule refuses the CANCEL (after expiry a junk one is ignored)", async () => {
      const b = await loadFixture(deployBase);
      const { ch, expiry } = await lockedAndCancelled(b);
      await time.increaseTo(expiry + 1n);
      const junk = consentRecord(3, "0x" + "11".repeat(65));
      await expect(extendWith(b, ch, 0, 3, [junk]))
        .to.emit(b.channels, "ChainExtended")
        .withArgs(ch.id, 0, 0, 3);
    });

    it("rejects a consents argument that is not whole 69-byte records", async () => {
      const b = await loadFixture(deployBase);
      const { ch, consent } = await lockedAndCancelled(b);
      const bad = concat([consentRecord(3, consent), "0x00"]) as Hex;
      await expect(extendWith(b, ch, 0, 3, [bad]))
        .to.be.revertedWithCustomError(b.channels, "MalformedRecord")
        .withArgs(CONSENT_RECORD_LENGTH + 1, CONSENT_RECORD_LENGTH);
    });
  });

  describe("with the payee's consent the CANCEL counts at once", () => {
    it("a chain extension through the CANCEL, sent by anyone, and settlement pays no pot", async () => {
      const b = await loadFixture(deployBase);
      const { ch, consent } = await lockedAndCancelled(b);
      await expect(extendWith(b, ch, 0, 3, [consentRecord(3, consent)], b.carol))
        .to.emit(b.channels, "ChainExtended")
        .withArgs(ch.id, 0, 0, 3);
      const s = await stateOf(b.channels, ch.id);
      expect(s.proven0).to.deep.equal({ seq: 3, head224: head224(ch.c0.head) });

      await b.channels.connect(b.alice).close(ch.params);
      await time.increase(86_400);
      const settle = b.channels.settle(...(await settleArgs(b.channels, ch)));
      // alice paid 0.1; the lock is released: 0.9 back to her, 1.1 to bob, nothing held.
      await expect(settle)
        .to.emit(b.channels, "ChannelSettled")
        .withArgs(ch.id, parseEther("0.9"), parseEther("1.1"), 0n, 0n);
      await expect(settle).to.changeEtherBalances([b.alice, b.bob], [parseEther("0.9"), parseEther("1.1")]);
      const pending = await b.channels.pendingLocksOf(ch.id);
      expect([pending.pot0, pending.pot1]).to.deep.equal([0n, 0n]);
    });

    it("a piece anchored at the payee's head proof of the LOCK, and one re-deriving it from genesis", async () => {
      const b = await loadFixture(deployBase);
      const { ch, consent } = await lockedAndCancelled(b);
      // The payee puts the LOCK (seq 2) on-chain first: the lock would go to settlement.
      await b.channels.connect(b.bob).proveHead(headProof(ch, 0, 2));
      // A piece from the head proof's transfer, and (on a fresh snapshot) one from genesis through it.
      const snapshot = await hre.network.provider.send("evm_snapshot");
      await expect(extendWith(b, ch, 2, 3, [consentRecord(3, consent)]))
        .to.emit(b.channels, "ChainExtended")
        .withArgs(ch.id, 0, 2, 3);
      await hre.network.provider.send("evm_revert", [snapshot]);
      await expect(extendWith(b, ch, 0, 3, [consentRecord(3, consent)]))
        .to.emit(b.channels, "ChainExtended")
        .withArgs(ch.id, 0, 2, 3);
    });

    it("a piece anchored at a checkpoint of the LOCK, continuing with payments after the CANCEL", async () => {
      const b = await loadFixture(deployBase);
      const { ch, consent } = await lockedAndCancelled(b);
      await ch.c0.pay(parseEther("0.05"));
      await b.channels.checkpoint(await checkpointAt(ch, 2, 0));
      await expect(
        b.channels.extendChainUsingConsentedCancels(
          ch.params,
          0,
          packBody(ch.c0.bodies[1]),
          headAt(ch.c1, 0),
          concat(locksAt(ch.c0, 2)),
          concat(ch.c0.signed.slice(2, 4)),
          consentRecord(3, consent),
        ),
      )
        .to.emit(b.channels, "ChainExtended")
        .withArgs(ch.id, 0, 2, 4);
    });

    it("the payee's own head proof of the early CANCEL needs no consent: the payee vouches for it", async () => {
      const b = await loadFixture(deployBase);
      const { ch } = await lockedAndCancelled(b);
      await expect(b.channels.connect(b.bob).proveHead(headProof(ch, 0, 3)))
        .to.emit(b.channels, "HeadProved")
        .withArgs(ch.id, 0, 3);
      await b.channels.connect(b.bob).close(ch.params);
      await time.increase(86_400);
      await expect(b.channels.settle(...(await settleArgs(b.channels, ch))))
        .to.emit(b.channels, "ChannelSettled")
        .withArgs(ch.id, parseEther("0.9"), parseEther("1.1"), 0n, 0n);
    });

    it("consent is final: it counts after the payee registered the secret in time, before or after expiry", async () => {
      const b = await loadFixture(deployBase);
      const { ch, expiry, consent } = await lockedAndCancelled(b);
      await b.channels.registerSecrets([SECRET]);
      await expect(extendWith(b, ch, 0, 3, []))
        .to.be.revertedWithCustomError(b.channels, "CancelNotAllowed")
        .withArgs(3);
      await time.increaseTo(expiry + 1n);
      // Revealed in time: without consent the CANCEL never counts, with it it does.
      await expect(extendWith(b, ch, 0, 3, []))
        .to.be.revertedWithCustomError(b.channels, "CancelNotAllowed")
        .withArgs(3);
      await expect(extendWith(b, ch, 0, 3, [consentRecord(3, consent)]))
        .to.emit(b.channels, "ChainExtended")
        .withArgs(ch.id, 0, 0, 3);
    });

    it("front-running: the secret registered or the LOCK proven just before the payer's extension", async () => {
      const b = await loadFixture(deployBase);
      const { ch, consent } = await lockedAndCancelled(b);
      // Both land in one block, the payee's first: its transactions cannot make the consented CANCEL fail.
      await hre.network.provider.send("evm_setAutomine", [false]);
      try {
        const reveal = await b.channels.connect(b.bob).registerSecrets([SECRET], { gasPrice: 10n ** 10n });
        const prove = await b.channels
          .connect(b.bob)
          .proveHead(headProof(ch, 0, 2), { gasPrice: 10n ** 10n, nonce: reveal.nonce + 1 });
        const extend = await b.channels
          .connect(b.alice)
          .extendChainUsingConsentedCancels(...pieceArgs(ch, 0, 3), consentRecord(3, consent), {
            gasPrice: 10n ** 9n,
          });
        await hre.network.provider.send("evm_mine");
        expect((await reveal.wait())?.status).to.equal(1);
        expect((await prove.wait())?.status).to.equal(1);
        const receipt = await extend.wait();
        expect(receipt?.status).to.equal(1);
        const proved = await prove.wait();
        expect(receipt?.blockNumber).to.equal(proved?.blockNumber);
        // Ordered as a front-runner would have it: the payee's transactions first.
        expect((await reveal.wait())?.index).to.be.lessThan(receipt?.index ?? -1);
        expect(proved?.index).to.be.lessThan(receipt?.index ?? -1);
      } finally {
        await hre.network.provider.send("evm_setAutomine", [true]);
      }
      expect((await stateOf(b.channels, ch.id)).proven0.seq).to.equal(3);
    });
  });

  describe("attacks: a consent fits one CANCEL of one chain of one channel of one deployment", () => {
    it("refuses a forged consent, one signed by the payer, and a high-s copy of the payee's", async () => {
      const b = await loadFixture(deployBase);
      const { ch, cancel, consent } = await lockedAndCancelled(b);
      const forged = await signConsent(b.carol, b.dom, ch.id, 0, cancel);
      const byPayer = await signConsent(b.alice, b.dom, ch.id, 0, cancel);
      for (const sig of [forged, byPayer, highS(consent), "0x" + "00".repeat(65)]) {
        await expect(extendWith(b, ch, 0, 3, [consentRecord(3, sig)]))
          .to.be.revertedWithCustomError(b.channels, "InvalidCancelConsent")
          .withArgs(3, b.bob.address);
      }
    });

    it("refuses a consent to another lock: amount, expiry, hashlock, transfer hash or payer changed", async () => {
      const b = await loadFixture(deployBase);
      const { ch, cancel, expiry } = await lockedAndCancelled(b);
      const variants = [
        { amount: LOCK + 1n },
        { expiry: expiry + 1n },
        { hashlock: hashlockOf(word(1)) },
        { transfer: ch.c0.bodies[1].prev },
        { payer: 1 },
      ];
      for (const over of variants) {
        const sig = await signConsent(b.bob, b.dom, ch.id, 0, cancel, over);
        await expect(extendWith(b, ch, 0, 3, [consentRecord(3, sig)]))
          .to.be.revertedWithCustomError(b.channels, "InvalidCancelConsent")
          .withArgs(3, b.bob.address);
      }
    });

    it("refuses a consent replayed from another channel, chain id or contract", async () => {
      const b = await loadFixture(deployBase);
      const { ch, cancel } = await lockedAndCancelled(b);
      // The same parties, the same lock and the same chain shape in a second channel.
      const twin = await lockedAndCancelled(b);
      const fromTwin = await signConsent(b.bob, b.dom, twin.ch.id, 0, twin.cancel);
      const otherChain = await signConsent(b.bob, domain(b.chainId + 1n, b.address), ch.id, 0, cancel);
      const otherContract = await signConsent(
        b.bob,
        domain(b.chainId, Wallet.createRandom().address),
        ch.id,
        0,
        cancel,
      );
      for (const sig of [fromTwin, otherChain, otherContract]) {
        await expect(extendWith(b, ch, 0, 3, [consentRecord(3, sig)]))
          .to.be.revertedWithCustomError(b.channels, "InvalidCancelConsent")
          .withArgs(3, b.bob.address);
      }
    });

    it("a consent to one CANCEL cannot release a second lock with the same hashlock, amount and expiry", async () => {
      const b = await loadFixture(deployBase);
      const ch = await openEth(b);
      const expiry = (await now()) + 86_400n;
      await ch.c0.push(Kind.Lock, LOCK, HASHLOCK, expiry);
      await ch.c0.push(Kind.Lock, LOCK, HASHLOCK, expiry);
      const first = await ch.c0.push(Kind.Cancel, LOCK, HASHLOCK, expiry);
      await ch.c0.push(Kind.Cancel, LOCK, HASHLOCK, expiry);
      const consent = await signConsent(b.bob, b.dom, ch.id, 0, first);
      // Under its own seq it releases the first lock only; the second CANCEL has no consent.
      await expect(extendWith(b, ch, 0, 4, [consentRecord(3, consent)]))
        .to.be.revertedWithCustomError(b.channels, "CancelNotAllowed")
        .withArgs(4);
      // Relabelled with the second CANCEL's seq it fits no transfer: another seq and prev, another hash.
      await expect(extendWith(b, ch, 0, 4, [consentRecord(3, consent), consentRecord(4, consent)]))
        .to.be.revertedWithCustomError(b.channels, "InvalidCancelConsent")
        .withArgs(4, b.bob.address);
      await expect(extendWith(b, ch, 0, 3, [consentRecord(3, consent)])).to.emit(b.channels, "ChainExtended");
      expect((await stateOf(b.channels, ch.id)).head0).to.equal(3);
    });

    it("the first record naming a seq decides: a bad one is reported, not skipped for a later good one", async () => {
      const b = await loadFixture(deployBase);
      const { ch, cancel, consent } = await lockedAndCancelled(b);
      const forged = await signConsent(b.carol, b.dom, ch.id, 0, cancel);
      await expect(extendWith(b, ch, 0, 3, [consentRecord(3, forged), consentRecord(3, consent)]))
        .to.be.revertedWithCustomError(b.channels, "InvalidCancelConsent")
        .withArgs(3, b.bob.address);
      // Records for seqs with no CANCEL are ignored; order does not matter.
      await expect(extendWith(b, ch, 0, 3, [consentRecord(1, forged), consentRecord(3, consent)])).to.emit(
        b.channels,
        "ChainExtended",
      );
    });

    it("payer 1's chain takes consents from P0: P1's own signature does not count", async () => {
      const b = await loadFixture(deployBase);
      const ch = await openEth(b);
      const expiry = (await now()) + 86_400n;
      await ch.c1.push(Kind.Lock, LOCK, HASHLOCK, expiry);
      const cancel = await ch.c1.push(Kind.Cancel, LOCK, HASHLOCK, expiry);
      const args = [ch.params, 1, "0x", ZERO32, "0x", concat(ch.c1.signed)] as const;
      const own = await signConsent(b.bob, b.dom, ch.id, 1, cancel);
      await expect(b.channels.extendChainUsingConsentedCancels(...args, consentRecord(2, own)))
        .to.be.revertedWithCustomError(b.channels, "InvalidCancelConsent")
        .withArgs(2, b.alice.address);
      const payee = await signConsent(b.alice, b.dom, ch.id, 1, cancel);
      await expect(b.channels.extendChainUsingConsentedCancels(...args, consentRecord(2, payee)))
        .to.emit(b.channels, "ChainExtended")
        .withArgs(ch.id, 1, 0, 2);
    });

    it("refuses a settled channel", async () => {
      const b = await loadFixture(deployBase);
      const { ch, consent } = await lockedAndCancelled(b);
      await b.channels.connect(b.alice).close(ch.params);
      await time.increase(86_400);
      await b.channels.settle(...(await settleArgs(b.channels, ch)));
      await expect(extendWith(b, ch, 0, 3, [consentRecord(3, consent)]))
        .to.be.revertedWithCustomError(b.channels, "ChannelNotInStatus")
        .withArgs(ch.id, Status.Settled);
    });
  });

  describe("property: payouts never exceed deposits, whichever locks are released early", () => {
    it("random locks, consented early CANCELs, secrets registered, settled and resolved", async () => {
      const b = await loadFixture(deployBase);
      let seed = 0x2545f491;
      const rand = (n: number): number => {
        seed = (seed * 1103515245 + 12345) & 0x7fffffff;
        return seed % n;
      };
      for (let round = 0; round < 6; round++) {
        const deposit0 = parseEther("1") + BigInt(rand(1000));
        const deposit1 = BigInt(rand(3)) * parseEther("0.5");
        const ch = await openEth(b, deposit0, deposit1);
        const start = await now();
        const consents: Hex[] = [];
        const secrets: string[] = [];
        const pending: { amount: bigint; expiry: bigint; secret: string }[] = [];
        for (let step = 0; step < 8; step++) {
          const r = rand(4);
          if (r === 0 || pending.length === 0) {
            // Locks may exceed the deposits: the contract must still pay out no more than it holds.
            const secret = word(round * 100 + step + 1);
            const lock = { amount: parseEther("0.3") + BigInt(rand(100)), expiry: start + 10_000n, secret };
            pending.push(lock);
            await ch.c0.push(Kind.Lock, lock.amount, hashlockOf(secret), lock.expiry);
          } else if (r === 1) {
            await ch.c0.pay(BigInt(rand(10 ** 6)) + 1n);
          } else {
            const [lock] = pending.splice(rand(pending.length), 1);
            const body = await ch.c0.push(Kind.Cancel, lock.amount, hashlockOf(lock.secret), lock.expiry);
            consents.push(consentRecord(body.seq, await signConsent(b.bob, b.dom, ch.id, 0, body)));
            // The payee sometimes registers the secret of a lock it released: the release stands.
            if (r === 3) secrets.push(lock.secret);
          }
        }
        // Secrets of some still-pending locks too: those locks go to the payee.
        for (const lock of pending) if (rand(2) === 0) secrets.push(lock.secret);
        if (secrets.length > 0) await b.channels.registerSecrets(secrets);
        await b.channels.extendChainUsingConsentedCancels(...pieceArgs(ch, 0, ch.c0.seq), concat(consents));
        expect((await stateOf(b.channels, ch.id)).head0).to.equal(ch.c0.seq);

        await b.channels.connect(b.alice).close(ch.params);
        await time.increase(86_400);
        const settleTx = await b.channels.settle(...(await settleArgs(b.channels, ch)));
        let paid = 0n;
        for (const log of (await settleTx.wait())?.logs ?? []) {
          const e = b.channels.interface.parseLog(log);
          if (e?.name === "ChannelSettled") paid += (e.args.payout0 as bigint) + (e.args.payout1 as bigint);
        }
        const { pot0 } = await b.channels.pendingLocksOf(ch.id);
        expect(paid + pot0).to.equal(deposit0 + deposit1);
        // Released locks are gone: the pot covers only the locks still pending (§5).
        const total = deposit0 + deposit1;
        const a0 = deposit0 > ch.c0.paidTotal ? deposit0 - ch.c0.paidTotal : 0n;
        const stillLocked = pending.reduce((sum, l) => sum + l.amount, 0n);
        expect(pot0).to.equal(stillLocked < a0 ? stillLocked : a0);
        expect(a0).to.be.lte(total);
        if (pot0 !== 0n) {
          const tx = await b.channels.resolveLocks(ch.params, 0, concat(locksAt(ch.c0, ch.c0.seq)), []);
          for (const log of (await tx.wait())?.logs ?? []) {
            const e = b.channels.interface.parseLog(log);
            if (e?.name === "LocksResolved") paid += (e.args.toPayee as bigint) + (e.args.toPayer as bigint);
          }
        }
        expect(paid).to.equal(deposit0 + deposit1);
      }
    });
  });

  it("the contract stays under the 24,576-byte code size limit", async () => {
    const code = await ethers.provider.getCode(await (await loadFixture(deployBase)).channels.getAddress());
    expect((code.length - 2) / 2).to.be.lessThanOrEqual(24_576);
  });
});
