/** A generation thread of `parallel.ts`: signs one slice of channels and sends it back packed. */
import { parentPort, workerData } from "node:worker_threads";
import { type Hex, toChannelParams, toDomain, nativeSigner } from "../../sdk";
import { generateChannel } from "./generate";
import type { SliceJob, SliceResult } from "./parallel";

const job = workerData as SliceJob;
const domain = toDomain({
  chainId: BigInt(job.domain.chainId),
  verifyingContract: job.domain.verifyingContract,
});
const signers = new Map<string, ReturnType<typeof nativeSigner>>();
const signerOf = (key: Hex): ReturnType<typeof nativeSigner> => {
  let s = signers.get(key);
  if (!s) signers.set(key, (s = nativeSigner(key)));
  return s;
};
const all: Buffer[] = [];
const counts = new Uint32Array(job.channels.length);
const outcomes: SliceResult["outcomes"][number][] = [];
job.channels.forEach((c, i) => {
  const { wires, outcome } = generateChannel(
    {
      params: toChannelParams({ ...c.params, nonce: BigInt(c.params.nonce) }),
      id: c.id,
      keys: c.keys,
      deposits: [BigInt(c.deposits[0]), BigInt(c.deposits[1])],
    },
    { domain, perChannel: job.perChannel, seed: job.seed, sentAtMs: job.sentAtMs, signerOf },
    job.firstIndex + i,
  );
  counts[i] = wires.length;
  all.push(...wires);
  outcomes.push({
    id: outcome.id,
    seq: [outcome.seq[0], outcome.seq[1]],
    paidTotal: [outcome.paidTotal[0].toString(), outcome.paidTotal[1].toString()],
  });
});
const lengths = Uint32Array.from(all.map((w) => w.length));
const packed = Buffer.concat(all);
const data = packed.buffer.slice(packed.byteOffset, packed.byteOffset + packed.length);
const result: SliceResult = { data, lengths, counts, outcomes };
parentPort?.postMessage(result, [data, lengths.buffer, counts.buffer]);
