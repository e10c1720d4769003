// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {IPacketReceiver} from "./IPacketReceiver.sol";
import {Packet} from "./PacketLib.sol";

/// @notice Receiver that does nothing and returns empty bytes: isolates the Inbox's own cost in gas benchmarks.
contract NoopReceiver is IPacketReceiver {
    /// @inheritdoc IPacketReceiver
    function onRecvPacket(Packet calldata) external pure returns (bytes memory) {
        return "";
    }
}
