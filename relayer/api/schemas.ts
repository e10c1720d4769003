/**
 * JSON schemas shared by the routes. Response schemas are closed (`additionalProperties: false`) and fastify
 * serialises only the listed fields, so a field added to a store record does not leak until it is listed here.
 */
import { PACKET_STATES } from '../store.js';

export const errorBody = {
  $id: 'ApiError',
  type: 'object',
  description: 'Uniform error body; codes are listed in docs/errors.md',
  required: ['code', 'message'],
  additionalProperties: false,
  properties: {
    code: { type: 'string', pattern: '^MR_ERR_[A-Z0-9_]+$' },
    message: { type: 'string' },
  },
} as const;

export const errorRef = { $ref: 'ApiError#' } as const;

const hex32 = { type: 'string', pattern: '^0x[0-9a-f]{64}$' } as const;
const ms = { type: 'integer', description: 'milliseconds since the Unix epoch' } as const;

export const stateCounts = {
  type: 'object',
  additionalProperties: false,
  required: [...PACKET_STATES],
  properties: Object.fromEntries(PACKET_STATES.map((s) => [s, { type: 'integer' }])),
} as const;

export const packetRecord = {
  $id: 'Packet',
  type: 'object',
  additionalProperties: false,
  required: [
    'id',
    'channel',
    'sequence',
    'sourceChain',
    'destChain',
    'kind',
    'state',
    'sentHeight',
    'sentAt',
    'packetHex',
  ],
  properties: {
    id: hex32,
    channel: { type: 'string' },
    sequence: { type: 'integer' },
    sourceChain: { type: 'string' },
    destChain: { type: 'string' },
    kind: {
      type: 'integer',
      description: '1 RECORD_PROOF, 2 CONSENT_GRANT, 3 CONSENT_REVOKE, 4 CLAIM, 5 SETTLEMENT',
    },
    state: { type: 'string', enum: [...PACKET_STATES] },
    sentHeight: { type: 'integer' },
    sentAt: ms,
    provenAt: ms,
    deliveredAt: ms,
    ackedAt: ms,
    timedOutAt: ms,
    refundedAt: ms,
    failedAt: ms,
    updatedAt: ms,
    deliverTx: hex32,
    ackTx: hex32,
    refundTx: hex32,
    ackStatus: { type: 'integer', description: '1 SUCCESS, 2 APP_ERROR, 3 TIMEOUT' },
    gasUsed: { type: 'string', description: 'decimal' },
    error: { type: 'string' },
    packetHex: { type: 'string', pattern: '^0x([0-9a-f]{2})*$' },
  },
} as const;

export const packetRef = { $ref: 'Packet#' } as const;
