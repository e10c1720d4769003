/** deliver: submit a bundle to the destination, after checking "already received?". */
import type { Hex } from '../../proofs/bytes.js';
import { hexToBytes } from '../../proofs/bytes.js';
import { decodePacket, packetId } from '../../proofs/packet.js';
import type { ChannelPath } from '../paths.js';
import { prove } from './prove.js';
import { isRevert } from './shared.js';
import { type Bundle, DELIVERED_OR_LATER, keys, NotReadyError, type PipelineDeps } from './types.js';

export async function deliver(deps: PipelineDeps, path: ChannelPath, id: Hex, attempt = 0): Promise<void> {
  // Re-proving happens inline: queueing it would race with this job, which still holds the packet's job id.
  const reprove = async (): Promise<void> => {
    if (attempt >= 2) throw new NotReadyError(`${path.shortName}: bundle for ${id} keeps going stale`);
    await prove(deps, path, id);
    await deliver(deps, path, id, attempt + 1);
  };
  const rec = await deps.store.get(id);
  if (!rec || DELIVERED_OR_LATER.has(rec.state)) return;
  const k = keys(deps);
  const bundleKey = await deps.redis.get(k.bundleFor(id));
  const raw = bundleKey ? await deps.redis.get(bundleKey) : null;
  if (!raw) {
    return reprove();
  }
  const b = JSON.parse(raw) as Bundle;
  const first = BigInt(b.first);
  const last = BigInt(b.last);
  const nextRecv = await path.dest.nextRecv(path.id);
  if (nextRecv > last) {
    await markDelivered(deps, path, b, null);
    return;
  }
  if (nextRecv < first)
    throw new NotReadyError(`${path.shortName}: waiting for packets ${nextRecv}..${first - 1n}`);
  if (nextRecv > first) {
    // Part of the bundle was delivered by someone else: drop it and prove again from the destination's view.
    await discardBundle(deps, path, b, nextRecv - 1n);
    return reprove();
  }
  await yieldToPriorityLanes(deps, path);
  const srcId = path.source.info.chainId;
  let header = b.header;
  if (await path.dest.isTrusted(srcId, BigInt(b.height))) header = undefined;
  else if (!header) {
    await discardBundle(deps, path, b, nextRecv - 1n);
    return reprove();
  }
  const packets = b.packets.map((p) => decodePacket(hexToBytes(p, 'packet')));
  try {
    const tx = await path.dest.receivePackets({
      sourceChainId: srcId,
      ...(header ? { header } : {}),
      proof: b.proof,
      packets,
      rangeProof: b.rangeProof,
    });
    deps.hooks?.onTx?.(path.dest.info.name, 'receive', tx.gasUsed);
    await markDelivered(deps, path, b, tx);
  } catch (err) {
    if (isRevert(err, 'AlreadyReceived', 'SequenceOutOfOrder', 'StaleHeader', 'UnknownHeight')) {
      // The chain moved under us (another relayer, or a restart): re-prove from fresh state.
      await discardBundle(deps, path, b, (await path.dest.nextRecv(path.id)) - 1n);
      return reprove();
    }
    throw err;
  }
}

/**
 * A normal path waits while a priority path between the same two chains has packets sent but not received:
 * a consent revocation must reach the destination before record proofs queued behind it (the destination
 * refuses a record proof whose consent is revoked at delivery time, so the revocation must get there first).
 */
async function yieldToPriorityLanes(deps: PipelineDeps, path: ChannelPath): Promise<void> {
  if (path.lane === 'priority') return;
  for (const p of deps.paths) {
    if (p.lane !== 'priority') continue;
    if (p.source.info.chainId !== path.source.info.chainId || p.dest.info.chainId !== path.dest.info.chainId)
      continue;
    const sent = (await p.source.nextSequence(p.id)) - 1n;
    const received = (await p.dest.nextRecv(p.id)) - 1n;
    if (sent > received) {
      throw new NotReadyError(
        `${path.shortName}: yielding to priority lane ${p.shortName} (${sent - received} pending)`,
      );
    }
  }
}

async function discardBundle(
  deps: PipelineDeps,
  path: ChannelPath,
  b: Bundle,
  receivedUpTo: bigint,
): Promise<void> {
  const k = keys(deps);
  const tx = deps.redis.multi();
  tx.del(k.bundle(path.id, BigInt(b.first)));
  for (const p of b.packets) {
    tx.del(k.bundleFor(packetId(decodePacket(hexToBytes(p, 'packet')))));
  }
  tx.set(k.bundledUpTo(path.id), receivedUpTo.toString());
  await tx.exec();
}

async function markDelivered(
  deps: PipelineDeps,
  path: ChannelPath,
  b: Bundle,
  tx: { hash: Hex; gasUsed: bigint } | null,
): Promise<void> {
  const n = BigInt(b.packets.length);
  const latencies: number[] = [];
  for (const p of b.packets) {
    const id = packetId(decodePacket(hexToBytes(p, 'packet')));
    const moved = await deps.store.transition(id, 'delivered', {
      ...(tx ? { deliverTx: tx.hash, gasUsed: tx.gasUsed / n } : {}),
    });
    if (moved) {
      const rec = await deps.store.get(id);
      if (rec?.sentAt && rec.deliveredAt) latencies.push((rec.deliveredAt - rec.sentAt) / 1000);
    }
    await deps.enqueue.confirm(path, id);
  }
  if (tx) deps.hooks?.onDelivered?.(path, b.packets.length, tx.gasUsed, latencies);
}
