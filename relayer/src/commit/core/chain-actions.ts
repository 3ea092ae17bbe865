/**
 * The shared core of the commit services (lnd's `Payer`): runs on-chain actions, one per channel
 * (`ActionSlots`, priority in ./priority.ts), keeps each duty's retry record (./retry.ts), sends the
 * transactions and counts them. Services decide *what* to do; this decides whether it may run now.
 */
import type { Address, Hash, Hex } from "../../../../sdk";
import type { TxResult } from "../../chain/tx-sender";
import type { RetryConfig } from "../../config";
import { messageOf } from "../../errors";
import { M, type Metrics } from "../../http/metrics";
import type { Logger } from "../../log";
import type { Clock } from "./clock";
import { PreemptedError, StoppedError } from "./errors";
import type { Sender } from "./ports";
import type { ActionKind } from "./priority";
import { nextStep, recordFailure, type NextStep, type RetryRecord } from "./retry";
import { type ActionToken, ActionSlots } from "./slots";

export interface ChainActionsDeps {
  /** The channels contract. */
  readonly to: Address;
  readonly retry: RetryConfig;
  readonly clock: Clock;
  readonly metrics: Metrics;
  readonly logger: Logger;
  /** In [0, 1): the backoff's jitter (tests pass a constant). */
  readonly random?: () => number;
}

export interface ActionRequest {
  readonly channelId: Hash;
  readonly kind: ActionKind;
  /** For logs and transaction labels. */
  readonly label: string;
  /** What failures are counted against (default: the kind), e.g. one control request. */
  readonly duty?: string;
}

/**
 * - `done`: completed; `busy`: another action holds the channel (nothing ran); `failed`: threw, the duty's
 *   retry record has the error; `preempted`: a higher action took the channel; `stopped`: the node stops.
 */
export type RunResult = "done" | "busy" | "failed" | "preempted" | "stopped";

export class ChainActions {
  readonly slots = new ActionSlots();
  private readonly retries = new Map<string, RetryRecord>();
  private stopped = false;

  constructor(private readonly deps: ChainActionsDeps) {}

  private key(channelId: Hash, duty: string): string {
    return `${channelId}/${duty}`;
  }

  /** Whether a duty may be attempted now, must wait (backoff), or has used up its attempts. */
  step(channelId: Hash, duty: string): NextStep {
    return nextStep(this.deps.retry, this.retries.get(this.key(channelId, duty)), this.deps.clock.now());
  }

  /** The duty's failures so far (0: none). */
  attempts(channelId: Hash, duty: string): number {
    return this.retries.get(this.key(channelId, duty))?.attempts ?? 0;
  }

  /** Starts a duty afresh (it succeeded, was given up, or was asked for again). */
  forget(channelId: Hash, duty: string): void {
    this.retries.delete(this.key(channelId, duty));
  }

  /** Counts a failure of a duty that did not run through `run` (e.g. a batch). */
  fail(channelId: Hash, duty: string, error: unknown): void {
    const k = this.key(channelId, duty);
    const random = this.deps.random ?? Math.random;
    this.retries.set(
      k,
      recordFailure(this.deps.retry, this.retries.get(k), messageOf(error), this.deps.clock.now(), random()),
    );
  }

  /**
   * Runs one action: takes the channel (or returns `busy`), runs `fn`, and releases only its own token,
   * so an action that was preempted cannot free the channel under the action that preempted it.
   */
  async run(req: ActionRequest, fn: (token: ActionToken) => Promise<void>): Promise<RunResult> {
    if (this.stopped) return "stopped";
    const got = this.slots.acquire(req.channelId, req.kind, req.label, this.deps.clock.now());
    if (!got.ok) return "busy";
    if (got.preempted) {
      this.deps.metrics.inc(M.actionsPreempted, "Actions preempted by a higher-priority action", {
        kind: got.preempted.kind,
        by: req.kind,
      });
      this.deps.logger.info("action preempted", {
        channelId: req.channelId,
        preempted: got.preempted.label,
        by: req.label,
      });
    }
    const duty = req.duty ?? req.kind;
    try {
      await fn(got.token);
      this.forget(req.channelId, duty);
      return "done";
    } catch (e) {
      if (e instanceof PreemptedError) return "preempted";
      if (e instanceof StoppedError) return "stopped";
      this.deps.logger.warn(`${req.label} failed`, { channelId: req.channelId, error: messageOf(e) });
      this.fail(req.channelId, duty, e);
      return "failed";
    } finally {
      this.slots.release(got.token);
    }
  }

  /**
   * Sends one transaction and counts it. With a token, only while it still holds the channel (a
   * preempted action sends nothing more); batches of many channels pass none.
   */
  async send(
    sender: Sender,
    tx: { readonly method: string; readonly data: Hex; readonly label: string; readonly token?: ActionToken },
  ): Promise<TxResult> {
    // A batch already queued still goes out while stopping (the node drains it); a single action's next
    // step does not.
    if (tx.token && this.stopped) throw new StoppedError(tx.label);
    if (tx.token && !tx.token.live) throw new PreemptedError(tx.token.channelId, tx.token.label);
    const r = await sender.send({ to: this.deps.to, data: tx.data, label: tx.label });
    this.recordTx(tx.method, r);
    return r;
  }

  recordTx(kind: string, r: TxResult): void {
    this.deps.metrics.inc(M.txs, "Transactions mined, by kind and status", { kind, status: r.status });
    this.deps.metrics.inc(M.gas, "Gas used by the node's transactions, by kind", { kind }, Number(r.gasUsed));
  }

  /** Counts a duty given up (its service publishes the FAILED outcome). */
  gaveUp(kind: ActionKind): void {
    this.deps.metrics.inc(M.actionsGivenUp, "Actions given up after their retries", { kind });
  }

  /** Whether an action of `kind` would get the channel now (held, or a higher action waits for it). */
  canRun(channelId: Hash, kind: ActionKind): boolean {
    return !this.stopped && this.slots.wouldGrant(channelId, kind, this.deps.clock.now());
  }

  busy(channelId: Hash): boolean {
    return this.slots.busy(channelId);
  }

  /** Actions running now. */
  get running(): number {
    return this.slots.size;
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  stop(): void {
    this.stopped = true;
  }
}
