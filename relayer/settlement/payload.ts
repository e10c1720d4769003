/**
 * The SETTLEMENT packet payload, `abi.encode(Settlement)` (adapters/evm/contracts/SettlementTypes.sol), decoded
 * with ethers' AbiCoder. Field order is the wire format; the type string below is that struct, member by member.
 */
import { AbiCoder, getAddress } from 'ethers';
import type { Hex } from '../../proofs/bytes.js';
import { type Currency, currencyByNumeric } from '../../proofs/settlement/money.js';
import { SettlementError } from './errors.js';

/** `Settlement` as an ABI tuple type (SettlementTypes.sol; `FxQuote` nested). */
export const SETTLEMENT_TUPLE =
  'tuple(bytes16 uetr, bytes32 ref, address debtor, address creditor, uint16 sourceCurrency, uint128 sourceAmount, ' +
  'uint16 targetCurrency, uint8 chargeBearer, bytes4 purpose, uint64 createdAt, ' +
  'tuple(bytes32 quoteId, bytes32 pair, string rate, uint64 validUntil, address provider) quote, bytes quoteSignature)';

export const CHARGE_BEARER_CODES = ['DEBT', 'CRED', 'SHAR', 'SLEV'] as const;
export type ChargeBearerCode = (typeof CHARGE_BEARER_CODES)[number];

export interface SettlementQuote {
  quoteId: Hex;
  /** keccak256("CNY/HKD"). */
  pair: Hex;
  rate: string;
  validUntil: bigint;
  provider: Hex;
}

export interface DecodedSettlement {
  uetr: Hex;
  /** What it settles (the claim id): RmtInf and EndToEndId. */
  reference: Hex;
  debtor: Hex;
  creditor: Hex;
  sourceCurrency: Currency;
  sourceAmount: bigint;
  targetCurrency: Currency;
  chargeBearer: ChargeBearerCode;
  /** The 4 purpose bytes as hex (`0x4d444353` = "MDCS"). */
  purpose: Hex;
  createdAt: bigint;
  /** Absent when source and target currency are the same (the contract then requires an all-zero quote). */
  quote?: SettlementQuote;
  quoteSignature: Hex;
}

interface RawSettlement {
  uetr: string;
  ref: string;
  debtor: string;
  creditor: string;
  sourceCurrency: bigint;
  sourceAmount: bigint;
  targetCurrency: bigint;
  chargeBearer: bigint;
  purpose: string;
  createdAt: bigint;
  quote: { quoteId: string; pair: string; rate: string; validUntil: bigint; provider: string };
  quoteSignature: string;
}

const bad = (message: string, cause?: unknown): never => {
  throw new SettlementError('MR_ERR_SETTLEMENT_PAYLOAD', `SETTLEMENT payload: ${message}`, { cause });
};

/**
 * @example decodeSettlement(packet.payload).sourceAmount // 123450n
 * @throws SettlementError MR_ERR_SETTLEMENT_PAYLOAD (not an abi-encoded Settlement, or fields out of range)
 */
export function decodeSettlement(payload: Hex): DecodedSettlement {
  let raw: RawSettlement;
  try {
    raw = AbiCoder.defaultAbiCoder().decode([SETTLEMENT_TUPLE], payload)[0] as RawSettlement;
  } catch (err) {
    return bad('not an abi-encoded Settlement', err);
  }
  const cur = (n: bigint, field: string): Currency => {
    try {
      return currencyByNumeric(Number(n));
    } catch (err) {
      return bad(`${field} ${n} is not a supported ISO 4217 currency`, err);
    }
  };
  const cb = CHARGE_BEARER_CODES[Number(raw.chargeBearer)];
  if (cb === undefined) bad(`chargeBearer ${raw.chargeBearer} is not 0..3`);
  const sourceCurrency = cur(raw.sourceCurrency, 'sourceCurrency');
  const targetCurrency = cur(raw.targetCurrency, 'targetCurrency');
  const q = raw.quote;
  return {
    uetr: raw.uetr.toLowerCase() as Hex,
    reference: raw.ref.toLowerCase() as Hex,
    debtor: getAddress(raw.debtor) as Hex,
    creditor: getAddress(raw.creditor) as Hex,
    sourceCurrency,
    sourceAmount: raw.sourceAmount,
    targetCurrency,
    chargeBearer: cb!,
    purpose: raw.purpose.toLowerCase() as Hex,
    createdAt: raw.createdAt,
    ...(sourceCurrency === targetCurrency
      ? {}
      : {
          quote: {
            quoteId: q.quoteId.toLowerCase() as Hex,
            pair: q.pair.toLowerCase() as Hex,
            rate: q.rate,
            validUntil: q.validUntil,
            provider: getAddress(q.provider) as Hex,
          },
        }),
    quoteSignature: raw.quoteSignature.toLowerCase() as Hex,
  };
}

/** The purpose code as text when it is an ISO ExternalPurpose1Code shape (4 × A-Z/0-9), else undefined. */
export function purposeCode(purpose: Hex): string | undefined {
  const text = Buffer.from(purpose.slice(2), 'hex').toString('latin1');
  return /^[A-Z0-9]{4}$/.test(text) ? text : undefined;
}
