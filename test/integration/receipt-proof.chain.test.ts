/**
 * Receipt-trie proofs from a live chain: the EVM adapter rebuilds a block's receipt trie from the node's
 * receipts, and the kernel verifies the PacketSent log against the receiptsRoot of a QBFT-sealed header.
 */
import { randomBytes } from 'node:crypto';
import { Contract, Interface, type InterfaceAbi, JsonRpcProvider, NonceManager, Wallet } from 'ethers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EvmAdapter } from '../../adapters/evm/adapter.js';
import { loadArtifact } from '../../adapters/evm/contracts/artifacts.js';
import { freePort } from '../../adapters/evm/devnet/anvil.js';
import {
  DEV_ACCOUNT,
  type Devnet,
  devKey,
  devnetSignedAnchor,
  startDevnet,
} from '../../adapters/evm/devnet/network.js';
import { bytesToHex, type Hex, hexToBytes } from '../../proofs/bytes.js';
import { decodePacket, packetId } from '../../proofs/packet.js';
import { verifyQbftFinality } from '../../proofs/qbft.js';
import { verifyReceiptProof } from '../../proofs/receipts.js';

describe('receipt proofs from a QBFT-sealed devnet chain', () => {
  let devnet: Devnet;
  let adapter: EvmAdapter;
  let txHash: Hex;
  let provider: JsonRpcProvider;

  beforeAll(async () => {
    const p = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
    devnet = await startDevnet({
      chains: [
        { name: 'medical-a', chainId: 42001, port: p[0]!, anvilPort: p[1]!, role: 'medical' },
        { name: 'insurer', chainId: 42003, port: p[2]!, anvilPort: p[3]!, role: 'insurer' },
      ],
      channels: [{ name: 'records', source: 'medical-a', dest: 'insurer' }],
      blockTime: 0.5,
    });
    const chain = devnet.chain('medical-a');
    adapter = new EvmAdapter({
      name: 'medical-a',
      chainId: 42001n,
      rpcUrl: chain.rpcUrl,
      privateKey: devKey(DEV_ACCOUNT.relayer),
      contracts: {
        outbox: chain.contracts.outbox,
        inbox: chain.contracts.inbox,
        lightClients: chain.contracts.lightClients,
      },
    });
    provider = new JsonRpcProvider(chain.rpcUrl, 42001, { staticNetwork: true, pollingInterval: 100 });
    const hospital = new NonceManager(new Wallet(devKey(DEV_ACCOUNT.hospital), provider));
    const registry = new Contract(
      chain.contracts.recordRegistry,
      loadArtifact('RecordRegistry').abi as InterfaceAbi,
      hospital,
    );
    const sender = new Contract(
      chain.contracts.recordProofSender,
      loadArtifact('RecordProofSender').abi as InterfaceAbi,
      hospital,
    );
    const recordId = bytesToHex(randomBytes(32));
    await (
      await registry.getFunction('anchorSigned')(
        ...devnetSignedAnchor(chain.spec.chainId, recordId, bytesToHex(randomBytes(32))),
      )
    ).wait();
    // Several transactions in one block, so the proof is for a receipt among others.
    const txs = [];
    for (let i = 0; i < 3; i++) {
      txs.push(
        await sender.getFunction('sendRecordProof')(
          devnet.channels[0]!.id,
          devnet.chain('insurer').contracts.recordProofStore,
          recordId,
          `0x${'00'.repeat(32)}`,
          0,
        ),
      );
    }
    const receipts = await Promise.all(txs.map((t) => t.wait()));
    txHash = receipts[1]!.hash as Hex;
  });

  afterAll(async () => {
    provider?.destroy();
    await devnet?.stop();
  });

  it('default: the PacketSent log is proven against the receiptsRoot of a finality-verified header', async () => {
    const proof = await adapter.receiptProof(txHash);
    const finality = await adapter.finalityProof(BigInt(proof.blockNumber));
    const header = verifyQbftFinality(hexToBytes(finality.header), devnet.chain('medical-a').validators);
    expect(bytesToHex(header.receiptsRoot)).toBe(proof.receiptsRoot.toLowerCase());

    const receipt = verifyReceiptProof(header.receiptsRoot, proof.index, proof.proof);
    expect(receipt.status).toBe(1);
    const outbox = new Interface(loadArtifact('Outbox').abi as InterfaceAbi);
    const sentLogs = receipt.logs
      .filter((l) => l.address.toLowerCase() === devnet.chain('medical-a').contracts.outbox.toLowerCase())
      .map((l) => outbox.parseLog({ topics: l.topics, data: l.data }))
      .filter((l) => l?.name === 'PacketSent');
    expect(sentLogs).toHaveLength(1);
    const packet = decodePacket(hexToBytes(sentLogs[0]!.args.packet as string));
    expect(packetId(packet)).toBe((sentLogs[0]!.args.id as string).toLowerCase());
    expect(packet.sequence).toBe(2n);
  });

  it('error: a tampered receipt or proof node does not verify', async () => {
    const proof = await adapter.receiptProof(txHash);
    const finality = await adapter.finalityProof(BigInt(proof.blockNumber));
    const header = verifyQbftFinality(hexToBytes(finality.header), devnet.chain('medical-a').validators);
    const nodes = proof.proof.map((n) => hexToBytes(n));
    const last = nodes.at(-1)!;
    last[last.length - 5]! ^= 0x01; // a byte of the receipt inside the leaf
    expect(() => verifyReceiptProof(header.receiptsRoot, proof.index, nodes)).toThrow();
    expect(() => verifyReceiptProof(header.receiptsRoot, proof.index + 1, proof.proof)).toThrow();
  });
});
