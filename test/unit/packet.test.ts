/**
 * proofs/packet.ts against ethers' ABI coder (an independent implementation of Solidity's abi.encode):
 * byte-for-byte encoding on random packets, strict decoding, channel ids and ack leaves.
 */
import { AbiCoder, keccak256 as ethersKeccak } from 'ethers';
import { describe, expect, it } from 'vitest';
import { bytesToHex, type Hex, hexToBytes } from '../../proofs/bytes.js';
import { ProofError } from '../../proofs/errors.js';
import {
  ackLeaf,
  channelId,
  decodePacket,
  encodePacket,
  type Packet,
  packetId,
} from '../../proofs/packet.js';
import { type Rng, rng } from '../helpers/random.js';

const abi = AbiCoder.defaultAbiCoder();
const PACKET_TUPLE = 'tuple(uint8,uint64,uint64,bytes32,uint64,address,address,uint64,uint64,uint8,bytes)';
const U64_MAX = (1n << 64n) - 1n;

function ethersEncode(p: Packet): Hex {
  return abi.encode(
    [PACKET_TUPLE],
    [
      [
        p.version,
        p.sourceChain,
        p.destChain,
        p.channel,
        p.sequence,
        p.sender,
        p.receiver,
        p.timeoutHeight,
        p.timeoutTimestamp,
        p.kind,
        p.payload,
      ],
    ],
  ) as Hex;
}

function randU64(r: Rng): bigint {
  // Mix of edge values and full-width random values.
  const pick = r.int(6);
  if (pick === 0) return 0n;
  if (pick === 1) return U64_MAX;
  if (pick === 2) return BigInt(r.int(1000));
  let v = 0n;
  for (const b of r.bytes(8)) v = (v << 8n) | BigInt(b);
  return v;
}

function randPayloadLength(r: Rng): number {
  const pick = r.int(4);
  if (pick === 0) return 0;
  if (pick === 1) return 32 * (1 + r.int(4)); // exact multiples: no padding
  return r.int(300);
}

function randomPacket(r: Rng): Packet {
  return {
    version: r.int(256),
    sourceChain: randU64(r),
    destChain: randU64(r),
    channel: bytesToHex(r.bytes(32)),
    sequence: randU64(r),
    sender: bytesToHex(r.bytes(20)),
    receiver: bytesToHex(r.bytes(20)),
    timeoutHeight: randU64(r),
    timeoutTimestamp: randU64(r),
    kind: r.int(256),
    payload: bytesToHex(r.bytes(randPayloadLength(r))),
  };
}

function basePacket(payloadLen = 5): Packet {
  const r = rng(7);
  return {
    version: 1,
    sourceChain: 31001n,
    destChain: 31003n,
    channel: bytesToHex(r.bytes(32)),
    sequence: 42n,
    sender: bytesToHex(r.bytes(20)),
    receiver: bytesToHex(r.bytes(20)),
    timeoutHeight: 1000n,
    timeoutTimestamp: 1_700_000_000n,
    kind: 1,
    // Non-zero bytes, so that shortening the declared length leaves non-zero padding behind.
    payload: bytesToHex(r.bytes(payloadLen).map((b) => b | 1)),
  };
}

/** Error code of a ProofError thrown by `fn` (fails the test if nothing or something else is thrown). */
function codeOf(fn: () => unknown): { code: string; message: string } {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ProofError);
    return { code: (err as ProofError).code, message: (err as ProofError).message };
  }
  throw new Error('expected a ProofError, nothing was thrown');
}

/** Writes `value` as a big-endian uint256 into word `word` (0-based, counted from the start of `data`). */
function setWord(data: Uint8Array, word: number, value: bigint): Uint8Array {
  const out = data.slice();
  let v = value;
  for (let i = 31; i >= 0; i--) {
    out[word * 32 + i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

// Word indices in the full encoding (word 0 is the tuple offset; the tuple head starts at word 1).
const W = {
  offset: 0,
  version: 1,
  sourceChain: 2,
  destChain: 3,
  channel: 4,
  sequence: 5,
  sender: 6,
  receiver: 7,
  timeoutHeight: 8,
  timeoutTimestamp: 9,
  kind: 10,
  payloadOffset: 11,
  payloadLength: 12,
  payload: 13,
} as const;

describe('encodePacket / decodePacket', () => {
  it('default: encodes exactly like ethers abi.encode(tuple) on 500 random packets (seed 20240601)', () => {
    const r = rng(20240601);
    for (let i = 0; i < 500; i++) {
      const p = randomPacket(r);
      const ours = encodePacket(p);
      expect(bytesToHex(ours), `packet #${i}`).toBe(ethersEncode(p));
      expect(packetId(p)).toBe(ethersKeccak(ours));
    }
  });

  it('default: decodePacket round-trips random packets and agrees with ethers decode', () => {
    const r = rng(99);
    for (let i = 0; i < 300; i++) {
      const p = randomPacket(r);
      const enc = encodePacket(p);
      const back = decodePacket(enc);
      expect(back).toEqual(p);
      const [t] = abi.decode([PACKET_TUPLE], enc) as unknown as [unknown[]];
      expect(BigInt(t[4] as bigint)).toBe(back.sequence);
      expect((t[5] as string).toLowerCase()).toBe(back.sender);
      expect(t[10]).toBe(back.payload);
    }
  });

  it('behavior: mixed-case addresses encode like lowercase and decode to lowercase', () => {
    const p = basePacket();
    const upper = { ...p, sender: `0x${p.sender.slice(2).toUpperCase()}` as Hex };
    expect(bytesToHex(encodePacket(upper))).toBe(bytesToHex(encodePacket(p)));
    expect(decodePacket(encodePacket(upper)).sender).toBe(p.sender);
  });

  it('behavior: payload lengths 0..70 round-trip and match ethers (padding boundaries)', () => {
    for (let len = 0; len <= 70; len++) {
      const p = basePacket(len);
      const enc = encodePacket(p);
      expect(enc.length).toBe(32 * (13 + Math.ceil(len / 32)));
      expect(bytesToHex(enc)).toBe(ethersEncode(p));
      expect(decodePacket(enc)).toEqual(p);
    }
  });

  it('error: encodePacket rejects out-of-range fields', () => {
    const p = basePacket();
    const bad: Partial<Packet>[] = [
      { version: 256 },
      { version: -1 },
      { kind: 256 },
      { sourceChain: -1n },
      { destChain: 1n << 64n },
      { sequence: 1n << 64n },
      { timeoutHeight: -1n },
      { timeoutTimestamp: 1n << 64n },
      { channel: bytesToHex(new Uint8Array(31)) },
      { sender: bytesToHex(new Uint8Array(21)) },
      { receiver: bytesToHex(new Uint8Array(19)) },
    ];
    for (const b of bad) {
      expect(
        codeOf(() => encodePacket({ ...p, ...b })).code,
        JSON.stringify(b, (_, v) => String(v)),
      ).toBe('MR_ERR_PACKET_ENCODING');
    }
  });
});

describe('decodePacket rejects non-canonical bytes', () => {
  const p = basePacket(5);
  const good = encodePacket(p);

  it('default: the untouched encoding decodes', () => {
    expect(decodePacket(good)).toEqual(p);
  });

  it('error: dirty high bytes in sender / receiver', () => {
    for (const w of [W.sender, W.receiver]) {
      for (const byte of [0, 11]) {
        const bad = good.slice();
        bad[w * 32 + byte] = 0x01;
        const e = codeOf(() => decodePacket(bad));
        expect(e.code).toBe('MR_ERR_PACKET_ENCODING');
        expect(e.message).toMatch(/dirty high bytes/);
      }
    }
  });

  it('error: uint64 fields above 2^64-1', () => {
    for (const w of [W.sourceChain, W.destChain, W.sequence, W.timeoutHeight, W.timeoutTimestamp]) {
      const bad = setWord(good, w, 1n << 64n);
      const e = codeOf(() => decodePacket(bad));
      expect(e.code).toBe('MR_ERR_PACKET_ENCODING');
      expect(e.message).toMatch(/out of range/);
      // The largest legal value is accepted in the same position.
      expect(() => decodePacket(setWord(good, w, U64_MAX))).not.toThrow();
    }
  });

  it('error: uint8 fields above 255', () => {
    for (const w of [W.version, W.kind]) {
      const e = codeOf(() => decodePacket(setWord(good, w, 256n)));
      expect(e.code).toBe('MR_ERR_PACKET_ENCODING');
      expect(e.message).toMatch(/out of range/);
      expect(decodePacket(setWord(good, w, 255n))).toEqual({
        ...p,
        [w === W.version ? 'version' : 'kind']: 255,
      });
    }
  });

  it('error: wrong tuple offset', () => {
    for (const off of [0n, 64n, 31n, 1n << 200n]) {
      const e = codeOf(() => decodePacket(setWord(good, W.offset, off)));
      expect(e.code).toBe('MR_ERR_PACKET_ENCODING');
    }
    expect(codeOf(() => decodePacket(setWord(good, W.offset, 64n))).message).toMatch(/tuple offset/);
  });

  it('error: wrong payload offset (points elsewhere inside the data)', () => {
    // 352 = 11 words is canonical; 384 still points inside the data, 320 overlaps the head.
    for (const off of [384n, 320n, 0n, 1n << 70n]) {
      const e = codeOf(() => decodePacket(setWord(good, W.payloadOffset, off)));
      expect(e.code).toBe('MR_ERR_PACKET_ENCODING');
    }
    // A payload offset that is self-consistent for ethers' lenient decoder is still not canonical.
    const longer = encodePacket(basePacket(40)); // 2 payload words
    const shifted = new Uint8Array(longer.length + 32);
    shifted.set(longer.subarray(0, W.payloadLength * 32));
    shifted.set(longer.subarray(W.payloadLength * 32), (W.payloadLength + 1) * 32);
    const moved = setWord(shifted, W.payloadOffset, 384n);
    expect((abi.decode([PACKET_TUPLE], moved) as unknown as [unknown[]])[0][10]).toBe(basePacket(40).payload);
    expect(codeOf(() => decodePacket(moved)).message).toMatch(/canonical/);
  });

  it('error: wrong payload length', () => {
    // (A longer length, up to 32, over zero padding is the canonical encoding of another packet, whose payload ends in 0x00.)
    for (const len of [0n, 4n, 33n, BigInt(good.length), BigInt(good.length) + 1n, 1n << 100n]) {
      const e = codeOf(() => decodePacket(setWord(good, W.payloadLength, len)));
      expect(e.code).toBe('MR_ERR_PACKET_ENCODING');
    }
    const longer = decodePacket(setWord(good, W.payloadLength, 6n));
    expect(longer.payload).toBe(`${p.payload}00`);
    expect(packetId(longer)).not.toBe(packetId(p));
  });

  it('error: truncated data', () => {
    for (const cut of [1, 5, 31, 32, 64, good.length - 1, good.length]) {
      const e = codeOf(() => decodePacket(good.subarray(0, good.length - cut)));
      expect(e.code).toBe('MR_ERR_PACKET_ENCODING');
    }
    expect(codeOf(() => decodePacket(new Uint8Array(0))).message).toMatch(/bad length/);
  });

  it('error: trailing bytes', () => {
    for (const extra of [1, 31, 32, 64]) {
      const bad = new Uint8Array(good.length + extra);
      bad.set(good);
      const e = codeOf(() => decodePacket(bad));
      expect(e.code).toBe('MR_ERR_PACKET_ENCODING');
    }
  });

  it('error: non-zero padding after the payload', () => {
    const payloadEnd = W.payload * 32 + 5;
    for (const at of [payloadEnd, payloadEnd + 13, good.length - 1]) {
      const bad = good.slice();
      bad[at] = 0x80;
      const e = codeOf(() => decodePacket(bad));
      expect(e.code).toBe('MR_ERR_PACKET_ENCODING');
      expect(e.message).toMatch(/canonical/);
    }
  });

  it('behavior: any single-byte change to the payload itself still decodes (it is data), to a different id', () => {
    const bad = good.slice();
    bad[W.payload * 32 + 2]! ^= 0xff;
    const q = decodePacket(bad);
    expect(q.payload).not.toBe(p.payload);
    expect(packetId(q)).not.toBe(packetId(p));
    expect(packetId(q)).toBe(ethersKeccak(bad));
  });
});

describe('channelId / ackLeaf', () => {
  it('default: channelId = keccak256(abi.encode(uint64, uint64, string)) on random and edge names', () => {
    const r = rng(5);
    const names = [
      '',
      'records-a',
      'a'.repeat(31),
      'b'.repeat(32),
      'c'.repeat(33),
      'dossier médical 病历 🏥',
      'x'.repeat(100),
    ];
    for (let i = 0; i < 40; i++) names.push(bytesToHex(r.bytes(r.int(70))).slice(2));
    for (const name of names) {
      const src = randU64(r);
      const dst = randU64(r);
      const expected = ethersKeccak(abi.encode(['uint64', 'uint64', 'string'], [src, dst, name]));
      expect(channelId(src, dst, name), name).toBe(expected);
    }
  });

  it('behavior: channelId depends on direction and name', () => {
    const a = channelId(1n, 2n, 'records');
    expect(channelId(2n, 1n, 'records')).not.toBe(a);
    expect(channelId(1n, 2n, 'records ')).not.toBe(a);
  });

  it('error: channelId rejects chain ids outside uint64', () => {
    expect(codeOf(() => channelId(1n << 64n, 1n, 'x')).code).toBe('MR_ERR_PACKET_ENCODING');
    expect(codeOf(() => channelId(1n, -1n, 'x')).code).toBe('MR_ERR_PACKET_ENCODING');
  });

  it('default: ackLeaf = keccak256(abi.encode(bytes32, uint8, bytes32 keccak256(result)))', () => {
    const r = rng(11);
    for (let i = 0; i < 100; i++) {
      const id = bytesToHex(r.bytes(32));
      const status = i < 3 ? i + 1 : r.int(256);
      const result = bytesToHex(r.bytes(r.int(i % 5 === 0 ? 1 : 130)));
      const expected = ethersKeccak(
        abi.encode(['bytes32', 'uint8', 'bytes32'], [id, status, ethersKeccak(hexToBytes(result))]),
      );
      expect(ackLeaf(id, status, result)).toBe(expected);
    }
  });

  it('error: ackLeaf rejects a short id and a status above 255', () => {
    expect(codeOf(() => ackLeaf(bytesToHex(new Uint8Array(31)), 1, '0x')).code).toBe(
      'MR_ERR_PACKET_ENCODING',
    );
    expect(codeOf(() => ackLeaf(bytesToHex(new Uint8Array(32)), 256, '0x')).code).toBe(
      'MR_ERR_PACKET_ENCODING',
    );
  });
});
