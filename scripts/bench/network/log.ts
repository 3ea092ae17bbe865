/**
 * The bench's `PaymentLog`: writes through the wallet's Kafka adapter (`kafkaPaymentLog`), reads through
 * ONE consumer (its own group) over the transfers and payment-messages topics, fanned out to
 * subscriptions. The adapter's subscriptions each re-read their channel's partition from offset 0 and
 * then poll every `pollMs`; at hundreds of payments a second that is both a delay and a re-read that
 * grows with the log. Here a record is decoded once, kept per channel (a new subscription replays its
 * channel, as the port requires) and handed over as soon as the consumer's long poll returns it.
 */
import { codecs, type Domain, type Hash } from "../../../sdk";
import type { LoggedTransfer, PaymentLog, PeerMessage, Subscription } from "../../../client";
import type { TopicNames } from "../../../relayer/src/config";
import type { GroupConsumer, InRecord, LogClient } from "../../../relayer/src/kafka/client";
import { kafkaPaymentLog } from "../../../tasks/lib/payment-kafka";
import type { TracedRecord } from "./trace";

/** How long the consumer's join may take before the bench gives up (a fresh group on a local broker). */
const JOIN_TIMEOUT_MS = 60_000;

type Listener<T> = (m: T) => void;

/** One topic's records by channel (the record key), decoded once, with the channel's listeners. */
class Fanout<T> {
  private readonly seen = new Map<string, T[]>();
  private readonly listeners = new Map<string, Set<Listener<T>>>();

  constructor(
    private readonly decode: (value: Buffer) => T,
    /** Sees every record first (the bench's payment trace). */
    private readonly observe?: Listener<T>,
  ) {}

  push(r: InRecord): void {
    if (r.key === null || r.value === null) return;
    const key = r.key.toString("hex");
    let m: T;
    try {
      m = this.decode(r.value);
    } catch {
      return; // not a record of this version: the wallet skips it too
    }
    let list = this.seen.get(key);
    if (!list) this.seen.set(key, (list = []));
    list.push(m);
    this.observe?.(m);
    for (const l of this.listeners.get(key) ?? []) l(m);
  }

  subscribe(channelId: Hash, listener: Listener<T>): Subscription {
    const key = channelId.slice(2).toLowerCase();
    for (const m of this.seen.get(key) ?? []) listener(m);
    let set = this.listeners.get(key);
    if (!set) this.listeners.set(key, (set = new Set()));
    set.add(listener);
    return { stop: () => void set.delete(listener) };
  }
}

export interface FollowingLogOptions {
  readonly client: LogClient;
  readonly topics: Pick<TopicNames, "transfers" | "paymentMessages">;
  readonly domain: Domain;
  /** The consumer group of the bench's reader (deleted by the caller at the end). */
  readonly groupId: string;
  /** Sees every transfer and peer message as it is read, before the subscriptions. */
  readonly observe?: (r: TracedRecord) => void;
}

export interface FollowingLog extends PaymentLog {
  close(): Promise<void>;
}

/** Starts the reader; resolves once the consumer holds every partition of both topics. */
export async function followingPaymentLog(opts: FollowingLogOptions): Promise<FollowingLog> {
  const { client, topics, domain } = opts;
  const writes = kafkaPaymentLog({ client, topics, domain });
  const { observe } = opts;
  const transfers = new Fanout<LoggedTransfer>(
    (v) => {
      const m = codecs().transfer.decode(v);
      return { transfer: m.transfer, appKind: m.appKind, appData: m.appData };
    },
    observe && ((transfer) => observe({ transfer })),
  );
  const messages = new Fanout<PeerMessage>(
    (v) => codecs().paymentMessage.decode(v),
    observe && ((message) => observe({ message })),
  );
  const consumer: GroupConsumer = await client.groupConsumer({
    groupId: opts.groupId,
    topics: [topics.transfers, topics.paymentMessages],
    sessionTimeoutMs: 10_000,
    heartbeatIntervalMs: 1_000,
    coPartitioned: false,
    fromBeginning: true,
  });
  let joined!: () => void;
  const join = new Promise<void>((resolve) => (joined = resolve));
  consumer.onAssignment((a) => {
    if ((a.get(topics.transfers)?.length ?? 0) > 0 && (a.get(topics.paymentMessages)?.length ?? 0) > 0)
      joined();
  });
  await consumer.run(async (batch) => {
    const fanout = batch.topic === topics.transfers ? transfers : messages;
    for (const r of batch.records) fanout.push(r);
  });
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`the bench's reader did not join its group in ${JOIN_TIMEOUT_MS} ms`)),
      JOIN_TIMEOUT_MS,
    );
  });
  await Promise.race([join, timeout]).finally(() => clearTimeout(timer));
  return {
    sendTransfer: (t, route) => writes.sendTransfer(t, route),
    sendPeerMessage: (m) => writes.sendPeerMessage(m),
    transfers: (channelId, on) => transfers.subscribe(channelId, on),
    peerMessages: (channelId, on) => messages.subscribe(channelId, on),
    async close() {
      await consumer.stop().catch(() => undefined);
      await writes.close();
    },
  };
}
