/**
 * Runs once before the suite: Redis is the one service the tests assume. Without it, say how to start one and
 * stop here rather than fail a hundred tests with connection errors.
 */
import { assertRedisReachable } from '../relayer/redis.js';

export default async function setup(): Promise<void> {
  await assertRedisReachable(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
}
