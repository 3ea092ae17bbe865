// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {IParsecChannels} from "./interfaces/IParsecChannels.sol";
import {ChainVerifier} from "./libraries/ChainVerifier.sol";
import {ChannelRecords} from "./libraries/ChannelRecords.sol";
import {LockList} from "./libraries/LockList.sol";
import {PackedRecords} from "./libraries/PackedRecords.sol";
import {ParsecHashing} from "./libraries/ParsecHashing.sol";
import {
    ChannelParams,
    ChannelRecord,
    ChannelStatus,
    CheckpointHeads,
    Lock,
    PendingLocks,
    SkipReason,
    TransferBody
} from "./libraries/ParsecTypes.sol";
import {Settlement} from "./libraries/Settlement.sol";
import {SignatureCheck} from "./libraries/SignatureCheck.sol";
import {PayoutVault} from "./PayoutVault.sol";
import {SecretRegistry} from "./SecretRegistry.sol";

/// @title ParsecChannels
/// @notice The Parsec channel suite: escrow and judge for two-party ETH and ERC-20 payment channels.
/// @dev Per channel the contract keeps one record word and one state word (docs/protocol.md §1); the
/// channel's parameters travel in calldata and are checked against the id. Pure logic lives in
/// `libraries/`; money moves through `PayoutVault`.
contract ParsecChannels is IParsecChannels, EIP712, SecretRegistry, PayoutVault {
    /// @notice Shortest challenge period a channel may choose.
    uint32 public constant MIN_CHALLENGE_PERIOD = 1 hours;
    /// @notice Longest challenge period a channel may choose.
    uint32 public constant MAX_CHALLENGE_PERIOD = 30 days;

    uint256 private constant SEQ0_SHIFT = 224;
    uint256 private constant SEQ1_SHIFT = 192;

    /// @dev A packed `ChannelRecord` (see `ChannelRecords`).
    mapping(bytes32 channelId => uint256 word) private _records;
    /// @dev `seq0:uint32 | seq1:uint32 | commitment:uint192`; zero before the first commit and after settling.
    mapping(bytes32 channelId => uint256 word) private _states;
    mapping(bytes32 channelId => PendingLocks) private _pendingLocks;
    mapping(bytes32 channelId => uint32 nonce) private _withdrawNonces;

    constructor() EIP712("Parsec", "1") {}

    // ================================================================ open, fund, withdraw

    /// @inheritdoc IParsecChannels
    function openEth(
        address counterparty,
        uint32 challengePeriod,
        uint64 nonce
    ) external payable returns (bytes32 channelId) {
        channelId = _newChannel(counterparty, address(0), challengePeriod, nonce);
        _records[channelId] = ChannelRecords.opened(_toDeposit(msg.value), false);
        emit ChannelOpened(channelId, msg.sender, counterparty, address(0), challengePeriod, nonce, msg.value);
    }

    /// @inheritdoc IParsecChannels
    function openToken(
        address counterparty,
        address token,
        uint32 challengePeriod,
        uint64 nonce,
        uint256 amount
    ) external nonReentrant returns (bytes32 channelId) {
        if (token == address(0)) revert NotAToken(token);
        channelId = _newChannel(counterparty, token, challengePeriod, nonce);
        // Marked open before the pull so that the id cannot be taken twice; the deposit follows.
        _records[channelId] = ChannelRecords.opened(0, true);
        uint256 received = amount == 0 ? 0 : _pullToken(token, msg.sender, amount);
        _records[channelId] = ChannelRecords.opened(_toDeposit(received), true);
        emit ChannelOpened(channelId, msg.sender, counterparty, token, challengePeriod, nonce, received);
    }

    /// @inheritdoc IParsecChannels
    function deposit(bytes32 channelId, uint8 side) external payable {
        uint256 word = _records[channelId];
        _requireOpenFor(channelId, word, false);
        _credit(channelId, word, side, msg.value);
    }

    /// @inheritdoc IParsecChannels
    function depositToken(ChannelParams calldata params, uint8 side, uint256 amount) external nonReentrant {
        bytes32 channelId = ParsecHashing.channelId(params);
        uint256 word = _records[channelId];
        _requireOpenFor(channelId, word, true);
        if (side > 1) revert InvalidSide(side);
        if (amount == 0) revert ZeroAmount();
        _credit(channelId, word, side, _pullToken(params.asset, msg.sender, amount));
    }

    /// @inheritdoc IParsecChannels
    function withdraw(
        ChannelParams calldata params,
        uint32 nonce,
        uint128 amount0,
        uint128 amount1,
        uint64 expiry,
        bytes calldata sig0,
        bytes calldata sig1
    ) external nonReentrant {
        bytes32 channelId = ParsecHashing.channelId(params);
        bytes32 digest = _hashTypedDataV4(ParsecHashing.withdrawHash(channelId, nonce, amount0, amount1, expiry));
        _requireCoSigned(digest, params, sig0, sig1);
        _applyWithdraw(channelId, nonce, amount0, amount1, expiry);
        _pay(params.participant0, params.asset, amount0);
        _pay(params.participant1, params.asset, amount1);
    }

    // ================================================================ commits

    /// @inheritdoc IParsecChannels
    function checkpoint(bytes calldata record) external {
        _requireLength(record.length, PackedRecords.CHECKPOINT_RECORD_LENGTH);
        (bytes32 channelId, SkipReason reason) = _applyCheckpoint(record, 0);
        if (reason != SkipReason.None) revert EntryRejected(channelId, reason);
    }

    /// @inheritdoc IParsecChannels
    function checkpointBatch(bytes calldata records) external returns (uint256 applied) {
        uint256 unit = PackedRecords.CHECKPOINT_RECORD_LENGTH;
        _requireUnits(records.length, unit);
        uint256 freeMemory = _freeMemory();
        for (uint256 offset = 0; offset < records.length;) {
            (bytes32 channelId, SkipReason reason) = _applyCheckpoint(records, offset);
            // Nothing an entry allocates outlives it: reuse its memory instead of growing it per entry.
            _resetMemory(freeMemory);
            // Bounded by the calldata length, so neither counter can overflow.
            unchecked {
                if (reason == SkipReason.None) ++applied;
                else emit CheckpointSkipped(channelId, reason);
                offset += unit;
            }
        }
    }

    /// @inheritdoc IParsecChannels
    function proveHead(bytes calldata record) external {
        _requireLength(record.length, PackedRecords.HEAD_PROOF_RECORD_LENGTH);
        (bytes32 channelId, SkipReason reason) = _applyHeadProof(record, 0);
        if (reason != SkipReason.None) revert EntryRejected(channelId, reason);
    }

    /// @inheritdoc IParsecChannels
    function proveHeads(bytes calldata records) external returns (uint256 applied) {
        uint256 unit = PackedRecords.HEAD_PROOF_RECORD_LENGTH;
        _requireUnits(records.length, unit);
        uint256 freeMemory = _freeMemory();
        for (uint256 offset = 0; offset < records.length; offset += unit) {
            (bytes32 channelId, SkipReason reason) = _applyHeadProof(records, offset);
            // Nothing an entry allocates outlives it: reuse its memory instead of growing it per entry.
            _resetMemory(freeMemory);
            if (reason == SkipReason.None) ++applied;
            else emit HeadProofSkipped(channelId, reason);
        }
    }

    /// @inheritdoc IParsecChannels
    function extendChain(
        ChannelParams calldata params,
        uint8 payer,
        bytes calldata startBody,
        bytes32 otherHead,
        bytes calldata startLocks,
        bytes calldata transfers
    ) external {
        if (payer > 1) revert InvalidPayer(payer);
        bytes32 channelId = ParsecHashing.channelId(params);
        uint256 word = _states[channelId];
        if (word == 0) _requireLive(channelId);
        ChainVerifier.PayerState memory state = _chainStart(channelId, payer, word, startBody, otherHead, startLocks);
        uint32 fromSeq = state.seq;
        ChainVerifier.Context memory ctx = ChainVerifier.Context({
            channelId: channelId,
            payer: payer,
            signer: payer == 0 ? params.participant0 : params.participant1,
            domainSeparator: _domainSeparatorV4()
        });
        state = ChainVerifier.verify(ctx, state, transfers, _revealedAt);
        _states[channelId] =
            payer == 0
                ? _packState(state.seq, _seqOf(word, 1), ParsecHashing.commitment(state.head, otherHead))
                : _packState(_seqOf(word, 0), state.seq, ParsecHashing.commitment(otherHead, state.head));
        emit ChainExtended(channelId, payer, fromSeq, state.seq);
    }

    // ================================================================ close and settle

    /// @inheritdoc IParsecChannels
    function close(ChannelParams calldata params) external {
        bytes32 channelId = ParsecHashing.channelId(params);
        ChannelRecord memory record = _requireStatus(channelId, ChannelStatus.Open);
        if (msg.sender != params.participant0 && msg.sender != params.participant1) revert NotParticipant(msg.sender);
        record.status = ChannelStatus.Closing;
        record.closesAt = uint40(block.timestamp + params.challengePeriod);
        _records[channelId] = ChannelRecords.pack(record);
        emit ChannelClosing(channelId, msg.sender, record.closesAt);
    }

    /// @inheritdoc IParsecChannels
    function settle(ChannelParams calldata params, bytes calldata head0, bytes calldata head1) external nonReentrant {
        bytes32 channelId = ParsecHashing.channelId(params);
        ChannelRecord memory record = _requireStatus(channelId, ChannelStatus.Closing);
        if (block.timestamp < record.closesAt) revert ChallengePeriodActive(record.closesAt);

        uint256 word = _states[channelId];
        TransferBody memory body0 = _openHead(channelId, _seqOf(word, 0), head0);
        TransferBody memory body1 = _openHead(channelId, _seqOf(word, 1), head1);
        if (word != 0) {
            bytes32 hash0 = body0.seq == 0 ? bytes32(0) : ParsecHashing.transferHash(channelId, 0, body0);
            bytes32 hash1 = body1.seq == 0 ? bytes32(0) : ParsecHashing.transferHash(channelId, 1, body1);
            _requireHeads(channelId, word, hash0, hash1);
        }
        Settlement.Outcome memory outcome = Settlement.split(
            record.deposit0,
            record.deposit1,
            body0.paidTotal,
            body1.paidTotal,
            body0.lockedTotal,
            body1.lockedTotal
        );

        record.status = ChannelStatus.Settled;
        _records[channelId] = ChannelRecords.pack(record);
        delete _states[channelId];
        if (outcome.pot0 != 0 || outcome.pot1 != 0) {
            _pendingLocks[channelId] = PendingLocks({
                locksRoot0: outcome.pot0 == 0 ? bytes32(0) : body0.locksRoot,
                locksRoot1: outcome.pot1 == 0 ? bytes32(0) : body1.locksRoot,
                pot0: uint128(outcome.pot0),
                pot1: uint128(outcome.pot1)
            });
        }
        emit ChannelSettled(channelId, outcome.payout0, outcome.payout1, outcome.pot0, outcome.pot1);
        _pay(params.participant0, params.asset, outcome.payout0);
        _pay(params.participant1, params.asset, outcome.payout1);
    }

    /// @inheritdoc IParsecChannels
    function cooperativeClose(
        ChannelParams calldata params,
        uint128 balance0,
        uint128 balance1,
        bytes calldata sig0,
        bytes calldata sig1
    ) external nonReentrant {
        bytes32 channelId = ParsecHashing.channelId(params);
        ChannelRecord memory record = _requireLive(channelId);
        uint256 deposits = uint256(record.deposit0) + record.deposit1;
        uint256 sum = uint256(balance0) + balance1;
        if (sum != deposits) revert BalancesMismatch(sum, deposits);
        _requireCoSigned(
            _hashTypedDataV4(ParsecHashing.cooperativeCloseHash(channelId, balance0, balance1)),
            params,
            sig0,
            sig1
        );

        record.status = ChannelStatus.Settled;
        _records[channelId] = ChannelRecords.pack(record);
        delete _states[channelId];
        emit ChannelClosedCooperatively(channelId, balance0, balance1);
        _pay(params.participant0, params.asset, balance0);
        _pay(params.participant1, params.asset, balance1);
    }

    /// @inheritdoc IParsecChannels
    function proveEquivocation(
        ChannelParams calldata params,
        uint8 payer,
        bytes calldata transferA,
        bytes calldata transferB
    ) external nonReentrant {
        if (payer > 1) revert InvalidPayer(payer);
        _requireLength(transferA.length, PackedRecords.SIGNED_TRANSFER_LENGTH);
        _requireLength(transferB.length, PackedRecords.SIGNED_TRANSFER_LENGTH);
        bytes32 channelId = ParsecHashing.channelId(params);
        ChannelRecord memory record = _requireLive(channelId);
        TransferBody memory a = PackedRecords.readBody(transferA, 0);
        TransferBody memory b = PackedRecords.readBody(transferB, 0);
        bytes32 hashA = ParsecHashing.transferHash(channelId, payer, a);
        bytes32 hashB = ParsecHashing.transferHash(channelId, payer, b);
        if (a.seq != b.seq || hashA == hashB) revert NotEquivocation();
        address signer = payer == 0 ? params.participant0 : params.participant1;
        _requireSignatureAt(_hashTypedDataV4(hashA), transferA, signer);
        _requireSignatureAt(_hashTypedDataV4(hashB), transferB, signer);

        uint256 forfeited = uint256(record.deposit0) + record.deposit1;
        record.status = ChannelStatus.Settled;
        _records[channelId] = ChannelRecords.pack(record);
        delete _states[channelId];
        emit EquivocationProved(channelId, payer, a.seq, forfeited);
        _pay(payer == 0 ? params.participant1 : params.participant0, params.asset, forfeited);
    }

    /// @inheritdoc IParsecChannels
    function resolveLocks(
        ChannelParams calldata params,
        uint8 payer,
        bytes calldata locks,
        bytes32[] calldata preimages
    ) external nonReentrant {
        if (payer > 1) revert InvalidPayer(payer);
        bytes32 channelId = ParsecHashing.channelId(params);
        _requireStatus(channelId, ChannelStatus.Settled);
        PendingLocks storage pending = _pendingLocks[channelId];
        (bytes32 root, uint256 pot) = payer == 0
            ? (pending.locksRoot0, uint256(pending.pot0))
            : (pending.locksRoot1, uint256(pending.pot1));
        if (pot == 0) revert NoPendingLocks(channelId, payer);
        if (locks.length % LockList.LOCK_LENGTH != 0) revert MalformedRecord(locks.length, LockList.LOCK_LENGTH);
        if (LockList.root(locks) != root) revert LocksMismatch(root);
        uint256 n = locks.length / LockList.LOCK_LENGTH;
        if (preimages.length != 0 && preimages.length != n) revert PreimagesLengthMismatch(n, preimages.length);

        uint256 toPayee;
        for (uint256 i = 0; i < n && pot != 0; ++i) {
            Lock memory lock = PackedRecords.readLock(locks, i * LockList.LOCK_LENGTH);
            uint256 share = lock.amount < pot ? lock.amount : pot;
            pot -= share;
            bytes32 preimage = preimages.length == 0 ? bytes32(0) : preimages[i];
            if (_unlockable(lock, preimage)) {
                toPayee += share;
            } else if (block.timestamp <= lock.expiry) {
                // Returning an open lock early would let the payer take it before the payee can reveal it.
                revert LockNotExpired(lock.hashlock, lock.expiry);
            }
        }
        uint256 toPayer = (payer == 0 ? pending.pot0 : pending.pot1) - toPayee;

        if (payer == 0) {
            pending.locksRoot0 = 0;
            pending.pot0 = 0;
        } else {
            pending.locksRoot1 = 0;
            pending.pot1 = 0;
        }
        emit LocksResolved(channelId, payer, toPayee, toPayer);
        _pay(payer == 0 ? params.participant1 : params.participant0, params.asset, toPayee);
        _pay(payer == 0 ? params.participant0 : params.participant1, params.asset, toPayer);
    }

    // ================================================================ views

    /// @inheritdoc IParsecChannels
    function channelIdOf(ChannelParams calldata params) external view returns (bytes32) {
        return ParsecHashing.channelId(params);
    }

    /// @inheritdoc IParsecChannels
    function channelState(
        bytes32 channelId
    ) external view returns (ChannelRecord memory record, uint32 seq0, uint32 seq1, uint192 commitment) {
        uint256 word = _states[channelId];
        return (ChannelRecords.unpack(_records[channelId]), _seqOf(word, 0), _seqOf(word, 1), uint192(word));
    }

    /// @inheritdoc IParsecChannels
    function pendingLocksOf(bytes32 channelId) external view returns (PendingLocks memory) {
        return _pendingLocks[channelId];
    }

    /// @inheritdoc IParsecChannels
    function withdrawNonceOf(bytes32 channelId) external view returns (uint32) {
        return _withdrawNonces[channelId];
    }

    /// @inheritdoc IParsecChannels
    function hashTransfer(bytes32 channelId, uint8 payer, bytes calldata body) external pure returns (bytes32) {
        _requireLength(body.length, PackedRecords.TRANSFER_BODY_LENGTH);
        return ParsecHashing.transferHash(channelId, payer, PackedRecords.readBody(body, 0));
    }

    /// @inheritdoc IParsecChannels
    function hashCheckpoint(
        bytes32 channelId,
        uint32 seq0,
        bytes32 head0,
        uint32 seq1,
        bytes32 head1
    ) external pure returns (bytes32) {
        return ParsecHashing.checkpointHash(channelId, seq0, head0, seq1, head1);
    }

    /// @inheritdoc IParsecChannels
    function hashCooperativeClose(
        bytes32 channelId,
        uint128 balance0,
        uint128 balance1
    ) external pure returns (bytes32) {
        return ParsecHashing.cooperativeCloseHash(channelId, balance0, balance1);
    }

    /// @inheritdoc IParsecChannels
    function hashWithdraw(
        bytes32 channelId,
        uint32 nonce,
        uint128 amount0,
        uint128 amount1,
        uint64 expiry
    ) external pure returns (bytes32) {
        return ParsecHashing.withdrawHash(channelId, nonce, amount0, amount1, expiry);
    }

    /// @inheritdoc IParsecChannels
    function typedDataDigest(bytes32 structHash) external view returns (bytes32) {
        return _hashTypedDataV4(structHash);
    }

    /// @inheritdoc IParsecChannels
    function locksRootOf(bytes calldata locks) external pure returns (bytes32) {
        return LockList.root(locks);
    }

    /// @inheritdoc IParsecChannels
    function commitmentOf(bytes32 head0, bytes32 head1) external pure returns (uint192) {
        return ParsecHashing.commitment(head0, head1);
    }

    // ================================================================ internals

    /// @dev Applies one `CheckpointRecord`; reports instead of reverting so a batch can skip it.
    /// Written flat, with its fields read straight from calldata: it is the relayer's hot path.
    function _applyCheckpoint(
        bytes calldata records,
        uint256 offset
    ) private returns (bytes32 channelId, SkipReason reason) {
        channelId = PackedRecords.readChannelId(records, offset);
        uint256 at = offset + PackedRecords.PARAMS_LENGTH;
        uint256 newWord;
        bytes32 digest;
        {
            uint32 seq0;
            bytes32 head0;
            uint32 seq1;
            bytes32 head1;
            assembly ("memory-safe") {
                let p := add(records.offset, at)
                seq0 := shr(224, calldataload(p))
                head0 := calldataload(add(p, 4))
                seq1 := shr(224, calldataload(add(p, 36)))
                head1 := calldataload(add(p, 40))
            }
            if ((seq0 == 0) != (head0 == 0) || (seq1 == 0) != (head1 == 0)) return (channelId, SkipReason.Malformed);

            uint256 word = _states[channelId];
            // A non-zero state word implies a live channel; only a first commit needs the record.
            if (word == 0 && !_isLive(channelId)) return (channelId, SkipReason.ChannelNotOpen);
            if (!_isNewer(word, seq0, seq1)) return (channelId, SkipReason.StaleState);
            newWord = _packState(seq0, seq1, ParsecHashing.commitment(head0, head1));
            digest = _hashTypedDataV4(ParsecHashing.checkpointHash(channelId, seq0, head0, seq1, head1));
        }
        at += PackedRecords.CHECKPOINT_HEADS_LENGTH;
        (address participant0, address participant1) = PackedRecords.readParticipants(records, offset);
        if (
            !SignatureCheck.signedBy(digest, records, at, participant0) ||
            !SignatureCheck.signedBy(digest, records, at + PackedRecords.SIGNATURE_LENGTH, participant1)
        ) return (channelId, SkipReason.BadSignature);

        _states[channelId] = newWord;
        emit Checkpointed(channelId, uint32(newWord >> SEQ0_SHIFT), uint32(newWord >> SEQ1_SHIFT));
    }

    /// @dev A checkpoint is newer when neither seq goes back and at least one moves forward.
    function _isNewer(uint256 word, uint32 seq0, uint32 seq1) private pure returns (bool) {
        uint32 onchain0 = _seqOf(word, 0);
        uint32 onchain1 = _seqOf(word, 1);
        return seq0 >= onchain0 && seq1 >= onchain1 && (seq0 != onchain0 || seq1 != onchain1);
    }

    /// @dev Applies one `HeadProofRecord`; reports instead of reverting so a batch can skip it.
    function _applyHeadProof(
        bytes calldata records,
        uint256 offset
    ) private returns (bytes32 channelId, SkipReason reason) {
        ChannelParams memory params = PackedRecords.readParams(records, offset);
        channelId = ParsecHashing.channelId(params);
        uint256 at = offset + PackedRecords.PARAMS_LENGTH;
        uint8 payer = PackedRecords.readUint8(records, at);
        if (payer > 1) return (channelId, SkipReason.Malformed);
        if (msg.sender != (payer == 0 ? params.participant1 : params.participant0)) {
            return (channelId, SkipReason.NotPayee);
        }
        CheckpointHeads memory heads;
        heads.head0 = PackedRecords.readBytes32(records, at + 1);
        heads.head1 = PackedRecords.readBytes32(records, at + 33);
        uint256 word = _states[channelId];
        reason = _headsProblem(channelId, word, heads.head0, heads.head1);
        if (reason != SkipReason.None) return (channelId, reason);

        TransferBody memory body = PackedRecords.readBody(records, at + 65);
        if (body.seq <= _seqOf(word, payer)) return (channelId, SkipReason.StaleState);
        bytes32 hash = ParsecHashing.transferHash(channelId, payer, body);
        address signer = payer == 0 ? params.participant0 : params.participant1;
        if (!_signedBy(_hashTypedDataV4(hash), records, at + 65 + PackedRecords.TRANSFER_BODY_LENGTH, signer)) {
            return (channelId, SkipReason.BadSignature);
        }

        heads.seq0 = _seqOf(word, 0);
        heads.seq1 = _seqOf(word, 1);
        if (payer == 0) (heads.seq0, heads.head0) = (body.seq, hash);
        else (heads.seq1, heads.head1) = (body.seq, hash);
        _states[channelId] = _packState(heads.seq0, heads.seq1, ParsecHashing.commitment(heads.head0, heads.head1));
        emit HeadProved(channelId, payer, body.seq);
    }

    /// @dev Whether the supplied heads open the state word of a live channel.
    function _headsProblem(
        bytes32 channelId,
        uint256 word,
        bytes32 head0,
        bytes32 head1
    ) private view returns (SkipReason) {
        if (word == 0) {
            if (!_isLive(channelId)) return SkipReason.ChannelNotOpen;
            if (head0 != 0 || head1 != 0) return SkipReason.StateChanged;
        } else if (ParsecHashing.commitment(head0, head1) != uint192(word)) {
            return SkipReason.StateChanged;
        }
        return SkipReason.None;
    }

    /// @dev The on-chain state of payer's chain, opened from its head body and pending-lock list.
    function _chainStart(
        bytes32 channelId,
        uint8 payer,
        uint256 word,
        bytes calldata startBody,
        bytes32 otherHead,
        bytes calldata startLocks
    ) private pure returns (ChainVerifier.PayerState memory state) {
        TransferBody memory body = _openHead(channelId, _seqOf(word, payer), startBody);
        state.seq = body.seq;
        if (body.seq != 0) state.head = ParsecHashing.transferHash(channelId, payer, body);
        state.paidTotal = body.paidTotal;
        state.lockedTotal = body.lockedTotal;
        state.locksRoot = body.locksRoot;
        if (payer == 0) _requireHeads(channelId, word, state.head, otherHead);
        else _requireHeads(channelId, word, otherHead, state.head);
        if (startLocks.length % LockList.LOCK_LENGTH != 0) {
            revert MalformedRecord(startLocks.length, LockList.LOCK_LENGTH);
        }
        state.locks = startLocks;
        if (LockList.root(state.locks) != state.locksRoot) revert LocksMismatch(state.locksRoot);
    }

    /// @dev Checks a signed withdrawal against the channel and takes it off the deposits.
    function _applyWithdraw(bytes32 channelId, uint32 nonce, uint128 amount0, uint128 amount1, uint64 expiry) private {
        ChannelRecord memory record = _requireStatus(channelId, ChannelStatus.Open);
        if (block.timestamp > expiry) revert WithdrawExpired(expiry);
        uint32 expected = _withdrawNonces[channelId];
        if (nonce != expected) revert WithdrawNonceMismatch(expected, nonce);
        if (amount0 > record.deposit0) revert WithdrawExceedsDeposit(0, amount0, record.deposit0);
        if (amount1 > record.deposit1) revert WithdrawExceedsDeposit(1, amount1, record.deposit1);
        record.deposit0 -= uint96(amount0);
        record.deposit1 -= uint96(amount1);
        _records[channelId] = ChannelRecords.pack(record);
        _withdrawNonces[channelId] = nonce + 1;
        emit Withdrawn(channelId, nonce, amount0, amount1);
    }

    /// @dev Reads the body of a head the state word commits to at `seq` (none when `seq` is 0).
    function _openHead(
        bytes32 channelId,
        uint32 seq,
        bytes calldata data
    ) private pure returns (TransferBody memory body) {
        if (seq == 0) {
            _requireLength(data.length, 0);
            return body;
        }
        _requireLength(data.length, PackedRecords.TRANSFER_BODY_LENGTH);
        body = PackedRecords.readBody(data, 0);
        if (body.seq != seq) revert StateMismatch(channelId);
    }

    /// @dev Whether the lock goes to the payee: preimage shown now before expiry, or registered in time.
    function _unlockable(Lock memory lock, bytes32 preimage) private view returns (bool) {
        if (preimage != 0 && block.timestamp <= lock.expiry && sha256(abi.encodePacked(preimage)) == lock.hashlock) {
            return true;
        }
        uint256 revealed = _revealedAt[lock.hashlock];
        return revealed != 0 && revealed <= lock.expiry;
    }

    /// @dev Adds `amount` to `side`'s deposit in the record word.
    function _credit(bytes32 channelId, uint256 word, uint8 side, uint256 amount) private {
        if (side > 1) revert InvalidSide(side);
        if (amount == 0) revert ZeroAmount();
        uint256 total = _toDeposit(ChannelRecords.depositOf(word, side) + amount);
        _records[channelId] = word + (amount << (side == 0 ? 0 : ChannelRecords.DEPOSIT_BITS));
        emit Deposited(channelId, side, total);
    }

    /// @dev Checks the common preconditions of opening and returns the new id.
    function _newChannel(
        address counterparty,
        address asset,
        uint32 challengePeriod,
        uint64 nonce
    ) private view returns (bytes32 channelId) {
        if (counterparty == address(0) || counterparty == msg.sender) revert InvalidCounterparty(counterparty);
        if (challengePeriod < MIN_CHALLENGE_PERIOD || challengePeriod > MAX_CHALLENGE_PERIOD) {
            revert ChallengePeriodOutOfRange(challengePeriod, MIN_CHALLENGE_PERIOD, MAX_CHALLENGE_PERIOD);
        }
        channelId = ParsecHashing.channelId(ChannelParams(msg.sender, counterparty, asset, challengePeriod, nonce));
        if (_records[channelId] != 0) revert ChannelExists(channelId);
    }

    /// @dev A deposit needs an open channel of the matching asset kind.
    function _requireOpenFor(bytes32 channelId, uint256 word, bool token) private pure {
        ChannelStatus status = ChannelRecords.status(word);
        if (status != ChannelStatus.Open) revert ChannelNotInStatus(channelId, uint8(status));
        if (ChannelRecords.isToken(word) != token) revert WrongAsset(channelId);
    }

    function _requireStatus(
        bytes32 channelId,
        ChannelStatus status
    ) private view returns (ChannelRecord memory record) {
        record = ChannelRecords.unpack(_records[channelId]);
        if (record.status != status) revert ChannelNotInStatus(channelId, uint8(record.status));
    }

    /// @dev Open or closing: the states in which evidence and cooperative exits are accepted.
    function _requireLive(bytes32 channelId) private view returns (ChannelRecord memory record) {
        record = ChannelRecords.unpack(_records[channelId]);
        if (record.status != ChannelStatus.Open && record.status != ChannelStatus.Closing) {
            revert ChannelNotInStatus(channelId, uint8(record.status));
        }
    }

    function _isLive(bytes32 channelId) private view returns (bool) {
        ChannelStatus status = ChannelRecords.status(_records[channelId]);
        return status == ChannelStatus.Open || status == ChannelStatus.Closing;
    }

    /// @dev The supplied heads must open the state word (both zero before anything was committed).
    function _requireHeads(bytes32 channelId, uint256 word, bytes32 head0, bytes32 head1) private pure {
        bool matches = word == 0 ? head0 == 0 && head1 == 0 : ParsecHashing.commitment(head0, head1) == uint192(word);
        if (!matches) revert StateMismatch(channelId);
    }

    /// @dev Both participants must have signed `digest`.
    function _requireCoSigned(
        bytes32 digest,
        ChannelParams calldata params,
        bytes calldata sig0,
        bytes calldata sig1
    ) private view {
        _requireLength(sig0.length, PackedRecords.SIGNATURE_LENGTH);
        _requireLength(sig1.length, PackedRecords.SIGNATURE_LENGTH);
        if (!_signedBy(digest, sig0, 0, params.participant0)) revert InvalidSignature(params.participant0);
        if (!_signedBy(digest, sig1, 0, params.participant1)) revert InvalidSignature(params.participant1);
    }

    /// @dev Checks the signature that follows the `TransferBody` in a `SignedTransfer`.
    function _requireSignatureAt(bytes32 digest, bytes calldata signedTransfer, address signer) private view {
        if (!_signedBy(digest, signedTransfer, PackedRecords.TRANSFER_BODY_LENGTH, signer)) {
            revert InvalidSignature(signer);
        }
    }

    /// @dev Whether the 65-byte signature at `offset` of `data` is `signer`'s (low-s only).
    function _signedBy(
        bytes32 digest,
        bytes calldata data,
        uint256 offset,
        address signer
    ) private view returns (bool) {
        return SignatureCheck.signedBy(digest, data, offset, signer);
    }

    function _seqOf(uint256 word, uint8 payer) private pure returns (uint32) {
        return uint32(word >> (payer == 0 ? SEQ0_SHIFT : SEQ1_SHIFT));
    }

    function _packState(uint32 seq0, uint32 seq1, uint192 commitment) private pure returns (uint256) {
        return (uint256(seq0) << SEQ0_SHIFT) | (uint256(seq1) << SEQ1_SHIFT) | commitment;
    }

    function _toDeposit(uint256 amount) private pure returns (uint96) {
        if (amount > type(uint96).max) revert DepositTooLarge(amount);
        return uint96(amount);
    }

    function _freeMemory() private pure returns (uint256 pointer) {
        assembly ("memory-safe") {
            pointer := mload(0x40)
        }
    }

    function _resetMemory(uint256 pointer) private pure {
        assembly ("memory-safe") {
            mstore(0x40, pointer)
        }
    }

    function _requireLength(uint256 length, uint256 expected) private pure {
        if (length != expected) revert MalformedRecord(length, expected);
    }

    function _requireUnits(uint256 length, uint256 unit) private pure {
        if (length == 0 || length % unit != 0) revert MalformedRecord(length, unit);
    }
}
