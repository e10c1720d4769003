/** `GET /health`: 200 when Redis and every chain answer, 503 otherwise (load balancers and compose healthchecks). */
import type { FastifyPluginAsync } from 'fastify';
import type { HealthReport } from '../types.js';

const component = {
  type: 'object',
  additionalProperties: false,
  required: ['ok'],
  properties: { ok: { type: 'boolean' }, latencyMs: { type: 'number' }, error: { type: 'string' } },
} as const;

const report = {
  type: 'object',
  additionalProperties: false,
  required: ['ok', 'redis', 'chains'],
  properties: {
    ok: { type: 'boolean' },
    redis: component,
    chains: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'ok'],
        properties: { ...component.properties, name: { type: 'string' }, height: { type: 'string' } },
      },
    },
  },
} as const;

export interface HealthRouteOptions {
  health: () => Promise<HealthReport>;
}

export const healthRoutes: FastifyPluginAsync<HealthRouteOptions> = async (app, opts) => {
  app.get(
    '/health',
    {
      schema: {
        tags: ['operations'],
        summary: 'Redis and chain reachability',
        response: { 200: report, 503: report },
      },
    },
    async (_request, reply) => {
      let result: HealthReport;
      try {
        result = await opts.health();
      } catch (err) {
        // A probe that throws is itself a failed check, not a 500.
        const message = err instanceof Error ? err.message : String(err);
        result = { ok: false, redis: { ok: false, error: message }, chains: [] };
      }
      return reply.code(result.ok ? 200 : 503).send(result);
    },
  );
};
