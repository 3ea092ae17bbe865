// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title IHashedTimelock
/// @notice A standalone hashed-timelock escrow for ETH or ERC-20, for atomic swaps outside channels.
interface IHashedTimelock {
    /// @notice One escrow.
    struct Escrow {
        address sender;
        address receiver;
        address asset;
        uint64 timelock;
        bool settled;
        uint256 amount;
        bytes32 hashlock;
    }

    /// @notice An escrow with this id exists already.
    error EscrowExists(bytes32 id);
    /// @notice No escrow has this id.
    error EscrowNotFound(bytes32 id);
    /// @notice The escrow was claimed or refunded already.
    error EscrowSettled(bytes32 id);
    /// @notice The timelock must lie in the future.
    error TimelockInPast(uint64 timelock);
    /// @notice Amount must be positive, and for ETH equal to `msg.value`.
    error InvalidAmount(uint256 amount, uint256 value);
    /// @notice `sha256(preimage)` is not the hashlock.
    error WrongPreimage(bytes32 id);
    /// @notice The timelock passed: only a refund is possible now.
    error TimelockExpired(uint64 timelock);
    /// @notice The timelock has not passed yet.
    error TimelockNotExpired(uint64 timelock);
    /// @notice The receiver must be a non-zero address.
    error InvalidReceiver(address receiver);

    /// @notice `sender` escrowed `amount` for `receiver` under `hashlock` until `timelock`.
    event Locked(
        bytes32 indexed id,
        address indexed sender,
        address indexed receiver,
        address asset,
        uint256 amount,
        bytes32 hashlock,
        uint64 timelock
    );
    /// @notice The receiver claimed with `preimage` (now public, for the other leg of a swap).
    event Claimed(bytes32 indexed id, bytes32 preimage);
    /// @notice The sender took the escrow back after the timelock.
    event Refunded(bytes32 indexed id);

    /// @notice Escrows `amount` of `asset` (`address(0)` = ETH, sent as value) for `receiver`.
    /// @param hashlock `sha256` of a 32-byte preimage (Bitcoin/Lightning compatible).
    /// @param timelock Unix time from which the sender may refund (claims need `now < timelock`).
    /// @return id `keccak256(abi.encode(sender, receiver, asset, amount, hashlock, timelock))`.
    function lock(
        address receiver,
        address asset,
        uint256 amount,
        bytes32 hashlock,
        uint64 timelock
    ) external payable returns (bytes32 id);

    /// @notice Pays the escrow to its receiver given the preimage, before the timelock.
    function claim(bytes32 id, bytes32 preimage) external;

    /// @notice Returns the escrow to its sender after the timelock.
    function refund(bytes32 id) external;

    /// @notice The escrow with this id.
    function escrowOf(bytes32 id) external view returns (Escrow memory);
}
