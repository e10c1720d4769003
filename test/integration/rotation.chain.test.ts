/**
 * Validator rotation on the source chain: the devnet sealer rotates medical-a to 5 fresh validators at a
 * scheduled block (sealed by the old set, listing the new one); the in-process relayer must follow the rotation
 * on the destination light client (`syncValidatorSet`) and keep delivering and acknowledging packets. Plus a
 * cheap local check that a forged "rotation" sealed by outsiders is refused before any transaction.
 */
import { randomBytes } from 'node:crypto';
import { Contract, type InterfaceAbi, JsonRpcProvider, NonceManager, Wallet } from 'ethers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
import { addressOfKey, sealQbftHeader } from '../../adapters/evm/devnet/sealer.js';
import type { ChainAdapter, FinalityProof, LightClientState } from '../../adapters/types.js';
import { parseConfig } from '../../config/load.js';
import { bytesToHex } from '../../proofs/bytes.js';
import { normalizeValidators } from '../../proofs/qbft.js';
import { createLogger } from '../../relayer/logger.js';
import { syncValidatorSet } from '../../relayer/pipeline/shared.js';
import { connectRedis, deleteKeysByPrefix } from '../../relayer/redis.js';
import { type RelayerService, startService } from '../../relayer/service.js';
import { waitFor } from '../helpers/relayer-process.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const abi = (name: string) => loadArtifact(name).abi as InterfaceAbi;
const freshKeys = (n: number) => Array.from({ length: n }, () => Uint8Array.from(randomBytes(32)));

describe('validator rotation (unit): forged rotation headers', () => {
  const Z32 = `0x${'00'.repeat(32)}`;
  const base = (n: number) => ({
    number: `0x${n.toString(16)}`,
    parentHash: Z32,
    stateRoot: `0x${n.toString(16).padStart(64, '1')}`,
    transactionsRoot: Z32,
    receiptsRoot: Z32,
    logsBloom: `0x${'00'.repeat(256)}`,
    gasLimit: '0x1c9c380',
    gasUsed: '0x0',
    timestamp: `0x${(1_700_000_000 + n).toString(16)}`,
  });

  /** A chain of `count` sealed headers; `sealAt(n)` gives the sealing set and the listed set of block n. */
  function chain(count: number, sealAt: (n: number) => { keys: Uint8Array[]; listed: string[] }) {
    const proofs: FinalityProof[] = [];
    let parent: string | null = null;
    for (let n = 0; n < count; n++) {
      const s = sealAt(n);
      const signers = s.keys.map(addressOfKey);
      const b = sealQbftHeader(base(n), parent, signers, s.keys, 0n, { nextValidators: s.listed });
      parent = b.header.hash;
      proofs.push({
        chainId: '7',
        height: String(n),
        blockHash: b.header.hash,
        stateRoot: b.header.stateRoot as `0x${string}`,
        timestamp: String(1_700_000_000 + n),
        header: bytesToHex(b.rlp),
      });
    }
    return proofs;
  }

  function fakes(proofs: FinalityProof[], trusted: string[]) {
    const updates: FinalityProof[] = [];
    const state: LightClientState = { latestNumber: 0n, validatorsSince: 0n, epoch: 0n, validators: trusted };
    const verifier = {
      info: { name: 'dest', chainId: 8n, family: 'evm' },
      lightClientState: async () => state,
      updateClient: async (_: bigint, h: FinalityProof) => {
        updates.push(h);
        return { hash: Z32, blockNumber: 1n, gasUsed: 1n };
      },
    } as unknown as ChainAdapter;
    const proven = {
      info: { name: 'src', chainId: 7n, family: 'evm' },
      finalizedHeight: async () => BigInt(proofs.length - 1),
      finalityProof: async (h: bigint) => proofs[Number(h)]!,
    } as unknown as ChainAdapter;
    return { verifier, proven, updates };
  }

  const oldKeys = freshKeys(4);
  const oldSet = normalizeValidators(oldKeys.map(addressOfKey));
  const outsiderKeys = freshKeys(4);
  const outsiders = normalizeValidators(outsiderKeys.map(addressOfKey));

  it('follows a genuine rotation sealed by the trusted set', async () => {
    const newKeys = freshKeys(5);
    const newSet = normalizeValidators(newKeys.map(addressOfKey));
    const proofs = chain(12, (n) =>
      n < 6
        ? { keys: oldKeys, listed: oldSet }
        : n === 6
          ? { keys: oldKeys, listed: newSet }
          : { keys: newKeys, listed: newSet },
    );
    const { verifier, proven, updates } = fakes(proofs, oldSet);
    expect(await syncValidatorSet(verifier, proven, 11n)).toEqual(newSet);
    expect(updates.map((u) => u.height)).toEqual(['6']);
  });

  it('refuses a "rotation" header sealed by outsiders, without submitting anything', async () => {
    const proofs = chain(12, (n) =>
      n < 6 ? { keys: oldKeys, listed: oldSet } : { keys: outsiderKeys, listed: outsiders },
    );
    const { verifier, proven, updates } = fakes(proofs, oldSet);
    await expect(syncValidatorSet(verifier, proven, 11n)).rejects.toMatchObject({
      code: expect.stringMatching(/^MR_ERR_QBFT_(NOT_VALIDATOR|BELOW_QUORUM)$/),
    });
    expect(updates).toEqual([]);
  });
});

describe('validator rotation (devnet + in-process relayer)', () => {
  let devnet: Devnet;
  let service: RelayerService | undefined;
  let provider: JsonRpcProvider;
  let destProvider: JsonRpcProvider;
  let hospital: NonceManager;
  let ch: DevnetChannel;
  const prefix = `mr-rotation-${randomBytes(4).toString('hex')}`;

  beforeAll(async () => {
    const ports = await Promise.all(Array.from({ length: 5 }, () => freePort()));
    devnet = await startDevnet({
      chains: [
        { name: 'medical-a', chainId: 44001, port: ports[0]!, anvilPort: ports[1]!, role: 'medical' },
        { name: 'insurer', chainId: 44003, port: ports[2]!, anvilPort: ports[3]!, role: 'insurer' },
      ],
      channels: [{ name: 'records-a', source: 'medical-a', dest: 'insurer', app: 'records' }],
      blockTime: 1,
    });
    ch = devnet.channel('records-a');
    const a = devnet.chain('medical-a');
    provider = new JsonRpcProvider(a.rpcUrl, a.spec.chainId, { staticNetwork: true });
    const ins = devnet.chain('insurer');
    destProvider = new JsonRpcProvider(ins.rpcUrl, ins.spec.chainId, { staticNetwork: true });
    hospital = new NonceManager(new Wallet(devKey(DEV_ACCOUNT.hospital), provider));
    const profile = devnetProfile(devnet, {
      keyPrefix: prefix,
      apiPort: ports[4]!,
      redisUrl: REDIS_URL,
      pollIntervalMs: 250,
      clearIntervalSec: 5,
    });
    service = await startService({
      config: parseConfig(profile),
      env: { MEDRELAY_RELAYER_KEY: devKey(DEV_ACCOUNT.relayer) },
      api: false,
      log: createLogger({
        level: process.env.LOG_LEVEL ?? 'error',
        name: 'relayer',
        destination: process.stderr,
      }),
    });
  }, 120_000);

  afterAll(async () => {
    await service?.stop();
    provider?.destroy();
    destProvider?.destroy();
    await devnet?.stop();
    const redis = connectRedis(REDIS_URL);
    await deleteKeysByPrefix(redis, prefix);
    redis.disconnect();
  });

  async function sendRecords(n: number): Promise<void> {
    const src = devnet.chain(ch.source);
    const registry = new Contract(src.contracts.recordRegistry, abi('RecordRegistry'), hospital);
    const sender = new Contract(src.contracts.recordProofSender, abi('RecordProofSender'), hospital);
    const receiver = devnet.chain(ch.dest).contracts.recordProofStore;
    const txs = [];
    for (let i = 0; i < n; i++) {
      const recordId = `0x${randomBytes(32).toString('hex')}`;
      const sha256 = `0x${randomBytes(32).toString('hex')}`;
      txs.push(
        await registry.getFunction('anchorSigned')(...devnetSignedAnchor(src.spec.chainId, recordId, sha256)),
      );
      txs.push(
        await sender.getFunction('sendRecordProof')(
          ch.id,
          receiver,
          recordId,
          devnetConsentId(src.spec.chainId),
          0n,
        ),
      );
    }
    for (const r of await Promise.all(txs.map((t) => t.wait()))) expect(r.status).toBe(1);
  }

  const outbox = () => new Contract(devnet.chain(ch.source).contracts.outbox, abi('Outbox'), provider);
  const inbox = () => new Contract(devnet.chain(ch.dest).contracts.inbox, abi('Inbox'), destProvider);
  const lightClient = () =>
    new Contract(
      devnet.chain('insurer').contracts.lightClients[String(devnet.chain('medical-a').spec.chainId)]!,
      abi('QbftLightClient'),
      destProvider,
    );
  const waitAcked = (n: number) =>
    waitFor(
      `${n} packets acknowledged`,
      async () => ((await outbox().getFunction('ackedUpTo')(ch.id)) as bigint) >= BigInt(n),
      120_000,
      500,
    );

  it('keeps relaying across a source validator-set rotation', async () => {
    const lc = lightClient();
    const a = devnet.chain('medical-a');
    const epoch0 = (await lc.getFunction('epoch')()) as bigint;
    expect(((await lc.getFunction('validators')()) as string[]).map((x) => x.toLowerCase())).toEqual(
      a.validators.map((x) => x.toLowerCase()),
    );

    await sendRecords(3);
    await waitAcked(3);

    const newKeys = freshKeys(5);
    const head = BigInt(await provider.getBlockNumber());
    const atBlock = head + 3n;
    const newSet = devnet.sealer('medical-a').scheduleRotation(atBlock, newKeys);
    expect(newSet).toHaveLength(5);
    await waitFor(
      'rotation block mined',
      async () => BigInt(await provider.getBlockNumber()) > atBlock,
      30_000,
      250,
    );
    // The rotation header: sealed by the old set, listing the new one; the next one is sealed by the new set.
    const sealer = devnet.sealer('medical-a');
    expect(sealer.validatorsListedAt(atBlock - 1n)).toEqual(sealer.validators);
    expect(sealer.validatorsListedAt(atBlock)).toEqual(newSet);

    await sendRecords(3);
    await waitAcked(6);

    const received = (await inbox().queryFilter(
      inbox().filters.PacketReceived!(ch.id),
      devnet.chain(ch.dest).startHeight,
    )) as unknown as { args: { sequence: bigint } }[];
    expect(received.map((l) => l.args.sequence)).toEqual([1n, 2n, 3n, 4n, 5n, 6n]);
    expect(((await lc.getFunction('validators')()) as string[]).map((x) => x.toLowerCase())).toEqual(newSet);
    expect((await lc.getFunction('epoch')()) as bigint).toBe(epoch0 + 1n);
    expect((await lc.getFunction('validatorsSince')()) as bigint).toBe(atBlock);
  }, 240_000);
});
