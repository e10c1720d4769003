import { describe, expect, it } from 'vitest';
import { bytesToHex, hexToBytes } from '../../proofs/bytes.js';
import { ProofError } from '../../proofs/errors.js';
import { asBytes, asList, asUint, decode, encode, type RlpInput, type RlpValue } from '../../proofs/rlp.js';
import { rng } from '../helpers/random.js';

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ProofError);
    return (err as ProofError).code;
  }
  throw new Error('expected a ProofError, nothing was thrown');
}

const LOREM55 = 'Lorem ipsum dolor sit amet, consectetur adipisicing eli';
const LOREM56 = 'Lorem ipsum dolor sit amet, consectetur adipisicing elit';
const ABC = ['asdf', 'qwer', 'zxcv'].map(utf8);

// ethereum/tests RLPTests/rlptest.json vectors.
const VECTORS: [string, RlpInput, string][] = [
  ['empty string', new Uint8Array(0), '0x80'],
  ['empty list', [], '0xc0'],
  ['byte 0x00', Uint8Array.of(0), '0x00'],
  ['byte 0x0f', Uint8Array.of(0x0f), '0x0f'],
  ['byte 0x7f', Uint8Array.of(0x7f), '0x7f'],
  ['byte 0x80', Uint8Array.of(0x80), '0x8180'],
  ['dog', utf8('dog'), '0x83646f67'],
  ['cat/dog', [utf8('cat'), utf8('dog')], '0xc88363617483646f67'],
  ['integer 1024', Uint8Array.of(0x04, 0x00), '0x820400'],
  ['55-byte string', utf8(LOREM55), `0xb7${Buffer.from(LOREM55).toString('hex')}`],
  ['56-byte string', utf8(LOREM56), `0xb838${Buffer.from(LOREM56).toString('hex')}`],
  ['set-theoretic three', [[], [[]], [[], [[]]]], '0xc7c0c1c0c3c0c1c0'],
  ['nested short lists', [[utf8('cat')], [utf8('dog')]], '0xcac483636174c483646f67'],
  [
    'long list (64-byte payload)',
    [ABC, ABC, ABC, ABC],
    `0xf840${'cf84617364668471776572847a786376'.repeat(4)}`,
  ],
  ['1024-byte string', new Uint8Array(1024).fill(0x61), `0xb90400${'61'.repeat(1024)}`],
];

describe('rlp canonical vectors', () => {
  for (const [name, input, hex] of VECTORS) {
    it(`${name}: encodes and round-trips`, () => {
      const enc = encode(input);
      expect(bytesToHex(enc)).toBe(hex);
      const dec = decode(enc);
      expect(bytesToHex(encode(dec))).toBe(hex);
      expect(normalize(dec)).toEqual(normalize(input));
    });
  }
});

function normalize(v: RlpInput | RlpValue): unknown {
  return v instanceof Uint8Array ? bytesToHex(v) : (v as readonly RlpInput[]).map(normalize);
}

describe('rlp strict decoding rejects', () => {
  const cases: [string, string, string][] = [
    ['single byte < 0x80 wrapped as a string', '0x8100', 'MR_ERR_RLP_NONCANONICAL'],
    ['0x7f wrapped as a string', '0x817f', 'MR_ERR_RLP_NONCANONICAL'],
    ['long string form for a 1-byte payload', '0xb80161', 'MR_ERR_RLP_NONCANONICAL'],
    ['long string form for a 55-byte payload', `0xb837${'61'.repeat(55)}`, 'MR_ERR_RLP_NONCANONICAL'],
    ['long list form for a short payload', '0xf80180', 'MR_ERR_RLP_NONCANONICAL'],
    ['leading zero in a string length', `0xb90038${'61'.repeat(56)}`, 'MR_ERR_RLP_NONCANONICAL'],
    ['leading zero in a list length', `0xf90038${'80'.repeat(56)}`, 'MR_ERR_RLP_NONCANONICAL'],
    ['trailing byte after a string', '0x8000', 'MR_ERR_RLP_TRAILING'],
    ['trailing bytes after a list', '0xc0c0', 'MR_ERR_RLP_TRAILING'],
    ['truncated string', '0x83646f', 'MR_ERR_RLP_TRUNCATED'],
    ['truncated length field', '0xb9', 'MR_ERR_RLP_TRUNCATED'],
    ['truncated list', '0xc883636174', 'MR_ERR_RLP_TRUNCATED'],
    ['list item longer than its list', '0xc28364', 'MR_ERR_RLP_TRUNCATED'],
    ['empty input', '0x', 'MR_ERR_RLP_TRUNCATED'],
  ];
  for (const [name, hex, code] of cases) {
    it(`${name} (${hex.slice(0, 12)}) → ${code}`, () => {
      expect(codeOf(() => decode(hexToBytes(hex)))).toBe(code);
    });
  }

  it('nesting deeper than the limit', () => {
    let v: RlpInput = [];
    for (let i = 0; i < 80; i++) v = [v];
    expect(codeOf(() => decode(encode(v)))).toBe('MR_ERR_RLP_DEPTH');
  });

  it('shape helpers name the field', () => {
    const v = decode(hexToBytes('0xc88363617483646f67'));
    expect(codeOf(() => asBytes(v, 'x'))).toBe('MR_ERR_RLP_SHAPE');
    expect(codeOf(() => asList(asList(v, 'l')[0], 'y'))).toBe('MR_ERR_RLP_SHAPE');
    expect(asUint(decode(hexToBytes('0x820400')), 'n')).toBe(1024n);
    expect(codeOf(() => asUint(decode(hexToBytes('0x820004')), 'n'))).toBe('MR_ERR_RLP_NONCANONICAL');
  });
});

describe('rlp properties (seeded)', () => {
  function randomValue(r: ReturnType<typeof rng>, depth: number): RlpInput {
    if (depth < 4 && r.next() < 0.3) {
      const n = r.int(r.next() < 0.1 ? 20 : 5);
      return Array.from({ length: n }, () => randomValue(r, depth + 1));
    }
    const pick = r.next();
    // Bias towards the boundaries where encodings change form: 1 byte, 55/56 bytes, 255/256 bytes.
    const len = pick < 0.3 ? 1 : pick < 0.5 ? 54 + r.int(4) : pick < 0.55 ? 254 + r.int(4) : r.int(40);
    return r.bytes(len);
  }

  it('encode → decode → encode is the identity (2000 values)', () => {
    const r = rng(0x5eed);
    for (let i = 0; i < 2000; i++) {
      const v = randomValue(r, 0);
      const enc = encode(v);
      const dec = decode(enc);
      expect(normalize(dec)).toEqual(normalize(v));
      expect(equal(encode(dec), enc)).toBe(true);
    }
  });

  it('a mutated encoding either fails with a ProofError or is itself canonical (2000 mutations)', () => {
    const r = rng(0xbad5eed);
    let rejected = 0;
    for (let i = 0; i < 2000; i++) {
      const enc = encode(randomValue(r, 0));
      const m = Uint8Array.from(enc);
      const at = r.int(Math.min(m.length, 4)); // the prefix bytes are where canonicality lives
      m[at] = r.int(256);
      let dec: RlpValue;
      try {
        dec = decode(m);
      } catch (err) {
        expect(err).toBeInstanceOf(ProofError);
        rejected++;
        continue;
      }
      // Uniqueness: anything the strict decoder accepts re-encodes to the same bytes.
      expect(bytesToHex(encode(dec))).toBe(bytesToHex(m));
    }
    expect(rejected).toBeGreaterThan(100);
  });
});

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.compare(a, b) === 0;
}
