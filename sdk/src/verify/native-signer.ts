/**
 * A `LocalSigner` backed by libsecp256k1 (the npm `secp256k1` addon the verifier already loads). The
 * isomorphic `localSigner` signs with ethers' JS secp256k1 (~3,000 signatures/s on one core here, against ~21,800 with this one); a node that co-signs
 * checkpoints for many channels, or a load generator, needs this one. RFC 6979 nonces, low s. Node only.
 */
import secp256k1 from "secp256k1";
import { fromHex, toHex } from "../bytes";
import { localSigner, type LocalSigner } from "../sign";
import type { Hash, Hex } from "../types";

/** Ethereum's recovery id offset in the `v` byte of a 65-byte signature. */
const V_OFFSET = 27;

/** Signs digests with `key` through libsecp256k1; signatures are identical to `localSigner(key)`'s. */
export function nativeSigner(key: Hex): LocalSigner {
  const address = localSigner(key).address;
  const priv = fromHex(key, "private key", 32);
  return {
    type: "local",
    address,
    signDigest(digest: Hash): Hex {
      const { signature, recid } = secp256k1.ecdsaSign(fromHex(digest, "digest", 32), priv);
      const out = new Uint8Array(65);
      out.set(signature, 0);
      out[64] = V_OFFSET + recid;
      return toHex(out);
    },
  };
}
