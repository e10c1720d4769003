/**
 * Claims and payments clients (docs/settlement.md):
 *  - `ClinicClient`: a clinic (the institution that anchored the record) submits a claim with the disclosed
 *    diagnosis Coding of that record through its chain's `ClaimSubmitter` (CLAIM packet to the insurer chain);
 *  - `ClaimsDeskClient`: the insurer registers policies (compiled coverage, proofs/settlement/claims.ts), reads
 *    adjudicated claims and pays approved ones with `ClaimSettlement.settleClaim` (escrow + SETTLEMENT packet) at
 *    a signed FX quote;
 *  - `FxQuoteDesk`: a quote provider signs `FxQuote`s (proofs/settlement/fx.ts) for the chain that will verify them.
 * Amounts are `Money` (integer minor units); everything is checked before a transaction is sent, so bad input is a
 * typed error (`MR_ERR_CLIENT_INPUT`, `MR_ERR_MONEY_*`, `MR_ERR_CLAIM_*`, `MR_ERR_FX_*`) and never a revert or a
 * half-done write.
 */
import { randomBytes } from 'node:crypto';
import { keccak256, toUtf8Bytes } from 'ethers';
import { bytesToHex, type Hex } from '../../../proofs/bytes.js';
import { secretKeyAddress } from '../../../proofs/eip712.js';
import type { ConceptMap } from '../../../proofs/records/conceptmap.js';
import { type DisclosureTree, disclose } from '../../../proofs/records/disclosure.js';
import { compilePolicy } from '../../../proofs/settlement/claims.js';
import { type FxQuote, pairHash, signQuote } from '../../../proofs/settlement/fx.js';
import {
  assertMoney,
  CURRENCIES,
  type Currency,
  currency,
  type Money,
} from '../../../proofs/settlement/money.js';
import type { Policy } from '../../../proofs/settlement/policy.js';
import { address, bytes32, ChainClient, type ChainConnection, uint64, type WriteResult } from './chain.js';
import { ClientError, clientInput } from './errors.js';

/** Most items a claim may carry (ClaimSettlement.MAX_CLAIM_ITEMS). */
export const MAX_CLAIM_ITEMS = 64;
/** `ClaimSettlement` decisions. */
export const CLAIM_DECISIONS = { 1: 'approved', 2: 'partial', 3: 'rejected' } as const;
export type ClaimDecisionName = (typeof CLAIM_DECISIONS)[keyof typeof CLAIM_DECISIONS];
/** `ClaimSettlement` settlement status of a claim. */
export const CLAIM_SETTLEMENT_STATUS = ['none', 'inFlight', 'paid', 'refunded'] as const;
export type ClaimSettlementStatus = (typeof CLAIM_SETTLEMENT_STATUS)[number];

const CONDITION_CODING_RE = /(?:^|\.)Condition\.code\.coding\[(?:0|[1-9][0-9]*)\]$/;
const ZERO_QUOTE = {
  quoteId: `0x${'00'.repeat(32)}`,
  pair: `0x${'00'.repeat(32)}`,
  rate: '',
  validUntil: 0n,
  provider: `0x${'00'.repeat(20)}`,
} as const;

/** A policy id as the contracts name it: keccak256 of the policy's text id (as `compilePolicy` registers it). */
export function policyIdHash(policyId: string): Hex {
  if (typeof policyId !== 'string' || policyId.trim().length === 0) clientInput('policyId', 'a policy id');
  return keccak256(toUtf8Bytes(policyId)) as Hex;
}

/** A service code as the bytes32 ClaimItem.code: ASCII, at most 32 characters, right-padded with zero bytes. */
export function serviceCode(code: string, field = 'code'): Hex {
  if (typeof code !== 'string' || !/^[\x21-\x7e]{1,32}$/.test(code))
    clientInput(field, 'a service code of 1..32 printable ASCII characters');
  return `0x${Buffer.from(code, 'ascii').toString('hex').padEnd(64, '0')}` as Hex;
}

/** A fresh UETR as the bytes16 the contracts carry, and its UUID v4 text. */
export function newUetrBytes(): { uetr: Hex; text: string } {
  const b = randomBytes(16);
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = b.toString('hex');
  return {
    uetr: `0x${h}` as Hex,
    text: `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`,
  };
}

/** bytes16 of a UETR given as UUID text or 0x + 32 hex. */
export function uetrBytes(uetr: string, field = 'uetr'): Hex {
  if (typeof uetr === 'string' && /^0x[0-9a-fA-F]{32}$/.test(uetr)) return uetr.toLowerCase() as Hex;
  if (
    typeof uetr === 'string' &&
    /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(uetr)
  )
    return `0x${uetr.replaceAll('-', '')}` as Hex;
  return clientInput(field, 'a UETR (UUID v4, lowercase) or 0x + 32 hex digits');
}

// ---------------------------------------------------------------------------------------------------- clinic

export interface ClaimItemInput {
  /** Tariff / service code (ASCII, ≤ 32 characters). */
  code: string;
  amount: Money;
}

export interface ClaimInput {
  /** bytes32; @defaultValue 32 random bytes */
  claimId?: string;
  /** The insurer's policy id, as registered (its text; the contracts see keccak256 of it). */
  policyId: string;
  /** The patient's pseudonym (bytes32): the record anchor's and the policy's insured. */
  patient: string;
  /** The patient's consent to the insurer (mirrored on the insurer chain). */
  consentId: string;
  /** Unix seconds. */
  serviceDate: bigint | number;
  items: readonly ClaimItemInput[];
  /** Where and in which currency the clinic is paid. */
  payout: { chainId: bigint | number; payee: string; currency: Currency };
}

/** The anchored record a claim discloses its diagnosis from (HospitalClient.anchorRecord's result). */
export interface ClaimRecord {
  recordId: string;
  tree: DisclosureTree;
}

export interface SubmittedClaim {
  claimId: Hex;
  packetId: Hex;
  txHash: Hex;
  gasUsed: bigint;
  /** The disclosed elements (a Coding's system and code): all the insurer learns of the record. */
  disclosed: { path: string; value: string }[];
}

export interface ClinicContracts {
  claimSubmitter: string;
}

export interface ClinicClientOptions extends ChainConnection {
  privateKey: string;
  contracts: ClinicContracts;
}

/** Checks a claim and turns it into the on-chain `Claim` tuple (throws before anything is sent). */
export function claimTuple(input: ClaimInput, recordId: string, codingPath: string) {
  if (typeof input !== 'object' || input === null) clientInput('claim', 'a claim object');
  const claimId =
    input.claimId === undefined ? (bytesToHex(randomBytes(32)) as Hex) : bytes32(input.claimId, 'claimId');
  if (!Array.isArray(input.items) || input.items.length === 0) clientInput('items', 'at least one item');
  if (input.items.length > MAX_CLAIM_ITEMS) clientInput('items', `at most ${MAX_CLAIM_ITEMS} items`);
  let cur: Currency | undefined;
  const items = input.items.map((it, i) => {
    const m = assertMoney(it?.amount, `items[${i}].amount`);
    if (cur !== undefined && m.currency !== cur)
      clientInput(`items[${i}].amount.currency`, `${cur} like the other items (one currency per claim)`);
    cur = m.currency;
    if (m.minor > (1n << 128n) - 1n) clientInput(`items[${i}].amount`, 'an amount below 2^128 minor units');
    return { code: serviceCode(it.code, `items[${i}].code`), amount: m.minor };
  });
  const payout = input.payout;
  if (typeof payout !== 'object' || payout === null) clientInput('payout', '{ chainId, payee, currency }');
  if (!CONDITION_CODING_RE.test(codingPath))
    clientInput(
      'codingPath',
      'the path of a Condition coding, e.g. Bundle.entry[1].resource.Condition.code.coding[0]',
    );
  return {
    claimId,
    policyId: policyIdHash(input.policyId),
    patient: bytes32(input.patient, 'patient'),
    recordId: bytes32(recordId, 'recordId'),
    consentId: bytes32(input.consentId, 'consentId'),
    serviceDate: uint64(input.serviceDate, 'serviceDate'),
    currency: CURRENCIES[cur!].numeric,
    items,
    payoutChain: uint64(payout.chainId, 'payout.chainId'),
    payee: address(payout.payee, 'payout.payee'),
    payoutCurrency: CURRENCIES[currency(payout.currency, 'payout.currency')].numeric,
    codingPath,
  };
}

export class ClinicClient {
  readonly chain: ChainClient;
  private readonly submitter: Hex;

  constructor(opts: ClinicClientOptions) {
    if (typeof opts?.privateKey !== 'string') clientInput('privateKey', 'the clinic institution key');
    this.chain = new ChainClient(opts);
    this.submitter = address(opts.contracts?.claimSubmitter, 'contracts.claimSubmitter');
  }

  /**
   * Submits `claim` to the insurer on `destChain`, disclosing only the diagnosis Coding at `codingPath` of `record`
   * (its `.system` and `.code` elements, with their multiproof against the anchored disclosure root).
   *
   * @throws ClientError MR_ERR_CLIENT_INPUT (bad field) | MR_ERR_CLIENT_REVERTED (NotRecordInstitution,
   *   ClaimExists, NoRoute…); ProofError MR_ERR_MONEY_* (bad amounts), MR_ERR_DISCLOSURE_PATH (no such coding)
   */
  async submitClaim(
    destChain: bigint | number,
    record: ClaimRecord,
    codingPath: string,
    claim: ClaimInput,
  ): Promise<SubmittedClaim> {
    const tuple = claimTuple(claim, record?.recordId, codingPath);
    const d = disclose(record.tree, [`${codingPath}.system`, `${codingPath}.code`]);
    const elements = d.elements.map((e) => ({ salt: e.salt, path: e.path, value: e.value }));
    const tx = await this.chain.write(this.submitter, 'ClaimSubmitter', 'submitClaim', [
      uint64(destChain, 'destChain'),
      tuple,
      elements,
      d.proof,
      d.proofFlags,
    ]);
    const sent = tx.events.find((e) => e.name === 'ClaimSubmitted');
    if (!sent) throw new ClientError('MR_ERR_CLIENT_REVERTED', 'submitClaim: no ClaimSubmitted event');
    return {
      claimId: tuple.claimId,
      packetId: String(sent.args.packetId) as Hex,
      txHash: tx.txHash,
      gasUsed: tx.gasUsed,
      disclosed: d.elements.map((e) => ({ path: e.path, value: e.value })),
    };
  }
}

// ---------------------------------------------------------------------------------------------------- FX desk

/** A signed quote as `settleClaim` takes it. */
export interface SignedQuote {
  quote: FxQuote;
  signature: Hex;
}

/**
 * Signs CNY/HKD quotes as an FX provider for the chain that will verify them (the settlement's destination).
 * A quote is single-use: every call mints a new quote id.
 */
export class FxQuoteDesk {
  readonly provider: Hex;

  constructor(
    private readonly privateKey: string,
    private readonly verifyingChainId: bigint | number,
  ) {
    const key = typeof privateKey === 'string' ? secretKeyAddress(privateKey as Hex) : undefined;
    if (!key) clientInput('privateKey', 'the FX provider secp256k1 key (0x + 64 hex digits)');
    this.provider = key.address;
    uint64(verifyingChainId, 'verifyingChainId');
  }

  /**
   * A quote "1 CNY = `rate` HKD" valid until `validUntil` (unix seconds).
   * @throws ProofError MR_ERR_FX_RATE (rate not a decimal string like "1.0873") | MR_ERR_FX_QUOTE
   */
  quote(rate: string, validUntil: bigint | number): SignedQuote {
    const quote: FxQuote = {
      quoteId: bytesToHex(randomBytes(32)) as Hex,
      base: 'CNY',
      quote: 'HKD',
      rate,
      validUntil,
      provider: this.provider,
    };
    return { quote, signature: signQuote(quote, this.verifyingChainId, this.privateKey as Hex) };
  }
}

/** The on-chain FxQuote tuple of a signed quote (pair as its hash, validUntil as uint64). */
export function quoteTuple(q: FxQuote) {
  return {
    quoteId: bytes32(q.quoteId, 'quote.quoteId'),
    pair: bytesToHex(pairHash(`${q.base}/${q.quote}` as 'CNY/HKD')) as Hex,
    rate: q.rate,
    validUntil: uint64(q.validUntil, 'quote.validUntil'),
    provider: address(q.provider, 'quote.provider'),
  };
}

// ---------------------------------------------------------------------------------------------------- insurer

export interface ClaimsDeskContracts {
  claimSettlement: string;
}

export interface ClaimsDeskClientOptions extends ChainConnection {
  contracts: ClaimsDeskContracts;
}

/** A claim as the insurer chain recorded it. */
export interface AdjudicatedClaim {
  claimId: Hex;
  policyId: Hex;
  decision: ClaimDecisionName | 'none';
  /** Reason bitmask (bit i = policy.ts REASON_CODES[i]). */
  reasons: number;
  total: bigint;
  payable: bigint;
  patientShare: bigint;
  payoutChain: bigint;
  payee: Hex;
  payoutCurrency: number;
  settlement: ClaimSettlementStatus;
  uetr: Hex;
}

export interface SettleOptions {
  /** A quote signed for the payout chain; omit when the payout currency is the policy currency. */
  quote?: SignedQuote;
  /** @defaultValue a fresh UETR */
  uetr?: string;
  /** Destination unix seconds after which the payment is refunded. @defaultValue 0 (gateway default, 1 h) */
  timeoutTimestamp?: bigint | number;
}

export interface SentSettlement {
  uetr: Hex;
  packetId: Hex;
  txHash: Hex;
  gasUsed: bigint;
}

export class ClaimsDeskClient {
  readonly chain: ChainClient;
  readonly claimSettlement: Hex;

  constructor(opts: ClaimsDeskClientOptions) {
    this.chain = new ChainClient(opts);
    this.claimSettlement = address(opts.contracts?.claimSettlement, 'contracts.claimSettlement');
  }

  /**
   * Registers (or updates the rules of) `policy` for the patient `insured`, its coverage compiled through
   * `codeMap` (owner of the ClaimSettlement only).
   * @throws ProofError MR_ERR_CLAIM_INVALID (malformed policy); ClientError MR_ERR_CLIENT_REVERTED
   */
  async registerPolicy(
    policy: Policy,
    insured: string,
    codeMap?: ConceptMap,
  ): Promise<WriteResult & { policyId: Hex }> {
    const c = compilePolicy(policy, bytes32(insured, 'insured'), codeMap);
    const tx = await this.chain.write(this.claimSettlement, 'ClaimSettlement', 'setPolicy', [
      c.policyId,
      c.policy,
      c.covered,
      c.excluded,
      c.systems,
    ]);
    return { ...tx, policyId: c.policyId };
  }

  /** The claim `claimId` as recorded (decision 'none' if unknown). */
  async claim(claimId: string): Promise<AdjudicatedClaim> {
    const id = bytes32(claimId, 'claimId');
    const [r] = await this.chain.read(this.claimSettlement, 'ClaimSettlement', 'claim', [id]);
    const rec = r as Record<string, unknown>;
    const decision = Number(rec.decision) as 0 | 1 | 2 | 3;
    return {
      claimId: id,
      policyId: String(rec.policyId) as Hex,
      decision: decision === 0 ? 'none' : CLAIM_DECISIONS[decision],
      reasons: Number(rec.reasons),
      total: BigInt(rec.total as bigint),
      payable: BigInt(rec.payableAmount as bigint),
      patientShare: BigInt(rec.patientShare as bigint),
      payoutChain: BigInt(rec.payoutChain as bigint),
      payee: String(rec.payee) as Hex,
      payoutCurrency: Number(rec.payoutCurrency),
      settlement: CLAIM_SETTLEMENT_STATUS[Number(rec.settlement)] ?? 'none',
      uetr: String(rec.uetr) as Hex,
    };
  }

  /**
   * Pays an approved or partly approved claim: escrows its payable in the policy currency and sends the SETTLEMENT
   * packet to the payout chain (payer accounts only). A claim is paid at most once; after a proven refund it may
   * be settled again with a new UETR and quote.
   * @throws ClientError MR_ERR_CLIENT_INPUT | MR_ERR_CLIENT_REVERTED (NotPayable, AlreadySettling, AlreadyPaid,
   *   NotPayer, UnsupportedPair, DuplicateSettlement…)
   */
  async settleClaim(claimId: string, opts: SettleOptions = {}): Promise<SentSettlement> {
    const id = bytes32(claimId, 'claimId');
    const uetr = opts.uetr === undefined ? newUetrBytes().uetr : uetrBytes(opts.uetr);
    const quote = opts.quote ? quoteTuple(opts.quote.quote) : ZERO_QUOTE;
    const signature = opts.quote ? opts.quote.signature : '0x';
    const timeout =
      opts.timeoutTimestamp === undefined ? 0n : uint64(opts.timeoutTimestamp, 'timeoutTimestamp');
    const tx = await this.chain.write(this.claimSettlement, 'ClaimSettlement', 'settleClaim', [
      id,
      uetr,
      quote,
      signature,
      timeout,
    ]);
    const sent = tx.events.find((e) => e.name === 'ClaimSettlementSent');
    if (!sent) throw new ClientError('MR_ERR_CLIENT_REVERTED', 'settleClaim: no ClaimSettlementSent event');
    return { uetr, packetId: String(sent.args.packetId) as Hex, txHash: tx.txHash, gasUsed: tx.gasUsed };
  }
}
