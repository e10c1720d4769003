/**
 * Gas benchmark of the destination path: Inbox.updateAndReceive = stateless light-client header verification
 * (QbftLightClient.verifyHeader, 3-of-4 QBFT seals, nothing stored) + one account/storage proof of the source
 * Outbox's sendRoot + one range proof + N packets to a NoopReceiver.
 * Runs on two fresh anvils; every figure is a mined transaction's gasUsed (21,000 base and calldata included).
 * Each configuration runs from the same anvil snapshot, in steady state (channel slots already non-zero).
 *
 *   npx tsx bench/gas.ts          # prints the markdown tables (192-byte and 32-byte payloads)
 */
import { fileURLToPath } from 'node:url';
import { hexlify, randomBytes } from 'ethers';
import { blockNumber, startChain, stopChain, type TestChain } from '../test/helpers/chain.js';
import { deployRelayContracts, type Endpoint, openChannel } from '../test/helpers/deploy.js';
import { sealAnvilBlock, testValidators } from '../test/helpers/qbft-seal.js';
import { buildReceiveArgs } from '../test/helpers/relay.js';

/** One benchmark row (gas figures are per transaction unless named per packet). */
export interface GasRow {
  n: number;
  /** Whole updateAndReceive tx gas. */
  updateAndReceive: number;
  /** updateAndReceive / n: the headline figure (target ≤ 20,000 at n = 32). */
  perPacket: number;
  /** updateAndReceive gasUsed equals its EIP-7623 calldata floor (calldata, not execution, sets the price). */
  atFloor: boolean;
  /** Same for the receivePackets-alone transaction. */
  receiveAtFloor: boolean;
  /** updateHeader alone (separate tx, incl. 21,000 base): the stored update, steady state. */
  headerUpdate: number;
  /** updateAndReceive − receivePackets: what the in-transaction (stateless) header verification adds. */
  headerInTx: number;
  /** receivePackets alone under an already-verified header (incl. 21,000 base). */
  receiveOnly: number;
  /** receivePackets / n. */
  receiveOnlyPerPacket: number;
}

export interface GasReport {
  rows: GasRow[];
  /** Marginal gas of one more packet in a batch (from the n = 1 and n = 32 receivePackets). */
  marginalPerPacket: number;
  /** Fixed part of receivePackets: tx base + account/storage proof + range proof + accumulator writes. */
  proofsFixed: number;
  /** Outbox.sendPacket gas (source side), average over the sends, steady state. */
  sendPacket: number;
  payloadBytes: number;
  /** Further reports (other payload sizes) rendered after this one. */
  also?: GasReport[];
}

const A_ID = 72001;
const B_ID = 72002;
const SIZES = [1, 8, 32];
/** Headline payload: the unsigned RECORD_PROOF of the foundation (6 words: recordId, sha256, disclosureRoot, institution, time, consent). */
export const RECORD_PROOF_PAYLOAD_BYTES = 192;
/** The signed RECORD_PROOF of the records layer: abi.encode(Anchor (6 words), consentRef, bytes signature (65 B)). */
export const SIGNED_RECORD_PROOF_PAYLOAD_BYTES = 384;

type SentTx = { data: string; wait(): Promise<{ gasUsed: bigint } | null> };

async function mined(p: Promise<SentTx>): Promise<number> {
  const rc = await (await p).wait();
  return Number(rc!.gasUsed);
}

/** EIP-7623 (Prague) calldata floor of a transaction: 21,000 + 10 per token (zero byte 1 token, other byte 4). */
function calldataFloor(data: string): number {
  let tokens = 0;
  for (let i = 2; i < data.length; i += 2) tokens += data.slice(i, i + 2) === '00' ? 1 : 4;
  return 21_000 + 10 * tokens;
}

async function sendN(
  a: Endpoint,
  channel: string,
  receiver: string,
  n: number,
  payloadBytes: number,
): Promise<number[]> {
  const gas: number[] = [];
  for (let i = 0; i < n; i++) {
    gas.push(
      await mined(a.outbox.sendPacket(channel, receiver, 0, 0, 1, hexlify(randomBytes(payloadBytes)))),
    );
  }
  return gas;
}

/**
 * Runs the benchmark on fresh anvils and returns the rows. Without a payload size: 192-byte payloads (the headline),
 * with 32-byte and 384-byte (signed record proof) runs attached as `also`.
 */
export async function run(opts: { payloadBytes?: number } = {}): Promise<GasReport> {
  if (opts.payloadBytes === undefined) {
    const main = await runOnce(RECORD_PROOF_PAYLOAD_BYTES);
    return { ...main, also: [await runOnce(32), await runOnce(SIGNED_RECORD_PROOF_PAYLOAD_BYTES)] };
  }
  return runOnce(opts.payloadBytes);
}

async function runOnce(payloadBytes: number): Promise<GasReport> {
  let A: TestChain | undefined;
  let B: TestChain | undefined;
  try {
    [A, B] = await Promise.all([startChain(A_ID), startChain(B_ID)]);
    const valsA = testValidators('medrelay-bench-a');
    const valsB = testValidators('medrelay-bench-b');
    const { a, b } = await deployRelayContracts(
      { signer: A.signer, chainId: A.chainId, validators: valsA.addresses },
      { signer: B.signer, chainId: B.chainId, validators: valsB.addresses },
    );
    const channel = await openChannel(a, 'bench', B.chainId);
    const receiver = await b.noop.getAddress();
    const seal = async (h: number) =>
      (await sealAnvilBlock(A!.provider, h, { listed: valsA.addresses, signers: valsA.keys.slice(0, 3) }))
        .rlp;

    // Warm-up: first packet on the channel writes fresh slots (nextRecv, ackRoot, branch) once in its life, and
    // one stored header update makes the light client's counters slot non-zero (as on any live client).
    const sendGas = await sendN(a, channel, receiver, 1, payloadBytes);
    let next = 1n;
    {
      const h = await blockNumber(A);
      await mined(b.lightClient.updateHeader(await seal(h)));
      const x = await buildReceiveArgs(A.provider, a.outbox, channel, h, next, 1);
      await mined(
        b.inbox.updateAndReceive(
          await seal(h),
          x.height,
          x.accountProof,
          x.storageProof,
          x.packets,
          x.rangeProof,
        ),
      );
      next += 1n;
    }

    const rows: GasRow[] = [];
    for (const n of SIZES) {
      sendGas.push(...(await sendN(a, channel, receiver, n, payloadBytes)));
      const h = await blockNumber(A);
      const header = await seal(h);
      const x = await buildReceiveArgs(A.provider, a.outbox, channel, h, next, n);

      // (1) header update alone, then receive under it.
      const snap = (await B.provider.send('evm_snapshot', [])) as string;
      const headerUpdate = await mined(b.lightClient.updateHeader(header));
      const rtx = await b.inbox.receivePackets(
        x.height,
        x.accountProof,
        x.storageProof,
        x.packets,
        x.rangeProof,
      );
      const receiveOnly = await mined(Promise.resolve(rtx));
      const receiveAtFloor = receiveOnly === calldataFloor(rtx.data);
      await B.provider.send('evm_revert', [snap]);
      // (2) the combined transaction (kept).
      const tx = await b.inbox.updateAndReceive(
        header,
        x.height,
        x.accountProof,
        x.storageProof,
        x.packets,
        x.rangeProof,
      );
      const updateAndReceive = await mined(Promise.resolve(tx));
      const atFloor = updateAndReceive === calldataFloor(tx.data);
      next += BigInt(n);
      rows.push({
        n,
        updateAndReceive,
        perPacket: Math.round(updateAndReceive / n),
        atFloor,
        receiveAtFloor,
        headerUpdate,
        headerInTx: updateAndReceive - receiveOnly,
        receiveOnly,
        receiveOnlyPerPacket: Math.round(receiveOnly / n),
      });
    }
    const r1 = rows.find((r) => r.n === 1)!;
    const r32 = rows.find((r) => r.n === 32)!;
    const marginal = Math.round((r32.receiveOnly - r1.receiveOnly) / 31);
    const steadySends = sendGas.slice(1);
    return {
      rows,
      marginalPerPacket: marginal,
      proofsFixed: r1.receiveOnly - marginal,
      sendPacket: Math.round(steadySends.reduce((s, g) => s + g, 0) / steadySends.length),
      payloadBytes,
    };
  } finally {
    await Promise.all([stopChain(A), stopChain(B)]);
  }
}

/** Markdown rendering of a report. */
export function toMarkdown(r: GasReport): string {
  const fmt = (x: number) => x.toLocaleString('en-US');
  const floor = (at: boolean) => (at ? ' ‡' : '');
  const anyFloor = r.rows.some((x) => x.atFloor || x.receiveAtFloor);
  const lines = [
    `Inbox gas, NoopReceiver, ${r.payloadBytes}-byte payloads, 3-of-4 QBFT seals (tx gasUsed, 21k base included)`,
    '',
    '| N | updateAndReceive (tx) | **per packet** | header verify in tx | receivePackets alone | receive per packet | stored updateHeader alone |',
    '|---:|---:|---:|---:|---:|---:|---:|',
    ...r.rows.map(
      (x) =>
        `| ${x.n} | ${fmt(x.updateAndReceive)}${floor(x.atFloor)} | **${fmt(x.perPacket)}** | ${fmt(x.headerInTx)} | ${fmt(x.receiveOnly)}${floor(x.receiveAtFloor)} | ${fmt(x.receiveOnlyPerPacket)} | ${fmt(x.headerUpdate)} |`,
    ),
    '',
    ...(anyFloor
      ? [
          '‡ gasUsed is the EIP-7623 calldata floor (21,000 + 10 per calldata token; the chain runs Prague): calldata, not execution, sets the price of that transaction, and differences taken against it (header verify in tx, marginal) understate execution.',
          '',
        ]
      : []),
    `Split: stateless header verification in updateAndReceive ≈ ${fmt(r.rows[0]!.headerInTx)} (stored updateHeader alone ≈ ${fmt(r.rows[0]!.headerUpdate - 21_000)} + 21,000 base); proofs + fixed receive ≈ ${fmt(r.proofsFixed)} (incl. 21,000 base); marginal per packet ≈ ${fmt(r.marginalPerPacket)}.`,
    `Source side: Outbox.sendPacket ≈ ${fmt(r.sendPacket)} gas per packet (steady state).`,
  ];
  if (!r.also?.length)
    lines.push('Reference: Hyperlane Mailbox.process with a 3-of-5 multisig ISM ≈ 96,400 gas per message.');
  for (const o of r.also ?? []) lines.push('', toMarkdown(o));
  return lines.join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  (async () => {
    console.log(toMarkdown(await run()));
  })().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
