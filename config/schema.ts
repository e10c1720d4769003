/**
 * medrelay configuration schema. The zod schema is the single source of the config types (Hyperlane style):
 * `MedrelayConfig` is inferred from it, defaults are named constants, unknown keys are rejected (Hermes
 * `deny_unknown_fields`), and cross-field rules (channel endpoints, unique chains, light-client keys) run even when
 * other fields are wrong so that one run of the loader reports every problem. `config/README.md` documents each field.
 */
import { getAddress } from 'ethers';
import { z } from 'zod';
import { channelId } from '../proofs/packet.js';

/** Environment read for defaults; injectable so tests do not depend on the shell. */
export type ConfigEnv = Readonly<Record<string, string | undefined>>;

/**
 * Redis used when neither `relayer.redisUrl` nor `REDIS_URL` is set.
 * @defaultValue `'redis://127.0.0.1:6379'`
 */
export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';
/**
 * Namespace for every Redis key (packet store and BullMQ queues), so several relayers can share one Redis.
 * @defaultValue `'medrelay'`
 */
export const DEFAULT_KEY_PREFIX = 'medrelay';
/**
 * API bind address; loopback because the API is operational, not public.
 * @defaultValue `'127.0.0.1'`
 */
export const DEFAULT_API_HOST = '127.0.0.1';
/** @defaultValue `8787` */
export const DEFAULT_API_PORT = 8787;
/**
 * Seconds between packet clears (re-scan of chain state for anything the event pipeline missed; Hermes `clear_interval`).
 * @defaultValue `30`
 */
export const DEFAULT_CLEAR_INTERVAL_SEC = 30;
/**
 * Milliseconds between polls for new finalized blocks.
 * @defaultValue `1000`
 */
export const DEFAULT_POLL_INTERVAL_MS = 1000;
/**
 * Packets per delivery transaction.
 * @defaultValue `32`
 */
export const DEFAULT_BATCH_SIZE = 32;
/** Upper bound for any batch size: a receive of 64 packets with a range proof stays well inside a block gas limit. */
export const MAX_BATCH_SIZE = 64;
/** @defaultValue `true` */
export const DEFAULT_METRICS_ENABLED = true;
/**
 * Percent added to both fee caps on each replacement; nodes reject replacements below 10 %.
 * @defaultValue `12`
 */
export const DEFAULT_GAS_BUMP_PERCENT = 12;
/** Minimum accepted `gas.bumpPercent`: geth/Besu refuse a replacement transaction with a smaller bump. */
export const MIN_GAS_BUMP_PERCENT = 10;
/**
 * Seconds without inclusion before a transaction is re-sent with bumped fees.
 * @defaultValue `30`
 */
export const DEFAULT_GAS_BUMP_AFTER_SEC = 30;
/**
 * Seconds without a receipt before the transaction is given up (the job then retries).
 * @defaultValue `300`
 */
export const DEFAULT_GAS_TIMEOUT_SEC = 300;

/**
 * First block scanned for events on a fresh store; set it to the contracts' deployment height to skip history.
 * @defaultValue `0`
 */
export const DEFAULT_START_HEIGHT = 0;

export const CHAIN_FAMILIES = ['evm', 'substrate', 'fabric'] as const;
export type ChainFamily = (typeof CHAIN_FAMILIES)[number];

export type Address = `0x${string}`;
export type Bytes32 = `0x${string}`;

const SLUG_RE = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;
const ADDRESS_RE = /^0x[0-9a-fA-F]{40}$/;
const BYTES32_RE = /^0x[0-9a-fA-F]{64}$/;
const ENV_NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;
// No glob characters: the prefix is used in SCAN MATCH patterns by `medrelay reset`.
const KEY_PREFIX_RE = /^[A-Za-z0-9][A-Za-z0-9_.:-]*$/;

/**
 * Short, safe rendering of a bad value for error messages: strings quoted and truncated, URL credentials hidden
 * (viem strips them too), containers named rather than dumped.
 */
export function describeConfigValue(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (typeof v === 'string') {
    const safe = v.replace(/(\/\/[^/@\s:]*):[^/@\s]*@/g, '$1:***@');
    return JSON.stringify(safe.length > 80 ? `${safe.slice(0, 77)}...` : safe);
  }
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return String(v);
}

/**
 * Schema-level message "expected …, got …". A missing value is left to the loader's generic
 * "missing required field" text (returning undefined defers to the next error map).
 */
const expected =
  (text: string) =>
  (iss: { code?: string; input?: unknown }): string | undefined =>
    iss.input === undefined && iss.code === 'invalid_type'
      ? undefined
      : `${text}, got ${describeConfigValue(iss.input)}`;

const slug = (what: string) =>
  z
    .string()
    .min(1)
    .max(63)
    .regex(SLUG_RE, {
      error: expected(
        `expected a ${what} slug (lowercase letters, digits and single dashes, e.g. "medical-a")`,
      ),
    });

/**
 * EVM address: checksummed (EIP-55) or all lowercase. Mixed case with a wrong checksum is rejected because it
 * usually means a typo. Normalised to the checksummed form.
 */
export const addressSchema = z
  .string()
  .regex(ADDRESS_RE, { error: expected('expected a 0x-prefixed 20-byte address (40 hex digits)') })
  .superRefine((s, ctx) => {
    const body = s.slice(2);
    if (body === body.toLowerCase()) return;
    if (getAddress(s.toLowerCase()) !== s) {
      ctx.addIssue({
        code: 'custom',
        message: `address checksum does not match; write it all lowercase or with the EIP-55 checksum (${getAddress(s.toLowerCase())})`,
      });
    }
  })
  .transform((s) => getAddress(s.toLowerCase()) as Address);

const redisUrlSchema = z.url({
  protocol: /^rediss?$/,
  error: expected(
    'expected a redis:// or rediss:// URL (from relayer.redisUrl or the REDIS_URL environment variable)',
  ),
});
const rpcUrlSchema = z.url({
  protocol: /^(https?|wss?)$/,
  error: expected('expected an http(s):// or ws(s):// URL'),
});
const envNameSchema = z.string().regex(ENV_NAME_RE, {
  error: expected('expected an environment variable name (letters, digits, underscore)'),
});
const batchSizeSchema = z.number().int().min(1).max(MAX_BATCH_SIZE);

export const apiSchema = z.strictObject({
  host: z.string().min(1).default(DEFAULT_API_HOST),
  port: z.number().int().min(0).max(65535).default(DEFAULT_API_PORT),
});

export const finalitySchema = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('qbft'),
    /** Validator set the light client starts from; later sets are followed through sealed headers. */
    validators: z.array(addressSchema).min(1),
  }),
]);

export const contractsSchema = z.strictObject({
  outbox: addressSchema,
  inbox: addressSchema,
  /** Light client on this chain for each remote chain, keyed by the remote chain's `name`. */
  lightClients: z.record(z.string(), addressSchema).default({}),
  recordRegistry: addressSchema.optional(),
  recordProofSender: addressSchema.optional(),
  recordProofStore: addressSchema.optional(),
  /** `ConsentRegistry` (medical chains): grants and revocations, sent on the `priority` consent lanes. */
  consentRegistry: addressSchema.optional(),
  /** `ConsentMirror` (chains that receive record proofs or referrals). */
  consentMirror: addressSchema.optional(),
  /** `DisclosureVerifier` over this chain's `RecordProofStore`. */
  disclosureVerifier: addressSchema.optional(),
  /** `CodeMapRegistry` (anchored FHIR ConceptMaps). */
  codeMapRegistry: addressSchema.optional(),
  /** `AuditLog` (patient audit-entry anchors). */
  auditLog: addressSchema.optional(),
  /** `ReferralGateway` (referrals between medical chains). */
  referralGateway: addressSchema.optional(),
  /** `ClaimSubmitter` (medical chains): clinics send CLAIM packets to an insurer through it. */
  claimSubmitter: addressSchema.optional(),
  /** `ClaimSettlement` (insurer chains): verifies, adjudicates and pays claims. */
  claimSettlement: addressSchema.optional(),
  /** `SettlementGateway`: escrows SETTLEMENT payments as a source, pays them out as a destination. */
  settlementGateway: addressSchema.optional(),
  /** ERC-20 deposit tokens on this chain by ISO 4217 code (2 decimals each). */
  depositTokens: z
    .strictObject({
      CNY: addressSchema.optional(),
      HKD: addressSchema.optional(),
      MOP: addressSchema.optional(),
    })
    .optional(),
});

/**
 * A financial institution in ISO 20022 messages: by BIC (ISO 9362, BICFI), or by clearing-system member id
 * (ClrSysMmbId). The rules are those proofs/settlement/iso20022.ts applies when it builds a message, so a config
 * that loads can always be exported.
 */
export const settlementAgentSchema = z.union([
  z.strictObject({
    bic: z
      .string()
      .regex(
        /^[A-Z0-9]{4}[A-Z]{2}[A-Z0-9]{2}([A-Z0-9]{3})?$/,
        'expected a BIC (8 or 11 characters, uppercase)',
      ),
  }),
  z.strictObject({
    /** ExternalClearingSystemIdentification1Code, e.g. HKNCC (Hong Kong), CNAPS (mainland China). */
    clearingSystem: z
      .string()
      .regex(/^[A-Z]{1,5}$/, 'expected a clearing system code of 1-5 uppercase letters'),
    memberId: z.string().regex(/^[A-Za-z0-9]{1,35}$/, 'expected 1-35 letters or digits'),
  }),
]);

/** How this chain's settlement party appears in pacs.008/002/004 (the agent that holds its deposit tokens). */
export const chainSettlementSchema = z.strictObject({
  /** Debtor agent for payments from this chain, creditor agent for payments to it. */
  agent: settlementAgentSchema,
  /** Party name printed as Dbtr/Cdtr Nm, e.g. "Devnet Insurer Ltd" (an organisation, never a patient). */
  partyName: z
    .string()
    .max(140)
    .regex(/\S/, 'expected a non-blank name')
    // XML 1.0 cannot carry control characters; refuse them here rather than at export time.
    .refine((v) => ![...v].some((ch) => ch.charCodeAt(0) < 0x20 || ch.charCodeAt(0) === 0x7f), {
      message: 'expected no control characters',
    })
    .optional(),
});

export const signerSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('env'), variable: envNameSchema }),
  z.strictObject({ type: z.literal('keystore'), path: z.string().min(1), passwordEnv: envNameSchema }),
]);

export const gasSchema = z.strictObject({
  maxFeeGwei: z.number().positive().optional(),
  bumpPercent: z.number().int().min(MIN_GAS_BUMP_PERCENT).max(1000).default(DEFAULT_GAS_BUMP_PERCENT),
  bumpAfterSec: z.number().int().positive().default(DEFAULT_GAS_BUMP_AFTER_SEC),
  timeoutSec: z.number().int().positive().default(DEFAULT_GAS_TIMEOUT_SEC),
});

export const chainSchema = z.strictObject({
  name: slug('chain name'),
  chainId: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
  family: z.enum(CHAIN_FAMILIES),
  rpcUrl: rpcUrlSchema,
  finality: finalitySchema,
  contracts: contractsSchema,
  /** ISO 20022 identity of this chain's settlement agent (needed to export pacs messages of its payments). */
  settlement: chainSettlementSchema.optional(),
  signer: signerSchema,
  gas: gasSchema.prefault({}),
  /** First block scanned when Redis holds no cursor for this chain yet: the contracts' deployment height. */
  startHeight: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).default(DEFAULT_START_HEIGHT),
});

export const channelSchema = z.strictObject({
  name: slug('channel name'),
  source: z.string().min(1),
  destination: z.string().min(1),
  /** Optional: computed as keccak256(abi.encode(sourceChainId, destChainId, name)); if given it must match. */
  id: z
    .string()
    .regex(BYTES32_RE, { error: expected('expected a 0x-prefixed 32-byte hex id') })
    .optional(),
  batchSize: batchSizeSchema.optional(),
  /**
   * `priority` channels (consent grants and revocations) are delivered before any `normal` channel between the
   * same two chains: a normal batch waits while a priority packet to its destination is pending.
   * @defaultValue `'normal'`
   */
  lane: z.enum(['normal', 'priority']).default('normal'),
});

function relayerSchema(env: ConfigEnv) {
  return z.strictObject({
    // prefault (not default) so a REDIS_URL from the environment is validated like a written value.
    redisUrl: redisUrlSchema.prefault(() => env.REDIS_URL ?? DEFAULT_REDIS_URL),
    keyPrefix: z
      .string()
      .regex(KEY_PREFIX_RE, {
        error: expected('expected letters, digits, "_", ".", ":" or "-" (no glob characters)'),
      })
      .max(64)
      .default(DEFAULT_KEY_PREFIX),
    api: apiSchema.prefault({}),
    clearIntervalSec: z.number().int().min(1).default(DEFAULT_CLEAR_INTERVAL_SEC),
    pollIntervalMs: z.number().int().min(50).default(DEFAULT_POLL_INTERVAL_MS),
    batchSize: batchSizeSchema.default(DEFAULT_BATCH_SIZE),
    metrics: z.boolean().default(DEFAULT_METRICS_ENABLED),
    /**
     * Patient audit trail: record-app events become FHIR AuditEvent entries per patient pseudonym, anchored by hash
     * in the AuditLog of `anchorChain`, listed at `GET /patients/:pseudonym/audit`. Off when absent.
     */
    audit: z
      .strictObject({
        anchorChain: z.string().min(1),
        observer: z.string().min(1).optional(),
        site: z.string().min(1).optional(),
        patientApi: z.boolean().default(true),
      })
      .optional(),
  });
}

type Issue = { message: string; path: PropertyKey[] };

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const asArray = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

/**
 * Rules across fields. Runs on possibly-invalid input (zod's `when`), so it reads defensively and only judges
 * fields that are themselves well-formed: a bad field is already reported by its own schema.
 */
export function crossFieldIssues(input: unknown): Issue[] {
  const issues: Issue[] = [];
  if (!isRecord(input)) return issues;
  const chains = asArray(input.chains);
  const channels = asArray(input.channels);

  const byName = new Map<
    string,
    { index: number; chainId?: number; lightClients: Record<string, unknown> }
  >();
  const byId = new Map<number, number>();
  chains.forEach((c, i) => {
    if (!isRecord(c)) return;
    const name = typeof c.name === 'string' ? c.name : undefined;
    const chainId = typeof c.chainId === 'number' && Number.isSafeInteger(c.chainId) ? c.chainId : undefined;
    if (name !== undefined) {
      const prev = byName.get(name);
      if (prev) {
        issues.push({
          path: ['chains', i, 'name'],
          message: `duplicate chain name "${name}" (also chains[${prev.index}])`,
        });
      } else {
        const lc =
          isRecord(c.contracts) && isRecord(c.contracts.lightClients) ? c.contracts.lightClients : {};
        byName.set(name, { index: i, chainId, lightClients: lc });
      }
    }
    if (chainId !== undefined) {
      const prev = byId.get(chainId);
      if (prev !== undefined) {
        issues.push({
          path: ['chains', i, 'chainId'],
          message: `duplicate chain id ${chainId} (also chains[${prev}])`,
        });
      } else byId.set(chainId, i);
    }
    if (isRecord(c.finality) && c.finality.type === 'qbft' && c.family !== undefined && c.family !== 'evm') {
      issues.push({
        path: ['chains', i, 'finality', 'type'],
        message: `"qbft" finality needs family "evm", got "${String(c.family)}"`,
      });
    }
  });

  // Light clients are keyed by chain name so the operator never has to repeat chain ids.
  chains.forEach((c, i) => {
    if (!isRecord(c) || !isRecord(c.contracts) || !isRecord(c.contracts.lightClients)) return;
    for (const remote of Object.keys(c.contracts.lightClients)) {
      const path = ['chains', i, 'contracts', 'lightClients', remote];
      if (remote === c.name) issues.push({ path, message: 'a chain does not need a light client of itself' });
      else if (!byName.has(remote)) {
        issues.push({
          path,
          message: `expected the name of a configured chain (${known(byName)}), got "${remote}"`,
        });
      }
    }
  });

  const channelNames = new Map<string, number>();
  channels.forEach((ch, i) => {
    if (!isRecord(ch)) return;
    const name = typeof ch.name === 'string' ? ch.name : undefined;
    if (name !== undefined) {
      const prev = channelNames.get(name);
      if (prev !== undefined) {
        issues.push({
          path: ['channels', i, 'name'],
          message: `duplicate channel name "${name}" (also channels[${prev}])`,
        });
      } else channelNames.set(name, i);
    }
    const ends: Array<['source' | 'destination', unknown]> = [
      ['source', ch.source],
      ['destination', ch.destination],
    ];
    for (const [field, value] of ends) {
      if (typeof value === 'string' && !byName.has(value)) {
        issues.push({
          path: ['channels', i, field],
          message: `expected the name of a configured chain (${known(byName)}), got "${value}"`,
        });
      }
    }
    if (typeof ch.source !== 'string' || typeof ch.destination !== 'string') return;
    if (ch.source === ch.destination) {
      issues.push({
        path: ['channels', i, 'destination'],
        message: 'source and destination must be different chains',
      });
      return;
    }
    const src = byName.get(ch.source);
    const dst = byName.get(ch.destination);
    if (!src || !dst) return;
    // Each side verifies the other: the destination checks packets, the source checks acks and timeouts.
    if (!(ch.source in dst.lightClients)) {
      issues.push({
        path: ['chains', dst.index, 'contracts', 'lightClients'],
        message: `missing light client for "${ch.source}" (channel "${String(name)}" delivers from it)`,
      });
    }
    if (!(ch.destination in src.lightClients)) {
      issues.push({
        path: ['chains', src.index, 'contracts', 'lightClients'],
        message: `missing light client for "${ch.destination}" (channel "${String(name)}" needs its acks)`,
      });
    }
    if (typeof ch.id === 'string' && BYTES32_RE.test(ch.id) && name && src.chainId && dst.chainId) {
      const expected = channelId(BigInt(src.chainId), BigInt(dst.chainId), name);
      // The given value is not echoed: the plaintext-secret scan exempts channel ids, so keep them out of messages.
      if (ch.id.toLowerCase() !== expected) {
        issues.push({
          path: ['channels', i, 'id'],
          message: `does not match keccak256(abi.encode(${src.chainId}, ${dst.chainId}, "${name}")) = ${expected}; omit it to have it computed`,
        });
      }
    }
  });
  return dedupe(issues);
}

function known(byName: Map<string, unknown>): string {
  return byName.size === 0 ? 'none configured' : [...byName.keys()].map((n) => `"${n}"`).join(' | ');
}

function dedupe(issues: Issue[]): Issue[] {
  const seen = new Set<string>();
  return issues.filter((i) => {
    const k = `${i.path.join('.')}|${i.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/**
 * Builds the root schema. `env` supplies `REDIS_URL` for the default Redis URL; it is read at parse time.
 *
 * @example
 * const config = createConfigSchema({ REDIS_URL: 'redis://10.0.0.5:6379' }).parse(yamlObject);
 */
export function createConfigSchema(env: ConfigEnv = process.env) {
  return z
    .strictObject({
      relayer: relayerSchema(env).prefault({}),
      chains: z.array(chainSchema).min(1),
      channels: z.array(channelSchema).default([]),
    })
    .superRefine(
      (value, ctx) => {
        for (const issue of crossFieldIssues(value)) ctx.addIssue({ code: 'custom', ...issue });
      },
      // Run even when fields are invalid, so the user sees cross-field problems in the same report.
      { when: () => true },
    )
    .transform((cfg) => ({
      ...cfg,
      channels: cfg.channels.map((ch) => {
        const src = cfg.chains.find((c) => c.name === ch.source)!;
        const dst = cfg.chains.find((c) => c.name === ch.destination)!;
        return { ...ch, id: channelId(BigInt(src.chainId), BigInt(dst.chainId), ch.name) as Bytes32 };
      }),
    }));
}

/** Root schema reading `REDIS_URL` from `process.env` at parse time. */
export const ConfigSchema = createConfigSchema();

export type MedrelayConfig = z.output<typeof ConfigSchema>;
/** What a YAML file (or the demo's object) may contain before defaults are applied. */
export type MedrelayConfigInput = z.input<typeof ConfigSchema>;
export type RelayerConfig = MedrelayConfig['relayer'];
export type ChainConfig = MedrelayConfig['chains'][number];
export type ChannelConfig = MedrelayConfig['channels'][number];
export type SignerConfig = z.output<typeof signerSchema>;
export type GasConfig = z.output<typeof gasSchema>;
export type FinalityConfig = z.output<typeof finalitySchema>;
export type ContractsConfig = z.output<typeof contractsSchema>;
