/**
 * Signer resolution: a private key comes from a named environment variable or an encrypted JSON keystore
 * (Web3 Secret Storage, decrypted with ethers). Key material never appears in errors, logs or JSON: the returned
 * object keeps it in a private field and serialises to its address only.
 */
import { readFile } from 'node:fs/promises';
import { isAbsolute, resolve } from 'node:path';
import { inspect } from 'node:util';
import { computeAddress, Wallet } from 'ethers';
import { SECP256K1_ORDER } from '../proofs/eip712.js';
import { ConfigError } from '../proofs/errors.js';
import type { ConfigEnv, SignerConfig } from './schema.js';

export type PrivateKeyHex = `0x${string}`;

export interface ResolveSignerOptions {
  /** Directory relative keystore paths are resolved against. @defaultValue `process.cwd()` */
  baseDir?: string;
}

/** A resolved signing key. `JSON.stringify`, `util.inspect` and pino all see `{ address, source }` only. */
export class ResolvedSigner {
  readonly address: string;
  /** Where the key came from, e.g. `env:MEDRELAY_KEY` or `keystore:/keys/relayer.json`. */
  readonly source: string;
  readonly #privateKey: PrivateKeyHex;

  constructor(privateKey: PrivateKeyHex, source: string) {
    this.#privateKey = privateKey;
    this.address = computeAddress(privateKey);
    this.source = source;
  }

  /** The raw key, for building a wallet. Do not log or store it. */
  privateKey(): PrivateKeyHex {
    return this.#privateKey;
  }

  toJSON(): { address: string; source: string } {
    return { address: this.address, source: this.source };
  }

  [inspect.custom](): string {
    return `ResolvedSigner { address: ${this.address}, source: ${this.source} }`;
  }
}

const KEY_RE = /^(0x)?[0-9a-fA-F]{64}$/;

/** Checks the shape and the curve range without ever echoing the value. */
function parsePrivateKey(raw: string, where: string): PrivateKeyHex {
  const trimmed = raw.trim();
  if (!KEY_RE.test(trimmed)) {
    throw new ConfigError(
      'MR_ERR_KEY_MALFORMED',
      `${where}: expected a secp256k1 private key as 64 hex digits (optionally 0x-prefixed), got ${trimmed.length} character(s)`,
      { details: { where } },
    );
  }
  const key = (trimmed.startsWith('0x') ? trimmed : `0x${trimmed}`).toLowerCase() as PrivateKeyHex;
  // Checked here rather than by ethers, whose errors include the argument value.
  const k = BigInt(key);
  if (k === 0n || k >= SECP256K1_ORDER /* a private key must be in [1, n) */) {
    throw new ConfigError(
      'MR_ERR_KEY_MALFORMED',
      `${where}: not a valid secp256k1 private key (zero or >= curve order)`,
      {
        details: { where },
      },
    );
  }
  return key;
}

function readEnv(env: ConfigEnv, variable: string, purpose: string): string {
  const value = env[variable];
  if (value === undefined || value.trim() === '') {
    throw new ConfigError(
      'MR_ERR_KEY_MISSING',
      `environment variable ${variable} (${purpose}) is not set; export it before starting medrelay`,
      { details: { variable } },
    );
  }
  return value;
}

/**
 * Loads the private key a chain's signer config points at.
 *
 * @example
 * const signer = await resolveSigner({ type: 'env', variable: 'MEDRELAY_KEY' }, process.env);
 * const wallet = new Wallet(signer.privateKey(), provider);
 */
export async function resolveSigner(
  signer: SignerConfig,
  env: ConfigEnv = process.env,
  options: ResolveSignerOptions = {},
): Promise<ResolvedSigner> {
  if (signer.type === 'env') {
    const raw = readEnv(env, signer.variable, 'relayer private key');
    return new ResolvedSigner(
      parsePrivateKey(raw, `environment variable ${signer.variable}`),
      `env:${signer.variable}`,
    );
  }

  const path = isAbsolute(signer.path) ? signer.path : resolve(options.baseDir ?? process.cwd(), signer.path);
  const password = readEnv(env, signer.passwordEnv, `password of keystore ${path}`);
  let json: string;
  try {
    json = await readFile(path, 'utf8');
  } catch (cause) {
    throw new ConfigError('MR_ERR_KEYSTORE_NOT_FOUND', `keystore ${path} cannot be read`, {
      details: { path },
      cause,
    });
  }
  try {
    const parsed: unknown = JSON.parse(json);
    if (typeof parsed !== 'object' || parsed === null || !('crypto' in parsed || 'Crypto' in parsed))
      throw new Error('no crypto section');
  } catch {
    throw new ConfigError(
      'MR_ERR_KEYSTORE_MALFORMED',
      `keystore ${path} is not an encrypted JSON keystore (Web3 Secret Storage v3)`,
      {
        details: { path },
      },
    );
  }
  let wallet: Awaited<ReturnType<typeof Wallet.fromEncryptedJson>>;
  try {
    wallet = await Wallet.fromEncryptedJson(json, password);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    if (/incorrect password|invalid password/i.test(message)) {
      throw new ConfigError(
        'MR_ERR_KEYSTORE_PASSWORD',
        `keystore ${path}: wrong password (from environment variable ${signer.passwordEnv})`,
        { details: { path, variable: signer.passwordEnv } },
      );
    }
    throw new ConfigError(
      'MR_ERR_KEYSTORE_MALFORMED',
      `keystore ${path} could not be decrypted: ${message.split('(')[0]!.trim()}`,
      {
        details: { path },
      },
    );
  }
  return new ResolvedSigner(parsePrivateKey(wallet.privateKey, `keystore ${path}`), `keystore:${path}`);
}
