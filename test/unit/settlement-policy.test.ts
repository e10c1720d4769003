import { describe, expect, it } from 'vitest';
import { ProofError } from '../../proofs/errors.js';
import { type Coding, type ConceptMap, SEED_CODE_MAP } from '../../proofs/records/conceptmap.js';
import type { Currency, Money } from '../../proofs/settlement/money.js';
import {
  type AdjudicateOptions,
  type Adjudication,
  adjudicate,
  type Claim,
  emptyPolicyYearState,
  type Policy,
  type PolicyYearState,
  REASON_CODES,
  type ReasonCode,
} from '../../proofs/settlement/policy.js';

const ICD10 = 'http://hl7.org/fhir/sid/icd-10';
const SCT = 'http://snomed.info/sct';
const icd = (code: string): Coding => ({ system: ICD10, code });
const sct = (code: string): Coding => ({ system: SCT, code });
const hkd = (minor: bigint): Money => ({ currency: 'HKD', minor });
const cny = (minor: bigint): Money => ({ currency: 'CNY', minor });

const FROM = 1_735_689_600; // 2025-01-01T00:00:00Z
const UNTIL = 1_767_225_600; // 2026-01-01T00:00:00Z (exclusive)
const NOW = 1_750_000_000;
const SERVICE = 1_749_000_000;

const id = (n: number): string => `0x${n.toString(16).padStart(64, '0')}`;
const PATIENT = `0x${'ab'.repeat(32)}`;

function policy(over: Partial<Policy> = {}): Policy {
  return {
    policyId: 'POL-HK-0001',
    currency: 'HKD',
    coveredCodes: [icd('I10')],
    perClaimLimit: hkd(1_000_000n),
    deductible: hkd(0n),
    coPayBasisPoints: 0,
    annualCap: hkd(10_000_000n),
    validFrom: FROM,
    validUntil: UNTIL,
    ...over,
  };
}

function claim(over: Partial<Claim> = {}): Claim {
  return {
    claimId: id(1),
    policyId: 'POL-HK-0001',
    patient: PATIENT,
    diagnosis: icd('I10'),
    items: [{ code: 'CONSULT', description: 'GP consultation', amount: hkd(100_000n) }],
    serviceDate: SERVICE,
    ...over,
  };
}

function state(over: Partial<PolicyYearState> = {}, currency: Currency = 'HKD'): PolicyYearState {
  return { ...emptyPolicyYearState(currency), ...over };
}

const opts = (over: Partial<AdjudicateOptions> = {}): AdjudicateOptions => ({
  codeMap: SEED_CODE_MAP,
  now: NOW,
  ...over,
});

const amount = (minor: bigint) => [{ code: 'SVC', amount: hkd(minor) }];

interface Case {
  name: string;
  policy?: Partial<Policy>;
  claim?: Partial<Claim>;
  state?: Partial<PolicyYearState>;
  options?: Partial<AdjudicateOptions>;
  decision: Adjudication['decision'];
  payable: bigint;
  reasons: ReasonCode[];
  /** Expected next state (minor units); defaults to "unchanged" for gate rejections. */
  next?: { deductibleUsed: bigint; paidThisYear: bigint };
}

const CASES: Case[] = [
  // Coverage through the data dictionary.
  {
    name: 'covered: I10 diagnosis, policy covers ICD-10 I10',
    decision: 'approved',
    payable: 100_000n,
    reasons: [],
    next: { deductibleUsed: 0n, paidThisYear: 100_000n },
  },
  {
    name: 'covered: SNOMED 59621000 diagnosis, policy covers ICD-10 I10 (SEED_CODE_MAP, equivalent)',
    claim: { diagnosis: sct('59621000') },
    decision: 'approved',
    payable: 100_000n,
    reasons: [],
  },
  {
    name: 'covered: ICD-10 I10 diagnosis, policy covers SNOMED 59621000',
    policy: { coveredCodes: [sct('59621000')] },
    decision: 'approved',
    payable: 100_000n,
    reasons: [],
  },
  {
    name: 'covered: I10 satisfies the wider SNOMED 38341003 (hypertensive disorder)',
    policy: { coveredCodes: [sct('38341003')] },
    decision: 'approved',
    payable: 100_000n,
    reasons: [],
  },
  {
    name: 'uncovered: ICD-10 E11.9 under an I10 / 59621000 policy',
    policy: { coveredCodes: [icd('I10'), sct('59621000')] },
    claim: { diagnosis: icd('E11.9') },
    decision: 'rejected',
    payable: 0n,
    reasons: ['NOT_COVERED'],
  },
  {
    name: 'uncovered: SNOMED 38341003 is wider than I10, so it does not satisfy an I10 policy',
    claim: { diagnosis: sct('38341003') },
    decision: 'rejected',
    payable: 0n,
    reasons: ['NOT_COVERED'],
  },
  {
    name: 'unmapped: ICD-10 J45 against a SNOMED policy code is CODE_UNMAPPED, not NOT_COVERED',
    policy: { coveredCodes: [icd('I10'), sct('59621000')] },
    claim: { diagnosis: icd('J45') },
    decision: 'rejected',
    payable: 0n,
    reasons: ['CODE_UNMAPPED'],
  },
  {
    name: 'unmapped: SNOMED diagnosis with no code map given',
    claim: { diagnosis: sct('59621000') },
    options: { codeMap: undefined },
    decision: 'rejected',
    payable: 0n,
    reasons: ['CODE_UNMAPPED'],
  },
  {
    name: 'covered: a definite match wins over an unmapped comparison',
    policy: { coveredCodes: [sct('59621000'), icd('J45')] },
    claim: { diagnosis: icd('J45') },
    decision: 'approved',
    payable: 100_000n,
    reasons: [],
  },
  {
    name: 'excluded: E11.9 covered but SNOMED 44054006 excluded (E11.9 is narrower, so it matches)',
    policy: { coveredCodes: [icd('I10'), icd('E11.9')], excludedCodes: [sct('44054006')] },
    claim: { diagnosis: icd('E11.9') },
    decision: 'rejected',
    payable: 0n,
    reasons: ['EXCLUDED'],
  },
  {
    name: 'excluded: same-system exclusion wins over coverage',
    policy: { coveredCodes: [icd('I10')], excludedCodes: [icd('I10')] },
    decision: 'rejected',
    payable: 0n,
    reasons: ['EXCLUDED'],
  },
  {
    name: 'excluded: an exclusion that cannot be ruled out is CODE_UNMAPPED',
    policy: { coveredCodes: [icd('J45')], excludedCodes: [sct('44054006')] },
    claim: { diagnosis: icd('J45') },
    decision: 'rejected',
    payable: 0n,
    reasons: ['CODE_UNMAPPED'],
  },
  {
    name: 'not excluded: mapped exclusion of another concept',
    policy: { excludedCodes: [sct('44054006')] },
    decision: 'approved',
    payable: 100_000n,
    reasons: [],
  },
  // Deductible.
  {
    name: 'deductible partly used: 300.00 of 500.00 left, claim 1000.00',
    policy: { deductible: hkd(50_000n) },
    state: { deductibleUsed: hkd(20_000n) },
    decision: 'approved',
    payable: 70_000n,
    reasons: ['DEDUCTIBLE_APPLIED'],
    next: { deductibleUsed: 50_000n, paidThisYear: 70_000n },
  },
  {
    name: 'deductible fully used: the whole claim is paid',
    policy: { deductible: hkd(50_000n) },
    state: { deductibleUsed: hkd(50_000n) },
    decision: 'approved',
    payable: 100_000n,
    reasons: [],
    next: { deductibleUsed: 50_000n, paidThisYear: 100_000n },
  },
  {
    name: 'deductible absorbs the whole claim: rejected, but the deductible is consumed and the id settled',
    policy: { deductible: hkd(50_000n) },
    claim: { items: amount(30_000n) },
    decision: 'rejected',
    payable: 0n,
    reasons: ['DEDUCTIBLE_APPLIED'],
    next: { deductibleUsed: 30_000n, paidThisYear: 0n },
  },
  {
    name: 'deductible then co-pay: (1000 − 300) × 20 % = 140 co-pay',
    policy: { deductible: hkd(30_000n), coPayBasisPoints: 2000 },
    decision: 'approved',
    payable: 56_000n,
    reasons: ['DEDUCTIBLE_APPLIED', 'COPAY_APPLIED'],
    next: { deductibleUsed: 30_000n, paidThisYear: 56_000n },
  },
  // Co-pay rounding, half to even on the minor unit.
  {
    name: 'co-pay tie rounds to even (down): 5 % of 100.50 = 5.025 → 5.02',
    policy: { coPayBasisPoints: 500 },
    claim: { items: amount(10_050n) },
    decision: 'approved',
    payable: 10_050n - 502n,
    reasons: ['COPAY_APPLIED'],
  },
  {
    name: 'co-pay tie rounds to even (up): 5 % of 101.50 = 5.075 → 5.08',
    policy: { coPayBasisPoints: 500 },
    claim: { items: amount(10_150n) },
    decision: 'approved',
    payable: 10_150n - 508n,
    reasons: ['COPAY_APPLIED'],
  },
  {
    name: 'co-pay tie 0.5 minor unit → 0: 50 % of 0.01',
    policy: { coPayBasisPoints: 5000 },
    claim: { items: amount(1n) },
    decision: 'approved',
    payable: 1n,
    reasons: [],
  },
  {
    name: 'co-pay tie 1.5 minor units → 2: 50 % of 0.03',
    policy: { coPayBasisPoints: 5000 },
    claim: { items: amount(3n) },
    decision: 'approved',
    payable: 1n,
    reasons: ['COPAY_APPLIED'],
  },
  {
    name: 'co-pay below half rounds down: 20 % of 20.01 = 4.002 → 4.00',
    policy: { coPayBasisPoints: 2000 },
    claim: { items: amount(2_001n) },
    decision: 'approved',
    payable: 1_601n,
    reasons: ['COPAY_APPLIED'],
  },
  {
    name: 'co-pay above half rounds up: 33.33 % of 0.05 = 0.0166… → 0.02',
    policy: { coPayBasisPoints: 3333 },
    claim: { items: amount(5n) },
    decision: 'approved',
    payable: 3n,
    reasons: ['COPAY_APPLIED'],
  },
  {
    name: 'co-pay of 100 % leaves nothing: rejected',
    policy: { coPayBasisPoints: 10_000 },
    decision: 'rejected',
    payable: 0n,
    reasons: ['COPAY_APPLIED'],
    next: { deductibleUsed: 0n, paidThisYear: 0n },
  },
  // Per-claim limit and annual cap.
  {
    name: 'per-claim limit cuts the claim: partial',
    policy: { perClaimLimit: hkd(80_000n) },
    decision: 'partial',
    payable: 80_000n,
    reasons: ['PER_CLAIM_LIMIT'],
    next: { deductibleUsed: 0n, paidThisYear: 80_000n },
  },
  {
    name: 'per-claim limit exactly equal to the share: approved',
    policy: { perClaimLimit: hkd(100_000n) },
    decision: 'approved',
    payable: 100_000n,
    reasons: [],
  },
  {
    name: 'annual cap reached exactly by this claim: approved, paidThisYear == cap',
    policy: { annualCap: hkd(500_000n) },
    state: { paidThisYear: hkd(400_000n) },
    decision: 'approved',
    payable: 100_000n,
    reasons: [],
    next: { deductibleUsed: 0n, paidThisYear: 500_000n },
  },
  {
    name: 'annual cap exceeded: cut to what is left, partial',
    policy: { annualCap: hkd(500_000n) },
    state: { paidThisYear: hkd(450_000n) },
    decision: 'partial',
    payable: 50_000n,
    reasons: ['ANNUAL_CAP'],
    next: { deductibleUsed: 0n, paidThisYear: 500_000n },
  },
  {
    name: 'annual cap already reached: rejected with ANNUAL_CAP',
    policy: { annualCap: hkd(500_000n) },
    state: { paidThisYear: hkd(500_000n) },
    decision: 'rejected',
    payable: 0n,
    reasons: ['ANNUAL_CAP'],
    next: { deductibleUsed: 0n, paidThisYear: 500_000n },
  },
  {
    name: 'limit then cap: both cut',
    policy: { perClaimLimit: hkd(90_000n), annualCap: hkd(500_000n) },
    state: { paidThisYear: hkd(450_000n) },
    decision: 'partial',
    payable: 50_000n,
    reasons: ['PER_CLAIM_LIMIT', 'ANNUAL_CAP'],
  },
  {
    name: 'zero total: rejected, nothing to pay',
    claim: { items: amount(0n) },
    decision: 'rejected',
    payable: 0n,
    reasons: ['ZERO_TOTAL'],
    next: { deductibleUsed: 0n, paidThisYear: 0n },
  },
  // Gates.
  {
    name: 'duplicate claim id',
    state: { paidClaimIds: new Set([id(1)]) },
    decision: 'rejected',
    payable: 0n,
    reasons: ['CLAIM_DUPLICATE'],
  },
  {
    name: 'duplicate claim id, compared case-insensitively',
    claim: { claimId: `0x${'AB'.repeat(32)}` },
    state: { paidClaimIds: new Set([`0x${'ab'.repeat(32)}`]) },
    decision: 'rejected',
    payable: 0n,
    reasons: ['CLAIM_DUPLICATE'],
  },
  {
    name: 'expired policy: service date == validUntil (exclusive)',
    claim: { serviceDate: UNTIL },
    options: { now: UNTIL + 100 },
    decision: 'rejected',
    payable: 0n,
    reasons: ['POLICY_EXPIRED'],
  },
  {
    name: 'valid at the first second: service date == validFrom',
    claim: { serviceDate: FROM },
    decision: 'approved',
    payable: 100_000n,
    reasons: [],
  },
  {
    name: 'valid at the last second: service date == validUntil − 1, filed after expiry',
    claim: { serviceDate: UNTIL - 1 },
    options: { now: UNTIL + 86_400 },
    decision: 'approved',
    payable: 100_000n,
    reasons: [],
  },
  {
    name: 'policy not yet valid',
    claim: { serviceDate: FROM - 1 },
    decision: 'rejected',
    payable: 0n,
    reasons: ['POLICY_NOT_YET_VALID'],
  },
  {
    name: 'service date in the future',
    claim: { serviceDate: NOW + 1 },
    decision: 'rejected',
    payable: 0n,
    reasons: ['SERVICE_DATE_IN_FUTURE'],
  },
  {
    name: 'currency mismatch: CNY claim on an HKD policy',
    claim: { items: [{ code: 'SVC', amount: cny(100_000n) }] },
    decision: 'rejected',
    payable: 0n,
    reasons: ['CURRENCY_MISMATCH'],
  },
  {
    name: 'order: an expired duplicate reports the expiry (validity is checked first)',
    claim: { serviceDate: UNTIL },
    options: { now: UNTIL },
    state: { paidClaimIds: new Set([id(1)]) },
    decision: 'rejected',
    payable: 0n,
    reasons: ['POLICY_EXPIRED'],
  },
  {
    name: 'order: a duplicate in another currency reports the duplicate',
    claim: { items: [{ code: 'SVC', amount: cny(1n) }] },
    state: { paidClaimIds: new Set([id(1)]) },
    decision: 'rejected',
    payable: 0n,
    reasons: ['CLAIM_DUPLICATE'],
  },
  {
    name: 'order: an uncovered claim in another currency reports the currency',
    claim: { diagnosis: icd('E11.9'), items: [{ code: 'SVC', amount: cny(1n) }] },
    decision: 'rejected',
    payable: 0n,
    reasons: ['CURRENCY_MISMATCH'],
  },
  {
    name: 'several items are summed',
    claim: {
      items: [
        { code: 'CONSULT', amount: hkd(45_000n) },
        { code: 'ECG', description: '12-lead ECG', amount: hkd(30_050n) },
        { code: 'LAB', amount: hkd(0n) },
      ],
    },
    decision: 'approved',
    payable: 75_050n,
    reasons: [],
  },
];

describe('adjudicate', () => {
  it.each(CASES)('case: $name', (tc) => {
    const p = policy(tc.policy);
    const c = claim(tc.claim);
    const s = state(tc.state);
    const before = structuredClone(s);
    const r = adjudicate(p, c, s, opts(tc.options));
    expect(r.decision).toBe(tc.decision);
    expect(r.payable.minor).toBe(tc.payable);
    expect(r.reasons.map((x) => x.code)).toEqual(tc.reasons);
    for (const reason of r.reasons) {
      expect(REASON_CODES).toContain(reason.code);
      expect(reason.message.length).toBeGreaterThan(10);
    }
    const total = c.items.reduce((sum, it) => sum + it.amount.minor, 0n);
    expect(r.total.minor).toBe(total);
    expect(r.payable.minor + r.patientShare.minor).toBe(total);
    expect(r.payable.currency).toBe(c.items[0]!.amount.currency);
    expect(r.patientShare.currency).toBe(c.items[0]!.amount.currency);
    // Pure: the input state is untouched and nextState is a fresh object.
    expect(s).toEqual(before);
    expect(r.nextState).not.toBe(s);
    expect(r.nextState.paidClaimIds).not.toBe(s.paidClaimIds);
    const gateRejected = r.decision === 'rejected' && tc.next === undefined;
    if (gateRejected) {
      expect(r.nextState.deductibleUsed).toEqual(s.deductibleUsed);
      expect(r.nextState.paidThisYear).toEqual(s.paidThisYear);
      expect([...r.nextState.paidClaimIds]).toEqual([...s.paidClaimIds]);
      expect(r.patientShare.minor).toBe(total);
    } else {
      expect(r.nextState.paidClaimIds.has(c.claimId.toLowerCase())).toBe(true);
      expect(r.nextState.paidThisYear.minor).toBe(s.paidThisYear.minor + r.payable.minor);
    }
    if (tc.next) {
      expect(r.nextState.deductibleUsed).toEqual(hkd(tc.next.deductibleUsed));
      expect(r.nextState.paidThisYear).toEqual(hkd(tc.next.paidThisYear));
    }
  });

  it('behavior: reasons are human-readable and name the codes and amounts', () => {
    const r = adjudicate(
      policy({ coveredCodes: [sct('59621000')] }),
      claim({ diagnosis: icd('J45') }),
      state(),
      opts(),
    );
    expect(r.reasons[0]!.message).toContain('http://hl7.org/fhir/sid/icd-10|J45');
    expect(r.reasons[0]!.message).toContain(SEED_CODE_MAP.url);
    const d = adjudicate(policy({ deductible: hkd(50_000n) }), claim(), state(), opts());
    expect(d.reasons[0]!.message).toContain('HKD 500.00');
  });

  it('behavior: a claim id is paid only once, across a sequence', () => {
    const p = policy();
    const first = adjudicate(p, claim(), state(), opts());
    expect(first.decision).toBe('approved');
    const again = adjudicate(p, claim(), first.nextState, opts());
    expect(again.decision).toBe('rejected');
    expect(again.payable.minor).toBe(0n);
    expect(again.reasons[0]!.code).toBe('CLAIM_DUPLICATE');
    // Upper-case spelling of the same id is the same claim.
    const upper = adjudicate(
      p,
      claim({ claimId: id(1).toUpperCase().replace('0X', '0x') }),
      first.nextState,
      opts(),
    );
    expect(upper.reasons[0]!.code).toBe('CLAIM_DUPLICATE');
  });

  it('behavior: a claim wholly absorbed by the deductible cannot be re-sent to be paid', () => {
    const p = policy({ deductible: hkd(50_000n) });
    const first = adjudicate(p, claim({ items: amount(50_000n) }), state(), opts());
    expect(first.decision).toBe('rejected');
    expect(first.nextState.deductibleUsed.minor).toBe(50_000n);
    const again = adjudicate(p, claim({ items: amount(50_000n) }), first.nextState, opts());
    expect(again.reasons.map((r) => r.code)).toEqual(['CLAIM_DUPLICATE']);
    expect(again.payable.minor).toBe(0n);
  });

  it('behavior: a claim rejected at a gate may be corrected and re-sent under the same id', () => {
    const p = policy();
    const bad = adjudicate(p, claim({ diagnosis: sct('59621000') }), state(), opts({ codeMap: undefined }));
    expect(bad.reasons[0]!.code).toBe('CODE_UNMAPPED');
    const good = adjudicate(p, claim({ diagnosis: sct('59621000') }), bad.nextState, opts());
    expect(good.decision).toBe('approved');
  });

  it('behavior: the annual cap is reached exactly, then the next claim is refused', () => {
    const p = policy({ annualCap: hkd(200_000n) });
    let s = state();
    const decisions: string[] = [];
    for (let i = 1; i <= 3; i++) {
      const r = adjudicate(p, claim({ claimId: id(i) }), s, opts());
      decisions.push(r.decision);
      s = r.nextState;
    }
    expect(decisions).toEqual(['approved', 'approved', 'rejected']);
    expect(s.paidThisYear.minor).toBe(200_000n);
  });

  it('error: a malformed code map keeps its own code', () => {
    const broken = { ...structuredClone(SEED_CODE_MAP), version: '' } as ConceptMap;
    expect(() => adjudicate(policy(), claim(), state(), opts({ codeMap: broken }))).toThrow(
      expect.objectContaining({ code: 'MR_ERR_CODEMAP_INVALID' }),
    );
  });
});

// ---------------------------------------------------------------------------------------------------------
// Bad input: every one is a typed ProofError naming the field.
// ---------------------------------------------------------------------------------------------------------

type Mut = { policy?: unknown; claim?: unknown; state?: unknown; options?: unknown };
const with_ = <T extends object>(base: T, over: Record<string, unknown>): unknown => ({ ...base, ...over });

const BAD: [string, () => Mut, string][] = [
  [
    'negative item amount',
    () => ({ claim: with_(claim(), { items: amount(-1n) }) }),
    'claim.items[0].amount.minor',
  ],
  [
    'fractional item amount',
    () => ({ claim: with_(claim(), { items: [{ code: 'SVC', amount: { currency: 'HKD', minor: 12.5 } }] }) }),
    'claim.items[0].amount.minor',
  ],
  [
    'number instead of bigint',
    () => ({ claim: with_(claim(), { items: [{ code: 'SVC', amount: { currency: 'HKD', minor: 100 } }] }) }),
    'claim.items[0].amount.minor',
  ],
  [
    'string amount',
    () => ({
      claim: with_(claim(), { items: [{ code: 'SVC', amount: { currency: 'HKD', minor: '100' } }] }),
    }),
    'claim.items[0].amount.minor',
  ],
  [
    'amount above MAX_MINOR',
    () => ({ claim: with_(claim(), { items: amount(1n << 128n) }) }),
    'claim.items[0].amount.minor',
  ],
  [
    'items summing above MAX_MINOR',
    () => ({ claim: with_(claim(), { items: [...amount((1n << 128n) - 1n), ...amount(1n)] }) }),
    'claim.items',
  ],
  [
    'unknown item currency',
    () => ({ claim: with_(claim(), { items: [{ code: 'SVC', amount: { currency: 'USD', minor: 1n } }] }) }),
    'claim.items[0].amount.currency',
  ],
  [
    'mixed item currencies',
    () => ({ claim: with_(claim(), { items: [...amount(1n), { code: 'SVC', amount: cny(1n) }] }) }),
    'claim.items[1].amount.currency',
  ],
  ['empty items', () => ({ claim: with_(claim(), { items: [] }) }), 'claim.items'],
  ['items not an array', () => ({ claim: with_(claim(), { items: undefined }) }), 'claim.items'],
  [
    'item without code',
    () => ({ claim: with_(claim(), { items: [{ amount: hkd(1n) }] }) }),
    'claim.items[0].code',
  ],
  [
    'item description not a string',
    () => ({ claim: with_(claim(), { items: [{ code: 'X', description: 5, amount: hkd(1n) }] }) }),
    'claim.items[0].description',
  ],
  [
    'item amount missing',
    () => ({ claim: with_(claim(), { items: [{ code: 'X' }] }) }),
    'claim.items[0].amount',
  ],
  ['claim id too short', () => ({ claim: with_(claim(), { claimId: '0x1234' }) }), 'claim.claimId'],
  ['claim id without 0x', () => ({ claim: with_(claim(), { claimId: 'ab'.repeat(32) }) }), 'claim.claimId'],
  [
    'claim id not hex',
    () => ({ claim: with_(claim(), { claimId: `0x${'zz'.repeat(32)}` }) }),
    'claim.claimId',
  ],
  ['policy id mismatch', () => ({ claim: with_(claim(), { policyId: 'POL-OTHER' }) }), 'claim.policyId'],
  ['claim policy id empty', () => ({ claim: with_(claim(), { policyId: '' }) }), 'claim.policyId'],
  [
    'malformed patient pseudonym',
    () => ({ claim: with_(claim(), { patient: 'Jane Doe' }) }),
    'claim.patient',
  ],
  ['diagnosis not a coding', () => ({ claim: with_(claim(), { diagnosis: 'I10' }) }), 'claim.diagnosis'],
  [
    'diagnosis code malformed for its system',
    () => ({ claim: with_(claim(), { diagnosis: sct('59621001') }) }),
    'claim.diagnosis.code',
  ],
  [
    'fractional service date',
    () => ({ claim: with_(claim(), { serviceDate: SERVICE + 0.5 }) }),
    'claim.serviceDate',
  ],
  ['negative service date', () => ({ claim: with_(claim(), { serviceDate: -1 }) }), 'claim.serviceDate'],
  ['claim not an object', () => ({ claim: null }), 'claim'],
  ['unknown policy currency', () => ({ policy: with_(policy(), { currency: 'EUR' }) }), 'policy.currency'],
  ['policy id empty', () => ({ policy: with_(policy(), { policyId: ' ' }) }), 'policy.policyId'],
  ['no covered codes', () => ({ policy: with_(policy(), { coveredCodes: [] }) }), 'policy.coveredCodes'],
  [
    'malformed covered code',
    () => ({ policy: with_(policy(), { coveredCodes: [icd('i10')] }) }),
    'policy.coveredCodes[0].code',
  ],
  [
    'malformed excluded code',
    () => ({ policy: with_(policy(), { excludedCodes: [{ system: SCT }] }) }),
    'policy.excludedCodes[0]',
  ],
  [
    'limit in another currency',
    () => ({ policy: with_(policy(), { perClaimLimit: cny(1n) }) }),
    'policy.perClaimLimit.currency',
  ],
  [
    'negative deductible',
    () => ({ policy: with_(policy(), { deductible: hkd(-5n) }) }),
    'policy.deductible.minor',
  ],
  [
    'fractional annual cap',
    () => ({ policy: with_(policy(), { annualCap: { currency: 'HKD', minor: 0.5 } }) }),
    'policy.annualCap.minor',
  ],
  [
    'co-pay above 10000 bp',
    () => ({ policy: with_(policy(), { coPayBasisPoints: 10_001 }) }),
    'policy.coPayBasisPoints',
  ],
  [
    'negative co-pay',
    () => ({ policy: with_(policy(), { coPayBasisPoints: -1 }) }),
    'policy.coPayBasisPoints',
  ],
  [
    'fractional co-pay',
    () => ({ policy: with_(policy(), { coPayBasisPoints: 12.5 }) }),
    'policy.coPayBasisPoints',
  ],
  ['empty validity period', () => ({ policy: with_(policy(), { validUntil: FROM }) }), 'policy.validUntil'],
  ['validFrom not a number', () => ({ policy: with_(policy(), { validFrom: '2025' }) }), 'policy.validFrom'],
  [
    'state currency differs from the policy',
    () => ({ state: state({}, 'MOP') }),
    'state.deductibleUsed.currency',
  ],
  [
    'negative paidThisYear',
    () => ({ state: with_(state(), { paidThisYear: hkd(-1n) }) }),
    'state.paidThisYear.minor',
  ],
  [
    'paidClaimIds not a Set',
    () => ({ state: with_(state(), { paidClaimIds: [id(1)] }) }),
    'state.paidClaimIds',
  ],
  [
    'malformed id in paidClaimIds',
    () => ({ state: with_(state(), { paidClaimIds: new Set(['claim-1']) }) }),
    'state.paidClaimIds',
  ],
  ['now missing', () => ({ options: { codeMap: SEED_CODE_MAP } }), 'options.now'],
  ['now fractional', () => ({ options: { now: 1.5 } }), 'options.now'],
];

describe('adjudicate: bad input', () => {
  it.each(BAD)('error: %s', (_name, mut, field) => {
    const m = mut();
    const call = () =>
      adjudicate(
        ('policy' in m ? m.policy : policy()) as Policy,
        ('claim' in m ? m.claim : claim()) as Claim,
        ('state' in m ? m.state : state()) as PolicyYearState,
        ('options' in m ? m.options : opts()) as AdjudicateOptions,
      );
    let caught: unknown;
    try {
      call();
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ProofError);
    const e = caught as ProofError;
    expect(e.code).toBe('MR_ERR_CLAIM_INVALID');
    expect(e.details.field).toBe(field);
    expect(e.message).toContain(field);
  });
});

// ---------------------------------------------------------------------------------------------------------
// Invariants over seeded random claims.
// ---------------------------------------------------------------------------------------------------------

/** mulberry32: small, seeded, reproducible. */
function rng(seed: number) {
  let a = seed >>> 0;
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number): number => Math.floor(next() * n);
  const big = (max: bigint): bigint => {
    // Mix small and large amounts; uniform over a random number of decimal digits.
    const digits = 1 + int(max.toString().length);
    let v = 0n;
    for (let i = 0; i < digits; i++) v = v * 10n + BigInt(int(10));
    return v % (max + 1n);
  };
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  return { next, int, big, pick };
}

// Weighted towards covered codes so that most claims reach the amount steps.
const DIAGNOSES: Coding[] = [
  icd('I10'),
  icd('I10'),
  sct('59621000'),
  sct('59621000'),
  icd('E11.9'),
  sct('44054006'),
  icd('J45'),
  sct('38341003'),
];

describe('adjudicate: invariants (seeded)', () => {
  for (const seed of [1, 2, 3, 4, 5, 6, 7, 42, 20250101, 0xdeadbeef]) {
    it(`behavior: seed ${seed}: conservation, limits, monotone state, no double payment`, () => {
      const r = rng(seed);
      const p = policy({
        coveredCodes: r.pick([
          [icd('I10')],
          [sct('59621000'), icd('E11.9')],
          [icd('I10'), icd('J45')],
          [icd('I10'), sct('59621000'), icd('E11.9'), sct('44054006')],
        ]),
        excludedCodes: r.next() < 0.3 ? [sct('44054006')] : [],
        perClaimLimit: hkd(r.next() < 0.1 ? r.big(1_000n) : 20_000n + r.big(300_000n)),
        deductible: hkd(r.big(100_000n)),
        coPayBasisPoints: r.pick([0, 1, 500, 2000, 3333, 5000, 9999, 10_000, r.int(10_001)]),
        annualCap: hkd(r.next() < 0.2 ? r.big(500_000n) : 2_000_000n + r.big(20_000_000n)),
      });
      let s = emptyPolicyYearState('HKD');
      const paidBy = new Map<string, bigint>();
      const submitted: string[] = [];
      for (let i = 0; i < 400; i++) {
        const resend = submitted.length > 0 && r.next() < 0.2;
        const claimId = resend
          ? r.pick(submitted)
          : `0x${Array.from({ length: 64 }, () => '0123456789abcdefABCDEF'[r.int(22)]).join('')}`;
        submitted.push(claimId);
        const items = Array.from({ length: 1 + r.int(4) }, (_, k) => ({
          code: `SVC${k}`,
          amount: r.next() < 0.05 ? cny(r.big(50_000n)) : hkd(r.big(80_000n)),
        }));
        const sameCurrency = items.every((it) => it.amount.currency === items[0]!.amount.currency);
        const c = claim({
          claimId,
          diagnosis: r.pick(DIAGNOSES),
          items: sameCurrency ? items : items.map((it) => ({ ...it, amount: hkd(it.amount.minor) })),
          serviceDate: r.next() < 0.05 ? UNTIL + r.int(1000) : FROM + r.int(UNTIL - FROM),
        });
        const o = opts({ now: UNTIL + 10_000, codeMap: r.next() < 0.1 ? undefined : SEED_CODE_MAP });

        const out = adjudicate(p, c, s, o);
        const total = c.items.reduce((sum, it) => sum + it.amount.minor, 0n);
        const key = claimId.toLowerCase();

        // Conservation and sign.
        expect(out.total.minor).toBe(total);
        expect(out.payable.minor + out.patientShare.minor).toBe(total);
        expect(out.payable.minor >= 0n && out.patientShare.minor >= 0n).toBe(true);
        // Limits.
        expect(out.payable.minor <= p.perClaimLimit.minor).toBe(true);
        const capLeft = p.annualCap.minor - s.paidThisYear.minor;
        expect(out.payable.minor <= (capLeft > 0n ? capLeft : 0n)).toBe(true);
        expect(out.nextState.paidThisYear.minor <= p.annualCap.minor).toBe(true);
        expect(out.nextState.deductibleUsed.minor <= p.deductible.minor).toBe(true);
        // Decision consistency.
        expect(out.decision === 'rejected').toBe(out.payable.minor === 0n);
        if (out.decision === 'rejected') expect(out.reasons.length).toBeGreaterThan(0);
        if (out.decision === 'partial')
          expect(out.reasons.some((x) => x.code === 'PER_CLAIM_LIMIT' || x.code === 'ANNUAL_CAP')).toBe(true);
        if (out.decision === 'approved')
          expect(
            out.reasons.every((x) => x.code === 'DEDUCTIBLE_APPLIED' || x.code === 'COPAY_APPLIED'),
          ).toBe(true);
        // Monotone state.
        expect(out.nextState.deductibleUsed.minor >= s.deductibleUsed.minor).toBe(true);
        expect(out.nextState.paidThisYear.minor - s.paidThisYear.minor).toBe(out.payable.minor);
        for (const x of s.paidClaimIds) expect(out.nextState.paidClaimIds.has(x)).toBe(true);
        // Duplicates never pay twice.
        if (s.paidClaimIds.has(key)) {
          // Only a date gate, checked before duplicates, may report something else.
          expect(['CLAIM_DUPLICATE', 'POLICY_EXPIRED']).toContain(out.reasons[0]!.code);
          expect(out.reasons).toHaveLength(1);
          expect(out.payable.minor).toBe(0n);
        }
        if (out.payable.minor > 0n) {
          expect(paidBy.has(key)).toBe(false);
          paidBy.set(key, out.payable.minor);
        }
        s = out.nextState;
      }
      // The ledger adds up.
      expect([...paidBy.values()].reduce((a, b) => a + b, 0n)).toBe(s.paidThisYear.minor);
    });
  }
});
