// The routed-payment tasks on the in-process chain and a real broker: invoice:create (the secret file),
// invoice:show (in words; expired, tampered, other deployment), route:find over ChannelUpdates announced on
// a channel graph topic, and the reason in words when no route fits.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect } from "chai";
import hre from "hardhat";
import { Wallet, parseEther, sha256 } from "ethers";
import {
  CHANNEL_GRAPH_TOPIC,
  channelUpdateKey,
  channelUpdateMessage,
  codecs,
  createRoutedInvoice,
  encodeRoutedInvoice,
  localSigner,
  parseRoutedInvoice,
  parsecDomain,
  signChannelUpdate,
  walletSigner,
  type Address,
  type ChannelDirection,
  type Domain,
  type Eip1193Provider,
  type Hash,
} from "../../sdk";
import { createLogClient, type LogClient, type LogProducer } from "../../relayer/src/kafka/client";
import { silentLogger } from "../../relayer/src/log";
import { ensureKafka } from "../../scripts/kafka/launcher";
import { deployParsec, type Deployed } from "../../tasks/lib/deploy";
import { durationWords, expiryWords, type CreateResult, type ShowResult } from "../../tasks/lib/invoice";
import type { AnnounceResult } from "../../tasks/lib/announce";
import type { FindResult } from "../../tasks/lib/route";
import { setPrinter } from "../../tasks/lib/output";

describe("routed-payment tasks: invoice:create, invoice:show, route:find", function () {
  this.timeout(120_000);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "parsec-invoice-"));
  const deploymentPath = path.join(tmp, "hardhat.json");
  const prefix = `it${Date.now().toString(36)}.`;
  const graphTopic = prefix + CHANNEL_GRAPH_TOPIC;
  const lines: string[] = [];
  let restorePrinter: (line: string) => void;
  let deployment: Deployed;
  let domain: Domain;
  let brokers: string[];
  let client: LogClient;
  let producer: LogProducer;
  let alice: Address, bob: Address, carol: Address, dave: Address;
  let ab: Hash, bc: Hash, cd: Hash;
  let secretCount = 0;

  const run = <T>(name: string, args: Record<string, unknown> = {}): Promise<T> =>
    hre.run(name, { deployment: deploymentPath, ...args }) as Promise<T>;
  const withGraph = (args: Record<string, unknown>) => ({ brokers: brokers.join(","), prefix, ...args });
  const secretFile = () => path.join(tmp, `secret-${++secretCount}.json`);
  const failure = async (promise: Promise<unknown>): Promise<string> => {
    try {
      await promise;
    } catch (e) {
      return (e as Error).message;
    }
    expect.fail("the task should have failed");
  };
  const chainNow = async () => BigInt((await hre.ethers.provider.getBlock("latest"))?.timestamp ?? 0);
  const out = () => lines.join("\n");

  /** Signs a ChannelUpdate with the announcer's account (eth_signTypedData_v4) and writes it to the topic. */
  const announce = async (
    announcer: Address,
    channelId: Hash,
    direction: ChannelDirection,
    policy: { capacity: bigint; feeBase: bigint; feePpm: number; expiryDelta: number; disabled?: boolean },
  ): Promise<void> => {
    const signer = walletSigner(hre.network.provider as unknown as Eip1193Provider, announcer);
    const signed = await signChannelUpdate(signer, domain, {
      channelId,
      direction,
      timestamp: await chainNow(),
      capacity: policy.capacity,
      feeBase: policy.feeBase,
      feePpm: policy.feePpm,
      expiryDelta: policy.expiryDelta,
      htlcMinimum: 1n,
      htlcMaximum: parseEther("2"),
      disabled: policy.disabled ?? false,
    });
    const value = codecs().channelUpdate.encode(channelUpdateMessage(domain, signed, announcer, Date.now()));
    await producer.send(graphTopic, [{ key: Buffer.from(channelUpdateKey(channelId, direction)), value }]);
  };
  const open = async (from: number, counterparty: Address, amount: string): Promise<Hash> =>
    (await run<{ channelId: Hash }>("channel:open", { from: String(from), counterparty, amount })).channelId;

  before(async () => {
    restorePrinter = setPrinter((line) => lines.push(line));
    deployment = await deployParsec(hre, { outFile: deploymentPath });
    domain = parsecDomain(deployment.chainId, deployment.ParsecChannels);
    [alice, bob, carol, dave] = (await hre.ethers.getSigners()).map((s) => s.address as Address);
    brokers = await ensureKafka();
    client = createLogClient({ brokers, clientId: `${prefix}test`, logger: silentLogger });
    await client.ensureTopics([
      { name: graphTopic, partitions: 2, replicationFactor: -1, config: { "cleanup.policy": "compact" } },
    ]);
    producer = await client.producer();
    ab = await open(0, bob, "2"); // alice P0, bob P1
    bc = await open(1, carol, "2"); // bob P0, carol P1
    cd = await open(2, dave, "1"); // carol P0, dave P1: nobody announces it
    // Alice's own channel (a wallet forwards nothing for others: disabled), Bob's policy towards Carol, an
    // update for Carol's direction signed by Bob (ignored), and a record that is not an update (ignored).
    await announce(alice, ab, 0, {
      capacity: parseEther("2"),
      feeBase: 0n,
      feePpm: 0,
      expiryDelta: 0,
      disabled: true,
    });
    await announce(bob, bc, 0, {
      capacity: parseEther("1.5"),
      feeBase: parseEther("0.001"),
      feePpm: 1000,
      expiryDelta: 600,
    });
    await announce(bob, bc, 1, { capacity: parseEther("1"), feeBase: 0n, feePpm: 0, expiryDelta: 600 });
    await producer.send(graphTopic, [{ key: Buffer.from("junk"), value: Buffer.from("not an update") }]);
  });
  after(async () => {
    setPrinter(restorePrinter);
    await producer?.close().catch(() => undefined);
    await client?.deleteTopics([graphTopic]).catch(() => undefined);
    await client?.close().catch(() => undefined);
    fs.rmSync(tmp, { recursive: true, force: true });
  });
  beforeEach(() => (lines.length = 0));

  it("creates an invoice with a hint from the forwarder's announced update, keeps the secret in a 0600 file, and shows it back", async () => {
    const file = secretFile();
    const created = await run<CreateResult>(
      "invoice:create",
      withGraph({ from: "2", amount: "0.5", description: "coffee ☕", hint: bc, secretFile: file }),
    );
    expect(created.text).to.match(/^parsec1[qpzry9x8gf2tvdw0s3jn54khce6mua7l]+$/);
    expect(out()).to.contain(`invoice: ${created.text}`);
    expect(out()).to.match(
      /4 record\(s\) on .*parsec\.channel-graph: 2 channel update\(s\) applied, 2 ignored \(1 not signed by the forwarding participant, 1 unreadable\)/,
    );
    expect(out()).to.contain(
      `route hint 1: ${bob} forwards to ${carol} over channel ${bc}, fee 0.001 ETH + 1000 ppm, expiry delta 600 s`,
    );
    expect(out()).to.contain(`secret kept in ${file}`);

    // The secret file: the payee's only, never printed, and the preimage of the invoice's hashlock.
    expect(fs.statSync(file).mode & 0o777).to.equal(0o600);
    const kept = JSON.parse(fs.readFileSync(file, "utf8")) as {
      secret: string;
      invoice: string;
      hashlock: string;
    };
    expect(sha256(kept.secret)).to.equal(created.invoice.invoice.hashlock);
    expect(kept.hashlock).to.equal(created.invoice.invoice.hashlock);
    expect(kept.invoice).to.equal(created.text);
    expect(out()).to.not.contain(kept.secret.slice(2));

    lines.length = 0;
    const shown = await run<ShowResult>("invoice:show", { invoice: created.text });
    expect(shown.expired).to.equal(false);
    expect(shown.invoice).to.deep.equal(created.invoice);
    expect(out()).to.contain(`invoice for 0.5 ETH to ${carol}: valid for this deployment`);
    expect(out()).to.contain("amount 0.5 ETH (500000000000000000 base units)");
    expect(out()).to.contain('description "coffee ☕"');
    expect(out()).to.match(/expires \d{4}-\d\d-\d\dT[\d:]+Z, in (59|60) minutes/);
    expect(out()).to.contain(`for chain 31337, ParsecChannels ${deployment.ParsecChannels}`);
    expect(out()).to.contain(`route hint 1: ${bob} forwards to ${carol} over channel ${bc}`);
  });

  it("never overwrites a secret file, signs with --key, and refuses a hint it cannot back", async () => {
    const file = secretFile();
    fs.writeFileSync(file, "another invoice's secret");
    expect(await failure(run("invoice:create", { from: "2", amount: "0.1", secretFile: file }))).to.match(
      /refusing to overwrite .*secret-\d+\.json: it may hold another invoice's secret/,
    );
    expect(fs.readFileSync(file, "utf8")).to.equal("another invoice's secret");

    const key = Wallet.createRandom().privateKey;
    const keyed = await run<CreateResult>("invoice:create", { key, amount: "0.1", secretFile: secretFile() });
    expect(keyed.invoice.invoice.payee).to.equal(new Wallet(key).address);
    lines.length = 0;
    const tst = await run<CreateResult>("invoice:create", {
      key,
      amount: "5",
      asset: "TST",
      secretFile: secretFile(),
    });
    expect(tst.invoice.invoice.asset).to.equal(deployment.TestToken);
    expect(out()).to.contain(
      `amount 5 TST (5000000000000000000 base units), asset TST (token ${deployment.TestToken})`,
    );
    expect(await failure(run("invoice:create", { key, from: "1", amount: "0.1" }))).to.contain(
      "give --key or --from, not both",
    );

    // Carol–Dave: Dave never announced a policy into Carol.
    expect(await failure(run("invoice:create", withGraph({ from: "2", amount: "0.1", hint: cd })))).to.match(
      new RegExp(`${dave} has announced no valid ChannelUpdate .* Ask ${dave} to announce its policy`),
    );
    // Alice–Bob does not reach Carol at all.
    expect(
      await failure(run("invoice:create", withGraph({ from: "2", amount: "0.1", hint: ab }))),
    ).to.contain(`the payee ${carol} is not a participant`);
    expect(
      await failure(run("invoice:create", withGraph({ from: "2", amount: "0.1", hint: "0x1234" }))),
    ).to.contain("--hint takes 32-byte 0x channel ids");
  });

  it("route:announce publishes a participant's signed policy, and a hint then carries it", async () => {
    expect(await failure(run("route:announce", withGraph({ from: "0", channel: cd })))).to.contain(
      `${alice} is not a participant of ${cd}`,
    );
    // Dave (P1 of Carol–Dave) forwards to Carol; announcing twice within one block still replaces the first.
    const first = await run<AnnounceResult>(
      "route:announce",
      withGraph({ from: "3", channel: cd, feeBase: "0.01" }),
    );
    const second = await run<AnnounceResult>(
      "route:announce",
      withGraph({ from: "3", channel: cd, feeBase: "0.0005", feePpm: 50, expiryDelta: 900, capacity: "0.8" }),
    );
    expect(first.update.direction).to.equal(1);
    expect(second.update.timestamp).to.equal(first.update.timestamp + 1n);
    expect(out()).to.contain(
      `announced ${dave} (P1) forwards to ${carol} over ${cd} (direction 1) on ${graphTopic} partition`,
    );
    expect(out()).to.contain(
      "fee 0.0005 ETH + 50 ppm, expiry delta 900 s, capacity 0.8 ETH, locks of 0.000000000000000001 ETH … 0.8 ETH",
    );
    const { invoice } = await run<CreateResult>(
      "invoice:create",
      withGraph({ from: "2", amount: "0.1", hint: cd, secretFile: secretFile() }),
    );
    expect(invoice.invoice.hints).to.deep.equal([
      { channelId: cd, node: dave, feeBase: parseEther("0.0005"), feePpm: 50, expiryDelta: 900 },
    ]);
  });

  it("says what is wrong with a tampered invoice, a re-signed one and one for another deployment", async () => {
    const { text, invoice } = await run<CreateResult>("invoice:create", {
      from: "2",
      amount: "0.25",
      secretFile: secretFile(),
    });
    const i = 60;
    const typo = text.slice(0, i) + (text[i] === "q" ? "p" : "q") + text.slice(i + 1);
    expect(await failure(run("invoice:show", { invoice: typo }))).to.match(
      /the invoice is refused: its checksum fails \(InvoiceChecksum\)\. The invoice text is damaged or mistyped/,
    );
    // Altered and re-encoded with a valid checksum: the signature no longer is the payee's.
    const parsed = parseRoutedInvoice(text, { domain });
    const altered = encodeRoutedInvoice({
      ...parsed,
      invoice: { ...parsed.invoice, amount: invoice.invoice.amount * 10n },
    });
    expect(await failure(run("invoice:show", { invoice: altered }))).to.match(
      /the invoice is refused: its signature is not its payee's \(BadSignature\)/,
    );
    const otherChain = await createRoutedInvoice({
      domain: parsecDomain(1n, deployment.ParsecChannels),
      signer: localSigner(Wallet.createRandom().privateKey as `0x${string}`),
      amount: 1n,
    });
    expect(await failure(run("invoice:show", { invoice: otherChain.text }))).to.match(
      /the invoice is refused: it is for another deployment \(WrongDomain\)/,
    );
  });

  it("finds routes hop by hop with fees and expiries, and says why when none fits", async () => {
    const { text } = await run<CreateResult>("invoice:create", {
      from: "2",
      amount: "0.5",
      secretFile: secretFile(),
    });
    const found = await run<FindResult>("route:find", withGraph({ from: "0", invoice: text }));
    expect(found.routes).to.have.length(1);
    const [route] = found.routes;
    // Bob's fee for forwarding 0.5 ETH: 0.001 ETH + 0.1%.
    expect(route.fee).to.equal(parseEther("0.0015"));
    expect(route.hops.map((h) => [h.from, h.to, h.channelId])).to.deep.equal([
      [alice, bob, ab],
      [bob, carol, bc],
    ]);
    expect(route.hops[0].expiry - route.hops[1].expiry).to.equal(600n);
    expect(out()).to.match(
      /route 1: 2 hop\(s\), fee 0\.0015 ETH \(1500000000000000 base units\); you lock 0\.5015 ETH until \S+Z/,
    );
    expect(out()).to.contain(`hop 1: ${alice} → ${bob} over channel ${ab}: lock 0.5015 ETH until`);
    expect(out()).to.match(
      new RegExp(
        `hop 2: ${bob} → ${carol} over channel ${bc}: lock 0\\.5 ETH until \\S+Z, fee 0\\.0015 ETH kept by ${bob}`,
      ),
    );

    expect(await failure(run("route:find", withGraph({ invoice: text, maxFee: "0.001" })))).to.contain(
      "no route within your maximum fee (FeeTooHigh): the cheapest route costs 0.0015 ETH in fees, over the maximum of 0.001 ETH. Raise --max-fee to at least 0.0015 ETH",
    );
    const big = await run<CreateResult>("invoice:create", {
      from: "2",
      amount: "1.8",
      secretFile: secretFile(),
    });
    expect(await failure(run("route:find", withGraph({ invoice: big.text })))).to.contain(
      "no route can carry 1.8 ETH (InsufficientCapacity): the most any route carries is 1.5 ETH",
    );
    // Dave announced nothing: no edge leads to him.
    const toDave = await run<CreateResult>("invoice:create", {
      from: "3",
      amount: "0.1",
      secretFile: secretFile(),
    });
    expect(await failure(run("route:find", withGraph({ invoice: toDave.text })))).to.match(
      new RegExp(
        `no route to the payee \\(NoRoute\\): No route: no path from ${alice} to ${dave} within 20 hops`,
      ),
    );
  });

  it("words durations in whole units, rounded down", () => {
    const table: [bigint, string][] = [
      [0n, "0 seconds"],
      [1n, "1 second"],
      [119n, "119 seconds"],
      [120n, "2 minutes"],
      [599n, "9 minutes"],
      [7_199n, "119 minutes"],
      [7_200n, "2 hours"],
      [172_800n, "2 days"],
      [-540n, "9 minutes"],
    ];
    for (const [seconds, words] of table) expect(durationWords(seconds), String(seconds)).to.equal(words);
    expect(expiryWords(1_000n, 400n)).to.equal("expires 1970-01-01T00:16:40Z, in 10 minutes");
    expect(expiryWords(1_000n, 1_000n)).to.equal("expired 0 seconds ago (1970-01-01T00:16:40Z)");
  });

  it("shows an expired invoice as expired N minutes ago, and route:find refuses it", async () => {
    const { text } = await run<CreateResult>("invoice:create", {
      from: "2",
      amount: "0.1",
      expiry: 60,
      secretFile: secretFile(),
    });
    await hre.network.provider.send("evm_increaseTime", [600]);
    await hre.network.provider.send("evm_mine", []);
    lines.length = 0;
    const shown = await run<ShowResult>("invoice:show", { invoice: text });
    expect(shown.expired).to.equal(true);
    expect(out()).to.contain("EXPIRED, ask the payee for a new one");
    expect(out()).to.match(/expired 9 minutes ago \(\S+Z\)/);
    expect(await failure(run("route:find", withGraph({ invoice: text })))).to.match(
      /the invoice is refused: it has expired \(InvoiceExpired\)\. The invoice expired at \d+ .* Ask the payee for a new invoice/,
    );
  });
});
