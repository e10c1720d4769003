/**
 * Benchmark: MPT proof verification on the 38 real mainnet receipt proofs of
 * `../shared/fixtures/evm/proofs/receipts-mainnet.json`.
 *
 * Rows (one op = verifying, or hashing the nodes of, one proof; proofs are cycled):
 *  - raw keccak of every proof node with @noble/hashes — the baseline: no verifier can do less work;
 *  - raw keccak with hash-wasm (WASM);
 *  - medrelay `verifyProof` with the default (noble) keccak and with hash-wasm's keccak plugged in;
 *  - @ethereumjs/mpt `verifyMPTWithMerkleProof` (loads nodes into a hash→node DB, then walks it; async).
 *
 * Run: `npx tsx bench/verify-proof.ts`. `run()` returns the rows for a bench runner.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createMPT, verifyMPTWithMerkleProof } from '@ethereumjs/mpt';
import { keccak_256 } from '@noble/hashes/sha3.js';
import { createKeccak } from 'hash-wasm';
import { bigintToBytes, bytesToHex, hexToBytes } from '../proofs/bytes.js';
import { type TrieHasher, verifyProof } from '../proofs/mpt.js';
import { encode } from '../proofs/rlp.js';

export interface BenchRow {
  name: string;
  opsPerSec: number;
  usPerOp: number;
  /** Time per op relative to the raw-noble-keccak baseline (1.00 = as fast as hashing the nodes). Median of rounds. */
  ratio: number;
}

interface Case {
  root: Uint8Array;
  key: Uint8Array;
  proof: Uint8Array[];
  expected: string;
}

interface ReceiptsFixture {
  blocks: { receiptsRoot: string; proofs: { index: number; receipt: string; proof: string[] }[] }[];
}

const FIXTURE = fileURLToPath(
  new URL('../../shared/fixtures/evm/proofs/receipts-mainnet.json', import.meta.url),
);

function loadCases(): Case[] {
  const fx = JSON.parse(readFileSync(FIXTURE, 'utf8')) as ReceiptsFixture;
  return fx.blocks.flatMap((b) =>
    b.proofs.map((p) => ({
      root: hexToBytes(b.receiptsRoot),
      key: encode(bigintToBytes(BigInt(p.index))),
      proof: p.proof.map((n) => hexToBytes(n)),
      expected: p.receipt,
    })),
  );
}

/** Rows are measured round-robin in short rounds, so load from other processes hits all rows alike. */
const ROUNDS = 5;
const ROUND_MS = 500; // ROUNDS × ROUND_MS ≥ 2 s per row
const WARMUP_MS = 300;

type Op = (i: number) => unknown;

/** ops/s of `op` over ≥ `ms`; the clock is read every `batch` ops to keep timer cost out of the loop. */
async function measure(op: Op, n: number, ms: number, isAsync: boolean): Promise<number> {
  const batch = isAsync ? 32 : 256;
  const t0 = performance.now();
  let ops = 0;
  let sink = 0;
  for (;;) {
    if (isAsync) for (let b = 0; b < batch; b++, ops++) sink ^= (await op(ops % n)) ? 1 : 0;
    else for (let b = 0; b < batch; b++, ops++) sink ^= op(ops % n) ? 1 : 0;
    const dt = performance.now() - t0;
    if (dt >= ms) {
      if (sink === 2) console.log(''); // consume results so the JIT cannot drop the work
      return (ops / dt) * 1000;
    }
  }
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1]!;
};

export async function run(): Promise<BenchRow[]> {
  const cases = loadCases();
  const n = cases.length;
  const wasm = await createKeccak(256);
  const wasmKeccak: TrieHasher = (d) => {
    wasm.init();
    wasm.update(d);
    return wasm.digest('binary');
  };
  const ejsTrie = await createMPT();

  // Correctness first: a fast wrong verifier is worth nothing.
  for (const c of cases) {
    const a = verifyProof(c.root, c.key, c.proof);
    const b = verifyProof(c.root, c.key, c.proof, { hasher: wasmKeccak });
    const e = await verifyMPTWithMerkleProof(ejsTrie, c.root, c.key, c.proof);
    for (const v of [a, b, e]) {
      if (!v || bytesToHex(v) !== c.expected) throw new Error('bench: a verifier returned the wrong receipt');
    }
  }

  const hashAll =
    (h: TrieHasher): Op =>
    (i) => {
      let last: Uint8Array | undefined;
      for (const node of cases[i]!.proof) last = h(node);
      return last;
    };
  const rows: { name: string; op: Op; isAsync: boolean; samples: number[] }[] = [
    { name: 'raw keccak, @noble/hashes (baseline)', op: hashAll(keccak_256), isAsync: false, samples: [] },
    { name: 'raw keccak, hash-wasm', op: hashAll(wasmKeccak), isAsync: false, samples: [] },
    {
      name: 'medrelay verifyProof (noble keccak)',
      op: (i) => verifyProof(cases[i]!.root, cases[i]!.key, cases[i]!.proof),
      isAsync: false,
      samples: [],
    },
    {
      name: 'medrelay verifyProof (hash-wasm keccak)',
      op: (i) => verifyProof(cases[i]!.root, cases[i]!.key, cases[i]!.proof, { hasher: wasmKeccak }),
      isAsync: false,
      samples: [],
    },
    {
      name: '@ethereumjs/mpt verifyMPTWithMerkleProof',
      op: (i) => verifyMPTWithMerkleProof(ejsTrie, cases[i]!.root, cases[i]!.key, cases[i]!.proof),
      isAsync: true,
      samples: [],
    },
  ];
  for (const r of rows) await measure(r.op, n, WARMUP_MS, r.isAsync);
  for (let round = 0; round < ROUNDS; round++) {
    for (const r of rows) r.samples.push(await measure(r.op, n, ROUND_MS, r.isAsync));
  }
  const base = median(rows[0]!.samples);
  return rows.map((r) => {
    const ops = median(r.samples);
    return { name: r.name, opsPerSec: ops, usPerOp: 1e6 / ops, ratio: base / ops };
  });
}

export function toMarkdown(rows: readonly BenchRow[]): string {
  const lines = [
    '| verifier (38 mainnet receipt proofs) | ops/s | µs/op | × baseline time |',
    '|---|---:|---:|---:|',
  ];
  for (const r of rows) {
    lines.push(
      `| ${r.name} | ${Math.round(r.opsPerSec).toLocaleString('en-US')} | ${r.usPerOp.toFixed(2)} | ${r.ratio.toFixed(2)} |`,
    );
  }
  return lines.join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const cases = loadCases();
  const nodes = cases.reduce((s, c) => s + c.proof.length, 0);
  const bytes = cases.reduce((s, c) => s + c.proof.reduce((t, p) => t + p.length, 0), 0);
  console.log(`${cases.length} proofs, ${nodes} nodes, ${bytes} bytes; node ${process.version}\n`);
  console.log(toMarkdown(await run()));
}
