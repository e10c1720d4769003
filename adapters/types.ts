/**
 * The one interface every chain family implements (Hermes' `ChainEndpoint` is the model): lifecycle, queries,
 * proof builders and submission. The relayer only talks to chains through it, so Substrate and Fabric plug in
 * beside EVM without touching the pipeline.
 *
 * Proof material is returned as opaque, family-specific but serialisable objects: the relayer stores them in
 * Redis between stages and hands them back to the destination adapter unchanged.
 */
import type { Hex } from '../proofs/bytes.js';
import type { Packet } from '../proofs/packet.js';

export type ChainFamily = 'evm' | 'substrate' | 'fabric';

export interface ChainInfo {
  readonly name: string;
  readonly chainId: bigint;
  readonly family: ChainFamily;
}

/** A finality proof for one height: for QBFT chains the sealed header RLP (extraData carries the seals). */
export interface FinalityProof {
  readonly chainId: string; // decimal string: proofs travel through JSON
  readonly height: string;
  readonly blockHash: Hex;
  readonly stateRoot: Hex;
  readonly timestamp: string;
  readonly header: Hex;
}

/** An inclusion proof of one committed 32-byte value (accumulator root or counter) at a height. */
export interface CommitmentProof {
  readonly height: string;
  readonly contract: Hex;
  readonly slot: Hex;
  readonly value: Hex;
  readonly accountProof: Hex[];
  readonly storageProof: Hex[];
}

export interface SentPacketEvent {
  readonly id: Hex;
  readonly packet: Packet;
  readonly packetHex: Hex;
  readonly height: bigint;
  readonly txHash: Hex;
}

export interface ReceivedPacketEvent {
  readonly channel: Hex;
  readonly sequence: bigint;
  readonly id: Hex;
  readonly status: number;
  readonly result: Hex;
  readonly height: bigint;
  readonly txHash: Hex;
}

export interface AcknowledgedEvent {
  readonly channel: Hex;
  readonly sequence: bigint;
  readonly id: Hex;
  readonly status: number;
  readonly height: bigint;
  readonly txHash: Hex;
}

export interface TimedOutEvent {
  readonly channel: Hex;
  readonly sequence: bigint;
  readonly id: Hex;
  readonly height: bigint;
  readonly txHash: Hex;
}

export interface ChainEvents {
  sent: SentPacketEvent[];
  received: ReceivedPacketEvent[];
  acknowledged: AcknowledgedEvent[];
  timedOut: TimedOutEvent[];
}

export interface TxResult {
  readonly hash: Hex;
  readonly blockNumber: bigint;
  readonly gasUsed: bigint;
}

export interface ReceiveRequest {
  readonly sourceChainId: bigint;
  /** Included when the destination's light client does not yet know `proof.height`. */
  readonly header?: FinalityProof;
  readonly proof: CommitmentProof;
  readonly packets: Packet[];
  readonly rangeProof: Hex[];
}

export interface AcknowledgeRequest {
  readonly destChainId: bigint;
  readonly proof: CommitmentProof;
  readonly packets: Packet[];
  readonly statuses: number[];
  readonly results: Hex[];
  readonly rangeProof: Hex[];
}

export interface TimeoutRequest {
  readonly destChainId: bigint;
  readonly proof: CommitmentProof;
  readonly packet: Packet;
}

export interface ChainHealth {
  readonly ok: boolean;
  readonly height?: string;
  readonly error?: string;
}

/** What a chain's light client for a remote chain holds (QBFT: `QbftLightClient`). */
export interface LightClientState {
  /** Highest verified header number. */
  readonly latestNumber: bigint;
  /** Header that installed the current set (0 = constructor set): the set seals only headers above it. */
  readonly validatorsSince: bigint;
  /** Number of accepted validator-set changes. */
  readonly epoch: bigint;
  /** The trusted set, lowercase, in the light client's order. */
  readonly validators: string[];
}

export interface ChainAdapter {
  readonly info: ChainInfo;

  // lifecycle
  health(): Promise<ChainHealth>;
  close(): Promise<void>;

  // finality
  finalizedHeight(): Promise<bigint>;
  finalityProof(height: bigint): Promise<FinalityProof>;

  // events in [from, to]
  events(from: bigint, to: bigint): Promise<ChainEvents>;

  // proofs (source side: send commitments; destination side: acks and receipts)
  sendCommitmentProof(channel: Hex, height: bigint): Promise<CommitmentProof>;
  ackCommitmentProof(channel: Hex, height: bigint): Promise<CommitmentProof>;
  nextRecvProof(channel: Hex, height: bigint): Promise<CommitmentProof>;

  // state queries at the latest height
  nextSequence(channel: Hex): Promise<bigint>;
  nextRecv(channel: Hex): Promise<bigint>;
  ackedUpTo(channel: Hex): Promise<bigint>;
  /** Latest height of `remoteChainId` that this chain's light client has verified. */
  trustedHeight(remoteChainId: bigint): Promise<bigint>;
  /** Whether the light client holds a verified header of `remoteChainId` at exactly `height`. */
  isTrusted(remoteChainId: bigint, height: bigint): Promise<boolean>;
  /** The validator set (or authority set) this chain's light client trusts for `remoteChainId`. */
  trustedValidators(remoteChainId: bigint): Promise<string[]>;
  /** The light client's state for `remoteChainId` (heights, epoch and set), read at the latest block. */
  lightClientState(remoteChainId: bigint): Promise<LightClientState>;

  // submission
  updateClient(remoteChainId: bigint, header: FinalityProof): Promise<TxResult>;
  receivePackets(req: ReceiveRequest): Promise<TxResult>;
  acknowledgePackets(req: AcknowledgeRequest): Promise<TxResult>;
  timeoutPacket(req: TimeoutRequest): Promise<TxResult>;
}
