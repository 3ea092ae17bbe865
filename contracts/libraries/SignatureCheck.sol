// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title SignatureCheck
/// @notice Checks a packed 65-byte `r || s || v` ECDSA signature against an expected signer.
/// @dev Rejects high-s (EIP-2) so every signature has exactly one valid encoding, and any `v` other than
/// 27 or 28 (the precompile then returns nothing). Reads straight from calldata and uses no memory it keeps:
/// it runs once per transfer on the dispute path and twice per checkpoint in a batch.
library SignatureCheck {
    /// @dev secp256k1 group order / 2.
    uint256 internal constant HALF_ORDER = 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0;
    /// @dev The ecrecover precompile.
    uint256 internal constant ECRECOVER = 1;

    /// @notice Whether the signature at `offset` of `data` over `digest` is `signer`'s.
    function signedBy(
        bytes32 digest,
        bytes calldata data,
        uint256 offset,
        address signer
    ) internal view returns (bool valid) {
        assembly ("memory-safe") {
            let p := add(data.offset, offset)
            let s := calldataload(add(p, 32))
            let m := mload(0x40)
            mstore(m, digest)
            mstore(add(m, 0x20), byte(0, calldataload(add(p, 64))))
            mstore(add(m, 0x40), calldataload(p))
            mstore(add(m, 0x60), s)
            mstore(0x00, 0) // the precompile writes nothing for an invalid signature
            let ok := staticcall(gas(), ECRECOVER, m, 0x80, 0x00, 0x20)
            let recovered := mload(0x00)
            valid := and(and(ok, iszero(gt(s, HALF_ORDER))), and(eq(recovered, signer), iszero(iszero(recovered))))
        }
    }

    /// @notice Whether the signature at absolute calldata position `at` over `digest` is `signer`'s.
    /// @dev The same check as `signedBy`, kept apart for the rare consent path (`ChainVerifier`): one more
    /// call site of `signedBy` would change how the optimizer treats it on the hot paths (checkpoints,
    /// head proofs), which then cost 15 gas more each.
    function signedAt(bytes32 digest, uint256 at, address signer) internal view returns (bool valid) {
        assembly ("memory-safe") {
            let s := calldataload(add(at, 32))
            let m := mload(0x40)
            mstore(m, digest)
            mstore(add(m, 0x20), byte(0, calldataload(add(at, 64))))
            mstore(add(m, 0x40), calldataload(at))
            mstore(add(m, 0x60), s)
            mstore(0x00, 0)
            let ok := staticcall(gas(), ECRECOVER, m, 0x80, 0x00, 0x20)
            let recovered := mload(0x00)
            valid := and(and(ok, iszero(gt(s, HALF_ORDER))), and(eq(recovered, signer), iszero(iszero(recovered))))
        }
    }
}
