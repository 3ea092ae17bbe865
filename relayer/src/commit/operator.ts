/**
 * Everything the node does on-chain, as services with one job each around a shared core (the split of
 * docs/relayer.md "Commits"; lnd's routing/contractcourt split):
 *
 * - `ChainActions` (./core): one action per channel (tokens, explicit priority), bounded retries with
 *   backoff, sending and counting transactions;
 * - `CommitPolicy` + `CommitBatches` (./policy): proposals, co-signed checkpoint batches, head-proof and
 *   chain-proof fallbacks;
 * - `ControlRequests` (./control): SETTLE_NOW and DISPUTE;
 * - `Watchtower` (./watchtower): evidence and settle for closing channels, fraud proofs;
 * - `LockResolver` (./locks): splitting locked pots after settlement.
 *
 * This facade only wires them and keeps the surface the node, the request pipeline and the HTTP API use.
 * Every action is idempotent on-chain (seqs only grow, stale entries are skipped), so repeating one after
 * a crash is harmless — but costs gas, so the services avoid it.
 */
import type { Address, Domain, EquivocationProof, LocalSigner, VerifiedTransfer } from "../../../sdk";
import type { ChainRegistry, OnchainChannel } from "../chain/registry";
import type { TxSender } from "../chain/tx-sender";
import type { RelayerConfig } from "../config";
import type { Metrics } from "../http/metrics";
import type { LogProducer } from "../kafka/client";
import type { Logger } from "../log";
import type { ChannelState } from "../state/channel";
import type { PartitionState } from "../state/partition";
import { ChainActions } from "./core/chain-actions";
import { type Clock, systemClock } from "./core/clock";
import { MinedCommits } from "./core/mined";
import { OutcomePublisher } from "./core/outcomes";
import type { OwnedChannel } from "./core/ports";
import { ControlRequests } from "./control/control-requests";
import { EvidenceSender } from "./evidence";
import { signerFor } from "./keys";
import { LockResolver } from "./locks/lock-resolver";
import { CommitBatches } from "./policy/batches";
import { CommitPolicy } from "./policy/commit-policy";
import { Watchtower } from "./watchtower/watchtower";

export type { OwnedChannel } from "./core/ports";

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
  locate(channelId: OnchainChannel["channelId"]): OwnedChannel | null;
  owned(): Iterable<PartitionState>;
  /** Defaults to wall time and the chain index's newest block time. */
  readonly clock?: Clock;
}

export class Operator {
  readonly actions: ChainActions;
  readonly commits: CommitPolicy;
  readonly control: ControlRequests;
  readonly watchtower: Watchtower;
  readonly locks: LockResolver;
  private readonly batches: CommitBatches;
  private readonly clock: Clock;

  constructor(private readonly deps: OperatorDeps) {
    const { config, registry, logger, metrics, submitter, senders } = deps;
    const clock = deps.clock ?? systemClock(registry);
    this.clock = clock;
    const channels = { locate: deps.locate, owned: deps.owned };
    const actions = new ChainActions({
      to: registry.address,
      retry: config.commit.retry,
      clock,
      metrics,
      logger,
    });
    const outcomes = new OutcomePublisher({
      nodeId: config.nodeId,
      topic: config.kafka.topics.settlements,
      producer: deps.producer,
      logger,
      clock,
    });
    const mined = new MinedCommits();
    const evidence = new EvidenceSender({
      actions,
      outcomes,
      chain: registry,
      domain: deps.domain,
      submitter,
      maxTransfersPerCall: config.commit.maxTransfersPerCall,
      logger,
    });
    this.actions = actions;
    this.batches = new CommitBatches({
      config: config.commit,
      chain: registry,
      actions,
      outcomes,
      mined,
      metrics,
      logger,
      submitter,
      senders,
    });
    this.commits = new CommitPolicy({
      config: config.commit,
      nodeId: config.nodeId,
      proposalsTopic: config.kafka.topics.checkpointProposals,
      domain: deps.domain,
      proposer: deps.proposer,
      chain: registry,
      channels,
      producer: deps.producer,
      actions,
      batches: this.batches,
      evidence,
      mined,
      outcomes,
      clock,
      logger,
      hasSubmitter: submitter !== null,
    });
    this.control = new ControlRequests({
      domain: deps.domain,
      chain: registry,
      actions,
      evidence,
      outcomes,
      submitter,
      senders,
      signers: deps.signers,
      now: () => clock.now(),
    });
    this.watchtower = new Watchtower({
      enabled: config.watchtower.enabled,
      settle: config.watchtower.settle,
      domain: deps.domain,
      chain: registry,
      channels,
      actions,
      evidence,
      outcomes,
      submitter,
      metrics,
      clock,
    });
    this.locks = new LockResolver({
      enabled: config.watchtower.settle,
      domain: deps.domain,
      chain: registry,
      channels,
      actions,
      outcomes,
      submitter,
      metrics,
      logger,
      clock,
    });
  }

  /** Picks up a restored partition: its proposals' signature timers, closing channels, unfinished requests. */
  noteRestored(ps: PartitionState): void {
    this.commits.noteRestored(ps);
    this.watchtower.noteRestored(ps);
    this.control.noteRestored(ps);
  }

  /**
   * One round of every service, highest priority first (fraud proofs and the watchtower, control
   * requests, lock resolution, the commit policy); the node calls it every ~200 ms.
   */
  async tick(): Promise<void> {
    if (this.actions.isStopped) return;
    this.watchtower.tick();
    this.control.tick();
    this.locks.tick();
    await this.commits.tick(this.clock.now());
  }

  /** Both checkpoint signatures arrived. Call under the partition lock. */
  ready(ch: ChannelState, onchain: OnchainChannel): void {
    this.commits.ready(ch, onchain);
  }

  /** CHECKPOINT_NOW. Call under the partition lock. */
  checkpointNow(ps: PartitionState, ch: ChannelState): void {
    this.commits.checkpointNow(ps, ch);
  }

  /** SETTLE_NOW or DISPUTE. Call under the partition lock. */
  request(ps: PartitionState, ch: ChannelState, action: "SETTLE_NOW" | "DISPUTE", requestId: string): void {
    this.control.request(ps, ch, action, requestId);
  }

  proveEquivocation(onchain: OnchainChannel, proof: EquivocationProof<VerifiedTransfer>): void {
    this.watchtower.proveEquivocation(onchain, proof);
  }

  /** The co-signing keys' view for the HTTP API: which participant of a channel the node can sign for. */
  signerFor(onchain: OnchainChannel, prefer?: string): LocalSigner | null {
    return signerFor(this.deps.signers, onchain, prefer);
  }

  /** Whether any on-chain action is in flight (tests, shutdown). */
  get busy(): boolean {
    return this.actions.running > 0 || this.batches.size > 0;
  }

  async stop(): Promise<void> {
    this.actions.stop();
    await this.batches.stop();
  }
}
