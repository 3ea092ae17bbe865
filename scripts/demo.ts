// `npm run demo`: Parsec end to end on a local Kafka broker (or KAFKA_BROKERS) and the in-process chain.
// Act 1 (scripts/demo/ledger.ts): one node over six channels: signed transfers, an invoice, an HTLC,
// reordered, repeated and malformed input, batched checkpoints, and a watchtower answering an old close.
// Act 2 (this file, the story): a network of five parties and two mediating nodes (Bob's and Dave's, each
// its own process): routed payments of 1, 2 and 3 hops; one failed back for lack of capacity; a mediator
// killed (SIGKILL) mid-payment and restarted; an upstream that withholds its UNLOCK, so the mediator is
// paid on-chain; then every channel closes and settles, and every party's payout is reconciled with what it
// paid, received and earned. Prints a summary; exits 1 if any check fails. DEMO_KEEP=1 keeps the network
// nodes' logs and disks; DEMO_NODE_LOG=info shows act 1's node log on stderr.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { formatEther, parseEther } from "ethers";
import {
  PaymentFailedError,
  TransferKind,
  codecs,
  describePaymentError,
  hashTransfer,
  type Hash,
  type PaymentEvent,
  type PaymentResult,
} from "../sdk";
import { createLogClient, silentLogger } from "../relayer";
import { resolveTopicNames } from "../relayer/src/config";
import { channelKey } from "../relayer/src/kafka/topics";
import { signerGroupId } from "../relayer/src/signer/signer";
import { nativeSigner, type Hex } from "../sdk";
import { kafkaPaymentLog } from "../tasks/lib/payment-kafka";
import { ensureKafka } from "./kafka/launcher";
import { Accounts } from "./demo/accounts";
import { startChain } from "./demo/chain";
import { runLedgerAct } from "./demo/ledger";
import { PARTIES, openNetwork } from "./demo/network";
import { MEDIATION_POLICY, MediatorNode, paymentsOf, type SharedTopics } from "./demo/nodes";
import { closeAndSettle } from "./demo/reconcile";
import { Checks, log, waitFor } from "./demo/report";
import { Payee, Payer, loadGraph, type WalletContext } from "./demo/wallets";

/** Seconds past `e_in − m` at which the story looks again (the mediator must have registered by then). */
const PAST_MARGIN_SECONDS = 5n;

async function main(): Promise<void> {
  const checks = new Checks();
  const brokers = await ensureKafka();
  log(`Kafka at ${brokers.join(",")}`);
  const chain = await startChain();
  log(`ParsecChannels at ${chain.address} on chain ${chain.chainId}, served at ${chain.rpcUrl}`);
  const summary: string[] = [`Parsec demo: Kafka at ${brokers.join(",")}, contract ${chain.address}`, ""];

  // The network's channels and nodes come first: the nodes start (separate processes, slow to come up)
  // while act 1 runs on its own topics.
  const net = await openNetwork(chain);
  const { alice, bob, carol, dave, erin } = net.parties;
  const { ab, bc, bd, de, ce } = net.channels;
  log("network: five parties, channels Alice–Bob, Bob–Carol, Bob–Dave, Dave–Erin, Carol–Erin opened");

  const prefix = `demonet${Date.now().toString(36)}.`;
  const names = resolveTopicNames({ topicPrefix: prefix });
  const shared: SharedTopics = {
    transfers: names.transfers,
    paymentMessages: names.paymentMessages,
    channelGraph: names.channelGraph,
  };
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), "parsec-demo-net-"));
  const setup = { chain, brokers, prefix, shared, workDir };
  const bobNode = new MediatorNode("bob", bob.key, setup);
  const daveNode = new MediatorNode("dave", dave.key, setup);
  const nodes = [bobNode, daveNode];
  for (const n of nodes) await chain.fund(n.submitter.address);
  const client = createLogClient({ brokers, clientId: `${prefix}demo`, logger: silentLogger });
  const paymentLog = kafkaPaymentLog({ client, topics: shared, domain: chain.domain });
  const payees: Payee[] = [];

  try {
    const started = Promise.all(nodes.map((n) => n.start()));
    started.catch(() => undefined); // awaited below, after act 1
    summary.push(...(await runLedgerAct(chain, brokers, checks)), "");

    // ---- Act 2: the network ----
    await started;
    await chain.syncClock();
    log(`network: Bob's node at ${bobNode.url}, Dave's at ${daveNode.url} (separate processes)`);
    const ctx: WalletContext = { chain, net, log: paymentLog, client, topics: shared };
    const carolPayee = new Payee(carol, [bc], ctx);
    const erinPayee = new Payee(erin, [de, ce], ctx);
    payees.push(carolPayee, erinPayee);
    // Each node announces the directions it forwards in: Bob towards Alice, Carol and Dave; Dave
    // towards Bob and Erin. Alice reads them once: her view of Bob–Carol goes stale, as views do.
    const aliceGraph = await loadGraph(ctx, alice, ab, [
      { channel: ab, direction: 1 },
      { channel: bc, direction: 0 },
      { channel: bd, direction: 0 },
      { channel: bd, direction: 1 },
      { channel: de, direction: 0 },
    ]);
    const alicePays = new Payer(alice, ab, aliceGraph, ctx);
    const carolPays = new Payer(carol, ce, await loadGraph(ctx, carol, ce, []), ctx);
    const accounts = new Accounts(net);

    /** One payment: books it if it settles, adds its line to the table; returns the result or error. */
    const payment = async (
      label: string,
      payer: Payer,
      payee: Payee,
      amount: bigint,
      invoice?: string,
    ): Promise<PaymentResult | Error> => {
      const text = invoice ?? (await payee.invoice(amount)).text;
      const events: PaymentEvent[] = [];
      const started = Date.now();
      try {
        const result = await payer.pay(text, events);
        const ms = Date.now() - started;
        checks.add(
          `${label}: every hop's amount carries exactly the mediators' policy fees`,
          accounts.settled(result.route, amount),
        );
        accounts.line({
          label,
          hops: result.route.hops.length,
          amount,
          fee: result.fee,
          ms,
          outcome: "settled",
        });
        log(`${label}: settled in ${ms} ms, ${result.route.hops.length} hop(s), fee ${result.fee} wei`);
        return result;
      } catch (e) {
        const ms = Date.now() - started;
        const attempt = events.find((x) => x.kind === "attempt");
        const hops = attempt?.kind === "attempt" ? attempt.route.hops.length : 0;
        const fee = attempt?.kind === "attempt" ? attempt.fee : 0n;
        const name = e instanceof PaymentFailedError ? e.failureName : String(e);
        accounts.line({ label, hops, amount, fee, ms, outcome: `failed: ${name}` });
        log(`${label}: ${describePaymentError(e)}`);
        return e instanceof Error ? e : new Error(String(e));
      }
    };

    // 1, 2 and 3 hops.
    const direct = await payment("Carol → Erin", carolPays, erinPayee, parseEther("0.002"));
    const twoHops = await payment("Alice → Bob → Carol", alicePays, carolPayee, parseEther("0.004"));
    const threeHops = await payment("Alice → Bob → Dave → Erin", alicePays, erinPayee, parseEther("0.003"));
    checks.add(
      "routed payments of 1, 2 and 3 hops settled over the network",
      [direct, twoHops, threeHops].every((r, i) => !(r instanceof Error) && r.route.hops.length === i + 1),
    );

    // Bob can forward only 0.006 to Carol now; Alice's graph still says 0.01.
    const tooBig = await payment(
      "Alice → Carol, beyond Bob's side",
      alicePays,
      carolPayee,
      parseEther("0.008"),
    );
    checks.add(
      "a payment beyond Bob–Carol's capacity failed back from Bob (hop 2, InsufficientCapacity)",
      tooBig instanceof PaymentFailedError &&
        tooBig.hop === 1 &&
        tooBig.channelId === bc.id &&
        tooBig.failureName === "InsufficientCapacity",
    );

    // Dave is killed once he has journaled his forward, while Erin's answer is held; restarted on the same
    // disk, he must carry on the one payment: one LOCK to Erin, settled once.
    erinPayee.gate.hold();
    const killed = await erinPayee.invoice(parseEther("0.002"));
    const inFlight = payment(
      "Alice → … → Erin, Dave killed",
      alicePays,
      erinPayee,
      parseEther("0.002"),
      killed.text,
    );
    await waitFor(
      "Dave's node to journal the forward",
      async () => (await paymentsOf(daveNode, killed.hashlock)).some((r) => r.state === "FORWARDED"),
      60_000,
      20,
    );
    await daveNode.kill();
    log("network: Dave's node killed with SIGKILL mid-payment (forward journaled, Erin not answered yet)");
    await daveNode.start();
    log(`network: Dave's node restarted on the same disk at ${daveNode.url}`);
    erinPayee.gate.release();
    const afterKill = await inFlight;
    const daveRows = await waitFor("Dave's node to record the payment settled", async () => {
      const rows = await paymentsOf(daveNode, killed.hashlock);
      return rows.every((r) => r.state === "SETTLED_UPSTREAM") && rows.length > 0 && rows;
    });
    const locksToErin = new Set<string>();
    for (const [p, end] of await client.endOffsets(shared.transfers)) {
      await client.readPartition(shared.transfers, p, 0, end, (records) => {
        for (const r of records) {
          if (!r.value || !r.key?.equals(channelKey(de.id))) continue;
          const t = codecs().transfer.decode(r.value as Buffer).transfer;
          if (t.kind === TransferKind.Lock && t.hashlock.toLowerCase() === killed.hashlock.toLowerCase())
            locksToErin.add(`${t.seq}/${hashTransfer(t)}`);
        }
      });
    }
    checks.add(
      "the mediator killed mid-payment and restarted completed it exactly once (one LOCK to Erin, one record)",
      !(afterKill instanceof Error) && daveRows.length === 1 && locksToErin.size === 1,
    );

    // Alice takes the secret and keeps her UNLOCK: Bob has paid Carol, so he registers the secret on-chain
    // before Alice's lock expires and is paid from the lock's pot at settlement.
    alicePays.withholdUnlocks = true;
    const withheld = await carolPayee.invoice(parseEther("0.001"));
    const cheated = await payment(
      "Alice → Bob → Carol, UNLOCK withheld",
      alicePays,
      carolPayee,
      parseEther("0.001"),
      withheld.text,
    );
    const [row] = await waitFor("Bob to ask Alice for her UNLOCK", async () => {
      const rows = await paymentsOf(bobNode, withheld.hashlock);
      return rows.length > 0 && rows[0].state === "SETTLED_DOWNSTREAM" && rows;
    });
    const expiryIn = BigInt(row.expiryIn);
    const withheldIn = BigInt(row.amountIn);
    log(
      `network: Alice withholds her UNLOCK; moving the chain to e_in − m (${expiryIn} − ${MEDIATION_POLICY.minConfirmationMarginSeconds})`,
    );
    await chain.travelTo(
      expiryIn - BigInt(MEDIATION_POLICY.minConfirmationMarginSeconds) + PAST_MARGIN_SECONDS,
    );
    const registeredAt = await waitFor("Bob's node to register the secret on-chain", async () => {
      const at = await chain.channels.secretRevealedAt(withheld.hashlock as Hash);
      return at > 0n && at;
    });
    await waitFor("Bob's node to count the payment settled upstream", async () =>
      (await paymentsOf(bobNode, withheld.hashlock)).some((r) => r.state === "SETTLED_UPSTREAM"),
    );
    checks.add(
      "Alice withheld her UNLOCK; Bob registered the secret on-chain before her lock expired",
      !(cheated instanceof Error) && alicePays.withheld === 1 && registeredAt <= expiryIn,
    );

    // What the nodes say they earned, against the book (before the records age out).
    for (const [node, name] of [
      [bobNode, "bob"],
      [daveNode, "dave"],
    ] as const) {
      const { payments } = await node.get<{ payments: { state: string; fee: string }[] }>("/payments");
      const fees = payments
        .filter((p) => p.state === "SETTLED_UPSTREAM")
        .reduce((a, p) => a + BigInt(p.fee), 0n);
      checks.add(
        `${name}'s node reports the fees the book expects (${fees} wei)`,
        fees === (accounts.earned.get(name) ?? 0n),
      );
    }

    // The end: everyone closes, the watchtowers settle, and the payouts are reconciled with the book.
    const outcome = await closeAndSettle(
      chain,
      net,
      { ab: "alice", bc: "carol", bd: "dave", de: "erin", ce: "erin" },
      bobNode,
    );
    checks.add(
      `the only pot paid to a payee is Alice's withheld lock, to Bob (${formatEther(withheldIn)} ETH)`,
      outcome.potsToPayee === withheldIn,
    );
    const rows: string[] = [];
    for (const name of PARTIES) {
      const change = (outcome.paid.get(name) ?? 0n) - (outcome.deposited.get(name) ?? 0n);
      const expected = accounts.expected(name);
      checks.add(
        `${name}'s payout is deposits ${expected < 0n ? "−" : "+"} ${formatEther(expected < 0n ? -expected : expected)} ETH`,
        change === expected,
      );
      rows.push(
        `    ${name.padEnd(6)} ${formatEther(outcome.deposited.get(name) ?? 0n).padStart(8)} ${formatEther(outcome.paid.get(name) ?? 0n).padStart(22)} ${formatEther(change).padStart(22)} ${formatEther(expected).padStart(22)}`,
      );
    }
    checks.add(
      `nothing was lost: payouts and resolved pots (${formatEther(outcome.totalOut)} ETH) equal the deposits`,
      outcome.totalOut === outcome.totalIn,
    );

    summary.push(
      "Act 2: a network of five parties and two mediating nodes (separate processes)",
      `  nodes: Bob ${bobNode.url}, Dave ${daveNode.url} (restarted ${daveNode.starts - 1}×); fee ${MEDIATION_POLICY.feeBase} wei + ${MEDIATION_POLICY.feePpm} ppm`,
      "  payments:",
      ...accounts.table(),
      `  settlement: ${formatEther(outcome.pots)} ETH in lock pots (${formatEther(outcome.potsToPayee)} to payees, ${formatEther(outcome.potsToPayer)} back to payers)`,
      "  reconciliation (ETH):",
      `    ${"party".padEnd(6)} ${"deposit".padStart(8)} ${"paid out".padStart(22)} ${"change".padStart(22)} ${"expected".padStart(22)}`,
      ...rows,
    );
  } finally {
    for (const p of payees) p.stop();
    await Promise.all(nodes.map((n) => n.stop()));
    await paymentLog.close();
    const own = nodes.flatMap((n) => Object.values(resolveTopicNames({ topicPrefix: n.topicPrefix })));
    await client.deleteTopics([...new Set([...Object.values(shared), ...own])]).catch(() => undefined);
    await client
      .deleteGroups(
        nodes.flatMap((n) => [
          n.groupId,
          signerGroupId(
            n.groupId,
            new Map([[nativeSigner(n.key as Hex).address.toLowerCase(), nativeSigner(n.key as Hex)]]),
          ),
        ]),
      )
      .catch(() => undefined);
    await client.close().catch(() => undefined);
    await chain.close();
    if (!process.env.DEMO_KEEP) fs.rmSync(workDir, { recursive: true, force: true });
    else log(`node logs kept in ${workDir}`);
  }

  console.log(summary.join("\n"));
  console.log("\n  checks:");
  for (const line of checks.lines()) console.log(line);
  if (!process.env.KAFKA_BROKERS)
    console.log("\n  The local broker keeps running for the next run; `npm run kafka:stop` stops it.");
  if (checks.failed) process.exitCode = 1;
}

// kafkajs can keep an idle broker socket open after every client has disconnected; the demo is done, so
// leave instead of waiting for it.
main()
  .catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  })
  .finally(() => process.exit());
