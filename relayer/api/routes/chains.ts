/** `GET /chains`: configured chains (static; no RPC calls). */
import type { FastifyPluginAsync } from 'fastify';
import type { ChainInfo } from '../types.js';

const addressMap = { type: 'object', additionalProperties: { type: 'string' } } as const;

const chainView = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'chainId', 'family'],
  properties: {
    name: { type: 'string' },
    chainId: { type: 'integer' },
    family: { type: 'string', enum: ['evm', 'substrate', 'fabric'] },
    finality: { type: 'string' },
    rpcOrigin: {
      type: 'string',
      description: 'scheme://host:port of the RPC endpoint (path and credentials hidden)',
    },
    contracts: {
      type: 'object',
      additionalProperties: false,
      properties: {
        outbox: { type: 'string' },
        inbox: { type: 'string' },
        lightClients: addressMap,
        recordRegistry: { type: 'string' },
        recordProofSender: { type: 'string' },
        recordProofStore: { type: 'string' },
        consentRegistry: { type: 'string' },
        consentMirror: { type: 'string' },
        disclosureVerifier: { type: 'string' },
        codeMapRegistry: { type: 'string' },
        auditLog: { type: 'string' },
        referralGateway: { type: 'string' },
        claimSubmitter: { type: 'string' },
        claimSettlement: { type: 'string' },
        settlementGateway: { type: 'string' },
        depositTokens: { ...addressMap, description: 'ERC-20 deposit token by ISO 4217 code' },
      },
    },
  },
} as const;

/** `https://user:pw@rpc.example/v3/KEY` → `https://rpc.example`. */
export function rpcOrigin(url: string): string | undefined {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}`;
  } catch {
    return undefined;
  }
}

export interface ChainsRouteOptions {
  chains: readonly ChainInfo[];
}

export const chainsRoutes: FastifyPluginAsync<ChainsRouteOptions> = async (app, opts) => {
  // Built once: the chain list does not change while the relayer runs.
  const views = opts.chains.map((c) => ({
    name: c.name,
    chainId: Number(c.chainId),
    family: c.family,
    ...(c.finality !== undefined && { finality: c.finality }),
    ...(c.rpcUrl !== undefined && { rpcOrigin: rpcOrigin(c.rpcUrl) }),
    ...(c.contracts !== undefined && { contracts: c.contracts }),
  }));
  app.get(
    '/chains',
    {
      schema: {
        tags: ['topology'],
        summary: 'Configured chains',
        response: {
          200: {
            type: 'object',
            additionalProperties: false,
            required: ['chains'],
            properties: { chains: { type: 'array', items: chainView } },
          },
        },
      },
    },
    async () => ({ chains: views }),
  );
};
