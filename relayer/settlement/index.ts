/**
 * The settlement read side in one object: a payment by UETR, its ISO 20022 messages, and the reconciliation
 * report. The API routes and the CLI take a `SettlementQueries`; tests can pass a fake.
 */
import type { IsoMessage } from '../../proofs/settlement/iso20022.js';
import type { ReconcileReport } from '../../proofs/settlement/reconcile.js';
import type { SettlementTopology } from './chains.js';
import { type PacsOptions, type PacsType, pacsFor, partiesOf } from './pacs.js';
import { type PaymentView, type ReaderOptions, SettlementReader } from './reader.js';
import { readReconciliation } from './reconciliation.js';

export interface SettlementQueries {
  /** @throws SettlementError MR_ERR_SETTLEMENT_UETR | _NOT_FOUND | _READ | _PAYLOAD */
  payment(uetr: string): Promise<PaymentView>;
  /** @throws SettlementError as `payment`, and MR_ERR_SETTLEMENT_NOT_REFUNDED | _AGENT | _EXPORT */
  message(uetr: string, type: PacsType, options?: PacsOptions): Promise<IsoMessage>;
  /** @throws SettlementError MR_ERR_SETTLEMENT_READ */
  reconciliation(): Promise<ReconcileReport>;
}

/**
 * @example
 * const q = settlementQueries(settlementTopology(config, (c) => new JsonRpcClient(c.rpcUrl))!);
 * toXml(await q.message('3f2504e0-4f89-41d3-9a0c-0305e82c3301', '008'));
 */
export function settlementQueries(
  topology: SettlementTopology,
  options: ReaderOptions = {},
): SettlementQueries {
  const reader = new SettlementReader(topology, options);
  return {
    payment: (uetr) => reader.payment(uetr),
    async message(uetr, type, opts) {
      const view = await reader.payment(uetr);
      return pacsFor(view, type, partiesOf(view, topology), opts);
    },
    reconciliation: () => readReconciliation(reader),
  };
}

export {
  type SettlementChain,
  type SettlementChannel,
  type SettlementRpc,
  type SettlementTopology,
  settlementTopology,
} from './chains.js';
export {
  isSettlementError,
  SETTLEMENT_ERROR_STATUS,
  SettlementError,
  type SettlementErrorCode,
} from './errors.js';
export { type AmountJson, amountJson, type EventJson, type PaymentJson, paymentJson } from './json.js';
export {
  endToEndIdOf,
  FALLBACK_PURPOSE,
  instructionIdOf,
  PACS_TYPES,
  type PacsParties,
  type PacsType,
  pacs002For,
  pacs004For,
  pacs008For,
  pacsFor,
  partiesOf,
  REFUND_REASON_CODES,
  type SettlementParty,
} from './pacs.js';
export { type DecodedSettlement, decodeSettlement, purposeCode, SETTLEMENT_TUPLE } from './payload.js';
export {
  type ChainEventRef,
  type PaymentState,
  type PaymentStatusCode,
  type PaymentView,
  REFUND_REASONS,
  type RefundReason,
  SettlementReader,
} from './reader.js';
export { type ReconciliationJson, readReconciliation, reconciliationJson } from './reconciliation.js';
export { parseUetr, UETR_PATTERN, type Uetr, uetrText } from './uetr.js';
