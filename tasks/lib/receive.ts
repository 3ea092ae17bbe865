/**
 * invoice:receive (tasks/invoice.ts defines it and loads this on use): the payee's side of routed payments
 * (protocol §11.6) from a terminal. Runs the client's `receivePayments` over the Kafka payment log for the
 * payee's open channels in the invoice's asset, with the secrets invoice:create kept (the given secret file
 * and the other secret files of its folder that are this payee's on this deployment, so a LOCK of an
 * earlier invoice replayed from the log is answered as before). Prints each routed LOCK as it is answered,
 * and returns once the given invoice is paid, or says so when the wait ends first.
 */
import fs from "node:fs";
import path from "node:path";
import { HDNodeWallet, Wallet, sha256 } from "ethers";
import type { HardhatRuntimeEnvironment } from "hardhat/types";
import { receivePayments, type IssuedInvoice, type PayeeChannel, type PayeeEvent } from "../../client";
import {
  OnionFailureCode,
  localSigner,
  signPaymentMessage,
  verifyPaymentMessage,
  type Address,
  type Hash,
  type Hex,
  type SignedRoutedInvoice,
} from "../../sdk";
import { findChannel, readContext, type ReadContext } from "./context";
import { TaskError } from "./errors";
import { openChannels } from "./graph";
import {
  MS_PER_SECOND,
  amountWords,
  assetWords,
  chainClock,
  chainNow,
  defaultSecretFile,
  parseInvoiceArg,
  type AssetWords,
} from "./invoice";
import { kafkaTarget, openLog, type KafkaArgs } from "./kafka";
import { print } from "./output";
import { kafkaPaymentLog } from "./payment-kafka";

/** The suffix of the marker written, durably, before an invoice's secret is first shown. */
const REVEALED_SUFFIX = ".revealed";

export interface ReceiveArgs extends KafkaArgs {
  readonly deployment: string;
  readonly from: string;
  readonly key: string;
  readonly invoice: string;
  readonly secretFile: string;
  /** Seconds to wait for the invoice to be paid. */
  readonly timeout: number;
}

/** A routed LOCK the payee answered. */
export interface ReceivedLock {
  readonly channelId: Hash;
  readonly seq: number;
  /** What the LOCK carries (base units); null when it was not seen. */
  readonly amount: bigint | null;
  readonly outcome: "paid" | "refused" | "unanswered";
  readonly invoiceId: Hash | null;
  /** The onion failure code of a refusal. */
  readonly code: number | null;
  readonly reason: string | null;
}

export interface ReceiveResult {
  readonly invoiceId: Hash;
  readonly paid: boolean;
  readonly locks: readonly ReceivedLock[];
}

/** What invoice:create wrote (tasks/lib/invoice.ts `runCreate`). */
interface SecretFile {
  readonly invoiceId: Hash;
  readonly hashlock: Hash;
  readonly secret: Hash;
  readonly payee: Address;
  readonly chainId: string;
  readonly verifyingContract: Address;
  readonly invoice: string;
}

/** The payee's private key: --key, else the Hardhat account --from (its configured key or mnemonic). */
export function payeeKey(args: Pick<ReceiveArgs, "key" | "from">, hre: HardhatRuntimeEnvironment): Hex {
  if (args.key) {
    if (args.from) throw new TaskError("give --key or --from, not both");
    if (!/^0x[0-9a-fA-F]{64}$/.test(args.key)) throw new TaskError("--key must be 0x and 64 hex digits");
    return args.key as Hex;
  }
  const accounts = hre.network.config.accounts;
  let keys: string[] = [];
  if (Array.isArray(accounts)) {
    keys = accounts.map((a) => (typeof a === "string" ? a : a.privateKey));
  } else if (typeof accounts === "object" && "mnemonic" in accounts) {
    for (let i = 0; i < accounts.count; i++) {
      const w = HDNodeWallet.fromPhrase(
        accounts.mnemonic,
        accounts.passphrase,
        `${accounts.path}/${accounts.initialIndex + i}`,
      );
      keys.push(w.privateKey);
    }
  }
  const from = args.from || "0";
  const key = /^\d+$/.test(from)
    ? keys[Number(from)]
    : keys.find((k) => new Wallet(k).address.toLowerCase() === from.toLowerCase());
  if (!key) {
    throw new TaskError(
      `the payee answers with its own key (it signs its answers and opens its onion layer): --from ${from} is not an account whose key this network's config holds; give --key 0x…`,
    );
  }
  return key as Hex;
}

function readSecretFile(file: string): SecretFile {
  let raw: string;
  try {
    raw = fs.readFileSync(file, "utf8");
  } catch (e) {
    throw new TaskError(
      `cannot read the secret file ${file} (${(e as Error).message}): give the file invoice:create wrote with --secret-file`,
    );
  }
  try {
    const s = JSON.parse(raw) as SecretFile;
    if (!s.secret || !s.hashlock || !s.invoice) throw new Error("missing fields");
    return s;
  } catch (e) {
    throw new TaskError(`${file} is not a secret file of invoice:create (${(e as Error).message})`);
  }
}

/** An issued invoice from its secret file, checked: its secret opens its hashlock, it is the payee's. */
function issued(
  file: string,
  s: SecretFile,
  signed: SignedRoutedInvoice,
  payee: Address,
): IssuedInvoice & { readonly file: string } {
  if (sha256(s.secret).toLowerCase() !== signed.invoice.hashlock.toLowerCase()) {
    throw new TaskError(`the secret in ${file} does not open the invoice's hashlock: the file is damaged`);
  }
  if (signed.invoice.payee.toLowerCase() !== payee.toLowerCase()) {
    throw new TaskError(
      `invoice ${signed.invoiceId} pays ${signed.invoice.payee}, not you (${payee}): give that payee's --key or --from`,
    );
  }
  return {
    file,
    invoiceId: signed.invoiceId,
    hashlock: signed.invoice.hashlock,
    secret: s.secret,
    amount: signed.invoice.amount,
    expiry: signed.invoice.expiry,
    minFinalExpiryDelta: signed.invoice.minFinalExpiryDelta,
    revealed: fs.existsSync(file + REVEALED_SUFFIX),
  };
}

/** The other secret files of `dir` for this payee and deployment (unreadable or foreign ones are skipped). */
function siblings(dir: string, except: string, ctx: ReadContext, payee: Address): [string, SecretFile][] {
  if (!fs.existsSync(dir)) return [];
  const out: [string, SecretFile][] = [];
  for (const name of fs.readdirSync(dir)) {
    const file = path.join(dir, name);
    if (file === except || name.endsWith(REVEALED_SUFFIX)) continue;
    try {
      const s = JSON.parse(fs.readFileSync(file, "utf8")) as SecretFile;
      if (
        s.payee?.toLowerCase() === payee.toLowerCase() &&
        s.chainId === ctx.domain.chainId.toString() &&
        s.verifyingContract?.toLowerCase() === ctx.domain.verifyingContract.toLowerCase()
      )
        out.push([file, s]);
    } catch {
      // not a secret file
    }
  }
  return out;
}

const FAILURE_NAMES: Readonly<Record<number, string>> = Object.fromEntries(
  Object.entries(OnionFailureCode)
    .filter(([, v]) => typeof v === "number")
    .map(([k, v]) => [v as number, k]),
);

/** invoice:receive. */
export async function runReceive(args: ReceiveArgs, hre: HardhatRuntimeEnvironment): Promise<ReceiveResult> {
  const ctx = await readContext(hre, { deployment: args.deployment });
  const now = await chainNow(ctx);
  const key = payeeKey(args, hre);
  const signer = localSigner(key);
  if (!Number.isInteger(args.timeout) || args.timeout <= 0)
    throw new TaskError(`--timeout must be a whole number of seconds > 0, got ${args.timeout}`);

  // The invoice to wait for: --invoice (its secret file by default where invoice:create keeps it) or the file.
  let file = args.secretFile;
  let given: SignedRoutedInvoice | null = null;
  if (args.invoice) {
    given = parseInvoiceArg(args.invoice, ctx, now, true);
    file ||= defaultSecretFile(given.invoiceId);
  }
  if (!file) throw new TaskError("give --invoice parsec1… or --secret-file (the file invoice:create wrote)");
  const kept = readSecretFile(file);
  const signed = parseInvoiceArg(kept.invoice, ctx, now, true);
  if (given && given.invoiceId !== signed.invoiceId) {
    throw new TaskError(`${file} keeps the secret of invoice ${signed.invoiceId}, not of ${given.invoiceId}`);
  }
  const inv = signed.invoice;
  if (now >= inv.expiry) {
    throw new TaskError(
      `invoice ${signed.invoiceId} has expired: no payment of it can arrive any more; create a new one (invoice:create)`,
    );
  }
  const a: AssetWords = await assetWords(ctx, inv.asset);
  const invoices = new Map<string, IssuedInvoice & { readonly file: string }>();
  const mine = issued(file, kept, signed, signer.address);
  invoices.set(mine.hashlock.toLowerCase(), mine);
  for (const [f, s] of siblings(path.dirname(path.resolve(file)), path.resolve(file), ctx, signer.address)) {
    try {
      const other = issued(f, s, parseInvoiceArg(s.invoice, ctx, now, true), signer.address);
      invoices.set(other.hashlock.toLowerCase(), other);
    } catch {
      // a damaged or foreign secret file answers nothing
    }
  }

  // The payee's channels in the invoice's asset, with what backs the counterparty's locks.
  const channels: PayeeChannel[] = [];
  for (const [id, ch] of await openChannels(ctx)) {
    if (ch.asset.toLowerCase() !== inv.asset.toLowerCase()) continue;
    const side = [ch.participant0, ch.participant1].findIndex(
      (p) => p.toLowerCase() === signer.address.toLowerCase(),
    );
    if (side < 0) continue;
    const full = await findChannel(ctx, id);
    const payer = side === 0 ? 1 : 0;
    channels.push({
      channelId: id,
      payer,
      counterparty: (payer === 0 ? ch.participant0 : ch.participant1) as Address,
      counterpartyDeposit: payer === 0 ? full.deposit0 : full.deposit1,
    });
  }
  if (channels.length === 0) {
    throw new TaskError(
      `${signer.address} has no open channel in ${a.name}: a payment reaches you over a channel to a forwarder (channel:open, or ask one to open it)`,
    );
  }

  const target = kafkaTarget(args);
  const client = await openLog(target, [target.topics.transfers, target.topics.paymentMessages]);
  const base = kafkaPaymentLog({ client, topics: target.topics, domain: ctx.domain });
  // The amount of each LOCK, by channel and seq, for the words (the payee's events name the LOCK only).
  const amounts = new Map<string, bigint>();
  const log = {
    ...base,
    transfers: (channelId: Hash, onTransfer: Parameters<typeof base.transfers>[1]) =>
      base.transfers(channelId, (m) => {
        amounts.set(`${m.transfer.channelId.toLowerCase()}:${m.transfer.seq}`, m.transfer.amount);
        onTransfer(m);
      }),
  };
  const locks: ReceivedLock[] = [];
  let resolvePaid!: () => void;
  const paid = new Promise<void>((r) => (resolvePaid = r));
  const onEvent = (e: PayeeEvent): void => {
    const amount = amounts.get(`${e.channelId.toLowerCase()}:${e.seq}`) ?? null;
    const from = channels.find((c) => c.channelId === e.channelId.toLowerCase())?.counterparty;
    const lock = `LOCK seq ${e.seq} from ${from ?? "?"} in channel ${e.channelId}${amount === null ? "" : ` for ${amountWords(amount, a)}`}`;
    if (e.kind === "settling") {
      locks.push({
        channelId: e.channelId,
        seq: e.seq,
        amount,
        outcome: "paid",
        invoiceId: e.invoiceId,
        code: null,
        reason: null,
      });
      print(`  paid: ${lock} pays invoice ${e.invoiceId}; answered with its secret (the payment settles)`);
      if (e.invoiceId === signed.invoiceId) resolvePaid();
    } else if (e.kind === "refused") {
      locks.push({
        channelId: e.channelId,
        seq: e.seq,
        amount,
        outcome: "refused",
        invoiceId: null,
        code: e.code,
        reason: e.reason,
      });
      print(`  refused: ${lock}: ${FAILURE_NAMES[e.code] ?? `code ${e.code}`} (${e.reason}); failed back`);
    } else {
      locks.push({
        channelId: e.channelId,
        seq: e.seq,
        amount,
        outcome: "unanswered",
        invoiceId: null,
        code: null,
        reason: e.reason,
      });
      print(`  not answered: ${lock}: ${e.reason}`);
    }
  };

  print(
    `receiving payments of invoice ${signed.invoiceId} (${amountWords(inv.amount, a)}) as ${signer.address} ` +
      `in ${channels.length} channel(s), with ${invoices.size} invoice secret(s); waiting up to ${args.timeout} s`,
  );
  const sub = receivePayments({
    signer,
    onionKey: key,
    domain: ctx.domain,
    channels,
    invoices: {
      lookup: async (hashlock) => invoices.get(hashlock.toLowerCase()),
      markRevealed: async (hashlock) => {
        const i = invoices.get(hashlock.toLowerCase());
        if (!i) return;
        // Durable before the secret goes out: a restarted payee answers this lock with the secret again.
        const fd = fs.openSync(i.file + REVEALED_SUFFIX, "w", 0o600);
        try {
          fs.writeSync(fd, new Date().toISOString() + "\n");
          fs.fsyncSync(fd);
        } finally {
          fs.closeSync(fd);
        }
        invoices.set(hashlock.toLowerCase(), { ...i, revealed: true });
      },
    },
    log,
    peer: { sign: signPaymentMessage, verify: verifyPaymentMessage },
    onEvent,
    now: await chainClock(ctx),
  });
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const done = await Promise.race([
      paid.then(() => true),
      new Promise<boolean>((r) => (timer = setTimeout(() => r(false), args.timeout * MS_PER_SECOND))),
    ]);
    if (!done) {
      print(
        `no payment of invoice ${signed.invoiceId} arrived within ${args.timeout} s: stopped waiting (the invoice ${
          now < inv.expiry ? "can still be paid until its expiry; run invoice:receive again" : "has expired"
        })`,
      );
    } else {
      print(`invoice ${signed.invoiceId} is paid: ${amountWords(inv.amount, a)} received`);
    }
    return { invoiceId: signed.invoiceId, paid: done, locks };
  } finally {
    if (timer !== undefined) clearTimeout(timer);
    sub.stop();
    await base.close();
    await client.close().catch(() => undefined);
  }
}
