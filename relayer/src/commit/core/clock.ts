/**
 * The time the services decide with, injected so decisions are pure functions of their inputs and tests
 * drive time by hand (lnd's `clock.Clock`). Wall time (ms) runs timers; chain time (s) decides what the
 * contract allows, e.g. whether a challenge period or a lock has ended.
 */

export interface Clock {
  /** Wall-clock milliseconds. */
  now(): number;
  /** Unix seconds of the newest block the node has seen. */
  chainNow(): number;
}

/** The real clock: `Date.now()` and the chain index's newest block time. */
export function systemClock(chain: { readonly latestTimestamp: number }): Clock {
  return { now: () => Date.now(), chainNow: () => chain.latestTimestamp };
}

/** A clock tests move by hand. */
export class TestClock implements Clock {
  constructor(
    private ms = 1_000_000,
    private seconds = 1_000_000,
  ) {}

  now(): number {
    return this.ms;
  }

  chainNow(): number {
    return this.seconds;
  }

  advance(ms: number): void {
    this.ms += ms;
  }

  setChainNow(seconds: number): void {
    this.seconds = seconds;
  }
}
