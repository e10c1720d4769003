/**
 * Local verification before paying gas: the relayer checks every header and proof with the same kernel the
 * destination mirrors on chain. A relayer that skipped this would still be harmless (the destination rejects
 * forgeries) but would burn gas on a lying RPC node; this turns such a node into a typed, logged error.
 */
import type { CommitmentProof, FinalityProof } from '../adapters/types.js';
import { verifyRange } from '../proofs/accumulator.js';
import { bytesToHex, type Hex, hexToBytes } from '../proofs/bytes.js';
import { verifyAccountProof, verifyStorageProof } from '../proofs/eip1186.js';
import { ProofError } from '../proofs/errors.js';
import { decodeHeaderRlp, verifyQbftFinality } from '../proofs/qbft.js';

export interface VerifiedHeader {
  readonly height: bigint;
  readonly stateRoot: Hex;
  readonly timestamp: bigint;
}

/** Verifies a QBFT finality proof against the validator set the destination light client trusts. */
export function verifyFinality(proof: FinalityProof, trustedValidators: readonly string[]): VerifiedHeader {
  const header = decodeHeaderRlp(hexToBytes(proof.header, 'header'));
  const r = verifyQbftFinality(header, [...trustedValidators]);
  if (bytesToHex(r.stateRoot) !== proof.stateRoot.toLowerCase() || r.number !== BigInt(proof.height)) {
    throw new ProofError('MR_ERR_FINALITY_MISMATCH', 'finality proof fields disagree with the sealed header');
  }
  return { height: r.number, stateRoot: bytesToHex(r.stateRoot), timestamp: r.timestamp };
}

/** Verifies an account + storage proof and returns the proven 32-byte word. */
export function verifyCommitment(stateRoot: Hex, proof: CommitmentProof): Hex {
  const account = verifyAccountProof(
    hexToBytes(stateRoot, 'stateRoot'),
    hexToBytes(proof.contract, 'contract'),
    proof.accountProof.map((n, i) => hexToBytes(n, `accountProof[${i}]`)),
  );
  if (!account)
    throw new ProofError('MR_ERR_ACCOUNT_ABSENT', `contract ${proof.contract} is absent at that state`);
  const value = verifyStorageProof(
    account.storageHash,
    hexToBytes(proof.slot, 'slot'),
    proof.storageProof.map((n, i) => hexToBytes(n, `storageProof[${i}]`)),
  );
  const word = `0x${value.toString(16).padStart(64, '0')}` as Hex;
  if (word !== proof.value.toLowerCase()) {
    throw new ProofError('MR_ERR_COMMITMENT_MISMATCH', 'storage proof does not prove the claimed value');
  }
  return word;
}

export function verifyBatch(root: Hex, start: bigint, leaves: Hex[], rangeProof: Hex[]): void {
  verifyRange(root, Number(start), leaves, rangeProof);
}
