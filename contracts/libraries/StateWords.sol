// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title StateWords
/// @notice The two kinds of per-channel state word (docs/protocol.md §1 and §4).
/// @dev The checkpoint word `seq0:uint32 | seq1:uint32 | commitment:uint192` (high bits first) is what a
/// co-signed checkpoint writes: one storage word for both heads keeps the hot path cheap. A proven word
/// `seq:uint32 | head:uint224` per payer is what head proofs and chain extensions write: it names one
/// payer's head only, so evidence about one chain never depends on the other chain's head and the
/// counterparty cannot invalidate it by moving that other head first. A payer's on-chain head is whichever
/// of the two has the higher seq. Zero means "nothing written".
library StateWords {
    uint256 private constant SEQ0_SHIFT = 224;
    uint256 private constant SEQ1_SHIFT = 192;
    uint256 private constant PROVEN_SEQ_SHIFT = 224;

    /// @notice The checkpoint word of two seqs and the commitment to both heads.
    function packCheckpoint(uint32 seq0, uint32 seq1, uint192 headsCommitment) internal pure returns (uint256) {
        return (uint256(seq0) << SEQ0_SHIFT) | (uint256(seq1) << SEQ1_SHIFT) | headsCommitment;
    }

    /// @notice Payer's seq in a checkpoint word.
    function checkpointSeq(uint256 word, uint8 payer) internal pure returns (uint32) {
        return uint32(word >> (payer == 0 ? SEQ0_SHIFT : SEQ1_SHIFT));
    }

    /// @notice The commitment a checkpoint word keeps.
    function commitment(uint256 word) internal pure returns (uint192) {
        return uint192(word);
    }

    /// @notice A checkpoint is newer when neither seq goes back and at least one moves forward.
    function isNewerCheckpoint(uint256 word, uint32 seq0, uint32 seq1) internal pure returns (bool) {
        uint32 onchain0 = checkpointSeq(word, 0);
        uint32 onchain1 = checkpointSeq(word, 1);
        return seq0 >= onchain0 && seq1 >= onchain1 && (seq0 != onchain0 || seq1 != onchain1);
    }

    /// @notice The proven word of one payer's head.
    function packProven(uint32 seq, bytes32 head) internal pure returns (uint256) {
        return (uint256(seq) << PROVEN_SEQ_SHIFT) | uint224(uint256(head));
    }

    /// @notice The seq in a proven word.
    function provenSeq(uint256 word) internal pure returns (uint32) {
        return uint32(word >> PROVEN_SEQ_SHIFT);
    }

    /// @notice Whether `head` is the head a proven word keeps (its low 224 bits).
    function provenHeadIs(uint256 word, bytes32 head) internal pure returns (bool) {
        return uint224(word) == uint224(uint256(head));
    }
}
