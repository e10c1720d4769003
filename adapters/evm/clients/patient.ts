/**
 * Patient side: two keys (secp256k1 to revoke consents without the hospital, `ConsentRegistry.revokeBySignature`;
 * Ed25519 to log in to the relayer's audit API), the EIP-712 `Revoke(bytes32 consentId)` signature, and reading
 * one's own audit trail with a signed challenge (`POST /patients/{pseudonym}/challenge` → signed GET).
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, KeyObject, sign } from 'node:crypto';
import { SigningKey, TypedDataEncoder, Wallet } from 'ethers';
import type { Hex } from '../../../proofs/bytes.js';
import type { AuditPage } from '../../../relayer/audit/trail.js';
import { auditAuthMessage } from '../../../relayer/patients/keys.js';
import { address, bytes32, ChainClient, type ChainConnection, uint64, type WriteResult } from './chain.js';
import { ClientError, clientInput } from './errors.js';

export interface PatientKeys {
  /** secp256k1 private key: signs consent revocations. */
  revocationKey: Hex;
  /** Its address: the `patientKey` a consent is granted with. */
  revocationAddress: Hex;
  /** Ed25519 private key: signs audit API challenges. */
  authKey: KeyObject;
  /** Raw 32-byte Ed25519 public key: what the hospital registers at enrolment. */
  authPublicKey: Uint8Array;
}

/** Fresh patient keys (both generated from the platform CSPRNG). */
export function generatePatientKeys(): PatientKeys {
  const wallet = Wallet.createRandom();
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const spki = publicKey.export({ format: 'der', type: 'spki' });
  return {
    revocationKey: wallet.privateKey as Hex,
    revocationAddress: wallet.address as Hex,
    authKey: privateKey,
    authPublicKey: new Uint8Array(spki.subarray(spki.length - 32)),
  };
}

/** An Ed25519 private key from a KeyObject, a PKCS#8 PEM or a raw 32-byte seed. */
export function ed25519Key(key: KeyObject | string | Uint8Array): KeyObject {
  if (key instanceof KeyObject) {
    if (key.asymmetricKeyType !== 'ed25519' || key.type !== 'private')
      clientInput('key', 'an Ed25519 private key');
    return key;
  }
  if (key instanceof Uint8Array) {
    if (key.length !== 32) clientInput('key', '32 raw Ed25519 seed bytes');
    // RFC 8410 PKCS#8 prefix of an Ed25519 private key.
    const der = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), key]);
    return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  }
  if (typeof key !== 'string') return clientInput('key', 'an Ed25519 private key');
  try {
    const k = createPrivateKey(key);
    if (k.asymmetricKeyType !== 'ed25519') clientInput('key', 'an Ed25519 private key');
    return k;
  } catch (err) {
    if (err instanceof ClientError) throw err;
    return clientInput('key', 'an Ed25519 private key (PEM)');
  }
}

/** Raw 32-byte public key of an Ed25519 private key. */
export function ed25519PublicKey(key: KeyObject | string | Uint8Array): Uint8Array {
  const spki = createPublicKey(ed25519Key(key)).export({ format: 'der', type: 'spki' });
  return new Uint8Array(spki.subarray(spki.length - 32));
}

/**
 * The patient's EIP-712 `Revoke(bytes32 consentId)` signature under `{ medrelay, 1, chainId }` (65 bytes r‖s‖v,
 * v ∈ {27, 28}, low s), as `ConsentRegistry.revokeBySignature` checks it.
 */
export function signRevocation(consentId: string, chainId: bigint | number, revocationKey: string): Hex {
  const id = bytes32(consentId, 'consentId');
  const chain = uint64(chainId, 'chainId');
  let key: SigningKey;
  try {
    key = new SigningKey(revocationKey);
  } catch {
    return clientInput('revocationKey', 'a secp256k1 private key');
  }
  const digest = TypedDataEncoder.hash(
    { name: 'medrelay', version: '1', chainId: chain },
    { Revoke: [{ name: 'consentId', type: 'bytes32' }] },
    { consentId: id },
  );
  return key.sign(digest).serialized as Hex; // ethers signs low-s with v 27/28
}

/**
 * Submits a patient revocation (anyone may pay the gas: `conn.privateKey` is the submitter's key, not the
 * patient's). With `revocationKey` the signature is made here; otherwise pass `signature`.
 *
 * @throws ClientError MR_ERR_CLIENT_INPUT | MR_ERR_CLIENT_REVERTED (NotPatientKey, AlreadyRevoked, UnknownConsent…)
 */
export async function revokeBySignature(
  conn: ChainConnection & { privateKey: string },
  consentRegistry: string,
  consentId: string,
  auth: { revocationKey: string } | { signature: string },
): Promise<WriteResult> {
  const id = bytes32(consentId, 'consentId');
  const registry = address(consentRegistry, 'consentRegistry');
  const chain = new ChainClient(conn);
  const signature =
    'revocationKey' in auth
      ? signRevocation(id, chain.chainId, auth.revocationKey)
      : typeof auth.signature === 'string' && /^0x[0-9a-fA-F]{130}$/.test(auth.signature)
        ? auth.signature
        : clientInput('signature', '65 bytes r‖s‖v as 0x-hex');
  return chain.write(registry, 'ConsentRegistry', 'revokeBySignature', [id, signature]);
}

/** Base64 Ed25519 signature of `medrelay-audit-v1:<pseudonym>:<challenge>`. */
export function signAuditChallenge(
  pseudonym: string,
  challenge: string,
  key: KeyObject | string | Uint8Array,
): string {
  return sign(null, Buffer.from(auditAuthMessage(pseudonym, challenge), 'utf8'), ed25519Key(key)).toString(
    'base64',
  );
}

export interface FetchAuditOptions {
  limit?: number;
  cursor?: string;
  /** @defaultValue globalThis.fetch */
  fetch?: typeof fetch;
}

/**
 * The patient's audit trail from the relayer API: asks for a challenge, signs it, reads one page (newest first).
 *
 * @example
 * const { items } = await fetchAuditTrail('http://127.0.0.1:8787', pseudonym, keys.authKey);
 * @throws ClientError MR_ERR_CLIENT_INPUT; MedrelayError MR_ERR_PATIENT_AUTH (401); ClientError MR_ERR_CLIENT_HTTP
 */
export async function fetchAuditTrail(
  apiBase: string,
  pseudonym: string,
  key: KeyObject | string | Uint8Array,
  opts: FetchAuditOptions = {},
): Promise<AuditPage> {
  if (typeof pseudonym !== 'string' || !/^0x[0-9a-f]{64}$/.test(pseudonym))
    clientInput('pseudonym', '0x + 64 lowercase hex');
  let base: URL;
  try {
    base = new URL(apiBase);
  } catch {
    return clientInput('apiBase', 'an http(s) URL');
  }
  const signer = ed25519Key(key);
  const doFetch = opts.fetch ?? fetch;
  const url = (path: string) => new URL(path, base).toString();
  const failed = async (res: Response, what: string): Promise<never> => {
    let code = 'MR_ERR_CLIENT_HTTP';
    try {
      const body = (await res.json()) as { code?: unknown };
      if (res.status === 401 && body.code === 'MR_ERR_PATIENT_AUTH') code = 'MR_ERR_PATIENT_AUTH';
    } catch {
      // not JSON
    }
    throw new ClientError(code, `${what}: HTTP ${res.status}`, { details: { status: res.status } });
  };
  const c = await doFetch(url(`/patients/${pseudonym}/challenge`), { method: 'POST' });
  if (c.status !== 200) return failed(c, 'audit challenge');
  const { challenge } = (await c.json()) as { challenge: string };
  const q = new URLSearchParams();
  if (opts.limit !== undefined) q.set('limit', String(opts.limit));
  if (opts.cursor !== undefined) q.set('cursor', opts.cursor);
  const res = await doFetch(url(`/patients/${pseudonym}/audit${q.size > 0 ? `?${q}` : ''}`), {
    headers: {
      'x-medrelay-challenge': challenge,
      'x-medrelay-signature': signAuditChallenge(pseudonym, challenge, signer),
    },
  });
  if (res.status !== 200) return failed(res, 'audit trail');
  return (await res.json()) as AuditPage;
}
