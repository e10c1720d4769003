/** Types and keys shared by the pipeline stages. */
import type { Redis } from 'ioredis';
import type { ChainAdapter, FinalityProof } from '../../adapters/types.js';
import type { Hex } from '../../proofs/bytes.js';
import { RelayerError } from '../../proofs/errors.js';
import type { LeafStore } from '../leaves.js';
import type { ChannelPath } from '../paths.js';
import type { PacketState, PacketStore } from '../store.js';

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

export interface Bundle {
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
export const DELIVERED_OR_LATER: ReadonlySet<PacketState> = new Set(['delivered', 'acknowledged']);
export const FINAL: ReadonlySet<PacketState> = new Set(['acknowledged', 'timed_out', 'refunded']);

export function pathsFrom(
  deps: PipelineDeps,
  chainId: bigint,
  side: 'source' | 'dest',
): Map<Hex, ChannelPath> {
  const m = new Map<Hex, ChannelPath>();
  for (const p of deps.paths) if (p[side].info.chainId === chainId) m.set(p.id.toLowerCase() as Hex, p);
  return m;
}

export const keys = (deps: PipelineDeps) => ({
  bundle: (ch: Hex, first: bigint) => `${deps.prefix}:bundle:${ch}:${first}`,
  bundleFor: (id: Hex) => `${deps.prefix}:bundle-for:${id}`,
  bundledUpTo: (ch: Hex) => `${deps.prefix}:bundled-up-to:${ch}`,
  ackMeta: (ch: Hex) => `${deps.prefix}:ack-meta:${ch}`,
  observeLock: (chain: string) => `${deps.prefix}:lock:observe:${chain}`,
});
