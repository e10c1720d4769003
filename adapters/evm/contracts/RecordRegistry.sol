// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {Owned} from "./lib/Owned.sol";
import {Anchor, MedrelayEip712} from "./lib/MedrelayEip712.sol";

/// @notice Medical-chain registry of record anchors: institutions anchor a record's hash (never its content) and
///         log accesses. A signed anchor (`anchorSigned`) carries the patient pseudonym and the institution's
///         EIP-712 signature (docs/records.md), which every destination re-verifies; only signed anchors can be
///         shared cross-chain (RecordProofSender, ReferralGateway).
contract RecordRegistry is Owned {
    struct Record {
        address institution;
        uint64 anchoredAt; // signed anchors: the signed time; legacy `anchor`: block timestamp
        bytes32 sha256Hash; // record hash: sha256 of the JCS FHIR document
        bytes32 disclosureRoot; // root over selectively disclosable fields
        bytes32 patient; // pseudonym (0 for legacy unsigned anchors)
        bytes signature; // institution's EIP-712 signature (empty for legacy unsigned anchors)
    }

    /// How far in the future (seconds) a signed `anchoredAt` may lie (clock skew between signer and chain).
    uint64 public constant MAX_FUTURE_SKEW = 300;

    mapping(address => bool) public isInstitution;
    mapping(bytes32 recordId => Record) private _records;

    error NotInstitution(address caller);
    error AlreadyAnchored(bytes32 recordId);
    error UnknownRecord(bytes32 recordId);
    error EmptyHash();
    error EmptyPatient();
    error InvalidAnchorTime(uint64 anchoredAt, uint64 blockTime);
    /// The signature is malformed (reason: 1 length, 2 v, 3 high s, 4 unrecoverable).
    error InvalidSignature(uint8 reason);
    /// The signature recovers to `signer`, not to the anchor's institution.
    error WrongSigner(address signer, address institution);

    event InstitutionSet(address indexed institution, bool allowed);
    event RecordAnchored(
        bytes32 indexed recordId, address indexed institution, bytes32 sha256Hash, bytes32 disclosureRoot
    );
    /// Emitted (after RecordAnchored) for a signed anchor.
    event AnchorSigned(bytes32 indexed recordId, bytes32 indexed patient, uint64 anchoredAt, bytes signature);
    event AccessLogged(bytes32 indexed recordId, address indexed institution, bytes32 accessor, bytes32 purpose);

    modifier onlyInstitution() {
        if (!isInstitution[msg.sender]) revert NotInstitution(msg.sender);
        _;
    }

    /// @notice Allows or removes an institution (owner only).
    function setInstitution(address institution, bool allowed) external onlyOwner {
        isInstitution[institution] = allowed;
        emit InstitutionSet(institution, allowed);
    }

    /// @notice Legacy unsigned anchor (no patient, no signature), by an institution. Kept for local bookkeeping;
    ///         it cannot be shared cross-chain (senders refuse unsigned anchors).
    function anchor(bytes32 recordId, bytes32 sha256Hash, bytes32 disclosureRoot) external onlyInstitution {
        if (sha256Hash == bytes32(0)) revert EmptyHash();
        if (_records[recordId].institution != address(0)) revert AlreadyAnchored(recordId);
        _records[recordId] = Record(msg.sender, uint64(block.timestamp), sha256Hash, disclosureRoot, bytes32(0), "");
        emit RecordAnchored(recordId, msg.sender, sha256Hash, disclosureRoot);
    }

    /// @notice Anchors a record signed by its institution (EIP-712 `Anchor`, domain chainId = this chain). Anyone
    ///         may submit it (e.g. a relayer paying gas); the signer must be a registered institution and equal
    ///         `a.institution`, with low s. Anchors are immutable (corrections are new records).
    function anchorSigned(Anchor calldata a, bytes calldata signature) external {
        if (a.recordHash == bytes32(0)) revert EmptyHash();
        if (a.patient == bytes32(0)) revert EmptyPatient();
        if (a.anchoredAt == 0 || a.anchoredAt > block.timestamp + MAX_FUTURE_SKEW) {
            revert InvalidAnchorTime(a.anchoredAt, uint64(block.timestamp));
        }
        if (!isInstitution[a.institution]) revert NotInstitution(a.institution);
        if (_records[a.recordId].institution != address(0)) revert AlreadyAnchored(a.recordId);
        (address signer, MedrelayEip712.SigError err) =
            MedrelayEip712.tryRecover(MedrelayEip712.anchorDigest(a, block.chainid), signature);
        if (err != MedrelayEip712.SigError.None) revert InvalidSignature(uint8(err));
        if (signer != a.institution) revert WrongSigner(signer, a.institution);
        _records[a.recordId] =
            Record(a.institution, a.anchoredAt, a.recordHash, a.disclosureRoot, a.patient, signature);
        emit RecordAnchored(a.recordId, a.institution, a.recordHash, a.disclosureRoot);
        emit AnchorSigned(a.recordId, a.patient, a.anchoredAt, signature);
    }

    /// @notice Logs an access to an anchored record (accessor and purpose are pseudonymous ids), by an institution.
    function logAccess(bytes32 recordId, bytes32 accessor, bytes32 purpose) external onlyInstitution {
        if (_records[recordId].institution == address(0)) revert UnknownRecord(recordId);
        emit AccessLogged(recordId, msg.sender, accessor, purpose);
    }

    /// @notice The anchor of `recordId` (institution 0 if none).
    function getRecord(bytes32 recordId) external view returns (Record memory) {
        return _records[recordId];
    }

    /// @notice The signed anchor of `recordId` and its signature (signature empty if unsigned or unknown).
    function signedAnchor(bytes32 recordId) external view returns (Anchor memory a, bytes memory signature) {
        Record storage r = _records[recordId];
        a = Anchor(recordId, r.sha256Hash, r.disclosureRoot, r.patient, r.institution, r.anchoredAt);
        signature = r.signature;
    }

    /// @notice EIP-712 digest an institution signs for `a` on this chain.
    function anchorDigest(Anchor calldata a) external view returns (bytes32) {
        return MedrelayEip712.anchorDigest(a, block.chainid);
    }
}
