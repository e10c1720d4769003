/** clear: requeue every gap between source commitments and destination receipts; time out expired packets. */
import type { ChainAdapter } from '../../adapters/types.js';
import type { Hex } from '../../proofs/bytes.js';
import type { ChannelPath } from '../paths.js';
import { verifyCommitment } from '../verify.js';
import { isRevert, packetOf, verifiedHeader } from './shared.js';
import { keys, type PipelineDeps } from './types.js';

export interface ClearReport {
  path: string;
  sent: bigint;
  received: bigint;
  acknowledged: bigint;
  requeued: number;
  timedOut: number;
}

/**
 * Compares what the source committed with what the destination received and acknowledged, and requeues every
 * gap. On start (`reset`), stale bundles are dropped too, since they may predate a crash.
 */
export async function clear(deps: PipelineDeps, path: ChannelPath, reset: boolean): Promise<ClearReport> {
  const k = keys(deps);
  const sent = (await path.source.nextSequence(path.id)) - 1n;
  const received = (await path.dest.nextRecv(path.id)) - 1n;
  const acked = await path.source.ackedUpTo(path.id);
  const bundled = BigInt((await deps.redis.get(k.bundledUpTo(path.id))) ?? '0');
  if (reset || bundled < received) await deps.redis.set(k.bundledUpTo(path.id), received.toString());
  else if (bundled > received) {
    // The next packet to deliver must sit in a live bundle, or bundling restarts from it.
    const next = await deps.leaves.get('send', path.id, received + 1n);
    if (next && !(await deps.redis.exists(k.bundleFor(next.leaf)))) {
      await deps.redis.set(k.bundledUpTo(path.id), received.toString());
    }
  }
  // Time out first: once a packet is delivered (even expired) its refund can only come through the ack path.
  const timedOut = await timeouts(deps, path);
  let requeued = 0;
  const limit = 2048n;
  for (let s = received + 1n; s <= sent && s <= received + limit; s++) {
    const leaf = await deps.leaves.get('send', path.id, s);
    if (!leaf) break; // not observed yet: observe will enqueue it
    if (reset) await deps.redis.del(k.bundleFor(leaf.leaf));
    await deps.enqueue.prove(path, leaf.leaf);
    requeued++;
  }
  for (let s = acked + 1n; s <= received && s <= acked + limit; s++) {
    const meta = await deps.redis.hget(k.ackMeta(path.id), s.toString());
    if (!meta) break;
    await deps.enqueue.confirm(path, meta.split(',')[0] as Hex);
    requeued++;
  }
  return { path: path.name, sent, received, acknowledged: acked, requeued, timedOut };
}

/**
 * Times out, in order, the packets at the head of the source's unacknowledged queue whose timeout has passed on
 * the destination and that the destination has not received, proving non-receipt with a storage proof of the
 * destination Inbox's `nextRecv` at a header past the timeout.
 */
export async function timeouts(deps: PipelineDeps, path: ChannelPath, max = 32): Promise<number> {
  const dst = deps.chains.get(path.dest.info.chainId.toString())!;
  let done = 0;
  for (let i = 0; i < max; i++) {
    const seq = (await path.source.ackedUpTo(path.id)) + 1n;
    if (seq > (await path.source.nextSequence(path.id)) - 1n) break;
    const leaf = await deps.leaves.get('send', path.id, seq);
    if (!leaf) break;
    const packet = await packetOf(deps, leaf.leaf);
    if (packet.timeoutHeight === 0n && packet.timeoutTimestamp === 0n) break;
    if ((await path.dest.nextRecv(path.id)) > seq) break; // received (maybe as expired): the ack path settles it

    const head = await dst.adapter.finalizedHeight();
    const trusted = await path.source.trustedHeight(path.dest.info.chainId);
    const height = trusted > head ? trusted : head;
    const { header, stateRoot, timestamp } = await verifiedHeader(path.source, path.dest, height);
    const expired =
      (packet.timeoutHeight !== 0n && height >= packet.timeoutHeight) ||
      (packet.timeoutTimestamp !== 0n && timestamp >= packet.timeoutTimestamp);
    if (!expired) break;
    const proof = await path.dest.nextRecvProof(path.id, height);
    const proven = BigInt(verifyCommitment(stateRoot, proof));
    if ((proven === 0n ? 1n : proven) > seq) break;
    if (!(await path.source.isTrusted(path.dest.info.chainId, height))) {
      const up = await path.source.updateClient(path.dest.info.chainId, header);
      deps.hooks?.onTx?.(path.source.info.name, 'update_client', up.gasUsed);
    }
    let tx: Awaited<ReturnType<ChainAdapter['timeoutPacket']>>;
    try {
      tx = await path.source.timeoutPacket({ destChainId: path.dest.info.chainId, proof, packet });
    } catch (err) {
      // The ack path settled it first (the destination recorded it as expired): nothing left to time out.
      if (isRevert(err, 'SequenceOutOfOrder', 'AlreadyReceived')) break;
      throw err;
    }
    deps.hooks?.onTx?.(path.source.info.name, 'timeout', tx.gasUsed);
    deps.hooks?.onTimedOut?.(path, tx.gasUsed);
    await deps.store.transition(leaf.leaf, 'timed_out', { ackTx: tx.hash });
    done++;
  }
  return done;
}
