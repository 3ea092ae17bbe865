// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @notice A participant contract that, when paid ETH, calls back into a target with each armed payload and
/// emits what each call returned, so a test can see the exact error a reentrant call met. With one short
/// payload it fits in a 30,000 gas payout stipend. It can also be told to reject ETH (to be credited).
contract ReentrancyProbe {
    /// @dev Not `target`: typechain contracts have a `target` property of their own.
    address public callee;
    bool public rejecting;
    bytes[] private _payloads;

    /// @notice One callback made on receiving ETH, and what it returned (the revert data if `ok` is false).
    event Reentered(bool ok, bytes returnData);

    /// @notice Forwards a call (e.g. `withdrawCredit`) from this contract.
    function execute(address to, bytes calldata data) external payable returns (bytes memory) {
        (bool ok, bytes memory out) = to.call{value: msg.value}(data);
        if (!ok) {
            assembly {
                revert(add(out, 0x20), mload(out))
            }
        }
        return out;
    }

    /// @notice What to call back, in order, when ETH arrives (`to == address(0)`: nothing).
    function arm(address to, bytes[] calldata payloads) external {
        callee = to;
        delete _payloads;
        for (uint256 i = 0; i < payloads.length; ++i) _payloads.push(payloads[i]);
    }

    /// @notice Starts or stops rejecting ETH.
    function setRejecting(bool value) external {
        rejecting = value;
    }

    receive() external payable {
        require(!rejecting, "rejecting ETH");
        address to = callee;
        if (to == address(0)) return;
        uint256 n = _payloads.length;
        for (uint256 i = 0; i < n; ++i) {
            (bool ok, bytes memory out) = to.call(_payloads[i]);
            emit Reentered(ok, out);
        }
    }
}
