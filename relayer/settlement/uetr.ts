/**
 * UETR forms: the contracts carry a payment's unique end-to-end id as `bytes16`; people, ISO 20022 and the API use
 * its UUID text (RFC 9562, lowercase). Both are accepted as input; any UUID layout is read (the gateway accepts any
 * non-zero bytes16), and the ISO export later insists on version 4.
 */
import type { Hex } from '../../proofs/bytes.js';
import { SettlementError } from './errors.js';

const UUID_RE = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const BYTES16_RE = /^0x[0-9a-fA-F]{32}$/;

/** Pattern of a UETR in a URL (UUID text or 0x + 32 hex), for route schemas. */
export const UETR_PATTERN =
  '^([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|0x[0-9a-fA-F]{32})$';

export interface Uetr {
  /** Lowercase UUID text, e.g. `3f2504e0-4f89-41d3-9a0c-0305e82c3301`. */
  text: string;
  /** The same 16 bytes as the contracts' `bytes16`, lowercase. */
  hex: Hex;
}

/** The UUID text of a bytes16. */
export function uetrText(hex: string): string {
  const h = hex.slice(2).toLowerCase();
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/**
 * @example parseUetr('3F2504E0-4F89-41D3-9A0C-0305E82C3301').hex // '0x3f2504e04f8941d39a0c0305e82c3301'
 * @throws SettlementError MR_ERR_SETTLEMENT_UETR (neither a UUID nor 0x + 32 hex digits, or all zero)
 */
export function parseUetr(input: string): Uetr {
  let hex: string;
  if (typeof input === 'string' && UUID_RE.test(input)) hex = `0x${input.replaceAll('-', '')}`;
  else if (typeof input === 'string' && BYTES16_RE.test(input)) hex = input;
  else
    throw new SettlementError(
      'MR_ERR_SETTLEMENT_UETR',
      `malformed UETR ${JSON.stringify(String(input).slice(0, 48))}: expected a UUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx) or 0x + 32 hex digits`,
    );
  hex = hex.toLowerCase();
  if (/^0x0{32}$/.test(hex))
    throw new SettlementError('MR_ERR_SETTLEMENT_UETR', 'the zero UETR names no payment');
  return { text: uetrText(hex), hex: hex as Hex };
}
