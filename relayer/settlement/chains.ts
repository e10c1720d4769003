/**
 * Which chains and channels the settlement read side looks at: every configured chain with
 * `contracts.settlementGateway`, and every channel whose two ends both have one (a gateway routes its payments
 * over such a channel). Read-only: a chain is an RPC connection plus addresses; nothing here signs.
 */
import type { MedrelayConfig } from '../../config/schema.js';
import type { Hex } from '../../proofs/bytes.js';
import type { AgentInput } from '../../proofs/settlement/iso20022.js';

/** The JSON-RPC surface the reader needs (`JsonRpcClient` of adapters/evm/rpc.ts: retries, typed errors). */
export interface SettlementRpc {
  call<T = unknown>(method: string, params: unknown[]): Promise<T>;
}

export interface SettlementChain {
  name: string;
  chainId: bigint;
  rpc: SettlementRpc;
  gateway: Hex;
  /** First block scanned for settlement events (the config's `startHeight`). */
  startHeight: bigint;
  /** Debtor agent for payments from this chain, creditor agent for payments to it (config `settlement.agent`). */
  agent?: AgentInput;
  /** Dbtr / Cdtr `Nm` (config `settlement.partyName`). */
  partyName?: string;
}

export interface SettlementChannel {
  name: string;
  /** bytes32 channel id. */
  id: Hex;
  /** Chain names. */
  source: string;
  destination: string;
}

export interface SettlementTopology {
  chains: readonly SettlementChain[];
  /** Channels whose source and destination both have a gateway. */
  channels: readonly SettlementChannel[];
}

/**
 * The settlement topology of a config, or `undefined` when no chain has a SettlementGateway.
 *
 * @example settlementTopology(config, (c) => new JsonRpcClient(c.rpcUrl))
 */
export function settlementTopology(
  config: MedrelayConfig,
  rpcFor: (chain: MedrelayConfig['chains'][number]) => SettlementRpc,
): SettlementTopology | undefined {
  const chains: SettlementChain[] = [];
  for (const c of config.chains) {
    const gateway = c.contracts.settlementGateway;
    if (!gateway) continue;
    chains.push({
      name: c.name,
      chainId: BigInt(c.chainId),
      rpc: rpcFor(c),
      gateway: gateway as Hex,
      startHeight: BigInt(c.startHeight),
      ...(c.settlement ? { agent: c.settlement.agent } : {}),
      ...(c.settlement?.partyName ? { partyName: c.settlement.partyName } : {}),
    });
  }
  if (chains.length === 0) return undefined;
  const names = new Set(chains.map((c) => c.name));
  const channels = config.channels
    .filter((ch) => names.has(ch.source) && names.has(ch.destination))
    .map((ch) => ({ name: ch.name, id: ch.id as Hex, source: ch.source, destination: ch.destination }));
  return { chains, channels };
}
