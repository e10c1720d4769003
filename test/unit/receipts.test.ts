import { describe, expect, it } from 'vitest';
import { bytesToHex, hexToBytes } from '../../proofs/bytes.js';
import { ProofError } from '../../proofs/errors.js';
import { keccak256 } from '../../proofs/keccak.js';
import { decodeReceipt, type Receipt, receiptKey, verifyReceiptProof } from '../../proofs/receipts.js';
import { decode, encode, type RlpValue } from '../../proofs/rlp.js';
import { readFixture } from '../helpers/fixtures.js';

interface ReceiptsFixture {
  blocks: {
    name: string;
    blockNumber: number;
    receiptsRoot: string;
    receiptCount: number;
    proofs: { index: number; type: number; key: string; receipt: string; proof: string[] }[];
  }[];
}

const { blocks } = readFixture<ReceiptsFixture>('evm/proofs/receipts-mainnet.json');
const BYZANTIUM = 4_370_000;

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ProofError);
    return (err as ProofError).code;
  }
  throw new Error('expected a ProofError, nothing was thrown');
}

/** Yellow Paper M3:2048 — independent check that decoded logs are the ones the bloom commits to. */
function bloomContains(bloomHex: string, item: string): boolean {
  const bloom = hexToBytes(bloomHex);
  const h = keccak256(hexToBytes(item));
  for (let i = 0; i < 6; i += 2) {
    const bit = ((h[i]! << 8) | h[i + 1]!) & 2047;
    if ((bloom[255 - (bit >> 3)]! & (1 << (bit & 7))) === 0) return false;
  }
  return true;
}

function flip(hex: string, back: number): string {
  const b = hexToBytes(hex);
  b[b.length - back]! ^= 0x01;
  return bytesToHex(b);
}

describe('mainnet receipt proofs', () => {
  it('has 7 blocks and 38 proofs', () => {
    expect(blocks.length).toBe(7);
    expect(blocks.reduce((n, b) => n + b.proofs.length, 0)).toBe(38);
  });

  for (const block of blocks) {
    describe(`block ${block.blockNumber}`, () => {
      const decoded = new Map<number, Receipt>();
      for (const p of block.proofs) {
        it(`index ${p.index} (type ${p.type}) verifies and decodes`, () => {
          expect(bytesToHex(receiptKey(p.index))).toBe(p.key);
          const r = verifyReceiptProof(block.receiptsRoot, p.index, p.proof);
          expect(r.type).toBe(p.type);
          expect(r).toEqual(decodeReceipt(hexToBytes(p.receipt)));
          if (block.blockNumber < BYZANTIUM) {
            expect(r.status).toBeUndefined();
            expect(r.postState).toMatch(/^0x[0-9a-f]{64}$/);
          } else {
            expect(r.postState).toBeUndefined();
            expect([0, 1]).toContain(r.status);
          }
          for (const log of r.logs) {
            expect(bloomContains(r.logsBloom, log.address)).toBe(true);
            for (const t of log.topics) expect(bloomContains(r.logsBloom, t)).toBe(true);
          }
          if (r.logs.length === 0) expect(r.logsBloom).toBe(`0x${'00'.repeat(256)}`);
          // The decoded logs re-encode to exactly the proven bytes' log list.
          const body = hexToBytes(p.receipt).subarray(p.type === 0 ? 0 : 1);
          const items = decode(body) as RlpValue[];
          expect((items[3] as RlpValue[]).length).toBe(r.logs.length);
          expect(bytesToHex(encode(items[3]!))).toBe(
            bytesToHex(
              encode(
                r.logs.map((l) => [
                  hexToBytes(l.address),
                  l.topics.map((t) => hexToBytes(t)),
                  hexToBytes(l.data),
                ]),
              ),
            ),
          );
          decoded.set(p.index, r);
        });
      }
      it('cumulativeGasUsed grows with the index', () => {
        const sorted = [...decoded.entries()].sort((a, b) => a[0] - b[0]).map(([, r]) => r.cumulativeGasUsed);
        expect(sorted.length).toBe(block.proofs.length);
        for (let i = 1; i < sorted.length; i++) expect(sorted[i]! > sorted[i - 1]!).toBe(true);
      });
    });
  }

  it('at least one receipt carries logs and one is a blob (type 3) receipt', () => {
    const all = blocks.flatMap((b) => b.proofs.map((p) => decodeReceipt(hexToBytes(p.receipt))));
    expect(all.some((r) => r.logs.length > 0)).toBe(true);
    expect(all.some((r) => r.type === 3)).toBe(true);
    expect(all.some((r) => r.status === 0)).toBe(true);
  });
});

describe('tampered receipt proofs', () => {
  const block = blocks.find((b) => b.blockNumber === 19432087)!;
  const p = block.proofs.find((x) => x.index === 111)!; // type-3 receipt

  it('flipped byte in the leaf → MPT hash mismatch', () => {
    const proof = p.proof.map((n, i) => (i === p.proof.length - 1 ? flip(n, 40) : n));
    expect(codeOf(() => verifyReceiptProof(block.receiptsRoot, p.index, proof))).toBe(
      'MR_ERR_MPT_HASH_MISMATCH',
    );
  });
  it('flipped byte in the root node → MPT hash mismatch', () => {
    const proof = p.proof.map((n, i) => (i === 0 ? flip(n, 40) : n));
    expect(codeOf(() => verifyReceiptProof(block.receiptsRoot, p.index, proof))).toBe(
      'MR_ERR_MPT_HASH_MISMATCH',
    );
  });
  it('proof used for another index → rejected', () => {
    expect(codeOf(() => verifyReceiptProof(block.receiptsRoot, 112, p.proof))).toMatch(
      /^MR_ERR_(MPT|RECEIPT)_/,
    );
  });
  it('proof of another block root → hash mismatch', () => {
    expect(codeOf(() => verifyReceiptProof(blocks[0]!.receiptsRoot, p.index, p.proof))).toBe(
      'MR_ERR_MPT_HASH_MISMATCH',
    );
  });
  it('dropped leaf / appended node', () => {
    expect(codeOf(() => verifyReceiptProof(block.receiptsRoot, p.index, p.proof.slice(0, -1)))).toBe(
      'MR_ERR_MPT_MISSING_NODE',
    );
    expect(codeOf(() => verifyReceiptProof(block.receiptsRoot, p.index, [...p.proof, p.proof[0]!]))).toBe(
      'MR_ERR_MPT_EXTRA_NODES',
    );
  });
  it('a negative or fractional index is refused', () => {
    expect(codeOf(() => verifyReceiptProof(block.receiptsRoot, -1, p.proof))).toBe('MR_ERR_RECEIPT_INDEX');
    expect(codeOf(() => verifyReceiptProof(block.receiptsRoot, 1.5, p.proof))).toBe('MR_ERR_RECEIPT_INDEX');
  });
});

describe('decodeReceipt strictness', () => {
  const bloom = new Uint8Array(256);
  const log = [new Uint8Array(20).fill(1), [new Uint8Array(32).fill(2)], Uint8Array.of(1, 2, 3)];
  const body = (status: Uint8Array, b = bloom) => encode([status, Uint8Array.of(0x52, 0x08), b, [log]]);
  const typed = (t: number, payload: Uint8Array) => Uint8Array.from([t, ...payload]);

  it('decodes a synthetic typed receipt', () => {
    const r = decodeReceipt(typed(2, body(Uint8Array.of(1))));
    expect(r).toEqual({
      type: 2,
      status: 1,
      cumulativeGasUsed: 21000n,
      logsBloom: bytesToHex(bloom),
      logs: [{ address: `0x${'01'.repeat(20)}`, topics: [`0x${'02'.repeat(32)}`], data: '0x010203' }],
    });
    expect(decodeReceipt(body(new Uint8Array(0))).status).toBe(0);
  });
  const cases: [string, Uint8Array, string][] = [
    ['type byte 0x00', typed(0, body(Uint8Array.of(1))), 'MR_ERR_RECEIPT_TYPE'],
    ['type byte 0x80', typed(0x80, body(Uint8Array.of(1))), 'MR_ERR_RECEIPT_TYPE'],
    ['status 2', body(Uint8Array.of(2)), 'MR_ERR_RECEIPT_FIELD'],
    ['post-state root in a typed receipt', typed(1, body(new Uint8Array(32))), 'MR_ERR_RECEIPT_FIELD'],
    ['bloom of 255 bytes', body(Uint8Array.of(1), new Uint8Array(255)), 'MR_ERR_RECEIPT_FIELD'],
    ['trailing byte', Uint8Array.from([...body(Uint8Array.of(1)), 0]), 'MR_ERR_RECEIPT_FIELD'],
    ['empty input', new Uint8Array(0), 'MR_ERR_RECEIPT_FIELD'],
    ['three items', encode([Uint8Array.of(1), Uint8Array.of(1), bloom]), 'MR_ERR_RECEIPT_FIELD'],
    [
      'five topics',
      encode([
        Uint8Array.of(1),
        Uint8Array.of(1),
        bloom,
        [[log[0]!, Array(5).fill(new Uint8Array(32)), new Uint8Array(0)]],
      ]),
      'MR_ERR_RECEIPT_FIELD',
    ],
    [
      '19-byte log address',
      encode([Uint8Array.of(1), Uint8Array.of(1), bloom, [[new Uint8Array(19), [], new Uint8Array(0)]]]),
      'MR_ERR_RECEIPT_FIELD',
    ],
  ];
  for (const [name, bytes, code] of cases) {
    it(`${name} → ${code}`, () => expect(codeOf(() => decodeReceipt(bytes))).toBe(code));
  }
});
