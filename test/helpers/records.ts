/**
 * Record/consent plumbing for contract tests and benchmarks: signed anchors (proofs/records signAnchor), patient
 * revocation signatures (EIP-712 `Revoke(bytes32 consentId)`), and relaying every pending packet of a channel with
 * `Inbox.updateAndReceive` (header sealed in the same transaction: the light client stores nothing).
 */
import { type JsonRpcProvider, keccak256, SigningKey, TypedDataEncoder, toUtf8Bytes, Wallet } from 'ethers';
import type { Hex } from '../../proofs/bytes.js';
import { type Anchor, signAnchor } from '../../proofs/records/index.js';
import { blockNumber, type TestChain } from './chain.js';
import type { Endpoint } from './deploy.js';
import { sealAnvilBlock } from './qbft-seal.js';
import { buildReceiveArgs } from './relay.js';

/** anvil's development account keys (mnemonic "test … junk"), index 0.. */
export const ANVIL_KEYS = [
  '0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80',
  '0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d',
  '0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a',
  '0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6',
] as const;

export const id32 = (s: string): Hex => keccak256(toUtf8Bytes(s)) as Hex;

/** The ethers argument form of an Anchor struct. */
export function anchorArg(a: Anchor): Anchor {
  return { ...a, anchoredAt: BigInt(a.anchoredAt) };
}

/** Anchor signed by `key` (the institution's) for chain `chainId`. */
export function signedAnchor(
  key: string,
  chainId: bigint,
  fields: Omit<Anchor, 'institution'> & { institution?: Hex },
): { anchor: Anchor; signature: Hex } {
  const institution = (fields.institution ?? new Wallet(key).address) as Hex;
  const anchor: Anchor = { ...fields, institution };
  return { anchor, signature: signAnchor(anchor, chainId, key as Hex) };
}

/** Patient signature of EIP-712 `Revoke(bytes32 consentId)` under { medrelay, 1, chainId }. */
export function signRevoke(key: string, chainId: bigint, consentId: string): Hex {
  const digest = TypedDataEncoder.hash(
    { name: 'medrelay', version: '1', chainId },
    { Revoke: [{ name: 'consentId', type: 'bytes32' }] },
    { consentId },
  );
  return new SigningKey(key).sign(digest).serialized as Hex;
}

/**
 * Delivers every packet of `channel` not yet received by `to`'s Inbox (all sent up to `from`'s head), proven at
 * a head of `from` sealed by `vals` and verified statelessly in the same transaction.
 */
export async function relayPending(
  from: TestChain,
  fromEp: Endpoint,
  to: Endpoint,
  channel: string,
  vals: { addresses: readonly string[]; keys: readonly Uint8Array[] },
): Promise<{ height: number; count: number }> {
  const next = (await to.inbox.nextRecv(channel)) as bigint;
  const sent = (await fromEp.outbox.nextSequence(channel)) as bigint;
  const count = Number(sent - next);
  if (count <= 0) return { height: 0, count: 0 };
  const height = await blockNumber(from);
  const sealed = await sealAnvilBlock(from.provider as JsonRpcProvider, height, {
    listed: vals.addresses,
    signers: vals.keys.slice(0, Math.ceil((2 * vals.keys.length) / 3)),
  });
  const args = await buildReceiveArgs(from.provider, fromEp.outbox, channel, height, next, count);
  await (
    await to.inbox.updateAndReceive(
      sealed.rlp,
      args.height,
      args.accountProof,
      args.storageProof,
      args.packets,
      args.rangeProof,
    )
  ).wait();
  return { height, count };
}

/** A realistic record of ~60 elements: a Bundle of the Patient and two Conditions (I10, E11.9) of makeBundle. */
export async function realisticRecord(): Promise<Record<string, unknown>> {
  const { makeBundle } = await import('./fhir-fixtures.js');
  const b = makeBundle({ observations: 0 }) as unknown as { entry: unknown[] } & Record<string, unknown>;
  return { ...b, entry: [b.entry[0], b.entry[2], b.entry[3]] };
}
