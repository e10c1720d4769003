// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

/// @notice Strict RLP reader over calldata. Positions are offsets relative to the `data` slice passed in.
/// @dev Strict like consensus clients: non-canonical lengths, a single byte < 0x80 wrapped as a string, leading
///      zeros in lengths or integers, and items running past their container are rejected. Without this, one value
///      would have several encodings and a forger could pick the one that hashes the way he wants.
library RLPReader {
    /// reason: 1 truncated, 2 non-canonical, 3 expected a list, 4 expected a string, 5 trailing bytes, 6 bad integer
    error RLPMalformed(uint8 reason);

    uint8 internal constant TRUNCATED = 1;
    uint8 internal constant NONCANONICAL = 2;
    uint8 internal constant NOT_LIST = 3;
    uint8 internal constant NOT_STRING = 4;
    uint8 internal constant TRAILING = 5;
    uint8 internal constant BAD_UINT = 6;

    /// @notice Decodes the prefix of the item at `pos`.
    /// @return start payload start, end payload end (== offset just past the item), isList list flag
    function header(bytes calldata data, uint256 pos)
        internal
        pure
        returns (uint256 start, uint256 end, bool isList)
    {
        // Assembly: this runs for every item of every header and proof node; the Solidity version cost ~5x more.
        uint256 err;
        assembly ("memory-safe") {
            let len := data.length
            for {} 1 {} {
                if iszero(lt(pos, len)) {
                    err := 1 // TRUNCATED
                    break
                }
                let w := calldataload(add(data.offset, pos))
                let b := byte(0, w)
                if lt(b, 0x80) {
                    start := pos
                    end := add(pos, 1)
                    break
                }
                if lt(b, 0xb8) {
                    start := add(pos, 1)
                    end := add(start, sub(b, 0x80))
                    if gt(end, len) {
                        err := 1
                        break
                    }
                    // A single byte below 0x80 must be encoded as itself.
                    if and(eq(b, 0x81), lt(byte(1, w), 0x80)) { err := 2 }
                    break
                }
                if and(iszero(lt(b, 0xc0)), lt(b, 0xf8)) {
                    start := add(pos, 1)
                    end := add(start, sub(b, 0xc0))
                    isList := 1
                    break
                }
                // Long forms: 0xb8..0xbf (string), 0xf8..0xff (list).
                let ll := sub(b, 0xb7)
                if iszero(lt(b, 0xc0)) {
                    ll := sub(b, 0xf7)
                    isList := 1
                }
                if gt(ll, 4) {
                    err := 1
                    break
                }
                if iszero(byte(1, w)) {
                    err := 2 // leading zero in the length
                    break
                }
                let l := shr(sub(256, shl(3, ll)), shl(8, w))
                if lt(l, 56) {
                    err := 2 // long form for a short payload
                    break
                }
                start := add(add(pos, 1), ll)
                end := add(start, l)
                break
            }
            if and(iszero(err), gt(end, len)) { err := 1 }
        }
        if (err != 0) revert RLPMalformed(uint8(err));
    }

    /// @notice `data` must be exactly one list item; returns its payload bounds.
    function listPayload(bytes calldata data) internal pure returns (uint256 start, uint256 end) {
        bool isList;
        (start, end, isList) = header(data, 0);
        if (!isList) revert RLPMalformed(NOT_LIST);
        if (end != data.length) revert RLPMalformed(TRAILING);
    }

    /// @notice Reads a string item at `pos`; returns its payload bounds (end is also the next position).
    function stringAt(bytes calldata data, uint256 pos) internal pure returns (uint256 start, uint256 end) {
        bool isList;
        (start, end, isList) = header(data, pos);
        if (isList) revert RLPMalformed(NOT_STRING);
    }

    /// @notice Reads a list item at `pos`; returns its payload bounds (end is also the next position).
    function listAt(bytes calldata data, uint256 pos) internal pure returns (uint256 start, uint256 end) {
        bool isList;
        (start, end, isList) = header(data, pos);
        if (!isList) revert RLPMalformed(NOT_LIST);
    }

    /// @notice Reads a minimal big-endian integer of at most 32 bytes at `pos`.
    function uintAt(bytes calldata data, uint256 pos) internal pure returns (uint256 value, uint256 next) {
        uint256 start;
        (start, next) = stringAt(data, pos);
        uint256 l = next - start;
        if (l > 32) revert RLPMalformed(BAD_UINT);
        if (l == 0) return (0, next);
        assembly ("memory-safe") {
            value := shr(sub(256, mul(8, l)), calldataload(add(data.offset, start)))
        }
        if (value >> (8 * (l - 1)) == 0) revert RLPMalformed(BAD_UINT); // leading zero byte
    }

    /// @notice Reads a string of exactly 32 bytes at `pos`.
    function bytes32At(bytes calldata data, uint256 pos) internal pure returns (bytes32 value, uint256 next) {
        uint256 start;
        (start, next) = stringAt(data, pos);
        if (next - start != 32) revert RLPMalformed(NOT_STRING);
        assembly ("memory-safe") {
            value := calldataload(add(data.offset, start))
        }
    }

    /// @notice Offset just past the item at `pos`.
    function skip(bytes calldata data, uint256 pos) internal pure returns (uint256 next) {
        (, next,) = header(data, pos);
    }

    /// @notice RLP length prefix for a payload of `len` bytes (`offset` 0x80 for strings, 0xc0 for lists).
    function encodeLength(uint256 len, uint256 offset) internal pure returns (bytes memory out) {
        if (len < 56) return abi.encodePacked(uint8(offset + len));
        uint256 lenOfLen;
        for (uint256 l = len; l != 0; l >>= 8) ++lenOfLen;
        out = new bytes(1 + lenOfLen);
        out[0] = bytes1(uint8(offset + 55 + lenOfLen));
        for (uint256 i = lenOfLen; i != 0; --i) {
            out[i] = bytes1(uint8(len));
            len >>= 8;
        }
    }
}
