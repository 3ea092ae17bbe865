// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {IPayoutVault} from "./interfaces/IPayoutVault.sol";

/// @title PayoutVault
/// @notice Moves the channels' money: pulls deposits in, pushes payouts out, and credits a payout that
/// cannot be pushed so that one recipient's failure never blocks another's. Also the reentrancy guard.
abstract contract PayoutVault is IPayoutVault {
    /// @dev Enough for an EOA or a wallet contract's receive, too little to do harm with.
    uint256 private constant ETH_PAYOUT_GAS = 30_000;
    /// @dev Enough for any sane ERC-20 transfer; a token that burns more is credited instead.
    uint256 private constant TOKEN_PAYOUT_GAS = 100_000;
    /// @dev Enough for any sane `balanceOf`; a token that burns more is paid without the shortfall check.
    uint256 private constant TOKEN_BALANCE_GAS = 30_000;
    /// @dev Transient-storage slot of the reentrancy flag: keccak256("parsec.vault.reentrancy").
    bytes32 private constant REENTRANCY_SLOT = 0x676b0831a2c0f1c5b4bbf9e01580e01917129575bcb4c052875370df0ab1a719;

    mapping(address account => mapping(address asset => uint256 amount)) private _credits;
    mapping(address token => uint256 amount) private _tokenOwned;

    /// @notice A guarded function was entered again before it returned.
    error ReentrantCall();

    modifier nonReentrant() {
        _enterGuard();
        _;
        _exitGuard();
    }

    /// @inheritdoc IPayoutVault
    function withdrawCredit(address asset) external nonReentrant {
        uint256 amount = _credits[msg.sender][asset];
        if (amount == 0) revert NothingToWithdraw(msg.sender, asset);
        _credits[msg.sender][asset] = 0;
        bool sent;
        if (asset == address(0)) {
            sent = _pushEth(msg.sender, amount, gasleft());
        } else {
            uint256 paid = _shareAfterShortfall(asset, amount);
            sent = _pushToken(asset, msg.sender, paid, gasleft());
            if (sent) {
                _tokenOwned[asset] -= amount;
                if (paid != amount) emit TokenShortfallShared(asset, msg.sender, amount, paid);
            }
        }
        if (!sent) revert CreditTransferFailed(msg.sender, asset);
        emit CreditWithdrawn(msg.sender, asset, amount);
    }

    /// @inheritdoc IPayoutVault
    function creditOf(address account, address asset) external view returns (uint256) {
        return _credits[account][asset];
    }

    function _enterGuard() internal {
        bytes32 slot = REENTRANCY_SLOT;
        bool entered;
        assembly ("memory-safe") {
            entered := tload(slot)
            tstore(slot, 1)
        }
        if (entered) revert ReentrantCall();
    }

    function _exitGuard() internal {
        bytes32 slot = REENTRANCY_SLOT;
        assembly ("memory-safe") {
            tstore(slot, 0)
        }
    }

    /// @dev Pushes `amount` of `asset` to `to`, or credits it if the push fails. Call after all effects.
    /// A token payout bears its pro-rata part of any shortfall (`_shareAfterShortfall`); a credit keeps the
    /// full claim and bears the shortfall when it is pulled.
    function _pay(address to, address asset, uint256 amount) internal {
        if (amount == 0) return;
        if (asset == address(0)) {
            if (_pushEth(to, amount, ETH_PAYOUT_GAS)) return;
        } else {
            uint256 paid = _shareAfterShortfall(asset, amount);
            if (_pushToken(asset, to, paid, TOKEN_PAYOUT_GAS)) {
                _tokenOwned[asset] -= amount;
                if (paid != amount) emit TokenShortfallShared(asset, to, amount, paid);
                return;
            }
        }
        _credits[to][asset] += amount;
        emit PayoutCredited(to, asset, amount);
    }

    /// @dev What a claim of `amount` of `token` pays: all of it while the contract holds at least what its
    /// channels own, else `amount * balance / owned`. Claims leave `owned` whole while the balance drops by
    /// what is paid, so the ratio, and every later claimant's share of the loss, stays the same: a negative
    /// rebase is shared pro rata instead of falling on whoever is paid last.
    function _shareAfterShortfall(address token, uint256 amount) private view returns (uint256) {
        uint256 owned = _tokenOwned[token];
        (bool ok, uint256 held) = _balanceOf(token);
        if (!ok || held >= owned) return amount;
        return (amount * held) / owned;
    }

    /// @dev `token.balanceOf(this)` with a gas cap; `ok` is false if the token fails to answer.
    function _balanceOf(address token) private view returns (bool ok, uint256 held) {
        bytes memory data = abi.encodeCall(IERC20.balanceOf, (address(this)));
        assembly ("memory-safe") {
            mstore(0, 0)
            // Two statements: Yul evaluates arguments right to left, and returndatasize must follow the call.
            let answered := staticcall(TOKEN_BALANCE_GAS, token, add(data, 0x20), mload(data), 0, 0x20)
            ok := and(answered, gt(returndatasize(), 31))
            held := mload(0)
        }
    }

    /// @dev Pulls `amount` of `token` from `from` and returns what actually arrived.
    function _pullToken(address token, address from, uint256 amount) internal returns (uint256 received) {
        uint256 owned = _tokenOwned[token];
        uint256 balanceBefore = IERC20(token).balanceOf(address(this));
        if (balanceBefore < owned) revert TokenBalanceShrank(token, owned, balanceBefore);
        SafeERC20.safeTransferFrom(IERC20(token), from, address(this), amount);
        received = IERC20(token).balanceOf(address(this)) - balanceBefore;
        _tokenOwned[token] = owned + received;
    }

    /// @dev A plain value call that copies no return data, so a recipient cannot return-bomb the payer.
    function _pushEth(address to, uint256 amount, uint256 gasLimit) private returns (bool sent) {
        assembly ("memory-safe") {
            sent := call(gasLimit, to, amount, 0, 0, 0, 0)
        }
    }

    /// @dev `transfer(to, amount)` that succeeds on `true` or on no return data (USDT-style tokens).
    function _pushToken(address token, address to, uint256 amount, uint256 gasLimit) private returns (bool sent) {
        bytes memory data = abi.encodeCall(IERC20.transfer, (to, amount));
        assembly ("memory-safe") {
            mstore(0, 0)
            let ok := call(gasLimit, token, 0, add(data, 0x20), mload(data), 0, 0x20)
            let size := returndatasize()
            sent := and(ok, or(and(iszero(size), gt(extcodesize(token), 0)), and(gt(size, 31), eq(mload(0), 1))))
        }
    }
}
