/** keccak-256 (the Ethereum variant, not NIST SHA3). One place to swap the implementation. */
import { keccak_256 } from '@noble/hashes/sha3.js';

export function keccak256(data: Uint8Array): Uint8Array {
  return keccak_256(data);
}
