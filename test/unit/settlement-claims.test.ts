/**
 * Claim coverage compiled for ClaimSettlement (proofs/settlement/claims.ts): coding keys against ethers' AbiCoder,
 * policies with and without the seed ConceptMap, and — the property that matters — a diagnosis is payable on chain
 * (its key is covered and not excluded) exactly when policy.ts's `adjudicate` lets it through the coverage gates.
 */
import { AbiCoder, keccak256, toUtf8Bytes } from 'ethers';
import { describe, expect, it } from 'vitest';
import { ProofError } from '../../proofs/errors.js';
import { type Coding, type ConceptMap, SEED_CODE_MAP } from '../../proofs/records/conceptmap.js';
import {
  type CompiledPolicy,
  codingKey,
  compilePolicy,
  decisionCode,
  decisionFromCode,
  maskFromReasons,
  REASON_MASK_ALL,
  reasonsFromMask,
  systemHash,
} from '../../proofs/settlement/claims.js';
import type { Money } from '../../proofs/settlement/money.js';
import {
  adjudicate,
  emptyPolicyYearState,
  type Policy,
  REASON_CODES,
} from '../../proofs/settlement/policy.js';

const ICD10 = 'http://hl7.org/fhir/sid/icd-10';
const SCT = 'http://snomed.info/sct';
const LOINC = 'http://loinc.org';
const icd = (code: string): Coding => ({ system: ICD10, code });
const sct = (code: string): Coding => ({ system: SCT, code });
const hkd = (minor: bigint): Money => ({ currency: 'HKD', minor });
const INSURED = `0x${'ab'.repeat(32)}` as const;

function expectError(fn: () => unknown, code: string, field?: string): ProofError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ProofError);
    expect((err as ProofError).code).toBe(code);
    if (field) expect((err as ProofError).details.field).toBe(field);
    return err as ProofError;
  }
  throw new Error(`expected ${code}`);
}

function policy(over: Partial<Policy> = {}): Policy {
  return {
    policyId: 'POL-HK-0001',
    currency: 'HKD',
    coveredCodes: [icd('I10')],
    perClaimLimit: hkd(1_000_000n),
    deductible: hkd(5_000n),
    coPayBasisPoints: 2000,
    annualCap: hkd(10_000_000n),
    validFrom: 1_735_689_600,
    validUntil: 1_767_225_600,
    ...over,
  };
}

const ref = (system: string, code: string): `0x${string}` =>
  keccak256(AbiCoder.defaultAbiCoder().encode(['string', 'string'], [system, code])) as `0x${string}`;
const key = (c: Coding) => codingKey(c.system, c.code);

describe('codingKey / systemHash', () => {
  it('default: keccak256(abi.encode(string, string)) as ethers computes it', () => {
    const cases: [string, string][] = [
      [ICD10, 'I10'],
      [SCT, '59621000'],
      ['a', 'b'],
      ['x'.repeat(31), 'y'.repeat(32)],
      ['x'.repeat(32), 'y'.repeat(33)],
      ['x'.repeat(64), 'y'.repeat(95)],
      ['urn:oid:1.2.3', 'é漢字🙂'],
    ];
    for (const [s, c] of cases) expect(codingKey(s, c)).toBe(ref(s, c));
    // the order of the two strings matters
    expect(codingKey('a', 'b')).not.toBe(codingKey('b', 'a'));
  });

  it('default: systemHash is keccak256 of the UTF-8 bytes', () => {
    expect(systemHash(SCT)).toBe(keccak256(toUtf8Bytes(SCT)));
  });

  it('error: empty or non-string parts', () => {
    expectError(() => codingKey('', 'I10'), 'MR_ERR_CLAIM_INVALID', 'system');
    expectError(() => codingKey(ICD10, ''), 'MR_ERR_CLAIM_INVALID', 'code');
    expectError(() => codingKey(ICD10, 5 as never), 'MR_ERR_CLAIM_INVALID', 'code');
    expectError(() => systemHash(undefined as never), 'MR_ERR_CLAIM_INVALID', 'system');
  });
});

describe('compilePolicy', () => {
  it('default: terms as the ClaimAdjudication Policy struct, without a map only the listed codes', () => {
    const c = compilePolicy(
      policy({ excludedCodes: [icd('E11.9')] }),
      INSURED.toUpperCase().replace('0X', '0x') as never,
    );
    expect(c.policyId).toBe(keccak256(toUtf8Bytes('POL-HK-0001')));
    expect(c.policy).toEqual({
      insured: INSURED,
      currency: 344,
      validFrom: 1_735_689_600n,
      validUntil: 1_767_225_600n,
      perClaimLimit: 1_000_000n,
      deductible: 5_000n,
      annualCap: 10_000_000n,
      coPayBasisPoints: 2000,
    });
    expect(Object.keys(c.policy)).toEqual([
      'insured',
      'currency',
      'validFrom',
      'validUntil',
      'perClaimLimit',
      'deductible',
      'annualCap',
      'coPayBasisPoints',
    ]);
    expect(c.covered).toEqual([ref(ICD10, 'I10')]);
    expect(c.excluded).toEqual([ref(ICD10, 'E11.9')]);
    expect(c.systems).toEqual([systemHash(ICD10)]);
  });

  it('behavior: the seed map adds same-or-narrower codings of other systems, and every system one group away', () => {
    const c = compilePolicy(policy(), INSURED, SEED_CODE_MAP);
    // I10 ≡ 59621000; 38341003 (hypertensive disorder) is wider than I10, so it does not satisfy it.
    expect(c.covered).toEqual([key(icd('I10')), key(sct('59621000'))].sort());
    expect(c.excluded).toEqual([]);
    expect(c.systems).toEqual([systemHash(ICD10), systemHash(SCT)].sort());

    const wide = compilePolicy(policy({ coveredCodes: [sct('38341003')] }), INSURED, SEED_CODE_MAP);
    expect(wide.covered).toEqual([key(sct('38341003')), key(icd('I10'))].sort());

    const diabetes = compilePolicy(policy({ coveredCodes: [sct('44054006')] }), INSURED, SEED_CODE_MAP);
    expect(diabetes.covered).toEqual([key(sct('44054006')), key(icd('E11.9'))].sort());
    // E11.9 required: the broader 44054006 does not satisfy it
    const e119 = compilePolicy(policy({ coveredCodes: [icd('E11.9')] }), INSURED, SEED_CODE_MAP);
    expect(e119.covered).toEqual([key(icd('E11.9'))]);
  });

  it('behavior: exclusions win (a key in both lists is excluded only) and lists are sorted and unique', () => {
    const c = compilePolicy(
      policy({ coveredCodes: [icd('I10'), icd('E11.9'), icd('I10')], excludedCodes: [sct('59621000')] }),
      INSURED,
      SEED_CODE_MAP,
    );
    expect(c.excluded).toEqual([key(sct('59621000')), key(icd('I10'))].sort());
    expect(c.covered).toEqual([key(icd('E11.9'))]);
    for (const list of [c.covered, c.excluded, c.systems]) expect([...new Set(list)].sort()).toEqual(list);
  });

  it('behavior: payable on chain exactly when policy.ts passes the coverage gates', () => {
    const candidates = [
      icd('I10'),
      icd('E11.9'),
      icd('J45'),
      sct('59621000'),
      sct('38341003'),
      sct('44054006'),
      sct('73211009'),
      { system: LOINC, code: '4548-4' },
    ];
    const policies: Policy[] = [
      policy(),
      policy({ coveredCodes: [sct('38341003')] }),
      policy({ coveredCodes: [icd('I10'), sct('44054006')], excludedCodes: [sct('59621000')] }),
      policy({ coveredCodes: [icd('E11.9'), icd('I10')], excludedCodes: [icd('I10')] }),
    ];
    const coverage = (c: CompiledPolicy, d: Coding) => {
      // ClaimSettlement._coverage
      const k = key(d);
      if (c.excluded.includes(k)) return 'excluded';
      if (c.covered.includes(k)) return 'covered';
      return c.systems.includes(systemHash(d.system)) ? 'not-covered' : 'unmapped';
    };
    for (const map of [SEED_CODE_MAP, undefined] as (ConceptMap | undefined)[]) {
      for (const p of policies) {
        const compiled = compilePolicy(p, INSURED, map);
        for (const d of candidates) {
          const r = adjudicate(
            p,
            {
              claimId: `0x${'01'.repeat(32)}`,
              policyId: p.policyId,
              patient: INSURED,
              diagnosis: d,
              items: [{ code: 'CONSULT', amount: hkd(100_000n) }],
              serviceDate: 1_749_000_000,
            },
            emptyPolicyYearState('HKD'),
            { now: 1_750_000_000, ...(map ? { codeMap: map } : {}) },
          );
          const gate = r.reasons.find((x) =>
            ['CODE_UNMAPPED', 'NOT_COVERED', 'EXCLUDED'].includes(x.code),
          )?.code;
          const onChain = coverage(compiled, d);
          const what = `${d.system}|${d.code} under ${JSON.stringify(p.coveredCodes)} − ${JSON.stringify(p.excludedCodes ?? [])} (${map ? 'map' : 'no map'})`;
          expect(onChain === 'covered', what).toBe(gate === undefined);
          if (gate === 'EXCLUDED') expect(onChain, what).toBe('excluded');
          if (onChain === 'unmapped') expect(gate, what).toBe('CODE_UNMAPPED');
        }
      }
    }
  });

  it('error: malformed policy fields, insured, or nothing left to cover', () => {
    expectError(
      () => compilePolicy(policy({ policyId: '' }), INSURED),
      'MR_ERR_CLAIM_INVALID',
      'policy.policyId',
    );
    expectError(
      () => compilePolicy(policy({ currency: 'USD' as never }), INSURED),
      'MR_ERR_CLAIM_INVALID',
      'policy.currency',
    );
    expectError(
      () => compilePolicy(policy({ coveredCodes: [] }), INSURED),
      'MR_ERR_CLAIM_INVALID',
      'policy.coveredCodes',
    );
    expectError(
      () => compilePolicy(policy({ coveredCodes: [icd('not a code')] }), INSURED),
      'MR_ERR_CLAIM_INVALID',
      'policy.coveredCodes[0].code',
    );
    expectError(
      () => compilePolicy(policy({ perClaimLimit: { currency: 'CNY', minor: 1n } }), INSURED),
      'MR_ERR_CLAIM_INVALID',
      'policy.perClaimLimit.currency',
    );
    expectError(
      () => compilePolicy(policy({ deductible: { currency: 'HKD', minor: 1 as never } }), INSURED),
      'MR_ERR_CLAIM_INVALID',
      'policy.deductible.minor',
    );
    expectError(
      () => compilePolicy(policy({ coPayBasisPoints: 10_001 }), INSURED),
      'MR_ERR_CLAIM_INVALID',
      'policy.coPayBasisPoints',
    );
    expectError(
      () => compilePolicy(policy({ validUntil: 1_735_689_600 }), INSURED),
      'MR_ERR_CLAIM_INVALID',
      'policy.validUntil',
    );
    expectError(
      () => compilePolicy(policy({ validFrom: 1.5 }), INSURED),
      'MR_ERR_CLAIM_INVALID',
      'policy.validFrom',
    );
    for (const insured of [`0x${'00'.repeat(32)}`, '0x1234', 'ab'.repeat(32)])
      expectError(() => compilePolicy(policy(), insured as never), 'MR_ERR_CLAIM_INVALID', 'insured');
    expectError(
      () => compilePolicy(policy({ excludedCodes: [sct('59621000')] }), INSURED, SEED_CODE_MAP),
      'MR_ERR_CLAIM_INVALID',
      'policy.coveredCodes',
    );
    expectError(
      () => compilePolicy(policy(), INSURED, { resourceType: 'ConceptMap' } as never),
      'MR_ERR_CODEMAP_INVALID',
    );
  });
});

describe('reason masks and decisions', () => {
  it('default: bit i is REASON_CODES[i]; every mask round-trips', () => {
    expect(REASON_MASK_ALL).toBe(0x1fff);
    expect(reasonsFromMask(0)).toEqual([]);
    expect(reasonsFromMask(1 << 6)).toEqual(['NOT_COVERED']);
    expect(reasonsFromMask(0b110_0000_0000n)).toEqual(['DEDUCTIBLE_APPLIED', 'COPAY_APPLIED']);
    for (let m = 0; m <= REASON_MASK_ALL; m++) expect(maskFromReasons(reasonsFromMask(m))).toBe(m);
    for (const [i, r] of REASON_CODES.entries()) expect(maskFromReasons([r, r])).toBe(1 << i);
  });

  it('default: decisions 1 / 2 / 3', () => {
    expect([1, 2, 3, 2n].map((c) => decisionFromCode(c))).toEqual([
      'approved',
      'partial',
      'rejected',
      'partial',
    ]);
    for (const d of ['approved', 'partial', 'rejected'] as const)
      expect(decisionFromCode(decisionCode(d))).toBe(d);
  });

  it('error: bits without a reason, out-of-range masks, unknown reasons and decisions', () => {
    for (const m of [1 << 13, 0x8000, -1, 0x10000, 1.5, 2n ** 16n, '3' as never])
      expectError(() => reasonsFromMask(m), 'MR_ERR_CLAIM_REASONS', 'mask');
    expectError(
      () => maskFromReasons(['NOT_COVERED', 'LATE' as never]),
      'MR_ERR_CLAIM_REASONS',
      'reasons[1]',
    );
    expectError(() => maskFromReasons('NOT_COVERED' as never), 'MR_ERR_CLAIM_REASONS', 'reasons');
    for (const c of [0, 4, 1.5, -1n])
      expectError(() => decisionFromCode(c), 'MR_ERR_CLAIM_DECISION', 'decision');
    expectError(() => decisionCode('maybe' as never), 'MR_ERR_CLAIM_DECISION', 'decision');
  });
});
