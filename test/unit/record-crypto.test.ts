/** Record encryption (relayer/records/crypto.ts): AES-256-GCM body, X25519 + HKDF-SHA256 key wraps. */
import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { bytesToHex } from '../../proofs/bytes.js';
import { canonicalBytes } from '../../proofs/records/jcs.js';
import {
  decryptRecord,
  type EncryptedRecord,
  encryptRecord,
  generateRecipientKeyPair,
  recipientKeyId,
  unwrapKey,
  type WrappedKey,
  wrapKey,
} from '../../relayer/records/crypto.js';
import { RecordError } from '../../relayer/records/errors.js';
import { makeBundle } from '../helpers/fhir-fixtures.js';

const INSURER = 'Organization/insurer-x';
const HOSPITAL = 'Organization/hospital-b';
const insurer = generateRecipientKeyPair();
const hospital = generateRecipientKeyPair();
const plaintext = canonicalBytes(makeBundle({ seed: 7 }));
const recordHash = bytesToHex(createHash('sha256').update(plaintext).digest());
const recordId = bytesToHex(randomBytes(32));

const seal = (): EncryptedRecord =>
  encryptRecord({
    recordId,
    recordHash,
    plaintext,
    recipients: [
      { id: INSURER, publicKey: insurer.publicKey },
      { id: HOSPITAL, publicKey: hospital.publicKey },
    ],
  });

function expectCode(fn: () => unknown, code: string): RecordError {
  let result: unknown;
  try {
    result = fn();
  } catch (err) {
    expect(err).toBeInstanceOf(RecordError);
    expect((err as RecordError).code).toBe(code);
    // Errors name ids only: never plaintext, never keys.
    expect((err as RecordError).message).not.toContain('resourceType');
    return err as RecordError;
  }
  throw new Error(`expected ${code}, got a result of ${String((result as Uint8Array)?.length)} bytes`);
}

/** Flips one bit of a base64 field. */
function flip(b64: string, byte = 0): string {
  const b = Buffer.from(b64, 'base64');
  b[byte % b.length]! ^= 0x01;
  return b.toString('base64');
}

function withWrap(env: EncryptedRecord, id: string, patch: Partial<WrappedKey>): EncryptedRecord {
  return { ...env, wrappedKeys: { ...env.wrappedKeys, [id]: { ...env.wrappedKeys[id]!, ...patch } } };
}

describe('encryptRecord / decryptRecord', () => {
  it('default: round trip returns the canonical bytes', () => {
    const env = seal();
    expect(env.version).toBe(1);
    expect(env.recordId).toBe(recordId);
    expect(Buffer.from(env.iv, 'base64')).toHaveLength(12);
    expect(Buffer.from(env.tag, 'base64')).toHaveLength(16);
    expect(Buffer.from(decryptRecord(env, INSURER, insurer.privateKey))).toEqual(Buffer.from(plaintext));
  });

  it('behavior: two recipients each decrypt with their own key', () => {
    const env = seal();
    expect(Object.keys(env.wrappedKeys).sort()).toEqual([HOSPITAL, INSURER].sort());
    const a = decryptRecord(env, INSURER, insurer.privateKey);
    const b = decryptRecord(env, HOSPITAL, hospital.privateKey);
    expect(Buffer.from(a)).toEqual(Buffer.from(plaintext));
    expect(Buffer.from(b)).toEqual(Buffer.from(plaintext));
    expect(env.wrappedKeys[INSURER]!.keyId).toBe(recipientKeyId(insurer.publicKey));
    expect(env.wrappedKeys[INSURER]!.ephemeralPub).not.toBe(env.wrappedKeys[HOSPITAL]!.ephemeralPub);
  });

  it('behavior: fresh data key and IV per encryption; the stored form holds no plaintext', () => {
    const a = seal();
    const b = seal();
    expect(a.iv).not.toBe(b.iv);
    expect(a.ciphertext).not.toBe(b.ciphertext);
    const stored = JSON.stringify(a);
    expect(stored).not.toContain('Patient');
    expect(stored).not.toContain('12345-MRN');
  });

  it.each([
    ['ciphertext', (e: EncryptedRecord) => ({ ...e, ciphertext: flip(e.ciphertext, 17) })],
    ['ciphertext (truncated)', (e: EncryptedRecord) => ({ ...e, ciphertext: e.ciphertext.slice(0, 16) })],
    ['tag', (e: EncryptedRecord) => ({ ...e, tag: flip(e.tag, 15) })],
    [
      'tag (truncated to 12 bytes)',
      (e: EncryptedRecord) => ({
        ...e,
        tag: Buffer.from(e.tag, 'base64').subarray(0, 12).toString('base64'),
      }),
    ],
    ['iv', (e: EncryptedRecord) => ({ ...e, iv: flip(e.iv, 3) })],
    ['iv (not base64)', (e: EncryptedRecord) => ({ ...e, iv: '!!!!' })],
    ['AAD: recordId', (e: EncryptedRecord) => ({ ...e, recordId: bytesToHex(randomBytes(32)) })],
    ['AAD: recordHash', (e: EncryptedRecord) => ({ ...e, recordHash: bytesToHex(randomBytes(32)) })],
    [
      'wrapped key',
      (e: EncryptedRecord) => withWrap(e, INSURER, { wrapped: flip(e.wrappedKeys[INSURER]!.wrapped, 9) }),
    ],
    [
      'wrapped key tag',
      (e: EncryptedRecord) => withWrap(e, INSURER, { tag: flip(e.wrappedKeys[INSURER]!.tag) }),
    ],
    [
      'wrapped key iv',
      (e: EncryptedRecord) => withWrap(e, INSURER, { iv: flip(e.wrappedKeys[INSURER]!.iv) }),
    ],
    [
      'ephemeral public key',
      (e: EncryptedRecord) =>
        withWrap(e, INSURER, { ephemeralPub: flip(e.wrappedKeys[INSURER]!.ephemeralPub, 4) }),
    ],
    [
      'ephemeral public key (low order point)',
      (e: EncryptedRecord) => withWrap(e, INSURER, { ephemeralPub: Buffer.alloc(32).toString('base64') }),
    ],
    [
      "another recipient's wrap in this slot",
      (e: EncryptedRecord) =>
        withWrap(e, INSURER, { ...e.wrappedKeys[HOSPITAL]!, keyId: e.wrappedKeys[INSURER]!.keyId }),
    ],
  ])('error: tampered %s → MR_ERR_RECORD_TAMPERED', (_name, tamper) => {
    const env = tamper(seal());
    expectCode(() => decryptRecord(env, INSURER, insurer.privateKey), 'MR_ERR_RECORD_TAMPERED');
  });

  it('error: a ciphertext moved to another record (same keys) does not open', () => {
    const a = seal();
    const b = encryptRecord({
      recordId: bytesToHex(randomBytes(32)),
      recordHash,
      plaintext,
      recipients: [{ id: INSURER, publicKey: insurer.publicKey }],
    });
    const spliced = { ...a, wrappedKeys: b.wrappedKeys };
    expectCode(() => decryptRecord(spliced, INSURER, insurer.privateKey), 'MR_ERR_RECORD_TAMPERED');
  });

  it('error: wrong recipient key → MR_ERR_RECORD_KEY', () => {
    const env = seal();
    expectCode(() => decryptRecord(env, INSURER, hospital.privateKey), 'MR_ERR_RECORD_KEY');
    expectCode(() => decryptRecord(env, INSURER, generateRecipientKeyPair().privateKey), 'MR_ERR_RECORD_KEY');
  });

  it('error: a recipient without a wrap → MR_ERR_RECORD_KEY', () => {
    const other = generateRecipientKeyPair();
    const err = expectCode(
      () => decryptRecord(seal(), 'Organization/other', other.privateKey),
      'MR_ERR_RECORD_KEY',
    );
    expect(err.details.recipientId).toBe('Organization/other');
  });

  it('error: malformed inputs → MR_ERR_RECORD_INPUT', () => {
    const pk = insurer.publicKey;
    expectCode(
      () =>
        encryptRecord({
          recordId: '0x12',
          recordHash,
          plaintext,
          recipients: [{ id: INSURER, publicKey: pk }],
        }),
      'MR_ERR_RECORD_INPUT',
    );
    expectCode(
      () =>
        encryptRecord({ recordId, recordHash, plaintext, recipients: [{ id: 'insurer x', publicKey: pk }] }),
      'MR_ERR_RECORD_INPUT',
    );
    expectCode(
      () => encryptRecord({ recordId, recordHash, plaintext, recipients: [] }),
      'MR_ERR_RECORD_INPUT',
    );
    expectCode(
      () =>
        encryptRecord({
          recordId,
          recordHash,
          plaintext,
          recipients: [
            { id: INSURER, publicKey: pk },
            { id: INSURER, publicKey: pk },
          ],
        }),
      'MR_ERR_RECORD_INPUT',
    );
    // A low-order point would give an all-zero shared secret.
    expectCode(
      () =>
        wrapKey(randomBytes(32), { recordId, recordHash }, { id: INSURER, publicKey: new Uint8Array(32) }),
      'MR_ERR_RECORD_INPUT',
    );
  });
});

describe('wrapKey / unwrapKey', () => {
  const binding = { recordId, recordHash };

  it('default: unwraps the data key; every wrap uses a fresh ephemeral key', () => {
    const dataKey = randomBytes(32);
    const r = { id: INSURER, publicKey: insurer.publicKey };
    const w1 = wrapKey(dataKey, binding, r);
    const w2 = wrapKey(dataKey, binding, r);
    expect(w1.ephemeralPub).not.toBe(w2.ephemeralPub);
    expect(Buffer.from(unwrapKey(w1, binding, INSURER, insurer.privateKey))).toEqual(dataKey);
    expect(Buffer.from(unwrapKey(w2, binding, INSURER, insurer.privateKey))).toEqual(dataKey);
  });

  it('error: the wrap is bound to the recipient id and the record', () => {
    const w = wrapKey(randomBytes(32), binding, { id: INSURER, publicKey: insurer.publicKey });
    expectCode(
      () => unwrapKey(w, binding, 'Organization/insurer-y', insurer.privateKey),
      'MR_ERR_RECORD_TAMPERED',
    );
    expectCode(
      () => unwrapKey(w, { ...binding, recordId: bytesToHex(randomBytes(32)) }, INSURER, insurer.privateKey),
      'MR_ERR_RECORD_TAMPERED',
    );
    expectCode(() => unwrapKey(w, binding, INSURER, hospital.privateKey), 'MR_ERR_RECORD_KEY');
  });
});
