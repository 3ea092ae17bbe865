// Local Apache Kafka (KRaft) launcher: runs brokers from the jars that kafka/pom.xml copies into
// kafka/lib, so developers and CI need only Java 17 and Maven (no Docker, no tarball download).
// Node built-ins only, so it works before `npm install` and in any test runner.
import { spawn, spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";

export const REPO_ROOT = path.resolve(__dirname, "..", "..");
const KAFKA_DIR = path.join(REPO_ROOT, "kafka");
const LIB_DIR = path.join(KAFKA_DIR, "lib");
export const DEFAULT_DIR = path.join(REPO_ROOT, ".kafka");
const HOST = "127.0.0.1";
// Controller listeners sit at a fixed offset from the client ports so both ranges stay disjoint.
const CONTROLLER_PORT_OFFSET = 10000;
// Dirs whose cluster.json has no kafkaVersion were made by the launcher before the move to 4.x.
const LEGACY_VERSION = "3.9.1";

export interface StartOptions {
  /** Number of combined broker+controller nodes: 1 or 3. Default: what the dir holds, else 1. */
  brokers?: number;
  /** First client port; broker k listens on port+k. Default: what the dir holds, else 9092. */
  port?: number;
  /** State dir (configs, data, logs, pids). Default: <repo>/.kafka */
  dir?: string;
  /** How long to wait for every broker to answer a Metadata request. Default 60000. */
  timeoutMs?: number;
  /**
   * Extra or overriding server.properties entries, e.g. { "broker.session.timeout.ms": 6000 }
   * for faster failure detection in fault tests. Applied to brokers started from now on.
   */
  properties?: Properties;
  /** Progress messages; default stderr so stdout stays machine-readable. */
  log?: (line: string) => void;
}

export interface KafkaCluster {
  brokers: string[];
  stop(): Promise<void>;
}

type Properties = Record<string, string | number | boolean>;

interface ClusterState {
  clusterId: string;
  /** Kafka version that formatted the storage; a dir is only started by that version. */
  kafkaVersion?: string;
  brokers: number;
  port: number;
  /** Extra broker properties; kept in cluster.json so startBroker() reuses them. */
  properties?: Properties;
}

export interface BrokerStatus {
  index: number;
  address: string;
  pid: number | null;
  running: boolean;
  ready: boolean;
  log: string;
}

const defaultLog = (line: string): void => {
  process.stderr.write(`[kafka] ${line}\n`);
};
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// ---- state dir layout ----

const paths = (dir: string, index = 0) => ({
  cluster: path.join(dir, "cluster.json"),
  log4j: path.join(dir, "log4j2.properties"),
  lock: path.join(dir, ".lock"),
  props: path.join(dir, "config", `broker-${index}.properties`),
  data: path.join(dir, "data", `broker-${index}`),
  log: path.join(dir, "logs", `broker-${index}.log`),
  pid: path.join(dir, "run", `broker-${index}.pid`),
});

function readState(dir: string): ClusterState | undefined {
  const file = paths(dir).cluster;
  return fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, "utf8")) as ClusterState) : undefined;
}

function requireState(dir: string): ClusterState {
  const state = readState(dir);
  if (!state) throw new Error(`no Kafka cluster in ${dir}: run \`start\` first`);
  checkVersion(dir, state);
  return state;
}

/** The Kafka version kafka/pom.xml fetches: the one source of truth for the jars in kafka/lib. */
function kafkaVersion(): string {
  const pom = fs.readFileSync(path.join(KAFKA_DIR, "pom.xml"), "utf8");
  const m = /<kafka\.version>([^<]+)<\/kafka\.version>/.exec(pom);
  if (!m) throw new Error("kafka/pom.xml has no <kafka.version>");
  return m[1].trim();
}

/**
 * Refuses a dir made by another Kafka version rather than let a major upgrade run on old
 * metadata (or old brokers keep running): dev data is disposable, so a wipe is the fix.
 */
function checkVersion(dir: string, state: ClusterState): void {
  const have = state.kafkaVersion ?? LEGACY_VERSION;
  const want = kafkaVersion();
  if (have === want) return;
  const wipe =
    dir === DEFAULT_DIR
      ? "`npm run kafka:stop -- --wipe`"
      : `\`npx ts-node --transpile-only scripts/kafka/kafka.ts stop --dir ${dir} --wipe\``;
  throw new Error(
    `${dir} holds a Kafka ${have} cluster but the launcher now runs Kafka ${want}: ` +
      `run ${wipe} to stop it and delete its data, then start again`,
  );
}

const address = (state: ClusterState, index: number): string => `${HOST}:${state.port + index}`;
const addresses = (state: ClusterState): string[] =>
  Array.from({ length: state.brokers }, (_, i) => address(state, i));

// ---- processes ----

/** Pid of broker `index` if its pid file points at a live JVM running that broker's config. */
function brokerPid(dir: string, index: number): number | undefined {
  const p = paths(dir, index);
  if (!fs.existsSync(p.pid)) return undefined;
  const pid = Number(fs.readFileSync(p.pid, "utf8").trim());
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    process.kill(pid, 0);
  } catch {
    return undefined;
  }
  // On Linux also guard against pid reuse and unreaped zombies.
  const proc = `/proc/${pid}`;
  if (fs.existsSync(proc)) {
    try {
      const stat = fs.readFileSync(`${proc}/stat`, "utf8");
      if (stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z")) return undefined;
      if (!fs.readFileSync(`${proc}/cmdline`, "utf8").includes(p.props)) return undefined;
    } catch {
      return undefined;
    }
  }
  return pid;
}

function javaBin(): string {
  const home = process.env.JAVA_HOME;
  const fromHome = home ? path.join(home, "bin", "java") : "";
  return fromHome && fs.existsSync(fromHome) ? fromHome : "java";
}

const INSTALL_JAVA =
  "install Java 17 or newer (e.g. apt-get install openjdk-17-jdk-headless) or set JAVA_HOME";

function checkJava(): void {
  const java = javaBin();
  const res = spawnSync(java, ["-version"], { encoding: "utf8" });
  if (res.error) throw new Error(`java not found: ${INSTALL_JAVA}`);
  const m = /version "(\d+)(?:\.(\d+))?/.exec(res.stderr);
  const major = m ? (m[1] === "1" ? Number(m[2]) : Number(m[1])) : 0;
  // Kafka 4.x brokers and tools are built for Java 17; older JVMs fail with a class-version error.
  if (major < 17) {
    throw new Error(
      `${java} is Java ${major || "?"} but Kafka ${kafkaVersion()} needs Java 17 or newer: ${INSTALL_JAVA}`,
    );
  }
}

/**
 * Fetches Kafka's jars with Maven unless kafka/lib already holds them for the current pom.
 * A changed pom (e.g. a version bump) refetches from scratch: copy-dependencies never deletes,
 * and two Kafka versions on one classpath would break the broker.
 */
async function ensureJars(log: (l: string) => void): Promise<void> {
  const pom = path.join(KAFKA_DIR, "pom.xml");
  const marker = path.join(LIB_DIR, ".pom-sha256");
  const hash = createHash("sha256").update(fs.readFileSync(pom)).digest("hex");
  if (fs.existsSync(marker) && fs.readFileSync(marker, "utf8") === hash) return;
  if (spawnSync("mvn", ["-v"]).error)
    throw new Error("mvn not found: install Maven (e.g. apt-get install maven)");
  log("fetching Kafka jars with Maven into kafka/lib...");
  fs.rmSync(LIB_DIR, { recursive: true, force: true });
  const { code, output } = await run("mvn", ["-q", "-B", "-f", path.join(KAFKA_DIR, "pom.xml"), "package"]);
  if (code !== 0) throw new Error(`mvn failed to fetch Kafka (exit ${code}):\n${tail(output, 30)}`);
  fs.writeFileSync(marker, hash);
}

function run(cmd: string, args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: REPO_ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (d: Buffer) => (output += d.toString()));
    child.stderr.on("data", (d: Buffer) => (output += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? 1, output }));
  });
}

const javaArgs = (dir: string, main: string, args: string[], heap: string[] = []): string[] => [
  ...heap,
  "-Djava.awt.headless=true",
  `-Dlog4j2.configurationFile=${paths(dir).log4j}`,
  "-cp",
  path.join(LIB_DIR, "*"),
  main,
  ...args,
];

// ---- configuration ----

/** A Kafka cluster id: a random 16-byte UUID in base64url, as `kafka-storage random-uuid` prints. */
function randomClusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString("base64url");
    if (!id.startsWith("-")) return id; // a leading dash would be read as a CLI flag
  }
}

function brokerProperties(dir: string, state: ClusterState, index: number): string {
  const n = state.brokers;
  const voters = Array.from(
    { length: n },
    (_, i) => `${i}@${HOST}:${state.port + CONTROLLER_PORT_OFFSET + i}`,
  ).join(",");
  const props: Properties = {
    "process.roles": "broker,controller",
    "node.id": index,
    "controller.quorum.voters": voters,
    listeners: `PLAINTEXT://${address(state, index)},CONTROLLER://${HOST}:${state.port + CONTROLLER_PORT_OFFSET + index}`,
    "advertised.listeners": `PLAINTEXT://${address(state, index)}`,
    "controller.listener.names": "CONTROLLER",
    "inter.broker.listener.name": "PLAINTEXT",
    "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
    "log.dirs": paths(dir, index).data,
    // Replication matches the cluster size so a 3-node cluster survives losing one broker.
    "default.replication.factor": n,
    "min.insync.replicas": n >= 3 ? 2 : 1,
    "offsets.topic.replication.factor": n,
    "transaction.state.log.replication.factor": n,
    "transaction.state.log.min.isr": n >= 3 ? 2 : 1,
    // Fewer internal partitions: the first consumer group / transaction is ready much sooner.
    "offsets.topic.num.partitions": 8,
    "transaction.state.log.num.partitions": 8,
    "num.partitions": 8,
    // Tests create their topics explicitly; typos should fail, not silently make topics.
    "auto.create.topics.enable": false,
    "group.initial.rebalance.delay.ms": 0,
    // Dev cluster: bounded disk use.
    "log.retention.hours": 24,
    "log.retention.bytes": 64 * 1024 * 1024,
    "log.segment.bytes": 16 * 1024 * 1024,
    "log.retention.check.interval.ms": 60000,
    // Small thread pools: CI machines have 2 cores and may run 3 brokers.
    "num.network.threads": 2,
    "num.io.threads": 4,
    "num.recovery.threads.per.data.dir": 1,
    ...state.properties,
  };
  return (
    Object.entries(props)
      .map(([k, v]) => `${k}=${v}`)
      .join("\n") + "\n"
  );
}

// Log4j 2 (Kafka 4.x). Broker output goes to stdout, which is redirected to logs/broker-N.log.
const LOG4J = `appender.stdout.type=Console
appender.stdout.name=STDOUT
appender.stdout.layout.type=PatternLayout
appender.stdout.layout.pattern=[%d] %p %m (%c)%n
rootLogger.level=INFO
rootLogger.appenderRef.stdout.ref=STDOUT
logger.clients.name=org.apache.kafka.clients
logger.clients.level=WARN
logger.request.name=kafka.request.logger
logger.request.level=WARN
`;

function writeConfig(dir: string, state: ClusterState): void {
  for (const sub of ["config", "data", "logs", "run"]) fs.mkdirSync(path.join(dir, sub), { recursive: true });
  // The state dir lives inside the repo: keep it out of git without touching the root .gitignore.
  fs.writeFileSync(path.join(dir, ".gitignore"), "*\n");
  fs.writeFileSync(paths(dir).log4j, LOG4J);
  fs.rmSync(path.join(dir, "log4j.properties"), { force: true }); // Log4j 1 config of the 3.9 launcher
  fs.writeFileSync(paths(dir).cluster, JSON.stringify(state, null, 2) + "\n");
  for (let i = 0; i < state.brokers; i++) {
    fs.writeFileSync(paths(dir, i).props, brokerProperties(dir, state, i));
  }
}

async function formatStorage(dir: string, state: ClusterState, index: number): Promise<void> {
  const p = paths(dir, index);
  if (fs.existsSync(path.join(p.data, "meta.properties"))) return;
  const args = javaArgs(dir, "kafka.tools.StorageTool", ["format", "-t", state.clusterId, "-c", p.props]);
  const { code, output } = await run(javaBin(), args);
  if (code !== 0) throw new Error(`formatting ${p.data} failed (exit ${code}):\n${tail(output, 20)}`);
}

// ---- Kafka wire protocol: just enough of Metadata v4 to know a broker serves requests ----

interface MetadataInfo {
  clusterId: string | null;
  brokerIds: number[];
}

let correlation = 0;

function kafkaRequest(
  addr: string,
  apiKey: number,
  version: number,
  body: Buffer,
  timeoutMs: number,
): Promise<Buffer> {
  const [host, port] = [addr.slice(0, addr.lastIndexOf(":")), Number(addr.slice(addr.lastIndexOf(":") + 1))];
  const id = ++correlation;
  const clientId = Buffer.from("parsec-kafka-launcher");
  // Request header v1: api_key, api_version, correlation_id, client_id (int16-length string).
  const header = Buffer.alloc(10);
  header.writeInt16BE(apiKey, 0);
  header.writeInt16BE(version, 2);
  header.writeInt32BE(id, 4);
  header.writeInt16BE(clientId.length, 8);
  const payload = Buffer.concat([header, clientId, body]);
  const size = Buffer.alloc(4);
  size.writeInt32BE(payload.length);
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    let buf = Buffer.alloc(0);
    const done = (err: Error | null, res?: Buffer): void => {
      socket.destroy();
      if (err) reject(err);
      else resolve(res as Buffer);
    };
    socket.setTimeout(timeoutMs, () => done(new Error(`timeout talking to ${addr}`)));
    socket.on("error", (e) => done(e));
    socket.on("connect", () => socket.write(Buffer.concat([size, payload])));
    socket.on("data", (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      if (buf.length < 4 || buf.length < 4 + buf.readInt32BE(0)) return;
      if (buf.readInt32BE(4) !== id) return done(new Error(`bad correlation id from ${addr}`));
      done(null, buf.subarray(8, 4 + buf.readInt32BE(0)));
    });
    socket.on("end", () => done(new Error(`${addr} closed the connection`)));
  });
}

/** Sends a Metadata v4 request (no topics) and returns the cluster id and live broker ids. */
export async function probeBroker(addr: string, timeoutMs = 2000): Promise<MetadataInfo> {
  // topics: empty array (not null, which would mean "all topics"); allow_auto_topic_creation: false
  const res = await kafkaRequest(addr, 3, 4, Buffer.from([0, 0, 0, 0, 0]), timeoutMs);
  let off = 4; // skip throttle_time_ms
  const int32 = (): number => ((off += 4), res.readInt32BE(off - 4));
  const str = (): string | null => {
    const len = res.readInt16BE(off);
    off += 2;
    if (len < 0) return null;
    off += len;
    return res.toString("utf8", off - len, off);
  };
  const brokerIds: number[] = [];
  for (let i = int32(); i > 0; i--) {
    brokerIds.push(int32());
    str(); // host
    int32(); // port
    str(); // rack
  }
  return { clusterId: str(), brokerIds };
}

async function isReady(addr: string, state: ClusterState, needIds: number[]): Promise<boolean> {
  try {
    const info = await probeBroker(addr, 2000);
    return info.clusterId === state.clusterId && needIds.every((id) => info.brokerIds.includes(id));
  } catch {
    return false;
  }
}

const portInUse = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const s = net.connect({ host: HOST, port });
    s.once("connect", () => (s.destroy(), resolve(true)));
    s.once("error", () => resolve(false));
  });

// ---- locking: parallel test processes may all call ensureKafka() at once ----

function lockHolderAlive(lock: string): boolean {
  try {
    const holder = Number(fs.readFileSync(lock, "utf8"));
    // An empty file is a lock being written right now, unless it is old.
    if (!holder) return Date.now() - fs.statSync(lock).mtimeMs < 5000;
    process.kill(holder, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

async function withLock<T>(dir: string, fn: () => Promise<T>): Promise<T> {
  fs.mkdirSync(dir, { recursive: true });
  const lock = paths(dir).lock;
  const deadline = Date.now() + 10 * 60_000; // first run may download jars
  for (;;) {
    try {
      fs.writeFileSync(lock, String(process.pid), { flag: "wx" });
      break;
    } catch {
      if (!lockHolderAlive(lock)) fs.rmSync(lock, { force: true });
      else if (Date.now() > deadline) throw new Error(`timed out waiting for ${lock}: delete it if stale`);
      else await sleep(200);
    }
  }
  try {
    return await fn();
  } finally {
    fs.rmSync(lock, { force: true });
  }
}

// ---- logs and errors ----

function tail(text: string, lines: number): string {
  return text.trimEnd().split("\n").slice(-lines).join("\n");
}

function logTail(file: string, fromByte: number, lines = 40): string {
  if (!fs.existsSync(file)) return "(no log)";
  const text = fs.readFileSync(file).subarray(fromByte).toString("utf8");
  return tail(text, lines);
}

const HINTS: Array<[RegExp, string]> = [
  [/Address already in use/, "a port is taken by another process: stop it or use --port"],
  [/UnsupportedClassVersionError/, "Java is too old: Kafka 4.x needs Java 17 or newer"],
  [/OutOfMemoryError|Could not reserve enough space/, "not enough memory: lower KAFKA_HEAP_OPTS"],
  [/Too small (maximum|initial) heap|Invalid (maximum|initial) heap/, "fix KAFKA_HEAP_OPTS"],
  [/ClassNotFoundException|NoClassDefFoundError/, "kafka/lib is incomplete: delete it and start again"],
  [
    /Invalid cluster.id|No meta.properties|doesn't match|InconsistentClusterIdException/,
    "state dir is inconsistent: run `stop --wipe`",
  ],
];

function failure(what: string, logs: Array<{ file: string; from: number }>): Error {
  const tails = logs.map(({ file, from }) => `--- ${file} (tail) ---\n${logTail(file, from)}`).join("\n");
  const hint = HINTS.find(([re]) => re.test(tails));
  return new Error(`${what}${hint ? `\nHint: ${hint[1]}` : ""}\n${tails}`);
}

// ---- broker lifecycle ----

/** Spawns broker `index` detached (it outlives this process); returns the log offset it starts at. */
async function spawnBroker(
  dir: string,
  state: ClusterState,
  index: number,
): Promise<{ file: string; from: number }> {
  const p = paths(dir, index);
  for (const port of [state.port + index, state.port + CONTROLLER_PORT_OFFSET + index]) {
    if (await portInUse(port)) {
      throw new Error(
        `port ${port} is in use by a process that is not broker ${index} of ${dir}: stop it or use --port`,
      );
    }
  }
  await formatStorage(dir, state, index);
  const from = fs.existsSync(p.log) ? fs.statSync(p.log).size : 0;
  const fd = fs.openSync(p.log, "a");
  const heap = (process.env.KAFKA_HEAP_OPTS ?? "-Xmx512m -Xms256m").split(/\s+/).filter(Boolean);
  const child = spawn(javaBin(), javaArgs(dir, "kafka.Kafka", [p.props], [...heap, "-XX:+UseG1GC"]), {
    cwd: dir,
    detached: true,
    stdio: ["ignore", fd, fd],
  });
  fs.closeSync(fd);
  child.on("error", () => undefined); // reported through the readiness check and the log
  child.unref();
  if (child.pid === undefined) throw new Error(`could not spawn ${javaBin()}`);
  fs.writeFileSync(p.pid, `${child.pid}\n`);
  return { file: p.log, from };
}

/** Waits until each listed broker answers Metadata with our cluster id and sees `needIds` alive. */
async function waitReady(
  dir: string,
  state: ClusterState,
  indexes: number[],
  needIds: number[],
  timeoutMs: number,
  logs: Array<{ file: string; from: number }>,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const pending = new Set(indexes);
  while (pending.size > 0) {
    for (const i of [...pending]) {
      if (await isReady(address(state, i), state, needIds)) pending.delete(i);
      else if (brokerPid(dir, i) === undefined) throw failure(`broker ${i} exited during startup`, logs);
    }
    if (pending.size === 0) return;
    if (Date.now() > deadline) {
      throw failure(`broker(s) ${[...pending].join(",")} not ready after ${timeoutMs / 1000}s`, logs);
    }
    await sleep(250);
  }
}

/** Starts (or reuses) a local cluster in `dir` and waits until every broker serves requests. */
export async function startKafka(options: StartOptions = {}): Promise<KafkaCluster> {
  const dir = path.resolve(options.dir ?? DEFAULT_DIR);
  const log = options.log ?? defaultLog;
  const timeoutMs = options.timeoutMs ?? 60_000;
  const cluster = await withLock(dir, async () => {
    const stored = readState(dir);
    if (stored) checkVersion(dir, stored);
    const state: ClusterState = {
      clusterId: stored?.clusterId ?? randomClusterId(),
      kafkaVersion: kafkaVersion(),
      brokers: options.brokers ?? stored?.brokers ?? 1,
      port: options.port ?? stored?.port ?? 9092,
      properties: options.properties ?? stored?.properties,
    };
    if (state.brokers !== 1 && state.brokers !== 3) throw new Error("--brokers must be 1 or 3");
    if (stored && (stored.brokers !== state.brokers || stored.port !== state.port)) {
      throw new Error(
        `${dir} holds a ${stored.brokers}-broker cluster on port ${stored.port}; ` +
          "run `stop --wipe` first or use another --dir",
      );
    }
    const all = Array.from({ length: state.brokers }, (_, i) => i);
    const running = all.filter((i) => brokerPid(dir, i) !== undefined);
    if (running.length > 0 && JSON.stringify(state.properties) !== JSON.stringify(stored?.properties)) {
      log("properties differ from the running brokers: stop and start again to apply them");
    }
    if (
      running.length === all.length &&
      (await Promise.all(all.map((i) => isReady(address(state, i), state, all)))).every(Boolean)
    ) {
      log(`already running (${dir})`);
      return state;
    }
    checkJava();
    await ensureJars(log);
    writeConfig(dir, state);
    const started = Date.now();
    const toStart = all.filter((i) => !running.includes(i));
    // Format in parallel: each StorageTool run is a JVM start (~1s).
    await Promise.all(toStart.map((i) => formatStorage(dir, state, i)));
    const logs: Array<{ file: string; from: number }> = [];
    try {
      for (const i of toStart) logs.push(await spawnBroker(dir, state, i));
      log(`starting ${toStart.length} broker(s), logs in ${path.join(dir, "logs")}`);
      await waitReady(dir, state, all, all, timeoutMs, logs);
    } catch (e) {
      // Leave nothing half-started behind: the next `start` begins from a clean slate.
      await Promise.all(toStart.map((i) => stopBroker(dir, i, "SIGKILL")));
      throw e;
    }
    log(`ready in ${((Date.now() - started) / 1000).toFixed(1)}s`);
    return state;
  });
  return { brokers: addresses(cluster), stop: () => stopKafka(dir) };
}

/** Stops every broker of `dir` (SIGTERM, then SIGKILL after a grace period); `wipe` drops data. */
export async function stopKafka(dir: string = DEFAULT_DIR, wipe = false): Promise<void> {
  dir = path.resolve(dir);
  if (!fs.existsSync(dir)) return;
  await withLock(dir, async () => {
    const state = readState(dir);
    const n = state?.brokers ?? 0;
    await Promise.all(Array.from({ length: n }, (_, i) => stopBroker(dir, i)));
    if (wipe) {
      for (const sub of ["data", "config", "run", "cluster.json"]) {
        fs.rmSync(path.join(dir, sub), { recursive: true, force: true });
      }
    }
  });
}

/**
 * Sends `signal` to broker `index`. SIGSTOP/SIGCONT just pause/resume it (for fault tests);
 * any other signal waits for exit, escalating to SIGKILL after 30s, and removes the pid file.
 */
export async function stopBroker(
  dir: string,
  index: number,
  signal: NodeJS.Signals = "SIGTERM",
): Promise<void> {
  dir = path.resolve(dir);
  const pid = brokerPid(dir, index);
  const pidFile = paths(dir, index).pid;
  if (pid === undefined) {
    fs.rmSync(pidFile, { force: true });
    return;
  }
  const kill = (sig: NodeJS.Signals): void => {
    try {
      process.kill(pid, sig);
    } catch {
      // already gone
    }
  };
  kill(signal);
  if (signal === "SIGSTOP" || signal === "SIGCONT") return;
  if (signal !== "SIGKILL") kill("SIGCONT"); // a paused (SIGSTOPped) broker must run to exit
  // Controlled shutdown moves leadership away first; it can stall once the quorum is gone.
  const graceEnd = Date.now() + 30_000;
  let killed = signal === "SIGKILL";
  while (brokerPid(dir, index) !== undefined) {
    if (!killed && Date.now() > graceEnd) {
      kill("SIGKILL");
      killed = true;
    }
    if (Date.now() > graceEnd + 10_000) throw new Error(`broker ${index} (pid ${pid}) won't die`);
    await sleep(100);
  }
  fs.rmSync(pidFile, { force: true });
}

/** Restarts broker `index` of an existing cluster from its formatted storage; returns its address. */
export async function startBroker(dir: string, index: number, timeoutMs = 60_000): Promise<string> {
  dir = path.resolve(dir);
  const state = requireState(dir);
  if (index < 0 || index >= state.brokers) throw new Error(`no broker ${index} in ${dir}`);
  if (brokerPid(dir, index) === undefined) {
    checkJava();
    const logFile = await spawnBroker(dir, state, index);
    // Wait only for this broker to be registered: other brokers may be down on purpose.
    await waitReady(dir, state, [index], [index], timeoutMs, [logFile]).catch(async (e: unknown) => {
      await stopBroker(dir, index, "SIGKILL");
      throw e;
    });
  }
  return address(state, index);
}

export async function kafkaStatus(dir: string = DEFAULT_DIR): Promise<{
  dir: string;
  clusterId: string | null;
  brokers: BrokerStatus[];
}> {
  dir = path.resolve(dir);
  const state = readState(dir);
  if (!state) return { dir, clusterId: null, brokers: [] };
  const brokers = await Promise.all(
    Array.from({ length: state.brokers }, async (_, i): Promise<BrokerStatus> => {
      const pid = brokerPid(dir, i) ?? null;
      const ready = pid !== null && (await isReady(address(state, i), state, [i]));
      return {
        index: i,
        address: address(state, i),
        pid,
        running: pid !== null,
        ready,
        log: paths(dir, i).log,
      };
    }),
  );
  return { dir, clusterId: state.clusterId, brokers };
}

/**
 * For tests and CI: the brokers in KAFKA_BROKERS if set (nothing is started), otherwise a local
 * broker in the default dir, started on first use and reused afterwards.
 */
export async function ensureKafka(): Promise<string[]> {
  const fromEnv = (process.env.KAFKA_BROKERS ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  if (fromEnv.length > 0) return fromEnv;
  return (await startKafka()).brokers;
}
