/**
 * Encrypted record vault over a tmp directory, consent-gated, auditing into a Redis audit trail: permitted and
 * denied fetches, tampered and half-written files, re-wrapping for a new recipient.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { bytesToHex, type Hex } from '../../proofs/bytes.js';
import type { ConsentRequest } from '../../proofs/consent/evaluate.js';
import {
  actReason,
  addMonthsUTC,
  labsForClaimsConsent,
  loinc,
  obsCategory,
  SEED_GRANTED_AT,
} from '../../proofs/consent/seeds.js';
import { patientPseudonym } from '../../proofs/records/anchor.js';
import { canonicalBytes } from '../../proofs/records/jcs.js';
import { auditRecordAccess } from '../../relayer/audit/record-access.js';
import { AuditTrail } from '../../relayer/audit/trail.js';
import { encryptRecord, generateRecipientKeyPair } from '../../relayer/records/crypto.js';
import { RecordError } from '../../relayer/records/errors.js';
import { FileRecordVault, type RecordAccessEvent } from '../../relayer/records/vault.js';
import { connectRedis, deleteKeysByPrefix, type Redis } from '../../relayer/redis.js';
import { makeBundle } from '../helpers/fhir-fixtures.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const PREFIX = `medrelay-test-vault-${process.pid}-${randomBytes(4).toString('hex')}`;

const INSURER = 'Organization/insurer-x';
const INSURER_Y = 'Organization/insurer-y';
const HOSPITAL_A = 'Organization/hospital-a';
const insurer = generateRecipientKeyPair();
const insurerY = generateRecipientKeyPair();
const hospitalA = generateRecipientKeyPair();

const pseudonym = patientPseudonym(randomBytes(32), 'https://hospital-a.example/mrn', 'MRN-4711');
const otherPatient = patientPseudonym(randomBytes(32), 'https://hospital-a.example/mrn', 'MRN-4712');
const patientRef = (p: string) => `Patient/${p.slice(2)}`;
const consent = labsForClaimsConsent({ patient: patientRef(pseudonym) });
const consentY = labsForClaimsConsent({ patient: patientRef(pseudonym), insurer: INSURER_Y });
const at = new Date(new Date(SEED_GRANTED_AT).getTime() + 7 * 86_400_000);
/** The vault's clock (the time of access); a week after the seed consents were granted. */
let clock = at;
const request = (over: Partial<ConsentRequest> = {}): ConsentRequest => ({
  actor: INSURER,
  purpose: actReason('CLMATTCH'),
  data: {
    class: 'Observation',
    codes: [obsCategory('laboratory'), loinc('2345-7')],
    date: addMonthsUTC(at, -2).toISOString().slice(0, 10),
  },
  at,
  ...over,
});

const bundle = makeBundle({ seed: 11 });
const bytes = canonicalBytes(bundle);
const hash = bytesToHex(createHash('sha256').update(bytes).digest());
const newId = (): Hex => bytesToHex(randomBytes(32));
const MARKER = '12345-MRN'; // an identifier inside the fixture: must never surface outside a permitted fetch

let redis: Redis;
let trail: AuditTrail;
let dir: string;
let vault: FileRecordVault;
const events: RecordAccessEvent[] = [];

async function putRecord(id: Hex = newId()): Promise<Hex> {
  await vault.put(
    id,
    bytes,
    hash,
    [
      { id: INSURER, publicKey: insurer.publicKey },
      { id: HOSPITAL_A, publicKey: hospitalA.publicKey },
    ],
    { patient: pseudonym },
  );
  return id;
}

async function expectDenied(p: Promise<unknown>, code: string): Promise<RecordError> {
  const err = await p.then(
    (v) => {
      throw new Error(`expected ${code}, got ${typeof v}`);
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(RecordError);
  expect((err as RecordError).code).toBe(code);
  expect(JSON.stringify({ m: (err as RecordError).message, d: (err as RecordError).details })).not.toContain(
    MARKER,
  );
  return err as RecordError;
}

beforeAll(async () => {
  redis = connectRedis(REDIS_URL, { prefix: PREFIX });
  trail = new AuditTrail(redis, { prefix: PREFIX, anchor: async () => {} });
  dir = await mkdtemp(join(tmpdir(), 'medrelay-vault-'));
  const audit = auditRecordAccess(trail, { observer: 'Device/medrelay-test', site: 'test' });
  vault = await FileRecordVault.open(dir, {
    now: () => clock,
    onAccess: async (e) => {
      events.push(e);
      await audit(e);
    },
  });
});

afterAll(async () => {
  await deleteKeysByPrefix(redis, PREFIX);
  redis.disconnect();
  await rm(dir, { recursive: true, force: true });
});

describe('FileRecordVault', () => {
  it('default: a permitted fetch decrypts, checks the hash and fires the audit hook', async () => {
    const id = await putRecord();
    const before = events.length;
    const out = await vault.fetch(id, {
      recipientId: INSURER,
      recipientPrivateKey: insurer.privateKey,
      consent,
      request: request(),
    });
    expect(Buffer.from(out)).toEqual(Buffer.from(bytes));
    expect(events.slice(before)).toEqual([
      expect.objectContaining({
        outcome: 'permitted',
        code: 'PERMIT',
        recordId: id,
        recordHash: hash,
        patient: pseudonym,
        recipientId: INSURER,
        consentId: consent.id,
      }),
    ]);
    const page = await trail.list(pseudonym, { limit: 1 });
    expect(page.items[0]).toMatchObject({
      anchored: true,
      event: {
        resourceType: 'AuditEvent',
        action: 'R',
        outcome: '0',
        entity: expect.arrayContaining([
          { what: { reference: `urn:medrelay:record:${id}` }, type: expect.anything() },
        ]),
      },
    });
    expect(JSON.stringify(page)).not.toContain(MARKER);
  });

  it('behavior: the file on disk is the envelope (0600), without plaintext', async () => {
    const id = await putRecord();
    const path = join(dir, `${id.slice(2)}.json`);
    const text = await readFile(path, 'utf8');
    expect(text).not.toContain(MARKER);
    expect(text).not.toContain('resourceType');
    expect(Object.keys(JSON.parse(text)).sort()).toEqual(
      ['ciphertext', 'iv', 'patient', 'recordHash', 'recordId', 'tag', 'version', 'wrappedKeys'].sort(),
    );
    expect((await stat(path)).mode & 0o777).toBe(0o600);
  });

  it.each([
    ['wrong actor', INSURER_Y, insurerY, () => request({ actor: INSURER_Y }), {}, 'DENY_ACTOR', at],
    // The caller's `at` (inside the validity period) is ignored: the vault's clock is the time of access.
    ['expired consent', INSURER, insurer, () => request(), {}, 'DENY_EXPIRED', addMonthsUTC(at, 2)],
    ['revoked consent', INSURER, insurer, () => request(), { revoked: true }, 'DENY_REVOKED', at],
  ] as const)(
    'error: %s → MR_ERR_RECORD_ACCESS_DENIED with the reason, no plaintext',
    async (_n, rid, keys, req, opts, decision, when) => {
      const id = await putRecord();
      clock = when;
      onTestFinished(() => {
        clock = at;
      });
      if (rid === INSURER_Y) {
        await vault.grantRecipient(
          id,
          { id: INSURER, privateKey: insurer.privateKey },
          { id: INSURER_Y, publicKey: insurerY.publicKey },
        );
      }
      const before = events.length;
      const err = await expectDenied(
        vault.fetch(id, {
          recipientId: rid,
          recipientPrivateKey: keys.privateKey,
          consent,
          request: req(),
          consentOptions: opts,
        }),
        'MR_ERR_RECORD_ACCESS_DENIED',
      );
      expect(err.details.decision).toBe(decision);
      expect(String(err.details.reason)).toMatch(/^denied: /);
      expect(err.message).toContain(String(err.details.reason));
      expect(events.slice(before)).toEqual([expect.objectContaining({ outcome: 'denied', code: decision })]);
      const [latest] = (await trail.list(pseudonym, { limit: 1 })).items;
      expect(latest?.event).toMatchObject({ outcome: '4', outcomeDesc: expect.stringContaining(decision) });
    },
  );

  it("error: a request for another actor than the decrypting recipient, or another patient's consent, is denied", async () => {
    const id = await putRecord();
    const e1 = await expectDenied(
      vault.fetch(id, {
        recipientId: HOSPITAL_A,
        recipientPrivateKey: hospitalA.privateKey,
        consent,
        request: request(), // actor insurer-x, but hospital-a would decrypt
      }),
      'MR_ERR_RECORD_ACCESS_DENIED',
    );
    expect(e1.details.decision).toBe('DENY_ACTOR');
    const e2 = await expectDenied(
      vault.fetch(id, {
        recipientId: INSURER,
        recipientPrivateKey: insurer.privateKey,
        consent: labsForClaimsConsent({ patient: patientRef(otherPatient) }),
        request: request(),
      }),
      'MR_ERR_RECORD_ACCESS_DENIED',
    );
    expect(e2.details.decision).toBe('DENY_PATIENT');
  });

  it('error: wrong key → MR_ERR_RECORD_KEY; unknown record → MR_ERR_RECORD_NOT_FOUND', async () => {
    const id = await putRecord();
    await expectDenied(
      vault.fetch(id, {
        recipientId: INSURER,
        recipientPrivateKey: insurerY.privateKey,
        consent,
        request: request(),
      }),
      'MR_ERR_RECORD_KEY',
    );
    await expectDenied(
      vault.fetch(newId(), {
        recipientId: INSURER,
        recipientPrivateKey: insurer.privateKey,
        consent,
        request: request(),
      }),
      'MR_ERR_RECORD_NOT_FOUND',
    );
  });

  it('error: a tampered file → MR_ERR_RECORD_TAMPERED, audited as a failure', async () => {
    const opts = {
      recipientId: INSURER,
      recipientPrivateKey: insurer.privateKey,
      consent,
      request: request(),
    };
    const id = await putRecord();
    const path = join(dir, `${id.slice(2)}.json`);
    const env = JSON.parse(await readFile(path, 'utf8'));
    const ct = Buffer.from(env.ciphertext, 'base64');
    ct[100]! ^= 0x80;
    await writeFile(path, JSON.stringify({ ...env, ciphertext: ct.toString('base64') }));
    const before = events.length;
    await expectDenied(vault.fetch(id, opts), 'MR_ERR_RECORD_TAMPERED');
    expect(events.slice(before)).toEqual([
      expect.objectContaining({ outcome: 'failed', code: 'MR_ERR_RECORD_TAMPERED' }),
    ]);

    // Authentic encryption of other bytes under the right hash: only the sha256 check catches it.
    const id2 = newId();
    const forged = encryptRecord({
      recordId: id2,
      recordHash: hash,
      plaintext: canonicalBytes({ ...bundle, id: 'swapped' }),
      recipients: [{ id: INSURER, publicKey: insurer.publicKey }],
    });
    await writeFile(join(dir, `${id2.slice(2)}.json`), JSON.stringify({ ...forged, patient: pseudonym }));
    const err = await expectDenied(vault.fetch(id2, opts), 'MR_ERR_RECORD_TAMPERED');
    expect(err.message).toContain('does not hash to recordHash');

    // An envelope copied under another record's name.
    const id3 = newId();
    await writeFile(
      join(dir, `${id3.slice(2)}.json`),
      await readFile(join(dir, `${(await putRecord()).slice(2)}.json`)),
    );
    await expectDenied(vault.fetch(id3, opts), 'MR_ERR_RECORD_TAMPERED');

    // Truncated JSON.
    const id4 = await putRecord();
    const p4 = join(dir, `${id4.slice(2)}.json`);
    await writeFile(p4, (await readFile(p4, 'utf8')).slice(0, 100));
    await expectDenied(vault.fetch(id4, opts), 'MR_ERR_RECORD_TAMPERED');
  });

  it('behavior: crash safety — a leftover temp file does not corrupt reads or later writes', async () => {
    const id = await putRecord();
    const name = id.slice(2);
    // What a crash between write and rename leaves: a half-written temp file next to the record.
    const full = await readFile(join(dir, `${name}.json`), 'utf8');
    await writeFile(join(dir, `.${name}.deadbeef0000.tmp`), full.slice(0, full.length / 2));
    // And a crash while creating a record that never got its name.
    const orphan = newId();
    await writeFile(join(dir, `.${orphan.slice(2)}.cafebabe0000.tmp`), '{"version":1,"recordId":');

    const opts = {
      recipientId: INSURER,
      recipientPrivateKey: insurer.privateKey,
      consent,
      request: request(),
    };
    expect(Buffer.from(await vault.fetch(id, opts))).toEqual(Buffer.from(bytes));
    expect(await vault.has(orphan)).toBe(false);
    await expectDenied(vault.fetch(orphan, opts), 'MR_ERR_RECORD_NOT_FOUND');
    // The orphan's id is still free, and a re-wrap of the first record still works next to its stale temp.
    await putRecord(orphan);
    expect(Buffer.from(await vault.fetch(orphan, opts))).toEqual(Buffer.from(bytes));
    await vault.grantRecipient(
      id,
      { id: INSURER, privateKey: insurer.privateKey },
      { id: INSURER_Y, publicKey: insurerY.publicKey },
    );
    expect(Buffer.from(await vault.fetch(id, opts))).toEqual(Buffer.from(bytes));
    // The vault's own writes leave no temp files behind.
    const temps = (await readdir(dir)).filter((f) => f.endsWith('.tmp'));
    expect(temps.sort()).toEqual(
      [`.${name}.deadbeef0000.tmp`, `.${orphan.slice(2)}.cafebabe0000.tmp`].sort(),
    );
  });

  it('behavior: put refuses an existing id and a wrong hash; the stored record is untouched', async () => {
    const id = await putRecord();
    const before = await readFile(join(dir, `${id.slice(2)}.json`), 'utf8');
    await expectDenied(putRecord(id), 'MR_ERR_RECORD_EXISTS');
    await expectDenied(
      vault.put(newId(), bytes, bytesToHex(randomBytes(32)), [{ id: INSURER, publicKey: insurer.publicKey }]),
      'MR_ERR_RECORD_INPUT',
    );
    expect(await readFile(join(dir, `${id.slice(2)}.json`), 'utf8')).toBe(before);
  });

  it('behavior: grantRecipient re-wraps for a new recipient, who can then fetch under their consent', async () => {
    const id = await putRecord();
    const optsY = {
      recipientId: INSURER_Y,
      recipientPrivateKey: insurerY.privateKey,
      consent: consentY,
      request: request({ actor: INSURER_Y }),
    };
    await expectDenied(vault.fetch(id, optsY), 'MR_ERR_RECORD_KEY');
    // Two concurrent grants: neither overwrites the other.
    const extra = generateRecipientKeyPair();
    await Promise.all([
      vault.grantRecipient(
        id,
        { id: HOSPITAL_A, privateKey: hospitalA.privateKey },
        { id: INSURER_Y, publicKey: insurerY.publicKey },
      ),
      vault.grantRecipient(
        id,
        { id: INSURER, privateKey: insurer.privateKey },
        { id: 'Organization/extra', publicKey: extra.publicKey },
      ),
    ]);
    const env = JSON.parse(await readFile(join(dir, `${id.slice(2)}.json`), 'utf8'));
    expect(Object.keys(env.wrappedKeys).sort()).toEqual(
      [HOSPITAL_A, INSURER, INSURER_Y, 'Organization/extra'].sort(),
    );
    expect(Buffer.from(await vault.fetch(id, optsY))).toEqual(Buffer.from(bytes));
    // A holder with the wrong key cannot grant.
    await expectDenied(
      vault.grantRecipient(
        id,
        { id: INSURER, privateKey: insurerY.privateKey },
        { id: 'Organization/mallory', publicKey: extra.publicKey },
      ),
      'MR_ERR_RECORD_KEY',
    );
  });

  it('error: when the audit hook fails, nothing is released (MR_ERR_RECORD_AUDIT)', async () => {
    const strict = await FileRecordVault.open(dir, {
      now: () => clock,
      onAccess: () => {
        throw new Error('audit store down');
      },
    });
    const id = await putRecord();
    await expectDenied(
      strict.fetch(id, {
        recipientId: INSURER,
        recipientPrivateKey: insurer.privateKey,
        consent,
        request: request(),
      }),
      'MR_ERR_RECORD_AUDIT',
    );
  });
});
