// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

/// @notice A record anchor (docs/records.md, "Record anchor"). Field order is part of the EIP-712 type.
struct Anchor {
    bytes32 recordId;
    bytes32 recordHash; // sha256(jcs(resource))
    bytes32 disclosureRoot; // root of the salted disclosure tree
    bytes32 patient; // HMAC-SHA256 pseudonym
    address institution; // signer
    uint64 anchoredAt; // unix seconds, chosen and signed by the institution
}

/// @notice EIP-712 hashing and signature recovery for medrelay's typed data: `Anchor(…)` and `Revoke(bytes32)`
///         under the domain `{ name: "medrelay", version: "1", chainId }` (no verifyingContract: a signature is
///         portable to every chain that checks it, bound to the chain id given).
library MedrelayEip712 {
    bytes32 internal constant DOMAIN_TYPEHASH = keccak256("EIP712Domain(string name,string version,uint256 chainId)");
    bytes32 internal constant NAME_HASH = keccak256("medrelay");
    bytes32 internal constant VERSION_HASH = keccak256("1");
    bytes32 internal constant ANCHOR_TYPEHASH = keccak256(
        "Anchor(bytes32 recordId,bytes32 recordHash,bytes32 disclosureRoot,bytes32 patient,address institution,uint64 anchoredAt)"
    );
    bytes32 internal constant REVOKE_TYPEHASH = keccak256("Revoke(bytes32 consentId)");
    /// secp256k1n / 2: larger s values are the malleable twin (EIP-2).
    uint256 internal constant HALF_N = 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0;

    /// Why a signature did not recover.
    enum SigError {
        None,
        BadLength, // not 65 bytes
        BadV, // v not 27/28
        HighS, // s > n/2
        Invalid // ecrecover failed (r or s zero / not on curve)
    }

    function domainSeparator(uint256 chainId) internal pure returns (bytes32) {
        return keccak256(abi.encode(DOMAIN_TYPEHASH, NAME_HASH, VERSION_HASH, chainId));
    }

    /// @notice keccak256(0x1901 ‖ domainSeparator(chainId) ‖ hashStruct(anchor)).
    function anchorDigest(Anchor memory a, uint256 chainId) internal pure returns (bytes32) {
        bytes32 structHash = keccak256(
            abi.encode(
                ANCHOR_TYPEHASH, a.recordId, a.recordHash, a.disclosureRoot, a.patient, a.institution, a.anchoredAt
            )
        );
        return typedDigest(domainSeparator(chainId), structHash);
    }

    /// @notice Digest of `Revoke(bytes32 consentId)` signed by the patient's key.
    function revokeDigest(bytes32 consentId, uint256 chainId) internal pure returns (bytes32) {
        return typedDigest(domainSeparator(chainId), keccak256(abi.encode(REVOKE_TYPEHASH, consentId)));
    }

    /// @notice Signer of a 65-byte r‖s‖v signature (v ∈ {27, 28}, low s), or address(0) and the reason.
    function tryRecover(bytes32 digest, bytes memory sig) internal pure returns (address signer, SigError err) {
        if (sig.length != 65) return (address(0), SigError.BadLength);
        bytes32 r;
        bytes32 s;
        uint8 v;
        assembly ("memory-safe") {
            r := mload(add(sig, 32))
            s := mload(add(sig, 64))
            v := byte(0, mload(add(sig, 96)))
        }
        if (v != 27 && v != 28) return (address(0), SigError.BadV);
        if (uint256(s) > HALF_N) return (address(0), SigError.HighS);
        signer = ecrecover(digest, v, r, s);
        if (signer == address(0)) return (address(0), SigError.Invalid);
    }

    /// @notice EIP-712 digest keccak256(0x1901 ‖ domain ‖ structHash), for any domain (record anchors, FX quotes).
    function typedDigest(bytes32 domain, bytes32 structHash) internal pure returns (bytes32 digest) {
        assembly ("memory-safe") {
            let m := mload(0x40)
            mstore(m, hex"1901")
            mstore(add(m, 2), domain)
            mstore(add(m, 34), structHash)
            digest := keccak256(m, 66)
        }
    }
}
