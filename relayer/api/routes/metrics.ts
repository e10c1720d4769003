/** `GET /metrics`: Prometheus text exposition of the relayer's own registry. */
import type { FastifyPluginAsync } from 'fastify';
import type { Metrics } from '../../metrics.js';

export interface MetricsRouteOptions {
  metrics: Metrics;
}

export const metricsRoutes: FastifyPluginAsync<MetricsRouteOptions> = async (app, opts) => {
  app.get(
    '/metrics',
    {
      schema: {
        tags: ['operations'],
        summary: 'Prometheus metrics',
        produces: ['text/plain'],
        response: { 200: { type: 'string', description: 'Prometheus text format 0.0.4' } },
      },
    },
    async (_request, reply) => {
      const body = await opts.metrics.registry.metrics();
      return reply.type(opts.metrics.registry.contentType).send(body);
    },
  );
};
