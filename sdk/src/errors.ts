/**
 * Typed errors. Every failure the SDK reports is a `ParsecError` with a stable reason `code` (a string,
 * also used as the dead-letter reason) and a numeric `reason` (used where a byte must carry it, e.g. the
 * verifier pool). Messages say what is wrong and what to do about it.
 */

/** Stable numeric codes; never renumber, only append. */
export const ReasonCode = {
  Ok: 0,
  Malformed: 1,
  BadSignature: 2,
  WrongDomain: 3,
  WrongChannel: 4,
  SeqGap: 5,
  Duplicate: 6,
  Equivocation: 7,
  BrokenHashPointer: 8,
  PaidTotalMismatch: 9,
  Overflow: 10,
  LockedTotalMismatch: 11,
  LocksRootMismatch: 12,
  InvalidTransferFields: 13,
  LockNotPending: 14,
  TooManyLocks: 15,
  CancelNotAllowed: 16,
  UnknownKind: 17,
  InsufficientBalance: 18,
  Stale: 19,
  StateMismatch: 20,
  UnknownSchema: 21,
  InvoiceMismatch: 22,
  AddressMismatch: 23,
  KindRuleViolation: 24,
  WalletError: 25,
  LockNotExpired: 26,
  WouldEquivocate: 27,
  JournalError: 28,
  UnsafeWithdraw: 29,
  JournalRequired: 30,
  InvoiceChecksum: 31,
  InvoiceExpired: 32,
  OnionMalformed: 33,
  OnionVersion: 34,
  OnionHmacMismatch: 35,
  OnionFailureUnreadable: 36,
  NoRoute: 37,
  InsufficientCapacity: 38,
  FeeTooHigh: 39,
  PaymentExpired: 40,
  PaymentFailed: 41,
  PaymentTimeout: 42,
  PaymentInFlight: 43,
  InvalidCancelConsent: 44,
} as const;

export type ErrorCode = Exclude<keyof typeof ReasonCode, "Ok">;
export type ReasonNumber = (typeof ReasonCode)[keyof typeof ReasonCode];

const CODE_BY_NUMBER: readonly (ErrorCode | undefined)[] = (() => {
  const out: (ErrorCode | undefined)[] = [];
  for (const [name, n] of Object.entries(ReasonCode)) if (name !== "Ok") out[n] = name as ErrorCode;
  return out;
})();

/** The string code of a numeric reason, or `undefined` for 0 (ok) and unknown numbers. */
export function codeOfReason(reason: number): ErrorCode | undefined {
  return CODE_BY_NUMBER[reason];
}

export type ErrorDetails = Readonly<Record<string, string | number | bigint | boolean | null | undefined>>;

/**
 * The base of every SDK error. An error caused by another (a wallet's refusal, a failed read) keeps it as
 * the standard ES2022 `cause`, so a caller can still see, e.g., a wallet's EIP-1193 code 4001.
 */
export abstract class ParsecError extends Error {
  abstract readonly code: ErrorCode;
  readonly details: ErrorDetails;

  constructor(message: string, details: ErrorDetails = {}, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.details = details;
  }

  /** The numeric reason code. */
  get reason(): number {
    return ReasonCode[this.code];
  }
}

/** Bytes or JSON that do not decode to a valid message; fix the producer or drop the input. */
export class MalformedError extends ParsecError {
  readonly code = "Malformed" as const;
  constructor(what: string, details: ErrorDetails = {}) {
    super(
      `Malformed input: ${what}. The producer must send a valid encoding; this input cannot be used.`,
      details,
    );
  }
}

/** A value outside its Solidity type's range (uint8/32/64/128). */
export class OverflowError extends ParsecError {
  readonly code = "Overflow" as const;
  constructor(field: string, value: bigint, bits: number) {
    super(
      `${field} = ${value} does not fit uint${bits} (0 … 2^${bits} − 1); amounts are base units, so use a ` +
        `smaller value or split it.`,
      { field, value, bits },
    );
  }
}

/** A signature that is malformed, high-s, or not the expected signer's. */
export class BadSignatureError extends ParsecError {
  readonly code = "BadSignature" as const;
  constructor(why: string, details: ErrorDetails = {}) {
    super(`Bad signature: ${why}. Ask the signer to sign this exact message again.`, details);
  }
}

/** A message signed for another chain or contract. */
export class WrongDomainError extends ParsecError {
  readonly code = "WrongDomain" as const;
  constructor(expected: string, got: string) {
    super(
      `Wrong EIP-712 domain: expected ${expected}, got ${got}. The message was signed for another chain or ` +
        `contract; the sender must sign for this deployment.`,
      { expected, got },
    );
  }
}

/** A message for a channel other than the one at hand, or for a channel nobody knows. */
export class WrongChannelError extends ParsecError {
  readonly code = "WrongChannel" as const;
  constructor(why: string, details: ErrorDetails = {}) {
    super(
      `Wrong channel: ${why}. Route the message to the channel it names, or open that channel first.`,
      details,
    );
  }
}

/** A transfer whose seq does not follow its predecessor's, or a gap that outlived the reorder window. */
export class SeqGapError extends ParsecError {
  readonly code = "SeqGap" as const;
  constructor(channelId: string, payer: number, expected: number, got: number, extra = "") {
    super(
      `Seq gap in payer ${payer}'s chain of channel ${channelId}: expected seq ${expected}, got ${got}. ` +
        `Transfers ${expected}…${got - 1} are missing; fetch them from the payer or the relayer's evidence` +
        (extra ? ` (${extra})` : "") +
        `.`,
      { channelId, payer, expected, got },
    );
  }
}

/** An exact copy of a transfer already seen; safe to drop. */
export class DuplicateError extends ParsecError {
  readonly code = "Duplicate" as const;
  constructor(channelId: string, payer: number, seq: number) {
    super(
      `Duplicate transfer seq ${seq} of payer ${payer} in channel ${channelId}; it was already applied.`,
      {
        channelId,
        payer,
        seq,
      },
    );
  }
}

/** Two different transfers signed by one payer with one (channel, seq): proof of fraud. */
export class EquivocationError extends ParsecError {
  readonly code = "Equivocation" as const;
  constructor(channelId: string, payer: number, seq: number) {
    super(
      `Equivocation: payer ${payer} of channel ${channelId} signed two different transfers with seq ${seq}. ` +
        `Submit both with proveEquivocation; the equivocator forfeits the channel.`,
      { channelId, payer, seq },
    );
  }
}

/** A transfer whose `prev` is not the hash of its predecessor. */
export class BrokenHashPointerError extends ParsecError {
  readonly code = "BrokenHashPointer" as const;
  constructor(seq: number, expected: string, got: string) {
    super(
      `Broken hash pointer at seq ${seq}: prev must be ${expected} (the hash of seq ${seq - 1}), got ${got}. ` +
        `The payer built it on another transfer; reject it and ask for one built on the current head.`,
      { seq, expected, got },
    );
  }
}

/** A transfer whose `paidTotal` is not the predecessor's plus what its kind adds. */
export class PaidTotalMismatchError extends ParsecError {
  readonly code = "PaidTotalMismatch" as const;
  constructor(seq: number, expected: bigint, got: bigint) {
    super(`paidTotal mismatch at seq ${seq}: expected ${expected}, got ${got}. Reject the transfer.`, {
      seq,
      expected,
      got,
    });
  }
}

/** A transfer whose `lockedTotal` does not follow from its lock operation. */
export class LockedTotalMismatchError extends ParsecError {
  readonly code = "LockedTotalMismatch" as const;
  constructor(seq: number, expected: bigint, got: bigint) {
    super(`lockedTotal mismatch at seq ${seq}: expected ${expected}, got ${got}. Reject the transfer.`, {
      seq,
      expected,
      got,
    });
  }
}

/** A transfer whose `locksRoot` is not the root of the pending list after its operation. */
export class LocksRootMismatchError extends ParsecError {
  readonly code = "LocksRootMismatch" as const;
  constructor(seq: number, expected: string, got: string) {
    super(`locksRoot mismatch at seq ${seq}: expected ${expected}, got ${got}. Reject the transfer.`, {
      seq,
      expected,
      got,
    });
  }
}

/** A transfer whose fields break its kind's rules (zero amount, PAY with a hashlock, LOCK without expiry…). */
export class InvalidTransferFieldsError extends ParsecError {
  readonly code = "InvalidTransferFields" as const;
  constructor(seq: number, kind: number, why: string) {
    super(`Invalid fields for kind ${kind} at seq ${seq}: ${why}. The contract would reject it.`, {
      seq,
      kind,
    });
  }
}

/** An unknown transfer kind code or catalogue kind name. */
export class UnknownKindError extends ParsecError {
  readonly code = "UnknownKind" as const;
  constructor(kind: string | number) {
    super(
      `Unknown transfer kind ${JSON.stringify(kind)}. On-chain kinds are 0 PAY, 1 LOCK, 2 UNLOCK, 3 CANCEL; ` +
        `custom kinds must be registered in the catalogue first.`,
      { kind: String(kind) },
    );
  }
}

/** An UNLOCK or CANCEL naming a lock that is not pending. */
export class LockNotPendingError extends ParsecError {
  readonly code = "LockNotPending" as const;
  constructor(seq: number, hashlock: string) {
    super(
      `Seq ${seq} resolves lock ${hashlock} that is not pending (amount, expiry and hashlock must match a ` +
        `pending lock exactly).`,
      { seq, hashlock },
    );
  }
}

/** More than 64 locks would be pending. */
export class TooManyLocksError extends ParsecError {
  readonly code = "TooManyLocks" as const;
  constructor(seq: number, max: number) {
    super(`Seq ${seq} would leave more than ${max} locks pending; resolve some locks first.`, { seq, max });
  }
}

/** A CANCEL before the lock expired (or of a lock whose secret was revealed in time). */
export class CancelNotAllowedError extends ParsecError {
  readonly code = "CancelNotAllowed" as const;
  constructor(seq: number, expiry: bigint, now: bigint) {
    super(
      `CANCEL at seq ${seq} of a lock expiring at ${expiry} is not allowed at ${now}: a payee accepts a ` +
        `CANCEL only after expiry and only if the secret was not revealed.`,
      { seq, expiry, now },
    );
  }
}

/** A consent to a CANCEL that is not the payee's signature over exactly that CANCEL (contract: same name). */
export class InvalidCancelConsentError extends ParsecError {
  readonly code = "InvalidCancelConsent" as const;
  constructor(seq: number, why: string) {
    super(
      `The consent to the CANCEL at seq ${seq} is not valid: ${why}. Ask the lock's payee to sign a ` +
        `CancelConsent for this exact CANCEL transfer.`,
      { seq },
    );
  }
}

/** Resolving a settled lock that is neither revealed nor expired: its payee may still reveal it. */
export class LockNotExpiredError extends ParsecError {
  readonly code = "LockNotExpired" as const;
  constructor(hashlock: string, expiry: bigint, now: bigint) {
    super(
      `The lock ${hashlock} is not revealed and expires at ${expiry} (now ${now}): its payee may still reveal ` +
        `it. Resolve the locks after their expiry, or register the secret first.`,
      { hashlock, expiry, now },
    );
  }
}

/** A payer signing more than its available balance. */
export class InsufficientBalanceError extends ParsecError {
  readonly code = "InsufficientBalance" as const;
  constructor(payer: number, available: bigint, needed: bigint) {
    super(
      `Payer ${payer} has ${available} available but the transfer needs ${needed}; deposit more or pay less.`,
      { payer, available, needed },
    );
  }
}

/** Input older than anything the receiver can still check (below the reorder window's history). */
export class StaleError extends ParsecError {
  readonly code = "Stale" as const;
  constructor(why: string, details: ErrorDetails = {}) {
    super(`Stale: ${why}.`, details);
  }
}

/** Local evidence that does not match the state the contract holds. */
export class StateMismatchError extends ParsecError {
  readonly code = "StateMismatch" as const;
  constructor(why: string, details: ErrorDetails = {}) {
    super(
      `State mismatch: ${why}. Refresh the on-chain state and the evidence; the contract holds heads ` +
        `this evidence does not contain.`,
      details,
    );
  }
}

/** An Avro message written with a schema this reader does not know. */
export class UnknownSchemaError extends ParsecError {
  readonly code = "UnknownSchema" as const;
  constructor(fingerprint: string) {
    super(
      `Unknown Avro writer schema (fingerprint ${fingerprint}). Register the writer's schema with the ` +
        `codec's SchemaRegistry, or upgrade the SDK.`,
      { fingerprint },
    );
  }
}

/** A payment that does not match its invoice (amount, payee, currency, kind, or signature). */
export class InvoiceMismatchError extends ParsecError {
  readonly code = "InvoiceMismatch" as const;
  constructor(why: string, details: ErrorDetails = {}) {
    super(`Payment does not match the invoice: ${why}.`, details);
  }
}

/** A buyer address that is not the one derived from the buyer's public key. */
export class AddressMismatchError extends ParsecError {
  readonly code = "AddressMismatch" as const;
  constructor(expected: string, got: string) {
    super(`Address ${got} is not derived from the given public key (expected ${expected}).`, {
      expected,
      got,
    });
  }
}

/** A transfer that breaks a catalogue kind's own rule. */
export class KindRuleViolationError extends ParsecError {
  readonly code = "KindRuleViolation" as const;
  constructor(kind: string, why: string) {
    super(`Transfer breaks the rules of kind ${kind}: ${why}.`, { kind });
  }
}

/**
 * A browser wallet that refused or failed to sign. `details.walletCode` is the EIP-1193 error code when
 * the wallet gave one (4001: the user rejected the request).
 */
export class WalletError extends ParsecError {
  readonly code = "WalletError" as const;
  /** `cause`: the wallet's own error, as it threw it. */
  constructor(why: string, details: ErrorDetails = {}, options?: ErrorOptions) {
    super(
      `The wallet did not sign: ${why}. Unlock the wallet, select the right account and try again.`,
      details,
      options,
    );
  }
}

/**
 * Signing a transfer whose (channel, payer, seq) the signing journal already holds with another transfer
 * hash: the two signatures would be an equivocation, which forfeits the whole channel on-chain.
 */
export class WouldEquivocateError extends ParsecError {
  readonly code = "WouldEquivocate" as const;
  constructor(channelId: string, payer: number, seq: number, recorded: string, attempted: string) {
    super(
      `Refusing to sign: seq ${seq} of payer ${payer}'s chain in channel ${channelId} was already signed as ` +
        `${recorded}, and this transfer is ${attempted}. Two different transfers with one seq are an ` +
        `equivocation and forfeit the whole channel. Build the next transfer on top of it: read it from the ` +
        `signing journal (get(channelId, ${payer}, ${seq})), apply it to the ledger, and sign seq ${seq + 1}.`,
      { channelId, payer, seq, recorded, attempted },
    );
  }
}

/** The signing journal could not be read or written, so nothing is signed. */
export class JournalError extends ParsecError {
  readonly code = "JournalError" as const;
  constructor(why: string, details: ErrorDetails = {}) {
    super(
      `Signing journal: ${why}. Nothing was signed; fix the journal's storage (space, permissions, a ` +
        `damaged file) before signing transfers again.`,
      details,
    );
  }
}

/** A transfer signer without a signing journal: it would release signatures nothing remembers. */
export class JournalRequiredError extends ParsecError {
  readonly code = "JournalRequired" as const;
  constructor(signer: string) {
    super(
      `Refusing to sign a transfer for ${signer}: the signer has no signing journal, so after a crash it ` +
        `could sign a different transfer with the same seq (an equivocation forfeits the whole channel). ` +
        `Wrap it: journaledTransferSigner(signer, fileJournal(path)) in Node, ` +
        `journaledTransferSigner(signer, storageJournal(localStorage, prefix)) in a browser, or ` +
        `memoryJournal() for a key that never outlives the process (tests, benchmarks).`,
      { signer },
    );
  }
}

/** A withdrawal that is not safe to co-sign (amount, nonce or expiry); `details` holds the numbers. */
export class UnsafeWithdrawError extends ParsecError {
  readonly code = "UnsafeWithdraw" as const;
  constructor(why: string, details: ErrorDetails = {}) {
    super(`Refusing to co-sign the withdrawal: ${why}.`, details);
  }
}

/** Invoice text whose checksum fails or that holds a character outside the bech32 charset. */
export class InvoiceChecksumError extends ParsecError {
  readonly code = "InvoiceChecksum" as const;
  constructor(why: string, details: ErrorDetails = {}) {
    super(
      `The invoice text is damaged or mistyped (${why}). Copy or scan the whole invoice again, or ask the ` +
        `payee to send it again.`,
      details,
    );
  }
}

/** An invoice past its expiry: the payee no longer accepts payment for it. */
export class InvoiceExpiredError extends ParsecError {
  readonly code = "InvoiceExpired" as const;
  constructor(expiry: bigint, now: bigint) {
    super(
      `The invoice expired at ${expiry} (unix seconds; now ${now}) and can no longer be paid. Ask the payee ` +
        `for a new invoice.`,
      { expiry, now },
    );
  }
}

/**
 * A forwarding onion (§11.4) that does not decode: wrong length, an invalid ephemeral key, a payload
 * breaking its rules, or bad arguments when building one (e.g. more than 20 hops).
 */
export class OnionMalformedError extends ParsecError {
  readonly code = "OnionMalformed" as const;
  constructor(why: string, details: ErrorDetails = {}) {
    super(
      `Malformed onion: ${why}. Do not forward it; fail the incoming lock back (InvalidOnion) so the payer ` +
        `routes around this hop.`,
      details,
    );
  }
}

/** An onion packet whose version byte this SDK does not implement. */
export class OnionVersionError extends ParsecError {
  readonly code = "OnionVersion" as const;
  constructor(got: number, expected: number) {
    super(
      `Onion version ${got} is not supported (this SDK implements version ${expected}). Fail the incoming ` +
        `lock back (InvalidOnion), or upgrade the SDK if the network moved to a newer version.`,
      { got, expected },
    );
  }
}

/**
 * An onion whose HMAC does not match: altered on the way, built for another payment (the associated data
 * is the payment's hashlock), or for another node's key.
 */
export class OnionHmacMismatchError extends ParsecError {
  readonly code = "OnionHmacMismatch" as const;
  constructor(details: ErrorDetails = {}) {
    super(
      `Onion HMAC mismatch: the packet was altered, belongs to another payment (hashlock), or is not for ` +
        `this node's key. Do not forward it; fail the incoming lock back (InvalidOnion).`,
      details,
    );
  }
}

/** A failure message that no hop of the route authenticated: some hop altered it on its way back. */
export class OnionFailureUnreadableError extends ParsecError {
  readonly code = "OnionFailureUnreadable" as const;
  constructor(hops: number) {
    super(
      `The failure message matches none of the route's ${hops} hops: a hop altered it on its way back. ` +
        `Treat the whole route as failed and avoid its mediators.`,
      { hops },
    );
  }
}

/** Whether `e` is one of the SDK's errors. */
export function isParsecError(e: unknown): e is ParsecError {
  return e instanceof ParsecError;
}

/** A generic error for a numeric reason (used where only the code crossed a thread or a topic). */
export class ReportedError extends ParsecError {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, details: ErrorDetails = {}, options?: ErrorOptions) {
    super(message, details, options);
    this.code = code;
  }
}

/** An error object for a numeric reason reported by the verifier or a worker. */
export function errorForReason(reason: number, context: string): ParsecError {
  const code = codeOfReason(reason) ?? "Malformed";
  return new ReportedError(code, `${code}: ${context}`, { reason });
}

/** No route from the payer to the payee under the request's limits (hops, expiry budget, asset, exclusions). */
export class NoRouteError extends ParsecError {
  readonly code = "NoRoute" as const;
  constructor(why: string, details: ErrorDetails = {}) {
    super(
      `No route: ${why}. Wait for more channel updates, raise the hop limit or expiry budget, ask the payee ` +
        `for route hints, or open a channel closer to the payee.`,
      details,
    );
  }
}

/** Routes exist, but none can carry the amount (capacity or per-lock limits of some hop). */
export class InsufficientCapacityError extends ParsecError {
  readonly code = "InsufficientCapacity" as const;
  constructor(amount: bigint, maxRoutable: bigint) {
    super(
      `No route can carry ${amount}: the largest amount any route carries is ${maxRoutable}. Pay less, split ` +
        `the payment, or wait for more capacity.`,
      { amount, maxRoutable },
    );
  }
}

/** Routes exist, but the cheapest one's fee exceeds the payer's maximum fee. */
export class FeeTooHighError extends ParsecError {
  readonly code = "FeeTooHigh" as const;
  constructor(amount: bigint, maxFee: bigint, cheapestFee: bigint) {
    super(
      `The cheapest route for ${amount} costs ${cheapestFee} in fees, over the maximum of ${maxFee}. Raise ` +
        `maxFee to at least ${cheapestFee}, or pay through another channel.`,
      { amount, maxFee, cheapestFee },
    );
  }
}

/** A routed payment whose invoice expired before it could be paid (before any attempt, or between two). */
export class PaymentExpiredError extends ParsecError {
  readonly code = "PaymentExpired" as const;
  constructor(expiry: bigint, now: bigint, attempts = 0) {
    super(
      `The invoice expired at ${expiry} (unix seconds; now ${now}) after ${attempts} payment attempt(s); ` +
        `nothing more is sent. Ask the payee for a new invoice.`,
      { expiry, now, attempts },
    );
  }
}

/** Where and why a routed payment's last attempt failed (see `PaymentFailedError`). */
export interface PaymentFailureDetails {
  /** 0-based index in the route's hops of the channel the failure concerns; `null` when unknown. */
  readonly hop: number | null;
  /** How many hops the failed route had. */
  readonly hops: number;
  /** The channel of hop `hop`; `null` when unknown. */
  readonly channelId: string | null;
  /** The node that reported the failure (the payer itself for a local failure); `null` when unknown. */
  readonly node: string | null;
  /** The onion failure code (§11.4); `null` for a failure without one (local, unreadable, bad preimage). */
  readonly failureCode: number | null;
  /** The code's name (`InsufficientCapacity`, …), or `LocalFailure`, `FailureUnreadable`, `WrongPreimage`. */
  readonly failureName: string;
  /** The reason in words, e.g. "the channel cannot carry the amount now". */
  readonly reason: string;
  /** Attempts made, this one included. */
  readonly attempts: number;
}

/** A routed payment that failed for good: every route was tried, or the payee refused; names the last failing hop. */
export class PaymentFailedError extends ParsecError {
  readonly code = "PaymentFailed" as const;
  readonly hop: number | null;
  readonly channelId: string | null;
  readonly failureCode: number | null;
  readonly failureName: string;
  constructor(failure: PaymentFailureDetails, why = "") {
    const where =
      failure.hop === null
        ? `on a route of ${failure.hops} hop(s)`
        : `at hop ${failure.hop + 1} of ${failure.hops} (channel ${failure.channelId}, reported by ${failure.node})`;
    super(
      `The payment failed ${where}: ${failure.reason} (${failure.failureName}), after ${failure.attempts} ` +
        `attempt(s)${why ? `; ${why}` : ""}. Try again later, with a higher fee limit, or ask the payee for route hints.`,
      { ...failure },
    );
    this.hop = failure.hop;
    this.channelId = failure.channelId;
    this.failureCode = failure.failureCode;
    this.failureName = failure.failureName;
  }
}

/** A routed payment that ran out of time (`timeoutMs`) before an attempt succeeded. */
export class PaymentTimeoutError extends ParsecError {
  readonly code = "PaymentTimeout" as const;
  constructor(timeoutMs: number, attempts: number, details: ErrorDetails = {}) {
    super(
      `The payment did not succeed within ${timeoutMs} ms (${attempts} attempt(s)) and was stopped; no ` +
        `attempt is left in flight. Try again later or allow more time.`,
      { ...details, timeoutMs, attempts },
    );
  }
}

/** A second payment of one hashlock while the first is still running: two could both settle and pay twice. */
export class PaymentInFlightError extends ParsecError {
  readonly code = "PaymentInFlight" as const;
  constructor(hashlock: string) {
    super(
      `A payment of hashlock ${hashlock} is already in flight through this transport; wait for its result ` +
        `instead of paying again (two attempts could both settle and pay twice).`,
      { hashlock },
    );
  }
}
