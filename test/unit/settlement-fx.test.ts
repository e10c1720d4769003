/**
 * Signed FX quotes. The EIP-712 digest and signatures are cross-checked against ethers v6 (TypedDataEncoder,
 * Wallet.signTypedData); conversions against an independent bigint computation.
 */
import {
  keccak256 as ethersKeccak,
  type TypedDataDomain,
  TypedDataEncoder,
  toUtf8Bytes,
  Wallet,
} from 'ethers';
import { describe, expect, it } from 'vitest';
import { bytesToHex, type Hex } from '../../proofs/bytes.js';
import { ProofError } from '../../proofs/errors.js';
import {
  convert,
  type FxQuote,
  fxQuoteDigest,
  pairHash,
  parseRate,
  signQuote,
  verifyQuote,
} from '../../proofs/settlement/fx.js';
import { money } from '../../proofs/settlement/money.js';
import { rng } from '../helpers/random.js';

const TYPES = {
  FxQuote: [
    { name: 'quoteId', type: 'bytes32' },
    { name: 'pair', type: 'bytes32' },
    { name: 'rate', type: 'string' },
    { name: 'validUntil', type: 'uint64' },
    { name: 'provider', type: 'address' },
  ],
};
const domain = (chainId: bigint | number): TypedDataDomain => ({
  name: 'medrelay-fx',
  version: '1',
  chainId,
});
const PAIR = ethersKeccak(toUtf8Bytes('CNY/HKD'));

const r = rng(8701);
const hex32 = (): Hex => bytesToHex(r.bytes(32));
const KEY = '0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318';
const OTHER_KEY = '0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d';
const wallet = new Wallet(KEY);
const other = new Wallet(OTHER_KEY);
const NOW = 1_741_944_600;

function quote(over: Partial<FxQuote> = {}): FxQuote {
  return {
    quoteId: hex32(),
    base: 'CNY',
    quote: 'HKD',
    rate: '1.0873',
    validUntil: NOW + 300,
    provider: wallet.address as Hex,
    ...over,
  };
}
const ethersValue = (q: FxQuote) => ({
  quoteId: q.quoteId,
  pair: PAIR,
  rate: q.rate,
  validUntil: BigInt(q.validUntil),
  provider: q.provider,
});
const opts = (over: Partial<Parameters<typeof verifyQuote>[3]> = {}) => ({
  trustedProviders: [wallet.address],
  now: NOW,
  ...over,
});

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

describe('parseRate', () => {
  it('default: exact rationals in lowest terms', () => {
    expect(parseRate('1.0873')).toEqual({ numerator: 10873n, denominator: 10000n });
    expect(parseRate('1.5')).toEqual({ numerator: 3n, denominator: 2n });
    expect(parseRate('1.50')).toEqual({ numerator: 3n, denominator: 2n });
    expect(parseRate('2')).toEqual({ numerator: 2n, denominator: 1n });
    expect(parseRate('0.00000001')).toEqual({ numerator: 1n, denominator: 100000000n });
    expect(parseRate('0.91966523')).toEqual({ numerator: 91966523n, denominator: 100000000n });
  });

  it('error: malformed rates → MR_ERR_FX_RATE', () => {
    for (const bad of [
      '',
      '0',
      '0.0',
      '0.00000000',
      '-1.08',
      '+1.08',
      '1.087300001',
      '1e0',
      '1.',
      '.5',
      '01.5',
      '1,0873',
      ' 1.08',
      'NaN',
      'Infinity',
      '1234567890123.5',
    ])
      expectError(() => parseRate(bad), 'MR_ERR_FX_RATE', 'rate');
    expectError(() => parseRate(1.0873 as unknown as string), 'MR_ERR_FX_RATE');
  });
});

describe('convert', () => {
  it('default: base × rate = quote; quote ÷ rate = base', () => {
    const q = quote();
    expect(convert(money('CNY', 10_000n), q)).toEqual(money('HKD', 10_873n)); // CNY 100.00 → HKD 108.73
    expect(convert(money('HKD', 10_873n), q)).toEqual(money('CNY', 10_000n));
    // CNY 0.01 × 1.0873 = HKD 0.010873 → 0.01
    expect(convert(money('CNY', 1n), q)).toEqual(money('HKD', 1n));
    expect(convert(money('CNY', 0n), q)).toEqual(money('HKD', 0n));
  });

  it('default: exact halves round to even in both directions', () => {
    const half = quote({ rate: '1.5' });
    expect(convert(money('CNY', 1n), half).minor).toBe(2n); // 1.5 → 2
    expect(convert(money('CNY', 3n), half).minor).toBe(4n); // 4.5 → 4
    expect(convert(money('CNY', 5n), half).minor).toBe(8n); // 7.5 → 8
    const two = quote({ rate: '2' });
    expect(convert(money('HKD', 1n), two).minor).toBe(0n); // 0.5 → 0
    expect(convert(money('HKD', 3n), two).minor).toBe(2n); // 1.5 → 2
    expect(convert(money('HKD', 5n), two).minor).toBe(2n); // 2.5 → 2
    expect(convert(money('HKD', 7n), two).minor).toBe(4n); // 3.5 → 4
  });

  it('behavior: exact for many random amounts and rates, against an independent computation', () => {
    for (let i = 0; i < 3000; i++) {
      const intPart = String(r.int(3));
      const decimals = r.int(9);
      let frac = '';
      for (let d = 0; d < decimals; d++) frac += String(r.int(10));
      let rate = decimals ? `${intPart}.${frac}` : intPart;
      if (!/[1-9]/.test(rate)) rate = '1.0873';
      const q = quote({ rate });
      let digits = '';
      const len = 1 + r.int(16);
      for (let d = 0; d < len; d++) digits += String(r.int(10));
      const minor = BigInt(digits);
      const scale = 10n ** BigInt(rate.split('.')[1]?.length ?? 0);
      const rateScaled = BigInt(rate.replace('.', '')); // rate = rateScaled / scale, not reduced
      const forward = r.int(2) === 0;
      const got = convert(money(forward ? 'CNY' : 'HKD', minor), q);
      // exact = n / d; choose the integer nearest, ties to the even one, by comparing distances ×2.
      const n = forward ? minor * rateScaled : minor * scale;
      const d = forward ? scale : rateScaled;
      const lo = n / d;
      const twiceGap = 2n * n - (2n * lo + 1n) * d; // sign of (exact − (lo + ½))
      const want = twiceGap < 0n ? lo : twiceGap > 0n ? lo + 1n : lo % 2n === 0n ? lo : lo + 1n;
      expect(got).toEqual(money(forward ? 'HKD' : 'CNY', want));
    }
  });

  it('error: money in neither currency, bad pair or bad rate', () => {
    expectError(() => convert(money('MOP', 100n), quote()), 'MR_ERR_FX_PAIR', 'pair');
    expectError(() => convert(money('CNY', 100n), quote({ rate: '1.08730000001' })), 'MR_ERR_FX_RATE');
    expectError(
      () => convert(money('CNY', 100n), quote({ base: 'HKD' as 'CNY', quote: 'CNY' as 'HKD' })),
      'MR_ERR_FX_PAIR',
    );
    expectError(() => convert({ currency: 'CNY', minor: 1.5 } as never, quote()), 'MR_ERR_MONEY_AMOUNT');
  });
});

describe('EIP-712 digest and signatures', () => {
  it('default: pairHash is keccak256("CNY/HKD")', () => {
    expect(bytesToHex(pairHash('CNY/HKD'))).toBe(PAIR);
  });

  it('default: digest equals ethers TypedDataEncoder.hash', () => {
    for (const chainId of [1, 1337n, 8453, 2n ** 64n]) {
      for (const rate of ['1.0873', '0.5', '12.34567891']) {
        const q = quote({ rate, validUntil: BigInt(NOW) * 1000n });
        expect(bytesToHex(fxQuoteDigest(q, chainId))).toBe(
          TypedDataEncoder.hash(domain(chainId), TYPES, ethersValue(q)),
        );
      }
    }
  });

  it('default: signQuote equals ethers Wallet.signTypedData and verifies', async () => {
    const q = quote();
    const sig = signQuote(q, 1337, KEY);
    expect(sig).toBe(await wallet.signTypedData(domain(1337), TYPES, ethersValue(q)));
    const v = verifyQuote(q, sig, 1337, opts());
    expect(v.signer).toBe(wallet.address);
    expect(v.quoteId).toBe(q.quoteId.toLowerCase());
    expect(v.pair).toBe('CNY/HKD');
    expect(v.rate).toEqual({ numerator: 10873n, denominator: 10000n });
    // an ethers-made signature verifies here too
    const q2 = quote();
    expect(
      verifyQuote(q2, (await wallet.signTypedData(domain(1), TYPES, ethersValue(q2))) as Hex, 1, opts())
        .signer,
    ).toBe(wallet.address);
  });

  it('behavior: trusted providers and used ids compare case-insensitively', () => {
    const q = quote({ quoteId: `0x${'AB'.repeat(32)}` as Hex });
    const sig = signQuote(q, 1337, KEY);
    expect(verifyQuote(q, sig, 1337, opts({ trustedProviders: [wallet.address.toLowerCase()] })).signer).toBe(
      wallet.address,
    );
    expectError(
      () => verifyQuote(q, sig, 1337, opts({ usedQuoteIds: new Set([`0x${'ab'.repeat(32)}`]) })),
      'MR_ERR_FX_REPLAY',
    );
  });

  it('error: signQuote refuses a key that is not the provider', () => {
    expectError(() => signQuote(quote(), 1337, OTHER_KEY), 'MR_ERR_FX_KEY', 'privateKey');
    expectError(() => signQuote(quote(), 1337, new Uint8Array(32)), 'MR_ERR_FX_KEY', 'privateKey');
  });
});

describe('verifyQuote errors', () => {
  it('error: forged signature (another key signs a quote naming the trusted provider) → MR_ERR_FX_SIGNER', async () => {
    const q = quote();
    const forged = (await other.signTypedData(domain(1337), TYPES, ethersValue(q))) as Hex;
    expectError(() => verifyQuote(q, forged, 1337, opts()), 'MR_ERR_FX_SIGNER', 'signature');
  });

  it('error: tampered quote (rate, expiry, id or chain changed after signing) → MR_ERR_FX_SIGNER', () => {
    const q = quote();
    const sig = signQuote(q, 1337, KEY);
    expectError(() => verifyQuote({ ...q, rate: '1.1873' }, sig, 1337, opts()), 'MR_ERR_FX_SIGNER');
    expectError(() => verifyQuote({ ...q, rate: '1.08730' }, sig, 1337, opts()), 'MR_ERR_FX_SIGNER');
    expectError(() => verifyQuote({ ...q, validUntil: NOW + 3600 }, sig, 1337, opts()), 'MR_ERR_FX_SIGNER');
    expectError(() => verifyQuote({ ...q, quoteId: hex32() }, sig, 1337, opts()), 'MR_ERR_FX_SIGNER');
    expectError(() => verifyQuote(q, sig, 1, opts()), 'MR_ERR_FX_SIGNER');
  });

  it('error: unknown provider (validly self-signed, not trusted) → MR_ERR_FX_SIGNER', () => {
    const q = quote({ provider: other.address as Hex });
    const sig = signQuote(q, 1337, OTHER_KEY);
    expectError(() => verifyQuote(q, sig, 1337, opts()), 'MR_ERR_FX_SIGNER', 'provider');
    expect(verifyQuote(q, sig, 1337, opts({ trustedProviders: [other.address] })).signer).toBe(other.address);
  });

  it('error: malformed signatures → MR_ERR_FX_SIGNATURE', () => {
    const q = quote();
    const sig = signQuote(q, 1337, KEY);
    const bytes = Buffer.from(sig.slice(2), 'hex');
    expectError(() => verifyQuote(q, '0x1234', 1337, opts()), 'MR_ERR_FX_SIGNATURE');
    expectError(() => verifyQuote(q, `${sig}00` as Hex, 1337, opts()), 'MR_ERR_FX_SIGNATURE');
    const badV = Uint8Array.from(bytes);
    badV[64] = 29;
    expectError(() => verifyQuote(q, badV, 1337, opts()), 'MR_ERR_FX_SIGNATURE');
    // high-s twin (r, n − s, v flipped) of a valid signature is refused (EIP-2).
    const n = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
    const s = BigInt(`0x${bytes.subarray(32, 64).toString('hex')}`);
    const twin = Uint8Array.from(bytes);
    twin.set(Buffer.from((n - s).toString(16).padStart(64, '0'), 'hex'), 32);
    twin[64] = bytes[64] === 27 ? 28 : 27;
    expectError(() => verifyQuote(q, twin, 1337, opts()), 'MR_ERR_FX_SIGNATURE');
    expectError(
      () =>
        verifyQuote(
          q,
          new Uint8Array(65).fill(0).map((_, i) => (i === 64 ? 27 : 0)),
          1337,
          opts(),
        ),
      'MR_ERR_FX_SIGNATURE',
    );
  });

  it('error: wrong or unsupported pair → MR_ERR_FX_PAIR', () => {
    for (const [base, qc] of [
      ['HKD', 'CNY'],
      ['CNY', 'MOP'],
      ['USD', 'HKD'],
      ['CNY', 'CNY'],
    ] as const) {
      const q = quote({ base: base as 'CNY', quote: qc as 'HKD' });
      expectError(() => verifyQuote(q, `0x${'11'.repeat(65)}`, 1337, opts()), 'MR_ERR_FX_PAIR', 'pair');
    }
  });

  it('error: malformed rate → MR_ERR_FX_RATE', () => {
    for (const rate of ['1.087300001', '-1', '0', '1e3', ''])
      expectError(() => verifyQuote(quote({ rate }), `0x${'11'.repeat(65)}`, 1337, opts()), 'MR_ERR_FX_RATE');
  });

  it('error: expired at and after validUntil → MR_ERR_FX_EXPIRED', () => {
    const q = quote({ validUntil: NOW });
    const sig = signQuote(q, 1337, KEY);
    expectError(() => verifyQuote(q, sig, 1337, opts({ now: NOW })), 'MR_ERR_FX_EXPIRED', 'validUntil');
    expectError(() => verifyQuote(q, sig, 1337, opts({ now: BigInt(NOW) + 1n })), 'MR_ERR_FX_EXPIRED');
    expect(verifyQuote(q, sig, 1337, opts({ now: NOW - 1 })).validUntil).toBe(BigInt(NOW));
  });

  it('error: replayed quote id → MR_ERR_FX_REPLAY', () => {
    const q = quote();
    const sig = signQuote(q, 1337, KEY);
    const used = new Set<string>();
    const v = verifyQuote(q, sig, 1337, opts({ usedQuoteIds: used }));
    used.add(v.quoteId);
    expectError(() => verifyQuote(q, sig, 1337, opts({ usedQuoteIds: used })), 'MR_ERR_FX_REPLAY', 'quoteId');
  });

  it('error: malformed fields → MR_ERR_FX_QUOTE', () => {
    const sig = `0x${'11'.repeat(65)}` as Hex;
    expectError(
      () => verifyQuote(quote({ quoteId: '0x1234' as Hex }), sig, 1337, opts()),
      'MR_ERR_FX_QUOTE',
      'quoteId',
    );
    expectError(
      () => verifyQuote(quote({ provider: '0x12' as Hex }), sig, 1337, opts()),
      'MR_ERR_FX_QUOTE',
      'provider',
    );
    const body = wallet.address.slice(2);
    const at = body.search(/[a-fA-F]/);
    const c = body[at]!;
    const flipped = `0x${body.slice(0, at)}${c === c.toUpperCase() ? c.toLowerCase() : c.toUpperCase()}${body.slice(at + 1)}`;
    expectError(
      () => verifyQuote(quote({ provider: flipped as Hex }), sig, 1337, opts()),
      'MR_ERR_FX_QUOTE',
      'provider',
    );
    expectError(
      () => verifyQuote(quote({ validUntil: -1 }), sig, 1337, opts()),
      'MR_ERR_FX_QUOTE',
      'validUntil',
    );
    expectError(
      () => verifyQuote(quote({ validUntil: 2n ** 64n }), sig, 1337, opts()),
      'MR_ERR_FX_QUOTE',
      'validUntil',
    );
    expectError(
      () => verifyQuote(quote({ validUntil: 1.5 }), sig, 1337, opts()),
      'MR_ERR_FX_QUOTE',
      'validUntil',
    );
    expectError(() => verifyQuote(quote(), sig, 0, opts()), 'MR_ERR_FX_QUOTE', 'chainId');
    expectError(() => verifyQuote(quote(), sig, 1337, opts({ now: 1.5 })), 'MR_ERR_FX_QUOTE', 'now');
  });
});
