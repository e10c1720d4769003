// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

/// @notice Single-owner access control whose state lives in a namespaced slot (ERC-7201 style), not in slot 0.
/// @dev The Outbox and Inbox pin their first storage slots for cross-chain storage proofs, and Solidity lays out
///      base-contract variables first; keeping the owner out of the sequential layout lets them inherit this safely.
abstract contract Owned {
    error NotOwner(address caller);
    error ZeroAddress();

    event OwnershipTransferred(address indexed previousOwner, address indexed newOwner);

    /// keccak256(abi.encode(uint256(keccak256("medrelay.owned")) - 1)) & ~bytes32(uint256(0xff))
    bytes32 private constant OWNER_SLOT = 0x25a6aa5389e259c6907697480eab8ebf867f0e22f4f9b8b50392161c9a2cf700;

    constructor() {
        _setOwner(msg.sender);
    }

    modifier onlyOwner() {
        if (msg.sender != owner()) revert NotOwner(msg.sender);
        _;
    }

    /// @notice Current owner.
    function owner() public view returns (address o) {
        bytes32 slot = OWNER_SLOT;
        assembly ("memory-safe") {
            o := sload(slot)
        }
    }

    /// @notice Hands ownership to `newOwner` (owner only).
    function transferOwnership(address newOwner) external onlyOwner {
        if (newOwner == address(0)) revert ZeroAddress();
        _setOwner(newOwner);
    }

    function _setOwner(address o) private {
        emit OwnershipTransferred(owner(), o);
        bytes32 slot = OWNER_SLOT;
        assembly ("memory-safe") {
            sstore(slot, o)
        }
    }
}
