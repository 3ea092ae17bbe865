import { expect } from "chai";
import fc from "fast-check";
import {
  ChannelLedger,
  GENESIS_STATE,
  MAX_UINT128,
  TransferKind,
  ZERO_HASH,
  applyTransfer,
  buildTransfer,
  hashTransfer,
  hashlockOf,
  locksRootOf,
  resolveLocksOutcome,
  settlementOutcome,
  signTransferUnjournaled,
  toTransfer,
  type Hash,
  type Lock,
  type Transfer,
  type TransferOp,
} from "../../sdk";
import { expectCode, ledgerOf, makeChannel, pays, signChain } from "./helpers";

const ch = makeChannel();
const origin = { channelId: ch.channelId, payer: 0 as const };
const lockOf = (n: number, amount = 10n, expiry = 1_000n): Lock => ({
  amount,
  expiry,
  hashlock: hashlockOf(("0x" + n.toString(16).padStart(64, "0")) as Hash),
});

function next(state = GENESIS_STATE, op: TransferOp): Transfer {
  return buildTransfer(state, origin, op);
}

describe("sdk/payer-state: the transition rule of protocol §3", () => {
  it("PAY, LOCK, UNLOCK, CANCEL move paidTotal, lockedTotal, locksRoot and pending locks", () => {
    const a = lockOf(1, 30n);
    const b = lockOf(2, 20n);
    let s = GENESIS_STATE;
    const steps: [TransferOp, bigint, bigint, number][] = [
      [{ kind: "PAY", amount: 5n }, 5n, 0n, 0],
      [{ kind: "LOCK", ...a }, 5n, 30n, 1],
      [{ kind: "LOCK", ...b }, 5n, 50n, 2],
      [{ kind: "LOCK", ...a }, 5n, 80n, 3],
      [{ kind: "UNLOCK", lock: a }, 35n, 50n, 2],
      [{ kind: "CANCEL", lock: b }, 35n, 30n, 1],
    ];
    for (const [op, paid, locked, n] of steps) {
      const t = next(s, op);
      s = applyTransfer(s, t, { now: 2_000n });
      expect([s.paidTotal, s.lockedTotal, s.locks.length]).to.deep.equal([paid, locked, n]);
      expect(s.locksRoot).to.equal(locksRootOf(s.locks));
      expect(s.head).to.equal(hashTransfer(t));
    }
    // UNLOCK removed the first of the two equal locks: the one left is the second `a`.
    expect(s.locks).to.deep.equal([a]);
    expect(locksRootOf([])).to.equal(ZERO_HASH);
  });

  it("reports each broken rule with its typed error", () => {
    const t1 = next(GENESIS_STATE, { kind: "PAY", amount: 5n });
    const s1 = applyTransfer(GENESIS_STATE, t1);
    const t2 = next(s1, { kind: "PAY", amount: 1n });
    expectCode(() => applyTransfer(GENESIS_STATE, t2), "SeqGap");
    expectCode(
      () => applyTransfer(s1, { ...t2, prev: ("0x" + "11".repeat(32)) as Hash }),
      "BrokenHashPointer",
    );
    expectCode(() => applyTransfer(s1, { ...t2, paidTotal: 7n }), "PaidTotalMismatch");
    expectCode(() => applyTransfer(s1, { ...t2, lockedTotal: 1n }), "LockedTotalMismatch");
    expectCode(
      () => applyTransfer(s1, { ...t2, locksRoot: ("0x" + "22".repeat(32)) as Hash }),
      "LocksRootMismatch",
    );
    expectCode(() => next(s1, { kind: "UNLOCK", lock: lockOf(9) }), "LockNotPending");
    expectCode(() => next(s1, { kind: "PAY", amount: 0n }), "InvalidTransferFields");
    expectCode(
      () => next(s1, { kind: "LOCK", amount: 1n, expiry: 0n, hashlock: lockOf(1).hashlock }),
      "InvalidTransferFields",
    );
    const big = applyTransfer(GENESIS_STATE, next(GENESIS_STATE, { kind: "PAY", amount: MAX_UINT128 }));
    expectCode(() => next(big, { kind: "PAY", amount: 1n }), "Overflow");
    // CANCEL only after expiry, and not when the secret was revealed in time.
    const l = lockOf(3, 10n, 500n);
    const locked = applyTransfer(s1, next(s1, { kind: "LOCK", ...l }));
    const cancel = next(locked, { kind: "CANCEL", lock: l });
    expectCode(() => applyTransfer(locked, cancel, { now: 500n }), "CancelNotAllowed");
    expectCode(
      () => applyTransfer(locked, cancel, { now: 501n, revealedInTime: () => true }),
      "CancelNotAllowed",
    );
    expect(applyTransfer(locked, cancel, { now: 501n }).lockedTotal).to.equal(0n);
  });

  it("at most 64 locks may be pending", () => {
    let s = GENESIS_STATE;
    for (let i = 0; i < 64; i++) s = applyTransfer(s, next(s, { kind: "LOCK", ...lockOf(i + 1, 1n) }));
    expect(s.locks).to.have.length(64);
    expectCode(() => next(s, { kind: "LOCK", ...lockOf(99, 1n) }), "TooManyLocks");
    const forged: Transfer = toTransfer({
      ...s,
      ...origin,
      seq: s.seq + 1,
      kind: TransferKind.Lock,
      amount: 1n,
      hashlock: lockOf(99).hashlock,
      expiry: 1n,
      invoiceId: ZERO_HASH,
      prev: s.head,
      paidTotal: 0n,
      lockedTotal: 65n,
      locksRoot: ZERO_HASH,
    });
    expectCode(() => applyTransfer(s, forged), "TooManyLocks");
  });
});

describe("sdk/chain: ChannelLedger balances after every transfer", () => {
  it("available = deposit − paid + received − locked, after each transfer of either payer", () => {
    const ledger = ledgerOf(ch, 100n, 50n);
    const l = lockOf(7, 20n);
    const t0 = signChain(ch, 0, [
      { kind: "PAY", amount: 30n },
      { kind: "LOCK", ...l },
    ]).transfers;
    const t1 = signChain(ch, 1, [{ kind: "PAY", amount: 10n }]).transfers;
    const b1 = ledger.apply(t0[0]).balances;
    expect([b1.available0, b1.available1]).to.deep.equal([70n, 80n]);
    const b2 = ledger.apply(t1[0]).balances;
    expect([b2.available0, b2.available1]).to.deep.equal([80n, 70n]);
    const b3 = ledger.apply(t0[1]).balances;
    expect(b3).to.deep.equal({
      deposit0: 100n,
      deposit1: 50n,
      paid0: 30n,
      paid1: 10n,
      locked0: 20n,
      locked1: 0n,
      available0: 60n,
      available1: 70n,
    });
    expect(ledger.history(0).map((e) => e.balances.available0)).to.deep.equal([70n, 60n]);
    expect(ledger.checkpoint()).to.deep.equal({
      channelId: ch.channelId,
      seq0: 2,
      head0: t0[1].hash,
      seq1: 1,
      head1: t1[0].hash,
    });
    expect(ledger.settlement()).to.deep.equal({ payout0: 60n, payout1: 70n, pot0: 20n, pot1: 0n });
  });

  it("rejects overdrafts, foreign channels and foreign signatures", () => {
    const ledger = ledgerOf(ch, 10n, 0n);
    const [ok, tooMuch] = signChain(ch, 0, [
      { kind: "PAY", amount: 10n },
      { kind: "PAY", amount: 1n },
    ]).transfers;
    ledger.apply(ok);
    expectCode(() => ledger.apply(tooMuch), "InsufficientBalance");
    const other = makeChannel({ nonce: 99n });
    expectCode(() => ledger.apply(signChain(other, 1, pays(1)).transfers[0]), "WrongChannel");
    const t = buildTransfer(
      GENESIS_STATE,
      { channelId: ch.channelId, payer: 1 },
      { kind: "PAY", amount: 1n },
    );
    expectCode(() => ledger.apply(signTransferUnjournaled(ch.signers[0], ch.domain, t)), "BadSignature");
    // Without deposits, funds are not enforced (a relayer may not know them yet).
    const open = new ChannelLedger({ domain: ch.domain, params: ch.params });
    open.apply(ok);
    expect(open.balances().available0).to.equal(-10n);
  });

  it("starts at a base transfer and prunes", () => {
    const { transfers } = signChain(ch, 0, [...pays(3), { kind: "LOCK", ...lockOf(5, 4n) }, ...pays(2)]);
    const full = ledgerOf(ch);
    transfers.forEach((t) => full.apply(t));
    const late = ledgerOf(ch);
    late.startAt(transfers[3], full.stateAt(0, 4).locks);
    transfers.slice(4).forEach((t) => late.apply(t));
    expect(late.state(0)).to.deep.equal(full.state(0));
    expect(late.baseSeq(0)).to.equal(4);
    expectCode(() => late.transfer(0, 2), "Malformed");
    expectCode(() => ledgerOf(ch).startAt(transfers[3], []), "LocksRootMismatch");
    full.prune(0, 5);
    expect(full.baseSeq(0)).to.equal(5);
    expect(full.transfers(0).map((t) => t.seq)).to.deep.equal([6]);
    expect(full.transfer(0, 5).seq).to.equal(5);
  });
});

describe("sdk/settlement: identical to Settlement.sol", () => {
  it("payouts and pots sum to the deposits and follow the clamp rule (property)", () => {
    const amount = fc.bigInt({ min: 0n, max: (1n << 96n) - 1n });
    const total = fc.bigInt({ min: 0n, max: (1n << 128n) - 1n });
    fc.assert(
      fc.property(amount, amount, total, total, total, total, (d0, d1, p0, p1, l0, l1) => {
        const o = settlementOutcome({
          deposit0: d0,
          deposit1: d1,
          paid0: p0,
          paid1: p1,
          locked0: l0,
          locked1: l1,
        });
        expect(o.payout0 + o.payout1 + o.pot0 + o.pot1).to.equal(d0 + d1);
        for (const v of [o.payout0, o.payout1, o.pot0, o.pot1]) expect(v >= 0n).to.equal(true);
        let a0 = d0 + p1 - p0;
        if (a0 < 0n) a0 = 0n;
        if (a0 > d0 + d1) a0 = d0 + d1;
        expect(o.payout0 + o.pot0).to.equal(a0);
        expect(o.pot0).to.equal(l0 < a0 ? l0 : a0);
      }),
      { numRuns: 300 },
    );
  });

  it("lock resolution takes min(amount, pot − amounts before) in list order", () => {
    const locks = [lockOf(1, 30n), lockOf(2, 50n), lockOf(3, 40n)];
    expect(resolveLocksOutcome(locks, 100n, (_, i) => i !== 1)).to.deep.equal({
      toPayee: 50n,
      toPayer: 50n,
      shares: [30n, 50n, 20n],
      resolved: 7n,
      open: [],
      uncovered: 0n,
    });
    // Zero-share locks resolve at once.
    expect(resolveLocksOutcome(locks, 0n, () => true)).to.deep.equal({
      toPayee: 0n,
      toPayer: 0n,
      shares: [0n, 0n, 0n],
      resolved: 7n,
      open: [],
      uncovered: 0n,
    });
    // The part of the pot no lock covers goes to the payer.
    expect(resolveLocksOutcome(locks, 150n, () => true)).to.deep.equal({
      toPayee: 120n,
      toPayer: 30n,
      shares: [30n, 50n, 40n],
      resolved: 7n,
      open: [],
      uncovered: 30n,
    });
  });

  it("leaves a lock that is neither revealed nor expired open and resolves the others", () => {
    const locks = [lockOf(1, 30n, 500n), lockOf(2, 50n, 1_000n), lockOf(3, 40n, 2_000n)];
    const second = (_: Lock, i: number) => i === 1;
    // At 1,000 the first has expired (→ payer), the second is revealed (→ payee), the third stays open.
    const first = resolveLocksOutcome(locks, 100n, second, 1_000n);
    expect(first).to.deep.equal({
      toPayee: 50n,
      toPayer: 30n,
      shares: [30n, 50n, 20n],
      resolved: 3n,
      open: [2],
      uncovered: 0n,
    });
    // Nothing new is known before the third expires: nothing resolvable (the contract reverts NoLockResolvable).
    const idle = resolveLocksOutcome(locks, 100n, second, 2_000n, first.resolved);
    expect([idle.resolved, idle.uncovered, idle.open]).to.deep.equal([0n, 0n, [2]]);
    // After its expiry the third returns to the payer, the first two are not paid twice.
    expect(resolveLocksOutcome(locks, 100n, second, 2_001n, first.resolved)).to.deep.equal({
      toPayee: 0n,
      toPayer: 20n,
      shares: [30n, 50n, 20n],
      resolved: 4n,
      open: [],
      uncovered: 0n,
    });
    // At 1,500 the first has expired and the third takes no share of the pot: nothing is left open.
    expect(resolveLocksOutcome(locks, 80n, second, 1_500n)).to.deep.equal({
      toPayee: 50n,
      toPayer: 30n,
      shares: [30n, 50n, 0n],
      resolved: 7n,
      open: [],
      uncovered: 0n,
    });
    // One long lock blocks nothing: the others resolve whatever its expiry.
    const forever = [lockOf(4, 1n, (1n << 64n) - 1n), lockOf(5, 60n, 500n)];
    expect(resolveLocksOutcome(forever, 61n, () => false, 1_000n)).to.include({ toPayer: 60n, resolved: 2n });
  });
});
