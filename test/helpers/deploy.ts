/**
 * Deploys the medrelay contracts with ethers v6 (artifacts from `npm run build`). One "endpoint" per chain:
 * a QbftLightClient of the remote chain, Outbox, Inbox, the record apps (RecordRegistry, RecordProofSender,
 * RecordProofStore for recipient {@link RECIPIENT_REF}), the consent apps (ConsentRegistry, ConsentMirror) plus a
 * NoopReceiver; `linkEndpoints` registers each side as the other's remote and trusted sender.
 */
import {
  type BaseContractMethod,
  type Contract,
  ContractFactory,
  keccak256,
  type Signer,
  toUtf8Bytes,
} from 'ethers';
import { type ContractName, loadArtifact } from '../../adapters/evm/contracts/artifacts.js';

/** An ethers Contract whose listed methods are known to exist (ethers' own typing makes every name optional). */
export type Bound<K extends string> = Contract & { [k in K]: BaseContractMethod };

export type LightClientContract = Bound<
  | 'updateHeader'
  | 'stateRoot'
  | 'receiptsRoot'
  | 'timestamp'
  | 'latestNumber'
  | 'validators'
  | 'quorum'
  | 'epoch'
  | 'verifyHeader'
  | 'validatorsSince'
>;
export type OutboxContract = Bound<
  | 'openChannel'
  | 'registerRemote'
  | 'sendPacket'
  | 'acknowledgePackets'
  | 'timeoutPacket'
  | 'nextSequence'
  | 'ackedUpTo'
  | 'sendRoot'
  | 'sentId'
  | 'channelDest'
  | 'remotes'
>;
export type InboxContract = Bound<
  'registerRemote' | 'receivePackets' | 'updateAndReceive' | 'nextRecv' | 'ackRoot' | 'remotes'
>;
export type RegistryContract = Bound<
  | 'setInstitution'
  | 'anchor'
  | 'anchorSigned'
  | 'logAccess'
  | 'getRecord'
  | 'signedAnchor'
  | 'anchorDigest'
  | 'isInstitution'
>;
export type RecordSenderContract = Bound<'sendRecordProof' | 'delivery' | 'outbox' | 'registry'>;
export type RecordStoreContract = Bound<
  'setTrustedSender' | 'getRecordProof' | 'trustedSender' | 'inbox' | 'recipientRef' | 'consentMirror'
>;
export type ConsentRegistryContract = Bound<
  | 'setRoute'
  | 'setDefaultDest'
  | 'grant'
  | 'grantTo'
  | 'revoke'
  | 'revokeBySignature'
  | 'isActive'
  | 'getConsent'
  | 'revokeDigest'
  | 'delivery'
  | 'route'
>;
export type ConsentMirrorContract = Bound<
  'setTrustedSender' | 'isActive' | 'check' | 'getConsent' | 'trustedSender'
>;

/** FHIR reference of the insurer the test RecordProofStore serves, hashed: the consents' recipient. */
export const RECIPIENT_REF = keccak256(toUtf8Bytes('Organization/insurer'));

/** Deploys `name` from `signer` and waits for it to be mined. */
export async function deployContract<T extends Contract = Contract>(
  name: ContractName,
  signer: Signer,
  ...args: unknown[]
): Promise<T> {
  const { abi, bytecode } = loadArtifact(name);
  const contract = await new ContractFactory(abi, bytecode, signer).deploy(...args);
  await contract.waitForDeployment();
  return contract as T;
}

/** An ethers Contract bound to a deployed address (e.g. to call with another signer). */
export function attach(name: ContractName, address: string, runner: Signer): Contract {
  return new ContractFactory(loadArtifact(name).abi, '0x', runner).attach(address) as Contract;
}

export interface ChainSide {
  /** Deployer; becomes the owner of every contract on this chain. */
  signer: Signer;
  chainId: bigint;
  /** This chain's QBFT validator set, trusted by the light client the OTHER chain runs of this chain. */
  validators: readonly string[];
}

export interface Endpoint {
  chainId: bigint;
  /** Light client of the remote chain (lives on this chain). */
  lightClient: LightClientContract;
  outbox: OutboxContract;
  inbox: InboxContract;
  registry: RegistryContract;
  recordSender: RecordSenderContract;
  recordStore: RecordStoreContract;
  consentRegistry: ConsentRegistryContract;
  consentMirror: ConsentMirrorContract;
  noop: Contract;
}

/** Deploys one chain's contracts; `remote` describes the chain its light client follows. */
export async function deployEndpoint(
  signer: Signer,
  chainId: bigint,
  remote: { chainId: bigint; validators: readonly string[] },
): Promise<Endpoint> {
  const lightClient = await deployContract<LightClientContract>('QbftLightClient', signer, remote.chainId, [
    ...remote.validators,
  ]);
  const outbox = await deployContract<OutboxContract>('Outbox', signer);
  const inbox = await deployContract<InboxContract>('Inbox', signer);
  const registry = await deployContract<RegistryContract>('RecordRegistry', signer);
  const recordSender = await deployContract<RecordSenderContract>(
    'RecordProofSender',
    signer,
    await outbox.getAddress(),
    await registry.getAddress(),
  );
  const consentMirror = await deployContract<ConsentMirrorContract>(
    'ConsentMirror',
    signer,
    await inbox.getAddress(),
  );
  const recordStore = await deployContract<RecordStoreContract>(
    'RecordProofStore',
    signer,
    await inbox.getAddress(),
    await consentMirror.getAddress(),
    RECIPIENT_REF,
  );
  const consentRegistry = await deployContract<ConsentRegistryContract>(
    'ConsentRegistry',
    signer,
    await outbox.getAddress(),
    await registry.getAddress(),
  );
  const noop = await deployContract('NoopReceiver', signer);
  return {
    chainId,
    lightClient,
    outbox,
    inbox,
    registry,
    recordSender,
    recordStore,
    consentRegistry,
    consentMirror,
    noop,
  };
}

/** Registers each endpoint as the other's remote (Outbox ↔ remote Inbox, Inbox ↔ remote Outbox). */
export async function linkEndpoints(a: Endpoint, b: Endpoint): Promise<void> {
  for (const [here, there] of [
    [a, b],
    [b, a],
  ] as const) {
    const lc = await here.lightClient.getAddress();
    await (await here.outbox.registerRemote(there.chainId, lc, await there.inbox.getAddress())).wait();
    await (await here.inbox.registerRemote(there.chainId, lc, await there.outbox.getAddress())).wait();
    // The record store trusts the remote RecordProofSender only.
    await (
      await here.recordStore.setTrustedSender(there.chainId, await there.recordSender.getAddress())
    ).wait();
    // The consent mirror trusts the remote ConsentRegistry only.
    await (
      await here.consentMirror.setTrustedSender(there.chainId, await there.consentRegistry.getAddress())
    ).wait();
  }
}

/** Both endpoints, linked. */
export async function deployRelayContracts(
  a: ChainSide,
  b: ChainSide,
): Promise<{ a: Endpoint; b: Endpoint }> {
  const ea = await deployEndpoint(a.signer, a.chainId, { chainId: b.chainId, validators: b.validators });
  const eb = await deployEndpoint(b.signer, b.chainId, { chainId: a.chainId, validators: a.validators });
  await linkEndpoints(ea, eb);
  return { a: ea, b: eb };
}

/** Opens channel `name` on `from`'s Outbox towards `toChainId`; returns the channel id. */
export async function openChannel(from: Endpoint, name: string, toChainId: bigint): Promise<string> {
  const channel = (await from.outbox.openChannel.staticCall(name, toChainId)) as string;
  await (await from.outbox.openChannel(name, toChainId)).wait();
  return channel;
}
