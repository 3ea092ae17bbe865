/**
 * The part of `IParsecChannels` the node calls and watches, as human-readable ABI. A unit test checks
 * every fragment against the compiled artifact, so a contract change cannot drift silently.
 */
import { Interface } from "ethers";

const PARAMS =
  "(address participant0, address participant1, address asset, uint32 challengePeriod, uint64 nonce)";

export const CHANNELS_ABI = [
  `function checkpoint(bytes record)`,
  `function checkpointBatch(bytes records) returns (uint256 applied)`,
  `function proveHead(bytes record)`,
  `function proveHeads(bytes records) returns (uint256 applied)`,
  `function extendChain(${PARAMS} params, uint8 payer, bytes startBody, bytes32 otherHead, bytes startLocks, bytes transfers)`,
  `function extendChainUsingConsentedCancels(${PARAMS} params, uint8 payer, bytes startBody, bytes32 otherHead, bytes startLocks, bytes transfers, bytes consents)`,
  `function close(${PARAMS} params)`,
  `function settle(${PARAMS} params, bytes head0, bytes head1, bytes32 checkpointHead0, bytes32 checkpointHead1)`,
  `function cooperativeClose(${PARAMS} params, (uint32 seq0, uint32 seq1, uint128 balance0, uint128 balance1, uint64 expiry) terms, bytes sig0, bytes sig1)`,
  `function proveEquivocation(${PARAMS} params, uint8 payer, bytes transferA, bytes transferB)`,
  `function resolveLocks(${PARAMS} params, uint8 payer, bytes locks, bytes32[] preimages)`,
  `function channelState(bytes32 channelId) view returns ((uint96 deposit0, uint96 deposit1, uint40 closesAt, uint8 status, bool isToken, bool hasProofs) record, uint32 seq0, uint32 seq1, uint192 commitment)`,
  `function provenHeadsOf(bytes32 channelId) view returns (uint32 seq0, uint224 head0, uint32 seq1, uint224 head1)`,
  `event ChannelOpened(bytes32 indexed channelId, address indexed participant0, address indexed participant1, address asset, uint32 challengePeriod, uint64 nonce, uint256 deposit0)`,
  `event Deposited(bytes32 indexed channelId, uint8 side, uint256 total)`,
  `event Withdrawn(bytes32 indexed channelId, uint32 nonce, uint256 amount0, uint256 amount1)`,
  `event Checkpointed(bytes32 indexed channelId, uint32 seq0, uint32 seq1)`,
  `event CheckpointSkipped(bytes32 indexed channelId, uint8 reason)`,
  `event HeadProved(bytes32 indexed channelId, uint8 payer, uint32 seq)`,
  `event HeadProofSkipped(bytes32 indexed channelId, uint8 reason)`,
  `event ChainExtended(bytes32 indexed channelId, uint8 payer, uint32 fromSeq, uint32 toSeq)`,
  `event ChannelClosing(bytes32 indexed channelId, address indexed closer, uint40 closesAt)`,
  `event ChannelSettled(bytes32 indexed channelId, uint256 payout0, uint256 payout1, uint256 pot0, uint256 pot1)`,
  `event ChannelClosedCooperatively(bytes32 indexed channelId, uint256 payout0, uint256 payout1)`,
  `event EquivocationProved(bytes32 indexed channelId, uint8 equivocator, uint32 seq, uint256 forfeited)`,
  `event LocksResolved(bytes32 indexed channelId, uint8 payer, uint64 resolved, uint256 toPayee, uint256 toPayer)`,
  // The channels contract is also the secret registry (`SecretRegistry`): its reveals are in the same logs.
  `event SecretRevealed(bytes32 indexed hashlock, bytes32 secret)`,
] as const;

export const channelsInterface = new Interface(CHANNELS_ABI);

/** `SkipReason` of the contract, by its uint8 value. */
export const SKIP_REASONS = [
  "None",
  "Malformed",
  "ChannelNotOpen",
  "BadSignature",
  "StaleState",
  "StateChanged",
  "NotPayee",
] as const;
export type SkipReasonName = (typeof SKIP_REASONS)[number];

/** `ChannelStatus` of the contract, by its uint8 value. */
export const CHANNEL_STATUS = ["NONE", "OPEN", "CLOSING", "SETTLED"] as const;
export type ChannelStatusName = (typeof CHANNEL_STATUS)[number];
