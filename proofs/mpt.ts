/**
 * Ethereum Merkle-Patricia trie (Yellow Paper, Appendix D; hex-prefix encoding, Appendix C).
 *
 * `trieRoot` and `createProof` build the whole trie in memory (they serve tests, tooling and the devnet);
 * `verifyProof` is the hot path the relayer and light clients run on untrusted data, so it is strict and
 * allocation-light:
 *  - nodes are consumed in order: node i must hash to the reference held by node i-1 (the root for node 0);
 *    a node under 32 bytes is embedded in its parent instead, and may (ethereumjs style) also be repeated as
 *    its own proof element, byte for byte;
 *  - every proof element must be used. A verifier that loads nodes into a hash→node map and ignores leftovers
 *    accepts proofs padded with junk, which lets one proof pass for many shapes;
 *  - hex-prefix flags, node arities (17 or 2) and reference lengths (0, 32 or an embedded list) are checked.
 *
 * The hasher is a parameter so that the same walk can run with a WASM keccak (benchmarks) or another
 * trie-hash (e.g. a non-Ethereum chain); keccak-256 is the default.
 */
import { equalBytes } from './bytes.js';
import { ProofError } from './errors.js';
import { keccak256 } from './keccak.js';
import { encode, type RlpInput } from './rlp.js';

/** Maps an encoded node to its 32-byte reference. Must be pure. */
export type TrieHasher = (data: Uint8Array) => Uint8Array;

export interface TrieOptions {
  /** Node hash; keccak-256 by default. */
  hasher?: TrieHasher;
}

export type TrieEntry = readonly [key: Uint8Array, value: Uint8Array];

/** keccak256(rlp('')): the root of the empty trie. */
export const EMPTY_TRIE_ROOT: Uint8Array = keccak256(Uint8Array.of(0x80));

function fail(code: string, message: string, details: Record<string, number> = {}, cause?: unknown): never {
  throw new ProofError(code, `mpt: ${message}`, { details, cause });
}

// ---------------------------------------------------------------------------------------------------------
// Hex-prefix (compact) encoding of nibble paths.

/** Flag nibble: bit 1 = leaf, bit 0 = odd length (then the low nibble of byte 0 is the first path nibble). */
function hexPrefix(nibbles: Uint8Array, from: number, to: number, leaf: boolean): Uint8Array {
  const len = to - from;
  const odd = len & 1;
  const out = new Uint8Array((len >> 1) + 1);
  out[0] = ((leaf ? 2 : 0) | odd) << 4;
  let i = from;
  if (odd) out[0]! |= nibbles[i++]!;
  for (let o = 1; i < to; i += 2, o++) out[o] = (nibbles[i]! << 4) | nibbles[i + 1]!;
  return out;
}

function toNibbles(key: Uint8Array): Uint8Array {
  const out = new Uint8Array(key.length * 2);
  for (let i = 0; i < key.length; i++) {
    out[2 * i] = key[i]! >> 4;
    out[2 * i + 1] = key[i]! & 15;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// Building (trieRoot, createProof).

interface BuildNode {
  /** 0 leaf, 1 extension, 2 branch. */
  kind: 0 | 1 | 2;
  /** Leaf/extension path: nibbles[from, to) of `nib`. */
  nib: Uint8Array;
  from: number;
  to: number;
  value: Uint8Array | undefined;
  child: BuildNode | undefined;
  children: (BuildNode | undefined)[] | undefined;
  /** Set by `commit`: the node's RLP and how its parent refers to it (hash, or itself when < 32 bytes). */
  enc?: Uint8Array;
  ref?: RlpInput;
}

interface Item {
  nib: Uint8Array;
  value: Uint8Array;
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

/** Applies entries in order (a later key overwrites, an empty value deletes) and sorts by key. */
function normalize(entries: readonly TrieEntry[]): Item[] {
  const map = new Map<string, TrieEntry>();
  for (const e of entries) {
    const [k, v] = e;
    if (!(k instanceof Uint8Array) || !(v instanceof Uint8Array)) {
      fail('MR_ERR_MPT_INPUT', 'trie entries must be [Uint8Array, Uint8Array]');
    }
    const id = Buffer.from(k.buffer, k.byteOffset, k.byteLength).toString('hex');
    if (v.length === 0) map.delete(id);
    else map.set(id, e);
  }
  return [...map.values()]
    .sort((a, b) => compareBytes(a[0], b[0]))
    .map(([k, v]) => ({ nib: toNibbles(k), value: v }));
}

/**
 * Builds the subtrie of sorted items[lo, hi) that agree on their first `depth` nibbles. Sorting makes the
 * common prefix of the range the common prefix of its first and last items.
 */
function build(items: Item[], lo: number, hi: number, depth: number): BuildNode | undefined {
  if (lo >= hi) return undefined;
  const first = items[lo]!;
  if (hi - lo === 1) {
    return {
      kind: 0,
      nib: first.nib,
      from: depth,
      to: first.nib.length,
      value: first.value,
      child: undefined,
      children: undefined,
    };
  }
  const last = items[hi - 1]!;
  let cp = depth;
  while (cp < first.nib.length && cp < last.nib.length && first.nib[cp] === last.nib[cp]) cp++;
  if (cp > depth) {
    return {
      kind: 1,
      nib: first.nib,
      from: depth,
      to: cp,
      value: undefined,
      child: build(items, lo, hi, cp),
      children: undefined,
    };
  }
  const children: (BuildNode | undefined)[] = new Array(16).fill(undefined);
  let value: Uint8Array | undefined;
  let i = lo;
  // Only the first (shortest) item can end here: keys are unique, so at most one equals the shared prefix.
  if (first.nib.length === depth) {
    value = first.value;
    i++;
  }
  while (i < hi) {
    const nibble = items[i]!.nib[depth]!;
    let j = i + 1;
    while (j < hi && items[j]!.nib[depth] === nibble) j++;
    children[nibble] = build(items, i, j, depth + 1);
    i = j;
  }
  return { kind: 2, nib: first.nib, from: depth, to: depth, value, child: undefined, children };
}

const EMPTY = new Uint8Array(0);

/** Bottom-up: encodes each node once and records how its parent refers to it. */
function commit(node: BuildNode, hasher: TrieHasher): RlpInput {
  let struct: RlpInput[];
  if (node.kind === 0) {
    struct = [hexPrefix(node.nib, node.from, node.to, true), node.value!];
  } else if (node.kind === 1) {
    struct = [hexPrefix(node.nib, node.from, node.to, false), commit(node.child!, hasher)];
  } else {
    struct = node.children!.map((c) => (c ? commit(c, hasher) : EMPTY));
    struct.push(node.value ?? EMPTY);
  }
  node.enc = encode(struct);
  node.ref = node.enc.length < 32 ? struct : hasher(node.enc);
  return node.ref;
}

function buildTrie(entries: readonly TrieEntry[], hasher: TrieHasher): BuildNode | undefined {
  const items = normalize(entries);
  const root = build(items, 0, items.length, 0);
  if (root) commit(root, hasher);
  return root;
}

/** Root hash of the trie holding `entries` (later duplicates overwrite; an empty value deletes). */
export function trieRoot(entries: readonly TrieEntry[], opts: TrieOptions = {}): Uint8Array {
  const hasher = opts.hasher ?? keccak256;
  const root = buildTrie(entries, hasher);
  // The root is always referenced by hash, even when its encoding is shorter than 32 bytes.
  return root ? hasher(root.enc!) : hasher(Uint8Array.of(0x80));
}

/**
 * The encoded nodes on the path to `key`, root first, as `eth_getProof` returns them: a proof of presence, or
 * of absence when the path ends at an empty slot or a diverging leaf/extension. Embedded (< 32-byte) nodes
 * are not listed separately, since their parent already contains them. The empty trie gives `[]`.
 */
export function createProof(
  entries: readonly TrieEntry[],
  key: Uint8Array,
  opts: TrieOptions = {},
): Uint8Array[] {
  const root = buildTrie(entries, opts.hasher ?? keccak256);
  const proof: Uint8Array[] = [];
  const nib = toNibbles(key);
  let pos = 0;
  let node = root;
  let isRoot = true;
  while (node) {
    if (isRoot || node.enc!.length >= 32) proof.push(node.enc!);
    isRoot = false;
    if (node.kind === 0) break;
    if (node.kind === 1) {
      const len = node.to - node.from;
      let k = 0;
      while (k < len && pos + k < nib.length && nib[pos + k] === node.nib[node.from + k]) k++;
      if (k < len) break;
      pos += len;
      node = node.child;
    } else {
      if (pos === nib.length) break;
      node = node.children![nib[pos++]!];
    }
  }
  return proof;
}

// ---------------------------------------------------------------------------------------------------------
// Verification.
//
// The walk does not call rlp.decode: decoding a 17-item branch allocates an object and a view per item, and
// on real proofs that cost as much as the hashing itself. Instead each node's top-level items are located
// in place (offsets into a scratch array) with the same canonical-form rules as proofs/rlp.ts. Items off the
// path are only bounds- and header-checked: every walked node is bound by hash to the trusted root, so its
// bytes are those of the real trie, and what matters is never reading past them or misreading a header.

/** Per top-level item of the current node: header start, payload start, payload end, 1 if a list. */
const STRIDE = 4;
const MAX_ITEMS = 17;

function badNode(index: number, why: string): never {
  fail('MR_ERR_MPT_BAD_NODE', `proof[${index}]: ${why}`, { index });
}

/**
 * Reads the RLP header at `pos` (item must end by `limit`) into out[o..o+3]. Canonical form is enforced: a
 * single byte < 0x80 is never wrapped, long forms only for ≥ 56 bytes, no leading zero in a length.
 */
function readItem(
  buf: Uint8Array,
  pos: number,
  limit: number,
  out: Int32Array,
  o: number,
  index: number,
): number {
  if (pos >= limit) badNode(index, 'truncated RLP');
  const b = buf[pos]!;
  let ps: number;
  let len: number;
  let list = 0;
  if (b < 0x80) {
    ps = pos;
    len = 1;
  } else if (b < 0xb8) {
    ps = pos + 1;
    len = b - 0x80;
    if (len === 1 && ps < limit && buf[ps]! < 0x80)
      badNode(index, 'single byte below 0x80 encoded as a string');
  } else if (b < 0xc0 || b >= 0xf8) {
    list = b >= 0xf8 ? 1 : 0;
    const lenOfLen = b - (list ? 0xf7 : 0xb7);
    // A trie node is far below 4 GiB; longer length fields are hostile.
    if (lenOfLen > 4 || pos + 1 + lenOfLen > limit) badNode(index, 'bad RLP length field');
    if (buf[pos + 1] === 0) badNode(index, 'RLP length with a leading zero');
    len = 0;
    for (let i = 1; i <= lenOfLen; i++) len = len * 256 + buf[pos + i]!;
    if (len < 56) badNode(index, 'RLP long form for a short payload');
    ps = pos + 1 + lenOfLen;
  } else {
    list = 1;
    ps = pos + 1;
    len = b - 0xc0;
  }
  const pe = ps + len;
  if (pe > limit) badNode(index, 'truncated RLP');
  out[o] = pos;
  out[o + 1] = ps;
  out[o + 2] = pe;
  out[o + 3] = list;
  return pe;
}

/** Locates the items of the list spanning exactly buf[start, end). Returns the item count (≤ 17). */
function scanNode(buf: Uint8Array, start: number, end: number, out: Int32Array, index: number): number {
  if (readItem(buf, start, end, out, 0, index) !== end) badNode(index, 'trailing bytes after the node');
  if (out[3] !== 1) badNode(index, 'node is not a list');
  let pos = out[1]!;
  const stop = out[2]!;
  let n = 0;
  while (pos < stop) {
    if (n === MAX_ITEMS) badNode(index, 'node has more than 17 items');
    pos = readItem(buf, pos, stop, out, n * STRIDE, index);
    n++;
  }
  return n;
}

/** buf[at, at+32) equals `hash`. */
function hashAt(hash: Uint8Array, buf: Uint8Array, at: number): boolean {
  if (hash.length !== 32) return false;
  for (let i = 0; i < 32; i++) if (hash[i] !== buf[at + i]) return false;
  return true;
}

/** `a` equals buf[from, to). */
function bytesAt(a: Uint8Array, buf: Uint8Array, from: number, to: number): boolean {
  if (a.length !== to - from) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== buf[from + i]) return false;
  return true;
}

function finish(value: Uint8Array | null, idx: number, count: number): Uint8Array | null {
  if (idx !== count - 1) {
    fail('MR_ERR_MPT_EXTRA_NODES', `${count - 1 - idx} proof element(s) after the end of the path`, {
      index: idx + 1,
    });
  }
  return value;
}

function proofNode(proof: readonly Uint8Array[], idx: number): Uint8Array {
  const node = proof[idx];
  if (!(node instanceof Uint8Array))
    fail('MR_ERR_MPT_INPUT', 'proof elements must be Uint8Array', { index: idx });
  return node;
}

/**
 * Verifies `proof` for `key` against `root`. Returns the value (a view into the last proof element), or `null`
 * when the proof shows the key is absent. Throws `ProofError` when the proof proves nothing:
 * `MR_ERR_MPT_EMPTY_PROOF`, `MR_ERR_MPT_BAD_ROOT`, `MR_ERR_MPT_HASH_MISMATCH`, `MR_ERR_MPT_MISSING_NODE`,
 * `MR_ERR_MPT_EXTRA_NODES`, `MR_ERR_MPT_BAD_NODE`, `MR_ERR_MPT_BAD_PATH` (hex-prefix); `details.index`
 * names the offending proof element.
 */
export function verifyProof(
  root: Uint8Array,
  key: Uint8Array,
  proof: readonly Uint8Array[],
  opts: TrieOptions = {},
): Uint8Array | null {
  const hasher = opts.hasher ?? keccak256;
  if (!(root instanceof Uint8Array) || root.length !== 32)
    fail('MR_ERR_MPT_BAD_ROOT', 'root must be 32 bytes');
  if (!(key instanceof Uint8Array)) fail('MR_ERR_MPT_INPUT', 'key must be a Uint8Array');
  const count = proof.length;
  if (count === 0) {
    // The empty trie has no nodes to show: an empty proof is exactly its proof of absence.
    if (equalBytes(root, EMPTY_TRIE_ROOT)) return null;
    fail('MR_ERR_MPT_EMPTY_PROOF', 'proof is empty but the root is not the empty trie');
  }
  const keyLen = key.length * 2;
  const off = new Int32Array(MAX_ITEMS * STRIDE);
  let pos = 0; // nibbles of `key` consumed
  let idx = 0; // proof element being walked

  let buf = proofNode(proof, 0);
  if (!hashAt(hasher(buf), root, 0))
    fail('MR_ERR_MPT_HASH_MISMATCH', 'proof[0] does not hash to the root', { index: 0 });
  // rlp('') as the root node is the empty trie (reachable only if the hasher maps it to `root`).
  if (buf.length === 1 && buf[0] === 0x80) return finish(null, idx, count);
  let start = 0;
  let end = buf.length;

  for (;;) {
    const n = scanNode(buf, start, end, off, idx);
    let c: number; // item holding the child reference
    if (n === 17) {
      if (pos === keyLen) {
        if (off[16 * STRIDE + 3] === 1) badNode(idx, 'branch value is a list');
        const vs = off[16 * STRIDE + 1]!;
        const ve = off[16 * STRIDE + 2]!;
        return finish(ve === vs ? null : buf.subarray(vs, ve), idx, count);
      }
      const b = key[pos >> 1]!;
      c = (pos & 1 ? b & 15 : b >> 4) * STRIDE;
      pos++;
    } else if (n === 2) {
      const hs = off[1]!;
      const he = off[2]!;
      if (off[3] === 1 || he === hs)
        fail('MR_ERR_MPT_BAD_PATH', `proof[${idx}]: path must be a non-empty byte string`, { index: idx });
      const h0 = buf[hs]!;
      const flag = h0 >> 4;
      if (flag > 3 || ((flag & 1) === 0 && (h0 & 15) !== 0)) {
        fail('MR_ERR_MPT_BAD_PATH', `proof[${idx}]: bad hex-prefix flag 0x${h0.toString(16)}`, {
          index: idx,
        });
      }
      const odd = flag & 1;
      const pathLen = (he - hs) * 2 - 2 + odd;
      // Compare the node's path with the key from `pos`, nibble by nibble, without materialising either.
      let match = pathLen <= keyLen - pos;
      for (let k = 0; match && k < pathLen; k++) {
        const pn = k + 2 - odd; // nibble index inside the hex-prefix bytes
        const pb = buf[hs + (pn >> 1)]!;
        const kb = key[(pos + k) >> 1]!;
        match = (pn & 1 ? pb & 15 : pb >> 4) === ((pos + k) & 1 ? kb & 15 : kb >> 4);
      }
      const vs = off[STRIDE + 1]!;
      const ve = off[STRIDE + 2]!;
      if (flag >= 2) {
        if (off[STRIDE + 3] === 1 || ve === vs) badNode(idx, 'leaf value must be a non-empty byte string');
        return finish(match && pos + pathLen === keyLen ? buf.subarray(vs, ve) : null, idx, count);
      }
      if (pathLen === 0)
        fail('MR_ERR_MPT_BAD_PATH', `proof[${idx}]: extension with an empty path`, { index: idx });
      if (!match) return finish(null, idx, count);
      if (off[STRIDE + 3] === 0 && ve === vs) badNode(idx, 'extension without a child');
      pos += pathLen;
      c = STRIDE;
    } else {
      badNode(idx, `node has ${n} items (expected 17 or 2)`);
    }

    const rs = off[c]!; // header start
    const ps = off[c + 1]!;
    const pe = off[c + 2]!;
    if (off[c + 3] === 0) {
      if (pe === ps) return finish(null, idx, count); // empty branch slot: nothing below
      if (pe - ps !== 32) badNode(idx, `child reference of ${pe - ps} bytes`);
      idx++;
      if (idx >= count)
        fail('MR_ERR_MPT_MISSING_NODE', `proof ends before the node referenced by proof[${idx - 1}]`, {
          index: idx,
        });
      const next = proofNode(proof, idx);
      if (!hashAt(hasher(next), buf, ps)) {
        fail(
          'MR_ERR_MPT_HASH_MISMATCH',
          `proof[${idx}] does not hash to the reference in proof[${idx - 1}]`,
          { index: idx },
        );
      }
      buf = next;
      start = 0;
      end = next.length;
    } else {
      // Embedded child (< 32 bytes), walked in place. A prover may also list it as its own element
      // (ethereumjs does); a byte-identical copy adds nothing, so it is consumed, anything else is extra.
      if (pe - rs >= 32) badNode(idx, `embedded node of ${pe - rs} bytes`);
      const next = proof[idx + 1];
      if (next !== undefined && bytesAt(next, buf, rs, pe)) idx++;
      start = rs;
      end = pe;
    }
  }
}
