/**
 * Turns a vault access (`RecordAccessEvent`) into the FHIR AuditEvent filed under the record's patient:
 * DICOM 110106 "Export" (data leaves the custodian to a recipient), action R, outcome 0 when released, 4 when
 * the consent refused it, 8 when the record failed its integrity checks.
 */
import type { RecordAccessEvent, RecordAccessHook } from '../records/vault.js';
import {
  AUDIT_ENTITY_TYPE_SYSTEM,
  AUDIT_TYPES,
  type AuditEvent,
  type AuditEventEntity,
  type AuditOutcome,
  auditRef,
  OBJECT_ROLE_SYSTEM,
  PARTICIPATION_TYPE_SYSTEM,
  RESTFUL_INTERACTION_SYSTEM,
} from './event.js';
import type { AuditTrail } from './trail.js';

export interface AuditSource {
  /** Literal reference of the relayer that observed the access, e.g. `Device/medrelay-1`. */
  observer: string;
  site?: string;
}

const OUTCOME: Record<RecordAccessEvent['outcome'], AuditOutcome> = {
  permitted: '0',
  denied: '4',
  failed: '8',
};
const FHIR_ID_RE = /^[A-Za-z0-9.-]{1,64}$/;

/**
 * @example
 * await trail.append(e.patient, recordAccessAuditEvent(e, { observer: 'Device/medrelay-1' }));
 */
export function recordAccessAuditEvent(e: RecordAccessEvent, source: AuditSource): AuditEvent {
  const entity: AuditEventEntity[] = [
    {
      what: auditRef.record(e.recordId),
      type: { system: AUDIT_ENTITY_TYPE_SYSTEM, code: '2', display: 'System Object' },
    },
  ];
  if (e.patient) {
    entity.push({
      what: auditRef.patient(e.patient),
      type: { system: AUDIT_ENTITY_TYPE_SYSTEM, code: '1', display: 'Person' },
      role: { system: OBJECT_ROLE_SYSTEM, code: '1', display: 'Patient' },
    });
  }
  // Consent ids are FHIR ids in practice; one that is not is left out rather than making the audit fail.
  if (e.consentId && FHIR_ID_RE.test(e.consentId)) {
    entity.push({
      what: auditRef.consent(e.consentId),
      type: { system: AUDIT_ENTITY_TYPE_SYSTEM, code: '2', display: 'System Object' },
    });
  }
  const event: AuditEvent = {
    resourceType: 'AuditEvent',
    type: { ...AUDIT_TYPES.export },
    subtype: [{ system: RESTFUL_INTERACTION_SYSTEM, code: 'read' }],
    action: 'R',
    recorded: e.at.toISOString(),
    outcome: OUTCOME[e.outcome],
    agent: [
      {
        who: { reference: e.recipientId },
        requestor: true,
        role: [
          { coding: [{ system: PARTICIPATION_TYPE_SYSTEM, code: 'IRCP', display: 'information recipient' }] },
        ],
      },
      { who: { reference: source.observer }, requestor: false },
    ],
    source: { observer: { reference: source.observer }, ...(source.site ? { site: source.site } : {}) },
    entity,
  };
  if (e.outcome !== 'permitted')
    event.outcomeDesc = `${e.code}${e.reason ? `: ${e.reason}` : ''}`.slice(0, 1024);
  if (e.purpose) {
    const { system, code } = e.purpose;
    event.purposeOfEvent = [{ coding: [{ system, code }] }];
  }
  return event;
}

/**
 * A vault `onAccess` hook that files each access in the patient's trail (records stored without a patient
 * pseudonym have no trail to go to and are skipped).
 *
 * @example
 * const vault = await FileRecordVault.open(dir, { onAccess: auditRecordAccess(trail, { observer: 'Device/medrelay-1' }) });
 */
export function auditRecordAccess(trail: Pick<AuditTrail, 'append'>, source: AuditSource): RecordAccessHook {
  return async (e) => {
    if (e.patient) await trail.append(e.patient, recordAccessAuditEvent(e, source));
  };
}
