/**
 * Plans the calls that put the newest state of some evidence on-chain (the SDK's `planDispute`: the
 * checkpoint first if newer, then per payer a head proof when the sender is its payee, else verified chain
 * pieces), and builds `settle`'s arguments. The same code drives `channel:dispute` and the dapp.
 */
import {
  onchainSeqs,
  isParsecError,
  onchainHeads,
  planDispute,
  settleArgs,
  settleArgsFromLedger,
  ZERO_HASH,
  type ChannelParams,
  type DisputeStep,
  type OnchainState,
} from "../../sdk/isomorphic";
import { ClientError } from "./errors";
import type { ChannelEvidence } from "./evidence";

/**
 * The chain holds a state the evidence does not contain, or the evidence cannot prove anything newer.
 * When the SDK found it, `cause` is the SDK's error: `parsecErrorOf(e)?.code` (e.g. `StateMismatch`).
 */
export class EvidenceMismatchError extends ClientError {
  readonly code = "EvidenceMismatch" as const;
  constructor(why: string, options?: ErrorOptions) {
    super(
      `The on-chain state does not match the evidence: ${why}. Fetch newer evidence (the relayer's, or your own).`,
      options,
    );
  }
}

export interface DisputePlanInput {
  readonly evidence: ChannelEvidence;
  /** The contract's words (`ChannelViews.words`: checkpoint word and proven words). */
  readonly onchain: OnchainState;
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

/** The SDK's `planDispute` for evidence the client read and a sender: the calls, in order. */
export function planDisputeFor(input: DisputePlanInput): DisputePlan {
  try {
    const steps = planDispute(input.evidence, input.onchain, {
      ...(input.mode === "chain" ? {} : { sender: input.sender as `0x${string}` }),
      maxTransfersPerPiece: input.chunkSize ?? 50,
    });
    return { steps };
  } catch (e) {
    if (isParsecError(e)) throw new EvidenceMismatchError(e.message, { cause: e });
    throw e;
  }
}

/** Whether the contract holds no state at all (no checkpoint, no proven head): settling needs no evidence. */
export function isEmptyOnchainState(onchain: OnchainState): boolean {
  return (
    onchain.seq0 === 0 &&
    onchain.seq1 === 0 &&
    onchain.commitment === 0n &&
    onchain.proven[0].seq === 0 &&
    onchain.proven[1].seq === 0
  );
}

/**
 * `settle`'s five arguments for the on-chain state: the bodies of both payers' on-chain heads (from the
 * evidence; none needed when the contract holds no state) and the checkpoint word's two heads.
 */
export function settleArgsFor(
  evidence: ChannelEvidence | null,
  params: ChannelParams,
  onchain: OnchainState,
): ReturnType<typeof settleArgsFromLedger> {
  if (isEmptyOnchainState(onchain))
    return settleArgs(params, null, null, { head0: ZERO_HASH, head1: ZERO_HASH });
  if (!evidence) {
    const { seq0, seq1 } = onchainSeqs(onchain);
    throw new EvidenceMismatchError(
      `settling needs the head transfers at seqs (${seq0}, ${seq1}); give evidence`,
    );
  }
  try {
    return settleArgsFromLedger(evidence.ledger, onchainHeads(evidence.ledger, onchain));
  } catch (e) {
    if (isParsecError(e)) throw new EvidenceMismatchError(e.message, { cause: e });
    throw e;
  }
}
