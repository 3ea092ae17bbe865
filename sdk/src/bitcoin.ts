/**
 * Bitcoin addresses of a secp256k1 key, for the invoice flow's BTC currency: P2PKH (Base58Check,
 * version 0x00 mainnet / 0x6f testnet, HASH160 of the compressed key) and P2WPKH (BIP-173 bech32,
 * witness v0, `bc` / `tb`). Base58Check and bech32 are implemented here (small, tested against the
 * BIP-173 vectors); SHA-256 and RIPEMD-160 are ethers' audited JS implementations. Isomorphic.
 */
import { SigningKey, computeAddress, getBytes, ripemd160, sha256 } from "ethers";
import { concatBytes, equalBytes, fromHex, toHex } from "./bytes";
import { AddressMismatchError, MalformedError } from "./errors";
import type { Address, Hex } from "./types";

export type BitcoinNetwork = "mainnet" | "testnet";

const P2PKH_VERSION: Record<BitcoinNetwork, number> = { mainnet: 0x00, testnet: 0x6f };
const BECH32_HRP: Record<BitcoinNetwork, string> = { mainnet: "bc", testnet: "tb" };

// ---------------------------------------------------------------- hashes and keys

/** `RIPEMD160(SHA256(data))`. */
export function hash160(data: Uint8Array): Uint8Array {
  return getBytes(ripemd160(sha256(data)));
}

/** The 33-byte compressed form of a public key given compressed (33) or uncompressed (65, or 64 raw) bytes. */
export function compressPublicKey(publicKey: Hex | Uint8Array): Uint8Array {
  let bytes = typeof publicKey === "string" ? fromHex(publicKey, "publicKey") : publicKey;
  if (bytes.length === 64) bytes = concatBytes(new Uint8Array([4]), bytes);
  if (bytes.length !== 33 && bytes.length !== 65)
    throw new MalformedError("a public key is 33, 64 or 65 bytes");
  try {
    return getBytes(SigningKey.computePublicKey(bytes, true));
  } catch {
    throw new MalformedError("the public key is not a point on secp256k1");
  }
}

/** The Ethereum address of a public key. */
export function ethereumAddressOf(publicKey: Hex | Uint8Array): Address {
  return computeAddress(toHex(compressPublicKey(publicKey))) as Address;
}

// ---------------------------------------------------------------- Base58Check

const B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

/** Base58 of bytes (leading zero bytes become leading '1's). */
export function base58Encode(bytes: Uint8Array): string {
  let n = 0n;
  for (const b of bytes) n = (n << 8n) | BigInt(b);
  let out = "";
  while (n > 0n) {
    out = B58[Number(n % 58n)] + out;
    n /= 58n;
  }
  for (const b of bytes) {
    if (b !== 0) break;
    out = "1" + out;
  }
  return out;
}

/** Bytes of a Base58 string; `MalformedError` for characters outside the alphabet. */
export function base58Decode(s: string): Uint8Array {
  let n = 0n;
  for (const c of s) {
    const i = B58.indexOf(c);
    if (i < 0) throw new MalformedError(`'${c}' is not a Base58 character`);
    n = n * 58n + BigInt(i);
  }
  const body: number[] = [];
  while (n > 0n) {
    body.unshift(Number(n & 0xffn));
    n >>= 8n;
  }
  let zeros = 0;
  while (zeros < s.length && s[zeros] === "1") zeros++;
  return Uint8Array.from([...new Array<number>(zeros).fill(0), ...body]);
}

function checksum4(payload: Uint8Array): Uint8Array {
  return getBytes(sha256(sha256(payload))).subarray(0, 4);
}

/** Base58Check: `base58(payload || sha256(sha256(payload))[0:4])`. */
export function base58CheckEncode(payload: Uint8Array): string {
  return base58Encode(concatBytes(payload, checksum4(payload)));
}

/** The payload of a Base58Check string; `MalformedError` on a bad checksum. */
export function base58CheckDecode(s: string): Uint8Array {
  const bytes = base58Decode(s);
  if (bytes.length < 5) throw new MalformedError("Base58Check data is too short");
  const payload = bytes.subarray(0, bytes.length - 4);
  if (!equalBytes(checksum4(payload), bytes.subarray(bytes.length - 4))) {
    throw new MalformedError("Base58Check checksum mismatch");
  }
  return payload;
}

// ---------------------------------------------------------------- bech32 (BIP-173)

const BECH32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";
const GEN = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3];

function polymod(values: readonly number[]): number {
  let chk = 1;
  for (const v of values) {
    const top = chk >>> 25;
    chk = (((chk & 0x1ffffff) << 5) ^ v) >>> 0;
    for (let i = 0; i < 5; i++) if ((top >>> i) & 1) chk = (chk ^ GEN[i]) >>> 0;
  }
  return chk;
}

function hrpExpand(hrp: string): number[] {
  const out: number[] = [];
  for (const c of hrp) out.push(c.charCodeAt(0) >> 5);
  out.push(0);
  for (const c of hrp) out.push(c.charCodeAt(0) & 31);
  return out;
}

/** Regroups bits (BIP-173 `convertbits`). */
export function convertBits(data: readonly number[], from: number, to: number, pad: boolean): number[] {
  let acc = 0;
  let bits = 0;
  const out: number[] = [];
  const max = (1 << to) - 1;
  for (const v of data) {
    if (v < 0 || v >> from !== 0) throw new MalformedError("invalid value for bit conversion");
    acc = (acc << from) | v;
    bits += from;
    while (bits >= to) {
      bits -= to;
      out.push((acc >> bits) & max);
    }
  }
  if (pad) {
    if (bits > 0) out.push((acc << (to - bits)) & max);
  } else if (bits >= from || ((acc << (to - bits)) & max) !== 0) {
    throw new MalformedError("invalid padding in bech32 data");
  }
  return out;
}

/** A bech32 string of `hrp` and 5-bit `data`. */
export function bech32Encode(hrp: string, data: readonly number[]): string {
  const mod = polymod([...hrpExpand(hrp), ...data, 0, 0, 0, 0, 0, 0]) ^ 1;
  const check = Array.from({ length: 6 }, (_, i) => (mod >>> (5 * (5 - i))) & 31);
  return hrp + "1" + [...data, ...check].map((d) => BECH32[d]).join("");
}

/** Splits and checks a bech32 string; `MalformedError` on anything invalid (mixed case, checksum…). */
export function bech32Decode(s: string): { hrp: string; data: number[] } {
  if (s.length > 90) throw new MalformedError("bech32 strings are at most 90 characters");
  if (s !== s.toLowerCase() && s !== s.toUpperCase()) throw new MalformedError("bech32 must not mix case");
  const lower = s.toLowerCase();
  const sep = lower.lastIndexOf("1");
  if (sep < 1 || sep + 7 > lower.length) throw new MalformedError("bech32 separator misplaced");
  const hrp = lower.slice(0, sep);
  for (const c of hrp) {
    const code = c.charCodeAt(0);
    if (code < 33 || code > 126)
      throw new MalformedError("bech32 human-readable part has invalid characters");
  }
  const data: number[] = [];
  for (const c of lower.slice(sep + 1)) {
    const d = BECH32.indexOf(c);
    if (d < 0) throw new MalformedError(`'${c}' is not a bech32 character`);
    data.push(d);
  }
  if (polymod([...hrpExpand(hrp), ...data]) !== 1) throw new MalformedError("bech32 checksum mismatch");
  return { hrp, data: data.slice(0, -6) };
}

// ---------------------------------------------------------------- addresses

/** The P2PKH address (Base58Check of version || HASH160(compressed key)). */
export function p2pkhAddress(publicKey: Hex | Uint8Array, network: BitcoinNetwork = "mainnet"): string {
  return base58CheckEncode(
    concatBytes(new Uint8Array([P2PKH_VERSION[network]]), hash160(compressPublicKey(publicKey))),
  );
}

/** The P2WPKH address (bech32, witness v0, program = HASH160(compressed key)). */
export function p2wpkhAddress(publicKey: Hex | Uint8Array, network: BitcoinNetwork = "mainnet"): string {
  const program = hash160(compressPublicKey(publicKey));
  return bech32Encode(BECH32_HRP[network], [0, ...convertBits([...program], 8, 5, true)]);
}

/** A decoded Bitcoin address of the two kinds the invoice flow accepts. */
export interface BitcoinAddressInfo {
  readonly type: "p2pkh" | "p2wpkh";
  readonly network: BitcoinNetwork;
  /** The 20-byte HASH160 the address pays to. */
  readonly hash160: Uint8Array;
}

/** Decodes and checks a P2PKH or P2WPKH address; `MalformedError` for anything else. */
export function decodeBitcoinAddress(address: string): BitcoinAddressInfo {
  const lower = address.toLowerCase();
  for (const network of ["mainnet", "testnet"] as const) {
    if (lower.startsWith(BECH32_HRP[network] + "1")) {
      const { hrp, data } = bech32Decode(address);
      if (hrp !== BECH32_HRP[network]) break;
      if (data.length === 0 || data[0] !== 0)
        throw new MalformedError("only witness version 0 (P2WPKH) is accepted");
      const program = convertBits(data.slice(1), 5, 8, false);
      if (program.length !== 20) throw new MalformedError("a P2WPKH program is 20 bytes");
      return { type: "p2wpkh", network, hash160: Uint8Array.from(program) };
    }
  }
  const payload = base58CheckDecode(address);
  if (payload.length !== 21) throw new MalformedError("a P2PKH payload is 21 bytes");
  const network = payload[0] === 0x00 ? "mainnet" : payload[0] === 0x6f ? "testnet" : null;
  if (!network) throw new MalformedError(`version byte 0x${payload[0].toString(16)} is not P2PKH`);
  return { type: "p2pkh", network, hash160: payload.slice(1) };
}

/** Checks that a Bitcoin address (P2PKH or P2WPKH) pays to the given public key; `AddressMismatchError` else. */
export function assertBitcoinAddressOf(address: string, publicKey: Hex | Uint8Array): BitcoinAddressInfo {
  const info = decodeBitcoinAddress(address);
  if (!equalBytes(info.hash160, hash160(compressPublicKey(publicKey)))) {
    const expected =
      info.type === "p2pkh" ? p2pkhAddress(publicKey, info.network) : p2wpkhAddress(publicKey, info.network);
    throw new AddressMismatchError(expected, address);
  }
  return info;
}
