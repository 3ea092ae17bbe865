// The dapp pays, end to end: two browser contexts (Alice the payer, Carol the payee), each with its own
// injected wallet and storage, the production build served by `vite preview`, a local `hardhat node`, and
// Bob's real Parsec node on Kafka mediating routed payments and serving the HTTP payments API. Carol
// requests an invoice; Alice funds a payment channel to Bob from her wallet, previews the invoice (route,
// fee, expiry) and pays it across two hops; a payment above her capacity shows the reason; a reload in the
// middle of a payment (the LOCK journaled, its write to the node cut off) resumes that same LOCK; the
// balances and the history match the chain and the node. Screenshots under test-results/e2e-payments/.
// Runs with `npm run test:e2e` (PARSEC_E2E=1; dapp.test.ts loads this file); skipped in a plain
// `hardhat test`.
import fs from "node:fs";
import path from "node:path";
import { expect } from "chai";
import hre from "hardhat";
import {
  Contract,
  HDNodeWallet,
  formatEther,
  parseEther,
  type JsonRpcProvider,
  type JsonRpcSigner,
} from "ethers";
import { formatUnits } from "viem";
import { chromium, type Browser, type BrowserContext, type Locator, type Page } from "playwright-core";
import { nodePayerViews, parsecChannelsAbi, type Deployment } from "../../client";
import { forwardingFee, hashlockOf, parseRoutedInvoice, type Hash } from "../../sdk/isomorphic";
import { deployWith } from "../../tasks/lib/deploy";
import { setPrinter } from "../../tasks/lib/output";
import { CHROMIUM_ARGS, ensureChromium } from "./chromium";
import { ROOT, freshProvider, startDapp, startHardhatNode, type Service } from "./processes";
import { startRelayerNode, type RelayerNode } from "./relayer-node";
import { installWallet } from "./wallet-shim";

const enabled = process.env.PARSEC_E2E === "1";
const SHOTS = path.join(ROOT, "test-results", "e2e-payments");
const README_SHOT = path.join(ROOT, "docs", "img", "dapp-pay.png");
const HARDHAT_MNEMONIC = "test test test test test test test test test test test junk";
const POLICY = { feeBase: 1_000n, feePpm: 1_000, expiryDelta: 600, minConfirmationMarginSeconds: 120 };
const ALICE_DEPOSIT = parseEther("0.05");
const BOB_TO_CAROL = parseEther("0.02");

(enabled ? describe : describe.skip)("dapp payments end to end (two headless Chromium pages)", function () {
  this.timeout(180_000);
  let node: Service;
  let dapp: Service;
  let relayer: RelayerNode;
  let browser: Browser;
  let provider: JsonRpcProvider;
  let deployment: Deployment;
  let bob: JsonRpcSigner;
  let alice: { context: BrowserContext; page: Page; session: string };
  let carol: { context: BrowserContext; page: Page; session: string };
  let aliceChannel: Hash;
  let url: string;
  const pageLog: string[] = [];
  const paid: { amount: bigint; fee: bigint }[] = [];
  let shot = 0;

  const screenshot = async (page: Page, name: string) => {
    shot += 1;
    const file = path.join(SHOTS, `${String(shot).padStart(2, "0")}-${name}.png`);
    await page.screenshot({ path: file, fullPage: true });
    return file;
  };
  const eventually = async (
    what: string,
    check: () => Promise<unknown>,
    timeoutMs = 30_000,
  ): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    let last: unknown;
    while (Date.now() < deadline) {
      try {
        await check();
        return;
      } catch (e) {
        last = e;
        await new Promise((r) => setTimeout(r, 250));
      }
    }
    throw new Error(`${what}: ${(last as Error)?.message}\npage log:\n${pageLog.slice(-30).join("\n")}`);
  };
  const textOf = async (l: Locator) => ((await l.textContent()) ?? "").trim();
  const expectText = (what: string, l: Locator, pattern: RegExp | string) =>
    eventually(what, async () => {
      const text = await textOf(l);
      if (typeof pattern === "string") expect(text).to.contain(pattern);
      else expect(text).to.match(pattern);
    });
  const nodeChannel = async (id: string) => {
    const res = await fetch(`${relayer.url}/channels/${id}`);
    expect(res.status).to.equal(200);
    return (await res.json()) as { balances: { available0: string; available1: string }; payers: unknown[] };
  };

  /** A page with its own wallet (hardhat account `account`), connected, payments enabled. */
  const openPage = async (account: string, label: string) => {
    const context = await browser.newContext({ viewport: { width: 1100, height: 1000 } });
    await installWallet(context, () => context.pages(), { rpcUrl: node.url, account, startChainId: 31337 });
    const page = await context.newPage();
    page.on("console", (m) => pageLog.push(`[${label} ${m.type()}] ${m.text()}`));
    page.on("pageerror", (e) => pageLog.push(`[${label} pageerror] ${e.message}`));
    await page.goto(url);
    await page.getByTestId("connect").click();
    await expectText(`${label} connected`, page.getByTestId("account"), account.slice(0, 6));
    await page.getByTestId("enable-payments").click();
    await expectText(
      `${label}'s payment key`,
      page.getByTestId("session-address"),
      /payment key 0x[0-9a-fA-F]{40}/,
    );
    const session = (await textOf(page.getByTestId("session-address"))).replace("payment key ", "");
    return { context, page, session };
  };

  /**
   * Carol requests an invoice; resolves with its text once her page shows it. The page keeps the previous
   * invoice (also "waiting for payment") until the new one is signed: wait for the new text itself.
   */
  const requestInvoice = async (amount: string, description: string): Promise<string> => {
    const c = carol.page;
    const before = await c
      .getByTestId("invoice-text")
      .inputValue()
      .catch(() => "");
    await c.getByTestId("request-amount").fill(amount);
    await c.getByTestId("request-description").fill(description);
    await c.getByTestId("request-create").click();
    let text = "";
    await eventually(`the invoice for ${amount} (${description}) shows`, async () => {
      text = await c.getByTestId("invoice-text").inputValue();
      expect(text).to.match(/^parsec1/);
      expect(text).to.not.equal(before);
      const inv = parseRoutedInvoice(text, { allowExpired: true }).invoice;
      expect(inv.amount).to.equal(parseEther(amount));
      expect(inv.description).to.equal(description);
      expect(await c.getByTestId("invoice-status").textContent()).to.contain("waiting for payment");
    });
    return text;
  };
  /** Alice previews `text`; resolves once the preview (and the confirm button) shows, else says why not. */
  const previewInvoice = async (text: string): Promise<void> => {
    const a = alice.page;
    await a.getByTestId("pay-invoice").fill(text);
    await a.getByTestId("pay-preview").click();
    await eventually("the preview shows", async () => {
      const status = await a.getByTestId("pay-status").getAttribute("data-status");
      if (status === "failed")
        throw new Error(`the preview failed: ${await textOf(a.getByTestId("pay-status"))}`);
      expect(await a.getByTestId("pay-confirm").isVisible(), "the confirm button").to.equal(true);
    });
  };

  before(async function () {
    this.timeout(900_000);
    const restore = setPrinter(() => undefined);
    fs.rmSync(SHOTS, { recursive: true, force: true });
    fs.mkdirSync(SHOTS, { recursive: true });
    const executablePath = ensureChromium();
    node = await startHardhatNode();
    provider = freshProvider(node.url);
    const [deployer, bobSigner] = await provider.listAccounts();
    bob = bobSigner;
    deployment = await deployWith(deployer, hre.artifacts, {
      withTestToken: true,
      mintTo: [deployer.address],
    });
    setPrinter(restore);
    const bobKey = HDNodeWallet.fromPhrase(HARDHAT_MNEMONIC, undefined, "m/44'/60'/0'/0/1");
    expect(bobKey.address).to.equal(bob.address);
    relayer = await startRelayerNode({
      provider,
      channels: deployment.ParsecChannels,
      startBlock: deployment.blockNumber,
      servesKey: bobKey.privateKey,
      mediation: POLICY,
    });
    dapp = await startDapp();
    url = `${dapp.url}/?${new URLSearchParams({
      network: "e2e",
      chainId: String(deployment.chainId),
      rpc: node.url,
      channels: deployment.ParsecChannels,
      htlc: deployment.HashedTimelock,
      token: deployment.TestToken as string,
      fromBlock: String(deployment.blockNumber),
      relayer: relayer.url,
      // No node key or fees: the pages learn Bob's node, its routing key and its policy from its graph.
    })}`;
    browser = await chromium.launch({ executablePath, headless: true, args: [...CHROMIUM_ARGS] });
    const accounts = await provider.listAccounts();
    alice = await openPage(accounts[0].address, "alice");
    carol = await openPage(accounts[2].address, "carol");
  });

  after(async function () {
    this.timeout(60_000);
    await browser?.close().catch(() => undefined);
    await dapp?.stop();
    await relayer?.stop();
    await node?.stop();
  });

  it("Alice funds a payment channel to Bob's node from her wallet; Bob opens one to Carol; both pages show the balances", async () => {
    const channels = new Contract(deployment.ParsecChannels, parsecChannelsAbi, bob);
    await (await channels.getFunction("openEth")(carol.session, 3600, 1n, { value: BOB_TO_CAROL })).wait();
    const { page } = alice;
    await page.getByTestId("fund-counterparty").fill(bob.address);
    await page.getByTestId("fund-amount").fill(formatEther(ALICE_DEPOSIT));
    await page.getByTestId("fund-open").click();
    const opened = page.locator("[data-testid=activity-entry]", { hasText: "Open payment channel" }).first();
    await expectText("the session key opened the channel", opened, "confirmed");
    const row = page.getByTestId("balance-row").first();
    await expectText("Alice can send her deposit", row.getByTestId("can-send"), "0.05 ETH");
    aliceChannel = ((await row.getAttribute("data-channel")) ?? "") as Hash;
    const carolRow = carol.page.getByTestId("balance-row").first();
    await expectText("Carol can receive Bob's deposit", carolRow.getByTestId("can-receive"), "0.02 ETH");
    await expectText("Carol can send nothing", carolRow.getByTestId("can-send"), "0 ETH");
    // One wallet signature (the key) and one wallet transaction (the funding) for Alice: no more.
    await eventually("the node holds Alice's channel", async () => void (await nodeChannel(aliceChannel)));
    // The pages route on the node's graph: Bob's node announces that it forwards into Carol's channel.
    await eventually("Bob's node announces Bob → Carol", async () => {
      const { entries } = (await (await fetch(`${relayer.url}/graph`)).json()) as {
        entries: { announcer: string; channel: { participant0: string; participant1: string } }[];
      };
      const same = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();
      const announced = entries.some(
        (e) =>
          same(e.announcer, bob.address) &&
          same(e.channel.participant0, bob.address) &&
          same(e.channel.participant1, carol.session),
      );
      expect(announced, JSON.stringify(entries)).to.equal(true);
    });
  });

  it("Carol requests an invoice; Alice previews it (payee, amount, description, route, fee, expiry) and pays it across two hops", async () => {
    const amount = parseEther("0.004");
    const c = carol.page;
    const text = await requestInvoice("0.004", "coffee");
    expect(await c.getByTestId("invoice-qr").getAttribute("src")).to.match(/^data:image\/png;base64,/);
    await screenshot(c, "request");

    const a = alice.page;
    const fee = forwardingFee({ feeBase: POLICY.feeBase, feePpm: POLICY.feePpm }, amount);
    await a.getByTestId("pay-invoice").fill(text);
    await a.getByTestId("pay-preview").click();
    await expectText("payee", a.getByTestId("preview-payee"), carol.session);
    await expectText("amount", a.getByTestId("preview-amount"), "0.004 ETH");
    await expectText("description", a.getByTestId("preview-description"), "coffee");
    await expectText("fee", a.getByTestId("preview-fee"), `${formatEther(fee)} ETH`);
    expect((await textOf(a.getByTestId("preview-route"))).split("→").length).to.equal(3);
    expect(await textOf(a.getByTestId("preview-expiry"))).to.match(/^\d{4}-\d\d-\d\dT/);
    fs.copyFileSync(await screenshot(a, "pay-preview"), README_SHOT);
    await a.getByTestId("pay-confirm").click();
    await eventually("the payment is done", async () =>
      expect(await a.getByTestId("pay-status").getAttribute("data-status")).to.equal("done"),
    );
    const status = await textOf(a.getByTestId("pay-status"));
    const preimage = /\(preimage\) (0x[0-9a-f]{64})/.exec(status)?.[1] as Hash;
    expect(hashlockOf(preimage)).to.equal(parseRoutedInvoice(text, { allowExpired: true }).invoice.hashlock);
    expect(status).to.contain(`fee ${formatEther(fee)} ETH`);
    await screenshot(a, "pay-done");
    await expectText("Carol sees it paid", c.getByTestId("invoice-status"), "paid at");
    paid.push({ amount, fee });
  });

  it("a payment above Alice's capacity is refused before anything is signed, with the reason in words", async () => {
    const text = await requestInvoice("1", "too much");
    const a = alice.page;
    await a.getByTestId("pay-invoice").fill(text);
    await a.getByTestId("pay-preview").click();
    await expectText("the reason", a.getByTestId("pay-status"), /failed: No route can carry this amount/);
    expect(await a.getByTestId("pay-confirm").isVisible()).to.equal(false);
    await screenshot(a, "pay-capacity-failure");
  });

  it("a reload in the middle of a payment resumes it: the journaled LOCK is sent, never a second one", async () => {
    const amount = parseEther("0.002");
    const c = carol.page;
    const text = await requestInvoice("0.002", "resume me");
    const a = alice.page;
    // The tab "dies" while writing the LOCK to the node: the POST never completes.
    const postTransfers = (u: URL) => u.pathname === "/transfers";
    await a.route(postTransfers, async (route) =>
      route.request().method() === "POST" ? undefined : route.continue(),
    );
    await previewInvoice(text);
    await a.getByTestId("pay-confirm").click();
    const lockKey = async () =>
      a.evaluate(() => {
        const storage = (
          globalThis as unknown as { localStorage: { length: number; key(i: number): string | null } }
        ).localStorage;
        for (let i = 0; i < storage.length; i++) {
          const k = storage.key(i);
          if (k && /journal:0x[0-9a-f]{64}:0:3$/.test(k)) return k;
        }
        return null;
      });
    await eventually("the LOCK is journaled", async () => expect(await lockKey()).to.be.a("string"));
    const journaled = await a.evaluate(
      (k) =>
        (
          globalThis as unknown as { localStorage: { getItem(k: string): string | null } }
        ).localStorage.getItem(k),
      (await lockKey()) as string,
    );
    expect(JSON.parse(journaled as string).signature).to.match(/^0x/);
    expect(await a.getByTestId("history-row").first().getAttribute("data-status")).to.equal("pending");
    await screenshot(a, "pay-pending");
    await a.unroute(postTransfers);
    await a.reload();
    await a.getByTestId("connect").click();
    await eventually("the resumed payment is done", async () =>
      expect(await a.getByTestId("history-row").first().getAttribute("data-status")).to.equal("done"),
    );
    await expectText("Carol sees it paid", c.getByTestId("invoice-status"), "paid at");
    // The node holds one LOCK at seq 3, the one journaled before the reload.
    const res = await fetch(`${relayer.url}/channels/${aliceChannel}/transfers?from=0&waitMs=0`);
    const { records } = (await res.json()) as {
      records: { transfer: { payer: number; seq: number; signature: string } }[];
    };
    const at3 = records.filter((r) => r.transfer.payer === 0 && r.transfer.seq === 3);
    expect(new Set(at3.map((r) => r.transfer.signature)).size).to.equal(1);
    expect(at3[0].transfer.signature).to.equal(JSON.parse(journaled as string).signature);
    // …and no second LOCK for the invoice: the resumed payment UNLOCKed seq 3 at seq 4, nothing is held.
    await eventually("the node applied the UNLOCK", async () => {
      const [p0] = (await nodeChannel(aliceChannel)).payers as { seq: number; lockedTotal: string }[];
      expect(p0).to.include({ seq: 4, lockedTotal: "0" });
    });
    paid.push({ amount, fee: forwardingFee({ feeBase: POLICY.feeBase, feePpm: POLICY.feePpm }, amount) });
  });

  it("pays the channel's counterparty directly by amount: pending, then done once the node applied it", async () => {
    const a = alice.page;
    await a.getByTestId("direct-amount").fill("0.001");
    await a.getByTestId("direct-pay").click();
    await eventually("the direct payment is done", async () =>
      expect(await a.getByTestId("pay-status").getAttribute("data-status")).to.equal("done"),
    );
    expect(await textOf(a.getByTestId("pay-status"))).to.contain("paid 0.001 ETH (fee 0 ETH)");
    paid.push({ amount: parseEther("0.001"), fee: 0n });
  });

  it("balances and history match the chain and the node", async () => {
    const spent = paid.reduce((s, p) => s + p.amount + p.fee, 0n);
    const a = alice.page;
    const channels = new Contract(deployment.ParsecChannels, parsecChannelsAbi, provider);
    const [state] = (await channels.getFunction("channelState")(aliceChannel)) as [{ deposit0: bigint }];
    expect(state.deposit0).to.equal(ALICE_DEPOSIT);
    await eventually("the node applied both payments", async () => {
      const ch = await nodeChannel(aliceChannel);
      expect(BigInt(ch.balances.available0), JSON.stringify(ch.payers[0])).to.equal(ALICE_DEPOSIT - spent);
    });
    const row = a.locator(`[data-testid=balance-row][data-channel="${aliceChannel}"]`);
    await expectText(
      "Alice's can-send",
      row.getByTestId("can-send"),
      `${formatEther(ALICE_DEPOSIT - spent)} ETH`,
    );
    await expectText("nothing held", row.getByTestId("held"), "0 ETH / 0 ETH");
    const sent = a.getByTestId("history-row");
    expect(await sent.count()).to.equal(paid.length);
    const fees: string[] = [];
    for (let i = 0; i < paid.length; i++) {
      expect(await sent.nth(i).getAttribute("data-status")).to.equal("done");
      fees.push(await textOf(sent.nth(i).getByTestId("history-fee")));
    }
    // Newest first: the direct PAY (no fee), the resumed payment, the first one.
    // (viem's formatUnits, as the page: a whole number has no ".0")
    expect(fees).to.deep.equal([...paid].reverse().map((p) => `${formatUnits(p.fee, 18)} ETH`));
    const received = carol.page.getByTestId("history-row");
    await eventually("Carol's history", async () => expect(await received.count()).to.equal(2));
    const carolRow = carol.page.getByTestId("balance-row").first();
    const received$ = paid.filter((p) => p.fee > 0n).reduce((s, p) => s + p.amount, 0n);
    await expectText(
      "Carol can send what she received",
      carolRow.getByTestId("can-send"),
      `${formatEther(received$)} ETH`,
    );
    const bc = nodePayerViews(
      await (await fetch(`${relayer.url}/channels/${await carolRow.getAttribute("data-channel")}`)).json(),
    );
    expect(bc?.[0].paidTotal).to.equal(received$);
    await screenshot(a, "history-alice");
    await screenshot(carol.page, "history-carol");
  });

  it("a second tab of the same browser does not start payments for the key (one signer per chain)", async () => {
    const second = await alice.context.newPage();
    try {
      await second.goto(url);
      await second.getByTestId("connect").click();
      await expectText(
        "the second tab says why",
        second.getByTestId("notice"),
        "Payments are open in another tab",
      );
      expect(await second.getByTestId("balances").isVisible()).to.equal(false);
    } finally {
      await second.close();
    }
  });
});
