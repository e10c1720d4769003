/**
 * The EVM adapter's plumbing against real anvil processes: nonce assignment under concurrency and its resync,
 * fee bumping on a chain that does not mine, JSON-RPC retries through a flaky proxy, revert decoding before
 * any gas is spent, and finality proofs from honest and lying nodes.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  ContractFactory,
  id as ethersId,
  Interface,
  type InterfaceAbi,
  JsonRpcProvider,
  NonceManager,
  Transaction,
  Wallet,
} from 'ethers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EvmAdapter } from '../../adapters/evm/adapter.js';
import { loadArtifact } from '../../adapters/evm/contracts/artifacts.js';
import { type AnvilHandle, freePort, startAnvil } from '../../adapters/evm/devnet/anvil.js';
import { devKey } from '../../adapters/evm/devnet/network.js';
import {
  addressOfKey,
  type QbftSealingProxy,
  startQbftSealingProxy,
} from '../../adapters/evm/devnet/sealer.js';
import { JsonRpcClient, type RpcOptions } from '../../adapters/evm/rpc.js';
import { TxSender } from '../../adapters/evm/tx-sender.js';
import { bytesToHex, type Hex } from '../../proofs/bytes.js';
import { ChainError, ProofError } from '../../proofs/errors.js';
import { verifyFinality } from '../../relayer/verify.js';
import { rng } from '../helpers/random.js';

const CHAIN_A = 31_771; // automine
const CHAIN_B = 31_772; // no mining: fee bumping

const r = rng(77);
const rand32 = (): Hex => bytesToHex(r.bytes(32));
const sleep = (ms: number) => new Promise((res) => setTimeout(res, ms));
const registryIface = new Interface(loadArtifact('RecordRegistry').abi as InterfaceAbi);

let rpcId = 0;
async function raw<T>(url: string, method: string, params: unknown[] = []): Promise<T> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: ++rpcId, method, params }),
  });
  const body = (await res.json()) as { result?: T; error?: { message: string } };
  if (body.error) throw new Error(`${method}: ${body.error.message}`);
  return body.result as T;
}

interface RpcTx {
  hash: Hex;
  nonce: string;
  from: string;
  maxFeePerGas: string;
}

const txCount = async (url: string, addr: string, tag = 'latest') =>
  BigInt(await raw<string>(url, 'eth_getTransactionCount', [addr, tag]));

async function rejection(p: Promise<unknown>): Promise<ChainError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(ChainError);
    return err as ChainError;
  }
  throw new Error('expected a rejection, the promise resolved');
}

/** A JSON-RPC client that remembers every raw transaction the node accepted. */
class RecordingRpc extends JsonRpcClient {
  readonly accepted: string[] = [];
  override async call<T = unknown>(method: string, params: unknown[]): Promise<T> {
    const out = await super.call<T>(method, params);
    if (method === 'eth_sendRawTransaction') this.accepted.push(params[0] as string);
    return out;
  }
}

type Fault = '503' | '429' | '404' | 'reset';

/** HTTP proxy to `upstream` that answers its first requests with `faults` (in order), then forwards. */
async function flakyProxy(
  upstream: string,
  faults: Fault[],
): Promise<{ url: string; hits: () => number; close(): Promise<void> }> {
  let hits = 0;
  const server: Server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    const fault = faults[hits++];
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    if (fault === 'reset') {
      req.socket.destroy();
      return;
    }
    if (fault) {
      res.writeHead(Number(fault), { 'content-type': 'text/plain' }).end('nope');
      return;
    }
    const up = await fetch(upstream, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: Buffer.concat(chunks),
    });
    const text = await up.text();
    res.writeHead(up.status, { 'content-type': 'application/json' }).end(text);
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', () => ok()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    hits: () => hits,
    close: () =>
      new Promise<void>((ok) => {
        server.closeAllConnections();
        server.close(() => ok());
      }),
  };
}

/** A JSON-RPC server answering eth_getBlockByNumber with `block` (anything else: method not found). */
async function fakeNode(block: unknown): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { id: unknown; method: string };
    const reply =
      body.method === 'eth_getBlockByNumber'
        ? { jsonrpc: '2.0', id: body.id, result: block }
        : { jsonrpc: '2.0', id: body.id, error: { code: -32601, message: 'method not found' } };
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(reply));
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', () => ok()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((ok) => {
        server.closeAllConnections();
        server.close(() => ok());
      }),
  };
}

let anvilA: AnvilHandle | undefined;
let anvilB: AnvilHandle | undefined;
const providers: JsonRpcProvider[] = [];
const closers: (() => Promise<void>)[] = [];
let registryA: Hex;
let registryB: Hex;

async function deployRegistry(anvil: AnvilHandle, institution: string): Promise<Hex> {
  const provider = new JsonRpcProvider(anvil.rpcUrl, anvil.chainId, {
    staticNetwork: true,
    pollingInterval: 50,
  });
  providers.push(provider);
  // ethers caches reads for a moment: let its NonceManager count instead of re-reading the nonce.
  const deployer = new NonceManager(new Wallet(devKey(0), provider));
  const art = loadArtifact('RecordRegistry');
  const c = await new ContractFactory(art.abi, art.bytecode, deployer).deploy();
  await c.waitForDeployment();
  const tx = await deployer.sendTransaction({
    to: await c.getAddress(),
    data: registryIface.encodeFunctionData('setInstitution', [institution, true]),
  });
  await tx.wait();
  return (await c.getAddress()) as Hex;
}

beforeAll(async () => {
  const [pa, pb] = [await freePort(), await freePort()];
  [anvilA, anvilB] = await Promise.all([
    startAnvil({ chainId: CHAIN_A, port: pa }),
    startAnvil({ chainId: CHAIN_B, port: pb }),
  ]);
  const institution = new Wallet(devKey(1)).address;
  [registryA, registryB] = await Promise.all([
    deployRegistry(anvilA, institution),
    deployRegistry(anvilB, institution),
  ]);
  // Chain B stops mining: transactions stay pending until evm_mine.
  await raw(anvilB.rpcUrl, 'evm_setAutomine', [false]);
});

afterAll(async () => {
  for (const c of closers) await c().catch(() => undefined);
  for (const p of providers) p.destroy();
  await Promise.all([anvilA?.stop(), anvilB?.stop()]);
});

const FAST: RpcOptions = { retries: 3, baseDelayMs: 10 };

describe('TxSender nonces', () => {
  it('default: 20 concurrent sends from one account all mine with 20 distinct consecutive nonces', async () => {
    const wallet = new Wallet(devKey(1));
    const sender = new TxSender(
      new JsonRpcClient(anvilA!.rpcUrl, FAST),
      wallet,
      BigInt(CHAIN_A),
      { bumpPercent: 12, bumpAfterSec: 30, timeoutSec: 30 },
      50,
    );
    const start = await txCount(anvilA!.rpcUrl, wallet.address);
    const records = Array.from({ length: 20 }, rand32);
    const results = await Promise.all(
      records.map((id) =>
        sender.send(
          registryA,
          registryIface.encodeFunctionData('anchor', [id, rand32(), rand32()]) as Hex,
          registryIface,
          'anchor',
        ),
      ),
    );
    const txs = await Promise.all(
      results.map((res) => raw<RpcTx>(anvilA!.rpcUrl, 'eth_getTransactionByHash', [res.hash])),
    );
    const nonces = txs.map((t) => BigInt(t.nonce)).sort((a, b) => (a < b ? -1 : 1));
    expect(nonces).toEqual(Array.from({ length: 20 }, (_, i) => start + BigInt(i)));
    expect(new Set(results.map((x) => x.hash)).size).toBe(20);
    for (const t of txs) expect(t.from.toLowerCase()).toBe(wallet.address.toLowerCase());
    for (const res of results) expect(res.gasUsed).toBeGreaterThan(21_000n);
    expect(await txCount(anvilA!.rpcUrl, wallet.address)).toBe(start + 20n);
    // Every anchor landed, from the sender's account.
    for (const id of records) {
      const out = await raw<string>(anvilA!.rpcUrl, 'eth_call', [
        { to: registryA, data: registryIface.encodeFunctionData('getRecord', [id]) },
        'latest',
      ]);
      const [rec] = registryIface.decodeFunctionResult('getRecord', out);
      expect(String(rec.institution)).toBe(wallet.address);
    }

    // Another process uses the account's next nonce behind the manager's back.
    const provider = new JsonRpcProvider(anvilA!.rpcUrl, CHAIN_A, {
      staticNetwork: true,
      pollingInterval: 50,
    });
    providers.push(provider);
    const external = await new Wallet(devKey(1), provider).sendTransaction({
      to: `0x${'11'.repeat(20)}`,
      value: 1n,
      nonce: Number(start + 20n),
    });
    await external.wait();
    const anchor = () =>
      sender.send(
        registryA,
        registryIface.encodeFunctionData('anchor', [rand32(), rand32(), rand32()]) as Hex,
        registryIface,
        'anchor',
      );
    // The cached nonce is now stale: the node refuses it, the manager resyncs from the pending count and the
    // send goes through with the next free nonce, without surfacing an error.
    const next = await anchor();
    const tx = await raw<RpcTx>(anvilA!.rpcUrl, 'eth_getTransactionByHash', [next.hash]);
    expect(BigInt(tx.nonce)).toBe(start + 21n);
    expect(await txCount(anvilA!.rpcUrl, wallet.address)).toBe(start + 22n);
  });
});

describe('TxSender fee bumping', () => {
  it('behavior: a transaction not mined in time is re-sent with the same nonce and a ≥12% higher fee; one version mines', async () => {
    const url = anvilB!.rpcUrl;
    const wallet = new Wallet(devKey(0)); // registry owner on chain B
    const rpc = new RecordingRpc(url, FAST);
    const sender = new TxSender(
      rpc,
      wallet,
      BigInt(CHAIN_B),
      { bumpPercent: 12, bumpAfterSec: 1, timeoutSec: 30 },
      100,
    );
    const nonce = await txCount(url, wallet.address);
    const blockBefore = BigInt(await raw<string>(url, 'eth_blockNumber'));
    const allowed = `0x${'ab'.repeat(20)}`;
    const pending = sender.send(
      registryB,
      registryIface.encodeFunctionData('setInstitution', [allowed, true]) as Hex,
      registryIface,
      'setInstitution',
    );
    let settled = false;
    void pending.then(
      () => (settled = true),
      () => (settled = true),
    );
    await sleep(2500);
    expect(settled).toBe(false); // nothing mines on chain B by itself
    expect(BigInt(await raw<string>(url, 'eth_blockNumber'))).toBe(blockBefore);
    expect(rpc.accepted.length).toBeGreaterThanOrEqual(2);

    await raw(url, 'evm_mine');
    const res = await pending;

    const sent = rpc.accepted.map((s) => Transaction.from(s));
    for (const t of sent) expect(BigInt(t.nonce)).toBe(nonce);
    const original = sent[0]!;
    for (let i = 1; i < sent.length; i++) {
      // Each version clears the nodes' 10% replacement rule over the previous one, and the bumps compound.
      expect(sent[i]!.maxFeePerGas! * 100n).toBeGreaterThanOrEqual(sent[i - 1]!.maxFeePerGas! * 110n);
      expect(sent[i]!.maxPriorityFeePerGas! * 100n).toBeGreaterThanOrEqual(
        sent[i - 1]!.maxPriorityFeePerGas! * 110n,
      );
      expect(sent[i]!.maxFeePerGas!).toBe((original.maxFeePerGas! * 112n ** BigInt(i)) / 100n ** BigInt(i));
    }
    const mined = await raw<RpcTx>(url, 'eth_getTransactionByHash', [res.hash]);
    expect(BigInt(mined.nonce)).toBe(nonce);
    expect(BigInt(mined.maxFeePerGas) * 100n).toBeGreaterThanOrEqual(original.maxFeePerGas! * 112n);
    expect(res.hash).not.toBe(original.hash);
    expect(sent.map((t) => t.hash)).toContain(res.hash);

    // Exactly one transaction with that nonce is mined; the replaced versions have no receipt.
    const block = await raw<{ transactions: RpcTx[] }>(url, 'eth_getBlockByNumber', [
      `0x${res.blockNumber.toString(16)}`,
      true,
    ]);
    const ours = block.transactions.filter((t) => t.from.toLowerCase() === wallet.address.toLowerCase());
    expect(ours.map((t) => t.hash)).toEqual([res.hash]);
    for (const t of sent.filter((x) => x.hash !== res.hash)) {
      expect(await raw(url, 'eth_getTransactionReceipt', [t.hash])).toBeNull();
    }
    expect(await txCount(url, wallet.address)).toBe(nonce + 1n);
    const isInst = await raw<string>(url, 'eth_call', [
      { to: registryB, data: registryIface.encodeFunctionData('isInstitution', [allowed]) },
      'latest',
    ]);
    expect(BigInt(isInst)).toBe(1n);
  });
});

describe('JsonRpcClient retries', () => {
  it('behavior: HTTP 503/429 and a connection reset are retried until the node answers', async () => {
    const proxy = await flakyProxy(anvilA!.rpcUrl, ['503', '503', '429', 'reset']);
    closers.push(proxy.close);
    const seen: ChainError[] = [];
    const client = new JsonRpcClient(proxy.url, { retries: 5, baseDelayMs: 5, onError: (e) => seen.push(e) });
    expect(BigInt(await client.call<string>('eth_chainId', []))).toBe(BigInt(CHAIN_A));
    expect(seen.map((e) => e.code)).toEqual([
      'MR_ERR_RPC_UNAVAILABLE',
      'MR_ERR_RPC_UNAVAILABLE',
      'MR_ERR_RPC_UNAVAILABLE',
      'MR_ERR_RPC_TRANSPORT',
    ]);
    expect(seen.every((e) => e.retryable)).toBe(true);
    expect(proxy.hits()).toBe(5);
  });

  it('error: more failures than retries surface the last error', async () => {
    const proxy = await flakyProxy(anvilA!.rpcUrl, ['503', '503', '503', '503']);
    closers.push(proxy.close);
    const seen: ChainError[] = [];
    const client = new JsonRpcClient(proxy.url, { retries: 2, baseDelayMs: 5, onError: (e) => seen.push(e) });
    const err = await rejection(client.call('eth_chainId', []));
    expect(err.code).toBe('MR_ERR_RPC_UNAVAILABLE');
    expect(seen.length).toBe(3);
    expect(proxy.hits()).toBe(3);
  });

  it('error: a JSON-RPC error (invalid params) is not retried → MR_ERR_RPC_ERROR, retryable false', async () => {
    const proxy = await flakyProxy(anvilA!.rpcUrl, []);
    closers.push(proxy.close);
    const seen: ChainError[] = [];
    const client = new JsonRpcClient(proxy.url, { retries: 5, baseDelayMs: 5, onError: (e) => seen.push(e) });
    const err = await rejection(client.call('eth_getBalance', ['0x1234', 'latest']));
    expect(err.code).toBe('MR_ERR_RPC_ERROR');
    expect(err.retryable).toBe(false);
    expect(typeof err.details.rpcCode).toBe('number');
    expect(seen).toEqual([err]);
    expect(proxy.hits()).toBe(1);
  });

  it('error: another HTTP status (404) is not retried → MR_ERR_RPC_HTTP', async () => {
    const proxy = await flakyProxy(anvilA!.rpcUrl, ['404']);
    closers.push(proxy.close);
    const client = new JsonRpcClient(proxy.url, { retries: 5, baseDelayMs: 5 });
    const err = await rejection(client.call('eth_chainId', []));
    expect(err.code).toBe('MR_ERR_RPC_HTTP');
    expect(err.retryable).toBe(false);
    expect(proxy.hits()).toBe(1);
  });

  it('error: an unreachable URL fails after the configured retries → MR_ERR_RPC_TRANSPORT', async () => {
    const port = await freePort(); // nothing listens there
    const seen: ChainError[] = [];
    const client = new JsonRpcClient(`http://user:secret@127.0.0.1:${port}`, {
      retries: 2,
      baseDelayMs: 5,
      onError: (e) => seen.push(e),
    });
    const err = await rejection(client.call('eth_blockNumber', []));
    expect(err.code).toBe('MR_ERR_RPC_TRANSPORT');
    expect(err.retryable).toBe(true);
    expect(seen.length).toBe(3);
    expect(err.message).not.toContain('secret');
  });
});

describe('TxSender revert decoding', () => {
  it('error: a call that would revert throws MR_ERR_TX_REVERTED naming the custom error, and costs nothing', async () => {
    const url = anvilA!.rpcUrl;
    const outsider = new Wallet(devKey(5));
    const sender = new TxSender(new JsonRpcClient(url, FAST), outsider, BigInt(CHAIN_A));
    const nonce = await txCount(url, outsider.address, 'pending');
    const balance = BigInt(await raw<string>(url, 'eth_getBalance', [outsider.address, 'latest']));
    const head = BigInt(await raw<string>(url, 'eth_blockNumber'));
    const data = registryIface.encodeFunctionData('anchor', [rand32(), rand32(), rand32()]) as Hex;

    const err = await rejection(sender.send(registryA, data, registryIface, 'RecordRegistry.anchor'));
    expect(err.code).toBe('MR_ERR_TX_REVERTED');
    expect(err.retryable).toBe(false);
    expect(err.message).toContain('RecordRegistry.anchor');
    expect(err.message).toContain(`NotInstitution(${outsider.address})`);
    expect(err.details.errorName).toBe('NotInstitution');
    expect(await txCount(url, outsider.address, 'pending')).toBe(nonce);
    expect(BigInt(await raw<string>(url, 'eth_getBalance', [outsider.address, 'latest']))).toBe(balance);
    expect(BigInt(await raw<string>(url, 'eth_blockNumber'))).toBe(head);

    // Without the ABI the selector is reported instead of a name.
    const bare = await rejection(sender.send(registryA, data, new Interface([]), 'anchor'));
    expect(bare.code).toBe('MR_ERR_TX_REVERTED');
    expect(bare.message).toContain(ethersId('NotInstitution(address)').slice(0, 10));
    expect(bare.details.errorName).toBeNull();
  });

  it('error: an argument-less custom error from an institution (EmptyHash) is named too', async () => {
    const sender = new TxSender(
      new JsonRpcClient(anvilA!.rpcUrl, FAST),
      new Wallet(devKey(1)),
      BigInt(CHAIN_A),
    );
    const data = registryIface.encodeFunctionData('anchor', [
      rand32(),
      `0x${'00'.repeat(32)}`,
      rand32(),
    ]) as Hex;
    const err = await rejection(sender.send(registryA, data, registryIface, 'anchor'));
    expect(err.code).toBe('MR_ERR_TX_REVERTED');
    expect(err.message).toContain('EmptyHash()');
  });
});

describe('EvmAdapter.finalityProof', () => {
  const keys = Array.from({ length: 4 }, () => r.bytes(32));
  const validators = keys.map(addressOfKey);
  let proxy: QbftSealingProxy;

  const adapterAt = (rpcUrl: string) =>
    new EvmAdapter({
      name: 'chain-a',
      chainId: BigInt(CHAIN_A),
      rpcUrl,
      privateKey: devKey(1),
      contracts: { outbox: `0x${'00'.repeat(20)}`, inbox: `0x${'00'.repeat(20)}`, lightClients: {} },
    });

  beforeAll(async () => {
    proxy = await startQbftSealingProxy({ upstreamUrl: anvilA!.rpcUrl, validators, keys });
    closers.push(() => proxy.stop());
  });

  it("default: through a QBFT sealing node, returns a proof verifyFinality accepts with anvil's real stateRoot", async () => {
    const height = BigInt(await raw<string>(proxy.url, 'eth_blockNumber'));
    expect(height).toBeGreaterThan(5n);
    const proof = await adapterAt(proxy.url).finalityProof(height);
    const anvilBlock = await raw<{ stateRoot: string; timestamp: string }>(
      anvilA!.rpcUrl,
      'eth_getBlockByNumber',
      [`0x${height.toString(16)}`, false],
    );
    const sealedBlock = await raw<{ hash: string }>(proxy.url, 'eth_getBlockByNumber', [
      `0x${height.toString(16)}`,
      false,
    ]);
    expect(proof.height).toBe(height.toString());
    expect(proof.chainId).toBe(String(CHAIN_A));
    expect(proof.blockHash).toBe(sealedBlock.hash);
    const v = verifyFinality(proof, validators);
    expect(v.height).toBe(height);
    expect(v.stateRoot).toBe(anvilBlock.stateRoot);
    expect(v.timestamp).toBe(BigInt(anvilBlock.timestamp));
    expect(() =>
      verifyFinality(
        proof,
        Array.from({ length: 4 }, () => addressOfKey(r.bytes(32))),
      ),
    ).toThrow(ProofError);
  });

  it('error: a node whose block fields do not hash to its own hash → MR_ERR_HEADER_INCONSISTENT', async () => {
    const height = BigInt(await raw<string>(proxy.url, 'eth_blockNumber'));
    const honest = await raw<Record<string, unknown>>(proxy.url, 'eth_getBlockByNumber', [
      `0x${height.toString(16)}`,
      false,
    ]);

    // Control: the fake node serving the honest block is fine.
    const good = await fakeNode(honest);
    closers.push(good.close);
    expect((await adapterAt(good.url).finalityProof(height)).blockHash).toBe(honest.hash);

    for (const lie of [
      { stateRoot: rand32() },
      { timestamp: '0x1' },
      { receiptsRoot: rand32() },
      { number: '0x1' },
    ]) {
      const node = await fakeNode({ ...honest, ...lie });
      closers.push(node.close);
      const err = await rejection(adapterAt(node.url).finalityProof(height));
      expect(err.code, JSON.stringify(lie)).toBe('MR_ERR_HEADER_INCONSISTENT');
      expect(err.details.expected).toBe(honest.hash);
    }
  });

  it('error: a block whose extraData is not QBFT → a typed ProofError, not a proof', async () => {
    const height = BigInt(await raw<string>(proxy.url, 'eth_blockNumber'));
    const honest = await raw<Record<string, unknown>>(proxy.url, 'eth_getBlockByNumber', [
      `0x${height.toString(16)}`,
      false,
    ]);
    const node = await fakeNode({ ...honest, extraData: '0x' });
    closers.push(node.close);
    const err = await adapterAt(node.url)
      .finalityProof(height)
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(err).toBeInstanceOf(ProofError);
    expect((err as ProofError).code).toBe('MR_ERR_QBFT_EXTRA_DATA');
  });

  it('error: a node without the block → MR_ERR_BLOCK_MISSING (retryable)', async () => {
    const node = await fakeNode(null);
    closers.push(node.close);
    const err = await rejection(adapterAt(node.url).finalityProof(10_000n));
    expect(err.code).toBe('MR_ERR_BLOCK_MISSING');
    expect(err.retryable).toBe(true);
  });
});
