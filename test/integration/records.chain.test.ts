/**
 * Issue 3 contracts on two real anvils with real relaying (sealed QBFT headers, eth_getProof storage proofs,
 * accumulator range proofs): A = hospital chain (RecordRegistry, ConsentRegistry, RecordProofSender,
 * ReferralGateway), B = insurer / second medical chain (ConsentMirror, RecordProofStore, DisclosureVerifier,
 * CodeMapRegistry, AuditLog, ReferralGateway).
 */
import { type Contract, NonceManager, Signature, SigningKey, Wallet } from 'ethers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hex } from '../../proofs/bytes.js';
import {
  type Anchor,
  anchorDigest,
  buildDisclosureTree,
  type DisclosureTree,
  disclose,
  patientPseudonym,
  recordHash,
} from '../../proofs/records/index.js';
import {
  advanceTime,
  errorInterface,
  latestTimestamp,
  revertOf,
  startChain,
  stopChain,
  type TestChain,
} from '../helpers/chain.js';
import {
  attach,
  type Bound,
  type ConsentRegistryContract,
  deployContract,
  deployRelayContracts,
  type Endpoint,
  openChannel,
  RECIPIENT_REF,
  type RegistryContract,
} from '../helpers/deploy.js';
import { testValidators } from '../helpers/qbft-seal.js';
import {
  ANVIL_KEYS,
  anchorArg,
  id32,
  realisticRecord,
  relayPending,
  signedAnchor,
  signRevoke,
} from '../helpers/records.js';
import { receivedPackets } from '../helpers/relay.js';

const A_ID = 72001n;
const B_ID = 72002n;
const valsA = testValidators('medrelay-records-a');
const valsB = testValidators('medrelay-records-b');

const HOSPITAL_KEY = ANVIL_KEYS[2];
const CLINIC_KEY = ANVIL_KEYS[3]; // institution on B (receives referrals)
const PATIENT_KEY = `0x${'42'.repeat(32)}`;
const STRANGER_KEY = `0x${'43'.repeat(32)}`;
const PATIENT_ADDR = new Wallet(PATIENT_KEY).address;
const PATIENT = patientPseudonym(new Uint8Array(32).fill(7), 'urn:oid:1.2.36.146.595.217.0.1', '12345-MRN');
const CLINIC_REF = id32('Organization/clinic-b');
const FAR = 2n ** 63n;
const SECP_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;

let A: TestChain;
let B: TestChain;
let a: Endpoint;
let b: Endpoint;
let hospital: NonceManager;
let consentCh: string;
let recordsCh: string;
let registry: RegistryContract; // A's, as the hospital
let consents: ConsentRegistryContract; // A's, as the hospital
let sender: Dyn; // A's RecordProofSender, as the hospital
let now: bigint;

/** A contract whose every method is assumed to exist (typed by name in deploy.ts only for the endpoint apps). */
type Dyn = Bound<
  | 'sendRecordProof'
  | 'checkDisclosure'
  | 'verifyDisclosure'
  | 'anchorCodeMap'
  | 'codeMap'
  | 'setWriter'
  | 'record'
  | 'recordBatch'
  | 'entryCount'
  | 'anchoredAt'
  | 'setRoute'
  | 'setTrustedSender'
  | 'setInstitutionRef'
  | 'refer'
  | 'referral'
  | 'acceptReferral'
>;
const dyn = (c: Contract): Dyn => c as Dyn;

const STATUS = { SUCCESS: 1, APP_ERROR: 2 } as const;
const REFUSAL = {
  UnknownConsent: 1n,
  ConsentRevoked: 2n,
  ConsentExpired: 4n,
  WrongRecipient: 7n,
  BadSignature: 8n,
} as const;

async function anchorRecord(
  recordId: string,
  disclosureRoot: string = id32(`root:${recordId}`),
): Promise<Anchor> {
  const { anchor, signature } = signedAnchor(HOSPITAL_KEY, A_ID, {
    recordId: recordId as Hex,
    recordHash: id32(`doc:${recordId}`),
    disclosureRoot: disclosureRoot as Hex,
    patient: PATIENT,
    anchoredAt: (await latestTimestamp(A)) - 10n,
  });
  await (await registry.anchorSigned(anchorArg(anchor), signature)).wait();
  return anchor;
}

async function grant(
  consentId: string,
  over: { recipient?: string; validFrom?: bigint; validUntil?: bigint } = {},
): Promise<void> {
  await (
    await consents.grant(
      consentId,
      PATIENT,
      new Wallet(PATIENT_KEY).address,
      over.recipient ?? RECIPIENT_REF,
      id32(`consent-doc:${consentId}`),
      over.validFrom ?? 0n,
      over.validUntil ?? FAR,
    )
  ).wait();
}

const relayConsents = (ch = consentCh) => relayPending(A, a, b, ch, valsA);

/** Sends a record proof, relays it; returns the Inbox status and decoded result/refusal. */
async function deliverRecord(recordId: string, consentId: string) {
  await (
    await sender.sendRecordProof(recordsCh, await b.recordStore.getAddress(), recordId, consentId, 0)
  ).wait();
  await relayPending(A, a, b, recordsCh, valsA);
  const last = (await receivedPackets(b.inbox, recordsCh)).at(-1)!;
  const refusal = last.status === STATUS.APP_ERROR ? errorInterface().parseError(last.result) : null;
  return { status: last.status, refusal: refusal ? { name: refusal.name, args: [...refusal.args] } : null };
}

beforeAll(async () => {
  [A, B] = await Promise.all([startChain(Number(A_ID)), startChain(Number(B_ID))]);
  ({ a, b } = await deployRelayContracts(
    { signer: A.signer, chainId: A.chainId, validators: valsA.addresses },
    { signer: B.signer, chainId: B.chainId, validators: valsB.addresses },
  ));
  consentCh = await openChannel(a, 'consent', B_ID);
  recordsCh = await openChannel(a, 'records', B_ID);
  hospital = new NonceManager(new Wallet(HOSPITAL_KEY, A.provider));
  await (await a.registry.setInstitution(await hospital.getAddress(), true)).wait();
  await (await a.consentRegistry.setRoute(B_ID, consentCh, await b.consentMirror.getAddress())).wait();
  await (await a.consentRegistry.setDefaultDest(B_ID)).wait();
  registry = a.registry.connect(hospital) as RegistryContract;
  consents = a.consentRegistry.connect(hospital) as ConsentRegistryContract;
  sender = dyn(a.recordSender.connect(hospital) as Contract);
  now = await latestTimestamp(A);
}, 180_000);

afterAll(async () => {
  await Promise.all([stopChain(A), stopChain(B)]);
});

describe('RecordRegistry: signed anchors', () => {
  it('accepts an anchor signed by its registered institution and stores patient + signature', async () => {
    const anchor = await anchorRecord(id32('rec-signed'));
    const r = await a.registry.getRecord(anchor.recordId);
    expect(r.institution).toBe(anchor.institution);
    expect(r.patient).toBe(PATIENT);
    expect(r.sha256Hash).toBe(anchor.recordHash);
    expect(r.signature).toHaveLength(132);
    const [sa] = await a.registry.signedAnchor(anchor.recordId);
    expect(sa.anchoredAt).toBe(BigInt(anchor.anchoredAt));
  });

  it('rejects a bad signature, an unknown institution, high s, another chain id and a replay', async () => {
    const base = {
      recordId: id32('rec-bad'),
      recordHash: id32('doc-bad'),
      disclosureRoot: id32('root-bad'),
      patient: PATIENT,
      anchoredAt: now,
    };
    const good = signedAnchor(HOSPITAL_KEY, A_ID, base);
    // Signed by someone else for the hospital.
    const forgedSig = new SigningKey(STRANGER_KEY).sign(anchorDigest(good.anchor, A_ID)).serialized;
    expect(
      (await revertOf(() => registry.anchorSigned.staticCall(anchorArg(good.anchor), forgedSig))).name,
    ).toBe('WrongSigner');
    // A field changed after signing.
    const changed = anchorArg({ ...good.anchor, recordHash: id32('other') });
    expect((await revertOf(() => registry.anchorSigned.staticCall(changed, good.signature))).name).toBe(
      'WrongSigner',
    );
    // Unknown institution, correctly self-signed.
    const stranger = signedAnchor(STRANGER_KEY, A_ID, base);
    expect(
      await revertOf(() => registry.anchorSigned.staticCall(anchorArg(stranger.anchor), stranger.signature)),
    ).toEqual({ name: 'NotInstitution', args: [stranger.anchor.institution] });
    // High s: (r, n - s, v ^ 1) recovers the same signer but is not canonical.
    const sig = Signature.from(good.signature);
    const highS = `0x${sig.r.slice(2)}${(SECP_N - BigInt(sig.s)).toString(16).padStart(64, '0')}${(sig.v === 27 ? 28 : 27).toString(16)}`;
    expect(await revertOf(() => registry.anchorSigned.staticCall(anchorArg(good.anchor), highS))).toEqual({
      name: 'InvalidSignature',
      args: [3n],
    });
    // Signed for another chain.
    const other = signedAnchor(HOSPITAL_KEY, B_ID, base);
    expect(
      (await revertOf(() => registry.anchorSigned.staticCall(anchorArg(other.anchor), other.signature))).name,
    ).toBe('WrongSigner');
    // Malformed length, and an anchor time far in the future.
    expect(
      await revertOf(() =>
        registry.anchorSigned.staticCall(anchorArg(good.anchor), good.signature.slice(0, -2)),
      ),
    ).toEqual({ name: 'InvalidSignature', args: [1n] });
    const future = signedAnchor(HOSPITAL_KEY, A_ID, { ...base, anchoredAt: now + 100_000n });
    expect(
      (await revertOf(() => registry.anchorSigned.staticCall(anchorArg(future.anchor), future.signature)))
        .name,
    ).toBe('InvalidAnchorTime');
    // Accepted once, then AlreadyAnchored.
    await (await registry.anchorSigned(anchorArg(good.anchor), good.signature)).wait();
    expect(
      (await revertOf(() => registry.anchorSigned.staticCall(anchorArg(good.anchor), good.signature))).name,
    ).toBe('AlreadyAnchored');
    // An unsigned legacy anchor cannot be shared cross-chain.
    await (await registry.anchor(id32('rec-legacy'), id32('doc-legacy'), id32('root-legacy'))).wait();
    expect(
      (
        await revertOf(() =>
          sender.sendRecordProof.staticCall(
            recordsCh,
            b.recordStore.target,
            id32('rec-legacy'),
            id32('c'),
            0,
          ),
        )
      ).name,
    ).toBe('UnsignedAnchor');
  });
});

describe('consent: registry → packet → mirror', () => {
  it('a grant is relayed and active in the mirror; validation errors are custom errors', async () => {
    const c = id32('consent-1');
    await grant(c);
    expect(await a.consentRegistry.isActive(c, RECIPIENT_REF, now + 5n)).toBe(true);
    expect(await b.consentMirror.isActive(c, RECIPIENT_REF, now + 5n)).toBe(false);
    const { count } = await relayConsents();
    expect(count).toBe(1);
    expect(await b.consentMirror.isActive(c, RECIPIENT_REF, now + 5n)).toBe(true);
    expect(await b.consentMirror.isActive(c, id32('Organization/other'), now + 5n)).toBe(false);
    const m = await b.consentMirror.getConsent(c);
    expect(m.patient).toBe(PATIENT);
    expect(m.sourceChain).toBe(A_ID);
    expect(
      (await revertOf(() => consents.grant.staticCall(c, PATIENT, PATIENT_ADDR, RECIPIENT_REF, c, 0, FAR)))
        .name,
    ).toBe('ConsentExists');
    expect(
      (
        await revertOf(() =>
          consents.grant.staticCall(id32('x'), PATIENT, PATIENT_ADDR, RECIPIENT_REF, c, 10, 10),
        )
      ).name,
    ).toBe('InvalidPeriod');
    const outsider = a.consentRegistry.connect(await A.provider.getSigner(1)) as ConsentRegistryContract;
    expect(
      (
        await revertOf(() =>
          outsider.grant.staticCall(id32('y'), PATIENT, PATIENT_ADDR, RECIPIENT_REF, c, 0, FAR),
        )
      ).name,
    ).toBe('NotInstitution');
    expect(
      (
        await revertOf(() =>
          consents.grantTo.staticCall(999n, id32('z'), PATIENT, PATIENT_ADDR, RECIPIENT_REF, c, 0, FAR),
        )
      ).name,
    ).toBe('NoRoute');
  });

  it('revocation by the granting institution reaches the mirror', async () => {
    const c = id32('consent-inst-revoke');
    await grant(c);
    await relayConsents();
    expect(await b.consentMirror.isActive(c, RECIPIENT_REF, now + 5n)).toBe(true);
    const other = a.consentRegistry.connect(A.signer) as ConsentRegistryContract;
    expect((await revertOf(() => other.revoke.staticCall(c))).name).toBe('NotGrantor');
    await (await consents.revoke(c)).wait();
    expect(await a.consentRegistry.isActive(c, RECIPIENT_REF, now + 5n)).toBe(false);
    await relayConsents();
    expect(await b.consentMirror.isActive(c, RECIPIENT_REF, now + 5n)).toBe(false);
    expect((await b.consentMirror.getConsent(c)).revokedAt).toBeGreaterThan(0n);
    expect((await revertOf(() => consents.revoke.staticCall(c))).name).toBe('AlreadyRevoked');
  });

  it("revocation by the patient's EIP-712 signature (no hospital) reaches the mirror", async () => {
    const c = id32('consent-patient-revoke');
    await grant(c);
    await relayConsents();
    const anyone = a.consentRegistry.connect(await A.provider.getSigner(1)) as ConsentRegistryContract;
    const wrong = signRevoke(STRANGER_KEY, A_ID, c);
    expect((await revertOf(() => anyone.revokeBySignature.staticCall(c, wrong))).name).toBe('NotPatientKey');
    const otherChain = signRevoke(PATIENT_KEY, B_ID, c);
    expect((await revertOf(() => anyone.revokeBySignature.staticCall(c, otherChain))).name).toBe(
      'NotPatientKey',
    );
    await (await anyone.revokeBySignature(c, signRevoke(PATIENT_KEY, A_ID, c))).wait();
    await relayConsents();
    expect(await b.consentMirror.isActive(c, RECIPIENT_REF, now + 5n)).toBe(false);
  });

  it('a revocation that overtakes its grant (other channel) keeps the consent revoked', async () => {
    const c = id32('consent-overtaken');
    const fast = await openChannel(a, 'consent-fast', B_ID);
    await grant(c); // on the 'consent' channel, not relayed yet
    await (await a.consentRegistry.setRoute(B_ID, fast, await b.consentMirror.getAddress())).wait();
    await (await consents.revoke(c)).wait(); // on 'consent-fast'
    await (await a.consentRegistry.setRoute(B_ID, consentCh, await b.consentMirror.getAddress())).wait();
    await relayConsents(fast); // revocation first: tombstone
    expect((await b.consentMirror.getConsent(c)).revokedAt).toBeGreaterThan(0n);
    await relayConsents(); // then the grant
    const m = await b.consentMirror.getConsent(c);
    expect(m.granted).toBe(true);
    expect(m.revokedAt).toBeGreaterThan(0n);
    expect(await b.consentMirror.isActive(c, RECIPIENT_REF, now + 5n)).toBe(false);
    const last = (await receivedPackets(b.inbox, consentCh)).at(-1)!;
    expect(last.status).toBe(STATUS.SUCCESS);
  });
});

describe('RecordProofStore: refusal at delivery', () => {
  it('stores a record proof whose consent is active, recipient matches and signature verifies', async () => {
    const c = id32('consent-store-ok');
    await grant(c);
    await relayConsents();
    const anchor = await anchorRecord(id32('rec-ok'));
    const r = await deliverRecord(anchor.recordId, c);
    expect(r).toEqual({ status: STATUS.SUCCESS, refusal: null });
    const p = await b.recordStore.getRecordProof(anchor.recordId);
    expect(p.sha256Hash).toBe(anchor.recordHash);
    expect(p.patient).toBe(PATIENT);
    expect(p.consentRef).toBe(c);
    expect(p.sourceChain).toBe(A_ID);
  });

  const refused = async (recordId: string, consentId: string, reason: bigint) => {
    const r = await deliverRecord(recordId, consentId);
    expect(r.status).toBe(STATUS.APP_ERROR);
    expect(r.refusal).toEqual({ name: 'RecordProofRefused', args: [recordId, reason] });
    expect((await b.recordStore.getRecordProof(recordId)).packetId).toBe(`0x${'00'.repeat(32)}`);
  };

  it('refuses with a revoked consent (APP_ERROR, nothing stored)', async () => {
    const c = id32('consent-store-revoked');
    await grant(c);
    await (await consents.revoke(c)).wait();
    await relayConsents();
    await refused((await anchorRecord(id32('rec-revoked'))).recordId, c, REFUSAL.ConsentRevoked);
  });

  it('refuses with an unknown consent', async () => {
    await refused(
      (await anchorRecord(id32('rec-unknown'))).recordId,
      id32('never-granted'),
      REFUSAL.UnknownConsent,
    );
  });

  it('refuses with a consent for another recipient', async () => {
    const c = id32('consent-store-recipient');
    await grant(c, { recipient: id32('Organization/someone-else') });
    await relayConsents();
    await refused((await anchorRecord(id32('rec-recipient'))).recordId, c, REFUSAL.WrongRecipient);
  });

  it('refuses with an expired consent (destination clock past validUntil)', async () => {
    const c = id32('consent-store-expired');
    const until = (await latestTimestamp(B)) + 60n;
    await grant(c, { validUntil: until });
    await relayConsents();
    expect(await b.consentMirror.isActive(c, RECIPIENT_REF, until - 1n)).toBe(true);
    await advanceTime(B, 120);
    await refused((await anchorRecord(id32('rec-expired'))).recordId, c, REFUSAL.ConsentExpired);
  });
});

describe('DisclosureVerifier', () => {
  let verifier: Dyn;
  let tree: DisclosureTree;
  const recordId = id32('rec-disclosure');

  beforeAll(async () => {
    verifier = dyn(await deployContract('DisclosureVerifier', B.signer, await b.recordStore.getAddress()));
    const record = await realisticRecord();
    tree = buildDisclosureTree(record);
    expect(tree.elements.length).toBeGreaterThanOrEqual(55);
    expect(recordHash(record)).toHaveLength(32);
    const c = id32('consent-disclosure');
    await grant(c);
    await relayConsents();
    await anchorRecord(recordId, tree.root);
    expect((await deliverRecord(recordId, c)).status).toBe(STATUS.SUCCESS);
  });

  const args = (paths: string[]) => {
    const d = disclose(tree, paths, { recordId: recordId as Hex });
    return {
      elements: d.elements.map((e) => ({ salt: e.salt, path: e.path, value: e.value })),
      proof: d.proof,
      proofFlags: d.proofFlags,
    };
  };
  const pick = (n: number) =>
    tree.elements
      .filter((_, i) => i % Math.floor(tree.elements.length / n) === 0)
      .slice(0, n)
      .map((e) => e.path);

  for (const n of [1, 5, 20]) {
    it(`verifies a disclosure of ${n} element(s) on chain and emits DisclosureVerified`, async () => {
      const x = args(pick(n));
      expect(x.elements).toHaveLength(n);
      expect(await verifier.checkDisclosure(recordId, x.elements, x.proof, x.proofFlags)).toBe(true);
      const rc = await (await verifier.verifyDisclosure(recordId, x.elements, x.proof, x.proofFlags)).wait();
      const ev = verifier.interface.parseLog(rc.logs[0])!;
      expect(ev.name).toBe('DisclosureVerified');
      expect(ev.args.count).toBe(BigInt(n));
    });
  }

  it('rejects a wrong salt, path, value, flag or proof item, and unknown records', async () => {
    const x = args(pick(5));
    const bad = async (over: Partial<typeof x>) => {
      const y = { ...x, ...over };
      expect(await verifier.checkDisclosure(recordId, y.elements, y.proof, y.proofFlags)).toBe(false);
      expect(
        (
          await revertOf(() =>
            verifier.verifyDisclosure.staticCall(recordId, y.elements, y.proof, y.proofFlags),
          )
        ).name,
      ).toBe('InvalidDisclosure');
    };
    const el = (i: number, p: Partial<(typeof x.elements)[0]>) =>
      x.elements.map((e, j) => (j === i ? { ...e, ...p } : e));
    await bad({ elements: el(0, { salt: `0x${'00'.repeat(16)}` }) });
    await bad({ elements: el(1, { path: `${x.elements[1]!.path}x` }) });
    await bad({ elements: el(2, { value: '"tampered"' }) });
    await bad({ proofFlags: x.proofFlags.map((f, i) => (i === 0 ? !f : f)) });
    await bad({ proof: x.proof.map((p, i) => (i === 0 ? id32('forged') : p)) });
    await bad({ proof: x.proof.slice(1) });
    expect(
      (
        await revertOf(() =>
          verifier.verifyDisclosure.staticCall(id32('nope'), x.elements, x.proof, x.proofFlags),
        )
      ).name,
    ).toBe('UnknownRecord');
    expect(
      (await revertOf(() => verifier.verifyDisclosure.staticCall(recordId, [], [tree.root], []))).name,
    ).toBe('EmptyDisclosure');
  });
});

describe('CodeMapRegistry and AuditLog', () => {
  it('anchors a versioned code map by hash (owner or institution), once', async () => {
    const maps = dyn(await deployContract('CodeMapRegistry', A.signer, await a.registry.getAddress()));
    const asHospital = dyn(attach('CodeMapRegistry', await maps.getAddress(), hospital as never));
    const url = 'http://medrelay.example/fhir/ConceptMap/icd10-sct';
    await (await asHospital.anchorCodeMap(url, '1.0.0', id32('map-1'))).wait();
    await (await maps.anchorCodeMap(url, '1.1.0', id32('map-2'))).wait();
    expect(await maps.codeMap(url, '1.0.0')).toBe(id32('map-1'));
    expect(await maps.codeMap(url, '1.1.0')).toBe(id32('map-2'));
    expect(await maps.codeMap(url, '2.0.0')).toBe(`0x${'00'.repeat(32)}`);
    expect((await revertOf(() => maps.anchorCodeMap.staticCall(url, '1.0.0', id32('x')))).name).toBe(
      'CodeMapExists',
    );
    const outsider = dyn(attach('CodeMapRegistry', await maps.getAddress(), await A.provider.getSigner(1)));
    expect((await revertOf(() => outsider.anchorCodeMap.staticCall(url, '3', id32('x')))).name).toBe(
      'NotAuthorized',
    );
  });

  it('anchors audit entries, single and batch, by writers only', async () => {
    const log = dyn(await deployContract('AuditLog', A.signer));
    await (await log.setWriter(await A.signer.getAddress(), true)).wait();
    const rc = await (await log.record(PATIENT, id32('entry-1'), 0x52)).wait();
    const ev = log.interface.parseLog(rc.logs[0])!;
    expect(ev.name).toBe('AuditAnchored');
    expect(ev.args.patient).toBe(PATIENT);
    expect(ev.args.action).toBe(0x52n);
    await (await log.recordBatch(PATIENT, [id32('entry-2'), id32('entry-3')])).wait();
    expect(await log.entryCount(PATIENT)).toBe(3n);
    expect(await log.anchoredAt(PATIENT, id32('entry-3'))).toBeGreaterThan(0n);
    // Idempotent: a repeat (relayer retry) neither reverts nor counts twice nor logs again.
    const again = await (await log.record(PATIENT, id32('entry-1'), 0x52)).wait();
    expect(again.logs).toHaveLength(0);
    expect(await log.entryCount(PATIENT)).toBe(3n);
    const outsider = dyn(attach('AuditLog', await log.getAddress(), await A.provider.getSigner(1)));
    expect((await revertOf(() => outsider.record.staticCall(PATIENT, id32('e'), 1))).name).toBe('NotWriter');
  });
});

describe('ReferralGateway: A → B end to end', () => {
  it('refers a record; B checks consent + signature, stores it, notifies the patient; acceptance is audited', async () => {
    const refCh = await openChannel(a, 'referrals', B_ID);
    const auditA = dyn(await deployContract('AuditLog', A.signer));
    const auditB = dyn(await deployContract('AuditLog', B.signer));
    const deployGw = (side: Endpoint, signer: typeof A.signer, audit: Contract): Promise<Dyn> =>
      Promise.all([side.inbox.getAddress(), side.consentMirror.getAddress(), audit.getAddress()]).then(
        async ([inbox, mirror, auditAddr]) =>
          dyn(
            await deployContract(
              'ReferralGateway',
              signer,
              await side.outbox.getAddress(),
              inbox,
              await side.registry.getAddress(),
              mirror,
              auditAddr,
            ),
          ),
      );
    const gwA = await deployGw(a, A.signer, auditA);
    const gwB = await deployGw(b, B.signer, auditB);
    await (await gwA.setRoute(B_ID, refCh, await gwB.getAddress())).wait();
    await (await gwB.setTrustedSender(A_ID, await gwA.getAddress())).wait();
    const clinic = new Wallet(CLINIC_KEY, B.provider);
    await (await gwB.setInstitutionRef(CLINIC_REF, clinic.address)).wait();
    await (await auditB.setWriter(await gwB.getAddress(), true)).wait();

    // Consent recorded on A for the clinic, mirrored on B.
    const c = id32('consent-referral');
    await grant(c, { recipient: CLINIC_REF });
    await relayConsents();
    const anchor = await anchorRecord(id32('rec-referral'));
    const referralId = id32('referral-1');
    const asHospital = dyn(attach('ReferralGateway', await gwA.getAddress(), hospital as never));
    const strangerGw = dyn(attach('ReferralGateway', await gwA.getAddress(), A.signer));
    expect(
      (await revertOf(() => strangerGw.refer.staticCall(referralId, anchor.recordId, c, B_ID, CLINIC_REF)))
        .name,
    ).toBe('NotRecordInstitution');
    await (await asHospital.refer(referralId, anchor.recordId, c, B_ID, CLINIC_REF)).wait();
    expect((await gwA.referral(referralId)).status).toBe(1n); // Sent

    await relayPending(A, a, b, refCh, valsA);
    const recv = (await receivedPackets(b.inbox, refCh)).at(-1)!;
    expect(recv.status).toBe(STATUS.SUCCESS);
    const logs = await B.provider.getLogs({ address: await gwB.getAddress(), fromBlock: 0 });
    const names = logs.map((l) => gwB.interface.parseLog(l)?.name);
    expect(names).toContain('ReferralReceived');
    const notified = logs.map((l) => gwB.interface.parseLog(l)!).find((e) => e.name === 'PatientNotified')!;
    expect(notified.args.patient).toBe(PATIENT);
    expect(notified.args.referralId).toBe(referralId);
    const r = await gwB.referral(referralId);
    expect(r.status).toBe(4n); // Received
    expect(r.recordHash).toBe(anchor.recordHash);
    expect(r.institution).toBe(anchor.institution);
    expect(r.peerChain).toBe(A_ID);

    // Only the addressed institution accepts; acceptance anchors an audit entry for the patient.
    expect((await revertOf(() => gwB.acceptReferral.staticCall(referralId))).name).toBe(
      'NotReceivingInstitution',
    );
    const asClinic = dyn(attach('ReferralGateway', await gwB.getAddress(), clinic));
    const rc = await (await asClinic.acceptReferral(referralId)).wait();
    const audit = rc.logs
      .filter((l: { address: string }) => l.address === auditB.target)
      .map((l: never) => auditB.interface.parseLog(l)!);
    expect(audit.map((e: { name: string }) => e.name)).toEqual(['AuditAnchored']);
    expect(audit[0].args.patient).toBe(PATIENT);
    expect(audit[0].args.action).toBe(0x52n); // 'R'
    expect((await gwB.referral(referralId)).status).toBe(5n); // Accepted
    expect(await auditB.entryCount(PATIENT)).toBe(1n);

    // A referral without consent for the clinic is refused at delivery.
    const anchor2 = await anchorRecord(id32('rec-referral-2'));
    await (
      await asHospital.refer(id32('referral-2'), anchor2.recordId, id32('no-consent'), B_ID, CLINIC_REF)
    ).wait();
    await relayPending(A, a, b, refCh, valsA);
    const recv2 = (await receivedPackets(b.inbox, refCh)).at(-1)!;
    expect(recv2.status).toBe(STATUS.APP_ERROR);
    const err = errorInterface().parseError(recv2.result)!;
    expect([err.name, ...err.args]).toEqual(['ReferralRefused', id32('referral-2'), 1n]);
    expect((await gwB.referral(id32('referral-2'))).status).toBe(0n);
  });
});
