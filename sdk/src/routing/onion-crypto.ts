/**
 * The primitives of the forwarding onion (protocol §11.4), in one place so the packet and the failure
 * code share them: secp256k1 ECDH and key blinding, HKDF-SHA256 key derivation, the ChaCha20 keystream
 * and HMAC-SHA256. Isomorphic: `@noble/*` and the SDK's secp256k1 backend (`crypto/ec.ts`, libsecp256k1
 * under Node), plain `Uint8Array`s, no Node `Buffer` or `crypto`. A point is its 33-byte compressed SEC1
 * encoding throughout.
 */
import { chacha20 } from "@noble/ciphers/chacha";
import { secp256k1 } from "@noble/curves/secp256k1";
import { hkdf } from "@noble/hashes/hkdf";
import { hmac } from "@noble/hashes/hmac";
import { sha256 } from "@noble/hashes/sha256";
import { randomBytes } from "@noble/hashes/utils";
import { concatBytes, fromHex, writeUint } from "../bytes";
import { ecBackend } from "../crypto/ec";
import { OnionMalformedError } from "../errors";
import type { Hex } from "../types";

/** A byte string given either as bytes or as `0x` hex. */
export type OnionBytes = Uint8Array | Hex;

/** HKDF `info` labels (ASCII), one key per purpose and shared secret. */
export const ONION_KEY_LABELS = {
  stream: "parsec-onion-v1:stream",
  mac: "parsec-onion-v1:mac",
  pad: "parsec-onion-v1:pad",
  failureStream: "parsec-onion-v1:failure-stream",
  failureMac: "parsec-onion-v1:failure-mac",
} as const;
export type OnionKeyPurpose = keyof typeof ONION_KEY_LABELS;

const LABEL_BYTES: Record<OnionKeyPurpose, Uint8Array> = {
  stream: ascii(ONION_KEY_LABELS.stream),
  mac: ascii(ONION_KEY_LABELS.mac),
  pad: ascii(ONION_KEY_LABELS.pad),
  failureStream: ascii(ONION_KEY_LABELS.failureStream),
  failureMac: ascii(ONION_KEY_LABELS.failureMac),
};

const CURVE_ORDER = secp256k1.CURVE.n;
const ZERO_NONCE = new Uint8Array(12);

/** A curve point: 33-byte compressed SEC1. */
type Point = Uint8Array;
const ONE = scalarBytes(1n);

function ascii(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

/** `value` as bytes (hex decoded), checking the length when given. */
export function onionBytes(value: OnionBytes, field: string, length?: number): Uint8Array {
  let bytes: Uint8Array;
  if (typeof value === "string") {
    try {
      bytes = fromHex(value, field);
    } catch {
      throw new OnionMalformedError(`${field} must be bytes or 0x hex`, { field });
    }
  } else if (value instanceof Uint8Array) {
    bytes = value;
  } else {
    throw new OnionMalformedError(`${field} must be bytes or 0x hex`, { field });
  }
  if (length !== undefined && bytes.length !== length) {
    throw new OnionMalformedError(`${field} must be ${length} bytes, got ${bytes.length}`, {
      field,
      length: bytes.length,
    });
  }
  return bytes;
}

/** A private key as a scalar in [1, n). */
export function scalarOf(key: OnionBytes, field: string): bigint {
  const bytes = onionBytes(key, field, 32);
  if (!secp256k1.utils.isValidPrivateKey(bytes)) {
    throw new OnionMalformedError(`${field} is not a valid secp256k1 private key (must be in [1, n))`, {
      field,
    });
  }
  return secp256k1.utils.normPrivateKeyToScalar(bytes);
}

/** A public key (33-byte compressed or 65-byte uncompressed SEC1) as a curve point (compressed). */
export function pointOf(key: OnionBytes, field: string): Point {
  const bytes = onionBytes(key, field);
  try {
    // 1 · P: the backend parses and validates the point and returns it compressed.
    return ecBackend().multiply(bytes, ONE);
  } catch {
    throw new OnionMalformedError(`${field} is not a valid secp256k1 public key`, { field });
  }
}

/** A scalar in [1, n) as 32 big-endian bytes. */
function scalarBytes(scalar: bigint): Uint8Array {
  const out = new Uint8Array(32);
  writeUint(out, 0, 32, scalar);
  return out;
}

/** The compressed public key of a private key. */
export function onionPublicKey(privateKey: OnionBytes): Uint8Array {
  return basePoint(scalarOf(privateKey, "privateKey"));
}

/** `scalar · point`. */
export function multiplyPoint(point: Point, scalar: bigint): Point {
  return ecBackend().multiply(point, scalarBytes(scalar));
}

/** Shared secret = sha256(compressed(scalar · point)). */
export function sharedSecretOf(point: Point, scalar: bigint): Uint8Array {
  return sha256(multiplyPoint(point, scalar));
}

/** Blinding factor = sha256(compressed(ephemeral) || sharedSecret) mod n (never 0 in practice). */
export function blindingOf(ephemeral: Point, sharedSecret: Uint8Array): bigint {
  let b = 0n;
  for (const byte of sha256(concatBytes(ephemeral, sharedSecret))) b = (b << 8n) | BigInt(byte);
  b %= CURVE_ORDER;
  if (b === 0n) throw new OnionMalformedError("blinding factor is zero; use another session key");
  return b;
}

/** `a · b mod n`. */
export function mulScalars(a: bigint, b: bigint): bigint {
  return (a * b) % CURVE_ORDER;
}

/** `scalar · G`. */
export function basePoint(scalar: bigint): Point {
  return ecBackend().publicKey(scalarBytes(scalar));
}

/** HKDF-SHA256(ikm = secret, salt = empty, info = label, 32 bytes). */
export function deriveKey(secret: Uint8Array, purpose: OnionKeyPurpose): Uint8Array {
  return hkdf(sha256, secret, undefined, LABEL_BYTES[purpose], 32);
}

/** `length` bytes of ChaCha20 (RFC 8439) keystream: key, 12 zero nonce bytes, counter from 0. */
export function keystream(key: Uint8Array, length: number): Uint8Array {
  return chacha20(key, ZERO_NONCE, new Uint8Array(length));
}

/** XORs `key`'s keystream into `data` in place and returns it. */
export function xorStream(key: Uint8Array, data: Uint8Array): Uint8Array {
  const ks = keystream(key, data.length);
  for (let i = 0; i < data.length; i++) data[i] ^= ks[i];
  return data;
}

/** HMAC-SHA256(key, concatenation of parts). */
export function mac(key: Uint8Array, ...parts: readonly Uint8Array[]): Uint8Array {
  const h = hmac.create(sha256, key);
  for (const p of parts) h.update(p);
  return h.digest();
}

/** Constant-time equality of two equal-length byte strings. */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

/** 32 random bytes from the platform CSPRNG (`crypto.getRandomValues`). */
export function randomKey(): Uint8Array {
  return randomBytes(32);
}

/** sha256, for failure data (`InvalidOnion` carries sha256 of the packet). */
export function onionSha256(data: Uint8Array): Uint8Array {
  return sha256(data);
}
