/**
 * Besu BFT header verification: QBFT and IBFT 2.0 (plus Clique signer recovery).
 *
 * Specs followed (hyperledger/besu): `QbftExtraDataCodec`, `IbftExtraDataCodec`, `BftBlockHashing`,
 * `BftHelpers.calculateRequiredValidatorQuorum`, `BftCommitSealsValidationRule`; Clique per geth
 * `consensus/clique` (EIP-225). The exact byte rules are summarised in
 * `../shared/fixtures/consortium/README.md` and pinned by the real and forged fixtures there.
 *
 *   extraData = rlp([vanity(32), [validators], vote, round, [seals]])
 *   QBFT : vote absent = 0xc0, round = minimal integer;  IBFT2: vote absent = 0x80, round = 4 bytes BE.
 *   seal digest = keccak(rlp(header with extraData = QBFT [v, vals, vote, round, []] / IBFT2 [v, vals, vote, round]))
 *   block hash  = keccak(rlp(header with extraData = QBFT [v, vals, vote, 0, []]     / IBFT2 [v, vals, vote]))
 *   genesis (number 0): both hash the raw extraData unchanged.
 *   seal = r‖s‖v (v ∈ {0,1}) over the digest itself, no Ethereum message prefix.
 *
 * Finality: every seal recovers to a distinct member of the TRUSTED set and there are at least
 * ceil(2n/3) of them. The trusted set must come from an earlier verified header or a checkpoint,
 * never from the header under test.
 *
 * ## Validator-set rotation rule (light client; identical to `QbftLightClient.sol`)
 * `applyHeader(state, header)`:
 *   1. `number > latestNumber`, else MR_ERR_QBFT_STALE_HEADER.
 *   2. The header must be final under the CURRENT set (`verifyQbftFinality(header, state.validators)`).
 *   3. If the validator list in the header's extraData differs from the current set (as an ordered list of
 *      lowercase addresses), that list becomes the trusted set for all LATER headers and `epoch` increments.
 *      A new set is therefore only ever accepted from a header that a quorum of the current set sealed.
 *      The new list must be non-empty and free of duplicates.
 * Not covered yet: Besu's vote-based validator changes (`vote` in extraData, epoch resets) are not
 * replayed: we rely on extraData carrying the resulting list, which Besu writes into every block; and
 * contract-based selection (`validatorcontractaddress`, empty extraData list) is refused, because the
 * set would have to be proven from contract state.
 * Headers between the trusted one and a rotation may be skipped: because every Besu block lists the set
 * that validates its children, skipping is safe only while the set does not change unseen. A relayer
 * must therefore submit (at least) every header whose extraData list differs from its parent's.
 */

import { secp256k1 } from '@noble/curves/secp256k1.js';
import {
  bigintToBytes,
  bytesToBigint,
  bytesToHex,
  equalBytes,
  type Hex,
  hexToBytes,
  quantityToBigint,
} from './bytes.js';
import { ProofError } from './errors.js';
import { type BlockHeader, decodeHeader, headerFields } from './header.js';
import { keccak256 } from './keccak.js';
import { decode, encode, type RlpInput, type RlpValue } from './rlp.js';

// ---------------------------------------------------------------------------------------------
// Header (JSON-RPC object shape) <-> RLP: the Ethereum layout of proofs/header.ts, errors re-coded
// ---------------------------------------------------------------------------------------------

/** A block header as JSON-RPC returns it; `hash`, if present, is checked against the recomputed block hash. */
export type BftHeader = BlockHeader & { hash?: string | null };

/** Besu BFT mix hash: "…ctical byzantine fault tolerance". */
export const BFT_MIX_HASH: Hex = '0x63746963616c2062797a616e74696e65206661756c7420746f6c6572616e6365';
/** keccak256(rlp([])): the ommers hash of every post-merge and BFT block. */
export const EMPTY_UNCLES_HASH: Hex = '0x1dcc4de8dec75d7aab85b567b6ccd41ad312451b948a7413f0a142fd40d49347';

/** Header errors surface as MR_ERR_QBFT_HEADER here, so a finality caller sees one code family. */
function asQbftHeaderError<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof ProofError && !err.code.startsWith('MR_ERR_QBFT')) {
      throw new ProofError('MR_ERR_QBFT_HEADER', err.message, { details: err.details, cause: err });
    }
    throw err;
  }
}

/** The header's RLP item list; `extraData` optionally replaced (for seal digest / block hash). */
function headerItems(header: BftHeader, extraData?: Uint8Array): Uint8Array[] {
  return asQbftHeaderError(() => headerFields(extraData ? { ...header, extraData } : header));
}

export type BftFlavor = 'qbft' | 'ibft2';

/** A byte field of the header (hex or bytes), checked for length where one is given. */
function fieldBytes(
  header: BftHeader,
  key: 'extraData' | 'stateRoot' | 'receiptsRoot',
  len?: number,
): Uint8Array {
  const v = header[key];
  const b = v instanceof Uint8Array ? v : asQbftHeaderError(() => hexToBytes(v, `header.${key}`));
  if (len !== undefined && b.length !== len) {
    throw new ProofError('MR_ERR_QBFT_HEADER', `header.${key}: expected ${len} bytes, got ${b.length}`, {
      details: { field: key },
    });
  }
  return b;
}

/** rlp(header) exactly as it is hashed on Ethereum (extraData as given). */
export function encodeBftHeader(header: BftHeader): Uint8Array {
  return encode(headerItems(header));
}

/** Parses header RLP strictly (canonical RLP, a real fork layout) into the JSON-RPC object shape. */
export function decodeHeaderRlp(rlp: Uint8Array): BftHeader {
  return asQbftHeaderError(() => decodeHeader(rlp));
}

function toHeader(input: BftHeader | Uint8Array): BftHeader {
  return input instanceof Uint8Array ? decodeHeaderRlp(input) : input;
}

// ---------------------------------------------------------------------------------------------
// extraData codecs
// ---------------------------------------------------------------------------------------------

export interface BftVote {
  /** Address voted on (lowercase). */
  recipient: Hex;
  /** true = add (0xff), false = drop. */
  add: boolean;
}

export interface BftExtraData {
  /** 32 bytes. */
  vanity: Uint8Array;
  /** Lowercase 0x addresses in extraData order. */
  validators: Hex[];
  vote: BftVote | null;
  /** Consensus round; fits 32 bits (Java int in Besu). */
  round: bigint;
  /** Raw commit seals; each should be 65 bytes r‖s‖v (checked by the verifier, not the codec). */
  seals: Uint8Array[];
}

/** What the extraData is re-encoded as: full (as sealed), for the seal digest, or for the block hash. */
type ExtraMode = 'full' | 'seal' | 'hash';

const ADD = Uint8Array.of(0xff);
const IBFT2_DROP = Uint8Array.of(0x00);
const EMPTY = new Uint8Array(0);
const U32_MAX = 0xffffffffn;

function extraFail(message: string, field: string, cause?: unknown): never {
  throw new ProofError('MR_ERR_QBFT_EXTRA_DATA', `extraData.${field}: ${message}`, {
    details: { field },
    cause,
  });
}

function flavorFail(flavor: BftFlavor, message: string, field: string): never {
  throw new ProofError(
    'MR_ERR_QBFT_WRONG_FLAVOR',
    `extraData.${field}: ${message}; this extraData is not ${flavor === 'qbft' ? 'QBFT' : 'IBFT 2.0'}`,
    { details: { field, flavor } },
  );
}

function checkRound(round: bigint): void {
  if (typeof round !== 'bigint' || round < 0n || round > U32_MAX)
    extraFail('must be a 32-bit unsigned integer', 'round');
}

function extraItems(extra: BftExtraData, flavor: BftFlavor, mode: ExtraMode): RlpInput[] {
  if (!(extra.vanity instanceof Uint8Array) || extra.vanity.length !== 32)
    extraFail('must be 32 bytes', 'vanity');
  checkRound(extra.round);
  const validators = extra.validators.map((a, i) => addressBytes(a, `validators[${i}]`));
  let vote: RlpInput;
  if (extra.vote === null) {
    vote = flavor === 'qbft' ? [] : EMPTY;
  } else {
    const recipient = addressBytes(extra.vote.recipient, 'vote.recipient');
    vote = [recipient, extra.vote.add ? ADD : flavor === 'qbft' ? EMPTY : IBFT2_DROP];
  }
  const head: RlpInput[] = [extra.vanity, validators, vote];
  if (flavor === 'qbft') {
    // Besu QBFT keeps all five items; the block hash zeroes the round, both empty the seals.
    const round = mode === 'hash' ? EMPTY : bigintToBytes(extra.round);
    return [...head, round, mode === 'full' ? extra.seals : []];
  }
  if (mode === 'hash') return head;
  const round4 = new Uint8Array(4);
  new DataView(round4.buffer).setUint32(0, Number(extra.round));
  return mode === 'seal' ? [...head, round4] : [...head, round4, extra.seals];
}

function addressBytes(a: string, field: string): Uint8Array {
  let b: Uint8Array;
  try {
    b = hexToBytes(a, field);
  } catch (err) {
    extraFail('expected a 0x address', field, err);
  }
  if (b.length !== 20) extraFail(`expected 20 bytes, got ${b.length}`, field);
  return b;
}

function decodeExtra(bytes: Uint8Array, flavor: BftFlavor): BftExtraData {
  let v: RlpValue;
  try {
    v = decode(bytes);
  } catch (err) {
    extraFail('malformed RLP', 'rlp', err);
  }
  if (!Array.isArray(v)) extraFail('expected an RLP list', 'rlp');
  if (v.length !== 5) extraFail(`expected 5 items, got ${v.length}`, 'rlp');
  const [vanityV, validatorsV, voteV, roundV, sealsV] = v as [
    RlpValue,
    RlpValue,
    RlpValue,
    RlpValue,
    RlpValue,
  ];

  if (!(vanityV instanceof Uint8Array) || vanityV.length !== 32) extraFail('must be 32 bytes', 'vanity');
  if (!Array.isArray(validatorsV)) extraFail('expected a list', 'validators');
  const validators = validatorsV.map((item, i) => {
    if (!(item instanceof Uint8Array) || item.length !== 20)
      extraFail('expected a 20-byte address', `validators[${i}]`);
    return bytesToHex(item);
  });

  // The two flavours differ only in the vote and round encodings; the checks below name the flavour
  // an encoding belongs to so that a header from the other consensus engine fails with WRONG_FLAVOR.
  let vote: BftVote | null;
  if (voteV instanceof Uint8Array) {
    if (voteV.length !== 0) extraFail('expected a list or empty string', 'vote');
    if (flavor === 'qbft') flavorFail(flavor, 'absent vote encoded as empty string (IBFT 2.0 form)', 'vote');
    vote = null;
  } else if (voteV.length === 0) {
    if (flavor === 'ibft2') flavorFail(flavor, 'absent vote encoded as empty list (QBFT form)', 'vote');
    vote = null;
  } else {
    if (voteV.length !== 2) extraFail('expected [recipient, type]', 'vote');
    const [rec, type] = voteV as [RlpValue, RlpValue];
    if (!(rec instanceof Uint8Array) || rec.length !== 20)
      extraFail('expected a 20-byte address', 'vote.recipient');
    if (!(type instanceof Uint8Array)) extraFail('expected a byte string', 'vote.type');
    let add: boolean;
    if (equalBytes(type, ADD)) add = true;
    else if (flavor === 'qbft' && type.length === 0) add = false;
    else if (flavor === 'ibft2' && equalBytes(type, IBFT2_DROP)) add = false;
    else if (type.length === 0 || equalBytes(type, IBFT2_DROP))
      flavorFail(flavor, 'drop vote in the other flavour', 'vote.type');
    else extraFail('must be 0xff (add) or the drop marker', 'vote.type');
    vote = { recipient: bytesToHex(rec), add };
  }

  if (!(roundV instanceof Uint8Array)) extraFail('expected a byte string', 'round');
  if (flavor === 'qbft') {
    if (roundV.length > 0 && roundV[0] === 0) {
      if (roundV.length === 4) flavorFail(flavor, 'round is a fixed 4-byte integer (IBFT 2.0 form)', 'round');
      extraFail('must be a minimal integer', 'round');
    }
    if (roundV.length > 4) extraFail('must fit 32 bits', 'round');
  } else if (roundV.length !== 4) {
    if (roundV.length < 4) flavorFail(flavor, 'round is a minimal integer (QBFT form), not 4 bytes', 'round');
    extraFail('must be 4 bytes', 'round');
  }
  const round = bytesToBigint(roundV);

  if (!Array.isArray(sealsV)) extraFail('expected a list', 'seals');
  const seals = sealsV.map((s, i) => {
    if (!(s instanceof Uint8Array)) extraFail('expected a byte string', `seals[${i}]`);
    return s;
  });
  const extra: BftExtraData = { vanity: vanityV, validators, vote, round, seals };
  // Hashes are computed over re-encodings of the decoded fields (as Besu does), so only accept input
  // whose re-encoding is byte-identical: one extraData, one meaning.
  if (!equalBytes(encode(extraItems(extra, flavor, 'full')), bytes)) extraFail('not canonical', 'rlp');
  return extra;
}

export function decodeQbftExtraData(bytes: Uint8Array): BftExtraData {
  return decodeExtra(bytes, 'qbft');
}
export function encodeQbftExtraData(extra: BftExtraData): Uint8Array {
  return encode(extraItems(extra, 'qbft', 'full'));
}
export function decodeIbft2ExtraData(bytes: Uint8Array): BftExtraData {
  return decodeExtra(bytes, 'ibft2');
}
export function encodeIbft2ExtraData(extra: BftExtraData): Uint8Array {
  return encode(extraItems(extra, 'ibft2', 'full'));
}

// ---------------------------------------------------------------------------------------------
// Seal digest and block hash (BftBlockHashing)
// ---------------------------------------------------------------------------------------------

function headerExtra(header: BftHeader, flavor: BftFlavor): BftExtraData {
  return decodeExtra(fieldBytes(header, 'extraData'), flavor);
}

function isGenesis(header: BftHeader): boolean {
  return asQbftHeaderError(() => quantityToBigint(header.number, 'header.number')) === 0n;
}

function hashWith(
  header: BftHeader,
  extra: BftExtraData,
  flavor: BftFlavor,
  mode: 'seal' | 'hash',
): Uint8Array {
  // Besu: at genesis the extraData is hashed as stored (there is nothing to strip).
  const replaced = isGenesis(header) ? undefined : encode(extraItems(extra, flavor, mode));
  return keccak256(encode(headerItems(header, replaced)));
}

/** keccak256 of the header as the commit seals sign it (QBFT: seals emptied, round kept). */
export function qbftSealDigest(header: BftHeader | Uint8Array): Uint8Array {
  const h = toHeader(header);
  return hashWith(h, headerExtra(h, 'qbft'), 'qbft', 'seal');
}
/** QBFT block hash (round 0, seals emptied); what children name as parentHash. */
export function qbftBlockHash(header: BftHeader | Uint8Array): Uint8Array {
  const h = toHeader(header);
  return hashWith(h, headerExtra(h, 'qbft'), 'qbft', 'hash');
}
/** IBFT 2.0 seal digest (seal list removed: 4 items). */
export function ibft2SealDigest(header: BftHeader | Uint8Array): Uint8Array {
  const h = toHeader(header);
  return hashWith(h, headerExtra(h, 'ibft2'), 'ibft2', 'seal');
}
/** IBFT 2.0 block hash (round and seals removed: 3 items). */
export function ibft2BlockHash(header: BftHeader | Uint8Array): Uint8Array {
  const h = toHeader(header);
  return hashWith(h, headerExtra(h, 'ibft2'), 'ibft2', 'hash');
}

// ---------------------------------------------------------------------------------------------
// Seal recovery and finality
// ---------------------------------------------------------------------------------------------

const HALF_N = secp256k1.Point.CURVE().n >> 1n;

function sealFail(index: number, message: string, cause?: unknown): never {
  throw new ProofError('MR_ERR_QBFT_BAD_SEAL', `seals[${index}]: ${message}`, {
    details: { field: `seals[${index}]`, index },
    cause,
  });
}

/** Address of the key that produced `sig` (65 bytes r‖s‖v, v ∈ {0,1}) over `digest` (32 bytes, no prefix). */
export function recoverSealer(sig: Uint8Array, digest: Uint8Array, index = 0): Hex {
  if (sig.length !== 65) sealFail(index, `expected 65 bytes, got ${sig.length}`);
  const v = sig[64]!;
  if (v !== 0 && v !== 1) sealFail(index, `recovery id must be 0 or 1, got ${v}`);
  const r = bytesToBigint(sig.subarray(0, 32));
  const s = bytesToBigint(sig.subarray(32, 64));
  // Malleability: (r, n−s) is a second valid signature of the same digest; accept only low-s (EIP-2).
  if (s > HALF_N) sealFail(index, 'high s value');
  try {
    const pub = new secp256k1.Signature(r, s, v).recoverPublicKey(digest).toBytes(false);
    return bytesToHex(keccak256(pub.subarray(1)).subarray(12));
  } catch (err) {
    sealFail(index, `unrecoverable signature (${err instanceof Error ? err.message : 'invalid'})`, err);
  }
}

/** Besu BftHelpers.calculateRequiredValidatorQuorum: ceil(2n/3). */
export function bftQuorum(n: number): number {
  return Math.ceil((2 * n) / 3);
}

/** Lowercase, 20-byte, distinct, non-empty; `what` names the list in errors. */
export function normalizeValidators(list: readonly string[], what = 'validators'): Hex[] {
  if (!Array.isArray(list) || list.length === 0) {
    throw new ProofError('MR_ERR_QBFT_VALIDATORS', `${what}: must be a non-empty list`, {
      details: { field: what },
    });
  }
  const out = list.map((a, i) => {
    if (typeof a !== 'string' || !/^0x[0-9a-fA-F]{40}$/.test(a)) {
      throw new ProofError('MR_ERR_QBFT_VALIDATORS', `${what}[${i}]: expected a 0x address`, {
        details: { field: `${what}[${i}]` },
      });
    }
    return a.toLowerCase() as Hex;
  });
  if (new Set(out).size !== out.length) {
    throw new ProofError('MR_ERR_QBFT_VALIDATORS', `${what}: duplicate address`, {
      details: { field: what },
    });
  }
  return out;
}

export interface BftVerifyOptions {
  /** A block hash the caller already trusts (e.g. from a parent link); mismatch → MR_ERR_QBFT_HASH_MISMATCH. */
  expectedHash?: string;
}

export interface BftFinality {
  blockHash: Uint8Array;
  number: bigint;
  stateRoot: Uint8Array;
  receiptsRoot: Uint8Array;
  timestamp: bigint;
  /** Recovered seal signers, in seal order. */
  signers: Hex[];
  /** The validator list in this header's extraData: the set that validates its children. */
  nextValidators: Hex[];
  round: bigint;
  sealDigest: Uint8Array;
}

function verifyBft(
  input: BftHeader | Uint8Array,
  trustedValidators: readonly string[],
  flavor: BftFlavor,
  opts: BftVerifyOptions,
): BftFinality {
  const header = toHeader(input);
  const trusted = normalizeValidators(trustedValidators, 'trustedValidators');
  const extra = headerExtra(header, flavor);
  const blockHash = hashWith(header, extra, flavor, 'hash');
  const blockHashHex = bytesToHex(blockHash);
  for (const [what, claimed] of [
    ['expectedHash', opts.expectedHash],
    ['header.hash', header.hash],
  ] as const) {
    if (claimed !== undefined && claimed !== null && claimed.toLowerCase() !== blockHashHex) {
      throw new ProofError(
        'MR_ERR_QBFT_HASH_MISMATCH',
        `${what} ${claimed} != computed block hash ${blockHashHex}`,
        {
          details: { field: what, expected: claimed, computed: blockHashHex },
        },
      );
    }
  }
  const digest = hashWith(header, extra, flavor, 'seal');
  const trustedSet = new Set<string>(trusted);
  const seen = new Set<string>();
  const signers: Hex[] = [];
  extra.seals.forEach((seal, i) => {
    const signer = recoverSealer(seal, digest, i);
    if (!trustedSet.has(signer)) {
      throw new ProofError(
        'MR_ERR_QBFT_NOT_VALIDATOR',
        `seals[${i}]: signer ${signer} is not in the trusted set`,
        {
          details: { field: `seals[${i}]`, signer },
        },
      );
    }
    if (seen.has(signer)) {
      throw new ProofError('MR_ERR_QBFT_DUPLICATE_SEAL', `seals[${i}]: ${signer} sealed more than once`, {
        details: { field: `seals[${i}]`, signer },
      });
    }
    seen.add(signer);
    signers.push(signer);
  });
  const quorum = bftQuorum(trusted.length);
  if (signers.length < quorum) {
    throw new ProofError(
      'MR_ERR_QBFT_BELOW_QUORUM',
      `seals: ${signers.length} distinct validator seal(s), need ${quorum} of ${trusted.length}`,
      { details: { field: 'seals', have: signers.length, quorum, validators: trusted.length } },
    );
  }
  return {
    blockHash,
    number: quantityToBigint(header.number, 'header.number'),
    stateRoot: fieldBytes(header, 'stateRoot', 32),
    receiptsRoot: fieldBytes(header, 'receiptsRoot', 32),
    timestamp: quantityToBigint(header.timestamp, 'header.timestamp'),
    signers,
    nextValidators: extra.validators,
    round: extra.round,
    sealDigest: digest,
  };
}

/**
 * Verifies that a quorum of `trustedValidators` committed this QBFT header. Throws a ProofError with
 * MR_ERR_QBFT_{EXTRA_DATA, WRONG_FLAVOR, HASH_MISMATCH, BAD_SEAL, NOT_VALIDATOR, DUPLICATE_SEAL, BELOW_QUORUM}.
 * Genesis (number 0) carries no seals and is a trust anchor, not something to verify.
 */
export function verifyQbftFinality(
  header: BftHeader | Uint8Array,
  trustedValidators: readonly string[],
  opts: BftVerifyOptions = {},
): BftFinality {
  return verifyBft(header, trustedValidators, 'qbft', opts);
}

/** IBFT 2.0 counterpart of `verifyQbftFinality` (same rules, IbftExtraDataCodec hashing). */
export function verifyIbft2Finality(
  header: BftHeader | Uint8Array,
  trustedValidators: readonly string[],
  opts: BftVerifyOptions = {},
): BftFinality {
  return verifyBft(header, trustedValidators, 'ibft2', opts);
}

// ---------------------------------------------------------------------------------------------
// Light client state machine (mirrors QbftLightClient.sol; rotation rule at the top of this file)
// ---------------------------------------------------------------------------------------------

export interface LightClientHeaderRecord {
  blockHash: Uint8Array;
  stateRoot: Uint8Array;
  receiptsRoot: Uint8Array;
  timestamp: bigint;
}

export interface QbftLightClientState {
  readonly flavor: BftFlavor;
  readonly validators: readonly Hex[];
  /** Increments on every accepted validator-set change (ValidatorSetChanged event). */
  readonly epoch: number;
  readonly latestNumber: bigint;
  readonly headers: ReadonlyMap<bigint, LightClientHeaderRecord>;
}

export function createQbftLightClient(
  validators: readonly string[],
  opts: { latestNumber?: bigint; flavor?: BftFlavor } = {},
): QbftLightClientState {
  return {
    flavor: opts.flavor ?? 'qbft',
    validators: normalizeValidators(validators),
    epoch: 0,
    latestNumber: opts.latestNumber ?? 0n,
    headers: new Map(),
  };
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Returns the state after accepting `header`; the input state is not modified. */
export function applyHeader(
  state: QbftLightClientState,
  header: BftHeader | Uint8Array,
): QbftLightClientState {
  const h = toHeader(header);
  const number = quantityToBigint(h.number, 'header.number');
  if (number <= state.latestNumber) {
    throw new ProofError(
      'MR_ERR_QBFT_STALE_HEADER',
      `header.number ${number} must exceed latestNumber ${state.latestNumber}`,
      {
        details: { field: 'number', number: number.toString(), latestNumber: state.latestNumber.toString() },
      },
    );
  }
  const fin = verifyBft(h, state.validators, state.flavor, {});
  let { validators, epoch } = state;
  if (!sameList(fin.nextValidators, validators)) {
    // An empty list is Besu's contract-based mode: the set lives in contract state we cannot see here.
    validators = normalizeValidators(fin.nextValidators, 'extraData.validators');
    epoch += 1;
  }
  const headers = new Map(state.headers);
  headers.set(number, {
    blockHash: fin.blockHash,
    stateRoot: fin.stateRoot,
    receiptsRoot: fin.receiptsRoot,
    timestamp: fin.timestamp,
  });
  return { flavor: state.flavor, validators, epoch, latestNumber: number, headers };
}

// ---------------------------------------------------------------------------------------------
// Clique (EIP-225): signer recovery only; Clique has no BFT finality
// ---------------------------------------------------------------------------------------------

export interface CliqueSeal {
  blockHash: Uint8Array;
  sealHash: Uint8Array;
  signer: Hex;
  /** Signers listed in extraData (only on epoch checkpoints; else empty). */
  checkpointSigners: Hex[];
}

/**
 * Recovers the Clique signer. With `authorizedSigners`, the signer must be one of them
 * (MR_ERR_CLIQUE_NOT_SIGNER); `expectedHash` is checked like the BFT verifiers (MR_ERR_CLIQUE_HASH_MISMATCH).
 */
export function verifyCliqueHeader(
  input: BftHeader | Uint8Array,
  opts: { authorizedSigners?: readonly string[]; expectedHash?: string } = {},
): CliqueSeal {
  const header = toHeader(input);
  const extra = fieldBytes(header, 'extraData');
  if (extra.length < 32 + 65 || (extra.length - 97) % 20 !== 0) {
    throw new ProofError(
      'MR_ERR_CLIQUE_EXTRA_DATA',
      'extraData: expected vanity(32) ‖ signers(20·N) ‖ seal(65)',
      {
        details: { field: 'extraData' },
      },
    );
  }
  const blockHash = keccak256(encodeBftHeader(header));
  const claimed = opts.expectedHash ?? header.hash ?? undefined;
  if (claimed && claimed.toLowerCase() !== bytesToHex(blockHash)) {
    throw new ProofError(
      'MR_ERR_CLIQUE_HASH_MISMATCH',
      `expected ${claimed}, computed ${bytesToHex(blockHash)}`,
      {
        details: { field: 'hash' },
      },
    );
  }
  const sealHash = keccak256(encode(headerItems(header, extra.subarray(0, extra.length - 65))));
  let signer: Hex;
  try {
    signer = recoverSealer(extra.subarray(extra.length - 65), sealHash, 0);
  } catch (err) {
    throw new ProofError('MR_ERR_CLIQUE_BAD_SEAL', `extraData seal: ${(err as Error).message}`, {
      details: { field: 'extraData.seal' },
      cause: err,
    });
  }
  const checkpointSigners: Hex[] = [];
  for (let off = 32; off < extra.length - 65; off += 20)
    checkpointSigners.push(bytesToHex(extra.subarray(off, off + 20)));
  if (opts.authorizedSigners) {
    const allowed = normalizeValidators(opts.authorizedSigners, 'authorizedSigners');
    if (!allowed.includes(signer)) {
      throw new ProofError('MR_ERR_CLIQUE_NOT_SIGNER', `signer ${signer} is not an authorised signer`, {
        details: { field: 'extraData.seal', signer },
      });
    }
  }
  return { blockHash, sealHash, signer, checkpointSigners };
}
