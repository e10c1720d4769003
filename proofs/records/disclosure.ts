/**
 * Selective disclosure of FHIR elements (docs/records.md, "Selective disclosure"): a salted Merkle tree in the
 * OpenZeppelin `MerkleProof` conventions, so the same disclosure verifies here and in Solidity with
 * `MerkleProof.multiProofVerify(proof, proofFlags, root, leaves)`.
 *
 *  - leaf  = keccak256(abi.encode(bytes16 salt, string path, string value)); the salt (16 fresh random bytes per
 *    element, as SD-JWT salts) stops a verifier from confirming guesses of undisclosed values by hashing them.
 *  - node  = keccak256(sort(a, b)) (commutative); leaves sorted ascending; tree in the @openzeppelin/merkle-tree
 *    array layout (root at 0, children of i at 2i+1 and 2i+2, leaf k of the sorted list at len−1−k).
 *  - A leaf preimage is ≥ 192 bytes and a node preimage exactly 64, so a node can never pass for a leaf.
 *
 * The verifier is stricter than `multiProofVerify`, which only answers "is the root reached": it also refuses
 * anything that is not the one canonical encoding of the disclosure — leaves out of order (commutative hashing
 * would otherwise accept two swapped sibling leaves), duplicates, unused proof items, reads of not-yet-computed
 * hashes, short salts, non-canonical paths or values — so a disclosure has exactly one accepted form.
 */
import { bytesToHex, type Hex, hexToBytes } from '../bytes.js';
import { ProofError } from '../errors.js';
import { keccak256 } from '../keccak.js';
import { checkCode, isKnownCodeSystem } from './codes.js';
import { flattenElements, isCanonicalElementPath, type RecordElement } from './fhir.js';
import { canonicalize } from './jcs.js';

export const SALT_BYTES = 16;

/** One element of a disclosure tree. Keep the tree private: its salts are what keeps undisclosed values secret. */
export interface TreeElement {
  path: string;
  /** RFC 8785 text of the primitive. */
  value: string;
  salt: Hex;
  leaf: Hex;
}

export interface DisclosureTree {
  root: Hex;
  /** In record (RFC 8785 member) order. */
  elements: TreeElement[];
}

export interface DisclosedElement {
  path: string;
  value: string;
  salt: Hex;
}

/** Reference to the anchored ConceptMap the verifier should use to match codes (docs/records.md). */
export interface CodeMapRef {
  id: string;
  version: string;
  hash: Hex;
}

export interface Disclosure {
  recordId?: Hex;
  root: Hex;
  /** In the order `multiProofVerify` takes the leaves: ascending leaf hash. */
  elements: DisclosedElement[];
  proof: Hex[];
  proofFlags: boolean[];
  codeMap?: CodeMapRef;
}

export interface BuildDisclosureTreeOptions {
  /** Source of 16-byte salts. Defaults to the platform CSPRNG (`crypto.getRandomValues`). */
  randomSalt?: () => Uint8Array;
}

export interface DiscloseOptions {
  recordId?: Hex;
  codeMap?: CodeMapRef;
}

export interface VerifyDisclosureOptions {
  /** When given, the disclosure must name this record. */
  recordId?: Hex;
  /**
   * Check `…coding[i].code` against its disclosed sibling `…coding[i].system` for the code systems of
   * docs/records.md. @defaultValue true
   */
  checkCodes?: boolean;
  /** Also refuse codings whose system medrelay cannot check (MR_ERR_CODE_SYSTEM_UNKNOWN). @defaultValue false */
  strictCodeSystems?: boolean;
}

const UTF8 = new TextEncoder();

function fail(code: string, message: string, details: Record<string, string | number> = {}): never {
  throw new ProofError(code, `disclosure: ${message}`, { details });
}

// ---------------------------------------------------------------------------------------------------------
// Leaves and nodes
// ---------------------------------------------------------------------------------------------------------

/** Writes `n` as a big-endian uint256 word at `off` (the 28 leading bytes are already zero). */
function putWord(buf: Uint8Array, off: number, n: number): void {
  buf[off + 28] = n >>> 24;
  buf[off + 29] = (n >>> 16) & 255;
  buf[off + 30] = (n >>> 8) & 255;
  buf[off + 31] = n & 255;
}

const pad32 = (n: number) => Math.ceil(n / 32) * 32;

/**
 * abi.encode(bytes16 salt, string path, string value) in one allocation:
 * salt word (bytesN left-aligned) ‖ offset(path)=0x60 ‖ offset(value) ‖ len ‖ path… ‖ len ‖ value…
 */
function leafBytes(salt: Uint8Array, path: string, value: string): Uint8Array {
  const p = UTF8.encode(path);
  const v = UTF8.encode(value);
  const pTail = 32 + pad32(p.length);
  const out = new Uint8Array(96 + pTail + 32 + pad32(v.length));
  out.set(salt, 0);
  putWord(out, 32, 0x60);
  putWord(out, 64, 0x60 + pTail);
  putWord(out, 96, p.length);
  out.set(p, 128);
  putWord(out, 96 + pTail, v.length);
  out.set(v, 128 + pTail);
  return out;
}

/**
 * keccak256(abi.encode(bytes16 salt, string path, string value)).
 * @throws ProofError MR_ERR_DISCLOSURE_SALT when `salt` is not exactly 16 bytes.
 */
export function disclosureLeaf(salt: Uint8Array | Hex, path: string, value: string): Hex {
  const s = typeof salt === 'string' ? parseSalt(salt, path) : salt;
  if (s.length !== SALT_BYTES)
    fail('MR_ERR_DISCLOSURE_SALT', `${path}: salt must be ${SALT_BYTES} bytes`, { path });
  return bytesToHex(keccak256(leafBytes(s, path, value)));
}

function compare(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < 32; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return 0;
}

const PAIR = new Uint8Array(64); // reused: hashing is synchronous, so no caller can observe it

/** OpenZeppelin `Hashes.commutativeKeccak256`. */
function hashPair(a: Uint8Array, b: Uint8Array): Uint8Array {
  const [lo, hi] = compare(a, b) <= 0 ? [a, b] : [b, a];
  PAIR.set(lo, 0);
  PAIR.set(hi, 32);
  return keccak256(PAIR);
}

/** @openzeppelin/merkle-tree `makeMerkleTree` layout over leaves already sorted ascending. */
function makeTree(sortedLeaves: Uint8Array[]): Uint8Array[] {
  const n = sortedLeaves.length;
  const tree: Uint8Array[] = new Array(2 * n - 1);
  for (let k = 0; k < n; k++) tree[tree.length - 1 - k] = sortedLeaves[k]!;
  for (let i = n - 2; i >= 0; i--) tree[i] = hashPair(tree[2 * i + 1]!, tree[2 * i + 2]!);
  return tree;
}

function parseSalt(salt: unknown, path: string): Uint8Array {
  if (typeof salt !== 'string' || !/^0x([0-9a-fA-F]{2})*$/.test(salt))
    fail('MR_ERR_DISCLOSURE_SALT', `${path}: salt must be 0x-hex`, { path });
  const b = hexToBytes(salt, 'salt');
  if (b.length < SALT_BYTES)
    fail(
      'MR_ERR_DISCLOSURE_SALT',
      `${path}: salt has ${b.length} bytes, fewer than ${SALT_BYTES} (128 bits)`,
      { path },
    );
  if (b.length > SALT_BYTES)
    fail('MR_ERR_DISCLOSURE_SALT', `${path}: salt has ${b.length} bytes; the leaf takes bytes16`, { path });
  return b;
}

/** CSPRNG salts, drawn in batches: one getRandomValues call per 4 KiB instead of one per element. */
function defaultSaltSource(): () => Uint8Array {
  let pool = new Uint8Array(0);
  let off = 0;
  return () => {
    if (off === pool.length) {
      pool = globalThis.crypto.getRandomValues(new Uint8Array(4096));
      off = 0;
    }
    off += SALT_BYTES;
    return pool.slice(off - SALT_BYTES, off);
  };
}

// ---------------------------------------------------------------------------------------------------------
// Building and disclosing
// ---------------------------------------------------------------------------------------------------------

/**
 * Flattens a FHIR resource (validated) into elements, salts each, and builds the tree. Call once per anchor:
 * salts must be fresh, or two anchors of one record would link their disclosures.
 *
 * @example
 * const tree = buildDisclosureTree(bundle); // anchor tree.root as disclosureRoot
 * @throws ProofError MR_ERR_FHIR_INVALID, MR_ERR_DISCLOSURE_SALT (a salt source returning ≠ 16 bytes or repeating)
 */
export function buildDisclosureTree(
  resource: unknown,
  options: BuildDisclosureTreeOptions = {},
): DisclosureTree {
  const randomSalt = options.randomSalt ?? defaultSaltSource();
  const flat = flattenElements(resource);
  const seenSalts = new Set<string>();
  const leaves: Uint8Array[] = [];
  const elements: TreeElement[] = flat.map(({ path, value }) => {
    const salt = randomSalt();
    if (!(salt instanceof Uint8Array) || salt.length !== SALT_BYTES)
      fail('MR_ERR_DISCLOSURE_SALT', `randomSalt() must return ${SALT_BYTES} bytes`, { path });
    const saltHex = bytesToHex(salt);
    // A repeating salt source is broken (or a test stub); equal salts would let equal values be linked.
    if (seenSalts.has(saltHex))
      fail('MR_ERR_DISCLOSURE_SALT', `randomSalt() repeated a salt (at ${path})`, { path });
    seenSalts.add(saltHex);
    const leaf = keccak256(leafBytes(salt, path, value));
    leaves.push(leaf);
    return { path, value, salt: saltHex, leaf: bytesToHex(leaf) };
  });
  if (elements.length === 0) fail('MR_ERR_DISCLOSURE_EMPTY', 'record has no elements');
  return { root: bytesToHex(makeTree(leaves.sort(compare))[0]!), elements };
}

/**
 * Discloses the elements at `paths` with an OpenZeppelin multiproof (same output as @openzeppelin/merkle-tree
 * `getMultiProof`): leaves ascending, `proof` and `proofFlags` in `processMultiProof` consumption order.
 *
 * @example
 * const d = disclose(tree, ['Bundle.entry[1].resource.Condition.code.coding[0].code']);
 * @throws ProofError MR_ERR_DISCLOSURE_EMPTY | _PATH (not in the record) | _DUPLICATE | _ROOT_MISMATCH (tree
 *   elements were altered after building)
 */
export function disclose(
  tree: DisclosureTree,
  paths: readonly string[],
  options: DiscloseOptions = {},
): Disclosure {
  if (!Array.isArray(paths) || paths.length === 0) fail('MR_ERR_DISCLOSURE_EMPTY', 'no paths to disclose');
  // Rebuild from the stored elements: a tampered or truncated stored tree is caught here, not by the verifier.
  const leaves = tree.elements.map((e) => {
    const leaf = keccak256(leafBytes(parseSalt(e.salt, e.path), e.path, e.value));
    if (bytesToHex(leaf) !== String(e.leaf).toLowerCase())
      fail(
        'MR_ERR_DISCLOSURE_ROOT_MISMATCH',
        `tree element ${e.path}: leaf does not match its salt/path/value`,
        { path: e.path },
      );
    return leaf;
  });
  const order = leaves.map((_, i) => i).sort((a, b) => compare(leaves[a]!, leaves[b]!));
  const nodes = makeTree(order.map((i) => leaves[i]!));
  if (bytesToHex(nodes[0]!) !== tree.root.toLowerCase())
    fail('MR_ERR_DISCLOSURE_ROOT_MISMATCH', 'tree elements do not rebuild tree.root');

  const byPath = new Map<string, number>(); // path → tree index
  order.forEach((elementIdx, k) => {
    byPath.set(tree.elements[elementIdx]!.path, nodes.length - 1 - k);
  });
  const wanted = new Set<string>();
  const indices: number[] = [];
  for (const p of paths) {
    if (wanted.has(p)) fail('MR_ERR_DISCLOSURE_DUPLICATE', `path ${p} requested twice`, { path: p });
    wanted.add(p);
    const idx = byPath.get(p);
    if (idx === undefined)
      fail('MR_ERR_DISCLOSURE_PATH', `path ${p} is not an element of this record`, { path: p });
    indices.push(idx);
  }

  // @openzeppelin/merkle-tree getMultiProof: walk a queue of tree indices, deepest (highest) first.
  indices.sort((a, b) => b - a);
  const queue = [...indices];
  const proof: Hex[] = [];
  const proofFlags: boolean[] = [];
  while (queue.length > 0 && queue[0]! > 0) {
    const j = queue.shift()!;
    const sibling = j % 2 === 1 ? j + 1 : j - 1;
    if (queue[0] === sibling) {
      proofFlags.push(true);
      queue.shift();
    } else {
      proofFlags.push(false);
      proof.push(bytesToHex(nodes[sibling]!));
    }
    queue.push((j - 1) >> 1);
  }

  const elementAt = new Map<number, TreeElement>();
  order.forEach((elementIdx, k) => {
    elementAt.set(nodes.length - 1 - k, tree.elements[elementIdx]!);
  });
  const d: Disclosure = {
    root: bytesToHex(nodes[0]!),
    elements: indices.map((i) => {
      const e = elementAt.get(i)!;
      return { path: e.path, value: e.value, salt: e.salt };
    }),
    proof,
    proofFlags,
  };
  if (options.recordId !== undefined) d.recordId = options.recordId;
  if (options.codeMap !== undefined) d.codeMap = options.codeMap;
  return d;
}

// ---------------------------------------------------------------------------------------------------------
// Verification
// ---------------------------------------------------------------------------------------------------------

function bytes32(v: unknown, field: string, code = 'MR_ERR_DISCLOSURE_INPUT'): Uint8Array {
  if (typeof v !== 'string' || !/^0x[0-9a-fA-F]{64}$/.test(v))
    fail(code, `${field}: expected bytes32 hex`, { field });
  return hexToBytes(v, field);
}

/** The value must be the RFC 8785 text of a JSON primitive, and that text exactly (one accepted spelling). */
function checkValue(value: unknown, path: string): void {
  if (typeof value !== 'string')
    fail('MR_ERR_DISCLOSURE_VALUE', `${path}: value must be a string of RFC 8785 JSON`, { path });
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    fail('MR_ERR_DISCLOSURE_VALUE', `${path}: value is not JSON: ${value.slice(0, 40)}`, { path });
  }
  if (typeof parsed === 'object' && parsed !== null)
    fail('MR_ERR_DISCLOSURE_VALUE', `${path}: value must be a JSON primitive, not an object or array`, {
      path,
    });
  let canonical: string;
  try {
    canonical = canonicalize(parsed);
  } catch (err) {
    throw new ProofError('MR_ERR_DISCLOSURE_VALUE', `disclosure: ${path}: value is not I-JSON`, {
      details: { path },
      cause: err,
    });
  }
  if (canonical !== value)
    fail(
      'MR_ERR_DISCLOSURE_VALUE',
      `${path}: value is not in RFC 8785 form (expected ${canonical.slice(0, 40)})`,
      { path },
    );
}

/**
 * OpenZeppelin `MerkleProof.processMultiProof`, with the checks the Solidity version leaves implicit made
 * explicit: a hash may only be read after it is computed, and every leaf, hash and proof item is used once.
 */
function processMultiProof(leaves: Uint8Array[], proof: Uint8Array[], flags: boolean[]): Uint8Array {
  const bad = (why: string): never => fail('MR_ERR_DISCLOSURE_PROOF', `malformed multiproof: ${why}`);
  if (leaves.length + proof.length !== flags.length + 1)
    bad(`leaves (${leaves.length}) + proof (${proof.length}) must equal proofFlags (${flags.length}) + 1`);
  if (flags.length === 0) return leaves[0]!; // leaves.length is 1 here: a one-leaf disclosure of a one-leaf tree
  const hashes: Uint8Array[] = new Array(flags.length);
  let leafPos = 0;
  let hashPos = 0;
  let proofPos = 0;
  const next = (i: number): Uint8Array => {
    if (leafPos < leaves.length) return leaves[leafPos++]!;
    if (hashPos >= i) bad(`step ${i} reads a hash that is not computed yet`);
    return hashes[hashPos++]!;
  };
  for (let i = 0; i < flags.length; i++) {
    const a = next(i);
    let b: Uint8Array;
    if (flags[i]) b = next(i);
    else {
      if (proofPos >= proof.length) bad(`step ${i} needs a proof item, none left`);
      b = proof[proofPos++]!;
    }
    hashes[i] = hashPair(a, b);
  }
  if (proofPos !== proof.length) bad(`${proof.length - proofPos} proof item(s) unused`);
  if (leafPos !== leaves.length || hashPos !== flags.length - 1)
    bad('not every leaf and intermediate hash was used exactly once');
  return hashes[flags.length - 1]!;
}

const CODING_RE = /^(.*\.coding\[(?:0|[1-9][0-9]*)\])\.(code|system)$/;

function checkCodings(elements: readonly RecordElement[], strict: boolean): void {
  const codings = new Map<string, { code?: string; system?: string }>();
  for (const e of elements) {
    const m = CODING_RE.exec(e.path);
    if (!m) continue;
    const entry = codings.get(m[1]!) ?? {};
    entry[m[2] as 'code' | 'system'] = e.value;
    codings.set(m[1]!, entry);
  }
  for (const [prefix, { code, system }] of codings) {
    if (code === undefined || system === undefined) continue;
    const c: unknown = JSON.parse(code);
    const s: unknown = JSON.parse(system);
    if (typeof s !== 'string' || (!strict && !isKnownCodeSystem(s))) continue;
    if (typeof c !== 'string') {
      throw new ProofError('MR_ERR_CODE_FORMAT', `${prefix}.code: code must be a string in ${s}`, {
        details: { system: s, code, path: `${prefix}.code` },
      });
    }
    checkCode(s, c);
  }
}

/**
 * Verifies a disclosure against the anchored `root` and returns the disclosed `(path, value)` pairs.
 *
 * @example
 * const els = verifyDisclosure(anchor.disclosureRoot, d); // [{ path: '…coding[0].code', value: '"I10"' }, …]
 * @throws ProofError MR_ERR_DISCLOSURE_INPUT | _EMPTY | _PATH | _VALUE | _SALT | _DUPLICATE | _ORDER | _PROOF |
 *   _RECORD_MISMATCH | _ROOT_MISMATCH, MR_ERR_CODE_FORMAT, MR_ERR_CODE_SYSTEM_UNKNOWN (strictCodeSystems)
 */
export function verifyDisclosure(
  root: Hex,
  disclosure: Disclosure,
  options: VerifyDisclosureOptions = {},
): RecordElement[] {
  const trusted = bytes32(root, 'root');
  if (typeof disclosure !== 'object' || disclosure === null)
    fail('MR_ERR_DISCLOSURE_INPUT', 'expected a disclosure object');
  const d = disclosure;
  if (bytesToHex(bytes32(d.root, 'disclosure.root')) !== bytesToHex(trusted))
    fail('MR_ERR_DISCLOSURE_ROOT_MISMATCH', `disclosure is for root ${d.root}, not the anchored ${root}`);
  if (options.recordId !== undefined) {
    const want = bytesToHex(bytes32(options.recordId, 'options.recordId'));
    if (d.recordId === undefined || bytesToHex(bytes32(d.recordId, 'disclosure.recordId')) !== want)
      fail(
        'MR_ERR_DISCLOSURE_RECORD_MISMATCH',
        `disclosure names record ${String(d.recordId)}, expected ${options.recordId}`,
      );
  }
  if (d.codeMap !== undefined) {
    const cm = d.codeMap;
    if (
      typeof cm !== 'object' ||
      cm === null ||
      typeof cm.id !== 'string' ||
      cm.id === '' ||
      typeof cm.version !== 'string' ||
      cm.version === ''
    )
      fail('MR_ERR_DISCLOSURE_INPUT', 'codeMap must be { id, version, hash }');
    bytes32(cm.hash, 'codeMap.hash');
  }
  if (!Array.isArray(d.elements) || d.elements.length === 0)
    fail('MR_ERR_DISCLOSURE_EMPTY', 'no elements disclosed');
  if (!Array.isArray(d.proof) || !Array.isArray(d.proofFlags))
    fail('MR_ERR_DISCLOSURE_INPUT', 'proof and proofFlags must be arrays');

  const seen = new Set<string>();
  const leaves: Uint8Array[] = [];
  const out: RecordElement[] = [];
  for (let i = 0; i < d.elements.length; i++) {
    const e = d.elements[i];
    if (typeof e !== 'object' || e === null)
      fail('MR_ERR_DISCLOSURE_INPUT', `elements[${i}] must be { path, value, salt }`);
    if (!isCanonicalElementPath(e.path))
      fail(
        'MR_ERR_DISCLOSURE_PATH',
        `elements[${i}].path ${JSON.stringify(e.path)} is not a canonical element path`,
        { index: i },
      );
    if (seen.has(e.path))
      fail('MR_ERR_DISCLOSURE_DUPLICATE', `path ${e.path} disclosed twice`, { path: e.path });
    seen.add(e.path);
    checkValue(e.value, e.path);
    const leaf = keccak256(leafBytes(parseSalt(e.salt, e.path), e.path, e.value));
    // Strictly ascending, the order OZ getMultiProof emits. Commutative hashing would accept two swapped
    // sibling leaves; refusing every other order leaves one accepted encoding (and rules out duplicates).
    if (i > 0 && compare(leaves[i - 1]!, leaf) >= 0)
      fail('MR_ERR_DISCLOSURE_ORDER', `elements[${i}] (${e.path}) is out of leaf order`, { path: e.path });
    leaves.push(leaf);
    out.push({ path: e.path, value: e.value });
  }
  const proof = d.proof.map((p, i) => bytes32(p, `proof[${i}]`, 'MR_ERR_DISCLOSURE_PROOF'));
  d.proofFlags.forEach((f, i) => {
    if (typeof f !== 'boolean') fail('MR_ERR_DISCLOSURE_PROOF', `proofFlags[${i}] must be a boolean`);
  });
  const computed = processMultiProof(leaves, proof, d.proofFlags);
  if (compare(computed, trusted) !== 0)
    fail('MR_ERR_DISCLOSURE_ROOT_MISMATCH', 'the elements and multiproof do not lead to the anchored root');
  if (options.checkCodes !== false) checkCodings(out, options.strictCodeSystems === true);
  return out;
}

/**
 * Size in bytes of the calldata of
 * `verifyDisclosure(bytes32 recordId, bytes32 root, (bytes16 salt, string path, string value)[] elements,
 * bytes32[] proof, bool[] proofFlags)` (4-byte selector + ABI arguments): what a relayer posts on chain.
 * The codeMap reference is not counted: the contract looks it up by the anchored record.
 */
export function disclosureSize(d: Disclosure): number {
  const padded = (s: string) => 32 + Math.ceil(UTF8.encode(s).length / 32) * 32;
  let elements = 32 + 32 * d.elements.length; // length + one offset per dynamic tuple
  for (const e of d.elements) elements += 3 * 32 + padded(e.path) + padded(e.value);
  return 4 + 5 * 32 + elements + (32 + 32 * d.proof.length) + (32 + 32 * d.proofFlags.length);
}
