/**
 * Append-only Merkle accumulator of depth 32 (the eth2 deposit-contract tree), mirrored by
 * `adapters/evm/contracts/MerkleAccumulator.sol`. A contiguous range of leaves is proven with one range proof
 * whose size grows with the tree depth, not with the number of leaves: this is what lets one storage proof of
 * the root and one range proof serve a whole batch of packets.
 */
import { bytesToHex, concatBytes, equalBytes, type Hex, hexToBytes } from './bytes.js';
import { ProofError } from './errors.js';
import { keccak256 } from './keccak.js';

export const DEPTH = 32;

function hashPair(a: Uint8Array, b: Uint8Array): Uint8Array {
  return keccak256(concatBytes(a, b));
}

/** zero[i]: root of an empty subtree of height i. */
export const ZERO_HASHES: readonly Uint8Array[] = (() => {
  const z: Uint8Array[] = [new Uint8Array(32)];
  for (let i = 0; i < DEPTH; i++) z.push(hashPair(z[i]!, z[i]!));
  return z;
})();

function fail(code: string, message: string): never {
  throw new ProofError(code, `accumulator: ${message}`);
}

function toLeaf(h: Hex | Uint8Array, what: string): Uint8Array {
  const b = typeof h === 'string' ? hexToBytes(h, what) : h;
  if (b.length !== 32) fail('MR_ERR_ACC_LEAF', `${what} must be 32 bytes`);
  return b;
}

/**
 * A full in-memory copy of an accumulator: keeps every level so that range proofs are O(depth).
 * The relayer rebuilds it from PacketSent / PacketReceived events.
 */
export class MerkleAccumulator {
  private readonly levels: Uint8Array[][] = Array.from({ length: DEPTH + 1 }, () => []);

  get size(): number {
    return this.levels[0]!.length;
  }

  append(leaf: Hex | Uint8Array): void {
    let node = toLeaf(leaf, 'leaf');
    let idx = this.levels[0]!.length;
    this.levels[0]!.push(node);
    for (let l = 0; l < DEPTH; l++) {
      const sibling = idx & 1 ? this.levels[l]![idx - 1]! : ZERO_HASHES[l]!;
      node = idx & 1 ? hashPair(sibling, node) : hashPair(node, sibling);
      idx >>= 1;
      this.levels[l + 1]![idx] = node;
    }
  }

  /** Root over the first `size` leaves (defaults to all). */
  root(size = this.size): Uint8Array {
    if (!Number.isSafeInteger(size) || size < 0 || size > this.size) {
      fail('MR_ERR_ACC_RANGE', `root over ${size} leaves of a tree of ${this.size}`);
    }
    if (size === this.size) return size === 0 ? ZERO_HASHES[DEPTH]! : this.levels[DEPTH]![0]!;
    const prefix = new MerkleAccumulator();
    for (let i = 0; i < size; i++) prefix.append(this.levels[0]![i]!);
    return prefix.root();
  }

  private node(level: number, index: number, size: number): Uint8Array {
    // Nodes wholly beyond `size` are empty subtrees; a node straddling `size` must be recomputed for that size.
    const span = 2 ** level;
    const first = index * span;
    if (first >= size) return ZERO_HASHES[level]!;
    if (first + span <= size) return this.levels[level]![index]!;
    return hashPair(this.node(level - 1, index * 2, size), this.node(level - 1, index * 2 + 1, size));
  }

  /** Range proof for leaves [start, start+count) against the root over the first `size` leaves. */
  rangeProof(start: number, count: number, size = this.size): Hex[] {
    if (count < 1 || start < 0 || start + count > size || size > this.size) {
      fail('MR_ERR_ACC_RANGE', `range [${start}, ${start + count}) not within ${size} leaves`);
    }
    const proof: Hex[] = [];
    let lo = start;
    let hi = start + count - 1;
    for (let l = 0; l < DEPTH; l++) {
      if (lo & 1) proof.push(bytesToHex(this.node(l, lo - 1, size)));
      if (!(hi & 1)) proof.push(bytesToHex(this.node(l, hi + 1, size)));
      lo >>= 1;
      hi >>= 1;
    }
    return proof;
  }
}

/** Computes the root implied by `leaves` at `start` and `proof`; throws on malformed input. */
export function rangeRoot(
  start: number,
  leaves: readonly (Hex | Uint8Array)[],
  proof: readonly Hex[],
): Uint8Array {
  if (leaves.length === 0) fail('MR_ERR_ACC_RANGE', 'no leaves');
  if (!Number.isSafeInteger(start) || start < 0 || start + leaves.length > 2 ** DEPTH) {
    fail('MR_ERR_ACC_RANGE', 'range outside the tree');
  }
  let nodes = leaves.map((l, i) => toLeaf(l, `leaves[${i}]`));
  let lo = start;
  let p = 0;
  const take = (): Uint8Array => {
    if (p >= proof.length) fail('MR_ERR_ACC_PROOF_SHORT', 'range proof too short');
    return toLeaf(proof[p++]!, `proof[${p - 1}]`);
  };
  for (let l = 0; l < DEPTH; l++) {
    const hi = lo + nodes.length - 1;
    if (lo & 1) nodes = [take(), ...nodes];
    if (!(hi & 1)) nodes.push(take());
    const next: Uint8Array[] = [];
    for (let i = 0; i < nodes.length; i += 2) next.push(hashPair(nodes[i]!, nodes[i + 1]!));
    nodes = next;
    lo >>= 1;
  }
  if (p !== proof.length) fail('MR_ERR_ACC_PROOF_LONG', `${proof.length - p} unused proof item(s)`);
  return nodes[0]!;
}

/** Verifies a range proof against a trusted root; throws `ProofError` unless it matches. */
export function verifyRange(
  root: Hex | Uint8Array,
  start: number,
  leaves: readonly (Hex | Uint8Array)[],
  proof: readonly Hex[],
): void {
  const computed = rangeRoot(start, leaves, proof);
  if (!equalBytes(computed, toLeaf(root, 'root')))
    fail('MR_ERR_ACC_ROOT_MISMATCH', 'range proof does not match root');
}
