/**
 * Benchmark: FHIR R4 Consent evaluation (proofs/consent/) on the seed consents and the seed request table of
 * proofs/consent/seeds.ts (the same cases the unit tests pin: permits and denies of every kind).
 *
 * Rows (one op = one request, cycling through the cases of the row):
 *  - baseline: `JSON.parse(JSON.stringify(request))` of the same requests — a copy of the request, the least
 *    any code that looks at every field of it must do. Measured in the same run, round-robin with the others;
 *  - `evaluateConsent` on the whole mix, on the permits only and on the denies only (a parsed consent);
 *  - `parseConsent` + `evaluateConsent`: the consent arrives as untrusted JSON with every request;
 *  - `evaluateConsent` with the ConceptMap matcher (`conceptMapMatcher(SEED_CODE_MAP)`) on the mix;
 *  - `consentHash` (RFC 8785 + SHA-256) of a seed consent.
 *
 * Run: `npx tsx bench/consent.ts`. `run()` returns the rows for bench/run.ts.
 */
import { fileURLToPath } from 'node:url';
import { parseConsent } from '../proofs/consent/consent.js';
import {
  type ConsentDecision,
  conceptMapMatcher,
  consentHash,
  type EvaluateOptions,
  evaluateConsent,
} from '../proofs/consent/evaluate.js';
import { type SeedCase, seedCases, seedConsents } from '../proofs/consent/seeds.js';
import { SEED_CODE_MAP } from '../proofs/records/conceptmap.js';

export interface BenchRow {
  name: string;
  /** Requests in the row's cycle. */
  cases: number;
  opsPerSec: number;
  usPerOp: number;
  /** Time per op relative to the JSON round-trip baseline (1.00 = as fast as copying the request). Median of rounds. */
  ratio: number;
}

const ROUNDS = 5;
const ROUND_MS = 400; // ROUNDS × ROUND_MS = 2 s per row
const WARMUP_MS = 300;

type Op = (i: number) => unknown;

/** ops/s of `op` over ≥ `ms`; the clock is read every 256 ops to keep timer cost out of the loop. */
function measure(op: Op, n: number, ms: number): number {
  const t0 = performance.now();
  let ops = 0;
  let sink = 0;
  for (;;) {
    for (let b = 0; b < 256; b++, ops++) sink ^= op(ops % n) ? 1 : 0;
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
  const consents = seedConsents();
  const cases = seedCases();
  const mapOpts = (c: SeedCase): EvaluateOptions => ({
    codeMatcher: conceptMapMatcher(SEED_CODE_MAP),
    ...c.opts,
  });

  // Correctness first: every case must get the decision the tests pin, with each option set benchmarked.
  const check = (c: SeedCase, d: ConsentDecision, how: string) => {
    if (d.decision !== c.expect.decision || d.code !== c.expect.code) {
      throw new Error(`bench: ${c.name} (${how}) gave ${d.code}, expected ${c.expect.code}`);
    }
  };
  const raw = Object.fromEntries(
    Object.entries(consents).map(([k, v]) => [k, JSON.parse(JSON.stringify(v))]),
  );
  for (const c of cases) {
    check(c, evaluateConsent(consents[c.consent], c.request, c.opts), 'parsed');
    check(c, evaluateConsent(parseConsent(raw[c.consent]), c.request, c.opts), 'parse + evaluate');
    check(c, evaluateConsent(consents[c.consent], c.request, mapOpts(c)), 'ConceptMap matcher');
  }
  const permits = cases.filter((c) => c.expect.decision === 'permit');
  const denies = cases.filter((c) => c.expect.decision === 'deny');
  const mapped = cases.map(mapOpts);
  const hashed = Object.values(consents);

  const evalOf =
    (list: SeedCase[]): Op =>
    (i) => {
      const c = list[i]!;
      return evaluateConsent(consents[c.consent], c.request, c.opts).decision === 'permit';
    };
  const rows: { name: string; n: number; op: Op; samples: number[] }[] = [
    {
      name: 'baseline: JSON.parse(JSON.stringify(request))',
      n: cases.length,
      op: (i) => JSON.parse(JSON.stringify(cases[i]!.request)),
      samples: [],
    },
    { name: 'evaluateConsent, seed mix', n: cases.length, op: evalOf(cases), samples: [] },
    { name: 'evaluateConsent, permits only', n: permits.length, op: evalOf(permits), samples: [] },
    { name: 'evaluateConsent, denies only', n: denies.length, op: evalOf(denies), samples: [] },
    {
      name: 'parseConsent + evaluateConsent, seed mix',
      n: cases.length,
      op: (i) => {
        const c = cases[i]!;
        return evaluateConsent(parseConsent(raw[c.consent]), c.request, c.opts).decision === 'permit';
      },
      samples: [],
    },
    {
      name: 'evaluateConsent + ConceptMap matcher, seed mix',
      n: cases.length,
      op: (i) => {
        const c = cases[i]!;
        return evaluateConsent(consents[c.consent], c.request, mapped[i]).decision === 'permit';
      },
      samples: [],
    },
    {
      name: 'consentHash (JCS + SHA-256)',
      n: hashed.length,
      op: (i) => consentHash(hashed[i]!),
      samples: [],
    },
  ];
  for (const r of rows) measure(r.op, r.n, WARMUP_MS);
  for (let round = 0; round < ROUNDS; round++) {
    for (const r of rows) r.samples.push(measure(r.op, r.n, ROUND_MS));
  }
  const base = median(rows[0]!.samples);
  return rows.map((r) => {
    const ops = median(r.samples);
    return { name: r.name, cases: r.n, opsPerSec: ops, usPerOp: 1e6 / ops, ratio: base / ops };
  });
}

export function toMarkdown(rows: readonly BenchRow[]): string {
  const lines = [
    '| operation (seed consents of proofs/consent/seeds.ts) | cases | ops/s | µs/op | × baseline time |',
    '|---|---:|---:|---:|---:|',
  ];
  for (const r of rows) {
    lines.push(
      `| ${r.name} | ${r.cases} | ${Math.round(r.opsPerSec).toLocaleString('en-US')} | ${r.usPerOp.toFixed(2)} | ${r.ratio.toFixed(2)} |`,
    );
  }
  lines.push(
    '',
    'Baseline: `JSON.parse(JSON.stringify(request))` of the same requests, measured round-robin in the same run.',
  );
  return lines.join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const cases = seedCases();
  const permits = cases.filter((c) => c.expect.decision === 'permit').length;
  console.log(
    `${cases.length} requests (${permits} permit, ${cases.length - permits} deny); node ${process.version}\n`,
  );
  console.log(toMarkdown(await run()));
}
