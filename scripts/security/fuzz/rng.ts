// The fuzz's seeded PRNG (xoshiro128**, seeded by splitmix32): a seed replays the same sequence of actions.
import type { Hash } from "../../../sdk/isomorphic";

export class Rng {
  private readonly s = new Uint32Array(4);

  constructor(seed: number) {
    let x = seed >>> 0;
    for (let i = 0; i < 4; i++) {
      // splitmix32
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      this.s[i] = (z ^ (z >>> 16)) >>> 0;
    }
  }

  next(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1], 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1] << 9) >>> 0;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  }

  float(): number {
    return this.next() / 4294967296;
  }

  int(n: number): number {
    return Math.floor(this.float() * n);
  }

  chance(p: number): boolean {
    return this.float() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error("pick from nothing");
    return items[this.int(items.length)];
  }

  /** Uniform-ish in [min, max] (ranges here are far below 2^64). */
  big(min: bigint, max: bigint): bigint {
    if (max <= min) return min;
    const r = (BigInt(this.next()) << 32n) | BigInt(this.next());
    return min + (r % (max - min + 1n));
  }

  bytes32(): Hash {
    let hex = "0x";
    for (let i = 0; i < 8; i++) hex += this.next().toString(16).padStart(8, "0");
    return hex as Hash;
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
