/**
 * The watchtower (lnd's chain_watcher + breach_arbitrator): a closing channel the node holds gets the
 * node's newer evidence within its challenge period and is settled when the period ends; an equivocation
 * gets its fraud proof, which preempts any other action on the channel (./../core/priority.ts).
 *
 * Retries back off per duty; a duty that uses up its attempts publishes FAILED with the reason and starts
 * a new round: evidence matters only until `closesAt` (then the decision turns to settle), and a settle
 * or fraud proof repeated later is harmless, so the watchtower never stops guarding a closing channel.
 */
import {
  type Domain,
  equivocationArgs,
  type EquivocationProof,
  type Hash,
  type Hex,
  isNewerCheckpoint,
  onchainHeads,
  settleArgsFromLedger,
  type SettlementAction,
  type VerifiedTransfer,
} from "../../../../sdk";
import { channelsInterface } from "../../chain/abi";
import type { ChainEvent, OnchainChannel } from "../../chain/registry";
import { M, type Metrics } from "../../http/metrics";
import type { PartitionState } from "../../state/partition";
import type { ChainActions } from "../core/chain-actions";
import type { Clock } from "../core/clock";
import type { OutcomeSink } from "../core/outcomes";
import type { ChainView, ChannelDirectory, Sender } from "../core/ports";
import { type Evidence, ledgerOf } from "../evidence";
import { decideFraudProof, decideWatch } from "./decide";

export interface WatchtowerDeps {
  readonly enabled: boolean;
  readonly settle: boolean;
  readonly domain: Domain;
  readonly chain: ChainView;
  readonly channels: ChannelDirectory;
  readonly actions: ChainActions;
  readonly evidence: Evidence;
  readonly outcomes: OutcomeSink;
  readonly submitter: Sender | null;
  readonly metrics: Metrics;
  readonly clock: Clock;
}

interface PendingProof {
  readonly onchain: OnchainChannel;
  readonly proof: EquivocationProof<VerifiedTransfer>;
}

export class Watchtower {
  private readonly closing = new Set<Hash>();
  private readonly proofs = new Map<Hash, PendingProof>();

  constructor(private readonly deps: WatchtowerDeps) {
    for (const ch of deps.chain.all()) if (ch.status === "CLOSING") this.closing.add(ch.channelId);
    deps.chain.on((e) => this.onChainEvent(e));
  }

  private onChainEvent(e: ChainEvent): void {
    if (e.type === "closing") this.closing.add(e.channel.channelId);
    if (e.type === "settled") this.closing.delete(e.channel.channelId);
  }

  /** Picks up closing channels of a restored partition. */
  noteRestored(ps: PartitionState): void {
    for (const ch of ps.channels.values())
      if (this.deps.chain.get(ch.channelId)?.status === "CLOSING") this.closing.add(ch.channelId);
  }

  private count(action: string): void {
    this.deps.metrics.inc(M.watchtower, "Watchtower and fraud-proof actions", { action });
  }

  /** Sends the fraud proof of an equivocation (anyone may; the equivocator forfeits the channel). */
  proveEquivocation(onchain: OnchainChannel, proof: EquivocationProof<VerifiedTransfer>): void {
    this.proofs.set(onchain.channelId, { onchain, proof });
    this.tryProof(onchain.channelId);
  }

  private tryProof(id: Hash): void {
    const pending = this.proofs.get(id);
    if (!pending) return;
    const d = decideFraudProof({
      status: this.deps.chain.get(id)?.status ?? null,
      hasSubmitter: this.deps.submitter !== null,
      busyWithFraudProof: this.deps.actions.slots.holder(id) === "fraudProof",
    });
    if (d.kind === "drop") {
      this.proofs.delete(id);
      if (d.reason)
        this.deps.outcomes.publish({
          channelId: id,
          action: "EQUIVOCATION_PROOF",
          status: "FAILED",
          detail: d.reason,
        });
      return;
    }
    if (d.kind === "wait" || !this.stepOk(id, "fraudProof", "EQUIVOCATION_PROOF")) return;
    const submitter = this.deps.submitter as Sender;
    const { onchain, proof } = pending;
    void this.deps.actions
      .run({ channelId: id, kind: "fraudProof", label: "proveEquivocation" }, async (token) => {
        const data = channelsInterface.encodeFunctionData(
          "proveEquivocation",
          equivocationArgs(this.deps.domain, onchain.params, proof),
        ) as Hex;
        const r = await this.deps.actions.send(submitter, {
          method: "proveEquivocation",
          data,
          label: `proveEquivocation ${id.slice(0, 10)}`,
          token,
        });
        this.count("equivocation");
        this.deps.outcomes.publish({
          channelId: id,
          action: "EQUIVOCATION_PROOF",
          status: "CONFIRMED",
          txHash: r.transactionHash,
          gasUsed: r.gasUsed,
          detail: `payer ${proof.payer} seq ${proof.seq}`,
        });
        await this.deps.chain.sync();
      })
      .then((r) => {
        if (r === "done" && this.proofs.get(id) === pending) this.proofs.delete(id);
      });
  }

  /**
   * The duty's retry record: false while it backs off; after its last attempt, publishes FAILED with
   * the reason and starts a new round (see the file comment).
   */
  private stepOk(id: Hash, duty: string, action: SettlementAction): boolean {
    const step = this.deps.actions.step(id, duty);
    if (step.kind === "wait") return false;
    if (step.kind === "give-up") {
      this.deps.actions.gaveUp(
        duty === "fraudProof" ? "fraudProof" : duty === "settle" ? "settle" : "evidence",
      );
      this.deps.outcomes.publish({ channelId: id, action, status: "FAILED", detail: step.reason });
      this.deps.actions.forget(id, duty);
    }
    return true;
  }

  tick(): void {
    for (const id of this.proofs.keys()) this.tryProof(id);
    if (!this.deps.enabled) return;
    const chainNow = this.deps.clock.chainNow();
    for (const id of this.closing) {
      const onchain = this.deps.chain.get(id);
      const owned = this.deps.channels.locate(id);
      const ch = owned?.ch;
      const cp = ch?.checkpoint ?? null;
      const d = decideWatch({
        status: onchain?.status ?? null,
        held: ch !== undefined,
        newer:
          ch !== undefined &&
          onchain !== undefined &&
          (ch.aheadOf(onchain.seq0, onchain.seq1) ||
            // Evidence only helps when it raises a payer's on-chain head (checkpoint or proven).
            (cp !== null && isNewerCheckpoint({ channelId: id, ...cp }, onchain))),
        chainNow,
        closesAt: onchain?.closesAt ?? 0,
        settleEnabled: this.deps.settle,
        hasSubmitter: this.deps.submitter !== null,
        blocked: this.deps.actions.busy(id),
      });
      if (d.kind === "drop") {
        this.closing.delete(id);
        continue;
      }
      if (d.kind === "wait" || !ch || !onchain) continue;
      if (d.kind === "evidence") {
        if (!this.stepOk(id, "evidence", "CHAIN_EXTENSION")) continue;
        void this.deps.actions.run(
          { channelId: id, kind: "evidence", label: "watchtower evidence" },
          (token) => {
            this.count("evidence");
            return this.deps.evidence.bringOnChain(token, ch, onchain, {
              requestId: null,
              action: "CHAIN_EXTENSION",
            });
          },
        );
        continue;
      }
      if (!this.stepOk(id, "settle", "SETTLE")) continue;
      const submitter = this.deps.submitter as Sender;
      void this.deps.actions.run({ channelId: id, kind: "settle", label: "settle" }, async (token) => {
        const ledger = ledgerOf(this.deps.domain, ch, onchain);
        const state = await this.deps.chain.onchainState(id);
        if (state.status !== "CLOSING") return;
        const heads = onchainHeads(ledger, state);
        const data = channelsInterface.encodeFunctionData(
          "settle",
          settleArgsFromLedger(ledger, heads),
        ) as Hex;
        const r = await this.deps.actions.send(submitter, {
          method: "settle",
          data,
          label: `settle ${id.slice(0, 10)}`,
          token,
        });
        this.count("settle");
        this.deps.outcomes.publish({
          channelId: id,
          action: "SETTLE",
          status: "CONFIRMED",
          seq0: heads.seq0,
          seq1: heads.seq1,
          txHash: r.transactionHash,
          gasUsed: r.gasUsed,
        });
        await this.deps.chain.sync();
      });
    }
  }

  /** Fraud proofs waiting to be sent. */
  get pendingProofs(): number {
    return this.proofs.size;
  }
}
