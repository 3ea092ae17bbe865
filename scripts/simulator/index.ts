// The Parsec simulator (the paper's "simulator that generates protocol messages into a Kafka cluster").
//
//   npx ts-node --transpile-only scripts/simulator/index.ts --channels 100 --transfers 10000 --rate 2000
//
// Opens channels on the chain (funding fresh participants), then produces signed transfers — payments,
// invoice payments, HTLC lock/unlock pairs — into the transfers topic, with some neighbours swapped and
// some copies re-sent as a real network would, optionally a control request per channel, at a steady
// rate or as fast as possible. Prints one JSON summary on stdout; `--out` writes the channels and the
// participants' keys (for a node's PARSEC_SIGNER_KEYS, or a wallet). Test networks only: keys are
// generated and written in the clear.
import fs from "node:fs";
import { parseArgs } from "node:util";
import { Wallet, parseEther } from "ethers";
import { type Address, codecs } from "../../sdk";
import { parsecDomain } from "../../sdk/src/eip712";
import { ensureKafka } from "../kafka/launcher";
import { loadConfig, readDeployment } from "../../relayer/src/config";
import { createLogClient } from "../../relayer/src/kafka/client";
import { channelKey, prepareTopics } from "../../relayer/src/kafka/topics";
import { silentLogger } from "../../relayer/src/log";
import { Rpc } from "../../relayer/src/chain/rpc";
import { openChannels, type RpcSend } from "./chain";
import { mix, type SimChannel } from "./generate";
import { generateParallel } from "./parallel";

const USAGE = `usage: simulator [options]
  --rpc URL            JSON-RPC endpoint (default $PARSEC_RPC_URL)
  --contract 0x…       ParsecChannels (default $PARSEC_CHANNELS_ADDRESS, or --deployment NAME)
  --deployment NAME    read deployments/NAME.json
  --brokers h:p,…      Kafka (default $KAFKA_BROKERS, else the local broker)
  --topic-prefix P     topic names as the node's (default $PARSEC_TOPIC_PREFIX)
  --partitions N       partitions when creating topics (default 8)
  --channels N         channels to open (default 20)
  --transfers N        transfers in all (default 2000)
  --rate N             messages per second, 0 = as fast as possible (default 0)
  --reorder F          share of neighbours swapped (default 0.05)
  --duplicate F        share of copies re-sent (default 0.02)
  --control            also send a CHECKPOINT_NOW request per channel at the end
  --seed N             generator seed (default: the clock)
  --out FILE           write channels and participant keys as JSON
  funding: $PARSEC_SIM_FUNDER_KEY pays the participants; on a Hardhat dev chain balances are set directly`;

const log = (m: string): void => void process.stderr.write(`[simulator] ${m}\n`);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function num(v: string | undefined, name: string, def: number): number {
  if (v === undefined) return def;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new Error(`--${name} must be a non-negative number, got ${v}`);
  return n;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      rpc: { type: "string" },
      contract: { type: "string" },
      deployment: { type: "string" },
      brokers: { type: "string" },
      "topic-prefix": { type: "string" },
      partitions: { type: "string" },
      channels: { type: "string" },
      transfers: { type: "string" },
      rate: { type: "string" },
      reorder: { type: "string" },
      duplicate: { type: "string" },
      control: { type: "boolean", default: false },
      seed: { type: "string" },
      out: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE + "\n");
    return;
  }
  const env = process.env;
  const rpcUrl = values.rpc ?? env.PARSEC_RPC_URL;
  let contract = values.contract ?? env.PARSEC_CHANNELS_ADDRESS;
  if (!contract && (values.deployment ?? env.PARSEC_DEPLOYMENT)) {
    contract = readDeployment(
      `deployments/${values.deployment ?? env.PARSEC_DEPLOYMENT}.json`,
    ).ParsecChannels;
  }
  if (!rpcUrl || !contract) throw new Error(`give --rpc and --contract (or --deployment)\n${USAGE}`);
  const count = num(values.channels, "channels", 20);
  const transfers = num(values.transfers, "transfers", 2000);
  const rate = num(values.rate, "rate", 0);
  const seed = num(values.seed, "seed", Date.now() % 1_000_000_007);
  const brokers = values.brokers ? values.brokers.split(",") : await ensureKafka();

  // ---- chain: participants, funded, and their channels
  const rpc = await Rpc.connect(rpcUrl, null);
  const domain = parsecDomain(rpc.chainId, contract as Address);
  const send: RpcSend = { send: (method, params) => rpc.call(method, params) };
  const isDev = /hardhat|anvil/i.test(await rpc.call<string>("web3_clientVersion", []).catch(() => ""));
  const wallets = Array.from({ length: Math.max(2, Math.min(200, count * 2)) }, () => Wallet.createRandom());
  const deposit = parseEther("10");
  if (isDev) {
    for (const w of wallets)
      await rpc.call("hardhat_setBalance", [w.address, `0x${parseEther("1000").toString(16)}`]);
  } else {
    const funderKey = env.PARSEC_SIM_FUNDER_KEY;
    if (!funderKey) throw new Error("set PARSEC_SIM_FUNDER_KEY to a funded key (or use a Hardhat dev chain)");
    const { TxSender } = await import("../../relayer/src/chain/tx-sender");
    const funder = new TxSender({
      rpc,
      key: funderKey as `0x${string}`,
      fees: {
        maxFeePerGas: parseEther("0.0000005"),
        priorityFee: 1_000_000_000n,
        bumpAfterMs: 30_000,
        bumpPercent: 15,
        maxBumps: 5,
      },
      logger: silentLogger,
      pollMs: 1000,
    });
    const per = (deposit * BigInt(Math.ceil((count * 2) / wallets.length)) * 11n) / 10n;
    await Promise.all(
      wallets.map((w) =>
        funder.send({ to: w.address as Address, data: "0x", value: per, label: `fund ${w.address}` }),
      ),
    );
  }
  let t = Date.now();
  const firstNonce = BigInt(Date.now()) * 1000n;
  const channels: SimChannel[] = await openChannels(send, {
    domain,
    wallets: wallets.map((w) => new Wallet(w.privateKey)),
    count,
    deposit0: deposit,
    deposit1: 0n,
    challengePeriod: 3600,
    firstNonce,
    batch: 500,
    afterBatch: isDev ? async () => void (await rpc.call("evm_mine", [])) : undefined,
  });
  log(`opened ${channels.length} channels in ${((Date.now() - t) / 1000).toFixed(1)} s`);

  // ---- messages
  t = Date.now();
  const perChannel = Math.max(1, Math.ceil(transfers / Math.max(1, count)));
  const gen = await generateParallel(domain, channels, { perChannel, seed });
  const { stream, duplicates } = mix(gen.wires, {
    seed,
    reorder: num(values.reorder, "reorder", 0.05),
    duplicate: num(values.duplicate, "duplicate", 0.02),
  });
  log(`signed ${stream.length - duplicates} transfers in ${((Date.now() - t) / 1000).toFixed(1)} s`);

  // ---- Kafka: the node's topics (created like the node does), then the stream
  const config = loadConfig({
    env: {},
    overrides: {
      kafka: {
        brokers,
        topicPrefix: values["topic-prefix"] ?? env.PARSEC_TOPIC_PREFIX ?? "",
        partitions: num(values.partitions, "partitions", 8),
      },
      chain: { rpcUrl, channels: contract },
    },
  });
  const client = createLogClient({ brokers, clientId: "parsec-simulator", logger: silentLogger });
  await prepareTopics(client, config.kafka);
  const producer = await client.producer();
  const keys = channels.map((c) => channelKey(c.id));
  const per = rate > 0 ? Math.max(1, Math.round(rate / 50)) : 5000;
  t = Date.now();
  for (let i = 0; i < stream.length; i += per) {
    const now = Date.now();
    const part = stream.slice(i, i + per).map((s) => ({ key: keys[s.channel], value: s.wire }));
    await producer.send(config.kafka.topics.transfers, part);
    if (rate > 0) {
      const wait = t + ((i + per) / rate) * 1000 - now;
      if (wait > 0) await sleep(wait);
    }
  }
  const seconds = (Date.now() - t) / 1000;
  if (values.control) {
    await producer.send(
      config.kafka.topics.control,
      channels.map((c, i) => ({
        key: keys[i],
        value: codecs().control.encode({
          schemaVersion: 1,
          requestId: `sim-${seed}-${i}`,
          channelId: c.id,
          action: "CHECKPOINT_NOW",
          requestedBy: c.params.participant0,
          requestedAtMs: Date.now(),
          reason: "simulator",
        }),
      })),
    );
  }
  await producer.close();
  await client.close();
  if (values.out) {
    fs.writeFileSync(
      values.out,
      JSON.stringify(
        {
          domain: { chainId: domain.chainId.toString(), verifyingContract: domain.verifyingContract },
          channels: channels.map((c, i) => ({
            channelId: c.id,
            params: { ...c.params, nonce: c.params.nonce.toString() },
            keys: c.keys,
            expected: { seq: gen.outcomes[i].seq, paidTotal: gen.outcomes[i].paidTotal.map(String) },
          })),
        },
        null,
        2,
      ),
    );
  }
  process.stdout.write(
    JSON.stringify({
      channels: channels.length,
      transfers: stream.length - duplicates,
      messages: stream.length,
      duplicates,
      seconds: Number(seconds.toFixed(2)),
      messagesPerSecond: Math.round(stream.length / Math.max(seconds, 0.001)),
      topic: config.kafka.topics.transfers,
      seed,
    }) + "\n",
  );
}

main().catch((e) => {
  process.stderr.write(`[simulator] ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
