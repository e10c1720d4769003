/**
 * Reads settlement state from the chains' SettlementGateway contracts (ethers v6 Interface/AbiCoder over the
 * relayer's retrying JSON-RPC client): a payment by UETR, assembled from
 *  - the source gateway's `payment(uetr)` view (status, amount, channel, packet id),
 *  - its `SettlementLocked` log (block, transaction) and, in the same transaction receipt, the Outbox
 *    `PacketSent` log of the packet id: the full `Settlement` payload (creditor, currencies, quote, reference),
 *    checked to hash to the packet id the gateway stored,
 *  - the `SettlementReleased` / `SettlementRefunded` log once final (when, why, the destination's answer),
 *  - the destination gateway's `receipt(uetr)` view (the payout);
 * and the views reconciliation needs (ledgers, escrow, token balances, routes).
 *
 * Log lookups scan backwards from the head in spans of `logSpan` blocks (nodes cap `eth_getLogs` ranges), down to
 * the chain's `startHeight`; recent payments are found in the first span. Final payments are cached (they never
 * change again); pending ones are read afresh every time.
 */
import { getAddress, type Interface, type Result } from 'ethers';
import { contractInterface } from '../../adapters/evm/clients/chain.js';
import type { RpcLog } from '../../adapters/evm/rpc.js';
import { type Hex, hexToBytes } from '../../proofs/bytes.js';
import { MedrelayError } from '../../proofs/errors.js';
import { decodePacket, packetId } from '../../proofs/packet.js';
import {
  CURRENCIES,
  type Currency,
  currencyByNumeric,
  type Money,
  money,
} from '../../proofs/settlement/money.js';
import type { SettlementChain, SettlementTopology } from './chains.js';
import { SettlementError } from './errors.js';
import { type ChargeBearerCode, decodeSettlement, type SettlementQuote } from './payload.js';
import { parseUetr } from './uetr.js';

/** A block to read at: a number (pinned) or 'latest'. */
export type BlockTag = bigint | 'latest';

/** Refund reasons of `SettlementRefunded` (SettlementGateway.REFUND_*). */
export const REFUND_REASONS = { 1: 'DESTINATION_REFUSED', 2: 'ARRIVED_EXPIRED', 3: 'TIMEOUT' } as const;
export type RefundReason = keyof typeof REFUND_REASONS;

/** ISO 20022 status of a payment: pending (in flight), settled (released) or rejected (refunded). */
export type PaymentStatusCode = 'PDNG' | 'ACSC' | 'RJCT';
export type PaymentState = 'inFlight' | 'released' | 'refunded';

export interface ChainEventRef {
  blockNumber: bigint;
  txHash: Hex;
  /** Block timestamp, unix seconds. */
  timestamp: bigint;
}

export interface PaymentView {
  /** Lowercase UUID text. */
  uetr: string;
  /** bytes16 as the contracts carry it. */
  uetrHex: Hex;
  status: PaymentStatusCode;
  state: PaymentState;
  /** What it settles (the claim id), bytes32. */
  reference: Hex;
  chargeBearer: ChargeBearerCode;
  /** The 4 purpose bytes as hex; `purposeCode` (payload.ts) reads the ISO code out of them. */
  purpose: Hex;
  /** Source block timestamp of the send, unix seconds. */
  createdAt: bigint;
  source: {
    chain: string;
    chainId: bigint;
    gateway: Hex;
    channel: Hex;
    packetId: Hex;
    debtor: Hex;
    amount: Money;
    /** Destination timestamp after which the packet times out (unix seconds). */
    timeoutTimestamp: bigint;
    locked: ChainEventRef;
  };
  destination: {
    /** Configured chain name; absent when the destination chain has no gateway in the config. */
    chain?: string;
    chainId: bigint;
    creditor: Hex;
    currency: Currency;
    /** From the destination's `receipt(uetr)` once it paid. */
    payout?: Money;
    /** Id of the packet as the destination received it; the same as `source.packetId`. */
    paidPacketId?: Hex;
  };
  quote?: SettlementQuote;
  /** How the payment ended, once it did. */
  outcome?: {
    state: 'released' | 'refunded';
    event: ChainEventRef;
    refundReason?: RefundReason;
    /** Custom error the destination refused with (refund reason 1), e.g. `FxQuoteExpired`. */
    destinationError?: string;
  };
}

interface RpcReceipt {
  logs: RpcLog[];
}

export interface ReaderOptions {
  /** Blocks per `eth_getLogs` request. @defaultValue 5000n */
  logSpan?: bigint;
  /** Final payments kept in memory. @defaultValue 1000 */
  cacheSize?: number;
}

const STATUS = ['none', 'inFlight', 'released', 'refunded'] as const;
const ISO_STATUS: Record<PaymentState, PaymentStatusCode> = {
  inFlight: 'PDNG',
  released: 'ACSC',
  refunded: 'RJCT',
};

/** ABIs of the contracts read (cached by contractInterface); a missing build is a typed read error. */
function interfaces(): { gateway: Interface; outbox: Interface; token: Interface } {
  try {
    return {
      gateway: contractInterface('SettlementGateway'),
      outbox: contractInterface('Outbox'),
      token: contractInterface('DepositToken'),
    };
  } catch (err) {
    throw new SettlementError('MR_ERR_SETTLEMENT_READ', `contract ABI: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

const quantity = (n: bigint): string => `0x${n.toString(16)}`;
const lower = (v: unknown): Hex => String(v).toLowerCase() as Hex;

export class SettlementReader {
  readonly topology: SettlementTopology;
  private readonly byName: Map<string, SettlementChain>;
  private readonly byId: Map<bigint, SettlementChain>;
  private readonly logSpan: bigint;
  private readonly cacheSize: number;
  private readonly final = new Map<string, PaymentView>();
  private readonly outboxes = new Map<string, Hex>();

  constructor(topology: SettlementTopology, opts: ReaderOptions = {}) {
    this.topology = topology;
    this.byName = new Map(topology.chains.map((c) => [c.name, c]));
    this.byId = new Map(topology.chains.map((c) => [c.chainId, c]));
    this.logSpan = opts.logSpan ?? 5000n;
    this.cacheSize = opts.cacheSize ?? 1000;
    interfaces();
  }

  /** A configured settlement chain by name. @throws SettlementError MR_ERR_SETTLEMENT_NOT_CONFIGURED */
  chain(name: string): SettlementChain {
    const c = this.byName.get(name);
    if (!c)
      throw new SettlementError(
        'MR_ERR_SETTLEMENT_NOT_CONFIGURED',
        `chain ${name} has no contracts.settlementGateway in the config`,
      );
    return c;
  }

  /**
   * The payment `uetr` (UUID text or bytes16), from the source gateway that escrowed it.
   *
   * @throws SettlementError MR_ERR_SETTLEMENT_UETR, MR_ERR_SETTLEMENT_NOT_FOUND, MR_ERR_SETTLEMENT_READ,
   *   MR_ERR_SETTLEMENT_PAYLOAD
   */
  async payment(uetr: string): Promise<PaymentView> {
    const id = parseUetr(uetr);
    const cached = this.final.get(id.hex);
    if (cached) return cached;
    // Every gateway is asked at once; one chain being down only matters if the payment is not found elsewhere.
    const answers = await Promise.allSettled(
      this.topology.chains.map(async (c) => ({
        chain: c,
        p: (await this.call(c, 'payment', [id.hex]))[0] as Result,
      })),
    );
    const hit = answers.find(
      (a): a is PromiseFulfilledResult<{ chain: SettlementChain; p: Result }> =>
        a.status === 'fulfilled' && Number(a.value.p.status) !== 0,
    )?.value;
    if (!hit) {
      const failed = answers.find((a): a is PromiseRejectedResult => a.status === 'rejected');
      if (failed) throw failed.reason;
      throw new SettlementError(
        'MR_ERR_SETTLEMENT_NOT_FOUND',
        `no payment ${id.text} on the SettlementGateway of ${this.topology.chains.map((c) => c.name).join(', ')}`,
        { details: { uetr: id.text } },
      );
    }
    const view = await this.assemble(hit.chain, id.hex, id.text, hit.p);
    if (view.state !== 'inFlight') {
      if (this.final.size >= this.cacheSize) this.final.delete(this.final.keys().next().value!);
      this.final.set(id.hex, view);
    }
    return view;
  }

  /** Source ledger of (channel, currency) on `chain`'s gateway. */
  async ledger(
    chain: SettlementChain,
    channel: Hex,
    currency: Currency,
    at: BlockTag = 'latest',
  ): Promise<{ locked: bigint; released: bigint; refunded: bigint; inFlight: bigint }> {
    const l = (await this.call(chain, 'ledger', [channel, CURRENCIES[currency].numeric], at))[0] as Result;
    return { locked: l.locked, released: l.released, refunded: l.refunded, inFlight: l.inFlight };
  }

  /** Destination ledger of (channel, currency) on `chain`'s gateway. */
  async destLedger(
    chain: SettlementChain,
    channel: Hex,
    currency: Currency,
    at: BlockTag = 'latest',
  ): Promise<{ receivedSource: bigint; paidOut: bigint }> {
    const r = await this.call(chain, 'destLedger', [channel, CURRENCIES[currency].numeric], at);
    return { receivedSource: r[0] as bigint, paidOut: r[1] as bigint };
  }

  /** Tokens `chain`'s gateway holds in escrow in `currency`. */
  async escrowed(chain: SettlementChain, currency: Currency, at: BlockTag = 'latest'): Promise<bigint> {
    return (await this.call(chain, 'escrowed', [CURRENCIES[currency].numeric], at))[0] as bigint;
  }

  /** The gateway's deposit token of `currency` (null if none) and the gateway's balance of it. */
  async tokenBalance(
    chain: SettlementChain,
    currency: Currency,
    at: BlockTag = 'latest',
  ): Promise<{ token: Hex | null; balance: bigint }> {
    const token = lower((await this.call(chain, 'tokenOf', [CURRENCIES[currency].numeric], at))[0]);
    if (/^0x0{40}$/.test(token)) return { token: null, balance: 0n };
    const r = await this.call(chain, 'balanceOf', [chain.gateway], at, interfaces().token, token);
    return { token: getAddress(token) as Hex, balance: r[0] as bigint };
  }

  /** The gateway's route to `destChainId` (channel zero when none). */
  async route(
    chain: SettlementChain,
    destChainId: bigint,
    at: BlockTag = 'latest',
  ): Promise<{ channel: Hex; receiver: Hex; nostro: Hex }> {
    const r = (await this.call(chain, 'route', [destChainId], at))[0] as Result;
    return { channel: lower(r.channel), receiver: lower(r.receiver), nostro: lower(r.nostro) };
  }

  // ---------------------------------------------------------------------------------------------------------

  private async assemble(src: SettlementChain, uetr: Hex, text: string, p: Result): Promise<PaymentView> {
    const { gateway } = interfaces();
    const state = STATUS[Number(p.status)] as PaymentState;
    const channel = lower(p.channel);
    const pid = lower(p.packetId);
    const currency = this.currency(p.currency, src, 'payment.currency');

    const lockedTopics = gateway.encodeFilterTopics('SettlementLocked', [uetr]) as (
      | string
      | string[]
      | null
    )[];
    const lockedLog = (await this.findLogs(src, src.gateway, lockedTopics, src.startHeight))
      .filter((l) => lower(gateway.parseLog({ topics: l.topics, data: l.data })?.args.packetId) === pid)
      .at(-1);
    if (!lockedLog)
      throw new SettlementError(
        'MR_ERR_SETTLEMENT_PAYLOAD',
        `payment ${text}: no SettlementLocked log on ${src.name} since block ${src.startHeight} (startHeight after the send?)`,
      );
    const locked = await this.eventRef(src, lockedLog);
    const packet = await this.sentPacket(src, lockedLog.transactionHash, pid, text);
    const s = decodeSettlement(packet.payload);
    if (s.uetr !== uetr || s.sourceCurrency !== currency || s.sourceAmount !== (p.amount as bigint))
      throw new SettlementError(
        'MR_ERR_SETTLEMENT_PAYLOAD',
        `payment ${text}: the SETTLEMENT packet ${pid} does not match the gateway's payment record`,
      );

    const dst = this.byId.get(packet.destChain);
    let payout: Money | undefined;
    let paidPacketId: Hex | undefined;
    if (dst) {
      const r = (await this.call(dst, 'receipt', [uetr]))[0] as Result;
      // A receipt for this uetr from another source or channel is another payment: not this one's payout.
      if (
        !/^0x0{40}$/i.test(String(r.creditor)) &&
        r.sourceChain === src.chainId &&
        lower(r.channel) === channel
      ) {
        payout = money(this.currency(r.targetCurrency, dst, 'receipt.targetCurrency'), r.payout as bigint);
        paidPacketId = lower(r.packetId);
      }
    }

    const view: PaymentView = {
      uetr: text,
      uetrHex: uetr,
      status: ISO_STATUS[state],
      state,
      reference: s.reference,
      chargeBearer: s.chargeBearer,
      purpose: s.purpose,
      createdAt: s.createdAt,
      source: {
        chain: src.name,
        chainId: src.chainId,
        gateway: getAddress(src.gateway) as Hex,
        channel,
        packetId: pid,
        debtor: s.debtor,
        amount: money(currency, s.sourceAmount),
        timeoutTimestamp: packet.timeoutTimestamp,
        locked,
      },
      destination: {
        ...(dst ? { chain: dst.name } : {}),
        chainId: packet.destChain,
        creditor: s.creditor,
        currency: s.targetCurrency,
        ...(payout ? { payout } : {}),
        ...(paidPacketId ? { paidPacketId } : {}),
      },
      ...(s.quote ? { quote: s.quote } : {}),
    };
    if (state !== 'inFlight') view.outcome = await this.outcome(src, uetr, pid, locked.blockNumber, state, p);
    return view;
  }

  /** The Outbox `PacketSent` log of `pid` in the send transaction, decoded and checked against the id. */
  private async sentPacket(chain: SettlementChain, txHash: Hex, pid: Hex, text: string) {
    const { outbox } = interfaces();
    const outboxAddr = await this.outboxOf(chain);
    const receipt = await this.rpc<RpcReceipt | null>(chain, 'eth_getTransactionReceipt', [txHash]);
    const topic = outbox.getEvent('PacketSent')!.topicHash;
    for (const log of receipt?.logs ?? []) {
      if (lower(log.address) !== outboxAddr || log.topics[0] !== topic || lower(log.topics[3]) !== pid)
        continue;
      const parsed = outbox.parseLog({ topics: log.topics, data: log.data });
      try {
        const p = decodePacket(hexToBytes(String(parsed?.args.packet), 'packet'));
        if (packetId(p) === pid) return p;
      } catch (err) {
        throw new SettlementError(
          'MR_ERR_SETTLEMENT_PAYLOAD',
          `payment ${text}: PacketSent of ${pid} is malformed`,
          {
            cause: err,
          },
        );
      }
    }
    throw new SettlementError(
      'MR_ERR_SETTLEMENT_PAYLOAD',
      `payment ${text}: no Outbox PacketSent log of packet ${pid} in transaction ${txHash} on ${chain.name}`,
    );
  }

  private async outcome(
    chain: SettlementChain,
    uetr: Hex,
    pid: Hex,
    from: bigint,
    state: 'released' | 'refunded',
    p: Result,
  ): Promise<NonNullable<PaymentView['outcome']>> {
    const { gateway } = interfaces();
    const name = state === 'released' ? 'SettlementReleased' : 'SettlementRefunded';
    const topics = gateway.encodeFilterTopics(name, [uetr]) as (string | string[] | null)[];
    const log = (await this.findLogs(chain, chain.gateway, topics, from))
      .map((l) => ({ l, ev: gateway.parseLog({ topics: l.topics, data: l.data }) }))
      .filter((x) => lower(x.ev?.args.packetId) === pid)
      .at(-1);
    if (!log)
      throw new SettlementError(
        'MR_ERR_SETTLEMENT_PAYLOAD',
        `payment ${uetr}: the gateway says ${state} but has no ${name} log for packet ${pid}`,
      );
    const event = await this.eventRef(chain, log.l);
    if (state === 'released') return { state, event };
    const reason = Number(p.refundReason) as RefundReason;
    const out: NonNullable<PaymentView['outcome']> = { state, event, refundReason: reason };
    if (reason === 1) {
      const result = String(log.ev!.args.result);
      let err: string | undefined;
      try {
        err = gateway.parseError(result)?.name;
      } catch {
        err = undefined;
      }
      out.destinationError =
        err ?? (result.length >= 10 ? `error ${result.slice(0, 10)}` : 'reverted without data');
    }
    return out;
  }

  private async outboxOf(chain: SettlementChain): Promise<Hex> {
    let a = this.outboxes.get(chain.name);
    if (!a) {
      a = lower((await this.call(chain, 'outbox', []))[0]);
      this.outboxes.set(chain.name, a);
    }
    return a;
  }

  private currency(v: unknown, chain: SettlementChain, field: string): Currency {
    try {
      return currencyByNumeric(Number(v));
    } catch (err) {
      throw new SettlementError(
        'MR_ERR_SETTLEMENT_PAYLOAD',
        `${chain.name}: ${field} ${String(v)} is not supported`,
        {
          cause: err,
        },
      );
    }
  }

  private async eventRef(chain: SettlementChain, log: RpcLog): Promise<ChainEventRef> {
    const block = await this.rpc<{ timestamp: string } | null>(chain, 'eth_getBlockByNumber', [
      log.blockNumber,
      false,
    ]);
    if (!block)
      throw new SettlementError(
        'MR_ERR_SETTLEMENT_READ',
        `${chain.name}: block ${log.blockNumber} not found`,
      );
    return {
      blockNumber: BigInt(log.blockNumber),
      txHash: log.transactionHash,
      timestamp: BigInt(block.timestamp),
    };
  }

  /** Logs matching `topics`, from the newest span that has any, scanning back from the head down to `from`. */
  private async findLogs(
    chain: SettlementChain,
    address: Hex,
    topics: (string | string[] | null)[],
    from: bigint,
  ): Promise<RpcLog[]> {
    const head = BigInt(await this.rpc<string>(chain, 'eth_blockNumber', []));
    for (let hi = head; hi >= from; hi -= this.logSpan) {
      const lo = hi - this.logSpan + 1n > from ? hi - this.logSpan + 1n : from;
      const logs = await this.rpc<RpcLog[]>(chain, 'eth_getLogs', [
        { address, topics, fromBlock: quantity(lo), toBlock: quantity(hi) },
      ]);
      const live = logs.filter((l) => !l.removed);
      if (live.length > 0) return live;
      if (lo === from) break;
    }
    return [];
  }

  /** Latest block number of `chain`: reads pinned to it see one consistent state. */
  async blockNumber(chain: SettlementChain): Promise<bigint> {
    return BigInt(await this.rpc<Hex>(chain, 'eth_blockNumber', []));
  }

  private async call(
    chain: SettlementChain,
    fn: string,
    args: unknown[],
    at: BlockTag = 'latest',
    iface: Interface = interfaces().gateway,
    to: Hex = chain.gateway,
  ): Promise<Result> {
    const tag = typeof at === 'bigint' ? `0x${at.toString(16)}` : at;
    const raw = await this.rpc<Hex>(chain, 'eth_call', [
      { to, data: iface.encodeFunctionData(fn, args) },
      tag,
    ]);
    try {
      return iface.decodeFunctionResult(fn, raw);
    } catch (err) {
      throw new SettlementError(
        'MR_ERR_SETTLEMENT_READ',
        `${chain.name}: ${fn} at ${to} returned no valid answer (is a SettlementGateway deployed there?)`,
        { cause: err },
      );
    }
  }

  private async rpc<T>(chain: SettlementChain, method: string, params: unknown[]): Promise<T> {
    try {
      return await chain.rpc.call<T>(method, params);
    } catch (err) {
      if (err instanceof SettlementError) throw err;
      const code = err instanceof MedrelayError ? ` (${err.code})` : '';
      throw new SettlementError('MR_ERR_SETTLEMENT_READ', `${chain.name}: ${method} failed${code}`, {
        cause: err,
      });
    }
  }
}
