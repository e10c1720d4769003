/**
 * Referral fixture shared by test/e2e/referral.e2e.test.ts and bench/referral.ts: a devnet medical-a → medical-b
 * (referral channel + its consent lane), an in-process relayer with the audit recorder and patient API, one file
 * vault audited into the trail, hospital clients on both chains and the receiving institution bound to
 * `Organization/hospital-b` on medical-b's ReferralGateway.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Contract, type InterfaceAbi, JsonRpcProvider, keccak256, toUtf8Bytes, Wallet } from 'ethers';
import { HospitalClient } from '../../adapters/evm/clients/hospital.js';
import { InsurerClient } from '../../adapters/evm/clients/insurer.js';
import { loadArtifact } from '../../adapters/evm/contracts/artifacts.js';
import { freePort } from '../../adapters/evm/devnet/anvil.js';
import { DEV_ACCOUNT, type Devnet, devKey, startDevnet } from '../../adapters/evm/devnet/network.js';
import { devnetProfile } from '../../adapters/evm/devnet/profile.js';
import { parseConfig } from '../../config/load.js';
import type { FhirResource } from '../../proofs/records/fhir.js';
import { createLogger } from '../../relayer/logger.js';
import { generateRecipientKeyPair, type RecipientKeyPair } from '../../relayer/records/crypto.js';
import { FileRecordVault } from '../../relayer/records/vault.js';
import { connectRedis, deleteKeysByPrefix } from '../../relayer/redis.js';
import { type RelayerService, startService } from '../../relayer/service.js';

export const HOSPITAL_A = 'Organization/hospital-a';
export const HOSPITAL_B = 'Organization/hospital-b';
export const HOSPITAL_C = 'Organization/hospital-c';

export interface ReferralWorld {
  devnet: Devnet;
  service: RelayerService;
  vault: FileRecordVault;
  vaultDir: string;
  keys: Record<'a' | 'b' | 'c', RecipientKeyPair>;
  hospitalA: HospitalClient;
  hospitalB: HospitalClient;
  /** Record readers (vault fetch) for hospital B and hospital C. */
  readerB: InsurerClient;
  readerC: InsurerClient;
  chainA: bigint;
  chainB: bigint;
  prefix: string;
  stop(): Promise<void>;
}

/** A referral summary for the patient: a Bundle with a Composition (LOINC 34133-9) and its referral note. */
export function referralBundle(note = 'Referred for cardiology follow-up.'): FhirResource {
  return {
    resourceType: 'Bundle',
    type: 'document',
    entry: [
      {
        resource: {
          resourceType: 'Composition',
          id: `cmp-${randomBytes(4).toString('hex')}`,
          status: 'final',
          type: {
            coding: [{ system: 'http://loinc.org', code: '34133-9', display: 'Summary of episode note' }],
          },
          date: new Date().toISOString(),
          title: 'Referral summary',
          section: [
            {
              title: 'Reason',
              text: { status: 'generated', div: `<div xmlns="http://www.w3.org/1999/xhtml">${note}</div>` },
            },
          ],
        },
      },
      {
        resource: {
          resourceType: 'Condition',
          id: 'c1',
          code: { coding: [{ system: 'http://hl7.org/fhir/sid/icd-10', code: 'I10' }] },
        },
      },
    ],
  } as unknown as FhirResource;
}

export async function startReferralWorld(
  opts: { redisUrl?: string; blockTime?: number } = {},
): Promise<ReferralWorld> {
  const redisUrl = opts.redisUrl ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const ports = await Promise.all(Array.from({ length: 5 }, () => freePort()));
  const devnet = await startDevnet({
    chains: [
      { name: 'medical-a', chainId: 43001, port: ports[0]!, anvilPort: ports[1]!, role: 'medical' },
      { name: 'medical-b', chainId: 43002, port: ports[2]!, anvilPort: ports[3]!, role: 'medical' },
    ],
    channels: [{ name: 'referrals-a-b', source: 'medical-a', dest: 'medical-b' }],
    blockTime: opts.blockTime ?? 1,
  });
  const prefix = `mr-referral-${randomBytes(4).toString('hex')}`;
  const vaultDir = mkdtempSync(join(tmpdir(), 'medrelay-vault-'));
  let service: RelayerService | undefined;
  try {
    const a = devnet.chain('medical-a');
    const b = devnet.chain('medical-b');
    // medical-b's gateway: referrals to Organization/hospital-b go to the hospital account of medical-b.
    const provider = new JsonRpcProvider(b.rpcUrl, b.spec.chainId, { staticNetwork: true });
    const owner = new Wallet(devKey(DEV_ACCOUNT.deployer), provider);
    const gw = new Contract(
      b.contracts.referralGateway,
      loadArtifact('ReferralGateway').abi as InterfaceAbi,
      owner,
    );
    const hospitalAddr = new Wallet(devKey(DEV_ACCOUNT.hospital)).address;
    await (
      await gw.getFunction('setInstitutionRef')(keccak256(toUtf8Bytes(HOSPITAL_B)), hospitalAddr)
    ).wait();
    provider.destroy();

    const profile = devnetProfile(devnet, {
      keyPrefix: prefix,
      apiPort: ports[4]!,
      redisUrl,
      pollIntervalMs: 250,
      clearIntervalSec: 5,
    });
    service = await startService({
      config: parseConfig(profile),
      env: { MEDRELAY_RELAYER_KEY: devKey(DEV_ACCOUNT.relayer) },
      log: createLogger({
        level: process.env.LOG_LEVEL ?? 'error',
        name: 'relayer',
        destination: process.stderr,
      }),
      audit: { anchorChain: 'medical-b', observer: 'Device/medrelay-test', pollIntervalMs: 250 },
    });
    const svc = service;
    const vault = await FileRecordVault.open(vaultDir, { onAccess: svc.audit!.recordAccessHook });
    const keys = {
      a: generateRecipientKeyPair(),
      b: generateRecipientKeyPair(),
      c: generateRecipientKeyPair(),
    };
    const hospitalKey = devKey(DEV_ACCOUNT.hospital);
    const hospital = (c: typeof a) =>
      new HospitalClient({
        rpcUrl: c.rpcUrl,
        chainId: c.spec.chainId,
        privateKey: hospitalKey,
        contracts: {
          recordRegistry: c.contracts.recordRegistry,
          consentRegistry: c.contracts.consentRegistry,
          referralGateway: c.contracts.referralGateway,
          consentMirror: c.contracts.consentMirror,
        },
        vault,
      });
    const reader = (id: string, privateKey: Uint8Array) =>
      new InsurerClient({
        rpcUrl: b.rpcUrl,
        chainId: b.spec.chainId,
        contracts: {},
        vault,
        reader: { id, privateKey },
      });
    return {
      devnet,
      service: svc,
      vault,
      vaultDir,
      keys,
      hospitalA: hospital(a),
      hospitalB: hospital(b),
      readerB: reader(HOSPITAL_B, keys.b.privateKey),
      readerC: reader(HOSPITAL_C, keys.c.privateKey),
      chainA: BigInt(a.spec.chainId),
      chainB: BigInt(b.spec.chainId),
      prefix,
      async stop() {
        await svc.stop();
        await devnet.stop();
        const redis = connectRedis(redisUrl);
        await deleteKeysByPrefix(redis, prefix);
        redis.disconnect();
        rmSync(vaultDir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await service?.stop();
    await devnet.stop();
    rmSync(vaultDir, { recursive: true, force: true });
    throw err;
  }
}

/** Polls `fn` until it returns something other than undefined/false (errors count as "not yet"). */
export { waitFor as until } from './relayer-process.js';
