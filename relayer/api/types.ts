/**
 * What the API needs from the rest of the relayer. The API only reads: the store (through `PacketStoreReader`),
 * static chain and channel descriptions, the metrics registry and a health probe.
 */
import type { Logger } from 'pino';
import type { MedrelayConfig } from '../../config/schema.js';
import type { Metrics } from '../metrics.js';
import type { PacketStoreReader } from '../store.js';

export type ChainFamily = 'evm' | 'substrate' | 'fabric';

/**
 * A chain as shown by `GET /chains`. Structurally compatible with `ChainAdapter['info']`, so adapter infos can be
 * passed directly; the optional fields come from the config (`chainInfoFromConfig`).
 */
export interface ChainInfo {
  readonly name: string;
  readonly chainId: number | bigint;
  readonly family: ChainFamily;
  /** Finality type, e.g. `qbft`. */
  readonly finality?: string;
  /** Only the origin (scheme, host, port) is ever shown: paths and query strings often hold provider API keys. */
  readonly rpcUrl?: string;
  readonly contracts?: Readonly<Record<string, string | Readonly<Record<string, string>>>>;
}

export interface ChannelInfo {
  readonly name: string;
  /** bytes32 channel id, 0x-hex. */
  readonly id: string;
  /** Chain names. */
  readonly source: string;
  readonly destination: string;
}

export interface ComponentHealth {
  ok: boolean;
  latencyMs?: number;
  error?: string;
}

export interface ChainHealthReport extends ComponentHealth {
  name: string;
  /** Latest (finalized) height as a decimal string. */
  height?: string;
}

export interface HealthReport {
  /** True when Redis and every chain answered. */
  ok: boolean;
  redis: ComponentHealth;
  chains: ChainHealthReport[];
}

export interface ApiDeps {
  store: PacketStoreReader;
  chains: readonly ChainInfo[];
  channels: readonly ChannelInfo[];
  metrics: Metrics;
  health: () => Promise<HealthReport>;
  /** Request logging; `false` (default) keeps tests quiet. */
  logger?: Logger | false;
  /** Serve the Swagger UI at `/docs`. @defaultValue `true` */
  docs?: boolean;
}

/** Chain descriptions for `GET /chains` from a validated config. */
export function chainInfoFromConfig(config: MedrelayConfig): ChainInfo[] {
  return config.chains.map((c) => {
    const contracts: Record<string, string | Record<string, string>> = {
      outbox: c.contracts.outbox,
      inbox: c.contracts.inbox,
      lightClients: { ...c.contracts.lightClients },
    };
    for (const k of [
      'recordRegistry',
      'recordProofSender',
      'recordProofStore',
      'consentRegistry',
      'consentMirror',
      'disclosureVerifier',
      'codeMapRegistry',
      'auditLog',
      'referralGateway',
      'claimSubmitter',
      'claimSettlement',
      'settlementGateway',
    ] as const) {
      const v = c.contracts[k];
      if (v !== undefined) contracts[k] = v;
    }
    const tokens = c.contracts.depositTokens;
    if (tokens) {
      const byCode = Object.fromEntries(Object.entries(tokens).filter(([, a]) => a !== undefined)) as Record<
        string,
        string
      >;
      if (Object.keys(byCode).length > 0) contracts.depositTokens = byCode;
    }
    return {
      name: c.name,
      chainId: c.chainId,
      family: c.family,
      finality: c.finality.type,
      rpcUrl: c.rpcUrl,
      contracts,
    };
  });
}

export function channelInfoFromConfig(config: MedrelayConfig): ChannelInfo[] {
  return config.channels.map((c) => ({
    name: c.name,
    id: c.id,
    source: c.source,
    destination: c.destination,
  }));
}
