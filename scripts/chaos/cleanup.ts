/**
 * Everything the chaos run starts registers how to undo it here; `cleanUp` runs the steps newest first,
 * once, whether the run ends normally, fails, or is interrupted (Ctrl-C, SIGTERM, SIGHUP).
 */

type Step = { readonly what: string; readonly run: () => Promise<void> | void };

const steps: Step[] = [];
let running: Promise<void> | null = null;

/** Registers an undo step; returns a function that drops it (once the resource is gone anyway). */
export function onCleanup(what: string, run: Step["run"]): () => void {
  const step = { what, run };
  steps.push(step);
  return () => {
    const i = steps.indexOf(step);
    if (i >= 0) steps.splice(i, 1);
  };
}

/** Runs every registered step, newest first; a failing step is reported and the others still run. */
export function cleanUp(log: (m: string) => void): Promise<void> {
  if (!running) {
    running = (async () => {
      while (steps.length > 0) {
        const step = steps.pop() as Step;
        try {
          await step.run();
        } catch (e) {
          log(`cleanup: ${step.what} failed: ${e instanceof Error ? e.message : String(e)}`);
        }
      }
    })();
  }
  return running;
}

/** On a signal: clean up, then exit with 128 + the signal number (a second signal exits at once). */
export function cleanUpOnSignals(log: (m: string) => void): void {
  const codes: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGTERM: 15 };
  for (const [signal, n] of Object.entries(codes)) {
    process.on(signal, () => {
      if (running) process.exit(128 + n);
      log(`${signal}: stopping and cleaning up (again to exit at once)`);
      void cleanUp(log).finally(() => process.exit(128 + n));
    });
  }
}
