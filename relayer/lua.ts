/** A Redis Lua script run with EVALSHA, falling back to EVAL once when Redis has not cached it (restart, SCRIPT FLUSH). */
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';

export class LuaScript {
  private readonly sha: string;
  constructor(private readonly source: string) {
    this.sha = createHash('sha1').update(source).digest('hex');
  }
  async run(redis: Redis, args: readonly string[]): Promise<unknown> {
    try {
      return await redis.evalsha(this.sha, 0, ...args);
    } catch (err) {
      if (err instanceof Error && err.message.includes('NOSCRIPT'))
        return redis.eval(this.source, 0, ...args);
      throw err;
    }
  }
}
