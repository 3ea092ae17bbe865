// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ISecretRegistry} from "./interfaces/ISecretRegistry.sol";

/// @title SecretRegistry
/// @notice Remembers when each HTLC preimage first appeared on-chain; locks are judged against that time.
abstract contract SecretRegistry is ISecretRegistry {
    mapping(bytes32 hashlock => uint256 timestamp) internal _revealedAt;

    /// @inheritdoc ISecretRegistry
    function registerSecrets(bytes32[] calldata secrets) external {
        for (uint256 i = 0; i < secrets.length; ++i) {
            bytes32 hashlock = sha256(abi.encodePacked(secrets[i]));
            if (_revealedAt[hashlock] == 0) {
                _revealedAt[hashlock] = block.timestamp;
                emit SecretRevealed(hashlock, secrets[i]);
            }
        }
    }

    /// @inheritdoc ISecretRegistry
    function secretRevealedAt(bytes32 hashlock) external view returns (uint256) {
        return _revealedAt[hashlock];
    }
}
