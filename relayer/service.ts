/**
 * Builds a running relayer from a validated config: Redis (checked first, with a hint to start one), one adapter
 * per chain with its signer from the environment or a keystore, the channel paths, the BullMQ pipeline, metrics
 * and the HTTP API. `stop()` shuts down in the reverse order and waits for running jobs.
 */
import type { FastifyInstance } from 'fastify';
import { EvmAdapter } from '../adapters/evm/adapter.js';
import type { ChainAdapter } from '../adapters/types.js';
import { resolveSigner } from '../config/keys.js';
import type { ConfigEnv, MedrelayConfig } from '../config/schema.js';
import type { Hex } from '../proofs/bytes.js';
import { ConfigError } from '../proofs/errors.js';
import { buildApi, chainInfoFromConfig, channelInfoFromConfig, probeHealth } from './api/index.js';
import type { PatientApiDeps } from './api/routes/patients.js';
import { auditRecordAccess } from './audit/record-access.js';
import { type AuditedChain, AuditRecorder, auditLogAnchor, auditLogBatchAnchor } from './audit/recorder.js';
import { AuditTrail } from './audit/trail.js';
import { createLogger, type Logger } from './logger.js';
import { createMetrics, type Metrics, metricsHooks, recordRpcError } from './metrics.js';
import type { ChannelPath } from './paths.js';
import { shortNameOf } from './paths.js';
import { PatientKeys } from './patients/keys.js';
import type { ChainRuntime, ClearReport } from './pipeline.js';
import type { RecordAccessHook } from './records/vault.js';
import { assertRedisReachable, connectRedis, type Redis } from './redis.js';
import { Relayer } from './relayer.js';
import { settlementQueries, settlementTopology } from './settlement/index.js';
import { PacketStore } from './store.js';

export interface ServiceOptions {
  config: MedrelayConfig;
  env?: ConfigEnv;
  log?: Logger;
  /** Serve the HTTP API. @defaultValue true */
  api?: boolean;
  /** Serves the patient routes with what this returns (built on the service's Redis connection). */
  patients?: (ctx: { redis: Redis; prefix: string }) => NonNullable<PatientApiDeps['patients']>;
  /**
   * Patient audit trail: an `AuditRecorder` turns the record apps' chain events (every chain's configured
   * `contracts`) into per-patient FHIR AuditEvents, anchored in the `AuditLog` of `anchorChain`; the patient API
   * routes are served with that trail (unless `patients` is given). Off when absent.
   */
  audit?: ServiceAuditOptions;
}

export interface ServiceAuditOptions {
  /** Chain (name) whose `contracts.auditLog` anchors the entries (the relayer key must be an AuditLog writer). */
  anchorChain: string;
  /** Literal reference of this relayer in the entries. @defaultValue `'Device/medrelay'` */
  observer?: string;
  site?: string;
  /** Scan interval. @defaultValue `relayer.pollIntervalMs` */
  pollIntervalMs?: number;
  /** Interval of the anchoring rounds (`AuditTrail.anchorPending()`, batched per patient). @defaultValue 2000 */
  retryIntervalMs?: number;
  /** Serve `POST /patients/{pseudonym}/challenge` and `GET /patients/{pseudonym}/audit`. @defaultValue true */
  patientApi?: boolean;
}

export interface ServiceAudit {
  readonly trail: AuditTrail;
  readonly keys: PatientKeys;
  readonly recorder: AuditRecorder;
  /** Vault `onAccess` hook filing decryptions (and refusals) in the patient's trail. */
  readonly recordAccessHook: RecordAccessHook;
}

export interface RelayerService {
  readonly config: MedrelayConfig;
  readonly relayer: Relayer;
  readonly store: PacketStore;
  readonly redis: Redis;
  readonly metrics: Metrics;
  readonly adapters: ReadonlyMap<string, ChainAdapter>;
  readonly paths: readonly ChannelPath[];
  readonly api?: FastifyInstance;
  /** Base URL of the API when it is served. */
  readonly apiUrl?: string;
  readonly clearReports: ClearReport[];
  /** Present when started with `audit`. */
  readonly audit?: ServiceAudit;
  stop(): Promise<void>;
}

export async function startService(opts: ServiceOptions): Promise<RelayerService> {
  const { config } = opts;
  const env = opts.env ?? process.env;
  const log = opts.log ?? createLogger({});
  await assertRedisReachable(config.relayer.redisUrl);
  const prefix = config.relayer.keyPrefix;
  const redis = connectRedis(config.relayer.redisUrl, { prefix });
  const store = new PacketStore(redis, { prefix });

  const byName = new Map(config.chains.map((c) => [c.name, c]));
  const metricsRef: { m?: Metrics } = {};
  const adapters = new Map<string, ChainAdapter>();
  const evmAdapters = new Map<string, EvmAdapter>();
  const chains = new Map<string, ChainRuntime>();
  for (const c of config.chains) {
    if (c.family !== 'evm') {
      throw new ConfigError(
        'MR_ERR_FAMILY_UNSUPPORTED',
        `chains[${c.name}].family: "${c.family}" adapters are not available yet; only "evm" runs in this release`,
      );
    }
    const signer = await resolveSigner(c.signer, env);
    const lightClients: Record<string, Hex> = {};
    for (const [remoteName, addr] of Object.entries(c.contracts.lightClients)) {
      const remote = byName.get(remoteName);
      if (remote) lightClients[String(remote.chainId)] = addr as Hex;
    }
    const adapter = new EvmAdapter({
      name: c.name,
      chainId: BigInt(c.chainId),
      rpcUrl: c.rpcUrl,
      privateKey: signer.privateKey(),
      contracts: { outbox: c.contracts.outbox as Hex, inbox: c.contracts.inbox as Hex, lightClients },
      fees: {
        bumpPercent: c.gas.bumpPercent,
        bumpAfterSec: c.gas.bumpAfterSec,
        timeoutSec: c.gas.timeoutSec,
        ...(c.gas.maxFeeGwei !== undefined ? { maxFeeWei: BigInt(Math.round(c.gas.maxFeeGwei * 1e9)) } : {}),
      },
      onRpcError: () => {
        if (metricsRef.m) recordRpcError(metricsRef.m, c.name);
      },
    });
    adapters.set(c.name, adapter);
    evmAdapters.set(c.name, adapter);
    chains.set(String(c.chainId), { adapter, startHeight: BigInt(c.startHeight) });
  }
  const paths: ChannelPath[] = config.channels.map((ch) => ({
    name: ch.name,
    shortName: shortNameOf(ch.name),
    id: ch.id as Hex,
    source: adapters.get(ch.source)!,
    dest: adapters.get(ch.destination)!,
    batchSize: ch.batchSize ?? config.relayer.batchSize,
    lane: ch.lane,
  }));
  const channelInfos = channelInfoFromConfig(config);
  const metrics = createMetrics({ store, channels: channelInfos });
  metricsRef.m = metrics;

  // The service option wins over the config file's `relayer.audit` (tests and embedders pass it directly).
  const auditOpts: ServiceAuditOptions | undefined = opts.audit ?? config.relayer.audit;
  if (auditOpts && !byName.get(auditOpts.anchorChain)?.contracts.auditLog) {
    redis.disconnect();
    throw new ConfigError(
      'MR_ERR_CONFIG_AUDIT',
      `relayer.audit.anchorChain: "${auditOpts.anchorChain}" must name a configured chain with contracts.auditLog`,
    );
  }
  const relayer = new Relayer({
    redis,
    prefix,
    store,
    chains,
    paths,
    log,
    hooks: metricsHooks(metrics),
    pollIntervalMs: config.relayer.pollIntervalMs,
    clearIntervalMs: config.relayer.clearIntervalSec * 1000,
  });
  const clearReports = await relayer.start();

  let audit: ServiceAudit | undefined;
  let auditTimer: NodeJS.Timeout | undefined;
  if (auditOpts) {
    const a = auditOpts;
    const auditLog = byName.get(a.anchorChain)!.contracts.auditLog!;
    const source = { observer: a.observer ?? 'Device/medrelay', ...(a.site ? { site: a.site } : {}) };
    const anchorSigner = evmAdapters.get(a.anchorChain)!;
    // Entries are anchored in rounds, one AuditLog.recordBatch per patient: appending never waits for a block, and
    // a burst of deliveries costs a few transactions rather than one per entry.
    const trail = new AuditTrail(redis, {
      prefix,
      anchor: auditLogAnchor(anchorSigner, auditLog),
      anchorBatch: auditLogBatchAnchor(anchorSigner, auditLog),
      deferAnchors: true,
      anchorTimeoutMs: 60_000,
      onAnchorError: (info) =>
        log.warn({ entryHash: info.entryHash, code: info.code }, 'audit anchor failed'),
    });
    const chainsAudited: AuditedChain[] = config.chains.map((c) => ({
      name: c.name,
      chainId: BigInt(c.chainId),
      rpc: evmAdapters.get(c.name)!.rpc,
      startHeight: BigInt(c.startHeight),
      contracts: {
        inbox: c.contracts.inbox,
        ...(c.contracts.recordRegistry ? { recordRegistry: c.contracts.recordRegistry } : {}),
        ...(c.contracts.consentRegistry ? { consentRegistry: c.contracts.consentRegistry } : {}),
        ...(c.contracts.recordProofStore ? { recordProofStore: c.contracts.recordProofStore } : {}),
        ...(c.contracts.disclosureVerifier ? { disclosureVerifier: c.contracts.disclosureVerifier } : {}),
        ...(c.contracts.referralGateway ? { referralGateway: c.contracts.referralGateway } : {}),
      },
    }));
    const recorder = new AuditRecorder({
      redis,
      prefix,
      trail,
      source,
      chains: chainsAudited,
      onError: (info) => log.warn(info, 'audit recorder: entry skipped or scan failed'),
    });
    recorder.start(a.pollIntervalMs ?? config.relayer.pollIntervalMs);
    const retry = () => {
      auditTimer = setTimeout(() => {
        trail
          .retryAnchors()
          .catch(() => {})
          .finally(() => {
            if (auditTimer) retry();
          });
      }, a.retryIntervalMs ?? 2_000);
    };
    retry();
    audit = {
      trail,
      keys: new PatientKeys(redis, { prefix }),
      recorder,
      recordAccessHook: auditRecordAccess(trail, source),
    };
  }
  const patients =
    opts.patients?.({ redis, prefix }) ??
    (audit && auditOpts?.patientApi !== false ? { keys: audit.keys, audit: audit.trail } : undefined);

  // Settlement routes only when some chain has a SettlementGateway; they read through the adapters' RPC clients.
  const settlement = settlementTopology(config, (c) => evmAdapters.get(c.name)!.rpc);

  let api: FastifyInstance | undefined;
  let apiUrl: string | undefined;
  if (opts.api ?? true) {
    api = await buildApi({
      store,
      chains: chainInfoFromConfig(config),
      channels: channelInfos,
      metrics,
      health: () =>
        probeHealth({
          redis,
          chains: [...adapters.values()].map((a) => ({ name: a.info.name, health: () => a.health() })),
        }),
      ...(patients ? { patients } : {}),
      ...(settlement ? { settlement: { queries: settlementQueries(settlement) } } : {}),
    });
    apiUrl = await api.listen({ host: config.relayer.api.host, port: config.relayer.api.port });
    log.info({ url: apiUrl }, 'API listening (OpenAPI at /openapi.json, docs at /docs)');
  }

  let stopped = false;
  return {
    config,
    relayer,
    store,
    redis,
    metrics,
    adapters,
    paths,
    ...(api ? { api } : {}),
    ...(apiUrl ? { apiUrl } : {}),
    clearReports,
    ...(audit ? { audit } : {}),
    async stop() {
      if (stopped) return;
      stopped = true;
      if (api) await api.close();
      if (auditTimer) {
        clearTimeout(auditTimer);
        auditTimer = undefined;
      }
      await audit?.recorder.stop();
      await relayer.stop();
      await Promise.all([...adapters.values()].map((a) => a.close()));
      redis.disconnect();
    },
  };
}
