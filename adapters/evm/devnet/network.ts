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
  AbiCoder,
  Contract,
  ContractFactory,
  type ContractRunner,
  HDNodeWallet,
  type InterfaceAbi,
  JsonRpcProvider,
  keccak256,
  NonceManager,
  toUtf8Bytes,
  Wallet,
} from 'ethers';
import { MerkleAccumulator } from '../../../proofs/accumulator.js';
import { bytesToHex, type Hex, hexToBytes } from '../../../proofs/bytes.js';
import { channelId, decodePacket } from '../../../proofs/packet.js';
import { signAnchor } from '../../../proofs/records/anchor.js';
import { loadArtifact } from '../contracts/artifacts.js';
import { type AnvilHandle, startAnvil } from './anvil.js';
import { addressOfKey, type QbftSealingProxy, sealQbftHeader, startQbftSealingProxy } from './sealer.js';

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

/** FHIR reference of the devnet insurer, hashed: the RecordProofStores' recipient and the devnet consents'. */
export const DEVNET_RECIPIENT = keccak256(toUtf8Bytes('Organization/devnet-insurer')) as Hex;
/** Pseudonym of the devnet patient every demo/e2e/bench record belongs to. */
export const DEVNET_PATIENT = keccak256(toUtf8Bytes('medrelay-devnet-patient')) as Hex;

/** Id of the consent the devnet grants (on `sourceChainId`, to DEVNET_RECIPIENT) and mirrors before any record. */
export function devnetConsentId(sourceChainId: number | bigint): Hex {
  return keccak256(toUtf8Bytes(`medrelay-devnet-consent:${sourceChainId}`)) as Hex;
}

/**
 * `RecordRegistry.anchorSigned` arguments for a devnet record: anchor of the devnet patient signed by the devnet
 * hospital for chain `chainId` (anchoredAt one minute in the past by the wall clock).
 */
export function devnetSignedAnchor(
  chainId: number | bigint,
  recordId: string,
  recordHash: string,
  disclosureRoot = `0x${'00'.repeat(32)}`,
): [
  {
    recordId: Hex;
    recordHash: Hex;
    disclosureRoot: Hex;
    patient: Hex;
    institution: Hex;
    anchoredAt: bigint;
  },
  Hex,
] {
  const key = devKey(DEV_ACCOUNT.hospital);
  const anchor = {
    recordId: recordId.toLowerCase() as Hex,
    recordHash: recordHash.toLowerCase() as Hex,
    disclosureRoot: disclosureRoot.toLowerCase() as Hex,
    patient: DEVNET_PATIENT,
    institution: new Wallet(key).address as Hex,
    anchoredAt: BigInt(Math.floor(Date.now() / 1000) - 60),
  };
  return [anchor, signAnchor(anchor, chainId, key as Hex)];
}

export interface DevnetContracts {
  outbox: Hex;
  inbox: Hex;
  recordRegistry: Hex;
  recordProofSender: Hex;
  recordProofStore: Hex;
  consentRegistry: Hex;
  consentMirror: Hex;
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
        return { spec, anvil, proxy, validators, keys };
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
        const outbox = await deploy(signer, 'Outbox', []);
        const inbox = await deploy(signer, 'Inbox', []);
        const registry = await deploy(signer, 'RecordRegistry', []);
        const sender = await deploy(signer, 'RecordProofSender', [
          await outbox.getAddress(),
          await registry.getAddress(),
        ]);
        const mirror = await deploy(signer, 'ConsentMirror', [await inbox.getAddress()]);
        const store = await deploy(signer, 'RecordProofStore', [
          await inbox.getAddress(),
          await mirror.getAddress(),
          DEVNET_RECIPIENT,
        ]);
        const consents = await deploy(signer, 'ConsentRegistry', [
          await outbox.getAddress(),
          await registry.getAddress(),
        ]);
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
            consentRegistry: (await consents.getAddress()) as Hex,
            consentMirror: (await mirror.getAddress()) as Hex,
            noopReceiver: (await noop.getAddress()) as Hex,
            lightClients,
          },
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
          await send(at('ConsentMirror', d.contracts.consentMirror), 'setTrustedSender', [
            r.spec.chainId,
            r.contracts.consentRegistry,
          ]);
        }
        for (const ch of channels.filter((c) => c.source === d.spec.name)) {
          await send(outbox, 'openChannel', [ch.name, chainOf(ch.dest).spec.chainId]);
        }
        provider.destroy();
      }),
    );
    // Consent bootstrap: on each channel's source, the hospital grants the devnet consent for DEVNET_RECIPIENT
    // over a dedicated channel, delivered here (sealed header + proofs, Inbox.updateAndReceive) so that record
    // proofs find it active. It happens before `startHeight`: the relayer never sees these packets.
    for (const ch of channels) {
      const src = dep.get(ch.source)!;
      const dst = dep.get(ch.dest)!;
      await bootstrapConsent(
        { ...src, anvilUrl: chainOf(ch.source).anvil.rpcUrl, proxyUrl: chainOf(ch.source).proxy.url },
        chainOf(ch.source),
        { ...dst, anvilUrl: chainOf(ch.dest).anvil.rpcUrl },
        `consent-${ch.name}`,
      );
    }
    const startHeights = new Map(
      await Promise.all(
        started.map(
          async (s) => [s.spec.name, Number(await rpc(s.anvil.rpcUrl, 'eth_blockNumber', [])) + 1] as const,
        ),
      ),
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
      startHeight: startHeights.get(d.spec.name)!,
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

interface BootstrapSide {
  spec: DevnetChainSpec;
  contracts: DevnetContracts;
  anvilUrl: string;
}

/** Grants the devnet consent on `src` towards `dst` over channel `name` and delivers it (see startDevnet). */
async function bootstrapConsent(
  src: BootstrapSide & { proxyUrl: string },
  srcVals: { validators: Hex[]; keys: Uint8Array[] },
  dst: BootstrapSide,
  name: string,
): Promise<void> {
  const srcProvider = new JsonRpcProvider(src.anvilUrl, src.spec.chainId, { staticNetwork: true });
  const dstProvider = new JsonRpcProvider(dst.anvilUrl, dst.spec.chainId, { staticNetwork: true });
  try {
    const deployer = new NonceManager(new Wallet(devKey(DEV_ACCOUNT.deployer), srcProvider));
    const hospital = new Wallet(devKey(DEV_ACCOUNT.hospital), srcProvider);
    const at = (n: string, addr: string, runner: ContractRunner) =>
      new Contract(addr, loadArtifact(n).abi as InterfaceAbi, runner);
    const outbox = at('Outbox', src.contracts.outbox, deployer);
    const consents = at('ConsentRegistry', src.contracts.consentRegistry, deployer);
    await send(outbox, 'openChannel', [name, dst.spec.chainId]);
    const channel = channelId(BigInt(src.spec.chainId), BigInt(dst.spec.chainId), name);
    await send(consents, 'setRoute', [dst.spec.chainId, channel, dst.contracts.consentMirror]);
    const consentId = devnetConsentId(src.spec.chainId);
    const tx = await (consents.connect(hospital) as Contract).getFunction('grantTo')(
      dst.spec.chainId,
      consentId,
      DEVNET_PATIENT,
      hospital.address,
      DEVNET_RECIPIENT,
      consentId,
      0,
      2n ** 63n,
    );
    const rc = await tx.wait();
    const sentLog = rc!.logs
      .map((l: { topics: readonly string[]; data: string }) => outbox.interface.parseLog(l))
      .find((e: { name: string } | null) => e?.name === 'PacketSent')!;
    const packet = decodePacket(hexToBytes(sentLog.args.packet as string));
    const height = Number(rc!.blockNumber);
    // Proofs at `height`: the send root (one leaf) and a header sealed by the source validators.
    const acc = new MerkleAccumulator();
    acc.append(sentLog.args.id as Hex);
    const slot = keccak256(AbiCoder.defaultAbiCoder().encode(['bytes32', 'uint256'], [channel, 0]));
    const proof = (await rpc(src.anvilUrl, 'eth_getProof', [
      src.contracts.outbox,
      [slot],
      `0x${height.toString(16)}`,
    ])) as { accountProof: Hex[]; storageProof: { proof: Hex[] }[] };
    const block = (await rpc(src.anvilUrl, 'eth_getBlockByNumber', [
      `0x${height.toString(16)}`,
      false,
    ])) as Record<string, unknown>;
    const parent = (await rpc(src.proxyUrl, 'eth_getBlockByNumber', [
      `0x${(height - 1).toString(16)}`,
      false,
    ])) as {
      hash: string;
    };
    const sealed = sealQbftHeader(block, parent.hash, srcVals.validators, srcVals.keys);
    const inbox = at(
      'Inbox',
      dst.contracts.inbox,
      new NonceManager(new Wallet(devKey(DEV_ACCOUNT.deployer), dstProvider)),
    );
    await send(inbox, 'updateAndReceive', [
      bytesToHex(sealed.rlp),
      height,
      proof.accountProof,
      proof.storageProof[0]!.proof,
      [packet],
      acc.rangeProof(0, 1),
    ]);
    const mirror = at('ConsentMirror', dst.contracts.consentMirror, dstProvider);
    const active = (await mirror.getFunction('isActive')(
      consentId,
      DEVNET_RECIPIENT,
      Math.floor(Date.now() / 1000),
    )) as boolean;
    if (!active)
      throw new Error(`devnet: consent bootstrap ${name} did not activate the consent on ${dst.spec.name}`);
  } finally {
    srcProvider.destroy();
    dstProvider.destroy();
  }
}
