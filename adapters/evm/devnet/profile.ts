/**
 * Turns a running devnet into a relayer config document (the devnet profile with deployed addresses filled in).
 * No key goes into it: the relayer's signer is named by an environment variable.
 */
import type { MedrelayConfigInput } from '../../../config/schema.js';
import type { Devnet, DevnetChain, DevnetChainSpec, DevnetChannelSpec, DevnetLane } from './network.js';

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

/** The `contracts` section of a devnet chain (light clients keyed by remote chain name). */
function contractsOf(devnet: Devnet, c: DevnetChain) {
  const nameOf = new Map(devnet.chains.map((x) => [String(x.spec.chainId), x.spec.name]));
  return {
    outbox: c.contracts.outbox,
    inbox: c.contracts.inbox,
    lightClients: Object.fromEntries(
      Object.entries(c.contracts.lightClients).map(([id, addr]) => [nameOf.get(id)!, addr]),
    ),
    recordRegistry: c.contracts.recordRegistry,
    recordProofSender: c.contracts.recordProofSender,
    recordProofStore: c.contracts.recordProofStore,
    consentRegistry: c.contracts.consentRegistry,
    consentMirror: c.contracts.consentMirror,
    ...(c.contracts.disclosureVerifier ? { disclosureVerifier: c.contracts.disclosureVerifier } : {}),
    codeMapRegistry: c.contracts.codeMapRegistry,
    auditLog: c.contracts.auditLog,
    referralGateway: c.contracts.referralGateway,
    ...(c.contracts.settlement
      ? {
          settlementGateway: c.contracts.settlement.settlementGateway,
          claimSubmitter: c.contracts.settlement.claimSubmitter,
          claimSettlement: c.contracts.settlement.claimSettlement,
          depositTokens: { ...c.contracts.settlement.depositTokens },
        }
      : {}),
  };
}

/**
 * ISO 20022 identity of a devnet chain's settlement agent (pacs.008/002/004 export): made-up BICs of a devnet
 * bank per role (`MDRL` + country + location), only on chains with a SettlementGateway.
 */
export function devnetSettlementAgent(
  c: DevnetChain,
): { agent: { bic: string }; partyName: string } | undefined {
  if (!c.contracts.settlement) return undefined;
  if (c.spec.role === 'insurer')
    return { agent: { bic: 'MDRLCNSHXXX' }, partyName: `Devnet insurer (${c.spec.name})` };
  if (c.spec.role === 'crossborder')
    return {
      agent: { bic: 'MDRLHKHHXXX' },
      partyName: `Devnet cross-border clinic account (${c.spec.name})`,
    };
  return { agent: { bic: 'MDRLHKHH001' }, partyName: `Devnet hospital (${c.spec.name})` };
}

/**
 * The relayer config of a running devnet: every chain, and every channel of `devnet.allChannels` (the
 * application channels and their `priority` consent lanes).
 */
export function devnetProfile(devnet: Devnet, opts: DevnetProfileOptions): MedrelayConfigInput {
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
      contracts: contractsOf(devnet, c),
      ...(devnetSettlementAgent(c) ? { settlement: devnetSettlementAgent(c) } : {}),
      signer: { type: 'env' as const, variable: opts.signerEnv ?? 'MEDRELAY_RELAYER_KEY' },
      gas: { bumpAfterSec: 20 },
    })),
    channels: devnet.allChannels.map((ch) => ({
      name: ch.name,
      source: ch.source,
      destination: ch.dest,
      lane: ch.lane,
    })),
  };
}

interface TemplateChain {
  name: string;
  chainId: number;
  rpcUrl: string;
  startHeight?: number;
  finality: { type: 'qbft'; validators: string[] };
  contracts: Record<string, unknown> & { lightClients?: Record<string, string> };
  settlement?: unknown;
}

interface TemplateChannel {
  name: string;
  source: string;
  destination: string;
  lane?: DevnetLane;
  [k: string]: unknown;
}

interface TemplateDoc {
  relayer?: Record<string, unknown>;
  chains: TemplateChain[];
  channels: TemplateChannel[];
}

function asTemplate(doc: unknown): TemplateDoc {
  const d = doc as Partial<TemplateDoc>;
  if (!d || !Array.isArray(d.chains) || !Array.isArray(d.channels)) {
    throw new Error('devnet template: expected `chains` and `channels` lists');
  }
  return d as TemplateDoc;
}

/**
 * Chain and channel specs of the devnet described by a profile template (config/devnet.yaml). Channels keep
 * their `lane`: a `priority` channel is the consent lane of its route (see `planDevnetChannels`).
 */
export function devnetSpecsFromTemplate(doc: unknown): {
  chains: DevnetChainSpec[];
  channels: DevnetChannelSpec[];
} {
  const t = asTemplate(doc);
  return {
    chains: t.chains.map((c) => ({
      name: c.name,
      chainId: c.chainId,
      port: Number(new URL(c.rpcUrl).port),
      role: c.name.startsWith('medical')
        ? 'medical'
        : c.name.startsWith('insurer')
          ? 'insurer'
          : 'crossborder',
    })),
    channels: t.channels.map((c) => ({
      name: c.name,
      source: c.source,
      dest: c.destination,
      ...(c.lane ? { lane: c.lane } : {}),
      // The config has no `app` field: claims and settlement channels are recognised by their name.
      ...(c.name.startsWith('claims') ? { app: 'claims' as const } : {}),
      ...(c.name.startsWith('settlement') ? { app: 'settlement' as const } : {}),
    })),
  };
}

/**
 * Fills a profile template with what the devnet deployed: RPC URLs, validator sets, contract addresses (light
 * clients keyed by remote chain name) and start heights. Channels of the devnet the template does not list
 * (consent lanes the devnet added) are appended with their `lane`. Everything else in the template is kept as
 * written.
 */
export function fillDevnetTemplate(
  doc: unknown,
  devnet: Devnet,
  relayerOverrides: Record<string, unknown> = {},
): MedrelayConfigInput {
  const t = asTemplate(structuredClone(doc));
  for (const c of t.chains) {
    const d = devnet.chain(c.name);
    c.rpcUrl = d.rpcUrl;
    c.startHeight = d.startHeight;
    c.finality = { type: 'qbft', validators: d.validators };
    c.contracts = contractsOf(devnet, d);
    const agent = devnetSettlementAgent(d);
    if (agent && c.settlement === undefined) c.settlement = agent;
  }
  const listed = new Set(t.channels.map((c) => c.name));
  for (const ch of devnet.allChannels) {
    if (!listed.has(ch.name))
      t.channels.push({ name: ch.name, source: ch.source, destination: ch.dest, lane: ch.lane });
  }
  t.relayer = { ...(t.relayer ?? {}), ...relayerOverrides };
  return t as unknown as MedrelayConfigInput;
}
