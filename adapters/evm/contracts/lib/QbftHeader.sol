// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {RLPReader} from "./RLPReader.sol";

/// @notice Besu QBFT header codec (hashing rules of hyperledger/besu `BftBlockHashing` / `QbftExtraDataCodec`, see
///         shared/fixtures/consortium/README.md): extraData = rlp([vanity(32), [validators], vote, round, [seals]]).
///         seal digest = keccak(rlp(header with extraData = rlp([vanity, validators, vote, round, []])))
///         block hash  = keccak(rlp(header with extraData = rlp([vanity, validators, vote, 0x80, []])))
/// @dev Works on the header RLP in calldata; the two re-encodings are built in memory once each.
library QbftHeader {
    /// reason: 1 too few header fields, 2 bad extraData (not the QBFT 5-item layout), 3 bad validator entry,
    ///         4 number/timestamp above uint64
    error InvalidHeader(uint8 reason);
    /// A seal that is not 65 bytes, has v not in {0,1}, a high s, or does not recover.
    error InvalidSeal(uint256 index);

    uint256 private constant SECP256K1N_HALF = 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0;

    struct Header {
        uint64 number;
        uint64 timestamp;
        bytes32 stateRoot;
        bytes32 receiptsRoot;
        uint256 round;
        // Offsets into the header RLP.
        uint256 payloadStart;
        uint256 payloadEnd;
        uint256 extraItemStart; // prefix of the extraData string
        uint256 extraItemEnd;
        uint256 extraStart; // extraData payload = the QBFT list
        // Offsets into the extraData payload.
        uint256 innerStart; // payload of the QBFT list (vanity first)
        uint256 validatorsStart; // payload of the validator list
        uint256 validatorsEnd;
        uint256 voteEnd;
        uint256 roundEnd;
        uint256 sealsStart; // payload of the seal list
        uint256 sealsEnd;
    }

    /// @notice Parses the header fields the light client needs and locates the QBFT extraData items.
    function parse(bytes calldata h) internal pure returns (Header memory r) {
        (r.payloadStart, r.payloadEnd) = RLPReader.listPayload(h);
        // One inline pass over the ~20 header fields: an RLPReader call per field costs ~10x more. Strictness is
        // kept for the fields read (bytes32At/uintAt); skipped fields only need their lengths, and the rebuilt
        // seal digest hashes them byte for byte, so any trick in them only changes the digest.
        uint256[6] memory at; // offsets of items 3, 5, 8, 11, 12 and the item count
        uint256 pe = r.payloadEnd;
        uint256 err;
        assembly ("memory-safe") {
            let pos := mload(add(r, 160)) // r.payloadStart (6th member)
            let idx := 0
            for {} lt(pos, pe) { idx := add(idx, 1) } {
                switch idx
                case 3 { mstore(at, pos) }
                case 5 { mstore(add(at, 32), pos) }
                case 8 { mstore(add(at, 64), pos) }
                case 11 { mstore(add(at, 96), pos) }
                case 12 { mstore(add(at, 128), pos) }
                let w := calldataload(add(h.offset, pos))
                let b := byte(0, w)
                switch lt(b, 0x80)
                case 1 { pos := add(pos, 1) }
                default {
                    switch or(lt(b, 0xb8), and(iszero(lt(b, 0xc0)), lt(b, 0xf8)))
                    case 1 { pos := add(pos, add(1, and(b, 0x3f))) } // short string/list: b & 0x3f = length
                    default {
                        let ll := sub(and(b, 0x3f), 0x37) // long string/list: length of the length
                        if iszero(byte(1, w)) { err := 1 }
                        let l := shr(sub(256, shl(3, ll)), shl(8, w))
                        if lt(l, 56) { err := 1 }
                        pos := add(add(pos, add(1, ll)), l)
                    }
                }
            }
            if gt(pos, pe) { err := 1 }
            mstore(add(at, 160), idx)
        }
        if (err != 0) revert RLPReader.RLPMalformed(RLPReader.NONCANONICAL);
        if (at[5] < 15) revert InvalidHeader(1); // parentHash … nonce at least
        uint256 v;
        (r.stateRoot,) = RLPReader.bytes32At(h, at[0]);
        (r.receiptsRoot,) = RLPReader.bytes32At(h, at[1]);
        (v,) = RLPReader.uintAt(h, at[2]);
        if (v > type(uint64).max) revert InvalidHeader(4);
        r.number = uint64(v);
        (v,) = RLPReader.uintAt(h, at[3]);
        if (v > type(uint64).max) revert InvalidHeader(4);
        r.timestamp = uint64(v);
        r.extraItemStart = at[4];
        (r.extraStart, r.extraItemEnd) = RLPReader.stringAt(h, at[4]);
        _parseExtra(h[r.extraStart:r.extraItemEnd], r);
    }

    function _parseExtra(bytes calldata ex, Header memory r) private pure {
        uint256 end;
        (r.innerStart, end) = RLPReader.listPayload(ex);
        (uint256 s, uint256 pos) = RLPReader.stringAt(ex, r.innerStart);
        if (pos - s != 32) revert InvalidHeader(2); // vanity
        (r.validatorsStart, pos) = RLPReader.listAt(ex, pos);
        r.validatorsEnd = pos;
        // QBFT encodes "no vote" as an empty list (IBFT 2.0 uses an empty string): refusing a string here is what
        // keeps an IBFT 2.0 header from being read under QBFT rules.
        (, pos) = RLPReader.listAt(ex, pos);
        r.voteEnd = pos;
        (r.round, pos) = RLPReader.uintAt(ex, pos);
        r.roundEnd = pos;
        (r.sealsStart, pos) = RLPReader.listAt(ex, pos);
        r.sealsEnd = pos;
        if (pos != end) revert InvalidHeader(2);
    }

    /// @notice The validator list in the header's extraData.
    function validators(bytes calldata h, Header memory r) internal pure returns (address[] memory list) {
        bytes calldata ex = h[r.extraStart:r.extraItemEnd];
        uint256 len = r.validatorsEnd - r.validatorsStart;
        if (len % 21 != 0) revert InvalidHeader(3);
        list = new address[](len / 21);
        uint256 pos = r.validatorsStart;
        for (uint256 i; i < list.length; ++i) {
            (uint256 s, uint256 e) = RLPReader.stringAt(ex, pos);
            if (e - s != 20) revert InvalidHeader(3);
            address a;
            assembly ("memory-safe") {
                a := shr(96, calldataload(add(ex.offset, s)))
            }
            list[i] = a;
            pos = e;
        }
    }

    /// @notice keccak of the header re-encoded with seals emptied (round kept): what each validator signs.
    function sealDigest(bytes calldata h, Header memory r) internal pure returns (bytes32) {
        bytes calldata ex = h[r.extraStart:r.extraItemEnd];
        return _rehash(h, r, abi.encodePacked(ex[r.innerStart:r.roundEnd], hex"c0"));
    }

    /// @notice The block hash: round forced to 0 and seals emptied, so seals from any round share one hash.
    function blockHash(bytes calldata h, Header memory r) internal pure returns (bytes32) {
        bytes calldata ex = h[r.extraStart:r.extraItemEnd];
        return _rehash(h, r, abi.encodePacked(ex[r.innerStart:r.voteEnd], hex"80c0"));
    }

    function _rehash(bytes calldata h, Header memory r, bytes memory inner) private pure returns (bytes32) {
        bytes memory extra = abi.encodePacked(RLPReader.encodeLength(inner.length, 0xc0), inner);
        bytes memory payload = abi.encodePacked(
            h[r.payloadStart:r.extraItemStart],
            RLPReader.encodeLength(extra.length, 0x80),
            extra,
            h[r.extraItemEnd:r.payloadEnd]
        );
        return keccak256(abi.encodePacked(RLPReader.encodeLength(payload.length, 0xc0), payload));
    }

    /// @notice Number of commit seals in the header.
    function sealCount(bytes calldata h, Header memory r) internal pure returns (uint256 n) {
        bytes calldata ex = h[r.extraStart:r.extraItemEnd];
        for (uint256 pos = r.sealsStart; pos < r.sealsEnd; pos = RLPReader.skip(ex, pos)) ++n;
    }

    /// @notice Recovers the signer of every commit seal (r ‖ s ‖ v, v ∈ {0,1}, low s) over `digest`.
    function recoverSeals(bytes calldata h, Header memory r, bytes32 digest)
        internal
        pure
        returns (address[] memory signers)
    {
        bytes calldata ex = h[r.extraStart:r.extraItemEnd];
        signers = new address[](sealCount(h, r));
        uint256 pos = r.sealsStart;
        for (uint256 i; i < signers.length; ++i) {
            (uint256 s0, uint256 e0) = RLPReader.stringAt(ex, pos);
            pos = e0;
            if (e0 - s0 != 65) revert InvalidSeal(i);
            bytes32 sr;
            bytes32 ss;
            uint8 v;
            assembly ("memory-safe") {
                let p := add(ex.offset, s0)
                sr := calldataload(p)
                ss := calldataload(add(p, 32))
                v := byte(0, calldataload(add(p, 64)))
            }
            // Low s only (EIP-2): otherwise (r, n - s, v ^ 1) would be a second valid seal from the same signer.
            if (v > 1 || uint256(ss) > SECP256K1N_HALF) revert InvalidSeal(i);
            address signer = ecrecover(digest, v + 27, sr, ss);
            if (signer == address(0)) revert InvalidSeal(i);
            signers[i] = signer;
        }
    }
}
