/**
 * Per-patient audit trail in Redis, anchored on chain. Every key sits under `${prefix}:audit:`:
 *
 * | key | type | content |
 * |---|---|---|
 * | `log:<pseudonym hex>` | zset | entry hashes of one patient; score = append order (the pagination cursor) |
 * | `entry:<pseudonym hex>:<hash hex>` | hash | `event` (RFC 8785 JSON), `action`, `seq`, `anchored` 0/1, `attempts`, `anchoredAt` |
 * | `pending` | zset | `<pseudonym hex>:<hash hex>` not yet anchored; score = append order (oldest retried first) |
 * | `seq` | string | counter behind the scores |
 *
 * An entry is stored before it is anchored, so a failing anchor (chain down, out of gas) loses nothing: the entry
 * stays `anchored: false` in `pending` until `retryAnchors()` succeeds. Appends are idempotent by entry hash.
 * Anchoring may run twice for one entry (two retry loops racing), so the AuditLog anchor must be idempotent.
 *
 * Privacy: keys hold pseudonyms and hashes only; the events are validated by `checkAuditEvent`, which refuses
 * elements that could carry patient data.
 */
import type { Redis } from 'ioredis';
import type { Hex } from '../../proofs/bytes.js';
import { canonicalize } from '../../proofs/records/jcs.js';
import { LuaScript } from '../lua.js';
import { type AuditAction, AuditError, type AuditEvent, auditEntryHash, checkAuditEvent } from './event.js';

/** Anchors one entry hash on chain (AuditLog contract); throwing or timing out leaves the entry pending. */
export type AnchorFn = (patient: Hex, entryHash: Hex, action: AuditAction) => Promise<void>;

export interface AuditTrailOptions {
  /** Key namespace, usually `relayer.keyPrefix`. */
  prefix: string;
  anchor: AnchorFn;
  /** An anchor call that takes longer counts as failed (it may still land; anchoring is idempotent). @defaultValue `10000` */
  anchorTimeoutMs?: number;
  /** Told about anchor failures (entry hash and error code only). */
  onAnchorError?: (info: { entryHash: Hex; code: string }) => void;
  /** @defaultValue `Date.now` */
  now?: () => number;
  /**
   * Anchors several entries of one patient in one transaction. With it, `anchorPending` sends one transaction per
   * patient per round instead of one per entry.
   */
  anchorBatch?: (patient: Hex, entryHashes: Hex[]) => Promise<void>;
  /**
   * Do not anchor inside `append`: entries wait as pending for `anchorPending`. A busy relayer then spends one
   * transaction per patient per round, and appending never waits for a block.
   * @defaultValue false
   */
  deferAnchors?: boolean;
}

export interface AuditEntry {
  hash: Hex;
  event: AuditEvent;
  anchored: boolean;
}

export interface AuditPage {
  /** Newest first. */
  items: AuditEntry[];
  /** Pass as `cursor` for the next (older) page; null on the last one. */
  nextCursor: string | null;
}

export interface AuditListOptions {
  /** @defaultValue `20` (max `100`) */
  limit?: number;
  cursor?: string;
}

export interface PendingAnchor {
  patient: Hex;
  hash: Hex;
  action: AuditAction;
  attempts: number;
}

/** The read side the API needs. */
export interface AuditTrailReader {
  list(patient: string, options?: AuditListOptions): Promise<AuditPage>;
}

export const DEFAULT_AUDIT_LIMIT = 20;
export const MAX_AUDIT_LIMIT = 100;
const PSEUDONYM_RE = /^0x[0-9a-fA-F]{64}$/;

function bad(field: string, expected: string): never {
  throw new AuditError('MR_ERR_AUDIT_INPUT', `${field}: expected ${expected}`, { details: { field } });
}

function checkPatient(patient: string): string {
  if (typeof patient !== 'string' || !PSEUDONYM_RE.test(patient)) bad('patient', 'a pseudonym, 0x + 64 hex');
  return patient.slice(2).toLowerCase();
}

// ARGV: prefix, patient hex, hash hex, event json, action. Returns 1 when new, 0 when already stored.
const APPEND = new LuaScript(`
local p, pat, h = ARGV[1], ARGV[2], ARGV[3]
local key = p .. ':audit:entry:' .. pat .. ':' .. h
if redis.call('EXISTS', key) == 1 then return 0 end
local seq = redis.call('INCR', p .. ':audit:seq')
redis.call('HSET', key, 'event', ARGV[4], 'action', ARGV[5], 'seq', seq, 'anchored', '0', 'attempts', '0')
redis.call('ZADD', p .. ':audit:log:' .. pat, seq, h)
redis.call('ZADD', p .. ':audit:pending', seq, pat .. ':' .. h)
return 1
`);

// ARGV: prefix, patient hex, hash hex, 'ok' | 'fail', now (ms).
const SETTLE = new LuaScript(`
local p, pat, h = ARGV[1], ARGV[2], ARGV[3]
local key = p .. ':audit:entry:' .. pat .. ':' .. h
if redis.call('EXISTS', key) == 0 then return 0 end
redis.call('HINCRBY', key, 'attempts', 1)
if ARGV[4] == 'ok' then
  redis.call('HSET', key, 'anchored', '1', 'anchoredAt', ARGV[5])
  redis.call('ZREM', p .. ':audit:pending', pat .. ':' .. h)
end
return 1
`);

function errorCode(err: unknown): string {
  const c = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  return typeof c === 'string' && /^[A-Z0-9_]{1,64}$/.test(c) ? c : 'MR_ERR_AUDIT_ANCHOR';
}

export class AuditTrail implements AuditTrailReader {
  readonly prefix: string;
  private readonly anchor: AnchorFn;
  private readonly anchorTimeoutMs: number;
  private readonly onAnchorError: AuditTrailOptions['onAnchorError'];
  private readonly now: () => number;
  private readonly anchorBatch: AuditTrailOptions['anchorBatch'];
  private readonly deferAnchors: boolean;

  constructor(
    private readonly redis: Redis,
    options: AuditTrailOptions,
  ) {
    if (!options.prefix || /[*?[\]\s]/.test(options.prefix))
      bad('prefix', 'a non-empty key prefix without glob characters');
    this.prefix = options.prefix;
    this.anchor = options.anchor;
    this.anchorTimeoutMs = options.anchorTimeoutMs ?? 10_000;
    this.onAnchorError = options.onAnchorError;
    this.now = options.now ?? Date.now;
    this.anchorBatch = options.anchorBatch;
    this.deferAnchors = options.deferAnchors ?? false;
  }

  /**
   * Stores an entry for a patient, then tries to anchor it. Returns the entry hash whether or not anchoring
   * worked (a failed anchor leaves the entry pending). Appending the same entry twice stores it once.
   *
   * @example
   * const hash = await trail.append(pseudonym, event);
   * @throws AuditError MR_ERR_AUDIT_INPUT for a malformed pseudonym or event
   */
  async append(patient: string, entry: AuditEvent): Promise<Hex> {
    const pat = checkPatient(patient);
    const event = checkAuditEvent(entry);
    const hash = auditEntryHash(event);
    const action = event.action ?? 'E';
    const created = await APPEND.run(this.redis, [
      this.prefix,
      pat,
      hash.slice(2),
      canonicalize(event),
      action,
    ]);
    if (created === 1 && !this.deferAnchors) await this.tryAnchor(pat, hash, action);
    return hash;
  }

  /**
   * One patient's entries, newest first.
   *
   * @example
   * const { items, nextCursor } = await trail.list(pseudonym, { limit: 20 });
   */
  async list(patient: string, options: AuditListOptions = {}): Promise<AuditPage> {
    const pat = checkPatient(patient);
    const limit = options.limit ?? DEFAULT_AUDIT_LIMIT;
    if (!Number.isSafeInteger(limit) || limit < 1) bad('limit', 'a positive integer');
    const take = Math.min(limit, MAX_AUDIT_LIMIT);
    const cursor = options.cursor;
    if (cursor !== undefined && cursor !== '' && !/^\d{1,16}$/.test(cursor))
      bad('cursor', 'the nextCursor of a previous page');
    const max = cursor ? `(${cursor}` : '+inf';
    const raw = await this.redis.zrevrangebyscore(
      this.key('log', pat),
      max,
      '-inf',
      'WITHSCORES',
      'LIMIT',
      0,
      take + 1,
    );
    const rows: { hash: string; seq: string }[] = [];
    for (let i = 0; i + 1 < raw.length; i += 2) rows.push({ hash: raw[i]!, seq: raw[i + 1]! });
    const page = rows.slice(0, take);
    const pipe = this.redis.pipeline();
    for (const r of page) pipe.hmget(this.key('entry', pat, r.hash), 'event', 'anchored');
    const results = page.length > 0 ? ((await pipe.exec()) ?? []) : [];
    const items: AuditEntry[] = [];
    results.forEach(([err, value], i) => {
      if (err) throw err;
      const [event, anchored] = value as [string | null, string | null];
      if (event === null) return; // removed between the two reads
      items.push({
        hash: `0x${page[i]!.hash}`,
        event: JSON.parse(event) as AuditEvent,
        anchored: anchored === '1',
      });
    });
    return { items, nextCursor: rows.length > take ? page[page.length - 1]!.seq : null };
  }

  /**
   * Entries whose anchor has not succeeded yet, oldest first.
   *
   * @example
   * for (const p of await trail.pendingAnchors()) console.log(p.hash, p.attempts);
   */
  async pendingAnchors(options: { limit?: number } = {}): Promise<PendingAnchor[]> {
    const limit = Math.min(Math.max(options.limit ?? 100, 1), 1000);
    const members = await this.redis.zrange(this.key('pending'), '0', String(limit - 1));
    const pipe = this.redis.pipeline();
    for (const m of members) {
      const [pat, hash] = m.split(':') as [string, string];
      pipe.hmget(this.key('entry', pat, hash), 'action', 'attempts');
    }
    const results = members.length > 0 ? ((await pipe.exec()) ?? []) : [];
    const out: PendingAnchor[] = [];
    results.forEach(([err, value], i) => {
      if (err) throw err;
      const [action, attempts] = value as [string | null, string | null];
      if (action === null) return;
      const [pat, hash] = members[i]!.split(':') as [string, string];
      out.push({
        patient: `0x${pat}`,
        hash: `0x${hash}`,
        action: action as AuditAction,
        attempts: Number(attempts),
      });
    });
    return out;
  }

  /**
   * Retries anchoring of pending entries, oldest first (call at an interval and at start).
   *
   * @example
   * setInterval(() => void trail.retryAnchors(), 30_000);
   */
  async retryAnchors(options: { limit?: number } = {}): Promise<{ anchored: number; failed: number }> {
    let anchored = 0;
    let failed = 0;
    const pending = await this.pendingAnchors(options);
    if (this.anchorBatch) {
      const byPatient = new Map<string, PendingAnchor[]>();
      for (const p of pending) {
        const list = byPatient.get(p.patient) ?? [];
        list.push(p);
        byPatient.set(p.patient, list);
      }
      for (const [patient, list] of byPatient) {
        const ok = await this.tryAnchorBatch(
          patient.slice(2),
          list.map((p) => p.hash),
        );
        if (ok) anchored += list.length;
        else failed += list.length;
      }
      return { anchored, failed };
    }
    for (const p of pending) {
      if (await this.tryAnchor(p.patient.slice(2), p.hash, p.action)) anchored++;
      else failed++;
    }
    return { anchored, failed };
  }

  /** `anchorPending` is the same round: anchors what is pending, batched per patient when `anchorBatch` is set. */
  anchorPending(options: { limit?: number } = {}): Promise<{ anchored: number; failed: number }> {
    return this.retryAnchors(options);
  }

  private async tryAnchorBatch(pat: string, hashes: Hex[]): Promise<boolean> {
    let ok = false;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.anchorBatch!(`0x${pat}`, hashes),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () =>
              reject(
                new AuditError('MR_ERR_AUDIT_ANCHOR', `anchor timed out after ${this.anchorTimeoutMs} ms`),
              ),
            this.anchorTimeoutMs,
          );
        }),
      ]);
      ok = true;
    } catch (err) {
      for (const h of hashes) this.onAnchorError?.({ entryHash: h, code: errorCode(err) });
    } finally {
      clearTimeout(timer);
    }
    for (const h of hashes) {
      await SETTLE.run(this.redis, [this.prefix, pat, h.slice(2), ok ? 'ok' : 'fail', String(this.now())]);
    }
    return ok;
  }

  private async tryAnchor(pat: string, hash: Hex, action: AuditAction): Promise<boolean> {
    let ok = false;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.anchor(`0x${pat}`, hash, action),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () =>
              reject(
                new AuditError('MR_ERR_AUDIT_ANCHOR', `anchor timed out after ${this.anchorTimeoutMs} ms`),
              ),
            this.anchorTimeoutMs,
          );
        }),
      ]);
      ok = true;
    } catch (err) {
      this.onAnchorError?.({ entryHash: hash, code: errorCode(err) });
    } finally {
      clearTimeout(timer);
    }
    await SETTLE.run(this.redis, [this.prefix, pat, hash.slice(2), ok ? 'ok' : 'fail', String(this.now())]);
    return ok;
  }

  private key(...parts: string[]): string {
    return [this.prefix, 'audit', ...parts].join(':');
  }
}
