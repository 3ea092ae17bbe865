// HTLC locks inside channels: pots held back at settle, the secret registry, resolveLocks (protocol §3, §5).
import { expect } from "chai";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { concat, parseEther } from "ethers";
import { hashlockOf, Kind, packBody, signTransfer, word, ZERO32 } from "../helpers/kit";
import {
  checkpointOf,
  deployBase,
  headProofRecord,
  now,
  openEth,
  openToken,
  settleArgs,
  stateOf,
  Status,
} from "./fixtures";
import type { Base, Channel } from "./fixtures";

const ONE = parseEther("1");
/** An expiry far beyond a few challenge periods. */
const LONG = 30n * 86_400n;
const S1 = word(0x1111);
const S2 = word(0x2222);
const S3 = word(0x3333);

/** Checkpoints both chains, closes, waits out the period and settles. */
async function settleNow(b: Base, ch: Channel) {
  if (ch.c0.seq + ch.c1.seq > 0) await b.channels.checkpoint(await checkpointOf(b, ch));
  await b.channels.close(ch.params);
  await time.increaseTo((await stateOf(b.channels, ch.id)).closesAt);
  return b.channels.settle(...(await settleArgs(b.channels, ch)));
}

describe("ParsecChannels: HTLC locks, secret registry, resolveLocks", () => {
  describe("registerSecrets", () => {
    it("records when each sha256 preimage first appeared, many per call, first time only", async () => {
      const b = await loadFixture(deployBase);
      const t = (await now()) + 5n;
      await time.setNextBlockTimestamp(t);
      const tx = b.channels.connect(b.carol).registerSecrets([S1, S2]);
      await expect(tx).to.emit(b.channels, "SecretRevealed").withArgs(hashlockOf(S1), S1);
      await expect(tx).to.emit(b.channels, "SecretRevealed").withArgs(hashlockOf(S2), S2);
      expect(await b.channels.secretRevealedAt(hashlockOf(S1))).to.equal(t);
      expect(await b.channels.secretRevealedAt(hashlockOf(S3))).to.equal(0n);
      // keccak is not the hashlock function
      expect(
        await b.channels.secretRevealedAt(b.channels.interface.getAbiCoder().encode(["bytes32"], [S1])),
      ).to.equal(0n);
      await time.increase(100);
      const again = b.channels.registerSecrets([S1, S3]);
      await expect(again).to.emit(b.channels, "SecretRevealed").withArgs(hashlockOf(S3), S3);
      const logs = (await (await again).wait())!.logs;
      expect(logs.length).to.equal(1);
      expect(await b.channels.secretRevealedAt(hashlockOf(S1))).to.equal(t);
    });
  });

  describe("settle with pending locks", () => {
    it("holds each payer's locked amount back in a pot and records its lock list", async () => {
      const b = await loadFixture(deployBase);
      const ch = await openEth(b);
      const expiry = (await now()) + LONG;
      await ch.c0.pay(parseEther("0.1"));
      await ch.c0.push(Kind.Lock, parseEther("0.2"), hashlockOf(S1), expiry);
      await ch.c1.push(Kind.Lock, parseEther("0.3"), hashlockOf(S2), expiry);
      const tx = await settleNow(b, ch);
      // a0 = 1 + 0 - 0.1 = 0.9, pot0 = 0.2; a1 = 1.1, pot1 = 0.3
      await expect(tx)
        .to.emit(b.channels, "ChannelSettled")
        .withArgs(ch.id, parseEther("0.7"), parseEther("0.8"), parseEther("0.2"), parseEther("0.3"));
      await expect(tx).to.changeEtherBalances([b.alice, b.bob], [parseEther("0.7"), parseEther("0.8")]);
      const pending = await b.channels.pendingLocksOf(ch.id);
      expect([
        pending.locksRoot0,
        pending.locksRoot1,
        pending.pot0,
        pending.pot1,
        pending.resolved0,
        pending.resolved1,
      ]).to.deep.equal([
        ch.c0.bodies[1].locksRoot,
        ch.c1.bodies[0].locksRoot,
        parseEther("0.2"),
        parseEther("0.3"),
        0n,
        0n,
      ]);
    });

    it("gives a lock to the payee when its preimage is shown in the call before expiry", async () => {
      const b = await loadFixture(deployBase);
      const ch = await openEth(b);
      const expiry = (await now()) + LONG;
      await ch.c0.push(Kind.Lock, parseEther("0.4"), hashlockOf(S1), expiry);
      await settleNow(b, ch);
      const tx = b.channels.connect(b.carol).resolveLocks(ch.params, 0, concat(ch.c0.locks), [S1]);
      await expect(tx).to.emit(b.channels, "LocksResolved").withArgs(ch.id, 0, 1n, parseEther("0.4"), 0n);
      await expect(tx).to.changeEtherBalances(
        [b.alice, b.bob, b.channels],
        [0n, parseEther("0.4"), -parseEther("0.4")],
      );
      const pending = await b.channels.pendingLocksOf(ch.id);
      expect([pending.locksRoot0, pending.pot0, pending.resolved0]).to.deep.equal([ZERO32, 0n, 0n]);
    });

    it("counts a preimage shown in the call at expiry, but not one shown after it", async () => {
      const b = await loadFixture(deployBase);
      const ch = await openEth(b);
      const late = await openEth(b);
      const expiry = (await now()) + 3n * 86_400n;
      await ch.c0.push(Kind.Lock, 40n, hashlockOf(S1), expiry);
      await late.c0.push(Kind.Lock, 40n, hashlockOf(S1), expiry);
      await settleNow(b, ch);
      await settleNow(b, late);
      await time.setNextBlockTimestamp(expiry);
      await expect(b.channels.resolveLocks(ch.params, 0, concat(ch.c0.locks), [S1]))
        .to.emit(b.channels, "LocksResolved")
        .withArgs(ch.id, 0, 1n, 40n, 0n);
      const tx = b.channels.resolveLocks(late.params, 0, concat(late.c0.locks), [S1]);
      await expect(tx).to.emit(b.channels, "LocksResolved").withArgs(late.id, 0, 1n, 0n, 40n);
      await expect(tx).to.changeEtherBalances([b.alice, b.bob], [40n, 0n]);
    });

    it("counts a secret registered before (or at) expiry even when resolved later without preimages", async () => {
      const b = await loadFixture(deployBase);
      const ch = await openEth(b);
      const expiry = (await now()) + 1_000n;
      await ch.c0.push(Kind.Lock, 10n, hashlockOf(S1), expiry);
      await ch.c0.push(Kind.Lock, 20n, hashlockOf(S2), expiry);
      await ch.c0.push(Kind.Lock, 30n, hashlockOf(S3), expiry);
      await b.channels.registerSecrets([S1]);
      await time.setNextBlockTimestamp(expiry);
      await b.channels.registerSecrets([S2]);
      await b.channels.registerSecrets([S3]); // one second too late
      await settleNow(b, ch);
      const tx = b.channels.resolveLocks(ch.params, 0, concat(ch.c0.locks), []);
      await expect(tx).to.emit(b.channels, "LocksResolved").withArgs(ch.id, 0, 0b111n, 30n, 30n);
      await expect(tx).to.changeEtherBalances([b.alice, b.bob], [30n, 30n]);
    });

    it("returns expired, unrevealed or wrongly revealed locks to the payer", async () => {
      const b = await loadFixture(deployBase);
      const ch = await openEth(b);
      const expiry = (await now()) + LONG;
      const soon = (await now()) + 60n; // expired once the challenge period is over
      await ch.c1.push(Kind.Lock, 10n, hashlockOf(S1), soon);
      await ch.c1.push(Kind.Lock, 20n, hashlockOf(S2), soon);
      await ch.c1.push(Kind.Lock, 30n, hashlockOf(S3), expiry);
      await settleNow(b, ch);
      // S2 is shown for the first lock (wrong hashlock), none for the second, S3 for the third in time
      const tx = b.channels.resolveLocks(ch.params, 1, concat(ch.c1.locks), [S2, ZERO32, S3]);
      await expect(tx).to.emit(b.channels, "LocksResolved").withArgs(ch.id, 1, 0b111n, 30n, 30n);
      await expect(tx).to.changeEtherBalances([b.alice, b.bob], [30n, 30n]);
    });

    it("splits an underfunded pot in list order: each lock takes min(amount, what is left)", async () => {
      const b = await loadFixture(deployBase);
      const both = await openEth(b, ONE, ONE);
      const second = await openEth(b, ONE, ONE);
      const expiry = (await now()) + LONG;
      for (const ch of [both, second]) {
        // P0 had 1 but locked 0.7 + 0.6 after paying 0.2: a0 = 0.8, pot0 = min(1.3, 0.8) = 0.8
        await ch.c0.pay(parseEther("0.2"));
        await ch.c0.push(Kind.Lock, parseEther("0.7"), hashlockOf(S1), expiry);
        await ch.c0.push(Kind.Lock, parseEther("0.6"), hashlockOf(S2), expiry);
        await expect(settleNow(b, ch))
          .to.emit(b.channels, "ChannelSettled")
          .withArgs(ch.id, 0n, parseEther("1.2"), parseEther("0.8"), 0n);
      }
      // both revealed: 0.7 and then the 0.1 left go to the payee
      await expect(
        b.channels.resolveLocks(both.params, 0, concat(both.c0.locks), [S1, S2]),
      ).to.changeEtherBalances([b.alice, b.bob], [0n, parseEther("0.8")]);
      // only the second revealed (registered in time): once the first has expired, its 0.7 returns to the
      // payer and the second gets the 0.1 left
      await b.channels.registerSecrets([S2]);
      await time.increaseTo(expiry + 1n);
      await expect(b.channels.resolveLocks(second.params, 0, concat(second.c0.locks), []))
        .to.emit(b.channels, "LocksResolved")
        .withArgs(second.id, 0, 0b11n, parseEther("0.1"), parseEther("0.7"));
    });

    it("holds no pot for a payer whose locks exceed a zero balance", async () => {
      const b = await loadFixture(deployBase);
      const ch = await openEth(b, ONE, 0n);
      const expiry = (await now()) + LONG;
      await ch.c1.push(Kind.Lock, 5n, hashlockOf(S1), expiry);
      await expect(settleNow(b, ch)).to.emit(b.channels, "ChannelSettled").withArgs(ch.id, ONE, 0n, 0n, 0n);
      await expect(b.channels.resolveLocks(ch.params, 1, concat(ch.c1.locks), [S1]))
        .to.be.revertedWithCustomError(b.channels, "NoPendingLocks")
        .withArgs(ch.id, 1);
    });

    it("resolves token locks", async () => {
      const b = await loadFixture(deployBase);
      const ch = await openToken(b, 1_000n, 0n);
      const expiry = (await now()) + LONG;
      await ch.c0.push(Kind.Lock, 250n, hashlockOf(S1), expiry);
      await settleNow(b, ch);
      await expect(b.channels.resolveLocks(ch.params, 0, concat(ch.c0.locks), [S1])).to.changeTokenBalances(
        b.token,
        [b.alice, b.bob, b.channels],
        [0n, 250n, -250n],
      );
    });
  });

  describe("resolveLocks failures", () => {
    it("refuses channels that are not settled, payer > 1, a second resolve and payers without pot", async () => {
      const b = await loadFixture(deployBase);
      const ch = await openEth(b);
      const expiry = (await now()) + LONG;
      await ch.c0.push(Kind.Lock, 5n, hashlockOf(S1), expiry);
      const locks = concat(ch.c0.locks);
      await expect(b.channels.resolveLocks(ch.params, 0, locks, []))
        .to.be.revertedWithCustomError(b.channels, "ChannelNotInStatus")
        .withArgs(ch.id, Status.Open);
      await b.channels.checkpoint(await checkpointOf(b, ch));
      await b.channels.close(ch.params);
      await expect(b.channels.resolveLocks(ch.params, 0, locks, []))
        .to.be.revertedWithCustomError(b.channels, "ChannelNotInStatus")
        .withArgs(ch.id, Status.Closing);
      await time.increase(ch.params.challengePeriod);
      await b.channels.settle(...(await settleArgs(b.channels, ch)));
      await expect(b.channels.resolveLocks(ch.params, 2, locks, []))
        .to.be.revertedWithCustomError(b.channels, "InvalidPayer")
        .withArgs(2);
      await expect(b.channels.resolveLocks(ch.params, 1, "0x", []))
        .to.be.revertedWithCustomError(b.channels, "NoPendingLocks")
        .withArgs(ch.id, 1);
      // An unrevealed lock may still be revealed until its expiry: returning it early would rob the payee.
      // With nothing else to resolve, the call resolves nothing and says so.
      await expect(b.channels.resolveLocks(ch.params, 0, locks, []))
        .to.be.revertedWithCustomError(b.channels, "NoLockResolvable")
        .withArgs(ch.id, 0);
      await time.setNextBlockTimestamp(expiry); // at expiry the lock is still open
      await expect(b.channels.resolveLocks(ch.params, 0, locks, []))
        .to.be.revertedWithCustomError(b.channels, "NoLockResolvable")
        .withArgs(ch.id, 0);
      await expect(b.channels.resolveLocks(ch.params, 0, locks, []))
        .to.emit(b.channels, "LocksResolved")
        .withArgs(ch.id, 0, 1n, 0n, 5n);
      await expect(b.channels.resolveLocks(ch.params, 0, locks, []))
        .to.be.revertedWithCustomError(b.channels, "NoPendingLocks")
        .withArgs(ch.id, 0);
    });

    it("refuses a lock list that does not hash to the head's locksRoot, is partial, or mismatched preimages", async () => {
      const b = await loadFixture(deployBase);
      const ch = await openEth(b);
      const expiry = (await now()) + LONG;
      await ch.c0.push(Kind.Lock, 5n, hashlockOf(S1), expiry);
      await ch.c0.push(Kind.Lock, 6n, hashlockOf(S2), expiry);
      await settleNow(b, ch);
      const root = ch.c0.bodies[1].locksRoot;
      const [l1, l2] = ch.c0.locks;
      await expect(b.channels.resolveLocks(ch.params, 0, concat([l2, l1]), []))
        .to.be.revertedWithCustomError(b.channels, "LocksMismatch")
        .withArgs(root);
      await expect(b.channels.resolveLocks(ch.params, 0, l1, []))
        .to.be.revertedWithCustomError(b.channels, "LocksMismatch")
        .withArgs(root);
      await expect(b.channels.resolveLocks(ch.params, 0, concat([l1, l2, "0x01"]), []))
        .to.be.revertedWithCustomError(b.channels, "MalformedRecord")
        .withArgs(113, 56);
      await expect(b.channels.resolveLocks(ch.params, 0, concat([l1, l2]), [S1]))
        .to.be.revertedWithCustomError(b.channels, "PreimagesLengthMismatch")
        .withArgs(2, 1);
      await expect(b.channels.resolveLocks(ch.params, 0, concat([l1, l2]), [S1, S2, S3]))
        .to.be.revertedWithCustomError(b.channels, "PreimagesLengthMismatch")
        .withArgs(2, 3);
      await expect(b.channels.resolveLocks(ch.params, 0, concat([l1, l2]), [S1, S2]))
        .to.emit(b.channels, "LocksResolved")
        .withArgs(ch.id, 0, 0b11n, 11n, 0n);
    });

    it("returns a pot whose head lists no locks to the payer", async () => {
      const b = await loadFixture(deployBase);
      const ch = await openEth(b);
      // a head proof of a (payer-signed) body with lockedTotal 9 but no lock list
      await ch.c0.pay(1n);
      const body = { ...ch.c0.bodies[0], lockedTotal: 9n };
      const signed = concat([packBody(body), await signTransfer(b.alice, b.dom, ch.id, 0, body)]);
      await b.channels.connect(b.bob).proveHead(headProofRecord(ch.params, 0, signed));
      await b.channels.close(ch.params);
      await time.increase(ch.params.challengePeriod);
      await expect(b.channels.settle(ch.params, packBody(body), "0x", ZERO32, ZERO32))
        .to.emit(b.channels, "ChannelSettled")
        .withArgs(ch.id, ONE - 10n, ONE + 1n, 9n, 0n);
      await expect(b.channels.resolveLocks(ch.params, 0, "0x", []))
        .to.emit(b.channels, "LocksResolved")
        .withArgs(ch.id, 0, 0n, 0n, 9n);
    });
  });
});
