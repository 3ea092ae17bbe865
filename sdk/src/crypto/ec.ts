/**
 * The secp256k1 operations behind the SDK's signatures and onions, behind one switch. The default is
 * `@noble/curves` (pure JS, runs in browsers); the Node entry (`sdk/index.ts`) installs libsecp256k1
 * (`nativeEcBackend`), about ten times faster, because a wallet, a load generator or a mediating node
 * spends most of its CPU here (recovering signers of transfers and peer messages, onion ECDH).
 * Both give identical results: RFC 6979 nonces, low s, compressed SEC1 points.
 */
import { secp256k1 } from "@noble/curves/secp256k1";

export interface EcBackend {
  /** What it is, for diagnostics ("noble", "libsecp256k1"). */
  readonly name: string;
  /** The RFC 6979, low-s signature of a 32-byte digest: `r || s` (64 bytes) and the recovery id. */
  sign(
    digest: Uint8Array,
    privateKey: Uint8Array,
  ): { readonly signature: Uint8Array; readonly recid: number };
  /** The 65-byte uncompressed public key that made `signature` (64 bytes) over `digest`; throws if none. */
  recover(digest: Uint8Array, signature: Uint8Array, recid: number): Uint8Array;
  /** The compressed public key (33 bytes) of a private key in [1, n). */
  publicKey(privateKey: Uint8Array): Uint8Array;
  /** The compressed point `scalar · point` (`point` compressed or uncompressed, `scalar` in [1, n)); throws on an invalid point. */
  multiply(point: Uint8Array, scalar: Uint8Array): Uint8Array;
}

function bigintOf(bytes: Uint8Array): bigint {
  let n = 0n;
  for (const b of bytes) n = (n << 8n) | BigInt(b);
  return n;
}

/** `@noble/curves`: the isomorphic default. */
export const nobleEcBackend: EcBackend = {
  name: "noble",
  sign(digest, privateKey) {
    const sig = secp256k1.sign(digest, privateKey, { lowS: true });
    return { signature: sig.toCompactRawBytes(), recid: sig.recovery };
  },
  recover(digest, signature, recid) {
    return secp256k1.Signature.fromCompact(signature)
      .addRecoveryBit(recid)
      .recoverPublicKey(digest)
      .toRawBytes(false);
  },
  publicKey(privateKey) {
    return secp256k1.getPublicKey(privateKey, true);
  },
  multiply(point, scalar) {
    const p = secp256k1.ProjectivePoint.fromHex(point);
    p.assertValidity();
    return p.multiply(bigintOf(scalar)).toRawBytes(true);
  },
};

let current: EcBackend = nobleEcBackend;

/** The backend in use. */
export function ecBackend(): EcBackend {
  return current;
}

/** Switches the backend (the Node entry installs libsecp256k1; tests compare both). */
export function useEcBackend(backend: EcBackend): void {
  current = backend;
}
