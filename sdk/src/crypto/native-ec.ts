/**
 * `EcBackend` on libsecp256k1 (the npm `secp256k1` addon the verifier already loads). Node only;
 * `sdk/index.ts` installs it when the addon loads.
 */
import secp256k1 from "secp256k1";
import { loadSecp256k1 } from "../verify/native";
import type { EcBackend } from "./ec";

/** The libsecp256k1 backend; throws when the prebuilt addon does not load (the package's JS fallback is not used). */
export function nativeEcBackend(): EcBackend {
  loadSecp256k1();
  return {
    name: "libsecp256k1",
    sign(digest, privateKey) {
      const { signature, recid } = secp256k1.ecdsaSign(digest, privateKey);
      return { signature, recid };
    },
    recover(digest, signature, recid) {
      return secp256k1.ecdsaRecover(signature, recid, digest, false);
    },
    publicKey(privateKey) {
      return secp256k1.publicKeyCreate(privateKey, true);
    },
    multiply(point, scalar) {
      return secp256k1.publicKeyTweakMul(point, scalar, true);
    },
  };
}
