/**
 * Sends transactions from one relayer account: estimates gas first (a revert costs nothing and is decoded into
 * its custom error name), assigns the nonce, and bumps the fee of a transaction that is not mined in time by
 * re-sending the same nonce with a higher fee, as wallets do. Whichever version is mined wins.
 */
import { type Interface, Transaction, type Wallet } from 'ethers';
import type { Hex } from '../../proofs/bytes.js';
import { ChainError } from '../../proofs/errors.js';
import type { TxResult } from '../types.js';
import { NonceManager } from './nonce-manager.js';
import type { JsonRpcClient } from './rpc.js';

export interface FeePolicy {
  /** Percent added to both fee caps on each bump; nodes require at least 10 to replace. */
  bumpPercent: number;
  /** Seconds to wait for inclusion before bumping. */
  bumpAfterSec: number;
  /** Upper bound on maxFeePerGas, in wei. */
  maxFeeWei?: bigint;
  /** Give up after this many seconds without a receipt. */
  timeoutSec: number;
}

export const DEFAULT_FEE_POLICY: FeePolicy = { bumpPercent: 12, bumpAfterSec: 30, timeoutSec: 300 };

interface RpcReceipt {
  status: string;
  blockNumber: string;
  gasUsed: string;
  transactionHash: Hex;
}

function revertData(err: unknown): string | undefined {
  const e = err as { details?: { data?: unknown } };
  const d = e?.details?.data;
  return typeof d === 'string' && d.startsWith('0x') ? d : undefined;
}

export class TxSender {
  private readonly nonces: NonceManager;

  constructor(
    private readonly rpc: JsonRpcClient,
    private readonly wallet: Wallet,
    private readonly chainId: bigint,
    private readonly fees: FeePolicy = DEFAULT_FEE_POLICY,
    private readonly pollMs = 200,
  ) {
    this.nonces = new NonceManager(async () =>
      BigInt(await this.rpc.call<string>('eth_getTransactionCount', [this.wallet.address, 'pending'])),
    );
  }

  get address(): string {
    return this.wallet.address;
  }

  /**
   * Sends `data` to `to` and waits for the receipt. `iface` decodes custom errors; `what` names the call in errors.
   */
  async send(to: string, data: Hex, iface: Interface, what: string): Promise<TxResult> {
    const gas = await this.estimate(to, data, iface, what);
    const gasLimit = (gas * 12n) / 10n + 10_000n;
    const assign = () =>
      this.nonces.withNonce(async (n) => {
        const first = await this.broadcast(to, data, n, gasLimit, 0);
        return { hashes: [first], nonce: n };
      });
    let sent: { hashes: Hex[]; nonce: bigint };
    try {
      sent = await assign();
    } catch (err) {
      // Another process (or a restart with transactions in flight) used our nonce: the manager has dropped its
      // cache, so one more try picks up the node's pending count.
      if (!/nonce too low|nonce.*already been used/i.test(String((err as Error).message))) throw err;
      sent = await assign();
    }
    const { hashes, nonce } = sent;
    return this.waitMined(to, data, nonce, gasLimit, hashes, what);
  }

  private async estimate(to: string, data: Hex, iface: Interface, what: string): Promise<bigint> {
    try {
      return BigInt(
        await this.rpc.call<string>('eth_estimateGas', [{ from: this.wallet.address, to, data }]),
      );
    } catch (err) {
      const raw = revertData(err);
      if (raw) {
        const parsed = (() => {
          try {
            return iface.parseError(raw);
          } catch {
            return null;
          }
        })();
        const name = parsed ? `${parsed.name}(${parsed.args.map(String).join(', ')})` : raw.slice(0, 10);
        throw new ChainError('MR_ERR_TX_REVERTED', `${what} would revert: ${name}`, {
          cause: err,
          retryable: false,
          details: { errorName: parsed?.name ?? null },
        });
      }
      throw err;
    }
  }

  private async fees0(): Promise<{ maxFee: bigint; tip: bigint }> {
    const block = await this.rpc.call<{ baseFeePerGas?: string }>('eth_getBlockByNumber', ['latest', false]);
    const base = BigInt(block.baseFeePerGas ?? '0x0');
    const tip = 1_000_000_000n;
    let maxFee = base * 2n + tip;
    if (this.fees.maxFeeWei !== undefined && maxFee > this.fees.maxFeeWei) maxFee = this.fees.maxFeeWei;
    return { maxFee, tip };
  }

  private async broadcast(
    to: string,
    data: Hex,
    nonce: bigint,
    gasLimit: bigint,
    bumps: number,
  ): Promise<Hex> {
    const { maxFee, tip } = await this.fees0();
    const factor = BigInt(100 + this.fees.bumpPercent) ** BigInt(bumps);
    const scale = 100n ** BigInt(bumps);
    const tx = Transaction.from({
      type: 2,
      chainId: this.chainId,
      nonce: Number(nonce),
      to,
      data,
      gasLimit,
      maxFeePerGas: (maxFee * factor) / scale,
      maxPriorityFeePerGas: (tip * factor) / scale,
    });
    const signed = await this.wallet.signTransaction(tx);
    return this.rpc.call<Hex>('eth_sendRawTransaction', [signed]);
  }

  private async waitMined(
    to: string,
    data: Hex,
    nonce: bigint,
    gasLimit: bigint,
    hashes: Hex[],
    what: string,
  ): Promise<TxResult> {
    const started = Date.now();
    let lastBroadcast = Date.now();
    for (;;) {
      for (const h of hashes) {
        const r = await this.rpc.call<RpcReceipt | null>('eth_getTransactionReceipt', [h]);
        if (r) {
          if (r.status !== '0x1') {
            throw new ChainError('MR_ERR_TX_FAILED', `${what} reverted on chain in tx ${h}`, {
              retryable: false,
              details: { tx: h },
            });
          }
          return { hash: r.transactionHash, blockNumber: BigInt(r.blockNumber), gasUsed: BigInt(r.gasUsed) };
        }
      }
      const now = Date.now();
      if (now - started > this.fees.timeoutSec * 1000) {
        throw new ChainError('MR_ERR_TX_TIMEOUT', `${what}: not mined after ${this.fees.timeoutSec}s`, {
          retryable: true,
          details: { tx: hashes.at(-1) ?? null },
        });
      }
      if (now - lastBroadcast > this.fees.bumpAfterSec * 1000) {
        lastBroadcast = now;
        try {
          hashes.push(await this.broadcast(to, data, nonce, gasLimit, hashes.length));
        } catch (err) {
          // "nonce too low" here means a previous version was mined: the receipt loop will find it.
          if (!/nonce too low|already known|replacement/i.test(String((err as Error).message))) throw err;
        }
      }
      await new Promise((r) => setTimeout(r, this.pollMs));
    }
  }
}
