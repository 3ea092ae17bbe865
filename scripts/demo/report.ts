/** What every step of the demo shares: progress lines on stderr, polling, and the list of checks. */

const STEP_TIMEOUT_MS = 60_000;
const POLL_MS = 200;

const started = Date.now();
const MS_PER_SECOND = 1000;

/** A progress line on stderr, with the seconds since the demo started. */
export const log = (line: string): void =>
  void process.stderr.write(
    `[demo ${((Date.now() - started) / MS_PER_SECOND).toFixed(1).padStart(5)}s] ${line}\n`,
  );

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `check` until it returns a value other than `undefined`/`false`; throws naming `what` on timeout. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = STEP_TIMEOUT_MS,
  everyMs = POLL_MS,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}${last ? ` (last error: ${String(last)})` : ""}`);
    await sleep(everyMs);
  }
}

/** The demo's verdicts, printed at the end; any failed one makes the run exit 1. */
export class Checks {
  private readonly list: [string, boolean][] = [];

  add(what: string, ok: boolean): void {
    this.list.push([what, ok]);
    if (!ok) log(`CHECK FAILED: ${what}`);
  }

  get failed(): boolean {
    return this.list.some(([, ok]) => !ok);
  }

  lines(): string[] {
    return this.list.map(([what, ok]) => `    ${ok ? "ok  " : "FAIL"} ${what}`);
  }
}
