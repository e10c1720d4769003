/**
 * Per-channel accumulator leaves as the relayer saw them in events: the send tree (Outbox) and the ack tree
 * (Inbox). Range proofs need every leaf of the tree, not only the batch, so these are kept in Redis; if Redis is
 * lost, the observe stage rebuilds them from chain events (the chain is the source of truth).
 */
import type { Redis } from 'ioredis';
import { MerkleAccumulator } from '../proofs/accumulator.js';
import type { Hex } from '../proofs/bytes.js';

export interface Leaf {
  readonly sequence: bigint;
  readonly leaf: Hex;
  readonly height: bigint;
}

export type Tree = 'send' | 'ack';

export class LeafStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  private key(tree: Tree, channel: Hex): string {
    return `${this.prefix}:leaves:${tree}:${channel}`;
  }

  async put(tree: Tree, channel: Hex, leaves: Leaf[]): Promise<void> {
    if (leaves.length === 0) return;
    const args: string[] = [];
    for (const l of leaves) args.push(l.sequence.toString(), `${l.leaf},${l.height}`);
    await this.redis.hset(this.key(tree, channel), ...args);
  }

  async get(tree: Tree, channel: Hex, sequence: bigint): Promise<Leaf | undefined> {
    const v = await this.redis.hget(this.key(tree, channel), sequence.toString());
    if (!v) return undefined;
    const [leaf, height] = v.split(',');
    return { sequence, leaf: leaf as Hex, height: BigInt(height!) };
  }

  /** Leaves 1..n in order, stopping at the first gap. */
  async contiguous(tree: Tree, channel: Hex): Promise<Leaf[]> {
    const all = await this.redis.hgetall(this.key(tree, channel));
    const out: Leaf[] = [];
    for (let s = 1n; ; s++) {
      const v = all[s.toString()];
      if (!v) break;
      const [leaf, height] = v.split(',');
      out.push({ sequence: s, leaf: leaf as Hex, height: BigInt(height!) });
    }
    return out;
  }

  /** The accumulator as of `height`: every contiguous leaf committed at or below it. */
  async treeAt(
    tree: Tree,
    channel: Hex,
    height: bigint,
  ): Promise<{ acc: MerkleAccumulator; leaves: Leaf[] }> {
    const leaves = (await this.contiguous(tree, channel)).filter((l) => l.height <= height);
    const acc = new MerkleAccumulator();
    for (const l of leaves) acc.append(l.leaf);
    return { acc, leaves };
  }
}
