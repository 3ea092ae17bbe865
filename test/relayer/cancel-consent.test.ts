/**
 * Early CANCELs with the payee's consent (protocol §4.5) on a real broker and the in-process chain: the
 * node applies a CANCEL published with `appKind = "CANCEL_CONSENT"` and the payee's signature before the
 * lock's expiry, dead-letters one without a consent or with a forged or malformed one (saying which), and
 * its watchtower carries the consent on-chain (`extendChainUsingConsentedCancels`) so the released lock
 * pays out to its payer, not into a pot held until the expiry. The consent lives in the CANCEL's bytes, so
 * a node restored from its snapshot still carries it.
 */
import { expect } from "chai";
import hre from "hardhat";
import { Wallet, parseEther, type Contract } from "ethers";
import {
  codecs,
  hashlockOf,
  localSigner,
  transferMessage,
  signCancelConsent,
  type Hash,
  type Hex,
  type SignedTransfer,
} from "../../sdk";
import { ParsecNode } from "../../relayer/src/node";
import { CANCEL_CONSENT_APP_KIND } from "../../relayer/src/state/consent";
import { ledgerOf } from "../../relayer/src/commit/evidence";
import { Harness, testLogger, waitFor, type TestChannel } from "./harness";

describe("relayer: early CANCELs with the payee's consent", function () {
  this.timeout(180_000);
  let h: Harness;
  let node: ParsecNode | null = null;
  let c: TestChannel;

  const chainTime = async (): Promise<bigint> =>
    BigInt((await hre.ethers.provider.getBlock("latest"))!.timestamp);
  const withApp = (t: SignedTransfer, appKind: string, appData: Hex): Buffer =>
    codecs().transfer.encode(
      transferMessage(c.domain, t, c.signers[t.payer].address, { appKind, appData, sentAtMs: Date.now() }),
    );
  const deadLetterAt = async (seq: number, code: string) =>
    waitFor(`dead letter ${code} of seq ${seq}`, async () =>
      (await h.deadLetters()).find(
        (l) => l.channelId === c.id && l.reasonCode === code && l.reasonText.includes(`${seq}`),
      ),
    );

  before(async () => {
    h = await Harness.create({ brokers: process.env.KAFKA_BROKERS?.split(",") });
    c = await h.openChannel(parseEther("2"), parseEther("2"));
    node = await ParsecNode.start(h.config({ commit: { everyM: 100_000 } }), { logger: testLogger() });
  });
  after(async () => {
    await node?.stop();
    await h?.close();
  });

  it("refuses an early CANCEL without a consent, with a forged one or a malformed one; applies the consented one", async () => {
    const expiry = (await chainTime()) + 86_400n;
    const lock = { amount: parseEther("1"), expiry, hashlock: hashlockOf(("0x" + "ab".repeat(32)) as Hash) };
    await h.produce([c.record(c.next(0, { kind: "LOCK", ...lock }).wire)]);
    await waitFor("LOCK applied", () => node?.locate(c.id)?.ch.payers[0].state.seq === 1);

    // The test's ledger judges without a clock: it takes the CANCEL; the node must not, yet.
    const { transfer: cancel } = c.next(0, { kind: "CANCEL", lock });
    const stranger = localSigner(Wallet.createRandom().privateKey as Hex);
    const forged = await signCancelConsent(stranger, c.domain, cancel);
    const byPayer = await signCancelConsent(c.signers[0], c.domain, cancel);
    const good = await signCancelConsent(c.signers[1], c.domain, cancel);

    await h.produce([c.record(c.encode(cancel))]);
    const missing = await deadLetterAt(2, "CancelNotAllowed");
    expect(missing.reasonText).to.match(/before its lock's expiry .* carries no consent of the payee/);
    expect(missing.reasonText).to.include(`appKind "${CANCEL_CONSENT_APP_KIND}"`);

    await h.produce([c.record(withApp(cancel, CANCEL_CONSENT_APP_KIND, forged.signature))]);
    const bad = await waitFor("forged consent refused", async () =>
      (await h.deadLetters()).find((l) => l.channelId === c.id && l.reasonText.includes(stranger.address)),
    );
    expect(bad.reasonCode).to.equal("InvalidCancelConsent");
    expect(bad.reasonText).to.include(`not by the payee ${c.params.participant1}`);

    await h.produce([c.record(withApp(cancel, CANCEL_CONSENT_APP_KIND, byPayer.signature))]);
    await waitFor("the payer's own consent refused", async () =>
      (await h.deadLetters()).find(
        (l) => l.channelId === c.id && l.reasonText.includes(`signed by ${c.params.participant0}`),
      ),
    );
    await h.produce([c.record(withApp(cancel, CANCEL_CONSENT_APP_KIND, "0x1234"))]);
    await waitFor("malformed consent refused", async () =>
      (await h.deadLetters()).find(
        (l) => l.channelId === c.id && l.reasonText.includes("appData holds 2 bytes"),
      ),
    );
    expect(node?.locate(c.id)?.ch.payers[0].state.seq).to.equal(1);

    await h.produce([c.record(withApp(cancel, CANCEL_CONSENT_APP_KIND, good.signature))]);
    await waitFor("consented CANCEL applied", () => node?.locate(c.id)?.ch.payers[0].state.seq === 2);
    const state = node!.locate(c.id)!.ch.payers[0].state;
    expect(state.lockedTotal).to.equal(0n);
    expect(state.locks).to.deep.equal([]);
    expect(await chainTime()).to.be.below(expiry);
    await h.produce([c.record(c.next(0, { kind: "PAY", amount: parseEther("0.3") }).wire)]);
    await waitFor("PAY applied", () => node?.locate(c.id)?.ch.payers[0].state.seq === 3);

    // The evidence ledger carries the consent (read back from the held CANCEL's bytes), also once the
    // node is restarted from its snapshot.
    const consents = () => {
      const loc = node!.locate(c.id)!;
      const ledger = ledgerOf(h.domain, loc.ch, node!.registry.get(c.id)!);
      return ledger.cancelConsents(0).map((x) => [x.seq, x.signature]);
    };
    expect(consents()).to.deep.equal([[2, good.signature]]);
    await waitFor("flushed", () => node!.locate(c.id)!.ch.durableSeqs[0] === 3);
    await node!.stop();
    node = await ParsecNode.start(h.config({ commit: { everyM: 100_000 } }), { logger: testLogger() });
    await waitFor("restored", () => node?.locate(c.id)?.ch.payers[0].state.seq === 3, 30_000);
    expect(consents()).to.deep.equal([[2, good.signature]]);
  });

  it("the watchtower carries the consent on-chain: the released lock pays out to its payer before its expiry", async () => {
    const expiry = BigInt(c.ledger.transfer(0, 1).expiry);
    const p1 = new Wallet(c.wallets[1].privateKey, hre.ethers.provider);
    // The payee closes on the empty state, hoping the lock is forgotten or held.
    await (await (h.channels.connect(p1) as Contract).getFunction("close")(c.params)).wait();
    await waitFor("evidence on-chain", async () => (await h.onchain(c.id)).seq0 === 3, 30_000);
    const ext = await waitFor("the chain extension's outcome", async () =>
      (await h.settlements()).find(
        (e) => e.channelId === c.id && e.action === "CHAIN_EXTENSION" && e.status === "CONFIRMED",
      ),
    );
    expect(ext.detail).to.include("with 1 CANCEL consent(s)");
    const before = await hre.ethers.provider.getBalance(c.params.participant0);
    await hre.network.provider.send("evm_increaseTime", [3601]);
    await hre.network.provider.send("evm_mine", []);
    await waitFor("settled", async () => (await h.onchain(c.id)).status === 3, 30_000);
    expect(await chainTime()).to.be.below(expiry);
    const paid = (await hre.ethers.provider.getBalance(c.params.participant0)) - before;
    expect(paid).to.equal(parseEther("1.7"));
    expect(c.ledger.settlement().payout0).to.equal(parseEther("1.7"));
    // Nothing held back in a lock pot: the contract holds nothing of the channel.
    expect(await hre.ethers.provider.getBalance(h.address)).to.equal(0n);
  });
});
