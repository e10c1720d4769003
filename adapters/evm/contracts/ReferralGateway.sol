// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {AuditLog} from "./AuditLog.sol";
import {ConsentMirror} from "./ConsentMirror.sol";
import {IOutbox} from "./IOutbox.sol";
import {IPacketReceiver} from "./IPacketReceiver.sol";
import {IPacketSender} from "./IPacketSender.sol";
import {Packet, PacketLib} from "./PacketLib.sol";
import {RecordRegistry} from "./RecordRegistry.sol";
import {Anchor} from "./lib/MedrelayEip712.sol";
import {Owned} from "./lib/Owned.sol";
import {RecordChecks} from "./lib/RecordChecks.sol";

/// @notice Referrals between medical chains, one gateway per chain acting in both directions. The referring
///         institution (which anchored the record, signed) sends a RECORD_PROOF packet carrying the referral id and
///         the signed anchor to the gateway of the destination chain; there, at delivery, the patient's consent
///         (local ConsentMirror, recipient = the receiving institution's reference) and the institution signature
///         (source chain's EIP-712 domain) are checked as in RecordProofStore, the referral is stored and the
///         patient is notified (event). The receiving institution accepts it, which anchors an audit entry.
/// @dev Payload = abi.encode(bytes32 referralId, bytes32 toInstitution, Anchor anchor, bytes32 consentId,
///      bytes signature). A refusal reverts `ReferralRefused(referralId, reason)` → APP_ERROR, nothing stored.
contract ReferralGateway is IPacketSender, IPacketReceiver, Owned {
    enum Status {
        None,
        Sent, // on the referring chain: packet sent
        Delivered, // on the referring chain: ack SUCCESS
        Failed, // on the referring chain: ack APP_ERROR / TIMEOUT
        Received, // on the receiving chain: stored, patient notified
        Accepted // on the receiving chain: accepted by the receiving institution
    }

    struct Referral {
        bytes32 recordId;
        bytes32 recordHash;
        bytes32 disclosureRoot;
        bytes32 patient;
        address institution; // referring institution (signer of the anchor)
        uint64 anchoredAt;
        bytes32 consentId;
        bytes32 toInstitution; // keccak256 of the receiving institution's FHIR reference
        uint64 peerChain; // destination (referring side) or source (receiving side)
        bytes32 packetId;
        Status status;
    }

    struct Route {
        bytes32 channel;
        address receiver; // the ReferralGateway on the destination chain
    }

    IOutbox public immutable outbox;
    address public immutable inbox;
    RecordRegistry public immutable registry;
    ConsentMirror public immutable consentMirror;
    AuditLog public immutable auditLog;

    mapping(uint64 destChain => Route) private _routes;
    mapping(uint64 sourceChain => address) public trustedSender;
    /// @notice Local institution account behind a FHIR reference hash (who may accept referrals addressed to it).
    mapping(bytes32 institutionRef => address) public institutionOf;
    mapping(bytes32 referralId => Referral) private _referrals;
    mapping(bytes32 packetId => bytes32 referralId) private _byPacket;

    error NotOutbox(address caller);
    error NotInbox(address caller);
    error NotRecordInstitution(bytes32 recordId, address caller);
    error UnsignedAnchor(bytes32 recordId);
    error NoRoute(uint64 destChain);
    error RouteMismatch(bytes32 channel, uint64 channelDest, uint64 destChain);
    error ReferralExists(bytes32 referralId);
    error UntrustedSender(uint64 sourceChain, address sender);
    error UnexpectedKind(uint8 kind);
    /// reason: RecordChecks.Refusal, or 9 = no local institution for `toInstitution`, 10 = referral id already used.
    error ReferralRefused(bytes32 referralId, uint8 reason);
    error NotReceivingInstitution(bytes32 referralId, address caller);
    error NotReceived(bytes32 referralId);

    uint8 public constant REFUSED_UNKNOWN_INSTITUTION = 9;
    uint8 public constant REFUSED_DUPLICATE = 10;
    /// AuditLog action of an acceptance: FHIR AuditEvent.action 'R' (the receiving institution reads the record).
    uint8 private constant AUDIT_ACTION_READ = 0x52;

    event RouteSet(uint64 indexed destChain, bytes32 channel, address receiver);
    event TrustedSenderSet(uint64 indexed sourceChain, address sender);
    event InstitutionRefSet(bytes32 indexed institutionRef, address institution);
    event ReferralSent(
        bytes32 indexed referralId, bytes32 indexed recordId, uint64 indexed destChain, bytes32 toInstitution, bytes32 packetId
    );
    event ReferralSettled(bytes32 indexed referralId, Status status, bytes result);
    event ReferralReceived(
        bytes32 indexed referralId, bytes32 indexed recordId, uint64 indexed sourceChain, bytes32 toInstitution
    );
    /// For the patient's wallet / notification service: something happened with a referral of theirs.
    event PatientNotified(bytes32 indexed patient, bytes32 indexed referralId);
    event ReferralAccepted(bytes32 indexed referralId, address indexed institution, bytes32 auditEntry);

    constructor(
        IOutbox outbox_,
        address inbox_,
        RecordRegistry registry_,
        ConsentMirror consentMirror_,
        AuditLog auditLog_
    ) {
        outbox = outbox_;
        inbox = inbox_;
        registry = registry_;
        consentMirror = consentMirror_;
        auditLog = auditLog_;
    }

    // ------------------------------------------------------------------ admin (owner)

    /// @notice Route to `destChain`: Outbox `channel` (must lead there) and the remote gateway `receiver`.
    function setRoute(uint64 destChain, bytes32 channel, address receiver) external onlyOwner {
        uint64 dest = outbox.channelDest(channel);
        if (dest != destChain || receiver == address(0)) revert RouteMismatch(channel, dest, destChain);
        _routes[destChain] = Route(channel, receiver);
        emit RouteSet(destChain, channel, receiver);
    }

    /// @notice The ReferralGateway trusted on `sourceChain`.
    function setTrustedSender(uint64 sourceChain, address sender) external onlyOwner {
        trustedSender[sourceChain] = sender;
        emit TrustedSenderSet(sourceChain, sender);
    }

    /// @notice Binds FHIR reference hash `institutionRef` to local account `institution` (0 removes).
    function setInstitutionRef(bytes32 institutionRef, address institution) external onlyOwner {
        institutionOf[institutionRef] = institution;
        emit InstitutionRefSet(institutionRef, institution);
    }

    // ------------------------------------------------------------------ referring side

    /// @notice Refers the patient of record `recordId` to `toInstitution` on `destChain` under consent `consentId`
    ///         (by the institution that anchored the record, signed).
    function refer(bytes32 referralId, bytes32 recordId, bytes32 consentId, uint64 destChain, bytes32 toInstitution)
        external
        returns (bytes32 packetId)
    {
        if (_referrals[referralId].status != Status.None) revert ReferralExists(referralId);
        (Anchor memory a, bytes memory signature) = registry.signedAnchor(recordId);
        if (a.institution == address(0) || a.institution != msg.sender) revert NotRecordInstitution(recordId, msg.sender);
        if (signature.length == 0) revert UnsignedAnchor(recordId);
        Route memory r = _routes[destChain];
        if (r.receiver == address(0)) revert NoRoute(destChain);
        (, packetId) = outbox.sendPacket(
            r.channel,
            r.receiver,
            0,
            0,
            PacketLib.KIND_RECORD_PROOF,
            abi.encode(referralId, toInstitution, a, consentId, signature)
        );
        _referrals[referralId] = Referral(
            recordId,
            a.recordHash,
            a.disclosureRoot,
            a.patient,
            a.institution,
            a.anchoredAt,
            consentId,
            toInstitution,
            destChain,
            packetId,
            Status.Sent
        );
        _byPacket[packetId] = referralId;
        emit ReferralSent(referralId, recordId, destChain, toInstitution, packetId);
    }

    /// @inheritdoc IPacketSender
    function onAcknowledgement(Packet calldata packet, uint8 status, bytes calldata result) external {
        if (msg.sender != address(outbox)) revert NotOutbox(msg.sender);
        _settle(keccak256(abi.encode(packet)), status == PacketLib.STATUS_SUCCESS ? Status.Delivered : Status.Failed, result);
    }

    /// @inheritdoc IPacketSender
    function onTimeout(Packet calldata packet) external {
        if (msg.sender != address(outbox)) revert NotOutbox(msg.sender);
        _settle(keccak256(abi.encode(packet)), Status.Failed, "");
    }

    // ------------------------------------------------------------------ receiving side

    /// @inheritdoc IPacketReceiver
    /// @return result abi.encode(referralId)
    function onRecvPacket(Packet calldata packet) external returns (bytes memory result) {
        if (msg.sender != inbox) revert NotInbox(msg.sender);
        if (packet.kind != PacketLib.KIND_RECORD_PROOF) revert UnexpectedKind(packet.kind);
        address trusted = trustedSender[packet.sourceChain];
        if (trusted == address(0) || packet.sender != trusted) revert UntrustedSender(packet.sourceChain, packet.sender);
        (bytes32 referralId, bytes32 toInstitution, Anchor memory a, bytes32 consentId, bytes memory signature) =
            abi.decode(packet.payload, (bytes32, bytes32, Anchor, bytes32, bytes));
        if (_referrals[referralId].status != Status.None) revert ReferralRefused(referralId, REFUSED_DUPLICATE);
        if (institutionOf[toInstitution] == address(0)) {
            revert ReferralRefused(referralId, REFUSED_UNKNOWN_INSTITUTION);
        }
        RecordChecks.Refusal reason = RecordChecks.check(
            consentMirror, toInstitution, packet.sourceChain, a, consentId, signature, uint64(block.timestamp)
        );
        if (reason != RecordChecks.Refusal.None) revert ReferralRefused(referralId, uint8(reason));
        bytes32 id = keccak256(abi.encode(packet));
        _referrals[referralId] = Referral(
            a.recordId,
            a.recordHash,
            a.disclosureRoot,
            a.patient,
            a.institution,
            a.anchoredAt,
            consentId,
            toInstitution,
            packet.sourceChain,
            id,
            Status.Received
        );
        emit ReferralReceived(referralId, a.recordId, packet.sourceChain, toInstitution);
        emit PatientNotified(a.patient, referralId);
        return abi.encode(referralId);
    }

    /// @notice Accepts a received referral (the institution bound to its `toInstitution` only); anchors an audit
    ///         entry keccak256(abi.encode(referralId, recordId, msg.sender, block.timestamp)) in the AuditLog
    ///         (this gateway must be an AuditLog writer) and notifies the patient.
    function acceptReferral(bytes32 referralId) external returns (bytes32 auditEntry) {
        Referral storage r = _referrals[referralId];
        if (r.status != Status.Received) revert NotReceived(referralId);
        if (msg.sender != institutionOf[r.toInstitution]) revert NotReceivingInstitution(referralId, msg.sender);
        r.status = Status.Accepted;
        auditEntry = keccak256(abi.encode(referralId, r.recordId, msg.sender, block.timestamp));
        auditLog.record(r.patient, auditEntry, AUDIT_ACTION_READ);
        emit ReferralAccepted(referralId, msg.sender, auditEntry);
        emit PatientNotified(r.patient, referralId);
    }

    // ------------------------------------------------------------------ views

    /// @notice The referral `referralId` as this chain knows it (status None if unknown).
    function referral(bytes32 referralId) external view returns (Referral memory) {
        return _referrals[referralId];
    }

    function route(uint64 destChain) external view returns (Route memory) {
        return _routes[destChain];
    }

    function _settle(bytes32 packetId, Status s, bytes memory result) private {
        bytes32 referralId = _byPacket[packetId];
        if (referralId == bytes32(0)) return;
        _referrals[referralId].status = s;
        emit ReferralSettled(referralId, s, result);
    }
}
