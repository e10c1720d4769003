/**
 * AuditRecorder over a real Redis and a scripted chain (JSON-RPC answers built with the contracts' ABIs): chain
 * events become per-patient AuditEvents, the cursor follows the observe discipline, a rescan or an explicit
 * `scanRange` never duplicates an entry, zero-patient (legacy) events are skipped, and `auditLogAnchor` sends
 * `AuditLog.record(patient, entryHash, actionByte)`.
 */
import { randomBytes } from 'node:crypto';
import type { Interface } from 'ethers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { contractInterface } from '../../adapters/evm/clients/chain.js';
import type { Hex } from '../../proofs/bytes.js';
import { type AuditedChain, AuditRecorder, auditLogAnchor } from '../../relayer/audit/recorder.js';
import { AuditTrail } from '../../relayer/audit/trail.js';
import { connectRedis, deleteKeysByPrefix, type Redis } from '../../relayer/redis.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const PREFIX = `medrelay-test-recorder-${randomBytes(4).toString('hex')}`;
const REGISTRY = '0x00000000000000000000000000000000000000a1';
const CONSENTS = '0x00000000000000000000000000000000000000a2';
const GATEWAY = '0x00000000000000000000000000000000000000a3';
const INSTITUTION = '0x00000000000000000000000000000000000000b1';
const rand32 = (): Hex => `0x${randomBytes(32).toString('hex')}`;
const ZERO = `0x${'00'.repeat(32)}`;

interface FakeLog {
  address: string;
  topics: string[];
  data: string;
  blockNumber: string;
  transactionHash: Hex;
  logIndex: string;
}

function fakeChain(head: () => number, logs: FakeLog[], consentPatient: Hex): AuditedChain {
  const consentIface = contractInterface('ConsentRegistry');
  return {
    name: 'medical-a',
    chainId: 1n,
    startHeight: 1n,
    contracts: { recordRegistry: REGISTRY, consentRegistry: CONSENTS, referralGateway: GATEWAY },
    rpc: {
      async call<T>(method: string, params: unknown[]): Promise<T> {
        if (method === 'eth_blockNumber') return `0x${head().toString(16)}` as T;
        if (method === 'eth_getBlockByNumber')
          return {
            timestamp: `0x${(1_750_000_000 + Number(BigInt(params[0] as string))).toString(16)}`,
          } as T;
        if (method === 'eth_getLogs') {
          const f = params[0] as { fromBlock: string; toBlock: string };
          const from = Number(BigInt(f.fromBlock));
          const to = Number(BigInt(f.toBlock));
          return logs.filter(
            (l) => Number(BigInt(l.blockNumber)) >= from && Number(BigInt(l.blockNumber)) <= to,
          ) as T;
        }
        if (method === 'eth_call') {
          // ConsentRegistry.getConsent(consentId): the revoked consent's patient.
          const c = {
            patient: consentPatient,
            patientKey: INSTITUTION,
            recipient: ZERO,
            consentHash: ZERO,
            validFrom: 0n,
            validUntil: 1n,
            institution: INSTITUTION,
            destChain: 2n,
            revokedAt: 5n,
          };
          return consentIface.encodeFunctionResult('getConsent', [c]) as T;
        }
        throw new Error(`unexpected ${method}`);
      },
    },
  };
}

function log(
  iface: Interface,
  address: string,
  event: string,
  args: unknown[],
  block: number,
  index: number,
): FakeLog {
  const e = iface.encodeEventLog(iface.getEvent(event)!, args);
  return {
    address,
    topics: e.topics,
    data: e.data,
    blockNumber: `0x${block.toString(16)}`,
    transactionHash: rand32(),
    logIndex: `0x${index.toString(16)}`,
  };
}

describe('AuditRecorder', () => {
  let redis: Redis;
  const anchors: { to: string; data: string }[] = [];
  let trail: AuditTrail;
  const patient = rand32();

  beforeAll(() => {
    redis = connectRedis(REDIS_URL);
    const signer = {
      async sendTransaction(to: Hex, data: Hex) {
        anchors.push({ to, data });
        return {};
      },
    };
    trail = new AuditTrail(redis, {
      prefix: PREFIX,
      anchor: auditLogAnchor(signer, '0x00000000000000000000000000000000000000c1'),
    });
  });

  afterAll(async () => {
    await deleteKeysByPrefix(redis, PREFIX);
    redis.disconnect();
  });

  it('records events per patient, once, and anchors them with the action byte', async () => {
    const consentId = rand32();
    const referralId = rand32();
    const reg = contractInterface('RecordRegistry');
    const cons = contractInterface('ConsentRegistry');
    const gw = contractInterface('ReferralGateway');
    const logs = [
      log(reg, REGISTRY, 'AnchorSigned', [rand32(), patient, 100n, '0x1234'], 3, 0),
      log(
        cons,
        CONSENTS,
        'ConsentGranted',
        [consentId, patient, rand32(), rand32(), 0n, 10n, INSTITUTION, 2n, rand32()],
        3,
        1,
      ),
      log(reg, REGISTRY, 'AnchorSigned', [rand32(), ZERO, 100n, '0x'], 4, 0), // no patient: skipped
      log(gw, GATEWAY, 'PatientNotified', [patient, referralId], 6, 0),
      log(cons, CONSENTS, 'ConsentRevoked', [consentId, INSTITUTION, 7n, rand32()], 9, 0),
    ];
    let head = 5;
    const recorder = new AuditRecorder({
      redis,
      prefix: PREFIX,
      trail,
      source: { observer: 'Device/medrelay-test' },
      chains: [fakeChain(() => head, logs, patient)],
      span: 3n,
    });
    expect(await recorder.scan('medical-a')).toEqual({ from: 1n, to: 3n, entries: 2 });
    expect(await recorder.scan('medical-a')).toEqual({ from: 4n, to: 5n, entries: 0 });
    head = 10;
    expect((await recorder.scanAll()) + (await recorder.scanAll())).toBe(2); // spans of 3 blocks
    expect(await recorder.cursor('medical-a')).toBe(10n);
    // Rescanning everything (explicit range) and from a rewound cursor adds nothing.
    expect(await recorder.scanRange('medical-a', 1n, 10n)).toBe(0);
    await redis.set(`${PREFIX}:audit-recorder:cursor:1`, '0');
    for (let i = 0; i < 4; i++) expect(await recorder.scanAll()).toBe(0);

    const page = await trail.list(patient, { limit: 100 });
    const codes = page.items.map((e) => `${e.event.subtype?.[0]?.code}:${e.event.action}`);
    expect(codes).toEqual([
      'consent-revoked:D',
      'patient-notified:E',
      'consent-granted:C',
      'record-anchored:C',
    ]);
    expect(page.items.every((e) => e.anchored)).toBe(true);
    expect(page.items[0]!.event.recorded).toBe(new Date((1_750_000_000 + 9) * 1000).toISOString());
    // AuditLog.record(patient, entryHash, action byte), one per entry.
    const audit = contractInterface('AuditLog');
    const decoded = anchors.map((a) => audit.decodeFunctionData('record', a.data));
    expect(decoded.map((d) => Number(d[2]))).toEqual([0x43, 0x43, 0x45, 0x44]);
    expect(decoded.every((d) => String(d[0]) === patient)).toBe(true);
    expect(decoded.map((d) => String(d[1]))).toEqual(page.items.map((e) => e.hash).reverse());
    // Redis keys name chain ids, tx hashes and pseudonyms only.
    const keys = await redis.keys(`${PREFIX}:audit-recorder:*`);
    expect(keys.sort()).toEqual([`${PREFIX}:audit-recorder:cursor:1`, `${PREFIX}:audit-recorder:seen:1`]);
  });
});
