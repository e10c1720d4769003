/**
 * The medical-records part of `npm run demo` (issue 3): hospital A anchors a FHIR Bundle (only its hash and a
 * salted disclosure root go on chain; the body is encrypted in a vault), the patient's consent "insurer may read the
 * last 6 months of lab results for claims, for one month" travels on the priority consent lane, the record proof is
 * delivered, the insurer verifies a disclosed diagnosis (ICD-10 I10, mapped to SNOMED CT through an anchored
 * ConceptMap) locally and on chain and decrypts the lab results under the consent; then the patient revokes, a new
 * record proof is refused at delivery, and the patient reads their audit trail through the API.
 *
 * The synthetic record never leaves this process except encrypted in the local vault.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Contract, type InterfaceAbi, JsonRpcProvider, NonceManager, Wallet } from 'ethers';
import { EvmAdapter } from '../adapters/evm/adapter.js';
import { ChainClient } from '../adapters/evm/clients/chain.js';
import { HospitalClient } from '../adapters/evm/clients/hospital.js';
import { InsurerClient } from '../adapters/evm/clients/insurer.js';
import { fetchAuditTrail, generatePatientKeys, revokeBySignature } from '../adapters/evm/clients/patient.js';
import { loadArtifact } from '../adapters/evm/contracts/artifacts.js';
import { DEV_ACCOUNT, type Devnet, devKey } from '../adapters/evm/devnet/network.js';
import { labsForClaimsConsent } from '../proofs/consent/seeds.js';
import { MedrelayError } from '../proofs/errors.js';
import { codeMapRef, disclose, SEED_CODE_MAP } from '../proofs/records/index.js';
import { auditRecordAccess } from './audit/record-access.js';
import { auditLogAnchor } from './audit/recorder.js';
import { AuditTrail } from './audit/trail.js';
import { PatientKeys } from './patients/keys.js';
import { generateRecipientKeyPair } from './records/crypto.js';
import { FileRecordVault } from './records/vault.js';
import type { Redis } from './redis.js';

/** The devnet insurer's FHIR reference: the recipient its RecordProofStore accepts (DEVNET_RECIPIENT). */
const INSURER = 'Organization/devnet-insurer';
const ICD10 = 'http://hl7.org/fhir/sid/icd-10';
const LOINC = 'http://loinc.org';
const OBS_CATEGORY = 'http://terminology.hl7.org/CodeSystem/observation-category';
const CLAIMS = { system: 'http://terminology.hl7.org/CodeSystem/v3-ActReason', code: 'CLMATTCH' };

export interface RecordsDemoContext {
  devnet: Devnet;
  redis: Redis;
  keyPrefix: string;
  apiBase: string;
  say: (line: string) => void;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `fn` (errors count as "not yet") until it returns a value; the demos' wait. */
export async function until<T>(
  what: string,
  fn: () => Promise<T | false | undefined>,
  timeoutMs = 120_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const v = await fn();
      if (v !== false && v !== undefined) return v;
    } catch {
      // not yet
    }
    if (Date.now() > deadline)
      throw new MedrelayError('MR_ERR_DEMO_MISMATCH', `timed out waiting for ${what}`);
    await sleep(300);
  }
}

/** A synthetic lab + diagnosis Bundle dated relative to now (so the consent's 6-month data window applies). */
function syntheticBundle(): Record<string, unknown> {
  const day = (daysAgo: number) => new Date(Date.now() - daysAgo * 86_400_000).toISOString().slice(0, 10);
  const lab = (id: string, code: string, display: string, value: number, unit: string, daysAgo: number) => ({
    resource: {
      resourceType: 'Observation',
      id,
      status: 'final',
      category: [{ coding: [{ system: OBS_CATEGORY, code: 'laboratory' }] }],
      code: { coding: [{ system: LOINC, code, display }] },
      effectiveDateTime: day(daysAgo),
      valueQuantity: { value, unit },
    },
  });
  return {
    resourceType: 'Bundle',
    type: 'collection',
    entry: [
      { resource: { resourceType: 'Patient', id: 'p1', gender: 'female', birthDate: '1961-04-02' } },
      {
        resource: {
          resourceType: 'Condition',
          id: 'c1',
          code: { coding: [{ system: ICD10, code: 'I10', display: 'Essential (primary) hypertension' }] },
          recordedDate: day(40),
        },
      },
      lab('o1', '4548-4', 'Hemoglobin A1c', 6.1, '%', 30),
      lab('o2', '2345-7', 'Glucose', 5.8, 'mmol/L', 30),
    ],
  };
}

export async function runRecordsDemo(ctx: RecordsDemoContext): Promise<void> {
  const { devnet } = ctx;
  const began = Date.now();
  const say = (line: string) => ctx.say(`${line} [+${((Date.now() - began) / 1000).toFixed(1)} s]`);
  const a = devnet.chain('medical-a');
  const ins = devnet.chain('insurer');
  const records = devnet.channels.find((c) => c.source === 'medical-a' && c.dest === 'insurer');
  if (!records || !ins.contracts.disclosureVerifier) {
    throw new MedrelayError('MR_ERR_DEMO_MISMATCH', 'the devnet has no medical-a → insurer records channel');
  }
  const vaultDir = mkdtempSync(join(tmpdir(), 'medrelay-demo-vault-'));
  const providers: JsonRpcProvider[] = [];
  try {
    // Decryptions are audited by the reading institution: the insurer's account anchors them in medical-a's
    // AuditLog (the patient's home chain), next to what the relayer records.
    const pa = new JsonRpcProvider(a.rpcUrl, a.spec.chainId, { staticNetwork: true });
    providers.push(pa);
    const auditLog = new Contract(
      a.contracts.auditLog,
      loadArtifact('AuditLog').abi as InterfaceAbi,
      new NonceManager(new Wallet(devKey(DEV_ACCOUNT.deployer), pa)),
    );
    await (
      await auditLog.getFunction('setWriter')(new Wallet(devKey(DEV_ACCOUNT.insurer)).address, true)
    ).wait();
    const insurerOnA = new EvmAdapter({
      name: 'medical-a',
      chainId: BigInt(a.spec.chainId),
      rpcUrl: a.rpcUrl,
      privateKey: devKey(DEV_ACCOUNT.insurer),
      contracts: { outbox: a.contracts.outbox, inbox: a.contracts.inbox, lightClients: {} },
    });
    const trail = new AuditTrail(ctx.redis, {
      prefix: ctx.keyPrefix,
      anchor: auditLogAnchor(insurerOnA, a.contracts.auditLog),
    });
    const vault = await FileRecordVault.open(vaultDir, {
      onAccess: auditRecordAccess(trail, { observer: 'Device/insurer-vault-reader' }),
    });
    const keys = { hospital: generateRecipientKeyPair(), insurer: generateRecipientKeyPair() };
    const patient = generatePatientKeys();
    const hospital = new HospitalClient({
      rpcUrl: a.rpcUrl,
      chainId: a.spec.chainId,
      privateKey: devKey(DEV_ACCOUNT.hospital),
      contracts: {
        recordRegistry: a.contracts.recordRegistry,
        consentRegistry: a.contracts.consentRegistry,
        recordProofSender: a.contracts.recordProofSender,
      },
      vault,
    });
    const insurer = new InsurerClient({
      rpcUrl: ins.rpcUrl,
      chainId: ins.spec.chainId,
      privateKey: devKey(DEV_ACCOUNT.insurer),
      contracts: {
        disclosureVerifier: ins.contracts.disclosureVerifier,
        codeMapRegistry: ins.contracts.codeMapRegistry,
      },
      codeMaps: [SEED_CODE_MAP],
      vault,
      reader: { id: INSURER, privateKey: keys.insurer.privateKey },
    });

    // 1. Anchor.
    const bundle = syntheticBundle();
    // Held by the patient and the hospital: the same secret and identifier always give the same pseudonym.
    const patientSecret = new Uint8Array(randomBytes(32));
    const patientIdentifier = {
      system: 'https://hospital-a.example/mrn',
      value: `MRN-${randomBytes(3).toString('hex')}`,
    };
    const anchored = await hospital.anchorRecord(bundle, {
      patientSecret,
      patientIdentifier,
      recipients: [
        { id: 'Organization/hospital-a', publicKey: keys.hospital.publicKey },
        { id: INSURER, publicKey: keys.insurer.publicKey },
      ],
    });
    const pseudonym = anchored.pseudonym;
    say(
      `  hospital A anchored record ${anchored.recordId.slice(0, 10)}…: SHA-256 of its RFC 8785 form ${anchored.anchor.recordHash.slice(0, 10)}…, ${anchored.tree.elements.length} salted elements, EIP-712 signed; body encrypted in the vault for hospital A and the insurer`,
    );
    say(`  patient on chain only as pseudonym ${pseudonym.slice(0, 10)}…`);

    // 2. Consent on the priority lane.
    const consent = labsForClaimsConsent({
      patient: `Patient/${pseudonym.slice(2)}`,
      insurer: INSURER,
      grantedAt: new Date(Date.now() - 60_000),
    });
    const t0 = Date.now();
    const granted = await hospital.grantConsent(consent, {
      destChain: ins.spec.chainId,
      patientKey: patient.revocationAddress,
    });
    const pi = new JsonRpcProvider(ins.rpcUrl, ins.spec.chainId, { staticNetwork: true });
    providers.push(pi);
    const mirror = new Contract(
      ins.contracts.consentMirror,
      loadArtifact('ConsentMirror').abi as InterfaceAbi,
      pi,
    );
    const recipientRef = granted.recipient;
    await until(
      'the consent on the insurer chain',
      async () =>
        (await mirror.getFunction('isActive')(
          granted.consentId,
          recipientRef,
          Math.floor(Date.now() / 1000),
        )) as boolean,
    );
    say(
      `  consent "insurer may read the last 6 months of lab results for claims, for one month" (hash ${granted.consentHash.slice(0, 10)}…) granted and relayed on the priority lane: active on the insurer chain after ${((Date.now() - t0) / 1000).toFixed(1)} s`,
    );

    // 3. Record proof.
    await hospital.sendRecordProof({
      channel: records.id,
      receiver: ins.contracts.recordProofStore,
      recordId: anchored.recordId,
      consentId: granted.consentId,
    });
    await until('the record proof on the insurer chain', () => insurer.recordProof(anchored.recordId));
    say(
      '  record proof delivered: the insurer chain checked the QBFT seals, the Merkle proofs, the hospital signature and the consent',
    );

    // 4. Data dictionary + disclosure.
    const ref = codeMapRef(SEED_CODE_MAP);
    await new ChainClient({
      rpcUrl: ins.rpcUrl,
      chainId: ins.spec.chainId,
      privateKey: devKey(DEV_ACCOUNT.hospital),
    }).write(ins.contracts.codeMapRegistry, 'CodeMapRegistry', 'anchorCodeMap', [
      ref.id,
      ref.version,
      ref.hash,
    ]);
    const cond = 'Bundle.entry[1].resource.Condition.code.coding[0]';
    const disclosure = disclose(anchored.tree, [`${cond}.system`, `${cond}.code`], {
      recordId: anchored.recordId,
      codeMap: ref,
    });
    const verified = await insurer.verifyDisclosure(anchored.recordId, disclosure);
    const receipt = await pi.getTransactionReceipt(verified.txHash);
    const snomed = verified.translations.flatMap((t) => t.to.map((x) => x.code)).join(', ');
    say(
      `  disclosure: Condition.code = ICD-10 I10 (2 of ${anchored.tree.elements.length} elements) verified locally and on chain (${receipt?.gasUsed.toString()} gas); code map ${ref.id} v${ref.version} → SNOMED CT ${snomed}; nothing else revealed`,
    );

    // 5. Decrypt under the consent; a request outside it is refused.
    const labs = {
      purpose: CLAIMS,
      data: {
        class: 'Observation',
        codes: [
          { system: OBS_CATEGORY, code: 'laboratory' },
          { system: LOINC, code: '4548-4' },
        ],
        date: new Date(Date.now() - 30 * 86_400_000).toISOString().slice(0, 10),
      },
    };
    const fetched = await insurer.fetchRecord(anchored.recordId, consent, labs);
    say(
      `  insurer decrypted the record under the consent (${fetched.bytes.length} bytes, SHA-256 matches the anchor)`,
    );
    try {
      await insurer.fetchRecord(anchored.recordId, consent, {
        ...labs,
        data: { ...labs.data, class: 'Condition' },
      });
      throw new MedrelayError('MR_ERR_DEMO_MISMATCH', 'the insurer read data outside its consent');
    } catch (err) {
      if ((err as MedrelayError).code !== 'MR_ERR_RECORD_ACCESS_DENIED') throw err;
      say(
        `  the same insurer asking for the diagnoses instead of lab results is refused: ${(err as Error).message}`,
      );
    }

    // 6. Revocation by the patient, then a record proof under it is refused at delivery.
    await revokeBySignature(
      // Anyone may submit the patient's signed revocation; the devnet deployer pays the gas here.
      { rpcUrl: a.rpcUrl, chainId: a.spec.chainId, privateKey: devKey(DEV_ACCOUNT.deployer) },
      a.contracts.consentRegistry,
      granted.consentId,
      { revocationKey: patient.revocationKey },
    );
    const second = await hospital.anchorRecord(syntheticBundle(), {
      patientSecret,
      patientIdentifier,
      recipients: [{ id: INSURER, publicKey: keys.insurer.publicKey }],
    });
    const sent = await hospital.sendRecordProof({
      channel: records.id,
      receiver: ins.contracts.recordProofStore,
      recordId: second.recordId,
      consentId: granted.consentId,
    });
    await until(
      'the revocation on the insurer chain',
      async () =>
        !((await mirror.getFunction('isActive')(
          granted.consentId,
          recipientRef,
          Math.floor(Date.now() / 1000),
        )) as boolean),
    );
    say(
      '  patient revoked the consent with their own key: relayed on the priority lane, inactive on the insurer chain',
    );
    const sender = new Contract(
      a.contracts.recordProofSender,
      loadArtifact('RecordProofSender').abi as InterfaceAbi,
      pa,
    );
    const fate = await until('the refused record proof to be acknowledged', async () => {
      const d = Number(await sender.getFunction('delivery')(sent.packetId));
      return d > 1 ? d : false;
    });
    if (fate !== 3)
      throw new MedrelayError('MR_ERR_DEMO_MISMATCH', `record proof after revocation ended as ${fate}`);
    say(
      '  a record proof sent under the revoked consent was refused at delivery (APP_ERROR: consent revoked), acknowledged as Failed',
    );

    // 7. The patient's audit trail.
    const keysStore = new PatientKeys(ctx.redis, { prefix: ctx.keyPrefix });
    await keysStore.register(pseudonym, patient.authPublicKey);
    const wanted = [
      'record-anchored',
      'consent-granted',
      'record-proof-delivered',
      'disclosure-verified',
      'consent-revoked',
      'record-proof-refused',
    ];
    const page = await until('the audit trail', async () => {
      const p = await fetchAuditTrail(ctx.apiBase, pseudonym, patient.authKey, { limit: 100 });
      const codes = new Set(p.items.map((e) => e.event.subtype?.[0]?.code));
      return wanted.every((w) => codes.has(w)) ? p : false;
    });
    say(
      `  patient's audit trail (challenge signed with the patient's Ed25519 key, GET /patients/${pseudonym.slice(0, 10)}…/audit):`,
    );
    const byTime = [...page.items].sort((x, y) => x.event.recorded.localeCompare(y.event.recorded));
    for (const e of byTime) {
      const ev = e.event;
      say(
        `    ${ev.recorded}  ${(ev.subtype?.[0]?.code ?? ev.type.code).padEnd(24)} action ${ev.action ?? '-'} outcome ${ev.outcome ?? '-'}  entry ${e.hash.slice(0, 10)}… ${e.anchored ? 'anchored' : 'pending anchor'}`,
      );
    }
    await trail.retryAnchors();
  } finally {
    for (const p of providers) p.destroy();
    rmSync(vaultDir, { recursive: true, force: true });
  }
}
