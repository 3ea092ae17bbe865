/**
 * The operator tasks' work (tasks/node.ts defines the tasks and loads this on use, so Hardhat does not load
 * Kafka and the Avro codecs for every command): send a control request and wait for the node's answer;
 * follow what the nodes publish, in words.
 */
import { randomBytes } from "node:crypto";
import os from "node:os";
import {
  codecs,
  type ControlAction,
  type ControlRequest,
  type DeadLetter,
  type Hash,
  type SettlementEvent,
} from "../../sdk";
import type { TopicNames } from "../../relayer/src/config";
import type { InRecord, LogClient } from "../../relayer/src/kafka/client";
import { channelKey, channelPartition } from "../../relayer/src/kafka/topics";
import { TaskError } from "./errors";
import { kafkaTarget, openLog, tailPartitions, type KafkaArgs } from "./kafka";
import { print } from "./output";
import {
  CONTROL_ACTIONS,
  controlVerdict,
  deadLetterReason,
  describeDeadLetter,
  describeSettlement,
  outcomeWords,
  silenceHint,
} from "./words";

function channelArg(value: string): Hash {
  if (!/^0x[0-9a-fA-F]{64}$/.test(value))
    throw new TaskError(
      `--channel must be a 32-byte 0x channel id (66 characters), got ${JSON.stringify(value)}`,
    );
  return value.toLowerCase() as Hash;
}

function decodeOrNull<T>(decode: (b: Uint8Array) => T, r: InRecord): T | null {
  try {
    return decode(r.value ?? new Uint8Array(0));
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------- node:control

export interface ControlArgs extends KafkaArgs {
  channel: string;
  action: string;
  wait: number;
  reason: string;
}

export interface ControlResult {
  readonly requestId: string;
  readonly action: Exclude<ControlAction, "UNKNOWN">;
  /** Where the request was written. */
  readonly partition: number;
  readonly offset: number;
  /** `published`: not waited for (`--wait 0`); `done`: the node finished it; `steps`: it took steps, no end seen. */
  readonly outcome: "published" | "done" | "steps";
  /** The settlement events that answered it, in order. */
  readonly events: readonly SettlementEvent[];
}

/** Publishes a control request on the channel's partition; the offset it got. */
async function publishControl(
  client: LogClient,
  topics: TopicNames,
  request: ControlRequest,
): Promise<{ partition: number; offset: number }> {
  const partitions = await client.partitionCount(topics.control);
  const partition = channelPartition(request.channelId, partitions);
  const producer = await client.producer();
  try {
    const [sent] = await producer.send(topics.control, [
      { key: channelKey(request.channelId), value: codecs().control.encode(request), partition },
    ]);
    if (!sent) throw new TaskError(`writing to ${topics.control} returned no offset`);
    return { partition, offset: sent.lastOffset };
  } finally {
    await producer.close();
  }
}

/** node:control: publishes the request on the channel's partition, then waits up to `wait` s for the answer. */
export async function runControl(args: ControlArgs): Promise<ControlResult> {
  const channelId = channelArg(args.channel);
  const action = CONTROL_ACTIONS[args.action.toLowerCase()];
  if (!action) {
    throw new TaskError(
      `--action must be one of ${Object.keys(CONTROL_ACTIONS).join(", ")}, got ${JSON.stringify(args.action)}`,
    );
  }
  if (!Number.isInteger(args.wait) || args.wait < 0)
    throw new TaskError(`--wait must be a whole number of seconds ≥ 0, got ${args.wait}`);
  const target = kafkaTarget(args);
  const { topics } = target;
  const client = await openLog(target, [topics.control, topics.settlements, topics.deadLetter]);
  try {
    // Where the answers will be: the channel's partition of the settlements topic (keyed by channel), and
    // the dead letter of a refused request (written to the request's partition number), from now on.
    const settlementPartition = channelPartition(channelId, await client.partitionCount(topics.settlements));
    const [settlementEnds, deadLetterEnds] = await Promise.all([
      client.endOffsets(topics.settlements),
      client.endOffsets(topics.deadLetter),
    ]);
    const requestId = `op-${os.hostname()}-${Date.now().toString(36)}-${randomBytes(3).toString("hex")}`;
    const request: ControlRequest = {
      schemaVersion: 1,
      requestId,
      channelId,
      action,
      requestedBy: null,
      requestedAtMs: Date.now(),
      reason: args.reason || null,
    };
    const { partition, offset } = await publishControl(client, topics, request);
    print(
      `sent ${action} for channel ${channelId} as request ${requestId} (${topics.control} partition ${partition} offset ${offset})`,
    );
    if (args.wait === 0) {
      print(`  not waiting; follow the answer with npx hardhat node:follow --channel ${channelId}`);
      return { requestId, action, partition, offset, outcome: "published", events: [] };
    }
    print(`  waiting up to ${args.wait} s for the node's answer on ${topics.settlements}…`);

    const events: SettlementEvent[] = [];
    let final: SettlementEvent | null = null;
    let failed = false;
    let refused: DeadLetter | null = null;
    const deadline = Date.now() + args.wait * 1000;
    const sources = [
      {
        topic: topics.settlements,
        partition: settlementPartition,
        from: settlementEnds.get(settlementPartition) ?? 0,
      },
      ...(deadLetterEnds.has(partition)
        ? [{ topic: topics.deadLetter, partition, from: deadLetterEnds.get(partition) ?? 0 }]
        : []),
    ];
    await tailPartitions(
      client,
      sources,
      (r) => {
        if (r.topic === topics.deadLetter) {
          const d = decodeOrNull((b) => codecs().deadLetter.decode(b), r);
          if (!d || d.topic !== topics.control || d.partition !== partition || d.offset !== offset)
            return false;
          refused = d;
          print(`  ${describeDeadLetter(d, topics)}`);
          return true;
        }
        const e = decodeOrNull((b) => codecs().settlement.decode(b), r);
        if (!e || e.channelId !== channelId) return false;
        const verdict = controlVerdict(action, requestId, e);
        if (verdict === "unrelated") return false;
        events.push(e);
        print(`  ${describeSettlement(e)}`);
        if (verdict === "progress") return false;
        final = e;
        failed = verdict === "failed";
        return true;
      },
      () => Date.now() > deadline,
    );
    const result = { requestId, action, partition, offset, events };
    if (refused) {
      const d = refused as DeadLetter;
      throw new TaskError(`the node refused request ${requestId}: ${deadLetterReason(d)}`);
    }
    if (final) {
      const words = outcomeWords(final);
      if (failed) throw new TaskError(`request ${requestId} (${args.action}) failed: ${words}`);
      print(`outcome: ${words}`);
      return { ...result, outcome: "done" };
    }
    // The node answered with steps (a dispute's pieces, evidence before a close) but no end was seen.
    const answered = events.filter((e) => e.requestId === requestId);
    if (answered.length > 0) {
      const mined = answered.filter((e) => e.status === "CONFIRMED");
      const gas = mined.reduce((sum, e) => sum + (e.gasUsed ?? 0), 0);
      print(
        `outcome so far: the node answered request ${requestId} with ${answered.length} step(s), ${mined.length} on-chain ` +
          `(gas ${gas.toLocaleString("en-US")}); nothing further within ${args.wait} s (node:follow --channel ${channelId} shows later steps)`,
      );
      return { ...result, outcome: "steps" };
    }
    throw new TaskError(
      `no answer to ${args.action} request ${requestId} within ${args.wait} s (${events.length} other event(s) for the channel): ${silenceHint(action)}`,
    );
  } finally {
    await client.close().catch(() => undefined);
  }
}

// ---------------------------------------------------------------- node:follow

export interface FollowArgs extends KafkaArgs {
  topics: string;
  fromBeginning: boolean;
  limit: number;
  channel: string;
  idle: number;
}

/** The topics node:follow can print, by their command-line name. */
export const FOLLOWABLE = ["settlements", "dead-letter", "control"] as const;
type Followable = (typeof FOLLOWABLE)[number];

/** One record of a followed topic in words, or null when it is not for `channel`. */
function recordLine(kind: Followable, r: InRecord, topics: TopicNames, channel: Hash | null): string | null {
  switch (kind) {
    case "settlements": {
      const e = decodeOrNull((b) => codecs().settlement.decode(b), r);
      if (!e)
        return channel ? null : `(an unreadable settlement record at ${r.topic}/${r.partition}@${r.offset})`;
      return channel && e.channelId !== channel ? null : describeSettlement(e);
    }
    case "dead-letter": {
      const d = decodeOrNull((b) => codecs().deadLetter.decode(b), r);
      if (!d) return channel ? null : `(an unreadable dead letter at ${r.topic}/${r.partition}@${r.offset})`;
      return channel && d.channelId !== channel ? null : describeDeadLetter(d, topics);
    }
    case "control": {
      const c = decodeOrNull((b) => codecs().control.decode(b), r);
      if (!c)
        return channel ? null : `(an unreadable control request at ${r.topic}/${r.partition}@${r.offset})`;
      if (channel && c.channelId !== channel) return null;
      return (
        `${new Date(c.requestedAtMs).toISOString()} control request ${c.requestId}: ${c.action} for channel ${c.channelId}` +
        (c.requestedBy ? ` by ${c.requestedBy}` : "") +
        (c.reason ? ` (${c.reason})` : "")
      );
    }
  }
}

export interface FollowResult {
  readonly lines: readonly string[];
}

/** node:follow: prints each record of the chosen topics in words until the limit, the idle time or Ctrl-C. */
export async function runFollow(args: FollowArgs): Promise<FollowResult> {
  const kinds = [
    ...new Set(
      args.topics
        .split(",")
        .map((t) => t.trim())
        .filter(Boolean),
    ),
  ];
  const unknown = kinds.filter((k) => !(FOLLOWABLE as readonly string[]).includes(k));
  if (kinds.length === 0 || unknown.length > 0) {
    throw new TaskError(
      `--topics takes ${FOLLOWABLE.join(", ")} (comma-separated), got ${JSON.stringify(args.topics)}`,
    );
  }
  if (!Number.isInteger(args.limit) || args.limit < 0)
    throw new TaskError(`--limit must be a whole number ≥ 0, got ${args.limit}`);
  if (!Number.isInteger(args.idle) || args.idle < 0)
    throw new TaskError(`--idle must be a whole number of seconds ≥ 0, got ${args.idle}`);
  const channel = args.channel ? channelArg(args.channel) : null;
  const target = kafkaTarget(args);
  const { topics } = target;
  const topicOf: Record<Followable, string> = {
    settlements: topics.settlements,
    "dead-letter": topics.deadLetter,
    control: topics.control,
  };
  const kindOf = new Map(kinds.map((k) => [topicOf[k as Followable], k as Followable]));
  const names = [...kindOf.keys()];
  const client = await openLog(target, names);
  // A consumer group of its own (deleted at the end), so Kafka resets offsets a retention cut off.
  const groupId = `parsec-follow-${os.hostname()}-${process.pid}-${Date.now().toString(36)}`;
  const lines: string[] = [];
  let finish: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => (finish = resolve));
  const onSignal = () => finish();
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  let idleTimer: NodeJS.Timeout | null = null;
  const touch = () => {
    if (args.idle === 0) return;
    if (idleTimer) clearTimeout(idleTimer);
    idleTimer = setTimeout(finish, args.idle * 1000);
  };
  try {
    // Without --from-beginning: exactly what is written from now on (the ends, read before joining).
    const starts = new Map<string, Map<number, number>>();
    if (!args.fromBeginning) for (const t of names) starts.set(t, await client.endOffsets(t));
    const consumer = await client.groupConsumer({
      groupId,
      topics: names,
      sessionTimeoutMs: 10_000,
      heartbeatIntervalMs: 3_000,
      coPartitioned: false,
      fromBeginning: true,
      concurrency: 1,
    });
    consumer.onAssignment((assignment) => {
      for (const [topic, partitions] of assignment) {
        const ends = starts.get(topic);
        if (ends) for (const p of partitions) consumer.seek(topic, p, ends.get(p) ?? 0);
      }
    });
    print(
      `following ${names.join(", ")} on ${target.brokers.join(",")}${args.fromBeginning ? " from the oldest record kept" : ""}` +
        `${channel ? ` for channel ${channel}` : ""}${args.limit ? `, up to ${args.limit} line(s)` : ""} (Ctrl-C stops)`,
    );
    touch();
    await consumer.run(async (batch) => {
      const kind = kindOf.get(batch.topic);
      const start = starts.get(batch.topic)?.get(batch.partition) ?? 0;
      if (!kind) return;
      for (const r of batch.records) {
        if (r.offset < start || (args.limit > 0 && lines.length >= args.limit)) continue;
        touch();
        const line = recordLine(kind, r, topics, channel);
        if (line === null) continue;
        lines.push(line);
        print(line);
        if (args.limit > 0 && lines.length >= args.limit) finish();
      }
    });
    await finished;
    await consumer.stop();
  } finally {
    if (idleTimer) clearTimeout(idleTimer);
    process.removeListener("SIGINT", onSignal);
    process.removeListener("SIGTERM", onSignal);
    await client.deleteGroups([groupId]).catch(() => undefined);
    await client.close().catch(() => undefined);
  }
  return { lines };
}
