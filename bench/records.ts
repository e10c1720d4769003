/**
 * Benchmark: record anchoring and selective disclosure on a typical ~50 KB FHIR Bundle
 * (test/helpers/fhir-fixtures.ts `bundleOfSize(50_000)`: Patient, Encounter, Conditions, Observations, …).
 *
 * Throughput rows (one op = hashing the whole Bundle once), measured round-robin in the same run:
 *  - `JSON.stringify` + SHA-256 — the baseline: hashing without canonicalization, which is not a usable anchor
 *    (key order and number spelling change the hash) but bounds what canonical hashing can cost;
 *  - RFC 8785 `canonicalize` + SHA-256 (node:crypto) — the anchor's record hash;
 *  - the same with @noble/hashes SHA-256 — why anchor.ts uses node:crypto;
 *  - `recordHash` — FHIR validation + JCS + SHA-256, the public API;
 *  - `buildDisclosureTree` — flatten, salt, leaf-hash and build the Merkle tree (the disclosure root).
 *
 * Disclosure rows: ABI calldata bytes of `verifyDisclosure(...)` (see `disclosureSize`) for 1, 5 and 20
 * disclosed elements — a clinical selection (codes first) and the median over random selections — plus the
 * multiproof shape and the TS verification time. Gas is measured on chain elsewhere.
 *
 * Run: `npx tsx bench/records.ts`, or `npm run bench -- --only records`.
 */
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { sha256 } from '@noble/hashes/sha2.js';
import { recordHash } from '../proofs/records/anchor.js';
import {
  buildDisclosureTree,
  disclose,
  disclosureSize,
  verifyDisclosure,
} from '../proofs/records/disclosure.js';
import { canonicalBytes, canonicalize } from '../proofs/records/jcs.js';
import { bundleOfSize } from '../test/helpers/fhir-fixtures.js';
import { rng } from '../test/helpers/random.js';

export interface ThroughputRow {
  name: string;
  anchorsPerSec: number;
  usPerOp: number;
  /** Time per op relative to the JSON.stringify + SHA-256 baseline (median of rounds). */
  ratio: number;
}

export interface DisclosureRow {
  disclosed: number;
  /** Calldata bytes for the clinical selection. */
  bytes: number;
  proofItems: number;
  proofFlags: number;
  /** Median calldata bytes over random selections of the same size. */
  randomMedianBytes: number;
  verifyUs: number;
}

export interface RecordsBenchResult {
  bundleBytes: number;
  canonicalBytes: number;
  elements: number;
  throughput: ThroughputRow[];
  disclosure: DisclosureRow[];
}

const ROUNDS = 5;
const ROUND_MS = 400;
const WARMUP_MS = 300;
const RANDOM_SELECTIONS = 25;

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1]!;
};

function measure(op: () => unknown, ms: number): number {
  const t0 = performance.now();
  let ops = 0;
  let sink = 0;
  for (;;) {
    const r = op() as Uint8Array | { root: string };
    sink ^= r instanceof Uint8Array ? r[0]! : r.root.length;
    ops++;
    const dt = performance.now() - t0;
    if (dt >= ms) {
      if (sink === -1) console.log(''); // keep the result alive
      return (ops / dt) * 1000;
    }
  }
}

function pick<T>(xs: readonly T[], k: number, seed: number): T[] {
  const r = rng(seed);
  const copy = [...xs];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = r.int(i + 1);
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy.slice(0, k);
}

export async function run(): Promise<RecordsBenchResult> {
  const bundle = bundleOfSize(50_000);
  const bundleBytes = Buffer.byteLength(JSON.stringify(bundle));

  // Correctness first: the rows must hash the same canonical bytes.
  const viaNode = createHash('sha256').update(canonicalBytes(bundle)).digest();
  if (Buffer.compare(viaNode, Buffer.from(sha256(canonicalBytes(bundle)))) !== 0)
    throw new Error('bench: sha256 mismatch');
  if (Buffer.compare(viaNode, Buffer.from(recordHash(bundle))) !== 0)
    throw new Error('bench: recordHash mismatch');

  const enc = new TextEncoder();
  const rows: { name: string; op: () => unknown; samples: number[] }[] = [
    {
      name: 'JSON.stringify + SHA-256 (baseline, not canonical)',
      op: () =>
        createHash('sha256')
          .update(enc.encode(JSON.stringify(bundle)))
          .digest(),
      samples: [],
    },
    {
      name: 'RFC 8785 canonicalize + SHA-256 (node:crypto)',
      op: () =>
        createHash('sha256')
          .update(enc.encode(canonicalize(bundle)))
          .digest(),
      samples: [],
    },
    {
      name: 'RFC 8785 canonicalize + SHA-256 (@noble/hashes)',
      op: () => sha256(enc.encode(canonicalize(bundle))),
      samples: [],
    },
    { name: 'recordHash (FHIR validation + JCS + SHA-256)', op: () => recordHash(bundle), samples: [] },
    {
      name: 'buildDisclosureTree (flatten + salts + Merkle root)',
      op: () => buildDisclosureTree(bundle),
      samples: [],
    },
  ];
  for (const r of rows) measure(r.op, WARMUP_MS);
  for (let round = 0; round < ROUNDS; round++) for (const r of rows) r.samples.push(measure(r.op, ROUND_MS));
  const base = median(rows[0]!.samples);
  const throughput = rows.map((r) => {
    const ops = median(r.samples);
    return { name: r.name, anchorsPerSec: ops, usPerOp: 1e6 / ops, ratio: base / ops };
  });

  const tree = buildDisclosureTree(bundle);
  const paths = tree.elements.map((e) => e.path);
  // Clinical selection: condition and observation codings first, then observation values, then the rest.
  const score = (p: string) =>
    /Condition\.code\.coding\[\d+\]\.code$/.test(p)
      ? 0
      : /Condition\.code\.coding\[\d+\]\.system$/.test(p)
        ? 1
        : /Observation\.code\.coding\[0\]\.code$/.test(p)
          ? 2
          : /Observation\.valueQuantity\.(value|unit)$/.test(p)
            ? 3
            : 4;
  const clinical = [...paths].sort((a, b) => score(a) - score(b) || a.localeCompare(b));
  const disclosure: DisclosureRow[] = [1, 5, 20].map((k) => {
    const d = disclose(tree, clinical.slice(0, k));
    verifyDisclosure(tree.root, d);
    const t0 = performance.now();
    let n = 0;
    while (performance.now() - t0 < 200) {
      verifyDisclosure(tree.root, d);
      n++;
    }
    const verifyUs = ((performance.now() - t0) * 1000) / n;
    const randomSizes = Array.from({ length: RANDOM_SELECTIONS }, (_, s) =>
      disclosureSize(disclose(tree, pick(paths, k, 1000 * k + s))),
    );
    return {
      disclosed: k,
      bytes: disclosureSize(d),
      proofItems: d.proof.length,
      proofFlags: d.proofFlags.length,
      randomMedianBytes: median(randomSizes),
      verifyUs,
    };
  });

  return {
    bundleBytes,
    canonicalBytes: canonicalBytes(bundle).length,
    elements: tree.elements.length,
    throughput,
    disclosure,
  };
}

export function toMarkdown(result: RecordsBenchResult): string {
  const n = (x: number) => Math.round(x).toLocaleString('en-US');
  const lines = [
    `Bundle: ${n(result.bundleBytes)} B JSON, ${n(result.canonicalBytes)} B canonical, ${n(result.elements)} disclosable elements.`,
    '',
    '| operation (one ~50 KB Bundle) | anchors/s | µs/op | × baseline time |',
    '|---|---:|---:|---:|',
    ...result.throughput.map(
      (r) => `| ${r.name} | ${n(r.anchorsPerSec)} | ${r.usPerOp.toFixed(1)} | ${r.ratio.toFixed(2)} |`,
    ),
    '',
    '| disclosed elements | calldata bytes (clinical selection) | proof items | proof flags | calldata bytes (median of random selections) | TS verify µs |',
    '|---:|---:|---:|---:|---:|---:|',
    ...result.disclosure.map(
      (r) =>
        `| ${r.disclosed} | ${n(r.bytes)} | ${r.proofItems} | ${r.proofFlags} | ${n(r.randomMedianBytes)} | ${r.verifyUs.toFixed(0)} |`,
    ),
  ];
  return lines.join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  console.log(toMarkdown(await run()));
}
