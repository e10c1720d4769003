/**
 * Receipt-trie proofs from a node's JSON-RPC receipts: re-encodes every receipt of a block in consensus form
 * (EIP-2718 envelope), rebuilds the receipt trie, checks its root against the header's `receiptsRoot` and
 * returns the proof for one transaction. The node is not trusted: a receipt list that does not rebuild the
 * header's root is an error, and the caller verifies the proof against a finality-verified header anyway.
 */
import { bigintToBytes, bytesToHex, equalBytes, type Hex, hexToBytes } from '../../proofs/bytes.js';
import { ChainError } from '../../proofs/errors.js';
import { createProof, trieRoot } from '../../proofs/mpt.js';
import { receiptKey } from '../../proofs/receipts.js';
import { encode } from '../../proofs/rlp.js';

export interface RpcReceipt {
  type?: string;
  status?: string;
  root?: string;
  cumulativeGasUsed: string;
  logsBloom: string;
  logs: { address: string; topics: string[]; data: string }[];
  transactionIndex: string;
  transactionHash: Hex;
}

export interface ReceiptProof {
  readonly blockNumber: string;
  readonly receiptsRoot: Hex;
  readonly index: number;
  readonly receipt: Hex;
  readonly proof: Hex[];
}

/** Consensus encoding of a JSON-RPC receipt: `type || rlp([status, cumulativeGasUsed, logsBloom, logs])`. */
export function encodeRpcReceipt(r: RpcReceipt): Uint8Array {
  const statusOrRoot = r.root ? hexToBytes(r.root, 'root') : bigintToBytes(BigInt(r.status ?? '0x0'));
  const body = encode([
    statusOrRoot,
    bigintToBytes(BigInt(r.cumulativeGasUsed)),
    hexToBytes(r.logsBloom, 'logsBloom'),
    r.logs.map((l) => [
      hexToBytes(l.address, 'log.address'),
      l.topics.map((t) => hexToBytes(t, 'log.topic')),
      hexToBytes(l.data, 'log.data'),
    ]),
  ]);
  const type = Number(BigInt(r.type ?? '0x0'));
  if (type === 0) return body;
  const out = new Uint8Array(body.length + 1);
  out[0] = type;
  out.set(body, 1);
  return out;
}

/** Builds the proof of receipt `index` from all of a block's receipts; throws unless they rebuild `receiptsRoot`. */
export function buildReceiptProof(
  blockNumber: bigint,
  receiptsRoot: Hex,
  receipts: readonly RpcReceipt[],
  index: number,
): ReceiptProof {
  const sorted = [...receipts].sort((a, b) =>
    Number(BigInt(a.transactionIndex) - BigInt(b.transactionIndex)),
  );
  const entries = sorted.map((r, i) => [receiptKey(i), encodeRpcReceipt(r)] as const);
  const root = trieRoot(entries);
  if (!equalBytes(root, hexToBytes(receiptsRoot, 'receiptsRoot'))) {
    throw new ChainError(
      'MR_ERR_RECEIPTS_ROOT_MISMATCH',
      `block ${blockNumber}: receipts do not rebuild receiptsRoot`,
      {
        details: { expected: receiptsRoot, computed: bytesToHex(root) },
      },
    );
  }
  const entry = entries[index];
  if (!entry) {
    throw new ChainError('MR_ERR_RECEIPT_INDEX', `block ${blockNumber} has no transaction at index ${index}`);
  }
  return {
    blockNumber: blockNumber.toString(),
    receiptsRoot,
    index,
    receipt: bytesToHex(entry[1]),
    proof: createProof(entries, receiptKey(index)).map(bytesToHex),
  };
}
