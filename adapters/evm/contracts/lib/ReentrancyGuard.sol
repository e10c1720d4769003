// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

/// @notice Reentrancy lock in transient storage (EIP-1153): it takes no storage slot (the pinned proof layout of
///         the Outbox/Inbox is untouched) and costs ~200 gas per guarded call.
/// @dev Needed because the Inbox/Outbox call untrusted apps in the middle of a batch: a re-entrant delivery on the
///      same channel would append ack leaves out of order.
abstract contract ReentrancyGuard {
    error Reentrancy();

    bool private transient _locked;

    modifier nonReentrant() {
        if (_locked) revert Reentrancy();
        _locked = true;
        _;
        _locked = false;
    }
}
