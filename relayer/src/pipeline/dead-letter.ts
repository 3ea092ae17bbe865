// A rejected input as its dead-letter record: the reason, and the original key, bytes and log position.
import { codecs, deadLetterOf, type ErrorCode, type Hash } from "../../../sdk";
import type { InRecord, OutRecord } from "../kafka/client";

/** The dead-letter record of `r` (keyed like the original, so it lands beside its channel's other rejects). */
export function deadLetterRecord(
  r: InRecord,
  code: ErrorCode,
  message: string,
  channelId: Hash | null,
): OutRecord {
  const original = {
    original: r.value ?? new Uint8Array(0),
    originalKey: r.key,
    topic: r.topic,
    partition: r.partition,
    offset: r.offset,
  };
  return {
    key: r.key,
    value: codecs().deadLetter.encode(deadLetterOf({ code, message }, original, channelId)),
  };
}
