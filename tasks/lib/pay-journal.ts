/**
 * Where channel:pay keeps what it signed: the SDK's file journal (one per chain, channel and payer by
 * default), read back as the payer's chain, and a sent log beside it that records each time a journaled
 * transfer was written to Kafka (when, where), so channel:pay and payment:status can tell a transfer never
 * sent (a crash between journal and send) from one in flight.
 */
import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import {
  GENESIS_STATE,
  applyTransfer,
  fileJournal,
  type Hash,
  type JournalEntry,
  type PayerIndex,
  type PayerState,
  type SigningJournal,
} from "../../sdk";
import { TaskError } from "./errors";

/** `~/.parsec/journal/<chainId>-<channel>-<address>.jsonl`: one file per chain, channel and payer. */
export function defaultJournalPath(
  chainId: number,
  channelId: Hash,
  address: string,
  home: string = os.homedir(),
): string {
  return path.join(
    home,
    ".parsec",
    "journal",
    `${chainId}-${channelId.toLowerCase()}-${address.toLowerCase()}.jsonl`,
  );
}

/** A journal held by this process; `close()` releases the file and its lock. */
export interface HeldJournal extends SigningJournal {
  close(): Promise<void>;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Takes `<file>.lock` (holding this pid) for as long as a task uses the journal: the file journal keeps its
 * entries in memory, so two processes signing from one file could each sign a different transfer for one
 * seq. A lock whose process is gone (a crash) is taken over.
 */
async function lockJournal(file: string): Promise<() => Promise<void>> {
  const lock = `${file}.lock`;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await fs.open(lock, "wx", 0o600);
      await handle.writeFile(String(process.pid));
      await handle.close();
      return () => fs.rm(lock, { force: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      const pid = Number((await fs.readFile(lock, "utf8").catch(() => "")).trim());
      if (Number.isSafeInteger(pid) && pid > 0 && alive(pid)) {
        throw new TaskError(
          `another process (pid ${pid}) uses the journal ${file}: let it finish first (two runs signing from one journal could sign two transfers for one seq). If no channel:pay or payment:status runs, delete ${lock}`,
        );
      }
      await fs.rm(lock, { force: true }); // left behind by a process that is gone
    }
  }
  throw new TaskError(`cannot lock the journal ${file}: ${lock} keeps coming back; is another run starting?`);
}

/** Opens (or creates, in a 0700 directory) the journal at `file`, locked for this process. */
export async function openJournal(file: string): Promise<HeldJournal> {
  let release: (() => Promise<void>) | null = null;
  try {
    await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
    release = await lockJournal(file);
    const journal = await fileJournal(file);
    const unlock = release;
    return {
      get: (channelId, payer, seq) => journal.get(channelId, payer, seq),
      record: (entry) => journal.record(entry),
      close: async () => {
        await journal.close();
        await unlock();
      },
    };
  } catch (e) {
    await release?.();
    if (e instanceof TaskError) throw e;
    throw new TaskError(`cannot open the journal ${file}: ${(e as Error).message}`, e);
  }
}

/** A payer's journaled chain: its entries in seq order, and the state after the last one. */
export interface PayerHistory {
  /**
   * Contiguous entries from `baseSeq` (or from seq 1 when the journal starts at the channel's start); an
   * abandoned intent (nothing was signed) ends them.
   */
  readonly entries: readonly JournalEntry[];
  /** 0 when the journal starts at the channel's start; else the seq of its first entry (a started journal). */
  readonly baseSeq: number;
  readonly state: PayerState;
}

const EMPTY: PayerHistory = { entries: [], baseSeq: 0, state: GENESIS_STATE };

/**
 * Reads payer `payer`'s entries of `channelId` and replays them with the chain rule. A journal starts at
 * seq 1, or (started from a node's copy) at a seq the chain held then: found from `onchainSeq`, the chain's
 * seq now, which only grows. A journal whose entries do not chain was changed by something else: refused.
 */
export async function readPayerHistory(
  journal: SigningJournal,
  channelId: Hash,
  payer: PayerIndex,
  where: string,
  onchainSeq: number,
): Promise<PayerHistory> {
  const live = async (seq: number): Promise<JournalEntry | undefined> => {
    const e = await journal.get(channelId, payer, seq);
    return e && !e.abandoned ? e : undefined;
  };
  let first = 1;
  if (!(await live(1))) {
    if (onchainSeq <= 1 || !(await live(onchainSeq))) return EMPTY;
    first = onchainSeq;
    while (first > 2 && (await live(first - 1))) first--;
  }
  const entries: JournalEntry[] = [];
  let state = GENESIS_STATE;
  let seq = first;
  if (first > 1) {
    const base = (await live(first)) as JournalEntry;
    if (base.transfer.lockedTotal !== 0n) {
      throw new TaskError(
        `the journal ${where} starts at your seq ${first}, which holds pending locks it does not list: sign from the journal that made them`,
      );
    }
    const t = base.transfer;
    state = {
      seq: t.seq,
      head: base.transferHash,
      paidTotal: t.paidTotal,
      lockedTotal: 0n,
      locksRoot: t.locksRoot,
      locks: [],
    };
    entries.push(base);
    seq = first + 1;
  }
  for (; ; seq++) {
    const entry = await live(seq);
    if (!entry) break;
    try {
      state = applyTransfer(state, entry.transfer, { hash: entry.transferHash });
    } catch (e) {
      throw new TaskError(
        `the journal ${where} is inconsistent at seq ${seq} (${(e as Error).message}): it was changed by something else; do not sign from it`,
        e,
      );
    }
    entries.push(entry);
  }
  return { entries, baseSeq: first > 1 ? first : 0, state };
}

/** One write of a journaled transfer to the transfers topic. */
export interface SentRecord {
  readonly channelId: Hash;
  readonly payer: PayerIndex;
  readonly seq: number;
  readonly transferHash: Hash;
  readonly sentAtMs: number;
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
}

/** The sent log beside a journal. */
export function sentLogPath(journalPath: string): string {
  return `${journalPath}.sent`;
}

/** Appends a send to the sent log (fsynced; it only informs payment:status, the journal is what binds). */
export async function recordSent(file: string, r: SentRecord): Promise<void> {
  const handle = await fs.open(file, "a", 0o600);
  try {
    await handle.appendFile(JSON.stringify(r) + "\n", "utf8");
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** The sends of the sent log by transfer hash (oldest first); a torn or foreign line is skipped. */
export async function readSent(file: string): Promise<ReadonlyMap<Hash, readonly SentRecord[]>> {
  let text = "";
  try {
    text = await fs.readFile(file, "utf8");
  } catch {
    return new Map();
  }
  const out = new Map<Hash, SentRecord[]>();
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    let r: SentRecord;
    try {
      r = JSON.parse(line) as SentRecord;
    } catch {
      continue;
    }
    if (typeof r.transferHash !== "string" || typeof r.sentAtMs !== "number") continue;
    const list = out.get(r.transferHash) ?? [];
    list.push(r);
    out.set(r.transferHash, list);
  }
  return out;
}
