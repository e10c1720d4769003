/**
 * Packet lifecycle store over Redis. Every key sits under `${prefix}:`:
 *
 * | key | type | content |
 * |---|---|---|
 * | `pkt:<id>` | hash | one packet record |
 * | `state:<state>` | zset | ids in that state; score = global order of entering it (pagination cursor) |
 * | `chan:<channel>` | zset | ids of a channel; score = sequence |
 * | `chancount:<channel>` | hash | state → number of the channel's packets in it |
 * | `channels` | set | channel names seen |
 * | `order` | string | counter behind the `state:*` scores |
 * | `cursor` | hash | `<chain>|<kind>` → last processed height |
 *
 * State changes run as Lua scripts so the hash, the sets and the counts never disagree, and two workers racing
 * on one packet cannot move it backwards. Scripts build key names from the prefix (single Redis, not Cluster).
 *
 * Privacy: records hold ids, hashes, sequences, heights, tx hashes and the opaque ABI-encoded packet (whose
 * payload carries only hashes and proofs). Never put patient data in `error`.
 */
import type { Redis } from 'ioredis';
import { RelayerError } from '../proofs/errors.js';
import { LuaScript } from './lua.js';

export const PACKET_STATES = [
  'sent',
  'proven',
  'delivered',
  'acknowledged',
  'timed_out',
  'refunded',
  'failed',
] as const;
export type PacketState = (typeof PACKET_STATES)[number];

/** Direct lifecycle edges; any state reachable through them is a forward move. */
const NEXT: Readonly<Record<PacketState, readonly PacketState[]>> = {
  sent: ['proven', 'timed_out', 'failed'],
  proven: ['delivered', 'timed_out', 'failed'],
  // delivered → timed_out: the destination may record an expired packet (status TIMEOUT, app not called) while
  // the source times it out with a proof of non-receipt from an earlier height; both say "not executed".
  delivered: ['acknowledged', 'timed_out', 'failed'],
  timed_out: ['refunded', 'failed'],
  acknowledged: [],
  refunded: [],
  failed: [],
};

function reachable(from: PacketState): Set<PacketState> {
  const seen = new Set<PacketState>();
  const stack = [...NEXT[from]];
  while (stack.length > 0) {
    const s = stack.pop()!;
    if (seen.has(s)) continue;
    seen.add(s);
    stack.push(...NEXT[s]);
  }
  return seen;
}

const REACHABLE = Object.fromEntries(PACKET_STATES.map((s) => [s, reachable(s)])) as Record<
  PacketState,
  Set<PacketState>
>;

/** True when `to` lies ahead of `from` (skipping states is allowed: another relayer may have done a step). */
export function isForward(from: PacketState, to: PacketState): boolean {
  return REACHABLE[from].has(to);
}

/** States with nothing left for the relayer to do. */
export const TERMINAL_STATES: readonly PacketState[] = PACKET_STATES.filter((s) => NEXT[s].length === 0);
/** States that still owe work (deliver, acknowledge or refund): the backlog. */
export const PENDING_STATES: readonly PacketState[] = PACKET_STATES.filter((s) => NEXT[s].length > 0);

/** Field written with the time a packet enters each state. */
const STATE_TIME_FIELD: Partial<Record<PacketState, keyof PacketRecord>> = {
  proven: 'provenAt',
  delivered: 'deliveredAt',
  acknowledged: 'ackedAt',
  timed_out: 'timedOutAt',
  refunded: 'refundedAt',
  failed: 'failedAt',
};

export type HexString = `0x${string}`;

export interface PacketRecord {
  /** Packet id, keccak256(abi.encode(packet)), lowercase 0x-hex. */
  id: HexString;
  /** Channel key as the pipeline stores it: the bytes32 channel id (lowercase hex) or the config name. */
  channel: string;
  sequence: number;
  /** Source and destination chain, as the pipeline names them (chain id as decimal string, or config name). */
  sourceChain: string;
  destChain: string;
  /** Packet kind (1 RECORD_PROOF … 5 SETTLEMENT). */
  kind: number;
  state: PacketState;
  sentHeight: number;
  sentTx?: HexString;
  provenHeight?: number;
  /** Times are milliseconds since the Unix epoch. */
  sentAt: number;
  provenAt?: number;
  deliveredAt?: number;
  ackedAt?: number;
  timedOutAt?: number;
  refundedAt?: number;
  failedAt?: number;
  updatedAt: number;
  deliverTx?: HexString;
  ackTx?: HexString;
  refundTx?: HexString;
  ackStatus?: number;
  /** Gas the relayer spent on this packet (its share of batch transactions), decimal string. */
  gasUsed?: string;
  error?: string;
  /** ABI-encoded packet (opaque; carries only hashes and proofs). */
  packetHex: HexString;
}

export interface SentPacketInput {
  id: string;
  channel: string;
  sequence: number | bigint;
  sourceChain: string | number | bigint;
  destChain: string | number | bigint;
  kind: number;
  sentHeight: number | bigint;
  sentTx?: string;
  /** @defaultValue now */
  sentAt?: number;
  packetHex: string;
}

export interface TransitionFields {
  /** Time of the move (ms); stored in the state's time field. @defaultValue now */
  at?: number;
  /** Source height whose commitment proof covers the packet (state `proven`). */
  provenHeight?: number | bigint;
  deliverTx?: string;
  ackTx?: string;
  refundTx?: string;
  ackStatus?: number;
  /** Added to the packet's running `gasUsed`. */
  gasUsed?: number | bigint;
  error?: string;
}

/**
 * `applied`: the packet moved. `unchanged`: it was already in that state (idempotent repeat).
 * `stale`: it is already past that state, so nothing changed (a late or duplicate worker).
 * `missing`: no such packet yet (e.g. the destination observer ran ahead of the source observer).
 */
export type TransitionOutcome = 'applied' | 'unchanged' | 'stale' | 'missing';

export type TransitionResult =
  | {
      outcome: 'applied' | 'unchanged' | 'stale' /** State before the call. */;
      from: PacketState;
      record: PacketRecord;
    }
  | { outcome: 'missing'; from: null; record: null };

export interface ListOptions {
  /** @defaultValue `50` (max `500`) */
  limit?: number;
  /** Opaque `nextCursor` of the previous page. */
  cursor?: string;
  /** @defaultValue `'asc'` (oldest first) */
  order?: 'asc' | 'desc';
}

export interface PacketPage {
  items: PacketRecord[];
  /** Pass as `cursor` for the next page; null when this was the last one. */
  nextCursor: string | null;
}

export type StateCounts = Record<PacketState, number>;

/** The read side, which the API and metrics depend on (so they can be tested with fakes). */
export interface PacketStoreReader {
  get(id: string): Promise<PacketRecord | null>;
  listByState(state: PacketState, options?: ListOptions): Promise<PacketPage>;
  listByChannel(channel: string, options?: ListOptions): Promise<PacketPage>;
  countsByState(): Promise<StateCounts>;
  countsByChannel(channel: string): Promise<StateCounts>;
  backlog(channel: string): Promise<number>;
}

export interface PacketStoreOptions {
  /** Key namespace, usually `relayer.keyPrefix`. */
  prefix: string;
  /** Clock (ms), injectable for tests. @defaultValue `Date.now` */
  now?: () => number;
}

export const DEFAULT_LIST_LIMIT = 50;
export const MAX_LIST_LIMIT = 500;
const MAX_ERROR_LENGTH = 500;

const ID_RE = /^0x[0-9a-fA-F]{64}$/;
const TX_RE = /^0x[0-9a-fA-F]{64}$/;
const HEX_RE = /^0x([0-9a-fA-F]{2})*$/;
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

function bad(field: string, expected: string): never {
  throw new RelayerError('MR_ERR_STORE_INPUT', `${field}: expected ${expected}`, { details: { field } });
}

/** Lowercases and checks a packet id; throws `MR_ERR_STORE_INPUT` otherwise. */
export function normalizePacketId(id: string): HexString {
  if (typeof id !== 'string' || !ID_RE.test(id)) bad('id', 'a 0x-prefixed 32-byte hex packet id');
  return id.toLowerCase() as HexString;
}

/** Channel and chain keys: names, decimal chain ids or 0x channel ids (hex is lowercased so lookups agree). */
function checkName(v: string | number | bigint, field: string): string {
  const s = typeof v === 'string' ? v : typeof v === 'bigint' || Number.isSafeInteger(v) ? String(v) : '';
  if (!NAME_RE.test(s)) bad(field, 'a name of letters, digits, "_", "." or "-"');
  return /^0x[0-9a-fA-F]+$/.test(s) ? s.toLowerCase() : s;
}

function checkUint(v: number | bigint, field: string): string {
  const ok =
    typeof v === 'bigint'
      ? v >= 0n && v <= BigInt(Number.MAX_SAFE_INTEGER)
      : Number.isSafeInteger(v) && v >= 0;
  if (!ok) bad(field, 'a non-negative safe integer');
  return String(v);
}

function checkTx(v: string, field: string): string {
  if (!TX_RE.test(v)) bad(field, 'a 0x-prefixed 32-byte transaction hash');
  return v.toLowerCase();
}

const UPSERT_SENT = new LuaScript(`
local p, id, chan, seq = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local key = p .. ':pkt:' .. id
if redis.call('EXISTS', key) == 1 then
  return {0, redis.call('HGET', key, 'packetHex') or '', redis.call('HGETALL', key)}
end
local fields = {}
for i = 5, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', key, unpack(fields))
local order = redis.call('INCR', p .. ':order')
redis.call('ZADD', p .. ':state:sent', order, id)
redis.call('ZADD', p .. ':chan:' .. chan, seq, id)
redis.call('HINCRBY', p .. ':chancount:' .. chan, 'sent', 1)
redis.call('SADD', p .. ':channels', chan)
return {1, '', redis.call('HGETALL', key)}
`);

// ARGV: prefix, id, target, forwardFrom (comma list), staleFrom (comma list), gasUsed delta, field/value pairs…
const TRANSITION = new LuaScript(`
local p, id, target = ARGV[1], ARGV[2], ARGV[3]
local key = p .. ':pkt:' .. id
local cur = redis.call('HGET', key, 'state')
if not cur then return {'missing', ''} end
if cur == target then return {'unchanged', cur, redis.call('HGETALL', key)} end
local function has(list, s) return string.find(',' .. list .. ',', ',' .. s .. ',', 1, true) ~= nil end
if not has(ARGV[4], cur) then
  if has(ARGV[5], cur) then return {'stale', cur, redis.call('HGETALL', key)} end
  return {'invalid', cur}
end
local chan = redis.call('HGET', key, 'channel')
local fields = {'state', target}
for i = 7, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', key, unpack(fields))
if ARGV[6] ~= '0' then redis.call('HINCRBY', key, 'gasUsed', ARGV[6]) end
redis.call('ZREM', p .. ':state:' .. cur, id)
redis.call('ZADD', p .. ':state:' .. target, redis.call('INCR', p .. ':order'), id)
redis.call('HINCRBY', p .. ':chancount:' .. chan, cur, -1)
redis.call('HINCRBY', p .. ':chancount:' .. chan, target, 1)
return {'applied', cur, redis.call('HGETALL', key)}
`);

// Monotonic: a cursor only moves up, so a slow worker finishing late cannot rewind the scan.
const SET_CURSOR = new LuaScript(`
local key, field, h = ARGV[1], ARGV[2], ARGV[3]
local cur = redis.call('HGET', key, field)
if cur and tonumber(cur) >= tonumber(h) then return 0 end
redis.call('HSET', key, field, h)
return 1
`);

const NUMBER_FIELDS = new Set([
  'sequence',
  'kind',
  'sentHeight',
  'provenHeight',
  'sentAt',
  'provenAt',
  'deliveredAt',
  'ackedAt',
  'timedOutAt',
  'refundedAt',
  'failedAt',
  'updatedAt',
  'ackStatus',
]);

function fromPairs(pairs: readonly string[]): PacketRecord {
  const out: Record<string, string | number> = {};
  for (let i = 0; i + 1 < pairs.length; i += 2) {
    const k = pairs[i]!;
    const v = pairs[i + 1]!;
    out[k] = NUMBER_FIELDS.has(k) ? Number(v) : v;
  }
  return out as unknown as PacketRecord;
}

function fromHash(h: Record<string, string>): PacketRecord | null {
  if (!h.id) return null;
  return fromPairs(Object.entries(h).flat());
}

function emptyCounts(): StateCounts {
  return Object.fromEntries(PACKET_STATES.map((s) => [s, 0])) as StateCounts;
}

function clampLimit(limit: number | undefined): number {
  if (limit === undefined) return DEFAULT_LIST_LIMIT;
  if (!Number.isSafeInteger(limit) || limit < 1) bad('limit', 'a positive integer');
  return Math.min(limit, MAX_LIST_LIMIT);
}

function parseCursor(cursor: string | undefined): number | undefined {
  if (cursor === undefined || cursor === '') return undefined;
  if (!/^\d{1,16}$/.test(cursor)) bad('cursor', 'the nextCursor of a previous page');
  return Number(cursor);
}

export class PacketStore implements PacketStoreReader {
  readonly prefix: string;
  private readonly now: () => number;

  constructor(
    private readonly redis: Redis,
    options: PacketStoreOptions,
  ) {
    if (!options.prefix || /[*?[\]\s]/.test(options.prefix))
      bad('prefix', 'a non-empty key prefix without glob characters');
    this.prefix = options.prefix;
    this.now = options.now ?? Date.now;
  }

  private key(...parts: string[]): string {
    return [this.prefix, ...parts].join(':');
  }

  /**
   * Records a packet seen in a `PacketSent` event. Idempotent: a packet already stored keeps its state, so
   * re-scanning old blocks (clear on start) never rewinds it. Returns whether it was new.
   *
   * @example
   * await store.upsertSent({ id, channel: 'medical-a-insurer', sequence: 1n, sourceChain: 'medical-a',
   *   destChain: 'insurer', kind: 1, sentHeight: 42n, packetHex });
   */
  async upsertSent(input: SentPacketInput): Promise<{ created: boolean; record: PacketRecord }> {
    const id = normalizePacketId(input.id);
    const channel = checkName(input.channel, 'channel');
    const sequence = checkUint(input.sequence, 'sequence');
    if (!HEX_RE.test(input.packetHex)) bad('packetHex', '0x-prefixed even-length hex');
    if (!Number.isInteger(input.kind) || input.kind < 0 || input.kind > 255) bad('kind', 'an integer 0..255');
    const now = this.now();
    const fields: Record<string, string> = {
      id,
      channel,
      sequence,
      sourceChain: checkName(input.sourceChain, 'sourceChain'),
      destChain: checkName(input.destChain, 'destChain'),
      kind: String(input.kind),
      state: 'sent',
      sentHeight: checkUint(input.sentHeight, 'sentHeight'),
      sentAt: checkUint(input.sentAt ?? now, 'sentAt'),
      updatedAt: String(now),
      packetHex: input.packetHex.toLowerCase(),
    };
    if (input.sentTx !== undefined) fields.sentTx = checkTx(input.sentTx, 'sentTx');
    const reply = (await UPSERT_SENT.run(this.redis, [
      this.prefix,
      id,
      channel,
      sequence,
      ...Object.entries(fields).flat(),
    ])) as [number, string, string[]];
    const [created, storedHex, pairs] = reply;
    if (created === 0 && storedHex !== fields.packetHex) {
      // Same id, different bytes: impossible for honest input (id = keccak of the bytes), so it is a caller bug.
      throw new RelayerError(
        'MR_ERR_PACKET_CONFLICT',
        `packet ${id} is already stored with different bytes`,
        {
          details: { id },
        },
      );
    }
    return { created: created === 1, record: fromPairs(pairs) };
  }

  /**
   * Moves a packet forward in its lifecycle (sent → proven → delivered → acknowledged; sent/proven → timed_out →
   * refunded; any pending state → failed) and says whether it moved. Repeats and late backward moves return
   * false without writing, so retried jobs are harmless; see `advance` for the details.
   *
   * @example
   * if (await store.transition(id, 'delivered', { deliverTx: tx.hash, gasUsed: tx.gasUsed })) { ... }
   */
  async transition(id: string, state: PacketState, fields: TransitionFields = {}): Promise<boolean> {
    return (await this.advance(id, state, fields)).outcome === 'applied';
  }

  /**
   * `transition` with the outcome, the previous state and the record after the call. A move to another branch
   * of the lifecycle (delivered → timed_out, failed → delivered) throws `MR_ERR_PACKET_TRANSITION`: chain
   * evidence contradicts what the store holds.
   */
  async advance(
    idInput: string,
    state: PacketState,
    fields: TransitionFields = {},
  ): Promise<TransitionResult> {
    const id = normalizePacketId(idInput);
    if (!PACKET_STATES.includes(state)) bad('state', `one of ${PACKET_STATES.join(', ')}`);
    const forwardFrom = PACKET_STATES.filter((s) => isForward(s, state));
    const staleFrom = PACKET_STATES.filter((s) => isForward(state, s));
    const now = this.now();
    const set: Record<string, string> = { updatedAt: String(now) };
    const timeField = STATE_TIME_FIELD[state];
    if (timeField) set[timeField] = checkUint(fields.at ?? now, 'at');
    if (fields.provenHeight !== undefined) set.provenHeight = checkUint(fields.provenHeight, 'provenHeight');
    if (fields.deliverTx !== undefined) set.deliverTx = checkTx(fields.deliverTx, 'deliverTx');
    if (fields.ackTx !== undefined) set.ackTx = checkTx(fields.ackTx, 'ackTx');
    if (fields.refundTx !== undefined) set.refundTx = checkTx(fields.refundTx, 'refundTx');
    if (fields.ackStatus !== undefined) {
      if (!Number.isInteger(fields.ackStatus) || fields.ackStatus < 0 || fields.ackStatus > 255)
        bad('ackStatus', 'an integer 0..255');
      set.ackStatus = String(fields.ackStatus);
    }
    if (fields.error !== undefined) set.error = String(fields.error).slice(0, MAX_ERROR_LENGTH);
    const gas = fields.gasUsed === undefined ? '0' : checkUint(fields.gasUsed, 'gasUsed');

    const reply = (await TRANSITION.run(this.redis, [
      this.prefix,
      id,
      state,
      forwardFrom.join(','),
      staleFrom.join(','),
      gas,
      ...Object.entries(set).flat(),
    ])) as [string, string, string[]?];
    const [outcome, from] = reply;
    if (outcome === 'missing') return { outcome, from: null, record: null };
    if (outcome === 'invalid') {
      throw new RelayerError(
        'MR_ERR_PACKET_TRANSITION',
        `packet ${id} cannot move from ${from} to ${state}`,
        {
          details: { id, from, to: state },
        },
      );
    }
    return {
      outcome: outcome as 'applied' | 'unchanged' | 'stale',
      from: from as PacketState,
      record: fromPairs(reply[2] ?? []),
    };
  }

  async get(idInput: string): Promise<PacketRecord | null> {
    const id = normalizePacketId(idInput);
    return fromHash(await this.redis.hgetall(this.key('pkt', id)));
  }

  private async fetch(ids: readonly string[]): Promise<PacketRecord[]> {
    if (ids.length === 0) return [];
    const pipe = this.redis.pipeline();
    for (const id of ids) pipe.hgetall(this.key('pkt', id));
    const results = (await pipe.exec()) ?? [];
    const out: PacketRecord[] = [];
    for (const [err, h] of results) {
      if (err) throw err;
      const rec = fromHash(h as Record<string, string>);
      if (rec) out.push(rec); // a packet deleted between the range and the read is skipped
    }
    return out;
  }

  private async page(key: string, options: ListOptions): Promise<PacketPage> {
    const limit = clampLimit(options.limit);
    const after = parseCursor(options.cursor);
    const desc = options.order === 'desc';
    // Scores are unique per key (order counter / sequence), so "strictly after the last score" is an exact cursor.
    const raw = desc
      ? await this.redis.zrevrangebyscore(
          key,
          after === undefined ? '+inf' : `(${after}`,
          '-inf',
          'WITHSCORES',
          'LIMIT',
          0,
          limit + 1,
        )
      : await this.redis.zrangebyscore(
          key,
          after === undefined ? '-inf' : `(${after}`,
          '+inf',
          'WITHSCORES',
          'LIMIT',
          0,
          limit + 1,
        );
    const entries: Array<{ id: string; score: string }> = [];
    for (let i = 0; i + 1 < raw.length; i += 2) entries.push({ id: raw[i]!, score: raw[i + 1]! });
    const more = entries.length > limit;
    const pageEntries = entries.slice(0, limit);
    return {
      items: await this.fetch(pageEntries.map((e) => e.id)),
      nextCursor: more && pageEntries.length > 0 ? pageEntries[pageEntries.length - 1]!.score : null,
    };
  }

  /** Packets in a state, in the order they entered it. */
  async listByState(state: PacketState, options: ListOptions = {}): Promise<PacketPage> {
    if (!PACKET_STATES.includes(state)) bad('state', `one of ${PACKET_STATES.join(', ')}`);
    return this.page(this.key('state', state), options);
  }

  /** Packets of a channel by sequence. */
  async listByChannel(channel: string, options: ListOptions = {}): Promise<PacketPage> {
    return this.page(this.key('chan', checkName(channel, 'channel')), options);
  }

  async countsByState(): Promise<StateCounts> {
    const pipe = this.redis.pipeline();
    for (const s of PACKET_STATES) pipe.zcard(this.key('state', s));
    const results = (await pipe.exec()) ?? [];
    const counts = emptyCounts();
    PACKET_STATES.forEach((s, i) => {
      const [err, n] = results[i] ?? [null, 0];
      if (err) throw err;
      counts[s] = Number(n);
    });
    return counts;
  }

  async countsByChannel(channel: string): Promise<StateCounts> {
    const h = await this.redis.hgetall(this.key('chancount', checkName(channel, 'channel')));
    const counts = emptyCounts();
    for (const s of PACKET_STATES) counts[s] = Number(h[s] ?? 0);
    return counts;
  }

  /** Packets of a channel that still need work: not yet acknowledged, refunded or failed. */
  async backlog(channel: string): Promise<number> {
    const counts = await this.countsByChannel(channel);
    return PENDING_STATES.reduce((n, s) => n + counts[s], 0);
  }

  /** Channel names that have at least one stored packet. */
  async channels(): Promise<string[]> {
    return (await this.redis.smembers(this.key('channels'))).sort();
  }

  /** Last processed height of a chain for one scan kind (e.g. `events`), or null before the first scan. */
  async getCursor(chain: string, kind: string): Promise<bigint | null> {
    const v = await this.redis.hget(
      this.key('cursor'),
      `${checkName(chain, 'chain')}|${checkName(kind, 'kind')}`,
    );
    return v === null ? null : BigInt(v);
  }

  /** Raises a cursor; a lower or equal height is ignored. Returns whether it moved. */
  async setCursor(chain: string, kind: string, height: number | bigint): Promise<boolean> {
    const field = `${checkName(chain, 'chain')}|${checkName(kind, 'kind')}`;
    const moved = await SET_CURSOR.run(this.redis, [this.key('cursor'), field, checkUint(height, 'height')]);
    return moved === 1;
  }
}
