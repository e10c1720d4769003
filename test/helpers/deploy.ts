/**
 * Deploys the medrelay contracts with ethers v6 (artifacts from `npm run build`). One "endpoint" per chain:
 * a QbftLightClient of the remote chain, Outbox, Inbox, and the record apps (RecordRegistry, RecordProofSender,
 * RecordProofStore) plus a NoopReceiver; `linkEndpoints` registers each side as the other's remote.
 */
import { type BaseContractMethod, type Contract, ContractFactory, type Signer } from 'ethers';
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
  'setInstitution' | 'anchor' | 'logAccess' | 'getRecord' | 'isInstitution'
>;
export type RecordSenderContract = Bound<'sendRecordProof' | 'delivery' | 'outbox' | 'registry'>;
export type RecordStoreContract = Bound<'setTrustedSender' | 'getRecordProof' | 'trustedSender' | 'inbox'>;

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
  const recordStore = await deployContract<RecordStoreContract>(
    'RecordProofStore',
    signer,
    await inbox.getAddress(),
  );
  const noop = await deployContract('NoopReceiver', signer);
  return { chainId, lightClient, outbox, inbox, registry, recordSender, recordStore, noop };
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
