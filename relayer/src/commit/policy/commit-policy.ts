/**
 * The paper's commit policy: a channel is due after every m-th transfer of a payer, when transfers stayed
 * uncommitted for `checkpointTimeoutMs`, or on CHECKPOINT_NOW; a due channel gets a checkpoint proposal;
 * once both signatures are in, the co-signed checkpoint joins a `checkpointBatch`; when they do not come
 * within `signatureTimeoutMs`, the payee's head proof (batched per payee key), or optionally a chain
 * proof anyone may send. What to do per channel is `decideCommit` / `chooseFallback` (./decide.ts).
 *
 * A restored partition's proposals wait for their signatures from the restore time, not from when they
 * were made: the signer that would sign them was down as well (defect 7).
 */
import { codecs, type Domain, headProof, type Hash, onchainHeads, type Address } from "../../../../sdk";
import type { ChainEvent, OnchainChannel } from "../../chain/registry";
import type { CommitConfig } from "../../config";
import { messageOf } from "../../errors";
import type { LogProducer, OutRecord } from "../../kafka/client";
import { channelKey } from "../../kafka/topics";
import type { Logger } from "../../log";
import type { ChannelState } from "../../state/channel";
import type { PartitionState } from "../../state/partition";
import type { ChainActions } from "../core/chain-actions";
import type { Clock } from "../core/clock";
import { checkpointNeeded, type MinedCommits } from "../core/mined";
import type { OutcomeSink } from "../core/outcomes";
import type { ChainView, ChannelDirectory } from "../core/ports";
import { type Evidence, ledgerOf, signedCheckpointOf } from "../evidence";
import type { CommitBatches } from "./batches";
import { chooseFallback, decideCommit } from "./decide";

/** Failures of a channel's commit actions (checkpoint, head proof, chain proof) count against one duty. */
export const COMMIT_DUTY = "commit";

export interface CommitPolicyDeps {
  readonly config: CommitConfig;
  readonly nodeId: string;
  readonly proposalsTopic: string;
  readonly domain: Domain;
  /** The address that appears as proposer in checkpoint proposals. */
  readonly proposer: Address;
  readonly chain: ChainView;
  readonly channels: ChannelDirectory;
  readonly producer: LogProducer;
  readonly actions: ChainActions;
  readonly batches: CommitBatches;
  readonly evidence: Evidence;
  readonly mined: MinedCommits;
  readonly outcomes: OutcomeSink;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly hasSubmitter: boolean;
}

export class CommitPolicy {
  private proposals: OutRecord[] = [];
  private lastFullScan = 0;
  private seq = 0;
  /** When each partition was restored: its restored proposals wait for signatures from then. */
  private readonly restoredAt = new WeakMap<PartitionState, number>();

  constructor(private readonly deps: CommitPolicyDeps) {
    deps.chain.on((e) => this.onChainEvent(e));
  }

  /** A partition's state was restored: the signature timers of its proposals start now. */
  noteRestored(ps: PartitionState): void {
    this.restoredAt.set(ps, this.deps.clock.now());
  }

  private onChainEvent(e: ChainEvent): void {
    if (e.type === "reorg") this.deps.mined.clear();
    if (e.type === "settled") this.deps.mined.forget(e.channel.channelId);
    if (e.type === "committed") this.deps.mined.forgetIfCovered(e.channel.channelId, e.channel);
    if (e.type !== "committed" && e.type !== "settled") return;
    const owned = this.deps.channels.locate(e.channel.channelId);
    if (!owned) return;
    const { ps, ch } = owned;
    const onchain = e.channel;
    void ps.lock.run(() => {
      if (e.type === "settled") {
        ps.uncommitted.delete(ch.channelId);
        ch.uncommittedSinceMs = 0;
        ch.commitDue = false;
        ch.proposal = null;
        ps.markDirty(ch);
        return;
      }
      for (const payer of [0, 1] as const) {
        const seq = payer === 0 ? onchain.seq0 : onchain.seq1;
        for (const o of ch.prune(payer, seq)) ps.dropWire(o);
      }
      if (ch.proposal && ch.proposal.seq0 <= onchain.seq0 && ch.proposal.seq1 <= onchain.seq1)
        ch.proposal = null;
      if (!ch.aheadOf(onchain.seq0, onchain.seq1)) {
        ch.uncommittedSinceMs = 0;
        ch.commitDue = false;
        ps.uncommitted.delete(ch.channelId);
      } else {
        ch.uncommittedSinceMs = this.deps.clock.now();
      }
      ps.markDirty(ch);
    });
  }

  /**
   * Looks at owned uncommitted channels. Called every ~200 ms; channels flagged due (m-th transfer,
   * checkpoint-now) or with a proposal out are looked at every time, the rest (timeouts) once a second:
   * a node may hold hundreds of thousands of uncommitted channels.
   */
  async tick(now: number): Promise<void> {
    const c = this.deps.config;
    const full =
      now - this.lastFullScan >= Math.min(1000, c.checkpointTimeoutMs / 4, c.signatureTimeoutMs / 4);
    if (full) this.lastFullScan = now;
    for (const ps of this.deps.channels.owned()) {
      const ids = full ? ps.uncommitted : ps.attention;
      if (ids.size === 0) continue;
      // A partition seen before its restore was noted: its proposals wait from now at the least.
      if (!this.restoredAt.has(ps)) this.restoredAt.set(ps, now);
      await ps.lock.run(() => this.scan(ps, ids, full, now));
    }
    await this.flushProposals();
  }

  private scan(ps: PartitionState, ids: Set<Hash>, full: boolean, now: number): void {
    const c = this.deps.config;
    const restoredAt = this.restoredAt.get(ps) ?? 0;
    for (const id of ids) {
      if (!full && !ps.uncommitted.has(id)) {
        ps.attention.delete(id);
        continue;
      }
      const ch = ps.channels.get(id);
      const onchain = this.deps.chain.get(id);
      if (!ch || !onchain) continue;
      const view = this.deps.mined.view(id, onchain);
      const p = ch.proposal;
      const cp = signedCheckpointOf(ch);
      const step = this.deps.actions.step(id, COMMIT_DUTY);
      const decision = decideCommit({
        status: onchain.status,
        ahead: ch.aheadOf(view.heads.seq0, view.heads.seq1),
        proposal: p && {
          signed: p.sig0 !== null && p.sig1 !== null,
          waitingSinceMs: Math.max(p.proposedAtMs, restoredAt),
        },
        checkpointNeeded: cp !== null && checkpointNeeded(cp, view),
        blocked:
          !this.deps.actions.canRun(id, "checkpoint") ||
          this.deps.batches.checkpoints.has(id) ||
          step.kind === "wait",
        commitDue: ch.commitDue,
        uncommittedSinceMs: ch.uncommittedSinceMs,
        nowMs: now,
        checkpointTimeoutMs: c.checkpointTimeoutMs,
        signatureTimeoutMs: c.signatureTimeoutMs,
      });
      if (step.kind === "give-up" && decision.kind !== "forget" && decision.kind !== "skip") {
        this.giveUp(ps, ch, step.reason);
        continue;
      }
      switch (decision.kind) {
        case "forget":
          ps.uncommitted.delete(id);
          ch.uncommittedSinceMs = 0;
          ch.commitDue = false;
          ps.markDirty(ch);
          this.deps.actions.forget(id, COMMIT_DUTY);
          continue;
        case "skip":
          continue;
        case "queue":
          this.ready(ch, onchain);
          break;
        case "fallback":
          this.fallback(ps, ch, onchain);
          break;
        case "propose":
          this.propose(ps, ch);
          break;
        case "wait":
          break;
      }
      if (ch.proposal) ps.attention.add(id);
      else ps.attention.delete(id);
    }
  }

  /** The channel's commit actions used up their attempts: say so, and start over with a new proposal. */
  private giveUp(ps: PartitionState, ch: ChannelState, reason: string): void {
    this.deps.actions.gaveUp("checkpoint");
    this.deps.actions.forget(ch.channelId, COMMIT_DUTY);
    this.deps.outcomes.publish({
      channelId: ch.channelId,
      action: "CHECKPOINT",
      status: "FAILED",
      seq0: ch.payers[0].state.seq,
      seq1: ch.payers[1].state.seq,
      detail: reason,
    });
    ch.proposal = null;
    ps.markDirty(ch);
  }

  private propose(ps: PartitionState, ch: ChannelState): void {
    const s0 = ch.payers[0].state;
    const s1 = ch.payers[1].state;
    const proposedAtMs = this.deps.clock.now();
    const proposalId = `${this.deps.nodeId}/${proposedAtMs.toString(36)}/${++this.seq}`;
    ch.proposal = {
      proposalId,
      seq0: s0.seq,
      head0: s0.head,
      seq1: s1.seq,
      head1: s1.head,
      proposedAtMs,
      sig0: null,
      sig1: null,
    };
    ch.commitDue = false;
    ps.markDirty(ch);
    this.proposals.push({
      key: channelKey(ch.channelId),
      value: codecs().checkpointProposal.encode({
        schemaVersion: 1,
        proposalId,
        domain: this.deps.domain,
        checkpoint: { channelId: ch.channelId, seq0: s0.seq, head0: s0.head, seq1: s1.seq, head1: s1.head },
        proposer: this.deps.proposer,
        proposedAtMs,
      }),
    });
  }

  private async flushProposals(): Promise<void> {
    if (this.proposals.length === 0) return;
    const batch = this.proposals;
    this.proposals = [];
    try {
      await this.deps.producer.send(this.deps.proposalsTopic, batch);
    } catch (e) {
      this.deps.logger.warn(
        "checkpoint proposals not published; they are proposed again after the signature timeout",
        { error: messageOf(e) },
      );
    }
  }

  /**
   * Both signatures arrived: the checkpoint joins the next batch, as the channel's action (it holds the
   * channel until its batch is mined; when the channel is busy the tick queues it later). Call under the
   * partition lock.
   */
  ready(ch: ChannelState, onchain: OnchainChannel): void {
    const cp = signedCheckpointOf(ch);
    if (!cp || onchain.status === "SETTLED") return;
    if (!checkpointNeeded(cp, this.deps.mined.view(ch.channelId, onchain))) return;
    if (!this.deps.hasSubmitter) {
      this.deps.logger.warn("a co-signed checkpoint is ready but no submitter key is configured", {
        channelId: ch.channelId,
      });
      return;
    }
    if (this.deps.batches.checkpoints.has(ch.channelId)) return;
    const entry = { channelId: ch.channelId, params: onchain.params, checkpoint: cp };
    void this.deps.actions.run(
      { channelId: ch.channelId, kind: "checkpoint", label: "checkpoint", duty: COMMIT_DUTY },
      () => this.deps.batches.checkpoint(entry),
    );
  }

  /** Signatures did not come: head proofs from keys the node holds, or a chain proof, or propose again. */
  private fallback(ps: PartitionState, ch: ChannelState, onchain: OnchainChannel): void {
    const ahead = [ch.payers[0].state.seq > onchain.seq0, ch.payers[1].state.seq > onchain.seq1] as const;
    const payeeOf = (payer: 0 | 1): string => onchain.participantsLower[payer === 0 ? 1 : 0];
    const choice = chooseFallback({
      ahead,
      payeeKeyHeld: [this.deps.batches.holdsPayee(payeeOf(0)), this.deps.batches.holdsPayee(payeeOf(1))],
      chainProofFallback: this.deps.config.chainProofFallback,
      hasSubmitter: this.deps.hasSubmitter,
    });
    const id = ch.channelId;
    if (choice.kind === "propose") {
      this.propose(ps, ch);
      return;
    }
    ch.proposal = null;
    ps.markDirty(ch);
    if (choice.kind === "headProof") {
      const { payer } = choice;
      void this.deps.actions.run(
        { channelId: id, kind: "headProof", label: "headProof", duty: COMMIT_DUTY },
        async () => {
          const ledger = ledgerOf(this.deps.domain, ch, onchain);
          const heads = onchainHeads(ledger, await this.deps.chain.onchainState(id));
          await this.deps.batches.proveHead(payeeOf(payer), {
            channelId: id,
            record: headProof(ledger, payer, heads),
          });
        },
      );
      return;
    }
    void this.deps.actions.run(
      { channelId: id, kind: "chainProof", label: "chainProof", duty: COMMIT_DUTY },
      (token) =>
        this.deps.evidence.bringOnChain(token, ch, onchain, { requestId: null, action: "CHAIN_EXTENSION" }),
    );
  }

  /** CHECKPOINT_NOW: the channel is due at the next tick. Call under the partition lock. */
  checkpointNow(ps: PartitionState, ch: ChannelState): void {
    ps.attention.add(ch.channelId);
    ch.commitDue = true;
    ch.proposal = null;
    this.deps.actions.forget(ch.channelId, COMMIT_DUTY);
    if (ch.uncommittedSinceMs === 0) ch.uncommittedSinceMs = this.deps.clock.now();
    ps.uncommitted.add(ch.channelId);
    ps.markDirty(ch);
  }
}
