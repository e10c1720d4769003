/**
 * Test-side relaying: reads PacketSent / PacketReceived events, rebuilds the accumulators with
 * proofs/accumulator.ts and fetches eth_getProof storage proofs of the pinned slots, producing the exact
 * arguments of Inbox.receivePackets / updateAndReceive and Outbox.acknowledgePackets / timeoutPacket.
 */
import { AbiCoder, type Contract, type JsonRpcProvider, keccak256 } from 'ethers';
import { MerkleAccumulator } from '../../proofs/accumulator.js';
import { type Hex, hexToBytes } from '../../proofs/bytes.js';
import { ackLeaf, decodePacket, type Packet } from '../../proofs/packet.js';

/** Pinned mapping slots (docs/architecture.md). */
export const SLOT = { OUTBOX_SEND_ROOT: 0n, INBOX_ACK_ROOT: 0n, INBOX_NEXT_RECV: 1n } as const;

/** Storage key of `mapping(bytes32 => …)` at `slot` for key `channel`. */
export function mappingSlot(channel: string, slot: bigint): Hex {
  return keccak256(AbiCoder.defaultAbiCoder().encode(['bytes32', 'uint256'], [channel, slot])) as Hex;
}

export interface StorageProofArgs {
  accountProof: Hex[];
  storageProof: Hex[];
  value: bigint;
}

/** eth_getProof of `address`'s storage `key` at block `height`. */
export async function getStorageProof(
  provider: JsonRpcProvider,
  address: string,
  key: string,
  height: number | bigint,
): Promise<StorageProofArgs> {
  const res = (await provider.send('eth_getProof', [address, [key], `0x${BigInt(height).toString(16)}`])) as {
    accountProof: Hex[];
    storageProof: { value: string; proof: Hex[] }[];
  };
  const sp = res.storageProof[0]!;
  return { accountProof: res.accountProof, storageProof: sp.proof, value: BigInt(sp.value) };
}

export interface SentPacket {
  packet: Packet;
  id: Hex;
  blockNumber: number;
}

/**
 * Logs of `event` with first topic `channel` (raw eth_getLogs: ethers v6 caches identical reads for ~250 ms,
 * which returns stale logs on a fast automining anvil).
 */
async function channelLogs(c: Contract, event: string, channel: string): Promise<Log[]> {
  const provider = c.runner?.provider as JsonRpcProvider;
  const topic = c.interface.getEvent(event)!.topicHash;
  const raw = (await provider.send('eth_getLogs', [
    { address: await c.getAddress(), topics: [topic, channel], fromBlock: '0x0', toBlock: 'latest' },
  ])) as { topics: string[]; data: string; blockNumber: string }[];
  return raw.map((l) => ({ topics: l.topics, data: l.data, blockNumber: Number(l.blockNumber) }));
}

interface Log {
  topics: string[];
  data: string;
  blockNumber: number;
}

/** Every packet sent on `channel` by `outbox` (in sequence order). */
export async function sentPackets(outbox: Contract, channel: string): Promise<SentPacket[]> {
  const logs = await channelLogs(outbox, 'PacketSent', channel);
  return logs
    .map((l) => {
      const ev = outbox.interface.parseLog(l)!;
      return {
        packet: decodePacket(hexToBytes(ev.args.packet as string)),
        id: ev.args.id as Hex,
        blockNumber: l.blockNumber,
      };
    })
    .sort((x, y) => Number(x.packet.sequence - y.packet.sequence));
}

/** ethers argument form of a packet (a struct is passed as an object with its field names). */
export function toSol(p: Packet): Packet {
  return { ...p };
}

export interface ReceiveArgs {
  height: bigint;
  accountProof: Hex[];
  storageProof: Hex[];
  packets: Packet[];
  rangeProof: Hex[];
}

/**
 * Arguments to deliver `count` packets starting at sequence `fromSeq` on `channel`, proven at source `height`
 * (every packet must have been sent at or before `height`).
 */
export async function buildReceiveArgs(
  provider: JsonRpcProvider,
  outbox: Contract,
  channel: string,
  height: number | bigint,
  fromSeq: bigint,
  count: number,
): Promise<ReceiveArgs> {
  const sent = (await sentPackets(outbox, channel)).filter((s) => s.blockNumber <= Number(height));
  const acc = new MerkleAccumulator();
  for (const s of sent) acc.append(s.id);
  const start = Number(fromSeq - 1n);
  const proof = await getStorageProof(
    provider,
    await outbox.getAddress(),
    mappingSlot(channel, SLOT.OUTBOX_SEND_ROOT),
    height,
  );
  return {
    height: BigInt(height),
    accountProof: proof.accountProof,
    storageProof: proof.storageProof,
    packets: sent.slice(start, start + count).map((s) => toSol(s.packet)),
    rangeProof: acc.rangeProof(start, count),
  };
}

export interface ReceivedPacket {
  id: Hex;
  sequence: bigint;
  status: number;
  result: Hex;
  blockNumber: number;
}

/** Every PacketReceived on `channel` by `inbox` (sequence order). */
export async function receivedPackets(inbox: Contract, channel: string): Promise<ReceivedPacket[]> {
  const logs = await channelLogs(inbox, 'PacketReceived', channel);
  return logs
    .map((l) => {
      const ev = inbox.interface.parseLog(l)!;
      return {
        id: ev.args.id as Hex,
        sequence: ev.args.sequence as bigint,
        status: Number(ev.args.status),
        result: ev.args.result as Hex,
        blockNumber: l.blockNumber,
      };
    })
    .sort((x, y) => Number(x.sequence - y.sequence));
}

export interface AckArgs {
  height: bigint;
  accountProof: Hex[];
  storageProof: Hex[];
  packets: Packet[];
  statuses: number[];
  results: Hex[];
  rangeProof: Hex[];
}

/** Arguments to acknowledge `count` packets from `fromSeq`, proven at destination `height`. */
export async function buildAckArgs(
  destProvider: JsonRpcProvider,
  inbox: Contract,
  outbox: Contract,
  channel: string,
  height: number | bigint,
  fromSeq: bigint,
  count: number,
): Promise<AckArgs> {
  const received = (await receivedPackets(inbox, channel)).filter((r) => r.blockNumber <= Number(height));
  const acc = new MerkleAccumulator();
  for (const r of received) acc.append(ackLeaf(r.id, r.status, r.result));
  const sent = await sentPackets(outbox, channel);
  const start = Number(fromSeq - 1n);
  const proof = await getStorageProof(
    destProvider,
    await inbox.getAddress(),
    mappingSlot(channel, SLOT.INBOX_ACK_ROOT),
    height,
  );
  const slice = received.slice(start, start + count);
  return {
    height: BigInt(height),
    accountProof: proof.accountProof,
    storageProof: proof.storageProof,
    packets: slice.map((r) => toSol(sent[Number(r.sequence - 1n)]!.packet)),
    statuses: slice.map((r) => r.status),
    results: slice.map((r) => r.result),
    rangeProof: acc.rangeProof(start, count),
  };
}

/** Proof of the destination Inbox's nextRecv[channel] at `height` (for Outbox.timeoutPacket). */
export async function buildNextRecvProof(
  destProvider: JsonRpcProvider,
  inbox: Contract,
  channel: string,
  height: number | bigint,
): Promise<StorageProofArgs> {
  return getStorageProof(
    destProvider,
    await inbox.getAddress(),
    mappingSlot(channel, SLOT.INBOX_NEXT_RECV),
    height,
  );
}
