/**
 * Deferred, batched anchoring of the audit trail: appending never waits for a chain, and one anchoring round sends
 * one batch per patient; a failed batch leaves every entry pending for the next round.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hex } from '../../proofs/bytes.js';
import { AUDIT_TYPES, type AuditEvent, auditRef } from '../../relayer/audit/event.js';
import { AuditTrail } from '../../relayer/audit/trail.js';
import { connectRedis, deleteKeysByPrefix, type Redis } from '../../relayer/redis.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const pseudonym = (): Hex => `0x${randomBytes(32).toString('hex')}`;
let minute = 0;

function entry(patient: Hex): AuditEvent {
  return {
    resourceType: 'AuditEvent',
    type: { ...AUDIT_TYPES.export },
    action: 'R',
    recorded: new Date(Date.UTC(2025, 0, 22, 9, minute++)).toISOString(),
    outcome: '0',
    agent: [{ who: { reference: 'Organization/insurer-x' }, requestor: true }],
    source: { observer: { reference: 'Device/medrelay-1' } },
    entity: [
      { what: auditRef.record(`0x${randomBytes(32).toString('hex')}`) },
      { what: auditRef.patient(patient) },
    ],
  };
}

describe('AuditTrail deferred batch anchoring', () => {
  let redis: Redis;
  const prefix = `mr-audit-batch-${randomBytes(4).toString('hex')}`;

  beforeAll(() => {
    redis = connectRedis(REDIS_URL);
  });
  afterAll(async () => {
    await deleteKeysByPrefix(redis, prefix);
    redis.disconnect();
  });

  it('behavior: one batch per patient per round; appends do not anchor', async () => {
    const batches: { patient: Hex; hashes: Hex[] }[] = [];
    const single: Hex[] = [];
    const trail = new AuditTrail(redis, {
      prefix,
      anchor: async (_p, h) => {
        single.push(h);
      },
      anchorBatch: async (patient, hashes) => {
        batches.push({ patient, hashes });
      },
      deferAnchors: true,
    });
    const a = pseudonym();
    const b = pseudonym();
    const hashesA = [];
    for (let i = 0; i < 5; i++) hashesA.push(await trail.append(a, entry(a)));
    const hashesB = [];
    for (let i = 0; i < 3; i++) hashesB.push(await trail.append(b, entry(b)));
    expect(batches).toHaveLength(0);
    expect((await trail.pendingAnchors()).length).toBe(8);

    expect(await trail.anchorPending()).toEqual({ anchored: 8, failed: 0 });
    expect(single).toHaveLength(0);
    expect(batches).toHaveLength(2);
    const byPatient = new Map(batches.map((x) => [x.patient, [...x.hashes].sort()]));
    expect(byPatient.get(a)).toEqual([...hashesA].sort());
    expect(byPatient.get(b)).toEqual([...hashesB].sort());
    expect(await trail.pendingAnchors()).toEqual([]);
    const listed = await trail.list(a, { limit: 10 });
    expect(listed.items.every((e) => e.anchored)).toBe(true);
  });

  it('error: a failed batch leaves its entries pending, and the next round anchors them', async () => {
    let fail = true;
    const trail = new AuditTrail(redis, {
      prefix: `${prefix}-f`,
      anchor: async () => {},
      anchorBatch: async () => {
        if (fail) throw Object.assign(new Error('chain down'), { code: 'MR_ERR_RPC_TRANSPORT' });
      },
      deferAnchors: true,
    });
    const p = pseudonym();
    await trail.append(p, entry(p));
    await trail.append(p, entry(p));
    expect(await trail.anchorPending()).toEqual({ anchored: 0, failed: 2 });
    expect((await trail.pendingAnchors()).map((x) => x.attempts)).toEqual([1, 1]);
    fail = false;
    expect(await trail.anchorPending()).toEqual({ anchored: 2, failed: 0 });
    expect(await trail.pendingAnchors()).toEqual([]);
    await deleteKeysByPrefix(redis, `${prefix}-f`);
  });
});
