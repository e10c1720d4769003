/**
 * Record encryption at rest (issue 3, item 2). node:crypto only.
 *
 *  - Body: AES-256-GCM (NIST SP 800-38D) under a fresh random 256-bit data key, 96-bit random IV, 128-bit tag,
 *    AAD = recordId (32 bytes) ‖ recordHash (32 bytes). Both are fixed width, so the concatenation is
 *    unambiguous, and a ciphertext moved to another record id or hash fails authentication.
 *  - Key wrapping, one per authorised recipient (ECIES-style, close to HPKE base mode):
 *      ephemeral X25519 key pair (RFC 7748) per wrap; shared = X25519(ephemeral, recipientPub);
 *      KEK = HKDF-SHA256 (RFC 5869), ikm = shared, salt = ephemeralPub ‖ recipientPub,
 *            info = "medrelay/record-key/v1" ‖ recordId (32 bytes) ‖ utf8(recipientId);
 *      wrapped = AES-256-GCM(KEK, random 96-bit IV, dataKey, AAD = recordId ‖ recordHash).
 *    The salt binds both public keys (as HPKE's key schedule does) and the info binds the record and the
 *    recipient, so a wrapped key copied to another record or recipient slot no longer opens.
 *  - `keyId` = sha256(recipientPub) lets `unwrapKey` tell "this is not your key" (`MR_ERR_RECORD_KEY`) from
 *    "the wrapped key was altered" (`MR_ERR_RECORD_TAMPERED`); GCM alone cannot tell them apart.
 *
 * Every authentication failure throws before any plaintext exists outside OpenSSL: GCM's `final()` checks the
 * tag before we use the output, and a truncated tag is refused up front (Node would otherwise accept 4..16-byte
 * tags, weakening the forgery bound). Keys are raw 32-byte X25519 values.
 */
import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  hkdfSync,
  type KeyObject,
  randomBytes,
} from 'node:crypto';
import { bytesToHex, type Hex, hexToBytes } from '../../proofs/bytes.js';
import { RecordError, recordInput } from './errors.js';

export const DATA_KEY_BYTES = 32;
export const IV_BYTES = 12;
export const TAG_BYTES = 16;
export const X25519_KEY_BYTES = 32;
export const KEY_WRAP_INFO = 'medrelay/record-key/v1';
export const ENVELOPE_VERSION = 1;

/** Raw 32-byte X25519 keys. The private key never leaves its holder; the vault only ever sees public keys. */
export interface RecipientKeyPair {
  publicKey: Uint8Array;
  privateKey: Uint8Array;
}

export interface Recipient {
  /** Literal FHIR reference of the recipient, e.g. `Organization/insurer-x` (the consent's actor). */
  id: string;
  publicKey: Uint8Array;
}

/** What a wrap and the body are bound to. */
export interface RecordBinding {
  /** bytes32, 0x-hex. */
  recordId: string;
  /** sha256 of the canonical record, 0x-hex. */
  recordHash: string;
}

/** One recipient's copy of the data key. Binary fields are base64. */
export interface WrappedKey {
  /** sha256 of the recipient's X25519 public key, 0x-hex. */
  keyId: Hex;
  ephemeralPub: string;
  iv: string;
  wrapped: string;
  tag: string;
}

/** The stored form of an encrypted record. Binary fields are base64. */
export interface EncryptedRecord {
  version: typeof ENVELOPE_VERSION;
  recordId: Hex;
  recordHash: Hex;
  iv: string;
  ciphertext: string;
  tag: string;
  /** recipient id → wrapped data key. */
  wrappedKeys: Record<string, WrappedKey>;
}

export interface EncryptRecordInput extends RecordBinding {
  plaintext: Uint8Array;
  recipients: readonly Recipient[];
}

const HEX32_RE = /^0x[0-9a-fA-F]{64}$/;
/** FHIR literal reference `Type/id` (id: 1..64 of [A-Za-z0-9-.]). Bounded, so the HKDF info stays small. */
const RECIPIENT_ID_RE = /^[A-Z][A-Za-z]{0,63}\/[A-Za-z0-9.-]{1,64}$/;
const B64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

// DER prefixes of the RFC 8410 SubjectPublicKeyInfo / PKCS#8 forms of an X25519 key (OID 1.3.101.110): Node
// imports raw X25519 keys only through these.
const SPKI_PREFIX = Buffer.from('302a300506032b656e032100', 'hex');
const PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');

function tampered(what: string, recordId: string, cause?: unknown): never {
  throw new RecordError('MR_ERR_RECORD_TAMPERED', `record ${recordId}: ${what} failed authentication`, {
    details: { recordId },
    ...(cause !== undefined ? { cause } : {}),
  });
}

function hex32(v: string, field: string): Uint8Array {
  if (typeof v !== 'string' || !HEX32_RE.test(v)) recordInput(field, '0x + 64 hex digits');
  return hexToBytes(v.toLowerCase(), field);
}

/** Checks a recipient id (`Type/id`). Exported for the vault, which stores wrapped keys by it. */
export function checkRecipientId(id: string, field = 'recipientId'): string {
  if (typeof id !== 'string' || !RECIPIENT_ID_RE.test(id)) recordInput(field, 'a FHIR reference `Type/id`');
  return id;
}

function key32(k: Uint8Array, field: string): Uint8Array {
  if (!(k instanceof Uint8Array) || k.length !== X25519_KEY_BYTES) recordInput(field, '32 raw key bytes');
  return k;
}

function publicKeyObject(raw: Uint8Array): KeyObject {
  return createPublicKey({ key: Buffer.concat([SPKI_PREFIX, raw]), format: 'der', type: 'spki' });
}

function privateKeyObject(raw: Uint8Array): KeyObject {
  return createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, raw]), format: 'der', type: 'pkcs8' });
}

function rawPublic(key: KeyObject): Uint8Array {
  return new Uint8Array(key.export({ format: 'der', type: 'spki' }).subarray(SPKI_PREFIX.length));
}

/** Strict base64 of an exact length; anything else is a corrupt or altered envelope. */
function b64(v: unknown, len: number | 'any', what: string, recordId: string): Buffer {
  if (typeof v !== 'string' || !B64_RE.test(v)) tampered(`${what} (not base64)`, recordId);
  const out = Buffer.from(v, 'base64');
  if (len !== 'any' && out.length !== len) tampered(`${what} (wrong length)`, recordId);
  return out;
}

const toB64 = (b: Uint8Array): string => Buffer.from(b).toString('base64');

function aad(b: RecordBinding): Buffer {
  return Buffer.concat([hex32(b.recordId, 'recordId'), hex32(b.recordHash, 'recordHash')]);
}

/** sha256 of a raw X25519 public key: the `keyId` of wraps made to it. */
export function recipientKeyId(publicKey: Uint8Array): Hex {
  return bytesToHex(createHash('sha256').update(key32(publicKey, 'publicKey')).digest());
}

function kek(
  shared: Buffer,
  ephemeralPub: Uint8Array,
  recipientPub: Uint8Array,
  b: RecordBinding,
  id: string,
) {
  const info = Buffer.concat([
    Buffer.from(KEY_WRAP_INFO, 'utf8'),
    hex32(b.recordId, 'recordId'),
    Buffer.from(id, 'utf8'),
  ]);
  const salt = Buffer.concat([ephemeralPub, recipientPub]);
  return Buffer.from(hkdfSync('sha256', shared, salt, info, DATA_KEY_BYTES));
}

function gcmOpen(key: Uint8Array, iv: Buffer, data: Buffer, tag: Buffer, ad: Buffer): Buffer {
  const d = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
  d.setAAD(ad);
  d.setAuthTag(tag);
  return Buffer.concat([d.update(data), d.final()]);
}

/**
 * A new recipient key pair (X25519).
 *
 * @example
 * const insurer = generateRecipientKeyPair(); // publish insurer.publicKey, keep insurer.privateKey in a keystore
 */
export function generateRecipientKeyPair(): RecipientKeyPair {
  const { publicKey, privateKey } = generateKeyPairSync('x25519');
  const pkcs8 = privateKey.export({ format: 'der', type: 'pkcs8' });
  return { publicKey: rawPublic(publicKey), privateKey: new Uint8Array(pkcs8.subarray(PKCS8_PREFIX.length)) };
}

/**
 * Wraps `dataKey` to one recipient (fresh ephemeral key and IV every call).
 *
 * @example
 * envelope.wrappedKeys[r.id] = wrapKey(dataKey, envelope, r);
 */
export function wrapKey(dataKey: Uint8Array, binding: RecordBinding, recipient: Recipient): WrappedKey {
  if (!(dataKey instanceof Uint8Array) || dataKey.length !== DATA_KEY_BYTES)
    recordInput('dataKey', '32 bytes');
  const id = checkRecipientId(recipient.id, 'recipient.id');
  const recipientPub = key32(recipient.publicKey, 'recipient.publicKey');
  const eph = generateKeyPairSync('x25519');
  const ephemeralPub = rawPublic(eph.publicKey);
  let shared: Buffer;
  try {
    shared = diffieHellman({ privateKey: eph.privateKey, publicKey: publicKeyObject(recipientPub) });
  } catch (cause) {
    // A low-order point gives an all-zero secret, which OpenSSL refuses: such a key cannot receive records.
    throw new RecordError('MR_ERR_RECORD_INPUT', `recipient.publicKey of ${id} is not a usable X25519 key`, {
      details: { field: 'recipient.publicKey' },
      cause,
    });
  }
  const key = kek(shared, ephemeralPub, recipientPub, binding, id);
  const iv = randomBytes(IV_BYTES);
  const c = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
  c.setAAD(aad(binding));
  const wrapped = Buffer.concat([c.update(dataKey), c.final()]);
  key.fill(0);
  shared.fill(0);
  return {
    keyId: recipientKeyId(recipientPub),
    ephemeralPub: toB64(ephemeralPub),
    iv: toB64(iv),
    wrapped: toB64(wrapped),
    tag: toB64(c.getAuthTag()),
  };
}

/**
 * Recovers the data key from `wrapped` with the recipient's private key.
 *
 * @throws RecordError MR_ERR_RECORD_KEY (the key is not the one wrapped to) | MR_ERR_RECORD_TAMPERED
 */
export function unwrapKey(
  wrapped: WrappedKey,
  binding: RecordBinding,
  recipientId: string,
  recipientPrivateKey: Uint8Array,
): Uint8Array {
  const id = checkRecipientId(recipientId);
  const priv = privateKeyObject(key32(recipientPrivateKey, 'recipientPrivateKey'));
  const recipientPub = rawPublic(createPublicKey(priv));
  const rid = binding.recordId;
  if (typeof wrapped !== 'object' || wrapped === null) tampered('wrapped key', rid);
  if (wrapped.keyId !== recipientKeyId(recipientPub)) {
    throw new RecordError(
      'MR_ERR_RECORD_KEY',
      `record ${rid}: the key given for ${id} is not the key the record was wrapped to`,
      { details: { recordId: rid, recipientId: id } },
    );
  }
  const ephemeralPub = b64(wrapped.ephemeralPub, X25519_KEY_BYTES, 'wrapped key (ephemeralPub)', rid);
  const iv = b64(wrapped.iv, IV_BYTES, 'wrapped key (iv)', rid);
  const body = b64(wrapped.wrapped, DATA_KEY_BYTES, 'wrapped key', rid);
  const tag = b64(wrapped.tag, TAG_BYTES, 'wrapped key (tag)', rid);
  let shared: Buffer;
  try {
    shared = diffieHellman({ privateKey: priv, publicKey: publicKeyObject(ephemeralPub) });
  } catch (cause) {
    return tampered('wrapped key (ephemeralPub)', rid, cause);
  }
  const key = kek(shared, ephemeralPub, recipientPub, binding, id);
  try {
    return new Uint8Array(gcmOpen(key, iv, body, tag, aad(binding)));
  } catch (cause) {
    return tampered('wrapped key', rid, cause);
  } finally {
    key.fill(0);
    shared.fill(0);
  }
}

/**
 * Encrypts a record body and wraps its data key to every recipient. The data key exists only inside this call.
 *
 * @example
 * const env = encryptRecord({ recordId, recordHash, plaintext: canonicalBytes(bundle), recipients: [insurer] });
 */
export function encryptRecord(input: EncryptRecordInput): EncryptedRecord {
  const binding: RecordBinding = { recordId: input.recordId, recordHash: input.recordHash };
  const ad = aad(binding);
  if (!(input.plaintext instanceof Uint8Array)) recordInput('plaintext', 'bytes');
  if (!Array.isArray(input.recipients) || input.recipients.length === 0)
    recordInput('recipients', 'at least one recipient');
  const ids = new Set<string>();
  for (const r of input.recipients) {
    if (ids.has(r.id)) recordInput('recipients', `distinct ids (${r.id} is repeated)`);
    ids.add(r.id);
  }
  const dataKey = randomBytes(DATA_KEY_BYTES);
  try {
    const iv = randomBytes(IV_BYTES);
    const c = createCipheriv('aes-256-gcm', dataKey, iv, { authTagLength: TAG_BYTES });
    c.setAAD(ad);
    const ciphertext = Buffer.concat([c.update(input.plaintext), c.final()]);
    const wrappedKeys: Record<string, WrappedKey> = {};
    for (const r of input.recipients) wrappedKeys[r.id] = wrapKey(dataKey, binding, r);
    return {
      version: ENVELOPE_VERSION,
      recordId: input.recordId.toLowerCase() as Hex,
      recordHash: input.recordHash.toLowerCase() as Hex,
      iv: toB64(iv),
      ciphertext: toB64(ciphertext),
      tag: toB64(c.getAuthTag()),
      wrappedKeys,
    };
  } finally {
    dataKey.fill(0); // do not leave the key in a buffer the pool may hand out again
  }
}

/** Unwraps the data key for `recipientId` (throws `MR_ERR_RECORD_KEY` when it has no wrap). */
export function unwrapDataKey(
  envelope: EncryptedRecord,
  recipientId: string,
  recipientPrivateKey: Uint8Array,
): Uint8Array {
  checkRecipientId(recipientId);
  const keys = envelope.wrappedKeys;
  const wrapped =
    typeof keys === 'object' && keys !== null && Object.hasOwn(keys, recipientId)
      ? keys[recipientId]
      : undefined;
  if (wrapped === undefined) {
    throw new RecordError(
      'MR_ERR_RECORD_KEY',
      `record ${envelope.recordId}: no key is wrapped for ${recipientId}`,
      {
        details: { recordId: envelope.recordId, recipientId },
      },
    );
  }
  return unwrapKey(wrapped, envelope, recipientId, recipientPrivateKey);
}

/**
 * Decrypts a record for one recipient. Returns the plaintext only when every tag verified.
 *
 * @example
 * const bytes = decryptRecord(env, 'Organization/insurer-x', insurer.privateKey);
 * @throws RecordError MR_ERR_RECORD_KEY | MR_ERR_RECORD_TAMPERED | MR_ERR_RECORD_INPUT
 */
export function decryptRecord(
  envelope: EncryptedRecord,
  recipientId: string,
  recipientPrivateKey: Uint8Array,
): Uint8Array {
  if (typeof envelope !== 'object' || envelope === null) recordInput('envelope', 'an encrypted record');
  const rid = String(envelope.recordId);
  if (!HEX32_RE.test(rid) || typeof envelope.recordHash !== 'string' || !HEX32_RE.test(envelope.recordHash))
    tampered('envelope (recordId / recordHash)', HEX32_RE.test(rid) ? rid : '<malformed>');
  const dataKey = unwrapDataKey(envelope, recipientId, recipientPrivateKey);
  try {
    const iv = b64(envelope.iv, IV_BYTES, 'iv', rid);
    const ciphertext = b64(envelope.ciphertext, 'any', 'ciphertext', rid);
    const tag = b64(envelope.tag, TAG_BYTES, 'tag', rid);
    try {
      return new Uint8Array(gcmOpen(dataKey, iv, ciphertext, tag, aad(envelope)));
    } catch (cause) {
      return tampered('ciphertext', rid, cause);
    }
  } finally {
    dataKey.fill(0);
  }
}
