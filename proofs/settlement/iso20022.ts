/**
 * ISO 20022 messages for a bank back office (DESIGN §6: one end-to-end id per payment, as pacs.008 UETR):
 *  - pacs.008.001.08 FIToFICustomerCreditTransfer (`FIToFICstmrCdtTrf`): the settlement instruction;
 *  - pacs.002.001.10 FIToFIPaymentStatusReport (`FIToFIPmtStsRpt`): ACSC / ACCP / RJCT / PDNG for one pacs.008;
 *  - pacs.004.001.09 PaymentReturn (`PmtRtr`): a full or partial return of one pacs.008.
 *
 * The builders return typed JSON whose keys are the ISO 20022 XML tags, in XSD sequence order, so `toXml` can
 * serialise them as they stand. An object with a `value` member is an element with text `value` and its other
 * members as attributes (`IntrBkSttlmAmt: { Ccy: 'HKD', value: '1234.50' }`). `msgType` names the message
 * definition and is not serialised.
 *
 * Scope: the fields medrelay fills (group header, ids, amount, dates, rate, charges, debtor and creditor with
 * their accounts, agents, purpose, remittance). This is not a full document for every market practice (CBPR+,
 * HKICL), but each element present has its XSD name, place, cardinality and format.
 *
 * Accounts are on-chain accounts, named by CAIP-10 (`eip155:<chainId>:<address>`). A CAIP-10 id of an EVM
 * address is at least 51 characters and `Othr/Id` is Max34Text, so the account is written twice
 * (CashAccount38, pacs.008.001.08):
 *   `Id/Othr`: `Id` = the 20 address bytes in RFC 4648 base32 (32 characters, lossless), `SchmeNm/Prtry` =
 *              `EVMB32`, `Issr` = the CAIP-2 chain (`eip155:<chainId>`), so the mandatory id stays XSD-valid;
 *   `Prxy`:    `Tp/Prtry` = `CAIP10`, `Id` = the CAIP-10 text (Max2048Text) — what a person or a tool reads.
 *
 * Privacy: the remittance information is built from a claim id only (`/CLAIM/<id>`); there is no free-text
 * field through which patient data could reach a bank.
 *
 * Amounts come only from `Money` (integer minor units, money.ts) and are written with the currency's decimals.
 */
import { randomUUID } from 'node:crypto';
import { hexToBytes } from '../bytes.js';
import { checksumAddress } from '../eip712.js';
import { ProofError } from '../errors.js';
import { assertMoney, formatAmount, type Money, parseAmount } from './money.js';

export const PACS008 = 'pacs.008.001.08';
/** `SchmeNm/Prtry` of an account id that is an EVM address in base32 (module header). */
export const ACCOUNT_SCHEME = 'EVMB32';
/** `Prxy/Tp/Prtry` of an account proxy that is a CAIP-10 account id. */
export const ACCOUNT_PROXY_TYPE = 'CAIP10';
export const PACS002 = 'pacs.002.001.10';
export const PACS004 = 'pacs.004.001.09';
export const ISO20022_NAMESPACE = {
  [PACS008]: 'urn:iso:std:iso:20022:tech:xsd:pacs.008.001.08',
  [PACS002]: 'urn:iso:std:iso:20022:tech:xsd:pacs.002.001.10',
  [PACS004]: 'urn:iso:std:iso:20022:tech:xsd:pacs.004.001.09',
} as const;

export type ChargeBearer = 'DEBT' | 'CRED' | 'SHAR' | 'SLEV';
export type SettlementMethod = 'INDA' | 'INGA' | 'COVE' | 'CLRG';
export type PaymentStatus = 'ACSC' | 'ACCP' | 'RJCT' | 'PDNG';
const CHARGE_BEARERS: readonly string[] = ['DEBT', 'CRED', 'SHAR', 'SLEV'];
const SETTLEMENT_METHODS: readonly string[] = ['INDA', 'INGA', 'COVE', 'CLRG'];
const STATUSES: readonly string[] = ['ACSC', 'ACCP', 'RJCT', 'PDNG'];

/** An agent by BIC, or by clearing-system member id (e.g. `{ clearingSystem: 'HKNCC', memberId: '004' }`). */
export type AgentInput = { bic: string } | { clearingSystem: string; memberId: string };

export interface FinInstnId {
  BICFI?: string;
  ClrSysMmbId?: { ClrSysId: { Cd: string }; MmbId: string };
}
export interface Agent {
  FinInstnId: FinInstnId;
}
/** PartyIdentification135: only the name (Max140Text); the account identifies the party. */
export interface Party {
  Nm?: string;
}
/** CashAccount38 with the on-chain account (see the module header). */
export interface CashAccount {
  Id: { Othr: { Id: string; SchmeNm: { Prtry: typeof ACCOUNT_SCHEME }; Issr: string } };
  Prxy: { Tp: { Prtry: typeof ACCOUNT_PROXY_TYPE }; Id: string };
}
/** A debtor or creditor: an on-chain account and, optionally, a name. */
export interface PartyInput {
  /** CAIP-10 account id `eip155:<chainId>:<address>` (see {@link caip10}). */
  account: string;
  /** Dbtr/Cdtr `Nm`, 1..140 characters: an organisation's name, never a patient's. */
  name?: string;
}
export interface Amount {
  Ccy: string;
  /** Decimal text in major units, e.g. "1234.50". */
  value: string;
}

export interface Pacs008 {
  msgType: typeof PACS008;
  GrpHdr: { MsgId: string; CreDtTm: string; NbOfTxs: '1'; SttlmInf: { SttlmMtd: SettlementMethod } };
  CdtTrfTxInf: {
    PmtId: { InstrId: string; EndToEndId: string; UETR: string };
    IntrBkSttlmAmt: Amount;
    IntrBkSttlmDt: string;
    XchgRate?: string;
    ChrgBr: ChargeBearer;
    Dbtr: Party;
    DbtrAcct: CashAccount;
    DbtrAgt: Agent;
    CdtrAgt: Agent;
    Cdtr: Party;
    CdtrAcct: CashAccount;
    Purp: { Cd: string };
    RmtInf: { Ustrd: string };
  };
}

interface OrgnlGrpInf {
  OrgnlMsgId: string;
  OrgnlMsgNmId: typeof PACS008;
  OrgnlCreDtTm: string;
}

export interface Pacs002 {
  msgType: typeof PACS002;
  GrpHdr: { MsgId: string; CreDtTm: string };
  TxInfAndSts: {
    OrgnlGrpInf: OrgnlGrpInf;
    OrgnlInstrId: string;
    OrgnlEndToEndId: string;
    OrgnlUETR: string;
    TxSts: PaymentStatus;
    StsRsnInf?: { Rsn: { Cd: string } };
  };
}

export interface Pacs004 {
  msgType: typeof PACS004;
  GrpHdr: { MsgId: string; CreDtTm: string; NbOfTxs: '1'; SttlmInf: { SttlmMtd: SettlementMethod } };
  TxInf: {
    RtrId: string;
    OrgnlGrpInf: OrgnlGrpInf;
    OrgnlInstrId: string;
    OrgnlEndToEndId: string;
    OrgnlUETR: string;
    OrgnlIntrBkSttlmAmt: Amount;
    RtrdIntrBkSttlmAmt: Amount;
    IntrBkSttlmDt: string;
    ChrgBr: ChargeBearer;
    RtrRsnInf: { Rsn: { Cd: string }; AddtlInf?: string };
  };
}

export type IsoMessage = Pacs008 | Pacs002 | Pacs004;

export interface Pacs008Input {
  /** UETR (UUID v4, lowercase); generated with {@link newUetr} when omitted. Keep it: a retry must reuse it. */
  uetr?: string;
  endToEndId: string;
  instructionId: string;
  /** GrpHdr/MsgId; defaults to `instructionId` (one transaction per message). */
  messageId?: string;
  /** GrpHdr/CreDtTm; defaults to now. */
  createdAt?: Date;
  amount: Money;
  /** XchgRate (BaseOneRate: ≤ 11 digits, ≤ 10 decimals), e.g. the FX quote's rate. */
  exchangeRate?: string;
  chargeBearer: ChargeBearer;
  /** ExternalPurpose1Code, e.g. 'MDCS' (medical services), 'HLTI' (health insurance). */
  purpose: string;
  /** Only a reference to the claim; becomes RmtInf/Ustrd `/CLAIM/<claimId>`. */
  remittanceInfo: { claimId: string };
  /** Who pays (Dbtr, DbtrAcct): e.g. the payer's account on the source chain. */
  debtor: PartyInput;
  /** Who is paid (Cdtr, CdtrAcct): e.g. the clinic's account on the destination chain. */
  creditor: PartyInput;
  debtorAgent: AgentInput;
  creditorAgent: AgentInput;
  /** IntrBkSttlmDt, ISO date YYYY-MM-DD. */
  settlementDate: string;
  /** Defaults to 'CLRG'. */
  settlementMethod?: SettlementMethod;
}

export interface ReplyOptions {
  messageId?: string;
  createdAt?: Date;
}

const UETR_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
// BICFIDec2014Identifier.
const BIC_RE = /^[A-Z0-9]{4}[A-Z]{2}[A-Z0-9]{2}([A-Z0-9]{3})?$/;
// Max35Text restricted to the SWIFT "x" character set (CBPR+), no leading/trailing space.
const ID_RE = /^[A-Za-z0-9/\-?:().,'+](?:[A-Za-z0-9/\-?:().,'+ ]{0,33}[A-Za-z0-9/\-?:().,'+])?$/;
const CLAIM_RE = /^(0x[0-9a-fA-F]{64}|[A-Za-z0-9][A-Za-z0-9-]{0,63})$/;
const CODE4_RE = /^[A-Z0-9]{4}$/;
const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/;

function fail(field: string, message: string): never {
  throw new ProofError('MR_ERR_ISO_FIELD', `${field}: ${message}`, { details: { field } });
}

function amountFail(field: string, message: string): never {
  throw new ProofError('MR_ERR_ISO_AMOUNT', `${field}: ${message}`, { details: { field } });
}

/** A fresh UETR: UUID v4, lowercase (RFC 9562; what SWIFT gpi and CBPR+ require). */
export function newUetr(): string {
  return randomUUID();
}

export function isUetr(v: unknown): v is string {
  return typeof v === 'string' && UETR_RE.test(v);
}

function id35(v: unknown, field: string): string {
  if (typeof v !== 'string' || !ID_RE.test(v))
    fail(
      field,
      "expected 1..35 characters of the SWIFT set (A-Z a-z 0-9 / - ? : ( ) . , ' + space), no edge spaces",
    );
  return v;
}

function oneOf<T extends string>(v: unknown, allowed: readonly string[], field: string): T {
  if (typeof v !== 'string' || !allowed.includes(v)) fail(field, `expected one of ${allowed.join(', ')}`);
  return v as T;
}

function code4(v: unknown, field: string): string {
  if (typeof v !== 'string' || !CODE4_RE.test(v))
    fail(field, 'expected a 4-character ISO external code (A-Z, 0-9)');
  return v;
}

function isoDate(v: unknown, field: string): string {
  const m = typeof v === 'string' ? DATE_RE.exec(v) : null;
  if (!m) return fail(field, 'expected an ISO date YYYY-MM-DD');
  const [y, mo, d] = [+m[1]!, +m[2]!, +m[3]!];
  const t = new Date(Date.UTC(y, mo - 1, d));
  if (y < 1 || t.getUTCFullYear() !== y || t.getUTCMonth() !== mo - 1 || t.getUTCDate() !== d)
    fail(field, `${v} is not a calendar date`);
  return v as string;
}

function isoDateTime(v: unknown, field: string): string {
  if (!(v instanceof Date) || Number.isNaN(v.getTime())) fail(field, 'expected a valid Date');
  return v.toISOString();
}

function agent(v: unknown, field: string): Agent {
  if (typeof v !== 'object' || v === null)
    return fail(field, 'expected { bic } or { clearingSystem, memberId }');
  const a = v as Record<string, unknown>;
  if ('bic' in a) {
    if (typeof a.bic !== 'string' || !BIC_RE.test(a.bic))
      fail(`${field}.bic`, 'expected an 8- or 11-character BIC (ISO 9362), uppercase');
    return { FinInstnId: { BICFI: a.bic } };
  }
  if (typeof a.clearingSystem !== 'string' || !/^[A-Z]{1,5}$/.test(a.clearingSystem))
    fail(
      `${field}.clearingSystem`,
      'expected an ExternalClearingSystemIdentification1Code (1-5 letters), e.g. HKNCC, CNAPS',
    );
  if (typeof a.memberId !== 'string' || !/^[A-Za-z0-9]{1,35}$/.test(a.memberId))
    fail(`${field}.memberId`, 'expected 1..35 letters or digits');
  return { FinInstnId: { ClrSysMmbId: { ClrSysId: { Cd: a.clearingSystem }, MmbId: a.memberId } } };
}

const CAIP10_RE = /^eip155:([1-9][0-9]{0,31}):(0x[0-9a-fA-F]{40})$/;
const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** RFC 4648 base32, uppercase, no padding (20 bytes → 32 characters). */
function base32(bytes: Uint8Array): string {
  let out = '';
  let bits = 0;
  let acc = 0;
  for (const b of bytes) {
    acc = ((acc << 8) | b) & 0xffff;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += BASE32[(acc >> bits) & 31];
    }
  }
  if (bits > 0) out += BASE32[(acc << (5 - bits)) & 31];
  return out;
}

/**
 * The CAIP-10 id of an EVM account, address EIP-55 checksummed.
 *
 * @example caip10(31003n, '0x00000000000000000000000000000000000000aa') // 'eip155:31003:0x0000…00aA'
 * @throws ProofError MR_ERR_ISO_FIELD (chain id not a positive integer, address not 20 bytes hex)
 */
export function caip10(chainId: bigint | number, address: string, field = 'account'): string {
  const id = typeof chainId === 'bigint' ? chainId : Number.isSafeInteger(chainId) ? BigInt(chainId) : -1n;
  if (id <= 0n) fail(field, 'expected a positive EIP-155 chain id');
  return parseCaip10(`eip155:${id}:${address}`, field).text;
}

function parseCaip10(v: unknown, field: string): { text: string; chain: string; address: string } {
  const m = typeof v === 'string' ? CAIP10_RE.exec(v) : null;
  if (!m) return fail(field, 'expected a CAIP-10 account id eip155:<chainId>:<0x + 40 hex address>');
  const raw = m[2]!;
  const sum = checksumAddress(raw);
  const body = raw.slice(2);
  if (body !== body.toLowerCase() && body !== body.toUpperCase() && sum !== raw)
    fail(field, `bad EIP-55 checksum in ${raw}`);
  return { text: `eip155:${m[1]}:${sum}`, chain: `eip155:${m[1]}`, address: sum };
}

function party(v: unknown, field: string): { party: Party; account: CashAccount } {
  if (typeof v !== 'object' || v === null) return fail(field, 'expected { account, name? }');
  const p = v as Record<string, unknown>;
  const acct = parseCaip10(p.account, `${field}.account`);
  const name = p.name;
  if (name !== undefined && (typeof name !== 'string' || name.trim().length === 0 || name.length > 140))
    fail(`${field}.name`, 'expected 1..140 characters');
  return {
    party: name === undefined ? {} : { Nm: name },
    account: {
      Id: {
        Othr: {
          Id: base32(hexToBytes(acct.address, `${field}.account`)),
          SchmeNm: { Prtry: ACCOUNT_SCHEME },
          Issr: acct.chain,
        },
      },
      Prxy: { Tp: { Prtry: ACCOUNT_PROXY_TYPE }, Id: acct.text },
    },
  };
}

/** ActiveCurrencyAndAmount: ≤ 18 digits in all, ≤ 5 decimals (Money's exponent is 2). */
function isoAmount(m: unknown, field: string, positive: boolean): Amount {
  const money = assertMoney(m, field);
  if (positive && money.minor === 0n) amountFail(field, 'amount must be greater than zero');
  const value = formatAmount(money);
  if (value.replace('.', '').length > 18)
    amountFail(field, 'more than 18 digits (ISO 20022 ActiveCurrencyAndAmount)');
  return { Ccy: money.currency, value };
}

function exchangeRate(v: unknown): string {
  // BaseOneRate: decimal, totalDigits 11, fractionDigits 10, > 0.
  if (
    typeof v !== 'string' ||
    !/^(0|[1-9]\d*)(\.\d{1,10})?$/.test(v) ||
    v.replace('.', '').replace(/^0+/, '').length > 11
  )
    fail('exchangeRate', 'expected a positive decimal with ≤ 11 digits and ≤ 10 decimals');
  if (!/[1-9]/.test(v)) fail('exchangeRate', 'must be greater than zero');
  return v;
}

/**
 * Builds a pacs.008.001.08 for one interbank credit transfer.
 *
 * @example
 * buildPacs008({ endToEndId: 'CLM-2025-0001', instructionId: 'MR-1', amount: money('HKD', 123450n),
 *   chargeBearer: 'SLEV', purpose: 'MDCS', remittanceInfo: { claimId: 'CLM-2025-0001' },
 *   debtor: { account: 'eip155:31003:0x…', name: 'Devnet Insurer Ltd' }, creditor: { account: 'eip155:31004:0x…' },
 *   debtorAgent: { bic: 'HSBCHKHHXXX' }, creditorAgent: { bic: 'BKCHHKHH' }, settlementDate: '2025-03-14' })
 * @throws ProofError MR_ERR_ISO_FIELD (details.field names it), MR_ERR_ISO_AMOUNT, MR_ERR_MONEY_*
 */
export function buildPacs008(input: Pacs008Input): Pacs008 {
  if (typeof input !== 'object' || input === null) fail('(root)', 'expected an object');
  const uetr = input.uetr === undefined ? newUetr() : input.uetr;
  if (!isUetr(uetr)) fail('uetr', 'expected a lowercase UUID v4 (xxxxxxxx-xxxx-4xxx-[89ab]xxx-xxxxxxxxxxxx)');
  const instructionId = id35(input.instructionId, 'instructionId');
  const endToEndId = id35(input.endToEndId, 'endToEndId');
  const messageId = id35(input.messageId ?? instructionId, 'messageId');
  const claim = input.remittanceInfo?.claimId;
  if (typeof claim !== 'string' || !CLAIM_RE.test(claim))
    fail('remittanceInfo.claimId', 'expected a claim id (bytes32 hex, or 1..64 letters, digits and "-")');
  const debtor = party(input.debtor, 'debtor');
  const creditor = party(input.creditor, 'creditor');
  // Key order is XSD sequence order (CreditTransferTransaction39): toXml writes the keys as they stand.
  const tx: Pacs008['CdtTrfTxInf'] = {
    PmtId: { InstrId: instructionId, EndToEndId: endToEndId, UETR: uetr },
    IntrBkSttlmAmt: isoAmount(input.amount, 'amount', true),
    IntrBkSttlmDt: isoDate(input.settlementDate, 'settlementDate'),
    ...(input.exchangeRate === undefined ? {} : { XchgRate: exchangeRate(input.exchangeRate) }),
    ChrgBr: oneOf<ChargeBearer>(input.chargeBearer, CHARGE_BEARERS, 'chargeBearer'),
    Dbtr: debtor.party,
    DbtrAcct: debtor.account,
    DbtrAgt: agent(input.debtorAgent, 'debtorAgent'),
    CdtrAgt: agent(input.creditorAgent, 'creditorAgent'),
    Cdtr: creditor.party,
    CdtrAcct: creditor.account,
    Purp: { Cd: code4(input.purpose, 'purpose') },
    RmtInf: { Ustrd: `/CLAIM/${claim}` },
  };
  return {
    msgType: PACS008,
    GrpHdr: {
      MsgId: messageId,
      CreDtTm: isoDateTime(input.createdAt ?? new Date(), 'createdAt'),
      NbOfTxs: '1',
      SttlmInf: {
        SttlmMtd: oneOf<SettlementMethod>(
          input.settlementMethod ?? 'CLRG',
          SETTLEMENT_METHODS,
          'settlementMethod',
        ),
      },
    },
    CdtTrfTxInf: tx,
  };
}

function original008(v: unknown): Pacs008 {
  const o = v as Pacs008 | null;
  if (typeof o !== 'object' || o === null || o.msgType !== PACS008 || !isUetr(o.CdtTrfTxInf?.PmtId?.UETR))
    fail('original', `expected a ${PACS008} built by buildPacs008`);
  return o;
}

function replyHeader(opts: ReplyOptions): { MsgId: string; CreDtTm: string } {
  return {
    MsgId: id35(opts.messageId ?? newUetr().replace(/-/g, ''), 'messageId'),
    CreDtTm: isoDateTime(opts.createdAt ?? new Date(), 'createdAt'),
  };
}

function orgnlGrpInf(o: Pacs008): OrgnlGrpInf {
  return { OrgnlMsgId: o.GrpHdr.MsgId, OrgnlMsgNmId: PACS008, OrgnlCreDtTm: o.GrpHdr.CreDtTm };
}

/**
 * pacs.002.001.10 status report for one pacs.008. A rejection (RJCT) must give an ExternalStatusReason1Code
 * (e.g. 'AC04' closed account, 'AM04' insufficient funds).
 *
 * @example buildPacs002(p008, 'RJCT', 'AC04')
 * @throws ProofError MR_ERR_ISO_FIELD
 */
export function buildPacs002(
  original: Pacs008,
  status: PaymentStatus,
  reason?: string,
  options: ReplyOptions = {},
): Pacs002 {
  const o = original008(original);
  const sts = oneOf<PaymentStatus>(status, STATUSES, 'status');
  if (sts === 'RJCT' && reason === undefined) fail('reason', 'a rejection (RJCT) needs a reason code');
  const tx: Pacs002['TxInfAndSts'] = {
    OrgnlGrpInf: orgnlGrpInf(o),
    OrgnlInstrId: o.CdtTrfTxInf.PmtId.InstrId,
    OrgnlEndToEndId: o.CdtTrfTxInf.PmtId.EndToEndId,
    OrgnlUETR: o.CdtTrfTxInf.PmtId.UETR,
    TxSts: sts,
    ...(reason === undefined ? {} : { StsRsnInf: { Rsn: { Cd: code4(reason, 'reason') } } }),
  };
  return { msgType: PACS002, GrpHdr: replyHeader(options), TxInfAndSts: tx };
}

export interface Pacs004Options extends ReplyOptions {
  /** RtrId; defaults to the message id. */
  returnId?: string;
  /** Required for reason 'NARR' (Max105Text); no patient data. */
  additionalInfo?: string;
  /** IntrBkSttlmDt of the return; defaults to the UTC date of `createdAt`. */
  settlementDate?: string;
  /** Defaults to the original's ChrgBr. */
  chargeBearer?: ChargeBearer;
}

/**
 * pacs.004.001.09 return of (part of) a pacs.008. The returned amount must be in the original currency,
 * positive and not above the original amount. Reason: an ExternalReturnReason1Code, e.g. 'AC04' closed
 * account, 'AM09' wrong amount, 'NARR' narrative (then `additionalInfo` is required).
 *
 * @example buildPacs004(p008, money('HKD', 123450n), 'AC04')
 * @throws ProofError MR_ERR_ISO_FIELD, MR_ERR_ISO_AMOUNT, MR_ERR_MONEY_*
 */
export function buildPacs004(
  original: Pacs008,
  returnedAmount: Money,
  reason: string,
  options: Pacs004Options = {},
): Pacs004 {
  const o = original008(original);
  const rtrd = isoAmount(returnedAmount, 'returnedAmount', true);
  const orig = o.CdtTrfTxInf.IntrBkSttlmAmt;
  if (rtrd.Ccy !== orig.Ccy)
    amountFail('returnedAmount', `currency ${rtrd.Ccy} differs from the original ${orig.Ccy}`);
  if (assertMoney(returnedAmount).minor > parseAmount(orig.value, orig.Ccy).minor)
    amountFail('returnedAmount', `${rtrd.value} is more than the original ${orig.value} ${orig.Ccy}`);
  const code = code4(reason, 'reason');
  const info = options.additionalInfo;
  if (info !== undefined && (typeof info !== 'string' || info.length === 0 || info.length > 105))
    fail('additionalInfo', 'expected 1..105 characters');
  if (code === 'NARR' && info === undefined) fail('additionalInfo', "reason 'NARR' needs additionalInfo");
  const header = replyHeader(options);
  return {
    msgType: PACS004,
    GrpHdr: { ...header, NbOfTxs: '1', SttlmInf: { SttlmMtd: o.GrpHdr.SttlmInf.SttlmMtd } },
    TxInf: {
      RtrId: id35(options.returnId ?? header.MsgId, 'returnId'),
      OrgnlGrpInf: orgnlGrpInf(o),
      OrgnlInstrId: o.CdtTrfTxInf.PmtId.InstrId,
      OrgnlEndToEndId: o.CdtTrfTxInf.PmtId.EndToEndId,
      OrgnlUETR: o.CdtTrfTxInf.PmtId.UETR,
      OrgnlIntrBkSttlmAmt: { ...orig },
      RtrdIntrBkSttlmAmt: rtrd,
      IntrBkSttlmDt: isoDate(options.settlementDate ?? header.CreDtTm.slice(0, 10), 'settlementDate'),
      ChrgBr: oneOf<ChargeBearer>(
        options.chargeBearer ?? o.CdtTrfTxInf.ChrgBr,
        CHARGE_BEARERS,
        'chargeBearer',
      ),
      RtrRsnInf: { Rsn: { Cd: code }, ...(info === undefined ? {} : { AddtlInf: info }) },
    },
  };
}

const ROOT_ELEMENT = {
  [PACS008]: 'FIToFICstmrCdtTrf',
  [PACS002]: 'FIToFIPmtStsRpt',
  [PACS004]: 'PmtRtr',
} as const;

const NAME_RE = /^[A-Za-z][A-Za-z0-9]*$/;

/** XML 1.0 text/attribute escaping; characters XML 1.0 cannot carry at all are refused, not dropped. */
export function escapeXml(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: these are exactly the characters refused.
  if (/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/.test(text))
    fail('xml', 'text contains a character XML 1.0 cannot carry');
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

function element(name: string, v: unknown, out: string[]): void {
  if (v === undefined) return;
  if (!NAME_RE.test(name)) fail('xml', `bad element name ${name}`);
  if (typeof v === 'string') {
    out.push(`<${name}>${escapeXml(v)}</${name}>`);
    return;
  }
  if (Array.isArray(v)) {
    for (const item of v) element(name, item, out);
    return;
  }
  if (typeof v !== 'object' || v === null) fail('xml', `${name}: expected text or an element object`);
  const o = v as Record<string, unknown>;
  if ('value' in o) {
    let attrs = '';
    for (const [k, a] of Object.entries(o)) {
      if (k === 'value' || a === undefined) continue;
      if (!NAME_RE.test(k) || typeof a !== 'string') fail('xml', `${name}@${k}: expected a text attribute`);
      attrs += ` ${k}="${escapeXml(a)}"`;
    }
    if (typeof o.value !== 'string') fail('xml', `${name}: expected text value`);
    out.push(`<${name}${attrs}>${escapeXml(o.value)}</${name}>`);
    return;
  }
  out.push(`<${name}>`);
  for (const [k, child] of Object.entries(o)) element(k, child, out);
  out.push(`</${name}>`);
}

/**
 * Serialises a message as a minimal well-formed ISO 20022 document:
 * `<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pacs.008.001.08"><FIToFICstmrCdtTrf>…`.
 * Element order is the builders' (XSD sequence order); all text and attributes are escaped.
 *
 * @throws ProofError MR_ERR_ISO_FIELD (unknown msgType, or text XML cannot carry)
 */
export function toXml(msg: IsoMessage): string {
  const type = (msg as { msgType?: unknown } | null)?.msgType;
  if (type !== PACS008 && type !== PACS002 && type !== PACS004)
    fail('msgType', `expected one of ${PACS008}, ${PACS002}, ${PACS004}`);
  const { msgType: _omit, ...body } = msg;
  const out: string[] = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<Document xmlns="${ISO20022_NAMESPACE[type]}">`,
  ];
  element(ROOT_ELEMENT[type], body, out);
  out.push('</Document>');
  return out.join('');
}
