// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {Owned} from "./lib/Owned.sol";

/// @notice Medical-chain registry of record anchors: institutions anchor a record's hash (never its content) and
///         log accesses. The anchor is what a RECORD_PROOF packet carries to the insurer chain.
contract RecordRegistry is Owned {
    struct Record {
        address institution;
        uint64 anchoredAt; // block timestamp
        bytes32 sha256Hash; // sha256 of the record document
        bytes32 disclosureRoot; // root over selectively disclosable fields
    }

    mapping(address => bool) public isInstitution;
    mapping(bytes32 recordId => Record) private _records;

    error NotInstitution(address caller);
    error AlreadyAnchored(bytes32 recordId);
    error UnknownRecord(bytes32 recordId);
    error EmptyHash();

    event InstitutionSet(address indexed institution, bool allowed);
    event RecordAnchored(
        bytes32 indexed recordId, address indexed institution, bytes32 sha256Hash, bytes32 disclosureRoot
    );
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

    /// @notice Anchors a record once; the anchor is immutable (corrections are new records).
    function anchor(bytes32 recordId, bytes32 sha256Hash, bytes32 disclosureRoot) external onlyInstitution {
        if (sha256Hash == bytes32(0)) revert EmptyHash();
        if (_records[recordId].institution != address(0)) revert AlreadyAnchored(recordId);
        _records[recordId] = Record(msg.sender, uint64(block.timestamp), sha256Hash, disclosureRoot);
        emit RecordAnchored(recordId, msg.sender, sha256Hash, disclosureRoot);
    }

    /// @notice Logs an access to an anchored record (accessor and purpose are pseudonymous ids).
    function logAccess(bytes32 recordId, bytes32 accessor, bytes32 purpose) external onlyInstitution {
        if (_records[recordId].institution == address(0)) revert UnknownRecord(recordId);
        emit AccessLogged(recordId, msg.sender, accessor, purpose);
    }

    /// @notice The anchor of `recordId` (institution 0 if none).
    function getRecord(bytes32 recordId) external view returns (Record memory) {
        return _records[recordId];
    }
}
