/**
 * route:announce: a participant signs its forwarding policy for its direction of a channel (a
 * `ChannelUpdate`, protocol §11.2) and writes it to the channel graph topic, so routers (route:find) and
 * payees' hints (invoice:create --hint) can use the channel.
 */
import type { HardhatRuntimeEnvironment } from "hardhat/types";
import {
  channelUpdateKey,
  channelUpdateMessage,
  codecs,
  isParsecError,
  signChannelUpdate,
  type ChannelDirection,
  type Hash,
  type SignedChannelUpdate,
} from "../../sdk";
import { amountArg, findChannel, formatAmount, readContext } from "./context";
import { TaskError } from "./errors";
import { graphReportWords, graphTopicName, loadGraph, openChannels, type GraphArgs } from "./graph";
import { assetWords, chainNow, keyOrAccount } from "./invoice";
import { kafkaTarget, openLog } from "./kafka";
import { print } from "./output";

/** The smallest lock forwarded unless `--htlc-minimum` says otherwise: one base unit. */
const DEFAULT_HTLC_MINIMUM = 1n;

export interface AnnounceArgs extends GraphArgs {
  readonly deployment: string;
  readonly from: string;
  readonly key: string;
  readonly channel: string;
  readonly feeBase: string;
  readonly feePpm: number;
  readonly expiryDelta: number;
  readonly capacity: string;
  readonly htlcMinimum: string;
  readonly htlcMaximum: string;
  readonly disabled: boolean;
}

export interface AnnounceResult {
  readonly update: SignedChannelUpdate;
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
}

/** route:announce: signs the sender's ChannelUpdate for its direction of the channel and publishes it. */
export async function runAnnounce(
  args: AnnounceArgs,
  hre: HardhatRuntimeEnvironment,
): Promise<AnnounceResult> {
  const ctx = await readContext(hre, args);
  if (!/^0x[0-9a-fA-F]{64}$/.test(args.channel))
    throw new TaskError(`--channel must be a 32-byte 0x channel id, got ${JSON.stringify(args.channel)}`);
  const channelId = args.channel.toLowerCase() as Hash;
  const signer = await keyOrAccount(args, ctx);
  const channel = await findChannel(ctx, channelId);
  const open = await openChannels(ctx);
  if (!open.has(channelId))
    throw new TaskError(
      `channel ${channelId} is closing or closed: it forwards nothing, so nothing to announce`,
    );
  const { participant0, participant1, asset } = channel.params;
  const side = [participant0, participant1].findIndex(
    (p) => p.toLowerCase() === signer.address.toLowerCase(),
  );
  if (side < 0) {
    throw new TaskError(
      `${signer.address} is not a participant of ${channelId} (P0 ${participant0}, P1 ${participant1}): only a participant announces how it forwards`,
    );
  }
  const direction = side as ChannelDirection;
  const a = await assetWords(ctx, asset);
  const units = (name: string, value: string, fallback: bigint) =>
    value ? amountArg(name, value, a.decimals, true) : fallback;
  // Its own deposit is the announcer's first estimate of what it can forward.
  const capacity = units("capacity", args.capacity, side === 0 ? channel.deposit0 : channel.deposit1);
  const htlcMaximum = units("htlc-maximum", args.htlcMaximum, capacity);
  const htlcMinimum = units(
    "htlc-minimum",
    args.htlcMinimum,
    htlcMaximum < DEFAULT_HTLC_MINIMUM ? htlcMaximum : DEFAULT_HTLC_MINIMUM,
  );
  const feeBase = units("fee-base", args.feeBase, 0n);

  const target = kafkaTarget(args);
  const topic = graphTopicName(args, target);
  const client = await openLog(target, []);
  try {
    // A reader keeps an update only if it is newer than the one it holds: one second after it at least.
    let timestamp = await chainNow(ctx);
    if ((await client.listTopics()).includes(topic)) {
      const { graph, report } = await loadGraph(ctx, args, timestamp, open);
      print(`  ${graphReportWords(report)}`);
      const held = graph.edge(channelId, direction);
      if (held && held.timestamp >= timestamp) timestamp = held.timestamp + 1n;
    } else {
      await client.ensureTopics([
        { name: topic, partitions: 1, replicationFactor: -1, config: { "cleanup.policy": "compact" } },
      ]);
      print(`  created the compacted channel graph topic ${topic}`);
    }
    let update: SignedChannelUpdate;
    try {
      update = await signChannelUpdate(signer, ctx.domain, {
        channelId,
        direction,
        timestamp,
        capacity,
        feeBase,
        feePpm: args.feePpm,
        expiryDelta: args.expiryDelta,
        htlcMinimum,
        htlcMaximum,
        disabled: args.disabled,
      });
    } catch (e) {
      if (isParsecError(e)) throw new TaskError(`cannot sign the update (${e.code}): ${e.message}`, e);
      throw e;
    }
    const producer = await client.producer();
    let sent: { partition: number; lastOffset: number } | undefined;
    try {
      const value = codecs().channelUpdate.encode(
        channelUpdateMessage(ctx.domain, update, signer.address, Date.now()),
      );
      [sent] = await producer.send(topic, [
        { key: Buffer.from(channelUpdateKey(channelId, direction)), value },
      ]);
    } finally {
      await producer.close();
    }
    if (!sent) throw new TaskError(`writing to ${topic} returned no offset`);
    const fmt = (v: bigint) => formatAmount(v, a.decimals, a.symbol);
    print(
      `announced ${signer.address} (P${side}) ${args.disabled ? "forwards nothing" : "forwards"} to ${side === 0 ? participant1 : participant0} ` +
        `over ${channelId} (direction ${direction}) on ${topic} partition ${sent.partition} offset ${sent.lastOffset}`,
    );
    print(
      `  fee ${fmt(feeBase)} + ${args.feePpm} ppm, expiry delta ${args.expiryDelta} s, capacity ${fmt(capacity)}, ` +
        `locks of ${fmt(htlcMinimum)} … ${fmt(htlcMaximum)}; readers use it for 14 days: announce again before then`,
    );
    return { update, topic, partition: sent.partition, offset: sent.lastOffset };
  } finally {
    await client.close().catch(() => undefined);
  }
}
