// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {Owned} from "./lib/Owned.sol";

/// @notice Patient audit trail: registered writers (institutions, the relayer, ReferralGateway) anchor the hash of
///         each off-chain audit entry (who accessed what, when, why) under the patient's pseudonym, so the patient
///         can later prove the trail they are shown is complete and unaltered.
/// @dev `action` is the FHIR R4 AuditEvent.action code as one ASCII byte ('C' 0x43, 'R' 0x52, 'U' 0x55, 'D' 0x44,
///      'E' 0x45), 0 when unspecified (batches: the action is inside each hashed entry). Anchoring is idempotent:
///      the relayer's retry loops may anchor one entry twice, so a repeat is a no-op (no revert, no event).
contract AuditLog is Owned {
    uint8 public constant ACTION_UNSPECIFIED = 0;
    uint8 public constant ACTION_CREATE = 0x43; // 'C'
    uint8 public constant ACTION_READ = 0x52; // 'R'
    uint8 public constant ACTION_UPDATE = 0x55; // 'U'
    uint8 public constant ACTION_DELETE = 0x44; // 'D'
    uint8 public constant ACTION_EXECUTE = 0x45; // 'E'

    mapping(address => bool) public isWriter;
    /// @notice Block timestamp at which (patient, entryHash) was anchored, 0 if never.
    mapping(bytes32 patient => mapping(bytes32 entryHash => uint64)) public anchoredAt;
    /// @notice Number of entries anchored per patient.
    mapping(bytes32 patient => uint256) public entryCount;

    error NotWriter(address caller);
    error EmptyEntry();

    event WriterSet(address indexed writer, bool allowed);
    event AuditAnchored(bytes32 indexed patient, bytes32 indexed entryHash, uint8 action, uint64 timestamp);

    modifier onlyWriter() {
        if (!isWriter[msg.sender]) revert NotWriter(msg.sender);
        _;
    }

    /// @notice Allows or removes a writer (owner only).
    function setWriter(address writer, bool allowed) external onlyOwner {
        isWriter[writer] = allowed;
        emit WriterSet(writer, allowed);
    }

    /// @notice Anchors one audit entry of `patient` (a repeat of an anchored entry is a no-op).
    function record(bytes32 patient, bytes32 entryHash, uint8 action) external onlyWriter {
        _record(patient, entryHash, action);
    }

    /// @notice Anchors several entries of `patient` (action ACTION_UNSPECIFIED: it is part of each hashed entry).
    function recordBatch(bytes32 patient, bytes32[] calldata entryHashes) external onlyWriter {
        uint256 n = entryHashes.length;
        if (n == 0) revert EmptyEntry();
        for (uint256 i; i < n; ++i) {
            _record(patient, entryHashes[i], ACTION_UNSPECIFIED);
        }
    }

    function _record(bytes32 patient, bytes32 entryHash, uint8 action) private {
        if (patient == bytes32(0) || entryHash == bytes32(0)) revert EmptyEntry();
        if (anchoredAt[patient][entryHash] != 0) return; // idempotent
        uint64 ts = uint64(block.timestamp);
        anchoredAt[patient][entryHash] = ts;
        ++entryCount[patient];
        emit AuditAnchored(patient, entryHash, action, ts);
    }
}
