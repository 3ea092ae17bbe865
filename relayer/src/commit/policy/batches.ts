/**
 * The commit transactions of many channels: co-signed checkpoints in one `checkpointBatch` from the
 * submitter, head proofs in one `proveHeads` per payee key (the contract wants the payee as sender).
 * An entry the chain already holds — per the index, raised by what our own batches applied — is not
 * sent again; the index is synced before the next batch goes out.
 */
import {
  checkpointBatchArgs,
  type ChannelParams,
  type Hash,
  type HeadProofRecord,
  type Hex,
  proveHeadsArgs,
  type SettlementAction,
  type SignedCheckpoint,
} from "../../../../sdk";
import { channelsInterface, SKIP_REASONS } from "../../chain/abi";
import type { TxResult } from "../../chain/tx-sender";
import type { CommitConfig } from "../../config";
import { messageOf, MissingKeyError } from "../../errors";
import { M, type Metrics } from "../../http/metrics";
import type { Logger } from "../../log";
import { Batcher } from "../batcher";
import type { ChainActions } from "../core/chain-actions";
import { EntrySkippedError } from "../core/errors";
import { checkpointNeeded, type CommitView, headNeeded, type MinedCommits } from "../core/mined";
import type { OutcomeSink } from "../core/outcomes";
import type { ChainView, Sender } from "../core/ports";

/** Gas per batch entry used to bound batches (measured by scripts/bench/gas.ts, rounded up). */
export const CHECKPOINT_GAS = 25_000;
export const HEAD_PROOF_GAS = 45_000;

export interface CheckpointEntry {
  readonly channelId: Hash;
  readonly params: ChannelParams;
  readonly checkpoint: SignedCheckpoint;
}

export interface HeadEntry {
  readonly channelId: Hash;
  readonly record: HeadProofRecord;
}

export interface CommitBatchesDeps {
  readonly config: CommitConfig;
  readonly chain: ChainView;
  readonly actions: ChainActions;
  readonly outcomes: OutcomeSink;
  readonly mined: MinedCommits;
  readonly metrics: Metrics;
  readonly logger: Logger;
  readonly submitter: Sender | null;
  /** Senders of the participant keys the node holds, by lower-case address. */
  readonly senders: ReadonlyMap<string, Sender>;
}

interface Applied {
  readonly channelId: Hash;
  readonly seq0: number;
  readonly seq1: number;
}

export class CommitBatches {
  readonly checkpoints: Batcher<CheckpointEntry>;
  private readonly heads = new Map<string, Batcher<HeadEntry>>();
  /** Entries the contract skipped in their batch, until their action hears of it. */
  private readonly skipped = new Map<Hash, string>();

  constructor(private readonly deps: CommitBatchesDeps) {
    const c = deps.config;
    const limits = { maxEntries: c.batchMaxEntries, maxGas: c.batchMaxGas, maxWaitMs: c.batchMaxWaitMs };
    this.checkpoints = new Batcher(
      "checkpointBatch",
      limits,
      CHECKPOINT_GAS,
      (e) => this.sendCheckpoints(e),
      deps.logger,
    );
    for (const [addr, sender] of deps.senders) {
      this.heads.set(
        addr,
        new Batcher(
          `proveHeads(${sender.address})`,
          limits,
          HEAD_PROOF_GAS,
          (e) => this.sendHeadProofs(sender, e),
          deps.logger,
        ),
      );
    }
  }

  /** Whether the node holds this payee key (and so can send its head proofs). */
  holdsPayee(payeeLower: string): boolean {
    return this.heads.has(payeeLower);
  }

  /**
   * Queues a head proof from the payee's key; resolves once its batch is mined, rejects with
   * `EntrySkippedError` when the contract skipped the entry.
   */
  async proveHead(payeeLower: string, entry: HeadEntry): Promise<void> {
    const b = this.heads.get(payeeLower);
    if (!b) throw new MissingKeyError(payeeLower, "a head proof");
    await b.addAndWait(entry);
    this.throwIfSkipped(entry.channelId);
  }

  /** Queues a co-signed checkpoint; as `proveHead`. */
  async checkpoint(entry: CheckpointEntry): Promise<void> {
    await this.checkpoints.addAndWait(entry);
    this.throwIfSkipped(entry.channelId);
  }

  private throwIfSkipped(channelId: Hash): void {
    const reason = this.skipped.get(channelId);
    if (reason === undefined) return;
    this.skipped.delete(channelId);
    throw new EntrySkippedError(channelId, reason);
  }

  private view(channelId: Hash): CommitView | null {
    const on = this.deps.chain.get(channelId);
    return on && on.status !== "SETTLED" ? this.deps.mined.view(channelId, on) : null;
  }

  private async sendCheckpoints(entries: CheckpointEntry[]): Promise<void> {
    const submitter = this.deps.submitter;
    if (!submitter) return;
    const live = entries.filter((e) => {
      const v = this.view(e.channelId);
      return v !== null && checkpointNeeded(e.checkpoint, v);
    });
    if (live.length === 0) return;
    const data = channelsInterface.encodeFunctionData("checkpointBatch", checkpointBatchArgs(live)) as Hex;
    let r: TxResult;
    try {
      r = await this.deps.actions.send(submitter, {
        method: "checkpointBatch",
        data,
        label: `checkpointBatch(${live.length})`,
      });
    } catch (e) {
      for (const x of live)
        this.deps.outcomes.publish({
          channelId: x.channelId,
          action: "CHECKPOINT",
          status: "FAILED",
          seq0: x.checkpoint.seq0,
          seq1: x.checkpoint.seq1,
          detail: messageOf(e),
        });
      this.deps.metrics.inc(
        M.commits,
        "Commits by kind and outcome",
        { kind: "checkpoint", status: "failed" },
        live.length,
      );
      throw e;
    }
    const applied = this.afterBatch(
      r,
      "checkpoint",
      live.map((x) => ({ channelId: x.channelId, seq0: x.checkpoint.seq0, seq1: x.checkpoint.seq1 })),
    );
    for (const a of applied) this.deps.mined.checkpoint(a.channelId, a);
    await this.deps.chain.sync().catch(() => undefined);
  }

  private async sendHeadProofs(sender: Sender, entries: HeadEntry[]): Promise<void> {
    const live = entries.filter((e) => {
      const v = this.view(e.channelId);
      return v !== null && headNeeded(e.record.payer, e.record.transfer.seq, v);
    });
    if (live.length === 0) return;
    const data = channelsInterface.encodeFunctionData(
      "proveHeads",
      proveHeadsArgs(live.map((e) => e.record)),
    ) as Hex;
    const r = await this.deps.actions.send(sender, {
      method: "proveHeads",
      data,
      label: `proveHeads(${live.length})`,
    });
    const applied = this.afterBatch(
      r,
      "head",
      live.map((e) => ({
        channelId: e.channelId,
        seq0: e.record.payer === 0 ? e.record.transfer.seq : 0,
        seq1: e.record.payer === 1 ? e.record.transfer.seq : 0,
      })),
    );
    for (const a of applied) {
      if (a.seq0 > 0) this.deps.mined.head(a.channelId, 0, a.seq0);
      if (a.seq1 > 0) this.deps.mined.head(a.channelId, 1, a.seq1);
    }
    await this.deps.chain.sync().catch(() => undefined);
  }

  /** Reports per entry whether the contract applied it or skipped it (and why); returns the applied. */
  private afterBatch(r: TxResult, kind: "checkpoint" | "head", entries: readonly Applied[]): Applied[] {
    const skipped = skippedEntries(r);
    const share = r.gasUsed / BigInt(Math.max(1, entries.length));
    const action: SettlementAction = kind === "checkpoint" ? "CHECKPOINT" : "HEAD_PROOF";
    const applied: Applied[] = [];
    for (const e of entries) {
      const reason = skipped.get(e.channelId.toLowerCase());
      if (reason) this.skipped.set(e.channelId, reason);
      else applied.push(e);
      this.deps.metrics.inc(M.commits, "Commits by kind and outcome", {
        kind,
        status: reason ? "skipped" : "applied",
      });
      this.deps.metrics.inc(M.commitEntries, "Channels committed per batch transaction", { kind });
      this.deps.outcomes.publish({
        ...e,
        action,
        status: reason ? "SKIPPED" : "CONFIRMED",
        txHash: r.transactionHash,
        gasUsed: share,
        detail: reason ?? null,
      });
    }
    return applied;
  }

  get size(): number {
    let n = this.checkpoints.size;
    for (const b of this.heads.values()) n += b.size;
    return n;
  }

  async stop(): Promise<void> {
    await this.checkpoints.drain().catch(() => undefined);
    this.checkpoints.close();
    for (const b of this.heads.values()) b.close();
  }
}

/** The channels a batch's `CheckpointSkipped`/`HeadProofSkipped` logs name, with the reason (lower-case ids). */
export function skippedEntries(r: Pick<TxResult, "logs">): Map<string, string> {
  const skipped = new Map<string, string>();
  for (const log of r.logs) {
    try {
      const ev = channelsInterface.parseLog({ topics: [...log.topics], data: log.data });
      if (ev && (ev.name === "CheckpointSkipped" || ev.name === "HeadProofSkipped")) {
        skipped.set(
          String(ev.args.channelId).toLowerCase(),
          SKIP_REASONS[Number(ev.args.reason)] ?? "Malformed",
        );
      }
    } catch {
      // not ours
    }
  }
  return skipped;
}
