/**
 * Chain plumbing for contract tests and benchmarks: anvil + ethers provider/signer, block helpers, and decoding
 * of custom-error reverts across every medrelay artifact (a revert may come from a nested contract).
 */
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type ErrorFragment, Interface, JsonRpcProvider, type JsonRpcSigner } from 'ethers';
import { loadArtifact } from '../../adapters/evm/contracts/artifacts.js';
import { type AnvilHandle, freePort, startAnvil } from '../../adapters/evm/devnet/anvil.js';

export interface TestChain {
  anvil: AnvilHandle;
  provider: JsonRpcProvider;
  signer: JsonRpcSigner;
  chainId: bigint;
}

/** Starts anvil (automine) with `chainId` on a free port and connects ethers to it. */
export async function startChain(chainId: number): Promise<TestChain> {
  const anvil = await startAnvil({ chainId, port: await freePort() });
  const provider = new JsonRpcProvider(anvil.rpcUrl, chainId, { staticNetwork: true, pollingInterval: 50 });
  return { anvil, provider, signer: await provider.getSigner(0), chainId: BigInt(chainId) };
}

export async function stopChain(c: TestChain | undefined): Promise<void> {
  if (!c) return;
  c.provider.destroy();
  await c.anvil.stop();
}

// Raw RPC here on purpose: ethers v6 caches identical provider reads for ~250 ms, and on an automining anvil
// the head moves faster than that.

export async function blockNumber(c: TestChain): Promise<number> {
  return Number(await c.provider.send('eth_blockNumber', []));
}

export async function latestTimestamp(c: TestChain): Promise<bigint> {
  const b = (await c.provider.send('eth_getBlockByNumber', ['latest', false])) as { timestamp: string };
  return BigInt(b.timestamp);
}

/** Moves the chain's clock forward by `seconds` and mines a block. */
export async function advanceTime(c: TestChain, seconds: number): Promise<void> {
  await c.provider.send('evm_increaseTime', [seconds]);
  await c.provider.send('evm_mine', []);
}

export async function mine(c: TestChain, blocks = 1): Promise<void> {
  for (let i = 0; i < blocks; i++) await c.provider.send('evm_mine', []);
}

let allErrors: Interface | undefined;

/** One Interface holding every custom error of every compiled contract (deduplicated by selector). */
export function errorInterface(): Interface {
  if (allErrors) return allErrors;
  const buildDir = join(dirname(fileURLToPath(import.meta.url)), '../../adapters/evm/contracts/build');
  const seen = new Map<string, ErrorFragment>();
  for (const f of readdirSync(buildDir).filter((x) => x.endsWith('.json'))) {
    const iface = new Interface(loadArtifact(f.slice(0, -5)).abi);
    iface.forEachError((e) => {
      if (!seen.has(e.selector)) seen.set(e.selector, e);
    });
  }
  allErrors = new Interface([...seen.values()]);
  return allErrors;
}

function revertData(err: unknown): string | undefined {
  let e = err as Record<string, unknown> | undefined;
  for (let i = 0; i < 5 && e; i++) {
    if (typeof e.data === 'string' && e.data.startsWith('0x')) return e.data;
    const info = e.info as Record<string, unknown> | undefined;
    const inner = (info?.error ?? e.error) as Record<string, unknown> | undefined;
    if (inner && typeof inner.data === 'string') return inner.data;
    e = inner;
  }
  return undefined;
}

export interface DecodedRevert {
  name: string;
  args: unknown[];
}

/** Runs `fn`, which must revert; returns the custom error it reverted with. */
export async function revertOf(fn: () => Promise<unknown>): Promise<DecodedRevert> {
  try {
    await fn();
  } catch (err) {
    const data = revertData(err);
    if (!data || data === '0x') throw new Error(`reverted without custom error data: ${String(err)}`);
    const parsed = errorInterface().parseError(data);
    if (!parsed) throw new Error(`unknown revert data ${data}`);
    return { name: parsed.name, args: [...parsed.args] };
  }
  throw new Error('expected a revert, but the call succeeded');
}
