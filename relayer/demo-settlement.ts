/**
 * The settlement part of `npm run demo` (issue 4): a Hong Kong clinic (medical-a) treats a mainland patient
 * insured in CNY (insurer chain). The clinic claims with the disclosed diagnosis of the anchored record; the
 * insurer chain verifies disclosure, signature and consent and adjudicates; the insurer's desk pays the approved
 * amount in CNY at a signed CNY/HKD quote; the cross-border chain pays the clinic in HKD; the acknowledgement
 * releases the escrow to the settlement bank. A second payment times out and is refunded, then paid again with a
 * new UETR. Reconciliation and the ISO 20022 messages come from the relayer API.
 */
import { JsonRpcProvider } from 'ethers';
import { contractInterface } from '../adapters/evm/clients/chain.js';
import { ClaimsDeskClient, ClinicClient, FxQuoteDesk } from '../adapters/evm/clients/claims.js';
import {
  anchorDevnetDiagnosis,
  DEVNET_DIAGNOSIS_PATH,
  DEVNET_POLICY_ID,
  devnetPolicy,
} from '../adapters/evm/devnet/claims.js';
import {
  DEV_ACCOUNT,
  DEVNET_PATIENT,
  type Devnet,
  devKey,
  devnetConsentId,
} from '../adapters/evm/devnet/network.js';
import { MedrelayError } from '../proofs/errors.js';
import { formatAmount, money } from '../proofs/settlement/money.js';
import { until } from './demo-records.js';

export interface SettlementDemoContext {
  devnet: Devnet;
  apiBase: string;
  say: (line: string) => void;
  /** Suspends the relayer process (SIGSTOP) / resumes it (SIGCONT): a relayer outage past a payment deadline. */
  pauseRelayer: () => void;
  resumeRelayer: () => void;
}

/** A UETR (bytes16 hex) as the UUID text banks read. */
const uuid = (h: string) => {
  const x = h.slice(2);
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
};
/** The demo's CNY/HKD rate: 1 CNY = 1.0873 HKD. */
const RATE = '1.0873';

async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url);
  if (!res.ok) throw new MedrelayError('MR_ERR_DEMO_MISMATCH', `GET ${url}: HTTP ${res.status}`);
  return (await res.json()) as T;
}

export async function runSettlementDemo(ctx: SettlementDemoContext): Promise<void> {
  const { devnet } = ctx;
  const began = Date.now();
  const say = (line: string) => ctx.say(`${line} [+${((Date.now() - began) / 1000).toFixed(1)} s]`);
  const clinicChain = devnet.chain('medical-a');
  const ins = devnet.chain('insurer');
  const xb = devnet.chain('crossborder');
  const claims = devnet.channels.find((c) => c.app === 'claims' && c.source === 'medical-a');
  const payments = devnet.channels.find((c) => c.app === 'settlement' && c.source === 'insurer');
  if (
    !claims ||
    !payments ||
    !ins.contracts.settlement ||
    !xb.contracts.settlement ||
    !clinicChain.contracts.settlement
  )
    throw new MedrelayError('MR_ERR_DEMO_MISMATCH', 'the devnet has no claims / settlement channels');

  const clinicKey = devKey(DEV_ACCOUNT.hospital);
  const clinic = new ClinicClient({
    rpcUrl: clinicChain.rpcUrl,
    chainId: clinicChain.spec.chainId,
    privateKey: clinicKey,
    contracts: { claimSubmitter: clinicChain.contracts.settlement.claimSubmitter },
  });
  const deskOwner = new ClaimsDeskClient({
    rpcUrl: ins.rpcUrl,
    chainId: ins.spec.chainId,
    privateKey: devKey(DEV_ACCOUNT.deployer),
    contracts: { claimSettlement: ins.contracts.settlement.claimSettlement },
  });
  const desk = new ClaimsDeskClient({
    rpcUrl: ins.rpcUrl,
    chainId: ins.spec.chainId,
    privateKey: devKey(DEV_ACCOUNT.insurer),
    contracts: { claimSettlement: ins.contracts.settlement.claimSettlement },
  });
  const fx = new FxQuoteDesk(devKey(DEV_ACCOUNT.fxProvider), xb.spec.chainId);
  const xbProvider = new JsonRpcProvider(xb.rpcUrl, xb.spec.chainId, { staticNetwork: true });
  const clinicProvider = new JsonRpcProvider(clinicChain.rpcUrl, clinicChain.spec.chainId, {
    staticNetwork: true,
  });
  const hkd = contractInterface('DepositToken');
  const payee = clinic.chain.address;
  const hkdBalance = async (): Promise<bigint> => {
    const data = hkd.encodeFunctionData('balanceOf', [payee]);
    const raw = await xbProvider.call({ to: xb.contracts.settlement!.depositTokens.HKD, data });
    return BigInt(hkd.decodeFunctionResult('balanceOf', raw)[0] as bigint);
  };
  try {
    const reg = await deskOwner.registerPolicy(devnetPolicy(), DEVNET_PATIENT);
    say(
      `  insurer registered policy ${DEVNET_POLICY_ID} (CNY; covers ICD-10 I10, E11.9; deductible CNY 500.00, co-pay 10 %, limit CNY 20 000.00 per claim) ${reg.policyId.slice(0, 10)}…`,
    );
    const record = await anchorDevnetDiagnosis(
      clinicProvider,
      clinicChain.spec.chainId,
      clinicChain.contracts.recordRegistry,
      'I10',
    );
    say(
      `  Hong Kong clinic anchored the mainland patient's encounter record ${record.recordId.slice(0, 10)}… (diagnosis I10)`,
    );

    const now = BigInt(Math.floor(Date.now() / 1000));
    const claimInput = (amounts: bigint[]) => ({
      policyId: DEVNET_POLICY_ID,
      patient: DEVNET_PATIENT,
      consentId: devnetConsentId(clinicChain.spec.chainId),
      serviceDate: now - 3_600n,
      items: amounts.map((minor, i) => ({
        code: i === 0 ? 'CONSULT' : `LAB-${i}`,
        amount: money('CNY', minor),
      })),
      payout: { chainId: xb.spec.chainId, payee, currency: 'HKD' as const },
    });
    const before = await hkdBalance();
    const t0 = Date.now();
    const sub = await clinic.submitClaim(
      ins.spec.chainId,
      record,
      DEVNET_DIAGNOSIS_PATH,
      claimInput([350_000n, 88_050n]),
    );
    say(
      `  claim ${sub.claimId.slice(0, 10)}… submitted: CNY 3 500.00 consultation + CNY 880.50 labs; disclosed only ${sub.disclosed.map((d) => d.value).join(' ')} (CLAIM packet on ${claims.name})`,
    );
    const decided = await until('the claim decision', async () => {
      const c = await desk.claim(sub.claimId);
      return c.decision === 'none' ? undefined : c;
    });
    if (decided.decision === 'rejected')
      throw new MedrelayError(
        'MR_ERR_DEMO_MISMATCH',
        `the demo claim was rejected (reasons ${decided.reasons})`,
      );
    say(
      `  insurer chain verified disclosure, hospital signature and consent, and ${decided.decision} it: total CNY ${formatAmount(money('CNY', decided.total))}, payable CNY ${formatAmount(money('CNY', decided.payable))}, patient share CNY ${formatAmount(money('CNY', decided.patientShare))} (deductible, 10 % co-pay)`,
    );
    const validUntil = BigInt(Math.floor(Date.now() / 1000)) + 600n;
    const quote = fx.quote(RATE, validUntil);
    const paid = await desk.settleClaim(sub.claimId, { quote });
    say(
      `  insurer desk escrowed CNY ${formatAmount(money('CNY', decided.payable))} and sent SETTLEMENT UETR ${uuid(paid.uetr)} at the signed quote 1 CNY = ${RATE} HKD (valid 10 min)`,
    );
    const payout = await until('the HKD payout and its acknowledgement', async () => {
      const c = await desk.claim(sub.claimId);
      return c.settlement === 'paid' ? await hkdBalance() : undefined;
    });
    const endToEnd = (Date.now() - t0) / 1000;
    say(
      `  cross-border chain paid the clinic HKD ${formatAmount(money('HKD', payout - before))}; the acknowledgement released the CNY escrow to the settlement bank`,
    );
    say(`  claim end to end (submit → adjudicated → paid → acknowledged): ${endToEnd.toFixed(1)} s`);

    // A payment that cannot arrive in time: refunded, then paid again under a new UETR.
    const second = await clinic.submitClaim(
      ins.spec.chainId,
      record,
      DEVNET_DIAGNOSIS_PATH,
      claimInput([120_000n]),
    );
    await until('the second decision', async () =>
      (await desk.claim(second.claimId)).decision !== 'none' ? true : undefined,
    );
    ctx.pauseRelayer();
    let late: Awaited<ReturnType<ClaimsDeskClient['settleClaim']>>;
    try {
      const deadline = BigInt(Math.floor(Date.now() / 1000)) + 3n;
      late = await desk.settleClaim(second.claimId, {
        quote: fx.quote(RATE, validUntil),
        timeoutTimestamp: deadline,
      });
      say(
        `  second claim: SETTLEMENT ${uuid(late.uetr)} sent with a 3-second deadline while the relayer is down (SIGSTOP)`,
      );
      await until('the deadline to pass on the cross-border chain', async () =>
        BigInt((await xbProvider.getBlock('latest'))!.timestamp) > deadline ? true : undefined,
      );
    } finally {
      ctx.resumeRelayer();
    }
    await until('the refund', async () =>
      (await desk.claim(second.claimId)).settlement === 'refunded' ? true : undefined,
    );
    say(
      '  relayer back (SIGCONT): the payment could no longer arrive in time, so the escrow was refunded to the insurer (nothing paid)',
    );
    const retry = await desk.settleClaim(second.claimId, { quote: fx.quote(RATE, validUntil) });
    await until('the retried payment', async () =>
      (await desk.claim(second.claimId)).settlement === 'paid' ? true : undefined,
    );
    say(
      `  paid again under a new UETR ${uuid(retry.uetr)}; the claim is now paid once, the refunded payment never`,
    );

    type Amount = { minor: string; value: string };
    type Report = {
      ok: boolean;
      rows: {
        name?: string;
        channel: string;
        currency: string;
        locked: Amount;
        released: Amount;
        refunded: Amount;
        inFlight: Amount;
      }[];
    };
    // The report reads settled blocks (one below each head): wait for the last acknowledgement to settle.
    const rec = await until('the reconciliation to settle', async () => {
      const r = await getJson<Report>(`${ctx.apiBase}/settlement/reconciliation`);
      return r.rows.every((x) => x.inFlight.minor === '0') ? r : undefined;
    });
    for (const r of rec.rows.filter((x) => BigInt(x.locked.minor) > 0n))
      say(
        `  reconciliation ${r.name ?? r.channel} ${r.currency}: locked ${r.locked.value} = released ${r.released.value} + refunded ${r.refunded.value} + in flight ${r.inFlight.value} → ${rec.ok ? 'balanced' : 'VIOLATED'}`,
      );
    if (!rec.ok) throw new MedrelayError('MR_ERR_DEMO_MISMATCH', 'settlement reconciliation failed');
    const pacs002 = await fetch(`${ctx.apiBase}/settlement/payments/${uuid(paid.uetr)}/pacs.002`);
    const status = /<TxSts>(\w+)<\/TxSts>/.exec(await pacs002.text())?.[1];
    const pacs004 = await fetch(`${ctx.apiBase}/settlement/payments/${uuid(late.uetr)}/pacs.004`);
    const rtr = /<RtrRsnInf>[\s\S]*?<Cd>(\w+)<\/Cd>/.exec(await pacs004.text())?.[1];
    say(
      `  ISO 20022 from the API: pacs.008 + pacs.002 (${status ?? '?'}) for ${uuid(paid.uetr)}, pacs.004 return (${rtr ?? '?'}) for the timed-out ${uuid(late.uetr)}`,
    );
  } finally {
    xbProvider.destroy();
    clinicProvider.destroy();
  }
}
