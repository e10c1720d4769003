/**
 * Ethereum block header encoding and hash (Yellow Paper §4.3; EIP-1559 London, EIP-4895 Shanghai,
 * EIP-4844/EIP-4788 Cancun, EIP-7685 Prague). blockHash = keccak256(rlp([fields…])).
 *
 * Input is a JSON-RPC block object (hex strings). Optional fork fields are appended in fork order, and a
 * field may only be present if every earlier one is: a header with a gap has no hash on any chain, so we
 * refuse it rather than silently hash something no client would. Cancun's three fields arrived together.
 *
 * A QBFT/IBFT caller hashes the same layout with a different extraData (seal digest): pass
 * `{ ...block, extraData: otherExtraData }` (hex or bytes).
 */
import { bigintToBytes, bytesToHex, equalBytes, hexToBytes, quantityToBigint } from './bytes.js';
import { ProofError } from './errors.js';
import { keccak256 } from './keccak.js';
import { asBytes, asUint, decode, encode, type RlpValue } from './rlp.js';

/** Header fields as in a JSON-RPC block object. Extra properties (hash, transactions, …) are ignored. */
export interface BlockHeader {
  parentHash: string;
  sha3Uncles: string;
  miner: string;
  stateRoot: string;
  transactionsRoot: string;
  receiptsRoot: string;
  logsBloom: string;
  difficulty: string;
  number: string;
  gasLimit: string;
  gasUsed: string;
  timestamp: string;
  extraData: string | Uint8Array;
  mixHash: string;
  nonce: string;
  baseFeePerGas?: string | null;
  withdrawalsRoot?: string | null;
  blobGasUsed?: string | null;
  excessBlobGas?: string | null;
  parentBeaconBlockRoot?: string | null;
  requestsHash?: string | null;
}

type FieldKind = 'int' | 'bytes' | number; // number = fixed byte length

type FieldName = keyof BlockHeader;

/** Canonical RLP order. The first 15 are mandatory; the rest are fork additions in activation order. */
const FIELDS: readonly (readonly [FieldName, FieldKind])[] = [
  ['parentHash', 32],
  ['sha3Uncles', 32],
  ['miner', 20],
  ['stateRoot', 32],
  ['transactionsRoot', 32],
  ['receiptsRoot', 32],
  ['logsBloom', 256],
  ['difficulty', 'int'],
  ['number', 'int'],
  ['gasLimit', 'int'],
  ['gasUsed', 'int'],
  ['timestamp', 'int'],
  ['extraData', 'bytes'],
  ['mixHash', 32],
  ['nonce', 8],
  ['baseFeePerGas', 'int'], // London
  ['withdrawalsRoot', 32], // Shanghai
  ['blobGasUsed', 'int'], // Cancun
  ['excessBlobGas', 'int'], // Cancun
  ['parentBeaconBlockRoot', 32], // Cancun
  ['requestsHash', 32], // Prague
];

const MANDATORY = 15;
/** Field counts a real header can have: pre-London, London, Shanghai, Cancun, Prague. */
const VALID_COUNTS = new Set([15, 16, 17, 20, 21]);

function fail(code: string, field: string, message: string, cause?: unknown): never {
  throw new ProofError(code, `header.${field}: ${message}`, { details: { field }, cause });
}

function fieldBytes(block: BlockHeader, name: FieldName, kind: FieldKind): Uint8Array {
  const raw = block[name];
  if (kind === 'int') {
    if (typeof raw !== 'string') fail('MR_ERR_HEADER_FIELD', name, 'expected a 0x-hex quantity');
    return bigintToBytes(quantityToBigint(raw, `header.${name}`));
  }
  const b =
    raw instanceof Uint8Array ? raw : typeof raw === 'string' ? hexToBytes(raw, `header.${name}`) : undefined;
  if (!b) fail('MR_ERR_HEADER_FIELD', name, 'expected 0x-hex bytes');
  if (typeof kind === 'number' && b.length !== kind) {
    fail('MR_ERR_HEADER_FIELD_LENGTH', name, `expected ${kind} bytes, got ${b.length}`);
  }
  return b;
}

function present(block: BlockHeader, name: FieldName): boolean {
  const v = block[name];
  return v !== undefined && v !== null;
}

/** The RLP list items of a header, validated. */
export function headerFields(block: BlockHeader): Uint8Array[] {
  if (typeof block !== 'object' || block === null) fail('MR_ERR_HEADER_FIELD', 'block', 'expected an object');
  let count = MANDATORY;
  while (count < FIELDS.length && present(block, FIELDS[count]![0])) count++;
  for (let i = 0; i < FIELDS.length; i++) {
    const name = FIELDS[i]![0];
    if (i < MANDATORY && !present(block, name)) fail('MR_ERR_HEADER_MISSING_FIELD', name, 'missing');
    if (i >= count && present(block, name)) {
      fail(
        'MR_ERR_HEADER_FIELD_ORDER',
        name,
        `present but ${FIELDS[count]![0]} (an earlier fork field) is absent`,
      );
    }
  }
  if (!VALID_COUNTS.has(count)) {
    fail(
      'MR_ERR_HEADER_FIELD_ORDER',
      FIELDS[count]![0],
      'Cancun fields blobGasUsed, excessBlobGas, parentBeaconBlockRoot must come together',
    );
  }
  const out: Uint8Array[] = [];
  for (let i = 0; i < count; i++) out.push(fieldBytes(block, FIELDS[i]![0], FIELDS[i]![1]));
  return out;
}

/** rlp(header). */
export function encodeHeader(block: BlockHeader): Uint8Array {
  return encode(headerFields(block));
}

/** keccak256(rlp(header)): the block hash. */
export function headerHash(block: BlockHeader): Uint8Array {
  return keccak256(encodeHeader(block));
}

function toHash(h: string | Uint8Array, field: string): Uint8Array {
  const b = typeof h === 'string' ? hexToBytes(h, field) : h;
  if (b.length !== 32) fail('MR_ERR_HEADER_FIELD_LENGTH', field, `expected 32 bytes, got ${b.length}`);
  return b;
}

/** Throws `MR_ERR_HEADER_HASH_MISMATCH` unless `block` hashes to `trustedHash`. */
export function verifyHeaderHash(block: BlockHeader, trustedHash: string | Uint8Array): void {
  const want = toHash(trustedHash, 'trustedHash');
  const got = headerHash(block);
  if (!equalBytes(got, want)) {
    throw new ProofError(
      'MR_ERR_HEADER_HASH_MISMATCH',
      `header hashes to ${bytesToHex(got)}, expected ${bytesToHex(want)}`,
      {
        details: { field: 'hash', got: bytesToHex(got), expected: bytesToHex(want) },
      },
    );
  }
}

/**
 * Decodes raw header RLP strictly (canonical RLP, minimal integers, exact lengths, a real field count).
 * Integers come back as minimal quantities and byte fields as hex, so `encodeHeader(decodeHeader(x))`
 * reproduces `x` exactly for every valid header.
 */
export function decodeHeader(rlp: Uint8Array): BlockHeader {
  let list: RlpValue;
  try {
    list = decode(rlp);
  } catch (err) {
    fail('MR_ERR_HEADER_RLP', 'rlp', 'not canonical RLP', err);
  }
  if (!Array.isArray(list)) fail('MR_ERR_HEADER_RLP', 'rlp', 'expected a list');
  if (!VALID_COUNTS.has(list.length))
    fail('MR_ERR_HEADER_RLP', 'rlp', `${list.length} fields is no known header format`);
  const out: Record<string, string> = {};
  for (let i = 0; i < list.length; i++) {
    const [name, kind] = FIELDS[i]!;
    try {
      if (kind === 'int') {
        out[name] = `0x${asUint(list[i], `header.${name}`).toString(16)}`;
      } else {
        const b = asBytes(list[i], `header.${name}`);
        if (typeof kind === 'number' && b.length !== kind) {
          fail('MR_ERR_HEADER_FIELD_LENGTH', name, `expected ${kind} bytes, got ${b.length}`);
        }
        out[name] = bytesToHex(b);
      }
    } catch (err) {
      if (err instanceof ProofError && err.code.startsWith('MR_ERR_HEADER')) throw err;
      fail('MR_ERR_HEADER_FIELD', name, err instanceof Error ? err.message : 'invalid', err);
    }
  }
  return out as unknown as BlockHeader;
}

/** Strictly decodes raw header RLP and checks keccak256(rlp) == trustedHash. Returns the decoded header. */
export function verifyHeaderRlp(rlp: Uint8Array, trustedHash: string | Uint8Array): BlockHeader {
  const header = decodeHeader(rlp);
  const want = toHash(trustedHash, 'trustedHash');
  const got = keccak256(rlp);
  if (!equalBytes(got, want)) {
    throw new ProofError(
      'MR_ERR_HEADER_HASH_MISMATCH',
      `header RLP hashes to ${bytesToHex(got)}, expected ${bytesToHex(want)}`,
      {
        details: { field: 'hash', got: bytesToHex(got), expected: bytesToHex(want) },
      },
    );
  }
  return header;
}
