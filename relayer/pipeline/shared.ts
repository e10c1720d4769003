/** Helpers shared by the prove, confirm and timeout stages: proof heights, verified headers, batches. */
import type { ChainAdapter, FinalityProof } from '../../adapters/types.js';
import type { Hex } from '../../proofs/bytes.js';
import { hexToBytes } from '../../proofs/bytes.js';
import { ChainError } from '../../proofs/errors.js';
import { decodePacket, type Packet } from '../../proofs/packet.js';
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
  const trusted = await verifier.trustedHeight(remote);
  if (trusted >= maxLeafHeight && trusted <= observedUpTo) return { height: trusted, needsUpdate: false };
  if (observedUpTo > trusted) return { height: observedUpTo, needsUpdate: true };
  throw new NotReadyError(`waiting for observation of chain ${remote} to reach trusted height ${trusted}`);
}

export async function verifiedHeader(
  verifier: ChainAdapter,
  proven: ChainAdapter,
  height: bigint,
): Promise<{ header: FinalityProof; stateRoot: Hex; timestamp: bigint }> {
  const header = await proven.finalityProof(height);
  const validators = await verifier.trustedValidators(proven.info.chainId);
  const v = verifyFinality(header, validators);
  return { header, stateRoot: v.stateRoot, timestamp: v.timestamp };
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
