/**
 * Minimal structural validation of FHIR R4 JSON resources (https://hl7.org/fhir/R4/json.html) and the element
 * flattening of docs/records.md ("Selective disclosure").
 *
 * This is not a profile validator: it checks what the anchoring and disclosure formats rely on — a known
 * `resourceType`, a valid resource `id`, the JSON representation rules (no empty objects/arrays/strings, no
 * `null` outside primitive arrays, no nested arrays, element names in FHIR's lowerCamel form) and, recursively,
 * every resource inside a Bundle entry, `contained` or any other `resource` slot. Those rules are what make the
 * flattened `(path, value)` list a one-to-one picture of the record: without them `{"a": []}` and `{}` (or a key
 * that looks like a resource type) would yield the same elements but different record hashes.
 *
 * Errors carry FHIRPath-style locations (`Bundle.entry[2].resource.id`) in the message and in `details.path`.
 */
import { ProofError } from '../errors.js';
import { canonicalize } from './jcs.js';

/** Resource types medrelay anchors. Anything else is refused rather than hashed blind. */
export const FHIR_RESOURCE_TYPES = [
  'AllergyIntolerance',
  'AuditEvent',
  'Bundle',
  'Claim',
  'Composition',
  'ConceptMap',
  'Condition',
  'Consent',
  'Coverage',
  'DiagnosticReport',
  'DocumentReference',
  'Encounter',
  'Immunization',
  'MedicationRequest',
  'Observation',
  'Organization',
  'Patient',
  'Practitioner',
  'Procedure',
  'ServiceRequest',
] as const;

export type FhirResourceType = (typeof FHIR_RESOURCE_TYPES)[number];

/** A FHIR resource as parsed JSON. Only the members this module checks are typed. */
export interface FhirResource {
  resourceType: FhirResourceType;
  id?: string;
  [element: string]: unknown;
}

/** One disclosable primitive: `path` as in docs/records.md, `value` its RFC 8785 text. */
export interface RecordElement {
  path: string;
  value: string;
}

/** R4 Bundle.type value set (http://hl7.org/fhir/R4/valueset-bundle-type.html). */
const BUNDLE_TYPES = new Set([
  'document',
  'message',
  'transaction',
  'transaction-response',
  'batch',
  'batch-response',
  'history',
  'searchset',
  'collection',
]);

const TYPES: ReadonlySet<string> = new Set(FHIR_RESOURCE_TYPES);
/** R4 `id` datatype: https://hl7.org/fhir/R4/datatypes.html#id */
const ID_RE = /^[A-Za-z0-9\-.]{1,64}$/;
/**
 * FHIR element names are lowerCamel, optionally `_`-prefixed for primitive extensions. Refusing capitalised
 * names keeps resource-type segments (`…resource.Condition…`) unambiguous in element paths.
 */
const KEY_RE = /^_?[a-z][A-Za-z0-9_]*$/;
const MAX_DEPTH = 64;

/**
 * Canonical element path (docs/records.md): a resource type, then `.name` or `.name[index]` segments (index
 * without leading zeros), and a resource type again after each slot that holds a nested resource.
 */
const PATH_RE =
  /^[A-Z][A-Za-z]*(?:\.(?:_?[a-z][A-Za-z0-9_]*(?:\[(?:0|[1-9][0-9]{0,8})\])?|[A-Z][A-Za-z]*))*$/;

export function isFhirResourceType(t: unknown): t is FhirResourceType {
  return typeof t === 'string' && TYPES.has(t);
}

/** True when `path` is in the canonical element-path syntax and starts with a known resource type. */
export function isCanonicalElementPath(path: unknown): path is string {
  if (typeof path !== 'string' || path.length > 4096 || !PATH_RE.test(path)) return false;
  const dot = path.indexOf('.');
  return isFhirResourceType(dot < 0 ? path : path.slice(0, dot));
}

function fail(path: string, message: string): never {
  throw new ProofError('MR_ERR_FHIR_INVALID', `fhir: ${path}: ${message}`, { details: { path } });
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Where a member's value must be whole resources: `contained` on any resource (R4 DomainResource) and
 * `resource` on a Bundle entry. Elsewhere `resource` is an ordinary element name.
 */
type Holder = 'resource' | 'bundle' | 'entry' | 'element';

function isResourceSlot(holder: Holder, key: string): boolean {
  return (
    (key === 'contained' && (holder === 'resource' || holder === 'bundle')) ||
    (key === 'resource' && holder === 'entry')
  );
}

function checkResource(v: unknown, path: string, depth: number): void {
  if (!isObject(v))
    fail(
      path,
      `expected a resource (JSON object), got ${Array.isArray(v) ? 'array' : v === null ? 'null' : typeof v}`,
    );
  const type = v.resourceType;
  if (type === undefined) fail(path, 'resourceType is missing');
  if (!isFhirResourceType(type)) fail(path, `unknown or unsupported resourceType ${JSON.stringify(type)}`);
  if (v.id !== undefined && (typeof v.id !== 'string' || !ID_RE.test(v.id)))
    fail(`${path}.id`, `resource id must match [A-Za-z0-9-.]{1,64}, got ${JSON.stringify(v.id)}`);
  if (type === 'Bundle') {
    if (typeof v.type !== 'string' || !BUNDLE_TYPES.has(v.type))
      fail(`${path}.type`, `Bundle.type must be one of ${[...BUNDLE_TYPES].join(', ')}`);
    if (v.entry !== undefined) {
      if (!Array.isArray(v.entry)) fail(`${path}.entry`, 'expected an array');
      v.entry.forEach((e, i) => {
        if (!isObject(e)) fail(`${path}.entry[${i}]`, 'expected a JSON object');
      });
    }
  }
  checkMembers(v, path, depth, type === 'Bundle' ? 'bundle' : 'resource');
}

function checkMembers(obj: Record<string, unknown>, path: string, depth: number, holder: Holder): void {
  if (depth > MAX_DEPTH) fail(path, `nested deeper than ${MAX_DEPTH} levels`);
  const keys = Object.keys(obj);
  if (keys.length === 0) fail(path, 'empty objects are not allowed in FHIR JSON');
  for (const k of keys) {
    if (holder !== 'element' && holder !== 'entry' && k === 'resourceType') continue;
    const p = `${path}.${k}`;
    if (!KEY_RE.test(k)) fail(p, `element name ${JSON.stringify(k)} is not a FHIR element name`);
    const v = obj[k];
    if (isResourceSlot(holder, k)) {
      // Bundle.entry.resource is 0..1; DomainResource.contained is 0..*.
      if (k === 'contained') {
        if (!Array.isArray(v) || v.length === 0) fail(p, 'expected a non-empty array of resources');
        v.forEach((r, i) => {
          checkResource(r, `${p}[${i}]`, depth + 1);
        });
      } else checkResource(v, p, depth + 1);
      continue;
    }
    if (Array.isArray(v)) {
      if (v.length === 0) fail(p, 'empty arrays are not allowed in FHIR JSON');
      for (let i = 0; i < v.length; i++) {
        if (!(i in v)) fail(`${p}[${i}]`, 'array hole');
        // null keeps primitive arrays aligned with their `_name` extension arrays (R4 json.html §2.6.2.4).
        if (v[i] === null) continue;
        if (Array.isArray(v[i])) fail(`${p}[${i}]`, 'arrays of arrays do not exist in FHIR JSON');
        checkValue(v[i], `${p}[${i}]`, depth + 1, holder === 'bundle' && k === 'entry' ? 'entry' : 'element');
      }
    } else {
      if (v === null) fail(p, 'null is only allowed inside primitive arrays');
      checkValue(v, p, depth + 1, 'element');
    }
  }
}

function checkValue(v: unknown, path: string, depth: number, holder: 'entry' | 'element'): void {
  switch (typeof v) {
    case 'string':
      if (v.trim().length === 0) fail(path, 'strings must contain non-whitespace content');
      return;
    case 'number':
      if (!Number.isFinite(v)) fail(path, `${String(v)} is not a JSON number`);
      return;
    case 'boolean':
      return;
    case 'object': {
      if (v === null || Array.isArray(v)) break;
      const proto = Object.getPrototypeOf(v) as unknown;
      if (proto !== Object.prototype && proto !== null) fail(path, 'expected a plain JSON object');
      const obj = v as Record<string, unknown>;
      // An object carrying a resourceType is an (inline) resource wherever it sits.
      if ('resourceType' in obj) checkResource(obj, path, depth);
      else checkMembers(obj, path, depth, holder);
      return;
    }
    default:
  }
  fail(path, `${v === undefined ? 'undefined' : typeof v} is not a JSON value`);
}

/**
 * Checks that `value` is a structurally valid FHIR R4 resource or Bundle of one of {@link FHIR_RESOURCE_TYPES}.
 *
 * @example
 * validateFhir({ resourceType: 'Patient', id: 'p1' }) // ok, returns it typed
 * validateFhir({ resourceType: 'Bundle', type: 'collection', entry: [{ resource: { resourceType: 'Foo' } }] })
 * // throws MR_ERR_FHIR_INVALID "fhir: Bundle.entry[0].resource: unknown or unsupported resourceType "Foo""
 */
export function validateFhir(value: unknown): FhirResource {
  const root = isObject(value) && isFhirResourceType(value.resourceType) ? value.resourceType : 'resource';
  checkResource(value, root, 0);
  return value as FhirResource;
}

function flattenInto(v: unknown, path: string, out: RecordElement[]): void {
  if (typeof v !== 'object' || v === null) {
    out.push({ path, value: canonicalize(v) });
    return;
  }
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) flattenInto(v[i], `${path}[${i}]`, out);
    return;
  }
  const obj = v as Record<string, unknown>;
  // A nested resource writes its type into the path (docs/records.md: `…entry[3].resource.Condition.code…`).
  const base = typeof obj.resourceType === 'string' ? `${path}.${obj.resourceType}` : path;
  // Same member order as RFC 8785, so the list does not depend on how the JSON was written.
  for (const k of Object.keys(obj).sort()) flattenInto(obj[k], `${base}.${k}`, out);
}

/**
 * The record's elements, one per primitive value (docs/records.md), in RFC 8785 member order.
 * `resourceType` itself is an element too (`Patient.resourceType` = `"Patient"`), so every resource — even one
 * with no other content — is committed to by at least one leaf and the list determines the JSON completely.
 *
 * @example
 * flattenElements({ resourceType: 'Condition', code: { coding: [{ system: 'http://hl7.org/fhir/sid/icd-10', code: 'I10' }] } })
 * // [{ path: 'Condition.code.coding[0].code', value: '"I10"' },
 * //  { path: 'Condition.code.coding[0].system', value: '"http://hl7.org/fhir/sid/icd-10"' },
 * //  { path: 'Condition.resourceType', value: '"Condition"' }]
 */
export function flattenElements(resource: unknown): RecordElement[] {
  const r = validateFhir(resource);
  const out: RecordElement[] = [];
  for (const k of Object.keys(r).sort()) flattenInto(r[k], `${r.resourceType}.${k}`, out);
  return out;
}
