/**
 * Deterministic, realistic FHIR R4 fixtures for the records tests and bench: a Bundle with a Patient, an
 * Encounter, Conditions coded in ICD-10 and SNOMED CT (I10 / 59621000, E11.9 / 44054006), LOINC-coded
 * Observations (HbA1c 4548-4, glucose 2345-7, haemoglobin 718-7, blood pressure 8480-6 / 8462-4, …), a
 * MedicationRequest, an AllergyIntolerance and an Immunization. `bundleOfSize` adds Observations until the
 * JSON reaches a target size (e.g. ~50 KB). Every code used here passes codes.ts (the tests check that).
 */
import type { FhirResource } from '../../proofs/records/fhir.js';
import { rng } from './random.js';

export const ICD10 = 'http://hl7.org/fhir/sid/icd-10';
export const SCT = 'http://snomed.info/sct';
export const LOINC = 'http://loinc.org';
const UCUM = 'http://unitsofmeasure.org';
const RXNORM = 'http://www.nlm.nih.gov/research/umls/rxnorm';

/** LOINC lab/vital codes with unit and a plausible value range. */
export const LOINC_PANEL = [
  { code: '4548-4', display: 'Hemoglobin A1c/Hemoglobin.total in Blood', unit: '%', lo: 4.8, hi: 9.5 },
  { code: '2345-7', display: 'Glucose [Mass/volume] in Serum or Plasma', unit: 'mg/dL', lo: 70, hi: 220 },
  { code: '718-7', display: 'Hemoglobin [Mass/volume] in Blood', unit: 'g/dL', lo: 11, hi: 17 },
  { code: '8480-6', display: 'Systolic blood pressure', unit: 'mm[Hg]', lo: 105, hi: 170 },
  { code: '8462-4', display: 'Diastolic blood pressure', unit: 'mm[Hg]', lo: 60, hi: 105 },
  {
    code: '2093-3',
    display: 'Cholesterol [Mass/volume] in Serum or Plasma',
    unit: 'mg/dL',
    lo: 140,
    hi: 280,
  },
  { code: '39156-5', display: 'Body mass index (BMI) [Ratio]', unit: 'kg/m2', lo: 19, hi: 38 },
  { code: '29463-7', display: 'Body weight', unit: 'kg', lo: 48, hi: 120 },
  { code: '8867-4', display: 'Heart rate', unit: '/min', lo: 52, hi: 110 },
] as const;

export interface BundleOptions {
  seed?: number;
  /** Number of Observations (default 6). */
  observations?: number;
}

const round = (x: number, digits: number) => Math.round(x * 10 ** digits) / 10 ** digits;

export function patient(id = 'pat-001'): FhirResource {
  return {
    resourceType: 'Patient',
    id,
    meta: {
      lastUpdated: '2025-03-14T09:26:53Z',
      profile: ['http://hl7.org/fhir/StructureDefinition/Patient'],
    },
    identifier: [
      {
        use: 'official',
        system: 'urn:oid:1.2.36.146.595.217.0.1',
        value: '12345-MRN',
        type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'MR' }] },
      },
    ],
    active: true,
    name: [{ use: 'official', family: 'Müller', given: ['Anna', 'Maria'] }],
    telecom: [{ system: 'phone', value: '+41 44 555 01 23', use: 'mobile' }],
    gender: 'female',
    birthDate: '1968-04-12',
    address: [{ line: ['Bahnhofstrasse 1'], city: 'Zürich', postalCode: '8001', country: 'CH' }],
  };
}

export function condition(
  id: string,
  icd: { code: string; display: string },
  sct?: { code: string; display: string },
): FhirResource {
  const coding: Record<string, string>[] = [{ system: ICD10, code: icd.code, display: icd.display }];
  if (sct) coding.push({ system: SCT, code: sct.code, display: sct.display });
  return {
    resourceType: 'Condition',
    id,
    clinicalStatus: {
      coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: 'active' }],
    },
    verificationStatus: {
      coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-ver-status', code: 'confirmed' }],
    },
    category: [
      {
        coding: [
          { system: 'http://terminology.hl7.org/CodeSystem/condition-category', code: 'problem-list-item' },
        ],
      },
    ],
    code: { coding, text: icd.display },
    subject: { reference: 'Patient/pat-001' },
    onsetDateTime: '2019-06-02',
    recordedDate: '2019-06-03',
  };
}

export function observation(id: string, i: number, r: () => number): FhirResource {
  const p = LOINC_PANEL[i % LOINC_PANEL.length]!;
  return {
    resourceType: 'Observation',
    id,
    status: 'final',
    category: [
      {
        coding: [
          {
            system: 'http://terminology.hl7.org/CodeSystem/observation-category',
            code: p.unit === '%' || p.unit.includes('/dL') ? 'laboratory' : 'vital-signs',
          },
        ],
      },
    ],
    code: { coding: [{ system: LOINC, code: p.code, display: p.display }], text: p.display },
    subject: { reference: 'Patient/pat-001' },
    encounter: { reference: 'Encounter/enc-001' },
    effectiveDateTime: `2025-03-${String(1 + (i % 28)).padStart(2, '0')}T08:${String(i % 60).padStart(2, '0')}:00Z`,
    issued: '2025-03-14T09:00:00.000Z',
    valueQuantity: { value: round(p.lo + r() * (p.hi - p.lo), 1), unit: p.unit, system: UCUM, code: p.unit },
    interpretation: [
      {
        coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation', code: 'N' }],
      },
    ],
  };
}

function fixedResources(): FhirResource[] {
  return [
    patient(),
    {
      resourceType: 'Encounter',
      id: 'enc-001',
      status: 'finished',
      class: {
        system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode',
        code: 'AMB',
        display: 'ambulatory',
      },
      subject: { reference: 'Patient/pat-001' },
      period: { start: '2025-03-14T08:00:00Z', end: '2025-03-14T08:45:00Z' },
    },
    condition(
      'cond-htn',
      { code: 'I10', display: 'Essential (primary) hypertension' },
      { code: '59621000', display: 'Essential hypertension' },
    ),
    condition(
      'cond-dm2',
      { code: 'E11.9', display: 'Type 2 diabetes mellitus without complications' },
      { code: '44054006', display: 'Diabetes mellitus type 2' },
    ),
    {
      resourceType: 'MedicationRequest',
      id: 'medrx-001',
      status: 'active',
      intent: 'order',
      medicationCodeableConcept: {
        coding: [{ system: RXNORM, code: '860975', display: 'metformin hydrochloride 500 MG Oral Tablet' }],
      },
      subject: { reference: 'Patient/pat-001' },
      authoredOn: '2025-03-14',
      dosageInstruction: [
        {
          text: '500 mg twice daily with meals',
          timing: { repeat: { frequency: 2, period: 1, periodUnit: 'd' } },
        },
      ],
    },
    {
      resourceType: 'AllergyIntolerance',
      id: 'allergy-001',
      clinicalStatus: {
        coding: [
          { system: 'http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical', code: 'active' },
        ],
      },
      code: { coding: [{ system: SCT, code: '91936005', display: 'Allergy to penicillin' }] },
      patient: { reference: 'Patient/pat-001' },
      criticality: 'high',
    },
    {
      resourceType: 'Immunization',
      id: 'imm-001',
      status: 'completed',
      vaccineCode: {
        coding: [{ system: 'http://hl7.org/fhir/sid/cvx', code: '140' }],
        text: 'Influenza, seasonal',
      },
      patient: { reference: 'Patient/pat-001' },
      occurrenceDateTime: '2024-10-20',
      primarySource: true,
    },
  ];
}

/** A realistic collection Bundle (entry 0 Patient, 1 Encounter, 2 Condition I10, 3 Condition E11.9, …). */
export function makeBundle(options: BundleOptions = {}): FhirResource {
  const r = rng(options.seed ?? 1);
  const resources = fixedResources();
  const n = options.observations ?? 6;
  for (let i = 0; i < n; i++) resources.push(observation(`obs-${String(i + 1).padStart(4, '0')}`, i, r.next));
  return {
    resourceType: 'Bundle',
    id: `bundle-${options.seed ?? 1}`,
    type: 'collection',
    timestamp: '2025-03-14T09:30:00Z',
    entry: resources.map((resource, i) => ({
      fullUrl: `urn:uuid:00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
      resource,
    })),
  };
}

/** The smallest Bundle (by Observation count) whose compact JSON is at least `bytes` long, e.g. 50_000. */
export function bundleOfSize(bytes: number, seed = 1): FhirResource {
  const size = (n: number) => JSON.stringify(makeBundle({ seed, observations: n })).length;
  const base = size(0);
  const per = (size(20) - base) / 20;
  let n = Math.max(0, Math.ceil((bytes - base) / per));
  while (size(n) < bytes) n++;
  while (n > 0 && size(n - 1) >= bytes) n--;
  return makeBundle({ seed, observations: n });
}
