import { hexlify, randomBytes } from 'ethers';
import { blockNumber, stopChain } from '../test/helpers/chain.js';
import { spawn } from 'node:child_process';
import { JsonRpcProvider } from 'ethers';
import { anvilBinary, freePort } from '../adapters/evm/devnet/anvil.js';
async function startChain(id: number) {
  const port = await freePort();
  const child = spawn(anvilBinary(), ['--chain-id', String(id), '--port', String(port), '--steps-tracing', '--silent'], { stdio: 'inherit' });
  await new Promise((r) => setTimeout(r, 2500));
  const provider = new JsonRpcProvider(`http://127.0.0.1:${port}`, id, { staticNetwork: true, pollingInterval: 50 });
  return { anvil: { stop: async () => { child.kill(); } } as never, provider, signer: await provider.getSigner(0), chainId: BigInt(id) };
}
import { deployRelayContracts, openChannel } from '../test/helpers/deploy.js';
import { sealAnvilBlock, testValidators } from '../test/helpers/qbft-seal.js';
import { buildReceiveArgs } from '../test/helpers/relay.js';
const cd = (hex: string) => { const b = Buffer.from(hex.slice(2), 'hex'); let g = 0; for (const x of b) g += x ? 16 : 4; return { bytes: b.length, gas: g }; };
const [A, B] = await Promise.all([startChain(73001), startChain(73002)]);
try {
  const vA = testValidators('x'), vB = testValidators('y');
  const { a, b } = await deployRelayContracts({ signer: A.signer, chainId: A.chainId, validators: vA.addresses }, { signer: B.signer, chainId: B.chainId, validators: vB.addresses });
  const ch = await openChannel(a, 'p', B.chainId);
  const recv = await b.noop.getAddress();
  for (let i = 0; i < 33; i++) await (await a.outbox.sendPacket(ch, recv, 0, 0, 1, hexlify(randomBytes(192)))).wait();
  const h = await blockNumber(A);
  const hdr = (await sealAnvilBlock(A.provider, h, { listed: vA.addresses, signers: vA.keys.slice(0, 3) })).rlp;
  await (await b.lightClient.updateHeader(hdr)).wait();
  for (const n of [1, 32]) {
    const x = await buildReceiveArgs(A.provider, a.outbox, ch, h, n === 1 ? 1n : 2n, n);
    console.log('acct', x.accountProof.map((p) => (p.length - 2) / 2), 'stor', x.storageProof.map((p) => (p.length - 2) / 2), 'range', x.rangeProof.length);
    const data = b.inbox.interface.encodeFunctionData('receivePackets', [x.height, x.accountProof, x.storageProof, x.packets, x.rangeProof]);
    const c = cd(data);
    const proofsOnly = cd(b.inbox.interface.encodeFunctionData('receivePackets', [x.height, x.accountProof, x.storageProof, [], x.rangeProof]));
    const rc = await (await b.inbox.receivePackets(x.height, x.accountProof, x.storageProof, x.packets, x.rangeProof)).wait();
    if (n === 1) {
      const t = await B.provider.send('debug_traceTransaction', [rc.hash, {}]);
      const logs = (t.structLogs ?? []) as { op: string; gasCost: number; depth: number; pc: number }[];
      const agg: Record<string, number> = {};
      for (const l of logs) agg[`${l.depth}:${l.op}`] = (agg[`${l.depth}:${l.op}`] ?? 0) + l.gasCost;
      console.log(Object.entries(agg).sort((x, y) => y[1] - x[1]).slice(0, 25), 'steps', logs.length);
      const big = logs.filter((l) => l.gasCost > 1000).map((l) => `${l.op}@${l.pc}:${l.gasCost}`);
      console.log(big.join(' '));
    }
    console.log({ n, gas: Number(rc.gasUsed), calldata: c, exec: Number(rc.gasUsed) - 21000 - c.gas, proofCalldata: proofsOnly });
  }
  const hd = cd(hdr); console.log('header calldata', hd);
} finally { await Promise.all([stopChain(A), stopChain(B)]); }
