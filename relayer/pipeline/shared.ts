/** Helpers shared by the prove, confirm and timeout stages: proof heights, verified headers, batches. */
import type { ChainAdapter, FinalityProof } from '../../adapters/types.js';
import type { Hex } from '../../proofs/bytes.js';
import { bytesToHex, hexToBytes } from '../../proofs/bytes.js';
import { ChainError, ProofError } from '../../proofs/errors.js';
import { decodePacket, type Packet } from '../../proofs/packet.js';
import {
  decodeHeaderRlp,
  decodeQbftExtraData,
  normalizeValidators,
  verifyQbftFinality,
} from '../../proofs/qbft.js';
import type { Leaf } from '../leaves.js';
import { verifyFinality } from '../verify.js';
import { type ChainRuntime, NotReadyError, type PipelineDeps } from './types.js';

/** Highest height whose events are all recorded (−1 before the first observe step). */
export async function cursorOf(deps: PipelineDeps, chainId: bigint): Promise<bigint> {
  const c = await deps.store.getCursor(chainId.toString(), 'events');
  return c === null ? -1n : BigInt(c);
}

/**
 * Chooses the proof height for a batch whose newest leaf is at `maxLeafHeight`: reuse a height the
 * destination light client already trusts (no header update, cheaper) when our view of the leaves covers it,
 * else the newest height we have fully observed (which needs a header update).
 */
export async function chooseHeight(
  verifier: ChainAdapter,
  provenChain: ChainRuntime,
  observedUpTo: bigint,
  maxLeafHeight: bigint,
): Promise<{ height: bigint; needsUpdate: boolean }> {
  const remote = provenChain.adapter.info.chainId;
  const lc = await verifier.lightClientState(remote);
  const trusted = lc.latestNumber;
  // A trusted header that installed the current set was sealed by the previous one: it cannot be re-verified
  // locally against the current set, so prove at a newer height instead.
  const reusable = lc.validatorsSince === 0n || trusted > lc.validatorsSince;
  if (reusable && trusted >= maxLeafHeight && trusted <= observedUpTo)
    return { height: trusted, needsUpdate: false };
  if (observedUpTo > trusted) return { height: observedUpTo, needsUpdate: true };
  throw new NotReadyError(`waiting for observation of chain ${remote} to reach trusted height ${trusted}`);
}

export async function verifiedHeader(
  verifier: ChainAdapter,
  proven: ChainAdapter,
  height: bigint,
): Promise<{ header: FinalityProof; stateRoot: Hex; timestamp: bigint }> {
  const validators = await syncValidatorSet(verifier, proven, height);
  const header = await proven.finalityProof(height);
  const v = verifyFinality(header, validators);
  return { header, stateRoot: v.stateRoot, timestamp: v.timestamp };
}

/** Most rotations one `syncValidatorSet` call follows; the rest are picked up on the next call. */
export const MAX_ROTATIONS_PER_SYNC = 8;

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x.toLowerCase() === b[i]!.toLowerCase());
}

/** The validator list in the extraData of `proof`'s header (the set that seals its children). */
export function listedValidators(proof: FinalityProof): string[] {
  const header = decodeHeaderRlp(hexToBytes(proof.header, 'header'));
  const extra =
    typeof header.extraData === 'string' ? hexToBytes(header.extraData, 'extraData') : header.extraData;
  return decodeQbftExtraData(extra).validators.map((a) => a.toLowerCase());
}

/**
 * Makes the destination light client (`verifier`) follow the source's (`proven`) validator rotations up to
 * `targetHeight`, and returns the set that seals `targetHeight`. Rotation headers are located by binary search
 * on "extraData lists the trusted set", each verified locally against the current set (applyHeader rules: a
 * quorum of the current set sealed it) and submitted with `updateClient`. Bounded: at most
 * MAX_ROTATIONS_PER_SYNC rotations per call (NotReadyError to resume), O(log n) header reads per rotation.
 */
export async function syncValidatorSet(
  verifier: ChainAdapter,
  proven: ChainAdapter,
  targetHeight: bigint,
  onUpdate?: (gasUsed: bigint) => void,
): Promise<string[]> {
  const remote = proven.info.chainId;
  const lc = await verifier.lightClientState(remote);
  let trusted = lc.validators;
  if (lc.validatorsSince > 0n && targetHeight <= lc.validatorsSince) {
    throw new NotReadyError(
      `chain ${remote} height ${targetHeight} is at or below the current validator set's start ${lc.validatorsSince}`,
    );
  }
  if ((await proven.finalizedHeight()) < targetHeight) {
    throw new NotReadyError(`chain ${remote} has not reached height ${targetHeight} yet`);
  }
  const cache = new Map<bigint, FinalityProof>();
  const fetch = async (h: bigint): Promise<FinalityProof> => {
    let p = cache.get(h);
    if (!p) {
      p = await proven.finalityProof(h);
      cache.set(h, p);
    }
    return p;
  };
  const targetList = listedValidators(await fetch(targetHeight));
  if (sameSet(targetList, trusted)) return trusted;
  if (targetHeight <= lc.latestNumber) {
    throw new ProofError(
      'MR_ERR_QBFT_UNSEEN_ROTATION',
      `chain ${remote} header ${targetHeight} lists a set the light client (at ${lc.latestNumber}) does not trust`,
      { details: { height: targetHeight.toString(), latestNumber: lc.latestNumber.toString() } },
    );
  }
  // Invariant: header `lo` lists `trusted`, header `targetHeight` does not.
  let lo = lc.latestNumber;
  for (let r = 0; r < MAX_ROTATIONS_PER_SYNC; r++) {
    let hi = targetHeight;
    while (hi - lo > 1n) {
      const mid = lo + (hi - lo) / 2n;
      if (sameSet(listedValidators(await fetch(mid)), trusted)) lo = mid;
      else hi = mid;
    }
    // `hi` is the first header after `lo` naming another set: the trusted set must have sealed it.
    const rotation = await fetch(hi);
    const fin = verifyQbftFinality(decodeHeaderRlp(hexToBytes(rotation.header, 'header')), [...trusted]);
    if (bytesToHex(fin.stateRoot) !== rotation.stateRoot.toLowerCase() || fin.number !== hi) {
      throw new ProofError(
        'MR_ERR_FINALITY_MISMATCH',
        'finality proof fields disagree with the sealed header',
      );
    }
    const next = normalizeValidators(fin.nextValidators, 'extraData.validators');
    try {
      const tx = await verifier.updateClient(remote, rotation);
      onUpdate?.(tx.gasUsed);
    } catch (err) {
      // Another worker submitted it (or a later header) first: re-read the light client next time.
      if (isRevert(err, 'StaleHeader'))
        throw new NotReadyError(`light client of chain ${remote} moved; retrying`);
      throw err;
    }
    trusted = next;
    lo = hi;
    if (sameSet(targetList, trusted)) return trusted;
    if (lo === targetHeight) break;
  }
  throw new NotReadyError(`chain ${remote}: more validator rotations to follow before ${targetHeight}`);
}

export function batchFrom(leaves: Leaf[], first: bigint, max: number, upToHeight: bigint): Leaf[] {
  const out: Leaf[] = [];
  for (const l of leaves) {
    if (l.sequence < first) continue;
    if (l.sequence !== first + BigInt(out.length) || l.height > upToHeight || out.length >= max) break;
    out.push(l);
  }
  return out;
}

export async function packetOf(deps: PipelineDeps, id: Hex): Promise<Packet> {
  const rec = await deps.store.get(id);
  if (!rec) throw new NotReadyError(`packet ${id} not recorded yet`);
  return decodePacket(hexToBytes(rec.packetHex, 'packetHex'));
}

export function isRevert(err: unknown, ...names: string[]): boolean {
  return (
    err instanceof ChainError &&
    (err.code === 'MR_ERR_TX_REVERTED' || err.code === 'MR_ERR_TX_FAILED') &&
    (names.length === 0 || names.includes(String(err.details.errorName)))
  );
}
