/**
 * The chaos scenarios, in the order they run. The poison message runs last: when it freezes a
 * partition, that partition stays frozen for the rest of the run and would spoil later scenarios.
 */
import { randomBytes } from "node:crypto";
import { codecs } from "../../sdk";
import type { OutRecord } from "../../relayer/src/kafka/client";
import { channelPartition } from "../../relayer/src/kafka/topics";
import type { ChaosContext, Scenario, ScenarioRun } from "./run-scenario";
import { BROKER_MESSAGE_LIMIT, POISON_BYTES } from "./settings";

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const pick = <T>(ctx: ChaosContext, xs: readonly T[]): T => xs[Math.floor(ctx.random() * xs.length)];
/** Between half and one and a half quiet periods. */
const moment = (ctx: ChaosContext): number => ctx.settings.quietSeconds * 1000 * (0.5 + ctx.random());

const killNode: Scenario = {
  name: "kill-node",
  description:
    "kill -9 of a running node at random moments (3 times); a supervisor starts it again after 1 s",
  async inject(ctx, run) {
    for (let i = 0; i < 3; i++) {
      if (i > 0) await sleep(moment(ctx));
      // A running node: one still starting after the previous kill is not a victim (both may be down).
      while (ctx.fleet.live().length === 0) await sleep(200);
      const name = pick(ctx, ctx.fleet.live()).name;
      const t = Date.now();
      ctx.fleet.kill9(name);
      run.fault(`kill -9 ${name}`, t);
    }
  },
};

const killBroker: Scenario = {
  name: "kill-broker",
  description: "kill -9 of a broker, restarted 3 s later",
  async inject(ctx, run) {
    const index = Math.floor(ctx.random() * ctx.brokers.count);
    const t = Date.now();
    await ctx.brokers.kill(index);
    await sleep(3000);
    await ctx.brokers.restart(index);
    run.fault(`kill -9 broker ${index}, restarted`, t);
  },
};

const pauseNode: Scenario = {
  name: "sigstop-node",
  description: "SIGSTOP of a node for twice the session timeout, then SIGCONT",
  async inject(ctx, run) {
    const name = pick(ctx, ctx.fleet.names());
    const t = Date.now();
    ctx.fleet.pause(name);
    try {
      await sleep(2 * ctx.settings.sessionTimeoutMs);
    } finally {
      ctx.fleet.resume(name);
    }
    run.fault(`SIGSTOP ${name} for ${(2 * ctx.settings.sessionTimeoutMs) / 1000} s, SIGCONT`, t);
  },
};

/** Hex of the junk a scenario sent, to find its dead letters afterwards. */
const junkSent = new WeakMap<ScenarioRun, Set<string>>();

async function deadLetteredAmong(
  ctx: ChaosContext,
  sent: ReadonlySet<string>,
): Promise<{ count: number; reasons: Record<string, number> }> {
  const reasons: Record<string, number> = {};
  let count = 0;
  const ends = await ctx.client.endOffsets(ctx.topics.deadLetter);
  for (const [p, end] of ends) {
    await ctx.client.readPartition(ctx.topics.deadLetter, p, 0, end, (rs) => {
      for (const r of rs) {
        if (!r.value) continue;
        const l = codecs().deadLetter.decode(r.value);
        const original = Buffer.from(l.original).toString("hex");
        // A dead letter may keep only a prefix of an original too large to fit in a record.
        if (!sent.has(original) && !(original.length > 0 && [...sent].some((h) => h.startsWith(original))))
          continue;
        count++;
        reasons[l.reasonCode] = (reasons[l.reasonCode] ?? 0) + 1;
      }
    });
  }
  return { count, reasons };
}

const junk: Scenario = {
  name: "junk-bytes",
  description: "random bytes and truncated transfers mixed into the stream",
  async inject(ctx, run) {
    const each = Math.max(10, Math.round(40 * ctx.settings.scale));
    const sent = new Set<string>();
    junkSent.set(run, sent);
    const t = Date.now();
    for (let round = 0; round < 4; round++) {
      const records: OutRecord[] = [];
      for (let i = 0; i < each / 4; i++) {
        const spare = run.traffic.spare();
        const random = randomBytes(1 + Math.floor(ctx.random() * 600));
        const cut = spare.wire.subarray(0, 1 + Math.floor(ctx.random() * (spare.wire.length - 2)));
        for (const value of [random, cut]) {
          sent.add(value.toString("hex"));
          records.push({ key: spare.key, value });
        }
      }
      run.traffic.inject(records);
      await sleep(500);
    }
    run.fault(`${sent.size} junk messages`, t);
  },
  async conclude(ctx, run) {
    const sent = junkSent.get(run) ?? new Set<string>();
    const found = await deadLetteredAmong(ctx, sent);
    run.notes.junk = { sent: sent.size, deadLettered: found.count, reasons: found.reasons };
  },
};

const poison: Scenario = {
  name: "poison-message",
  description: `a message of about ${POISON_BYTES} random bytes (under the broker's ${BROKER_MESSAGE_LIMIT}-byte limit)`,
  async inject(ctx, run) {
    const bytes = POISON_BYTES - 50 + Math.floor(ctx.random() * 101);
    const target = pick(ctx, run.traffic.channels);
    const value = randomBytes(bytes);
    junkSent.set(run, new Set([value.toString("hex")]));
    const partition = channelPartition(target.channel.id, ctx.settings.partitions);
    const t = Date.now();
    let produced: string | true = true;
    try {
      await ctx.producer.send(ctx.topics.transfers, [{ key: target.key, value }]);
    } catch (e) {
      produced = e instanceof Error ? e.message : String(e);
    }
    run.notes.poison = { bytes, partition, produced };
    run.fault(`poison message of ${bytes} bytes into partition ${partition}`, t);
  },
  async conclude(ctx, run) {
    const found = await deadLetteredAmong(ctx, junkSent.get(run) ?? new Set<string>());
    run.notes.poison = {
      ...(run.notes.poison as object),
      deadLettered: found.count > 0,
      reasons: found.reasons,
    };
  },
};

export const SCENARIOS: readonly Scenario[] = [killNode, killBroker, pauseNode, junk, poison];
