/**
 * Compiles every `.sol` under adapters/evm/contracts/ with the npm `solc` package (standard JSON) and writes
 * `build/<ContractName>.json` = { abi, bytecode }. Skips the compile when neither the sources, the compiler version
 * nor the settings changed (their hash is kept in build/.sources-hash), so `npm test` (pretest) stays fast.
 * Fails with solc's formatted messages on any error.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import solc from 'solc';

const CONTRACTS_DIR = dirname(fileURLToPath(import.meta.url));
export const BUILD_DIR = join(CONTRACTS_DIR, 'build');
const HASH_FILE = join(BUILD_DIR, '.sources-hash');

const SETTINGS = {
  evmVersion: 'cancun',
  viaIR: true,
  optimizer: { enabled: true, runs: 10_000 },
  outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object'] } },
} as const;

interface SolcMessage {
  severity: 'error' | 'warning' | 'info';
  formattedMessage?: string;
  message: string;
}

interface SolcOutput {
  errors?: SolcMessage[];
  contracts?: Record<string, Record<string, { abi: unknown[]; evm: { bytecode: { object: string } } }>>;
}

/** All .sol files under the contracts dir (build/ excluded), as solc source unit names ("lib/RLPReader.sol"). */
function sourceUnits(): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = join(dir, entry.name);
      if (entry.isDirectory()) {
        if (full !== BUILD_DIR && entry.name !== 'node_modules') walk(full);
      } else if (entry.name.endsWith('.sol')) {
        out.push(relative(CONTRACTS_DIR, full).split(sep).join('/'));
      }
    }
  };
  walk(CONTRACTS_DIR);
  return out.sort();
}

/** Resolves imports that were not passed as sources, inside the contracts dir only. */
function findImports(path: string): { contents: string } | { error: string } {
  const full = resolve(CONTRACTS_DIR, path);
  if (!full.startsWith(CONTRACTS_DIR + sep) || !existsSync(full))
    return { error: `import not found: ${path}` };
  return { contents: readFileSync(full, 'utf8') };
}

function sourcesHash(sources: Record<string, { content: string }>): string {
  const h = createHash('sha256');
  h.update(solc.version());
  h.update(JSON.stringify(SETTINGS));
  for (const [name, { content }] of Object.entries(sources)) h.update(`${name}\0${content}\0`);
  return h.digest('hex');
}

export interface BuildResult {
  compiled: boolean;
  contracts: string[];
}

/** Compiles if needed; returns the names of the written artifacts. Throws with solc's messages on error. */
export function build(options: { force?: boolean; quiet?: boolean } = {}): BuildResult {
  const sources: Record<string, { content: string }> = {};
  for (const unit of sourceUnits())
    sources[unit] = { content: readFileSync(join(CONTRACTS_DIR, unit), 'utf8') };
  const hash = sourcesHash(sources);
  if (!options.force && existsSync(HASH_FILE) && readFileSync(HASH_FILE, 'utf8').trim() === hash) {
    const names = readdirSync(BUILD_DIR)
      .filter((f) => f.endsWith('.json'))
      .map((f) => f.slice(0, -5));
    return { compiled: false, contracts: names };
  }

  const input = { language: 'Solidity', sources, settings: SETTINGS };
  const output = JSON.parse(solc.compile(JSON.stringify(input), { import: findImports })) as SolcOutput;
  const messages = output.errors ?? [];
  const errors = messages.filter((m) => m.severity === 'error');
  if (errors.length > 0) {
    throw new Error(`solc failed:\n${errors.map((e) => e.formattedMessage ?? e.message).join('\n')}`);
  }
  if (!options.quiet) {
    for (const w of messages.filter((m) => m.severity === 'warning'))
      console.warn(w.formattedMessage ?? w.message);
  }

  rmSync(BUILD_DIR, { recursive: true, force: true });
  mkdirSync(BUILD_DIR, { recursive: true });
  const written = new Map<string, string>();
  for (const [unit, contracts] of Object.entries(output.contracts ?? {})) {
    for (const [name, c] of Object.entries(contracts)) {
      const previous = written.get(name);
      if (previous) throw new Error(`contract name ${name} defined in both ${previous} and ${unit}`);
      written.set(name, unit);
      const artifact = {
        contractName: name,
        sourceName: unit,
        abi: c.abi,
        bytecode: `0x${c.evm.bytecode.object}`,
      };
      writeFileSync(join(BUILD_DIR, `${name}.json`), `${JSON.stringify(artifact, null, 2)}\n`);
    }
  }
  writeFileSync(HASH_FILE, `${hash}\n`);
  return { compiled: true, contracts: [...written.keys()].sort() };
}

const isMain = process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  try {
    const started = Date.now();
    const res = build({ force: process.argv.includes('--force') });
    console.log(
      res.compiled
        ? `compiled ${res.contracts.length} contracts with solc ${solc.version()} in ${Date.now() - started} ms`
        : 'contracts up to date (sources unchanged)',
    );
  } catch (err) {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  }
}
