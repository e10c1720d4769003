// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

/// @notice The part of the Outbox that applications call.
interface IOutbox {
    function sendPacket(
        bytes32 channel,
        address receiver,
        uint64 timeoutHeight,
        uint64 timeoutTimestamp,
        uint8 kind,
        bytes calldata payload
    ) external returns (uint64 sequence, bytes32 id);

    function channelDest(bytes32 channel) external view returns (uint64);
}
