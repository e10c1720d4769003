/**
 * EIP-1186 (`eth_getProof`) account and storage proofs over the secure state trie (Yellow Paper §4.1).
 *
 * State trie:   key = keccak256(address),      value = rlp([nonce, balance, storageRoot, codeHash]).
 * Storage trie: key = keccak256(pad32(slot)),  value = rlp(minimal big-endian bytes of the word); zero is absent.
 */
import { bytesToHex, equalBytes, type Hex, hexToBytes } from './bytes.js';
import { ProofError } from './errors.js';
import { keccak256 } from './keccak.js';
import { EMPTY_TRIE_ROOT, verifyProof } from './mpt.js';
import { asBytes, asUint, decode, type RlpValue } from './rlp.js';

export type BytesLike = Uint8Array | string;

export interface Account {
  nonce: bigint;
  balance: bigint;
  storageHash: Uint8Array;
  codeHash: Uint8Array;
}

/** The JSON-RPC `eth_getProof` result. */
export interface EthGetProofResponse {
  address: string;
  balance: string;
  nonce: string;
  codeHash: string;
  storageHash: string;
  accountProof: readonly string[];
  storageProof: readonly { key: string; value: string; proof: readonly string[] }[];
}

export interface VerifiedEip1186 {
  /** `null` when the proof shows the account does not exist. */
  account: Account | null;
  storage: { key: Hex; value: bigint }[];
}

/** keccak256(rlp('')) — code hash of an account without code. */
export const EMPTY_CODE_HASH: Uint8Array = keccak256(new Uint8Array(0));

function fail(code: string, field: string, message: string, cause?: unknown): never {
  throw new ProofError(code, `eip1186.${field}: ${message}`, { details: { field }, cause });
}

function bytes(v: BytesLike, field: string, len?: number): Uint8Array {
  const b = typeof v === 'string' ? hexToBytes(v, field) : v;
  if (!(b instanceof Uint8Array)) fail('MR_ERR_EIP1186_INPUT', field, 'expected bytes or 0x-hex');
  if (len !== undefined && b.length !== len)
    fail('MR_ERR_EIP1186_INPUT', field, `expected ${len} bytes, got ${b.length}`);
  return b;
}

/** A claimed number in the response. Lenient on leading zeros: clients differ, and only the value is compared. */
function claimed(q: string, field: string): bigint {
  if (typeof q !== 'string' || !/^0x[0-9a-fA-F]+$/.test(q))
    fail('MR_ERR_EIP1186_INPUT', field, 'expected 0x-hex');
  return BigInt(q);
}

function proofBytes(proof: readonly BytesLike[], field: string): Uint8Array[] {
  if (!Array.isArray(proof)) fail('MR_ERR_EIP1186_INPUT', field, 'expected an array of nodes');
  return proof.map((p, i) => bytes(p, `${field}[${i}]`));
}

/**
 * A storage slot as a 32-byte word. Accepts bytes (≤ 32, left-padded) or hex of any even/odd length up to
 * 64 digits, because clients echo the requested key as given ("0x0" as well as a full word).
 */
export function slotKey(slot: BytesLike): Uint8Array {
  if (typeof slot === 'string') {
    if (!/^0x[0-9a-fA-F]{1,64}$/.test(slot))
      fail('MR_ERR_EIP1186_INPUT', 'slot', 'expected 0x-hex of at most 32 bytes');
    return Uint8Array.from(Buffer.from(slot.slice(2).padStart(64, '0'), 'hex'));
  }
  if (!(slot instanceof Uint8Array) || slot.length > 32)
    fail('MR_ERR_EIP1186_INPUT', 'slot', 'expected at most 32 bytes');
  const out = new Uint8Array(32);
  out.set(slot, 32 - slot.length);
  return out;
}

function decodeAccount(value: Uint8Array): Account {
  let v: RlpValue;
  try {
    v = decode(value);
  } catch (err) {
    fail('MR_ERR_EIP1186_BAD_ACCOUNT', 'account', 'proven value is not RLP', err);
  }
  if (!Array.isArray(v) || v.length !== 4)
    fail('MR_ERR_EIP1186_BAD_ACCOUNT', 'account', 'expected rlp([nonce, balance, storageHash, codeHash])');
  try {
    const storageHash = asBytes(v[2], 'account.storageHash');
    const codeHash = asBytes(v[3], 'account.codeHash');
    if (storageHash.length !== 32) fail('MR_ERR_EIP1186_BAD_ACCOUNT', 'storageHash', 'expected 32 bytes');
    if (codeHash.length !== 32) fail('MR_ERR_EIP1186_BAD_ACCOUNT', 'codeHash', 'expected 32 bytes');
    return {
      nonce: asUint(v[0], 'account.nonce'),
      balance: asUint(v[1], 'account.balance'),
      storageHash,
      codeHash,
    };
  } catch (err) {
    if (err instanceof ProofError && err.code === 'MR_ERR_EIP1186_BAD_ACCOUNT') throw err;
    fail('MR_ERR_EIP1186_BAD_ACCOUNT', 'account', err instanceof Error ? err.message : 'invalid', err);
  }
}

/** The account at `address` under `stateRoot`, or `null` when the proof shows it does not exist. */
export function verifyAccountProof(
  stateRoot: BytesLike,
  address: BytesLike,
  accountProof: readonly BytesLike[],
): Account | null {
  const root = bytes(stateRoot, 'stateRoot', 32);
  const key = keccak256(bytes(address, 'address', 20));
  const value = verifyProof(root, key, proofBytes(accountProof, 'accountProof'));
  return value === null ? null : decodeAccount(value);
}

/** The word at `slot` under `storageHash`; `0n` when the proof shows the slot is empty. */
export function verifyStorageProof(
  storageHash: BytesLike,
  slot: BytesLike,
  storageProof: readonly BytesLike[],
): bigint {
  const root = bytes(storageHash, 'storageHash', 32);
  const value = verifyProof(root, keccak256(slotKey(slot)), proofBytes(storageProof, 'storageProof'));
  if (value === null) return 0n;
  let word: bigint;
  try {
    word = asUint(decode(value), 'storage value');
  } catch (err) {
    fail('MR_ERR_EIP1186_BAD_STORAGE', 'storageValue', 'proven value is not rlp(minimal integer)', err);
  }
  // Clients delete zeroed slots, so a stored zero (or an over-long word) cannot come from a real trie.
  if (word === 0n || word >> 256n !== 0n)
    fail('MR_ERR_EIP1186_BAD_STORAGE', 'storageValue', 'stored word out of range');
  return word;
}

/**
 * Checks a whole `eth_getProof` response against a trusted `stateRoot`: the account proof, every field the
 * response claims for it, and every storage proof against the proven storage root. Throws
 * `MR_ERR_EIP1186_MISMATCH` (details.field names the field) when the response says something the proofs do not.
 */
export function verifyEip1186(stateRoot: BytesLike, response: EthGetProofResponse): VerifiedEip1186 {
  const account = verifyAccountProof(stateRoot, response.address, response.accountProof);
  // An absent account is reported by clients as the empty account.
  const proven: Account = account ?? {
    nonce: 0n,
    balance: 0n,
    storageHash: EMPTY_TRIE_ROOT,
    codeHash: EMPTY_CODE_HASH,
  };
  const mismatch = (field: string, claimed: string, actual: string): never =>
    fail('MR_ERR_EIP1186_MISMATCH', field, `response says ${claimed}, proof says ${actual}`);
  const nonce = claimed(response.nonce, 'nonce');
  if (nonce !== proven.nonce) mismatch('nonce', String(nonce), String(proven.nonce));
  const balance = claimed(response.balance, 'balance');
  if (balance !== proven.balance) mismatch('balance', String(balance), String(proven.balance));
  const storageHash = bytes(response.storageHash, 'storageHash', 32);
  if (!equalBytes(storageHash, proven.storageHash))
    mismatch('storageHash', response.storageHash, bytesToHex(proven.storageHash));
  const codeHash = bytes(response.codeHash, 'codeHash', 32);
  if (!equalBytes(codeHash, proven.codeHash))
    mismatch('codeHash', response.codeHash, bytesToHex(proven.codeHash));

  const storage = response.storageProof.map((sp, i) => {
    const value = verifyStorageProof(proven.storageHash, sp.key, sp.proof);
    const said = claimed(sp.value, `storageProof[${i}].value`);
    if (said !== value) mismatch(`storageProof[${i}].value`, String(said), String(value));
    return { key: bytesToHex(slotKey(sp.key)), value };
  });
  return { account, storage };
}
