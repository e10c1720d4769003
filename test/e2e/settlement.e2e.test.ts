/**
 * Claims and settlement end to end (issue 4) on real anvil chains (QBFT-sealed), a real Redis and the relayer as a
 * real process. A randomized run of 500 claims from a clinic on medical-a to the insurer chain: claims with
 * covered, excluded and uncovered diagnoses and random itemised amounts are adjudicated on chain; approved ones are
 * paid CNY → HKD to the clinic on the cross-border chain at signed quotes; some quotes are expired or forged (the
 * destination refuses, the source refunds); some payments get a short deadline while the relayer is SIGKILLed
 * (timed out, refunded) and the relayer is restarted; refunded claims are paid again with a new UETR.
 * After EVERY step the reconciliation invariant is checked on chain and through the API (per channel and currency:
 * locked = released + refunded + in flight; escrow = Σ in flight ≤ token balance; destination receipts within
 * released … released + in flight), and no claim or UETR is ever paid twice. At the end every approved claim is
 * paid exactly once, the clinic received exactly the sum of the payouts, and nothing is left in flight.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Contract, computeAddress, type EventLog, type InterfaceAbi, JsonRpcProvider } from 'ethers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import {
  ClaimsDeskClient,
  ClinicClient,
  FxQuoteDesk,
  type SignedQuote,
} from '../../adapters/evm/clients/claims.js';
import { loadArtifact } from '../../adapters/evm/contracts/artifacts.js';
import { freePort } from '../../adapters/evm/devnet/anvil.js';
import {
  anchorDevnetDiagnosis,
  DEVNET_DIAGNOSIS_PATH,
  type DevnetClaimRecord,
  devnetPolicy,
} from '../../adapters/evm/devnet/claims.js';
import {
  DEV_ACCOUNT,
  DEVNET_PATIENT,
  type Devnet,
  type DevnetChannel,
  devKey,
  devnetConsentId,
  startDevnet,
} from '../../adapters/evm/devnet/network.js';
import { devnetProfile } from '../../adapters/evm/devnet/profile.js';
import { convert } from '../../proofs/settlement/fx.js';
import { money } from '../../proofs/settlement/money.js';
import { connectRedis, deleteKeysByPrefix, type Redis } from '../../relayer/redis.js';
import { rng } from '../helpers/random.js';
import { type RelayerProcess, startRelayerProcess, waitFor } from '../helpers/relayer-process.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const CLAIMS = 500;
const CNY = 156;
const RATE = '1.0873';
const SEED = 0x5e771e;

const abi = (name: string) => loadArtifact(name).abi as InterfaceAbi;

interface Ledger {
  locked: bigint;
  released: bigint;
  refunded: bigint;
  inFlight: bigint;
}

type PaymentKind = 'ok' | 'expired-quote' | 'forged-quote' | 'deadline';

describe('settlement e2e: 500 randomized claims, expired/forged quotes, timeouts and relayer restarts', () => {
  let devnet: Devnet;
  let redis: Redis;
  let relayer: RelayerProcess | undefined;
  let configDir: string;
  let configPath: string;
  let apiBase: string;
  let payChannel: DevnetChannel;
  let clinic: ClinicClient;
  let desk: ClaimsDeskClient;
  let fx: FxQuoteDesk;
  let forger: FxQuoteDesk;
  let records: DevnetClaimRecord[];
  const providers = new Map<string, JsonRpcProvider>();
  const prefix = `mr-e2e-settle-${randomBytes(4).toString('hex')}`;
  const env = { MEDRELAY_RELAYER_KEY: devKey(DEV_ACCOUNT.relayer) };
  const provider = (chain: string) => providers.get(chain)!;
  let apiChecks = 0;
  const at = (chain: string, name: string, addr: string) => new Contract(addr, abi(name), provider(chain));

  beforeAll(async () => {
    const ports = await Promise.all(Array.from({ length: 7 }, () => freePort()));
    devnet = await startDevnet({
      chains: [
        { name: 'medical-a', chainId: 45001, port: ports[0]!, anvilPort: ports[1]!, role: 'medical' },
        { name: 'insurer', chainId: 45003, port: ports[2]!, anvilPort: ports[3]!, role: 'insurer' },
        { name: 'crossborder', chainId: 45004, port: ports[4]!, anvilPort: ports[5]!, role: 'crossborder' },
      ],
      channels: [
        { name: 'claims-a', source: 'medical-a', dest: 'insurer', app: 'claims' },
        { name: 'settlement-ins-xb', source: 'insurer', dest: 'crossborder', app: 'settlement' },
      ],
      blockTime: 1,
    });
    payChannel = devnet.channel('settlement-ins-xb');
    for (const c of devnet.chains)
      providers.set(c.spec.name, new JsonRpcProvider(c.rpcUrl, c.spec.chainId, { staticNetwork: true }));
    redis = connectRedis(REDIS_URL);
    const profile = devnetProfile(devnet, {
      keyPrefix: prefix,
      apiPort: ports[6]!,
      redisUrl: REDIS_URL,
      pollIntervalMs: 300,
      clearIntervalSec: 5,
      batchSize: 32,
    });
    apiBase = `http://127.0.0.1:${ports[6]}`;
    configDir = mkdtempSync(join(tmpdir(), 'medrelay-e2e-settle-'));
    configPath = join(configDir, 'config.yaml');
    writeFileSync(configPath, stringify(profile));

    const a = devnet.chain('medical-a');
    const ins = devnet.chain('insurer');
    const xb = devnet.chain('crossborder');
    clinic = new ClinicClient({
      rpcUrl: a.rpcUrl,
      chainId: a.spec.chainId,
      privateKey: devKey(DEV_ACCOUNT.hospital),
      contracts: { claimSubmitter: a.contracts.settlement!.claimSubmitter },
    });
    desk = new ClaimsDeskClient({
      rpcUrl: ins.rpcUrl,
      chainId: ins.spec.chainId,
      privateKey: devKey(DEV_ACCOUNT.insurer),
      contracts: { claimSettlement: ins.contracts.settlement!.claimSettlement },
    });
    const owner = new ClaimsDeskClient({
      rpcUrl: ins.rpcUrl,
      chainId: ins.spec.chainId,
      privateKey: devKey(DEV_ACCOUNT.deployer),
      contracts: { claimSettlement: ins.contracts.settlement!.claimSettlement },
    });
    // A policy with room for 500 claims: the annual cap must not end the run.
    const policy = devnetPolicy();
    await owner.registerPolicy(
      { ...policy, perClaimLimit: money('CNY', 500_000n), annualCap: money('CNY', 10n ** 12n) },
      DEVNET_PATIENT,
    );
    fx = new FxQuoteDesk(devKey(DEV_ACCOUNT.fxProvider), xb.spec.chainId);
    forger = new FxQuoteDesk(devKey(9), xb.spec.chainId);
    records = [];
    for (const code of ['I10', 'E11.9', 'Z41.1', 'J45'])
      records.push(
        await anchorDevnetDiagnosis(provider('medical-a'), a.spec.chainId, a.contracts.recordRegistry, code),
      );
    relayer = startRelayerProcess(configPath, env);
  });

  afterAll(async () => {
    await relayer?.stop('SIGKILL');
    for (const p of providers.values()) p.destroy();
    await devnet?.stop();
    if (redis) {
      await deleteKeysByPrefix(redis, prefix);
      redis.disconnect();
    }
    if (configDir) rmSync(configDir, { recursive: true, force: true });
  });

  const ins = () => devnet.chain('insurer');
  const xb = () => devnet.chain('crossborder');

  /**
   * A block to read `chain` at: one below the head. Reads at the head's number may be served from the node's live
   * state while it builds the next block (anvil), so two of them could see different states.
   */
  async function stable(chain: string): Promise<number> {
    return Math.max(0, Number(await provider(chain).send('eth_blockNumber', [])) - 1);
  }

  async function ledger(blockTag?: number): Promise<Ledger> {
    const g = at('insurer', 'SettlementGateway', ins().contracts.settlement!.settlementGateway);
    const l = (await g.getFunction('ledger')(payChannel.id, CNY, {
      blockTag: blockTag ?? 'latest',
    })) as Ledger;
    return { locked: l.locked, released: l.released, refunded: l.refunded, inFlight: l.inFlight };
  }

  async function balance(chain: string, token: string, who: string, blockTag?: number): Promise<bigint> {
    return (await at(chain, 'DepositToken', token).getFunction('balanceOf')(who, {
      blockTag: blockTag ?? 'latest',
    })) as bigint;
  }

  async function events(chain: string, name: string, addr: string, event: string): Promise<EventLog[]> {
    const c = at(chain, name, addr);
    return (await c.queryFilter(c.filters[event]!(), 0)) as EventLog[];
  }

  /** The invariants that must hold at every moment (checked after every step, with packets in flight). */
  async function checkInvariants(step: string): Promise<Ledger> {
    if (process.env.MEDRELAY_E2E_VERBOSE)
      process.stderr.write(`[settlement e2e ${new Date().toISOString()}] ${step}\n`);
    const gwAddr = ins().contracts.settlement!.settlementGateway;
    const g = at('insurer', 'SettlementGateway', gwAddr);
    const dst = at('crossborder', 'SettlementGateway', xb().contracts.settlement!.settlementGateway);
    const received = async (blockTag: number | 'latest') =>
      ((await dst.getFunction('destLedger')(payChannel.id, CNY, { blockTag })) as [bigint, bigint])[0];
    // The source at one settled block; the destination before it (settled) and after it (latest), so that both
    // bounds hold at every moment (see relayer/settlement/reconciliation.ts).
    const receivedBefore = await received(await stable('crossborder'));
    const n = await stable('insurer');
    const l = await ledger(n);
    expect(l.locked, `${step}: locked = released + refunded + in flight`).toBe(
      l.released + l.refunded + l.inFlight,
    );
    const escrowed = (await g.getFunction('escrowed')(CNY, { blockTag: n })) as bigint;
    expect(escrowed, `${step}: escrow = in flight`).toBe(l.inFlight);
    const gwBalance = await balance('insurer', ins().contracts.settlement!.depositTokens.CNY, gwAddr, n);
    expect(gwBalance >= escrowed, `${step}: escrow is covered by the gateway's CNY`).toBe(true);
    const receivedAfter = await received('latest');
    expect(receivedAfter >= l.released, `${step}: every released payment was paid`).toBe(true);
    expect(receivedBefore <= l.released + l.inFlight, `${step}: paid but unacknowledged ≤ in flight`).toBe(
      true,
    );
    // Never twice: one payout per UETR and per claim.
    const paid = await events(
      'crossborder',
      'SettlementGateway',
      xb().contracts.settlement!.settlementGateway,
      'SettlementPaid',
    );
    const uetrs = new Set(paid.map((e) => String(e.args.uetr)));
    expect(uetrs.size, `${step}: one payout per UETR`).toBe(paid.length);
    const claimsPaid = await events(
      'insurer',
      'ClaimSettlement',
      ins().contracts.settlement!.claimSettlement,
      'ClaimPaid',
    );
    expect(
      new Set(claimsPaid.map((e) => String(e.args.claimId))).size,
      `${step}: one payment per claim`,
    ).toBe(claimsPaid.length);
    // The relayer's view agrees (while it runs; it is down for part of every third step).
    if (relayer?.child.exitCode === null && relayer.child.signalCode === null) {
      const res = await fetch(`${apiBase}/settlement/reconciliation`).catch(() => undefined);
      if (res) {
        expect(res.status, `${step}: API reconciliation status`).toBe(200);
        const body = (await res.json()) as { ok: boolean; violations: unknown[] };
        if (!body.ok)
          process.stderr.write(
            `${step}: API report ${JSON.stringify(body)}; on chain ${JSON.stringify(l, (_, v) => (typeof v === 'bigint' ? v.toString() : v))}\n`,
          );
        expect(body.violations, `${step}: API reconciliation`).toEqual([]);
        expect(body.ok).toBe(true);
        apiChecks++;
      }
    }
    return l;
  }

  it('runs 500 claims to payment, with refunds, timeouts and restarts, balanced after every step', async () => {
    const r = rng(SEED);
    const now = () => BigInt(Math.floor(Date.now() / 1000));
    const submitted: string[] = [];
    const handled = new Set<string>();
    const kinds = new Map<string, PaymentKind[]>();
    let step = 0;

    const submitBatch = async (n: number) => {
      const ids = await Promise.all(
        Array.from({ length: n }, async () => {
          const rec = records[r.next() < 0.8 ? r.int(2) : 2 + r.int(2)]!;
          const items = Array.from({ length: 1 + r.int(3) }, (_, i) => ({
            code: i === 0 ? 'CONSULT' : `SVC-${i}`,
            amount: money('CNY', BigInt(1 + r.int(400_000))),
          }));
          const s = await clinic.submitClaim(ins().spec.chainId, rec, DEVNET_DIAGNOSIS_PATH, {
            policyId: devnetPolicy().policyId,
            patient: DEVNET_PATIENT,
            consentId: devnetConsentId(devnet.chain('medical-a').spec.chainId),
            serviceDate: now() - 86_400n,
            items,
            payout: { chainId: xb().spec.chainId, payee: clinic.chain.address, currency: 'HKD' },
          });
          return s.claimId;
        }),
      );
      submitted.push(...ids);
    };

    /** Pays every decided, payable claim that is not paid or in flight; `deadline` payments get a 6 s timeout. */
    const payDecided = async (deadlineShare: number) => {
      const open = submitted.filter((id) => !handled.has(id));
      const states = await Promise.all(open.map(async (id) => [id, await desk.claim(id)] as const));
      const toPay = states.filter(
        ([, c]) =>
          c.decision !== 'none' && c.payable > 0n && (c.settlement === 'none' || c.settlement === 'refunded'),
      );
      for (const [id, c] of states) if (c.decision === 'rejected' || c.settlement === 'paid') handled.add(id);
      await Promise.all(
        toPay.map(async ([id]) => {
          const roll = r.next();
          let kind: PaymentKind = 'ok';
          let quote: SignedQuote = fx.quote(RATE, now() + 600n);
          let timeoutTimestamp = 0n;
          if (roll < 0.06) {
            kind = 'expired-quote';
            quote = fx.quote(RATE, now() + 1n);
          } else if (roll < 0.1) {
            kind = 'forged-quote';
            quote = forger.quote(RATE, now() + 600n);
          } else if (roll < 0.1 + deadlineShare) {
            kind = 'deadline';
            // Far enough ahead to be in the future when the (busy) source mines the payment, short enough to pass
            // before the relayer is back.
            timeoutTimestamp = now() + 6n;
          }
          kinds.set(id, [...(kinds.get(id) ?? []), kind]);
          await desk.settleClaim(id, { quote, timeoutTimestamp });
        }),
      );
      return toPay.length;
    };

    const waitQuiet = async (what: string) =>
      waitFor(
        what,
        async () => {
          const l = await ledger();
          if (l.inFlight !== 0n) return false;
          const open = submitted.filter((id) => !handled.has(id));
          const states = await Promise.all(open.map((id) => desk.claim(id)));
          return states.every((c) => c.decision !== 'none') ? true : undefined;
        },
        240_000,
        500,
      );

    const allDecided = async (what: string) =>
      waitFor(
        what,
        async () => {
          const open = submitted.filter((id) => !handled.has(id));
          const states = await Promise.all(open.map((id) => desk.claim(id)));
          return states.every((c) => c.decision !== 'none') ? true : undefined;
        },
        120_000,
        500,
      );

    // The run: batches of claims, decided with the relayer up; then every third step (2, 5, 8) the relayer crashes right
    // before the payments are sent, half of them with 6-second deadlines that pass while it is down; restart.
    while (submitted.length < CLAIMS) {
      step++;
      const n = Math.min(CLAIMS - submitted.length, 40 + r.int(50));
      await submitBatch(n);
      await checkInvariants(`step ${step}: ${n} claims submitted`);
      await allDecided(`step ${step}: claims decided`);
      await checkInvariants(`step ${step}: claims decided`);
      if (step % 3 === 2) {
        await relayer!.stop('SIGKILL');
        await checkInvariants(`step ${step}: relayer killed`);
        const sent = await payDecided(0.5);
        expect(sent, `step ${step}: payments while the relayer is down`).toBeGreaterThan(0);
        const deadline = now() + 6n;
        await waitFor(
          'the cross-border clock past the deadlines',
          async () => BigInt((await provider('crossborder').getBlock('latest'))!.timestamp) > deadline,
          30_000,
        );
        await checkInvariants(`step ${step}: ${sent} payments sent while the relayer is down`);
        relayer = startRelayerProcess(configPath, env);
      } else {
        const sent = await payDecided(0);
        await checkInvariants(`step ${step}: ${sent} payments sent`);
      }
    }
    // Drain: everything decided, every payable claim paid (refunded ones are paid again).
    for (let round = 0; round < 12; round++) {
      await waitQuiet(`round ${round}: all claims decided and no payment in flight`);
      await checkInvariants(`drain ${round}`);
      const again = await payDecided(0);
      await checkInvariants(`drain ${round}: ${again} payments (re)sent`);
      if (again === 0) break;
    }
    await waitQuiet('final quiet');
    const final = await checkInvariants('final');

    // Outcomes.
    const decided = await Promise.all(submitted.map((id) => desk.claim(id)));
    expect(decided).toHaveLength(CLAIMS);
    const payable = decided.filter((c) => c.payable > 0n);
    const rejected = decided.filter((c) => c.decision === 'rejected');
    expect(payable.length).toBeGreaterThan(300);
    expect(rejected.length).toBeGreaterThan(20); // excluded and uncovered diagnoses
    for (const c of payable) expect(c.settlement, c.claimId).toBe('paid');
    for (const c of rejected) expect(c.settlement).toBe('none');

    const paid = await events(
      'crossborder',
      'SettlementGateway',
      xb().contracts.settlement!.settlementGateway,
      'SettlementPaid',
    );
    expect(paid).toHaveLength(payable.length);
    const byReference = new Map(paid.map((e) => [String(e.args.uetr), e]));
    let expectedHkd = 0n;
    for (const c of payable) {
      const e = byReference.get(c.uetr);
      expect(e, `payout of ${c.claimId}`).toBeDefined();
      expect(BigInt(e!.args.sourceAmount)).toBe(c.payable);
      const hkd = convert(money('CNY', c.payable), {
        quoteId: `0x${'00'.repeat(32)}`,
        base: 'CNY',
        quote: 'HKD',
        rate: RATE,
        validUntil: 1,
        provider: `0x${'00'.repeat(20)}`,
      }).minor;
      expect(BigInt(e!.args.payout)).toBe(hkd);
      expectedHkd += hkd;
    }
    const clinicHkd = await balance(
      'crossborder',
      xb().contracts.settlement!.depositTokens.HKD,
      clinic.chain.address,
    );
    expect(clinicHkd).toBe(expectedHkd);
    const totalPayable = payable.reduce((s, c) => s + c.payable, 0n);
    expect(final).toEqual({
      locked: final.released + final.refunded,
      released: totalPayable,
      refunded: final.refunded,
      inFlight: 0n,
    });

    // Every forced failure was refunded; ordinary payments never were.
    const refunds = await events(
      'insurer',
      'SettlementGateway',
      ins().contracts.settlement!.settlementGateway,
      'SettlementRefunded',
    );
    const failures = [...kinds.values()].flat().filter((k) => k !== 'ok').length;
    expect(failures).toBeGreaterThan(10);
    expect(refunds.length).toBeGreaterThanOrEqual(
      [...kinds.values()].flat().filter((k) => k === 'expired-quote' || k === 'forged-quote').length,
    );
    expect(refunds.length).toBeLessThanOrEqual(failures);
    expect(apiChecks).toBeGreaterThan(20);
    // Deadlines passed while the relayer was down: refunded as arrived expired (2) or proven timeout (3).
    const timedOut = refunds.filter((e) => Number(e.args.reason) === 2 || Number(e.args.reason) === 3);
    expect(timedOut.length).toBeGreaterThan(0);
    expect(timedOut.length).toBeLessThanOrEqual(
      [...kinds.values()].flat().filter((k) => k === 'deadline').length,
    );
    const gw = at('insurer', 'SettlementGateway', ins().contracts.settlement!.settlementGateway);
    let refundedSum = 0n;
    for (const e of refunds) {
      const p = (await gw.getFunction('payment')(e.args.uetr)) as { amount: bigint };
      refundedSum += p.amount;
    }
    expect(final.refunded).toBe(refundedSum);
    // The bank's nostro received exactly the released escrow.
    const bank = await balance(
      'insurer',
      ins().contracts.settlement!.depositTokens.CNY,
      computeAddress(devKey(DEV_ACCOUNT.bank)),
    );
    expect(bank).toBe(totalPayable);
  }, 900_000);
});
