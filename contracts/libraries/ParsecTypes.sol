// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @notice The immutable parameters of a channel; `channelId` is derived from them (see `ChannelIds`).
struct ChannelParams {
    address participant0;
    address participant1;
    /// @dev `address(0)` for ETH, else the ERC-20 token.
    address asset;
    uint32 challengePeriod;
    uint64 nonce;
}

/// @notice Where a channel is in its life.
enum ChannelStatus {
    None,
    Open,
    Closing,
    Settled
}

/// @notice The on-chain operations a transfer can carry (docs/protocol.md §3).
enum TransferKind {
    Pay,
    Lock,
    Unlock,
    Cancel
}

/// @notice Why an entry of a batch was skipped instead of applied (`None`: it was applied). Append-only:
/// `StateChanged` is no longer produced (head proofs stopped naming the current heads) but keeps its number.
enum SkipReason {
    None,
    Malformed,
    ChannelNotOpen,
    BadSignature,
    StaleState,
    StateChanged,
    NotPayee
}

/// @notice The per-channel storage word that changes on open, deposit, withdraw, close and settle.
struct ChannelRecord {
    uint96 deposit0;
    uint96 deposit1;
    uint40 closesAt;
    ChannelStatus status;
    bool isToken;
    /// @dev Set once a head proof or chain extension wrote a proven head (see `StateWords`).
    bool hasProofs;
}

/// @notice A transfer as the contract reads it from a packed `TransferBody` record.
/// @dev `channelId` and `payer` come from the surrounding call.
struct TransferBody {
    uint32 seq;
    uint8 kind;
    uint128 amount;
    uint128 paidTotal;
    uint128 lockedTotal;
    bytes32 locksRoot;
    bytes32 hashlock;
    uint64 expiry;
    bytes32 invoiceId;
    bytes32 prev;
}

/// @notice An ECDSA signature split into its parts.
struct Signature {
    bytes32 r;
    bytes32 s;
    uint8 v;
}

/// @notice A pending hashed-timelock inside a payer's chain.
struct Lock {
    uint128 amount;
    uint64 expiry;
    bytes32 hashlock;
}

/// @notice What is left to resolve of a settled channel's locks: the pot of each payer, its lock list, and
/// which locks of the list are resolved already (bit i: lock i, in list order).
struct PendingLocks {
    bytes32 locksRoot0;
    bytes32 locksRoot1;
    uint128 pot0;
    uint128 pot1;
    uint64 resolved0;
    uint64 resolved1;
}

/// @notice The two heads a checkpoint commits, as read from a `CheckpointRecord`.
struct CheckpointHeads {
    uint32 seq0;
    bytes32 head0;
    uint32 seq1;
    bytes32 head1;
}

/// @notice The final split both participants sign to close at once. It binds to the state it closes: it is
/// refused once either payer's on-chain seq is above the one it names, and after `expiry`.
struct CooperativeCloseTerms {
    uint32 seq0;
    uint32 seq1;
    uint128 balance0;
    uint128 balance1;
    uint64 expiry;
}
