/**
 * Claim adjudication against an insurance policy: a pure function from (policy, claim, policy-year state) to a
 * decision, the insurer's payable amount, the patient's share, machine + human reasons and the next state.
 *
 * A clinic submits a claim (patient pseudonym, policy id, the diagnosis Coding from a verified disclosure —
 * docs/records.md — and itemised amounts) to the insurer chain; this module decides what the insurer pays.
 * Amounts are integer minor units (`Money` from ./money.ts); the one rounding step, the co-pay, uses money.ts's
 * rule (ROUND HALF TO EVEN on the minor unit, via `percentOf`).
 *
 * Order of evaluation (`adjudicate`). Steps 1–5 are gates: the first that fails rejects the claim with that
 * single reason, payable 0, patientShare = total, and the state unchanged (so a corrected claim may be sent
 * again under the same id). Steps 6–10 compute the amounts.
 *   0. Input checks — malformed policy, claim, state or options, or a claim naming another policy, throw
 *      `ProofError('MR_ERR_CLAIM_INVALID')` with `details.field` (e.g. `claim.items[2].amount.minor`). They
 *      are not decisions: nothing can be decided about data that does not parse.
 *   1. Dates — `serviceDate` after `now` → SERVICE_DATE_IN_FUTURE; before `validFrom` → POLICY_NOT_YET_VALID;
 *      at or after `validUntil` (exclusive, like consent periods) → POLICY_EXPIRED. Validity is judged at the
 *      service date, not at `now`: a claim for a service inside the policy period may be filed later.
 *   2. Duplicate — the claim id (bytes32, compared case-insensitively) is in `state.paidClaimIds` →
 *      CLAIM_DUPLICATE. A claim id is settled at most once.
 *   3. Currency — the claim's currency (all items share one; mixed currencies are malformed, step 0) is not
 *      the policy's → CURRENCY_MISMATCH. No conversion happens here.
 *   4. Coverage — the diagnosis must match a `coveredCodes` entry: same system → equal codes; another system →
 *      `codesMatch(codeMap, diagnosis, covered)` (the record's code is the same concept as, or narrower than,
 *      the covered one). No match → NOT_COVERED, but if some comparison could not be made (no map given, or
 *      the map says nothing about the diagnosis for that system) and nothing matched → CODE_UNMAPPED: "we
 *      cannot tell" is never reported as "not covered", and never as covered.
 *   5. Exclusion — the same matching against `excludedCodes`: a match → EXCLUDED; no match but an unmapped
 *      comparison → CODE_UNMAPPED (an exclusion we cannot rule out is not ignored).
 *   6. Total — the sum of the items (at least one, each a non-negative integer in the claim currency).
 *   7. Deductible — `min(total, deductible − deductibleUsed)` is borne by the patient (DEDUCTIBLE_APPLIED).
 *   8. Co-pay — `percentOf(total − deductible part, coPayBasisPoints)`, half-even on the minor unit, is borne
 *      by the patient (COPAY_APPLIED). What is left is the insurer's share before limits.
 *   9. Per-claim limit — the share is cut to `perClaimLimit` (PER_CLAIM_LIMIT).
 *  10. Annual cap — then cut to `annualCap − paidThisYear` (ANNUAL_CAP; the remainder is never negative).
 *
 * Decision: `approved` when payable equals the insurer's share after deductible and co-pay (no limit or cap
 * cut) and is above 0; `partial` when the limit or the cap cut it but something is still paid; `rejected` when
 * payable is 0 — by a gate, or because the deductible, the co-pay, a zero total, the limit or the cap left
 * nothing (the reasons say which). Always `payable + patientShare == total`.
 *
 * State: a claim that passes the gates is settled: its id joins `paidClaimIds`, `deductibleUsed` grows by the
 * deductible part and `paidThisYear` by payable — even when payable is 0 because all of it went to the
 * deductible (otherwise re-sending it would pay what the deductible already absorbed). The input state is not
 * mutated; `nextState` is a fresh object. The caller keeps one state per (policy, policy year) and passes the
 * state of the year that contains `serviceDate`.
 */
import { ProofError } from '../errors.js';
import { checkCode, isKnownCodeSystem } from '../records/codes.js';
import { type Coding, type ConceptMap, codesMatch, parseConceptMap } from '../records/conceptmap.js';
import { type Currency, isCurrency, MAX_MINOR, type Money, percentOf } from './money.js';

export interface Policy {
  policyId: string;
  currency: Currency;
  /** Diagnoses the policy covers (ICD-10 and/or SNOMED CT); other systems match through the code map. */
  coveredCodes: readonly Coding[];
  /** Diagnoses the policy excludes; an exclusion wins over coverage. */
  excludedCodes?: readonly Coding[];
  perClaimLimit: Money;
  /** Per policy year. */
  deductible: Money;
  /** Patient's share after the deductible, in basis points (0..10 000; 2 000 = 20 %). */
  coPayBasisPoints: number;
  /** Most the insurer pays per policy year. */
  annualCap: Money;
  /** Unix seconds, inclusive. */
  validFrom: number;
  /** Unix seconds, exclusive. */
  validUntil: number;
}

export interface ClaimItem {
  /** Service (procedure / tariff) code. */
  code: string;
  description?: string;
  amount: Money;
}

export interface Claim {
  /** bytes32, 0x-hex. */
  claimId: string;
  policyId: string;
  /** Patient pseudonym (bytes32, 0x-hex; docs/records.md). */
  patient: string;
  /** From a verified disclosure. */
  diagnosis: Coding;
  items: readonly ClaimItem[];
  /** Unix seconds. */
  serviceDate: number;
}

export interface PolicyYearState {
  deductibleUsed: Money;
  paidThisYear: Money;
  /** Settled claim ids (lowercase bytes32 hex in states this module returns). */
  paidClaimIds: ReadonlySet<string>;
}

export interface AdjudicateOptions {
  /** Data dictionary used when a covered/excluded code is in another system than the diagnosis. */
  codeMap?: ConceptMap;
  /** Unix seconds; a service dated after `now` is refused. */
  now: number;
}

/** Machine codes of adjudication reasons (decisions, not errors: nothing is thrown for these). */
export const REASON_CODES = [
  'SERVICE_DATE_IN_FUTURE',
  'POLICY_NOT_YET_VALID',
  'POLICY_EXPIRED',
  'CLAIM_DUPLICATE',
  'CURRENCY_MISMATCH',
  'CODE_UNMAPPED',
  'NOT_COVERED',
  'EXCLUDED',
  'ZERO_TOTAL',
  'DEDUCTIBLE_APPLIED',
  'COPAY_APPLIED',
  'PER_CLAIM_LIMIT',
  'ANNUAL_CAP',
] as const;
export type ReasonCode = (typeof REASON_CODES)[number];

export interface AdjudicationReason {
  code: ReasonCode;
  message: string;
}

export type Decision = 'approved' | 'partial' | 'rejected';

export interface Adjudication {
  decision: Decision;
  /** Paid by the insurer. */
  payable: Money;
  /** total − payable: deductible, co-pay and anything cut by the limit or the cap (or everything if rejected). */
  patientShare: Money;
  /** Sum of the items, in the claim's currency. */
  total: Money;
  /** In evaluation order; empty only for an approval with no deductible or co-pay. */
  reasons: AdjudicationReason[];
  nextState: PolicyYearState;
}

// ---------------------------------------------------------------------------------------------------------
// Input checks
// ---------------------------------------------------------------------------------------------------------

const BYTES32_RE = /^0x[0-9a-fA-F]{64}$/;
/** Upper bound on items per claim: a claim is an itemised bill, not a ledger; bounds the work per call. */
export const MAX_CLAIM_ITEMS = 1000;

function invalid(field: string, message: string, cause?: unknown): never {
  throw new ProofError('MR_ERR_CLAIM_INVALID', `adjudicate: ${field}: ${message}`, {
    details: { field },
    cause,
  });
}

const isObj = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const nonEmpty = (v: unknown): v is string => typeof v === 'string' && v.trim().length > 0;

function checkTime(v: unknown, field: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0)
    invalid(field, `expected unix seconds (a non-negative safe integer), got ${describe(v)}`);
  return v;
}

function describe(v: unknown): string {
  if (typeof v === 'bigint') return `${v}n`;
  if (typeof v === 'string') return JSON.stringify(v.slice(0, 40));
  if (typeof v === 'number') return String(v);
  return v === null ? 'null' : typeof v;
}

/** A Money in `expected` currency (or any known currency when undefined); returns the currency. */
function checkMoney(v: unknown, field: string, expected?: Currency): Money {
  if (!isObj(v)) invalid(field, 'expected { currency, minor }');
  if (!isCurrency(v.currency))
    invalid(`${field}.currency`, `unknown currency ${describe(v.currency)} (expected HKD, CNY or MOP)`);
  if (expected !== undefined && v.currency !== expected)
    invalid(`${field}.currency`, `expected ${expected}, got ${v.currency}`);
  const m = v.minor;
  if (typeof m !== 'bigint') {
    const what = typeof m === 'number' && !Number.isInteger(m) ? 'a fractional number' : describe(m);
    invalid(`${field}.minor`, `expected integer minor units as a bigint, got ${what}`);
  }
  if (m < 0n) invalid(`${field}.minor`, `amount must not be negative, got ${m}`);
  if (m > MAX_MINOR) invalid(`${field}.minor`, 'amount above MAX_MINOR (2^128 − 1)');
  return { currency: v.currency, minor: m };
}

function checkCoding(v: unknown, field: string): Coding {
  if (!isObj(v) || !nonEmpty(v.system) || !nonEmpty(v.code))
    invalid(field, 'expected a Coding { system, code }');
  if (isKnownCodeSystem(v.system)) {
    try {
      checkCode(v.system, v.code);
    } catch (err) {
      invalid(`${field}.code`, err instanceof Error ? err.message : String(err), err);
    }
  }
  return { system: v.system, code: v.code };
}

function checkCodings(v: unknown, field: string, allowEmpty: boolean): Coding[] {
  if (!Array.isArray(v)) invalid(field, 'expected an array of Codings');
  if (!allowEmpty && v.length === 0) invalid(field, 'at least one code is required');
  return v.map((c, i) => checkCoding(c, `${field}[${i}]`));
}

function checkPolicy(v: unknown): Policy {
  if (!isObj(v)) invalid('policy', 'expected an object');
  if (!nonEmpty(v.policyId)) invalid('policy.policyId', 'expected a non-empty string');
  if (!isCurrency(v.currency))
    invalid('policy.currency', `unknown currency ${describe(v.currency)} (expected HKD, CNY or MOP)`);
  const cur = v.currency;
  const coveredCodes = checkCodings(v.coveredCodes, 'policy.coveredCodes', false);
  const excludedCodes =
    v.excludedCodes === undefined ? [] : checkCodings(v.excludedCodes, 'policy.excludedCodes', true);
  const perClaimLimit = checkMoney(v.perClaimLimit, 'policy.perClaimLimit', cur);
  const deductible = checkMoney(v.deductible, 'policy.deductible', cur);
  const annualCap = checkMoney(v.annualCap, 'policy.annualCap', cur);
  const bp = v.coPayBasisPoints;
  if (typeof bp !== 'number' || !Number.isInteger(bp) || bp < 0 || bp > 10_000)
    invalid('policy.coPayBasisPoints', `expected an integer 0..10000, got ${describe(bp)}`);
  const validFrom = checkTime(v.validFrom, 'policy.validFrom');
  const validUntil = checkTime(v.validUntil, 'policy.validUntil');
  if (validUntil <= validFrom) invalid('policy.validUntil', 'must be after validFrom');
  return {
    policyId: v.policyId,
    currency: cur,
    coveredCodes,
    excludedCodes,
    perClaimLimit,
    deductible,
    coPayBasisPoints: bp,
    annualCap,
    validFrom,
    validUntil,
  };
}

function checkClaim(v: unknown, policy: Policy): Claim & { currency: Currency } {
  if (!isObj(v)) invalid('claim', 'expected an object');
  if (typeof v.claimId !== 'string' || !BYTES32_RE.test(v.claimId))
    invalid('claim.claimId', 'expected a bytes32 0x-hex string (66 characters)');
  if (!nonEmpty(v.policyId)) invalid('claim.policyId', 'expected a non-empty string');
  if (v.policyId !== policy.policyId)
    invalid(
      'claim.policyId',
      `claim is for policy ${describe(v.policyId)}, not ${describe(policy.policyId)}`,
    );
  if (typeof v.patient !== 'string' || !BYTES32_RE.test(v.patient))
    invalid('claim.patient', 'expected the patient pseudonym as bytes32 0x-hex');
  const diagnosis = checkCoding(v.diagnosis, 'claim.diagnosis');
  if (!Array.isArray(v.items) || v.items.length === 0)
    invalid('claim.items', 'at least one item is required');
  if (v.items.length > MAX_CLAIM_ITEMS) invalid('claim.items', `more than ${MAX_CLAIM_ITEMS} items`);
  let cur: Currency | undefined;
  const items: ClaimItem[] = v.items.map((it: unknown, i: number) => {
    const f = `claim.items[${i}]`;
    if (!isObj(it)) invalid(f, 'expected { code, description?, amount }');
    if (!nonEmpty(it.code)) invalid(`${f}.code`, 'expected a non-empty service code');
    if (it.description !== undefined && typeof it.description !== 'string')
      invalid(`${f}.description`, 'expected a string');
    // One claim, one currency: an itemised bill in two currencies cannot be totalled without a rate.
    const amount = checkMoney(it.amount, `${f}.amount`, cur);
    cur ??= amount.currency;
    return it.description === undefined
      ? { code: it.code, amount }
      : { code: it.code, description: it.description, amount };
  });
  const serviceDate = checkTime(v.serviceDate, 'claim.serviceDate');
  return {
    claimId: v.claimId.toLowerCase(),
    policyId: v.policyId,
    patient: v.patient,
    diagnosis,
    items,
    serviceDate,
    currency: cur!,
  };
}

function checkState(v: unknown, policy: Policy): PolicyYearState {
  if (!isObj(v)) invalid('state', 'expected an object');
  const deductibleUsed = checkMoney(v.deductibleUsed, 'state.deductibleUsed', policy.currency);
  const paidThisYear = checkMoney(v.paidThisYear, 'state.paidThisYear', policy.currency);
  if (!(v.paidClaimIds instanceof Set)) invalid('state.paidClaimIds', 'expected a Set of claim ids');
  const ids = new Set<string>();
  for (const id of v.paidClaimIds as Set<unknown>) {
    if (typeof id !== 'string' || !BYTES32_RE.test(id))
      invalid('state.paidClaimIds', `expected bytes32 0x-hex claim ids, got ${describe(id)}`);
    ids.add(id.toLowerCase());
  }
  return { deductibleUsed, paidThisYear, paidClaimIds: ids };
}

function checkOptions(v: unknown): { codeMap?: ConceptMap; now: number } {
  if (!isObj(v)) invalid('options', 'expected { now, codeMap? }');
  const now = checkTime(v.now, 'options.now');
  if (v.codeMap === undefined) return { now };
  // A broken data dictionary keeps its own code (MR_ERR_CODEMAP_INVALID): it is the insurer's config, not the claim.
  return { now, codeMap: parseConceptMap(v.codeMap) };
}

// ---------------------------------------------------------------------------------------------------------
// Matching
// ---------------------------------------------------------------------------------------------------------

type MatchResult = { kind: 'match'; code: Coding } | { kind: 'unmapped'; code: Coding } | { kind: 'none' };

/**
 * Whether `diagnosis` matches any of `codes`. A definite match wins; otherwise any comparison the map could
 * not make makes the answer "unmapped", never "none".
 */
function matchAny(diagnosis: Coding, codes: readonly Coding[], codeMap: ConceptMap | undefined): MatchResult {
  let unmapped: Coding | undefined;
  for (const c of codes) {
    if (c.system === diagnosis.system) {
      if (c.code === diagnosis.code) return { kind: 'match', code: c };
      continue;
    }
    if (codeMap === undefined) {
      unmapped ??= c;
      continue;
    }
    try {
      if (codesMatch(codeMap, diagnosis, c)) return { kind: 'match', code: c };
    } catch (err) {
      if (err instanceof ProofError && err.code === 'MR_ERR_CODEMAP_UNMAPPED') unmapped ??= c;
      else throw err;
    }
  }
  return unmapped ? { kind: 'unmapped', code: unmapped } : { kind: 'none' };
}

const fmtCoding = (c: Coding): string => `${c.system}|${c.code}`;

function fmtMoney(m: Money): string {
  // Every supported currency has 2 decimals (ISO 4217 exponent 2).
  const s = m.minor.toString().padStart(3, '0');
  return `${m.currency} ${s.slice(0, -2)}.${s.slice(-2)}`;
}

// ---------------------------------------------------------------------------------------------------------
// Adjudication
// ---------------------------------------------------------------------------------------------------------

const mk = (currency: Currency, minor: bigint): Money => ({ currency, minor });
const min = (a: bigint, b: bigint): bigint => (a < b ? a : b);

/**
 * Adjudicates `claim` under `policy` given the policy year's `state` (order and rules: see the module header).
 *
 * @example
 * const r = adjudicate(policy, claim, { deductibleUsed: hkd(0n), paidThisYear: hkd(0n), paidClaimIds: new Set() },
 *   { codeMap: SEED_CODE_MAP, now: 1_767_225_600 });
 * // r.decision 'approved' | 'partial' | 'rejected'; r.payable + r.patientShare == r.total; store r.nextState
 * @throws ProofError MR_ERR_CLAIM_INVALID (details.field names the bad field: negative/fractional/non-bigint
 *   amounts, unknown currency, empty items, mixed item currencies, malformed claim id or pseudonym, a claim for
 *   another policy, a malformed policy, state or options), MR_ERR_CODEMAP_INVALID (options.codeMap)
 */
export function adjudicate(
  policy: Policy,
  claim: Claim,
  state: PolicyYearState,
  options: AdjudicateOptions,
): Adjudication {
  const p = checkPolicy(policy);
  const c = checkClaim(claim, p);
  const s = checkState(state, p);
  const { codeMap, now } = checkOptions(options);

  const cur = c.currency;
  const totalMinor = c.items.reduce((sum, it) => sum + it.amount.minor, 0n);
  if (totalMinor > MAX_MINOR) invalid('claim.items', 'the sum of the items is above MAX_MINOR (2^128 − 1)');
  const total = mk(cur, totalMinor);

  const reject = (code: ReasonCode, message: string): Adjudication => ({
    decision: 'rejected',
    payable: mk(cur, 0n),
    patientShare: total,
    total,
    reasons: [{ code, message }],
    nextState: { ...s, paidClaimIds: new Set(s.paidClaimIds) },
  });

  const unmappedMessage = (list: 'covered' | 'excluded', other: Coding): string =>
    `diagnosis ${fmtCoding(c.diagnosis)} cannot be compared with ${list} code ${fmtCoding(other)}: ` +
    (codeMap
      ? `the code map ${codeMap.url}|${codeMap.version} has no mapping for it to ${other.system}`
      : 'no code map was given');

  // 1. Dates.
  if (c.serviceDate > now)
    return reject('SERVICE_DATE_IN_FUTURE', `service date ${c.serviceDate} is after now (${now})`);
  if (c.serviceDate < p.validFrom)
    return reject(
      'POLICY_NOT_YET_VALID',
      `policy ${p.policyId} starts at ${p.validFrom}; the service date ${c.serviceDate} is before it`,
    );
  if (c.serviceDate >= p.validUntil)
    return reject(
      'POLICY_EXPIRED',
      `policy ${p.policyId} ended at ${p.validUntil}; the service date ${c.serviceDate} is not covered`,
    );

  // 2. Duplicate.
  if (s.paidClaimIds.has(c.claimId))
    return reject(
      'CLAIM_DUPLICATE',
      `claim ${c.claimId} has already been settled; a claim id is paid only once`,
    );

  // 3. Currency.
  if (cur !== p.currency)
    return reject('CURRENCY_MISMATCH', `claim is in ${cur}; policy ${p.policyId} pays in ${p.currency}`);

  // 4. Coverage.
  const covered = matchAny(c.diagnosis, p.coveredCodes, codeMap);
  if (covered.kind !== 'match') {
    if (covered.kind === 'unmapped') return reject('CODE_UNMAPPED', unmappedMessage('covered', covered.code));
    return reject(
      'NOT_COVERED',
      `diagnosis ${fmtCoding(c.diagnosis)} is not covered by policy ${p.policyId}`,
    );
  }

  // 5. Exclusion.
  const excluded = matchAny(c.diagnosis, p.excludedCodes ?? [], codeMap);
  if (excluded.kind === 'match')
    return reject(
      'EXCLUDED',
      `diagnosis ${fmtCoding(c.diagnosis)} is excluded by policy ${p.policyId} (${fmtCoding(excluded.code)})`,
    );
  if (excluded.kind === 'unmapped')
    return reject('CODE_UNMAPPED', unmappedMessage('excluded', excluded.code));

  // 6–10. Amounts.
  const reasons: AdjudicationReason[] = [];
  if (totalMinor === 0n) reasons.push({ code: 'ZERO_TOTAL', message: 'the items total 0; nothing to pay' });

  const deductibleLeft =
    p.deductible.minor > s.deductibleUsed.minor ? p.deductible.minor - s.deductibleUsed.minor : 0n;
  const deductiblePart = min(totalMinor, deductibleLeft);
  if (deductiblePart > 0n)
    reasons.push({
      code: 'DEDUCTIBLE_APPLIED',
      message: `${fmtMoney(mk(cur, deductiblePart))} goes to the deductible (${fmtMoney(mk(cur, deductibleLeft - deductiblePart))} of it left this policy year)`,
    });
  const afterDeductible = totalMinor - deductiblePart;

  const coPay = percentOf(mk(cur, afterDeductible), p.coPayBasisPoints).minor;
  if (coPay > 0n)
    reasons.push({
      code: 'COPAY_APPLIED',
      message: `co-pay of ${p.coPayBasisPoints} bp: ${fmtMoney(mk(cur, coPay))} (rounded half to even on the minor unit)`,
    });
  const share = afterDeductible - coPay;

  let payable = share;
  if (payable > p.perClaimLimit.minor) {
    reasons.push({
      code: 'PER_CLAIM_LIMIT',
      message: `the insurer's share ${fmtMoney(mk(cur, payable))} is cut to the per-claim limit ${fmtMoney(p.perClaimLimit)}`,
    });
    payable = p.perClaimLimit.minor;
  }
  const capLeft = p.annualCap.minor > s.paidThisYear.minor ? p.annualCap.minor - s.paidThisYear.minor : 0n;
  if (payable > capLeft) {
    reasons.push({
      code: 'ANNUAL_CAP',
      message:
        capLeft === 0n
          ? `the annual cap ${fmtMoney(p.annualCap)} has been reached; nothing more is paid this policy year`
          : `${fmtMoney(mk(cur, payable))} is cut to ${fmtMoney(mk(cur, capLeft))}, what is left of the annual cap ${fmtMoney(p.annualCap)}`,
    });
    payable = capLeft;
  }

  const decision: Decision = payable === 0n ? 'rejected' : payable === share ? 'approved' : 'partial';
  const paidClaimIds = new Set(s.paidClaimIds);
  paidClaimIds.add(c.claimId);
  return {
    decision,
    payable: mk(cur, payable),
    patientShare: mk(cur, totalMinor - payable),
    total,
    reasons,
    nextState: {
      deductibleUsed: mk(cur, s.deductibleUsed.minor + deductiblePart),
      paidThisYear: mk(cur, s.paidThisYear.minor + payable),
      paidClaimIds,
    },
  };
}

/** The state at the start of a policy year. */
export function emptyPolicyYearState(currency: Currency): PolicyYearState {
  return { deductibleUsed: mk(currency, 0n), paidThisYear: mk(currency, 0n), paidClaimIds: new Set() };
}
