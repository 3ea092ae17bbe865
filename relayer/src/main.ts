/**
 * The node's command line: `npx ts-node --transpile-only relayer/src/main.ts [--config file.json]`.
 * Configuration comes from the file and the environment (docs/relayer.md). Prints one JSON line on
 * stdout when running (`{"ready":true,…}`), logs go to stderr. SIGINT/SIGTERM stop it cleanly; if
 * stopping takes longer than `stopTimeoutMs` (default 15 s) it exits anyway with status 1, and a second
 * signal exits at once with status 128 + the signal's number (130 for SIGINT, 143 for SIGTERM).
 */
import os from "node:os";
import { parseArgs } from "node:util";
import { loadConfig } from "./config";
import { ConfigError, messageOf, StopTimeoutError } from "./errors";
import { createLogger, type Logger } from "./log";
import { ParsecNode } from "./node";
import type { FaultPoint } from "./state/partition";

/**
 * Test-only fault injection: `PARSEC_FAULT=<point>[:<n>]` kills the process with SIGKILL the n-th time
 * (default 1st) the node reaches that point. Never set it in production.
 */
function faultHook(spec: string | undefined): ((point: FaultPoint) => void) | undefined {
  if (!spec) return undefined;
  const [point, n] = spec.split(":");
  let left = Number(n ?? "1");
  return (p) => {
    if (p === point && --left <= 0) {
      process.stderr.write(`PARSEC_FAULT: killing the node at ${p}\n`);
      process.kill(process.pid, "SIGKILL");
    }
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { config: { type: "string" } } });
  let config;
  try {
    config = loadConfig({ file: values.config });
  } catch (e) {
    process.stderr.write(`${messageOf(e)}\n`);
    process.exit(e instanceof ConfigError ? 2 : 1);
  }
  const logger = createLogger(config.logLevel, { node: config.nodeId });
  // A fatal problem (a partition that cannot be flushed or restored, a crashed consumer) exits so a
  // supervisor restarts the node; degraded health (a stall, a long wait in a window) is only reported.
  let exiting = false;
  const node = await ParsecNode.start(config, {
    logger,
    fault: faultHook(process.env.PARSEC_FAULT),
    onFatal: (reason) => {
      if (exiting) return;
      exiting = true;
      logger.error("fatal, exiting so a supervisor restarts the node", { reason });
      process.exit(1);
    },
  });
  const onSignal = stopOnSignal({
    stop: () => node.stop(),
    logger,
    timeoutMs: config.stopTimeoutMs,
    exit: (code) => {
      exiting = true;
      process.exit(code);
    },
  });
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  // Ready only once the handlers are in: a supervisor may signal as soon as it reads this line.
  process.stdout.write(
    JSON.stringify({ ready: true, nodeId: config.nodeId, url: node.url, pid: process.pid }) + "\n",
  );
}

/** What `stopOnSignal` needs: the node's stop, a logger, the bound, and how to exit. */
export interface StopOnSignalDeps {
  readonly stop: () => Promise<void>;
  readonly logger: Logger;
  /** `stopTimeoutMs`: the longest a clean stop may take. */
  readonly timeoutMs: number;
  readonly exit: (code: number) => void;
}

/**
 * The CLI's signal handler. The first SIGINT/SIGTERM stops the node (flush, commit offsets, leave the
 * group) and exits 0, or 1 if the stop fails; if it has not finished after `timeoutMs`, it logs
 * `stop timed out` (a `StopTimeoutError`) and exits 1. A second signal exits at once with 128 + the
 * signal's number. State not flushed is replayed from the last flush on the next start.
 */
export function stopOnSignal(deps: StopOnSignalDeps): ((signal: NodeJS.Signals) => void) & {
  readonly stopping: boolean;
} {
  const { logger, timeoutMs } = deps;
  let stopping = false;
  const handler = (signal: NodeJS.Signals): void => {
    if (stopping) {
      // An operator who signals twice wants the process gone now.
      logger.error("second signal while stopping: exiting at once without a clean stop", { signal });
      deps.exit(128 + (os.constants.signals[signal] ?? 0));
      return;
    }
    stopping = true;
    logger.info("stopping", { signal, timeoutMs });
    const timer = setTimeout(() => {
      const error = new StopTimeoutError(timeoutMs, signal);
      logger.error("stop timed out", { signal, timeoutMs, code: error.code, error: error.message });
      deps.exit(1);
    }, timeoutMs);
    deps
      .stop()
      .then(() => {
        clearTimeout(timer);
        deps.exit(0);
      })
      .catch((e) => {
        clearTimeout(timer);
        logger.error("stop failed", { error: messageOf(e) });
        deps.exit(1);
      });
  };
  return Object.defineProperty(handler, "stopping", { get: () => stopping }) as typeof handler & {
    readonly stopping: boolean;
  };
}

if (require.main === module) {
  main().catch((e) => {
    process.stderr.write(`parsec node failed to start: ${messageOf(e)}\n`);
    process.exit(1);
  });
}
