/**
 * The devnet QBFT sealing proxy in front of a real anvil: sealed headers verify with the same kernel the
 * light client mirrors, link by parentHash, keep anvil's roots, and eth_getProof verifies against them.
 */
import { JsonRpcProvider } from 'ethers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AnvilHandle, freePort, startAnvil } from '../../adapters/evm/devnet/anvil.js';
import { deriveValidatorKeys, QbftSealingProxy } from '../../adapters/evm/devnet/sealer.js';
import { bytesToHex, hexToBytes } from '../../proofs/bytes.js';
import { verifyEip1186 } from '../../proofs/eip1186.js';
import {
  applyHeader,
  type BftHeader,
  createQbftLightClient,
  decodeHeaderRlp,
  verifyQbftFinality,
} from '../../proofs/qbft.js';

type RpcBlock = BftHeader & { hash: string; transactions: unknown[]; [k: string]: unknown };

const { keys, validators } = deriveValidatorKeys('medrelay sealer integration test', 4);

let anvil: AnvilHandle;
let proxy: QbftSealingProxy;
let id = 0;

async function rpc<T>(url: string, method: string, params: unknown[] = []): Promise<T> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: ++id, method, params }),
  });
  const body = (await res.json()) as { result?: T; error?: { message: string } };
  if (body.error) throw new Error(`${method}: ${body.error.message}`);
  return body.result as T;
}

const hex = (n: number | bigint) => `0x${n.toString(16)}`;

describe('QbftSealingProxy over anvil', () => {
  let sender: string;
  let txHash: string;

  beforeAll(async () => {
    anvil = await startAnvil({ chainId: 31337, port: await freePort() });
    proxy = await QbftSealingProxy.start({
      upstreamUrl: anvil.rpcUrl,
      port: await freePort(),
      validators,
      keys,
    });
    sender = (await rpc<string[]>(proxy.url, 'eth_accounts'))[0]!;
    await rpc(proxy.url, 'evm_mine');
    txHash = await rpc<string>(proxy.url, 'eth_sendTransaction', [
      { from: sender, to: `0x${'42'.repeat(20)}`, value: '0xde0b6b3a7640000' },
    ]);
    await rpc(proxy.url, 'evm_mine');
  });

  afterAll(async () => {
    await proxy?.stop();
    await anvil?.stop();
  });

  it('serves sealed QBFT headers that verify, link and keep anvil roots', async () => {
    const head = Number(await rpc<string>(proxy.url, 'eth_blockNumber'));
    expect(head).toBeGreaterThanOrEqual(3);
    let state = createQbftLightClient(validators, { latestNumber: 0n });
    let parent = await rpc<RpcBlock>(proxy.url, 'eth_getBlockByNumber', ['0x0', false]);
    for (let n = 1; n <= head; n++) {
      const sealed = await rpc<RpcBlock>(proxy.url, 'eth_getBlockByNumber', [hex(n), false]);
      const raw = await rpc<RpcBlock>(anvil.rpcUrl, 'eth_getBlockByNumber', [hex(n), false]);
      const r = verifyQbftFinality(sealed, validators); // `hash` in the object is checked too
      expect(bytesToHex(r.blockHash)).toBe(sealed.hash);
      expect(r.signers).toHaveLength(3);
      expect(sealed.parentHash).toBe(parent.hash);
      expect(sealed.stateRoot).toBe(raw.stateRoot);
      expect(sealed.receiptsRoot).toBe(raw.receiptsRoot);
      expect(sealed.transactionsRoot).toBe(raw.transactionsRoot);
      expect(sealed.hash).not.toBe(raw.hash);
      expect(sealed.miner).toBe(validators[n % 4]);
      expect(sealed.difficulty).toBe('0x1');
      expect(sealed.transactions).toEqual(raw.transactions);
      // same header by hash, and as RLP through the custom method
      const byHash = await rpc<RpcBlock>(proxy.url, 'eth_getBlockByHash', [sealed.hash, false]);
      expect(byHash.hash).toBe(sealed.hash);
      const rlp = await rpc<string>(proxy.url, 'medrelay_getSealedHeaderRlp', [hex(n)]);
      const decoded = decodeHeaderRlp(hexToBytes(rlp));
      expect(decoded.extraData).toBe(sealed.extraData);
      expect(
        bytesToHex(verifyQbftFinality(hexToBytes(rlp), validators, { expectedHash: sealed.hash }).blockHash),
      ).toBe(sealed.hash);
      state = applyHeader(state, hexToBytes(rlp));
      parent = sealed;
    }
    expect(state.latestNumber).toBe(BigInt(head));
  });

  it('eth_getProof through the proxy verifies against the sealed stateRoot', async () => {
    const receipt = await rpc<{ blockNumber: string; blockHash: string }>(
      proxy.url,
      'eth_getTransactionReceipt',
      [txHash],
    );
    const sealed = await rpc<RpcBlock>(proxy.url, 'eth_getBlockByNumber', [receipt.blockNumber, true]);
    // receipts and full transactions name the sealed block, as on a Besu node
    expect(receipt.blockHash).toBe(sealed.hash);
    expect((sealed.transactions[0] as { blockHash: string }).blockHash).toBe(sealed.hash);
    const fin = verifyQbftFinality(sealed, validators);
    const proof = await rpc<Parameters<typeof verifyEip1186>[1]>(proxy.url, 'eth_getProof', [
      sender,
      [],
      receipt.blockNumber,
    ]);
    const verified = verifyEip1186(fin.stateRoot, proof);
    expect(verified).toBeTruthy();
    // a block-hash block tag (EIP-1898) with the sealed hash works too
    const byHash = await rpc<typeof proof>(proxy.url, 'eth_getProof', [
      sender,
      [],
      { blockHash: sealed.hash },
    ]);
    expect(byHash.accountProof).toEqual(proof.accountProof);
  });

  it('concurrent and batched requests see one consistent sealed chain', async () => {
    for (let i = 0; i < 3; i++) await rpc(proxy.url, 'evm_mine');
    const head = Number(await rpc<string>(proxy.url, 'eth_blockNumber'));
    const numbers = Array.from({ length: head + 1 }, (_, i) => head - i);
    const blocks = await Promise.all(
      numbers.map((n) => rpc<RpcBlock>(proxy.url, 'eth_getBlockByNumber', [hex(n), false])),
    );
    const batchRes = await fetch(proxy.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(
        numbers.map((n, i) => ({
          jsonrpc: '2.0',
          id: i,
          method: 'eth_getBlockByNumber',
          params: [hex(n), false],
        })),
      ),
    });
    const batch = (await batchRes.json()) as { result: RpcBlock }[];
    expect(batch.map((b) => b.result.hash)).toEqual(blocks.map((b) => b.hash));
    for (let i = 0; i < blocks.length - 1; i++) expect(blocks[i]!.parentHash).toBe(blocks[i + 1]!.hash);
    // ethers (which batches) reads the same chain
    const provider = new JsonRpcProvider(proxy.url, 31337, { staticNetwork: true });
    const latest = await provider.getBlock(head);
    expect(latest?.hash).toBe(blocks[0]!.hash);
    provider.destroy();
  });

  it('re-seals after an anvil revert; hashes of reverted blocks disappear', async () => {
    const snap = await rpc<string>(proxy.url, 'evm_snapshot');
    await rpc(proxy.url, 'evm_mine');
    const head = Number(await rpc<string>(proxy.url, 'eth_blockNumber'));
    const before = await rpc<RpcBlock>(proxy.url, 'eth_getBlockByNumber', [hex(head), false]);
    await rpc(proxy.url, 'evm_revert', [snap]);
    await rpc(proxy.url, 'evm_mine', [hex(Number(before.timestamp) + 7)]);
    const after = await rpc<RpcBlock>(proxy.url, 'eth_getBlockByNumber', [hex(head), false]);
    expect(after.hash).not.toBe(before.hash);
    expect(verifyQbftFinality(after, validators).number).toBe(BigInt(head));
    expect(await rpc(proxy.url, 'eth_getBlockByHash', [before.hash, false])).toBeNull();
  });
});
