/** `GET /channels`: configured channels with their backlog and per-state packet counts from the store. */
import type { FastifyPluginAsync } from 'fastify';
import type { PacketStoreReader } from '../../store.js';
import { stateCounts } from '../schemas.js';
import type { ChannelInfo } from '../types.js';

const channelView = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'id', 'source', 'destination', 'backlog', 'counts'],
  properties: {
    name: { type: 'string' },
    id: { type: 'string', pattern: '^0x[0-9a-fA-F]{64}$' },
    source: { type: 'string' },
    destination: { type: 'string' },
    backlog: { type: 'integer', description: 'packets still to deliver, acknowledge or refund' },
    counts: stateCounts,
  },
} as const;

export interface ChannelsRouteOptions {
  store: Pick<PacketStoreReader, 'countsByChannel' | 'backlog'>;
  channels: readonly ChannelInfo[];
}

export const channelsRoutes: FastifyPluginAsync<ChannelsRouteOptions> = async (app, opts) => {
  app.get(
    '/channels',
    {
      schema: {
        tags: ['topology'],
        summary: 'Configured channels with backlog and packet counts',
        response: {
          200: {
            type: 'object',
            additionalProperties: false,
            required: ['channels'],
            properties: { channels: { type: 'array', items: channelView } },
          },
        },
      },
    },
    async () => {
      const channels = await Promise.all(
        opts.channels.map(async (c) => {
          // The pipeline keys packets by the bytes32 channel id.
          const key = c.id.toLowerCase();
          const [counts, backlog] = await Promise.all([
            opts.store.countsByChannel(key),
            opts.store.backlog(key),
          ]);
          return { name: c.name, id: c.id, source: c.source, destination: c.destination, backlog, counts };
        }),
      );
      return { channels };
    },
  );
};
