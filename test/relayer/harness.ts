/**
 * What the relayer tests share: a real Kafka broker (ensureKafka, honouring KAFKA_BROKERS), the
 * in-process Hardhat chain served over JSON-RPC on a free loopback port, a deployed ParsecChannels,
 * funded participants, unique topic names per run, and channels whose transfers are built and signed
 * with the SDK. Everything a test creates is removed by `close()`.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import hre from "hardhat";
import { JsonRpcServer } from "hardhat/internal/hardhat-network/jsonrpc/server";
import { Wallet, ZeroAddress, parseEther, type Contract } from "ethers";
import {
  type Address,
  buildTransfer,
  ChannelLedger,
  type ChannelParams,
  codecs,
  type DeadLetter,
  DEFAULT_TOPICS,
  type Domain,
  type Hash,
  type Hex,
  type PayerIndex,
  type SettlementEvent,
  type SignedTransfer,
  signTransferUnjournaled,
  transferMessage,
  type TransferOp,
  nativeSigner,
  ROUTE_APP_KIND,
} from "../../sdk";
import { channelIdOf, parsecDomain } from "../../sdk/src/eip712";
import { ensureKafka, REPO_ROOT } from "../../scripts/kafka/launcher";
import { loadConfig, type RelayerConfig } from "../../relayer/src/config";
import {
  createLogClient,
  type InRecord,
  type LogClient,
  type LogProducer,
  type OutRecord,
} from "../../relayer/src/kafka/client";
import { channelKey } from "../../relayer/src/kafka/topics";
import { silentLogger, createLogger, type Logger } from "../../relayer/src/log";
import { signerGroupId } from "../../relayer/src/signer/signer";

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `check` until it returns a value (not undefined/false) or `timeoutMs` passes. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 30_000,
  everyMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline)
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${String(last)})` : ""}`,
      );
    await sleep(everyMs);
  }
}

export function testLogger(): Logger {
  return process.env.RELAYER_TEST_LOG ? createLogger("debug") : silentLogger;
}

/** One payer's chain built by the test (the independent computation the node is compared with). */
export class TestChannel {
  readonly ledger: ChannelLedger;
  readonly signers: readonly [ReturnType<typeof nativeSigner>, ReturnType<typeof nativeSigner>];

  constructor(
    readonly domain: Domain,
    readonly params: ChannelParams,
    readonly id: Hash,
    readonly wallets: readonly [Wallet, Wallet],
    deposit0: bigint,
    deposit1: bigint,
  ) {
    this.ledger = new ChannelLedger({
      domain,
      params,
      deposit0,
      deposit1,
      verifySignature: "none",
      enforceFunds: true,
    });
    this.signers = [nativeSigner(wallets[0].privateKey as Hex), nativeSigner(wallets[1].privateKey as Hex)];
  }

  /** Builds, signs and applies (to the test's ledger) the next transfer of `payer`. */
  next(payer: PayerIndex, op: TransferOp, sentAtMs = Date.now()): { transfer: SignedTransfer; wire: Buffer } {
    const t = buildTransfer(this.ledger.state(payer), { channelId: this.id, payer }, op);
    const signed = signTransferUnjournaled(this.signers[payer], this.domain, t);
    this.ledger.apply(signed);
    return { transfer: signed, wire: this.encode(signed, sentAtMs) };
  }

  /** A signed transfer that the test's ledger does not apply (for faults: equivocation, bad input). */
  sign(
    payer: PayerIndex,
    op: TransferOp,
    from = this.ledger.state(payer),
  ): { transfer: SignedTransfer; wire: Buffer } {
    const t = buildTransfer(from, { channelId: this.id, payer }, op);
    const signed = signTransferUnjournaled(this.signers[payer], this.domain, t);
    return { transfer: signed, wire: this.encode(signed) };
  }

  encode(t: SignedTransfer, sentAtMs = Date.now()): Buffer {
    return codecs().transfer.encode(
      transferMessage(this.domain, t, this.signers[t.payer].address, { sentAtMs }),
    );
  }

  record(wire: Buffer): OutRecord {
    return { key: channelKey(this.id), value: wire };
  }

  /** A LOCK carrying a forwarding onion (`appKind` ROUTE, protocol §11.5), as a record of this channel. */
  routedLockRecord(t: SignedTransfer, packet: Hex): OutRecord {
    const message = transferMessage(this.domain, t, this.signers[t.payer].address, {
      appKind: ROUTE_APP_KIND,
      appData: packet,
      sentAtMs: Date.now(),
    });
    return this.record(codecs().transfer.encode(message));
  }
}

export interface HarnessOptions {
  /** Brokers to use instead of ensureKafka() (fault tests start their own cluster). */
  readonly brokers?: readonly string[];
  readonly partitions?: number;
}

/** The fee policy of the tests' mediating nodes. */
export interface TestMediationPolicy {
  readonly feeBase: bigint;
  readonly feePpm: number;
  readonly expiryDelta: number;
  readonly minConfirmationMarginSeconds: number;
}

export const TEST_MEDIATION_POLICY: TestMediationPolicy = {
  feeBase: 1_000n,
  feePpm: 1_000,
  expiryDelta: 600,
  minConfirmationMarginSeconds: 120,
};

/** A node's `mediation` settings (config overrides) for `policy`. */
export function mediationSettings(
  policy: TestMediationPolicy = TEST_MEDIATION_POLICY,
): Record<string, unknown> {
  return {
    enabled: true,
    feeBase: policy.feeBase.toString(),
    feePpm: policy.feePpm,
    expiryDelta: policy.expiryDelta,
    minConfirmationMarginSeconds: policy.minConfirmationMarginSeconds,
  };
}

export class Harness {
  readonly prefix = `rt${Date.now().toString(36)}${randomBytes(3).toString("hex")}.`;
  readonly groupId = `${this.prefix}nodes`;
  readonly topics = {
    transfers: this.prefix + DEFAULT_TOPICS.transfers,
    control: this.prefix + DEFAULT_TOPICS.control,
    checkpointProposals: this.prefix + DEFAULT_TOPICS.checkpointProposals,
    checkpointSignatures: this.prefix + DEFAULT_TOPICS.checkpointSignatures,
    settlements: this.prefix + DEFAULT_TOPICS.settlements,
    stateChangelog: this.prefix + DEFAULT_TOPICS.stateChangelog,
    deadLetter: this.prefix + DEFAULT_TOPICS.deadLetter,
  };
  readonly stateDir = fs.mkdtempSync(path.join(os.tmpdir(), "parsec-relayer-"));
  readonly submitter = Wallet.createRandom();
  private server!: JsonRpcServer;
  private children = new Set<ChildProcess>();
  /** Consumer groups to delete at the end besides the nodes' group (e.g. signer groups). */
  readonly extraGroups: string[] = [];
  private nonce = 1n;
  rpcUrl = "";
  brokers: readonly string[] = [];
  client!: LogClient;
  producer!: LogProducer;
  channels!: Contract;
  address!: Address;
  chainId!: bigint;
  domain!: Domain;
  partitions = 4;

  static async create(opts: HarnessOptions = {}): Promise<Harness> {
    const h = new Harness();
    h.partitions = opts.partitions ?? 4;
    h.brokers = opts.brokers ?? (await ensureKafka());
    h.server = new JsonRpcServer({ hostname: "127.0.0.1", port: 0, provider: hre.network.provider });
    const { port } = await h.server.listen();
    h.rpcUrl = `http://127.0.0.1:${port}`;
    const factory = await hre.ethers.getContractFactory("ParsecChannels");
    const c = await factory.deploy();
    await c.waitForDeployment();
    h.channels = c as unknown as Contract;
    h.address = (await c.getAddress()) as Address;
    h.chainId = (await hre.ethers.provider.getNetwork()).chainId;
    h.domain = parsecDomain(h.chainId, h.address);
    await h.fund(h.submitter.address);
    h.client = createLogClient({ brokers: h.brokers, clientId: `${h.prefix}test`, logger: silentLogger });
    h.producer = await h.client.producer();
    return h;
  }

  async fund(address: string, eth = "1000"): Promise<void> {
    await hre.network.provider.send("hardhat_setBalance", [address, `0x${parseEther(eth).toString(16)}`]);
  }

  /**
   * A mediating node's configuration: `key`'s channels, the tests' fee policy, a 100 ms flush (a hop waits
   * for the flush that journals it) and no periodic checkpoints.
   */
  mediatorConfig(key: string, policy: TestMediationPolicy = TEST_MEDIATION_POLICY): RelayerConfig {
    return this.config(
      {
        nodeId: `${this.prefix}mediator`,
        state: { flushIntervalMs: 100 },
        commit: { everyM: 100_000 },
        mediation: mediationSettings(policy),
      },
      { PARSEC_SIGNER_KEYS: key },
    );
  }

  /** The node's configuration for this run (in-process nodes). */
  config(overrides: Record<string, unknown> = {}, env: Record<string, string> = {}): RelayerConfig {
    this.noteSignerGroup(env);
    return loadConfig({
      env: { PARSEC_SUBMITTER_KEY: this.submitter.privateKey, ...env },
      overrides: this.overrides(overrides) as never,
    });
  }

  /** A node with signer keys runs a signer consumer group: remember it for the cleanup. */
  private noteSignerGroup(env: Record<string, string>): void {
    const keys = (env.PARSEC_SIGNER_KEYS ?? "").split(",").filter(Boolean);
    if (keys.length === 0) return;
    const signers = new Map(
      keys.map((k) => [nativeSigner(k as Hex).address.toLowerCase(), nativeSigner(k as Hex)]),
    );
    const id = signerGroupId(this.groupId, signers);
    if (!this.extraGroups.includes(id)) this.extraGroups.push(id);
  }

  /** Settings as the JSON a child node reads (merged over the defaults of the tests). */
  overrides(extra: Record<string, unknown> = {}): Record<string, unknown> {
    const base: Record<string, unknown> = {
      nodeId: `${this.prefix}node`,
      kafka: {
        brokers: [...this.brokers],
        groupId: this.groupId,
        topicPrefix: this.prefix,
        partitions: this.partitions,
        sessionTimeoutMs: 6000,
        heartbeatIntervalMs: 500,
      },
      chain: {
        rpcUrl: this.rpcUrl,
        channels: this.address,
        pollIntervalMs: 200,
        fees: { bumpAfterMs: 2000 },
      },
      verify: { threads: 2 },
      state: { dir: this.stateDir, flushIntervalMs: 200 },
      commit: { everyM: 1000, checkpointTimeoutMs: 600_000, signatureTimeoutMs: 2000, batchMaxWaitMs: 100 },
      http: { host: "127.0.0.1", port: 0 },
    };
    return merge(base, extra);
  }

  /**
   * Opens a channel between two fresh funded wallets, in ETH or (with `token`) in that ERC-20, minted to
   * both and approved; P1 deposits too when `deposit1 > 0`.
   */
  async openChannel(
    deposit0 = parseEther("10"),
    deposit1 = parseEther("10"),
    wallets?: readonly [Wallet, Wallet],
    token?: Contract,
  ): Promise<TestChannel> {
    const [w0, w1] = wallets ?? [Wallet.createRandom(), Wallet.createRandom()];
    await this.fund(w0.address);
    await this.fund(w1.address);
    const provider = hre.ethers.provider;
    const p0 = new Wallet(w0.privateKey, provider);
    const p1 = new Wallet(w1.privateKey, provider);
    const params: ChannelParams = {
      participant0: w0.address as Address,
      participant1: w1.address as Address,
      asset: (token ? await token.getAddress() : ZeroAddress) as Address,
      challengePeriod: 3600,
      nonce: this.nonce++,
    };
    const id = channelIdOf(this.domain, params);
    const by = (w: Wallet) => this.channels.connect(w) as Contract;
    if (token) {
      for (const [w, amount] of [
        [p0, deposit0],
        [p1, deposit1],
      ] as const) {
        if (amount === 0n) continue;
        await (await token.getFunction("mint")(w.address, amount)).wait();
        const t = token.connect(w) as Contract;
        await (await t.getFunction("approve")(this.address, amount)).wait();
      }
      await (
        await by(p0).getFunction("openToken")(
          params.participant1,
          params.asset,
          params.challengePeriod,
          params.nonce,
          deposit0,
        )
      ).wait();
      if (deposit1 > 0n) await (await by(p1).getFunction("depositToken")(params, 1, deposit1)).wait();
    } else {
      await (
        await by(p0).getFunction("openEth")(params.participant1, params.challengePeriod, params.nonce, {
          value: deposit0,
        })
      ).wait();
      if (deposit1 > 0n) await (await by(p1).getFunction("deposit")(id, 1, { value: deposit1 })).wait();
    }
    return new TestChannel(
      this.domain,
      params,
      id,
      [new Wallet(w0.privateKey), new Wallet(w1.privateKey)],
      deposit0,
      deposit1,
    );
  }

  /** Deploys an 18-decimal ERC-20 anyone may mint (`contracts/test/TestToken.sol`). */
  async deployToken(symbol = "TST"): Promise<Contract> {
    const factory = await hre.ethers.getContractFactory("TestToken");
    const token = await factory.deploy(`Test ${symbol}`, symbol, 18);
    await token.waitForDeployment();
    return token as unknown as Contract;
  }

  async produce(records: readonly OutRecord[], topic = this.topics.transfers): Promise<void> {
    await this.producer.send(topic, records);
  }

  /** Every record of a topic (all partitions), from the beginning. */
  async readAll(topic: string): Promise<InRecord[]> {
    const ends = await this.client.endOffsets(topic);
    const out: InRecord[] = [];
    for (const [p, end] of ends) await this.client.readPartition(topic, p, 0, end, (rs) => out.push(...rs));
    return out.sort((a, b) => a.partition - b.partition || a.offset - b.offset);
  }

  async deadLetters(): Promise<DeadLetter[]> {
    return (await this.readAll(this.topics.deadLetter)).map((r) =>
      codecs().deadLetter.decode(r.value as Buffer),
    );
  }

  async settlements(): Promise<SettlementEvent[]> {
    return (await this.readAll(this.topics.settlements)).map((r) =>
      codecs().settlement.decode(r.value as Buffer),
    );
  }

  /**
   * The contract's on-chain seqs of a channel: per payer the on-chain head's seq (the checkpoint word's or
   * the proven word's, whichever is higher), and the checkpoint word's seqs and commitment.
   */
  async onchain(id: Hash): Promise<{
    seq0: number;
    seq1: number;
    status: number;
    checkpoint: { seq0: number; seq1: number; commitment: bigint };
    proven: readonly [{ seq: number; head224: bigint }, { seq: number; head224: bigint }];
  }> {
    const [record, seq0, seq1, commitment] = (await this.channels.getFunction("channelState")(id)) as [
      { status: bigint },
      bigint,
      bigint,
      bigint,
    ];
    const [p0, h0, p1, h1] = (await this.channels.getFunction("provenHeadsOf")(id)) as [
      bigint,
      bigint,
      bigint,
      bigint,
    ];
    return {
      seq0: Math.max(Number(seq0), Number(p0)),
      seq1: Math.max(Number(seq1), Number(p1)),
      status: Number(record.status),
      checkpoint: { seq0: Number(seq0), seq1: Number(seq1), commitment: BigInt(commitment) },
      proven: [
        { seq: Number(p0), head224: BigInt(h0) },
        { seq: Number(p1), head224: BigInt(h1) },
      ],
    };
  }

  /** Starts a node as a child process (`relayer/src/main.ts`); resolves with its HTTP URL once ready. */
  async spawnNode(
    name: string,
    extra: Record<string, unknown> = {},
    env: Record<string, string> = {},
    /** The node's disk: runs that share it are restarts of one node; two live nodes never share one. */
    disk = name,
  ): Promise<{ child: ChildProcess; url: string; exited: Promise<number | null> }> {
    this.noteSignerGroup(env);
    const file = path.join(this.stateDir, `${name}.json`);
    fs.writeFileSync(
      file,
      JSON.stringify(
        this.overrides({
          nodeId: name,
          ...extra,
          state: { ...(extra.state as object), dir: path.join(this.stateDir, "disk-" + disk) },
        }),
      ),
    );
    const child = spawn(
      process.execPath,
      [
        // A CPU profile of each node for performance work (read with Chrome's DevTools).
        ...(process.env.PARSEC_NODE_CPU_PROF_DIR
          ? ["--cpu-prof", `--cpu-prof-dir=${process.env.PARSEC_NODE_CPU_PROF_DIR}`]
          : []),
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
          // The environment would override the config file: point it at this harness's cluster.
          KAFKA_BROKERS: this.brokers.join(","),
          PARSEC_SUBMITTER_KEY: this.submitter.privateKey,
          TS_NODE_PROJECT: path.join(REPO_ROOT, "tsconfig.json"),
          ...env,
        },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    this.children.add(child);
    const logFile = fs.createWriteStream(path.join(this.stateDir, `${name}.log`), { flags: "a" });
    child.stderr?.pipe(logFile);
    const exited = new Promise<number | null>((resolve) =>
      child.once("exit", (code) => {
        this.children.delete(child);
        resolve(code);
      }),
    );
    const url = await new Promise<string>((resolve, reject) => {
      let buf = "";
      const timer = setTimeout(
        () => reject(new Error(`${name} did not start within 60 s; see ${logFile.path}`)),
        60_000,
      );
      child.stdout?.on("data", (d: Buffer) => {
        buf += d.toString();
        const line = buf.split("\n").find((l) => l.startsWith('{"ready":true'));
        if (line) {
          clearTimeout(timer);
          resolve((JSON.parse(line) as { url: string }).url);
        }
      });
      void exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`${name} exited with ${code} before it was ready; see ${logFile.path}`));
      });
    });
    return { child, url, exited };
  }

  /** Kills every node this harness spawned that still runs: a failed test must not leave members in the group. */
  async killNodes(): Promise<void> {
    await Promise.all(
      [...this.children].map(
        (c) =>
          new Promise<void>((resolve) => {
            if (c.exitCode !== null || c.signalCode !== null) return resolve();
            c.once("exit", () => resolve());
            c.kill("SIGKILL");
          }),
      ),
    );
  }

  logOf(name: string): string {
    const f = path.join(this.stateDir, `${name}.log`);
    return fs.existsSync(f) ? fs.readFileSync(f, "utf8") : "";
  }

  async close(): Promise<void> {
    if (process.env.PARSEC_NODE_CPU_PROF_DIR) {
      // A profile is written only by a node that exits: stop them cleanly first.
      await Promise.all(
        [...this.children].map(
          (c) =>
            new Promise<void>((resolve) => {
              if (c.exitCode !== null || c.signalCode !== null) return resolve();
              const timer = setTimeout(resolve, 20_000);
              c.once("exit", () => {
                clearTimeout(timer);
                resolve();
              });
              c.kill("SIGTERM");
            }),
        ),
      );
    }
    for (const c of this.children) c.kill("SIGKILL");
    await this.producer?.close().catch(() => undefined);
    await this.client?.deleteTopics(Object.values(this.topics)).catch(() => undefined);
    const groups = [this.groupId, ...this.extraGroups];
    await this.client?.deleteGroups(groups).catch(() => undefined);
    await this.client?.close().catch(() => undefined);
    await this.server?.close().catch(() => undefined);
    if (!process.env.RELAYER_TEST_KEEP) fs.rmSync(this.stateDir, { recursive: true, force: true });
  }
}

function merge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] =
      v && typeof v === "object" && !Array.isArray(v) && b && typeof b === "object" && !Array.isArray(b)
        ? merge(b as Record<string, unknown>, v as Record<string, unknown>)
        : v;
  }
  return out;
}

/** GET a node URL as JSON. */
export async function getJson<T>(url: string): Promise<{ status: number; body: T }> {
  const res = await fetch(url);
  return { status: res.status, body: (await res.json()) as T };
}

/**
 * Payments over `channels` (both payers, deposits never exhausted), with neighbours swapped (~5 %) and
 * copies re-sent later (~2 %). `duplicates` holds the copies' bytes: the only transfers the node may
 * dead-letter as Duplicate.
 */
export function workload(
  channels: readonly TestChannel[],
  count: number,
  random: () => number,
): { records: OutRecord[]; duplicates: Set<string> } {
  const records: OutRecord[] = [];
  const duplicates = new Set<string>();
  for (let i = 0; i < count; i++) {
    const c = channels[Math.floor(random() * channels.length)];
    const payer = (random() < 0.5 ? 0 : 1) as PayerIndex;
    records.push(
      c.record(
        c.next(payer, { kind: "PAY", amount: 1_000_000_000n + BigInt(Math.floor(random() * 1000)) }).wire,
      ),
    );
  }
  for (let i = 1; i < records.length; i++) {
    if (random() < 0.05) [records[i - 1], records[i]] = [records[i], records[i - 1]];
  }
  const out: OutRecord[] = [];
  for (let i = 0; i < records.length; i++) {
    out.push(records[i]);
    if (i > 3 && random() < 0.02) {
      const copy = records[i - 1 - Math.floor(random() * 3)];
      duplicates.add((copy.value as Buffer).toString("hex"));
      out.push(copy);
    }
  }
  return { records: out, duplicates };
}
