// What a fuzz run takes and returns, and its defaults (FUZZ_SEED and FUZZ_RUNS override them).

export interface FuzzOptions {
  /** Number of actions (default `FUZZ_RUNS` or DEFAULT_STEPS). */
  runs?: number;
  /** PRNG seed (default `FUZZ_SEED` or DEFAULT_SEED). */
  seed?: number;
  /** Progress lines (default: stderr). */
  log?: (line: string) => void;
}

export interface FuzzResult {
  /** Per action: successes under its name, reverts under `<name>.reverted`; plus steps, seed, elapsedMs. */
  counts: Record<string, number>;
}

export const DEFAULT_SEED = 0x9a75ec;
export const DEFAULT_STEPS = 13_000;
/** Every action must succeed at least this many times in a run. */
export const MIN_SUCCESSES = 200;

/** A non-negative integer from the environment, or undefined when unset. */
export function envInt(name: string): number | undefined {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === "") return undefined;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < 0)
    throw new Error(`${name} must be a non-negative integer, got ${raw}`);
  return value;
}
