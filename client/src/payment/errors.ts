/**
 * Errors of the wallet side of routed payments. A `PaymentTransportError` thrown by `sendAttempt` means
 * the attempt's outcome is not known (or a lock of an earlier attempt still binds the channel): `pay`
 * then stops without trying another route, so one hashlock never has two locks that could both settle.
 */
export type PaymentTransportErrorCode =
  /** The LOCK may or may not be on the log (writing it failed): re-run the payment to re-send the same LOCK. */
  | "SendFailed"
  /** Neither the secret nor a failure came back before the lock expired: cancel it once the chain allows. */
  | "AttemptUnresolved"
  /** A LOCK of an earlier attempt under this hashlock was signed and not settled or failed: wait for it. */
  | "EarlierLockPending"
  /** The wallet's signer has no signing journal or the channel is not the route's first hop. */
  | "Misconfigured";

export class PaymentTransportError extends Error {
  constructor(
    readonly code: PaymentTransportErrorCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = "PaymentTransportError";
  }
}
