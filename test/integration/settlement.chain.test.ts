/**
 * Settlement contracts on two real anvils with real relaying (sealed QBFT headers, eth_getProof storage proofs,
 * accumulator range proofs): A = source (CNY and HKD deposit tokens, SettlementGateway), B = destination (HKD
 * and CNY deposit tokens, SettlementGateway). Payments A → B escrow on A, pay on B, and are released (ack
 * SUCCESS) or refunded (APP_ERROR, arrived expired, proven timeout) on A; one B → A payment exercises the
 * HKD → CNY (divide) path and shows that a gateway's escrow is never spent on payouts. FX quotes are signed with
 * proofs/settlement/fx.ts and every payout is compared with fx.ts `convert`.
 */
import { randomUUID } from 'node:crypto';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import {
  AbiCoder,
  type Contract,
  ContractFactory,
  type InterfaceAbi,
  NonceManager,
  recoverAddress,
  type Signer,
  SigningKey,
  type TransactionReceipt,
  TypedDataEncoder,
  Wallet,
  ZeroAddress,
} from 'ethers';
import solc from 'solc';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadArtifact } from '../../adapters/evm/contracts/artifacts.js';
import { bytesToHex, type Hex, hexToBytes } from '../../proofs/bytes.js';
import { addressOfPublicKey, SECP256K1_ORDER, signDigest } from '../../proofs/eip712.js';
import { AckStatus } from '../../proofs/packet.js';
import {
  convert,
  type FxQuote,
  fxQuoteDigest,
  pairHash,
  parseRate,
  signQuote,
} from '../../proofs/settlement/fx.js';
import { type Currency, money } from '../../proofs/settlement/money.js';
import {
  advanceTime,
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
  type Bound,
  deployRelayContracts,
  type Endpoint,
  type LightClientContract,
  openChannel,
} from '../helpers/deploy.js';
import { sealAnvilBlock, testValidators } from '../helpers/qbft-seal.js';
import { rng } from '../helpers/random.js';
import { ANVIL_KEYS, id32, relayPending } from '../helpers/records.js';
import { buildAckArgs, buildNextRecvProof, receivedPackets, sentPackets } from '../helpers/relay.js';

const A_ID = 73101n;
const B_ID = 73102n;
const valsA = testValidators('medrelay-settlement-a');
const valsB = testValidators('medrelay-settlement-b');

const CNY = 156;
const HKD = 344;
const MOP = 446;
const ALPHA: Record<number, Currency> = { [CNY]: 'CNY', [HKD]: 'HKD', [MOP]: 'MOP' };
const PAIR = bytesToHex(pairHash('CNY/HKD'));
const MDCS = '0x4d444353'; // ExternalPurpose1Code "MDCS" as bytes4
const ZERO32 = `0x${'00'.repeat(32)}`;
const UINT128_MAX = (1n << 128n) - 1n;
const HALF_N = SECP256K1_ORDER / 2n;

const PROVIDER_KEY = `0x${'51'.repeat(32)}` as Hex;
const STRANGER_KEY = `0x${'52'.repeat(32)}` as Hex;
const PROVIDER = new Wallet(PROVIDER_KEY).address as Hex;
const STRANGER = new Wallet(STRANGER_KEY).address as Hex;
const NOSTRO_A = new Wallet(`0x${'61'.repeat(32)}`).address;
const NOSTRO_B = new Wallet(`0x${'62'.repeat(32)}`).address;

/** Payout liquidity minted to the destination gateways (minor units). */
const FUND_B_HKD = 10_000_000n; // HKD 100 000.00 on B
const FUND_A_CNY = 10_000_000n; // CNY 100 000.00 on A (payouts of the B → A payment)
const DEBTOR_FUNDS = 1_000_000_000n;

const SETTLEMENT_TYPE =
  'tuple(bytes16 uetr, bytes32 ref, address debtor, address creditor, uint16 sourceCurrency, uint128 sourceAmount, ' +
  'uint16 targetCurrency, uint8 chargeBearer, bytes4 purpose, uint64 createdAt, ' +
  'tuple(bytes32 quoteId, bytes32 pair, string rate, uint64 validUntil, address provider) quote, bytes quoteSignature)';
const abi = AbiCoder.defaultAbiCoder();

type Gw = Bound<
  | 'send'
  | 'payment'
  | 'receipt'
  | 'ledger'
  | 'destLedger'
  | 'escrowed'
  | 'liquidity'
  | 'route'
  | 'tokenOf'
  | 'isFxProvider'
  | 'quoteUsed'
  | 'quotePayout'
  | 'fxQuoteDigest'
  | 'setRoute'
  | 'setTrustedSender'
  | 'setToken'
  | 'setFxProvider'
  | 'trustedSender'
  | 'onRecvPacket'
  | 'onAcknowledgement'
  | 'onTimeout'
  | 'withdrawLiquidity'
  | 'KIND'
  | 'DEFAULT_TIMEOUT'
>;
type Tok = Bound<
  | 'name'
  | 'symbol'
  | 'decimals'
  | 'currencyCode'
  | 'totalSupply'
  | 'balanceOf'
  | 'allowance'
  | 'transfer'
  | 'transferFrom'
  | 'approve'
  | 'mint'
  | 'burn'
  | 'setMinter'
  | 'isMinter'
>;
type Payer = Bound<'exec' | 'setMode' | 'calls' | 'lastUetr' | 'lastReleased' | 'lastResult'>;

interface SolQuote {
  quoteId: string;
  pair: string;
  rate: string;
  validUntil: bigint;
  provider: string;
}

interface Req {
  destChain: bigint;
  uetr: string;
  ref: string;
  creditor: string;
  sourceCurrency: number;
  sourceAmount: bigint;
  targetCurrency: number;
  chargeBearer: number;
  purpose: string;
  timeoutTimestamp: bigint;
  quote: SolQuote;
  quoteSignature: string;
}

const EMPTY_QUOTE: SolQuote = {
  quoteId: ZERO32,
  pair: ZERO32,
  rate: '',
  validUntil: 0n,
  provider: ZeroAddress,
};

let A: TestChain;
let B: TestChain;
let a: Endpoint;
let b: Endpoint;
let chAB: string; // A → B settlement channel
let chBA: string; // B → A settlement channel
let gwA: Gw; // owner view
let gwB: Gw;
let gwAddrA: string;
let gwAddrB: string;
let cnyA: Tok;
let hkdA: Tok;
let hkdB: Tok;
let cnyB: Tok;
let debtorA: NonceManager; // EOA payer on A (approved gwA for CNY and HKD)
let debtorB: NonceManager; // EOA payer on B (approved gwB for HKD)
let gwDebtorA: Gw;
let gwDebtorB: Gw;
let debtorAddrA: string;
/** The quote of the first CNY → HKD payment (used: replaying it must fail). */
let usedQuote: { sol: SolQuote; sig: Hex };

// ------------------------------------------------------------------ helpers

async function deploy<T extends Contract>(name: string, signer: Signer, ...args: unknown[]): Promise<T> {
  const { abi: iface, bytecode } = loadArtifact(name);
  const c = await new ContractFactory(iface, bytecode, signer).deploy(...args);
  await c.waitForDeployment();
  return c as unknown as T;
}

const newUetr = (): string => `0x${randomUUID().replaceAll('-', '')}`;
const fresh = (): string => Wallet.createRandom().address;
const sol = (q: FxQuote): SolQuote => ({
  quoteId: q.quoteId,
  pair: PAIR,
  rate: q.rate,
  validUntil: BigInt(q.validUntil),
  provider: q.provider,
});

function quote(over: Partial<FxQuote> = {}): FxQuote {
  return {
    quoteId: id32(`quote:${randomUUID()}`),
    base: 'CNY',
    quote: 'HKD',
    rate: '1.0873',
    validUntil: 0n,
    provider: PROVIDER,
    ...over,
  };
}

/** A quote signed by the provider for `chainId`, valid for a day of `chain`'s clock. */
async function signedQuote(
  chain: TestChain,
  chainId: bigint,
  over: Partial<FxQuote> = {},
): Promise<{ q: FxQuote; sol: SolQuote; sig: Hex }> {
  const q = quote({ validUntil: (await latestTimestamp(chain)) + 86_400n, ...over });
  const sig = signQuote(q, chainId, PROVIDER_KEY);
  return { q, sol: sol(q), sig };
}

function request(over: Partial<Req> = {}): Req {
  return {
    destChain: B_ID,
    uetr: newUetr(),
    ref: id32(`claim:${randomUUID()}`),
    creditor: fresh(),
    sourceCurrency: HKD,
    sourceAmount: 10_000n,
    targetCurrency: HKD,
    chargeBearer: 3,
    purpose: MDCS,
    timeoutTimestamp: 0n,
    quote: EMPTY_QUOTE,
    quoteSignature: '0x',
    ...over,
  };
}

function fxRequest(amount: bigint, q: { sol: SolQuote; sig: Hex }, over: Partial<Req> = {}): Req {
  return request({
    sourceCurrency: CNY,
    targetCurrency: HKD,
    sourceAmount: amount,
    quote: q.sol,
    quoteSignature: q.sig,
    ...over,
  });
}

/** fx.ts convert of `amount` minor units of `from` into `to` at `rate` (CNY/HKD quote). */
function tsPayout(from: number, amount: bigint, rate: string): bigint {
  return convert(money(ALPHA[from]!, amount), quote({ rate })).minor;
}

/** Decoded events of `c` (at `address`) in a receipt. */
function eventsOf(rc: TransactionReceipt, c: Contract, address: string, name?: string) {
  return rc.logs
    .filter((l) => l.address.toLowerCase() === address.toLowerCase())
    .map((l) => c.interface.parseLog(l))
    .filter((e) => e !== null && (name === undefined || e.name === name))
    .map((e) => e!);
}

async function sendPayment(gw: Gw, gwAddr: string, req: Req) {
  const rc = (await (await gw.send(req)).wait()) as TransactionReceipt;
  const [locked] = eventsOf(rc, gw, gwAddr, 'SettlementLocked');
  return { rc, packetId: locked!.args.packetId as string };
}

/** Seals `chain`'s head with 3 of 4 validators and stores it in `lc` (mines first if the head is known). */
async function relayHeader(chain: TestChain, lc: LightClientContract, vals: typeof valsA): Promise<number> {
  if (BigInt(await blockNumber(chain)) <= ((await lc.latestNumber()) as bigint)) await mine(chain);
  const height = await blockNumber(chain);
  const sealed = await sealAnvilBlock(chain.provider, height, {
    listed: vals.addresses,
    signers: vals.keys.slice(1),
  });
  await (await lc.updateHeader(sealed.rlp)).wait();
  return height;
}

/** Acknowledges on `src` every packet of `channel` that `dst` received and `src` has not settled yet. */
async function ackPending(
  dstChain: TestChain,
  src: Endpoint,
  dst: Endpoint,
  channel: string,
  vals: typeof valsA,
): Promise<TransactionReceipt | null> {
  const acked = (await src.outbox.ackedUpTo(channel)) as bigint;
  const received = ((await dst.inbox.nextRecv(channel)) as bigint) - 1n;
  const count = Number(received - acked);
  if (count <= 0) return null;
  const h = await relayHeader(dstChain, src.lightClient, vals);
  const x = await buildAckArgs(dstChain.provider, dst.inbox, src.outbox, channel, h, acked + 1n, count);
  const rc = (await (
    await src.outbox.acknowledgePackets(
      x.height,
      x.accountProof,
      x.storageProof,
      x.packets,
      x.statuses,
      x.results,
      x.rangeProof,
    )
  ).wait()) as TransactionReceipt;
  // The gateway never reverts an acknowledgement (the Outbox would report CallbackFailed).
  expect(eventsOf(rc, src.outbox, await src.outbox.getAddress(), 'CallbackFailed')).toEqual([]);
  return rc;
}

const deliverAB = () => relayPending(A, a, b, chAB, valsA);
const ackAB = () => ackPending(B, a, b, chAB, valsB);

interface Side {
  name: string;
  gw: Gw;
  addr: () => string;
  tokens: Record<number, Tok>;
  out: () => string; // channel on which the gateway is the source
  inn: () => string; // channel on which it is the destination
  funded: Record<number, bigint>;
}

let sideA: Side;
let sideB: Side;

/**
 * Reconciliation of one gateway (DESIGN §6), per currency: locked == released + refunded + inFlight; the escrow
 * is exactly what is in flight; the token balance is escrow + funded liquidity − payouts; liquidity excludes the
 * escrow.
 */
async function checkBooks(s: Side, step: string): Promise<void> {
  for (const c of [CNY, HKD]) {
    const l = await s.gw.ledger(s.out(), c);
    const tag = `${step}: ${s.name} ${ALPHA[c]}`;
    expect(l.locked, `${tag} locked = released + refunded + inFlight`).toBe(
      l.released + l.refunded + l.inFlight,
    );
    const escrow = (await s.gw.escrowed(c)) as bigint;
    expect(escrow, `${tag} escrow = in flight`).toBe(l.inFlight);
    const [, paidOut] = (await s.gw.destLedger(s.inn(), c)) as [bigint, bigint];
    const balance = (await s.tokens[c]!.balanceOf(s.addr())) as bigint;
    expect(balance, `${tag} balance = escrow + funded − paid out`).toBe(escrow + s.funded[c]! - paidOut);
    expect(await s.gw.liquidity(c), `${tag} liquidity`).toBe(s.funded[c]! - paidOut);
  }
}

const books = async (step: string) => {
  await checkBooks(sideA, step);
  await checkBooks(sideB, step);
};

function decodeSettlement(payload: string) {
  return abi.decode([SETTLEMENT_TYPE], payload)[0];
}

/** The refusal carried by an APP_ERROR ack result. */
function refusal(result: string): { name: string; args: unknown[] } {
  const e = errorInterface().parseError(result);
  if (!e) throw new Error(`not a known custom error: ${result}`);
  return { name: e.name, args: [...e.args] };
}

/** The high-s twin of a low-s signature: (r, n − s, v ^ 1) recovers the same key. */
function highS(sig: Hex): Hex {
  const bytes = hexToBytes(sig);
  const s = BigInt(`0x${sig.slice(66, 130)}`);
  const twin = (SECP256K1_ORDER - s).toString(16).padStart(64, '0');
  const v = bytes[64] === 27 ? '1c' : '1b';
  return `${sig.slice(0, 66)}${twin}${v}` as Hex;
}

/** Signer of r‖s‖v without the low-s rule (ethers and proofs/eip712 refuse high s, as the gateway does). */
function recoverHighS(digest: Uint8Array, sig: Hex): string {
  const bytes = hexToBytes(sig);
  const r = BigInt(`0x${sig.slice(2, 66)}`);
  const s = BigInt(`0x${sig.slice(66, 130)}`);
  const pub = new secp256k1.Signature(r, s, bytes[64]! - 27).recoverPublicKey(digest).toBytes(false);
  return addressOfPublicKey(pub);
}

// ------------------------------------------------------------------ setup

beforeAll(async () => {
  [A, B] = await Promise.all([startChain(Number(A_ID)), startChain(Number(B_ID))]);
  ({ a, b } = await deployRelayContracts(
    { signer: A.signer, chainId: A.chainId, validators: valsA.addresses },
    { signer: B.signer, chainId: B.chainId, validators: valsB.addresses },
  ));
  chAB = await openChannel(a, 'settlement', B_ID);
  chBA = await openChannel(b, 'settlement', A_ID);

  // One signer per chain: deploy in sequence (parallel sends would race for nonces).
  gwA = await deploy<Gw>(
    'SettlementGateway',
    A.signer,
    await a.outbox.getAddress(),
    await a.inbox.getAddress(),
  );
  cnyA = await deploy<Tok>('DepositToken', A.signer, 'Bank A CNY deposit', 'aCNY', CNY);
  hkdA = await deploy<Tok>('DepositToken', A.signer, 'Bank A HKD deposit', 'aHKD', HKD);
  gwB = await deploy<Gw>(
    'SettlementGateway',
    B.signer,
    await b.outbox.getAddress(),
    await b.inbox.getAddress(),
  );
  hkdB = await deploy<Tok>('DepositToken', B.signer, 'Bank B HKD deposit', 'bHKD', HKD);
  cnyB = await deploy<Tok>('DepositToken', B.signer, 'Bank B CNY deposit', 'bCNY', CNY);
  gwAddrA = await gwA.getAddress();
  gwAddrB = await gwB.getAddress();
  const wait = async (p: Promise<{ wait(): Promise<unknown> }>) => (await p).wait();
  await wait(gwA.setToken(CNY, await cnyA.getAddress()));
  await wait(gwA.setToken(HKD, await hkdA.getAddress()));
  await wait(gwB.setToken(HKD, await hkdB.getAddress()));
  await wait(gwB.setToken(CNY, await cnyB.getAddress()));
  await wait(gwA.setRoute(B_ID, chAB, gwAddrB, NOSTRO_A));
  await wait(gwB.setRoute(A_ID, chBA, gwAddrA, NOSTRO_B));
  await wait(gwA.setTrustedSender(B_ID, gwAddrB));
  await wait(gwB.setTrustedSender(A_ID, gwAddrA));
  await wait(gwA.setFxProvider(PROVIDER, true));
  await wait(gwB.setFxProvider(PROVIDER, true));
  await wait(hkdB.mint(gwAddrB, FUND_B_HKD));
  await wait(cnyA.mint(gwAddrA, FUND_A_CNY));

  debtorA = new NonceManager(new Wallet(ANVIL_KEYS[1], A.provider));
  debtorB = new NonceManager(new Wallet(ANVIL_KEYS[1], B.provider));
  debtorAddrA = await debtorA.getAddress();
  await wait(cnyA.mint(debtorAddrA, DEBTOR_FUNDS));
  await wait(hkdA.mint(debtorAddrA, DEBTOR_FUNDS));
  await wait(hkdB.mint(await debtorB.getAddress(), DEBTOR_FUNDS));
  await wait((cnyA.connect(debtorA) as Tok).approve(gwAddrA, 2n ** 256n - 1n));
  await wait((hkdA.connect(debtorA) as Tok).approve(gwAddrA, 2n ** 256n - 1n));
  await wait((hkdB.connect(debtorB) as Tok).approve(gwAddrB, 2n ** 256n - 1n));
  gwDebtorA = gwA.connect(debtorA) as Gw;
  gwDebtorB = gwB.connect(debtorB) as Gw;

  sideA = {
    name: 'A',
    gw: gwA,
    addr: () => gwAddrA,
    tokens: { [CNY]: cnyA, [HKD]: hkdA },
    out: () => chAB,
    inn: () => chBA,
    funded: { [CNY]: FUND_A_CNY, [HKD]: 0n },
  };
  sideB = {
    name: 'B',
    gw: gwB,
    addr: () => gwAddrB,
    tokens: { [CNY]: cnyB, [HKD]: hkdB },
    out: () => chBA,
    inn: () => chAB,
    funded: { [CNY]: 0n, [HKD]: FUND_B_HKD },
  };
}, 120_000);

afterAll(async () => {
  await Promise.all([stopChain(A), stopChain(B)]);
});

// ------------------------------------------------------------------ DepositToken

describe('DepositToken', () => {
  it('is a 2-decimal ERC-20 of one ISO 4217 currency, minted and burnt by minters only', async () => {
    expect(await cnyA.decimals()).toBe(2n);
    expect(await cnyA.currencyCode()).toBe(BigInt(CNY));
    expect(await hkdB.currencyCode()).toBe(BigInt(HKD));
    expect([await cnyA.name(), await cnyA.symbol()]).toEqual(['Bank A CNY deposit', 'aCNY']);
    const mop = await deploy<Tok>('DepositToken', A.signer, 'MOP', 'MOP', MOP);
    expect(await mop.currencyCode()).toBe(BigInt(MOP));
    const factory = new ContractFactory(
      loadArtifact('DepositToken').abi,
      loadArtifact('DepositToken').bytecode,
      A.signer,
    );
    for (const bad of [840, 0, 157])
      expect(await revertOf(() => factory.deploy('USD', 'USD', bad))).toEqual({
        name: 'UnsupportedCurrency',
        args: [BigInt(bad)],
      });

    const holder = new NonceManager(new Wallet(ANVIL_KEYS[2], A.provider));
    const holderAddr = await holder.getAddress();
    const asHolder = mop.connect(holder) as Tok;
    const other = fresh();
    expect(await revertOf(() => asHolder.mint.staticCall(holderAddr, 1n))).toEqual({
      name: 'NotMinter',
      args: [holderAddr],
    });
    expect(await mop.isMinter(await A.signer.getAddress())).toBe(true); // the owner
    const rcMint = (await (await mop.mint(holderAddr, 500n)).wait()) as TransactionReceipt;
    const [mintEv] = eventsOf(rcMint, mop, await mop.getAddress(), 'Transfer');
    expect([mintEv!.args.from, mintEv!.args.to, mintEv!.args.value]).toEqual([ZeroAddress, holderAddr, 500n]);
    expect(await mop.totalSupply()).toBe(500n);

    expect(await revertOf(() => asHolder.transfer.staticCall(other, 501n))).toEqual({
      name: 'InsufficientBalance',
      args: [holderAddr, 500n, 501n],
    });
    expect((await revertOf(() => asHolder.transfer.staticCall(ZeroAddress, 1n))).name).toBe('ZeroAddress');
    await (await asHolder.transfer(other, 200n)).wait();
    expect([await mop.balanceOf(holderAddr), await mop.balanceOf(other)]).toEqual([300n, 200n]);

    // transferFrom needs an allowance, which it spends (an infinite one is kept).
    const spender = debtorA;
    const spenderAddr = await spender.getAddress();
    const asSpender = mop.connect(spender) as Tok;
    expect(await revertOf(() => asSpender.transferFrom.staticCall(holderAddr, other, 1n))).toEqual({
      name: 'InsufficientAllowance',
      args: [holderAddr, spenderAddr, 0n, 1n],
    });
    const rcApprove = (await (await asHolder.approve(spenderAddr, 100n)).wait()) as TransactionReceipt;
    expect(eventsOf(rcApprove, mop, await mop.getAddress(), 'Approval')[0]!.args.value).toBe(100n);
    await (await asSpender.transferFrom(holderAddr, other, 60n)).wait();
    expect(await mop.allowance(holderAddr, spenderAddr)).toBe(40n);
    expect(await revertOf(() => asSpender.transferFrom.staticCall(holderAddr, other, 41n))).toEqual({
      name: 'InsufficientAllowance',
      args: [holderAddr, spenderAddr, 40n, 41n],
    });
    await (await asHolder.approve(spenderAddr, 2n ** 256n - 1n)).wait();
    await (await asSpender.transferFrom(holderAddr, other, 10n)).wait();
    expect(await mop.allowance(holderAddr, spenderAddr)).toBe(2n ** 256n - 1n);
    expect([await mop.balanceOf(holderAddr), await mop.balanceOf(other)]).toEqual([230n, 270n]);

    // Appointed minters mint and burn their own units; removal takes the right away.
    await (await mop.setMinter(holderAddr, true)).wait();
    await (await asHolder.burn(30n)).wait();
    expect([await mop.balanceOf(holderAddr), await mop.totalSupply()]).toEqual([200n, 470n]);
    expect(await revertOf(() => asHolder.burn.staticCall(201n))).toEqual({
      name: 'InsufficientBalance',
      args: [holderAddr, 200n, 201n],
    });
    await (await mop.setMinter(holderAddr, false)).wait();
    expect((await revertOf(() => asHolder.burn.staticCall(1n))).name).toBe('NotMinter');
    expect((await revertOf(() => asHolder.setMinter.staticCall(holderAddr, true))).name).toBe('NotOwner');
  });
});

// ------------------------------------------------------------------ FX parity

describe('FX on chain = proofs/settlement/fx.ts', () => {
  /** Random rate text of the grammar: 0 or 1..12 integer digits, 0..8 decimals, > 0. */
  function randomRate(r: ReturnType<typeof rng>): string {
    for (;;) {
      const intDigits = r.int(4) === 0 ? 0 : 1 + r.int(r.int(3) === 0 ? 12 : 2);
      let int = intDigits === 0 ? '0' : String(1 + r.int(9));
      for (let i = 1; i < intDigits; i++) int += String(r.int(10));
      const decimals = r.int(9);
      let frac = '';
      for (let i = 0; i < decimals; i++) frac += String(r.int(10));
      const rate = decimals === 0 ? int : `${int}.${frac}`;
      if (/[1-9]/.test(rate)) return rate;
    }
  }

  function randomAmount(r: ReturnType<typeof rng>): bigint {
    const digits = 1 + r.int(r.int(4) === 0 ? 39 : 12);
    let s = String(1 + r.int(9));
    for (let i = 1; i < digits; i++) s += String(r.int(10));
    const n = BigInt(s);
    return n > UINT128_MAX ? UINT128_MAX - BigInt(r.int(1000)) : n;
  }

  type Outcome = bigint | 'too-large';
  function tsOutcome(from: number, amount: bigint, rate: string): Outcome {
    try {
      return tsPayout(from, amount, rate);
    } catch (err) {
      if ((err as { code?: string }).code === 'MR_ERR_MONEY_AMOUNT') return 'too-large';
      throw err;
    }
  }
  async function chainOutcome(from: number, to: number, amount: bigint, rate: string): Promise<Outcome> {
    try {
      return (await gwA.quotePayout(from, amount, to, rate)) as bigint;
    } catch (err) {
      const e = await revertOf(() => Promise.reject(err));
      if (e.name === 'PayoutTooLarge') return 'too-large';
      throw err;
    }
  }

  /** Whether amount → target at `rate` is an exact tie (…​.5 minor units), and the floor's parity. */
  function tie(from: number, amount: bigint, rate: string): 'even' | 'odd' | null {
    const { numerator, denominator } = parseRate(rate);
    const [n, d] = from === CNY ? [amount * numerator, denominator] : [amount * denominator, numerator];
    if ((n % d) * 2n !== d) return null;
    return (n / d) % 2n === 0n ? 'even' : 'odd';
  }

  it('quotePayout equals fx.ts convert for 400 random (amount, rate) pairs and 160 exact ties, both ways', async () => {
    const r = rng(0x5e771e);
    const cases: { from: number; to: number; amount: bigint; rate: string }[] = [];
    for (let i = 0; i < 400; i++) {
      const from = i % 2 === 0 ? CNY : HKD;
      cases.push({ from, to: from === CNY ? HKD : CNY, amount: randomAmount(r), rate: randomRate(r) });
    }
    // Ties, CNY → HKD (multiply): rate k.5 and an odd amount gives …​.5 minor units, either parity of k·amount.
    for (let i = 0; i < 80; i++) {
      const rate = `${r.int(50)}.5`;
      cases.push({ from: CNY, to: HKD, amount: 2n * BigInt(r.int(1_000_000)) + 1n, rate });
    }
    // Ties, HKD → CNY (divide): rate 2m, amount m·(2j + 1) gives j + 0.5.
    for (let i = 0; i < 80; i++) {
      const m = BigInt(1 + r.int(500));
      cases.push({
        from: HKD,
        to: CNY,
        amount: m * (2n * BigInt(r.int(1_000_000)) + 1n),
        rate: String(2n * m),
      });
    }
    // Fixed ties with known answers (0.5 → 0, 1.5 → 2, 2.5 → 2, 3.5 → 4; 7.5 → 8).
    const fixed: [number, bigint, string, bigint][] = [
      [CNY, 1n, '0.5', 0n],
      [CNY, 3n, '0.5', 2n],
      [CNY, 1n, '2.5', 2n],
      [CNY, 1n, '3.5', 4n],
      [HKD, 1n, '2', 0n],
      [HKD, 3n, '2', 2n],
      [HKD, 5n, '2', 2n],
      [HKD, 3n, '0.4', 8n],
      [CNY, 10_000n, '1.0873', 10_873n],
    ];
    for (const [from, amount, rate, want] of fixed) {
      expect(tsPayout(from, amount, rate), `fx.ts ${amount} @ ${rate}`).toBe(want);
      cases.push({ from, to: from === CNY ? HKD : CNY, amount, rate });
    }

    const ties = { CNY: { even: 0, odd: 0 }, HKD: { even: 0, odd: 0 } };
    let tooLarge = 0;
    for (let i = 0; i < cases.length; i += 60) {
      const chunk = cases.slice(i, i + 60);
      const got = await Promise.all(chunk.map((c) => chainOutcome(c.from, c.to, c.amount, c.rate)));
      chunk.forEach((c, j) => {
        const want = tsOutcome(c.from, c.amount, c.rate);
        expect(got[j], `${ALPHA[c.from]} ${c.amount} @ ${c.rate}`).toBe(want);
        if (want === 'too-large') tooLarge++;
        const t = tie(c.from, c.amount, c.rate);
        if (t) ties[ALPHA[c.from] as 'CNY' | 'HKD'][t]++;
      });
    }
    // The ties really are ties of both parities in both directions, and overflow is covered too.
    for (const dir of [ties.CNY, ties.HKD]) {
      expect(dir.even).toBeGreaterThan(20);
      expect(dir.odd).toBeGreaterThan(20);
    }
    expect(tooLarge).toBeGreaterThan(0);
    expect(cases.length - tooLarge).toBeGreaterThan(300);
  });

  it('quotePayout: one currency passes the amount through; other pairs and malformed rates are refused', async () => {
    expect(await gwA.quotePayout(HKD, 12_345n, HKD, '')).toBe(12_345n);
    expect((await revertOf(() => gwA.quotePayout(HKD, 1n, HKD, '1.0'))).name).toBe('UnexpectedQuote');
    expect(await revertOf(() => gwA.quotePayout(CNY, 1n, MOP, '1.0'))).toEqual({
      name: 'UnsupportedPair',
      args: [PAIR, BigInt(CNY), BigInt(MOP)],
    });
    expect(await revertOf(() => gwA.quotePayout(840, 1n, HKD, '1.0'))).toEqual({
      name: 'UnsupportedCurrency',
      args: [840n],
    });
    const bad = ['1.', '.5', '01.2', '1e3', '-1', '0', '0.00000000', '1.123456789', '1234567890123.1'];
    for (const rate of [...bad, '', ' 1', '1.5 ', '+1', '1,5', '00', '1..2', 'Ⅰ', '1.0\u0000']) {
      expect(() => parseRate(rate), `fx.ts refuses ${JSON.stringify(rate)}`).toThrow();
      expect((await revertOf(() => gwA.quotePayout(CNY, 100n, HKD, rate))).name, rate).toBe('InvalidRate');
    }
    // The longest accepted rate, both ways.
    const longest = '999999999999.99999999';
    for (const from of [CNY, HKD])
      expect(await gwA.quotePayout(from, 123_456n, from === CNY ? HKD : CNY, longest)).toBe(
        tsPayout(from, 123_456n, longest),
      );
  });

  it('the EIP-712 quote digest equals fx.ts fxQuoteDigest (and ethers); a signature recovers only under its chain id', async () => {
    const r = rng(0xd16e57);
    const chainIds = [1n, A_ID, B_ID, 2n ** 64n - 1n, 2n ** 200n];
    for (let i = 0; i < 25; i++) {
      const q = quote({
        quoteId: bytesToHex(r.bytes(32)),
        rate: `${1 + r.int(20)}.${String(r.int(100_000_000)).padStart(8, '0')}`,
        validUntil: BigInt(r.int(2 ** 31)) * BigInt(1 + r.int(1000)),
        provider: new Wallet(bytesToHex(r.bytes(32))).address as Hex,
      });
      const chainId = chainIds[i % chainIds.length]!;
      const onChain = (await gwA.fxQuoteDigest(sol(q), chainId)) as string;
      expect(onChain).toBe(bytesToHex(fxQuoteDigest(q, chainId)));
      expect(onChain).toBe(
        TypedDataEncoder.hash(
          { name: 'medrelay-fx', version: '1', chainId },
          {
            FxQuote: [
              { name: 'quoteId', type: 'bytes32' },
              { name: 'pair', type: 'bytes32' },
              { name: 'rate', type: 'string' },
              { name: 'validUntil', type: 'uint64' },
              { name: 'provider', type: 'address' },
            ],
          },
          sol(q),
        ),
      );
    }
    const q = quote({ validUntil: 1_900_000_000n });
    const sig = signQuote(q, B_ID, PROVIDER_KEY);
    expect(recoverAddress((await gwA.fxQuoteDigest(sol(q), B_ID)) as string, sig)).toBe(PROVIDER);
    expect(recoverAddress((await gwA.fxQuoteDigest(sol(q), A_ID)) as string, sig)).not.toBe(PROVIDER);
  });
});

// ------------------------------------------------------------------ admin

describe('SettlementGateway: admin and callers', () => {
  it('checks routes, tokens, owners and who may call the packet callbacks', async () => {
    // A channel leading elsewhere, or zero receiver / nostro.
    const chElsewhere = await openChannel(a, 'settlement-elsewhere', 999n);
    expect(await revertOf(() => gwA.setRoute.staticCall(B_ID, chElsewhere, gwAddrB, NOSTRO_A))).toEqual({
      name: 'RouteMismatch',
      args: [chElsewhere, 999n, B_ID],
    });
    expect((await revertOf(() => gwA.setRoute.staticCall(B_ID, id32('nope'), gwAddrB, NOSTRO_A))).name).toBe(
      'RouteMismatch',
    );
    expect((await revertOf(() => gwA.setRoute.staticCall(B_ID, chAB, ZeroAddress, NOSTRO_A))).name).toBe(
      'ZeroAddress',
    );
    expect((await revertOf(() => gwA.setRoute.staticCall(B_ID, chAB, gwAddrB, ZeroAddress))).name).toBe(
      'ZeroAddress',
    );
    const route = await gwA.route(B_ID);
    expect([route.channel, route.receiver, route.nostro]).toEqual([chAB, gwAddrB, NOSTRO_A]);
    // Token of another currency, unsupported currency.
    expect(await revertOf(() => gwA.setToken.staticCall(CNY, hkdA.target))).toEqual({
      name: 'TokenCurrencyMismatch',
      args: [BigInt(CNY), hkdA.target, BigInt(HKD)],
    });
    expect(await revertOf(() => gwA.setToken.staticCall(840, hkdA.target))).toEqual({
      name: 'UnsupportedCurrency',
      args: [840n],
    });
    expect(await gwA.tokenOf(CNY)).toBe(cnyA.target);
    expect(await gwA.tokenOf(MOP)).toBe(ZeroAddress);
    expect(await gwB.isFxProvider(PROVIDER)).toBe(true);
    expect(await gwB.isFxProvider(STRANGER)).toBe(false);
    expect(await gwB.trustedSender(A_ID)).toBe(gwAddrA);
    expect(await gwA.KIND()).toBe(5n);
    expect(await gwA.DEFAULT_TIMEOUT()).toBe(3600n);
    // Only the owner administers; only the Outbox / Inbox call the packet callbacks.
    const debtorAddr = await debtorA.getAddress();
    for (const call of [
      () => gwDebtorA.setRoute.staticCall(B_ID, chAB, gwAddrB, debtorAddr),
      () => gwDebtorA.setTrustedSender.staticCall(B_ID, debtorAddr),
      () => gwDebtorA.setToken.staticCall(CNY, cnyA.target),
      () => gwDebtorA.setFxProvider.staticCall(debtorAddr, true),
      () => gwDebtorA.withdrawLiquidity.staticCall(CNY, debtorAddr, 1n),
    ])
      expect(await revertOf(call)).toEqual({ name: 'NotOwner', args: [debtorAddr] });
    const pkt = {
      version: 1,
      sourceChain: A_ID,
      destChain: B_ID,
      channel: chAB,
      sequence: 1n,
      sender: gwAddrA,
      receiver: gwAddrB,
      timeoutHeight: 0n,
      timeoutTimestamp: 0n,
      kind: 5,
      payload: '0x',
    };
    expect(await revertOf(() => gwDebtorA.onAcknowledgement.staticCall(pkt, 1, '0x'))).toEqual({
      name: 'NotOutbox',
      args: [debtorAddr],
    });
    expect(await revertOf(() => gwDebtorA.onTimeout.staticCall(pkt))).toEqual({
      name: 'NotOutbox',
      args: [debtorAddr],
    });
    expect(await revertOf(() => gwDebtorA.onRecvPacket.staticCall(pkt))).toEqual({
      name: 'NotInbox',
      args: [debtorAddr],
    });
  });
});

// ------------------------------------------------------------------ flows A → B

describe('payments A → B with real relaying', () => {
  it('CNY → HKD with a signed quote: pays fx.ts convert, releases the escrow to the nostro; books balance at every step', async () => {
    await books('start');
    const q = await signedQuote(B, B_ID, { rate: '1.0873' });
    usedQuote = { sol: q.sol, sig: q.sig };
    const amount = 123_457n; // CNY 1234.57 → HKD 1342.348… → 134235 (one rounding)
    const expected = tsPayout(CNY, amount, '1.0873');
    expect(expected).toBe(134_235n);
    const req = fxRequest(amount, q);
    const before = {
      debtor: (await cnyA.balanceOf(debtorAddrA)) as bigint,
      gw: (await cnyA.balanceOf(gwAddrA)) as bigint,
      nostro: (await cnyA.balanceOf(NOSTRO_A)) as bigint,
      gwB: (await hkdB.balanceOf(gwAddrB)) as bigint,
      ledger: await gwA.ledger(chAB, CNY),
    };

    // 1. send: escrow on A.
    const { rc, packetId } = await sendPayment(gwDebtorA, gwAddrA, req);
    const [locked] = eventsOf(rc, gwA, gwAddrA, 'SettlementLocked');
    expect(locked!.args.uetr).toBe(req.uetr);
    expect(locked!.args.channel).toBe(chAB);
    expect([locked!.args.debtor, locked!.args.currency, locked!.args.amount, locked!.args.destChain]).toEqual(
      [debtorAddrA, BigInt(CNY), amount, B_ID],
    );
    const seq = ((await a.outbox.nextSequence(chAB)) as bigint) - 1n;
    expect(await a.outbox.sentId(chAB, seq)).toBe(packetId);
    const sent = (await sentPackets(a.outbox, chAB)).at(-1)!;
    expect(sent.id).toBe(packetId);
    expect(sent.packet.kind).toBe(5);
    expect(sent.packet.receiver.toLowerCase()).toBe(gwAddrB.toLowerCase());
    const s = decodeSettlement(sent.packet.payload);
    const sendBlock = await A.provider.getBlock(rc.blockNumber);
    expect([s.uetr, s.ref, s.debtor, s.creditor]).toEqual([req.uetr, req.ref, debtorAddrA, req.creditor]);
    expect([s.sourceCurrency, s.sourceAmount, s.targetCurrency, s.chargeBearer, s.purpose]).toEqual([
      BigInt(CNY),
      amount,
      BigInt(HKD),
      3n,
      MDCS,
    ]);
    expect(s.createdAt).toBe(BigInt(sendBlock!.timestamp));
    expect(sent.packet.timeoutTimestamp).toBe(BigInt(sendBlock!.timestamp) + 3600n);
    expect([s.quote.quoteId, s.quote.rate, s.quoteSignature]).toEqual([q.sol.quoteId, '1.0873', q.sig]);
    const p = await gwA.payment(req.uetr);
    expect([p.status, p.refundReason, p.currency, p.destChain, p.debtor]).toEqual([
      1n,
      0n,
      BigInt(CNY),
      B_ID,
      debtorAddrA,
    ]);
    expect([p.amount, p.nostro, p.channel, p.packetId]).toEqual([amount, NOSTRO_A, chAB, packetId]);
    expect(await cnyA.balanceOf(debtorAddrA)).toBe(before.debtor - amount);
    expect(await cnyA.balanceOf(gwAddrA)).toBe(before.gw + amount);
    const l1 = await gwA.ledger(chAB, CNY);
    expect([l1.locked, l1.inFlight, l1.released, l1.refunded]).toEqual([
      before.ledger.locked + amount,
      before.ledger.inFlight + amount,
      before.ledger.released,
      before.ledger.refunded,
    ]);
    await books('after send');

    // 2. deliver on B: the creditor gets exactly fx.ts convert(...).
    await deliverAB();
    const recv = (await receivedPackets(b.inbox, chAB)).at(-1)!;
    expect(recv.id).toBe(packetId);
    expect(recv.status).toBe(AckStatus.SUCCESS);
    expect(abi.decode(['bytes16', 'uint16', 'uint128'], recv.result).toArray()).toEqual([
      req.uetr,
      BigInt(HKD),
      expected,
    ]);
    expect(await hkdB.balanceOf(req.creditor)).toBe(expected);
    expect(await hkdB.balanceOf(gwAddrB)).toBe(before.gwB - expected);
    const rcpt = await gwB.receipt(req.uetr);
    expect([rcpt.creditor, rcpt.sourceChain, rcpt.targetCurrency, rcpt.sourceCurrency]).toEqual([
      req.creditor,
      A_ID,
      BigInt(HKD),
      BigInt(CNY),
    ]);
    expect([rcpt.payout, rcpt.sourceAmount, rcpt.channel, rcpt.quoteId, rcpt.packetId]).toEqual([
      expected,
      amount,
      chAB,
      q.sol.quoteId,
      packetId,
    ]);
    expect(await gwB.destLedger(chAB, CNY)).toEqual([amount, 0n]);
    expect(await gwB.destLedger(chAB, HKD)).toEqual([0n, expected]);
    expect(await gwB.quoteUsed(q.sol.quoteId)).toBe(true);
    expect((await gwA.payment(req.uetr)).status).toBe(1n); // still in flight on A
    await books('after receive');

    // 3. ack on A: escrow to the nostro.
    const rcAck = (await ackAB())!;
    const [released] = eventsOf(rcAck, gwA, gwAddrA, 'SettlementReleased');
    expect([released!.args.uetr, released!.args.packetId, released!.args.result]).toEqual([
      req.uetr,
      packetId,
      recv.result,
    ]);
    expect(eventsOf(rcAck, gwA, gwAddrA, 'PayerCallbackFailed')).toEqual([]); // EOA debtor: no callback
    expect((await gwA.payment(req.uetr)).status).toBe(2n);
    expect(await cnyA.balanceOf(NOSTRO_A)).toBe(before.nostro + amount);
    expect(await cnyA.balanceOf(gwAddrA)).toBe(before.gw);
    expect(await cnyA.balanceOf(debtorAddrA)).toBe(before.debtor - amount);
    const l2 = await gwA.ledger(chAB, CNY);
    expect([l2.locked, l2.released, l2.inFlight]).toEqual([
      before.ledger.locked + amount,
      before.ledger.released + amount,
      before.ledger.inFlight,
    ]);
    await books('after ack');
  });

  it('HKD → HKD: pays the amount itself, no quote; default timeout is send + 1 h', async () => {
    const amount = 98_765n;
    const req = request({ sourceCurrency: HKD, targetCurrency: HKD, sourceAmount: amount, chargeBearer: 0 });
    const debtorBefore = (await hkdA.balanceOf(debtorAddrA)) as bigint;
    const { rc, packetId } = await sendPayment(gwDebtorA, gwAddrA, req);
    const sent = (await sentPackets(a.outbox, chAB)).at(-1)!;
    const createdAt = decodeSettlement(sent.packet.payload).createdAt as bigint;
    expect(sent.packet.timeoutTimestamp).toBe(createdAt + 3600n);
    expect(BigInt((await A.provider.getBlock(rc.blockNumber))!.timestamp)).toBe(createdAt);
    expect((await gwA.ledger(chAB, HKD)).inFlight).toBe(amount);
    await books('HKD send');
    await deliverAB();
    expect(await hkdB.balanceOf(req.creditor)).toBe(amount);
    const rcpt = await gwB.receipt(req.uetr);
    expect([rcpt.payout, rcpt.quoteId, rcpt.packetId]).toEqual([amount, ZERO32, packetId]);
    await books('HKD receive');
    const rcAck = (await ackAB())!;
    expect(eventsOf(rcAck, gwA, gwAddrA, 'SettlementReleased').map((e) => e.args.uetr)).toEqual([req.uetr]);
    expect(await hkdA.balanceOf(NOSTRO_A)).toBe(amount);
    expect(await hkdA.balanceOf(debtorAddrA)).toBe(debtorBefore - amount);
    expect((await gwA.ledger(chAB, HKD)).released).toBe(amount);
    await books('HKD ack');
  });

  it('refunds bad quotes and unpaid payouts (APP_ERROR); escrow of the destination gateway is never paid out', async () => {
    // B → A first (HKD escrowed on gwB, in flight): B's HKD balance now exceeds its payout liquidity.
    const qBA = await signedQuote(A, A_ID, { rate: '1.0873' });
    const escrowB = 500_001n;
    const reqBA = request({
      destChain: A_ID,
      sourceCurrency: HKD,
      targetCurrency: CNY,
      sourceAmount: escrowB,
      quote: qBA.sol,
      quoteSignature: qBA.sig,
    });
    await sendPayment(gwDebtorB, gwAddrB, reqBA);
    expect(await gwB.escrowed(HKD)).toBe(escrowB);
    await books('B → A sent');
    const liquidityB = (await gwB.liquidity(HKD)) as bigint;
    expect(await hkdB.balanceOf(gwAddrB)).toBe(liquidityB + escrowB);
    // The token cannot be swapped under the escrow, and the owner cannot withdraw the escrow either.
    expect(await revertOf(() => gwB.setToken.staticCall(HKD, hkdB.target))).toEqual({
      name: 'EscrowOutstanding',
      args: [BigInt(HKD), escrowB],
    });
    expect(await revertOf(() => gwB.withdrawLiquidity.staticCall(HKD, NOSTRO_B, liquidityB + 1n))).toEqual({
      name: 'InsufficientLiquidity',
      args: [BigInt(HKD), liquidityB + 1n, liquidityB],
    });

    const now = await latestTimestamp(B);
    const expiring = await signedQuote(B, B_ID, { validUntil: now + 30n });
    const good = await signedQuote(B, B_ID);
    const strangerSig = signDigest(fxQuoteDigest(good.q, B_ID), hexToBytes(STRANGER_KEY));
    const otherChain = await signedQuote(B, A_ID); // signed for chain A, verified on B
    const hs = await signedQuote(B, B_ID);
    const highSig = highS(hs.sig);
    expect(BigInt(`0x${highSig.slice(66, 130)}`) > HALF_N).toBe(true);
    expect(recoverHighS(fxQuoteDigest(hs.q, B_ID), highSig)).toBe(PROVIDER); // same key, high s
    const untrustedQ = quote({ validUntil: now + 86_400n, provider: STRANGER });
    const untrustedSig = signQuote(untrustedQ, B_ID, STRANGER_KEY);

    const cases: { label: string; req: Req; error: { name: string; args?: unknown[] } }[] = [
      {
        label: 'expired quote',
        req: fxRequest(10_000n, expiring),
        error: { name: 'FxQuoteExpired' },
      },
      {
        label: 'signed by an untrusted key for the trusted provider',
        req: fxRequest(10_000n, { sol: good.sol, sig: strangerSig }),
        error: { name: 'FxQuoteForged', args: [good.sol.quoteId] },
      },
      {
        label: 'signed for another chain id',
        req: fxRequest(10_000n, otherChain),
        error: { name: 'FxQuoteForged', args: [otherChain.sol.quoteId] },
      },
      {
        label: 'high-s twin of a valid signature',
        req: fxRequest(10_000n, { sol: hs.sol, sig: highSig }),
        error: { name: 'FxQuoteForged', args: [hs.sol.quoteId] },
      },
      {
        label: 'replayed quote id',
        req: fxRequest(10_000n, usedQuote),
        error: { name: 'FxQuoteReplayed', args: [usedQuote.sol.quoteId] },
      },
      {
        label: 'insufficient liquidity (escrow excluded)',
        req: request({ sourceAmount: liquidityB + 1n }),
        error: { name: 'InsufficientLiquidity', args: [BigInt(HKD), liquidityB + 1n, liquidityB] },
      },
      {
        label: 'untrusted provider',
        req: fxRequest(10_000n, { sol: sol(untrustedQ), sig: untrustedSig }),
        error: { name: 'UntrustedFxProvider', args: [STRANGER] },
      },
    ];
    const before = {
      cny: (await cnyA.balanceOf(debtorAddrA)) as bigint,
      hkd: (await hkdA.balanceOf(debtorAddrA)) as bigint,
      gwB: (await hkdB.balanceOf(gwAddrB)) as bigint,
      refundedCny: ((await gwA.ledger(chAB, CNY)) as { refunded: bigint }).refunded,
    };
    for (const c of cases) await sendPayment(gwDebtorA, gwAddrA, c.req);
    await books('refund batch sent');
    await advanceTime(B, 60); // the expiring quote is void at delivery
    const { count } = await deliverAB();
    expect(count).toBe(cases.length);
    const recvd = (await receivedPackets(b.inbox, chAB)).slice(-cases.length);
    expect(recvd.map((r) => r.status)).toEqual(cases.map(() => AckStatus.APP_ERROR));
    cases.forEach((c, i) => {
      const got = refusal(recvd[i]!.result);
      expect(got.name, c.label).toBe(c.error.name);
      if (c.error.args) expect(got.args, c.label).toEqual(c.error.args);
    });
    const expiredArgs = refusal(recvd[0]!.result).args;
    expect(expiredArgs.slice(0, 2)).toEqual([expiring.sol.quoteId, expiring.sol.validUntil]);
    expect(expiredArgs[2] as bigint).toBeGreaterThanOrEqual(expiring.sol.validUntil);
    // Nothing paid on B: no receipt, balance unchanged, quotes not consumed.
    for (const c of cases) expect((await gwB.receipt(c.req.uetr)).creditor).toBe(ZeroAddress);
    expect(await hkdB.balanceOf(gwAddrB)).toBe(before.gwB);
    expect(await gwB.quoteUsed(good.sol.quoteId)).toBe(false);
    await books('refund batch received');

    const rcAck = (await ackAB())!;
    const refunds = eventsOf(rcAck, gwA, gwAddrA, 'SettlementRefunded');
    expect(refunds.map((e) => e.args.uetr)).toEqual(cases.map((c) => c.req.uetr));
    refunds.forEach((e, i) => {
      expect(e.args.reason, cases[i]!.label).toBe(1n);
      expect(e.args.result).toBe(recvd[i]!.result);
    });
    for (const c of cases) {
      const p = await gwA.payment(c.req.uetr);
      expect([p.status, p.refundReason], c.label).toEqual([3n, 1n]);
    }
    expect(await cnyA.balanceOf(debtorAddrA)).toBe(before.cny);
    expect(await hkdA.balanceOf(debtorAddrA)).toBe(before.hkd);
    const cnyRefunded = cases
      .filter((c) => c.req.sourceCurrency === CNY)
      .reduce((t, c) => t + c.req.sourceAmount, 0n);
    expect((await gwA.ledger(chAB, CNY)).refunded).toBe(before.refundedCny + cnyRefunded);
    await books('refund batch acknowledged');

    // The B → A payment: HKD → CNY divides by the rate; CNY paid from gwA's liquidity, escrow released on B.
    const expected = tsPayout(HKD, escrowB, '1.0873');
    await relayPending(B, b, a, chBA, valsB);
    expect(await cnyA.balanceOf(reqBA.creditor)).toBe(expected);
    expect(await gwA.destLedger(chBA, HKD)).toEqual([escrowB, 0n]);
    expect(await gwA.destLedger(chBA, CNY)).toEqual([0n, expected]);
    await books('B → A received');
    const rcBA = (await ackPending(A, b, a, chBA, valsA))!;
    expect(eventsOf(rcBA, gwB, gwAddrB, 'SettlementReleased').map((e) => e.args.uetr)).toEqual([reqBA.uetr]);
    expect(await hkdB.balanceOf(NOSTRO_B)).toBe(escrowB);
    expect(await gwB.escrowed(HKD)).toBe(0n);
    await books('B → A acknowledged');
  });

  it('refunds a proven timeout (reason 3) and a packet that arrived expired (reason 2)', async () => {
    const deadline = (await latestTimestamp(B)) + 100n;
    const r1 = request({ sourceAmount: 1_111n, timeoutTimestamp: deadline });
    const r2 = fxRequest(2_222n, await signedQuote(B, B_ID), { timeoutTimestamp: deadline });
    const hkdBefore = (await hkdA.balanceOf(debtorAddrA)) as bigint;
    const cnyBefore = (await cnyA.balanceOf(debtorAddrA)) as bigint;
    const p1 = await sendPayment(gwDebtorA, gwAddrA, r1);
    await sendPayment(gwDebtorA, gwAddrA, r2);
    await books('timeouts sent');
    await advanceTime(B, 200);

    // r1: never delivered; non-receipt proven at a B header past the deadline.
    const h = await relayHeader(B, a.lightClient, valsB);
    const proof = await buildNextRecvProof(B.provider, b.inbox, chAB, h);
    const pkt1 = (await sentPackets(a.outbox, chAB)).find((s) => s.id === p1.packetId)!.packet;
    const rcTimeout = (await (
      await a.outbox.timeoutPacket(h, proof.accountProof, proof.storageProof, pkt1)
    ).wait()) as TransactionReceipt;
    const [t] = eventsOf(rcTimeout, gwA, gwAddrA, 'SettlementRefunded');
    expect([t!.args.uetr, t!.args.packetId, t!.args.reason, t!.args.result]).toEqual([
      r1.uetr,
      p1.packetId,
      3n,
      '0x',
    ]);
    expect([(await gwA.payment(r1.uetr)).status, (await gwA.payment(r1.uetr)).refundReason]).toEqual([
      3n,
      3n,
    ]);
    expect(await hkdA.balanceOf(debtorAddrA)).toBe(hkdBefore);
    await books('timeout proven');

    // Both arrive expired (TIMEOUT, app not called); r2's ack refunds it, r1's is never needed.
    await deliverAB();
    const last = (await receivedPackets(b.inbox, chAB)).slice(-2);
    expect(last.map((r) => r.status)).toEqual([AckStatus.TIMEOUT, AckStatus.TIMEOUT]);
    expect((await gwB.receipt(r2.uetr)).creditor).toBe(ZeroAddress);
    const rcAck = (await ackAB())!;
    const refunds = eventsOf(rcAck, gwA, gwAddrA, 'SettlementRefunded');
    expect(refunds.map((e) => [e.args.uetr, e.args.reason, e.args.result])).toEqual([[r2.uetr, 2n, '0x']]);
    const p2 = await gwA.payment(r2.uetr);
    expect([p2.status, p2.refundReason]).toEqual([3n, 2n]);
    expect(await cnyA.balanceOf(debtorAddrA)).toBe(cnyBefore);
    expect(await a.outbox.ackedUpTo(chAB)).toBe(((await a.outbox.nextSequence(chAB)) as bigint) - 1n);
    await books('arrived expired');
  });
});

// ------------------------------------------------------------------ source-side refusals

describe('send: bad requests revert with a named error and move nothing', () => {
  it('refuses each malformed request', async () => {
    const debtor2 = new NonceManager(new Wallet(ANVIL_KEYS[2], A.provider));
    const debtor2Addr = await debtor2.getAddress();
    await (await hkdA.mint(debtor2Addr, 1_000n)).wait(); // funds, but no allowance
    const gwDebtor2 = gwA.connect(debtor2) as Gw;
    const q = await signedQuote(B, B_ID);
    const withRate = (rate: string) => fxRequest(100n, { sol: { ...q.sol, rate }, sig: q.sig });
    const usedUetr = (await sentPackets(a.outbox, chAB)).map(
      (s) => decodeSettlement(s.packet.payload).uetr,
    )[0];
    const past = (await latestTimestamp(A)) - 1n;
    const cases: { label: string; req: Req; error: { name: string; args?: unknown[] }; gw?: Gw }[] = [
      { label: 'zero amount', req: request({ sourceAmount: 0n }), error: { name: 'ZeroAmount', args: [] } },
      {
        label: 'unsupported source currency',
        req: request({ sourceCurrency: 840 }),
        error: { name: 'UnsupportedCurrency', args: [840n] },
      },
      {
        label: 'unsupported target currency',
        req: request({ targetCurrency: 840 }),
        error: { name: 'UnsupportedCurrency', args: [840n] },
      },
      {
        label: 'no token for the source currency',
        req: request({ sourceCurrency: MOP, targetCurrency: MOP }),
        error: { name: 'NoToken', args: [BigInt(MOP)] },
      },
      {
        label: 'duplicate uetr',
        req: request({ uetr: usedUetr }),
        error: { name: 'DuplicateSettlement', args: [usedUetr] },
      },
      { label: 'no route', req: request({ destChain: 999n }), error: { name: 'NoRoute', args: [999n] } },
      { label: 'zero creditor', req: request({ creditor: ZeroAddress }), error: { name: 'InvalidCreditor' } },
      { label: 'zero uetr', req: request({ uetr: `0x${'00'.repeat(16)}` }), error: { name: 'InvalidUetr' } },
      {
        label: 'charge bearer',
        req: request({ chargeBearer: 4 }),
        error: { name: 'InvalidChargeBearer', args: [4n] },
      },
      {
        label: 'timeout in the past',
        req: request({ timeoutTimestamp: past }),
        error: { name: 'InvalidTimeout' },
      },
      {
        label: 'quote on one currency',
        req: request({ quote: q.sol, quoteSignature: q.sig }),
        error: { name: 'UnexpectedQuote', args: [] },
      },
      {
        label: 'signature without quote on one currency',
        req: request({ quoteSignature: q.sig }),
        error: { name: 'UnexpectedQuote' },
      },
      {
        label: 'wrong pair hash',
        req: fxRequest(100n, { sol: { ...q.sol, pair: id32('HKD/CNY') }, sig: q.sig }),
        error: { name: 'UnsupportedPair', args: [id32('HKD/CNY'), BigInt(CNY), BigInt(HKD)] },
      },
      {
        label: 'CNY/HKD quote for CNY → MOP',
        req: fxRequest(100n, q, { targetCurrency: MOP }),
        error: { name: 'UnsupportedPair', args: [PAIR, BigInt(CNY), BigInt(MOP)] },
      },
      {
        label: 'zero quote id',
        req: fxRequest(100n, { sol: { ...q.sol, quoteId: ZERO32 }, sig: q.sig }),
        error: { name: 'InvalidQuoteId' },
      },
      ...['1.', '.5', '01.2', '1e3', '-1', '0', '1.123456789', '1234567890123.1', ''].map((rate) => ({
        label: `rate ${JSON.stringify(rate)}`,
        req: withRate(rate),
        error: { name: 'InvalidRate', args: [] },
      })),
      {
        label: 'no allowance',
        req: request({ sourceAmount: 500n }),
        error: { name: 'InsufficientAllowance', args: [debtor2Addr, gwAddrA, 0n, 500n] },
        gw: gwDebtor2,
      },
    ];

    const snapshot = async () => ({
      balances: await Promise.all(
        [debtorAddrA, debtor2Addr, gwAddrA, NOSTRO_A].flatMap((w) => [cnyA.balanceOf(w), hkdA.balanceOf(w)]),
      ),
      escrow: [await gwA.escrowed(CNY), await gwA.escrowed(HKD)],
      ledgers: [(await gwA.ledger(chAB, CNY)).toArray(), (await gwA.ledger(chAB, HKD)).toArray()],
      next: await a.outbox.nextSequence(chAB),
    });
    const before = await snapshot();
    for (const c of cases) {
      const gw = c.gw ?? gwDebtorA;
      const got = await revertOf(() => gw.send.staticCall(c.req));
      expect(got.name, c.label).toBe(c.error.name);
      if (c.error.args) expect(got.args, c.label).toEqual(c.error.args);
      // Mined for real (gas limit given, no estimate): the transaction fails.
      await expect((await gw.send(c.req, { gasLimit: 1_000_000n })).wait(), c.label).rejects.toThrow();
    }
    expect(await snapshot()).toEqual(before);
    // The same requests, repaired, would pass (the checks are not vacuous).
    expect(await gwDebtorA.send.staticCall(request())).toMatch(/^0x[0-9a-f]{64}$/);
    expect(await gwDebtorA.send.staticCall(withRate('1.5'))).toMatch(/^0x[0-9a-f]{64}$/);
  });
});

// ------------------------------------------------------------------ destination-side refusals, directly

describe('onRecvPacket refusals, called directly by a test inbox', () => {
  it('refuses untrusted senders, wrong kinds, duplicates, bad quotes and missing liquidity with typed errors', async () => {
    const inboxKey = new NonceManager(new Wallet(ANVIL_KEYS[2], B.provider));
    const inboxAddr = await inboxKey.getAddress();
    const gwX = await deploy<Gw>('SettlementGateway', B.signer, await b.outbox.getAddress(), inboxAddr);
    const gwXAddr = await gwX.getAddress();
    const mopB = await deploy<Tok>('DepositToken', B.signer, 'Bank B MOP deposit', 'bMOP', MOP);
    const SENDER = fresh();
    const CH = id32('direct-channel');
    for (const tx of [
      () => gwX.setTrustedSender(A_ID, SENDER),
      () => gwX.setToken(HKD, hkdB.target),
      () => gwX.setToken(MOP, mopB.target),
      () => gwX.setFxProvider(PROVIDER, true),
      () => hkdB.mint(gwXAddr, 1_000_000n),
    ])
      await (await tx()).wait();
    const asInbox = gwX.connect(inboxKey) as Gw;

    let seq = 0n;
    const settlement = (over: Record<string, unknown> = {}) => ({
      uetr: newUetr(),
      ref: id32('ref'),
      debtor: fresh(),
      creditor: fresh(),
      sourceCurrency: HKD,
      sourceAmount: 1_000n,
      targetCurrency: HKD,
      chargeBearer: 3,
      purpose: MDCS,
      createdAt: 1n,
      quote: EMPTY_QUOTE,
      quoteSignature: '0x',
      ...over,
    });
    const packet = (s: ReturnType<typeof settlement>, over: Record<string, unknown> = {}) => ({
      version: 1,
      sourceChain: A_ID,
      destChain: B_ID,
      channel: CH,
      sequence: ++seq,
      sender: SENDER,
      receiver: gwXAddr,
      timeoutHeight: 0n,
      timeoutTimestamp: 0n,
      kind: 5,
      payload: abi.encode([SETTLEMENT_TYPE], [s]),
      ...over,
    });
    const refused = (pkt: ReturnType<typeof packet>) => revertOf(() => asInbox.onRecvPacket.staticCall(pkt));
    const fx = async (over: Partial<FxQuote> = {}, amount = 10_000n) => {
      const q = await signedQuote(B, B_ID, over);
      return {
        q,
        s: settlement({ sourceCurrency: CNY, sourceAmount: amount, quote: q.sol, quoteSignature: q.sig }),
      };
    };

    const other = fresh();
    expect(await refused(packet(settlement(), { sender: other }))).toEqual({
      name: 'UntrustedSender',
      args: [A_ID, other],
    });
    expect(await refused(packet(settlement(), { sourceChain: 999n }))).toEqual({
      name: 'UntrustedSender',
      args: [999n, SENDER],
    });
    expect(await refused(packet(settlement(), { kind: 4 }))).toEqual({ name: 'UnexpectedKind', args: [4n] });
    expect(await refused(packet(settlement({ targetCurrency: CNY, sourceCurrency: CNY })))).toEqual({
      name: 'NoToken',
      args: [BigInt(CNY)],
    });
    expect((await refused(packet(settlement({ creditor: ZeroAddress })))).name).toBe('InvalidCreditor');

    // A good one-currency payment; the same uetr again is a duplicate.
    const ok = settlement();
    const rcOk = (await (await asInbox.onRecvPacket(packet(ok))).wait()) as TransactionReceipt;
    expect(eventsOf(rcOk, gwX, gwXAddr, 'SettlementPaid')[0]!.args.payout).toBe(1_000n);
    expect(await hkdB.balanceOf(ok.creditor)).toBe(1_000n);
    expect(await refused(packet({ ...ok, creditor: fresh() }))).toEqual({
      name: 'DuplicateSettlement',
      args: [ok.uetr],
    });

    // FX: a good one, then every refusal of the quote.
    const good = await fx({ rate: '7.12345678' });
    const rcFx = (await (await asInbox.onRecvPacket(packet(good.s))).wait()) as TransactionReceipt;
    const [paid] = eventsOf(rcFx, gwX, gwXAddr, 'SettlementPaid');
    expect(paid!.args.payout).toBe(tsPayout(CNY, 10_000n, '7.12345678'));
    expect(paid!.args.quoteId).toBe(good.q.sol.quoteId);
    expect(await refused(packet({ ...good.s, uetr: newUetr() }))).toEqual({
      name: 'FxQuoteReplayed',
      args: [good.q.sol.quoteId],
    });
    const mop = await fx();
    expect(await refused(packet({ ...mop.s, targetCurrency: MOP }))).toEqual({
      name: 'UnsupportedPair',
      args: [PAIR, BigInt(CNY), BigInt(MOP)],
    });
    expect(await refused(packet({ ...mop.s, sourceCurrency: MOP }))).toEqual({
      name: 'UnsupportedPair',
      args: [PAIR, BigInt(MOP), BigInt(HKD)],
    });
    const untrusted = quote({ validUntil: (await latestTimestamp(B)) + 1000n, provider: STRANGER });
    expect(
      await refused(
        packet(
          settlement({
            sourceCurrency: CNY,
            quote: sol(untrusted),
            quoteSignature: signQuote(untrusted, B_ID, STRANGER_KEY),
          }),
        ),
      ),
    ).toEqual({ name: 'UntrustedFxProvider', args: [STRANGER] });
    const f = await fx();
    const sigBytes = hexToBytes(f.q.sig);
    const badV = bytesToHex(Uint8Array.from([...sigBytes.subarray(0, 64), 29]));
    const forgeries: [string, string][] = [
      ['other chain', signQuote(f.q.q, A_ID, PROVIDER_KEY)],
      ['other key', new SigningKey(STRANGER_KEY).sign(fxQuoteDigest(f.q.q, B_ID)).serialized],
      ['high s', highS(f.q.sig)],
      ['v = 29', badV],
      ['64 bytes', f.q.sig.slice(0, 130)],
      ['empty', '0x'],
      ['zero r', `0x${'00'.repeat(32)}${f.q.sig.slice(66)}`],
    ];
    for (const [label, sig] of forgeries)
      expect(await refused(packet({ ...f.s, quoteSignature: sig })), label).toEqual({
        name: 'FxQuoteForged',
        args: [f.q.sol.quoteId],
      });
    // A changed rate breaks the signature too.
    expect((await refused(packet({ ...f.s, quote: { ...f.q.sol, rate: '9.9' } }))).name).toBe(
      'FxQuoteForged',
    );
    const soon = await fx({ validUntil: (await latestTimestamp(B)) + 5n });
    await advanceTime(B, 10);
    const expired = await refused(packet(soon.s));
    expect(expired.name).toBe('FxQuoteExpired');
    expect(expired.args.slice(0, 2)).toEqual([soon.q.sol.quoteId, soon.q.sol.validUntil]);
    // Rounds to nothing: CNY 0.01 at 0.0001 = HKD 0.000001.
    const tiny = await fx({ rate: '0.0001' }, 1n);
    expect(await refused(packet(tiny.s))).toEqual({ name: 'ZeroPayout', args: [] });
    const liq = (await gwX.liquidity(HKD)) as bigint;
    expect(await refused(packet(settlement({ sourceAmount: liq + 1n })))).toEqual({
      name: 'InsufficientLiquidity',
      args: [BigInt(HKD), liq + 1n, liq],
    });
    // Exactly the liquidity is fine.
    const all = settlement({ sourceAmount: liq });
    expect(await asInbox.onRecvPacket.staticCall(packet(all))).toBe(
      abi.encode(['bytes16', 'uint16', 'uint128'], [all.uetr, HKD, liq]),
    );

    // The owner takes free liquidity out (and only the owner, only free liquidity, only of a known token).
    const to = fresh();
    const rcW = (await (await gwX.withdrawLiquidity(HKD, to, 700n)).wait()) as TransactionReceipt;
    expect(eventsOf(rcW, gwX, gwXAddr, 'LiquidityWithdrawn')[0]!.args.toArray()).toEqual([
      BigInt(HKD),
      to,
      700n,
    ]);
    expect(await hkdB.balanceOf(to)).toBe(700n);
    expect(await gwX.liquidity(HKD)).toBe(liq - 700n);
    expect(await revertOf(() => gwX.withdrawLiquidity.staticCall(HKD, to, liq - 699n))).toEqual({
      name: 'InsufficientLiquidity',
      args: [BigInt(HKD), liq - 699n, liq - 700n],
    });
    expect(await revertOf(() => gwX.withdrawLiquidity.staticCall(CNY, to, 1n))).toEqual({
      name: 'NoToken',
      args: [BigInt(CNY)],
    });
    expect((await revertOf(() => gwX.withdrawLiquidity.staticCall(HKD, ZeroAddress, 1n))).name).toBe(
      'ZeroAddress',
    );
    expect(await revertOf(() => asInbox.withdrawLiquidity.staticCall(HKD, to, 1n))).toEqual({
      name: 'NotOwner',
      args: [inboxAddr],
    });
  });
});

// ------------------------------------------------------------------ contract debtor

/**
 * A contract debtor (test-only, compiled here): forwards calls from anyone (`exec`: approve, send) and records
 * or refuses the gateway's ISettlementPayer callback. mode 0 records, 1 reverts with a message, 2 reverts with
 * 20 000 bytes, 3 burns all its gas.
 */
const PAYER_SOURCE = `// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;
contract TestPayer {
    uint8 public mode;
    uint256 public calls;
    bytes16 public lastUetr;
    bool public lastReleased;
    bytes public lastResult;
    function setMode(uint8 m) external { mode = m; }
    function exec(address target, bytes calldata data) external returns (bytes memory ret) {
        bool ok;
        (ok, ret) = target.call(data);
        if (!ok) assembly { revert(add(ret, 32), mload(ret)) }
    }
    function onSettlementOutcome(bytes16 uetr, bool released, bytes calldata result) external {
        if (mode == 1) revert("payer refuses");
        if (mode == 2) assembly { revert(0x1000, 20000) }
        if (mode == 3) { uint256 i; while (true) { i++; } }
        calls += 1;
        lastUetr = uetr;
        lastReleased = released;
        lastResult = result;
    }
}
`;

function compilePayer(): { abi: InterfaceAbi; bytecode: string } {
  const input = {
    language: 'Solidity',
    sources: { 'TestPayer.sol': { content: PAYER_SOURCE } },
    settings: {
      evmVersion: 'cancun',
      outputSelection: { '*': { TestPayer: ['abi', 'evm.bytecode.object'] } },
    },
  };
  const out = JSON.parse(solc.compile(JSON.stringify(input))) as {
    errors?: { severity: string; formattedMessage: string }[];
    contracts?: Record<string, Record<string, { abi: InterfaceAbi; evm: { bytecode: { object: string } } }>>;
  };
  const errors = (out.errors ?? []).filter((e) => e.severity === 'error');
  if (errors.length > 0) throw new Error(errors.map((e) => e.formattedMessage).join('\n'));
  const c = out.contracts!['TestPayer.sol']!.TestPayer!;
  return { abi: c.abi, bytecode: `0x${c.evm.bytecode.object}` };
}

describe('contract debtor: ISettlementPayer.onSettlementOutcome', () => {
  it('tells a contract debtor the outcome; a failing callback only emits PayerCallbackFailed, the settlement stands', async () => {
    const { abi: payerAbi, bytecode } = compilePayer();
    const payer = (await new ContractFactory(payerAbi, bytecode, A.signer).deploy()) as unknown as Payer;
    await payer.waitForDeployment();
    const payerAddr = await payer.getAddress();
    const max = 2n ** 256n - 1n;
    for (const tx of [
      () => cnyA.mint(payerAddr, 1_000_000n),
      () => hkdA.mint(payerAddr, 100_000_000n),
      () => payer.exec(cnyA.target, cnyA.interface.encodeFunctionData('approve', [gwAddrA, max])),
      () => payer.exec(hkdA.target, hkdA.interface.encodeFunctionData('approve', [gwAddrA, max])),
    ])
      await (await tx()).wait();
    const balances = async () => [await cnyA.balanceOf(payerAddr), await hkdA.balanceOf(payerAddr)];

    /** The payer sends `req`, it is delivered and acknowledged; returns the ack's gateway events. */
    const round = async (req: Req) => {
      await (await payer.exec(gwAddrA, gwA.interface.encodeFunctionData('send', [req]))).wait();
      expect((await gwA.payment(req.uetr)).debtor).toBe(payerAddr);
      await deliverAB();
      const recv = (await receivedPackets(b.inbox, chAB)).at(-1)!;
      const rc = (await ackAB())!;
      return {
        recv,
        released: eventsOf(rc, gwA, gwAddrA, 'SettlementReleased'),
        refunded: eventsOf(rc, gwA, gwAddrA, 'SettlementRefunded'),
        failed: eventsOf(rc, gwA, gwAddrA, 'PayerCallbackFailed'),
      };
    };

    // Released: the callback gets (uetr, true, abi.encode(uetr, HKD, payout)).
    const start = await balances();
    const r0 = fxRequest(5_000n, await signedQuote(B, B_ID));
    const o0 = await round(r0);
    expect(o0.released.map((e) => e.args.uetr)).toEqual([r0.uetr]);
    expect(o0.failed).toEqual([]);
    expect([await payer.calls(), await payer.lastUetr(), await payer.lastReleased()]).toEqual([
      1n,
      r0.uetr,
      true,
    ]);
    expect(await payer.lastResult()).toBe(
      abi.encode(['bytes16', 'uint16', 'uint128'], [r0.uetr, HKD, tsPayout(CNY, 5_000n, '1.0873')]),
    );

    // Refunded: (uetr, false, the refusal's revert data).
    const tooMuch = () => request({ sourceAmount: FUND_B_HKD * 2n });
    const r1 = tooMuch();
    const o1 = await round(r1);
    expect(o1.refunded.map((e) => [e.args.uetr, e.args.reason])).toEqual([[r1.uetr, 1n]]);
    expect([await payer.calls(), await payer.lastUetr(), await payer.lastReleased()]).toEqual([
      2n,
      r1.uetr,
      false,
    ]);
    expect(await payer.lastResult()).toBe(o1.recv.result);
    expect(refusal(o1.recv.result).name).toBe('InsufficientLiquidity');

    // Failing callbacks: a message, a 20 000-byte revert (kept to 256 bytes), all gas burnt. Refund stands.
    const reasons: Record<number, string> = {
      1: `0x08c379a0${abi.encode(['string'], ['payer refuses']).slice(2)}`,
      2: `0x${'00'.repeat(256)}`,
      3: '0x',
    };
    for (const mode of [1, 2, 3]) {
      await (await payer.setMode(mode)).wait();
      const req = tooMuch();
      const o = await round(req);
      expect(
        o.refunded.map((e) => e.args.uetr),
        `mode ${mode}`,
      ).toEqual([req.uetr]);
      expect(
        o.failed.map((e) => [e.args.uetr, e.args.reason]),
        `mode ${mode}`,
      ).toEqual([[req.uetr, reasons[mode]]]);
      expect((await gwA.payment(req.uetr)).status, `mode ${mode}`).toBe(3n);
      expect(await payer.calls()).toBe(2n);
    }
    // Everything but the released CNY 50.00 is back with the payer.
    expect(await balances()).toEqual([start[0]! - 5_000n, start[1]!]);
    await books('contract debtor');
  });
});
