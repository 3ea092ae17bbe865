// The fuzz loop: set the chain up, then choose an action, run it, and check the invariants, step by step.
import type { HardhatRuntimeEnvironment } from "hardhat/types";
import { act } from "./actions";
import { Books } from "./books";
import { Chain } from "./chain";
import type { FuzzContext } from "./context";
import { Invariants } from "./invariants";
import { DEFAULT_SEED, DEFAULT_STEPS, envInt, type FuzzOptions, type FuzzResult } from "./options";
import { Report } from "./report";
import { Rng } from "./rng";
import { chooseAction } from "./scheduler";
import { World } from "./world";

/** Steps between progress lines, which are also the steps where every channel ever opened is read. */
const FULL_CHECK_EVERY = 2000;

export async function runFuzz(options: FuzzOptions = {}): Promise<FuzzResult> {
  const steps = options.runs ?? envInt("FUZZ_RUNS") ?? DEFAULT_STEPS;
  const seed = options.seed ?? envInt("FUZZ_SEED") ?? DEFAULT_SEED;
  const log = options.log ?? ((line: string) => console.error(line));
  const hre = ((await import("hardhat")) as unknown as { default: HardhatRuntimeEnvironment }).default;

  const rng = new Rng(seed);
  const chain = new Chain(hre);
  const report = new Report(seed, steps);
  const started = Date.now();
  log(`security: fuzz: seed ${seed}, ${steps} steps`);
  await chain.setup();
  const world = new World(chain);
  const books = new Books(chain, world, (await chain.snapshot([])).perAccount);
  const ctx: FuzzContext = { rng, chain, world, books, stats: report.stats };
  const invariants = new Invariants(chain, world, books);

  let step = 0;
  try {
    for (; step < steps; step++) {
      const name = chooseAction(ctx, step, steps, (a) => report.successes(a));
      report.record(step, name, await act(ctx, name));
      const full = (step + 1) % FULL_CHECK_EVERY === 0;
      await invariants.check(full);
      if (full) {
        report.stats.fullChecks++;
        log(
          `security: fuzz: ${step + 1}/${steps} steps, ${world.chans.length} channels, ${((Date.now() - started) / 1000).toFixed(0)}s`,
        );
      }
    }
    await invariants.check(true);
    report.stats.fullChecks++;
  } catch (error) {
    throw report.failure(error, step);
  }
  const elapsedMs = Date.now() - started;
  report.writeLog();
  const counts = report.counts(world.chans.length, elapsedMs);
  log(report.reasonsLine());
  report.checkCoverage(counts);
  log(
    `security: fuzz: ${steps} steps, ${world.chans.length} channels, all invariants held, ` +
      `${(elapsedMs / 1000).toFixed(1)}s`,
  );
  return { counts };
}
