/**
 * Where tests find their inputs: the project's own generated fixtures, and the shared corpus and
 * conformance vectors that live beside the clone (../shared). When ../shared is absent, tests that
 * need it are skipped LOUDLY — never passed silently.
 *
 * The rule for every guard: a skip is only for what may not exist on the machine (../shared, a
 * PostgreSQL server), and is named in a banner. What `npm test` itself provides (the generated
 * fixtures, Chromium, swaks) or what is the project's own code (PKCS#12 import, …) is never a reason
 * to skip: under CI (`npm test` sets CI=1) its absence fails the run (`provided`).
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

/**
 * A guard for something `npm test` provides. Present: true. Missing under CI (`CI` set, as
 * scripts/test.mjs does): throws, so the test file fails instead of being skipped. Missing in a
 * developer's bare `npx vitest` run: false, after a loud banner saying how to get it.
 */
export function provided(what: string, present: boolean, missing: string, env = process.env): boolean {
  if (present) return true;
  const line = '*'.repeat(78);
  if (env.CI && env.CI !== '0' && env.CI !== 'false')
    throw new Error(`${what}: ${missing}. npm test provides this; a missing capability fails CI.`);
  console.warn(`\n${line}\n* SKIPPED (not under CI): ${what}\n* ${missing}\n${line}\n`);
  return false;
}

/**
 * A guard for what needs root (a tmpfs mount, a private mount namespace): a developer who runs the
 * tests as another user may not have it, so that is a loud skip. As root (as `npm test` runs in CI)
 * the capability must work: a failing probe throws, so the file fails instead of being skipped.
 * `problem` returns null when the capability works, else why not.
 */
export function requireRoot(what: string, problem: () => string | null): boolean {
  const line = '*'.repeat(78);
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    console.warn(`\n${line}\n* SKIPPED (not root): ${what}\n* these tests need root privileges.\n${line}\n`);
    return false;
  }
  const why = problem();
  if (why !== null)
    throw new Error(`${what}: ${why}. As root this must work; a missing capability fails the run.`);
  return true;
}

export function requireFixtures(what: string): boolean {
  return provided(what, hasFixtures, 'test/fixtures/generated is missing; run bash test/fixtures/make.sh');
}

export function readBytes(path: string): Uint8Array {
  return new Uint8Array(readFileSync(path));
}
