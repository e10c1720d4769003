/**
 * Turns a running devnet into a relayer config document (the devnet profile with deployed addresses filled in).
 * No key goes into it: the relayer's signer is named by an environment variable.
 */
import type { MedrelayConfigInput } from '../../../config/schema.js';
import type { Devnet } from './network.js';

export interface DevnetProfileOptions {
  keyPrefix: string;
  apiPort: number;
  /** Environment variable holding the relayer key. @defaultValue 'MEDRELAY_RELAYER_KEY' */
  signerEnv?: string;
  redisUrl?: string;
  pollIntervalMs?: number;
  clearIntervalSec?: number;
  batchSize?: number;
}

export function devnetProfile(devnet: Devnet, opts: DevnetProfileOptions): MedrelayConfigInput {
  const nameOf = new Map(devnet.chains.map((c) => [String(c.spec.chainId), c.spec.name]));
  return {
    relayer: {
      ...(opts.redisUrl ? { redisUrl: opts.redisUrl } : {}),
      keyPrefix: opts.keyPrefix,
      api: { host: '127.0.0.1', port: opts.apiPort },
      pollIntervalMs: opts.pollIntervalMs ?? 500,
      clearIntervalSec: opts.clearIntervalSec ?? 15,
      batchSize: opts.batchSize ?? 32,
    },
    chains: devnet.chains.map((c) => ({
      name: c.spec.name,
      chainId: c.spec.chainId,
      family: 'evm' as const,
      rpcUrl: c.rpcUrl,
      startHeight: c.startHeight,
      finality: { type: 'qbft' as const, validators: c.validators },
      contracts: {
        outbox: c.contracts.outbox,
        inbox: c.contracts.inbox,
        lightClients: Object.fromEntries(
          Object.entries(c.contracts.lightClients).map(([id, addr]) => [nameOf.get(id)!, addr]),
        ),
        recordRegistry: c.contracts.recordRegistry,
        recordProofSender: c.contracts.recordProofSender,
        recordProofStore: c.contracts.recordProofStore,
      },
      signer: { type: 'env' as const, variable: opts.signerEnv ?? 'MEDRELAY_RELAYER_KEY' },
      gas: { bumpAfterSec: 20 },
    })),
    channels: devnet.channels.map((ch) => ({ name: ch.name, source: ch.source, destination: ch.dest })),
  };
}
