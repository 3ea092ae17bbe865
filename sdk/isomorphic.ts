/**
 * The browser-safe part of the SDK (no Node built-ins, no native code): types, errors, EIP-712, packed
 * records, signing (with the signing journal), chain state, withdrawal checks, settlement, reordering,
 * proofs, invoices (direct and routed), Bitcoin addresses, catalogue, the deployment file.
 * The dapp imports this; Node code imports `sdk/index.ts`, which adds Avro and the native verifier.
 */
export * from "./src/types";
export * from "./src/errors";
export { DeploymentError, deployHint, parseDeployment, serializeDeployment } from "./src/deployment";
export type { Deployment, DeploymentWith, OptionalContract } from "./src/deployment";
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
export * from "./src/cancel-consent";
export * from "./src/settlement";
export * from "./src/chain";
export * from "./src/reorder";
export * from "./src/proofs";
export * from "./src/bitcoin";
export * from "./src/invoice";
export {
  DEFAULT_INVOICE_VALIDITY,
  DEFAULT_MIN_FINAL_EXPIRY_DELTA,
  MAX_INVOICE_DESCRIPTION_BYTES,
  MAX_ROUTE_HINTS,
  MAX_ROUTED_INVOICE_BYTES,
  MAX_ROUTED_INVOICE_TEXT_LENGTH,
  ROUTED_INVOICE_EIP712_TYPES,
  ROUTED_INVOICE_HRP,
  ROUTED_INVOICE_TYPE_HASHES,
  ROUTED_INVOICE_TYPE_STRINGS,
  ROUTED_INVOICE_VERSION,
  createRoutedInvoice,
  decodeRoutedInvoiceBytes,
  encodeRoutedInvoice,
  encodeRoutedInvoiceBytes,
  hashRouteHint,
  parseRoutedInvoice,
  routedInvoiceDigest,
  routedInvoiceIdOf,
  routedInvoiceTypedData,
  signRoutedInvoice,
  toRoutedInvoice,
  verifyRoutedInvoice,
} from "./src/routing/invoice";
export type {
  CreateRoutedInvoiceParameters,
  CreateRoutedInvoiceReturnType,
  ParseRoutedInvoiceOptions,
  RouteHint,
  RouteHintInput,
  RoutedInvoice,
  RoutedInvoiceInput,
  RoutedInvoiceTypedData,
  SignedRoutedInvoice,
} from "./src/routing/invoice";
export * from "./src/catalogue";
export {
  ONION_FRAME_SIZE,
  ONION_MAX_HOPS,
  ONION_PACKET_SIZE,
  ONION_ROUTING_INFO_SIZE,
  ONION_VERSION,
  createOnion,
  peelOnion,
} from "./src/routing/onion";
export type {
  CreateOnionParameters,
  CreateOnionReturnType,
  OnionHop,
  PeelOnionReturnType,
} from "./src/routing/onion";
export {
  ONION_FINAL_CHANNEL,
  ONION_PAYLOAD_SIZE,
  decodeOnionPayload,
  encodeOnionPayload,
} from "./src/routing/onion-payload";
export type { OnionFinalPayload, OnionForwardPayload, OnionPayload } from "./src/routing/onion-payload";
export {
  ONION_FAILURE_BODY_SIZE,
  ONION_FAILURE_MAX_DATA,
  ONION_FAILURE_SIZE,
  OnionFailureCode,
  createFailure,
  decodeFailure,
  forwardFailure,
  invalidOnionData,
} from "./src/routing/onion-failure";
export type {
  CreateFailureParameters,
  DecodeFailureReturnType,
  OnionFailureName,
} from "./src/routing/onion-failure";
export { ONION_KEY_LABELS, onionPublicKey } from "./src/routing/onion-crypto";
export type { OnionBytes } from "./src/routing/onion-crypto";
export {
  CHANNEL_GRAPH_TOPIC,
  ChannelGraph,
  DEFAULT_UPDATE_MAX_AGE_SECONDS,
  DEFAULT_UPDATE_MAX_FUTURE_SECONDS,
  channelUpdateKey,
  channelUpdateSigner,
  channelUpdateSignerKey,
  channelUpdateTypedData,
  checkChannelUpdate,
  forwardingFee,
  hashChannelUpdate,
  signChannelUpdate,
  verifyChannelUpdate,
} from "./src/routing/graph";
export type {
  ApplyUpdateResult,
  ChannelDirection,
  ChannelGraphOptions,
  ChannelLookup,
  ChannelUpdate,
  GraphEdge,
  OpenChannel,
  SignedChannelUpdate,
  UpdateRejection,
} from "./src/routing/graph";
export {
  DEFAULT_APRIORI_PROBABILITY,
  DEFAULT_MISSION_CONTROL_MAX_ENTRIES,
  DEFAULT_PENALTY_HALF_LIFE_SECONDS,
  DEFAULT_SUCCESS_PROBABILITY,
  MissionControl,
} from "./src/routing/mission-control";
export type { MissionControlOptions, ProbabilitySource } from "./src/routing/mission-control";
export {
  DEFAULT_ATTEMPT_COST_BASE,
  DEFAULT_ATTEMPT_COST_PPM,
  DEFAULT_HOP_LIMIT,
  DEFAULT_MAX_ATTEMPTS,
  DEFAULT_MAX_EXPIRY_DELTA,
  DEFAULT_MAX_FEE_PPM,
  DEFAULT_MAX_ROUTES,
  DEFAULT_PAYMENT_TIMEOUT_SECONDS,
  DEFAULT_RISK_FACTOR,
  findRoutes,
  nextRoute,
  reportAttempt,
} from "./src/routing/router";
export type {
  AttemptLimits,
  DirectedChannel,
  FindRoutesRequest,
  NextRouteDecision,
  PaymentProgress,
  Route,
  RouteCostOptions,
  RouteHop,
} from "./src/routing/router";
export {
  DEFAULT_FINAL_EXPIRY_MARGIN_SECONDS,
  DEFAULT_PAYMENT_TIMEOUT_MS,
  pay,
  payWithEvents,
} from "./src/routing/payment";
export type {
  PaymentAttempt,
  PaymentDeps,
  PaymentEvent,
  PaymentResult,
  PaymentTransport,
  PayOptions,
} from "./src/routing/payment";
export {
  describeAttemptFailure,
  describePaymentError,
  interpretLocalFailure,
  interpretOnionFailure,
  interpretWrongPreimage,
} from "./src/routing/payment-failure";
export type {
  AttemptFailure,
  AttemptFailureName,
  AttemptOutcome,
  FailureInterpretation,
  LocalAttemptFailure,
} from "./src/routing/payment-failure";
export { PAYMENT_MESSAGE_KINDS, ROUTE_APP_KIND } from "./src/routing/payment-message-types";
// Signing and checking peer messages needs no Avro (only the Node codec's mapping does): browsers use these.
export {
  MAX_PAYMENT_MESSAGE_BYTES,
  checkPaymentMessage,
  paymentMessageDigest,
  signPaymentMessage,
  verifyPaymentMessage,
} from "./src/routing/payment-message";
export type {
  CancelConsentRef,
  PaymentMessage,
  PaymentMessageBody,
  PaymentMessageKind,
  PaymentMessageLock,
  UnsignedPaymentMessage,
} from "./src/routing/payment-message-types";
export {
  graphEntryFromJson,
  graphEntryToJson,
  paymentMessageFromJson,
  paymentMessageToJson,
  signedTransferFromJson,
  signedTransferToJson,
} from "./src/json";
export type {
  GraphEntry,
  GraphEntryJson,
  PaymentMessageBodyJson,
  PaymentMessageJson,
  SignedTransferJson,
} from "./src/json";
