/**
 * A channel as the contract shows it: parameters from its `ChannelOpened` event, state from `channelState`
 * and `provenHeadsOf`.
 */
import {
  onchainSeqs,
  onchainStateOf,
  toChannelParams,
  type Address,
  type ChannelParams,
  type Hash,
  type SdkOnchainState,
} from "./sdk";

/** `ChannelStatus` of the contract. */
export const ChannelStatus = { None: 0, Open: 1, Closing: 2, Settled: 3 } as const;
export type ChannelStatus = (typeof ChannelStatus)[keyof typeof ChannelStatus];
export const STATUS_NAMES = ["none", "open", "closing", "settled"] as const;

/**
 * What the contract holds for a channel: the record and the checkpoint word (`channelState(id)`) and the
 * proven words (`provenHeadsOf(id)`), read together.
 */
export interface OnchainState {
  readonly status: ChannelStatus;
  readonly deposit0: bigint;
  readonly deposit1: bigint;
  /** Unix seconds the challenge period ends (0 unless closing). */
  readonly closesAt: number;
  readonly isToken: boolean;
  /** A head proof or chain extension wrote a proven head at some point. */
  readonly hasProofs: boolean;
  /** P0's on-chain seq: the checkpoint's or the proven one, whichever is higher. */
  readonly seq0: number;
  /** P1's on-chain seq, likewise. */
  readonly seq1: number;
  /**
   * The words as the SDK reads them (`onchainStateOf`): the checkpoint word's seqs and commitment (0 before
   * the first checkpoint and after settling) and each payer's proven seq and head. Give it to the SDK's
   * `onchainHeads`, `planDispute` and friends.
   */
  readonly words: SdkOnchainState;
}

export interface OnchainChannel extends OnchainState {
  readonly channelId: Hash;
  readonly params: ChannelParams;
  /** The block it was opened in. */
  readonly openedAt: bigint;
}

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
export function toOnchainState(state: ChannelStateResult, proven: ProvenHeadsResult): OnchainState {
  const record = state[0];
  const words = onchainStateOf(state, proven);
  return {
    status: Number(record.status) as ChannelStatus,
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
