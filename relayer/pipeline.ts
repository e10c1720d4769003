/**
 * The relay pipeline's stages as plain functions (BullMQ wiring lives in `relayer.ts`):
 *
 *   observe  follow each chain's finalized head; record sent packets, receipts (ack leaves), acks, timeouts
 *   prove    per channel: pick the batch from the destination's `nextRecv`, fetch + verify the source header,
 *            the storage proof of the Outbox accumulator root and the range proof; store a bundle
 *   deliver  submit the bundle (header update + packets in one tx); check "already received?" first
 *   confirm  relay the acks back to the source the same way (ack accumulator on the destination)
 *   clear    compare source commitments with destination receipts and requeue every gap; time out expired
 *            packets on the source with a proof of non-receipt
 *
 * Every stage is idempotent and re-reads chain state before acting: a job run twice, or after a crash, or with
 * Redis wiped, never delivers twice (the Inbox's ordered counter makes that impossible anyway) and never loses a
 * packet (clearing finds it from chain state).
 */
export { type ClearReport, clear, timeouts } from './pipeline/clear.js';
export { confirm } from './pipeline/confirm.js';
export { deliver } from './pipeline/deliver.js';
export { observe } from './pipeline/observe.js';
export { prove } from './pipeline/prove.js';
export {
  type ChainRuntime,
  type Enqueue,
  NotReadyError,
  type PipelineDeps,
  type PipelineHooks,
} from './pipeline/types.js';
