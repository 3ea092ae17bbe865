/**
 * What the operator tasks (`node:control`, `node:follow`) need of Kafka: the node's brokers and topic names
 * (as the node resolves them: `--brokers`/`KAFKA_BROKERS`, `--prefix`/`PARSEC_TOPIC_PREFIX`, the node's
 * config file's `kafka` section, then the SDK's `DEFAULT_TOPICS`), and the relayer's `LogClient` on them.
 * kafkajs itself stays behind `relayer/src/kafka/client.ts`.
 */
import fs from "node:fs";
import net from "node:net";
import { resolveTopicNames, type ConfigOverrides, type TopicNames } from "../../relayer/src/config";
import { messageOf } from "../../relayer/src/errors";
import { createLogClient, type LogClient } from "../../relayer/src/kafka/client";
import { silentLogger } from "../../relayer/src/log";
import { TaskError } from "./errors";

/** The Kafka options of the operator tasks. */
export interface KafkaArgs {
  /** `host:port,…`; default `KAFKA_BROKERS`, then the config file's `kafka.brokers`. */
  readonly brokers: string;
  /** Put before every default topic name; default `PARSEC_TOPIC_PREFIX`, then the file's `kafka.topicPrefix`. */
  readonly prefix: string;
  /** The node's JSON config file (the node's `--config`); default `PARSEC_CONFIG`. */
  readonly nodeConfig: string;
}

export interface KafkaTarget {
  readonly brokers: readonly string[];
  readonly topics: TopicNames;
}

type Env = Readonly<Record<string, string | undefined>>;

function readKafkaSection(file: string): Record<string, unknown> {
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (e) {
    throw new TaskError(
      `cannot read the node's config ${file} (${(e as Error).message}): fix --node-config or PARSEC_CONFIG`,
    );
  }
  const kafka = (raw as { kafka?: unknown } | null)?.kafka;
  return kafka !== null && typeof kafka === "object" && !Array.isArray(kafka)
    ? (kafka as Record<string, unknown>)
    : {};
}

/** Brokers and topic names as the node would resolve them; says what to set when something is missing. */
export function kafkaTarget(args: Partial<KafkaArgs>, env: Env = process.env): KafkaTarget {
  const configFile = args.nodeConfig || env.PARSEC_CONFIG || "";
  const file = configFile ? readKafkaSection(configFile) : {};
  const fileBrokers = Array.isArray(file.brokers)
    ? file.brokers.join(",")
    : typeof file.brokers === "string"
      ? file.brokers
      : "";
  const brokerList = (args.brokers || env.KAFKA_BROKERS || fileBrokers)
    .split(",")
    .map((b) => b.trim())
    .filter(Boolean);
  if (brokerList.length === 0) {
    throw new TaskError(
      "no Kafka brokers: give --brokers host:port[,host:port] or set KAFKA_BROKERS (the node's setting)",
    );
  }
  for (const b of brokerList) {
    if (!/^[^\s:]+:\d{1,5}$/.test(b))
      throw new TaskError(`--brokers: ${JSON.stringify(b)} is not host:port (e.g. 127.0.0.1:9092)`);
  }
  const prefix =
    args.prefix || env.PARSEC_TOPIC_PREFIX || (typeof file.topicPrefix === "string" ? file.topicPrefix : "");
  let topics: TopicNames;
  try {
    topics = resolveTopicNames({ topicPrefix: prefix, topics: (file.topics ?? {}) as ConfigOverrides });
  } catch (e) {
    throw new TaskError(messageOf(e));
  }
  return { brokers: brokerList, topics };
}

function reachable(broker: string, timeoutMs: number): Promise<boolean> {
  const i = broker.lastIndexOf(":");
  return new Promise((resolve) => {
    const socket = net.connect({ host: broker.slice(0, i), port: Number(broker.slice(i + 1)) });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

/**
 * The relayer's `LogClient` on `target`, after checking that a broker answers (kafkajs would retry for
 * most of a minute) and that `topics` exist. Close it with `close()`.
 */
export async function openLog(target: KafkaTarget, topics: readonly string[]): Promise<LogClient> {
  const answers = await Promise.all(target.brokers.map((b) => reachable(b, 3000)));
  if (!answers.some(Boolean)) {
    throw new TaskError(
      `no Kafka broker answers at ${target.brokers.join(",")}: check --brokers or KAFKA_BROKERS (npm run kafka:start starts a local one)`,
    );
  }
  const client = createLogClient({
    brokers: target.brokers,
    clientId: `parsec-operator-${process.pid}`,
    logger: silentLogger,
  });
  try {
    const existing = new Set(await client.listTopics());
    const missing = topics.filter((t) => !existing.has(t));
    if (missing.length > 0) {
      throw new TaskError(
        `topic(s) ${missing.join(", ")} do not exist on ${target.brokers.join(",")}: a node creates them at start; ` +
          `give the node's topic prefix (--prefix, PARSEC_TOPIC_PREFIX) or its config (--node-config)`,
      );
    }
  } catch (e) {
    await client.close().catch(() => undefined);
    if (e instanceof TaskError) throw e;
    throw new TaskError(`reading the topics of ${target.brokers.join(",")}: ${(e as Error).message}`, e);
  }
  return client;
}

// The reader lives with the node's Kafka code (its HTTP payments API reads the same way).
export { tailPartitions, type TailSource } from "../../relayer/src/kafka/reader";
