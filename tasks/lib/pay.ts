/**
 * channel:pay and payment:status (tasks/pay.ts defines the tasks and loads this on use). A direct payment:
 * the payer's next PAY is built from its journal (protocol §10: journaled, fsynced, before it is released),
 * checked against what the payer can pay now, written to the channel's partition of the transfers topic,
 * and followed until the node applies it or dead-letters it. A transfer journaled but never sent (a crash)
 * or refused since its last send is sent again as it is: a seq is never signed twice.
 */
import fs from "node:fs";
import type { HardhatRuntimeEnvironment } from "hardhat/types";
import {
  nodePayerViews,
  relayerClient,
  sideOf,
  type ChannelWithViews,
  type NodePayerView,
  type RelayerClient,
} from "../../client";
import {
  GENESIS_STATE,
  TRANSFER_KIND_NAMES,
  TransferKind,
  buildTransfer,
  channelBalances,
  journaledTransferSigner,
  memoryJournal,
  onchainHeads,
  signTransfer,
  type ChannelBalances,
  type Domain,
  type Hash,
  type JournalEntry,
  type ParsecSigner,
  type PayerIndex,
  type PayerState,
  type SignedTransfer,
} from "../../sdk";
import { amountArg, findChannel, readContext, type ReadContext } from "./context";
import { TaskError, toTaskError } from "./errors";
import { MS_PER_SECOND, amountWords, assetWords, keyOrAccount, type AssetWords } from "./invoice";
import type { KafkaArgs } from "./kafka";
import { print } from "./output";
import {
  type HeldJournal,
  type PayerHistory,
  defaultJournalPath,
  openJournal,
  readPayerHistory,
  readSent,
  recordSent,
  sentLogPath,
  type SentRecord,
} from "./pay-journal";
import {
  kafkaTransport,
  type DeadLetterMark,
  type SentTransfer,
  type TransferDeadLetter,
  type TransferTransport,
} from "./pay-transport";

/** The node's read API when neither --relayer nor PARSEC_RELAYER_URL names one (the node's default). */
export const DEFAULT_RELAYER_URL = "http://127.0.0.1:8787";
/** How often --wait asks the node and the dead-letter topic. */
const POLL_MS = 250;

/** What a payment task's lib needs from outside; tests replace the transport. */
export interface PayDeps {
  readonly node: RelayerClient;
  /** Opened only when something is sent or dead letters are read. */
  readonly transport: () => Promise<TransferTransport>;
}

/** The arguments both tasks share. */
export interface PayerArgs extends KafkaArgs {
  readonly deployment: string;
  readonly channel: string;
  readonly from: string;
  readonly key: string;
  readonly journal: string;
  readonly relayer: string;
}

export interface PayArgs extends PayerArgs {
  readonly amount: string;
  /** Seconds to wait for the node to apply it (0: send only). */
  readonly wait: number;
}

export interface StatusArgs extends PayerArgs {
  /** Only this seq (0 or absent: every journaled transfer). */
  readonly seq?: number;
}

/**
 * What became of a payment: applied, sent and not applied yet (or not waited for), or an earlier journaled
 * transfer was sent again instead (the new payment not made). A dead-lettered one throws with its reason.
 */
export type PayOutcome = "applied" | "sent" | "resent-earlier";

export interface PayResult {
  readonly outcome: PayOutcome;
  /** The transfer this run signed, or the earlier one it re-sent. */
  readonly transfer: SignedTransfer;
  /** Whether this run signed it (false: it was in the journal already). */
  readonly signedNow: boolean;
  readonly journal: string;
  readonly sent: readonly SentTransfer[];
  /** From the start of the run until it was applied (or the wait ended). */
  readonly elapsedMs: number;
}

/** The default dependencies: the node's HTTP API and Kafka as the node's config names it. */
export function defaultDeps(args: Partial<KafkaArgs> & { relayer?: string }, domain: Domain): PayDeps {
  return {
    node: relayerClient(args.relayer || process.env.PARSEC_RELAYER_URL || DEFAULT_RELAYER_URL),
    transport: () => kafkaTransport(args, domain),
  };
}

/** Everything both tasks resolve first: the channel, the payer, its journal, the node's view. */
export interface Session {
  readonly ctx: ReadContext;
  readonly channel: ChannelWithViews;
  readonly signer: ParsecSigner;
  readonly payer: PayerIndex;
  readonly asset: AssetWords;
  readonly journalPath: string;
  readonly journal: HeldJournal;
  readonly node: readonly [NodePayerView, NodePayerView];
}

/** `readOnly`: a missing journal is read as empty and not created (payment:status changes nothing). */
export async function openSession(
  args: PayerArgs,
  ctx: ReadContext,
  deps: PayDeps,
  readOnly = false,
): Promise<Session> {
  const channel = await findChannel(ctx, args.channel);
  const signer = await keyOrAccount(args, ctx);
  const payer = sideOf(channel.params, signer.address);
  if (payer === null) {
    throw new TaskError(
      `${signer.address} is not a participant of channel ${channel.channelId} (P0 ${channel.params.participant0}, P1 ${channel.params.participant1}): give --from or --key of one of them`,
    );
  }
  const asset = await assetWords(ctx, channel.params.asset);
  const journalPath =
    args.journal || defaultJournalPath(ctx.deployment.chainId, channel.channelId, signer.address);
  const node = await nodeView(deps.node, channel.channelId);
  const journal =
    readOnly && !fs.existsSync(journalPath)
      ? { ...memoryJournal(), close: () => Promise.resolve() }
      : await openJournal(journalPath);
  return {
    ctx,
    channel,
    signer,
    payer,
    asset,
    journalPath,
    journal,
    node,
  };
}

async function nodeView(
  node: RelayerClient,
  channelId: Hash,
): Promise<readonly [NodePayerView, NodePayerView]> {
  let raw;
  try {
    raw = await node.channel(channelId);
  } catch (e) {
    throw toTaskError(
      `asking the node what it applied (it is how a payment is confirmed and what you received is known; --relayer or PARSEC_RELAYER_URL)`,
      e,
    );
  }
  if (!raw) {
    throw new TaskError(
      `the node at ${node.url} answers 404 for channel ${channelId}: it is not open on the node's contract (check --deployment, or wait for the node to index it) or another node of its group holds it (give that node's --relayer)`,
    );
  }
  const views = nodePayerViews(raw.raw);
  if (!views) {
    throw new TaskError(
      `the node at ${node.url} does not hold channel ${channelId}'s state (another node of its group does, or it predates payers in GET /channels/:id): give that node's --relayer`,
    );
  }
  return views;
}

export const other = (p: PayerIndex): PayerIndex => (p === 0 ? 1 : 0);
/** The payer's seq the chain holds (checkpoint or proven head, whichever is higher). */
const onchainSeqOf = (s: Session): number => (s.payer === 0 ? s.channel.seq0 : s.channel.seq1);
export const historyOf = (s: Session): Promise<PayerHistory> =>
  readPayerHistory(s.journal, s.channel.channelId, s.payer, s.journalPath, onchainSeqOf(s));
export const availableOf = (b: ChannelBalances, p: PayerIndex): bigint =>
  p === 0 ? b.available0 : b.available1;

/** "seq 3 PAY 0.5 ETH (500… base units)". */
function transferWords(e: Pick<JournalEntry, "seq" | "transfer">, a: AssetWords): string {
  return `seq ${e.seq} ${TRANSFER_KIND_NAMES[e.transfer.kind]} ${amountWords(e.transfer.amount, a)}`;
}

/**
 * Starts an empty journal from the node's copy of the payer's chain, only where the node's head of it is
 * the head the chain holds (seq 0 at the channel's start; else checked against the checkpoint commitment
 * or proven head through the node's evidence, whose signatures are checked too). A node ahead of the
 * chain may hold transfers of a lost journal's that the chain cannot confirm: refused.
 */
export async function bootstrap(s: Session, deps: PayDeps): Promise<PayerHistory> {
  const mine = s.node[s.payer];
  const onchainSeq = onchainSeqOf(s);
  const held = Math.max(mine.seq, ...mine.waitingInWindow);
  if (held !== onchainSeq) {
    throw new TaskError(
      `the journal ${s.journalPath} holds none of your transfers, but the node holds your chain to seq ${held} and the chain to seq ${onchainSeq}: ` +
        `they were signed with another journal, and starting one from the node's copy is safe only where it is the chain's head (signing seq ${held + 1} from an empty journal could sign a second transfer for a seq you used: equivocation forfeits the channel). ` +
        `Give that journal with --journal, or pay once the node's head of your chain is on-chain (a checkpoint)`,
    );
  }
  if (mine.seq === 0) {
    print(
      `  no journal of yours for this channel: starting ${s.journalPath} from the channel's start (the node and the chain both hold no transfer of yours)`,
    );
    return { entries: [], baseSeq: 0, state: GENESIS_STATE };
  }
  let evidence;
  try {
    evidence = await deps.node.evidence(s.channel.channelId, s.ctx.domain);
  } catch (e) {
    throw toTaskError(`reading the node's evidence to start the journal ${s.journalPath}`, e);
  }
  let heads;
  try {
    heads = onchainHeads(evidence.ledger, s.channel.words);
  } catch (e) {
    throw new TaskError(
      `the node's copy of the channel does not open the state the chain holds (${(e as Error).message}): the journal ${s.journalPath} cannot be started from it`,
      e,
    );
  }
  const [seq, head] = s.payer === 0 ? [heads.seq0, heads.head0] : [heads.seq1, heads.head1];
  if (seq !== mine.seq || head !== mine.head || evidence.ledger.state(s.payer).seq !== mine.seq) {
    throw new TaskError(
      `the node's head of your chain (seq ${mine.seq}, ${mine.head}) is not the chain's (seq ${seq}, ${head}): the journal ${s.journalPath} cannot be started from it`,
    );
  }
  // The node keeps your chain from its on-chain head on; the journal starts there (or at seq 1).
  const ledger = evidence.ledger;
  const baseSeq = ledger.baseSeq(s.payer);
  if (baseSeq > 0 && ledger.stateAt(s.payer, baseSeq).lockedTotal !== 0n) {
    throw new TaskError(
      `your seq ${baseSeq} the chain holds has pending locks: a journal cannot start there; give the journal that signed it with --journal`,
    );
  }
  const copies = [...(baseSeq > 0 ? [ledger.transfer(s.payer, baseSeq)] : []), ...ledger.transfers(s.payer)];
  for (const t of copies) {
    const { signature, hash, ...transfer } = t;
    await s.journal.record({
      channelId: s.channel.channelId,
      payer: s.payer,
      seq: t.seq,
      transferHash: hash,
      transfer,
      signature,
    });
  }
  print(
    `  no journal of yours for this channel: the node's head of your chain is the one the chain holds (seq ${mine.seq}, ${mine.head}), ` +
      `so ${s.journalPath} starts from the node's copy of your signed transfer(s) ${copies[0].seq} to ${mine.seq} (signatures checked)`,
  );
  return historyOf(s);
}

/**
 * Checks the journal against the node before anything is signed. The node may be behind the journal
 * (transfers not sent or not applied yet) but never ahead of it nor on another head: then this journal is
 * not the one that signed the node's transfers, and signing from it would equivocate.
 */
export function checkAgainstNode(s: Session, entries: readonly JournalEntry[]): void {
  const mine = s.node[s.payer];
  const top = entries.length === 0 ? 0 : entries[entries.length - 1].seq;
  if (mine.seq > top || mine.waitingInWindow.some((seq) => seq > top)) {
    throw new TaskError(
      `the node holds your transfers to seq ${Math.max(mine.seq, ...mine.waitingInWindow)} but the journal ${s.journalPath} only to seq ${top}: ` +
        `some were signed elsewhere; signing seq ${top + 1} from this journal could equivocate. Give the journal that signed them with --journal`,
    );
  }
  const atNodeHead = entries.find((e) => e.seq === mine.seq);
  if (atNodeHead && atNodeHead.transferHash !== mine.head) {
    throw new TaskError(
      `the node's head of your chain at seq ${mine.seq} is ${mine.head}, the journal ${s.journalPath} holds ${atNodeHead.transferHash}: ` +
        `two different transfers exist for that seq; stop paying from this channel and close it (channel:close)`,
    );
  }
}

/** A journaled transfer with its signature (one the node holds was signed). */
function signedOf(entry: JournalEntry, where: string): SignedTransfer {
  if (entry.signature === undefined)
    throw new TaskError(
      `seq ${entry.seq} in ${where} has no signature but the node holds it: the journal is damaged`,
    );
  return { ...entry.transfer, signature: entry.signature };
}

/** Signs (if only its intent was journaled) and sends one journaled transfer; records the send. */
async function sendEntry(
  s: Session,
  transport: TransferTransport,
  entry: JournalEntry,
): Promise<{ signed: SignedTransfer; sent: SentTransfer }> {
  const signed: SignedTransfer =
    entry.signature !== undefined
      ? { ...entry.transfer, signature: entry.signature }
      : await signTransfer(journaledTransferSigner(s.signer, s.journal), s.ctx.domain, entry.transfer);
  let sent: SentTransfer;
  try {
    sent = await transport.send(signed, s.signer.address);
  } catch (e) {
    throw new TaskError(
      `${transferWords(entry, s.asset)} is signed and journaled in ${s.journalPath} but could not be sent (${(e as Error).message}): ` +
        `run channel:pay again to send the same transfer (it is never signed twice)`,
      e,
    );
  }
  const record: SentRecord = {
    channelId: s.channel.channelId,
    payer: s.payer,
    seq: entry.seq,
    transferHash: entry.transferHash,
    ...sent,
  };
  await recordSent(sentLogPath(s.journalPath), record).catch((e: Error) =>
    print(`  (the sent log ${sentLogPath(s.journalPath)} could not be written: ${e.message})`),
  );
  print(
    `  sent ${transferWords(entry, s.asset)} to ${sent.topic} partition ${sent.partition} offset ${sent.offset}`,
  );
  return { signed, sent };
}

/** The balances now: the payer's journaled state, the counterparty's at the node, the chain's deposits. */
export function balancesWith(s: Session, mine: PayerState): ChannelBalances {
  const theirs = s.node[other(s.payer)];
  const [s0, s1] = s.payer === 0 ? [mine, theirs] : [theirs, mine];
  return channelBalances(s.channel.deposit0, s.channel.deposit1, s0, s1);
}

/** The refusal of a payment larger than what the payer can pay now, with the sum in words. */
function overspend(s: Session, mine: PayerState, amount: bigint): TaskError {
  const b = balancesWith(s, mine);
  const p = s.payer;
  const deposit = p === 0 ? b.deposit0 : b.deposit1;
  const received = p === 0 ? b.paid1 : b.paid0;
  const can = availableOf(b, p);
  const f = (v: bigint) => amountWords(v, s.asset);
  return new TaskError(
    `you (P${p}) can pay at most ${f(can < 0n ? 0n : can)} now: deposit ${f(deposit)} − paid ${f(mine.paidTotal)} − locked ${f(mine.lockedTotal)} + received ${f(received)}; ` +
      `this payment of ${f(amount)} is ${f(amount - can)} more. Pay less, or deposit more first (channel:deposit)`,
  );
}

/**
 * Waits up to `seconds` for the node to apply payer's `seq`, or for a dead letter of that transfer.
 */
async function follow(
  s: Session,
  deps: PayDeps,
  transport: TransferTransport,
  entry: JournalEntry,
  since: DeadLetterMark,
  seconds: number,
): Promise<{ applied: boolean; deadLetter: TransferDeadLetter | null }> {
  const deadline = Date.now() + seconds * MS_PER_SECOND;
  for (;;) {
    // A node that does not answer for a moment (a restart) is asked again until the wait ends.
    const views = nodePayerViews((await deps.node.channel(s.channel.channelId).catch(() => null))?.raw);
    if (views && views[s.payer].seq >= entry.seq) return { applied: true, deadLetter: null };
    const refused = (await transport.deadLetters(s.channel.channelId, since)).find(
      (d) => d.payer === s.payer && d.seq === entry.seq && d.transferHash === entry.transferHash,
    );
    if (refused) return { applied: false, deadLetter: refused };
    if (Date.now() >= deadline) return { applied: false, deadLetter: null };
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

/** channel:pay. */
export async function runPay(
  args: PayArgs,
  hre: HardhatRuntimeEnvironment,
  overrides: Partial<PayDeps> = {},
): Promise<PayResult> {
  const started = Date.now();
  const ctx = await readContext(hre, { deployment: args.deployment });
  const deps: PayDeps = { ...defaultDeps(args, ctx.domain), ...overrides };
  const s = await openSession(args, ctx, deps);
  let transport: TransferTransport | null = null;
  try {
    if (s.channel.status !== "OPEN") {
      throw new TaskError(
        `channel ${s.channel.channelId} is ${s.channel.status.toLowerCase()}: payments are made in an open channel only`,
      );
    }
    const amount = amountArg("amount", args.amount, s.asset.decimals);
    const mine = s.node[s.payer];
    const f = (v: bigint) => amountWords(v, s.asset);
    print(
      `paying ${f(amount)} in channel ${s.channel.channelId} as P${s.payer} ${s.signer.address} to P${other(s.payer)} ${s.payer === 0 ? s.channel.params.participant1 : s.channel.params.participant0} (direct: no route, no fee)`,
    );
    let history = await historyOf(s);
    if (history.entries.length === 0) history = await bootstrap(s, deps);
    else checkAgainstNode(s, history.entries);
    print(
      `  journal ${s.journalPath}: your chain to seq ${history.state.seq}; the node applied it to seq ${mine.seq}`,
    );
    // Journaled transfers the node has not applied. Held in its window or sent and not refused: in
    // flight, a new payment builds on them. Never sent (a crash between journal and send) or refused
    // since their last send: sent again as they are, before anything new.
    const unapplied = history.entries.filter((e) => e.seq > mine.seq);
    const sent: SentTransfer[] = [];
    let since: DeadLetterMark | null = null;
    let repair: { readonly entry: JournalEntry; readonly signed: SignedTransfer } | null = null;
    if (unapplied.length > 0) {
      transport = await deps.transport();
      since = await transport.mark();
      const sentLog = await readSent(sentLogPath(s.journalPath));
      const lastSentAt = (e: JournalEntry): number | null => {
        const list = sentLog.get(e.transferHash) ?? [];
        return list.length > 0 ? list[list.length - 1].sentAtMs : null;
      };
      const outside = unapplied.filter((e) => !mine.waitingInWindow.includes(e.seq));
      const refusals = outside.some((e) => lastSentAt(e) !== null)
        ? await transport.deadLetters(s.channel.channelId)
        : [];
      const refusalOf = (e: JournalEntry): TransferDeadLetter | undefined => {
        const at = lastSentAt(e);
        return refusals.find((d) => d.transferHash === e.transferHash && at !== null && d.failedAtMs >= at);
      };
      const toSend = outside.filter((e) => lastSentAt(e) === null || refusalOf(e) !== undefined);
      for (const e of unapplied.filter((x) => !toSend.includes(x))) {
        print(
          `  ${transferWords(e, s.asset)} is in flight (${mine.waitingInWindow.includes(e.seq) ? "held in the node's window" : "sent, not applied yet"}): this payment builds on it`,
        );
      }
      let last: SignedTransfer | null = null;
      for (const e of toSend) {
        const refused = refusalOf(e);
        print(
          refused
            ? `  ${transferWords(e, s.asset)} was refused by the node (${refused.reason}) after it was last sent: sending the same signed transfer again, not a new one`
            : `  ${transferWords(e, s.asset)} was journaled by an earlier run and never sent: sending the same ${e.signature ? "signed transfer" : "transfer (its signing was interrupted; the same transfer is signed again)"}, not a new one`,
        );
        const done = await sendEntry(s, transport, e);
        sent.push(done.sent);
        last = done.signed;
      }
      const top = unapplied[unapplied.length - 1];
      if (last !== null) {
        repair = { entry: top, signed: toSend.includes(top) ? last : signedOf(top, s.journalPath) };
        const same =
          toSend.includes(top) && top.transfer.kind === TransferKind.Pay && top.transfer.amount === amount;
        if (same) {
          print(`  that is this payment (${f(amount)}): completed from the journal, not signed again`);
        } else {
          print(
            `  your new payment of ${f(amount)} was NOT made: it would build on transfers the node has not applied; pay again once it applied seq ${top.seq} (payment:status shows it)`,
          );
          const result = await maybeWait(
            s,
            deps,
            transport,
            top,
            repair.signed,
            since,
            args.wait,
            sent,
            false,
            started,
          );
          return { ...result, outcome: result.outcome === "applied" ? "resent-earlier" : result.outcome };
        }
      }
    }
    let entry: JournalEntry;
    let signed: SignedTransfer;
    let signedNow = false;
    if (repair) {
      ({ entry, signed } = repair);
    } else {
      const b = balancesWith(s, history.state);
      if (amount > availableOf(b, s.payer)) throw overspend(s, history.state, amount);
      // Kafka is reached before signing: a broker that does not answer leaves nothing signed.
      transport ??= await deps.transport();
      since ??= await transport.mark();
      const transfer = buildTransfer(
        history.state,
        { channelId: s.channel.channelId, payer: s.payer },
        { kind: "PAY", amount },
      );
      try {
        signed = await signTransfer(journaledTransferSigner(s.signer, s.journal), s.ctx.domain, transfer);
      } catch (e) {
        throw toTaskError(`signing seq ${transfer.seq}`, e);
      }
      signedNow = true;
      const journaled = await s.journal.get(s.channel.channelId, s.payer, transfer.seq);
      if (!journaled) throw new TaskError(`the journal ${s.journalPath} lost seq ${transfer.seq}`);
      entry = journaled;
      print(
        `  signed ${transferWords(entry, s.asset)} (paid total ${f(signed.paidTotal)}) and journaled it (fsynced) in ${s.journalPath} before sending`,
      );
      sent.push((await sendEntry(s, transport, entry)).sent);
    }
    if (!transport || !since) throw new TaskError("no transport was opened to send the payment");
    return await maybeWait(s, deps, transport, entry, signed, since, args.wait, sent, signedNow, started);
  } finally {
    await transport?.close();
    await s.journal.close();
  }
}

async function maybeWait(
  s: Session,
  deps: PayDeps,
  transport: TransferTransport,
  entry: JournalEntry,
  transfer: SignedTransfer,
  since: DeadLetterMark,
  wait: number,
  sent: readonly SentTransfer[],
  signedNow: boolean,
  started: number,
): Promise<PayResult> {
  const base = { transfer, signedNow, journal: s.journalPath, sent };
  if (wait <= 0) {
    print(
      `  not waiting (--wait 0): payment:status --channel ${s.channel.channelId} shows whether the node applied it`,
    );
    return { ...base, outcome: "sent", elapsedMs: Date.now() - started };
  }
  print(`  waiting up to ${wait} s for the node to apply seq ${entry.seq}…`);
  const { applied, deadLetter } = await follow(s, deps, transport, entry, since, wait);
  const elapsedMs = Date.now() - started;
  if (deadLetter) {
    throw new TaskError(
      `the node refused ${transferWords(entry, s.asset)}: ${deadLetter.reason}. ` +
        `It stays journaled as your seq ${entry.seq}: once the cause is fixed, channel:pay sends the same transfer again (a different one for that seq would be an equivocation)`,
    );
  }
  if (!applied) {
    print(
      `  the node has not applied seq ${entry.seq} within ${wait} s: it may be waiting for funds or an earlier seq; payment:status shows it later`,
    );
    return { ...base, outcome: "sent", elapsedMs };
  }
  const views = nodePayerViews((await deps.node.channel(s.channel.channelId))?.raw);
  const lastSent = sent.length > 0 ? sent[sent.length - 1].sentAtMs : started;
  print(
    `  applied by the node: seq ${entry.seq}, ${((Date.now() - lastSent) / MS_PER_SECOND).toFixed(1)} s after it was sent (route: direct, fee 0)`,
  );
  if (views) {
    const b = channelBalances(s.channel.deposit0, s.channel.deposit1, views[0], views[1]);
    print(`  you can pay ${amountWords(availableOf(b, s.payer), s.asset)} more now`);
  }
  return { ...base, outcome: "applied", elapsedMs };
}

// ---------------------------------------------------------------- payment:status

/** What became of one journaled transfer. */
export type TransferFate = "applied" | "waiting" | "sent" | "dead-lettered" | "not-sent";

export interface StatusLine {
  readonly seq: number;
  readonly kind: string;
  readonly amount: bigint;
  /** When it was last sent (ms), null when never. */
  readonly sentAtMs: number | null;
  readonly fate: TransferFate;
  readonly reason: string | null;
}

export interface StatusResult {
  readonly journal: string;
  readonly lines: readonly StatusLine[];
  readonly balances: ChannelBalances;
}

/** payment:status. */
export async function runStatus(
  args: StatusArgs,
  hre: HardhatRuntimeEnvironment,
  overrides: Partial<PayDeps> = {},
): Promise<StatusResult> {
  const ctx = await readContext(hre, { deployment: args.deployment });
  const deps: PayDeps = { ...defaultDeps(args, ctx.domain), ...overrides };
  const s = await openSession(args, ctx, deps, true);
  let transport: TransferTransport | null = null;
  try {
    const history = await historyOf(s);
    const mine = s.node[s.payer];
    const wanted = args.seq ? history.entries.filter((e) => e.seq === args.seq) : history.entries;
    if (args.seq && wanted.length === 0) {
      throw new TaskError(
        `the journal ${s.journalPath} holds no transfer seq ${args.seq} of yours (it holds seqs ${history.entries[0]?.seq ?? 0} to ${history.state.seq})`,
      );
    }
    const sentLog = await readSent(sentLogPath(s.journalPath));
    const needDeadLetters = wanted.some((e) => e.seq > mine.seq);
    let deadLetters: readonly TransferDeadLetter[] = [];
    let deadLetterNote = "";
    if (needDeadLetters) {
      try {
        transport = await deps.transport();
        deadLetters = await transport.deadLetters(s.channel.channelId);
      } catch (e) {
        deadLetterNote = ` (dead letters not read: ${(e as Error).message})`;
      }
    }
    print(
      `payments of P${s.payer} ${s.signer.address} in channel ${s.channel.channelId} (journal ${s.journalPath}): ${history.entries.length} journaled; the node applied your chain to seq ${mine.seq}${deadLetterNote}`,
    );
    const lines: StatusLine[] = [];
    for (const e of wanted) {
      const sends = sentLog.get(e.transferHash) ?? [];
      const sentAtMs = sends.length > 0 ? sends[sends.length - 1].sentAtMs : null;
      const refused = deadLetters.filter((d) => d.payer === s.payer && d.transferHash === e.transferHash);
      const lastRefusal = refused.length > 0 ? refused[refused.length - 1] : null;
      let fate: TransferFate;
      let words: string;
      if (e.seq <= mine.seq) {
        fate = "applied";
        words = "applied by the node";
      } else if (mine.waitingInWindow.includes(e.seq)) {
        fate = "waiting";
        words = "pending: the node holds it in its window (an earlier seq is missing, or it waits for funds)";
      } else if (lastRefusal && (sentAtMs === null || lastRefusal.failedAtMs >= sentAtMs)) {
        fate = "dead-lettered";
        words = `dead-lettered at ${new Date(lastRefusal.failedAtMs).toISOString()}: ${lastRefusal.reason}; fix the cause, then channel:pay sends it again`;
      } else if (sentAtMs !== null) {
        fate = "sent";
        words = "pending: sent, not applied yet";
      } else {
        fate = "not-sent";
        words = "journaled but never sent: channel:pay sends it";
      }
      // A transfer copied from the node into a started journal was sent by the wallet that signed it.
      const when =
        sentAtMs !== null
          ? `sent ${new Date(sentAtMs).toISOString()}`
          : fate === "not-sent"
            ? "not sent"
            : "sent from elsewhere (no send recorded here)";
      print(`  ${transferWords(e, s.asset)}, ${when}: ${words}`);
      lines.push({
        seq: e.seq,
        kind: TRANSFER_KIND_NAMES[e.transfer.kind],
        amount: e.transfer.amount,
        sentAtMs,
        fate,
        reason: fate === "dead-lettered" && lastRefusal ? lastRefusal.reason : null,
      });
    }
    // The node's view of both chains (what it applied), with the chain's deposits.
    const balances = channelBalances(s.channel.deposit0, s.channel.deposit1, s.node[0], s.node[1]);
    const f = (v: bigint) => amountWords(v < 0n ? 0n : v, s.asset);
    const me = s.payer;
    const them = other(me);
    print(`balances now (deposits on-chain, transfers the node applied):`);
    print(
      `  you (P${me}) can send ${f(availableOf(balances, me))} and receive ${f(availableOf(balances, them))}`,
    );
    print(
      `  the counterparty (P${them}) can send ${f(availableOf(balances, them))} and receive ${f(availableOf(balances, me))}`,
    );
    print(
      `  held in pending locks: yours ${f(me === 0 ? balances.locked0 : balances.locked1)}, theirs ${f(them === 0 ? balances.locked0 : balances.locked1)}`,
    );
    return { journal: s.journalPath, lines, balances };
  } finally {
    await transport?.close();
    await s.journal.close();
  }
}
