/**
 * The channel graph as the routed-payment tasks read it (protocol §11.2): the open channels from the
 * contract's events, and the signed ChannelUpdates of the graph topic applied to the SDK's `ChannelGraph`,
 * which re-checks each one (the topic is not trusted). Kafka through `./kafka`.
 */
import type { Address, ChannelGraph, ChannelUpdateMessage, Hash, OpenChannel } from "../../sdk";
import { readGraphTopic, type GraphIgnoreReason } from "../../relayer/src/kafka/graph-topic";
import type { ReadContext } from "./context";
import { TaskError } from "./errors";
import { kafkaTarget, openLog, type KafkaArgs, type KafkaTarget } from "./kafka";

/** The graph topic's options: the node's Kafka options and the topic's own name. */
export interface GraphArgs extends KafkaArgs {
  /** Default: the node's name for it (`kafka.topics.channelGraph`: the topic prefix + `parsec.channel-graph`). */
  readonly graphTopic: string;
}

/** The graph topic: `--graph-topic`, else the node's own name for it (`kafkaTarget`, as node:control finds it). */
export function graphTopicName(args: Partial<GraphArgs>, target: KafkaTarget): string {
  return args.graphTopic || target.topics.channelGraph;
}

/** The channels open now, from the contract's events (§11.2: from `ChannelOpened` until it leaves Open). */
export async function openChannels(ctx: ReadContext): Promise<Map<Hash, OpenChannel>> {
  const from = ctx.deployment.blockNumber;
  const c = ctx.channels;
  const [opened, closing, cooperative, equivocation] = await Promise.all([
    c.queryFilter(c.filters.ChannelOpened(), from),
    c.queryFilter(c.filters.ChannelClosing(), from),
    c.queryFilter(c.filters.ChannelClosedCooperatively(), from),
    c.queryFilter(c.filters.EquivocationProved(), from),
  ]);
  const open = new Map<Hash, OpenChannel>();
  for (const e of opened) {
    open.set(e.args.channelId.toLowerCase() as Hash, {
      participant0: e.args.participant0 as Address,
      participant1: e.args.participant1 as Address,
      asset: e.args.asset as Address,
    });
  }
  for (const e of [...closing, ...cooperative, ...equivocation])
    open.delete(e.args.channelId.toLowerCase() as Hash);
  return open;
}

/** What reading the graph topic found. */
export interface GraphReport {
  readonly topic: string;
  readonly records: number;
  readonly applied: number;
  /** Ignored updates by reason (the SDK's `UpdateRejection`, plus other deployments and unreadable records). */
  readonly ignored: Readonly<Partial<Record<GraphIgnoreReason, number>>>;
}

const IGNORED_WORDS: Readonly<Record<keyof GraphReport["ignored"], string>> = {
  malformed: "malformed",
  unsigned: "unsigned",
  badSignature: "with a bad signature",
  wrongSigner: "not signed by the forwarding participant",
  unknownChannel: "for channels not open on this contract",
  stale: "older than 14 days",
  future: "dated in the future",
  notNewer: "not newer than one already read",
  otherDeployment: "for another deployment",
  unreadable: "unreadable",
};

/** "3 record(s) on T: 2 channel update(s) applied, 1 ignored (1 older than 14 days)". */
export function graphReportWords(r: GraphReport): string {
  // In IGNORED_WORDS' order, whatever order the partitions were read in.
  const ignored = (Object.keys(IGNORED_WORDS) as (keyof GraphReport["ignored"])[])
    .map((k) => [k, r.ignored[k] ?? 0] as const)
    .filter(([, n]) => n > 0);
  const total = ignored.reduce((sum, [, n]) => sum + n, 0);
  return (
    `${r.records} record(s) on ${r.topic}: ${r.applied} channel update(s) applied` +
    (total > 0
      ? `, ${total} ignored (${ignored.map(([k, n]) => `${n} ${IGNORED_WORDS[k]}`).join(", ")})`
      : "")
  );
}

/**
 * Reads the whole graph topic (every partition, oldest record kept to the end) into a `ChannelGraph` of
 * the open channels at chain time `now`. The topic is not trusted: the graph re-checks every update.
 */
export async function loadGraph(
  ctx: ReadContext,
  args: Partial<GraphArgs>,
  now: bigint,
  channels: ReadonlyMap<Hash, OpenChannel>,
): Promise<{ graph: ChannelGraph; report: GraphReport; updates: ChannelUpdateMessage[] }> {
  const target = kafkaTarget(args);
  const topic = graphTopicName(args, target);
  const client = await openLog(target, []);
  try {
    if (!(await client.listTopics()).includes(topic)) {
      throw new TaskError(
        `no channel graph topic ${topic} on ${target.brokers.join(",")}: no forwarder has announced a ChannelUpdate there yet ` +
          `(npx hardhat route:announce). Give the node's topic prefix (--prefix, PARSEC_TOPIC_PREFIX) or the topic (--graph-topic)`,
      );
    }
    const lookup = (id: Hash) => channels.get(id.toLowerCase() as Hash);
    // The applied updates themselves: their signatures give the announcers' routing keys (§11.4).
    const { graph, updates, records, ignored } = await readGraphTopic(client, topic, ctx.domain, lookup, now);
    return { graph, report: { topic, records, applied: updates.length, ignored }, updates: [...updates] };
  } finally {
    await client.close().catch(() => undefined);
  }
}
