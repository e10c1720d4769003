/**
 * Settlement money: integer minor units, strict parsing, half-even rounding, exact allocation; and a source
 * scan that no settlement module uses floating-point arithmetic.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ProofError } from '../../proofs/errors.js';
import {
  add,
  allocate,
  assertMoney,
  CURRENCIES,
  compare,
  currencyByNumeric,
  divRoundHalfEven,
  formatAmount,
  MAX_MINOR,
  type Money,
  money,
  parseAmount,
  percentOf,
  sub,
} from '../../proofs/settlement/money.js';
import { rng } from '../helpers/random.js';

function expectError(fn: () => unknown, code: string, field?: string): ProofError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ProofError);
    expect((err as ProofError).code).toBe(code);
    if (field) expect((err as ProofError).details.field).toBe(field);
    return err as ProofError;
  }
  throw new Error(`expected ${code}`);
}

const r = rng(4217);
const randBig = (digits: number): bigint => {
  let s = '';
  for (let i = 0; i < digits; i++) s += String(r.int(10));
  return BigInt(s);
};

describe('CURRENCIES', () => {
  it('default: ISO 4217 numeric codes and two minor-unit decimals', () => {
    expect(CURRENCIES.HKD).toMatchObject({ numeric: 344, exponent: 2 });
    expect(CURRENCIES.CNY).toMatchObject({ numeric: 156, exponent: 2 });
    expect(CURRENCIES.MOP).toMatchObject({ numeric: 446, exponent: 2 });
    expect(Object.keys(CURRENCIES).sort()).toEqual(['CNY', 'HKD', 'MOP']);
    expect(currencyByNumeric(344)).toBe('HKD');
    expect(currencyByNumeric(446)).toBe('MOP');
    expectError(() => currencyByNumeric(840), 'MR_ERR_MONEY_CURRENCY');
  });
});

describe('money', () => {
  it('default: bigint, safe-integer numbers and decimal-integer strings', () => {
    expect(money('HKD', 123450n)).toEqual({ currency: 'HKD', minor: 123450n });
    expect(money('CNY', 42)).toEqual({ currency: 'CNY', minor: 42n });
    expect(money('MOP', '0')).toEqual({ currency: 'MOP', minor: 0n });
    expect(money('MOP', '900719925474099312345').minor).toBe(900719925474099312345n);
    expect(Object.isFrozen(money('HKD', 1n))).toBe(true);
  });

  it('error: unsupported currency', () => {
    for (const c of ['USD', 'hkd', 'RMB', '', 'HKD ', '__proto__', 'toString'])
      expectError(() => money(c, 1n), 'MR_ERR_MONEY_CURRENCY', 'currency');
    expectError(() => money(undefined as unknown as string, 1n), 'MR_ERR_MONEY_CURRENCY');
  });

  it('error: negative amounts', () => {
    expectError(() => money('HKD', -1n), 'MR_ERR_MONEY_NEGATIVE', 'minor');
    expectError(() => money('HKD', -5), 'MR_ERR_MONEY_NEGATIVE', 'minor');
    expectError(() => money('HKD', '-12'), 'MR_ERR_MONEY_NEGATIVE', 'minor');
  });

  it('error: fractional, float-looking, unsafe or malformed minor units', () => {
    for (const bad of [1.5, 0.1, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53, 1e21])
      expectError(() => money('HKD', bad), 'MR_ERR_MONEY_AMOUNT', 'minor');
    for (const bad of ['1.5', '1.00', '1e3', '0x10', ' 1', '1 ', '', '+1', '1_000', '١٢'])
      expectError(() => money('HKD', bad), 'MR_ERR_MONEY_AMOUNT', 'minor');
    for (const bad of [null, undefined, {}, [], true])
      expectError(() => money('HKD', bad as unknown as bigint), 'MR_ERR_MONEY_AMOUNT', 'minor');
    expectError(() => money('HKD', MAX_MINOR + 1n), 'MR_ERR_MONEY_AMOUNT');
    expectError(() => money('HKD', '9'.repeat(65)), 'MR_ERR_MONEY_AMOUNT');
    expect(money('HKD', MAX_MINOR).minor).toBe(MAX_MINOR);
  });

  it('error: assertMoney refuses non-bigint minor and unknown currency', () => {
    expectError(() => assertMoney({ currency: 'HKD', minor: 100 }), 'MR_ERR_MONEY_AMOUNT', 'money.minor');
    expectError(() => assertMoney({ currency: 'HKD', minor: '100' }), 'MR_ERR_MONEY_AMOUNT', 'money.minor');
    expectError(() => assertMoney({ currency: 'USD', minor: 1n }), 'MR_ERR_MONEY_CURRENCY', 'money.currency');
    expectError(() => assertMoney({ currency: 'HKD', minor: -1n }), 'MR_ERR_MONEY_NEGATIVE');
    expectError(() => assertMoney(null), 'MR_ERR_MONEY_AMOUNT');
  });
});

describe('parseAmount / formatAmount', () => {
  it('default: decimal strings to minor units, no floats', () => {
    expect(parseAmount('1234.50', 'HKD')).toEqual({ currency: 'HKD', minor: 123450n });
    expect(parseAmount('1234.5', 'HKD').minor).toBe(123450n);
    expect(parseAmount('1234', 'CNY').minor).toBe(123400n);
    expect(parseAmount('0.01', 'MOP').minor).toBe(1n);
    expect(parseAmount('0', 'MOP').minor).toBe(0n);
    expect(parseAmount('-0.00', 'HKD').minor).toBe(0n);
    // 0.1 + 0.2 style values stay exact.
    expect(parseAmount('0.29', 'HKD').minor).toBe(29n);
    expect(parseAmount('1.15', 'HKD').minor).toBe(115n);
    expect(parseAmount('90071992547409.93', 'HKD').minor).toBe(9007199254740993n);
  });

  it('default: formatAmount pads the decimals and round-trips', () => {
    expect(formatAmount(money('HKD', 123450n))).toBe('1234.50');
    expect(formatAmount(money('HKD', 5n))).toBe('0.05');
    expect(formatAmount(money('HKD', 0n))).toBe('0.00');
    expect(formatAmount(money('CNY', 100n))).toBe('1.00');
    for (let i = 0; i < 300; i++) {
      const m = money((['HKD', 'CNY', 'MOP'] as const)[i % 3]!, randBig(1 + r.int(25)));
      expect(parseAmount(formatAmount(m), m.currency)).toEqual(m);
    }
  });

  it('error: more decimals than the currency has → MR_ERR_MONEY_PRECISION', () => {
    for (const bad of ['1.005', '0.001', '1234.567', '1.500', '0.000'])
      expectError(() => parseAmount(bad, 'HKD'), 'MR_ERR_MONEY_PRECISION', 'amount');
  });

  it('error: negative, malformed and unsupported-currency input', () => {
    expectError(() => parseAmount('-1.00', 'HKD'), 'MR_ERR_MONEY_NEGATIVE', 'amount');
    for (const bad of [
      '',
      '1.',
      '.5',
      '1e2',
      '1,000.00',
      ' 1.00',
      '1.00 ',
      '+1',
      'NaN',
      'Infinity',
      '0x1',
      '1.2.3',
    ])
      expectError(() => parseAmount(bad, 'HKD'), 'MR_ERR_MONEY_AMOUNT', 'amount');
    expectError(() => parseAmount(1.5 as unknown as string, 'HKD'), 'MR_ERR_MONEY_AMOUNT');
    expectError(() => parseAmount('1.00', 'USD'), 'MR_ERR_MONEY_CURRENCY');
  });
});

describe('add / sub / compare', () => {
  it('default: same-currency arithmetic', () => {
    expect(add(money('HKD', 150n), money('HKD', 275n))).toEqual(money('HKD', 425n));
    expect(sub(money('HKD', 425n), money('HKD', 275n))).toEqual(money('HKD', 150n));
    expect(sub(money('HKD', 5n), money('HKD', 5n)).minor).toBe(0n);
    expect(compare(money('CNY', 1n), money('CNY', 2n))).toBe(-1);
    expect(compare(money('CNY', 2n), money('CNY', 2n))).toBe(0);
  });

  it('error: sub never goes negative', () => {
    expectError(() => sub(money('HKD', 1n), money('HKD', 2n)), 'MR_ERR_MONEY_NEGATIVE', 'b');
  });

  it('error: mixed currencies', () => {
    expectError(() => add(money('HKD', 1n), money('CNY', 1n)), 'MR_ERR_MONEY_MISMATCH');
    expectError(() => sub(money('MOP', 5n), money('HKD', 1n)), 'MR_ERR_MONEY_MISMATCH');
    expectError(() => compare(money('MOP', 5n), money('CNY', 1n)), 'MR_ERR_MONEY_MISMATCH');
  });

  it('error: operands must be Money (bigint minor)', () => {
    expectError(
      () => add(money('HKD', 1n), { currency: 'HKD', minor: 0.5 } as unknown as Money),
      'MR_ERR_MONEY_AMOUNT',
      'b.minor',
    );
  });
});

describe('rounding: half to even on the minor unit', () => {
  it('default: divRoundHalfEven on exact halves goes to the even neighbour, both ways', () => {
    // x.5 → even: down when the floor is even, up when it is odd.
    expect(divRoundHalfEven(5n, 10n)).toBe(0n); // 0.5 → 0
    expect(divRoundHalfEven(15n, 10n)).toBe(2n); // 1.5 → 2
    expect(divRoundHalfEven(25n, 10n)).toBe(2n); // 2.5 → 2
    expect(divRoundHalfEven(35n, 10n)).toBe(4n); // 3.5 → 4
    expect(divRoundHalfEven(45n, 10n)).toBe(4n); // 4.5 → 4
    // not halves: nearest.
    expect(divRoundHalfEven(24n, 10n)).toBe(2n);
    expect(divRoundHalfEven(26n, 10n)).toBe(3n);
    expect(divRoundHalfEven(2500001n, 1000000n)).toBe(3n);
    expect(divRoundHalfEven(2499999n, 1000000n)).toBe(2n);
    expect(divRoundHalfEven(0n, 7n)).toBe(0n);
    expect(() => divRoundHalfEven(1n, 0n)).toThrow(RangeError);
  });

  it('default: percentOf rounds half to even (…5 down to even, …5 up to even)', () => {
    // 10 050 × 5 % = 502.5 → 502 (even, rounds down)
    expect(percentOf(money('HKD', 10_050n), 500).minor).toBe(502n);
    // 10 070 × 5 % = 503.5 → 504 (even, rounds up)
    expect(percentOf(money('HKD', 10_070n), 500).minor).toBe(504n);
    // 1 × 50 % = 0.5 → 0; 3 × 50 % = 1.5 → 2
    expect(percentOf(money('CNY', 1n), 5_000).minor).toBe(0n);
    expect(percentOf(money('CNY', 3n), 5_000n).minor).toBe(2n);
    // not a half: 10 × 15 % = 1.5 → 2; 11 × 15 % = 1.65 → 2; 9 × 15 % = 1.35 → 1
    expect(percentOf(money('MOP', 10n), 1_500).minor).toBe(2n);
    expect(percentOf(money('MOP', 11n), 1_500).minor).toBe(2n);
    expect(percentOf(money('MOP', 9n), 1_500).minor).toBe(1n);
    expect(percentOf(money('HKD', 12_345n), 10_000)).toEqual(money('HKD', 12_345n));
    expect(percentOf(money('HKD', 100n), 15_000).minor).toBe(150n);
  });

  it('behavior: percentOf matches an independent nearest-even search on random inputs', () => {
    for (let i = 0; i < 2000; i++) {
      const minor = randBig(1 + r.int(20));
      const bp = BigInt(r.int(30_000));
      const got = percentOf(money('HKD', minor), bp).minor;
      // candidates k and k+1 around the exact value; pick the closer, ties to even.
      const n = minor * bp;
      const k = n / 10_000n;
      const dLow = n - k * 10_000n;
      const dHigh = (k + 1n) * 10_000n - n;
      const want = dLow < dHigh ? k : dHigh < dLow ? k + 1n : k % 2n === 0n ? k : k + 1n;
      expect(got).toBe(want);
    }
  });

  it('error: bad basis points', () => {
    for (const bad of [-1, 1.5, Number.NaN, '5', -1n])
      expectError(
        () => percentOf(money('HKD', 1n), bad as unknown as number),
        'MR_ERR_MONEY_RATIO',
        'basisPoints',
      );
  });
});

describe('allocate: largest remainder, parts sum exactly', () => {
  it('default: splits and keeps the total', () => {
    const parts = allocate(money('HKD', 100n), [1, 1, 1]);
    expect(parts.map((p) => p.minor)).toEqual([34n, 33n, 33n]);
    expect(allocate(money('HKD', 5n), [1, 1]).map((p) => p.minor)).toEqual([3n, 2n]);
    expect(allocate(money('HKD', 1000n), [70, 30]).map((p) => p.minor)).toEqual([700n, 300n]);
    expect(allocate(money('CNY', 10n), [0, 3, 0, 7n]).map((p) => p.minor)).toEqual([0n, 3n, 0n, 7n]);
    // remainders 0.6 vs 0.4: the larger gets the unit, not the first
    expect(allocate(money('MOP', 1n), [2, 3]).map((p) => p.minor)).toEqual([0n, 1n]);
    expect(allocate(money('MOP', 0n), [1, 2]).map((p) => p.minor)).toEqual([0n, 0n]);
  });

  it('behavior: random splits sum to the total and each part is within one unit of its share', () => {
    for (let i = 0; i < 500; i++) {
      const total = randBig(1 + r.int(15));
      const ratios = Array.from({ length: 1 + r.int(6) }, () => BigInt(r.int(1000)));
      if (ratios.reduce((a, b) => a + b, 0n) === 0n) ratios[0] = 1n;
      const sumR = ratios.reduce((a, b) => a + b, 0n);
      const parts = allocate(money('HKD', total), ratios);
      expect(parts.reduce((a, p) => a + p.minor, 0n)).toBe(total);
      parts.forEach((p, j) => {
        const floor = (total * ratios[j]!) / sumR;
        expect(p.minor === floor || p.minor === floor + 1n).toBe(true);
        expect(p.currency).toBe('HKD');
      });
    }
  });

  it('error: bad ratios', () => {
    expectError(() => allocate(money('HKD', 1n), []), 'MR_ERR_MONEY_RATIO', 'ratios');
    expectError(() => allocate(money('HKD', 1n), [0, 0]), 'MR_ERR_MONEY_RATIO', 'ratios');
    expectError(() => allocate(money('HKD', 1n), [1, -1]), 'MR_ERR_MONEY_RATIO', 'ratios[1]');
    expectError(() => allocate(money('HKD', 1n), [0.5]), 'MR_ERR_MONEY_RATIO', 'ratios[0]');
  });
});

describe('no floating point in proofs/settlement', () => {
  it('behavior: the settlement modules use no float parsing, rounding or scaling', () => {
    const dir = new URL('../../proofs/settlement/', import.meta.url).pathname;
    const files = ['money.ts', 'fx.ts', 'iso20022.ts', 'index.ts'];
    expect(readdirSync(dir)).toEqual(expect.arrayContaining(files));
    const FORBIDDEN = /parseFloat|toFixed|toPrecision|Math\.(round|floor|ceil|trunc)|\*\s*100\b|Number\(/;
    for (const f of files) {
      const src = readFileSync(join(dir, f), 'utf8');
      src.split('\n').forEach((line, i) => {
        expect(FORBIDDEN.test(line), `${f}:${i + 1}: ${line.trim()}`).toBe(false);
      });
    }
  });
});
