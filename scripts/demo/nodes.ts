/**
 * The network's mediating nodes: each a separate `relayer/src/main.ts` process with its own JSON config,
 * consumer group, disk and submitter key, reading the shared input topics (transfers, payment messages,
 * channel graph) of the local broker, and forwarding routed payments with its operator's channel key.
 */
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { Wallet } from "ethers";
import type { TopicNames } from "../../relayer/src/config";
import type { PaymentReport } from "../../relayer/src/mediate/history";
import { REPO_ROOT } from "../kafka/launcher";
import type { DemoChain } from "./chain";

/** The mediators' fee policy (δ ≥ m: expiry delta and confirmation margin, seconds). */
export const MEDIATION_POLICY = {
  feeBase: 1_000n,
  feePpm: 1_000,
  expiryDelta: 600,
  minConfirmationMarginSeconds: 120,
} as const;

const READY_TIMEOUT_MS = 90_000;
/** A hop waits for the flush that journals it: flush often (docs/relayer.md "Mediation"). */
const FLUSH_INTERVAL_MS = 100;
/** No periodic checkpoints: the network's channels settle through the watchtower at the end. */
const NEVER_CHECKPOINT = 100_000;

/** The topics every node of the network reads; each node's own topics carry its name. */
export type SharedTopics = Pick<TopicNames, "transfers" | "paymentMessages" | "channelGraph">;

export interface NodeSetup {
  readonly chain: DemoChain;
  readonly brokers: readonly string[];
  readonly prefix: string;
  readonly shared: SharedTopics;
  readonly workDir: string;
}

/** A mediating node of the network; `start` (again) runs it on the same disk, i.e. restarts it. */
export class MediatorNode {
  readonly submitter = Wallet.createRandom();
  private child: ChildProcess | null = null;
  private exited: Promise<number | null> = Promise.resolve(null);
  url = "";
  starts = 0;

  constructor(
    readonly name: string,
    /** The operator's channel key (also its onion routing key). */
    readonly key: string,
    private readonly setup: NodeSetup,
  ) {}

  get groupId(): string {
    return `${this.setup.prefix}${this.name}.nodes`;
  }

  get logPath(): string {
    return path.join(this.setup.workDir, `${this.name}.log`);
  }

  /** The node's own topics (changelog, settlements, dead letters, …) behind its name. */
  get topicPrefix(): string {
    return `${this.setup.prefix}${this.name}.`;
  }

  private config(): Record<string, unknown> {
    const { chain, brokers, shared, workDir } = this.setup;
    return {
      nodeId: `${this.setup.prefix}${this.name}`,
      kafka: {
        brokers: [...brokers],
        groupId: this.groupId,
        topicPrefix: this.topicPrefix,
        topics: { ...shared },
        partitions: 4,
        sessionTimeoutMs: 6000,
        heartbeatIntervalMs: 500,
      },
      chain: {
        rpcUrl: chain.rpcUrl,
        channels: chain.address,
        pollIntervalMs: 200,
        fees: { bumpAfterMs: 2000 },
      },
      verify: { threads: 1 },
      state: { dir: path.join(workDir, `disk-${this.name}`), flushIntervalMs: FLUSH_INTERVAL_MS },
      commit: { everyM: NEVER_CHECKPOINT, checkpointTimeoutMs: 600_000, batchMaxWaitMs: 100 },
      http: { host: "127.0.0.1", port: 0 },
      mediation: {
        enabled: true,
        feeBase: MEDIATION_POLICY.feeBase.toString(),
        feePpm: MEDIATION_POLICY.feePpm,
        expiryDelta: MEDIATION_POLICY.expiryDelta,
        minConfirmationMarginSeconds: MEDIATION_POLICY.minConfirmationMarginSeconds,
      },
    };
  }

  /** Starts the process; resolves with its HTTP URL once it printed its ready line. */
  async start(): Promise<string> {
    if (this.child) throw new Error(`${this.name} is already running`);
    const file = path.join(this.setup.workDir, `${this.name}.json`);
    fs.writeFileSync(file, JSON.stringify(this.config()));
    const child = spawn(
      process.execPath,
      [
        "-r",
        "ts-node/register/transpile-only",
        path.join(REPO_ROOT, "relayer/src/main.ts"),
        "--config",
        file,
      ],
      {
        cwd: REPO_ROOT,
        env: {
          ...process.env,
          // The environment would override the config file: point it at the demo's broker and keys.
          KAFKA_BROKERS: this.setup.brokers.join(","),
          PARSEC_SUBMITTER_KEY: this.submitter.privateKey,
          PARSEC_SIGNER_KEYS: this.key,
          TS_NODE_PROJECT: path.join(REPO_ROOT, "tsconfig.json"),
        },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    this.child = child;
    this.starts++;
    child.stderr?.pipe(fs.createWriteStream(this.logPath, { flags: "a" }));
    this.exited = new Promise((resolve) =>
      child.once("exit", (code) => {
        if (this.child === child) this.child = null;
        resolve(code);
      }),
    );
    this.url = await new Promise<string>((resolve, reject) => {
      let buf = "";
      const timer = setTimeout(
        () =>
          reject(new Error(`${this.name} did not start within ${READY_TIMEOUT_MS} ms; see ${this.logPath}`)),
        READY_TIMEOUT_MS,
      );
      child.stdout?.on("data", (d: Buffer) => {
        buf += d.toString();
        const line = buf.split("\n").find((l) => l.startsWith('{"ready":true'));
        if (line) {
          clearTimeout(timer);
          resolve((JSON.parse(line) as { url: string }).url);
        }
      });
      void this.exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`${this.name} exited with ${code} before it was ready; see ${this.logPath}`));
      });
    });
    return this.url;
  }

  /** SIGKILL: no clean stop, nothing flushed beyond what the node already made durable. */
  async kill(): Promise<void> {
    this.child?.kill("SIGKILL");
    await this.exited;
  }

  /** A clean stop (SIGTERM), then SIGKILL if it takes too long. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child) return;
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
    await this.exited;
    clearTimeout(timer);
  }

  /** GET a path of the node's HTTP API as JSON. */
  async get<T>(urlPath: string): Promise<T> {
    const res = await fetch(`${this.url}${urlPath}`);
    if (!res.ok) throw new Error(`${this.name} ${urlPath}: HTTP ${res.status}`);
    return (await res.json()) as T;
  }
}

/** The node's rows of `GET /payments` (docs/relayer.md) under `hashlock` (normally one). */
export async function paymentsOf(node: MediatorNode, hashlock: string): Promise<PaymentReport[]> {
  const { payments } = await node.get<{ payments: PaymentReport[] }>("/payments");
  return payments.filter((p) => p.hashlock.toLowerCase() === hashlock.toLowerCase());
}
