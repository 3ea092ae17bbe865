/** A channel as the contract shows it: parameters from its `ChannelOpened` event, state from `channelState`. */
import { toChannelParams, type Address, type ChannelParams, type Hash } from "./sdk";

/** `ChannelStatus` of the contract. */
export const ChannelStatus = { None: 0, Open: 1, Closing: 2, Settled: 3 } as const;
export type ChannelStatus = (typeof ChannelStatus)[keyof typeof ChannelStatus];
export const STATUS_NAMES = ["none", "open", "closing", "settled"] as const;

/** What `channelState(id)` returns, with the record unpacked. */
export interface OnchainState {
  readonly status: ChannelStatus;
  readonly deposit0: bigint;
  readonly deposit1: bigint;
  /** Unix seconds the challenge period ends (0 unless closing). */
  readonly closesAt: number;
  readonly isToken: boolean;
  readonly seq0: number;
  readonly seq1: number;
  /** `uint192(keccak256(head0, head1))`; 0 before the first commit and after settling. */
  readonly commitment: bigint;
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

/** The raw tuple `channelState` returns (viem and ethers shapes both fit). */
export interface ChannelStateResult {
  readonly record: {
    readonly deposit0: bigint;
    readonly deposit1: bigint;
    readonly closesAt: number | bigint;
    readonly status: number | bigint;
    readonly isToken: boolean;
  };
  readonly seq0: number | bigint;
  readonly seq1: number | bigint;
  readonly commitment: bigint;
}

export function toOnchainState(r: ChannelStateResult): OnchainState {
  return {
    status: Number(r.record.status) as ChannelStatus,
    deposit0: r.record.deposit0,
    deposit1: r.record.deposit1,
    closesAt: Number(r.record.closesAt),
    isToken: r.record.isToken,
    seq0: Number(r.seq0),
    seq1: Number(r.seq1),
    commitment: r.commitment,
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
