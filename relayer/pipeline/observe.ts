/** observe: follow a chain's finalized head and record what its Outbox and Inbox emitted. */
import type { Hex } from '../../proofs/bytes.js';
import { RelayerError } from '../../proofs/errors.js';
import { ackLeaf } from '../../proofs/packet.js';
import { keys, type PipelineDeps, pathsFrom } from './types.js';

export async function observe(
  deps: PipelineDeps,
  chainId: string,
): Promise<{ from: bigint; to: bigint } | null> {
  const rt = deps.chains.get(chainId);
  if (!rt) throw new RelayerError('MR_ERR_UNKNOWN_CHAIN', `observe: unknown chain ${chainId}`);
  const k = keys(deps);
  // One observer per chain at a time, even with several relayer processes.
  const lock = await deps.redis.set(k.observeLock(chainId), String(process.pid), 'PX', 30_000, 'NX');
  if (!lock) return null;
  try {
    const stored = await deps.store.getCursor(chainId, 'events');
    const cursor = stored === null ? rt.startHeight - 1n : BigInt(stored);
    const head = await rt.adapter.finalizedHeight();
    if (head <= cursor) return null;
    const span = deps.observeSpan ?? 2000n;
    const to = head < cursor + span ? head : cursor + span;
    const from = cursor + 1n;
    const ev = await rt.adapter.events(from, to);
    const id = rt.adapter.info.chainId;
    const asSource = pathsFrom(deps, id, 'source');
    const asDest = pathsFrom(deps, id, 'dest');

    for (const s of ev.sent) {
      const path = asSource.get(s.packet.channel.toLowerCase() as Hex);
      if (!path) continue;
      await deps.leaves.put('send', path.id, [{ sequence: s.packet.sequence, leaf: s.id, height: s.height }]);
      await deps.store.upsertSent({
        id: s.id,
        channel: path.id,
        sequence: s.packet.sequence,
        sourceChain: path.source.info.name,
        destChain: path.dest.info.name,
        kind: s.packet.kind,
        sentHeight: s.height,
        packetHex: s.packetHex,
      });
      await deps.enqueue.prove(path, s.id);
    }
    for (const r of ev.received) {
      const path = asDest.get(r.channel.toLowerCase() as Hex);
      if (!path) continue;
      await deps.leaves.put('ack', path.id, [
        { sequence: r.sequence, leaf: ackLeaf(r.id, r.status, r.result), height: r.height },
      ]);
      await deps.redis.hset(k.ackMeta(path.id), r.sequence.toString(), `${r.id},${r.status},${r.result}`);
      await deps.store.transition(r.id, 'delivered', { deliverTx: r.txHash, ackStatus: r.status });
      await deps.enqueue.confirm(path, r.id);
    }
    for (const a of ev.acknowledged) {
      if (!asSource.has(a.channel.toLowerCase() as Hex)) continue;
      await deps.store.transition(a.id, 'acknowledged', { ackTx: a.txHash, ackStatus: a.status });
    }
    for (const t of ev.timedOut) {
      if (!asSource.has(t.channel.toLowerCase() as Hex)) continue;
      await deps.store.transition(t.id, 'timed_out', { ackTx: t.txHash });
    }
    // The cursor moves only after everything below it is stored: a crash here re-reads the span (idempotent).
    await deps.store.setCursor(chainId, 'events', to);
    return { from, to };
  } finally {
    await deps.redis.del(k.observeLock(chainId));
  }
}
