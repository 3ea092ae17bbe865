/**
 * Byte and hex helpers on plain `Uint8Array`s (isomorphic: no Node `Buffer`), with the range checks
 * that turn bad input into `MalformedError`/`OverflowError` instead of a generic exception.
 */
import { getAddress } from "ethers";
import { MalformedError, OverflowError } from "./errors";
import type { Address, Hash, Hex } from "./types";

const HEX_CHARS = "0123456789abcdef";
const BYTE_TO_HEX: string[] = Array.from({ length: 256 }, (_, i) => HEX_CHARS[i >> 4] + HEX_CHARS[i & 15]);
const HEX_TO_NIBBLE = new Int8Array(128).fill(-1);
for (let i = 0; i < 16; i++) {
  HEX_TO_NIBBLE[HEX_CHARS.charCodeAt(i)] = i;
  HEX_TO_NIBBLE[HEX_CHARS.toUpperCase().charCodeAt(i)] = i;
}

/** Lower-case `0x` hex of `bytes[start, end)`. */
export function toHex(bytes: Uint8Array, start = 0, end = bytes.length): Hex {
  let out = "0x";
  for (let i = start; i < end; i++) out += BYTE_TO_HEX[bytes[i]];
  return out as Hex;
}

/** Decodes `0x` hex; throws `MalformedError` naming `field` if it is not hex of the expected length. */
export function fromHex(value: string, field = "value", length?: number): Uint8Array {
  if (typeof value !== "string" || !value.startsWith("0x") || value.length % 2 !== 0) {
    throw new MalformedError(`${field} must be 0x-prefixed hex with an even number of digits`);
  }
  const n = (value.length - 2) / 2;
  if (length !== undefined && n !== length) {
    throw new MalformedError(`${field} must be ${length} bytes, got ${n}`);
  }
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const hi = HEX_TO_NIBBLE[value.charCodeAt(2 + 2 * i)] ?? -1;
    const lo = HEX_TO_NIBBLE[value.charCodeAt(3 + 2 * i)] ?? -1;
    if (hi < 0 || lo < 0) throw new MalformedError(`${field} contains a non-hex character`);
    out[i] = (hi << 4) | lo;
  }
  return out;
}

/** Whether `value` is `0x` hex of exactly `length` bytes. */
export function isHexOfLength(value: unknown, length: number): value is Hex {
  if (typeof value !== "string" || value.length !== 2 + 2 * length || !value.startsWith("0x")) return false;
  for (let i = 2; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c >= 128 || HEX_TO_NIBBLE[c] < 0) return false;
  }
  return true;
}

/** A 32-byte hash as canonical lower-case hex; `MalformedError` otherwise. */
export function toHash(value: string, field = "hash"): Hash {
  if (!isHexOfLength(value, 32)) throw new MalformedError(`${field} must be 32 bytes of 0x hex`);
  return value.toLowerCase() as Hash;
}

/** An EIP-55 checksummed address; `MalformedError` for anything that is not one (bad checksum too). */
export function toAddress(value: string, field = "address"): Address {
  if (!isHexOfLength(value, 20)) throw new MalformedError(`${field} must be a 20-byte 0x address`);
  try {
    return getAddress(value) as Address;
  } catch {
    throw new MalformedError(`${field} has a wrong EIP-55 checksum`);
  }
}

/** Concatenation of byte arrays. */
export function concatBytes(...parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Whether two byte ranges are equal. */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** `2^bits − 1`. */
export function maxUint(bits: number): bigint {
  return (1n << BigInt(bits)) - 1n;
}

export const MAX_UINT32 = maxUint(32);
export const MAX_UINT64 = maxUint(64);
export const MAX_UINT96 = maxUint(96);
export const MAX_UINT128 = maxUint(128);
export const MAX_UINT256 = maxUint(256);

/** Checks that `value` is a bigint in `[0, 2^bits)`; `OverflowError` otherwise. */
export function checkUint(value: bigint, bits: number, field: string): bigint {
  if (typeof value !== "bigint") throw new MalformedError(`${field} must be a bigint, got ${typeof value}`);
  if (value < 0n || value > maxUint(bits)) throw new OverflowError(field, value, bits);
  return value;
}

/** Checks that `value` is an integer number in `[0, 2^bits)` (bits <= 32); `OverflowError` otherwise. */
export function checkSmallUint(value: number, bits: number, field: string): number {
  if (typeof value !== "number" || !Number.isInteger(value)) {
    throw new MalformedError(`${field} must be an integer, got ${String(value)}`);
  }
  if (value < 0 || value > 2 ** bits - 1) throw new OverflowError(field, BigInt(value), bits);
  return value;
}

/** Writes `value` big-endian into `out[offset, offset + size)`. The caller range-checks. */
export function writeUint(out: Uint8Array, offset: number, size: number, value: bigint | number): void {
  let v = BigInt(value);
  for (let i = offset + size - 1; i >= offset; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
}

/** Reads a big-endian unsigned integer from `bytes[offset, offset + size)`. */
export function readUint(bytes: Uint8Array, offset: number, size: number): bigint {
  let v = 0n;
  for (let i = offset; i < offset + size; i++) v = (v << 8n) | BigInt(bytes[i]);
  return v;
}

/** Reads a big-endian unsigned integer of at most 6 bytes as a number. */
export function readSmallUint(bytes: Uint8Array, offset: number, size: number): number {
  let v = 0;
  for (let i = offset; i < offset + size; i++) v = v * 256 + bytes[i];
  return v;
}

/** `value` as a 32-byte big-endian word (ABI encoding of a static uint). */
export function uintWord(value: bigint | number): Uint8Array {
  const out = new Uint8Array(32);
  writeUint(out, 0, 32, value);
  return out;
}

/** An address as a 32-byte word (left-padded). */
export function addressWord(address: Address): Uint8Array {
  const out = new Uint8Array(32);
  out.set(fromHex(address, "address", 20), 12);
  return out;
}

/** Whether all bytes are zero. */
export function isZero(bytes: Uint8Array, start = 0, end = bytes.length): boolean {
  for (let i = start; i < end; i++) if (bytes[i] !== 0) return false;
  return true;
}
