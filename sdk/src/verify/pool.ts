/**
 * `VerifierPool`: the verifier on every core. Batches are cut into chunks, packed into one transferable
 * buffer each (no per-message structured cloning) and kept a few deep per thread so no thread idles
 * between chunks. Results come back as reason codes and transfer hashes, in input order.
 */
import os from "node:os";
import path from "node:path";
import { Worker } from "node:worker_threads";
import type { Domain } from "../types";
import { type BatchVerifyResult, TransferVerifier } from "./verifier";

export interface VerifierPoolOptions {
  readonly domain: Domain;
  /** Threads to start; defaults to the number of cores. */
  readonly threads?: number;
  /** Messages per chunk sent to a thread (default 256). */
  readonly chunkSize?: number;
  /**
   * Batches of at most this many messages are verified on the calling thread when nothing waits for a
   * thread (default 8; 0: never): handing a few messages to a thread and back costs more than verifying
   * them, and on a busy machine the thread may not run at once.
   */
  readonly inlineMax?: number;
}

interface Chunk {
  readonly result: { codes: Uint8Array; hashes: Uint8Array };
  readonly start: number;
  readonly wires: readonly Uint8Array[];
  readonly done: () => void;
  readonly fail: (e: Error) => void;
}

interface Slot {
  readonly worker: Worker;
  readonly inFlight: Map<number, Chunk>;
}

/**
 * Chunks queued per thread. A node's main thread has synchronous stretches of tens of ms (decoding a
 * fetch of a few MiB, encoding a flush): with only two chunks (~20 ms of work) a thread would run dry
 * and idle during them. Four keep it busy through them, at ~100 KB of buffer per chunk.
 */
const CHUNKS_PER_THREAD = 4;

/** `VerifierPoolOptions.inlineMax`'s default. */
const DEFAULT_INLINE_MAX = 8;

const WORKER_FILE = path.join(__dirname, `pool-worker${path.extname(__filename)}`);

function startWorker(domain: Domain): Worker {
  const workerData = { chainId: domain.chainId.toString(), verifyingContract: domain.verifyingContract };
  if (WORKER_FILE.endsWith(".ts")) {
    // Running from TypeScript sources (tests, ts-node scripts): compile the worker in the thread too.
    const tsNode = require.resolve("ts-node");
    const code =
      `require(${JSON.stringify(tsNode)}).register({ transpileOnly: true, skipProject: true, ` +
      `compilerOptions: { module: "commonjs", target: "es2022", esModuleInterop: true } });` +
      `require(${JSON.stringify(WORKER_FILE)});`;
    return new Worker(code, { eval: true, workerData });
  }
  return new Worker(WORKER_FILE, { workerData });
}

/** Verification on all cores. */
/** How long `close` waits for a thread to end on its own before terminating it. */
const CLOSE_GRACE_MS = 2_000;

export class VerifierPool {
  private readonly slots: Slot[];
  private readonly queue: Chunk[] = [];
  private readonly chunkSize: number;
  private nextId = 1;
  private closed = false;

  private readonly inline: TransferVerifier;
  private readonly inlineMax: number;
  private inlineCount = 0;

  private constructor(slots: Slot[], chunkSize: number, domain: Domain, inlineMax: number) {
    this.slots = slots;
    this.chunkSize = chunkSize;
    this.inline = new TransferVerifier({ domain });
    this.inlineMax = inlineMax;
  }

  /** Batches verified on the calling thread (`inlineMax`). */
  get inlined(): number {
    return this.inlineCount;
  }

  /** Starts the threads and waits until each has its verifier ready. */
  static async create(opts: VerifierPoolOptions): Promise<VerifierPool> {
    const n = Math.max(1, opts.threads ?? os.availableParallelism());
    const slots: Slot[] = [];
    const ready: Promise<void>[] = [];
    for (let i = 0; i < n; i++) {
      const worker = startWorker(opts.domain);
      const slot: Slot = { worker, inFlight: new Map() };
      slots.push(slot);
      ready.push(
        new Promise<void>((resolve, reject) => {
          const onMessage = (msg: { ready?: boolean }): void => {
            if (msg.ready) {
              worker.off("error", reject);
              resolve();
            }
          };
          worker.once("message", onMessage);
          worker.once("error", reject);
        }),
      );
    }
    const pool = new VerifierPool(
      slots,
      opts.chunkSize ?? 256,
      opts.domain,
      opts.inlineMax ?? DEFAULT_INLINE_MAX,
    );
    for (const slot of slots) pool.attach(slot);
    try {
      await Promise.all(ready);
    } catch (e) {
      await pool.close();
      throw e;
    }
    return pool;
  }

  /** Number of threads. */
  get threads(): number {
    return this.slots.length;
  }

  private attach(slot: Slot): void {
    slot.worker.on("message", (msg: { id?: number; codes?: ArrayBuffer; hashes?: ArrayBuffer }) => {
      if (msg.id === undefined || !msg.codes || !msg.hashes) return;
      const chunk = slot.inFlight.get(msg.id);
      if (!chunk) return;
      slot.inFlight.delete(msg.id);
      chunk.result.codes.set(new Uint8Array(msg.codes), chunk.start);
      chunk.result.hashes.set(new Uint8Array(msg.hashes), 32 * chunk.start);
      chunk.done();
      this.pump();
    });
    slot.worker.on("error", (e: Error) => this.failAll(e));
    slot.worker.on("exit", (code) => {
      if (!this.closed) this.failAll(new Error(`a verifier thread exited with code ${code}`));
    });
  }

  private failAll(e: Error): void {
    for (const slot of this.slots) {
      for (const chunk of slot.inFlight.values()) chunk.fail(e);
      slot.inFlight.clear();
    }
    for (const chunk of this.queue.splice(0)) chunk.fail(e);
  }

  private pump(): void {
    for (;;) {
      if (this.queue.length === 0) return;
      let best: Slot | null = null;
      for (const slot of this.slots)
        if (slot.inFlight.size < CHUNKS_PER_THREAD && (!best || slot.inFlight.size < best.inFlight.size))
          best = slot;
      if (!best) return;
      const chunk = this.queue.shift() as Chunk;
      this.send(best, chunk);
    }
  }

  private send(slot: Slot, chunk: Chunk): void {
    const n = chunk.wires.length;
    let size = 4 * (n + 1);
    for (const w of chunk.wires) size += w.length;
    const data = new ArrayBuffer(size);
    const view = new DataView(data);
    const bytes = new Uint8Array(data);
    let at = 4 * (n + 1);
    for (let i = 0; i < n; i++) {
      view.setUint32(4 * i, at, true);
      bytes.set(chunk.wires[i], at);
      at += chunk.wires[i].length;
    }
    view.setUint32(4 * n, at, true);
    const id = this.nextId++;
    slot.inFlight.set(id, chunk);
    slot.worker.postMessage({ id, count: n, data }, [data]);
  }

  /** Verifies wire messages on all threads; same result as `TransferVerifier.checkBatch`. */
  verifyBatch(wires: readonly Uint8Array[]): Promise<BatchVerifyResult> {
    if (this.closed) return Promise.reject(new Error("the verifier pool is closed"));
    if (wires.length > 0 && wires.length <= this.inlineMax && this.queue.length === 0) {
      this.inlineCount++;
      return Promise.resolve(this.inline.checkBatch(wires));
    }
    const result = { codes: new Uint8Array(wires.length), hashes: new Uint8Array(32 * wires.length) };
    if (wires.length === 0) return Promise.resolve(result);
    return new Promise<BatchVerifyResult>((resolve, reject) => {
      let remaining = Math.ceil(wires.length / this.chunkSize);
      let failed = false;
      for (let start = 0; start < wires.length; start += this.chunkSize) {
        this.queue.push({
          result,
          start,
          wires: wires.slice(start, start + this.chunkSize),
          done: () => {
            if (--remaining === 0 && !failed) resolve(result);
          },
          fail: (e) => {
            if (!failed) {
              failed = true;
              reject(e);
            }
          },
        });
      }
      this.pump();
    });
  }

  /**
   * Stops the threads: each is asked to end after its current batch (a thread terminated in the middle
   * of a native call can bring the process down as it exits); one that has not ended within
   * `CLOSE_GRACE_MS` is terminated.
   */
  async close(): Promise<void> {
    this.closed = true;
    this.failAll(new Error("the verifier pool was closed"));
    await Promise.all(
      this.slots.map(async ({ worker }) => {
        const ended = new Promise<void>((resolve) => worker.once("exit", () => resolve()));
        worker.postMessage({ close: true });
        let timer: NodeJS.Timeout | undefined;
        const late = new Promise<"late">(
          (resolve) => (timer = setTimeout(() => resolve("late"), CLOSE_GRACE_MS)),
        );
        const r = await Promise.race([ended, late]);
        clearTimeout(timer);
        if (r === "late") await worker.terminate();
      }),
    );
  }
}
