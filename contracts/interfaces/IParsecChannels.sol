// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {
    ChannelParams,
    ChannelRecord,
    CooperativeCloseTerms,
    PendingLocks,
    SkipReason
} from "../libraries/ParsecTypes.sol";

/// @title IParsecChannels
/// @notice Two-party payment channels for ETH and ERC-20 with hash-linked transfer chains, co-signed
/// checkpoints, a dispute path that verifies chains, and HTLC locks. Specification: docs/protocol.md.
interface IParsecChannels {
    // ---------------------------------------------------------------- errors
    /// @notice A channel with this id exists already (ids are never reused).
    error ChannelExists(bytes32 channelId);
    /// @notice The channel is not in a status that allows this call.
    error ChannelNotInStatus(bytes32 channelId, uint8 status);
    /// @notice The caller must be a participant (or the named one) of the channel.
    error NotParticipant(address caller);
    /// @notice A channel needs two distinct, non-zero participants.
    error InvalidCounterparty(address counterparty);
    /// @notice The challenge period must lie within [min, max] seconds.
    error ChallengePeriodOutOfRange(uint32 given, uint32 min, uint32 max);
    /// @notice An ETH deposit went to a token channel (use `depositToken`), or the reverse.
    error WrongAsset(bytes32 channelId);
    /// @notice A token channel needs a token: `address(0)` stands for ETH (use `openEth`).
    error NotAToken(address token);
    /// @notice A deposit must carry a positive amount.
    error ZeroAmount();
    /// @notice A single checkpoint or head proof was rejected; `reason` says why (see `SkipReason`).
    error EntryRejected(bytes32 channelId, SkipReason reason);
    /// @notice A side is 0 (P0) or 1 (P1).
    error InvalidSide(uint8 side);
    /// @notice A deposit would take a side above 2^96 - 1 base units.
    error DepositTooLarge(uint256 total);
    /// @notice A packed record has the wrong length for its kind.
    error MalformedRecord(uint256 length, uint256 unit);
    /// @notice A signature is not the expected signer's (or is malformed or high-s).
    error InvalidSignature(address expectedSigner);
    /// @notice The heads supplied do not open the on-chain commitment (it changed, or they are wrong).
    error StateMismatch(bytes32 channelId);
    /// @notice Payer is 0 or 1.
    error InvalidPayer(uint8 payer);
    /// @notice The challenge period ends at `closesAt`.
    error ChallengePeriodActive(uint40 closesAt);
    /// @notice A transfer's seq does not follow its predecessor's.
    error SeqGap(uint32 expected, uint32 got);
    /// @notice A transfer's `prev` is not the hash of its predecessor.
    error BrokenHashPointer(uint32 seq);
    /// @notice A transfer's `paidTotal` is not its predecessor's plus what the kind adds.
    error PaidTotalMismatch(uint32 seq, uint256 expected, uint256 got);
    /// @notice A transfer's `lockedTotal` does not follow from its lock operation.
    error LockedTotalMismatch(uint32 seq, uint256 expected, uint256 got);
    /// @notice A transfer's `locksRoot` is not the root of the pending list after its operation.
    error LocksRootMismatch(uint32 seq);
    /// @notice A transfer's fields break its kind's rules (zero amount, missing hashlock, ...).
    error InvalidTransferFields(uint32 seq, uint8 kind);
    /// @notice Unknown transfer kind.
    error UnknownKind(uint32 seq, uint8 kind);
    /// @notice An UNLOCK or CANCEL names a lock that is not pending.
    error LockNotPending(uint32 seq);
    /// @notice More than `MAX_PENDING_LOCKS` locks would be pending.
    error TooManyLocks(uint32 seq);
    /// @notice A CANCEL before the lock's expiry, or of a lock whose secret was revealed in time.
    error CancelNotAllowed(uint32 seq);
    /// @notice The consent given for the CANCEL at `seq` is not signed by the lock's payee (`payee`).
    error InvalidCancelConsent(uint32 seq, address payee);
    /// @notice A chain extension must carry at least one transfer.
    error EmptyChain();
    /// @notice The pending-lock list supplied does not hash to the committed `locksRoot`.
    error LocksMismatch(bytes32 expectedRoot);
    /// @notice Cooperative close balances must sum to the channel's deposits.
    error BalancesMismatch(uint256 sum, uint256 deposits);
    /// @notice The signed withdrawal expired.
    error WithdrawExpired(uint64 expiry);
    /// @notice The signed withdrawal's nonce is not the channel's next.
    error WithdrawNonceMismatch(uint32 expected, uint32 got);
    /// @notice A withdrawal exceeds a side's deposit.
    error WithdrawExceedsDeposit(uint8 side, uint256 amount, uint256 deposit);
    /// @notice The two transfers do not prove equivocation (different seq, or identical).
    error NotEquivocation();
    /// @notice The payer has no locks left to resolve in this channel.
    error NoPendingLocks(bytes32 channelId, uint8 payer);
    /// @notice `preimages` must be empty or one per lock.
    error PreimagesLengthMismatch(uint256 locks, uint256 preimages);
    /// @notice A settled lock list holds more locks than a chain may have pending (`count` > `max`): such a
    /// head breaks §3 and its pot cannot be split lock by lock.
    error LockListTooLong(uint256 count, uint256 max);
    /// @notice None of payer's unresolved locks has a known outcome yet: each is unrevealed and unexpired.
    error NoLockResolvable(bytes32 channelId, uint8 payer);
    /// @notice A cooperative close is used after the expiry both sides signed.
    error CooperativeCloseExpired(uint64 expiry);
    /// @notice A cooperative close names an older state of `payer`'s chain than the one on-chain.
    error CooperativeCloseStale(uint8 payer, uint32 signedSeq, uint32 onchainSeq);

    // ---------------------------------------------------------------- events
    /// @notice A channel was opened by `participant0` with its first deposit.
    event ChannelOpened(
        bytes32 indexed channelId,
        address indexed participant0,
        address indexed participant1,
        address asset,
        uint32 challengePeriod,
        uint64 nonce,
        uint256 deposit0
    );
    /// @notice A deposit arrived for `side`, whose deposit is now `total` (the amount is the difference).
    event Deposited(bytes32 indexed channelId, uint8 side, uint256 total);
    /// @notice A co-signed withdrawal paid out while the channel stays open.
    event Withdrawn(bytes32 indexed channelId, uint32 nonce, uint256 amount0, uint256 amount1);
    /// @notice A co-signed checkpoint is now the on-chain state.
    event Checkpointed(bytes32 indexed channelId, uint32 seq0, uint32 seq1);
    /// @notice A batch entry was skipped (the rest of the batch applied).
    event CheckpointSkipped(bytes32 indexed channelId, SkipReason reason);
    /// @notice A payee proved the payer's head transfer.
    event HeadProved(bytes32 indexed channelId, uint8 payer, uint32 seq);
    /// @notice A head-proof batch entry was skipped.
    event HeadProofSkipped(bytes32 indexed channelId, SkipReason reason);
    /// @notice A verified chain moved payer's head from `fromSeq` to `toSeq`.
    event ChainExtended(bytes32 indexed channelId, uint8 payer, uint32 fromSeq, uint32 toSeq);
    /// @notice A participant started the challenge period.
    event ChannelClosing(bytes32 indexed channelId, address indexed closer, uint40 closesAt);
    /// @notice The channel settled; `pot0`/`pot1` wait for `resolveLocks`.
    event ChannelSettled(bytes32 indexed channelId, uint256 payout0, uint256 payout1, uint256 pot0, uint256 pot1);
    /// @notice Both sides closed the channel with the split they signed.
    event ChannelClosedCooperatively(bytes32 indexed channelId, uint256 payout0, uint256 payout1);
    /// @notice `equivocator` signed two transfers with one seq and forfeited `forfeited` to the other side.
    event EquivocationProved(bytes32 indexed channelId, uint8 equivocator, uint32 seq, uint256 forfeited);
    /// @notice Some of a payer's pending locks were resolved: bit i of `resolved` is lock i of the list,
    /// resolved by this call. `toPayer` includes any part of the pot not covered by the list.
    event LocksResolved(bytes32 indexed channelId, uint8 payer, uint64 resolved, uint256 toPayee, uint256 toPayer);

    // ---------------------------------------------------------------- lifecycle
    /// @notice Opens an ETH channel between the caller (P0) and `counterparty` (P1); `msg.value` is P0's deposit.
    /// @param challengePeriod Seconds a unilateral close waits for evidence.
    /// @param nonce Any value making the id unique for this pair and period.
    /// @return channelId The new channel's id.
    function openEth(
        address counterparty,
        uint32 challengePeriod,
        uint64 nonce
    ) external payable returns (bytes32 channelId);

    /// @notice Opens an ERC-20 channel; P0's deposit is what arrives of `amount` (approve it first).
    /// @return channelId The new channel's id.
    function openToken(
        address counterparty,
        address token,
        uint32 challengePeriod,
        uint64 nonce,
        uint256 amount
    ) external returns (bytes32 channelId);

    /// @notice Adds `msg.value` to `side`'s deposit of an open ETH channel.
    function deposit(bytes32 channelId, uint8 side) external payable;

    /// @notice Adds `amount` tokens (what actually arrives) to `side`'s deposit of an open token channel.
    function depositToken(ChannelParams calldata params, uint8 side, uint256 amount) external;

    /// @notice Pays out a withdrawal both participants signed, keeping the channel open.
    function withdraw(
        ChannelParams calldata params,
        uint32 nonce,
        uint128 amount0,
        uint128 amount1,
        uint64 expiry,
        bytes calldata sig0,
        bytes calldata sig1
    ) external;

    /// @notice Makes one co-signed `CheckpointRecord` the channel's state; reverts if it is not newer.
    function checkpoint(bytes calldata record) external;

    /// @notice Applies many `CheckpointRecord`s; bad entries are skipped with `CheckpointSkipped`.
    /// @return applied How many entries were applied.
    function checkpointBatch(bytes calldata records) external returns (uint256 applied);

    /// @notice Applies one `HeadProofRecord`; the caller must be the transfer's payee. Valid whatever else
    /// changed on-chain meanwhile, as long as its seq is above payer's on-chain seq.
    function proveHead(bytes calldata record) external;

    /// @notice Applies many `HeadProofRecord`s; bad entries are skipped with `HeadProofSkipped`.
    /// @return applied How many entries were applied.
    function proveHeads(bytes calldata records) external returns (uint256 applied);

    /// @notice Extends payer's on-chain chain with verified `SignedTransfer`s (the dispute path). The piece
    /// may start at or before payer's on-chain head: it must then run through that head, so a piece stays
    /// valid when someone moves the head forward first.
    /// @param startBody The `TransferBody` the piece continues (empty for seq 0): payer's on-chain head or
    /// an earlier transfer of its chain.
    /// @param otherHead The other payer's head in the checkpoint word; read only when payer's on-chain head
    /// is the checkpoint's (else any value).
    /// @param startLocks The packed pending locks at `startBody` (empty when none).
    /// @param transfers Packed `SignedTransfer`s continuing the chain; any number per call.
    function extendChain(
        ChannelParams calldata params,
        uint8 payer,
        bytes calldata startBody,
        bytes32 otherHead,
        bytes calldata startLocks,
        bytes calldata transfers
    ) external;

    /// @notice `extendChain` with the payee's `CancelConsent`s: a CANCEL the plain rule refuses (before its
    /// lock's expiry, or of a secret registered in time) counts when `consents` holds the payee's consent
    /// to exactly that CANCEL. Consents for other seqs, or for CANCELs the plain rule allows, are ignored.
    /// @param consents Packed `CancelConsentRecord`s (`seq:u32 signature:65`, 69 bytes each), any order.
    function extendChainUsingConsentedCancels(
        ChannelParams calldata params,
        uint8 payer,
        bytes calldata startBody,
        bytes32 otherHead,
        bytes calldata startLocks,
        bytes calldata transfers,
        bytes calldata consents
    ) external;

    /// @notice Starts the challenge period (a participant only).
    function close(ChannelParams calldata params) external;

    /// @notice Pays out a closing channel after its challenge period, from the on-chain heads.
    /// @param head0 The `TransferBody` of P0's on-chain head (empty when its seq is 0); likewise `head1`.
    /// @param checkpointHead0 Head 0 of the checkpoint word (zero when none); it opens the commitment.
    /// @param checkpointHead1 Head 1 of the checkpoint word (zero when none).
    function settle(
        ChannelParams calldata params,
        bytes calldata head0,
        bytes calldata head1,
        bytes32 checkpointHead0,
        bytes32 checkpointHead1
    ) external;

    /// @notice Pays out at once the final split both participants signed for the state at `terms.seq0`,
    /// `terms.seq1`, until `terms.expiry`.
    function cooperativeClose(
        ChannelParams calldata params,
        CooperativeCloseTerms calldata terms,
        bytes calldata sig0,
        bytes calldata sig1
    ) external;

    /// @notice Proves that `payer` signed two different transfers with one seq; the other side gets all.
    function proveEquivocation(
        ChannelParams calldata params,
        uint8 payer,
        bytes calldata transferA,
        bytes calldata transferB
    ) external;

    /// @notice Resolves every lock of payer's settled pot whose outcome is known, each on its own: a lock
    /// whose secret is revealed (now or registered) by its expiry goes to the payee, an expired unrevealed
    /// one back to the payer; an open lock stays for a later call and blocks nothing. A lock resolves once.
    /// Reverts `NoLockResolvable` when the call would resolve nothing.
    /// @param locks The packed pending list of payer's settled head (always the whole list).
    /// @param preimages Empty, or one per lock (zero for none) revealed now.
    function resolveLocks(
        ChannelParams calldata params,
        uint8 payer,
        bytes calldata locks,
        bytes32[] calldata preimages
    ) external;

    // ---------------------------------------------------------------- views
    /// @notice The id of a channel with these parameters on this chain and contract.
    function channelIdOf(ChannelParams calldata params) external view returns (bytes32);

    /// @notice A channel's record and its checkpoint word (the last co-signed checkpoint).
    function channelState(
        bytes32 channelId
    ) external view returns (ChannelRecord memory record, uint32 seq0, uint32 seq1, uint192 commitment);

    /// @notice The proven words: each payer's head as head proofs and chain extensions last set it (seq 0:
    /// none). A payer's on-chain head is this one when its seq is above the checkpoint word's.
    /// @return seq0 P0's proven seq.
    /// @return head0 The low 224 bits of P0's proven head.
    /// @return seq1 P1's proven seq.
    /// @return head1 The low 224 bits of P1's proven head.
    function provenHeadsOf(
        bytes32 channelId
    ) external view returns (uint32 seq0, uint224 head0, uint32 seq1, uint224 head1);

    /// @notice What is left to resolve of a settled channel's locks.
    function pendingLocksOf(bytes32 channelId) external view returns (PendingLocks memory);

    /// @notice The nonce the next `Withdraw` of a channel must carry.
    function withdrawNonceOf(bytes32 channelId) external view returns (uint32);

    /// @notice The EIP-712 digest (0x1901 || domain separator || struct hash) a signer signs.
    function typedDataDigest(bytes32 structHash) external view returns (bytes32);
}
