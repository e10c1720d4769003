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

/**
 * Roles of anvil's development accounts on every devnet chain. `fxProvider` signs FX quotes (trusted by every
 * SettlementGateway); `bank` is the cross-border settlement bank's nostro account that receives released escrow.
 */
export const DEV_ACCOUNT = {
  deployer: 0,
  relayer: 1,
  hospital: 2,
  insurer: 3,
  fxProvider: 4,
  bank: 5,
} as const;

/** Deposit tokens every settlement-enabled devnet chain has (ISO 4217 numeric codes). */
export const DEVNET_CURRENCIES = { CNY: 156, HKD: 344, MOP: 446 } as const;
export type DevnetCurrency = keyof typeof DEVNET_CURRENCIES;
/**
 * Minted at start, per currency, to every SettlementGateway (payout liquidity: the settlement bank's pool) and to
 * every ClaimSettlement (the insurer's claims reserve): 100 000 000.00 in minor units.
 */
export const DEVNET_FUNDING = 10_000_000_000n;

export interface DevnetChainSpec {
  name: string;
  chainId: number;
  /** Public RPC port (the sealing proxy). */
  port: number;
  /** Port of anvil itself, behind the proxy. @defaultValue port + 1000 */
  anvilPort?: number;
  role: 'medical' | 'insurer' | 'crossborder';
}

/** Relay lane of a channel (config `channels[].lane`): `priority` lanes (consent) go before `normal` ones. */
export type DevnetLane = 'normal' | 'priority';

/**
 * What a devnet channel carries: `records` (RecordProofSender → RecordProofStore), `referrals` (ReferralGateway →
 * ReferralGateway), `consent` (ConsentRegistry → ConsentMirror, always a `priority` lane), `claims` (ClaimSubmitter →
 * ClaimSettlement; shares its route's consent lane) or `settlement` (SettlementGateway → SettlementGateway; no consent
 * lane: only payment instructions cross).
 */
export type DevnetChannelApp = 'records' | 'referrals' | 'consent' | 'claims' | 'settlement';

export interface DevnetChannelSpec {
  name: string;
  source: string;
  dest: string;
  /**
   * `priority` declares the consent lane of its (source, dest) route (at most one per route); when a route has
   * none, the devnet adds `consent-<first channel of the route>`. @defaultValue 'normal'
   */
  lane?: DevnetLane;
  /**
   * @defaultValue 'consent' for a priority lane, 'referrals' towards a `medical` chain, 'records' otherwise
   */
  app?: DevnetChannelApp;
}

export const DEFAULT_CHAINS: readonly DevnetChainSpec[] = [
  { name: 'medical-a', chainId: 31001, port: 18545, role: 'medical' },
  { name: 'medical-b', chainId: 31002, port: 18546, role: 'medical' },
  { name: 'insurer', chainId: 31003, port: 18547, role: 'insurer' },
  { name: 'crossborder', chainId: 31004, port: 18548, role: 'crossborder' },
];

/**
 * Application channels of the default devnet. Each route also gets its consent lane (`consent-records-a`,
 * `consent-records-b`, `consent-referrals-a-b`, lane `priority`), added by `startDevnet`.
 */
export const DEFAULT_CHANNELS: readonly DevnetChannelSpec[] = [
  { name: 'records-a', source: 'medical-a', dest: 'insurer' },
  { name: 'records-b', source: 'medical-b', dest: 'insurer' },
  { name: 'referrals-a-b', source: 'medical-a', dest: 'medical-b' },
];

/** FHIR reference of the devnet insurer, hashed: the RecordProofStores' recipient and the devnet consents'. */
export const DEVNET_RECIPIENT = keccak256(toUtf8Bytes('Organization/devnet-insurer')) as Hex;
/**
 * FHIR reference of the devnet hospital as a referral recipient, hashed: every medical chain's ReferralGateway
 * binds it to the hospital account (`devKey(DEV_ACCOUNT.hospital)`), and the devnet referral consents name it.
 */
export const DEVNET_REFERRAL_RECIPIENT = keccak256(toUtf8Bytes('Organization/devnet-hospital')) as Hex;
/** Pseudonym of the devnet patient every demo/e2e/bench record belongs to. */
export const DEVNET_PATIENT = keccak256(toUtf8Bytes('medrelay-devnet-patient')) as Hex;

/** Id of the consent the devnet grants (on `sourceChainId`, to DEVNET_RECIPIENT) and mirrors before any record. */
export function devnetConsentId(sourceChainId: number | bigint): Hex {
  return keccak256(toUtf8Bytes(`medrelay-devnet-consent:${sourceChainId}`)) as Hex;
}

/**
 * Id of the referral consent the devnet grants on `sourceChainId` to DEVNET_REFERRAL_RECIPIENT and mirrors on
 * `destChainId` before any referral (one per referral route).
 */
export function devnetReferralConsentId(sourceChainId: number | bigint, destChainId: number | bigint): Hex {
  return keccak256(toUtf8Bytes(`medrelay-devnet-referral-consent:${sourceChainId}:${destChainId}`)) as Hex;
}

/** Name of the consent lane the devnet adds for channel `name` when its route declares none. */
export function consentChannelName(name: string): string {
  return `consent-${name}`;
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
  /** DisclosureVerifier over this chain's RecordProofStore: only on chains a `records` channel leads to. */
  disclosureVerifier?: Hex;
  /** CodeMapRegistry (owner: deployer; the hospital is a registered institution on every chain). */
  codeMapRegistry: Hex;
  /** AuditLog; writers: the relayer (`devKey(DEV_ACCOUNT.relayer)`), the hospital and this chain's ReferralGateway. */
  auditLog: Hex;
  /** ReferralGateway: routes and trusted senders wired for every `referrals` channel. */
  referralGateway: Hex;
  /** Claims and settlement contracts: on every chain when some channel carries `claims` or `settlement`. */
  settlement?: DevnetSettlementContracts;
}

export interface DevnetSettlementContracts {
  /** SettlementGateway: tokens, FX provider (`DEV_ACCOUNT.fxProvider`), routes and trusted senders wired. */
  settlementGateway: Hex;
  /** ClaimSubmitter: routes of every `claims` channel from this chain. */
  claimSubmitter: Hex;
  /** ClaimSettlement (recipient DEVNET_RECIPIENT); payer: `DEV_ACCOUNT.insurer`. Policies are registered by users. */
  claimSettlement: Hex;
  /** DepositToken per currency (owner and minter: the deployer). */
  depositTokens: Record<DevnetCurrency, Hex>;
}

export interface DevnetChain {
  spec: DevnetChainSpec;
  rpcUrl: string;
  anvilUrl: string;
  validators: Hex[];
  contracts: DevnetContracts;
  /**
   * First block the relayer scans: after the contracts and channels are set up, BEFORE the consent bootstrap
   * (so the relayer sees the bootstrap packets and relays their acks like any other).
   */
  startHeight: number;
}

export interface DevnetChannel extends DevnetChannelSpec {
  id: Hex;
  lane: DevnetLane;
  app: DevnetChannelApp;
  /** `normal` channels: name of the priority lane that carries the consents of their route. */
  consentChannel?: string;
}

export interface Devnet {
  chains: DevnetChain[];
  /**
   * The application channels (`records`, `referrals`; lane `normal`), in the order given. Consent lanes are in
   * `consentChannels`, so callers that iterate this list to send record proofs keep working.
   */
  channels: DevnetChannel[];
  /** The consent lanes (lane `priority`, app `consent`): one per route of `channels`, declared or added. */
  consentChannels: DevnetChannel[];
  /** `channels` then `consentChannels`: every channel the relayer must serve (what `devnetProfile` lists). */
  allChannels: DevnetChannel[];
  chain(name: string): DevnetChain;
  /** Any channel of `allChannels` by name. */
  channel(name: string): DevnetChannel;
  /** The QBFT sealing proxy in front of chain `name` (e.g. to schedule a validator rotation in tests). */
  sealer(name: string): QbftSealingProxy;
  stop(): Promise<void>;
}

export interface DevnetOptions {
  chains?: readonly DevnetChainSpec[];
  /** Application channels, plus optionally their consent lanes (`lane: 'priority'`). @defaultValue DEFAULT_CHANNELS */
  channels?: readonly DevnetChannelSpec[];
  /** Seconds between blocks once deployed. @defaultValue 1 */
  blockTime?: number;
  validatorCount?: number;
  log?: (msg: string) => void;
}

/** A channel of the devnet plan (no id yet). */
export type DevnetChannelPlan = Omit<DevnetChannel, 'id'>;

/**
 * The channels a devnet opens for `specs`: the application channels (lane `normal`) and one consent lane per
 * (source, dest) route: the `priority` spec of that route if given, else `consent-<first channel of the route>`.
 */
export function planDevnetChannels(
  specs: readonly DevnetChannelSpec[],
  chains: readonly DevnetChainSpec[],
): { channels: DevnetChannelPlan[]; consentChannels: DevnetChannelPlan[] } {
  const roleOf = (name: string) => {
    const c = chains.find((x) => x.name === name);
    if (!c) throw new Error(`devnet: channel names unknown chain ${name}`);
    return c.role;
  };
  const route = (s: DevnetChannelSpec) => `${s.source}>${s.dest}`;
  const names = new Set<string>();
  const unique = (name: string) => {
    if (names.has(name)) throw new Error(`devnet: duplicate channel name ${name}`);
    names.add(name);
  };
  const lanes = new Map<string, DevnetChannelPlan>();
  const consentChannels: DevnetChannelPlan[] = [];
  for (const s of specs.filter((x) => x.lane === 'priority')) {
    roleOf(s.source);
    roleOf(s.dest);
    unique(s.name);
    if (s.app !== undefined && s.app !== 'consent')
      throw new Error(`devnet: priority channel ${s.name} must carry consent, not ${s.app}`);
    if (lanes.has(route(s)))
      throw new Error(`devnet: two consent lanes from ${s.source} to ${s.dest} (${s.name})`);
    const lane: DevnetChannelPlan = {
      name: s.name,
      source: s.source,
      dest: s.dest,
      lane: 'priority',
      app: 'consent',
    };
    lanes.set(route(s), lane);
    consentChannels.push(lane);
  }
  const channels: DevnetChannelPlan[] = [];
  for (const s of specs.filter((x) => x.lane !== 'priority')) {
    unique(s.name);
    if (s.source === s.dest) throw new Error(`devnet: channel ${s.name} leads from ${s.source} to itself`);
    const app = s.app ?? (roleOf(s.dest) === 'medical' ? 'referrals' : 'records');
    roleOf(s.source);
    if (app === 'consent') throw new Error(`devnet: consent channel ${s.name} must be lane priority`);
    if (app === 'settlement') {
      channels.push({ name: s.name, source: s.source, dest: s.dest, lane: 'normal', app });
      continue;
    }
    let lane = lanes.get(route(s));
    if (!lane) {
      lane = {
        name: consentChannelName(s.name),
        source: s.source,
        dest: s.dest,
        lane: 'priority',
        app: 'consent',
      };
      lanes.set(route(s), lane);
      consentChannels.push(lane);
    }
    channels.push({
      name: s.name,
      source: s.source,
      dest: s.dest,
      lane: 'normal',
      app,
      consentChannel: lane.name,
    });
  }
  const added = consentChannels.filter((c) => !specs.some((x) => x.name === c.name));
  for (const c of added) unique(c.name);
  return { channels, consentChannels };
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

/**
 * Deploys one chain's claims and settlement contracts: a DepositToken per currency, the SettlementGateway (tokens
 * set, FX provider trusted, liquidity minted), the ClaimSubmitter and the ClaimSettlement (payer: the insurer
 * account, claims reserve minted). Routes and trusted senders are wired later, with the other chains' addresses.
 */
async function deploySettlement(
  signer: NonceManager,
  outbox: Contract,
  inbox: Contract,
  registry: Contract,
  mirror: Contract,
): Promise<DevnetSettlementContracts> {
  const gateway = await deploy(signer, 'SettlementGateway', [
    await outbox.getAddress(),
    await inbox.getAddress(),
  ]);
  const gatewayAddress = (await gateway.getAddress()) as Hex;
  const claimSubmitter = await deploy(signer, 'ClaimSubmitter', [
    await outbox.getAddress(),
    await registry.getAddress(),
  ]);
  const claimSettlement = await deploy(signer, 'ClaimSettlement', [
    await inbox.getAddress(),
    await mirror.getAddress(),
    DEVNET_RECIPIENT,
    gatewayAddress,
  ]);
  const claimSettlementAddress = (await claimSettlement.getAddress()) as Hex;
  const depositTokens = {} as Record<DevnetCurrency, Hex>;
  for (const [code, numeric] of Object.entries(DEVNET_CURRENCIES) as [DevnetCurrency, number][]) {
    const token = await deploy(signer, 'DepositToken', [`Devnet ${code} deposit`, `d${code}`, numeric]);
    depositTokens[code] = (await token.getAddress()) as Hex;
    await send(gateway, 'setToken', [numeric, depositTokens[code]]);
    await send(token, 'mint', [gatewayAddress, DEVNET_FUNDING]);
    await send(token, 'mint', [claimSettlementAddress, DEVNET_FUNDING]);
  }
  await send(gateway, 'setFxProvider', [new Wallet(devKey(DEV_ACCOUNT.fxProvider)).address, true]);
  await send(claimSettlement, 'setPayer', [new Wallet(devKey(DEV_ACCOUNT.insurer)).address, true]);
  return {
    settlementGateway: gatewayAddress,
    claimSubmitter: (await claimSubmitter.getAddress()) as Hex,
    claimSettlement: claimSettlementAddress,
    depositTokens,
  };
}

export async function startDevnet(opts: DevnetOptions = {}): Promise<Devnet> {
  const specs = opts.chains ?? DEFAULT_CHAINS;
  const plan = planDevnetChannels(opts.channels ?? DEFAULT_CHANNELS, specs);
  const planned = [...plan.channels, ...plan.consentChannels];
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
    for (const ch of planned) {
      chainOf(ch.source);
      chainOf(ch.dest);
      (remotes.get(ch.source) ?? remotes.set(ch.source, new Set()).get(ch.source)!).add(ch.dest);
      (remotes.get(ch.dest) ?? remotes.set(ch.dest, new Set()).get(ch.dest)!).add(ch.source);
    }
    const recordsDests = new Set(plan.channels.filter((c) => c.app === 'records').map((c) => c.dest));
    const referralDests = new Set(plan.channels.filter((c) => c.app === 'referrals').map((c) => c.dest));
    const withSettlement = plan.channels.some((c) => c.app === 'claims' || c.app === 'settlement');
    const hospital = new Wallet(devKey(DEV_ACCOUNT.hospital)).address;
    const relayerAccount = new Wallet(devKey(DEV_ACCOUNT.relayer)).address;

    const deployed = await Promise.all(
      started.map(async ({ spec, anvil }) => {
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
        const auditLog = await deploy(signer, 'AuditLog', []);
        const codeMaps = await deploy(signer, 'CodeMapRegistry', [await registry.getAddress()]);
        const gateway = await deploy(signer, 'ReferralGateway', [
          await outbox.getAddress(),
          await inbox.getAddress(),
          await registry.getAddress(),
          await mirror.getAddress(),
          await auditLog.getAddress(),
        ]);
        const settlement = withSettlement
          ? await deploySettlement(signer, outbox, inbox, registry, mirror)
          : undefined;
        const disclosure = recordsDests.has(spec.name)
          ? await deploy(signer, 'DisclosureVerifier', [await store.getAddress()])
          : undefined;
        await send(registry, 'setInstitution', [hospital, true]);
        for (const writer of [relayerAccount, hospital, await gateway.getAddress()])
          await send(auditLog, 'setWriter', [writer, true]);
        if (spec.role === 'medical' || referralDests.has(spec.name))
          await send(gateway, 'setInstitutionRef', [DEVNET_REFERRAL_RECIPIENT, hospital]);
        const lightClients: Record<string, Hex> = {};
        for (const remoteName of remotes.get(spec.name) ?? []) {
          const remote = chainOf(remoteName);
          const lc = await deploy(signer, 'QbftLightClient', [remote.spec.chainId, remote.validators]);
          lightClients[String(remote.spec.chainId)] = (await lc.getAddress()) as Hex;
        }
        provider.destroy();
        const contracts: DevnetContracts = {
          outbox: (await outbox.getAddress()) as Hex,
          inbox: (await inbox.getAddress()) as Hex,
          recordRegistry: (await registry.getAddress()) as Hex,
          recordProofSender: (await sender.getAddress()) as Hex,
          recordProofStore: (await store.getAddress()) as Hex,
          consentRegistry: (await consents.getAddress()) as Hex,
          consentMirror: (await mirror.getAddress()) as Hex,
          noopReceiver: (await noop.getAddress()) as Hex,
          lightClients,
          ...(disclosure ? { disclosureVerifier: (await disclosure.getAddress()) as Hex } : {}),
          codeMapRegistry: (await codeMaps.getAddress()) as Hex,
          auditLog: (await auditLog.getAddress()) as Hex,
          referralGateway: (await gateway.getAddress()) as Hex,
          ...(settlement ? { settlement } : {}),
        };
        return { spec, contracts };
      }),
    );
    const dep = new Map(deployed.map((d) => [d.spec.name, d]));

    const withId = (c: DevnetChannelPlan): DevnetChannel => ({
      ...c,
      id: channelId(BigInt(chainOf(c.source).spec.chainId), BigInt(chainOf(c.dest).spec.chainId), c.name),
    });
    const channels = plan.channels.map(withId);
    const consentChannels = plan.consentChannels.map(withId);
    const allChannels = [...channels, ...consentChannels];

    // Wire remotes, channels and app routes (per chain sequentially, chains in parallel).
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
        const mirror = at('ConsentMirror', d.contracts.consentMirror);
        const gateway = at('ReferralGateway', d.contracts.referralGateway);
        const consents = at('ConsentRegistry', d.contracts.consentRegistry);
        for (const remoteName of remotes.get(d.spec.name) ?? []) {
          const r = dep.get(remoteName)!;
          const lc = d.contracts.lightClients[String(r.spec.chainId)];
          await send(outbox, 'registerRemote', [r.spec.chainId, lc, r.contracts.inbox]);
          await send(inbox, 'registerRemote', [r.spec.chainId, lc, r.contracts.outbox]);
          await send(store, 'setTrustedSender', [r.spec.chainId, r.contracts.recordProofSender]);
          await send(mirror, 'setTrustedSender', [r.spec.chainId, r.contracts.consentRegistry]);
          await send(gateway, 'setTrustedSender', [r.spec.chainId, r.contracts.referralGateway]);
        }
        for (const ch of allChannels.filter((c) => c.source === d.spec.name)) {
          await send(outbox, 'openChannel', [ch.name, chainOf(ch.dest).spec.chainId]);
        }
        // Consent routes: one lane per destination; `grant` (no destination) goes to the first records route.
        for (const ch of consentChannels.filter((c) => c.source === d.spec.name)) {
          const dst = dep.get(ch.dest)!;
          await send(consents, 'setRoute', [dst.spec.chainId, ch.id, dst.contracts.consentMirror]);
        }
        const firstRecords = channels.find((c) => c.source === d.spec.name && c.app === 'records');
        const defaultDest = firstRecords ?? consentChannels.find((c) => c.source === d.spec.name);
        if (defaultDest) await send(consents, 'setDefaultDest', [chainOf(defaultDest.dest).spec.chainId]);
        for (const ch of channels.filter((c) => c.source === d.spec.name && c.app === 'referrals')) {
          const dst = dep.get(ch.dest)!;
          await send(gateway, 'setRoute', [dst.spec.chainId, ch.id, dst.contracts.referralGateway]);
        }
        const st = d.contracts.settlement;
        if (st) {
          const settlementGateway = at('SettlementGateway', st.settlementGateway);
          const claimSettlement = at('ClaimSettlement', st.claimSettlement);
          const claimSubmitter = at('ClaimSubmitter', st.claimSubmitter);
          for (const remoteName of remotes.get(d.spec.name) ?? []) {
            const r = dep.get(remoteName)!.contracts.settlement!;
            const remoteId = dep.get(remoteName)!.spec.chainId;
            await send(settlementGateway, 'setTrustedSender', [remoteId, r.settlementGateway]);
            await send(claimSettlement, 'setTrustedSender', [remoteId, r.claimSubmitter]);
          }
          for (const ch of channels.filter((c) => c.source === d.spec.name && c.app === 'settlement')) {
            const dst = dep.get(ch.dest)!;
            await send(settlementGateway, 'setRoute', [
              dst.spec.chainId,
              ch.id,
              dst.contracts.settlement!.settlementGateway,
              new Wallet(devKey(DEV_ACCOUNT.bank)).address,
            ]);
          }
          for (const ch of channels.filter((c) => c.source === d.spec.name && c.app === 'claims')) {
            const dst = dep.get(ch.dest)!;
            await send(claimSubmitter, 'setRoute', [
              dst.spec.chainId,
              ch.id,
              dst.contracts.settlement!.claimSettlement,
            ]);
          }
        }
        provider.destroy();
      }),
    );
    // The relayer starts scanning here: it sees the bootstrap consent packets below (sent and received) and
    // relays their acks back, so every consent lane's ackedUpTo keeps up with later grants and revocations.
    const startHeights = new Map(
      await Promise.all(
        started.map(
          async (s) => [s.spec.name, Number(await rpc(s.anvil.rpcUrl, 'eth_blockNumber', [])) + 1] as const,
        ),
      ),
    );
    // Consent bootstrap (devnet genesis state): on each consent lane the hospital grants the devnet consents of
    // the route (records: devnetConsentId(source) to DEVNET_RECIPIENT, once per source chain; referrals:
    // devnetReferralConsentId(source, dest) to DEVNET_REFERRAL_RECIPIENT), delivered here (sealed header +
    // proofs, Inbox.updateAndReceive) so that record proofs and referrals sent right after start find them active.
    const grantedRecords = new Set<string>();
    for (const lane of consentChannels) {
      const apps = new Set(channels.filter((c) => c.consentChannel === lane.name).map((c) => c.app));
      const src = chainOf(lane.source);
      const grants: BootstrapGrant[] = [];
      if ((apps.has('records') || apps.has('claims')) && !grantedRecords.has(lane.source)) {
        grantedRecords.add(lane.source);
        grants.push({ consentId: devnetConsentId(src.spec.chainId), recipient: DEVNET_RECIPIENT });
      }
      if (apps.has('referrals')) {
        grants.push({
          consentId: devnetReferralConsentId(src.spec.chainId, chainOf(lane.dest).spec.chainId),
          recipient: DEVNET_REFERRAL_RECIPIENT,
        });
      }
      if (grants.length === 0) continue;
      await bootstrapConsents(
        { ...dep.get(lane.source)!, anvilUrl: src.anvil.rpcUrl, proxyUrl: src.proxy.url },
        src,
        { ...dep.get(lane.dest)!, anvilUrl: chainOf(lane.dest).anvil.rpcUrl },
        lane.id,
        grants,
      );
      log(`consent lane ${lane.name}: ${grants.length} devnet consent(s) granted and mirrored`);
    }
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
      consentChannels,
      allChannels,
      chain(name: string) {
        const c = chains.find((x) => x.spec.name === name);
        if (!c) throw new Error(`devnet: no chain ${name}`);
        return c;
      },
      channel(name: string) {
        const c = allChannels.find((x) => x.name === name);
        if (!c) throw new Error(`devnet: no channel ${name}`);
        return c;
      },
      sealer(name: string) {
        const c = bySpec.get(name);
        if (!c) throw new Error(`devnet: no chain ${name}`);
        return c.proxy;
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

interface BootstrapGrant {
  consentId: Hex;
  recipient: Hex;
}

/**
 * Grants `grants` (patient DEVNET_PATIENT, patient key = the hospital, valid from 0 forever) on `src` over the
 * fresh consent lane `channel` and delivers them to `dst` in one `Inbox.updateAndReceive` (see startDevnet).
 */
async function bootstrapConsents(
  src: BootstrapSide & { proxyUrl: string },
  srcVals: { validators: Hex[]; keys: Uint8Array[] },
  dst: BootstrapSide,
  channel: Hex,
  grants: BootstrapGrant[],
): Promise<void> {
  const srcProvider = new JsonRpcProvider(src.anvilUrl, src.spec.chainId, { staticNetwork: true });
  const dstProvider = new JsonRpcProvider(dst.anvilUrl, dst.spec.chainId, { staticNetwork: true });
  try {
    const hospital = new NonceManager(new Wallet(devKey(DEV_ACCOUNT.hospital), srcProvider));
    const hospitalAddress = await hospital.getAddress();
    const at = (n: string, addr: string, runner: ContractRunner) =>
      new Contract(addr, loadArtifact(n).abi as InterfaceAbi, runner);
    const outbox = at('Outbox', src.contracts.outbox, srcProvider);
    const consents = at('ConsentRegistry', src.contracts.consentRegistry, hospital);
    const packets: ReturnType<typeof decodePacket>[] = [];
    const acc = new MerkleAccumulator();
    let height = 0;
    for (const g of grants) {
      const tx = await consents.getFunction('grantTo')(
        dst.spec.chainId,
        g.consentId,
        DEVNET_PATIENT,
        hospitalAddress,
        g.recipient,
        g.consentId,
        0,
        2n ** 63n,
      );
      const rc = await tx.wait();
      const sentLog = rc!.logs
        .map((l: { topics: readonly string[]; data: string }) => outbox.interface.parseLog(l))
        .find((e: { name: string } | null) => e?.name === 'PacketSent')!;
      const packet = decodePacket(hexToBytes(sentLog.args.packet as string));
      if (packet.sequence !== BigInt(packets.length + 1))
        throw new Error(`devnet: consent lane ${channel} is not fresh (sequence ${packet.sequence})`);
      packets.push(packet);
      acc.append(sentLog.args.id as Hex);
      height = Number(rc!.blockNumber);
    }
    // Proofs at `height` (the last grant): the send root and a header sealed by the source validators.
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
      packets,
      acc.rangeProof(0, packets.length),
    ]);
    const mirror = at('ConsentMirror', dst.contracts.consentMirror, dstProvider);
    for (const g of grants) {
      const active = (await mirror.getFunction('isActive')(
        g.consentId,
        g.recipient,
        Math.floor(Date.now() / 1000),
      )) as boolean;
      if (!active)
        throw new Error(
          `devnet: consent bootstrap ${channel} did not activate ${g.consentId} on ${dst.spec.name}`,
        );
    }
  } finally {
    srcProvider.destroy();
    dstProvider.destroy();
  }
}
