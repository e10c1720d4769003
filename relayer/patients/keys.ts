/**
 * Patient authentication keys (Ed25519, RFC 8032) registered by the hospital at enrolment, and the
 * challenge-response login in front of the patient audit API.
 *
 * A patient proves control of their key by signing `medrelay-audit-v1:<pseudonym>:<challenge>` (UTF-8) with a
 * challenge from `issueChallenge`. Keys: `${prefix}:patient:key:<pseudonym hex>` → raw 32-byte public key, hex.
 * Only the pseudonym (HMAC, records.md) is ever stored or logged.
 */
import { createPublicKey, type KeyObject, verify } from 'node:crypto';
import type { Redis } from 'ioredis';
import { MedrelayError } from '../../proofs/errors.js';
import { type IssuedChallenge, PatientChallenges, type PatientChallengesOptions } from './challenges.js';

/** `0x` + 64 lowercase hex, as `patientPseudonym` returns it. */
export const PSEUDONYM_RE = /^0x[0-9a-f]{64}$/;
/** Standard base64 of a 64-byte Ed25519 signature. */
const SIGNATURE_RE = /^[A-Za-z0-9+/]{86}==$/;
// RFC 8410 SubjectPublicKeyInfo prefix of an Ed25519 key (OID 1.3.101.112), to import a raw key.
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
/** Verified against when the patient is unknown, so that case costs the same as a bad signature. */
const DUMMY_KEY = createPublicKey({
  key: Buffer.concat([ED25519_SPKI_PREFIX, Buffer.alloc(32, 0x5a)]),
  format: 'der',
  type: 'spki',
});

/** The message a patient signs to read their audit trail. */
export function auditAuthMessage(pseudonym: string, challenge: string): string {
  return `medrelay-audit-v1:${pseudonym}:${challenge}`;
}

/** What the patient API needs: issue a challenge, check a signed one. */
export interface PatientAuthenticator {
  issueChallenge(pseudonym: string): Promise<IssuedChallenge>;
  /** True only for a live, unused challenge signed by the registered key; consumes the challenge. */
  authenticate(pseudonym: string, challenge: string, signatureB64: string): Promise<boolean>;
}

export type PatientKeysOptions = PatientChallengesOptions;

function bad(field: string, expected: string): never {
  throw new MedrelayError('MR_ERR_PATIENT_INPUT', `${field}: expected ${expected}`, { details: { field } });
}

function checkPseudonym(pseudonym: string): string {
  if (typeof pseudonym !== 'string' || !PSEUDONYM_RE.test(pseudonym))
    bad('pseudonym', '0x + 64 lowercase hex');
  return pseudonym.slice(2);
}

function rawEd25519(publicKey: string | Uint8Array): Buffer {
  if (publicKey instanceof Uint8Array) {
    if (publicKey.length !== 32) bad('publicKey', '32 raw Ed25519 bytes or an SPKI PEM');
    return Buffer.from(publicKey);
  }
  let key: KeyObject;
  try {
    key = createPublicKey({ key: publicKey, format: 'pem' });
  } catch {
    return bad('publicKey', 'an SPKI PEM public key');
  }
  if (key.asymmetricKeyType !== 'ed25519') bad('publicKey', 'an Ed25519 key');
  return key.export({ format: 'der', type: 'spki' }).subarray(ED25519_SPKI_PREFIX.length);
}

export class PatientKeys implements PatientAuthenticator {
  readonly challenges: PatientChallenges;

  constructor(
    private readonly redis: Redis,
    private readonly options: PatientKeysOptions,
  ) {
    if (!options.prefix || /[*?[\]\s]/.test(options.prefix))
      bad('prefix', 'a non-empty key prefix without glob characters');
    this.challenges = new PatientChallenges(redis, options);
  }

  private key(hex: string): string {
    return `${this.options.prefix}:patient:key:${hex}`;
  }

  /**
   * Registers (or rotates) a patient's Ed25519 public key, at enrolment by the hospital.
   *
   * @example
   * await keys.register(patientPseudonym(secret, system, mrn), publicKey.export({ format: 'pem', type: 'spki' }).toString());
   * @throws MedrelayError MR_ERR_PATIENT_INPUT for a malformed pseudonym or key
   */
  async register(pseudonym: string, publicKey: string | Uint8Array): Promise<void> {
    const hex = checkPseudonym(pseudonym);
    const raw = rawEd25519(publicKey);
    await this.redis.set(this.key(hex), raw.toString('hex'));
  }

  /** Removes a patient's key (e.g. a lost device); their challenges then never verify. */
  async unregister(pseudonym: string): Promise<boolean> {
    return (await this.redis.del(this.key(checkPseudonym(pseudonym)))) === 1;
  }

  async publicKey(pseudonym: string): Promise<KeyObject | null> {
    const hex = await this.redis.get(this.key(checkPseudonym(pseudonym)));
    if (hex === null) return null;
    return createPublicKey({
      key: Buffer.concat([ED25519_SPKI_PREFIX, Buffer.from(hex, 'hex')]),
      format: 'der',
      type: 'spki',
    });
  }

  /**
   * Challenges are issued for any well-formed pseudonym, registered or not, so the endpoint does not reveal
   * who is enrolled.
   */
  async issueChallenge(pseudonym: string): Promise<IssuedChallenge> {
    return this.challenges.issue(checkPseudonym(pseudonym));
  }

  async authenticate(pseudonym: string, challenge: string, signatureB64: string): Promise<boolean> {
    const hex = checkPseudonym(pseudonym);
    if (typeof challenge !== 'string' || typeof signatureB64 !== 'string' || !SIGNATURE_RE.test(signatureB64))
      return false;
    // Consume first: a challenge is spent by any attempt, so it cannot be used to try many signatures.
    if (!(await this.challenges.consume(hex, challenge))) return false;
    const key = await this.publicKey(pseudonym);
    const message = Buffer.from(auditAuthMessage(pseudonym, challenge), 'utf8');
    const signature = Buffer.from(signatureB64, 'base64');
    const ok = verify(null, message, key ?? DUMMY_KEY, signature);
    return key !== null && ok;
  }
}
