// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {IOutbox} from "./IOutbox.sol";
import {IPacketSender} from "./IPacketSender.sol";
import {Packet, PacketLib} from "./PacketLib.sol";
import {RecordRegistry} from "./RecordRegistry.sol";
import {Anchor} from "./lib/MedrelayEip712.sol";

/// @notice Medical-chain app: sends the anchor of a record as a RECORD_PROOF packet and tracks its fate.
/// @dev Payload = abi.encode(Anchor anchor, bytes32 consentRef, bytes signature): the signed anchor as stored by
///      RecordRegistry.anchorSigned, decoded and re-verified (consent + signature) by RecordProofStore.
contract RecordProofSender is IPacketSender {
    enum Delivery {
        None,
        Pending,
        Delivered, // ack SUCCESS
        Failed, // ack APP_ERROR
        TimedOut // ack TIMEOUT or proven timeout
    }

    IOutbox public immutable outbox;
    RecordRegistry public immutable registry;

    /// @notice Fate of each packet sent, by packet id.
    mapping(bytes32 id => Delivery) public delivery;

    error NotOutbox(address caller);
    error NotRecordInstitution(bytes32 recordId, address caller);
    /// The record was anchored without a signature (legacy `anchor`): destinations would refuse it.
    error UnsignedAnchor(bytes32 recordId);

    event RecordProofSent(bytes32 indexed recordId, bytes32 indexed channel, uint64 sequence, bytes32 id);
    event RecordProofSettled(bytes32 indexed id, Delivery delivery, bytes result);

    constructor(IOutbox outbox_, RecordRegistry registry_) {
        outbox = outbox_;
        registry = registry_;
    }

    modifier onlyOutbox() {
        if (msg.sender != address(outbox)) revert NotOutbox(msg.sender);
        _;
    }

    /// @notice Sends record `recordId`'s anchor to `receiver` on the channel's destination chain. Only the
    ///         institution that anchored the record may share it (it holds the patient's consent `consentRef`).
    function sendRecordProof(
        bytes32 channel,
        address receiver,
        bytes32 recordId,
        bytes32 consentRef,
        uint64 timeoutTimestamp
    ) external returns (uint64 sequence, bytes32 id) {
        (Anchor memory a, bytes memory signature) = registry.signedAnchor(recordId);
        if (a.institution == address(0) || a.institution != msg.sender) revert NotRecordInstitution(recordId, msg.sender);
        if (signature.length == 0) revert UnsignedAnchor(recordId);
        bytes memory payload = abi.encode(a, consentRef, signature);
        (sequence, id) = outbox.sendPacket(channel, receiver, 0, timeoutTimestamp, PacketLib.KIND_RECORD_PROOF, payload);
        delivery[id] = Delivery.Pending;
        emit RecordProofSent(recordId, channel, sequence, id);
    }

    /// @inheritdoc IPacketSender
    function onAcknowledgement(Packet calldata packet, uint8 status, bytes calldata result) external onlyOutbox {
        Delivery d = status == PacketLib.STATUS_SUCCESS
            ? Delivery.Delivered
            : status == PacketLib.STATUS_TIMEOUT ? Delivery.TimedOut : Delivery.Failed;
        _settle(keccak256(abi.encode(packet)), d, result);
    }

    /// @inheritdoc IPacketSender
    function onTimeout(Packet calldata packet) external onlyOutbox {
        _settle(keccak256(abi.encode(packet)), Delivery.TimedOut, "");
    }

    function _settle(bytes32 id, Delivery d, bytes memory result) private {
        delivery[id] = d;
        emit RecordProofSettled(id, d, result);
    }
}
