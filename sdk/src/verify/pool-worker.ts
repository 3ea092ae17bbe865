/**
 * A `VerifierPool` thread: verifies packed batches of wire messages with its own `TransferVerifier`.
 * Job layout (one transferred ArrayBuffer): `count + 1` little-endian u32 offsets, then the messages.
 */
import { parentPort, workerData } from "node:worker_threads";
import { toDomain } from "../validate";
import { TransferVerifier } from "./verifier";

interface Job {
  readonly id: number;
  readonly count: number;
  readonly data: ArrayBuffer;
}

const port = parentPort;
if (!port) throw new Error("pool-worker must run in a worker thread");
const init = workerData as { chainId: string; verifyingContract: string };
const verifier = new TransferVerifier({
  domain: toDomain({ chainId: BigInt(init.chainId), verifyingContract: init.verifyingContract }),
});

port.on("message", (job: Job | { readonly close: true }) => {
  // The pool's graceful close: with the port closed the thread ends on its own, never mid-call.
  if ("close" in job) return port.close();
  const bytes = new Uint8Array(job.data);
  const offsets = new DataView(job.data);
  const n = job.count;
  const codes = new Uint8Array(n);
  const hashes = new Uint8Array(32 * n);
  for (let i = 0; i < n; i++) {
    const start = offsets.getUint32(4 * i, true);
    const end = offsets.getUint32(4 * i + 4, true);
    const code = verifier.check(bytes.subarray(start, end));
    codes[i] = code;
    if (code === 0) hashes.set(verifier.lastHashView(), 32 * i);
  }
  port.postMessage({ id: job.id, codes: codes.buffer, hashes: hashes.buffer }, [codes.buffer, hashes.buffer]);
});
port.postMessage({ ready: true });
