// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @notice A token whose holders' balances can shrink (a negative rebase), to test that it is refused.
contract RebasingToken is ERC20 {
    constructor() ERC20("Rebasing Token", "REB") {}

    /// @notice Mints `amount` to `to`.
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    /// @notice Takes `amount` away from `holder`, as a negative rebase would.
    function slash(address holder, uint256 amount) external {
        _burn(holder, amount);
    }
}
