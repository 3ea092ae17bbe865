// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title ISecretRegistry
/// @notice Records when HTLC preimages were first revealed on-chain, so locks can be judged by time.
interface ISecretRegistry {
    /// @notice `secret` (with `sha256(secret) == hashlock`) was revealed on-chain for the first time.
    event SecretRevealed(bytes32 indexed hashlock, bytes32 secret);

    /// @notice Reveals many preimages in one call; ones revealed before keep their first time.
    function registerSecrets(bytes32[] calldata secrets) external;

    /// @notice When the preimage of `hashlock` was first revealed (0 if never).
    function secretRevealedAt(bytes32 hashlock) external view returns (uint256);
}
