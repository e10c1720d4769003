/**
 * Byte helpers shared by the proof kernel. Parsers fail closed: hex must be even-length and 0x-prefixed.
 */
import { ProofError } from './errors.js';

export type Hex = `0x${string}`;

const HEX_RE = /^0x([0-9a-fA-F]{2})*$/;

export function hexToBytes(hex: string, field = 'hex'): Uint8Array {
  if (typeof hex !== 'string' || !HEX_RE.test(hex)) {
    throw new ProofError('MR_ERR_BAD_HEX', `${field}: expected 0x-prefixed even-length hex`, {
      details: { field },
    });
  }
  return Uint8Array.from(Buffer.from(hex.slice(2), 'hex'));
}

export function bytesToHex(bytes: Uint8Array): Hex {
  return `0x${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex')}`;
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let len = 0;
  for (const p of parts) len += p.length;
  const out = new Uint8Array(len);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

/** Minimal big-endian bytes of a non-negative integer (0 → empty), as RLP integers are encoded. */
export function bigintToBytes(n: bigint): Uint8Array {
  if (n < 0n) throw new ProofError('MR_ERR_NEGATIVE_INT', 'integer must be non-negative');
  if (n === 0n) return new Uint8Array(0);
  let hex = n.toString(16);
  if (hex.length % 2) hex = `0${hex}`;
  return Uint8Array.from(Buffer.from(hex, 'hex'));
}

export function bytesToBigint(b: Uint8Array): bigint {
  if (b.length === 0) return 0n;
  return BigInt(`0x${Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex')}`);
}

/** Parses a JSON-RPC quantity ("0x1a") strictly: no leading zeros beyond "0x0". */
export function quantityToBigint(q: string, field = 'quantity'): bigint {
  if (typeof q !== 'string' || !/^0x(0|[1-9a-fA-F][0-9a-fA-F]*)$/.test(q)) {
    throw new ProofError(
      'MR_ERR_BAD_QUANTITY',
      `${field}: expected a minimal 0x-hex quantity, got ${String(q)}`,
      {
        details: { field },
      },
    );
  }
  return BigInt(q);
}

export function padLeft(b: Uint8Array, len: number): Uint8Array {
  if (b.length > len) throw new ProofError('MR_ERR_TOO_LONG', `value longer than ${len} bytes`);
  const out = new Uint8Array(len);
  out.set(b, len - b.length);
  return out;
}
