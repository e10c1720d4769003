/**
 * QBFT / IBFT 2.0 / Clique verification against the real and forged consortium fixtures
 * (../shared/fixtures/consortium, README there), plus rotation tests on headers sealed here.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { describe, expect, it } from 'vitest';
import { deriveValidatorKeys, sealQbftHeader } from '../../adapters/evm/devnet/sealer.js';
import { bytesToHex, hexToBytes } from '../../proofs/bytes.js';
import { ProofError } from '../../proofs/errors.js';
import { keccak256 } from '../../proofs/keccak.js';
import {
  applyHeader,
  type BftExtraData,
  type BftHeader,
  bftQuorum,
  createQbftLightClient,
  decodeHeaderRlp,
  decodeIbft2ExtraData,
  decodeQbftExtraData,
  encodeBftHeader,
  encodeIbft2ExtraData,
  encodeQbftExtraData,
  ibft2BlockHash,
  ibft2SealDigest,
  qbftBlockHash,
  qbftSealDigest,
  recoverSealer,
  verifyCliqueHeader,
  verifyIbft2Finality,
  verifyQbftFinality,
} from '../../proofs/qbft.js';

const ROOT = new URL('../../../shared/fixtures/consortium/', import.meta.url);

interface Fixture {
  name: string;
  kind: 'qbft' | 'ibft2' | 'clique';
  expected: 'accept' | 'reject';
  header: BftHeader;
  headerRlp: string;
  expectedHash: string;
  validators?: string[];
  quorum?: number;
  round?: number;
  authorizedSigners?: string[] | null;
  expectedSigner?: string;
  computed?: {
    blockHash: string;
    sealDigest?: string;
    signers?: string[];
    sealHash?: string;
    signer?: string;
  };
  forgery?: { kind: string; from: string };
  whyRejected?: string;
}

function load(dir: string): Fixture[] {
  const url = new URL(`${dir}/`, ROOT);
  return readdirSync(fileURLToPath(url))
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => JSON.parse(readFileSync(fileURLToPath(new URL(f, url)), 'utf8')) as Fixture);
}

const realBft = [...load('real/qbft'), ...load('real/ibft2')];
const realClique = load('real/clique');
const forged = load('forged');
const forgedBft = forged.filter((f) => f.kind !== 'clique');
const forgedClique = forged.filter((f) => f.kind === 'clique');
const attacker = (
  JSON.parse(readFileSync(fileURLToPath(new URL('attacker.json', ROOT)), 'utf8')) as { address: string }
).address;

const verifyFor = (kind: Fixture['kind']) => (kind === 'qbft' ? verifyQbftFinality : verifyIbft2Finality);

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ProofError);
    return (err as ProofError).code;
  }
  throw new Error('expected a ProofError, but the call succeeded');
}

describe('fixture inventory', () => {
  it('has the counts the README states', () => {
    expect(load('real/qbft')).toHaveLength(2);
    expect(load('real/ibft2')).toHaveLength(5);
    expect(realClique).toHaveLength(2);
    expect(forged).toHaveLength(62);
    expect(forged.filter((f) => f.kind === 'qbft')).toHaveLength(19);
    expect(forged.filter((f) => f.kind === 'ibft2')).toHaveLength(37);
    expect(forgedClique).toHaveLength(6);
  });
});

describe('real BFT headers verify', () => {
  it.each(realBft.map((f) => [f.name, f] as const))('%s', (_name, f) => {
    // header object and header RLP are the same header
    expect(bytesToHex(encodeBftHeader(f.header))).toBe(f.headerRlp);
    expect(decodeHeaderRlp(hexToBytes(f.headerRlp))).toEqual(f.header);

    const verify = verifyFor(f.kind);
    const r = verify(f.header, f.validators!, { expectedHash: f.expectedHash });
    expect(bytesToHex(r.blockHash)).toBe(f.expectedHash);
    expect(bytesToHex(r.blockHash)).toBe(f.computed!.blockHash);
    expect(bytesToHex(r.sealDigest)).toBe(f.computed!.sealDigest);
    expect(r.signers).toEqual(f.computed!.signers!.map((s) => s.toLowerCase()));
    expect(r.signers.length).toBeGreaterThanOrEqual(f.quorum!);
    expect(r.round).toBe(BigInt(f.round!));
    expect(r.number).toBe(BigInt(f.header.number));
    expect(bytesToHex(r.stateRoot)).toBe(f.header.stateRoot);
    expect(bytesToHex(r.receiptsRoot)).toBe(f.header.receiptsRoot);
    expect(r.timestamp).toBe(BigInt(f.header.timestamp));
    expect(r.nextValidators).toEqual(f.validators!.map((v) => v.toLowerCase()));

    // the same through raw RLP, and the standalone hash functions
    const fromRlp = verify(hexToBytes(f.headerRlp), f.validators!);
    expect(fromRlp.signers).toEqual(r.signers);
    const [hashFn, digestFn] =
      f.kind === 'qbft' ? [qbftBlockHash, qbftSealDigest] : [ibft2BlockHash, ibft2SealDigest];
    expect(bytesToHex(hashFn(f.header))).toBe(f.expectedHash);
    expect(bytesToHex(digestFn(f.header))).toBe(f.computed!.sealDigest);
  });

  it('qbft-7528: seal digest matches the one asserted by the source test', () => {
    const f = realBft.find((x) => x.name === 'qbft-besu-qbft-elc-7528')!;
    expect(bytesToHex(qbftSealDigest(f.header))).toBe(
      '0x75ea184f58cd3f0ef89032a069df01f07ec524ef3a85cf6d3e424d62130c0a32',
    );
  });

  it('extraData codecs round-trip every real header', () => {
    for (const f of realBft) {
      const bytes = hexToBytes(f.header.extraData as string);
      if (f.kind === 'qbft') expect(encodeQbftExtraData(decodeQbftExtraData(bytes))).toEqual(bytes);
      else expect(encodeIbft2ExtraData(decodeIbft2ExtraData(bytes))).toEqual(bytes);
    }
  });

  it('the trusted set decides: real header against a set without its signers is rejected', () => {
    const f = realBft.find((x) => x.name === 'qbft-besu-qbft-elc-7528')!;
    expect(codeOf(() => verifyQbftFinality(f.header, [attacker]))).toBe('MR_ERR_QBFT_NOT_VALIDATOR');
    // With a bigger trusted set (7 → quorum 5), 3 seals are no longer enough.
    const bigger = [...f.validators!, `0x${'11'.repeat(20)}`, `0x${'22'.repeat(20)}`, `0x${'33'.repeat(20)}`];
    expect(codeOf(() => verifyQbftFinality(f.header, bigger))).toBe('MR_ERR_QBFT_BELOW_QUORUM');
  });
});

/** The error each forgery kind must produce when checked against the real set without a trusted hash. */
function expectedCode(f: Fixture): string {
  switch (f.forgery!.kind) {
    case 'seal-flipped':
      // A flipped bit in r either leaves no curve point (unrecoverable) or recovers a random address.
      return f.whyRejected!.startsWith('bad point') ? 'MR_ERR_QBFT_BAD_SEAL' : 'MR_ERR_QBFT_NOT_VALIDATOR';
    case 'seal-by-non-validator':
    case 'header-field-changed':
    case 'round-changed':
    case 'validator-set-substituted':
      return 'MR_ERR_QBFT_NOT_VALIDATOR';
    case 'below-quorum':
    case 'no-seals':
      return 'MR_ERR_QBFT_BELOW_QUORUM';
    case 'duplicate-seal':
      return 'MR_ERR_QBFT_DUPLICATE_SEAL';
    case 'wrong-flavor':
      return 'MR_ERR_QBFT_WRONG_FLAVOR';
    default:
      throw new Error(`unknown forgery kind ${f.forgery!.kind}`);
  }
}

describe('forged BFT headers are rejected with the specific code', () => {
  it('covers every forgery kind of the README', () => {
    expect(new Set(forgedBft.map((f) => f.forgery!.kind))).toEqual(
      new Set([
        'seal-flipped',
        'seal-by-non-validator',
        'below-quorum',
        'duplicate-seal',
        'no-seals',
        'header-field-changed',
        'round-changed',
        'validator-set-substituted',
        'wrong-flavor',
      ]),
    );
  });

  it.each(forgedBft.map((f) => [f.name, f] as const))('%s', (_name, f) => {
    expect(f.expected).toBe('reject');
    const verify = verifyFor(f.kind); // `kind` is the flavour the header is presented as
    expect(codeOf(() => verify(f.header, f.validators!))).toBe(expectedCode(f));
    expect(codeOf(() => verify(hexToBytes(f.headerRlp), f.validators!))).toBe(expectedCode(f));

    const changesHash = ['header-field-changed', 'validator-set-substituted'].includes(f.forgery!.kind);
    if (changesHash) {
      // With a trusted hash (e.g. the child's parentHash) the forgery fails before any seal is looked at.
      expect(codeOf(() => verify(f.header, f.validators!, { expectedHash: f.expectedHash }))).toBe(
        'MR_ERR_QBFT_HASH_MISMATCH',
      );
      expect(codeOf(() => verify({ ...f.header, hash: f.expectedHash }, f.validators!))).toBe(
        'MR_ERR_QBFT_HASH_MISMATCH',
      );
    } else if (f.forgery!.kind !== 'wrong-flavor') {
      // Seal-only forgeries keep the block hash: the hash check passes and the seals fail.
      expect(codeOf(() => verify(f.header, f.validators!, { expectedHash: f.expectedHash }))).toBe(
        expectedCode(f),
      );
    }
    if (f.forgery!.kind === 'validator-set-substituted') {
      // The forged header lists only the attacker: against ITS OWN list it would pass. That is the
      // mistake the fixture exists to catch: the trusted set must never come from the header under test.
      const own = verify(f.header, [attacker]);
      expect(own.signers).toEqual([attacker]);
    }
  });

  it('wrong-flavor headers are accepted by their real flavour', () => {
    for (const f of forgedBft.filter((x) => x.forgery!.kind === 'wrong-flavor')) {
      const real = f.kind === 'qbft' ? verifyIbft2Finality : verifyQbftFinality;
      expect(bytesToHex(real(f.header, f.validators!).blockHash)).toBe(f.expectedHash);
    }
  });
});

describe('Clique', () => {
  it.each(realClique.map((f) => [f.name, f] as const))('%s: signer recovered', (_name, f) => {
    const r = verifyCliqueHeader(f.header, {
      authorizedSigners: f.authorizedSigners ?? [f.expectedSigner!],
      expectedHash: f.expectedHash,
    });
    expect(r.signer).toBe(f.expectedSigner!.toLowerCase());
    expect(bytesToHex(r.blockHash)).toBe(f.expectedHash);
    expect(bytesToHex(r.sealHash)).toBe(f.computed!.sealHash);
    if (f.authorizedSigners)
      expect(r.checkpointSigners).toEqual(f.authorizedSigners.map((s) => s.toLowerCase()));
  });

  it.each(forgedClique.map((f) => [f.name, f] as const))('%s: rejected', (_name, f) => {
    const signers = f.authorizedSigners ?? [f.expectedSigner!];
    const kind = f.forgery!.kind;
    // The Clique hash covers the seal: a flipped seal or changed field breaks the trusted hash. (The
    // non-signer fixture carries the hash of its own forged header, so only the signer check catches it.)
    if (kind !== 'seal-by-non-signer') {
      expect(
        codeOf(() =>
          verifyCliqueHeader(f.header, { authorizedSigners: signers, expectedHash: f.expectedHash }),
        ),
      ).toBe('MR_ERR_CLIQUE_HASH_MISMATCH');
    }
    const code = codeOf(() => verifyCliqueHeader(f.header, { authorizedSigners: signers }));
    if (kind === 'seal-flipped' && f.whyRejected!.startsWith('bad point'))
      expect(code).toBe('MR_ERR_CLIQUE_BAD_SEAL');
    else expect(code).toBe('MR_ERR_CLIQUE_NOT_SIGNER');
  });
});

// ---------------------------------------------------------------------------------------------
// Headers sealed here: codec edge cases, seal malleability, rotation
// ---------------------------------------------------------------------------------------------

const V4 = deriveValidatorKeys('medrelay qbft unit test set A', 4);
const V5 = deriveValidatorKeys('medrelay qbft unit test set B', 5);
const ATTACKER = deriveValidatorKeys('medrelay qbft unit test attacker', 1);

function anvilLike(n: number): Record<string, string> {
  const word = (tag: string) => bytesToHex(keccak256(new TextEncoder().encode(`${tag}:${n}`)));
  return {
    number: `0x${n.toString(16)}`,
    parentHash: n === 0 ? `0x${'00'.repeat(32)}` : word('anvil-parent'),
    stateRoot: word('state'),
    transactionsRoot: word('txs'),
    receiptsRoot: word('receipts'),
    logsBloom: `0x${'00'.repeat(256)}`,
    gasLimit: '0x1c9c380',
    gasUsed: '0x0',
    timestamp: `0x${(1_700_000_000 + n).toString(16)}`,
    baseFeePerGas: '0x3b9aca00',
    withdrawalsRoot: word('w'),
    blobGasUsed: '0x0',
    excessBlobGas: '0x0',
    parentBeaconBlockRoot: word('beacon'),
    requestsHash: word('requests'),
  };
}

/** A chain of `count` headers after genesis, sealed by set A. */
function sealedChain(count: number) {
  const genesis = sealQbftHeader(anvilLike(0), null, V4.validators, V4.keys);
  const out = [genesis];
  for (let n = 1; n <= count; n++) {
    out.push(sealQbftHeader(anvilLike(n), out[n - 1]!.header.hash, V4.validators, V4.keys));
  }
  return out;
}

describe('sealer output (Prague header) verifies', () => {
  const chain = sealedChain(3);

  it('genesis keeps anvil parentHash, has no seals and hashes extraData unchanged', () => {
    const g = chain[0]!.header;
    expect(g.parentHash).toBe(`0x${'00'.repeat(32)}`);
    expect(decodeQbftExtraData(hexToBytes(g.extraData as string)).seals).toHaveLength(0);
    expect(g.hash).toBe(bytesToHex(keccak256(chain[0]!.rlp)));
  });

  it('each header verifies, links to its parent, and round-trips through RLP', () => {
    for (let n = 1; n < chain.length; n++) {
      const { header, rlp } = chain[n]!;
      expect(header.parentHash).toBe(chain[n - 1]!.header.hash);
      expect(header.miner).toBe(V4.validators[n % 4]);
      const r = verifyQbftFinality(header, V4.validators);
      expect(r.signers).toEqual(V4.validators.slice(0, 3));
      expect(bytesToHex(r.blockHash)).toBe(header.hash);
      const { hash: _hash, ...plain } = header;
      expect(decodeHeaderRlp(rlp)).toEqual(plain);
      expect(verifyQbftFinality(rlp, V4.validators, { expectedHash: header.hash }).number).toBe(BigInt(n));
    }
  });

  it('the round changes the seal digest but not the block hash', () => {
    const r0 = sealQbftHeader(anvilLike(1), chain[0]!.header.hash, V4.validators, V4.keys, 0n);
    const r3 = sealQbftHeader(anvilLike(1), chain[0]!.header.hash, V4.validators, V4.keys, 3n);
    expect(r3.header.hash).toBe(r0.header.hash);
    expect(bytesToHex(qbftSealDigest(r3.header))).not.toBe(bytesToHex(qbftSealDigest(r0.header)));
    expect(verifyQbftFinality(r3.header, V4.validators).round).toBe(3n);
  });

  it('rejects a high-s twin of a valid seal, v = 27, and a short seal', () => {
    const { header } = chain[1]!;
    const extra = decodeQbftExtraData(hexToBytes(header.extraData as string));
    const withSeal0 = (seal: Uint8Array): BftHeader => ({
      ...header,
      extraData: bytesToHex(encodeQbftExtraData({ ...extra, seals: [seal, ...extra.seals.slice(1)] })),
    });
    const seal = extra.seals[0]!;
    const n = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
    const s = BigInt(bytesToHex(seal.subarray(32, 64)));
    const twin = new Uint8Array(seal);
    twin.set(hexToBytes(`0x${(n - s).toString(16).padStart(64, '0')}`), 32);
    twin[64] = seal[64]! ^ 1;
    // the twin is a mathematically valid signature by the same key…
    expect(() => recoverSealer(twin, qbftSealDigest(header))).toThrow(/high s/);
    // …and is refused
    expect(codeOf(() => verifyQbftFinality(withSeal0(twin), V4.validators))).toBe('MR_ERR_QBFT_BAD_SEAL');
    const v27 = new Uint8Array(seal);
    v27[64] = 27 + seal[64]!;
    expect(codeOf(() => verifyQbftFinality(withSeal0(v27), V4.validators))).toBe('MR_ERR_QBFT_BAD_SEAL');
    expect(codeOf(() => verifyQbftFinality(withSeal0(seal.subarray(0, 64)), V4.validators))).toBe(
      'MR_ERR_QBFT_BAD_SEAL',
    );
  });

  it('extraData codec: votes, flavours, strictness', () => {
    const base: BftExtraData = {
      vanity: new Uint8Array(32),
      validators: V4.validators,
      vote: { recipient: V5.validators[0]!, add: false },
      round: 7n,
      seals: [],
    };
    for (const add of [true, false]) {
      const e = { ...base, vote: { recipient: V5.validators[0]!, add } };
      expect(decodeQbftExtraData(encodeQbftExtraData(e))).toEqual(e);
      expect(decodeIbft2ExtraData(encodeIbft2ExtraData(e))).toEqual(e);
      // a drop vote is written differently (0x80 vs 0x00); an add vote only differs by the round form
      expect(codeOf(() => decodeIbft2ExtraData(encodeQbftExtraData(e)))).toBe('MR_ERR_QBFT_WRONG_FLAVOR');
      expect(codeOf(() => decodeQbftExtraData(encodeIbft2ExtraData(e)))).toBe('MR_ERR_QBFT_WRONG_FLAVOR');
    }
    // QBFT drop = empty string; IBFT2 drop = 0x00
    expect(bytesToHex(encodeQbftExtraData(base))).toContain(`${V5.validators[0]!.slice(2)}8007c0`);
    expect(bytesToHex(encodeIbft2ExtraData(base))).toContain(`${V5.validators[0]!.slice(2)}008400000007c0`);
    expect(codeOf(() => decodeQbftExtraData(hexToBytes('0xc0')))).toBe('MR_ERR_QBFT_EXTRA_DATA');
    expect(codeOf(() => decodeQbftExtraData(hexToBytes('0x')))).toBe('MR_ERR_QBFT_EXTRA_DATA');
    expect(codeOf(() => encodeQbftExtraData({ ...base, vanity: new Uint8Array(31) }))).toBe(
      'MR_ERR_QBFT_EXTRA_DATA',
    );
    expect(codeOf(() => encodeIbft2ExtraData({ ...base, round: 1n << 32n }))).toBe('MR_ERR_QBFT_EXTRA_DATA');
  });

  it('refuses header objects with a fork-field gap or bad field lengths', () => {
    const { hash: _h, ...h } = chain[1]!.header;
    expect(codeOf(() => encodeBftHeader({ ...h, withdrawalsRoot: undefined }))).toBe('MR_ERR_QBFT_HEADER');
    expect(codeOf(() => encodeBftHeader({ ...h, stateRoot: '0x1234' }))).toBe('MR_ERR_QBFT_HEADER');
    expect(codeOf(() => encodeBftHeader({ ...h, gasUsed: '0x00' }))).toBe('MR_ERR_QBFT_HEADER');
  });

  it('quorum is ceil(2n/3)', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 10].map(bftQuorum)).toEqual([1, 2, 2, 3, 4, 4, 5, 7]);
  });
});

describe('light client rotation (QbftLightClientState)', () => {
  const chain = sealedChain(2);
  const start = () => createQbftLightClient(V4.validators, { latestNumber: 0n });

  it('follows headers of the current set and stores their roots', () => {
    let s = start();
    s = applyHeader(s, chain[1]!.header);
    s = applyHeader(s, chain[2]!.rlp);
    expect(s.latestNumber).toBe(2n);
    expect(s.epoch).toBe(0);
    expect(bytesToHex(s.headers.get(2n)!.stateRoot)).toBe(chain[2]!.header.stateRoot);
    expect(bytesToHex(s.headers.get(1n)!.blockHash)).toBe(chain[1]!.header.hash);
  });

  it('rotates 4 → 5 validators only via a header the old set sealed', () => {
    const s0 = applyHeader(start(), chain[1]!.header);
    // block 2: the old set (3 of 4) seals a header that announces the new 5-validator set
    const announce = sealQbftHeader(anvilLike(2), chain[1]!.header.hash, V4.validators, V4.keys, 0n, {
      nextValidators: V5.validators,
    });
    const s1 = applyHeader(s0, announce.header);
    expect(s1.validators).toEqual(V5.validators);
    expect(s1.epoch).toBe(1);
    expect(s0.validators).toEqual(V4.validators); // the old state is untouched
    // block 3: sealed by 4 of the 5 new validators → accepted
    const next = sealQbftHeader(anvilLike(3), announce.header.hash, V5.validators, V5.keys);
    const s2 = applyHeader(s1, next.header);
    expect(s2.latestNumber).toBe(3n);
    expect(s2.epoch).toBe(1);
    // …while the old set can no longer finalise anything
    const oldSet = sealQbftHeader(anvilLike(4), next.header.hash, V4.validators, V4.keys);
    expect(codeOf(() => applyHeader(s2, oldSet.header))).toBe('MR_ERR_QBFT_NOT_VALIDATOR');
  });

  it('rejects a header sealed only by the new set before the rotation', () => {
    const s0 = applyHeader(start(), chain[1]!.header);
    const early = sealQbftHeader(anvilLike(2), chain[1]!.header.hash, V5.validators, V5.keys);
    expect(codeOf(() => applyHeader(s0, early.header))).toBe('MR_ERR_QBFT_NOT_VALIDATOR');
  });

  it('rejects a header announcing a new set sealed by the attacker', () => {
    const s0 = applyHeader(start(), chain[1]!.header);
    const evil = sealQbftHeader(anvilLike(2), chain[1]!.header.hash, ATTACKER.validators, ATTACKER.keys, 0n, {
      nextValidators: ATTACKER.validators,
    });
    expect(codeOf(() => applyHeader(s0, evil.header))).toBe('MR_ERR_QBFT_NOT_VALIDATOR');
    // and with fewer than quorum honest seals plus the attacker: still rejected
    const extra = decodeQbftExtraData(hexToBytes(chain[2]!.header.extraData as string));
    const cut = {
      ...chain[2]!.header,
      extraData: bytesToHex(encodeQbftExtraData({ ...extra, seals: extra.seals.slice(0, 2) })),
    };
    expect(codeOf(() => applyHeader(s0, cut))).toBe('MR_ERR_QBFT_BELOW_QUORUM');
  });

  it('rejects a number that does not increase', () => {
    const s1 = applyHeader(applyHeader(start(), chain[1]!.header), chain[2]!.header);
    expect(codeOf(() => applyHeader(s1, chain[2]!.header))).toBe('MR_ERR_QBFT_STALE_HEADER');
    expect(codeOf(() => applyHeader(s1, chain[1]!.header))).toBe('MR_ERR_QBFT_STALE_HEADER');
  });

  it('refuses to rotate to an empty set (contract-based validator selection is not supported)', () => {
    const s0 = applyHeader(start(), chain[1]!.header);
    expect(
      codeOf(() =>
        sealQbftHeader(anvilLike(2), chain[1]!.header.hash, V4.validators, V4.keys, 0n, {
          nextValidators: [],
        }),
      ),
    ).toBe('MR_ERR_QBFT_VALIDATORS');
    // seal by hand: the old set really signs a header whose extraData lists no validators
    const { hash: _h, ...plain } = chain[2]!.header;
    const extra = decodeQbftExtraData(hexToBytes(plain.extraData as string));
    const unsealed = {
      ...plain,
      extraData: bytesToHex(encodeQbftExtraData({ ...extra, validators: [], seals: [] })),
    };
    const digest = qbftSealDigest(unsealed);
    const seals = V4.keys.slice(0, 3).map((k) => {
      const vrs = secp256k1.sign(digest, k, { prehash: false, lowS: true, format: 'recovered' });
      return Uint8Array.from([...vrs.subarray(1), vrs[0]!]);
    });
    const header = {
      ...unsealed,
      extraData: bytesToHex(encodeQbftExtraData({ ...extra, validators: [], seals })),
    };
    expect(verifyQbftFinality(header, V4.validators).nextValidators).toEqual([]);
    expect(codeOf(() => applyHeader(s0, header))).toBe('MR_ERR_QBFT_VALIDATORS');
  });

  it('IBFT 2.0 flavour state machine accepts the real IBFT2 header with its set', () => {
    const f = realBft.find((x) => x.name === 'ibft2-codefi-quickstart-4880')!;
    const s = applyHeader(
      createQbftLightClient(f.validators!, { flavor: 'ibft2', latestNumber: 4879n }),
      f.header,
    );
    expect(s.latestNumber).toBe(4880n);
    const q = createQbftLightClient(f.validators!, { latestNumber: 4879n });
    expect(codeOf(() => applyHeader(q, f.header))).toBe('MR_ERR_QBFT_WRONG_FLAVOR');
  });
});
