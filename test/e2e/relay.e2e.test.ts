/**
 * End to end on real anvil chains (QBFT-sealed by the devnet validator sets), a real Redis and the relayer as a
 * real process: 200 packets over two channels delivered exactly once and in order with acks back; the relayer
 * SIGKILLed mid-flight and restarted; every relayer key in Redis deleted and recovered by clearing; a packet
 * timed out on the source with a proof of non-receipt.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Contract, type InterfaceAbi, JsonRpcProvider, type Log, NonceManager, Wallet } from 'ethers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { loadArtifact } from '../../adapters/evm/contracts/artifacts.js';
import { freePort } from '../../adapters/evm/devnet/anvil.js';
import {
  DEV_ACCOUNT,
  type Devnet,
  type DevnetChannel,
  devKey,
  devnetConsentId,
  devnetSignedAnchor,
  startDevnet,
} from '../../adapters/evm/devnet/network.js';
import { devnetProfile } from '../../adapters/evm/devnet/profile.js';
import { connectRedis, deleteKeysByPrefix, type Redis } from '../../relayer/redis.js';
import { type RelayerProcess, startRelayerProcess, waitFor } from '../helpers/relayer-process.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const ZERO32 = `0x${'00'.repeat(32)}`;
const STATUS_SUCCESS = 1n;
const DELIVERY = { Delivered: 2n, TimedOut: 4n } as const;

const abi = (name: string) => loadArtifact(name).abi as InterfaceAbi;

interface Sent {
  channel: DevnetChannel;
  recordId: string;
  sha256: string;
}

describe('relay e2e: anvil devnet + Redis + relayer process', () => {
  let devnet: Devnet;
  let redis: Redis;
  let relayer: RelayerProcess | undefined;
  let configPath: string;
  let apiBase: string;
  const prefix = `mr-e2e-${randomBytes(4).toString('hex')}`;
  const providers = new Map<string, JsonRpcProvider>();
  const hospitals = new Map<string, NonceManager>();
  const sent: Sent[] = [];
  const env = { MEDRELAY_RELAYER_KEY: devKey(DEV_ACCOUNT.relayer) };

  const provider = (chain: string) => providers.get(chain)!;
  const at = (chain: string, name: string, addr: string) => new Contract(addr, abi(name), provider(chain));
  const outbox = (chain: string) => at(chain, 'Outbox', devnet.chain(chain).contracts.outbox);
  const inbox = (chain: string) => at(chain, 'Inbox', devnet.chain(chain).contracts.inbox);

  async function sendRecords(ch: DevnetChannel, n: number, timeoutTimestamp = 0n): Promise<Sent[]> {
    const src = devnet.chain(ch.source);
    const signer = hospitals.get(ch.source)!;
    const registry = new Contract(src.contracts.recordRegistry, abi('RecordRegistry'), signer);
    const sender = new Contract(src.contracts.recordProofSender, abi('RecordProofSender'), signer);
    const receiver = devnet.chain(ch.dest).contracts.recordProofStore;
    const batch: Sent[] = [];
    const txs = [];
    for (let i = 0; i < n; i++) {
      const s = {
        channel: ch,
        recordId: `0x${randomBytes(32).toString('hex')}`,
        sha256: `0x${randomBytes(32).toString('hex')}`,
      };
      batch.push(s);
      txs.push(
        await registry.getFunction('anchorSigned')(
          ...devnetSignedAnchor(src.spec.chainId, s.recordId, s.sha256),
        ),
      );
      txs.push(
        await sender.getFunction('sendRecordProof')(
          ch.id,
          receiver,
          s.recordId,
          devnetConsentId(src.spec.chainId),
          timeoutTimestamp,
        ),
      );
    }
    const receipts = await Promise.all(txs.map((t) => t.wait()));
    for (const r of receipts) expect(r.status).toBe(1);
    sent.push(...batch);
    return batch;
  }

  async function ackedUpTo(ch: DevnetChannel): Promise<bigint> {
    return (await outbox(ch.source).getFunction('ackedUpTo')(ch.id)) as bigint;
  }

  async function waitAllAcked(total: Record<string, number>, timeoutMs: number): Promise<void> {
    await waitFor(
      'every packet acknowledged on its source',
      async () => {
        for (const ch of devnet.channels) if ((await ackedUpTo(ch)) < BigInt(total[ch.name]!)) return false;
        return true;
      },
      timeoutMs,
      500,
    );
  }

  /** Asserts exactly-once, in-order delivery of sequences 1..n on `ch`, with acks, straight from chain events. */
  async function assertExactlyOnce(ch: DevnetChannel, n: number): Promise<Log[]> {
    const dest = devnet.chain(ch.dest);
    const src = devnet.chain(ch.source);
    const ib = inbox(ch.dest);
    const received = (await ib.queryFilter(ib.filters.PacketReceived!(ch.id), dest.startHeight)) as (Log & {
      args: { sequence: bigint; id: string; status: bigint };
    })[];
    expect(received.map((l) => l.args.sequence)).toEqual(Array.from({ length: n }, (_, i) => BigInt(i + 1)));
    const ob = outbox(ch.source);
    const sentLogs = (await ob.queryFilter(ob.filters.PacketSent!(ch.id), src.startHeight)) as (Log & {
      args: { sequence: bigint; id: string };
    })[];
    expect(sentLogs.map((l) => l.args.id)).toEqual(received.map((l) => l.args.id));
    const acks = (await ob.queryFilter(ob.filters.PacketAcknowledged!(ch.id), src.startHeight)) as (Log & {
      args: { sequence: bigint; id: string };
    })[];
    const timedOut = (await ob.queryFilter(ob.filters.PacketTimedOut!(ch.id), src.startHeight)) as (Log & {
      args: { sequence: bigint };
    })[];
    const settled = [...acks.map((l) => l.args.sequence), ...timedOut.map((l) => l.args.sequence)].sort(
      (a, b) => (a < b ? -1 : a > b ? 1 : 0),
    );
    expect(settled).toEqual(Array.from({ length: n }, (_, i) => BigInt(i + 1)));
    expect(await ackedUpTo(ch)).toBe(BigInt(n));
    return received;
  }

  beforeAll(async () => {
    const ports = await Promise.all(Array.from({ length: 7 }, () => freePort()));
    devnet = await startDevnet({
      chains: [
        { name: 'medical-a', chainId: 41001, port: ports[0]!, anvilPort: ports[1]!, role: 'medical' },
        { name: 'medical-b', chainId: 41002, port: ports[2]!, anvilPort: ports[3]!, role: 'medical' },
        { name: 'insurer', chainId: 41003, port: ports[4]!, anvilPort: ports[5]!, role: 'insurer' },
      ],
      channels: [
        { name: 'records-a', source: 'medical-a', dest: 'insurer' },
        { name: 'records-b', source: 'medical-b', dest: 'insurer' },
      ],
      blockTime: 1,
    });
    for (const c of devnet.chains) {
      const p = new JsonRpcProvider(c.rpcUrl, c.spec.chainId, { staticNetwork: true, pollingInterval: 200 });
      providers.set(c.spec.name, p);
      hospitals.set(c.spec.name, new NonceManager(new Wallet(devKey(DEV_ACCOUNT.hospital), p)));
    }
    redis = connectRedis(REDIS_URL);
    const profile = devnetProfile(devnet, {
      keyPrefix: prefix,
      apiPort: ports[6]!,
      redisUrl: REDIS_URL,
      pollIntervalMs: 300,
      clearIntervalSec: 5,
    });
    apiBase = `http://127.0.0.1:${ports[6]}`;
    configPath = join(mkdtempSync(join(tmpdir(), 'medrelay-e2e-')), 'config.yaml');
    writeFileSync(configPath, stringify(profile));
  });

  afterAll(async () => {
    await relayer?.stop('SIGKILL');
    for (const p of providers.values()) p.destroy();
    await devnet?.stop();
    if (redis) {
      await deleteKeysByPrefix(redis, prefix);
      redis.disconnect();
    }
  });

  it('delivers 200 packets over two channels exactly once and in order, surviving a SIGKILL mid-flight', async () => {
    // The packets are queued first, so that the relayer is certainly killed with most of them still in flight.
    const [a, b] = devnet.channels as [DevnetChannel, DevnetChannel];
    await Promise.all([sendRecords(a, 100), sendRecords(b, 100)]);
    relayer = startRelayerProcess(configPath, env);

    // Kill the relayer hard as soon as the first batch is through.
    const ib = inbox('insurer');
    await waitFor(
      'first deliveries',
      async () => ((await ib.getFunction('nextRecv')(a.id)) as bigint) > 1n,
      90_000,
      100,
    );
    const beforeKill = (await ib.getFunction('nextRecv')(a.id)) as bigint;
    expect(await relayer.stop('SIGKILL')).toBeNull();
    expect(beforeKill).toBeLessThan(101n);

    relayer = startRelayerProcess(configPath, env);
    await waitAllAcked({ 'records-a': 100, 'records-b': 100 }, 180_000);
    await assertExactlyOnce(a, 100);
    await assertExactlyOnce(b, 100);

    // The insurer chain stored every record proof with the hash anchored on the medical chain.
    const store = at('insurer', 'RecordProofStore', devnet.chain('insurer').contracts.recordProofStore);
    for (const s of sent) {
      const p = (await store.getFunction('getRecordProof')(s.recordId)) as { sha256Hash: string };
      expect(p.sha256Hash).toBe(s.sha256);
    }
    // Each source app saw exactly the success acknowledgement.
    for (const ch of [a, b]) {
      const src = devnet.chain(ch.source);
      const app = at(ch.source, 'RecordProofSender', src.contracts.recordProofSender);
      const logs = await app.queryFilter(app.filters.RecordProofSettled!(), src.startHeight);
      expect(logs).toHaveLength(100);
      for (const l of logs as (Log & { args: { id: string; delivery: bigint } })[]) {
        expect(l.args.delivery).toBe(DELIVERY.Delivered);
      }
    }
    const received = await inbox('insurer').queryFilter(inbox('insurer').filters.PacketReceived!(), 0);
    for (const l of received as (Log & { args: { status: bigint } })[])
      expect(l.args.status).toBe(STATUS_SUCCESS);
  }, 300_000);

  it('recovers by clearing after every relayer key in Redis is deleted', async () => {
    expect(await relayer!.stop('SIGTERM')).toBe(0); // graceful shutdown exits cleanly
    await deleteKeysByPrefix(redis, prefix);
    const left = await redis.keys(`${prefix}:*`);
    expect(left).toEqual([]);

    const [a, b] = devnet.channels as [DevnetChannel, DevnetChannel];
    const fresh = await Promise.all([sendRecords(a, 20), sendRecords(b, 20)]);
    relayer = startRelayerProcess(configPath, env);
    await waitAllAcked({ 'records-a': 120, 'records-b': 120 }, 180_000);
    await assertExactlyOnce(a, 120);
    await assertExactlyOnce(b, 120);

    // The store was rebuilt from chain events: an old and a new packet are both known as acknowledged.
    const ob = outbox('medical-a');
    const logs = (await ob.queryFilter(
      ob.filters.PacketSent!(a.id),
      devnet.chain('medical-a').startHeight,
    )) as (Log & {
      args: { id: string };
    })[];
    for (const l of [logs[0]!, logs.at(-1)!]) {
      const rec = await waitFor(
        'store rebuilt',
        async () => {
          const res = await fetch(`${apiBase}/packets/${l.args.id}`);
          if (res.status !== 200) return false;
          const body = (await res.json()) as { state: string };
          return body.state === 'acknowledged' ? body : false;
        },
        30_000,
      );
      expect(rec.state).toBe('acknowledged');
    }
    expect(fresh.flat()).toHaveLength(40);
  }, 240_000);

  it('times out a packet the destination did not receive in time, and the channel keeps flowing', async () => {
    expect(await relayer!.stop('SIGTERM')).toBe(0);
    const [a] = devnet.channels as [DevnetChannel];
    const insurerBlock = await provider('insurer').getBlock('latest');
    const deadline = BigInt(insurerBlock!.timestamp) + 3n;
    const [late] = await sendRecords(a, 1, deadline);
    const [after] = await sendRecords(a, 1);
    // Let the destination's clock pass the timeout while no relayer runs.
    await waitFor(
      'destination clock past the timeout',
      async () => BigInt((await provider('insurer').getBlock('latest'))!.timestamp) > deadline + 1n,
      30_000,
      500,
    );
    relayer = startRelayerProcess(configPath, env);
    await waitFor('both packets settled', async () => (await ackedUpTo(a)) >= 122n, 120_000, 500).catch(
      (err) => {
        throw new Error(`${(err as Error).message}\nrelayer output:\n${relayer?.output()}`);
      },
    );

    const src = devnet.chain('medical-a');
    const ob = outbox('medical-a');
    const timedOut = (await ob.queryFilter(ob.filters.PacketTimedOut!(a.id), src.startHeight)) as (Log & {
      args: { sequence: bigint; id: string };
    })[];
    expect(timedOut.map((l) => l.args.sequence)).toEqual([121n]);
    const app = at('medical-a', 'RecordProofSender', src.contracts.recordProofSender);
    const settled = (await app.queryFilter(app.filters.RecordProofSettled!(), src.startHeight)) as (Log & {
      args: { delivery: bigint };
    })[];
    expect(settled.at(-2)!.args.delivery).toBe(DELIVERY.TimedOut);
    expect(settled.at(-1)!.args.delivery).toBe(DELIVERY.Delivered);

    // The expired packet never reached the insurer app; the one behind it did.
    const store = at('insurer', 'RecordProofStore', devnet.chain('insurer').contracts.recordProofStore);
    const lateProof = (await store.getFunction('getRecordProof')(late!.recordId)) as { sha256Hash: string };
    expect(lateProof.sha256Hash).toBe(ZERO32);
    const afterProof = (await store.getFunction('getRecordProof')(after!.recordId)) as { sha256Hash: string };
    expect(afterProof.sha256Hash).toBe(after!.sha256);
    await waitFor(
      'API shows the timeout',
      async () => {
        const ids = timedOut.map((l) => l.args.id);
        const res = await fetch(`${apiBase}/packets/${ids[0]}`);
        return res.status === 200 && ((await res.json()) as { state: string }).state === 'timed_out';
      },
      30_000,
    );
    expect(await relayer!.stop('SIGTERM')).toBe(0);
  }, 240_000);
});
