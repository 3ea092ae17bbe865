// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @notice A minimal token whose `transfer` can return `false` without moving anything, or move the amount
/// and return no data at all (USDT-style). `transferFrom` behaves normally.
contract QuirkyToken {
    enum Mode {
        Normal,
        ReturnsFalse,
        ReturnsNothing
    }

    mapping(address account => uint256 amount) public balanceOf;
    mapping(address owner => mapping(address spender => uint256 amount)) public allowance;
    Mode public mode;

    /// @notice Mints `amount` to `to`.
    function mint(address to, uint256 amount) external {
        balanceOf[to] += amount;
    }

    /// @notice Sets how `transfer` behaves.
    function setMode(Mode value) external {
        mode = value;
    }

    function approve(address spender, uint256 amount) external returns (bool) {
        allowance[msg.sender][spender] = amount;
        return true;
    }

    function transferFrom(address from, address to, uint256 amount) external returns (bool) {
        allowance[from][msg.sender] -= amount;
        _move(from, to, amount);
        return true;
    }

    function transfer(address to, uint256 amount) external returns (bool) {
        if (mode == Mode.ReturnsFalse) return false;
        _move(msg.sender, to, amount);
        if (mode == Mode.ReturnsNothing) {
            assembly {
                return(0, 0)
            }
        }
        return true;
    }

    function _move(address from, address to, uint256 amount) private {
        balanceOf[from] -= amount;
        balanceOf[to] += amount;
    }
}
