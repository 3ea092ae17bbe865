/**
 * `GET /graph` (protocol §11.2): the channel graph as this node reads it from the compacted channel-graph
 * topic, for wallets that cannot read Kafka (the dapp). Each entry is the newest `ChannelUpdate` of a
 * (channel, direction) that applies now — signed by the right participant of a channel the node's chain
 * index has open, fresh — with its announcer and the channel's parameters, so that a reader re-checks
 * `channelIdOf(domain, channel) = channelId` and the signature itself instead of trusting the node.
 * The topic is read at most once per `GRAPH_CACHE_MS` (concurrent requests share a read).
 */
import {
  graphEntryToJson,
  type ChannelUpdateMessage,
  type Domain,
  type GraphEntryJson,
  type Hash,
} from "../../../sdk";
import type { ChainRegistry } from "../chain/registry";
import type { LogClient } from "../kafka/client";
import { readGraphTopic } from "../kafka/graph-topic";

/** How long one read of the graph topic answers requests, milliseconds. */
const GRAPH_CACHE_MS = 1_000;
/** Entries in one answer at most (a graph beyond this needs a paged API). */
export const MAX_GRAPH_ENTRIES = 10_000;

export interface GraphSource {
  readonly client: LogClient;
  readonly topic: string;
  readonly registry: ChainRegistry;
  readonly domain: Domain;
  /** Chain time, Unix seconds: what an update's freshness is judged by. */
  now(): bigint;
}

export interface GraphAnswer {
  readonly entries: readonly GraphEntryJson[];
  /** Records read that did not apply (unreadable, another deployment, stale, unsigned, closed channel…). */
  readonly ignored: number;
}

/** The graph endpoint's reader; `read()` answers `GET /graph`. */
export function graphReader(src: GraphSource): { read(): Promise<GraphAnswer> } {
  let cached: { at: number; answer: Promise<GraphAnswer> } | null = null;
  const load = async (): Promise<GraphAnswer> => {
    const { client, topic, registry, domain } = src;
    if (!(await client.listTopics()).includes(topic)) return { entries: [], ignored: 0 };
    const lookup = (id: Hash) => {
      const c = registry.get(id);
      return c && c.status === "OPEN" ? c.params : undefined;
    };
    const read = await readGraphTopic(client, topic, domain, lookup, src.now());
    // The newest applied update of each channel direction (a later one replaced the earlier in the graph).
    const newest = new Map<string, ChannelUpdateMessage>();
    for (const m of read.updates) newest.set(`${m.update.channelId}/${m.update.direction}`, m);
    const entries: GraphEntryJson[] = [];
    for (const m of newest.values()) {
      const c = registry.get(m.update.channelId);
      if (!c || entries.length >= MAX_GRAPH_ENTRIES) continue;
      entries.push(graphEntryToJson({ announcer: m.announcer, channel: c.params, update: m.update }));
    }
    const ignored = Object.values(read.ignored).reduce((sum, n) => sum + n, 0);
    return { entries, ignored };
  };
  return {
    read() {
      if (!cached || Date.now() - cached.at > GRAPH_CACHE_MS) {
        const answer = load();
        cached = { at: Date.now(), answer };
        // A failed read is not kept: the next request reads again.
        answer.catch(() => (cached = null));
      }
      return cached.answer;
    },
  };
}
