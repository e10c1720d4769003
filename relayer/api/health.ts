/**
 * Builds the `HealthReport` behind `GET /health`: a Redis PING and each chain's own health check, all with a
 * timeout so one hung RPC endpoint cannot hang the probe.
 */
import type { Redis } from 'ioredis';
import type { ChainHealthReport, ComponentHealth, HealthReport } from './types.js';

/** What a chain contributes; `ChainAdapter` satisfies it (`{ name: a.info.name, health: () => a.health() }`). */
export interface ChainProbe {
  name: string;
  health: () => Promise<{ ok: boolean; height?: string; error?: string }>;
}

export interface ProbeHealthOptions {
  redis: Pick<Redis, 'ping'>;
  chains: readonly ChainProbe[];
  /** @defaultValue `2000` */
  timeoutMs?: number;
}

/** RPC errors often quote the endpoint URL, whose path may hold an API key: keep only scheme://host. */
export function scrubUrls(message: string): string {
  return message.replace(/\b([a-z][a-z0-9+.-]*:\/\/)([^\s/@]+@)?([^\s/?#]+)[^\s]*/gi, '$1$3');
}

async function timed<T>(
  fn: () => Promise<T>,
  timeoutMs: number,
): Promise<{ value?: T; latencyMs: number; error?: string }> {
  const start = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    const value = await Promise.race([
      fn(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
    return { value, latencyMs: Math.round(performance.now() - start) };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    return { latencyMs: Math.round(performance.now() - start), error: scrubUrls(message) };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * @example
 * const health = () => probeHealth({ redis, chains: adapters.map((a) => ({ name: a.info.name, health: () => a.health() })) });
 * const app = await buildApi({ ..., health });
 */
export async function probeHealth(options: ProbeHealthOptions): Promise<HealthReport> {
  const timeoutMs = options.timeoutMs ?? 2000;
  const [redisResult, chainResults] = await Promise.all([
    timed(() => options.redis.ping(), timeoutMs),
    Promise.all(options.chains.map((c) => timed(() => c.health(), timeoutMs))),
  ]);
  const redis: ComponentHealth = { ok: redisResult.error === undefined, latencyMs: redisResult.latencyMs };
  if (redisResult.error !== undefined) redis.error = redisResult.error;
  const chains = options.chains.map((c, i): ChainHealthReport => {
    const r = chainResults[i]!;
    const out: ChainHealthReport = {
      name: c.name,
      ok: r.error === undefined && r.value?.ok === true,
      latencyMs: r.latencyMs,
    };
    if (r.value?.height !== undefined) out.height = r.value.height;
    const error = r.error ?? (r.value?.ok === false ? r.value.error : undefined);
    if (error !== undefined) out.error = scrubUrls(error);
    return out;
  });
  return { ok: redis.ok && chains.every((c) => c.ok), redis, chains };
}
