/**
 * The Kafka side of the wallet's `PaymentLog` (client/src/payment/ports.ts): transfers on the node's
 * transfers topic and peer messages on its payment-messages topic, both keyed by channel id, Avro through
 * the SDK's `codecs()`. Subscriptions follow the channel's partition without a consumer group (nothing is
 * left on the cluster), from offset 0, and hand over the records of that channel only.
 */
import {
  codecs,
  transferMessage,
  transferSigner,
  type Address,
  type Domain,
  type Hash,
  type SignedTransfer,
} from "../../sdk";
import type { LoggedTransfer, PaymentLog, PeerMessage, Subscription, TransferAttachment } from "../../client";
import { attachmentFields } from "../../client";
import type { TopicNames } from "../../relayer/src/config";
import { partitionOf, type InRecord, type LogClient, type LogProducer } from "../../relayer/src/kafka/client";
import { channelKey } from "../../relayer/src/kafka/topics";
import { tailPartitions } from "./kafka";

export interface KafkaPaymentLogOptions {
  readonly client: LogClient;
  readonly topics: Pick<TopicNames, "transfers" | "paymentMessages">;
  readonly domain: Domain;
  /** Milliseconds between polls of a followed partition; default 100. */
  readonly pollMs?: number;
  /** Told about records of the channel that do not decode (they are skipped). */
  readonly onUnreadable?: (topic: string, offset: number, error: unknown) => void;
}

/** A `PaymentLog` on Kafka; `close()` stops its subscriptions and its producer (not the client). */
export function kafkaPaymentLog(opts: KafkaPaymentLogOptions): PaymentLog & { close(): Promise<void> } {
  const { client, topics, domain } = opts;
  let producer: Promise<LogProducer> | null = null;
  const live = new Set<{ stopped: boolean }>();
  const write = async (topic: string, channelId: Hash, value: Buffer): Promise<void> => {
    producer ??= client.producer();
    await (await producer).send(topic, [{ key: channelKey(channelId), value }]);
  };

  const follow = (topic: string, channelId: Hash, onRecord: (r: InRecord) => void): Subscription => {
    const flag = { stopped: false };
    live.add(flag);
    const key = channelKey(channelId);
    void (async () => {
      const partition = partitionOf(key, await client.partitionCount(topic));
      await tailPartitions(
        client,
        [{ topic, partition, from: 0 }],
        (r) => {
          if (flag.stopped) return true;
          if (r.value !== null && r.key?.equals(key)) {
            try {
              onRecord(r);
            } catch (e) {
              opts.onUnreadable?.(topic, r.offset, e);
            }
          }
          return false;
        },
        () => flag.stopped,
        opts.pollMs ?? 100,
      );
    })().catch((e) => opts.onUnreadable?.(topic, -1, e));
    return {
      stop: () => {
        flag.stopped = true;
        live.delete(flag);
      },
    };
  };

  return {
    async sendTransfer(transfer: SignedTransfer, attachment?: TransferAttachment) {
      const m = transferMessage(domain, transfer, transferSignerOf(transfer, domain), {
        ...attachmentFields(attachment),
        sentAtMs: Date.now(),
      });
      await write(topics.transfers, transfer.channelId, codecs().transfer.encode(m));
    },
    async sendPeerMessage(message: PeerMessage) {
      await write(topics.paymentMessages, message.channelId, codecs().paymentMessage.encode(message));
    },
    peerMessages(channelId, onMessage) {
      return follow(topics.paymentMessages, channelId, (r) =>
        onMessage(codecs().paymentMessage.decode(r.value as Buffer)),
      );
    },
    transfers(channelId, onTransfer) {
      return follow(topics.transfers, channelId, (r) => {
        const m = codecs().transfer.decode(r.value as Buffer);
        const logged: LoggedTransfer = { transfer: m.transfer, appKind: m.appKind, appData: m.appData };
        onTransfer(logged);
      });
    },
    async close() {
      for (const f of live) f.stopped = true;
      live.clear();
      if (producer) await (await producer).close().catch(() => undefined);
    },
  };
}

/** The payer's address, recovered from the transfer's own signature (the message names its signer). */
function transferSignerOf(t: SignedTransfer, domain: Domain): Address {
  return transferSigner(domain, t);
}
