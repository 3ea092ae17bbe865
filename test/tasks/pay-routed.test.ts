// channel:pay --invoice and invoice:receive end to end: a real broker, the in-process chain, the channels
// Alice–Bob and Bob–Carol, and Bob's node a real ParsecNode mediating with his key. Carol runs invoice:create
// then invoice:receive; Alice runs channel:pay --invoice while Carol waits. Nobody plays a hop by hand.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect } from "chai";
import hre from "hardhat";
import { Wallet, parseEther, sha256, type Contract } from "ethers";
import {
  TransferKind,
  codecs,
  createRoutedInvoice,
  forwardingFee,
  localSigner,
  parsecDomain,
  type Hex,
} from "../../sdk";
import { ParsecNode } from "../../relayer/src/node";
import { resolveTopicNames } from "../../relayer/src/config";
import { deployParsec } from "../../tasks/lib/deploy";
import type { CreateResult } from "../../tasks/lib/invoice";
import { setPrinter } from "../../tasks/lib/output";
import type { PayResult } from "../../tasks/lib/pay";
import { runRoutedPay, type RoutedPayResult } from "../../tasks/lib/pay-routed";
import type { ReceiveResult } from "../../tasks/lib/receive";
import {
  Harness,
  TEST_MEDIATION_POLICY,
  getJson,
  sleep,
  testLogger,
  waitFor,
  type TestChannel,
} from "../relayer/harness";

const { feeBase: FEE_BASE, feePpm: FEE_PPM } = TEST_MEDIATION_POLICY;
const BOB_TO_CAROL = parseEther("0.01");

describe("payment tasks: channel:pay --invoice and invoice:receive through a mediating node", function () {
  this.timeout(240_000);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "parsec-routed-"));
  const deploymentPath = path.join(tmp, "hardhat.json");
  const aliceJournal = path.join(tmp, "alice.jsonl");
  const lines: string[] = [];
  let restorePrinter: (line: string) => void;
  let h: Harness;
  let node: ParsecNode | null = null;
  let ab: TestChannel; // Alice (0) – Bob (1)
  let bc: TestChannel; // Bob (0) – Carol (1)
  const alice = new Wallet(Wallet.createRandom().privateKey);
  const bob = new Wallet(Wallet.createRandom().privateKey);
  const carol = new Wallet(Wallet.createRandom().privateKey);
  let secrets = 0;

  const out = () => lines.join("\n");
  const kafka = () => ({ brokers: h.brokers.join(","), prefix: h.prefix, nodeConfig: "" });
  const run = <T>(name: string, args: Record<string, unknown>): Promise<T> =>
    hre.run(name, { deployment: deploymentPath, from: "", ...kafka(), ...args }) as Promise<T>;
  const carolInvoice = (amount: string) =>
    run<CreateResult>("invoice:create", {
      key: carol.privateKey,
      amount,
      secretFile: path.join(tmp, `invoices`, `carol-${++secrets}.secret.json`),
    });
  const carolReceives = (created: CreateResult, timeout = 90) =>
    run<ReceiveResult>("invoice:receive", {
      key: carol.privateKey,
      invoice: created.text,
      secretFile: created.secretFile,
      timeout,
    });
  const alicePays = (invoice: string, extra: Record<string, unknown> = {}) =>
    run<RoutedPayResult>("channel:pay", {
      key: alice.privateKey,
      invoice,
      journal: aliceJournal,
      relayer: node?.url ?? "",
      timeout: 60,
      ...extra,
    });
  const failure = async (promise: Promise<unknown>): Promise<string> => {
    try {
      await promise;
    } catch (e) {
      return (e as Error).message;
    }
    expect.fail("the task should have failed");
  };
  const aliceOf = () => node?.locate(ab.id)?.ch.payers[0].state;
  const bobOf = () => node?.locate(bc.id)?.ch.payers[0].state;

  before(async () => {
    restorePrinter = setPrinter((line) => lines.push(line));
    h = await Harness.create({ brokers: process.env.KAFKA_BROKERS?.split(",") });
    // The tasks read a deployment file: the harness opens its channels on that deployment's contract.
    const deployment = await deployParsec(hre, { outFile: deploymentPath });
    h.channels = (await hre.ethers.getContractAt(
      "ParsecChannels",
      deployment.ParsecChannels,
    )) as unknown as Contract;
    h.address = deployment.ParsecChannels as typeof h.address;
    h.domain = parsecDomain(h.chainId, h.address);
    ab = await h.openChannel(parseEther("10"), parseEther("10"), [alice, bob]);
    bc = await h.openChannel(BOB_TO_CAROL, parseEther("1"), [bob, carol]);
    node = await ParsecNode.start(h.mediatorConfig(bob.privateKey), { logger: testLogger() });
    const topics = resolveTopicNames({ topicPrefix: h.prefix });
    await waitFor("Bob's channel update towards Carol on the graph topic", async () =>
      (await h.readAll(topics.channelGraph))
        .filter((r) => r.value)
        .some((r) => codecs().channelUpdate.decode(r.value as Buffer).update.channelId === bc.id),
    );
    for (const id of [ab.id, bc.id]) {
      await waitFor("Bob's node serves the channel", async () => {
        const { body } = await getJson<{ payers?: unknown[] }>(`${node?.url}/channels/${id}`);
        return body.payers?.length === 2;
      });
    }
  });
  after(async () => {
    setPrinter(restorePrinter);
    await node?.stop();
    await h?.client
      .deleteTopics([`${h.prefix}parsec.payment-messages`, `${h.prefix}parsec.channel-graph`])
      .catch(() => undefined);
    await h?.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  });
  beforeEach(() => (lines.length = 0));

  it("Carol creates and waits for an invoice, Alice pays it with channel:pay --invoice: the receipt opens the hashlock, Bob earns his fee", async () => {
    const created = await carolInvoice("0.004");
    const amount = parseEther("0.004");
    const receiving = carolReceives(created);
    const paid = await alicePays(created.text);
    const received = await receiving;
    const fee = forwardingFee({ feeBase: FEE_BASE, feePpm: FEE_PPM }, amount);

    expect(sha256(paid.preimage)).to.equal(created.invoice.invoice.hashlock.toLowerCase());
    expect(paid).to.include({ amount, fee, attempts: 1, journal: aliceJournal });
    expect(paid.route.hops.map((x) => x.channelId)).to.deep.equal([ab.id, bc.id]);
    expect(out()).to.contain(`receipt (proof of payment): preimage ${paid.preimage}`);
    expect(out()).to.contain(`hop 1: ${alice.address} → ${bob.address} over channel ${ab.id}`);
    expect(out()).to.contain(`hop 2: ${bob.address} → ${carol.address} over channel ${bc.id}`);
    expect(out()).to.match(
      /paid 0\.004 ETH .* in \d+\.\d s, 1 attempt\(s\); fee .*\(4000000001000 base units\)/,
    );

    expect(received.paid).to.equal(true);
    expect(received.locks).to.deep.include({
      channelId: bc.id,
      seq: 1,
      amount,
      outcome: "paid",
      invoiceId: created.invoice.invoiceId,
      code: null,
      reason: null,
    });
    expect(out()).to.contain(`paid: LOCK seq 1 from ${bob.address} in channel ${bc.id} for 0.004 ETH`);
    expect(out()).to.contain(`invoice ${created.invoice.invoiceId} is paid`);

    // Alice's LOCK and UNLOCK are in her journal file, the one direct payments use.
    const journaled = fs.readFileSync(aliceJournal, "utf8").trim().split("\n");
    expect(journaled.length).to.be.greaterThanOrEqual(2);
    // Bob's node: Alice's UNLOCK paid him amount + fee, his UNLOCK paid Carol the amount.
    await waitFor("Alice's UNLOCK applied by Bob's node", () => aliceOf()?.paidTotal === amount + fee);
    await waitFor("Bob's UNLOCK to Carol applied", () => bobOf()?.paidTotal === amount);
    expect((aliceOf()?.paidTotal ?? 0n) - (bobOf()?.paidTotal ?? 0n)).to.equal(fee);
  });

  it("a --max-fee below the route's fee fails with FeeTooHigh in words, and nothing is signed", async () => {
    const created = await carolInvoice("0.002");
    const before = fs.readFileSync(aliceJournal, "utf8");
    const seq = aliceOf()?.seq;
    const message = await failure(alicePays(created.text, { maxFee: "0.000001" }));
    expect(message).to.equal(
      "the payment failed: The cheapest route costs 2000000001000 in fees, above your limit of 1000000000000. (FeeTooHigh) " +
        "In ETH: the cheapest route's fee is 0.000002000000001 ETH (2000000001000 base units), your limit 0.000001 ETH (1000000000000 base units): raise --max-fee to at least that fee",
    );
    expect(fs.readFileSync(aliceJournal, "utf8")).to.equal(before);
    expect(aliceOf()?.seq).to.equal(seq);
  });

  it("refuses both forms at once, saying which to use, and an expired or tampered invoice in words", async () => {
    const created = await carolInvoice("0.001");
    expect(await failure(alicePays(created.text, { channel: ab.id, amount: "0.1" }))).to.contain(
      "give either --invoice parsec1… (a routed payment",
    );
    const tampered = created.text.slice(0, -3) + (created.text.endsWith("q") ? "pqp" : "qqq");
    expect(await failure(alicePays(tampered))).to.match(/the invoice is refused: its checksum fails/);
    const chainNow = BigInt((await hre.ethers.provider.getBlock("latest"))?.timestamp ?? 0);
    const expired = await createRoutedInvoice({
      domain: h.domain,
      signer: localSigner(carol.privateKey as Hex),
      amount: parseEther("0.001"),
      now: chainNow - 7_200n,
      validity: 3_600,
    });
    expect(await failure(alicePays(expired.text))).to.match(
      /the invoice is refused: it has expired \(InvoiceExpired\)/,
    );
  });

  it("invoice:receive says so when the wait ends unpaid; a payment of an invoice Carol has no secret for is refused by her in words and fails at hop 2 for Alice", async () => {
    const waiting = await carolInvoice("0.001");
    const receiving = carolReceives(waiting, 8);
    // An invoice signed with Carol's key whose secret no file of hers keeps (dated in chain time, which
    // earlier tests may have moved ahead of the wall clock).
    const { text } = await createRoutedInvoice({
      domain: h.domain,
      signer: localSigner(carol.privateKey as Hex),
      amount: parseEther("0.001"),
      now: BigInt((await hre.ethers.provider.getBlock("latest"))?.timestamp ?? 0),
      validity: 3_600,
    });
    const message = await failure(alicePays(text));
    expect(message).to.equal(
      "the payment failed: The payment failed at hop 2 of 2: the payee does not know this payment (wrong, altered or already paid invoice). (PaymentFailed)",
    );
    const received = await receiving;
    expect(received.paid).to.equal(false);
    expect(received.locks.at(-1)).to.include({
      channelId: bc.id,
      outcome: "refused",
      amount: parseEther("0.001"),
    });
    expect(out()).to.match(
      new RegExp(
        `refused: LOCK seq \\d+ from ${bob.address} in channel ${bc.id} for 0\\.001 ETH .*: UnknownPayment \\(no invoice of this payee has this hashlock and id\\); failed back`,
      ),
    );
    expect(out()).to.contain(
      `no payment of invoice ${waiting.invoice.invoiceId} arrived within 8 s: stopped waiting`,
    );
  });

  it("a run that dies after journaling its LOCK, before writing it: the rerun sends that same LOCK with its kept packet, the payment settles, one LOCK on the log", async () => {
    const created = await carolInvoice("0.001");
    const hashlock = created.invoice.invoice.hashlock;
    const receiving = carolReceives(created);
    const args = {
      deployment: deploymentPath,
      from: "",
      key: alice.privateKey,
      journal: aliceJournal,
      relayer: node?.url ?? "",
      ...kafka(),
      graphTopic: "",
      invoice: created.text,
      timeout: 60,
    };
    const dies = await failure(
      runRoutedPay(args, hre, {
        paymentLog: (log) => ({
          ...log,
          sendTransfer: () => Promise.reject(new Error("the process died here")),
        }),
      }),
    );
    expect(dies).to.match(
      /^the payment failed: writing transfer \d+ of channel .* failed; it is journaled and is sent again/,
    );
    await sleep(1_100); // the rerun routes again: a later expiry, so not the same LOCK terms
    const paid = await alicePays(created.text);
    expect(sha256(paid.preimage)).to.equal(hashlock.toLowerCase());
    expect((await receiving).paid).to.equal(true);
    const locks = (await h.readAll(h.topics.transfers))
      .filter((r) => r.value)
      .map((r) => codecs().transfer.decode(r.value as Buffer).transfer)
      .filter((t) => t.channelId === ab.id && t.kind === TransferKind.Lock && t.hashlock === hashlock);
    expect(locks).to.have.length(1);
  });

  it("a direct channel:pay afterwards signs the next seq of the same journal, after the routed LOCKs and UNLOCKs", async () => {
    await waitFor("Bob's node applied every transfer of Alice's", async () => {
      const lines = fs.readFileSync(aliceJournal, "utf8").trim().split("\n");
      const top = Math.max(...lines.map((l) => (JSON.parse(l) as { seq: number }).seq));
      return aliceOf()?.seq === top && top;
    });
    const before = aliceOf()?.seq ?? 0;
    const direct = await run<PayResult>("channel:pay", {
      key: alice.privateKey,
      channel: ab.id,
      amount: "0.1",
      journal: aliceJournal,
      relayer: node?.url ?? "",
      wait: 30,
    });
    expect(direct).to.include({ outcome: "applied", signedNow: true });
    expect(direct.transfer.seq).to.equal(before + 1);
  });
});
