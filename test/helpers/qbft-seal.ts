/**
 * Test sealer: turns an anvil block into a Besu QBFT header sealed by chosen keys, with knobs for forgeries
 * (any signer keys, duplicates, a different listed validator set, round). Built on proofs/qbft.ts so the hashing
 * rules are the shared ones; adapters/evm/devnet/sealer.ts is the devnet sealer (`sealQbftHeader`), which always
 * signs with the first quorum keys and is used by the interop test.
 */
import { secp256k1 } from '@noble/curves/secp256k1.js';
import type { JsonRpcProvider } from 'ethers';
import { addressOfKey, deriveValidatorKeys } from '../../adapters/evm/devnet/sealer.js';
import { bytesToHex, concatBytes, type Hex } from '../../proofs/bytes.js';
import {
  BFT_MIX_HASH,
  type BftExtraData,
  type BftHeader,
  EMPTY_UNCLES_HASH,
  encodeBftHeader,
  encodeQbftExtraData,
  qbftBlockHash,
  qbftSealDigest,
} from '../../proofs/qbft.js';

export { addressOfKey, deriveValidatorKeys };

/** Fork fields copied from anvil when present, in header order. */
const FORK_FIELDS = [
  'baseFeePerGas',
  'withdrawalsRoot',
  'blobGasUsed',
  'excessBlobGas',
  'parentBeaconBlockRoot',
  'requestsHash',
] as const;

export interface SealParams {
  /** Validator list written into extraData (for a rotation: the new set). */
  listed: readonly string[];
  /** Keys whose seals go into the header, in order (may repeat, may be outsiders). */
  signers: readonly Uint8Array[];
  /** Consensus round in extraData (default 0). */
  round?: bigint;
}

export interface SealedHeader {
  header: BftHeader;
  rlp: Hex;
  hash: Hex;
  sealDigest: Hex;
  seals: Uint8Array[];
}

/** 65-byte r‖s‖v (v ∈ {0,1}), low s, over `digest` with no prefix: Besu's commit-seal form. */
export function signSeal(digest: Uint8Array, key: Uint8Array): Uint8Array {
  const rec = secp256k1.sign(digest, key, { prehash: false, lowS: true, format: 'recovered' });
  return concatBytes(rec.subarray(1), rec.subarray(0, 1));
}

/** QBFT header fields over an anvil block (its stateRoot/receiptsRoot/number/timestamp, BFT constants). */
export function qbftHeaderFromBlock(
  block: Readonly<Record<string, unknown>>,
  listed: readonly string[],
): BftHeader {
  const s = (k: string): string => {
    const v = block[k];
    if (typeof v !== 'string') throw new Error(`anvil block: field ${k} missing`);
    return v;
  };
  const header: BftHeader = {
    parentHash: s('parentHash'),
    sha3Uncles: EMPTY_UNCLES_HASH,
    miner: listed[0]!.toLowerCase(),
    stateRoot: s('stateRoot'),
    transactionsRoot: s('transactionsRoot'),
    receiptsRoot: s('receiptsRoot'),
    logsBloom: s('logsBloom'),
    difficulty: '0x1',
    number: s('number'),
    gasLimit: s('gasLimit'),
    gasUsed: s('gasUsed'),
    timestamp: s('timestamp'),
    extraData: '0x',
    mixHash: BFT_MIX_HASH,
    nonce: '0x0000000000000000',
  };
  for (const f of FORK_FIELDS) {
    const v = block[f];
    if (typeof v === 'string') header[f] = v;
  }
  return header;
}

/** Seals `base` (header fields) with extraData = rlp([0³², listed, no vote, round, seals by `signers`]). */
export function sealHeader(base: BftHeader, p: SealParams): SealedHeader {
  const extra: BftExtraData = {
    vanity: new Uint8Array(32),
    validators: p.listed.map((a) => a.toLowerCase() as Hex),
    vote: null,
    round: p.round ?? 0n,
    seals: [],
  };
  const header: BftHeader = { ...base, extraData: bytesToHex(encodeQbftExtraData(extra)) };
  const digest = qbftSealDigest(header);
  extra.seals = p.signers.map((k) => signSeal(digest, k));
  header.extraData = bytesToHex(encodeQbftExtraData(extra));
  return {
    header,
    rlp: bytesToHex(encodeBftHeader(header)),
    hash: bytesToHex(qbftBlockHash(header)),
    sealDigest: bytesToHex(digest),
    seals: extra.seals,
  };
}

/** Re-encodes a sealed header with its extraData rebuilt from parts (forgeries: seals/round changed afterwards). */
export function reencode(base: BftHeader, extra: BftExtraData): Hex {
  return bytesToHex(encodeBftHeader({ ...base, extraData: bytesToHex(encodeQbftExtraData(extra)) }));
}

/** anvil's block `number` as a JSON-RPC object. */
export async function getBlock(
  provider: JsonRpcProvider,
  number: number | bigint,
): Promise<Record<string, unknown>> {
  const b = (await provider.send('eth_getBlockByNumber', [
    `0x${BigInt(number).toString(16)}`,
    false,
  ])) as Record<string, unknown> | null;
  if (!b) throw new Error(`anvil has no block ${number}`);
  return b;
}

/** Fetches anvil block `number` and seals it with `p`. */
export async function sealAnvilBlock(
  provider: JsonRpcProvider,
  number: number | bigint,
  p: SealParams,
): Promise<SealedHeader> {
  return sealHeader(qbftHeaderFromBlock(await getBlock(provider, number), p.listed), p);
}

/** A deterministic validator set for tests: `count` keys from `seed`, quorum ceil(2n/3). */
export function testValidators(
  seed: string,
  count = 4,
): { keys: Uint8Array[]; addresses: Hex[]; quorum: number } {
  const { keys, validators } = deriveValidatorKeys(seed, count);
  return { keys, addresses: validators, quorum: Math.ceil((2 * count) / 3) };
}
