// The fuzz's vocabulary: the participants, channel statuses, and the shapes of its model of each channel.
import type { Log } from "ethers";
import type {
  Address,
  ChannelLedger,
  ChannelParams,
  Checkpoint,
  Hash,
  HeadPair,
  Lock,
  OnchainHeads,
  PayerIndex,
  PayerState,
  VerifiedTransfer,
} from "../../../sdk/isomorphic";

export const STATUS = { none: 0, open: 1, closing: 2, settled: 3 } as const;
export const ZERO_ADDRESS = "0x0000000000000000000000000000000000000000" as Address;
/** The Hardhat accounts the fuzz holds the keys of, by index; the last one is party to no channel. */
export const NAMES = ["alice", "bob", "carol", "dave"] as const;
export const STRANGER = 3;

/** A failed property (as opposed to the fuzz itself crashing). */
export class InvariantViolation extends Error {}

export interface Signed {
  readonly t: VerifiedTransfer;
  /** The payer's state after `t`. */
  readonly state: PayerState;
  /** Whether the SDK ledger accepted it (else it is an "orphan": signed but refused). */
  readonly accepted: boolean;
}

/** A settled payer's pot kept for its pending locks, and the bitmap of the locks resolved so far. */
export interface Pot {
  pot: bigint;
  readonly locks: readonly Lock[];
  resolved: bigint;
}

/** One channel as FuzzLens.snapshot reads it. */
export interface ChainView {
  deposit0: bigint;
  deposit1: bigint;
  closesAt: bigint;
  status: number;
  seq0: number;
  seq1: number;
  commitment: bigint;
  proven: [{ seq: number; head224: bigint }, { seq: number; head224: bigint }];
  pot0: bigint;
  pot1: bigint;
  locksRoot0: string;
  locksRoot1: string;
  resolved0: bigint;
  resolved1: bigint;
}

/** How the fuzz means a channel to end (a bias only: any ending may still happen). */
export type Fate = "settle" | "coop" | "equivocate";

export interface Chan {
  readonly n: number;
  readonly fate: Fate;
  readonly id: Hash;
  readonly params: ChannelParams;
  readonly token: boolean;
  /** Account indexes of participant0 and participant1. */
  readonly parts: readonly [number, number];
  readonly ledger: ChannelLedger;
  status: number;
  deposits: [bigint, bigint];
  withdrawNonce: number;
  closesAt: bigint;
  /** Everything deposited into the channel, and everything paid out of it (credited payouts included). */
  deposited: bigint;
  paidOut: bigint;
  readonly bySeq: [Map<number, Signed[]>, Map<number, Signed[]>];
  readonly byHash: Map<Hash, Signed>;
  /** The highest seq each payer signed. */
  readonly top: [number, number];
  /** Seqs of a payer with two different signed transfers (equivocations). */
  readonly conflicts: { payer: PayerIndex; seq: number }[];
  /** Co-signed checkpoints by "seq0,seq1" (to open the on-chain commitment). */
  readonly checkpoints: Map<string, Checkpoint>;
  view: ChainView | null;
  /** Both payers' newest signed transfers were on-chain at some point and nothing was signed since. */
  honest: boolean;
  pots: [Pot | null, Pot | null];
}

export interface Heads {
  readonly seq: readonly [number, number];
  readonly body: readonly [Signed | null, Signed | null];
  readonly checkpoint: HeadPair;
  /** The SDK's `onchainHeads` (null when it cannot: an orphan transfer is on-chain). */
  readonly sdk: OnchainHeads | null;
}

export interface TxResult {
  ok: boolean;
  ts: bigint;
  logs: Log[];
  reason: string;
  events: string[];
}

export interface Outcome {
  /** true: succeeded; false: reverted or refused; null: not applicable now (not counted). */
  ok: boolean | null;
  note: string;
}
