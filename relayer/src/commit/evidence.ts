/**
 * Brings the node's newest evidence of a channel on-chain: a newer co-signed checkpoint, then each
 * payer's chain since its on-chain head (`extendChain` pieces, or a head proof when the sender is the
 * payee), as the SDK's `planDisputeWithConsents` lays out: a piece holding a CANCEL the payee consented to
 * goes as `extendChainUsingConsentedCancels` with the consents, so it counts before the lock's expiry. Used by DISPUTE/SETTLE_NOW, the watchtower and the chain
 * proof fallback; each step is one transaction, reported on the settlements topic.
 */
import {
  type ChannelLedger,
  type ConsentedDisputeStep,
  type Domain,
  type Hash,
  type Hex,
  planDisputeWithConsents,
  type SettlementAction,
  type SignedCheckpoint,
} from "../../../sdk";
import { channelsInterface } from "../chain/abi";
import type { OnchainChannel } from "../chain/registry";
import { messageOf, MissingKeyError } from "../errors";
import type { ChannelState } from "../state/channel";
import type { ChainActions } from "./core/chain-actions";
import type { OutcomeSink } from "./core/outcomes";
import type { ChainView, Sender } from "./core/ports";
import type { ActionToken } from "./core/slots";

export interface EvidenceDeps {
  readonly actions: ChainActions;
  readonly outcomes: OutcomeSink;
  readonly chain: ChainView;
  readonly domain: Domain;
  /** Sends evidence; null: the node sends nothing. */
  readonly submitter: Sender | null;
  readonly maxTransfersPerCall: number;
}

/** The SDK ledger of what the node holds of a channel. */
export function ledgerOf(domain: Domain, ch: ChannelState, onchain: OnchainChannel): ChannelLedger {
  return ch.toLedger(domain, onchain.params, [onchain.deposit0, onchain.deposit1]);
}

/** The channel's latest co-signed checkpoint, if any. */
export function signedCheckpointOf(ch: ChannelState): SignedCheckpoint | null {
  return ch.checkpoint ? { channelId: ch.channelId, ...ch.checkpoint } : null;
}

const actionOfStep = (step: ConsentedDisputeStep): SettlementAction =>
  step.method === "checkpoint"
    ? "CHECKPOINT"
    : step.method === "proveHead"
      ? "HEAD_PROOF"
      : "CHAIN_EXTENSION";

/** What the control requests, the watchtower and the commit fallback need of it. */
export interface Evidence {
  plan(ch: ChannelState, onchain: OnchainChannel, sender: Sender): Promise<ConsentedDisputeStep[]>;
  bringOnChain(
    token: ActionToken,
    ch: ChannelState,
    onchain: OnchainChannel,
    opts: { readonly requestId: string | null; readonly action: SettlementAction },
  ): Promise<void>;
  runSteps(
    token: ActionToken,
    sender: Sender,
    channelId: Hash,
    steps: readonly ConsentedDisputeStep[],
    requestId: string | null,
  ): Promise<void>;
}

export class EvidenceSender implements Evidence {
  constructor(private readonly deps: EvidenceDeps) {}

  /** The steps that would bring the node's evidence on-chain now (empty: the chain holds it). */
  async plan(ch: ChannelState, onchain: OnchainChannel, sender: Sender): Promise<ConsentedDisputeStep[]> {
    return planDisputeWithConsents(
      { ledger: ledgerOf(this.deps.domain, ch, onchain), checkpoint: signedCheckpointOf(ch) },
      await this.deps.chain.onchainState(ch.channelId),
      { sender: sender.address, maxTransfersPerPiece: this.deps.maxTransfersPerCall },
    );
  }

  /**
   * Sends every step; reports SKIPPED (as `action`) when there is nothing to send. Stops with the
   * token's holder change (preemption) before the next step.
   */
  async bringOnChain(
    token: ActionToken,
    ch: ChannelState,
    onchain: OnchainChannel,
    opts: { readonly requestId: string | null; readonly action: SettlementAction },
  ): Promise<void> {
    const submitter = this.deps.submitter;
    if (!submitter) throw new MissingKeyError("a submitter", "a dispute");
    const steps = await this.plan(ch, onchain, submitter);
    if (steps.length === 0) {
      this.deps.outcomes.publish({
        channelId: ch.channelId,
        action: opts.action,
        status: "SKIPPED",
        requestId: opts.requestId,
        detail: "the chain already holds the newest state",
      });
      return;
    }
    await this.runSteps(token, submitter, ch.channelId, steps, opts.requestId);
    await this.deps.chain.sync();
  }

  async runSteps(
    token: ActionToken,
    sender: Sender,
    channelId: Hash,
    steps: readonly ConsentedDisputeStep[],
    requestId: string | null,
  ): Promise<void> {
    for (const step of steps) {
      const data = channelsInterface.encodeFunctionData(step.method, [...step.args]) as Hex;
      const action = actionOfStep(step);
      try {
        const r = await this.deps.actions.send(sender, {
          method: step.method,
          data,
          label: `${step.method} ${channelId.slice(0, 10)}`,
          token,
        });
        this.deps.outcomes.publish({
          channelId,
          action,
          status: "CONFIRMED",
          txHash: r.transactionHash,
          gasUsed: r.gasUsed,
          requestId,
          detail: step.description,
        });
      } catch (e) {
        this.deps.outcomes.publish({
          channelId,
          action,
          status: "FAILED",
          requestId,
          detail: `${step.description}: ${messageOf(e)}`,
        });
        throw e;
      }
    }
  }
}
