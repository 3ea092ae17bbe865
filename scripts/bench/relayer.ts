// Relayer benchmark: one JSON object on stdout (progress on stderr).
//
//   npx hardhat run scripts/bench/relayer.ts          (or: npm run --silent bench:relayer)
//
// Starts what it needs: a local broker through ensureKafka() (or KAFKA_BROKERS), the in-process
// Hardhat chain over JSON-RPC with ParsecChannels, 10,000 opened channels. Preloads the transfer
// topic with signed transfers (neighbours swapped, copies re-sent), measures the SDK's raw
// verification rate on all cores, then starts a node (a child process, so its memory is its own) and
// measures it draining the topic with full verification and state updates; then offers a steady load
// and reads the produce-to-applied latency; finally compares every channel's state with the
// generator's independent computation. Sizes: BENCH_CHANNELS, BENCH_TRANSFERS, BENCH_STEADY_TPS,
// BENCH_STEADY_SECONDS.
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { randomBytes } from "node:crypto";
import hre from "hardhat";
import { JsonRpcServer } from "hardhat/internal/hardhat-network/jsonrpc/server";
import { Wallet, parseEther } from "ethers";
import { type Address, codecs, VerifierPool } from "../../sdk";
import { parsecDomain } from "../../sdk/src/eip712";
import { ensureKafka, REPO_ROOT } from "../kafka/launcher";
import { buildRelayer } from "../../relayer/build";
import { loadConfig } from "../../relayer/src/config";
import { createLogClient, type OutRecord } from "../../relayer/src/kafka/client";
import { channelKey, prepareTopics } from "../../relayer/src/kafka/topics";
import { silentLogger } from "../../relayer/src/log";
import { openChannels } from "../simulator/chain";
import { mix, type ChannelOutcome, type SimChannel } from "../simulator/generate";
import { generateParallel } from "../simulator/parallel";

const CHANNELS = Number(process.env.BENCH_CHANNELS ?? 10_000);
const TRANSFERS = Number(process.env.BENCH_TRANSFERS ?? 200_000);
const STEADY_TPS = Number(process.env.BENCH_STEADY_TPS ?? 4000);
const STEADY_SECONDS = Number(process.env.BENCH_STEADY_SECONDS ?? 8);
const STEADY_CHANNELS = 500;
const SEED = 20261125;

const log = (m: string): void => void process.stderr.write(`[bench:relayer] ${m}\n`);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A zigzag varint (Avro long). */
function avroLong(n: number): Buffer {
  let z = BigInt(n) * 2n;
  const out: number[] = [];
  do {
    let b = Number(z & 0x7fn);
    z >>= 7n;
    if (z > 0n) b |= 0x80;
    out.push(b);
  } while (z > 0n);
  return Buffer.from(out);
}

/**
 * Stamps the produce time into a message generated with `sentAtMs = 0`: that field is the last of
 * transfer.v1 and a zero long is the single byte 0, so it is replaced in place (the signature does not
 * cover it). Checked against the SDK decoder before use.
 */
function stamp(wire: Buffer, now: number): Buffer {
  return Buffer.concat([wire.subarray(0, wire.length - 1), avroLong(now)]);
}

/** The node's applied count from /health (cheap to serve, unlike a full /metrics scrape). */
async function appliedOf(url: string): Promise<number> {
  return ((await (await fetch(`${url}/health`)).json()) as { applied: number }).applied;
}

async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(name + " ") || l.startsWith(name + "{"));
  return line ? Number(line.slice(line.lastIndexOf(" ") + 1)) : NaN;
}

async function main(): Promise<void> {
  const started = Date.now();
  const brokers = await ensureKafka();
  const server = new JsonRpcServer({ hostname: "127.0.0.1", port: 0, provider: hre.network.provider });
  const { port } = await server.listen();
  const rpcUrl = `http://127.0.0.1:${port}`;
  const provider = hre.network.provider;
  const contract = await (await hre.ethers.getContractFactory("ParsecChannels")).deploy();
  const address = (await contract.getAddress()) as Address;
  const chainId = (await hre.ethers.provider.getNetwork()).chainId;
  const domain = parsecDomain(chainId, address);

  // ---- chain: channels between a pool of funded participants
  const wallets = Array.from({ length: 200 }, () => Wallet.createRandom());
  for (const w of wallets)
    await provider.send("hardhat_setBalance", [w.address, `0x${parseEther("1000000").toString(16)}`]);
  await provider.send("evm_setAutomine", [false]);
  await provider.send("evm_setBlockGasLimit", [`0x${(1_000_000_000).toString(16)}`]);
  let t = Date.now();
  const all = await openChannels(provider, {
    domain,
    wallets: wallets.map((w) => new Wallet(w.privateKey)),
    count: CHANNELS + STEADY_CHANNELS,
    deposit0: parseEther("100"),
    deposit1: 0n,
    challengePeriod: 3600,
    firstNonce: 1n,
    batch: 2000,
    afterBatch: async () => void (await provider.send("evm_mine", [])),
  });
  await provider.send("evm_setAutomine", [true]);
  const drainChannels = all.slice(0, CHANNELS);
  const steadyChannels = all.slice(CHANNELS);
  log(`opened ${all.length} channels in ${((Date.now() - t) / 1000).toFixed(1)} s`);

  // ---- transfers: signed on every core, mixed with reorders and copies
  t = Date.now();
  const perChannel = Math.ceil(TRANSFERS / CHANNELS);
  const gen = await generateParallel(domain, drainChannels, { perChannel, seed: SEED });
  const steadyPer = Math.ceil((STEADY_TPS * STEADY_SECONDS) / STEADY_CHANNELS);
  const steadyGen = await generateParallel(domain, steadyChannels, { perChannel: steadyPer, seed: SEED + 1 });
  const { stream, duplicates } = mix(gen.wires, { seed: SEED, reorder: 0.05, duplicate: 0.02 });
  const steady = mix(steadyGen.wires, { seed: SEED + 1, reorder: 0, duplicate: 0 }).stream;
  const transfers = gen.wires.reduce((n, w) => n + w.length, 0);
  log(`signed ${transfers + steady.length} transfers in ${((Date.now() - t) / 1000).toFixed(1)} s`);
  const probe = codecs().transfer.decode(stamp(steady[0].wire, 1_700_000_000_123));
  if (probe.sentAtMs !== 1_700_000_000_123) throw new Error("stamping sentAtMs does not round-trip");

  // ---- Kafka: the node's topics under a unique prefix, preloaded
  const prefix = `bench${Date.now().toString(36)}${randomBytes(2).toString("hex")}.`;
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), "parsec-bench-"));
  const overrides = {
    nodeId: `${prefix}node`,
    kafka: { brokers, groupId: `${prefix}nodes`, topicPrefix: prefix, partitions: 8 },
    chain: { rpcUrl, channels: address, pollIntervalMs: 500 },
    state: { dir: stateDir },
    commit: { everyM: 1000, checkpointTimeoutMs: 3_600_000 },
    http: { host: "127.0.0.1", port: 0 },
    logLevel: "warn",
  };
  const config = loadConfig({ env: {}, overrides: overrides as never });
  const client = createLogClient({ brokers, clientId: `${prefix}bench`, logger: silentLogger });
  await prepareTopics(client, config.kafka);
  const producer = await client.producer();
  const ids = all.map((c: SimChannel) => channelKey(c.id));
  t = Date.now();
  for (let i = 0; i < stream.length; i += 2500) {
    await producer.send(
      config.kafka.topics.transfers,
      stream.slice(i, i + 2500).map((s): OutRecord => ({ key: ids[s.channel], value: s.wire })),
    );
  }
  log(
    `preloaded ${stream.length} messages (${duplicates} copies) in ${((Date.now() - t) / 1000).toFixed(1)} s`,
  );

  // ---- the SDK's raw verification rate on all cores, same machine, same run, nothing else running
  const pool = await VerifierPool.create({ domain });
  const sample = stream.slice(0, Math.min(stream.length, 120_000)).map((s) => s.wire);
  await pool.verifyBatch(sample.slice(0, 10_000));
  t = performance.now();
  const verified = await pool.verifyBatch(sample);
  const verifyLimitTps = sample.length / ((performance.now() - t) / 1000);
  if (verified.codes.some((c) => c !== 0))
    throw new Error("the generator produced a transfer that does not verify");
  await pool.close();
  log(`verify limit ${Math.round(verifyLimitTps)}/s on ${pool.threads} threads`);

  // ---- the node, as its own process, compiled (as in production: no TypeScript compiler in memory)
  const entry = buildRelayer();
  const file = path.join(stateDir, "node.json");
  fs.writeFileSync(file, JSON.stringify(overrides));
  if (process.env.BENCH_PAUSE) {
    // Profiling aid: keep chain and topics up and let someone run nodes by hand.
    log(`paused: node ${entry} --config ${file} (expect ${transfers} transfers)`);
    await new Promise(() => undefined);
  }
  const nodeLog = path.join(stateDir, "node.log");
  // The node's recommended V8 setting (docs/relayer.md, `relayer:start`): the young generation sized for
  // its short-lived per-transfer garbage, trading some resident memory for less scavenging.
  const flags = (process.env.BENCH_NODE_FLAGS ?? "--max-semi-space-size=8").split(" ").filter(Boolean);
  const child = spawn(process.execPath, [...flags, entry, "--config", file], {
    cwd: REPO_ROOT,
    env: {
      ...process.env,
      KAFKA_BROKERS: brokers.join(","),
      PARSEC_SUBMITTER_KEY: "",
      PARSEC_SIGNER_KEYS: "",
    },
    stdio: ["ignore", "pipe", fs.openSync(nodeLog, "a")],
  });
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout?.on("data", (d: Buffer) => {
      const line = d
        .toString()
        .split("\n")
        .find((l) => l.startsWith("{"));
      if (line) resolve((JSON.parse(line) as { url: string }).url);
    });
    child.once("exit", (code) =>
      reject(new Error(`the node exited with ${code}: ${fs.readFileSync(nodeLog, "utf8").slice(-2000)}`)),
    );
  });
  const peakRss = (): number => {
    const status = fs.readFileSync(`/proc/${child.pid}/status`, "utf8");
    return Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
  };

  // ---- drain: from the first applied transfer to the last
  let first = 0;
  let applied = 0;
  const deadline = Date.now() + 600_000;
  while (applied < transfers) {
    if (Date.now() > deadline) throw new Error(`drain stuck at ${applied}/${transfers}`);
    applied = await appliedOf(url);
    if (applied > 0 && first === 0) first = performance.now() - 50; // half a polling period
    if (process.env.BENCH_DEBUG)
      log(
        `applied ${applied} rss ${Math.round((await metric(url, "process_resident_memory_bytes")) / 1e6)} MB peak ${Math.round(peakRss())} MB`,
      );
    await sleep(100);
  }
  const drainSeconds = (performance.now() - first) / 1000;
  const relayerTps = transfers / drainSeconds;
  log(`drained ${transfers} in ${drainSeconds.toFixed(2)} s: ${Math.round(relayerTps)}/s`);

  // ---- steady offered load: stamped at send time, latency measured by the node at apply
  t = performance.now();
  const perTick = Math.max(1, Math.round(STEADY_TPS / 100));
  for (let i = 0; i < steady.length; i += perTick) {
    const now = Date.now();
    await producer.send(
      config.kafka.topics.transfers,
      steady
        .slice(i, i + perTick)
        .map((s) => ({ key: ids[CHANNELS + s.channel], value: stamp(s.wire, now) })),
    );
    const due = t + ((i + perTick) / STEADY_TPS) * 1000;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
  }
  const offered = steady.length / ((performance.now() - t) / 1000);
  const total = transfers + steady.length;
  while ((await appliedOf(url)) < total) {
    if (Date.now() > deadline) throw new Error("steady phase did not finish");
    await sleep(100);
  }
  const p99LatencyMs = await metric(url, 'parsec_transfer_latency_ms{quantile="0.99"}');
  const p50LatencyMs = await metric(url, 'parsec_transfer_latency_ms{quantile="0.5"}');

  // ---- nothing lost, nothing applied twice: every channel against the generator's computation
  const outcomes: ChannelOutcome[] = [...gen.outcomes, ...steadyGen.outcomes];
  let lost = 0;
  let mismatched = 0;
  let heldSeqs = 0;
  let next = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < outcomes.length) {
        const o = outcomes[next++];
        const r = await fetch(`${url}/channels/${o.id}`);
        const body = (await r.json()) as { payers?: { seq: number; paidTotal: string }[] };
        for (const i of [0, 1] as const) {
          const seq = body.payers?.[i].seq ?? 0;
          heldSeqs += seq;
          lost += Math.max(0, o.seq[i] - seq);
          if (body.payers?.[i].paidTotal !== o.paidTotal[i].toString()) mismatched++;
        }
      }
    }),
  );
  const appliedTotal = await metric(url, "parsec_transfers_applied_total");
  const doubleApplied =
    Math.max(0, appliedTotal - heldSeqs) + (await metric(url, "parsec_double_apply_total")) + mismatched;
  const rejected = (await (await fetch(`${url}/metrics`)).text())
    .split("\n")
    .filter((l) => l.startsWith("parsec_transfers_rejected_total{"))
    .reduce((n, l) => n + Number(l.slice(l.lastIndexOf(" ") + 1)), 0);
  const rssMB = peakRss();

  child.kill("SIGTERM");
  await new Promise((r) => child.once("exit", r));
  await producer.close();
  const t2 = config.kafka.topics;
  await client.deleteTopics(Object.values(t2)).catch(() => undefined);
  await client.deleteGroups([config.kafka.groupId]).catch(() => undefined);
  await client.close();
  await server.close();
  fs.rmSync(stateDir, { recursive: true, force: true });

  const result = {
    transfers,
    messages: stream.length,
    duplicatesSent: duplicates,
    channels: CHANNELS,
    relayerTps: Math.round(relayerTps),
    verifyLimitTps: Math.round(verifyLimitTps),
    ratio: Number((relayerTps / verifyLimitTps).toFixed(3)),
    drainSeconds: Number(drainSeconds.toFixed(2)),
    offeredLoadTps: Math.round(offered),
    p50LatencyMs,
    p99LatencyMs,
    lost,
    doubleApplied,
    rejected,
    rssMB: Math.round(rssMB),
    cores: os.availableParallelism(),
    benchSeconds: Math.round((Date.now() - started) / 1000),
  };
  process.stdout.write(JSON.stringify(result) + "\n");
}

main()
  .then(() => process.exit(0))
  .catch((e) => {
    process.stderr.write(`[bench:relayer] failed: ${e instanceof Error ? e.stack : String(e)}\n`);
    process.exit(1);
  });
