/**
 * Bech32m (BIP-350) for routed invoices, written from the BIP text: the BIP-173 BCH checksum over GF(32)
 * with the BIP-350 constant, without BIP-173's 90-character limit (as Lightning invoices do). Isomorphic:
 * plain arrays and `Uint8Array`s. The checksum detects any single-character substitution at any length
 * (the generator is not a monomial) and, as long as the checksummed sequence stays within the code's
 * length of 1023 symbols (`hrpExpand(hrp) || data || checksum`), no two equal substitutions cancel
 * through the generator's period; protocol §11.1.
 */
import { InvoiceChecksumError, MalformedError } from "../errors";

/** The 32 data characters; a character's index is its 5-bit value. */
export const BECH32_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";
/** XORed into the checksum by bech32m (BIP-350); bech32 (BIP-173) uses 1. */
export const BECH32M_CONST = 0x2bc830a3;
/** The BCH code's length: the period of the generator; longer checksummed sequences lose guarantees. */
export const BECH32_CODE_LENGTH = 1023;

const GENERATOR = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3] as const;
const CHAR_VALUE = new Int8Array(128).fill(-1);
for (let i = 0; i < BECH32_CHARSET.length; i++) CHAR_VALUE[BECH32_CHARSET.charCodeAt(i)] = i;

/** The BCH remainder of 5-bit `values` (BIP-173 `bech32_polymod`); `start` continues an earlier run. */
export function bech32Polymod(values: readonly number[], start = 1): number {
  let chk = start;
  for (const v of values) {
    const top = chk >>> 25;
    chk = (((chk & 0x1ffffff) << 5) ^ v) >>> 0;
    for (let i = 0; i < 5; i++) if ((top >>> i) & 1) chk = (chk ^ GENERATOR[i]) >>> 0;
  }
  return chk;
}

/** The human-readable part as checksum input: high 3 bits of each character, 0, low 5 bits of each. */
export function bech32HrpExpand(hrp: string): number[] {
  const out: number[] = [];
  for (let i = 0; i < hrp.length; i++) out.push(hrp.charCodeAt(i) >> 5);
  out.push(0);
  for (let i = 0; i < hrp.length; i++) out.push(hrp.charCodeAt(i) & 31);
  return out;
}

/** The six 5-bit checksum values of `hrp` and `data`. */
export function bech32mChecksum(hrp: string, data: readonly number[]): number[] {
  const mod = bech32Polymod([...bech32HrpExpand(hrp), ...data, 0, 0, 0, 0, 0, 0]) ^ BECH32M_CONST;
  const out: number[] = [];
  for (let i = 0; i < 6; i++) out.push((mod >>> (5 * (5 - i))) & 31);
  return out;
}

/** `hrp || "1" || data || checksum` in lower case; `data` are 5-bit values. No length limit. */
export function bech32mEncode(hrp: string, data: readonly number[]): string {
  let out = hrp + "1";
  for (const v of [...data, ...bech32mChecksum(hrp, data)]) out += BECH32_CHARSET[v];
  return out;
}

/**
 * The 5-bit data of a bech32m string with human-readable part `hrp` (checksum removed). Upper-case
 * input is accepted, mixed case is not. A wrong prefix is `MalformedError`; a character outside the
 * charset or a checksum mismatch is `InvoiceChecksumError` (the text is damaged or mistyped).
 */
export function bech32mDecode(text: string, hrp: string, what = "invoice"): number[] {
  if (typeof text !== "string") throw new MalformedError(`the ${what} must be a string`);
  const s = text.trim();
  const lower = s.toLowerCase();
  if (s !== lower && s !== s.toUpperCase()) {
    throw new MalformedError(`the ${what} text mixes upper- and lower-case letters; use one case`);
  }
  const prefix = hrp + "1";
  if (!lower.startsWith(prefix)) {
    throw new MalformedError(`this is not a Parsec ${what}: the text must start with "${prefix}"`);
  }
  const data: number[] = [];
  for (let i = prefix.length; i < lower.length; i++) {
    const c = lower.charCodeAt(i);
    const v = c < 128 ? CHAR_VALUE[c] : -1;
    if (v < 0)
      throw new InvoiceChecksumError(`character ${JSON.stringify(s[i])} at position ${i} is not allowed`);
    data.push(v);
  }
  if (data.length < 6) throw new InvoiceChecksumError("the text is too short to hold a checksum");
  if (bech32Polymod(data, bech32Polymod(bech32HrpExpand(hrp))) !== BECH32M_CONST) {
    throw new InvoiceChecksumError("the checksum does not match");
  }
  return data.slice(0, -6);
}

/** Regroups bytes into 5-bit values, zero-padding the last group (BIP-173 `convertbits(…, 8, 5, True)`). */
export function bytesToWords(bytes: Uint8Array): number[] {
  const out: number[] = [];
  let acc = 0;
  let bits = 0;
  for (const b of bytes) {
    acc = ((acc << 8) | b) & 0xfff;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out.push((acc >>> bits) & 31);
    }
  }
  if (bits > 0) out.push((acc << (5 - bits)) & 31);
  return out;
}

/**
 * Regroups 5-bit values into bytes (`convertbits(…, 5, 8, False)`): fewer than 5 padding bits, all
 * zero, else `MalformedError`.
 */
export function wordsToBytes(words: readonly number[]): Uint8Array {
  const out = new Uint8Array(Math.floor((words.length * 5) / 8));
  let acc = 0;
  let bits = 0;
  let o = 0;
  for (const w of words) {
    acc = ((acc << 5) | w) & 0xfff;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >>> bits) & 0xff;
    }
  }
  if (bits >= 5 || (acc & ((1 << bits) - 1)) !== 0) {
    throw new MalformedError("invalid padding at the end of the invoice data");
  }
  return out;
}
