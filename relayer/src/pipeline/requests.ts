/**
 * The two co-partitioned input topics besides transfers: control requests (settle now, dispute,
 * checkpoint now) and checkpoint signatures coming back from signers. Bad input is dead-lettered;
 * a late signature for a superseded proposal is simply ignored.
 *
 * Both messages are small (~150 and ~250 bytes): anything over `MAX_REQUEST_MESSAGE_BYTES` is
 * dead-lettered before it is decoded, and a control `requestId` (kept in the channel's snapshot and
 * echoed on the settlements topic) is at most `MAX_REQUEST_ID_CHARS`. A `schemaVersion` that contradicts
 * the schema fingerprint is refused by the SDK's codec (`Malformed`).
 */
import {
  codecs,
  type Domain,
  type ErrorCode,
  type Hash,
  hashCheckpoint,
  isParsecError,
  recoverSigner,
  typedDataDigest,
} from "../../../sdk";
import type { ChainRegistry } from "../chain/registry";
import type { Operator } from "../commit/operator";
import { messageOf } from "../errors";
import { M, type Metrics } from "../http/metrics";
import type { InRecord } from "../kafka/client";
import { channelIdOfKey, channelKey } from "../kafka/topics";
import type { PartitionState } from "../state/partition";
import { DEFAULT_MAX_RECORD_BYTES } from "../config";
import { deadLetterRecord } from "./dead-letter";

/** The largest control request or checkpoint signature message the node decodes. */
export const MAX_REQUEST_MESSAGE_BYTES = 4096;
/** The longest control `requestId` (a UUID is 36). */
export const MAX_REQUEST_ID_CHARS = 128;

export interface RequestPipelineDeps {
  readonly domain: Domain;
  readonly registry: ChainRegistry;
  readonly operator: Operator;
  readonly metrics: Metrics;
  /** `kafka.maxRecordBytes`: dead letters are cut to fit it (default `DEFAULT_MAX_RECORD_BYTES`). */
  readonly maxRecordBytes?: number;
}

/** Why a control or signature message is refused before decoding, or null. */
function tooLarge(r: InRecord, what: string): string | null {
  const n = r.value?.length ?? 0;
  return n > MAX_REQUEST_MESSAGE_BYTES
    ? `Malformed input: the ${what} message is ${n} bytes, over the bound of ${MAX_REQUEST_MESSAGE_BYTES}; ` +
        `a valid one is a few hundred bytes (check the producer and the topic)`
    : null;
}

export class RequestPipeline {
  constructor(private readonly deps: RequestPipelineDeps) {}

  private reject(
    ps: PartitionState,
    r: InRecord,
    code: ErrorCode,
    message: string,
    channelId: Hash | null,
  ): void {
    this.deps.metrics.inc(M.rejected, "Transfers rejected, by reason", { reason: code, topic: r.topic });
    ps.deadLetter(
      deadLetterRecord(r, code, message, channelId, this.deps.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES),
    );
  }

  private async known(id: Hash): Promise<ReturnType<ChainRegistry["get"]>> {
    let onchain = this.deps.registry.get(id);
    if (!onchain) {
      await this.deps.registry.sync().catch(() => undefined);
      onchain = this.deps.registry.get(id);
    }
    return onchain;
  }

  /** Control requests of one partition batch. Call under the partition lock. */
  async processControl(ps: PartitionState, records: readonly InRecord[]): Promise<void> {
    for (const r of records) {
      if (r.offset <= ps.skip.control) continue;
      this.deps.metrics.inc(M.received, "Messages received, by topic", { topic: "control" });
      const big = tooLarge(r, "control request");
      if (big) {
        this.reject(ps, r, "Malformed", big, channelIdOfKey(r.key));
        continue;
      }
      let req;
      try {
        req = codecs().control.decode(r.value ?? new Uint8Array(0));
      } catch (e) {
        this.reject(ps, r, isParsecError(e) ? e.code : "Malformed", messageOf(e), channelIdOfKey(r.key));
        continue;
      }
      const id = req.channelId;
      if (!r.key || !r.key.equals(channelKey(id))) {
        this.reject(ps, r, "Malformed", `the message key must be the 32 bytes of the channel id ${id}`, id);
        continue;
      }
      if (req.requestId.length > MAX_REQUEST_ID_CHARS) {
        this.reject(
          ps,
          r,
          "Malformed",
          `Malformed input: requestId is ${req.requestId.length} characters, over the bound of ` +
            `${MAX_REQUEST_ID_CHARS}; use a short unique id such as a UUID`,
          id,
        );
        continue;
      }
      const onchain = await this.known(id);
      if (!onchain) {
        this.reject(ps, r, "WrongChannel", `channel ${id} is not open on this contract`, id);
        continue;
      }
      const ch = ps.channel(id);
      if (r.offset <= ch.lastControlOffset) continue;
      ch.lastControlOffset = r.offset;
      ps.markDirty(ch);
      this.deps.metrics.inc(M.control, "Control requests, by action", { action: req.action });
      switch (req.action) {
        case "CHECKPOINT_NOW":
          this.deps.operator.checkpointNow(ps, ch);
          break;
        case "SETTLE_NOW":
        case "DISPUTE":
          this.deps.operator.request(ps, ch, req.action, req.requestId);
          break;
        default:
          this.reject(ps, r, "UnknownKind", `control action ${req.action} is not one this node knows`, id);
      }
    }
    if (records.length > 0)
      ps.progress.control = Math.max(ps.progress.control, records[records.length - 1].offset);
  }

  /** Checkpoint signatures of one partition batch. Call under the partition lock. */
  async processSignatures(ps: PartitionState, records: readonly InRecord[]): Promise<void> {
    for (const r of records) {
      if (r.offset <= ps.skip.signatures) continue;
      this.deps.metrics.inc(M.received, "Messages received, by topic", { topic: "signatures" });
      const big = tooLarge(r, "checkpoint signature");
      if (big) {
        this.reject(ps, r, "Malformed", big, channelIdOfKey(r.key));
        continue;
      }
      let msg;
      try {
        msg = codecs().checkpointSignature.decode(r.value ?? new Uint8Array(0));
      } catch (e) {
        this.reject(ps, r, isParsecError(e) ? e.code : "Malformed", messageOf(e), channelIdOfKey(r.key));
        continue;
      }
      const c = msg.checkpoint;
      const ch = ps.channels.get(c.channelId);
      const onchain = this.deps.registry.get(c.channelId);
      if (!ch || !onchain) continue;
      if (r.offset <= ch.lastSignatureOffset) continue;
      ch.lastSignatureOffset = r.offset;
      ps.markDirty(ch);
      const p = ch.proposal;
      const matches =
        p !== null &&
        p.proposalId === msg.proposalId &&
        p.seq0 === c.seq0 &&
        p.head0 === c.head0 &&
        p.seq1 === c.seq1 &&
        p.head1 === c.head1;
      if (!matches) {
        this.deps.metrics.inc(M.signatures, "Checkpoint signatures received, by outcome", {
          outcome: "stale",
        });
        continue;
      }
      let signer: string;
      try {
        signer = recoverSigner(
          typedDataDigest(this.deps.domain, hashCheckpoint(c)),
          msg.signature,
        ).toLowerCase();
      } catch (e) {
        this.reject(ps, r, "BadSignature", messageOf(e), c.channelId);
        continue;
      }
      if (signer !== onchain.participantsLower[msg.signerIndex] || signer !== msg.signer.toLowerCase()) {
        this.reject(
          ps,
          r,
          "BadSignature",
          `the checkpoint signature is not participant ${msg.signerIndex}'s`,
          c.channelId,
        );
        continue;
      }
      this.deps.metrics.inc(M.signatures, "Checkpoint signatures received, by outcome", {
        outcome: "accepted",
      });
      if (msg.signerIndex === 0) p.sig0 = msg.signature;
      else p.sig1 = msg.signature;
      if (p.sig0 && p.sig1) {
        ch.checkpoint = {
          seq0: p.seq0,
          head0: p.head0,
          seq1: p.seq1,
          head1: p.head1,
          sig0: p.sig0,
          sig1: p.sig1,
        };
        this.deps.operator.ready(ch, onchain);
      }
    }
    if (records.length > 0)
      ps.progress.signatures = Math.max(ps.progress.signatures, records[records.length - 1].offset);
  }
}
