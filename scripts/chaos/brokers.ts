/**
 * The chaos run's own three-broker KRaft cluster (scripts/kafka/launcher.ts) in a temporary directory:
 * started once, one broker killed with SIGKILL and restarted by the broker scenario, stopped and wiped
 * at the end.
 */
import fs from "node:fs";
import path from "node:path";
import { startBroker, startKafka, stopBroker, stopKafka } from "../kafka/launcher";
import { onCleanup } from "./cleanup";

export interface ChaosBrokers {
  readonly brokers: readonly string[];
  readonly count: number;
  /** kill -9 of broker `index`; resolves once the process is gone. */
  kill(index: number): Promise<void>;
  /** Starts broker `index` again from its data; resolves once it serves requests. */
  restart(index: number): Promise<void>;
}

export async function startBrokers(
  root: string,
  firstPort: number,
  log: (m: string) => void,
): Promise<ChaosBrokers> {
  const dir = path.join(root, "kafka");
  onCleanup("stop the brokers", async () => {
    await stopKafka(dir, true);
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const cluster = await startKafka({
    dir,
    brokers: 3,
    port: firstPort,
    // A dead broker is noticed by the controllers within seconds rather than the default 9 s.
    properties: { "broker.session.timeout.ms": 4000, "broker.heartbeat.interval.ms": 1000 },
    log: (l) => log(`kafka: ${l}`),
  });
  return {
    brokers: cluster.brokers,
    count: cluster.brokers.length,
    kill: (index) => stopBroker(dir, index, "SIGKILL"),
    restart: async (index) => void (await startBroker(dir, index, 120_000)),
  };
}
