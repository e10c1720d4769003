// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {RecordProofStore} from "./RecordProofStore.sol";
import {MultiProof} from "./lib/MultiProof.sol";

/// @notice Insurer-chain verifier of selective disclosures (docs/records.md): disclosed FHIR elements are checked
///         against the disclosure root of a record proof the RecordProofStore holds (delivered with verified
///         light-client + Merkle proofs, consent and institution signature checked at delivery).
/// @dev Leaf = keccak256(abi.encode(bytes16 salt, string path, string value)); OpenZeppelin multiproof semantics
///      (lib/MultiProof.sol), leaves in tree order (ascending leaf hash, as `disclose` emits them).
contract DisclosureVerifier {
    /// One disclosed element: its 16-byte salt, its path (`Condition.code.coding[0].code`) and its RFC 8785 value.
    struct Element {
        bytes16 salt;
        string path;
        string value;
    }

    RecordProofStore public immutable store;

    error UnknownRecord(bytes32 recordId);
    error EmptyDisclosure();
    error InvalidDisclosure(bytes32 recordId);

    /// `disclosureHash` = keccak256(abi.encode(recordId, root, leaves)): a compact receipt of what was shown.
    event DisclosureVerified(bytes32 indexed recordId, bytes32 indexed disclosureHash, uint256 count);

    constructor(RecordProofStore store_) {
        store = store_;
    }

    /// @notice Verifies a disclosure of `elements` of record `recordId` and logs it.
    /// @return disclosureHash keccak256(abi.encode(recordId, root, leaves))
    function verifyDisclosure(
        bytes32 recordId,
        Element[] calldata elements,
        bytes32[] calldata proof,
        bool[] calldata proofFlags
    ) external returns (bytes32 disclosureHash) {
        bytes32 root = _root(recordId);
        if (elements.length == 0) revert EmptyDisclosure();
        bytes32[] memory leaves = _leaves(elements);
        (bool ok, bytes32 computed) = MultiProof.tryProcessMultiProof(proof, proofFlags, leaves);
        if (!ok || computed != root) revert InvalidDisclosure(recordId);
        disclosureHash = keccak256(abi.encode(recordId, root, leaves));
        emit DisclosureVerified(recordId, disclosureHash, elements.length);
    }

    /// @notice `verifyDisclosure` as a view: true iff it would succeed (false for an unknown record, no elements,
    ///         a malformed multiproof or a wrong root). Emits nothing.
    function checkDisclosure(
        bytes32 recordId,
        Element[] calldata elements,
        bytes32[] calldata proof,
        bool[] calldata proofFlags
    ) external view returns (bool) {
        RecordProofStore.RecordProof memory p = store.getRecordProof(recordId);
        if (p.packetId == bytes32(0) || elements.length == 0) return false;
        (bool ok, bytes32 computed) = MultiProof.tryProcessMultiProof(proof, proofFlags, _leaves(elements));
        return ok && computed == p.disclosureRoot;
    }

    /// @notice The leaf of one element.
    function leafOf(Element calldata e) public pure returns (bytes32) {
        return keccak256(abi.encode(e.salt, e.path, e.value));
    }

    function _root(bytes32 recordId) private view returns (bytes32) {
        RecordProofStore.RecordProof memory p = store.getRecordProof(recordId);
        if (p.packetId == bytes32(0)) revert UnknownRecord(recordId);
        return p.disclosureRoot;
    }

    function _leaves(Element[] calldata elements) private pure returns (bytes32[] memory leaves) {
        uint256 n = elements.length;
        leaves = new bytes32[](n);
        for (uint256 i; i < n; ++i) {
            leaves[i] = leafOf(elements[i]);
        }
    }
}
