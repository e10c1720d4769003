/** API over a real Redis-backed store, exercised with fastify `inject()` (no sockets). */
import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../config/load.js';
import {
  API_PATHS,
  buildApi,
  chainInfoFromConfig,
  channelInfoFromConfig,
  type HealthReport,
  probeHealth,
} from '../../relayer/api/index.js';
import {
  createMetrics,
  recordGasUsed,
  recordRpcError,
  recordSent,
  recordTransition,
  recordTx,
} from '../../relayer/metrics.js';
import { assertRedisReachable, connectRedis, deleteKeysByPrefix, type Redis } from '../../relayer/redis.js';
import { PacketStore } from '../../relayer/store.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const PREFIX = `medrelay-test-api-${process.pid}-${randomBytes(4).toString('hex')}`;
const config = loadConfig('config/devnet.yaml', { env: {} });
const channels = channelInfoFromConfig(config);
const chains = chainInfoFromConfig(config).map((c, i) =>
  // an RPC URL with credentials and an API key in the path must not leak through /chains
  i === 0 ? { ...c, rpcUrl: 'https://user:pw@rpc.example.org:8443/v3/SECRETKEY' } : c,
);
const hex32 = () => `0x${randomBytes(32).toString('hex')}`;

let redis: Redis;
let store: PacketStore;
let app: FastifyInstance;
let healthy = true;
const ids: string[] = [];

beforeAll(async () => {
  await assertRedisReachable(REDIS_URL);
  redis = connectRedis(REDIS_URL, { prefix: PREFIX });
  store = new PacketStore(redis, { prefix: PREFIX });
  const metrics = createMetrics({ store, channels });
  const health = async (): Promise<HealthReport> =>
    probeHealth({
      redis,
      chains: config.chains.map((c) => ({
        name: c.name,
        health: async () =>
          healthy || c.name !== 'insurer'
            ? { ok: true, height: '42' }
            : { ok: false, error: 'connect ECONNREFUSED https://rpc.example/v3/SECRETKEY' },
      })),
    });

  // Three packets on records-a-insurer: delivered, acknowledged, sent.
  const channel = channels[0]!.id;
  for (let seq = 1; seq <= 3; seq++) {
    const id = hex32();
    ids.push(id);
    recordSent(
      metrics,
      await store.upsertSent({
        id,
        channel,
        sequence: seq,
        sourceChain: 31001,
        destChain: 31003,
        kind: 1,
        sentHeight: 10 + seq,
        sentAt: Date.now() - 5000,
        packetHex: `0x${randomBytes(8).toString('hex')}`,
      }),
    );
  }
  recordTransition(
    metrics,
    await store.advance(ids[0]!, 'delivered', { deliverTx: hex32(), gasUsed: 1000n }),
  );
  recordTransition(metrics, await store.advance(ids[1]!, 'delivered', { deliverTx: hex32() }));
  recordTransition(metrics, await store.advance(ids[1]!, 'acknowledged', { ackTx: hex32(), ackStatus: 1 }));
  recordGasUsed(metrics, 'insurer', 'receive', 120_000n);
  recordTx(metrics, 'insurer', 'success');
  recordRpcError(metrics, 'medical-a');

  app = await buildApi({ store, chains, channels, metrics, health });
  await app.ready();
});

afterAll(async () => {
  await app?.close();
  await deleteKeysByPrefix(redis, PREFIX);
  redis.disconnect();
});

describe('API', () => {
  it('GET /health: 200 when everything answers, 503 with the failing chain otherwise', async () => {
    const ok = await app.inject({ method: 'GET', url: '/health' });
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toMatchObject({
      ok: true,
      redis: { ok: true },
      chains: expect.arrayContaining([
        { name: 'insurer', ok: true, height: '42', latencyMs: expect.any(Number) },
      ]),
    });
    healthy = false;
    const bad = await app.inject({ method: 'GET', url: '/health' });
    healthy = true;
    expect(bad.statusCode).toBe(503);
    const body = bad.json() as HealthReport;
    expect(body.ok).toBe(false);
    expect(body.chains.find((c) => c.name === 'insurer')).toMatchObject({ ok: false });
    expect(bad.body).not.toContain('SECRETKEY');
  });

  it('GET /chains: configured chains without RPC credentials or paths', async () => {
    const res = await app.inject({ method: 'GET', url: '/chains' });
    expect(res.statusCode).toBe(200);
    const body = res.json() as { chains: Array<Record<string, unknown>> };
    expect(body.chains.map((c) => c.name)).toEqual(['medical-a', 'medical-b', 'insurer', 'crossborder']);
    expect(body.chains[0]).toMatchObject({
      chainId: 31001,
      family: 'evm',
      finality: 'qbft',
      rpcOrigin: 'https://rpc.example.org:8443',
    });
    expect((body.chains[2]!.contracts as { lightClients: object }).lightClients).toHaveProperty('medical-a');
    // Settlement contracts as configured (the insurer pays claims through its gateway in deposit tokens).
    expect(body.chains[2]!.contracts).toMatchObject({
      claimSettlement: config.chains[2]!.contracts.claimSettlement,
      settlementGateway: config.chains[2]!.contracts.settlementGateway,
      depositTokens: { CNY: config.chains[2]!.contracts.depositTokens!.CNY },
    });
    expect(res.body).not.toContain('SECRETKEY');
    expect(res.body).not.toContain('pw@');
  });

  it('GET /channels: backlog and counts per channel', async () => {
    const res = await app.inject({ method: 'GET', url: '/channels' });
    expect(res.statusCode).toBe(200);
    const [a, b] = (res.json() as { channels: Array<Record<string, unknown>> }).channels;
    expect(a).toMatchObject({
      name: 'records-a-insurer',
      source: 'medical-a',
      destination: 'insurer',
      id: channels[0]!.id,
      backlog: 2,
    });
    expect(a!.counts).toMatchObject({ sent: 1, delivered: 1, acknowledged: 1, proven: 0 });
    expect(b).toMatchObject({ name: 'records-b-insurer', backlog: 0 });
  });

  it('GET /packets/:id: the record, 404 for unknown, 400 for malformed', async () => {
    const res = await app.inject({ method: 'GET', url: `/packets/${ids[1]}` });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({
      id: ids[1],
      state: 'acknowledged',
      sequence: 2,
      ackStatus: 1,
      sourceChain: '31001',
    });

    const missing = await app.inject({ method: 'GET', url: `/packets/${hex32()}` });
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toEqual({
      code: 'MR_ERR_PACKET_NOT_FOUND',
      message: expect.stringContaining('no packet'),
    });

    const bad = await app.inject({ method: 'GET', url: '/packets/0x1234' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toEqual({
      code: 'MR_ERR_API_VALIDATION',
      message: expect.stringContaining('params/id'),
    });
    expect(bad.body).not.toMatch(/at .*\.ts:\d+/); // no stack trace
  });

  it('GET /packets: by state and by channel, with pagination and validation', async () => {
    const delivered = await app.inject({ method: 'GET', url: '/packets?state=delivered' });
    expect(delivered.statusCode).toBe(200);
    expect(delivered.json()).toMatchObject({ items: [{ id: ids[0], state: 'delivered' }], nextCursor: null });

    const page1 = await app.inject({ method: 'GET', url: '/packets?channel=records-a-insurer&limit=2' });
    const body1 = page1.json() as { items: Array<{ sequence: number }>; nextCursor: string };
    expect(body1.items.map((p) => p.sequence)).toEqual([1, 2]);
    const page2 = await app.inject({
      method: 'GET',
      url: `/packets?channel=${channels[0]!.id}&limit=2&cursor=${body1.nextCursor}`,
    });
    expect((page2.json() as { items: Array<{ sequence: number }> }).items.map((p) => p.sequence)).toEqual([
      3,
    ]);

    for (const url of [
      '/packets',
      '/packets?state=bogus',
      '/packets?state=sent&limit=0',
      '/packets?state=sent&channel=x',
      '/packets?state=sent&cursor=x',
    ]) {
      const res = await app.inject({ method: 'GET', url });
      expect(res.statusCode, url).toBe(400);
      expect((res.json() as { code: string }).code).toBe('MR_ERR_API_VALIDATION');
    }
  });

  it('GET /metrics: Prometheus text with every metric', async () => {
    const res = await app.inject({ method: 'GET', url: '/metrics' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toContain('text/plain');
    for (const name of [
      'medrelay_packets_total',
      'medrelay_packets_by_state',
      'medrelay_backlog',
      'medrelay_delivery_latency_seconds',
      'medrelay_ack_latency_seconds',
      'medrelay_gas_used_total',
      'medrelay_tx_total',
      'medrelay_rpc_errors_total',
    ]) {
      expect(res.body).toContain(`# TYPE ${name} `);
    }
    expect(res.body).toContain('medrelay_packets_total{channel="records-a-insurer",state="acknowledged"} 1');
    expect(res.body).toContain('medrelay_packets_by_state{state="sent"} 1');
    expect(res.body).toContain('medrelay_backlog{channel="records-a-insurer"} 2');
    expect(res.body).toContain('medrelay_gas_used_total{chain="insurer",kind="receive"} 120000');
    expect(res.body).toMatch(/medrelay_delivery_latency_seconds_count\{channel="records-a-insurer"\} 2/);
  });

  it('GET /openapi.json lists every path; /docs serves the UI; unknown routes get the error body', async () => {
    const res = await app.inject({ method: 'GET', url: '/openapi.json' });
    expect(res.statusCode).toBe(200);
    const doc = res.json() as { openapi: string; paths: Record<string, unknown> };
    expect(doc.openapi).toMatch(/^3\./);
    for (const p of API_PATHS) expect(Object.keys(doc.paths)).toContain(p);
    expect(Object.keys(doc.paths)).not.toContain('/openapi.json');

    const docs = await app.inject({ method: 'GET', url: '/docs/' });
    expect(docs.statusCode).toBe(200);
    expect(docs.body).toContain('swagger');

    const nf = await app.inject({ method: 'GET', url: '/nope' });
    expect(nf.statusCode).toBe(404);
    expect(nf.json()).toEqual({ code: 'MR_ERR_API_NOT_FOUND', message: 'no route GET /nope' });
  });
});
