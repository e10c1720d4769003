// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {IPacketReceiver} from "./IPacketReceiver.sol";
import {Packet, PacketLib} from "./PacketLib.sol";
import {Owned} from "./lib/Owned.sol";

/// @notice Insurer-chain app: stores record proofs delivered (and thereby verified) by the Inbox, by record id.
/// @dev Only packets from the registered RecordProofSender of each source chain are accepted: anyone can send
///      packets on a channel, so the sender address is what makes a record proof trustworthy.
contract RecordProofStore is IPacketReceiver, Owned {
    struct RecordProof {
        bytes32 sha256Hash;
        bytes32 disclosureRoot;
        address institution;
        uint64 anchoredAt;
        uint64 sourceChain;
        bytes32 consentRef;
        bytes32 packetId;
    }

    address public immutable inbox;
    mapping(uint64 sourceChain => address) public trustedSender;
    mapping(bytes32 recordId => RecordProof) private _proofs;

    error NotInbox(address caller);
    error UntrustedSender(uint64 sourceChain, address sender);
    error UnexpectedKind(uint8 kind);

    event TrustedSenderSet(uint64 indexed sourceChain, address sender);
    event RecordProofStored(
        bytes32 indexed recordId, uint64 indexed sourceChain, bytes32 sha256Hash, bytes32 disclosureRoot, bytes32 packetId
    );

    constructor(address inbox_) {
        inbox = inbox_;
    }

    /// @notice Sets the RecordProofSender trusted on `sourceChain` (owner only).
    function setTrustedSender(uint64 sourceChain, address sender) external onlyOwner {
        trustedSender[sourceChain] = sender;
        emit TrustedSenderSet(sourceChain, sender);
    }

    /// @inheritdoc IPacketReceiver
    /// @return result abi.encode(recordId)
    function onRecvPacket(Packet calldata packet) external returns (bytes memory result) {
        if (msg.sender != inbox) revert NotInbox(msg.sender);
        if (packet.kind != PacketLib.KIND_RECORD_PROOF) revert UnexpectedKind(packet.kind);
        address trusted = trustedSender[packet.sourceChain];
        if (trusted == address(0) || packet.sender != trusted) revert UntrustedSender(packet.sourceChain, packet.sender);
        (
            bytes32 recordId,
            bytes32 sha256Hash,
            bytes32 disclosureRoot,
            address institution,
            uint64 anchoredAt,
            bytes32 consentRef
        ) = abi.decode(packet.payload, (bytes32, bytes32, bytes32, address, uint64, bytes32));
        bytes32 id = keccak256(abi.encode(packet));
        _proofs[recordId] =
            RecordProof(sha256Hash, disclosureRoot, institution, anchoredAt, packet.sourceChain, consentRef, id);
        emit RecordProofStored(recordId, packet.sourceChain, sha256Hash, disclosureRoot, id);
        return abi.encode(recordId);
    }

    /// @notice The stored proof of `recordId` (packetId 0 if none).
    function getRecordProof(bytes32 recordId) external view returns (RecordProof memory) {
        return _proofs[recordId];
    }
}
