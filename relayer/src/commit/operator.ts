/**
 * Everything the node does on-chain, driven by a periodic tick and by chain events:
 *
 * - commit policy (paper): a channel is due after every m-th transfer of a payer and when transfers
 *   stayed uncommitted for `checkpointTimeoutMs`; a due channel gets a checkpoint proposal; once both
 *   signatures are in, the co-signed checkpoint joins a `checkpointBatch`; when signatures do not come,
 *   the payee's head proof (batched per payee key), or optionally a chain proof anyone may send;
 * - the control topic's requests: settle now (cooperative close when the node holds both keys, else
 *   newest evidence plus a unilateral close), dispute (the chain since the on-chain state, in pieces),
 *   checkpoint now;
 * - the watchtower: a closing channel gets the node's newer evidence and is settled when its challenge
 *   period ends; an equivocation gets its fraud proof.
 *
 * Every action is idempotent on-chain (seqs only grow, stale entries are skipped), so repeating one after
 * a crash is harmless. One action per channel is in flight at a time.
 */
import {
  DEFAULT_COOPERATIVE_CLOSE_VALIDITY_SECONDS,
  type Address,
  ChannelLedger,
  type ChannelParams,
  checkpointBatchArgs,
  codecs,
  cooperativeCloseArgs,
  type DisputeStep,
  type Domain,
  equivocationArgs,
  type EquivocationProof,
  type Hash,
  headProof,
  type HeadProofRecord,
  type Hex,
  isNewerCheckpoint,
  type LocalSigner,
  type Lock,
  type PayerIndex,
  onchainHeads,
  planDispute,
  proveHeadsArgs,
  resolveLocksArgs,
  settleArgsFromLedger,
  type SettlementAction,
  type SettlementStatus,
  signCooperativeClose,
  type SignedCheckpoint,
  type VerifiedTransfer,
} from "../../../sdk";
import { channelsInterface, SKIP_REASONS } from "../chain/abi";
import type { ChainEvent, ChainRegistry, OnchainChannel } from "../chain/registry";
import type { TxResult, TxSender } from "../chain/tx-sender";
import type { RelayerConfig } from "../config";
import { MissingKeyError, messageOf } from "../errors";
import { M, type Metrics } from "../http/metrics";
import type { LogProducer, OutRecord } from "../kafka/client";
import { channelKey } from "../kafka/topics";
import type { Logger } from "../log";
import type { ChannelState } from "../state/channel";
import type { PartitionState } from "../state/partition";
import { Batcher } from "./batcher";

export interface OwnedChannel {
  readonly ps: PartitionState;
  readonly ch: ChannelState;
}

export interface OperatorDeps {
  readonly config: RelayerConfig;
  readonly domain: Domain;
  readonly registry: ChainRegistry;
  readonly producer: LogProducer;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** Sends checkpoints, chain proofs, settlements; null: the node commits nothing. */
  readonly submitter: TxSender | null;
  /** Senders for participant keys the node holds (head proofs, closes), by lower-case address. */
  readonly senders: ReadonlyMap<string, TxSender>;
  /** Signers for participant keys the node holds, by lower-case address. */
  readonly signers: ReadonlyMap<string, LocalSigner>;
  /** The address that appears as proposer in checkpoint proposals. */
  readonly proposer: Address;
  locate(channelId: Hash): OwnedChannel | null;
  owned(): Iterable<PartitionState>;
}

interface CheckpointEntry {
  readonly channelId: Hash;
  readonly params: ChannelParams;
  readonly checkpoint: SignedCheckpoint;
}

/** A payer's pending locks at its settled head. */
interface PotLocks {
  readonly payer: PayerIndex;
  readonly locks: readonly Lock[];
}

/** Whether a settlement held back a pot for pending locks that is not yet resolved. */
const hasLockPot = (ch: OnchainChannel): boolean => ch.lockPots[0] > 0n || ch.lockPots[1] > 0n;

interface HeadEntry {
  readonly channelId: Hash;
  readonly record: HeadProofRecord;
}

/** Gas per batch entry used to bound batches (measured by scripts/bench/gas.ts, rounded up). */
const CHECKPOINT_GAS = 25_000;
const HEAD_PROOF_GAS = 45_000;

export class Operator {
  private readonly inflight = new Map<Hash, string>();
  private readonly retryAt = new Map<Hash, number>();
  private readonly closing = new Set<Hash>();
  /**
   * Settled channels with a locked pot left to split by `resolveLocks`, with each payer's lock list once
   * read from the node's history (read once: it is waited on until the locks expire). Both payers' pots are
   * looked at: an open lock of one payer blocks nothing of the other's.
   */
  private readonly locked = new Map<Hash, [PotLocks | null, PotLocks | null]>();
  private readonly requests = new Map<Hash, PartitionState>();
  private readonly checkpoints: Batcher<CheckpointEntry>;
  private readonly heads = new Map<string, Batcher<HeadEntry>>();
  private proposals: OutRecord[] = [];
  private lastFullScan = 0;
  private seq = 0;
  private stopped = false;

  constructor(private readonly deps: OperatorDeps) {
    const c = deps.config.commit;
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
    for (const ch of deps.registry.all()) {
      if (ch.status === "CLOSING") this.closing.add(ch.channelId);
      if (hasLockPot(ch)) this.locked.set(ch.channelId, [null, null]);
    }
    deps.registry.on((e) => this.onChainEvent(e));
  }

  // ------------------------------------------------------------------ helpers

  private ledger(ch: ChannelState, onchain: OnchainChannel): ChannelLedger {
    return ch.toLedger(this.deps.domain, onchain.params, [onchain.deposit0, onchain.deposit1]);
  }

  private signedCheckpoint(ch: ChannelState): SignedCheckpoint | null {
    return ch.checkpoint ? { channelId: ch.channelId, ...ch.checkpoint } : null;
  }

  /** Publishes what the node did (settlements topic); best effort, never blocks an action. */
  event(
    channelId: Hash,
    action: SettlementAction,
    status: SettlementStatus,
    extra: {
      seq0?: number;
      seq1?: number;
      txHash?: Hash | null;
      gasUsed?: bigint | null;
      requestId?: string | null;
      detail?: string | null;
    } = {},
  ): void {
    const value = codecs().settlement.encode({
      schemaVersion: 1,
      eventId: `${this.deps.config.nodeId}/${Date.now().toString(36)}/${++this.seq}`,
      channelId,
      action,
      status,
      seq0: extra.seq0 ?? 0,
      seq1: extra.seq1 ?? 0,
      txHash: extra.txHash ?? null,
      gasUsed: extra.gasUsed === undefined || extra.gasUsed === null ? null : Number(extra.gasUsed),
      requestId: extra.requestId ?? null,
      detail: extra.detail ?? null,
      atMs: Date.now(),
    });
    this.deps.producer
      .send(this.deps.config.kafka.topics.settlements, [{ key: channelKey(channelId), value }])
      .catch((e) =>
        this.deps.logger.warn("settlement event not published", { channelId, action, error: messageOf(e) }),
      );
  }

  private recordTx(kind: string, r: TxResult): void {
    this.deps.metrics.inc(M.txs, "Transactions mined, by kind and status", { kind, status: r.status });
    this.deps.metrics.inc(M.gas, "Gas used by the node's transactions, by kind", { kind }, Number(r.gasUsed));
  }

  /** Runs one on-chain action for a channel unless one is in flight; true when it completed. */
  private act(channelId: Hash, label: string, fn: () => Promise<void>): Promise<boolean> {
    if (this.inflight.has(channelId) || this.stopped) return Promise.resolve(false);
    this.inflight.set(channelId, label);
    return fn()
      .then(() => true)
      .catch((e) => {
        this.deps.logger.warn(`${label} failed`, { channelId, error: messageOf(e) });
        this.retryAt.set(
          channelId,
          Date.now() + Math.min(30_000, this.deps.config.commit.checkpointTimeoutMs),
        );
        return false;
      })
      .finally(() => this.inflight.delete(channelId));
  }

  private async send(sender: TxSender, channelId: Hash, label: string, data: Hex): Promise<TxResult> {
    const r = await sender.send({
      to: this.deps.registry.address,
      data,
      label: `${label} ${channelId.slice(0, 10)}`,
    });
    this.recordTx(label, r);
    return r;
  }

  // ------------------------------------------------------------------ chain events

  private onChainEvent(e: ChainEvent): void {
    if (e.type === "closing") this.closing.add(e.channel.channelId);
    if (e.type === "settled") this.closing.delete(e.channel.channelId);
    if (e.type === "settled" && hasLockPot(e.channel)) this.locked.set(e.channel.channelId, [null, null]);
    if (e.type !== "committed" && e.type !== "settled") return;
    const owned = this.deps.locate(e.channel.channelId);
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
        ch.uncommittedSinceMs = Date.now();
      }
      ps.markDirty(ch);
    });
  }

  /** Picks up closing channels and unfinished requests of a restored partition. */
  noteRestored(ps: PartitionState): void {
    for (const ch of ps.channels.values()) {
      if (this.deps.registry.get(ch.channelId)?.status === "CLOSING") this.closing.add(ch.channelId);
      if (ch.control) this.requests.set(ch.channelId, ps);
    }
  }

  // ------------------------------------------------------------------ the tick

  /**
   * Runs the commit policy and the watchtower over owned channels. Called every ~200 ms; channels
   * flagged due (m-th transfer, checkpoint-now) or with a proposal out are looked at every time, the
   * rest (timeouts) once a second: a node may hold hundreds of thousands of uncommitted channels.
   */
  async tick(): Promise<void> {
    if (this.stopped) return;
    const now = Date.now();
    const c = this.deps.config.commit;
    const full =
      now - this.lastFullScan >= Math.min(1000, c.checkpointTimeoutMs / 4, c.signatureTimeoutMs / 4);
    if (full) this.lastFullScan = now;
    for (const ps of this.deps.owned()) {
      const ids = full ? ps.uncommitted : ps.attention;
      if (ids.size === 0) continue;
      await ps.lock.run(() => {
        for (const id of ids) {
          if (!full && !ps.uncommitted.has(id)) {
            ps.attention.delete(id);
            continue;
          }
          const ch = ps.channels.get(id);
          const onchain = this.deps.registry.get(id);
          if (!ch || !onchain) continue;
          if (onchain.status !== "OPEN" || !ch.aheadOf(onchain.seq0, onchain.seq1)) {
            if (onchain.status === "SETTLED" || !ch.aheadOf(onchain.seq0, onchain.seq1)) {
              ps.uncommitted.delete(id);
              ch.uncommittedSinceMs = 0;
              ch.commitDue = false;
              ps.markDirty(ch);
            }
            continue;
          }
          if (this.inflight.has(id) || (this.retryAt.get(id) ?? 0) > now) continue;
          const p = ch.proposal;
          if (p) {
            if (p.sig0 && p.sig1) {
              // Co-signed and batched; if that batch failed, queue it again now and then.
              if (
                !this.checkpoints.has(id) &&
                now - p.proposedAtMs > Math.max(c.signatureTimeoutMs, 10_000)
              ) {
                this.retryAt.set(id, now + c.checkpointTimeoutMs);
                this.ready(ch, onchain);
              }
              continue;
            }
            if (now - p.proposedAtMs < c.signatureTimeoutMs) continue;
            this.fallback(ps, ch, onchain);
            continue;
          }
          const due = ch.commitDue || now - ch.uncommittedSinceMs >= c.checkpointTimeoutMs;
          if (due) this.propose(ps, ch);
          if (ch.proposal) ps.attention.add(id);
          else ps.attention.delete(id);
        }
      });
    }
    await this.flushProposals();
    this.runRequests(now);
    this.watch(now);
    this.resolvePots(now);
  }

  private propose(ps: PartitionState, ch: ChannelState): void {
    const s0 = ch.payers[0].state;
    const s1 = ch.payers[1].state;
    const proposalId = `${this.deps.config.nodeId}/${Date.now().toString(36)}/${++this.seq}`;
    const proposedAtMs = Date.now();
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
      await this.deps.producer.send(this.deps.config.kafka.topics.checkpointProposals, batch);
    } catch (e) {
      this.deps.logger.warn(
        "checkpoint proposals not published; they are proposed again after the signature timeout",
        {
          error: messageOf(e),
        },
      );
    }
  }

  /** Both signatures arrived: the checkpoint joins the next batch. Call under the partition lock. */
  ready(ch: ChannelState, onchain: OnchainChannel): void {
    const cp = this.signedCheckpoint(ch);
    if (!cp || !isNewerCheckpoint(cp, onchain.checkpoint) || onchain.status === "SETTLED") return;
    if (!this.deps.submitter) {
      this.deps.logger.warn("a co-signed checkpoint is ready but no submitter key is configured", {
        channelId: ch.channelId,
      });
      return;
    }
    this.checkpoints.add({ channelId: ch.channelId, params: onchain.params, checkpoint: cp });
  }

  /** Signatures did not come: head proofs from keys the node holds, or a chain proof, or propose again. */
  private fallback(ps: PartitionState, ch: ChannelState, onchain: OnchainChannel): void {
    const payers = ([0, 1] as const).filter(
      (i) => ch.payers[i].state.seq > (i === 0 ? onchain.seq0 : onchain.seq1),
    );
    const payer = payers.find((i) => this.deps.senders.has(onchain.participantsLower[i === 0 ? 1 : 0]));
    if (payer !== undefined) {
      const payee = onchain.participantsLower[payer === 0 ? 1 : 0];
      void this.act(ch.channelId, "headProof", async () => {
        const ledger = this.ledger(ch, onchain);
        const heads = onchainHeads(ledger, await this.deps.registry.onchainState(ch.channelId));
        (this.heads.get(payee) as Batcher<HeadEntry>).add({
          channelId: ch.channelId,
          record: headProof(ledger, payer, heads),
        });
      });
      ch.proposal = null;
      ps.markDirty(ch);
      return;
    }
    if (this.deps.config.commit.chainProofFallback && this.deps.submitter) {
      ch.proposal = null;
      ps.markDirty(ch);
      void this.act(ch.channelId, "chainProof", () => this.runDispute(ch, onchain, null, "CHAIN_EXTENSION"));
      return;
    }
    // Nothing else this node can do alone: ask for signatures again.
    this.propose(ps, ch);
  }

  // ------------------------------------------------------------------ batches

  private async sendCheckpoints(entries: CheckpointEntry[]): Promise<void> {
    const submitter = this.deps.submitter;
    if (!submitter) return;
    const live = entries.filter((e) => {
      const on = this.deps.registry.get(e.channelId);
      return on !== undefined && on.status !== "SETTLED" && isNewerCheckpoint(e.checkpoint, on.checkpoint);
    });
    if (live.length === 0) return;
    const data = channelsInterface.encodeFunctionData("checkpointBatch", checkpointBatchArgs(live)) as Hex;
    let r: TxResult;
    try {
      r = await submitter.send({
        to: this.deps.registry.address,
        data,
        label: `checkpointBatch(${live.length})`,
      });
    } catch (e) {
      for (const x of live)
        this.event(x.channelId, "CHECKPOINT", "FAILED", {
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
    this.recordTx("checkpointBatch", r);
    this.afterBatch(
      r,
      "checkpoint",
      live.map((x) => ({ channelId: x.channelId, seq0: x.checkpoint.seq0, seq1: x.checkpoint.seq1 })),
    );
  }

  private async sendHeadProofs(sender: TxSender, entries: HeadEntry[]): Promise<void> {
    const data = channelsInterface.encodeFunctionData(
      "proveHeads",
      proveHeadsArgs(entries.map((e) => e.record)),
    ) as Hex;
    const r = await sender.send({
      to: this.deps.registry.address,
      data,
      label: `proveHeads(${entries.length})`,
    });
    this.recordTx("proveHeads", r);
    this.afterBatch(
      r,
      "head",
      entries.map((e) => ({
        channelId: e.channelId,
        seq0: e.record.payer === 0 ? e.record.transfer.seq : 0,
        seq1: e.record.payer === 1 ? e.record.transfer.seq : 0,
      })),
    );
  }

  /** Reports per entry whether the contract applied it or skipped it (and why), then resyncs. */
  private afterBatch(
    r: TxResult,
    kind: "checkpoint" | "head",
    entries: { channelId: Hash; seq0: number; seq1: number }[],
  ): void {
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
    const share = r.gasUsed / BigInt(Math.max(1, entries.length));
    const action: SettlementAction = kind === "checkpoint" ? "CHECKPOINT" : "HEAD_PROOF";
    for (const e of entries) {
      const reason = skipped.get(e.channelId);
      this.deps.metrics.inc(M.commits, "Commits by kind and outcome", {
        kind,
        status: reason ? "skipped" : "applied",
      });
      this.deps.metrics.inc(M.commitEntries, "Channels committed per batch transaction", { kind });
      this.event(e.channelId, action, reason ? "SKIPPED" : "CONFIRMED", {
        ...e,
        txHash: r.transactionHash,
        gasUsed: share,
        detail: reason ?? null,
      });
    }
    void this.deps.registry.sync().catch(() => undefined);
  }

  // ------------------------------------------------------------------ equivocation, control

  /** Sends the fraud proof of an equivocation (anyone may; the equivocator forfeits the channel). */
  proveEquivocation(onchain: OnchainChannel, proof: EquivocationProof<VerifiedTransfer>): void {
    const submitter = this.deps.submitter;
    if (!submitter) {
      this.event(onchain.channelId, "EQUIVOCATION_PROOF", "FAILED", {
        detail: "no submitter key configured",
      });
      return;
    }
    this.inflight.delete(onchain.channelId); // fraud proofs take precedence over commits
    void this.act(onchain.channelId, "proveEquivocation", async () => {
      if (this.deps.registry.get(onchain.channelId)?.status === "SETTLED") return;
      const data = channelsInterface.encodeFunctionData(
        "proveEquivocation",
        equivocationArgs(this.deps.domain, onchain.params, proof),
      ) as Hex;
      const r = await this.send(submitter, onchain.channelId, "proveEquivocation", data);
      this.deps.metrics.inc(M.watchtower, "Watchtower and fraud-proof actions", { action: "equivocation" });
      this.event(onchain.channelId, "EQUIVOCATION_PROOF", "CONFIRMED", {
        txHash: r.transactionHash,
        gasUsed: r.gasUsed,
        detail: `payer ${proof.payer} seq ${proof.seq}`,
      });
      await this.deps.registry.sync();
    });
  }

  /** CHECKPOINT_NOW: the channel is due at the next tick. Call under the partition lock. */
  checkpointNow(ps: PartitionState, ch: ChannelState): void {
    ps.attention.add(ch.channelId);
    ch.commitDue = true;
    ch.proposal = null;
    this.retryAt.delete(ch.channelId);
    if (ch.uncommittedSinceMs === 0) ch.uncommittedSinceMs = Date.now();
    ps.uncommitted.add(ch.channelId);
    ps.markDirty(ch);
  }

  /**
   * Takes a SETTLE_NOW or DISPUTE request: it is kept in the channel's snapshot and retried by the
   * tick until it completes, also across restarts. Call under the partition lock.
   */
  request(ps: PartitionState, ch: ChannelState, action: "SETTLE_NOW" | "DISPUTE", requestId: string): void {
    ch.control = { requestId, action, atMs: Date.now() };
    ps.markDirty(ch);
    this.requests.set(ch.channelId, ps);
    this.retryAt.delete(ch.channelId);
  }

  private runRequests(now: number): void {
    for (const [id, ps] of this.requests) {
      const ch = ps.channels.get(id);
      const onchain = this.deps.registry.get(id);
      if (ps.revoked || !ch || !ch.control || !onchain) {
        this.requests.delete(id);
        continue;
      }
      if (this.inflight.has(id) || (this.retryAt.get(id) ?? 0) > now) continue;
      const { action, requestId } = ch.control;
      const run =
        action === "SETTLE_NOW"
          ? this.settleNow(ch, onchain, requestId)
          : this.dispute(ch, onchain, requestId);
      void run.then((done) => {
        if (!done) return;
        this.requests.delete(id);
        return ps.lock.run(() => {
          if (ch.control?.requestId === requestId) {
            ch.control = null;
            ps.markDirty(ch);
          }
        });
      });
    }
  }

  /** DISPUTE: brings the chain since the on-chain state on-chain (checkpoint, head proofs or pieces). */
  dispute(ch: ChannelState, onchain: OnchainChannel, requestId: string | null): Promise<boolean> {
    return this.act(ch.channelId, "dispute", () =>
      this.runDispute(ch, onchain, requestId, "CHAIN_EXTENSION"),
    );
  }

  private async runDispute(
    ch: ChannelState,
    onchain: OnchainChannel,
    requestId: string | null,
    action: SettlementAction,
  ): Promise<void> {
    const submitter = this.deps.submitter;
    if (!submitter) throw new MissingKeyError("a submitter", "a dispute");
    const ledger = this.ledger(ch, onchain);
    const steps = planDispute(
      { ledger, checkpoint: this.signedCheckpoint(ch) },
      await this.deps.registry.onchainState(ch.channelId),
      { sender: submitter.address, maxTransfersPerPiece: this.deps.config.commit.maxTransfersPerCall },
    );
    if (steps.length === 0) {
      this.event(ch.channelId, action, "SKIPPED", {
        requestId,
        detail: "the chain already holds the newest state",
      });
      return;
    }
    for (const step of steps) await this.runStep(submitter, ch.channelId, step, requestId);
    await this.deps.registry.sync();
  }

  private async runStep(
    sender: TxSender,
    channelId: Hash,
    step: DisputeStep,
    requestId: string | null,
  ): Promise<void> {
    const data = channelsInterface.encodeFunctionData(step.method, step.args) as Hex;
    const action: SettlementAction =
      step.method === "checkpoint"
        ? "CHECKPOINT"
        : step.method === "proveHead"
          ? "HEAD_PROOF"
          : "CHAIN_EXTENSION";
    try {
      const r = await this.send(sender, channelId, step.method, data);
      this.event(channelId, action, "CONFIRMED", {
        txHash: r.transactionHash,
        gasUsed: r.gasUsed,
        requestId,
        detail: step.description,
      });
    } catch (e) {
      this.event(channelId, action, "FAILED", { requestId, detail: `${step.description}: ${messageOf(e)}` });
      throw e;
    }
  }

  /**
   * SETTLE_NOW: cooperative close when the node holds both keys and no lock is pending; else the newest
   * evidence on-chain and a unilateral close by a participant key the node holds.
   */
  settleNow(ch: ChannelState, onchain: OnchainChannel, requestId: string | null): Promise<boolean> {
    return this.act(ch.channelId, "settleNow", async () => {
      const s0 = this.deps.signers.get(onchain.participantsLower[0]);
      const s1 = this.deps.signers.get(onchain.participantsLower[1]);
      const ledger = this.ledger(ch, onchain);
      const outcome = ledger.settlement();
      const submitter = this.deps.submitter;
      if (
        s0 &&
        s1 &&
        outcome.pot0 === 0n &&
        outcome.pot1 === 0n &&
        submitter &&
        onchain.status !== "SETTLED"
      ) {
        const close = {
          channelId: ch.channelId,
          seq0: ch.payers[0].state.seq,
          seq1: ch.payers[1].state.seq,
          balance0: outcome.payout0,
          balance1: outcome.payout1,
          // Submitted at once by this node; the expiry only bounds how long the signatures could be replayed.
          expiry: BigInt(this.deps.registry.latestTimestamp + DEFAULT_COOPERATIVE_CLOSE_VALIDITY_SECONDS),
        };
        const [sig0, sig1] = await Promise.all([
          signCooperativeClose(s0, this.deps.domain, close),
          signCooperativeClose(s1, this.deps.domain, close),
        ]);
        const data = channelsInterface.encodeFunctionData(
          "cooperativeClose",
          cooperativeCloseArgs(onchain.params, close, sig0, sig1),
        ) as Hex;
        const r = await this.send(submitter, ch.channelId, "cooperativeClose", data);
        this.event(ch.channelId, "COOPERATIVE_CLOSE", "CONFIRMED", {
          seq0: ch.payers[0].state.seq,
          seq1: ch.payers[1].state.seq,
          txHash: r.transactionHash,
          gasUsed: r.gasUsed,
          requestId,
          detail: `${outcome.payout0}/${outcome.payout1}`,
        });
        await this.deps.registry.sync();
        return;
      }
      const closer =
        this.deps.senders.get(onchain.participantsLower[0]) ??
        this.deps.senders.get(onchain.participantsLower[1]);
      if (!closer) {
        this.event(ch.channelId, "CLOSE", "FAILED", {
          requestId,
          detail: "the node holds no participant key: only a participant may close",
        });
        return;
      }
      if (submitter) {
        const steps = planDispute(
          { ledger, checkpoint: this.signedCheckpoint(ch) },
          await this.deps.registry.onchainState(ch.channelId),
          {
            sender: submitter.address,
            maxTransfersPerPiece: this.deps.config.commit.maxTransfersPerCall,
          },
        );
        for (const step of steps) await this.runStep(submitter, ch.channelId, step, requestId);
      }
      if (this.deps.registry.get(ch.channelId)?.status === "OPEN") {
        const data = channelsInterface.encodeFunctionData("close", [onchain.params]) as Hex;
        const r = await this.send(closer, ch.channelId, "close", data);
        this.event(ch.channelId, "CLOSE", "CONFIRMED", {
          txHash: r.transactionHash,
          gasUsed: r.gasUsed,
          requestId,
        });
      }
      await this.deps.registry.sync();
    });
  }

  // ------------------------------------------------------------------ watchtower

  private watch(now: number): void {
    if (!this.deps.config.watchtower.enabled) return;
    const chainNow = this.deps.registry.latestTimestamp;
    for (const id of this.closing) {
      const onchain = this.deps.registry.get(id);
      if (!onchain || onchain.status !== "CLOSING") {
        this.closing.delete(id);
        continue;
      }
      const owned = this.deps.locate(id);
      if (!owned || this.inflight.has(id) || (this.retryAt.get(id) ?? 0) > now) continue;
      const { ch } = owned;
      const cp = ch.checkpoint;
      const newer =
        ch.aheadOf(onchain.seq0, onchain.seq1) ||
        // Evidence only helps when it raises a payer's on-chain head (checkpoint or proven).
        (cp !== null && isNewerCheckpoint({ channelId: id, ...cp }, onchain));
      if (newer && this.deps.submitter) {
        void this.act(id, "watchtower evidence", async () => {
          this.deps.metrics.inc(M.watchtower, "Watchtower and fraud-proof actions", { action: "evidence" });
          await this.runDispute(ch, onchain, null, "CHAIN_EXTENSION");
        });
      } else if (this.deps.config.watchtower.settle && chainNow >= onchain.closesAt && this.deps.submitter) {
        const submitter = this.deps.submitter;
        void this.act(id, "settle", async () => {
          const ledger = this.ledger(ch, onchain);
          const state = await this.deps.registry.onchainState(id);
          if (state.status !== "CLOSING") return;
          const heads = onchainHeads(ledger, state);
          const data = channelsInterface.encodeFunctionData(
            "settle",
            settleArgsFromLedger(ledger, heads),
          ) as Hex;
          const r = await this.send(submitter, id, "settle", data);
          this.deps.metrics.inc(M.watchtower, "Watchtower and fraud-proof actions", { action: "settle" });
          this.event(id, "SETTLE", "CONFIRMED", {
            seq0: heads.seq0,
            seq1: heads.seq1,
            txHash: r.transactionHash,
            gasUsed: r.gasUsed,
          });
          await this.deps.registry.sync();
        });
      }
    }
  }

  /**
   * Splits the locked pots of settled channels this node holds, lock by lock: as soon as an unresolved lock
   * has expired, `resolveLocks` gives each lock whose secret was registered in time to the payee and returns
   * each expired unrevealed one to the payer; locks still open stay for a later call (the payee may still
   * reveal them, and resolves revealed ones itself with the preimages). Needs no preimages.
   */
  private resolvePots(now: number): void {
    const submitter = this.deps.submitter;
    if (!this.deps.config.watchtower.settle || !submitter) return;
    const chainNow = BigInt(this.deps.registry.latestTimestamp);
    for (const [id, known] of this.locked) {
      const onchain = this.deps.registry.get(id);
      const payers = onchain ? ([0, 1] as const).filter((p) => onchain.lockPots[p] > 0n) : [];
      if (!onchain || payers.length === 0) {
        this.locked.delete(id);
        continue;
      }
      if (this.inflight.has(id) || (this.retryAt.get(id) ?? 0) > now) continue;
      for (const payer of payers) {
        const pot = known[payer] ?? this.potLocks(id, onchain, payer, known);
        const resolved = onchain.locksResolved[payer];
        const due = pot?.locks.some((l, i) => (resolved & (1n << BigInt(i))) === 0n && l.expiry < chainNow);
        if (!pot || !due) continue;
        void this.act(id, "resolveLocks", async () => {
          const data = channelsInterface.encodeFunctionData(
            "resolveLocks",
            resolveLocksArgs(onchain.params, payer, pot.locks),
          ) as Hex;
          const r = await this.send(submitter, id, "resolveLocks", data);
          this.deps.metrics.inc(M.watchtower, "Watchtower and fraud-proof actions", {
            action: "resolveLocks",
          });
          this.event(id, "RESOLVE_LOCKS", "CONFIRMED", { txHash: r.transactionHash, gasUsed: r.gasUsed });
          await this.deps.registry.sync();
        });
        break; // one action per channel at a time; the other payer's pot is looked at next tick
      }
    }
  }

  /**
   * The settled head's pending locks of `payer`, remembered in `known` (the channel's entry of `locked`);
   * no locks if this node cannot tell (a participant resolves them then).
   */
  private potLocks(
    id: Hash,
    onchain: OnchainChannel,
    payer: PayerIndex,
    known: [PotLocks | null, PotLocks | null],
  ): PotLocks | null {
    const owned = this.deps.locate(id);
    if (!owned) return null; // another node holds it, or its partition is not restored yet
    try {
      const seq = payer === 0 ? onchain.seq0 : onchain.seq1;
      const { locks } = this.ledger(owned.ch, onchain).stateAt(payer, seq);
      known[payer] = { payer, locks };
    } catch (e) {
      // The node does not hold the settled head (it was never sent this chain): a participant resolves.
      this.deps.logger.warn("cannot resolve locks: settled head not held", {
        channelId: id,
        payer,
        error: messageOf(e),
      });
      known[payer] = { payer, locks: [] };
    }
    return known[payer];
  }

  /** The co-signing keys' view for the HTTP API: which participant of a channel the node can sign for. */
  signerFor(onchain: OnchainChannel, prefer?: string): LocalSigner | null {
    if (prefer) return this.deps.signers.get(prefer.toLowerCase()) ?? null;
    const held = onchain.participantsLower.filter((p) => this.deps.signers.has(p));
    return held.length === 1 ? (this.deps.signers.get(held[0]) as LocalSigner) : null;
  }

  /** Whether any on-chain action is in flight (tests, shutdown). */
  get busy(): boolean {
    return this.inflight.size > 0 || this.checkpoints.size > 0;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.checkpoints.drain().catch(() => undefined);
    this.checkpoints.close();
    for (const b of this.heads.values()) b.close();
  }
}
