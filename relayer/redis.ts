/**
 * Redis connections for the packet store and BullMQ. One key prefix namespaces everything a relayer writes, so
 * tests and several relayers can share one Redis and `medrelay reset` can delete exactly its own keys.
 *
 * The prefix is deliberately NOT ioredis' `keyPrefix`: BullMQ's Lua scripts build key names themselves and break
 * under `keyPrefix` (BullMQ docs); pass the same string as BullMQ's `prefix` option instead.
 */
import { Redis } from 'ioredis';
import { RelayerError } from '../proofs/errors.js';

export type { Redis } from 'ioredis';

export interface ConnectRedisOptions {
  /** Key namespace; also shown as the connection name in `CLIENT LIST`. @defaultValue `'medrelay'` */
  prefix?: string;
  /** @defaultValue `5000` */
  connectTimeoutMs?: number;
  /** Do not connect until the first command. @defaultValue `false` */
  lazyConnect?: boolean;
}

/** Start commands printed when Redis is not reachable. */
export const REDIS_START_HINT =
  "start one with `docker compose up -d redis` or `redis-server --port 6379 --save '' --appendonly no`";

/** Removes credentials from a Redis URL so it can appear in logs and errors (viem does the same for RPC URLs). */
export function redactRedisUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '<unparseable redis url>';
  }
}

/**
 * Opens an ioredis connection suitable for BullMQ (`maxRetriesPerRequest: null`, so blocking commands wait for a
 * reconnect instead of failing) and for `PacketStore`.
 *
 * @example
 * const redis = connectRedis(config.relayer.redisUrl, { prefix: config.relayer.keyPrefix });
 * const queue = new Queue('deliver', { connection: redis, prefix: config.relayer.keyPrefix });
 */
export function connectRedis(url: string, options: ConnectRedisOptions = {}): Redis {
  const redis = new Redis(url, {
    maxRetriesPerRequest: null,
    connectTimeout: options.connectTimeoutMs ?? 5000,
    lazyConnect: options.lazyConnect ?? false,
    connectionName: options.prefix ?? 'medrelay',
  });
  // Without a listener ioredis prints "Unhandled error event" for every reconnect attempt; callers that care
  // attach their own listener, and failures surface on the commands themselves.
  redis.on('error', () => {});
  return redis;
}

export interface AssertRedisOptions {
  /** @defaultValue `1500` */
  timeoutMs?: number;
}

/**
 * Pings Redis once with a short timeout. Throws `RelayerError` `MR_ERR_REDIS_UNREACHABLE` with start instructions,
 * so a missing Redis is one clear line rather than a stream of reconnect errors.
 */
export async function assertRedisReachable(url: string, options: AssertRedisOptions = {}): Promise<void> {
  const timeoutMs = options.timeoutMs ?? 1500;
  const probe = new Redis(url, {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  let lastError: unknown;
  probe.on('error', (err) => {
    lastError = err;
  });
  let timer: NodeJS.Timeout | undefined;
  try {
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    });
    await Promise.race([
      (async () => {
        await probe.connect();
        await probe.ping();
      })(),
      deadline,
    ]);
  } catch (err) {
    const cause = lastError ?? err;
    const reason = cause instanceof Error ? cause.message : String(cause);
    throw new RelayerError(
      'MR_ERR_REDIS_UNREACHABLE',
      `Redis at ${redactRedisUrl(url)} is not reachable (${reason}); ${REDIS_START_HINT}, or set REDIS_URL / relayer.redisUrl`,
      { details: { url: redactRedisUrl(url) }, cause },
    );
  } finally {
    clearTimeout(timer);
    probe.disconnect();
  }
}

/** Escapes the glob characters SCAN MATCH understands, so a prefix is matched literally. */
function escapeGlob(s: string): string {
  return s.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}

/**
 * Deletes every key under `${prefix}:` with SCAN + UNLINK (non-blocking; never FLUSHALL/FLUSHDB, which would take
 * other tenants' data with it). Returns the number of keys removed.
 *
 * @example
 * await deleteKeysByPrefix(redis, `medrelay-test-${runId}`);
 */
export async function deleteKeysByPrefix(redis: Redis, prefix: string): Promise<number> {
  if (prefix.trim() === '' || /[*?]/.test(prefix)) {
    throw new RelayerError(
      'MR_ERR_REDIS_PREFIX',
      `refusing to delete keys for prefix ${JSON.stringify(prefix)}: it must be a non-empty literal`,
      {
        details: { prefix },
      },
    );
  }
  const match = `${escapeGlob(prefix)}:*`;
  let cursor = '0';
  let deleted = 0;
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', match, 'COUNT', 500);
    cursor = next;
    if (keys.length > 0) deleted += await redis.unlink(...keys);
  } while (cursor !== '0');
  return deleted;
}
