// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @notice A token with a transfer hook (as ERC-777 and some ERC-20s have): on `transferFrom` it calls a
/// configured target with configured data, to test that the channels survive a re-entering hook.
contract HookedToken is ERC20 {
    address public hookTarget;
    bytes public hookData;

    constructor() ERC20("Hooked Token", "HOOK") {}

    /// @notice Mints `amount` to `to`.
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    /// @notice Calls `target` with `data` during the next `transferFrom`s (clear with a zero target).
    function setHook(address target, bytes calldata data) external {
        hookTarget = target;
        hookData = data;
    }

    /// @inheritdoc ERC20
    function transferFrom(address from, address to, uint256 value) public override returns (bool) {
        if (hookTarget != address(0)) {
            (bool ok, bytes memory reason) = hookTarget.call(hookData);
            if (!ok) {
                assembly ("memory-safe") {
                    revert(add(reason, 0x20), mload(reason))
                }
            }
        }
        return super.transferFrom(from, to, value);
    }
}
