// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

/// @notice Append-only Merkle accumulator of depth 32 (the eth2 deposit-contract tree), mirrored byte for byte by
///         `proofs/accumulator.ts`. Leaf index = sequence - 1. A contiguous range of leaves is proven with one range
///         proof of at most 2 items per level, so one storage proof of the root plus one range proof serve a batch.
/// @dev Storage: `branch[l]` holds the last complete left node at level l (valid where bit l of the size is set);
///      the caller keeps the size (it equals a sequence counter) and the root.
library MerkleAccumulator {
    error InvalidRangeProof();
    error AccumulatorFull();

    uint256 internal constant DEPTH = 32;

    /// zero[l] = root of an empty subtree of height l, l = 0..31 (zero[0] = 0, zero[l+1] = keccak(zero[l] ‖ zero[l]))
    bytes internal constant ZEROS =
        hex"0000000000000000000000000000000000000000000000000000000000000000ad3228b676f7d3cd4284a5443f17f1962b36e491b30a40b2405849e597ba5fb5b4c11951957c6f8f642c4af61cd6b24640fec6dc7fc607ee8206a99e92410d3021ddb9a356815c3fac1026b6dec5df3124afbadb485c9ba5a3e3398a04b7ba85e58769b32a1beaf1ea27375a44095a0d1fb664ce2dd358e7fcbfb78c26a193440eb01ebfc9ed27500cd4dfc979272d1f0913cc9f66540d7e8005811109e1cf2d887c22bd8750d34016ac3c66b5ff102dacdd73f6b014e710b51e8022af9a1968ffd70157e48063fc33c97a050f7f640233bf646cc98d9524c6b92bcf3ab56f839867cc5f7f196b93bae1e27e6320742445d290f2263827498b54fec539f756afcefad4e508c098b9a7e1d8feb19955fb02ba9675585078710969d3440f5054e0f9dc3e7fe016e050eff260334f18a5d4fe391d82092319f5964f2e2eb7c1c3a5f8b13a49e282f609c317a833fb8d976d11517c571d1221a265d25af778ecf8923490c6ceeb450aecdc82e28293031d10c7d73bf85e57bf041a97360aa2c5d99cc1df82d9c4b87413eae2ef048f94b4d3554cea73d92b0f7af96e0271c691e2bb5c67add7c6caf302256adedf7ab114da0acfe870d449a3a489f781d659e8beccda7bce9f4e8618b6bd2f4132ce798cdc7a60e7e1460a7299e3c6342a579626d22733e50f526ec2fa19a22b31e8ed50f23cd1fdf94c9154ed3a7609a2f1ff981fe1d3b5c807b281e4683cc6d6315cf95b9ade8641defcb32372f1c126e398ef7a5a2dce0a8a7f68bb74560f8f71837c2c2ebbcbf7fffb42ae1896f13f7c7479a0b46a28b6f55540f89444f63de0378e3d121be09e06cc9ded1c20e65876d36aa0c65e9645644786b620e2dd2ad648ddfcbf4a7e5b1a3a4ecfe7f64667a3f0b7e2f4418588ed35a2458cffeb39b93d26f18d2ab13bdce6aee58e7b99359ec2dfd95a9c16dc00d6ef18b7933a6f8dc65ccb55667138776f7dea101070dc8796e3774df84f40ae0c8229d0d6069e5c8f39a7c299677a09d367fc7b05e3bc380ee652cdc72595f74c7b1043d0e1ffbab734648c838dfb0527d971b602bc216c9619ef0abf5ac974a1ed57f4050aa510dd9c74f508277b39d7973bb2dfccc5eeb0618db8cd74046ff337f0a7bf2c8e03e10f642c1886798d71806ab1e888d9e5ee87d0838c5655cb21c6cb83313b5a631175dff4963772cce9108188b34ac87c81c41e662ee4dd2dd7b2bc707961b1e646c4047669dcb6584f0d8d770daf5d7e7deb2e388ab20e2573d171a88108e79d820e98f26c0b84aa8b2f4aa4968dbb818ea32293237c50ba75ee485f4c22adf2f741400bdf8d6a9cc7df7ecae576221665d7358448818bb4ae4562849e949e17ac16e0be16688e156b5cf15e098c627c0056a9";

    /// @notice Root implied by `leaves` at indices [start, start + leaves.length) and a range proof, exactly as in
    ///         docs/architecture.md: per level, a left sibling if lo is odd, then a right sibling if hi is even.
    /// @dev Reverts `InvalidRangeProof` for a proof too short or too long; the caller compares the root.
    function rangeRoot(uint256 start, bytes32[] memory leaves, bytes32[] calldata proof)
        internal
        pure
        returns (bytes32 root)
    {
        uint256 k = leaves.length;
        if (k == 0 || start + k > 1 << DEPTH) revert InvalidRangeProof();
        bytes32[] memory buf = _buffer(leaves);
        bool ok = true;
        // Assembly: this loop runs 32 times per batch; in Solidity its bookkeeping cost ~800 gas per level.
        assembly ("memory-safe") {
            let base := add(buf, 32) // buf[0]: spare slot for a left sibling
            let p := proof.offset
            let pend := add(p, shl(5, proof.length))
            let lo := start
            let n := k
            for { let l := 0 } lt(l, 32) { l := add(l, 1) } {
                let hi := sub(add(lo, n), 1)
                let first := add(base, 32)
                if and(lo, 1) {
                    if iszero(lt(p, pend)) {
                        ok := 0
                        break
                    }
                    mstore(base, calldataload(p))
                    p := add(p, 32)
                    first := base
                    n := add(n, 1)
                }
                if iszero(and(hi, 1)) {
                    if iszero(lt(p, pend)) {
                        ok := 0
                        break
                    }
                    mstore(add(first, shl(5, n)), calldataload(p))
                    p := add(p, 32)
                    n := add(n, 1)
                }
                // Pairwise hash into buf[1..]: output j lands at or before its inputs, which are read first.
                let dst := add(base, 32)
                for { let end := add(dst, shl(4, n)) } lt(dst, end) { dst := add(dst, 32) } {
                    mstore(0, mload(first))
                    mstore(32, mload(add(first, 32)))
                    mstore(dst, keccak256(0, 64))
                    first := add(first, 64)
                }
                n := shr(1, n)
                lo := shr(1, lo)
            }
            if iszero(eq(p, pend)) { ok := 0 }
            root := mload(add(base, 32))
        }
        if (!ok) revert InvalidRangeProof();
    }

    /// @notice Appends `leaves` to the tree of `size` leaves whose frontier is `branch`; writes only the branch
    ///         slots that change and returns the new root. One pass over the levels for the whole batch.
    function appendBatch(bytes32[32] storage branch, uint256 size, bytes32[] memory leaves)
        internal
        returns (bytes32 root)
    {
        uint256 k = leaves.length;
        uint256 newSize = size + k;
        if (newSize > (1 << DEPTH) - 1) revert AccumulatorFull();
        if (k == 0) revert InvalidRangeProof();
        bytes memory zs = ZEROS;
        bytes32[] memory buf = _buffer(leaves);
        assembly ("memory-safe") {
            let base := add(buf, 32)
            let bslot := branch.slot // bytes32[32] in storage: 32 consecutive slots
            let z := add(zs, 32)
            let lo := size
            let n := k
            for { let l := 0 } lt(l, 32) { l := add(l, 1) } {
                let hi := sub(add(lo, n), 1)
                let first := add(base, 32)
                if and(lo, 1) {
                    // Bit l of size is set, so branch[l] is the complete left sibling of index lo.
                    mstore(base, sload(add(bslot, l)))
                    first := base
                    n := add(n, 1)
                }
                if iszero(and(hi, 1)) {
                    // Everything right of the last leaf is empty.
                    mstore(add(first, shl(5, n)), mload(add(z, shl(5, l))))
                    n := add(n, 1)
                }
                let s := shr(l, newSize)
                if and(s, 1) {
                    // New last complete node at level l; stored only if the batch produced it.
                    let t := sub(s, 1)
                    if iszero(lt(t, lo)) {
                        sstore(add(bslot, l), mload(add(first, shl(5, sub(t, and(lo, not(1)))))))
                    }
                }
                let dst := add(base, 32)
                for { let end := add(dst, shl(4, n)) } lt(dst, end) { dst := add(dst, 32) } {
                    mstore(0, mload(first))
                    mstore(32, mload(add(first, 32)))
                    mstore(dst, keccak256(0, 64))
                    first := add(first, 64)
                }
                n := shr(1, n)
                lo := shr(1, lo)
            }
            root := mload(add(base, 32))
        }
    }

    /// @notice Appends one leaf (see `appendBatch`).
    function append(bytes32[32] storage branch, uint256 size, bytes32 leaf) internal returns (bytes32) {
        bytes32[] memory one = new bytes32[](1);
        one[0] = leaf;
        return appendBatch(branch, size, one);
    }

    /// @dev buf = [spare, leaves..., spare]: room for one left and one right sibling at every level.
    function _buffer(bytes32[] memory leaves) private pure returns (bytes32[] memory buf) {
        uint256 k = leaves.length;
        buf = new bytes32[](k + 2);
        assembly ("memory-safe") {
            mcopy(add(buf, 64), add(leaves, 32), shl(5, k))
        }
    }
}
