// The Hardhat tasks, run programmatically on the in-process chain: every task's success path and the
// failures a user meets, which must come back as the contract's custom error in words.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect } from "chai";
import hre from "hardhat";
import { encryptKeystoreJsonSync, parseEther, parseUnits, Wallet } from "ethers";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import { type Deployment, ChannelStatus, describeError } from "../../client";
import {
  cooperativeCloseArgs,
  hashlockOf,
  parsecDomain,
  signCooperativeClose,
  walletSigner,
  ZERO_ADDRESS,
  type CooperativeClose,
  type Eip1193Provider,
  type Hash,
} from "../../sdk/isomorphic";
import { deployParsec } from "../../tasks/lib/deploy";
import { setPrinter } from "../../tasks/lib/output";
import { generateAbiSource, ABI_FILE } from "../../tasks/abi";
import { NetworkConfigError, parsecNetworks } from "../../tasks/networks";
import { OffchainChannel } from "./offchain";

const HOUR = 3_600;

describe("Hardhat tasks", function () {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "parsec-tasks-"));
  const deploymentPath = path.join(tmp, "hardhat.json");
  const lines: string[] = [];
  let restorePrinter: (line: string) => void;
  let deployment: Deployment;
  let alice: string;
  let bob: string;
  let carol: string;

  // Runs a task with the test deployment; returns what the task returns.
  const run = <T>(name: string, args: Record<string, unknown> = {}): Promise<T> =>
    hre.run(name, { deployment: deploymentPath, ...args }) as Promise<T>;
  const expectFailure = async (promise: Promise<unknown>, ...fragments: string[]) => {
    let message = "";
    try {
      await promise;
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message, "the task should have failed").to.not.equal("");
    for (const f of fragments) expect(message).to.contain(f);
    return message;
  };
  /** The record, the checkpoint word's seqs and each payer's on-chain seq (checkpoint or proven, the higher). */
  const state = async (id: string) => {
    const channels = await hre.ethers.getContractAt("ParsecChannels", deployment.ParsecChannels);
    const [s, p] = await Promise.all([channels.channelState(id), channels.provenHeadsOf(id)]);
    const max = (a: bigint, b: bigint) => (a > b ? a : b);
    return {
      record: s.record,
      checkpoint: [s.seq0, s.seq1],
      seq0: max(s.seq0, p.seq0),
      seq1: max(s.seq1, p.seq1),
    };
  };
  const domain = () => parsecDomain(deployment.chainId, deployment.ParsecChannels);
  const paramsOf = (p0: string, p1: string, nonce: bigint, asset = ZERO_ADDRESS, challengePeriod = HOUR) => ({
    participant0: hre.ethers.getAddress(p0) as `0x${string}`,
    participant1: hre.ethers.getAddress(p1) as `0x${string}`,
    asset: hre.ethers.getAddress(asset) as `0x${string}`,
    challengePeriod,
    nonce,
  });

  before(async function () {
    restorePrinter = setPrinter((line) => lines.push(line));
    deployment = await deployParsec(hre, { outFile: deploymentPath });
    [alice, bob, carol] = (await hre.ethers.getSigners()).map((s) => s.address);
  });
  after(() => {
    setPrinter(restorePrinter);
    fs.rmSync(tmp, { recursive: true, force: true });
  });
  beforeEach(() => (lines.length = 0));

  describe("deploy", function () {
    it("writes the addresses, the chain and the block, and a TestToken on a local chain", async function () {
      const written = JSON.parse(fs.readFileSync(deploymentPath, "utf8")) as Deployment;
      expect(written).to.deep.equal(deployment);
      expect(written.chainId).to.equal(31337);
      expect(written.TestToken).to.match(/^0x[0-9a-fA-F]{40}$/);
      expect(await hre.ethers.provider.getCode(written.ParsecChannels)).to.not.equal("0x");
      expect(await hre.ethers.provider.getCode(written.HashedTimelock)).to.not.equal("0x");
      const token = await hre.ethers.getContractAt("TestToken", written.TestToken as string);
      expect(await token.balanceOf(bob)).to.equal(parseEther("1000000"));
    });

    it("fails with the command to run when the deployment file is missing", async function () {
      await expectFailure(
        hre.run("channel:show", { deployment: path.join(tmp, "nope.json") }),
        "no deployment",
        "scripts/deploy.ts",
      );
    });
  });

  describe("channel lifecycle", function () {
    it("opens an ETH channel, deposits for both sides and shows it", async function () {
      const opened = await run<{ channelId: Hash; txs: { gasUsed: bigint }[] }>("channel:open", {
        counterparty: bob,
        amount: "1.5",
        period: HOUR,
        nonce: "1",
      });
      expect(opened.channelId).to.match(/^0x[0-9a-f]{64}$/);
      expect(opened.txs[0].gasUsed > 0n).to.equal(true);
      expect(lines.join("\n")).to.match(/openEth: mined in block \d+, gas used \d+/);
      await run("channel:deposit", { channel: opened.channelId, amount: "0.25" });
      await run("channel:deposit", { channel: opened.channelId, amount: "2", from: bob });
      const s = await state(opened.channelId);
      expect(s.record.deposit0).to.equal(parseEther("1.75"));
      expect(s.record.deposit1).to.equal(parseEther("2"));

      lines.length = 0;
      const shown = await run<{ channelId: string }[]>("channel:show", { channel: opened.channelId });
      expect(shown).to.have.length(1);
      const text = lines.join("\n");
      expect(text).to.contain("status open");
      expect(text).to.contain("deposits P0 1.75 ETH, P1 2 ETH");

      const listed = await run<{ channelId: string }[]>("channel:show", { from: bob });
      expect(listed.map((c) => c.channelId)).to.include(opened.channelId);
    });

    it("opens a token channel with the approve step shown", async function () {
      const opened = await run<{ channelId: Hash; txs: { label: string }[] }>("channel:open", {
        counterparty: bob,
        amount: "100",
        token: "TST",
        nonce: "2",
      });
      expect(opened.txs.map((t) => t.label)).to.deep.equal(["approve", "openToken"]);
      const deposit = await run<{ label: string }[]>("channel:deposit", {
        channel: opened.channelId,
        amount: "5",
        from: bob,
      });
      expect(deposit.map((t) => t.label)).to.deep.equal(["approve", "depositToken"]);
      const s = await state(opened.channelId);
      expect(s.record.deposit0).to.equal(parseUnits("100", 18));
      expect(s.record.deposit1).to.equal(parseUnits("5", 18));
      expect(s.record.isToken).to.equal(true);
    });

    it("closes cooperatively with both local accounts' signatures", async function () {
      const { channelId } = await run<{ channelId: Hash }>("channel:open", {
        counterparty: bob,
        amount: "1",
        nonce: "3",
      });
      await run("channel:deposit", { channel: channelId, amount: "1", from: bob });
      const before = await hre.ethers.provider.getBalance(bob);
      await run("channel:close", { channel: channelId, cooperative: true, balance0: "0.4" });
      expect((await state(channelId)).record.status).to.equal(BigInt(ChannelStatus.Settled));
      expect((await hre.ethers.provider.getBalance(bob)) - before).to.equal(parseEther("1.6"));
      const text = lines.join("\n");
      expect(text).to.match(/at seqs \(0, 0\), valid until \S+Z/);
      expect(text).to.contain("sign and accept no transfer in this channel until it expired");
      expect(text).to.match(/your signed close: \{"channelId":"0x[0-9a-f]{64}","seq0":0,"seq1":0,/);
    });

    it("binds a cooperative close to the current state: an older one is refused, a pasted one is checked", async function () {
      const nonce = 33n;
      const { channelId } = await run<{ channelId: Hash }>("channel:open", {
        counterparty: bob,
        amount: "1",
        nonce: String(nonce),
        period: HOUR,
      });
      const off = new OffchainChannel(
        hre.network.provider as Eip1193Provider,
        domain(),
        paramsOf(alice, bob, nonce),
      );
      await off.pay(0, parseEther("0.1")); // Alice pays Bob; he proves it (he is its payee).
      const file = path.join(tmp, "evidence-33.json");
      fs.writeFileSync(file, off.evidenceJson());
      await run("channel:dispute", { channel: channelId, evidence: file, from: bob });
      expect((await state(channelId)).seq0).to.equal(1n);
      // A close at an older state of Alice's chain: the task refuses before signing.
      await expectFailure(
        run("channel:close", { channel: channelId, cooperative: true, balance0: "1", seq0: "0" }),
        "names seq 0 of payer 0, but the chain holds seq 1",
      );
      await expectFailure(
        run("channel:close", { channel: channelId, cooperative: true, balance0: "1", closeExpiry: 0 }),
        "--close-expiry",
      );
      // Bob signed his close first (at the evidence's seqs, for an hour): Alice passes it in as JSON.
      const now = BigInt((await hre.ethers.provider.getBlock("latest"))!.timestamp);
      const close = {
        channelId,
        seq0: 1,
        seq1: 0,
        balance0: parseEther("0.9"),
        balance1: parseEther("0.1"),
        expiry: now + 3600n,
      };
      const bobSig = await signCooperativeClose(
        walletSigner(hre.network.provider as Eip1193Provider, bob),
        domain(),
        close,
      );
      const signed = JSON.stringify({ signature: bobSig, seq0: 1, seq1: 0, expiry: close.expiry.toString() });
      // A bare signature says nothing about the terms it was signed for.
      await expectFailure(
        run("channel:close", { channel: channelId, cooperative: true, balance0: "0.9", signature: bobSig }),
        "give --expiry",
      );
      // Other terms than Bob signed: his signature does not recover to him.
      await expectFailure(
        run("channel:close", {
          channel: channelId,
          cooperative: true,
          balance0: "0.9",
          signature: bobSig,
          seq0: "1",
          expiry: String(close.expiry + 1n),
        }),
        "not " + bob,
      );
      const before = await hre.ethers.provider.getBalance(bob);
      await run("channel:close", {
        channel: channelId,
        cooperative: true,
        balance0: "0.9",
        signature: signed,
      });
      expect((await state(channelId)).record.status).to.equal(BigInt(ChannelStatus.Settled));
      expect((await hre.ethers.provider.getBalance(bob)) - before).to.equal(parseEther("0.1"));
    });

    it("words the cooperative-close reverts with what to do (expired, stale)", async function () {
      const nonce = 34n;
      const { channelId } = await run<{ channelId: Hash }>("channel:open", {
        counterparty: bob,
        amount: "1",
        nonce: String(nonce),
        period: HOUR,
      });
      const params = paramsOf(alice, bob, nonce);
      const provider = hre.network.provider as Eip1193Provider;
      const channels = await hre.ethers.getContractAt("ParsecChannels", deployment.ParsecChannels);
      const attempt = async (close: CooperativeClose) => {
        const sig0 = await signCooperativeClose(walletSigner(provider, alice), domain(), close);
        const sig1 = await signCooperativeClose(walletSigner(provider, bob), domain(), close);
        try {
          await channels.cooperativeClose.staticCall(...cooperativeCloseArgs(params, close, sig0, sig1));
        } catch (e) {
          return describeError(e);
        }
        throw new Error("the close should have reverted");
      };
      const now = BigInt((await hre.ethers.provider.getBlock("latest"))!.timestamp);
      const base = { channelId, seq0: 0, seq1: 0, balance0: parseEther("1"), balance1: 0n };
      const expired = await attempt({ ...base, expiry: now - 1n });
      expect(expired).to.contain("CooperativeCloseExpired");
      expect(expired).to.contain("sign a new cooperative close with a later expiry");
      const off = new OffchainChannel(provider, domain(), params);
      await off.pay(0, 1000n);
      const file = path.join(tmp, "evidence-34.json");
      fs.writeFileSync(file, off.evidenceJson());
      await run("channel:dispute", { channel: channelId, evidence: file, from: bob });
      const stale = await attempt({ ...base, expiry: now + 3600n });
      expect(stale).to.contain("CooperativeCloseStale");
      expect(stale).to.contain("payer = 0, signedSeq = 0, onchainSeq = 1");
      expect(stale).to.contain("sign a close at the current seqs");
    });

    it("refuses a cooperative close whose balances do not sum to the deposits, or a foreign signature", async function () {
      const { channelId } = await run<{ channelId: Hash }>("channel:open", {
        counterparty: bob,
        amount: "1",
        nonce: "4",
      });
      await expectFailure(
        run("channel:close", { channel: channelId, cooperative: true, balance0: "0.4", balance1: "0.4" }),
        "must sum to the deposits",
      );
      const expiry = BigInt((await hre.ethers.provider.getBlock("latest"))!.timestamp + HOUR);
      const foreign = await new Wallet(Wallet.createRandom().privateKey).signTypedData(
        {
          name: "Parsec",
          version: "1",
          chainId: deployment.chainId,
          verifyingContract: deployment.ParsecChannels,
        },
        {
          CooperativeClose: [
            { name: "channelId", type: "bytes32" },
            { name: "seq0", type: "uint32" },
            { name: "seq1", type: "uint32" },
            { name: "balance0", type: "uint128" },
            { name: "balance1", type: "uint128" },
            { name: "expiry", type: "uint64" },
          ],
        },
        { channelId, seq0: 0, seq1: 0, balance0: parseEther("1"), balance1: 0n, expiry },
      );
      await expectFailure(
        run("channel:close", {
          channel: channelId,
          cooperative: true,
          balance0: "1",
          signature: foreign,
          expiry: String(expiry),
        }),
        "not " + bob,
      );
    });

    it("closes unilaterally, disputes with head proofs and settles after the countdown", async function () {
      const nonce = 5n;
      const { channelId } = await run<{ channelId: Hash }>("channel:open", {
        counterparty: bob,
        amount: "1",
        nonce: String(nonce),
        period: HOUR,
      });
      await run("channel:deposit", { channel: channelId, amount: "1", from: bob });
      const off = new OffchainChannel(
        hre.network.provider as Eip1193Provider,
        domain(),
        paramsOf(alice, bob, nonce),
      );
      expect(off.channelId).to.equal(channelId);
      await off.pay(0, parseEther("0.1"));
      await off.pay(1, parseEther("0.3"));
      await off.cosign();
      await off.pay(1, parseEther("0.2")); // Bob owes Alice 0.5 in total, Alice owes 0.1.
      await off.pay(0, parseEther("0.05"));
      const file = path.join(tmp, "evidence-5.json");
      fs.writeFileSync(file, off.evidenceJson());

      await run("channel:checkpoint", { channel: channelId, evidence: file });
      let s = await state(channelId);
      expect([s.seq0, s.seq1]).to.deep.equal([1n, 1n]);
      expect(s.checkpoint).to.deep.equal([1n, 1n]);
      lines.length = 0;
      expect(await run("channel:checkpoint", { channel: channelId, evidence: file })).to.equal(null);
      expect(lines.join("\n")).to.contain("not newer");

      await run("channel:close", { channel: channelId });
      expect((await state(channelId)).record.status).to.equal(BigInt(ChannelStatus.Closing));
      await expectFailure(
        run("channel:settle", { channel: channelId, evidence: file }),
        "ChallengePeriodActive",
        "challenge period ends at",
      );

      // Alice is the payee of Bob's chain: one head proof; her own chain goes through extendChain.
      const reports = await run<{ label: string; gasUsed: bigint }[]>("channel:dispute", {
        channel: channelId,
        evidence: file,
      });
      expect(reports.map((r) => r.label)).to.deep.equal([
        "chain of payer 0 to seq 2, piece 1/1",
        "head proof of payer 1 at seq 2",
      ]);
      s = await state(channelId);
      expect([s.seq0, s.seq1]).to.deep.equal([2n, 2n]);
      // Head proofs and chain extensions write the proven words; the checkpoint word stays.
      expect(s.checkpoint).to.deep.equal([1n, 1n]);
      expect(await run("channel:dispute", { channel: channelId, evidence: file })).to.deep.equal([]);
      lines.length = 0;
      await run("channel:show", { channel: channelId });
      expect(lines.join("\n")).to.contain("on-chain seqs P0 2, P1 2 (checkpoint 1/1, proven 2/2)");

      await time.increase(HOUR);
      const settled = await run<{ payout0: bigint; payout1: bigint }>("channel:settle", {
        channel: channelId,
        evidence: file,
      });
      expect(settled.payout0).to.equal(parseEther("1.35"));
      expect(settled.payout1).to.equal(parseEther("0.65"));
      expect(lines.join("\n")).to.contain("settled: P0 1.35 ETH, P1 0.65 ETH");
    });

    it("disputes by verifying the whole chain in pieces, from anyone", async function () {
      const nonce = 6n;
      const { channelId } = await run<{ channelId: Hash }>("channel:open", {
        counterparty: bob,
        amount: "1",
        nonce: String(nonce),
        period: HOUR,
      });
      const off = new OffchainChannel(
        hre.network.provider as Eip1193Provider,
        domain(),
        paramsOf(alice, bob, nonce),
      );
      for (let i = 1; i <= 5; i++) await off.pay(0, BigInt(i) * 1000n);
      const file = path.join(tmp, "evidence-6.json");
      fs.writeFileSync(file, off.evidenceJson());
      await run("channel:close", { channel: channelId, from: bob });
      const reports = await run<{ label: string }[]>("channel:dispute", {
        channel: channelId,
        evidence: file,
        mode: "chain",
        chunk: 2,
        from: carol,
      });
      expect(reports.map((r) => r.label)).to.deep.equal([
        "chain of payer 0 to seq 5, piece 1/3",
        "chain of payer 0 to seq 5, piece 2/3",
        "chain of payer 0 to seq 5, piece 3/3",
      ]);
      expect((await state(channelId)).seq0).to.equal(5n);
    });

    it("rejects evidence that does not match the chain, and tampered evidence", async function () {
      const nonce = 7n;
      const { channelId } = await run<{ channelId: Hash }>("channel:open", {
        counterparty: bob,
        amount: "1",
        nonce: String(nonce),
        period: HOUR,
      });
      const off = new OffchainChannel(
        hre.network.provider as Eip1193Provider,
        domain(),
        paramsOf(alice, bob, nonce),
      );
      await off.pay(0, 10n);
      await off.pay(0, 10n);
      const json = JSON.parse(off.evidenceJson()) as { chains: { transfers: { amount: string }[] }[] };
      json.chains[0].transfers[1].amount = "11";
      const tampered = path.join(tmp, "evidence-7-bad.json");
      fs.writeFileSync(tampered, JSON.stringify(json));
      await expectFailure(
        run("channel:dispute", { channel: channelId, evidence: tampered, from: bob }),
        "Evidence is not usable",
      );
      const other = path.join(tmp, "evidence-other.json");
      const foreign = new OffchainChannel(
        hre.network.provider as Eip1193Provider,
        domain(),
        paramsOf(alice, bob, 999n),
      );
      await foreign.pay(0, 1n);
      fs.writeFileSync(other, foreign.evidenceJson());
      await expectFailure(
        run("channel:dispute", { channel: channelId, evidence: other }),
        "Evidence is not usable",
      );
    });

    it("turns reverts into the contract's custom errors in words", async function () {
      await expectFailure(
        run("channel:open", { counterparty: bob, amount: "1", period: 60 }),
        "openEth failed",
        "ChallengePeriodOutOfRange: The challenge period must lie within [min, max] seconds.",
        "given = 60",
      );
      await expectFailure(
        run("channel:open", { counterparty: bob, amount: "1", nonce: "1", period: HOUR }),
        "ChannelExists",
      );
      await expectFailure(run("channel:open", { counterparty: alice, amount: "1" }), "InvalidCounterparty");
      await expectFailure(run("channel:open", { counterparty: bob, amount: "0.5.1" }), "not a valid amount");
      await expectFailure(
        run("channel:open", { counterparty: bob, amount: "0.0000000000000000001" }),
        "at most 18 decimals",
      );
      const { channelId } = await run<{ channelId: Hash }>("channel:open", {
        counterparty: bob,
        amount: "1",
        nonce: "8",
      });
      await expectFailure(run("channel:close", { channel: channelId, from: carol }), "NotParticipant", carol);
      await expectFailure(run("channel:settle", { channel: channelId }), "only a closing channel settles");
      await expectFailure(
        run("channel:deposit", { channel: "0x" + "ab".repeat(32), amount: "1" }),
        "no channel",
      );
    });
  });

  describe("pending locks after settlement", function () {
    it("resolves a payer's locks: shown preimages to the payee, expired ones back, once", async function () {
      const nonce = 77n;
      const { channelId } = await run<{ channelId: Hash }>("channel:open", {
        counterparty: bob,
        amount: "1",
        nonce: String(nonce),
        period: HOUR,
      });
      const off = new OffchainChannel(
        hre.network.provider as Eip1193Provider,
        domain(),
        paramsOf(alice, bob, nonce),
      );
      const expiry = BigInt((await hre.ethers.provider.getBlock("latest"))!.timestamp + 10 * HOUR);
      const shown = "0x" + "11".repeat(32);
      const kept = "0x" + "22".repeat(32);
      const soon = expiry - 8n * BigInt(HOUR);
      await off.lock(0, parseEther("0.2"), hashlockOf(shown as Hash), expiry);
      await off.lock(0, parseEther("0.3"), hashlockOf(kept as Hash), soon);
      await off.cosign();
      const file = path.join(tmp, "evidence-locks.json");
      fs.writeFileSync(file, off.evidenceJson());
      await run("channel:checkpoint", { channel: channelId, evidence: file });

      await expectFailure(
        run("channel:resolve-locks", { channel: channelId, payer: "0", evidence: file }),
        "settles",
      );
      await run("channel:close", { channel: channelId });
      await time.increase(HOUR);
      await run("channel:settle", { channel: channelId, evidence: file });
      await expectFailure(
        run("channel:resolve-locks", { channel: channelId, payer: "2", evidence: file }),
        "--payer",
      );
      await expectFailure(
        run("channel:resolve-locks", { channel: channelId, payer: "1", evidence: file }),
        "no locks left",
      );

      // The shown lock resolves at once (to the payee); the kept one could still be revealed until it
      // expires, so it stays open and blocks nothing.
      const first = await run<{ toPayee: bigint; toPayer: bigint; resolved: number[]; open: number[] }>(
        "channel:resolve-locks",
        { channel: channelId, payer: "0", evidence: file, preimages: shown },
      );
      expect(first.toPayee).to.equal(parseEther("0.2"));
      expect(first.toPayer).to.equal(0n);
      expect(first.resolved).to.deep.equal([0]);
      expect(first.open).to.deep.equal([1]);
      let text = lines.join("\n");
      expect(text).to.contain("resolved: to the payee 0.2 ETH, back to the payer 0 ETH");
      expect(text).to.contain("resolved lock 0 (0.2 ETH, hashlock");
      expect(text).to.contain("0.2 ETH to the payee (revealed in time)");
      expect(text).to.contain(
        `still open: lock 1 (0.3 ETH, hashlock ${hashlockOf(kept as Hash)}) until ${new Date(Number(soon) * 1000).toISOString()}`,
      );
      // Nothing else is resolvable yet: the contract says so, and the task says until when.
      await expectFailure(
        run("channel:resolve-locks", { channel: channelId, payer: "0", evidence: file }),
        "NoLockResolvable",
        "call again after it expires",
        `Still open: lock 1 (0.3 ETH, hashlock ${hashlockOf(kept as Hash)}) open until ${new Date(Number(soon) * 1000).toISOString()}`,
      );
      await time.increase(2 * HOUR);
      lines.length = 0;
      const result = await run<{ toPayee: bigint; toPayer: bigint; resolved: number[]; open: number[] }>(
        "channel:resolve-locks",
        { channel: channelId, payer: "0", evidence: file },
      );
      expect(result.toPayee).to.equal(0n);
      expect(result.toPayer).to.equal(parseEther("0.3"));
      expect(result.resolved).to.deep.equal([1]);
      expect(result.open).to.deep.equal([]);
      text = lines.join("\n");
      expect(text).to.contain("locks 0 resolved before");
      expect(text).to.contain("resolved: to the payee 0 ETH, back to the payer 0.3 ETH");
      expect(text).to.contain("0.3 ETH back to the payer (expired unrevealed)");
      expect(text).to.contain("every lock of payer 0 is resolved");
      await expectFailure(
        run("channel:resolve-locks", { channel: channelId, payer: "0", evidence: file }),
        "no locks left",
      );
    });
  });

  describe("HTLC and secrets", function () {
    it("locks ETH, refuses a wrong preimage in words, and claims with the right one", async function () {
      const locked = await run<{ id: Hash; preimage: Hash }>("htlc:lock", { receiver: bob, amount: "0.3" });
      expect(lines.join("\n")).to.contain("secret (keep it");
      await expectFailure(
        run("htlc:claim", { id: locked.id, preimage: "0x" + "00".repeat(32), from: bob }),
        "WrongPreimage: sha256(preimage) is not the hashlock.",
      );
      const before = await hre.ethers.provider.getBalance(bob);
      await run("htlc:claim", { id: locked.id, preimage: locked.preimage, from: carol });
      expect((await hre.ethers.provider.getBalance(bob)) - before).to.equal(parseEther("0.3"));
      await expectFailure(run("htlc:claim", { id: locked.id, preimage: locked.preimage }), "EscrowSettled");
    });

    it("locks tokens under a given hashlock and refunds only after the timelock", async function () {
      const preimage = ("0x" + "42".repeat(32)) as Hash;
      const locked = await run<{ id: Hash; txs: { label: string }[] }>("htlc:lock", {
        receiver: bob,
        amount: "7",
        token: "TST",
        hashlock: hashlockOf(preimage),
        timelock: 600,
      });
      expect(locked.txs.map((t) => t.label)).to.deep.equal(["approve", "lock"]);
      await expectFailure(run("htlc:refund", { id: locked.id }), "TimelockNotExpired", "timelock =");
      await time.increase(601);
      await run("htlc:refund", { id: locked.id });
      await expectFailure(run("htlc:claim", { id: locked.id, preimage, from: bob }), "EscrowSettled");
    });

    it("registers secrets on-chain", async function () {
      const secret = ("0x" + "07".repeat(32)) as Hash;
      await run("secret:register", { preimages: secret });
      const channels = await hre.ethers.getContractAt("ParsecChannels", deployment.ParsecChannels);
      expect(await channels.secretRevealedAt(hashlockOf(secret))).to.not.equal(0n);
      await expectFailure(run("secret:register", { preimages: "0x1234" }), "must be 32 bytes");
    });
  });

  describe("networks from the environment", function () {
    it("configures an RPC URL with a key, and none without PARSEC_RPC_URL", function () {
      const key = "0x" + "11".repeat(32);
      expect(parsecNetworks({})).to.deep.equal({});
      expect(
        parsecNetworks({ PARSEC_RPC_URL: "https://rpc.example", PARSEC_PRIVATE_KEY: key }),
      ).to.deep.equal({
        parsec: { url: "https://rpc.example", accounts: [key] },
      });
      expect(
        parsecNetworks({ PARSEC_RPC_URL: "http://127.0.0.1:8545", PARSEC_NETWORK: "sepolia" }),
      ).to.deep.equal({
        sepolia: { url: "http://127.0.0.1:8545" },
      });
      expect(() => parsecNetworks({ PARSEC_RPC_URL: "https://x", PARSEC_PRIVATE_KEY: "0x12" })).to.throw(
        NetworkConfigError,
        "64 hex",
      );
      expect(() => parsecNetworks({ PARSEC_RPC_URL: "ftp://x" })).to.throw(NetworkConfigError);
    });

    it("decrypts an encrypted JSON keystore, and says so when the password is wrong", function () {
      const wallet = Wallet.createRandom();
      const file = path.join(tmp, "keystore.json");
      fs.writeFileSync(
        file,
        encryptKeystoreJsonSync({ address: wallet.address, privateKey: wallet.privateKey }, "pw", {
          scrypt: { N: 1 << 4 },
        }),
      );
      const env = { PARSEC_RPC_URL: "https://x", PARSEC_KEYSTORE: file, PARSEC_KEYSTORE_PASSWORD: "pw" };
      expect(parsecNetworks(env).parsec.accounts).to.deep.equal([wallet.privateKey]);
      expect(() => parsecNetworks({ ...env, PARSEC_KEYSTORE_PASSWORD: "wrong" })).to.throw(
        NetworkConfigError,
        "wrong PARSEC_KEYSTORE_PASSWORD",
      );
      expect(() => parsecNetworks({ ...env, PARSEC_KEYSTORE_PASSWORD: undefined })).to.throw(
        NetworkConfigError,
      );
    });
  });

  it("client/src/abi.ts is current with the compiled contracts (else: npx hardhat parsec:abi)", async function () {
    expect(await generateAbiSource(hre)).to.equal(
      fs.readFileSync(path.join(hre.config.paths.root, ABI_FILE), "utf8"),
    );
  });
});
