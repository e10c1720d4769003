/**
 * Devnet validator set: emulates a Besu QBFT network on top of anvil (which has no consensus of its own).
 *
 * A local validator set (default 4 keys, quorum 3) seals every anvil block into an exact Besu QBFT header
 * (`QbftExtraDataCodec` / `BftBlockHashing`, see proofs/qbft.ts) over anvil's REAL stateRoot / receiptsRoot,
 * so the relayer and the on-chain light client run the very code path a Besu network uses. The sealed chain
 * has its own block hashes (parentHash = sealed hash of the previous block); everything under the roots
 * (state, receipts, transactions) is anvil's, so `eth_getProof` answers verify against sealed headers.
 *
 * `QbftSealingProxy` is a JSON-RPC server in front of one anvil that serves sealed headers from
 * `eth_getBlockByNumber` / `eth_getBlockByHash` and `medrelay_getSealedHeaderRlp`, and forwards all else.
 * Signing keys are passed in by the caller and are never logged or put in error messages.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { bytesToHex, concatBytes, type Hex, quantityToBigint } from '../../../proofs/bytes.js';
import { ChainError, ConfigError } from '../../../proofs/errors.js';
import { keccak256 } from '../../../proofs/keccak.js';
import {
  BFT_MIX_HASH,
  type BftExtraData,
  type BftHeader,
  bftQuorum,
  EMPTY_UNCLES_HASH,
  encodeBftHeader,
  encodeQbftExtraData,
  normalizeValidators,
  qbftBlockHash,
  qbftSealDigest,
} from '../../../proofs/qbft.js';

/** A sealed QBFT header in JSON-RPC shape, with its QBFT block hash. */
export type SealedQbftHeader = BftHeader & { hash: Hex };

export interface SealedBlock {
  header: SealedQbftHeader;
  rlp: Uint8Array;
}

export interface SealOptions {
  /** Validator list to write into extraData instead of `validators` (rotation: the old set announces the new). */
  nextValidators?: readonly string[];
}

/** Fork fields copied from anvil when present (header order). */
const FORK_FIELDS = [
  'baseFeePerGas',
  'withdrawalsRoot',
  'blobGasUsed',
  'excessBlobGas',
  'parentBeaconBlockRoot',
  'requestsHash',
] as const;

/** Ethereum address of a secp256k1 secret key. */
export function addressOfKey(secretKey: Uint8Array): Hex {
  const pub = secp256k1.getPublicKey(secretKey, false);
  return bytesToHex(keccak256(pub.subarray(1)).subarray(12));
}

/**
 * Deterministic devnet validator keys: key_i = keccak256(seed ‖ ":" ‖ i). For local devnets only; the
 * devnet profile passes its seed from env (or a random one) so keys never live in the repository.
 */
export function deriveValidatorKeys(seed: string, count = 4): { keys: Uint8Array[]; validators: Hex[] } {
  const keys: Uint8Array[] = [];
  for (let i = 0; keys.length < count; i++) {
    const k = keccak256(new TextEncoder().encode(`${seed}:${i}`));
    if (secp256k1.utils.isValidSecretKey(k)) keys.push(k);
  }
  return { keys, validators: keys.map(addressOfKey) };
}

/** 65-byte r‖s‖v (v ∈ {0,1}) over `digest` with no prefix, low-s: Besu's commit-seal form. */
function signSeal(digest: Uint8Array, key: Uint8Array): Uint8Array {
  const vrs = secp256k1.sign(digest, key, { prehash: false, lowS: true, format: 'recovered' });
  return concatBytes(vrs.subarray(1), vrs.subarray(0, 1));
}

/**
 * Seals one anvil block as a QBFT block. `parentSealedHash` is the sealed hash of block number−1 (ignored at
 * genesis, which keeps anvil's parentHash and carries no seals: a genesis seal would have to sign itself).
 * Seals come from the first ceil(2n/3) of `signingKeys`, each of which must belong to `validators`.
 */
export function sealQbftHeader(
  base: Readonly<Record<string, unknown>>,
  parentSealedHash: string | null,
  validators: readonly string[],
  signingKeys: readonly Uint8Array[],
  round = 0n,
  opts: SealOptions = {},
): SealedBlock {
  const set = normalizeValidators(validators, 'validators');
  const quorum = bftQuorum(set.length);
  const str = (k: string): string => {
    const v = base[k];
    if (typeof v !== 'string')
      throw new ChainError('MR_ERR_SEALER_BASE_BLOCK', `anvil block: ${k} missing`, {
        details: { field: k },
      });
    return v;
  };
  const number = quantityToBigint(str('number'), 'block.number');
  const genesis = number === 0n;
  const signers = genesis ? [] : signingKeys.slice(0, quorum);
  if (!genesis && signers.length < quorum) {
    throw new ConfigError(
      'MR_ERR_SEALER_KEYS',
      `need ${quorum} signing keys for ${set.length} validators, got ${signingKeys.length}`,
      {
        details: { field: 'signingKeys' },
      },
    );
  }
  signers.forEach((k, i) => {
    if (!set.includes(addressOfKey(k))) {
      throw new ConfigError('MR_ERR_SEALER_KEYS', `signingKeys[${i}] does not belong to the validator set`, {
        details: { field: `signingKeys[${i}]` },
      });
    }
  });
  if (!genesis && (typeof parentSealedHash !== 'string' || !/^0x[0-9a-fA-F]{64}$/.test(parentSealedHash))) {
    throw new ConfigError(
      'MR_ERR_SEALER_PARENT',
      `block ${number}: parentSealedHash must be a 32-byte hash`,
      {
        details: { field: 'parentSealedHash' },
      },
    );
  }
  const extra: BftExtraData = {
    vanity: new Uint8Array(32),
    validators: opts.nextValidators ? normalizeValidators(opts.nextValidators, 'nextValidators') : set,
    vote: null,
    round,
    seals: [],
  };
  const header: BftHeader = {
    parentHash: genesis ? str('parentHash') : (parentSealedHash as string).toLowerCase(),
    sha3Uncles: EMPTY_UNCLES_HASH,
    miner: set[Number(number % BigInt(set.length))]!,
    stateRoot: str('stateRoot'),
    transactionsRoot: str('transactionsRoot'),
    receiptsRoot: str('receiptsRoot'),
    logsBloom: str('logsBloom'),
    difficulty: '0x1',
    number: str('number'),
    gasLimit: str('gasLimit'),
    gasUsed: str('gasUsed'),
    timestamp: str('timestamp'),
    extraData: bytesToHex(encodeQbftExtraData(extra)),
    mixHash: BFT_MIX_HASH,
    nonce: '0x0000000000000000',
  };
  for (const f of FORK_FIELDS) {
    const v = base[f];
    if (typeof v === 'string') header[f] = v;
  }
  if (signers.length > 0) {
    const digest = qbftSealDigest(header);
    extra.seals = signers.map((k) => signSeal(digest, k));
    header.extraData = bytesToHex(encodeQbftExtraData(extra));
  }
  const hash = bytesToHex(qbftBlockHash(header));
  return { header: { ...header, hash }, rlp: encodeBftHeader(header) };
}

// ---------------------------------------------------------------------------------------------
// JSON-RPC sealing proxy
// ---------------------------------------------------------------------------------------------

export interface SealingProxyOptions {
  upstreamUrl: string;
  /** 0 (default) = any free port. */
  port?: number;
  host?: string;
  validators: readonly string[];
  keys: readonly Uint8Array[];
  /** Round written into every header (default 0). */
  round?: bigint;
}

interface JsonRpcRequest {
  jsonrpc?: string;
  id?: unknown;
  method?: unknown;
  params?: unknown;
}
type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type RpcBlock = Record<string, Json>;

interface CacheEntry extends SealedBlock {
  anvilHash: string;
}

const HASH_RE = /^0x[0-9a-fA-F]{64}$/;

export class QbftSealingProxy {
  readonly url: string;
  readonly validators: readonly Hex[];
  readonly #server: Server;
  readonly #upstream: string;
  readonly #keys: readonly Uint8Array[];
  readonly #round: bigint;
  readonly #cache = new Map<bigint, CacheEntry>();
  readonly #bySealedHash = new Map<string, bigint>();
  #top = -1n; // highest sealed number; the cache is always contiguous 0..top
  /** Scheduled rotations, ascending by `atBlock` (empty = the fixed constructor set, the default). */
  readonly #rotations: { atBlock: bigint; validators: Hex[]; keys: Uint8Array[] }[] = [];
  #chain: Promise<unknown> = Promise.resolve();
  #rpcId = 0;

  private constructor(server: Server, url: string, opts: SealingProxyOptions) {
    this.#server = server;
    this.url = url;
    this.#upstream = opts.upstreamUrl;
    this.validators = normalizeValidators(opts.validators, 'validators');
    this.#keys = [...opts.keys];
    this.#round = opts.round ?? 0n;
  }

  /** Starts the proxy; validates that enough keys of the set are present before listening. */
  static async start(opts: SealingProxyOptions): Promise<QbftSealingProxy> {
    const validators = normalizeValidators(opts.validators, 'validators');
    const quorum = bftQuorum(validators.length);
    if (opts.keys.length < quorum) {
      throw new ConfigError('MR_ERR_SEALER_KEYS', `need ${quorum} signing keys, got ${opts.keys.length}`, {
        details: { field: 'keys' },
      });
    }
    opts.keys.slice(0, quorum).forEach((k, i) => {
      if (!validators.includes(addressOfKey(k))) {
        throw new ConfigError('MR_ERR_SEALER_KEYS', `keys[${i}] does not belong to the validator set`, {
          details: { field: `keys[${i}]` },
        });
      }
    });
    let proxy: QbftSealingProxy | undefined;
    const server = createServer((req, res) => {
      if (proxy) void proxy.#serve(req, res);
      else res.writeHead(503).end();
    });
    const host = opts.host ?? '127.0.0.1';
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.port ?? 0, host, () => resolve());
    });
    const { port } = server.address() as AddressInfo;
    proxy = new QbftSealingProxy(server, `http://${host}:${port}`, opts);
    return proxy;
  }

  async stop(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  /**
   * Schedules a validator-set rotation: the header at `atBlock` is sealed by the set in force before it and
   * lists the new set (`newKeys`' addresses) in extraData; every later header is sealed by, and lists, the new
   * set. `atBlock` must be above every block sealed so far and above any earlier scheduled rotation.
   */
  scheduleRotation(atBlock: bigint, newKeys: readonly Uint8Array[]): Hex[] {
    const last = this.#rotations.at(-1)?.atBlock ?? 0n;
    if (atBlock <= this.#top || atBlock <= last || atBlock <= 0n) {
      throw new ConfigError(
        'MR_ERR_SEALER_ROTATION',
        `rotation block ${atBlock} must exceed the sealed head ${this.#top} and earlier rotations`,
        { details: { field: 'atBlock' } },
      );
    }
    const validators = normalizeValidators(newKeys.map(addressOfKey), 'newKeys');
    if (newKeys.length < bftQuorum(validators.length)) {
      throw new ConfigError('MR_ERR_SEALER_KEYS', 'rotation keys cannot reach quorum', {
        details: { field: 'newKeys' },
      });
    }
    this.#rotations.push({ atBlock, validators, keys: [...newKeys] });
    return validators;
  }

  /** The set that seals block `number` and the list its extraData carries. */
  #setsFor(number: bigint): {
    validators: readonly Hex[];
    keys: readonly Uint8Array[];
    next?: readonly Hex[];
  } {
    let validators: readonly Hex[] = this.validators;
    let keys: readonly Uint8Array[] = this.#keys;
    let next: readonly Hex[] | undefined;
    for (const r of this.#rotations) {
      if (r.atBlock < number) {
        validators = r.validators;
        keys = r.keys;
      } else if (r.atBlock === number) next = r.validators;
    }
    return { validators, keys, ...(next ? { next } : {}) };
  }

  /** Validator list written into block `number`'s extraData (the set that seals its children). */
  validatorsListedAt(number: bigint): readonly Hex[] {
    const s = this.#setsFor(number);
    return s.next ?? s.validators;
  }

  /** Sealed header + RLP of block `number` (seals missing ancestors first). */
  async sealed(number: bigint): Promise<SealedBlock> {
    // Pass anvil's current block so a revert since the last seal is noticed.
    const e = await this.#sealedFor(number, await this.#upstreamBlock(number));
    return { header: e.header, rlp: e.rlp };
  }

  // --- sealing -------------------------------------------------------------------------------

  /**
   * The sealed entry for `number`. `anvilHint` is anvil's block (or just its hash) as the caller saw it:
   * a different anvil hash than the cached one means anvil reverted/reset, so the stale tail is dropped.
   */
  #sealedFor(number: bigint, anvilHint?: RpcBlock | string): Promise<CacheEntry> {
    // One promise chain: block N needs N−1's sealed hash, and concurrent requests must not seal twice.
    const p = this.#chain.then(() => this.#sealUpTo(number, anvilHint));
    this.#chain = p.catch(() => undefined);
    return p;
  }

  async #sealUpTo(n: bigint, hint?: RpcBlock | string): Promise<CacheEntry> {
    const hintHash = typeof hint === 'string' ? hint : typeof hint?.hash === 'string' ? hint.hash : undefined;
    const cached = this.#cache.get(n);
    if (cached && (hintHash === undefined || cached.anvilHash === hintHash)) return cached;
    if (cached) this.#invalidateFrom(n);
    while (this.#top < n) {
      const i = this.#top + 1n;
      const base = i === n && hint && typeof hint !== 'string' ? hint : await this.#upstreamBlock(i);
      const parent = i > 0n ? this.#cache.get(i - 1n) : undefined;
      if (parent && base.parentHash !== parent.anvilHash) {
        // anvil's chain changed below us: reseal from the parent.
        this.#invalidateFrom(i - 1n);
        continue;
      }
      const sets = this.#setsFor(i);
      const sealed = sealQbftHeader(
        base,
        parent?.header.hash ?? null,
        sets.validators,
        sets.keys,
        this.#round,
        sets.next ? { nextValidators: sets.next } : {},
      );
      const entry: CacheEntry = { ...sealed, anvilHash: String(base.hash) };
      this.#cache.set(i, entry);
      this.#bySealedHash.set(sealed.header.hash, i);
      this.#top = i;
    }
    return this.#cache.get(n)!;
  }

  #invalidateFrom(n: bigint): void {
    for (let i = n; i <= this.#top; i++) {
      const e = this.#cache.get(i);
      if (e) this.#bySealedHash.delete(e.header.hash);
      this.#cache.delete(i);
    }
    if (this.#top >= n) this.#top = n - 1n;
  }

  async #upstreamBlock(n: bigint): Promise<RpcBlock> {
    const b = await this.#upstreamCall('eth_getBlockByNumber', [`0x${n.toString(16)}`, false]);
    if (!b || typeof b !== 'object' || Array.isArray(b)) {
      throw new ChainError('MR_ERR_SEALER_UPSTREAM', `anvil has no block ${n}`, { retryable: true });
    }
    return b;
  }

  async #upstreamCall(method: string, params: Json[]): Promise<Json> {
    const res = await this.#forward({ jsonrpc: '2.0', id: ++this.#rpcId, method, params });
    const body = res as { result?: Json; error?: { message?: string } };
    if (body.error) {
      throw new ChainError('MR_ERR_SEALER_UPSTREAM', `anvil ${method}: ${body.error.message ?? 'error'}`, {
        retryable: true,
      });
    }
    return body.result ?? null;
  }

  async #forward(req: JsonRpcRequest): Promise<Json> {
    const res = await fetch(this.#upstream, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(req),
    });
    return (await res.json()) as Json;
  }

  // --- JSON-RPC ------------------------------------------------------------------------------

  async #serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    let body: unknown;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      return send(res, { jsonrpc: '2.0', id: null, error: { code: -32700, message: 'parse error' } });
    }
    if (Array.isArray(body)) {
      send(res, await Promise.all(body.map((r) => this.#handle(r as JsonRpcRequest))));
    } else {
      send(res, await this.#handle(body as JsonRpcRequest));
    }
  }

  async #handle(req: JsonRpcRequest): Promise<Json> {
    const id = (req?.id ?? null) as Json;
    try {
      const method = typeof req?.method === 'string' ? req.method : '';
      const params = Array.isArray(req.params) ? (req.params as Json[]) : [];
      if (method === 'medrelay_getSealedHeaderRlp') {
        const tag = params[0];
        const base = await this.#upstreamCall('eth_getBlockByNumber', [tag ?? 'latest', false]);
        if (!isBlock(base)) return { jsonrpc: '2.0', id, result: null };
        const e = await this.#sealedFor(quantityToBigint(String(base.number), 'number'), base);
        return { jsonrpc: '2.0', id, result: bytesToHex(e.rlp) };
      }
      if (method === 'eth_getBlockByHash') {
        return { jsonrpc: '2.0', id, result: await this.#blockBySealedHash(params[0], params[1] ?? false) };
      }
      // Sealed hashes mean nothing to anvil: translate any we handed out back to anvil's hash.
      const upstreamParams = this.#toUpstreamHashes(params) as Json[];
      const res = (await this.#forward({ ...req, params: upstreamParams })) as { result?: Json } & Record<
        string,
        Json
      >;
      if (res === null || typeof res !== 'object' || res.result === undefined || res.result === null)
        return res;
      if (method === 'eth_getBlockByNumber') {
        if (params[0] === 'pending' || !isBlock(res.result)) return res;
        return { ...res, result: await this.#sealedBlockResponse(res.result) };
      }
      // Receipts, logs and transactions name their block by hash: give them the sealed hash, as Besu would.
      return { ...res, result: await this.#rewriteBlockHashes(res.result) };
    } catch (err) {
      // Messages here never contain keys (none of the errors above include them).
      return {
        jsonrpc: '2.0',
        id,
        error: { code: -32603, message: err instanceof Error ? err.message : 'internal error' },
      };
    }
  }

  /** Besu semantics: only sealed hashes name blocks; anything else is an unknown block (null). */
  async #blockBySealedHash(hash: Json | undefined, fullTx: Json): Promise<Json> {
    if (typeof hash !== 'string' || !HASH_RE.test(hash))
      throw new Error('eth_getBlockByHash: expected a 32-byte hash');
    const h = hash.toLowerCase();
    let n = this.#bySealedHash.get(h);
    if (n === undefined) {
      // Not sealed yet in this process (e.g. after a proxy restart): catch up to anvil's head once.
      const head = await this.#upstreamCall('eth_blockNumber', []);
      if (typeof head === 'string') await this.#sealedFor(quantityToBigint(head, 'eth_blockNumber'));
      n = this.#bySealedHash.get(h);
      if (n === undefined) return null;
    }
    const block = await this.#upstreamCall('eth_getBlockByNumber', [`0x${n.toString(16)}`, fullTx]);
    if (!isBlock(block)) return null;
    const result = await this.#sealedBlockResponse(block);
    // anvil reverted since this hash was handed out: that block no longer exists.
    return result.hash === h ? result : null;
  }

  #anvilHashOf(sealedHash: string): string | undefined {
    const n = this.#bySealedHash.get(sealedHash.toLowerCase());
    return n === undefined ? undefined : this.#cache.get(n)?.anvilHash;
  }

  #toUpstreamHashes(v: Json): Json {
    if (typeof v === 'string') return HASH_RE.test(v) ? (this.#anvilHashOf(v) ?? v) : v;
    if (Array.isArray(v)) return v.map((x) => this.#toUpstreamHashes(x));
    if (v && typeof v === 'object') {
      const out: Record<string, Json> = {};
      for (const [k, x] of Object.entries(v)) out[k] = this.#toUpstreamHashes(x);
      return out;
    }
    return v;
  }

  async #sealedBlockResponse(block: RpcBlock): Promise<RpcBlock> {
    const number = quantityToBigint(String(block.number), 'block.number');
    const e = await this.#sealedFor(number, block);
    const out: RpcBlock = { ...block, ...(e.header as unknown as RpcBlock), uncles: [] };
    // BFT difficulty is 1 per block, genesis included.
    if ('totalDifficulty' in block) out.totalDifficulty = `0x${(number + 1n).toString(16)}`;
    if (Array.isArray(block.transactions)) {
      out.transactions = block.transactions.map((tx) =>
        tx && typeof tx === 'object' && !Array.isArray(tx) && 'blockHash' in tx
          ? { ...tx, blockHash: e.header.hash }
          : tx,
      );
    }
    return out;
  }

  async #rewriteBlockHashes(v: Json): Promise<Json> {
    if (Array.isArray(v)) {
      const out: Json[] = [];
      for (const x of v) out.push(await this.#rewriteBlockHashes(x));
      return out;
    }
    if (v && typeof v === 'object') {
      const out: Record<string, Json> = {};
      for (const [k, x] of Object.entries(v)) out[k] = await this.#rewriteBlockHashes(x);
      if (typeof v.blockHash === 'string' && typeof v.blockNumber === 'string' && HASH_RE.test(v.blockHash)) {
        const e = await this.#sealedFor(quantityToBigint(v.blockNumber, 'blockNumber'), v.blockHash);
        out.blockHash = e.header.hash;
      }
      return out;
    }
    return v;
  }
}

function isBlock(v: Json | undefined): v is RpcBlock {
  return !!v && typeof v === 'object' && !Array.isArray(v) && typeof v.number === 'string';
}

function send(res: ServerResponse, body: Json): void {
  const text = JSON.stringify(body);
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** Convenience: `startQbftSealingProxy(opts)` = `QbftSealingProxy.start(opts)`. */
export function startQbftSealingProxy(opts: SealingProxyOptions): Promise<QbftSealingProxy> {
  return QbftSealingProxy.start(opts);
}
