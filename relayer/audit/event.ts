/**
 * FHIR R4 `AuditEvent` (http://hl7.org/fhir/R4/auditevent.html), the subset medrelay records for each patient,
 * and its hash `sha256(RFC 8785 JCS(event))` that is anchored on chain (AuditLog contract).
 *
 * Closed world, fail closed: `checkAuditEvent` refuses unknown elements and free-text elements that FHIR allows
 * but that could carry patient data (`agent.name`, `entity.name`, `entity.description`, `entity.query`…).
 * References must be literal `Type/id` references or medrelay URNs of records and packets, and a `Patient/…`
 * reference must be a pseudonym (64 hex), so an event cannot name a patient by MRN or name.
 *
 * Type codes follow the R4 `audit-event-type` value set: `rest` is in
 * http://terminology.hl7.org/CodeSystem/audit-event-type, while the DICOM codes (110106 Export, 110107 Import,
 * 110110 Patient Record, 110112 Query, 110114 User Authentication) are in the DICOM DCM code system, as FHIR
 * binds them. `outcome` is the R4 code string `'0' | '4' | '8' | '12'`.
 */
import { createHash } from 'node:crypto';
import type { Hex } from '../../proofs/bytes.js';
import { MedrelayError } from '../../proofs/errors.js';
import { canonicalBytes } from '../../proofs/records/jcs.js';

export const AUDIT_EVENT_TYPE_SYSTEM = 'http://terminology.hl7.org/CodeSystem/audit-event-type';
export const DICOM_DCM_SYSTEM = 'http://dicom.nema.org/resources/ontology/DCM';
export const RESTFUL_INTERACTION_SYSTEM = 'http://hl7.org/fhir/restful-interaction';
export const AUDIT_ENTITY_TYPE_SYSTEM = 'http://terminology.hl7.org/CodeSystem/audit-entity-type';
export const OBJECT_ROLE_SYSTEM = 'http://terminology.hl7.org/CodeSystem/object-role';
export const PARTICIPATION_TYPE_SYSTEM = 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType';

export interface Coding {
  system: string;
  code: string;
  display?: string;
}

export interface CodeableConcept {
  coding: Coding[];
}

export interface Reference {
  /** `Type/id`, `Patient/<pseudonym hex>`, `urn:medrelay:record:0x…` or `urn:medrelay:packet:0x…`. */
  reference: string;
}

/** The event types medrelay records. */
export const AUDIT_TYPES = {
  rest: { system: AUDIT_EVENT_TYPE_SYSTEM, code: 'rest', display: 'RESTful Operation' },
  export: { system: DICOM_DCM_SYSTEM, code: '110106', display: 'Export' },
  import: { system: DICOM_DCM_SYSTEM, code: '110107', display: 'Import' },
  patientRecord: { system: DICOM_DCM_SYSTEM, code: '110110', display: 'Patient Record' },
  query: { system: DICOM_DCM_SYSTEM, code: '110112', display: 'Query' },
  userAuthentication: { system: DICOM_DCM_SYSTEM, code: '110114', display: 'User Authentication' },
} as const satisfies Record<string, Coding>;

/** C create, R read/view, U update, D delete, E execute (R4 audit-event-action). */
export const AUDIT_ACTIONS = ['C', 'R', 'U', 'D', 'E'] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

/** 0 success, 4 minor failure (e.g. refused), 8 serious failure, 12 major failure (R4 audit-event-outcome). */
export const AUDIT_OUTCOMES = ['0', '4', '8', '12'] as const;
export type AuditOutcome = (typeof AUDIT_OUTCOMES)[number];

export interface AuditEventAgent {
  type?: CodeableConcept;
  role?: CodeableConcept[];
  who: Reference;
  requestor: boolean;
  purposeOfUse?: CodeableConcept[];
}

export interface AuditEventSource {
  /** Logical site, e.g. the relayer's name. */
  site?: string;
  observer: Reference;
  type?: Coding[];
}

export interface AuditEventEntity {
  what: Reference;
  type?: Coding;
  role?: Coding;
  securityLabel?: Coding[];
}

export interface AuditEvent {
  resourceType: 'AuditEvent';
  type: Coding;
  subtype?: Coding[];
  action?: AuditAction;
  /** ISO 8601 instant with a zone, e.g. `2025-01-22T09:00:00.000Z`. */
  recorded: string;
  outcome?: AuditOutcome;
  /** Short machine-made text (decision code and reason). Never patient data. */
  outcomeDesc?: string;
  purposeOfEvent?: CodeableConcept[];
  agent: AuditEventAgent[];
  source: AuditEventSource;
  entity?: AuditEventEntity[];
}

export class AuditError extends MedrelayError {}

const FHIR_ID = '[A-Za-z0-9.-]{1,64}';
const REFERENCE_RE = new RegExp(
  `^(?:[A-Z][A-Za-z]{0,63}/${FHIR_ID}|urn:medrelay:(?:record|packet):0x[0-9a-f]{64})$`,
);
const PATIENT_REF_RE = /^Patient\/[0-9a-f]{64}$/;
const URI_RE = /^[a-z][a-z0-9+.-]*:[^\s]{1,250}$/;
const CODE_RE = /^[^\s](?:[^\s]| [^\s]){0,127}$/;
const INSTANT_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})$/;
const MAX_TEXT = 1024;

function bad(path: string, expected: string): never {
  throw new AuditError('MR_ERR_AUDIT_INPUT', `${path}: expected ${expected}`, { details: { path } });
}

type Obj = Record<string, unknown>;

function obj(v: unknown, path: string, allowed: readonly string[]): Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) bad(path, 'an object');
  for (const k of Object.keys(v)) {
    // Unknown elements are refused rather than dropped: a dropped element would not be in the hash.
    if (!allowed.includes(k)) bad(`${path}.${k}`, `no such element (allowed: ${allowed.join(', ')})`);
    if ((v as Obj)[k] === undefined) bad(`${path}.${k}`, 'a value (omit the element instead of undefined)');
  }
  return v as Obj;
}

function arr<T>(v: unknown, path: string, each: (x: unknown, p: string) => T, min = 0): T[] {
  if (!Array.isArray(v) || v.length < min || v.length > 64) bad(path, `an array of ${min}..64 items`);
  return v.map((x, i) => each(x, `${path}[${i}]`));
}

function text(v: unknown, path: string, max = MAX_TEXT): string {
  if (typeof v !== 'string' || v.length === 0 || v.length > max)
    bad(path, `a string of 1..${max} characters`);
  return v;
}

function coding(v: unknown, path: string): Coding {
  const o = obj(v, path, ['system', 'code', 'display']);
  if (typeof o.system !== 'string' || !URI_RE.test(o.system)) bad(`${path}.system`, 'a URI');
  if (typeof o.code !== 'string' || !CODE_RE.test(o.code)) bad(`${path}.code`, 'a FHIR code');
  const c: Coding = { system: o.system, code: o.code };
  if (o.display !== undefined) c.display = text(o.display, `${path}.display`, 256);
  return c;
}

function concept(v: unknown, path: string): CodeableConcept {
  const o = obj(v, path, ['coding']);
  return { coding: arr(o.coding, `${path}.coding`, coding, 1) };
}

function reference(v: unknown, path: string): Reference {
  const o = obj(v, path, ['reference']);
  const r = o.reference;
  if (typeof r !== 'string' || !REFERENCE_RE.test(r)) {
    bad(`${path}.reference`, '`Type/id`, urn:medrelay:record:0x… or urn:medrelay:packet:0x…');
  }
  if (r.startsWith('Patient/') && !PATIENT_REF_RE.test(r)) {
    bad(`${path}.reference`, '`Patient/<pseudonym, 64 lowercase hex>` (never an MRN or name)');
  }
  return { reference: r };
}

function oneOf<T extends string>(v: unknown, path: string, values: readonly T[]): T {
  if (typeof v !== 'string' || !(values as readonly string[]).includes(v))
    bad(path, `one of ${values.join(', ')}`);
  return v as T;
}

function agent(v: unknown, path: string): AuditEventAgent {
  const o = obj(v, path, ['type', 'role', 'who', 'requestor', 'purposeOfUse']);
  if (typeof o.requestor !== 'boolean') bad(`${path}.requestor`, 'a boolean');
  const a: AuditEventAgent = { who: reference(o.who, `${path}.who`), requestor: o.requestor };
  if (o.type !== undefined) a.type = concept(o.type, `${path}.type`);
  if (o.role !== undefined) a.role = arr(o.role, `${path}.role`, concept);
  if (o.purposeOfUse !== undefined) a.purposeOfUse = arr(o.purposeOfUse, `${path}.purposeOfUse`, concept);
  return a;
}

function entity(v: unknown, path: string): AuditEventEntity {
  const o = obj(v, path, ['what', 'type', 'role', 'securityLabel']);
  const e: AuditEventEntity = { what: reference(o.what, `${path}.what`) };
  if (o.type !== undefined) e.type = coding(o.type, `${path}.type`);
  if (o.role !== undefined) e.role = coding(o.role, `${path}.role`);
  if (o.securityLabel !== undefined) e.securityLabel = arr(o.securityLabel, `${path}.securityLabel`, coding);
  return e;
}

/**
 * Validates an AuditEvent and returns a clean copy (elements in a fixed order, nothing but the subset).
 *
 * @throws AuditError MR_ERR_AUDIT_INPUT naming the element
 */
export function checkAuditEvent(v: unknown): AuditEvent {
  const p = 'AuditEvent';
  const o = obj(v, p, [
    'resourceType',
    'type',
    'subtype',
    'action',
    'recorded',
    'outcome',
    'outcomeDesc',
    'purposeOfEvent',
    'agent',
    'source',
    'entity',
  ]);
  if (o.resourceType !== 'AuditEvent') bad(`${p}.resourceType`, '"AuditEvent"');
  if (
    typeof o.recorded !== 'string' ||
    !INSTANT_RE.test(o.recorded) ||
    !Number.isFinite(Date.parse(o.recorded))
  )
    bad(`${p}.recorded`, 'an ISO 8601 instant with a zone');
  const src = obj(o.source, `${p}.source`, ['site', 'observer', 'type']);
  const source: AuditEventSource = { observer: reference(src.observer, `${p}.source.observer`) };
  if (src.site !== undefined) source.site = text(src.site, `${p}.source.site`, 128);
  if (src.type !== undefined) source.type = arr(src.type, `${p}.source.type`, coding);
  const e: AuditEvent = {
    resourceType: 'AuditEvent',
    type: coding(o.type, `${p}.type`),
    recorded: o.recorded,
    agent: arr(o.agent, `${p}.agent`, agent, 1),
    source,
  };
  if (o.subtype !== undefined) e.subtype = arr(o.subtype, `${p}.subtype`, coding);
  if (o.action !== undefined) e.action = oneOf(o.action, `${p}.action`, AUDIT_ACTIONS);
  if (o.outcome !== undefined) e.outcome = oneOf(o.outcome, `${p}.outcome`, AUDIT_OUTCOMES);
  if (o.outcomeDesc !== undefined) e.outcomeDesc = text(o.outcomeDesc, `${p}.outcomeDesc`);
  if (o.purposeOfEvent !== undefined)
    e.purposeOfEvent = arr(o.purposeOfEvent, `${p}.purposeOfEvent`, concept);
  if (o.entity !== undefined) e.entity = arr(o.entity, `${p}.entity`, entity);
  return e;
}

/**
 * `sha256(RFC 8785 JCS(entry))`, 0x-hex: the value anchored on chain. Validates the entry first.
 *
 * @example
 * const hash = auditEntryHash(event); // '0x5d…'
 */
export function auditEntryHash(entry: AuditEvent): Hex {
  return `0x${createHash('sha256')
    .update(canonicalBytes(checkAuditEvent(entry)))
    .digest('hex')}`;
}

/** References for the entities and agents medrelay records (ids and pseudonyms only). */
export const auditRef = {
  record: (recordId: string): Reference => ({ reference: `urn:medrelay:record:${recordId.toLowerCase()}` }),
  packet: (packetId: string): Reference => ({ reference: `urn:medrelay:packet:${packetId.toLowerCase()}` }),
  consent: (consentId: string): Reference => ({ reference: `Consent/${consentId}` }),
  /** `pseudonym`: 0x + 64 hex, as `patientPseudonym` returns it. */
  patient: (pseudonym: string): Reference => ({
    reference: `Patient/${pseudonym.replace(/^0x/, '').toLowerCase()}`,
  }),
} as const;
