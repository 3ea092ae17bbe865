// Network benchmark (issue 11): routed payments through mediating nodes. ONE JSON object on stdout,
// progress on stderr.
//
//   npm run --silent bench:network      (compiles, then: hardhat run --no-compile scripts/bench/network.ts)
//
// Starts what it needs: a broker through ensureKafka() (or KAFKA_BROKERS), the in-process Hardhat chain
// over JSON-RPC with ParsecChannels (the relayer tests' Harness), and two mediating nodes M1 and M2 as
// child processes (relayer/src/main.ts, each its own consumer group, holding its own key). Channels:
//
//   P_i ── C1                      1 hop  (no node between payer and payee)
//   P_i ── M1 ── C2                2 hops
//   P_i ── M1 ── M2 ── C3          3 hops
//
// for BENCH_NETWORK_PAYERS payers P_i (a wallet's channel carries one payment at a time, so a payer
// is one unit of concurrency). Payers and payees are this process: the SDK's pay() over the client's
// payment transport, the client's receivePayments, reading the log through one consumer
// (network/log.ts). For each hop count: a latency phase offers BENCH_NETWORK_RATE payments/s for
// BENCH_NETWORK_SECONDS (a payment waiting for a free payer waits on the clock: latency is from the
// invoice to the preimage), then a throughput phase runs every payer closed-loop for as long. At the
// end every lock is resolved and the money is reconciled from the nodes' channel states.
import fs from "node:fs";
import path from "node:path";
import hre from "hardhat";
import { Wallet, ZeroAddress, parseEther } from "ethers";
import {
  ChannelGraph,
  GENESIS_STATE,
  MissionControl,
  codecs,
  createRoutedInvoice,
  localSigner,
  memoryJournal,
  onionPublicKey,
  pay,
  signChannelUpdate,
  signPaymentMessage,
  verifyPaymentMessage,
  type Address,
  type Hash,
  type Hex,
  type LocalSigner,
  type OpenChannel,
  type PayerState,
  type PaymentTransport,
} from "../../sdk";
import { paymentTransport, receivePayments, type IssuedInvoice, type Subscription } from "../../client";
import { resolveTopicNames } from "../../relayer/src/config";
import { Harness, mediationSettings, type TestChannel } from "../../test/relayer/harness";
import { followingPaymentLog, type FollowingLog } from "./network/log";
import { quantile, round } from "./network/stats";
import { PaymentTrace } from "./network/trace";

const SECONDS = Number(process.env.BENCH_NETWORK_SECONDS ?? 10);
const RATE = Number(process.env.BENCH_NETWORK_RATE ?? 100);
const PAYERS = Number(process.env.BENCH_NETWORK_PAYERS ?? 24);
/** How long an offered payment waits for a free payer before it is dropped unstarted (saturation). */
const QUEUE_MS = Number(process.env.BENCH_NETWORK_QUEUE_MS ?? 5_000);
/** The nodes' periodic flush; a mediating node flushes what a payment waits on at once regardless. */
const FLUSH_INTERVAL_MS = Number(process.env.BENCH_NETWORK_FLUSH_MS ?? 1000);
const HOPS = (process.env.BENCH_NETWORK_HOPS ?? "1,2,3").split(",").map(Number);
const AMOUNT = parseEther("0.0001");
/** Every deposit: far more than the runs move, so liquidity suffices (success rate must be 1.0). */
const DEPOSIT = parseEther("100");
const MS_PER_SECOND = 1000;

const log = (m: string): void => void process.stderr.write(`[bench:network] ${m}\n`);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Payer {
  readonly wallet: Wallet;
  /** The payer's own state in each of its channels (what its transports signed and sent). */
  readonly states: Map<Hash, PayerState>;
  /** One transport per first hop (the payer's channel with M1, and with C1). */
  readonly transports: Map<Hash, PaymentTransport>;
  busy: boolean;
}

interface Outcome {
  readonly ms: number;
  readonly ok: boolean;
  readonly fee: bigint;
  readonly error?: string;
}

interface PhaseFigures {
  readonly payments: number;
  readonly succeeded: number;
  readonly seconds: number;
  readonly p50Ms: number | null;
  readonly p99Ms: number | null;
  readonly maxMs: number | null;
  readonly fees: bigint;
  readonly errors: readonly string[];
}

function figures(outcomes: readonly Outcome[], seconds: number): PhaseFigures {
  const ok = outcomes.filter((o) => o.ok);
  const ms = ok.map((o) => o.ms);
  return {
    payments: outcomes.length,
    succeeded: ok.length,
    seconds,
    p50Ms: quantile(ms, 0.5),
    p99Ms: quantile(ms, 0.99),
    maxMs: quantile(ms, 1),
    fees: ok.reduce((n, o) => n + o.fee, 0n),
    errors: [...new Set(outcomes.filter((o) => !o.ok).map((o) => o.error ?? "?"))].slice(0, 5),
  };
}

async function main(): Promise<void> {
  const h = await Harness.create({
    brokers: process.env.KAFKA_BROKERS?.split(","),
    partitions: Number(process.env.BENCH_NETWORK_PARTITIONS ?? 4),
  });
  let reader: FollowingLog | null = null;
  const payees: Subscription[] = [];
  try {
    const topics = resolveTopicNames({ topicPrefix: h.prefix });
    const [m1, m2, c1, c2, c3] = Array.from(
      { length: 5 },
      () => new Wallet(Wallet.createRandom().privateKey),
    );
    const payers: Payer[] = Array.from({ length: PAYERS }, () => ({
      wallet: new Wallet(Wallet.createRandom().privateKey),
      states: new Map(),
      transports: new Map(),
      busy: false,
    }));

    // ---------------------------------------------------------------- channels on the chain
    log(`opening ${2 * PAYERS + 3} channels`);
    const open = new Map<Hash, OpenChannel>();
    const channels: TestChannel[] = [];
    const openBetween = async (a: Wallet, b: Wallet): Promise<TestChannel> => {
      const c = await h.openChannel(DEPOSIT, DEPOSIT, [a, b]);
      open.set(c.id, {
        participant0: a.address as Address,
        participant1: b.address as Address,
        asset: ZeroAddress as Address,
      });
      channels.push(c);
      return c;
    };
    const toM1 = new Map<Wallet, TestChannel>();
    const toC1 = new Map<Wallet, TestChannel>();
    for (const p of payers) {
      toM1.set(p.wallet, await openBetween(p.wallet, m1));
      toC1.set(p.wallet, await openBetween(p.wallet, c1));
    }
    const m1m2 = await openBetween(m1, m2);
    const m1c2 = await openBetween(m1, c2);
    const m2c3 = await openBetween(m2, c3);
    const deposits = channels.reduce((n) => n + 2n * DEPOSIT, 0n);

    // ---------------------------------------------------------------- the mediating nodes
    const settings = (name: string): Record<string, unknown> => ({
      kafka: { groupId: `${h.prefix}${name}` },
      state: { flushIntervalMs: FLUSH_INTERVAL_MS },
      commit: { everyM: 1_000_000 },
      ...(process.env.BENCH_NETWORK_NODE_LOG ? { logLevel: process.env.BENCH_NETWORK_NODE_LOG } : {}),
      signer: { enabled: false },
      mediation: mediationSettings(),
    });
    log("starting the mediating nodes M1 and M2 (child processes)");
    const nodes: Record<"m1" | "m2", string> = { m1: "", m2: "" };
    for (const [name, w] of [
      ["m1", m1],
      ["m2", m2],
    ] as const) {
      h.extraGroups.push(`${h.prefix}${name}`);
      nodes[name] = (await h.spawnNode(name, settings(name), { PARSEC_SIGNER_KEYS: w.privateKey })).url;
    }

    // ---------------------------------------------------------------- graph, clocks, log reader
    const latest = await hre.ethers.provider.getBlock("latest");
    const skewMs = Math.max(0, (latest?.timestamp ?? 0) * MS_PER_SECOND - Date.now());
    const chainNowMs = (): number => Date.now() + skewMs;
    const chainNowS = (): bigint => BigInt(Math.floor(chainNowMs() / MS_PER_SECOND));
    const graph = new ChannelGraph({ domain: h.domain });
    const announced = [m1m2.id, m1c2.id, m2c3.id];
    log("waiting for the nodes' channel updates");
    for (let deadline = Date.now() + 60_000; ;) {
      const updates = (await h.readAll(topics.channelGraph))
        .filter((r) => r.value)
        .map((r) => codecs().channelUpdate.decode(r.value as Buffer));
      for (const m of updates) graph.applyUpdate(m.update, (id) => open.get(id), chainNowS());
      const seen = new Set(updates.map((m) => m.update.channelId));
      if (announced.every((id) => seen.has(id))) break;
      if (Date.now() > deadline) throw new Error("the nodes did not announce their channels within 60 s");
      await sleep(500);
    }
    for (const p of payers) {
      for (const c of [toM1.get(p.wallet), toC1.get(p.wallet)]) {
        if (!c) continue;
        const own = await signChannelUpdate(localSigner(p.wallet.privateKey as Hex), h.domain, {
          channelId: c.id,
          direction: 0,
          timestamp: chainNowS(),
          capacity: DEPOSIT,
          feeBase: 0n,
          feePpm: 0,
          expiryDelta: 0,
          htlcMinimum: 1n,
          htlcMaximum: DEPOSIT,
          disabled: false,
        });
        if (!graph.applyUpdate(own, (id) => open.get(id), chainNowS()).applied)
          throw new Error(`the payer's own channel update for ${c.id} was not applied`);
      }
    }
    const routingKeys = new Map<Address, Uint8Array>();
    for (const w of [m1, m2, c1, c2, c3])
      routingKeys.set(w.address as Address, onionPublicKey(w.privateKey as Hex));
    // The latency phases are traced hop by hop, as the reader sees each LOCK, SECRET and UNLOCK.
    const hopNames = new Map<string, string>([
      [m1m2.id.toLowerCase(), "M1–M2"],
      [m1c2.id.toLowerCase(), "M1–C2"],
      [m2c3.id.toLowerCase(), "M2–C3"],
    ]);
    for (const p of payers) {
      hopNames.set((toM1.get(p.wallet) as TestChannel).id.toLowerCase(), "P–M1");
      hopNames.set((toC1.get(p.wallet) as TestChannel).id.toLowerCase(), "P–C1");
    }
    const trace = new PaymentTrace(hopNames);
    let tracing = false;
    h.extraGroups.push(`${h.prefix}bench-reader`);
    reader = await followingPaymentLog({
      client: h.client,
      topics,
      domain: h.domain,
      groupId: `${h.prefix}bench-reader`,
      observe: (r) => trace.observe(r),
    });
    const peer = { sign: signPaymentMessage, verify: verifyPaymentMessage };

    // ---------------------------------------------------------------- payees
    const invoices = new Map<string, IssuedInvoice>();
    const invoiceStore = {
      lookup: async (hl: Hash) => invoices.get(hl.toLowerCase()),
      markRevealed: async (hl: Hash) => {
        const i = invoices.get(hl.toLowerCase());
        if (i) invoices.set(hl.toLowerCase(), { ...i, revealed: true });
      },
    };
    const payeeOf: Record<number, Wallet> = { 1: c1, 2: c2, 3: c3 };
    // Made once: deriving a signer's address from its key costs about a millisecond.
    const payeeSigner = new Map([c1, c2, c3].map((w) => [w, localSigner(w.privateKey as Hex)]));
    const payeeChannels: [Wallet, { c: TestChannel; counterparty: Wallet }[]][] = [
      [c1, payers.map((p) => ({ c: toC1.get(p.wallet) as TestChannel, counterparty: p.wallet }))],
      [c2, [{ c: m1c2, counterparty: m1 }]],
      [c3, [{ c: m2c3, counterparty: m2 }]],
    ];
    for (const [w, list] of payeeChannels) {
      payees.push(
        receivePayments({
          signer: localSigner(w.privateKey as Hex),
          onionKey: w.privateKey as Hex,
          domain: h.domain,
          channels: list.map(({ c, counterparty }) => ({
            channelId: c.id,
            payer: 0,
            counterparty: counterparty.address as Address,
            counterpartyDeposit: DEPOSIT,
          })),
          invoices: invoiceStore,
          log: reader,
          peer,
          now: chainNowMs,
        }),
      );
    }

    // ---------------------------------------------------------------- payers
    const transportOf = (p: Payer, c: TestChannel, counterparty: Wallet): PaymentTransport =>
      paymentTransport({
        signer: localSigner(p.wallet.privateKey as Hex),
        journal: memoryJournal(),
        domain: h.domain,
        channel: { channelId: c.id, payer: 0, counterparty: counterparty.address as Address },
        state: {
          get: async () => p.states.get(c.id) ?? GENESIS_STATE,
          set: async (x: PayerState) => void p.states.set(c.id, x),
        },
        log: reader as FollowingLog,
        peer,
        now: chainNowMs,
      });
    for (const p of payers) {
      p.transports.set(toM1.get(p.wallet)?.id as Hash, transportOf(p, toM1.get(p.wallet) as TestChannel, m1));
      p.transports.set(toC1.get(p.wallet)?.id as Hash, transportOf(p, toC1.get(p.wallet) as TestChannel, c1));
    }

    /** One payment of `hops` hops by `p`, timed from the invoice (`since`: when it was offered). */
    const payOnce = async (p: Payer, hops: number, since: number): Promise<Outcome> => {
      const payee = payeeOf[hops];
      try {
        const { invoice, text, secret } = await createRoutedInvoice({
          domain: h.domain,
          signer: payeeSigner.get(payee) as LocalSigner,
          amount: AMOUNT,
          validity: 3_600,
          now: chainNowS(),
        });
        if (tracing) trace.start(invoice.invoice.hashlock);
        invoices.set(invoice.invoice.hashlock.toLowerCase(), {
          invoiceId: invoice.invoiceId,
          hashlock: invoice.invoice.hashlock,
          secret,
          amount: invoice.invoice.amount,
          expiry: invoice.invoice.expiry,
          minFinalExpiryDelta: invoice.invoice.minFinalExpiryDelta,
        });
        const first = hops === 1 ? toC1.get(p.wallet) : toM1.get(p.wallet);
        const result = await pay(
          text,
          { timeoutMs: 60_000 },
          {
            graph,
            missionControl: new MissionControl(),
            source: p.wallet.address as Address,
            domain: h.domain,
            routingKeyOf: (n) => routingKeys.get(n),
            transport: p.transports.get(first?.id as Hash) as PaymentTransport,
            now: chainNowMs,
          },
        );
        const ms = Date.now() - since;
        if (result.preimage.toLowerCase() !== secret.toLowerCase()) throw new Error("wrong preimage");
        if (result.route.hops.length !== hops)
          throw new Error(`routed over ${result.route.hops.length} hops, not ${hops}`);
        return { ms, ok: true, fee: result.fee };
      } catch (e) {
        return {
          ms: Date.now() - since,
          ok: false,
          fee: 0n,
          error: e instanceof Error ? e.message : String(e),
        };
      }
    };

    /**
     * Offers `rate` payments/s for `seconds` (open loop). A payment waits for a free payer (its latency
     * counts the wait) at most QUEUE_MS, else it is dropped unstarted: the offered rate is above what the
     * network sustains (`dropped` > 0), and the phase still ends in bounded time.
     */
    const latencyPhase = async (
      hops: number,
      rate: number,
      seconds: number,
    ): Promise<PhaseFigures & { offered: number; dropped: number }> => {
      const outcomes: Promise<Outcome | null>[] = [];
      const waiting: (() => void)[] = [];
      const take = async (deadline: number): Promise<Payer | null> => {
        for (;;) {
          const p = payers.find((x) => !x.busy);
          if (p) {
            p.busy = true;
            return p;
          }
          const left = deadline - Date.now();
          if (left <= 0) return null;
          await new Promise<void>((r) => {
            const timer = setTimeout(r, left);
            waiting.push(() => {
              clearTimeout(timer);
              r();
            });
          });
        }
      };
      const start = Date.now();
      const total = Math.round(rate * seconds);
      for (let i = 0; i < total; i++) {
        const at = start + (i * MS_PER_SECOND) / rate;
        const wait = at - Date.now();
        if (wait > 0) await sleep(wait);
        outcomes.push(
          (async () => {
            const p = await take(at + QUEUE_MS);
            if (!p) return null;
            try {
              return await payOnce(p, hops, at);
            } finally {
              p.busy = false;
              waiting.shift()?.();
            }
          })(),
        );
      }
      const done = await Promise.all(outcomes);
      const started = done.filter((o): o is Outcome => o !== null);
      return {
        ...figures(started, (Date.now() - start) / MS_PER_SECOND),
        offered: total,
        dropped: total - started.length,
      };
    };

    /** Every payer pays back to back for `seconds` (closed loop): the sustained rate. */
    const throughputPhase = async (hops: number, seconds: number): Promise<PhaseFigures> => {
      const start = Date.now();
      const outcomes: Outcome[] = [];
      await Promise.all(
        payers.map(async (p) => {
          while (Date.now() - start < seconds * MS_PER_SECOND) {
            outcomes.push(await payOnce(p, hops, Date.now()));
          }
        }),
      );
      return figures(outcomes, (Date.now() - start) / MS_PER_SECOND);
    };

    // ---------------------------------------------------------------- the runs
    const perHops: Record<string, unknown> = {};
    let feesPaid = 0n;
    let attempted = 0;
    let succeeded = 0;
    for (const hops of HOPS) {
      // Every payer pays once first: the nodes' and the payers' code paths are warm (JIT, connections).
      log(`${hops} hop(s): warm-up, one payment per payer`);
      const warm = await Promise.all(payers.map((p) => payOnce(p, hops, Date.now())));
      attempted += warm.length;
      for (const w of warm) {
        if (w.ok) {
          succeeded += 1;
          feesPaid += w.fee;
        } else log(`${hops} hop(s): a warm-up payment failed: ${w.error}`);
      }
      log(`${hops} hop(s): ${RATE}/s offered for ${SECONDS} s`);
      trace.clear();
      tracing = true;
      const lat = await latencyPhase(hops, RATE, SECONDS);
      tracing = false;
      log(
        `${hops} hop(s): p50 ${lat.p50Ms} ms, p99 ${lat.p99Ms} ms, ${lat.succeeded}/${lat.payments} ok, ` +
          `${lat.dropped} of ${lat.offered} dropped (no free payer within ${QUEUE_MS} ms)`,
      );
      log(`${hops} hop(s): ${PAYERS} payers closed-loop for ${SECONDS} s`);
      const thr = await throughputPhase(hops, SECONDS);
      const pps = thr.succeeded / thr.seconds;
      log(`${hops} hop(s): ${round(pps)} payments/s sustained (p50 ${thr.p50Ms} ms, p99 ${thr.p99Ms} ms)`);
      feesPaid += lat.fees + thr.fees;
      attempted += lat.payments + thr.payments;
      succeeded += lat.succeeded + thr.succeeded;
      perHops[String(hops)] = {
        paymentsPerSec: round(pps),
        offeredPerSec: RATE,
        p50Ms: lat.p50Ms,
        p99Ms: lat.p99Ms,
        maxMs: lat.maxMs,
        successRate: round((lat.succeeded + thr.succeeded) / Math.max(1, lat.payments + thr.payments), 4),
        feesPaid: (lat.fees + thr.fees).toString(),
        latency: {
          offered: lat.offered,
          dropped: lat.dropped,
          started: lat.payments,
          succeeded: lat.succeeded,
          seconds: round(lat.seconds, 2),
        },
        throughput: {
          payments: thr.payments,
          succeeded: thr.succeeded,
          seconds: round(thr.seconds, 2),
          p50Ms: thr.p50Ms,
          p99Ms: thr.p99Ms,
        },
        // The latency phase step by step: ms from the invoice until the reader saw each event.
        steps: trace.steps(),
        errors: [...lat.errors, ...thr.errors],
      };
    }

    // ---------------------------------------------------------------- reconciliation
    log("reconciling: waiting until every channel's locks are resolved in the nodes' states");
    const reconciled = await reconcile(nodes.m1, channels, payers, [toM1, toC1], [m1c2, m2c3]);
    const moved = BigInt(succeeded) * AMOUNT;
    const abs = (x: bigint): bigint => (x < 0n ? -x : x);
    // Deposits not in any balance or lock, plus any gap between what payers spent and what the payees
    // and the mediators' fees received (each from the nodes' channel states).
    const moneyLost =
      deposits -
      reconciled.accounted +
      abs(reconciled.payerSpent - moved - feesPaid) +
      abs(reconciled.payeeReceived - moved);
    const report = {
      bench: "network",
      seconds: SECONDS,
      payers: PAYERS,
      flushIntervalMs: FLUSH_INTERVAL_MS,
      amount: AMOUNT.toString(),
      hops: perHops,
      attempted,
      succeeded,
      successRate: round(succeeded / Math.max(1, attempted), 4),
      feesPaid: feesPaid.toString(),
      feesEarned: (reconciled.payerSpent - reconciled.payeeReceived).toString(),
      deposits: deposits.toString(),
      payerSpent: reconciled.payerSpent.toString(),
      payeeReceived: reconciled.payeeReceived.toString(),
      lockedAtEnd: reconciled.locked.toString(),
      moneyLost: moneyLost.toString(),
      payerStatesMatchNode: reconciled.payersMatch,
      targets: {
        p99Ms3HopsAt100PerSec: { target: 100, measured: (perHops["3"] as { p99Ms?: number })?.p99Ms ?? null },
        paymentsPerSec3Hops: {
          target: 500,
          measured: (perHops["3"] as { paymentsPerSec?: number })?.paymentsPerSec ?? null,
        },
        successRate: { target: 1, measured: round(succeeded / Math.max(1, attempted), 4) },
      },
    };
    process.stdout.write(`${JSON.stringify(report)}\n`);
    if (process.env.BENCH_NETWORK_OUT)
      fs.writeFileSync(path.resolve(process.env.BENCH_NETWORK_OUT), JSON.stringify(report, null, 2));
  } finally {
    for (const s of payees) s.stop();
    await reader?.close();
    await h.close();
  }
}

interface ChannelJson {
  readonly deposits: { readonly deposit0: string; readonly deposit1: string };
  readonly balances: {
    readonly paid0: string;
    readonly paid1: string;
    readonly locked0: string;
    readonly locked1: string;
    readonly available0: string;
    readonly available1: string;
  };
}

/**
 * Reads every channel from M1's node (it consumes every partition), once no lock is pending anywhere
 * (or after a minute): what the channels account for (available + locked, both sides), what the payers
 * spent net on their channels, what the payees received net on theirs, and whether each payer's own
 * state is the one the node holds.
 */
async function reconcile(
  url: string,
  channels: readonly TestChannel[],
  payers: readonly Payer[],
  payerChannels: readonly ReadonlyMap<Wallet, TestChannel>[],
  payeeChannels: readonly TestChannel[],
): Promise<{
  accounted: bigint;
  locked: bigint;
  payerSpent: bigint;
  payeeReceived: bigint;
  payersMatch: boolean;
}> {
  const read = async (): Promise<Map<Hash, ChannelJson>> => {
    const out = new Map<Hash, ChannelJson>();
    for (const c of channels) {
      const r = await fetch(`${url}/channels/${c.id}`);
      if (r.status !== 200) throw new Error(`GET /channels/${c.id}: ${r.status} ${await r.text()}`);
      out.set(c.id, (await r.json()) as ChannelJson);
    }
    return out;
  };
  const lockedOf = (v: ChannelJson): bigint => BigInt(v.balances.locked0) + BigInt(v.balances.locked1);
  let views = await read();
  for (let deadline = Date.now() + 60_000; Date.now() < deadline;) {
    if ([...views.values()].every((v) => lockedOf(v) === 0n)) break;
    await sleep(1_000);
    views = await read();
  }
  let accounted = 0n;
  let locked = 0n;
  for (const v of views.values()) {
    accounted += BigInt(v.balances.available0) + BigInt(v.balances.available1) + lockedOf(v);
    locked += lockedOf(v);
  }
  /** What participant 0 paid participant 1 net in channel `id`, as the node holds it. */
  const net0 = (id: Hash): bigint => {
    const v = views.get(id);
    return v ? BigInt(v.balances.paid0) - BigInt(v.balances.paid1) : 0n;
  };
  let payerSpent = 0n;
  let payersMatch = true;
  for (const p of payers) {
    for (const m of payerChannels) {
      const c = m.get(p.wallet);
      if (!c) continue;
      payerSpent += net0(c.id);
      const own = p.states.get(c.id) ?? GENESIS_STATE;
      const v = views.get(c.id);
      if (!v || own.paidTotal !== BigInt(v.balances.paid0) || own.lockedTotal !== BigInt(v.balances.locked0))
        payersMatch = false;
    }
  }
  // The payees: C1 on the payers' direct channels, C2 and C3 on the last channel of their routes.
  let payeeReceived = 0n;
  for (const p of payers) {
    const c = payerChannels[1]?.get(p.wallet);
    if (c) payeeReceived += net0(c.id);
  }
  for (const c of payeeChannels) payeeReceived += net0(c.id);
  return { accounted, locked, payerSpent, payeeReceived, payersMatch };
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    log(`failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    process.exit(1);
  },
);
