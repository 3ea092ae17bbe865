// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title LockList
/// @notice A payer's pending locks as the packed list that `locksRoot` hashes (docs/protocol.md §3).
/// @dev The list lives in memory as its own packed encoding (56 bytes per lock), so its root is one keccak
/// over the bytes and no conversion is needed. Lists are bounded by `MAX_PENDING_LOCKS`.
library LockList {
    uint256 internal constant LOCK_LENGTH = 56;
    uint256 internal constant MAX_PENDING_LOCKS = 64;

    /// @notice The `locksRoot` of a packed list: zero for the empty list.
    function root(bytes memory list) internal pure returns (bytes32) {
        return list.length == 0 ? bytes32(0) : keccak256(list);
    }

    /// @notice The number of locks in a packed list.
    function count(bytes memory list) internal pure returns (uint256) {
        return list.length / LOCK_LENGTH;
    }

    /// @notice The packed encoding of one lock.
    function encode(uint128 amount, uint64 expiry, bytes32 hashlock) internal pure returns (bytes memory) {
        return abi.encodePacked(amount, expiry, hashlock);
    }

    /// @notice `list` with one lock appended.
    function append(
        bytes memory list,
        uint128 amount,
        uint64 expiry,
        bytes32 hashlock
    ) internal pure returns (bytes memory) {
        return bytes.concat(list, encode(amount, expiry, hashlock));
    }

    /// @notice `list` without the first lock equal to `(amount, expiry, hashlock)`.
    /// @return rest The remaining list, in order.
    /// @return found Whether such a lock was pending.
    function remove(
        bytes memory list,
        uint128 amount,
        uint64 expiry,
        bytes32 hashlock
    ) internal pure returns (bytes memory rest, bool found) {
        bytes32 wanted = keccak256(encode(amount, expiry, hashlock));
        uint256 n = count(list);
        for (uint256 i = 0; i < n; ++i) {
            uint256 start = i * LOCK_LENGTH;
            bytes32 candidate;
            assembly ("memory-safe") {
                candidate := keccak256(add(add(list, 0x20), start), LOCK_LENGTH)
            }
            if (candidate == wanted) {
                rest = new bytes(list.length - LOCK_LENGTH);
                assembly ("memory-safe") {
                    let src := add(list, 0x20)
                    let dst := add(rest, 0x20)
                    mcopy(dst, src, start)
                    mcopy(add(dst, start), add(src, add(start, LOCK_LENGTH)), sub(mload(list), add(start, LOCK_LENGTH)))
                }
                return (rest, true);
            }
        }
        return (list, false);
    }
}
