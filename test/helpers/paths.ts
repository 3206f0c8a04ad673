/**
 * Where tests find their inputs: the project's own generated fixtures, and the shared corpus and
 * conformance vectors that live beside the clone (../shared). When ../shared is absent, tests that
 * need it are skipped LOUDLY — never passed silently.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const SHARED = process.env.SEALPOST_SHARED ?? resolve(ROOT, '../shared');
export const CORPUS = join(SHARED, 'corpus');
export const VECTORS = join(SHARED, 'vectors');
export const FIXTURES = join(ROOT, 'test/fixtures/generated');

export const hasShared = existsSync(CORPUS) && existsSync(VECTORS);
export const hasFixtures = existsSync(join(FIXTURES, '.recipe-sha256'));

/** Call at the top of a test file that needs ../shared: prints a loud banner when it is absent. */
export function requireShared(what: string): boolean {
  if (!hasShared) {
    const line = '*'.repeat(78);
    console.warn(
      `\n${line}\n* SKIPPED: ${what}\n* ../shared (corpus and vectors) was not found at ${SHARED}.\n${line}\n`,
    );
  }
  return hasShared;
}

export function requireFixtures(what: string): boolean {
  if (!hasFixtures) {
    console.warn(
      `\n*** SKIPPED: ${what}: test/fixtures/generated is missing; run bash test/fixtures/make.sh\n`,
    );
  }
  return hasFixtures;
}

export function readBytes(path: string): Uint8Array {
  return new Uint8Array(readFileSync(path));
}
