/**
 * Loads and validates a medrelay config (YAML file, YAML text, or an already-built object). Every problem is
 * reported at once, each line naming the field and what was expected (`chains[1].rpcUrl: expected an http(s)://
 * or ws(s):// URL, got "foo"`). Plaintext secrets are refused before validation so their values never reach an
 * error message.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { LineCounter, parseDocument } from 'yaml';
import type { z } from 'zod';
import { ConfigError } from '../proofs/errors.js';
import { type ConfigEnv, createConfigSchema, describeConfigValue, type MedrelayConfig } from './schema.js';

export interface LoadConfigOptions {
  /** Environment for defaults such as `REDIS_URL`. @defaultValue `process.env` */
  env?: ConfigEnv;
}

/** One problem found in a config document. */
export interface ConfigProblem {
  path: string;
  message: string;
}

// Key names that must never carry a value in a config file (compared lowercase without `_`/`-`).
const SECRET_KEY_NAMES = new Set([
  'privatekey',
  'mnemonic',
  'secret',
  'password',
  'passphrase',
  'seed',
  'seedphrase',
]);
// 32 bytes of hex is the shape of a secp256k1 private key; channel ids are the one allowed exception.
const HEX32_RE = /0x[0-9a-fA-F]{64}(?![0-9a-fA-F])/g;
const SECRET_FIX =
  'Keep keys out of config files: use signer: { type: env, variable: NAME } with the key in that environment variable, ' +
  'or signer: { type: keystore, path: ./key.json, passwordEnv: NAME } with an encrypted JSON keystore.';

/** `chains[1].contracts.lightClients.medical-a` */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else {
      const s = String(seg);
      out += /^[A-Za-z0-9_-]+$/.test(s) ? (out ? `.${s}` : s) : `[${JSON.stringify(s)}]`;
    }
  }
  return out || '(root)';
}

const describeValue = describeConfigValue;

const TYPE_NAMES: Record<string, string> = {
  object: 'a mapping',
  array: 'a list',
  string: 'a string',
  number: 'a number',
  boolean: 'true or false',
  int: 'an integer',
};

function sizeText(origin: string, bound: unknown, inclusive: boolean | undefined, more: boolean): string {
  const b = Number(bound);
  if (origin === 'array' || origin === 'set')
    return `${more ? 'at least' : 'at most'} ${inclusive ? b : more ? b + 1 : b - 1} item(s)`;
  if (origin === 'string')
    return `${more ? 'at least' : 'at most'} ${inclusive ? b : more ? b + 1 : b - 1} character(s)`;
  return `a number ${more ? (inclusive ? '>=' : '>') : inclusive ? '<=' : '<'} ${b}`;
}

function editDistance(a: string, b: string): number {
  const dp = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = dp[0]!;
    dp[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = dp[j]!;
      dp[j] = Math.min(dp[j]! + 1, dp[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return dp[b.length]!;
}

function suggest(key: string, allowed: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = 3;
  for (const a of allowed) {
    const d = a.toLowerCase() === key.toLowerCase() ? 0 : editDistance(key, a);
    if (d < bestD) {
      best = a;
      bestD = d;
    }
  }
  return best;
}

/** The raw issue zod hands to an error map (before `input` and `inst` are stripped). */
interface RawIssue {
  code?: string;
  input?: unknown;
  expected?: unknown;
  format?: string;
  origin?: string;
  minimum?: unknown;
  maximum?: unknown;
  inclusive?: boolean;
  values?: readonly unknown[];
  options?: readonly unknown[];
  discriminator?: string;
  keys?: readonly string[];
  inst?: { _zod?: { def?: { shape?: Record<string, unknown> } } };
}

// Marker so `toProblems` can split the per-object unknown-key message into one line per key.
const UNKNOWN_KEYS_TAG = '\u0000allowed:';

/** zod error map producing "expected X, got Y" texts. Schema-level messages (slugs, URLs, addresses) win over it. */
function errorMap(issue: RawIssue): string | undefined {
  const got = describeValue(issue.input);
  switch (issue.code) {
    case 'invalid_type': {
      const expected = TYPE_NAMES[String(issue.expected)] ?? String(issue.expected);
      return issue.input === undefined
        ? `missing required field (expected ${expected})`
        : `expected ${expected}, got ${got}`;
    }
    case 'too_small':
      return `expected ${sizeText(String(issue.origin), issue.minimum, issue.inclusive, true)}, got ${got}`;
    case 'too_big':
      return `expected ${sizeText(String(issue.origin), issue.maximum, issue.inclusive, false)}, got ${got}`;
    case 'invalid_format':
      return `expected a valid ${issue.format ?? 'value'}, got ${got}`;
    case 'invalid_value':
      return `expected one of ${(issue.values ?? []).map((v) => JSON.stringify(v)).join(' | ')}, got ${got}`;
    case 'invalid_union': {
      if (issue.discriminator && issue.options) {
        const input = issue.input;
        const value =
          typeof input === 'object' && input !== null && !Array.isArray(input)
            ? (input as Record<string, unknown>)[issue.discriminator]
            : undefined;
        const options = issue.options.map((o) => JSON.stringify(o)).join(' | ');
        if (typeof input !== 'object' || input === null || Array.isArray(input)) {
          return `expected a mapping with ${issue.discriminator}: ${options}, got ${got}`;
        }
        return value === undefined
          ? `missing required field (expected one of ${options})`
          : `expected one of ${options}, got ${describeValue(value)}`;
      }
      return `does not match any allowed shape, got ${got}`;
    }
    case 'unrecognized_keys': {
      const shape = issue.inst?._zod?.def?.shape;
      return `${UNKNOWN_KEYS_TAG}${shape ? Object.keys(shape).join(',') : ''}`;
    }
    default:
      return undefined;
  }
}

function toProblems(issues: readonly z.core.$ZodIssue[]): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  for (const issue of issues) {
    if (issue.code === 'unrecognized_keys') {
      const allowed = issue.message.startsWith(UNKNOWN_KEYS_TAG)
        ? issue.message.slice(UNKNOWN_KEYS_TAG.length).split(',').filter(Boolean)
        : [];
      for (const key of issue.keys) {
        const hint = suggest(key, allowed);
        const allowedText = allowed.length ? ` (allowed: ${allowed.join(', ')})` : '';
        out.push({
          path: formatPath([...issue.path, key]),
          message: `unknown key${hint ? `; did you mean "${hint}"?` : ''}${allowedText}`,
        });
      }
      continue;
    }
    out.push({ path: formatPath(issue.path), message: issue.message });
  }
  return out;
}

function invalid(problems: readonly ConfigProblem[], source: string): ConfigError {
  const lines = problems.map((p) => `  - ${p.path}: ${p.message}`);
  return new ConfigError(
    'MR_ERR_CONFIG_INVALID',
    `invalid medrelay config (${source}), ${problems.length} problem(s):\n${lines.join('\n')}\nSee config/README.md for every field.`,
    { details: { source, problems: problems.length } },
  );
}

/** Where a plaintext secret was found (never its value). */
export interface SecretHit {
  where: string;
  why: string;
  path?: readonly PropertyKey[];
}

function secretError(hits: readonly SecretHit[], source: string): ConfigError {
  const lines = hits.map((h) => `  - ${h.where}: ${h.why}`);
  return new ConfigError(
    'MR_ERR_CONFIG_PLAINTEXT_SECRET',
    `config (${source}) contains what looks like a plaintext secret (values not shown):\n${lines.join('\n')}\n${SECRET_FIX}`,
    { details: { source, hits: hits.length } },
  );
}

const normKey = (k: string) => k.toLowerCase().replace(/[_-]/g, '');

function hasValue(v: unknown): boolean {
  if (v === undefined || v === null) return false;
  if (typeof v === 'string') return v.trim() !== '';
  return true;
}

/** Channel ids are public (keccak of chain ids and name), the one legitimate 32-byte hex value in a config. */
function isChannelIdPath(path: readonly PropertyKey[]): boolean {
  return path.length === 3 && path[0] === 'channels' && typeof path[1] === 'number' && path[2] === 'id';
}

/** Walks a plain object for secret-named keys with values and 32-byte hex strings. Never returns the values. */
export function findPlaintextSecrets(obj: unknown): SecretHit[] {
  const hits: SecretHit[] = [];
  const walk = (v: unknown, path: PropertyKey[]): void => {
    if (typeof v === 'string') {
      HEX32_RE.lastIndex = 0;
      if (HEX32_RE.test(v) && !isChannelIdPath(path)) {
        hits.push({
          where: formatPath(path),
          why: 'a 32-byte 0x-hex value has the shape of a private key',
          path,
        });
      }
      return;
    }
    if (Array.isArray(v)) {
      v.forEach((x, i) => {
        walk(x, [...path, i]);
      });
      return;
    }
    if (typeof v === 'object' && v !== null) {
      for (const [k, x] of Object.entries(v)) {
        if (SECRET_KEY_NAMES.has(normKey(k)) && hasValue(x)) {
          hits.push({
            where: formatPath([...path, k]),
            why: `key "${k}" must not hold a value in a config file`,
            path: [...path, k],
          });
        } else walk(x, [...path, k]);
      }
    }
  };
  walk(obj, []);
  return hits;
}

/** Channel id values found in the document, which the raw-text scan must not flag. */
function channelIds(obj: unknown): Set<string> {
  const ids = new Set<string>();
  const chans = (obj as { channels?: unknown } | null)?.channels;
  if (Array.isArray(chans)) {
    for (const c of chans) {
      const id = (c as { id?: unknown } | null)?.id;
      if (typeof id === 'string') ids.add(id.toLowerCase());
    }
  }
  return ids;
}

/**
 * Parses YAML text into a plain object and refuses plaintext secrets, including ones in comments or written as
 * unquoted hex numbers (which the object walk alone would miss).
 */
export function parseConfigYaml(text: string, source = 'inline YAML'): unknown {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, {
    lineCounter,
    prettyErrors: true,
    uniqueKeys: true,
    // YAML 1.2 reads unquoted 0x… as an integer, which would turn an unquoted address into a lossy number.
    customTags: (tags) =>
      tags.filter(
        (t) =>
          typeof t === 'string' ||
          !(t.tag === 'tag:yaml.org,2002:int' && (t.format === 'HEX' || t.format === 'OCT')),
      ),
  });
  if (doc.errors.length > 0) {
    const lines = doc.errors.map((e) => {
      const pos = e.linePos?.[0];
      const first = e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
      return `  - line ${pos?.line ?? '?'}, column ${pos?.col ?? '?'}: ${first}`;
    });
    const pos = doc.errors[0]!.linePos?.[0];
    throw new ConfigError('MR_ERR_CONFIG_YAML', `YAML syntax error in ${source}:\n${lines.join('\n')}`, {
      details: { source, line: pos?.line, column: pos?.col },
    });
  }
  const obj: unknown = doc.toJS();

  const hits: SecretHit[] = [];
  const allowed = channelIds(obj);
  text.split('\n').forEach((line, i) => {
    for (const m of line.matchAll(HEX32_RE)) {
      if (!allowed.has(m[0].toLowerCase())) {
        hits.push({ where: `line ${i + 1}`, why: 'a 32-byte 0x-hex value has the shape of a private key' });
      }
    }
  });
  for (const h of findPlaintextSecrets(obj)) {
    if (h.why.startsWith('key ') && h.path) {
      const node = doc.getIn(h.path, true) as { range?: [number, number, number] } | undefined;
      const line = node?.range ? lineCounter.linePos(node.range[0]).line : undefined;
      hits.push({ where: line ? `line ${line} (${h.where})` : h.where, why: h.why });
    }
  }
  if (hits.length > 0) throw secretError(hits, source);
  return obj;
}

/**
 * Validates a config object (e.g. the devnet profile after the demo filled in deployed addresses).
 * Throws `ConfigError` `MR_ERR_CONFIG_PLAINTEXT_SECRET` or `MR_ERR_CONFIG_INVALID` listing every problem.
 *
 * @example
 * const raw = readConfigDocument('config/devnet.yaml') as MedrelayConfigInput;
 * raw.chains[0].contracts.outbox = deployed.outbox;
 * const config = parseConfig(raw);
 */
export function parseConfig(
  obj: unknown,
  options: LoadConfigOptions & { source?: string } = {},
): MedrelayConfig {
  const source = options.source ?? 'config object';
  const hits = findPlaintextSecrets(obj);
  if (hits.length > 0) throw secretError(hits, source);
  const schema = createConfigSchema(options.env ?? process.env);
  const result = schema.safeParse(obj, { error: (iss) => errorMap(iss as RawIssue) });
  if (!result.success) throw invalid(toProblems(result.error.issues), source);
  return result.data;
}

/** True when `source` should be read as YAML text rather than a file path. */
function isYamlText(source: string): boolean {
  return source.includes('\n');
}

/**
 * Reads a config file or YAML text into a plain object, with the YAML and plaintext-secret checks but without
 * schema validation, so a caller can fill in values (deployed addresses) before `parseConfig`.
 */
export function readConfigDocument(pathOrYaml: string): unknown {
  if (isYamlText(pathOrYaml)) return parseConfigYaml(pathOrYaml);
  if (!existsSync(pathOrYaml)) {
    throw new ConfigError('MR_ERR_CONFIG_NOT_FOUND', `config file ${pathOrYaml} does not exist`, {
      details: { path: pathOrYaml },
    });
  }
  return parseConfigYaml(readFileSync(pathOrYaml, 'utf8'), pathOrYaml);
}

/**
 * Loads a config from a file path or from YAML text (any string containing a newline is taken as YAML).
 * Keystore paths in a file are resolved relative to the file's directory.
 *
 * @example
 * const config = loadConfig('config/devnet.yaml');
 * config.channels[0].id; // computed channel id
 */
export function loadConfig(pathOrYaml: string, options: LoadConfigOptions = {}): MedrelayConfig {
  const fromFile = !isYamlText(pathOrYaml);
  const config = parseConfig(readConfigDocument(pathOrYaml), {
    ...options,
    source: fromFile ? pathOrYaml : 'inline YAML',
  });
  if (!fromFile) return config;
  const baseDir = dirname(resolve(pathOrYaml));
  return {
    ...config,
    chains: config.chains.map((c) =>
      c.signer.type === 'keystore' && !isAbsolute(c.signer.path)
        ? { ...c, signer: { ...c.signer, path: resolve(baseDir, c.signer.path) } }
        : c,
    ),
  };
}
