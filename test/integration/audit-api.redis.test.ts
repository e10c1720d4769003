/**
 * Patient audit API over Redis, with fastify `inject()`: challenge → Ed25519-signed request → the patient's
 * audit entries; every authentication failure is the same 401; anchoring failures leave entries pending until
 * a retry anchors them; the OpenAPI document lists the routes.
 */
import { generateKeyPairSync, type KeyObject, randomBytes, sign } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hex } from '../../proofs/bytes.js';
import { patientPseudonym } from '../../proofs/records/anchor.js';
import { API_PATHS, buildApi, type HealthReport } from '../../relayer/api/index.js';
import { PATIENT_API_PATHS } from '../../relayer/api/routes/patients.js';
import {
  AUDIT_TYPES,
  type AuditAction,
  type AuditEvent,
  auditEntryHash,
  auditRef,
} from '../../relayer/audit/event.js';
import { AuditTrail } from '../../relayer/audit/trail.js';
import { createMetrics } from '../../relayer/metrics.js';
import { auditAuthMessage, PatientKeys } from '../../relayer/patients/keys.js';
import { connectRedis, deleteKeysByPrefix, type Redis } from '../../relayer/redis.js';
import { PacketStore } from '../../relayer/store.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const PREFIX = `medrelay-test-audit-${process.pid}-${randomBytes(4).toString('hex')}`;
const health = async (): Promise<HealthReport> => ({ ok: true, redis: { ok: true }, chains: [] });
const newPseudonym = (): Hex =>
  patientPseudonym(randomBytes(32), 'https://hospital-a.example/mrn', 'MRN-0001');

let redis: Redis;
let keys: PatientKeys;
let trail: AuditTrail;
let app: FastifyInstance;
let anchorFails = false;
const anchored: { patient: Hex; hash: Hex; action: AuditAction }[] = [];
const anchorErrors: string[] = [];

const patient = newPseudonym();
const patientKey = generateKeyPairSync('ed25519');
const other = newPseudonym();
const otherKey = generateKeyPairSync('ed25519');

let minute = 0;
function entry(recordByte: string, outcome: AuditEvent['outcome'] = '0'): AuditEvent {
  return {
    resourceType: 'AuditEvent',
    type: { ...AUDIT_TYPES.export },
    action: 'R',
    recorded: new Date(Date.UTC(2025, 0, 22, 9, minute++)).toISOString(),
    outcome,
    agent: [{ who: { reference: 'Organization/insurer-x' }, requestor: true }],
    source: { observer: { reference: 'Device/medrelay-1' } },
    entity: [{ what: auditRef.record(`0x${recordByte.repeat(32)}`) }, { what: auditRef.patient(patient) }],
  };
}

async function challenge(p: string = patient, a: FastifyInstance = app): Promise<string> {
  const res = await a.inject({ method: 'POST', url: `/patients/${p}/challenge` });
  expect(res.statusCode).toBe(200);
  expect(res.headers['cache-control']).toBe('no-store');
  const body = res.json() as { challenge: string; expiresAt: string };
  const ttl = Date.parse(body.expiresAt) - Date.now();
  expect(ttl).toBeGreaterThan(0);
  expect(ttl).toBeLessThanOrEqual(5 * 60_000);
  return body.challenge;
}

const signB64 = (key: KeyObject, p: string, c: string): string =>
  sign(null, Buffer.from(auditAuthMessage(p, c)), key).toString('base64');

function getAudit(p: string, headers: Record<string, string>, query = '', a: FastifyInstance = app) {
  return a.inject({ method: 'GET', url: `/patients/${p}/audit${query}`, headers });
}

async function signedGet(query = '', p: string = patient, key: KeyObject = patientKey.privateKey) {
  const c = await challenge(p);
  return getAudit(p, { 'x-medrelay-challenge': c, 'x-medrelay-signature': signB64(key, p, c) }, query);
}

function expect401(res: { statusCode: number; json: () => unknown }): void {
  expect(res.statusCode).toBe(401);
  expect(res.json()).toEqual({
    code: 'MR_ERR_PATIENT_AUTH',
    message: expect.stringMatching(/^patient authentication failed/),
  });
}

async function buildApp(k: PatientKeys): Promise<FastifyInstance> {
  const store = new PacketStore(redis, { prefix: PREFIX });
  const a = await buildApi({
    store,
    chains: [],
    channels: [],
    metrics: createMetrics({ store, channels: [] }),
    health,
    docs: false,
    patients: { keys: k, audit: trail },
  });
  await a.ready();
  return a;
}

beforeAll(async () => {
  redis = connectRedis(REDIS_URL, { prefix: PREFIX });
  keys = new PatientKeys(redis, { prefix: PREFIX });
  trail = new AuditTrail(redis, {
    prefix: PREFIX,
    anchorTimeoutMs: 200,
    anchor: async (p, hash, action) => {
      if (anchorFails) throw Object.assign(new Error('execution reverted'), { code: 'MR_ERR_TX_REVERTED' });
      anchored.push({ patient: p, hash, action });
    },
    onAnchorError: ({ code }) => anchorErrors.push(code),
  });
  await keys.register(patient, patientKey.publicKey.export({ format: 'pem', type: 'spki' }).toString());
  // raw 32-byte form is accepted too
  await keys.register(other, otherKey.publicKey.export({ format: 'der', type: 'spki' }).subarray(12));
  app = await buildApp(keys);
});

afterAll(async () => {
  await app?.close();
  await deleteKeysByPrefix(redis, PREFIX);
  redis.disconnect();
});

describe('patient audit API', () => {
  const hashes: Hex[] = [];

  it('default: challenge → signed request → the entries, newest first, paginated', async () => {
    for (const b of ['01', '02', '03']) hashes.push(await trail.append(patient, entry(b)));
    await trail.append(other, { ...entry('09'), entity: [{ what: auditRef.patient(other) }] });

    const res = await signedGet();
    expect(res.statusCode).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    const body = res.json() as {
      items: { hash: Hex; anchored: boolean; event: AuditEvent }[];
      nextCursor: string | null;
    };
    expect(body.items.map((i) => i.hash)).toEqual([...hashes].reverse());
    expect(body.items.every((i) => i.anchored)).toBe(true);
    expect(body.items.map((i) => auditEntryHash(i.event))).toEqual([...hashes].reverse());
    expect(body.nextCursor).toBeNull();
    expect(anchored.filter((a) => a.patient === patient).map((a) => a.hash)).toEqual(hashes);

    const p1 = (await signedGet('?limit=2')).json() as typeof body;
    expect(p1.items.map((i) => i.hash)).toEqual([hashes[2], hashes[1]]);
    expect(p1.nextCursor).not.toBeNull();
    const p2 = (await signedGet(`?limit=2&cursor=${p1.nextCursor}`)).json() as typeof body;
    expect(p2.items.map((i) => i.hash)).toEqual([hashes[0]]);
    expect(p2.nextCursor).toBeNull();
  });

  it('behavior: appending the same entry twice stores and anchors it once', async () => {
    const e = entry('04');
    const before = anchored.length;
    const h1 = await trail.append(patient, e);
    const h2 = await trail.append(patient, structuredClone(e));
    hashes.push(h1);
    expect(h2).toBe(h1);
    expect(anchored.length - before).toBe(1);
    expect((await trail.list(patient)).items.filter((i) => i.hash === h1)).toHaveLength(1);
  });

  it('error: every authentication failure → 401 MR_ERR_PATIENT_AUTH', async () => {
    const sig = (c: string) => signB64(patientKey.privateKey, patient, c);
    // missing headers
    expect401(await getAudit(patient, {}));
    const c1 = await challenge();
    expect401(await getAudit(patient, { 'x-medrelay-challenge': c1 }));
    expect401(await getAudit(patient, { 'x-medrelay-signature': sig(c1) }));
    // a challenge nobody issued
    const forged = randomBytes(32).toString('base64url');
    expect401(
      await getAudit(patient, { 'x-medrelay-challenge': forged, 'x-medrelay-signature': sig(forged) }),
    );
    // wrong key
    const c2 = await challenge();
    expect401(
      await getAudit(patient, {
        'x-medrelay-challenge': c2,
        'x-medrelay-signature': signB64(otherKey.privateKey, patient, c2),
      }),
    );
    // the failed attempt spent c2: the right signature cannot reuse it
    expect401(await getAudit(patient, { 'x-medrelay-challenge': c2, 'x-medrelay-signature': sig(c2) }));
    // signature over another message (other pseudonym) and garbage signatures
    const c3 = await challenge();
    expect401(
      await getAudit(patient, {
        'x-medrelay-challenge': c3,
        'x-medrelay-signature': signB64(patientKey.privateKey, other, c3),
      }),
    );
    const c4 = await challenge();
    expect401(await getAudit(patient, { 'x-medrelay-challenge': c4, 'x-medrelay-signature': 'not base64!' }));
    // reuse of a challenge that worked
    const c5 = await challenge();
    const ok = { 'x-medrelay-challenge': c5, 'x-medrelay-signature': sig(c5) };
    expect((await getAudit(patient, ok)).statusCode).toBe(200);
    expect401(await getAudit(patient, ok));
    // a challenge issued for another patient, signed by that patient, used on this patient's trail
    const c6 = await challenge(other);
    expect401(
      await getAudit(patient, {
        'x-medrelay-challenge': c6,
        'x-medrelay-signature': signB64(otherKey.privateKey, other, c6),
      }),
    );
    // ... and the other patient, authenticated, cannot read this patient's trail with its own key
    expect401(
      await getAudit(patient, {
        'x-medrelay-challenge': c6,
        'x-medrelay-signature': signB64(otherKey.privateKey, patient, c6),
      }),
    );
  });

  it('error: unknown patient → the same 401 (enrolment is not revealed)', async () => {
    const stranger = newPseudonym();
    const key = generateKeyPairSync('ed25519');
    const c = await challenge(stranger); // issued like for anyone
    const res = await getAudit(stranger, {
      'x-medrelay-challenge': c,
      'x-medrelay-signature': signB64(key.privateKey, stranger, c),
    });
    expect401(res);
    const c2 = await challenge();
    const bad = await getAudit(patient, {
      'x-medrelay-challenge': c2,
      'x-medrelay-signature': signB64(key.privateKey, patient, c2),
    });
    expect(bad.json()).toEqual(res.json());
  });

  it('error: an expired challenge → 401', async () => {
    const shortKeys = new PatientKeys(redis, { prefix: PREFIX, ttlMs: 100 });
    const shortApp = await buildApp(shortKeys);
    try {
      const c = await challenge(patient, shortApp);
      await new Promise((r) => setTimeout(r, 250));
      expect401(
        await getAudit(
          patient,
          { 'x-medrelay-challenge': c, 'x-medrelay-signature': signB64(patientKey.privateKey, patient, c) },
          '',
          shortApp,
        ),
      );
    } finally {
      await shortApp.close();
    }
  });

  it('error: a malformed pseudonym → 400; too many challenges → 429', async () => {
    for (const bad of ['0x1234', `0x${'AB'.repeat(32)}`, 'MRN-0001']) {
      const r1 = await app.inject({ method: 'POST', url: `/patients/${bad}/challenge` });
      expect(r1.statusCode).toBe(400);
      expect(r1.json()).toMatchObject({ code: 'MR_ERR_API_VALIDATION' });
      const r2 = await getAudit(bad, { 'x-medrelay-challenge': 'x', 'x-medrelay-signature': 'y' });
      expect(r2.statusCode).toBe(400);
    }
    const flood = newPseudonym();
    for (let i = 0; i < 10; i++) await challenge(flood);
    const res = await app.inject({ method: 'POST', url: `/patients/${flood}/challenge` });
    expect(res.statusCode).toBe(429);
    expect(res.json()).toMatchObject({ code: 'MR_ERR_PATIENT_RATE_LIMITED' });
    // Using a challenge frees its slot (the cap counts live, unused challenges only).
    const used = await keys.challenges.issue(patient.slice(2)).catch(() => null);
    expect(used).not.toBeNull();
    expect(await keys.challenges.consume(patient.slice(2), used!.challenge)).toBe(true);
    const floodHex = flood.slice(2);
    const members = await redis.zrange(`${PREFIX}:patient:challenges:${floodHex}`, '0', '0');
    await redis.zrem(`${PREFIX}:patient:challenges:${floodHex}`, members[0]!); // as if one had expired
    expect((await app.inject({ method: 'POST', url: `/patients/${flood}/challenge` })).statusCode).toBe(200);
  });

  it('behavior: a failed anchor keeps the entry as pending, and a retry anchors it', async () => {
    anchorFails = true;
    const h = await trail.append(patient, entry('05', '4'));
    anchorFails = false;
    expect(anchorErrors).toContain('MR_ERR_TX_REVERTED');
    const pending = await trail.pendingAnchors();
    expect(pending).toEqual([{ patient, hash: h, action: 'R', attempts: 1 }]);
    const listed = (await signedGet()).json() as { items: { hash: Hex; anchored: boolean }[] };
    expect(listed.items[0]).toMatchObject({ hash: h, anchored: false });

    // A hanging anchor times out and also stays pending.
    const hanging = new AuditTrail(redis, {
      prefix: PREFIX,
      anchorTimeoutMs: 50,
      anchor: () => new Promise(() => {}),
    });
    const h2 = await hanging.append(patient, entry('06'));
    expect((await trail.pendingAnchors()).map((p) => p.hash)).toEqual([h, h2]);

    anchorFails = true;
    expect(await trail.retryAnchors()).toEqual({ anchored: 0, failed: 2 });
    expect((await trail.pendingAnchors()).map((p) => p.attempts)).toEqual([2, 2]);
    anchorFails = false;
    expect(await trail.retryAnchors()).toEqual({ anchored: 2, failed: 0 });
    expect(anchored.slice(-2).map((a) => a.hash)).toEqual([h, h2]);
    expect(await trail.pendingAnchors()).toEqual([]);
    const after = (await signedGet()).json() as { items: { hash: Hex; anchored: boolean }[] };
    expect(after.items.slice(0, 2)).toMatchObject([
      { hash: h2, anchored: true },
      { hash: h, anchored: true },
    ]);
  });

  it('behavior: Redis keys hold pseudonyms and hashes only', async () => {
    const keysInRedis: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await redis.scan(cursor, 'MATCH', `${PREFIX}:*`, 'COUNT', 500);
      cursor = next;
      keysInRedis.push(...batch);
    } while (cursor !== '0');
    expect(keysInRedis.length).toBeGreaterThan(0);
    for (const k of keysInRedis) {
      expect(k.slice(PREFIX.length + 1)).toMatch(/^(audit|patient):[a-z]+(:[0-9a-f]{64}){0,2}$/);
    }
  });

  it('behavior: OpenAPI lists the patient routes (and they exist only when enabled)', async () => {
    const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json() as {
      paths: Record<
        string,
        Record<string, { responses: Record<string, unknown>; parameters?: { name: string; in: string }[] }>
      >;
    };
    for (const p of [...API_PATHS, ...PATIENT_API_PATHS]) expect(Object.keys(doc.paths)).toContain(p);
    const audit = doc.paths['/patients/{pseudonym}/audit']!.get!;
    expect(Object.keys(audit.responses)).toEqual(expect.arrayContaining(['200', '400', '401']));
    expect(
      audit.parameters
        ?.filter((x) => x.in === 'header')
        .map((x) => x.name)
        .sort(),
    ).toEqual(['x-medrelay-challenge', 'x-medrelay-signature']);
    expect(Object.keys(doc.paths['/patients/{pseudonym}/challenge']!.post!.responses)).toEqual(
      expect.arrayContaining(['200', '400', '429']),
    );

    const store = new PacketStore(redis, { prefix: PREFIX });
    const plain = await buildApi({
      store,
      chains: [],
      channels: [],
      metrics: createMetrics({ store, channels: [] }),
      health,
      docs: false,
    });
    try {
      const res = await plain.inject({ method: 'POST', url: `/patients/${patient}/challenge` });
      expect(res.statusCode).toBe(404);
    } finally {
      await plain.close();
    }
  });
});
