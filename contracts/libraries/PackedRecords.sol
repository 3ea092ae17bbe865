// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ChannelParams, CheckpointHeads, Lock, Signature, TransferBody} from "./ParsecTypes.sol";

/// @title PackedRecords
/// @notice Reads the packed calldata records of docs/protocol.md §6.
/// @dev Packed records cost a fraction of ABI-encoded structs in calldata (no 32-byte padding), which is
/// what keeps batches and dispute chains cheap. Callers check lengths first; readers do not.
library PackedRecords {
    uint256 internal constant TRANSFER_BODY_LENGTH = 189;
    uint256 internal constant SIGNATURE_LENGTH = 65;
    uint256 internal constant SIGNED_TRANSFER_LENGTH = TRANSFER_BODY_LENGTH + SIGNATURE_LENGTH;
    uint256 internal constant ADDRESS_LENGTH = 20;
    uint256 internal constant PARAMS_LENGTH = 72;
    uint256 internal constant CHECKPOINT_HEADS_LENGTH = 72;
    uint256 internal constant CHECKPOINT_RECORD_LENGTH = PARAMS_LENGTH + CHECKPOINT_HEADS_LENGTH + 2 * SIGNATURE_LENGTH;
    uint256 internal constant HEAD_PROOF_RECORD_LENGTH = PARAMS_LENGTH + 1 + SIGNED_TRANSFER_LENGTH;
    uint256 internal constant LOCK_LENGTH = 56;
    /// @dev `seq:u32 signature:65`: the payee's consent to payer's CANCEL at `seq`.
    uint256 internal constant CANCEL_CONSENT_RECORD_LENGTH = 4 + SIGNATURE_LENGTH;

    /// @notice Reads a `TransferBody` at `offset` of `data`.
    function readBody(bytes calldata data, uint256 offset) internal pure returns (TransferBody memory body) {
        readBodyInto(body, data, offset);
    }

    /// @notice Reads a `TransferBody` at `offset` of `data` into `body`, reusing its memory.
    function readBodyInto(TransferBody memory body, bytes calldata data, uint256 offset) internal pure {
        assembly ("memory-safe") {
            let p := add(data.offset, offset)
            mstore(body, shr(224, calldataload(p))) // seq
            mstore(add(body, 0x20), shr(248, calldataload(add(p, 4)))) // kind
            mstore(add(body, 0x40), shr(128, calldataload(add(p, 5)))) // amount
            mstore(add(body, 0x60), shr(128, calldataload(add(p, 21)))) // paidTotal
            mstore(add(body, 0x80), shr(128, calldataload(add(p, 37)))) // lockedTotal
            mstore(add(body, 0xa0), calldataload(add(p, 53))) // locksRoot
            mstore(add(body, 0xc0), calldataload(add(p, 85))) // hashlock
            mstore(add(body, 0xe0), shr(192, calldataload(add(p, 117)))) // expiry
            mstore(add(body, 0x100), calldataload(add(p, 125))) // invoiceId
            mstore(add(body, 0x120), calldataload(add(p, 157))) // prev
        }
    }

    /// @notice Reads a 65-byte `r || s || v` signature at `offset` of `data`.
    function readSignature(bytes calldata data, uint256 offset) internal pure returns (Signature memory sig) {
        assembly ("memory-safe") {
            let p := add(data.offset, offset)
            mstore(sig, calldataload(p))
            mstore(add(sig, 0x20), calldataload(add(p, 32)))
            mstore(add(sig, 0x40), shr(248, calldataload(add(p, 64))))
        }
    }

    /// @notice The channel id of the `PackedParams` at `offset` of `data` (as `ParsecHashing.channelId`).
    function readChannelId(bytes calldata data, uint256 offset) internal view returns (bytes32 id) {
        assembly ("memory-safe") {
            let p := add(data.offset, offset)
            let m := mload(0x40)
            mstore(m, chainid())
            mstore(add(m, 0x20), address())
            mstore(add(m, 0x40), shr(96, calldataload(p)))
            mstore(add(m, 0x60), shr(96, calldataload(add(p, 20))))
            mstore(add(m, 0x80), shr(96, calldataload(add(p, 40))))
            mstore(add(m, 0xa0), shr(224, calldataload(add(p, 60))))
            mstore(add(m, 0xc0), shr(192, calldataload(add(p, 64))))
            id := keccak256(m, 0xe0)
        }
    }

    /// @notice Reads the two participants of the `PackedParams` at `offset` of `data`.
    function readParticipants(
        bytes calldata data,
        uint256 offset
    ) internal pure returns (address participant0, address participant1) {
        assembly ("memory-safe") {
            let p := add(data.offset, offset)
            participant0 := shr(96, calldataload(p))
            participant1 := shr(96, calldataload(add(p, 20)))
        }
    }

    /// @notice Reads an address at `offset` of `data`.
    function readAddress(bytes calldata data, uint256 offset) internal pure returns (address value) {
        assembly ("memory-safe") {
            value := shr(96, calldataload(add(data.offset, offset)))
        }
    }

    /// @notice Reads `PackedParams` at `offset` of `data`.
    function readParams(bytes calldata data, uint256 offset) internal pure returns (ChannelParams memory params) {
        assembly ("memory-safe") {
            let p := add(data.offset, offset)
            mstore(params, shr(96, calldataload(p)))
            mstore(add(params, 0x20), shr(96, calldataload(add(p, 20))))
            mstore(add(params, 0x40), shr(96, calldataload(add(p, 40))))
            mstore(add(params, 0x60), shr(224, calldataload(add(p, 60))))
            mstore(add(params, 0x80), shr(192, calldataload(add(p, 64))))
        }
    }

    /// @notice Reads the `seq0 head0 seq1 head1` part of a `CheckpointRecord` at `offset` of `data`.
    function readCheckpointHeads(bytes calldata data, uint256 offset) internal pure returns (CheckpointHeads memory c) {
        assembly ("memory-safe") {
            let p := add(data.offset, offset)
            mstore(c, shr(224, calldataload(p)))
            mstore(add(c, 0x20), calldataload(add(p, 4)))
            mstore(add(c, 0x40), shr(224, calldataload(add(p, 36))))
            mstore(add(c, 0x60), calldataload(add(p, 40)))
        }
    }

    /// @notice Reads a `uint32` at `offset` of `data`.
    function readUint32(bytes calldata data, uint256 offset) internal pure returns (uint32 value) {
        assembly ("memory-safe") {
            value := shr(224, calldataload(add(data.offset, offset)))
        }
    }

    /// @notice Reads a `uint8` at `offset` of `data`.
    function readUint8(bytes calldata data, uint256 offset) internal pure returns (uint8 value) {
        assembly ("memory-safe") {
            value := shr(248, calldataload(add(data.offset, offset)))
        }
    }

    /// @notice Reads a `bytes32` at `offset` of `data`.
    function readBytes32(bytes calldata data, uint256 offset) internal pure returns (bytes32 value) {
        assembly ("memory-safe") {
            value := calldataload(add(data.offset, offset))
        }
    }

    /// @notice Reads a packed `Lock` at `offset` of `data` (calldata).
    function readLock(bytes calldata data, uint256 offset) internal pure returns (Lock memory lock) {
        assembly ("memory-safe") {
            let p := add(data.offset, offset)
            mstore(lock, shr(128, calldataload(p)))
            mstore(add(lock, 0x20), shr(192, calldataload(add(p, 16))))
            mstore(add(lock, 0x40), calldataload(add(p, 24)))
        }
    }
}
