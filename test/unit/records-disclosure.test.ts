/**
 * Salted-Merkle selective disclosure. Leaves are cross-checked against ethers' ABI coder; proofs against a
 * line-by-line port of OpenZeppelin's Solidity `processMultiProof` / `processProof` (kept deliberately naive,
 * as the contract is), so a disclosure accepted here is one `MerkleProof.multiProofVerify` accepts on chain.
 */
import { AbiCoder, keccak256 as ethersKeccak } from 'ethers';
import { describe, expect, it } from 'vitest';
import { bytesToHex, concatBytes, type Hex, hexToBytes } from '../../proofs/bytes.js';
import { ProofError } from '../../proofs/errors.js';
import { keccak256 } from '../../proofs/keccak.js';
import {
  buildDisclosureTree,
  type Disclosure,
  type DisclosureTree,
  disclose,
  disclosureLeaf,
  disclosureSize,
  verifyDisclosure,
} from '../../proofs/records/disclosure.js';
import { bundleOfSize, condition, ICD10, LOINC, makeBundle } from '../helpers/fhir-fixtures.js';
import { rng } from '../helpers/random.js';

// ---- OpenZeppelin MerkleProof.sol, ported literally (reference only) ----------------------------------
const ozHashPair = (a: Uint8Array, b: Uint8Array): Uint8Array =>
  keccak256(Buffer.compare(Buffer.from(a), Buffer.from(b)) < 0 ? concatBytes(a, b) : concatBytes(b, a));

function ozProcessMultiProof(proof: Uint8Array[], flags: boolean[], leaves: Uint8Array[]): Uint8Array {
  const leavesLen = leaves.length;
  const proofFlagsLen = flags.length;
  if (leavesLen + proof.length !== proofFlagsLen + 1) throw new Error('MerkleProofInvalidMultiproof');
  const hashes: Uint8Array[] = new Array(proofFlagsLen).fill(new Uint8Array(32));
  let leafPos = 0;
  let hashPos = 0;
  let proofPos = 0;
  for (let i = 0; i < proofFlagsLen; i++) {
    const a = leafPos < leavesLen ? leaves[leafPos++]! : hashes[hashPos++]!;
    const b = flags[i] ? (leafPos < leavesLen ? leaves[leafPos++]! : hashes[hashPos++]!) : proof[proofPos++]!;
    hashes[i] = ozHashPair(a, b);
  }
  if (proofFlagsLen > 0) {
    if (proofPos !== proof.length) throw new Error('MerkleProofInvalidMultiproof');
    return hashes[proofFlagsLen - 1]!;
  }
  if (leavesLen > 0) return leaves[0]!;
  return proof[0]!;
}

function ozMultiProofVerify(d: Disclosure, root: Hex): boolean {
  const leaves = d.elements.map((e) => hexToBytes(disclosureLeaf(e.salt, e.path, e.value)));
  return (
    bytesToHex(
      ozProcessMultiProof(
        d.proof.map((p) => hexToBytes(p)),
        d.proofFlags,
        leaves,
      ),
    ) === root
  );
}
// ---------------------------------------------------------------------------------------------------------

function expectError(fn: () => unknown, ...codes: string[]): ProofError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ProofError);
    expect(codes).toContain((err as ProofError).code);
    return err as ProofError;
  }
  throw new Error(`expected one of ${codes.join(', ')}`);
}

/** Deterministic salts so failures reproduce. */
function saltSource(seed: number): () => Uint8Array {
  const r = rng(seed);
  return () => r.bytes(16);
}

function pick<T>(xs: readonly T[], k: number, seed: number): T[] {
  const r = rng(seed);
  const copy = [...xs];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = r.int(i + 1);
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy.slice(0, k);
}

const clone = (d: Disclosure): Disclosure => structuredClone(d);

describe('disclosureLeaf', () => {
  it('default: keccak256(abi.encode(bytes16 salt, string path, string value)) as ethers encodes it', () => {
    const r = rng(16);
    const cases: [string, string][] = [
      ['Condition.code.coding[0].code', '"I10"'],
      ['Observation.valueQuantity.value', '5.4'],
      ['Patient.name[0].family', '"Müller"'],
      [`Patient.${'x'.repeat(70)}`, `"${'€'.repeat(40)}"`], // multi-word strings, multi-byte UTF-8
      ['Patient.active', 'true'],
    ];
    for (const [path, value] of cases) {
      const salt = r.bytes(16);
      const want = ethersKeccak(
        AbiCoder.defaultAbiCoder().encode(['bytes16', 'string', 'string'], [salt, path, value]),
      );
      expect(disclosureLeaf(salt, path, value)).toBe(want);
    }
  });
  it('error: salt must be 16 bytes', () => {
    expectError(() => disclosureLeaf(new Uint8Array(15), 'Patient.id', '"x"'), 'MR_ERR_DISCLOSURE_SALT');
    expectError(() => disclosureLeaf(`0x${'00'.repeat(17)}`, 'Patient.id', '"x"'), 'MR_ERR_DISCLOSURE_SALT');
  });
});

describe('buildDisclosureTree / disclose / verifyDisclosure', () => {
  const bundle = makeBundle({ observations: 12 });
  const tree = buildDisclosureTree(bundle, { randomSalt: saltSource(1) });
  const paths = tree.elements.map((e) => e.path);

  it('default: the root is the OpenZeppelin tree root of the sorted leaves', () => {
    // Rebuild level by level the way StandardMerkleTree lays it out (independent indexing).
    const leaves = tree.elements
      .map((e) => hexToBytes(e.leaf))
      .sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    const nodes: Uint8Array[] = new Array(2 * leaves.length - 1);
    leaves.forEach((l, k) => {
      nodes[nodes.length - 1 - k] = l;
    });
    for (let i = leaves.length - 2; i >= 0; i--) nodes[i] = ozHashPair(nodes[2 * i + 1]!, nodes[2 * i + 2]!);
    expect(tree.root).toBe(bytesToHex(nodes[0]!));
    for (const e of tree.elements) expect(e.leaf).toBe(disclosureLeaf(e.salt, e.path, e.value));
    expect(new Set(tree.elements.map((e) => e.salt)).size).toBe(tree.elements.length);
  });

  for (const k of [1, 5, 20]) {
    it(`default: round-trip of ${k} element(s) from a realistic Bundle, accepted by the OZ reference`, () => {
      for (let seed = 0; seed < 5; seed++) {
        const chosen = pick(paths, k, 100 * k + seed);
        const d = disclose(tree, chosen, { recordId: `0x${'ab'.repeat(32)}` });
        const out = verifyDisclosure(tree.root, d, { recordId: `0x${'ab'.repeat(32)}` });
        expect(out.map((e) => e.path).sort()).toEqual([...chosen].sort());
        const byPath = new Map(tree.elements.map((e) => [e.path, e.value]));
        for (const e of out) expect(e.value).toBe(byPath.get(e.path));
        expect(ozMultiProofVerify(d, tree.root)).toBe(true);
        expect(d.elements.length + d.proof.length).toBe(d.proofFlags.length + 1);
      }
    });
  }

  it('behavior: the condition code with its system verifies (code check passes)', () => {
    const d = disclose(tree, [
      'Bundle.entry[2].resource.Condition.code.coding[0].code',
      'Bundle.entry[2].resource.Condition.code.coding[0].system',
      'Bundle.entry[2].resource.Condition.code.coding[1].code',
      'Bundle.entry[2].resource.Condition.code.coding[1].system',
      'Bundle.entry[7].resource.Observation.code.coding[0].code',
      'Bundle.entry[7].resource.Observation.code.coding[0].system',
    ]);
    const out = verifyDisclosure(tree.root, d);
    expect(out.find((e) => e.path.endsWith('Condition.code.coding[0].code'))?.value).toBe('"I10"');
  });

  it('behavior: a single disclosed leaf is an ordinary OZ proof (all flags false)', () => {
    const d = disclose(tree, [paths[3]!]);
    expect(d.proofFlags.every((f) => !f)).toBe(true);
    let h = hexToBytes(disclosureLeaf(d.elements[0]!.salt, d.elements[0]!.path, d.elements[0]!.value));
    for (const p of d.proof) h = ozHashPair(h, hexToBytes(p));
    expect(bytesToHex(h)).toBe(tree.root);
  });

  it('behavior: every subset of small trees (1..7 leaves) round-trips', () => {
    for (let n = 1; n <= 7; n++) {
      const given = Array.from({ length: n - 1 }, (_, i) => `G${i}`);
      const r = n === 1 ? { resourceType: 'Patient' } : { resourceType: 'Patient', name: [{ given }] };
      const t = buildDisclosureTree(r, { randomSalt: saltSource(n) });
      expect(t.elements.length).toBe(n);
      if (n === 1) expect(t.root).toBe(t.elements[0]!.leaf); // a one-leaf tree's root is the leaf
      const ps = t.elements.map((e) => e.path);
      for (let mask = 1; mask < 1 << n; mask++) {
        const chosen = ps.filter((_, i) => mask & (1 << i));
        const d = disclose(t, chosen);
        expect(verifyDisclosure(t.root, d).length, `n=${n} mask=${mask}`).toBe(chosen.length);
        expect(ozMultiProofVerify(d, t.root)).toBe(true);
      }
    }
  });

  it('behavior: a 50 KB Bundle discloses 20 elements; fresh salts give a fresh root', () => {
    const big = bundleOfSize(50_000);
    const t = buildDisclosureTree(big);
    expect(t.elements.length).toBeGreaterThan(1000);
    const d = disclose(
      t,
      pick(
        t.elements.map((e) => e.path),
        20,
        9,
      ),
    );
    expect(verifyDisclosure(t.root, d)).toHaveLength(20);
    expect(buildDisclosureTree(big).root).not.toBe(t.root);
  });

  it('behavior: disclosureSize is the ABI calldata size', () => {
    for (const k of [1, 5, 20]) {
      const d = disclose(tree, pick(paths, k, k));
      const args = AbiCoder.defaultAbiCoder().encode(
        ['bytes32', 'bytes32', 'tuple(bytes16,string,string)[]', 'bytes32[]', 'bool[]'],
        [
          `0x${'00'.repeat(32)}`,
          d.root,
          d.elements.map((e) => [e.salt, e.path, e.value]),
          d.proof,
          d.proofFlags,
        ],
      );
      expect(disclosureSize(d)).toBe(4 + (args.length - 2) / 2);
    }
  });

  describe('forgeries are rejected', () => {
    const chosen = pick(paths, 5, 77);
    const good = disclose(tree, chosen);

    it('error: wrong salt, path or value', () => {
      const a = clone(good);
      a.elements[0]!.salt = bytesToHex(hexToBytes(a.elements[0]!.salt).map((b, i) => (i === 15 ? b ^ 1 : b)));
      expectError(
        () => verifyDisclosure(tree.root, a),
        'MR_ERR_DISCLOSURE_ROOT_MISMATCH',
        'MR_ERR_DISCLOSURE_ORDER',
      );
      const b = clone(good);
      // Another element's (valid, existing) path with this element's salt and value.
      b.elements[1]!.path = paths.find((p) => !chosen.includes(p))!;
      expectError(
        () => verifyDisclosure(tree.root, b),
        'MR_ERR_DISCLOSURE_ROOT_MISMATCH',
        'MR_ERR_DISCLOSURE_ORDER',
      );
      const c = clone(good);
      c.elements[2]!.value = c.elements[2]!.value === '"final"' ? '"amended"' : '"final"';
      expectError(
        () => verifyDisclosure(tree.root, c),
        'MR_ERR_DISCLOSURE_ROOT_MISMATCH',
        'MR_ERR_DISCLOSURE_ORDER',
      );
    });

    it('error: the I10 code replaced by another valid code', () => {
      const d = disclose(tree, ['Bundle.entry[2].resource.Condition.code.coding[0].code']);
      d.elements[0]!.value = '"E11.9"';
      expectError(() => verifyDisclosure(tree.root, d), 'MR_ERR_DISCLOSURE_ROOT_MISMATCH');
    });

    it('error: swapped elements (commutative hashing would accept sibling swaps)', () => {
      for (let i = 0; i + 1 < good.elements.length; i++) {
        const s = clone(good);
        [s.elements[i], s.elements[i + 1]] = [s.elements[i + 1]!, s.elements[i]!];
        expectError(() => verifyDisclosure(tree.root, s), 'MR_ERR_DISCLOSURE_ORDER');
      }
      // Find a sibling pair that the naive OZ reference does accept swapped — our verifier still refuses it.
      const t = buildDisclosureTree({ resourceType: 'Patient', id: 'p' }, { randomSalt: saltSource(3) });
      const d = disclose(
        t,
        t.elements.map((e) => e.path),
      );
      const swapped = clone(d);
      swapped.elements.reverse();
      expect(ozMultiProofVerify(swapped, t.root)).toBe(true);
      expectError(() => verifyDisclosure(t.root, swapped), 'MR_ERR_DISCLOSURE_ORDER');
    });

    it('error: every flipped proof item and every flipped flag', () => {
      for (let i = 0; i < good.proof.length; i++) {
        const f = clone(good);
        f.proof[i] = bytesToHex(hexToBytes(f.proof[i]!).map((b, j) => (j === 31 ? b ^ 0x80 : b)));
        expectError(() => verifyDisclosure(tree.root, f), 'MR_ERR_DISCLOSURE_ROOT_MISMATCH');
      }
      for (let i = 0; i < good.proofFlags.length; i++) {
        const f = clone(good);
        f.proofFlags[i] = !f.proofFlags[i];
        expectError(
          () => verifyDisclosure(tree.root, f),
          'MR_ERR_DISCLOSURE_PROOF',
          'MR_ERR_DISCLOSURE_ROOT_MISMATCH',
        );
      }
    });

    it('error: leaf omitted, proof item missing or extra, flag missing or extra', () => {
      for (let i = 0; i < good.elements.length; i++) {
        const f = clone(good);
        f.elements.splice(i, 1);
        expectError(() => verifyDisclosure(tree.root, f), 'MR_ERR_DISCLOSURE_PROOF');
      }
      const m = clone(good);
      m.proof.pop();
      expectError(() => verifyDisclosure(tree.root, m), 'MR_ERR_DISCLOSURE_PROOF');
      const x = clone(good);
      x.proof.push(good.proof[0]!);
      expectError(() => verifyDisclosure(tree.root, x), 'MR_ERR_DISCLOSURE_PROOF');
      const fl = clone(good);
      fl.proofFlags.push(false);
      expectError(() => verifyDisclosure(tree.root, fl), 'MR_ERR_DISCLOSURE_PROOF');
      // Extra flag and extra proof item together keep the length equation; the proof still fails.
      const both = clone(good);
      both.proofFlags.push(false);
      both.proof.push(good.proof[0]!);
      expectError(
        () => verifyDisclosure(tree.root, both),
        'MR_ERR_DISCLOSURE_PROOF',
        'MR_ERR_DISCLOSURE_ROOT_MISMATCH',
      );
    });

    it('error: a leaf replaced by its proof sibling (omitted leaf with the hash supplied instead)', () => {
      const d = disclose(tree, chosen.slice(0, 2));
      const f = clone(d);
      f.elements.pop();
      f.proof.push(d.proof[0]!);
      expectError(
        () => verifyDisclosure(tree.root, f),
        'MR_ERR_DISCLOSURE_PROOF',
        'MR_ERR_DISCLOSURE_ROOT_MISMATCH',
      );
    });

    it('error: duplicated element', () => {
      const f = clone(good);
      f.elements.splice(1, 0, { ...f.elements[0]! });
      f.proofFlags.push(true);
      expectError(() => verifyDisclosure(tree.root, f), 'MR_ERR_DISCLOSURE_DUPLICATE');
    });

    it('error: salt shorter than 16 bytes, longer, or not hex', () => {
      for (const salt of [
        `0x${'11'.repeat(15)}`,
        `0x${'11'.repeat(8)}`,
        '0x',
        `0x${'11'.repeat(17)}`,
        '11'.repeat(16),
        `0x${'1'.repeat(31)}`,
      ]) {
        const f = clone(good);
        f.elements[0]!.salt = salt as Hex;
        expectError(() => verifyDisclosure(tree.root, f), 'MR_ERR_DISCLOSURE_SALT');
      }
    });

    it('error: non-canonical paths and values', () => {
      const real = good.elements[0]!.path;
      const variants = [
        real.replace(/\[(\d+)\]/, '[0$1]'),
        ` ${real}`,
        real.toLowerCase(),
        real.replace(/\./, '..'),
        'Foo.bar',
      ];
      for (const p of variants) {
        const f = clone(good);
        f.elements[0]!.path = p;
        expectError(() => verifyDisclosure(tree.root, f), 'MR_ERR_DISCLOSURE_PATH');
      }
      for (const v of [
        '5.40',
        '"I10" ',
        '{"a":1}',
        '[1]',
        'I10',
        '"\\u0049\\u0031\\u0030"',
        '1E2',
        'NaN',
        '',
      ]) {
        const f = clone(good);
        f.elements[0]!.value = v;
        expectError(() => verifyDisclosure(tree.root, f), 'MR_ERR_DISCLOSURE_VALUE');
      }
    });

    it('error: other root, other record, empty, malformed', () => {
      const other = buildDisclosureTree(bundle, { randomSalt: saltSource(2) }).root;
      expectError(() => verifyDisclosure(other, good), 'MR_ERR_DISCLOSURE_ROOT_MISMATCH');
      expectError(
        () => verifyDisclosure(other, { ...clone(good), root: other }),
        'MR_ERR_DISCLOSURE_ROOT_MISMATCH',
      );
      const withId = disclose(tree, chosen, { recordId: `0x${'01'.repeat(32)}` });
      expectError(
        () => verifyDisclosure(tree.root, withId, { recordId: `0x${'02'.repeat(32)}` }),
        'MR_ERR_DISCLOSURE_RECORD_MISMATCH',
      );
      expectError(
        () => verifyDisclosure(tree.root, good, { recordId: `0x${'02'.repeat(32)}` }),
        'MR_ERR_DISCLOSURE_RECORD_MISMATCH',
      );
      expectError(
        () => verifyDisclosure(tree.root, { ...clone(good), elements: [] }),
        'MR_ERR_DISCLOSURE_EMPTY',
      );
      expectError(
        () =>
          verifyDisclosure(tree.root, {
            ...clone(good),
            proofFlags: ['true' as unknown as boolean, ...good.proofFlags.slice(1)],
          }),
        'MR_ERR_DISCLOSURE_PROOF',
      );
      expectError(
        () => verifyDisclosure(tree.root, { ...clone(good), proof: ['0x12'] }),
        'MR_ERR_DISCLOSURE_PROOF',
      );
      expectError(() => verifyDisclosure('0x12', good), 'MR_ERR_DISCLOSURE_INPUT');
      expectError(
        () => verifyDisclosure(tree.root, null as unknown as Disclosure),
        'MR_ERR_DISCLOSURE_INPUT',
      );
      expectError(
        () =>
          verifyDisclosure(tree.root, { ...clone(good), codeMap: { id: '', version: '1', hash: tree.root } }),
        'MR_ERR_DISCLOSURE_INPUT',
      );
    });
  });

  describe('code-system checks on disclosed codings', () => {
    const withCode = (system: string, code: string) => ({
      resourceType: 'Bundle',
      type: 'collection',
      entry: [
        {
          resource: {
            ...condition('c1', { code: 'I10', display: 'x' }),
            code: { coding: [{ system, code }] },
          },
        },
      ],
    });
    const codePaths = [
      'Bundle.entry[0].resource.Condition.code.coding[0].code',
      'Bundle.entry[0].resource.Condition.code.coding[0].system',
    ];

    it('error: malformed ICD-10 / LOINC codes are refused when code and system are both disclosed', () => {
      for (const [system, code] of [
        [ICD10, 'I1O'],
        [LOINC, '4548-5'],
      ] as const) {
        const t = buildDisclosureTree(withCode(system, code));
        const err = expectError(() => verifyDisclosure(t.root, disclose(t, codePaths)), 'MR_ERR_CODE_FORMAT');
        expect(err.message).toContain(system);
        expect(err.message).toContain(code);
        // Code alone (system undisclosed): nothing to check against.
        expect(verifyDisclosure(t.root, disclose(t, [codePaths[0]!]))).toHaveLength(1);
        expect(verifyDisclosure(t.root, disclose(t, codePaths), { checkCodes: false })).toHaveLength(2);
      }
    });

    it('behavior: unknown systems pass unless strictCodeSystems', () => {
      const t = buildDisclosureTree(withCode('http://www.nlm.nih.gov/research/umls/rxnorm', '860975'));
      expect(verifyDisclosure(t.root, disclose(t, codePaths))).toHaveLength(2);
      expectError(
        () => verifyDisclosure(t.root, disclose(t, codePaths), { strictCodeSystems: true }),
        'MR_ERR_CODE_SYSTEM_UNKNOWN',
      );
    });
  });

  describe('building and disclosing errors', () => {
    it('error: bad salt source', () => {
      expectError(
        () => buildDisclosureTree(bundle, { randomSalt: () => new Uint8Array(15) }),
        'MR_ERR_DISCLOSURE_SALT',
      );
      expectError(
        () => buildDisclosureTree(bundle, { randomSalt: () => new Uint8Array(16) }),
        'MR_ERR_DISCLOSURE_SALT',
      );
    });
    it('error: invalid FHIR', () => {
      expectError(() => buildDisclosureTree({ resourceType: 'Nope' }), 'MR_ERR_FHIR_INVALID');
    });
    it('error: unknown, duplicate or no paths; tampered tree', () => {
      expectError(() => disclose(tree, ['Patient.id']), 'MR_ERR_DISCLOSURE_PATH');
      expectError(() => disclose(tree, [paths[0]!, paths[0]!]), 'MR_ERR_DISCLOSURE_DUPLICATE');
      expectError(() => disclose(tree, []), 'MR_ERR_DISCLOSURE_EMPTY');
      const tampered: DisclosureTree = structuredClone(tree);
      tampered.elements[0]!.value = '"changed"';
      expectError(() => disclose(tampered, [paths[1]!]), 'MR_ERR_DISCLOSURE_ROOT_MISMATCH');
      const truncated: DisclosureTree = { ...structuredClone(tree), elements: tree.elements.slice(1) };
      expectError(() => disclose(truncated, [paths[1]!]), 'MR_ERR_DISCLOSURE_ROOT_MISMATCH');
    });
  });
});
