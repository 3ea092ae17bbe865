/**
 * What a failed payment attempt means (protocol §11.6), kept pure as lnd keeps
 * `routing/result_interpretation.go`: which hop of the route failed, which channels mission control should
 * penalise, whether another route may help, and the reason in words. Also `describePaymentError`, the
 * short sentence the dapp and the tasks show for each payment error.
 */
import { isParsecError, OnionFailureUnreadableError, type PaymentFailureDetails } from "../errors";
import type { Address, Hash, Hex } from "../types";
import { decodeFailure, OnionFailureCode, type OnionFailureName } from "./onion-failure";
import type { Route } from "./router";

/** A failure the transport saw before the lock left the payer (e.g. its own channel refused it). */
export interface LocalAttemptFailure {
  /** In words, e.g. "the channel to Bob has too little balance". */
  readonly reason: string;
  /** An `OnionFailureCode` when one fits (e.g. `InsufficientCapacity`). */
  readonly code?: number;
}

/**
 * The outcome of one attempt, as the transport reports it. A failure (`failure` or `local`) must mean
 * that the first hop's lock is off for good (refused, failed back or cancelled): only then may another
 * route be tried under the same hashlock.
 */
export type AttemptOutcome =
  | { readonly settled: true; readonly preimage: Hash }
  | { readonly settled: false; readonly failure: Uint8Array | Hex }
  | { readonly settled: false; readonly local: LocalAttemptFailure };

/** Names of failures without an onion code. */
export type AttemptFailureName =
  OnionFailureName | "UnknownCode" | "LocalFailure" | "FailureUnreadable" | "WrongPreimage";

/** One failed attempt, read. */
export interface AttemptFailure {
  /** 0-based index in `route.hops` of the channel the failure concerns; `null` when unknown (unreadable). */
  readonly hop: number | null;
  readonly channelId: Hash | null;
  /** The node that reported it: a mediator, the payee, or the payer itself (local failure). */
  readonly node: Address | null;
  /** The onion failure code, `null` for a failure without one. */
  readonly code: number | null;
  readonly name: AttemptFailureName;
  /** In words ("the channel cannot carry the amount now"). */
  readonly reason: string;
  /** No other route can help (the payee refused, or the attempt's outcome is unclear). */
  readonly terminal: boolean;
}

/** A failure and what mission control should learn from it. */
export interface FailureInterpretation {
  readonly failure: AttemptFailure;
  /**
   * For `reportAttempt`: the hop that failed (hops before it forwarded the lock, so they count as
   * successes), or `null` to report no success at all (unreadable failure).
   */
  readonly failedHop: number | null;
  /** The failure was not about the amount: penalise the channel for every amount. */
  readonly anyAmount: boolean;
  /** Further hops to penalise for every amount (a failed node's other channel, every hop of an altered failure). */
  readonly alsoPenalise: readonly number[];
}

const REASONS: Record<OnionFailureName, string> = {
  TemporaryFailure: "the node had a temporary problem",
  PermanentNodeFailure: "the node forwards nothing",
  InvalidOnion: "the next node could not read its forwarding instructions",
  UnknownNextChannel: "the node does not know the next channel",
  ChannelDisabled: "the next channel is closing, closed or switched off",
  InsufficientCapacity: "the channel cannot carry the amount now",
  FeeInsufficient: "the fee was below the node's current fee",
  ExpiryTooSoon: "the lock expired too soon for the node",
  ExpiryTooFar: "the lock expired further ahead than the node accepts",
  UnknownPayment: "the payee does not know this payment (wrong, altered or already paid invoice)",
  IncorrectAmount: "the payee received less than the invoice's amount",
};

const NAME_OF = new Map<number, OnionFailureName>(
  Object.entries(OnionFailureCode).map(([name, code]) => [code, name as OnionFailureName]),
);

/** The payee's refusals: another route reaches the same payee with the same answer. */
const TERMINAL_AT_PAYEE = new Set<number>([
  OnionFailureCode.UnknownPayment,
  OnionFailureCode.IncorrectAmount,
  OnionFailureCode.ExpiryTooSoon,
  OnionFailureCode.PermanentNodeFailure,
]);

function nameOf(code: number): { name: AttemptFailureName; reason: string } {
  const name = NAME_OF.get(code);
  return name
    ? { name, reason: REASONS[name] }
    : { name: "UnknownCode", reason: `unknown failure code ${code}` };
}

/**
 * Reads an onion failure (`decodeFailure` with the attempt's shared secrets) against its route. The onion's
 * hop `i` is node `route.hops[i].to`; a mediator's channel failure concerns its outgoing channel
 * `route.hops[i + 1]`, a node failure its incoming one `route.hops[i]`, and a payee failure the last hop.
 */
export function interpretOnionFailure(
  route: Route,
  sharedSecrets: readonly Uint8Array[],
  failure: Uint8Array | Hex,
): FailureInterpretation {
  const last = route.hops.length - 1;
  let decoded;
  try {
    decoded = decodeFailure(sharedSecrets, failure);
  } catch (e) {
    if (!(e instanceof OnionFailureUnreadableError)) throw e;
    // Some hop altered the failure: the whole route is suspect (its mediators' channels; the payer's own
    // first hop only when there is nothing else).
    const all = route.hops.map((_, i) => i).filter((i) => i > 0 || last === 0);
    return {
      failure: {
        hop: null,
        channelId: null,
        node: null,
        code: null,
        name: "FailureUnreadable",
        reason: "a node altered the failure message, so the failing hop is unknown",
        terminal: false,
      },
      failedHop: null,
      anyAmount: true,
      alsoPenalise: all,
    };
  }
  const i = decoded.hop;
  const node = route.hops[i].to;
  const { name, reason } = nameOf(decoded.code);
  const at = (
    hop: number,
    anyAmount: boolean,
    terminal = false,
    alsoPenalise: number[] = [],
  ): FailureInterpretation => ({
    failure: { hop, channelId: route.hops[hop].channelId, node, code: decoded.code, name, reason, terminal },
    failedHop: hop,
    anyAmount,
    alsoPenalise,
  });
  if (i === last) {
    const terminal = TERMINAL_AT_PAYEE.has(decoded.code);
    const payeeReason =
      decoded.code === OnionFailureCode.ExpiryTooSoon ? "the lock expired too soon for the payee" : reason;
    const r = at(i, true, terminal);
    return { ...r, failure: { ...r.failure, reason: payeeReason } };
  }
  switch (decoded.code) {
    case OnionFailureCode.PermanentNodeFailure:
      return at(i, true, false, [i + 1]);
    case OnionFailureCode.InsufficientCapacity:
      return at(i + 1, false);
    default:
      // Channel failures, a temporary failure, an unreadable next onion, codes this SDK does not know: the
      // outgoing channel, for every amount.
      return at(i + 1, true);
  }
}

/** A failure before the lock left the payer: the first hop, reported by the payer. */
export function interpretLocalFailure(
  route: Route,
  local: LocalAttemptFailure,
  payer: Address,
): FailureInterpretation {
  const known = local.code === undefined ? undefined : nameOf(local.code);
  return {
    failure: {
      hop: 0,
      channelId: route.hops[0].channelId,
      node: payer,
      code: local.code ?? null,
      name: known?.name ?? "LocalFailure",
      reason: local.reason,
      terminal: false,
    },
    failedHop: 0,
    anyAmount: local.code !== OnionFailureCode.InsufficientCapacity,
    alsoPenalise: [],
  };
}

/**
 * A "settled" outcome whose preimage does not hash to the hashlock. Terminal: the first hop's lock is
 * neither settled nor failed back, so a new attempt could end with two settled locks.
 */
export function interpretWrongPreimage(route: Route): FailureInterpretation {
  return {
    failure: {
      hop: 0,
      channelId: route.hops[0].channelId,
      node: route.hops[0].to,
      code: null,
      name: "WrongPreimage",
      reason: "the first node returned a secret that does not match the invoice's hashlock",
      terminal: true,
    },
    failedHop: 0,
    anyAmount: true,
    alsoPenalise: [],
  };
}

/** The fields of `PaymentFailedError` for a failure. */
export function failureDetails(
  failure: AttemptFailure,
  route: Route,
  attempts: number,
): PaymentFailureDetails {
  return {
    hop: failure.hop,
    hops: route.hops.length,
    channelId: failure.channelId,
    node: failure.node,
    failureCode: failure.code,
    failureName: failure.name,
    reason: failure.reason,
    attempts,
  };
}

/** "failed at hop 2 of 3: the channel cannot carry the amount now" (hops counted from 1 in words). */
export function describeAttemptFailure(f: Pick<AttemptFailure, "hop" | "reason">, hops: number): string {
  return f.hop === null
    ? `failed on a route of ${hops} hops: ${f.reason}`
    : `failed at hop ${f.hop + 1} of ${hops}: ${f.reason}`;
}

function field(e: { details: Record<string, unknown> }, key: string): string {
  const v = e.details[key];
  return v === undefined || v === null ? "?" : String(v);
}

/**
 * One short sentence for a payment error, for people: no route, not enough capacity, fee above the
 * limit, expired, failed at hop k (with the reason), timed out, already in flight; otherwise the error's
 * own message.
 */
export function describePaymentError(e: unknown): string {
  if (!isParsecError(e)) return e instanceof Error ? e.message : String(e);
  const d = e as unknown as { details: Record<string, unknown> };
  switch (e.code) {
    case "NoRoute":
      return "No route to the payee was found.";
    case "InsufficientCapacity":
      return `No route can carry this amount (at most ${field(d, "maxRoutable")} fits through the network).`;
    case "FeeTooHigh":
      return `The cheapest route costs ${field(d, "cheapestFee")} in fees, above your limit of ${field(d, "maxFee")}.`;
    case "PaymentExpired":
    case "InvoiceExpired":
      return "The invoice has expired; ask the payee for a new one.";
    case "PaymentFailed": {
      const hop = d.details.hop;
      const reason = field(d, "reason");
      return typeof hop === "number"
        ? `The payment failed at hop ${hop + 1} of ${field(d, "hops")}: ${reason}.`
        : `The payment failed: ${reason}.`;
    }
    case "PaymentTimeout":
      return `The payment took too long and was stopped after ${field(d, "attempts")} attempt(s).`;
    case "PaymentInFlight":
      return "This invoice is already being paid; wait for that payment to finish.";
    default:
      return e.message;
  }
}
