/**
 * ISO 20022 messages of one on-chain payment (proofs/settlement/iso20022.ts builders), for a bank back office:
 *  - pacs.008 the credit transfer, as escrowed on the source;
 *  - pacs.002 its status: PDNG while in flight, ACSC once released (the destination paid and the ack came back),
 *    RJCT once refunded (with the reason code below);
 *  - pacs.004 the return of the escrow to the debtor, for refunded payments only.
 *
 * Field mapping (docs/settlement.md, "Reconciliation and ISO 20022 export"):
 *  - UETR = the payment's bytes16 as UUID text; InstrId = MsgId = `MR-` + its 32 hex digits (35 characters);
 *  - EndToEndId = `CLM-` + the first 31 hex digits of `Settlement.ref` (the claim id); RmtInf = `/CLAIM/<ref>`;
 *  - IntrBkSttlmAmt = the escrowed source amount; XchgRate = the FX quote's rate (1 CNY = rate HKD) when the
 *    currencies differ; IntrBkSttlmDt and CreDtTm = the send's block time (UTC);
 *  - Dbtr/DbtrAcct = the debtor's CAIP-10 account on the source chain, named by the source chain's
 *    `settlement.partyName`; Cdtr/CdtrAcct likewise on the destination; DbtrAgt/CdtrAgt = the two chains'
 *    `settlement.agent`;
 *  - Purp = the payment's 4 purpose bytes when they are an ISO code shape, else `OTHR`;
 *  - refund reason → reason code (pacs.002 StsRsnInf, ExternalStatusReason1Code; pacs.004 RtrRsnInf,
 *    ExternalReturnReason1Code; the same codes exist in both lists):
 *      1 destination refused  → AG01 "transaction forbidden" (the creditor side refused it; AddtlInf names the
 *                               destination's custom error, e.g. `FxQuoteExpired`),
 *      2 arrived expired      → TM01 "invalid cut-off time" (delivered after its timeout, not executed),
 *      3 timeout proven       → TM01 (never delivered before its timeout).
 * Message ids are derived from the UETR, so exporting twice gives the same ids and a bank can de-duplicate.
 */
import type { Hex } from '../../proofs/bytes.js';
import { ProofError } from '../../proofs/errors.js';
import {
  type AgentInput,
  buildPacs002,
  buildPacs004,
  buildPacs008,
  caip10,
  type IsoMessage,
  type Pacs002,
  type Pacs004,
  type Pacs008,
} from '../../proofs/settlement/iso20022.js';
import type { SettlementTopology } from './chains.js';
import { SettlementError } from './errors.js';
import { purposeCode } from './payload.js';
import type { PaymentView, RefundReason } from './reader.js';

export const PACS_TYPES = ['008', '002', '004'] as const;
export type PacsType = (typeof PACS_TYPES)[number];

/** Refund reason → ExternalReturnReason1Code / ExternalStatusReason1Code (module header). */
export const REFUND_REASON_CODES: Readonly<Record<RefundReason, string>> = {
  1: 'AG01',
  2: 'TM01',
  3: 'TM01',
};

/** Purpose code used when the payment's purpose bytes are not an ISO code. */
export const FALLBACK_PURPOSE = 'OTHR';

/** ISO 20022 identity of one side (config `chains[].settlement`). */
export interface SettlementParty {
  agent?: AgentInput;
  partyName?: string;
}

export interface PacsParties {
  source?: SettlementParty;
  destination?: SettlementParty;
}

export interface PacsOptions {
  /** CreDtTm of a pacs.002 for a pending payment (a status "as of now"). @defaultValue new Date() */
  now?: Date;
}

/** The parties of a payment's two chains from the topology. */
export function partiesOf(view: PaymentView, topology: SettlementTopology): PacsParties {
  const side = (name: string | undefined): SettlementParty | undefined => {
    const c = topology.chains.find((x) => x.name === name);
    return c
      ? { ...(c.agent ? { agent: c.agent } : {}), ...(c.partyName ? { partyName: c.partyName } : {}) }
      : undefined;
  };
  const source = side(view.source.chain);
  const destination = side(view.destination.chain);
  return { ...(source ? { source } : {}), ...(destination ? { destination } : {}) };
}

/** `CLM-` + the first 31 hex digits of the reference: 35 characters, Max35Text. */
export function endToEndIdOf(reference: Hex): string {
  return `CLM-${reference.slice(2, 33).toLowerCase()}`;
}

/** `MR-` + the 32 hex digits of the UETR. */
export function instructionIdOf(uetrHex: Hex): string {
  return `MR-${uetrHex.slice(2).toLowerCase()}`;
}

const date = (unixSeconds: bigint): Date => new Date(Number(unixSeconds) * 1000);
const isoDate = (unixSeconds: bigint): string => date(unixSeconds).toISOString().slice(0, 10);

/** Runs a builder; an ISO field it refuses becomes MR_ERR_SETTLEMENT_EXPORT naming the payment. */
function exporting<T>(view: PaymentView, what: string, build: () => T): T {
  try {
    return build();
  } catch (err) {
    if (err instanceof ProofError)
      throw new SettlementError(
        'MR_ERR_SETTLEMENT_EXPORT',
        `payment ${view.uetr} cannot be written as ${what}: ${err.message}`,
        { cause: err, details: { uetr: view.uetr, field: err.details.field ?? null } },
      );
    throw err;
  }
}

function agentOf(
  view: PaymentView,
  side: SettlementParty | undefined,
  which: 'source' | 'destination',
): AgentInput {
  if (side?.agent) return side.agent;
  const chain =
    which === 'source' ? view.source.chain : (view.destination.chain ?? `chain ${view.destination.chainId}`);
  throw new SettlementError(
    'MR_ERR_SETTLEMENT_AGENT',
    `payment ${view.uetr}: ${chain} has no settlement.agent in the config; pacs.008 needs a ${which === 'source' ? 'debtor' : 'creditor'} agent`,
    { details: { uetr: view.uetr, chain } },
  );
}

/**
 * @example toXml(pacs008For(await reader.payment(uetr), partiesOf(view, topology)))
 * @throws SettlementError MR_ERR_SETTLEMENT_AGENT, MR_ERR_SETTLEMENT_EXPORT
 */
export function pacs008For(view: PaymentView, parties: PacsParties): Pacs008 {
  const debtorAgent = agentOf(view, parties.source, 'source');
  const creditorAgent = agentOf(view, parties.destination, 'destination');
  return exporting(view, 'pacs.008', () =>
    buildPacs008({
      uetr: view.uetr,
      endToEndId: endToEndIdOf(view.reference),
      instructionId: instructionIdOf(view.uetrHex),
      createdAt: date(view.createdAt),
      amount: view.source.amount,
      ...(view.quote ? { exchangeRate: view.quote.rate } : {}),
      chargeBearer: view.chargeBearer,
      purpose: purposeCode(view.purpose) ?? FALLBACK_PURPOSE,
      remittanceInfo: { claimId: view.reference },
      debtor: {
        account: caip10(view.source.chainId, view.source.debtor),
        ...(parties.source?.partyName ? { name: parties.source.partyName } : {}),
      },
      creditor: {
        account: caip10(view.destination.chainId, view.destination.creditor),
        ...(parties.destination?.partyName ? { name: parties.destination.partyName } : {}),
      },
      debtorAgent,
      creditorAgent,
      settlementDate: isoDate(view.createdAt),
    }),
  );
}

/**
 * The status report: PDNG (dated `now`), ACSC or RJCT (dated at the release / refund block).
 *
 * @throws SettlementError MR_ERR_SETTLEMENT_AGENT, MR_ERR_SETTLEMENT_EXPORT
 */
export function pacs002For(view: PaymentView, parties: PacsParties, options: PacsOptions = {}): Pacs002 {
  const original = pacs008For(view, parties);
  const reason = view.outcome?.refundReason;
  return exporting(view, 'pacs.002', () =>
    buildPacs002(
      original,
      view.status,
      view.status === 'RJCT' && reason ? REFUND_REASON_CODES[reason] : undefined,
      {
        messageId: `MR-STS-${view.uetrHex.slice(2, 30)}`,
        createdAt: view.outcome ? date(view.outcome.event.timestamp) : (options.now ?? new Date()),
      },
    ),
  );
}

/**
 * The return of a refunded payment's escrow to its debtor, in full.
 *
 * @throws SettlementError MR_ERR_SETTLEMENT_NOT_REFUNDED (in flight or released), MR_ERR_SETTLEMENT_AGENT,
 *   MR_ERR_SETTLEMENT_EXPORT
 */
export function pacs004For(view: PaymentView, parties: PacsParties): Pacs004 {
  const outcome = view.outcome;
  if (view.state !== 'refunded' || !outcome?.refundReason)
    throw new SettlementError(
      'MR_ERR_SETTLEMENT_NOT_REFUNDED',
      `payment ${view.uetr} is ${view.state === 'inFlight' ? 'still in flight' : 'released (paid)'}; a pacs.004 return exists only for refunded payments`,
      { details: { uetr: view.uetr, state: view.state } },
    );
  const reason = outcome.refundReason;
  const original = pacs008For(view, parties);
  const info = `Refund ${reason}${outcome.destinationError ? `: destination refused (${outcome.destinationError})` : reason === 2 ? ': arrived after its timeout' : ': timeout proven'}`;
  return exporting(view, 'pacs.004', () =>
    buildPacs004(original, view.source.amount, REFUND_REASON_CODES[reason], {
      messageId: `MR-RTR-${view.uetrHex.slice(2, 30)}`,
      createdAt: date(outcome.event.timestamp),
      settlementDate: isoDate(outcome.event.timestamp),
      additionalInfo: info.slice(0, 105),
    }),
  );
}

/** One of the three messages by type. */
export function pacsFor(
  view: PaymentView,
  type: PacsType,
  parties: PacsParties,
  options: PacsOptions = {},
): IsoMessage {
  if (type === '008') return pacs008For(view, parties);
  if (type === '002') return pacs002For(view, parties, options);
  return pacs004For(view, parties);
}
