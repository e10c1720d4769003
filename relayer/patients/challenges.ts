/**
 * Single-use login challenges for patients, in Redis with a TTL. Keys under `${prefix}:patient:`:
 *
 * | key | type | content |
 * |---|---|---|
 * | `challenge:<pseudonym hex>:<sha256(challenge) hex>` | string | `1`, expires after the TTL |
 * | `challenges:<pseudonym hex>` | zset | outstanding challenge hashes; score = expiry (ms), for the per-patient cap |
 *
 * The key holds a hash of the challenge, not the challenge, so a Redis dump cannot replay one. `consume` is a
 * GETDEL, so of two requests racing with the same challenge exactly one wins. Challenges are issued by an
 * unauthenticated route, so each pseudonym may hold at most `maxOutstanding` live ones; using or letting one
 * expire frees its slot.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { MedrelayError } from '../../proofs/errors.js';

export const CHALLENGE_BYTES = 32;
/** @defaultValue 5 minutes */
export const DEFAULT_CHALLENGE_TTL_MS = 5 * 60_000;
/** Live, unused challenges per pseudonym: bounds what an anonymous caller can make Redis hold. */
export const DEFAULT_MAX_CHALLENGES = 10;
/** base64url of 32 bytes, no padding. */
export const CHALLENGE_RE = /^[A-Za-z0-9_-]{43}$/;

export interface IssuedChallenge {
  /** base64url, 32 random bytes. */
  challenge: string;
  /** ISO 8601 instant. */
  expiresAt: string;
}

export interface PatientChallengesOptions {
  prefix: string;
  /** @defaultValue `DEFAULT_CHALLENGE_TTL_MS` */
  ttlMs?: number;
  /** @defaultValue `DEFAULT_MAX_CHALLENGES` */
  maxOutstanding?: number;
  /** @defaultValue `Date.now` */
  now?: () => number;
}

// ARGV: challenge key, outstanding zset, challenge hash, ttl ms, max, now ms. Returns 0 when the cap is reached.
// Expired members are dropped first, so only live, unused challenges count against the cap.
const ISSUE = `
redis.call('ZREMRANGEBYSCORE', ARGV[2], '-inf', ARGV[6])
if redis.call('ZCARD', ARGV[2]) >= tonumber(ARGV[5]) then return 0 end
redis.call('ZADD', ARGV[2], tonumber(ARGV[6]) + tonumber(ARGV[4]), ARGV[3])
redis.call('PEXPIRE', ARGV[2], ARGV[4])
redis.call('SET', ARGV[1], '1', 'PX', ARGV[4])
return 1
`;

// ARGV: challenge key, outstanding zset, challenge hash. GETDEL makes the challenge single use.
const CONSUME = `
local v = redis.call('GETDEL', ARGV[1])
redis.call('ZREM', ARGV[2], ARGV[3])
if v then return 1 end
return 0
`;

const sha256Hex = (s: string): string => createHash('sha256').update(s, 'utf8').digest('hex');

export class PatientChallenges {
  private readonly ttlMs: number;
  private readonly max: number;
  private readonly now: () => number;

  constructor(
    private readonly redis: Redis,
    private readonly options: PatientChallengesOptions,
  ) {
    this.ttlMs = options.ttlMs ?? DEFAULT_CHALLENGE_TTL_MS;
    this.max = options.maxOutstanding ?? DEFAULT_MAX_CHALLENGES;
    this.now = options.now ?? Date.now;
  }

  private keys(pseudonymHex: string, challenge: string): [key: string, outstanding: string, hash: string] {
    const hash = sha256Hex(challenge);
    return [
      `${this.options.prefix}:patient:challenge:${pseudonymHex}:${hash}`,
      `${this.options.prefix}:patient:challenges:${pseudonymHex}`,
      hash,
    ];
  }

  /**
   * Issues a challenge for a pseudonym (0x-less lowercase hex).
   *
   * @throws MedrelayError MR_ERR_PATIENT_RATE_LIMITED when `maxOutstanding` live challenges are unused
   */
  async issue(pseudonymHex: string): Promise<IssuedChallenge> {
    const challenge = randomBytes(CHALLENGE_BYTES).toString('base64url');
    const now = this.now();
    const expiresAt = new Date(now + this.ttlMs).toISOString();
    const ok = await this.redis.eval(
      ISSUE,
      0,
      ...this.keys(pseudonymHex, challenge),
      String(this.ttlMs),
      String(this.max),
      String(now),
    );
    if (ok !== 1) {
      throw new MedrelayError(
        'MR_ERR_PATIENT_RATE_LIMITED',
        `too many outstanding challenges; retry in ${Math.ceil(this.ttlMs / 1000)} s`,
      );
    }
    return { challenge, expiresAt };
  }

  /** True once for a live challenge of this pseudonym; false when unknown, expired or already used. */
  async consume(pseudonymHex: string, challenge: string): Promise<boolean> {
    if (!CHALLENGE_RE.test(challenge)) return false;
    return (await this.redis.eval(CONSUME, 0, ...this.keys(pseudonymHex, challenge))) === 1;
  }
}
