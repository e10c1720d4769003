/**
 * Record anchors. The EIP-712 digest and signatures are cross-checked against ethers v6 (TypedDataEncoder,
 * Wallet.signTypedData, verifyTypedData); SHA-256 and HMAC against @noble/hashes.
 */
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { type TypedDataDomain, TypedDataEncoder, verifyTypedData, Wallet } from 'ethers';
import { describe, expect, it } from 'vitest';
import { bytesToHex, type Hex } from '../../proofs/bytes.js';
import { ProofError } from '../../proofs/errors.js';
import {
  type Anchor,
  anchorDigest,
  checksumAddress,
  patientPseudonym,
  recordHash,
  signAnchor,
  verifyAnchorSignature,
} from '../../proofs/records/anchor.js';
import { buildDisclosureTree } from '../../proofs/records/disclosure.js';
import { canonicalize } from '../../proofs/records/jcs.js';
import { makeBundle, patient } from '../helpers/fhir-fixtures.js';
import { rng } from '../helpers/random.js';

const TYPES = {
  Anchor: [
    { name: 'recordId', type: 'bytes32' },
    { name: 'recordHash', type: 'bytes32' },
    { name: 'disclosureRoot', type: 'bytes32' },
    { name: 'patient', type: 'bytes32' },
    { name: 'institution', type: 'address' },
    { name: 'anchoredAt', type: 'uint64' },
  ],
};
const domain = (chainId: bigint | number): TypedDataDomain => ({ name: 'medrelay', version: '1', chainId });

const r = rng(712);
const hex32 = (): Hex => bytesToHex(r.bytes(32));
const KEY = '0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318';
const wallet = new Wallet(KEY);

function anchorFor(
  institution: string = wallet.address,
  anchoredAt: bigint | number = 1_741_944_600n,
): Anchor {
  const bundle = makeBundle();
  return {
    recordId: hex32(),
    recordHash: bytesToHex(recordHash(bundle)),
    disclosureRoot: buildDisclosureTree(bundle).root,
    patient: patientPseudonym(new Uint8Array(32).fill(9), 'urn:oid:1.2.36.146.595.217.0.1', '12345-MRN'),
    institution: institution as Hex,
    anchoredAt,
  };
}

function expectError(fn: () => unknown, code: string, field?: string): ProofError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ProofError);
    expect((err as ProofError).code).toBe(code);
    if (field) expect((err as ProofError).details.field).toBe(field);
    return err as ProofError;
  }
  throw new Error(`expected ${code}`);
}

describe('recordHash', () => {
  it('default: sha256 of the RFC 8785 text', () => {
    const p = { resourceType: 'Patient', id: 'p1' };
    expect(bytesToHex(recordHash(p))).toBe(
      bytesToHex(sha256(new TextEncoder().encode('{"id":"p1","resourceType":"Patient"}'))),
    );
    const b = makeBundle();
    expect(bytesToHex(recordHash(b))).toBe(bytesToHex(sha256(new TextEncoder().encode(canonicalize(b)))));
  });

  it('behavior: same record → same hash; key order and whitespace are irrelevant', () => {
    const b = makeBundle();
    const pretty = JSON.stringify(b, null, 4);
    const reordered = JSON.parse(
      JSON.stringify(b, (_k, v: unknown) =>
        v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).reverse()) : v,
      ),
    ) as unknown;
    const h = bytesToHex(recordHash(b));
    expect(bytesToHex(recordHash(makeBundle()))).toBe(h);
    expect(bytesToHex(recordHash(JSON.parse(pretty)))).toBe(h);
    expect(bytesToHex(recordHash(reordered))).toBe(h);
  });

  it('behavior: any change gives another hash (value, added field, array order, number)', () => {
    const base = bytesToHex(recordHash(makeBundle()));
    const variants: ((b: Record<string, unknown>) => void)[] = [
      (b) => {
        (
          (b.entry as { resource: Record<string, unknown> }[])[0]!.resource as { birthDate: string }
        ).birthDate = '1968-04-13';
      },
      (b) => {
        (b.entry as { resource: Record<string, unknown> }[])[0]!.resource.deceasedBoolean = false;
      },
      (b) => {
        (b.entry as unknown[]).reverse();
      },
      (b) => {
        const obs = (b.entry as { resource: { valueQuantity?: { value: number } } }[])[7]!.resource;
        obs.valueQuantity!.value += 0.1;
      },
      (b) => {
        b.id = 'bundle-2';
      },
    ];
    const seen = new Set([base]);
    for (const change of variants) {
      const b = structuredClone(makeBundle()) as Record<string, unknown>;
      change(b);
      const h = bytesToHex(recordHash(b));
      expect(seen.has(h)).toBe(false);
      seen.add(h);
    }
  });

  it('error: not a FHIR resource / not JSON', () => {
    expectError(() => recordHash({ resourceType: 'Nope' }), 'MR_ERR_FHIR_INVALID');
    expectError(() => recordHash({ resourceType: 'Patient', x: undefined }), 'MR_ERR_FHIR_INVALID');
  });
});

describe('patientPseudonym', () => {
  const secret = Uint8Array.from({ length: 32 }, (_, i) => i);
  it('default: HMAC-SHA256(secret, "system|value")', () => {
    const want = bytesToHex(
      hmac(sha256, secret, new TextEncoder().encode('urn:oid:2.16.840.1.113883.4.1|123-45-6789')),
    );
    expect(patientPseudonym(secret, 'urn:oid:2.16.840.1.113883.4.1', '123-45-6789')).toBe(want);
    expect(patientPseudonym(secret, 'urn:oid:2.16.840.1.113883.4.1', '123-45-6780')).not.toBe(want);
    expect(patientPseudonym(new Uint8Array(32), 'urn:oid:2.16.840.1.113883.4.1', '123-45-6789')).not.toBe(
      want,
    );
  });
  it('error: bad secret, empty parts, "|" in system', () => {
    expectError(
      () => patientPseudonym(new Uint8Array(31), 's', 'v'),
      'MR_ERR_PSEUDONYM_INPUT',
      'patientSecret',
    );
    expectError(() => patientPseudonym(secret, '', 'v'), 'MR_ERR_PSEUDONYM_INPUT', 'system');
    expectError(() => patientPseudonym(secret, 'a|b', 'v'), 'MR_ERR_PSEUDONYM_INPUT', 'system');
    expectError(() => patientPseudonym(secret, 's', ''), 'MR_ERR_PSEUDONYM_INPUT', 'value');
  });
});

describe('anchorDigest / signAnchor / verifyAnchorSignature (EIP-712)', () => {
  it('default: digest equals ethers TypedDataEncoder.hash', () => {
    for (const chainId of [1n, 1337, 2_024_001n, (1n << 255n) + 7n]) {
      for (const at of [0n, 1_741_944_600, (1n << 64n) - 1n]) {
        const a = anchorFor(wallet.address, at);
        expect(bytesToHex(anchorDigest(a, chainId))).toBe(
          TypedDataEncoder.hash(domain(chainId), TYPES, { ...a, anchoredAt: BigInt(a.anchoredAt) }),
        );
      }
    }
  });

  it('default: signature equals ethers Wallet.signTypedData and verifies both ways', async () => {
    const a = anchorFor();
    const sig = signAnchor(a, 1337n, KEY);
    expect(sig).toBe(await wallet.signTypedData(domain(1337n), TYPES, a));
    expect(verifyTypedData(domain(1337n), TYPES, a, sig)).toBe(wallet.address);
    expect(verifyAnchorSignature(a, 1337n, sig)).toBe(wallet.address);
    expect([27, 28]).toContain(Number.parseInt(sig.slice(-2), 16));
    // Lower-case institution address works the same.
    expect(verifyAnchorSignature({ ...a, institution: a.institution.toLowerCase() as Hex }, 1337n, sig)).toBe(
      wallet.address,
    );
  });

  it('behavior: v is 27 or 28 and s is low over many anchors', () => {
    const half = 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0n;
    const vs = new Set<number>();
    for (let i = 0; i < 24; i++) {
      const sig = signAnchor(anchorFor(), 5, KEY);
      vs.add(Number.parseInt(sig.slice(-2), 16));
      expect(BigInt(`0x${sig.slice(66, 130)}`) <= half).toBe(true);
    }
    expect([...vs].sort()).toEqual([27, 28]);
  });

  it('error: any changed field, another chain, or another signer', async () => {
    const a = anchorFor();
    const sig = signAnchor(a, 1337, KEY);
    for (const k of ['recordId', 'recordHash', 'disclosureRoot', 'patient'] as const) {
      expectError(() => verifyAnchorSignature({ ...a, [k]: hex32() }, 1337, sig), 'MR_ERR_ANCHOR_SIGNATURE');
    }
    expectError(() => verifyAnchorSignature({ ...a, anchoredAt: 1n }, 1337, sig), 'MR_ERR_ANCHOR_SIGNATURE');
    expectError(() => verifyAnchorSignature(a, 1338, sig), 'MR_ERR_ANCHOR_SIGNATURE');
    const other = Wallet.createRandom();
    const forged = await other.signTypedData(domain(1337), TYPES, a);
    const err = expectError(() => verifyAnchorSignature(a, 1337, forged as Hex), 'MR_ERR_ANCHOR_SIGNATURE');
    expect(err.message).toContain(other.address);
    // The other signer claiming to be the institution still needs the institution's key.
    expectError(
      () => verifyAnchorSignature({ ...a, institution: other.address as Hex }, 1337, sig),
      'MR_ERR_ANCHOR_SIGNATURE',
    );
  });

  it('error: malformed signatures (high s, v, length, r = 0)', () => {
    const a = anchorFor();
    const sig = signAnchor(a, 1, KEY);
    const n = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
    const s = BigInt(`0x${sig.slice(66, 130)}`);
    const v = Number.parseInt(sig.slice(130), 16);
    const highS =
      `${sig.slice(0, 66)}${(n - s).toString(16).padStart(64, '0')}${(v === 27 ? 28 : 27).toString(16)}` as Hex;
    // (r, n − s, flipped v) is the malleable twin of a valid signature; ethers refuses it too.
    expect(() => verifyTypedData(domain(1), TYPES, a, highS)).toThrow(/non-canonical s/);
    expect(
      expectError(() => verifyAnchorSignature(a, 1, highS), 'MR_ERR_ANCHOR_SIGNATURE').message,
    ).toContain('high s');
    expectError(
      () => verifyAnchorSignature(a, 1, `${sig.slice(0, 130)}00` as Hex),
      'MR_ERR_ANCHOR_SIGNATURE',
    );
    expectError(
      () => verifyAnchorSignature(a, 1, `${sig.slice(0, 130)}01` as Hex),
      'MR_ERR_ANCHOR_SIGNATURE',
    );
    expectError(() => verifyAnchorSignature(a, 1, sig.slice(0, 128) as Hex), 'MR_ERR_ANCHOR_SIGNATURE');
    expectError(
      () => verifyAnchorSignature(a, 1, `0x${'00'.repeat(32)}${sig.slice(66)}` as Hex),
      'MR_ERR_ANCHOR_SIGNATURE',
    );
    expectError(() => verifyAnchorSignature(a, 1, new Uint8Array(64)), 'MR_ERR_ANCHOR_SIGNATURE');
  });

  it('error: signing with a key that is not the institution, or an invalid key', () => {
    const a = anchorFor();
    expectError(() => signAnchor(a, 1, Wallet.createRandom().privateKey as Hex), 'MR_ERR_ANCHOR_KEY');
    expectError(() => signAnchor(a, 1, new Uint8Array(32)), 'MR_ERR_ANCHOR_KEY');
    expectError(() => signAnchor(a, 1, new Uint8Array(31).fill(1)), 'MR_ERR_ANCHOR_KEY');
  });

  it('error: bad anchor fields name the field', () => {
    const a = anchorFor();
    expectError(() => anchorDigest({ ...a, recordId: '0x1234' }, 1), 'MR_ERR_ANCHOR_FIELD', 'recordId');
    expectError(
      () => anchorDigest({ ...a, patient: `0x${'zz'.repeat(32)}` as Hex }, 1),
      'MR_ERR_ANCHOR_FIELD',
      'patient',
    );
    expectError(() => anchorDigest({ ...a, anchoredAt: 1n << 64n }, 1), 'MR_ERR_ANCHOR_FIELD', 'anchoredAt');
    expectError(() => anchorDigest({ ...a, anchoredAt: -1 }, 1), 'MR_ERR_ANCHOR_FIELD', 'anchoredAt');
    expectError(() => anchorDigest({ ...a, anchoredAt: 1.5 }, 1), 'MR_ERR_ANCHOR_FIELD', 'anchoredAt');
    expectError(() => anchorDigest({ ...a, institution: '0x1234' }, 1), 'MR_ERR_ANCHOR_FIELD', 'institution');
    // A mixed-case address with a wrong EIP-55 checksum is a typo, not an address.
    const addr = checksumAddress(wallet.address);
    const broken = (addr.slice(0, 2) +
      [...addr.slice(2)]
        .map((c, i) => (i === addr.slice(2).search(/[a-f]/) ? c.toUpperCase() : c))
        .join('')) as Hex;
    expectError(() => anchorDigest({ ...a, institution: broken }, 1), 'MR_ERR_ANCHOR_FIELD', 'institution');
    expectError(() => anchorDigest(a, 0), 'MR_ERR_ANCHOR_FIELD', 'chainId');
    expectError(() => anchorDigest(a, 1n << 256n), 'MR_ERR_ANCHOR_FIELD', 'chainId');
  });

  it('behavior: checksumAddress matches ethers', () => {
    for (let i = 0; i < 10; i++) {
      const w = Wallet.createRandom();
      expect(checksumAddress(w.address.toLowerCase())).toBe(w.address);
    }
    expect(bytesToHex(recordHash(patient())).length).toBe(66);
  });
});
