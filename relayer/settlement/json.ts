/**
 * JSON shapes of the settlement read side (API responses, `--json` CLI output): bigints become decimal strings,
 * amounts carry minor units, currency and major units, times are ISO 8601 UTC.
 */
import { bytesToHex } from '../../proofs/bytes.js';
import { pairHash } from '../../proofs/settlement/fx.js';
import { caip10 } from '../../proofs/settlement/iso20022.js';
import { type Currency, formatAmount, type Money, money } from '../../proofs/settlement/money.js';
import { endToEndIdOf, REFUND_REASON_CODES } from './pacs.js';
import { purposeCode } from './payload.js';
import { type ChainEventRef, type PaymentView, REFUND_REASONS } from './reader.js';

/** An amount: minor units as a decimal string, the ISO 4217 code, and major units with the currency's decimals. */
export interface AmountJson {
  minor: string;
  currency: Currency;
  value: string;
}

export function amountJson(currency: Currency, minor: bigint): AmountJson {
  return { minor: minor.toString(), currency, value: formatAmount(money(currency, minor)) };
}

const moneyJson = (m: Money): AmountJson => amountJson(m.currency, m.minor);
const time = (unixSeconds: bigint): string => new Date(Number(unixSeconds) * 1000).toISOString();

export interface EventJson {
  blockNumber: string;
  txHash: string;
  at: string;
}

const eventJson = (e: ChainEventRef): EventJson => ({
  blockNumber: e.blockNumber.toString(),
  txHash: e.txHash,
  at: time(e.timestamp),
});

const CNY_HKD = bytesToHex(pairHash('CNY/HKD'));

export interface PaymentJson {
  uetr: string;
  uetrHex: string;
  status: PaymentView['status'];
  state: PaymentView['state'];
  reference: string;
  endToEndId: string;
  chargeBearer: string;
  purpose: string;
  createdAt: string;
  source: {
    chain: string;
    chainId: string;
    gateway: string;
    channel: string;
    packetId: string;
    debtor: string;
    account: string;
    amount: AmountJson;
    timeoutAt: string;
    locked: EventJson;
  };
  destination: {
    chain?: string;
    chainId: string;
    creditor: string;
    account: string;
    currency: Currency;
    payout?: AmountJson;
    paidPacketId?: string;
  };
  quote?: { quoteId: string; pair: string; rate: string; validUntil: string; provider: string };
  outcome?: EventJson & {
    state: 'released' | 'refunded';
    refundReason?: number;
    refundReasonName?: string;
    reasonCode?: string;
    destinationError?: string;
  };
}

export function paymentJson(v: PaymentView): PaymentJson {
  const o = v.outcome;
  return {
    uetr: v.uetr,
    uetrHex: v.uetrHex,
    status: v.status,
    state: v.state,
    reference: v.reference,
    endToEndId: endToEndIdOf(v.reference),
    chargeBearer: v.chargeBearer,
    purpose: purposeCode(v.purpose) ?? v.purpose,
    createdAt: time(v.createdAt),
    source: {
      chain: v.source.chain,
      chainId: v.source.chainId.toString(),
      gateway: v.source.gateway,
      channel: v.source.channel,
      packetId: v.source.packetId,
      debtor: v.source.debtor,
      account: caip10(v.source.chainId, v.source.debtor),
      amount: moneyJson(v.source.amount),
      timeoutAt: time(v.source.timeoutTimestamp),
      locked: eventJson(v.source.locked),
    },
    destination: {
      ...(v.destination.chain ? { chain: v.destination.chain } : {}),
      chainId: v.destination.chainId.toString(),
      creditor: v.destination.creditor,
      account: caip10(v.destination.chainId, v.destination.creditor),
      currency: v.destination.currency,
      ...(v.destination.payout ? { payout: moneyJson(v.destination.payout) } : {}),
      ...(v.destination.paidPacketId ? { paidPacketId: v.destination.paidPacketId } : {}),
    },
    ...(v.quote
      ? {
          quote: {
            quoteId: v.quote.quoteId,
            pair: v.quote.pair === CNY_HKD ? 'CNY/HKD' : v.quote.pair,
            rate: v.quote.rate,
            validUntil: time(v.quote.validUntil),
            provider: v.quote.provider,
          },
        }
      : {}),
    ...(o
      ? {
          outcome: {
            state: o.state,
            ...eventJson(o.event),
            ...(o.refundReason
              ? {
                  refundReason: o.refundReason,
                  refundReasonName: REFUND_REASONS[o.refundReason],
                  reasonCode: REFUND_REASON_CODES[o.refundReason],
                }
              : {}),
            ...(o.destinationError ? { destinationError: o.destinationError } : {}),
          },
        }
      : {}),
  };
}
