// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

/// @notice OpenZeppelin `MerkleProof.multiProofVerify` / `processMultiProof` semantics (v5): sorted-pair
///         (commutative) keccak256 nodes; `leaves.length + proof.length == proofFlags.length + 1`; every proof
///         item consumed; no flags → the root is `leaves[0]` if there is a leaf, else `proof[0]` (the proof-only
///         case). Written here because the contracts carry no external dependencies.
library MultiProof {
    error MerkleProofInvalidMultiproof();

    /// @notice Whether `leaves` (in tree order) with `proof`/`proofFlags` rebuild `root`. Reverts on a malformed
    ///         multiproof, exactly as OpenZeppelin.
    function multiProofVerify(bytes32[] memory proof, bool[] memory proofFlags, bytes32 root, bytes32[] memory leaves)
        internal
        pure
        returns (bool)
    {
        return processMultiProof(proof, proofFlags, leaves) == root;
    }

    /// @notice The root rebuilt from `leaves`, `proof` and `proofFlags` (reverts on a malformed multiproof).
    function processMultiProof(bytes32[] memory proof, bool[] memory proofFlags, bytes32[] memory leaves)
        internal
        pure
        returns (bytes32 merkleRoot)
    {
        (bool ok, bytes32 root) = tryProcessMultiProof(proof, proofFlags, leaves);
        if (!ok) revert MerkleProofInvalidMultiproof();
        return root;
    }

    /// @notice Non-reverting `processMultiProof`: ok = false where OpenZeppelin would revert (length rule, unused
    ///         proof items, reading past the proof or the computed hashes, and the empty case).
    function tryProcessMultiProof(bytes32[] memory proof, bool[] memory proofFlags, bytes32[] memory leaves)
        internal
        pure
        returns (bool ok, bytes32 merkleRoot)
    {
        uint256 leavesLen = leaves.length;
        uint256 proofLen = proof.length;
        uint256 flagsLen = proofFlags.length;
        if (leavesLen + proofLen != flagsLen + 1) return (false, bytes32(0));

        bytes32[] memory hashes = new bytes32[](flagsLen);
        uint256 leafPos;
        uint256 hashPos;
        uint256 proofPos;
        for (uint256 i; i < flagsLen; ++i) {
            bytes32 a;
            bytes32 b;
            if (leafPos < leavesLen) {
                a = leaves[leafPos++];
            } else {
                if (hashPos >= flagsLen) return (false, bytes32(0));
                a = hashes[hashPos++];
            }
            if (proofFlags[i]) {
                if (leafPos < leavesLen) {
                    b = leaves[leafPos++];
                } else {
                    if (hashPos >= flagsLen) return (false, bytes32(0));
                    b = hashes[hashPos++];
                }
            } else {
                if (proofPos >= proofLen) return (false, bytes32(0));
                b = proof[proofPos++];
            }
            hashes[i] = _hashPair(a, b);
        }
        if (flagsLen > 0) {
            if (proofPos != proofLen) return (false, bytes32(0));
            return (true, hashes[flagsLen - 1]);
        } else if (leavesLen > 0) {
            return (true, leaves[0]);
        } else {
            return (true, proof[0]); // length rule: proof.length == 1 here
        }
    }

    /// @dev keccak256 of the sorted pair (OpenZeppelin `Hashes.commutativeKeccak256`).
    function _hashPair(bytes32 a, bytes32 b) private pure returns (bytes32 value) {
        assembly ("memory-safe") {
            switch lt(a, b)
            case 1 {
                mstore(0x00, a)
                mstore(0x20, b)
            }
            default {
                mstore(0x00, b)
                mstore(0x20, a)
            }
            value := keccak256(0x00, 0x40)
        }
    }
}
