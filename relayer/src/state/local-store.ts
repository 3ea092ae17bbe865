/**
 * The embedded local state store: one append-only file per partition. A restarting node reloads its
 * state from disk and reads only the changelog written since (by itself or by another node) instead
 * of the whole changelog; and the signed transfers a node holds (for proofs and evidence) live here,
 * read back on demand, rather than in memory.
 *
 * No native dependency: every flush appends one CRC-checked frame holding its puts, deletes and meta; a
 * torn tail after a crash (short or bad CRC) is ignored and cut off.
 */
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";

const PUT = 1;
const DEL = 2;
const COMMIT = 3;

/** What a commit frame records. */
export interface StoreMeta {
  /** The last changelog offset this node wrote for the partition (-1: none). */
  readonly changelogOffset: number;
  /** The changelog's end offset the state reflects (restore continues from here). */
  readonly changelogEnd: number;
  readonly writer: string;
  readonly atMs: number;
}

/** Where a value lies in the file. */
export interface StoredValue {
  readonly pos: number;
  readonly len: number;
}

export interface LoadedStore {
  /** Committed values by key (positions only: read them with `StoreWriter.read`). */
  readonly records: Map<string, StoredValue>;
  readonly meta: StoreMeta | null;
  /** File size after dropping a torn tail. */
  readonly size: number;
}

/**
 * One commit as one frame — `length u32 | crc32 u32 | COMMIT | meta length u32 | meta JSON | records` —
 * with records `PUT | key length u16 | key | value length u32 | value` or `DEL | key length u16 | key`:
 * a commit is atomic by construction (one CRC), and a flush of tens of thousands of records costs one
 * allocation and one checksum. `positions[i]` is where put i's value starts within the frame.
 */
function commitFrame(
  puts: readonly (readonly [string, Buffer])[],
  deletes: readonly string[],
  meta: StoreMeta,
): { buf: Buffer; positions: number[] } {
  const metaBytes = Buffer.from(JSON.stringify(meta), "utf8");
  let size = 8 + 1 + 4 + metaBytes.length;
  for (const [k, v] of puts) size += 1 + 2 + Buffer.byteLength(k) + 4 + v.length;
  for (const k of deletes) size += 1 + 2 + Buffer.byteLength(k);
  const out = Buffer.allocUnsafe(size);
  out[8] = COMMIT;
  out.writeUInt32LE(metaBytes.length, 9);
  metaBytes.copy(out, 13);
  let at = 13 + metaBytes.length;
  const positions: number[] = [];
  for (const [k, v] of puts) {
    out[at] = PUT;
    const kl = out.write(k, at + 3, "utf8");
    out.writeUInt16LE(kl, at + 1);
    at += 3 + kl;
    out.writeUInt32LE(v.length, at);
    at += 4;
    positions.push(at);
    at += v.copy(out, at);
  }
  for (const k of deletes) {
    out[at] = DEL;
    const kl = out.write(k, at + 3, "utf8");
    out.writeUInt16LE(kl, at + 1);
    at += 3 + kl;
  }
  out.writeUInt32LE(size - 8, 0);
  out.writeUInt32LE(zlib.crc32(out.subarray(8)), 4);
  return { buf: out, positions };
}

/** Scans a store file; returns empty state when it does not exist. */
export function loadStore(file: string): LoadedStore {
  if (!fs.existsSync(file)) return { records: new Map(), meta: null, size: 0 };
  const data = fs.readFileSync(file);
  const records = new Map<string, StoredValue>();
  let meta: StoreMeta | null = null;
  let good = 0;
  let o = 0;
  while (o + 8 <= data.length) {
    const len = data.readUInt32LE(o);
    if (len < 5 || o + 8 + len > data.length) break;
    const end = o + 8 + len;
    if (zlib.crc32(data.subarray(o + 8, end)) !== data.readUInt32LE(o + 4) || data[o + 8] !== COMMIT) break;
    const metaLen = data.readUInt32LE(o + 9);
    meta = JSON.parse(data.toString("utf8", o + 13, o + 13 + metaLen)) as StoreMeta;
    let at = o + 13 + metaLen;
    while (at < end) {
      const kind = data[at];
      const kl = data.readUInt16LE(at + 1);
      const key = data.toString("utf8", at + 3, at + 3 + kl);
      at += 3 + kl;
      if (kind === PUT) {
        const vl = data.readUInt32LE(at);
        records.set(key, { pos: at + 4, len: vl });
        at += 4 + vl;
      } else {
        records.delete(key);
      }
    }
    good = end;
    o = end;
  }
  return { records, meta, size: good };
}

/** Appends flushes to a partition's store file and reads values back. */
export class StoreWriter {
  private fd: number;
  private size: number;

  /** Opens `file` for appending, cutting any torn tail beyond `validSize`. */
  constructor(
    private readonly file: string,
    validSize: number,
  ) {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    this.fd = fs.openSync(file, fs.existsSync(file) ? "r+" : "w+");
    fs.ftruncateSync(this.fd, validSize);
    this.size = validSize;
  }

  /** Bytes in the file. */
  get bytes(): number {
    return this.size;
  }

  /** Reads a value written at `pos` (from `commit`, `rewrite` or `loadStore`). */
  read(v: StoredValue): Buffer {
    const out = Buffer.allocUnsafe(v.len);
    const n = fs.readSync(this.fd, out, 0, v.len, v.pos);
    if (n !== v.len) throw new Error(`local store ${this.file}: short read at ${v.pos}`);
    return out;
  }

  /**
   * Appends puts and deletes followed by a commit frame, and syncs to disk unless `sync` is false.
   * Returns where each put's value now lies. Unsynced frames survive a process crash (they are in the
   * page cache); one lost with the machine is a torn or missing tail, and the restore reads the
   * changelog from the last frame that survived.
   */
  commit(
    puts: readonly (readonly [string, Buffer])[],
    deletes: readonly string[],
    meta: StoreMeta,
    sync = true,
  ): StoredValue[] {
    const { buf, positions } = commitFrame(puts, deletes, meta);
    fs.writeSync(this.fd, buf, 0, buf.length, this.size);
    if (sync) fs.fdatasyncSync(this.fd);
    const base = this.size;
    this.size += buf.length;
    return positions.map((p, i) => ({ pos: base + p, len: puts[i][1].length }));
  }

  /**
   * Replaces the file with exactly `records` (compaction), atomically via rename. Values may be read
   * from the old file while the new one is written. Returns where each record's value now lies.
   */
  rewrite(records: Iterable<readonly [string, Buffer]>, meta: StoreMeta): StoredValue[] {
    const tmp = `${this.file}.tmp`;
    const fd = fs.openSync(tmp, "w");
    const out: StoredValue[] = [];
    let size = 0;
    let batch: (readonly [string, Buffer])[] = [];
    let pending = 0;
    // Several commit frames of up to ~4 MiB; the file only replaces the old one once complete.
    const drain = (): void => {
      const { buf, positions } = commitFrame(batch, [], meta);
      positions.forEach((p, i) => out.push({ pos: size + p, len: batch[i][1].length }));
      fs.writeSync(fd, buf, 0, buf.length, size);
      size += buf.length;
      batch = [];
      pending = 0;
    };
    for (const r of records) {
      batch.push(r);
      pending += r[1].length + r[0].length + 7;
      if (pending > 4 << 20) drain();
    }
    drain();
    fs.fdatasyncSync(fd);
    fs.closeSync(fd);
    fs.closeSync(this.fd);
    fs.renameSync(tmp, this.file);
    this.fd = fs.openSync(this.file, "r+");
    this.size = size;
    return out;
  }

  close(): void {
    fs.closeSync(this.fd);
  }
}
