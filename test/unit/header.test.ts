import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { bytesToHex, hexToBytes } from '../../proofs/bytes.js';
import { ProofError } from '../../proofs/errors.js';
import {
  type BlockHeader,
  decodeHeader,
  encodeHeader,
  headerHash,
  verifyHeaderHash,
  verifyHeaderRlp,
} from '../../proofs/header.js';
import { keccak256 } from '../../proofs/keccak.js';
import { fixturePath, readFixture } from '../helpers/fixtures.js';

interface HeaderFixture {
  name: string;
  fieldCount: number;
  header: BlockHeader;
  expectedHash: string;
  expectedRlp: string;
}

interface NegativeCase {
  name: string;
  mutation: string;
  trustedHash: string;
  header: BlockHeader;
  rlp: string;
}

function errorOf(fn: () => unknown): ProofError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ProofError);
    return err as ProofError;
  }
  throw new Error('expected a ProofError, nothing was thrown');
}

const files = readdirSync(fixturePath('evm/headers')).filter((f) => f.endsWith('.json'));
const fixtures = files.map((f) => readFixture<HeaderFixture>(`evm/headers/${f}`));

describe('mainnet headers, Frontier → Prague', () => {
  it('covers all 17 fixtures and every header format', () => {
    expect(fixtures.length).toBe(17);
    expect(new Set(fixtures.map((f) => f.fieldCount))).toEqual(new Set([15, 16, 17, 20, 21]));
  });
  for (const fx of fixtures) {
    it(`${fx.name}: rlp, hash, decode round-trip`, () => {
      expect(bytesToHex(encodeHeader(fx.header))).toBe(fx.expectedRlp);
      expect(bytesToHex(headerHash(fx.header))).toBe(fx.expectedHash);
      expect(() => verifyHeaderHash(fx.header, fx.expectedHash)).not.toThrow();
      const decoded = verifyHeaderRlp(hexToBytes(fx.expectedRlp), fx.expectedHash);
      expect(bytesToHex(encodeHeader(decoded))).toBe(fx.expectedRlp);
      // Extra JSON-RPC fields (hash, size, transactions) do not take part.
      const rpcBlock = { ...fx.header, hash: fx.expectedHash, size: '0x1', transactions: [] };
      expect(bytesToHex(headerHash(rpcBlock))).toBe(fx.expectedHash);
    });
  }
});

describe('headers-negative: 42 mutations of real headers', () => {
  const { cases } = readFixture<{ cases: NegativeCase[] }>('evm/headers-negative/cases.json');
  it('has 42 cases', () => expect(cases.length).toBe(42));
  for (const c of cases) {
    it(`rejects ${c.name} (${c.mutation})`, () => {
      // The JSON header must not hash to the trusted hash (or must be refused). For the rlp-only mutation the JSON
      // holds the original values, so only the raw-RLP path is meaningful there.
      if (!c.name.endsWith('/rlp')) {
        let hashed: string | undefined;
        try {
          hashed = bytesToHex(headerHash(c.header));
        } catch (err) {
          expect(err).toBeInstanceOf(ProofError);
        }
        expect(hashed).not.toBe(c.trustedHash);
        expect(() => verifyHeaderHash(c.header, c.trustedHash)).toThrow(ProofError);
      }
      expect(() => verifyHeaderRlp(hexToBytes(c.rlp), c.trustedHash)).toThrow(ProofError);
    });
  }
  it('the rlp-only mutation is refused by the strict decoder itself, not only by the hash', () => {
    const c = cases.find((x) => x.name.endsWith('/rlp'))!;
    expect(errorOf(() => decodeHeader(hexToBytes(c.rlp))).code).toBe('MR_ERR_HEADER_FIELD');
    expect(bytesToHex(keccak256(hexToBytes(c.rlp)))).not.toBe(c.trustedHash);
  });
});

describe('header validation names the field', () => {
  const cancun = fixtures.find((f) => f.fieldCount === 20)!;
  const prague = fixtures.find((f) => f.fieldCount === 21)!;
  const frontier = fixtures.find((f) => f.fieldCount === 15)!;

  const cases: [string, BlockHeader, string, string][] = [
    [
      'stateRoot of 31 bytes',
      { ...cancun.header, stateRoot: cancun.header.stateRoot.slice(0, -2) },
      'MR_ERR_HEADER_FIELD_LENGTH',
      'stateRoot',
    ],
    [
      'miner of 21 bytes',
      { ...cancun.header, miner: `${cancun.header.miner}00` },
      'MR_ERR_HEADER_FIELD_LENGTH',
      'miner',
    ],
    [
      'logsBloom of 255 bytes',
      { ...cancun.header, logsBloom: cancun.header.logsBloom.slice(0, -2) },
      'MR_ERR_HEADER_FIELD_LENGTH',
      'logsBloom',
    ],
    [
      'nonce of 7 bytes',
      { ...cancun.header, nonce: '0x00000000000000' },
      'MR_ERR_HEADER_FIELD_LENGTH',
      'nonce',
    ],
    [
      'number with a leading zero',
      { ...cancun.header, number: '0x0128' },
      'MR_ERR_BAD_QUANTITY',
      'header.number',
    ],
    ['gasUsed not hex', { ...cancun.header, gasUsed: '12' }, 'MR_ERR_BAD_QUANTITY', 'header.gasUsed'],
    ['extraData odd hex', { ...cancun.header, extraData: '0xabc' }, 'MR_ERR_BAD_HEX', 'header.extraData'],
    [
      'withdrawalsRoot absent while blob fields present',
      { ...cancun.header, withdrawalsRoot: undefined },
      'MR_ERR_HEADER_FIELD_ORDER',
      'blobGasUsed',
    ],
    [
      'requestsHash without Cancun fields',
      { ...frontier.header, requestsHash: prague.header.requestsHash },
      'MR_ERR_HEADER_FIELD_ORDER',
      'requestsHash',
    ],
    [
      'only one Cancun field',
      { ...cancun.header, excessBlobGas: undefined, parentBeaconBlockRoot: undefined },
      'MR_ERR_HEADER_FIELD_ORDER',
      'excessBlobGas',
    ],
    [
      'missing receiptsRoot',
      { ...frontier.header, receiptsRoot: undefined as unknown as string },
      'MR_ERR_HEADER_MISSING_FIELD',
      'receiptsRoot',
    ],
  ];
  for (const [name, header, code, field] of cases) {
    it(`${name} → ${code} (${field})`, () => {
      const err = errorOf(() => encodeHeader(header));
      expect(err.code).toBe(code);
      expect(err.details.field).toBe(field);
    });
  }

  it('null optional fields (as some RPCs return) count as absent', () => {
    expect(bytesToHex(headerHash({ ...frontier.header, baseFeePerGas: null }))).toBe(frontier.expectedHash);
  });

  it('extraData may be replaced by bytes (QBFT seal digest use)', () => {
    const bytes = hexToBytes(cancun.header.extraData as string);
    expect(bytesToHex(headerHash({ ...cancun.header, extraData: bytes }))).toBe(cancun.expectedHash);
    expect(bytesToHex(headerHash({ ...cancun.header, extraData: '0x' }))).not.toBe(cancun.expectedHash);
  });

  it('verifyHeaderHash reports the mismatch', () => {
    const err = errorOf(() => verifyHeaderHash(prague.header, cancun.expectedHash));
    expect(err.code).toBe('MR_ERR_HEADER_HASH_MISMATCH');
    expect(err.details.got).toBe(prague.expectedHash);
  });

  it('decodeHeader refuses unknown field counts and wrong lengths', () => {
    expect(errorOf(() => decodeHeader(hexToBytes('0xc0'))).code).toBe('MR_ERR_HEADER_RLP');
    const fields = [...Array(15)].map(() => new Uint8Array(0));
    const rlp = encodeHeaderList(fields);
    const err = errorOf(() => decodeHeader(rlp));
    expect(err.code).toBe('MR_ERR_HEADER_FIELD_LENGTH');
    expect(err.details.field).toBe('parentHash');
  });
});

function encodeHeaderList(items: Uint8Array[]): Uint8Array {
  // Minimal RLP list encoder for short payloads of empty strings, kept local so the test does not lean on rlp.ts.
  const payload = items.map(() => 0x80);
  return Uint8Array.from([0xc0 + payload.length, ...payload]);
}
