// Issue 9: each flaw an attacker's review found, performed as the attacker would, and shown to fail now.
import { expect } from "chai";
import hre from "hardhat";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { concat, parseEther, parseUnits } from "ethers";
import type { ContractTransactionResponse } from "ethers";
import {
  checkpointRecord,
  hashlockOf,
  Kind,
  locksRoot,
  packBody,
  packLock,
  transferHash,
  word,
  ZERO32,
} from "../helpers/kit";
import type { Params } from "../helpers/kit";
import {
  checkpointAt,
  coopArgs,
  coopSigs,
  coopTerms,
  DAY,
  deployBase,
  headAt,
  headProof,
  HOUR,
  now,
  openEth,
  openToken,
  settleArgs,
  stateOf,
  Status,
} from "./fixtures";
import type { Base, Channel } from "./fixtures";

const { ethers } = hre;
const ONE = parseEther("1");
const MAX_U64 = 2n ** 64n - 1n;
const S1 = word(0xa1);
const S2 = word(0xa2);
const S3 = word(0xa3);
/** A hashlock nobody knows the preimage of. */
const UNKNOWN = hashlockOf(word(0xdead_beef));

/** Closes the channel as alice, waits out the challenge period and settles from the on-chain heads. */
async function closeAndSettle(b: Base, ch: Channel) {
  await b.channels.close(ch.params);
  await time.increaseTo((await stateOf(b.channels, ch.id)).closesAt);
  return b.channels.settle(...(await settleArgs(b.channels, ch)));
}

describe("ParsecChannels: issue 9 attacks", () => {
  describe("flaw 1: one lock froze every lock of a payer", () => {
    it("a payer's far-future lock no longer freezes the payee's revealed locks", async () => {
      const b = await loadFixture(deployBase);
      const ch = await openEth(b, ONE, ONE);
      const inTime = (await now()) + 3n * BigInt(DAY);
      const soon = (await now()) + BigInt(HOUR);
      // honest locks alice (the payer, the attacker) gave bob, then the attack: 1 wei until 2^64 - 1
      await ch.c0.push(Kind.Lock, parseEther("0.1"), hashlockOf(S1), inTime);
      await ch.c0.push(Kind.Lock, parseEther("0.2"), hashlockOf(S2), inTime);
      await ch.c0.push(Kind.Lock, parseEther("0.05"), hashlockOf(S3), soon);
      await ch.c0.push(Kind.Lock, 1n, UNKNOWN, MAX_U64);
      const pot = parseEther("0.35") + 1n;
      // bob brings alice's newest transfer on-chain and reveals S1 in time; S3 he never learns
      await b.channels.connect(b.bob).proveHead(headProof(ch, 0, 4));
      await b.channels.connect(b.bob).registerSecrets([S1]);
      await expect(closeAndSettle(b, ch))
        .to.emit(b.channels, "ChannelSettled")
        .withArgs(ch.id, ONE - pot, ONE, pot, 0n);
      expect(await now()).to.be.lessThan(inTime);
      const locks = concat(ch.c0.locks);
      // at once: S1 (registered) and S2 (shown now) pay bob, the expired S3 lock returns to alice, and the
      // far lock stays open without holding anything else back (a stranger may call)
      const tx = b.channels.connect(b.carol).resolveLocks(ch.params, 0, locks, [ZERO32, S2, ZERO32, ZERO32]);
      await expect(tx)
        .to.emit(b.channels, "LocksResolved")
        .withArgs(ch.id, 0, 0b0111n, parseEther("0.3"), parseEther("0.05"));
      await expect(tx).to.changeEtherBalances(
        [b.alice, b.bob, b.channels],
        [parseEther("0.05"), parseEther("0.3"), -parseEther("0.35")],
      );
      const pending = await b.channels.pendingLocksOf(ch.id);
      expect([pending.pot0, pending.resolved0]).to.deep.equal([pot, 0b0111n]);
      // no lock resolves twice: with every preimage shown again, nothing is left to decide
      for (const preimages of [[], [S1, S2, S3, ZERO32]]) {
        await expect(b.channels.resolveLocks(ch.params, 0, locks, preimages))
          .to.be.revertedWithCustomError(b.channels, "NoLockResolvable")
          .withArgs(ch.id, 0);
      }
      // the pot never pays more than it holds: only the far lock's 1 wei is left in the contract
      expect(await ethers.provider.getBalance(b.address)).to.equal(1n);
      await time.increase(365 * DAY);
      await expect(b.channels.resolveLocks(ch.params, 0, locks, []))
        .to.be.revertedWithCustomError(b.channels, "NoLockResolvable")
        .withArgs(ch.id, 0);
    });

    it("a far lock returns to the payer once it expires, and then the payer's entry clears", async () => {
      const b = await loadFixture(deployBase);
      const ch = await openEth(b, ONE, ONE);
      const inTime = (await now()) + 3n * BigInt(DAY);
      const far = (await now()) + 10n * 365n * BigInt(DAY);
      await ch.c0.push(Kind.Lock, parseEther("0.1"), hashlockOf(S1), inTime);
      await ch.c0.push(Kind.Lock, 1n, UNKNOWN, far);
      await b.channels.connect(b.bob).proveHead(headProof(ch, 0, 2));
      await closeAndSettle(b, ch);
      const locks = concat(ch.c0.locks);
      await expect(b.channels.connect(b.bob).resolveLocks(ch.params, 0, locks, [S1, ZERO32]))
        .to.emit(b.channels, "LocksResolved")
        .withArgs(ch.id, 0, 0b01n, parseEther("0.1"), 0n);
      // at its expiry the far lock is still open (its payee may reveal until then)
      await time.setNextBlockTimestamp(far);
      await expect(b.channels.resolveLocks(ch.params, 0, locks, []))
        .to.be.revertedWithCustomError(b.channels, "NoLockResolvable")
        .withArgs(ch.id, 0);
      const tx = b.channels.resolveLocks(ch.params, 0, locks, []);
      await expect(tx).to.emit(b.channels, "LocksResolved").withArgs(ch.id, 0, 0b10n, 0n, 1n);
      await expect(tx).to.changeEtherBalances([b.alice, b.bob], [1n, 0n]);
      const pending = await b.channels.pendingLocksOf(ch.id);
      expect([pending.locksRoot0, pending.pot0, pending.resolved0]).to.deep.equal([ZERO32, 0n, 0n]);
      await expect(b.channels.resolveLocks(ch.params, 0, locks, []))
        .to.be.revertedWithCustomError(b.channels, "NoPendingLocks")
        .withArgs(ch.id, 0);
      expect(await ethers.provider.getBalance(b.address)).to.equal(0n);
    });

    it("an overdrawn payer's pot is shared by list order, whatever order the calls resolve the locks in", async () => {
      const b = await loadFixture(deployBase);
      const x = await openEth(b, ONE, 0n);
      const y = await openEth(b, ONE, 0n);
      const expiry = (await now()) + 3n * BigInt(DAY);
      for (const ch of [x, y]) {
        // alice had 1, paid 0.5 and locked 0.3 + 0.4 + 0.2: pot0 = 0.5; shares 0.3, 0.2, 0 by list order
        await ch.c0.pay(parseEther("0.5"));
        await ch.c0.push(Kind.Lock, parseEther("0.3"), hashlockOf(S1), expiry);
        await ch.c0.push(Kind.Lock, parseEther("0.4"), hashlockOf(S2), expiry);
        await ch.c0.push(Kind.Lock, parseEther("0.2"), hashlockOf(S3), expiry);
        await b.channels.connect(b.bob).proveHead(headProof(ch, 0, 4));
        await expect(closeAndSettle(b, ch))
          .to.emit(b.channels, "ChannelSettled")
          .withArgs(ch.id, 0n, parseEther("0.5"), parseEther("0.5"), 0n);
      }
      // x: the second lock is revealed first and takes only its share 0.2 (not its 0.4); the third has no
      // share and resolves at once; the first is decided later
      await expect(b.channels.resolveLocks(x.params, 0, concat(x.c0.locks), [ZERO32, S2, ZERO32]))
        .to.emit(b.channels, "LocksResolved")
        .withArgs(x.id, 0, 0b110n, parseEther("0.2"), 0n);
      // y: the first lock is revealed first and takes its share 0.3
      await expect(b.channels.resolveLocks(y.params, 0, concat(y.c0.locks), [S1, ZERO32, ZERO32]))
        .to.emit(b.channels, "LocksResolved")
        .withArgs(y.id, 0, 0b101n, parseEther("0.3"), 0n);
      await time.increaseTo(expiry + 1n);
      // the rest expired unrevealed: each returns exactly its share to the payer
      await expect(b.channels.resolveLocks(x.params, 0, concat(x.c0.locks), []))
        .to.emit(b.channels, "LocksResolved")
        .withArgs(x.id, 0, 0b001n, 0n, parseEther("0.3"));
      await expect(b.channels.resolveLocks(y.params, 0, concat(y.c0.locks), []))
        .to.emit(b.channels, "LocksResolved")
        .withArgs(y.id, 0, 0b010n, 0n, parseEther("0.2"));
      // both pots paid exactly 0.5 and nothing is left
      expect(await ethers.provider.getBalance(b.address)).to.equal(0n);
      for (const ch of [x, y]) {
        await expect(b.channels.resolveLocks(ch.params, 0, concat(ch.c0.locks), []))
          .to.be.revertedWithCustomError(b.channels, "NoPendingLocks")
          .withArgs(ch.id, 0);
      }
    });

    it("a settled list of more than 64 locks cannot be resolved, so no lock beyond the bitmap is paid twice", async () => {
      const b = await loadFixture(deployBase);
      // Other channels' money sits in the same contract: the target of a double payment.
      await openEth(b, parseEther("100"), 0n, DAY, b.carol, b.dave);
      const ch = await openEth(b, ONE, 0n, HOUR);
      const t0 = await now();
      const secrets = Array.from({ length: 64 }, (_, i) => word(0x1000 + i));
      const locks = secrets.map((secret) => packLock(1n, t0 + 100_000n, hashlockOf(secret)));
      // Lock 64 is past the 64 bits of the resolved mask; both participants signed the head (a checkpoint).
      locks.push(packLock(ONE - 64n, t0 + 10n, UNKNOWN));
      const body = {
        seq: 1,
        kind: Kind.Lock,
        amount: 1n,
        paidTotal: 0n,
        lockedTotal: ONE,
        locksRoot: locksRoot(locks),
        hashlock: hashlockOf(word(1)),
        expiry: 1n,
        invoiceId: ZERO32,
        prev: ZERO32,
      };
      const head0 = transferHash(ch.id, 0, body);
      await b.channels.checkpoint(
        await checkpointRecord(b.alice, b.bob, b.dom, ch.params, ch.id, 1, head0, 0, ZERO32),
      );
      await b.channels.close(ch.params);
      await time.increaseTo((await stateOf(b.channels, ch.id)).closesAt);
      await b.channels.settle(ch.params, packBody(body), "0x", head0, ZERO32);
      const held = await ethers.provider.getBalance(b.address);
      const preimages = locks.map((_, i) => (i === 0 ? secrets[0] : ZERO32));
      await expect(b.channels.connect(b.carol).resolveLocks(ch.params, 0, concat(locks), preimages))
        .to.be.revertedWithCustomError(b.channels, "LockListTooLong")
        .withArgs(65, 64);
      expect(await ethers.provider.getBalance(b.address)).to.equal(held);
    });
  });

  describe("flaw 2: evidence could be blocked by front-running", () => {
    /** Mines one block at `timestamp` with whatever is in the mempool; returns the receipts in block order. */
    async function mine(timestamp: bigint, txs: ContractTransactionResponse[]) {
      await ethers.provider.send("evm_setNextBlockTimestamp", [Number(timestamp)]);
      await ethers.provider.send("evm_mine", []);
      const receipts = await Promise.all(txs.map((tx) => tx.wait()));
      return receipts.map((r) => {
        if (!r) throw new Error("not mined");
        return r;
      });
    }
    const attackerFees = {
      maxPriorityFeePerGas: parseUnits("50", "gwei"),
      maxFeePerGas: parseUnits("500", "gwei"),
    };
    const victimFees = {
      maxPriorityFeePerGas: parseUnits("1", "gwei"),
      maxFeePerGas: parseUnits("500", "gwei"),
    };
    const gasLimit = 2_000_000n;

    afterEach(async () => {
      await ethers.provider.send("evm_setAutomine", [true]);
    });

    it("the victim's evidence lands in every block although the attacker front-runs it for a whole challenge period", async () => {
      const b = await loadFixture(deployBase);
      // attacker A = alice (P0), victim V = bob (P1); A paid V a lot
      const ch = await openEth(b, parseEther("10"), parseEther("10"), HOUR);
      const ROUNDS = 6;
      for (let i = 0; i < 3 * ROUNDS + 2; i++) await ch.c0.pay(parseEther("0.25"));
      for (let i = 0; i < ROUNDS + 1; i++) await ch.c1.pay(parseEther("0.01"));
      // the old state both signed: A at seq 2, V at seq 1; A closes on it
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
      await b.channels.connect(b.alice).close(ch.params);
      const closesAt = (await stateOf(b.channels, ch.id)).closesAt;

      await ethers.provider.send("evm_setAutomine", [false]);
      const A = b.channels.connect(b.alice);
      const V = b.channels.connect(b.bob);
      const step = (closesAt - (await now()) - 10n) / BigInt(ROUNDS);
      let at = await now();
      for (let round = 1; round <= ROUNDS; round++) {
        // V builds its evidence from what is on-chain now ...
        const s = await stateOf(b.channels, ch.id);
        const target = s.head0 + 3 > ch.c0.seq ? ch.c0.seq : s.head0 + 3;
        let victim: ContractTransactionResponse;
        if (round % 2 === 1) {
          // a chain piece from A's current on-chain head (the checkpoint's head in round 1)
          victim = await V.extendChain(
            ch.params,
            0,
            packBody(ch.c0.bodies[s.head0 - 1]),
            headAt(ch.c1, s.seq1),
            "0x",
            concat(ch.c0.signed.slice(s.head0, target)),
            { gasLimit, ...victimFees },
          );
        } else {
          victim = await V.proveHead(headProof(ch, 0, target), { gasLimit, ...victimFees });
        }
        // ... A sees it in the mempool and front-runs it, paying more: it proves one more of V's own
        // transfers (A is the payee of V's chain) and moves its own chain on by one. Before issue 9 each of
        // these changed a head V's evidence had to name, so V's call reverted (StateChanged / StateMismatch)
        // and, repeated every block, the period ran out on the old state.
        const a1 = await A.proveHead(headProof(ch, 1, s.head1 + 1), { gasLimit, ...attackerFees });
        const a2 = await A.extendChain(
          ch.params,
          0,
          packBody(ch.c0.bodies[s.head0 - 1]),
          headAt(ch.c1, s.seq1),
          "0x",
          ch.c0.signed[s.head0],
          { gasLimit, ...attackerFees },
        );
        at += step;
        const [rv, r1, r2] = await mine(at, [victim, a1, a2]);
        // the attacker's transactions came first in the block, and every one of the three landed
        expect(r1.blockNumber).to.equal(rv.blockNumber);
        expect(r1.index).to.be.lessThan(rv.index);
        expect(r2.index).to.be.lessThan(rv.index);
        expect([r1.status, r2.status, rv.status]).to.deep.equal([1, 1, 1]);
        const after = await stateOf(b.channels, ch.id);
        expect([after.head0, after.head1]).to.deep.equal([target, s.head1 + 1]);
      }
      expect(await now()).to.be.lessThan(closesAt);
      await ethers.provider.send("evm_setAutomine", [true]);
      // V's newest state of A's chain made it; V's own chain is on-chain in full (A proved it)
      const s = await stateOf(b.channels, ch.id);
      expect([s.head0, s.head1]).to.deep.equal([ch.c0.seq, ch.c1.seq]);
      await time.increaseTo(closesAt);
      // a0 = 10 + paid1 - paid0 = 10 + 0.07 - 5 = 5.07, a1 = 14.93 (on the old state it was 9.51 / 10.49)
      const tx = b.channels.settle(...(await settleArgs(b.channels, ch)));
      await expect(tx)
        .to.emit(b.channels, "ChannelSettled")
        .withArgs(ch.id, parseEther("5.07"), parseEther("14.93"), 0n, 0n);
    });

    it("a head proof lands when a co-signed checkpoint front-runs it", async () => {
      const b = await loadFixture(deployBase);
      const ch = await openEth(b, ONE, ONE, HOUR);
      for (let i = 0; i < 5; i++) await ch.c0.pay(parseEther("0.1"));
      for (let i = 0; i < 3; i++) await ch.c1.pay(parseEther("0.01"));
      const cp = (s0: number, s1: number) => checkpointAt(ch, s0, s1);
      await b.channels.checkpoint(await cp(1, 1));
      await b.channels.connect(b.alice).close(ch.params);
      await ethers.provider.send("evm_setAutomine", [false]);
      // V proves A's newest transfer; A front-runs with an older co-signed checkpoint that moves both seqs
      // (before issue 9 the proof named the heads and failed with StateChanged)
      const victim = await b.channels
        .connect(b.bob)
        .proveHead(headProof(ch, 0, 5), { gasLimit, ...victimFees });
      const attack = await b.channels
        .connect(b.alice)
        .checkpoint(await cp(2, 3), { gasLimit, ...attackerFees });
      const [rv, ra] = await mine((await now()) + 10n, [victim, attack]);
      expect(ra.index).to.be.lessThan(rv.index);
      expect([ra.status, rv.status]).to.deep.equal([1, 1]);
      await ethers.provider.send("evm_setAutomine", [true]);
      const s = await stateOf(b.channels, ch.id);
      expect([s.seq0, s.seq1, s.head0, s.head1]).to.deep.equal([2, 3, 5, 3]);
      await time.increaseTo(s.closesAt);
      await expect(b.channels.settle(...(await settleArgs(b.channels, ch))))
        .to.emit(b.channels, "ChannelSettled")
        .withArgs(ch.id, parseEther("0.53"), parseEther("1.47"), 0n, 0n);
    });
  });

  describe("flaw 3: an old cooperative close could be replayed", () => {
    it("refuses a close signed at seqs below a later checkpoint or head proof (CooperativeCloseStale)", async () => {
      const b = await loadFixture(deployBase);
      const ch = await openEth(b, ONE, ONE);
      await ch.c0.pay(parseEther("0.5"));
      // a split both signed when alice had paid 0.5: generous to alice by today's standards
      const old = await coopArgs(b, ch, parseEther("0.5"), parseEther("1.5"), {
        expiry: (await now()) + 30n * BigInt(DAY),
      });
      await ch.c0.pay(parseEther("0.3"));
      await ch.c1.pay(parseEther("0.1"));
      await b.channels.checkpoint(
        await checkpointRecord(b.alice, b.bob, b.dom, ch.params, ch.id, 2, ch.c0.head, 1, ch.c1.head),
      );
      await expect(b.channels.cooperativeClose(...old))
        .to.be.revertedWithCustomError(b.channels, "CooperativeCloseStale")
        .withArgs(0, 1, 2);
      // stale in payer 1's seq only
      const staleOne = await coopArgs(b, ch, parseEther("0.8"), parseEther("1.2"), { seq1: 0 });
      await expect(b.channels.cooperativeClose(...staleOne))
        .to.be.revertedWithCustomError(b.channels, "CooperativeCloseStale")
        .withArgs(1, 0, 1);
      // a head proof counts the same as a checkpoint
      await ch.c0.pay(parseEther("0.1"));
      await b.channels.connect(b.bob).proveHead(headProof(ch, 0, 3));
      const atTwo = await coopArgs(b, ch, parseEther("0.8"), parseEther("1.2"), { seq0: 2 });
      await expect(b.channels.cooperativeClose(...atTwo))
        .to.be.revertedWithCustomError(b.channels, "CooperativeCloseStale")
        .withArgs(0, 2, 3);
      // the current one works: alice paid 0.9, bob 0.1
      const current = await coopArgs(b, ch, parseEther("0.2"), parseEther("1.8"));
      await expect(b.channels.cooperativeClose(...current)).to.changeEtherBalances(
        [b.alice, b.bob],
        [parseEther("0.2"), parseEther("1.8")],
      );
    });

    it("refuses an expired close (CooperativeCloseExpired); one used at its expiry still counts", async () => {
      const b = await loadFixture(deployBase);
      const ch = await openEth(b, ONE, ONE);
      const other = await openEth(b, ONE, ONE);
      const expiry = (await now()) + BigInt(HOUR);
      const late = await coopArgs(b, ch, ONE, ONE, { expiry });
      const onTime = await coopArgs(b, other, ONE, ONE, { expiry });
      await time.setNextBlockTimestamp(expiry);
      await expect(b.channels.cooperativeClose(...onTime)).to.emit(b.channels, "ChannelClosedCooperatively");
      await expect(b.channels.cooperativeClose(...late))
        .to.be.revertedWithCustomError(b.channels, "CooperativeCloseExpired")
        .withArgs(expiry);
    });

    it("during a dispute an old or expired close is refused the same way, and a current one works", async () => {
      const b = await loadFixture(deployBase);
      const ch = await openEth(b, ONE, ONE);
      await ch.c0.pay(parseEther("0.2"));
      const old = await coopArgs(b, ch, parseEther("0.8"), parseEther("1.2"), {
        expiry: (await now()) + 30n * BigInt(DAY),
      });
      await ch.c0.pay(parseEther("0.4"));
      // signed at the current seqs, but only for a minute
      const shortLived = await coopArgs(b, ch, parseEther("0.4"), parseEther("1.6"), {
        expiry: (await now()) + 60n,
      });
      // alice closes at the old state; bob brings her newest transfer on-chain
      await b.channels.connect(b.alice).close(ch.params);
      await b.channels.connect(b.bob).proveHead(headProof(ch, 0, 2));
      expect((await stateOf(b.channels, ch.id)).status).to.equal(Status.Closing);
      await expect(b.channels.cooperativeClose(...old))
        .to.be.revertedWithCustomError(b.channels, "CooperativeCloseStale")
        .withArgs(0, 1, 2);
      await time.increase(120);
      await expect(b.channels.cooperativeClose(...shortLived))
        .to.be.revertedWithCustomError(b.channels, "CooperativeCloseExpired")
        .withArgs(shortLived[1].expiry);
      const terms = await coopTerms(ch, parseEther("0.4"), parseEther("1.6"));
      await expect(b.channels.cooperativeClose(ch.params, terms, ...(await coopSigs(b, ch, terms))))
        .to.emit(b.channels, "ChannelClosedCooperatively")
        .withArgs(ch.id, parseEther("0.4"), parseEther("1.6"));
      expect((await stateOf(b.channels, ch.id)).status).to.equal(Status.Settled);
    });
  });

  describe("flaw 4: a token hook could undo a close during a deposit", () => {
    async function withHookedToken() {
      const b = await deployBase();
      const hooked = await ethers.deployContract("HookedToken");
      await hooked.mint(b.alice.address, 1_000_000n);
      await hooked.connect(b.alice).approve(b.address, ethers.MaxUint256);
      return { ...b, hooked, hookedAddress: await hooked.getAddress() };
    }

    /** A token channel alice (P0) ↔ the token contract itself (P1), so that its hook may call `close`. */
    function paramsWith(token: string, alice: string, nonce: bigint): Params {
      return { participant0: alice, participant1: token, asset: token, challengePeriod: DAY, nonce };
    }

    it("a hook that closes the channel during depositToken makes the deposit revert; the close is never undone", async () => {
      const b = await loadFixture(withHookedToken);
      const params = paramsWith(b.hookedAddress, b.alice.address, 1n);
      await b.channels.openToken(b.hookedAddress, b.hookedAddress, DAY, 1n, 1_000n);
      const id = await b.channels.channelIdOf(params);
      const closeCall = b.channels.interface.encodeFunctionData("close", [params]);
      await b.hooked.setHook(b.address, closeCall);
      // the hook's close succeeds inside the pull (the token is P1); the deposit then finds the channel
      // closing and reverts, taking the whole transaction with it. Before issue 9 the deposit wrote back the
      // record word it read before the pull: the channel was Open again and the closing had vanished.
      await expect(b.channels.depositToken(params, 0, 500n))
        .to.be.revertedWithCustomError(b.channels, "ChannelNotInStatus")
        .withArgs(id, Status.Closing);
      let s = await stateOf(b.channels, id);
      expect([s.status, s.deposit0, s.closesAt]).to.deep.equal([Status.Open, 1_000n, 0n]);
      // the hook closing on its own (any transferFrom of the token) stays closed, and deposits are refused
      const closing = b.hooked.transferFrom(b.alice.address, b.bob.address, 0n);
      await expect(closing).to.emit(b.channels, "ChannelClosing");
      s = await stateOf(b.channels, id);
      expect(s.status).to.equal(Status.Closing);
      await b.hooked.setHook(ethers.ZeroAddress, "0x");
      await expect(b.channels.depositToken(params, 0, 500n))
        .to.be.revertedWithCustomError(b.channels, "ChannelNotInStatus")
        .withArgs(id, Status.Closing);
      expect((await stateOf(b.channels, id)).status).to.equal(Status.Closing);
      expect(await b.hooked.balanceOf(b.address)).to.equal(1_000n);
    });

    it("a hook that closes the channel being opened during openToken makes the open revert", async () => {
      const b = await loadFixture(withHookedToken);
      const params = paramsWith(b.hookedAddress, b.alice.address, 2n);
      const id = await b.channels.channelIdOf(params);
      await b.hooked.setHook(b.address, b.channels.interface.encodeFunctionData("close", [params]));
      await expect(b.channels.openToken(b.hookedAddress, b.hookedAddress, DAY, 2n, 1_000n))
        .to.be.revertedWithCustomError(b.channels, "ChannelNotInStatus")
        .withArgs(id, Status.Closing);
      expect((await stateOf(b.channels, id)).status).to.equal(Status.None);
      await b.hooked.setHook(ethers.ZeroAddress, "0x");
      await b.channels.openToken(b.hookedAddress, b.hookedAddress, DAY, 2n, 1_000n);
      const s = await stateOf(b.channels, id);
      expect([s.status, s.deposit0]).to.deep.equal([Status.Open, 1_000n]);
    });
  });

  describe("flaw 5: a negative rebase fell on whoever was paid last", () => {
    it("shares the loss pro rata across channels, pays no more than it holds, scales credits too", async () => {
      const b = await loadFixture(deployBase);
      const token = await ethers.deployContract("BlockableRebasingToken");
      const asset = await token.getAddress();
      for (const s of [b.alice, b.bob]) {
        await token.mint(s.address, 100_000n);
        await token.connect(s).approve(b.address, ethers.MaxUint256);
      }
      const x = await openToken(b, 1_000n, 1_000n, asset);
      const y = await openToken(b, 600n, 400n, asset);
      const z = await openToken(b, 2_000n, 0n, asset);
      // a negative rebase takes 20% of what the contract holds
      await token.slash(b.address, 1_000n);
      expect(await token.balanceOf(b.address)).to.equal(4_000n);
      // no new deposit of the shrunk token: new money never covers the old loss
      await expect(b.channels.connect(b.bob).depositToken(x.params, 1, 10n))
        .to.be.revertedWithCustomError(b.channels, "TokenBalanceShrank")
        .withArgs(asset, 5_000n, 4_000n);
      await expect(openToken(b, 10n, 0n, asset))
        .to.be.revertedWithCustomError(b.channels, "TokenBalanceShrank")
        .withArgs(asset, 5_000n, 4_000n);

      const shares: [bigint, bigint][] = [];
      const record = async (tx: Promise<ContractTransactionResponse>) => {
        const receipt = await (await tx).wait();
        for (const log of receipt!.logs) {
          const e = b.channels.interface.parseLog(log);
          if (e?.name === "TokenShortfallShared") {
            expect(e.args.token).to.equal(asset);
            shares.push([e.args.owed, e.args.paid]);
          }
        }
      };
      // x closes cooperatively; bob cannot receive for now, so his payout is credited at its full claim
      await token.blockRecipient(b.bob.address);
      await record(b.channels.cooperativeClose(...(await coopArgs(b, x, 700n, 1_300n))));
      expect(await b.channels.creditOf(b.bob.address, asset)).to.equal(1_300n);
      // y settles unilaterally
      await y.c0.pay(100n);
      await b.channels.connect(b.bob).proveHead(headProof(y, 0, 1));
      await token.blockRecipient(ethers.ZeroAddress);
      await record(closeAndSettle(b, y));
      // z closes cooperatively
      await record(b.channels.cooperativeClose(...(await coopArgs(b, z, 1_500n, 500n))));
      // bob pulls his credit: scaled by the same fraction
      const pull = b.channels.connect(b.bob).withdrawCredit(asset);
      await expect(pull).to.emit(b.channels, "CreditWithdrawn").withArgs(b.bob.address, asset, 1_300n);
      await record(pull);
      // every payout (pushed or pulled) got the same 4/5 of its claim
      for (const [owed, paid] of [
        [700n, 560n],
        [500n, 400n],
        [500n, 400n],
        [1_500n, 1_200n],
        [500n, 400n],
        [1_300n, 1_040n],
      ]) {
        expect(shares).to.deep.include([owed, paid]);
      }
      for (const [owed, paid] of shares) expect(paid * 5n).to.equal(owed * 4n);
      // all that was held, and not a unit more, went out
      expect(await token.balanceOf(b.address)).to.equal(0n);
      expect(await b.channels.creditOf(b.bob.address, asset)).to.equal(0n);
      expect(await token.balanceOf(b.alice.address)).to.equal(100_000n - 3_600n + 560n + 400n + 1_200n);
      expect(await token.balanceOf(b.bob.address)).to.equal(100_000n - 1_400n + 400n + 400n + 1_040n);
    });
  });
});
