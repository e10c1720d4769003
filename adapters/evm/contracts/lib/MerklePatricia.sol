// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {RLPReader} from "./RLPReader.sol";

/// reason: 1 node hash mismatch, 2 proof too short, 3 unused proof nodes, 4 malformed node, 5 value malformed,
///         6 account absent, 7 proven value absent where one is required
error InvalidStorageProof(uint8 reason);

/// @notice Verifies Merkle-Patricia proofs (the `accountProof` / `storageProof` node lists of `eth_getProof`).
/// @dev Strict: every node supplied must be on the path (no trailing nodes), every hashed node must match the
///      reference held by its parent, inline children (< 32 bytes) are followed inside their parent.
///      Keys are 32-byte paths (secure trie: keccak of address / slot), so values never sit in branch nodes.
library MerklePatricia {
    uint8 internal constant HASH_MISMATCH = 1;
    uint8 internal constant TOO_SHORT = 2;
    uint8 internal constant UNUSED_NODES = 3;
    uint8 internal constant BAD_NODE = 4;
    /// keccak256(rlp("")), the root of an empty trie
    bytes32 internal constant EMPTY_TRIE_ROOT = 0x56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421;

    /// @notice Looks `path` up in the trie with root `root`.
    /// @return found false for a valid proof of absence, value the leaf value (RLP string payload) if found
    function get(bytes32 root, bytes32 path, bytes[] calldata proof)
        internal
        pure
        returns (bool found, bytes calldata value)
    {
        value = msg.data[0:0];
        // An empty trie has no nodes to show: eth_getProof returns [] for every key.
        if (root == EMPTY_TRIE_ROOT && proof.length == 0) return (false, msg.data[0:0]);
        bytes32 want = root;
        bytes calldata node = msg.data[0:0];
        bool inlined;
        uint256 i;
        uint256 nib; // nibbles of `path` consumed so far
        while (true) {
            if (!inlined) {
                if (i >= proof.length) revert InvalidStorageProof(TOO_SHORT);
                node = proof[i++];
                if (keccak256(node) != want) revert InvalidStorageProof(HASH_MISMATCH);
            }
            (uint256 ps, uint256 pe) = RLPReader.listPayload(node);
            (uint256 s0, uint256 e0, bool l0) = RLPReader.header(node, ps);
            (uint256 s1, uint256 e1, bool l1) = RLPReader.header(node, e0);
            uint256 childPos;
            if (e1 == pe) {
                // Leaf or extension: [hex-prefix path, value | child].
                if (l0 || e0 == s0) revert InvalidStorageProof(BAD_NODE);
                (bool leaf, bool matches, uint256 consumed) = _matchPath(node, s0, e0, path, nib);
                if (!matches) return _absent(i, proof.length);
                nib += consumed;
                if (leaf) {
                    if (nib != 64 || l1) revert InvalidStorageProof(BAD_NODE);
                    if (i != proof.length) revert InvalidStorageProof(UNUSED_NODES);
                    return (true, node[s1:e1]);
                }
                childPos = e0;
            } else {
                // Branch: 16 children + value. Walk to the child selected by the next nibble.
                if (nib >= 64) revert InvalidStorageProof(BAD_NODE);
                uint256 target = _nibble(path, nib++);
                uint256 pos;
                (childPos, pos) = _branchChild(node, ps, target);
                if (pos != pe) revert InvalidStorageProof(BAD_NODE);
            }
            // Resolve the child reference: empty (absent), 32-byte hash, or an inline node (< 32 bytes).
            (uint256 cs, uint256 ce, bool cl) = RLPReader.header(node, childPos);
            if (cl) {
                if (ce - childPos >= 32) revert InvalidStorageProof(BAD_NODE);
                node = node[childPos:ce];
                inlined = true;
            } else if (ce - cs == 32) {
                want = bytes32(node[cs:ce]);
                inlined = false;
            } else if (ce == cs) {
                if (e1 == pe) revert InvalidStorageProof(BAD_NODE); // an extension never points at nothing
                return _absent(i, proof.length);
            } else {
                revert InvalidStorageProof(BAD_NODE);
            }
        }
    }

    function _absent(uint256 used, uint256 total) private pure returns (bool, bytes calldata) {
        if (used != total) revert InvalidStorageProof(UNUSED_NODES);
        return (false, msg.data[0:0]);
    }

    function _nibble(bytes32 path, uint256 n) private pure returns (uint256) {
        return (uint256(path) >> (252 - 4 * n)) & 0xf;
    }

    /// @dev Offset of child `target` of the branch whose payload starts at `ps`, and the offset after all 17 items.
    ///      Assembly and without canonical-form checks: the node was authenticated by its hash (or is inline in an
    ///      authenticated node), so it is a well-formed trie node; the bounds and the item count are still checked
    ///      by the caller (`pos == pe`). This loop is the hot path of every proof.
    function _branchChild(bytes calldata node, uint256 ps, uint256 target)
        private
        pure
        returns (uint256 childPos, uint256 pos)
    {
        uint256 len = node.length;
        assembly ("memory-safe") {
            pos := ps
            for { let k := 0 } lt(k, 17) { k := add(k, 1) } {
                if eq(k, target) { childPos := pos }
                if iszero(lt(pos, len)) { break }
                let w := calldataload(add(node.offset, pos))
                let b := byte(0, w)
                switch lt(b, 0x80)
                case 1 { pos := add(pos, 1) }
                default {
                    switch lt(b, 0xb8)
                    case 1 { pos := add(pos, sub(b, 0x7f)) }
                    default {
                        switch lt(b, 0xc0)
                        case 1 {
                            let ll := sub(b, 0xb7)
                            pos := add(add(pos, add(1, ll)), shr(sub(256, shl(3, ll)), shl(8, w)))
                        }
                        default {
                            switch lt(b, 0xf8)
                            case 1 { pos := add(pos, sub(b, 0xbf)) }
                            default {
                                let ll := sub(b, 0xf7)
                                pos := add(add(pos, add(1, ll)), shr(sub(256, shl(3, ll)), shl(8, w)))
                            }
                        }
                    }
                }
            }
        }
    }

    /// @dev Decodes the hex-prefix path in node[s:e] and compares it with `path` from nibble `nib`, in O(1): both
    ///      are laid out as left-aligned nibble strings in one word and compared under a mask.
    function _matchPath(bytes calldata node, uint256 s, uint256 e, bytes32 path, uint256 nib)
        private
        pure
        returns (bool leaf, bool matches, uint256 len)
    {
        uint256 first = uint8(node[s]);
        uint256 flag = first >> 4;
        if (flag > 3) revert InvalidStorageProof(BAD_NODE);
        leaf = flag >= 2;
        bool odd = flag & 1 == 1;
        if (!odd && first & 0xf != 0) revert InvalidStorageProof(BAD_NODE);
        uint256 bytesLen = e - s - 1;
        if (bytesLen > 32) return (leaf, false, 0);
        len = bytesLen * 2 + (odd ? 1 : 0);
        if (len == 0) return (leaf, true, 0);
        if (nib + len > 64) return (leaf, false, len);
        uint256 nodeNibbles;
        assembly ("memory-safe") {
            nodeNibbles := calldataload(add(node.offset, add(s, 1)))
            if odd { nodeNibbles := or(shl(252, and(first, 0xf)), shr(4, nodeNibbles)) }
        }
        uint256 mask = ~(type(uint256).max >> (4 * len));
        matches = (nodeNibbles & mask) == ((uint256(path) << (4 * nib)) & mask);
    }
}
