// The dapp end to end: headless Debian Chromium (playwright-core) with an injected wallet backed by a
// local `hardhat node`, the production build served by `vite preview`, and a Parsec node on Kafka. Clicks
// through connect (after a wrong-network warning), open, deposit, cooperative close, a token channel
// closed unilaterally, disputed and settled, and an HTLC claim; checks the chain and the page.
// Runs with `npm run test:e2e` (PARSEC_E2E=1); skipped in a plain `hardhat test`.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect } from "chai";
import hre from "hardhat";
import { Contract, HDNodeWallet, JsonRpcProvider, parseEther, parseUnits, type JsonRpcSigner } from "ethers";
import { chromium, type BrowserContext, type Locator, type Page } from "playwright-core";
import {
  hashedTimelockAbi,
  parsecChannelsAbi,
  testTokenAbi,
  ChannelStatus,
  type Deployment,
} from "../../client";
import {
  hashlockOf,
  parsecDomain,
  toChannelParams,
  type Eip1193Provider,
  type Hash,
} from "../../sdk/isomorphic";
import { deployWith } from "../../tasks/lib/deploy";
import { setPrinter } from "../../tasks/lib/output";
import { OffchainChannel } from "../tasks/offchain";
import { CHROMIUM_ARGS, ensureChromium } from "./chromium";
import { ROOT, freshProvider, rpc, startDapp, startHardhatNode, type Service } from "./processes";
import { startRelayerNode, type RelayerNode } from "./relayer-node";
import { installWallet, type ShimWallet } from "./wallet-shim";
// `npm run test:e2e` names this file: the payments suite (two pages paying through a mediating node)
// registers with it.
import "./payments.test";

const enabled = process.env.PARSEC_E2E === "1";
const SHOTS = path.join(ROOT, "test-results", "e2e");
const HOUR = 3600;
/** The development mnemonic `hardhat node` derives its accounts from (public, test-only). */
const HARDHAT_MNEMONIC = "test test test test test test test test test test test junk";

(enabled ? describe : describe.skip)("dapp end to end (headless Chromium)", function () {
  this.timeout(120_000);
  let node: Service;
  let dapp: Service;
  let relayer: RelayerNode;
  let context: BrowserContext;
  let page: Page;
  let wallet: ShimWallet;
  let provider: JsonRpcProvider;
  let deployment: Deployment;
  let alice: JsonRpcSigner;
  let bob: JsonRpcSigner;
  let channels: Contract;
  let userDir: string;
  const pageLog: string[] = [];
  let shot = 0;

  const screenshot = async (name: string) => {
    shot += 1;
    await page.screenshot({
      path: path.join(SHOTS, `${String(shot).padStart(2, "0")}-${name}.png`),
      fullPage: true,
    });
  };
  /** Polls until `check` passes (its last failure is the error), like a web-first assertion. */
  const eventually = async (what: string, check: () => Promise<void>, timeoutMs = 20_000) => {
    const deadline = Date.now() + timeoutMs;
    let last: unknown;
    while (Date.now() < deadline) {
      try {
        return await check();
      } catch (e) {
        last = e;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    throw new Error(`${what}: ${(last as Error)?.message}\npage log:\n${pageLog.slice(-30).join("\n")}`);
  };
  const textOf = async (locator: Locator) => ((await locator.textContent()) ?? "").trim();
  const expectText = (what: string, locator: Locator, pattern: RegExp | string) =>
    eventually(what, async () => {
      const text = await textOf(locator);
      if (typeof pattern === "string") expect(text).to.contain(pattern);
      else expect(text).to.match(pattern);
    });
  const card = (id: string) => page.locator(`[data-testid=channel][data-channel-id="${id}"]`);
  const lastActivity = (label: string) =>
    page.locator("[data-testid=activity-entry]", { hasText: label }).first();
  const statusOf = async (id: string) =>
    Number(((await channels.channelState(id)) as [{ status: bigint }])[0].status);
  const latestChannelId = async (): Promise<Hash> => {
    const logs = await channels.queryFilter(channels.filters.ChannelOpened(), deployment.blockNumber);
    return (logs.at(-1) as unknown as { args: { channelId: string } }).args.channelId.toLowerCase() as Hash;
  };
  const offchainFor = async (id: Hash): Promise<OffchainChannel> => {
    const [log] = await channels.queryFilter(channels.filters.ChannelOpened(id), deployment.blockNumber);
    const a = (
      log as unknown as {
        args: {
          participant0: string;
          participant1: string;
          asset: string;
          challengePeriod: bigint;
          nonce: bigint;
        };
      }
    ).args;
    const params = toChannelParams({
      ...a,
      participant0: a.participant0,
      participant1: a.participant1,
      asset: a.asset,
      challengePeriod: Number(a.challengePeriod),
      nonce: a.nonce,
    });
    const eip1193: Eip1193Provider = {
      request: ({ method, params: p }) => provider.send(method, [...(p ?? [])]),
    };
    const off = new OffchainChannel(
      eip1193,
      parsecDomain(deployment.chainId, deployment.ParsecChannels),
      params,
    );
    expect(off.channelId).to.equal(id);
    return off;
  };

  before(async function () {
    this.timeout(900_000);
    const restore = setPrinter(() => undefined);
    fs.rmSync(SHOTS, { recursive: true, force: true });
    fs.mkdirSync(SHOTS, { recursive: true });
    const executablePath = ensureChromium();
    node = await startHardhatNode();
    provider = freshProvider(node.url);
    [alice, bob] = await provider.listAccounts();
    deployment = await deployWith(alice, hre.artifacts, {
      withTestToken: true,
      mintTo: [alice.address, bob.address],
    });
    setPrinter(restore);
    channels = new Contract(deployment.ParsecChannels, parsecChannelsAbi, provider);
    // The counterparty runs a Parsec node with its key (Hardhat's well-known second development account).
    const bobKey = HDNodeWallet.fromPhrase(HARDHAT_MNEMONIC, undefined, "m/44'/60'/0'/0/1");
    expect(bobKey.address).to.equal(bob.address);
    relayer = await startRelayerNode({
      provider,
      channels: deployment.ParsecChannels,
      startBlock: deployment.blockNumber,
      servesKey: bobKey.privateKey,
    });
    dapp = await startDapp();
    userDir = fs.mkdtempSync(path.join(os.tmpdir(), "parsec-e2e-chromium-"));
    context = await chromium.launchPersistentContext(userDir, {
      executablePath,
      headless: true,
      args: [...CHROMIUM_ARGS],
      viewport: { width: 1100, height: 900 },
    });
    // The wallet starts on mainnet's id: the dapp must warn and offer the switch.
    wallet = await installWallet(context, () => context.pages(), {
      rpcUrl: node.url,
      account: alice.address,
      startChainId: 1,
    });
    page = context.pages()[0] ?? (await context.newPage());
    page.on("console", (m) => pageLog.push(`[${m.type()}] ${m.text()}`));
    page.on("pageerror", (e) => pageLog.push(`[pageerror] ${e.message}`));
    const query = new URLSearchParams({
      network: "e2e",
      chainId: String(deployment.chainId),
      rpc: node.url,
      channels: deployment.ParsecChannels,
      htlc: deployment.HashedTimelock,
      token: deployment.TestToken as string,
      fromBlock: String(deployment.blockNumber),
      relayer: relayer.url,
    });
    await page.goto(`${dapp.url}/?${query}`);
  });

  after(async function () {
    this.timeout(60_000);
    await context?.close().catch(() => undefined);
    await dapp?.stop();
    await relayer?.stop();
    await node?.stop();
    if (userDir) fs.rmSync(userDir, { recursive: true, force: true });
  });

  it("warns about the wrong network, switches, and connects", async function () {
    await page.getByTestId("connect").click();
    await expectText("account shown", page.getByTestId("account"), alice.address.slice(0, 6));
    const banner = page.getByTestId("wrong-network");
    await expectText(
      "warning shown",
      banner,
      "Wrong network: your wallet is on chain 1; Parsec is deployed on chain 31337",
    );
    expect(await page.getByTestId("open-submit").isDisabled()).to.equal(true);
    await screenshot("wrong-network");
    await page.getByTestId("switch-network").click();
    await eventually("warning hidden", async () => void expect(await banner.isVisible()).to.equal(false));
    expect(wallet.chainId()).to.equal(31337);
    await expectText("relayer online", page.getByTestId("relayer-state"), "relayer online");
    await expectText("no channels yet", page.getByTestId("channels-empty"), "No channels yet");
  });

  let ethChannel: Hash;

  it("opens an ETH channel", async function () {
    await page.getByTestId("open-counterparty").fill(bob.address);
    await page.getByTestId("open-amount").fill("1");
    await page.getByTestId("open-period").fill("1");
    await page.getByTestId("open-submit").click();
    await expectText("open confirmed", lastActivity("Open ETH channel"), "confirmed");
    ethChannel = await latestChannelId();
    await expectText(
      "card shows the deposit",
      card(ethChannel).getByTestId("deposits"),
      "you 1 ETH · them 0 ETH",
    );
    const [record] = (await channels.channelState(ethChannel)) as [{ deposit0: bigint; status: bigint }];
    expect(record.deposit0).to.equal(parseEther("1"));
    expect(Number(record.status)).to.equal(ChannelStatus.Open);
  });

  it("deposits, showing the transaction as pending until it is mined", async function () {
    await rpc(node.url, "evm_setAutomine", [false]);
    try {
      await card(ethChannel).getByTestId("deposit-amount").fill("0.5");
      await card(ethChannel).getByTestId("deposit-submit").click();
      await expectText("deposit pending", lastActivity("Deposit ETH"), /pending tx 0x/);
      await screenshot("deposit-pending");
    } finally {
      await rpc(node.url, "evm_setAutomine", [true]);
      await rpc(node.url, "evm_mine");
    }
    await expectText("deposit confirmed", lastActivity("Deposit ETH"), "confirmed");
    // The counterparty funds its side from its own wallet; the page follows without a reload.
    await (
      await (channels.connect(bob) as Contract).getFunction("deposit")(ethChannel, 1, {
        value: parseEther("1"),
      })
    ).wait();
    await expectText("both deposits", card(ethChannel).getByTestId("deposits"), "you 1.5 ETH · them 1 ETH");
  });

  it("closes cooperatively with the counterparty's signature from the relayer", async function () {
    const off = await offchainFor(ethChannel);
    await off.pay(1, parseEther("0.2"));
    await off.pay(0, parseEther("0.05"));
    await relayer.feed(off);
    await expectText(
      "relayer balances",
      card(ethChannel).getByTestId("offchain"),
      "you 1.65 ETH · them 0.85 ETH",
    );
    await screenshot("channels");
    await expectText(
      "the wallet rule is shown before closing",
      card(ethChannel).getByTestId("coop-rule"),
      "sign and accept no transfer in this channel until it expired",
    );
    const before = await provider.getBalance(bob.address);
    await card(ethChannel).getByTestId("coop-submit").click();
    await expectText("close confirmed", lastActivity("Cooperative close"), "confirmed");
    // The close the relayer and the wallet signed names the state it settles and the rule that follows.
    await expectText(
      "signed at the relayer's seqs, with the rule",
      lastActivity("Your signature"),
      /signed at seqs \(1, 1\)\. After co-signing this close, sign and accept no transfer in this channel until it expired \(\d{4}-/,
    );
    await expectText("card settled", card(ethChannel).getByTestId("status"), "settled");
    expect(await statusOf(ethChannel)).to.equal(ChannelStatus.Settled);
    expect((await provider.getBalance(bob.address)) - before).to.equal(parseEther("0.85"));
    expect(wallet.calls).to.include("eth_signTypedData_v4");
  });

  let tokenChannel: Hash;

  it("opens a token channel, with the approve step shown", async function () {
    await page.getByTestId("open-asset").selectOption(deployment.TestToken as string);
    await page.getByTestId("open-amount").fill("100");
    await page.getByTestId("open-submit").click();
    await expectText("approve confirmed", lastActivity("Approve TST"), "confirmed");
    await expectText("open confirmed", lastActivity("Open TST channel"), "confirmed");
    tokenChannel = await latestChannelId();
    const token = new Contract(deployment.TestToken as string, testTokenAbi, bob);
    await (await token.getFunction("approve")(deployment.ParsecChannels, parseUnits("50", 18))).wait();
    const off = await offchainFor(tokenChannel);
    await (
      await (channels.connect(bob) as Contract).getFunction("depositToken")(
        off.params,
        1,
        parseUnits("50", 18),
      )
    ).wait();
    await expectText(
      "token deposits",
      card(tokenChannel).getByTestId("deposits"),
      "you 100 TST · them 50 TST",
    );
  });

  it("closes unilaterally, disputes with a file and with the relayer's evidence, and settles after the countdown", async function () {
    const off = await offchainFor(tokenChannel);
    await off.pay(1, parseUnits("10", 18));
    await off.cosign();
    const early = path.join(SHOTS, "..", "e2e-evidence-early.json");
    fs.writeFileSync(early, off.evidenceJson());
    await off.pay(1, parseUnits("20", 18));
    await off.pay(0, parseUnits("5", 18));
    await relayer.feed(off);

    await card(tokenChannel).getByTestId("close-submit").click();
    await expectText("closing", card(tokenChannel).getByTestId("status"), "closing");
    await expectText("countdown", card(tokenChannel).getByTestId("countdown"), /settle in (59m|1h 00m)/);
    expect(await card(tokenChannel).getByTestId("settle-submit").isDisabled()).to.equal(true);

    // An older export from a file: its co-signed checkpoint goes on-chain.
    await card(tokenChannel).getByTestId("evidence-file").setInputFiles(early);
    await card(tokenChannel).getByTestId("dispute-file").click();
    await expectText("checkpoint confirmed", lastActivity("checkpoint to seqs (0, 1)"), "confirmed");
    await expectText("seqs after the file", card(tokenChannel).getByTestId("seqs"), "P0 0 · P1 1");
    await card(tokenChannel).getByTestId("evidence-file").setInputFiles([]);

    // The relayer's newer evidence: the user's own chain verified, the counterparty's by head proof.
    await card(tokenChannel).getByTestId("dispute-relayer").click();
    await expectText("head proof confirmed", lastActivity("head proof of payer 1 at seq 2"), "confirmed");
    await expectText("chain confirmed", lastActivity("chain of payer 0 to seq 1"), "confirmed");
    await expectText("seqs after the relayer", card(tokenChannel).getByTestId("seqs"), "P0 1 · P1 2");
    // The checkpoint word keeps the file's checkpoint; the head proof and the chain wrote the proven words.
    const [, cp0, cp1] = (await channels.channelState(tokenChannel)) as [unknown, bigint, bigint, bigint];
    expect([cp0, cp1]).to.deep.equal([0n, 1n]);
    const proven = (await channels.provenHeadsOf(tokenChannel)) as [bigint, bigint, bigint, bigint];
    expect([proven[0], proven[2]]).to.deep.equal([1n, 2n]);
    await screenshot("disputed");

    // Settling early is refused by the contract, in words (the button is disabled, so call as the page would).
    await rpc(node.url, "evm_increaseTime", [HOUR]);
    await rpc(node.url, "evm_mine");
    await expectText("ready", card(tokenChannel).getByTestId("countdown"), "ready to settle");
    const token = new Contract(deployment.TestToken as string, testTokenAbi, provider);
    const [a0, b0] = [await token.balanceOf(alice.address), await token.balanceOf(bob.address)];
    await card(tokenChannel).getByTestId("settle-submit").click();
    await expectText("settle confirmed", lastActivity("Settle"), "confirmed");
    await expectText("settled", card(tokenChannel).getByTestId("status"), "settled");
    expect((await token.balanceOf(alice.address)) - a0).to.equal(parseUnits("125", 18));
    expect((await token.balanceOf(bob.address)) - b0).to.equal(parseUnits("25", 18));
  });

  it("shows a revert as the contract's custom error in words, and claims an HTLC with its preimage", async function () {
    const preimage = ("0x" + "5a".repeat(32)) as Hash;
    const htlc = new Contract(deployment.HashedTimelock, hashedTimelockAbi, bob);
    const { timestamp } = (await provider.getBlock("latest")) as { timestamp: number };
    const amount = parseEther("0.25");
    await (
      await htlc.getFunction("lock")(
        alice.address,
        "0x0000000000000000000000000000000000000000",
        amount,
        hashlockOf(preimage),
        timestamp + HOUR,
        { value: amount },
      )
    ).wait();
    const escrow = page.getByTestId("escrow").first();
    await expectText("escrow listed", escrow.getByTestId("escrow-state"), "claimable");

    await escrow.getByTestId("claim-preimage").fill("0x" + "00".repeat(32));
    await escrow.getByTestId("claim-submit").click();
    await expectText(
      "revert in words",
      escrow.getByTestId("claim-error"),
      "WrongPreimage: sha256(preimage) is not the hashlock.",
    );
    await expectText("activity failed", lastActivity("Claim HTLC"), "failed");
    await screenshot("wrong-preimage");

    await escrow.getByTestId("claim-preimage").fill(preimage);
    await escrow.getByTestId("claim-submit").click();
    await expectText("claim confirmed", lastActivity("Claim HTLC"), "confirmed");
    await expectText("escrow settled", escrow.getByTestId("escrow-state"), "settled");
    const id = await escrow.getAttribute("data-escrow-id");
    const stored = (await new Contract(deployment.HashedTimelock, hashedTimelockAbi, provider).escrowOf(
      id,
    )) as { settled: boolean };
    expect(stored.settled).to.equal(true);
    await screenshot("overview");
  });
});
