/**
 * Consent end to end (issue 3) on real anvil chains (QBFT-sealed), a real Redis and the relayer as a real
 * process: a revocation travels on its route's `priority` consent lane and overtakes 100 record proofs queued on
 * the `normal` records lane, so the destination refuses every one of them (APP_ERROR, RecordProofRefused
 * "revoked"), stores none, and the source app sees each fail; a record proof under the still-active devnet consent
 * is delivered afterwards; a record proof under a consent that expired before delivery is refused as "expired".
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  Contract,
  type EventLog,
  type InterfaceAbi,
  JsonRpcProvider,
  keccak256,
  NonceManager,
  toUtf8Bytes,
  Wallet,
} from 'ethers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { loadArtifact } from '../../adapters/evm/contracts/artifacts.js';
import { freePort } from '../../adapters/evm/devnet/anvil.js';
import {
  DEV_ACCOUNT,
  DEVNET_PATIENT,
  DEVNET_RECIPIENT,
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
const STATUS = { SUCCESS: 1n, APP_ERROR: 2n } as const;
/** RecordProofSender / ConsentRegistry `Delivery`. */
const DELIVERY = { Delivered: 2n, Failed: 3n } as const;
/** RecordChecks.Refusal. */
const REFUSAL = { ConsentRevoked: 2n, ConsentExpired: 4n } as const;
const QUEUED = 100;
/** Other consent grants queued ahead of the revocation: more than one relayer batch (32). */
const CONSENT_BACKLOG = 40;

const abi = (name: string) => loadArtifact(name).abi as InterfaceAbi;
const hex32 = () => `0x${randomBytes(32).toString('hex')}`;

type Received = EventLog & { args: { sequence: bigint; id: string; status: bigint; result: string } };

interface SentProof {
  recordId: string;
  sha256: string;
  id: string;
}

describe('consent e2e: revocation on the priority lane overtakes queued record proofs', () => {
  let devnet: Devnet;
  let redis: Redis;
  let relayer: RelayerProcess | undefined;
  let configPath: string;
  let configDir: string;
  let apiBase: string;
  let records: DevnetChannel;
  let consentLane: DevnetChannel;
  let provider: (chain: string) => JsonRpcProvider;
  let hospital: NonceManager;
  let lastSendBlock = 0;
  const prefix = `mr-e2e-consent-${randomBytes(4).toString('hex')}`;
  const providers = new Map<string, JsonRpcProvider>();
  const env = { MEDRELAY_RELAYER_KEY: devKey(DEV_ACCOUNT.relayer) };

  const at = (chain: string, name: string, addr: string, runner?: NonceManager) =>
    new Contract(addr, abi(name), runner ?? provider(chain));
  const outbox = () => at('medical-a', 'Outbox', devnet.chain('medical-a').contracts.outbox);
  const inbox = () => at('insurer', 'Inbox', devnet.chain('insurer').contracts.inbox);
  const consents = () =>
    at('medical-a', 'ConsentRegistry', devnet.chain('medical-a').contracts.consentRegistry, hospital);
  const mirror = () => at('insurer', 'ConsentMirror', devnet.chain('insurer').contracts.consentMirror);
  const store = () => at('insurer', 'RecordProofStore', devnet.chain('insurer').contracts.recordProofStore);
  const proofSender = () =>
    at('medical-a', 'RecordProofSender', devnet.chain('medical-a').contracts.recordProofSender, hospital);

  async function startRelayer(): Promise<void> {
    relayer = startRelayerProcess(configPath, env);
    await waitFor('relayer API', async () => (await fetch(`${apiBase}/health`)).status === 200, 60_000);
  }

  async function insurerTime(): Promise<bigint> {
    return BigInt((await provider('insurer').getBlock('latest'))!.timestamp);
  }

  /** Grants a new consent of the devnet patient to the devnet insurer; returns its grant packet id. */
  async function grant(consentId: string, patientKey: string, validFrom: bigint, validUntil: bigint) {
    const tx = await consents().getFunction('grantTo')(
      devnet.chain('insurer').spec.chainId,
      consentId,
      DEVNET_PATIENT,
      patientKey,
      DEVNET_RECIPIENT,
      keccak256(toUtf8Bytes(`Consent/${consentId}`)),
      validFrom,
      validUntil,
    );
    const rc = await tx.wait();
    expect(rc.status).toBe(1);
    const ev = rc.logs
      .map((l: EventLog) => consents().interface.parseLog(l))
      .find((e: { name: string } | null) => e?.name === 'ConsentGranted');
    return String(ev.args.packetId);
  }

  /** Anchors `n` signed records and sends their proofs to the insurer under `consentId`. */
  async function sendRecordProofs(n: number, consentId: string): Promise<SentProof[]> {
    const src = devnet.chain('medical-a');
    const registry = at('medical-a', 'RecordRegistry', src.contracts.recordRegistry, hospital);
    const sender = proofSender();
    const receiver = devnet.chain('insurer').contracts.recordProofStore;
    const batch: Omit<SentProof, 'id'>[] = [];
    const txs = [];
    for (let i = 0; i < n; i++) {
      const r = { recordId: hex32(), sha256: hex32() };
      batch.push(r);
      txs.push(
        await registry.getFunction('anchorSigned')(
          ...devnetSignedAnchor(src.spec.chainId, r.recordId, r.sha256),
        ),
      );
      txs.push(await sender.getFunction('sendRecordProof')(records.id, receiver, r.recordId, consentId, 0));
    }
    const receipts = await Promise.all(txs.map((t) => t.wait()));
    for (const r of receipts) expect(r.status).toBe(1);
    lastSendBlock = Math.max(...receipts.map((r) => Number(r.blockNumber)));
    const ids = new Map<string, string>();
    for (const rc of receipts) {
      for (const l of rc.logs) {
        const ev = sender.interface.parseLog(l);
        if (ev?.name === 'RecordProofSent') ids.set(String(ev.args.recordId), String(ev.args.id));
      }
    }
    return batch.map((r) => ({ ...r, id: ids.get(r.recordId)! }));
  }

  async function sentOn(ch: DevnetChannel): Promise<bigint> {
    return ((await outbox().getFunction('nextSequence')(ch.id)) as bigint) - 1n;
  }

  async function ackedUpTo(ch: DevnetChannel): Promise<bigint> {
    return (await outbox().getFunction('ackedUpTo')(ch.id)) as bigint;
  }

  /** Waits until every packet sent so far on the records lane and the consent lane is acknowledged. */
  async function waitAllAcked(timeoutMs: number): Promise<void> {
    const want = { records: await sentOn(records), consent: await sentOn(consentLane) };
    await waitFor(
      `records lane acked up to ${want.records}, consent lane up to ${want.consent}`,
      async () =>
        (await ackedUpTo(records)) >= want.records && (await ackedUpTo(consentLane)) >= want.consent,
      timeoutMs,
      500,
    ).catch((err) => {
      throw new Error(`${(err as Error).message}\nrelayer output:\n${relayer?.output()}`);
    });
  }

  async function receivedOn(ch: DevnetChannel): Promise<Map<string, Received>> {
    const ib = inbox();
    const logs = (await ib.queryFilter(
      ib.filters.PacketReceived!(ch.id),
      devnet.chain('insurer').startHeight,
    )) as Received[];
    return new Map(logs.map((l) => [l.args.id.toLowerCase(), l]));
  }

  /** The refusal reason in an APP_ERROR result: `RecordProofRefused(recordId, reason)` revert data. */
  function refusal(result: string): { recordId: string; reason: bigint } {
    const err = store().interface.parseError(result);
    expect(err?.name).toBe('RecordProofRefused');
    return { recordId: String(err!.args[0]), reason: BigInt(err!.args[1]) };
  }

  beforeAll(async () => {
    const ports = await Promise.all(Array.from({ length: 5 }, () => freePort()));
    devnet = await startDevnet({
      chains: [
        { name: 'medical-a', chainId: 43001, port: ports[0]!, anvilPort: ports[1]!, role: 'medical' },
        { name: 'insurer', chainId: 43003, port: ports[2]!, anvilPort: ports[3]!, role: 'insurer' },
      ],
      channels: [{ name: 'records-a', source: 'medical-a', dest: 'insurer' }],
      blockTime: 1,
    });
    records = devnet.channel('records-a');
    consentLane = devnet.channel(records.consentChannel!);
    for (const c of devnet.chains) {
      providers.set(
        c.spec.name,
        new JsonRpcProvider(c.rpcUrl, c.spec.chainId, { staticNetwork: true, pollingInterval: 200 }),
      );
    }
    provider = (chain: string) => providers.get(chain)!;
    hospital = new NonceManager(new Wallet(devKey(DEV_ACCOUNT.hospital), provider('medical-a')));
    redis = connectRedis(REDIS_URL);
    const profile = devnetProfile(devnet, {
      keyPrefix: prefix,
      apiPort: ports[4]!,
      redisUrl: REDIS_URL,
      pollIntervalMs: 300,
      clearIntervalSec: 5,
      batchSize: 32,
    });
    apiBase = `http://127.0.0.1:${ports[4]}`;
    configDir = mkdtempSync(join(tmpdir(), 'medrelay-e2e-consent-'));
    configPath = join(configDir, 'config.yaml');
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
    if (configDir) rmSync(configDir, { recursive: true, force: true });
  });

  it('devnet: the records lane has its consent lane (priority) in the relayer config, bootstrap included', () => {
    expect(records).toMatchObject({ lane: 'normal', app: 'records', consentChannel: 'consent-records-a' });
    expect(consentLane).toMatchObject({
      name: 'consent-records-a',
      source: 'medical-a',
      dest: 'insurer',
      lane: 'priority',
      app: 'consent',
    });
    expect(devnet.channels.map((c) => c.name)).toEqual(['records-a']);
    expect(devnet.allChannels.map((c) => [c.name, c.lane])).toEqual([
      ['records-a', 'normal'],
      ['consent-records-a', 'priority'],
    ]);
  });

  it(`revoked while ${QUEUED} record proofs are queued: none is delivered after the revocation`, async () => {
    await startRelayer();
    // The bootstrap grant (sent after startHeight) is acknowledged by the relayer like any other packet.
    await waitFor(
      'bootstrap consent acknowledged',
      async () => (await ackedUpTo(consentLane)) >= 1n,
      60_000,
      500,
    );

    const consentId = hex32();
    const patient = Wallet.createRandom();
    const now = await insurerTime();
    const grantId = await grant(consentId, patient.address, now - 60n, now + 3600n);
    await waitFor(
      'the new consent mirrored on the insurer chain',
      async () =>
        (await mirror().getFunction('isActive')(consentId, DEVNET_RECIPIENT, await insurerTime())) as boolean,
      60_000,
      300,
    );
    expect(await relayer!.stop('SIGTERM')).toBe(0);

    // With no relayer running: 100 record proofs under the consent; then other grants busy the consent lane
    // (so the revocation needs a second consent batch and only lane priority, not luck, puts it first); then the
    // patient revokes the consent.
    const queued = await sendRecordProofs(QUEUED, consentId);
    expect(queued).toHaveLength(QUEUED);
    const busy = [];
    for (let i = 0; i < CONSENT_BACKLOG; i++) {
      busy.push(
        await consents().getFunction('grantTo')(
          devnet.chain('insurer').spec.chainId,
          hex32(),
          DEVNET_PATIENT,
          patient.address,
          DEVNET_RECIPIENT,
          hex32(),
          0,
          now + 3600n,
        ),
      );
    }
    for (const rc of await Promise.all(busy.map((t) => t.wait()))) expect(rc.status).toBe(1);
    const digest = (await consents().getFunction('revokeDigest')(consentId)) as string;
    const patientSig = patient.signingKey.sign(digest).serialized;
    const revokeRc = await (await consents().getFunction('revokeBySignature')(consentId, patientSig)).wait();
    expect(revokeRc.status).toBe(1);
    const revokedEv = revokeRc.logs
      .map((l: EventLog) => consents().interface.parseLog(l))
      .find((e: { name: string } | null) => e?.name === 'ConsentRevoked');
    const revokeId = String(revokedEv.args.packetId).toLowerCase();
    // The revocation was sent after every record proof, all still pending on the source.
    expect(revokeRc.blockNumber).toBeGreaterThanOrEqual(lastSendBlock);
    for (const q of queued) expect((await proofSender().getFunction('delivery')(q.id)) as bigint).toBe(1n);

    await startRelayer();
    await waitAllAcked(240_000);

    // Destination: the revocation's PacketReceived precedes every record proof's (block number, then log index).
    const consentRecv = await receivedOn(consentLane);
    const revokeRecv = consentRecv.get(revokeId);
    expect(revokeRecv).toBeDefined();
    expect(revokeRecv!.args.status).toBe(STATUS.SUCCESS);
    expect(consentRecv.get(grantId.toLowerCase())!.args.status).toBe(STATUS.SUCCESS);
    const recordRecv = await receivedOn(records);
    const before = (a: EventLog, b: EventLog) =>
      a.blockNumber < b.blockNumber || (a.blockNumber === b.blockNumber && a.index < b.index);
    const src = devnet.chain('medical-a');
    const sender = proofSender();
    const settled = (await sender.queryFilter(
      sender.filters.RecordProofSettled!(),
      src.startHeight,
    )) as (EventLog & {
      args: { id: string; delivery: bigint; result: string };
    })[];
    const settledById = new Map(settled.map((l) => [l.args.id.toLowerCase(), l]));
    for (const q of queued) {
      const r = recordRecv.get(q.id.toLowerCase());
      expect(r, `record proof ${q.recordId} received`).toBeDefined();
      expect(before(revokeRecv!, r!)).toBe(true);
      // Refused at delivery: APP_ERROR with RecordProofRefused(recordId, ConsentRevoked) as the result.
      expect(r!.args.status).toBe(STATUS.APP_ERROR);
      expect(refusal(r!.args.result)).toEqual({ recordId: q.recordId, reason: REFUSAL.ConsentRevoked });
      // Nothing stored.
      const p = (await store().getFunction('getRecordProof')(q.recordId)) as { packetId: string };
      expect(p.packetId).toBe(ZERO32);
      // The source app saw the failure, with the reason.
      expect((await sender.getFunction('delivery')(q.id)) as bigint).toBe(DELIVERY.Failed);
      const s = settledById.get(q.id.toLowerCase());
      expect(s?.args.delivery).toBe(DELIVERY.Failed);
      expect(s?.args.result).toBe(r!.args.result);
    }
    // The mirror holds the revocation; the registry saw its packet delivered.
    const mirrored = (await mirror().getFunction('getConsent')(consentId)) as { revokedAt: bigint };
    expect(mirrored.revokedAt).toBeGreaterThan(0n);
    expect((await consents().getFunction('delivery')(revokeId)) as bigint).toBe(DELIVERY.Delivered);

    // Control: a record proof under the still-active default devnet consent is delivered and stored.
    const [control] = await sendRecordProofs(1, devnetConsentId(src.spec.chainId));
    await waitAllAcked(120_000);
    const controlRecv = (await receivedOn(records)).get(control!.id.toLowerCase());
    expect(controlRecv!.args.status).toBe(STATUS.SUCCESS);
    const stored = (await store().getFunction('getRecordProof')(control!.recordId)) as {
      sha256Hash: string;
      consentRef: string;
    };
    expect(stored.sha256Hash).toBe(control!.sha256);
    expect(stored.consentRef).toBe(devnetConsentId(src.spec.chainId));
    expect((await sender.getFunction('delivery')(control!.id)) as bigint).toBe(DELIVERY.Delivered);
  }, 420_000);

  it('a record proof whose consent expired before delivery is refused as expired', async () => {
    if (!relayer || relayer.child.exitCode !== null) await startRelayer();
    const consentId = hex32();
    const validUntil = (await insurerTime()) + 5n;
    await grant(consentId, Wallet.createRandom().address, 0n, validUntil);
    await waitFor(
      'the short consent mirrored',
      async () => ((await mirror().getFunction('getConsent')(consentId)) as { granted: boolean }).granted,
      60_000,
      300,
    );
    await waitFor(
      'the consent expired on the insurer chain',
      async () => (await insurerTime()) > validUntil,
      30_000,
      500,
    );

    const [late] = await sendRecordProofs(1, consentId);
    await waitAllAcked(120_000);
    const r = (await receivedOn(records)).get(late!.id.toLowerCase());
    expect(r!.args.status).toBe(STATUS.APP_ERROR);
    expect(refusal(r!.args.result)).toEqual({ recordId: late!.recordId, reason: REFUSAL.ConsentExpired });
    const p = (await store().getFunction('getRecordProof')(late!.recordId)) as { packetId: string };
    expect(p.packetId).toBe(ZERO32);
    expect((await proofSender().getFunction('delivery')(late!.id)) as bigint).toBe(DELIVERY.Failed);
    expect(await relayer!.stop('SIGTERM')).toBe(0);
  }, 180_000);
});
