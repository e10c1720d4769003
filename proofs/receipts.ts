/**
 * Receipt-trie proofs (Yellow Paper §4.3.1, EIP-2718 typed envelopes, EIP-658 status).
 *
 * Trie key = rlp(transactionIndex). Value = `type || rlp([status, cumulativeGasUsed, logsBloom, logs])`
 * for typed receipts, the bare list for legacy ones. Before Byzantium (EIP-658) the first item is the
 * 32-byte post-transaction state root instead of the status. Each log is `[address, [topics…], data]`.
 */
import { bigintToBytes, bytesToHex, type Hex, hexToBytes } from './bytes.js';
import { ProofError } from './errors.js';
import { verifyProof } from './mpt.js';
import { asBytes, asList, asUint, decode, encode, type RlpValue } from './rlp.js';

export interface ReceiptLog {
  address: Hex;
  topics: Hex[];
  data: Hex;
}

export interface Receipt {
  /** EIP-2718 type; 0 for legacy. */
  type: number;
  /** EIP-658 status (Byzantium and later). */
  status?: 0 | 1;
  /** Post-transaction state root (pre-Byzantium legacy receipts). */
  postState?: Hex;
  cumulativeGasUsed: bigint;
  logsBloom: Hex;
  logs: ReceiptLog[];
}

function fail(code: string, field: string, message: string, cause?: unknown): never {
  throw new ProofError(code, `receipt.${field}: ${message}`, { details: { field }, cause });
}

function fixed(v: RlpValue | undefined, len: number, field: string): Uint8Array {
  const b = asBytes(v, field);
  if (b.length !== len) fail('MR_ERR_RECEIPT_FIELD', field, `expected ${len} bytes, got ${b.length}`);
  return b;
}

function decodeLog(v: RlpValue | undefined, i: number): ReceiptLog {
  const log = asList(v, `logs[${i}]`);
  if (log.length !== 3) fail('MR_ERR_RECEIPT_FIELD', `logs[${i}]`, 'expected [address, topics, data]');
  const topics = asList(log[1], `logs[${i}].topics`);
  // LOG0..LOG4: the EVM cannot emit more than four topics.
  if (topics.length > 4) fail('MR_ERR_RECEIPT_FIELD', `logs[${i}].topics`, `${topics.length} topics (max 4)`);
  return {
    address: bytesToHex(fixed(log[0], 20, `logs[${i}].address`)),
    topics: topics.map((t, j) => bytesToHex(fixed(t, 32, `logs[${i}].topics[${j}]`))),
    data: bytesToHex(asBytes(log[2], `logs[${i}].data`)),
  };
}

/** Decodes a consensus-encoded receipt (legacy or EIP-2718 typed). Strict: canonical RLP, exact lengths. */
export function decodeReceipt(bytes: Uint8Array): Receipt {
  if (!(bytes instanceof Uint8Array) || bytes.length === 0)
    fail('MR_ERR_RECEIPT_FIELD', 'encoding', 'empty receipt');
  const first = bytes[0]!;
  let type = 0;
  let body = bytes;
  if (first < 0xc0) {
    // EIP-2718: a type byte in [0x01, 0x7f] precedes the payload; 0x00 and 0x80–0xbf are not receipts.
    if (first === 0 || first > 0x7f)
      fail('MR_ERR_RECEIPT_TYPE', 'type', `invalid receipt type byte 0x${first.toString(16)}`);
    type = first;
    body = bytes.subarray(1);
  }
  try {
    const items = asList(decode(body), 'receipt');
    if (items.length !== 4) fail('MR_ERR_RECEIPT_FIELD', 'receipt', `expected 4 items, got ${items.length}`);
    const head = asBytes(items[0], 'status');
    const receipt: Receipt = {
      type,
      cumulativeGasUsed: asUint(items[1], 'cumulativeGasUsed'),
      logsBloom: bytesToHex(fixed(items[2], 256, 'logsBloom')),
      logs: asList(items[3], 'logs').map(decodeLog),
    };
    if (head.length === 32 && type === 0) receipt.postState = bytesToHex(head);
    else if (head.length === 0) receipt.status = 0;
    else if (head.length === 1 && head[0] === 1) receipt.status = 1;
    else
      fail(
        'MR_ERR_RECEIPT_FIELD',
        'status',
        'expected status 0/1 (or a 32-byte post-state root for a legacy receipt)',
      );
    return receipt;
  } catch (err) {
    if (err instanceof ProofError && err.code.startsWith('MR_ERR_RECEIPT')) throw err;
    // RLP shape errors name the field in their message; re-code them so callers branch on one prefix.
    fail('MR_ERR_RECEIPT_FIELD', 'receipt', err instanceof Error ? err.message : 'malformed', err);
  }
}

/** rlp(index): the receipt (and transaction) trie key. */
export function receiptKey(index: number): Uint8Array {
  if (!Number.isSafeInteger(index) || index < 0)
    fail('MR_ERR_RECEIPT_INDEX', 'index', 'expected a non-negative integer');
  return encode(bigintToBytes(BigInt(index)));
}

/**
 * Verifies the receipt at `index` under `receiptsRoot` and decodes it. A valid proof that the index is absent
 * throws `MR_ERR_RECEIPT_ABSENT`; invalid proofs throw the `MR_ERR_MPT_*` code from the trie walk.
 */
export function verifyReceiptProof(
  receiptsRoot: Uint8Array | string,
  index: number,
  proof: readonly (Uint8Array | string)[],
): Receipt {
  const root = typeof receiptsRoot === 'string' ? hexToBytes(receiptsRoot, 'receiptsRoot') : receiptsRoot;
  const nodes = proof.map((p, i) => (typeof p === 'string' ? hexToBytes(p, `proof[${i}]`) : p));
  const value = verifyProof(root, receiptKey(index), nodes);
  if (value === null) fail('MR_ERR_RECEIPT_ABSENT', 'index', `the proof shows no receipt at index ${index}`);
  return decodeReceipt(value);
}
