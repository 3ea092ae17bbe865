/**
 * Plans the calls that put the newest state of some evidence on-chain (the SDK's `planDispute`: the
 * checkpoint if newer, then per payer a head proof when the sender is its payee, else verified chain
 * pieces), and builds `settle`'s arguments. The same code drives `channel:dispute` and the dapp.
 */
import type { ChannelEvidence } from "./evidence";
import {
  isParsecError,
  onchainHeads,
  planDisputeSteps,
  settleArgsFromLedger,
  type ChannelParams,
  type SdkDisputeStep,
} from "./sdk";

/** The contract's state word, as `channelState` returns it. */
export interface OnchainHeadsState {
  readonly seq0: number;
  readonly seq1: number;
  readonly commitment: bigint;
}

export type DisputeStep = SdkDisputeStep;

/** The chain holds a state the evidence does not contain, or the evidence cannot prove anything newer. */
export class StateMismatchError extends Error {
  constructor(why: string) {
    super(
      `The on-chain state does not match the evidence: ${why}. Fetch newer evidence (the relayer's, or your own).`,
    );
    this.name = "StateMismatchError";
  }
}

export interface PlanInput {
  readonly evidence: ChannelEvidence;
  readonly onchain: OnchainHeadsState;
  /** Who sends the transactions: as the payee of a chain it may use a one-transaction head proof. */
  readonly sender: string;
  /** `auto` (head proofs where allowed) or `chain` (always verify every transfer). */
  readonly mode?: "auto" | "chain";
  /** Transfers per `extendChain` call. */
  readonly chunkSize?: number;
}

export interface DisputePlan {
  readonly steps: readonly DisputeStep[];
}

export function planDispute(input: PlanInput): DisputePlan {
  try {
    const steps = planDisputeSteps(input.evidence, input.onchain, {
      ...(input.mode === "chain" ? {} : { sender: input.sender as `0x${string}` }),
      maxTransfersPerPiece: input.chunkSize ?? 50,
    });
    return { steps };
  } catch (e) {
    if (isParsecError(e)) throw new StateMismatchError(e.message);
    throw e;
  }
}

/** `settle`'s arguments for the on-chain state, with the head bodies from the evidence (none needed at seqs 0). */
export function settleArgsFor(
  evidence: ChannelEvidence | null,
  params: ChannelParams,
  onchain: OnchainHeadsState,
): ReturnType<typeof settleArgsFromLedger> {
  if (onchain.seq0 === 0 && onchain.seq1 === 0) return [params, "0x", "0x"];
  if (!evidence)
    throw new StateMismatchError(
      `settling needs the head transfers at seqs (${onchain.seq0}, ${onchain.seq1}); give evidence`,
    );
  try {
    return settleArgsFromLedger(evidence.ledger, onchainHeads(evidence.ledger, onchain));
  } catch (e) {
    if (isParsecError(e)) throw new StateMismatchError(e.message);
    throw e;
  }
}
