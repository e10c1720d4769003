/**
 * pino logger factory. Anything that looks like key material is redacted before it is written: pino's path
 * redaction covers the usual places cheaply, and a recursive pass over the merged object catches the same names at
 * any depth (pino paths cannot express "this key anywhere").
 */
import { type DestinationStream, type Logger, type LoggerOptions, pino } from 'pino';

export type { Logger } from 'pino';

export interface CreateLoggerOptions {
  /** @defaultValue `process.env.LOG_LEVEL ?? 'info'` */
  level?: string;
  /** Component name in every line, e.g. `relayer`, `api`. */
  name?: string;
  /** Where lines go (tests pass a stream to read them back). @defaultValue stdout */
  destination?: DestinationStream;
}

export const REDACTED = '[REDACTED]';

// Compared lowercase with `_`/`-` removed, as substrings: privateKey, private_key, apiKey, x-api-key, clientSecret, …
const SENSITIVE = [
  'privatekey',
  'signingkey',
  'apikey',
  'secret',
  'password',
  'passphrase',
  'mnemonic',
  'authorization',
  'cookie',
  'token',
  'seed',
];
const SENSITIVE_EXACT = new Set(['key', 'pk']);

/** True for object keys whose values must never be logged. */
export function isSensitiveKey(key: string): boolean {
  const k = key.toLowerCase().replace(/[_-]/g, '');
  return SENSITIVE_EXACT.has(k) || SENSITIVE.some((s) => k.includes(s));
}

const PINO_PATHS = [
  'privateKey',
  '*.privateKey',
  'password',
  '*.password',
  'secret',
  '*.secret',
  'mnemonic',
  '*.mnemonic',
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
];

/** Copies `value` with sensitive keys replaced; depth-limited and cycle-safe. */
export function redactDeep(value: unknown, depth = 0, seen = new WeakSet<object>()): unknown {
  if (typeof value !== 'object' || value === null || depth > 8) return value;
  if (value instanceof Error) return value; // pino's err serializer handles errors
  if (seen.has(value)) return '[Circular]';
  seen.add(value);
  if (Array.isArray(value)) return value.map((v) => redactDeep(v, depth + 1, seen));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value))
    out[k] = isSensitiveKey(k) ? REDACTED : redactDeep(v, depth + 1, seen);
  return out;
}

/**
 * @example
 * const log = createLogger({ name: 'relayer' });
 * log.info({ channel: 'medical-a-insurer', privateKey: k }, 'started'); // privateKey: "[REDACTED]"
 */
export function createLogger(options: CreateLoggerOptions = {}): Logger {
  const opts: LoggerOptions = {
    level: options.level ?? process.env.LOG_LEVEL ?? 'info',
    redact: { paths: PINO_PATHS, censor: REDACTED },
    formatters: {
      log: (obj) => redactDeep(obj) as Record<string, unknown>,
    },
  };
  if (options.name !== undefined) opts.name = options.name;
  return options.destination ? pino(opts, options.destination) : pino(opts);
}
