// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Address} from "@openzeppelin/contracts/utils/Address.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {IHashedTimelock} from "./interfaces/IHashedTimelock.sol";

/// @title HashedTimelock
/// @notice Escrows ETH or ERC-20 under a sha256 hashlock and a timelock: the receiver claims with the
/// preimage before the timelock (`now < timelock`), else the sender refunds from it on (`now >= timelock`).
/// Pays only what arrived.
contract HashedTimelock is IHashedTimelock, ReentrancyGuardTransient {
    mapping(bytes32 id => Escrow) private _escrows;

    /// @inheritdoc IHashedTimelock
    function lock(
        address receiver,
        address asset,
        uint256 amount,
        bytes32 hashlock,
        uint64 timelock
    ) external payable nonReentrant returns (bytes32 id) {
        if (receiver == address(0)) revert InvalidReceiver(receiver);
        if (timelock <= block.timestamp) revert TimelockInPast(timelock);
        bool isEth = asset == address(0);
        if (amount == 0 || msg.value != (isEth ? amount : 0)) revert InvalidAmount(amount, msg.value);
        id = keccak256(abi.encode(msg.sender, receiver, asset, amount, hashlock, timelock));
        if (_escrows[id].sender != address(0)) revert EscrowExists(id);

        uint256 received = amount;
        if (!isEth) {
            uint256 before = IERC20(asset).balanceOf(address(this));
            SafeERC20.safeTransferFrom(IERC20(asset), msg.sender, address(this), amount);
            received = IERC20(asset).balanceOf(address(this)) - before;
        }
        _escrows[id] = Escrow({
            sender: msg.sender,
            receiver: receiver,
            asset: asset,
            timelock: timelock,
            settled: false,
            amount: received,
            hashlock: hashlock
        });
        emit Locked(id, msg.sender, receiver, asset, received, hashlock, timelock);
    }

    /// @inheritdoc IHashedTimelock
    function claim(bytes32 id, bytes32 preimage) external nonReentrant {
        Escrow storage escrow = _open(id);
        if (block.timestamp >= escrow.timelock) revert TimelockExpired(escrow.timelock);
        if (sha256(abi.encodePacked(preimage)) != escrow.hashlock) revert WrongPreimage(id);
        escrow.settled = true;
        emit Claimed(id, preimage);
        _send(escrow.asset, escrow.receiver, escrow.amount);
    }

    /// @inheritdoc IHashedTimelock
    function refund(bytes32 id) external nonReentrant {
        Escrow storage escrow = _open(id);
        if (block.timestamp < escrow.timelock) revert TimelockNotExpired(escrow.timelock);
        escrow.settled = true;
        emit Refunded(id);
        _send(escrow.asset, escrow.sender, escrow.amount);
    }

    /// @inheritdoc IHashedTimelock
    function escrowOf(bytes32 id) external view returns (Escrow memory) {
        return _escrows[id];
    }

    function _open(bytes32 id) private view returns (Escrow storage escrow) {
        escrow = _escrows[id];
        if (escrow.sender == address(0)) revert EscrowNotFound(id);
        if (escrow.settled) revert EscrowSettled(id);
    }

    /// @dev Anyone may trigger claim or refund, but the money only ever goes to the escrow's own party.
    function _send(address asset, address to, uint256 amount) private {
        if (asset == address(0)) Address.sendValue(payable(to), amount);
        else SafeERC20.safeTransfer(IERC20(asset), to, amount);
    }
}
