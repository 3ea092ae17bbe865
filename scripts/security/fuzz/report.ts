// What a run reports: the action log, successes and reverts per action (and reverts by reason), the check
// counters, the coverage quota, and the failure message and file of a failing run.
import fs from "node:fs";
import path from "node:path";
import { ACTIONS, type ActionName } from "./actions";
import type { CheckStats } from "./context";
import { InvariantViolation, type Outcome } from "./model";
import { MIN_SUCCESSES } from "./options";

/** Where a failing run's whole action log goes (override with FUZZ_FAILURE_FILE). */
const FAILURE_FILE = path.join(
  __dirname,
  "..",
  "..",
  "..",
  "node_modules",
  ".cache",
  "parsec-security",
  "fuzz-failure.log",
);

export class Report {
  private readonly actionLog: string[] = [];
  private readonly ok = new Map<ActionName, number>();
  private readonly reverted = new Map<ActionName, number>();
  private readonly reasons = new Map<string, number>();
  readonly stats: CheckStats = {
    settleChecked: 0,
    settleHonestChecked: 0,
    settledWithPots: 0,
    resolveChecked: 0,
    fullChecks: 0,
  };

  constructor(
    private readonly seed: number,
    private readonly steps: number,
  ) {}

  /** Logs step `step` and counts its outcome (a refusal or revert also by reason). */
  record(step: number, name: ActionName, outcome: Outcome): void {
    this.actionLog.push(`#${step} ${name} ${outcome.note}${outcome.ok === null ? " (not applicable)" : ""}`);
    if (outcome.ok === true) this.ok.set(name, (this.ok.get(name) ?? 0) + 1);
    if (outcome.ok === false) {
      this.reverted.set(name, (this.reverted.get(name) ?? 0) + 1);
      const reason = /(?:reverted|refused) (.*)$/.exec(outcome.note)?.[1] ?? "?";
      const key = `${name}: ${reason}`;
      this.reasons.set(key, (this.reasons.get(key) ?? 0) + 1);
    }
  }

  successes(name: ActionName): number {
    return this.ok.get(name) ?? 0;
  }

  /** Writes the action log of a passing run where FUZZ_LOG_FILE says. */
  writeLog(): void {
    if (process.env.FUZZ_LOG_FILE)
      fs.writeFileSync(process.env.FUZZ_LOG_FILE, this.actionLog.join("\n") + "\n");
  }

  /** The counts of a passing run, as `npm run security` prints them. */
  counts(channels: number, elapsedMs: number): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const a of ACTIONS) {
      counts[a] = this.ok.get(a) ?? 0;
      counts[`${a}.reverted`] = this.reverted.get(a) ?? 0;
    }
    Object.assign(counts, {
      steps: this.steps,
      seed: this.seed,
      channels,
      ...this.stats,
      elapsedMs,
      failed: 0,
    });
    return counts;
  }

  /** "action: reason ×n; …", most frequent first. */
  reasonsLine(): string {
    const reasons = [...this.reasons.entries()].sort((x, y) => y[1] - x[1]).map(([k, n]) => `${k} ×${n}`);
    return `security: fuzz: refusals and reverts by reason: ${reasons.join("; ")}`;
  }

  /** Throws when an action succeeded fewer than MIN_SUCCESSES times. */
  checkCoverage(counts: Record<string, number>): void {
    const low = ACTIONS.filter((a) => counts[a] < MIN_SUCCESSES);
    if (low.length > 0) {
      throw new Error(
        `fuzz coverage too low (seed ${this.seed}, ${this.steps} steps): ` +
          low.map((a) => `${a} succeeded ${counts[a]} times`).join(", ") +
          `; every action must succeed at least ${MIN_SUCCESSES} times (raise FUZZ_RUNS). Counts: ` +
          JSON.stringify(counts),
      );
    }
  }

  /** The error of a failed run: the seed, the step, how to replay, the last actions; the whole log to a file. */
  failure(error: unknown, step: number): Error {
    const what = error instanceof InvariantViolation ? "INVARIANT VIOLATED" : "the fuzz crashed";
    const message = error instanceof Error ? error.message : String(error);
    const file = process.env.FUZZ_FAILURE_FILE ?? FAILURE_FILE;
    const header =
      `${what} at step ${step} (seed ${this.seed}): ${message}\n` +
      `replay: FUZZ_SEED=${this.seed} FUZZ_RUNS=${this.steps} npx ts-node --transpile-only scripts/security/fuzz-main.ts\n`;
    try {
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(
        file,
        header +
          this.actionLog.join("\n") +
          "\n" +
          (error instanceof Error ? (error.stack ?? "") : "") +
          "\n",
      );
    } catch {
      // the message below still carries the tail of the log
    }
    const tail = this.actionLog.slice(-40).join("\n  ");
    return new Error(`${header}last actions (the whole sequence is in ${file}):\n  ${tail}`);
  }
}
