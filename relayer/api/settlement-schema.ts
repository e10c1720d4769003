/**
 * JSON schemas of the settlement routes' responses: the payment view (relayer/settlement/json.ts), the
 * reconciliation report, and the ISO 20022 messages as JSON (proofs/settlement/iso20022.ts; keys are the XML
 * tags). Closed (`additionalProperties: false`) like every response schema here, so only listed fields are sent.
 */
import {
  ACCOUNT_PROXY_TYPE,
  ACCOUNT_SCHEME,
  PACS002,
  PACS004,
  PACS008,
} from '../../proofs/settlement/iso20022.js';

type Schema = Record<string, unknown>;

/**
 * A closed object schema; every property is required except those named in `optional`. Properties are listed in
 * XSD order for readers of the OpenAPI document; JSON output order is not significant (the XML keeps XSD order).
 */
function obj(
  properties: Record<string, Schema>,
  optional: readonly string[] = [],
  description?: string,
): Schema {
  return {
    type: 'object',
    additionalProperties: false,
    ...(description ? { description } : {}),
    required: Object.keys(properties).filter((k) => !optional.includes(k)),
    properties,
  };
}

const str: Schema = { type: 'string' };
const hex = (bytes: number, description?: string): Schema => ({
  type: 'string',
  pattern: `^0x[0-9a-fA-F]{${bytes * 2}}$`,
  ...(description ? { description } : {}),
});
const decimal: Schema = { type: 'string', pattern: '^[0-9]+$', description: 'decimal integer' };
const dateTime: Schema = { type: 'string', format: 'date-time' };
const currency: Schema = { type: 'string', enum: ['CNY', 'HKD', 'MOP'], description: 'ISO 4217' };

export const amountSchema = obj(
  {
    minor: { ...decimal, description: 'integer minor units, decimal' },
    currency,
    value: { type: 'string', description: 'major units with the currency decimals, e.g. "1234.50"' },
  },
  [],
  'An amount: minor units, currency and major units',
);

const eventSchema = {
  blockNumber: decimal,
  txHash: hex(32),
  at: dateTime,
};

export const paymentSchema = obj(
  {
    uetr: { type: 'string', description: 'unique end-to-end transaction reference (UUID)' },
    uetrHex: hex(16, 'the UETR as the contracts carry it (bytes16)'),
    status: { type: 'string', enum: ['PDNG', 'ACSC', 'RJCT'], description: 'ISO 20022 status' },
    state: { type: 'string', enum: ['inFlight', 'released', 'refunded'] },
    reference: hex(32, 'what it settles (the claim id)'),
    endToEndId: str,
    chargeBearer: { type: 'string', enum: ['DEBT', 'CRED', 'SHAR', 'SLEV'] },
    purpose: { type: 'string', description: 'ISO ExternalPurpose1Code, or the raw bytes4 as hex' },
    createdAt: dateTime,
    source: obj({
      chain: str,
      chainId: decimal,
      gateway: hex(20),
      channel: hex(32),
      packetId: hex(32),
      debtor: hex(20),
      account: { type: 'string', description: 'CAIP-10 account of the debtor' },
      amount: amountSchema,
      timeoutAt: dateTime,
      locked: obj(eventSchema),
    }),
    destination: obj(
      {
        chain: {
          type: 'string',
          description: 'absent when the destination chain has no gateway in the config',
        },
        chainId: decimal,
        creditor: hex(20),
        account: { type: 'string', description: 'CAIP-10 account of the creditor' },
        currency,
        payout: amountSchema,
        paidPacketId: hex(32),
      },
      ['chain', 'payout', 'paidPacketId'],
    ),
    quote: obj({ quoteId: hex(32), pair: str, rate: str, validUntil: dateTime, provider: hex(20) }),
    outcome: obj(
      {
        state: { type: 'string', enum: ['released', 'refunded'] },
        ...eventSchema,
        refundReason: { type: 'integer', enum: [1, 2, 3] },
        refundReasonName: { type: 'string', enum: ['DESTINATION_REFUSED', 'ARRIVED_EXPIRED', 'TIMEOUT'] },
        reasonCode: { type: 'string', description: 'ISO reason code of pacs.002 RJCT / pacs.004' },
        destinationError: { type: 'string', description: 'the custom error the destination refused with' },
      },
      ['refundReason', 'refundReasonName', 'reasonCode', 'destinationError'],
    ),
  },
  ['quote', 'outcome'],
  'A settlement payment as its source and destination gateways record it',
);

export const reconciliationSchema = obj(
  {
    ok: { type: 'boolean', description: 'true when no invariant is violated' },
    rows: {
      type: 'array',
      items: obj(
        {
          channel: hex(32),
          name: str,
          sourceChain: str,
          destChain: str,
          currency,
          ok: { type: 'boolean' },
          locked: amountSchema,
          released: amountSchema,
          refunded: amountSchema,
          inFlight: amountSchema,
          destination: obj({ receivedSource: amountSchema, unacknowledged: amountSchema }, [
            'unacknowledged',
          ]),
        },
        ['name', 'destination'],
      ),
    },
    gateways: {
      type: 'array',
      items: obj({
        chain: str,
        currency,
        ok: { type: 'boolean' },
        escrowed: amountSchema,
        balance: amountSchema,
        inFlight: amountSchema,
      }),
    },
    violations: {
      type: 'array',
      items: obj(
        {
          invariant: {
            type: 'string',
            enum: [
              'LEDGER_BALANCED',
              'ESCROW_MATCHES_IN_FLIGHT',
              'ESCROW_BACKED',
              'DESTINATION_NOT_BEHIND',
              'DESTINATION_UNACKED_IN_FLIGHT',
            ],
          },
          currency,
          channel: hex(32),
          chain: str,
          left: amountSchema,
          right: amountSchema,
          message: str,
        },
        ['channel', 'chain'],
      ),
    },
  },
  [],
  'Settlement ledgers per channel and currency, per gateway and currency, and every violated invariant',
);

// ---- ISO 20022 messages as JSON ----------------------------------------------------------------------------

const isoAmount = obj({ Ccy: currency, value: str });
const agent = obj({
  FinInstnId: obj({ BICFI: str, ClrSysMmbId: obj({ ClrSysId: obj({ Cd: str }), MmbId: str }) }, [
    'BICFI',
    'ClrSysMmbId',
  ]),
});
const party = obj({ Nm: str }, ['Nm']);
const account = obj({
  Id: obj({
    Othr: obj({ Id: str, SchmeNm: obj({ Prtry: { type: 'string', enum: [ACCOUNT_SCHEME] } }), Issr: str }),
  }),
  Prxy: obj({ Tp: obj({ Prtry: { type: 'string', enum: [ACCOUNT_PROXY_TYPE] } }), Id: str }),
});
const sttlmInf = obj({ SttlmMtd: { type: 'string', enum: ['INDA', 'INGA', 'COVE', 'CLRG'] } });
const orgnlGrpInf = obj({ OrgnlMsgId: str, OrgnlMsgNmId: str, OrgnlCreDtTm: str });
const chargeBearer = { type: 'string', enum: ['DEBT', 'CRED', 'SHAR', 'SLEV'] };

export const pacs008Schema = obj(
  {
    msgType: { type: 'string', enum: [PACS008] },
    GrpHdr: obj({ MsgId: str, CreDtTm: str, NbOfTxs: str, SttlmInf: sttlmInf }),
    CdtTrfTxInf: obj(
      {
        PmtId: obj({ InstrId: str, EndToEndId: str, UETR: str }),
        IntrBkSttlmAmt: isoAmount,
        IntrBkSttlmDt: str,
        XchgRate: str,
        ChrgBr: chargeBearer,
        Dbtr: party,
        DbtrAcct: account,
        DbtrAgt: agent,
        CdtrAgt: agent,
        Cdtr: party,
        CdtrAcct: account,
        Purp: obj({ Cd: str }),
        RmtInf: obj({ Ustrd: str }),
      },
      ['XchgRate'],
    ),
  },
  [],
  `${PACS008} FIToFICustomerCreditTransfer as JSON (keys are the XML tags)`,
);

export const pacs002Schema = obj(
  {
    msgType: { type: 'string', enum: [PACS002] },
    GrpHdr: obj({ MsgId: str, CreDtTm: str }),
    TxInfAndSts: obj(
      {
        OrgnlGrpInf: orgnlGrpInf,
        OrgnlInstrId: str,
        OrgnlEndToEndId: str,
        OrgnlUETR: str,
        TxSts: { type: 'string', enum: ['ACSC', 'ACCP', 'RJCT', 'PDNG'] },
        StsRsnInf: obj({ Rsn: obj({ Cd: str }) }),
      },
      ['StsRsnInf'],
    ),
  },
  [],
  `${PACS002} FIToFIPaymentStatusReport as JSON`,
);

export const pacs004Schema = obj(
  {
    msgType: { type: 'string', enum: [PACS004] },
    GrpHdr: obj({ MsgId: str, CreDtTm: str, NbOfTxs: str, SttlmInf: sttlmInf }),
    TxInf: obj({
      RtrId: str,
      OrgnlGrpInf: orgnlGrpInf,
      OrgnlInstrId: str,
      OrgnlEndToEndId: str,
      OrgnlUETR: str,
      OrgnlIntrBkSttlmAmt: isoAmount,
      RtrdIntrBkSttlmAmt: isoAmount,
      IntrBkSttlmDt: str,
      ChrgBr: chargeBearer,
      RtrRsnInf: obj({ Rsn: obj({ Cd: str }), AddtlInf: str }, ['AddtlInf']),
    }),
  },
  [],
  `${PACS004} PaymentReturn as JSON`,
);
