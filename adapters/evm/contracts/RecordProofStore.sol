// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {ConsentMirror} from "./ConsentMirror.sol";
import {IPacketReceiver} from "./IPacketReceiver.sol";
import {Packet, PacketLib} from "./PacketLib.sol";
import {Anchor} from "./lib/MedrelayEip712.sol";
import {RecordChecks} from "./lib/RecordChecks.sol";
import {Owned} from "./lib/Owned.sol";

/// @notice Insurer-chain app: stores record proofs delivered (and thereby verified) by the Inbox, by record id,
///         only if at delivery time (block.timestamp) the patient's consent `consentRef` is active in the
///         ConsentMirror for this store's recipient, and the institution's EIP-712 anchor signature verifies
///         under the SOURCE chain's domain.
/// @dev Only packets from the registered RecordProofSender of each source chain are accepted: anyone can send
///      packets on a channel, so the sender address is what makes a record proof trustworthy. A refusal reverts
///      with `RecordProofRefused(recordId, reason)`: the Inbox records APP_ERROR with that revert data as the ack
///      result (an event could not survive the revert), nothing is stored, and the source learns the reason.
///      Payload = abi.encode(Anchor anchor, bytes32 consentRef, bytes signature).
contract RecordProofStore is IPacketReceiver, Owned {
    struct RecordProof {
        bytes32 sha256Hash;
        bytes32 disclosureRoot;
        address institution;
        uint64 anchoredAt;
        uint64 sourceChain;
        bytes32 consentRef;
        bytes32 packetId;
        bytes32 patient;
    }

    address public immutable inbox;
    ConsentMirror public immutable consentMirror;
    /// @notice keccak256 of this store's FHIR reference (e.g. "Organization/insurer-x"): the consent's recipient.
    bytes32 public immutable recipientRef;
    mapping(uint64 sourceChain => address) public trustedSender;
    mapping(bytes32 recordId => RecordProof) private _proofs;

    error NotInbox(address caller);
    error UntrustedSender(uint64 sourceChain, address sender);
    error UnexpectedKind(uint8 kind);
    /// reason: RecordChecks.Refusal (1 unknown consent, 2 revoked, 3 not yet valid, 4 expired, 5 consent from another
    /// source chain, 6 consent for another patient, 7 consent for another recipient, 8 bad institution signature).
    error RecordProofRefused(bytes32 recordId, RecordChecks.Refusal reason);

    event TrustedSenderSet(uint64 indexed sourceChain, address sender);
    event RecordProofStored(
        bytes32 indexed recordId, uint64 indexed sourceChain, bytes32 sha256Hash, bytes32 disclosureRoot, bytes32 packetId
    );

    constructor(address inbox_, ConsentMirror consentMirror_, bytes32 recipientRef_) {
        inbox = inbox_;
        consentMirror = consentMirror_;
        recipientRef = recipientRef_;
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
        (Anchor memory a, bytes32 consentRef, bytes memory signature) =
            abi.decode(packet.payload, (Anchor, bytes32, bytes));
        RecordChecks.Refusal reason = RecordChecks.check(
            consentMirror, recipientRef, packet.sourceChain, a, consentRef, signature, uint64(block.timestamp)
        );
        if (reason != RecordChecks.Refusal.None) revert RecordProofRefused(a.recordId, reason);
        bytes32 id = keccak256(abi.encode(packet));
        _proofs[a.recordId] = RecordProof(
            a.recordHash, a.disclosureRoot, a.institution, a.anchoredAt, packet.sourceChain, consentRef, id, a.patient
        );
        emit RecordProofStored(a.recordId, packet.sourceChain, a.recordHash, a.disclosureRoot, id);
        return abi.encode(a.recordId);
    }

    /// @notice The stored proof of `recordId` (packetId 0 if none).
    function getRecordProof(bytes32 recordId) external view returns (RecordProof memory) {
        return _proofs[recordId];
    }
}
