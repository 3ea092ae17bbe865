/**
 * Runs `generateChannel` on every core: channels are split into slices, each slice is generated in a
 * worker thread (signing is the cost) and comes back as one packed buffer per slice.
 */
import os from "node:os";
import path from "node:path";
import { Worker } from "node:worker_threads";
import type { Domain, Hash, Hex } from "../../sdk";
import type { ChannelOutcome, SimChannel } from "./generate";

/** What crosses the thread boundary (bigints as strings). */
export interface SliceJob {
  readonly domain: { readonly chainId: string; readonly verifyingContract: string };
  readonly channels: readonly {
    readonly params: {
      participant0: string;
      participant1: string;
      asset: string;
      challengePeriod: number;
      nonce: string;
    };
    readonly id: Hash;
    readonly keys: readonly [Hex, Hex];
    readonly deposits: readonly [string, string];
  }[];
  readonly firstIndex: number;
  readonly perChannel: number;
  readonly seed: number;
  readonly sentAtMs: number;
}

export interface SliceResult {
  readonly data: ArrayBuffer;
  /** Byte length of every wire, channel after channel. */
  readonly lengths: Uint32Array;
  /** Wires per channel. */
  readonly counts: Uint32Array;
  readonly outcomes: readonly { id: Hash; seq: [number, number]; paidTotal: [string, string] }[];
}

const WORKER = path.join(__dirname, `generate-worker${path.extname(__filename)}`);

function start(job: SliceJob): Promise<SliceResult> {
  const workerData = job;
  const worker = WORKER.endsWith(".ts")
    ? new Worker(
        `require(${JSON.stringify(require.resolve("ts-node"))}).register({ transpileOnly: true, skipProject: true, compilerOptions: { module: "commonjs", target: "es2022", esModuleInterop: true } });` +
          `require(${JSON.stringify(WORKER)});`,
        { eval: true, workerData },
      )
    : new Worker(WORKER, { workerData });
  return new Promise((resolve, reject) => {
    worker.once("message", (r: SliceResult) => {
      resolve(r);
      void worker.terminate();
    });
    worker.once("error", reject);
  });
}

/** Generates every channel's transfers on `threads` threads; wires per channel, in chain order. */
export async function generateParallel(
  domain: Domain,
  channels: readonly SimChannel[],
  opts: { perChannel: number; seed: number; sentAtMs?: number; threads?: number },
): Promise<{ wires: Buffer[][]; outcomes: ChannelOutcome[] }> {
  const threads = Math.max(1, opts.threads ?? os.availableParallelism());
  const size = Math.ceil(channels.length / threads);
  const jobs: Promise<SliceResult>[] = [];
  for (let t = 0; t < threads; t++) {
    const slice = channels.slice(t * size, (t + 1) * size);
    if (slice.length === 0) continue;
    jobs.push(
      start({
        domain: { chainId: domain.chainId.toString(), verifyingContract: domain.verifyingContract },
        channels: slice.map((c) => ({
          params: { ...c.params, nonce: c.params.nonce.toString() },
          id: c.id,
          keys: c.keys,
          deposits: [c.deposits[0].toString(), c.deposits[1].toString()],
        })),
        firstIndex: t * size,
        perChannel: opts.perChannel,
        seed: opts.seed,
        sentAtMs: opts.sentAtMs ?? 0,
      }),
    );
  }
  const wires: Buffer[][] = [];
  const outcomes: ChannelOutcome[] = [];
  for (const r of await Promise.all(jobs)) {
    const data = Buffer.from(r.data);
    let at = 0;
    let w = 0;
    for (let c = 0; c < r.counts.length; c++) {
      const list: Buffer[] = [];
      for (let k = 0; k < r.counts[c]; k++) {
        list.push(data.subarray(at, at + r.lengths[w]));
        at += r.lengths[w++];
      }
      wires.push(list);
    }
    for (const o of r.outcomes)
      outcomes.push({ id: o.id, seq: o.seq, paidTotal: [BigInt(o.paidTotal[0]), BigInt(o.paidTotal[1])] });
  }
  return { wires, outcomes };
}
