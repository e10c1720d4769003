/**
 * Claims and settlement on the devnet (issue 4): a burst of claims from a clinic on medical-a, adjudicated on the
 * insurer chain, each paid as soon as it is decided (CNY escrow, SETTLEMENT to the cross-border chain, HKD payout at a
 * signed quote, acknowledgement back). Measures
 *  - claims settled per second end to end (first claim submitted → last payment acknowledged),
 *  - claim-to-payout time per claim (submit → HKD credited on the cross-border chain) and claim-to-ack (→ escrow
 *    released on the insurer chain), p50 / p99, plus one claim alone before the burst,
 *  - gas per claim (submitClaim + its share of the insurer's receive tx + its share of the ack tx on medical-a) and
 *    per settlement (settleClaim + share of the cross-border receive tx + share of the ack tx on the insurer chain).
 * Baseline in the same run: a bare packet (NoopReceiver) medical-a → insurer, send → acknowledged, on the same
 * relayer and devnet: a claim needs two such hops (claim, payment) plus the insurer's desk reaction.
 *
 *   npx tsx bench/settlement.ts [--claims 100] [--block-time 1]
 */
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Contract, type EventLog, type InterfaceAbi, JsonRpcProvider, NonceManager, Wallet } from 'ethers';
import { ClaimsDeskClient, ClinicClient, FxQuoteDesk } from '../adapters/evm/clients/claims.js';
import { loadArtifact } from '../adapters/evm/contracts/artifacts.js';
import { freePort } from '../adapters/evm/devnet/anvil.js';
import { anchorDevnetDiagnosis, DEVNET_DIAGNOSIS_PATH, devnetPolicy } from '../adapters/evm/devnet/claims.js';
import {
  DEV_ACCOUNT,
  DEVNET_PATIENT,
  devKey,
  devnetConsentId,
  startDevnet,
} from '../adapters/evm/devnet/network.js';
import { devnetProfile } from '../adapters/evm/devnet/profile.js';
import { parseConfig } from '../config/load.js';
import { money } from '../proofs/settlement/money.js';
import { createLogger } from '../relayer/logger.js';
import { assertRedisReachable, connectRedis, deleteKeysByPrefix } from '../relayer/redis.js';
import { startService } from '../relayer/service.js';

export interface SettlementBenchOptions {
  /** Claims in the burst. @defaultValue 100 */
  claims?: number;
  /** Bare packets for the baseline. @defaultValue 20 */
  baselinePackets?: number;
  /** Devnet block time, seconds. @defaultValue 1 */
  blockTimeSec?: number;
  redisUrl?: string;
  log?: (msg: string) => void;
}

interface Stats {
  p50: number;
  p99: number;
  max: number;
}

export interface SettlementBenchResult {
  claims: number;
  blockTimeSec: number;
  /** Burst: claims paid and acknowledged per second (first submit → last ack). */
  claimsPerSec: number;
  burstSec: number;
  /** One claim alone: submit → HKD credited / → acknowledged, seconds. */
  singleToPayoutSec: number;
  singleToAckSec: number;
  toPayout: Stats;
  toAck: Stats;
  /** Baseline: bare packet medical-a → insurer, send → acknowledged (s). */
  baseline: Stats & { packets: number };
  /** Baseline: a burst of as many bare packets as claims, sent at once: packets acknowledged per second. */
  barePacketsPerSec: number;
  gas: {
    submitClaim: number;
    claimReceiveShare: number;
    claimAckShare: number;
    perClaim: number;
    settleClaim: number;
    settlementReceiveShare: number;
    settlementAckShare: number;
    perSettlement: number;
  };
}

const percentile = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
};
const stats = (xs: number[]): Stats => ({
  p50: percentile(xs, 50),
  p99: percentile(xs, 99),
  max: Math.max(...xs),
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const abi = (n: string) => loadArtifact(n).abi as InterfaceAbi;

/** Average gas per packet of the txs that emitted `event` for `channel` (batched receive / ack txs). */
async function gasShare(
  p: JsonRpcProvider,
  c: Contract,
  event: string,
  channel: string,
  from: number,
): Promise<number> {
  const logs = await c.queryFilter(c.filters[event]!(channel), from);
  const txs = new Map<string, number>();
  for (const l of logs) txs.set(l.transactionHash, (txs.get(l.transactionHash) ?? 0) + 1);
  let gas = 0n;
  for (const h of txs.keys()) gas += (await p.getTransactionReceipt(h))!.gasUsed;
  return logs.length ? Number(gas) / logs.length : 0;
}

export async function run(opts: SettlementBenchOptions = {}): Promise<SettlementBenchResult> {
  const n = opts.claims ?? 100;
  const baselineN = opts.baselinePackets ?? 20;
  const blockTime = opts.blockTimeSec ?? 1;
  const log = opts.log ?? ((m: string) => process.stderr.write(`${m}\n`));
  const redisUrl = opts.redisUrl ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  await assertRedisReachable(redisUrl);
  const ports = await Promise.all(Array.from({ length: 7 }, () => freePort()));
  const devnet = await startDevnet({
    chains: [
      { name: 'medical-a', chainId: 46001, port: ports[0]!, anvilPort: ports[1]!, role: 'medical' },
      { name: 'insurer', chainId: 46003, port: ports[2]!, anvilPort: ports[3]!, role: 'insurer' },
      { name: 'crossborder', chainId: 46004, port: ports[4]!, anvilPort: ports[5]!, role: 'crossborder' },
    ],
    channels: [
      { name: 'claims-a', source: 'medical-a', dest: 'insurer', app: 'claims' },
      { name: 'settlement-ins-xb', source: 'insurer', dest: 'crossborder', app: 'settlement' },
    ],
    blockTime,
  });
  const prefix = `mr-bench-settle-${randomBytes(4).toString('hex')}`;
  const providers: JsonRpcProvider[] = [];
  const service = await startService({
    config: parseConfig(
      devnetProfile(devnet, {
        keyPrefix: prefix,
        apiPort: ports[6]!,
        redisUrl,
        pollIntervalMs: 250,
        clearIntervalSec: 10,
      }),
    ),
    env: { MEDRELAY_RELAYER_KEY: devKey(DEV_ACCOUNT.relayer) },
    log: createLogger({
      level: process.env.LOG_LEVEL ?? 'error',
      name: 'relayer',
      destination: process.stderr,
    }),
  });
  try {
    const a = devnet.chain('medical-a');
    const ins = devnet.chain('insurer');
    const xb = devnet.chain('crossborder');
    const claimsCh = devnet.channel('claims-a');
    const payCh = devnet.channel('settlement-ins-xb');
    const prov = (c: typeof a) => {
      const p = new JsonRpcProvider(c.rpcUrl, c.spec.chainId, { staticNetwork: true });
      providers.push(p);
      return p;
    };
    const pa = prov(a);
    const pi = prov(ins);
    const px = prov(xb);

    // Baseline: bare packets on the claims channel to a NoopReceiver, send → acknowledged.
    const outboxA = new Contract(
      a.contracts.outbox,
      abi('Outbox'),
      new NonceManager(new Wallet(devKey(7), pa)),
    );
    const baseline: number[] = [];
    for (let i = 0; i < baselineN; i++) {
      const t0 = Date.now();
      const tx = await outboxA.getFunction('sendPacket')(
        claimsCh.id,
        ins.contracts.noopReceiver,
        0,
        0,
        4,
        '0x',
      );
      const rc = await tx.wait();
      const id = outboxA.interface.parseLog(rc.logs[0])!.args.id as string;
      for (;;) {
        const acks = await outboxA.queryFilter(
          outboxA.filters.PacketAcknowledged!(claimsCh.id, null, id),
          rc.blockNumber,
        );
        if (acks.length) break;
        await sleep(100);
      }
      baseline.push((Date.now() - t0) / 1000);
    }
    log(`baseline: bare packet send → ack p50 ${percentile(baseline, 50).toFixed(2)} s`);
    // Throughput baseline: a burst of bare packets (as many as claims), sent at once, until the last is acknowledged.
    const burstStart = Date.now();
    const firstSeq = (await outboxA.getFunction('nextSequence')(claimsCh.id)) as bigint;
    const pendingTx = [];
    for (let i = 0; i < n; i++)
      // Fixed gas: an estimate made before the earlier sends are mined can be short (the accumulator append writes
      // more branch slots at some indexes).
      pendingTx.push(
        await outboxA.getFunction('sendPacket')(claimsCh.id, ins.contracts.noopReceiver, 0, 0, 4, '0x', {
          gasLimit: 400_000,
        }),
      );
    await Promise.all(pendingTx.map((t) => t.wait()));
    const lastSeq = firstSeq + BigInt(n) - 1n;
    while (((await outboxA.getFunction('ackedUpTo')(claimsCh.id)) as bigint) < lastSeq) await sleep(200);
    const barePerSec = n / ((Date.now() - burstStart) / 1000);
    log(`baseline: ${n} bare packets, ${barePerSec.toFixed(2)} packets/s send → ack`);
    // Gas shares count from here: the baseline's bare packets share the claims channel.
    const startA = (await pa.getBlockNumber()) + 1;
    const startI = (await pi.getBlockNumber()) + 1;
    const startX = (await px.getBlockNumber()) + 1;

    const clinic = new ClinicClient({
      rpcUrl: a.rpcUrl,
      chainId: a.spec.chainId,
      privateKey: devKey(DEV_ACCOUNT.hospital),
      contracts: { claimSubmitter: a.contracts.settlement!.claimSubmitter },
    });
    const desk = new ClaimsDeskClient({
      rpcUrl: ins.rpcUrl,
      chainId: ins.spec.chainId,
      privateKey: devKey(DEV_ACCOUNT.insurer),
      contracts: { claimSettlement: ins.contracts.settlement!.claimSettlement },
    });
    await new ClaimsDeskClient({
      rpcUrl: ins.rpcUrl,
      chainId: ins.spec.chainId,
      privateKey: devKey(DEV_ACCOUNT.deployer),
      contracts: { claimSettlement: ins.contracts.settlement!.claimSettlement },
    }).registerPolicy({ ...devnetPolicy(), annualCap: money('CNY', 10n ** 12n) }, DEVNET_PATIENT);
    const fx = new FxQuoteDesk(devKey(DEV_ACCOUNT.fxProvider), xb.spec.chainId);
    const record = await anchorDevnetDiagnosis(pa, a.spec.chainId, a.contracts.recordRegistry, 'I10');
    const xgw = new Contract(xb.contracts.settlement!.settlementGateway, abi('SettlementGateway'), px);
    const cs = new Contract(ins.contracts.settlement!.claimSettlement, abi('ClaimSettlement'), pi);
    const gasSubmit: number[] = [];
    const gasSettle: number[] = [];

    /** Submits `count` claims at once and pays each as soon as it is decided; per-claim times in seconds. */
    const burst = async (count: number) => {
      const now = BigInt(Math.floor(Date.now() / 1000));
      const t0 = Date.now();
      const subs = await Promise.all(
        Array.from({ length: count }, async (_, i) => {
          const ts = Date.now();
          const s = await clinic.submitClaim(ins.spec.chainId, record, DEVNET_DIAGNOSIS_PATH, {
            policyId: devnetPolicy().policyId,
            patient: DEVNET_PATIENT,
            consentId: devnetConsentId(a.spec.chainId),
            serviceDate: now - 3_600n,
            items: [{ code: 'CONSULT', amount: money('CNY', 100_000n + BigInt(i) * 1_003n) }],
            payout: { chainId: xb.spec.chainId, payee: clinic.chain.address, currency: 'HKD' },
          });
          gasSubmit.push(Number(s.gasUsed));
          return { claimId: s.claimId, ts };
        }),
      );
      const pending = new Map(subs.map((s) => [s.claimId, s.ts]));
      const uetrOf = new Map<string, string>();
      const payoutAt = new Map<string, number>();
      const ackAt = new Map<string, number>();
      let scanX = await px.getBlockNumber();
      let scanI = await pi.getBlockNumber();
      while (ackAt.size < count) {
        if (Date.now() - t0 > 900_000)
          throw new Error(`bench: only ${ackAt.size}/${count} claims paid in 15 min`);
        // Pay what was decided.
        const undecided = [...pending.keys()];
        const states = await Promise.all(undecided.map(async (id) => [id, await desk.claim(id)] as const));
        const ready = states.filter(([, c]) => c.decision !== 'none');
        for (const [id] of ready) pending.delete(id);
        await Promise.all(
          ready
            .filter(([, c]) => c.payable > 0n)
            .map(async ([id]) => {
              const r = await desk.settleClaim(id, {
                quote: fx.quote('1.0873', BigInt(Math.floor(Date.now() / 1000)) + 900n),
              });
              gasSettle.push(Number(r.gasUsed));
              uetrOf.set(r.uetr.toLowerCase(), id);
            }),
        );
        const headX = await px.getBlockNumber();
        const headI = await pi.getBlockNumber();
        if (headX >= scanX) {
          for (const e of (await xgw.queryFilter(
            xgw.filters.SettlementPaid!(),
            scanX,
            headX,
          )) as EventLog[]) {
            const id = uetrOf.get(String(e.args.uetr).toLowerCase());
            if (id && !payoutAt.has(id)) payoutAt.set(id, Date.now());
          }
          scanX = headX + 1;
        }
        if (headI >= scanI) {
          for (const e of (await cs.queryFilter(cs.filters.ClaimPaid!(), scanI, headI)) as EventLog[]) {
            const id = String(e.args.claimId).toLowerCase();
            if (!ackAt.has(id)) ackAt.set(id, Date.now());
          }
          scanI = headI + 1;
        }
        await sleep(200);
      }
      const submittedAt = new Map(subs.map((s) => [s.claimId, s.ts]));
      const toPayout = subs.map(
        (s) => ((payoutAt.get(s.claimId) ?? ackAt.get(s.claimId)!) - submittedAt.get(s.claimId)!) / 1000,
      );
      const toAck = subs.map((s) => (ackAt.get(s.claimId)! - submittedAt.get(s.claimId)!) / 1000);
      return { toPayout, toAck, seconds: (Math.max(...ackAt.values()) - t0) / 1000 };
    };

    const single = await burst(1);
    log(`single claim: payout ${single.toPayout[0]!.toFixed(1)} s, ack ${single.toAck[0]!.toFixed(1)} s`);
    const b = await burst(n);
    log(`burst of ${n}: ${(n / b.seconds).toFixed(2)} claims/s`);

    const inboxI = new Contract(ins.contracts.inbox, abi('Inbox'), pi);
    const inboxX = new Contract(xb.contracts.inbox, abi('Inbox'), px);
    const outboxI = new Contract(ins.contracts.outbox, abi('Outbox'), pi);
    const claimReceiveShare = await gasShare(pi, inboxI, 'PacketReceived', claimsCh.id, startI);
    const claimAckShare = await gasShare(pa, outboxA, 'PacketAcknowledged', claimsCh.id, startA);
    const settlementReceiveShare = await gasShare(px, inboxX, 'PacketReceived', payCh.id, startX);
    const settlementAckShare = await gasShare(pi, outboxI, 'PacketAcknowledged', payCh.id, startI);
    const avg = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
    const submitClaim = avg(gasSubmit);
    const settleClaim = avg(gasSettle);
    return {
      claims: n,
      blockTimeSec: blockTime,
      claimsPerSec: n / b.seconds,
      burstSec: b.seconds,
      singleToPayoutSec: single.toPayout[0]!,
      singleToAckSec: single.toAck[0]!,
      toPayout: stats(b.toPayout),
      toAck: stats(b.toAck),
      baseline: { ...stats(baseline), packets: baselineN },
      barePacketsPerSec: barePerSec,
      gas: {
        submitClaim,
        claimReceiveShare,
        claimAckShare,
        perClaim: submitClaim + claimReceiveShare + claimAckShare,
        settleClaim,
        settlementReceiveShare,
        settlementAckShare,
        perSettlement: settleClaim + settlementReceiveShare + settlementAckShare,
      },
    };
  } finally {
    for (const p of providers) p.destroy();
    await service.stop();
    await devnet.stop();
    const redis = connectRedis(redisUrl);
    await deleteKeysByPrefix(redis, prefix);
    redis.disconnect();
  }
}

const f1 = (x: number) => x.toFixed(1);
const k = (x: number) => Math.round(x).toLocaleString('en-US');

export function toMarkdown(r: SettlementBenchResult): string {
  const g = r.gas;
  return [
    `Claims and cross-border settlement on the devnet (${r.blockTimeSec} s blocks, relayer in process): a clinic on`,
    'medical-a claims (disclosed diagnosis, CNY items), the insurer chain verifies and adjudicates, the insurer desk',
    'pays each claim as soon as it is decided (CNY escrow → SETTLEMENT → HKD payout at a signed quote on the',
    'cross-border chain → ack releases the escrow). Baseline in the same run: a bare packet medical-a → insurer,',
    'send → acknowledged, alone and in a burst; a claim needs two hops (CLAIM, SETTLEMENT), each acknowledged,',
    'plus the desk reaction, so about half the bare rate and twice the bare latency is the floor.',
    '',
    '| measure | value | vs baseline (bare packet round trip p50) |',
    '|---|---|---|',
    `| claims settled per second (burst of ${r.claims}) | ${r.claimsPerSec.toFixed(2)} (${f1(r.burstSec)} s in all) | ${(r.claimsPerSec / r.barePacketsPerSec).toFixed(2)}× the bare-packet rate (${r.barePacketsPerSec.toFixed(1)}/s, burst of ${r.claims}) |`,
    `| claim → payout p50 / p99 (burst) | ${f1(r.toPayout.p50)} / ${f1(r.toPayout.p99)} s | ${(r.toPayout.p50 / r.baseline.p50).toFixed(1)}× |`,
    `| claim → ack (escrow released) p50 / p99 (burst) | ${f1(r.toAck.p50)} / ${f1(r.toAck.p99)} s | ${(r.toAck.p50 / r.baseline.p50).toFixed(1)}× |`,
    `| one claim alone: → payout / → ack | ${f1(r.singleToPayoutSec)} / ${f1(r.singleToAckSec)} s | ${(r.singleToAckSec / r.baseline.p50).toFixed(1)}× |`,
    `| baseline: bare packet send → ack p50 / p99 (${r.baseline.packets}) | ${f1(r.baseline.p50)} / ${f1(r.baseline.p99)} s | 1× |`,
    '',
    'The seed regional platform took three days per claim before and one hour after; here a claim is paid in the',
    'time above (devnet block time bound: every hop needs a send block, a receive block and ack blocks).',
    '',
    '| gas | tx share | per claim / settlement |',
    '|---|---|---|',
    `| claim: submitClaim + receive share (verify disclosure, signature, consent, adjudicate) + ack share | ${k(g.submitClaim)} + ${k(g.claimReceiveShare)} + ${k(g.claimAckShare)} | **${k(g.perClaim)}** |`,
    `| settlement: settleClaim (escrow + send) + receive share (quote check, FX, payout) + ack share (release) | ${k(g.settleClaim)} + ${k(g.settlementReceiveShare)} + ${k(g.settlementAckShare)} | **${k(g.perSettlement)}** |`,
    '',
    'Receive and ack shares are the batched `updateAndReceive` / `acknowledgePackets` transactions (header',
    'verification and proofs included) divided by the packets they carried.',
  ].join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { values } = parseArgs({ options: { claims: { type: 'string' }, 'block-time': { type: 'string' } } });
  run({
    ...(values.claims ? { claims: Number(values.claims) } : {}),
    ...(values['block-time'] ? { blockTimeSec: Number(values['block-time']) } : {}),
  }).then(
    (r) => {
      process.stdout.write(`${toMarkdown(r)}\n`);
      process.exit(0);
    },
    (err: unknown) => {
      process.stderr.write(`bench failed: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
}
