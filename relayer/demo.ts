/**
 * `npm run demo`: a local devnet of two medical chains, an insurer chain and a cross-border chain (anvil, each
 * sealed in Besu QBFT form by its own validator set), medrelay's contracts, and the relayer moving real
 * record proofs medical → insurer with light-client verification on chain. Prints progress and a summary, then
 * shuts everything down. `--keep` leaves the devnet and the relayer (with its API) running until Ctrl-C.
 *
 * Only hashes cross chains: each synthetic FHIR record is hashed locally (SHA-256) and its body never leaves
 * this process.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, openSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Contract, type InterfaceAbi, JsonRpcProvider, NonceManager, Wallet } from 'ethers';
import { stringify } from 'yaml';
import { loadArtifact } from '../adapters/evm/contracts/artifacts.js';
import {
  DEV_ACCOUNT,
  type Devnet,
  devKey,
  devnetConsentId,
  devnetSignedAnchor,
  startDevnet,
} from '../adapters/evm/devnet/network.js';
import { devnetSpecsFromTemplate, fillDevnetTemplate } from '../adapters/evm/devnet/profile.js';
import { parseConfig, readConfigDocument } from '../config/load.js';
import { MedrelayError } from '../proofs/errors.js';
import { runRecordsDemo } from './demo-records.js';
import { runSettlementDemo } from './demo-settlement.js';
import { assertRedisReachable, connectRedis, deleteKeysByPrefix } from './redis.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

const say = (msg: string) => process.stdout.write(`${msg}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface ChannelCounts {
  name: string;
  counts: Record<string, number>;
}

/** A synthetic FHIR Bundle: stays in this process; only its SHA-256 goes on chain. */
function syntheticRecord(i: number): { recordId: string; sha256: string } {
  const bundle = {
    resourceType: 'Bundle',
    type: 'document',
    entry: [
      {
        resource: {
          resourceType: 'Patient',
          id: `p-${i}`,
          name: [{ family: 'Demo', given: [`Patient${i}`] }],
        },
      },
      {
        resource: {
          resourceType: 'Observation',
          status: 'final',
          code: { coding: [{ system: 'http://loinc.org', code: '4548-4', display: 'Hemoglobin A1c' }] },
          valueQuantity: { value: 5 + (i % 30) / 10, unit: '%' },
        },
      },
    ],
  };
  const sha256 = `0x${createHash('sha256').update(JSON.stringify(bundle)).digest('hex')}`;
  return { recordId: `0x${randomBytes(32).toString('hex')}`, sha256 };
}

async function api<T>(base: string, path: string): Promise<T> {
  const res = await fetch(`${base}${path}`);
  if (!res.ok) throw new Error(`GET ${path}: HTTP ${res.status}`);
  return (await res.json()) as T;
}

async function waitForApi(base: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null)
      throw new Error(`the relayer exited with code ${child.exitCode} (see .devnet/relayer.log)`);
    try {
      await api(base, '/health');
      return;
    } catch {
      await sleep(250);
    }
  }
  throw new Error('the relayer API did not come up (see .devnet/relayer.log)');
}

async function gasPerPacket(
  devnet: Devnet,
  chainName: string,
  address: string,
  topicName: string,
  abiName: string,
  channelIds: readonly string[],
) {
  const chain = devnet.chain(chainName);
  const provider = new JsonRpcProvider(chain.anvilUrl, chain.spec.chainId, { staticNetwork: true });
  const contract = new Contract(address, loadArtifact(abiName).abi as InterfaceAbi, provider);
  // Only the given channels (the records channels): consent lanes and referrals are not part of the summary.
  const logs = (
    await Promise.all(
      channelIds.map((id) => contract.queryFilter(contract.filters[topicName]!(id), chain.startHeight)),
    )
  ).flat();
  const txs = new Set(logs.map((l) => l.transactionHash));
  let gas = 0n;
  for (const h of txs) gas += (await provider.getTransactionReceipt(h))!.gasUsed;
  provider.destroy();
  return { packets: logs.length, txs: txs.size, gas };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      keep: { type: 'boolean', default: false },
      packets: { type: 'string', default: '24' },
      'block-time': { type: 'string', default: '1' },
    },
  });
  const perChannel = Number(values.packets);
  if (!Number.isInteger(perChannel) || perChannel < 1 || perChannel > 1000) {
    throw new MedrelayError('MR_ERR_DEMO_ARGS', '--packets must be an integer from 1 to 1000');
  }
  await assertRedisReachable(REDIS_URL);
  const started = Date.now();
  const dir = join(ROOT, '.devnet');
  mkdirSync(dir, { recursive: true });

  const template = readConfigDocument(join(ROOT, 'config/devnet.yaml'));
  const specs = devnetSpecsFromTemplate(template);
  say(
    `medrelay demo: starting a devnet of ${specs.chains.length} QBFT-sealed chains (anvil from @foundry-rs/anvil)`,
  );
  const devnet = await startDevnet({
    ...specs,
    blockTime: Number(values['block-time']),
    log: (m) => say(`  ${m}`),
  });
  const keyPrefix = `medrelay-demo-${process.pid}`;
  const apiPort = 8787;
  // The devnet profile (config/devnet.yaml) with what was just deployed filled in; a per-run key prefix keeps
  // this run's Redis keys apart from anything else on the same Redis.
  const profile = fillDevnetTemplate(template, devnet, {
    keyPrefix,
    redisUrl: REDIS_URL,
    api: { host: '127.0.0.1', port: apiPort },
  });
  const config = parseConfig(profile); // fail here, with field names, rather than in the child
  const signerEnv = new Set(config.chains.map((c) => (c.signer.type === 'env' ? c.signer.variable : '')));
  const configPath = join(dir, 'config.yaml');
  writeFileSync(
    configPath,
    `# Generated by npm run demo from config/devnet.yaml with the deployed addresses. No keys in here.\n${stringify(profile)}`,
  );
  say(`  contracts deployed; relayer config written to ${configPath}`);

  const logFd = openSync(join(dir, 'relayer.log'), 'w');
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(ROOT, 'relayer/cli.ts'), 'start', '--config', configPath],
    {
      cwd: ROOT,
      env: {
        ...process.env,
        ...Object.fromEntries([...signerEnv].filter(Boolean).map((v) => [v, devKey(DEV_ACCOUNT.relayer)])),
      },
      stdio: ['ignore', logFd, logFd],
    },
  );
  const base = `http://127.0.0.1:${apiPort}`;
  let cleaned = false;
  const cleanup = async () => {
    if (cleaned) return;
    cleaned = true;
    if (child.exitCode === null) {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
    await devnet.stop();
    const redis = connectRedis(REDIS_URL);
    await deleteKeysByPrefix(redis, keyPrefix);
    redis.disconnect();
  };
  process.on('SIGINT', () => {
    void cleanup().then(() => process.exit(130));
  });
  try {
    await waitForApi(base, child, 60_000);
    say(
      `  relayer running (pid ${child.pid}), API ${base} (OpenAPI ${base}/openapi.json), logs .devnet/relayer.log`,
    );

    // Hospitals anchor records and send their proofs to the insurer (on the records channels; the consent lanes
    // and the referral channel carry no demo traffic).
    const recordsChannels = devnet.channels.filter((c) => c.app === 'records');
    const records: { channel: string; recordId: string; sha256: string }[] = [];
    await Promise.all(
      recordsChannels.map(async (ch) => {
        const chain = devnet.chain(ch.source);
        const provider = new JsonRpcProvider(chain.rpcUrl, chain.spec.chainId, {
          staticNetwork: true,
          pollingInterval: 200,
        });
        const hospital = new NonceManager(new Wallet(devKey(DEV_ACCOUNT.hospital), provider));
        const registry = new Contract(
          chain.contracts.recordRegistry,
          loadArtifact('RecordRegistry').abi as InterfaceAbi,
          hospital,
        );
        const sender = new Contract(
          chain.contracts.recordProofSender,
          loadArtifact('RecordProofSender').abi as InterfaceAbi,
          hospital,
        );
        const receiver = devnet.chain(ch.dest).contracts.recordProofStore;
        const pending = [];
        for (let i = 0; i < perChannel; i++) {
          const r = syntheticRecord(i);
          records.push({ channel: ch.name, ...r });
          pending.push(
            await registry.getFunction('anchorSigned')(
              ...devnetSignedAnchor(chain.spec.chainId, r.recordId, r.sha256),
            ),
          );
          pending.push(
            await sender.getFunction('sendRecordProof')(
              ch.id,
              receiver,
              r.recordId,
              devnetConsentId(chain.spec.chainId),
              0,
            ),
          );
        }
        await Promise.all(pending.map((t) => t.wait()));
        provider.destroy();
      }),
    );
    const total = records.length;
    say(
      `  ${recordsChannels.length} hospitals anchored ${total} records (signed anchors, devnet consent) and sent record-proof packets`,
    );

    const t0 = Date.now();
    let last = '';
    for (;;) {
      const { channels } = await api<{ channels: ChannelCounts[] }>(base, '/channels');
      const line = channels
        .map(
          (c) =>
            `${c.name}: sent ${c.counts.sent ?? 0} proven ${c.counts.proven ?? 0} delivered ${c.counts.delivered ?? 0} acked ${c.counts.acknowledged ?? 0}`,
        )
        .join(' | ');
      if (line !== last) say(`  [${((Date.now() - t0) / 1000).toFixed(1)}s] ${line}`);
      last = line;
      const acked = channels
        .filter((c) => recordsChannels.some((r) => r.name === c.name))
        .reduce((a, c) => a + (c.counts.acknowledged ?? 0), 0);
      if (acked >= total) break;
      if (Date.now() - t0 > 180_000)
        throw new Error('timed out waiting for acknowledgements (see .devnet/relayer.log)');
      await sleep(500);
    }
    const elapsed = (Date.now() - t0) / 1000;

    // Check on the insurer chain that every record proof arrived with the right hash.
    const insurer = devnet.chain('insurer');
    const provider = new JsonRpcProvider(insurer.anvilUrl, insurer.spec.chainId, { staticNetwork: true });
    const store = new Contract(
      insurer.contracts.recordProofStore,
      loadArtifact('RecordProofStore').abi as InterfaceAbi,
      provider,
    );
    let verified = 0;
    for (const r of records) {
      const p = (await store.getFunction('getRecordProof')(r.recordId)) as { sha256Hash: string };
      if (p.sha256Hash.toLowerCase() === r.sha256) verified++;
    }
    provider.destroy();
    const recv = await gasPerPacket(
      devnet,
      'insurer',
      insurer.contracts.inbox,
      'PacketReceived',
      'Inbox',
      recordsChannels.filter((c) => c.dest === 'insurer').map((c) => c.id),
    );
    let ackGas = 0n;
    let ackPackets = 0;
    for (const ch of recordsChannels) {
      const src = devnet.chain(ch.source);
      const a = await gasPerPacket(devnet, ch.source, src.contracts.outbox, 'PacketAcknowledged', 'Outbox', [
        ch.id,
      ]);
      ackGas += a.gas;
      ackPackets += a.packets;
    }
    say('');
    say('summary');
    say(`  packets sent           ${total} over ${recordsChannels.length} records channels`);
    say(
      `  delivered (insurer)    ${recv.packets} in ${recv.txs} batch transactions (each verifies the source QBFT header in the same tx)`,
    );
    say(
      `  record proofs verified ${verified}/${total} (hash on insurer chain == hash anchored on medical chain)`,
    );
    say(`  acknowledged (source)  ${ackPackets}`);
    say(
      `  gas per packet         receive ${recv.packets ? (recv.gas / BigInt(recv.packets)).toString() : '-'} (header verification, proofs, consent and signature checks, storage), ack ${ackPackets ? (ackGas / BigInt(ackPackets)).toString() : '-'}`,
    );
    say(
      `  time                   ${elapsed.toFixed(1)} s from send to last ack; ${((Date.now() - started) / 1000).toFixed(1)} s in all`,
    );
    if (verified !== total || recv.packets !== total || ackPackets !== total) {
      throw new MedrelayError(
        'MR_ERR_DEMO_MISMATCH',
        'not every packet was delivered and acknowledged exactly once',
      );
    }
    say('');
    say('records, consent and audit');
    const redis = connectRedis(REDIS_URL);
    try {
      await runRecordsDemo({ devnet, redis, keyPrefix, apiBase: base, say });
    } finally {
      redis.disconnect();
    }
    say('');
    say('claims and cross-border settlement (Hong Kong clinic, mainland patient)');
    await runSettlementDemo({
      devnet,
      apiBase: base,
      say,
      pauseRelayer: () => child.kill('SIGSTOP'),
      resumeRelayer: () => child.kill('SIGCONT'),
    });
    say(`  done in ${((Date.now() - started) / 1000).toFixed(1)} s in all`);
    if (values.keep) {
      say('');
      say(`--keep: devnet and relayer left running. API ${base}/docs; chains:`);
      for (const c of devnet.chains) say(`  ${c.spec.name} (chain id ${c.spec.chainId}) ${c.rpcUrl}`);
      say('Ctrl-C stops everything.');
      await new Promise(() => {});
    }
  } finally {
    if (!values.keep) await cleanup();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    const msg = err instanceof MedrelayError ? `${err.code}: ${err.message}` : (err as Error).message;
    process.stderr.write(`medrelay demo failed: ${msg}\n`);
    process.exit(1);
  },
);
