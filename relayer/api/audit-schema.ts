/**
 * JSON schema of the FHIR R4 AuditEvent subset (relayer/audit/event.ts) for API responses. Closed
 * (`additionalProperties: false`) like every response schema here, so only these elements are ever serialised.
 */
const coding = {
  type: 'object',
  additionalProperties: false,
  required: ['system', 'code'],
  properties: { system: { type: 'string' }, code: { type: 'string' }, display: { type: 'string' } },
} as const;

const concept = {
  type: 'object',
  additionalProperties: false,
  required: ['coding'],
  properties: { coding: { type: 'array', items: coding } },
} as const;

const reference = {
  type: 'object',
  additionalProperties: false,
  required: ['reference'],
  properties: {
    reference: {
      type: 'string',
      description:
        '`Type/id`, `Patient/<pseudonym hex>`, `urn:medrelay:record:0x…` or `urn:medrelay:packet:0x…`',
    },
  },
} as const;

export const auditEventSchema = {
  type: 'object',
  description: 'FHIR R4 AuditEvent (medrelay subset: ids, pseudonyms and codes only)',
  additionalProperties: false,
  required: ['resourceType', 'type', 'recorded', 'agent', 'source'],
  properties: {
    resourceType: { type: 'string', enum: ['AuditEvent'] },
    type: coding,
    subtype: { type: 'array', items: coding },
    action: { type: 'string', enum: ['C', 'R', 'U', 'D', 'E'] },
    recorded: { type: 'string', format: 'date-time' },
    outcome: { type: 'string', enum: ['0', '4', '8', '12'] },
    outcomeDesc: { type: 'string' },
    purposeOfEvent: { type: 'array', items: concept },
    agent: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['who', 'requestor'],
        properties: {
          type: concept,
          role: { type: 'array', items: concept },
          who: reference,
          requestor: { type: 'boolean' },
          purposeOfUse: { type: 'array', items: concept },
        },
      },
    },
    source: {
      type: 'object',
      additionalProperties: false,
      required: ['observer'],
      properties: { site: { type: 'string' }, observer: reference, type: { type: 'array', items: coding } },
    },
    entity: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['what'],
        properties: {
          what: reference,
          type: coding,
          role: coding,
          securityLabel: { type: 'array', items: coding },
        },
      },
    },
  },
} as const;

export const auditPageSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['items', 'nextCursor'],
  properties: {
    items: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['hash', 'anchored', 'event'],
        properties: {
          hash: {
            type: 'string',
            pattern: '^0x[0-9a-f]{64}$',
            description: 'sha256 of the RFC 8785 canonical event: the value anchored on chain',
          },
          anchored: { type: 'boolean', description: 'false while the on-chain anchor is pending a retry' },
          event: auditEventSchema,
        },
      },
    },
    nextCursor: { type: ['string', 'null'], description: 'pass as cursor for older entries' },
  },
} as const;
