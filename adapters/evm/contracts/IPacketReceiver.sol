// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {Packet} from "./PacketLib.sol";

/// @notice Destination application: called by the Inbox for each verified, unexpired packet.
interface IPacketReceiver {
    /// @notice Handles a packet. The return value becomes the ack result (status SUCCESS); a revert becomes
    ///         status APP_ERROR with the revert data as result. Either way the packet counts as received.
    function onRecvPacket(Packet calldata packet) external returns (bytes memory result);
}
