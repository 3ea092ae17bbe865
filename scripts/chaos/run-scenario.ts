/**
 * Runs one scenario: opens its own channels, waits for a settled group, streams transfers, lets the
 * scenario inject its faults (each recorded with the moment it ended and what the brokers had
 * acknowledged then), stops the stream, gives the nodes until the recovery deadline, and accounts.
 */
import type { Hash } from "../../sdk";
import type { TopicNames } from "../../relayer/src/config";
import type { LogClient, LogProducer } from "../../relayer/src/kafka/client";
import { account, type Verdict } from "./account";
import type { ChaosBrokers } from "./brokers";
import type { ChaosChain } from "./chain";
import { CounterTotals, DOUBLE_APPLY, REJECTED, grew } from "./counters";
import type { NodeFleet } from "./nodes";
import type { OnchainWatch } from "./onchain-watch";
import { getJson, health } from "./probe";
import { Progress } from "./progress";
import type { ChaosSettings } from "./settings";
import { Traffic } from "./traffic";
import type { SimChannel } from "../simulator/generate";

export interface ChaosContext {
  readonly settings: ChaosSettings;
  readonly log: (m: string) => void;
  readonly random: () => number;
  readonly chain: ChaosChain;
  readonly brokers: ChaosBrokers;
  readonly fleet: NodeFleet;
  readonly client: LogClient;
  readonly producer: LogProducer;
  readonly topics: TopicNames;
  readonly groupId: string;
  readonly counters: CounterTotals;
  readonly watch: OnchainWatch;
}

export interface FaultRecord {
  readonly what: string;
  readonly startedAtMs: number;
  readonly endedAtMs: number;
  /** Seconds from the fault's end until everything acknowledged by then was applied; null: not by the deadline. */
  recoverySeconds: number | null;
}

/** What a scenario's fault script gets: the stream, and where to record its faults and findings. */
export interface ScenarioRun {
  readonly traffic: Traffic;
  /** Records a fault that ended now (or at `endedAtMs`); its recovery is measured from then. */
  fault(what: string, startedAtMs: number, endedAtMs?: number): void;
  /** Scenario-specific findings for the report (junk dead-lettered, the poison message, …). */
  readonly notes: Record<string, unknown>;
}

export interface Scenario {
  readonly name: string;
  readonly description: string;
  inject(ctx: ChaosContext, run: ScenarioRun): Promise<void>;
  /** Optional findings computed after the deadline (e.g. whether junk was dead-lettered). */
  conclude?(ctx: ChaosContext, run: ScenarioRun): Promise<void>;
}

export interface ScenarioResult extends Verdict {
  readonly name: string;
  readonly description: string;
  /** The largest recovery time of the scenario's faults; null when one did not recover by the deadline. */
  readonly recoverySeconds: number | null;
  readonly faults: readonly Omit<FaultRecord, "startedAtMs" | "endedAtMs">[];
  /** Seconds from the last fault's end until every transfer was applied; null: not by the deadline. */
  readonly convergedSeconds: number | null;
  readonly rejectedMetric: Record<string, number>;
  /** Failed produce attempts of the stream (retried), timeouts among them, producers replaced. */
  readonly sendFailures: number;
  readonly sendTimeouts: number;
  readonly producerReopens: number;
  readonly settledAtStart: boolean;
  readonly channelIds: readonly Hash[];
  readonly notes: Record<string, unknown>;
  readonly seconds: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
/** A fault's recovery target is what the brokers had acknowledged this long after it ended. */
const TARGET_LAG_MS = 2000;
const ACCOUNT_TIMEOUT_MS = 120_000;

/** `p`, or an error naming `what` once `ms` pass (a read that hangs must not hang the run). */
async function within<T>(ms: number, what: string, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} took more than ${ms / 1000} s`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Both nodes up and every partition owned by one of them (up to `timeoutMs`). */
async function settled(ctx: ChaosContext, timeoutMs = 60_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const nodes = ctx.fleet.live();
    if (nodes.length === ctx.fleet.names().length) {
      const hs = await Promise.all(nodes.map((n) => health(n)));
      const owned = hs.flatMap((h) => h?.partitions ?? []);
      if (
        hs.every((h) => h?.ok && h.partitions.length > 0) &&
        new Set(owned).size === ctx.settings.partitions &&
        owned.length === ctx.settings.partitions
      )
        return true;
    }
    await sleep(500);
  }
  return false;
}

/** Until every live node's chain index knows the channels (a transfer of an unknown channel is refused). */
async function indexed(ctx: ChaosContext, ids: readonly Hash[], timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const unknown = await Promise.all(
      ctx.fleet.live().map(async (n) => {
        const r = await getJson<{ error?: string }>(`${n.url}/channels/${ids[ids.length - 1]}`);
        return !r || r.body.error === "UnknownChannel";
      }),
    );
    if (!unknown.some(Boolean)) return;
    if (Date.now() > deadline) throw new Error("the nodes did not index the scenario's channels within 60 s");
    await sleep(250);
  }
}

export async function runScenario(
  ctx: ChaosContext,
  scenario: Scenario,
  index: number,
  /** The scenario's own channels, opened before the nodes started (the nodes send from participant keys). */
  channels: readonly SimChannel[],
): Promise<ScenarioResult> {
  const { settings, log } = ctx;
  const started = Date.now();
  log(`scenario ${scenario.name}: ${scenario.description}`);
  const ids = channels.map((c) => c.id);
  ctx.watch.watch(ids);
  const settledAtStart = await settled(ctx);
  if (!settledAtStart) log(`scenario ${scenario.name}: the group is not settled after 60 s; starting anyway`);
  await indexed(ctx, ids);
  await ctx.counters.scrape();
  const before = ctx.counters.totals();
  const traffic = new Traffic(
    ctx.chain.domain,
    () => ctx.client.producer(),
    ctx.topics.transfers,
    channels,
    settings.ratePerSecond,
    settings.seed + index,
    log,
  );
  const progress = new Progress(ctx.fleet, traffic);
  const faults: FaultRecord[] = [];
  const recoveries: Promise<void>[] = [];
  const deadlineOf = (endedAtMs: number): number => endedAtMs + settings.recoverySeconds * 1000;
  const run: ScenarioRun = {
    traffic,
    notes: {},
    fault(what, startedAtMs, endedAtMs = Date.now()) {
      const f: FaultRecord = { what, startedAtMs, endedAtMs, recoverySeconds: null };
      faults.push(f);
      log(`  ${what} (${((endedAtMs - startedAtMs) / 1000).toFixed(1)} s)`);
      recoveries.push(
        // Recovered: what the brokers had acknowledged a little after the fault (so traffic sent after
        // it counts too: a frozen partition does not look recovered) is applied.
        sleep(TARGET_LAG_MS)
          .then(() => progress.recovered(progress.target(), endedAtMs, deadlineOf(endedAtMs)))
          .then((s) => {
            f.recoverySeconds = s;
            log(
              `  ${what}: ${s === null ? "not recovered by the deadline" : `recovered in ${s.toFixed(1)} s`}`,
            );
          }),
      );
    },
  };
  traffic.start();
  progress.start();
  try {
    await sleep(settings.quietSeconds * 1000);
    await scenario.inject(ctx, run);
    await sleep(settings.tailSeconds * 1000);
  } catch (e) {
    progress.stop();
    throw e;
  } finally {
    await traffic.stop();
  }
  const lastEnd = faults.length > 0 ? Math.max(...faults.map((f) => f.endedAtMs)) : Date.now();
  const deadline = deadlineOf(lastEnd);
  log(
    `  ${traffic.produced} transfers streamed; waiting up to ${Math.max(0, (deadline - Date.now()) / 1000).toFixed(0)} s for the nodes`,
  );
  const end = progress.target();
  const convergedSeconds = await progress.recovered(end, lastEnd, Math.max(deadline, Date.now() + 5000));
  await Promise.all(recoveries);
  progress.stop();
  // Dead letters are written at the nodes' flush (every 300 ms): give them a few flushes.
  await sleep(2000);
  await ctx.counters.scrape();
  const after = ctx.counters.totals();
  const doubleApplyMetric = [...grew(before, after, DOUBLE_APPLY).values()].reduce((a, b) => a + b, 0);
  const rejectedMetric = Object.fromEntries(
    [...grew(before, after, REJECTED)].map(([labels, n]) => [
      /reason="([^"]*)"/.exec(labels)?.[1] ?? labels,
      n,
    ]),
  );
  const verdict = await within(
    ACCOUNT_TIMEOUT_MS,
    "reading the nodes' state and the topics",
    account({
      traffic,
      fleet: ctx.fleet,
      client: ctx.client,
      topics: ctx.topics,
      groupId: ctx.groupId,
      partitions: settings.partitions,
      doubleApplyMetric,
    }),
  );
  if (scenario.conclude)
    await within(ACCOUNT_TIMEOUT_MS, "reading the dead letters", scenario.conclude(ctx, run));
  const recs = faults.map((f) => f.recoverySeconds);
  const result: ScenarioResult = {
    name: scenario.name,
    description: scenario.description,
    ...verdict,
    recoverySeconds: recs.includes(null) ? null : Number(Math.max(0, ...(recs as number[])).toFixed(1)),
    faults: faults.map((f) => ({
      what: f.what,
      recoverySeconds: f.recoverySeconds === null ? null : Number(f.recoverySeconds.toFixed(1)),
    })),
    convergedSeconds: convergedSeconds === null ? null : Number(convergedSeconds.toFixed(1)),
    rejectedMetric,
    sendFailures: traffic.sendFailures,
    sendTimeouts: traffic.sendTimeouts,
    producerReopens: traffic.producerReopens,
    settledAtStart,
    channelIds: ids,
    notes: run.notes,
    seconds: Math.round((Date.now() - started) / 1000),
  };
  log(
    `  ${scenario.name}: transfers ${result.transfers}, lost ${result.lost}, doubleApplied ${result.doubleApplied}, stuck ${result.stuck}`,
  );
  return result;
}
