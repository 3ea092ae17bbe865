/**
 * The signing journal: persist before you sign (protocol, *SDK* → *Signing journal*). Two different
 * transfers signed by one payer with one (channel, seq) are an equivocation and forfeit the whole channel,
 * so a wallet that crashed after signing must never sign another transfer with that seq. A journaled
 * signer records the transfer before it asks for a signature and the signature before it returns it, and
 * refuses a second, different transfer for a recorded seq. Isomorphic (the file journal is in
 * `journal-file.ts`, Node only).
 *
 * @example
 * const signer = journaledTransferSigner(walletSigner(window.ethereum, alice), storageJournal(localStorage, "parsec:"));
 * const signed = await signTransfer(signer, domain, transfer); // persisted before it is returned
 */
import { fromHex, toHash } from "./bytes";
import { hashTransfer } from "./eip712";
import { JournalError, MalformedError, WalletError, WouldEquivocateError, isParsecError } from "./errors";
import type { ParsecSigner } from "./sign";
import type { Hash, Hex, PayerIndex, Transfer } from "./types";
import { toPayer, toTransfer, transferBodyJson } from "./validate";

/** One signed (or about to be signed) transfer of a payer's chain. */
export interface JournalEntry {
  readonly channelId: Hash;
  readonly payer: PayerIndex;
  readonly seq: number;
  /** The transfer hash (EIP-712 struct hash) of what was, or is about to be, signed for this seq. */
  readonly transferHash: Hash;
  /** The transfer itself, so a wallet restarting after a crash can apply it and build on top of it. */
  readonly transfer: Transfer;
  /** The signature, once the wallet produced it; absent for an intent recorded before signing. */
  readonly signature?: Hex;
  /**
   * The signing of an intent failed without producing a signature (the user rejected it, a local key
   * threw): the seq is free again. Never set on an entry with a signature.
   */
  readonly abandoned?: true;
}

/**
 * Where a journaled signer records what it signs. Implementations must keep entries across restarts and
 * follow `mergeJournalEntry`: an entry for a (channel, payer, seq) holding another, not abandoned, transfer
 * hash is refused with `WouldEquivocateError`, atomically with respect to other `record` calls.
 */
export interface SigningJournal {
  /** What is recorded for payer `payer`'s transfer `seq` of `channelId`, if anything. */
  get(channelId: Hash, payer: PayerIndex, seq: number): Promise<JournalEntry | undefined>;
  /**
   * Records an entry (merged with what is there by `mergeJournalEntry`). Must be durable (written and
   * synced) before it resolves; throws `WouldEquivocateError` for a conflicting entry and
   * `JournalError` when storage fails.
   */
  record(entry: JournalEntry): Promise<void>;
}

/**
 * What a journal holds after recording `incoming` over `existing`: the same transfer hash merges (the first
 * signature stays; an intent with a signature is never abandoned); an abandoned or missing entry is
 * replaced; a different transfer hash throws `WouldEquivocateError`.
 */
export function mergeJournalEntry(existing: JournalEntry | undefined, incoming: JournalEntry): JournalEntry {
  if (existing === undefined || existing.abandoned) return incoming;
  if (existing.transferHash !== incoming.transferHash) {
    throw new WouldEquivocateError(
      incoming.channelId,
      incoming.payer,
      incoming.seq,
      existing.transferHash,
      incoming.transferHash,
    );
  }
  if (existing.signature !== undefined) return existing;
  if (incoming.signature !== undefined) return { ...existing, signature: incoming.signature };
  return incoming.abandoned ? incoming : existing;
}

/** The key of a (channel, payer, seq) in a journal's index. */
export function journalKey(channelId: Hash, payer: PayerIndex, seq: number): string {
  return `${channelId.toLowerCase()}:${payer}:${seq}`;
}

/** One journal entry as a line of JSON (integers as decimal strings, bytes as 0x hex). */
export function serializeJournalEntry(e: JournalEntry): string {
  const t = e.transfer;
  return JSON.stringify({
    channelId: e.channelId,
    payer: e.payer,
    seq: e.seq,
    transferHash: e.transferHash,
    transfer: transferBodyJson(t),
    ...(e.signature !== undefined ? { signature: e.signature } : {}),
    ...(e.abandoned ? { abandoned: true } : {}),
  });
}

/**
 * Parses a line of `serializeJournalEntry`, checking that the transfer hashes to `transferHash` and
 * belongs to the entry's (channel, payer, seq). Throws `MalformedError`.
 */
export function parseJournalEntry(text: string): JournalEntry {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new MalformedError("a signing-journal entry is not JSON");
  }
  if (typeof raw !== "object" || raw === null) throw new MalformedError("a journal entry is not an object");
  const r = raw as Record<string, unknown>;
  const t = r.transfer as Record<string, unknown> | undefined;
  if (typeof t !== "object" || t === null) throw new MalformedError("a journal entry has no transfer");
  const str = (v: unknown, what: string): string => {
    if (typeof v !== "string") throw new MalformedError(`journal entry ${what} is not a string`);
    return v;
  };
  const num = (v: unknown, what: string): number => {
    if (typeof v !== "number") throw new MalformedError(`journal entry ${what} is not a number`);
    return v;
  };
  const big = (v: unknown, what: string): bigint => {
    const s = str(v, what);
    if (!/^[0-9]+$/.test(s)) throw new MalformedError(`journal entry ${what} is not a decimal integer`);
    return BigInt(s);
  };
  const channelId = toHash(str(r.channelId, "channelId"), "channelId");
  const payer = toPayer(num(r.payer, "payer"));
  const transfer = toTransfer({
    channelId,
    payer,
    seq: num(t.seq, "transfer.seq"),
    kind: num(t.kind, "transfer.kind"),
    amount: big(t.amount, "transfer.amount"),
    paidTotal: big(t.paidTotal, "transfer.paidTotal"),
    lockedTotal: big(t.lockedTotal, "transfer.lockedTotal"),
    locksRoot: str(t.locksRoot, "transfer.locksRoot"),
    hashlock: str(t.hashlock, "transfer.hashlock"),
    expiry: big(t.expiry, "transfer.expiry"),
    invoiceId: str(t.invoiceId, "transfer.invoiceId"),
    prev: str(t.prev, "transfer.prev"),
  });
  const seq = num(r.seq, "seq");
  const transferHash = toHash(str(r.transferHash, "transferHash"), "transferHash");
  if (seq !== transfer.seq || hashTransfer(transfer) !== transferHash) {
    throw new MalformedError("a journal entry's transfer does not match its seq and transfer hash");
  }
  let signature: Hex | undefined;
  if (r.signature !== undefined) {
    signature = str(r.signature, "signature").toLowerCase() as Hex;
    fromHex(signature, "signature", 65);
  }
  const abandoned = r.abandoned === true && signature === undefined;
  return {
    channelId,
    payer,
    seq,
    transferHash,
    transfer,
    ...(signature !== undefined ? { signature } : {}),
    ...(abandoned ? { abandoned: true as const } : {}),
  };
}

/** An in-memory journal (tests, or a process whose signatures must not outlive it). */
export function memoryJournal(): SigningJournal & { readonly entries: ReadonlyMap<string, JournalEntry> } {
  const entries = new Map<string, JournalEntry>();
  return {
    entries,
    get(channelId, payer, seq) {
      return Promise.resolve(entries.get(journalKey(channelId, payer, seq)));
    },
    record(entry) {
      try {
        const key = journalKey(entry.channelId, entry.payer, entry.seq);
        entries.set(key, mergeJournalEntry(entries.get(key), entry));
        return Promise.resolve();
      } catch (e) {
        return Promise.reject(e);
      }
    },
  };
}

/** The part of Web Storage (`localStorage`) a storage journal uses; `Pick<Storage, "getItem" | "setItem">`. */
export interface JournalStorage {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
}

/**
 * A journal in Web Storage (`localStorage` in the dapp), one item per entry under `prefix`. `setItem` is
 * as durable as the browser makes it; a full quota is a `JournalError`. Tabs of one origin share it but
 * do not lock each other: sign a channel's transfers from one tab.
 */
export function storageJournal(storage: JournalStorage, prefix = "parsec:journal:"): SigningJournal {
  const read = (key: string): JournalEntry | undefined => {
    let text: string | null;
    try {
      text = storage.getItem(prefix + key);
    } catch (e) {
      throw new JournalError(`cannot read ${prefix + key}: ${e instanceof Error ? e.message : String(e)}`);
    }
    if (text === null) return undefined;
    try {
      return parseJournalEntry(text);
    } catch (e) {
      throw new JournalError(
        `the entry ${prefix + key} is damaged (${e instanceof Error ? e.message : String(e)})`,
        { key: prefix + key },
      );
    }
  };
  return {
    get(channelId, payer, seq) {
      try {
        return Promise.resolve(read(journalKey(channelId, payer, seq)));
      } catch (e) {
        return Promise.reject(e);
      }
    },
    record(entry) {
      try {
        const key = journalKey(entry.channelId, entry.payer, entry.seq);
        const merged = mergeJournalEntry(read(key), entry);
        try {
          storage.setItem(prefix + key, serializeJournalEntry(merged));
        } catch (e) {
          throw new JournalError(
            `cannot write ${prefix + key}: ${e instanceof Error ? e.message : String(e)}`,
          );
        }
        return Promise.resolve();
      } catch (e) {
        return Promise.reject(e);
      }
    },
  };
}

/** A signer whose transfer signatures go through a signing journal (`signTransfer` uses it). */
export type JournaledSigner<S extends ParsecSigner = ParsecSigner> = S & { readonly journal: SigningJournal };

/**
 * `signer` with a signing journal: `signTransfer` with it persists every transfer before it releases a
 * signature and refuses a different transfer for a seq already signed (`WouldEquivocateError`);
 * `signTransferUnjournaled` refuses it. Checkpoints, closes and withdrawals are signed as before.
 */
export function journaledTransferSigner<S extends ParsecSigner>(
  signer: S,
  journal: SigningJournal,
): JournaledSigner<S> {
  return { ...signer, journal };
}

/** In-process serialization of one (journal, channel, payer, seq), so concurrent calls cannot interleave. */
const inFlight = new WeakMap<SigningJournal, Map<string, Promise<unknown>>>();

async function exclusive<T>(journal: SigningJournal, key: string, run: () => Promise<T>): Promise<T> {
  let byKey = inFlight.get(journal);
  if (!byKey) inFlight.set(journal, (byKey = new Map()));
  const before = byKey.get(key) ?? Promise.resolve();
  const mine = before.then(run, run);
  const tail = mine.catch(() => undefined);
  byKey.set(key, tail);
  try {
    return await mine;
  } finally {
    if (byKey.get(key) === tail) byKey.delete(key);
  }
}

/** Whether a signing failure proves that no signature exists (so its intent may be released). */
function producedNoSignature(e: unknown, local: boolean): boolean {
  if (local) return true; // a local key that threw returned nothing
  return e instanceof WalletError && e.details.walletCode === 4001; // EIP-1193: the user rejected it
}

/**
 * Signs `transfer` through `journal`: the same transfer again returns the recorded signature; a
 * different one for a recorded seq throws `WouldEquivocateError`; otherwise the transfer is recorded
 * (durably) before `sign` is called and the signature is recorded before it is returned. An intent
 * whose signing provably produced nothing (`local` signer threw, or the wallet's user rejected it) is
 * marked abandoned; any other failure keeps it, so that seq can only be signed with the same transfer.
 */
export async function signWithJournal(
  journal: SigningJournal,
  transfer: Transfer,
  sign: () => Promise<Hex>,
  opts: { readonly local?: boolean } = {},
): Promise<Hex> {
  const transferHash = hashTransfer(transfer);
  const { channelId, payer, seq } = transfer;
  return exclusive(journal, journalKey(channelId, payer, seq), async () => {
    const existing = await guard(() => journal.get(channelId, payer, seq), "read");
    if (existing && !existing.abandoned) {
      if (existing.transferHash !== transferHash) {
        throw new WouldEquivocateError(channelId, payer, seq, existing.transferHash, transferHash);
      }
      if (existing.signature !== undefined) return existing.signature;
    }
    const intent: JournalEntry = { channelId, payer, seq, transferHash, transfer };
    if (!existing || existing.abandoned) await guard(() => journal.record(intent), "record the transfer in");
    let signature: Hex;
    try {
      signature = await sign();
    } catch (e) {
      if (producedNoSignature(e, opts.local ?? false)) {
        await journal.record({ ...intent, abandoned: true }).catch(() => undefined);
      }
      throw e;
    }
    await guard(() => journal.record({ ...intent, signature }), "record the signature in");
    // What the journal holds wins (another process may have recorded a signature of the same transfer).
    const stored = await guard(() => journal.get(channelId, payer, seq), "read");
    return stored?.signature ?? signature;
  });
}

/** Maps a storage failure (anything but the SDK's own errors) to `JournalError`. */
async function guard<T>(run: () => Promise<T>, what: string): Promise<T> {
  try {
    return await run();
  } catch (e) {
    if (isParsecError(e)) throw e;
    throw new JournalError(`cannot ${what} the journal: ${e instanceof Error ? e.message : String(e)}`);
  }
}
