// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {RLPReader} from "./RLPReader.sol";
import {InvalidStorageProof, MerklePatricia} from "./MerklePatricia.sol";

/// @notice EIP-1186 proofs: account proof against a state root, then a storage proof against its storage root.
library StorageProof {
    uint8 internal constant VALUE_MALFORMED = 5;
    uint8 internal constant ACCOUNT_ABSENT = 6;

    /// @notice Storage root of `account` proven against `stateRoot`; reverts unless the account exists.
    function storageRoot(bytes32 stateRoot, address account, bytes[] calldata accountProof)
        internal
        pure
        returns (bytes32 root)
    {
        (bool found, bytes calldata acct) =
            MerklePatricia.get(stateRoot, keccak256(abi.encodePacked(account)), accountProof);
        if (!found) revert InvalidStorageProof(ACCOUNT_ABSENT);
        // account = rlp([nonce, balance, storageRoot, codeHash])
        (uint256 ps, uint256 pe) = RLPReader.listPayload(acct);
        uint256 pos = RLPReader.skip(acct, ps);
        pos = RLPReader.skip(acct, pos);
        (root, pos) = RLPReader.bytes32At(acct, pos);
        pos = RLPReader.skip(acct, pos);
        if (pos != pe) revert InvalidStorageProof(VALUE_MALFORMED);
    }

    /// @notice Value of storage `slot` proven against `root` (0 for a proven-absent slot).
    function value(bytes32 root, bytes32 slot, bytes[] calldata storageProof) internal pure returns (uint256 v) {
        (bool found, bytes calldata raw) = MerklePatricia.get(root, keccak256(abi.encode(slot)), storageProof);
        if (!found) return 0;
        uint256 next;
        (v, next) = RLPReader.uintAt(raw, 0);
        // Zero slots are deleted from the trie, so a stored zero is malformed.
        if (next != raw.length || v == 0) revert InvalidStorageProof(VALUE_MALFORMED);
    }

    /// @notice Both steps: `account`'s storage `slot` at `stateRoot`.
    function accountSlot(
        bytes32 stateRoot,
        address account,
        bytes32 slot,
        bytes[] calldata accountProof,
        bytes[] calldata storageProof
    ) internal pure returns (uint256) {
        return value(storageRoot(stateRoot, account, accountProof), slot, storageProof);
    }
}
