/**
 * The slow reference verifier: the same checks as `TransferVerifier.check`, done with avsc's generic
 * decoder and ethers' `verifyTypedData` (JS secp256k1 and keccak). Used by tests as the oracle and by
 * the bench as the baseline; never on a hot path.
 */
import { verifyTypedData } from "ethers";
import { codecs, type TransferMessage } from "../avro/messages";
import { EIP712_TYPES } from "../eip712";
import { ReasonCode, isParsecError } from "../errors";
import { isCanonicalSignature } from "../sign";
import type { Domain, Hash } from "../types";
import { hashTransfer } from "../eip712";

/** The outcome of a reference verification. */
export interface ReferenceResult {
  readonly code: number;
  readonly hash: Hash | null;
  readonly message: TransferMessage | null;
}

const TRANSFER_TYPES = { Transfer: EIP712_TYPES.Transfer.map((f) => ({ name: f.name, type: f.type })) };

/** Verifies a framed transfer message with avsc and ethers only. */
export function verifyWithEthers(domain: Domain, wire: Uint8Array): ReferenceResult {
  let message: TransferMessage;
  try {
    message = codecs().transfer.decode(wire);
  } catch (e) {
    return { code: isParsecError(e) ? e.reason : ReasonCode.Malformed, hash: null, message: null };
  }
  if (
    message.domain.chainId !== domain.chainId ||
    message.domain.verifyingContract !== domain.verifyingContract
  ) {
    return { code: ReasonCode.WrongDomain, hash: null, message };
  }
  const t = message.transfer;
  if (!isCanonicalSignature(t.signature)) return { code: ReasonCode.BadSignature, hash: null, message };
  let signer: string;
  try {
    signer = verifyTypedData(
      {
        name: domain.name,
        version: domain.version,
        chainId: domain.chainId,
        verifyingContract: domain.verifyingContract,
      },
      TRANSFER_TYPES,
      {
        channelId: t.channelId,
        payer: t.payer,
        seq: t.seq,
        kind: t.kind,
        amount: t.amount,
        paidTotal: t.paidTotal,
        lockedTotal: t.lockedTotal,
        locksRoot: t.locksRoot,
        hashlock: t.hashlock,
        expiry: t.expiry,
        invoiceId: t.invoiceId,
        prev: t.prev,
      },
      t.signature,
    );
  } catch {
    return { code: ReasonCode.BadSignature, hash: null, message };
  }
  if (signer !== message.signer) return { code: ReasonCode.BadSignature, hash: null, message };
  return { code: ReasonCode.Ok, hash: hashTransfer(t), message };
}
