/** FHIR AuditEvent subset and its hash (relayer/audit/event.ts). */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { canonicalize } from '../../proofs/records/jcs.js';
import {
  AUDIT_TYPES,
  AuditError,
  type AuditEvent,
  auditEntryHash,
  auditRef,
  checkAuditEvent,
} from '../../relayer/audit/event.js';
import { recordAccessAuditEvent } from '../../relayer/audit/record-access.js';

const PSEUDONYM = `0x${'ab'.repeat(32)}` as const;
const RECORD = `0x${'cd'.repeat(32)}` as const;

const event = (): AuditEvent => ({
  resourceType: 'AuditEvent',
  type: { ...AUDIT_TYPES.export },
  action: 'R',
  recorded: '2025-01-22T09:00:00.000Z',
  outcome: '0',
  agent: [{ who: { reference: 'Organization/insurer-x' }, requestor: true }],
  source: { observer: { reference: 'Device/medrelay-1' } },
  entity: [{ what: auditRef.record(RECORD) }, { what: auditRef.patient(PSEUDONYM) }],
});

function expectInput(v: unknown, path: string): void {
  try {
    checkAuditEvent(v);
  } catch (err) {
    expect(err).toBeInstanceOf(AuditError);
    expect((err as AuditError).code).toBe('MR_ERR_AUDIT_INPUT');
    expect((err as AuditError).message).toContain(path);
    return;
  }
  throw new Error(`expected MR_ERR_AUDIT_INPUT at ${path}`);
}

describe('auditEntryHash', () => {
  it('default: sha256 of the RFC 8785 text, independent of key order', () => {
    const e = event();
    const expected = `0x${createHash('sha256').update(canonicalize(e)).digest('hex')}`;
    expect(auditEntryHash(e)).toBe(expected);
    const reordered = Object.fromEntries(Object.entries(e).reverse()) as unknown as AuditEvent;
    expect(auditEntryHash(reordered)).toBe(expected);
    expect(auditEntryHash({ ...e, outcome: '4' })).not.toBe(expected);
  });
});

describe('checkAuditEvent', () => {
  it('error: refuses anything that could name a patient', () => {
    expectInput(
      { ...event(), entity: [{ what: { reference: 'Patient/MRN-0001' } }] },
      'AuditEvent.entity[0].what',
    );
    expectInput(
      { ...event(), agent: [{ who: { reference: 'Patient/x' }, requestor: true, name: 'Jane Doe' }] },
      'AuditEvent.agent[0].name',
    );
    expectInput(
      { ...event(), entity: [{ what: auditRef.record(RECORD), description: 'HIV test' }] },
      'description',
    );
    expectInput(
      { ...event(), entity: [{ what: { reference: 'Jane Doe' } }] },
      'AuditEvent.entity[0].what.reference',
    );
  });

  it('error: refuses malformed elements, naming them', () => {
    expectInput({ ...event(), recorded: '2025-01-22' }, 'AuditEvent.recorded');
    expectInput({ ...event(), action: 'X' }, 'AuditEvent.action');
    expectInput({ ...event(), outcome: 0 }, 'AuditEvent.outcome');
    expectInput({ ...event(), agent: [] }, 'AuditEvent.agent');
    expectInput({ ...event(), outcomeDesc: undefined }, 'AuditEvent.outcomeDesc');
    expectInput({ ...event(), resourceType: 'Patient' }, 'AuditEvent.resourceType');
  });

  it('behavior: a record access becomes an Export event with the purpose and the refusal reason', () => {
    const e = recordAccessAuditEvent(
      {
        outcome: 'denied',
        recordId: RECORD,
        patient: PSEUDONYM,
        recipientId: 'Organization/insurer-y',
        consentId: 'consent-0123',
        purpose: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActReason', code: 'CLMATTCH' },
        code: 'DENY_ACTOR',
        reason: 'denied: actor',
        at: new Date('2025-01-22T09:00:00Z'),
      },
      { observer: 'Device/medrelay-1' },
    );
    expect(checkAuditEvent(e)).toEqual(e);
    expect(e).toMatchObject({
      type: { code: '110106' },
      action: 'R',
      outcome: '4',
      outcomeDesc: 'DENY_ACTOR: denied: actor',
      purposeOfEvent: [{ coding: [{ code: 'CLMATTCH' }] }],
    });
    expect(e.entity?.map((x) => x.what.reference)).toEqual([
      `urn:medrelay:record:${RECORD}`,
      `Patient/${'ab'.repeat(32)}`,
      'Consent/consent-0123',
    ]);
  });
});
