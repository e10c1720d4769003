// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {RecordRegistry} from "./RecordRegistry.sol";
import {Owned} from "./lib/Owned.sol";

/// @notice Versioned data dictionaries (FHIR ConceptMaps) anchored by hash: `codeMapHash = sha256(jcs(conceptMap))`
///         under its canonical url and version (docs/records.md, "Data dictionary"). A (url, version) is anchored
///         once; a changed map is a new version.
contract CodeMapRegistry is Owned {
    RecordRegistry public immutable registry;
    mapping(bytes32 key => bytes32) private _maps;

    error NotAuthorized(address caller);
    error EmptyCodeMap();
    error CodeMapExists(string url, string version);

    event CodeMapAnchored(bytes32 indexed key, string url, string version, bytes32 mapHash, address indexed by);

    constructor(RecordRegistry registry_) {
        registry = registry_;
    }

    /// @notice Anchors ConceptMap (`url`, `version`) with hash `mapHash` (owner or a registered institution).
    function anchorCodeMap(string calldata url, string calldata version, bytes32 mapHash) external {
        if (msg.sender != owner() && !registry.isInstitution(msg.sender)) revert NotAuthorized(msg.sender);
        if (bytes(url).length == 0 || bytes(version).length == 0 || mapHash == bytes32(0)) revert EmptyCodeMap();
        bytes32 key = keyOf(url, version);
        if (_maps[key] != bytes32(0)) revert CodeMapExists(url, version);
        _maps[key] = mapHash;
        emit CodeMapAnchored(key, url, version, mapHash, msg.sender);
    }

    /// @notice Hash anchored for (`url`, `version`), 0 if none.
    function codeMap(string calldata url, string calldata version) external view returns (bytes32) {
        return _maps[keyOf(url, version)];
    }

    /// @notice keccak256(abi.encode(url, version)).
    function keyOf(string calldata url, string calldata version) public pure returns (bytes32) {
        return keccak256(abi.encode(url, version));
    }
}
