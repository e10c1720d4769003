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
        uint256 len = data.length;
        if (pos >= len) revert RLPMalformed(TRUNCATED);
        uint256 b;
        uint256 word;
        assembly ("memory-safe") {
            word := calldataload(add(data.offset, pos))
            b := byte(0, word)
        }
        if (b < 0x80) {
            return (pos, pos + 1, false);
        }
        if (b < 0xb8) {
            uint256 l = b - 0x80;
            start = pos + 1;
            end = start + l;
            if (end > len) revert RLPMalformed(TRUNCATED);
            // A single byte below 0x80 must be encoded as itself.
            if (l == 1 && (word >> 240) & 0xff < 0x80) revert RLPMalformed(NONCANONICAL);
        } else if (b < 0xc0) {
            (start, end) = _long(word, pos, b - 0xb7);
        } else if (b < 0xf8) {
            start = pos + 1;
            end = start + (b - 0xc0);
            isList = true;
        } else {
            (start, end) = _long(word, pos, b - 0xf7);
            isList = true;
        }
        if (end > len) revert RLPMalformed(TRUNCATED);
    }

    function _long(uint256 word, uint256 pos, uint256 lenOfLen) private pure returns (uint256 start, uint256 end) {
        // Payloads beyond 4 GiB cannot occur in calldata; capping lenOfLen keeps the arithmetic small.
        if (lenOfLen > 4) revert RLPMalformed(TRUNCATED);
        uint256 l = (word << 8) >> (256 - 8 * lenOfLen);
        if ((word >> 240) & 0xff == 0) revert RLPMalformed(NONCANONICAL); // leading zero in the length
        if (l < 56) revert RLPMalformed(NONCANONICAL); // long form for a short payload
        start = pos + 1 + lenOfLen;
        end = start + l;
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
