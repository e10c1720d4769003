// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

/// @notice Calls an untrusted application with a fixed gas budget and a capped copy of its return data.
/// @dev Why: a channel is ordered, so a packet whose callback cannot complete would block every later packet.
///      - fixed gas: the outcome must not depend on how much gas the relayer chose to send (else a relayer could
///        force APP_ERROR by under-funding the call), and an app that burns all gas only fails its own packet;
///      - capped return data: a returndata bomb cannot make the delivery itself run out of gas;
///      - no code at the target: a plain failure, not a revert of the whole batch.
library AppCall {
    error InsufficientGasForApp(uint256 available, uint256 required);

    /// @notice Calls `target` with `data`, forwarding exactly `gasLimit` gas.
    /// @return ok whether the call succeeded (false also for a target without code)
    /// @return ret return or revert data, truncated to `maxRet` bytes (`truncated` tells)
    function call(address target, bytes memory data, uint256 gasLimit, uint256 maxRet)
        internal
        returns (bool ok, bytes memory ret, bool truncated)
    {
        // EIP-150 gives the callee at most 63/64 of what is left: require enough that `gasLimit` is really passed.
        uint256 required = gasLimit + gasLimit / 63 + 5_000;
        if (gasleft() < required) revert InsufficientGasForApp(gasleft(), required);
        if (target.code.length == 0) return (false, ret, false);
        uint256 size;
        assembly ("memory-safe") {
            ok := call(gasLimit, target, 0, add(data, 32), mload(data), 0, 0)
            size := returndatasize()
        }
        if (size > maxRet) {
            size = maxRet;
            truncated = true;
        }
        ret = new bytes(size);
        assembly ("memory-safe") {
            returndatacopy(add(ret, 32), 0, size)
        }
    }

    /// @notice Decodes an ABI-encoded `bytes` return value; ok = false if `ret` is not exactly that.
    function decodeBytes(bytes memory ret) internal pure returns (bool ok, bytes memory out) {
        if (ret.length < 64) return (false, out);
        uint256 offset;
        uint256 len;
        assembly ("memory-safe") {
            offset := mload(add(ret, 32))
            len := mload(add(ret, 64))
        }
        if (offset != 32 || len > ret.length - 64) return (false, out);
        out = new bytes(len);
        assembly ("memory-safe") {
            mcopy(add(out, 32), add(ret, 96), len)
        }
        return (true, out);
    }
}
