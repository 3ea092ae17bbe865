/**
 * Brings the node's newest evidence of a channel on-chain: a newer co-signed checkpoint, then each
 * payer's chain since its on-chain head (`extendChain` pieces, or a head proof when the sender is the
 * payee), as the SDK's `planDisputeWithConsents` lays out: a piece holding a CANCEL the payee consented to
 * goes as `extendChainUsingConsentedCancels` with the consents, so it counts before the lock's expiry. Used by DISPUTE/SETTLE_NOW, the watchtower and the chain
 * proof fallback; each step is one transaction, reported on the settlements topic.
 */
import { Interface } from "ethers";
import {
  type ChannelLedger,
  type ConsentedDisputeStep,
  type Domain,
  type Hash,
  type Hex,
  type PayerIndex,
  planDisputeWithConsents,
  type SettlementAction,
  type SignedCheckpoint,
  type Transfer,
} from "../../../sdk";
import { channelsInterface } from "../chain/abi";
import type { OnchainChannel } from "../chain/registry";
import { messageOf, MissingKeyError } from "../errors";
import type { Logger } from "../log";
import type { ChannelState } from "../state/channel";
import type { ChainActions } from "./core/chain-actions";
import type { OutcomeSink } from "./core/outcomes";
import type { ChainView, Sender } from "./core/ports";
import type { ActionToken } from "./core/slots";

/** What the chain index adds to `ChainView` for judging a CANCEL as the contract will (the registry has it). */
export interface RevealView {
  /** Timestamp of the newest block seen: the next block's is later. */
  readonly latestTimestamp: number;
  /** When the confirmed index saw `hashlock`'s secret registered; undefined: not registered. */
  secretRevealedAt(hashlock: Hash): bigint | undefined;
}

export interface EvidenceDeps {
  readonly actions: ChainActions;
  readonly outcomes: OutcomeSink;
  /** The chain index; with `RevealView`, plans leave out CANCELs the contract would refuse. */
  readonly chain: ChainView & Partial<RevealView>;
  readonly domain: Domain;
  /** Sends evidence; null: the node sends nothing. */
  readonly submitter: Sender | null;
  readonly maxTransfersPerCall: number;
  readonly logger?: Logger;
}

/** Contract errors that name the seq of the transfer they refuse (`IParsecChannels`). */
const TRANSFER_ERRORS = new Interface([
  "error BrokenHashPointer(uint32 seq)",
  "error PaidTotalMismatch(uint32 seq, uint256 expected, uint256 got)",
  "error LockedTotalMismatch(uint32 seq, uint256 expected, uint256 got)",
  "error LocksRootMismatch(uint32 seq)",
  "error InvalidTransferFields(uint32 seq, uint8 kind)",
  "error UnknownKind(uint32 seq, uint8 kind)",
  "error LockNotPending(uint32 seq)",
  "error TooManyLocks(uint32 seq)",
  "error CancelNotAllowed(uint32 seq)",
  "error InvalidCancelConsent(uint32 seq, address payee)",
]);

/** The step a `runSteps` error came from (keyed by the error: evidence runs for many channels at once). */
const failedSteps = new WeakMap<object, ConsentedDisputeStep>();

/** Fallbacks to a shorter prefix per `bringOnChain` (each re-plans; the watchtower retries later anyway). */
const MAX_PREFIX_FALLBACKS = 4;

/** The transfer a reverted call refused (its error and seq), from the revert data in the error's causes. */
export function refusedTransfer(e: unknown): { readonly error: string; readonly seq: number } | null {
  for (let c: unknown = e, depth = 0; c && depth < 8; c = (c as { cause?: unknown }).cause, depth++) {
    const raw = (c as { data?: unknown }).data;
    const data =
      typeof raw === "string"
        ? raw
        : typeof (raw as { data?: unknown })?.data === "string"
          ? (raw as { data: string }).data
          : null;
    if (!data || !/^0x[0-9a-fA-F]{8}/.test(data)) continue;
    try {
      const parsed = TRANSFER_ERRORS.parseError(data);
      if (parsed) return { error: parsed.name, seq: Number(parsed.args[0]) };
    } catch {
      // Not one of these errors.
    }
  }
  return null;
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

  /**
   * The steps that would bring the node's evidence on-chain now (empty: the chain holds it). Each payer's
   * chain stops before a CANCEL the contract would refuse on the chain's view (no consent, and the lock
   * not expired by the newest block or its secret registered by the expiry), and before `limits`' seqs.
   */
  async plan(
    ch: ChannelState,
    onchain: OnchainChannel,
    sender: Sender,
    limits: readonly [number, number] = [Infinity, Infinity],
  ): Promise<ConsentedDisputeStep[]> {
    const upTo = this.acceptedPrefix(ch, onchain, limits);
    const ledger = ch.toLedger(this.deps.domain, onchain.params, [onchain.deposit0, onchain.deposit1], upTo);
    return planDisputeWithConsents(
      { ledger, checkpoint: signedCheckpointOf(ch) },
      await this.deps.chain.onchainState(ch.channelId),
      { sender: sender.address, maxTransfersPerPiece: this.deps.maxTransfersPerCall },
    );
  }

  /** Per payer, the last held seq the contract will accept (within `limits`). */
  private acceptedPrefix(
    ch: ChannelState,
    onchain: OnchainChannel,
    limits: readonly [number, number],
  ): [number, number] {
    const { chain } = this.deps;
    const upTo: [number, number] = [limits[0], limits[1]];
    if (chain.latestTimestamp === undefined || !chain.secretRevealedAt) return upTo;
    const latest = BigInt(chain.latestTimestamp);
    const reveals = chain.secretRevealedAt.bind(chain);
    const plainCounts = (t: Transfer): boolean => {
      const at = reveals(t.hashlock);
      return latest > t.expiry && !(at !== undefined && at <= t.expiry);
    };
    for (const payer of [0, 1] as const) {
      const refused = ch.firstRefusedCancel(payer, payer === 0 ? onchain.seq0 : onchain.seq1, plainCounts);
      if (refused !== null && refused - 1 < upTo[payer]) {
        upTo[payer] = refused - 1;
        this.deps.logger?.warn("evidence stops before a CANCEL the contract would refuse", {
          channelId: ch.channelId,
          payer,
          seq: refused,
        });
      }
    }
    return upTo;
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
    const limits: [number, number] = [Infinity, Infinity];
    for (let fallbacks = 0; ; fallbacks++) {
      const steps = await this.plan(ch, onchain, submitter, limits);
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
      try {
        await this.runSteps(token, submitter, ch.channelId, steps, opts.requestId);
        break;
      } catch (e) {
        // An extension the contract refuses at one transfer: bring the longest prefix it accepts instead.
        const refused = refusedTransfer(e);
        const step = typeof e === "object" && e !== null ? failedSteps.get(e) : undefined;
        const extension =
          step?.method === "extendChain" || step?.method === "extendChainUsingConsentedCancels" ? step : null;
        if (!refused || !extension || fallbacks >= MAX_PREFIX_FALLBACKS) throw e;
        const payer = extension.args[1] as PayerIndex;
        if (refused.seq - 1 >= limits[payer]) throw e;
        limits[payer] = refused.seq - 1;
        this.deps.logger?.warn(
          "the contract refused a transfer of the evidence; sending the prefix before it",
          {
            channelId: ch.channelId,
            payer,
            seq: refused.seq,
            error: refused.error,
          },
        );
      }
    }
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
        if (typeof e === "object" && e !== null) failedSteps.set(e, step);
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
