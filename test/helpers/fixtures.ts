/**
 * Locates the shared public fixtures. They live beside the repository (`<repo>/../shared/fixtures`), both
 * here and in CI, so paths are resolved from this file, never from the working directory or an absolute path.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const FIXTURES = new URL('../../../shared/fixtures/', import.meta.url);

/** Absolute path of `<repo root>/../shared/fixtures/<rel>`. */
export function fixturePath(rel: string): string {
  return fileURLToPath(new URL(rel, FIXTURES));
}

/** Parsed JSON fixture. The caller states the shape it relies on. */
export function readFixture<T>(rel: string): T {
  return JSON.parse(readFileSync(fixturePath(rel), 'utf8')) as T;
}
