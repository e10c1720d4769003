/**
 * Referral end to end on a real devnet (medical-a → medical-b, QBFT-sealed anvils), a real Redis (unique prefix)
 * and the relayer in process with the audit recorder and patient API: hospital A anchors a FHIR Bundle, grants
 * the "hospital B may read the referral summary" consent (relayed on the consent lane to medical-b's
 * ConsentMirror) and refers the patient; the relayer carries the referral; hospital B looks it up by referral id,
 * verifies anchor + institution signature + consent locally and decrypts the record from the vault; both sides
 * log the access; the patient is notified and reads the audit trail with a signed challenge.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { keccak256, toUtf8Bytes } from 'ethers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { contractInterface } from '../../adapters/evm/clients/chain.js';
import { consentIdOf } from '../../adapters/evm/clients/hospital.js';
import { fetchAuditTrail, generatePatientKeys } from '../../adapters/evm/clients/patient.js';
import type { Hex } from '../../proofs/bytes.js';
import { actReason, REFERRAL_NOTE, referralSummaryConsent } from '../../proofs/consent/seeds.js';
import { canonicalBytes } from '../../proofs/records/index.js';
import type { AuditEntry } from '../../relayer/audit/trail.js';
import {
  HOSPITAL_A,
  HOSPITAL_B,
  type ReferralWorld,
  referralBundle,
  startReferralWorld,
  until,
} from '../helpers/referral.js';

const SUBTYPE = (e: AuditEntry) => e.event.subtype?.[0]?.code;
const TREAT_REQUEST = {
  purpose: actReason('TREAT'),
  data: { class: 'DocumentReference', codes: [REFERRAL_NOTE] },
};

describe('referral e2e: medical-a → medical-b with consent, vault, audit trail', () => {
  let w: ReferralWorld;
  const secret = new Uint8Array(randomBytes(32));
  const identifier = {
    system: 'https://hospital-a.example/mrn',
    value: `MRN-${randomBytes(3).toString('hex')}`,
  };
  const patientKeys = generatePatientKeys();

  beforeAll(async () => {
    w = await startReferralWorld();
  }, 180_000);

  afterAll(async () => {
    await w?.stop();
  });

  it('refers, relays, verifies, decrypts, audits, notifies; the patient reads the trail', async () => {
    const bundle = referralBundle();
    const anchored = await w.hospitalA.anchorRecord(bundle, {
      patientSecret: secret,
      patientIdentifier: identifier,
      recipients: [
        { id: HOSPITAL_A, publicKey: w.keys.a.publicKey },
        { id: HOSPITAL_B, publicKey: w.keys.b.publicKey },
      ],
    });
    const pseudonym = anchored.pseudonym;
    await w.service.audit!.keys.register(pseudonym, patientKeys.authPublicKey);
    const consent = referralSummaryConsent({
      patient: `Patient/${pseudonym.slice(2)}`,
      grantedAt: new Date(Date.now() - 60_000),
    });
    const granted = await w.hospitalA.grantConsent(consent, {
      destChain: w.chainB,
      patientKey: patientKeys.revocationAddress,
    });
    expect(granted.consentId).toBe(consentIdOf(consent));

    // Refer right away: the referral lane yields to the consent lane, so the grant lands first.
    const referralId = keccak256(toUtf8Bytes(`referral:${randomBytes(8).toString('hex')}`)) as Hex;
    const sent = await w.hospitalA.refer(
      referralId,
      anchored.recordId,
      granted.consentId,
      w.chainB,
      HOSPITAL_B,
    );
    const t0 = sent.submittedAt;

    // Hospital B: look the referral up, verify it locally, decrypt.
    await until(
      'referral received on medical-b',
      () => w.hospitalB.receivedReferral(referralId),
      120_000,
      100,
    );
    const verified = await w.hospitalB.verifyReferral(referralId, consent, HOSPITAL_B);
    expect(verified.anchor.recordHash).toBe(anchored.anchor.recordHash);
    expect(verified.anchor.institution).toBe(w.hospitalA.institution);
    expect(verified.sourceChain).toBe(w.chainA);
    const record = await w.readerB.fetchRecord(anchored.recordId, consent, TREAT_REQUEST);
    const elapsedSec = (Date.now() - t0) / 1000;
    expect(Buffer.from(record.bytes).equals(Buffer.from(canonicalBytes(bundle)))).toBe(true);
    expect(record.resource).toEqual(bundle);
    console.log(`referral end to end (refer tx submitted → B decrypted): ${elapsedSec.toFixed(1)} s`);
    expect(elapsedSec).toBeLessThan(600);

    // Both sides log the access: A in its RecordRegistry, B by accepting (AuditLog entry via the gateway).
    const logged = await w.hospitalA.logAccess(anchored.recordId, HOSPITAL_B, 'TREAT');
    expect(logged.events.map((e) => e.name)).toEqual(['AccessLogged']);
    const accepted = await w.hospitalB.acceptReferral(referralId);
    expect(accepted.events.map((e) => e.name)).toEqual(['ReferralAccepted', 'PatientNotified']);

    // The patient was notified on medical-b (PatientNotified names the pseudonym only).
    const gwB = w.devnet.chain('medical-b').contracts.referralGateway;
    const notified = await w.hospitalB.chain.logs(gwB, [
      contractInterface('ReferralGateway').getEvent('PatientNotified')!.topicHash,
      pseudonym,
    ]);
    expect(notified.length).toBeGreaterThanOrEqual(1);

    // The patient reads the trail (signed challenge) and sees delivery (+ verification at delivery), the
    // notification, both accesses and the decryption.
    const wanted = [
      'record-anchored',
      'consent-granted',
      'referral-received',
      'patient-notified',
      'access-logged',
      'referral-accepted',
    ];
    const page = await until(
      'audit entries',
      async () => {
        const p = await fetchAuditTrail(w.service.apiUrl!, pseudonym, patientKeys.authKey, { limit: 100 });
        const codes = new Set(p.items.map(SUBTYPE));
        return wanted.every((c) => codes.has(c)) ? p : false;
      },
      60_000,
      500,
    );
    const bySubtype = (c: string) => page.items.filter((e) => SUBTYPE(e) === c);
    expect(bySubtype('referral-received')[0]!.event.outcomeDesc).toMatch(/verified at delivery/);
    const decryptions = page.items.filter((e) => e.event.type.code === '110106' && e.event.outcome === '0');
    expect(decryptions).toHaveLength(1);
    expect(decryptions[0]!.event.agent[0]!.who.reference).toBe(HOSPITAL_B);
    // Every entry is filed under the pseudonym only and anchored on chain (AuditLog on medical-b).
    await until(
      'entries anchored',
      async () => {
        const p = await fetchAuditTrail(w.service.apiUrl!, pseudonym, patientKeys.authKey, { limit: 100 });
        return p.items.every((e) => e.anchored) ? p : false;
      },
      60_000,
      500,
    );
    const json = JSON.stringify(page);
    expect(json).not.toContain(identifier.value);

    // A rescan of the whole chain history adds nothing (dedupe by tx hash + log index).
    const before = (await w.service.audit!.trail.list(pseudonym, { limit: 100 })).items.length;
    const recorder = w.service.audit!.recorder;
    for (const chain of ['medical-a', 'medical-b']) {
      const c = w.devnet.chain(chain);
      await recorder.scanRange(chain, BigInt(c.startHeight), await recorder.cursor(chain));
    }
    expect((await w.service.audit!.trail.list(pseudonym, { limit: 100 })).items.length).toBe(before);
  }, 240_000);

  it('refuses hospital C without consent, a tampered vault file, and a referral without consent on chain', async () => {
    const bundle = referralBundle('second visit');
    const anchored = await w.hospitalA.anchorRecord(bundle, {
      patientSecret: secret,
      patientIdentifier: identifier,
      recipients: [
        { id: HOSPITAL_A, publicKey: w.keys.a.publicKey },
        { id: HOSPITAL_B, publicKey: w.keys.b.publicKey },
      ],
    });
    const consent = referralSummaryConsent({
      patient: `Patient/${anchored.pseudonym.slice(2)}`,
      grantedAt: new Date(Date.now() - 60_000),
    });

    // Hospital C has no consent of its own: the vault refuses before decrypting (DENY_ACTOR).
    await expect(w.readerC.fetchRecord(anchored.recordId, consent, TREAT_REQUEST)).rejects.toMatchObject({
      code: 'MR_ERR_RECORD_ACCESS_DENIED',
      details: { decision: 'DENY_ACTOR' },
    });

    // A tampered envelope: one ciphertext byte flipped.
    const file = join(w.vaultDir, `${anchored.recordId.slice(2)}.json`);
    const env = JSON.parse(readFileSync(file, 'utf8')) as { ciphertext: string };
    const ct = Buffer.from(env.ciphertext, 'base64');
    ct[0]! ^= 1;
    writeFileSync(file, JSON.stringify({ ...env, ciphertext: ct.toString('base64') }));
    await expect(w.readerB.fetchRecord(anchored.recordId, consent, TREAT_REQUEST)).rejects.toMatchObject({
      code: 'MR_ERR_RECORD_TAMPERED',
    });

    // A referral naming a consent that was never granted is refused on medical-b (APP_ERROR, reason 1).
    const referralId = keccak256(toUtf8Bytes(`referral:${randomBytes(8).toString('hex')}`)) as Hex;
    const unknownConsent = keccak256(toUtf8Bytes('Consent/never-granted')) as Hex;
    await w.hospitalA.refer(referralId, anchored.recordId, unknownConsent, w.chainB, HOSPITAL_B);
    const gwA = w.devnet.chain('medical-a').contracts.referralGateway;
    const settled = await until(
      'referral settled on medical-a',
      async () => {
        const r = (await w.hospitalA.chain.read(gwA, 'ReferralGateway', 'referral', [referralId]))[0] as {
          status: bigint;
        };
        return Number(r.status) === 3 ? r : false; // Failed
      },
      120_000,
      250,
    );
    expect(Number(settled.status)).toBe(3);
    await expect(w.hospitalB.receivedReferral(referralId)).rejects.toMatchObject({
      code: 'MR_ERR_CLIENT_NOT_FOUND',
    });
    // The patient's trail says why, by code only.
    const refused = await until(
      'refusal in the trail',
      async () => {
        const p = await w.service.audit!.trail.list(anchored.pseudonym, { limit: 100 });
        return p.items.find((e) => SUBTYPE(e) === 'referral-refused');
      },
      60_000,
      250,
    );
    expect(refused.event.outcome).toBe('4');
    expect(refused.event.outcomeDesc).toMatch(/ReferralRefused reason 1 \(unknown consent\)/);
    // The refusals of C and of the tampered file are audited too (outcomes 4 and 8).
    const page = await w.service.audit!.trail.list(anchored.pseudonym, { limit: 100 });
    const outcomes = page.items.filter((e) => e.event.type.code === '110106').map((e) => e.event.outcome);
    expect(outcomes).toEqual(expect.arrayContaining(['4', '8']));
  }, 240_000);
});
