/**
 * Seed consents (FHIR R4 `Consent`, built with `buildConsent`) for the flows medrelay demonstrates, and the
 * access requests that must be permitted or denied against them. Shared by the unit tests and bench/consent.ts
 * so the benchmark measures exactly the cases the tests pin.
 *
 *  (a) labs for claims: insurer X may read the last 6 months of lab results, for a claim, for one month.
 *  (b) referral summary: hospital B may read the referral note / summary of episode, for treatment.
 *  (c) labs except HIV: (a) with a nested deny exception for HIV tests (LOINC 75622-1).
 *
 * Month arithmetic is calendar months in UTC, clamped to the month's last day (Aug 31 − 6 months = Feb 28/29).
 */
import { patientPseudonym } from '../records/anchor.js';
import { type CodeableConcept, type Consent, type ConsentProvision, SYSTEMS } from './consent.js';
import {
  buildConsent,
  type ConsentRequest,
  type DecisionCode,
  type EvaluateOptions,
  type RequestCoding,
} from './evaluate.js';

/** Grant date of the seeds (a fixed instant, so tests and benches are reproducible). */
export const SEED_GRANTED_AT = '2025-01-15T09:00:00.000Z';

/** Demo patient: the records.md pseudonym of MRN-0001 at hospital A under a fixed (demo-only) secret. */
export const SEED_PATIENT = `Patient/${patientPseudonym(new Uint8Array(32).fill(0x11), 'https://hospital-a.example/mrn', 'MRN-0001').slice(2)}`;

export const loinc = (code: string, display?: string): RequestCoding =>
  display === undefined ? { system: SYSTEMS.loinc, code } : { system: SYSTEMS.loinc, code, display };
export const actReason = (code: string): RequestCoding => ({ system: SYSTEMS.actReason, code });
export const obsCategory = (code: string): RequestCoding => ({ system: SYSTEMS.observationCategory, code });

/** "Laboratory results": LOINC 26436-6 (Laboratory studies) or observation-category `laboratory`. */
export const LAB_RESULTS: CodeableConcept = {
  coding: [loinc('26436-6', 'Laboratory studies (set)'), obsCategory('laboratory')],
  text: 'Laboratory results',
};
export const REFERRAL_NOTE = loinc('57133-1', 'Referral note');
export const EPISODE_SUMMARY = loinc('34133-9', 'Summary of episode note');
export const HIV_TESTS = loinc('75622-1', 'HIV 1 and 2 tests - Meaningful Use set');

/** `d` plus `n` calendar months (UTC), clamped to the last day of the target month. */
export function addMonthsUTC(d: Date | string, n: number): Date {
  const t = new Date(d);
  const day = t.getUTCDate();
  const out = new Date(t);
  out.setUTCDate(1);
  out.setUTCMonth(out.getUTCMonth() + n);
  const last = new Date(Date.UTC(out.getUTCFullYear(), out.getUTCMonth() + 1, 0)).getUTCDate();
  out.setUTCDate(Math.min(day, last));
  return out;
}

export interface SeedParams {
  /** @defaultValue `SEED_PATIENT` */
  patient?: string;
  /** @defaultValue `SEED_GRANTED_AT` */
  grantedAt?: string | Date;
}

/** (a) insurer X may read the last 6 months of lab results for claims (CLMATTCH), for one month. */
export function labsForClaimsConsent(
  p: SeedParams & { insurer?: string; exceptions?: ConsentProvision[] } = {},
): Consent {
  const patient = p.patient ?? SEED_PATIENT;
  const granted = new Date(p.grantedAt ?? SEED_GRANTED_AT);
  return buildConsent({
    patient,
    performer: patient, // the patient agrees
    organization: 'Organization/hospital-a', // the custodian of the records
    recipient: p.insurer ?? 'Organization/insurer-x',
    purpose: 'CLMATTCH',
    classes: ['Observation'],
    codes: [LAB_RESULTS],
    dataPeriod: { start: addMonthsUTC(granted, -6), end: granted },
    period: { start: granted, end: addMonthsUTC(granted, 1) },
    ...(p.exceptions ? { exceptions: p.exceptions } : {}),
  });
}

/** (b) hospital B may read the referral summary (referral note or summary of episode), for treatment, 3 months. */
export function referralSummaryConsent(p: SeedParams = {}): Consent {
  const patient = p.patient ?? SEED_PATIENT;
  const granted = new Date(p.grantedAt ?? SEED_GRANTED_AT);
  return buildConsent({
    patient,
    performer: patient,
    organization: 'Organization/hospital-a',
    recipient: 'Organization/hospital-b',
    purpose: 'TREAT',
    classes: ['DocumentReference', 'Composition'],
    codes: [REFERRAL_NOTE, EPISODE_SUMMARY],
    period: { start: granted, end: addMonthsUTC(granted, 3) },
  });
}

/** (c) as (a), with a nested deny exception: never HIV tests (LOINC 75622-1). */
export function labsExceptHivConsent(p: SeedParams = {}): Consent {
  return labsForClaimsConsent({ ...p, exceptions: [{ type: 'deny', code: [{ coding: [HIV_TESTS] }] }] });
}

export type SeedName = 'labsForClaims' | 'referralSummary' | 'labsExceptHiv';

export function seedConsents(p: SeedParams = {}): Record<SeedName, Consent> {
  return {
    labsForClaims: labsForClaimsConsent(p),
    referralSummary: referralSummaryConsent(p),
    labsExceptHiv: labsExceptHivConsent(p),
  };
}

export interface SeedCase {
  name: string;
  consent: SeedName;
  request: ConsentRequest;
  opts?: EvaluateOptions;
  expect: { decision: 'permit' | 'deny'; code: DecisionCode };
}

const GLUCOSE = loinc('2345-7', 'Glucose [Mass/volume] in Serum or Plasma');
const HBA1C = loinc('4548-4', 'Hemoglobin A1c/Hemoglobin.total in Blood');
const HEART_RATE = loinc('8867-4', 'Heart rate');
const HIV1_AB = loinc('7917-8', 'HIV 1 Ab [Presence] in Serum');
const IMAGING_STUDY = loinc('18748-4', 'Diagnostic imaging study');

/**
 * Access requests against the seeds with the decision each must get. Access happens a week after the grant;
 * "2 months ago" / "8 months ago" are relative to the access. Codes carry a lab result's category as well as
 * its test code, as a relayer builds them from `Observation.category` and `Observation.code`.
 */
export function seedCases(p: SeedParams = {}): SeedCase[] {
  const granted = new Date(p.grantedAt ?? SEED_GRANTED_AT);
  const at = new Date(granted.getTime() + 7 * 86_400_000);
  const ago = (months: number) => addMonthsUTC(at, -months).toISOString().slice(0, 10);
  const labs = (codes: RequestCoding[], date = ago(2)) => ({
    class: 'Observation',
    codes: [obsCategory('laboratory'), ...codes],
    date,
  });
  const insurer = (over: Partial<ConsentRequest> = {}): ConsentRequest => ({
    actor: 'Organization/insurer-x',
    purpose: actReason('CLMATTCH'),
    data: labs([GLUCOSE]),
    at,
    ...over,
  });
  const hospitalB = (over: Partial<ConsentRequest> = {}): ConsentRequest => ({
    actor: 'Organization/hospital-b',
    purpose: actReason('TREAT'),
    data: { class: 'DocumentReference', codes: [REFERRAL_NOTE] },
    at,
    ...over,
  });
  const permit = { decision: 'permit', code: 'PERMIT' } as const;
  const denied = (code: DecisionCode) => ({ decision: 'deny', code }) as const;
  const hiv1Matcher = {
    // Stand-in for a terminology service: LOINC 7917-8 is a member of the 75622-1 HIV test set.
    codeMatcher: (d: RequestCoding, c: RequestCoding) =>
      d.system === SYSTEMS.loinc && c.system === SYSTEMS.loinc && d.code === '7917-8' && c.code === '75622-1',
  };
  return [
    // (a) labs for claims
    {
      name: 'a: insurer-x, CLMATTCH, lab 2 months ago',
      consent: 'labsForClaims',
      request: insurer(),
      expect: permit,
    },
    {
      name: 'a: lab coded by LOINC category 26436-6 only',
      consent: 'labsForClaims',
      request: insurer({ data: { class: 'Observation', codes: [loinc('26436-6')], date: ago(1) } }),
      expect: permit,
    },
    {
      name: 'a: HbA1c at the start of the data period',
      consent: 'labsForClaims',
      request: insurer({ data: labs([HBA1C], addMonthsUTC(granted, -6).toISOString()) }),
      expect: permit,
    },
    {
      name: 'a: insurer-y',
      consent: 'labsForClaims',
      request: insurer({ actor: 'Organization/insurer-y' }),
      expect: denied('DENY_ACTOR'),
    },
    {
      name: 'a: purpose TREAT',
      consent: 'labsForClaims',
      request: insurer({ purpose: actReason('TREAT') }),
      expect: denied('DENY_PURPOSE'),
    },
    {
      name: 'a: action disclose',
      consent: 'labsForClaims',
      request: insurer({ action: 'disclose' }),
      expect: denied('DENY_ACTION'),
    },
    {
      name: 'a: lab 8 months ago',
      consent: 'labsForClaims',
      request: insurer({ data: labs([GLUCOSE], ago(8)) }),
      expect: denied('DENY_DATA_PERIOD'),
    },
    {
      name: 'a: lab taken after the grant',
      consent: 'labsForClaims',
      request: insurer({ data: labs([GLUCOSE], at.toISOString().slice(0, 10)) }),
      expect: denied('DENY_DATA_PERIOD'),
    },
    {
      name: 'a: non-lab class (Condition)',
      consent: 'labsForClaims',
      request: insurer({
        data: { class: 'Condition', codes: [{ system: SYSTEMS.icd10, code: 'E11.9' }], date: ago(2) },
      }),
      expect: denied('DENY_CLASS'),
    },
    {
      name: 'a: non-lab Observation (vital signs)',
      consent: 'labsForClaims',
      request: insurer({
        data: { class: 'Observation', codes: [obsCategory('vital-signs'), HEART_RATE], date: ago(2) },
      }),
      expect: denied('DENY_CODE'),
    },
    {
      name: 'a: request without data date',
      consent: 'labsForClaims',
      request: insurer({ data: { class: 'Observation', codes: [obsCategory('laboratory'), GLUCOSE] } }),
      expect: denied('DENY_UNDETERMINED'),
    },
    {
      name: 'a: one month after the grant (last instant)',
      consent: 'labsForClaims',
      request: insurer({ at: addMonthsUTC(granted, 1) }),
      expect: permit,
    },
    {
      name: 'a: after one month (expired)',
      consent: 'labsForClaims',
      request: insurer({ at: new Date(addMonthsUTC(granted, 1).getTime() + 1) }),
      expect: denied('DENY_EXPIRED'),
    },
    {
      name: 'a: before the grant',
      consent: 'labsForClaims',
      request: insurer({ at: new Date(granted.getTime() - 1) }),
      expect: denied('DENY_NOT_YET_VALID'),
    },
    {
      name: 'a: revoked on chain',
      consent: 'labsForClaims',
      request: insurer(),
      opts: { revoked: true },
      expect: denied('DENY_REVOKED'),
    },
    // (b) referral summary
    {
      name: 'b: hospital-b, referral note',
      consent: 'referralSummary',
      request: hospitalB(),
      expect: permit,
    },
    {
      name: 'b: hospital-b, summary of episode (Composition)',
      consent: 'referralSummary',
      request: hospitalB({ data: { class: 'Composition', codes: [EPISODE_SUMMARY] } }),
      expect: permit,
    },
    {
      name: 'b: hospital-b, emergency treatment (ETREAT is-a TREAT)',
      consent: 'referralSummary',
      request: hospitalB({ purpose: actReason('ETREAT') }),
      expect: permit,
    },
    {
      name: 'b: hospital-c',
      consent: 'referralSummary',
      request: hospitalB({ actor: 'Organization/hospital-c' }),
      expect: denied('DENY_ACTOR'),
    },
    {
      name: 'b: another document (imaging study)',
      consent: 'referralSummary',
      request: hospitalB({ data: { class: 'DocumentReference', codes: [IMAGING_STUDY] } }),
      expect: denied('DENY_CODE'),
    },
    {
      name: 'b: referral code on another class (Observation)',
      consent: 'referralSummary',
      request: hospitalB({ data: { class: 'Observation', codes: [REFERRAL_NOTE] } }),
      expect: denied('DENY_CLASS'),
    },
    // (c) labs except HIV
    { name: 'c: glucose', consent: 'labsExceptHiv', request: insurer(), expect: permit },
    {
      name: 'c: HIV test set 75622-1',
      consent: 'labsExceptHiv',
      request: insurer({ data: labs([HIV_TESTS]) }),
      expect: denied('DENY_EXCEPTION'),
    },
    {
      name: 'c: HIV 1 Ab 7917-8 through a code matcher',
      consent: 'labsExceptHiv',
      request: insurer({ data: labs([HIV1_AB]) }),
      opts: hiv1Matcher,
      expect: denied('DENY_EXCEPTION'),
    },
    {
      name: 'c: glucose through the same matcher',
      consent: 'labsExceptHiv',
      request: insurer(),
      opts: hiv1Matcher,
      expect: permit,
    },
  ];
}
