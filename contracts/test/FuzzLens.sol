// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IParsecChannels} from "../interfaces/IParsecChannels.sol";
import {IPayoutVault} from "../interfaces/IPayoutVault.sol";
import {ChannelRecord, PendingLocks} from "../libraries/ParsecTypes.sol";

/// @notice Test helper of the invariant fuzz (scripts/security/fuzz.ts): reads, in one call, everything the
/// fuzz checks after each action, as one flat array (cheap to decode). Only views; deployed on the fuzz's
/// in-process chain only.
contract FuzzLens {
    /// @notice Words per channel in `snapshot`'s output.
    uint256 public constant CHANNEL_WORDS = 17;
    /// @notice Words per account in `snapshot`'s output.
    uint256 public constant ACCOUNT_WORDS = 4;

    /// @notice `[ethHeld, tokenHeld]`, then per channel `[deposit0, deposit1, closesAt, status, seq0, seq1,
    /// commitment, provenSeq0, provenHead0, provenSeq1, provenHead1, locksRoot0, locksRoot1, pot0, pot1,
    /// resolved0, resolved1]`, then per account `[ETH balance, token balance, ETH credit, token credit]`.
    function snapshot(
        address channels,
        address token,
        bytes32[] calldata ids,
        address[] calldata accounts
    ) external view returns (uint256[] memory out) {
        out = new uint256[](2 + ids.length * CHANNEL_WORDS + accounts.length * ACCOUNT_WORDS);
        out[0] = channels.balance;
        out[1] = IERC20(token).balanceOf(channels);
        uint256 at = 2;
        for (uint256 i = 0; i < ids.length; ++i) {
            at = _channel(out, at, IParsecChannels(channels), ids[i]);
        }
        for (uint256 i = 0; i < accounts.length; ++i) {
            out[at] = accounts[i].balance;
            out[at + 1] = IERC20(token).balanceOf(accounts[i]);
            out[at + 2] = IPayoutVault(channels).creditOf(accounts[i], address(0));
            out[at + 3] = IPayoutVault(channels).creditOf(accounts[i], token);
            at += ACCOUNT_WORDS;
        }
    }

    function _channel(
        uint256[] memory out,
        uint256 at,
        IParsecChannels channels,
        bytes32 id
    ) private view returns (uint256) {
        (ChannelRecord memory record, uint32 seq0, uint32 seq1, uint192 commitment) = channels.channelState(id);
        out[at] = record.deposit0;
        out[at + 1] = record.deposit1;
        out[at + 2] = record.closesAt;
        out[at + 3] = uint256(record.status);
        out[at + 4] = seq0;
        out[at + 5] = seq1;
        out[at + 6] = commitment;
        (uint32 provenSeq0, uint224 provenHead0, uint32 provenSeq1, uint224 provenHead1) = channels.provenHeadsOf(id);
        out[at + 7] = provenSeq0;
        out[at + 8] = provenHead0;
        out[at + 9] = provenSeq1;
        out[at + 10] = provenHead1;
        PendingLocks memory pending = channels.pendingLocksOf(id);
        out[at + 11] = uint256(pending.locksRoot0);
        out[at + 12] = uint256(pending.locksRoot1);
        out[at + 13] = pending.pot0;
        out[at + 14] = pending.pot1;
        out[at + 15] = pending.resolved0;
        out[at + 16] = pending.resolved1;
        return at + CHANNEL_WORDS;
    }
}
