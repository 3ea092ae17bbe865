// Chaos as a command: one JSON object on stdout, progress on stderr, exit status 1 when a target is missed.
//
//   npm run --silent chaos                  (hardhat run scripts/chaos/index.ts)
//   CHAOS_SCALE=0.2 npm run --silent chaos  (CI's short run, about three minutes)
//
// Starts what it needs in a temporary directory: three local brokers (ports 10292-10294), the in-process
// Hardhat chain over JSON-RPC with ParsecChannels, and two compiled nodes (dist/, built first unless
// CHAOS_BUILD=0) in one consumer group with a 6 s session timeout. Then runs the scenarios of
// scenarios.ts in turn, each on channels of its own while signed transfers stream: kill -9 of a node (3
// times), kill -9 of a broker and its restart, SIGSTOP of a node past the session timeout and SIGCONT,
// random and truncated bytes, a poison message just under the broker's size limit. Per scenario it
// reports transfers, lost, doubleApplied, stuck (definitions in account.ts), dead letters by reason,
// seconds to recover, and whether on-chain seqs ever went backwards. Targets: lost = doubleApplied =
// stuck = 0 and no on-chain seq going backwards, in every scenario.
//
// Settings: CHAOS_SCALE (default 1), CHAOS_SEED, CHAOS_RECOVERY_SECONDS, CHAOS_SCENARIOS (names, comma
// separated), CHAOS_BUILD=0, CHAOS_KEEP=1 (keep the temporary directory: node logs, broker logs).
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { buildRelayer } from "../../relayer/build";
import { loadConfig } from "../../relayer/src/config";
import { createLogClient } from "../../relayer/src/kafka/client";
import { prepareTopics } from "../../relayer/src/kafka/topics";
import { silentLogger } from "../../relayer/src/log";
import { REPO_ROOT } from "../kafka/launcher";
import { prng } from "../simulator/generate";
import { startBrokers } from "./brokers";
import { startChain } from "./chain";
import { cleanUp, cleanUpOnSignals, onCleanup } from "./cleanup";
import { CounterTotals } from "./counters";
import { NodeFleet } from "./nodes";
import { OnchainWatch } from "./onchain-watch";
import { runScenario, type ChaosContext } from "./run-scenario";
import { report } from "./report";
import { SCENARIOS } from "./scenarios";
import { chaosSettings } from "./settings";

const log = (m: string): void => void process.stderr.write(`[chaos] ${m}\n`);

async function main(): Promise<number> {
  const started = Date.now();
  const settings = chaosSettings();
  const wanted = (process.env.CHAOS_SCENARIOS ?? "").split(",").filter(Boolean);
  const unknown = wanted.filter((w) => !SCENARIOS.some((s) => s.name === w));
  if (unknown.length > 0)
    throw new Error(
      `unknown CHAOS_SCENARIOS ${unknown.join(", ")}; known: ${SCENARIOS.map((s) => s.name).join(", ")}`,
    );
  const scenarios = wanted.length > 0 ? SCENARIOS.filter((s) => wanted.includes(s.name)) : SCENARIOS;
  log(`scale ${settings.scale}, seed ${settings.seed}, ${scenarios.length} scenarios`);

  const root = fs.mkdtempSync(path.join(os.tmpdir(), "parsec-chaos-"));
  onCleanup("remove the temporary directory", () => {
    if (process.env.CHAOS_KEEP) log(`kept ${root}`);
    else fs.rmSync(root, { recursive: true, force: true });
  });
  let entry = path.join(REPO_ROOT, "dist", "relayer", "src", "main.js");
  if (settings.build) {
    log("compiling the node (CHAOS_BUILD=0 skips this)");
    entry = buildRelayer();
  } else if (!fs.existsSync(entry)) throw new Error(`${entry} is missing: run npm run relayer:build`);

  const brokers = await startBrokers(root, settings.firstBrokerPort, log);
  const chain = await startChain(10, 2);
  // Every scenario's channels now: once running, the nodes send head proofs from participant keys, and
  // opening channels from the same keys then would race them for nonces.
  const opened = await chain.open(settings.channelsPerScenario * scenarios.length);
  const prefix = `chaos${Date.now().toString(36)}${randomBytes(2).toString("hex")}.`;
  const groupId = `${prefix}nodes`;
  const kafka = {
    brokers: [...brokers.brokers],
    groupId,
    topicPrefix: prefix,
    partitions: settings.partitions,
    replicationFactor: 3,
    sessionTimeoutMs: settings.sessionTimeoutMs,
    heartbeatIntervalMs: 1000,
  };
  const kafkaConfig = loadConfig({
    env: {},
    overrides: { kafka, chain: { rpcUrl: chain.rpcUrl, channels: chain.address } },
  }).kafka;
  const client = createLogClient({
    brokers: brokers.brokers,
    clientId: `${prefix}chaos`,
    logger: silentLogger,
  });
  onCleanup("close the Kafka client", () => client.close());
  await prepareTopics(client, kafkaConfig);
  const producer = await client.producer();
  onCleanup("close the producer", () => producer.close());

  const nodesDir = path.join(root, "nodes");
  fs.mkdirSync(nodesDir);
  const fleet = new NodeFleet(entry, nodesDir, log);
  const signerKeys = chain.participants.map((w) => w.privateKey).join(",");
  const names = ["node-a", "node-b"];
  const incarnations = await Promise.all(
    names.map((name, i) =>
      fleet.add({
        name,
        config: {
          nodeId: name,
          kafka,
          chain: {
            rpcUrl: chain.rpcUrl,
            channels: chain.address,
            pollIntervalMs: 250,
            fees: { bumpAfterMs: 3000 },
          },
          signer: { trustedProposers: chain.submitters.map((w) => w.address) },
          verify: { threads: 1 },
          state: { dir: path.join(nodesDir, `disk-${name}`), flushIntervalMs: 300 },
          commit: { everyM: 20, checkpointTimeoutMs: 3000, signatureTimeoutMs: 2000, batchMaxWaitMs: 200 },
          http: { host: "127.0.0.1", port: 0 },
          logLevel: "info",
        },
        env: {
          KAFKA_BROKERS: brokers.brokers.join(","),
          PARSEC_SUBMITTER_KEY: chain.submitters[i].privateKey,
          PARSEC_SIGNER_KEYS: signerKeys,
        },
      }),
    ),
  );
  log(
    `nodes up: ${incarnations.map((n) => `${n.name} ${n.url} (pid ${n.pid})`).join(", ")}; logs in ${nodesDir}`,
  );

  const counters = new CounterTotals(fleet);
  counters.start();
  const watch = new OnchainWatch(chain);
  watch.start();
  const ctx: ChaosContext = {
    settings,
    log,
    random: prng(settings.seed),
    chain,
    brokers,
    fleet,
    client,
    producer,
    topics: kafkaConfig.topics,
    groupId,
    counters,
    watch,
  };
  const results = [];
  for (const [i, s] of scenarios.entries()) {
    try {
      const mine = opened.slice(i * settings.channelsPerScenario, (i + 1) * settings.channelsPerScenario);
      results.push(await runScenario(ctx, s, i, mine));
    } catch (e) {
      log(`scenario ${s.name} failed to run: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
      results.push({ name: s.name, error: e instanceof Error ? e.message : String(e) });
    }
  }
  counters.stop();
  await watch.stop();
  const out = report({
    settings,
    results,
    watch,
    fleet,
    seconds: Math.round((Date.now() - started) / 1000),
  });
  process.stdout.write(JSON.stringify(out) + "\n");
  for (const f of out.missed) log(`target missed: ${f}`);
  return out.missed.length === 0 ? 0 : 1;
}

main()
  .catch((e: unknown) => {
    log(`failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    return 2;
  })
  .then(async (code) => {
    await cleanUp(log);
    process.exit(code);
  });
cleanUpOnSignals(log);
