/**
 * ChainAdapter for EVM chains (Besu/QBFT consortium chains; anvil devnets behind the QBFT sealing proxy).
 * Reads go through a retrying JSON-RPC client; writes through a TxSender with its own nonce manager and fee
 * bumping. Proofs are plain `eth_getProof` / block headers: nothing here trusts the node, the relayer verifies
 * everything with `proofs/` before paying gas, and the destination contracts verify it again.
 */
import { Interface, type InterfaceAbi, Wallet } from 'ethers';
import { bytesToHex, type Hex, hexToBytes } from '../../proofs/bytes.js';
import { ChainError } from '../../proofs/errors.js';
import { decodePacket, type Packet } from '../../proofs/packet.js';
import { type BftHeader, encodeBftHeader, qbftBlockHash } from '../../proofs/qbft.js';
import type {
  AcknowledgeRequest,
  ChainAdapter,
  ChainEvents,
  ChainHealth,
  ChainInfo,
  CommitmentProof,
  FinalityProof,
  LightClientState,
  ReceiveRequest,
  TimeoutRequest,
  TxResult,
} from '../types.js';
import { loadArtifact } from './contracts/artifacts.js';
import { buildReceiptProof, type ReceiptProof, type RpcReceipt } from './receipts.js';
import { JsonRpcClient, type RpcLog } from './rpc.js';
import { mappingSlot, SLOT } from './storage.js';
import { DEFAULT_FEE_POLICY, type FeePolicy, TxSender } from './tx-sender.js';

export interface EvmAdapterConfig {
  name: string;
  chainId: bigint;
  rpcUrl: string;
  privateKey: string;
  contracts: {
    outbox: Hex;
    inbox: Hex;
    /** Light client on this chain for each remote chain id (decimal string). */
    lightClients: Record<string, Hex>;
  };
  fees?: Partial<FeePolicy>;
  /** Max block span of one eth_getLogs call. */
  logSpan?: bigint;
  onRpcError?: (err: ChainError) => void;
}

interface RpcProof {
  accountProof: Hex[];
  storageProof: { key: string; value: string; proof: Hex[] }[];
}

const toQuantity = (n: bigint): string => `0x${n.toString(16)}`;

function packetTuple(p: Packet) {
  return {
    version: p.version,
    sourceChain: p.sourceChain,
    destChain: p.destChain,
    channel: p.channel,
    sequence: p.sequence,
    sender: p.sender,
    receiver: p.receiver,
    timeoutHeight: p.timeoutHeight,
    timeoutTimestamp: p.timeoutTimestamp,
    kind: p.kind,
    payload: p.payload,
  };
}

function abiOf(name: string): InterfaceAbi {
  return loadArtifact(name).abi as InterfaceAbi;
}

export class EvmAdapter implements ChainAdapter {
  readonly info: ChainInfo;
  readonly rpc: JsonRpcClient;
  private readonly sender: TxSender;
  private readonly outbox: Interface;
  private readonly inbox: Interface;
  private readonly lightClient: Interface;

  constructor(private readonly cfg: EvmAdapterConfig) {
    this.info = { name: cfg.name, chainId: cfg.chainId, family: 'evm' };
    this.rpc = new JsonRpcClient(cfg.rpcUrl, { onError: cfg.onRpcError });
    let wallet: Wallet;
    try {
      wallet = new Wallet(cfg.privateKey);
    } catch (cause) {
      throw new ChainError(
        'MR_ERR_KEY_MALFORMED',
        `${cfg.name}: the relayer signing key is not a valid key`,
        {
          cause,
        },
      );
    }
    this.sender = new TxSender(this.rpc, wallet, cfg.chainId, { ...DEFAULT_FEE_POLICY, ...cfg.fees });
    this.outbox = new Interface(abiOf('Outbox'));
    this.inbox = new Interface(abiOf('Inbox'));
    this.lightClient = new Interface(abiOf('QbftLightClient'));
  }

  get signerAddress(): string {
    return this.sender.address;
  }

  /**
   * Sends an application transaction (e.g. an AuditLog anchor) from the relayer key through the adapter's own
   * nonce manager and fee bumping, so it never races the relay transactions for a nonce.
   */
  sendTransaction(to: Hex, data: Hex, iface: Interface, what: string): Promise<TxResult> {
    return this.sender.send(to, data, iface, what);
  }

  async health(): Promise<ChainHealth> {
    try {
      const h = await this.finalizedHeight();
      return { ok: true, height: h.toString() };
    } catch (err) {
      return { ok: false, error: (err as Error).message };
    }
  }

  async close(): Promise<void> {}

  /** QBFT gives immediate finality: the latest block is final once sealed. */
  async finalizedHeight(): Promise<bigint> {
    return BigInt(await this.rpc.call<string>('eth_blockNumber', []));
  }

  async finalityProof(height: bigint): Promise<FinalityProof> {
    const block = await this.rpc.call<(BftHeader & { hash: Hex }) | null>('eth_getBlockByNumber', [
      toQuantity(height),
      false,
    ]);
    if (!block) {
      throw new ChainError('MR_ERR_BLOCK_MISSING', `${this.info.name}: block ${height} not found`, {
        retryable: true,
      });
    }
    // Besu's QBFT block hash leaves the commit seals and round out, so it is not keccak(rlp(header)).
    const rlp = encodeBftHeader(block);
    const hash = bytesToHex(qbftBlockHash(rlp));
    if (hash !== block.hash.toLowerCase()) {
      // A node whose header fields do not hash to its own block hash is lying or broken: never relay that.
      throw new ChainError('MR_ERR_HEADER_INCONSISTENT', `${this.info.name}: block ${height} hash mismatch`, {
        details: { expected: block.hash, computed: hash },
      });
    }
    return {
      chainId: this.info.chainId.toString(),
      height: height.toString(),
      blockHash: hash,
      stateRoot: block.stateRoot as Hex,
      timestamp: BigInt(block.timestamp).toString(),
      header: bytesToHex(rlp),
    };
  }

  async events(from: bigint, to: bigint): Promise<ChainEvents> {
    const out: ChainEvents = { sent: [], received: [], acknowledged: [], timedOut: [] };
    const span = this.cfg.logSpan ?? 5000n;
    for (let lo = from; lo <= to; lo += span) {
      const hi = lo + span - 1n < to ? lo + span - 1n : to;
      const logs = await this.rpc.call<RpcLog[]>('eth_getLogs', [
        {
          fromBlock: toQuantity(lo),
          toBlock: toQuantity(hi),
          address: [this.cfg.contracts.outbox, this.cfg.contracts.inbox],
        },
      ]);
      for (const log of logs) this.collect(log, out);
    }
    return out;
  }

  private collect(log: RpcLog, out: ChainEvents): void {
    if (log.removed) return;
    const addr = log.address.toLowerCase();
    const iface =
      addr === this.cfg.contracts.outbox.toLowerCase()
        ? this.outbox
        : addr === this.cfg.contracts.inbox.toLowerCase()
          ? this.inbox
          : undefined;
    const parsed = iface?.parseLog({ topics: log.topics, data: log.data });
    if (!parsed) return;
    const height = BigInt(log.blockNumber);
    const txHash = log.transactionHash;
    const a = parsed.args;
    switch (parsed.name) {
      case 'PacketSent': {
        const packetHex = a.packet as Hex;
        const packet = decodePacket(hexToBytes(packetHex, 'packet'));
        out.sent.push({ id: (a.id as string).toLowerCase() as Hex, packet, packetHex, height, txHash });
        break;
      }
      case 'PacketReceived':
        out.received.push({
          channel: a.channel as Hex,
          sequence: BigInt(a.sequence),
          id: a.id as Hex,
          status: Number(a.status),
          result: a.result as Hex,
          height,
          txHash,
        });
        break;
      case 'PacketAcknowledged':
        out.acknowledged.push({
          channel: a.channel as Hex,
          sequence: BigInt(a.sequence),
          id: a.id as Hex,
          status: Number(a.status),
          height,
          txHash,
        });
        break;
      case 'PacketTimedOut':
        out.timedOut.push({
          channel: a.channel as Hex,
          sequence: BigInt(a.sequence),
          id: a.id as Hex,
          height,
          txHash,
        });
        break;
    }
  }

  private async storageProof(contract: Hex, slot: Hex, height: bigint): Promise<CommitmentProof> {
    const p = await this.rpc.call<RpcProof>('eth_getProof', [contract, [slot], toQuantity(height)]);
    const sp = p.storageProof[0];
    if (!sp)
      throw new ChainError(
        'MR_ERR_PROOF_MISSING',
        `${this.info.name}: eth_getProof returned no storage proof`,
      );
    return {
      height: height.toString(),
      contract,
      slot,
      value: `0x${BigInt(sp.value).toString(16).padStart(64, '0')}`,
      accountProof: p.accountProof,
      storageProof: sp.proof,
    };
  }

  /**
   * Proof that transaction `txHash`'s receipt (with its logs) is in its block's receipt trie; verify it with
   * `verifyReceiptProof` against the receiptsRoot of a finality-verified header.
   */
  async receiptProof(txHash: Hex): Promise<ReceiptProof> {
    const r = await this.rpc.call<(RpcReceipt & { blockNumber: string }) | null>(
      'eth_getTransactionReceipt',
      [txHash],
    );
    if (!r)
      throw new ChainError('MR_ERR_RECEIPT_MISSING', `${this.info.name}: no receipt for ${txHash}`, {
        retryable: true,
      });
    const block = await this.rpc.call<{ receiptsRoot: Hex }>('eth_getBlockByNumber', [r.blockNumber, false]);
    const receipts = await this.rpc.call<RpcReceipt[]>('eth_getBlockReceipts', [r.blockNumber]);
    return buildReceiptProof(
      BigInt(r.blockNumber),
      block.receiptsRoot,
      receipts,
      Number(BigInt(r.transactionIndex)),
    );
  }

  sendCommitmentProof(channel: Hex, height: bigint): Promise<CommitmentProof> {
    return this.storageProof(this.cfg.contracts.outbox, mappingSlot(channel, SLOT.outboxSendRoot), height);
  }

  ackCommitmentProof(channel: Hex, height: bigint): Promise<CommitmentProof> {
    return this.storageProof(this.cfg.contracts.inbox, mappingSlot(channel, SLOT.inboxAckRoot), height);
  }

  nextRecvProof(channel: Hex, height: bigint): Promise<CommitmentProof> {
    return this.storageProof(this.cfg.contracts.inbox, mappingSlot(channel, SLOT.inboxNextRecv), height);
  }

  private async view(iface: Interface, to: Hex, fn: string, args: unknown[]): Promise<bigint> {
    const data = iface.encodeFunctionData(fn, args);
    const raw = await this.rpc.call<Hex>('eth_call', [{ to, data }, 'latest']);
    return BigInt(iface.decodeFunctionResult(fn, raw)[0] as bigint);
  }

  nextSequence(channel: Hex): Promise<bigint> {
    return this.view(this.outbox, this.cfg.contracts.outbox, 'nextSequence', [channel]);
  }

  async nextRecv(channel: Hex): Promise<bigint> {
    const n = await this.view(this.inbox, this.cfg.contracts.inbox, 'nextRecv', [channel]);
    return n === 0n ? 1n : n; // an untouched channel expects sequence 1
  }

  ackedUpTo(channel: Hex): Promise<bigint> {
    return this.view(this.outbox, this.cfg.contracts.outbox, 'ackedUpTo', [channel]);
  }

  private lightClientFor(remoteChainId: bigint): Hex {
    const lc = this.cfg.contracts.lightClients[remoteChainId.toString()];
    if (!lc) {
      throw new ChainError(
        'MR_ERR_NO_LIGHT_CLIENT',
        `${this.info.name} has no light client for chain ${remoteChainId}`,
      );
    }
    return lc;
  }

  trustedHeight(remoteChainId: bigint): Promise<bigint> {
    return this.view(this.lightClient, this.lightClientFor(remoteChainId), 'latestNumber', []);
  }

  async isTrusted(remoteChainId: bigint, height: bigint): Promise<boolean> {
    const root = await this.view(this.lightClient, this.lightClientFor(remoteChainId), 'stateRoot', [height]);
    return root !== 0n;
  }

  async trustedValidators(remoteChainId: bigint): Promise<string[]> {
    const iface = this.lightClient;
    const data = iface.encodeFunctionData('validators', []);
    const raw = await this.rpc.call<Hex>('eth_call', [
      { to: this.lightClientFor(remoteChainId), data },
      'latest',
    ]);
    return (iface.decodeFunctionResult('validators', raw)[0] as string[]).map((a) => a.toLowerCase());
  }

  async lightClientState(remoteChainId: bigint): Promise<LightClientState> {
    const lc = this.lightClientFor(remoteChainId);
    // One block for all four reads, so a concurrent update cannot tear the view.
    const tag = await this.rpc.call<string>('eth_blockNumber', []);
    const read = async (fn: string): Promise<unknown> => {
      const data = this.lightClient.encodeFunctionData(fn, []);
      const raw = await this.rpc.call<Hex>('eth_call', [{ to: lc, data }, tag]);
      return this.lightClient.decodeFunctionResult(fn, raw)[0];
    };
    const [latestNumber, validatorsSince, epoch, validators] = await Promise.all([
      read('latestNumber'),
      read('validatorsSince'),
      read('epoch'),
      read('validators'),
    ]);
    return {
      latestNumber: BigInt(latestNumber as bigint),
      validatorsSince: BigInt(validatorsSince as bigint),
      epoch: BigInt(epoch as bigint),
      validators: [...(validators as string[])].map((a) => a.toLowerCase()),
    };
  }

  updateClient(remoteChainId: bigint, header: FinalityProof): Promise<TxResult> {
    const data = this.lightClient.encodeFunctionData('updateHeader', [header.header]) as Hex;
    return this.sender.send(
      this.lightClientFor(remoteChainId),
      data,
      this.lightClient,
      'QbftLightClient.updateHeader',
    );
  }

  receivePackets(req: ReceiveRequest): Promise<TxResult> {
    const packets = req.packets.map(packetTuple);
    const common = [
      BigInt(req.proof.height),
      req.proof.accountProof,
      req.proof.storageProof,
      packets,
      req.rangeProof,
    ];
    const data = (
      req.header
        ? this.inbox.encodeFunctionData('updateAndReceive', [req.header.header, ...common])
        : this.inbox.encodeFunctionData('receivePackets', common)
    ) as Hex;
    return this.sender.send(this.cfg.contracts.inbox, data, this.inbox, 'Inbox.receivePackets');
  }

  acknowledgePackets(req: AcknowledgeRequest): Promise<TxResult> {
    const data = this.outbox.encodeFunctionData('acknowledgePackets', [
      BigInt(req.proof.height),
      req.proof.accountProof,
      req.proof.storageProof,
      req.packets.map(packetTuple),
      req.statuses,
      req.results,
      req.rangeProof,
    ]) as Hex;
    return this.sender.send(this.cfg.contracts.outbox, data, this.outbox, 'Outbox.acknowledgePackets');
  }

  timeoutPacket(req: TimeoutRequest): Promise<TxResult> {
    const data = this.outbox.encodeFunctionData('timeoutPacket', [
      BigInt(req.proof.height),
      req.proof.accountProof,
      req.proof.storageProof,
      packetTuple(req.packet),
    ]) as Hex;
    return this.sender.send(this.cfg.contracts.outbox, data, this.outbox, 'Outbox.timeoutPacket');
  }
}
