/**
 * FHIR R4 Consent (proofs/consent/): parsing with the exact FHIR path of every problem, dateTime bounds, the
 * seed consents' decision table, revocation and expiry, nested exceptions, and code matching through an
 * injected matcher (the ConceptMap of proofs/records/conceptmap.ts).
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  type Consent,
  fhirDateTimeBounds,
  isParsedConsent,
  parseConsent,
  SYSTEMS,
} from '../../proofs/consent/consent.js';
import {
  buildConsent,
  type ConsentRequest,
  conceptMapMatcher,
  consentHash,
  evaluateConsent,
  purposeCovers,
} from '../../proofs/consent/evaluate.js';
import {
  actReason,
  addMonthsUTC,
  HIV_TESTS,
  LAB_RESULTS,
  labsExceptHivConsent,
  labsForClaimsConsent,
  loinc,
  obsCategory,
  SEED_GRANTED_AT,
  SEED_PATIENT,
  seedCases,
  seedConsents,
} from '../../proofs/consent/seeds.js';
import { ProofError } from '../../proofs/errors.js';
import { SEED_CODE_MAP } from '../../proofs/records/conceptmap.js';
import { canonicalize } from '../../proofs/records/jcs.js';

type Json = Record<string, unknown>;
const seedJson = (): Json => JSON.parse(JSON.stringify(labsForClaimsConsent())) as Json;
const prov = (c: Json): Json => c.provision as Json;

/** Runs `parseConsent` on a mutated seed and returns the error it throws. */
function parseError(mutate: (c: Json) => void): ProofError {
  const c = seedJson();
  mutate(c);
  try {
    parseConsent(c);
  } catch (err) {
    expect(err).toBeInstanceOf(ProofError);
    return err as ProofError;
  }
  throw new Error('expected parseConsent to throw');
}

const GRANTED = new Date(SEED_GRANTED_AT);
const AT = new Date(GRANTED.getTime() + 7 * 86_400_000);
const LAB_REQUEST: ConsentRequest = {
  actor: 'Organization/insurer-x',
  purpose: actReason('CLMATTCH'),
  data: { class: 'Observation', codes: [obsCategory('laboratory'), loinc('2345-7')], date: '2024-11-22' },
  at: AT,
};

describe('parseConsent', () => {
  it('default: every seed consent parses, frozen and JSON-equal to its input', () => {
    for (const [name, consent] of Object.entries(seedConsents())) {
      expect(isParsedConsent(consent), name).toBe(true);
      expect(Object.isFrozen(consent.provision.period)).toBe(true);
      const again = parseConsent(JSON.parse(JSON.stringify(consent)));
      expect(again).toEqual(consent);
      expect(consentHash(again)).toBe(consentHash(consent));
    }
  });

  it('behavior: a parsed consent cannot be edited into an unvalidated one', () => {
    const c = labsForClaimsConsent();
    expect(() => {
      (c.provision.period as { end: string }).end = '2099-01-01';
    }).toThrow(TypeError);
  });

  it('behavior: R4 elements outside the subset are kept verbatim (and count in the hash)', () => {
    const c = seedJson();
    c.meta = { versionId: '1', lastUpdated: '2025-01-15T09:00:00Z' };
    c.identifier = [{ system: 'https://hospital-a.example/consent', value: 'C-1' }];
    const parsed = parseConsent(c);
    expect(parsed.meta).toEqual(c.meta);
    expect(consentHash(parsed)).not.toBe(consentHash(labsForClaimsConsent()));
  });

  const cases: { name: string; mutate: (c: Json) => void; code: string; paths: string[]; says?: string }[] = [
    {
      name: 'no patient',
      mutate: (c) => delete c.patient,
      code: 'MR_ERR_CONSENT_NO_PATIENT',
      paths: ['Consent.patient'],
    },
    {
      name: 'patient without reference',
      mutate: (c) => (c.patient = { type: 'Patient' }),
      code: 'MR_ERR_CONSENT_NO_PATIENT',
      paths: ['Consent.patient.reference'],
    },
    {
      name: 'patient not a pseudonym',
      mutate: (c) => (c.patient = { reference: 'Patient/12345' }),
      code: 'MR_ERR_CONSENT_INVALID',
      paths: ['Consent.patient.reference'],
    },
    {
      name: 'patient with a display name (PII)',
      mutate: (c) => ((c.patient as Json).display = 'Jane Doe'),
      code: 'MR_ERR_CONSENT_INVALID',
      paths: ['Consent.patient.display'],
    },
    {
      name: 'no provision',
      mutate: (c) => delete c.provision,
      code: 'MR_ERR_CONSENT_NO_PERIOD',
      paths: ['Consent.provision'],
    },
    {
      name: 'no root period',
      mutate: (c) => delete prov(c).period,
      code: 'MR_ERR_CONSENT_NO_PERIOD',
      paths: ['Consent.provision.period'],
    },
    {
      name: 'open-ended root period',
      mutate: (c) => delete (prov(c).period as Json).end,
      code: 'MR_ERR_CONSENT_NO_PERIOD',
      paths: ['Consent.provision.period.end'],
    },
    {
      name: 'bad dateTime (Feb 30)',
      mutate: (c) => ((prov(c).period as Json).end = '2025-02-30'),
      code: 'MR_ERR_CONSENT_INVALID',
      paths: ['Consent.provision.period.end'],
      says: 'Consent.provision.period.end: expected a FHIR dateTime',
    },
    {
      name: 'dateTime with a time but no zone',
      mutate: (c) => ((prov(c).period as Json).end = '2025-02-15T09:00:00'),
      code: 'MR_ERR_CONSENT_INVALID',
      paths: ['Consent.provision.period.end'],
    },
    {
      name: 'period start after end',
      mutate: (c) => ((prov(c).period as Json).start = '2026'),
      code: 'MR_ERR_CONSENT_INVALID',
      paths: ['Consent.provision.period'],
    },
    {
      name: 'bad dataPeriod start',
      mutate: (c) => ((prov(c).dataPeriod as Json).start = '24-07-15'),
      code: 'MR_ERR_CONSENT_INVALID',
      paths: ['Consent.provision.dataPeriod.start'],
    },
    {
      name: 'bad Consent.dateTime',
      mutate: (c) => (c.dateTime = '2025-1-15'),
      code: 'MR_ERR_CONSENT_INVALID',
      paths: ['Consent.dateTime'],
    },
    {
      name: 'unknown status',
      mutate: (c) => (c.status = 'revoked'),
      code: 'MR_ERR_CONSENT_INVALID',
      paths: ['Consent.status'],
      says: 'Consent.status: expected one of draft | proposed | active | rejected | inactive | entered-in-error',
    },
    {
      name: 'bad provision type',
      mutate: (c) => (prov(c).type = 'allow'),
      code: 'MR_ERR_CONSENT_INVALID',
      paths: ['Consent.provision.type'],
    },
    {
      name: 'nested provision without type',
      mutate: (c) => (prov(c).provision = [{ code: [{ coding: [HIV_TESTS] }] }]),
      code: 'MR_ERR_CONSENT_INVALID',
      paths: ['Consent.provision.provision[0].type'],
    },
    {
      name: 'actor without reference',
      mutate: (c) => delete ((prov(c).actor as Json[])[0] as Json).reference,
      code: 'MR_ERR_CONSENT_INVALID',
      paths: ['Consent.provision.actor[0].reference'],
    },
    {
      name: 'actor without role',
      mutate: (c) => delete ((prov(c).actor as Json[])[0] as Json).role,
      code: 'MR_ERR_CONSENT_INVALID',
      paths: ['Consent.provision.actor[0].role'],
    },
    {
      name: 'actor reference to a non-actor type',
      mutate: (c) => (((prov(c).actor as Json[])[0] as Json).reference = { reference: 'Observation/o1' }),
      code: 'MR_ERR_CONSENT_INVALID',
      paths: ['Consent.provision.actor[0].reference.reference'],
    },
    {
      name: 'unknown consent action',
      mutate: (c) => (prov(c).action = [{ coding: [{ system: SYSTEMS.consentAction, code: 'delete' }] }]),
      code: 'MR_ERR_CONSENT_INVALID',
      paths: ['Consent.provision.action[0].coding[0].code'],
    },
    {
      name: 'class not an R4 resource type',
      mutate: (c) => (prov(c).class = [{ system: SYSTEMS.resourceTypes, code: 'Observaton' }]),
      code: 'MR_ERR_CONSENT_INVALID',
      paths: ['Consent.provision.class[0].code'],
    },
    {
      name: 'LOINC with a wrong check digit',
      mutate: (c) => (prov(c).code = [{ coding: [loinc('75622-2')] }]),
      code: 'MR_ERR_CONSENT_INVALID',
      paths: ['Consent.provision.code[0].coding[0].code'],
    },
    {
      name: 'purpose coding without system',
      mutate: (c) => (prov(c).purpose = [{ code: 'CLMATTCH' }]),
      code: 'MR_ERR_CONSENT_INVALID',
      paths: ['Consent.provision.purpose[0].system'],
    },
    {
      name: 'empty array',
      mutate: (c) => (prov(c).actor = []),
      code: 'MR_ERR_CONSENT_INVALID',
      paths: ['Consent.provision.actor'],
    },
    {
      name: 'modifierExtension',
      mutate: (c) => (prov(c).modifierExtension = [{ url: 'https://x.example/flip', valueBoolean: true }]),
      code: 'MR_ERR_CONSENT_INVALID',
      paths: ['Consent.provision.modifierExtension'],
    },
    {
      name: 'unknown scope code',
      mutate: (c) => (c.scope = { coding: [{ system: SYSTEMS.consentScope, code: 'everything' }] }),
      code: 'MR_ERR_CONSENT_INVALID',
      paths: ['Consent.scope.coding'],
    },
    {
      name: 'narrative (can name the patient)',
      mutate: (c) => (c.text = { status: 'generated', div: '<div>Jane Doe consents</div>' }),
      code: 'MR_ERR_CONSENT_INVALID',
      paths: ['Consent.text'],
    },
    {
      name: 'wrong resourceType',
      mutate: (c) => (c.resourceType = 'Contract'),
      code: 'MR_ERR_CONSENT_INVALID',
      paths: ['Consent.resourceType'],
    },
    {
      name: 'misspelt element (and so no provision)',
      mutate: (c) => {
        c.provison = c.provision;
        delete c.provision;
      },
      code: 'MR_ERR_CONSENT_INVALID',
      paths: ['Consent.provison', 'Consent.provision'],
    },
  ];

  it.each(cases)('error: $name → $code at $paths', ({ mutate, code, paths, says }) => {
    const err = parseError(mutate);
    expect(err.code).toBe(code);
    expect(err.details.path).toBe(paths.join(', '));
    for (const p of paths) expect(err.message).toContain(`${p}: `);
    if (says) expect(err.message).toContain(says);
  });

  it('error: names EVERY problem, with INVALID when they are of different kinds', () => {
    const err = parseError((c) => {
      delete c.patient;
      c.status = 'paused';
      (prov(c).period as Json).end = '2025-13';
      ((prov(c).actor as Json[])[0] as Json).reference = {};
    });
    expect(err.code).toBe('MR_ERR_CONSENT_INVALID');
    expect(err.details.problems).toBe(4);
    expect(String(err.details.path).split(', ').sort()).toEqual(
      [
        'Consent.status',
        'Consent.patient',
        'Consent.provision.period.end',
        'Consent.provision.actor[0].reference.reference',
      ].sort(),
    );
  });

  it('error: a patient display is refused without echoing it', () => {
    const err = parseError((c) => ((c.patient as Json).display = 'Jane Doe'));
    expect(err.message).not.toContain('Jane');
  });

  it('error: not an object', () => {
    expect(() => parseConsent('{"resourceType":"Consent"}')).toThrow(/Consent: expected a JSON object/);
  });
});

describe('fhirDateTimeBounds', () => {
  const ms = (s: string) => Date.parse(s);
  it.each([
    ['2024', '2024-01-01T00:00:00.000Z', '2024-12-31T23:59:59.999Z', 'year'],
    ['2024-02', '2024-02-01T00:00:00.000Z', '2024-02-29T23:59:59.999Z', 'month'],
    ['2025-02', '2025-02-01T00:00:00.000Z', '2025-02-28T23:59:59.999Z', 'month'],
    ['2025-01-15', '2025-01-15T00:00:00.000Z', '2025-01-15T23:59:59.999Z', 'day'],
    ['2025-01-15T10:00:00Z', '2025-01-15T10:00:00.000Z', '2025-01-15T10:00:00.999Z', 'instant'],
    ['2025-01-15T10:00:00.5+01:00', '2025-01-15T09:00:00.500Z', '2025-01-15T09:00:00.599Z', 'instant'],
    ['2025-01-15T10:00:00.123456-05:30', '2025-01-15T15:30:00.123Z', '2025-01-15T15:30:00.123Z', 'instant'],
    ['2016-12-31T23:59:60Z', '2016-12-31T23:59:59.999Z', '2016-12-31T23:59:59.999Z', 'instant'],
  ])('default: %s covers [%s, %s]', (value, start, end, precision) => {
    expect(fhirDateTimeBounds(value)).toEqual({ start: ms(start), end: ms(end), precision });
  });

  it('behavior: years before 100 are not shifted into the 1900s', () => {
    expect(new Date(fhirDateTimeBounds('0050')!.start).getUTCFullYear()).toBe(50);
  });

  it.each([
    '0000',
    '2025-13',
    '2025-00-10',
    '2025-02-29',
    '2025-04-31',
    '2025-01-15T24:00:00Z',
    '2025-01-15T10:00Z',
    '2025-01-15T10:00:00',
    '2025-01-15T10:00:00+15:00',
    '2025-01-15T10:00:00+14:30',
    '2025-01-15 10:00:00Z',
    '2025-01-15T10:00:00z',
    ' 2025',
    '',
  ])('error: %j is not a FHIR dateTime', (value) => {
    expect(fhirDateTimeBounds(value)).toBeUndefined();
  });
});

describe('evaluateConsent: seed decision table', () => {
  const consents = seedConsents();
  it.each(seedCases())(
    '$name → $expect.decision $expect.code',
    ({ consent, request, opts, expect: want }) => {
      const d = evaluateConsent(consents[consent], request, opts);
      expect({ decision: d.decision, code: d.code }).toEqual(want);
      expect(d.reason.length).toBeGreaterThan(10);
      expect(d.provisionPath).toMatch(/^Consent/);
    },
  );

  it('behavior: deny reasons name the request value and the constraint that failed', () => {
    const c = consents.labsForClaims;
    const y = evaluateConsent(c, { ...LAB_REQUEST, actor: 'Organization/insurer-y' });
    expect(y.reason).toContain('Organization/insurer-y');
    expect(y.constraint).toBe('Consent.provision.actor');
    const treat = evaluateConsent(c, { ...LAB_REQUEST, purpose: actReason('TREAT') });
    expect(treat.reason).toMatch(/purpose v3-ActReason TREAT is not covered by Consent\.provision\.purpose/);
    const old = evaluateConsent(c, { ...LAB_REQUEST, data: { ...LAB_REQUEST.data, date: '2024-05-20' } });
    expect(old.reason).toContain('data dated 2024-05-20 is outside Consent.provision.dataPeriod');
    const hiv = evaluateConsent(consents.labsExceptHiv, {
      ...LAB_REQUEST,
      data: { ...LAB_REQUEST.data, codes: [obsCategory('laboratory'), HIV_TESTS] },
    });
    expect(hiv.reason).toContain('deny exception Consent.provision.provision[0] (code LOINC 75622-1)');
  });

  it('behavior: without a matcher, a specific HIV test code is not caught by the HIV set (documented limit)', () => {
    const d = evaluateConsent(consents.labsExceptHiv, {
      ...LAB_REQUEST,
      data: { ...LAB_REQUEST.data, codes: [obsCategory('laboratory'), loinc('7917-8')] },
    });
    expect(d.decision).toBe('permit');
  });
});

describe('evaluateConsent: revocation and expiry', () => {
  it('default: status inactive is a revocation', () => {
    const c = buildConsentLike({ status: 'inactive' });
    const d = evaluateConsent(c, LAB_REQUEST);
    expect(d).toMatchObject({ decision: 'deny', code: 'DENY_REVOKED', constraint: 'Consent.status' });
    expect(d.reason).toContain('revoked');
  });

  it.each(['draft', 'proposed', 'rejected', 'entered-in-error'] as const)(
    'behavior: status %s → DENY_STATUS',
    (status) => {
      const d = evaluateConsent(buildConsentLike({ status }), LAB_REQUEST);
      expect(d).toMatchObject({ decision: 'deny', code: 'DENY_STATUS' });
      expect(d.reason).toContain(status);
    },
  );

  it('behavior: the external revoked flag wins over everything else', () => {
    const late = { ...LAB_REQUEST, at: new Date('2030-01-01T00:00:00Z') };
    expect(evaluateConsent(labsForClaimsConsent(), late, { revoked: true }).code).toBe('DENY_REVOKED');
    expect(evaluateConsent(labsForClaimsConsent(), late, { revoked: false }).code).toBe('DENY_EXPIRED');
  });

  it('behavior: revocation changes the consent hash (a new status is a new document)', () => {
    expect(consentHash(buildConsentLike({ status: 'inactive' }))).not.toBe(consentHash(buildConsentLike({})));
  });

  it('behavior: partial dates bound the validity period by their whole unit', () => {
    const c = buildConsentLike({ period: { start: '2025-01-15', end: '2025-02' } });
    const at = (s: string) =>
      evaluateConsent(c, { ...LAB_REQUEST, data: { ...LAB_REQUEST.data }, at: s }).code;
    expect(at('2025-01-14T23:59:59.999Z')).toBe('DENY_NOT_YET_VALID');
    expect(at('2025-01-15T00:00:00Z')).toBe('PERMIT');
    expect(at('2025-02-28T23:59:59.999Z')).toBe('PERMIT');
    expect(at('2025-03-01T00:00:00Z')).toBe('DENY_EXPIRED');
    expect(at('2025-03-01T00:30:00+01:00')).toBe('PERMIT'); // 2025-02-28T23:30Z
  });

  it('behavior: a partial data date straddling the data period is not a match', () => {
    const c = labsForClaimsConsent(); // dataPeriod starts 2024-07-15T09:00Z
    const on = (date: string) => evaluateConsent(c, { ...LAB_REQUEST, data: { ...LAB_REQUEST.data, date } });
    expect(on('2024-08').code).toBe('PERMIT');
    expect(on('2024-06').code).toBe('DENY_DATA_PERIOD');
    expect(on('2024-07')).toMatchObject({
      code: 'DENY_UNDETERMINED',
      constraint: 'Consent.provision.dataPeriod',
    });
  });

  it('error: a malformed request is denied, naming the field', () => {
    const c = labsForClaimsConsent();
    expect(evaluateConsent(c, { ...LAB_REQUEST, at: '2025-01-20' })).toMatchObject({
      code: 'DENY_BAD_REQUEST',
    });
    expect(evaluateConsent(c, { ...LAB_REQUEST, at: new Date(Number.NaN) }).reason).toContain('request.at');
    const badClass = { ...LAB_REQUEST, data: { ...LAB_REQUEST.data, class: 'Labs' } };
    expect(evaluateConsent(c, badClass).reason).toContain('request.data.class');
    const badPurpose = { ...LAB_REQUEST, purpose: { code: 'CLMATTCH' } } as unknown as ConsentRequest;
    expect(evaluateConsent(c, badPurpose).code).toBe('DENY_BAD_REQUEST');
  });

  it('error: an unparsed consent is validated before it is evaluated', () => {
    const raw = seedJson();
    expect(evaluateConsent(raw as unknown as Consent, LAB_REQUEST).code).toBe('PERMIT');
    delete raw.patient;
    expect(() => evaluateConsent(raw as unknown as Consent, LAB_REQUEST)).toThrow(
      expect.objectContaining({ code: 'MR_ERR_CONSENT_NO_PATIENT' }),
    );
  });
});

describe('evaluateConsent: provision tree', () => {
  const period = { start: '2025-01-01', end: '2025-12-31' };
  const ircp = (reference: string) => ({
    role: { coding: [{ system: SYSTEMS.participationType, code: 'IRCP' }] },
    reference: { reference },
  });
  const tree = (provision: Json): Consent =>
    parseConsent({ ...seedJson(), provision: { type: 'deny', period, ...provision } });
  const REQ = { ...LAB_REQUEST, at: '2025-03-01T12:00:00Z' };
  const hivReq = { ...REQ, data: { ...REQ.data, codes: [obsCategory('laboratory'), HIV_TESTS] } };

  it('default: deny root, permit exception, deny exception inside it (most specific wins)', () => {
    const c = tree({
      provision: [
        {
          type: 'permit',
          actor: [ircp('Organization/insurer-x')],
          purpose: [actReason('HPAYMT')],
          provision: [{ type: 'deny', code: [{ coding: [HIV_TESTS] }] }],
        },
      ],
    });
    expect(evaluateConsent(c, REQ)).toMatchObject({
      code: 'PERMIT',
      provisionPath: 'Consent.provision.provision[0]',
    });
    expect(evaluateConsent(c, hivReq)).toMatchObject({
      code: 'DENY_EXCEPTION',
      provisionPath: 'Consent.provision.provision[0].provision[0]',
    });
    const y = evaluateConsent(c, { ...REQ, actor: 'Organization/insurer-y' });
    expect(y).toMatchObject({ code: 'DENY_ROOT', provisionPath: 'Consent.provision' });
    expect(y.reason).toContain('closest permit: actor Organization/insurer-y');
  });

  it('behavior: when sibling exceptions disagree, deny wins whatever their order', () => {
    const permitLabs = { type: 'permit', code: [LAB_RESULTS] };
    const denyHiv = { type: 'deny', code: [{ coding: [HIV_TESTS] }] };
    for (const kids of [
      [permitLabs, denyHiv],
      [denyHiv, permitLabs],
    ]) {
      const c = tree({ actor: [ircp('Organization/insurer-x')], type: 'permit', provision: kids });
      expect(evaluateConsent(c, hivReq).code).toBe('DENY_EXCEPTION');
      expect(evaluateConsent(c, REQ).code).toBe('PERMIT');
    }
  });

  it('behavior: a nested permit outside its validity period does not apply', () => {
    const c = tree({
      provision: [
        {
          type: 'permit',
          period: { start: '2025-06-01', end: '2025-06-30' },
          actor: [ircp('Organization/insurer-x')],
        },
      ],
    });
    expect(evaluateConsent(c, REQ)).toMatchObject({ code: 'DENY_ROOT' });
    expect(evaluateConsent(c, REQ).reason).toContain('Consent.provision.provision[0].period');
    expect(evaluateConsent(c, { ...REQ, at: '2025-06-15T00:00:00Z' }).code).toBe('PERMIT');
  });

  it('behavior: a deny the request cannot rule out applies (fail closed)', () => {
    const c = tree({
      type: 'permit',
      actor: [ircp('Organization/insurer-x')],
      provision: [{ type: 'deny', code: [{ coding: [HIV_TESTS] }] }],
    });
    const noCodes = { ...REQ, data: { class: 'Observation', date: '2024-11-22' } };
    expect(evaluateConsent(c, noCodes)).toMatchObject({
      code: 'DENY_UNDETERMINED',
      provisionPath: 'Consent.provision.provision[0]',
      constraint: 'Consent.provision.provision[0].code',
    });
  });

  it('behavior: actors named only by a non-recipient role cannot grant access', () => {
    const c = tree({
      type: 'permit',
      actor: [
        {
          role: { coding: [{ system: SYSTEMS.participationType, code: 'AUT' }] },
          reference: { reference: 'Practitioner/dr-a' },
        },
      ],
    });
    expect(evaluateConsent(c, REQ).code).toBe('DENY_UNDETERMINED');
  });

  it('behavior: purposes follow the v3 PurposeOfUse hierarchy downwards only', () => {
    const grant = (purpose: string) => tree({ type: 'permit', purpose: [actReason(purpose)] });
    expect(evaluateConsent(grant('HPAYMT'), REQ).code).toBe('PERMIT'); // CLMATTCH is-a HPAYMT
    expect(evaluateConsent(grant('CLMATTCH'), { ...REQ, purpose: actReason('HPAYMT') }).code).toBe(
      'DENY_PURPOSE',
    );
    expect(purposeCovers(actReason('TREAT'), actReason('BTG'))).toBe(true);
    expect(purposeCovers(actReason('ETREAT'), actReason('TREAT'))).toBe(false);
    expect(
      purposeCovers({ system: 'urn:other', code: 'HPAYMT' }, { system: 'urn:other', code: 'CLMATTCH' }),
    ).toBe(false);
  });

  it('behavior: security labels and data instances', () => {
    const label = { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'HIV' };
    const c = tree({ type: 'permit', provision: [{ type: 'deny', securityLabel: [label] }] });
    expect(evaluateConsent(c, { ...REQ, data: { ...REQ.data, securityLabels: [label] } }).code).toBe(
      'DENY_EXCEPTION',
    );
    expect(evaluateConsent(c, { ...REQ, data: { ...REQ.data, securityLabels: [] } }).code).toBe('PERMIT');
    expect(evaluateConsent(c, REQ).code).toBe('DENY_UNDETERMINED'); // labels not stated
    const one = tree({
      type: 'permit',
      data: [{ meaning: 'instance', reference: { reference: 'Observation/o1' } }],
    });
    expect(evaluateConsent(one, { ...REQ, data: { ...REQ.data, reference: 'Observation/o1' } }).code).toBe(
      'PERMIT',
    );
    expect(evaluateConsent(one, { ...REQ, data: { ...REQ.data, reference: 'Observation/o2' } }).code).toBe(
      'DENY_DATA_REFERENCE',
    );
  });
});

describe('evaluateConsent: code matching through an injected matcher', () => {
  const ICD10 = SYSTEMS.icd10;
  const SCT = SYSTEMS.snomed;
  // Hospital B may read conditions under "hypertensive disorder" (SNOMED 38341003), for treatment.
  const consent = buildConsent({
    patient: SEED_PATIENT,
    performer: SEED_PATIENT,
    recipient: 'Organization/hospital-b',
    purpose: 'TREAT',
    classes: ['Condition'],
    codes: [{ system: SCT, code: '38341003' }],
    period: { start: GRANTED, end: addMonthsUTC(GRANTED, 1) },
  });
  const req = (system: string, code: string): ConsentRequest => ({
    actor: 'Organization/hospital-b',
    purpose: actReason('TREAT'),
    data: { class: 'Condition', codes: [{ system, code }] },
    at: AT,
  });
  const matcher = { codeMatcher: conceptMapMatcher(SEED_CODE_MAP) };

  it('default: exact system+code only without a matcher', () => {
    expect(evaluateConsent(consent, req(SCT, '38341003')).code).toBe('PERMIT');
    expect(evaluateConsent(consent, req(ICD10, 'I10')).code).toBe('DENY_CODE');
  });

  it('behavior: ICD-10 I10 satisfies SNOMED 38341003 through the ConceptMap (I10 is narrower)', () => {
    expect(evaluateConsent(consent, req(ICD10, 'I10'), matcher).code).toBe('PERMIT');
  });

  it('behavior: a mapped code that maps elsewhere is a plain mismatch', () => {
    expect(evaluateConsent(consent, req(ICD10, 'E11.9'), matcher).code).toBe('DENY_CODE');
  });

  it('behavior: an unmapped code is an unknown, never a match', () => {
    const d = evaluateConsent(consent, req(ICD10, 'J45'), matcher);
    expect(d.code).toBe('DENY_UNDETERMINED');
    expect(d.reason).toContain('MR_ERR_CODEMAP_UNMAPPED');
  });

  it('behavior: direction matters — a wider data code does not satisfy a narrower requirement', () => {
    const i10 = buildConsent({
      patient: SEED_PATIENT,
      performer: SEED_PATIENT,
      recipient: 'Organization/hospital-b',
      purpose: 'TREAT',
      codes: [{ system: ICD10, code: 'I10' }],
      period: { start: GRANTED, end: addMonthsUTC(GRANTED, 1) },
    });
    expect(evaluateConsent(i10, req(SCT, '59621000'), matcher).code).toBe('PERMIT'); // equivalent
    expect(evaluateConsent(i10, req(SCT, '38341003'), matcher).code).toBe('DENY_CODE'); // wider
  });

  it('behavior: in a deny exception, a matcher that cannot decide makes the deny apply', () => {
    const d = evaluateConsent(
      labsExceptHivConsent(),
      {
        ...LAB_REQUEST,
        data: { ...LAB_REQUEST.data, codes: [loinc('26436-6'), { system: SCT, code: '44054006' }] },
      },
      matcher,
    );
    expect(d).toMatchObject({ code: 'DENY_UNDETERMINED', provisionPath: 'Consent.provision.provision[0]' });
  });

  it('behavior: a matcher never sees codings it need not compare once one matches', () => {
    let calls = 0;
    const counting = (a: { code: string }, b: { code: string }) => {
      calls++;
      return a.code === b.code;
    };
    evaluateConsent(consent, req(SCT, '38341003'), { codeMatcher: counting });
    expect(calls).toBe(0);
  });
});

describe('consentHash and buildConsent', () => {
  it('default: sha256 of the RFC 8785 text, independent of key order', () => {
    const c = labsForClaimsConsent();
    const want = `0x${createHash('sha256').update(canonicalize(c), 'utf8').digest('hex')}`;
    expect(consentHash(c)).toBe(want);
    const reordered = Object.fromEntries(Object.entries(JSON.parse(JSON.stringify(c)) as Json).reverse());
    expect(consentHash(reordered as unknown as Consent)).toBe(want);
  });

  it('behavior: builds are deterministic (same input, same id and hash)', () => {
    expect(consentHash(labsForClaimsConsent())).toBe(consentHash(labsForClaimsConsent()));
    expect(labsForClaimsConsent().id).toMatch(/^consent-[0-9a-f]{32}$/);
    expect(labsForClaimsConsent({ insurer: 'Organization/insurer-z' }).id).not.toBe(
      labsForClaimsConsent().id,
    );
  });

  it('behavior: accepts the pseudonym as 0x hex, as patientPseudonym returns it', () => {
    const hex = `0x${SEED_PATIENT.slice('Patient/'.length)}`;
    expect(buildConsentLike({ patient: hex }).patient.reference).toBe(SEED_PATIENT);
  });

  it('behavior: the seed windows are calendar months from the grant', () => {
    const c = labsForClaimsConsent({ grantedAt: '2024-08-31T00:00:00Z' });
    expect(c.provision.dataPeriod).toEqual({
      start: '2024-02-29T00:00:00.000Z',
      end: '2024-08-31T00:00:00.000Z',
    });
    expect(c.provision.period.end).toBe('2024-09-30T00:00:00.000Z');
  });

  it('error: an invalid build reports FHIR paths', () => {
    expect(() => buildConsentLike({ period: { start: '2025-02-01', end: '2025-01-01' } })).toThrow(
      expect.objectContaining({
        code: 'MR_ERR_CONSENT_INVALID',
        details: expect.objectContaining({ path: 'Consent.provision.period' }),
      }),
    );
  });
});

/** The labs-for-claims consent with some build inputs replaced. */
function buildConsentLike(over: Partial<Parameters<typeof buildConsent>[0]>): Consent {
  return buildConsent({
    patient: SEED_PATIENT,
    performer: SEED_PATIENT,
    recipient: 'Organization/insurer-x',
    purpose: 'CLMATTCH',
    classes: ['Observation'],
    codes: [LAB_RESULTS],
    period: { start: GRANTED, end: addMonthsUTC(GRANTED, 1) },
    ...over,
  });
}
