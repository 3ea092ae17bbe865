// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {MessageHashUtils} from "@openzeppelin/contracts/utils/cryptography/MessageHashUtils.sol";
import {IParsecChannels} from "../interfaces/IParsecChannels.sol";
import {LockList} from "./LockList.sol";
import {PackedRecords} from "./PackedRecords.sol";
import {ParsecHashing} from "./ParsecHashing.sol";
import {TransferBody, TransferKind} from "./ParsecTypes.sol";
import {SignatureCheck} from "./SignatureCheck.sol";

/// @title ChainVerifier
/// @notice Verifies a payer's chain of signed transfers step by step (docs/protocol.md §3 and §4.3).
library ChainVerifier {
    /// @notice A payer's state after some transfer: what the next one must follow from.
    struct PayerState {
        uint32 seq;
        bytes32 head;
        uint256 paidTotal;
        uint256 lockedTotal;
        bytes32 locksRoot;
        /// @dev The packed pending-lock list that `locksRoot` hashes.
        bytes locks;
    }

    /// @notice What the verifier needs besides the chain: who signs, where, and the payee's consents.
    struct Context {
        bytes32 channelId;
        uint8 payer;
        address signer;
        bytes32 domainSeparator;
        /// @dev Who signs `CancelConsent`s; read only when a consent is looked up.
        address payee;
        /// @dev Calldata offset and length of the packed `CancelConsentRecord`s (length 0: none given).
        uint256 consentsOffset;
        uint256 consentsLength;
    }

    /// @dev Outcomes of the inline step (`_payStep`).
    uint256 private constant STEP_APPLIED = 0;
    uint256 private constant STEP_NOT_A_PAY = 1;
    uint256 private constant STEP_SEQ_GAP = 2;
    uint256 private constant STEP_BROKEN_POINTER = 3;
    uint256 private constant STEP_TOTALS_MISMATCH = 4;

    /// @notice Verifies packed `SignedTransfer`s continuing `state` and returns the state after the last.
    /// @param revealedAt The secret registry, to judge CANCEL operations.
    function verify(
        Context memory ctx,
        PayerState memory state,
        bytes calldata transfers,
        mapping(bytes32 => uint256) storage revealedAt
    ) internal view returns (PayerState memory) {
        if (transfers.length == 0) revert IParsecChannels.EmptyChain();
        if (transfers.length % PackedRecords.SIGNED_TRANSFER_LENGTH != 0) {
            revert IParsecChannels.MalformedRecord(transfers.length, PackedRecords.SIGNED_TRANSFER_LENGTH);
        }
        // The transfer hash covers 13 words: type hash, channel id, payer, then the body's ten fields.
        // One buffer holds them for every step, so the loop allocates nothing and hashes in place.
        bytes32[13] memory preimage;
        preimage[0] = ParsecHashing.TRANSFER_TYPEHASH;
        preimage[1] = ctx.channelId;
        preimage[2] = bytes32(uint256(ctx.payer));
        TransferBody memory t;
        assembly ("memory-safe") {
            t := add(preimage, 0x60)
        }
        for (uint256 offset = 0; offset < transfers.length; offset += PackedRecords.SIGNED_TRANSFER_LENGTH) {
            bytes32 hash;
            {
                uint256 step;
                (step, hash) = _payStep(state, t, transfers, offset, preimage);
                if (step != STEP_APPLIED) hash = _slowStep(ctx, state, t, step, revealedAt);
            }
            if (
                !SignatureCheck.signedBy(
                    MessageHashUtils.toTypedDataHash(ctx.domainSeparator, hash),
                    transfers,
                    offset + PackedRecords.TRANSFER_BODY_LENGTH,
                    ctx.signer
                )
            ) revert IParsecChannels.InvalidSignature(ctx.signer);
            state.seq = t.seq;
            state.head = hash;
        }
        return state;
    }

    /// @dev Reads the transfer at `offset` into `t` and, when it is a well-formed PAY that follows `state`,
    /// applies it and returns its hash. PAY is nearly every step of a dispute, so this path is inline
    /// assembly; anything else (lock operations, and every failure, for its precise error) goes to
    /// `_slowStep`. Reads `state.seq`, `state.head`, `state.paidTotal`, `lockedTotal` and `locksRoot`.
    function _payStep(
        PayerState memory state,
        TransferBody memory t,
        bytes calldata transfers,
        uint256 offset,
        bytes32[13] memory preimage
    ) private pure returns (uint256 step, bytes32 hash) {
        assembly ("memory-safe") {
            let p := add(transfers.offset, offset)
            mstore(t, shr(224, calldataload(p))) // seq
            mstore(add(t, 0x20), shr(248, calldataload(add(p, 4)))) // kind
            mstore(add(t, 0x40), shr(128, calldataload(add(p, 5)))) // amount
            mstore(add(t, 0x60), shr(128, calldataload(add(p, 21)))) // paidTotal
            mstore(add(t, 0x80), shr(128, calldataload(add(p, 37)))) // lockedTotal
            mstore(add(t, 0xa0), calldataload(add(p, 53))) // locksRoot
            mstore(add(t, 0xc0), calldataload(add(p, 85))) // hashlock
            mstore(add(t, 0xe0), shr(192, calldataload(add(p, 117)))) // expiry
            mstore(add(t, 0x100), calldataload(add(p, 125))) // invoiceId
            mstore(add(t, 0x120), calldataload(add(p, 157))) // prev
            step := STEP_NOT_A_PAY
            // A well-formed PAY: kind 0, amount > 0, no hashlock, no expiry.
            if iszero(
                or(or(mload(add(t, 0x20)), iszero(mload(add(t, 0x40)))), or(mload(add(t, 0xc0)), mload(add(t, 0xe0))))
            ) {
                // PayerState words: seq, head, paidTotal, lockedTotal, locksRoot.
                let paid := add(mload(add(state, 0x40)), mload(add(t, 0x40)))
                step := STEP_APPLIED
                if iszero(
                    and(
                        eq(mload(add(t, 0x60)), paid),
                        and(
                            eq(mload(add(t, 0x80)), mload(add(state, 0x60))),
                            eq(mload(add(t, 0xa0)), mload(add(state, 0x80)))
                        )
                    )
                ) {
                    step := STEP_TOTALS_MISMATCH
                }
                if iszero(eq(mload(add(t, 0x120)), mload(add(state, 0x20)))) {
                    step := STEP_BROKEN_POINTER
                }
                if iszero(eq(mload(t), add(mload(state), 1))) {
                    step := STEP_SEQ_GAP
                }
                if iszero(step) {
                    mstore(add(state, 0x40), paid)
                    hash := keccak256(preimage, 0x1a0)
                }
            }
        }
    }

    /// @dev Verifies and applies a step the inline path did not, reverting with the precise reason.
    function _slowStep(
        Context memory ctx,
        PayerState memory state,
        TransferBody memory t,
        uint256 step,
        mapping(bytes32 => uint256) storage revealedAt
    ) private view returns (bytes32) {
        // Widened so that a head at seq 2^32 - 1 reports a gap instead of overflowing.
        if (uint256(t.seq) != uint256(state.seq) + 1) {
            uint32 expected;
            // Wraps to 0 after 2^32 - 1: no seq can follow it.
            unchecked {
                expected = state.seq + 1;
            }
            revert IParsecChannels.SeqGap(expected, t.seq);
        }
        if (t.prev != state.head) revert IParsecChannels.BrokenHashPointer(t.seq);
        bool needsConsent = false;
        if (step == STEP_NOT_A_PAY) {
            needsConsent = _applyLockOperation(state, t, revealedAt);
        } else {
            // A well-formed PAY whose totals did not match: judge them against what the PAY should make them.
            state.paidTotal += t.amount;
        }
        if (t.paidTotal != state.paidTotal) {
            revert IParsecChannels.PaidTotalMismatch(t.seq, state.paidTotal, t.paidTotal);
        }
        if (t.lockedTotal != state.lockedTotal) {
            revert IParsecChannels.LockedTotalMismatch(t.seq, state.lockedTotal, t.lockedTotal);
        }
        if (t.locksRoot != state.locksRoot) revert IParsecChannels.LocksRootMismatch(t.seq);
        bytes32 hash = ParsecHashing.transferHash(ctx.channelId, ctx.payer, t);
        if (needsConsent && !_payeeConsented(ctx, t, hash)) revert IParsecChannels.CancelNotAllowed(t.seq);
        return hash;
    }

    /// @dev Applies LOCK, UNLOCK or CANCEL to `state` (and rejects a malformed PAY or an unknown kind).
    /// @return needsConsent Whether it is a CANCEL the payer may not make alone (§3): it counts only with
    /// the payee's consent, checked once the transfer's hash is known.
    function _applyLockOperation(
        ChainVerifier.PayerState memory state,
        TransferBody memory t,
        mapping(bytes32 => uint256) storage revealedAt
    ) private view returns (bool needsConsent) {
        if (t.kind > uint8(type(TransferKind).max)) revert IParsecChannels.UnknownKind(t.seq, t.kind);
        TransferKind kind = TransferKind(t.kind);
        if (kind == TransferKind.Pay || t.amount == 0 || t.hashlock == 0 || t.expiry == 0) {
            revert IParsecChannels.InvalidTransferFields(t.seq, t.kind);
        }
        if (kind == TransferKind.Lock) {
            if (LockList.count(state.locks) >= LockList.MAX_PENDING_LOCKS) revert IParsecChannels.TooManyLocks(t.seq);
            state.locks = LockList.append(state.locks, t.amount, t.expiry, t.hashlock);
            state.lockedTotal += t.amount;
        } else {
            bool found;
            (state.locks, found) = LockList.remove(state.locks, t.amount, t.expiry, t.hashlock);
            if (!found) revert IParsecChannels.LockNotPending(t.seq);
            // A head may declare a lockedTotal below its own list; say so instead of underflowing.
            if (state.lockedTotal < t.amount) {
                revert IParsecChannels.LockedTotalMismatch(t.seq, state.lockedTotal, t.lockedTotal);
            }
            state.lockedTotal -= t.amount;
            if (kind == TransferKind.Unlock) {
                state.paidTotal += t.amount;
            } else {
                // A payer may take a lock back on its own only once it expired unrevealed; the payee could not
                // have objected to a CANCEL submitted here, so the contract judges it instead, unless the
                // payee consented to this very CANCEL (then it counts, whatever the secret's fate).
                uint256 revealed = revealedAt[t.hashlock];
                bool revealedInTime = revealed != 0 && revealed <= t.expiry;
                needsConsent = block.timestamp <= t.expiry || revealedInTime;
            }
        }
        state.locksRoot = LockList.root(state.locks);
    }

    /// @dev Whether the consents hold the payee's `CancelConsent` to the CANCEL `t` (transfer hash `hash`).
    /// The first record naming `t.seq` decides: a signature that is not the payee's reverts
    /// `InvalidCancelConsent` rather than looking further, so a bad consent is reported, not passed over.
    function _payeeConsented(Context memory ctx, TransferBody memory t, bytes32 hash) private view returns (bool) {
        // Calldata positions: neither the end nor the step can overflow.
        unchecked {
            uint256 end = ctx.consentsOffset + ctx.consentsLength;
            for (uint256 at = ctx.consentsOffset; at < end; at += PackedRecords.CANCEL_CONSENT_RECORD_LENGTH) {
                uint256 seq;
                assembly ("memory-safe") {
                    seq := shr(224, calldataload(at))
                }
                if (seq != t.seq) continue;
                bytes32 digest = ParsecHashing.cancelConsentDigest(
                    ctx.domainSeparator,
                    ctx.channelId,
                    ctx.payer,
                    t,
                    hash
                );
                if (!SignatureCheck.signedAt(digest, at + 4, ctx.payee)) {
                    revert IParsecChannels.InvalidCancelConsent(t.seq, ctx.payee);
                }
                return true;
            }
        }
        return false;
    }
}
