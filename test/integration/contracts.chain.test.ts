/**
 * Contract tests on two real anvil chains: A = hospital chain (Outbox, RecordRegistry, RecordProofSender, and a
 * light client of B for acks), B = insurer chain (QbftLightClient of A, Inbox, RecordProofStore, NoopReceiver).
 * Headers are anvil blocks sealed as Besu QBFT by test validator keys; proofs come from anvil's eth_getProof.
 */
import { keccak256, toUtf8Bytes } from 'ethers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sealQbftHeader } from '../../adapters/evm/devnet/sealer.js';
import { MerkleAccumulator } from '../../proofs/accumulator.js';
import type { Hex } from '../../proofs/bytes.js';
import { AckStatus, ackLeaf, type Packet } from '../../proofs/packet.js';
import type { BftExtraData } from '../../proofs/qbft.js';
import { decodeQbftExtraData, qbftBlockHash } from '../../proofs/qbft.js';
import {
  advanceTime,
  blockNumber,
  latestTimestamp,
  mine,
  revertOf,
  startChain,
  stopChain,
  type TestChain,
} from '../helpers/chain.js';
import {
  deployContract,
  deployRelayContracts,
  type Endpoint,
  type LightClientContract,
  openChannel,
  RECIPIENT_REF,
  type RegistryContract,
} from '../helpers/deploy.js';
import { readFixture } from '../helpers/fixtures.js';
import {
  getBlock,
  qbftHeaderFromBlock,
  reencode,
  sealAnvilBlock,
  sealHeader,
  signSeal,
  testValidators,
} from '../helpers/qbft-seal.js';
import { ANVIL_KEYS, anchorArg, relayPending, signedAnchor } from '../helpers/records.js';
import {
  buildAckArgs,
  buildNextRecvProof,
  buildReceiveArgs,
  type ReceiveArgs,
  receivedPackets,
  sentPackets,
} from '../helpers/relay.js';

const A_ID = 71001;
const B_ID = 71002;
const valsA = testValidators('medrelay-test-hospital');
const valsB = testValidators('medrelay-test-insurer');
const outsider = testValidators('medrelay-test-attacker', 1);

let A: TestChain;
let B: TestChain;
let a: Endpoint; // contracts on A
let b: Endpoint; // contracts on B
let channel: string;

/**
 * Seals the head of `chain` with 3 of 4 validator keys (keys 1..3: any quorum works) and submits it. Mines an
 * empty block first if the head is already known to `lc` (headers must increase).
 */
async function relayHeader(chain: TestChain, lc: LightClientContract, vals: typeof valsA): Promise<number> {
  if (BigInt(await blockNumber(chain)) <= (await lc.latestNumber())) await mine(chain);
  const height = await blockNumber(chain);
  const sealed = await sealAnvilBlock(chain.provider, height, {
    listed: vals.addresses,
    signers: vals.keys.slice(1),
  });
  await (await lc.updateHeader(sealed.rlp)).wait();
  return height;
}

function recv(args: ReceiveArgs, over: Partial<ReceiveArgs> = {}): Promise<unknown> {
  const x = { ...args, ...over };
  return b.inbox.receivePackets.staticCall(x.height, x.accountProof, x.storageProof, x.packets, x.rangeProof);
}

async function sendRecordProof(recordId: string, timeoutTimestamp = 0n): Promise<bigint> {
  const tx = await a.recordSender.sendRecordProof(
    channel,
    await b.recordStore.getAddress(),
    recordId,
    CONSENT,
    timeoutTimestamp,
  );
  await tx.wait();
  return (await a.outbox.nextSequence(channel)) - 1n;
}

/** Every record of this file shares one patient and one consent (granted on A, mirrored on B in beforeAll). */
const CONSENT = keccak256(toUtf8Bytes('consent:contracts-test'));
const PATIENT = keccak256(toUtf8Bytes('patient:contracts-test'));

/** Anchors record(i) signed by A's institution (the deployer, anvil account 0). */
async function anchorSigned(i: number) {
  const { anchor, signature } = signedAnchor(ANVIL_KEYS[0], A.chainId, {
    recordId: record(i) as Hex,
    recordHash: keccak256(toUtf8Bytes(`doc-${i}`)) as Hex,
    disclosureRoot: keccak256(toUtf8Bytes(`d-${i}`)) as Hex,
    patient: PATIENT as Hex,
    anchoredAt: (await latestTimestamp(A)) - 1n,
  });
  return a.registry.anchorSigned(anchorArg(anchor), signature);
}

const flipByte = (hex: string, at: number): Hex => {
  const bytes = Buffer.from(hex.slice(2), 'hex');
  bytes[at]! ^= 0x01;
  return `0x${bytes.toString('hex')}`;
};

beforeAll(async () => {
  [A, B] = await Promise.all([startChain(A_ID), startChain(B_ID)]);
  ({ a, b } = await deployRelayContracts(
    { signer: A.signer, chainId: A.chainId, validators: valsA.addresses },
    { signer: B.signer, chainId: B.chainId, validators: valsB.addresses },
  ));
  channel = await openChannel(a, 'records', B.chainId);
  await (await a.registry.setInstitution(await A.signer.getAddress(), true)).wait();
  // The patient's consent, recorded on A and mirrored on B over its own channel before any record proof.
  const consentCh = await openChannel(a, 'consent', B.chainId);
  await (await a.consentRegistry.setRoute(B.chainId, consentCh, await b.consentMirror.getAddress())).wait();
  await (await a.consentRegistry.setDefaultDest(B.chainId)).wait();
  await (
    await a.consentRegistry.grant(CONSENT, PATIENT, A.signer.address, RECIPIENT_REF, CONSENT, 0, 2n ** 63n)
  ).wait();
  await relayPending(A, a, b, consentCh, valsA);
});

afterAll(async () => {
  await Promise.all([stopChain(A), stopChain(B)]);
});

const record = (i: number): string => keccak256(toUtf8Bytes(`record-${i}`));

describe('source chain: anchors and sends', () => {
  it('anchors a record and sends record-proof packets committed to sendRoot', async () => {
    for (let i = 1; i <= 4; i++) {
      await (await anchorSigned(i)).wait();
      expect(await sendRecordProof(record(i))).toBe(BigInt(i));
    }
    const sent = await sentPackets(a.outbox, channel);
    expect(sent.map((s) => s.packet.sequence)).toEqual([1n, 2n, 3n, 4n]);
    const acc = new MerkleAccumulator();
    for (const s of sent) acc.append(s.id);
    expect(await a.outbox.sendRoot(channel)).toBe(`0x${Buffer.from(acc.root()).toString('hex')}`);
    expect(await a.outbox.sentId(channel, 2)).toBe(sent[1]!.id);
    expect(await a.recordSender.delivery(sent[0]!.id)).toBe(1n); // Pending
  });

  it('rejects sends on unknown channels and anchors by non-institutions', async () => {
    const bad = keccak256(toUtf8Bytes('nope'));
    expect(
      (await revertOf(() => a.outbox.sendPacket.staticCall(bad, A.signer.address, 0, 0, 1, '0x'))).name,
    ).toBe('UnknownChannel');
    const other = await A.provider.getSigner(1);
    const reg = a.registry.connect(other) as RegistryContract;
    expect((await revertOf(() => reg.anchor.staticCall(record(99), record(99), record(99)))).name).toBe(
      'NotInstitution',
    );
  });
});

describe('light client: QBFT header verification', () => {
  let height: number;
  let good: Awaited<ReturnType<typeof sealAnvilBlock>>;

  beforeAll(async () => {
    height = await blockNumber(A);
    good = await sealAnvilBlock(A.provider, height, {
      listed: valsA.addresses,
      signers: valsA.keys.slice(0, 3),
    });
  });

  const lcCall = (rlp: string) => () => b.lightClient.updateHeader.staticCall(rlp);
  const extraOf = (): BftExtraData =>
    decodeQbftExtraData(Buffer.from((good.header.extraData as string).slice(2), 'hex'));

  it('rejects a header with a flipped seal bit', async () => {
    const e = extraOf();
    e.seals[1] = Buffer.from(flipByte(`0x${Buffer.from(e.seals[1]!).toString('hex')}`, 5).slice(2), 'hex');
    const r = await revertOf(lcCall(reencode(good.header, e)));
    expect(['NotValidator', 'InvalidSeal']).toContain(r.name);
  });

  it('rejects a seal by a non-validator', async () => {
    const s = sealHeader(good.header, {
      listed: valsA.addresses,
      signers: [...valsA.keys.slice(0, 2), outsider.keys[0]!],
    });
    const r = await revertOf(lcCall(s.rlp));
    expect(r.name).toBe('NotValidator');
    expect(String(r.args[0]).toLowerCase()).toBe(outsider.addresses[0]);
  });

  it('rejects a header below quorum (2 of 4)', async () => {
    const s = sealHeader(good.header, { listed: valsA.addresses, signers: valsA.keys.slice(0, 2) });
    const r = await revertOf(lcCall(s.rlp));
    expect(r).toEqual({ name: 'BelowQuorum', args: [2n, 3n] });
  });

  it('rejects a duplicated seal (3 seals, 2 signers)', async () => {
    const e = extraOf();
    e.seals = [e.seals[0]!, e.seals[1]!, e.seals[0]!];
    expect((await revertOf(lcCall(reencode(good.header, e)))).name).toBe('DuplicateSeal');
  });

  it('rejects a header field changed after sealing', async () => {
    const forged = reencode({ ...good.header, stateRoot: keccak256('0x01') }, extraOf());
    expect((await revertOf(lcCall(forged))).name).toBe('NotValidator');
    const forged2 = reencode(
      { ...good.header, timestamp: `0x${(BigInt(good.header.timestamp) + 1n).toString(16)}` },
      extraOf(),
    );
    expect((await revertOf(lcCall(forged2))).name).toBe('NotValidator');
  });

  it('rejects a changed round (same block hash, seals no longer match)', async () => {
    const e = extraOf();
    e.round = 1n;
    const forged = reencode(good.header, e);
    expect(Buffer.from(qbftBlockHash(Buffer.from(forged.slice(2), 'hex'))).toString('hex')).toBe(
      good.hash.slice(2),
    );
    expect((await revertOf(lcCall(forged))).name).toBe('NotValidator');
  });

  it('rejects a header listing a substituted set sealed by that set', async () => {
    const s = sealHeader(good.header, { listed: outsider.addresses, signers: outsider.keys });
    expect((await revertOf(lcCall(s.rlp))).name).toBe('NotValidator');
  });

  it('accepts a header with 3 of 4 seals in round 2 and stores its roots', async () => {
    const s = sealHeader(good.header, { listed: valsA.addresses, signers: valsA.keys.slice(1), round: 2n });
    const tx = await b.lightClient.updateHeader(s.rlp);
    const rc = await tx.wait();
    const ev = b.lightClient.interface.parseLog(rc.logs[0])!;
    expect(ev.name).toBe('HeaderUpdated');
    expect(ev.args.number).toBe(BigInt(height));
    expect(ev.args.blockHash).toBe(s.hash);
    const block = await getBlock(A.provider, height);
    expect(await b.lightClient.stateRoot(height)).toBe(block.stateRoot);
    expect(await b.lightClient.receiptsRoot(height)).toBe(block.receiptsRoot);
    expect(await b.lightClient.timestamp(height)).toBe(BigInt(block.timestamp as string));
    expect(await b.lightClient.latestNumber()).toBe(BigInt(height));
    // The same height again is stale.
    expect((await revertOf(lcCall(s.rlp))).name).toBe('StaleHeader');
  });
});

describe('inbox: delivery and forged inputs', () => {
  let height: number;
  let args: ReceiveArgs;

  beforeAll(async () => {
    height = await blockNumber(A); // already verified by the light-client tests
    args = await buildReceiveArgs(A.provider, a.outbox, channel, height, 1n, 3);
  });

  it('rejects forged storage proofs: flipped node byte, wrong slot, truncated', async () => {
    const acct = [...args.accountProof];
    acct[acct.length - 1] = flipByte(acct[acct.length - 1]!, 40);
    expect((await revertOf(() => recv(args, { accountProof: acct }))).name).toBe('InvalidStorageProof');
    const sp = [...args.storageProof];
    sp[0] = flipByte(sp[0]!, 10);
    expect((await revertOf(() => recv(args, { storageProof: sp }))).name).toBe('InvalidStorageProof');
    // A valid proof, but of another slot (the sentId of sequence 1).
    const wrongSlot = keccak256(
      `0x${(await import('ethers')).AbiCoder.defaultAbiCoder()
        .encode(['uint64', 'bytes32'], [1, keccak256(`${channel}${'00'.repeat(31)}03`)])
        .slice(2)}`,
    );
    const other = await A.provider.send('eth_getProof', [
      await a.outbox.getAddress(),
      [wrongSlot],
      `0x${height.toString(16)}`,
    ]);
    expect((await revertOf(() => recv(args, { storageProof: other.storageProof[0].proof }))).name).toBe(
      'InvalidStorageProof',
    );
    expect((await revertOf(() => recv(args, { storageProof: args.storageProof.slice(0, -1) }))).name).toBe(
      'InvalidStorageProof',
    );
    expect((await revertOf(() => recv(args, { accountProof: args.accountProof.slice(0, -1) }))).name).toBe(
      'InvalidStorageProof',
    );
    expect(
      (await revertOf(() => recv(args, { storageProof: [...args.storageProof, args.storageProof[0]!] })))
        .name,
    ).toBe('InvalidStorageProof');
  });

  it('rejects forged range proofs: flipped sibling, wrong start, extra item, missing item', async () => {
    const rp = [...args.rangeProof];
    rp[0] = flipByte(rp[0]!, 31);
    expect((await revertOf(() => recv(args, { rangeProof: rp }))).name).toBe('InvalidRangeProof');
    const sent = await sentPackets(a.outbox, channel);
    const acc = new MerkleAccumulator();
    for (const s of sent) acc.append(s.id);
    expect((await revertOf(() => recv(args, { rangeProof: acc.rangeProof(1, 3) }))).name).toBe(
      'InvalidRangeProof',
    );
    expect(
      (await revertOf(() => recv(args, { rangeProof: [...args.rangeProof, args.rangeProof[0]!] }))).name,
    ).toBe('InvalidRangeProof');
    expect((await revertOf(() => recv(args, { rangeProof: args.rangeProof.slice(0, -1) }))).name).toBe(
      'InvalidRangeProof',
    );
  });

  it('rejects tampered packets (payload, receiver, timeout)', async () => {
    const tamper = (i: number, p: Partial<Packet>) =>
      args.packets.map((x, j) => (j === i ? { ...x, ...p } : x));
    const payload = flipByte(args.packets[1]!.payload, 3);
    expect((await revertOf(() => recv(args, { packets: tamper(1, { payload }) }))).name).toBe(
      'InvalidRangeProof',
    );
    const receiver = (await b.noop.getAddress()).toLowerCase() as Hex;
    expect((await revertOf(() => recv(args, { packets: tamper(0, { receiver }) }))).name).toBe(
      'InvalidRangeProof',
    );
    expect((await revertOf(() => recv(args, { packets: tamper(2, { timeoutTimestamp: 5n }) }))).name).toBe(
      'InvalidRangeProof',
    );
  });

  it('rejects out-of-order sequences, unknown heights and mixed batches', async () => {
    const skip = await buildReceiveArgs(A.provider, a.outbox, channel, height, 2n, 2);
    expect(await revertOf(() => recv(skip))).toEqual({ name: 'SequenceOutOfOrder', args: [1n, 2n] });
    const gap = [args.packets[0]!, args.packets[2]!];
    expect(await revertOf(() => recv(args, { packets: gap }))).toEqual({
      name: 'SequenceOutOfOrder',
      args: [2n, 3n],
    });
    expect(await revertOf(() => recv(args, { height: BigInt(height - 1) }))).toEqual({
      name: 'UnknownHeight',
      args: [BigInt(height - 1)],
    });
    const unknownSource = args.packets.map((p) => ({ ...p, sourceChain: 5n }));
    expect((await revertOf(() => recv(args, { packets: unknownSource }))).name).toBe('UnknownRemote');
  });

  it('delivers 3 packets with valid proofs: stores record proofs, emits events, commits acks', async () => {
    const tx = await b.inbox.receivePackets(
      args.height,
      args.accountProof,
      args.storageProof,
      args.packets,
      args.rangeProof,
    );
    const rc = await tx.wait();
    const received = rc.logs
      .filter((l: { address: string }) => l.address === b.inbox.target)
      .map((l: never) => b.inbox.interface.parseLog(l)!);
    expect(
      received.map((e: { args: { sequence: bigint; status: bigint } }) => [e.args.sequence, e.args.status]),
    ).toEqual([
      [1n, 1n],
      [2n, 1n],
      [3n, 1n],
    ]);
    const stored = rc.logs
      .filter((l: { address: string }) => l.address === b.recordStore.target)
      .map((l: never) => b.recordStore.interface.parseLog(l)!);
    expect(stored.map((e: { name: string }) => e.name)).toEqual(Array(3).fill('RecordProofStored'));
    const proof = await b.recordStore.getRecordProof(record(2));
    expect(proof.sha256Hash).toBe(keccak256(toUtf8Bytes('doc-2')));
    expect(proof.sourceChain).toBe(A.chainId);
    expect(proof.packetId).toBe((await sentPackets(a.outbox, channel))[1]!.id);
    expect(await b.inbox.nextRecv(channel)).toBe(4n);
    // The on-chain ack accumulator equals the one rebuilt from events.
    const acc = new MerkleAccumulator();
    for (const r of await receivedPackets(b.inbox, channel)) acc.append(ackLeaf(r.id, r.status, r.result));
    expect(await b.inbox.ackRoot(channel)).toBe(`0x${Buffer.from(acc.root()).toString('hex')}`);
  });

  it('rejects a replay of a delivered packet', async () => {
    expect(await revertOf(() => recv(args))).toEqual({ name: 'AlreadyReceived', args: [channel, 1n] });
    const one = await buildReceiveArgs(A.provider, a.outbox, channel, height, 3n, 1);
    expect(await revertOf(() => recv(one))).toEqual({ name: 'AlreadyReceived', args: [channel, 3n] });
  });

  it('rejects a packet for another destination chain', async () => {
    const elsewhere = await openChannel(a, 'records-elsewhere', 424242n);
    await (await a.outbox.sendPacket(elsewhere, await b.noop.getAddress(), 0, 0, 1, '0x1234')).wait();
    const h = await relayHeader(A, b.lightClient, valsA);
    const x = await buildReceiveArgs(A.provider, a.outbox, elsewhere, h, 1n, 1);
    expect(await revertOf(() => recv(x))).toEqual({ name: 'WrongDestChain', args: [424242n] });
  });

  it('updateAndReceive: header update + proofs + packet in one transaction', async () => {
    await (await anchorSigned(5)).wait();
    // sequence 4 was sent earlier; deliver 4 and 5 under a fresh header.
    expect(await sendRecordProof(record(5))).toBe(5n);
    const h = await blockNumber(A);
    const sealed = await sealAnvilBlock(A.provider, h, {
      listed: valsA.addresses,
      signers: valsA.keys.slice(0, 3),
    });
    const x = await buildReceiveArgs(A.provider, a.outbox, channel, h, 4n, 2);
    const latestBefore = await b.lightClient.latestNumber();
    const lcAddr = (await b.lightClient.getAddress()).toLowerCase();
    // A forged seal set is refused exactly as by updateHeader.
    const below = sealHeader(sealed.header, { listed: valsA.addresses, signers: valsA.keys.slice(0, 2) });
    expect(
      await revertOf(() =>
        b.inbox.updateAndReceive.staticCall(
          below.rlp,
          x.height,
          x.accountProof,
          x.storageProof,
          x.packets,
          x.rangeProof,
        ),
      ),
    ).toEqual({ name: 'BelowQuorum', args: [2n, 3n] });
    // A header that does not match `height` is refused.
    expect(
      (
        await revertOf(() =>
          b.inbox.updateAndReceive.staticCall(
            sealed.rlp,
            BigInt(h + 1),
            x.accountProof,
            x.storageProof,
            x.packets,
            x.rangeProof,
          ),
        )
      ).name,
    ).toBe('HeightMismatch');
    const rc = await (
      await b.inbox.updateAndReceive(
        sealed.rlp,
        x.height,
        x.accountProof,
        x.storageProof,
        x.packets,
        x.rangeProof,
      )
    ).wait();
    expect(rc.status).toBe(1);
    // Stateless verification: the header was checked in the transaction, nothing was stored.
    expect(await b.lightClient.latestNumber()).toBe(latestBefore);
    expect(await b.lightClient.stateRoot(h)).toBe(`0x${'00'.repeat(32)}`);
    expect(rc.logs.some((l: { address: string }) => l.address.toLowerCase() === lcAddr)).toBe(false);
    expect(await b.inbox.nextRecv(channel)).toBe(6n);
  });
});

describe('acknowledgements, expiry and timeouts back on the source chain', () => {
  it('acknowledges delivered packets on the source: onAcknowledgement marks them delivered', async () => {
    const hB = await relayHeader(B, a.lightClient, valsB);
    const x = await buildAckArgs(B.provider, b.inbox, a.outbox, channel, hB, 1n, 5);
    // Forged ack status is caught by the range proof.
    const badStatus = [...x.statuses];
    badStatus[0] = AckStatus.APP_ERROR;
    expect(
      (
        await revertOf(() =>
          a.outbox.acknowledgePackets.staticCall(
            x.height,
            x.accountProof,
            x.storageProof,
            x.packets,
            badStatus,
            x.results,
            x.rangeProof,
          ),
        )
      ).name,
    ).toBe('InvalidRangeProof');
    const rc = await (
      await a.outbox.acknowledgePackets(
        x.height,
        x.accountProof,
        x.storageProof,
        x.packets,
        x.statuses,
        x.results,
        x.rangeProof,
      )
    ).wait();
    const names = rc.logs.map((l: never) => {
      for (const c of [a.outbox, a.recordSender]) {
        const p = c.interface.parseLog(l);
        if (p) return p.name;
      }
      return '?';
    });
    expect(names.filter((n: string) => n === 'PacketAcknowledged')).toHaveLength(5);
    expect(names.filter((n: string) => n === 'RecordProofSettled')).toHaveLength(5);
    expect(names).not.toContain('CallbackFailed');
    const sent = await sentPackets(a.outbox, channel);
    for (const s of sent.slice(0, 5)) expect(await a.recordSender.delivery(s.id)).toBe(2n); // Delivered
    expect(await a.outbox.ackedUpTo(channel)).toBe(5n);
    expect(await a.outbox.sentId(channel, 1)).toBe(`0x${'00'.repeat(32)}`);
    // Replaying the same acks fails: settlement is in order from ackedUpTo + 1.
    expect(
      (
        await revertOf(() =>
          a.outbox.acknowledgePackets.staticCall(
            x.height,
            x.accountProof,
            x.storageProof,
            x.packets,
            x.statuses,
            x.results,
            x.rangeProof,
          ),
        )
      ).name,
    ).toBe('SequenceOutOfOrder');
  });

  it('an expired packet gets status TIMEOUT without calling the app, and is acked as timed out', async () => {
    await (await anchorSigned(6)).wait();
    const seq = await sendRecordProof(record(6), (await latestTimestamp(B)) + 30n);
    expect(seq).toBe(6n);
    await advanceTime(B, 60);
    const h = await relayHeader(A, b.lightClient, valsA);
    const x = await buildReceiveArgs(A.provider, a.outbox, channel, h, 6n, 1);
    const rc = await (
      await b.inbox.receivePackets(x.height, x.accountProof, x.storageProof, x.packets, x.rangeProof)
    ).wait();
    const evs = rc.logs.map(
      (l: never) => b.inbox.interface.parseLog(l) ?? b.recordStore.interface.parseLog(l),
    );
    expect(evs.map((e: { name: string }) => e.name)).toEqual(['PacketReceived']);
    expect(evs[0].args.status).toBe(3n);
    expect((await b.recordStore.getRecordProof(record(6))).packetId).toBe(`0x${'00'.repeat(32)}`);

    const hB = await relayHeader(B, a.lightClient, valsB);
    const ack = await buildAckArgs(B.provider, b.inbox, a.outbox, channel, hB, 6n, 1);
    await (
      await a.outbox.acknowledgePackets(
        ack.height,
        ack.accountProof,
        ack.storageProof,
        ack.packets,
        ack.statuses,
        ack.results,
        ack.rangeProof,
      )
    ).wait();
    expect(await a.recordSender.delivery((await sentPackets(a.outbox, channel))[5]!.id)).toBe(4n); // TimedOut
  });

  it('timeoutPacket: reverts before the timeout, succeeds after it with proof of non-receipt, calls onTimeout', async () => {
    const now = await latestTimestamp(B);
    await (await anchorSigned(7)).wait();
    const seq7 = await sendRecordProof(record(7), now + 100n);
    const seq8 = await sendRecordProof(record(7), now + 100_000n);
    expect([seq7, seq8]).toEqual([7n, 8n]);
    const packet7 = (await sentPackets(a.outbox, channel))[6]!.packet;

    const early = await relayHeader(B, a.lightClient, valsB);
    const pEarly = await buildNextRecvProof(B.provider, b.inbox, channel, early);
    expect(pEarly.value).toBe(7n);
    expect(
      (
        await revertOf(() =>
          a.outbox.timeoutPacket.staticCall(early, pEarly.accountProof, pEarly.storageProof, packet7),
        )
      ).name,
    ).toBe('NotTimedOut');
    // Not yet settleable: a later packet cannot be timed out before the earlier one.
    const packet8 = (await sentPackets(a.outbox, channel))[7]!.packet;
    expect(
      (
        await revertOf(() =>
          a.outbox.timeoutPacket.staticCall(early, pEarly.accountProof, pEarly.storageProof, packet8),
        )
      ).name,
    ).toBe('SequenceOutOfOrder');

    await advanceTime(B, 200);
    const late = await relayHeader(B, a.lightClient, valsB);
    const pLate = await buildNextRecvProof(B.provider, b.inbox, channel, late);
    // A forged nextRecv proof is refused.
    expect(
      (
        await revertOf(() =>
          a.outbox.timeoutPacket.staticCall(
            late,
            pLate.accountProof,
            pLate.storageProof.slice(0, -1),
            packet7,
          ),
        )
      ).name,
    ).toBe('InvalidStorageProof');
    const rc = await (
      await a.outbox.timeoutPacket(late, pLate.accountProof, pLate.storageProof, packet7)
    ).wait();
    const names = rc.logs.map(
      (l: never) => (a.outbox.interface.parseLog(l) ?? a.recordSender.interface.parseLog(l))?.name,
    );
    expect(names).toEqual(['PacketTimedOut', 'RecordProofSettled']);
    expect(await a.recordSender.delivery((await sentPackets(a.outbox, channel))[6]!.id)).toBe(4n);
    expect(await a.outbox.ackedUpTo(channel)).toBe(7n);
  });

  it('timeoutPacket for a received packet reverts AlreadyReceived; its ack settles it', async () => {
    // Deliver 7 (expired: TIMEOUT, app not called) and 8 (in time: SUCCESS).
    const h = await relayHeader(A, b.lightClient, valsA);
    const x = await buildReceiveArgs(A.provider, a.outbox, channel, h, 7n, 2);
    await (
      await b.inbox.receivePackets(x.height, x.accountProof, x.storageProof, x.packets, x.rangeProof)
    ).wait();
    const got = (await receivedPackets(b.inbox, channel)).slice(6).map((r) => r.status);
    expect(got).toEqual([AckStatus.TIMEOUT, AckStatus.SUCCESS]);

    await advanceTime(B, 200_000); // now 8 is past its timeout, but it was received
    const late = await relayHeader(B, a.lightClient, valsB);
    const p = await buildNextRecvProof(B.provider, b.inbox, channel, late);
    const packet8 = (await sentPackets(a.outbox, channel))[7]!.packet;
    expect(
      await revertOf(() => a.outbox.timeoutPacket.staticCall(late, p.accountProof, p.storageProof, packet8)),
    ).toEqual({
      name: 'AlreadyReceived',
      args: [channel, 8n],
    });
    const ack = await buildAckArgs(B.provider, b.inbox, a.outbox, channel, late, 8n, 1);
    await (
      await a.outbox.acknowledgePackets(
        ack.height,
        ack.accountProof,
        ack.storageProof,
        ack.packets,
        ack.statuses,
        ack.results,
        ack.rangeProof,
      )
    ).wait();
    expect(await a.recordSender.delivery((await sentPackets(a.outbox, channel))[7]!.id)).toBe(2n);
    expect(await a.outbox.ackedUpTo(channel)).toBe(8n);
  });
});

describe('validator-set rotation and interop', () => {
  it('old set seals a header listing a new set; later headers need the new set', async () => {
    const lc = await deployContract<LightClientContract>(
      'QbftLightClient',
      B.signer,
      A.chainId,
      valsA.addresses,
    );
    const next = testValidators('medrelay-test-hospital-next', 5);
    await mine(A, 3);
    const n = await blockNumber(A);
    const h1 = await sealAnvilBlock(A.provider, n - 2, {
      listed: next.addresses,
      signers: valsA.keys.slice(0, 3),
    });
    const rc = await (await lc.updateHeader(h1.rlp)).wait();
    const changed = rc.logs
      .map((l: never) => lc.interface.parseLog(l)!)
      .find((e: { name: string }) => e.name === 'ValidatorSetChanged');
    expect(changed.args.epoch).toBe(1n);
    expect((await lc.validators()).map((x: string) => x.toLowerCase())).toEqual(next.addresses);
    expect(await lc.quorum()).toBe(4n);
    // The old set can no longer finalize headers, whatever list it writes.
    const old = await sealAnvilBlock(A.provider, n - 1, {
      listed: valsA.addresses,
      signers: valsA.keys.slice(0, 3),
    });
    expect((await revertOf(() => lc.updateHeader.staticCall(old.rlp))).name).toBe('NotValidator');
    const oldListingNew = await sealAnvilBlock(A.provider, n - 1, {
      listed: next.addresses,
      signers: valsA.keys,
    });
    expect((await revertOf(() => lc.updateHeader.staticCall(oldListingNew.rlp))).name).toBe('NotValidator');
    const threeOfFive = await sealAnvilBlock(A.provider, n - 1, {
      listed: next.addresses,
      signers: next.keys.slice(0, 3),
    });
    expect(await revertOf(() => lc.updateHeader.staticCall(threeOfFive.rlp))).toEqual({
      name: 'BelowQuorum',
      args: [3n, 4n],
    });
    const ok = await sealAnvilBlock(A.provider, n - 1, {
      listed: next.addresses,
      signers: next.keys.slice(1),
    });
    await (await lc.updateHeader(ok.rlp)).wait();
    expect(await lc.latestNumber()).toBe(BigInt(n - 1));
  });

  it('accepts headers from the devnet sealer (adapters/evm/devnet/sealer.ts)', async () => {
    const lc = await deployContract<LightClientContract>(
      'QbftLightClient',
      B.signer,
      A.chainId,
      valsA.addresses,
    );
    const n = await blockNumber(A);
    const parent = await getBlock(A.provider, n - 1);
    const sealed = sealQbftHeader(
      await getBlock(A.provider, n),
      parent.hash as string,
      valsA.addresses,
      valsA.keys,
      1n,
    );
    const rc = await (await lc.updateHeader(`0x${Buffer.from(sealed.rlp).toString('hex')}`)).wait();
    expect(lc.interface.parseLog(rc.logs[0])!.args.blockHash).toBe(sealed.header.hash);
  });

  it('test sealer matches the shared header encoding (qbftHeaderFromBlock + signSeal)', () => {
    const d = new Uint8Array(32).fill(7);
    expect(signSeal(d, valsA.keys[0]!)).toHaveLength(65);
    expect(() => qbftHeaderFromBlock({ parentHash: '0x' }, valsA.addresses)).toThrow(/missing/);
  });
});

describe('stateless header verification (verifyHeader, updateAndReceive)', () => {
  it('verifyHeader checks seals of the current set and stores nothing', async () => {
    const lc = await deployContract<LightClientContract>(
      'QbftLightClient',
      B.signer,
      A.chainId,
      valsA.addresses,
    );
    const n = await blockNumber(A);
    const s = await sealAnvilBlock(A.provider, n, { listed: valsA.addresses, signers: valsA.keys.slice(1) });
    const block = await getBlock(A.provider, n);
    const r = await lc.verifyHeader(s.rlp);
    expect(r.number).toBe(BigInt(n));
    expect(r[1]).toBe(block.stateRoot);
    expect(r[2]).toBe(block.receiptsRoot);
    expect(r[3]).toBe(BigInt(block.timestamp as string));
    expect(await lc.latestNumber()).toBe(0n);
    expect(await lc.stateRoot(n)).toBe(`0x${'00'.repeat(32)}`);
    // Same seal rules as updateHeader.
    const call = (rlp: string) => () => lc.verifyHeader.staticCall(rlp);
    expect(
      await revertOf(
        call(sealHeader(s.header, { listed: valsA.addresses, signers: valsA.keys.slice(0, 2) }).rlp),
      ),
    ).toEqual({
      name: 'BelowQuorum',
      args: [2n, 3n],
    });
    const outsiderSeal = sealHeader(s.header, {
      listed: valsA.addresses,
      signers: [...valsA.keys.slice(0, 2), outsider.keys[0]!],
    });
    expect((await revertOf(call(outsiderSeal.rlp))).name).toBe('NotValidator');
    const e = decodeQbftExtraData(Buffer.from((s.header.extraData as string).slice(2), 'hex'));
    e.seals = [e.seals[0]!, e.seals[1]!, e.seals[0]!];
    expect((await revertOf(call(reencode(s.header, e)))).name).toBe('DuplicateSeal');
    const forged = reencode(
      { ...s.header, stateRoot: keccak256('0x01') },
      decodeQbftExtraData(Buffer.from((s.header.extraData as string).slice(2), 'hex')),
    );
    expect((await revertOf(call(forged))).name).toBe('NotValidator');
    // A header listing another set (even sealed by the current set) must go through updateHeader.
    const next = testValidators('medrelay-test-hospital-stateless', 5);
    const rot = await sealAnvilBlock(A.provider, n, {
      listed: next.addresses,
      signers: valsA.keys.slice(0, 3),
    });
    expect(await revertOf(call(rot.rlp))).toEqual({ name: 'ValidatorSetChange', args: [BigInt(n)] });
    // No latestNumber rule: an older header of the current set's era still verifies after a stored update.
    await mine(A);
    await (
      await lc.updateHeader(
        (
          await sealAnvilBlock(A.provider, n + 1, {
            listed: valsA.addresses,
            signers: valsA.keys.slice(0, 3),
          })
        ).rlp,
      )
    ).wait();
    expect((await lc.verifyHeader(s.rlp)).number).toBe(BigInt(n));
  });

  it('a new set signs only headers above the one that installed it (BeforeValidatorSet)', async () => {
    const lc = await deployContract<LightClientContract>(
      'QbftLightClient',
      B.signer,
      A.chainId,
      valsA.addresses,
    );
    const next = testValidators('medrelay-test-hospital-since', 5);
    await mine(A, 3);
    const n = await blockNumber(A);
    await (
      await lc.updateHeader(
        (
          await sealAnvilBlock(A.provider, n - 1, { listed: next.addresses, signers: valsA.keys.slice(0, 3) })
        ).rlp,
      )
    ).wait();
    expect(await lc.validatorsSince()).toBe(BigInt(n - 1));
    for (const h of [n - 2, n - 1]) {
      const early = await sealAnvilBlock(A.provider, h, {
        listed: next.addresses,
        signers: next.keys.slice(0, 4),
      });
      expect(await revertOf(() => lc.verifyHeader.staticCall(early.rlp))).toEqual({
        name: 'BeforeValidatorSet',
        args: [BigInt(h), BigInt(n - 1)],
      });
    }
    const later = await sealAnvilBlock(A.provider, n, {
      listed: next.addresses,
      signers: next.keys.slice(1),
    });
    expect((await lc.verifyHeader(later.rlp)).number).toBe(BigInt(n));
    // The old set no longer verifies anything.
    const old = await sealAnvilBlock(A.provider, n, { listed: valsA.addresses, signers: valsA.keys });
    expect((await revertOf(() => lc.verifyHeader.staticCall(old.rlp))).name).toBe('ValidatorSetChange');
  });

  it('updateAndReceive with a header announcing a new set stores it and rotates (updateHeader path)', async () => {
    const lc = await deployContract<LightClientContract>(
      'QbftLightClient',
      B.signer,
      A.chainId,
      valsA.addresses,
    );
    const inbox = await deployContract<Endpoint['inbox']>('Inbox', B.signer);
    await (await inbox.registerRemote(A.chainId, await lc.getAddress(), await a.outbox.getAddress())).wait();
    const next = testValidators('medrelay-test-hospital-rotate', 5);
    await mine(A);
    const h = await blockNumber(A);
    const rot = await sealAnvilBlock(A.provider, h, {
      listed: next.addresses,
      signers: valsA.keys.slice(0, 3),
    });
    const x = await buildReceiveArgs(A.provider, a.outbox, channel, h, 1n, 2);
    const rc = await (
      await inbox.updateAndReceive(rot.rlp, x.height, x.accountProof, x.storageProof, x.packets, x.rangeProof)
    ).wait();
    expect(rc.status).toBe(1);
    expect(await lc.latestNumber()).toBe(BigInt(h));
    expect(await lc.epoch()).toBe(1n);
    expect((await lc.validators()).map((v: string) => v.toLowerCase())).toEqual(next.addresses);
    expect(await inbox.nextRecv(channel)).toBe(3n);
    // Errors other than a set change come back unchanged through the Inbox.
    await mine(A);
    const h2 = await blockNumber(A);
    const oldSet = await sealAnvilBlock(A.provider, h2, { listed: next.addresses, signers: valsA.keys });
    const y = await buildReceiveArgs(A.provider, a.outbox, channel, h2, 3n, 1);
    const r = await revertOf(() =>
      inbox.updateAndReceive.staticCall(
        oldSet.rlp,
        y.height,
        y.accountProof,
        y.storageProof,
        y.packets,
        y.rangeProof,
      ),
    );
    expect(r.name).toBe('NotValidator');
  });
});

interface BftFixture {
  name: string;
  kind: string;
  expected: 'accept' | 'reject';
  headerRlp: string;
  expectedHash?: string;
  validators: string[];
  forgery?: { kind: string };
}

describe('real Besu QBFT fixtures (shared/fixtures/consortium)', () => {
  const real = ['real/qbft/qbft-besu-qbft-elc-7528.json', 'real/qbft/qbft-firefly-evmconnect-58866.json'];
  for (const file of real) {
    it(`accepts ${file} and computes the Besu block hash`, async () => {
      const f = readFixture<BftFixture>(`consortium/${file}`);
      const lc = await deployContract<LightClientContract>('QbftLightClient', B.signer, 1n, f.validators);
      const rc = await (await lc.updateHeader(f.headerRlp)).wait();
      expect(lc.interface.parseLog(rc.logs[0])!.args.blockHash).toBe(f.expectedHash);
    });
  }

  it('rejects every forged QBFT-rules fixture', async () => {
    const { readdirSync } = await import('node:fs');
    const { fixturePath } = await import('../helpers/fixtures.js');
    const forged = readdirSync(fixturePath('consortium/forged'))
      .map((n) => readFixture<BftFixture>(`consortium/forged/${n}`))
      .filter((f) => f.kind === 'qbft');
    expect(forged.length).toBeGreaterThanOrEqual(19);
    const clients = new Map<string, LightClientContract>();
    for (const f of forged) {
      const key = f.validators.join(',');
      if (!clients.has(key))
        clients.set(
          key,
          await deployContract<LightClientContract>('QbftLightClient', B.signer, 1n, f.validators),
        );
      const r = await revertOf(() => clients.get(key)!.updateHeader.staticCall(f.headerRlp));
      expect(r.name, `${f.name} (${f.forgery?.kind})`).toMatch(
        /NotValidator|InvalidSeal|BelowQuorum|DuplicateSeal|RLPMalformed|InvalidHeader/,
      );
    }
  });
});
