// The dispute path: extendChain verifies every step of a payer's chain (protocol §3, §4.3), and the
// ordering of evidence: a newer state always wins, whichever way it arrives.
import { expect } from "chai";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { concat, dataSlice, parseEther } from "ethers";
import {
  checkpointRecord,
  hashlockOf,
  Kind,
  locksRoot,
  packBody,
  packLock,
  PayerChain,
  signTransfer,
  word,
  ZERO32,
} from "../helpers/kit";
import type { Body, Hex } from "../helpers/kit";
import {
  checkpointAt,
  commitment,
  deployBase,
  head224,
  headAt,
  headProofRecord,
  now,
  openEth,
  settleArgs,
  Skip,
  stateOf,
  Status,
} from "./fixtures";
import type { Base, Channel } from "./fixtures";

const SECRET = word(0xc0ffee);
const HASHLOCK = hashlockOf(SECRET);

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

/**
 * extendChain of `payer` from its transfer `fromSeq` with the signed transfers `fromSeq+1 .. toSeq`;
 * `otherSeq` is the other payer's seq in the checkpoint word (only read when payer's on-chain head is the
 * checkpoint's).
 */
function extend(b: Base, ch: Channel, payer: number, fromSeq: number, toSeq: number, otherSeq = 0) {
  const [chain, other] = payer === 0 ? [ch.c0, ch.c1] : [ch.c1, ch.c0];
  return b.channels.extendChain(
    ch.params,
    payer,
    fromSeq === 0 ? "0x" : packBody(chain.bodies[fromSeq - 1]),
    headAt(other, otherSeq),
    concat(locksAt(chain, fromSeq)),
    concat(chain.signed.slice(fromSeq, toSeq)),
  );
}

/** The next transfer of `chain` by the rules of §3, with some fields overridden, signed by the payer. */
async function forged(
  chain: PayerChain,
  kind: number,
  amount: bigint,
  over: Partial<Body>,
  hashlock: string = ZERO32,
  expiry = 0n,
): Promise<Hex> {
  const lock = packLock(amount, expiry, hashlock);
  let locks = chain.locks;
  let { paidTotal, lockedTotal } = chain;
  if (kind === Kind.Pay || kind === Kind.Unlock) paidTotal += amount;
  if (kind === Kind.Lock) {
    locks = [...locks, lock];
    lockedTotal += amount;
  }
  if (kind === Kind.Unlock || kind === Kind.Cancel) {
    const i = locks.indexOf(lock);
    if (i >= 0) locks = locks.filter((_, j) => j !== i);
    lockedTotal = lockedTotal > amount ? lockedTotal - amount : 0n;
  }
  const body: Body = {
    seq: chain.seq + 1,
    kind,
    amount,
    paidTotal,
    lockedTotal,
    locksRoot: locksRoot(locks),
    hashlock,
    expiry,
    invoiceId: ZERO32,
    prev: chain.head,
    ...over,
  };
  return concat([
    packBody(body),
    await signTransfer(chain.wallet, chain.dom, chain.id, chain.payer, body),
  ]) as Hex;
}

/** A channel with copies of its chains. */
function copyOf(ch: Channel): Channel {
  const copy = (c: PayerChain) => {
    const n = new PayerChain(c.wallet, c.dom, c.id, c.payer);
    n.bodies.push(...c.bodies);
    n.signed.push(...c.signed);
    n.locks = [...c.locks];
    n.paidTotal = c.paidTotal;
    n.lockedTotal = c.lockedTotal;
    return n;
  };
  return { ...ch, c0: copy(ch.c0), c1: copy(ch.c1) };
}

/** extendChain of payer 0 from the genesis state with explicit packed transfers. */
function extendRaw(b: Base, ch: Channel, transfers: string[]) {
  return b.channels.extendChain(ch.params, 0, "0x", ZERO32, "0x", concat(transfers));
}

describe("ParsecChannels: extendChain (dispute path)", () => {
  describe("valid chains", () => {
    it("verifies PAY/LOCK/UNLOCK/CANCEL steps from anyone and commits the last as the payer's head", async () => {
      const b = await loadFixture(deployBase);
      const ch = await openEth(b);
      const expiry = (await now()) + 1_000n;
      await ch.c0.pay(parseEther("0.1"));
      await ch.c0.push(Kind.Lock, parseEther("0.2"), HASHLOCK, expiry);
      await ch.c0.push(Kind.Lock, parseEther("0.3"), hashlockOf(word(2)), expiry);
      await ch.c0.push(Kind.Unlock, parseEther("0.2"), HASHLOCK, expiry);
      await ch.c0.pay(1n);
      await time.increaseTo(expiry + 1n);
      await ch.c0.push(Kind.Cancel, parseEther("0.3"), hashlockOf(word(2)), expiry);
      await expect(extend({ ...b, channels: b.channels.connect(b.carol) }, ch, 0, 0, 6))
        .to.emit(b.channels, "ChainExtended")
        .withArgs(ch.id, 0, 0, 6);
      const s = await stateOf(b.channels, ch.id);
      expect([s.seq0, s.seq1, s.commitment]).to.deep.equal([0, 0, 0n]);
      expect([s.head0, s.head1, s.proven0.head224]).to.deep.equal([6, 0, head224(ch.c0.head)]);
      // UNLOCK paid the 0.2 lock, CANCEL returned the 0.3 one: P0 paid 0.1 + 0.2 + 1 wei in all
      await b.channels.close(ch.params);
      await time.increase(ch.params.challengePeriod);
      await expect(b.channels.settle(...(await settleArgs(b.channels, ch)))).to.changeEtherBalances(
        [b.alice, b.bob],
        [parseEther("0.7") - 1n, parseEther("1.3") + 1n],
      );
    });

    it("takes a long chain in pieces, each continuing from the head the last one left", async () => {
      const b = await loadFixture(deployBase);
      const ch = await openEth(b);
      const expiry = (await now()) + 10_000n;
      for (let i = 0; i < 3; i++) await ch.c0.pay(BigInt(i + 1));
      await ch.c0.push(Kind.Lock, 50n, HASHLOCK, expiry);
      for (let i = 0; i < 3; i++) await ch.c0.pay(7n);
      await ch.c0.push(Kind.Unlock, 50n, HASHLOCK, expiry);
      await ch.c1.pay(9n);
      await ch.c1.pay(9n);
      await expect(extend(b, ch, 1, 0, 2))
        .to.emit(b.channels, "ChainExtended")
        .withArgs(ch.id, 1, 0, 2);
      await expect(extend(b, ch, 0, 0, 2, 2))
        .to.emit(b.channels, "ChainExtended")
        .withArgs(ch.id, 0, 0, 2);
      await expect(extend(b, ch, 0, 2, 5, 2))
        .to.emit(b.channels, "ChainExtended")
        .withArgs(ch.id, 0, 2, 5);
      // seq 5 holds a pending lock: the next piece must bring its list
      await expect(extend(b, ch, 0, 5, 6, 2))
        .to.emit(b.channels, "ChainExtended")
        .withArgs(ch.id, 0, 5, 6);
      await expect(extend(b, ch, 0, 6, 8, 2))
        .to.emit(b.channels, "ChainExtended")
        .withArgs(ch.id, 0, 6, 8);
      const s = await stateOf(b.channels, ch.id);
      expect([s.head0, s.head1]).to.deep.equal([8, 2]);
      expect([s.proven0.head224, s.proven1.head224]).to.deep.equal([
        head224(ch.c0.head),
        head224(ch.c1.head),
      ]);
      // settle pays what the extended chains say: P0 paid 6 + 21 + 50 = 77, P1 paid 18.
      await b.channels.close(ch.params);
      await time.increase(ch.params.challengePeriod);
      await expect(b.channels.settle(...(await settleArgs(b.channels, ch)))).to.changeEtherBalances(
        [b.alice, b.bob],
        [parseEther("1") - 77n + 18n, parseEther("1") + 77n - 18n],
      );
    });

    it("removes the first of two identical locks on UNLOCK", async () => {
      const b = await loadFixture(deployBase);
      const ch = await openEth(b);
      const expiry = (await now()) + 10_000n;
      const five = packLock(5n, expiry, HASHLOCK);
      const six = packLock(6n, expiry, HASHLOCK);
      await ch.c0.push(Kind.Lock, 5n, HASHLOCK, expiry);
      await ch.c0.push(Kind.Lock, 6n, HASHLOCK, expiry);
      await ch.c0.push(Kind.Lock, 5n, HASHLOCK, expiry);
      // an UNLOCK that claims the later twin was removed ([5, 6] left) is refused
      const lastRemoved = await forged(
        ch.c0,
        Kind.Unlock,
        5n,
        { locksRoot: locksRoot([five, six]) },
        HASHLOCK,
        expiry,
      );
      await expect(extendRaw(b, ch, [...ch.c0.signed, lastRemoved]))
        .to.be.revertedWithCustomError(b.channels, "LocksRootMismatch")
        .withArgs(4);
      await ch.c0.push(Kind.Unlock, 5n, HASHLOCK, expiry);
      expect(ch.c0.locks).to.deep.equal([six, five]);
      await expect(extend(b, ch, 0, 0, 4))
        .to.emit(b.channels, "ChainExtended")
        .withArgs(ch.id, 0, 0, 4);
    });

    it("accepts 64 pending locks and refuses the 65th (TooManyLocks)", async () => {
      const b = await loadFixture(deployBase);
      const ch = await openEth(b);
      const expiry = (await now()) + 10_000n;
      for (let i = 0; i < 64; i++) await ch.c0.push(Kind.Lock, BigInt(i + 1), HASHLOCK, expiry);
      await expect(extend(b, ch, 0, 0, 32)).to.emit(b.channels, "ChainExtended");
      await expect(extend(b, ch, 0, 32, 64))
        .to.emit(b.channels, "ChainExtended")
        .withArgs(ch.id, 0, 32, 64);
      await ch.c0.push(Kind.Lock, 65n, HASHLOCK, expiry);
      await expect(extend(b, ch, 0, 64, 65))
        .to.be.revertedWithCustomError(b.channels, "TooManyLocks")
        .withArgs(65);
    });
  });

  describe("each step must follow the rules", () => {
    it("seq must be contiguous (SeqGap), also when a transfer is replayed", async () => {
      const b = await loadFixture(deployBase);
      const ch = await openEth(b);
      for (let i = 0; i < 3; i++) await ch.c0.pay(1n);
      await expect(extendRaw(b, ch, [ch.c0.signed[1]]))
        .to.be.revertedWithCustomError(b.channels, "SeqGap")
        .withArgs(1, 2);
      await expect(extendRaw(b, ch, [ch.c0.signed[0], ch.c0.signed[2]]))
        .to.be.revertedWithCustomError(b.channels, "SeqGap")
        .withArgs(2, 3);
      await extend(b, ch, 0, 0, 1);
      await expect(
        b.channels.extendChain(ch.params, 0, packBody(ch.c0.bodies[0]), ZERO32, "0x", ch.c0.signed[0]),
      )
        .to.be.revertedWithCustomError(b.channels, "SeqGap")
        .withArgs(2, 1);
      // lock steps go through the general path and report the same way
      const lock = await forged(ch.c0, Kind.Lock, 1n, { seq: 9 }, HASHLOCK, 5n);
      await expect(b.channels.extendChain(ch.params, 0, packBody(ch.c0.bodies[0]), ZERO32, "0x", lock))
        .to.be.revertedWithCustomError(b.channels, "SeqGap")
        .withArgs(2, 9);
    });

    it("nothing follows seq 2^32 - 1: a gap is reported, not an arithmetic overflow", async () => {
      const b = await loadFixture(deployBase);
      const ch = await openEth(b);
      const max = 2 ** 32 - 1;
      const last: Body = { ...(await ch.c0.pay(1n)), seq: max };
      const lastSigned = concat([packBody(last), await signTransfer(b.alice, b.dom, ch.id, 0, last)]);
      await b.channels.connect(b.bob).proveHead(headProofRecord(ch.params, 0, lastSigned));
      const next: Body = {
        ...last,
        seq: 0,
        paidTotal: 2n,
        prev: await b.encoding.hashTransfer(ch.id, 0, packBody(last)),
      };
      const nextSigned = concat([packBody(next), await signTransfer(b.alice, b.dom, ch.id, 0, next)]);
      await expect(b.channels.extendChain(ch.params, 0, packBody(last), ZERO32, "0x", nextSigned))
        .to.be.revertedWithCustomError(b.channels, "SeqGap")
        .withArgs(0, 0);
    });

    it("prev must be the hash of the payer's previous transfer (BrokenHashPointer)", async () => {
      const b = await loadFixture(deployBase);
      const ch = await openEth(b);
      await ch.c0.pay(1n);
      const bad = await forged(ch.c0, Kind.Pay, 1n, { prev: word(1) });
      await expect(extendRaw(b, ch, [ch.c0.signed[0], bad]))
        .to.be.revertedWithCustomError(b.channels, "BrokenHashPointer")
        .withArgs(2);
      const first = await forged(new PayerChain(b.alice, b.dom, ch.id, 0), Kind.Pay, 1n, {
        prev: ch.c0.head,
      });
      await expect(extendRaw(b, ch, [first]))
        .to.be.revertedWithCustomError(b.channels, "BrokenHashPointer")
        .withArgs(1);
      const lockBad = await forged(ch.c0, Kind.Lock, 1n, { prev: ZERO32 }, HASHLOCK, 5n);
      await expect(extendRaw(b, ch, [ch.c0.signed[0], lockBad]))
        .to.be.revertedWithCustomError(b.channels, "BrokenHashPointer")
        .withArgs(2);
    });

    it("paidTotal must grow by exactly the PAY amount (PaidTotalMismatch)", async () => {
      const b = await loadFixture(deployBase);
      const ch = await openEth(b);
      await ch.c0.pay(10n);
      for (const [paidTotal, label] of [
        [14n, "less"],
        [16n, "more"],
        [10n, "unchanged"],
        [0n, "reset"],
      ] as const) {
        const bad = await forged(ch.c0, Kind.Pay, 5n, { paidTotal });
        await expect(extendRaw(b, ch, [ch.c0.signed[0], bad]), label)
          .to.be.revertedWithCustomError(b.channels, "PaidTotalMismatch")
          .withArgs(2, 15n, paidTotal);
      }
      // LOCK, UNLOCK and CANCEL: paidTotal stays, or grows by the unlocked amount
      const lockBad = await forged(ch.c0, Kind.Lock, 5n, { paidTotal: 15n }, HASHLOCK, 5n);
      await expect(extendRaw(b, ch, [ch.c0.signed[0], lockBad]))
        .to.be.revertedWithCustomError(b.channels, "PaidTotalMismatch")
        .withArgs(2, 10n, 15n);
      await ch.c0.push(Kind.Lock, 5n, HASHLOCK, 5n);
      const unlockBad = await forged(ch.c0, Kind.Unlock, 5n, { paidTotal: 10n }, HASHLOCK, 5n);
      await expect(extendRaw(b, ch, [...ch.c0.signed, unlockBad]))
        .to.be.revertedWithCustomError(b.channels, "PaidTotalMismatch")
        .withArgs(3, 15n, 10n);
    });

    it("lockedTotal must follow the lock operation (LockedTotalMismatch)", async () => {
      const b = await loadFixture(deployBase);
      const ch = await openEth(b);
      const expiry = (await now()) + 10_000n;
      await ch.c0.push(Kind.Lock, 7n, HASHLOCK, expiry);
      const lockBad = await forged(ch.c0, Kind.Lock, 3n, { lockedTotal: 7n }, HASHLOCK, expiry);
      await expect(extendRaw(b, ch, [ch.c0.signed[0], lockBad]))
        .to.be.revertedWithCustomError(b.channels, "LockedTotalMismatch")
        .withArgs(2, 10n, 7n);
      const payBad = await forged(ch.c0, Kind.Pay, 3n, { lockedTotal: 0n });
      await expect(extendRaw(b, ch, [ch.c0.signed[0], payBad]))
        .to.be.revertedWithCustomError(b.channels, "LockedTotalMismatch")
        .withArgs(2, 7n, 0n);
      const unlockBad = await forged(ch.c0, Kind.Unlock, 7n, { lockedTotal: 7n }, HASHLOCK, expiry);
      await expect(extendRaw(b, ch, [ch.c0.signed[0], unlockBad]))
        .to.be.revertedWithCustomError(b.channels, "LockedTotalMismatch")
        .withArgs(2, 0n, 7n);
    });

    it("locksRoot must be the root of the pending list after the step (LocksRootMismatch)", async () => {
      const b = await loadFixture(deployBase);
      const ch = await openEth(b);
      const expiry = (await now()) + 10_000n;
      const lockBad = await forged(ch.c0, Kind.Lock, 3n, { locksRoot: ZERO32 }, HASHLOCK, expiry);
      await expect(extendRaw(b, ch, [lockBad]))
        .to.be.revertedWithCustomError(b.channels, "LocksRootMismatch")
        .withArgs(1);
      await ch.c0.push(Kind.Lock, 3n, HASHLOCK, expiry);
      const payBad = await forged(ch.c0, Kind.Pay, 3n, { locksRoot: ZERO32 });
      await expect(extendRaw(b, ch, [ch.c0.signed[0], payBad]))
        .to.be.revertedWithCustomError(b.channels, "LocksRootMismatch")
        .withArgs(2);
    });

    it("refuses fields that break the kind's rules (InvalidTransferFields) and unknown kinds", async () => {
      const b = await loadFixture(deployBase);
      const ch = await openEth(b);
      const expiry = (await now()) + 10_000n;
      const cases: [Hex, number][] = [
        [await forged(ch.c0, Kind.Pay, 0n, {}), Kind.Pay],
        [await forged(ch.c0, Kind.Pay, 1n, { hashlock: HASHLOCK }), Kind.Pay],
        [await forged(ch.c0, Kind.Pay, 1n, { expiry: 1n }), Kind.Pay],
        [await forged(ch.c0, Kind.Lock, 0n, {}, HASHLOCK, expiry), Kind.Lock],
        [await forged(ch.c0, Kind.Lock, 1n, {}, ZERO32, expiry), Kind.Lock],
        [await forged(ch.c0, Kind.Lock, 1n, {}, HASHLOCK, 0n), Kind.Lock],
        [await forged(ch.c0, Kind.Unlock, 0n, {}, HASHLOCK, expiry), Kind.Unlock],
        [await forged(ch.c0, Kind.Cancel, 1n, {}, ZERO32, expiry), Kind.Cancel],
      ];
      for (const [transfer, kind] of cases) {
        await expect(extendRaw(b, ch, [transfer]))
          .to.be.revertedWithCustomError(b.channels, "InvalidTransferFields")
          .withArgs(1, kind);
      }
      await expect(extendRaw(b, ch, [await forged(ch.c0, Kind.Pay, 1n, { kind: 4 })]))
        .to.be.revertedWithCustomError(b.channels, "UnknownKind")
        .withArgs(1, 4);
    });

    it("UNLOCK and CANCEL must name a pending lock (LockNotPending)", async () => {
      const b = await loadFixture(deployBase);
      const ch = await openEth(b);
      const expiry = (await now()) + 100n;
      await ch.c0.push(Kind.Lock, 5n, HASHLOCK, expiry);
      await ch.c0.push(Kind.Unlock, 5n, HASHLOCK, expiry);
      await time.increaseTo(expiry + 1n);
      const cases = [
        await forged(ch.c0, Kind.Unlock, 5n, {}, HASHLOCK, expiry), // unlocked already
        await forged(ch.c0, Kind.Cancel, 5n, {}, HASHLOCK, expiry), // unlocked already
        await forged(ch.c0, Kind.Unlock, 6n, {}, HASHLOCK, expiry), // another amount
        await forged(ch.c0, Kind.Unlock, 5n, {}, HASHLOCK, expiry + 1n), // another expiry
        await forged(ch.c0, Kind.Cancel, 5n, {}, hashlockOf(word(9)), expiry), // another hashlock
      ];
      for (const transfer of cases) {
        await expect(extendRaw(b, ch, [...ch.c0.signed, transfer]))
          .to.be.revertedWithCustomError(b.channels, "LockNotPending")
          .withArgs(3);
      }
    });

    it("CANCEL only after expiry (not at it) and only if the secret was not registered by then", async () => {
      const b = await loadFixture(deployBase);
      const ch = await openEth(b);
      const expiryB = (await now()) + 1_000n;
      const expiryA = expiryB + 100n;
      const secretB = word(77);
      await ch.c0.push(Kind.Lock, 5n, HASHLOCK, expiryA);
      await ch.c0.push(Kind.Lock, 6n, hashlockOf(secretB), expiryB);
      await ch.c0.push(Kind.Cancel, 6n, hashlockOf(secretB), expiryB);
      await ch.c0.push(Kind.Cancel, 5n, HASHLOCK, expiryA);
      await extend(b, ch, 0, 0, 2);
      await expect(extend(b, ch, 0, 2, 3))
        .to.be.revertedWithCustomError(b.channels, "CancelNotAllowed")
        .withArgs(3);
      await time.setNextBlockTimestamp(expiryB);
      await expect(extend(b, ch, 0, 2, 3))
        .to.be.revertedWithCustomError(b.channels, "CancelNotAllowed")
        .withArgs(3);
      // B's secret shows up only after B expired: too late, the CANCEL stands
      await time.setNextBlockTimestamp(expiryB + 1n);
      await b.channels.registerSecrets([secretB]);
      await expect(extend(b, ch, 0, 2, 3))
        .to.emit(b.channels, "ChainExtended")
        .withArgs(ch.id, 0, 2, 3);
      // A's secret shows up exactly at A's expiry: in time, so A can no longer be cancelled
      await time.setNextBlockTimestamp(expiryA);
      await b.channels.registerSecrets([SECRET]);
      expect(await b.channels.secretRevealedAt(HASHLOCK)).to.equal(expiryA);
      await time.increase(1_000);
      await expect(extend(b, ch, 0, 3, 4))
        .to.be.revertedWithCustomError(b.channels, "CancelNotAllowed")
        .withArgs(4);
    });

    it("CANCEL after an unrevealed expiry returns the lock to the payer", async () => {
      const b = await loadFixture(deployBase);
      const ch = await openEth(b);
      const expiry = (await now()) + 1_000n;
      await ch.c0.push(Kind.Lock, parseEther("0.5"), HASHLOCK, expiry);
      await ch.c0.push(Kind.Cancel, parseEther("0.5"), HASHLOCK, expiry);
      await time.setNextBlockTimestamp(expiry + 1n);
      await expect(extend(b, ch, 0, 0, 2))
        .to.emit(b.channels, "ChainExtended")
        .withArgs(ch.id, 0, 0, 2);
      await b.channels.close(ch.params);
      await time.increase(ch.params.challengePeriod);
      await expect(b.channels.settle(...(await settleArgs(b.channels, ch)))).to.changeEtherBalances(
        [b.alice, b.bob],
        [parseEther("1"), parseEther("1")],
      );
    });

    it("refuses a step whose lockedTotal is below the unlocked amount instead of underflowing", async () => {
      const b = await loadFixture(deployBase);
      const ch = await openEth(b);
      const expiry = (await now()) + 10_000n;
      // A head (proved by the payee) that lists a lock of 10 but declares lockedTotal 4.
      await ch.c0.push(Kind.Lock, 10n, HASHLOCK, expiry);
      const odd = { ...ch.c0.bodies[0], lockedTotal: 4n };
      const oddSigned = concat([packBody(odd), await signTransfer(b.alice, b.dom, ch.id, 0, odd)]);
      await b.channels.connect(b.bob).proveHead(headProofRecord(ch.params, 0, oddSigned));
      const unlock = await (async () => {
        const body: Body = {
          ...odd,
          seq: 2,
          kind: Kind.Unlock,
          lockedTotal: 0n,
          paidTotal: 10n,
          locksRoot: ZERO32,
          prev: (await b.encoding.hashTransfer(ch.id, 0, packBody(odd))) as string,
        };
        return concat([packBody(body), await signTransfer(b.alice, b.dom, ch.id, 0, body)]);
      })();
      await expect(
        b.channels.extendChain(ch.params, 0, packBody(odd), ZERO32, packLock(10n, expiry, HASHLOCK), unlock),
      )
        .to.be.revertedWithCustomError(b.channels, "LockedTotalMismatch")
        .withArgs(2, 4n, 0n);
    });
  });

  describe("the call itself", () => {
    it("needs a start body, other head and lock list that open the on-chain state", async () => {
      const b = await loadFixture(deployBase);
      const ch = await openEth(b);
      const expiry = (await now()) + 10_000n;
      await ch.c0.pay(1n);
      await ch.c0.push(Kind.Lock, 5n, HASHLOCK, expiry);
      await ch.c0.pay(1n);
      await ch.c0.pay(1n);
      await ch.c1.pay(2n);
      await ch.c1.pay(2n);
      // the on-chain heads come from a checkpoint at (2, 1): P0's anchor is the checkpoint's head 0
      await b.channels.checkpoint(
        await checkpointRecord(
          b.alice,
          b.bob,
          b.dom,
          ch.params,
          ch.id,
          2,
          headAt(ch.c0, 2),
          1,
          headAt(ch.c1, 1),
        ),
      );
      const next = ch.c0.signed[2];
      const body2 = packBody(ch.c0.bodies[1]);
      const locks2 = concat(locksAt(ch.c0, 2));
      const c1head = headAt(ch.c1, 1);
      const call = (startBody: string, otherHead: string, startLocks: string, transfers: string = next) =>
        b.channels.extendChain(ch.params, 0, startBody, otherHead, startLocks, transfers);
      // a start body that is not the on-chain head, or a wrong other head, does not open the commitment
      await expect(call(packBody({ ...ch.c0.bodies[1], paidTotal: 100n }), c1head, locks2))
        .to.be.revertedWithCustomError(b.channels, "StateMismatch")
        .withArgs(ch.id);
      await expect(call(body2, ZERO32, locks2))
        .to.be.revertedWithCustomError(b.channels, "StateMismatch")
        .withArgs(ch.id);
      await expect(call(body2, ch.c1.head, locks2))
        .to.be.revertedWithCustomError(b.channels, "StateMismatch")
        .withArgs(ch.id);
      // a start above the on-chain seq
      await expect(call(packBody(ch.c0.bodies[2]), c1head, locks2, ch.c0.signed[3]))
        .to.be.revertedWithCustomError(b.channels, "StateMismatch")
        .withArgs(ch.id);
      // an earlier start that brings nothing beyond the on-chain head is stale
      await expect(call(packBody(ch.c0.bodies[0]), c1head, "0x", ch.c0.signed[1]))
        .to.be.revertedWithCustomError(b.channels, "EntryRejected")
        .withArgs(ch.id, Skip.StaleState);
      await expect(call("0x", c1head, "0x"))
        .to.be.revertedWithCustomError(b.channels, "EntryRejected")
        .withArgs(ch.id, Skip.StaleState);
      // the lock list must be the start's
      await expect(call("0x", c1head, locks2))
        .to.be.revertedWithCustomError(b.channels, "LocksMismatch")
        .withArgs(ZERO32);
      await expect(call(body2, c1head, "0x"))
        .to.be.revertedWithCustomError(b.channels, "LocksMismatch")
        .withArgs(ch.c0.bodies[1].locksRoot);
      await expect(call(body2, c1head, concat([locks2, "0x00"])))
        .to.be.revertedWithCustomError(b.channels, "MalformedRecord")
        .withArgs(57, 56);
      await expect(call(body2, c1head, locks2))
        .to.emit(b.channels, "ChainExtended")
        .withArgs(ch.id, 0, 2, 3);
      // P1's anchor is still the checkpoint's: its other head is the checkpoint's head 0 (seq 2), not the
      // proven head P0 has now (seq 3)
      await expect(extend(b, ch, 1, 1, 2, 3))
        .to.be.revertedWithCustomError(b.channels, "StateMismatch")
        .withArgs(ch.id);
      await expect(extend(b, ch, 1, 1, 2, 2))
        .to.emit(b.channels, "ChainExtended")
        .withArgs(ch.id, 1, 1, 2);
      // once a payer's head is proven, the other head is not read
      await expect(
        b.channels.extendChain(
          ch.params,
          0,
          packBody(ch.c0.bodies[2]),
          word(1),
          concat(locksAt(ch.c0, 3)),
          ch.c0.signed[3],
        ),
      )
        .to.emit(b.channels, "ChainExtended")
        .withArgs(ch.id, 0, 3, 4);
    });

    it("accepts a piece that starts before the on-chain head and runs through it", async () => {
      const b = await loadFixture(deployBase);
      const ch = await openEth(b);
      const expiry = (await now()) + 10_000n;
      await ch.c0.pay(1n);
      await ch.c0.push(Kind.Lock, 5n, HASHLOCK, expiry);
      for (let i = 0; i < 3; i++) await ch.c0.pay(1n);
      await b.channels.connect(b.bob).proveHead(headProofRecord(ch.params, 0, ch.c0.signed[2]));
      // from genesis and from seq 2 (with its lock list) through the proven seq 3 to 5
      expect(await extend(b, ch, 0, 0, 5).then((tx) => tx.wait())).to.not.equal(null);
      const other = await openEth(b);
      const c0 = other.c0;
      await c0.pay(1n);
      await c0.push(Kind.Lock, 5n, HASHLOCK, expiry);
      for (let i = 0; i < 3; i++) await c0.pay(1n);
      await b.channels.connect(b.bob).proveHead(headProofRecord(other.params, 0, c0.signed[2]));
      await expect(extend(b, other, 0, 2, 5))
        .to.emit(b.channels, "ChainExtended")
        .withArgs(other.id, 0, 3, 5);
      // a piece whose transfer at the on-chain seq is not the on-chain head does not open it
      const fork = copyOf(other);
      fork.c0.bodies.length = 2;
      fork.c0.signed.length = 2;
      fork.c0.paidTotal = 1n;
      fork.c0.lockedTotal = 5n;
      fork.c0.locks = locksAt(other.c0, 2);
      await fork.c0.pay(2n);
      await fork.c0.pay(2n);
      await fork.c0.pay(2n);
      await fork.c0.pay(2n);
      await expect(extend(b, fork, 0, 2, 7))
        .to.be.revertedWithCustomError(b.channels, "StateMismatch")
        .withArgs(other.id);
    });

    it("refuses a start body above the on-chain seq, an empty or partial chain, payer > 1", async () => {
      const b = await loadFixture(deployBase);
      const ch = await openEth(b);
      await ch.c0.pay(1n);
      const t = ch.c0.signed[0];
      await expect(b.channels.extendChain(ch.params, 0, packBody(ch.c0.bodies[0]), ZERO32, "0x", t))
        .to.be.revertedWithCustomError(b.channels, "StateMismatch")
        .withArgs(ch.id);
      // without a checkpoint the other head is not read
      await expect(b.channels.extendChain(ch.params, 0, "0x", ch.c0.head, "0x", t))
        .to.emit(b.channels, "ChainExtended")
        .withArgs(ch.id, 0, 0, 1);
      // an empty piece is refused as such; a piece that ends at the on-chain head brings nothing new
      await expect(
        b.channels.extendChain(ch.params, 0, "0x", ZERO32, "0x", "0x"),
      ).to.be.revertedWithCustomError(b.channels, "EmptyChain");
      await expect(b.channels.extendChain(ch.params, 0, "0x", ZERO32, "0x", t))
        .to.be.revertedWithCustomError(b.channels, "EntryRejected")
        .withArgs(ch.id, Skip.StaleState);
      await expect(b.channels.extendChain(ch.params, 0, "0x", ZERO32, "0x", dataSlice(t, 1)))
        .to.be.revertedWithCustomError(b.channels, "MalformedRecord")
        .withArgs(253, 254);
      await expect(b.channels.extendChain(ch.params, 2, "0x", ZERO32, "0x", t))
        .to.be.revertedWithCustomError(b.channels, "InvalidPayer")
        .withArgs(2);
    });

    it("refuses unknown and settled channels", async () => {
      const b = await loadFixture(deployBase);
      const ch = await openEth(b);
      await ch.c0.pay(1n);
      const unknown = { ...ch.params, nonce: 31_337n };
      await expect(b.channels.extendChain(unknown, 0, "0x", ZERO32, "0x", ch.c0.signed[0]))
        .to.be.revertedWithCustomError(b.channels, "ChannelNotInStatus")
        .withArgs(await b.channels.channelIdOf(unknown), Status.None);
      await extend(b, ch, 0, 0, 1);
      await b.channels.close(ch.params);
      await time.increase(ch.params.challengePeriod);
      await b.channels.settle(...(await settleArgs(b.channels, ch)));
      await ch.c0.pay(1n);
      await expect(extend(b, ch, 0, 1, 2))
        .to.be.revertedWithCustomError(b.channels, "ChannelNotInStatus")
        .withArgs(ch.id, Status.Settled);
    });
  });

  describe("a newer state always wins, however it arrives", () => {
    it("orders checkpoints, head proofs and chain extensions by seq, during the challenge period and after", async () => {
      const b = await loadFixture(deployBase);
      const ch = await openEth(b);
      for (let i = 0; i < 8; i++) await ch.c0.pay(parseEther("0.01"));
      for (let i = 0; i < 4; i++) await ch.c1.pay(parseEther("0.001"));
      const cpAt = (s0: number, s1: number) => checkpointAt(ch, s0, s1);
      await b.channels.checkpoint(await cpAt(3, 2));
      await b.channels.connect(b.bob).close(ch.params);
      // a head proof moves P0 to 5 while closing (it names no heads)
      await b.channels.connect(b.bob).proveHead(headProofRecord(ch.params, 0, ch.c0.signed[4]));
      // an older checkpoint (seq0 4 < 5) still lands in the checkpoint word, but P0 stays at its proven 5;
      // P1 moves to 3
      await expect(b.channels.checkpoint(await cpAt(4, 3)))
        .to.emit(b.channels, "Checkpointed")
        .withArgs(ch.id, 4, 3);
      let s = await stateOf(b.channels, ch.id);
      expect([s.head0, s.head1]).to.deep.equal([5, 3]);
      // the checkpoint word's own order still holds
      await expect(b.channels.checkpoint(await cpAt(4, 2)))
        .to.be.revertedWithCustomError(b.channels, "EntryRejected")
        .withArgs(ch.id, Skip.StaleState);
      await time.increase(ch.params.challengePeriod + 10);
      // after the period ended (not yet settled): a chain extension still counts
      await expect(extend(b, ch, 0, 5, 7, 3))
        .to.emit(b.channels, "ChainExtended")
        .withArgs(ch.id, 0, 5, 7);
      await expect(b.channels.connect(b.bob).proveHead(headProofRecord(ch.params, 0, ch.c0.signed[5])))
        .to.be.revertedWithCustomError(b.channels, "EntryRejected")
        .withArgs(ch.id, Skip.StaleState);
      // a checkpoint at (6, 4) moves P1 but not P0 (proven 7)
      await expect(b.channels.checkpoint(await cpAt(6, 4)))
        .to.emit(b.channels, "Checkpointed")
        .withArgs(ch.id, 6, 4);
      s = await stateOf(b.channels, ch.id);
      expect([s.head0, s.head1]).to.deep.equal([7, 4]);
      await expect(b.channels.checkpoint(await cpAt(8, 4)))
        .to.emit(b.channels, "Checkpointed")
        .withArgs(ch.id, 8, 4);
      s = await stateOf(b.channels, ch.id);
      expect([s.seq0, s.seq1, s.commitment]).to.deep.equal([8, 4, commitment(ch.c0.head, ch.c1.head)]);
      expect([s.head0, s.head1]).to.deep.equal([8, 4]);
      // settle from the newest state: P0 paid 0.08, P1 paid 0.004
      const tx = b.channels.settle(...(await settleArgs(b.channels, ch)));
      await expect(tx).to.changeEtherBalances(
        [b.alice, b.bob, b.channels],
        [parseEther("0.924"), parseEther("1.076"), -parseEther("2")],
      );
      await expect(tx)
        .to.emit(b.channels, "ChannelSettled")
        .withArgs(ch.id, parseEther("0.924"), parseEther("1.076"), 0n, 0n);
    });

    it("settles on a proven head above the checkpoint: heads from the proven word, the checkpoint opened", async () => {
      const b = await loadFixture(deployBase);
      const ch = await openEth(b);
      for (let i = 0; i < 4; i++) await ch.c0.pay(parseEther("0.1"));
      for (let i = 0; i < 2; i++) await ch.c1.pay(parseEther("0.01"));
      await b.channels.checkpoint(
        await checkpointRecord(b.alice, b.bob, b.dom, ch.params, ch.id, 2, headAt(ch.c0, 2), 2, ch.c1.head),
      );
      await b.channels.connect(b.bob).proveHead(headProofRecord(ch.params, 0, ch.c0.signed[3]));
      await b.channels.close(ch.params);
      await time.increase(ch.params.challengePeriod);
      const args = await settleArgs(b.channels, ch);
      // the checkpoint heads must open the commitment, the head bodies must be the on-chain heads
      await expect(b.channels.settle(args[0], args[1], args[2], ZERO32, ZERO32))
        .to.be.revertedWithCustomError(b.channels, "StateMismatch")
        .withArgs(ch.id);
      await expect(b.channels.settle(args[0], packBody(ch.c0.bodies[1]), args[2], args[3], args[4]))
        .to.be.revertedWithCustomError(b.channels, "StateMismatch")
        .withArgs(ch.id);
      await expect(b.channels.settle(...args)).to.changeEtherBalances(
        [b.alice, b.bob],
        [parseEther("0.62"), parseEther("1.38")],
      );
    });
  });
});
