/**
 * The chaos run's one JSON object: per scenario the verdict, recovery and on-chain check, plus the
 * node restarts, and the list of missed targets (empty when the run passes).
 */
import os from "node:os";
import type { NodeFleet } from "./nodes";
import type { OnchainWatch } from "./onchain-watch";
import type { ScenarioResult } from "./run-scenario";
import type { ChaosSettings } from "./settings";

export type Outcome = ScenarioResult | { readonly name: string; readonly error: string };

export interface ReportInput {
  readonly settings: ChaosSettings;
  readonly results: readonly Outcome[];
  readonly watch: OnchainWatch;
  readonly fleet: NodeFleet;
  readonly seconds: number;
}

export function report(input: ReportInput): {
  scenarios: Record<string, unknown>;
  missed: string[];
  [k: string]: unknown;
} {
  const { settings, results, watch, fleet } = input;
  const missed: string[] = [];
  const scenarios: Record<string, unknown> = {};
  for (const r of results) {
    if ("error" in r) {
      scenarios[r.name] = { error: r.error };
      missed.push(`${r.name}: did not run to the end (${r.error})`);
      continue;
    }
    const ids = new Set<string>(r.channelIds);
    const decreases = watch.decreases.filter((d) => ids.has(d.channelId));
    const committed = r.channelIds.filter((id) => watch.seen(id)[0] + watch.seen(id)[1] > 0).length;
    const { channelIds: _ids, name, ...rest } = r;
    scenarios[name] = {
      ...rest,
      onchainSeqsWentBackwards: decreases.length > 0,
      onchainDecreases: decreases.slice(0, 10),
      channelsCommittedOnchain: `${committed}/${r.channelIds.length}`,
    };
    for (const k of ["lost", "doubleApplied", "stuck"] as const)
      if (r[k] > 0) missed.push(`${name}: ${k} ${r[k]} (target 0)`);
    if (r.missing.notInTopic > 0)
      missed.push(
        `${name}: ${r.missing.notInTopic} acknowledged writes of the stream are missing from the transfers topic ` +
          `(producer/broker loss, cf. tulios/kafkajs#1303); ${r.missing.atOrBehindLostWrite} of the lost transfers are at or behind them`,
      );
    if (decreases.length > 0) missed.push(`${name}: on-chain seqs went backwards ${decreases.length} times`);
  }
  return {
    scale: settings.scale,
    seed: settings.seed,
    channelsPerScenario: settings.channelsPerScenario,
    ratePerSecond: settings.ratePerSecond,
    recoveryDeadlineSeconds: settings.recoverySeconds,
    sessionTimeoutMs: settings.sessionTimeoutMs,
    cores: os.availableParallelism(),
    scenarios,
    nodes: {
      unplannedExits: fleet.unplannedExits.map((e) => ({ name: e.name, code: e.code, signal: e.signal })),
    },
    onchainPolls: watch.polls,
    targetsMet: missed.length === 0,
    missed,
    seconds: input.seconds,
  };
}
