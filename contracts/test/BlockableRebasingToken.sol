// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @notice A token whose holders' balances can shrink (a negative rebase) and that can refuse transfers to
/// one address, to test that a credited payout bears the same pro-rata shortfall as a pushed one.
contract BlockableRebasingToken is ERC20 {
    address public blocked;

    constructor() ERC20("Blockable Rebasing Token", "BREB") {}

    /// @notice Mints `amount` to `to`.
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    /// @notice Takes `amount` away from `holder`, as a negative rebase would.
    function slash(address holder, uint256 amount) external {
        _burn(holder, amount);
    }

    /// @notice Makes every transfer to `who` revert (zero: none).
    function blockRecipient(address who) external {
        blocked = who;
    }

    function _update(address from, address to, uint256 value) internal override {
        require(to == address(0) || to != blocked, "blocked recipient");
        super._update(from, to, value);
    }
}
