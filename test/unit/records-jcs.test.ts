/**
 * RFC 8785 (JCS). Expected strings are written from the RFC text (§3.2.3 sample and sorting example, Appendix B
 * number table); the number table was also recomputed independently from the ECMA-262 Number::toString
 * definition (Python, from repr's shortest digits) before being written here.
 */
import { describe, expect, it } from 'vitest';
import { ProofError } from '../../proofs/errors.js';
import { canonicalBytes, canonicalize } from '../../proofs/records/jcs.js';
import { rng } from '../helpers/random.js';

function expectJcsError(fn: () => unknown, code: string, path: string): void {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ProofError);
    expect((err as ProofError).code).toBe(code);
    expect((err as ProofError).details.path).toBe(path);
    expect((err as ProofError).message).toContain(path);
    return;
  }
  throw new Error(`expected ${code} at ${path}`);
}

const fromBits = (hex: string): number => {
  const dv = new DataView(new ArrayBuffer(8));
  dv.setBigUint64(0, BigInt(`0x${hex}`));
  return dv.getFloat64(0);
};

describe('canonicalize (RFC 8785)', () => {
  it('default: the RFC 8785 §3.2.3 sample', () => {
    // The RFC's input text, parsed as JSON (escapes, exponents and trailing zeros as written there).
    const input = JSON.parse(String.raw`{
      "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
      "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
      "literals": [null, true, false]
    }`);
    const expected = String.raw`{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA'B\"\\\\\"/"}`;
    expect(canonicalize(input)).toBe(expected);
  });

  it('behavior: sorts keys by UTF-16 code units (RFC 8785 §3.2.3 sorting example)', () => {
    const input = JSON.parse(String.raw`{
      "\u20ac": "Euro Sign",
      "\r": "Carriage Return",
      "\ufb33": "Hebrew Letter Dalet With Dagesh",
      "1": "One",
      "\ud83d\ude00": "Emoji: Grinning Face",
      "\u0080": "Control",
      "\u00f6": "Latin Small Letter O With Diaeresis"
    }`);
    const expected =
      '{"\\r":"Carriage Return","1":"One","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis",' +
      '"\u20ac":"Euro Sign","\ud83d\ude00":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}';
    expect(canonicalize(input)).toBe(expected);
    // U+1F600 (surrogates D83D DE00) sorts before U+FB33 by code units, though after it by code points.
    const text = canonicalize(input);
    const pos = (k: string) => text.indexOf(`"${k}":`);
    expect(pos('\ud83d\ude00')).toBeLessThan(pos('\ufb33'));
  });

  it('behavior: number serialization table (RFC 8785 Appendix B)', () => {
    const table: [string, string][] = [
      ['0000000000000000', '0'],
      ['8000000000000000', '0'], // -0
      ['0000000000000001', '5e-324'],
      ['8000000000000001', '-5e-324'],
      ['7fefffffffffffff', '1.7976931348623157e+308'],
      ['ffefffffffffffff', '-1.7976931348623157e+308'],
      ['4340000000000000', '9007199254740992'],
      ['c340000000000000', '-9007199254740992'],
      ['4430000000000000', '295147905179352830000'],
      ['44b52d02c7e14af5', '9.999999999999997e+22'],
      ['44b52d02c7e14af6', '1e+23'],
      ['44b52d02c7e14af7', '1.0000000000000001e+23'],
      ['444b1ae4d6e2ef4e', '999999999999999700000'],
      ['444b1ae4d6e2ef4f', '999999999999999900000'],
      ['444b1ae4d6e2ef50', '1e+21'],
      ['3eb0c6f7a0b5ed8c', '9.999999999999997e-7'],
      ['3eb0c6f7a0b5ed8d', '0.000001'],
      ['41b3de4355555553', '333333333.3333332'],
      ['41b3de4355555554', '333333333.33333325'],
      ['41b3de4355555555', '333333333.3333333'],
      ['41b3de4355555556', '333333333.3333334'],
      ['41b3de4355555557', '333333333.33333343'],
      ['becbf647612f3696', '-0.0000033333333333333333'],
      ['43143ff3c1cb0959', '1424953923781206.2'],
    ];
    for (const [bits, text] of table) expect(canonicalize(fromBits(bits)), bits).toBe(text);
    expectJcsError(() => canonicalize(fromBits('7fffffffffffffff')), 'MR_ERR_JCS_NUMBER', '$');
    expectJcsError(() => canonicalize(fromBits('7ff0000000000000')), 'MR_ERR_JCS_NUMBER', '$');
  });

  it('behavior: number literals from the brief (1e21, 1e-7, -0, 333333333.33333329, 1E30)', () => {
    const parsed = JSON.parse('[1e21, 1e-7, -0, 333333333.33333329, 1E30, 1e-6, 1e20, 123e-10, 4.50]');
    expect(canonicalize(parsed)).toBe(
      '[1e+21,1e-7,0,333333333.3333333,1e+30,0.000001,100000000000000000000,1.23e-8,4.5]',
    );
    expect(canonicalize(-0)).toBe('0');
  });

  it('behavior: string escaping (RFC 8785 §3.2.2.2)', () => {
    let controls = '';
    for (let c = 0; c < 0x20; c++) controls += String.fromCharCode(c);
    const short: Record<number, string> = { 8: '\\b', 9: '\\t', 10: '\\n', 12: '\\f', 13: '\\r' };
    let expected = '"';
    for (let c = 0; c < 0x20; c++) expected += short[c] ?? `\\u00${c.toString(16).padStart(2, '0')}`;
    expected += '"';
    expect(canonicalize(controls)).toBe(expected);
    // Only " and \ among printable characters; '/', DEL, U+2028 and non-ASCII stay verbatim.
    expect(canonicalize('"\\/\u007f\u2028é😀')).toBe('"\\"\\\\/\u007f\u2028é😀"');
  });

  it('behavior: strings equal ECMAScript QuoteJSONString for well-formed input (seeded)', () => {
    const r = rng(2);
    const alphabet = [
      'a',
      'Z',
      '"',
      '\\',
      '/',
      '\u0000',
      '\u001f',
      '\u007f',
      'é',
      '€',
      '\u2028',
      '😀',
      '\ud83d\ude00',
      '\n',
      ' ',
    ];
    for (let i = 0; i < 2000; i++) {
      const s = Array.from({ length: r.int(12) }, () => alphabet[r.int(alphabet.length)]!).join('');
      expect(canonicalize(s)).toBe(JSON.stringify(s));
      expect(canonicalize({ [s]: s })).toBe(`{${JSON.stringify(s)}:${JSON.stringify(s)}}`);
    }
  });

  it('behavior: literals, nesting, empty containers, null-prototype objects', () => {
    expect(canonicalize({ b: [], a: {}, c: [null, true, false, { z: 1, y: [2] }] })).toBe(
      '{"a":{},"b":[],"c":[null,true,false,{"y":[2],"z":1}]}',
    );
    const o = Object.create(null) as Record<string, unknown>;
    o.x = 1;
    expect(canonicalize(o)).toBe('{"x":1}');
    // The same object twice (not a cycle) is fine.
    const shared = { k: 1 };
    expect(canonicalize([shared, shared])).toBe('[{"k":1},{"k":1}]');
  });

  it('behavior: key order and whitespace of the source text are irrelevant', () => {
    const a = JSON.parse('{ "b" : 1,\n  "a" : { "y": [1, 2], "x": "é" } }');
    const b = JSON.parse('{"a":{"x":"\\u00e9","y":[1,2]},"b":1}');
    expect(canonicalize(a)).toBe(canonicalize(b));
    expect(canonicalize(a)).toBe('{"a":{"x":"é","y":[1,2]},"b":1}');
  });

  it('behavior: canonicalBytes is the UTF-8 of the canonical text', () => {
    expect([...canonicalBytes({ e: '€' })]).toEqual([...Buffer.from('{"e":"€"}', 'utf8')]);
  });

  it('behavior: random JSON round-trips and is idempotent under key shuffles (seeded)', () => {
    const r = rng(8785);
    const gen = (depth: number): unknown => {
      const k = r.int(depth > 3 ? 4 : 7);
      if (k === 0) return null;
      if (k === 1) return r.int(2) === 0;
      if (k === 2) return (r.next() - 0.5) * 10 ** (r.int(60) - 30);
      if (k === 3) return String.fromCharCode(...Array.from({ length: r.int(6) }, () => r.int(0x3000)));
      if (k === 4 || k === 5) return Array.from({ length: r.int(4) }, () => gen(depth + 1));
      const o: Record<string, unknown> = {};
      for (let i = r.int(5); i > 0; i--) o[String.fromCharCode(32 + r.int(0x500))] = gen(depth + 1);
      return o;
    };
    const shuffle = (v: unknown): unknown => {
      if (Array.isArray(v)) return v.map(shuffle);
      if (typeof v !== 'object' || v === null) return v;
      const keys = Object.keys(v);
      for (let i = keys.length - 1; i > 0; i--) {
        const j = r.int(i + 1);
        [keys[i], keys[j]] = [keys[j]!, keys[i]!];
      }
      return Object.fromEntries(keys.map((k) => [k, shuffle((v as Record<string, unknown>)[k])]));
    };
    for (let i = 0; i < 300; i++) {
      const v = gen(0);
      const text = canonicalize(v);
      const back = JSON.parse(text) as unknown;
      expect(back).toEqual(JSON.parse(JSON.stringify(v)));
      expect(canonicalize(back)).toBe(text);
      expect(canonicalize(shuffle(v))).toBe(text);
    }
  });

  describe('errors name the JSON path', () => {
    it('error: NaN / Infinity', () => {
      expectJcsError(() => canonicalize({ a: [1, Number.NaN] }), 'MR_ERR_JCS_NUMBER', '$.a[1]');
      expectJcsError(() => canonicalize({ 'x y': { z: -Infinity } }), 'MR_ERR_JCS_NUMBER', '$["x y"].z');
    });

    it('error: undefined, function, symbol, bigint', () => {
      expectJcsError(() => canonicalize({ a: { b: undefined } }), 'MR_ERR_JCS_TYPE', '$.a.b');
      expectJcsError(() => canonicalize([() => 1]), 'MR_ERR_JCS_TYPE', '$[0]');
      expectJcsError(() => canonicalize({ s: Symbol('x') }), 'MR_ERR_JCS_TYPE', '$.s');
      expectJcsError(() => canonicalize({ n: 1n }), 'MR_ERR_JCS_TYPE', '$.n');
      expectJcsError(() => canonicalize(undefined), 'MR_ERR_JCS_TYPE', '$');
    });

    it('error: non-plain objects (Date, Map, Uint8Array, class instance, symbol keys)', () => {
      class Rec {
        a = 1;
      }
      expectJcsError(() => canonicalize({ d: new Date(0) }), 'MR_ERR_JCS_TYPE', '$.d');
      expectJcsError(() => canonicalize({ m: new Map() }), 'MR_ERR_JCS_TYPE', '$.m');
      expectJcsError(() => canonicalize({ u: new Uint8Array(2) }), 'MR_ERR_JCS_TYPE', '$.u');
      expectJcsError(() => canonicalize([new Rec()]), 'MR_ERR_JCS_TYPE', '$[0]');
      expectJcsError(() => canonicalize({ [Symbol('k')]: 1 }), 'MR_ERR_JCS_TYPE', '$');
    });

    it('error: sparse arrays, cycles, lone surrogates, depth', () => {
      // biome-ignore lint/suspicious/noSparseArray: the hole is the point of the test
      expectJcsError(() => canonicalize({ a: [1, , 3] }), 'MR_ERR_JCS_TYPE', '$.a[1]');
      const cyc: Record<string, unknown> = { a: {} };
      (cyc.a as Record<string, unknown>).back = cyc;
      expectJcsError(() => canonicalize(cyc), 'MR_ERR_JCS_CYCLE', '$.a.back');
      expectJcsError(() => canonicalize({ s: 'x\ud800y' }), 'MR_ERR_JCS_STRING', '$.s');
      expectJcsError(() => canonicalize({ '\udc00': 1 }), 'MR_ERR_JCS_STRING', '$["\\udc00"]');
      let deep: unknown = 1;
      for (let i = 0; i < 300; i++) deep = [deep];
      expect(() => canonicalize(deep)).toThrow(expect.objectContaining({ code: 'MR_ERR_JCS_DEPTH' }));
    });
  });
});
