/**
 * Reads the whole compacted channel-graph topic (protocol §11.2) into a `ChannelGraph`: every partition
 * from its oldest kept record to its end, tombstones skipped, each update of this deployment applied (the
 * graph re-checks signature, channel, freshness and order). Shared by the node's `GET /graph` and the
 * routing tasks.
 */
import {
  ChannelGraph,
  codecs,
  type ChannelLookup,
  type ChannelUpdateMessage,
  type Domain,
  type UpdateRejection,
} from "../../../sdk";
import type { LogClient } from "./client";

/** Why a record of the graph topic was not applied. */
export type GraphIgnoreReason = UpdateRejection | "otherDeployment" | "unreadable";

export interface GraphTopicRead {
  readonly graph: ChannelGraph;
  /** The applied updates, in the order read (a later one of a channel direction replaced the earlier). */
  readonly updates: readonly ChannelUpdateMessage[];
  /** Records read (tombstones not counted). */
  readonly records: number;
  readonly ignored: Readonly<Partial<Record<GraphIgnoreReason, number>>>;
}

/** Reads `topic` (which must exist) into a graph for `domain`, judging freshness at chain time `now`. */
export async function readGraphTopic(
  client: LogClient,
  topic: string,
  domain: Domain,
  lookup: ChannelLookup,
  now: bigint,
): Promise<GraphTopicRead> {
  const graph = new ChannelGraph({ domain });
  const updates: ChannelUpdateMessage[] = [];
  const ignored: Partial<Record<GraphIgnoreReason, number>> = {};
  const ignore = (why: GraphIgnoreReason): void => void (ignored[why] = (ignored[why] ?? 0) + 1);
  let records = 0;
  for (const [partition, end] of await client.endOffsets(topic)) {
    const batch: ChannelUpdateMessage[] = [];
    await client.readPartition(topic, partition, 0, end, (rs) => {
      for (const r of rs) {
        if (r.value === null) continue; // a tombstone: the channel closed
        records++;
        try {
          batch.push(codecs().channelUpdate.decode(r.value));
        } catch {
          ignore("unreadable");
        }
      }
    });
    for (const m of batch) {
      if (m.domain.chainId !== domain.chainId || m.domain.verifyingContract !== domain.verifyingContract) {
        ignore("otherDeployment");
        continue;
      }
      const result = graph.applyUpdate(m.update, lookup, now);
      if (result.applied) updates.push(m);
      else ignore(result.reason);
    }
  }
  return { graph, updates, records, ignored };
}
