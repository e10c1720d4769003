import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encryptKeystoreJsonSync, Wallet } from 'ethers';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveSigner } from '../../config/keys.js';
import { loadConfig, parseConfig, readConfigDocument } from '../../config/load.js';
import {
  DEFAULT_GAS_BUMP_AFTER_SEC,
  DEFAULT_REDIS_URL,
  type MedrelayConfigInput,
} from '../../config/schema.js';
import { ConfigError } from '../../proofs/errors.js';
import { channelId } from '../../proofs/packet.js';

const DEVNET = 'config/devnet.yaml';
const devnetText = readFileSync(DEVNET, 'utf8');

/** Runs `fn`, expects a ConfigError and returns it. */
function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

function devnetDoc(): MedrelayConfigInput {
  return structuredClone(readConfigDocument(DEVNET)) as MedrelayConfigInput;
}

describe('loadConfig', () => {
  it('default: loads the devnet profile with defaults and computed channel ids', () => {
    const cfg = loadConfig(DEVNET, { env: {} });
    expect(cfg.chains.map((c) => [c.name, c.chainId])).toEqual([
      ['medical-a', 31001],
      ['medical-b', 31002],
      ['insurer', 31003],
      ['crossborder', 31004],
    ]);
    expect(cfg.relayer.redisUrl).toBe(DEFAULT_REDIS_URL);
    expect(cfg.relayer.keyPrefix).toBe('medrelay-devnet');
    expect(cfg.chains[3]!.gas.bumpAfterSec).toBe(DEFAULT_GAS_BUMP_AFTER_SEC);
    expect(cfg.channels.map((c) => [c.source, c.destination, c.lane])).toEqual([
      ['medical-a', 'insurer', 'normal'],
      ['medical-b', 'insurer', 'normal'],
      ['medical-a', 'medical-b', 'normal'],
      ['medical-a', 'insurer', 'normal'],
      ['insurer', 'crossborder', 'normal'],
      ['medical-a', 'insurer', 'priority'],
      ['medical-b', 'insurer', 'priority'],
      ['medical-a', 'medical-b', 'priority'],
    ]);
    expect(cfg.channels[0]!.id).toBe(channelId(31001n, 31003n, 'records-a-insurer'));
    // Settlement parties for the pacs export; the insurer pays in CNY from its own deposit token.
    expect(cfg.chains[2]!.settlement?.agent).toEqual({ bic: 'MDRLCNSHXXX' });
    expect(cfg.chains[3]!.contracts.settlementGateway).toMatch(/^0x[0-9a-fA-F]{40}$/);
  });

  it('behavior: YAML text and a config object give the same result', () => {
    expect(loadConfig(devnetText, { env: {} })).toEqual(loadConfig(DEVNET, { env: {} }));
    expect(parseConfig(devnetDoc(), { env: {} })).toEqual(loadConfig(DEVNET, { env: {} }));
  });

  it('behavior: REDIS_URL from the environment is the default', () => {
    expect(loadConfig(DEVNET, { env: { REDIS_URL: 'redis://10.1.2.3:6380' } }).relayer.redisUrl).toBe(
      'redis://10.1.2.3:6380',
    );
  });

  it('behavior: parseConfig accepts addresses filled in at runtime (the demo path)', () => {
    const doc = devnetDoc();
    const deployed = Wallet.createRandom().address;
    doc.chains[0]!.contracts.outbox = deployed.toLowerCase();
    expect(parseConfig(doc, { env: {} }).chains[0]!.contracts.outbox).toBe(deployed);
  });

  it('error: missing chainId names the field', () => {
    const doc = devnetDoc();
    delete (doc.chains[1] as { chainId?: number }).chainId;
    const err = configError(() => parseConfig(doc));
    expect(err.code).toBe('MR_ERR_CONFIG_INVALID');
    expect(err.message).toContain('chains[1].chainId: missing required field (expected a number)');
  });

  it('error: bad URL says what was expected and what was given', () => {
    const doc = devnetDoc();
    doc.chains[1]!.rpcUrl = 'foo';
    const err = configError(() => parseConfig(doc));
    expect(err.message).toContain('chains[1].rpcUrl: expected an http(s):// or ws(s):// URL, got "foo"');
  });

  it('error: unknown key is rejected with a suggestion', () => {
    const err = configError(() =>
      loadConfig(
        devnetText.replace('    rpcUrl: http://127.0.0.1:8546', '    rpcURL: http://127.0.0.1:8546'),
      ),
    );
    expect(err.message).toContain('chains[1].rpcURL: unknown key; did you mean "rpcUrl"?');
    // the now-missing rpcUrl is reported in the same run
    expect(err.message).toContain('chains[1].rpcUrl: missing required field');
  });

  it('error: channel naming an unknown chain', () => {
    const err = configError(() =>
      loadConfig(devnetText.replace('destination: insurer', 'destination: mars')),
    );
    expect(err.message).toMatch(
      /channels\[0\]\.destination: expected the name of a configured chain \(.*\), got "mars"/,
    );
  });

  it('error: duplicate chain id', () => {
    const err = configError(() => loadConfig(devnetText.replace('chainId: 31002', 'chainId: 31001')));
    expect(err.message).toContain('chains[1].chainId: duplicate chain id 31001 (also chains[0])');
  });

  it('error: every problem is listed at once', () => {
    const doc = devnetDoc();
    doc.chains[0]!.rpcUrl = 'nope';
    doc.chains[2]!.family = 'cosmos' as 'evm';
    (doc.relayer as Record<string, unknown>).batchSize = 65;
    const err = configError(() => parseConfig(doc));
    expect(err.message).toContain('chains[0].rpcUrl');
    expect(err.message).toContain(
      'chains[2].family: expected one of "evm" | "substrate" | "fabric", got "cosmos"',
    );
    expect(err.message).toContain('relayer.batchSize: expected a number <= 64, got 65');
  });

  it('error: light clients must be keyed by configured chain names', () => {
    const doc = devnetDoc();
    doc.chains[0]!.contracts.lightClients = { 'insurer-x': '0x0000000000000000000000000000000000310013' };
    const err = configError(() => parseConfig(doc));
    expect(err.message).toContain(
      'chains[0].contracts.lightClients.insurer-x: expected the name of a configured chain',
    );
    expect(err.message).toContain('missing light client for "insurer"');
  });

  it('error: a given channel id must match the computed one', () => {
    const doc = devnetDoc();
    doc.channels![0]!.id = channelId(1n, 2n, 'other');
    expect(configError(() => parseConfig(doc)).message).toContain('channels[0].id: does not match');
    doc.channels![0]!.id = channelId(31001n, 31003n, 'records-a-insurer');
    expect(parseConfig(doc, { env: {} }).channels[0]!.id).toBe(doc.channels![0]!.id);
  });

  it('error: bad address checksum', () => {
    const doc = devnetDoc();
    doc.chains[0]!.contracts.inbox = '0x6185DA6c81aa9a0e0d814d3f40c350963efc2361';
    expect(configError(() => parseConfig(doc)).message).toContain(
      'chains[0].contracts.inbox: address checksum does not match',
    );
  });

  it('error: plaintext private key in YAML is refused without echoing it', () => {
    const key = Wallet.createRandom().privateKey;
    const yaml = devnetText.replace(
      '      variable: MEDRELAY_DEVNET_KEY\n',
      `      variable: MEDRELAY_DEVNET_KEY\n      privateKey: '${key}'\n`,
    );
    const err = configError(() => loadConfig(yaml));
    expect(err.code).toBe('MR_ERR_CONFIG_PLAINTEXT_SECRET');
    expect(err.message).toMatch(/line \d+ \(chains\[0\]\.signer\.privateKey\)/);
    expect(err.message).toContain('environment variable');
    expect(err.message).not.toContain(key.slice(2));
  });

  it('error: a 32-byte hex string anywhere (even a comment or unquoted) is refused', () => {
    const key = Wallet.createRandom().privateKey;
    const commented = `${devnetText}\n# old key ${key}\n`;
    const err = configError(() => loadConfig(commented));
    expect(err.code).toBe('MR_ERR_CONFIG_PLAINTEXT_SECRET');
    expect(err.message).toContain(`line ${commented.split('\n').length - 1}`);
    expect(err.message).not.toContain(key.slice(2));

    const doc = devnetDoc();
    (doc.relayer as Record<string, unknown>).keyPrefix = key;
    expect(configError(() => parseConfig(doc)).code).toBe('MR_ERR_CONFIG_PLAINTEXT_SECRET');
  });

  it('error: YAML syntax error reports line and column', () => {
    const broken = devnetText.replace('    chainId: 31002', '    chainId: [31002');
    const err = configError(() => loadConfig(broken));
    expect(err.code).toBe('MR_ERR_CONFIG_YAML');
    expect(err.message).toMatch(/line \d+, column \d+/);
    expect(err.details.line).toBeGreaterThan(1);
  });

  it('error: missing file', () => {
    expect(configError(() => loadConfig('config/nope.yaml')).code).toBe('MR_ERR_CONFIG_NOT_FOUND');
  });
});

describe('resolveSigner', () => {
  const dir = mkdtempSync(join(tmpdir(), 'medrelay-keys-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('default: reads a key from the named environment variable', async () => {
    const w = Wallet.createRandom();
    const s = await resolveSigner({ type: 'env', variable: 'K' }, { K: w.privateKey });
    expect(s.address).toBe(w.address);
    expect(s.privateKey()).toBe(w.privateKey);
    // key material stays out of JSON and inspection
    expect(JSON.stringify(s)).not.toContain(w.privateKey.slice(2));
    expect(String(s.source)).toBe('env:K');
  });

  it('error: unset variable', async () => {
    await expect(resolveSigner({ type: 'env', variable: 'MISSING_KEY' }, {})).rejects.toMatchObject({
      code: 'MR_ERR_KEY_MISSING',
      message: expect.stringContaining('MISSING_KEY'),
    });
  });

  it('error: malformed key is reported without the value', async () => {
    const bad = 'deadbeef'.repeat(7);
    const err = await resolveSigner({ type: 'env', variable: 'K' }, { K: bad }).catch(
      (e: unknown) => e as ConfigError,
    );
    expect(err).toMatchObject({ code: 'MR_ERR_KEY_MALFORMED' });
    expect((err as ConfigError).message).not.toContain(bad);
    await expect(
      resolveSigner({ type: 'env', variable: 'K' }, { K: `0x${'0'.repeat(64)}` }),
    ).rejects.toMatchObject({
      code: 'MR_ERR_KEY_MALFORMED',
    });
  });

  // Light scrypt (N = 2^10) so the test takes milliseconds; real keystores use ethers' default N = 2^17.
  const w = Wallet.createRandom();
  const keystore = encryptKeystoreJsonSync(
    { address: w.address, privateKey: w.privateKey },
    'correct horse',
    {
      scrypt: { N: 1 << 10 },
    },
  );

  it('default: decrypts an encrypted JSON keystore (relative path against baseDir)', async () => {
    writeFileSync(join(dir, 'relayer.json'), keystore);
    const s = await resolveSigner(
      { type: 'keystore', path: 'relayer.json', passwordEnv: 'PW' },
      { PW: 'correct horse' },
      { baseDir: dir },
    );
    expect(s.address).toBe(w.address);
    expect(s.source).toBe(`keystore:${join(dir, 'relayer.json')}`);
  });

  it('error: wrong keystore password', async () => {
    writeFileSync(join(dir, 'relayer.json'), keystore);
    await expect(
      resolveSigner(
        { type: 'keystore', path: join(dir, 'relayer.json'), passwordEnv: 'PW' },
        { PW: 'wrong' },
      ),
    ).rejects.toMatchObject({ code: 'MR_ERR_KEYSTORE_PASSWORD', message: expect.stringContaining('PW') });
  });

  it('error: keystore password variable unset, file missing, file not a keystore', async () => {
    await expect(
      resolveSigner({ type: 'keystore', path: join(dir, 'relayer.json'), passwordEnv: 'PW' }, {}),
    ).rejects.toMatchObject({
      code: 'MR_ERR_KEY_MISSING',
    });
    await expect(
      resolveSigner({ type: 'keystore', path: join(dir, 'none.json'), passwordEnv: 'PW' }, { PW: 'x' }),
    ).rejects.toMatchObject({
      code: 'MR_ERR_KEYSTORE_NOT_FOUND',
    });
    writeFileSync(join(dir, 'junk.json'), '{"hello": 1}');
    await expect(
      resolveSigner({ type: 'keystore', path: join(dir, 'junk.json'), passwordEnv: 'PW' }, { PW: 'x' }),
    ).rejects.toMatchObject({
      code: 'MR_ERR_KEYSTORE_MALFORMED',
    });
  });
});
