/**
 * Public surface of the proof kernel. Everything here is pure (no I/O) and throws `ProofError` with a
 * stable `MR_ERR_*` code on bad input.
 */

export * as accumulator from './accumulator.js';
export * from './bytes.js';
export {
  type Account,
  type EthGetProofResponse,
  type VerifiedEip1186,
  verifyAccountProof,
  verifyEip1186,
  verifyStorageProof,
} from './eip1186.js';
export * from './errors.js';
export {
  type BlockHeader,
  decodeHeader,
  encodeHeader,
  headerHash,
  verifyHeaderHash,
  verifyHeaderRlp,
} from './header.js';

export {
  createProof,
  EMPTY_TRIE_ROOT,
  type TrieEntry,
  type TrieHasher,
  type TrieOptions,
  trieRoot,
  verifyProof,
} from './mpt.js';
export * as packet from './packet.js';
// ---------------------------------------------------------------------------------------------------------
// QBFT / IBFT 2.0 (proofs/qbft.ts) — exports go here.
// ---------------------------------------------------------------------------------------------------------
export {
  applyHeader,
  type BftFinality,
  type BftHeader,
  createQbftLightClient,
  decodeHeaderRlp,
  decodeIbft2ExtraData,
  decodeQbftExtraData,
  encodeQbftExtraData,
  type QbftLightClientState,
  qbftBlockHash,
  qbftSealDigest,
  verifyIbft2Finality,
  verifyQbftFinality,
} from './qbft.js';
export { decodeReceipt, type Receipt, type ReceiptLog, receiptKey, verifyReceiptProof } from './receipts.js';
export * as rlp from './rlp.js';
