// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {IOutbox} from "./IOutbox.sol";
import {IPacketSender} from "./IPacketSender.sol";
import {Packet, PacketLib} from "./PacketLib.sol";
import {RecordRegistry} from "./RecordRegistry.sol";
import {Claim, DisclosedElement} from "./SettlementTypes.sol";
import {Anchor} from "./lib/MedrelayEip712.sol";
import {Owned} from "./lib/Owned.sol";

/// @notice Medical-chain side of insurance claims: the institution that anchored (and signed) a record submits a
///         claim for it with a selective disclosure of the diagnosis coding; the claim travels as a CLAIM packet
///         (kind 4, no timeout) carrying the signed anchor from the RecordRegistry to the insurer chain's
///         ClaimSettlement, whose acknowledgement comes back here.
/// @dev Payload = abi.encode(Claim, Anchor, bytes anchorSignature, DisclosedElement[], bytes32[] proof,
///      bool[] proofFlags). A claim id may be submitted again after a refusal (APP_ERROR), a timeout or an accepted
///      rejection (decision 3: the insurer lets a claim rejected by a gate be corrected and sent again, and refuses
///      a settled one with ClaimDuplicate).
contract ClaimSubmitter is IPacketSender, Owned {
    enum Status {
        None,
        Sent, // packet sent, fate unknown
        Accepted, // ack SUCCESS: decided by the insurer (decision, payable)
        Refused, // ack APP_ERROR: the insurer could not decide it (result = its custom error)
        TimedOut // arrived expired / proven timed out
    }

    struct SubmittedClaim {
        Status status;
        uint8 decision; // 1 Approved, 2 Partial, 3 Rejected (after Accepted)
        uint64 destChain;
        uint128 payableAmount;
        bytes32 packetId;
    }

    struct Route {
        bytes32 channel;
        address receiver; // the ClaimSettlement on the destination chain
    }

    uint256 public constant MAX_CLAIM_ITEMS = 64;
    uint8 private constant DECISION_REJECTED = 3;

    IOutbox public immutable outbox;
    RecordRegistry public immutable registry;

    mapping(uint64 destChain => Route) private _routes;
    mapping(bytes32 claimId => SubmittedClaim) private _claims;

    error NotOutbox(address caller);
    error NotRecordInstitution(bytes32 recordId, address caller);
    error UnsignedAnchor(bytes32 recordId);
    error ClaimExists(bytes32 claimId);
    error ZeroClaimId();
    error NoItems(bytes32 claimId);
    error TooManyItems(bytes32 claimId, uint256 count);
    error NoRoute(uint64 destChain);
    error RouteMismatch(bytes32 channel, uint64 channelDest, uint64 destChain);

    event RouteSet(uint64 indexed destChain, bytes32 channel, address receiver);
    event ClaimSubmitted(bytes32 indexed claimId, bytes32 policyId, uint64 destChain, bytes32 packetId);
    event ClaimAcknowledged(
        bytes32 indexed claimId, Status status, uint8 decision, uint128 payableAmount, bytes result
    );

    constructor(IOutbox outbox_, RecordRegistry registry_) {
        outbox = outbox_;
        registry = registry_;
    }

    /// @notice Route to `destChain`: Outbox `channel` (must lead there) and the ClaimSettlement `receiver`.
    function setRoute(uint64 destChain, bytes32 channel, address receiver) external onlyOwner {
        uint64 dest = outbox.channelDest(channel);
        if (dest != destChain || receiver == address(0)) revert RouteMismatch(channel, dest, destChain);
        _routes[destChain] = Route(channel, receiver);
        emit RouteSet(destChain, channel, receiver);
    }

    /// @notice Submits `claim` to the insurer on `destChain`, disclosing the diagnosis coding `claim.codingPath`
    ///         (`elements` = its `.system` and `.code` leaves with their multiproof against the anchored root).
    ///         Only the institution of the record's signed anchor may submit.
    function submitClaim(
        uint64 destChain,
        Claim calldata claim_,
        DisclosedElement[] calldata elements,
        bytes32[] calldata proof,
        bool[] calldata proofFlags
    ) external returns (bytes32 packetId) {
        bytes32 claimId = claim_.claimId;
        if (claimId == bytes32(0)) revert ZeroClaimId();
        SubmittedClaim storage s = _claims[claimId];
        Status st = s.status;
        if (st == Status.Sent || (st == Status.Accepted && s.decision != DECISION_REJECTED)) {
            revert ClaimExists(claimId);
        }
        uint256 n = claim_.items.length;
        if (n == 0) revert NoItems(claimId);
        if (n > MAX_CLAIM_ITEMS) revert TooManyItems(claimId, n);
        (Anchor memory a, bytes memory signature) = registry.signedAnchor(claim_.recordId);
        if (a.institution == address(0) || a.institution != msg.sender) {
            revert NotRecordInstitution(claim_.recordId, msg.sender);
        }
        if (signature.length == 0) revert UnsignedAnchor(claim_.recordId);
        Route memory r = _routes[destChain];
        if (r.receiver == address(0)) revert NoRoute(destChain);
        (, packetId) = outbox.sendPacket(
            r.channel,
            r.receiver,
            0,
            0,
            PacketLib.KIND_CLAIM,
            abi.encode(claim_, a, signature, elements, proof, proofFlags)
        );
        _claims[claimId] = SubmittedClaim(Status.Sent, 0, destChain, 0, packetId);
        emit ClaimSubmitted(claimId, claim_.policyId, destChain, packetId);
    }

    /// @inheritdoc IPacketSender
    function onAcknowledgement(Packet calldata packet, uint8 status, bytes calldata result) external {
        if (msg.sender != address(outbox)) revert NotOutbox(msg.sender);
        if (status == PacketLib.STATUS_SUCCESS) {
            bytes32 claimId = _sentClaim(packet);
            if (claimId == bytes32(0)) return;
            SubmittedClaim storage s = _claims[claimId];
            uint8 decision;
            uint128 amount;
            if (result.length == 96) {
                bytes32 echoed;
                (echoed, decision, amount) = abi.decode(result, (bytes32, uint8, uint128));
                if (echoed != claimId) (decision, amount) = (0, 0);
            }
            s.status = Status.Accepted;
            s.decision = decision;
            s.payableAmount = amount;
            emit ClaimAcknowledged(claimId, Status.Accepted, decision, amount, result);
        } else {
            _fail(packet, status == PacketLib.STATUS_APP_ERROR ? Status.Refused : Status.TimedOut, result);
        }
    }

    /// @inheritdoc IPacketSender
    function onTimeout(Packet calldata packet) external {
        if (msg.sender != address(outbox)) revert NotOutbox(msg.sender);
        _fail(packet, Status.TimedOut, "");
    }

    /// @notice The claim `claimId` as submitted from here (status None if never).
    function claim(bytes32 claimId) external view returns (SubmittedClaim memory) {
        return _claims[claimId];
    }

    function route(uint64 destChain) external view returns (Route memory) {
        return _routes[destChain];
    }

    function _fail(Packet calldata packet, Status status, bytes memory result) private {
        bytes32 claimId = _sentClaim(packet);
        if (claimId == bytes32(0)) return;
        _claims[claimId].status = status;
        emit ClaimAcknowledged(claimId, status, 0, 0, result);
    }

    /// The id of the claim a packet of ours carries if that claim is still waiting for this very packet, else 0.
    /// claimId is the first word of the Claim tuple (payload head word 0 is its offset); the stored packet id must
    /// match, so a late fate of an older packet of a resubmitted claim changes nothing.
    function _sentClaim(Packet calldata packet) private view returns (bytes32 claimId) {
        bytes calldata payload = packet.payload;
        uint256 off = uint256(bytes32(payload[0:32]));
        claimId = bytes32(payload[off:off + 32]);
        SubmittedClaim storage s = _claims[claimId];
        if (s.status != Status.Sent || s.packetId != keccak256(abi.encode(packet))) return bytes32(0);
    }
}
