/**
 * Parsec protocol SDK: the one TypeScript implementation of docs/protocol.md. See the "SDK" section
 * there for a guided tour. Browser code imports `./isomorphic` instead (no Avro, no native verifier).
 */
export * from "./isomorphic";
import { keccak256 } from "ethers";
import { useEcBackend } from "./src/crypto/ec";
import { nativeEcBackend } from "./src/crypto/native-ec";
import { nativeKeccak256 } from "./src/verify/native";
// Under Node, signatures and onions go through libsecp256k1 (`crypto/ec.ts`); its prebuilt addon ships
// inside the `secp256k1` package, so this only falls back to the JS curve on a platform it lacks.
try {
  useEcBackend(nativeEcBackend());
} catch {
  // keep @noble/curves
}
// ethers' keccak256 (EIP-712 digests, lock roots, peer messages, addresses) is JS: 12 µs for 64 bytes,
// 42 µs for 416; the `keccak` package's prebuilt addon takes 1.9 and 3.3 µs. Same fallback rule.
try {
  keccak256.register(nativeKeccak256());
} catch {
  // keep @noble/hashes
}
export { ecBackend, nobleEcBackend, useEcBackend } from "./src/crypto/ec";
export type { EcBackend } from "./src/crypto/ec";
export { nativeEcBackend } from "./src/crypto/native-ec";
export { fileJournal } from "./src/journal-file";
export type { FileJournal } from "./src/journal-file";
export * from "./src/avro/framing";
export { AvroCodec, SchemaRegistry, assertFlatSchema, loadSchemaFile, SCHEMA_DIR } from "./src/avro/codec";
export type { MessageMapping, RegisteredSchema } from "./src/avro/codec";
export * from "./src/avro/messages";
export { channelUpdateMapping, channelUpdateMessage } from "./src/routing/graph-avro";
export type { ChannelUpdateMessage } from "./src/routing/graph-avro";
export { PAYMENT_MESSAGES_TOPIC, screenPaymentMessage } from "./src/routing/payment-message";
export { paymentMessageMapping } from "./src/routing/payment-message-avro";
export type {
  PaymentMessage,
  PaymentMessageBody,
  PaymentMessageKind,
  PaymentMessageLock,
  UnsignedPaymentMessage,
} from "./src/routing/payment-message";
export { TransferVerifier } from "./src/verify/verifier";
export type {
  BatchVerifyResult,
  ParticipantLookup,
  VerifiedMessage,
  VerifierOptions,
} from "./src/verify/verifier";
export { VerifierPool } from "./src/verify/pool";
export type { VerifierPoolOptions } from "./src/verify/pool";
export { verifyWithEthers } from "./src/verify/reference";
export type { ReferenceResult } from "./src/verify/reference";
export { KeccakWasm } from "./src/verify/keccak-wasm";
export { loadSecp256k1, nativeKeccak256 } from "./src/verify/native";
export { nativeSigner } from "./src/verify/native-signer";
export { decodeVerifiedItem, decodeVerifiedTransfer, prevOf } from "./src/avro/verified-transfer";
export type { DecodedTransfer, LoggedTransfer } from "./src/avro/verified-transfer";
