// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {LockList} from "./libraries/LockList.sol";
import {PackedRecords} from "./libraries/PackedRecords.sol";
import {ParsecHashing} from "./libraries/ParsecHashing.sol";
import {CooperativeCloseTerms} from "./libraries/ParsecTypes.sol";

/// @title ParsecEncoding
/// @notice Pure helpers a client implementation calls to check its own encodings against the contracts'
/// (docs/protocol.md §2, §3 and §6): struct hashes, the checkpoint commitment and the locks root. It holds
/// no state and no money; deploy it anywhere (or call it with a state override). `ParsecChannels` keeps the
/// domain-bound helpers (`typedDataDigest`, `channelIdOf`, `eip712Domain`).
/// @dev Kept out of `ParsecChannels` so that the channel contract stays under the 24,576-byte code limit.
contract ParsecEncoding {
    /// @notice The transfer hash (EIP-712 struct hash) of a packed 189-byte `TransferBody` of `payer`.
    function hashTransfer(bytes32 channelId, uint8 payer, bytes calldata body) external pure returns (bytes32) {
        if (body.length != PackedRecords.TRANSFER_BODY_LENGTH) revert MalformedBody(body.length);
        return ParsecHashing.transferHash(channelId, payer, PackedRecords.readBody(body, 0));
    }

    /// @notice The struct hash of a `Checkpoint`.
    function hashCheckpoint(
        bytes32 channelId,
        uint32 seq0,
        bytes32 head0,
        uint32 seq1,
        bytes32 head1
    ) external pure returns (bytes32) {
        return ParsecHashing.checkpointHash(channelId, seq0, head0, seq1, head1);
    }

    /// @notice The struct hash of a `CooperativeClose` with these terms.
    function hashCooperativeClose(
        bytes32 channelId,
        CooperativeCloseTerms calldata terms
    ) external pure returns (bytes32) {
        return ParsecHashing.cooperativeCloseHash(channelId, terms);
    }

    /// @notice The struct hash of a `Withdraw`.
    function hashWithdraw(
        bytes32 channelId,
        uint32 nonce,
        uint128 amount0,
        uint128 amount1,
        uint64 expiry
    ) external pure returns (bytes32) {
        return ParsecHashing.withdrawHash(channelId, nonce, amount0, amount1, expiry);
    }

    /// @notice The `locksRoot` of a packed pending-lock list (zero for the empty list).
    function locksRootOf(bytes calldata locks) external pure returns (bytes32) {
        return LockList.root(locks);
    }

    /// @notice The commitment the checkpoint word keeps for two heads.
    function commitmentOf(bytes32 head0, bytes32 head1) external pure returns (uint192) {
        return ParsecHashing.commitment(head0, head1);
    }

    /// @notice A `TransferBody` must be exactly 189 bytes.
    error MalformedBody(uint256 length);
}
