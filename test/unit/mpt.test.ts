import { createMerkleProof, createMPT } from '@ethereumjs/mpt';
import { sha256 } from '@noble/hashes/sha2.js';
import { describe, expect, it } from 'vitest';
import { bytesToHex, hexToBytes } from '../../proofs/bytes.js';
import { ProofError } from '../../proofs/errors.js';
import { keccak256 } from '../../proofs/keccak.js';
import { createProof, EMPTY_TRIE_ROOT, type TrieEntry, trieRoot, verifyProof } from '../../proofs/mpt.js';
import { encode } from '../../proofs/rlp.js';
import { readFixture } from '../helpers/fixtures.js';
import { type Rng, rng } from '../helpers/random.js';

type TrieVectorFile = Record<
  string,
  { in: [string, string | null][] | Record<string, string | null>; root: string }
>;

interface MptCase {
  name: string;
  kind: string;
  root: string;
  key: string;
  proof: string[];
  expected: 'accept' | 'reject';
  expectedValue: string | null;
  forgery?: string;
  strictness?: string;
}

interface ReceiptsFixture {
  blocks: {
    blockNumber: number;
    receiptsRoot: string;
    proofs: { index: number; key: string; receipt: string; proof: string[] }[];
  }[];
}

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
/** ethereum/tests convention: 0x-prefixed is hex, anything else UTF-8; null deletes. */
const vectorBytes = (s: string | null): Uint8Array =>
  s === null ? new Uint8Array(0) : s.startsWith('0x') ? hexToBytes(s) : utf8(s);
const hex = (b: Uint8Array | null): string | null => (b === null ? null : bytesToHex(b));

function errorCode(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ProofError);
    return (err as ProofError).code;
  }
  throw new Error('expected a ProofError, nothing was thrown');
}

/** Applies entries as the trie would (last write wins, empty deletes) to know what must be present. */
function finalMap(entries: readonly TrieEntry[]): Map<string, Uint8Array> {
  const m = new Map<string, Uint8Array>();
  for (const [k, v] of entries) {
    if (v.length === 0) m.delete(bytesToHex(k));
    else m.set(bytesToHex(k), v);
  }
  return m;
}

function checkAllProofs(entries: readonly TrieEntry[], absentKeys: readonly Uint8Array[]): void {
  const root = trieRoot(entries);
  const present = finalMap(entries);
  for (const [k, v] of present) {
    const key = hexToBytes(k);
    expect(hex(verifyProof(root, key, createProof(entries, key)))).toBe(bytesToHex(v));
  }
  for (const key of absentKeys) {
    if (present.has(bytesToHex(key))) continue;
    expect(verifyProof(root, key, createProof(entries, key))).toBeNull();
  }
}

const TRIE_FILES: [string, boolean][] = [
  ['trietest.json', false],
  ['trieanyorder.json', false],
  ['trietest_secureTrie.json', true],
  ['trieanyorder_secureTrie.json', true],
  ['hex_encoded_securetrie_test.json', true],
];

describe('ethereum/tests trie vectors', () => {
  for (const [file, secure] of TRIE_FILES) {
    const vectors = readFixture<TrieVectorFile>(`evm/trie/${file}`);
    for (const [name, tc] of Object.entries(vectors)) {
      const pairs = Array.isArray(tc.in) ? tc.in : Object.entries(tc.in);
      const entries: TrieEntry[] = pairs.map(([k, v]) => {
        const key = vectorBytes(k);
        return [secure ? keccak256(key) : key, vectorBytes(v)];
      });
      it(`${file} ${name}: root`, () => {
        expect(bytesToHex(trieRoot(entries))).toBe(tc.root);
      });
      it(`${file} ${name}: proofs of every key, and of deleted/unknown keys`, () => {
        const absent = [
          ...pairs.map(([k]) => vectorBytes(k)),
          utf8('not-a-key'),
          new Uint8Array(0),
          Uint8Array.of(0),
        ];
        checkAllProofs(entries, secure ? absent.map(keccak256) : absent);
      });
    }
  }

  it('the empty trie has root keccak(rlp("")) and an empty absence proof', () => {
    expect(bytesToHex(trieRoot([]))).toBe(
      '0x56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421',
    );
    expect(
      trieRoot([
        [utf8('a'), utf8('b')],
        [utf8('a'), new Uint8Array(0)],
      ]),
    ).toEqual(EMPTY_TRIE_ROOT);
    expect(createProof([], utf8('a'))).toEqual([]);
    expect(verifyProof(EMPTY_TRIE_ROOT, utf8('a'), [])).toBeNull();
  });
});

describe('random tries', () => {
  /** Short keys and values give < 32-byte (embedded) nodes; shared prefixes give extensions and branch values. */
  function randomEntries(r: Rng, n: number, maxKey: number, maxVal: number): TrieEntry[] {
    const prefix = r.bytes(2);
    return Array.from({ length: n }, () => {
      const key =
        r.next() < 0.3
          ? Uint8Array.from([...prefix.subarray(0, r.int(3)), ...r.bytes(r.int(maxKey))])
          : r.bytes(1 + r.int(maxKey));
      const val = r.next() < 0.05 ? new Uint8Array(0) : r.bytes(1 + r.int(maxVal));
      return [key, val] as const;
    });
  }

  it('presence and absence round-trip (300 tries, incl. embedded nodes and prefix keys)', () => {
    const r = rng(42);
    let inlineSeen = 0;
    for (let t = 0; t < 300; t++) {
      const small = t % 2 === 0;
      const entries = randomEntries(r, 1 + r.int(small ? 12 : 60), small ? 3 : 32, small ? 3 : 40);
      const absent = Array.from({ length: 8 }, () => r.bytes(r.int(small ? 4 : 33)));
      checkAllProofs(entries, absent);
      if (small && entries.length > 2) inlineSeen++;
    }
    expect(inlineSeen).toBeGreaterThan(50);
  });

  it('roots agree with @ethereumjs/mpt, and its proofs (which repeat embedded nodes) verify here', async () => {
    const r = rng(7);
    for (let t = 0; t < 40; t++) {
      const small = t % 2 === 0;
      const entries = randomEntries(r, 1 + r.int(30), small ? 3 : 32, small ? 3 : 40);
      const ref = await createMPT();
      for (const [k, v] of entries) await ref.put(k, v.length ? v : null);
      const root = trieRoot(entries);
      expect(bytesToHex(root)).toBe(bytesToHex(ref.root()));
      for (const [k, v] of finalMap(entries)) {
        const key = hexToBytes(k);
        const theirs = await createMerkleProof(ref, key);
        expect(hex(verifyProof(root, key, theirs))).toBe(bytesToHex(v));
      }
    }
  });

  it('a pluggable hasher changes every reference consistently', () => {
    const entries: TrieEntry[] = [
      [utf8('doe'), utf8('reindeer')],
      [utf8('dog'), utf8('puppy')],
      [utf8('dogglesworth'), utf8('cat')],
    ];
    const opts = { hasher: (b: Uint8Array) => sha256(b) };
    const root = trieRoot(entries, opts);
    expect(bytesToHex(root)).not.toBe(bytesToHex(trieRoot(entries)));
    const proof = createProof(entries, utf8('dog'), opts);
    expect(hex(verifyProof(root, utf8('dog'), proof, opts))).toBe(bytesToHex(utf8('puppy')));
    expect(errorCode(() => verifyProof(root, utf8('dog'), proof))).toBe('MR_ERR_MPT_HASH_MISMATCH');
  });
});

describe('mpt-cases.json (141 public accept/reject cases)', () => {
  const { cases } = readFixture<{ cases: MptCase[] }>('evm/proofs/mpt-cases.json');
  it('has the documented counts', () => {
    expect(cases.length).toBe(141);
    expect(cases.filter((c) => c.expected === 'accept').length).toBe(71);
  });
  for (const c of cases) {
    it(`${c.expected}: ${c.name}`, () => {
      const run = () =>
        verifyProof(
          hexToBytes(c.root),
          hexToBytes(c.key),
          c.proof.map((p) => hexToBytes(p)),
        );
      if (c.expected === 'accept') {
        expect(hex(run())).toBe(c.expectedValue);
      } else if (c.strictness === 'strict' || /appended/.test(c.forgery ?? '')) {
        expect(errorCode(run)).toBe('MR_ERR_MPT_EXTRA_NODES');
      } else {
        let got: string | null | undefined;
        try {
          got = hex(run());
        } catch (err) {
          expect(err).toBeInstanceOf(ProofError);
          expect((err as ProofError).code).toMatch(/^MR_ERR_MPT_/);
          return;
        }
        expect(got).not.toBe(c.expectedValue);
      }
    });
  }
});

describe('forged proofs are rejected with a specific code', () => {
  const fx = readFixture<ReceiptsFixture>('evm/proofs/receipts-mainnet.json');
  // Block 12965000, index 129: a 5-node proof through extensions/branches with a 2-byte key.
  const block = fx.blocks.find((b) => b.blockNumber === 12965000)!;
  const p = block.proofs.find((x) => x.index === 129)!;
  const root = hexToBytes(block.receiptsRoot);
  const key = hexToBytes(p.key);
  const proof = p.proof.map((x) => hexToBytes(x));
  const flip = (b: Uint8Array, at: number): Uint8Array => {
    const c = Uint8Array.from(b);
    c[at]! ^= 0x01;
    return c;
  };

  it('genuine proof verifies to the receipt', () => {
    expect(proof.length).toBe(5);
    expect(hex(verifyProof(root, key, proof))).toBe(p.receipt);
  });
  it('byte flipped in a middle node → HASH_MISMATCH at that index', () => {
    const forged = proof.map((n, i) => (i === 2 ? flip(n, n.length - 5) : n));
    try {
      verifyProof(root, key, forged);
      expect.unreachable();
    } catch (err) {
      expect((err as ProofError).code).toBe('MR_ERR_MPT_HASH_MISMATCH');
      expect((err as ProofError).details.index).toBe(2);
    }
  });
  it('byte flipped in the root node → HASH_MISMATCH', () => {
    expect(errorCode(() => verifyProof(root, key, [flip(proof[0]!, 10), ...proof.slice(1)]))).toBe(
      'MR_ERR_MPT_HASH_MISMATCH',
    );
  });
  it('byte flipped in the leaf value → HASH_MISMATCH', () => {
    const last = proof.length - 1;
    expect(
      errorCode(() =>
        verifyProof(
          root,
          key,
          proof.map((n, i) => (i === last ? flip(n, n.length - 1) : n)),
        ),
      ),
    ).toBe('MR_ERR_MPT_HASH_MISMATCH');
  });
  it('wrong key (another present index) → HASH_MISMATCH, since the path leaves the proof', () => {
    expect(errorCode(() => verifyProof(root, encode(Uint8Array.of(0x05)), proof))).toBe(
      'MR_ERR_MPT_HASH_MISMATCH',
    );
  });
  it('truncated (leaf dropped) → MISSING_NODE', () => {
    expect(errorCode(() => verifyProof(root, key, proof.slice(0, -1)))).toBe('MR_ERR_MPT_MISSING_NODE');
  });
  it('extra node after the leaf → EXTRA_NODES (also a copy of the leaf itself)', () => {
    expect(errorCode(() => verifyProof(root, key, [...proof, proof[0]!]))).toBe('MR_ERR_MPT_EXTRA_NODES');
    expect(errorCode(() => verifyProof(root, key, [...proof, proof.at(-1)!]))).toBe('MR_ERR_MPT_EXTRA_NODES');
  });
  it('extra node after an absence proof → EXTRA_NODES', () => {
    const entries: TrieEntry[] = [
      [utf8('a-long-key-0000000000000000000000000000'), new Uint8Array(40).fill(1)],
      [utf8('b-long-key-0000000000000000000000000000'), new Uint8Array(40).fill(2)],
    ];
    const r = trieRoot(entries);
    const absent = utf8('c');
    const pr = createProof(entries, absent);
    expect(verifyProof(r, absent, pr)).toBeNull();
    expect(errorCode(() => verifyProof(r, absent, [...pr, createProof(entries, entries[0]![0])[1]!]))).toBe(
      'MR_ERR_MPT_EXTRA_NODES',
    );
  });
  it('wrong root → HASH_MISMATCH at index 0', () => {
    expect(errorCode(() => verifyProof(flip(root, 31), key, proof))).toBe('MR_ERR_MPT_HASH_MISMATCH');
  });
  it('swapped nodes → HASH_MISMATCH', () => {
    expect(
      errorCode(() => verifyProof(root, key, [proof[0]!, proof[2]!, proof[1]!, ...proof.slice(3)])),
    ).toBe('MR_ERR_MPT_HASH_MISMATCH');
  });
  it('empty proof against a non-empty root → EMPTY_PROOF', () => {
    expect(errorCode(() => verifyProof(root, key, []))).toBe('MR_ERR_MPT_EMPTY_PROOF');
  });
  it('root of the wrong length → BAD_ROOT', () => {
    expect(errorCode(() => verifyProof(root.subarray(0, 31), key, proof))).toBe('MR_ERR_MPT_BAD_ROOT');
  });

  /** A one-node "trie" whose root is the hash of the given node, to reach structural checks. */
  const single = (node: Uint8Array, k: Uint8Array) => () => verifyProof(keccak256(node), k, [node]);

  it('node that is not RLP → BAD_NODE', () => {
    expect(errorCode(single(Uint8Array.of(0xc5, 0x01), key))).toBe('MR_ERR_MPT_BAD_NODE');
  });
  it('non-canonical RLP inside a node → BAD_NODE (walker is as strict as rlp.ts)', () => {
    const k = Uint8Array.of(0xab);
    const leafBody = [0x82, 0x20, 0xab, 0x85, ...utf8('value')]; // [hp(ab, leaf), "value"] payload
    const nodes: [string, number[]][] = [
      ['long form for a short list', [0xf8, leafBody.length, ...leafBody]],
      ['single byte wrapped as a string', [0xc4, 0x81, 0x20, 0x81, 0x76]], // [0x20, 'v'] with both bytes wrapped
      ['leading zero in a length', [0xf9, 0x00, leafBody.length, ...leafBody]],
      ['trailing bytes', [0xc0 + leafBody.length, ...leafBody, 0x00]],
      ['item past the end of its list', [0xc0 + leafBody.length - 1, ...leafBody]],
      ['18 items', [0xc0 + 18, ...new Array(18).fill(0x80)]],
      ['a string, not a list', [0x83, 0x01, 0x02, 0x03]],
    ];
    for (const [why, bytes] of nodes) {
      expect(errorCode(single(Uint8Array.from(bytes), k)), why).toBe('MR_ERR_MPT_BAD_NODE');
    }
    // Sanity: the canonical form of the same leaf is accepted.
    expect(hex(single(Uint8Array.from([0xc0 + leafBody.length, ...leafBody]), k)())).toBe(
      bytesToHex(utf8('value')),
    );
  });
  it('node with 3 items → BAD_NODE', () => {
    expect(errorCode(single(encode([Uint8Array.of(0x20), utf8('v'), utf8('x')]), new Uint8Array(0)))).toBe(
      'MR_ERR_MPT_BAD_NODE',
    );
  });
  it('hex-prefix flag nibble 4 → BAD_PATH', () => {
    expect(errorCode(single(encode([Uint8Array.of(0x40, 0xab), utf8('value')]), Uint8Array.of(0xab)))).toBe(
      'MR_ERR_MPT_BAD_PATH',
    );
  });
  it('even hex-prefix with a non-zero padding nibble → BAD_PATH', () => {
    expect(errorCode(single(encode([Uint8Array.of(0x25, 0xab), utf8('value')]), Uint8Array.of(0xab)))).toBe(
      'MR_ERR_MPT_BAD_PATH',
    );
  });
  it('extension with an empty path → BAD_PATH', () => {
    expect(errorCode(single(encode([Uint8Array.of(0x00), new Uint8Array(32)]), Uint8Array.of(0xab)))).toBe(
      'MR_ERR_MPT_BAD_PATH',
    );
  });
  it('leaf with an empty value → BAD_NODE', () => {
    expect(
      errorCode(single(encode([Uint8Array.of(0x20, 0xab), new Uint8Array(0)]), Uint8Array.of(0xab))),
    ).toBe('MR_ERR_MPT_BAD_NODE');
  });
  it('branch child reference of 31 bytes → BAD_NODE', () => {
    const children = Array.from({ length: 17 }, (_, i) =>
      i === 0xa ? new Uint8Array(31).fill(7) : new Uint8Array(0),
    );
    expect(errorCode(single(encode(children), Uint8Array.of(0xab)))).toBe('MR_ERR_MPT_BAD_NODE');
  });
  it('a well-formed single leaf verifies, and a key diverging from it is absent', () => {
    const leaf = encode([Uint8Array.of(0x20, 0xab), utf8('value')]);
    expect(hex(single(leaf, Uint8Array.of(0xab))())).toBe(bytesToHex(utf8('value')));
    expect(single(leaf, Uint8Array.of(0xac))()).toBeNull();
    expect(single(leaf, Uint8Array.of(0xab, 0x00))()).toBeNull();
  });
});
