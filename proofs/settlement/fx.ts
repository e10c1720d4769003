/**
 * Signed FX quotes (DESIGN §6, "FX"):
 *  - a quote `{ quoteId, base, quote, rate, validUntil, provider }` says 1 unit of `base` = `rate` units of
 *    `quote` (CNY/HKD "1.0873": CNY 1.00 buys HKD 1.0873). The rate is a decimal string (≤ 8 decimals, > 0),
 *    read as an exact rational; no floating point anywhere;
 *  - `convert`: an amount in `base` × rate = the amount in `quote`; an amount in `quote` ÷ rate = the amount in
 *    `base`. Either way the exact rational result is rounded once, half to even on the target's minor unit
 *    (money.ts);
 *  - the provider signs the EIP-712 typed-data hash of
 *    `FxQuote(bytes32 quoteId,bytes32 pair,string rate,uint64 validUntil,address provider)` with
 *    pair = keccak256("CNY/HKD") (UTF-8), under the domain `{ name: "medrelay-fx", version: "1", chainId }`;
 *    secp256k1 (SEC 1), low-s (EIP-2), 65 bytes r‖s‖v with v ∈ {27, 28} — as record anchors (records/anchor.ts);
 *  - `verifyQuote` authenticates first (trusted provider), then checks freshness (`now < validUntil`) and
 *    replay (`quoteId` not used). It is pure: the caller records the quote id once it has settled.
 *
 * The EIP-712 domain, digest and signature rules are shared with record anchors (proofs/eip712.ts); the tests
 * cross-check them against ethers.
 */
import { bigintToBytes, concatBytes, type Hex, hexToBytes, padLeft } from '../bytes.js';
import {
  checksumAddress,
  domainSeparator,
  recoverSigner,
  secretKeyAddress,
  signDigest,
  typedDataDigest,
} from '../eip712.js';
import { ProofError } from '../errors.js';
import { keccak256 } from '../keccak.js';
import { assertMoney, CURRENCIES, type Currency, divRoundHalfEven, type Money, money } from './money.js';

/** Currency pairs medrelay accepts quotes for, as `BASE/QUOTE`. */
export const FX_PAIRS = ['CNY/HKD'] as const;
export type FxPair = (typeof FX_PAIRS)[number];

export interface FxQuote {
  /** Unique quote id, bytes32 hex. */
  quoteId: Hex;
  base: 'CNY';
  quote: 'HKD';
  /** Units of `quote` per unit of `base`, decimal text: "1.0873" (≤ 8 decimals, > 0, no sign or exponent). */
  rate: string;
  /** Unix seconds (uint64); the quote is void from this second on. */
  validUntil: bigint | number;
  /** The provider's address; the quote must be signed by this key. */
  provider: Hex;
}

/** An exact rate: `numerator / denominator`, in lowest terms, both positive. */
export interface Rational {
  numerator: bigint;
  denominator: bigint;
}

export const FX_QUOTE_TYPE =
  'FxQuote(bytes32 quoteId,bytes32 pair,string rate,uint64 validUntil,address provider)';
export const FX_DOMAIN = { name: 'medrelay-fx', version: '1' } as const;
export const RATE_MAX_DECIMALS = 8;

const UTF8 = new TextEncoder();
const FX_TYPEHASH = keccak256(UTF8.encode(FX_QUOTE_TYPE));
const UINT64_MAX = (1n << 64n) - 1n;
const UINT256_MAX = (1n << 256n) - 1n;
// ≤ 12 integer digits: no real rate is near it, and it bounds the work on hostile input.
const RATE_RE = /^(0|[1-9]\d{0,11})(?:\.(\d{1,8}))?$/;

function fail(code: string, field: string, message: string, details: Record<string, string> = {}): never {
  throw new ProofError(code, `fx quote ${field}: ${message}`, { details: { field, ...details } });
}

const word = (n: bigint): Uint8Array => padLeft(bigintToBytes(n), 32);

function uint(v: unknown, max: bigint, field: string): bigint {
  let n: bigint;
  if (typeof v === 'bigint') n = v;
  else if (typeof v === 'number' && Number.isSafeInteger(v)) n = BigInt(v);
  else return fail('MR_ERR_FX_QUOTE', field, 'expected an integer (bigint or safe integer number)');
  if (n < 0n || n > max) fail('MR_ERR_FX_QUOTE', field, `out of range 0..${max}`);
  return n;
}

function bytes32(v: unknown, field: string): Uint8Array {
  if (typeof v !== 'string' || !/^0x[0-9a-fA-F]{64}$/.test(v))
    fail('MR_ERR_FX_QUOTE', field, 'expected 0x + 64 hex digits (bytes32)');
  return hexToBytes(v, field);
}

/** Parses an address; a mixed-case one must carry a correct EIP-55 checksum. Returns the checksummed form. */
function address(v: unknown, field: string): Hex {
  if (typeof v !== 'string' || !/^0x[0-9a-fA-F]{40}$/.test(v))
    fail('MR_ERR_FX_QUOTE', field, 'expected 0x + 40 hex digits (address)');
  const sum = checksumAddress(v);
  const body = v.slice(2);
  if (body !== body.toLowerCase() && body !== body.toUpperCase() && sum !== v)
    fail('MR_ERR_FX_QUOTE', field, `bad EIP-55 checksum in ${v}`);
  return sum;
}

/**
 * The pair of a quote, checked against {@link FX_PAIRS}.
 * @throws ProofError MR_ERR_FX_PAIR
 */
export function quotePair(q: Pick<FxQuote, 'base' | 'quote'>): FxPair {
  const pair = `${String(q.base)}/${String(q.quote)}`;
  if (!(FX_PAIRS as readonly string[]).includes(pair))
    fail(
      'MR_ERR_FX_PAIR',
      'pair',
      `unsupported pair ${pair.slice(0, 24)} (supported: ${FX_PAIRS.join(', ')})`,
    );
  return pair as FxPair;
}

/** keccak256 of the UTF-8 pair name, e.g. keccak256("CNY/HKD"): the `pair` member of the signed struct. */
export function pairHash(pair: FxPair): Uint8Array {
  return keccak256(UTF8.encode(pair));
}

/**
 * Reads a decimal rate exactly.
 *
 * @example parseRate('1.0873') // { numerator: 10873n, denominator: 10000n }
 * @throws ProofError MR_ERR_FX_RATE (not a plain decimal, > 8 decimals, or zero)
 */
export function parseRate(rate: string): Rational {
  if (typeof rate !== 'string')
    return fail('MR_ERR_FX_RATE', 'rate', `expected a decimal string, got ${typeof rate}`);
  const m = RATE_RE.exec(rate);
  if (!m)
    fail(
      'MR_ERR_FX_RATE',
      'rate',
      `expected a positive decimal with ≤ ${RATE_MAX_DECIMALS} decimals like "1.0873", got ${JSON.stringify(rate.slice(0, 32))}`,
    );
  const frac = m[2] ?? '';
  let num = BigInt(m[1]! + frac);
  let den = 10n ** BigInt(frac.length);
  if (num === 0n) fail('MR_ERR_FX_RATE', 'rate', 'rate must be greater than zero');
  let a = num;
  let b = den;
  while (b !== 0n) [a, b] = [b, a % b];
  num /= a;
  den /= a;
  return { numerator: num, denominator: den };
}

/**
 * Converts through a quote, rounding half to even once on the target currency's minor unit:
 * money in `base` → `quote` multiplies by the rate; money in `quote` → `base` divides by it.
 * Does not check the signature or expiry: call {@link verifyQuote} first.
 *
 * @example convert(money('CNY', 10_000n), { …, rate: '1.0873' }) // HKD 108.73
 * @throws ProofError MR_ERR_FX_PAIR (money is in neither currency of the pair), MR_ERR_FX_RATE, MR_ERR_MONEY_*
 */
export function convert(amount: Money, q: FxQuote): Money {
  const m = assertMoney(amount, 'amount');
  quotePair(q);
  const { numerator, denominator } = parseRate(q.rate);
  const from = m.currency;
  let to: Currency;
  let num: bigint;
  let den: bigint;
  if (from === q.base) {
    to = q.quote;
    [num, den] = [numerator, denominator];
  } else if (from === q.quote) {
    to = q.base;
    [num, den] = [denominator, numerator];
  } else {
    return fail('MR_ERR_FX_PAIR', 'pair', `cannot convert ${from} with a ${q.base}/${q.quote} quote`);
  }
  // minor_to = minor_from / 10^e_from × rate × 10^e_to, as one fraction.
  const eFrom = 10n ** BigInt(CURRENCIES[from].exponent);
  const eTo = 10n ** BigInt(CURRENCIES[to].exponent);
  return money(to, divRoundHalfEven(m.minor * num * eTo, den * eFrom));
}

/** EIP-712 domain separator of `{ name: "medrelay-fx", version: "1", chainId }`. */
export function fxDomainSeparator(chainId: bigint | number): Uint8Array {
  const id = uint(chainId, UINT256_MAX, 'chainId');
  if (id === 0n) fail('MR_ERR_FX_QUOTE', 'chainId', 'must be positive');
  return domainSeparator(FX_DOMAIN.name, FX_DOMAIN.version, id);
}

/** EIP-712 `hashStruct(FxQuote)`; `rate` is a dynamic `string`, so it enters as keccak256 of its UTF-8 bytes. */
export function fxQuoteStructHash(q: FxQuote): Uint8Array {
  if (typeof q !== 'object' || q === null) fail('MR_ERR_FX_QUOTE', '(root)', 'expected an object');
  const id = bytes32(q.quoteId, 'quoteId');
  const pair = quotePair(q);
  parseRate(q.rate);
  const until = uint(q.validUntil, UINT64_MAX, 'validUntil');
  const provider = hexToBytes(address(q.provider, 'provider').toLowerCase(), 'provider');
  return keccak256(
    concatBytes(
      FX_TYPEHASH,
      id,
      pairHash(pair),
      keccak256(UTF8.encode(q.rate)),
      word(until),
      padLeft(provider, 32),
    ),
  );
}

/**
 * keccak256(0x1901 ‖ domainSeparator ‖ hashStruct(quote)) — what the provider signs.
 *
 * @example fxQuoteDigest(q, 1337) // equals ethers TypedDataEncoder.hash({ name: 'medrelay-fx', version: '1', chainId: 1337 }, …)
 * @throws ProofError MR_ERR_FX_QUOTE, MR_ERR_FX_PAIR, MR_ERR_FX_RATE
 */
export function fxQuoteDigest(q: FxQuote, chainId: bigint | number): Uint8Array {
  return typedDataDigest(fxDomainSeparator(chainId), fxQuoteStructHash(q));
}

/**
 * Signs a quote as its provider; refuses a key that is not the provider's (that signature could never verify).
 *
 * @returns 65 bytes r‖s‖v (v ∈ {27, 28}), low s, as hex.
 * @throws ProofError MR_ERR_FX_KEY, MR_ERR_FX_QUOTE, MR_ERR_FX_PAIR, MR_ERR_FX_RATE
 */
export function signQuote(q: FxQuote, chainId: bigint | number, privateKey: Uint8Array | Hex): Hex {
  const secret = secretKeyAddress(privateKey);
  if (!secret) return fail('MR_ERR_FX_KEY', 'privateKey', 'must be a valid 32-byte secp256k1 secret key');
  const digest = fxQuoteDigest(q, chainId);
  const signer = secret.address;
  const provider = address(q.provider, 'provider');
  if (signer !== provider)
    fail('MR_ERR_FX_KEY', 'privateKey', `key belongs to ${signer}, not to provider ${provider}`, {
      signer,
      provider,
    });
  return signDigest(digest, secret.key);
}

export interface VerifyQuoteOptions {
  /** Addresses whose quotes are accepted (any case). */
  trustedProviders: Iterable<string>;
  /** Current time, unix seconds. */
  now: bigint | number;
  /** Quote ids already settled (compared lowercase); a quote is single-use. */
  usedQuoteIds?: { has(quoteId: string): boolean };
}

export interface VerifiedQuote {
  /** Lowercase quote id: the key to record in `usedQuoteIds` once settled. */
  quoteId: Hex;
  pair: FxPair;
  rate: Rational;
  /** EIP-55 address of the provider that signed. */
  signer: Hex;
  validUntil: bigint;
}

/**
 * Verifies a signed quote for use at time `now`.
 * Order: fields (MR_ERR_FX_QUOTE / _PAIR / _RATE) → signature (MR_ERR_FX_SIGNATURE malformed; MR_ERR_FX_SIGNER
 * signed by someone other than the named provider, or the provider is not trusted) → MR_ERR_FX_EXPIRED
 * (now ≥ validUntil) → MR_ERR_FX_REPLAY (id already used).
 *
 * @example verifyQuote(q, sig, 1337, { trustedProviders: [provider], now: 1_741_944_600, usedQuoteIds: settled })
 */
export function verifyQuote(
  q: FxQuote,
  signature: Hex | Uint8Array,
  chainId: bigint | number,
  options: VerifyQuoteOptions,
): VerifiedQuote {
  const digest = fxQuoteDigest(q, chainId);
  const provider = address(q.provider, 'provider');
  const rate = parseRate(q.rate);
  const pair = quotePair(q);
  const validUntil = uint(q.validUntil, UINT64_MAX, 'validUntil');
  const now = uint(options.now, UINT64_MAX, 'now');

  const signer = recoverSigner(digest, signature, (reason) =>
    fail('MR_ERR_FX_SIGNATURE', 'signature', reason),
  );
  if (signer !== provider)
    fail('MR_ERR_FX_SIGNER', 'signature', `signed by ${signer}, not by the quote's provider ${provider}`, {
      signer,
      provider,
    });
  const trusted = new Set<string>();
  for (const t of options.trustedProviders) if (typeof t === 'string') trusted.add(t.toLowerCase());
  if (!trusted.has(signer.toLowerCase()))
    fail('MR_ERR_FX_SIGNER', 'provider', `${signer} is not a trusted FX provider`, { signer });

  if (now >= validUntil)
    fail('MR_ERR_FX_EXPIRED', 'validUntil', `quote expired at ${validUntil} (now ${now})`, {
      validUntil: validUntil.toString(),
      now: now.toString(),
    });
  const quoteId = (q.quoteId as string).toLowerCase() as Hex;
  if (options.usedQuoteIds?.has(quoteId))
    fail('MR_ERR_FX_REPLAY', 'quoteId', `quote ${quoteId} was already used`, { quoteId });
  return { quoteId, pair, rate, signer, validUntil };
}
