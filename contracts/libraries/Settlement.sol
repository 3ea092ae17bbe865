// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title Settlement
/// @notice The payout rule of docs/protocol.md §5: what each side receives from its deposits and the two
/// payers' committed totals. Pure arithmetic; payouts always sum to exactly the deposits.
library Settlement {
    /// @notice The outcome for one channel.
    struct Outcome {
        uint256 payout0;
        uint256 payout1;
        /// @dev Held back for payer 0's pending locks, resolved by `resolveLocks`.
        uint256 pot0;
        uint256 pot1;
    }

    /// @param deposit0 P0's deposit; @param deposit1 P1's deposit.
    /// @param paid0 P0's `paidTotal`; @param paid1 P1's. @param locked0 P0's `lockedTotal`; @param locked1 P1's.
    function split(
        uint256 deposit0,
        uint256 deposit1,
        uint256 paid0,
        uint256 paid1,
        uint256 locked0,
        uint256 locked1
    ) internal pure returns (Outcome memory o) {
        uint256 total = deposit0 + deposit1;
        // a0 = clamp(deposit0 + paid1 - paid0, 0, total), computed without going negative.
        uint256 credit0 = deposit0 + paid1;
        uint256 a0 = credit0 > paid0 ? credit0 - paid0 : 0;
        if (a0 > total) a0 = total;
        uint256 a1 = total - a0;
        o.pot0 = locked0 < a0 ? locked0 : a0;
        o.pot1 = locked1 < a1 ? locked1 : a1;
        o.payout0 = a0 - o.pot0;
        o.payout1 = a1 - o.pot1;
    }
}
