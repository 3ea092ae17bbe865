// CLI for the local Kafka launcher; see docs/kafka.md.
//   npx ts-node --transpile-only scripts/kafka/kafka.ts start|stop|status [options]
import { parseArgs } from "node:util";
import { DEFAULT_DIR, kafkaStatus, startKafka, stopKafka } from "./launcher";

const USAGE = `usage: kafka.ts <start|stop|status> [options]
  start   [--brokers 1|3] [--port 9092] [--dir .kafka] [--timeout 60]
          prints KAFKA_BROKERS=host:port[,...] on stdout when every broker serves requests
  stop    [--dir .kafka] [--wipe]   (--wipe also deletes data, config and cluster id)
  status  [--dir .kafka]            prints JSON`;

function intOption(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`--${name} needs a positive integer, got "${value}"`);
  return n;
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      brokers: { type: "string" },
      port: { type: "string" },
      dir: { type: "string", default: DEFAULT_DIR },
      timeout: { type: "string" },
      wipe: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  const [command] = positionals;
  const dir = values.dir ?? DEFAULT_DIR;
  if (values.help || positionals.length !== 1) {
    console.log(USAGE);
    process.exitCode = values.help ? 0 : 2;
    return;
  }
  switch (command) {
    case "start": {
      const timeout = intOption(values.timeout, "timeout");
      const cluster = await startKafka({
        dir,
        brokers: intOption(values.brokers, "brokers"),
        port: intOption(values.port, "port"),
        timeoutMs: timeout === undefined ? undefined : timeout * 1000,
      });
      console.log(`KAFKA_BROKERS=${cluster.brokers.join(",")}`);
      break;
    }
    case "stop":
      await stopKafka(dir, values.wipe);
      console.error(`[kafka] stopped${values.wipe ? " and wiped" : ""} (${dir})`);
      break;
    case "status":
      console.log(JSON.stringify(await kafkaStatus(dir), null, 2));
      break;
    default:
      console.error(USAGE);
      process.exitCode = 2;
  }
}

main().catch((e: unknown) => {
  console.error(`[kafka] error: ${e instanceof Error ? e.message : String(e)}`);
  process.exitCode = 1;
});
