/**
 * A payee's consent to an early CANCEL (protocol §2, §3): the lock's payee signs a `CancelConsent` naming
 * one CANCEL transfer of the payer's chain, and that CANCEL then counts on-chain before its lock expires
 * (and whatever becomes of the secret). This is how a failed routed payment releases its locks at once.
 * The rule itself lives in `applyTransfer` (`cancelNeedsConsent` + `ApplyOptions.consentedCancel`); this
 * module signs, checks and matches consents, exactly as `ChainVerifier` does on-chain.
 */
import {
  cancelConsentTypedData,
  channelIdOf,
  hashCancelConsent,
  hashTransfer,
  typedDataDigest,
} from "./eip712";
import { InvalidCancelConsentError, MalformedError, isParsecError } from "./errors";
import { recoverSigner, signTypedPayload, type ParsecSigner } from "./sign";
import {
  TransferKind,
  type Address,
  type CancelConsent,
  type ChannelParams,
  type Domain,
  type Hash,
  type PayerIndex,
  type SignedCancelConsent,
  type Transfer,
} from "./types";

/**
 * The `appKind` of a CANCEL published with its payee's consent: `appData` is the payee's 65-byte signature
 * of the `CancelConsent` naming exactly that CANCEL (protocol §4.5).
 */
export const CANCEL_CONSENT_APP_KIND = "CANCEL_CONSENT";

/** The participant who must sign a consent to a CANCEL of `payer`'s chain: the other one, the payee. */
export function cancelConsentSigner(params: ChannelParams, payer: PayerIndex): Address {
  return payer === 0 ? params.participant1 : params.participant0;
}

/** The consent to the CANCEL `cancel` (its hash computed when not given). Throws `Malformed` for another kind. */
export function cancelConsentOf(cancel: Transfer, hash: Hash = hashTransfer(cancel)): CancelConsent {
  if (cancel.kind !== TransferKind.Cancel)
    throw new MalformedError(`a consent names a CANCEL, seq ${cancel.seq} is kind ${cancel.kind}`);
  return {
    channelId: cancel.channelId,
    payer: cancel.payer,
    seq: cancel.seq,
    amount: cancel.amount,
    expiry: cancel.expiry,
    hashlock: cancel.hashlock,
    transfer: hash,
  };
}

/**
 * Signs, as the lock's payee, the consent to exactly this CANCEL. Only sign for a lock you are willing to
 * give up: the consent is final, the CANCEL counts even if you later learn or register the secret.
 */
export async function signCancelConsent(
  signer: ParsecSigner,
  domain: Domain,
  cancel: Transfer,
): Promise<SignedCancelConsent> {
  const consent = cancelConsentOf(cancel);
  const signature = await signTypedPayload(
    signer,
    cancelConsentTypedData(domain, consent),
    typedDataDigest(domain, hashCancelConsent(consent)),
  );
  return { ...consent, signature };
}

/**
 * Checks a consent against its channel: it must name this channel and carry the payee's signature
 * (low s, v 27/28). Throws `InvalidCancelConsent` saying what is wrong.
 */
export function verifyCancelConsent(
  domain: Domain,
  params: ChannelParams,
  consent: SignedCancelConsent,
): void {
  if (consent.channelId !== channelIdOf(domain, params))
    throw new InvalidCancelConsentError(consent.seq, "it names another channel");
  const payee = cancelConsentSigner(params, consent.payer);
  const signer = cancelConsentSignedBy(domain, consent);
  if (signer !== payee)
    throw new InvalidCancelConsentError(consent.seq, `it is signed by ${signer}, not by the payee ${payee}`);
}

/**
 * Who signed `consent` (for a wallet that knows its counterparty's address but not the channel's
 * parameters). Throws `InvalidCancelConsent` for a malformed signature.
 */
export function cancelConsentSignedBy(domain: Domain, consent: SignedCancelConsent): Address {
  try {
    return recoverSigner(typedDataDigest(domain, hashCancelConsent(consent)), consent.signature);
  } catch (e) {
    if (isParsecError(e)) throw new InvalidCancelConsentError(consent.seq, e.message);
    throw e;
  }
}

/** Whether a consent names exactly the CANCEL `cancel` with transfer hash `hash`. */
export function consentFits(consent: CancelConsent, cancel: Transfer, hash: Hash): boolean {
  return (
    consent.channelId === cancel.channelId &&
    consent.payer === cancel.payer &&
    consent.seq === cancel.seq &&
    consent.amount === cancel.amount &&
    consent.expiry === cancel.expiry &&
    consent.hashlock === cancel.hashlock &&
    consent.transfer === hash
  );
}

/**
 * `ApplyOptions.consentedCancel` from a list of consents, judged as the contract judges the consents it is
 * given: the first one naming the CANCEL's seq decides; if it does not fit the CANCEL or is not the payee's,
 * that is `InvalidCancelConsent` (not a silent refusal); none naming the seq: not consented.
 */
export function cancelConsentRule(
  domain: Domain,
  params: ChannelParams,
  consents: readonly SignedCancelConsent[],
): (cancel: Transfer, hash: Hash) => boolean {
  return (cancel, hash) => {
    const consent = consents.find((c) => c.seq === cancel.seq && c.payer === cancel.payer);
    if (!consent) return false;
    if (!consentFits(consent, cancel, hash))
      throw new InvalidCancelConsentError(cancel.seq, "it names another transfer or lock");
    verifyCancelConsent(domain, params, consent);
    return true;
  };
}
