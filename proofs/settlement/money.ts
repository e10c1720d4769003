/**
 * Money for settlement (DESIGN §6): ISO 4217 currencies medrelay settles in, amounts as integer minor units.
 *
 *  - Currencies: HKD (344), CNY (156), MOP (446), each with minor-unit exponent 2 (ISO 4217 table A.1).
 *  - An amount is a `bigint` count of minor units (cents, fen, avos), never negative and never a float:
 *    decimal text is parsed digit by digit, and every division is an exact bigint division plus one
 *    explicit rounding step.
 *  - Rounding rule, used by every function here that can land between two minor units (`percentOf`, and the
 *    FX conversion in fx.ts): ROUND HALF TO EVEN on the minor unit (banker's rounding, IEEE 754
 *    roundTiesToEven). The exact rational result is computed first and rounded once: below half a minor unit
 *    goes down, above goes up, and exactly half goes to the even neighbour (0.5 → 0, 1.5 → 2, 2.5 → 2).
 *    Why: half-up biases a ledger upward by ~0.25 minor units per rounding on average; half-even is unbiased
 *    over many payments, which matters for reconciliation (locked = released + refunded + in flight).
 *  - `allocate` is the exception: its parts must sum to the total exactly, so it uses the largest-remainder
 *    method (each part floored, the left-over minor units go one each to the largest remainders, ties to the
 *    earlier part).
 *
 * Everything is pure and throws `ProofError` with an `MR_ERR_MONEY_*` code naming the field.
 */
import { ProofError } from '../errors.js';

/** ISO 4217 alpha code → numeric code and minor-unit exponent, for the currencies medrelay settles in. */
export const CURRENCIES = {
  HKD: { alpha: 'HKD', numeric: 344, exponent: 2, name: 'Hong Kong dollar' },
  CNY: { alpha: 'CNY', numeric: 156, exponent: 2, name: 'Yuan Renminbi' },
  MOP: { alpha: 'MOP', numeric: 446, exponent: 2, name: 'Pataca' },
} as const;

export type Currency = keyof typeof CURRENCIES;

/** An amount in integer minor units of one currency (e.g. `{ currency: 'HKD', minor: 123450n }` is HKD 1234.50). */
export interface Money {
  readonly currency: Currency;
  readonly minor: bigint;
}

/** Largest amount accepted, in minor units (fits a uint128 on chain; far above any real payment). */
export const MAX_MINOR = (1n << 128n) - 1n;

const MAX_TEXT = 64;

function fail(code: string, field: string, message: string): never {
  throw new ProofError(code, `${field}: ${message}`, { details: { field } });
}

export function isCurrency(v: unknown): v is Currency {
  return typeof v === 'string' && Object.hasOwn(CURRENCIES, v);
}

/**
 * @example currency('HKD') // → 'HKD'
 * @throws ProofError MR_ERR_MONEY_CURRENCY
 */
export function currency(v: unknown, field = 'currency'): Currency {
  if (!isCurrency(v)) {
    throw new ProofError(
      'MR_ERR_MONEY_CURRENCY',
      `${field}: unsupported currency ${JSON.stringify(String(v)).slice(0, 40)} (expected one of ${Object.keys(CURRENCIES).join(', ')})`,
      { details: { field } },
    );
  }
  return v;
}

/** ISO 4217 numeric code → alpha code. @throws ProofError MR_ERR_MONEY_CURRENCY */
export function currencyByNumeric(numeric: number): Currency {
  for (const c of Object.values(CURRENCIES)) if (c.numeric === numeric) return c.alpha;
  return fail('MR_ERR_MONEY_CURRENCY', 'currency', `unsupported ISO 4217 numeric code ${String(numeric)}`);
}

const pow10 = (e: number): bigint => 10n ** BigInt(e);

function minorUnits(v: unknown, field: string): bigint {
  let n: bigint;
  if (typeof v === 'bigint') n = v;
  else if (typeof v === 'number') {
    if (!Number.isFinite(v) || !Number.isInteger(v))
      fail('MR_ERR_MONEY_AMOUNT', field, `expected an integer number of minor units, got ${v}`);
    if (v < 0) fail('MR_ERR_MONEY_NEGATIVE', field, `amount must not be negative, got ${v}`);
    if (!Number.isSafeInteger(v))
      fail('MR_ERR_MONEY_AMOUNT', field, 'number is above 2^53 − 1 and may have lost digits; pass a bigint');
    n = BigInt(v);
  } else if (typeof v === 'string') {
    if (v.length > MAX_TEXT) fail('MR_ERR_MONEY_AMOUNT', field, `text longer than ${MAX_TEXT} characters`);
    if (/^-\d+$/.test(v) && !/^-0+$/.test(v))
      fail('MR_ERR_MONEY_NEGATIVE', field, `amount must not be negative, got ${v}`);
    if (!/^\d+$/.test(v))
      fail(
        'MR_ERR_MONEY_AMOUNT',
        field,
        'expected a decimal integer string of minor units (no sign, point or exponent)',
      );
    n = BigInt(v);
  } else return fail('MR_ERR_MONEY_AMOUNT', field, `expected bigint minor units, got ${typeof v}`);
  if (n < 0n) fail('MR_ERR_MONEY_NEGATIVE', field, `amount must not be negative, got ${n}`);
  if (n > MAX_MINOR) fail('MR_ERR_MONEY_AMOUNT', field, 'amount above MAX_MINOR (2^128 − 1)');
  return n;
}

/**
 * Builds a Money from integer minor units: a bigint, a safe-integer number, or a decimal integer string.
 *
 * @example money('HKD', 123450n) // HKD 1234.50
 * @throws ProofError MR_ERR_MONEY_CURRENCY, MR_ERR_MONEY_AMOUNT (fractional, float-like, unsafe, malformed),
 *   MR_ERR_MONEY_NEGATIVE
 */
export function money(cur: Currency | string, minor: bigint | number | string): Money {
  return Object.freeze({ currency: currency(cur), minor: minorUnits(minor, 'minor') });
}

/**
 * Checks that a value is a well-formed Money (known currency, bigint minor in range); used at API edges.
 *
 * @throws ProofError MR_ERR_MONEY_CURRENCY, MR_ERR_MONEY_AMOUNT, MR_ERR_MONEY_NEGATIVE
 */
export function assertMoney(v: unknown, field = 'money'): Money {
  if (typeof v !== 'object' || v === null) fail('MR_ERR_MONEY_AMOUNT', field, 'expected { currency, minor }');
  const m = v as { currency?: unknown; minor?: unknown };
  const cur = currency(m.currency, `${field}.currency`);
  if (typeof m.minor !== 'bigint')
    fail('MR_ERR_MONEY_AMOUNT', `${field}.minor`, `expected bigint minor units, got ${typeof m.minor}`);
  return Object.freeze({ currency: cur, minor: minorUnits(m.minor, `${field}.minor`) });
}

/**
 * Parses a decimal amount in major units ("1234.50") with at most the currency's exponent decimals.
 * Accepted: digits, optionally "." and 1..exponent digits. Refused: signs, exponents, grouping, spaces,
 * "1." / ".5", and more decimals than the currency has, even if they are zeros ("1.500" for HKD), since a
 * settlement system should not guess which digits were meant.
 *
 * @example parseAmount('1234.5', 'HKD') // { currency: 'HKD', minor: 123450n }
 * @throws ProofError MR_ERR_MONEY_PRECISION (too many decimals), MR_ERR_MONEY_NEGATIVE, MR_ERR_MONEY_AMOUNT,
 *   MR_ERR_MONEY_CURRENCY
 */
export function parseAmount(text: string, cur: Currency | string): Money {
  const c = currency(cur);
  const field = 'amount';
  if (typeof text !== 'string')
    return fail('MR_ERR_MONEY_AMOUNT', field, `expected a decimal string, got ${typeof text}`);
  if (text.length > MAX_TEXT) fail('MR_ERR_MONEY_AMOUNT', field, `text longer than ${MAX_TEXT} characters`);
  const m = /^(-?)(\d+)(?:\.(\d+))?$/.exec(text);
  if (!m)
    return fail(
      'MR_ERR_MONEY_AMOUNT',
      field,
      `expected a plain decimal like "1234.50", got ${JSON.stringify(text)}`,
    );
  const [, sign, int, frac = ''] = m;
  const exp = CURRENCIES[c].exponent;
  if (frac.length > exp)
    fail(
      'MR_ERR_MONEY_PRECISION',
      field,
      `${c} has ${exp} decimals; ${JSON.stringify(text)} has ${frac.length}`,
    );
  const minor = BigInt(int!) * pow10(exp) + (frac === '' ? 0n : BigInt(frac) * pow10(exp - frac.length));
  if (sign === '-' && minor !== 0n)
    fail('MR_ERR_MONEY_NEGATIVE', field, `amount must not be negative, got ${text}`);
  return money(c, minor);
}

/**
 * Formats in major units with exactly the currency's decimals, no grouping and no symbol; `parseAmount`
 * reads it back.
 *
 * @example formatAmount(money('HKD', 123450n)) // '1234.50'
 */
export function formatAmount(m: Money): string {
  const { currency: c, minor } = assertMoney(m);
  const exp: number = CURRENCIES[c].exponent;
  if (exp === 0) return minor.toString();
  const scale = pow10(exp);
  return `${(minor / scale).toString()}.${(minor % scale).toString().padStart(exp, '0')}`;
}

function sameCurrency(a: Money, b: Money): void {
  if (a.currency !== b.currency) {
    throw new ProofError('MR_ERR_MONEY_MISMATCH', `cannot combine ${a.currency} with ${b.currency}`, {
      details: { field: 'currency', left: a.currency, right: b.currency },
    });
  }
}

/** @throws ProofError MR_ERR_MONEY_MISMATCH, MR_ERR_MONEY_AMOUNT (sum above MAX_MINOR) */
export function add(a: Money, b: Money): Money {
  const x = assertMoney(a, 'a');
  const y = assertMoney(b, 'b');
  sameCurrency(x, y);
  return money(x.currency, x.minor + y.minor);
}

/** a − b; never negative. @throws ProofError MR_ERR_MONEY_MISMATCH, MR_ERR_MONEY_NEGATIVE */
export function sub(a: Money, b: Money): Money {
  const x = assertMoney(a, 'a');
  const y = assertMoney(b, 'b');
  sameCurrency(x, y);
  if (y.minor > x.minor) {
    throw new ProofError(
      'MR_ERR_MONEY_NEGATIVE',
      `sub: ${formatAmount(x)} − ${formatAmount(y)} ${x.currency} would be negative`,
      { details: { field: 'b' } },
    );
  }
  return money(x.currency, x.minor - y.minor);
}

/** −1, 0 or 1. @throws ProofError MR_ERR_MONEY_MISMATCH */
export function compare(a: Money, b: Money): -1 | 0 | 1 {
  const x = assertMoney(a, 'a');
  const y = assertMoney(b, 'b');
  sameCurrency(x, y);
  return x.minor < y.minor ? -1 : x.minor > y.minor ? 1 : 0;
}

/**
 * n / d rounded half to even, for n ≥ 0 and d > 0 (the module's one rounding step).
 *
 * @example divRoundHalfEven(5n, 2n) // 2n (2.5 → 2); divRoundHalfEven(7n, 2n) // 4n (3.5 → 4)
 */
export function divRoundHalfEven(n: bigint, d: bigint): bigint {
  if (d <= 0n || n < 0n) throw new RangeError('divRoundHalfEven: expected n ≥ 0 and d > 0');
  const q = n / d;
  const twice = (n % d) * 2n;
  if (twice > d) return q + 1n;
  if (twice < d) return q;
  return q % 2n === 0n ? q : q + 1n;
}

function nonNegativeInt(v: unknown, field: string): bigint {
  if (typeof v === 'bigint' && v >= 0n) return v;
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return BigInt(v);
  return fail('MR_ERR_MONEY_RATIO', field, 'expected a non-negative integer (bigint or safe integer number)');
}

/**
 * `basisPoints`/10 000 of an amount (100 bp = 1 %), rounded half to even on the minor unit.
 * More than 10 000 bp (above 100 %) is allowed, e.g. for a surcharge.
 *
 * @example percentOf(money('HKD', 10_050n), 500) // HKD 5.02 (502.5 minor → 502, the even neighbour)
 * @throws ProofError MR_ERR_MONEY_RATIO
 */
export function percentOf(m: Money, basisPoints: bigint | number): Money {
  const x = assertMoney(m);
  const bp = nonNegativeInt(basisPoints, 'basisPoints');
  return money(x.currency, divRoundHalfEven(x.minor * bp, 10_000n));
}

/**
 * Splits an amount in proportion to integer `ratios` so that the parts sum to it exactly (largest remainder:
 * floor every part, then give one minor unit each to the parts with the largest remainders; ties go to the
 * earlier part). A zero ratio gets zero.
 *
 * @example allocate(money('HKD', 100n), [1, 1, 1]) // 34, 33, 33 minor units
 * @throws ProofError MR_ERR_MONEY_RATIO (empty, negative or non-integer ratios, or all zero)
 */
export function allocate(m: Money, ratios: readonly (bigint | number)[]): Money[] {
  const x = assertMoney(m);
  if (!Array.isArray(ratios) || ratios.length === 0)
    fail('MR_ERR_MONEY_RATIO', 'ratios', 'expected at least one ratio');
  const rs = ratios.map((r, i) => nonNegativeInt(r, `ratios[${i}]`));
  const total = rs.reduce((s, r) => s + r, 0n);
  if (total === 0n) fail('MR_ERR_MONEY_RATIO', 'ratios', 'ratios must not all be zero');
  const parts = rs.map((r) => (x.minor * r) / total);
  const rems = rs.map((r, i) => ({ i, rem: (x.minor * r) % total }));
  let left = x.minor - parts.reduce((s, p) => s + p, 0n);
  rems.sort((a, b) => (a.rem === b.rem ? a.i - b.i : a.rem > b.rem ? -1 : 1));
  for (const { i } of rems) {
    if (left === 0n) break;
    parts[i] = parts[i]! + 1n;
    left -= 1n;
  }
  return parts.map((p) => money(x.currency, p));
}
