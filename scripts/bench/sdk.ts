/**
 * SDK benchmark: `npx ts-node --transpile-only scripts/bench/sdk.ts` prints one JSON object to stdout.
 *
 * - verifyPerSec: transfers fully verified per second on one core — decode the framed Avro message,
 *   EIP-712 digest, recover (libsecp256k1), compare with the claimed signer (`TransferVerifier.check`).
 * - ethersVerifyPerSec: the same messages through avsc + ethers' verifyTypedData, same run.
 * - verifyAllCoresPerSec: `VerifierPool` with one thread per core.
 * - reorderPerSec: transfers through `ReorderWindow` with 5% reordered and 2% duplicated.
 * Rates are the best of several timed rounds (the least disturbed by other processes); medians too.
 * Progress goes to stderr.
 */
import os from "node:os";
import { randomBytes } from "node:crypto";
import secp256k1 from "secp256k1";
import {
  GENESIS_STATE,
  ReorderWindow,
  TransferVerifier,
  VerifierPool,
  applyTransfer,
  buildTransfer,
  channelIdOf,
  codecs,
  fromHex,
  hashTransfer,
  loadSecp256k1,
  parsecDomain,
  toAddress,
  toHex,
  typedDataDigest,
  verifyWithEthers,
  type Address,
  type Hash,
  type PayerIndex,
  type PayerState,
  type Sequenced,
} from "../../sdk";
import { computeAddress } from "ethers";

const log = (...args: unknown[]): void => console.error("[bench:sdk]", ...args);

interface Rate {
  best: number;
  median: number;
}

/** Runs `round` (which processes `items` items) until `seconds` elapsed, at least `minRounds` times. */
function measure(items: number, round: () => void, seconds: number, minRounds = 3): Rate {
  const rates: number[] = [];
  const deadline = Date.now() + seconds * 1000;
  while (rates.length < minRounds || Date.now() < deadline) {
    const t = process.hrtime.bigint();
    round();
    rates.push(items / (Number(process.hrtime.bigint() - t) / 1e9));
  }
  rates.sort((a, b) => a - b);
  return { best: rates[rates.length - 1], median: rates[Math.floor(rates.length / 2)] };
}

async function measureAsync(
  items: number,
  round: () => Promise<void>,
  seconds: number,
  minRounds = 3,
): Promise<Rate> {
  const rates: number[] = [];
  const deadline = Date.now() + seconds * 1000;
  while (rates.length < minRounds || Date.now() < deadline) {
    const t = process.hrtime.bigint();
    await round();
    rates.push(items / (Number(process.hrtime.bigint() - t) / 1e9));
  }
  rates.sort((a, b) => a - b);
  return { best: rates[rates.length - 1], median: rates[Math.floor(rates.length / 2)] };
}

/** Signed wire messages of `channels` channels, both payers, `perPayer` transfers each. */
function makeWires(
  channels: number,
  perPayer: number,
): { domain: ReturnType<typeof parsecDomain>; wires: Buffer[] } {
  const domain = parsecDomain(31337n, "0x5FbDB2315678afecb367f032d93F642f64180aa3");
  const wires: Buffer[] = [];
  for (let c = 0; c < channels; c++) {
    const keys = [randomBytes(32), randomBytes(32)];
    const addrs = keys.map((k) => toAddress(computeAddress(toHex(k)))) as [Address, Address];
    const params = {
      participant0: addrs[0],
      participant1: addrs[1],
      asset: "0x0000000000000000000000000000000000000000" as Address,
      challengePeriod: 3600,
      nonce: BigInt(c),
    };
    const channelId = channelIdOf(domain, params);
    for (const payer of [0, 1] as const) {
      let state: PayerState = GENESIS_STATE;
      for (let i = 0; i < perPayer; i++) {
        const t = buildTransfer(
          state,
          { channelId, payer },
          { kind: "PAY", amount: BigInt(1 + ((i * 7919) % 1000)) * 10n ** 12n },
        );
        const hash = hashTransfer(t);
        const sig = secp256k1.ecdsaSign(fromHex(typedDataDigest(domain, hash)), keys[payer]);
        const signature = toHex(new Uint8Array([...sig.signature, 27 + sig.recid]));
        wires.push(
          codecs().transfer.encode({
            schemaVersion: 1,
            domain,
            transfer: { ...t, signature },
            signer: addrs[payer],
            appKind: "",
            appData: "0x",
            sentAtMs: Date.now(),
          }),
        );
        state = applyTransfer(state, t, { hash });
      }
    }
  }
  return { domain, wires };
}

/** A stream of `channels × 2 × perPayer` chain links with 5% reordered and 2% duplicated. */
function makeReorderStream(channels: number, perPayer: number): { items: Sequenced[]; unique: number } {
  const chains: Sequenced[][] = [];
  for (let c = 0; c < channels; c++) {
    const channelId = toHex(randomBytes(32)) as Hash;
    for (const payer of [0, 1] as PayerIndex[]) {
      const chain: Sequenced[] = [];
      let prev = toHex(new Uint8Array(32)) as Hash;
      for (let seq = 1; seq <= perPayer; seq++) {
        const hash = toHex(randomBytes(32)) as Hash;
        chain.push({ channelId, payer, seq, hash, prev });
        prev = hash;
      }
      chains.push(chain);
    }
  }
  // Round-robin interleaving of all chains (the order a busy topic partition would show).
  const inOrder: Sequenced[] = [];
  for (let i = 0; i < perPayer; i++) for (const chain of chains) inOrder.push(chain[i]);
  const n = inOrder.length;
  let seed = 12345;
  const rnd = (): number => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
  // 5% reordered: each moved forward past 1..2·(chains) positions, i.e. after some of its successors.
  const items = inOrder.slice();
  const moves = Math.floor(n * 0.05);
  for (let m = 0; m < moves; m++) {
    const i = Math.floor(rnd() * (n - 1));
    const j = Math.min(n - 1, i + 1 + Math.floor(rnd() * chains.length * 2));
    const [it] = items.splice(i, 1);
    items.splice(j, 0, it);
  }
  // 2% duplicated: a copy re-delivered a little later.
  const dups = Math.floor(n * 0.02);
  for (let d = 0; d < dups; d++) {
    const i = Math.floor(rnd() * items.length);
    items.splice(Math.min(items.length, i + 1 + Math.floor(rnd() * 50)), 0, items[i]);
  }
  return { items, unique: n };
}

async function main(): Promise<void> {
  const cores = os.availableParallelism();
  log(`cores ${cores}; signing transfers…`);
  const { domain, wires } = makeWires(50, 200); // 20,000 distinct signed transfers
  log(`${wires.length} wire messages of ${wires[0].length} bytes`);

  const verifier = new TransferVerifier({ domain });
  for (const w of wires) if (verifier.check(w) !== 0) throw new Error("a valid transfer failed verification");
  // Short rounds (~0.25 s) over a rotating slice: other processes on a shared machine disturb some of
  // them; the best round is the rate of the code, the median shows the disturbance.
  const ROUND = 4000;
  let offset = 0;
  const verify = measure(
    ROUND,
    () => {
      let ok = 0;
      for (let i = 0; i < ROUND; i++) if (verifier.check(wires[(offset + i) % wires.length]) === 0) ok++;
      offset = (offset + ROUND) % wires.length;
      if (ok !== ROUND) throw new Error("verification failed");
    },
    10,
  );
  log(`native verify: best ${verify.best.toFixed(0)}/s, median ${verify.median.toFixed(0)}/s`);

  // Raw libsecp256k1 recovery on the same digests, for reference: the floor of the verify path.
  const secp = loadSecp256k1();
  const sig = new Uint8Array(64);
  const out = new Uint8Array(65);
  const digests = wires.slice(0, 2000).map((w) => {
    verifier.check(w);
    return fromHex(typedDataDigest(domain, verifier.lastHash()));
  });
  const sigs = wires.slice(0, 2000).map((w) => codecs().transfer.decode(w).transfer.signature);
  const sigBytes = sigs.map((s) => fromHex(s));
  const recover = measure(
    digests.length,
    () => {
      for (let i = 0; i < digests.length; i++) {
        sig.set(sigBytes[i].subarray(0, 64));
        if (secp.ecdsaRecover(out, sig, sigBytes[i][64] - 27, digests[i]) !== 0)
          throw new Error("recover failed");
      }
    },
    3,
  );
  log(`raw recover: best ${recover.best.toFixed(0)}/s`);

  const sample = wires.slice(0, 400);
  const ethersRate = measure(
    sample.length,
    () => {
      for (const w of sample)
        if (verifyWithEthers(domain, w).code !== 0) throw new Error("reference verification failed");
    },
    4,
    2,
  );
  log(`ethers verify: best ${ethersRate.best.toFixed(0)}/s`);

  log(`starting a ${cores}-thread verifier pool…`);
  const pool = await VerifierPool.create({ domain, threads: cores });
  await pool.verifyBatch(wires.slice(0, 2000)); // warm up the threads' JIT
  const poolRound = wires.slice(0, 8000);
  const all = await measureAsync(
    poolRound.length,
    async () => {
      const r = await pool.verifyBatch(poolRound);
      for (let i = 0; i < r.codes.length; i++)
        if (r.codes[i] !== 0) throw new Error("pool verification failed");
    },
    8,
  );
  await pool.close();
  log(`pool verify: best ${all.best.toFixed(0)}/s, median ${all.median.toFixed(0)}/s`);

  const { items, unique } = makeReorderStream(2000, 50);
  let reorderCheck = { ordered: 0, duplicates: 0, other: 0 };
  const reorder = measure(
    items.length,
    () => {
      const w = new ReorderWindow<Sequenced>({ capacity: 64 });
      let ordered = 0;
      let duplicates = 0;
      let other = 0;
      for (let i = 0; i < items.length; i++) {
        const events = w.push(items[i]);
        for (let k = 0; k < events.length; k++) {
          const type = events[k].type;
          if (type === "ordered") ordered++;
          else if (type === "duplicate") duplicates++;
          else other++;
        }
      }
      reorderCheck = { ordered, duplicates, other };
    },
    6,
  );
  if (reorderCheck.ordered !== unique || reorderCheck.other !== 0) {
    throw new Error(`reorder lost order: ${JSON.stringify(reorderCheck)} of ${unique}`);
  }
  log(
    `reorder: best ${reorder.best.toFixed(0)}/s over ${items.length} transfers (${reorderCheck.duplicates} duplicates dropped)`,
  );

  const result = {
    verifyPerSec: Math.round(verify.best),
    ethersVerifyPerSec: Math.round(ethersRate.best),
    verifyVsEthers: Number((verify.best / ethersRate.best).toFixed(1)),
    verifyAllCoresPerSec: Math.round(all.best),
    allCoresVsOne: Number((all.best / verify.best).toFixed(2)),
    reorderPerSec: Math.round(reorder.best),
    cores,
    medians: {
      verifyPerSec: Math.round(verify.median),
      ethersVerifyPerSec: Math.round(ethersRate.median),
      verifyAllCoresPerSec: Math.round(all.median),
      reorderPerSec: Math.round(reorder.median),
    },
    rawRecoverPerSec: Math.round(recover.best),
    transfers: wires.length,
    wireBytes: wires[0].length,
    reorderTransfers: items.length,
    keccak: "wasm (sdk/src/verify/keccak-wasm.ts)",
    secp256k1: "libsecp256k1 (npm secp256k1, native)",
    node: process.version,
  };
  process.stdout.write(JSON.stringify(result) + "\n");
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
