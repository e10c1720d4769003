// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {ILightClient} from "./ILightClient.sol";
import {IPacketSender} from "./IPacketSender.sol";
import {Packet, PacketLib} from "./PacketLib.sol";
import {AppCall} from "./lib/AppCall.sol";
import {MerkleAccumulator} from "./lib/MerkleAccumulator.sol";
import {InvalidStorageProof} from "./lib/MerklePatricia.sol";
import {Owned} from "./lib/Owned.sol";
import {ReentrancyGuard} from "./lib/ReentrancyGuard.sol";
import {StorageProof} from "./lib/StorageProof.sol";

/// @notice Source side of medrelay channels: commits every sent packet id to a per-channel Merkle accumulator whose
///         root sits at a pinned storage slot (one storage proof of it serves a whole batch on the destination),
///         and settles packets from proofs of the remote Inbox state: acknowledgements or proven non-receipt.
contract Outbox is Owned, ReentrancyGuard {
    // ---- pinned storage (docs/architecture.md): proven by the destination. Do not reorder. ----
    /// @notice slot 0: accumulator root over the packet ids sent on each channel (leaf index = sequence - 1).
    mapping(bytes32 channel => bytes32) public sendRoot;

    // ---- unpinned storage ----
    struct Channel {
        uint64 destChain; // 0 = channel not open
        uint64 sent; // packets sent = last sequence = accumulator size
        uint64 ackedUpTo; // highest sequence acknowledged or timed out (settled in order)
    }

    struct Remote {
        ILightClient lightClient;
        address inbox;
    }

    mapping(bytes32 channel => Channel) private _channels;
    mapping(bytes32 channel => bytes32[32]) private _sendBranch;
    /// @notice Id of each sent, not yet settled packet (cleared on settlement for the refund).
    mapping(bytes32 channel => mapping(uint64 sequence => bytes32)) public sentId;
    mapping(uint64 chainId => Remote) private _remotes;

    /// Gas each sender callback gets (fixed: see AppCall).
    uint256 public constant CALLBACK_GAS = 500_000;
    uint256 private constant MAX_RESULT = 4096;
    /// Inbox storage slots (pinned): ackRoot at 0, nextRecv at 1.
    uint256 private constant INBOX_ACK_ROOT_SLOT = 0;
    uint256 private constant INBOX_NEXT_RECV_SLOT = 1;

    error ChannelExists(bytes32 channel);
    error UnknownChannel(bytes32 channel);
    error UnknownRemote(uint64 chainId);
    error UnknownHeight(uint64 height);
    error NoPackets();
    error LengthMismatch();
    error SequenceOutOfOrder(uint64 expected, uint64 got);
    error UnknownPacket(bytes32 channel, uint64 sequence);
    error NotTimedOut(uint64 height, uint64 remoteTimestamp);
    error AlreadyReceived(bytes32 channel, uint64 sequence);
    error InvalidKind(uint8 kind);

    event ChannelOpened(bytes32 indexed channel, uint64 indexed destChain, string name);
    event RemoteRegistered(uint64 indexed chainId, address lightClient, address inbox);
    event PacketSent(bytes32 indexed channel, uint64 indexed sequence, bytes32 indexed id, bytes packet);
    event PacketAcknowledged(bytes32 indexed channel, uint64 indexed sequence, bytes32 indexed id, uint8 status);
    event PacketTimedOut(bytes32 indexed channel, uint64 indexed sequence, bytes32 indexed id);
    /// The sender's callback reverted (the settlement stands; the app can recover from the events).
    event CallbackFailed(bytes32 indexed channel, uint64 indexed sequence, bytes reason);

    // ------------------------------------------------------------------ admin

    /// @notice Opens channel `name` from this chain to `destChain` (owner only).
    /// @return channel keccak256(abi.encode(uint64(block.chainid), destChain, name))
    function openChannel(string calldata name, uint64 destChain) external onlyOwner returns (bytes32 channel) {
        channel = PacketLib.channelId(uint64(block.chainid), destChain, name);
        if (destChain == 0) revert UnknownRemote(0);
        if (_channels[channel].destChain != 0) revert ChannelExists(channel);
        _channels[channel].destChain = destChain;
        emit ChannelOpened(channel, destChain, name);
    }

    /// @notice Sets the light client of `chainId` and the Inbox there whose state proves acks (owner only).
    function registerRemote(uint64 chainId, address lightClient, address remoteInbox) external onlyOwner {
        _remotes[chainId] = Remote(ILightClient(lightClient), remoteInbox);
        emit RemoteRegistered(chainId, lightClient, remoteInbox);
    }

    // ------------------------------------------------------------------ send

    /// @notice Sends a packet from `msg.sender` on an open channel.
    /// @param timeoutHeight destination block number from which the packet is expired (0 = none)
    /// @param timeoutTimestamp destination block timestamp from which the packet is expired (0 = none)
    /// @return sequence the packet's sequence (1, 2, … per channel)
    /// @return id keccak256(abi.encode(packet))
    function sendPacket(
        bytes32 channel,
        address receiver,
        uint64 timeoutHeight,
        uint64 timeoutTimestamp,
        uint8 kind,
        bytes calldata payload
    ) external returns (uint64 sequence, bytes32 id) {
        Channel storage ch = _channels[channel];
        uint64 dest = ch.destChain;
        if (dest == 0) revert UnknownChannel(channel);
        if (kind == 0 || kind > PacketLib.KIND_SETTLEMENT) revert InvalidKind(kind);
        sequence = ch.sent + 1;
        ch.sent = sequence;
        bytes memory encoded = abi.encode(
            Packet({
                version: PacketLib.VERSION,
                sourceChain: uint64(block.chainid),
                destChain: dest,
                channel: channel,
                sequence: sequence,
                sender: msg.sender,
                receiver: receiver,
                timeoutHeight: timeoutHeight,
                timeoutTimestamp: timeoutTimestamp,
                kind: kind,
                payload: payload
            })
        );
        id = keccak256(encoded);
        sentId[channel][sequence] = id;
        sendRoot[channel] = MerkleAccumulator.append(_sendBranch[channel], sequence - 1, id);
        emit PacketSent(channel, sequence, id, encoded);
    }

    // ------------------------------------------------------------------ settle

    /// @notice Settles packets `ackedUpTo+1 …` with their acks, proven by one storage proof of the remote Inbox's
    ///         `ackRoot[channel]` at verified remote `height` and one range proof of the ack leaves.
    /// @dev Calls `sender.onAcknowledgement(packet, status, result)` for each (status 3 = arrived expired).
    function acknowledgePackets(
        uint64 height,
        bytes[] calldata accountProof,
        bytes[] calldata storageProof,
        Packet[] calldata packets,
        uint8[] calldata statuses,
        bytes[] calldata results,
        bytes32[] calldata rangeProof
    ) external nonReentrant {
        uint256 n = packets.length;
        if (n == 0) revert NoPackets();
        if (statuses.length != n || results.length != n) revert LengthMismatch();
        bytes32 channel = packets[0].channel;
        Channel memory ch = _channels[channel];
        if (ch.destChain == 0) revert UnknownChannel(channel);

        bytes32[] memory ids = new bytes32[](n);
        bytes32[] memory leaves = new bytes32[](n);
        for (uint256 i; i < n; ++i) {
            Packet calldata p = packets[i];
            uint64 seq = ch.ackedUpTo + uint64(i) + 1;
            ids[i] = _checkSent(channel, seq, p);
            leaves[i] = PacketLib.ackLeaf(ids[i], statuses[i], results[i]);
        }
        bytes32 ackRoot = bytes32(_remoteSlot(ch.destChain, height, channel, INBOX_ACK_ROOT_SLOT, accountProof, storageProof));
        if (MerkleAccumulator.rangeRoot(ch.ackedUpTo, leaves, rangeProof) != ackRoot) revert MerkleAccumulator.InvalidRangeProof();

        _channels[channel].ackedUpTo = ch.ackedUpTo + uint64(n);
        for (uint256 i; i < n; ++i) {
            Packet calldata p = packets[i];
            delete sentId[channel][p.sequence];
            emit PacketAcknowledged(channel, p.sequence, ids[i], statuses[i]);
            _callback(p, abi.encodeCall(IPacketSender.onAcknowledgement, (p, statuses[i], results[i])));
        }
    }

    /// @notice Times out packet `ackedUpTo+1`: proves the remote Inbox's `nextRecv[channel] <= sequence` at a
    ///         verified remote header whose number/timestamp is past the packet's timeout. Such a packet can never
    ///         be received afterwards (it would arrive expired), so the sender may refund/roll back.
    function timeoutPacket(
        uint64 height,
        bytes[] calldata accountProof,
        bytes[] calldata storageProof,
        Packet calldata packet
    ) external nonReentrant {
        bytes32 channel = packet.channel;
        Channel memory ch = _channels[channel];
        if (ch.destChain == 0) revert UnknownChannel(channel);
        uint64 seq = ch.ackedUpTo + 1;
        bytes32 id = _checkSent(channel, seq, packet);

        ILightClient lc = _remote(ch.destChain).lightClient;
        uint64 ts = lc.timestamp(height);
        if (ts == 0) revert UnknownHeight(height);
        if (!PacketLib.expired(packet.timeoutHeight, packet.timeoutTimestamp, height, ts)) {
            revert NotTimedOut(height, ts);
        }
        uint256 nextRecv = _remoteSlot(ch.destChain, height, channel, INBOX_NEXT_RECV_SLOT, accountProof, storageProof);
        // nextRecv is stored lazily (0 = 1), and both mean "sequence not received yet" when <= sequence.
        if (nextRecv > seq) revert AlreadyReceived(channel, seq);

        _channels[channel].ackedUpTo = seq;
        delete sentId[channel][seq];
        emit PacketTimedOut(channel, seq, id);
        _callback(packet, abi.encodeCall(IPacketSender.onTimeout, (packet)));
    }

    // ------------------------------------------------------------------ views

    /// @notice Sequence the next packet on `channel` will get.
    function nextSequence(bytes32 channel) external view returns (uint64) {
        return _channels[channel].sent + 1;
    }

    /// @notice Highest sequence settled (acknowledged or timed out) on `channel`.
    function ackedUpTo(bytes32 channel) external view returns (uint64) {
        return _channels[channel].ackedUpTo;
    }

    /// @notice Destination chain of `channel` (0 if not open).
    function channelDest(bytes32 channel) external view returns (uint64) {
        return _channels[channel].destChain;
    }

    /// @notice Light client and Inbox registered for `chainId`.
    function remotes(uint64 chainId) external view returns (address lightClient, address inbox) {
        Remote memory r = _remotes[chainId];
        return (address(r.lightClient), r.inbox);
    }

    // ------------------------------------------------------------------ internals

    function _checkSent(bytes32 channel, uint64 seq, Packet calldata p) private view returns (bytes32 id) {
        if (p.channel != channel) revert UnknownChannel(p.channel);
        if (p.sequence != seq) revert SequenceOutOfOrder(seq, p.sequence);
        id = keccak256(abi.encode(p));
        bytes32 stored = sentId[channel][seq];
        if (stored == bytes32(0) || stored != id) revert UnknownPacket(channel, seq);
    }

    function _remote(uint64 chainId) private view returns (Remote memory r) {
        r = _remotes[chainId];
        if (address(r.lightClient) == address(0)) revert UnknownRemote(chainId);
    }

    /// @dev Value of the remote Inbox's mapping(bytes32 => …) at `mappingSlot`, key `channel`, at `height`.
    function _remoteSlot(
        uint64 chainId,
        uint64 height,
        bytes32 channel,
        uint256 mappingSlot,
        bytes[] calldata accountProof,
        bytes[] calldata storageProof
    ) private view returns (uint256) {
        Remote memory r = _remote(chainId);
        bytes32 root = r.lightClient.stateRoot(height);
        if (root == bytes32(0)) revert UnknownHeight(height);
        bytes32 slot = keccak256(abi.encode(channel, mappingSlot));
        return StorageProof.accountSlot(root, r.inbox, slot, accountProof, storageProof);
    }

    function _callback(Packet calldata p, bytes memory data) private {
        (bool ok, bytes memory ret,) = AppCall.call(p.sender, data, CALLBACK_GAS, MAX_RESULT);
        if (!ok) emit CallbackFailed(p.channel, p.sequence, ret);
    }
}
