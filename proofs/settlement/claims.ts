/**
 * Claim coverage compiled for the chain (`ClaimSettlement`, docs/settlement.md): policy.ts decides claims in
 * TypeScript with a FHIR ConceptMap; the contract cannot walk a ConceptMap, so the policy's covered and
 * excluded codes are expanded here, once, into flat lists of coding keys it can look up.
 *
 *  - coding key = keccak256(abi.encode(string system, string code)) — Solidity `abi.encode` of two strings,
 *    hand-rolled (proofs/ stays free of ethers); the tests cross-check it against ethers' AbiCoder;
 *  - a system hash = keccak256(bytes(system));
 *  - `compilePolicy` expands every covered/excluded Coding through the map exactly as policy.ts matches a
 *    diagnosis: a coding in another system belongs to the list iff `codesMatch(map, coding, listed)` is true
 *    (same concept or narrower). Every coding the map mentions (element codes and target codes, with their
 *    group's system) is a candidate, since `codesMatch` reads mappings in both directions;
 *  - exclusions win: a key that is both covered and excluded is listed as excluded only (policy.ts checks
 *    exclusion after coverage and rejects with EXCLUDED, so coverage of that key is never observable); a covered
 *    coding that policy.ts could not compare with some excluded code (no map, or the map silent about it) is
 *    not listed as covered either, since policy.ts refuses it (CODE_UNMAPPED at the exclusion step);
 *  - `systems` are the systems the lists are complete for: the listed codes' own systems plus every system one
 *    map group away from them (a group maps source ↔ target, and `codesMatch` never chains two groups). On chain
 *    a diagnosis whose system is in `systems` and whose key is in neither list is NOT_COVERED; one in another
 *    system is CODE_UNMAPPED. Divergence from policy.ts, by construction: a code of a listed system that the
 *    map never mentions is CODE_UNMAPPED in policy.ts but NOT_COVERED on chain — a flat list cannot say "the
 *    map is silent about this code"; so is a covered coding dropped for an unmappable exclusion (above), and a
 *    coding that is excluded but not covered is EXCLUDED on chain, NOT_COVERED in policy.ts. The reason code
 *    may differ, the outcome never does: a diagnosis is payable on chain exactly when policy.ts lets it
 *    through the coverage and exclusion gates (test/unit/settlement-claims.test.ts checks this).
 *  - adjudication reasons travel as a uint16 bitmask, bit i = `REASON_CODES[i]` (policy.ts); decisions as
 *    1 Approved, 2 Partial, 3 Rejected.
 *
 * Pure; errors are `ProofError` with `MR_ERR_CLAIM_*` codes (docs/errors.md).
 */
import { bigintToBytes, bytesToHex, concatBytes, type Hex, padLeft } from '../bytes.js';
import { ProofError } from '../errors.js';
import { keccak256 } from '../keccak.js';
import { checkCode, isKnownCodeSystem } from '../records/codes.js';
import { type Coding, type ConceptMap, codesMatch, parseConceptMap } from '../records/conceptmap.js';
import { CURRENCIES, isCurrency, MAX_MINOR } from './money.js';
import { type Decision, type Policy, REASON_CODES, type ReasonCode } from './policy.js';

const UTF8 = new TextEncoder();
const BYTES32_RE = /^0x[0-9a-fA-F]{64}$/;
const UINT64_MAX = (1n << 64n) - 1n;

function fail(code: string, field: string, message: string, cause?: unknown): never {
  throw new ProofError(code, `${field}: ${message}`, { details: { field }, cause });
}

const invalid = (field: string, message: string, cause?: unknown): never =>
  fail('MR_ERR_CLAIM_INVALID', field, message, cause);

const word = (n: bigint): Uint8Array => padLeft(bigintToBytes(n), 32);

/** ABI tail of a dynamic `string`/`bytes`: length word, then the data right-padded to a 32-byte multiple. */
function dynamicTail(data: Uint8Array): Uint8Array {
  const padded = new Uint8Array(data.length + ((32 - (data.length % 32)) % 32));
  padded.set(data);
  return concatBytes(word(BigInt(data.length)), padded);
}

function text(v: unknown, field: string): string {
  if (typeof v !== 'string' || v.length === 0) return invalid(field, 'expected a non-empty string');
  return v;
}

/**
 * The key `ClaimSettlement` looks a diagnosis up by: keccak256(abi.encode(system, code)).
 *
 * @example codingKey('http://hl7.org/fhir/sid/icd-10', 'I10')
 * // === ethers.keccak256(AbiCoder.defaultAbiCoder().encode(['string', 'string'], [system, code]))
 * @throws ProofError MR_ERR_CLAIM_INVALID (empty or non-string system or code)
 */
export function codingKey(system: string, code: string): Hex {
  const a = dynamicTail(UTF8.encode(text(system, 'system')));
  const b = dynamicTail(UTF8.encode(text(code, 'code')));
  // Two dynamic arguments: two head words holding their offsets, then the tails in order.
  return bytesToHex(keccak256(concatBytes(word(64n), word(BigInt(64 + a.length)), a, b)));
}

/**
 * keccak256(bytes(system)): how `ClaimSettlement.systems` names a code system.
 *
 * @example systemHash('http://snomed.info/sct')
 * @throws ProofError MR_ERR_CLAIM_INVALID
 */
export function systemHash(system: string): Hex {
  return bytesToHex(keccak256(UTF8.encode(text(system, 'system'))));
}

/** The `Policy` struct of ClaimAdjudication.sol, in its field order (amounts in minor units of `currency`). */
export interface PolicyTerms {
  /** Patient pseudonym (bytes32, non-zero), lowercase: must equal `Claim.patient`. */
  insured: Hex;
  /** ISO 4217 numeric (156 CNY, 344 HKD, 446 MOP). */
  currency: number;
  /** Unix seconds, inclusive. */
  validFrom: bigint;
  /** Unix seconds, exclusive. */
  validUntil: bigint;
  perClaimLimit: bigint;
  deductible: bigint;
  annualCap: bigint;
  /** 0..10 000. */
  coPayBasisPoints: number;
}

/** A policy as `ClaimSettlement` stores it: the arguments of its policy setter. */
export interface CompiledPolicy {
  /** keccak256 of the UTF-8 policy id: the `Claim.policyId` clinics send. */
  policyId: Hex;
  policy: PolicyTerms;
  /** Coding keys a diagnosis is covered by, sorted, excluded keys removed. */
  covered: Hex[];
  /** Coding keys that exclude a diagnosis, sorted. */
  excluded: Hex[];
  /** System hashes the two lists are complete for, sorted. */
  systems: Hex[];
}

function checkCoding(v: unknown, field: string): Coding {
  if (typeof v !== 'object' || v === null) return invalid(field, 'expected a Coding { system, code }');
  const c = v as Record<string, unknown>;
  const system = text(c.system, `${field}.system`);
  const code = text(c.code, `${field}.code`);
  if (isKnownCodeSystem(system)) {
    try {
      checkCode(system, code);
    } catch (err) {
      invalid(`${field}.code`, err instanceof Error ? err.message : String(err), err);
    }
  }
  return { system, code };
}

function checkCodings(v: unknown, field: string, allowEmpty: boolean): Coding[] {
  if (v === undefined && allowEmpty) return [];
  if (!Array.isArray(v)) return invalid(field, 'expected an array of Codings');
  if (!allowEmpty && v.length === 0) invalid(field, 'at least one code is required');
  return v.map((c, i) => checkCoding(c, `${field}[${i}]`));
}

function minorOf(v: unknown, field: string, currency: string): bigint {
  if (typeof v !== 'object' || v === null) return invalid(field, 'expected { currency, minor }');
  const m = v as { currency?: unknown; minor?: unknown };
  if (m.currency !== currency) invalid(`${field}.currency`, `expected ${currency}`);
  if (typeof m.minor !== 'bigint' || m.minor < 0n || m.minor > MAX_MINOR)
    invalid(`${field}.minor`, 'expected a bigint of minor units in 0 .. 2^128 − 1');
  return m.minor as bigint;
}

function seconds(v: unknown, field: string): bigint {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0)
    return invalid(field, 'expected unix seconds (a non-negative safe integer)');
  const n = BigInt(v);
  if (n > UINT64_MAX) invalid(field, 'above uint64');
  return n;
}

/** Every coding the map mentions: element codes in their group's source system, target codes in its target. */
function mapCodings(map: ConceptMap): Coding[] {
  const seen = new Map<string, Coding>();
  const add = (system: string, code: string) => {
    const k = `${system}\u0000${code}`;
    if (!seen.has(k)) seen.set(k, { system, code });
  };
  for (const g of map.group) {
    for (const e of g.element) {
      add(g.source, e.code);
      for (const t of e.target) if (t.code !== undefined) add(g.target, t.code);
    }
  }
  return [...seen.values()];
}

/** policy.ts `matchAny` of one coding against one listed code: 'match', 'unmapped' or 'none'. */
function matchOne(d: Coding, listed: Coding, map: ConceptMap | undefined): 'match' | 'unmapped' | 'none' {
  if (d.system === listed.system) return d.code === listed.code ? 'match' : 'none';
  if (!map) return 'unmapped';
  try {
    return codesMatch(map, d, listed) ? 'match' : 'none';
  } catch (err) {
    if (err instanceof ProofError && err.code === 'MR_ERR_CODEMAP_UNMAPPED') return 'unmapped';
    throw err;
  }
}

/** `listed` plus every map coding in another system that `codesMatch` says satisfies one of them, by key. */
function expand(listed: readonly Coding[], map: ConceptMap | undefined): Map<Hex, Coding> {
  const out = new Map<Hex, Coding>();
  const candidates = map ? mapCodings(map) : [];
  for (const c of listed) {
    out.set(codingKey(c.system, c.code), c);
    for (const d of candidates)
      if (d.system !== c.system && matchOne(d, c, map) === 'match') out.set(codingKey(d.system, d.code), d);
  }
  return out;
}

/** The listed systems plus every system one map group away from one of them. */
function reachableSystems(listed: readonly Coding[], map: ConceptMap | undefined): Set<string> {
  const own = new Set(listed.map((c) => c.system));
  const out = new Set(own);
  for (const g of map?.group ?? []) {
    if (own.has(g.source)) out.add(g.target);
    if (own.has(g.target)) out.add(g.source);
  }
  return out;
}

const sorted = (s: Iterable<Hex>): Hex[] => [...s].sort();

/**
 * Compiles a policy (policy.ts) into the arguments `ClaimSettlement` stores for it.
 *
 * @example
 * const p = compilePolicy(policy, insuredPseudonym, SEED_CODE_MAP);
 * // p.covered holds codingKey(ICD10, 'I10') and, through the map, codingKey(SCT, '59621000')
 * @throws ProofError MR_ERR_CLAIM_INVALID (details.field names the bad policy field or `insured`),
 *   MR_ERR_CODEMAP_INVALID (codeMap)
 */
export function compilePolicy(policy: Policy, insured: Hex, codeMap?: ConceptMap): CompiledPolicy {
  if (typeof policy !== 'object' || policy === null) return invalid('policy', 'expected an object');
  const policyId = text(policy.policyId, 'policy.policyId');
  if (!isCurrency(policy.currency)) invalid('policy.currency', 'expected HKD, CNY or MOP');
  const cur = policy.currency;
  if (typeof insured !== 'string' || !BYTES32_RE.test(insured) || /^0x0{64}$/.test(insured))
    invalid('insured', 'expected the patient pseudonym as non-zero bytes32 0x-hex');
  const covered = checkCodings(policy.coveredCodes, 'policy.coveredCodes', false);
  const excluded = checkCodings(policy.excludedCodes, 'policy.excludedCodes', true);
  const bp = policy.coPayBasisPoints;
  if (typeof bp !== 'number' || !Number.isInteger(bp) || bp < 0 || bp > 10_000)
    invalid('policy.coPayBasisPoints', 'expected an integer 0..10000');
  const validFrom = seconds(policy.validFrom, 'policy.validFrom');
  const validUntil = seconds(policy.validUntil, 'policy.validUntil');
  if (validUntil <= validFrom) invalid('policy.validUntil', 'must be after validFrom');
  const map = codeMap === undefined ? undefined : parseConceptMap(codeMap);

  const excludedKeys = expand(excluded, map);
  const coveredKeys = expand(covered, map);
  for (const [k, d] of coveredKeys) {
    // policy.ts step 5: an exclusion that cannot be ruled out (no map, or the map silent about d towards the
    // excluded code's system) refuses the claim (CODE_UNMAPPED). A flat list cannot say that, so d is not
    // listed as covered: the chain then refuses it too (NOT_COVERED), and never pays what policy.ts would not.
    if (excludedKeys.has(k) || excluded.some((e) => matchOne(d, e, map) === 'unmapped'))
      coveredKeys.delete(k);
  }
  // ClaimSettlement.setPolicy refuses an empty covered list (PolicyNoCoveredCodes): say so before a transaction.
  if (coveredKeys.size === 0)
    invalid(
      'policy.coveredCodes',
      'no covered code is payable: each is excluded, or cannot be told apart from an exclusion without a code map',
    );
  const systems = new Set<Hex>();
  for (const s of reachableSystems([...covered, ...excluded], map)) systems.add(systemHash(s));

  return {
    policyId: bytesToHex(keccak256(UTF8.encode(policyId))),
    policy: {
      insured: insured.toLowerCase() as Hex,
      currency: CURRENCIES[cur].numeric,
      validFrom,
      validUntil,
      perClaimLimit: minorOf(policy.perClaimLimit, 'policy.perClaimLimit', cur),
      deductible: minorOf(policy.deductible, 'policy.deductible', cur),
      annualCap: minorOf(policy.annualCap, 'policy.annualCap', cur),
      coPayBasisPoints: bp,
    },
    covered: sorted(coveredKeys.keys()),
    excluded: sorted(excludedKeys.keys()),
    systems: sorted(systems),
  };
}

/** Bits a reason mask may use: one per `REASON_CODES` entry. */
export const REASON_MASK_ALL = (1 << REASON_CODES.length) - 1;

/**
 * The reasons of a `ClaimSettlement` decision's uint16 mask, in `REASON_CODES` (evaluation) order.
 *
 * @example reasonsFromMask(0b110_0000_0000) // ['DEDUCTIBLE_APPLIED', 'COPAY_APPLIED']
 * @throws ProofError MR_ERR_CLAIM_REASONS (not an integer in 0..0xffff, or a bit with no reason code)
 */
export function reasonsFromMask(mask: number | bigint): ReasonCode[] {
  let m: bigint;
  if (typeof mask === 'bigint') m = mask;
  else if (typeof mask === 'number' && Number.isSafeInteger(mask)) m = BigInt(mask);
  else return fail('MR_ERR_CLAIM_REASONS', 'mask', 'expected a uint16 reason mask');
  if (m < 0n || m > 0xffffn) fail('MR_ERR_CLAIM_REASONS', 'mask', 'expected a uint16 reason mask');
  if ((m & ~BigInt(REASON_MASK_ALL)) !== 0n)
    fail('MR_ERR_CLAIM_REASONS', 'mask', `bits above ${REASON_CODES.length - 1} name no reason code`);
  return REASON_CODES.filter((_, i) => (m & (1n << BigInt(i))) !== 0n);
}

/**
 * The uint16 mask of a list of reasons (duplicates are harmless).
 *
 * @example maskFromReasons(['NOT_COVERED']) // 1 << 6
 * @throws ProofError MR_ERR_CLAIM_REASONS (unknown reason code)
 */
export function maskFromReasons(reasons: readonly ReasonCode[]): number {
  if (!Array.isArray(reasons)) return fail('MR_ERR_CLAIM_REASONS', 'reasons', 'expected an array');
  let mask = 0;
  reasons.forEach((r, i) => {
    const bit = REASON_CODES.indexOf(r);
    if (bit < 0)
      fail('MR_ERR_CLAIM_REASONS', `reasons[${i}]`, `unknown reason code ${String(r).slice(0, 40)}`);
    mask |= 1 << bit;
  });
  return mask;
}

/** On-chain decision codes (`ClaimSettlement`): 1 Approved, 2 Partial, 3 Rejected. */
export const DECISION_CODES = { approved: 1, partial: 2, rejected: 3 } as const satisfies Record<
  Decision,
  number
>;

/**
 * @example decisionFromCode(2) // 'partial'
 * @throws ProofError MR_ERR_CLAIM_DECISION (not 1, 2 or 3)
 */
export function decisionFromCode(code: number | bigint): Decision {
  const n = typeof code === 'bigint' ? code : Number.isInteger(code) ? BigInt(code) : -1n;
  if (n === 1n) return 'approved';
  if (n === 2n) return 'partial';
  if (n === 3n) return 'rejected';
  return fail('MR_ERR_CLAIM_DECISION', 'decision', `expected 1, 2 or 3, got ${String(code).slice(0, 20)}`);
}

/** @example decisionCode('rejected') // 3 */
export function decisionCode(decision: Decision): 1 | 2 | 3 {
  const c = (DECISION_CODES as Record<string, 1 | 2 | 3>)[decision];
  if (c === undefined) fail('MR_ERR_CLAIM_DECISION', 'decision', 'expected approved, partial or rejected');
  return c;
}
