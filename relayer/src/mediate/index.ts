/** The mediator's pure core (protocol §11.5): forwarding rules, the decision log's reducer, next steps. */
export { checkMediationPolicy, decideForward, mediationPolicy } from "./forward";
export type { DecideForwardParameters, ForwardDecision } from "./forward";
export { applyEvent, opens, replay, startPayment } from "./log";
export { decideNext } from "./decide";
export type { MediationAction, MediationView } from "./decide";
export { DEFAULT_MAX_EXPIRY_AHEAD_SECONDS, MAX_PENDING_LOCKS } from "./types";
export type {
  CancelledUpstream,
  DownstreamSettlement,
  Failure,
  FailedDownstream,
  ForwardInstructions,
  Forwarded,
  ForwardedPayment,
  IncomingLock,
  MediationEvent,
  MediationPolicy,
  OutgoingChannelView,
  OutgoingLock,
  PaymentState,
  Received,
  RegisteringSecret,
  SettledDownstream,
  SettledUpstream,
} from "./types";
