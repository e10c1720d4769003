/**
 * medrelay packet (DESIGN.md §3, docs/architecture.md): ABI encoding as Solidity's `abi.encode(packet)` of the
 * `Packet` struct, so TypeScript and the contracts agree byte for byte; `id = keccak256(encoding)`.
 */
import { bytesToBigint, bytesToHex, concatBytes, equalBytes, type Hex, hexToBytes } from './bytes.js';
import { ProofError } from './errors.js';
import { keccak256 } from './keccak.js';

export const PacketKind = {
  RECORD_PROOF: 1,
  CONSENT_GRANT: 2,
  CONSENT_REVOKE: 3,
  CLAIM: 4,
  SETTLEMENT: 5,
} as const;
export type PacketKind = (typeof PacketKind)[keyof typeof PacketKind];

export const AckStatus = { SUCCESS: 1, APP_ERROR: 2, TIMEOUT: 3 } as const;
export type AckStatus = (typeof AckStatus)[keyof typeof AckStatus];

export interface Packet {
  version: number;
  sourceChain: bigint;
  destChain: bigint;
  channel: Hex;
  sequence: bigint;
  sender: Hex;
  receiver: Hex;
  timeoutHeight: bigint;
  timeoutTimestamp: bigint;
  kind: number;
  payload: Hex;
}

const U64_MAX = (1n << 64n) - 1n;
const HEAD_WORDS = 11;

function fail(message: string): never {
  throw new ProofError('MR_ERR_PACKET_ENCODING', `packet: ${message}`);
}

function uintWord(v: bigint, max: bigint, field: string): Uint8Array {
  if (typeof v !== 'bigint' || v < 0n || v > max) fail(`${field} out of range`);
  const out = new Uint8Array(32);
  let x = v;
  for (let i = 31; x > 0n; i--) {
    out[i] = Number(x & 0xffn);
    x >>= 8n;
  }
  return out;
}

function fixedWord(hex: Hex, len: number, field: string, leftPad: boolean): Uint8Array {
  const b = hexToBytes(hex, field);
  if (b.length !== len) fail(`${field} must be ${len} bytes`);
  const out = new Uint8Array(32);
  out.set(b, leftPad ? 32 - len : 0);
  return out;
}

/** channel id = keccak256(abi.encode(uint64 sourceChain, uint64 destChain, string name)) */
export function channelId(sourceChain: bigint, destChain: bigint, name: string): Hex {
  const nameBytes = new TextEncoder().encode(name);
  const padded = new Uint8Array(Math.ceil(nameBytes.length / 32) * 32);
  padded.set(nameBytes);
  return bytesToHex(
    keccak256(
      concatBytes(
        uintWord(sourceChain, U64_MAX, 'sourceChain'),
        uintWord(destChain, U64_MAX, 'destChain'),
        uintWord(96n, U64_MAX, 'offset'),
        uintWord(BigInt(nameBytes.length), U64_MAX, 'length'),
        padded,
      ),
    ),
  );
}

export function encodePacket(p: Packet): Uint8Array {
  const payload = hexToBytes(p.payload, 'payload');
  const padded = new Uint8Array(Math.ceil(payload.length / 32) * 32);
  padded.set(payload);
  return concatBytes(
    uintWord(32n, U64_MAX, 'offset'),
    uintWord(BigInt(p.version), 0xffn, 'version'),
    uintWord(p.sourceChain, U64_MAX, 'sourceChain'),
    uintWord(p.destChain, U64_MAX, 'destChain'),
    fixedWord(p.channel, 32, 'channel', false),
    uintWord(p.sequence, U64_MAX, 'sequence'),
    fixedWord(p.sender, 20, 'sender', true),
    fixedWord(p.receiver, 20, 'receiver', true),
    uintWord(p.timeoutHeight, U64_MAX, 'timeoutHeight'),
    uintWord(p.timeoutTimestamp, U64_MAX, 'timeoutTimestamp'),
    uintWord(BigInt(p.kind), 0xffn, 'kind'),
    uintWord(BigInt(HEAD_WORDS * 32), U64_MAX, 'payloadOffset'),
    uintWord(BigInt(payload.length), U64_MAX, 'payloadLength'),
    padded,
  );
}

function readUint(data: Uint8Array, word: number, max: bigint, field: string): bigint {
  const w = data.subarray(word * 32, word * 32 + 32);
  const v = bytesToBigint(w);
  if (v > max) fail(`${field} out of range`);
  return v;
}

function readAddress(data: Uint8Array, word: number, field: string): Hex {
  const w = data.subarray(word * 32, word * 32 + 32);
  for (let i = 0; i < 12; i++) if (w[i] !== 0) fail(`${field} has dirty high bytes`);
  return bytesToHex(w.subarray(12));
}

/** Strict decoder: the input must be exactly the canonical encoding (re-encoding must match). */
export function decodePacket(data: Uint8Array): Packet {
  if (data.length < (HEAD_WORDS + 2) * 32 || data.length % 32 !== 0) fail('bad length');
  if (readUint(data, 0, U64_MAX, 'offset') !== 32n) fail('bad tuple offset');
  const body = data.subarray(32);
  const payloadLen = Number(readUint(body, HEAD_WORDS, BigInt(data.length), 'payloadLength'));
  const p: Packet = {
    version: Number(readUint(body, 0, 0xffn, 'version')),
    sourceChain: readUint(body, 1, U64_MAX, 'sourceChain'),
    destChain: readUint(body, 2, U64_MAX, 'destChain'),
    channel: bytesToHex(body.subarray(96, 128)),
    sequence: readUint(body, 4, U64_MAX, 'sequence'),
    sender: readAddress(body, 5, 'sender'),
    receiver: readAddress(body, 6, 'receiver'),
    timeoutHeight: readUint(body, 7, U64_MAX, 'timeoutHeight'),
    timeoutTimestamp: readUint(body, 8, U64_MAX, 'timeoutTimestamp'),
    kind: Number(readUint(body, 9, 0xffn, 'kind')),
    payload: bytesToHex(body.subarray((HEAD_WORDS + 1) * 32, (HEAD_WORDS + 1) * 32 + payloadLen)),
  };
  if (!equalBytes(encodePacket(p), data)) fail('not the canonical encoding');
  return p;
}

export function packetId(p: Packet): Hex {
  return bytesToHex(keccak256(encodePacket(p)));
}

/** ackLeaf = keccak256(abi.encode(bytes32 packetId, uint8 status, bytes32 keccak256(result))) */
export function ackLeaf(id: Hex, status: number, result: Hex): Hex {
  return bytesToHex(
    keccak256(
      concatBytes(
        fixedWord(id, 32, 'packetId', false),
        uintWord(BigInt(status), 0xffn, 'status'),
        keccak256(hexToBytes(result, 'result')),
      ),
    ),
  );
}
