/**
 * Reading delivered packets back from the chain: the Inbox logs only a packet's id, status and result, so the
 * packet itself (with the signed anchor it carries) is decoded from the calldata of the transaction that
 * delivered it (`Inbox.receivePackets` / `updateAndReceive`). Payload codecs of the record apps are here too.
 */
import { AbiCoder } from 'ethers';
import type { Hex } from '../../../proofs/bytes.js';
import { type Packet, packetId } from '../../../proofs/packet.js';
import type { Anchor } from '../../../proofs/records/anchor.js';
import type { JsonRpcClient } from '../rpc.js';
import { contractInterface } from './chain.js';

const ANCHOR_TUPLE =
  'tuple(bytes32 recordId,bytes32 recordHash,bytes32 disclosureRoot,bytes32 patient,address institution,uint64 anchoredAt)';
const coder = AbiCoder.defaultAbiCoder();

/** Anchor with a bigint anchoredAt and lowercase hex ids (institution kept EIP-55). */
export type ChainAnchor = Anchor & { anchoredAt: bigint };

function anchorOf(r: {
  recordId: string;
  recordHash: string;
  disclosureRoot: string;
  patient: string;
  institution: string;
  anchoredAt: bigint;
}): ChainAnchor {
  return {
    recordId: r.recordId.toLowerCase() as Hex,
    recordHash: r.recordHash.toLowerCase() as Hex,
    disclosureRoot: r.disclosureRoot.toLowerCase() as Hex,
    patient: r.patient.toLowerCase() as Hex,
    institution: r.institution as Hex,
    anchoredAt: BigInt(r.anchoredAt),
  };
}

export interface ReferralPayload {
  referralId: Hex;
  toInstitution: Hex;
  anchor: ChainAnchor;
  consentId: Hex;
  signature: Hex;
}

export interface RecordProofPayload {
  anchor: ChainAnchor;
  consentRef: Hex;
  signature: Hex;
}

/** ReferralGateway payload: abi.encode(referralId, toInstitution, Anchor, consentId, signature). */
export function decodeReferralPayload(payload: string): ReferralPayload {
  const [referralId, toInstitution, a, consentId, signature] = coder.decode(
    ['bytes32', 'bytes32', ANCHOR_TUPLE, 'bytes32', 'bytes'],
    payload,
  );
  return {
    referralId: String(referralId).toLowerCase() as Hex,
    toInstitution: String(toInstitution).toLowerCase() as Hex,
    anchor: anchorOf(a),
    consentId: String(consentId).toLowerCase() as Hex,
    signature: String(signature).toLowerCase() as Hex,
  };
}

/** RecordProofSender payload: abi.encode(Anchor, consentRef, signature). */
export function decodeRecordProofPayload(payload: string): RecordProofPayload {
  const [a, consentRef, signature] = coder.decode([ANCHOR_TUPLE, 'bytes32', 'bytes'], payload);
  return {
    anchor: anchorOf(a),
    consentRef: String(consentRef).toLowerCase() as Hex,
    signature: String(signature).toLowerCase() as Hex,
  };
}

function toPacket(p: {
  version: bigint;
  sourceChain: bigint;
  destChain: bigint;
  channel: string;
  sequence: bigint;
  sender: string;
  receiver: string;
  timeoutHeight: bigint;
  timeoutTimestamp: bigint;
  kind: bigint;
  payload: string;
}): Packet {
  return {
    version: Number(p.version),
    sourceChain: BigInt(p.sourceChain),
    destChain: BigInt(p.destChain),
    channel: p.channel.toLowerCase() as Hex,
    sequence: BigInt(p.sequence),
    sender: p.sender.toLowerCase() as Hex,
    receiver: p.receiver.toLowerCase() as Hex,
    timeoutHeight: BigInt(p.timeoutHeight),
    timeoutTimestamp: BigInt(p.timeoutTimestamp),
    kind: Number(p.kind),
    payload: p.payload.toLowerCase() as Hex,
  };
}

/**
 * The packets an Inbox delivery transaction carried, or [] when `txHash` is not one (then nothing can be said).
 */
export async function packetsOfDelivery(rpc: Pick<JsonRpcClient, 'call'>, txHash: string): Promise<Packet[]> {
  const tx = await rpc.call<{ input: string } | null>('eth_getTransactionByHash', [txHash]);
  if (!tx) return [];
  const inbox = contractInterface('Inbox');
  let parsed: ReturnType<typeof inbox.parseTransaction>;
  try {
    parsed = inbox.parseTransaction({ data: tx.input });
  } catch {
    return [];
  }
  if (!parsed) return [];
  const idx = parsed.name === 'updateAndReceive' ? 4 : parsed.name === 'receivePackets' ? 3 : -1;
  if (idx < 0) return [];
  return (parsed.args[idx] as unknown[]).map((p) => toPacket(p as Parameters<typeof toPacket>[0]));
}

/** The packet with id `id` delivered by `txHash`, or null. */
export async function deliveredPacket(
  rpc: Pick<JsonRpcClient, 'call'>,
  txHash: string,
  id: string,
): Promise<Packet | null> {
  const want = id.toLowerCase();
  for (const p of await packetsOfDelivery(rpc, txHash)) if (packetId(p) === want) return p;
  return null;
}
