// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {IOutbox} from "./IOutbox.sol";
import {IPacketSender} from "./IPacketSender.sol";
import {Packet, PacketLib} from "./PacketLib.sol";
import {RecordRegistry} from "./RecordRegistry.sol";
import {MedrelayEip712} from "./lib/MedrelayEip712.sol";
import {Owned} from "./lib/Owned.sol";

/// @notice Medical-chain registry of patient consents. A registered institution records the patient's consent
///         (hash of the JCS FHIR Consent, recipient, validity); the institution that granted it or the patient
///         (EIP-712 `Revoke(bytes32 consentId)` signed by `patientKey`, no hospital needed) revokes it. Every grant
///         and revocation is sent as a packet (CONSENT_GRANT / CONSENT_REVOKE) to the ConsentMirror of the
///         consent's destination chain, with no timeout: a revocation must never expire on the way.
/// @dev Payloads: grant = abi.encode(bytes32 consentId, bytes32 patient, bytes32 recipient, bytes32 consentHash,
///      uint64 validFrom, uint64 validUntil); revoke = abi.encode(bytes32 consentId, uint64 revokedAt).
contract ConsentRegistry is IPacketSender, Owned {
    struct Consent {
        bytes32 patient; // pseudonym
        address patientKey; // the patient's revocation key
        bytes32 recipient; // keccak256 of the FHIR reference, e.g. "Organization/insurer-x"
        bytes32 consentHash; // sha256 of the JCS FHIR Consent
        uint64 validFrom; // active from (inclusive), unix seconds
        uint64 validUntil; // active until (exclusive)
        address institution; // who granted it (0 = unknown consent)
        uint64 destChain; // where the grant (and later the revocation) was sent
        uint64 revokedAt; // 0 = not revoked
    }

    struct Route {
        bytes32 channel;
        address receiver; // ConsentMirror on the destination chain
    }

    enum Delivery {
        None,
        Pending,
        Delivered, // ack SUCCESS
        Failed, // ack APP_ERROR
        TimedOut // ack TIMEOUT or proven timeout
    }

    IOutbox public immutable outbox;
    RecordRegistry public immutable registry;
    /// @notice Destination used by `grant` (0 = none set).
    uint64 public defaultDest;
    mapping(uint64 destChain => Route) private _routes;
    mapping(bytes32 consentId => Consent) private _consents;
    /// @notice Fate of each consent packet, by packet id.
    mapping(bytes32 id => Delivery) public delivery;

    error NotOutbox(address caller);
    error NotInstitution(address caller);
    error NotGrantor(bytes32 consentId, address caller);
    error ConsentExists(bytes32 consentId);
    error UnknownConsent(bytes32 consentId);
    error AlreadyRevoked(bytes32 consentId);
    error InvalidConsent();
    error InvalidPeriod(uint64 validFrom, uint64 validUntil);
    error NoRoute(uint64 destChain);
    error RouteMismatch(bytes32 channel, uint64 channelDest, uint64 destChain);
    /// The revocation signature is malformed (reason: 1 length, 2 v, 3 high s, 4 unrecoverable).
    error InvalidSignature(uint8 reason);
    error NotPatientKey(address signer, address patientKey);

    event RouteSet(uint64 indexed destChain, bytes32 channel, address receiver);
    event DefaultDestSet(uint64 destChain);
    event ConsentGranted(
        bytes32 indexed consentId,
        bytes32 indexed patient,
        bytes32 indexed recipient,
        bytes32 consentHash,
        uint64 validFrom,
        uint64 validUntil,
        address institution,
        uint64 destChain,
        bytes32 packetId
    );
    event ConsentRevoked(bytes32 indexed consentId, address indexed by, uint64 revokedAt, bytes32 packetId);
    event ConsentPacketSettled(bytes32 indexed id, Delivery delivery, bytes result);

    constructor(IOutbox outbox_, RecordRegistry registry_) {
        outbox = outbox_;
        registry = registry_;
    }

    // ------------------------------------------------------------------ admin

    /// @notice Route to `destChain`: Outbox `channel` (must lead there) and the ConsentMirror `receiver` (owner).
    function setRoute(uint64 destChain, bytes32 channel, address receiver) external onlyOwner {
        uint64 dest = outbox.channelDest(channel);
        if (dest != destChain || receiver == address(0)) revert RouteMismatch(channel, dest, destChain);
        _routes[destChain] = Route(channel, receiver);
        emit RouteSet(destChain, channel, receiver);
    }

    /// @notice Destination chain `grant` uses (owner).
    function setDefaultDest(uint64 destChain) external onlyOwner {
        defaultDest = destChain;
        emit DefaultDestSet(destChain);
    }

    // ------------------------------------------------------------------ consent

    /// @notice Records a patient's consent (institution only) and sends it to the default destination.
    /// @param validFrom first second the consent is active; @param validUntil first second it no longer is.
    function grant(
        bytes32 consentId,
        bytes32 patient,
        address patientKey,
        bytes32 recipient,
        bytes32 consentHash,
        uint64 validFrom,
        uint64 validUntil
    ) external returns (bytes32 packetId) {
        return _grant(defaultDest, consentId, patient, patientKey, recipient, consentHash, validFrom, validUntil);
    }

    /// @notice `grant` towards the route of `destChain`.
    function grantTo(
        uint64 destChain,
        bytes32 consentId,
        bytes32 patient,
        address patientKey,
        bytes32 recipient,
        bytes32 consentHash,
        uint64 validFrom,
        uint64 validUntil
    ) external returns (bytes32 packetId) {
        return _grant(destChain, consentId, patient, patientKey, recipient, consentHash, validFrom, validUntil);
    }

    /// @notice Revokes a consent: by the institution that granted it.
    function revoke(bytes32 consentId) external returns (bytes32 packetId) {
        Consent storage c = _live(consentId);
        if (msg.sender != c.institution) revert NotGrantor(consentId, msg.sender);
        return _revoke(consentId, c);
    }

    /// @notice Revokes a consent with the patient's EIP-712 `Revoke(bytes32 consentId)` signature by `patientKey`
    ///         (domain `{ name: "medrelay", version: "1", chainId: this chain }`); anyone may submit it.
    function revokeBySignature(bytes32 consentId, bytes calldata patientSig) external returns (bytes32 packetId) {
        Consent storage c = _live(consentId);
        (address signer, MedrelayEip712.SigError err) =
            MedrelayEip712.tryRecover(MedrelayEip712.revokeDigest(consentId, block.chainid), patientSig);
        if (err != MedrelayEip712.SigError.None) revert InvalidSignature(uint8(err));
        if (signer != c.patientKey) revert NotPatientKey(signer, c.patientKey);
        return _revoke(consentId, c);
    }

    // ------------------------------------------------------------------ views

    /// @notice Whether `consentId` is granted to `recipient`, not revoked, and `validFrom <= time < validUntil`.
    function isActive(bytes32 consentId, bytes32 recipient, uint64 time) external view returns (bool) {
        Consent storage c = _consents[consentId];
        return c.institution != address(0) && c.revokedAt == 0 && c.recipient == recipient && time >= c.validFrom
            && time < c.validUntil;
    }

    function getConsent(bytes32 consentId) external view returns (Consent memory) {
        return _consents[consentId];
    }

    function route(uint64 destChain) external view returns (Route memory) {
        return _routes[destChain];
    }

    /// @notice EIP-712 digest the patient signs to revoke `consentId` on this chain.
    function revokeDigest(bytes32 consentId) external view returns (bytes32) {
        return MedrelayEip712.revokeDigest(consentId, block.chainid);
    }

    // ------------------------------------------------------------------ IPacketSender

    /// @inheritdoc IPacketSender
    function onAcknowledgement(Packet calldata packet, uint8 status, bytes calldata result) external {
        if (msg.sender != address(outbox)) revert NotOutbox(msg.sender);
        Delivery d = status == PacketLib.STATUS_SUCCESS
            ? Delivery.Delivered
            : status == PacketLib.STATUS_TIMEOUT ? Delivery.TimedOut : Delivery.Failed;
        _settle(keccak256(abi.encode(packet)), d, result);
    }

    /// @inheritdoc IPacketSender
    function onTimeout(Packet calldata packet) external {
        if (msg.sender != address(outbox)) revert NotOutbox(msg.sender);
        _settle(keccak256(abi.encode(packet)), Delivery.TimedOut, "");
    }

    // ------------------------------------------------------------------ internals

    function _grant(
        uint64 destChain,
        bytes32 consentId,
        bytes32 patient,
        address patientKey,
        bytes32 recipient,
        bytes32 consentHash,
        uint64 validFrom,
        uint64 validUntil
    ) private returns (bytes32 packetId) {
        if (!registry.isInstitution(msg.sender)) revert NotInstitution(msg.sender);
        if (
            consentId == bytes32(0) || patient == bytes32(0) || patientKey == address(0) || recipient == bytes32(0)
                || consentHash == bytes32(0)
        ) revert InvalidConsent();
        if (validUntil <= validFrom) revert InvalidPeriod(validFrom, validUntil);
        if (_consents[consentId].institution != address(0)) revert ConsentExists(consentId);
        Route memory r = _routes[destChain];
        if (r.receiver == address(0)) revert NoRoute(destChain);
        _consents[consentId] =
            Consent(patient, patientKey, recipient, consentHash, validFrom, validUntil, msg.sender, destChain, 0);
        (, packetId) = outbox.sendPacket(
            r.channel,
            r.receiver,
            0,
            0,
            PacketLib.KIND_CONSENT_GRANT,
            abi.encode(consentId, patient, recipient, consentHash, validFrom, validUntil)
        );
        delivery[packetId] = Delivery.Pending;
        emit ConsentGranted(
            consentId, patient, recipient, consentHash, validFrom, validUntil, msg.sender, destChain, packetId
        );
    }

    function _live(bytes32 consentId) private view returns (Consent storage c) {
        c = _consents[consentId];
        if (c.institution == address(0)) revert UnknownConsent(consentId);
        if (c.revokedAt != 0) revert AlreadyRevoked(consentId);
    }

    function _revoke(bytes32 consentId, Consent storage c) private returns (bytes32 packetId) {
        uint64 revokedAt = uint64(block.timestamp);
        c.revokedAt = revokedAt;
        Route memory r = _routes[c.destChain];
        if (r.receiver == address(0)) revert NoRoute(c.destChain);
        (, packetId) = outbox.sendPacket(
            r.channel, r.receiver, 0, 0, PacketLib.KIND_CONSENT_REVOKE, abi.encode(consentId, revokedAt)
        );
        delivery[packetId] = Delivery.Pending;
        emit ConsentRevoked(consentId, msg.sender, revokedAt, packetId);
    }

    function _settle(bytes32 id, Delivery d, bytes memory result) private {
        delivery[id] = d;
        emit ConsentPacketSettled(id, d, result);
    }
}
