/**
 * Paying a routed invoice (protocol §11.6): one payment lifecycle, transport-agnostic, as lnd's
 * `routing/payment_lifecycle.go`. `pay` checks the invoice, asks the router for a route under the fee
 * limit and expiry budget, wraps each hop's instructions in an onion, hands the first hop's lock to the
 * wallet's `PaymentTransport`, and reads the outcome: a preimage that hashes to the hashlock is the proof
 * of payment; a failure is decoded to the hop that failed, taught to mission control, and another route
 * is tried, until success, `maxAttempts`, the deadline (`timeoutMs`) or the invoice's expiry.
 *
 * One attempt at a time: every attempt of a payment locks under the same hashlock, and once the payee
 * reveals the secret every hop holding a lock under it can claim it. Two attempts in flight could both
 * settle, and the payer would pay twice. So `pay` starts an attempt only after the previous one failed
 * for good (the transport reports a failure only when the first hop's lock is off), and refuses a second
 * `pay` of the same hashlock through the same transport while one runs (`PaymentInFlightError`).
 *
 * ```ts
 * const result = await pay(invoiceText, { maxFee: 1_000n, timeoutMs: 30_000 }, {
 *   graph, missionControl, source: wallet.address, domain, routingKeyOf, transport,
 * });
 * result.preimage; // sha256(preimage) = the invoice's hashlock
 * ```
 */
import { sha256 } from "ethers";
import {
  InvoiceExpiredError,
  MalformedError,
  PaymentExpiredError,
  PaymentFailedError,
  PaymentInFlightError,
  PaymentTimeoutError,
  type ParsecError,
  type PaymentFailureDetails,
} from "../errors";
import { isHexOfLength, toAddress } from "../bytes";
import type { Address, Domain, Hash } from "../types";
import type { ChannelGraph } from "./graph";
import { parseRoutedInvoice, verifyRoutedInvoice, type SignedRoutedInvoice } from "./invoice";
import type { MissionControl } from "./mission-control";
import { createOnion, ONION_MAX_HOPS, type OnionHop } from "./onion";
import type { OnionBytes } from "./onion-crypto";
import {
  describeAttemptFailure,
  describePaymentError,
  failureDetails,
  interpretLocalFailure,
  interpretOnionFailure,
  interpretWrongPreimage,
  type AttemptFailure,
  type AttemptOutcome,
  type FailureInterpretation,
} from "./payment-failure";
import {
  DEFAULT_MAX_ATTEMPTS,
  DEFAULT_PAYMENT_TIMEOUT_SECONDS,
  nextRoute,
  reportAttempt,
  type DirectedChannel,
  type FindRoutesRequest,
  type Route,
} from "./router";

/**
 * Seconds added to the payee's `minFinalExpiryDelta` for the last lock, so that it still satisfies the
 * payee when it arrives a little later than the route was computed (clocks, forwarding time).
 */
export const DEFAULT_FINAL_EXPIRY_MARGIN_SECONDS = 120;
/** Default `timeoutMs`: the router's default payment timeout. */
export const DEFAULT_PAYMENT_TIMEOUT_MS = Number(DEFAULT_PAYMENT_TIMEOUT_SECONDS) * 1000;

/** What the transport sends for one attempt: the first hop's lock and the onion it carries. */
export interface PaymentAttempt {
  /** 1-based attempt number of this payment. */
  readonly attempt: number;
  readonly route: Route;
  /** The onion packet for the first hop's node (`ONION_PACKET_SIZE` bytes). */
  readonly packet: Uint8Array;
  readonly hashlock: Hash;
  /** The invoice id: the LOCK's `invoiceId` when the first hop is also the last (the payee's channel). */
  readonly invoiceId: Hash;
  /** The payer's own LOCK: in `channelId`, `amount` (the payee's amount plus every fee) until `expiry`. */
  readonly firstHopLock: { readonly channelId: Hash; readonly amount: bigint; readonly expiry: bigint };
}

/**
 * How a wallet or node moves one attempt: sign the first hop's LOCK (through its journal), send it with
 * the packet, and resolve once the attempt is over. It resolves with a failure only when the first hop's
 * lock is off for good (refused, failed back, or cancelled); while that is unknown it keeps waiting (the
 * lock's expiry bounds the wait) or throws, and `pay` then stops without trying another route.
 */
export interface PaymentTransport {
  sendAttempt(attempt: PaymentAttempt): Promise<AttemptOutcome>;
}

/** What `pay` needs from the wallet or node. */
export interface PaymentDeps {
  readonly graph: ChannelGraph;
  readonly missionControl: MissionControl;
  /** The payer's node address (its channels' participant). */
  readonly source: Address;
  /** The deployment the wallet pays on (the invoice must be for it). */
  readonly domain: Domain;
  /** The routing public key (§11.4) of a node, `undefined` when unknown (routes avoid that node). */
  readonly routingKeyOf: (node: Address) => OnionBytes | undefined;
  readonly transport: PaymentTransport;
  /** Milliseconds since the epoch; `Date.now` by default. Unix seconds for routes are `floor(now / 1000)`. */
  readonly now?: () => number;
  /** Waits between attempts (`retryDelayMs`); `setTimeout` by default. */
  readonly sleep?: (ms: number) => Promise<void>;
}

export interface PayOptions {
  /** The most fee (base units) the payer pays; the router's default (1% of the amount) when omitted. */
  readonly maxFee?: bigint;
  /** No attempt starts after this many milliseconds; default 60,000. */
  readonly timeoutMs?: number;
  /** Default 10. */
  readonly maxAttempts?: number;
  /** Expiry budget of the payer's lock, seconds (router default 14 days). */
  readonly maxExpiryDelta?: number;
  /** Default 20 (the onion's limit). */
  readonly hopLimit?: number;
  /** Default `DEFAULT_FINAL_EXPIRY_MARGIN_SECONDS`. */
  readonly finalExpiryMarginSeconds?: number;
  /** Pause between a failed attempt and the next; default 0. */
  readonly retryDelayMs?: number;
  /** Called with every status event, in order (exceptions thrown by it are ignored). */
  readonly onStatus?: (event: PaymentEvent) => void;
}

/** The proof of payment and what it cost. */
export interface PaymentResult {
  /** The payee's secret: `sha256(preimage)` is the invoice's hashlock. */
  readonly preimage: Hash;
  readonly route: Route;
  /** What the payee received (the invoice's amount). */
  readonly amount: bigint;
  /** What the mediators kept: `route.amount − amount`. */
  readonly fee: bigint;
  /** Attempts made, the successful one included. */
  readonly attempts: number;
  readonly durationMs: number;
  readonly invoiceId: Hash;
}

/** A payment's status, in order: `attempt` (then `failed-attempt` or `succeeded`)…, then `failed` or `succeeded`. */
export type PaymentEvent =
  | {
      readonly kind: "attempt";
      readonly attempt: number;
      readonly route: Route;
      readonly amount: bigint;
      readonly fee: bigint;
      readonly elapsedMs: number;
    }
  | {
      readonly kind: "failed-attempt";
      readonly attempt: number;
      readonly route: Route;
      readonly failure: AttemptFailure;
      /** "failed at hop 2 of 3: the channel cannot carry the amount now". */
      readonly message: string;
      /** Whether `pay` goes on with another route. */
      readonly retrying: boolean;
      readonly elapsedMs: number;
    }
  | { readonly kind: "succeeded"; readonly result: PaymentResult }
  | {
      readonly kind: "failed";
      readonly error: unknown;
      /** `describePaymentError(error)`. */
      readonly message: string;
      readonly attempts: number;
      readonly elapsedMs: number;
    };

const inFlight = new WeakMap<PaymentTransport, Set<string>>();
/** Errors `pay` already reported as a `failed` event. */
const reported = new WeakSet<object>();

function defaultSleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function isPreimageOf(preimage: unknown, hashlock: Hash): preimage is Hash {
  return isHexOfLength(preimage, 32) && sha256(preimage).toLowerCase() === hashlock.toLowerCase();
}

/** The invoice, checked for this wallet's deployment; an expired one is `PaymentExpiredError`. */
function checkedInvoice(
  invoice: SignedRoutedInvoice | string,
  domain: Domain,
  now: bigint,
): SignedRoutedInvoice {
  try {
    if (typeof invoice === "string") return parseRoutedInvoice(invoice, { domain, now });
    // A parsed invoice is checked again (signature, domain, expiry): it may come from anywhere.
    verifyRoutedInvoice(invoice, { domain, now });
    return invoice;
  } catch (e) {
    if (e instanceof InvoiceExpiredError) {
      const d = e.details as { expiry: bigint; now: bigint };
      throw new PaymentExpiredError(d.expiry, d.now, 0);
    }
    throw e;
  }
}

/** The onion hops of a route: mediators forward on the next channel; the payee gets amount, total and secret. */
function onionHops(
  route: Route,
  invoice: SignedRoutedInvoice,
  keyOf: (node: Address) => OnionBytes,
): OnionHop[] {
  const k = route.hops.length;
  return route.hops.map((hop, i): OnionHop => {
    if (i < k - 1) {
      const next = route.hops[i + 1];
      return {
        nodePublicKey: keyOf(hop.to),
        payload: { final: false, nextChannel: next.channelId, amount: next.amount, expiry: next.expiry },
      };
    }
    return {
      nodePublicKey: keyOf(hop.to),
      payload: {
        final: true,
        amount: hop.amount,
        expiry: hop.expiry,
        totalAmount: invoice.invoice.amount,
        paymentSecret: invoice.invoiceId,
      },
    };
  });
}

function checkOptions(o: PayOptions): void {
  const positiveInt = (v: number | undefined, name: string, min = 0): void => {
    if (v !== undefined && (!Number.isSafeInteger(v) || v < min)) {
      throw new MalformedError(`${name} must be an integer ≥ ${min}, got ${v}`);
    }
  };
  positiveInt(o.timeoutMs, "timeoutMs");
  positiveInt(o.maxAttempts, "maxAttempts", 1);
  positiveInt(o.hopLimit, "hopLimit", 1);
  positiveInt(o.finalExpiryMarginSeconds, "finalExpiryMarginSeconds");
  positiveInt(o.retryDelayMs, "retryDelayMs");
  if (o.maxFee !== undefined && (typeof o.maxFee !== "bigint" || o.maxFee < 0n)) {
    throw new MalformedError("maxFee must be a non-negative bigint (base units)");
  }
}

/**
 * Pays a routed invoice (text or parsed) and resolves to the proof of payment. Rejects with
 * `PaymentExpiredError` (expired before or between attempts; nothing sent for an expired invoice),
 * `NoRouteError` / `InsufficientCapacityError` / `FeeTooHighError` (no attempt could start),
 * `PaymentFailedError` (the last failing hop, its channel and reason: every route failed, the payee
 * refused, `maxAttempts` reached, or a wrong preimage), `PaymentTimeoutError` (`timeoutMs` passed),
 * `PaymentInFlightError`, the invoice's own errors (`InvoiceChecksum`, `Malformed`, `BadSignature`,
 * `WrongDomain`), or whatever the transport threw.
 */
export async function pay(
  invoice: SignedRoutedInvoice | string,
  options: PayOptions,
  deps: PaymentDeps,
): Promise<PaymentResult> {
  checkOptions(options);
  const now = deps.now ?? Date.now;
  const sleep = deps.sleep ?? defaultSleep;
  const startedMs = now();
  const seconds = (): bigint => BigInt(Math.floor(now() / 1000));
  let attempts = 0;
  const emit = (event: PaymentEvent): void => {
    try {
      options.onStatus?.(event);
    } catch {
      // A status listener must not break a payment in flight.
    }
  };
  const fail = (error: unknown): never => {
    if (typeof error === "object" && error !== null) reported.add(error);
    emit({
      kind: "failed",
      error,
      message: describePaymentError(error),
      attempts,
      elapsedMs: now() - startedMs,
    });
    throw error;
  };

  let signed: SignedRoutedInvoice;
  try {
    signed = checkedInvoice(invoice, deps.domain, seconds());
  } catch (e) {
    return fail(e);
  }
  const inv = signed.invoice;
  const hashlock = inv.hashlock.toLowerCase();
  let held = inFlight.get(deps.transport);
  if (!held) inFlight.set(deps.transport, (held = new Set()));
  if (held.has(hashlock)) return fail(new PaymentInFlightError(inv.hashlock));
  held.add(hashlock);
  try {
    const timeoutMs = options.timeoutMs ?? DEFAULT_PAYMENT_TIMEOUT_MS;
    const deadlineMs = startedMs + timeoutMs;
    const maxAttempts = options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
    const source = toAddress(deps.source);
    const exclude: DirectedChannel[] = [];
    let last: { failure: AttemptFailure; route: Route } | null = null;
    const lastDetails = (): PaymentFailureDetails | null =>
      last && failureDetails(last.failure, last.route, attempts);
    const timedOut = (): PaymentTimeoutError =>
      new PaymentTimeoutError(timeoutMs, attempts, { ...lastDetails() });

    for (;;) {
      const nowS = seconds();
      if (nowS >= inv.expiry) return fail(new PaymentExpiredError(inv.expiry, nowS, attempts));
      if (now() >= deadlineMs) return fail(timedOut());
      const request: FindRoutesRequest = {
        source,
        target: inv.payeeNode,
        amount: inv.amount,
        asset: inv.asset,
        finalExpiryDelta:
          inv.minFinalExpiryDelta + (options.finalExpiryMarginSeconds ?? DEFAULT_FINAL_EXPIRY_MARGIN_SECONDS),
        maxFee: options.maxFee,
        maxExpiryDelta: options.maxExpiryDelta,
        hopLimit: Math.min(options.hopLimit ?? ONION_MAX_HOPS, ONION_MAX_HOPS),
        now: nowS,
        missionControl: deps.missionControl,
        routeHints: inv.hints,
        exclude,
      };
      const decision = nextRoute(
        deps.graph,
        request,
        { attempts, startedAt: BigInt(Math.floor(startedMs / 1000)) },
        { maxAttempts, timeoutSeconds: BigInt(Math.ceil(timeoutMs / 1000)) },
      );
      if (decision.action === "giveUp") {
        if (decision.reason === "deadline") return fail(timedOut());
        const details = lastDetails();
        if (!details) return fail(decision.error as ParsecError);
        const why =
          decision.reason === "maxAttempts" ? `${maxAttempts} attempts made` : "no other route is left";
        return fail(new PaymentFailedError(details, why));
      }
      const route = decision.route;

      // A node without a known routing key cannot get instructions: route around it (not an attempt).
      const unknown = route.hops.findIndex((h) => deps.routingKeyOf(h.to) === undefined);
      if (unknown >= 0) {
        exclude.push({ channelId: route.hops[unknown].channelId, direction: route.hops[unknown].direction });
        continue;
      }

      attempts += 1;
      const { packet, sharedSecrets } = createOnion({
        hops: onionHops(route, signed, (n) => deps.routingKeyOf(n) as OnionBytes),
        associatedData: inv.hashlock,
      });
      emit({
        kind: "attempt",
        attempt: attempts,
        route,
        amount: inv.amount,
        fee: route.fee,
        elapsedMs: now() - startedMs,
      });
      let outcome: AttemptOutcome;
      try {
        outcome = await deps.transport.sendAttempt({
          attempt: attempts,
          route,
          packet,
          hashlock: inv.hashlock,
          invoiceId: signed.invoiceId,
          firstHopLock: { channelId: route.hops[0].channelId, amount: route.amount, expiry: route.expiry },
        });
      } catch (e) {
        // The attempt's outcome is unknown: never try another route under the same hashlock.
        return fail(e);
      }

      let reading: FailureInterpretation;
      if (outcome.settled) {
        if (isPreimageOf(outcome.preimage, inv.hashlock)) {
          reportAttempt(deps.missionControl, route, {}, seconds());
          const result: PaymentResult = {
            preimage: outcome.preimage.toLowerCase() as Hash,
            route,
            amount: inv.amount,
            fee: route.fee,
            attempts,
            durationMs: now() - startedMs,
            invoiceId: signed.invoiceId,
          };
          emit({ kind: "succeeded", result });
          return result;
        }
        reading = interpretWrongPreimage(route);
      } else if ("failure" in outcome) {
        reading = interpretOnionFailure(route, sharedSecrets, outcome.failure);
      } else {
        reading = interpretLocalFailure(route, outcome.local, source);
      }

      learn(deps.missionControl, route, reading, seconds());
      for (const i of [reading.failedHop, ...reading.alsoPenalise]) {
        if (i !== null)
          exclude.push({ channelId: route.hops[i].channelId, direction: route.hops[i].direction });
      }
      last = { failure: reading.failure, route };
      const retrying = !reading.failure.terminal && attempts < maxAttempts;
      emit({
        kind: "failed-attempt",
        attempt: attempts,
        route,
        failure: reading.failure,
        message: describeAttemptFailure(reading.failure, route.hops.length),
        retrying,
        elapsedMs: now() - startedMs,
      });
      if (reading.failure.terminal)
        return fail(new PaymentFailedError(lastDetails() as PaymentFailureDetails));
      const delay = options.retryDelayMs ?? 0;
      if (delay > 0 && retrying) await sleep(Math.min(delay, Math.max(0, deadlineMs - now())));
    }
  } catch (e) {
    // Errors thrown by `fail` were already reported; anything else (a bug, a bad option) is reported here.
    if (!isReported(e)) fail(e);
    throw e;
  } finally {
    held.delete(hashlock);
  }
}

/** Mission control learns the attempt: successes before the failing hop, failures at it (and `alsoPenalise`). */
function learn(mc: MissionControl, route: Route, r: FailureInterpretation, now: bigint): void {
  if (r.failedHop !== null) reportAttempt(mc, route, { failedHop: r.failedHop, anyAmount: r.anyAmount }, now);
  for (const i of r.alsoPenalise) {
    const h = route.hops[i];
    mc.reportFailure(h.channelId, h.direction, 0n, now);
  }
}

function isReported(e: unknown): boolean {
  return typeof e === "object" && e !== null && reported.has(e);
}

/** `pay` with its status as an async iterable: iterate `events` (it ends after `succeeded` or `failed`), await `result`. */
export function payWithEvents(
  invoice: SignedRoutedInvoice | string,
  options: Omit<PayOptions, "onStatus">,
  deps: PaymentDeps,
): { readonly events: AsyncIterable<PaymentEvent>; readonly result: Promise<PaymentResult> } {
  const queue: PaymentEvent[] = [];
  let done = false;
  let wake: (() => void) | null = null;
  const push = (event: PaymentEvent): void => {
    queue.push(event);
    if (event.kind === "succeeded" || event.kind === "failed") done = true;
    wake?.();
    wake = null;
  };
  const result = pay(invoice, { ...options, onStatus: push }, deps);
  // The caller may only iterate the events; the rejection is theirs to read through `result`.
  result.catch(() => undefined);
  const events: AsyncIterable<PaymentEvent> = {
    async *[Symbol.asyncIterator]() {
      for (;;) {
        while (queue.length > 0) yield queue.shift() as PaymentEvent;
        if (done) return;
        await new Promise<void>((resolve) => (wake = resolve));
      }
    },
  };
  return { events, result };
}
