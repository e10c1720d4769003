/**
 * Claims clients (adapters/evm/clients/claims.ts): every bad input is a typed error raised before anything is sent.
 * The clients point at an RPC endpoint where nothing listens, so input that got past the checks would fail with a
 * network error instead of the expected code: each assertion proves the refusal happened first. Valid input is
 * checked against the on-chain encoding (ABI tuple of `Claim`, EIP-712 quote verification).
 */
import { AbiCoder, keccak256, toUtf8Bytes, Wallet } from 'ethers';
import { describe, expect, it } from 'vitest';
import { contractInterface } from '../../adapters/evm/clients/chain.js';
import {
  ClaimsDeskClient,
  ClinicClient,
  claimTuple,
  FxQuoteDesk,
  newUetrBytes,
  policyIdHash,
  quoteTuple,
  serviceCode,
  uetrBytes,
} from '../../adapters/evm/clients/claims.js';
import { buildDisclosureTree } from '../../proofs/records/disclosure.js';
import { pairHash, verifyQuote } from '../../proofs/settlement/fx.js';
import { money } from '../../proofs/settlement/money.js';

const DEAD_RPC = 'http://127.0.0.1:9';
const KEY = Wallet.createRandom().privateKey;
const PATH = 'Bundle.entry[1].resource.Condition.code.coding[0]';
const ZERO32 = `0x${'00'.repeat(32)}`;

const bundle = {
  resourceType: 'Bundle',
  type: 'collection',
  entry: [
    { resource: { resourceType: 'Patient', id: 'p1' } },
    {
      resource: {
        resourceType: 'Condition',
        id: 'c1',
        code: { coding: [{ system: 'http://hl7.org/fhir/sid/icd-10', code: 'I10' }] },
      },
    },
  ],
};
const record = { recordId: `0x${'ab'.repeat(32)}`, tree: buildDisclosureTree(bundle) };

function claim(over: Record<string, unknown> = {}) {
  return {
    policyId: 'policy-1',
    patient: `0x${'11'.repeat(32)}`,
    consentId: `0x${'22'.repeat(32)}`,
    serviceDate: 1_767_225_600,
    items: [
      { code: 'CONSULT', amount: money('CNY', 350_000n) },
      { code: 'LAB-1', amount: money('CNY', 88_050n) },
    ],
    payout: { chainId: 31004, payee: new Wallet(KEY).address, currency: 'HKD' as const },
    ...over,
  };
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    return (err as { code?: string }).code ?? `untyped: ${(err as Error).message}`;
  }
  return 'no error';
}

describe('ClinicClient.submitClaim refuses bad input before sending', () => {
  const clinic = new ClinicClient({
    rpcUrl: DEAD_RPC,
    chainId: 31001,
    privateKey: KEY,
    contracts: { claimSubmitter: `0x${'33'.repeat(20)}` },
  });
  const submit = (over: Record<string, unknown>, path = PATH) =>
    codeOf(clinic.submitClaim(31003, record, path, claim(over) as never));

  it('a valid claim gets past every check (and only then fails on the dead RPC)', async () => {
    const code = await submit({});
    expect(code).not.toMatch(/^MR_ERR_(CLIENT_INPUT|MONEY|FX|DISCLOSURE)/);
    expect(code).not.toBe('no error');
  });

  it.each([
    [
      'negative amount',
      { items: [{ code: 'X', amount: { currency: 'CNY', minor: -1n } }] },
      'MR_ERR_MONEY_NEGATIVE',
    ],
    [
      'fractional minor units',
      { items: [{ code: 'X', amount: { currency: 'CNY', minor: 1.5 } }] },
      'MR_ERR_MONEY_AMOUNT',
    ],
    [
      'float amount',
      { items: [{ code: 'X', amount: { currency: 'CNY', minor: 100 } }] },
      'MR_ERR_MONEY_AMOUNT',
    ],
    [
      'unsupported currency',
      { items: [{ code: 'X', amount: { currency: 'USD', minor: 1n } }] },
      'MR_ERR_MONEY_CURRENCY',
    ],
    [
      'mixed currencies',
      {
        items: [
          { code: 'A', amount: money('CNY', 1n) },
          { code: 'B', amount: money('HKD', 1n) },
        ],
      },
      'MR_ERR_CLIENT_INPUT',
    ],
    ['no items', { items: [] }, 'MR_ERR_CLIENT_INPUT'],
    [
      'too many items',
      { items: Array.from({ length: 65 }, () => ({ code: 'X', amount: money('CNY', 1n) })) },
      'MR_ERR_CLIENT_INPUT',
    ],
    [
      'service code too long',
      { items: [{ code: 'X'.repeat(33), amount: money('CNY', 1n) }] },
      'MR_ERR_CLIENT_INPUT',
    ],
    [
      'unsupported payout currency',
      { payout: { chainId: 1, payee: `0x${'44'.repeat(20)}`, currency: 'EUR' } },
      'MR_ERR_MONEY_CURRENCY',
    ],
    ['bad payee', { payout: { chainId: 1, payee: '0x1234', currency: 'HKD' } }, 'MR_ERR_CLIENT_INPUT'],
    ['bad patient', { patient: 'Patient/1' }, 'MR_ERR_CLIENT_INPUT'],
    ['bad claim id', { claimId: '0x12' }, 'MR_ERR_CLIENT_INPUT'],
    ['negative service date', { serviceDate: -1 }, 'MR_ERR_CLIENT_INPUT'],
    ['empty policy id', { policyId: ' ' }, 'MR_ERR_CLIENT_INPUT'],
  ])('%s', async (_, over, code) => {
    expect(await submit(over)).toBe(code);
  });

  it('a coding path that is not a Condition coding, or not in the record', async () => {
    expect(await submit({}, 'Bundle.entry[0].resource.Patient.id')).toBe('MR_ERR_CLIENT_INPUT');
    expect(await submit({}, 'Bundle.entry[7].resource.Condition.code.coding[0]')).toBe(
      'MR_ERR_DISCLOSURE_PATH',
    );
  });
});

describe('claim encoding', () => {
  it('claimTuple ABI-encodes as the contract Claim struct (policy id hashed, items in minor units)', () => {
    const t = claimTuple(claim({ claimId: `0x${'55'.repeat(32)}` }), record.recordId, PATH);
    expect(t.policyId).toBe(keccak256(toUtf8Bytes('policy-1')));
    expect(t.policyId).toBe(policyIdHash('policy-1'));
    expect(t.currency).toBe(156);
    expect(t.payoutCurrency).toBe(344);
    expect(t.items.map((i) => i.amount)).toEqual([350_000n, 88_050n]);
    expect(t.items[0]!.code).toBe(serviceCode('CONSULT'));
    // The ClaimSubmitter ABI takes the tuple as is.
    const data = contractInterface('ClaimSubmitter').encodeFunctionData('submitClaim', [
      31003,
      t,
      [],
      [],
      [],
    ]);
    const [, decoded] = contractInterface('ClaimSubmitter').decodeFunctionData('submitClaim', data);
    expect(decoded.claimId).toBe(t.claimId);
    expect(decoded.items[1].amount).toBe(88_050n);
    expect(decoded.codingPath).toBe(PATH);
  });

  it('UETRs: fresh ones are UUID v4; text and bytes16 forms agree; junk is refused', () => {
    const u = newUetrBytes();
    expect(u.text).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(uetrBytes(u.text)).toBe(u.uetr);
    expect(() => uetrBytes('not-a-uetr')).toThrow(expect.objectContaining({ code: 'MR_ERR_CLIENT_INPUT' }));
  });
});

describe('FxQuoteDesk and ClaimsDeskClient', () => {
  it('signs single-use quotes that verify for the chosen chain only', () => {
    const desk = new FxQuoteDesk(KEY, 31004);
    const a = desk.quote('1.0873', 2_000_000_000);
    const b = desk.quote('1.0873', 2_000_000_000);
    expect(a.quote.quoteId).not.toBe(b.quote.quoteId);
    const ok = verifyQuote(a.quote, a.signature, 31004, {
      trustedProviders: [desk.provider],
      now: 1_900_000_000,
    });
    expect(ok.signer).toBe(desk.provider);
    expect(() =>
      verifyQuote(a.quote, a.signature, 31003, { trustedProviders: [desk.provider], now: 1_900_000_000 }),
    ).toThrow(expect.objectContaining({ code: 'MR_ERR_FX_SIGNER' }));
    const t = quoteTuple(a.quote);
    expect(t.pair).toBe(`0x${Buffer.from(pairHash('CNY/HKD')).toString('hex')}`);
    expect(AbiCoder.defaultAbiCoder().encode(['uint64'], [t.validUntil])).toBeTruthy();
  });

  it('refuses a bad key, a bad chain id and malformed rates', () => {
    expect(() => new FxQuoteDesk('0x1234', 1)).toThrow(
      expect.objectContaining({ code: 'MR_ERR_CLIENT_INPUT' }),
    );
    expect(() => new FxQuoteDesk(ZERO32, 1)).toThrow(
      expect.objectContaining({ code: 'MR_ERR_CLIENT_INPUT' }),
    );
    expect(() => new FxQuoteDesk(KEY, -1)).toThrow(expect.objectContaining({ code: 'MR_ERR_CLIENT_INPUT' }));
    const desk = new FxQuoteDesk(KEY, 1);
    for (const rate of ['1.', '.5', '-1', '0', '1e3', '1.123456789', 'abc'])
      expect(() => desk.quote(rate, 2_000_000_000), rate).toThrow(
        expect.objectContaining({ code: 'MR_ERR_FX_RATE' }),
      );
  });

  it('settleClaim refuses a malformed claim id, UETR or timeout before sending', async () => {
    const desk = new ClaimsDeskClient({
      rpcUrl: DEAD_RPC,
      chainId: 31003,
      privateKey: KEY,
      contracts: { claimSettlement: `0x${'66'.repeat(20)}` },
    });
    expect(await codeOf(desk.settleClaim('0x12'))).toBe('MR_ERR_CLIENT_INPUT');
    expect(await codeOf(desk.settleClaim(`0x${'77'.repeat(32)}`, { uetr: 'nope' }))).toBe(
      'MR_ERR_CLIENT_INPUT',
    );
    expect(await codeOf(desk.settleClaim(`0x${'77'.repeat(32)}`, { timeoutTimestamp: -5 }))).toBe(
      'MR_ERR_CLIENT_INPUT',
    );
    expect(
      () => new ClaimsDeskClient({ rpcUrl: DEAD_RPC, chainId: 1, contracts: { claimSettlement: 'x' } }),
    ).toThrow(expect.objectContaining({ code: 'MR_ERR_CLIENT_INPUT' }));
  });
});
