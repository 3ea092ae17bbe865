/**
 * How channel:pay and payment:status reach Kafka: a signed transfer written to its channel's partition of
 * the transfers topic (key = the channel id's 32 bytes, partition = the Java client's murmur2 of it, as
 * the node checks), and the node's dead letters for a channel's transfers, decoded back to (payer, seq,
 * transfer hash). Behind an interface so a test can put a failing producer in its place.
 */
import {
  codecs,
  hashTransfer,
  transferMessage,
  type Address,
  type Domain,
  type Hash,
  type PayerIndex,
  type SignedTransfer,
} from "../../sdk";
import type { LogProducer } from "../../relayer/src/kafka/client";
import { channelKey, channelPartition } from "../../relayer/src/kafka/topics";
import { TaskError } from "./errors";
import { kafkaTarget, openLog, type KafkaArgs } from "./kafka";
import { deadLetterReason } from "./words";

/** Where a transfer was written. */
export interface SentTransfer {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly sentAtMs: number;
}

/** A dead letter of one of a channel's transfers. */
export interface TransferDeadLetter {
  readonly payer: PayerIndex;
  readonly seq: number;
  readonly transferHash: Hash;
  /** "Code: text", as the node gave it. */
  readonly reason: string;
  readonly failedAtMs: number;
}

/** Offsets of the dead-letter topic's partitions: read only what comes after them. */
export type DeadLetterMark = ReadonlyMap<number, number>;

export interface TransferTransport {
  /** Writes `signed` (signed by `signer`) to its channel's partition of the transfers topic. */
  send(signed: SignedTransfer, signer: Address): Promise<SentTransfer>;
  /** Where the dead-letter topic ends now. */
  mark(): Promise<DeadLetterMark>;
  /** The node's dead letters for transfers of `channelId` (after `since`, else all that are kept). */
  deadLetters(channelId: Hash, since?: DeadLetterMark): Promise<readonly TransferDeadLetter[]>;
  close(): Promise<void>;
}

/** The transport on the node's brokers and topics (found as the operator tasks find them). */
export async function kafkaTransport(args: Partial<KafkaArgs>, domain: Domain): Promise<TransferTransport> {
  const { brokers, topics } = kafkaTarget(args);
  const client = await openLog({ brokers, topics }, [topics.transfers, topics.deadLetter]);
  let producer: LogProducer | null = null;
  return {
    async send(signed, signer) {
      const partition = channelPartition(signed.channelId, await client.partitionCount(topics.transfers));
      producer ??= await client.producer();
      const sentAtMs = Date.now();
      const value = codecs().transfer.encode(transferMessage(domain, signed, signer, { sentAtMs }));
      const [sent] = await producer.send(topics.transfers, [
        { key: channelKey(signed.channelId), value, partition },
      ]);
      if (!sent) throw new TaskError(`writing to ${topics.transfers} returned no offset`);
      return { topic: topics.transfers, partition, offset: sent.lastOffset, sentAtMs };
    },
    mark() {
      return client.endOffsets(topics.deadLetter);
    },
    async deadLetters(channelId, since) {
      const ends = await client.endOffsets(topics.deadLetter);
      const out: TransferDeadLetter[] = [];
      for (const [partition, end] of ends) {
        const from = since?.get(partition) ?? 0;
        if (from >= end) continue;
        await client.readPartition(topics.deadLetter, partition, from, end, (records) => {
          for (const r of records) {
            const found = transferDeadLetter(r.value, channelId, topics.transfers);
            if (found) out.push(found);
          }
        });
      }
      return out.sort((a, b) => a.failedAtMs - b.failedAtMs);
    },
    async close() {
      await producer?.close().catch(() => undefined);
      await client.close().catch(() => undefined);
    },
  };
}

/** A dead-letter record as a refused transfer of `channelId`, or null (another input, cut, unreadable). */
function transferDeadLetter(
  value: Buffer | null,
  channelId: Hash,
  transfersTopic: string,
): TransferDeadLetter | null {
  try {
    const d = codecs().deadLetter.decode(value ?? new Uint8Array(0));
    if (d.topic !== transfersTopic || d.channelId !== channelId || d.originalTruncated) return null;
    const t = codecs().transfer.decode(d.original).transfer;
    if (t.channelId !== channelId) return null;
    return {
      payer: t.payer,
      seq: t.seq,
      transferHash: hashTransfer(t),
      reason: deadLetterReason(d),
      failedAtMs: d.failedAtMs,
    };
  } catch {
    return null;
  }
}
