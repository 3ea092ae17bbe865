/**
 * Channel evidence: the SDK's evidence file (`parsec-evidence` v1: both payers' signed chains and the
 * latest co-signed checkpoint) read from a file or the relayer's `GET /channels/:id/evidence`, re-verified
 * into a ledger, and checked to be for the channel and deployment at hand.
 */
import {
  channelIdOf,
  ledgerFromEvidence,
  parseEvidence,
  type ChannelLedger,
  type Domain,
  type EvidenceFile,
  type Hash,
  type SignedCheckpoint,
} from "../../sdk/isomorphic";
import { ClientError } from "./errors";

export interface ChannelEvidence {
  readonly channelId: Hash;
  readonly file: EvidenceFile;
  /** Every transfer re-verified (signatures and chain rules). */
  readonly ledger: ChannelLedger;
  readonly checkpoint: SignedCheckpoint | null;
}

/**
 * Evidence that cannot be used; the message says why and what to do. When the SDK refused it, `cause` is
 * the SDK's error (`parsecErrorOf(e)?.code`: `BadSignature`, `SeqGap`, `Malformed`…).
 */
export class EvidenceError extends ClientError {
  readonly code = "EvidenceUnusable" as const;
  constructor(why: string, options?: ErrorOptions) {
    super(
      `Evidence is not usable: ${why}. Fetch it again from the relayer, or export it again from your wallet.`,
      options,
    );
  }
}

/**
 * Parses and re-verifies evidence (JSON text or value). With `expected`, it must be for that channel on
 * that domain (chain and contract), so evidence of another deployment is refused before any transaction.
 */
export function readEvidence(
  input: string | unknown,
  expected?: { domain: Domain; channelId: string },
): ChannelEvidence {
  let evidence: ChannelEvidence;
  try {
    const file = parseEvidence(input);
    const { ledger, checkpoint } = ledgerFromEvidence(file);
    evidence = { channelId: ledger.channelId, file, ledger, checkpoint };
  } catch (e) {
    if (e instanceof Error) throw new EvidenceError(e.message, { cause: e });
    throw e;
  }
  if (expected) {
    const domain = evidence.ledger.domain;
    if (
      domain.chainId !== expected.domain.chainId ||
      domain.verifyingContract !== expected.domain.verifyingContract
    ) {
      throw new EvidenceError(
        `it was signed for chain ${domain.chainId}, contract ${domain.verifyingContract}, not this deployment`,
      );
    }
    if (evidence.channelId !== expected.channelId.toLowerCase()) {
      throw new EvidenceError(`it is for channel ${evidence.channelId}, not ${expected.channelId}`);
    }
    if (channelIdOf(expected.domain, evidence.ledger.params) !== evidence.channelId) {
      throw new EvidenceError("its parameters do not derive its channel id");
    }
  }
  return evidence;
}
