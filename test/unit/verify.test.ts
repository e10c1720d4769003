/**
 * relayer/verify.ts at unit level: commitments are proven with eth_getProof-shaped data built from a real
 * state trie (account trie keyed by keccak(address), value rlp([nonce, balance, storageRoot, codeHash]); storage
 * trie keyed by keccak(slot), value rlp(word)), and finality with headers sealed by the devnet QBFT sealer.
 */
import { encodeRlp, keccak256 as ethersKeccak, toBeArray } from 'ethers';
import { describe, expect, it } from 'vitest';
import { addressOfKey, sealQbftHeader } from '../../adapters/evm/devnet/sealer.js';
import { mappingSlot, SLOT } from '../../adapters/evm/storage.js';
import type { CommitmentProof, FinalityProof } from '../../adapters/types.js';
import { MerkleAccumulator } from '../../proofs/accumulator.js';
import { bytesToHex, type Hex, hexToBytes } from '../../proofs/bytes.js';
import { ProofError } from '../../proofs/errors.js';
import { keccak256 } from '../../proofs/keccak.js';
import { createProof, type TrieEntry, trieRoot } from '../../proofs/mpt.js';
import { verifyBatch, verifyCommitment, verifyFinality } from '../../relayer/verify.js';
import { rng } from '../helpers/random.js';

const r = rng(424242);
const rand32 = (): Hex => bytesToHex(r.bytes(32));
const randAddr = (): Hex => bytesToHex(r.bytes(20));
const word = (v: bigint): Hex => `0x${v.toString(16).padStart(64, '0')}`;

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ProofError);
    return (err as ProofError).code;
  }
  throw new Error('expected a ProofError, nothing was thrown');
}

// ───────────── a small world state ─────────────

interface ContractState {
  address: Hex;
  storage: Map<Hex, bigint>; // slot (32-byte hex) → non-zero word
}

function storageEntries(c: ContractState): TrieEntry[] {
  return [...c.storage].map(([slot, v]) => [
    keccak256(hexToBytes(slot)),
    hexToBytes(encodeRlp(toBeArray(v))),
  ]);
}

function accountValue(nonce: bigint, balance: bigint, storageRoot: Uint8Array, codeHash: Hex): Uint8Array {
  return hexToBytes(encodeRlp([toBeArray(nonce), toBeArray(balance), bytesToHex(storageRoot), codeHash]));
}

const channel = rand32();
const rootSlot = mappingSlot(channel, SLOT.outboxSendRoot);
const nextRecvSlot = mappingSlot(channel, SLOT.inboxNextRecv);
const sendRoot = BigInt(rand32()) | (1n << 255n);

const outbox: ContractState = { address: randAddr(), storage: new Map([[rootSlot, sendRoot]]) };
const inbox: ContractState = { address: randAddr(), storage: new Map([[nextRecvSlot, 5n]]) };
for (let i = 0; i < 40; i++) {
  outbox.storage.set(rand32(), BigInt(rand32()) | 1n);
  inbox.storage.set(rand32(), BigInt(1 + r.int(1000)));
}
// The inbox also holds the outbox's send-root slot with another value: a proof must bind slot AND contract.
inbox.storage.set(rootSlot, 7n);

const accounts: TrieEntry[] = [];
const storageRoots = new Map<Hex, Uint8Array>();
for (const c of [outbox, inbox]) {
  const root = trieRoot(storageEntries(c));
  storageRoots.set(c.address, root);
  accounts.push([keccak256(hexToBytes(c.address)), accountValue(1n, 0n, root, rand32())]);
}
for (let i = 0; i < 60; i++) {
  accounts.push([
    keccak256(r.bytes(20)),
    accountValue(BigInt(r.int(50)), BigInt(rand32()) >> 100n, trieRoot([]), ethersKeccak('0x') as Hex),
  ]);
}
const stateRoot = bytesToHex(trieRoot(accounts));

function proofOf(c: ContractState, slot: Hex, value: Hex = word(c.storage.get(slot) ?? 0n)): CommitmentProof {
  return {
    height: '100',
    contract: c.address,
    slot,
    value,
    accountProof: createProof(accounts, keccak256(hexToBytes(c.address))).map(bytesToHex),
    storageProof: createProof(storageEntries(c), keccak256(hexToBytes(slot))).map(bytesToHex),
  };
}

function flip(nodes: readonly Hex[], i: number, back = 3): Hex[] {
  return nodes.map((n, j) => {
    if (j !== i) return n;
    const b = hexToBytes(n);
    b[b.length - back]! ^= 0x10;
    return bytesToHex(b);
  });
}

describe('verifyCommitment', () => {
  it('default: returns the proven 32-byte word (an accumulator root)', () => {
    const p = proofOf(outbox, rootSlot);
    expect(p.accountProof.length).toBeGreaterThan(1);
    expect(p.storageProof.length).toBeGreaterThan(1);
    expect(verifyCommitment(stateRoot, p)).toBe(word(sendRoot));
  });

  it('behavior: small counters come back as a left-padded word; claims are compared case-insensitively', () => {
    expect(verifyCommitment(stateRoot, proofOf(inbox, nextRecvSlot))).toBe(word(5n));
    const p = proofOf(outbox, rootSlot);
    expect(verifyCommitment(stateRoot, { ...p, value: `0x${p.value.slice(2).toUpperCase()}` as Hex })).toBe(
      word(sendRoot),
    );
  });

  it('behavior: every stored slot of both contracts verifies', () => {
    for (const c of [outbox, inbox]) {
      for (const [slot, v] of c.storage) expect(verifyCommitment(stateRoot, proofOf(c, slot))).toBe(word(v));
    }
  });

  it('behavior: an absent slot proves the zero word (an untouched channel)', () => {
    const emptySlot = mappingSlot(rand32(), SLOT.inboxNextRecv);
    expect(verifyCommitment(stateRoot, proofOf(inbox, emptySlot))).toBe(word(0n));
    expect(codeOf(() => verifyCommitment(stateRoot, proofOf(inbox, emptySlot, word(1n))))).toBe(
      'MR_ERR_COMMITMENT_MISMATCH',
    );
  });

  it('error: a wrong claimed value → MR_ERR_COMMITMENT_MISMATCH', () => {
    const p = proofOf(outbox, rootSlot);
    for (const v of [word(sendRoot ^ 1n), word(0n), word(7n)]) {
      expect(codeOf(() => verifyCommitment(stateRoot, { ...p, value: v }))).toBe(
        'MR_ERR_COMMITMENT_MISMATCH',
      );
    }
    // A short (non-word) spelling of the right value is not the claimed word either.
    const q = proofOf(inbox, nextRecvSlot);
    expect(codeOf(() => verifyCommitment(stateRoot, { ...q, value: '0x5' }))).toBe(
      'MR_ERR_COMMITMENT_MISMATCH',
    );
  });

  it('error: a flipped byte in any account or storage proof node → MR_ERR_MPT_HASH_MISMATCH', () => {
    const p = proofOf(outbox, rootSlot);
    for (let i = 0; i < p.accountProof.length; i++) {
      expect(
        codeOf(() => verifyCommitment(stateRoot, { ...p, accountProof: flip(p.accountProof, i) })),
        `account ${i}`,
      ).toBe('MR_ERR_MPT_HASH_MISMATCH');
    }
    for (let i = 0; i < p.storageProof.length; i++) {
      expect(
        codeOf(() => verifyCommitment(stateRoot, { ...p, storageProof: flip(p.storageProof, i) })),
        `storage ${i}`,
      ).toBe('MR_ERR_MPT_HASH_MISMATCH');
    }
  });

  it('error: a proof for another contract is rejected', () => {
    const ofOutbox = proofOf(outbox, rootSlot);
    const ofInbox = proofOf(inbox, rootSlot);
    // Outbox's proofs presented as the inbox's: the account path leads elsewhere.
    expect(() => verifyCommitment(stateRoot, { ...ofOutbox, contract: inbox.address })).toThrow(ProofError);
    // The inbox's account with the outbox's storage proof: the storage root differs.
    expect(
      codeOf(() => verifyCommitment(stateRoot, { ...ofInbox, storageProof: ofOutbox.storageProof })),
    ).toBe('MR_ERR_MPT_HASH_MISMATCH');
    // A complete, valid proof of the same slot in the other contract proves that contract's value, not ours.
    expect(verifyCommitment(stateRoot, ofInbox)).toBe(word(7n));
    expect(codeOf(() => verifyCommitment(stateRoot, { ...ofInbox, value: word(sendRoot) }))).toBe(
      'MR_ERR_COMMITMENT_MISMATCH',
    );
  });

  it('error: a contract that does not exist → MR_ERR_ACCOUNT_ABSENT', () => {
    const ghost = randAddr();
    const p: CommitmentProof = {
      ...proofOf(outbox, rootSlot),
      contract: ghost,
      accountProof: createProof(accounts, keccak256(hexToBytes(ghost))).map(bytesToHex),
    };
    expect(codeOf(() => verifyCommitment(stateRoot, p))).toBe('MR_ERR_ACCOUNT_ABSENT');
  });

  it('error: a wrong stateRoot → MR_ERR_MPT_HASH_MISMATCH', () => {
    const p = proofOf(outbox, rootSlot);
    const other = bytesToHex(trieRoot(accounts.slice(1)));
    for (const root of [other, rand32(), bytesToHex(storageRoots.get(outbox.address)!)]) {
      expect(codeOf(() => verifyCommitment(root, p))).toBe('MR_ERR_MPT_HASH_MISMATCH');
    }
  });

  it('error: a truncated or extended proof is rejected', () => {
    const p = proofOf(outbox, rootSlot);
    expect(() => verifyCommitment(stateRoot, { ...p, storageProof: p.storageProof.slice(0, -1) })).toThrow(
      ProofError,
    );
    expect(() =>
      verifyCommitment(stateRoot, { ...p, accountProof: [...p.accountProof, p.accountProof.at(-1)!] }),
    ).toThrow(ProofError);
  });
});

describe('verifyBatch', () => {
  it('default: accepts an honest batch and rejects a shifted start', () => {
    const acc = new MerkleAccumulator();
    const leaves = Array.from({ length: 9 }, rand32);
    for (const l of leaves) acc.append(l);
    const root = bytesToHex(acc.root());
    const proof = acc.rangeProof(3, 4);
    expect(() => verifyBatch(root, 3n, leaves.slice(3, 7), proof)).not.toThrow();
    expect(() => verifyBatch(root, 4n, leaves.slice(3, 7), proof)).toThrow(ProofError);
  });
});

// ───────────── finality ─────────────

describe('verifyFinality', () => {
  const keys = Array.from({ length: 4 }, () => r.bytes(32));
  const validators = keys.map(addressOfKey);
  const outsiders = Array.from({ length: 4 }, () => addressOfKey(r.bytes(32)));
  const headerStateRoot = rand32();
  const base = {
    number: '0x2a',
    parentHash: rand32(),
    stateRoot: headerStateRoot,
    transactionsRoot: rand32(),
    receiptsRoot: rand32(),
    logsBloom: `0x${'00'.repeat(256)}`,
    gasLimit: '0x1c9c380',
    gasUsed: '0x5208',
    timestamp: '0x6553f100',
    baseFeePerGas: '0x7',
  };
  const sealed = sealQbftHeader(base, rand32(), validators, keys);
  const proof: FinalityProof = {
    chainId: '31001',
    height: '42',
    blockHash: sealed.header.hash,
    stateRoot: headerStateRoot,
    timestamp: String(0x6553f100),
    header: bytesToHex(sealed.rlp),
  };

  it('default: accepts a header sealed by a quorum of the trusted set', () => {
    const v = verifyFinality(proof, validators);
    expect(v).toEqual({ height: 42n, stateRoot: headerStateRoot, timestamp: BigInt(0x6553f100) });
  });

  it('behavior: the trusted set is matched case-insensitively and in any order', () => {
    const mixed = [...validators].reverse().map((a) => `0x${a.slice(2).toUpperCase()}`);
    expect(verifyFinality(proof, mixed).height).toBe(42n);
    expect(
      verifyFinality(
        { ...proof, stateRoot: `0x${headerStateRoot.slice(2).toUpperCase()}` as Hex },
        validators,
      ).stateRoot,
    ).toBe(headerStateRoot);
  });

  it('behavior: the returned timestamp comes from the sealed header, not the proof object', () => {
    expect(verifyFinality({ ...proof, timestamp: '1' }, validators).timestamp).toBe(BigInt(0x6553f100));
  });

  it('error: a non-validator trusted set → MR_ERR_QBFT_NOT_VALIDATOR', () => {
    expect(codeOf(() => verifyFinality(proof, outsiders))).toBe('MR_ERR_QBFT_NOT_VALIDATOR');
    // One sealer replaced by an outsider is enough to reject.
    expect(codeOf(() => verifyFinality(proof, [outsiders[0]!, ...validators.slice(1)]))).toBe(
      'MR_ERR_QBFT_NOT_VALIDATOR',
    );
  });

  it('error: a larger trusted set raises the quorum → MR_ERR_QBFT_BELOW_QUORUM', () => {
    expect(codeOf(() => verifyFinality(proof, [...validators, ...outsiders.slice(0, 3)]))).toBe(
      'MR_ERR_QBFT_BELOW_QUORUM',
    );
  });

  it('error: a stateRoot or height field that disagrees with the header → MR_ERR_FINALITY_MISMATCH', () => {
    expect(codeOf(() => verifyFinality({ ...proof, stateRoot: rand32() }, validators))).toBe(
      'MR_ERR_FINALITY_MISMATCH',
    );
    expect(codeOf(() => verifyFinality({ ...proof, height: '43' }, validators))).toBe(
      'MR_ERR_FINALITY_MISMATCH',
    );
  });

  it('error: a header whose sealed stateRoot was altered no longer carries valid seals', () => {
    const tampered = sealQbftHeader({ ...base, stateRoot: rand32() }, rand32(), validators, keys);
    // Splice the original seals onto the altered header: the signers recovered are not validators.
    const forged = hexToBytes(proof.header);
    const at = Buffer.from(forged).indexOf(Buffer.from(hexToBytes(headerStateRoot)));
    expect(at).toBeGreaterThan(0);
    forged[at]! ^= 0x01;
    const code = codeOf(() => verifyFinality({ ...proof, header: bytesToHex(forged) }, validators));
    expect(code).toMatch(/^MR_ERR_QBFT_(NOT_VALIDATOR|BAD_SEAL)$/);
    // Whereas a properly resealed header with the other root verifies (and reports that root).
    expect(
      verifyFinality(
        { ...proof, header: bytesToHex(tampered.rlp), stateRoot: tampered.header.stateRoot as Hex },
        validators,
      ).stateRoot,
    ).toBe(tampered.header.stateRoot);
  });
});
