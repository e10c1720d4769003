/**
 * FHIR R4 `Consent` evaluation (http://hl7.org/fhir/R4/consent.html, "provision" rules): may this actor, for
 * this purpose, perform this action on this data at this time? Pure: the clock and the revocation flag are inputs.
 *
 * Rules (docs/records.md "Consent"; DESIGN: "expired or revoked consent must stop new deliveries at once"):
 *  1. Revoked (`opts.revoked`, e.g. from the on-chain ConsentRegistry, or `status: inactive`) → deny
 *     `DENY_REVOKED`. Any other status but `active` → deny `DENY_STATUS`.
 *  2. The root `provision.period` must contain `at` → else `DENY_NOT_YET_VALID` / `DENY_EXPIRED`. Both ends are
 *     inclusive over the instants the FHIR value covers (consent.ts, "Dates").
 *  3. Base policy is deny: nothing is shared unless a provision permits it. The root provision applies when every
 *     constraint it states matches; its `type` is then the decision, and nested provisions are exceptions to it.
 *     A root that does not match denies with the failing constraint (`DENY_ACTOR`, `DENY_PURPOSE`, …).
 *  4. Exceptions: a nested provision applies only inside its parent (when the parent applied) and when every
 *     constraint it states matches; it then replaces its parent's decision (the more specific rule wins), and
 *     so on down the tree. When several sibling exceptions apply and disagree, deny wins.
 *  5. Unknowns fail closed. A constraint the request cannot answer (no `data.date` against a `dataPeriod`, no
 *     `data.codes` against `code`, an actor role other than recipient, a ConceptMap with no mapping…) keeps a
 *     permit from applying and makes a deny apply (`DENY_UNDETERMINED`), so missing data never widens access.
 *
 * A provision's constraints: `period` contains `at`; `actor` names `request.actor` with a recipient role
 * (v3-ParticipationType IRCP / PRCP); `action` has `request.action` (consentaction, default `access`);
 * `purpose` covers `request.purpose` (same code, or an ancestor in v3 PurposeOfUse: a grant for HPAYMT covers
 * CLMATTCH); `class` has `data.class`; some `code` coding matches some `data.codes` coding (exact
 * system+code, or `opts.codeMatcher`, e.g. the ConceptMap's `codesMatch`); `securityLabel` ⊆ `data.securityLabels`;
 * `data.date` lies inside `dataPeriod`; `data[]` (meaning `instance`) names `data.reference`.
 */
import { createHash } from 'node:crypto';
import { bytesToHex, type Hex } from '../bytes.js';
import { isKnownCodeSystem } from '../records/codes.js';
import { type ConceptMap, codesMatch } from '../records/conceptmap.js';
import { canonicalBytes } from '../records/jcs.js';
import {
  CONSENT_ACTIONS,
  type CodeableConcept,
  type Coding,
  type Consent,
  type ConsentAction,
  type ConsentProvision,
  type ConsentStatus,
  fhirDateTimeBounds,
  isParsedConsent,
  type Period,
  type ProvisionType,
  parseConsent,
  periodBounds,
  R4_RESOURCE_TYPES,
  SYSTEMS,
} from './consent.js';

export const DecisionCode = {
  PERMIT: 'PERMIT',
  DENY_REVOKED: 'DENY_REVOKED',
  DENY_STATUS: 'DENY_STATUS',
  DENY_NOT_YET_VALID: 'DENY_NOT_YET_VALID',
  DENY_EXPIRED: 'DENY_EXPIRED',
  DENY_PERIOD: 'DENY_PERIOD',
  DENY_ACTOR: 'DENY_ACTOR',
  DENY_ACTION: 'DENY_ACTION',
  DENY_PURPOSE: 'DENY_PURPOSE',
  DENY_CLASS: 'DENY_CLASS',
  DENY_CODE: 'DENY_CODE',
  DENY_SECURITY_LABEL: 'DENY_SECURITY_LABEL',
  DENY_DATA_PERIOD: 'DENY_DATA_PERIOD',
  DENY_DATA_REFERENCE: 'DENY_DATA_REFERENCE',
  /** A deny exception applies. */
  DENY_EXCEPTION: 'DENY_EXCEPTION',
  /** The root rule is deny and no permit exception applies. */
  DENY_ROOT: 'DENY_ROOT',
  /** The request lacks what a provision needs to decide; medrelay fails closed. */
  DENY_UNDETERMINED: 'DENY_UNDETERMINED',
  /** The request itself is malformed (the reason names the field). */
  DENY_BAD_REQUEST: 'DENY_BAD_REQUEST',
} as const;
export type DecisionCode = (typeof DecisionCode)[keyof typeof DecisionCode];

export interface ConsentDecision {
  decision: 'permit' | 'deny';
  /** One sentence naming the rule and the constraint that decided. */
  reason: string;
  code: DecisionCode;
  /** FHIR path of the provision that decided, e.g. `Consent.provision.provision[0]`. */
  provisionPath?: string;
  /** FHIR path of the element that decided, e.g. `Consent.provision.purpose` (absent for a full match). */
  constraint?: string;
}

/** A coding as a request carries it (system and code are needed to match anything). */
export interface RequestCoding {
  system: string;
  code: string;
  display?: string;
}

export interface ConsentRequest {
  /** Literal reference of who asks, e.g. `Organization/insurer-x`. */
  actor: string;
  purpose: RequestCoding;
  /** consentaction code. @defaultValue `'access'` */
  action?: ConsentAction;
  data: {
    /** FHIR resource type (`Observation`), or a coding of another class system (document classes). */
    class?: string | RequestCoding;
    /** Every coding of the data a consent may name: its `code`, `category`, document `type`… */
    codes?: readonly RequestCoding[];
    /** The data's own clinical date (e.g. `Observation.effectiveDateTime`), a FHIR dateTime. */
    date?: string;
    securityLabels?: readonly RequestCoding[];
    /** Literal reference of the data, e.g. `Observation/abc`, for `provision.data` rules. */
    reference?: string;
  };
  /** Time of access: a Date or a FHIR dateTime with time and zone. */
  at: string | Date;
}

/**
 * `(dataCoding, consentCoding) → boolean`: does data coded `dataCoding` fall under the consent's
 * `consentCoding`? Same argument order as proofs/records/conceptmap.ts `codesMatch(map, a, b)` ("does a record
 * coded a satisfy a requirement coded b"). Throwing means "cannot tell" (e.g. `MR_ERR_CODEMAP_UNMAPPED`) and is
 * handled as an unknown (fail closed: a permit does not apply, a deny does), never as a match.
 */
export type CodeMatcher = (dataCoding: RequestCoding, consentCoding: RequestCoding) => boolean;

/**
 * A `CodeMatcher` from a ConceptMap data dictionary: same system → equal codes; two clinical systems
 * (ICD-10, SNOMED CT, LOINC) → `codesMatch(map, data, consent)`, which throws when the map cannot relate them
 * (an unknown, so fail closed); a non-clinical system on either side (observation-category, resource-types…)
 * → no match, since no map relates a category to a test code.
 *
 * @example evaluateConsent(consent, request, { codeMatcher: conceptMapMatcher(SEED_CODE_MAP) })
 */
export function conceptMapMatcher(map: ConceptMap): CodeMatcher {
  return (data, consent) => {
    if (data.system === consent.system) return data.code === consent.code;
    if (!isKnownCodeSystem(data.system) || !isKnownCodeSystem(consent.system)) return false;
    return codesMatch(map, data, consent);
  };
}

/** `(consentPurpose, requestPurpose) → boolean`: does the granted purpose cover the requested one? */
export type PurposeMatcher = (consentPurpose: RequestCoding, requestPurpose: RequestCoding) => boolean;

export interface EvaluateOptions {
  /** Revoked outside the resource (on-chain ConsentRegistry). @defaultValue `false` */
  revoked?: boolean;
  /** Cross-system code matching (ConceptMap). @defaultValue exact system+code */
  codeMatcher?: CodeMatcher;
  /** @defaultValue `purposeCovers` (exact, or an ancestor in v3 PurposeOfUse) */
  purposeMatcher?: PurposeMatcher;
}

/** Actor roles that name the party receiving the data (v3-ParticipationType). */
export const RECIPIENT_ROLES: readonly RequestCoding[] = [
  { system: SYSTEMS.participationType, code: 'IRCP' }, // information recipient
  { system: SYSTEMS.participationType, code: 'PRCP' }, // primary information recipient
];

/**
 * child → parent in the v3 PurposeOfUse hierarchy (http://terminology.hl7.org/CodeSystem/v3-ActReason), the
 * part medrelay's flows use: a consent for the parent covers a request for the child, never the reverse.
 */
export const PURPOSE_PARENT: ReadonlyMap<string, string> = new Map([
  ['CLMATTCH', 'HPAYMT'],
  ['COVAUTH', 'HPAYMT'],
  ['COVERAGE', 'HPAYMT'],
  ['REMITADV', 'HPAYMT'],
  ['ELIGDTRM', 'COVERAGE'],
  ['ELIGVER', 'COVERAGE'],
  ['ENROLLM', 'COVERAGE'],
  ['ETREAT', 'TREAT'],
  ['COC', 'TREAT'],
  ['BTG', 'ETREAT'],
  ['ERTREAT', 'ETREAT'],
]);

/** Default `PurposeMatcher`: same system+code, or `granted` is an ancestor of `requested` in v3 PurposeOfUse. */
export function purposeCovers(granted: RequestCoding, requested: RequestCoding): boolean {
  if (granted.system !== requested.system) return false;
  if (granted.code === requested.code) return true;
  if (granted.system !== SYSTEMS.actReason) return false;
  for (
    let c = PURPOSE_PARENT.get(requested.code), n = 0;
    c !== undefined && n < 8;
    c = PURPOSE_PARENT.get(c), n++
  ) {
    if (c === granted.code) return true;
  }
  return false;
}

// ---------------------------------------------------------------------------------------------------------

const NO = 0;
const UNKNOWN = 2;

/** A constraint that did not match (`NO`) or could not be decided (`UNKNOWN`). */
interface Miss {
  tri: typeof NO | typeof UNKNOWN;
  element: string;
  code: DecisionCode;
  why: string;
}

interface Req {
  actor: string;
  purpose: RequestCoding;
  action: string;
  klass?: RequestCoding;
  codes?: readonly RequestCoding[];
  date?: { start: number; end: number };
  dateText?: string;
  labels?: readonly RequestCoding[];
  reference?: string;
  at: number;
  codeMatcher?: CodeMatcher;
  purposeMatcher: PurposeMatcher;
}

// Validated consents are frozen, so their periods can be parsed once.
const BOUNDS = new WeakMap<Period, { start: number; end: number }>();
function bounds(p: Period): { start: number; end: number } {
  let b = BOUNDS.get(p);
  if (!b) {
    b = periodBounds(p);
    BOUNDS.set(p, b);
  }
  return b;
}

const sameCoding = (a: RequestCoding, b: RequestCoding): boolean =>
  a.system === b.system && a.code === b.code;

const SHORT_SYSTEMS: Record<string, string> = {
  [SYSTEMS.loinc]: 'LOINC',
  [SYSTEMS.snomed]: 'SNOMED',
  [SYSTEMS.icd10]: 'ICD-10',
  [SYSTEMS.icd10cm]: 'ICD-10-CM',
  [SYSTEMS.observationCategory]: 'observation-category',
  [SYSTEMS.actReason]: 'v3-ActReason',
  [SYSTEMS.resourceTypes]: 'resource-types',
  [SYSTEMS.consentAction]: 'consentaction',
  [SYSTEMS.participationType]: 'v3-ParticipationType',
};
const fmt = (c: RequestCoding): string => `${SHORT_SYSTEMS[c.system] ?? c.system} ${c.code}`;
const fmtList = (cs: readonly RequestCoding[]): string => {
  const shown = cs.slice(0, 6).map(fmt).join(', ');
  return cs.length > 6 ? `${shown}, … (${cs.length} in all)` : shown;
};
const fmtPeriod = (p: Period): string => `[${p.start ?? '-∞'}, ${p.end ?? '+∞'}]`;
const conceptCodings = (cs: readonly CodeableConcept[]): RequestCoding[] => cs.flatMap((c) => c.coding ?? []);

function miss(tri: Miss['tri'], element: string, code: DecisionCode, why: string): Miss {
  return { tri, element, code, why };
}

function checkActor(p: ConsentProvision, path: string, r: Req): Miss | null {
  let recipients = 0;
  let other: string | undefined;
  for (const a of p.actor!) {
    if (a.role.coding!.some((c) => RECIPIENT_ROLES.some((x) => sameCoding(c, x)))) {
      recipients++;
      if (a.reference.reference === r.actor) return null;
    } else other ??= fmtList(a.role.coding!);
  }
  const el = `${path}.actor`;
  if (recipients > 0) {
    const named = p.actor!.filter((a) =>
      a.role.coding!.some((c) => RECIPIENT_ROLES.some((x) => sameCoding(c, x))),
    );
    return miss(
      NO,
      el,
      DecisionCode.DENY_ACTOR,
      `actor ${r.actor} is not a recipient named in ${el} (${named.map((a) => a.reference.reference).join(', ')})`,
    );
  }
  return miss(
    UNKNOWN,
    el,
    DecisionCode.DENY_ACTOR,
    `${el} names actors only by role ${other}, which describes the data, not the requester; medrelay cannot check it`,
  );
}

function checkAction(p: ConsentProvision, path: string, r: Req): Miss | null {
  for (const a of p.action!) {
    for (const c of a.coding!) if (c.system === SYSTEMS.consentAction && c.code === r.action) return null;
  }
  const el = `${path}.action`;
  const allowed = conceptCodings(p.action!).filter((c) => c.system === SYSTEMS.consentAction);
  return miss(
    NO,
    el,
    DecisionCode.DENY_ACTION,
    `action ${r.action} is not among ${el} (${allowed.map((c) => c.code).join(', ')})`,
  );
}

function checkPurpose(p: ConsentProvision, path: string, r: Req): Miss | null {
  for (const c of p.purpose!) if (r.purposeMatcher(c, r.purpose)) return null;
  const el = `${path}.purpose`;
  return miss(
    NO,
    el,
    DecisionCode.DENY_PURPOSE,
    `purpose ${fmt(r.purpose)} is not covered by ${el} (${fmtList(p.purpose!)})`,
  );
}

function checkClass(p: ConsentProvision, path: string, r: Req): Miss | null {
  const el = `${path}.class`;
  if (!r.klass) {
    return miss(
      UNKNOWN,
      el,
      DecisionCode.DENY_CLASS,
      `the request states no data class and ${el} restricts it`,
    );
  }
  let comparable = false;
  for (const c of p.class!) {
    if (c.system !== r.klass.system) continue;
    comparable = true;
    if (c.code === r.klass.code) return null;
  }
  if (!comparable) {
    return miss(
      UNKNOWN,
      el,
      DecisionCode.DENY_CLASS,
      `${el} (${fmtList(p.class!)}) uses no class system the request's class ${fmt(r.klass)} can be compared with`,
    );
  }
  return miss(
    NO,
    el,
    DecisionCode.DENY_CLASS,
    `data class ${r.klass.code} is not among ${el} (${fmtList(p.class!)})`,
  );
}

function checkCode(p: ConsentProvision, path: string, r: Req): Miss | null {
  const el = `${path}.code`;
  if (!r.codes || r.codes.length === 0) {
    return miss(
      UNKNOWN,
      el,
      DecisionCode.DENY_CODE,
      `the request states no data codes and ${el} restricts them`,
    );
  }
  let unmapped: string | undefined;
  for (const concept of p.code!) {
    for (const c of concept.coding!) {
      for (const d of r.codes) {
        if (sameCoding(c, d)) return null;
        if (!r.codeMatcher) continue;
        try {
          if (r.codeMatcher(d, c)) return null;
        } catch (err) {
          // The matcher could not decide (no mapping): an unknown, never a match.
          unmapped ??= `${fmt(d)} vs ${fmt(c)}: ${describeError(err)}`;
        }
      }
    }
  }
  const wanted = fmtList(conceptCodings(p.code!));
  if (unmapped !== undefined) {
    return miss(
      UNKNOWN,
      el,
      DecisionCode.DENY_CODE,
      `the code matcher could not compare the data with ${el} (${unmapped})`,
    );
  }
  return miss(NO, el, DecisionCode.DENY_CODE, `no data code (${fmtList(r.codes)}) matches ${el} (${wanted})`);
}

const describeError = (err: unknown): string => {
  const code = (err as { code?: unknown })?.code;
  const msg = err instanceof Error ? err.message : String(err);
  return typeof code === 'string' ? `${code}: ${msg}` : msg;
};

function checkLabels(p: ConsentProvision, path: string, r: Req): Miss | null {
  const el = `${path}.securityLabel`;
  if (!r.labels) {
    return miss(
      UNKNOWN,
      el,
      DecisionCode.DENY_SECURITY_LABEL,
      `the request states no security labels and ${el} restricts them`,
    );
  }
  // R4: "if more than one label is specified, all resources must have all the specified labels".
  const lacking = p.securityLabel!.filter((l) => !r.labels!.some((x) => sameCoding(l, x)));
  if (lacking.length === 0) return null;
  return miss(
    NO,
    el,
    DecisionCode.DENY_SECURITY_LABEL,
    `the data lacks security label ${fmtList(lacking)} required by ${el}`,
  );
}

function checkDataPeriod(p: ConsentProvision, path: string, r: Req): Miss | null {
  const el = `${path}.dataPeriod`;
  if (!r.date) {
    return miss(
      UNKNOWN,
      el,
      DecisionCode.DENY_DATA_PERIOD,
      `the request states no data date and ${el} restricts it`,
    );
  }
  const b = bounds(p.dataPeriod!);
  if (r.date.start >= b.start && r.date.end <= b.end) return null;
  const disjoint = r.date.end < b.start || r.date.start > b.end;
  // A partial data date ("2024-07") that straddles a bound may or may not be inside: unknown, not a match.
  return miss(
    disjoint ? NO : UNKNOWN,
    el,
    DecisionCode.DENY_DATA_PERIOD,
    `data dated ${r.dateText} is ${disjoint ? 'outside' : 'not wholly inside'} ${el} ${fmtPeriod(p.dataPeriod!)}`,
  );
}

function checkData(p: ConsentProvision, path: string, r: Req): Miss | null {
  const el = `${path}.data`;
  const instances = p.data!.filter((d) => d.meaning === 'instance');
  if (r.reference !== undefined && instances.some((d) => d.reference.reference === r.reference)) return null;
  if (r.reference === undefined || instances.length < p.data!.length) {
    // related / dependents / authoredby need the data's provenance graph, which a request does not carry.
    return miss(
      UNKNOWN,
      el,
      DecisionCode.DENY_DATA_REFERENCE,
      `the request does not let medrelay decide ${el}`,
    );
  }
  return miss(NO, el, DecisionCode.DENY_DATA_REFERENCE, `data ${r.reference} is not named in ${el}`);
}

function checkPeriod(p: ConsentProvision, path: string, r: Req): Miss | null {
  const b = bounds(p.period!);
  if (r.at >= b.start && r.at <= b.end) return null;
  const el = `${path}.period`;
  return miss(
    NO,
    el,
    DecisionCode.DENY_PERIOD,
    `access at ${new Date(r.at).toISOString()} is outside ${el} ${fmtPeriod(p.period!)}`,
  );
}

type Check = (p: ConsentProvision, path: string, r: Req) => Miss | null;
// Order = order of reasons: who, what action, why, then which data.
const CHECKS: readonly (readonly [keyof ConsentProvision, Check])[] = [
  ['actor', checkActor],
  ['action', checkAction],
  ['purpose', checkPurpose],
  ['class', checkClass],
  ['code', checkCode],
  ['securityLabel', checkLabels],
  ['dataPeriod', checkDataPeriod],
  ['data', checkData],
];

/** First constraint that fails (`NO` before `UNKNOWN`), or null when every stated constraint matches. */
function matchProvision(p: ConsentProvision, path: string, r: Req, isRoot: boolean): Miss | null {
  let unknown: Miss | null = null;
  const take = (m: Miss | null): boolean => {
    if (m === null) return false;
    if (m.tri === NO) return true;
    unknown ??= m;
    return false;
  };
  // The root period is checked first, apart, to report expiry as such.
  if (!isRoot && p.period) {
    const m = checkPeriod(p, path, r);
    if (take(m)) return m;
  }
  for (const [element, check] of CHECKS) {
    if (p[element] === undefined) continue;
    const m = check(p, path, r);
    if (take(m)) return m;
  }
  return unknown;
}

// Provisions of validated consents are frozen: their description is computed once.
const STATED = new WeakMap<ConsentProvision, string>();

/** What a provision states, for reasons: `code LOINC 75622-1; class resource-types Observation`. */
function stated(p: ConsentProvision): string {
  let s = STATED.get(p);
  if (s === undefined) {
    s = describe(p);
    STATED.set(p, s);
  }
  return s;
}

function describe(p: ConsentProvision): string {
  const parts: string[] = [];
  if (p.period) parts.push(`period ${fmtPeriod(p.period)}`);
  if (p.actor) parts.push(`actor ${p.actor.map((a) => a.reference.reference).join(', ')}`);
  if (p.action)
    parts.push(
      `action ${conceptCodings(p.action)
        .map((c) => c.code)
        .join(', ')}`,
    );
  if (p.purpose) parts.push(`purpose ${fmtList(p.purpose)}`);
  if (p.class) parts.push(`class ${fmtList(p.class)}`);
  if (p.code) parts.push(`code ${fmtList(conceptCodings(p.code))}`);
  if (p.securityLabel) parts.push(`securityLabel ${fmtList(p.securityLabel)}`);
  if (p.dataPeriod) parts.push(`dataPeriod ${fmtPeriod(p.dataPeriod)}`);
  if (p.data) parts.push(`data ${p.data.map((d) => d.reference.reference).join(', ')}`);
  return parts.length === 0 ? 'no constraints' : parts.join('; ');
}

const deny = (
  code: DecisionCode,
  reason: string,
  provisionPath?: string,
  constraint?: string,
): ConsentDecision => {
  const d: ConsentDecision = { decision: 'deny', reason, code };
  if (provisionPath !== undefined) d.provisionPath = provisionPath;
  if (constraint !== undefined) d.constraint = constraint;
  return d;
};

/** The decision inside a provision that applies: its own type unless a nested exception applies. */
function resolve(node: ConsentProvision, path: string, r: Req, isRoot: boolean): ConsentDecision {
  let permitted: ConsentDecision | undefined;
  let nearMiss: Miss | undefined;
  const kids = node.provision ?? [];
  for (let i = 0; i < kids.length; i++) {
    const kid = kids[i]!;
    const kp = `${path}.provision[${i}]`;
    const m = matchProvision(kid, kp, r, false);
    let outcome: ConsentDecision;
    if (m === null) outcome = resolve(kid, kp, r, false);
    else if (m.tri === UNKNOWN && kid.type === 'deny') {
      // Fail closed: a deny that might apply, applies (its own exceptions are not consulted on a maybe).
      outcome = deny(
        DecisionCode.DENY_UNDETERMINED,
        `denied: the deny exception ${kp} may apply and the request cannot rule it out (${m.why})`,
        kp,
        m.element,
      );
    } else {
      if (kid.type === 'permit') nearMiss ??= m;
      continue;
    }
    if (outcome.decision === 'deny') return outcome; // deny wins among siblings
    permitted ??= outcome;
  }
  if (permitted) return permitted;
  if (node.type === 'permit') {
    return {
      decision: 'permit',
      reason: `permitted by ${path} (${stated(node)})`,
      code: DecisionCode.PERMIT,
      provisionPath: path,
    };
  }
  const closest = nearMiss ? `; closest permit: ${nearMiss.why}` : '';
  return isRoot
    ? deny(
        DecisionCode.DENY_ROOT,
        `denied: ${path} is a deny rule and no permit exception applies${closest}`,
        path,
      )
    : deny(
        DecisionCode.DENY_EXCEPTION,
        `denied by the deny exception ${path} (${stated(node)})${closest}`,
        path,
      );
}

function badRequest(field: string, expected: string): ConsentDecision {
  return deny(DecisionCode.DENY_BAD_REQUEST, `denied: request.${field}: expected ${expected}`);
}

const isCoding = (c: unknown): c is RequestCoding =>
  typeof c === 'object' &&
  c !== null &&
  typeof (c as RequestCoding).system === 'string' &&
  (c as RequestCoding).system !== '' &&
  typeof (c as RequestCoding).code === 'string' &&
  (c as RequestCoding).code !== '';

/** Checks the request's shape; a malformed request is denied (fail closed), never guessed at. */
function readRequest(q: ConsentRequest, opts: EvaluateOptions): Req | ConsentDecision {
  if (typeof q !== 'object' || q === null) return badRequest('', 'an object');
  if (typeof q.actor !== 'string' || q.actor === '')
    return badRequest('actor', 'a literal reference `Type/id`');
  if (!isCoding(q.purpose)) return badRequest('purpose', 'a Coding with system and code');
  const action = q.action ?? 'access';
  if (!(CONSENT_ACTIONS as readonly string[]).includes(action)) {
    return badRequest('action', `one of ${CONSENT_ACTIONS.join(' | ')}`);
  }
  const d = q.data;
  if (typeof d !== 'object' || d === null) return badRequest('data', 'an object');
  let at: number;
  if (q.at instanceof Date) at = q.at.getTime();
  else {
    const b = typeof q.at === 'string' ? fhirDateTimeBounds(q.at) : undefined;
    // A partial date is a span, not a moment: it could straddle the end of the consent.
    at = b && b.precision === 'instant' ? b.start : Number.NaN;
  }
  if (!Number.isFinite(at)) return badRequest('at', 'a valid Date or a FHIR dateTime with time and zone');
  const r: Req = {
    actor: q.actor,
    purpose: q.purpose,
    action,
    at,
    purposeMatcher: opts.purposeMatcher ?? purposeCovers,
  };
  if (opts.codeMatcher) r.codeMatcher = opts.codeMatcher;
  if (d.class !== undefined) {
    if (typeof d.class === 'string') {
      if (!R4_RESOURCE_TYPES.has(d.class)) return badRequest('data.class', 'an R4 resource type or a Coding');
      r.klass = { system: SYSTEMS.resourceTypes, code: d.class };
    } else if (isCoding(d.class)) r.klass = d.class;
    else return badRequest('data.class', 'an R4 resource type or a Coding');
  }
  if (d.codes !== undefined) {
    if (!Array.isArray(d.codes) || !d.codes.every(isCoding))
      return badRequest('data.codes', 'an array of Codings');
    r.codes = d.codes;
  }
  if (d.securityLabels !== undefined) {
    if (!Array.isArray(d.securityLabels) || !d.securityLabels.every(isCoding)) {
      return badRequest('data.securityLabels', 'an array of Codings');
    }
    r.labels = d.securityLabels;
  }
  if (d.date !== undefined) {
    const b = fhirDateTimeBounds(d.date);
    if (!b) return badRequest('data.date', 'a FHIR dateTime');
    r.date = b;
    r.dateText = d.date;
  }
  if (d.reference !== undefined) {
    if (typeof d.reference !== 'string' || d.reference === '')
      return badRequest('data.reference', 'a `Type/id`');
    r.reference = d.reference;
  }
  return r;
}

const STATUS_REASON: Record<Exclude<ConsentStatus, 'active' | 'inactive'>, string> = {
  draft: 'the consent is a draft, not yet in force',
  proposed: 'the consent is proposed, not yet agreed',
  rejected: 'the consent was rejected',
  'entered-in-error': 'the consent was entered in error',
};

/**
 * Decides one access request against a consent (rules in the module header). A consent not returned by
 * `parseConsent` is validated first (throws `MR_ERR_CONSENT_*`); a malformed request is denied, not thrown.
 *
 * @example
 * const d = evaluateConsent(consent, {
 *   actor: 'Organization/insurer-x',
 *   purpose: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActReason', code: 'CLMATTCH' },
 *   data: { class: 'Observation', codes: [{ system: 'http://loinc.org', code: '2345-7' }], date: '2025-01-02' },
 *   at: new Date(),
 * });
 * if (d.decision === 'deny') throw new UnrecoverableError(`${d.code}: ${d.reason}`);
 */
export function evaluateConsent(
  consent: Consent,
  request: ConsentRequest,
  opts: EvaluateOptions = {},
): ConsentDecision {
  const c = isParsedConsent(consent) ? consent : parseConsent(consent);
  const root = c.provision;
  if (opts.revoked === true) {
    return deny(
      DecisionCode.DENY_REVOKED,
      `denied: consent ${c.id} is revoked (revocation recorded outside the resource)`,
      'Consent',
    );
  }
  if (c.status === 'inactive') {
    return deny(
      DecisionCode.DENY_REVOKED,
      `denied: consent ${c.id} is revoked (Consent.status is inactive)`,
      'Consent',
      'Consent.status',
    );
  }
  if (c.status !== 'active') {
    return deny(
      DecisionCode.DENY_STATUS,
      `denied: ${STATUS_REASON[c.status]} (Consent.status is ${c.status})`,
      'Consent',
      'Consent.status',
    );
  }
  const r = readRequest(request, opts);
  if ('decision' in r) return r;
  const valid = bounds(root.period);
  if (r.at < valid.start) {
    return deny(
      DecisionCode.DENY_NOT_YET_VALID,
      `denied: not yet valid: access at ${new Date(r.at).toISOString()} is before Consent.provision.period.start ${root.period.start}`,
      'Consent.provision',
      'Consent.provision.period.start',
    );
  }
  if (r.at > valid.end) {
    return deny(
      DecisionCode.DENY_EXPIRED,
      `denied: expired: access at ${new Date(r.at).toISOString()} is after Consent.provision.period.end ${root.period.end}`,
      'Consent.provision',
      'Consent.provision.period.end',
    );
  }
  const m = matchProvision(root, 'Consent.provision', r, true);
  if (m !== null) {
    if (root.type === 'deny') {
      return deny(
        DecisionCode.DENY_ROOT,
        `denied: Consent.provision is a deny rule that does not cover this request (${m.why}), so none of its exceptions can permit it`,
        'Consent.provision',
      );
    }
    const code = m.tri === UNKNOWN ? DecisionCode.DENY_UNDETERMINED : m.code;
    return deny(code, `denied: ${m.why}`, 'Consent.provision', m.element);
  }
  return resolve(root, 'Consent.provision', r, true);
}

/**
 * `sha256(RFC 8785 JCS(consent))`, as `codeMapHash` and the record hash (docs/records.md): the reference a
 * CONSENT_GRANT / RECORD_PROOF packet carries. Validates the consent first (throws `MR_ERR_CONSENT_*`).
 *
 * @example consentHash(parseConsent(json)) // '0x3f…'
 */
export function consentHash(consent: Consent): Hex {
  const c = isParsedConsent(consent) ? consent : parseConsent(consent);
  return bytesToHex(createHash('sha256').update(canonicalBytes(c)).digest());
}

// ---------------------------------------------------------------------------------------------------------
// building consents

export type PeriodInput = { start: string | Date; end: string | Date };

export interface BuildConsentInput {
  /** `Patient/<64 hex>` or the pseudonym itself (`0x…` or bare hex, as `patientPseudonym` returns it). */
  patient: string;
  /** Who agrees: usually the patient's own reference; or an Organization / RelatedPerson. */
  performer: string | readonly string[];
  /** Who may receive the data (actor role IRCP), e.g. `Organization/insurer-x`. */
  recipient: string | readonly string[];
  /** v3-ActReason code (`CLMATTCH`) or any Coding. */
  purpose: string | RequestCoding | readonly (string | RequestCoding)[];
  /** FHIR resource types (`Observation`) or class Codings. */
  classes?: readonly (string | RequestCoding)[];
  /** Each entry becomes one CodeableConcept (a Coding, or a CodeableConcept with several equivalent codings). */
  codes?: readonly (RequestCoding | CodeableConcept)[];
  dataPeriod?: PeriodInput;
  /** Validity period: required, both ends. */
  period: PeriodInput;
  /** @defaultValue `'permit'` */
  type?: ProvisionType;
  /** @defaultValue `['access']` */
  actions?: readonly ConsentAction[];
  /** Nested exceptions, as FHIR provisions. */
  exceptions?: readonly ConsentProvision[];
  /** Custodian organizations (`Consent.organization`). */
  organization?: string | readonly string[];
  /** @defaultValue `'active'` */
  status?: ConsentStatus;
  /** @defaultValue derived from the content: `consent-` + 32 hex of its sha256 */
  id?: string;
  /** When the consent was given. @defaultValue `period.start` */
  dateTime?: string | Date;
}

const asArray = <T>(v: T | readonly T[]): readonly T[] => (Array.isArray(v) ? (v as readonly T[]) : [v as T]);
const iso = (v: string | Date): string => (v instanceof Date ? v.toISOString() : v);
const ref = (reference: string) => ({ reference });
const toCoding = (c: string | RequestCoding): Coding =>
  typeof c === 'string' ? { system: SYSTEMS.actReason, code: c } : { ...c };

/**
 * Builds a medrelay consent: scope patient-privacy, category LOINC 59284-0 (patient consent), policy OPTIN,
 * one root provision with the recipient(s) as IRCP actors. Returns the validated (`parseConsent`) resource.
 *
 * @example
 * buildConsent({ patient: pseudonym, performer: `Patient/${pseudonym.slice(2)}`, recipient: 'Organization/insurer-x',
 *   purpose: 'CLMATTCH', classes: ['Observation'], period: { start: '2025-01-15', end: '2025-02-15' } })
 * @throws ProofError MR_ERR_CONSENT_* when the input does not make a valid consent
 */
export function buildConsent(input: BuildConsentInput): Consent {
  const patient = /^(0x)?[0-9a-fA-F]{64}$/.test(input.patient)
    ? `Patient/${input.patient.replace(/^0x/, '').toLowerCase()}`
    : input.patient;
  const provision: Record<string, unknown> = {
    type: input.type ?? 'permit',
    period: { start: iso(input.period.start), end: iso(input.period.end) },
    actor: asArray(input.recipient).map((r) => ({
      role: {
        coding: [{ system: SYSTEMS.participationType, code: 'IRCP', display: 'information recipient' }],
      },
      reference: ref(r),
    })),
    action: (input.actions ?? ['access']).map((a) => ({
      coding: [{ system: SYSTEMS.consentAction, code: a }],
    })),
    purpose: asArray(input.purpose).map(toCoding),
  };
  if (input.classes) {
    provision.class = input.classes.map((c) =>
      typeof c === 'string' ? { system: SYSTEMS.resourceTypes, code: c } : { ...c },
    );
  }
  if (input.codes) {
    provision.code = input.codes.map((c) => ('coding' in c ? { ...c } : { coding: [{ ...c }] }));
  }
  if (input.dataPeriod) {
    provision.dataPeriod = { start: iso(input.dataPeriod.start), end: iso(input.dataPeriod.end) };
  }
  if (input.exceptions && input.exceptions.length > 0) provision.provision = input.exceptions;
  const body: Record<string, unknown> = {
    resourceType: 'Consent',
    status: input.status ?? 'active',
    scope: { coding: [{ system: SYSTEMS.consentScope, code: 'patient-privacy' }] },
    category: [{ coding: [{ system: SYSTEMS.loinc, code: '59284-0', display: 'Patient Consent' }] }],
    patient: ref(patient),
    dateTime: iso(input.dateTime ?? input.period.start),
    performer: asArray(input.performer).map(ref),
    policyRule: { coding: [{ system: SYSTEMS.actCode, code: 'OPTIN' }] },
    provision,
  };
  if (input.organization) body.organization = asArray(input.organization).map(ref);
  if (input.id === undefined) {
    // Validate first so a bad input reports its FHIR paths; the parsed copy is clean JSON, so JCS cannot fail.
    const { id: _, ...draft } = parseConsent({ ...body, id: 'draft' });
    body.id = `consent-${createHash('sha256').update(canonicalBytes(draft)).digest('hex').slice(0, 32)}`;
  } else body.id = input.id;
  return parseConsent(body);
}
