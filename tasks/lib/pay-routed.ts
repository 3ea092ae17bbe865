/**
 * channel:pay --invoice (tasks/pay.ts loads this on use): pays a routed invoice (protocol §11.6) from a
 * terminal. The invoice is checked, the channel graph read (the graph topic and the contract's open
 * channels), and the SDK's `pay()` runs with the client's `paymentTransport` over the Kafka payment log;
 * every LOCK and UNLOCK is signed through the payer's file journal of that channel (the one direct
 * payments use), so a seq is never signed twice whichever way the wallet pays. Prints the route hop by
 * hop, the fee, the time and the receipt (the preimage), or the failure in words.
 */
import fs from "node:fs";
import { SigningKey, getBytes, sha256 } from "ethers";
import type { HardhatRuntimeEnvironment } from "hardhat/types";
import { paymentTransport, type PacketStore, type PayerTransport, type PaymentLog } from "../../client";
import {
  MissionControl,
  describePaymentError,
  channelUpdateSignerKey,
  isParsecError,
  pay,
  routedInvoiceDigest,
  signChannelUpdate,
  verifyPaymentMessage,
  type Address,
  type ChannelDirection,
  type ChannelGraph,
  type ChannelUpdateMessage,
  type Hash,
  type Hex,
  type PayerState,
  type PaymentEvent,
  type PaymentResult,
  type PaymentTransport,
  type Route,
  type SignedRoutedInvoice,
  type SigningJournal,
} from "../../sdk";
import { amountArg, readContext, type ReadContext } from "./context";
import { TaskError } from "./errors";
import { graphReportWords, loadGraph, openChannels, type GraphArgs } from "./graph";
import {
  MS_PER_SECOND,
  amountWords,
  assetWords,
  chainClock,
  chainNow,
  iso,
  keyOrAccount,
  parseInvoiceArg,
  type AssetWords,
} from "./invoice";
import { kafkaTarget, openLog } from "./kafka";
import { print } from "./output";
import {
  availableOf,
  balancesWith,
  bootstrap,
  checkAgainstNode,
  defaultDeps,
  historyOf,
  openSession,
  type PayDeps,
  type PayerArgs,
  type Session,
} from "./pay";
import { readPayerHistory } from "./pay-journal";
import { kafkaPaymentLog } from "./payment-kafka";

/** The payment's deadline when --timeout is not given (pay()'s own default is a minute too). */
export const DEFAULT_ROUTED_TIMEOUT_SECONDS = 60;

/** channel:pay's arguments, both forms: `--channel` + `--amount` (direct) or `--invoice` (routed). */
export interface PayFormArgs {
  readonly channel?: string;
  readonly amount?: string;
  readonly invoice?: string;
}

/** Which payment the arguments ask for; mixing the two forms (or giving neither) is refused in words. */
export function paymentForm(args: PayFormArgs): "direct" | "routed" {
  const direct = Boolean(args.channel) || Boolean(args.amount);
  if (args.invoice && direct) {
    throw new TaskError(
      `give either --invoice parsec1… (a routed payment: the invoice names the amount and the payee, the route is found for you) ` +
        `or --channel <id> --amount <units> (a direct payment to your counterparty), not both (got ${[
          args.channel ? "--channel" : "",
          args.amount ? "--amount" : "",
        ]
          .filter(Boolean)
          .join(" and ")} with --invoice)`,
    );
  }
  if (args.invoice) return "routed";
  if (!args.channel || !args.amount) {
    throw new TaskError(
      "give --invoice parsec1… to pay an invoice through the network, or --channel <id> and --amount <units> to pay your counterparty directly",
    );
  }
  return "direct";
}

export interface RoutedPayArgs extends Omit<PayerArgs, "channel">, GraphArgs {
  readonly invoice: string;
  /** The most you pay in fees, in the asset's units ("" or absent: pay()'s default, 1% of the amount). */
  readonly maxFee?: string;
  /** Seconds after which no new attempt starts (0 or absent: `DEFAULT_ROUTED_TIMEOUT_SECONDS`). */
  readonly timeout?: number;
}

/** What channel:pay --invoice needs from outside; tests replace the node's client or wrap the log. */
export interface RoutedPayDeps extends PayDeps {
  /** Wraps the Kafka payment log (a test injects a failing write: a crash between journal and send). */
  readonly paymentLog?: (log: PaymentLog) => PaymentLog;
}

export interface RoutedPayResult extends PaymentResult {
  /** The journal of the channel the payment left by. */
  readonly journal: string;
}

/** The compressed secp256k1 public key that signed `digest` (a participant key is its routing key, §11.5). */
function signerKey(digest: Hash, signature: Hex): Uint8Array {
  return getBytes(SigningKey.computePublicKey(SigningKey.recoverPublicKey(digest, signature), true));
}

/** Routing keys by lower-case address: the payee's from the invoice, forwarders' from their updates. */
function routingKeys(
  invoice: SignedRoutedInvoice,
  updates: readonly ChannelUpdateMessage[],
): Map<string, Uint8Array> {
  const keys = new Map<string, Uint8Array>();
  keys.set(
    invoice.invoice.payee.toLowerCase(),
    signerKey(routedInvoiceDigest(invoice.invoice), invoice.signature),
  );
  for (const m of updates) {
    keys.set(m.announcer.toLowerCase(), channelUpdateSignerKey(m.domain, m.update));
  }
  return keys;
}

/** A journal that shows only seqs up to `top`: its history is the state the node applied. */
function journalUpTo(journal: SigningJournal, top: number): SigningJournal {
  return {
    get: (channelId, payer, seq) =>
      seq <= top ? journal.get(channelId, payer, seq) : Promise.resolve(undefined),
    record: () => Promise.reject(new Error("read-only view of the journal")),
  };
}

/**
 * The attachments of the payer's transfers — a LOCK's onion packet, a consented CANCEL's consent — kept
 * next to its journal (one JSON line each, fsynced before the transfer is signed): a wallet restarted after
 * signing one sends it again with its attachment.
 */
export function filePacketStore(file: string): PacketStore {
  const read = (): Map<string, Hex> => {
    const held = new Map<string, Hex>();
    if (!fs.existsSync(file)) return held;
    for (const line of fs.readFileSync(file, "utf8").split("\n")) {
      if (!line.trim()) continue;
      try {
        const r = JSON.parse(line) as { channelId: string; seq: number; packet: Hex };
        held.set(`${r.channelId.toLowerCase()}:${r.seq}`, r.packet);
      } catch {
        // a torn last line (a crash while appending): its LOCK was never signed
      }
    }
    return held;
  };
  return {
    get: async (channelId, seq) => read().get(`${channelId.toLowerCase()}:${seq}`),
    put: async (channelId, seq, packet) => {
      const fd = fs.openSync(file, "a", 0o600);
      try {
        fs.writeSync(fd, JSON.stringify({ channelId: channelId.toLowerCase(), seq, packet }) + "\n");
        fs.fsyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
    },
  };
}

/** "hop 2: 0xB… → 0xC… over channel 0x…: lock 0.004 ETH until …, fee … kept by 0xB…". */
function routeLines(route: Route, a: AssetWords): string[] {
  return route.hops.map(
    (h, j) =>
      `  hop ${j + 1}: ${h.from} → ${h.to} over channel ${h.channelId}: lock ${amountWords(h.amount, a)} until ${iso(h.expiry)}, ` +
      (j === 0 ? "your own channel (no fee)" : `fee ${amountWords(h.fee, a)} kept by ${h.from}`),
  );
}

function printEvent(e: PaymentEvent, a: AssetWords): void {
  switch (e.kind) {
    case "attempt":
      print(
        `attempt ${e.attempt}: ${e.route.hops.length} hop(s), fee ${amountWords(e.fee, a)}, you lock ${amountWords(e.route.amount, a)} until ${iso(e.route.expiry)}`,
      );
      routeLines(e.route, a).forEach((line) => print(line));
      print(
        `  signing your LOCK (journaled before it is sent), sending it and waiting for the first hop's answer (at most until the lock expires). ` +
          `Stopped meanwhile, the same command sends this LOCK again, never a second one`,
      );
      return;
    case "failed-attempt":
      print(
        `  attempt ${e.attempt} ${e.message}${e.retrying ? "; trying another route" : ""} (${(e.elapsedMs / MS_PER_SECOND).toFixed(1)} s)`,
      );
      return;
    default:
      return; // succeeded / failed: printed by the caller with the receipt or the error
  }
}

/** One of the payer's channels, ready to be a first hop. */
interface FirstHop {
  readonly session: Session;
  readonly transport: PayerTransport;
  /** How many journaled transfers the node has not applied (sent again, as they are, before a new LOCK). */
  readonly unapplied: number;
}

async function firstHop(
  session: Session,
  deps: PayDeps,
  log: PaymentLog,
  now: () => number,
): Promise<FirstHop> {
  const s = session;
  let history = await historyOf(s);
  if (history.entries.length === 0) history = await bootstrap(s, deps);
  else checkAgainstNode(s, history.entries);
  const applied = s.node[s.payer].seq;
  // The transport builds on what the node applied; what the journal holds beyond it is sent again as it
  // is (never re-signed) by the transport before anything new.
  let state: PayerState =
    history.state.seq === applied
      ? history.state
      : (
          await readPayerHistory(
            journalUpTo(s.journal, applied),
            s.channel.channelId,
            s.payer,
            s.journalPath,
            s.payer === 0 ? s.channel.seq0 : s.channel.seq1,
          )
        ).state;
  const counterparty = s.payer === 0 ? s.channel.params.participant1 : s.channel.params.participant0;
  const transport = paymentTransport({
    signer: s.signer,
    journal: s.journal,
    domain: s.ctx.domain,
    channel: { channelId: s.channel.channelId, payer: s.payer, counterparty: counterparty as Address },
    state: { get: async () => state, set: async (next) => void (state = next) },
    log,
    spendable: async () => availableOf(balancesWith(s, state), s.payer),
    packets: filePacketStore(`${s.journalPath}.packets.jsonl`),
    peer: { verify: verifyPaymentMessage },
    now,
  });
  return { session: s, transport, unapplied: history.state.seq - applied };
}

/**
 * The payer's own direction of a channel as an edge of the graph when it announced none: signed locally
 * (not published) with what the payer can lock now, so the router can start a route there.
 */
async function addOwnEdge(graph: ChannelGraph, hop: FirstHop, now: bigint, a: AssetWords): Promise<void> {
  const s = hop.session;
  const direction = s.payer as ChannelDirection;
  if (graph.edge(s.channel.channelId, direction)) return;
  const can = availableOf(balancesWith(s, s.node[s.payer]), s.payer);
  if (can <= 0n) {
    print(`  your channel ${s.channel.channelId}: nothing to lock in it now, not a first hop`);
    return;
  }
  const update = await signChannelUpdate(s.signer, s.ctx.domain, {
    channelId: s.channel.channelId,
    direction,
    timestamp: now,
    capacity: can,
    feeBase: 0n,
    feePpm: 0,
    expiryDelta: 0,
    htlcMinimum: 1n,
    htlcMaximum: can,
    disabled: true, // a wallet forwards nothing for others; the router still starts the payer's route here
  });
  const lookup = (id: Hash) =>
    id.toLowerCase() === s.channel.channelId
      ? {
          participant0: s.channel.params.participant0 as Address,
          participant1: s.channel.params.participant1 as Address,
          asset: s.channel.params.asset as Address,
        }
      : undefined;
  const result = graph.applyUpdate(update, lookup, now);
  if (result.applied)
    print(
      `  your channel ${s.channel.channelId} (no update of yours on the graph): a first hop with the ${amountWords(can, a)} you can lock now`,
    );
}

/** The failure in words: `describePaymentError` and its code, with a router's amounts in the asset's units. */
function failureWords(e: unknown, a: AssetWords): string {
  const words = describePaymentError(e);
  if (!isParsecError(e)) return words;
  const d = e.details;
  const amount = (v: unknown): string => (typeof v === "bigint" ? amountWords(v, a) : String(v));
  switch (e.code) {
    case "FeeTooHigh":
      return `${words} (FeeTooHigh) In ${a.symbol}: the cheapest route's fee is ${amount(d.cheapestFee)}, your limit ${amount(d.maxFee)}: raise --max-fee to at least that fee`;
    case "InsufficientCapacity":
      return `${words} (InsufficientCapacity) In ${a.symbol}: at most ${amount(d.maxRoutable)} fits: ask for less or wait for forwarders to announce more capacity`;
    default:
      return `${words} (${e.code})`;
  }
}

/** channel:pay --invoice. */
export async function runRoutedPay(
  args: RoutedPayArgs,
  hre: HardhatRuntimeEnvironment,
  overrides: Partial<RoutedPayDeps> = {},
): Promise<RoutedPayResult> {
  const ctx: ReadContext = await readContext(hre, { deployment: args.deployment });
  const deps: RoutedPayDeps = { ...defaultDeps(args, ctx.domain), ...overrides };
  const now = await chainNow(ctx);
  const clock = await chainClock(ctx);
  const signed = parseInvoiceArg(args.invoice, ctx, now, false);
  const inv = signed.invoice;
  const a = await assetWords(ctx, inv.asset);
  const maxFee = args.maxFee ? amountArg("max-fee", args.maxFee, a.decimals, true) : undefined;
  const timeout = args.timeout || DEFAULT_ROUTED_TIMEOUT_SECONDS;
  if (!Number.isInteger(timeout) || timeout < 0)
    throw new TaskError(`--timeout must be a whole number of seconds, got ${args.timeout}`);

  const open = await openChannels(ctx);
  const { graph, report, updates } = await loadGraph(ctx, args, now, open);
  print(`  ${graphReportWords(report)}`);

  const target = kafkaTarget(args);
  const client = await openLog(target, [target.topics.transfers, target.topics.paymentMessages]);
  const kafkaLog = kafkaPaymentLog({ client, topics: target.topics, domain: ctx.domain });
  const log = deps.paymentLog?.(kafkaLog) ?? kafkaLog;
  const hops = new Map<Hash, FirstHop>();
  try {
    const payer = (await keyOrAccount(args, ctx)).address;
    const mine = [...open]
      .filter(
        ([, ch]) =>
          ch.asset.toLowerCase() === inv.asset.toLowerCase() &&
          [ch.participant0, ch.participant1].some((p) => p.toLowerCase() === payer.toLowerCase()),
      )
      .map(([id]) => id);
    if (args.journal && mine.length > 1) {
      throw new TaskError(
        `--journal names one channel's journal, and you have ${mine.length} open channels in ${a.name}: leave --journal out (each channel's default journal is used)`,
      );
    }
    for (const id of mine) {
      let session: Session;
      try {
        session = await openSession({ ...args, channel: id, journal: args.journal }, ctx, deps);
      } catch (e) {
        // One channel the node does not serve does not stop a payment another channel can start.
        if (!(e instanceof TaskError) || mine.length === 1) throw e;
        print(`  your channel ${id} is not a first hop now: ${e.message}`);
        continue;
      }
      let hop: FirstHop;
      try {
        hop = await firstHop(session, deps, log, clock);
      } catch (e) {
        await session.journal.close();
        throw e;
      }
      hops.set(id, hop);
      await addOwnEdge(graph, hop, now, a);
    }
    if (hops.size === 0) {
      throw new TaskError(
        mine.length === 0
          ? `you (${payer}) have no open channel in ${a.name} on this deployment: open one to a forwarder first (channel:open), then pay the invoice`
          : `none of your ${mine.length} open channels in ${a.name} can start the payment now (above, why)`,
      );
    }
    for (const hop of hops.values()) {
      if (hop.unapplied > 0)
        print(
          `  journal ${hop.session.journalPath}: ${hop.unapplied} transfer(s) the node has not applied yet are sent again as they are before any new LOCK`,
        );
      const resent = await hop.transport.resume();
      if (resent > 0) print(`  sent ${resent} journaled transfer(s) of an earlier run first`);
    }
    const keys = routingKeys(signed, updates);
    const transport: PaymentTransport = {
      sendAttempt: async (attempt) => {
        const hop = hops.get(attempt.firstHopLock.channelId.toLowerCase() as Hash);
        if (!hop)
          throw new TaskError(
            `the route starts on channel ${attempt.firstHopLock.channelId}, not one of yours`,
          );
        return hop.transport.sendAttempt(attempt);
      },
    };
    print(
      `paying invoice ${signed.invoiceId}: ${amountWords(inv.amount, a)} to ${inv.payee} as ${payer}` +
        (maxFee === undefined ? ", fee limit 1% of the amount" : `, fee at most ${amountWords(maxFee, a)}`) +
        `, giving up after ${timeout} s`,
    );
    let result: PaymentResult;
    try {
      result = await pay(
        signed,
        { maxFee, timeoutMs: timeout * MS_PER_SECOND, onStatus: (e) => printEvent(e, a) },
        {
          graph,
          missionControl: new MissionControl(),
          source: payer,
          domain: ctx.domain,
          routingKeyOf: (n) => keys.get(n.toLowerCase()),
          transport,
          now: clock,
        },
      );
    } catch (e) {
      throw new TaskError(`the payment failed: ${failureWords(e, a)}`, e);
    }
    const first = hops.get(result.route.hops[0].channelId.toLowerCase() as Hash);
    print(
      `paid ${amountWords(result.amount, a)} to ${inv.payee} in ${(result.durationMs / MS_PER_SECOND).toFixed(1)} s, ` +
        `${result.attempts} attempt(s); fee ${amountWords(result.fee, a)}, ${result.route.hops.length} hop(s)`,
    );
    print(`receipt (proof of payment): preimage ${result.preimage}`);
    print(`  sha256(preimage) = ${sha256(result.preimage)} = the invoice's hashlock`);
    return { ...result, journal: first?.session.journalPath ?? "" };
  } finally {
    await kafkaLog.close();
    await client.close().catch(() => undefined);
    for (const hop of hops.values()) await hop.session.journal.close();
  }
}
