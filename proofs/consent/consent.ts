/**
 * FHIR R4 `Consent` (http://hl7.org/fhir/R4/consent.html), the subset medrelay relays and enforces:
 * parse + validate, fail closed. Pure: no I/O, no clock.
 *
 * What medrelay adds to R4 (docs/records.md, DESIGN "Consent"):
 *  - `patient` is REQUIRED and must be the pseudonym `Patient/<64 lowercase hex>` (HMAC-SHA256, records.md); a
 *    `display` or `identifier` on it is refused, because a consent travels between chains and must not carry PII.
 *  - the root `provision` is REQUIRED, with a `type` and a validity `period` holding both `start` and `end`:
 *    an open-ended consent is refused, so every grant expires on its own.
 *  - every provision (root and nested) states its `type`; every Coding states `system` and `code`; actions must
 *    carry a `consentaction` coding and classes from `resource-types` must name an R4 resource type — a typo in
 *    a deny exception would otherwise silently never match and leak the data it was meant to hide.
 *  - `modifierExtension` and `implicitRules` are refused anywhere: FHIR says a reader that does not understand a
 *    modifier must not process the resource. `text` and `contained` are refused too: narrative and contained
 *    Patients carry identity. Other R4 Consent elements outside the subset (`meta`, `language`, `identifier`,
 *    `policy`, `source[x]`, `verification`, `extension`) are kept verbatim and ignored.
 *
 * Errors: one `ProofError` listing EVERY problem with its FHIR path (`Consent.provision.actor[0].reference: …`);
 * `details.path` holds the paths, comma-separated. The code is `MR_ERR_CONSENT_NO_PATIENT` or
 * `MR_ERR_CONSENT_NO_PERIOD` when that is the only problem, else `MR_ERR_CONSENT_INVALID`.
 *
 * Dates (FHIR `dateTime`: YYYY, YYYY-MM, YYYY-MM-DD or YYYY-MM-DDThh:mm:ss[.fff…](Z|±hh:mm)) are intervals:
 * a partial date covers its whole unit, read in UTC (FHIR leaves the zone of a partial date open; medrelay
 * fixes it so every relayer computes the same bounds). A period's `start` is the first instant of its value and
 * its `end` the last (FHIR: "the end value includes any matching date/time"), so `end: "2025-02"` runs through
 * 2025-02-28T23:59:59.999Z and `end: "…T10:00:00Z"` through 10:00:00.999.
 */
import { MedrelayError, ProofError } from '../errors.js';
import { checkCode, isKnownCodeSystem } from '../records/codes.js';

export const CONSENT_STATUSES = [
  'draft',
  'proposed',
  'active',
  'rejected',
  'inactive',
  'entered-in-error',
] as const;
export type ConsentStatus = (typeof CONSENT_STATUSES)[number];

export const PROVISION_TYPES = ['deny', 'permit'] as const;
export type ProvisionType = (typeof PROVISION_TYPES)[number];

/** http://terminology.hl7.org/CodeSystem/consentaction (R4). */
export const CONSENT_ACTIONS = ['collect', 'access', 'use', 'disclose', 'correct'] as const;
export type ConsentAction = (typeof CONSENT_ACTIONS)[number];

export const DATA_MEANINGS = ['instance', 'related', 'dependents', 'authoredby'] as const;
export type DataMeaning = (typeof DATA_MEANINGS)[number];

export const SYSTEMS = {
  consentScope: 'http://terminology.hl7.org/CodeSystem/consentscope',
  consentAction: 'http://terminology.hl7.org/CodeSystem/consentaction',
  actReason: 'http://terminology.hl7.org/CodeSystem/v3-ActReason',
  actCode: 'http://terminology.hl7.org/CodeSystem/v3-ActCode',
  participationType: 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType',
  resourceTypes: 'http://hl7.org/fhir/resource-types',
  observationCategory: 'http://terminology.hl7.org/CodeSystem/observation-category',
  loinc: 'http://loinc.org',
  snomed: 'http://snomed.info/sct',
  icd10: 'http://hl7.org/fhir/sid/icd-10',
  icd10cm: 'http://hl7.org/fhir/sid/icd-10-cm',
} as const;

/** consentscope codes (R4). medrelay requires one of them in `scope`. */
export const CONSENT_SCOPES = ['adr', 'research', 'patient-privacy', 'treatment'] as const;

/** R4 (4.0.1) resource types, the codes of http://hl7.org/fhir/resource-types. */
export const R4_RESOURCE_TYPES: ReadonlySet<string> = new Set(
  (
    'Account ActivityDefinition AdverseEvent AllergyIntolerance Appointment AppointmentResponse AuditEvent Basic ' +
    'Binary BiologicallyDerivedProduct BodyStructure Bundle CapabilityStatement CarePlan CareTeam CatalogEntry ' +
    'ChargeItem ChargeItemDefinition Claim ClaimResponse ClinicalImpression CodeSystem Communication ' +
    'CommunicationRequest CompartmentDefinition Composition ConceptMap Condition Consent Contract Coverage ' +
    'CoverageEligibilityRequest CoverageEligibilityResponse DetectedIssue Device DeviceDefinition DeviceMetric ' +
    'DeviceRequest DeviceUseStatement DiagnosticReport DocumentManifest DocumentReference DomainResource ' +
    'EffectEvidenceSynthesis Encounter Endpoint EnrollmentRequest EnrollmentResponse EpisodeOfCare ' +
    'EventDefinition Evidence EvidenceVariable ExampleScenario ExplanationOfBenefit FamilyMemberHistory Flag Goal ' +
    'GraphDefinition Group GuidanceResponse HealthcareService ImagingStudy Immunization ImmunizationEvaluation ' +
    'ImmunizationRecommendation ImplementationGuide InsurancePlan Invoice Library Linkage List Location Measure ' +
    'MeasureReport Media Medication MedicationAdministration MedicationDispense MedicationKnowledge ' +
    'MedicationRequest MedicationStatement MedicinalProduct MedicinalProductAuthorization ' +
    'MedicinalProductContraindication MedicinalProductIndication MedicinalProductIngredient ' +
    'MedicinalProductInteraction MedicinalProductManufactured MedicinalProductPackaged ' +
    'MedicinalProductPharmaceutical MedicinalProductUndesirableEffect MessageDefinition MessageHeader ' +
    'MolecularSequence NamingSystem NutritionOrder Observation ObservationDefinition OperationDefinition ' +
    'OperationOutcome Organization OrganizationAffiliation Parameters Patient PaymentNotice ' +
    'PaymentReconciliation Person PlanDefinition Practitioner PractitionerRole Procedure Provenance ' +
    'Questionnaire QuestionnaireResponse RelatedPerson RequestGroup ResearchDefinition ResearchElementDefinition ' +
    'ResearchStudy ResearchSubject Resource RiskAssessment RiskEvidenceSynthesis Schedule SearchParameter ' +
    'ServiceRequest Slot Specimen SpecimenDefinition StructureDefinition StructureMap Subscription Substance ' +
    'SubstanceNucleicAcid SubstancePolymer SubstanceProtein SubstanceReferenceInformation ' +
    'SubstanceSourceMaterial SubstanceSpecification SupplyDelivery SupplyRequest Task TerminologyCapabilities ' +
    'TestReport TestScript ValueSet VerificationResult VisionPrescription'
  ).split(' '),
);

/** Medrelay requires `system` and `code`: an uncoded or system-less coding cannot be matched safely. */
export interface Coding {
  system: string;
  code: string;
  version?: string;
  display?: string;
  userSelected?: boolean;
}

export interface CodeableConcept {
  coding?: Coding[];
  text?: string;
}

/** Medrelay references are relative literal references `Type/id` (matched as strings). */
export interface Reference {
  reference: string;
  type?: string;
  display?: string;
}

export interface Period {
  start?: string;
  end?: string;
}

export interface ConsentActor {
  role: CodeableConcept;
  reference: Reference;
}

export interface ConsentData {
  meaning: DataMeaning;
  reference: Reference;
}

export interface ConsentProvision {
  type: ProvisionType;
  period?: Period;
  actor?: ConsentActor[];
  action?: CodeableConcept[];
  securityLabel?: Coding[];
  purpose?: Coding[];
  class?: Coding[];
  code?: CodeableConcept[];
  dataPeriod?: Period;
  data?: ConsentData[];
  provision?: ConsentProvision[];
}

/** The root provision: its validity period, with both ends, is required by medrelay. */
export interface RootProvision extends ConsentProvision {
  period: { start: string; end: string };
}

/** A validated FHIR R4 Consent (deep-frozen by `parseConsent`). Elements outside the subset are kept verbatim. */
export interface Consent {
  resourceType: 'Consent';
  id: string;
  status: ConsentStatus;
  scope: CodeableConcept;
  category: CodeableConcept[];
  patient: Reference;
  dateTime?: string;
  performer?: Reference[];
  organization?: Reference[];
  policyRule?: CodeableConcept;
  provision: RootProvision;
  readonly [element: string]: unknown;
}

/** One problem found by `parseConsent`. */
export interface ConsentIssue {
  path: string;
  message: string;
  code: 'MR_ERR_CONSENT_INVALID' | 'MR_ERR_CONSENT_NO_PATIENT' | 'MR_ERR_CONSENT_NO_PERIOD';
}

/**
 * Optional extra check for codings of known code systems (LOINC check digit, SNOMED Verhoeff, ICD-10 shape);
 * return a message to refuse the coding, `undefined` to accept it. medrelay wires proofs/records/codes.ts here.
 */
export type CodingCheck = (system: string, code: string) => string | undefined;

/**
 * The default `CodingCheck`: proofs/records/codes.ts `checkCode` for the systems it knows (ICD-10, ICD-10-CM,
 * SNOMED CT, LOINC); codings of other systems pass. A mistyped LOINC in a deny exception would never match the
 * data it was written to hide, so it is refused up front.
 */
export const recordsCodingCheck: CodingCheck = (system, code) => {
  if (!isKnownCodeSystem(system)) return undefined;
  try {
    checkCode(system, code);
    return undefined;
  } catch (err) {
    if (err instanceof MedrelayError) return `${err.message} (${err.code})`;
    throw err;
  }
};

export interface ParseConsentOptions {
  /**
   * Validates `system`+`code` of clinical codings (`provision.code`, `category`); `false` turns it off.
   * @defaultValue `recordsCodingCheck`
   */
  checkCoding?: CodingCheck | false;
}

// ---------------------------------------------------------------------------------------------------------
// FHIR dateTime

/** Inclusive interval in epoch milliseconds covered by a FHIR dateTime value. */
export interface DateBounds {
  /** First millisecond covered. */
  start: number;
  /** Last millisecond covered (inclusive). */
  end: number;
  precision: 'year' | 'month' | 'day' | 'instant';
}

// Shape per the R4 dateTime regex; ranges (month 01-12, day within month, tz ≤ 14:00) are checked after.
const DATE_TIME_RE =
  /^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2}))?)?)?$/;

function utc(y: number, mo: number, d: number, h = 0, mi = 0, s = 0): number {
  // Date.UTC maps years 0-99 to 1900-1999; set the full year explicitly.
  const dt = new Date(Date.UTC(2000, mo, d, h, mi, s));
  dt.setUTCFullYear(y, mo, d);
  return dt.getTime();
}

const daysInMonth = (y: number, m: number): number => (utc(y, m + 1, 1) - utc(y, m, 1)) / 86_400_000;

/**
 * Bounds of a FHIR R4 `dateTime`, or `undefined` when the text is not one. A time needs seconds and a zone
 * (FHIR: "if hours and minutes are specified, a time zone SHALL be populated"). A leap second (`:60`) is read
 * as the last millisecond of second 59 because epoch time has no slot for it.
 *
 * @example fhirDateTimeBounds('2025-02') // { start: Date.UTC(2025,1,1), end: Date.UTC(2025,2,1) - 1, precision: 'month' }
 */
export function fhirDateTimeBounds(value: string): DateBounds | undefined {
  if (typeof value !== 'string') return undefined;
  const m = DATE_TIME_RE.exec(value);
  if (!m) return undefined;
  const y = Number(m[1]);
  if (y < 1) return undefined;
  if (m[2] === undefined) return { start: utc(y, 0, 1), end: utc(y + 1, 0, 1) - 1, precision: 'year' };
  const mo = Number(m[2]) - 1;
  if (mo < 0 || mo > 11) return undefined;
  if (m[3] === undefined) return { start: utc(y, mo, 1), end: utc(y, mo + 1, 1) - 1, precision: 'month' };
  const d = Number(m[3]);
  if (d < 1 || d > daysInMonth(y, mo)) return undefined;
  if (m[4] === undefined) return { start: utc(y, mo, d), end: utc(y, mo, d + 1) - 1, precision: 'day' };
  const h = Number(m[4]);
  const mi = Number(m[5]);
  const s = Number(m[6]);
  if (h > 23 || mi > 59 || s > 60) return undefined;
  const tz = m[8]!;
  let offsetMin = 0;
  if (tz !== 'Z') {
    const th = Number(tz.slice(1, 3));
    const tm = Number(tz.slice(4, 6));
    if (tm > 59 || th > 14 || (th === 14 && tm !== 0)) return undefined;
    offsetMin = (tz[0] === '-' ? -1 : 1) * (th * 60 + tm);
  }
  const base = utc(y, mo, d, h, mi, Math.min(s, 59)) - offsetMin * 60_000;
  if (s === 60) return { start: base + 999, end: base + 999, precision: 'instant' };
  const frac = m[7] ?? '';
  // The value covers its last stated digit: "…:05Z" is the whole second, "…:05.5Z" a tenth of it.
  const ms = frac === '' ? 0 : Math.floor(Number(`0.${frac}`) * 1000);
  const unit = frac.length >= 3 ? 1 : 10 ** (3 - frac.length);
  return { start: base + ms, end: base + ms + unit - 1, precision: 'instant' };
}

// ---------------------------------------------------------------------------------------------------------
// validation

const FHIR_ID_RE = /^[A-Za-z0-9\-.]{1,64}$/;
const REFERENCE_RE = /^([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})$/;
const PSEUDONYM_RE = /^Patient\/[0-9a-f]{64}$/;
const MAX_PROVISION_DEPTH = 16;
const MAX_JSON_DEPTH = 64;

const ACTOR_TYPES = [
  'Device',
  'Group',
  'CareTeam',
  'Organization',
  'Patient',
  'Practitioner',
  'RelatedPerson',
  'PractitionerRole',
];
const PERFORMER_TYPES = ['Organization', 'Patient', 'Practitioner', 'RelatedPerson', 'PractitionerRole'];

/** R4 Consent elements outside medrelay's subset: kept verbatim, never evaluated. */
const PASSTHROUGH = new Set([
  'meta',
  'language',
  'extension',
  'identifier',
  'policy',
  'sourceAttachment',
  'sourceReference',
  'verification',
]);

/** R4 elements refused because they defeat the patient pseudonym (a consent travels between chains). */
const PSEUDONYMITY: Record<string, string> = {
  text: 'narrative is not allowed: it routinely names the patient, and medrelay consents are pseudonymous',
  contained:
    'contained resources are not allowed: a contained Patient would carry identity, and medrelay resolves only `Type/id` references',
};

type Obj = Record<string, unknown>;

class Ctx {
  readonly issues: ConsentIssue[] = [];
  constructor(readonly opts: ParseConsentOptions) {}
  add(path: string, message: string, code: ConsentIssue['code'] = 'MR_ERR_CONSENT_INVALID'): undefined {
    this.issues.push({ path, message, code });
    return undefined;
  }
}

const isObj = (v: unknown): v is Obj => {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
};

/** Short JSON rendering of a bad value for messages (never used under Consent.patient: it may be PII). */
function show(v: unknown): string {
  let s: string;
  try {
    s = JSON.stringify(v) ?? String(v);
  } catch {
    s = String(v);
  }
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}

/** Reports keys outside `allowed` (plus `id`/`extension`, allowed on every FHIR element). */
function checkKeys(ctx: Ctx, o: Obj, path: string, allowed: readonly string[]): void {
  for (const k of Object.keys(o)) {
    if (allowed.includes(k) || k === 'id' || k === 'extension') continue;
    if (k === 'modifierExtension') {
      ctx.add(
        `${path}.${k}`,
        'modifier extensions are not supported: medrelay cannot honour what they change',
      );
    } else {
      ctx.add(`${path}.${k}`, 'unknown element (not part of the FHIR R4 Consent subset medrelay accepts)');
    }
  }
  if (Object.hasOwn(o, 'id') && (typeof o.id !== 'string' || o.id.length === 0)) {
    ctx.add(`${path}.id`, `expected a string, got ${show(o.id)}`);
  }
  if (Object.hasOwn(o, 'extension')) cloneJson(ctx, o.extension, `${path}.extension`, 0);
}

/** Deep copy of plain JSON; reports non-JSON values and any modifierExtension / implicitRules inside. */
function cloneJson(ctx: Ctx, v: unknown, path: string, depth: number): unknown {
  if (depth > MAX_JSON_DEPTH) return ctx.add(path, `nested deeper than ${MAX_JSON_DEPTH} levels`);
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return v;
  if (typeof v === 'number') return Number.isFinite(v) ? v : ctx.add(path, 'expected a finite JSON number');
  if (Array.isArray(v)) return v.map((x, i) => cloneJson(ctx, x, `${path}[${i}]`, depth + 1));
  if (isObj(v)) {
    const out: Obj = {};
    for (const [k, x] of Object.entries(v)) {
      if (k === 'modifierExtension' || k === 'implicitRules') {
        ctx.add(
          `${path}.${k}`,
          'modifier elements are not supported: medrelay cannot honour what they change',
        );
      }
      out[k] = cloneJson(ctx, x, `${path}.${k}`, depth + 1);
    }
    return out;
  }
  return ctx.add(path, `expected JSON, got ${typeName(v)}`);
}

function str(ctx: Ctx, v: unknown, path: string): string | undefined {
  if (typeof v === 'string' && v.length > 0 && v.trim() === v) return v;
  return ctx.add(path, `expected a non-empty string without surrounding whitespace, got ${show(v)}`);
}

function arr(ctx: Ctx, v: unknown, path: string): unknown[] | undefined {
  if (Array.isArray(v) && v.length > 0) return v;
  // FHIR JSON never carries empty arrays: an absent element is omitted.
  return ctx.add(path, `expected a non-empty array, got ${show(v)}`);
}

function list<T>(
  ctx: Ctx,
  v: unknown,
  path: string,
  item: (x: unknown, p: string) => T | undefined,
): T[] | undefined {
  const a = arr(ctx, v, path);
  if (!a) return undefined;
  const out: T[] = [];
  a.forEach((x, i) => {
    const r = item(x, `${path}[${i}]`);
    if (r !== undefined) out.push(r);
  });
  return out.length === a.length ? out : undefined;
}

function dateTime(ctx: Ctx, v: unknown, path: string): string | undefined {
  if (typeof v === 'string' && fhirDateTimeBounds(v)) return v;
  return ctx.add(
    path,
    `expected a FHIR dateTime (YYYY, YYYY-MM, YYYY-MM-DD or YYYY-MM-DDThh:mm:ss[.sss](Z|±hh:mm)), got ${show(v)}`,
  );
}

function coding(ctx: Ctx, v: unknown, path: string, clinical = false): Coding | undefined {
  if (!isObj(v)) return ctx.add(path, `expected a Coding object, got ${typeName(v)}`);
  checkKeys(ctx, v, path, ['system', 'version', 'code', 'display', 'userSelected']);
  const system = str(ctx, v.system, `${path}.system`);
  const code = str(ctx, v.code, `${path}.code`);
  const out: Coding = { ...(v as Obj) } as unknown as Coding;
  if (v.version !== undefined) str(ctx, v.version, `${path}.version`);
  if (v.display !== undefined && typeof v.display !== 'string')
    ctx.add(`${path}.display`, 'expected a string');
  if (v.userSelected !== undefined && typeof v.userSelected !== 'boolean') {
    ctx.add(`${path}.userSelected`, 'expected a boolean');
  }
  if (system === undefined || code === undefined) return undefined;
  const check = ctx.opts.checkCoding === undefined ? recordsCodingCheck : ctx.opts.checkCoding;
  if (clinical && check) {
    const problem = check(system, code);
    if (problem !== undefined) return ctx.add(`${path}.code`, problem);
  }
  return out;
}

function concept(ctx: Ctx, v: unknown, path: string, clinical = false): CodeableConcept | undefined {
  if (!isObj(v)) return ctx.add(path, `expected a CodeableConcept object, got ${typeName(v)}`);
  checkKeys(ctx, v, path, ['coding', 'text']);
  const out: CodeableConcept = {};
  if (v.coding !== undefined) {
    const c = list(ctx, v.coding, `${path}.coding`, (x, p) => coding(ctx, x, p, clinical));
    if (!c) return undefined;
    out.coding = c;
  }
  if (v.text !== undefined) {
    const t = str(ctx, v.text, `${path}.text`);
    if (t === undefined) return undefined;
    out.text = t;
  }
  // A concept with text only cannot be matched by a machine; medrelay needs codes.
  if (!out.coding)
    return ctx.add(`${path}.coding`, 'expected at least one Coding (text alone cannot be matched)');
  return { ...(v as Obj), ...out };
}

function reference(
  ctx: Ctx,
  v: unknown,
  path: string,
  types: readonly string[] | 'any',
): Reference | undefined {
  if (!isObj(v)) return ctx.add(path, `expected a Reference object, got ${typeName(v)}`);
  checkKeys(ctx, v, path, ['reference', 'type', 'display', 'identifier']);
  if (v.identifier !== undefined) {
    return ctx.add(`${path}.identifier`, 'logical references are not supported: give a literal `reference`');
  }
  if (v.reference === undefined)
    return ctx.add(`${path}.reference`, 'required: a literal reference `Type/id`');
  const ref = str(ctx, v.reference, `${path}.reference`);
  if (ref === undefined) return undefined;
  const m = REFERENCE_RE.exec(ref);
  if (!m) return ctx.add(`${path}.reference`, `expected a relative reference \`Type/id\`, got ${show(ref)}`);
  if (types !== 'any' ? !types.includes(m[1]!) : !R4_RESOURCE_TYPES.has(m[1]!)) {
    const allowed = types === 'any' ? 'an R4 resource type' : types.join(' | ');
    return ctx.add(`${path}.reference`, `reference type ${m[1]} is not allowed here (expected ${allowed})`);
  }
  if (v.type !== undefined && v.type !== m[1]) {
    return ctx.add(`${path}.type`, `expected ${show(m[1])} (the type in .reference), got ${show(v.type)}`);
  }
  if (v.display !== undefined && typeof v.display !== 'string')
    return ctx.add(`${path}.display`, 'expected a string');
  return { ...(v as Obj) } as unknown as Reference;
}

function period(ctx: Ctx, v: unknown, path: string, root = false): Period | undefined {
  if (!isObj(v)) return ctx.add(path, `expected a Period object, got ${typeName(v)}`);
  checkKeys(ctx, v, path, ['start', 'end']);
  const start = v.start === undefined ? undefined : dateTime(ctx, v.start, `${path}.start`);
  const end = v.end === undefined ? undefined : dateTime(ctx, v.end, `${path}.end`);
  if ((v.start !== undefined && start === undefined) || (v.end !== undefined && end === undefined))
    return undefined;
  // The root's missing ends are reported as MR_ERR_CONSENT_NO_PERIOD by provision().
  if (start === undefined && end === undefined && !root)
    return ctx.add(path, 'a Period needs a start or an end');
  // R4 invariant per-1: start ≤ end (compared over the instants each value covers).
  if (
    start !== undefined &&
    end !== undefined &&
    fhirDateTimeBounds(start)!.start > fhirDateTimeBounds(end)!.end
  ) {
    return ctx.add(path, `start ${start} is after end ${end} (FHIR per-1)`);
  }
  return { ...(v as Obj) } as Period;
}

function enumOf<T extends string>(ctx: Ctx, v: unknown, path: string, allowed: readonly T[]): T | undefined {
  if (typeof v === 'string' && (allowed as readonly string[]).includes(v)) return v as T;
  return ctx.add(path, `expected one of ${allowed.join(' | ')}, got ${show(v)}`);
}

function actor(ctx: Ctx, v: unknown, path: string): ConsentActor | undefined {
  if (!isObj(v)) return ctx.add(path, `expected an actor object, got ${typeName(v)}`);
  checkKeys(ctx, v, path, ['role', 'reference']);
  const role =
    v.role === undefined
      ? ctx.add(`${path}.role`, 'required (R4 1..1)')
      : concept(ctx, v.role, `${path}.role`);
  const ref =
    v.reference === undefined
      ? ctx.add(`${path}.reference`, 'required (R4 1..1): who the rule applies to')
      : reference(ctx, v.reference, `${path}.reference`, ACTOR_TYPES);
  return role && ref ? ({ ...(v as Obj) } as unknown as ConsentActor) : undefined;
}

function action(ctx: Ctx, v: unknown, path: string): CodeableConcept | undefined {
  const c = concept(ctx, v, path);
  if (!c) return undefined;
  const known = c.coding!.filter((x) => x.system === SYSTEMS.consentAction);
  if (known.length === 0) {
    return ctx.add(
      `${path}.coding`,
      `expected a coding from ${SYSTEMS.consentAction} (${CONSENT_ACTIONS.join(' | ')})`,
    );
  }
  for (const [i, x] of c.coding!.entries()) {
    if (x.system === SYSTEMS.consentAction && !(CONSENT_ACTIONS as readonly string[]).includes(x.code)) {
      return ctx.add(`${path}.coding[${i}].code`, `unknown consent action ${show(x.code)}`);
    }
  }
  return c;
}

function klass(ctx: Ctx, v: unknown, path: string): Coding | undefined {
  const c = coding(ctx, v, path);
  if (c && c.system === SYSTEMS.resourceTypes && !R4_RESOURCE_TYPES.has(c.code)) {
    return ctx.add(`${path}.code`, `unknown FHIR R4 resource type ${show(c.code)}`);
  }
  return c;
}

function data(ctx: Ctx, v: unknown, path: string): ConsentData | undefined {
  if (!isObj(v)) return ctx.add(path, `expected a data object, got ${typeName(v)}`);
  checkKeys(ctx, v, path, ['meaning', 'reference']);
  const meaning = enumOf(ctx, v.meaning, `${path}.meaning`, DATA_MEANINGS);
  const ref =
    v.reference === undefined
      ? ctx.add(`${path}.reference`, 'required (R4 1..1)')
      : reference(ctx, v.reference, `${path}.reference`, 'any');
  return meaning && ref ? ({ ...(v as Obj) } as unknown as ConsentData) : undefined;
}

const PROVISION_KEYS = [
  'type',
  'period',
  'actor',
  'action',
  'securityLabel',
  'purpose',
  'class',
  'code',
  'dataPeriod',
  'data',
  'provision',
] as const;

function provision(ctx: Ctx, v: unknown, path: string, depth: number): ConsentProvision | undefined {
  if (!isObj(v)) return ctx.add(path, `expected a provision object, got ${typeName(v)}`);
  if (depth > MAX_PROVISION_DEPTH)
    return ctx.add(path, `provisions nested deeper than ${MAX_PROVISION_DEPTH} levels`);
  checkKeys(ctx, v, path, PROVISION_KEYS);
  const before = ctx.issues.length;
  const out: Obj = {};
  // medrelay requires the type on every provision: the root's is the default, a nested one's the exception.
  out.type =
    v.type === undefined
      ? ctx.add(`${path}.type`, 'required: permit | deny')
      : enumOf(ctx, v.type, `${path}.type`, PROVISION_TYPES);
  const root = depth === 0;
  if (v.period !== undefined) out.period = period(ctx, v.period, `${path}.period`, root);
  if (v.actor !== undefined) out.actor = list(ctx, v.actor, `${path}.actor`, (x, p) => actor(ctx, x, p));
  if (v.action !== undefined) out.action = list(ctx, v.action, `${path}.action`, (x, p) => action(ctx, x, p));
  if (v.securityLabel !== undefined) {
    out.securityLabel = list(ctx, v.securityLabel, `${path}.securityLabel`, (x, p) => coding(ctx, x, p));
  }
  if (v.purpose !== undefined)
    out.purpose = list(ctx, v.purpose, `${path}.purpose`, (x, p) => coding(ctx, x, p));
  if (v.class !== undefined) out.class = list(ctx, v.class, `${path}.class`, (x, p) => klass(ctx, x, p));
  if (v.code !== undefined) out.code = list(ctx, v.code, `${path}.code`, (x, p) => concept(ctx, x, p, true));
  if (v.dataPeriod !== undefined) out.dataPeriod = period(ctx, v.dataPeriod, `${path}.dataPeriod`);
  if (v.data !== undefined) out.data = list(ctx, v.data, `${path}.data`, (x, p) => data(ctx, x, p));
  if (v.provision !== undefined) {
    out.provision = list(ctx, v.provision, `${path}.provision`, (x, p) => provision(ctx, x, p, depth + 1));
  }
  if (root) {
    const p = v.period;
    if (p === undefined) {
      ctx.add(
        `${path}.period`,
        'required by medrelay: a consent must state its validity period',
        'MR_ERR_CONSENT_NO_PERIOD',
      );
    } else if (isObj(p)) {
      for (const end of ['start', 'end'] as const) {
        if (p[end] === undefined) {
          ctx.add(
            `${path}.period.${end}`,
            `required by medrelay: a consent's validity period must be closed (${end} missing)`,
            'MR_ERR_CONSENT_NO_PERIOD',
          );
        }
      }
    }
  }
  return ctx.issues.length === before
    ? ({ ...(v as Obj), ...out } as unknown as ConsentProvision)
    : undefined;
}

const CONSENT_KEYS = [
  'resourceType',
  'id',
  'status',
  'scope',
  'category',
  'patient',
  'dateTime',
  'performer',
  'organization',
  'policyRule',
  'provision',
];

function patient(ctx: Ctx, v: unknown): Reference | undefined {
  const path = 'Consent.patient';
  if (v === undefined)
    return ctx.add(
      path,
      'required by medrelay: the patient pseudonym reference',
      'MR_ERR_CONSENT_NO_PATIENT',
    );
  if (!isObj(v)) return ctx.add(path, `expected a Reference object, got ${typeName(v)}`);
  if (v.reference === undefined) {
    return ctx.add(
      `${path}.reference`,
      'required by medrelay: `Patient/<pseudonym hex>`',
      'MR_ERR_CONSENT_NO_PATIENT',
    );
  }
  // No display / identifier: names and MRNs must not leave the hospital (docs/records.md, patient pseudonym).
  for (const pii of ['display', 'identifier']) {
    if (v[pii] !== undefined)
      ctx.add(`${path}.${pii}`, 'not allowed: only the pseudonymous reference may travel');
  }
  checkKeys(ctx, v, path, ['reference', 'type', 'display', 'identifier']);
  if (typeof v.reference !== 'string' || !PSEUDONYM_RE.test(v.reference)) {
    return ctx.add(
      `${path}.reference`,
      'expected `Patient/<pseudonym>`: 64 lowercase hex digits (HMAC-SHA256)',
    );
  }
  if (v.type !== undefined && v.type !== 'Patient') return ctx.add(`${path}.type`, 'expected "Patient"');
  return { ...(v as Obj) } as unknown as Reference;
}

const VALIDATED = new WeakSet<object>();

function deepFreeze<T>(v: T): T {
  if (typeof v === 'object' && v !== null && !Object.isFrozen(v)) {
    for (const x of Object.values(v)) deepFreeze(x);
    Object.freeze(v);
  }
  return v;
}

/**
 * Validates a FHIR R4 Consent against medrelay's subset and returns a deep-frozen copy (same JSON content, so
 * it hashes the same). Throws one `ProofError` naming every problem and its FHIR path.
 *
 * @example
 * const consent = parseConsent(JSON.parse(body));
 * evaluateConsent(consent, request);
 */
export function parseConsent(input: unknown, opts: ParseConsentOptions = {}): Consent {
  const ctx = new Ctx(opts);
  if (!isObj(input)) {
    ctx.add('Consent', `expected a JSON object, got ${typeName(input)}`);
    throw toError(ctx.issues);
  }
  const v = input;
  const out: Obj = {};
  for (const k of Object.keys(v)) {
    if (CONSENT_KEYS.includes(k)) continue;
    if (PASSTHROUGH.has(k)) out[k] = cloneJson(ctx, v[k], `Consent.${k}`, 1);
    else if (Object.hasOwn(PSEUDONYMITY, k)) ctx.add(`Consent.${k}`, PSEUDONYMITY[k]!);
    else if (k === 'implicitRules' || k === 'modifierExtension') {
      ctx.add(`Consent.${k}`, 'modifier elements are not supported: medrelay cannot honour what they change');
    } else
      ctx.add(`Consent.${k}`, 'unknown element (not part of the FHIR R4 Consent subset medrelay accepts)');
  }
  if (v.resourceType !== 'Consent')
    ctx.add('Consent.resourceType', `expected "Consent", got ${show(v.resourceType)}`);
  out.resourceType = 'Consent';
  if (v.id === undefined)
    ctx.add('Consent.id', 'required by medrelay: revocations and audits name the consent');
  else if (typeof v.id !== 'string' || !FHIR_ID_RE.test(v.id)) {
    ctx.add('Consent.id', `expected a FHIR id ([A-Za-z0-9-.]{1,64}), got ${show(v.id)}`);
  }
  out.id = v.id;
  out.status =
    v.status === undefined
      ? ctx.add('Consent.status', 'required (R4 1..1)')
      : enumOf(ctx, v.status, 'Consent.status', CONSENT_STATUSES);
  if (v.scope === undefined) ctx.add('Consent.scope', 'required (R4 1..1)');
  else {
    out.scope = concept(ctx, v.scope, 'Consent.scope');
    const s = out.scope as CodeableConcept | undefined;
    const codes = s?.coding?.filter((c) => c.system === SYSTEMS.consentScope) ?? [];
    if (s && codes.length === 0) {
      ctx.add(
        'Consent.scope.coding',
        `expected a coding from ${SYSTEMS.consentScope} (${CONSENT_SCOPES.join(' | ')})`,
      );
    }
    for (const c of codes) {
      if (!(CONSENT_SCOPES as readonly string[]).includes(c.code)) {
        ctx.add('Consent.scope.coding', `unknown consent scope ${show(c.code)}`);
      }
    }
  }
  out.category =
    v.category === undefined
      ? ctx.add('Consent.category', 'required (R4 1..*)')
      : list(ctx, v.category, 'Consent.category', (x, p) => concept(ctx, x, p, true));
  out.patient = patient(ctx, v.patient);
  if (v.dateTime !== undefined) out.dateTime = dateTime(ctx, v.dateTime, 'Consent.dateTime');
  if (v.performer !== undefined) {
    out.performer = list(ctx, v.performer, 'Consent.performer', (x, p) =>
      reference(ctx, x, p, PERFORMER_TYPES),
    );
  }
  if (v.organization !== undefined) {
    out.organization = list(ctx, v.organization, 'Consent.organization', (x, p) =>
      reference(ctx, x, p, ['Organization']),
    );
  }
  if (v.policyRule !== undefined) out.policyRule = concept(ctx, v.policyRule, 'Consent.policyRule');
  if (v.provision === undefined) {
    ctx.add(
      'Consent.provision',
      'required by medrelay: the root rule with its validity period',
      'MR_ERR_CONSENT_NO_PERIOD',
    );
  } else out.provision = provision(ctx, v.provision, 'Consent.provision', 0);

  if (ctx.issues.length > 0) throw toError(ctx.issues);
  // Re-serialise through JSON so no shared references to the caller's objects survive, then freeze: a
  // validated consent cannot be edited afterwards into one that was never validated.
  const frozen = deepFreeze(JSON.parse(JSON.stringify(out)) as Consent);
  VALIDATED.add(frozen);
  return frozen;
}

/** Inclusive epoch-ms bounds of a validated Period; an open end is ±Infinity (FHIR: a missing end is ongoing). */
export function periodBounds(p: Period): { start: number; end: number } {
  return {
    start: p.start === undefined ? Number.NEGATIVE_INFINITY : fhirDateTimeBounds(p.start)!.start,
    end: p.end === undefined ? Number.POSITIVE_INFINITY : fhirDateTimeBounds(p.end)!.end,
  };
}

/** True for objects returned by `parseConsent` (frozen, so still valid). */
export function isParsedConsent(v: unknown): v is Consent {
  return typeof v === 'object' && v !== null && VALIDATED.has(v);
}

function toError(issues: readonly ConsentIssue[]): ProofError {
  const kinds = new Set(issues.map((i) => i.code));
  const code = kinds.size === 1 ? issues[0]!.code : 'MR_ERR_CONSENT_INVALID';
  const lines = issues.map((i) => `${i.path}: ${i.message}`);
  const what = issues.length === 1 ? 'a problem' : `${issues.length} problems`;
  return new ProofError(code, `FHIR R4 Consent has ${what}: ${lines.join('; ')}`, {
    details: { path: issues.map((i) => i.path).join(', '), problems: issues.length },
  });
}
