/**
 * The work of invoice:create and invoice:show (tasks/invoice.ts defines them and loads this on use): create
 * a signed routed invoice (protocol §11.1) with hints from the channel graph (`./graph`) and keep its secret
 * in a file; show an invoice in words. The SDK does the protocol; this module reads the chain and prints.
 * route:find is in `./route`.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { HardhatRuntimeEnvironment } from "hardhat/types";
import {
  ZERO_ADDRESS,
  createRoutedInvoice,
  isParsecError,
  localSigner,
  parseRoutedInvoice,
  walletSigner,
  type Address,
  type ChannelDirection,
  type ChannelGraph,
  type Eip1193Provider,
  type Hash,
  type Hex,
  type OpenChannel,
  type ParsecError,
  type ParsecSigner,
  type RouteHintInput,
  type SignedRoutedInvoice,
} from "../../sdk";
import {
  amountArg,
  assetInfo,
  findChannel,
  formatAmount,
  parsecContext,
  readContext,
  type ReadContext,
} from "./context";
import { TaskError } from "./errors";
import { graphReportWords, loadGraph, openChannels, type GraphArgs } from "./graph";
import { print } from "./output";

const MINUTE = 60;
const HOUR = 3_600;
const DAY = 86_400;

// ---------------------------------------------------------------- words

/** 540 → "9 minutes"; whole units, rounded down, so "expired 9 minutes ago" never overstates. */
export function durationWords(seconds: bigint): string {
  const s = Number(seconds < 0n ? -seconds : seconds);
  const unit = (n: number, name: string) => `${n} ${name}${n === 1 ? "" : "s"}`;
  if (s < 2 * MINUTE) return unit(s, "second");
  if (s < 2 * HOUR) return unit(Math.floor(s / MINUTE), "minute");
  if (s < 2 * DAY) return unit(Math.floor(s / HOUR), "hour");
  return unit(Math.floor(s / DAY), "day");
}

/** Unix seconds as an ISO time without milliseconds. */
export function iso(unixSeconds: bigint): string {
  return new Date(Number(unixSeconds) * 1000).toISOString().replace(".000Z", "Z");
}

/** "expires 2026-…Z, in 59 minutes" or "expired 9 minutes ago (2026-…Z)". */
export function expiryWords(expiry: bigint, now: bigint): string {
  return now < expiry
    ? `expires ${iso(expiry)}, in ${durationWords(expiry - now)}`
    : `expired ${durationWords(now - expiry)} ago (${iso(expiry)})`;
}

export interface AssetWords {
  readonly decimals: number;
  readonly symbol: string;
  /** "ETH", or "TST (token 0x…)". */
  readonly name: string;
}

/** The asset's decimals and symbol, and how to name it. */
export async function assetWords(ctx: ReadContext, asset: Address): Promise<AssetWords> {
  const { decimals, symbol } = await assetInfo(ctx, asset);
  return { decimals, symbol, name: asset === ZERO_ADDRESS ? "ETH" : `${symbol} (token ${asset})` };
}

/** "0.001 ETH (1000000000000000 base units)". */
export function amountWords(value: bigint, a: AssetWords): string {
  return `${formatAmount(value, a.decimals, a.symbol)} (${value} base units)`;
}

/** The invoice's fields, one line each, as invoice:create and invoice:show print them. */
function printInvoice(signed: SignedRoutedInvoice, a: AssetWords, now: bigint): void {
  const inv = signed.invoice;
  print(`  invoice id ${signed.invoiceId} (version ${inv.version}), signed by its payee`);
  print(
    `  payee ${inv.payee}${inv.payeeNode !== inv.payee ? `, paid through its node ${inv.payeeNode}` : ""}`,
  );
  print(`  amount ${amountWords(inv.amount, a)}${inv.asset === ZERO_ADDRESS ? "" : `, asset ${a.name}`}`);
  print(`  description ${inv.description ? JSON.stringify(inv.description) : "(none)"}`);
  print(`  created ${iso(inv.createdAt)}, ${expiryWords(inv.expiry, now)}`);
  print(
    `  the last lock must stay open ${inv.minFinalExpiryDelta} s after it reaches the payee; hashlock ${inv.hashlock}`,
  );
  print(`  for chain ${inv.domain.chainId}, ParsecChannels ${inv.domain.verifyingContract}`);
  if (inv.hints.length === 0) print("  no route hints");
  inv.hints.forEach((h, i) =>
    print(
      `  route hint ${i + 1}: ${h.node} forwards to ${inv.payeeNode} over channel ${h.channelId}, ` +
        `fee ${formatAmount(h.feeBase, a.decimals, a.symbol)} + ${h.feePpm} ppm, expiry delta ${h.expiryDelta} s`,
    ),
  );
}

/** What is wrong with an invoice that does not parse, from the SDK's typed error. */
function invoiceProblem(e: ParsecError): string {
  switch (e.code) {
    case "InvoiceChecksum":
      return "its checksum fails";
    case "BadSignature":
      return "its signature is not its payee's";
    case "WrongDomain":
      return "it is for another deployment";
    case "InvoiceExpired":
      return "it has expired";
    case "Malformed":
    case "Overflow":
      return "it is malformed";
    default:
      return "it is not valid";
  }
}

/** `--invoice` parsed and verified for this deployment at `now`, or what is wrong with it in words. */
export function parseInvoiceArg(
  text: string,
  ctx: ReadContext,
  now: bigint,
  allowExpired: boolean,
): SignedRoutedInvoice {
  if (!text.trim()) throw new TaskError("give --invoice parsec1… (the text invoice:create printed)");
  try {
    return parseRoutedInvoice(text, { domain: ctx.domain, now, allowExpired });
  } catch (e) {
    if (!isParsecError(e)) throw e;
    throw new TaskError(`the invoice is refused: ${invoiceProblem(e)} (${e.code}). ${e.message}`, e);
  }
}

/** Milliseconds in a second. */
export const MS_PER_SECOND = 1000;

/** The latest block's time: what locks and invoices expire by. */
export async function chainNow(ctx: ReadContext): Promise<bigint> {
  return BigInt((await ctx.hre.ethers.provider.getBlock("latest"))?.timestamp ?? 0);
}

/**
 * A clock in Unix ms that runs with the chain: the wall clock shifted by the chain's lead (a development
 * chain can be hours ahead after time travel). Nodes judge lock expiries in chain time, so payers and
 * payees compute them in it too.
 */
export async function chainClock(ctx: ReadContext): Promise<() => number> {
  const leadMs = Number(await chainNow(ctx)) * MS_PER_SECOND - Date.now();
  return () => Date.now() + Math.max(0, leadMs);
}

// ---------------------------------------------------------------- invoice:create

export interface CreateArgs extends GraphArgs {
  readonly deployment: string;
  readonly from: string;
  readonly key: string;
  readonly amount: string;
  readonly asset: string;
  readonly description: string;
  readonly expiry: number;
  readonly finalExpiryDelta: number;
  readonly hint: string;
  readonly secretFile: string;
}

export interface CreateResult {
  readonly text: string;
  readonly invoice: SignedRoutedInvoice;
  /** Where the secret was written (never printed). */
  readonly secretFile: string;
}

/** The signer: `--key`, else the network's account `--from` (index or address, default the first). */
export async function keyOrAccount(
  args: Pick<CreateArgs, "key" | "from" | "deployment">,
  ctx: ReadContext,
): Promise<ParsecSigner> {
  if (args.key) {
    if (args.from) throw new TaskError("give --key or --from, not both");
    if (!/^0x[0-9a-fA-F]{64}$/.test(args.key)) throw new TaskError("--key must be 0x and 64 hex digits");
    return localSigner(args.key as Hex);
  }
  const { signer } = await parsecContext(ctx.hre, { deployment: args.deployment, from: args.from });
  return walletSigner(ctx.hre.network.provider as unknown as Eip1193Provider, signer.address);
}

function channelIds(list: string): Hash[] {
  const ids = list
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  for (const id of ids) {
    if (!/^0x[0-9a-fA-F]{64}$/.test(id))
      throw new TaskError(`--hint takes 32-byte 0x channel ids, comma-separated; got ${JSON.stringify(id)}`);
  }
  return ids.map((id) => id.toLowerCase() as Hash);
}

/**
 * The route hint of a channel into the payee: its other participant forwards to the payee under the
 * ChannelUpdate it announced for that direction, which must be on the graph topic (and valid now).
 */
async function hintFor(
  ctx: ReadContext,
  channelId: Hash,
  payee: Address,
  asset: Address,
  open: ReadonlyMap<Hash, OpenChannel>,
  graph: ChannelGraph,
  topic: string,
): Promise<RouteHintInput> {
  const channel = open.get(channelId);
  if (!channel) {
    await findChannel(ctx, channelId); // says so when the contract never opened it
    throw new TaskError(
      `--hint ${channelId}: the channel is closing or closed; only an open channel forwards to the payee`,
    );
  }
  const { participant0, participant1 } = channel;
  const side = [participant0, participant1].findIndex((p) => p.toLowerCase() === payee.toLowerCase());
  if (side < 0) {
    throw new TaskError(
      `--hint ${channelId}: the payee ${payee} is not a participant (P0 ${participant0}, P1 ${participant1}); a hint is a channel into the payee`,
    );
  }
  if (channel.asset.toLowerCase() !== asset.toLowerCase()) {
    throw new TaskError(
      `--hint ${channelId}: the channel holds ${channel.asset === ZERO_ADDRESS ? "ETH" : `the token ${channel.asset}`}, not the invoice's asset`,
    );
  }
  const node = side === 0 ? participant1 : participant0;
  const direction = (side === 0 ? 1 : 0) as ChannelDirection;
  const edge = graph.edge(channelId, direction);
  if (!edge) {
    throw new TaskError(
      `--hint ${channelId}: ${node} has announced no valid ChannelUpdate for forwarding to the payee over it ` +
        `(direction ${direction}) on ${topic}; a hint carries that announced fee and expiry delta. Ask ${node} ` +
        `to announce its policy for the channel (npx hardhat route:announce --channel ${channelId}), or leave the channel out of --hint`,
    );
  }
  if (edge.disabled) {
    throw new TaskError(
      `--hint ${channelId}: ${node} announced that it forwards nothing to the payee over this channel (disabled); leave it out of --hint`,
    );
  }
  return { channelId, node, feeBase: edge.feeBase, feePpm: edge.feePpm, expiryDelta: edge.expiryDelta };
}

/** Where invoice:create keeps an invoice's secret unless told otherwise. */
export function defaultSecretFile(invoiceId: Hash): string {
  return path.join(os.homedir(), ".parsec", "invoices", `${invoiceId}.secret.json`);
}

function refuseExisting(file: string): void {
  if (fs.existsSync(file)) {
    throw new TaskError(
      `refusing to overwrite ${file}: it may hold another invoice's secret. Choose another --secret-file`,
    );
  }
}

/** Writes the secret file: created exclusively (never over another), readable by its owner only. */
function writeSecretFile(file: string, content: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  let fd: number;
  try {
    fd = fs.openSync(file, "wx", 0o600);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EEXIST") refuseExisting(file);
    throw new TaskError(`cannot write the secret file ${file}: ${(e as Error).message}`);
  }
  try {
    fs.fchmodSync(fd, 0o600); // the mode of `openSync` is narrowed by the umask, never widened: be exact
    fs.writeSync(fd, content);
  } finally {
    fs.closeSync(fd);
  }
}

/** invoice:create: signs a routed invoice for this deployment, keeps the secret in a file, prints the text. */
export async function runCreate(args: CreateArgs, hre: HardhatRuntimeEnvironment): Promise<CreateResult> {
  const ctx = await readContext(hre, args);
  if (!Number.isInteger(args.expiry) || args.expiry <= 0)
    throw new TaskError(`--expiry must be a whole number of seconds > 0, got ${args.expiry}`);
  if (!Number.isInteger(args.finalExpiryDelta) || args.finalExpiryDelta <= 0)
    throw new TaskError(
      `--final-expiry-delta must be a whole number of seconds > 0, got ${args.finalExpiryDelta}`,
    );
  if (args.secretFile) refuseExisting(args.secretFile);
  const signer = await keyOrAccount(args, ctx);
  let asset: Address = ZERO_ADDRESS;
  if (args.asset) {
    const resolved =
      args.asset === "TST" || args.asset === "TestToken" ? ctx.deployment.TestToken : args.asset;
    if (!resolved || !hre.ethers.isAddress(resolved))
      throw new TaskError(`--asset must be a token address (or TST), got ${args.asset}`);
    asset = hre.ethers.getAddress(resolved) as Address;
  }
  const a = await assetWords(ctx, asset);
  const amount = amountArg("amount", args.amount, a.decimals);
  const now = await chainNow(ctx);

  const hintIds = channelIds(args.hint);
  const hints: RouteHintInput[] = [];
  if (hintIds.length > 0) {
    const open = await openChannels(ctx);
    const { graph, report } = await loadGraph(ctx, args, now, open);
    print(`  ${graphReportWords(report)}`);
    for (const id of hintIds)
      hints.push(await hintFor(ctx, id, signer.address, asset, open, graph, report.topic));
  }

  let created: Awaited<ReturnType<typeof createRoutedInvoice>>;
  try {
    created = await createRoutedInvoice({
      domain: ctx.domain,
      signer,
      amount,
      asset,
      description: args.description,
      now,
      validity: args.expiry,
      minFinalExpiryDelta: args.finalExpiryDelta,
      hints,
    });
  } catch (e) {
    if (isParsecError(e)) throw new TaskError(`cannot create the invoice (${e.code}): ${e.message}`, e);
    throw e;
  }
  const { invoice, text, secret } = created;
  const secretFile = args.secretFile || defaultSecretFile(invoice.invoiceId);
  writeSecretFile(
    secretFile,
    JSON.stringify(
      {
        invoiceId: invoice.invoiceId,
        hashlock: invoice.invoice.hashlock,
        secret,
        payee: invoice.invoice.payee,
        amount: invoice.invoice.amount.toString(),
        asset,
        expiry: invoice.invoice.expiry.toString(),
        chainId: invoice.invoice.domain.chainId.toString(),
        verifyingContract: invoice.invoice.domain.verifyingContract,
        invoice: text,
      },
      null,
      2,
    ) + "\n",
  );
  print(`created an invoice for ${formatAmount(amount, a.decimals, a.symbol)} to ${signer.address}`);
  printInvoice(invoice, a, now);
  print(`invoice: ${text}`);
  print(
    `secret kept in ${secretFile} (readable by you only): reveal it only when the last hop's lock reaches you; whoever holds it can claim the payment`,
  );
  return { text, invoice, secretFile };
}

// ---------------------------------------------------------------- invoice:show

export interface ShowArgs {
  readonly deployment: string;
  readonly invoice: string;
}

export interface ShowResult {
  readonly invoice: SignedRoutedInvoice;
  readonly expired: boolean;
}

/** invoice:show: parses and verifies an invoice for this deployment and prints it in words. */
export async function runShow(args: ShowArgs, hre: HardhatRuntimeEnvironment): Promise<ShowResult> {
  const ctx = await readContext(hre, args);
  const now = await chainNow(ctx);
  const signed = parseInvoiceArg(args.invoice, ctx, now, true);
  const a = await assetWords(ctx, signed.invoice.asset);
  const expired = now >= signed.invoice.expiry;
  print(
    `invoice for ${formatAmount(signed.invoice.amount, a.decimals, a.symbol)} to ${signed.invoice.payee}: ` +
      (expired ? "EXPIRED, ask the payee for a new one" : "valid for this deployment"),
  );
  printInvoice(signed, a, now);
  return { invoice: signed, expired };
}
