// The payee's consent to an early CANCEL (protocol §4.5) in the SDK: typed data, signing and checking, the
// ledger rule, dispute plans carrying consents, and the rule against the contract's (one rule, both sides).
import { expect } from "chai";
import hre from "hardhat";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { TypedDataEncoder, Wallet } from "ethers";
import {
  ChannelLedger,
  EIP712_TYPES,
  GENESIS_STATE,
  TYPE_STRINGS,
  applyTransfer,
  buildTransfer,
  bytesArg,
  cancelConsentOf,
  cancelConsentRule,
  cancelConsentTypedData,
  encodeCancelConsentRecords,
  encodeSignedTransfers,
  extendChainWithConsentsArgs,
  hashCancelConsent,
  hashTransfer,
  hashlockOf,
  localSigner,
  onchainStateOf,
  parsecDomain,
  planDispute,
  planDisputeWithConsents,
  signCancelConsent,
  signTransferUnjournaled,
  verifyCancelConsent,
  type Hash,
  type Hex,
  type Lock,
  type PayerState,
  type SignedCancelConsent,
  type Transfer,
  type VerifiedTransfer,
} from "../../sdk";
import type { ParsecChannels } from "../../typechain-types";
import { DOMAIN, expectCode, expectCodeAsync, makeChannel, rng } from "./helpers";

const { ethers } = hre;
const ETH = 10n ** 18n;
const SECRET = ("0x" + "5e".repeat(32)) as Hash;

/** Payer 0 locks `amount` to payer 1 and cancels it: returns the transfers, signed, and the CANCEL. */
function lockAndCancel(ch: ReturnType<typeof makeChannel>, lock: Lock, from: PayerState = GENESIS_STATE) {
  const origin = { channelId: ch.channelId, payer: 0 as const };
  const out: VerifiedTransfer[] = [];
  let state = from;
  for (const op of [
    { kind: "LOCK" as const, amount: lock.amount, hashlock: lock.hashlock, expiry: lock.expiry },
    { kind: "CANCEL" as const, lock },
  ]) {
    const t = buildTransfer(state, origin, op);
    out.push({ ...signTransferUnjournaled(ch.signers[0], ch.domain, t), hash: hashTransfer(t) });
    state = applyTransfer(state, t);
  }
  return { transfers: out, cancel: out[1], lockState: applyTransfer(from, out[0]) };
}

describe("sdk/cancel-consent: the payee's consent to an early CANCEL", () => {
  const lock: Lock = { amount: 7n * ETH, expiry: 1_000_000n, hashlock: hashlockOf(SECRET) };

  describe("message", () => {
    it("type string, field list and struct hash are the specification's (ethers agrees)", () => {
      expect(TYPE_STRINGS.CancelConsent).to.equal(
        "CancelConsent(bytes32 channelId,uint8 payer,uint32 seq,uint128 amount,uint64 expiry,bytes32 hashlock,bytes32 transfer)",
      );
      const types = { CancelConsent: [...EIP712_TYPES.CancelConsent] };
      expect(TypedDataEncoder.from(types).encodeType("CancelConsent")).to.equal(TYPE_STRINGS.CancelConsent);
      const ch = makeChannel();
      const consent = cancelConsentOf(lockAndCancel(ch, lock).cancel);
      expect(hashCancelConsent(consent)).to.equal(
        TypedDataEncoder.hashStruct("CancelConsent", types, consent),
      );
      const payload = cancelConsentTypedData(DOMAIN, consent);
      expect(payload.primaryType).to.equal("CancelConsent");
      expect(payload.message.amount).to.equal(lock.amount.toString());
    });

    it("names a CANCEL only", () => {
      const ch = makeChannel();
      const { transfers } = lockAndCancel(ch, lock);
      expectCode(() => cancelConsentOf(transfers[0]), "Malformed");
    });
  });

  describe("signing and checking", () => {
    it("the payee's consent verifies; the payer's, a stranger's, a tampered or foreign one does not", async () => {
      const ch = makeChannel();
      const { cancel } = lockAndCancel(ch, lock);
      const good = await signCancelConsent(ch.signers[1], ch.domain, cancel);
      verifyCancelConsent(ch.domain, ch.params, good);
      const byPayer = await signCancelConsent(ch.signers[0], ch.domain, cancel);
      const byStranger = await signCancelConsent(
        localSigner(Wallet.createRandom().privateKey as Hex),
        ch.domain,
        cancel,
      );
      const otherChain = await signCancelConsent(
        ch.signers[1],
        parsecDomain(1n, DOMAIN.verifyingContract),
        cancel,
      );
      for (const c of [
        byPayer,
        byStranger,
        { ...good, signature: otherChain.signature },
        { ...good, amount: good.amount + 1n },
        { ...good, transfer: cancel.prev },
        { ...good, channelId: makeChannel({ nonce: 2n }).channelId },
      ])
        expectCode(() => verifyCancelConsent(ch.domain, ch.params, c), "InvalidCancelConsent");
    });
  });

  describe("the ledger rule (applyTransfer, as ChainVerifier judges it)", () => {
    const ch = makeChannel();
    const { transfers, cancel, lockState } = lockAndCancel(ch, lock);
    const early = lock.expiry;
    const late = lock.expiry + 1n;

    it("without consent: an early CANCEL, or one of a secret revealed in time, is refused", () => {
      expectCode(() => applyTransfer(lockState, cancel, { now: early }), "CancelNotAllowed");
      expectCode(
        () => applyTransfer(lockState, cancel, { now: late, revealedInTime: () => true }),
        "CancelNotAllowed",
      );
      expect(applyTransfer(lockState, cancel, { now: late }).lockedTotal).to.equal(0n);
    });

    it("with the payee's consent it counts, also after the secret was revealed in time (final)", async () => {
      const consent = await signCancelConsent(ch.signers[1], ch.domain, cancel);
      const consentedCancel = cancelConsentRule(ch.domain, ch.params, [consent]);
      for (const opts of [{ now: early }, { now: late, revealedInTime: () => true }])
        expect(applyTransfer(lockState, cancel, { ...opts, consentedCancel }).locks).to.deep.equal([]);
    });

    it("a consent naming the seq that does not fit is InvalidCancelConsent; one for another seq does nothing", async () => {
      const byPayer = await signCancelConsent(ch.signers[0], ch.domain, cancel);
      expectCode(
        () =>
          applyTransfer(lockState, cancel, {
            now: early,
            consentedCancel: cancelConsentRule(ch.domain, ch.params, [byPayer]),
          }),
        "InvalidCancelConsent",
      );
      const good = await signCancelConsent(ch.signers[1], ch.domain, cancel);
      const elsewhere: SignedCancelConsent = { ...good, seq: 9 };
      expectCode(
        () =>
          applyTransfer(lockState, cancel, {
            now: early,
            consentedCancel: cancelConsentRule(ch.domain, ch.params, [elsewhere]),
          }),
        "CancelNotAllowed",
      );
    });

    it("ChannelLedger keeps checked consents and applies an early CANCEL only with one", async () => {
      const ledger = new ChannelLedger({ domain: ch.domain, params: ch.params, deposit0: 10n * ETH });
      ledger.apply(transfers[0], { now: early });
      expectCode(() => ledger.apply(transfers[1], { now: early }), "CancelNotAllowed");
      const byPayer = await signCancelConsent(ch.signers[0], ch.domain, cancel);
      expectCode(() => ledger.addCancelConsent(byPayer), "InvalidCancelConsent");
      ledger.addCancelConsent(await signCancelConsent(ch.signers[1], ch.domain, cancel));
      expect(ledger.apply(transfers[1], { now: early }).state.lockedTotal).to.equal(0n);
      expect(ledger.cancelConsents(0).map((c) => c.seq)).to.deep.equal([2]);
    });

    it("packs consents as 69-byte records and refuses one naming no CANCEL of the piece", async () => {
      const good = await signCancelConsent(ch.signers[1], ch.domain, cancel);
      expect(encodeCancelConsentRecords([good]).length).to.equal(69);
      const input = {
        params: ch.params,
        payer: 0 as const,
        startBody: null,
        startLocks: [],
        otherHead: GENESIS_STATE.head,
        transfers,
      };
      expect(extendChainWithConsentsArgs({ ...input, consents: [good] })).to.have.length(7);
      await expectCodeAsync(
        async () => extendChainWithConsentsArgs({ ...input, consents: [{ ...good, seq: 1 }] }),
        "Malformed",
      );
    });
  });

  describe("against the contract", () => {
    async function deploy() {
      const [p0, p1] = await ethers.getSigners();
      const contract = (await (
        await ethers.getContractFactory("ParsecChannels")
      ).deploy()) as unknown as ParsecChannels;
      const chainId = (await ethers.provider.getNetwork()).chainId;
      const domain = parsecDomain(chainId, (await contract.getAddress()) as Hex);
      return { contract, domain, p0, p1 };
    }
    let nonce = 100n;
    async function open() {
      const env = await loadFixture(deploy);
      const ch = makeChannel({ domain: env.domain, nonce: ++nonce });
      await env.contract.connect(env.p0).openEth(env.p1.address, 3600, ch.params.nonce, { value: 5n * ETH });
      await env.contract.connect(env.p1).deposit(ch.channelId, 1, { value: 5n * ETH });
      const ledger = new ChannelLedger({
        domain: ch.domain,
        params: ch.params,
        deposit0: 5n * ETH,
        deposit1: 5n * ETH,
      });
      return { ...env, ch, ledger };
    }
    const now = async (): Promise<bigint> =>
      BigInt((await ethers.provider.getBlock("latest"))?.timestamp ?? 0);
    const onchain = async (contract: ParsecChannels, id: Hash) =>
      onchainStateOf(await contract.channelState(id), await contract.provenHeadsOf(id));

    it("planDisputeWithConsents carries the ledger's consents; planDispute's plain piece is refused", async () => {
      const { contract, ch, ledger } = await open();
      const expiry = (await now()) + 86_400n;
      const { transfers, cancel } = lockAndCancel(ch, { ...lock, amount: ETH, expiry });
      ledger.addCancelConsent(await signCancelConsent(ch.signers[1], ch.domain, cancel));
      for (const t of transfers) ledger.apply(t, { now: await now() });
      const state = await onchain(contract, ch.channelId);

      const plain = planDispute({ ledger, checkpoint: null }, state, { payers: [0] });
      expect(plain.map((s) => s.method)).to.deep.equal(["extendChain"]);
      if (plain[0].method !== "extendChain") throw new Error("unreachable");
      await expect(contract.extendChain(...plain[0].args))
        .to.be.revertedWithCustomError(contract, "CancelNotAllowed")
        .withArgs(2);

      const steps = planDisputeWithConsents({ ledger, checkpoint: null }, state, { payers: [0] });
      expect(steps.map((s) => s.method)).to.deep.equal(["extendChainUsingConsentedCancels"]);
      if (steps[0].method !== "extendChainUsingConsentedCancels") throw new Error("unreachable");
      await expect(contract.extendChainUsingConsentedCancels(...steps[0].args))
        .to.emit(contract, "ChainExtended")
        .withArgs(ch.channelId, 0, 0, 2);
      expect((await onchain(contract, ch.channelId)).proven[0].seq).to.equal(2);
    });

    it("the SDK accepts a CANCEL exactly when the contract does (random time, secret, consent)", async () => {
      const random = rng(0xc0de);
      const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)];
      const seen = new Set<string>();
      for (let round = 0; round < 16; round++) {
        const { contract, ch, p1 } = await open();
        const start = await now();
        const secret = ("0x" + (round + 1).toString(16).padStart(64, "0")) as Hash;
        const l: Lock = { amount: ETH, expiry: start + 1_000n, hashlock: hashlockOf(secret) };
        const { transfers, cancel, lockState } = lockAndCancel(ch, l);
        const when = pick(["early", "atExpiry", "late"] as const);
        const reveal = pick(["never", "inTime", "tooLate"] as const);
        const consentKind = pick(["none", "payee", "payer", "otherSeq"] as const);

        let revealedAt = 0n;
        if (reveal === "inTime") {
          await time.setNextBlockTimestamp(start + 500n);
          await contract.connect(p1).registerSecrets([secret]);
          revealedAt = start + 500n;
        }
        if (reveal === "tooLate") {
          await time.setNextBlockTimestamp(l.expiry + 1n);
          await contract.connect(p1).registerSecrets([secret]);
          revealedAt = l.expiry + 1n;
        }
        const at = when === "early" ? start + 600n : when === "atExpiry" ? l.expiry : l.expiry + 5n;
        const submitAt = at > (await now()) ? at : (await now()) + 1n;

        const consents: SignedCancelConsent[] = [];
        if (consentKind === "payee") consents.push(await signCancelConsent(ch.signers[1], ch.domain, cancel));
        if (consentKind === "payer") consents.push(await signCancelConsent(ch.signers[0], ch.domain, cancel));
        if (consentKind === "otherSeq")
          consents.push({ ...(await signCancelConsent(ch.signers[1], ch.domain, cancel)), seq: 1 });

        let sdk: string;
        try {
          applyTransfer(lockState, cancel as Transfer, {
            now: submitAt,
            revealedInTime: () => revealedAt !== 0n && revealedAt <= l.expiry,
            consentedCancel: cancelConsentRule(ch.domain, ch.params, consents),
          });
          sdk = "ok";
        } catch (e) {
          sdk = (e as { code: string }).code;
        }
        await time.setNextBlockTimestamp(submitAt);
        const records = consents.map((c) => ({ seq: c.seq, signature: c.signature }));
        const args = [
          ch.params,
          0,
          "0x",
          GENESIS_STATE.head,
          "0x",
          bytesArg(encodeSignedTransfers(transfers)),
          bytesArg(encodeCancelConsentRecords(records)),
        ] as const;
        let chain: string;
        try {
          await (await contract.extendChainUsingConsentedCancels(...args)).wait();
          chain = "ok";
        } catch (e) {
          chain = contract.interface.parseError((e as { data: string }).data)?.name ?? "unknown";
        }
        expect(chain, `${when}/${reveal}/${consentKind}`).to.equal(sdk);
        seen.add(sdk);
      }
      // The draw covers acceptance and both refusals.
      expect([...seen].sort()).to.deep.equal(["CancelNotAllowed", "InvalidCancelConsent", "ok"]);
    });
  });
});
