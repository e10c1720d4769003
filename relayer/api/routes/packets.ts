/** `GET /packets/:id` and `GET /packets?state=…|channel=…`: packet lifecycle records (ids, hashes, heights only). */
import type { FastifyPluginAsync } from 'fastify';
import {
  DEFAULT_LIST_LIMIT,
  MAX_LIST_LIMIT,
  PACKET_STATES,
  type PacketState,
  type PacketStoreReader,
} from '../../store.js';
import { ApiError } from '../errors.js';
import { errorRef, packetRef } from '../schemas.js';
import type { ChannelInfo } from '../types.js';

interface PacketParams {
  id: string;
}

interface PacketQuery {
  state?: PacketState;
  channel?: string;
  limit?: number;
  cursor?: string;
  order?: 'asc' | 'desc';
}

export interface PacketsRouteOptions {
  store: Pick<PacketStoreReader, 'get' | 'listByState' | 'listByChannel'>;
  /** Lets `?channel=` take a configured channel name as well as a channel id. */
  channels?: readonly ChannelInfo[];
}

export const packetsRoutes: FastifyPluginAsync<PacketsRouteOptions> = async (app, opts) => {
  const idByName = new Map((opts.channels ?? []).map((c) => [c.name, c.id.toLowerCase()]));
  app.get<{ Params: PacketParams }>(
    '/packets/:id',
    {
      schema: {
        tags: ['packets'],
        summary: 'One packet by id',
        params: {
          type: 'object',
          additionalProperties: false,
          required: ['id'],
          properties: {
            id: { type: 'string', pattern: '^0x[0-9a-fA-F]{64}$', description: 'packet id (bytes32 hex)' },
          },
        },
        response: { 200: packetRef, 400: errorRef, 404: errorRef },
      },
    },
    async (request) => {
      const packet = await opts.store.get(request.params.id);
      if (!packet)
        throw new ApiError('MR_ERR_PACKET_NOT_FOUND', `no packet with id ${request.params.id.toLowerCase()}`);
      return packet;
    },
  );

  app.get<{ Querystring: PacketQuery }>(
    '/packets',
    {
      schema: {
        tags: ['packets'],
        summary: 'Packets in a state, or of a channel (give exactly one of state and channel)',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            state: { type: 'string', enum: [...PACKET_STATES] },
            channel: {
              type: 'string',
              pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$',
              description: 'channel name from the config, or bytes32 channel id',
            },
            limit: { type: 'integer', minimum: 1, maximum: MAX_LIST_LIMIT, default: DEFAULT_LIST_LIMIT },
            cursor: {
              type: 'string',
              pattern: '^[0-9]{1,16}$',
              description: 'nextCursor of the previous page',
            },
            order: { type: 'string', enum: ['asc', 'desc'], default: 'asc' },
          },
        },
        response: {
          200: {
            type: 'object',
            additionalProperties: false,
            required: ['items', 'nextCursor'],
            properties: {
              items: { type: 'array', items: packetRef },
              nextCursor: { type: ['string', 'null'] },
            },
          },
          400: errorRef,
        },
      },
    },
    async (request) => {
      const { state, channel, ...page } = request.query;
      if ((state === undefined) === (channel === undefined)) {
        throw new ApiError('MR_ERR_API_VALIDATION', 'querystring must have exactly one of state or channel');
      }
      if (channel !== undefined) return opts.store.listByChannel(idByName.get(channel) ?? channel, page);
      return opts.store.listByState(state!, page);
    },
  );
};
