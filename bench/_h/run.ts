import { readFileSync } from 'node:fs';
import solc from 'solc';
import { ContractFactory, hexlify, randomBytes, keccak256 } from 'ethers';
import { blockNumber, startChain, stopChain } from '../../test/helpers/chain.js';
import { deployRelayContracts, openChannel } from '../../test/helpers/deploy.js';
import { testValidators } from '../../test/helpers/qbft-seal.js';
import { buildReceiveArgs, mappingSlot } from '../../test/helpers/relay.js';
const input = { language: 'Solidity', sources: { 'bench/_h/H.sol': { content: readFileSync('bench/_h/H.sol', 'utf8') } }, settings: { evmVersion: 'cancun', viaIR: true, optimizer: { enabled: true, runs: 10000 }, outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object'] } } } };
const out = JSON.parse(solc.compile(JSON.stringify(input), { import: (p: string) => ({ contents: readFileSync(p, 'utf8') }) }));
if (out.errors?.some((e: any) => e.severity === 'error')) { console.log(out.errors); process.exit(1); }
const c = out.contracts['bench/_h/H.sol'].H;
const [A, B] = await Promise.all([startChain(74001), startChain(74002)]);
try {
  const vA = testValidators('x'), vB = testValidators('y');
  const { a, b } = await deployRelayContracts({ signer: A.signer, chainId: A.chainId, validators: vA.addresses }, { signer: B.signer, chainId: B.chainId, validators: vB.addresses });
  const ch = await openChannel(a, 'p', B.chainId);
  for (let i = 0; i < 3; i++) await (await a.outbox.sendPacket(ch, a.outbox.target, 0, 0, 1, hexlify(randomBytes(192)))).wait();
  const h = await blockNumber(A);
  const x = await buildReceiveArgs(A.provider, a.outbox, ch, h, 1n, 1);
  const blk = await A.provider.send('eth_getBlockByNumber', [`0x${h.toString(16)}`, false]);
  const hc: any = await new ContractFactory(c.abi, c.evm.bytecode.object, A.signer).deploy(); await hc.waitForDeployment();
  console.log('sp', await hc.sp(blk.stateRoot, a.outbox.target, mappingSlot(ch, 0n), x.accountProof, x.storageProof));
  console.log('acct', await hc.acct(blk.stateRoot, a.outbox.target, x.accountProof));
  const ids = [keccak256('0x01')];
  console.log('rr', await hc.rr(0, ids, x.rangeProof));
  const l32 = Array.from({ length: 32 }, (_, i) => keccak256(`0x${(i + 1).toString(16).padStart(2, '0')}`));
  console.log('ab1', await hc.ab.staticCall(5, ids), 'ab32', await hc.ab.staticCall(37, l32));
} finally { await Promise.all([stopChain(A), stopChain(B)]); }
