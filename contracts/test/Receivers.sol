// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @notice A participant contract that rejects ETH (until told otherwise) and can act in channels.
contract RejectingReceiver {
    bool public accepting;

    /// @notice Forwards a call (e.g. `open`) from this contract.
    function execute(address target, bytes calldata data) external payable returns (bytes memory) {
        (bool ok, bytes memory out) = target.call{value: msg.value}(data);
        if (!ok) {
            assembly {
                revert(add(out, 0x20), mload(out))
            }
        }
        return out;
    }

    /// @notice Starts or stops accepting ETH.
    function setAccepting(bool value) external {
        accepting = value;
    }

    receive() external payable {
        require(accepting, "no ETH please");
    }
}

/// @notice A participant contract that tries to reenter the channel contract when paid.
contract ReentrantReceiver {
    /// @dev Not `target`: typechain contracts have a `target` property of their own.
    address public reentryTarget;
    bytes public data;
    bool public reentrySucceeded;
    uint256 public attempts;

    /// @notice Forwards a call (e.g. `open`) from this contract.
    function execute(address to, bytes calldata payload) external payable returns (bytes memory) {
        (bool ok, bytes memory out) = to.call{value: msg.value}(payload);
        if (!ok) {
            assembly {
                revert(add(out, 0x20), mload(out))
            }
        }
        return out;
    }

    /// @notice What to call back when ETH arrives.
    function arm(address to, bytes calldata payload) external {
        reentryTarget = to;
        data = payload;
    }

    receive() external payable {
        if (reentryTarget == address(0)) return;
        ++attempts;
        (reentrySucceeded, ) = reentryTarget.call(data);
    }
}
