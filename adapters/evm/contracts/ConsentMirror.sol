// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {IPacketReceiver} from "./IPacketReceiver.sol";
import {Packet, PacketLib} from "./PacketLib.sol";
import {Owned} from "./lib/Owned.sol";

/// @notice Destination-chain mirror of ConsentRegistry state, fed by CONSENT_GRANT / CONSENT_REVOKE packets from
///         the trusted ConsentRegistry of each source chain. Revocation wins: a revocation for an unknown consent
///         is stored as a tombstone, so a revoke that overtakes its grant (other channel, other relayer) still
///         leaves the consent revoked once the grant arrives.
/// @dev A consent id belongs to the source chain that first mentioned it; packets about it from another source
///      chain are refused (APP_ERROR), so one chain cannot grant or revoke another chain's consents.
contract ConsentMirror is IPacketReceiver, Owned {
    struct MirroredConsent {
        uint64 sourceChain; // 0 = never heard of
        bool granted; // the grant arrived
        uint64 revokedAt; // source-chain time of the revocation, 0 = not revoked
        bytes32 patient;
        bytes32 recipient;
        bytes32 consentHash;
        uint64 validFrom;
        uint64 validUntil;
    }

    /// Result of `check` (also the refusal reason used by RecordProofStore / ReferralGateway).
    enum Status {
        Active,
        Unknown, // no grant received
        Revoked,
        NotYetValid,
        Expired,
        WrongSourceChain,
        WrongPatient,
        WrongRecipient
    }

    address public immutable inbox;
    mapping(uint64 sourceChain => address) public trustedSender;
    mapping(bytes32 consentId => MirroredConsent) private _consents;

    error NotInbox(address caller);
    error UntrustedSender(uint64 sourceChain, address sender);
    error UnexpectedKind(uint8 kind);
    error ConsentExists(bytes32 consentId);
    error ForeignConsent(bytes32 consentId, uint64 ownerChain, uint64 sourceChain);

    event TrustedSenderSet(uint64 indexed sourceChain, address sender);
    event ConsentMirrored(
        bytes32 indexed consentId,
        uint64 indexed sourceChain,
        bytes32 indexed recipient,
        bytes32 patient,
        bytes32 consentHash,
        uint64 validFrom,
        uint64 validUntil,
        bool revoked
    );
    event ConsentRevocationMirrored(bytes32 indexed consentId, uint64 indexed sourceChain, uint64 revokedAt, bool known);

    constructor(address inbox_) {
        inbox = inbox_;
    }

    /// @notice Sets the ConsentRegistry trusted on `sourceChain` (owner only).
    function setTrustedSender(uint64 sourceChain, address sender) external onlyOwner {
        trustedSender[sourceChain] = sender;
        emit TrustedSenderSet(sourceChain, sender);
    }

    /// @inheritdoc IPacketReceiver
    /// @return result abi.encode(consentId)
    function onRecvPacket(Packet calldata packet) external returns (bytes memory result) {
        if (msg.sender != inbox) revert NotInbox(msg.sender);
        address trusted = trustedSender[packet.sourceChain];
        if (trusted == address(0) || packet.sender != trusted) revert UntrustedSender(packet.sourceChain, packet.sender);
        bytes32 consentId;
        if (packet.kind == PacketLib.KIND_CONSENT_GRANT) {
            consentId = _onGrant(packet.sourceChain, packet.payload);
        } else if (packet.kind == PacketLib.KIND_CONSENT_REVOKE) {
            consentId = _onRevoke(packet.sourceChain, packet.payload);
        } else {
            revert UnexpectedKind(packet.kind);
        }
        return abi.encode(consentId);
    }

    /// @notice Whether `consentId` is granted to `recipient`, not revoked, and `validFrom <= time < validUntil`.
    function isActive(bytes32 consentId, bytes32 recipient, uint64 time) external view returns (bool) {
        MirroredConsent storage c = _consents[consentId];
        return _status(c, c.sourceChain, c.patient, recipient, time) == Status.Active;
    }

    /// @notice Full check used at delivery: the consent must come from `sourceChain`, be for `patient` and
    ///         `recipient`, not be revoked, and be valid at `at`.
    function check(bytes32 consentId, uint64 sourceChain, bytes32 patient, bytes32 recipient, uint64 time)
        external
        view
        returns (Status)
    {
        return _status(_consents[consentId], sourceChain, patient, recipient, time);
    }

    function getConsent(bytes32 consentId) external view returns (MirroredConsent memory) {
        return _consents[consentId];
    }

    function _status(MirroredConsent storage c, uint64 sourceChain, bytes32 patient, bytes32 recipient, uint64 time)
        private
        view
        returns (Status)
    {
        if (c.revokedAt != 0) return Status.Revoked;
        if (!c.granted) return Status.Unknown;
        if (c.sourceChain != sourceChain) return Status.WrongSourceChain;
        if (c.patient != patient) return Status.WrongPatient;
        if (c.recipient != recipient) return Status.WrongRecipient;
        if (time < c.validFrom) return Status.NotYetValid;
        if (time >= c.validUntil) return Status.Expired;
        return Status.Active;
    }

    function _claim(MirroredConsent storage c, bytes32 consentId, uint64 sourceChain) private {
        if (c.sourceChain == 0) c.sourceChain = sourceChain;
        else if (c.sourceChain != sourceChain) revert ForeignConsent(consentId, c.sourceChain, sourceChain);
    }

    function _onGrant(uint64 sourceChain, bytes calldata payload) private returns (bytes32 consentId) {
        bytes32 patient;
        bytes32 recipient;
        bytes32 consentHash;
        uint64 validFrom;
        uint64 validUntil;
        (consentId, patient, recipient, consentHash, validFrom, validUntil) =
            abi.decode(payload, (bytes32, bytes32, bytes32, bytes32, uint64, uint64));
        MirroredConsent storage c = _consents[consentId];
        _claim(c, consentId, sourceChain);
        if (c.granted) revert ConsentExists(consentId);
        c.granted = true;
        c.patient = patient;
        c.recipient = recipient;
        c.consentHash = consentHash;
        c.validFrom = validFrom;
        c.validUntil = validUntil;
        emit ConsentMirrored(
            consentId, sourceChain, recipient, patient, consentHash, validFrom, validUntil, c.revokedAt != 0
        );
    }

    function _onRevoke(uint64 sourceChain, bytes calldata payload) private returns (bytes32 consentId) {
        uint64 revokedAt;
        (consentId, revokedAt) = abi.decode(payload, (bytes32, uint64));
        MirroredConsent storage c = _consents[consentId];
        _claim(c, consentId, sourceChain);
        if (revokedAt == 0) revokedAt = 1; // 0 means "not revoked": never store it
        if (c.revokedAt == 0) c.revokedAt = revokedAt; // idempotent: the first revocation stands
        emit ConsentRevocationMirrored(consentId, sourceChain, revokedAt, c.granted);
    }
}
