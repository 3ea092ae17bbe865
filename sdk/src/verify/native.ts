/**
 * The native libsecp256k1 binding of the npm `secp256k1` package, loaded without its JS wrapper: the
 * wrapper's argument checks cost ~5 µs per recovery, 8% of the verifier's whole budget, and the hot path
 * passes exactly-sized views it owns anyway. Node only.
 */
import path from "node:path";

/** The raw methods of `secp256k1`'s N-API addon that the verifier uses. Return 0 on success. */
export interface Secp256k1Native {
  /** Recovers the public key into `output` (65 bytes: uncompressed, 33: compressed). */
  ecdsaRecover(output: Uint8Array, signature64: Uint8Array, recid: number, msg32: Uint8Array): number;
  /** Verifies a low-s compact signature against a serialized public key. */
  ecdsaVerify(signature64: Uint8Array, msg32: Uint8Array, publicKey: Uint8Array): number;
}

interface AddonModule {
  Secp256k1: new () => Secp256k1Native;
}

let cached: Secp256k1Native | null = null;

/** Loads (once) the prebuilt libsecp256k1 addon; throws if only the JS fallback is available. */
export function loadSecp256k1(): Secp256k1Native {
  if (cached) return cached;
  const dir = path.dirname(require.resolve("secp256k1/package.json"));
  // node-gyp-build is secp256k1's own loader; resolve it from there so the lookup matches the package's.
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- a native addon has no ES import
  const gypBuild = require(require.resolve("node-gyp-build", { paths: [dir] })) as (d: string) => AddonModule;
  const addon = gypBuild(dir);
  if (typeof addon.Secp256k1 !== "function") throw new Error("secp256k1 native addon did not load");
  cached = new addon.Secp256k1();
  return cached;
}

/** The `keccak` package's native `KeccakState` (an alternative keccak backend, measured in the bench). */
export interface KeccakStateNative {
  initialize(rate: number, capacity: number): void;
  absorb(data: Uint8Array): void;
  absorbLastFewBits(bits: number): void;
  squeeze(length: number): Uint8Array;
}

/** keccak256 through the `keccak` package's native addon (one state object, reused). */
export function nativeKeccak256(): (data: Uint8Array) => Uint8Array {
  const dir = path.dirname(require.resolve("keccak/package.json"));
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- a native addon has no ES import
  const gypBuild = require(require.resolve("node-gyp-build", { paths: [dir] })) as (
    d: string,
  ) => new () => KeccakStateNative;
  const State = gypBuild(dir);
  const state = new State();
  return (data: Uint8Array): Uint8Array => {
    state.initialize(1088, 512);
    state.absorb(data);
    state.absorbLastFewBits(0x01);
    return state.squeeze(32);
  };
}
