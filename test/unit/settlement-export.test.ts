/**
 * Settlement read side without a chain (relayer/settlement/): UETR forms, the SETTLEMENT payload decoder, the
 * pacs mapping of a payment view (agents, purpose fallback, refusals), and the CLI's exit codes and text.
 */
import { AbiCoder, Wallet } from 'ethers';
import { describe, expect, it } from 'vitest';
import type { MedrelayConfig } from '../../config/schema.js';
import type { Hex } from '../../proofs/bytes.js';
import { money } from '../../proofs/settlement/money.js';
import { reconcile } from '../../proofs/settlement/reconcile.js';
import { reconciliationText, settlementCommand } from '../../relayer/settlement/cli.js';
import {
  decodeSettlement,
  endToEndIdOf,
  type PacsParties,
  type PaymentView,
  pacs002For,
  pacs004For,
  pacs008For,
  parseUetr,
  paymentJson,
  purposeCode,
  SETTLEMENT_TUPLE,
  SettlementError,
  type SettlementQueries,
} from '../../relayer/settlement/index.js';

const UETR = '3f2504e0-4f89-41d3-9a0c-0305e82c3301';
const UETR_HEX = '0x3f2504e04f8941d39a0c0305e82c3301' as Hex;
const REF = `0x${'ab'.repeat(32)}` as Hex;
const DEBTOR = Wallet.createRandom().address as Hex;
const CREDITOR = Wallet.createRandom().address as Hex;
const PARTIES: PacsParties = {
  source: { agent: { bic: 'MDRLCNSHXXX' }, partyName: 'Insurer' },
  destination: { agent: { clearingSystem: 'HKNCC', memberId: '012' } },
};

function expectCode(fn: () => unknown, code: string): SettlementError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(SettlementError);
    expect((err as SettlementError).code).toBe(code);
    return err as SettlementError;
  }
  throw new Error(`expected ${code}`);
}

function view(over: Partial<PaymentView> = {}): PaymentView {
  return {
    uetr: UETR,
    uetrHex: UETR_HEX,
    status: 'RJCT',
    state: 'refunded',
    reference: REF,
    chargeBearer: 'SLEV',
    purpose: '0x4d444353',
    createdAt: 1_741_944_600n, // 2025-03-14T09:30:00Z
    source: {
      chain: 'insurer',
      chainId: 31003n,
      gateway: Wallet.createRandom().address as Hex,
      channel: `0x${'0c'.repeat(32)}`,
      packetId: `0x${'0d'.repeat(32)}`,
      debtor: DEBTOR,
      amount: money('CNY', 123_450n),
      timeoutTimestamp: 1_741_948_200n,
      locked: { blockNumber: 10n, txHash: `0x${'01'.repeat(32)}`, timestamp: 1_741_944_600n },
    },
    destination: { chain: 'crossborder', chainId: 31004n, creditor: CREDITOR, currency: 'HKD' },
    quote: {
      quoteId: `0x${'0e'.repeat(32)}`,
      pair: `0x${'0f'.repeat(32)}`,
      rate: '1.0873',
      validUntil: 1_741_948_200n,
      provider: Wallet.createRandom().address as Hex,
    },
    outcome: {
      state: 'refunded',
      event: { blockNumber: 20n, txHash: `0x${'02'.repeat(32)}`, timestamp: 1_742_000_000n }, // 2025-03-15
      refundReason: 2,
    },
    ...over,
  };
}

describe('parseUetr', () => {
  it('default: UUID text (any case) and bytes16 name the same payment', () => {
    expect(parseUetr(UETR.toUpperCase())).toEqual({ text: UETR, hex: UETR_HEX });
    expect(parseUetr(UETR_HEX.toUpperCase().replace('0X', '0x'))).toEqual({ text: UETR, hex: UETR_HEX });
  });

  it('error: malformed or zero', () => {
    for (const bad of ['', 'abc', `${UETR}0`, '0x1234', `0x${'00'.repeat(16)}`, 5 as never])
      expectCode(() => parseUetr(bad), 'MR_ERR_SETTLEMENT_UETR');
  });
});

describe('decodeSettlement', () => {
  const raw = (over: Record<string, unknown> = {}) =>
    AbiCoder.defaultAbiCoder().encode(
      [SETTLEMENT_TUPLE],
      [
        {
          uetr: UETR_HEX,
          ref: REF,
          debtor: DEBTOR,
          creditor: CREDITOR,
          sourceCurrency: 156,
          sourceAmount: 123_450n,
          targetCurrency: 156,
          chargeBearer: 1,
          purpose: '0x4d444353',
          createdAt: 1n,
          quote: {
            quoteId: `0x${'00'.repeat(32)}`,
            pair: `0x${'00'.repeat(32)}`,
            rate: '',
            validUntil: 0n,
            provider: `0x${'00'.repeat(20)}`,
          },
          quoteSignature: '0x',
          ...over,
        },
      ],
    ) as Hex;

  it('default: fields, currencies by ISO numeric, no quote for one currency', () => {
    const s = decodeSettlement(raw());
    expect(s).toMatchObject({
      uetr: UETR_HEX,
      reference: REF,
      debtor: DEBTOR,
      creditor: CREDITOR,
      sourceCurrency: 'CNY',
      targetCurrency: 'CNY',
      sourceAmount: 123_450n,
      chargeBearer: 'CRED',
    });
    expect(s).not.toHaveProperty('quote');
    expect(purposeCode(s.purpose)).toBe('MDCS');
    expect(purposeCode('0x00000000')).toBeUndefined();
    expect(decodeSettlement(raw({ targetCurrency: 344 })).quote?.rate).toBe('');
  });

  it('error: not a Settlement, unknown currency, charge bearer out of range', () => {
    expectCode(() => decodeSettlement('0x1234'), 'MR_ERR_SETTLEMENT_PAYLOAD');
    expectCode(() => decodeSettlement(raw({ sourceCurrency: 840 })), 'MR_ERR_SETTLEMENT_PAYLOAD');
    expectCode(() => decodeSettlement(raw({ chargeBearer: 4 })), 'MR_ERR_SETTLEMENT_PAYLOAD');
  });
});

describe('pacs of a payment view', () => {
  it('default: pacs.008 ids, amount, rate, parties and agents', () => {
    const p = pacs008For(view(), PARTIES);
    expect(p.GrpHdr).toMatchObject({ MsgId: `MR-${UETR_HEX.slice(2)}`, CreDtTm: '2025-03-14T09:30:00.000Z' });
    expect(p.CdtTrfTxInf).toMatchObject({
      PmtId: { InstrId: `MR-${UETR_HEX.slice(2)}`, EndToEndId: endToEndIdOf(REF), UETR },
      IntrBkSttlmAmt: { Ccy: 'CNY', value: '1234.50' },
      IntrBkSttlmDt: '2025-03-14',
      XchgRate: '1.0873',
      Dbtr: { Nm: 'Insurer' },
      Cdtr: {},
      CdtrAgt: { FinInstnId: { ClrSysMmbId: { ClrSysId: { Cd: 'HKNCC' }, MmbId: '012' } } },
      Purp: { Cd: 'MDCS' },
      RmtInf: { Ustrd: `/CLAIM/${REF}` },
    });
    expect(endToEndIdOf(REF)).toHaveLength(35);
    expect(p.CdtTrfTxInf.DbtrAcct.Prxy.Id).toBe(`eip155:31003:${DEBTOR}`);
    expect(p.CdtTrfTxInf.CdtrAcct.Prxy.Id).toBe(`eip155:31004:${CREDITOR}`);
    const noFx = pacs008For(view({ quote: undefined, purpose: '0x00000000' }), PARTIES);
    expect('XchgRate' in noFx.CdtTrfTxInf).toBe(false);
    expect(noFx.CdtTrfTxInf.Purp.Cd).toBe('OTHR');
  });

  it('default: pacs.002 and pacs.004 are dated at the outcome, with TM01 for an expired arrival', () => {
    const s = pacs002For(view(), PARTIES);
    expect(s.GrpHdr).toEqual({
      MsgId: `MR-STS-${UETR_HEX.slice(2, 30)}`,
      CreDtTm: '2025-03-15T00:53:20.000Z',
    });
    expect(s.TxInfAndSts).toMatchObject({ TxSts: 'RJCT', StsRsnInf: { Rsn: { Cd: 'TM01' } } });
    const r = pacs004For(view(), PARTIES);
    expect(r.TxInf).toMatchObject({
      RtrdIntrBkSttlmAmt: { Ccy: 'CNY', value: '1234.50' },
      IntrBkSttlmDt: '2025-03-15',
      RtrRsnInf: { Rsn: { Cd: 'TM01' }, AddtlInf: 'Refund 2: arrived after its timeout' },
    });
    const now = new Date('2025-03-14T10:00:00Z');
    const pending = pacs002For(view({ status: 'PDNG', state: 'inFlight', outcome: undefined }), PARTIES, {
      now,
    });
    expect(pending.GrpHdr.CreDtTm).toBe(now.toISOString());
    expect(pending.TxInfAndSts).not.toHaveProperty('StsRsnInf');
  });

  it('error: missing agents, not refunded, not exportable', () => {
    const e = expectCode(() => pacs008For(view(), { source: PARTIES.source! }), 'MR_ERR_SETTLEMENT_AGENT');
    expect(e.message).toContain('crossborder');
    expectCode(() => pacs008For(view(), { destination: PARTIES.destination! }), 'MR_ERR_SETTLEMENT_AGENT');
    expectCode(
      () => pacs004For(view({ status: 'ACSC', state: 'released', outcome: undefined }), PARTIES),
      'MR_ERR_SETTLEMENT_NOT_REFUNDED',
    );
    // a v1 UUID is a valid on-chain bytes16 but not an ISO 20022 UETR
    const v1 = expectCode(
      () => pacs008For(view({ uetr: '3f2504e0-4f89-11d3-9a0c-0305e82c3301' }), PARTIES),
      'MR_ERR_SETTLEMENT_EXPORT',
    );
    expect(v1.details.field).toBe('uetr');
  });

  it('default: the payment JSON', () => {
    const j = paymentJson(view());
    expect(j).toMatchObject({
      uetr: UETR,
      status: 'RJCT',
      endToEndId: endToEndIdOf(REF),
      purpose: 'MDCS',
      createdAt: '2025-03-14T09:30:00.000Z',
      source: { chainId: '31003', amount: { minor: '123450', currency: 'CNY', value: '1234.50' } },
      quote: { rate: '1.0873' },
      outcome: { refundReason: 2, refundReasonName: 'ARRIVED_EXPIRED', reasonCode: 'TM01' },
    });
    expect(paymentJson(view({ purpose: '0x00000001' })).purpose).toBe('0x00000001');
  });
});

describe('settlement CLI', () => {
  const broken = reconcile({
    channels: [
      {
        channel: `0x${'0a'.repeat(32)}`,
        name: 'settlement-a-b',
        sourceChain: 'a',
        destChain: 'b',
        currency: 'HKD',
        source: { locked: 10n, released: 0n, refunded: 0n, inFlight: 9n },
        destination: { receivedSource: 0n, paidOut: 0n },
      },
    ],
    gateways: [{ chain: 'a', escrowed: { HKD: 9n }, balance: { HKD: 9n } }],
  });
  const fake: SettlementQueries = {
    payment: async () => view(),
    message: async () => pacs008For(view(), PARTIES),
    reconciliation: async () => broken,
  };
  const config = { chains: [], channels: [] } as unknown as MedrelayConfig;

  it('behavior: a violated invariant is printed by name and exits 1', async () => {
    let out = '';
    const code = await settlementCommand(config, ['reconcile'], {
      json: false,
      out: (t) => (out += t),
      queries: fake,
    });
    expect(code).toBe(1);
    expect(out).toContain('VIOLATED');
    expect(out).toContain('LEDGER_BALANCED: settlement-a-b');
    expect(reconciliationText(reconcile({ channels: [], gateways: [] }))).toContain(
      'no settlement channel has moved money yet',
    );
  });

  it('error: a failing read prints one line with its code', async () => {
    let err = '';
    const failing: SettlementQueries = {
      ...fake,
      reconciliation: async () => {
        throw new SettlementError(
          'MR_ERR_SETTLEMENT_READ',
          'insurer: eth_call failed (MR_ERR_RPC_TRANSPORT)',
        );
      },
    };
    const code = await settlementCommand(config, ['reconcile'], {
      json: false,
      out: () => {},
      err: (t) => (err += t),
      queries: failing,
    });
    expect(code).toBe(1);
    expect(err).toBe('medrelay: MR_ERR_SETTLEMENT_READ: insurer: eth_call failed (MR_ERR_RPC_TRANSPORT)\n');
  });
});
