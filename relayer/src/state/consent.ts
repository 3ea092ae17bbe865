/**
 * A payee's consent carried with an early CANCEL on the transfers topic (protocol §4.5): the payer
 * publishes the CANCEL with `appKind = "CANCEL_CONSENT"` and `appData` = the payee's 65-byte signature of
 * the `CancelConsent` naming exactly that CANCEL. The consent's other fields are the CANCEL's own (channel,
 * payer, seq, lock, transfer hash), so only the signature travels; the consent stays in the message bytes
 * the node keeps, and with them in every restored state.
 */
import {
  CANCEL_CONSENT_APP_KIND,
  type ChannelParams,
  cancelConsentOf,
  codecs,
  type Domain,
  type Hash,
  type Hex,
  InvalidCancelConsentError,
  ParsecError,
  type SignedCancelConsent,
  type Transfer,
  TransferKind,
  verifyCancelConsent,
} from "../../../sdk";

export { CANCEL_CONSENT_APP_KIND };
const SIGNATURE_BYTES = 65;

/** An early CANCEL without a consent: named apart from the SDK's generic refusal, with what to do. */
export class CancelWithoutConsentError extends ParsecError {
  readonly code = "CancelNotAllowed" as const;
  constructor(seq: number, expiry: bigint, now: bigint, appKind: string) {
    super(
      `CANCEL at seq ${seq} comes before its lock's expiry ${expiry} (chain time ${now}) and carries no ` +
        `consent of the payee (appKind is ${appKind === "" ? "empty" : `"${appKind}"`}): publish it with ` +
        `appKind "${CANCEL_CONSENT_APP_KIND}" and appData = the payee's 65-byte CancelConsent signature ` +
        `over this exact CANCEL (protocol §4.5), or after the expiry`,
      { seq, expiry: expiry.toString(), now: now.toString() },
    );
  }
}

/** `appKind` and `appData` of a transfer message (cold path: a full record decode). */
function appFields(wire: Uint8Array): { appKind: string; appData: Buffer } {
  const r = codecs().transfer.decodeRecord(wire);
  return { appKind: r.appKind as string, appData: Buffer.from(r.appData as Uint8Array) };
}

/**
 * The consent a CANCEL's message carries, or null when its `appKind` is not `CANCEL_CONSENT`. Throws
 * `InvalidCancelConsent` when it is but `appData` is not a 65-byte signature. Does not check the signer.
 */
export function carriedConsent(wire: Uint8Array, cancel: Transfer, hash: Hash): SignedCancelConsent | null {
  if (cancel.kind !== TransferKind.Cancel) return null;
  const { appKind, appData } = appFields(wire);
  if (appKind !== CANCEL_CONSENT_APP_KIND) return null;
  if (appData.length !== SIGNATURE_BYTES)
    throw new InvalidCancelConsentError(
      cancel.seq,
      `appData holds ${appData.length} bytes, not the payee's ${SIGNATURE_BYTES}-byte signature`,
    );
  return { ...cancelConsentOf(cancel, hash), signature: `0x${appData.toString("hex")}` as Hex };
}

/**
 * `ApplyOptions.consentedCancel` for the CANCEL in `wire`, judged at chain time `now`: true when its
 * message carries the payee's valid consent; `CancelWithoutConsent` when it carries none;
 * `InvalidCancelConsent` when the consent is malformed or not the payee's (a forgery).
 */
export function consentRuleOf(
  domain: Domain,
  params: ChannelParams,
  wire: Uint8Array,
  now: bigint,
): (cancel: Transfer, hash: Hash) => boolean {
  return (cancel, hash) => {
    const consent = carriedConsent(wire, cancel, hash);
    if (!consent)
      throw new CancelWithoutConsentError(cancel.seq, cancel.expiry, now, appFields(wire).appKind);
    verifyCancelConsent(domain, params, consent);
    return true;
  };
}
