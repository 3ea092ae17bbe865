/**
 * Node configuration: a JSON file (optional) overlaid with environment variables, validated at start.
 * Every problem is collected and reported together with what to change, so one restart fixes them all.
 * Private keys come from the environment only: a key in a file ends up in a repo or a backup.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { getAddress, SigningKey, computeAddress } from "ethers";
import { type Address, DEFAULT_MAX_APP_DATA_BYTES, DEFAULT_TOPICS, type Hex } from "../../sdk";
import { ConfigError, type ConfigProblem } from "./errors";
import { readDeployment } from "./deployment";

export { readDeployment } from "./deployment";

/** The topics a node reads and writes. */
export interface TopicNames {
  readonly transfers: string;
  readonly control: string;
  readonly checkpointProposals: string;
  readonly checkpointSignatures: string;
  readonly settlements: string;
  readonly stateChangelog: string;
  readonly deadLetter: string;
  /** Peer messages of routed payments (SECRET / FAIL / ACK, protocol §11.5); co-partitioned. */
  readonly paymentMessages: string;
  /** Signed `ChannelUpdate`s (protocol §11.2; compacted, key channelId ‖ direction). */
  readonly channelGraph: string;
}

export interface KafkaConfig {
  readonly brokers: readonly string[];
  readonly clientId: string;
  /** The consumer group of the nodes; every node of one deployment uses the same. */
  readonly groupId: string;
  readonly topics: TopicNames;
  /** Partitions of the keyed topics when the node creates them (all keyed topics get the same count). */
  readonly partitions: number;
  /** Replication factor when the node creates topics; -1 takes the broker default. */
  readonly replicationFactor: number;
  readonly createTopics: boolean;
  readonly sessionTimeoutMs: number;
  readonly heartbeatIntervalMs: number;
  /** Bytes fetched per partition per request: bigger batches, fewer round trips, more memory. */
  readonly fetchMaxBytesPerPartition: number;
  /**
   * The largest record (key + value) the node writes; a dead letter whose original does not fit keeps a
   * prefix. Must not exceed the dead-letter topic's `max.message.bytes` (`DEFAULT_MAX_RECORD_BYTES`).
   */
  readonly maxRecordBytes: number;
}

/** The broker's default `message.max.bytes` (and so a topic's default `max.message.bytes`). */
export const BROKER_DEFAULT_MESSAGE_MAX_BYTES = 1_048_588;
/** Room left under the broker's limit for the record batch header and record framing (≈ 100 bytes). */
export const RECORD_SIZE_MARGIN_BYTES = 8192;
/** The default `kafka.maxRecordBytes`: 1,040,396 bytes. */
export const DEFAULT_MAX_RECORD_BYTES = BROKER_DEFAULT_MESSAGE_MAX_BYTES - RECORD_SIZE_MARGIN_BYTES;

export interface FeeConfig {
  /** Never pay more than this per gas (wei). */
  readonly maxFeePerGas: bigint;
  /** Tip per gas (wei) of a first attempt. */
  readonly priorityFee: bigint;
  /** Re-send a transaction with higher fees when it is not mined after this long. */
  readonly bumpAfterMs: number;
  /** Each bump raises both fees by this percentage (nodes require at least 10 to replace). */
  readonly bumpPercent: number;
  readonly maxBumps: number;
}

export interface ChainConfig {
  readonly rpcUrl: string;
  readonly channels: Address;
  /** The chain id the deployment is on; checked against the RPC at start. */
  readonly chainId: bigint | null;
  /** First block to index `ParsecChannels` events from (its deployment block). */
  readonly startBlock: number;
  /** The deployment file the address and start block came from, if any. */
  readonly deploymentFile: string | null;
  readonly pollIntervalMs: number;
  /**
   * Blocks below the head before the node acts on an event (reorganisation safety); null: the chain's
   * default, `defaultConfirmations` in `chain/reorg.ts` (0 on a local development chain, 12 elsewhere).
   */
  readonly confirmations: number | null;
  /** The funded key that sends checkpoints, chain proofs and settlements (env only). */
  readonly submitterKey: Hex | null;
  readonly fees: FeeConfig;
}

export interface SignerConfig {
  /** Participant keys this node signs checkpoints and cooperative closes with (env only). */
  readonly keys: readonly Hex[];
  /** Proposers whose checkpoint proposals the signer signs; "self": this node's own address (its submitter). */
  readonly trustedProposers: readonly Address[] | "self";
  readonly enabled: boolean;
}

export interface CommitConfig {
  /** m of the paper: commit after every m-th transfer of a payer (seq modulo m). */
  readonly everyM: number;
  /** checkpoint_timeout: commit uncommitted transfers that are older than this. */
  readonly checkpointTimeoutMs: number;
  /** How long to wait for both checkpoint signatures before falling back to a head proof. */
  readonly signatureTimeoutMs: number;
  readonly batchMaxEntries: number;
  readonly batchMaxGas: number;
  readonly batchMaxWaitMs: number;
  /** When no co-signed checkpoint arrives and the node holds no payee key, prove the chain (anyone may). */
  readonly chainProofFallback: boolean;
  /** Transfers per `extendChain` call of a dispute. */
  readonly maxTransfersPerCall: number;
  /** How failed on-chain actions are retried (see relayer/src/commit/core/retry.ts). */
  readonly retry: RetryConfig;
}

/** Exponential backoff with jitter, bounded by attempts: then the action gives up and says why. */
export interface RetryConfig {
  /** The wait after the first failure; doubled after each further failure. */
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  /** Attempts before an action gives up (a control request then publishes FAILED with its reason). */
  readonly maxAttempts: number;
}

/**
 * Forwarding routed payments (protocol §11.5; relayer/src/mediate, docs/relayer.md *Mediation*). Times in seconds of chain time.
 * `expiryDelta` must be at least `minConfirmationMarginSeconds`.
 */
export interface MediationConfig {
  readonly enabled: boolean;
  /** The fee for forwarding `a`: `feeBase + floor(a × feePpm / 1e6)` (base units of the channel's asset). */
  readonly feeBase: bigint;
  readonly feePpm: number;
  /** Seconds required between the outgoing and the incoming lock's expiry. */
  readonly expiryDelta: number;
  /** The most locks pending as payer per outgoing channel (≤ 64). */
  readonly maxPendingLocks: number;
  /** Register a known secret on-chain when the incoming lock expires within this (confirmation time + margin). */
  readonly minConfirmationMarginSeconds: number;
}

/** The HTTP API (docs/relayer.md "HTTP API"). */
export interface HttpConfig {
  readonly enabled: boolean;
  readonly host: string;
  readonly port: number;
  /**
   * Origins (`scheme://host[:port]`) whose pages may call the API from a browser; `"*"` admits any.
   * Empty (the default): no CORS headers, so only same-origin pages and non-browser clients can.
   */
  readonly corsOrigins: readonly string[];
  /** Serve the payments endpoints (`POST /transfers`, `/payment-messages`, and reading them back). */
  readonly paymentsApi: boolean;
  /** Long polls waiting at once; more are answered 503. */
  readonly maxLongPolls: number;
}

export interface RelayerConfig {
  readonly nodeId: string;
  readonly kafka: KafkaConfig;
  readonly chain: ChainConfig;
  readonly signer: SignerConfig;
  readonly verify: { readonly threads: number; readonly chunkSize: number };
  /**
   * The reorder window: `capacity` transfers held per payer behind a gap (n of the paper); transfers
   * that overdraw wait up to `fundsWaitMs` for the other payer's chain or a deposit to cover them.
   */
  readonly window: { readonly capacity: number; readonly fundsWaitMs: number };
  readonly commit: CommitConfig;
  readonly state: { readonly dir: string; readonly flushIntervalMs: number; readonly flushMaxDirty: number };
  readonly watchtower: { readonly enabled: boolean; readonly settle: boolean };
  readonly mediation: MediationConfig;
  readonly http: HttpConfig;
  /** Bounds on input checked before verification: a transfer's `appData` bytes. */
  readonly input: { readonly maxAppDataBytes: number };
  /**
   * When `/health` degrades: a partition with records waiting that processed nothing for `stallMs`; a
   * transfer held in a reorder window (waiting for an earlier seq) for `windowMaxAgeMs`; no successful
   * chain poll for `chainStaleMs`.
   */
  readonly health: {
    readonly stallMs: number;
    readonly windowMaxAgeMs: number;
    readonly chainStaleMs: number;
  };
  /** After SIGTERM/SIGINT the CLI exits with status 1 if stopping takes longer than this. */
  readonly stopTimeoutMs: number;
  readonly logLevel: LogLevel;
}

export type LogLevel = "debug" | "info" | "warn" | "error";

/** The environment variables the node reads (documented in docs/relayer.md). */
export const ENV = {
  config: "PARSEC_CONFIG",
  brokers: "KAFKA_BROKERS",
  nodeId: "PARSEC_NODE_ID",
  groupId: "PARSEC_GROUP_ID",
  topicPrefix: "PARSEC_TOPIC_PREFIX",
  rpcUrl: "PARSEC_RPC_URL",
  channels: "PARSEC_CHANNELS_ADDRESS",
  deployment: "PARSEC_DEPLOYMENT",
  startBlock: "PARSEC_START_BLOCK",
  confirmations: "PARSEC_CONFIRMATIONS",
  submitterKey: "PARSEC_SUBMITTER_KEY",
  signerKeys: "PARSEC_SIGNER_KEYS",
  httpHost: "PARSEC_HTTP_HOST",
  httpPort: "PARSEC_HTTP_PORT",
  httpCorsOrigins: "PARSEC_HTTP_CORS_ORIGINS",
  stateDir: "PARSEC_STATE_DIR",
  flushIntervalMs: "PARSEC_FLUSH_INTERVAL_MS",
  commitEvery: "PARSEC_COMMIT_EVERY",
  checkpointTimeoutMs: "PARSEC_CHECKPOINT_TIMEOUT_MS",
  verifyThreads: "PARSEC_VERIFY_THREADS",
  maxAppDataBytes: "PARSEC_MAX_APP_DATA_BYTES",
  maxRecordBytes: "PARSEC_MAX_RECORD_BYTES",
  stopTimeoutMs: "PARSEC_STOP_TIMEOUT_MS",
  logLevel: "PARSEC_LOG_LEVEL",
} as const;

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

/** Settings in the config file's shape (as `loadConfig`'s `overrides`). */
export type ConfigOverrides = JsonObject;

/** Collects problems while reading a raw object. */
class Reader {
  readonly problems: ConfigProblem[] = [];

  problem(path: string, problem: string, fix: string): void {
    this.problems.push({ path, problem, fix });
  }

  section(raw: JsonObject, key: string): JsonObject {
    const v = raw[key];
    if (v === undefined || v === null) return {};
    if (typeof v !== "object" || Array.isArray(v)) {
      this.problem(key, `must be an object, got ${JSON.stringify(v)}`, `write "${key}": { … }`);
      return {};
    }
    return v;
  }

  int(
    raw: JsonObject,
    key: string,
    path: string,
    def: number,
    min: number,
    max = Number.MAX_SAFE_INTEGER,
  ): number {
    const v = raw[key];
    if (v === undefined || v === null) return def;
    const n = typeof v === "string" && /^-?\d+$/.test(v.trim()) ? Number(v) : v;
    if (typeof n !== "number" || !Number.isInteger(n) || n < min || n > max) {
      this.problem(
        path,
        `must be an integer in [${min}, ${max}], got ${JSON.stringify(v)}`,
        `set ${path} to e.g. ${def}`,
      );
      return def;
    }
    return n;
  }

  bool(raw: JsonObject, key: string, path: string, def: boolean): boolean {
    const v = raw[key];
    if (v === undefined || v === null) return def;
    if (v === true || v === "true" || v === "1") return true;
    if (v === false || v === "false" || v === "0") return false;
    this.problem(path, `must be true or false, got ${JSON.stringify(v)}`, `set ${path} to true or false`);
    return def;
  }

  str(raw: JsonObject, key: string, path: string, def: string): string {
    const v = raw[key];
    if (v === undefined || v === null) return def;
    if (typeof v !== "string" || v.trim() === "") {
      this.problem(path, `must be a non-empty string, got ${JSON.stringify(v)}`, `set ${path} to a string`);
      return def;
    }
    return v.trim();
  }

  wei(raw: JsonObject, key: string, path: string, def: bigint): bigint {
    const v = raw[key];
    if (v === undefined || v === null) return def;
    const s = typeof v === "number" && Number.isSafeInteger(v) ? String(v) : v;
    if (typeof s !== "string" || !/^\d+$/.test(s)) {
      this.problem(
        path,
        `must be a whole number of wei as a decimal string, got ${JSON.stringify(v)}`,
        `set ${path} to e.g. "${def}"`,
      );
      return def;
    }
    return BigInt(s);
  }

  address(value: string, path: string): Address | null {
    try {
      return getAddress(value) as Address;
    } catch {
      this.problem(
        path,
        `${JSON.stringify(value)} is not an address (or has a wrong EIP-55 checksum)`,
        "use the 0x… address",
      );
      return null;
    }
  }

  key(value: string, path: string): Hex | null {
    const v = value.trim();
    const hex = v.startsWith("0x") ? v : `0x${v}`;
    try {
      computeAddress(new SigningKey(hex).publicKey);
      return hex.toLowerCase() as Hex;
    } catch {
      this.problem(
        path,
        "is not a 32-byte secp256k1 private key",
        "give the key as 64 hex digits (with or without 0x)",
      );
      return null;
    }
  }
}

function readJsonFile(file: string, r: Reader): JsonObject {
  try {
    const parsed = JSON.parse(fs.readFileSync(file, "utf8")) as Json;
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
      r.problem(file, "must hold a JSON object", "see docs/relayer.md, Configuration");
      return {};
    }
    return parsed;
  } catch (e) {
    r.problem(
      file,
      `cannot be read as JSON (${e instanceof Error ? e.message : String(e)})`,
      "fix the file or unset PARSEC_CONFIG",
    );
    return {};
  }
}

export interface LoadOptions {
  /** A config file; default `$PARSEC_CONFIG`. */
  readonly file?: string;
  /** Settings that win over the file (e.g. from tests); same shape as the file. */
  readonly overrides?: ConfigOverrides;
  readonly env?: NodeJS.ProcessEnv;
  /**
   * Base of a relative `chain.deployment` path and of `deployments/<name>.json` (default: the working
   * directory; a bare name is also looked for in the project root), and of the default state dir.
   */
  readonly repoRoot?: string;
}

function merge(base: JsonObject, over: JsonObject): JsonObject {
  const out: JsonObject = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] =
      v !== null &&
      typeof v === "object" &&
      !Array.isArray(v) &&
      b !== null &&
      typeof b === "object" &&
      !Array.isArray(b)
        ? merge(b, v)
        : v;
  }
  return out;
}

/** Environment variables as a partial config (they win over the file). */
function fromEnv(env: NodeJS.ProcessEnv): JsonObject {
  const out: JsonObject = {};
  const set = (section: string, key: string, value: string | undefined): void => {
    if (value === undefined || value.trim() === "") return;
    const s = (out[section] ??= {}) as JsonObject;
    s[key] = value.trim();
  };
  if (env[ENV.nodeId]) out.nodeId = env[ENV.nodeId] as string;
  if (env[ENV.logLevel]) out.logLevel = env[ENV.logLevel] as string;
  if (env[ENV.brokers]) {
    out.kafka = {
      brokers: (env[ENV.brokers] as string)
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean),
    };
  }
  set("kafka", "groupId", env[ENV.groupId]);
  set("kafka", "topicPrefix", env[ENV.topicPrefix]);
  set("chain", "rpcUrl", env[ENV.rpcUrl]);
  set("chain", "channels", env[ENV.channels]);
  set("chain", "deployment", env[ENV.deployment]);
  set("chain", "startBlock", env[ENV.startBlock]);
  set("chain", "confirmations", env[ENV.confirmations]);
  set("http", "host", env[ENV.httpHost]);
  set("http", "port", env[ENV.httpPort]);
  set("http", "corsOrigins", env[ENV.httpCorsOrigins]);
  set("state", "dir", env[ENV.stateDir]);
  set("state", "flushIntervalMs", env[ENV.flushIntervalMs]);
  set("commit", "everyM", env[ENV.commitEvery]);
  set("commit", "checkpointTimeoutMs", env[ENV.checkpointTimeoutMs]);
  set("verify", "threads", env[ENV.verifyThreads]);
  set("input", "maxAppDataBytes", env[ENV.maxAppDataBytes]);
  set("kafka", "maxRecordBytes", env[ENV.maxRecordBytes]);
  if (env[ENV.stopTimeoutMs]?.trim()) out.stopTimeoutMs = (env[ENV.stopTimeoutMs] as string).trim();
  return out;
}

const LOG_LEVELS: readonly LogLevel[] = ["debug", "info", "warn", "error"];

/**
 * The topic names a node's `kafka` section (`topicPrefix`, `topics`) resolves to, as the node resolves
 * them; for tools that talk to a running node. Throws `ConfigError` naming each illegal name.
 */
export function resolveTopicNames(kafka: ConfigOverrides): TopicNames {
  const r = new Reader();
  const topics = topicNames(r, kafka);
  if (r.problems.length > 0) throw new ConfigError(r.problems);
  return topics;
}

/** Topic names: the SDK's defaults, each behind `topicPrefix`, unless named explicitly. */
function topicNames(r: Reader, raw: JsonObject): TopicNames {
  const prefix = typeof raw.topicPrefix === "string" ? raw.topicPrefix : "";
  const given = r.section(raw, "topics");
  const name = (key: keyof TopicNames): string =>
    r.str(given, key, `kafka.topics.${key}`, prefix + DEFAULT_TOPICS[key]);
  const topics: TopicNames = {
    transfers: name("transfers"),
    control: name("control"),
    checkpointProposals: name("checkpointProposals"),
    checkpointSignatures: name("checkpointSignatures"),
    settlements: name("settlements"),
    stateChangelog: name("stateChangelog"),
    deadLetter: name("deadLetter"),
    paymentMessages: name("paymentMessages"),
    channelGraph: name("channelGraph"),
  };
  for (const [key, value] of Object.entries(topics)) {
    if (!/^[a-zA-Z0-9._-]{1,249}$/.test(value)) {
      r.problem(
        `kafka.topics.${key}`,
        `${JSON.stringify(value)} is not a legal Kafka topic name`,
        "use letters, digits, '.', '_' and '-'",
      );
    }
  }
  if (new Set(Object.values(topics)).size !== Object.values(topics).length) {
    r.problem("kafka.topics", "two topics have the same name", "give every topic its own name");
  }
  return topics;
}

/**
 * Loads and validates the configuration. Throws `ConfigError` listing every problem.
 * Precedence: overrides > environment > file > defaults.
 */
export function loadConfig(opts: LoadOptions = {}): RelayerConfig {
  const env = opts.env ?? process.env;
  const r = new Reader();
  const file = opts.file ?? env[ENV.config];
  let raw: JsonObject = file ? readJsonFile(file, r) : {};
  for (const section of ["chain", "signer"]) {
    const s = raw[section];
    if (s && typeof s === "object" && !Array.isArray(s) && ("submitterKey" in s || "keys" in s)) {
      r.problem(
        `${section} (in ${file})`,
        "private keys must not be in the config file",
        `remove them and set ${ENV.submitterKey} / ${ENV.signerKeys} instead`,
      );
    }
  }
  raw = merge(merge(raw, fromEnv(env)), opts.overrides ?? {});

  const k = r.section(raw, "kafka");
  const brokersRaw = k.brokers;
  let brokers: string[] = [];
  if (Array.isArray(brokersRaw) && brokersRaw.every((b) => typeof b === "string" && b.length > 0)) {
    brokers = brokersRaw as string[];
  } else if (typeof brokersRaw === "string" && brokersRaw.trim()) {
    brokers = brokersRaw.split(",").map((s) => s.trim());
  }
  if (brokers.length === 0) {
    r.problem(
      "kafka.brokers",
      "no Kafka brokers given",
      `set ${ENV.brokers}=host:port[,host:port] or start one with npm run kafka:start`,
    );
  }
  for (const b of brokers) {
    if (!/^[^\s:]+:\d{1,5}$/.test(b))
      r.problem("kafka.brokers", `${JSON.stringify(b)} is not host:port`, "write brokers as host:port");
  }
  const nodeId = r.str(raw, "nodeId", "nodeId", `${os.hostname()}-${process.pid}`);
  const sessionTimeoutMs = r.int(k, "sessionTimeoutMs", "kafka.sessionTimeoutMs", 10_000, 3_000, 300_000);
  const kafka: KafkaConfig = {
    brokers,
    clientId: r.str(k, "clientId", "kafka.clientId", `parsec-node-${nodeId}`),
    groupId: r.str(k, "groupId", "kafka.groupId", "parsec-nodes"),
    topics: topicNames(r, k),
    partitions: r.int(k, "partitions", "kafka.partitions", 8, 1, 10_000),
    replicationFactor: r.int(k, "replicationFactor", "kafka.replicationFactor", -1, -1, 16),
    createTopics: r.bool(k, "createTopics", "kafka.createTopics", true),
    sessionTimeoutMs,
    heartbeatIntervalMs: r.int(
      k,
      "heartbeatIntervalMs",
      "kafka.heartbeatIntervalMs",
      Math.min(3000, Math.floor(sessionTimeoutMs / 3)),
      100,
      sessionTimeoutMs,
    ),
    fetchMaxBytesPerPartition: r.int(
      k,
      "fetchMaxBytesPerPartition",
      "kafka.fetchMaxBytesPerPartition",
      1 << 20,
      16 << 10,
      64 << 20,
    ),
    maxRecordBytes: r.int(
      k,
      "maxRecordBytes",
      "kafka.maxRecordBytes",
      DEFAULT_MAX_RECORD_BYTES,
      64 << 10,
      64 << 20,
    ),
  };
  if (kafka.heartbeatIntervalMs * 3 > sessionTimeoutMs) {
    r.problem(
      "kafka.heartbeatIntervalMs",
      "must be at most a third of kafka.sessionTimeoutMs",
      "lower it or raise the session timeout",
    );
  }

  const c = r.section(raw, "chain");
  const repoRoot = opts.repoRoot ?? path.resolve(__dirname, "..", "..");
  let channels: Address | null = null;
  let chainId: bigint | null = null;
  let startBlock = r.int(c, "startBlock", "chain.startBlock", 0, 0);
  let deploymentFile: string | null = null;
  if (typeof c.channels === "string") {
    channels = r.address(c.channels, "chain.channels");
  } else if (typeof c.deployment === "string") {
    try {
      const dep = readDeployment(c.deployment, { cwd: opts.repoRoot });
      deploymentFile = dep.file;
      channels = dep.ParsecChannels;
      chainId = BigInt(dep.chainId);
      if (c.startBlock === undefined || c.startBlock === null) startBlock = dep.blockNumber;
    } catch (e) {
      r.problem(
        "chain.deployment",
        e instanceof Error ? e.message : String(e),
        `deploy first (npx hardhat run scripts/deploy.ts --network <name>), give the file's path, or set ${ENV.channels}`,
      );
    }
  } else {
    r.problem(
      "chain.channels",
      "the ParsecChannels address is missing",
      `set ${ENV.channels}=0x… or ${ENV.deployment}=<network> (reads ./deployments/<network>.json) or =<path>`,
    );
  }
  if (c.chainId !== undefined && c.chainId !== null)
    chainId = BigInt(r.int(c, "chainId", "chain.chainId", 0, 1));
  const rpcUrl = r.str(c, "rpcUrl", "chain.rpcUrl", "");
  if (!rpcUrl)
    r.problem("chain.rpcUrl", "the JSON-RPC endpoint is missing", `set ${ENV.rpcUrl}=http://host:8545`);
  else if (!/^https?:\/\//.test(rpcUrl))
    r.problem("chain.rpcUrl", `${JSON.stringify(rpcUrl)} is not an http(s) URL`, "use http://… or https://…");
  const f = r.section(c, "fees");
  const fees: FeeConfig = {
    maxFeePerGas: r.wei(f, "maxFeePerGas", "chain.fees.maxFeePerGas", 500_000_000_000n),
    priorityFee: r.wei(f, "priorityFee", "chain.fees.priorityFee", 1_000_000_000n),
    bumpAfterMs: r.int(f, "bumpAfterMs", "chain.fees.bumpAfterMs", 30_000, 100),
    bumpPercent: r.int(f, "bumpPercent", "chain.fees.bumpPercent", 15, 10, 1000),
    maxBumps: r.int(f, "maxBumps", "chain.fees.maxBumps", 10, 0, 100),
  };
  const submitter = env[ENV.submitterKey];
  const chain: ChainConfig = {
    rpcUrl,
    channels: channels ?? ("0x0000000000000000000000000000000000000000" as Address),
    chainId,
    startBlock,
    deploymentFile,
    pollIntervalMs: r.int(c, "pollIntervalMs", "chain.pollIntervalMs", 1000, 10, 600_000),
    confirmations:
      c.confirmations === undefined || c.confirmations === null
        ? null
        : r.int(c, "confirmations", "chain.confirmations", 12, 0, 1000),
    submitterKey: submitter ? r.key(submitter, ENV.submitterKey) : null,
    fees,
  };

  const s = r.section(raw, "signer");
  const keys = (env[ENV.signerKeys] ?? "")
    .split(",")
    .map((v) => v.trim())
    .filter(Boolean)
    .map((v, i) => r.key(v, `${ENV.signerKeys}[${i}]`))
    .filter((v): v is Hex => v !== null);
  let trustedProposers: readonly Address[] | "self" = "self";
  if (Array.isArray(s.trustedProposers)) {
    trustedProposers = s.trustedProposers
      .map((a, i) => (typeof a === "string" ? r.address(a, `signer.trustedProposers[${i}]`) : null))
      .filter((a): a is Address => a !== null);
  }
  const signer: SignerConfig = {
    keys,
    trustedProposers,
    enabled: r.bool(s, "enabled", "signer.enabled", true),
  };

  const v = r.section(raw, "verify");
  const w = r.section(raw, "window");
  const m = r.section(raw, "commit");
  const rt = r.section(m, "retry");
  const st = r.section(raw, "state");
  const wt = r.section(raw, "watchtower");
  const h = r.section(raw, "http");
  const inp = r.section(raw, "input");
  const hl = r.section(raw, "health");
  const md = r.section(raw, "mediation");
  const logLevel = r.str(raw, "logLevel", "logLevel", "info") as LogLevel;
  if (!LOG_LEVELS.includes(logLevel))
    r.problem("logLevel", `${JSON.stringify(logLevel)} is unknown`, `use one of ${LOG_LEVELS.join(", ")}`);

  const config: RelayerConfig = {
    nodeId,
    kafka,
    chain,
    signer,
    verify: {
      threads: r.int(v, "threads", "verify.threads", Math.max(1, os.availableParallelism()), 1, 256),
      chunkSize: r.int(v, "chunkSize", "verify.chunkSize", 256, 1, 65_536),
    },
    window: {
      capacity: r.int(w, "capacity", "window.capacity", 64, 1, 100_000),
      fundsWaitMs: r.int(w, "fundsWaitMs", "window.fundsWaitMs", 30_000, 0),
    },
    commit: {
      everyM: r.int(m, "everyM", "commit.everyM", 100, 1),
      checkpointTimeoutMs: r.int(m, "checkpointTimeoutMs", "commit.checkpointTimeoutMs", 60_000, 10),
      signatureTimeoutMs: r.int(m, "signatureTimeoutMs", "commit.signatureTimeoutMs", 10_000, 10),
      batchMaxEntries: r.int(m, "batchMaxEntries", "commit.batchMaxEntries", 100, 1, 10_000),
      batchMaxGas: r.int(m, "batchMaxGas", "commit.batchMaxGas", 10_000_000, 100_000),
      batchMaxWaitMs: r.int(m, "batchMaxWaitMs", "commit.batchMaxWaitMs", 500, 0),
      chainProofFallback: r.bool(m, "chainProofFallback", "commit.chainProofFallback", false),
      maxTransfersPerCall: r.int(m, "maxTransfersPerCall", "commit.maxTransfersPerCall", 50, 1, 10_000),
      retry: {
        baseDelayMs: r.int(rt, "baseDelayMs", "commit.retry.baseDelayMs", 1000, 1, 600_000),
        maxDelayMs: r.int(rt, "maxDelayMs", "commit.retry.maxDelayMs", 30_000, 1, 3_600_000),
        maxAttempts: r.int(rt, "maxAttempts", "commit.retry.maxAttempts", 8, 1, 1000),
      },
    },
    state: {
      dir: path.resolve(r.str(st, "dir", "state.dir", path.join(repoRoot, ".relayer"))),
      flushIntervalMs: r.int(st, "flushIntervalMs", "state.flushIntervalMs", 2000, 1, 600_000),
      flushMaxDirty: r.int(st, "flushMaxDirty", "state.flushMaxDirty", 20_000, 1),
    },
    watchtower: {
      enabled: r.bool(wt, "enabled", "watchtower.enabled", true),
      settle: r.bool(wt, "settle", "watchtower.settle", true),
    },
    mediation: {
      enabled: r.bool(md, "enabled", "mediation.enabled", false),
      feeBase: r.wei(md, "feeBase", "mediation.feeBase", 0n),
      feePpm: r.int(md, "feePpm", "mediation.feePpm", 1000, 0, 0xffffffff),
      expiryDelta: r.int(md, "expiryDelta", "mediation.expiryDelta", 3600, 1, 1_209_600),
      maxPendingLocks: r.int(md, "maxPendingLocks", "mediation.maxPendingLocks", 32, 1, 64),
      minConfirmationMarginSeconds: r.int(
        md,
        "minConfirmationMarginSeconds",
        "mediation.minConfirmationMarginSeconds",
        600,
        1,
        1_209_600,
      ),
    },
    http: {
      enabled: r.bool(h, "enabled", "http.enabled", true),
      host: r.str(h, "host", "http.host", "127.0.0.1"),
      port: r.int(h, "port", "http.port", 8787, 0, 65_535),
      corsOrigins: corsOrigins(r, h.corsOrigins),
      paymentsApi: r.bool(h, "paymentsApi", "http.paymentsApi", true),
      maxLongPolls: r.int(h, "maxLongPolls", "http.maxLongPolls", 64, 1, 10_000),
    },
    input: {
      maxAppDataBytes: r.int(
        inp,
        "maxAppDataBytes",
        "input.maxAppDataBytes",
        DEFAULT_MAX_APP_DATA_BYTES,
        0,
        512 << 10,
      ),
    },
    health: {
      stallMs: r.int(hl, "stallMs", "health.stallMs", 30_000, 1000),
      windowMaxAgeMs: r.int(hl, "windowMaxAgeMs", "health.windowMaxAgeMs", 60_000, 1000),
      chainStaleMs: r.int(hl, "chainStaleMs", "health.chainStaleMs", 30_000, 1000),
    },
    stopTimeoutMs: r.int(raw, "stopTimeoutMs", "stopTimeoutMs", 15_000, 1000, 600_000),
    logLevel,
  };
  if (config.commit.signatureTimeoutMs >= config.commit.checkpointTimeoutMs * 10) {
    r.problem(
      "commit.signatureTimeoutMs",
      "is far longer than commit.checkpointTimeoutMs",
      "keep it below ten checkpoint timeouts",
    );
  }
  if (config.mediation.expiryDelta < config.mediation.minConfirmationMarginSeconds) {
    r.problem(
      "mediation.expiryDelta",
      "is below mediation.minConfirmationMarginSeconds: a secret learned at the outgoing expiry could not be registered in time",
      "raise mediation.expiryDelta to at least mediation.minConfirmationMarginSeconds",
    );
  }
  if (r.problems.length > 0) throw new ConfigError(r.problems);
  return config;
}

/** `http.corsOrigins`: a list (or comma-separated string) of `scheme://host[:port]` origins or `"*"`. */
function corsOrigins(r: Reader, raw: unknown): string[] {
  if (raw === undefined || raw === null) return [];
  const list = typeof raw === "string" ? raw.split(",") : raw;
  const fix = 'set http.corsOrigins to e.g. ["http://127.0.0.1:4173"] (the dapp\'s origin) or ["*"]';
  if (!Array.isArray(list)) {
    r.problem("http.corsOrigins", `must be a list of origins, got ${JSON.stringify(raw)}`, fix);
    return [];
  }
  const out: string[] = [];
  for (const v of list) {
    const o = typeof v === "string" ? v.trim().replace(/\/$/, "") : v;
    if (o === "") continue;
    if (o === "*" || (typeof o === "string" && /^https?:\/\/[^/\s?#]+$/.test(o))) out.push(o);
    else r.problem("http.corsOrigins", `${JSON.stringify(v)} is not an origin (scheme://host[:port])`, fix);
  }
  return out;
}

/** The address of a private key. */
export function addressOfKey(key: Hex): Address {
  return getAddress(computeAddress(new SigningKey(key).publicKey)) as Address;
}

/** The configuration without secrets, for `/health` and logs. */
export function redactConfig(c: RelayerConfig): Record<string, unknown> {
  return {
    ...c,
    chain: {
      ...c.chain,
      submitterKey: c.chain.submitterKey ? "(set)" : null,
      fees: {
        ...c.chain.fees,
        maxFeePerGas: c.chain.fees.maxFeePerGas.toString(),
        priorityFee: c.chain.fees.priorityFee.toString(),
      },
    },
    signer: { ...c.signer, keys: c.signer.keys.map(addressOfKey) },
    mediation: { ...c.mediation, feeBase: c.mediation.feeBase.toString() },
  };
}
