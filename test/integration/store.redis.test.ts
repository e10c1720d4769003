/** Needs a real Redis at REDIS_URL (default redis://127.0.0.1:6379); keys live under a per-run prefix. */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertRedisReachable, connectRedis, deleteKeysByPrefix, type Redis } from '../../relayer/redis.js';
import { PacketStore, type SentPacketInput } from '../../relayer/store.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const PREFIX = `medrelay-test-store-${process.pid}-${randomBytes(4).toString('hex')}`;
const CHANNEL = `0x${'ab'.repeat(32)}`;

let redis: Redis;
let store: PacketStore;
let clock = 1_700_000_000_000;

const hex32 = () => `0x${randomBytes(32).toString('hex')}`;
function packet(sequence: number, over: Partial<SentPacketInput> = {}): SentPacketInput {
  return {
    id: hex32(),
    channel: CHANNEL,
    sequence,
    sourceChain: 31001n,
    destChain: 31003n,
    kind: 1,
    sentHeight: 100n + BigInt(sequence),
    packetHex: `0x${randomBytes(40).toString('hex')}`,
    ...over,
  };
}

beforeAll(async () => {
  await assertRedisReachable(REDIS_URL);
  redis = connectRedis(REDIS_URL, { prefix: PREFIX });
  store = new PacketStore(redis, { prefix: PREFIX, now: () => clock });
});

afterAll(async () => {
  await deleteKeysByPrefix(redis, PREFIX);
  expect(await redis.keys(`${PREFIX}:*`)).toEqual([]);
  redis.disconnect();
});

describe('PacketStore', () => {
  it('default: upsertSent stores a record and is idempotent', async () => {
    const p = packet(1, { sentTx: hex32() });
    const first = await store.upsertSent(p);
    expect(first.created).toBe(true);
    expect(first.record).toMatchObject({
      id: p.id,
      channel: CHANNEL,
      sequence: 1,
      sourceChain: '31001',
      destChain: '31003',
      state: 'sent',
      sentHeight: 101,
      sentAt: clock,
    });
    await store.transition(p.id, 'proven');
    const again = await store.upsertSent(p);
    expect(again.created).toBe(false);
    expect(again.record.state).toBe('proven'); // a re-scan never rewinds
    await expect(store.upsertSent({ ...p, packetHex: '0x00' })).rejects.toMatchObject({
      code: 'MR_ERR_PACKET_CONFLICT',
    });
  });

  it('behavior: lifecycle moves forward, repeats are unchanged, backwards moves are refused', async () => {
    const p = packet(2);
    await store.upsertSent(p);
    clock += 1000;
    const proven = await store.advance(p.id, 'proven', { provenHeight: 110n });
    expect(proven).toMatchObject({ outcome: 'applied', from: 'sent' });
    expect(proven.record).toMatchObject({ state: 'proven', provenAt: clock, provenHeight: 110 });

    clock += 1000;
    const tx = hex32();
    expect(await store.transition(p.id, 'delivered', { deliverTx: tx, gasUsed: 50_000n, ackStatus: 1 })).toBe(
      true,
    );
    expect(await store.transition(p.id, 'delivered', { deliverTx: hex32(), gasUsed: 50_000n })).toBe(false);
    const afterRepeat = await store.get(p.id);
    expect(afterRepeat).toMatchObject({ state: 'delivered', deliverTx: tx, gasUsed: '50000', ackStatus: 1 });

    const back = await store.advance(p.id, 'proven');
    expect(back.outcome).toBe('stale');
    expect(back.record?.state).toBe('delivered');
    expect((await store.advance(p.id, 'sent')).outcome).toBe('stale');

    clock += 1000;
    const acked = await store.advance(p.id, 'acknowledged', { ackTx: hex32(), gasUsed: 30_000 });
    expect(acked.outcome).toBe('applied');
    expect(acked.record).toMatchObject({ state: 'acknowledged', ackedAt: clock, gasUsed: '80000' });
    expect((await store.advance(p.id, 'delivered')).outcome).toBe('stale');
    expect((await store.get(p.id))?.state).toBe('acknowledged');
  });

  it('behavior: skipping ahead is allowed; timeout branch; sideways moves throw', async () => {
    const skip = packet(3);
    await store.upsertSent(skip);
    expect(await store.transition(skip.id, 'delivered')).toBe(true); // another relayer proved and delivered it

    const t = packet(4);
    await store.upsertSent(t);
    expect(await store.transition(t.id, 'timed_out')).toBe(true);
    // delivered lies behind timed_out (an expired packet recorded on the destination): a late move is stale
    expect(await store.transition(t.id, 'delivered')).toBe(false);
    expect((await store.get(t.id))?.state).toBe('timed_out');
    expect(await store.transition(t.id, 'refunded', { refundTx: hex32() })).toBe(true);
    expect(await store.transition(t.id, 'timed_out')).toBe(false);
    // refunded and acknowledged are different fates: moving between them is refused loudly
    await expect(store.transition(t.id, 'acknowledged')).rejects.toMatchObject({
      code: 'MR_ERR_PACKET_TRANSITION',
    });

    const f = packet(5);
    await store.upsertSent(f);
    expect(
      await store.transition(f.id, 'failed', { error: 'proof rejected: MR_ERR_ACC_ROOT_MISMATCH' }),
    ).toBe(true);
    expect((await store.get(f.id))?.error).toContain('MR_ERR_ACC_ROOT_MISMATCH');
  });

  it('behavior: unknown packet is "missing", malformed input is a typed error', async () => {
    expect(await store.advance(hex32(), 'delivered')).toEqual({
      outcome: 'missing',
      from: null,
      record: null,
    });
    expect(await store.get(hex32())).toBeNull();
    await expect(store.get('0x1234')).rejects.toMatchObject({ code: 'MR_ERR_STORE_INPUT' });
    await expect(store.upsertSent(packet(-1))).rejects.toMatchObject({ code: 'MR_ERR_STORE_INPUT' });
    await expect(store.transition(hex32(), 'delivered', { deliverTx: 'nope' })).rejects.toMatchObject({
      code: 'MR_ERR_STORE_INPUT',
    });
  });

  it('behavior: concurrent transitions of one packet apply exactly once', async () => {
    const p = packet(6);
    await store.upsertSent(p);
    const results = await Promise.all(Array.from({ length: 20 }, () => store.transition(p.id, 'proven')));
    expect(results.filter(Boolean)).toHaveLength(1);
    // the counts agree with the state sets after the race
    expect((await store.countsByChannel(CHANNEL)).proven).toBe(
      (await store.listByState('proven')).items.length,
    );
  });

  it('behavior: counts, backlog and listing', async () => {
    const counts = await store.countsByState();
    // seq1 proven, seq2 acknowledged, seq3 delivered, seq4 refunded, seq5 failed, seq6 proven
    expect(counts).toEqual({
      sent: 0,
      proven: 2,
      delivered: 1,
      acknowledged: 1,
      timed_out: 0,
      refunded: 1,
      failed: 1,
    });
    expect(await store.countsByChannel(CHANNEL)).toEqual(counts);
    expect(await store.backlog(CHANNEL)).toBe(3); // proven ×2 + delivered
    expect(await store.backlog('0xothers')).toBe(0);
    expect(await store.channels()).toEqual([CHANNEL]);

    const byChannel = await store.listByChannel(CHANNEL, { limit: 4 });
    expect(byChannel.items.map((r) => r.sequence)).toEqual([1, 2, 3, 4]);
    expect(byChannel.nextCursor).toBe('4');
    const rest = await store.listByChannel(CHANNEL, { limit: 4, cursor: byChannel.nextCursor! });
    expect(rest.items.map((r) => r.sequence)).toEqual([5, 6]);
    expect(rest.nextCursor).toBeNull();
    const desc = await store.listByChannel(CHANNEL.toUpperCase().replace('0X', '0x'), {
      order: 'desc',
      limit: 2,
    });
    expect(desc.items.map((r) => r.sequence)).toEqual([6, 5]);

    const proven1 = await store.listByState('proven', { limit: 1 });
    expect(proven1.items).toHaveLength(1);
    expect(proven1.items[0]!.sequence).toBe(1); // entered "proven" first
    const proven2 = await store.listByState('proven', { limit: 1, cursor: proven1.nextCursor! });
    expect(proven2.items[0]!.sequence).toBe(6);
    expect(proven2.nextCursor).toBeNull();
    expect((await store.listByState('sent')).items).toEqual([]);
    await expect(store.listByState('proven', { cursor: 'abc' })).rejects.toMatchObject({
      code: 'MR_ERR_STORE_INPUT',
    });
  });

  it('behavior: cursors are monotonic', async () => {
    expect(await store.getCursor('31001', 'events')).toBeNull();
    expect(await store.setCursor('31001', 'events', 10n)).toBe(true);
    expect(await store.setCursor('31001', 'events', 7)).toBe(false);
    expect(await store.setCursor('31001', 'events', 10n)).toBe(false);
    expect(await store.getCursor('31001', 'events')).toBe(10n);
    expect(await store.setCursor('31001', 'events', 11n)).toBe(true);
    expect(await store.getCursor('31001', 'events')).toBe(11n);
    expect(await store.getCursor('31001', 'headers')).toBeNull();
  });

  it('behavior: every key stays under the prefix and deleteKeysByPrefix leaves other prefixes alone', async () => {
    expect((await redis.keys(`${PREFIX}:*`)).length).toBeGreaterThan(0);
    const neighbour = `${PREFIX}-neighbour`;
    await redis.set(`${neighbour}:x`, '1');
    expect(await deleteKeysByPrefix(redis, `${PREFIX}-none`)).toBe(0);
    expect(await redis.get(`${neighbour}:x`)).toBe('1');
    await deleteKeysByPrefix(redis, neighbour);
    expect(await redis.get(`${neighbour}:x`)).toBeNull();
    await expect(deleteKeysByPrefix(redis, '')).rejects.toMatchObject({ code: 'MR_ERR_REDIS_PREFIX' });
    await expect(deleteKeysByPrefix(redis, 'a*')).rejects.toMatchObject({ code: 'MR_ERR_REDIS_PREFIX' });
  });

  it('error: unreachable Redis gives start instructions', async () => {
    const err = await assertRedisReachable('redis://user:hunter2@127.0.0.1:1', { timeoutMs: 500 }).catch(
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: 'MR_ERR_REDIS_UNREACHABLE' });
    const message = (err as Error).message;
    expect(message).toContain('docker compose up -d redis');
    expect(message).toContain("redis-server --port 6379 --save '' --appendonly no");
    expect(message).not.toContain('hunter2');
  });
});
