// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

/// @notice The medrelay packet (docs/architecture.md, DESIGN §3). Field order is part of the wire format.
struct Packet {
    uint8 version; // 1
    uint64 sourceChain; // EVM chain id (or registry id for non-EVM)
    uint64 destChain;
    bytes32 channel; // keccak256(abi.encode(sourceChain, destChain, name))
    uint64 sequence; // 1, 2, 3 … per channel
    address sender; // source application (msg.sender of sendPacket)
    address receiver; // destination application
    uint64 timeoutHeight; // destination block number; 0 = none
    uint64 timeoutTimestamp; // destination block timestamp (seconds); 0 = none
    uint8 kind; // 1 RECORD_PROOF, 2 CONSENT_GRANT, 3 CONSENT_REVOKE, 4 CLAIM, 5 SETTLEMENT
    bytes payload;
}

/// @notice Packet ids, ack leaves and the shared constants of the packet protocol.
library PacketLib {
    uint8 internal constant VERSION = 1;

    uint8 internal constant KIND_RECORD_PROOF = 1;
    uint8 internal constant KIND_CONSENT_GRANT = 2;
    uint8 internal constant KIND_CONSENT_REVOKE = 3;
    uint8 internal constant KIND_CLAIM = 4;
    uint8 internal constant KIND_SETTLEMENT = 5;

    uint8 internal constant STATUS_SUCCESS = 1; // the app returned; result = its return value
    uint8 internal constant STATUS_APP_ERROR = 2; // the app reverted; result = revert data
    uint8 internal constant STATUS_TIMEOUT = 3; // arrived expired; app not called; result empty

    /// @notice id = keccak256(abi.encode(packet)), the struct encoded as one tuple argument.
    function id(Packet memory p) internal pure returns (bytes32) {
        return keccak256(abi.encode(p));
    }

    /// @notice ackLeaf = keccak256(abi.encode(bytes32 packetId, uint8 status, bytes32 keccak256(result))).
    function ackLeaf(bytes32 packetId, uint8 status, bytes memory result) internal pure returns (bytes32) {
        return keccak256(abi.encode(packetId, status, keccak256(result)));
    }

    /// @notice Channel id = keccak256(abi.encode(uint64 sourceChain, uint64 destChain, string name)).
    function channelId(uint64 sourceChain, uint64 destChain, string memory name) internal pure returns (bytes32) {
        return keccak256(abi.encode(sourceChain, destChain, name));
    }

    /// @notice Whether a packet has expired at destination block (`number`, `timestamp`).
    /// @dev Same rule on both sides: the Inbox gives such a packet TIMEOUT, the Outbox accepts a timeout proof at a
    ///      remote header that satisfies it. Both are monotone in the block, so once true it stays true.
    function expired(uint64 timeoutHeight, uint64 timeoutTimestamp, uint256 number, uint256 timestamp)
        internal
        pure
        returns (bool)
    {
        return (timeoutHeight != 0 && number >= timeoutHeight) || (timeoutTimestamp != 0 && timestamp >= timeoutTimestamp);
    }
}
