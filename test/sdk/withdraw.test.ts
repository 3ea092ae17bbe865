/**
 * Co-signing withdrawals: the SDK refuses what is unsafe (amount beyond the available balance, a nonce
 * out of order, an expiry far ahead) and counts signed, unapplied withdrawals against the balance, down
 * to an actual withdraw on a deployed ParsecChannels.
 */
import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import type { ParsecChannels } from "../../typechain-types";
import {
  ChannelLedger,
  DEFAULT_MAX_WITHDRAW_EXPIRY_SECONDS,
  UnsafeWithdrawError,
  checkWithdrawSafety,
  cosignWithdraw,
  hashlockOf,
  localSigner,
  parsecDomain,
  signWithdraw,
  withdrawArgs,
  type Hex,
  type Withdraw,
} from "../../sdk";
import { KEY0, KEY1, expectCode, expectCodeAsync, makeChannel, signChain } from "./helpers";

const ETH = 10n ** 18n;
const NOW = 1_700_000_000n;

/** Deposits 100/50; P0 paid 30 and locked 20; P1 paid 10: available 60 / 70. */
function scenario() {
  const ch = makeChannel();
  const ledger = new ChannelLedger({ domain: ch.domain, params: ch.params, deposit0: 100n, deposit1: 50n });
  const lock = { amount: 20n, expiry: NOW + 7200n, hashlock: hashlockOf(`0x${"11".repeat(32)}` as Hex) };
  for (const t of signChain(ch, 0, [
    { kind: "PAY", amount: 30n },
    { kind: "LOCK", ...lock },
  ]).transfers) {
    ledger.apply(t);
  }
  for (const t of signChain(ch, 1, [{ kind: "PAY", amount: 10n }]).transfers) ledger.apply(t);
  const w = (fields: Partial<Withdraw>): Withdraw => ({
    channelId: ch.channelId,
    nonce: 0,
    amount0: 0n,
    amount1: 0n,
    expiry: NOW + 600n,
    ...fields,
  });
  return { ch, ledger, w };
}

describe("sdk: withdrawals", () => {
  it("refuses a side more than its available balance, with the numbers", () => {
    const { ledger, w } = scenario();
    expect(ledger.balances()).to.deep.include({ available0: 60n, available1: 70n });
    const e = expectCode(
      () => checkWithdrawSafety(ledger, w({ amount0: 61n }), { now: NOW }),
      "UnsafeWithdraw",
    );
    expect(e).to.be.instanceOf(UnsafeWithdrawError);
    expect(e.message).to.contain(
      "side 0 asks for 61 but may withdraw at most 60: deposit 100 − paid 30 + received 10 − locked 20 − " +
        "pending 0 = 60",
    );
    expect((e as UnsafeWithdrawError).details).to.deep.include({
      side: 0,
      amount: 61n,
      max: 60n,
      locked: 20n,
    });
    const ok = checkWithdrawSafety(ledger, w({ amount0: 60n, amount1: 50n }), { now: NOW });
    expect(ok).to.deep.equal({ nonce: 0, available: [60n, 70n], pending: [0n, 0n], maxAmount: [60n, 50n] });
    // P1 has 70 available but only 50 on deposit: the contract caps it there.
    const cap = expectCode(
      () => checkWithdrawSafety(ledger, w({ amount1: 51n }), { now: NOW }),
      "UnsafeWithdraw",
    );
    expect(cap.message).to.contain(
      "side 1 asks for 51 but its on-chain deposit 50 less pending withdrawals 0",
    );
    expectCode(
      () => checkWithdrawSafety(ledger, { ...w({}), channelId: `0x${"ab".repeat(32)}` }, { now: NOW }),
      "WrongChannel",
    );
  });

  it("refuses a nonce out of order and an expiry that is past or too far ahead", () => {
    const { ledger, w } = scenario();
    const nonce = expectCode(
      () => checkWithdrawSafety(ledger, w({ nonce: 1, amount0: 1n }), { now: NOW }),
      "UnsafeWithdraw",
    );
    expect(nonce.message).to.contain(
      "nonce 1 is not the next withdraw nonce 0 (on-chain next 0, pending none)",
    );
    expectCode(
      () => checkWithdrawSafety(ledger, w({ nonce: 2, amount0: 1n }), { now: NOW, onchainNonce: 3 }),
      "UnsafeWithdraw",
    );
    checkWithdrawSafety(ledger, w({ nonce: 3, amount0: 1n }), { now: NOW, onchainNonce: 3 });
    const far = expectCode(
      () => checkWithdrawSafety(ledger, w({ amount0: 1n, expiry: NOW + 3601n }), { now: NOW }),
      "UnsafeWithdraw",
    );
    expect(far.message).to.contain(`3601 s from now (${NOW}), more than the 3600 s allowed`);
    expect(far.message).to.contain(`at most ${NOW + DEFAULT_MAX_WITHDRAW_EXPIRY_SECONDS}`);
    checkWithdrawSafety(ledger, w({ amount0: 1n, expiry: NOW + 3601n }), {
      now: NOW,
      maxExpirySeconds: 7200n,
    });
    const past = expectCode(
      () => checkWithdrawSafety(ledger, w({ amount0: 1n, expiry: NOW - 1n }), { now: NOW }),
      "UnsafeWithdraw",
    );
    expect(past.message).to.contain("expired");
  });

  it("counts signed, unapplied withdrawals against the balance until applied or expired", async () => {
    const { ch, ledger, w } = scenario();
    const first = w({ amount0: 40n, expiry: NOW + 100n });
    const sig = await cosignWithdraw(ledger, ch.signers[1], first, { now: NOW });
    expect(sig).to.match(/^0x[0-9a-f]{130}$/);
    expect(ledger.pendingWithdraws()).to.deep.equal([first]);
    expect(ledger.balances()).to.deep.include({ available0: 20n, available1: 70n });
    expect(ledger.nextWithdrawNonce()).to.equal(1);
    // Checking the registered withdrawal again does not count it twice.
    checkWithdrawSafety(ledger, first, { now: NOW });

    // The payee no longer accepts a payment that relies on the withdrawn funds.
    const [pay] = signChain(ch, 0, [{ kind: "PAY", amount: 21n }], ledger.state(0)).transfers;
    expectCode(() => ledger.apply(pay), "InsufficientBalance");
    // Nor a second withdrawal that spends them again.
    const second = expectCode(
      () => checkWithdrawSafety(ledger, w({ nonce: 1, amount0: 21n }), { now: NOW }),
      "UnsafeWithdraw",
    );
    expect(second.message).to.contain(
      "may withdraw at most 20: deposit 100 − paid 30 + received 10 − locked 20 − pending 40 = 20",
    );
    expectCode(
      () => checkWithdrawSafety(ledger, w({ nonce: 0, amount0: 1n }), { now: NOW }),
      "UnsafeWithdraw",
    );
    checkWithdrawSafety(ledger, w({ nonce: 1, amount0: 20n }), { now: NOW });
    // Pending withdrawals the caller knows of but did not register count too.
    expectCode(
      () =>
        checkWithdrawSafety(ledger, w({ nonce: 2, amount0: 20n }), {
          now: NOW,
          pending: [w({ nonce: 1, amount0: 1n })],
        }),
      "UnsafeWithdraw",
    );

    // Expired at NOW + 101 (the contract accepts it at its expiry, not after).
    expect(ledger.dropExpiredWithdraws(NOW + 100n)).to.deep.equal([]);
    expect(ledger.dropExpiredWithdraws(NOW + 101n)).to.deep.equal([first]);
    expect(ledger.balances().available0).to.equal(60n);
    expect(ledger.nextWithdrawNonce()).to.equal(0);

    // Applied on-chain: the deposits drop and the nonce moves past it; it is counted once, not twice.
    await cosignWithdraw(ledger, ch.signers[0], first, { now: NOW });
    ledger.setDeposits(100n, 50n);
    expect(ledger.balances().available0).to.equal(20n); // no nonce given: still counted (conservative)
    ledger.setDeposits(60n, 50n, 1);
    expect(ledger.pendingWithdraws()).to.deep.equal([]);
    expect(ledger.balances()).to.deep.include({ deposit0: 60n, available0: 20n });
    expect(ledger.nextWithdrawNonce()).to.equal(1);
  });

  it("refuses to co-sign an unsafe withdrawal and leaves nothing pending", async () => {
    const { ch, ledger, w } = scenario();
    await expectCodeAsync(
      () => cosignWithdraw(ledger, ch.signers[1], w({ amount0: 61n }), { now: NOW }),
      "UnsafeWithdraw",
    );
    expect(ledger.pendingWithdraws()).to.deep.equal([]);
    const outsider = localSigner(`0x${"42".repeat(32)}` as Hex);
    await expectCodeAsync(
      () => cosignWithdraw(ledger, outsider, w({ amount0: 1n }), { now: NOW }),
      "WrongChannel",
    );
  });

  describe("on a deployed ParsecChannels", () => {
    async function deploy() {
      const [p0, p1] = await ethers.getSigners();
      const contract = (await (
        await ethers.getContractFactory("ParsecChannels")
      ).deploy()) as unknown as ParsecChannels;
      await contract.waitForDeployment();
      const chainId = (await ethers.provider.getNetwork()).chainId;
      const domain = parsecDomain(chainId, (await contract.getAddress()) as Hex);
      const ch = makeChannel({ domain });
      await contract.connect(p0).openEth(p1.address, 3600, ch.params.nonce, { value: 5n * ETH });
      await contract.connect(p1).deposit(ch.channelId, 1, { value: 5n * ETH });
      return { contract, ch, p0, p1 };
    }

    /** The deployed channel and each participant's own ledger (fresh per test); P0 has paid P1 3 ETH. */
    async function setup() {
      const env = await loadFixture(deploy);
      const { ch } = env;
      const ledgers = [0, 1].map(
        () =>
          new ChannelLedger({ domain: ch.domain, params: ch.params, deposit0: 5n * ETH, deposit1: 5n * ETH }),
      );
      for (const t of signChain(ch, 0, [{ kind: "PAY", amount: 3n * ETH }]).transfers) {
        for (const l of ledgers) l.apply(t);
      }
      return { ...env, ledgers };
    }

    async function onchain(contract: ParsecChannels, channelId: Hex) {
      const [record] = await contract.channelState(channelId);
      return {
        deposit0: BigInt(record.deposit0),
        deposit1: BigInt(record.deposit1),
        nonce: Number(await contract.withdrawNonceOf(channelId)),
      };
    }

    it("the contract accepts a withdrawal of funds already paid away; the SDK refuses to co-sign it", async () => {
      const { contract, ch, ledgers } = await setup();
      const now = BigInt(await time.latest());
      const greedy: Withdraw = {
        channelId: ch.channelId,
        nonce: 0,
        amount0: 4n * ETH,
        amount1: 0n,
        expiry: now + 600n,
      };
      const e = await expectCodeAsync(
        () => cosignWithdraw(ledgers[1], ch.signers[1], greedy, { now }),
        "UnsafeWithdraw",
      );
      expect(e.message).to.contain(
        `side 0 asks for ${4n * ETH} but may withdraw at most ${2n * ETH}: deposit ${5n * ETH} − paid ${3n * ETH}`,
      );
      // Why: signed blindly, the contract pays it (it caps by deposit only) and P1 loses what it was paid.
      const [g0, g1] = await Promise.all(ch.signers.map((s) => signWithdraw(s, ch.domain, greedy)));
      await expect(contract.withdraw(...withdrawArgs(ch.params, greedy, g0, g1))).to.emit(
        contract,
        "Withdrawn",
      );
      ledgers[1].setDeposits(1n * ETH, 5n * ETH, 1);
      expect(ledgers[1].settlement()).to.deep.include({ payout0: 0n, payout1: 6n * ETH }); // not 8 ETH
    });

    it("co-signs and submits a safe withdrawal; the ledgers follow the chain", async () => {
      const { contract, ch, ledgers, p0 } = await setup();
      const now = BigInt(await time.latest());
      const w: Withdraw = {
        channelId: ch.channelId,
        nonce: ledgers[1].nextWithdrawNonce(),
        amount0: 2n * ETH,
        amount1: 1n * ETH,
        expiry: now + 600n,
      };
      const sig0 = await cosignWithdraw(ledgers[0], localSigner(KEY0), w, { now });
      const sig1 = await cosignWithdraw(ledgers[1], localSigner(KEY1), w, { now });
      for (const l of ledgers) expect(l.balances()).to.deep.include({ available0: 0n, available1: 7n * ETH });
      const balanceBefore = await ethers.provider.getBalance(p0.address);
      await expect(contract.withdraw(...withdrawArgs(ch.params, w, sig0, sig1)))
        .to.emit(contract, "Withdrawn")
        .withArgs(ch.channelId, 0, 2n * ETH, 1n * ETH);
      expect((await ethers.provider.getBalance(p0.address)) - balanceBefore).to.be.greaterThan(ETH);

      const s = await onchain(contract, ch.channelId);
      expect(s).to.deep.equal({ deposit0: 3n * ETH, deposit1: 4n * ETH, nonce: 1 });
      for (const l of ledgers) {
        l.setDeposits(s.deposit0, s.deposit1, s.nonce);
        expect(l.pendingWithdraws()).to.deep.equal([]);
        expect(l.balances()).to.deep.include({ available0: 0n, available1: 7n * ETH });
        expect(l.nextWithdrawNonce()).to.equal(1);
      }
      // P0 has nothing left to pay with; P1's ledger refuses a payment relying on withdrawn funds.
      const [pay] = signChain(ch, 0, [{ kind: "PAY", amount: 1n }], ledgers[1].state(0)).transfers;
      expectCode(() => ledgers[1].apply(pay), "InsufficientBalance");
      // The settlement still gives P1 what it was paid.
      expect(ledgers[1].settlement()).to.deep.include({ payout0: 0n, payout1: 7n * ETH });
    });
  });
});
