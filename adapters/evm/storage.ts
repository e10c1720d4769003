/** Storage keys of the proof-relevant mappings (pinned layout, docs/architecture.md). */
import { bytesToHex, concatBytes, type Hex, hexToBytes, padLeft } from '../../proofs/bytes.js';
import { keccak256 } from '../../proofs/keccak.js';

export const SLOT = {
  outboxSendRoot: 0n,
  inboxAckRoot: 0n,
  inboxNextRecv: 1n,
} as const;

/** keccak256(abi.encode(bytes32 key, uint256 slot)) — Solidity's location of `mapping[key]`. */
export function mappingSlot(key: Hex, slot: bigint): Hex {
  const k = hexToBytes(key, 'key');
  const s = hexToBytes(`0x${slot.toString(16).padStart(64, '0')}`, 'slot');
  return bytesToHex(keccak256(concatBytes(padLeft(k, 32), s)));
}
