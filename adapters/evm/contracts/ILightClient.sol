// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

/// @notice What the Inbox and Outbox need from a light client of the remote chain.
interface ILightClient {
    /// @notice Verifies and stores a finalized remote header; returns its number and state root.
    function updateHeader(bytes calldata headerRlp) external returns (uint64 number, bytes32 stateRoot);
    /// @notice Verifies a finalized remote header without storing it (reverts if it cannot be checked that way).
    function verifyHeader(bytes calldata headerRlp)
        external
        view
        returns (uint64 number, bytes32 stateRoot, bytes32 receiptsRoot, uint64 timestamp);
    /// @notice State root of verified header `number` (0 if unknown).
    function stateRoot(uint64 number) external view returns (bytes32);
    /// @notice Timestamp of verified header `number` (0 if unknown).
    function timestamp(uint64 number) external view returns (uint64);
}
