/**
 * Cross-chain insurance claims on two real anvils with real relaying (sealed QBFT headers, eth_getProof storage
 * proofs, accumulator range proofs), real institution signatures, a real FHIR Bundle anchored with its disclosure
 * tree and a consent relayed into the insurer chain's ConsentMirror:
 *   A = medical chain (RecordRegistry, ConsentRegistry, ClaimSubmitter; SettlementGateway paying the clinic),
 *   B = insurer chain (ConsentMirror, ClaimSettlement; SettlementGateway escrowing the claims reserve).
 * The claim discloses the Condition coding (system + code) of the anchored Bundle; ClaimSettlement decides it like
 * proofs/settlement/policy.ts, which a parity run over ≥ 300 random policies and claim sequences checks (through
 * onRecvPacket of a ClaimSettlement whose "inbox" is a test account, and previewAdjudication).
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  AbiCoder,
  type Contract,
  encodeBytes32String,
  type JsonRpcProvider,
  keccak256,
  NonceManager,
  type ParamType,
  type Result,
  toUtf8Bytes,
  Wallet,
  ZeroAddress,
} from 'ethers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bytesToHex, type Hex } from '../../proofs/bytes.js';
import {
  type Anchor,
  buildDisclosureTree,
  type DisclosureTree,
  disclose,
  patientPseudonym,
  recordHash,
} from '../../proofs/records/index.js';
import { CURRENCIES, type Currency, MAX_MINOR, money } from '../../proofs/settlement/money.js';
import {
  type Adjudication,
  adjudicate,
  type PolicyYearState,
  REASON_CODES,
  type ReasonCode,
  type Claim as TsClaim,
  type Policy as TsPolicy,
} from '../../proofs/settlement/policy.js';
import {
  blockNumber,
  errorInterface,
  latestTimestamp,
  mine,
  revertOf,
  startChain,
  stopChain,
  type TestChain,
} from '../helpers/chain.js';
import {
  attach,
  type Bound,
  type ConsentRegistryContract,
  deployContract,
  deployRelayContracts,
  type Endpoint,
  type LightClientContract,
  openChannel,
  RECIPIENT_REF,
  type RegistryContract,
} from '../helpers/deploy.js';
import { ICD10, SCT } from '../helpers/fhir-fixtures.js';
import { sealAnvilBlock, testValidators } from '../helpers/qbft-seal.js';
import { rng } from '../helpers/random.js';
import {
  ANVIL_KEYS,
  anchorArg,
  id32,
  realisticRecord,
  relayPending,
  signedAnchor,
} from '../helpers/records.js';
import { buildAckArgs, receivedPackets } from '../helpers/relay.js';

const A_ID = 74101n;
const B_ID = 74102n;
const valsA = testValidators('medrelay-claims-a');
const valsB = testValidators('medrelay-claims-b');

const HOSPITAL_KEY = ANVIL_KEYS[2];
const OTHER_INSTITUTION_KEY = ANVIL_KEYS[3];
const PATIENT_KEY = `0x${'42'.repeat(32)}`;
const PATIENT = patientPseudonym(new Uint8Array(32).fill(7), 'urn:oid:1.2.36.146.595.217.0.1', '12345-MRN');
const OTHER_PATIENT = patientPseudonym(
  new Uint8Array(32).fill(9),
  'urn:oid:1.2.36.146.595.217.0.1',
  '999-MRN',
);
const CLINIC_PAYEE = new Wallet(`0x${'51'.repeat(32)}`).address;
const NOSTRO_B = new Wallet(`0x${'52'.repeat(32)}`).address;
const FAR = 2n ** 63n;
const DAY = 86_400n;
const HKD = 344;
const LOCAL_SYSTEM = 'http://example.org/fhir/CodeSystem/local-diagnoses';

const BUILD_DIR = join(dirname(fileURLToPath(import.meta.url)), '../../adapters/evm/contracts/build');
/** The other engineer's settlement contracts: the settle tests run only once they compile. */
const GATEWAY_READY = ['SettlementGateway', 'DepositToken'].every((n) =>
  existsSync(join(BUILD_DIR, `${n}.json`)),
);

const STATUS = { SUCCESS: 1, APP_ERROR: 2 } as const;
const DECISION = { approved: 1n, partial: 2n, rejected: 3n } as const;
const SUBMITTER_STATUS = { Sent: 1n, Accepted: 2n, Refused: 3n } as const;
const SETTLEMENT = { None: 0n, InFlight: 1n, Paid: 2n, Refunded: 3n } as const;
const INVALID = {
  PATIENT_NOT_ANCHOR: 1n,
  NOT_INSURED: 2n,
  RECORD: 3n,
  NO_ITEMS: 4n,
  TOO_MANY: 5n,
  CURRENCY: 6n,
};
const INVALID_MORE = { PAYOUT_CURRENCY: 7n, PAYEE: 8n, PAYOUT_CHAIN: 9n, OVERFLOW: 10n };

type Settlement = Bound<
  | 'setPolicy'
  | 'setTrustedSender'
  | 'setPayer'
  | 'onRecvPacket'
  | 'previewAdjudication'
  | 'settleClaim'
  | 'onSettlementOutcome'
  | 'claim'
  | 'policy'
  | 'policyState'
  | 'coverageOf'
>;
type Submitter = Bound<'setRoute' | 'submitClaim' | 'claim' | 'route'>;
type Gateway = Bound<'setToken' | 'setRoute' | 'setTrustedSender' | 'payment' | 'liquidity'>;
type Token = Bound<'mint' | 'balanceOf'>;

interface ClaimArg {
  claimId: Hex;
  policyId: Hex;
  patient: Hex;
  recordId: Hex;
  consentId: Hex;
  serviceDate: bigint;
  currency: number;
  items: { code: string; amount: bigint }[];
  payoutChain: bigint;
  payee: string;
  payoutCurrency: number;
  codingPath: string;
}

interface Disc {
  elements: { salt: string; path: string; value: string }[];
  proof: string[];
  proofFlags: boolean[];
}

interface PolicyTerms {
  insured: Hex;
  currency: number;
  validFrom: bigint;
  validUntil: bigint;
  perClaimLimit: bigint;
  deductible: bigint;
  annualCap: bigint;
  coPayBasisPoints: number;
}

const coder = AbiCoder.defaultAbiCoder();
const codingKey = (system: string, code: string): Hex =>
  keccak256(coder.encode(['string', 'string'], [system, code])) as Hex;
const systemHash = (system: string): Hex => keccak256(toUtf8Bytes(system)) as Hex;
const svc = (code: string) => encodeBytes32String(code);
const mask = (...codes: ReasonCode[]): bigint =>
  codes.reduce((m, c) => m | (1n << BigInt(REASON_CODES.indexOf(c))), 0n);
const ZERO_QUOTE = {
  quoteId: `0x${'00'.repeat(32)}`,
  pair: `0x${'00'.repeat(32)}`,
  rate: '',
  validUntil: 0n,
  provider: ZeroAddress,
};
const uetrOf = (s: string) => id32(s).slice(0, 34) as Hex;

/**
 * A view call by raw eth_call: ethers v6 caches identical reads for ~250 ms, which returns stale state when the
 * same view is read again right after a transaction on a fast automining anvil.
 */
async function view(c: Contract, fn: string, ...args: unknown[]): Promise<Result> {
  const provider = c.runner!.provider as JsonRpcProvider;
  const data = c.interface.encodeFunctionData(fn, args);
  const ret = (await provider.send('eth_call', [{ to: c.target, data }, 'latest'])) as string;
  return c.interface.decodeFunctionResult(fn, ret);
}

/** The `.system` + `.code` elements of `codingPath` with their multiproof. */
function discloseCoding(tree: DisclosureTree, codingPath: string): Disc {
  const d = disclose(tree, [`${codingPath}.system`, `${codingPath}.code`]);
  return {
    elements: d.elements.map((e) => ({ salt: e.salt, path: e.path, value: e.value })),
    proof: d.proof,
    proofFlags: d.proofFlags,
  };
}

let A: TestChain;
let B: TestChain;
let a: Endpoint;
let b: Endpoint;
let hospital: NonceManager;
let consentCh: string;
let claimsCh: string;
let consents: ConsentRegistryContract;
let registry: RegistryContract;
let submitter: Submitter; // as the A deployer (owner)
let asHospital: Submitter;
let settlement: Settlement; // as the B deployer (owner)
let gwA: Gateway | undefined;
let gwB: Gateway | undefined;
let tokA: Token | undefined;
let tokB: Token | undefined;
let settleCh = '';
let nowB: bigint;
let tree: DisclosureTree; // record 1: the realistic Bundle
let tree2: DisclosureTree; // record 2: same Bundle, other salts
const record1 = id32('claims:record-1');
const record2 = id32('claims:record-2');
const CONSENT = id32('claims:consent');
const CONSENT_REVOKED = id32('claims:consent-revoked');
const I10_PATH = 'Bundle.entry[1].resource.Condition.code.coding[0]'; // ICD-10 I10
const SCT_PATH = 'Bundle.entry[1].resource.Condition.code.coding[1]'; // SNOMED 59621000
const E11_PATH = 'Bundle.entry[2].resource.Condition.code.coding[0]'; // ICD-10 E11.9

const P = {
  happy: id32('policy:happy'),
  excl: id32('policy:excluded'),
  limit: id32('policy:limit'),
  cap: id32('policy:cap'),
  ded: id32('policy:deductible'),
  copay: id32('policy:copay'),
  other: id32('policy:other-insured'),
};

function terms(over: Partial<PolicyTerms> = {}): PolicyTerms {
  return {
    insured: PATIENT,
    currency: HKD,
    validFrom: nowB - 30n * DAY,
    validUntil: nowB + 365n * DAY,
    perClaimLimit: 10_000_000n,
    deductible: 0n,
    annualCap: 100_000_000n,
    coPayBasisPoints: 0,
    ...over,
  };
}

function claimArg(id: string, over: Partial<ClaimArg> = {}): ClaimArg {
  return {
    claimId: id32(`claim:${id}`),
    policyId: P.happy,
    patient: PATIENT,
    recordId: record1,
    consentId: CONSENT,
    serviceDate: nowB - DAY,
    currency: HKD,
    items: [{ code: svc('CONSULT'), amount: 10_000n }],
    payoutChain: A_ID,
    payee: CLINIC_PAYEE,
    payoutCurrency: HKD,
    codingPath: I10_PATH,
    ...over,
  };
}

async function anchorOnA(recordId: Hex, t: DisclosureTree, resource: unknown, key = HOSPITAL_KEY) {
  const { anchor, signature } = signedAnchor(key, A_ID, {
    recordId,
    recordHash: bytesToHex(recordHash(resource)),
    disclosureRoot: t.root,
    patient: PATIENT,
    anchoredAt: (await latestTimestamp(A)) - 10n,
  });
  await (await registry.anchorSigned(anchorArg(anchor), signature)).wait();
  return anchor;
}

/** Stores header `height` of `chain` in the light client `lc` (on the other chain); returns the height. */
async function relayHeader(chain: TestChain, lc: LightClientContract, vals: typeof valsA): Promise<number> {
  if (BigInt(await blockNumber(chain)) <= ((await view(lc, 'latestNumber'))[0] as bigint)) await mine(chain);
  const height = await blockNumber(chain);
  const sealed = await sealAnvilBlock(chain.provider, height, {
    listed: vals.addresses,
    signers: vals.keys.slice(0, Math.ceil((2 * vals.keys.length) / 3)),
  });
  await (await lc.updateHeader(sealed.rlp)).wait();
  return height;
}

/**
 * Relays every acknowledgement of `channel` (packets from `src` to `dst`) back to `src`'s Outbox, proven at a
 * header of `dstChain` stored in `src`'s light client. Returns the number of acks.
 */
async function relayAcks(
  dstChain: TestChain,
  dst: Endpoint,
  src: Endpoint,
  channel: string,
  vals: typeof valsA,
): Promise<number> {
  const acked = (await view(src.outbox, 'ackedUpTo', channel))[0] as bigint;
  const received = ((await view(dst.inbox, 'nextRecv', channel))[0] as bigint) - 1n;
  const count = Number(received - acked);
  if (count <= 0) return 0;
  const h = await relayHeader(dstChain, src.lightClient, vals);
  const x = await buildAckArgs(dstChain.provider, dst.inbox, src.outbox, channel, h, acked + 1n, count);
  await (
    await src.outbox.acknowledgePackets(
      x.height,
      x.accountProof,
      x.storageProof,
      x.packets,
      x.statuses,
      x.results,
      x.rangeProof,
    )
  ).wait();
  return count;
}

async function setPolicy(
  c: Settlement,
  policyId: string,
  t: PolicyTerms,
  covered: string[],
  excluded: string[] = [],
  systems: string[] = [systemHash(ICD10)],
): Promise<void> {
  await (await c.setPolicy(policyId, t, covered, excluded, systems)).wait();
}

/** Submits a claim from the hospital on A; returns its packet id. */
async function submit(c: ClaimArg, d: Disc, from: Submitter = asHospital): Promise<string> {
  const rc = await (await from.submitClaim(B_ID, c, d.elements, d.proof, d.proofFlags)).wait();
  const ev = rc.logs
    .map((l: never) => from.interface.parseLog(l))
    .find((e: { name: string } | null) => e?.name === 'ClaimSubmitted');
  return ev.args.packetId as string;
}

/** Relays every pending CLAIM packet; returns packet id → { status, decoded error or result }. */
async function relayClaims(): Promise<
  Map<string, { status: number; error?: { name: string; args: unknown[] } }>
> {
  await relayPending(A, a, b, claimsCh, valsA);
  const out = new Map<string, { status: number; error?: { name: string; args: unknown[] } }>();
  for (const r of await receivedPackets(b.inbox, claimsCh)) {
    const parsed = r.status === STATUS.APP_ERROR ? errorInterface().parseError(r.result) : null;
    out.set(
      r.id,
      parsed
        ? { status: r.status, error: { name: parsed.name, args: [...parsed.args] } }
        : { status: r.status },
    );
  }
  return out;
}

beforeAll(async () => {
  [A, B] = await Promise.all([startChain(Number(A_ID)), startChain(Number(B_ID))]);
  ({ a, b } = await deployRelayContracts(
    { signer: A.signer, chainId: A.chainId, validators: valsA.addresses },
    { signer: B.signer, chainId: B.chainId, validators: valsB.addresses },
  ));
  consentCh = await openChannel(a, 'consent', B_ID);
  claimsCh = await openChannel(a, 'claims', B_ID);
  hospital = new NonceManager(new Wallet(HOSPITAL_KEY, A.provider));
  await (await a.registry.setInstitution(await hospital.getAddress(), true)).wait();
  await (await a.registry.setInstitution(new Wallet(OTHER_INSTITUTION_KEY).address, true)).wait();
  await (await a.consentRegistry.setRoute(B_ID, consentCh, await b.consentMirror.getAddress())).wait();
  await (await a.consentRegistry.setDefaultDest(B_ID)).wait();
  registry = a.registry.connect(hospital) as RegistryContract;
  consents = a.consentRegistry.connect(hospital) as ConsentRegistryContract;
  nowB = await latestTimestamp(B);

  // Settlement gateways (B escrows the claims reserve, A pays the clinic), if the other engineer's code compiles.
  if (GATEWAY_READY) {
    settleCh = await openChannel(b, 'settlement', A_ID);
    gwB = (await deployContract(
      'SettlementGateway',
      B.signer,
      await b.outbox.getAddress(),
      await b.inbox.getAddress(),
    )) as Gateway;
    gwA = (await deployContract(
      'SettlementGateway',
      A.signer,
      await a.outbox.getAddress(),
      await a.inbox.getAddress(),
    )) as Gateway;
    tokB = (await deployContract('DepositToken', B.signer, 'HKD deposit B', 'HKDB', HKD)) as Token;
    tokA = (await deployContract('DepositToken', A.signer, 'HKD deposit A', 'HKDA', HKD)) as Token;
    await (await gwB.setToken(HKD, await tokB.getAddress())).wait();
    await (await gwB.setRoute(A_ID, settleCh, await gwA.getAddress(), NOSTRO_B)).wait();
    await (await gwA.setToken(HKD, await tokA.getAddress())).wait();
    await (await gwA.setTrustedSender(B_ID, await gwB.getAddress())).wait();
  }

  submitter = (await deployContract(
    'ClaimSubmitter',
    A.signer,
    await a.outbox.getAddress(),
    await a.registry.getAddress(),
  )) as Submitter;
  asHospital = attach('ClaimSubmitter', await submitter.getAddress(), hospital as never) as Submitter;
  settlement = (await deployContract(
    'ClaimSettlement',
    B.signer,
    await b.inbox.getAddress(),
    await b.consentMirror.getAddress(),
    RECIPIENT_REF,
    gwB ? await gwB.getAddress() : ZeroAddress,
  )) as Settlement;
  await (await submitter.setRoute(B_ID, claimsCh, await settlement.getAddress())).wait();
  await (await settlement.setTrustedSender(A_ID, await submitter.getAddress())).wait();

  // The patient's consent to the insurer, granted on A and relayed into B's mirror; a second one revoked.
  for (const c of [CONSENT, CONSENT_REVOKED]) {
    await (
      await consents.grant(
        c,
        PATIENT,
        new Wallet(PATIENT_KEY).address,
        RECIPIENT_REF,
        id32(`doc:${c}`),
        0n,
        FAR,
      )
    ).wait();
  }
  await (await consents.revoke(CONSENT_REVOKED)).wait();
  await relayPending(A, a, b, consentCh, valsA);
  expect(await b.consentMirror.isActive(CONSENT, RECIPIENT_REF, nowB + 5n)).toBe(true);
  expect(await b.consentMirror.isActive(CONSENT_REVOKED, RECIPIENT_REF, nowB + 5n)).toBe(false);

  // A real Bundle (Patient + Conditions I10 and E11.9 coded ICD-10 and SNOMED CT), anchored with its disclosure
  // tree; a second anchor of the same Bundle (fresh salts) for the "other record's proof" case.
  const bundle = await realisticRecord();
  tree = buildDisclosureTree(bundle);
  tree2 = buildDisclosureTree(bundle);
  const codeEl = tree.elements.find((e) => e.path === `${I10_PATH}.code`);
  expect(codeEl?.value).toBe('"I10"');
  expect(tree.elements.find((e) => e.path === `${SCT_PATH}.system`)?.value).toBe(JSON.stringify(SCT));
  expect(tree.elements.find((e) => e.path === `${E11_PATH}.code`)?.value).toBe('"E11.9"');
  await anchorOnA(record1, tree, bundle);
  await anchorOnA(record2, tree2, bundle);
}, 180_000);

afterAll(async () => {
  await Promise.all([stopChain(A), stopChain(B)]);
});

describe('CLAIM A → B end to end (real proofs)', () => {
  const happy = () =>
    claimArg('happy', {
      items: [
        { code: svc('CONSULT'), amount: 50_000n },
        { code: svc('ECG'), amount: 25_050n },
      ],
    });

  it('policies: validation with typed errors; rules and year state are readable', async () => {
    await setPolicy(settlement, P.happy, terms({ deductible: 10_000n, coPayBasisPoints: 2000 }), [
      codingKey(ICD10, 'I10'),
    ]);
    // Exclusion wins over coverage (the key may be in both lists).
    await setPolicy(
      settlement,
      P.excl,
      terms(),
      [codingKey(ICD10, 'I10'), codingKey(ICD10, 'E11.9')],
      [codingKey(ICD10, 'E11.9')],
    );
    await setPolicy(settlement, P.limit, terms({ perClaimLimit: 30_000n }), [codingKey(ICD10, 'I10')]);
    await setPolicy(settlement, P.cap, terms({ annualCap: 50_000n }), [codingKey(ICD10, 'I10')]);
    await setPolicy(settlement, P.ded, terms({ deductible: 20_000n }), [codingKey(ICD10, 'I10')]);
    await setPolicy(settlement, P.copay, terms({ coPayBasisPoints: 500 }), [codingKey(ICD10, 'I10')]);
    await setPolicy(settlement, P.other, terms({ insured: OTHER_PATIENT }), [codingKey(ICD10, 'I10')]);

    const p = (await view(settlement, 'policy', P.happy))[0];
    expect([p.insured, p.currency, p.deductible, p.coPayBasisPoints]).toEqual([
      PATIENT,
      344n,
      10_000n,
      2000n,
    ]);
    expect(await settlement.coverageOf(P.happy, codingKey(ICD10, 'I10'), systemHash(ICD10))).toBe(0n);
    expect(await settlement.coverageOf(P.excl, codingKey(ICD10, 'E11.9'), systemHash(ICD10))).toBe(1n);
    expect(await settlement.coverageOf(P.happy, codingKey(ICD10, 'E11.9'), systemHash(ICD10))).toBe(2n);
    expect(await settlement.coverageOf(P.happy, codingKey(SCT, '59621000'), systemHash(SCT))).toBe(3n);

    const bad = (over: Partial<PolicyTerms>, covered = [codingKey(ICD10, 'I10')]) =>
      revertOf(() => settlement.setPolicy.staticCall(id32('bad'), terms(over), covered, [], []));
    expect(await bad({ currency: 840 })).toEqual({
      name: 'PolicyCurrencyUnsupported',
      args: [id32('bad'), 840n],
    });
    expect((await bad({ validUntil: nowB - 30n * DAY })).name).toBe('PolicyPeriodInvalid');
    expect(await bad({ coPayBasisPoints: 10_001 })).toEqual({
      name: 'PolicyCoPayInvalid',
      args: [id32('bad'), 10_001n],
    });
    expect(await bad({}, [])).toEqual({ name: 'PolicyNoCoveredCodes', args: [id32('bad')] });
    expect((await bad({ insured: `0x${'00'.repeat(32)}` as Hex })).name).toBe('PolicyInsuredZero');
    const outsider = attach('ClaimSettlement', await settlement.getAddress(), await B.provider.getSigner(3));
    expect(
      (
        await revertOf(() =>
          (outsider as Settlement).setPolicy.staticCall(P.happy, terms(), [id32('x')], [], []),
        )
      ).name,
    ).toBe('NotOwner');
    expect((await view(settlement, 'policy', id32('bad')))[0].currency).toBe(0n);
    // The year state is kept in the policy currency: it cannot change.
    expect(
      await revertOf(() =>
        settlement.setPolicy.staticCall(P.happy, terms({ currency: 156 }), [id32('x')], [], []),
      ),
    ).toEqual({ name: 'PolicyCurrencyFixed', args: [P.happy, 344n] });
  });

  it('submitter refuses locally: not the anchoring institution, no items, unsigned anchor, no route', async () => {
    const d = discloseCoding(tree, I10_PATH);
    const other = attach(
      'ClaimSubmitter',
      await submitter.getAddress(),
      new Wallet(OTHER_INSTITUTION_KEY, A.provider),
    ) as Submitter;
    const c = claimArg('local-checks');
    expect(
      await revertOf(() => other.submitClaim.staticCall(B_ID, c, d.elements, d.proof, d.proofFlags)),
    ).toEqual({ name: 'NotRecordInstitution', args: [record1, new Wallet(OTHER_INSTITUTION_KEY).address] });
    expect(
      await revertOf(() =>
        asHospital.submitClaim.staticCall(B_ID, { ...c, items: [] }, d.elements, d.proof, d.proofFlags),
      ),
    ).toEqual({ name: 'NoItems', args: [c.claimId] });
    expect(
      await revertOf(() =>
        asHospital.submitClaim.staticCall(
          B_ID,
          { ...c, claimId: `0x${'00'.repeat(32)}` },
          d.elements,
          d.proof,
          d.proofFlags,
        ),
      ),
    ).toEqual({ name: 'ZeroClaimId', args: [] });
    const many = Array.from({ length: 65 }, () => ({ code: svc('X'), amount: 1n }));
    expect(
      (
        await revertOf(() =>
          asHospital.submitClaim.staticCall(B_ID, { ...c, items: many }, d.elements, d.proof, d.proofFlags),
        )
      ).name,
    ).toBe('TooManyItems');
    await (await registry.anchor(id32('claims:legacy'), id32('doc-legacy'), tree.root)).wait();
    expect(
      await revertOf(() =>
        asHospital.submitClaim.staticCall(
          B_ID,
          { ...c, recordId: id32('claims:legacy') },
          d.elements,
          d.proof,
          d.proofFlags,
        ),
      ),
    ).toEqual({ name: 'UnsignedAnchor', args: [id32('claims:legacy')] });
    expect(
      await revertOf(() => asHospital.submitClaim.staticCall(999n, c, d.elements, d.proof, d.proofFlags)),
    ).toEqual({ name: 'NoRoute', args: [999n] });
    expect((await revertOf(() => submitter.setRoute.staticCall(999n, claimsCh, CLINIC_PAYEE))).name).toBe(
      'RouteMismatch',
    );
  });

  it('happy path: submit → relay with proofs → approved with the right amounts → Accepted back on A', async () => {
    const c = happy();
    const packetId = await submit(c, discloseCoding(tree, I10_PATH));
    expect((await view(submitter, 'claim', c.claimId))[0].status).toBe(SUBMITTER_STATUS.Sent);
    // A claim id in flight cannot be submitted again.
    const d = discloseCoding(tree, I10_PATH);
    expect(
      await revertOf(() => asHospital.submitClaim.staticCall(B_ID, c, d.elements, d.proof, d.proofFlags)),
    ).toEqual({ name: 'ClaimExists', args: [c.claimId] });

    // One packet, one receive transaction (header verified in it).
    const before = (await view(b.inbox, 'nextRecv', claimsCh))[0] as bigint;
    await relayPending(A, a, b, claimsCh, valsA);
    expect((await view(b.inbox, 'nextRecv', claimsCh))[0] as bigint).toBe(before + 1n);
    const recv = (await receivedPackets(b.inbox, claimsCh)).at(-1)!;
    expect(recv.id).toBe(packetId);
    expect(recv.status).toBe(STATUS.SUCCESS);

    // policy.ts on the same input: deductible 10 000, co-pay 20 % of 65 050 = 13 010.
    const ts = adjudicate(
      tsPolicy('happy', { deductible: 10_000n, coPayBasisPoints: 2000 }, [['I10']]),
      tsClaim(c.claimId, 'happy', { system: ICD10, code: 'I10' }, [50_000n, 25_050n], Number(c.serviceDate)),
      emptyState(),
      { now: Number(await latestTimestamp(B)) },
    );
    expect([ts.decision, ts.payable.minor, ts.patientShare.minor]).toEqual(['approved', 52_040n, 23_010n]);

    const r = (await view(settlement, 'claim', c.claimId))[0];
    expect(r.decision).toBe(DECISION.approved);
    expect(r.reasons).toBe(mask('DEDUCTIBLE_APPLIED', 'COPAY_APPLIED'));
    expect([r.total, r.payableAmount, r.patientShare]).toEqual([75_050n, 52_040n, 23_010n]);
    expect([r.policyId, r.patient, r.sourceChain, r.payoutChain, r.payee, r.payoutCurrency]).toEqual([
      P.happy,
      PATIENT,
      A_ID,
      A_ID,
      CLINIC_PAYEE,
      344n,
    ]);
    expect([r.settlement, r.currency, r.uetr]).toEqual([SETTLEMENT.None, 344n, `0x${'00'.repeat(16)}`]);
    const ev = (
      await B.provider.getLogs({ address: await settlement.getAddress(), fromBlock: recv.blockNumber })
    )
      .map((l) => settlement.interface.parseLog(l)!)
      .find((e) => e.name === 'ClaimAdjudicated')!;
    expect([...ev.args]).toEqual([
      c.claimId,
      P.happy,
      1n,
      mask('DEDUCTIBLE_APPLIED', 'COPAY_APPLIED'),
      75_050n,
      52_040n,
      23_010n,
    ]);
    const st = (await view(settlement, 'policyState', P.happy))[0];
    expect([st.deductibleUsed, st.paidThisYear]).toEqual([10_000n, 52_040n]);

    expect(await relayAcks(B, b, a, claimsCh, valsB)).toBe(1);
    const s = (await view(submitter, 'claim', c.claimId))[0];
    expect([s.status, s.decision, s.payableAmount, s.destChain, s.packetId]).toEqual([
      SUBMITTER_STATUS.Accepted,
      1n,
      52_040n,
      B_ID,
      packetId,
    ]);
    // Approved: the clinic cannot submit the same id again.
    expect(
      (await revertOf(() => asHospital.submitClaim.staticCall(B_ID, c, d.elements, d.proof, d.proofFlags)))
        .name,
    ).toBe('ClaimExists');
  });

  // Round 2: decisions and refusals, one relay batch.
  interface Case {
    name: string;
    claim: ClaimArg;
    disc: Disc;
    from?: Submitter;
    decided?: { decision: bigint; reasons: bigint; payable: bigint; patientShare: bigint };
    error?: { name: string; args: unknown[] };
    packetId?: string;
  }
  const cases: Case[] = [];

  it('decisions and refusals: each bad input gives its typed error in the ack result and records nothing', async () => {
    const i10 = discloseCoding(tree, I10_PATH);
    const items = (...xs: bigint[]) => xs.map((amount, i) => ({ code: svc(`S${i}`), amount }));
    const dec = (decision: bigint, reasons: bigint, payable: bigint, patientShare: bigint) => ({
      decision,
      reasons,
      payable,
      patientShare,
    });
    const add = (c: Omit<Case, 'disc'> & { disc?: Disc }) => cases.push({ disc: i10, ...c });

    // Recorded decisions (ack SUCCESS).
    add({
      name: 'uncovered code → NOT_COVERED',
      claim: claimArg('not-covered', { codingPath: E11_PATH }),
      disc: discloseCoding(tree, E11_PATH),
      decided: dec(DECISION.rejected, mask('NOT_COVERED'), 0n, 10_000n),
    });
    add({
      name: 'excluded code → EXCLUDED',
      claim: claimArg('excluded', { policyId: P.excl, codingPath: E11_PATH }),
      disc: discloseCoding(tree, E11_PATH),
      decided: dec(DECISION.rejected, mask('EXCLUDED'), 0n, 10_000n),
    });
    add({
      name: 'SNOMED coding, lists only for ICD-10 → CODE_UNMAPPED',
      claim: claimArg('unmapped', { codingPath: SCT_PATH }),
      disc: discloseCoding(tree, SCT_PATH),
      decided: dec(DECISION.rejected, mask('CODE_UNMAPPED'), 0n, 10_000n),
    });
    add({
      name: 'over the per-claim limit → partial',
      claim: claimArg('limit', { policyId: P.limit, items: items(45_000n) }),
      decided: dec(DECISION.partial, mask('PER_CLAIM_LIMIT'), 30_000n, 15_000n),
    });
    add({
      name: 'cap 1: approved',
      claim: claimArg('cap-1', { policyId: P.cap, items: items(40_000n) }),
      decided: dec(DECISION.approved, 0n, 40_000n, 0n),
    });
    add({
      name: 'cap 2: cut to what is left of the annual cap',
      claim: claimArg('cap-2', { policyId: P.cap, items: items(20_000n, 10_000n) }),
      decided: dec(DECISION.partial, mask('ANNUAL_CAP'), 10_000n, 20_000n),
    });
    add({
      name: 'cap 3: cap reached → rejected',
      claim: claimArg('cap-3', { policyId: P.cap, items: items(5_000n) }),
      decided: dec(DECISION.rejected, mask('ANNUAL_CAP'), 0n, 5_000n),
    });
    add({
      name: 'deductible absorbs everything → rejected (but settled)',
      claim: claimArg('ded-1', { policyId: P.ded, items: items(15_000n) }),
      decided: dec(DECISION.rejected, mask('DEDUCTIBLE_APPLIED'), 0n, 15_000n),
    });
    add({
      name: 'rest of the deductible, then paid',
      claim: claimArg('ded-2', { policyId: P.ded, items: items(10_000n) }),
      decided: dec(DECISION.approved, mask('DEDUCTIBLE_APPLIED'), 5_000n, 5_000n),
    });
    add({
      name: 'co-pay 5 % of 10 050 = 502.5 → 502 (half to even)',
      claim: claimArg('copay-1', { policyId: P.copay, items: items(10_050n) }),
      decided: dec(DECISION.approved, mask('COPAY_APPLIED'), 9_548n, 502n),
    });
    add({
      name: 'co-pay 5 % of 10 150 = 507.5 → 508 (half to even)',
      claim: claimArg('copay-2', { policyId: P.copay, items: items(10_150n) }),
      decided: dec(DECISION.approved, mask('COPAY_APPLIED'), 9_642n, 508n),
    });
    add({
      name: 'co-pay 5 % of 10 051 = 502.55 → 503',
      claim: claimArg('copay-3', { policyId: P.copay, items: items(6_000n, 4_051n) }),
      decided: dec(DECISION.approved, mask('COPAY_APPLIED'), 9_548n, 503n),
    });

    // Refusals (ack APP_ERROR with the custom error).
    const err = (name: string, ...args: unknown[]) => ({ name, args });
    const unknown = claimArg('unknown-policy', { policyId: id32('policy:none') });
    add({ name: 'unknown policy', claim: unknown, error: err('UnknownPolicy', id32('policy:none')) });
    const pm = claimArg('patient-mismatch', { patient: OTHER_PATIENT });
    add({
      name: 'patient ≠ anchor',
      claim: pm,
      error: err('ClaimInvalid', pm.claimId, INVALID.PATIENT_NOT_ANCHOR),
    });
    const ni = claimArg('not-insured', { policyId: P.other });
    add({
      name: 'patient ≠ insured',
      claim: ni,
      error: err('ClaimInvalid', ni.claimId, INVALID.NOT_INSURED),
    });
    const usd = claimArg('usd', { currency: 840 });
    add({
      name: 'unsupported currency',
      claim: usd,
      error: err('ClaimInvalid', usd.claimId, INVALID.CURRENCY),
    });
    const rv = claimArg('revoked', { consentId: CONSENT_REVOKED });
    add({ name: 'revoked consent', claim: rv, error: err('ClaimRefused', rv.claimId, 2n) });
    const nc = claimArg('no-consent', { consentId: id32('claims:never-granted') });
    add({ name: 'unknown consent', claim: nc, error: err('ClaimRefused', nc.claimId, 1n) });
    const withEl = (d: Disc, suffix: string, over: Partial<Disc['elements'][0]>): Disc => ({
      ...d,
      elements: d.elements.map((e) => (e.path.endsWith(suffix) ? { ...e, ...over } : e)),
    });
    const tv = claimArg('tampered-value');
    add({
      name: 'tampered value',
      claim: tv,
      disc: withEl(i10, '.code', { value: '"I11"' }),
      error: err('InvalidDisclosure', tv.claimId),
    });
    const ws = claimArg('wrong-salt');
    add({
      name: 'wrong salt',
      claim: ws,
      disc: withEl(i10, '.system', { salt: `0x${'00'.repeat(16)}` }),
      error: err('InvalidDisclosure', ws.claimId),
    });
    const orp = claimArg('other-record-proof');
    add({
      name: "other record's proof",
      claim: orp,
      disc: discloseCoding(tree2, I10_PATH),
      error: err('InvalidDisclosure', orp.claimId),
    });
    const ncs = claimArg('not-condition-code', {
      codingPath: 'Bundle.entry[1].resource.Condition.clinicalStatus.coding[0]',
    });
    add({
      name: 'codingPath not a Condition code coding (valid proof)',
      claim: ncs,
      disc: discloseCoding(tree, 'Bundle.entry[1].resource.Condition.clinicalStatus.coding[0]'),
      error: err('InvalidDisclosure', ncs.claimId),
    });
    const pat = claimArg('patient-path', {
      codingPath: 'Bundle.entry[0].resource.Patient.identifier[0].type.coding[0]',
    });
    add({
      name: 'codingPath of the Patient (valid proof)',
      claim: pat,
      disc: discloseCoding(tree, 'Bundle.entry[0].resource.Patient.identifier[0].type.coding[0]'),
      error: err('InvalidDisclosure', pat.claimId),
    });
    const mis = claimArg('path-mismatch', { codingPath: E11_PATH });
    add({
      name: 'elements of another coding than codingPath',
      claim: mis,
      disc: i10,
      error: err('InvalidDisclosure', mis.claimId),
    });
    // A submitter the insurer does not trust (same channel, same receiver).
    const rogue = (await deployContract(
      'ClaimSubmitter',
      A.signer,
      await a.outbox.getAddress(),
      await a.registry.getAddress(),
    )) as Submitter;
    await (await rogue.setRoute(B_ID, claimsCh, await settlement.getAddress())).wait();
    add({
      name: 'untrusted submitter',
      claim: claimArg('untrusted'),
      from: attach('ClaimSubmitter', await rogue.getAddress(), hospital as never) as Submitter,
      error: err('UntrustedSender', A_ID, await rogue.getAddress()),
    });

    const stateBefore = await Promise.all(Object.values(P).map((p) => settlement.policyState(p)));
    for (const c of cases) c.packetId = await submit(c.claim, c.disc, c.from);
    const results = await relayClaims();
    for (const c of cases) {
      const r = results.get(c.packetId!);
      expect(r, c.name).toBeDefined();
      const rec = (await view(settlement, 'claim', c.claim.claimId))[0];
      if (c.decided) {
        expect(r!.status, c.name).toBe(STATUS.SUCCESS);
        expect([rec.decision, rec.reasons, rec.payableAmount, rec.patientShare], c.name).toEqual([
          c.decided.decision,
          c.decided.reasons,
          c.decided.payable,
          c.decided.patientShare,
        ]);
      } else {
        expect({ status: r!.status, error: r!.error }, c.name).toEqual({
          status: STATUS.APP_ERROR,
          error: c.error,
        });
        expect(rec.decision, `${c.name}: nothing recorded`).toBe(0n);
      }
    }
    // Year state: only settled claims count; refusals and gate rejections changed nothing.
    const st = async (p: string) => {
      const s = (await view(settlement, 'policyState', p))[0];
      return [s.deductibleUsed, s.paidThisYear];
    };
    expect(await st(P.cap)).toEqual([0n, 50_000n]);
    expect(await st(P.ded)).toEqual([20_000n, 5_000n]);
    expect(await st(P.copay)).toEqual([0n, 9_548n + 9_642n + 9_548n]);
    expect(await st(P.limit)).toEqual([0n, 30_000n]);
    expect(await st(P.happy)).toEqual([stateBefore[0]!.deductibleUsed, stateBefore[0]!.paidThisYear]);
    expect(await st(P.excl)).toEqual([0n, 0n]);
    expect(await st(P.other)).toEqual([0n, 0n]);

    // Acks back on A: Accepted with decision/payable, or Refused with the insurer's error.
    expect(await relayAcks(B, b, a, claimsCh, valsB)).toBe(cases.length);
    const logs = await A.provider.getLogs({ address: await submitter.getAddress(), fromBlock: 0 });
    const acks = new Map(
      logs
        .map((l) => submitter.interface.parseLog(l)!)
        .filter((e) => e.name === 'ClaimAcknowledged')
        .map((e) => [e.args.claimId as string, e] as const),
    );
    for (const c of cases.filter((x) => !x.from)) {
      const s = (await view(submitter, 'claim', c.claim.claimId))[0];
      const ev = acks.get(c.claim.claimId)!;
      if (c.decided) {
        expect([s.status, s.decision, s.payableAmount], c.name).toEqual([
          SUBMITTER_STATUS.Accepted,
          c.decided.decision,
          c.decided.payable,
        ]);
      } else {
        expect(s.status, c.name).toBe(SUBMITTER_STATUS.Refused);
        const e = errorInterface().parseError(ev.args.result as string)!;
        expect([e.name, ...e.args], c.name).toEqual([c.error!.name, ...c.error!.args]);
      }
    }
  });

  it('resubmission: after a gate rejection and after a refusal it is decided again; after a settled claim ClaimDuplicate', async () => {
    const i10 = discloseCoding(tree, I10_PATH);
    const before = (await view(settlement, 'policyState', P.ded))[0];
    const ded1Before = (await view(settlement, 'claim', id32('claim:ded-1')))[0];
    // Gate-rejected (NOT_COVERED) id, corrected diagnosis → decided again and overwrites the rejection.
    const fixedCoding = claimArg('not-covered', { items: [{ code: svc('CONSULT'), amount: 20_000n }] });
    // Refused (unsupported currency) id, corrected currency.
    const fixedCurrency = claimArg('usd', { items: [{ code: svc('CONSULT'), amount: 1_000n }] });
    // Settled (deductible absorbed it: decision 3, but settled) → the submitter lets it go, the insurer refuses.
    const dup = claimArg('ded-1', { policyId: P.ded, items: [{ code: svc('CONSULT'), amount: 15_000n }] });
    const ids = [await submit(fixedCoding, i10), await submit(fixedCurrency, i10), await submit(dup, i10)];
    const results = await relayClaims();
    expect(ids.map((id) => results.get(id)!.status)).toEqual([
      STATUS.SUCCESS,
      STATUS.SUCCESS,
      STATUS.APP_ERROR,
    ]);
    expect(results.get(ids[2]!)!.error).toEqual({ name: 'ClaimDuplicate', args: [dup.claimId] });

    const r1 = (await view(settlement, 'claim', fixedCoding.claimId))[0];
    // P.happy's deductible was used up by the happy claim: 20 % co-pay of 20 000.
    expect([r1.decision, r1.reasons, r1.total, r1.payableAmount]).toEqual([
      1n,
      mask('COPAY_APPLIED'),
      20_000n,
      16_000n,
    ]);
    const r2 = (await view(settlement, 'claim', fixedCurrency.claimId))[0];
    expect([r2.decision, r2.payableAmount, r2.patientShare]).toEqual([1n, 800n, 200n]);
    // The settled claim and its policy year are untouched.
    const r3 = (await view(settlement, 'claim', dup.claimId))[0];
    expect([r3.decision, r3.reasons, r3.total]).toEqual([
      ded1Before.decision,
      ded1Before.reasons,
      ded1Before.total,
    ]);
    const after = (await view(settlement, 'policyState', P.ded))[0];
    expect([after.deductibleUsed, after.paidThisYear]).toEqual([before.deductibleUsed, before.paidThisYear]);
    const happyState = (await view(settlement, 'policyState', P.happy))[0];
    expect(happyState.paidThisYear).toBe(52_040n + 16_000n + 800n);

    expect(await relayAcks(B, b, a, claimsCh, valsB)).toBe(3);
    const s = await Promise.all([fixedCoding, fixedCurrency, dup].map((c) => submitter.claim(c.claimId)));
    expect(s.map((x) => [x.status, x.decision, x.payableAmount])).toEqual([
      [SUBMITTER_STATUS.Accepted, 1n, 16_000n],
      [SUBMITTER_STATUS.Accepted, 1n, 800n],
      [SUBMITTER_STATUS.Refused, 0n, 0n],
    ]);
  });
});

describe.skipIf(!GATEWAY_READY)('settleClaim through the real SettlementGateway (B → A)', () => {
  const happyId = id32('claim:happy');
  let desk: Settlement;

  it('only payers; only decided payable claims; escrow from the reserve; AlreadySettling while in flight', async () => {
    const deskSigner = await B.provider.getSigner(1);
    await (await settlement.setPayer(await deskSigner.getAddress(), true)).wait();
    desk = attach('ClaimSettlement', await settlement.getAddress(), deskSigner) as Settlement;
    const reserve = 1_000_000n;
    await (await tokB!.mint(await settlement.getAddress(), reserve)).wait();

    expect(
      await revertOf(() => settlement.settleClaim.staticCall(happyId, uetrOf('u0'), ZERO_QUOTE, '0x', 0n)),
    ).toEqual({ name: 'NotPayer', args: [await B.signer.getAddress()] });
    for (const id of [id32('claim:excluded'), id32('claim:cap-3'), id32('claim:never')]) {
      expect(
        await revertOf(() => desk.settleClaim.staticCall(id, uetrOf('u0'), ZERO_QUOTE, '0x', 0n)),
      ).toEqual({
        name: 'NotPayable',
        args: [id],
      });
    }
    expect(
      await revertOf(() =>
        desk.settleClaim.staticCall(happyId, `0x${'00'.repeat(16)}`, ZERO_QUOTE, '0x', 0n),
      ),
    ).toEqual({ name: 'InvalidUetr', args: [`0x${'00'.repeat(16)}`] });

    const u1 = uetrOf('settle-1');
    const rc = await (await desk.settleClaim(happyId, u1, ZERO_QUOTE, '0x', 0n)).wait();
    const sent = rc.logs
      .map((l: never) => settlement.interface.parseLog(l))
      .find((e: { name: string } | null) => e?.name === 'ClaimSettlementSent');
    expect(sent.args.uetr).toBe(u1);
    expect((await view(tokB!, 'balanceOf', await settlement.getAddress()))[0]).toBe(reserve - 52_040n);
    expect((await view(tokB!, 'balanceOf', await gwB!.getAddress()))[0]).toBe(52_040n);
    const pay = (await view(gwB!, 'payment', u1))[0];
    expect([pay.status, pay.amount, pay.debtor, pay.destChain]).toEqual([
      1n,
      52_040n,
      await settlement.getAddress(),
      A_ID,
    ]);
    const c = (await view(settlement, 'claim', happyId))[0];
    expect([c.settlement, c.uetr]).toEqual([SETTLEMENT.InFlight, u1]);
    expect(
      await revertOf(() => desk.settleClaim.staticCall(happyId, uetrOf('settle-x'), ZERO_QUOTE, '0x', 0n)),
    ).toEqual({ name: 'AlreadySettling', args: [happyId, u1] });
    expect((await revertOf(() => desk.onSettlementOutcome.staticCall(u1, true, '0x'))).name).toBe(
      'NotGateway',
    );
  });

  it('refused on A (no liquidity) → refund → Refunded; re-settled with a new uetr → paid → Paid, never again', async () => {
    const u1 = uetrOf('settle-1');
    // A's gateway has no HKD liquidity yet: the payment is refused there (APP_ERROR) and refunded on B.
    await relayPending(B, b, a, settleCh, valsB);
    const r1 = (await receivedPackets(a.inbox, settleCh)).at(-1)!;
    expect(r1.status).toBe(STATUS.APP_ERROR);
    expect(errorInterface().parseError(r1.result)!.name).toBe('InsufficientLiquidity');
    expect(await relayAcks(A, a, b, settleCh, valsA)).toBe(1);
    const logs = (await B.provider.getLogs({ address: await settlement.getAddress(), fromBlock: 0 })).map(
      (l) => settlement.interface.parseLog(l)!,
    );
    const refunded = logs.find((e) => e.name === 'ClaimSettlementRefunded')!;
    expect([refunded.args.claimId, refunded.args.uetr]).toEqual([happyId, u1]);
    expect(errorInterface().parseError(refunded.args.result as string)!.name).toBe('InsufficientLiquidity');
    expect((await view(settlement, 'claim', happyId))[0].settlement).toBe(SETTLEMENT.Refunded);
    expect((await view(tokB!, 'balanceOf', await settlement.getAddress()))[0]).toBe(1_000_000n);

    // The refunded uetr is spent; a new one settles again.
    expect(await revertOf(() => desk.settleClaim.staticCall(happyId, u1, ZERO_QUOTE, '0x', 0n))).toEqual({
      name: 'InvalidUetr',
      args: [u1],
    });
    const u2 = uetrOf('settle-2');
    await (await desk.settleClaim(happyId, u2, ZERO_QUOTE, '0x', 0n)).wait();
    await (await tokA!.mint(await gwA!.getAddress(), 1_000_000n)).wait();
    await relayPending(B, b, a, settleCh, valsB);
    const r2 = (await receivedPackets(a.inbox, settleCh)).at(-1)!;
    expect(r2.status).toBe(STATUS.SUCCESS);
    expect((await view(tokA!, 'balanceOf', CLINIC_PAYEE))[0]).toBe(52_040n);
    expect(await relayAcks(A, a, b, settleCh, valsA)).toBe(1);
    const paid = (await B.provider.getLogs({ address: await settlement.getAddress(), fromBlock: 0 }))
      .map((l) => settlement.interface.parseLog(l)!)
      .find((e) => e.name === 'ClaimPaid')!;
    expect([paid.args.claimId, paid.args.uetr]).toEqual([happyId, u2]);
    const c = (await view(settlement, 'claim', happyId))[0];
    expect([c.settlement, c.uetr]).toEqual([SETTLEMENT.Paid, u2]);
    expect((await view(tokB!, 'balanceOf', await settlement.getAddress()))[0]).toBe(1_000_000n - 52_040n);
    expect((await view(tokB!, 'balanceOf', NOSTRO_B))[0]).toBe(52_040n);
    expect((await view(gwB!, 'payment', u2))[0].status).toBe(2n); // Released
    expect(
      await revertOf(() => desk.settleClaim.staticCall(happyId, uetrOf('settle-3'), ZERO_QUOTE, '0x', 0n)),
    ).toEqual({ name: 'AlreadyPaid', args: [happyId] });
  });
});

// ---------------------------------------------------------------------------------------------------------
// Parity with proofs/settlement/policy.ts
// ---------------------------------------------------------------------------------------------------------

const ICD_POOL = [
  'I10',
  'E11.9',
  'J45.9',
  'K21.9',
  'M54.5',
  'N39.0',
  'R51',
  'Z00.0',
  'A09',
  'B34.9',
  'C50.9',
  'F32.9',
];

function tsPolicy(
  id: string,
  over: Partial<{
    currency: Currency;
    deductible: bigint;
    coPayBasisPoints: number;
    perClaimLimit: bigint;
    annualCap: bigint;
    validFrom: number;
    validUntil: number;
  }>,
  codes: [string[], string[]?],
): TsPolicy {
  const cur = over.currency ?? 'HKD';
  return {
    policyId: id,
    currency: cur,
    coveredCodes: codes[0].map((code) => ({ system: ICD10, code })),
    excludedCodes: (codes[1] ?? []).map((code) => ({ system: ICD10, code })),
    perClaimLimit: money(cur, over.perClaimLimit ?? 10_000_000n),
    deductible: money(cur, over.deductible ?? 0n),
    coPayBasisPoints: over.coPayBasisPoints ?? 0,
    annualCap: money(cur, over.annualCap ?? 100_000_000n),
    validFrom: over.validFrom ?? 0,
    validUntil: over.validUntil ?? 4_000_000_000,
  };
}

function tsClaim(
  claimId: string,
  policyId: string,
  diagnosis: { system: string; code: string },
  amounts: bigint[],
  serviceDate: number,
  cur: Currency = 'HKD',
): TsClaim {
  return {
    claimId,
    policyId,
    patient: PATIENT,
    diagnosis,
    items: amounts.map((minor, i) => ({ code: `S${i}`, amount: money(cur, minor) })),
    serviceDate,
  };
}

function emptyState(cur: Currency = 'HKD'): PolicyYearState {
  return { deductibleUsed: money(cur, 0n), paidThisYear: money(cur, 0n), paidClaimIds: new Set() };
}

const tsMask = (r: Adjudication): bigint => mask(...r.reasons.map((x) => x.code));
const DECISION_CODE = { approved: 1n, partial: 2n, rejected: 3n } as const;

describe('parity with proofs/settlement/policy.ts (≥ 300 random policies and claim sequences)', () => {
  /** A diagnosis with its own small anchored record (a Condition), signed by the hospital for chain A. */
  interface Dx {
    system: string;
    code: string;
    recordId: Hex;
    anchor: Anchor;
    signature: Hex;
    path: string;
    disc: Disc;
  }
  let fast: Settlement; // onRecvPacket called directly by INBOX
  let INBOX: string;
  const FAKE_SUBMITTER = new Wallet(`0x${'61'.repeat(32)}`).address;
  let claimType: ParamType;
  let elementsType: ParamType;
  let anchorType: ParamType;
  let seq = 0n;

  function makeDx(system: string, code: string, n: number): Dx {
    const coding: Record<string, string>[] =
      system === SCT
        ? [
            { system: ICD10, code: 'I10' },
            { system, code },
          ]
        : [{ system, code }];
    const resource = {
      resourceType: 'Condition',
      id: `dx-${n}`,
      code: { coding },
      subject: { reference: 'Patient/pat-001' },
    };
    const t = buildDisclosureTree(resource);
    const path = `Condition.code.coding[${coding.length - 1}]`;
    const recordId = id32(`dx:${system}|${code}`);
    const { anchor, signature } = signedAnchor(HOSPITAL_KEY, A_ID, {
      recordId,
      recordHash: bytesToHex(recordHash(resource)),
      disclosureRoot: t.root,
      patient: PATIENT,
      anchoredAt: nowB,
    });
    return { system, code, recordId, anchor, signature, path, disc: discloseCoding(t, path) };
  }

  function packetData(c: ClaimArg, dx: Dx, disc: Disc = dx.disc, over: Record<string, unknown> = {}): string {
    const payload = coder.encode(
      [claimType, anchorType, 'bytes', elementsType, 'bytes32[]', 'bool[]'],
      [c, anchorArg(dx.anchor), dx.signature, disc.elements, disc.proof, disc.proofFlags],
    );
    seq += 1n;
    return fast.interface.encodeFunctionData('onRecvPacket', [
      {
        version: 1,
        sourceChain: A_ID,
        destChain: B_ID,
        channel: id32('parity-channel'),
        sequence: seq,
        sender: FAKE_SUBMITTER,
        receiver: fast.target,
        timeoutHeight: 0n,
        timeoutTimestamp: 0n,
        kind: 4,
        payload,
        ...over,
      },
    ]);
  }

  const provider = () => B.provider as JsonRpcProvider;
  /** Sends from an unlocked anvil account, mined at once (fixed gas: a revert is mined, not estimated away). */
  async function sendAs(from: string, data: string, at?: bigint) {
    if (at !== undefined) await provider().send('evm_setNextBlockTimestamp', [Number(at)]);
    const hash = (await provider().send('eth_sendTransaction', [
      { from, to: fast.target, data, gas: '0x2dc6c0' },
    ])) as string;
    type Receipt = { status: string; gasUsed: string; logs: { topics: string[]; data: string }[] };
    for (let i = 0; ; i++) {
      const rc = (await provider().send('eth_getTransactionReceipt', [hash])) as Receipt | null;
      if (rc) return rc;
      if (i > 200) throw new Error(`no receipt for ${hash}`);
      await new Promise((res) => setTimeout(res, 5));
    }
  }
  async function callAs(from: string, data: string): Promise<{ name: string; args: unknown[] } | null> {
    try {
      await provider().send('eth_call', [{ from, to: fast.target, data }, 'latest']);
      return null;
    } catch (err) {
      const e = err as { data?: string; info?: { error?: { data?: string } }; error?: { data?: string } };
      const data = e.data ?? e.info?.error?.data ?? e.error?.data;
      const parsed = data ? errorInterface().parseError(data) : null;
      if (!parsed) throw err;
      return { name: parsed.name, args: [...parsed.args] };
    }
  }

  let dxs: Dx[];
  const dxBy = (system: string, code: string) => dxs.find((d) => d.system === system && d.code === code)!;

  beforeAll(async () => {
    INBOX = await (await B.provider.getSigner(5)).getAddress();
    fast = (await deployContract(
      'ClaimSettlement',
      B.signer,
      INBOX,
      await b.consentMirror.getAddress(),
      RECIPIENT_REF,
      ZeroAddress,
    )) as Settlement;
    await (await fast.setTrustedSender(A_ID, FAKE_SUBMITTER)).wait();
    const submitAbi = submitter.interface.getFunction('submitClaim')!;
    claimType = submitAbi.inputs[1]!;
    elementsType = submitAbi.inputs[2]!;
    anchorType = a.registry.interface.getFunction('signedAnchor')!.outputs[0]!;
    dxs = [
      ...ICD_POOL.map((code, i) => makeDx(ICD10, code, i)),
      makeDx(SCT, '59621000', 100),
      makeDx(SCT, '44054006', 101),
      makeDx(LOCAL_SYSTEM, 'LOC-7', 102),
    ];
  }, 60_000);

  it('direct checks: inbox only, kind, record, items, payout fields, Condition paths, escaped values', async () => {
    const t0 = await latestTimestamp(B);
    await setPolicy(fast, id32('fast:p'), terms({ validFrom: t0 - 10n * DAY }), [
      codingKey(ICD10, 'I10'),
      codingKey(LOCAL_SYSTEM, 'A\\B'),
    ]);
    const i10 = dxBy(ICD10, 'I10');
    const base = claimArg('fast-1', {
      policyId: id32('fast:p'),
      recordId: i10.recordId,
      codingPath: i10.path,
    });
    const id = base.claimId;
    const expectErr = async (data: string, name: string, ...args: unknown[]) =>
      expect(await callAs(INBOX, data)).toEqual({ name, args });
    // The direct call works (and is what the parity run uses).
    expect(await callAs(INBOX, packetData(base, i10))).toBeNull();
    expect(await callAs(await B.signer.getAddress(), packetData(base, i10))).toEqual({
      name: 'NotInbox',
      args: [await B.signer.getAddress()],
    });
    await expectErr(packetData(base, i10, i10.disc, { kind: 1 }), 'UnexpectedKind', 1n);
    await expectErr(
      packetData(base, i10, i10.disc, { sourceChain: 999n }),
      'UntrustedSender',
      999n,
      FAKE_SUBMITTER,
    );
    await expectErr(packetData({ ...base, recordId: id32('x') }, i10), 'ClaimInvalid', id, INVALID.RECORD);
    await expectErr(packetData({ ...base, items: [] }, i10), 'ClaimInvalid', id, INVALID.NO_ITEMS);
    const many = Array.from({ length: 65 }, () => ({ code: svc('X'), amount: 1n }));
    await expectErr(packetData({ ...base, items: many }, i10), 'ClaimInvalid', id, INVALID.TOO_MANY);
    const sixtyFour = many.slice(1);
    const maxData = packetData({ ...base, items: sixtyFour }, i10);
    expect(await callAs(INBOX, maxData)).toBeNull();
    // The largest claim fits the Inbox's fixed app budget (RECEIVE_GAS = 1 000 000) with room to spare.
    const est = BigInt(
      await provider().send('eth_estimateGas', [{ from: INBOX, to: fast.target, data: maxData }]),
    );
    expect(est).toBeLessThan(900_000n);
    await expectErr(
      packetData({ ...base, payoutCurrency: 978 }, i10),
      'ClaimInvalid',
      id,
      INVALID_MORE.PAYOUT_CURRENCY,
    );
    await expectErr(packetData({ ...base, payee: ZeroAddress }, i10), 'ClaimInvalid', id, INVALID_MORE.PAYEE);
    await expectErr(
      packetData({ ...base, payoutChain: 0n }, i10),
      'ClaimInvalid',
      id,
      INVALID_MORE.PAYOUT_CHAIN,
    );
    const huge = [
      { code: svc('A'), amount: MAX_MINOR },
      { code: svc('B'), amount: 1n },
    ];
    await expectErr(packetData({ ...base, items: huge }, i10), 'ClaimInvalid', id, INVALID_MORE.OVERFLOW);
    // The institution signed the anchor under another chain's domain than the packet's source chain.
    const otherDomain = signedAnchor(HOSPITAL_KEY, B_ID, { ...i10.anchor });
    await expectErr(packetData(base, { ...i10, signature: otherDomain.signature }), 'ClaimRefused', id, 8n);

    // Condition paths: a top-level Condition is fine; a prefix that is not a '.'-separated segment is not.
    const ok = (p: string) => packetData({ ...base, codingPath: p }, i10);
    await expectErr(ok(`X${i10.path}`), 'InvalidDisclosure', id);
    await expectErr(ok('Condition.code.coding[00]'), 'InvalidDisclosure', id);
    await expectErr(ok('Condition.code.coding[]'), 'InvalidDisclosure', id);
    // Three elements (system, code and display-less extra leaf) instead of exactly two.
    const cond = {
      resourceType: 'Condition',
      id: 'dx-extra',
      code: { coding: [{ system: ICD10, code: 'I10', display: 'Hypertension' }] },
      subject: { reference: 'Patient/pat-001' },
    };
    const t3 = buildDisclosureTree(cond);
    const d3 = disclose(t3, [
      'Condition.code.coding[0].system',
      'Condition.code.coding[0].code',
      'Condition.code.coding[0].display',
    ]);
    const dx3 = { ...i10, ...signedDx(cond, t3, 'dx-extra') };
    await expectErr(
      packetData({ ...base, recordId: dx3.recordId }, dx3, {
        elements: d3.elements.map((e) => ({ salt: e.salt, path: e.path, value: e.value })),
        proof: d3.proof,
        proofFlags: d3.proofFlags,
      }),
      'InvalidDisclosure',
      id,
    );
    // The same record with exactly the two coding leaves is accepted.
    expect(
      await callAs(
        INBOX,
        packetData({ ...base, recordId: dx3.recordId }, dx3, discloseCoding(t3, 'Condition.code.coding[0]')),
      ),
    ).toBeNull();
    // A code value with a JSON escape (proven, but refused: the coding key is taken from unescaped text only).
    const esc = {
      resourceType: 'Condition',
      id: 'dx-esc',
      code: { coding: [{ system: LOCAL_SYSTEM, code: 'A\\B' }] },
      subject: { reference: 'Patient/pat-001' },
    };
    const te = buildDisclosureTree(esc);
    expect(te.elements.find((e) => e.path === 'Condition.code.coding[0].code')?.value).toBe('"A\\\\B"');
    const dxe = { ...i10, ...signedDx(esc, te, 'dx-esc') };
    await expectErr(
      packetData({ ...base, recordId: dxe.recordId }, dxe, discloseCoding(te, 'Condition.code.coding[0]')),
      'InvalidDisclosure',
      id,
    );
  });

  function signedDx(resource: unknown, t: DisclosureTree, name: string) {
    const recordId = id32(`dx:${name}`);
    const { anchor, signature } = signedAnchor(HOSPITAL_KEY, A_ID, {
      recordId,
      recordHash: bytesToHex(recordHash(resource)),
      disclosureRoot: t.root,
      patient: PATIENT,
      anchoredAt: nowB,
    });
    return { recordId, anchor, signature };
  }

  it('setPolicy on an existing policy replaces the rules, keeps the year state; excluded-only keys say EXCLUDED', async () => {
    const pid = id32('fast:rules');
    const t0 = await latestTimestamp(B);
    const tt = terms({ validFrom: t0 - 10n * DAY });
    await setPolicy(fast, pid, tt, [codingKey(ICD10, 'I10')]);
    const i10 = dxBy(ICD10, 'I10');
    const c = claimArg('fast-rules-1', { policyId: pid, recordId: i10.recordId, codingPath: i10.path });
    const first = await sendAs(INBOX, packetData(c, i10));
    expect(first.status).toBe('0x1');
    expect((await view(fast, 'policyState', pid))[0].paidThisYear).toBe(10_000n);
    // New rules: I10 no longer covered, E11.9 covered; the paid amount of the year stays.
    await setPolicy(fast, pid, { ...tt, annualCap: 15_000n }, [codingKey(ICD10, 'E11.9')]);
    expect((await view(fast, 'coverageOf', pid, codingKey(ICD10, 'I10'), systemHash(ICD10)))[0]).toBe(2n);
    expect((await view(fast, 'policyState', pid))[0].paidThisYear).toBe(10_000n);
    const c2 = claimArg('fast-rules-2', { policyId: pid, recordId: i10.recordId, codingPath: i10.path });
    await sendAs(INBOX, packetData(c2, i10));
    expect((await view(fast, 'claim', c2.claimId))[0].reasons).toBe(mask('NOT_COVERED'));
    const e11 = dxBy(ICD10, 'E11.9');
    const c3 = claimArg('fast-rules-3', { policyId: pid, recordId: e11.recordId, codingPath: e11.path });
    await sendAs(INBOX, packetData(c3, e11));
    const r3 = (await view(fast, 'claim', c3.claimId))[0];
    expect([r3.decision, r3.reasons, r3.payableAmount]).toEqual([2n, mask('ANNUAL_CAP'), 5_000n]);

    // Compiled lists cannot tell "excluded and covered" from "excluded, never covered": an excluded key is
    // EXCLUDED on chain, where policy.ts (coverage first) says NOT_COVERED for a code it never covered. Both reject.
    const px = id32('fast:excl-only');
    await setPolicy(fast, px, tt, [codingKey(ICD10, 'I10')], [codingKey(ICD10, 'E11.9')]);
    const c4 = claimArg('fast-excl-only', { policyId: px, recordId: e11.recordId, codingPath: e11.path });
    await sendAs(INBOX, packetData(c4, e11));
    expect((await view(fast, 'claim', c4.claimId))[0].reasons).toBe(mask('EXCLUDED'));
    const ts = adjudicate(
      tsPolicy('x', {}, [['I10'], ['E11.9']]),
      tsClaim(c4.claimId, 'x', { system: ICD10, code: 'E11.9' }, [10_000n], Number(c4.serviceDate)),
      emptyState(),
      { now: Number(await latestTimestamp(B)) },
    );
    expect([ts.decision, ts.reasons.map((r) => r.code)]).toEqual(['rejected', ['NOT_COVERED']]);
  });

  it('on-chain adjudication equals policy.ts adjudicate over 320 random policies × claim sequences', async () => {
    const CASES = 320;
    const r = rng(20_260_301);
    const pick = <T>(xs: readonly T[]): T => xs[r.int(xs.length)]!;
    const big = (): bigint => {
      const k = r.int(10);
      if (k === 0) return 0n;
      if (k < 4) return BigInt(r.int(2_000));
      if (k < 8) return BigInt(r.int(200_000));
      if (k < 9) return BigInt(r.int(1_000_000_000)) * 1000n;
      return MAX_MINOR - BigInt(r.int(1000));
    };
    const capped = (x: bigint) => (x > MAX_MINOR ? MAX_MINOR : x);
    const bps = [0, 1, 500, 1000, 1999, 2000, 2500, 3333, 5000, 9999, 10_000];
    const curs: Currency[] = ['HKD', 'CNY', 'MOP'];
    const owner = await B.signer.getAddress();
    const settledEvent = fast.interface.getEvent('ClaimAdjudicated')!;
    const rpc = provider();
    // Blocks we mine ourselves: every transaction of a step goes into one block at a timestamp we choose (the
    // claims of one case are in different blocks, in order; one sender keeps nonce order inside a block).
    const send = (from: string, data: string) =>
      rpc.send('eth_sendTransaction', [{ from, to: fast.target, data, gas: '0x16e360' }]) as Promise<string>;
    type Receipt = { status: string; blockNumber: string; logs: { topics: string[]; data: string }[] };
    async function mineAt(t: bigint, hashes: string[]): Promise<Receipt[]> {
      await rpc.send('evm_setNextBlockTimestamp', [Number(t)]);
      await rpc.send('evm_mine', []);
      const rcs = (await Promise.all(
        hashes.map((h) => rpc.send('eth_getTransactionReceipt', [h])),
      )) as (Receipt | null)[];
      expect(rcs.every((x) => x !== null)).toBe(true);
      expect(new Set(rcs.map((x) => x!.blockNumber)).size).toBe(1);
      return rcs as Receipt[];
    }

    interface Case {
      tsp: TsPolicy;
      pid: Hex;
      cur: Currency;
      covered: string[];
      n: number;
      state: PolicyYearState;
      used: Hex[];
    }
    let clock = (await latestTimestamp(B)) + 100n;
    const cases: Case[] = [];
    for (let i = 0; i < CASES; i++) {
      const cur = pick(curs);
      const covered = ICD_POOL.filter(() => r.next() < 0.35);
      if (covered.length === 0) covered.push(pick(ICD_POOL));
      const excluded = covered.filter(() => r.next() < 0.25);
      const validFrom = Number(clock) - r.int(200 * 86_400);
      const tsp = tsPolicy(
        `parity-${i}`,
        {
          currency: cur,
          deductible: r.next() < 0.4 ? 0n : big() % 50_000n,
          coPayBasisPoints: r.next() < 0.2 ? r.int(10_001) : pick(bps),
          perClaimLimit: r.next() < 0.2 ? MAX_MINOR : big(),
          annualCap: r.next() < 0.2 ? MAX_MINOR : capped(big() * BigInt(1 + r.int(3))),
          validFrom,
          validUntil: validFrom + 1 + r.int(400 * 86_400),
        },
        [covered, excluded],
      );
      cases.push({
        tsp,
        pid: keccak256(toUtf8Bytes(tsp.policyId)) as Hex,
        cur,
        covered,
        n: 1 + r.int(4),
        state: emptyState(cur),
        used: [],
      });
    }

    await rpc.send('evm_setBlockGasLimit', ['0x3b9aca00']);
    await rpc.send('evm_setAutomine', [false]);
    let claims = 0;
    let reverts = 0;
    const decisions = new Map<string, number>();
    const reasonsSeen = new Set<string>();
    try {
      // Policies, compiled as proofs/settlement/claims.ts does (excluded keys leave the covered list).
      const policyTxs: string[] = [];
      for (const c of cases) {
        const excluded = (c.tsp.excludedCodes ?? []).map((x) => x.code);
        const coveredKeys = c.covered.filter((x) => !excluded.includes(x)).map((x) => codingKey(ICD10, x));
        const t: PolicyTerms = {
          insured: PATIENT,
          currency: CURRENCIES[c.cur].numeric,
          validFrom: BigInt(c.tsp.validFrom),
          validUntil: BigInt(c.tsp.validUntil),
          perClaimLimit: c.tsp.perClaimLimit.minor,
          deductible: c.tsp.deductible.minor,
          annualCap: c.tsp.annualCap.minor,
          coPayBasisPoints: c.tsp.coPayBasisPoints,
        };
        policyTxs.push(
          await send(
            owner,
            fast.interface.encodeFunctionData('setPolicy', [
              c.pid,
              t,
              // All covered codes excluded: list one (an exclusion wins over coverage, on both sides).
              coveredKeys.length > 0 ? coveredKeys : [codingKey(ICD10, excluded[0]!)],
              excluded.map((x) => codingKey(ICD10, x)),
              [systemHash(ICD10)],
            ]),
          ),
        );
      }
      clock += 10n;
      for (const rc of await mineAt(clock, policyTxs)) expect(rc.status).toBe('0x1');

      // Claim rounds: round k carries the k-th claim of every case that has one, in one block at `clock`.
      for (let k = 0; k < 4; k++) {
        clock += BigInt(1 + r.int(50_000));
        const now = Number(clock);
        const round = cases
          .map((c, i) => ({ c, i }))
          .filter(({ c }) => c.n > k)
          .map(({ c, i }) => {
            const reuse = c.used.length > 0 && r.next() < 0.3;
            const claimId = reuse ? pick(c.used) : id32(`parity:${i}:${k}`);
            if (!reuse) c.used.push(claimId);
            const u = r.next();
            const dx =
              u < 0.55
                ? dxBy(ICD10, pick(c.covered))
                : u < 0.85
                  ? dxBy(ICD10, pick(ICD_POOL))
                  : pick(dxs.filter((d) => d.system !== ICD10));
            const sd = r.int(10);
            const serviceDate =
              sd === 0
                ? now + 1 + r.int(1000)
                : sd === 1
                  ? now
                  : sd === 2
                    ? c.tsp.validFrom - r.int(2)
                    : sd === 3
                      ? c.tsp.validUntil - r.int(2)
                      : now - r.int(250 * 86_400);
            const claimCur = r.next() < 0.1 ? pick(curs) : c.cur;
            const amounts = Array.from({ length: 1 + r.int(4) }, () =>
              r.next() < 0.03 ? MAX_MINOR / 2n + BigInt(r.int(1000)) : big() % 1_000_000n,
            );
            let ts: Adjudication | undefined;
            let tsError: unknown;
            try {
              const tsc = tsClaim(claimId, c.tsp.policyId, dx, amounts, serviceDate, claimCur);
              ts = adjudicate(c.tsp, tsc, c.state, { now });
            } catch (err) {
              tsError = err;
            }
            const duplicate = c.state.paidClaimIds.has(claimId);
            const claim = claimArg('unused', {
              claimId,
              policyId: c.pid,
              recordId: dx.recordId,
              serviceDate: BigInt(serviceDate),
              currency: CURRENCIES[claimCur].numeric,
              items: amounts.map((amount, j) => ({ code: svc(`S${j}`), amount })),
              codingPath: dx.path,
            });
            const preview = [
              c.pid,
              BigInt(serviceDate),
              CURRENCIES[claimCur].numeric,
              codingKey(dx.system, dx.code),
              systemHash(dx.system),
              amounts,
              duplicate,
              BigInt(now),
            ];
            const ctx = `case ${i} claim ${k} (${claimId.slice(0, 10)} ${dx.system}|${dx.code})`;
            return { c, claimId, ts, tsError, duplicate, data: packetData(claim, dx), preview, ctx };
          });

        // 1. previewAdjudication (the library as a view, state before this round) with the same `now`.
        await Promise.all(
          round.map(async (x) => {
            if (x.ts) {
              const p = await view(fast, 'previewAdjudication', ...x.preview);
              expect([p.decision, p.reasons, p.total, p.payableAmount, p.patientShare], x.ctx).toEqual([
                DECISION_CODE[x.ts.decision],
                tsMask(x.ts),
                x.ts.total.minor,
                x.ts.payable.minor,
                x.ts.patientShare.minor,
              ]);
            } else {
              expect((x.tsError as { code?: string }).code, x.ctx).toBe('MR_ERR_CLAIM_INVALID');
              expect(await revertOf(() => view(fast, 'previewAdjudication', ...x.preview)), x.ctx).toEqual({
                name: 'ClaimInvalid',
                args: [`0x${'00'.repeat(32)}`, INVALID_MORE.OVERFLOW],
              });
            }
          }),
        );

        // 2. The CLAIM packets themselves, delivered at block time `now`.
        const hashes: string[] = [];
        for (const x of round) hashes.push(await send(INBOX, x.data));
        const rcs = await mineAt(clock, hashes);
        claims += round.length;
        await Promise.all(
          round.map(async (x, j) => {
            const rc = rcs[j]!;
            if (!x.ts || x.duplicate) {
              reverts++;
              expect(rc.status, x.ctx).toBe('0x0');
              const e = await callAs(INBOX, x.data);
              if (!x.ts) {
                expect(e, x.ctx).toEqual({ name: 'ClaimInvalid', args: [x.claimId, INVALID_MORE.OVERFLOW] });
              } else {
                expect(e, x.ctx).toEqual({ name: 'ClaimDuplicate', args: [x.claimId] });
                // policy.ts also refuses to pay again and leaves the state alone (a date gate may come first).
                expect(x.ts.decision, x.ctx).toBe('rejected');
                expect(x.ts.nextState.paidThisYear.minor, x.ctx).toBe(x.c.state.paidThisYear.minor);
                expect(x.ts.nextState.deductibleUsed.minor, x.ctx).toBe(x.c.state.deductibleUsed.minor);
              }
              return;
            }
            expect(rc.status, x.ctx).toBe('0x1');
            const ev = fast.interface.parseLog(rc.logs.find((l) => l.topics[0] === settledEvent.topicHash)!)!;
            expect(
              [
                ev.args.claimId,
                ev.args.decision,
                ev.args.reasons,
                ev.args.total,
                ev.args.payableAmount,
                ev.args.patientShare,
              ],
              x.ctx,
            ).toEqual([
              x.claimId,
              DECISION_CODE[x.ts.decision],
              tsMask(x.ts),
              x.ts.total.minor,
              x.ts.payable.minor,
              x.ts.patientShare.minor,
            ]);
            x.c.state = x.ts.nextState;
            decisions.set(x.ts.decision, (decisions.get(x.ts.decision) ?? 0) + 1);
            for (const y of x.ts.reasons) reasonsSeen.add(y.code);
            // The evolving policy-year state and the stored record.
            const [s, rec] = await Promise.all([
              view(fast, 'policyState', x.c.pid),
              view(fast, 'claim', x.claimId),
            ]);
            expect([s[0].deductibleUsed, s[0].paidThisYear], `${x.ctx}: state`).toEqual([
              x.c.state.deductibleUsed.minor,
              x.c.state.paidThisYear.minor,
            ]);
            expect(
              [
                rec[0].decision,
                rec[0].reasons,
                rec[0].total,
                rec[0].payableAmount,
                rec[0].patientShare,
                rec[0].policyId,
              ],
              `${x.ctx}: record`,
            ).toEqual([
              DECISION_CODE[x.ts.decision],
              tsMask(x.ts),
              x.ts.total.minor,
              x.ts.payable.minor,
              x.ts.patientShare.minor,
              x.c.pid,
            ]);
          }),
        );
      }
    } finally {
      await rpc.send('evm_setAutomine', [true]);
    }
    // The run must have exercised every decision and every reason the chain can record.
    expect(claims).toBeGreaterThanOrEqual(600);
    expect(reverts).toBeGreaterThan(10);
    expect([...decisions.keys()].sort()).toEqual(['approved', 'partial', 'rejected']);
    const recordable = REASON_CODES.filter((c) => c !== 'CLAIM_DUPLICATE');
    expect(recordable.filter((c) => !reasonsSeen.has(c))).toEqual([]);
  }, 120_000);
});
