/**
 * A signing journal in an append-only file of JSON lines (one `serializeJournalEntry` per line), fsynced
 * before every `record` resolves. Node only (exported from `sdk/index.ts`, not `sdk/isomorphic.ts`).
 *
 * A crash can leave the last line torn (no newline, or not JSON): opening drops it and truncates the file
 * back to the last complete line. A damaged line before the last one is a `JournalError`: the file was
 * changed by something else, and signing from it is not safe.
 *
 * @example
 * const journal = await fileJournal("/var/lib/wallet/parsec-journal.jsonl");
 * const signer = journaledTransferSigner(localSigner(key), journal);
 */
import { promises as fs } from "node:fs";
import type { FileHandle } from "node:fs/promises";
import * as nodePath from "node:path";
import { JournalError } from "./errors";
import {
  journalKey,
  mergeJournalEntry,
  parseJournalEntry,
  serializeJournalEntry,
  type JournalEntry,
  type SigningJournal,
} from "./journal";

/** A file journal; `close()` releases the file (entries already recorded stay durable). */
export interface FileJournal extends SigningJournal {
  readonly path: string;
  /** How many entries the file holds (after merging lines of one seq). */
  readonly size: number;
  /** Whether opening dropped a torn last line. */
  readonly recoveredTornLine: boolean;
  close(): Promise<void>;
}

function describe(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Opens (or creates) the journal at `path`, replaying it into memory. */
export async function fileJournal(path: string): Promise<FileJournal> {
  const entries = new Map<string, JournalEntry>();
  let text = "";
  let created = false;
  try {
    text = await fs.readFile(path, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") {
      throw new JournalError(`cannot read ${path}: ${describe(e)}`, { path });
    }
    created = true;
  }
  // Replay complete lines; the text after the last newline is a torn write, and so is a last line that
  // does not parse (a crash during a multi-block write can leave garbage that ends in a newline).
  let goodLength = 0;
  let recoveredTornLine = false;
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const isLast = i === lines.length - 1 || (i === lines.length - 2 && lines[lines.length - 1] === "");
    if (i === lines.length - 1) {
      if (line !== "") recoveredTornLine = true;
      break;
    }
    if (line.trim() === "") {
      goodLength += line.length + 1;
      continue;
    }
    let entry: JournalEntry;
    try {
      entry = parseJournalEntry(line);
    } catch (e) {
      if (isLast) {
        recoveredTornLine = true;
        break;
      }
      throw new JournalError(`line ${i + 1} of ${path} is damaged (${describe(e)})`, { path, line: i + 1 });
    }
    const key = journalKey(entry.channelId, entry.payer, entry.seq);
    try {
      entries.set(key, mergeJournalEntry(entries.get(key), entry));
    } catch (e) {
      throw new JournalError(`line ${i + 1} of ${path} conflicts with an earlier line (${describe(e)})`, {
        path,
        line: i + 1,
      });
    }
    goodLength += Buffer.byteLength(line, "utf8") + 1;
  }

  let handle: FileHandle;
  try {
    handle = await fs.open(path, "a");
    if (recoveredTornLine) {
      await handle.truncate(goodLength);
      await handle.sync();
    }
    if (created) {
      // Make the new directory entry durable too, or a crash could lose the whole file.
      const dir = await fs.open(nodePath.dirname(path), "r");
      try {
        await dir.sync();
      } catch {
        // Some platforms cannot fsync a directory; the file's own fsync is all they offer.
      } finally {
        await dir.close();
      }
    }
  } catch (e) {
    throw new JournalError(`cannot open ${path} for appending: ${describe(e)}`, { path });
  }

  // One operation at a time, in call order: a `get` sees every `record` that was called before it,
  // only once that record is durable.
  let queue: Promise<unknown> = Promise.resolve();
  let closed = false;
  const serial = <T>(run: () => Promise<T>): Promise<T> => {
    const next = queue.then(run, run);
    queue = next.catch(() => undefined);
    return next;
  };

  return {
    path,
    get size() {
      return entries.size;
    },
    recoveredTornLine,
    get(channelId, payer, seq) {
      return serial(() => Promise.resolve(entries.get(journalKey(channelId, payer, seq))));
    },
    record(entry) {
      return serial(async () => {
        if (closed) throw new JournalError(`${path} is closed`, { path });
        const key = journalKey(entry.channelId, entry.payer, entry.seq);
        const existing = entries.get(key);
        const merged = mergeJournalEntry(existing, entry);
        if (merged === existing) return; // nothing new to persist
        // Held from here on even if the write fails: a failed write may still have reached the disk, and
        // the file must never come to hold two different transfers for one seq.
        entries.set(key, merged);
        try {
          await handle.appendFile(serializeJournalEntry(merged) + "\n", "utf8");
          await handle.sync();
        } catch (e) {
          throw new JournalError(`cannot append to ${path}: ${describe(e)}`, { path });
        }
      });
    },
    close() {
      return serial(async () => {
        if (closed) return;
        closed = true;
        await handle.close();
      });
    },
  };
}
