/**
 * Recursive Length Prefix encoding (Ethereum Yellow Paper, Appendix B).
 *
 * The decoder is strict, as consensus clients are: it rejects non-canonical lengths (a long form used for
 * a short payload), leading zeros in length fields, a single byte < 0x80 wrapped as a string, and trailing
 * bytes. Without this, two encodings of one value would hash differently and a forger could choose one.
 */
import { ProofError } from './errors.js';

export type RlpInput = Uint8Array | readonly RlpInput[];
export type RlpValue = Uint8Array | RlpValue[];

const MAX_DEPTH = 64;

function fail(code: string, message: string): never {
  throw new ProofError(code, `rlp: ${message}`);
}

function encodeLength(len: number, offset: number): Uint8Array {
  if (len < 56) return Uint8Array.of(offset + len);
  const lenBytes: number[] = [];
  for (let l = len; l > 0; l = Math.floor(l / 256)) lenBytes.unshift(l & 0xff);
  return Uint8Array.from([offset + 55 + lenBytes.length, ...lenBytes]);
}

function encodeInto(input: RlpInput, out: Uint8Array[]): number {
  if (input instanceof Uint8Array) {
    if (input.length === 1 && input[0]! < 0x80) {
      out.push(input);
      return 1;
    }
    const prefix = encodeLength(input.length, 0x80);
    out.push(prefix, input);
    return prefix.length + input.length;
  }
  if (!Array.isArray(input)) fail('MR_ERR_RLP_INPUT', 'input must be Uint8Array or array');
  const slot = out.length;
  out.push(new Uint8Array(0)); // placeholder for the list prefix
  let payload = 0;
  for (const item of input as readonly RlpInput[]) payload += encodeInto(item, out);
  const prefix = encodeLength(payload, 0xc0);
  out[slot] = prefix;
  return prefix.length + payload;
}

/** Encodes bytes or a nested list of bytes. Integers must be converted to minimal bytes first. */
export function encode(input: RlpInput): Uint8Array {
  const parts: Uint8Array[] = [];
  const total = encodeInto(input, parts);
  const out = new Uint8Array(total);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

interface Item {
  /** Offset of the payload. */
  start: number;
  /** Payload length. */
  length: number;
  isList: boolean;
  /** Offset just past this item. */
  end: number;
}

function readLength(data: Uint8Array, pos: number, lenOfLen: number): number {
  if (pos + lenOfLen > data.length) fail('MR_ERR_RLP_TRUNCATED', 'length field runs past the end');
  if (data[pos] === 0) fail('MR_ERR_RLP_NONCANONICAL', 'length field has a leading zero');
  let len = 0;
  for (let i = 0; i < lenOfLen; i++) len = len * 256 + data[pos + i]!;
  if (len < 56) fail('MR_ERR_RLP_NONCANONICAL', 'long form used for a payload shorter than 56 bytes');
  if (!Number.isSafeInteger(len)) fail('MR_ERR_RLP_TRUNCATED', 'length too large');
  return len;
}

function readItem(data: Uint8Array, pos: number): Item {
  if (pos >= data.length) fail('MR_ERR_RLP_TRUNCATED', 'unexpected end of input');
  const b = data[pos]!;
  let item: Item;
  if (b < 0x80) {
    item = { start: pos, length: 1, isList: false, end: pos + 1 };
  } else if (b < 0xb8) {
    const length = b - 0x80;
    if (length === 1 && pos + 1 < data.length && data[pos + 1]! < 0x80) {
      fail('MR_ERR_RLP_NONCANONICAL', 'single byte below 0x80 encoded as a string');
    }
    item = { start: pos + 1, length, isList: false, end: pos + 1 + length };
  } else if (b < 0xc0) {
    const lenOfLen = b - 0xb7;
    const length = readLength(data, pos + 1, lenOfLen);
    const start = pos + 1 + lenOfLen;
    item = { start, length, isList: false, end: start + length };
  } else if (b < 0xf8) {
    const length = b - 0xc0;
    item = { start: pos + 1, length, isList: true, end: pos + 1 + length };
  } else {
    const lenOfLen = b - 0xf7;
    const length = readLength(data, pos + 1, lenOfLen);
    const start = pos + 1 + lenOfLen;
    item = { start, length, isList: true, end: start + length };
  }
  if (item.end > data.length) fail('MR_ERR_RLP_TRUNCATED', 'item runs past the end of input');
  return item;
}

function decodeItem(data: Uint8Array, item: Item, depth: number): RlpValue {
  if (!item.isList) return data.subarray(item.start, item.start + item.length);
  if (depth >= MAX_DEPTH) fail('MR_ERR_RLP_DEPTH', `nesting deeper than ${MAX_DEPTH}`);
  const list: RlpValue[] = [];
  let pos = item.start;
  while (pos < item.end) {
    const child = readItem(data, pos);
    if (child.end > item.end) fail('MR_ERR_RLP_TRUNCATED', 'list item runs past the end of its list');
    list.push(decodeItem(data, child, depth + 1));
    pos = child.end;
  }
  return list;
}

/**
 * Decodes exactly one RLP item spanning all of `data`. Returned byte strings are views into `data`.
 * @example decode(hexToBytes('0xc88363617483646f67')) // [cat, dog]
 */
export function decode(data: Uint8Array): RlpValue {
  if (!(data instanceof Uint8Array)) fail('MR_ERR_RLP_INPUT', 'input must be a Uint8Array');
  const item = readItem(data, 0);
  if (item.end !== data.length) fail('MR_ERR_RLP_TRAILING', `${data.length - item.end} trailing byte(s)`);
  return decodeItem(data, item, 0);
}

/** Decodes and asserts a list; `what` names the structure in the error. */
export function decodeList(data: Uint8Array, what = 'value'): RlpValue[] {
  const v = decode(data);
  if (!Array.isArray(v)) fail('MR_ERR_RLP_SHAPE', `${what}: expected a list`);
  return v;
}

/** Asserts that an RLP value is a byte string; `what` names the field in the error. */
export function asBytes(v: RlpValue | undefined, what: string): Uint8Array {
  if (!(v instanceof Uint8Array)) fail('MR_ERR_RLP_SHAPE', `${what}: expected a byte string`);
  return v;
}

/** Asserts that an RLP value is a list; `what` names the field in the error. */
export function asList(v: RlpValue | undefined, what: string): RlpValue[] {
  if (!Array.isArray(v)) fail('MR_ERR_RLP_SHAPE', `${what}: expected a list`);
  return v;
}

/** An RLP scalar must be minimal: no leading zero byte. */
export function asUint(v: RlpValue | undefined, what: string): bigint {
  const b = asBytes(v, what);
  if (b.length > 0 && b[0] === 0) fail('MR_ERR_RLP_NONCANONICAL', `${what}: integer has a leading zero byte`);
  let n = 0n;
  for (const x of b) n = (n << 8n) | BigInt(x);
  return n;
}
