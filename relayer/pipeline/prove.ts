/** prove: build and verify a batch (bundle) for a channel, starting at the destination's nextRecv. */
import type { Hex } from '../../proofs/bytes.js';
import type { ChannelPath } from '../paths.js';
import { verifyBatch, verifyCommitment } from '../verify.js';
import { batchFrom, chooseHeight, cursorOf, verifiedHeader } from './shared.js';
import { type Bundle, DELIVERED_OR_LATER, keys, NotReadyError, type PipelineDeps } from './types.js';

export async function prove(deps: PipelineDeps, path: ChannelPath, id: Hex): Promise<void> {
  const rec = await deps.store.get(id);
  if (!rec) return; // unknown here: clearing re-queues it once observe has recorded it
  if (DELIVERED_OR_LATER.has(rec.state)) return;
  const k = keys(deps);
  const seq = BigInt(rec.sequence);
  const nextRecv = await path.dest.nextRecv(path.id);
  if (nextRecv > seq) {
    await deps.store.transition(id, 'delivered', {});
    await deps.enqueue.confirm(path, id);
    return;
  }
  if (await deps.redis.exists(k.bundleFor(id))) {
    await deps.enqueue.deliver(path, id);
    return;
  }
  const bundledUpTo = BigInt((await deps.redis.get(k.bundledUpTo(path.id))) ?? '0');
  let first = nextRecv > bundledUpTo ? nextRecv : bundledUpTo + 1n;
  if (first > seq) first = nextRecv; // a bundle covering seq was lost: rebuild from the destination's view

  const src = deps.chains.get(path.source.info.chainId.toString())!;
  const observedUpTo = await cursorOf(deps, path.source.info.chainId);
  const all = await deps.leaves.contiguous('send', path.id);
  const batch = batchFrom(all, first, path.batchSize, observedUpTo);
  if (batch.length === 0) throw new NotReadyError(`${path.shortName}: packet ${first} not observed yet`);
  const maxLeafHeight = batch[batch.length - 1]!.height;
  const { height, needsUpdate } = await chooseHeight(path.dest, src, observedUpTo, maxLeafHeight);

  const { header, stateRoot } = await verifiedHeader(path.dest, path.source, height);
  const proof = await path.source.sendCommitmentProof(path.id, height);
  const root = verifyCommitment(stateRoot, proof);
  const { acc } = await deps.leaves.treeAt('send', path.id, height);
  if (acc.size === 0 || `0x${Buffer.from(acc.root()).toString('hex')}` !== root) {
    throw new NotReadyError(`${path.shortName}: observed leaves do not match the proven root at ${height}`);
  }
  const start = Number(first - 1n);
  const rangeProof = acc.rangeProof(start, batch.length);
  verifyBatch(
    root,
    first - 1n,
    batch.map((l) => l.leaf),
    rangeProof,
  );

  const packets: Hex[] = [];
  for (const l of batch) {
    const r = await deps.store.get(l.leaf);
    if (!r) throw new NotReadyError(`packet ${l.leaf} not recorded yet`);
    packets.push(r.packetHex);
  }
  const last = first + BigInt(batch.length) - 1n;
  const bundle: Bundle = {
    channel: path.id,
    first: first.toString(),
    last: last.toString(),
    height: height.toString(),
    ...(needsUpdate ? { header } : {}),
    proof,
    packets,
    rangeProof,
  };
  const tx = deps.redis.multi();
  tx.set(k.bundle(path.id, first), JSON.stringify(bundle));
  for (const l of batch) tx.set(k.bundleFor(l.leaf), k.bundle(path.id, first));
  tx.set(k.bundledUpTo(path.id), last.toString());
  await tx.exec();
  for (const l of batch) {
    await deps.store.transition(l.leaf, 'proven', {});
    await deps.enqueue.deliver(path, l.leaf);
  }
}
