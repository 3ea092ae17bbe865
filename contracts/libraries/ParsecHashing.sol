// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ChannelParams, CooperativeCloseTerms, TransferBody} from "./ParsecTypes.sol";

/// @title ParsecHashing
/// @notice EIP-712 struct hashes of every signed Parsec message, channel ids and the state commitment.
/// @dev The type strings are the specification's (docs/protocol.md §2); the SDK hashes byte-identically.
library ParsecHashing {
    bytes32 internal constant TRANSFER_TYPEHASH = keccak256(
        "Transfer(bytes32 channelId,uint8 payer,uint32 seq,uint8 kind,uint128 amount,uint128 paidTotal,uint128 lockedTotal,bytes32 locksRoot,bytes32 hashlock,uint64 expiry,bytes32 invoiceId,bytes32 prev)"
    );
    bytes32 internal constant CHECKPOINT_TYPEHASH = keccak256(
        "Checkpoint(bytes32 channelId,uint32 seq0,bytes32 head0,uint32 seq1,bytes32 head1)"
    );
    bytes32 internal constant COOPERATIVE_CLOSE_TYPEHASH = keccak256(
        "CooperativeClose(bytes32 channelId,uint32 seq0,uint32 seq1,uint128 balance0,uint128 balance1,uint64 expiry)"
    );
    bytes32 internal constant WITHDRAW_TYPEHASH = keccak256(
        "Withdraw(bytes32 channelId,uint32 nonce,uint128 amount0,uint128 amount1,uint64 expiry)"
    );
    bytes32 internal constant CANCEL_CONSENT_TYPEHASH = keccak256(
        "CancelConsent(bytes32 channelId,uint8 payer,uint32 seq,uint128 amount,uint64 expiry,bytes32 hashlock,bytes32 transfer)"
    );

    /// @notice The id of a channel on this chain and contract.
    function channelId(ChannelParams memory params) internal view returns (bytes32 id) {
        // keccak256(abi.encode(chainid, this, params...)): the struct's five words follow the first two.
        assembly ("memory-safe") {
            let m := mload(0x40)
            mstore(m, chainid())
            mstore(add(m, 0x20), address())
            mcopy(add(m, 0x40), params, 0xa0)
            id := keccak256(m, 0xe0)
        }
    }

    /// @notice The transfer hash (EIP-712 struct hash) of a transfer of `payer` in channel `id`.
    function transferHash(bytes32 id, uint8 payer, TransferBody memory t) internal pure returns (bytes32 hash) {
        bytes32 typeHash = TRANSFER_TYPEHASH;
        // Hashes the struct in place: the 12 fields lie in memory as 32-byte words behind the two that
        // precede them, so one keccak over scratch memory avoids abi.encode's allocation per transfer.
        assembly ("memory-safe") {
            let m := mload(0x40)
            mstore(m, typeHash)
            mstore(add(m, 0x20), id)
            mstore(add(m, 0x40), payer)
            mcopy(add(m, 0x60), t, 0x140)
            hash := keccak256(m, 0x1a0)
        }
    }

    /// @notice The struct hash of a co-signed checkpoint.
    function checkpointHash(
        bytes32 id,
        uint32 seq0,
        bytes32 head0,
        uint32 seq1,
        bytes32 head1
    ) internal pure returns (bytes32 hash) {
        bytes32 typeHash = CHECKPOINT_TYPEHASH;
        assembly ("memory-safe") {
            let m := mload(0x40)
            mstore(m, typeHash)
            mstore(add(m, 0x20), id)
            mstore(add(m, 0x40), seq0)
            mstore(add(m, 0x60), head0)
            mstore(add(m, 0x80), seq1)
            mstore(add(m, 0xa0), head1)
            hash := keccak256(m, 0xc0)
        }
    }

    /// @notice The struct hash of a cooperative close.
    /// @dev Hashed straight from calldata: `terms` is a static struct, five words in order. A value with
    /// dirty high bits hashes to something nobody signed, so it fails the signature check.
    function cooperativeCloseHash(
        bytes32 id,
        CooperativeCloseTerms calldata terms
    ) internal pure returns (bytes32 hash) {
        bytes32 typeHash = COOPERATIVE_CLOSE_TYPEHASH;
        assembly ("memory-safe") {
            let m := mload(0x40)
            mstore(m, typeHash)
            mstore(add(m, 0x20), id)
            calldatacopy(add(m, 0x40), terms, 0xa0)
            hash := keccak256(m, 0xe0)
        }
    }

    /// @notice The struct hash of a withdrawal while open.
    function withdrawHash(
        bytes32 id,
        uint32 nonce,
        uint128 amount0,
        uint128 amount1,
        uint64 expiry
    ) internal pure returns (bytes32) {
        return keccak256(abi.encode(WITHDRAW_TYPEHASH, id, nonce, amount0, amount1, expiry));
    }

    /// @notice The EIP-712 digest of a payee's consent to the CANCEL `t` (transfer hash `transfer`) of `payer`.
    /// @dev Struct hash (seven words behind the type hash; the lock fields are the transfer's own, so a consent
    /// names exactly one CANCEL of one chain) and digest in one piece of scratch memory: the consent path
    /// then adds no call site to the helpers the hot paths inline.
    function cancelConsentDigest(
        bytes32 domainSeparator,
        bytes32 id,
        uint8 payer,
        TransferBody memory t,
        bytes32 transfer
    ) internal pure returns (bytes32 digest) {
        bytes32 typeHash = CANCEL_CONSENT_TYPEHASH;
        assembly ("memory-safe") {
            let m := mload(0x40)
            mstore(m, typeHash)
            mstore(add(m, 0x20), id)
            mstore(add(m, 0x40), payer)
            mstore(add(m, 0x60), mload(t)) // seq
            mstore(add(m, 0x80), mload(add(t, 0x40))) // amount
            mstore(add(m, 0xa0), mload(add(t, 0xe0))) // expiry
            mstore(add(m, 0xc0), mload(add(t, 0xc0))) // hashlock
            mstore(add(m, 0xe0), transfer)
            let structHash := keccak256(m, 0x100)
            mstore(m, hex"1901")
            mstore(add(m, 0x02), domainSeparator)
            mstore(add(m, 0x22), structHash)
            digest := keccak256(m, 0x42)
        }
    }

    /// @notice The 192-bit commitment to both payers' heads kept in the channel's state word.
    function commitment(bytes32 head0, bytes32 head1) internal pure returns (uint192 c) {
        assembly ("memory-safe") {
            mstore(0x00, head0)
            mstore(0x20, head1)
            c := and(keccak256(0x00, 0x40), 0xffffffffffffffffffffffffffffffffffffffffffffffff)
        }
    }
}
