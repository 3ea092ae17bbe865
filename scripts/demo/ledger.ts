/**
 * The demo's first act (what `npm run demo` always showed): one in-process Parsec node over six channels.
 * Signed transfers (payments both ways, an invoice, an HTLC, reordered and repeated messages, bad input)
 * go into Kafka; the node verifies, orders and commits them in batched checkpoints; then a participant
 * closes with an old state and the node's watchtower answers with newer evidence and settles.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { randomBytes } from "node:crypto";
import hre from "hardhat";
import { Wallet, formatEther, hexlify, parseEther } from "ethers";
import * as parsec from "../../sdk";
import { ParsecNode, createLogClient, channelKey, loadConfig, silentLogger } from "../../relayer";
import { createLogger } from "../../relayer/src/log";
import type { InRecord } from "../../relayer";
import type { DemoChain } from "./chain";
import { log, waitFor, type Checks } from "./report";

const CHANNELS = 6;
const PAYMENTS_PER_CHANNEL = 60;
const CHECKPOINT_EVERY = 20; // the paper's m: commit every m-th transfer of a payer
const CHALLENGE_PERIOD = 3600;

/** A channel as its two participants see it: their keys and the ledger of both chains. */
interface DemoChannel {
  readonly wallets: readonly [Wallet, Wallet];
  readonly signers: readonly [parsec.LocalSigner, parsec.LocalSigner];
  readonly ledger: parsec.ChannelLedger;
}

/** Runs the act; returns its summary lines (its checks go to `checks`). */
export async function runLedgerAct(
  chain: DemoChain,
  brokers: readonly string[],
  checks: Checks,
): Promise<string[]> {
  const { ethers } = hre;
  const { channels, address, domain } = chain;
  // The wallets' signing journal: a file, synced before each signature is released.
  const walletDir = fs.mkdtempSync(path.join(os.tmpdir(), "parsec-demo-wallets-"));
  const journal = await parsec.fileJournal(path.join(walletDir, "journal.jsonl"));

  // Open the channels: each opener deposits 2 ETH, the counterparty tops up 1 ETH.
  const opened: DemoChannel[] = [];
  let openGas = 0n;
  for (let i = 0; i < CHANNELS; i++) {
    const wallets = [
      new Wallet(hexlify(randomBytes(32)), ethers.provider),
      new Wallet(hexlify(randomBytes(32)), ethers.provider),
    ] as const;
    for (const w of wallets) await chain.fund(w.address);
    const params: parsec.ChannelParams = {
      participant0: parsec.toAddress(wallets[0].address),
      participant1: parsec.toAddress(wallets[1].address),
      asset: parsec.ZERO_ADDRESS,
      challengePeriod: CHALLENGE_PERIOD,
      nonce: BigInt(i + 1),
    };
    const tx = await channels
      .connect(wallets[0])
      .openEth(params.participant1, CHALLENGE_PERIOD, params.nonce, { value: parseEther("2") });
    openGas += (await tx.wait())?.gasUsed ?? 0n;
    const ledger = new parsec.ChannelLedger({
      domain,
      params,
      deposit0: parseEther("2"),
      deposit1: parseEther("1"),
      verifySignature: "none",
    });
    await (
      await channels.connect(wallets[1]).deposit(ledger.channelId, 1, { value: parseEther("1") })
    ).wait();
    // Each wallet persists every transfer before it releases the signature (protocol §10).
    const signers = [
      parsec.journaledTransferSigner(parsec.localSigner(wallets[0].privateKey as parsec.Hex), journal),
      parsec.journaledTransferSigner(parsec.localSigner(wallets[1].privateKey as parsec.Hex), journal),
    ] as const;
    opened.push({ wallets, signers, ledger });
  }
  log(`act 1: opened ${CHANNELS} ETH channels`);

  // The node: verifies and orders every transfer, co-signs checkpoints for the keys it holds (here all
  // participants'), commits them in batches every m-th transfer, watches the contract, serves its state.
  const prefix = `demo${Date.now().toString(36)}.`;
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), "parsec-demo-"));
  const submitter = Wallet.createRandom();
  await chain.fund(submitter.address);
  const config = loadConfig({
    env: {
      PARSEC_SUBMITTER_KEY: submitter.privateKey,
      PARSEC_SIGNER_KEYS: opened.flatMap((c) => c.wallets.map((w) => w.privateKey)).join(","),
    },
    overrides: {
      nodeId: `${prefix}node`,
      kafka: {
        brokers: [...brokers],
        groupId: `${prefix}nodes`,
        topicPrefix: prefix,
        partitions: 4,
        // One node alone in its group: a short session lets it join at once.
        sessionTimeoutMs: 6000,
        heartbeatIntervalMs: 500,
      },
      chain: { rpcUrl: chain.rpcUrl, channels: address, pollIntervalMs: 200 },
      state: { dir: stateDir, flushIntervalMs: 200 },
      commit: { everyM: CHECKPOINT_EVERY, checkpointTimeoutMs: 2000, batchMaxWaitMs: 300 },
      http: { host: "127.0.0.1", port: 0 },
    },
  });
  // DEMO_NODE_LOG=info (or debug) shows what the node does.
  const level = process.env.DEMO_NODE_LOG;
  const logger = level ? createLogger(level as "info") : silentLogger;
  const node = await ParsecNode.start(config, { logger });
  const client = createLogClient({ brokers, clientId: `${prefix}demo`, logger: silentLogger });
  const producer = await client.producer();
  const topic = (name: keyof typeof parsec.DEFAULT_TOPICS) => prefix + parsec.DEFAULT_TOPICS[name];
  log(`act 1: node started, HTTP API at ${node.url}`);

  try {
    // Off-chain: payments both ways, an invoice paid by its buyer, an HTLC locked and unlocked.
    const wires: { key: Buffer; value: Buffer }[] = [];
    const send = async (c: DemoChannel, payer: 0 | 1, op: parsec.TransferOp) => {
      const t = parsec.buildTransfer(c.ledger.state(payer), { channelId: c.ledger.channelId, payer }, op);
      const signed = await parsec.signTransfer(c.signers[payer], domain, t);
      c.ledger.apply(signed);
      const wire = parsec
        .codecs()
        .transfer.encode(parsec.transferMessage(domain, signed, c.signers[payer].address));
      wires.push({ key: channelKey(c.ledger.channelId), value: wire });
    };
    for (const c of opened) {
      for (let i = 1; i <= PAYMENTS_PER_CHANNEL; i++) {
        await send(c, 0, { kind: "PAY", amount: parseEther("0.001") + BigInt(i) });
        if (i % 4 === 0) await send(c, 1, { kind: "PAY", amount: parseEther("0.002") });
      }
    }
    const shop = opened[0];
    const invoice = await parsec.signInvoice(
      shop.signers[1],
      domain,
      parsec.createInvoice({
        supplier: shop.ledger.params.participant1,
        price: parseEther("0.05"),
        currency: parsec.Currency.ETH,
        invoiceType: 0,
      }),
    );
    await send(shop, 0, { kind: "PAY", amount: invoice.invoice.price, invoiceId: invoice.invoiceId });
    const preimage = hexlify(randomBytes(32)) as parsec.Hash;
    const lock = {
      amount: parseEther("0.03"),
      expiry: (await chain.latest()) + 86_400n,
      hashlock: parsec.hashlockOf(preimage),
    };
    await send(shop, 0, { kind: "LOCK", ...lock });
    await send(shop, 0, { kind: "UNLOCK", lock });
    const transfers = wires.length;

    // The network is not perfect: swap 5% of neighbours, re-send 2%, and add input that must be refused.
    for (let i = 0; i + 1 < wires.length; i += 20) [wires[i], wires[i + 1]] = [wires[i + 1], wires[i]];
    const copies = wires.filter((_, i) => i % 50 === 7);
    const bad = [
      { key: channelKey(shop.ledger.channelId), value: randomBytes(64) },
      { key: channelKey(shop.ledger.channelId), value: wires[3].value.subarray(0, 40) },
    ];
    await producer.send(topic("transfers"), [...wires, ...copies, ...bad]);
    log(
      `act 1: produced ${transfers} transfers, ${copies.length} repeats and ${bad.length} malformed messages`,
    );

    const state = async (c: DemoChannel) => {
      const res = await fetch(`${node.url}/channels/${c.ledger.channelId}`);
      if (!res.ok) return undefined;
      return (await res.json()) as { payers: { seq: number }[] };
    };
    await waitFor("the node to apply every transfer", async () => {
      for (const c of opened) {
        const s = await state(c);
        if (!s || s.payers[0].seq !== c.ledger.state(0).seq || s.payers[1].seq !== c.ledger.state(1).seq)
          return undefined;
      }
      return true;
    });
    // A payer's on-chain seq is its checkpoint's or its proven head's, whichever is higher (protocol §1).
    const onchainSeqs = async (c: DemoChannel) =>
      parsec.onchainSeqs(
        parsec.onchainStateOf(
          await channels.channelState(c.ledger.channelId),
          await channels.provenHeadsOf(c.ledger.channelId),
        ),
      );
    await waitFor("every channel's newest state on-chain", async () => {
      for (const c of opened) {
        const { seq0, seq1 } = await onchainSeqs(c);
        if (seq0 !== c.ledger.state(0).seq || seq1 !== c.ledger.state(1).seq) return undefined;
      }
      return true;
    });
    checks.add("the node applied every transfer exactly once, in chain order", true);
    log("act 1: every channel's newest state is on-chain");

    // A dishonest close: P1 of the last channel pays 10 more times, then closes before the node commits.
    const cheat = opened[opened.length - 1];
    const before = wires.length;
    for (let i = 0; i < 10; i++) await send(cheat, 1, { kind: "PAY", amount: parseEther("0.01") });
    await producer.send(topic("transfers"), wires.slice(before));
    await waitFor("the node to see the new payments", async () =>
      (await state(cheat))?.payers[1].seq === cheat.ledger.state(1).seq ? true : undefined,
    );
    await (await channels.connect(cheat.wallets[1]).close(cheat.ledger.params)).wait();
    log("act 1: P1 of one channel closed with an older on-chain state");
    await waitFor("the watchtower's newer evidence", async () =>
      (await onchainSeqs(cheat)).seq1 === cheat.ledger.state(1).seq ? true : undefined,
    );
    await chain.travelTo((await chain.latest()) + BigInt(CHALLENGE_PERIOD + 1));
    const payouts = await waitFor("the watchtower to settle", async () => {
      const logs = await channels.queryFilter(channels.filters.ChannelSettled(cheat.ledger.channelId));
      return logs.length ? logs[0].args : undefined;
    });
    const expected = cheat.ledger.settlement();
    checks.add(
      "the newer state won the dispute: payouts equal the settlement of the newest heads",
      payouts.payout0 === expected.payout0 && payouts.payout1 === expected.payout1,
    );

    // What the node did, from its own topics.
    const readAll = async (name: keyof typeof parsec.DEFAULT_TOPICS): Promise<InRecord[]> => {
      const out: InRecord[] = [];
      for (const [p, end] of await client.endOffsets(topic(name)))
        await client.readPartition(topic(name), p, 0, end, (rs) => out.push(...rs));
      return out;
    };
    const deadLetters = (await readAll("deadLetter")).map((r) =>
      parsec.codecs().deadLetter.decode(r.value as Buffer),
    );
    const events = (await readAll("settlements")).map((r) =>
      parsec.codecs().settlement.decode(r.value as Buffer),
    );
    const confirmed = events.filter((e) => e.status === "CONFIRMED");
    const txs = new Map<string, { action: string; gas: number }>();
    for (const e of confirmed) if (e.txHash) txs.set(e.txHash, { action: e.action, gas: e.gasUsed ?? 0 });
    const reasons = new Map<string, number>();
    for (const d of deadLetters) reasons.set(d.reasonCode, (reasons.get(d.reasonCode) ?? 0) + 1);
    checks.add(
      "every repeat and malformed message went to the dead-letter topic",
      deadLetters.length === copies.length + bad.length,
    );

    const byAction = new Map<string, { txs: number; gas: number; entries: number }>();
    for (const e of confirmed) {
      const a = byAction.get(e.action) ?? { txs: 0, gas: 0, entries: 0 };
      a.entries++;
      byAction.set(e.action, a);
    }
    for (const { action, gas } of txs.values()) {
      const a = byAction.get(action);
      if (a) {
        a.txs++;
        a.gas += gas;
      }
    }

    return [
      "Act 1: one Parsec node over six channels",
      `  contract ${address}, node ${node.url}`,
      `  channels opened: ${CHANNELS} (${openGas / BigInt(CHANNELS)} gas each to open with a deposit)`,
      `  transfers streamed: ${transfers + 10} signed, plus ${copies.length} repeats and ${bad.length} malformed messages`,
      `  dead-lettered: ${[...reasons].map(([r, n]) => `${n} ${r}`).join(", ")}`,
      "  on-chain work by the node:",
      ...[...byAction].map(
        ([action, a]) =>
          `    ${action.padEnd(18)} ${String(a.entries).padStart(4)} channel commits in ${a.txs} tx(s), ${a.gas.toLocaleString("en")} gas`,
      ),
      `  dispute: P1 closed at an old state; the watchtower proved seq ${cheat.ledger.state(1).seq} and settled`,
      `    payout P0 ${formatEther(payouts.payout0)} ETH, P1 ${formatEther(payouts.payout1)} ETH`,
    ];
  } finally {
    await journal.close();
    await node.stop();
    await producer.close().catch(() => undefined);
    await client
      .deleteTopics(
        Object.keys(parsec.DEFAULT_TOPICS).map((k) => topic(k as keyof typeof parsec.DEFAULT_TOPICS)),
      )
      .catch(() => undefined);
    await client.deleteGroups([`${prefix}nodes`]).catch(() => undefined);
    await client.close().catch(() => undefined);
    fs.rmSync(stateDir, { recursive: true, force: true });
    fs.rmSync(walletDir, { recursive: true, force: true });
  }
}
