/**
 * AuditRecorder: turns chain events of the record apps into FHIR AuditEvent entries in each patient's trail
 * (`AuditTrail.append`, which stores then anchors them on chain with `AuditLog.record`).
 *
 * | event | entry (subtype code, action, outcome) |
 * |---|---|
 * | RecordRegistry `AnchorSigned` | `record-anchored` C 0 |
 * | RecordRegistry `AccessLogged` | `access-logged` R 0 |
 * | ConsentRegistry `ConsentGranted` / `ConsentRevoked` | `consent-granted` C 0 / `consent-revoked` D 0 |
 * | RecordProofStore `RecordProofStored` | `record-proof-delivered` C 0 |
 * | Inbox `PacketReceived` APP_ERROR of a RECORD_PROOF to a record app | `record-proof-refused` / `referral-refused` C 4 |
 * | DisclosureVerifier `DisclosureVerified` | `disclosure-verified` R 0 |
 * | ReferralGateway `ReferralReceived` / `PatientNotified` / `ReferralAccepted` | `referral-received` C 0 / `patient-notified` E 0 / `referral-accepted` R 0 |
 *
 * Decryptions come from the vault hook (`auditRecordAccess`), not from chain events.
 *
 * Cursor discipline as the relayer's observe stage: one scanner per chain at a time (a Redis lock), a span from the
 * stored cursor to the head, the cursor moved only after every entry below it is stored. Each log is handled once
 * by (transaction hash, log index): a rescan, a crash between the append and the cursor, or an explicit
 * `scanRange` over old blocks never duplicates an entry (and entries are deterministic — `recorded` is the block
 * time — so even a lost dedup set cannot produce a second copy: the trail dedupes by entry hash).
 *
 * Privacy: entries name patients by pseudonym only; Redis keys hold chain ids, tx hashes and log indices.
 */
import type { Interface, LogDescription } from 'ethers';
import type { Redis } from 'ioredis';
import { contractInterface, decodeRevert } from '../../adapters/evm/clients/chain.js';
import {
  decodeRecordProofPayload,
  decodeReferralPayload,
  deliveredPacket,
} from '../../adapters/evm/clients/packets.js';
import type { RpcLog } from '../../adapters/evm/rpc.js';
import type { Hex } from '../../proofs/bytes.js';
import { MedrelayError } from '../../proofs/errors.js';
import { PacketKind } from '../../proofs/packet.js';
import {
  AUDIT_ENTITY_TYPE_SYSTEM,
  AUDIT_TYPES,
  type AuditAction,
  type AuditEvent,
  type AuditEventEntity,
  auditRef,
  type Coding,
  OBJECT_ROLE_SYSTEM,
} from './event.js';
import type { AuditSource } from './record-access.js';
import type { AnchorFn, AuditTrail } from './trail.js';

/** Code system of the medrelay-specific AuditEvent subtypes. */
export const MEDRELAY_AUDIT_SUBTYPE_SYSTEM = 'https://medrelay.example/fhir/CodeSystem/audit-subtype';

export const AUDIT_SUBTYPES = [
  'record-anchored',
  'access-logged',
  'consent-granted',
  'consent-revoked',
  'record-proof-delivered',
  'record-proof-refused',
  'referral-refused',
  'disclosure-verified',
  'referral-received',
  'patient-notified',
  'referral-accepted',
] as const;
export type AuditSubtype = (typeof AUDIT_SUBTYPES)[number];

/** The record-app contracts of one chain whose events are audited (any subset). */
export interface AuditedContracts {
  inbox?: string;
  recordRegistry?: string;
  consentRegistry?: string;
  recordProofStore?: string;
  disclosureVerifier?: string;
  referralGateway?: string;
}

/** What the recorder needs of a chain: a JSON-RPC `call` (EvmAdapter.rpc fits) and where to start. */
export interface AuditedChain {
  name: string;
  chainId: bigint;
  rpc: { call<T = unknown>(method: string, params: unknown[]): Promise<T> };
  /** First block scanned when no cursor is stored. */
  startHeight: bigint;
  contracts: AuditedContracts;
}

export interface AuditRecorderOptions {
  redis: Redis;
  /** Key namespace, usually `relayer.keyPrefix`. */
  prefix: string;
  trail: Pick<AuditTrail, 'append'>;
  source: AuditSource;
  chains: readonly AuditedChain[];
  /** Max blocks per scan step. @defaultValue 2000 */
  span?: bigint;
  /** Told about entries that could not be built (log position and error code only). */
  onError?: (info: { chain: string; txHash: string; logIndex: number; code: string }) => void;
}

/** AuditEvent.action → AuditLog action byte ('C' 0x43 …), as the contract stores it. */
export const AUDIT_ACTION_BYTE: Record<AuditAction, number> = { C: 0x43, R: 0x52, U: 0x55, D: 0x44, E: 0x45 };

/** Anything that can send a transaction from the relayer key (EvmAdapter.sendTransaction). */
export interface TxSigner {
  sendTransaction(to: Hex, data: Hex, iface: Interface, what: string): Promise<unknown>;
}

/**
 * An `AnchorFn` writing `AuditLog.record(patient, entryHash, action)` through `signer`. AuditLog is idempotent, so
 * anchoring an entry twice (retry loops racing) is a no-op and counts as success.
 *
 * @example
 * const trail = new AuditTrail(redis, { prefix, anchor: auditLogAnchor(adapter, auditLogAddress) });
 */
export function auditLogAnchor(signer: TxSigner, auditLog: string): AnchorFn {
  const iface = contractInterface('AuditLog');
  return async (patient, entryHash, action) => {
    const data = iface.encodeFunctionData('record', [
      patient,
      entryHash,
      AUDIT_ACTION_BYTE[action] ?? 0,
    ]) as Hex;
    await signer.sendTransaction(auditLog as Hex, data, iface, 'AuditLog.record');
  };
}

/** A batch anchor writing `AuditLog.recordBatch(patient, entryHashes)` (idempotent per entry) through `signer`. */
export function auditLogBatchAnchor(
  signer: TxSigner,
  auditLog: string,
): (patient: Hex, entryHashes: Hex[]) => Promise<void> {
  const iface = contractInterface('AuditLog');
  return async (patient, entryHashes) => {
    const data = iface.encodeFunctionData('recordBatch', [patient, entryHashes]) as Hex;
    await signer.sendTransaction(auditLog as Hex, data, iface, 'AuditLog.recordBatch');
  };
}

type AppName =
  | 'Inbox'
  | 'RecordRegistry'
  | 'ConsentRegistry'
  | 'RecordProofStore'
  | 'DisclosureVerifier'
  | 'ReferralGateway';
const APP_OF: Record<keyof AuditedContracts, AppName> = {
  inbox: 'Inbox',
  recordRegistry: 'RecordRegistry',
  consentRegistry: 'ConsentRegistry',
  recordProofStore: 'RecordProofStore',
  disclosureVerifier: 'DisclosureVerifier',
  referralGateway: 'ReferralGateway',
};
const EVENTS: Record<AppName, string[]> = {
  Inbox: ['PacketReceived'],
  RecordRegistry: ['AnchorSigned', 'AccessLogged'],
  ConsentRegistry: ['ConsentGranted', 'ConsentRevoked'],
  RecordProofStore: ['RecordProofStored'],
  DisclosureVerifier: ['DisclosureVerified'],
  ReferralGateway: ['ReferralReceived', 'PatientNotified', 'ReferralAccepted'],
};
const STATUS_APP_ERROR = 2;
const ZERO32 = `0x${'00'.repeat(32)}`;
const REFUSAL_TEXT = [
  'none',
  'unknown consent',
  'consent revoked',
  'consent not yet valid',
  'consent expired',
  'consent of another source chain',
  'consent of another patient',
  'consent for another recipient',
  'bad institution signature',
  'unknown receiving institution',
  'duplicate referral id',
];
const hex64 = (h: string) => h.replace(/^0x/, '').toLowerCase();
const PERSON: Pick<AuditEventEntity, 'type' | 'role'> = {
  type: { system: AUDIT_ENTITY_TYPE_SYSTEM, code: '1', display: 'Person' },
  role: { system: OBJECT_ROLE_SYSTEM, code: '1', display: 'Patient' },
};
const OBJECT = { type: { system: AUDIT_ENTITY_TYPE_SYSTEM, code: '2', display: 'System Object' } };

interface Built {
  patient: Hex;
  subtype: AuditSubtype;
  type: Coding;
  action: AuditAction;
  outcome?: '0' | '4';
  outcomeDesc?: string;
  entities: AuditEventEntity[];
  /** Extra agents (institutions) besides the observer. */
  agents?: string[];
}

export class AuditRecorder {
  private readonly span: bigint;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;
  private readonly blockTimes = new Map<string, string>();

  constructor(private readonly opts: AuditRecorderOptions) {
    if (!opts.prefix || /[*?[\]\s]/.test(opts.prefix))
      throw new MedrelayError('MR_ERR_AUDIT_INPUT', 'prefix: expected a key prefix without glob characters');
    this.span = opts.span ?? 2000n;
  }

  private key(...parts: string[]): string {
    return [this.opts.prefix, 'audit-recorder', ...parts].join(':');
  }

  private chain(name: string): AuditedChain {
    const c = this.opts.chains.find((x) => x.name === name);
    if (!c) throw new MedrelayError('MR_ERR_UNKNOWN_CHAIN', `audit recorder: unknown chain ${name}`);
    return c;
  }

  /** Highest block whose events are recorded for `chain` (startHeight − 1 before the first step). */
  async cursor(chain: string): Promise<bigint> {
    const c = this.chain(chain);
    const v = await this.opts.redis.get(this.key('cursor', c.chainId.toString()));
    return v === null ? c.startHeight - 1n : BigInt(v);
  }

  /** One scan step of every chain; returns the number of entries appended. */
  async scanAll(): Promise<number> {
    let n = 0;
    for (const c of this.opts.chains) n += (await this.scan(c.name))?.entries ?? 0;
    return n;
  }

  /** One step from the cursor towards the head (at most `span` blocks); null when another scanner holds the lock. */
  async scan(chain: string): Promise<{ from: bigint; to: bigint; entries: number } | null> {
    const c = this.chain(chain);
    const lockKey = this.key('lock', c.chainId.toString());
    const lock = await this.opts.redis.set(lockKey, String(process.pid), 'PX', 30_000, 'NX');
    if (!lock) return null;
    try {
      const cursor = await this.cursor(chain);
      const head = BigInt(await c.rpc.call<string>('eth_blockNumber', []));
      if (head <= cursor) return { from: cursor + 1n, to: cursor, entries: 0 };
      const to = head < cursor + this.span ? head : cursor + this.span;
      const entries = await this.scanRange(chain, cursor + 1n, to);
      await this.opts.redis.set(this.key('cursor', c.chainId.toString()), to.toString());
      return { from: cursor + 1n, to, entries };
    } finally {
      await this.opts.redis.del(lockKey);
    }
  }

  /**
   * Records the events of blocks `from..to` (idempotent; the cursor is not moved). Returns the entries appended.
   */
  async scanRange(chain: string, from: bigint, to: bigint): Promise<number> {
    const c = this.chain(chain);
    const addresses = new Map<string, AppName>();
    for (const [k, app] of Object.entries(APP_OF) as [keyof AuditedContracts, AppName][]) {
      const a = c.contracts[k];
      if (a) addresses.set(a.toLowerCase(), app);
    }
    if (addresses.size === 0 || to < from) return 0;
    const topics = new Set<string>();
    for (const app of new Set(addresses.values()))
      for (const e of EVENTS[app]) topics.add(contractInterface(app).getEvent(e)!.topicHash);
    const logs = await c.rpc.call<RpcLog[]>('eth_getLogs', [
      {
        fromBlock: `0x${from.toString(16)}`,
        toBlock: `0x${to.toString(16)}`,
        address: [...addresses.keys()],
        topics: [[...topics]],
      },
    ]);
    logs.sort(
      (x, y) =>
        Number(BigInt(x.blockNumber) - BigInt(y.blockNumber)) ||
        Number(BigInt(x.logIndex) - BigInt(y.logIndex)),
    );
    let appended = 0;
    const seenKey = this.key('seen', c.chainId.toString());
    for (const log of logs) {
      if (log.removed) continue;
      const member = `${log.transactionHash.toLowerCase()}:${BigInt(log.logIndex)}`;
      if (await this.opts.redis.sismember(seenKey, member)) continue;
      const app = addresses.get(log.address.toLowerCase())!;
      const parsed = contractInterface(app).parseLog({ topics: log.topics, data: log.data });
      let built: Built | null = null;
      if (parsed) {
        try {
          built = await this.build(c, app, parsed, log);
        } catch (err) {
          // RPC trouble: stop here, the cursor stays and the next step retries from this log.
          if (!(err instanceof MedrelayError) || err.code !== 'MR_ERR_AUDIT_INPUT') throw err;
          this.opts.onError?.({
            chain: c.name,
            txHash: log.transactionHash,
            logIndex: Number(BigInt(log.logIndex)),
            code: err.code,
          });
        }
      }
      if (built) {
        try {
          await this.opts.trail.append(built.patient, await this.event(c, built, log));
          appended++;
        } catch (err) {
          if (!(err instanceof MedrelayError) || err.code !== 'MR_ERR_AUDIT_INPUT') throw err;
          this.opts.onError?.({
            chain: c.name,
            txHash: log.transactionHash,
            logIndex: Number(BigInt(log.logIndex)),
            code: err.code,
          });
        }
      }
      await this.opts.redis.sadd(seenKey, member);
    }
    return appended;
  }

  /** Polls every chain every `intervalMs` until `stop()`. */
  start(intervalMs = 1000): void {
    if (this.timer) return;
    const tick = async () => {
      try {
        await this.scanAll();
      } catch (err) {
        this.opts.onError?.({
          chain: '*',
          txHash: '',
          logIndex: -1,
          code: err instanceof MedrelayError ? err.code : 'MR_ERR_AUDIT_SCAN',
        });
      }
    };
    const loop = () => {
      this.running = tick().finally(() => {
        if (this.timer) this.timer = setTimeout(loop, intervalMs);
      });
    };
    this.timer = setTimeout(loop, 0);
  }

  async stop(): Promise<void> {
    const t = this.timer;
    this.timer = undefined;
    if (t) clearTimeout(t);
    await this.running?.catch(() => {});
  }

  // ───────────────────────── event → entry ─────────────────────────

  private async view(
    c: AuditedChain,
    app: AppName,
    address: string,
    fn: string,
    args: unknown[],
    block: string,
  ) {
    const iface = contractInterface(app === 'Inbox' ? 'Inbox' : app);
    const raw = await c.rpc.call<string>('eth_call', [
      { to: address, data: iface.encodeFunctionData(fn, args) },
      block,
    ]);
    return iface.decodeFunctionResult(fn, raw)[0];
  }

  private async build(c: AuditedChain, app: AppName, ev: LogDescription, log: RpcLog): Promise<Built | null> {
    const a = ev.args;
    const block = log.blockNumber;
    const rec = (id: string): AuditEventEntity => ({ what: auditRef.record(id), ...OBJECT });
    const pat = (p: string): AuditEventEntity => ({ what: auditRef.patient(p), ...PERSON });
    const referral = (id: string): AuditEventEntity => ({
      what: { reference: `ServiceRequest/${hex64(id)}` },
      ...OBJECT,
    });
    const consent = (id: string): AuditEventEntity => ({
      what: { reference: `Consent/${hex64(id)}` },
      ...OBJECT,
    });
    const packet = (id: string): AuditEventEntity => ({ what: auditRef.packet(id), ...OBJECT });
    const org = (addr: string) => `Organization/${String(addr).toLowerCase()}`;
    const realPatient = (p: unknown): Hex | null => {
      const s = String(p).toLowerCase();
      return /^0x[0-9a-f]{64}$/.test(s) && s !== ZERO32 ? (s as Hex) : null;
    };
    switch (`${app}.${ev.name}`) {
      case 'RecordRegistry.AnchorSigned': {
        const patient = realPatient(a.patient);
        if (!patient) return null;
        return {
          patient,
          subtype: 'record-anchored',
          type: AUDIT_TYPES.patientRecord,
          action: 'C',
          entities: [rec(a.recordId), pat(patient)],
        };
      }
      case 'RecordRegistry.AccessLogged': {
        const r = (await this.view(c, app, log.address, 'getRecord', [a.recordId], block)) as {
          patient: string;
        };
        const patient = realPatient(r.patient);
        if (!patient) return null;
        return {
          patient,
          subtype: 'access-logged',
          type: AUDIT_TYPES.patientRecord,
          action: 'R',
          entities: [rec(a.recordId), pat(patient)],
          agents: [org(a.institution)],
        };
      }
      case 'ConsentRegistry.ConsentGranted': {
        const patient = realPatient(a.patient);
        if (!patient) return null;
        return {
          patient,
          subtype: 'consent-granted',
          type: AUDIT_TYPES.patientRecord,
          action: 'C',
          entities: [consent(a.consentId), pat(patient), packet(a.packetId)],
          agents: [org(a.institution)],
        };
      }
      case 'ConsentRegistry.ConsentRevoked': {
        const r = (await this.view(c, app, log.address, 'getConsent', [a.consentId], block)) as {
          patient: string;
        };
        const patient = realPatient(r.patient);
        if (!patient) return null;
        return {
          patient,
          subtype: 'consent-revoked',
          type: AUDIT_TYPES.patientRecord,
          action: 'D',
          entities: [consent(a.consentId), pat(patient), packet(a.packetId)],
          agents: [org(a.by)],
        };
      }
      case 'RecordProofStore.RecordProofStored': {
        const r = (await this.view(c, app, log.address, 'getRecordProof', [a.recordId], block)) as {
          patient: string;
        };
        const patient = realPatient(r.patient);
        if (!patient) return null;
        return {
          patient,
          subtype: 'record-proof-delivered',
          type: AUDIT_TYPES.import,
          action: 'C',
          outcomeDesc:
            'delivered: consent and institution signature verified at delivery by the RecordProofStore',
          entities: [rec(a.recordId), pat(patient), packet(a.packetId)],
        };
      }
      case 'DisclosureVerifier.DisclosureVerified': {
        const store = String(await this.view(c, app, log.address, 'store', [], block));
        const r = (await this.view(c, 'RecordProofStore', store, 'getRecordProof', [a.recordId], block)) as {
          patient: string;
        };
        const patient = realPatient(r.patient);
        if (!patient) return null;
        return {
          patient,
          subtype: 'disclosure-verified',
          type: AUDIT_TYPES.query,
          action: 'R',
          outcomeDesc: `disclosure ${String(a.disclosureHash).toLowerCase()} of ${a.count} element(s) verified`,
          entities: [rec(a.recordId), pat(patient)],
        };
      }
      case 'ReferralGateway.ReferralReceived':
      case 'ReferralGateway.ReferralAccepted': {
        const r = (await this.view(c, app, log.address, 'referral', [a.referralId], block)) as {
          patient: string;
          recordId: string;
          packetId: string;
        };
        const patient = realPatient(r.patient);
        if (!patient) return null;
        const received = ev.name === 'ReferralReceived';
        return {
          patient,
          subtype: received ? 'referral-received' : 'referral-accepted',
          type: received ? AUDIT_TYPES.import : AUDIT_TYPES.patientRecord,
          action: received ? 'C' : 'R',
          outcomeDesc: received
            ? 'delivered: consent and institution signature verified at delivery by the ReferralGateway'
            : 'referral accepted by the receiving institution',
          entities: [
            referral(a.referralId),
            rec(r.recordId),
            pat(patient),
            ...(received ? [packet(r.packetId)] : []),
          ],
          ...(received ? {} : { agents: [org(a.institution)] }),
        };
      }
      case 'ReferralGateway.PatientNotified': {
        const patient = realPatient(a.patient);
        if (!patient) return null;
        return {
          patient,
          subtype: 'patient-notified',
          type: AUDIT_TYPES.patientRecord,
          action: 'E',
          entities: [referral(a.referralId), pat(patient)],
        };
      }
      case 'Inbox.PacketReceived':
        return Number(a.status) === STATUS_APP_ERROR
          ? this.refused(c, a.id as string, a.result as string, log)
          : null;
      default:
        return null;
    }
  }

  /** An APP_ERROR delivery of a RECORD_PROOF to one of the audited record apps: the refusal, for its patient. */
  private async refused(c: AuditedChain, id: string, result: string, log: RpcLog): Promise<Built | null> {
    const packet = await deliveredPacket(c.rpc, log.transactionHash, id);
    if (!packet || packet.kind !== PacketKind.RECORD_PROOF) return null;
    const to = packet.receiver.toLowerCase();
    const gw = c.contracts.referralGateway?.toLowerCase();
    const store = c.contracts.recordProofStore?.toLowerCase();
    const err = decodeRevert(result);
    const reason = err && typeof err.args[1] === 'bigint' ? Number(err.args[1]) : undefined;
    const why = `${err?.name ?? 'refused'}${reason !== undefined ? ` reason ${reason} (${REFUSAL_TEXT[reason] ?? 'unknown'})` : ''}`;
    try {
      if (gw && to === gw) {
        const p = decodeReferralPayload(packet.payload);
        return {
          patient: p.anchor.patient,
          subtype: 'referral-refused',
          type: AUDIT_TYPES.import,
          action: 'C',
          outcome: '4',
          outcomeDesc: why,
          entities: [
            { what: { reference: `ServiceRequest/${hex64(p.referralId)}` }, ...OBJECT },
            { what: auditRef.record(p.anchor.recordId), ...OBJECT },
            { what: auditRef.patient(p.anchor.patient), ...PERSON },
            { what: auditRef.packet(id), ...OBJECT },
          ],
        };
      }
      if (store && to === store) {
        const p = decodeRecordProofPayload(packet.payload);
        return {
          patient: p.anchor.patient,
          subtype: 'record-proof-refused',
          type: AUDIT_TYPES.import,
          action: 'C',
          outcome: '4',
          outcomeDesc: why,
          entities: [
            { what: auditRef.record(p.anchor.recordId), ...OBJECT },
            { what: auditRef.patient(p.anchor.patient), ...PERSON },
            { what: auditRef.packet(id), ...OBJECT },
          ],
        };
      }
    } catch {
      return null; // a payload that does not decode names no patient
    }
    return null;
  }

  private async event(c: AuditedChain, b: Built, log: RpcLog): Promise<AuditEvent> {
    let recorded = this.blockTimes.get(`${c.chainId}:${log.blockNumber}`);
    if (!recorded) {
      const blk = await c.rpc.call<{ timestamp: string }>('eth_getBlockByNumber', [log.blockNumber, false]);
      recorded = new Date(Number(BigInt(blk.timestamp)) * 1000).toISOString();
      if (this.blockTimes.size > 4096) this.blockTimes.clear();
      this.blockTimes.set(`${c.chainId}:${log.blockNumber}`, recorded);
    }
    const observer = this.opts.source.observer;
    const event: AuditEvent = {
      resourceType: 'AuditEvent',
      type: { ...b.type },
      subtype: [{ system: MEDRELAY_AUDIT_SUBTYPE_SYSTEM, code: b.subtype }],
      action: b.action,
      recorded,
      outcome: b.outcome ?? '0',
      agent: [
        ...(b.agents ?? []).map((who) => ({ who: { reference: who }, requestor: true })),
        { who: { reference: observer }, requestor: false },
      ],
      source: {
        observer: { reference: observer },
        ...(this.opts.source.site ? { site: this.opts.source.site } : {}),
      },
      entity: [...b.entities, { what: { reference: `Device/chain-${c.chainId}` }, ...OBJECT }],
    };
    if (b.outcomeDesc) event.outcomeDesc = b.outcomeDesc;
    return event;
  }
}

/** abi helper for tests and tools: the `AuditLog.record` action byte of an AuditEvent action. */
export function auditActionByte(action: AuditAction | undefined): number {
  return action ? AUDIT_ACTION_BYTE[action] : 0;
}
