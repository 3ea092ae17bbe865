// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title IPayoutVault
/// @notice Payouts are pushed; one that fails is credited here and pulled by its owner.
interface IPayoutVault {
    /// @notice The owner has no credit in this asset.
    error NothingToWithdraw(address account, address asset);
    /// @notice Pulling a credit failed: the recipient rejects ETH or the token refused the transfer.
    error CreditTransferFailed(address account, address asset);
    /// @notice The contract holds less of `token` than its channels own: a rebasing token, refused.
    error TokenBalanceShrank(address token, uint256 owned, uint256 balance);

    /// @notice A payout to `account` could not be pushed and was credited instead.
    event PayoutCredited(address indexed account, address indexed asset, uint256 amount);
    /// @notice `account` pulled its credit.
    event CreditWithdrawn(address indexed account, address indexed asset, uint256 amount);

    /// @notice Pulls the caller's whole credit in `asset` (`address(0)` for ETH).
    function withdrawCredit(address asset) external;

    /// @notice The credit `account` may pull in `asset`.
    function creditOf(address account, address asset) external view returns (uint256);
}
