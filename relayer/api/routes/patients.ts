/**
 * Patient routes: `POST /patients/:pseudonym/challenge` and `GET /patients/:pseudonym/audit`.
 *
 * The audit route sits in its own encapsulated scope whose `preHandler` checks an Ed25519 challenge-response
 * (relayer/patients/keys.ts), so no other route inherits the hook and no route in the scope can skip it.
 * Every authentication failure (missing, malformed, expired, reused or foreign challenge, bad signature,
 * unknown patient) is the same 401 with the same message, so the API does not reveal who is enrolled.
 * Responses are `Cache-Control: no-store`: an audit trail must not sit in a shared cache.
 */
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { MedrelayError } from '../../../proofs/errors.js';
import { type AuditTrailReader, DEFAULT_AUDIT_LIMIT, MAX_AUDIT_LIMIT } from '../../audit/trail.js';
import type { PatientAuthenticator } from '../../patients/keys.js';
import { auditPageSchema } from '../audit-schema.js';
import { ApiError } from '../errors.js';
import { errorRef } from '../schemas.js';

export interface PatientsRouteOptions {
  keys: PatientAuthenticator;
  audit: AuditTrailReader;
}

/** What `buildApi` takes to serve the patient routes (they are registered only when it is given). */
export interface PatientApiDeps {
  patients?: PatientsRouteOptions;
}

/** Paths the patient routes add to the OpenAPI document. */
export const PATIENT_API_PATHS = ['/patients/{pseudonym}/challenge', '/patients/{pseudonym}/audit'] as const;

export const CHALLENGE_HEADER = 'x-medrelay-challenge';
export const SIGNATURE_HEADER = 'x-medrelay-signature';
const AUTH_FAILED = 'patient authentication failed';

interface PseudonymParams {
  pseudonym: string;
}

interface AuditQuery {
  limit?: number;
  cursor?: string;
}

const params = {
  type: 'object',
  additionalProperties: false,
  required: ['pseudonym'],
  properties: {
    pseudonym: {
      type: 'string',
      pattern: '^0x[0-9a-f]{64}$',
      description: 'patient pseudonym, HMAC-SHA256 (docs/records.md), 0x + 64 lowercase hex',
    },
  },
} as const;

function noStore(reply: FastifyReply): void {
  reply.header('cache-control', 'no-store');
}

function header(v: string | string[] | undefined): string | undefined {
  return typeof v === 'string' && v.length > 0 && v.length <= 256 ? v : undefined;
}

const auditScope: FastifyPluginAsync<PatientsRouteOptions> = async (app, opts) => {
  app.addHook('preHandler', async (request, reply) => {
    noStore(reply);
    const { pseudonym } = request.params as PseudonymParams;
    const challenge = header(request.headers[CHALLENGE_HEADER]);
    const signature = header(request.headers[SIGNATURE_HEADER]);
    if (challenge === undefined || signature === undefined) {
      throw new ApiError(
        'MR_ERR_PATIENT_AUTH',
        `${AUTH_FAILED}: send ${CHALLENGE_HEADER} and ${SIGNATURE_HEADER}`,
        401,
      );
    }
    if (!(await opts.keys.authenticate(pseudonym, challenge, signature))) {
      throw new ApiError('MR_ERR_PATIENT_AUTH', AUTH_FAILED, 401);
    }
  });

  app.get<{ Params: PseudonymParams; Querystring: AuditQuery }>(
    '/patients/:pseudonym/audit',
    {
      schema: {
        tags: ['patients'],
        summary: "The patient's audit trail (FHIR AuditEvent), newest first",
        description:
          `Authenticated: ${CHALLENGE_HEADER} is a challenge from POST /patients/{pseudonym}/challenge (single use, ` +
          `5 min), ${SIGNATURE_HEADER} the base64 Ed25519 signature of ` +
          '`medrelay-audit-v1:<pseudonym>:<challenge>` by the key registered at enrolment.',
        params,
        headers: {
          type: 'object',
          properties: {
            [CHALLENGE_HEADER]: { type: 'string', description: 'challenge (base64url, 32 bytes)' },
            [SIGNATURE_HEADER]: { type: 'string', description: 'Ed25519 signature, base64 (64 bytes)' },
          },
        },
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            limit: { type: 'integer', minimum: 1, maximum: MAX_AUDIT_LIMIT, default: DEFAULT_AUDIT_LIMIT },
            cursor: {
              type: 'string',
              pattern: '^[0-9]{1,16}$',
              description: 'nextCursor of the previous page',
            },
          },
        },
        response: { 200: auditPageSchema, 400: errorRef, 401: errorRef },
      },
    },
    async (request) => {
      try {
        return await opts.audit.list(request.params.pseudonym, request.query);
      } catch (err) {
        if (err instanceof MedrelayError && err.code === 'MR_ERR_AUDIT_INPUT')
          throw new ApiError('MR_ERR_API_VALIDATION', err.message, 400);
        throw err;
      }
    },
  );
};

export const patientsRoutes: FastifyPluginAsync<PatientsRouteOptions> = async (app, opts) => {
  app.post<{ Params: PseudonymParams }>(
    '/patients/:pseudonym/challenge',
    {
      schema: {
        tags: ['patients'],
        summary: 'A single-use login challenge (valid 5 minutes) to sign with the patient key',
        description:
          'Issued for any well-formed pseudonym, enrolled or not, so the answer does not reveal enrolment.',
        params,
        response: {
          200: {
            type: 'object',
            additionalProperties: false,
            required: ['challenge', 'expiresAt'],
            properties: {
              challenge: { type: 'string', description: 'base64url, 32 random bytes' },
              expiresAt: { type: 'string', format: 'date-time' },
            },
          },
          400: errorRef,
          429: errorRef,
        },
      },
    },
    async (request, reply) => {
      noStore(reply);
      try {
        return await opts.keys.issueChallenge(request.params.pseudonym);
      } catch (err) {
        if (err instanceof MedrelayError && err.code === 'MR_ERR_PATIENT_RATE_LIMITED')
          throw new ApiError(err.code, err.message, 429);
        throw err;
      }
    },
  );

  await app.register(auditScope, opts);
};
