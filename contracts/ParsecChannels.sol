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
    CooperativeCloseTerms,
    PendingLocks,
    SkipReason,
    TransferBody
} from "./libraries/ParsecTypes.sol";
import {Settlement} from "./libraries/Settlement.sol";
import {SignatureCheck} from "./libraries/SignatureCheck.sol";
import {StateWords} from "./libraries/StateWords.sol";
import {PayoutVault} from "./PayoutVault.sol";
import {SecretRegistry} from "./SecretRegistry.sol";

/// @title ParsecChannels
/// @notice The Parsec channel suite: escrow and judge for two-party ETH and ERC-20 payment channels.
/// @dev Per channel the contract keeps one record word, one checkpoint word and, once evidence arrived, one
/// proven word per payer (docs/protocol.md §1); the channel's parameters travel in calldata and are
/// checked against the id. Pure logic lives in `libraries/`; money moves through `PayoutVault`.
contract ParsecChannels is IParsecChannels, EIP712, SecretRegistry, PayoutVault {
    /// @notice Shortest challenge period a channel may choose.
    uint32 public constant MIN_CHALLENGE_PERIOD = 1 hours;
    /// @notice Longest challenge period a channel may choose.
    uint32 public constant MAX_CHALLENGE_PERIOD = 30 days;

    /// @dev A packed `ChannelRecord` (see `ChannelRecords`).
    mapping(bytes32 channelId => uint256 word) private _records;
    /// @dev The checkpoint word (see `StateWords`); zero before the first checkpoint and after settling.
    mapping(bytes32 channelId => uint256 word) private _states;
    /// @dev Where a lock goes when resolved (`_decideLock`).
    uint256 private constant LOCK_OPEN = 0;
    uint256 private constant LOCK_TO_PAYEE = 1;
    uint256 private constant LOCK_TO_PAYER = 2;

    /// @dev Per payer, the proven word (see `StateWords`) head proofs and chain extensions write.
    mapping(bytes32 channelId => uint256[2] words) private _proven;
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
        // A token hook may have acted on the channel during the pull: build on the word as it is now.
        uint256 word = _records[channelId];
        _requireOpenFor(channelId, word, true);
        _records[channelId] = word + _toDeposit(received);
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
        uint256 received = _pullToken(params.asset, msg.sender, amount);
        // Re-read: a token hook may have closed the channel (or changed its word) during the pull.
        word = _records[channelId];
        _requireOpenFor(channelId, word, true);
        _credit(channelId, word, side, received);
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
        for (uint256 offset = 0; offset < records.length;) {
            (bytes32 channelId, SkipReason reason) = _applyHeadProof(records, offset);
            // Nothing an entry allocates outlives it: reuse its memory instead of growing it per entry.
            _resetMemory(freeMemory);
            // Bounded by the calldata length, so neither counter can overflow.
            unchecked {
                if (reason == SkipReason.None) ++applied;
                else emit HeadProofSkipped(channelId, reason);
                offset += unit;
            }
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
        _extendChain(_chainContext(params, payer), startBody, otherHead, startLocks, transfers);
    }

    /// @inheritdoc IParsecChannels
    function extendChainUsingConsentedCancels(
        ChannelParams calldata params,
        uint8 payer,
        bytes calldata startBody,
        bytes32 otherHead,
        bytes calldata startLocks,
        bytes calldata transfers,
        bytes calldata consents
    ) external {
        ChainVerifier.Context memory ctx = _chainContext(params, payer);
        if (consents.length % PackedRecords.CANCEL_CONSENT_RECORD_LENGTH != 0) {
            revert MalformedRecord(consents.length, PackedRecords.CANCEL_CONSENT_RECORD_LENGTH);
        }
        ctx.payee = payer == 0 ? params.participant1 : params.participant0;
        ctx.consentsOffset = _offsetOf(consents);
        ctx.consentsLength = consents.length;
        _extendChain(ctx, startBody, otherHead, startLocks, transfers);
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
    function settle(
        ChannelParams calldata params,
        bytes calldata head0,
        bytes calldata head1,
        bytes32 checkpointHead0,
        bytes32 checkpointHead1
    ) external nonReentrant {
        bytes32 channelId = ParsecHashing.channelId(params);
        ChannelRecord memory record = _requireStatus(channelId, ChannelStatus.Closing);
        if (block.timestamp < record.closesAt) revert ChallengePeriodActive(record.closesAt);

        uint256 recordWord = ChannelRecords.pack(record);
        uint256 checkpointWord = _requireCheckpointHeads(channelId, checkpointHead0, checkpointHead1);
        TransferBody memory body0 = _openSettledHead(channelId, recordWord, checkpointWord, 0, head0, checkpointHead0);
        TransferBody memory body1 = _openSettledHead(channelId, recordWord, checkpointWord, 1, head1, checkpointHead1);
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
        if (checkpointWord != 0) delete _states[channelId];
        if (record.hasProofs) delete _proven[channelId];
        if (outcome.pot0 != 0 || outcome.pot1 != 0) {
            PendingLocks storage pending = _pendingLocks[channelId];
            pending.locksRoot0 = outcome.pot0 == 0 ? bytes32(0) : body0.locksRoot;
            pending.locksRoot1 = outcome.pot1 == 0 ? bytes32(0) : body1.locksRoot;
            pending.pot0 = uint128(outcome.pot0);
            pending.pot1 = uint128(outcome.pot1);
        }
        emit ChannelSettled(channelId, outcome.payout0, outcome.payout1, outcome.pot0, outcome.pot1);
        _pay(params.participant0, params.asset, outcome.payout0);
        _pay(params.participant1, params.asset, outcome.payout1);
    }

    /// @inheritdoc IParsecChannels
    function cooperativeClose(
        ChannelParams calldata params,
        CooperativeCloseTerms calldata terms,
        bytes calldata sig0,
        bytes calldata sig1
    ) external nonReentrant {
        bytes32 channelId = ParsecHashing.channelId(params);
        uint256 recordWord = _requireLiveWord(channelId);
        if (block.timestamp > terms.expiry) revert CooperativeCloseExpired(terms.expiry);
        uint256 deposits = ChannelRecords.depositOf(recordWord, 0) + ChannelRecords.depositOf(recordWord, 1);
        uint256 sum = uint256(terms.balance0) + terms.balance1;
        if (sum != deposits) revert BalancesMismatch(sum, deposits);
        uint256 checkpointWord = _states[channelId];
        _requireCloseNotStale(channelId, recordWord, checkpointWord, terms);
        _requireCoSigned(_hashTypedDataV4(ParsecHashing.cooperativeCloseHash(channelId, terms)), params, sig0, sig1);

        _records[channelId] = ChannelRecords.withStatus(recordWord, ChannelStatus.Settled);
        if (checkpointWord != 0) delete _states[channelId];
        if (ChannelRecords.hasProofs(recordWord)) delete _proven[channelId];
        emit ChannelClosedCooperatively(channelId, terms.balance0, terms.balance1);
        _pay(params.participant0, params.asset, terms.balance0);
        _pay(params.participant1, params.asset, terms.balance1);
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
        if (record.hasProofs) delete _proven[channelId];
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
        (bytes32 root, uint256 pot, uint64 resolved) = payer == 0
            ? (pending.locksRoot0, uint256(pending.pot0), pending.resolved0)
            : (pending.locksRoot1, uint256(pending.pot1), pending.resolved1);
        if (pot == 0) revert NoPendingLocks(channelId, payer);
        if (locks.length % LockList.LOCK_LENGTH != 0) revert MalformedRecord(locks.length, LockList.LOCK_LENGTH);
        if (LockList.root(locks) != root) revert LocksMismatch(root);
        uint256 n = locks.length / LockList.LOCK_LENGTH;
        // The resolved-lock bitmap has one bit per lock: a longer list could never be marked resolved.
        if (n > LockList.MAX_PENDING_LOCKS) revert LockListTooLong(n, LockList.MAX_PENDING_LOCKS);
        if (preimages.length != 0 && preimages.length != n) revert PreimagesLengthMismatch(n, preimages.length);

        LockOutcome memory outcome = _resolveLockList(locks, preimages, pot, resolved);
        if (outcome.resolved == 0 && outcome.uncovered == 0) revert NoLockResolvable(channelId, payer);
        _recordResolution(pending, payer, n, resolved | outcome.resolved, pot - outcome.uncovered);
        uint256 toPayer = outcome.toPayer + outcome.uncovered;
        emit LocksResolved(channelId, payer, outcome.resolved, outcome.toPayee, toPayer);
        _pay(payer == 0 ? params.participant1 : params.participant0, params.asset, outcome.toPayee);
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
        return (
            ChannelRecords.unpack(_records[channelId]),
            StateWords.checkpointSeq(word, 0),
            StateWords.checkpointSeq(word, 1),
            StateWords.commitment(word)
        );
    }

    /// @inheritdoc IParsecChannels
    function provenHeadsOf(
        bytes32 channelId
    ) external view returns (uint32 seq0, uint224 head0, uint32 seq1, uint224 head1) {
        uint256[2] storage words = _proven[channelId];
        (uint256 word0, uint256 word1) = (words[0], words[1]);
        return (StateWords.provenSeq(word0), uint224(word0), StateWords.provenSeq(word1), uint224(word1));
    }

    /// @inheritdoc IParsecChannels
    function pendingLocksOf(bytes32 channelId) external view returns (PendingLocks memory) {
        return _pendingLocks[channelId];
    }

    /// @inheritdoc IParsecChannels
    function withdrawNonceOf(bytes32 channelId) external view returns (uint32) {
        return _withdrawNonces[channelId];
    }

    /// @notice ERC-5267: this contract's EIP-712 domain, `(0x0f, "Parsec", "1", chainId, this, 0x0, [])`.
    /// @dev The name and version are constants here: returning them as literals instead of decoding
    /// OpenZeppelin's short strings keeps that decoder out of the bytecode (the contract is near the limit).
    function eip712Domain()
        public
        view
        override
        returns (
            bytes1 fields,
            string memory name,
            string memory version,
            uint256 chainId,
            address verifyingContract,
            bytes32 salt,
            uint256[] memory extensions
        )
    {
        return (hex"0f", "Parsec", "1", block.chainid, address(this), bytes32(0), new uint256[](0));
    }

    /// @inheritdoc IParsecChannels
    function typedDataDigest(bytes32 structHash) external view returns (bytes32) {
        return _hashTypedDataV4(structHash);
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
            if (!StateWords.isNewerCheckpoint(word, seq0, seq1)) return (channelId, SkipReason.StaleState);
            newWord = StateWords.packCheckpoint(seq0, seq1, ParsecHashing.commitment(head0, head1));
            digest = _hashTypedDataV4(ParsecHashing.checkpointHash(channelId, seq0, head0, seq1, head1));
        }
        at += PackedRecords.CHECKPOINT_HEADS_LENGTH;
        (address participant0, address participant1) = PackedRecords.readParticipants(records, offset);
        if (
            !SignatureCheck.signedBy(digest, records, at, participant0) ||
            !SignatureCheck.signedBy(digest, records, at + PackedRecords.SIGNATURE_LENGTH, participant1)
        ) return (channelId, SkipReason.BadSignature);

        _states[channelId] = newWord;
        emit Checkpointed(channelId, StateWords.checkpointSeq(newWord, 0), StateWords.checkpointSeq(newWord, 1));
    }

    /// @dev Applies one `HeadProofRecord`; reports instead of reverting so a batch can skip it. It depends on
    /// nothing but payer's on-chain seq, so no other evidence landing first can invalidate it.
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
        uint256 recordWord = _records[channelId];
        if (!_isLiveWord(recordWord)) return (channelId, SkipReason.ChannelNotOpen);
        TransferBody memory body = PackedRecords.readBody(records, at + 1);
        uint32 onchainSeq = _onchainHead(channelId, recordWord, _states[channelId], payer).seq;
        if (body.seq <= onchainSeq) return (channelId, SkipReason.StaleState);
        bytes32 hash = ParsecHashing.transferHash(channelId, payer, body);
        address signer = payer == 0 ? params.participant0 : params.participant1;
        if (!_signedBy(_hashTypedDataV4(hash), records, at + 1 + PackedRecords.TRANSFER_BODY_LENGTH, signer)) {
            return (channelId, SkipReason.BadSignature);
        }
        _writeProven(channelId, recordWord, payer, body.seq, hash);
        emit HeadProved(channelId, payer, body.seq);
    }

    /// @dev Verifies a chain piece from `state` on; the part up to the on-chain head `anchor` only re-derives
    /// that head (so a piece stays valid when the head moved forward meanwhile), the rest must be new.
    function _verifyPiece(
        ChainVerifier.Context memory ctx,
        OnchainHead memory anchor,
        ChainVerifier.PayerState memory state,
        bytes calldata transfers,
        bytes32 otherHead
    ) private view returns (ChainVerifier.PayerState memory) {
        if (state.seq > anchor.seq) revert StateMismatch(ctx.channelId);
        if (transfers.length == 0) revert EmptyChain();
        uint256 unit = PackedRecords.SIGNED_TRANSFER_LENGTH;
        if (transfers.length % unit != 0) revert MalformedRecord(transfers.length, unit);
        uint256 known = (anchor.seq - state.seq) * unit;
        if (transfers.length <= known) revert EntryRejected(ctx.channelId, SkipReason.StaleState);
        if (known != 0) state = ChainVerifier.verify(ctx, state, transfers[:known], _revealedAt);
        _requireAnchor(ctx.channelId, ctx.payer, anchor, state.head, otherHead);
        return ChainVerifier.verify(ctx, state, transfers[known:], _revealedAt);
    }

    /// @dev Payer's on-chain head: the checkpoint word's or the proven word's, whichever has the higher seq.
    struct OnchainHead {
        uint32 seq;
        /// @dev Whether it is the proven word's head (else the checkpoint word's).
        bool proven;
        uint256 checkpointWord;
        uint256 provenWord;
    }

    function _onchainHead(
        bytes32 channelId,
        uint256 recordWord,
        uint256 checkpointWord,
        uint8 payer
    ) private view returns (OnchainHead memory head) {
        head.checkpointWord = checkpointWord;
        if (ChannelRecords.hasProofs(recordWord)) head.provenWord = _proven[channelId][payer];
        uint32 checkpointSeq = StateWords.checkpointSeq(head.checkpointWord, payer);
        uint32 provenSeq = StateWords.provenSeq(head.provenWord);
        head.proven = provenSeq > checkpointSeq;
        head.seq = head.proven ? provenSeq : checkpointSeq;
    }

    /// @dev `head` (payer's transfer hash at `anchor.seq`, zero for seq 0) must be payer's on-chain head.
    function _requireAnchor(
        bytes32 channelId,
        uint8 payer,
        OnchainHead memory anchor,
        bytes32 head,
        bytes32 otherHead
    ) private pure {
        bool matches;
        if (anchor.proven) {
            matches = StateWords.provenHeadIs(anchor.provenWord, head);
        } else if (anchor.checkpointWord == 0) {
            matches = head == 0;
        } else {
            (bytes32 head0, bytes32 head1) = payer == 0 ? (head, otherHead) : (otherHead, head);
            matches = ParsecHashing.commitment(head0, head1) == StateWords.commitment(anchor.checkpointWord);
        }
        if (!matches) revert StateMismatch(channelId);
    }

    /// @dev Who signs payer's chain in the channel `params` names (no consents: see `extendChainUsingConsentedCancels`).
    function _chainContext(
        ChannelParams calldata params,
        uint8 payer
    ) private view returns (ChainVerifier.Context memory ctx) {
        if (payer > 1) revert InvalidPayer(payer);
        ctx.channelId = ParsecHashing.channelId(params);
        ctx.payer = payer;
        ctx.signer = payer == 0 ? params.participant0 : params.participant1;
        ctx.domainSeparator = _domainSeparatorV4();
    }

    /// @dev Verifies a chain piece (§4.3) and makes its last transfer payer's proven head.
    function _extendChain(
        ChainVerifier.Context memory ctx,
        bytes calldata startBody,
        bytes32 otherHead,
        bytes calldata startLocks,
        bytes calldata transfers
    ) private {
        uint256 recordWord = _requireLiveWord(ctx.channelId);
        OnchainHead memory anchor = _onchainHead(ctx.channelId, recordWord, _states[ctx.channelId], ctx.payer);
        ChainVerifier.PayerState memory state = _chainStart(ctx, startBody, startLocks);
        state = _verifyPiece(ctx, anchor, state, transfers, otherHead);
        _writeProven(ctx.channelId, recordWord, ctx.payer, state.seq, state.head);
        emit ChainExtended(ctx.channelId, ctx.payer, anchor.seq, state.seq);
    }

    function _offsetOf(bytes calldata data) private pure returns (uint256 offset) {
        assembly ("memory-safe") {
            offset := data.offset
        }
    }

    /// @dev Records payer's new head in its proven word and flags the record once.
    function _writeProven(bytes32 channelId, uint256 recordWord, uint8 payer, uint32 seq, bytes32 head) private {
        _proven[channelId][payer] = StateWords.packProven(seq, head);
        if (!ChannelRecords.hasProofs(recordWord)) _records[channelId] = ChannelRecords.withProofs(recordWord);
    }

    /// @dev The state a chain piece starts from: a transfer of payer's chain (authenticated later by the piece
    /// running through the on-chain head) or genesis, with its pending-lock list.
    function _chainStart(
        ChainVerifier.Context memory ctx,
        bytes calldata startBody,
        bytes calldata startLocks
    ) private pure returns (ChainVerifier.PayerState memory state) {
        if (startBody.length != 0) {
            _requireLength(startBody.length, PackedRecords.TRANSFER_BODY_LENGTH);
            TransferBody memory body = PackedRecords.readBody(startBody, 0);
            if (body.seq == 0) revert StateMismatch(ctx.channelId);
            state.seq = body.seq;
            state.head = ParsecHashing.transferHash(ctx.channelId, ctx.payer, body);
            state.paidTotal = body.paidTotal;
            state.lockedTotal = body.lockedTotal;
            state.locksRoot = body.locksRoot;
        }
        if (startLocks.length % LockList.LOCK_LENGTH != 0) {
            revert MalformedRecord(startLocks.length, LockList.LOCK_LENGTH);
        }
        state.locks = startLocks;
        if (LockList.root(state.locks) != state.locksRoot) revert LocksMismatch(state.locksRoot);
    }

    /// @dev The checkpoint heads a settlement names must open the checkpoint word (both zero without one);
    /// returns that word.
    function _requireCheckpointHeads(
        bytes32 channelId,
        bytes32 head0,
        bytes32 head1
    ) private view returns (uint256 word) {
        word = _states[channelId];
        bool matches =
            word == 0
                ? head0 == 0 && head1 == 0
                : ParsecHashing.commitment(head0, head1) == StateWords.commitment(word);
        if (!matches) revert StateMismatch(channelId);
    }

    /// @dev Reads the body of payer's on-chain head at settlement; `checkpointHead` is the checkpoint's head.
    function _openSettledHead(
        bytes32 channelId,
        uint256 recordWord,
        uint256 checkpointWord,
        uint8 payer,
        bytes calldata data,
        bytes32 checkpointHead
    ) private view returns (TransferBody memory body) {
        OnchainHead memory head = _onchainHead(channelId, recordWord, checkpointWord, payer);
        body = _openHead(channelId, head.seq, data);
        if (head.seq == 0) return body;
        bytes32 hash = ParsecHashing.transferHash(channelId, payer, body);
        bool matches = head.proven ? StateWords.provenHeadIs(head.provenWord, hash) : hash == checkpointHead;
        if (!matches) revert StateMismatch(channelId);
    }

    /// @dev A cooperative close must not name an older state of either payer's chain than the on-chain one.
    function _requireCloseNotStale(
        bytes32 channelId,
        uint256 recordWord,
        uint256 checkpointWord,
        CooperativeCloseTerms calldata terms
    ) private view {
        uint32 onchain0 = StateWords.checkpointSeq(checkpointWord, 0);
        uint32 onchain1 = StateWords.checkpointSeq(checkpointWord, 1);
        if (ChannelRecords.hasProofs(recordWord)) {
            uint256[2] storage proven = _proven[channelId];
            uint32 proven0 = StateWords.provenSeq(proven[0]);
            uint32 proven1 = StateWords.provenSeq(proven[1]);
            if (proven0 > onchain0) onchain0 = proven0;
            if (proven1 > onchain1) onchain1 = proven1;
        }
        if (terms.seq0 < onchain0) revert CooperativeCloseStale(0, terms.seq0, onchain0);
        if (terms.seq1 < onchain1) revert CooperativeCloseStale(1, terms.seq1, onchain1);
    }

    /// @dev What one `resolveLocks` call decides.
    struct LockOutcome {
        /// @dev Bit i: lock i resolved by this call.
        uint64 resolved;
        uint256 toPayee;
        uint256 toPayer;
        /// @dev The part of the pot no lock of the list covers (a head whose lockedTotal exceeds its list).
        uint256 uncovered;
    }

    /// @dev Decides each unresolved lock whose outcome is known. Lock i's share of the pot is fixed by the
    /// list alone, `min(amount_i, pot − amounts before i)` (zero once the pot is used up), so shares never
    /// sum above the pot and do not depend on the order in which locks are resolved.
    function _resolveLockList(
        bytes calldata locks,
        bytes32[] calldata preimages,
        uint256 pot,
        uint64 alreadyResolved
    ) private view returns (LockOutcome memory outcome) {
        uint256 n = locks.length / LockList.LOCK_LENGTH;
        uint256 before;
        for (uint256 i = 0; i < n; ++i) {
            uint256 amount;
            // A lock is `amount:uint128 expiry:uint64 hashlock:bytes32`, read in place.
            assembly ("memory-safe") {
                amount := shr(128, calldataload(add(locks.offset, mul(i, 56))))
            }
            uint256 share = pot > before ? pot - before : 0;
            if (amount < share) share = amount;
            // At most 64 amounts of 128 bits: the running sum cannot overflow.
            unchecked {
                before += amount;
            }
            if (alreadyResolved & (1 << i) != 0) continue;
            if (share != 0) {
                uint256 decision = _decideLock(locks, i, preimages.length == 0 ? bytes32(0) : preimages[i]);
                // Open: its payee may still reveal the secret by the expiry. It blocks no other lock.
                if (decision == LOCK_OPEN) continue;
                if (decision == LOCK_TO_PAYEE) outcome.toPayee += share;
                else outcome.toPayer += share;
            }
            outcome.resolved |= uint64(1 << i);
        }
        if (pot > before) outcome.uncovered = pot - before;
    }

    /// @dev Stores which locks are resolved, and the pot without its uncovered part (paid now); clears the
    /// payer's entry once every lock is resolved.
    function _recordResolution(
        PendingLocks storage pending,
        uint8 payer,
        uint256 n,
        uint64 resolved,
        uint256 pot
    ) private {
        bool done = uint256(resolved) == (1 << n) - 1;
        if (payer == 0) {
            if (done) (pending.locksRoot0, pending.pot0, pending.resolved0) = (0, 0, 0);
            else (pending.pot0, pending.resolved0) = (uint128(pot), resolved);
        } else {
            if (done) (pending.locksRoot1, pending.pot1, pending.resolved1) = (0, 0, 0);
            else (pending.pot1, pending.resolved1) = (uint128(pot), resolved);
        }
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

    /// @dev Where lock `i` of a packed list goes now: to the payee if its preimage is shown now before its
    /// expiry or was registered by then, to the payer once it expired unrevealed, else nowhere yet.
    function _decideLock(bytes calldata locks, uint256 i, bytes32 preimage) private view returns (uint256) {
        uint64 expiry;
        bytes32 hashlock;
        assembly ("memory-safe") {
            let p := add(locks.offset, mul(i, 56))
            expiry := shr(192, calldataload(add(p, 16)))
            hashlock := calldataload(add(p, 24))
        }
        if (preimage != 0 && block.timestamp <= expiry) {
            bool ok;
            bytes32 digest;
            // sha256 precompile on the scratch space: no allocation per lock.
            assembly ("memory-safe") {
                mstore(0, preimage)
                ok := staticcall(gas(), 0x02, 0, 0x20, 0, 0x20)
                digest := mload(0)
            }
            if (ok && digest == hashlock) return LOCK_TO_PAYEE;
        }
        uint256 revealed = _revealedAt[hashlock];
        if (revealed != 0 && revealed <= expiry) return LOCK_TO_PAYEE;
        return block.timestamp > expiry ? LOCK_TO_PAYER : LOCK_OPEN;
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
        return _isLiveWord(_records[channelId]);
    }

    function _isLiveWord(uint256 recordWord) private pure returns (bool) {
        ChannelStatus status = ChannelRecords.status(recordWord);
        return status == ChannelStatus.Open || status == ChannelStatus.Closing;
    }

    /// @dev The record word of a live channel (else `ChannelNotInStatus`).
    function _requireLiveWord(bytes32 channelId) private view returns (uint256 word) {
        word = _records[channelId];
        if (!_isLiveWord(word)) revert ChannelNotInStatus(channelId, uint8(ChannelRecords.status(word)));
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
