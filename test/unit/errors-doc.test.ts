/**
 * Keeps docs/errors.md in sync with the code (fastify's errors test does the same for FST_ERR_*): every
 * `'MR_ERR_…'` literal under proofs/, adapters/, relayer/ and config/ must have a row in the doc.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = new URL('../../', import.meta.url).pathname;
const DIRS = ['proofs', 'adapters', 'relayer', 'config'];
const CODE_RE = /(startsWith\(\s*)?['"`](MR_ERR_[A-Z0-9_]+)['"`]/g;

function tsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.name === 'node_modules' || e.name === 'build') continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...tsFiles(p));
    else if (e.name.endsWith('.ts')) out.push(p);
  }
  return out;
}

/** code → first file using it. Prefix checks (`code.startsWith('MR_ERR_HEADER')`) are families, not codes. */
function codesInSource(): Map<string, string> {
  const codes = new Map<string, string>();
  for (const dir of DIRS) {
    for (const file of tsFiles(join(ROOT, dir))) {
      for (const m of readFileSync(file, 'utf8').matchAll(CODE_RE)) {
        if (m[1]) continue;
        if (!codes.has(m[2]!)) codes.set(m[2]!, file.slice(ROOT.length));
      }
    }
  }
  return codes;
}

describe('docs/errors.md', () => {
  const doc = readFileSync(join(ROOT, 'docs/errors.md'), 'utf8');
  const documented = new Set([...doc.matchAll(/`(MR_ERR_[A-Z0-9_]+)`/g)].map((m) => m[1]!));

  it('default: documents every MR_ERR_* code used in the source', () => {
    const codes = codesInSource();
    expect(codes.size).toBeGreaterThan(20);
    const missing = [...codes]
      .filter(([code]) => !documented.has(code))
      .map(([code, file]) => `${code} (${file})`);
    expect(missing, `add these to docs/errors.md:\n${missing.join('\n')}`).toEqual([]);
  });

  it('behavior: every documented code has an anchor matching MedrelayError.docsPath', () => {
    for (const code of documented) expect(doc).toContain(`<a id="${code.toLowerCase()}"></a>`);
  });
});
