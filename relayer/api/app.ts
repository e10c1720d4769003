/**
 * The operational HTTP API (fastify). One plugin per route group, a JSON schema on every route (params,
 * querystring, response) and an OpenAPI document generated from those schemas at `/openapi.json`, with the
 * Swagger UI at `/docs`. Read-only: it never changes relayer state.
 */
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyInstance } from 'fastify';
import { installErrorHandlers } from './errors.js';
import { chainsRoutes } from './routes/chains.js';
import { channelsRoutes } from './routes/channels.js';
import { healthRoutes } from './routes/health.js';
import { metricsRoutes } from './routes/metrics.js';
import { packetsRoutes } from './routes/packets.js';
import { type PatientApiDeps, patientsRoutes } from './routes/patients.js';
import { type SettlementApiDeps, settlementRoutes } from './routes/settlement.js';
import { errorBody, packetRecord } from './schemas.js';
import type { ApiDeps } from './types.js';

/** Paths the API serves (tests check the OpenAPI document lists them all). */
export const API_PATHS = [
  '/health',
  '/chains',
  '/channels',
  '/packets',
  '/packets/{id}',
  '/metrics',
] as const;

/**
 * Builds (does not start) the API.
 *
 * @example
 * const app = await buildApi({ store, chains, channels, metrics, health });
 * await app.listen({ host: config.relayer.api.host, port: config.relayer.api.port });
 */
export async function buildApi(deps: ApiDeps & PatientApiDeps & SettlementApiDeps): Promise<FastifyInstance> {
  const app = (deps.logger
    ? Fastify({ loggerInstance: deps.logger, disableRequestLogging: false })
    : Fastify({ logger: false })) as unknown as FastifyInstance;

  installErrorHandlers(app);
  app.addSchema(errorBody);
  app.addSchema(packetRecord);

  // swagger must be registered before the routes so its onRoute hook sees them.
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'medrelay relayer API',
        description:
          'Operational API of the medrelay relayer: health, topology, packet lifecycle, metrics. Errors are `{ code, message }` with codes from docs/errors.md.',
        version: '0.1.0',
      },
      tags: [
        { name: 'operations', description: 'health and metrics' },
        { name: 'topology', description: 'chains and channels' },
        { name: 'packets', description: 'packet lifecycle records' },
        { name: 'patients', description: 'patient login challenge and audit trail (only when enabled)' },
        {
          name: 'settlement',
          description: 'payments, ISO 20022 export and ledger reconciliation (only with a SettlementGateway)',
        },
      ],
    },
  });
  if (deps.docs ?? true) await app.register(swaggerUi, { routePrefix: '/docs' });

  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  await app.register(healthRoutes, { health: deps.health });
  await app.register(chainsRoutes, { chains: deps.chains });
  await app.register(channelsRoutes, { store: deps.store, channels: deps.channels });
  await app.register(packetsRoutes, { store: deps.store, channels: deps.channels });
  await app.register(metricsRoutes, { metrics: deps.metrics });
  if (deps.patients) await app.register(patientsRoutes, deps.patients);
  if (deps.settlement) await app.register(settlementRoutes, deps.settlement);
  return app;
}
