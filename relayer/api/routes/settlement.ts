/**
 * Settlement routes (served only when the relayer has a SettlementGateway on some chain):
 *  - `GET /settlement/reconciliation`: ledgers per channel and currency and every violated invariant;
 *  - `GET /settlement/payments/:uetr`: one payment as its gateways record it;
 *  - `GET /settlement/payments/:uetr/pacs.008|pacs.002|pacs.004`: its ISO 20022 messages, XML by default,
 *    `?format=json` for the same message as JSON (keys are the XML tags).
 * Read-only; every answer comes from chain state at request time. Errors are `{ code, message }` with the
 * `MR_ERR_SETTLEMENT_*` codes of relayer/settlement/errors.ts and their HTTP statuses.
 */
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { toXml } from '../../../proofs/settlement/iso20022.js';
import { SettlementError } from '../../settlement/errors.js';
import type { SettlementQueries } from '../../settlement/index.js';
import { paymentJson } from '../../settlement/json.js';
import type { PacsType } from '../../settlement/pacs.js';
import { reconciliationJson } from '../../settlement/reconciliation.js';
import { UETR_PATTERN } from '../../settlement/uetr.js';
import { ApiError } from '../errors.js';
import { errorRef } from '../schemas.js';
import {
  pacs002Schema,
  pacs004Schema,
  pacs008Schema,
  paymentSchema,
  reconciliationSchema,
} from '../settlement-schema.js';

export interface SettlementRouteOptions {
  queries: SettlementQueries;
}

/** What `buildApi` takes to serve the settlement routes (they are registered only when it is given). */
export interface SettlementApiDeps {
  settlement?: SettlementRouteOptions;
}

/** Paths the settlement routes add to the OpenAPI document. */
export const SETTLEMENT_API_PATHS = [
  '/settlement/reconciliation',
  '/settlement/payments/{uetr}',
  '/settlement/payments/{uetr}/pacs.008',
  '/settlement/payments/{uetr}/pacs.002',
  '/settlement/payments/{uetr}/pacs.004',
] as const;

interface UetrParams {
  uetr: string;
}

interface FormatQuery {
  format: 'xml' | 'json';
}

const params = {
  type: 'object',
  additionalProperties: false,
  required: ['uetr'],
  properties: {
    uetr: {
      type: 'string',
      pattern: UETR_PATTERN,
      description: 'UETR of the payment: UUID text, or 0x + 32 hex digits (the bytes16 on chain)',
    },
  },
} as const;

const formatQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    format: {
      type: 'string',
      enum: ['xml', 'json'],
      default: 'xml',
      description: 'xml: the ISO 20022 document; json: the same message as JSON',
    },
  },
} as const;

const MESSAGES: ReadonlyArray<{ type: PacsType; schema: Record<string, unknown>; summary: string }> = [
  { type: '008', schema: pacs008Schema, summary: 'pacs.008.001.08 credit transfer of the payment' },
  {
    type: '002',
    schema: pacs002Schema,
    summary: 'pacs.002.001.10 status report: PDNG in flight, ACSC released, RJCT refunded (AG01 / TM01)',
  },
  {
    type: '004',
    schema: pacs004Schema,
    summary: 'pacs.004.001.09 return of a refunded payment (409 for a payment that was not refunded)',
  },
];

/** A settlement error becomes its HTTP status with its own code and message (RPC URLs never enter messages). */
async function answering<T>(reply: FastifyReply, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    if (err instanceof SettlementError) {
      if (err.httpStatus >= 500) reply.log.error({ err }, 'settlement read failed');
      throw new ApiError(err.code, err.message, err.httpStatus);
    }
    throw err;
  }
}

export const settlementRoutes: FastifyPluginAsync<SettlementRouteOptions> = async (app, opts) => {
  const { queries } = opts;

  app.get(
    '/settlement/reconciliation',
    {
      schema: {
        tags: ['settlement'],
        summary:
          'Reconciliation of the SettlementGateway ledgers (locked = released + refunded + in flight, …)',
        description:
          'Per configured channel between two gateways and currency: the source ledger and the destination ' +
          'ledger; per gateway and currency: escrow, token balance and Σ in flight; `violations` names every ' +
          'broken invariant (docs/settlement.md). 200 even when `ok` is false: the report is the answer.',
        response: { 200: reconciliationSchema, 502: errorRef, 503: errorRef },
      },
    },
    async (_request, reply) => reconciliationJson(await answering(reply, () => queries.reconciliation())),
  );

  app.get<{ Params: UetrParams }>(
    '/settlement/payments/:uetr',
    {
      schema: {
        tags: ['settlement'],
        summary: 'One payment by UETR: status, amounts, quote, claim reference, packet ids and payout',
        params,
        response: { 200: paymentSchema, 400: errorRef, 404: errorRef, 502: errorRef, 503: errorRef },
      },
    },
    async (request, reply) => paymentJson(await answering(reply, () => queries.payment(request.params.uetr))),
  );

  for (const m of MESSAGES) {
    app.get<{ Params: UetrParams; Querystring: FormatQuery }>(
      `/settlement/payments/:uetr/pacs.${m.type}`,
      {
        schema: {
          tags: ['settlement'],
          summary: m.summary,
          params,
          querystring: formatQuery,
          response: {
            200: {
              description: 'the message (XML by default)',
              content: {
                'application/xml': { schema: { type: 'string', description: 'ISO 20022 XML document' } },
                'application/json': { schema: m.schema },
              },
            },
            400: errorRef,
            404: errorRef,
            409: errorRef,
            422: errorRef,
            502: errorRef,
            503: errorRef,
          },
        },
      },
      async (request, reply) => {
        const msg = await answering(reply, () => queries.message(request.params.uetr, m.type));
        if (request.query.format === 'json') {
          reply.type('application/json; charset=utf-8');
          return msg;
        }
        reply.type('application/xml; charset=utf-8');
        return toXml(msg);
      },
    );
  }
};
