// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;
import {StorageProof} from "../../adapters/evm/contracts/lib/StorageProof.sol";
import {MerkleAccumulator} from "../../adapters/evm/contracts/lib/MerkleAccumulator.sol";
contract H {
    bytes32[32] br;
    function sp(bytes32 stateRoot, address acct, bytes32 slot, bytes[] calldata ap, bytes[] calldata sp_) external view returns (uint256 g, uint256 v) {
        g = gasleft();
        v = StorageProof.accountSlot(stateRoot, acct, slot, ap, sp_);
        g -= gasleft();
    }
    function acct(bytes32 stateRoot, address a, bytes[] calldata ap) external view returns (uint256 g) {
        g = gasleft();
        StorageProof.storageRoot(stateRoot, a, ap);
        g -= gasleft();
    }
    function rr(uint256 start, bytes32[] memory leaves, bytes32[] calldata proof) external view returns (uint256 g, bytes32 r) {
        g = gasleft();
        r = MerkleAccumulator.rangeRoot(start, leaves, proof);
        g -= gasleft();
    }
    function ab(uint256 size, bytes32[] memory leaves) external returns (uint256 g) {
        g = gasleft();
        MerkleAccumulator.appendBatch(br, size, leaves);
        g -= gasleft();
    }
}
