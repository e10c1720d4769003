/**
 * EIP-712 typed-data hashing and strict secp256k1 signatures (65 bytes r‖s‖v, v ∈ {27, 28}, low s per EIP-2), as
 * shared by record anchors and FX quotes. Callers hash their own structs; this module owns the domain, the digest
 * and the signature rules so both stay byte-identical with ethers and the Solidity verifiers.
 */
import { secp256k1 } from '@noble/curves/secp256k1.js';
import {
  bigintToBytes,
  bytesToBigint,
  bytesToHex,
  concatBytes,
  type Hex,
  hexToBytes,
  padLeft,
} from './bytes.js';
import { keccak256 } from './keccak.js';

export const EIP712_DOMAIN_TYPE = 'EIP712Domain(string name,string version,uint256 chainId)';

const UTF8 = new TextEncoder();
const DOMAIN_TYPEHASH = keccak256(UTF8.encode(EIP712_DOMAIN_TYPE));
/** secp256k1 group order: private keys lie in [1, n) and signatures' r, s too. */
export const SECP256K1_ORDER = secp256k1.Point.CURVE().n;
const HALF_ORDER = SECP256K1_ORDER >> 1n;

/** keccak256 of UTF-8 text: how EIP-712 encodes `string` members and type strings. */
export function hashText(text: string): Uint8Array {
  return keccak256(UTF8.encode(text));
}

/** One 32-byte ABI word of an unsigned integer. */
export function uintWord(n: bigint): Uint8Array {
  return padLeft(bigintToBytes(n), 32);
}

/** Domain separator of `{ name, version, chainId }` (no verifyingContract, so signatures are portable). */
export function domainSeparator(name: string, version: string, chainId: bigint): Uint8Array {
  return keccak256(concatBytes(DOMAIN_TYPEHASH, hashText(name), hashText(version), uintWord(chainId)));
}

/** keccak256(0x1901 ‖ domainSeparator ‖ hashStruct). */
export function typedDataDigest(domain: Uint8Array, structHash: Uint8Array): Uint8Array {
  return keccak256(concatBytes(Uint8Array.of(0x19, 0x01), domain, structHash));
}

/** EIP-55 checksummed form of a 20-byte address (hex, any case). */
export function checksumAddress(address: string): Hex {
  const lower = address.slice(2).toLowerCase();
  const hash = bytesToHex(keccak256(UTF8.encode(lower))).slice(2);
  let out = '0x';
  for (let i = 0; i < 40; i++) {
    const c = lower[i]!;
    out += Number.parseInt(hash[i]!, 16) >= 8 ? c.toUpperCase() : c;
  }
  return out as Hex;
}

/** Ethereum address of an uncompressed public key: last 20 bytes of keccak256(point without the 0x04 prefix). */
export function addressOfPublicKey(pub: Uint8Array): Hex {
  return checksumAddress(bytesToHex(keccak256(pub.subarray(1)).subarray(12)));
}

/** The secret key's bytes and address, or `undefined` if it is not a valid 32-byte secp256k1 secret key. */
export function secretKeyAddress(
  privateKey: Uint8Array | Hex,
): { key: Uint8Array; address: Hex } | undefined {
  let key: Uint8Array;
  try {
    key = typeof privateKey === 'string' ? hexToBytes(privateKey, 'privateKey') : privateKey;
  } catch {
    return undefined;
  }
  if (!(key instanceof Uint8Array) || key.length !== 32 || !secp256k1.utils.isValidSecretKey(key))
    return undefined;
  return { key, address: addressOfPublicKey(secp256k1.getPublicKey(key, false)) };
}

/** Signs a digest: 65 bytes r‖s‖v (v ∈ {27, 28}), low s, as hex. */
export function signDigest(digest: Uint8Array, key: Uint8Array): Hex {
  // noble's "recovered" format is recovery ‖ r ‖ s; lowS is its default for secp256k1.
  const rec = secp256k1.sign(digest, key, { prehash: false, lowS: true, format: 'recovered' });
  return bytesToHex(concatBytes(rec.subarray(1, 65), Uint8Array.of(27 + rec[0]!)));
}

/**
 * Recovers the signer of `digest`, strictly: 65 bytes, v ∈ {27, 28}, 0 < r, s < n and low s (otherwise (r, n − s)
 * would be a second valid signature, and signatures could not key deduplication). `fail` raises the caller's typed
 * error with a reason.
 */
export function recoverSigner(
  digest: Uint8Array,
  signature: Hex | Uint8Array,
  fail: (reason: string, cause?: unknown) => never,
): Hex {
  let sig: Uint8Array;
  if (typeof signature === 'string' && /^0x[0-9a-fA-F]{130}$/.test(signature))
    sig = hexToBytes(signature, 'signature');
  else if (signature instanceof Uint8Array && signature.length === 65) sig = signature;
  else return fail('expected 65 bytes r‖s‖v (0x + 130 hex digits)');
  const v = sig[64]!;
  if (v !== 27 && v !== 28) fail(`v must be 27 or 28, got ${v}`);
  const r = bytesToBigint(sig.subarray(0, 32));
  const s = bytesToBigint(sig.subarray(32, 64));
  if (r === 0n || r >= SECP256K1_ORDER || s === 0n || s >= SECP256K1_ORDER) fail('r or s out of range');
  if (s > HALF_ORDER) fail('high s value (not EIP-2 canonical)');
  try {
    return addressOfPublicKey(new secp256k1.Signature(r, s, v - 27).recoverPublicKey(digest).toBytes(false));
  } catch (err) {
    return fail(`unrecoverable signature (${err instanceof Error ? err.message : 'invalid'})`, err);
  }
}
