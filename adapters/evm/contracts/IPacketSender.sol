// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {Packet} from "./PacketLib.sol";

/// @notice Source application: called back by the Outbox when a packet's fate is proven.
interface IPacketSender {
    /// @notice The destination recorded `status` (1 SUCCESS, 2 APP_ERROR, 3 TIMEOUT = arrived expired) and `result`.
    function onAcknowledgement(Packet calldata packet, uint8 status, bytes calldata result) external;

    /// @notice The packet was proven not received before its timeout; it will never be received.
    function onTimeout(Packet calldata packet) external;
}
