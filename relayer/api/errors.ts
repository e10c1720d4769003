/**
 * One error body for every failure, `{ code, message }` with an `MR_ERR_*` code, so clients branch on the code
 * and nothing internal (stack traces, Redis or RPC messages) reaches a response.
 */
import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify';
import { MedrelayError } from '../../proofs/errors.js';

export interface ApiErrorBody {
  code: string;
  message: string;
}

/** HTTP status of the typed errors the API can surface; any other `MedrelayError` is a 500. */
const STATUS: Readonly<Record<string, number>> = {
  MR_ERR_API_VALIDATION: 400,
  MR_ERR_STORE_INPUT: 400,
  MR_ERR_API_NOT_FOUND: 404,
  MR_ERR_PACKET_NOT_FOUND: 404,
  MR_ERR_REDIS_UNREACHABLE: 503,
};

/** Raised by route handlers for expected failures (unknown packet, …). */
export class ApiError extends MedrelayError {
  readonly statusCode: number;
  constructor(code: string, message: string, statusCode = STATUS[code] ?? 500) {
    super(code, message);
    this.statusCode = statusCode;
  }
}

export function sendError(reply: FastifyReply, status: number, code: string, message: string): FastifyReply {
  const body: ApiErrorBody = { code, message };
  return reply.code(status).type('application/json; charset=utf-8').send(body);
}

/** Installs the error and not-found handlers on the root instance (they then apply to every plugin). */
export function installErrorHandlers(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError | MedrelayError | Error, request, reply) => {
    if ('validation' in err && err.validation) {
      return sendError(reply, 400, 'MR_ERR_API_VALIDATION', err.message);
    }
    if (err instanceof ApiError) return sendError(reply, err.statusCode, err.code, err.message);
    if (err instanceof MedrelayError) {
      const status = STATUS[err.code] ?? 500;
      if (status >= 500) request.log.error({ err }, 'request failed');
      return sendError(
        reply,
        status,
        err.code,
        status >= 500 ? 'internal error; see the relayer log' : err.message,
      );
    }
    // Fastify's own 4xx errors (bad content type, body too large, …) are safe to describe.
    const status = (err as FastifyError).statusCode;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      return sendError(reply, status, 'MR_ERR_API_REQUEST', err.message);
    }
    request.log.error({ err }, 'request failed');
    return sendError(reply, 500, 'MR_ERR_API_INTERNAL', 'internal error; see the relayer log');
  });
  app.setNotFoundHandler((request, reply) =>
    sendError(reply, 404, 'MR_ERR_API_NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0]}`),
  );
}
