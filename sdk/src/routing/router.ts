/**
 * The router of routed payments (protocol §11.3), used by wallets and nodes alike: ranked routes by fee
 * and success likelihood under capacity, an expiry budget and a hop limit, with each hop's amount and
 * lock expiry computed backwards from the payee. Pure and deterministic: `now` is injected, amounts are
 * bigint, ties are broken by a fixed order.
 *
 * Search: Dijkstra from the payee towards the payer over (node, hops used). The label of a node is the
 * amount it must receive on its incoming lock and that lock's expiry delta; crossing the edge u→v (u
 * forwards to v under u's `ChannelUpdate`) gives u the label `amount_v + fee_uv(amount_v)`,
 * `delta_v + expiryDelta_uv`; the payer's own first hop adds nothing. Edge cost (all integers):
 *
 *   cost(u→v) = fee_uv(a) + floor(a × expiryDelta_uv × riskFactor / (1e9 × 3600))
 *             + floor(attemptCost(a) × (1e6 − pppm) / pppm)
 *   attemptCost(a) = attemptCostBase + floor(a × attemptCostPpm / 1e6)
 *
 * with a = amount_v (the amount forwarded over the edge) and pppm = floor(p × 1e6), p the edge's success
 * probability (mission control, or the a-priori probability); an edge with pppm = 0 is not used.
 * Alternatives: the best route with one more edge of an already chosen route excluded (Lawler/Yen-style
 * over edges), ranked by cost.
 */
import { MAX_UINT128, toAddress } from "../bytes";
import {
  FeeTooHighError,
  InsufficientCapacityError,
  MalformedError,
  NoRouteError,
  isParsecError,
  type ParsecError,
} from "../errors";
import type { Address, Hash } from "../types";
import { forwardingFee, type ChannelDirection, type ChannelGraph } from "./graph";
import type { RouteHint } from "./invoice";
import { DEFAULT_APRIORI_PROBABILITY, type MissionControl, type ProbabilitySource } from "./mission-control";

/** Default hop limit (as lnd and the onion's 20 hops). */
export const DEFAULT_HOP_LIMIT = 20;
/** Default expiry budget of the payer's lock: 14 days, in seconds. */
export const DEFAULT_MAX_EXPIRY_DELTA = 1_209_600;
/** Default maximum fee: 1% of the amount (plus `maxFeeBase`, default 0). */
export const DEFAULT_MAX_FEE_PPM = 10_000n;
/** Default time-lock risk factor: lnd's 15 billionths per block, per hour of ~6 blocks. */
export const DEFAULT_RISK_FACTOR = 90n;
/** Default attempt cost: base units per attempt (0) and parts per million of the amount (1,000 = 0.1%). */
export const DEFAULT_ATTEMPT_COST_BASE = 0n;
export const DEFAULT_ATTEMPT_COST_PPM = 1_000n;
/** Default number of ranked routes `findRoutes` returns. */
export const DEFAULT_MAX_ROUTES = 3;

const PPM = 1_000_000n;

/** Tunables of the cost function (see the module doc). */
export interface RouteCostOptions {
  readonly riskFactor?: bigint;
  readonly attemptCostBase?: bigint;
  readonly attemptCostPpm?: bigint;
}

/** A (channel, direction) to leave out. */
export interface DirectedChannel {
  readonly channelId: Hash;
  readonly direction: ChannelDirection;
}

export interface FindRoutesRequest {
  /** The payer (the route's first hop leaves from it; it charges no fee). */
  readonly source: Address;
  /** The payee. */
  readonly target: Address;
  /** What the payee must receive (base units). */
  readonly amount: bigint;
  /** The asset every channel of the route must hold (zero address: ETH). */
  readonly asset: Address;
  /** Seconds from `now` the payee's lock must last at least. */
  readonly finalExpiryDelta: number;
  /** The most fee the payer pays; default `amount × maxFeePpm / 1e6 + maxFeeBase`. */
  readonly maxFee?: bigint;
  /** Default 10,000 (1%) when `maxFee` is not given. */
  readonly maxFeePpm?: bigint;
  /** Default 0 when `maxFee` is not given. */
  readonly maxFeeBase?: bigint;
  /** Expiry budget: the payer's lock expires at most this many seconds after `now`; default 14 days. */
  readonly maxExpiryDelta?: number;
  /** Default 20. */
  readonly hopLimit?: number;
  /** Unix seconds; the expiries are `now + delta`, and updates are read fresh at `now`. */
  readonly now: bigint;
  readonly missionControl?: ProbabilitySource;
  /** Unannounced channels into the payee, from its invoice (`hint.node` forwards to `target`). */
  readonly routeHints?: readonly RouteHint[];
  /** Directed channels not to use (e.g. failed in this payment). */
  readonly exclude?: readonly DirectedChannel[];
  /** How many ranked routes to return at most; default 3. */
  readonly maxRoutes?: number;
  readonly cost?: RouteCostOptions;
}

/** One hop: a lock from `from` to `to` in `channelId`. */
export interface RouteHop {
  readonly channelId: Hash;
  readonly direction: ChannelDirection;
  readonly from: Address;
  readonly to: Address;
  /** The lock's amount on this hop. */
  readonly amount: bigint;
  /** The lock's expiry on this hop (Unix seconds). */
  readonly expiry: bigint;
  /** The fee `from` keeps for forwarding this hop (0 on the first hop: the payer forwards nothing). */
  readonly fee: bigint;
}

/** A route, payer to payee. */
export interface Route {
  readonly hops: readonly RouteHop[];
  /** What the payer locks on the first hop: the payee's amount plus every fee. */
  readonly amount: bigint;
  /** `amount` minus the payee's amount. */
  readonly fee: bigint;
  /** The first hop's lock expiry (Unix seconds). */
  readonly expiry: bigint;
  /** `expiry − now`. */
  readonly expiryDelta: number;
  /** The product of the hops' success probabilities. */
  readonly probability: number;
  /** The search cost (ranking key). */
  readonly cost: bigint;
}

interface SearchEdge {
  readonly channelId: Hash;
  readonly direction: ChannelDirection;
  readonly from: Address;
  readonly to: Address;
  readonly capacity: bigint;
  readonly feeBase: bigint;
  readonly feePpm: number;
  readonly expiryDelta: number;
  readonly htlcMinimum: bigint;
  readonly htlcMaximum: bigint;
  readonly key: string;
}

interface Label {
  readonly node: Address;
  readonly hops: number;
  /** What `node` receives on its incoming lock (for the payer: what it sends). */
  readonly amount: bigint;
  readonly expiryDelta: number;
  readonly cost: bigint;
  readonly probability: number;
  /** The edge from `node` towards the payee, and the label at its far end. */
  readonly edge: SearchEdge | null;
  readonly next: Label | null;
  readonly seq: number;
}

interface Relax {
  readonly fee: boolean;
  readonly expiry: boolean;
  readonly capacity: boolean;
}

const STRICT: Relax = { fee: false, expiry: false, capacity: false };

interface Params {
  readonly source: Address;
  readonly target: Address;
  readonly amount: bigint;
  readonly finalExpiryDelta: number;
  readonly maxFee: bigint;
  readonly maxExpiryDelta: number;
  readonly hopLimit: number;
  readonly now: bigint;
  readonly mc: ProbabilitySource | undefined;
  readonly riskFactor: bigint;
  readonly attemptCostBase: bigint;
  readonly attemptCostPpm: bigint;
  /** Incoming edges per node, in a fixed order. */
  readonly into: ReadonlyMap<Address, readonly SearchEdge[]>;
}

function directedKey(channelId: Hash, direction: ChannelDirection): string {
  return `${channelId.toLowerCase()}:${direction}`;
}

function checkRequest(r: FindRoutesRequest): void {
  if (typeof r.amount !== "bigint" || r.amount <= 0n || r.amount > MAX_UINT128) {
    throw new MalformedError("amount must be a positive uint128", { amount: String(r.amount) });
  }
  if (!Number.isSafeInteger(r.finalExpiryDelta) || r.finalExpiryDelta < 0) {
    throw new MalformedError("finalExpiryDelta must be a non-negative integer (seconds)");
  }
  if (r.hopLimit !== undefined && (!Number.isSafeInteger(r.hopLimit) || r.hopLimit < 1)) {
    throw new MalformedError("hopLimit must be a positive integer");
  }
  if (r.maxExpiryDelta !== undefined && (!Number.isSafeInteger(r.maxExpiryDelta) || r.maxExpiryDelta < 0)) {
    throw new MalformedError("maxExpiryDelta must be a non-negative integer (seconds)");
  }
  if (r.maxFee !== undefined && r.maxFee < 0n) throw new MalformedError("maxFee must not be negative");
}

/**
 * The direction of a hinted (unannounced) channel, for mission control's keys: the graph's if it knows the
 * channel, else 0 when the forwarder's address sorts below the payee's (participant order is unknown).
 */
function hintDirection(graph: ChannelGraph, channelId: Hash, from: Address, to: Address): ChannelDirection {
  for (const d of [0, 1] as const) {
    const e = graph.edge(channelId, d);
    if (e) return e.from === from ? d : ((1 - d) as ChannelDirection);
  }
  return from.toLowerCase() < to.toLowerCase() ? 0 : 1;
}

/** The edges the search may use: fresh, enabled, of the asset, not excluded; hints override the graph. */
function buildEdges(graph: ChannelGraph, r: FindRoutesRequest): Map<Address, SearchEdge[]> {
  const asset = toAddress(r.asset);
  const excluded = new Set((r.exclude ?? []).map((e) => directedKey(e.channelId, e.direction)));
  const byKey = new Map<string, SearchEdge>();
  const add = (e: Omit<SearchEdge, "key">): void => {
    const key = directedKey(e.channelId, e.direction);
    if (!excluded.has(key)) byKey.set(key, { ...e, key });
  };
  const source = toAddress(r.source);
  // `disabled` means "forwards nothing for others"; the payer's own first hop is its own payment.
  for (const e of graph.edges(r.now)) if ((!e.disabled || e.from === source) && e.asset === asset) add(e);
  const target = toAddress(r.target);
  for (const h of r.routeHints ?? []) {
    const from = toAddress(h.node);
    add({
      channelId: h.channelId,
      direction: hintDirection(graph, h.channelId, from, target),
      from,
      to: target,
      capacity: MAX_UINT128,
      feeBase: h.feeBase,
      feePpm: h.feePpm,
      expiryDelta: h.expiryDelta,
      htlcMinimum: 0n,
      htlcMaximum: MAX_UINT128,
    });
  }
  const into = new Map<Address, SearchEdge[]>();
  for (const key of [...byKey.keys()].sort()) {
    const e = byKey.get(key) as SearchEdge;
    let list = into.get(e.to);
    if (!list) into.set(e.to, (list = []));
    list.push(e);
  }
  return into;
}

/** A binary min-heap of labels by (cost, hops, seq). */
class LabelHeap {
  private readonly items: Label[] = [];

  get size(): number {
    return this.items.length;
  }

  private static less(a: Label, b: Label): boolean {
    if (a.cost !== b.cost) return a.cost < b.cost;
    if (a.hops !== b.hops) return a.hops < b.hops;
    return a.seq < b.seq;
  }

  push(l: Label): void {
    const h = this.items;
    h.push(l);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!LabelHeap.less(h[i], h[p])) break;
      [h[i], h[p]] = [h[p], h[i]];
      i = p;
    }
  }

  pop(): Label | undefined {
    const h = this.items;
    const top = h[0];
    const last = h.pop();
    if (h.length > 0 && last) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && LabelHeap.less(h[l], h[m])) m = l;
        if (r < h.length && LabelHeap.less(h[r], h[m])) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m], h[i]];
        i = m;
      }
    }
    return top;
  }
}

function onPath(label: Label, node: Address): boolean {
  for (let l: Label | null = label; l; l = l.next) if (l.node === node) return true;
  return false;
}

/** One best-route search with `excluded` directed edges and the given relaxations. */
function search(p: Params, excluded: ReadonlySet<string>, relax: Relax): Route | null {
  const heap = new LabelHeap();
  let seq = 0;
  heap.push({
    node: p.target,
    hops: 0,
    amount: p.amount,
    expiryDelta: p.finalExpiryDelta,
    cost: 0n,
    probability: 1,
    edge: null,
    next: null,
    seq: seq++,
  });
  // The fewest hops a node was settled with: a later (costlier) label needs strictly fewer hops to matter.
  const settledHops = new Map<Address, number>();
  for (let label = heap.pop(); label; label = heap.pop()) {
    if (label.node === p.source) return toRoute(p, label);
    const best = settledHops.get(label.node);
    if (best !== undefined && best <= label.hops) continue;
    settledHops.set(label.node, label.hops);
    if (label.hops >= p.hopLimit) continue;
    for (const e of p.into.get(label.node) ?? []) {
      if (excluded.has(e.key) || onPath(label, e.from)) continue;
      const a = label.amount;
      if (!relax.capacity && (a < e.htlcMinimum || a > e.htlcMaximum || a > e.capacity)) continue;
      const prob = p.mc ? p.mc.probability(e.channelId, e.direction, a, p.now) : DEFAULT_APRIORI_PROBABILITY;
      const pppm = BigInt(Math.floor(Math.min(1, Math.max(0, prob)) * 1e6));
      if (pppm === 0n) continue;
      const first = e.from === p.source;
      const fee = first ? 0n : forwardingFee(e, a);
      const delta = first ? 0 : e.expiryDelta;
      const amount = a + fee;
      const expiryDelta = label.expiryDelta + delta;
      if (amount > MAX_UINT128) continue;
      if (!relax.fee && amount - p.amount > p.maxFee) continue;
      if (!relax.expiry && expiryDelta > p.maxExpiryDelta) continue;
      const attemptCost = p.attemptCostBase + (a * p.attemptCostPpm) / PPM;
      const cost =
        label.cost +
        fee +
        (a * BigInt(delta) * p.riskFactor) / 3_600_000_000_000n +
        (attemptCost * (PPM - pppm)) / pppm;
      heap.push({
        node: e.from,
        hops: label.hops + 1,
        amount,
        expiryDelta,
        cost,
        probability: label.probability * prob,
        edge: e,
        next: label,
        seq: seq++,
      });
    }
  }
  return null;
}

function toRoute(p: Params, start: Label): Route {
  const hops: RouteHop[] = [];
  for (let l: Label = start; l.edge && l.next; l = l.next) {
    hops.push({
      channelId: l.edge.channelId,
      direction: l.edge.direction,
      from: l.edge.from,
      to: l.edge.to,
      amount: l.next.amount,
      expiry: p.now + BigInt(l.next.expiryDelta),
      fee: l.amount - l.next.amount,
    });
  }
  return {
    hops,
    amount: start.amount,
    fee: start.amount - p.amount,
    expiry: p.now + BigInt(start.expiryDelta),
    expiryDelta: start.expiryDelta,
    probability: start.probability,
    cost: start.cost,
  };
}

function routeKey(r: Route): string {
  return r.hops.map((h) => directedKey(h.channelId, h.direction)).join(",");
}

/** The largest amount any route (within the hop limit, ignoring fees) can carry: a widest-path pass. */
function maxRoutable(p: Params): bigint {
  const width = new Map<Address, bigint>([[p.target, MAX_UINT128]]);
  for (let round = 0; round < p.hopLimit; round++) {
    let changed = false;
    for (const [to, edges] of p.into) {
      const w = width.get(to);
      if (w === undefined || to === p.source) continue;
      for (const e of edges) {
        if (e.from === p.target) continue;
        const cap = [w, e.capacity, e.htlcMaximum].reduce((x, y) => (x < y ? x : y));
        if (cap > (width.get(e.from) ?? -1n)) {
          width.set(e.from, cap);
          changed = true;
        }
      }
    }
    if (!changed) break;
  }
  return p.source === p.target ? 0n : (width.get(p.source) ?? 0n);
}

/**
 * Ranked routes (best first) from `source` to `target` for `amount` of `asset`. Throws
 * `FeeTooHighError` when routes exist but all cost more than `maxFee`, `InsufficientCapacityError` when
 * routes exist but none carries the amount, `NoRouteError` otherwise (no path, hop limit, expiry budget,
 * every edge excluded or with zero probability), `MalformedError` for a bad request.
 */
export function findRoutes(graph: ChannelGraph, request: FindRoutesRequest): Route[] {
  checkRequest(request);
  const source = toAddress(request.source);
  const target = toAddress(request.target);
  if (source === target) throw new NoRouteError("the payer is the payee", { source, target });
  const maxFee =
    request.maxFee ??
    (request.amount * (request.maxFeePpm ?? DEFAULT_MAX_FEE_PPM)) / PPM + (request.maxFeeBase ?? 0n);
  const p: Params = {
    source,
    target,
    amount: request.amount,
    finalExpiryDelta: request.finalExpiryDelta,
    maxFee,
    maxExpiryDelta: request.maxExpiryDelta ?? DEFAULT_MAX_EXPIRY_DELTA,
    hopLimit: request.hopLimit ?? DEFAULT_HOP_LIMIT,
    now: request.now,
    mc: request.missionControl,
    riskFactor: request.cost?.riskFactor ?? DEFAULT_RISK_FACTOR,
    attemptCostBase: request.cost?.attemptCostBase ?? DEFAULT_ATTEMPT_COST_BASE,
    attemptCostPpm: request.cost?.attemptCostPpm ?? DEFAULT_ATTEMPT_COST_PPM,
    into: buildEdges(graph, request),
  };
  const best = search(p, new Set(), STRICT);
  if (!best) throw explainNoRoute(p);
  const maxRoutes = Math.max(1, request.maxRoutes ?? DEFAULT_MAX_ROUTES);
  const chosen: Route[] = [best];
  const seen = new Set([routeKey(best)]);
  const candidates: { route: Route; excluded: Set<string> }[] = [];
  const branch = (route: Route, excluded: ReadonlySet<string>): void => {
    for (const h of route.hops) {
      const next = new Set(excluded).add(directedKey(h.channelId, h.direction));
      const r = search(p, next, STRICT);
      if (r && !seen.has(routeKey(r))) {
        seen.add(routeKey(r));
        candidates.push({ route: r, excluded: next });
      }
    }
  };
  branch(best, new Set());
  while (chosen.length < maxRoutes && candidates.length > 0) {
    candidates.sort((a, b) =>
      a.route.cost !== b.route.cost
        ? a.route.cost < b.route.cost
          ? -1
          : 1
        : routeKey(a.route) < routeKey(b.route)
          ? -1
          : 1,
    );
    const { route, excluded } = candidates.shift() as { route: Route; excluded: Set<string> };
    chosen.push(route);
    if (chosen.length < maxRoutes) branch(route, excluded);
  }
  return chosen;
}

/** Which limit kept every route out, by relaxing them one at a time. */
function explainNoRoute(p: Params): ParsecError {
  const none = new Set<string>();
  const feeFree = search(p, none, { fee: true, expiry: false, capacity: false });
  if (feeFree) return new FeeTooHighError(p.amount, p.maxFee, feeFree.fee);
  const expiryFree = search(p, none, { fee: true, expiry: true, capacity: false });
  if (expiryFree) {
    return new NoRouteError(
      `every route needs a lock of ${expiryFree.expiryDelta} s, over the expiry budget of ${p.maxExpiryDelta} s`,
      { amount: p.amount, maxExpiryDelta: p.maxExpiryDelta, neededExpiryDelta: expiryFree.expiryDelta },
    );
  }
  const capacityFree = search(p, none, { fee: true, expiry: true, capacity: true });
  if (capacityFree) return new InsufficientCapacityError(p.amount, maxRoutable(p));
  return new NoRouteError(
    `no path from ${p.source} to ${p.target} within ${p.hopLimit} hops over open, enabled, fresh channels`,
    { source: p.source, target: p.target, amount: p.amount, hopLimit: p.hopLimit },
  );
}

// ---------------------------------------------------------------- payment attempts

/** Bounds of one payment's attempts. */
export interface AttemptLimits {
  /** Default 10. */
  readonly maxAttempts?: number;
  /** Seconds from the payment's start after which no new attempt starts; default 60. */
  readonly timeoutSeconds?: bigint;
}

export const DEFAULT_MAX_ATTEMPTS = 10;
export const DEFAULT_PAYMENT_TIMEOUT_SECONDS = 60n;

/** Where a payment stands: attempts made so far and when it started (Unix seconds). */
export interface PaymentProgress {
  readonly attempts: number;
  readonly startedAt: bigint;
}

/** What to do next: try a route, or give up (with the reason and, for `noRoute`, the router's error). */
export type NextRouteDecision =
  | { readonly action: "try"; readonly route: Route; readonly attempt: number }
  | {
      readonly action: "giveUp";
      readonly reason: "maxAttempts" | "deadline" | "noRoute";
      readonly error?: ParsecError;
    };

/**
 * The next attempt of a payment (lnd's `decideNextStep`, simplified): gives up after `maxAttempts` or
 * past the deadline, else returns the best route under the request (mission control, passed in the
 * request, keeps recently failed channels out or penalised). Pure; the caller records attempts.
 */
export function nextRoute(
  graph: ChannelGraph,
  request: FindRoutesRequest,
  progress: PaymentProgress,
  limits: AttemptLimits = {},
): NextRouteDecision {
  const maxAttempts = limits.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
  const timeout = limits.timeoutSeconds ?? DEFAULT_PAYMENT_TIMEOUT_SECONDS;
  if (progress.attempts >= maxAttempts) return { action: "giveUp", reason: "maxAttempts" };
  if (request.now >= progress.startedAt + timeout) return { action: "giveUp", reason: "deadline" };
  try {
    const [route] = findRoutes(graph, { ...request, maxRoutes: 1 });
    return { action: "try", route, attempt: progress.attempts + 1 };
  } catch (e) {
    if (isParsecError(e) && e.code !== "Malformed") return { action: "giveUp", reason: "noRoute", error: e };
    throw e;
  }
}

/**
 * Teaches mission control an attempt's outcome: a success over every hop, or, when hop `failedHop`
 * (0-based) failed, a success over the hops before it (they forwarded the lock) and a failure at it
 * (amount 0 with `anyAmount`: the failure was not about the amount, e.g. the forwarder is offline).
 */
export function reportAttempt(
  mc: MissionControl,
  route: Route,
  outcome: { readonly failedHop?: number; readonly anyAmount?: boolean },
  now: bigint,
): void {
  const failed = outcome.failedHop;
  route.hops.forEach((h, i) => {
    if (failed === undefined || i < failed) mc.reportSuccess(h.channelId, h.direction, h.amount, now);
    else if (i === failed) mc.reportFailure(h.channelId, h.direction, outcome.anyAmount ? 0n : h.amount, now);
  });
}
