/**
 * A channel path (Hermes' typed `Object`): one ordered channel from a source chain to a destination chain,
 * with the adapters of both ends. The pipeline runs one set of workers per path.
 */
import type { ChainAdapter } from '../adapters/types.js';
import type { Hex } from '../proofs/bytes.js';

export interface ChannelPath {
  readonly name: string;
  /** Short, queue-safe name (no ':'), used in queue names and logs. */
  readonly shortName: string;
  readonly id: Hex;
  readonly source: ChainAdapter;
  readonly dest: ChainAdapter;
  readonly batchSize: number;
  /** Priority paths (consent) go first: normal paths to the same destination wait while they have a backlog. */
  readonly lane: 'normal' | 'priority';
}

export function shortNameOf(name: string): string {
  return name.replace(/[^a-zA-Z0-9_-]/g, '-');
}
