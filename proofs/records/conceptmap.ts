/**
 * Data dictionary: FHIR R4 ConceptMap (https://hl7.org/fhir/R4/conceptmap.html) as docs/records.md uses it —
 * parse/validate, `codeMapHash = sha256(jcs(map))` (anchored with url and version), `translate`, `codesMatch`.
 *
 * Direction (R4 ConceptMap.group.element.target.equivalence): "read from target to source", e.g. `wider` means
 * the target concept is wider than the source. `codesMatch(map, a, b)` asks "does a record coded `a` satisfy a
 * requirement coded `b`?", which holds when `b` is the same concept as `a` or broader:
 *   - a mapping a → b (source a, target b) counts for equivalent | equal | wider | subsumes;
 *   - a mapping b → a (source b, target a) states how `a` relates to `b`, so it counts for the inverse relations
 *     equivalent | equal | narrower | specializes.
 * "The map has nothing to say about `a`" throws MR_ERR_CODEMAP_UNMAPPED; it is never reported as a silent
 * `false`, which a caller could not tell from "mapped, and to something else".
 */
import { createHash } from 'node:crypto';
import { bytesToHex, type Hex } from '../bytes.js';
import { ProofError } from '../errors.js';
import { checkCode, isKnownCodeSystem } from './codes.js';
import type { CodeMapRef } from './disclosure.js';
import { validateFhir } from './fhir.js';
import { canonicalBytes } from './jcs.js';

export const CONCEPT_MAP_EQUIVALENCES = [
  'relatedto',
  'equivalent',
  'equal',
  'wider',
  'subsumes',
  'narrower',
  'specializes',
  'inexact',
  'unmatched',
  'disjoint',
] as const;
export type ConceptMapEquivalence = (typeof CONCEPT_MAP_EQUIVALENCES)[number];

export interface ConceptMapTarget {
  /** Absent only for `unmatched`. */
  code?: string;
  display?: string;
  equivalence: ConceptMapEquivalence;
  comment?: string;
}

export interface ConceptMapElement {
  code: string;
  display?: string;
  target: ConceptMapTarget[];
}

export interface ConceptMapGroup {
  source: string;
  sourceVersion?: string;
  target: string;
  targetVersion?: string;
  element: ConceptMapElement[];
}

export interface ConceptMap {
  resourceType: 'ConceptMap';
  id?: string;
  url: string;
  version: string;
  name?: string;
  title?: string;
  status: 'draft' | 'active' | 'retired' | 'unknown';
  group: ConceptMapGroup[];
  [element: string]: unknown;
}

export interface Coding {
  system: string;
  code: string;
  display?: string;
}

export interface Translation {
  code: string;
  equivalence: ConceptMapEquivalence;
}

const STATUSES = new Set(['draft', 'active', 'retired', 'unknown']);
const EQUIVALENCES: ReadonlySet<string> = new Set(CONCEPT_MAP_EQUIVALENCES);
/** Target is the same concept or broader than the source. */
const FORWARD_MATCH: ReadonlySet<string> = new Set(['equivalent', 'equal', 'wider', 'subsumes']);
/** Inverse of FORWARD_MATCH: read on a b → a mapping, the record's `a` is the same or narrower than `b`. */
const REVERSE_MATCH: ReadonlySet<string> = new Set(['equivalent', 'equal', 'narrower', 'specializes']);
const URI_RE = /^[A-Za-z][A-Za-z0-9+.-]*:\S+$/;

function invalid(path: string, message: string, cause?: unknown): never {
  throw new ProofError('MR_ERR_CODEMAP_INVALID', `conceptmap: ${path}: ${message}`, {
    details: { path },
    cause,
  });
}

const isObj = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const nonEmpty = (v: unknown): v is string => typeof v === 'string' && v.trim().length > 0;

function checkCodeAt(system: string, code: string, path: string): void {
  if (!isKnownCodeSystem(system)) return; // other terminologies: format not checkable here
  try {
    checkCode(system, code);
  } catch (err) {
    invalid(path, err instanceof Error ? err.message : String(err), err);
  }
}

/**
 * Validates a FHIR R4 ConceptMap for use as a data dictionary and returns it typed. Beyond R4's own rules
 * (required `equivalence`, invariant cmd-1: `narrower`/`inexact` need a comment) it requires a `version`
 * (the map is anchored by url + version), non-empty groups and elements, a code on every target except
 * `unmatched`, no element listed twice in a group, and well-formed codes for the systems of codes.ts.
 *
 * @throws ProofError MR_ERR_CODEMAP_INVALID (message and details.path give the FHIR path; structural FHIR errors
 *   are wrapped, with the MR_ERR_FHIR_INVALID error as `cause`)
 */
export function parseConceptMap(value: unknown): ConceptMap {
  try {
    validateFhir(value);
  } catch (err) {
    // One code for "this is not a usable data dictionary"; the FHIR error stays as the cause.
    const path = err instanceof ProofError ? String(err.details.path ?? 'ConceptMap') : 'ConceptMap';
    invalid(path, err instanceof Error ? err.message : String(err), err);
  }
  const m = value as Record<string, unknown>;
  if (m.resourceType !== 'ConceptMap')
    invalid('resourceType', `expected ConceptMap, got ${String(m.resourceType)}`);
  if (!nonEmpty(m.url) || !URI_RE.test(m.url))
    invalid('ConceptMap.url', 'expected an absolute canonical URL');
  if (!nonEmpty(m.version))
    invalid('ConceptMap.version', 'a version is required (the map is anchored by url and version)');
  if (typeof m.status !== 'string' || !STATUSES.has(m.status))
    invalid('ConceptMap.status', `expected one of ${[...STATUSES].join(', ')}`);
  if (!Array.isArray(m.group) || m.group.length === 0)
    invalid('ConceptMap.group', 'at least one group is required');
  m.group.forEach((g: unknown, gi) => {
    const gp = `ConceptMap.group[${gi}]`;
    if (!isObj(g)) invalid(gp, 'expected an object');
    if (!nonEmpty(g.source) || !URI_RE.test(g.source))
      invalid(`${gp}.source`, 'expected the source code system URI');
    if (!nonEmpty(g.target) || !URI_RE.test(g.target))
      invalid(`${gp}.target`, 'expected the target code system URI');
    if (!Array.isArray(g.element) || g.element.length === 0)
      invalid(`${gp}.element`, 'at least one element is required');
    const codes = new Set<string>();
    g.element.forEach((e: unknown, ei) => {
      const ep = `${gp}.element[${ei}]`;
      if (!isObj(e)) invalid(ep, 'expected an object');
      if (!nonEmpty(e.code)) invalid(`${ep}.code`, 'expected a code');
      if (codes.has(e.code)) invalid(`${ep}.code`, `code ${e.code} is listed twice in this group`);
      codes.add(e.code);
      checkCodeAt(g.source as string, e.code, `${ep}.code`);
      if (!Array.isArray(e.target) || e.target.length === 0)
        invalid(
          `${ep}.target`,
          'at least one target is required (use equivalence "unmatched" to say there is none)',
        );
      const targets = new Set<string>();
      e.target.forEach((t: unknown, ti) => {
        const tp = `${ep}.target[${ti}]`;
        if (!isObj(t)) invalid(tp, 'expected an object');
        if (typeof t.equivalence !== 'string' || !EQUIVALENCES.has(t.equivalence))
          invalid(`${tp}.equivalence`, `expected one of ${CONCEPT_MAP_EQUIVALENCES.join(', ')}`);
        if (t.equivalence === 'unmatched') {
          if (t.code !== undefined) invalid(`${tp}.code`, 'an unmatched target has no code');
        } else {
          if (!nonEmpty(t.code)) invalid(`${tp}.code`, 'expected a code');
          if (targets.has(t.code)) invalid(`${tp}.code`, `target ${t.code} is listed twice for ${e.code}`);
          targets.add(t.code);
          checkCodeAt(g.target as string, t.code, `${tp}.code`);
        }
        if ((t.equivalence === 'narrower' || t.equivalence === 'inexact') && !nonEmpty(t.comment))
          invalid(`${tp}.comment`, `R4 cmd-1: a ${t.equivalence} mapping needs a comment`);
      });
    });
  });
  return value as ConceptMap;
}

/** sha256(jcs(conceptMap)), the hash anchored next to the map's url and version. */
export function codeMapHash(map: ConceptMap): Hex {
  parseConceptMap(map);
  return bytesToHex(createHash('sha256').update(canonicalBytes(map)).digest());
}

/** The `{ id, version, hash }` a disclosure carries to name the data dictionary it was matched with. */
export function codeMapRef(map: ConceptMap): CodeMapRef {
  return { id: map.url, version: map.version, hash: codeMapHash(map) };
}

function checkCoding(c: unknown, name: string): asserts c is Coding {
  if (!isObj(c) || !nonEmpty(c.system) || !nonEmpty(c.code))
    throw new ProofError('MR_ERR_CODEMAP_CODING', `conceptmap: ${name} must be a Coding { system, code }`, {
      details: { field: name },
    });
  // A malformed code is an input error, not "unmapped".
  if (isKnownCodeSystem(c.system)) checkCode(c.system, c.code);
}

function unmapped(map: ConceptMap, c: Coding, targetSystem: string): never {
  throw new ProofError(
    'MR_ERR_CODEMAP_UNMAPPED',
    `conceptmap ${map.url}|${map.version}: no mapping for ${c.system}|${c.code} to ${targetSystem}`,
    { details: { system: c.system, code: c.code, targetSystem, map: map.url, version: map.version } },
  );
}

/**
 * The targets of `coding` in `targetSystem`, from the groups mapping its system to `targetSystem`.
 * An empty array means the map says "unmatched"; no statement at all throws.
 *
 * @example
 * translate(SEED_CODE_MAP, { system: 'http://hl7.org/fhir/sid/icd-10', code: 'I10' }, 'http://snomed.info/sct')
 * // [{ code: '59621000', equivalence: 'equivalent' }, { code: '38341003', equivalence: 'wider' }]
 * @throws ProofError MR_ERR_CODEMAP_UNMAPPED, MR_ERR_CODEMAP_CODING, MR_ERR_CODE_FORMAT
 */
export function translate(
  map: ConceptMap,
  coding: Pick<Coding, 'system' | 'code'>,
  targetSystem: string,
): Translation[] {
  parseConceptMap(map);
  checkCoding(coding, 'coding');
  let found = false;
  const out: Translation[] = [];
  for (const g of map.group) {
    if (g.source !== coding.system || g.target !== targetSystem) continue;
    for (const e of g.element) {
      if (e.code !== coding.code) continue;
      found = true;
      for (const t of e.target)
        if (t.code !== undefined) out.push({ code: t.code, equivalence: t.equivalence });
    }
  }
  if (!found) unmapped(map, coding, targetSystem);
  return out;
}

/**
 * Whether a record coded `a` satisfies a requirement coded `b` under `map` (see the header for direction).
 * Same system: equal codes match, different codes do not (no intra-system hierarchy is assumed).
 *
 * @example
 * codesMatch(SEED_CODE_MAP, { system: ICD10, code: 'I10' }, { system: SCT, code: '59621000' }) // true
 * codesMatch(SEED_CODE_MAP, { system: SCT, code: '38341003' }, { system: ICD10, code: 'I10' }) // false (wider)
 * codesMatch(SEED_CODE_MAP, { system: ICD10, code: 'J45' }, { system: SCT, code: '59621000' }) // throws UNMAPPED
 * @throws ProofError MR_ERR_CODEMAP_UNMAPPED, MR_ERR_CODEMAP_CODING, MR_ERR_CODE_FORMAT
 */
export function codesMatch(map: ConceptMap, a: Coding, b: Coding): boolean {
  parseConceptMap(map);
  checkCoding(a, 'a');
  checkCoding(b, 'b');
  if (a.system === b.system) return a.code === b.code;
  let mapped = false;
  let match = false;
  for (const g of map.group) {
    if (g.source === a.system && g.target === b.system) {
      for (const e of g.element) {
        if (e.code !== a.code) continue;
        mapped = true;
        for (const t of e.target) if (t.code === b.code && FORWARD_MATCH.has(t.equivalence)) match = true;
      }
    } else if (g.source === b.system && g.target === a.system) {
      for (const e of g.element) {
        for (const t of e.target) {
          if (t.code !== a.code) continue;
          mapped = true;
          if (e.code === b.code && REVERSE_MATCH.has(t.equivalence)) match = true;
        }
      }
    }
  }
  if (!mapped) unmapped(map, a, b.system);
  return match;
}

/** The seed is shared module state; frozen so no caller can change it (and its anchored hash) by accident. */
function deepFreeze<T>(v: T): T {
  if (typeof v === 'object' && v !== null) {
    for (const x of Object.values(v)) deepFreeze(x);
    Object.freeze(v);
  }
  return v;
}

const ICD10 = 'http://hl7.org/fhir/sid/icd-10';
const SCT = 'http://snomed.info/sct';

/**
 * Seed data dictionary ICD-10 ↔ SNOMED CT. I10 and 59621000 are the same concept; E11.9 ("without
 * complications") is narrower than 44054006 (type 2 diabetes mellitus); 38341003 (hypertensive disorder) is
 * wider than I10. So a record coded I10 satisfies a requirement for 38341003, but not the other way round.
 */
export const SEED_CODE_MAP: ConceptMap = deepFreeze({
  resourceType: 'ConceptMap',
  id: 'medrelay-icd10-sct',
  url: 'https://medrelay.example/fhir/ConceptMap/icd10-sct',
  version: '1.0.0',
  name: 'MedrelayIcd10Snomed',
  title: 'medrelay seed map ICD-10 <-> SNOMED CT',
  status: 'active',
  group: [
    {
      source: ICD10,
      target: SCT,
      element: [
        {
          code: 'I10',
          display: 'Essential (primary) hypertension',
          target: [
            { code: '59621000', display: 'Essential hypertension', equivalence: 'equivalent' },
            { code: '38341003', display: 'Hypertensive disorder', equivalence: 'wider' },
          ],
        },
        {
          code: 'E11.9',
          display: 'Type 2 diabetes mellitus without complications',
          target: [{ code: '44054006', display: 'Diabetes mellitus type 2', equivalence: 'wider' }],
        },
      ],
    },
    {
      source: SCT,
      target: ICD10,
      element: [
        {
          code: '59621000',
          display: 'Essential hypertension',
          target: [{ code: 'I10', display: 'Essential (primary) hypertension', equivalence: 'equivalent' }],
        },
        {
          code: '44054006',
          display: 'Diabetes mellitus type 2',
          target: [
            {
              code: 'E11.9',
              display: 'Type 2 diabetes mellitus without complications',
              equivalence: 'narrower',
              comment: 'E11.9 excludes complicated type 2 diabetes (E11.0-E11.8).',
            },
          ],
        },
        {
          code: '38341003',
          display: 'Hypertensive disorder',
          target: [
            {
              code: 'I10',
              display: 'Essential (primary) hypertension',
              equivalence: 'narrower',
              comment: 'I10 covers essential hypertension only; secondary hypertension is I15.',
            },
          ],
        },
      ],
    },
  ],
});
