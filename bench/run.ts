/**
 * `npm run bench`: runs every benchmark module in bench/ that exports `run()`, prints each one's table and writes
 * it into docs/benchmarks.md between `<!-- bench:NAME:start -->` and `<!-- bench:NAME:end -->`, leaving the rest
 * of the document (and the sections of benchmarks not run this time) as they are.
 *
 *   npm run bench                      # all of them
 *   npm run bench -- --only e2e        # only bench/e2e.ts (comma-separate several names)
 *   npm run bench -- --no-write        # print only
 *
 * A module renders itself with an exported `toMarkdown(result)`; without one, an array of flat rows becomes a
 * table and anything else a JSON block. A module that is missing or fails is skipped with a note, so one broken
 * benchmark does not cost the others' numbers.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
const DOC = join(BENCH_DIR, '..', 'docs', 'benchmarks.md');

/** Benchmarks the project expects; a missing one is reported rather than silently absent. */
export const EXPECTED = ['verify-proof', 'gas', 'e2e'] as const;

export interface BenchModule {
  run(): Promise<unknown>;
  toMarkdown?(result: never): string;
}

export interface BenchOutcome {
  name: string;
  status: 'ok' | 'failed' | 'missing';
  /** Rendered section body (ok only). */
  markdown?: string;
  /** Why it was skipped. */
  note?: string;
  seconds: number;
}

/**
 * Bench module names in `dir`: `*.ts` files (not `run.ts`, not `_scratch.ts` files, not `.d.ts`) whose source
 * exports a `run`. The check is textual on purpose: importing a module to find out would execute scratch scripts
 * that do their work at top level.
 */
export function discover(dir: string = BENCH_DIR): string[] {
  const exportsRun =
    /export\s+(async\s+)?function\s+run\s*\(|export\s+const\s+run\s*[:=]|export\s*\{[^}]*\brun\b[^}]*\}/;
  return readdirSync(dir)
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts') && !f.startsWith('_') && f !== 'run.ts')
    .filter((f) => exportsRun.test(readFileSync(join(dir, f), 'utf8')))
    .map((f) => basename(f, '.ts'))
    .sort();
}

const isBenchModule = (m: unknown): m is BenchModule =>
  typeof m === 'object' && m !== null && typeof (m as { run?: unknown }).run === 'function';

const cell = (v: unknown): string => {
  if (typeof v === 'number') return Number.isInteger(v) ? v.toLocaleString('en-US') : v.toPrecision(4);
  if (typeof v === 'object' && v !== null) return JSON.stringify(v).replace(/\|/g, '\\|');
  return String(v ?? '').replace(/\|/g, '\\|');
};

/** Fallback rendering for modules without `toMarkdown`. */
export function genericMarkdown(result: unknown): string {
  if (
    Array.isArray(result) &&
    result.length > 0 &&
    result.every((r) => typeof r === 'object' && r !== null)
  ) {
    const rows = result as Record<string, unknown>[];
    const cols = [...new Set(rows.flatMap((r) => Object.keys(r)))];
    return [
      `| ${cols.join(' | ')} |`,
      `|${cols.map(() => '---').join('|')}|`,
      ...rows.map((r) => `| ${cols.map((c) => cell(r[c])).join(' | ')} |`),
    ].join('\n');
  }
  return [
    '```json',
    JSON.stringify(result, (_, v) => (typeof v === 'bigint' ? v.toString() : v), 2),
    '```',
  ].join('\n');
}

export async function runOne(name: string, dir: string = BENCH_DIR): Promise<BenchOutcome> {
  const file = join(dir, `${name}.ts`);
  const t0 = performance.now();
  const seconds = () => (performance.now() - t0) / 1000;
  if (!existsSync(file)) return { name, status: 'missing', note: `bench/${name}.ts not present`, seconds: 0 };
  try {
    const mod: unknown = await import(pathToFileURL(file).href);
    if (!isBenchModule(mod))
      return { name, status: 'missing', note: `bench/${name}.ts exports no run()`, seconds: 0 };
    const result = await mod.run();
    const markdown = mod.toMarkdown
      ? (mod.toMarkdown as (r: unknown) => string)(result)
      : genericMarkdown(result);
    return { name, status: 'ok', markdown, seconds: seconds() };
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    return { name, status: 'failed', note: `bench/${name}.ts failed: ${msg}`, seconds: seconds() };
  }
}

export interface MachineInfo {
  cpu: string;
  cores: number;
  memoryGiB: number;
  node: string;
}

export function machine(): MachineInfo {
  const list = cpus();
  return {
    cpu: list[0]?.model.trim() ?? 'unknown CPU',
    cores: list.length,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
  };
}

const machineText = (m: MachineInfo) => `${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB RAM, Node ${m.node}`;

/** The document written when docs/benchmarks.md does not exist yet. */
export function intro(m: MachineInfo, command: string, date: string): string {
  return [
    '# medrelay benchmarks',
    '',
    'Numbers written by `npm run bench` (bench/run.ts); each section below is replaced between its markers when its',
    'benchmark runs again, and everything outside the markers is left alone.',
    '',
    '- **verify-proof**: MPT proof verification (medrelay `verifyProof` vs @ethereumjs/mpt) on real mainnet receipt',
    '  proofs, relative to hashing the proof nodes.',
    '- **gas**: destination gas per packet of `Inbox.updateAndReceive` (light-client update + proofs + N packets).',
    '- **e2e**: end-to-end packets/s and latency (p50, p99) of the relayer on the devnet, against raw BullMQ',
    '  throughput measured in the same run on the same Redis.',
    '',
    'The machines these run on are small and shared, so absolute numbers move from run to run; compare the ratios',
    'to the baseline each benchmark measures in the same run.',
    '',
    `First written ${date} on ${machineText(m)}, with \`${command}\`. Each section carries its own date and machine.`,
    '',
  ].join('\n');
}

/**
 * Puts `body` between the markers of `name` in `doc`: replaced in place when the markers exist, otherwise
 * appended as a new `## name` section. Text outside the markers is kept byte for byte.
 */
export function updateSection(doc: string, name: string, body: string): string {
  const start = `<!-- bench:${name}:start -->`;
  const end = `<!-- bench:${name}:end -->`;
  const block = `${start}\n${body.trim()}\n${end}`;
  const i = doc.indexOf(start);
  const j = i < 0 ? -1 : doc.indexOf(end, i + start.length);
  if (i >= 0 && j >= 0) return doc.slice(0, i) + block + doc.slice(j + end.length);
  const sep = doc.length === 0 || doc.endsWith('\n\n') ? '' : doc.endsWith('\n') ? '\n' : '\n\n';
  return `${doc}${sep}## ${name}\n\n${block}\n`;
}

export function sectionBody(o: BenchOutcome, m: MachineInfo, command: string, date: string): string {
  return [
    `_${date}, ${machineText(m)}, \`${command}\` (${o.seconds.toFixed(0)} s)._`,
    '',
    o.markdown ?? '',
  ].join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      only: { type: 'string' },
      'no-write': { type: 'boolean', default: false },
    },
  });
  const found = discover();
  const wanted = values.only
    ? values.only
        .split(',')
        .map((s) => s.trim().replace(/\.ts$/, ''))
        .filter(Boolean)
    : [...new Set([...EXPECTED, ...found])];
  const command = values.only ? `npm run bench -- --only ${wanted.join(',')}` : 'npm run bench';
  const m = machine();
  const date = `${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC`;
  const say = (s: string) => process.stdout.write(`${s}\n`);

  const outcomes: BenchOutcome[] = [];
  for (const name of wanted) {
    process.stderr.write(`bench: ${name}\n`);
    const o = await runOne(name);
    outcomes.push(o);
    if (o.status === 'ok') say(`\n## ${name} (${o.seconds.toFixed(0)} s)\n\n${o.markdown}\n`);
    else say(`\n## ${name}: skipped — ${o.note}\n`);
  }

  const ok = outcomes.filter((o) => o.status === 'ok');
  if (!values['no-write'] && ok.length > 0) {
    let doc = existsSync(DOC) ? readFileSync(DOC, 'utf8') : intro(m, command, date);
    for (const o of ok) doc = updateSection(doc, o.name, sectionBody(o, m, command, date));
    writeFileSync(DOC, doc);
    say(`wrote ${ok.map((o) => o.name).join(', ')} to docs/benchmarks.md`);
  }
  const skipped = outcomes.filter((o) => o.status !== 'ok');
  for (const o of skipped) say(`note: ${o.note}`);
  // Only a failure is an error: a benchmark not written yet is expected while others work on it.
  if (outcomes.some((o) => o.status === 'failed')) process.exitCode = 1;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().then(
    // Benchmarks leave pooled sockets and timers behind (ethers, ioredis); exit rather than wait on them.
    () => process.exit(process.exitCode ?? 0),
    (err: unknown) => {
      process.stderr.write(`bench failed: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
}
