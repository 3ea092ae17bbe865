/**
 * The browser-safe part of the SDK (no Node built-ins, no native code): types, errors, EIP-712, packed
 * records, signing (with the signing journal), chain state, withdrawal checks, settlement, reordering,
 * proofs, invoices, Bitcoin addresses, catalogue.
 * The dapp imports this; Node code imports `sdk/index.ts`, which adds Avro and the native verifier.
 */
export * from "./src/types";
export * from "./src/errors";
export {
  toHex,
  fromHex,
  toAddress,
  toHash,
  isHexOfLength,
  MAX_UINT32,
  MAX_UINT64,
  MAX_UINT96,
  MAX_UINT128,
  MAX_UINT256,
} from "./src/bytes";
export * from "./src/validate";
export * from "./src/eip712";
export * from "./src/records";
export * from "./src/sign";
export {
  journalKey,
  journaledTransferSigner,
  memoryJournal,
  mergeJournalEntry,
  parseJournalEntry,
  serializeJournalEntry,
  signWithJournal,
  storageJournal,
} from "./src/journal";
export type { JournalEntry, JournalStorage, JournaledSigner, SigningJournal } from "./src/journal";
export { DEFAULT_MAX_WITHDRAW_EXPIRY_SECONDS, checkWithdrawSafety, cosignWithdraw } from "./src/withdraw";
export type { WithdrawSafety, WithdrawSafetyOptions } from "./src/withdraw";
export * from "./src/payer-state";
export * from "./src/settlement";
export * from "./src/chain";
export * from "./src/reorder";
export * from "./src/proofs";
export * from "./src/bitcoin";
export * from "./src/invoice";
export * from "./src/catalogue";
