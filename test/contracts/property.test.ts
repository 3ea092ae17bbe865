// Property test: random sequences of transfers (PAY/LOCK/UNLOCK/CANCEL), deposits, withdrawals, checkpoints,
// head proofs, chain extensions, secret reveals, closes, settles and cooperative closes on a real deployed
// ParsecChannels, checked against an independent model of docs/protocol.md (§1 acceptance rules, §5
// settlement) under the issue 9 rules: a checkpoint word plus one proven word per payer (each payer's
// on-chain head is the higher of the two), chain pieces that may start before the on-chain head, cooperative
// closes bound to seqs and an expiry, and lock-by-lock resolution.
import { expect } from "chai";
import hre from "hardhat";
import fc from "fast-check";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { concat, parseEther } from "ethers";
import type { ContractTransactionResponse } from "ethers";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import {
  channelId,
  checkpointRecord,
  hashlockOf,
  Kind,
  packBody,
  packLock,
  PayerChain,
  word,
  ZERO32,
} from "../helpers/kit";
import type { Hex, Params } from "../helpers/kit";
import { coopSigs, deployBase, headAt, headProofRecord, HOUR, now, stateOf, withdrawSigs } from "./fixtures";
import type { Base, Channel } from "./fixtures";

const { ethers } = hre;

/** Model time advances in epochs far longer than the challenge period; lock expiries sit mid-epoch. */
const EPOCH = 100_000n;
const SECRETS = [word(0x5ec0), word(0x5ec1), word(0x5ec2)];
const STATUS = { open: 1, closing: 2, settled: 3 } as const;

// ------------------------------------------------------------------ operations

type Op =
  | { t: "pay"; payer: number; amount: bigint }
  | { t: "lock"; payer: number; amount: bigint; secret: number; dk: number }
  | { t: "unlock"; payer: number; pick: number }
  | { t: "cancel"; payer: number; pick: number }
  | { t: "deposit"; side: number; amount: bigint }
  | { t: "withdraw"; f0: number; f1: number }
  | { t: "checkpoint"; p0: number; p1: number }
  | { t: "headProof"; payer: number; pick: number }
  | { t: "extend"; payer: number; pick: number; back: number }
  | { t: "register"; secret: number }
  | { t: "tick" }
  | { t: "close"; by: number }
  | { t: "settle" }
  | { t: "coopClose"; p0: number; p1: number };

const side = fc.integer({ min: 0, max: 1 });
const pick = fc.integer({ min: 0, max: 1_000 });
const amount = fc.bigInt({ min: 1n, max: 600n });
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ t: fc.constant("pay" as const), payer: side, amount }) },
  {
    weight: 3,
    arbitrary: fc.record({
      t: fc.constant("lock" as const),
      payer: side,
      amount,
      secret: fc.integer({ min: 0, max: SECRETS.length - 1 }),
      dk: fc.integer({ min: 0, max: 1 }),
    }),
  },
  { weight: 2, arbitrary: fc.record({ t: fc.constant("unlock" as const), payer: side, pick }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant("cancel" as const), payer: side, pick }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant("deposit" as const), side, amount }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant("withdraw" as const), f0: pick, f1: pick }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant("checkpoint" as const), p0: pick, p1: pick }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant("headProof" as const), payer: side, pick }) },
  {
    weight: 2,
    arbitrary: fc.record({ t: fc.constant("extend" as const), payer: side, pick, back: pick }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      t: fc.constant("register" as const),
      secret: fc.integer({ min: 0, max: SECRETS.length - 1 }),
    }),
  },
  { weight: 3, arbitrary: fc.record({ t: fc.constant("tick" as const) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant("close" as const), by: side }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant("settle" as const) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant("coopClose" as const), p0: pick, p1: pick }) },
);

interface Scenario {
  token: boolean;
  deposit0: bigint;
  deposit1: bigint;
  ops: Op[];
  /** How the newest state is brought on-chain at the end: 0 not at all, 1 checkpoint, 2 head proofs, 3 chains. */
  finish: number;
  closer: number;
  /** resolveLocks preimages: 0 none (registry only), 1 all, 2 by `mask`. */
  reveal: number;
  mask: number;
}

const scenarioArb: fc.Arbitrary<Scenario> = fc.record({
  token: fc.boolean(),
  deposit0: fc.bigInt({ min: 0n, max: 2_000n }),
  deposit1: fc.bigInt({ min: 0n, max: 2_000n }),
  ops: fc.array(opArb, { minLength: 4, maxLength: 30, size: "max" }),
  finish: fc.integer({ min: 0, max: 3 }),
  closer: side,
  reveal: fc.integer({ min: 0, max: 2 }),
  mask: fc.integer({ min: 0, max: 0x3fffffff }),
});

// ------------------------------------------------------------------ the model

interface ModelLock {
  amount: bigint;
  /** Expires mid-epoch `k`. */
  k: number;
  secret: number;
}

interface Payer {
  chain: PayerChain;
  /** The pending locks after each seq (index 0: genesis). */
  locks: ModelLock[][];
}

interface Model {
  status: number;
  epoch: number;
  closeEpoch: number;
  deposits: [bigint, bigint];
  /** The checkpoint word's seqs (written only by co-signed checkpoints). */
  checkpoint: [number, number];
  /** The proven words' seqs (written by head proofs and chain extensions). */
  proven: [number, number];
  /** Epoch of each secret's first on-chain reveal. */
  registered: Map<number, number>;
  withdrawNonce: number;
  /** What each side was paid so far (withdrawals, payouts, lock resolutions). */
  paid: [bigint, bigint];
  deposited: bigint;
  /** After settle: each payer's pot and the lock list it is split by. */
  pots: [{ pot: bigint; locks: ModelLock[] } | null, { pot: bigint; locks: ModelLock[] } | null];
}

/** §5: the split of `total` by the committed paid/locked totals. */
function split(d0: bigint, d1: bigint, paid0: bigint, paid1: bigint, locked0: bigint, locked1: bigint) {
  const total = d0 + d1;
  let a0 = d0 + paid1 - paid0;
  if (a0 < 0n) a0 = 0n;
  if (a0 > total) a0 = total;
  const a1 = total - a0;
  const pot0 = locked0 < a0 ? locked0 : a0;
  const pot1 = locked1 < a1 ? locked1 : a1;
  return { payout0: a0 - pot0, payout1: a1 - pot1, pot0, pot1 };
}

function packedLocks(locks: ModelLock[], expiryOf: (k: number) => bigint): Hex {
  return concat(locks.map((l) => packLock(l.amount, expiryOf(l.k), hashlockOf(SECRETS[l.secret])))) as Hex;
}

// ------------------------------------------------------------------ the runner

async function propertyFixture(): Promise<Base> {
  const base = await deployBase();
  await base.token.mint(base.carol.address, parseEther("1000"));
  await base.token.connect(base.carol).approve(base.address, ethers.MaxUint256);
  return base;
}

let nonce = 900_000n;

/** Plays one scenario on a fresh channel and checks every step against the model. */
async function run(b: Base, sc: Scenario): Promise<void> {
  const { alice, bob, carol } = b;
  // Everything but participant-only calls comes from carol, so that participants pay gas only where noted.
  const channels = b.channels.connect(carol);
  const signers: [HardhatEthersSigner, HardhatEthersSigner] = [alice, bob];
  const asset = sc.token ? await b.token.getAddress() : ethers.ZeroAddress;
  const n = ++nonce;
  const params: Params = {
    participant0: alice.address,
    participant1: bob.address,
    asset,
    challengePeriod: HOUR,
    nonce: n,
  };
  const id = channelId(b.chainId, b.address, params);
  const balanceOf = (who: string) => (sc.token ? b.token.balanceOf(who) : ethers.provider.getBalance(who));
  const fees: [bigint, bigint] = [0n, 0n];
  /** Waits for a transaction; for ETH channels, remembers the gas a participant paid. */
  const send = async (who: number | null, tx: Promise<ContractTransactionResponse>) => {
    const receipt = await (await tx).wait();
    if (!receipt) throw new Error("no receipt");
    if (who !== null && !sc.token) fees[who] += receipt.fee;
    return receipt;
  };
  const depositTx = (sideIndex: number, value: bigint) =>
    sc.token ? channels.depositToken(params, sideIndex, value) : channels.deposit(id, sideIndex, { value });

  if (sc.token) await b.channels.openToken(bob.address, asset, HOUR, n, sc.deposit0);
  else await b.channels.openEth(bob.address, HOUR, n, { value: sc.deposit0 });
  if (sc.deposit1 > 0n) await send(null, depositTx(1, sc.deposit1));
  const base: [bigint, bigint] = [await balanceOf(alice.address), await balanceOf(bob.address)];
  const T0 = await now();
  const expiryOf = (k: number) => T0 + BigInt(k) * EPOCH + EPOCH / 2n;

  const payers: [Payer, Payer] = [
    { chain: new PayerChain(alice, b.dom, id, 0), locks: [[]] },
    { chain: new PayerChain(bob, b.dom, id, 1), locks: [[]] },
  ];
  const m: Model = {
    status: STATUS.open,
    epoch: 0,
    closeEpoch: -1,
    deposits: [sc.deposit0, sc.deposit1],
    checkpoint: [0, 0],
    proven: [0, 0],
    registered: new Map(),
    withdrawNonce: 0,
    paid: [0n, 0n],
    deposited: sc.deposit0 + sc.deposit1,
    pots: [null, null],
  };
  const live = () => m.status !== STATUS.settled;
  /** Payer p's on-chain head: the higher of its checkpoint seq and its proven seq. */
  const onchain = (p: number) => Math.max(m.checkpoint[p], m.proven[p]);
  /** The checkpoint word's head of payer p (zero without a checkpoint, as then both seqs are 0). */
  const checkpointHead = (p: number) => head(p, m.checkpoint[p]);
  const len = (p: number) => payers[p].chain.seq;
  const head = (p: number, seq: number) => headAt(payers[p].chain, seq);
  const bodyAt = (p: number, seq: number) => (seq === 0 ? "0x" : packBody(payers[p].chain.bodies[seq - 1]));
  const totalsAt = (p: number, seq: number) => {
    const body = payers[p].chain.bodies[seq - 1];
    return body ? { paid: body.paidTotal, locked: body.lockedTotal } : { paid: 0n, locked: 0n };
  };
  const current = (p: number) => payers[p].locks[payers[p].locks.length - 1];
  const fails = (tx: Promise<unknown>, name: string) =>
    expect(tx).to.be.revertedWithCustomError(channels, name);

  /** Signs the next transfer of payer p and records its pending-lock list. */
  const transfer = async (p: number, kind: number, l: ModelLock | null, amountOf: bigint) => {
    const locks = current(p);
    let next = locks;
    if (kind === Kind.Lock && l) next = [...locks, l];
    if ((kind === Kind.Unlock || kind === Kind.Cancel) && l) {
      const i = locks.findIndex((x) => x.amount === l.amount && x.k === l.k && x.secret === l.secret);
      next = locks.filter((_, j) => j !== i);
    }
    await payers[p].chain.push(
      kind,
      amountOf,
      l ? hashlockOf(SECRETS[l.secret]) : ZERO32,
      l ? expiryOf(l.k) : 0n,
    );
    payers[p].locks.push(next);
  };

  const settleNow = async () => {
    const [s0, s1] = [onchain(0), onchain(1)];
    const t0 = totalsAt(0, s0);
    const t1 = totalsAt(1, s1);
    const out = split(m.deposits[0], m.deposits[1], t0.paid, t1.paid, t0.locked, t1.locked);
    const receipt = await send(
      null,
      channels.settle(params, bodyAt(0, s0), bodyAt(1, s1), checkpointHead(0), checkpointHead(1)),
    );
    const event = receipt.logs
      .map((l) => channels.interface.parseLog(l))
      .find((e) => e?.name === "ChannelSettled");
    expect(event?.args.slice(1)).to.deep.equal([out.payout0, out.payout1, out.pot0, out.pot1]);
    m.paid[0] += out.payout0;
    m.paid[1] += out.payout1;
    m.pots = [
      out.pot0 > 0n ? { pot: out.pot0, locks: payers[0].locks[s0] } : null,
      out.pot1 > 0n ? { pot: out.pot1, locks: payers[1].locks[s1] } : null,
    ];
    m.status = STATUS.settled;
  };

  const headProof = async (payer: number, seq: number) => {
    const payee = 1 - payer;
    const record = headProofRecord(params, payer, payers[payer].chain.signed[seq - 1]);
    const asPayee = channels.connect(signers[payee]);
    if (live() && seq > onchain(payer)) {
      await send(payee, asPayee.proveHead(record));
      m.proven[payer] = seq;
    } else {
      // a call, not a transaction: a failed transaction would cost the payee gas the books do not track
      await expect(asPayee.proveHead.staticCall(record))
        .to.be.revertedWithCustomError(channels, "EntryRejected")
        .withArgs(id, live() ? 4 : 2);
    }
  };

  /**
   * Extends payer's chain to `target` with a piece starting `back` transfers before the on-chain head;
   * returns false if the model says a CANCEL on the way is refused.
   */
  const extendTo = async (payer: number, target: number, back = 0): Promise<boolean> => {
    const from = Math.max(0, onchain(payer) - back);
    const tx = () =>
      channels.extendChain(
        params,
        payer,
        bodyAt(payer, from),
        checkpointHead(1 - payer),
        packedLocks(payers[payer].locks[from], expiryOf),
        concat(payers[payer].chain.signed.slice(from, target)),
      );
    if (!live()) {
      await expect(tx())
        .to.be.revertedWithCustomError(channels, "ChannelNotInStatus")
        .withArgs(id, STATUS.settled);
      return false;
    }
    if (target === from) {
      await expect(tx()).to.be.revertedWithCustomError(channels, "EmptyChain");
      return false;
    }
    if (target <= onchain(payer)) {
      await expect(tx()).to.be.revertedWithCustomError(channels, "EntryRejected").withArgs(id, 4);
      return false;
    }
    for (let seq = from + 1; seq <= target; seq++) {
      const body = payers[payer].chain.bodies[seq - 1];
      if (body.kind !== Kind.Cancel) continue;
      const lock = payers[payer].locks[seq - 1].find(
        (l) =>
          l.amount === body.amount &&
          expiryOf(l.k) === body.expiry &&
          hashlockOf(SECRETS[l.secret]) === body.hashlock,
      );
      if (!lock) throw new Error("model: cancelled lock not found");
      const revealed = m.registered.get(lock.secret);
      if (revealed !== undefined && revealed <= lock.k) {
        await expect(tx()).to.be.revertedWithCustomError(channels, "CancelNotAllowed").withArgs(seq);
        return false;
      }
    }
    const receipt = await send(null, tx());
    const event = receipt.logs
      .map((l) => channels.interface.parseLog(l))
      .find((e) => e?.name === "ChainExtended");
    expect(event?.args.slice(1)).to.deep.equal([BigInt(payer), BigInt(onchain(payer)), BigInt(target)]);
    m.proven[payer] = target;
    return true;
  };

  const checkpointAt = async (s0: number, s1: number) => {
    const record = await checkpointRecord(alice, bob, b.dom, params, id, s0, head(0, s0), s1, head(1, s1));
    // a checkpoint is judged against the checkpoint word only; it never lowers a proven head
    const [o0, o1] = m.checkpoint;
    const tx = channels.checkpoint(record);
    if (live() && s0 >= o0 && s1 >= o1 && (s0 !== o0 || s1 !== o1)) {
      await send(null, tx);
      m.checkpoint = [s0, s1];
    } else {
      await expect(tx)
        .to.be.revertedWithCustomError(channels, "EntryRejected")
        .withArgs(id, live() ? 4 : 2);
    }
  };

  /** (a) and (b) after every step: nobody got more than was deposited, each side exactly the model's. */
  const check = async () => {
    const received = [
      (await balanceOf(alice.address)) - base[0] + fees[0],
      (await balanceOf(bob.address)) - base[1] + fees[1],
    ];
    expect(received[0] + received[1]).to.be.at.most(m.deposited);
    expect(received).to.deep.equal(m.paid);
    const s = await stateOf(channels, id);
    expect(s.status).to.equal(m.status);
    if (live()) {
      expect([s.seq0, s.seq1, s.deposit0, s.deposit1]).to.deep.equal([...m.checkpoint, ...m.deposits]);
      expect([s.proven0.seq, s.proven1.seq]).to.deep.equal(m.proven);
      expect([s.head0, s.head1]).to.deep.equal([onchain(0), onchain(1)]);
    }
  };

  for (const op of sc.ops) {
    switch (op.t) {
      case "pay":
        await transfer(op.payer, Kind.Pay, null, op.amount);
        break;
      case "lock":
        if (current(op.payer).length < 64) {
          await transfer(
            op.payer,
            Kind.Lock,
            { amount: op.amount, k: m.epoch + op.dk, secret: op.secret },
            op.amount,
          );
        }
        break;
      case "unlock": {
        const locks = current(op.payer);
        if (locks.length === 0) break;
        const l = locks[op.pick % locks.length];
        await transfer(op.payer, Kind.Unlock, l, l.amount);
        break;
      }
      case "cancel": {
        // the payee accepts a CANCEL only after the lock expired
        const expired = current(op.payer).filter((l) => l.k < m.epoch);
        if (expired.length === 0) break;
        const l = expired[op.pick % expired.length];
        await transfer(op.payer, Kind.Cancel, l, l.amount);
        break;
      }
      case "deposit":
        if (m.status === STATUS.open) {
          await send(null, depositTx(op.side, op.amount));
          m.deposits[op.side] += op.amount;
          m.deposited += op.amount;
        } else {
          await expect(depositTx(op.side, op.amount))
            .to.be.revertedWithCustomError(channels, "ChannelNotInStatus")
            .withArgs(id, m.status);
        }
        break;
      case "withdraw": {
        const a0 = (m.deposits[0] * BigInt(op.f0)) / 1_000n;
        const a1 = (m.deposits[1] * BigInt(op.f1)) / 1_000n;
        const expiry = T0 + 1_000n * EPOCH;
        const ch: Channel = { params, id: id as Hex, c0: payers[0].chain, c1: payers[1].chain };
        const sigs = await withdrawSigs(b, ch, m.withdrawNonce, a0, a1, expiry);
        const tx = channels.withdraw(params, m.withdrawNonce, a0, a1, expiry, ...sigs);
        if (m.status === STATUS.open) {
          await send(null, tx);
          m.deposits = [m.deposits[0] - a0, m.deposits[1] - a1];
          m.paid = [m.paid[0] + a0, m.paid[1] + a1];
          m.withdrawNonce++;
        } else {
          await expect(tx)
            .to.be.revertedWithCustomError(channels, "ChannelNotInStatus")
            .withArgs(id, m.status);
        }
        break;
      }
      case "checkpoint": {
        // half the time the newest state, else any state so far
        const s0 = op.p0 >= 500 ? len(0) : op.p0 % (len(0) + 1);
        const s1 = op.p1 >= 500 ? len(1) : op.p1 % (len(1) + 1);
        await checkpointAt(s0, s1);
        break;
      }
      case "headProof":
        if (len(op.payer) > 0)
          await headProof(op.payer, op.pick >= 500 ? len(op.payer) : 1 + (op.pick % len(op.payer)));
        break;
      case "extend": {
        const from = onchain(op.payer);
        const room = len(op.payer) - from;
        // half the time from the on-chain head, else from an earlier transfer (or genesis) through it
        const back = op.back < 500 ? 0 : op.back % (from + 1);
        await extendTo(op.payer, room <= 0 ? from : from + 1 + (op.pick % room), back);
        break;
      }
      case "register":
        await send(null, channels.registerSecrets([SECRETS[op.secret]]));
        if (!m.registered.has(op.secret)) m.registered.set(op.secret, m.epoch);
        break;
      case "tick":
        m.epoch++;
        await time.increaseTo(T0 + BigInt(m.epoch) * EPOCH);
        break;
      case "close": {
        const asCloser = channels.connect(signers[op.by]);
        if (m.status === STATUS.open) {
          await send(op.by, asCloser.close(params));
          m.status = STATUS.closing;
          m.closeEpoch = m.epoch;
        } else {
          await expect(asCloser.close.staticCall(params))
            .to.be.revertedWithCustomError(channels, "ChannelNotInStatus")
            .withArgs(id, m.status);
        }
        break;
      }
      case "settle":
        if (m.status === STATUS.closing && m.epoch > m.closeEpoch) await settleNow();
        else if (m.status === STATUS.closing)
          await fails(channels.settle(params, "0x", "0x", ZERO32, ZERO32), "ChallengePeriodActive");
        else {
          await expect(channels.settle(params, "0x", "0x", ZERO32, ZERO32))
            .to.be.revertedWithCustomError(channels, "ChannelNotInStatus")
            .withArgs(id, m.status);
        }
        break;
      case "coopClose": {
        // both sign a state's split: half the time the newest, else an older one (a close they signed
        // earlier); with locks pending they would not sign, so neither do we
        const c0 = op.p0 >= 500 ? len(0) : op.p0 % (len(0) + 1);
        const c1 = op.p1 >= 500 ? len(1) : op.p1 % (len(1) + 1);
        const t0 = totalsAt(0, c0);
        const t1 = totalsAt(1, c1);
        if (t0.locked !== 0n || t1.locked !== 0n) break;
        const out = split(m.deposits[0], m.deposits[1], t0.paid, t1.paid, 0n, 0n);
        const ch: Channel = { params, id: id as Hex, c0: payers[0].chain, c1: payers[1].chain };
        const terms = {
          seq0: c0,
          seq1: c1,
          balance0: out.payout0,
          balance1: out.payout1,
          expiry: (await now()) + BigInt(HOUR),
        };
        const tx = channels.connect(carol).cooperativeClose(params, terms, ...(await coopSigs(b, ch, terms)));
        if (live() && c0 < onchain(0)) {
          await expect(tx)
            .to.be.revertedWithCustomError(channels, "CooperativeCloseStale")
            .withArgs(0, c0, onchain(0));
        } else if (live() && c1 < onchain(1)) {
          await expect(tx)
            .to.be.revertedWithCustomError(channels, "CooperativeCloseStale")
            .withArgs(1, c1, onchain(1));
        } else if (live()) {
          await send(null, tx);
          m.paid = [m.paid[0] + out.payout0, m.paid[1] + out.payout1];
          m.status = STATUS.settled;
        } else {
          await expect(tx)
            .to.be.revertedWithCustomError(channels, "ChannelNotInStatus")
            .withArgs(id, m.status);
        }
        break;
      }
    }
    await check();
  }

  // ---------------------------------------------------------------- the end: bring state, settle, resolve
  if (live()) {
    if (sc.finish === 1 && (len(0) !== onchain(0) || len(1) !== onchain(1)))
      await checkpointAt(len(0), len(1));
    for (const p of [0, 1]) {
      if (len(p) === onchain(p)) continue;
      if (sc.finish === 2) await headProof(p, len(p));
      if (sc.finish === 3 && !(await extendTo(p, len(p), sc.mask % 3))) await headProof(p, len(p));
    }
    // (b) for the newest state: whatever way it came, the contract now holds the newest heads
    if (sc.finish > 0) expect([onchain(0), onchain(1)]).to.deep.equal([len(0), len(1)]);
    if (m.status === STATUS.open) {
      await send(sc.closer, channels.connect(signers[sc.closer]).close(params));
      m.status = STATUS.closing;
      m.closeEpoch = m.epoch;
    }
    if (m.epoch <= m.closeEpoch) {
      m.epoch = m.closeEpoch + 1;
      await time.increaseTo(T0 + BigInt(m.epoch) * EPOCH);
    }
    await settleNow();
    await check();
  }
  for (const p of [0, 1]) {
    const pending = m.pots[p];
    if (!pending) {
      await expect(channels.resolveLocks(params, p, "0x", []))
        .to.be.revertedWithCustomError(channels, "NoPendingLocks")
        .withArgs(id, p);
      continue;
    }
    const preimages =
      sc.reveal === 0
        ? []
        : pending.locks.map((l, i) =>
            sc.reveal === 1 || (sc.mask >> (i % 30)) & 1 ? SECRETS[l.secret] : ZERO32,
          );
    // The model of one resolveLocks call at the current epoch, lock by lock: each lock's share is fixed by
    // the list (min(amount, pot − amounts before it)); a lock with no share resolves at once, one revealed
    // in time goes to the payee, one expired and unrevealed to the payer, and any other stays open.
    let resolvedSoFar = 0n;
    let first = true;
    const resolution = () => {
      let before = 0n;
      let toPayee = 0n;
      let toPayer = 0n;
      let mask = 0n;
      pending.locks.forEach((l, i) => {
        const left = pending.pot > before ? pending.pot - before : 0n;
        const share = l.amount < left ? l.amount : left;
        before += l.amount;
        const bit = 1n << BigInt(i);
        if ((resolvedSoFar & bit) !== 0n) return;
        if (share !== 0n) {
          const shown = preimages.length > 0 && preimages[i] !== ZERO32 && m.epoch <= l.k;
          const revealed = m.registered.get(l.secret);
          if (shown || (revealed !== undefined && revealed <= l.k)) toPayee += share;
          else if (m.epoch > l.k) toPayer += share;
          else return;
        }
        mask |= bit;
      });
      const uncovered = first && pending.pot > before ? pending.pot - before : 0n;
      return { toPayee, toPayer: toPayer + uncovered, mask, uncovered };
    };
    const locks = packedLocks(pending.locks, expiryOf);
    const all = (1n << BigInt(pending.locks.length)) - 1n;
    let received = 0n;
    // Resolve at each epoch until every lock is resolved: open locks wait, the others go at once.
    for (;;) {
      const r = resolution();
      const tx = channels.resolveLocks(params, p, locks, preimages);
      if (r.mask === 0n && r.uncovered === 0n) {
        await expect(tx).to.be.revertedWithCustomError(channels, "NoLockResolvable").withArgs(id, p);
      } else {
        await expect(tx).to.emit(channels, "LocksResolved").withArgs(id, p, r.mask, r.toPayee, r.toPayer);
        m.paid[1 - p] += r.toPayee;
        m.paid[p] += r.toPayer;
        received += r.toPayee + r.toPayer;
        resolvedSoFar |= r.mask;
        first = false;
        await check();
      }
      if ((resolvedSoFar & all) === all && !first) break;
      m.epoch++;
      await time.increaseTo(T0 + BigInt(m.epoch) * EPOCH);
    }
    // the pot is paid exactly once, and then the payer's entry is gone
    expect(received).to.equal(pending.pot);
    await expect(channels.resolveLocks(params, p, locks, preimages))
      .to.be.revertedWithCustomError(channels, "NoPendingLocks")
      .withArgs(id, p);
    m.pots[p] = null;
  }
  await check();
  // (a) once everything is resolved, exactly what was deposited has been paid out, and nothing is left
  expect(m.paid[0] + m.paid[1]).to.equal(m.deposited);
  expect(await balanceOf(b.address)).to.equal(0n);
  expect(await channels.creditOf(alice.address, asset)).to.equal(0n);
  expect(await channels.creditOf(bob.address, asset)).to.equal(0n);
}

describe("ParsecChannels: property (random channel histories vs. a model of §5)", () => {
  it("never pays more than was deposited, pays it all once resolved, each side what the committed state says", async () => {
    await fc.assert(
      fc.asyncProperty(scenarioArb, async (sc) => {
        const b = await loadFixture(propertyFixture);
        await run(b, sc);
      }),
      { numRuns: Number(process.env.PROPERTY_RUNS ?? 40) },
    );
  });
});
