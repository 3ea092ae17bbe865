/**
 * What the node did on-chain, published on the settlements topic as `SettlementEvent`s (the SDK's Avro
 * record: action, status SUBMITTED/CONFIRMED/FAILED/SKIPPED, seqs, tx hash, gas, the control request it
 * answers, a free-text detail). Best effort: a lost event never blocks or fails an action.
 */
import { codecs, type Hash, type SettlementAction, type SettlementStatus } from "../../../../sdk";
import { messageOf } from "../../errors";
import type { LogProducer } from "../../kafka/client";
import { channelKey } from "../../kafka/topics";
import type { Logger } from "../../log";
import type { Clock } from "./clock";

export interface Outcome {
  readonly channelId: Hash;
  readonly action: SettlementAction;
  readonly status: SettlementStatus;
  readonly seq0?: number;
  readonly seq1?: number;
  readonly txHash?: Hash | null;
  readonly gasUsed?: bigint | null;
  readonly requestId?: string | null;
  /** Why (a failure's reason, a skip's reason) or what (a dispute step). */
  readonly detail?: string | null;
}

/** Where outcomes go; tests collect them in a list. */
export interface OutcomeSink {
  publish(outcome: Outcome): void;
}

export interface OutcomePublisherDeps {
  readonly nodeId: string;
  readonly topic: string;
  readonly producer: LogProducer;
  readonly logger: Logger;
  readonly clock: Clock;
}

export class OutcomePublisher implements OutcomeSink {
  private seq = 0;

  constructor(private readonly deps: OutcomePublisherDeps) {}

  publish(o: Outcome): void {
    const now = this.deps.clock.now();
    const value = codecs().settlement.encode({
      schemaVersion: 1,
      eventId: `${this.deps.nodeId}/${now.toString(36)}/${++this.seq}`,
      channelId: o.channelId,
      action: o.action,
      status: o.status,
      seq0: o.seq0 ?? 0,
      seq1: o.seq1 ?? 0,
      txHash: o.txHash ?? null,
      gasUsed: o.gasUsed === undefined || o.gasUsed === null ? null : Number(o.gasUsed),
      requestId: o.requestId ?? null,
      detail: o.detail ?? null,
      atMs: now,
    });
    this.deps.producer.send(this.deps.topic, [{ key: channelKey(o.channelId), value }]).catch((e) =>
      this.deps.logger.warn("settlement event not published", {
        channelId: o.channelId,
        action: o.action,
        error: messageOf(e),
      }),
    );
  }
}
