import { sha256 } from '@noble/hashes/sha2.js';
import { describe, expect, it } from 'vitest';
import { bytesToHex } from '../../proofs/bytes.js';
import { ProofError } from '../../proofs/errors.js';
import {
  type ConceptMap,
  codeMapHash,
  codeMapRef,
  codesMatch,
  parseConceptMap,
  SEED_CODE_MAP,
  translate,
} from '../../proofs/records/conceptmap.js';
import { canonicalize } from '../../proofs/records/jcs.js';

const ICD10 = 'http://hl7.org/fhir/sid/icd-10';
const SCT = 'http://snomed.info/sct';
const LOINC = 'http://loinc.org';
const icd = (code: string) => ({ system: ICD10, code });
const sct = (code: string) => ({ system: SCT, code });

function expectError(fn: () => unknown, code: string, path?: string): ProofError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ProofError);
    expect((err as ProofError).code).toBe(code);
    if (path) {
      expect((err as ProofError).details.path).toBe(path);
      expect((err as ProofError).message).toContain(path);
    }
    return err as ProofError;
  }
  throw new Error(`expected ${code}`);
}

const mutable = (): ConceptMap => structuredClone(SEED_CODE_MAP) as ConceptMap;

describe('ConceptMap', () => {
  it('default: the seed map is valid, frozen, and hashed as sha256(jcs)', () => {
    expect(parseConceptMap(SEED_CODE_MAP)).toBe(SEED_CODE_MAP);
    expect(Object.isFrozen(SEED_CODE_MAP.group[0]!.element[0]!.target)).toBe(true);
    const h = codeMapHash(SEED_CODE_MAP);
    expect(h).toBe(bytesToHex(sha256(new TextEncoder().encode(canonicalize(SEED_CODE_MAP)))));
    expect(codeMapRef(SEED_CODE_MAP)).toEqual({ id: SEED_CODE_MAP.url, version: '1.0.0', hash: h });
    const v2 = mutable();
    v2.version = '1.0.1';
    expect(codeMapHash(v2)).not.toBe(h);
    // Key order does not matter, content does.
    const reordered = JSON.parse(
      JSON.stringify(Object.fromEntries(Object.entries(SEED_CODE_MAP).reverse())),
    ) as ConceptMap;
    expect(codeMapHash(reordered)).toBe(h);
  });

  it('default: translate follows the map direction', () => {
    expect(translate(SEED_CODE_MAP, icd('I10'), SCT)).toEqual([
      { code: '59621000', equivalence: 'equivalent' },
      { code: '38341003', equivalence: 'wider' },
    ]);
    expect(translate(SEED_CODE_MAP, icd('E11.9'), SCT)).toEqual([{ code: '44054006', equivalence: 'wider' }]);
    expect(translate(SEED_CODE_MAP, sct('59621000'), ICD10)).toEqual([
      { code: 'I10', equivalence: 'equivalent' },
    ]);
    expectError(() => translate(SEED_CODE_MAP, icd('J45'), SCT), 'MR_ERR_CODEMAP_UNMAPPED');
    expectError(() => translate(SEED_CODE_MAP, icd('I10'), LOINC), 'MR_ERR_CODEMAP_UNMAPPED');
    // "unmatched" is an answer (empty), not an absence of one.
    const m = mutable();
    m.group[0]!.element.push({ code: 'J45', target: [{ equivalence: 'unmatched' }] });
    expect(translate(m, icd('J45'), SCT)).toEqual([]);
  });

  it('behavior: codesMatch — same system, equivalent, wider, and the direction of wider', () => {
    expect(codesMatch(SEED_CODE_MAP, icd('I10'), icd('I10'))).toBe(true);
    expect(codesMatch(SEED_CODE_MAP, icd('I10'), icd('E11.9'))).toBe(false);
    expect(codesMatch(SEED_CODE_MAP, icd('I10'), sct('59621000'))).toBe(true);
    expect(codesMatch(SEED_CODE_MAP, sct('59621000'), icd('I10'))).toBe(true);
    // I10 (essential hypertension) satisfies "hypertensive disorder", not the other way round.
    expect(codesMatch(SEED_CODE_MAP, icd('I10'), sct('38341003'))).toBe(true);
    expect(codesMatch(SEED_CODE_MAP, sct('38341003'), icd('I10'))).toBe(false);
    // E11.9 is narrower than type 2 diabetes mellitus.
    expect(codesMatch(SEED_CODE_MAP, icd('E11.9'), sct('44054006'))).toBe(true);
    expect(codesMatch(SEED_CODE_MAP, sct('44054006'), icd('E11.9'))).toBe(false);
    // Mapped, but to something else: false (not a throw).
    expect(codesMatch(SEED_CODE_MAP, icd('I10'), sct('44054006'))).toBe(false);
    expect(codesMatch(SEED_CODE_MAP, icd('E11.9'), sct('59621000'))).toBe(false);
  });

  it('behavior: reverse lookups invert the relation when only one direction is mapped', () => {
    const oneWay = mutable();
    oneWay.group = [oneWay.group[0]!]; // ICD-10 → SNOMED only
    expect(codesMatch(oneWay, sct('59621000'), icd('I10'))).toBe(true); // equivalent
    expect(codesMatch(oneWay, sct('38341003'), icd('I10'))).toBe(false); // target wider ⇒ a is wider than b
    expect(codesMatch(oneWay, sct('44054006'), icd('I10'))).toBe(false); // mapped (from E11.9), not to I10
    // A narrower target read backwards means a is narrower than b: a match.
    const narrow = mutable();
    narrow.group = [
      {
        source: ICD10,
        target: SCT,
        element: [{ code: 'I10', target: [{ code: '59621000', equivalence: 'narrower', comment: 'test' }] }],
      },
    ];
    expect(codesMatch(narrow, sct('59621000'), icd('I10'))).toBe(true);
    expect(codesMatch(narrow, icd('I10'), sct('59621000'))).toBe(false);
    for (const eq of ['relatedto', 'inexact', 'disjoint', 'specializes'] as const) {
      const m = mutable();
      m.group = [
        {
          source: ICD10,
          target: SCT,
          element: [{ code: 'I10', target: [{ code: '59621000', equivalence: eq, comment: 'c' }] }],
        },
      ];
      expect(codesMatch(m, icd('I10'), sct('59621000')), eq).toBe(false);
    }
  });

  it('error: no mapping at all throws MR_ERR_CODEMAP_UNMAPPED', () => {
    const e = expectError(
      () => codesMatch(SEED_CODE_MAP, icd('J45'), sct('59621000')),
      'MR_ERR_CODEMAP_UNMAPPED',
    );
    expect(e.message).toContain('J45');
    expect(e.message).toContain(SEED_CODE_MAP.url);
    expectError(() => codesMatch(SEED_CODE_MAP, sct('195967001'), icd('I10')), 'MR_ERR_CODEMAP_UNMAPPED');
    expectError(
      () => codesMatch(SEED_CODE_MAP, icd('I10'), { system: LOINC, code: '4548-4' }),
      'MR_ERR_CODEMAP_UNMAPPED',
    );
  });

  it('error: malformed codings are input errors, not "unmapped"', () => {
    expectError(() => codesMatch(SEED_CODE_MAP, icd('I1O'), sct('59621000')), 'MR_ERR_CODE_FORMAT');
    expectError(
      () => codesMatch(SEED_CODE_MAP, { system: ICD10, code: '' }, sct('59621000')),
      'MR_ERR_CODEMAP_CODING',
    );
    expectError(() => codesMatch(SEED_CODE_MAP, null as never, sct('59621000')), 'MR_ERR_CODEMAP_CODING');
  });

  it('error: invalid maps carry the FHIR path', () => {
    const cases: [(m: ConceptMap) => void, string][] = [
      [
        (m) => {
          delete (m as Partial<ConceptMap>).version;
        },
        'ConceptMap.version',
      ],
      [
        (m) => {
          m.url = 'not a url';
        },
        'ConceptMap.url',
      ],
      [
        (m) => {
          m.status = 'final' as never;
        },
        'ConceptMap.status',
      ],
      [
        (m) => {
          delete (m as Partial<ConceptMap>).group;
        },
        'ConceptMap.group',
      ],
      [
        (m) => {
          m.group[1]!.target = '';
        },
        'ConceptMap.group[1].target',
      ],
      [
        (m) => {
          m.group[0]!.element[1]!.target[0]!.equivalence = 'same' as never;
        },
        'ConceptMap.group[0].element[1].target[0].equivalence',
      ],
      [
        (m) => {
          delete m.group[1]!.element[1]!.target[0]!.comment;
        },
        'ConceptMap.group[1].element[1].target[0].comment',
      ],
      [
        (m) => {
          m.group[0]!.element[1]!.code = 'I10';
        },
        'ConceptMap.group[0].element[1].code',
      ],
      [
        (m) => {
          m.group[0]!.element[0]!.target[1]!.code = '38341004';
        },
        'ConceptMap.group[0].element[0].target[1].code',
      ],
      [
        (m) => {
          m.group[0]!.element[0]!.target[1]!.code = '59621000';
        },
        'ConceptMap.group[0].element[0].target[1].code',
      ],
      [
        (m) => {
          m.group[1]!.element[0]!.code = '5962100';
        },
        'ConceptMap.group[1].element[0].code',
      ],
      [
        (m) => {
          m.group[0]!.element[0]!.target = [];
        },
        'ConceptMap.group[0].element[0].target',
      ],
      [
        (m) => {
          m.group[0]!.element[0]!.target[0] = { code: '59621000', equivalence: 'unmatched' };
        },
        'ConceptMap.group[0].element[0].target[0].code',
      ],
    ];
    for (const [mutate, path] of cases) {
      const m = mutable();
      mutate(m);
      expectError(() => parseConceptMap(m), 'MR_ERR_CODEMAP_INVALID', path);
      expectError(() => codesMatch(m, icd('I10'), sct('59621000')), 'MR_ERR_CODEMAP_INVALID', path);
    }
    expectError(
      () => parseConceptMap({ ...mutable(), resourceType: 'Patient' }),
      'MR_ERR_CODEMAP_INVALID',
      'resourceType',
    );
    const e = expectError(
      () => parseConceptMap({ ...mutable(), group: [{}] }),
      'MR_ERR_CODEMAP_INVALID',
      'ConceptMap.group[0]',
    );
    expect((e.cause as ProofError).code).toBe('MR_ERR_FHIR_INVALID');
    expectError(() => parseConceptMap('x'), 'MR_ERR_CODEMAP_INVALID');
  });
});
