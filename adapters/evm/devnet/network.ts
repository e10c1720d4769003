/**
 * A local devnet of consortium EVM chains: one anvil per chain, each behind a QBFT sealing proxy whose
 * validator set seals anvil's blocks in Besu QBFT form (so the relayer and the light clients run the code path of
 * a real Besu network), with medrelay's contracts deployed and wired for every channel.
 *
 * Keys: the deployer/relayer/institution accounts are anvil's well-known development accounts (they hold devnet
 * ether only). Validator keys are random per run and never leave this process.
 */
import { randomBytes } from 'node:crypto';
import {
  Contract,
  ContractFactory,
  HDNodeWallet,
  type InterfaceAbi,
  JsonRpcProvider,
  NonceManager,
  Wallet,
} from 'ethers';
import type { Hex } from '../../../proofs/bytes.js';
import { channelId } from '../../../proofs/packet.js';
import { loadArtifact } from '../contracts/artifacts.js';
import { type AnvilHandle, startAnvil } from './anvil.js';
import { addressOfKey, type QbftSealingProxy, startQbftSealingProxy } from './sealer.js';

/** anvil's public development mnemonic: its accounts hold devnet ether only and are prefunded by anvil. */
export const DEV_MNEMONIC = 'test test test test test test test test test test test junk';

/** Development account `index` of anvil's mnemonic (0 deployer, 1 relayer, 2 hospital, 3 insurer). */
export function devKey(index: number): string {
  return HDNodeWallet.fromPhrase(DEV_MNEMONIC, undefined, `m/44'/60'/0'/0/${index}`).privateKey;
}

export const DEV_ACCOUNT = { deployer: 0, relayer: 1, hospital: 2, insurer: 3 } as const;

export interface DevnetChainSpec {
  name: string;
  chainId: number;
  /** Public RPC port (the sealing proxy). */
  port: number;
  /** Port of anvil itself, behind the proxy. @defaultValue port + 1000 */
  anvilPort?: number;
  role: 'medical' | 'insurer' | 'crossborder';
}

export interface DevnetChannelSpec {
  name: string;
  source: string;
  dest: string;
}

export const DEFAULT_CHAINS: readonly DevnetChainSpec[] = [
  { name: 'medical-a', chainId: 31001, port: 18545, role: 'medical' },
  { name: 'medical-b', chainId: 31002, port: 18546, role: 'medical' },
  { name: 'insurer', chainId: 31003, port: 18547, role: 'insurer' },
  { name: 'crossborder', chainId: 31004, port: 18548, role: 'crossborder' },
];

export const DEFAULT_CHANNELS: readonly DevnetChannelSpec[] = [
  { name: 'records-a', source: 'medical-a', dest: 'insurer' },
  { name: 'records-b', source: 'medical-b', dest: 'insurer' },
];

export interface DevnetContracts {
  outbox: Hex;
  inbox: Hex;
  recordRegistry: Hex;
  recordProofSender: Hex;
  recordProofStore: Hex;
  noopReceiver: Hex;
  /** remote chain id (decimal) → light client on this chain */
  lightClients: Record<string, Hex>;
}

export interface DevnetChain {
  spec: DevnetChainSpec;
  rpcUrl: string;
  anvilUrl: string;
  validators: Hex[];
  contracts: DevnetContracts;
  /** First block with medrelay contracts: where event scanning starts. */
  startHeight: number;
}

export interface DevnetChannel extends DevnetChannelSpec {
  id: Hex;
}

export interface Devnet {
  chains: DevnetChain[];
  channels: DevnetChannel[];
  chain(name: string): DevnetChain;
  stop(): Promise<void>;
}

export interface DevnetOptions {
  chains?: readonly DevnetChainSpec[];
  channels?: readonly DevnetChannelSpec[];
  /** Seconds between blocks once deployed. @defaultValue 1 */
  blockTime?: number;
  validatorCount?: number;
  log?: (msg: string) => void;
}

async function rpc(url: string, method: string, params: unknown[]): Promise<unknown> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
  });
  const body = (await res.json()) as { result?: unknown; error?: { message: string } };
  if (body.error) throw new Error(`${method}: ${body.error.message}`);
  return body.result;
}

async function deploy(signer: NonceManager, name: string, args: unknown[]): Promise<Contract> {
  const art = loadArtifact(name);
  const c = await new ContractFactory(art.abi, art.bytecode, signer).deploy(...args);
  await c.waitForDeployment();
  return c as Contract;
}

async function send(c: Contract, fn: string, args: unknown[]): Promise<void> {
  const tx = await (c.getFunction(fn) as (...a: unknown[]) => Promise<{ wait(): Promise<unknown> }>)(...args);
  await tx.wait();
}

export async function startDevnet(opts: DevnetOptions = {}): Promise<Devnet> {
  const specs = opts.chains ?? DEFAULT_CHAINS;
  const channelSpecs = opts.channels ?? DEFAULT_CHANNELS;
  const log = opts.log ?? (() => {});
  const anvils: AnvilHandle[] = [];
  const proxies: QbftSealingProxy[] = [];
  const stop = async (): Promise<void> => {
    await Promise.allSettled(proxies.map((p) => p.stop()));
    await Promise.allSettled(anvils.map((a) => a.stop()));
  };
  const blockTime = opts.blockTime ?? 1;
  if (!(blockTime > 0)) throw new Error(`devnet: blockTime must be positive, got ${blockTime}`);
  // anvil's evm_setIntervalMining takes whole seconds: sub-second block times are set at start instead, and the
  // deployment then waits for blocks.
  const fractional = !Number.isInteger(blockTime);
  try {
    // Automine while deploying (fast), interval mining afterwards (like a real chain's block time).
    const started = await Promise.all(
      specs.map(async (spec) => {
        const anvil = await startAnvil({
          chainId: spec.chainId,
          port: spec.anvilPort ?? spec.port + 1000,
          ...(fractional ? { blockTime } : {}),
        });
        anvils.push(anvil);
        const keys = Array.from({ length: opts.validatorCount ?? 4 }, () => Uint8Array.from(randomBytes(32)));
        const validators = keys.map(addressOfKey);
        const proxy = await startQbftSealingProxy({
          upstreamUrl: anvil.rpcUrl,
          port: spec.port,
          validators,
          keys,
        });
        proxies.push(proxy);
        log(`chain ${spec.name} (id ${spec.chainId}) at ${proxy.url}, ${validators.length} QBFT validators`);
        return { spec, anvil, proxy, validators };
      }),
    );
    const bySpec = new Map(started.map((s) => [s.spec.name, s]));
    const chainOf = (name: string) => {
      const c = bySpec.get(name);
      if (!c) throw new Error(`devnet: channel names unknown chain ${name}`);
      return c;
    };
    // Which remote chains each chain needs a light client for: both ends of every channel.
    const remotes = new Map<string, Set<string>>();
    for (const ch of channelSpecs) {
      chainOf(ch.source);
      chainOf(ch.dest);
      (remotes.get(ch.source) ?? remotes.set(ch.source, new Set()).get(ch.source)!).add(ch.dest);
      (remotes.get(ch.dest) ?? remotes.set(ch.dest, new Set()).get(ch.dest)!).add(ch.source);
    }

    const deployed = await Promise.all(
      started.map(async ({ spec, anvil, validators }) => {
        const provider = new JsonRpcProvider(anvil.rpcUrl, spec.chainId, {
          staticNetwork: true,
          pollingInterval: 50,
        });
        const signer = new NonceManager(new Wallet(devKey(DEV_ACCOUNT.deployer), provider));
        const startHeight = Number(await provider.getBlockNumber()) + 1;
        const outbox = await deploy(signer, 'Outbox', []);
        const inbox = await deploy(signer, 'Inbox', []);
        const registry = await deploy(signer, 'RecordRegistry', []);
        const sender = await deploy(signer, 'RecordProofSender', [
          await outbox.getAddress(),
          await registry.getAddress(),
        ]);
        const store = await deploy(signer, 'RecordProofStore', [await inbox.getAddress()]);
        const noop = await deploy(signer, 'NoopReceiver', []);
        const hospital = new Wallet(devKey(DEV_ACCOUNT.hospital)).address;
        await send(registry, 'setInstitution', [hospital, true]);
        const lightClients: Record<string, Hex> = {};
        for (const remoteName of remotes.get(spec.name) ?? []) {
          const remote = chainOf(remoteName);
          const lc = await deploy(signer, 'QbftLightClient', [remote.spec.chainId, remote.validators]);
          lightClients[String(remote.spec.chainId)] = (await lc.getAddress()) as Hex;
        }
        provider.destroy();
        void validators;
        return {
          spec,
          signer,
          contracts: {
            outbox: (await outbox.getAddress()) as Hex,
            inbox: (await inbox.getAddress()) as Hex,
            recordRegistry: (await registry.getAddress()) as Hex,
            recordProofSender: (await sender.getAddress()) as Hex,
            recordProofStore: (await store.getAddress()) as Hex,
            noopReceiver: (await noop.getAddress()) as Hex,
            lightClients,
          },
          startHeight,
        };
      }),
    );
    const dep = new Map(deployed.map((d) => [d.spec.name, d]));

    // Wire remotes and channels (per chain sequentially, chains in parallel).
    const channels: DevnetChannel[] = channelSpecs.map((c) => ({
      ...c,
      id: channelId(BigInt(chainOf(c.source).spec.chainId), BigInt(chainOf(c.dest).spec.chainId), c.name),
    }));
    await Promise.all(
      deployed.map(async (d) => {
        const provider = new JsonRpcProvider(chainOf(d.spec.name).anvil.rpcUrl, d.spec.chainId, {
          staticNetwork: true,
          pollingInterval: 50,
        });
        const signer = new NonceManager(new Wallet(devKey(DEV_ACCOUNT.deployer), provider));
        const at = (name: string, addr: string) =>
          new Contract(addr, loadArtifact(name).abi as InterfaceAbi, signer);
        const outbox = at('Outbox', d.contracts.outbox);
        const inbox = at('Inbox', d.contracts.inbox);
        const store = at('RecordProofStore', d.contracts.recordProofStore);
        for (const remoteName of remotes.get(d.spec.name) ?? []) {
          const r = dep.get(remoteName)!;
          const lc = d.contracts.lightClients[String(r.spec.chainId)];
          await send(outbox, 'registerRemote', [r.spec.chainId, lc, r.contracts.inbox]);
          await send(inbox, 'registerRemote', [r.spec.chainId, lc, r.contracts.outbox]);
          await send(store, 'setTrustedSender', [r.spec.chainId, r.contracts.recordProofSender]);
        }
        for (const ch of channels.filter((c) => c.source === d.spec.name)) {
          await send(outbox, 'openChannel', [ch.name, chainOf(ch.dest).spec.chainId]);
        }
        provider.destroy();
      }),
    );
    // Fund nothing else: anvil's dev accounts are prefunded. Switch to interval mining.
    if (!fractional)
      await Promise.all(started.map((s) => rpc(s.anvil.rpcUrl, 'evm_setIntervalMining', [blockTime])));

    const chains: DevnetChain[] = deployed.map((d) => ({
      spec: d.spec,
      rpcUrl: chainOf(d.spec.name).proxy.url,
      anvilUrl: chainOf(d.spec.name).anvil.rpcUrl,
      validators: chainOf(d.spec.name).validators,
      contracts: d.contracts,
      startHeight: d.startHeight,
    }));
    return {
      chains,
      channels,
      chain(name: string) {
        const c = chains.find((x) => x.spec.name === name);
        if (!c) throw new Error(`devnet: no chain ${name}`);
        return c;
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
