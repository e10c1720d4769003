/**
 * Application clients against a real devnet (medical-a → insurer, QBFT-sealed anvils) with the relayer in
 * process (audit recorder + patient API): bad input to the hospital, insurer and patient clients throws typed
 * errors with nothing written (no transaction, no vault file); the insurer verifies a disclosure locally
 * (multiproof, code systems, anchored code map version, mapped codes) and on chain; the patient revokes by
 * signature and reads the audit trail.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { keccak256, toUtf8Bytes, Wallet } from 'ethers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChainClient } from '../../adapters/evm/clients/chain.js';
import { type AnchoredRecord, HospitalClient } from '../../adapters/evm/clients/hospital.js';
import { InsurerClient } from '../../adapters/evm/clients/insurer.js';
import {
  fetchAuditTrail,
  generatePatientKeys,
  revokeBySignature,
  signRevocation,
} from '../../adapters/evm/clients/patient.js';
import { freePort } from '../../adapters/evm/devnet/anvil.js';
import { DEV_ACCOUNT, type Devnet, devKey, startDevnet } from '../../adapters/evm/devnet/network.js';
import { devnetProfile } from '../../adapters/evm/devnet/profile.js';
import { parseConfig } from '../../config/load.js';
import type { Hex } from '../../proofs/bytes.js';
import { labsForClaimsConsent } from '../../proofs/consent/seeds.js';
import { codeMapRef, disclose, SEED_CODE_MAP } from '../../proofs/records/index.js';
import { createLogger } from '../../relayer/logger.js';
import { generateRecipientKeyPair } from '../../relayer/records/crypto.js';
import { FileRecordVault } from '../../relayer/records/vault.js';
import { connectRedis, deleteKeysByPrefix } from '../../relayer/redis.js';
import { type RelayerService, startService } from '../../relayer/service.js';
import { until } from '../helpers/referral.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const INSURER = 'Organization/devnet-insurer';
const ICD10 = 'http://hl7.org/fhir/sid/icd-10';
const COND = (i: number, part: 'code' | 'system') =>
  `Bundle.entry[${i}].resource.Condition.code.coding[0].${part}`;

function record(): Record<string, unknown> {
  return {
    resourceType: 'Bundle',
    type: 'collection',
    entry: [
      { resource: { resourceType: 'Patient', id: 'p1', gender: 'female' } },
      {
        resource: { resourceType: 'Condition', id: 'c1', code: { coding: [{ system: ICD10, code: 'I10' }] } },
      },
      {
        resource: { resourceType: 'Condition', id: 'c2', code: { coding: [{ system: ICD10, code: 'J45' }] } },
      },
    ],
  };
}

describe('clients on the devnet', () => {
  let devnet: Devnet;
  let service: RelayerService;
  let vault: FileRecordVault;
  let vaultDir: string;
  let hospital: HospitalClient;
  let insurer: InsurerClient;
  const prefix = `mr-clients-${randomBytes(4).toString('hex')}`;
  const keys = { hospital: generateRecipientKeyPair(), insurer: generateRecipientKeyPair() };
  const secret = new Uint8Array(randomBytes(32));
  const identifier = { system: 'https://hospital-a.example/mrn', value: 'MRN-CLIENTS' };
  const patient = generatePatientKeys();
  let anchored: AnchoredRecord;
  let consentId: Hex;

  const nonce = (c: ChainClient, who: string) =>
    c.rpc.call<string>('eth_getTransactionCount', [who, 'latest']).then(BigInt);
  const vaultFiles = () => readdirSync(vaultDir).filter((f) => f.endsWith('.json'));
  /** Asserts `fn` throws `code` and the signer sent nothing and the vault is unchanged. */
  async function refusedWithNothingWritten(
    c: ChainClient,
    fn: () => Promise<unknown>,
    code: string,
    errorName?: string,
  ) {
    const n0 = await nonce(c, c.address);
    const files = vaultFiles().length;
    const err = await fn().then(
      () => {
        throw new Error('expected a typed error');
      },
      (e: unknown) => e as { code: string; details: Record<string, unknown> },
    );
    expect(err.code).toBe(code);
    if (errorName) expect(err.details.errorName).toBe(errorName);
    expect(await nonce(c, c.address)).toBe(n0);
    expect(vaultFiles().length).toBe(files);
  }

  beforeAll(async () => {
    const ports = await Promise.all(Array.from({ length: 5 }, () => freePort()));
    devnet = await startDevnet({
      chains: [
        { name: 'medical-a', chainId: 44001, port: ports[0]!, anvilPort: ports[1]!, role: 'medical' },
        { name: 'insurer', chainId: 44003, port: ports[2]!, anvilPort: ports[3]!, role: 'insurer' },
      ],
      channels: [{ name: 'records-a', source: 'medical-a', dest: 'insurer' }],
      blockTime: 1,
    });
    service = await startService({
      config: parseConfig(
        devnetProfile(devnet, {
          keyPrefix: prefix,
          apiPort: ports[4]!,
          redisUrl: REDIS_URL,
          pollIntervalMs: 250,
        }),
      ),
      env: { MEDRELAY_RELAYER_KEY: devKey(DEV_ACCOUNT.relayer) },
      log: createLogger({ level: 'error', name: 'relayer', destination: process.stderr }),
      audit: { anchorChain: 'insurer', pollIntervalMs: 250 },
    });
    vaultDir = mkdtempSync(join(tmpdir(), 'medrelay-clients-'));
    vault = await FileRecordVault.open(vaultDir, { onAccess: service.audit!.recordAccessHook });
    const a = devnet.chain('medical-a');
    const ins = devnet.chain('insurer');
    hospital = new HospitalClient({
      rpcUrl: a.rpcUrl,
      chainId: a.spec.chainId,
      privateKey: devKey(DEV_ACCOUNT.hospital),
      contracts: {
        recordRegistry: a.contracts.recordRegistry,
        consentRegistry: a.contracts.consentRegistry,
        recordProofSender: a.contracts.recordProofSender,
        referralGateway: a.contracts.referralGateway,
      },
      vault,
    });
    insurer = new InsurerClient({
      rpcUrl: ins.rpcUrl,
      chainId: ins.spec.chainId,
      privateKey: devKey(DEV_ACCOUNT.insurer),
      contracts: {
        disclosureVerifier: ins.contracts.disclosureVerifier!,
        codeMapRegistry: ins.contracts.codeMapRegistry,
      },
      codeMaps: [SEED_CODE_MAP],
      vault,
      reader: { id: INSURER, privateKey: keys.insurer.privateKey },
    });
  }, 180_000);

  afterAll(async () => {
    await service?.stop();
    await devnet?.stop();
    const redis = connectRedis(REDIS_URL);
    await deleteKeysByPrefix(redis, prefix);
    redis.disconnect();
    if (vaultDir) rmSync(vaultDir, { recursive: true, force: true });
  });

  it('hospital: bad input and refused calls throw typed errors, nothing written', async () => {
    const c = hospital.chain;
    const recipients = [{ id: 'Organization/hospital-a', publicKey: keys.hospital.publicKey }];
    const opts = { patientSecret: secret, patientIdentifier: identifier, recipients };
    await refusedWithNothingWritten(
      c,
      () => hospital.anchorRecord({ resourceType: 'Nope' }, opts),
      'MR_ERR_FHIR_INVALID',
    );
    await refusedWithNothingWritten(
      c,
      () => hospital.anchorRecord(record(), { ...opts, patientSecret: new Uint8Array(31) }),
      'MR_ERR_PSEUDONYM_INPUT',
    );
    await refusedWithNothingWritten(
      c,
      () => hospital.anchorRecord(record(), { ...opts, recipients: [] }),
      'MR_ERR_CLIENT_INPUT',
    );
    await refusedWithNothingWritten(
      c,
      () =>
        hospital.anchorRecord(record(), {
          ...opts,
          recipients: [{ id: 'hospital a', publicKey: keys.hospital.publicKey }],
        }),
      'MR_ERR_RECORD_INPUT',
    );
    await refusedWithNothingWritten(
      c,
      () => hospital.anchorRecord(record(), { ...opts, recordId: '0x1234' }),
      'MR_ERR_CLIENT_INPUT',
    );
    // A key that is not a registered institution: the registry would revert, so nothing is sent or stored.
    const a = devnet.chain('medical-a');
    const stranger = new HospitalClient({
      rpcUrl: a.rpcUrl,
      chainId: a.spec.chainId,
      privateKey: devKey(7),
      contracts: { recordRegistry: a.contracts.recordRegistry },
      vault,
    });
    await refusedWithNothingWritten(
      stranger.chain,
      () => stranger.anchorRecord(record(), opts),
      'MR_ERR_CLIENT_REVERTED',
      'NotInstitution',
    );
    const noVault = new HospitalClient({
      ...{ rpcUrl: a.rpcUrl, chainId: a.spec.chainId },
      privateKey: devKey(2),
      contracts: { recordRegistry: a.contracts.recordRegistry },
    });
    await refusedWithNothingWritten(
      noVault.chain,
      () => noVault.anchorRecord(record(), opts),
      'MR_ERR_CLIENT_CONFIG',
    );

    // Consents: invalid FHIR, an MRN instead of a pseudonym, a bad key, a destination without a route.
    const good = labsForClaimsConsent({
      patient: `Patient/${'ab'.repeat(32)}`,
      insurer: INSURER,
      grantedAt: new Date(),
    });
    await refusedWithNothingWritten(
      c,
      () =>
        hospital.grantConsent(
          { resourceType: 'Consent' },
          { destChain: 44003, patientKey: patient.revocationAddress },
        ),
      'MR_ERR_CONSENT_INVALID',
    );
    await refusedWithNothingWritten(
      c,
      () => hospital.grantConsent(good, { destChain: 44003, patientKey: 'nope' }),
      'MR_ERR_CLIENT_INPUT',
    );
    await refusedWithNothingWritten(
      c,
      () =>
        hospital.grantConsent(
          { ...structuredClone(good), patient: { reference: 'Patient/MRN-123' } },
          { destChain: 44003, patientKey: patient.revocationAddress },
        ),
      'MR_ERR_CONSENT_INVALID',
    );
    await refusedWithNothingWritten(
      c,
      () => hospital.grantConsent(good, { destChain: 99999, patientKey: patient.revocationAddress }),
      'MR_ERR_CLIENT_REVERTED',
      'NoRoute',
    );
    // Referrals and access logs.
    const id = keccak256(toUtf8Bytes('x')) as Hex;
    await refusedWithNothingWritten(
      c,
      () => hospital.refer('0x12', id, id, 44003, 'Organization/hospital-b'),
      'MR_ERR_CLIENT_INPUT',
    );
    await refusedWithNothingWritten(
      c,
      () => hospital.refer(id, id, id, 44003, 'not a reference'),
      'MR_ERR_CLIENT_INPUT',
    );
    await refusedWithNothingWritten(
      c,
      () => hospital.refer(id, id, id, 44003, 'Organization/hospital-b'),
      'MR_ERR_CLIENT_REVERTED',
      'NotRecordInstitution',
    );
    await refusedWithNothingWritten(
      c,
      () => hospital.logAccess(id, 'Organization/insurer-x', 'CLMATTCH'),
      'MR_ERR_CLIENT_REVERTED',
      'UnknownRecord',
    );
    await refusedWithNothingWritten(
      c,
      () => hospital.revokeConsent(id),
      'MR_ERR_CLIENT_REVERTED',
      'UnknownConsent',
    );
  });

  it('anchors, grants, sends a record proof; the insurer verifies disclosures locally and on chain', async () => {
    anchored = await hospital.anchorRecord(record(), {
      patientSecret: secret,
      patientIdentifier: identifier,
      recipients: [
        { id: 'Organization/hospital-a', publicKey: keys.hospital.publicKey },
        { id: INSURER, publicKey: keys.insurer.publicKey },
      ],
    });
    expect(vaultFiles()).toContain(`${anchored.recordId.slice(2)}.json`);
    const consent = labsForClaimsConsent({
      patient: `Patient/${anchored.pseudonym.slice(2)}`,
      insurer: INSURER,
      grantedAt: new Date(Date.now() - 60_000),
    });
    const ins = devnet.chain('insurer');
    const granted = await hospital.grantConsent(consent, {
      destChain: ins.spec.chainId,
      patientKey: patient.revocationAddress,
    });
    consentId = granted.consentId;
    // Granting the same consent twice is refused by the registry, before sending.
    await refusedWithNothingWritten(
      hospital.chain,
      () =>
        hospital.grantConsent(consent, {
          destChain: ins.spec.chainId,
          patientKey: patient.revocationAddress,
        }),
      'MR_ERR_CLIENT_REVERTED',
      'ConsentExists',
    );
    await hospital.sendRecordProof({
      channel: devnet.channel('records-a').id,
      receiver: ins.contracts.recordProofStore,
      recordId: anchored.recordId,
      consentId,
    });
    await until(
      'record proof stored on the insurer chain',
      () => insurer.recordProof(anchored.recordId),
      120_000,
    );

    // The seed code map anchored on the insurer chain (version 1.0.0); 2.0.0 is not.
    const ref = codeMapRef(SEED_CODE_MAP);
    const anchorer = new ChainClient({
      rpcUrl: ins.rpcUrl,
      chainId: ins.spec.chainId,
      privateKey: devKey(DEV_ACCOUNT.hospital),
    });
    await anchorer.write(ins.contracts.codeMapRegistry, 'CodeMapRegistry', 'anchorCodeMap', [
      ref.id,
      ref.version,
      ref.hash,
    ]);

    const opts = { recordId: anchored.recordId, codeMap: ref };
    const ok = await insurer.verifyDisclosure(
      anchored.recordId,
      disclose(anchored.tree, [COND(1, 'code'), COND(1, 'system')], opts),
    );
    expect(ok.elements.map((e) => e.value)).toContain('"I10"');
    expect(ok.translations[0]!.to.map((t) => t.code)).toContain('59621000');
    expect(ok.disclosureHash).toMatch(/^0x[0-9a-f]{64}$/);

    const c = insurer.chain;
    // Unknown code map version / hash: a clear refusal, nothing sent.
    const v2 = disclose(anchored.tree, [COND(1, 'code'), COND(1, 'system')], {
      ...opts,
      codeMap: { ...ref, version: '2.0.0' },
    });
    await refusedWithNothingWritten(
      c,
      () => insurer.verifyDisclosure(anchored.recordId, v2),
      'MR_ERR_CODEMAP_UNKNOWN',
    );
    const badHash = disclose(anchored.tree, [COND(1, 'code'), COND(1, 'system')], {
      ...opts,
      codeMap: { ...ref, hash: `0x${'11'.repeat(32)}` },
    });
    await refusedWithNothingWritten(
      c,
      () => insurer.verifyDisclosure(anchored.recordId, badHash),
      'MR_ERR_CODEMAP_UNKNOWN',
    );
    const noMapHeld = new InsurerClient({
      rpcUrl: ins.rpcUrl,
      chainId: ins.spec.chainId,
      privateKey: devKey(DEV_ACCOUNT.insurer),
      contracts: { disclosureVerifier: ins.contracts.disclosureVerifier! },
    });
    await refusedWithNothingWritten(
      c,
      () => noMapHeld.verifyDisclosure(anchored.recordId, disclose(anchored.tree, [COND(1, 'code')], opts)),
      'MR_ERR_CODEMAP_UNKNOWN',
    );
    // J45 is not in the map: unmapped is a refusal, never a silent pass.
    const j45 = disclose(anchored.tree, [COND(2, 'code'), COND(2, 'system')], opts);
    await refusedWithNothingWritten(
      c,
      () => insurer.verifyDisclosure(anchored.recordId, j45),
      'MR_ERR_CODEMAP_UNMAPPED',
    );
    // Altered value, wrong record, unknown record.
    const d = disclose(anchored.tree, [COND(1, 'code')], { recordId: anchored.recordId });
    const altered = { ...d, elements: d.elements.map((e) => ({ ...e, value: '"I11"' })) };
    await refusedWithNothingWritten(
      c,
      () => insurer.verifyDisclosure(anchored.recordId, altered),
      'MR_ERR_DISCLOSURE_ROOT_MISMATCH',
    );
    const other = keccak256(toUtf8Bytes('other record')) as Hex;
    await refusedWithNothingWritten(c, () => insurer.verifyDisclosure(other, d), 'MR_ERR_CLIENT_NOT_FOUND');
    await refusedWithNothingWritten(c, () => insurer.verifyDisclosure('0x12', d), 'MR_ERR_CLIENT_INPUT');

    // The insurer reads the record through the vault under the consent; a request outside it is refused.
    const labs = {
      purpose: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActReason', code: 'CLMATTCH' },
    };
    const glucose = {
      class: 'Observation',
      codes: [
        { system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'laboratory' },
        { system: 'http://loinc.org', code: '2345-7' },
      ],
      date: new Date(Date.now() - 30 * 86_400_000).toISOString().slice(0, 10),
    };
    const fetched = await insurer.fetchRecord(anchored.recordId, consent, { ...labs, data: glucose });
    expect(fetched.resource).toEqual(record());
    await expect(
      insurer.fetchRecord(anchored.recordId, consent, { ...labs, data: { ...glucose, class: 'Condition' } }),
    ).rejects.toMatchObject({ code: 'MR_ERR_RECORD_ACCESS_DENIED' });
  }, 180_000);

  it('patient: revocation by signature and the audit trail through the API', async () => {
    const a = devnet.chain('medical-a');
    const conn = { rpcUrl: a.rpcUrl, chainId: a.spec.chainId, privateKey: devKey(DEV_ACCOUNT.relayer) };
    expect(() => signRevocation('0x12', a.spec.chainId, patient.revocationKey)).toThrow(
      expect.objectContaining({ code: 'MR_ERR_CLIENT_INPUT' }),
    );
    const submitter = new ChainClient(conn);
    const wrongKey = Wallet.createRandom().privateKey;
    await refusedWithNothingWritten(
      submitter,
      () => revokeBySignature(conn, a.contracts.consentRegistry, consentId, { revocationKey: wrongKey }),
      'MR_ERR_CLIENT_REVERTED',
      'NotPatientKey',
    );
    const revoked = await revokeBySignature(conn, a.contracts.consentRegistry, consentId, {
      revocationKey: patient.revocationKey,
    });
    expect(revoked.events.map((e) => e.name)).toContain('ConsentRevoked');

    const pseudonym = anchored.pseudonym;
    const api = service.apiUrl!;
    await expect(fetchAuditTrail(api, 'Patient/1', patient.authKey)).rejects.toMatchObject({
      code: 'MR_ERR_CLIENT_INPUT',
    });
    // Not enrolled yet: the same 401 as a bad signature.
    await expect(fetchAuditTrail(api, pseudonym, patient.authKey)).rejects.toMatchObject({
      code: 'MR_ERR_PATIENT_AUTH',
    });
    await service.audit!.keys.register(pseudonym, patient.authPublicKey);
    await expect(fetchAuditTrail(api, pseudonym, generatePatientKeys().authKey)).rejects.toMatchObject({
      code: 'MR_ERR_PATIENT_AUTH',
    });
    const wanted = [
      'record-anchored',
      'consent-granted',
      'record-proof-delivered',
      'disclosure-verified',
      'consent-revoked',
    ];
    const page = await until(
      'audit entries',
      async () => {
        const p = await fetchAuditTrail(api, pseudonym, patient.authKey, { limit: 100 });
        const codes = new Set(p.items.map((e) => e.event.subtype?.[0]?.code));
        return wanted.every((w) => codes.has(w)) ? p : false;
      },
      60_000,
      500,
    );
    // The insurer's vault read (permitted) and refusal (denied) are there too.
    const reads = page.items.filter((e) => e.event.type.code === '110106').map((e) => e.event.outcome);
    expect(reads).toEqual(expect.arrayContaining(['0', '4']));
  }, 120_000);
});
