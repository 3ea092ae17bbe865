/**
 * The payment-messages topic's input (protocol §11.5): each record is screened (size), decoded, checked
 * against its key and its channel, and its signature verified as the LOCK's payee's. A message about a
 * LOCK whose payer key this node holds goes into that channel's inbox (in the channel's snapshot, so it
 * is journaled with the consumer offset); others are not for this node. Anything malformed, unsigned or
 * forged goes to the dead-letter topic with its reason, as every input does. Nothing here throws for bad
 * input.
 */
import {
  codecs,
  type Domain,
  type ErrorCode,
  type Hash,
  isParsecError,
  screenPaymentMessage,
  verifyPaymentMessage,
  type Address,
} from "../../../sdk";
import type { OnchainChannel } from "../chain/registry";
import { messageOf } from "../errors";
import { M, type Metrics } from "../http/metrics";
import type { InRecord } from "../kafka/client";
import { channelIdOfKey } from "../kafka/topics";
import { deadLetterRecord } from "../pipeline/dead-letter";
import type { PartitionState } from "../state/partition";
import { inboxKey } from "./entry";

export interface PaymentMessagePipelineDeps {
  readonly domain: Domain;
  readonly channel: (channelId: Hash) => OnchainChannel | undefined;
  /** Whether the node holds the key of `address` (it is the payer the message is for). */
  readonly holds: (address: Address) => boolean;
  readonly chainNow: () => bigint;
  readonly metrics: Metrics;
  readonly maxRecordBytes: number;
}

export class PaymentMessagePipeline {
  constructor(private readonly deps: PaymentMessagePipelineDeps) {}

  private reject(ps: PartitionState, r: InRecord, code: ErrorCode, message: string, id: Hash | null): void {
    this.deps.metrics.inc(M.paymentMessages, "Payment messages received, by outcome", { outcome: code });
    ps.deadLetter(deadLetterRecord(r, code, message, id, this.deps.maxRecordBytes));
  }

  private notForUs(): void {
    this.deps.metrics.inc(M.paymentMessages, "Payment messages received, by outcome", {
      outcome: "notForUs",
    });
  }

  /** Processes one batch of a partition in offset order. Call under the partition's lock. */
  process(ps: PartitionState, records: readonly InRecord[]): void {
    if (records.length === 0) return;
    for (const r of records) {
      if (r.offset <= ps.skip.payments) continue; // reflected before the restore
      this.one(ps, r);
    }
    ps.progress.payments = Math.max(ps.progress.payments, records[records.length - 1].offset);
  }

  private one(ps: PartitionState, r: InRecord): void {
    const keyId = channelIdOfKey(r.key);
    const wire = r.value ?? new Uint8Array(0);
    const screened = screenPaymentMessage(wire);
    if (screened) return this.reject(ps, r, screened.code, screened.message, keyId);
    let m;
    try {
      m = codecs().paymentMessage.decode(wire);
    } catch (e) {
      return this.reject(ps, r, isParsecError(e) ? e.code : "Malformed", messageOf(e), keyId);
    }
    if (keyId !== m.channelId) {
      return this.reject(
        ps,
        r,
        "Malformed",
        `the message key must be the 32 bytes of the channel id ${m.channelId}`,
        m.channelId,
      );
    }
    const onchain = this.deps.channel(m.channelId);
    if (!onchain) {
      return this.reject(
        ps,
        r,
        "WrongChannel",
        `channel ${m.channelId} is not open on this contract`,
        m.channelId,
      );
    }
    const payer = m.payer === 0 ? onchain.params.participant0 : onchain.params.participant1;
    // Mail for another node's LOCK is its business: its signature is checked (and a forgery dead-lettered)
    // by the node holding that payer's key, not here.
    if (!this.deps.holds(payer)) return this.notForUs();
    const payee = m.payer === 0 ? onchain.params.participant1 : onchain.params.participant0;
    try {
      verifyPaymentMessage(m, this.deps.domain, payee);
    } catch (e) {
      return this.reject(ps, r, isParsecError(e) ? e.code : "BadSignature", messageOf(e), m.channelId);
    }
    if (m.kind === "ACK") return this.notForUs();
    const ch = ps.channel(m.channelId);
    const seq = Number(m.seq);
    const key = inboxKey(m.payer, seq, m.kind);
    if (ch.inbox.has(key)) return; // the first message of a kind counts
    const at = this.deps.chainNow();
    ch.inbox.set(
      key,
      m.kind === "SECRET"
        ? { kind: "SECRET", seq, secret: m.secret, at }
        : m.kind === "FAIL"
          ? { kind: "FAIL", seq, failure: m.failure, at }
          : { kind: "CONSENT", seq, consent: m.consent, at },
    );
    ps.markDirty(ch);
    this.deps.metrics.inc(M.paymentMessages, "Payment messages received, by outcome", { outcome: m.kind });
  }
}
