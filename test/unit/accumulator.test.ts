/**
 * proofs/accumulator.ts against an independent naive implementation (whole-tree recomputation with ethers'
 * keccak256), and range proofs: round trips over every range of small trees, and forgeries rejected by code.
 */
import { concat, keccak256 as ethersKeccak } from 'ethers';
import { describe, expect, it } from 'vitest';
import { DEPTH, MerkleAccumulator, rangeRoot, verifyRange, ZERO_HASHES } from '../../proofs/accumulator.js';
import { bytesToHex, type Hex, hexToBytes } from '../../proofs/bytes.js';
import { ProofError } from '../../proofs/errors.js';
import { rng } from '../helpers/random.js';

const ZERO32 = `0x${'00'.repeat(32)}` as Hex;

/** Naive root: hash the whole depth-32 tree level by level, padding each odd level with that level's empty node. */
function naiveRoot(leaves: readonly Hex[]): Hex {
  let level: string[] = [...leaves];
  let zero: string = ZERO32;
  for (let l = 0; l < 32; l++) {
    if (level.length % 2 === 1) level.push(zero);
    const next: string[] = [];
    for (let i = 0; i < level.length; i += 2) next.push(ethersKeccak(concat([level[i]!, level[i + 1]!])));
    level = next;
    zero = ethersKeccak(concat([zero, zero]));
  }
  return (level[0] ?? zero) as Hex;
}

/** Number of proof items the documented algorithm consumes for [start, start+count). */
function proofItems(start: number, count: number): number {
  let lo = start;
  let hi = start + count - 1;
  let n = 0;
  for (let l = 0; l < 32; l++) {
    if (lo & 1) n++;
    if (!(hi & 1)) n++;
    lo = Math.floor(lo / 2);
    hi = Math.floor(hi / 2);
  }
  return n;
}

function randomLeaves(seed: number, n: number): Hex[] {
  const r = rng(seed);
  return Array.from({ length: n }, () => bytesToHex(r.bytes(32)));
}

function build(leaves: readonly (Hex | Uint8Array)[]): MerkleAccumulator {
  const acc = new MerkleAccumulator();
  for (const l of leaves) acc.append(l);
  return acc;
}

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ProofError);
    return (err as ProofError).code;
  }
  throw new Error('expected a ProofError, nothing was thrown');
}

/** The code a structurally-valid but wrong (start, leaves) pair must produce against an honest proof. */
function expectedCode(start: number, count: number, proofLength: number): string {
  const need = proofItems(start, count);
  if (need > proofLength) return 'MR_ERR_ACC_PROOF_SHORT';
  if (need < proofLength) return 'MR_ERR_ACC_PROOF_LONG';
  return 'MR_ERR_ACC_ROOT_MISMATCH';
}

describe('MerkleAccumulator roots', () => {
  it('default: zero hashes follow zero[i+1] = keccak(zero[i] ‖ zero[i])', () => {
    expect(ZERO_HASHES.length).toBe(DEPTH + 1);
    let z: string = ZERO32;
    for (let i = 0; i <= DEPTH; i++) {
      expect(bytesToHex(ZERO_HASHES[i]!)).toBe(z);
      z = ethersKeccak(concat([z, z]));
    }
  });

  it('default: root after every append matches the naive recomputation for sizes 0..70', () => {
    const leaves = randomLeaves(1, 70);
    const acc = new MerkleAccumulator();
    expect(bytesToHex(acc.root())).toBe(naiveRoot([]));
    for (let n = 1; n <= 70; n++) {
      acc.append(leaves[n - 1]!);
      expect(acc.size).toBe(n);
      expect(bytesToHex(acc.root()), `size ${n}`).toBe(naiveRoot(leaves.slice(0, n)));
    }
  });

  it('behavior: root(size) of a prefix equals the root the tree had at that size', () => {
    const leaves = randomLeaves(2, 70);
    const acc = build(leaves);
    for (let n = 0; n <= 70; n += n < 10 ? 1 : 7) {
      expect(bytesToHex(acc.root(n)), `prefix ${n}`).toBe(naiveRoot(leaves.slice(0, n)));
    }
  });

  it('behavior: zero leaves count (appending 0x00…00 changes the size, not the root)', () => {
    const acc = build(randomLeaves(3, 5));
    const before = bytesToHex(acc.root());
    acc.append(ZERO32);
    expect(acc.size).toBe(6);
    expect(bytesToHex(acc.root())).toBe(before);
  });

  it('error: leaves that are not 32 bytes are rejected', () => {
    const acc = new MerkleAccumulator();
    expect(codeOf(() => acc.append(bytesToHex(new Uint8Array(31))))).toBe('MR_ERR_ACC_LEAF');
    expect(codeOf(() => acc.append(new Uint8Array(33)))).toBe('MR_ERR_ACC_LEAF');
    expect(acc.size).toBe(0);
  });

  it('error: root over more leaves than the tree holds, or a negative size, is a range error', () => {
    const acc = build(randomLeaves(4, 5));
    expect(codeOf(() => acc.root(6))).toBe('MR_ERR_ACC_RANGE');
    expect(codeOf(() => acc.root(-1))).toBe('MR_ERR_ACC_RANGE');
    expect(codeOf(() => acc.root(2.5))).toBe('MR_ERR_ACC_RANGE');
  });
});

describe('range proofs', () => {
  it('default: range proofs round-trip against the naive root in trees of sizes 1..40 (all ranges up to 20, dense above)', () => {
    const leaves = randomLeaves(10, 40);
    const r = rng(10);
    let checked = 0;
    for (let size = 1; size <= 40; size++) {
      const acc = build(leaves.slice(0, size));
      const root = naiveRoot(leaves.slice(0, size));
      for (let start = 0; start < size; start++) {
        const max = size - start;
        // Every count for small trees; for larger ones the edge counts plus a random one per start.
        const counts =
          size <= 20
            ? Array.from({ length: max }, (_, i) => i + 1)
            : [...new Set([1, 2, 3, 1 + r.int(max), max])];
        for (const count of counts.filter((c) => c <= max)) {
          const proof = acc.rangeProof(start, count);
          expect(proof.length).toBe(proofItems(start, count));
          verifyRange(root, start, leaves.slice(start, start + count), proof);
          checked++;
        }
      }
    }
    expect(checked).toBeGreaterThan(3500);
  });

  it('behavior: proofs against a prefix size verify against the root the tree had then', () => {
    const leaves = randomLeaves(11, 40);
    const acc = build(leaves);
    for (const size of [1, 2, 3, 8, 9, 17, 23]) {
      const root = naiveRoot(leaves.slice(0, size));
      for (let start = 0; start < size; start++) {
        for (let count = 1; start + count <= size; count++) {
          const proof = acc.rangeProof(start, count, size);
          verifyRange(root, start, leaves.slice(start, start + count), proof);
          // The same range against the full tree's root needs a different proof when the sizes differ.
          expect(
            codeOf(() => verifyRange(acc.root(), start, leaves.slice(start, start + count), proof)),
          ).toBe('MR_ERR_ACC_ROOT_MISMATCH');
        }
      }
    }
  });

  it('behavior: roots and proofs accept hex and bytes interchangeably', () => {
    const leaves = randomLeaves(12, 9);
    const acc = build(leaves.map((l) => hexToBytes(l)));
    const proof = acc.rangeProof(2, 5);
    verifyRange(
      acc.root(),
      2,
      leaves.slice(2, 7).map((l) => hexToBytes(l)),
      proof,
    );
    verifyRange(bytesToHex(acc.root()), 2, leaves.slice(2, 7), proof);
  });

  it('behavior: leaves near the end of the 2^32 index space verify (start + count = 2^32)', () => {
    // A single leaf at the last index: every level supplies the left sibling only.
    const leaf = randomLeaves(13, 1);
    const proof = Array.from({ length: DEPTH }, (_, l) => bytesToHex(ZERO_HASHES[l]!));
    const root = rangeRoot(2 ** DEPTH - 1, leaf, proof);
    let node = leaf[0]!;
    for (let l = 0; l < DEPTH; l++) node = ethersKeccak(concat([bytesToHex(ZERO_HASHES[l]!), node])) as Hex;
    expect(bytesToHex(root)).toBe(node);
  });
});

describe('range proofs: forgeries are rejected', () => {
  const leaves = randomLeaves(20, 37);
  const acc = build(leaves);
  const root = acc.root();
  const cases: [number, number][] = [
    [0, 1],
    [3, 1],
    [4, 4],
    [5, 9],
    [16, 16],
    [30, 7],
    [0, 37],
    [36, 1],
  ];

  it('error: a flipped byte in any sibling → MR_ERR_ACC_ROOT_MISMATCH', () => {
    for (const [start, count] of cases) {
      const proof = acc.rangeProof(start, count);
      for (let i = 0; i < proof.length; i++) {
        const b = hexToBytes(proof[i]!);
        b[i % 32]! ^= 0x01;
        const forged = proof.map((p, j) => (j === i ? bytesToHex(b) : p));
        expect(codeOf(() => verifyRange(root, start, leaves.slice(start, start + count), forged))).toBe(
          'MR_ERR_ACC_ROOT_MISMATCH',
        );
      }
    }
  });

  it('error: a wrong start index is rejected (shape mismatch or root mismatch)', () => {
    for (const [start, count] of cases) {
      const proof = acc.rangeProof(start, count);
      const slice = leaves.slice(start, start + count);
      for (const s of [start + 1, start - 1, start + count, start + 2, start + 64]) {
        if (s < 0) continue;
        expect(
          codeOf(() => verifyRange(root, s, slice, proof)),
          `[${start},+${count}) at ${s}`,
        ).toBe(expectedCode(s, count, proof.length));
      }
    }
    // Same shape, different position: only the root can tell.
    const p = acc.rangeProof(4, 4);
    expect(proofItems(8, 4)).toBe(p.length);
    expect(codeOf(() => verifyRange(root, 8, leaves.slice(4, 8), p))).toBe('MR_ERR_ACC_ROOT_MISMATCH');
  });

  it('error: an extra proof item → MR_ERR_ACC_PROOF_LONG; a missing one → MR_ERR_ACC_PROOF_SHORT', () => {
    for (const [start, count] of cases) {
      const proof = acc.rangeProof(start, count);
      const slice = leaves.slice(start, start + count);
      expect(codeOf(() => verifyRange(root, start, slice, [...proof, ZERO32]))).toBe('MR_ERR_ACC_PROOF_LONG');
      expect(codeOf(() => verifyRange(root, start, slice, proof.slice(0, -1)))).toBe(
        'MR_ERR_ACC_PROOF_SHORT',
      );
      expect(codeOf(() => verifyRange(root, start, slice, []))).toBe('MR_ERR_ACC_PROOF_SHORT');
    }
  });

  it('error: an extra or a missing leaf is rejected', () => {
    for (const [start, count] of cases) {
      const proof = acc.rangeProof(start, count);
      const withExtra = leaves.slice(start, start + count + 1);
      if (withExtra.length === count) withExtra.push(ZERO32); // range ends at the tree's end: add the empty leaf
      expect(codeOf(() => verifyRange(root, start, withExtra, proof))).toBe(
        expectedCode(start, count + 1, proof.length),
      );
      if (count > 1) {
        expect(codeOf(() => verifyRange(root, start, leaves.slice(start, start + count - 1), proof))).toBe(
          expectedCode(start, count - 1, proof.length),
        );
        // Dropping the first leaf and starting one later is also caught.
        expect(
          codeOf(() => verifyRange(root, start + 1, leaves.slice(start + 1, start + count), proof)),
        ).toBe(expectedCode(start + 1, count - 1, proof.length));
      }
    }
  });

  it('error: reordered leaves and a replaced leaf → MR_ERR_ACC_ROOT_MISMATCH', () => {
    for (const [start, count] of cases) {
      const proof = acc.rangeProof(start, count);
      const slice = leaves.slice(start, start + count);
      if (count > 1) {
        const swapped = [...slice];
        [swapped[0], swapped[count - 1]] = [swapped[count - 1]!, swapped[0]!];
        expect(codeOf(() => verifyRange(root, start, swapped, proof))).toBe('MR_ERR_ACC_ROOT_MISMATCH');
        expect(codeOf(() => verifyRange(root, start, [...slice].reverse(), proof))).toBe(
          'MR_ERR_ACC_ROOT_MISMATCH',
        );
      }
      for (const at of new Set([0, count >> 1, count - 1])) {
        const replaced = slice.map((l, i) => (i === at ? randomLeaves(start * 100 + at, 1)[0]! : l));
        expect(codeOf(() => verifyRange(root, start, replaced, proof))).toBe('MR_ERR_ACC_ROOT_MISMATCH');
      }
    }
  });

  it('error: a wrong root → MR_ERR_ACC_ROOT_MISMATCH (including the root at another size)', () => {
    const proof = acc.rangeProof(5, 9);
    const slice = leaves.slice(5, 14);
    expect(codeOf(() => verifyRange(acc.root(36), 5, slice, proof))).toBe('MR_ERR_ACC_ROOT_MISMATCH');
    expect(codeOf(() => verifyRange(ZERO32, 5, slice, proof))).toBe('MR_ERR_ACC_ROOT_MISMATCH');
    const flipped = root.slice();
    flipped[31]! ^= 0x80;
    expect(codeOf(() => verifyRange(flipped, 5, slice, proof))).toBe('MR_ERR_ACC_ROOT_MISMATCH');
    expect(codeOf(() => verifyRange(bytesToHex(new Uint8Array(31)), 5, slice, proof))).toBe(
      'MR_ERR_ACC_LEAF',
    );
  });

  it('error: empty leaves → MR_ERR_ACC_RANGE', () => {
    expect(codeOf(() => verifyRange(root, 0, [], acc.rangeProof(0, 1)))).toBe('MR_ERR_ACC_RANGE');
    expect(codeOf(() => acc.rangeProof(3, 0))).toBe('MR_ERR_ACC_RANGE');
  });

  it('error: start beyond the tree → MR_ERR_ACC_RANGE', () => {
    const proof = acc.rangeProof(0, 1);
    expect(codeOf(() => verifyRange(root, 2 ** DEPTH, [leaves[0]!], proof))).toBe('MR_ERR_ACC_RANGE');
    expect(codeOf(() => verifyRange(root, 2 ** DEPTH - 1, leaves.slice(0, 2), proof))).toBe(
      'MR_ERR_ACC_RANGE',
    );
    expect(codeOf(() => verifyRange(root, -1, [leaves[0]!], proof))).toBe('MR_ERR_ACC_RANGE');
    expect(codeOf(() => verifyRange(root, 0.5, [leaves[0]!], proof))).toBe('MR_ERR_ACC_RANGE');
    // The prover refuses ranges outside the current tree or the requested prefix.
    expect(codeOf(() => acc.rangeProof(37, 1))).toBe('MR_ERR_ACC_RANGE');
    expect(codeOf(() => acc.rangeProof(30, 8))).toBe('MR_ERR_ACC_RANGE');
    expect(codeOf(() => acc.rangeProof(-1, 2))).toBe('MR_ERR_ACC_RANGE');
    expect(codeOf(() => acc.rangeProof(10, 1, 10))).toBe('MR_ERR_ACC_RANGE');
    expect(codeOf(() => acc.rangeProof(0, 1, 38))).toBe('MR_ERR_ACC_RANGE');
  });

  it('error: malformed proof items and leaves → MR_ERR_ACC_LEAF', () => {
    const proof = acc.rangeProof(5, 9);
    const slice = leaves.slice(5, 14);
    const shortItem = proof.map((p, i) => (i === 0 ? (p.slice(0, -2) as Hex) : p));
    expect(codeOf(() => verifyRange(root, 5, slice, shortItem))).toBe('MR_ERR_ACC_LEAF');
    const shortLeaf = slice.map((l, i) => (i === 3 ? (l.slice(0, -2) as Hex) : l));
    expect(codeOf(() => verifyRange(root, 5, shortLeaf, proof))).toBe('MR_ERR_ACC_LEAF');
  });
});
