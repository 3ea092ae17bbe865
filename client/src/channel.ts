/**
 * A channel as the contract shows it: the SDK's one on-chain view (`OnchainChannel`: parameters from its
 * `ChannelOpened` event, status, deposits, seqs) with what the views `channelState` and `provenHeadsOf`
 * add for a client (the proof words a dispute or a settlement is built from).
 */
import {
  CHANNEL_STATUS_NAMES,
  onchainSeqs,
  onchainStateOf,
  toChannelParams,
  type Address,
  type ChannelParams,
  type ChannelStatusName,
  type OnchainChannel,
  type OnchainState,
} from "../../sdk/isomorphic";

/** `ChannelStatus` of the contract, as its uint8 values (what `channelState(id)` returns raw). */
export const ChannelStatus = { None: 0, Open: 1, Closing: 2, Settled: 3 } as const;
export type ChannelStatus = (typeof ChannelStatus)[keyof typeof ChannelStatus];

/** A status in the words the dapp and the tasks show. */
export const STATUS_NAMES: Readonly<Record<ChannelStatusName, string>> = {
  NONE: "none",
  OPEN: "open",
  CLOSING: "closing",
  SETTLED: "settled",
};

/**
 * What the two views say about a channel, read together: the record and the checkpoint word
 * (`channelState(id)`) and the proven words (`provenHeadsOf(id)`).
 */
export interface ChannelViews extends Pick<
  OnchainChannel,
  "status" | "deposit0" | "deposit1" | "closesAt" | "seq0" | "seq1"
> {
  readonly isToken: boolean;
  /** A head proof or chain extension wrote a proven head at some point. */
  readonly hasProofs: boolean;
  /**
   * The words as the SDK reads them (`onchainStateOf`): the checkpoint word's seqs and commitment (0 before
   * the first checkpoint and after settling) and each payer's proven seq and head. Give it to the SDK's
   * `onchainHeads`, `planDispute` and friends.
   */
  readonly words: OnchainState;
}

/** The SDK's on-chain view of a channel with its views' words: what the dapp and the tasks show and act on. */
export interface ChannelWithViews extends OnchainChannel, ChannelViews {}

/** The arguments of a `ChannelOpened` log, as viem and ethers both decode them. */
export interface ChannelOpenedArgs {
  readonly channelId: string;
  readonly participant0: string;
  readonly participant1: string;
  readonly asset: string;
  readonly challengePeriod: number | bigint;
  readonly nonce: bigint;
}

/** The channel's parameters, recovered from its `ChannelOpened` event (the contract stores none). */
export function paramsFromOpened(args: ChannelOpenedArgs): ChannelParams {
  return toChannelParams({
    participant0: args.participant0,
    participant1: args.participant1,
    asset: args.asset,
    challengePeriod: Number(args.challengePeriod),
    nonce: args.nonce,
  });
}

/** The record in the tuple `channelState` returns (viem and ethers shapes both fit). */
export interface ChannelRecordResult {
  readonly deposit0: bigint;
  readonly deposit1: bigint;
  readonly closesAt: number | bigint;
  readonly status: number | bigint;
  readonly isToken: boolean;
  readonly hasProofs: boolean;
}

/** The tuple `channelState(id)` returns: `[record, seq0, seq1, commitment]` (the checkpoint word). */
export type ChannelStateResult = readonly [ChannelRecordResult, number | bigint, number | bigint, bigint];

/** The tuple `provenHeadsOf(id)` returns: `[seq0, head0, seq1, head1]` (heads: their low 224 bits). */
export type ProvenHeadsResult = readonly [number | bigint, bigint, number | bigint, bigint];

/** Both views, read at once (the same block when the caller pins one). */
export function toChannelViews(state: ChannelStateResult, proven: ProvenHeadsResult): ChannelViews {
  const record = state[0];
  const words = onchainStateOf(state, proven);
  return {
    status: CHANNEL_STATUS_NAMES[Number(record.status)] ?? "NONE",
    deposit0: record.deposit0,
    deposit1: record.deposit1,
    closesAt: Number(record.closesAt),
    isToken: record.isToken,
    hasProofs: record.hasProofs,
    ...onchainSeqs(words),
    words,
  };
}

/** 0 or 1 if `account` is that participant, else `null`. */
export function sideOf(params: ChannelParams, account: string): 0 | 1 | null {
  const a = account.toLowerCase();
  if (params.participant0.toLowerCase() === a) return 0;
  if (params.participant1.toLowerCase() === a) return 1;
  return null;
}

/** The other participant's address. */
export function counterpartyOf(params: ChannelParams, side: 0 | 1): Address {
  return side === 0 ? params.participant1 : params.participant0;
}

/** Time left in a challenge period, as `1h 02m 03s`, or `null` once `settle` is allowed. */
export function countdown(closesAt: number, now: number): string | null {
  const left = closesAt - now;
  if (left <= 0) return null;
  const h = Math.floor(left / 3600);
  const m = Math.floor((left % 3600) / 60);
  const s = left % 60;
  const pad = (n: number): string => n.toString().padStart(2, "0");
  return h > 0 ? `${h}h ${pad(m)}m ${pad(s)}s` : `${m}m ${pad(s)}s`;
}

/** A `TokenShortfallShared` event: a token payout cut pro rata because the contract held too little. */
export interface TokenShortfall {
  readonly token: string;
  readonly account: string;
  readonly owed: bigint;
  readonly paid: bigint;
}

/** A `TokenShortfallShared` event in words, with what it means for the user. */
export function describeShortfall(e: TokenShortfall): string {
  return (
    `The contract holds less of token ${e.token} than its channels own (its balance shrank, e.g. a negative ` +
    `rebase): ${e.account} was paid ${e.paid} of the ${e.owed} base units owed. Every payout of that token ` +
    `bears the same ratio (the loss is shared pro rata); take it up with the token's issuer.`
  );
}
