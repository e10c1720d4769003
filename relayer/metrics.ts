/**
 * Prometheus metrics. Each relayer (and each test) gets its own `Registry` instead of prom-client's global one,
 * so several instances can live in one process without "metric already registered" errors.
 * Gauges that mirror Redis state (`packets_by_state`, `backlog`) are read from the store at scrape time, so they
 * are right even after a restart or when another relayer process moved the packets.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import {
  PACKET_STATES,
  type PacketRecord,
  type PacketState,
  type PacketStoreReader,
  type TransitionResult,
} from './store.js';

export type TxOutcome = 'success' | 'reverted' | 'replaced' | 'timeout' | 'error';

export interface MetricsOptions {
  /** Source of the state gauges; without it they stay empty. */
  store?: Pick<PacketStoreReader, 'countsByState' | 'backlog'>;
  /**
   * Channels reported by `medrelay_backlog`, labelled by `name` and looked up in the store by `id` (the channel
   * key the pipeline stores). Records whose channel matches an `id` are also labelled by name elsewhere.
   */
  channels?: readonly { name: string; id: string }[];
  /** Also export Node process metrics (`process_*`, `nodejs_*`). @defaultValue `false` */
  processMetrics?: boolean;
}

/** Seconds; packets on QBFT devnets take seconds, on busy consortium chains minutes. */
export const LATENCY_BUCKETS = [0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800, 3600];

export interface Metrics {
  readonly registry: Registry;
  readonly packetsTotal: Counter<'channel' | 'state'>;
  readonly packetsByState: Gauge<'state'>;
  readonly backlog: Gauge<'channel'>;
  readonly deliveryLatency: Histogram<'channel'>;
  readonly ackLatency: Histogram;
  readonly gasUsedTotal: Counter<'chain' | 'kind'>;
  readonly txTotal: Counter<'chain' | 'outcome'>;
  readonly rpcErrorsTotal: Counter<'chain'>;
  /** Metric label of a channel key: the config name when known, else the key itself. */
  channelLabel(key: string): string;
}

/**
 * @example
 * const metrics = createMetrics({ store, channels: config.channels.map((c) => c.name) });
 * recordTransition(metrics, await store.transition(id, 'delivered', { deliverTx }));
 * const text = await metrics.registry.metrics();
 */
export function createMetrics(options: MetricsOptions = {}): Metrics {
  const registry = new Registry();
  const { store } = options;
  const channels = [...(options.channels ?? [])];
  const labels = new Map(channels.map((c) => [c.id.toLowerCase(), c.name]));
  if (options.processMetrics) collectDefaultMetrics({ register: registry });

  return {
    registry,
    packetsTotal: new Counter({
      name: 'medrelay_packets_total',
      help: 'Packet state transitions applied by this relayer, by channel and new state',
      labelNames: ['channel', 'state'] as const,
      registers: [registry],
    }),
    packetsByState: new Gauge({
      name: 'medrelay_packets_by_state',
      help: 'Packets currently in each lifecycle state (from the store)',
      labelNames: ['state'] as const,
      registers: [registry],
      async collect() {
        if (!store) return;
        const counts = await store.countsByState();
        for (const s of PACKET_STATES) this.set({ state: s }, counts[s]);
      },
    }),
    backlog: new Gauge({
      name: 'medrelay_backlog',
      help: 'Packets of a channel still to deliver, acknowledge or refund',
      labelNames: ['channel'] as const,
      registers: [registry],
      async collect() {
        if (!store) return;
        const values = await Promise.all(channels.map((c) => store.backlog(c.id.toLowerCase())));
        channels.forEach((c, i) => {
          this.set({ channel: c.name }, values[i]!);
        });
      },
    }),
    deliveryLatency: new Histogram({
      name: 'medrelay_delivery_latency_seconds',
      help: 'Seconds from PacketSent to delivery on the destination chain',
      labelNames: ['channel'] as const,
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
    ackLatency: new Histogram({
      name: 'medrelay_ack_latency_seconds',
      help: 'Seconds from PacketSent to the acknowledgement on the source chain (round trip)',
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
    gasUsedTotal: new Counter({
      name: 'medrelay_gas_used_total',
      help: 'Gas used by relayer transactions, by chain and kind (receive, ack, timeout, client_update)',
      labelNames: ['chain', 'kind'] as const,
      registers: [registry],
    }),
    txTotal: new Counter({
      name: 'medrelay_tx_total',
      help: 'Relayer transactions by chain and outcome',
      labelNames: ['chain', 'outcome'] as const,
      registers: [registry],
    }),
    rpcErrorsTotal: new Counter({
      name: 'medrelay_rpc_errors_total',
      help: 'Failed JSON-RPC calls by chain',
      labelNames: ['chain'] as const,
      registers: [registry],
    }),
    channelLabel: (key) => labels.get(key.toLowerCase()) ?? key,
  };
}

export function recordPacketState(m: Metrics, channel: string, state: PacketState): void {
  m.packetsTotal.inc({ channel, state });
}

export function observeDeliveryLatency(m: Metrics, channel: string, seconds: number): void {
  if (Number.isFinite(seconds) && seconds >= 0) m.deliveryLatency.observe({ channel }, seconds);
}

export function observeAckLatency(m: Metrics, seconds: number): void {
  if (Number.isFinite(seconds) && seconds >= 0) m.ackLatency.observe(seconds);
}

export function recordGasUsed(m: Metrics, chain: string, kind: string, gas: number | bigint): void {
  const n = Number(gas);
  if (Number.isFinite(n) && n > 0) m.gasUsedTotal.inc({ chain, kind }, n);
}

export function recordTx(m: Metrics, chain: string, outcome: TxOutcome): void {
  m.txTotal.inc({ chain, outcome });
}

export function recordRpcError(m: Metrics, chain: string): void {
  m.rpcErrorsTotal.inc({ chain });
}

function latencies(m: Metrics, r: PacketRecord): void {
  if (r.state === 'delivered' && r.deliveredAt !== undefined) {
    observeDeliveryLatency(m, m.channelLabel(r.channel), (r.deliveredAt - r.sentAt) / 1000);
  }
  if (r.state === 'acknowledged' && r.ackedAt !== undefined) {
    observeAckLatency(m, (r.ackedAt - r.sentAt) / 1000);
  }
}

/**
 * Counts an applied store transition and observes its latency. Repeats and stale moves are ignored so that
 * retried jobs do not double count.
 */
export function recordTransition(m: Metrics, result: TransitionResult): void {
  if (result.outcome !== 'applied') return;
  recordPacketState(m, m.channelLabel(result.record.channel), result.record.state);
  latencies(m, result.record);
}

/** Counts a newly stored packet (`upsertSent` returning `created: true`). */
export function recordSent(m: Metrics, result: { created: boolean; record: PacketRecord }): void {
  if (result.created) recordPacketState(m, m.channelLabel(result.record.channel), 'sent');
}

/**
 * Pipeline hooks feeding the metrics, structurally matching `PipelineHooks` in `relayer/pipeline.ts`
 * (declared here without importing it so the two modules do not depend on each other).
 */
export interface MetricsHooks {
  onDelivered(path: { name: string }, count: number, gasUsed: bigint, latenciesSec: number[]): void;
  onAcknowledged(path: { name: string }, count: number, gasUsed: bigint, latenciesSec: number[]): void;
  onTimedOut(path: { name: string }, gasUsed: bigint): void;
  onTx(chain: string, kind: string, gasUsed: bigint): void;
}

/**
 * @example
 * new Relayer({ ..., hooks: metricsHooks(metrics) });
 */
export function metricsHooks(m: Metrics): MetricsHooks {
  return {
    // Gas is counted once, in onTx: the batch hooks report the same transaction's gas again.
    onDelivered(path, count, _gas, latenciesSec) {
      m.packetsTotal.inc({ channel: path.name, state: 'delivered' }, count);
      for (const s of latenciesSec) observeDeliveryLatency(m, path.name, s);
    },
    onAcknowledged(path, count, _gas, latenciesSec) {
      m.packetsTotal.inc({ channel: path.name, state: 'acknowledged' }, count);
      for (const s of latenciesSec) observeAckLatency(m, s);
    },
    onTimedOut(path) {
      m.packetsTotal.inc({ channel: path.name, state: 'timed_out' });
    },
    onTx(chain, kind, gasUsed) {
      recordGasUsed(m, chain, kind, gasUsed);
      recordTx(m, chain, 'success');
    },
  };
}

/** Prometheus text exposition of the registry. */
export async function metricsText(m: Metrics): Promise<{ contentType: string; body: string }> {
  return { contentType: m.registry.contentType, body: await m.registry.metrics() };
}
