/**
 * ISO 20022 pacs.008 / pacs.002 / pacs.004: field mapping, validation, and XML that is well formed (checked by a
 * tiny tag-balance parser) with the right namespaces and escaping.
 */
import { describe, expect, it } from 'vitest';
import { ProofError } from '../../proofs/errors.js';
import {
  buildPacs002,
  buildPacs004,
  buildPacs008,
  caip10,
  isUetr,
  newUetr,
  type Pacs008,
  type Pacs008Input,
  toXml,
} from '../../proofs/settlement/iso20022.js';
import { money } from '../../proofs/settlement/money.js';

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

const UETR = '3f2504e0-4f89-41d3-9a0c-0305e82c3301';
const CREATED = new Date('2025-03-14T09:30:00.000Z');
const CLAIM = `0x${'ab'.repeat(32)}`;
// EIP-55 vectors from the EIP itself.
const PAYER = '0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed';
const CLINIC = '0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359';
const PAYER_ACCOUNT = `eip155:31003:${PAYER}`;
const CLINIC_ACCOUNT = `eip155:31004:${CLINIC}`;

/** RFC 4648 base32 decoder (test side), to check the account id round-trips to the address. */
function unbase32(text: string): string {
  const A = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of text) bits += A.indexOf(c).toString(2).padStart(5, '0');
  const bytes = bits.match(/.{8}/g)!.map((b) => Number.parseInt(b, 2));
  return `0x${Buffer.from(bytes).toString('hex')}`;
}

function input(over: Partial<Pacs008Input> = {}): Pacs008Input {
  return {
    uetr: UETR,
    endToEndId: 'CLM-2025-0001',
    instructionId: 'MR-INSTR-1',
    createdAt: CREATED,
    amount: money('HKD', 123450n),
    exchangeRate: '1.0873',
    chargeBearer: 'SLEV',
    purpose: 'MDCS',
    remittanceInfo: { claimId: CLAIM },
    debtor: { account: PAYER_ACCOUNT, name: 'Devnet Insurer Ltd' },
    creditor: { account: CLINIC_ACCOUNT.toLowerCase() },
    debtorAgent: { bic: 'HSBCHKHHXXX' },
    creditorAgent: { clearingSystem: 'HKNCC', memberId: '012' },
    settlementDate: '2025-03-14',
    ...over,
  };
}

/** A tiny XML checker: one root, balanced and properly nested tags, attributes quoted, no bare `&` or `<`. */
function parseXml(xml: string): { root: string; elements: string[] } {
  let s = xml.replace(/^<\?xml [^?]*\?>/, '');
  const stack: string[] = [];
  const elements: string[] = [];
  let root = '';
  const TEXT = /^[^<&]*(?:&(?:amp|lt|gt|quot|apos);[^<&]*)*/;
  while (s.length) {
    const t = TEXT.exec(s)![0];
    if (t.length) {
      if (stack.length === 0) throw new Error(`text outside the root: ${t}`);
      s = s.slice(t.length);
      continue;
    }
    if (s[0] === '&') throw new Error(`bare & at ${s.slice(0, 20)}`);
    const close = /^<\/([A-Za-z][A-Za-z0-9]*)>/.exec(s);
    if (close) {
      if (stack.pop() !== close[1]) throw new Error(`unbalanced </${close[1]}>`);
      s = s.slice(close[0].length);
      continue;
    }
    const open =
      /^<([A-Za-z][A-Za-z0-9]*)((?:\s+[A-Za-z][A-Za-z0-9:]*="[^"<&]*(?:&(?:amp|lt|gt|quot|apos);[^"<&]*)*")*)\s*(\/?)>/.exec(
        s,
      );
    if (!open) throw new Error(`malformed tag at ${s.slice(0, 30)}`);
    if (stack.length === 0) {
      if (root) throw new Error('two roots');
      root = open[1]!;
    }
    elements.push(open[1]!);
    if (!open[3]) stack.push(open[1]!);
    s = s.slice(open[0].length);
  }
  if (stack.length) throw new Error(`unclosed ${stack.join('>')}`);
  return { root, elements };
}

const text = (xml: string, tag: string): string[] =>
  [...xml.matchAll(new RegExp(`<${tag}(?: [^>]*)?>([^<]*)</${tag}>`, 'g'))].map((m) => m[1]!);

describe('newUetr', () => {
  it('default: lowercase UUID v4, unique', () => {
    const ids = new Set(Array.from({ length: 100 }, () => newUetr()));
    expect(ids.size).toBe(100);
    for (const id of ids) expect(isUetr(id)).toBe(true);
    expect(isUetr(UETR.toUpperCase())).toBe(false);
    expect(isUetr('3f2504e0-4f89-11d3-9a0c-0305e82c3301')).toBe(false); // v1
  });
});

describe('buildPacs008', () => {
  it('default: maps every field', () => {
    const p = buildPacs008(input());
    expect(p).toEqual({
      msgType: 'pacs.008.001.08',
      GrpHdr: {
        MsgId: 'MR-INSTR-1',
        CreDtTm: '2025-03-14T09:30:00.000Z',
        NbOfTxs: '1',
        SttlmInf: { SttlmMtd: 'CLRG' },
      },
      CdtTrfTxInf: {
        PmtId: { InstrId: 'MR-INSTR-1', EndToEndId: 'CLM-2025-0001', UETR },
        IntrBkSttlmAmt: { Ccy: 'HKD', value: '1234.50' },
        IntrBkSttlmDt: '2025-03-14',
        XchgRate: '1.0873',
        ChrgBr: 'SLEV',
        Dbtr: { Nm: 'Devnet Insurer Ltd' },
        DbtrAcct: {
          Id: {
            Othr: {
              Id: 'LKXLMBJ7H2KMTONAT4ZWNFBV47XRX2XN',
              SchmeNm: { Prtry: 'EVMB32' },
              Issr: 'eip155:31003',
            },
          },
          Prxy: { Tp: { Prtry: 'CAIP10' }, Id: PAYER_ACCOUNT },
        },
        DbtrAgt: { FinInstnId: { BICFI: 'HSBCHKHHXXX' } },
        CdtrAgt: { FinInstnId: { ClrSysMmbId: { ClrSysId: { Cd: 'HKNCC' }, MmbId: '012' } } },
        Cdtr: {},
        CdtrAcct: {
          Id: {
            Othr: {
              Id: expect.stringMatching(/^[A-Z2-7]{32}$/),
              SchmeNm: { Prtry: 'EVMB32' },
              Issr: 'eip155:31004',
            },
          },
          // lowercase input comes back checksummed
          Prxy: { Tp: { Prtry: 'CAIP10' }, Id: CLINIC_ACCOUNT },
        },
        Purp: { Cd: 'MDCS' },
        RmtInf: { Ustrd: `/CLAIM/${CLAIM}` },
      },
    });
  });

  it('behavior: accounts are CAIP-10 in Prxy and a lossless ≤ 34-character base32 id in Othr', () => {
    const p = buildPacs008(input());
    for (const [acct, addr] of [
      [p.CdtTrfTxInf.DbtrAcct, PAYER],
      [p.CdtTrfTxInf.CdtrAcct, CLINIC],
    ] as const) {
      expect(acct.Id.Othr.Id.length).toBeLessThanOrEqual(34); // GenericAccountIdentification1/Id is Max34Text
      expect(unbase32(acct.Id.Othr.Id)).toBe(addr.toLowerCase());
    }
    expect(caip10(31003n, PAYER.toLowerCase())).toBe(PAYER_ACCOUNT);
    expect(caip10(31003, PAYER.toUpperCase().replace('0X', '0x'))).toBe(PAYER_ACCOUNT);
  });

  it('error: parties', () => {
    for (const account of [
      `eip155:31003:${PAYER.slice(0, -1)}`,
      `eip155:0:${PAYER}`,
      `cosmos:hub:${PAYER}`,
      PAYER,
      `eip155:31003:${PAYER.replace('a', 'A')}`, // bad checksum
      '',
    ])
      expectError(() => buildPacs008(input({ debtor: { account } })), 'MR_ERR_ISO_FIELD', 'debtor.account');
    for (const name of ['', '   ', 'x'.repeat(141), 5 as never])
      expectError(
        () => buildPacs008(input({ creditor: { account: CLINIC_ACCOUNT, name } })),
        'MR_ERR_ISO_FIELD',
        'creditor.name',
      );
    expectError(() => buildPacs008(input({ creditor: undefined as never })), 'MR_ERR_ISO_FIELD', 'creditor');
    expectError(() => caip10(0, PAYER), 'MR_ERR_ISO_FIELD', 'account');
    expectError(() => caip10(1.5, PAYER), 'MR_ERR_ISO_FIELD', 'account');
  });

  it('behavior: generates a UETR when absent, omits XchgRate when absent, keeps MsgId when given', () => {
    const { uetr: _u, exchangeRate: _x, ...rest } = input();
    const p = buildPacs008({ ...rest, messageId: 'MSG/1', settlementMethod: 'INDA' });
    expect(isUetr(p.CdtTrfTxInf.PmtId.UETR)).toBe(true);
    expect('XchgRate' in p.CdtTrfTxInf).toBe(false);
    expect(p.GrpHdr.MsgId).toBe('MSG/1');
    expect(p.GrpHdr.SttlmInf.SttlmMtd).toBe('INDA');
    expect(buildPacs008(input({ amount: money('CNY', 5n) })).CdtTrfTxInf.IntrBkSttlmAmt).toEqual({
      Ccy: 'CNY',
      value: '0.05',
    });
    expect(
      buildPacs008(input({ remittanceInfo: { claimId: 'CLM-2025-0001' } })).CdtTrfTxInf.RmtInf.Ustrd,
    ).toBe('/CLAIM/CLM-2025-0001');
  });

  it('error: UETR not a lowercase v4 UUID', () => {
    for (const uetr of [
      UETR.toUpperCase(),
      'not-a-uuid',
      '3f2504e0-4f89-11d3-9a0c-0305e82c3301',
      `${UETR}0`,
      '',
    ])
      expectError(() => buildPacs008(input({ uetr })), 'MR_ERR_ISO_FIELD', 'uetr');
  });

  it('error: ids over 35 characters or outside the SWIFT set', () => {
    expect(buildPacs008(input({ endToEndId: 'E'.repeat(35) })).CdtTrfTxInf.PmtId.EndToEndId).toHaveLength(35);
    for (const endToEndId of ['E'.repeat(36), '', ' E2E', 'E2E ', 'E2E<1>', 'E2E&1', 'é2e', 'a\nb'])
      expectError(() => buildPacs008(input({ endToEndId })), 'MR_ERR_ISO_FIELD', 'endToEndId');
    expectError(
      () => buildPacs008(input({ instructionId: 'I'.repeat(36) })),
      'MR_ERR_ISO_FIELD',
      'instructionId',
    );
  });

  it('error: amounts only from Money, positive', () => {
    for (const amount of [
      { currency: 'HKD', minor: 1234.5 },
      { currency: 'HKD', minor: '123450' },
      1234.5,
      '1234.50',
      null,
    ])
      expectError(() => buildPacs008(input({ amount: amount as never })), 'MR_ERR_MONEY_AMOUNT');
    expectError(
      () => buildPacs008(input({ amount: { currency: 'USD', minor: 1n } as never })),
      'MR_ERR_MONEY_CURRENCY',
    );
    expectError(() => buildPacs008(input({ amount: money('HKD', 0n) })), 'MR_ERR_ISO_AMOUNT', 'amount');
    expectError(
      () => buildPacs008(input({ amount: money('HKD', 10n ** 18n) })),
      'MR_ERR_ISO_AMOUNT',
      'amount',
    );
    expect(
      buildPacs008(input({ amount: money('HKD', 10n ** 18n - 1n) })).CdtTrfTxInf.IntrBkSttlmAmt.value,
    ).toBe('9999999999999999.99');
  });

  it('error: BIC and clearing ids', () => {
    for (const bic of ['HSBCHKHH XXX', 'hsbchkhh', 'HSBCHK', 'HSBCHKHHXX', 'HSBC12HH', 'HSBCHKHHXXXX'])
      expectError(() => buildPacs008(input({ debtorAgent: { bic } })), 'MR_ERR_ISO_FIELD', 'debtorAgent.bic');
    expect(buildPacs008(input({ creditorAgent: { bic: 'BKCHCNBJ' } })).CdtTrfTxInf.CdtrAgt).toEqual({
      FinInstnId: { BICFI: 'BKCHCNBJ' },
    });
    expectError(
      () => buildPacs008(input({ creditorAgent: { clearingSystem: 'hkncc', memberId: '012' } })),
      'MR_ERR_ISO_FIELD',
      'creditorAgent.clearingSystem',
    );
    expectError(
      () => buildPacs008(input({ creditorAgent: { clearingSystem: 'CNAPS', memberId: '' } })),
      'MR_ERR_ISO_FIELD',
      'creditorAgent.memberId',
    );
    expectError(
      () => buildPacs008(input({ creditorAgent: null as never })),
      'MR_ERR_ISO_FIELD',
      'creditorAgent',
    );
  });

  it('error: other fields', () => {
    expectError(
      () => buildPacs008(input({ chargeBearer: 'OUR' as never })),
      'MR_ERR_ISO_FIELD',
      'chargeBearer',
    );
    expectError(() => buildPacs008(input({ purpose: 'mdcs' })), 'MR_ERR_ISO_FIELD', 'purpose');
    expectError(() => buildPacs008(input({ purpose: 'MEDICAL' })), 'MR_ERR_ISO_FIELD', 'purpose');
    for (const settlementDate of ['2025-02-30', '2025-13-01', '14/03/2025', '2025-3-14', ''])
      expectError(() => buildPacs008(input({ settlementDate })), 'MR_ERR_ISO_FIELD', 'settlementDate');
    for (const exchangeRate of ['0', '-1.08', '1e0', '1.08730000001', '123456789012'])
      expectError(() => buildPacs008(input({ exchangeRate })), 'MR_ERR_ISO_FIELD', 'exchangeRate');
    expectError(() => buildPacs008(input({ createdAt: new Date('nope') })), 'MR_ERR_ISO_FIELD', 'createdAt');
    expectError(
      () => buildPacs008(input({ settlementMethod: 'CASH' as never })),
      'MR_ERR_ISO_FIELD',
      'settlementMethod',
    );
  });

  it('error: remittance info is a claim reference only (no free text, no patient data)', () => {
    for (const claimId of ['Chan Tai Man, HKID A123456(7)', 'claim 1', '', 'x'.repeat(65), '<x>'])
      expectError(
        () => buildPacs008(input({ remittanceInfo: { claimId } })),
        'MR_ERR_ISO_FIELD',
        'remittanceInfo.claimId',
      );
    expectError(
      () => buildPacs008(input({ remittanceInfo: 'free text' as never })),
      'MR_ERR_ISO_FIELD',
      'remittanceInfo.claimId',
    );
  });
});

describe('buildPacs002', () => {
  const original = buildPacs008(input());

  it('default: references the original and carries the status', () => {
    const s = buildPacs002(original, 'ACSC', undefined, { messageId: 'STS-1', createdAt: CREATED });
    expect(s).toEqual({
      msgType: 'pacs.002.001.10',
      GrpHdr: { MsgId: 'STS-1', CreDtTm: '2025-03-14T09:30:00.000Z' },
      TxInfAndSts: {
        OrgnlGrpInf: {
          OrgnlMsgId: 'MR-INSTR-1',
          OrgnlMsgNmId: 'pacs.008.001.08',
          OrgnlCreDtTm: '2025-03-14T09:30:00.000Z',
        },
        OrgnlInstrId: 'MR-INSTR-1',
        OrgnlEndToEndId: 'CLM-2025-0001',
        OrgnlUETR: UETR,
        TxSts: 'ACSC',
      },
    });
    const rj = buildPacs002(original, 'RJCT', 'AC04');
    expect(rj.TxInfAndSts.StsRsnInf).toEqual({ Rsn: { Cd: 'AC04' } });
    expect(rj.GrpHdr.MsgId).toMatch(/^[0-9a-f]{32}$/);
    for (const st of ['ACCP', 'PDNG'] as const) expect(buildPacs002(original, st).TxInfAndSts.TxSts).toBe(st);
  });

  it('error: bad status, RJCT without reason, bad reason, not a pacs.008', () => {
    expectError(() => buildPacs002(original, 'ACTC' as never), 'MR_ERR_ISO_FIELD', 'status');
    expectError(() => buildPacs002(original, 'RJCT'), 'MR_ERR_ISO_FIELD', 'reason');
    expectError(() => buildPacs002(original, 'RJCT', 'closed account'), 'MR_ERR_ISO_FIELD', 'reason');
    expectError(() => buildPacs002({} as Pacs008, 'ACSC'), 'MR_ERR_ISO_FIELD', 'original');
  });
});

describe('buildPacs004', () => {
  const original = buildPacs008(input());

  it('default: full and partial returns reference the original', () => {
    const full = buildPacs004(original, money('HKD', 123450n), 'AC04', {
      messageId: 'RTR-1',
      createdAt: CREATED,
    });
    expect(full).toEqual({
      msgType: 'pacs.004.001.09',
      GrpHdr: {
        MsgId: 'RTR-1',
        CreDtTm: '2025-03-14T09:30:00.000Z',
        NbOfTxs: '1',
        SttlmInf: { SttlmMtd: 'CLRG' },
      },
      TxInf: {
        RtrId: 'RTR-1',
        OrgnlGrpInf: {
          OrgnlMsgId: 'MR-INSTR-1',
          OrgnlMsgNmId: 'pacs.008.001.08',
          OrgnlCreDtTm: '2025-03-14T09:30:00.000Z',
        },
        OrgnlInstrId: 'MR-INSTR-1',
        OrgnlEndToEndId: 'CLM-2025-0001',
        OrgnlUETR: UETR,
        OrgnlIntrBkSttlmAmt: { Ccy: 'HKD', value: '1234.50' },
        RtrdIntrBkSttlmAmt: { Ccy: 'HKD', value: '1234.50' },
        IntrBkSttlmDt: '2025-03-14',
        ChrgBr: 'SLEV',
        RtrRsnInf: { Rsn: { Cd: 'AC04' } },
      },
    });
    const part = buildPacs004(original, money('HKD', 10_000n), 'AM09', { settlementDate: '2025-03-17' });
    expect(part.TxInf.RtrdIntrBkSttlmAmt).toEqual({ Ccy: 'HKD', value: '100.00' });
    expect(part.TxInf.IntrBkSttlmDt).toBe('2025-03-17');
    const narr = buildPacs004(original, money('HKD', 1n), 'NARR', {
      additionalInfo: 'Claim withdrawn by clinic',
    });
    expect(narr.TxInf.RtrRsnInf).toEqual({ Rsn: { Cd: 'NARR' }, AddtlInf: 'Claim withdrawn by clinic' });
  });

  it('error: returned amount larger, other currency, zero or not Money', () => {
    expectError(
      () => buildPacs004(original, money('HKD', 123451n), 'AM09'),
      'MR_ERR_ISO_AMOUNT',
      'returnedAmount',
    );
    expectError(
      () => buildPacs004(original, money('CNY', 100n), 'AM09'),
      'MR_ERR_ISO_AMOUNT',
      'returnedAmount',
    );
    expectError(
      () => buildPacs004(original, money('HKD', 0n), 'AM09'),
      'MR_ERR_ISO_AMOUNT',
      'returnedAmount',
    );
    expectError(
      () => buildPacs004(original, { currency: 'HKD', minor: 1.5 } as never, 'AM09'),
      'MR_ERR_MONEY_AMOUNT',
    );
  });

  it('error: bad reason codes and NARR without text', () => {
    expectError(() => buildPacs004(original, money('HKD', 1n), 'ac04'), 'MR_ERR_ISO_FIELD', 'reason');
    expectError(() => buildPacs004(original, money('HKD', 1n), 'NARR'), 'MR_ERR_ISO_FIELD', 'additionalInfo');
    expectError(
      () => buildPacs004(original, money('HKD', 1n), 'NARR', { additionalInfo: 'x'.repeat(106) }),
      'MR_ERR_ISO_FIELD',
      'additionalInfo',
    );
  });
});

describe('toXml', () => {
  const p008 = buildPacs008(input());

  it('default: pacs.008 is well formed, namespaced and maps the fields', () => {
    const xml = toXml(p008);
    expect(xml.startsWith('<?xml version="1.0" encoding="UTF-8"?>')).toBe(true);
    expect(xml).toContain(
      '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pacs.008.001.08"><FIToFICstmrCdtTrf>',
    );
    const { root, elements } = parseXml(xml);
    expect(root).toBe('Document');
    expect(elements).not.toContain('msgType');
    expect(text(xml, 'MsgId')).toEqual(['MR-INSTR-1']);
    expect(text(xml, 'NbOfTxs')).toEqual(['1']);
    expect(text(xml, 'SttlmMtd')).toEqual(['CLRG']);
    expect(text(xml, 'UETR')).toEqual([UETR]);
    expect(text(xml, 'EndToEndId')).toEqual(['CLM-2025-0001']);
    expect(xml).toContain('<IntrBkSttlmAmt Ccy="HKD">1234.50</IntrBkSttlmAmt>');
    expect(text(xml, 'XchgRate')).toEqual(['1.0873']);
    expect(text(xml, 'ChrgBr')).toEqual(['SLEV']);
    expect(text(xml, 'BICFI')).toEqual(['HSBCHKHHXXX']);
    expect(xml).toContain('<ClrSysMmbId><ClrSysId><Cd>HKNCC</Cd></ClrSysId><MmbId>012</MmbId></ClrSysMmbId>');
    expect(xml).toContain('<Purp><Cd>MDCS</Cd></Purp>');
    expect(text(xml, 'Ustrd')).toEqual([`/CLAIM/${CLAIM}`]);
    expect(text(xml, 'Nm')).toEqual(['Devnet Insurer Ltd']);
    expect(text(xml, 'Issr')).toEqual(['eip155:31003', 'eip155:31004']);
    expect(xml).toContain(
      `<DbtrAcct><Id><Othr><Id>LKXLMBJ7H2KMTONAT4ZWNFBV47XRX2XN</Id><SchmeNm><Prtry>EVMB32</Prtry></SchmeNm><Issr>eip155:31003</Issr></Othr></Id><Prxy><Tp><Prtry>CAIP10</Prtry></Tp><Id>${PAYER_ACCOUNT}</Id></Prxy></DbtrAcct>`,
    );
    expect(xml).toContain('<Cdtr></Cdtr>');
    // XSD sequence order inside CdtTrfTxInf (CreditTransferTransaction39)
    const order = [
      'PmtId',
      'IntrBkSttlmAmt',
      'IntrBkSttlmDt',
      'XchgRate',
      'ChrgBr',
      'Dbtr',
      'DbtrAcct',
      'DbtrAgt',
      'CdtrAgt',
      'Cdtr',
      'CdtrAcct',
      'Purp',
      'RmtInf',
    ];
    const idx = order.map((t) => elements.indexOf(t));
    expect([...idx].sort((a, b) => a - b)).toEqual(idx);
    expect(idx.every((i) => i >= 0)).toBe(true);
  });

  it('default: pacs.002 and pacs.004 roots and namespaces', () => {
    const x002 = toXml(buildPacs002(p008, 'RJCT', 'AC04'));
    expect(x002).toContain(
      '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pacs.002.001.10"><FIToFIPmtStsRpt>',
    );
    expect(parseXml(x002).elements).toEqual(
      expect.arrayContaining(['TxInfAndSts', 'OrgnlUETR', 'TxSts', 'StsRsnInf']),
    );
    expect(text(x002, 'TxSts')).toEqual(['RJCT']);
    expect(text(x002, 'OrgnlMsgNmId')).toEqual(['pacs.008.001.08']);
    const x004 = toXml(
      buildPacs004(p008, money('HKD', 500n), 'NARR', { additionalInfo: `Refund <"A&B"> 'x'` }),
    );
    expect(x004).toContain('<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pacs.004.001.09"><PmtRtr>');
    parseXml(x004);
    expect(x004).toContain('<RtrdIntrBkSttlmAmt Ccy="HKD">5.00</RtrdIntrBkSttlmAmt>');
    expect(x004).toContain('<OrgnlIntrBkSttlmAmt Ccy="HKD">1234.50</OrgnlIntrBkSttlmAmt>');
    expect(text(x004, 'AddtlInf')).toEqual(['Refund &lt;&quot;A&amp;B&quot;&gt; &apos;x&apos;']);
  });

  it('behavior: the checker itself rejects broken XML', () => {
    expect(() => parseXml('<a><b></a></b>')).toThrow();
    expect(() => parseXml('<a>x & y</a>')).toThrow();
    expect(() => parseXml('<a><b></b>')).toThrow();
    expect(() => parseXml('<a/><b/>')).toThrow();
  });

  it('behavior: escapes hostile text in any field and refuses characters XML cannot carry', () => {
    const hostile = structuredClone(p008);
    hostile.CdtTrfTxInf.RmtInf.Ustrd = '</Ustrd><Evil attr="1">&';
    const xml = toXml(hostile);
    parseXml(xml);
    expect(text(xml, 'Ustrd')).toEqual(['&lt;/Ustrd&gt;&lt;Evil attr=&quot;1&quot;&gt;&amp;']);
    const ctl = structuredClone(p008);
    ctl.CdtTrfTxInf.RmtInf.Ustrd = 'a\u0000b';
    expectError(() => toXml(ctl), 'MR_ERR_ISO_FIELD', 'xml');
    expectError(() => toXml({ msgType: 'pacs.009.001.08' } as never), 'MR_ERR_ISO_FIELD', 'msgType');
  });
});
