/**
 * Shared plumbing of the application clients: one JSON-RPC connection, an optional signing key (writes go through
 * the adapter's TxSender: `eth_estimateGas` first, so a call that would revert is refused before anything is
 * signed, then nonce management and fee bumping), typed reads and decoded receipts.
 */
import {
  Interface,
  type InterfaceAbi,
  keccak256,
  type LogDescription,
  type Result,
  toUtf8Bytes,
  Wallet,
} from 'ethers';
import type { Hex } from '../../../proofs/bytes.js';
import { ChainError, MedrelayError } from '../../../proofs/errors.js';
import { type ContractName, loadArtifact } from '../contracts/artifacts.js';
import { JsonRpcClient, type RpcLog } from '../rpc.js';
import { DEFAULT_FEE_POLICY, type FeePolicy, TxSender } from '../tx-sender.js';
import { ClientError, clientConfig, clientInput } from './errors.js';

export const ZERO32 = `0x${'00'.repeat(32)}` as Hex;
const BYTES32_RE = /^0x[0-9a-fA-F]{64}$/;
const ADDRESS_RE = /^0x[0-9a-fA-F]{40}$/;

/** Where a client talks to: RPC URL, chain id and (for writes) the signing key of its institution / submitter. */
export interface ChainConnection {
  rpcUrl: string;
  chainId: bigint | number;
  /** secp256k1 key; required for writes (and, for a hospital, for signing anchors). */
  privateKey?: string;
  fees?: Partial<FeePolicy>;
}

export interface WriteResult {
  txHash: Hex;
  blockNumber: bigint;
  gasUsed: bigint;
  /** Events of the called contract (and of `alsoDecode` contracts) in the receipt, in log order. */
  events: LogDescription[];
}

const ifaces = new Map<string, Interface>();

/** ethers Interface of a compiled medrelay contract (cached). */
export function contractInterface(name: ContractName): Interface {
  let i = ifaces.get(name);
  if (!i) {
    i = new Interface(loadArtifact(name).abi as InterfaceAbi);
    ifaces.set(name, i);
  }
  return i;
}

const ERROR_SOURCES: ContractName[] = [
  'Outbox',
  'Inbox',
  'RecordRegistry',
  'RecordProofSender',
  'RecordProofStore',
  'ConsentRegistry',
  'ConsentMirror',
  'DisclosureVerifier',
  'CodeMapRegistry',
  'AuditLog',
  'ReferralGateway',
  'DepositToken',
  'SettlementGateway',
  'ClaimSubmitter',
  'ClaimSettlement',
];
let allErrors: Interface | undefined;

/** One Interface with every custom error of the medrelay apps (a revert may come from a nested contract). */
export function medrelayErrors(): Interface {
  if (allErrors) return allErrors;
  const seen = new Map<string, string>();
  for (const n of ERROR_SOURCES) {
    contractInterface(n).forEachError((e) => {
      if (!seen.has(e.selector)) seen.set(e.selector, e.format('full'));
    });
  }
  allErrors = new Interface([...seen.values()]);
  return allErrors;
}

/** Decodes revert data of a medrelay contract: `{ name, args }`, or null when it is not a known custom error. */
export function decodeRevert(data: string): { name: string; args: unknown[] } | null {
  try {
    const e = medrelayErrors().parseError(data);
    return e ? { name: e.name, args: [...e.args] } : null;
  } catch {
    return null;
  }
}

export function bytes32(v: unknown, field: string): Hex {
  if (typeof v !== 'string' || !BYTES32_RE.test(v)) clientInput(field, '0x + 64 hex digits (bytes32)');
  return v.toLowerCase() as Hex;
}

export function address(v: unknown, field: string): Hex {
  if (typeof v !== 'string' || !ADDRESS_RE.test(v)) clientInput(field, '0x + 40 hex digits (address)');
  return v as Hex;
}

/** keccak256 of a FHIR literal reference (`Organization/hospital-b`): how contracts name recipients. */
export function referenceHash(reference: string): Hex {
  if (typeof reference !== 'string' || !/^[A-Z][A-Za-z]{0,63}\/[A-Za-z0-9.-]{1,64}$/.test(reference))
    clientInput('reference', 'a FHIR literal reference such as Organization/hospital-b');
  return keccak256(toUtf8Bytes(reference)) as Hex;
}

/** A bytes32 as is, or the hash of a FHIR reference. */
export function refOrHash(v: string, field: string): Hex {
  if (typeof v === 'string' && BYTES32_RE.test(v)) return v.toLowerCase() as Hex;
  if (typeof v === 'string' && /^[A-Z][A-Za-z]{0,63}\//.test(v)) return referenceHash(v);
  return clientInput(field, 'bytes32 or a FHIR literal reference');
}

/** uint64 from a bigint or a safe integer. */
export function uint64(v: unknown, field: string): bigint {
  let n: bigint;
  if (typeof v === 'bigint') n = v;
  else if (typeof v === 'number' && Number.isSafeInteger(v)) n = BigInt(v);
  else return clientInput(field, 'an unsigned integer');
  if (n < 0n || n >= 1n << 64n) clientInput(field, 'a uint64');
  return n;
}

export class ChainClient {
  readonly rpc: JsonRpcClient;
  readonly chainId: bigint;
  private readonly wallet: Wallet | undefined;
  private readonly sender: TxSender | undefined;

  constructor(conn: ChainConnection) {
    if (typeof conn?.rpcUrl !== 'string' || conn.rpcUrl.length === 0) clientInput('rpcUrl', 'a URL');
    this.chainId = uint64(conn.chainId, 'chainId');
    this.rpc = new JsonRpcClient(conn.rpcUrl);
    if (conn.privateKey !== undefined) {
      try {
        this.wallet = new Wallet(conn.privateKey);
      } catch {
        clientInput('privateKey', 'a secp256k1 private key');
      }
      this.sender = new TxSender(this.rpc, this.wallet, this.chainId, {
        ...DEFAULT_FEE_POLICY,
        bumpAfterSec: 15,
        ...conn.fees,
      });
    }
  }

  /** The signer's address (EIP-55). */
  get address(): Hex {
    if (!this.wallet) clientConfig('privateKey (writes need a signing key)');
    return this.wallet.address as Hex;
  }

  /** The signer's private key (for off-chain signatures of its own institution). */
  get privateKey(): Hex {
    if (!this.wallet) clientConfig('privateKey');
    return this.wallet.privateKey as Hex;
  }

  async read(to: string, contract: ContractName, fn: string, args: unknown[]): Promise<Result> {
    const iface = contractInterface(contract);
    const data = iface.encodeFunctionData(fn, args);
    const raw = await this.rpc.call<Hex>('eth_call', [{ to, data }, 'latest']);
    return iface.decodeFunctionResult(fn, raw);
  }

  /**
   * Sends `fn(args)` to `to` and waits for the receipt. A call that would revert throws
   * `MR_ERR_CLIENT_REVERTED` (details.errorName) before anything is sent.
   */
  async write(
    to: string,
    contract: ContractName,
    fn: string,
    args: unknown[],
    alsoDecode: readonly { address: string; contract: ContractName }[] = [],
  ): Promise<WriteResult> {
    if (!this.sender) clientConfig('privateKey (writes need a signing key)');
    const iface = contractInterface(contract);
    const data = iface.encodeFunctionData(fn, args) as Hex;
    let tx: Awaited<ReturnType<TxSender['send']>>;
    try {
      tx = await this.sender.send(to, data, medrelayErrors(), `${contract}.${fn}`);
    } catch (err) {
      if (err instanceof ChainError && err.code === 'MR_ERR_TX_REVERTED') {
        const errorName = (err.details.errorName as string | null) ?? 'unknown';
        throw new ClientError('MR_ERR_CLIENT_REVERTED', err.message, {
          details: { contract, fn, errorName },
          cause: err,
        });
      }
      throw err;
    }
    const receipt = await this.rpc.call<{ logs: RpcLog[] }>('eth_getTransactionReceipt', [tx.hash]);
    const decoders = new Map<string, Interface>([[to.toLowerCase(), iface]]);
    for (const a of alsoDecode) decoders.set(a.address.toLowerCase(), contractInterface(a.contract));
    const events: LogDescription[] = [];
    for (const log of receipt.logs) {
      const d = decoders.get(log.address.toLowerCase());
      const parsed = d?.parseLog({ topics: log.topics, data: log.data });
      if (parsed) events.push(parsed);
    }
    return { txHash: tx.hash, blockNumber: tx.blockNumber, gasUsed: tx.gasUsed, events };
  }

  async latestTimestamp(): Promise<bigint> {
    const b = await this.rpc.call<{ timestamp: string }>('eth_getBlockByNumber', ['latest', false]);
    return BigInt(b.timestamp);
  }

  /** Logs of `address` with `topics` (null = any), in chain order. */
  async logs(address: string, topics: (string | null)[], fromBlock = 0n): Promise<RpcLog[]> {
    return this.rpc.call<RpcLog[]>('eth_getLogs', [
      { address, topics, fromBlock: `0x${fromBlock.toString(16)}`, toBlock: 'latest' },
    ]);
  }
}

/** Code of a MedrelayError (or undefined). */
export function errorCodeOf(err: unknown): string | undefined {
  return err instanceof MedrelayError ? err.code : undefined;
}
