/**
 * Mission control (protocol §11.3): what payment attempts taught about each channel direction, as a
 * success probability the router turns into a cost. A simplified form of lnd's a-priori estimator: it only
 * learns (`reportFailure`, `reportSuccess`) and answers (`probability`); time is injected (Unix seconds).
 *
 * Per (channel, direction) it keeps the last failure (amount F at time tf) and the last success (amount S
 * at time ts), with lnd's pair rules: a failure at F lowers S below F, a success at S raises F above S.
 * With `p0` the a-priori probability, `ps` the probability after a success and `h` the half-life,
 * `decay(t) = 2^(−(now − t)/h)`:
 *
 * - amount ≥ F (a failure is known): `p = p0 × (1 − decay(tf))`, 0 right after the failure, recovering
 *   towards `p0`;
 * - else amount ≤ S (a success is known): `p = p0 + (ps − p0) × decay(ts)`;
 * - else `p = p0`.
 *
 * A failure that says nothing about the amount (the channel is offline, the forwarder refused) is
 * reported with amount 0, so it applies to every amount.
 */

import type { Hash } from "../types";
import type { ChannelDirection } from "./graph";

/** lnd's default a-priori hop probability. */
export const DEFAULT_APRIORI_PROBABILITY = 0.6;
/** The probability right after a success for amounts up to the succeeded amount. */
export const DEFAULT_SUCCESS_PROBABILITY = 0.95;
/** lnd's default penalty half-life: one hour. */
export const DEFAULT_PENALTY_HALF_LIFE_SECONDS = 3600n;
/** The most (channel, direction) pairs kept; the least recently reported are forgotten first. */
export const DEFAULT_MISSION_CONTROL_MAX_ENTRIES = 10_000;

export interface MissionControlOptions {
  /** `p0`, in (0, 1]; default 0.6. */
  readonly aprioriProbability?: number;
  /** `ps`, in [p0, 1]; default 0.95. */
  readonly successProbability?: number;
  /** `h`, seconds; default 3600. */
  readonly halfLifeSeconds?: bigint;
  /** Bounded memory; default 10,000 pairs. */
  readonly maxEntries?: number;
}

interface PairResult {
  failAmount: bigint | null;
  failTime: bigint;
  successAmount: bigint | null;
  successTime: bigint;
}

/** The probability source the router reads (MissionControl, or a test double). */
export interface ProbabilitySource {
  probability(channelId: Hash, direction: ChannelDirection, amount: bigint, now: bigint): number;
}

/** Learns from payment attempts; answers success probabilities per (channel, direction, amount). */
export class MissionControl implements ProbabilitySource {
  readonly aprioriProbability: number;
  readonly successProbability: number;
  readonly halfLifeSeconds: bigint;
  readonly maxEntries: number;
  private readonly pairs = new Map<string, PairResult>();

  constructor(opts: MissionControlOptions = {}) {
    this.aprioriProbability = opts.aprioriProbability ?? DEFAULT_APRIORI_PROBABILITY;
    this.successProbability = Math.max(
      this.aprioriProbability,
      opts.successProbability ?? DEFAULT_SUCCESS_PROBABILITY,
    );
    this.halfLifeSeconds = opts.halfLifeSeconds ?? DEFAULT_PENALTY_HALF_LIFE_SECONDS;
    this.maxEntries = Math.max(1, opts.maxEntries ?? DEFAULT_MISSION_CONTROL_MAX_ENTRIES);
    if (!(this.aprioriProbability > 0 && this.aprioriProbability <= 1)) {
      throw new RangeError("aprioriProbability must be in (0, 1]");
    }
    if (this.halfLifeSeconds <= 0n) throw new RangeError("halfLifeSeconds must be positive");
  }

  /** A forward of `amount` over (channel, direction) failed at `now` (amount 0: failed for any amount). */
  reportFailure(channelId: Hash, direction: ChannelDirection, amount: bigint, now: bigint): void {
    const r = this.take(channelId, direction);
    r.failAmount = amount;
    r.failTime = now;
    if (r.successAmount !== null && r.successAmount >= amount) {
      r.successAmount = amount > 0n ? amount - 1n : null;
    }
  }

  /** A forward of `amount` over (channel, direction) succeeded at `now`. */
  reportSuccess(channelId: Hash, direction: ChannelDirection, amount: bigint, now: bigint): void {
    const r = this.take(channelId, direction);
    r.successAmount = r.successAmount === null ? amount : bigMax(r.successAmount, amount);
    r.successTime = now;
    if (r.failAmount !== null && r.failAmount <= amount) r.failAmount = amount + 1n;
  }

  /** The success probability of forwarding `amount` over (channel, direction) at `now`, in [0, 1]. */
  probability(channelId: Hash, direction: ChannelDirection, amount: bigint, now: bigint): number {
    const r = this.pairs.get(pairKey(channelId, direction));
    const p0 = this.aprioriProbability;
    if (!r) return p0;
    if (r.failAmount !== null && amount >= r.failAmount) return p0 * (1 - this.decay(r.failTime, now));
    if (r.successAmount !== null && amount <= r.successAmount) {
      return p0 + (this.successProbability - p0) * this.decay(r.successTime, now);
    }
    return p0;
  }

  /** How many pairs are remembered. */
  get size(): number {
    return this.pairs.size;
  }

  /** Forgets everything (e.g. after a restart, when results are not persisted). */
  reset(): void {
    this.pairs.clear();
  }

  /** `2^(−(now − t)/h)`, 1 for a result at or after `now`. */
  private decay(t: bigint, now: bigint): number {
    if (now <= t) return 1;
    return Math.pow(2, -Number(now - t) / Number(this.halfLifeSeconds));
  }

  private take(channelId: Hash, direction: ChannelDirection): PairResult {
    const key = pairKey(channelId, direction);
    const held = this.pairs.get(key);
    // Re-insert so that Map order is least recently reported first.
    if (held) this.pairs.delete(key);
    const r = held ?? { failAmount: null, failTime: 0n, successAmount: null, successTime: 0n };
    this.pairs.set(key, r);
    while (this.pairs.size > this.maxEntries) {
      const oldest = this.pairs.keys().next().value as string;
      this.pairs.delete(oldest);
    }
    return r;
  }
}

function pairKey(channelId: Hash, direction: ChannelDirection): string {
  return `${channelId.toLowerCase()}:${direction}`;
}

function bigMax(a: bigint, b: bigint): bigint {
  return a > b ? a : b;
}
