/**
 * The relay pipeline's stages as plain functions (BullMQ wiring lives in `relayer.ts`):
 *
 *   observe  follow each chain's finalized head; record sent packets, receipts (ack leaves), acks, timeouts
 *   prove    per channel: pick the batch from the destination's `nextRecv`, fetch + verify the source header,
 *            the storage proof of the Outbox accumulator root and the range proof; store a bundle
 *   deliver  submit the bundle (header update + packets in one tx); check "already received?" first
 *   confirm  relay the acks back to the source the same way (ack accumulator on the destination)
 *   clear    compare source commitments with destination receipts and requeue every gap; time out expired
 *            packets on the source with a proof of non-receipt
 *
 * Every stage is idempotent and re-reads chain state before acting: a job run twice, or after a crash, or with
 * Redis wiped, never delivers twice (the Inbox's ordered counter makes that impossible anyway) and never loses a
 * packet (clearing finds it from chain state).
 */
import type { Redis } from 'ioredis';
import type { ChainAdapter, FinalityProof } from '../adapters/types.js';
import type { Hex } from '../proofs/bytes.js';
import { hexToBytes } from '../proofs/bytes.js';
import { ChainError, RelayerError } from '../proofs/errors.js';
import { ackLeaf, decodePacket, type Packet, packetId } from '../proofs/packet.js';
import type { Leaf, LeafStore } from './leaves.js';
import type { ChannelPath } from './paths.js';
import type { PacketState, PacketStore } from './store.js';
import { verifyBatch, verifyCommitment, verifyFinality } from './verify.js';

export interface ChainRuntime {
  readonly adapter: ChainAdapter;
  /** First height to scan when no cursor exists (the contracts' deployment height). */
  readonly startHeight: bigint;
}

export interface PipelineHooks {
  onDelivered?(path: ChannelPath, count: number, gasUsed: bigint, latenciesSec: number[]): void;
  onAcknowledged?(path: ChannelPath, count: number, gasUsed: bigint, latenciesSec: number[]): void;
  onTimedOut?(path: ChannelPath, gasUsed: bigint): void;
  onTx?(chain: string, kind: string, gasUsed: bigint): void;
}

export interface Enqueue {
  prove(path: ChannelPath, id: Hex): Promise<void>;
  deliver(path: ChannelPath, id: Hex): Promise<void>;
  confirm(path: ChannelPath, id: Hex): Promise<void>;
}

export interface PipelineDeps {
  readonly redis: Redis;
  readonly prefix: string;
  readonly store: PacketStore;
  readonly leaves: LeafStore;
  readonly chains: ReadonlyMap<string, ChainRuntime>;
  readonly paths: readonly ChannelPath[];
  readonly enqueue: Enqueue;
  readonly hooks?: PipelineHooks;
  /** Max block span scanned by one observe step. */
  readonly observeSpan?: bigint;
}

/** A job that cannot make progress yet (waiting for a chain or another stage); BullMQ retries it with backoff. */
export class NotReadyError extends RelayerError {
  constructor(message: string) {
    super('MR_ERR_NOT_READY', message);
  }
}

interface Bundle {
  channel: Hex;
  first: string;
  last: string;
  height: string;
  header?: FinalityProof;
  proof: Awaited<ReturnType<ChainAdapter['sendCommitmentProof']>>;
  packets: Hex[];
  rangeProof: Hex[];
}

/**
 * States in which the destination is known to hold the packet. A timed-out packet is NOT in here: it must still
 * reach the destination (as expired, so the app is not called) or the ordered channel would stall behind it.
 */
const DELIVERED_OR_LATER: ReadonlySet<PacketState> = new Set(['delivered', 'acknowledged']);
const FINAL: ReadonlySet<PacketState> = new Set(['acknowledged', 'timed_out', 'refunded']);

function pathsFrom(deps: PipelineDeps, chainId: bigint, side: 'source' | 'dest'): Map<Hex, ChannelPath> {
  const m = new Map<Hex, ChannelPath>();
  for (const p of deps.paths) if (p[side].info.chainId === chainId) m.set(p.id.toLowerCase() as Hex, p);
  return m;
}

const keys = (deps: PipelineDeps) => ({
  bundle: (ch: Hex, first: bigint) => `${deps.prefix}:bundle:${ch}:${first}`,
  bundleFor: (id: Hex) => `${deps.prefix}:bundle-for:${id}`,
  bundledUpTo: (ch: Hex) => `${deps.prefix}:bundled-up-to:${ch}`,
  ackMeta: (ch: Hex) => `${deps.prefix}:ack-meta:${ch}`,
  observeLock: (chain: string) => `${deps.prefix}:lock:observe:${chain}`,
});

// ───────────────────────────── observe ─────────────────────────────

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

// ───────────────────────────── shared helpers ─────────────────────────────

/** Highest height whose events are all recorded (−1 before the first observe step). */
async function cursorOf(deps: PipelineDeps, chainId: bigint): Promise<bigint> {
  const c = await deps.store.getCursor(chainId.toString(), 'events');
  return c === null ? -1n : BigInt(c);
}

/**
 * Chooses the proof height for a batch whose newest leaf is at `maxLeafHeight`: reuse a height the
 * destination light client already trusts (no header update, cheaper) when our view of the leaves covers it,
 * else the newest height we have fully observed (which needs a header update).
 */
async function chooseHeight(
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

async function verifiedHeader(
  verifier: ChainAdapter,
  proven: ChainAdapter,
  height: bigint,
): Promise<{ header: FinalityProof; stateRoot: Hex; timestamp: bigint }> {
  const header = await proven.finalityProof(height);
  const validators = await verifier.trustedValidators(proven.info.chainId);
  const v = verifyFinality(header, validators);
  return { header, stateRoot: v.stateRoot, timestamp: v.timestamp };
}

function batchFrom(leaves: Leaf[], first: bigint, max: number, upToHeight: bigint): Leaf[] {
  const out: Leaf[] = [];
  for (const l of leaves) {
    if (l.sequence < first) continue;
    if (l.sequence !== first + BigInt(out.length) || l.height > upToHeight || out.length >= max) break;
    out.push(l);
  }
  return out;
}

async function packetOf(deps: PipelineDeps, id: Hex): Promise<Packet> {
  const rec = await deps.store.get(id);
  if (!rec) throw new NotReadyError(`packet ${id} not recorded yet`);
  return decodePacket(hexToBytes(rec.packetHex, 'packetHex'));
}

function isRevert(err: unknown, ...names: string[]): boolean {
  return (
    err instanceof ChainError &&
    (err.code === 'MR_ERR_TX_REVERTED' || err.code === 'MR_ERR_TX_FAILED') &&
    (names.length === 0 || names.includes(String(err.details.errorName)))
  );
}

// ───────────────────────────── prove ─────────────────────────────

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

// ───────────────────────────── deliver ─────────────────────────────

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

// ───────────────────────────── confirm (acks back to the source) ─────────────────────────────

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

// ───────────────────────────── clear + timeouts ─────────────────────────────

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
