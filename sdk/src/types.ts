/**
 * The Parsec protocol's data types (docs/protocol.md §1–§3).
 *
 * Amounts are `bigint` everywhere; byte strings are lower-case `0x` hex except addresses, which are
 * EIP-55 checksummed. Objects built by the SDK's constructors and decoders are always valid; the
 * transfer union makes field combinations the contract rejects (a PAY with a hashlock, a LOCK without
 * an expiry) unrepresentable.
 */

/** A `0x`-prefixed hex string. */
export type Hex = `0x${string}`;
/** A 32-byte value as 66-character lower-case hex. */
export type Hash = Hex;
/** A 20-byte address, EIP-55 checksummed. */
export type Address = Hex;
/** The 32 zero bytes, as a type: fields that must be zero for a kind are typed with it. */
export type ZeroHash = "0x0000000000000000000000000000000000000000000000000000000000000000";

export const ZERO_HASH: ZeroHash = "0x0000000000000000000000000000000000000000000000000000000000000000";
export const ZERO_ADDRESS: Address = "0x0000000000000000000000000000000000000000";

/** Participant 0 (the opener) or participant 1; also the index of a payer's chain. */
export type PayerIndex = 0 | 1;

/** The on-chain transfer kinds and their codes (protocol §3). */
export const TransferKind = { Pay: 0, Lock: 1, Unlock: 2, Cancel: 3 } as const;
export type TransferKind = (typeof TransferKind)[keyof typeof TransferKind];
export const TRANSFER_KIND_NAMES = ["PAY", "LOCK", "UNLOCK", "CANCEL"] as const;
export type TransferKindName = (typeof TRANSFER_KIND_NAMES)[number];

/** The EIP-712 domain every Parsec message is signed in. */
export interface Domain {
  readonly name: "Parsec";
  readonly version: "1";
  readonly chainId: bigint;
  readonly verifyingContract: Address;
}

/** A channel's immutable parameters; the channel id is derived from them and the domain. */
export interface ChannelParams {
  readonly participant0: Address;
  readonly participant1: Address;
  /** The zero address for ETH, else the ERC-20 token. */
  readonly asset: Address;
  /** Seconds (uint32). */
  readonly challengePeriod: number;
  /** uint64. */
  readonly nonce: bigint;
}

/** A pending hashed timelock: `amount:u128 || expiry:u64 || hashlock:b32` on the wire. */
export interface Lock {
  readonly amount: bigint;
  /** Unix seconds (uint64). */
  readonly expiry: bigint;
  /** `sha256(preimage)` of a 32-byte preimage. */
  readonly hashlock: Hash;
}

/** Fields every transfer body has, whatever its kind. */
interface BodyFields {
  /** 1, 2, 3, … per payer (uint32). */
  readonly seq: number;
  /** uint128, never zero. */
  readonly amount: bigint;
  /** The payer's cumulative unconditional payments after this transfer (uint128). */
  readonly paidTotal: bigint;
  /** The sum of the payer's pending locks after this transfer (uint128). */
  readonly lockedTotal: bigint;
  /** `keccak256` of the packed pending-lock list after this transfer; zero when empty. */
  readonly locksRoot: Hash;
  /** Links the payment to an invoice (`invoice.ts`); zero for none. */
  readonly invoiceId: Hash;
  /** The transfer hash of the payer's previous transfer; zero for seq 1. */
  readonly prev: Hash;
}

export interface PayBody extends BodyFields {
  readonly kind: typeof TransferKind.Pay;
  readonly hashlock: ZeroHash;
  readonly expiry: 0n;
}
export interface LockBody extends BodyFields {
  readonly kind: typeof TransferKind.Lock;
  readonly hashlock: Hash;
  readonly expiry: bigint;
}
export interface UnlockBody extends BodyFields {
  readonly kind: typeof TransferKind.Unlock;
  readonly hashlock: Hash;
  readonly expiry: bigint;
}
export interface CancelBody extends BodyFields {
  readonly kind: typeof TransferKind.Cancel;
  readonly hashlock: Hash;
  readonly expiry: bigint;
}

/** What a payer signs besides the channel and its own index: the packed `TransferBody` of §6. */
export type TransferBody = PayBody | LockBody | UnlockBody | CancelBody;

/** Where a transfer belongs: its channel and the payer whose chain it extends. */
export interface TransferOrigin {
  readonly channelId: Hash;
  readonly payer: PayerIndex;
}

/** The full EIP-712 `Transfer` message. */
export type Transfer = TransferBody & TransferOrigin;

/** A transfer with its payer's 65-byte `r || s || v` signature (low-s, v ∈ {27, 28}). */
export type SignedTransfer = Transfer & { readonly signature: Hex };

/** A signed transfer whose signature was checked, with its transfer hash (the EIP-712 struct hash). */
export type VerifiedTransfer = SignedTransfer & { readonly hash: Hash };

/**
 * A payee's consent to one CANCEL of the payer's chain (protocol §2, §3): with it the CANCEL counts on-chain
 * even before its lock expires, and even if the secret is registered in time. It names the lock and the
 * CANCEL's transfer hash, so it fits that one transfer and no other.
 */
export interface CancelConsent {
  readonly channelId: Hash;
  /** Whose chain holds the CANCEL; the consent is signed by the other participant (the lock's payee). */
  readonly payer: PayerIndex;
  /** The CANCEL's seq. */
  readonly seq: number;
  readonly amount: bigint;
  readonly expiry: bigint;
  readonly hashlock: Hash;
  /** The CANCEL's transfer hash. */
  readonly transfer: Hash;
}

/** A `CancelConsent` with the payee's 65-byte signature. */
export interface SignedCancelConsent extends CancelConsent {
  readonly signature: Hex;
}

/** The co-signed `Checkpoint` message: both payers' heads. `seq_i = 0` exactly when `head_i = 0`. */
export interface Checkpoint {
  readonly channelId: Hash;
  readonly seq0: number;
  readonly head0: Hash;
  readonly seq1: number;
  readonly head1: Hash;
}

/** A checkpoint with both participants' signatures. */
export interface SignedCheckpoint extends Checkpoint {
  readonly sig0: Hex;
  readonly sig1: Hex;
}

/**
 * The co-signed final split of a cooperative close; the balances sum to the deposits. It binds to the state
 * it closes: the contract refuses it once either payer's on-chain seq is above `seq0`/`seq1`, and after
 * `expiry`.
 */
export interface CooperativeClose {
  readonly channelId: Hash;
  /** Payer 0's seq in the state this split settles (uint32). */
  readonly seq0: number;
  /** Payer 1's seq in the state this split settles (uint32). */
  readonly seq1: number;
  readonly balance0: bigint;
  readonly balance1: bigint;
  /** Unix seconds after which the contract refuses it (uint64). */
  readonly expiry: bigint;
}

/** A co-signed withdrawal while the channel stays open. */
export interface Withdraw {
  readonly channelId: Hash;
  /** The channel's next withdraw nonce (uint32). */
  readonly nonce: number;
  readonly amount0: bigint;
  readonly amount1: bigint;
  /** Unix seconds after which the contract refuses it (uint64). */
  readonly expiry: bigint;
}

/** Two payers' heads at their seqs (`head_i` is zero exactly when `seq_i` is 0). */
export interface HeadPair {
  readonly seq0: number;
  readonly head0: Hash;
  readonly seq1: number;
  readonly head1: Hash;
}

/**
 * The heads the contract holds for a channel (protocol §1): per payer the on-chain head (`seq_i`,
 * `head_i`: the checkpoint's or the proven one, whichever has the higher seq), and the checkpoint word's
 * two heads, which a settlement and a chain extension from a checkpoint head must name.
 */
export interface OnchainHeads extends HeadPair {
  readonly checkpoint: HeadPair;
}

/** The contract's `ChannelStatus` names, indexed by its uint8 value. */
export const CHANNEL_STATUS_NAMES = ["NONE", "OPEN", "CLOSING", "SETTLED"] as const;
export type ChannelStatusName = (typeof CHANNEL_STATUS_NAMES)[number];

/**
 * A channel as the contract shows it: parameters from its `ChannelOpened` event, deposits, status and
 * each payer's on-chain seq from its state. The one shape of that view: the client package (dapp and
 * tasks) extends it with the contract's proof words, the node's registry with its node-only fields.
 */
export interface OnchainChannel {
  readonly channelId: Hash;
  readonly params: ChannelParams;
  readonly status: ChannelStatusName;
  readonly deposit0: bigint;
  readonly deposit1: bigint;
  /** Unix seconds when a closing channel may be settled; 0 otherwise. */
  readonly closesAt: number;
  /** Each payer's on-chain seq: the checkpoint word's or the proven one, whichever is higher. */
  readonly seq0: number;
  readonly seq1: number;
  /** The block the channel was opened in. */
  readonly openedAtBlock: number;
}
