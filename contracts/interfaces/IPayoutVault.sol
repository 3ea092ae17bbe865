// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title IPayoutVault
/// @notice Payouts are pushed; one that fails is credited here and pulled by its owner.
interface IPayoutVault {
    /// @notice The owner has no credit in this asset.
    error NothingToWithdraw(address account, address asset);
    /// @notice Pulling a credit failed: the recipient rejects ETH or the token refused the transfer.
    error CreditTransferFailed(address account, address asset);
    /// @notice The contract holds less of `token` than its channels own (a negative rebase): no new
    /// deposits of it are taken, so new money never covers an old loss.
    error TokenBalanceShrank(address token, uint256 owned, uint256 balance);

    /// @notice A payout to `account` could not be pushed and was credited instead.
    event PayoutCredited(address indexed account, address indexed asset, uint256 amount);
    /// @notice The contract held less of `token` than its channels own (a negative rebase), so a payout
    /// owed `owed` and paid `paid`: every later payout of the token bears the same ratio (pro rata).
    event TokenShortfallShared(address indexed token, address indexed account, uint256 owed, uint256 paid);
    /// @notice `account` pulled its credit.
    event CreditWithdrawn(address indexed account, address indexed asset, uint256 amount);

    /// @notice Pulls the caller's whole credit in `asset` (`address(0)` for ETH).
    function withdrawCredit(address asset) external;

    /// @notice The credit `account` may pull in `asset`.
    function creditOf(address account, address asset) external view returns (uint256);
}
