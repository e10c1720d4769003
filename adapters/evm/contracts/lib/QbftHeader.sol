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
        uint256 pos = r.payloadStart;
        uint256 idx;
        uint256 v;
        while (pos < r.payloadEnd) {
            if (idx == 3) {
                (r.stateRoot, pos) = RLPReader.bytes32At(h, pos);
            } else if (idx == 5) {
                (r.receiptsRoot, pos) = RLPReader.bytes32At(h, pos);
            } else if (idx == 8) {
                (v, pos) = RLPReader.uintAt(h, pos);
                if (v > type(uint64).max) revert InvalidHeader(4);
                r.number = uint64(v);
            } else if (idx == 11) {
                (v, pos) = RLPReader.uintAt(h, pos);
                if (v > type(uint64).max) revert InvalidHeader(4);
                r.timestamp = uint64(v);
            } else if (idx == 12) {
                r.extraItemStart = pos;
                (r.extraStart, pos) = RLPReader.stringAt(h, pos);
                r.extraItemEnd = pos;
            } else {
                pos = RLPReader.skip(h, pos);
            }
            ++idx;
        }
        if (idx < 15) revert InvalidHeader(1); // parentHash … nonce at least
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
            list[i] = address(bytes20(ex[s:e]));
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
            bytes32 sr = bytes32(ex[s0:s0 + 32]);
            bytes32 ss = bytes32(ex[s0 + 32:s0 + 64]);
            uint8 v = uint8(ex[s0 + 64]);
            // Low s only (EIP-2): otherwise (r, n - s, v ^ 1) would be a second valid seal from the same signer.
            if (v > 1 || uint256(ss) > SECP256K1N_HALF) revert InvalidSeal(i);
            address signer = ecrecover(digest, v + 27, sr, ss);
            if (signer == address(0)) revert InvalidSeal(i);
            signers[i] = signer;
        }
    }
}
