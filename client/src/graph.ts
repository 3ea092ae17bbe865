/**
 * A node's channel graph (`GET /graph`, protocol §11.2) taken into a wallet's own `ChannelGraph` without
 * trusting the node: an entry counts only if its channel parameters hash to the update's channel id (so
 * the participants are the channel's) and the update then applies (signed by the right participant,
 * fresh, newer). The announcers' routing keys come from their signatures.
 */
import {
  channelIdOf,
  channelUpdateSignerKey,
  type Address,
  type ChannelGraph,
  type Domain,
  type GraphEntry,
} from "../../sdk/isomorphic";

/** What `applyNodeGraph` took: how many entries applied, and each announcer's routing key by address. */
export interface NodeGraphResult {
  readonly applied: number;
  readonly ignored: number;
  /** Compressed public keys by lower-case announcer address. */
  readonly routingKeys: ReadonlyMap<string, Uint8Array>;
}

/** Applies `entries` (of `asset` only, when given) to `graph` at chain time `now` (Unix seconds). */
export function applyNodeGraph(
  graph: ChannelGraph,
  domain: Domain,
  entries: readonly GraphEntry[],
  now: bigint,
  asset?: Address,
): NodeGraphResult {
  const routingKeys = new Map<string, Uint8Array>();
  let applied = 0;
  for (const e of entries) {
    const sameAsset = asset === undefined || e.channel.asset.toLowerCase() === asset.toLowerCase();
    if (!sameAsset || channelIdOf(domain, e.channel).toLowerCase() !== e.update.channelId.toLowerCase())
      continue;
    const result = graph.applyUpdate(
      e.update,
      (id) => (id.toLowerCase() === e.update.channelId.toLowerCase() ? e.channel : undefined),
      now,
    );
    if (!result.applied) continue;
    applied++;
    routingKeys.set(e.announcer.toLowerCase(), channelUpdateSignerKey(domain, e.update));
  }
  return { applied, ignored: entries.length - applied, routingKeys };
}
