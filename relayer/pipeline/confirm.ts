/** confirm: relay acknowledgements back to the source, proven against the destination's ack accumulator. */
import type { Hex } from '../../proofs/bytes.js';
import type { Packet } from '../../proofs/packet.js';
import type { ChannelPath } from '../paths.js';
import { verifyBatch, verifyCommitment } from '../verify.js';
import { batchFrom, chooseHeight, cursorOf, isRevert, packetOf, verifiedHeader } from './shared.js';
import { FINAL, keys, NotReadyError, type PipelineDeps } from './types.js';

export async function confirm(deps: PipelineDeps, path: ChannelPath, id: Hex): Promise<void> {
  const rec = await deps.store.get(id);
  if (!rec || FINAL.has(rec.state)) return;
  const seq = BigInt(rec.sequence);
  const acked = await path.source.ackedUpTo(path.id);
  if (acked >= seq) {
    await deps.store.transition(id, 'acknowledged', {});
    return;
  }
  const k = keys(deps);
  const dst = deps.chains.get(path.dest.info.chainId.toString())!;
  const observedUpTo = await cursorOf(deps, path.dest.info.chainId);
  const first = acked + 1n;
  const all = await deps.leaves.contiguous('ack', path.id);
  const batch = batchFrom(all, first, path.batchSize, observedUpTo);
  if (batch.length === 0) throw new NotReadyError(`${path.shortName}: ack ${first} not observed yet`);
  const { height, needsUpdate } = await chooseHeight(path.source, dst, observedUpTo, batch.at(-1)!.height);
  const { header, stateRoot } = await verifiedHeader(path.source, path.dest, height);
  const proof = await path.dest.ackCommitmentProof(path.id, height);
  const root = verifyCommitment(stateRoot, proof);
  const { acc } = await deps.leaves.treeAt('ack', path.id, height);
  if (`0x${Buffer.from(acc.root()).toString('hex')}` !== root) {
    throw new NotReadyError(`${path.shortName}: observed acks do not match the proven root at ${height}`);
  }
  const rangeProof = acc.rangeProof(Number(first - 1n), batch.length);
  verifyBatch(
    root,
    first - 1n,
    batch.map((l) => l.leaf),
    rangeProof,
  );

  const metas = await deps.redis.hmget(k.ackMeta(path.id), ...batch.map((l) => l.sequence.toString()));
  const packets: Packet[] = [];
  const statuses: number[] = [];
  const results: Hex[] = [];
  const ids: Hex[] = [];
  for (const m of metas) {
    if (!m) throw new NotReadyError(`${path.shortName}: ack metadata missing`);
    const [pid, status, result] = m.split(',') as [Hex, string, Hex];
    packets.push(await packetOf(deps, pid));
    statuses.push(Number(status));
    results.push(result);
    ids.push(pid);
  }
  if (needsUpdate) {
    try {
      const up = await path.source.updateClient(path.dest.info.chainId, header);
      deps.hooks?.onTx?.(path.source.info.name, 'update_client', up.gasUsed);
    } catch (err) {
      if (!isRevert(err, 'StaleHeader')) throw err;
      throw new NotReadyError(`${path.shortName}: light client moved; retrying`);
    }
  }
  try {
    const tx = await path.source.acknowledgePackets({
      destChainId: path.dest.info.chainId,
      proof,
      packets,
      statuses,
      results,
      rangeProof,
    });
    deps.hooks?.onTx?.(path.source.info.name, 'acknowledge', tx.gasUsed);
    const latencies: number[] = [];
    for (const pid of ids) {
      const moved = await deps.store.transition(pid, 'acknowledged', {
        ackTx: tx.hash,
        gasUsed: tx.gasUsed / BigInt(ids.length),
      });
      if (moved) {
        const r = await deps.store.get(pid);
        if (r?.sentAt && r.ackedAt) latencies.push((r.ackedAt - r.sentAt) / 1000);
      }
    }
    deps.hooks?.onAcknowledged?.(path, ids.length, tx.gasUsed, latencies);
  } catch (err) {
    if (isRevert(err, 'AckOutOfOrder', 'AlreadyAcknowledged', 'SequenceOutOfOrder')) {
      throw new NotReadyError(`${path.shortName}: acks moved under us; retrying`);
    }
    throw err;
  }
}
