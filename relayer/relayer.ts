/**
 * Wires the pipeline stages onto BullMQ: one `observe` queue (a job scheduler per chain), one `clear` queue,
 * and per channel path a `prove`, `deliver` and `confirm` queue, each with concurrency 1 so a channel's batches
 * go out in order. Job id = packet id, so a packet is queued once per stage; jobs are removed when they end so
 * that clearing can queue a packet again.
 */
import { type Job, Queue, UnrecoverableError, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Hex } from '../proofs/bytes.js';
import { ChainError, MedrelayError } from '../proofs/errors.js';
import { LeafStore } from './leaves.js';
import type { ChannelPath } from './paths.js';
import {
  type ChainRuntime,
  type ClearReport,
  clear,
  confirm,
  deliver,
  type Enqueue,
  NotReadyError,
  observe,
  type PipelineDeps,
  type PipelineHooks,
  prove,
} from './pipeline.js';
import type { PacketStore } from './store.js';

export interface RelayerOptions {
  redis: Redis;
  prefix: string;
  store: PacketStore;
  chains: ReadonlyMap<string, ChainRuntime>;
  paths: readonly ChannelPath[];
  log: Logger;
  hooks?: PipelineHooks;
  pollIntervalMs?: number;
  clearIntervalMs?: number;
  /** How long a crashed worker's job stays locked before another takes it over. */
  lockDurationMs?: number;
}

type Stage = 'prove' | 'deliver' | 'confirm';

const JOB_DEFAULTS = {
  attempts: 100_000,
  backoff: { type: 'custom' },
  removeOnComplete: true,
  removeOnFail: true,
} as const;

/** Capped exponential backoff: waiting on a chain should not stretch into minutes. */
const backoffStrategy = (attemptsMade: number): number =>
  Math.min(250 * 2 ** Math.min(attemptsMade, 10), 4000);

export class Relayer {
  private readonly queues = new Map<string, Queue>();
  private readonly workers: Worker[] = [];
  private readonly deps: PipelineDeps;
  private readonly pathsByShort = new Map<string, ChannelPath>();
  private started = false;

  constructor(private readonly opts: RelayerOptions) {
    for (const p of opts.paths) this.pathsByShort.set(p.shortName, p);
    const enqueue: Enqueue = {
      prove: (path, id) => this.add('prove', path, id),
      deliver: (path, id) => this.add('deliver', path, id),
      confirm: (path, id) => this.add('confirm', path, id),
    };
    this.deps = {
      redis: opts.redis,
      prefix: opts.prefix,
      store: opts.store,
      leaves: new LeafStore(opts.redis, opts.prefix),
      chains: opts.chains,
      paths: opts.paths,
      enqueue,
      ...(opts.hooks ? { hooks: opts.hooks } : {}),
    };
  }

  get pipeline(): PipelineDeps {
    return this.deps;
  }

  private queue(name: string): Queue {
    let q = this.queues.get(name);
    if (!q) {
      q = new Queue(name, { connection: this.opts.redis, prefix: `${this.opts.prefix}:bull` });
      this.queues.set(name, q);
    }
    return q;
  }

  private async add(stage: Stage, path: ChannelPath, id: Hex): Promise<void> {
    await this.queue(`${stage}-${path.shortName}`).add(
      stage,
      { path: path.shortName, id },
      { ...JOB_DEFAULTS, jobId: id },
    );
  }

  private worker(name: string, concurrency: number, fn: (job: Job) => Promise<unknown>): void {
    const w = new Worker(
      name,
      async (job) => {
        try {
          return await fn(job);
        } catch (err) {
          if (err instanceof NotReadyError) throw err; // retried with backoff
          if (err instanceof ChainError && err.retryable) {
            this.opts.log.warn(
              { queue: name, job: job.id, code: err.code, err: err.message },
              'transient chain error',
            );
            throw err;
          }
          const code = err instanceof MedrelayError ? err.code : 'MR_ERR_INTERNAL';
          this.opts.log.error({ queue: name, job: job.id, code, err: (err as Error).message }, 'job failed');
          // Not worth retrying now; the next clearing pass queues the packet again from chain state.
          throw new UnrecoverableError(`${code}: ${(err as Error).message}`);
        }
      },
      {
        connection: this.opts.redis,
        prefix: `${this.opts.prefix}:bull`,
        concurrency,
        lockDuration: this.opts.lockDurationMs ?? 15_000,
        stalledInterval: Math.max(1000, Math.floor((this.opts.lockDurationMs ?? 15_000) / 2)),
        settings: { backoffStrategy },
      },
    );
    w.on('error', (err) => this.opts.log.error({ queue: name, err: err.message }, 'worker error'));
    this.workers.push(w);
  }

  /**
   * Catches up on events and clears every path once, then starts the workers. Clearing first matters: it times
   * out expired packets before the deliver stage can hand them to the destination as expired.
   */
  async start(): Promise<ClearReport[]> {
    if (this.started) return [];
    this.started = true;
    const { log } = this.opts;
    for (const chainId of this.opts.chains.keys()) {
      for (let i = 0; i < 100; i++) {
        const r = await this.step(`observe ${chainId}`, () => observe(this.deps, chainId));
        if (!r) break;
      }
    }
    const reports: ClearReport[] = [];
    for (const p of this.opts.paths) {
      const r = await this.step(`clear ${p.name}`, () => clear(this.deps, p, true));
      if (!r) continue;
      reports.push(r);
      log.info(
        {
          path: p.name,
          sent: r.sent.toString(),
          received: r.received.toString(),
          requeued: r.requeued,
          timedOut: r.timedOut,
        },
        'cleared on start',
      );
    }
    this.worker('observe', Math.max(1, this.opts.chains.size), async (job) => {
      await observe(this.deps, String(job.data.chainId));
    });
    this.worker('clear', 1, async () => {
      for (const p of this.opts.paths) await clear(this.deps, p, false);
    });
    for (const path of this.opts.paths) {
      const handlers: Record<Stage, (id: Hex) => Promise<void>> = {
        prove: (id) => prove(this.deps, path, id),
        deliver: (id) => deliver(this.deps, path, id),
        confirm: (id) => confirm(this.deps, path, id),
      };
      for (const stage of ['prove', 'deliver', 'confirm'] as const) {
        this.worker(`${stage}-${path.shortName}`, 1, (job) => handlers[stage](job.data.id as Hex));
      }
    }
    const observeQ = this.queue('observe');
    for (const chainId of this.opts.chains.keys()) {
      await observeQ.upsertJobScheduler(
        `observe-${chainId}`,
        { every: this.opts.pollIntervalMs ?? 1000 },
        { name: 'observe', data: { chainId }, opts: { removeOnComplete: true, removeOnFail: true } },
      );
    }
    await this.queue('clear').upsertJobScheduler(
      'clear',
      { every: this.opts.clearIntervalMs ?? 30_000 },
      { name: 'clear', data: {}, opts: { removeOnComplete: true, removeOnFail: true } },
    );
    return reports;
  }

  /** A start-up step that fails (a chain down, a race) is logged, not fatal: the periodic jobs retry it. */
  private async step<T>(what: string, fn: () => Promise<T>): Promise<T | undefined> {
    try {
      return await fn();
    } catch (err) {
      const code = err instanceof MedrelayError ? err.code : 'MR_ERR_INTERNAL';
      this.opts.log.warn(
        { step: what, code, err: (err as Error).message },
        'start-up step failed; will retry',
      );
      return undefined;
    }
  }

  /** Graceful stop: workers finish their current job, then connections close. */
  async stop(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.close()));
    await Promise.all([...this.queues.values()].map((q) => q.close()));
    this.workers.length = 0;
    this.queues.clear();
  }

  /** Jobs waiting or running per queue (for the backlog metric and the demo's progress line). */
  async backlog(): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const [name, q] of this.queues) {
      const c = await q.getJobCounts('waiting', 'active', 'delayed', 'prioritized');
      out[name] = Object.values(c).reduce((a, b) => a + b, 0);
    }
    return out;
  }
}
