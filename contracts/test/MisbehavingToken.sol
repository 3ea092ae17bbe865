// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @notice A token that, when armed, refuses transfers to one address or calls back into a target.
contract MisbehavingToken is ERC20 {
    address public blocked;
    address public reenterTarget;
    bytes public reenterData;
    bool public reentered;
    bool public reentrySucceeded;

    constructor() ERC20("Misbehaving Token", "BAD") {}

    /// @notice Mints `amount` to `to`.
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    /// @notice Makes every transfer to `who` revert.
    function blockRecipient(address who) external {
        blocked = who;
    }

    /// @notice On the next transfer out of `target`, calls `target` with `data` first.
    function armReentry(address target, bytes calldata data) external {
        reenterTarget = target;
        reenterData = data;
    }

    function _update(address from, address to, uint256 value) internal override {
        require(to != blocked || to == address(0), "blocked recipient");
        if (from == reenterTarget && reenterTarget != address(0) && !reentered) {
            reentered = true;
            (reentrySucceeded, ) = reenterTarget.call(reenterData);
        }
        super._update(from, to, value);
    }
}
