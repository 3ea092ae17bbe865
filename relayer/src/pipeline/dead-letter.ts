/**
 * A rejected input as its dead-letter record: the reason, and the original key, bytes and log position.
 *
 * The record always fits `maxRecordBytes` (key + value, `kafka.maxRecordBytes`): the original is kept
 * whole when the encoded record fits, else only its first bytes, with `originalTruncated` set; the
 * record still carries the original's length, sha256 and source topic/partition/offset, so the input
 * can be found and checked in the source topic. A record that could not be written would stall its
 * partition, since the flush retries it; any input, of any size, must yield a writable dead letter.
 */
import {
  codecs,
  deadLetterOf,
  type DeadLetter,
  type ErrorCode,
  type Hash,
  truncateDeadLetter,
} from "../../../sdk";
import { DeadLetterTooLargeError } from "../errors";
import type { InRecord, OutRecord } from "../kafka/client";

/** The dead-letter record of `r` (keyed like the original, so it lands beside its channel's other rejects). */
export function deadLetterRecord(
  r: InRecord,
  code: ErrorCode,
  message: string,
  channelId: Hash | null,
  maxRecordBytes: number,
): OutRecord {
  const dl = deadLetterOf(
    { code, message },
    {
      original: r.value ?? new Uint8Array(0),
      originalKey: r.key,
      topic: r.topic,
      partition: r.partition,
      offset: r.offset,
    },
    channelId,
  );
  // The Kafka key is the key the record keeps (at most DEAD_LETTER_MAX_KEY_BYTES).
  const key = dl.originalKey === null ? null : Buffer.from(dl.originalKey);
  return { key, value: encodeFitting(dl, maxRecordBytes - (key?.length ?? 0)) };
}

/** Bytes of a varint holding `n` (Avro's zigzag long: 7 bits per byte of 2n). */
function varintBytes(n: number): number {
  let v = 2 * n;
  let bytes = 1;
  while (v >= 0x80) {
    v = Math.floor(v / 0x80);
    bytes++;
  }
  return bytes;
}

/**
 * The encoded `dl` in at most `maxValueBytes`, keeping as much of the original as fits. Throws
 * `DeadLetterTooLargeError` only when even an empty original does not fit (a misconfiguration: the
 * config's lower bound on `kafka.maxRecordBytes` rules it out).
 */
export function encodeFitting(dl: DeadLetter, maxValueBytes: number): Buffer {
  const codec = codecs().deadLetter;
  // Nearly every dead letter fits whole: one encoding, and the cut is worked out only when it does not.
  const whole = codec.encode(dl);
  if (whole.length <= maxValueBytes) return whole;
  // Everything but the original's bytes and length varint: the same in the whole and the cut record,
  // but for the flag, which is one byte either way.
  const bare = codec.encode(truncateDeadLetter(dl, 0));
  const overhead = bare.length - varintBytes(0);
  const room = maxValueBytes - overhead;
  let keep = room - varintBytes(room);
  if (keep < 0) throw new DeadLetterTooLargeError(bare.length, maxValueBytes);
  let out = codec.encode(truncateDeadLetter(dl, keep));
  // The arithmetic is exact; the loop only guards against an encoder surprise.
  while (out.length > maxValueBytes && keep > 0) {
    keep = Math.max(0, keep - (out.length - maxValueBytes));
    out = codec.encode(truncateDeadLetter(dl, keep));
  }
  if (out.length > maxValueBytes) throw new DeadLetterTooLargeError(out.length, maxValueBytes);
  return out;
}
