/**
 * Settlement read side over real contracts on two anvils, through the HTTP API (`app.inject`) and the CLI:
 * A has a real Outbox, CNY and HKD deposit tokens and the source SettlementGateway; B has the destination gateway.
 * Four payments A → B are sent with `SettlementGateway.send`:
 *   P1 CNY → CNY, left in flight;
 *   P2 CNY → HKD at a signed quote, paid on B and released on A;
 *   P3 HKD → HKD, refused by B (refund reason 1);
 *   P4 CNY → CNY, timed out (refund reason 3).
 * No relayer runs here (the full cross-chain path is test/integration/settlement.chain.test.ts): B's gateway is
 * deployed with the test key as its Inbox, and A's Outbox is impersonated (anvil) to deliver the ack callbacks,
 * with the exact packets the Outbox emitted.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import {
  ContractFactory,
  Interface,
  type InterfaceAbi,
  JsonRpcSigner,
  type Signer,
  Wallet,
  ZeroAddress,
} from 'ethers';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadArtifact } from '../../adapters/evm/contracts/artifacts.js';
import { JsonRpcClient } from '../../adapters/evm/rpc.js';
import { parseConfig } from '../../config/load.js';
import type { MedrelayConfig } from '../../config/schema.js';
import { bytesToHex, type Hex, hexToBytes } from '../../proofs/bytes.js';
import { decodePacket, type Packet } from '../../proofs/packet.js';
import { convert, type FxQuote, pairHash, signQuote } from '../../proofs/settlement/fx.js';
import { money } from '../../proofs/settlement/money.js';
import { buildApi, chainInfoFromConfig, channelInfoFromConfig } from '../../relayer/api/index.js';
import { SETTLEMENT_API_PATHS } from '../../relayer/api/routes/settlement.js';
import { createMetrics } from '../../relayer/metrics.js';
import { assertRedisReachable, connectRedis, deleteKeysByPrefix, type Redis } from '../../relayer/redis.js';
import { settlementCommand } from '../../relayer/settlement/cli.js';
import { settlementQueries, settlementTopology } from '../../relayer/settlement/index.js';
import { PacketStore } from '../../relayer/store.js';
import { mine, startChain, stopChain, type TestChain } from '../helpers/chain.js';
import type { Bound } from '../helpers/deploy.js';

const A_ID = 74101;
const B_ID = 74102;
const CNY = 156;
const HKD = 344;
const MDCS = '0x4d444353';
const PROVIDER_KEY = `0x${'53'.repeat(32)}` as Hex;
const PROVIDER = new Wallet(PROVIDER_KEY).address as Hex;
const NOSTRO = Wallet.createRandom().address;
const CREDITOR = Wallet.createRandom().address;
const INBOX_A = Wallet.createRandom().address; // A's gateway never receives here
const VALIDATOR = Wallet.createRandom().address;
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const PREFIX = `medrelay-test-settlement-${process.pid}-${randomBytes(4).toString('hex')}`;
const CHANNEL_NAME = 'settlement-a-b';

type Any = Bound<
  | 'send'
  | 'openChannel'
  | 'setToken'
  | 'setRoute'
  | 'setTrustedSender'
  | 'setFxProvider'
  | 'onRecvPacket'
  | 'mint'
  | 'approve'
>;

let A: TestChain;
let B: TestChain;
let outboxA: Any;
let gwA: Any;
let gwB: Any;
let cnyA: Any;
let hkdA: Any;
let channel: string;
let config: MedrelayConfig;
let redis: Redis;
let app: FastifyInstance;
const gatewayIface = new Interface(loadArtifact('SettlementGateway').abi as InterfaceAbi);

interface Sent {
  uetr: string;
  uetrHex: Hex;
  ref: Hex;
  packet: Packet;
  amount: bigint;
}
const P: Record<'inFlight' | 'released' | 'refused' | 'timedOut', Sent> = {} as never;
let quote: FxQuote;

async function deploy(name: string, signer: Signer, ...args: unknown[]): Promise<Any> {
  const { abi, bytecode } = loadArtifact(name);
  const c = await new ContractFactory(abi, bytecode, signer).deploy(...args);
  await c.waitForDeployment();
  return c as Any;
}

async function send(
  sourceCurrency: number,
  targetCurrency: number,
  amount: bigint,
  q?: { quote: FxQuote; signature: Hex },
): Promise<Sent> {
  const uetr = randomUUID();
  const uetrHex = `0x${uetr.replaceAll('-', '')}` as Hex;
  const ref = bytesToHex(randomBytes(32));
  const tx = await gwA.send({
    destChain: B_ID,
    uetr: uetrHex,
    ref,
    creditor: CREDITOR,
    sourceCurrency,
    sourceAmount: amount,
    targetCurrency,
    chargeBearer: 3,
    purpose: MDCS,
    timeoutTimestamp: 0n,
    quote: q
      ? {
          quoteId: q.quote.quoteId,
          pair: bytesToHex(pairHash('CNY/HKD')),
          rate: q.quote.rate,
          validUntil: BigInt(q.quote.validUntil),
          provider: q.quote.provider,
        }
      : {
          quoteId: `0x${'00'.repeat(32)}`,
          pair: `0x${'00'.repeat(32)}`,
          rate: '',
          validUntil: 0n,
          provider: ZeroAddress,
        },
    quoteSignature: q ? q.signature : '0x',
  });
  const receipt = await tx.wait();
  const outboxAddr = (await outboxA.getAddress()).toLowerCase();
  const log = receipt.logs.find((l: { address: string }) => l.address.toLowerCase() === outboxAddr);
  const parsed = outboxA.interface.parseLog(log)!;
  return { uetr, uetrHex, ref, packet: decodePacket(hexToBytes(parsed.args.packet)), amount };
}

/** Calls `gwA.<fn>(…)` as A's Outbox (anvil impersonation): the ack and timeout callbacks. */
async function asOutbox(fn: 'onAcknowledgement' | 'onTimeout', args: unknown[]): Promise<void> {
  const addr = await outboxA.getAddress();
  await A.provider.send('anvil_impersonateAccount', [addr]);
  await A.provider.send('anvil_setBalance', [addr, '0x56BC75E2D63100000']);
  const signer = new JsonRpcSigner(A.provider, addr);
  const tx = await signer.sendTransaction({
    to: await gwA.getAddress(),
    data: gatewayIface.encodeFunctionData(fn, args),
  });
  await tx.wait();
  await A.provider.send('anvil_stopImpersonatingAccount', [addr]);
}

beforeAll(async () => {
  await assertRedisReachable(REDIS_URL);
  [A, B] = await Promise.all([startChain(A_ID), startChain(B_ID)]);

  // Chain A: Outbox, channel to B, tokens, source gateway.
  outboxA = await deploy('Outbox', A.signer);
  channel = await outboxA.openChannel.staticCall(CHANNEL_NAME, B_ID);
  await (await outboxA.openChannel(CHANNEL_NAME, B_ID)).wait();
  gwA = await deploy('SettlementGateway', A.signer, await outboxA.getAddress(), INBOX_A);
  cnyA = await deploy('DepositToken', A.signer, 'Deposit CNY', 'dCNY', CNY);
  hkdA = await deploy('DepositToken', A.signer, 'Deposit HKD', 'dHKD', HKD);
  // Chain B: a destination gateway whose "Inbox" is the test key.
  const outboxB = await deploy('Outbox', B.signer);
  const inboxB = await B.signer.getAddress();
  gwB = await deploy('SettlementGateway', B.signer, await outboxB.getAddress(), inboxB);
  const hkdB = await deploy('DepositToken', B.signer, 'Deposit HKD', 'dHKD', HKD);
  const cnyB = await deploy('DepositToken', B.signer, 'Deposit CNY', 'dCNY', CNY);

  const gwAddrA = await gwA.getAddress();
  const gwAddrB = await gwB.getAddress();
  await (await gwA.setToken(CNY, await cnyA.getAddress())).wait();
  await (await gwA.setToken(HKD, await hkdA.getAddress())).wait();
  await (await gwA.setRoute(B_ID, channel, gwAddrB, NOSTRO)).wait();
  const me = await A.signer.getAddress();
  for (const t of [cnyA, hkdA]) {
    await (await t.mint(me, 100_000_000n)).wait();
    await (await t.approve(gwAddrA, 2n ** 256n - 1n)).wait();
  }
  await (await gwB.setToken(HKD, await hkdB.getAddress())).wait();
  await (await gwB.setToken(CNY, await cnyB.getAddress())).wait();
  await (await gwB.setTrustedSender(A_ID, gwAddrA)).wait();
  await (await gwB.setFxProvider(PROVIDER, true)).wait();
  await (await hkdB.mint(gwAddrB, 50_000_000n)).wait();
  await (await cnyB.mint(gwAddrB, 50_000_000n)).wait();

  // P1: in flight.
  P.inFlight = await send(CNY, CNY, 123_450n);
  // P2: CNY → HKD at a quote, paid on B, released on A.
  const now = BigInt((await B.provider.getBlock('latest'))!.timestamp);
  quote = {
    quoteId: bytesToHex(randomBytes(32)),
    base: 'CNY',
    quote: 'HKD',
    rate: '1.0873',
    validUntil: now + 86_400n,
    provider: PROVIDER,
  };
  P.released = await send(CNY, HKD, 100_000n, { quote, signature: signQuote(quote, B_ID, PROVIDER_KEY) });
  const result = await gwB.onRecvPacket.staticCall(P.released.packet);
  await (await gwB.onRecvPacket(P.released.packet)).wait();
  await asOutbox('onAcknowledgement', [P.released.packet, 1, result]);
  // P3: refused by B (its revert data comes back as the ack result).
  P.refused = await send(HKD, HKD, 5_000n);
  const refusal = gatewayIface.encodeErrorResult('InsufficientLiquidity', [HKD, 5_000n, 0n]);
  await asOutbox('onAcknowledgement', [P.refused.packet, 2, refusal]);
  // P4: proven timeout.
  P.timedOut = await send(CNY, CNY, 777n);
  await asOutbox('onTimeout', [P.timedOut.packet]);

  const chain = (
    name: string,
    t: TestChain,
    id: number,
    gateway: string,
    bic: string,
    partyName: string,
  ) => ({
    name,
    chainId: id,
    family: 'evm',
    rpcUrl: t.anvil.rpcUrl,
    finality: { type: 'qbft', validators: [VALIDATOR] },
    contracts: {
      outbox: name === 'chain-a' ? outboxA.target : outboxB.target,
      inbox: name === 'chain-a' ? INBOX_A : inboxB,
      lightClients: { [name === 'chain-a' ? 'chain-b' : 'chain-a']: Wallet.createRandom().address },
      settlementGateway: gateway,
    },
    settlement: { agent: { bic }, partyName },
    signer: { type: 'env', variable: 'UNUSED_KEY' },
  });
  config = parseConfig(
    {
      relayer: { keyPrefix: PREFIX },
      chains: [
        chain('chain-a', A, A_ID, gwAddrA, 'MDRLCNSHXXX', 'Test Insurer Ltd'),
        chain('chain-b', B, B_ID, gwAddrB, 'MDRLHKHHXXX', 'Test Clinic Account'),
      ],
      channels: [{ name: CHANNEL_NAME, source: 'chain-a', destination: 'chain-b' }],
    },
    { env: {} },
  );
  expect(config.channels[0]!.id).toBe(channel);

  redis = connectRedis(REDIS_URL, { prefix: PREFIX });
  const store = new PacketStore(redis, { prefix: PREFIX });
  const channels = channelInfoFromConfig(config);
  const topology = settlementTopology(config, (c) => new JsonRpcClient(c.rpcUrl, { retries: 1 }))!;
  app = await buildApi({
    store,
    chains: chainInfoFromConfig(config),
    channels,
    metrics: createMetrics({ store, channels }),
    health: async () => ({ ok: true, redis: { ok: true }, chains: [] }),
    docs: false,
    settlement: { queries: settlementQueries(topology) },
  });
  await app.ready();
});

afterAll(async () => {
  await app?.close();
  if (redis) {
    await deleteKeysByPrefix(redis, PREFIX);
    redis.disconnect();
  }
  await Promise.all([stopChain(A), stopChain(B)]);
});

const get = (url: string) => app.inject({ method: 'GET', url });
const amount = (currency: string, minor: bigint) => ({
  minor: minor.toString(),
  currency,
  value: `${minor / 100n}.${(minor % 100n).toString().padStart(2, '0')}`,
});

describe('GET /settlement/reconciliation', () => {
  it('default: every invariant holds; rows per currency with amounts in minor and major units', async () => {
    // The report reads each source one block below its head (settled state); these chains automine, so one
    // empty block puts the last transaction below the head.
    await Promise.all([mine(A), mine(B)]);
    const res = await get('/settlement/reconciliation');
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.ok).toBe(true);
    expect(body.violations).toEqual([]);
    const cny = body.rows.find((r: { currency: string }) => r.currency === 'CNY');
    const cnyLocked = P.inFlight.amount + P.released.amount + P.timedOut.amount;
    expect(cny).toEqual({
      channel,
      name: CHANNEL_NAME,
      sourceChain: 'chain-a',
      destChain: 'chain-b',
      currency: 'CNY',
      ok: true,
      locked: amount('CNY', cnyLocked),
      released: amount('CNY', P.released.amount),
      refunded: amount('CNY', P.timedOut.amount),
      inFlight: amount('CNY', P.inFlight.amount),
      destination: { receivedSource: amount('CNY', P.released.amount), unacknowledged: amount('CNY', 0n) },
    });
    const hkd = body.rows.find((r: { currency: string }) => r.currency === 'HKD');
    expect(hkd.locked).toEqual(amount('HKD', 5_000n));
    expect(hkd.refunded).toEqual(amount('HKD', 5_000n));
    expect(body.rows.map((r: { currency: string }) => r.currency)).toEqual(['HKD', 'CNY']);
    expect(body.gateways).toEqual(
      expect.arrayContaining([
        {
          chain: 'chain-a',
          currency: 'CNY',
          ok: true,
          escrowed: amount('CNY', P.inFlight.amount),
          balance: amount('CNY', P.inFlight.amount),
          inFlight: amount('CNY', P.inFlight.amount),
        },
      ]),
    );
  });
});

describe('GET /settlement/payments/:uetr', () => {
  it('default: an in-flight payment with its packet, amounts, reference and accounts', async () => {
    const res = await get(`/settlement/payments/${P.inFlight.uetr}`);
    expect(res.statusCode).toBe(200);
    const v = res.json();
    expect(v).toMatchObject({
      uetr: P.inFlight.uetr,
      uetrHex: P.inFlight.uetrHex,
      status: 'PDNG',
      state: 'inFlight',
      reference: P.inFlight.ref,
      endToEndId: `CLM-${P.inFlight.ref.slice(2, 33)}`,
      chargeBearer: 'SLEV',
      purpose: 'MDCS',
      source: {
        chain: 'chain-a',
        chainId: String(A_ID),
        channel,
        amount: amount('CNY', 123_450n),
        account: `eip155:${A_ID}:${await A.signer.getAddress()}`,
      },
      destination: { chain: 'chain-b', chainId: String(B_ID), creditor: CREDITOR, currency: 'CNY' },
    });
    expect(v.source.packetId).toMatch(/^0x[0-9a-f]{64}$/);
    expect(v).not.toHaveProperty('outcome');
    expect(v).not.toHaveProperty('quote');
    expect(v.destination).not.toHaveProperty('payout');
    // the bytes16 form names the same payment
    expect((await get(`/settlement/payments/${P.inFlight.uetrHex}`)).json().uetr).toBe(P.inFlight.uetr);
  });

  it('behavior: a released FX payment shows the quote and the payout the destination recorded', async () => {
    const v = (await get(`/settlement/payments/${P.released.uetr}`)).json();
    const payout = convert(money('CNY', P.released.amount), quote);
    expect(v).toMatchObject({
      status: 'ACSC',
      state: 'released',
      quote: { quoteId: quote.quoteId, pair: 'CNY/HKD', rate: '1.0873', provider: PROVIDER },
      destination: { currency: 'HKD', payout: amount('HKD', payout.minor), paidPacketId: v.source.packetId },
      outcome: { state: 'released' },
    });
    expect(v.outcome.txHash).toMatch(/^0x[0-9a-f]{64}$/);
  });

  it('behavior: refunds carry the reason, its ISO code and the destination error', async () => {
    const refused = (await get(`/settlement/payments/${P.refused.uetr}`)).json();
    expect(refused).toMatchObject({
      status: 'RJCT',
      state: 'refunded',
      outcome: {
        state: 'refunded',
        refundReason: 1,
        refundReasonName: 'DESTINATION_REFUSED',
        reasonCode: 'AG01',
        destinationError: 'InsufficientLiquidity',
      },
    });
    const timedOut = (await get(`/settlement/payments/${P.timedOut.uetr}`)).json();
    expect(timedOut.outcome).toMatchObject({
      refundReason: 3,
      refundReasonName: 'TIMEOUT',
      reasonCode: 'TM01',
    });
    expect(timedOut.outcome).not.toHaveProperty('destinationError');
  });

  it('behavior: log lookups scan back span by span (tiny spans give the same view)', async () => {
    const topology = settlementTopology(config, (c) => new JsonRpcClient(c.rpcUrl, { retries: 1 }))!;
    const narrow = settlementQueries(topology, { logSpan: 2n });
    const wide = settlementQueries(topology);
    for (const p of [P.inFlight, P.refused])
      expect(await narrow.payment(p.uetr)).toEqual(await wide.payment(p.uetr));
  });

  it('error: unknown UETR is 404, malformed is 400', async () => {
    const missing = await get(`/settlement/payments/${randomUUID()}`);
    expect(missing.statusCode).toBe(404);
    expect(missing.json().code).toBe('MR_ERR_SETTLEMENT_NOT_FOUND');
    for (const bad of ['abc', '0x1234', `${randomUUID()}0`]) {
      const res = await get(`/settlement/payments/${bad}`);
      expect(res.statusCode).toBe(400);
      expect(res.json().code).toBe('MR_ERR_API_VALIDATION');
    }
    const zero = await get(`/settlement/payments/0x${'00'.repeat(16)}`);
    expect(zero.statusCode).toBe(400);
    expect(zero.json().code).toBe('MR_ERR_SETTLEMENT_UETR');
  });
});

describe('GET /settlement/payments/:uetr/pacs.*', () => {
  it('default: pacs.008 XML maps the payment', async () => {
    const res = await get(`/settlement/payments/${P.released.uetr}/pacs.008`);
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('application/xml; charset=utf-8');
    const xml = res.body;
    expect(xml).toContain(
      '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pacs.008.001.08"><FIToFICstmrCdtTrf>',
    );
    expect(xml).toContain(`<UETR>${P.released.uetr}</UETR>`);
    expect(xml).toContain(`<EndToEndId>CLM-${P.released.ref.slice(2, 33)}</EndToEndId>`);
    expect(xml).toContain(`<InstrId>MR-${P.released.uetrHex.slice(2)}</InstrId>`);
    expect(xml).toContain('<IntrBkSttlmAmt Ccy="CNY">1000.00</IntrBkSttlmAmt>');
    expect(xml).toContain('<XchgRate>1.0873</XchgRate>');
    expect(xml).toContain('<ChrgBr>SLEV</ChrgBr>');
    expect(xml).toContain('<Dbtr><Nm>Test Insurer Ltd</Nm></Dbtr>');
    expect(xml).toContain(`<Id>eip155:${A_ID}:${await A.signer.getAddress()}</Id>`);
    expect(xml).toContain(`<Id>eip155:${B_ID}:${CREDITOR}</Id>`);
    expect(xml).toContain('<DbtrAgt><FinInstnId><BICFI>MDRLCNSHXXX</BICFI></FinInstnId></DbtrAgt>');
    expect(xml).toContain('<CdtrAgt><FinInstnId><BICFI>MDRLHKHHXXX</BICFI></FinInstnId></CdtrAgt>');
    expect(xml).toContain('<Purp><Cd>MDCS</Cd></Purp>');
    expect(xml).toContain(`<RmtInf><Ustrd>/CLAIM/${P.released.ref}</Ustrd></RmtInf>`);
    // the same message as JSON
    const json = (await get(`/settlement/payments/${P.released.uetr}/pacs.008?format=json`)).json();
    expect(json.msgType).toBe('pacs.008.001.08');
    expect(json.CdtTrfTxInf.PmtId.UETR).toBe(P.released.uetr);
    // JSON objects are unordered (fast-json-stringify writes optional members last); the XML keeps XSD order
    expect(Object.keys(json.CdtTrfTxInf).sort()).toEqual(
      [
        'PmtId',
        'IntrBkSttlmAmt',
        'IntrBkSttlmDt',
        'XchgRate',
        'ChrgBr',
        'Dbtr',
        'DbtrAcct',
        'DbtrAgt',
        'CdtrAgt',
        'Cdtr',
        'CdtrAcct',
        'Purp',
        'RmtInf',
      ].sort(),
    );
  });

  it('default: pacs.002 PDNG / ACSC / RJCT with the reason code', async () => {
    const sts = async (p: Sent) =>
      (await get(`/settlement/payments/${p.uetr}/pacs.002?format=json`)).json().TxInfAndSts as {
        TxSts: string;
        StsRsnInf?: { Rsn: { Cd: string } };
      };
    expect((await sts(P.inFlight)).TxSts).toBe('PDNG');
    expect((await sts(P.released)).TxSts).toBe('ACSC');
    expect(await sts(P.refused)).toMatchObject({ TxSts: 'RJCT', StsRsnInf: { Rsn: { Cd: 'AG01' } } });
    expect(await sts(P.timedOut)).toMatchObject({ TxSts: 'RJCT', StsRsnInf: { Rsn: { Cd: 'TM01' } } });
    const xml = (await get(`/settlement/payments/${P.refused.uetr}/pacs.002`)).body;
    expect(xml).toContain('<TxSts>RJCT</TxSts><StsRsnInf><Rsn><Cd>AG01</Cd></Rsn></StsRsnInf>');
  });

  it('default: pacs.004 returns a refunded payment; 409 for one that was not refunded', async () => {
    const xml = (await get(`/settlement/payments/${P.refused.uetr}/pacs.004`)).body;
    expect(xml).toContain('<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pacs.004.001.09"><PmtRtr>');
    expect(xml).toContain('<RtrdIntrBkSttlmAmt Ccy="HKD">50.00</RtrdIntrBkSttlmAmt>');
    expect(xml).toContain(
      '<Rsn><Cd>AG01</Cd></Rsn><AddtlInf>Refund 1: destination refused (InsufficientLiquidity)</AddtlInf>',
    );
    const t = (await get(`/settlement/payments/${P.timedOut.uetr}/pacs.004?format=json`)).json();
    expect(t.TxInf.RtrRsnInf.Rsn.Cd).toBe('TM01');
    for (const p of [P.inFlight, P.released]) {
      const res = await get(`/settlement/payments/${p.uetr}/pacs.004`);
      expect(res.statusCode).toBe(409);
      expect(res.json().code).toBe('MR_ERR_SETTLEMENT_NOT_REFUNDED');
    }
  });

  it('error: unknown, malformed, bad format', async () => {
    expect((await get(`/settlement/payments/${randomUUID()}/pacs.008`)).statusCode).toBe(404);
    expect((await get('/settlement/payments/nope/pacs.008')).statusCode).toBe(400);
    const fmt = await get(`/settlement/payments/${P.inFlight.uetr}/pacs.008?format=pdf`);
    expect(fmt.statusCode).toBe(400);
    expect(fmt.json().code).toBe('MR_ERR_API_VALIDATION');
    expect((await get(`/settlement/payments/${P.inFlight.uetr}/pacs.009`)).statusCode).toBe(404);
  });

  it('default: the OpenAPI document lists the settlement paths', async () => {
    const doc = (await get('/openapi.json')).json();
    for (const p of SETTLEMENT_API_PATHS) expect(Object.keys(doc.paths)).toContain(p);
    expect(Object.keys(doc.paths[SETTLEMENT_API_PATHS[2]].get.responses['200'].content)).toEqual([
      'application/xml',
      'application/json',
    ]);
  });
});

describe('medrelay settlement (CLI)', () => {
  const run = async (args: string[], opts: { json?: boolean; type?: string } = {}) => {
    let out = '';
    let err = '';
    const code = await settlementCommand(config, args, {
      json: opts.json ?? false,
      ...(opts.type ? { type: opts.type } : {}),
      out: (t) => {
        out += t;
      },
      err: (t) => {
        err += t;
      },
    });
    return { code, out, err };
  };

  it('default: reconcile prints the tables and exits 0; --json prints the API shape', async () => {
    const r = await run(['reconcile']);
    expect(r.code).toBe(0);
    expect(r.out).toContain(CHANNEL_NAME);
    expect(r.out).toContain('2242.27'); // CNY locked 1234.50 + 1000.00 + 7.77, in major units
    expect(r.out).toContain('reconciled: every invariant holds');
    const j = await run(['reconcile'], { json: true });
    expect(JSON.parse(j.out).ok).toBe(true);
  });

  it('default: pacs prints XML, or JSON with --json', async () => {
    const r = await run(['pacs', P.refused.uetr], { type: '004' });
    expect(r.code).toBe(0);
    expect(r.out.startsWith('<?xml version="1.0" encoding="UTF-8"?>')).toBe(true);
    const j = await run(['pacs', P.inFlight.uetrHex], { type: '002', json: true });
    expect(JSON.parse(j.out).TxInfAndSts.TxSts).toBe('PDNG');
  });

  it('error: one line with the code for bad input, usage errors exit 2, never a stack trace', async () => {
    const unknown = await run(['pacs', randomUUID()], { type: '008' });
    expect(unknown.code).toBe(1);
    expect(unknown.err).toMatch(/^medrelay: MR_ERR_SETTLEMENT_NOT_FOUND: /);
    const malformed = await run(['pacs', 'not-a-uetr'], { type: '008' });
    expect(malformed.err).toMatch(/^medrelay: MR_ERR_SETTLEMENT_UETR: /);
    const refunded = await run(['pacs', P.inFlight.uetr], { type: '004' });
    expect(refunded.err).toMatch(/MR_ERR_SETTLEMENT_NOT_REFUNDED/);
    expect((await run(['pacs', P.inFlight.uetr], { type: '009' })).code).toBe(2);
    expect((await run(['pacs'], { type: '008' })).code).toBe(2);
    expect((await run(['audit'])).code).toBe(2);
    const none = await settlementCommand(
      {
        ...config,
        chains: config.chains.map((c) => ({
          ...c,
          contracts: { ...c.contracts, settlementGateway: undefined },
        })),
      },
      ['reconcile'],
      { json: false, out: () => {}, err: (t) => expect(t).toMatch(/MR_ERR_SETTLEMENT_NOT_CONFIGURED/) },
    );
    expect(none).toBe(1);
    for (const r of [unknown, malformed, refunded]) expect(r.err).not.toMatch(/\n\s+at /);
  });
});
