// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ChannelRecord, ChannelStatus} from "./ParsecTypes.sol";

/// @title ChannelRecords
/// @notice Packs a `ChannelRecord` into the one storage word each channel keeps (docs/protocol.md §1):
/// `deposit0:uint96 | deposit1:uint96 | closesAt:uint40 | status:uint8 | isToken:uint8 | hasProofs:uint8`,
/// low bits first.
/// @dev Explicit packing lets the hottest calls (open, deposit) touch the word once and nothing else.
library ChannelRecords {
    uint256 internal constant DEPOSIT_BITS = 96;
    uint256 internal constant DEPOSIT_MASK = (1 << DEPOSIT_BITS) - 1;
    uint256 internal constant CLOSES_AT_SHIFT = 192;
    uint256 internal constant CLOSES_AT_MASK = (1 << 40) - 1;
    uint256 internal constant STATUS_SHIFT = 232;
    uint256 internal constant IS_TOKEN_SHIFT = 240;
    uint256 internal constant HAS_PROOFS_SHIFT = 248;
    uint256 internal constant BYTE_MASK = 0xff;

    /// @notice The word of a freshly opened channel.
    function opened(uint256 deposit0, bool tokenAsset) internal pure returns (uint256) {
        return deposit0 | (uint256(ChannelStatus.Open) << STATUS_SHIFT) | (_flag(tokenAsset) << IS_TOKEN_SHIFT);
    }

    /// @notice The status stored in `word`.
    function status(uint256 word) internal pure returns (ChannelStatus) {
        return ChannelStatus((word >> STATUS_SHIFT) & BYTE_MASK);
    }

    /// @notice Whether the channel's asset is a token.
    function isToken(uint256 word) internal pure returns (bool) {
        return (word >> IS_TOKEN_SHIFT) & BYTE_MASK != 0;
    }

    /// @notice Whether a head proof or chain extension has written a proven head for the channel.
    function hasProofs(uint256 word) internal pure returns (bool) {
        return (word >> HAS_PROOFS_SHIFT) & BYTE_MASK != 0;
    }

    /// @notice `word` with the proofs flag set.
    function withProofs(uint256 word) internal pure returns (uint256) {
        return word | (uint256(1) << HAS_PROOFS_SHIFT);
    }

    /// @notice `word` with its status replaced by `newStatus`.
    function withStatus(uint256 word, ChannelStatus newStatus) internal pure returns (uint256) {
        return (word & ~(BYTE_MASK << STATUS_SHIFT)) | (uint256(newStatus) << STATUS_SHIFT);
    }

    /// @notice The deposit of `side` (0 or 1).
    function depositOf(uint256 word, uint8 side) internal pure returns (uint256) {
        return (word >> (side == 0 ? 0 : DEPOSIT_BITS)) & DEPOSIT_MASK;
    }

    /// @notice The record as a struct.
    function unpack(uint256 word) internal pure returns (ChannelRecord memory record) {
        record.deposit0 = uint96(word);
        record.deposit1 = uint96(word >> DEPOSIT_BITS);
        record.closesAt = uint40(word >> CLOSES_AT_SHIFT);
        record.status = status(word);
        record.isToken = isToken(word);
        record.hasProofs = hasProofs(word);
    }

    /// @notice The word of a record.
    function pack(ChannelRecord memory record) internal pure returns (uint256) {
        return
            uint256(record.deposit0) |
            (uint256(record.deposit1) << DEPOSIT_BITS) |
            (uint256(record.closesAt) << CLOSES_AT_SHIFT) |
            (uint256(record.status) << STATUS_SHIFT) |
            (_flag(record.isToken) << IS_TOKEN_SHIFT) |
            (_flag(record.hasProofs) << HAS_PROOFS_SHIFT);
    }

    function _flag(bool value) private pure returns (uint256) {
        return value ? 1 : 0;
    }
}
