/**
 * Gas of the issue-3 insurer-side checks on two fresh anvils with real relaying:
 *  - on-chain selective-disclosure verification (DisclosureVerifier.verifyDisclosure: leaf hashing + OpenZeppelin
 *    multiproof against the root a delivered record proof carries) for 1, 5 and 20 disclosed elements of a
 *    realistic record (~60 elements: Bundle of a Patient and two Conditions), with proof sizes;
 *  - delivery of one RECORD_PROOF into RecordProofStore (consent lookup in the ConsentMirror + EIP-712 anchor
 *    signature check), accepted and refused, inside Inbox.updateAndReceive.
 * Every figure is a mined transaction's gasUsed (21,000 base and calldata included).
 *
 *   npx tsx bench/disclosure-gas.ts
 */
import { fileURLToPath } from 'node:url';
import { type Contract, NonceManager, Wallet } from 'ethers';
import { buildDisclosureTree, disclose, disclosureSize, patientPseudonym } from '../proofs/records/index.js';
import { latestTimestamp, startChain, stopChain, type TestChain } from '../test/helpers/chain.js';
import {
  type Bound,
  deployContract,
  deployRelayContracts,
  openChannel,
  RECIPIENT_REF,
} from '../test/helpers/deploy.js';
import { testValidators } from '../test/helpers/qbft-seal.js';
import {
  ANVIL_KEYS,
  anchorArg,
  id32,
  realisticRecord,
  relayPending,
  signedAnchor,
} from '../test/helpers/records.js';
import { receivedPackets } from '../test/helpers/relay.js';

export interface DisclosureGasRow {
  disclosed: number;
  /** verifyDisclosure tx gasUsed. */
  gas: number;
  /** Proof items (bytes32) and flags of the multiproof. */
  proofItems: number;
  flags: number;
  /** ABI calldata of the verifyDisclosure call (elements + proof + flags), bytes. */
  calldataBytes: number;
  /** JSON size of the off-chain disclosure object (proofs/records disclosureSize). */
  disclosureJsonBytes: number;
}

export interface DisclosureGasReport {
  recordElements: number;
  rows: DisclosureGasRow[];
  /** updateAndReceive with one RECORD_PROOF accepted by RecordProofStore (consent + signature checked, stored). */
  deliverAccepted: number;
  /** Same, refused (revoked consent → APP_ERROR, nothing stored). */
  deliverRefused: number;
  /** RecordRegistry.anchorSigned (EIP-712 verification + storage of the anchor and its signature). */
  anchorSigned: number;
}

const A_ID = 73001n;
const B_ID = 73002n;
const COUNTS = [1, 5, 20];

type Dyn = Bound<'verifyDisclosure' | 'sendRecordProof' | 'grant' | 'revoke' | 'anchorSigned'>;

async function gasOf(p: Promise<{ wait(): Promise<{ gasUsed: bigint } | null> }>): Promise<number> {
  return Number((await (await p).wait())!.gasUsed);
}

export async function run(): Promise<DisclosureGasReport> {
  const valsA = testValidators('medrelay-disclosure-gas-a');
  const valsB = testValidators('medrelay-disclosure-gas-b');
  let A: TestChain | undefined;
  let B: TestChain | undefined;
  try {
    [A, B] = await Promise.all([startChain(Number(A_ID)), startChain(Number(B_ID))]);
    const { a, b } = await deployRelayContracts(
      { signer: A.signer, chainId: A.chainId, validators: valsA.addresses },
      { signer: B.signer, chainId: B.chainId, validators: valsB.addresses },
    );
    const consentCh = await openChannel(a, 'consent', B_ID);
    const recordsCh = await openChannel(a, 'records', B_ID);
    const hospital = new NonceManager(new Wallet(ANVIL_KEYS[2], A.provider));
    await (await a.registry.setInstitution(await hospital.getAddress(), true)).wait();
    await (await a.consentRegistry.setRoute(B_ID, consentCh, await b.consentMirror.getAddress())).wait();
    await (await a.consentRegistry.setDefaultDest(B_ID)).wait();
    const consents = a.consentRegistry.connect(hospital) as Dyn;
    const registry = a.registry.connect(hospital) as Dyn;
    const sender = a.recordSender.connect(hospital) as Dyn;
    const patient = patientPseudonym(new Uint8Array(32).fill(9), 'urn:oid:1.2.3', 'MRN-1');
    const patientKey = new Wallet(ANVIL_KEYS[3]).address;

    const ok = id32('bench-consent-ok');
    const revoked = id32('bench-consent-revoked');
    for (const c of [ok, revoked])
      await (await consents.grant(c, patient, patientKey, RECIPIENT_REF, c, 0, 2n ** 63n)).wait();
    await (await consents.revoke(revoked)).wait();
    await relayPending(A, a, b, consentCh, valsA);

    const record = await realisticRecord();
    const tree = buildDisclosureTree(record);
    const anchorOf = async (recordId: string, root: string) => {
      const { anchor, signature } = signedAnchor(ANVIL_KEYS[2], A_ID, {
        recordId: recordId as `0x${string}`,
        recordHash: id32(`doc:${recordId}`),
        disclosureRoot: root as `0x${string}`,
        patient,
        anchoredAt: (await latestTimestamp(A!)) - 1n,
      });
      return gasOf(registry.anchorSigned(anchorArg(anchor), signature));
    };
    const deliver = async (recordId: string, consentId: string) => {
      await (
        await sender.sendRecordProof(recordsCh, await b.recordStore.getAddress(), recordId, consentId, 0)
      ).wait();
      await relayPending(A!, a, b, recordsCh, valsA);
      const rcv = (await receivedPackets(b.inbox, recordsCh)).at(-1)!;
      const logs = await B!.provider.send('eth_getLogs', [
        {
          address: await b.inbox.getAddress(),
          fromBlock: `0x${rcv.blockNumber.toString(16)}`,
          toBlock: `0x${rcv.blockNumber.toString(16)}`,
        },
      ]);
      const tx = (logs as { transactionHash: string }[])[0]!.transactionHash;
      const rc = await B!.provider.getTransactionReceipt(tx);
      return { status: rcv.status, gas: Number(rc!.gasUsed) };
    };

    const recordId = id32('bench-record');
    const anchorSigned = await anchorOf(recordId, tree.root);
    const accepted = await deliver(recordId, ok);
    if (accepted.status !== 1) throw new Error('disclosure-gas: record proof was not accepted');
    await anchorOf(id32('bench-record-refused'), tree.root);
    const refused = await deliver(id32('bench-record-refused'), revoked);
    if (refused.status !== 2)
      throw new Error('disclosure-gas: record proof with revoked consent was not refused');

    const verifier = (await deployContract(
      'DisclosureVerifier',
      B.signer,
      await b.recordStore.getAddress(),
    )) as Dyn & Contract;
    const rows: DisclosureGasRow[] = [];
    for (const n of COUNTS) {
      const step = Math.floor(tree.elements.length / n);
      const paths = tree.elements
        .filter((_, i) => i % step === 0)
        .slice(0, n)
        .map((e) => e.path);
      const d = disclose(tree, paths, { recordId });
      const elements = d.elements.map((e) => ({ salt: e.salt, path: e.path, value: e.value }));
      const data = verifier.interface.encodeFunctionData('verifyDisclosure', [
        recordId,
        elements,
        d.proof,
        d.proofFlags,
      ]);
      rows.push({
        disclosed: n,
        gas: await gasOf(verifier.verifyDisclosure(recordId, elements, d.proof, d.proofFlags)),
        proofItems: d.proof.length,
        flags: d.proofFlags.length,
        calldataBytes: (data.length - 2) / 2,
        disclosureJsonBytes: disclosureSize(d),
      });
    }
    return {
      recordElements: tree.elements.length,
      rows,
      deliverAccepted: accepted.gas,
      deliverRefused: refused.gas,
      anchorSigned,
    };
  } finally {
    await Promise.all([stopChain(A), stopChain(B)]);
  }
}

export function toMarkdown(r: DisclosureGasReport): string {
  const fmt = (x: number) => x.toLocaleString('en-US');
  return [
    `DisclosureVerifier.verifyDisclosure on a record of ${r.recordElements} elements (tx gasUsed, 21k base included)`,
    '',
    '| disclosed | gas | proof items | flags | calldata bytes | disclosure JSON bytes |',
    '|---:|---:|---:|---:|---:|---:|',
    ...r.rows.map(
      (x) =>
        `| ${x.disclosed} | ${fmt(x.gas)} | ${x.proofItems} | ${x.flags} | ${fmt(x.calldataBytes)} | ${fmt(x.disclosureJsonBytes)} |`,
    ),
    '',
    `RecordRegistry.anchorSigned: ${fmt(r.anchorSigned)} gas. Inbox.updateAndReceive with one RECORD_PROOF into ` +
      `RecordProofStore (header + proofs + consent lookup + EIP-712 check): accepted ${fmt(r.deliverAccepted)} gas, ` +
      `refused (revoked consent, APP_ERROR) ${fmt(r.deliverRefused)} gas.`,
  ].join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  (async () => {
    console.log(toMarkdown(await run()));
  })().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
