/**
 * A scenario's verdict at its deadline, from what the nodes hold compared with what was produced:
 *
 * - `lost`: valid, fundable transfers the brokers acknowledged that the nodes' state does not include
 *   (the payer's seq served by the node holding the channel — or, when none serves it, the newest
 *   snapshot in the changelog — is below the transfer's seq). Broken down by where each one is:
 *   dead-lettered (by reason), waiting in a reorder window, in a partition the group has not consumed
 *   to its end, or none of these: `dropped` (consumed and forgotten by the nodes) or `notInTopic` (an
 *   acknowledged write missing from the transfers topic: lost by the brokers, not the nodes).
 * - `stuck`: the lost transfers that were neither applied nor dead-lettered (waiting in a window, behind
 *   a consumer that does not move, or dropped): every stuck transfer is also lost.
 * - `doubleApplied`: the nodes' `parsec_double_apply_total` growth during the scenario, plus payers
 *   whose served state disagrees with the independent computation at its seq (paid total or head hash
 *   differ: something was applied twice or wrongly), plus seqs beyond anything produced.
 * - `deadLettered`: every dead letter of the scenario's channels on the dead-letter topic, by reason.
 */
import { codecs, type DeadLetter, type Hash } from "../../sdk";
import type { InRecord, LogClient } from "../../relayer/src/kafka/client";
import { channelPartition } from "../../relayer/src/kafka/topics";
import { stateCodecs } from "../../relayer/src/state/snapshot";
import type { TopicNames } from "../../relayer/src/config";
import type { NodeFleet } from "./nodes";
import { channelView, type PayerView } from "./probe";
import type { Traffic } from "./traffic";

export interface Verdict {
  readonly transfers: number;
  readonly lost: number;
  readonly doubleApplied: number;
  readonly stuck: number;
  readonly deadLettered: Record<string, number>;
  readonly missing: {
    readonly deadLettered: Record<string, number>;
    readonly waitingInWindow: number;
    readonly unconsumed: number;
    readonly dropped: number;
    readonly notInTopic: number;
    /** Lost transfers at or after a `notInTopic` one in the same payer's chain (of every kind above). */
    readonly atOrBehindLostWrite: number;
  };
  readonly doubleApplyMetric: number;
  readonly stateMismatches: number;
  /** Channels no node served at the deadline (their state was read from the changelog). */
  readonly channelsFromChangelog: number;
  /** Duplicate dead letters of transfers produced once: the nodes read them twice (not applied twice). */
  readonly redeliveredDuplicates: number;
  /** Partitions of the transfers topic the group had not consumed to the end. */
  readonly laggingPartitions: readonly number[];
}

export interface AccountInput {
  readonly traffic: Traffic;
  readonly fleet: NodeFleet;
  readonly client: LogClient;
  readonly topics: TopicNames;
  readonly groupId: string;
  readonly partitions: number;
  /** Growth of the double-apply counter during the scenario. */
  readonly doubleApplyMetric: number;
}

async function readAll(client: LogClient, topic: string, only?: number): Promise<InRecord[]> {
  const ends = await client.endOffsets(topic);
  const out: InRecord[] = [];
  for (const [p, end] of ends)
    if (only === undefined || p === only)
      await client.readPartition(topic, p, 0, end, (rs) => out.push(...rs));
  return out;
}

/** The newest changelog snapshot of each channel of one partition, as the node would restore it. */
async function changelogViews(
  client: LogClient,
  topic: string,
  partition: number,
): Promise<Map<string, readonly [PayerView, PayerView]>> {
  const latest = new Map<string, Buffer | null>();
  for (const r of await readAll(client, topic, partition))
    if (r.key && r.key.length === 32) latest.set(r.key.toString("hex"), r.value);
  const out = new Map<string, readonly [PayerView, PayerView]>();
  for (const [key, value] of latest) {
    if (!value) continue;
    const s = stateCodecs().snapshot.decode(value);
    const view = (i: 0 | 1): PayerView => ({
      seq: s.payers[i].state.seq,
      head: s.payers[i].state.head,
      paidTotal: s.payers[i].state.paidTotal.toString(),
      waitingInWindow: s.payers[i].pending.map((p) => p.seq),
    });
    out.set(key, [view(0), view(1)]);
  }
  return out;
}

export async function account(input: AccountInput): Promise<Verdict> {
  const { traffic, client, topics } = input;
  const keys = new Set(traffic.channels.map((c) => c.key.toString("hex")));
  const letters: DeadLetter[] = (await readAll(client, topics.deadLetter))
    .filter((r) => r.value !== null)
    .map((r) => codecs().deadLetter.decode(r.value as Buffer))
    .filter(
      (l) =>
        l.topic === topics.transfers && l.originalKey && keys.has(Buffer.from(l.originalKey).toString("hex")),
    );
  const deadLettered: Record<string, number> = {};
  const letterOf = new Map<string, string>();
  let redeliveredDuplicates = 0;
  for (const l of letters) {
    deadLettered[l.reasonCode] = (deadLettered[l.reasonCode] ?? 0) + 1;
    const hex = Buffer.from(l.original).toString("hex");
    if (!letterOf.has(hex)) letterOf.set(hex, l.reasonCode);
    if (l.reasonCode === "Duplicate" && !traffic.resent.has(hex)) redeliveredDuplicates++;
  }

  const [committed, ends] = await Promise.all([
    client.committedOffsets(input.groupId, topics.transfers),
    client.endOffsets(topics.transfers),
  ]);
  const lagging = [...ends].filter(([p, end]) => (committed.get(p) ?? 0) < end).map(([p]) => p);

  let lost = 0;
  let stuck = 0;
  let stateMismatches = 0;
  let fromChangelog = 0;
  const missing = {
    deadLettered: {} as Record<string, number>,
    waitingInWindow: 0,
    unconsumed: 0,
    dropped: 0,
    notInTopic: 0,
    atOrBehindLostWrite: 0,
  };
  const dropped: { partition: number; hex: string; chain: string; seq: number }[] = [];
  /** Per payer chain with a missing seq: every missing seq (to find those behind a lost write). */
  const missingSeqs = new Map<string, number[]>();
  const changelog = new Map<number, Map<string, readonly [PayerView, PayerView]>>();
  const nodes = input.fleet.live();
  for (const c of traffic.channels) {
    const id = c.channel.id as Hash;
    const partition = channelPartition(id, input.partitions);
    let payers = (await channelView(nodes, id))?.payers ?? null;
    if (!payers) {
      fromChangelog++;
      if (!changelog.has(partition))
        changelog.set(partition, await changelogViews(client, topics.stateChangelog, partition));
      payers = changelog.get(partition)?.get(c.key.toString("hex")) ?? null;
    }
    for (const i of [0, 1] as const) {
      const log = c.payers[i];
      const view = payers?.[i];
      const seq = view?.seq ?? 0;
      const produced = log.heads.length - 1;
      if (seq > produced) stateMismatches += 1;
      else if (seq > 0 && (view?.paidTotal !== log.paid[seq].toString() || view?.head !== log.heads[seq]))
        stateMismatches += 1;
      const window = new Set(view?.waitingInWindow ?? []);
      if (seq < log.acked)
        missingSeqs.set(
          `${id}/${i}`,
          Array.from({ length: log.acked - seq }, (_, k) => seq + 1 + k),
        );
      for (let s = seq + 1; s <= log.acked; s++) {
        lost++;
        const reason = letterOf.get(log.wires[s]);
        if (reason) missing.deadLettered[reason] = (missing.deadLettered[reason] ?? 0) + 1;
        else {
          stuck++;
          if (window.has(s)) missing.waitingInWindow++;
          else if (lagging.includes(partition)) missing.unconsumed++;
          else dropped.push({ partition, hex: log.wires[s], chain: `${id}/${i}`, seq: s });
        }
      }
    }
  }
  // Consumed and neither applied nor dead-lettered: the node dropped it, unless the topic lacks it (an
  // acknowledged write the brokers lost, which would not be the node's fault).
  if (dropped.length > 0) {
    const inTopic = new Set<string>();
    for (const p of new Set(dropped.map((d) => d.partition)))
      for (const r of await readAll(client, topics.transfers, p))
        if (r.value) inTopic.add(r.value.toString("hex"));
    const firstHole = new Map<string, number>();
    for (const d of dropped) {
      if (inTopic.has(d.hex)) missing.dropped++;
      else {
        missing.notInTopic++;
        firstHole.set(d.chain, Math.min(d.seq, firstHole.get(d.chain) ?? d.seq));
      }
    }
    // A payer's chain cannot be applied past a hole: what follows a lost write waits or is dead-lettered.
    for (const [chain, hole] of firstHole)
      missing.atOrBehindLostWrite += (missingSeqs.get(chain) ?? []).filter((x) => x >= hole).length;
  }
  return {
    transfers: traffic.channels.reduce((n, c) => n + c.payers[0].acked + c.payers[1].acked, 0),
    lost,
    doubleApplied: input.doubleApplyMetric + stateMismatches,
    stuck,
    deadLettered,
    missing,
    doubleApplyMetric: input.doubleApplyMetric,
    stateMismatches,
    channelsFromChangelog: fromChangelog,
    redeliveredDuplicates,
    laggingPartitions: lagging,
  };
}
