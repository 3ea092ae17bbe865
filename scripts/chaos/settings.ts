/**
 * The chaos run's sizes and fixed settings. `CHAOS_SCALE` (default 1) scales the channels, the offered
 * load and how long each scenario streams; 0.2 is CI's short run (about three minutes). The ports are
 * the chaos cluster's own (10292-10294, controllers at +10000), never a developer's 9092 or the tests'
 * 9392/9492.
 */

export interface ChaosSettings {
  readonly scale: number;
  /** Channels opened per scenario (each scenario's accounting covers its own channels only). */
  readonly channelsPerScenario: number;
  /** Offered load, transfers per second, while a scenario streams. */
  readonly ratePerSecond: number;
  /** Seconds of traffic before the first fault and between faults. */
  readonly quietSeconds: number;
  /** Seconds of traffic after the last fault. */
  readonly tailSeconds: number;
  /** After the last fault ends, how long the nodes get to apply everything before transfers count as lost. */
  readonly recoverySeconds: number;
  /** The nodes' Kafka session timeout; the SIGSTOP scenario pauses a node for twice as long. */
  readonly sessionTimeoutMs: number;
  readonly partitions: number;
  readonly firstBrokerPort: number;
  readonly seed: number;
  /** Compile the node to dist/ first (CHAOS_BUILD=0 runs dist/ as it is). */
  readonly build: boolean;
}

/** The broker's `message.max.bytes` default: a record batch above it is refused by the broker. */
export const BROKER_MESSAGE_LIMIT = 1_048_588;
/** The poison message's size: random around this, under the limit once the batch overhead is added. */
export const POISON_BYTES = 1_048_450;

function number(name: string, def: number, min: number, max: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return def;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < min || n > max)
    throw new Error(`${name} must be a number in [${min}, ${max}], got ${JSON.stringify(raw)}`);
  return n;
}

export function chaosSettings(): ChaosSettings {
  const scale = number("CHAOS_SCALE", 1, 0.05, 20);
  return {
    scale,
    channelsPerScenario: Math.max(8, Math.round(40 * scale)),
    ratePerSecond: Math.max(40, Math.round(200 * Math.sqrt(scale))),
    quietSeconds: Math.max(2, 8 * scale),
    tailSeconds: Math.max(2, 6 * scale),
    recoverySeconds: number("CHAOS_RECOVERY_SECONDS", Math.max(30, Math.round(60 * scale)), 5, 3600),
    sessionTimeoutMs: 6000,
    partitions: 6,
    firstBrokerPort: 10292,
    seed: number("CHAOS_SEED", Date.now() % 1_000_000_007, 0, Number.MAX_SAFE_INTEGER),
    build: process.env.CHAOS_BUILD !== "0",
  };
}
