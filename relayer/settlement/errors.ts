/**
 * Errors of the settlement read side (reader, pacs export, reconciliation): `RelayerError`s with
 * `MR_ERR_SETTLEMENT_*` codes (docs/errors.md) and the HTTP status the API answers each with.
 */
import { type ErrorDetails, RelayerError } from '../../proofs/errors.js';

export const SETTLEMENT_ERROR_STATUS = {
  /** The UETR is not a UUID or a bytes16. */
  MR_ERR_SETTLEMENT_UETR: 400,
  /** No configured SettlementGateway holds a payment with that UETR as its source. */
  MR_ERR_SETTLEMENT_NOT_FOUND: 404,
  /** pacs.004 asked for a payment that was not refunded. */
  MR_ERR_SETTLEMENT_NOT_REFUNDED: 409,
  /** A chain of the payment has no `settlement.agent` in the config (pacs.008 needs both agents). */
  MR_ERR_SETTLEMENT_AGENT: 409,
  /** The on-chain payment cannot be written as ISO 20022 (e.g. a non-v4 UETR). */
  MR_ERR_SETTLEMENT_EXPORT: 422,
  /** No chain in the config has `contracts.settlementGateway`. */
  MR_ERR_SETTLEMENT_NOT_CONFIGURED: 503,
  /** A chain read failed (RPC down, contract missing at the configured address). */
  MR_ERR_SETTLEMENT_READ: 503,
  /** Chain data contradicts itself: the packet of a payment is missing or does not match it. */
  MR_ERR_SETTLEMENT_PAYLOAD: 502,
} as const satisfies Record<string, number>;

export type SettlementErrorCode = keyof typeof SETTLEMENT_ERROR_STATUS;

export class SettlementError extends RelayerError {
  declare readonly code: SettlementErrorCode;
  constructor(
    code: SettlementErrorCode,
    message: string,
    options: { details?: ErrorDetails; cause?: unknown } = {},
  ) {
    super(code, message, options);
  }

  get httpStatus(): number {
    return SETTLEMENT_ERROR_STATUS[this.code];
  }
}

export function isSettlementError(err: unknown): err is SettlementError {
  return err instanceof SettlementError;
}
