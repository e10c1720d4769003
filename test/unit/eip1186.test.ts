import { describe, expect, it } from 'vitest';
import { bytesToHex, hexToBytes } from '../../proofs/bytes.js';
import {
  type EthGetProofResponse,
  verifyAccountProof,
  verifyEip1186,
  verifyStorageProof,
} from '../../proofs/eip1186.js';
import { ProofError } from '../../proofs/errors.js';
import { keccak256 } from '../../proofs/keccak.js';
import { createProof, type TrieEntry, trieRoot } from '../../proofs/mpt.js';
import { decode } from '../../proofs/rlp.js';
import { readFixture } from '../helpers/fixtures.js';

interface GetProofCase {
  name: string;
  stateRoot: string;
  response: EthGetProofResponse;
}

const { cases } = readFixture<{ cases: GetProofCase[] }>('evm/proofs/eth-getproof-mainnet.json');

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ProofError);
    return (err as ProofError).code;
  }
  throw new Error('expected a ProofError, nothing was thrown');
}

/** Flips one bit of proof node `i`, `back` bytes from its end (inside the payload, so the RLP stays well-formed). */
function flipNode(proof: readonly string[], i: number, back = 3): string[] {
  return proof.map((n, j) => {
    if (j !== i) return n;
    const b = hexToBytes(n);
    b[b.length - back]! ^= 0x10;
    return bytesToHex(b);
  });
}

const bump = (q: string): string => `0x${(BigInt(q) + 1n).toString(16)}`;

describe('eth_getProof mainnet responses', () => {
  it('has 10 responses with 5 storage proofs', () => {
    expect(cases.length).toBe(10);
    expect(cases.reduce((n, c) => n + c.response.storageProof.length, 0)).toBe(5);
  });

  for (const c of cases) {
    const r = c.response;
    it(`${c.name}: account and storage verify against stateRoot`, () => {
      const account = verifyAccountProof(c.stateRoot, r.address, r.accountProof);
      expect(account).not.toBeNull();
      expect(account!.nonce).toBe(BigInt(r.nonce));
      expect(account!.balance).toBe(BigInt(r.balance));
      expect(bytesToHex(account!.storageHash)).toBe(r.storageHash);
      expect(bytesToHex(account!.codeHash)).toBe(r.codeHash);
      for (const sp of r.storageProof) {
        expect(verifyStorageProof(r.storageHash, sp.key, sp.proof)).toBe(BigInt(sp.value));
      }
      const whole = verifyEip1186(c.stateRoot, r);
      expect(whole.storage.map((s) => s.value)).toEqual(r.storageProof.map((s) => BigInt(s.value)));
    });

    it(`${c.name}: tampered responses are rejected`, () => {
      expect(codeOf(() => verifyEip1186(c.stateRoot, { ...r, balance: bump(r.balance) }))).toBe(
        'MR_ERR_EIP1186_MISMATCH',
      );
      expect(codeOf(() => verifyEip1186(c.stateRoot, { ...r, nonce: bump(r.nonce) }))).toBe(
        'MR_ERR_EIP1186_MISMATCH',
      );
      const last = r.accountProof.length - 1;
      expect(
        codeOf(() => verifyEip1186(c.stateRoot, { ...r, accountProof: flipNode(r.accountProof, last) })),
      ).toBe('MR_ERR_MPT_HASH_MISMATCH');
      expect(
        codeOf(() => verifyEip1186(c.stateRoot, { ...r, accountProof: flipNode(r.accountProof, 0, 40) })),
      ).toBe('MR_ERR_MPT_HASH_MISMATCH');
      // Another account's address walks off the proof (or proves a different leaf): never this account.
      const other = `0x${'11'.repeat(20)}`;
      let otherResult: unknown;
      try {
        otherResult = verifyAccountProof(c.stateRoot, other, r.accountProof);
      } catch (err) {
        expect(err).toBeInstanceOf(ProofError);
        return;
      }
      expect(otherResult).toBeNull();
    });
  }

  const withStorage = cases.filter((c) => c.response.storageProof.length > 0);
  for (const c of withStorage) {
    const r = c.response;
    const sp = r.storageProof[0]!;
    it(`${c.name}: tampered storage is rejected`, () => {
      const changed = { ...r, storageProof: [{ ...sp, value: bump(sp.value) }] };
      expect(codeOf(() => verifyEip1186(c.stateRoot, changed))).toBe('MR_ERR_EIP1186_MISMATCH');
      const zeroed = { ...r, storageProof: [{ ...sp, value: '0x0' }] };
      expect(codeOf(() => verifyEip1186(c.stateRoot, zeroed))).toBe('MR_ERR_EIP1186_MISMATCH');
      const flipped = { ...r, storageProof: [{ ...sp, proof: flipNode(sp.proof, sp.proof.length - 1) }] };
      expect(codeOf(() => verifyEip1186(c.stateRoot, flipped))).toBe('MR_ERR_MPT_HASH_MISMATCH');
      const otherHash = { ...r, storageHash: r.accountProof[0]!.slice(0, 66) };
      expect(codeOf(() => verifyEip1186(c.stateRoot, otherHash))).toBe('MR_ERR_EIP1186_MISMATCH');
      // The storage proof checked against the wrong root fails the hash chain.
      expect(codeOf(() => verifyStorageProof(c.stateRoot, sp.key, sp.proof))).toBe(
        'MR_ERR_MPT_HASH_MISMATCH',
      );
    });
  }

  it('a slot given as a short quantity is padded to 32 bytes', () => {
    const c = withStorage[0]!;
    const sp = c.response.storageProof[0]!;
    const short = `0x${BigInt(sp.key).toString(16)}`;
    expect(verifyStorageProof(c.response.storageHash, short, sp.proof)).toBe(BigInt(sp.value));
  });

  it('an empty storage trie proves every slot zero with an empty proof', () => {
    const empty = '0x56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421';
    expect(verifyStorageProof(empty, '0x0', [])).toBe(0n);
  });

  it('inputs of the wrong length are refused', () => {
    const c = cases[0]!;
    expect(codeOf(() => verifyAccountProof(c.stateRoot, '0x1234', c.response.accountProof))).toBe(
      'MR_ERR_EIP1186_INPUT',
    );
    expect(
      codeOf(() => verifyAccountProof(c.stateRoot.slice(0, 64), c.response.address, c.response.accountProof)),
    ).toBe('MR_ERR_EIP1186_INPUT');
    expect(codeOf(() => verifyStorageProof(c.stateRoot, `0x${'1'.repeat(65)}`, []))).toBe(
      'MR_ERR_EIP1186_INPUT',
    );
  });

  it('an absent account verifies as null and must be reported as the empty account', () => {
    // Two real accounts in a synthetic state trie; the third address is proven absent.
    const real = cases.slice(0, 2).map((c) => c.response);
    const leaf = (c: EthGetProofResponse) => hexToBytes(c.accountProof.at(-1)!);
    const state: TrieEntry[] = real.map((c) => [keccak256(hexToBytes(c.address)), accountValue(leaf(c))]);
    const root = bytesToHex(trieRoot(state));
    const absent = `0x${'42'.repeat(20)}`;
    const proof = createProof(state, keccak256(hexToBytes(absent))).map(bytesToHex);
    expect(verifyAccountProof(root, absent, proof)).toBeNull();
    const emptyAccount: EthGetProofResponse = {
      address: absent,
      balance: '0x0',
      nonce: '0x0',
      codeHash: '0xc5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470',
      storageHash: '0x56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421',
      accountProof: proof,
      storageProof: [{ key: '0x0', value: '0x0', proof: [] }],
    };
    expect(verifyEip1186(root, emptyAccount).account).toBeNull();
    expect(codeOf(() => verifyEip1186(root, { ...emptyAccount, balance: '0x1' }))).toBe(
      'MR_ERR_EIP1186_MISMATCH',
    );
    expect(
      codeOf(() =>
        verifyEip1186(root, { ...emptyAccount, storageProof: [{ key: '0x0', value: '0x5', proof: [] }] }),
      ),
    ).toBe('MR_ERR_EIP1186_MISMATCH');
  });
});

/** The value (account RLP) held by a leaf node [path, value]. */
function accountValue(leafNode: Uint8Array): Uint8Array {
  const list = decode(leafNode) as Uint8Array[];
  return list[1]!;
}
