// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {PackedRecords} from "../libraries/PackedRecords.sol";
import {ChannelParams, CheckpointHeads, Lock, Signature, TransferBody} from "../libraries/ParsecTypes.sol";

/// @notice Exposes the packed-record readers so tests can check them against the SDK's encoders (§6).
contract PackedRecordsHarness {
    function readBody(bytes calldata data, uint256 offset) external pure returns (TransferBody memory) {
        return PackedRecords.readBody(data, offset);
    }

    function readSignature(bytes calldata data, uint256 offset) external pure returns (Signature memory) {
        return PackedRecords.readSignature(data, offset);
    }

    function readParams(bytes calldata data, uint256 offset) external pure returns (ChannelParams memory) {
        return PackedRecords.readParams(data, offset);
    }

    function readChannelId(bytes calldata data, uint256 offset) external view returns (bytes32) {
        return PackedRecords.readChannelId(data, offset);
    }

    function readParticipants(bytes calldata data, uint256 offset) external pure returns (address, address) {
        return PackedRecords.readParticipants(data, offset);
    }

    function readAddress(bytes calldata data, uint256 offset) external pure returns (address) {
        return PackedRecords.readAddress(data, offset);
    }

    function readCheckpointHeads(bytes calldata data, uint256 offset) external pure returns (CheckpointHeads memory) {
        return PackedRecords.readCheckpointHeads(data, offset);
    }

    function readUint32(bytes calldata data, uint256 offset) external pure returns (uint32) {
        return PackedRecords.readUint32(data, offset);
    }

    function readLock(bytes calldata data, uint256 offset) external pure returns (Lock memory) {
        return PackedRecords.readLock(data, offset);
    }
}
