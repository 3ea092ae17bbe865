/**
 * The node's command line: `npx ts-node --transpile-only relayer/src/main.ts [--config file.json]`.
 * Configuration comes from the file and the environment (docs/relayer.md). Prints one JSON line on
 * stdout when running (`{"ready":true,…}`), logs go to stderr. SIGINT/SIGTERM stop it cleanly.
 */
import { parseArgs } from "node:util";
import { loadConfig } from "./config";
import { ConfigError, messageOf } from "./errors";
import { createLogger } from "./log";
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
  const node = await ParsecNode.start(config, { logger, fault: faultHook(process.env.PARSEC_FAULT) });
  process.stdout.write(
    JSON.stringify({ ready: true, nodeId: config.nodeId, url: node.url, pid: process.pid }) + "\n",
  );
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info("stopping", { signal });
    node
      .stop()
      .then(() => process.exit(0))
      .catch((e) => {
        logger.error("stop failed", { error: messageOf(e) });
        process.exit(1);
      });
  };
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGTERM", () => stop("SIGTERM"));
  const watchdog = setInterval(() => {
    const h = node.health();
    if (!h.ok && !stopping) {
      logger.error("unhealthy, exiting so a supervisor restarts the node", { problem: h.problem });
      process.exit(1);
    }
  }, 5000);
  watchdog.unref();
}

main().catch((e) => {
  process.stderr.write(`parsec node failed to start: ${messageOf(e)}\n`);
  process.exit(1);
});
