// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {ILightClient} from "./ILightClient.sol";
import {IPacketReceiver} from "./IPacketReceiver.sol";
import {Packet, PacketLib} from "./PacketLib.sol";
import {AppCall} from "./lib/AppCall.sol";
import {MerkleAccumulator} from "./lib/MerkleAccumulator.sol";
import {InvalidStorageProof} from "./lib/MerklePatricia.sol";
import {Owned} from "./lib/Owned.sol";
import {ReentrancyGuard} from "./lib/ReentrancyGuard.sol";
import {StorageProof} from "./lib/StorageProof.sol";

/// @notice Destination side of medrelay channels. A batch of consecutive packets is verified with one storage
///         proof of the remote Outbox's `sendRoot[channel]` at a light-client-verified height plus one range proof,
///         delivered exactly once and in order, and acknowledged into a per-channel ack accumulator.
/// @dev Exactly-once: `nextRecv[channel]` is the receipt. Only `sequence == nextRecv` is accepted, so there is no
///      per-packet storage write at all; the ack leaves are appended in memory and written once per batch.
contract Inbox is Owned, ReentrancyGuard {
    // ---- pinned storage (docs/architecture.md): proven by the source chain. Do not reorder. ----
    /// @notice slot 0: accumulator root over the ack leaves of each channel (leaf index = sequence - 1).
    mapping(bytes32 channel => bytes32) public ackRoot;
    /// @dev slot 1: next sequence expected per channel, stored lazily (0 means 1). See `nextRecv`.
    mapping(bytes32 channel => uint256) private _nextRecv;

    // ---- unpinned storage ----
    struct Remote {
        ILightClient lightClient;
        address outbox;
    }

    mapping(bytes32 channel => bytes32[32]) private _ackBranch;
    mapping(uint64 chainId => Remote) private _remotes;

    /// Gas each receiver call gets (fixed: see AppCall).
    uint256 public constant RECEIVE_GAS = 1_000_000;
    /// Longest result kept from a receiver (longer return/revert data is truncated).
    uint256 public constant MAX_RESULT = 4096;
    uint256 private constant OUTBOX_SEND_ROOT_SLOT = 0;

    error UnknownRemote(uint64 chainId);
    error UnknownHeight(uint64 height);
    error HeightMismatch(uint64 header, uint64 height);
    error NoPackets();
    error UnsupportedVersion(uint8 version);
    error WrongDestChain(uint64 destChain);
    error MixedBatch(uint256 index);
    error SequenceOutOfOrder(uint64 expected, uint64 got);
    error AlreadyReceived(bytes32 channel, uint64 sequence);

    event RemoteRegistered(uint64 indexed chainId, address lightClient, address outbox);
    event PacketReceived(
        bytes32 indexed channel, uint64 indexed sequence, bytes32 indexed id, uint8 status, bytes result
    );

    /// @notice Sets the light client of `chainId` and the Outbox there whose state proves packets (owner only).
    function registerRemote(uint64 chainId, address lightClient, address remoteOutbox) external onlyOwner {
        _remotes[chainId] = Remote(ILightClient(lightClient), remoteOutbox);
        emit RemoteRegistered(chainId, lightClient, remoteOutbox);
    }

    /// @notice Receives consecutive packets of one channel, starting at `nextRecv(channel)`.
    /// @param height verified remote block whose state holds the Outbox `sendRoot[channel]`
    /// @param accountProof eth_getProof accountProof of the remote Outbox at `height`
    /// @param storageProof eth_getProof storageProof of `keccak256(abi.encode(channel, 0))`
    /// @param packets the packets, sequences nextRecv, nextRecv+1, …
    /// @param rangeProof range proof of their ids against `sendRoot` (see MerkleAccumulator)
    function receivePackets(
        uint64 height,
        bytes[] calldata accountProof,
        bytes[] calldata storageProof,
        Packet[] calldata packets,
        bytes32[] calldata rangeProof
    ) external nonReentrant {
        _receive(height, accountProof, storageProof, packets, rangeProof);
    }

    /// @notice `receivePackets` after submitting `headerRlp` (remote header `height`) to the light client, in one
    ///         transaction. If the header is already known (another relayer was faster) the update is skipped.
    function updateAndReceive(
        bytes calldata headerRlp,
        uint64 height,
        bytes[] calldata accountProof,
        bytes[] calldata storageProof,
        Packet[] calldata packets,
        bytes32[] calldata rangeProof
    ) external nonReentrant {
        if (packets.length == 0) revert NoPackets();
        ILightClient lc = _remote(packets[0].sourceChain).lightClient;
        if (lc.stateRoot(height) == bytes32(0)) {
            (uint64 number,) = lc.updateHeader(headerRlp);
            if (number != height) revert HeightMismatch(number, height);
        }
        _receive(height, accountProof, storageProof, packets, rangeProof);
    }

    /// @notice Next sequence this Inbox will accept on `channel` (starts at 1).
    function nextRecv(bytes32 channel) public view returns (uint64) {
        uint256 v = _nextRecv[channel];
        return v == 0 ? 1 : uint64(v);
    }

    /// @notice Light client and Outbox registered for `chainId`.
    function remotes(uint64 chainId) external view returns (address lightClient, address outbox) {
        Remote memory r = _remotes[chainId];
        return (address(r.lightClient), r.outbox);
    }

    function _remote(uint64 chainId) private view returns (Remote memory r) {
        r = _remotes[chainId];
        if (address(r.lightClient) == address(0)) revert UnknownRemote(chainId);
    }

    function _receive(
        uint64 height,
        bytes[] calldata accountProof,
        bytes[] calldata storageProof,
        Packet[] calldata packets,
        bytes32[] calldata rangeProof
    ) private {
        uint256 n = packets.length;
        if (n == 0) revert NoPackets();
        bytes32 channel = packets[0].channel;
        uint64 source = packets[0].sourceChain;
        uint64 first = nextRecv(channel);

        // 1. Cheap per-packet checks, and the call data (selector ‖ abi.encode(packet)) built once: its tail is
        //    the packet encoding, so its hash is the id and the same buffer is later sent to the receiver.
        bytes[] memory calls = new bytes[](n);
        bytes32[] memory ids = new bytes32[](n);
        for (uint256 i; i < n; ++i) {
            Packet calldata p = packets[i];
            uint64 seq = p.sequence;
            if (seq != first + i) {
                if (i == 0 && seq < first) revert AlreadyReceived(channel, seq);
                revert SequenceOutOfOrder(first + uint64(i), seq);
            }
            if (p.version != PacketLib.VERSION) revert UnsupportedVersion(p.version);
            if (p.destChain != block.chainid) revert WrongDestChain(p.destChain);
            if (p.channel != channel || p.sourceChain != source) revert MixedBatch(i);
            (bytes memory data, bytes32 id) = _callData(p);
            calls[i] = data;
            ids[i] = id;
        }

        // 2. The batch is what the source Outbox committed: storage proof of sendRoot, range proof of the ids.
        {
            Remote memory r = _remote(source);
            bytes32 stateRoot = r.lightClient.stateRoot(height);
            if (stateRoot == bytes32(0)) revert UnknownHeight(height);
            bytes32 slot = keccak256(abi.encode(channel, OUTBOX_SEND_ROOT_SLOT));
            bytes32 root = bytes32(StorageProof.accountSlot(stateRoot, r.outbox, slot, accountProof, storageProof));
            if (root == bytes32(0)) revert InvalidStorageProof(7);
            if (MerkleAccumulator.rangeRoot(first - 1, ids, rangeProof) != root) revert MerkleAccumulator.InvalidRangeProof();
        }

        // 3. Effects before interactions: the counter is the receipt (re-entry is also locked).
        _nextRecv[channel] = first + n;

        // 4. Deliver. ids[] is reused for the ack leaves. Scratch memory of each iteration is released (results,
        //    event and leaf encodings are dead once the leaf is stored), so memory cost stays linear in the batch.
        for (uint256 i; i < n; ++i) {
            uint256 fmp;
            assembly ("memory-safe") {
                fmp := mload(0x40)
            }
            Packet calldata p = packets[i];
            (uint8 status, bytes memory result) = _deliver(p, calls[i]);
            bytes32 id = ids[i];
            emit PacketReceived(channel, first + uint64(i), id, status, result);
            ids[i] = PacketLib.ackLeaf(id, status, result);
            assembly ("memory-safe") {
                mstore(0x40, fmp)
            }
        }

        // 5. One accumulator update for the batch: changed branch slots + root.
        ackRoot[channel] = MerkleAccumulator.appendBatch(_ackBranch[channel], first - 1, ids);
    }

    /// @dev selector(onRecvPacket) ‖ abi.encode(packet), copied straight from calldata, and the packet id.
    ///      The copy assumes the canonical layout (payload at 0x160 in the tuple). That needs no check: the id is
    ///      the hash of exactly these bytes and must match the Outbox's commitment (range proof), and the Outbox
    ///      commits to the canonical `abi.encode`, so a non-canonical tuple can never be accepted. Saves the
    ///      ABI re-encoding of every packet.
    function _callData(Packet calldata p) private pure returns (bytes memory data, bytes32 id) {
        bytes4 selector = IPacketReceiver.onRecvPacket.selector;
        assembly ("memory-safe") {
            let len := calldataload(add(p, 0x160))
            if gt(len, calldatasize()) { revert(0, 0) }
            let size := add(0x180, and(add(len, 31), not(31))) // 11 head words, length word, padded payload
            data := mload(0x40)
            mstore(data, add(36, size))
            mstore(add(data, 32), selector)
            mstore(add(data, 36), 0x20)
            calldatacopy(add(data, 68), p, size)
            id := keccak256(add(data, 36), add(32, size))
            mstore(0x40, and(add(add(data, add(68, size)), 31), not(31)))
        }
    }

    function _deliver(Packet calldata p, bytes memory data) private returns (uint8 status, bytes memory result) {
        if (PacketLib.expired(p.timeoutHeight, p.timeoutTimestamp, block.number, block.timestamp)) {
            return (PacketLib.STATUS_TIMEOUT, result);
        }
        (bool ok, bytes memory ret, bool truncated) = AppCall.call(p.receiver, data, RECEIVE_GAS, MAX_RESULT);
        if (!ok) return (PacketLib.STATUS_APP_ERROR, ret);
        // A well-formed `bytes` return is unwrapped; anything else (or a truncated one) is kept raw.
        if (!truncated) {
            (bool decoded, bytes memory out) = AppCall.decodeBytes(ret);
            if (decoded) return (PacketLib.STATUS_SUCCESS, out);
        }
        return (PacketLib.STATUS_SUCCESS, ret);
    }
}
