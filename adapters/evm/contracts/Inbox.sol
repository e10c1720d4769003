// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {ILightClient} from "./ILightClient.sol";
import {QbftLightClient} from "./QbftLightClient.sol";
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
        if (packets.length == 0) revert NoPackets();
        Remote memory r = _remote(packets[0].sourceChain);
        (bytes[] memory calls, bytes32[] memory ids, bytes32 channel, uint64 first) = _check(packets);
        bytes32 stateRoot = r.lightClient.stateRoot(height);
        if (stateRoot == bytes32(0)) revert UnknownHeight(height);
        _receive(r.outbox, stateRoot, accountProof, storageProof, calls, ids, channel, first, rangeProof);
    }

    /// @notice `receivePackets` against remote header `headerRlp` (number `height`), verified in the same
    ///         transaction. The light client checks it statelessly (`verifyHeader`: seals of the current set, nothing
    ///         stored, `latestNumber` unchanged), which saves the three fresh storage words of a stored update.
    ///         A header that lists a new validator set is instead submitted with `updateHeader` (stored, set
    ///         rotated), as before.
    function updateAndReceive(
        bytes calldata headerRlp,
        uint64 height,
        bytes[] calldata accountProof,
        bytes[] calldata storageProof,
        Packet[] calldata packets,
        bytes32[] calldata rangeProof
    ) external nonReentrant {
        if (packets.length == 0) revert NoPackets();
        Remote memory r = _remote(packets[0].sourceChain);
        bytes32 stateRoot;
        uint64 number;
        try r.lightClient.verifyHeader(headerRlp) returns (uint64 n_, bytes32 root_, bytes32, uint64) {
            (number, stateRoot) = (n_, root_);
        } catch (bytes memory reason) {
            if (bytes4(reason) != QbftLightClient.ValidatorSetChange.selector) {
                assembly ("memory-safe") {
                    revert(add(reason, 32), mload(reason))
                }
            }
            (number, stateRoot) = r.lightClient.updateHeader(headerRlp);
        }
        if (number != height) revert HeightMismatch(number, height);
        (bytes[] memory calls, bytes32[] memory ids, bytes32 channel, uint64 first) = _check(packets);
        _receive(r.outbox, stateRoot, accountProof, storageProof, calls, ids, channel, first, rangeProof);
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

    /// @dev Cheap per-packet checks, and the call data (selector ‖ abi.encode(packet)) built once: its tail is the
    ///      packet encoding, so its hash is the id and the same buffer is later sent to the receiver.
    function _check(Packet[] calldata packets)
        private
        view
        returns (bytes[] memory calls, bytes32[] memory ids, bytes32 channel, uint64 first)
    {
        uint256 n = packets.length;
        channel = packets[0].channel;
        uint64 source = packets[0].sourceChain;
        first = nextRecv(channel);
        calls = new bytes[](n);
        ids = new bytes32[](n);
        for (uint256 i; i < n; ++i) {
            (bytes memory data, bytes32 id) = _callData(packets[i]);
            // Header words read from the copy as full words: a dirty (non-canonical) word fails these equalities,
            // and after the range proof the bytes are known to be the Outbox's canonical encoding anyway.
            uint256 version;
            uint256 src;
            uint256 dst;
            bytes32 ch;
            uint256 seq;
            assembly ("memory-safe") {
                let t := add(data, 68)
                version := mload(t)
                src := mload(add(t, 32))
                dst := mload(add(t, 64))
                ch := mload(add(t, 96))
                seq := mload(add(t, 128))
            }
            if (seq != first + i) {
                if (i == 0 && seq < first) revert AlreadyReceived(channel, uint64(seq));
                revert SequenceOutOfOrder(first + uint64(i), uint64(seq));
            }
            if (version != PacketLib.VERSION) revert UnsupportedVersion(uint8(version));
            if (dst != block.chainid) revert WrongDestChain(uint64(dst));
            if (ch != channel || src != source) revert MixedBatch(i);
            calls[i] = data;
            ids[i] = id;
        }
    }

    function _receive(
        address outbox,
        bytes32 stateRoot,
        bytes[] calldata accountProof,
        bytes[] calldata storageProof,
        bytes[] memory calls,
        bytes32[] memory ids,
        bytes32 channel,
        uint64 first,
        bytes32[] calldata rangeProof
    ) private {
        uint256 n = ids.length;
        // 2. The batch is what the source Outbox committed: storage proof of sendRoot, range proof of the ids.
        {
            bytes32 slot = keccak256(abi.encode(channel, OUTBOX_SEND_ROOT_SLOT));
            bytes32 root = bytes32(StorageProof.accountSlot(stateRoot, outbox, slot, accountProof, storageProof));
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
            (uint8 status, bytes memory result) = _deliver(calls[i]);
            bytes32 id = ids[i];
            emit PacketReceived(channel, first + uint64(i), id, status, result);
            bytes32 leaf;
            assembly ("memory-safe") {
                // ackLeaf = keccak256(abi.encode(id, status, keccak256(result))), see PacketLib.ackLeaf
                let m := mload(0x40)
                mstore(m, id)
                mstore(add(m, 32), status)
                mstore(add(m, 64), keccak256(add(result, 32), mload(result)))
                leaf := keccak256(m, 96)
            }
            ids[i] = leaf;
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

    /// @dev Delivers one packet given its call data (selector ‖ abi.encode(packet), see `_callData`).
    ///      Expired: TIMEOUT, app not called. Otherwise the receiver gets exactly RECEIVE_GAS (the outcome must not
    ///      depend on the gas the relayer chose, and an app that burns all its gas fails only its own packet), a
    ///      revert is APP_ERROR with the revert data, and return/revert data is capped at MAX_RESULT bytes.
    function _deliver(bytes memory data) private returns (uint8 status, bytes memory result) {
        address receiver;
        uint256 timeoutHeight;
        uint256 timeoutTimestamp;
        assembly ("memory-safe") {
            let t := add(data, 68)
            receiver := mload(add(t, 192))
            timeoutHeight := mload(add(t, 224))
            timeoutTimestamp := mload(add(t, 256))
        }
        if (PacketLib.expired(uint64(timeoutHeight), uint64(timeoutTimestamp), block.number, block.timestamp)) {
            return (PacketLib.STATUS_TIMEOUT, result);
        }
        uint256 required = RECEIVE_GAS + RECEIVE_GAS / 63 + 5_000; // EIP-150: the callee gets <= 63/64
        if (gasleft() < required) revert AppCall.InsufficientGasForApp(gasleft(), required);
        if (receiver.code.length == 0) return (PacketLib.STATUS_APP_ERROR, result);
        uint256 gasLimit = RECEIVE_GAS;
        uint256 maxResult = MAX_RESULT;
        assembly ("memory-safe") {
            let ok := call(gasLimit, receiver, 0, add(data, 32), mload(data), 0, 0)
            let rs := returndatasize()
            let from := 0
            let len := rs
            status := 2 // APP_ERROR
            if ok {
                status := 1 // SUCCESS
                // A well-formed abi-encoded `bytes` is unwrapped; anything else is kept raw.
                if iszero(lt(rs, 64)) {
                    returndatacopy(0, 0, 64)
                    if and(eq(mload(0), 32), iszero(gt(mload(32), sub(rs, 64)))) {
                        from := 64
                        len := mload(32)
                    }
                }
            }
            if gt(len, maxResult) { len := maxResult }
            result := mload(0x40)
            mstore(result, len)
            returndatacopy(add(result, 32), from, len)
            mstore(0x40, and(add(add(result, 63), len), not(31)))
        }
    }
}
