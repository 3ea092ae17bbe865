/**
 * Parsec client: what a wallet-side program does with the contracts and a node, above the protocol SDK.
 * Used by the dapp (`app/`), the Hardhat tasks (`tasks/`) and, for routed payments, the nodes. It depends
 * on the SDK's browser-safe entry (`sdk/isomorphic.ts`) only and uses no DOM and no Node built-in, so it
 * runs in both. Import the SDK's own names from the SDK; this index re-exports none of them.
 */
export {
  ClientError,
  WalletRejectedError,
  causeChain,
  isClientError,
  isUserRejection,
  parsecErrorOf,
  toWalletError,
} from "./src/errors";
export type { ClientErrorCode } from "./src/errors";
export { errorNotices, hashedTimelockAbi, parsecChannelsAbi, testTokenAbi } from "./src/abi";
export { AmountError, formatAmount, parseAmount } from "./src/amounts";
export {
  ChannelStatus,
  STATUS_NAMES,
  countdown,
  counterpartyOf,
  describeShortfall,
  paramsFromOpened,
  sideOf,
  toChannelViews,
} from "./src/channel";
export type {
  ChannelOpenedArgs,
  ChannelRecordResult,
  ChannelStateResult,
  ChannelViews,
  ChannelWithViews,
  ProvenHeadsResult,
  TokenShortfall,
} from "./src/channel";
export {
  COOPERATIVE_CLOSE_WINDOW_SECONDS,
  CloseTermsError,
  checkCloseTerms,
  closeRule,
  closeTerms,
  parseSignedClose,
  signedCloseJson,
} from "./src/close";
export type { SignedCloseInput } from "./src/close";
export { parseDeployment } from "./src/deployment";
export type { Deployment } from "./src/deployment";
export { EvidenceMismatchError, isEmptyOnchainState, planDisputeFor, settleArgsFor } from "./src/dispute";
export type { DisputePlan, DisputePlanInput } from "./src/dispute";
export { EvidenceError, readEvidence } from "./src/evidence";
export type { ChannelEvidence } from "./src/evidence";
export { nodePayerViews } from "./src/node-payers";
export type { NodePayerView } from "./src/node-payers";
export { NodeApiError, relayerClient, toRelayerChannel } from "./src/relayer";
export type { CooperativeCloseSignature, RelayerChannel, RelayerClient } from "./src/relayer";
export {
  ContractRevertError,
  decodeRevert,
  decodeRevertData,
  describeError,
  findRevertData,
} from "./src/revert";
export type { DecodedRevert } from "./src/revert";
export { PaymentTransportError } from "./src/payment/errors";
export type { PaymentTransportErrorCode } from "./src/payment/errors";
export { paymentTransport } from "./src/payment/payer";
export type { PacketStore, PayerChannel, PayerTransport, PaymentTransportDeps } from "./src/payment/payer";
export { judgeFinalLock, receivePayments } from "./src/payment/payee";
export type { PayeeChannel, PayeeEvent, ReceivePaymentsDeps, Refusal } from "./src/payment/payee";
export { applyNodeGraph } from "./src/graph";
export type { NodeGraphResult } from "./src/graph";
export { PaymentLogHttpError, httpPaymentLog } from "./src/payment/http-log";
export type { HttpPaymentLogOptions, NodeErrorBody } from "./src/payment/http-log";
export { CANCEL_CONSENT_APP_KIND, ROUTE_APP_KIND, attachmentFields } from "./src/payment/ports";
export type {
  ChannelSide,
  InvoiceSecretStore,
  IssuedInvoice,
  LoggedTransfer,
  PayerStateStore,
  PaymentLog,
  PeerMessage,
  PeerMessageBody,
  PeerMessageCrypto,
  Subscription,
  TransferAttachment,
  UnsignedPeerMessage,
} from "./src/payment/ports";
