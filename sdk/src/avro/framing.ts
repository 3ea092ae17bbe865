/**
 * Avro single-object encoding (Avro spec, "Single object encoding"): `C3 01`, the writer schema's
 * 8-byte little-endian CRC-64-AVRO fingerprint, then the Avro binary body. The fingerprint lets a reader
 * pick the writer schema and resolve it against its own, so newer writers and older readers coexist.
 */
import { MalformedError } from "../errors";

const EMPTY = 0xc15d213aa4d7a795n;
const MASK64 = (1n << 64n) - 1n;

const TABLE: bigint[] = (() => {
  const t: bigint[] = [];
  for (let i = 0; i < 256; i++) {
    let fp = BigInt(i);
    for (let j = 0; j < 8; j++) fp = (fp >> 1n) ^ (EMPTY & -(fp & 1n) & MASK64);
    t.push(fp);
  }
  return t;
})();

/** CRC-64-AVRO (Rabin) of bytes, as an unsigned 64-bit bigint. */
export function crc64Avro(bytes: Uint8Array): bigint {
  let fp = EMPTY;
  for (const b of bytes) fp = (fp >> 8n) ^ TABLE[Number((fp ^ BigInt(b)) & 0xffn)];
  return fp;
}

/** The fingerprint of a schema's Parsing Canonical Form. */
export function schemaFingerprint(canonicalForm: string): bigint {
  return crc64Avro(new TextEncoder().encode(canonicalForm));
}

/** The 8 little-endian bytes of a fingerprint, as they appear in a framed message. */
export function fingerprintBytes(fp: bigint): Uint8Array {
  const out = new Uint8Array(8);
  for (let i = 0; i < 8; i++) out[i] = Number((fp >> BigInt(8 * i)) & 0xffn);
  return out;
}

/** Hex of a fingerprint (big-endian, 16 digits), for messages and maps. */
export function fingerprintHex(fp: bigint): string {
  return fp.toString(16).padStart(16, "0");
}

export const FRAME_MAGIC_0 = 0xc3;
export const FRAME_MAGIC_1 = 0x01;
export const FRAME_HEADER_LENGTH = 10;

/** `C3 01 || fingerprint || body`. */
export function frame(fingerprint: Uint8Array, body: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(FRAME_HEADER_LENGTH + body.length);
  out[0] = FRAME_MAGIC_0;
  out[1] = FRAME_MAGIC_1;
  out.set(fingerprint, 2);
  out.set(body, FRAME_HEADER_LENGTH);
  return out;
}

/** The writer fingerprint of a framed message; `MalformedError` when the header is missing. */
export function readFrameFingerprint(bytes: Uint8Array): bigint {
  if (!(bytes instanceof Uint8Array) || bytes.length < FRAME_HEADER_LENGTH) {
    throw new MalformedError("an Avro message starts with a 10-byte single-object header");
  }
  if (bytes[0] !== FRAME_MAGIC_0 || bytes[1] !== FRAME_MAGIC_1) {
    throw new MalformedError("not an Avro single-object encoding (magic C3 01 missing)");
  }
  let fp = 0n;
  for (let i = 9; i >= 2; i--) fp = (fp << 8n) | BigInt(bytes[i]);
  return fp;
}
