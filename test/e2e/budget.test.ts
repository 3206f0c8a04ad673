/**
 * The receiver's first-load budget (DESIGN: ≤ 350 KB gzip): what index.html loads — its scripts and
 * stylesheets with their static imports, and the crypto worker with its static imports — gzipped.
 * The OpenPGP and the S/MIME halves are loaded only when a message or key needs them: they are
 * named, are not in the first load, and are reached only through dynamic import().
 */
import { readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildReceiver } from './helpers.ts';

let OUT = '';
const BUDGET = 350 * 1024;

const read = (rel: string): string => readFileSync(join(OUT, rel), 'utf8');
const gz = (rel: string): number => gzipSync(readFileSync(join(OUT, rel)), { level: 9 }).length;

/** Static imports of a built chunk (relative to assets/). */
function staticImports(rel: string): string[] {
  const code = read(rel);
  return [...code.matchAll(/(?:from|import)\s*["'`]\.\/([^"'`]+\.js)["'`]/g)].map((m) => `assets/${m[1]}`);
}
function dynamicImports(rel: string): string[] {
  return [...read(rel).matchAll(/import\(\s*["'`]\.\/([^"'`]+\.js)["'`]\s*\)/g)].map((m) => `assets/${m[1]}`);
}
function closure(roots: string[], next: (rel: string) => string[]): Set<string> {
  const seen = new Set<string>();
  const todo = [...roots];
  while (todo.length) {
    const f = todo.pop()!;
    if (seen.has(f)) continue;
    seen.add(f);
    if (f.endsWith('.js')) todo.push(...next(f));
  }
  return seen;
}

describe('receiver first-load budget', () => {
  let firstLoad: Set<string>;
  let worker: string;
  afterAll(() => rmSync(OUT, { recursive: true, force: true }));

  beforeAll(() => {
    OUT = buildReceiver();
    const html = read('index.html');
    const entries = [
      ...html.matchAll(/<(?:script|link)\b[^>]*\b(?:src|href)="\/receiver\/(assets\/[^"]+)"/g),
    ].map((m) => m[1]!);
    const main = entries.find((e) => e.endsWith('.js'))!;
    worker = /\/receiver\/(assets\/worker-[^`"']+\.js)/.exec(read(main))![1]!;
    firstLoad = closure([...entries, worker], staticImports);
  });

  it('what index.html loads (page script, CSS, crypto worker) is ≤ 350 KB gzip', () => {
    const sizes = [...firstLoad].map((f) => [f, gz(f)] as const);
    const total = sizes.reduce((n, [, s]) => n + s, 0);
    console.log(
      `receiver first load: ${(total / 1024).toFixed(1)} KB gzip\n` +
        sizes.map(([f, s]) => `  ${f}: ${(s / 1024).toFixed(1)} KB`).join('\n'),
    );
    expect(firstLoad.has(worker)).toBe(true);
    expect([...firstLoad].some((f) => f.endsWith('.css'))).toBe(true);
    expect(total).toBeLessThanOrEqual(BUDGET);
    // version.json names the same set (the service worker precaches it).
    const version = JSON.parse(read('version.json')) as { firstLoad: string[] };
    expect(version.firstLoad).toEqual([...firstLoad].map((f) => `/receiver/${f}`).sort());
  });

  it('the OpenPGP and S/MIME halves are named, lazy, and reached only by dynamic import', () => {
    const assets = readdirSync(join(OUT, 'assets')).map((f) => `assets/${f}`);
    const halves = {
      openpgp: assets.filter((f) => /^assets\/openpgp-/.test(f)),
      smime: assets.filter((f) => /^assets\/smime-/.test(f)),
    };
    for (const [name, files] of Object.entries(halves)) {
      expect(files.length, name).toBeGreaterThan(0);
      for (const f of files) expect(firstLoad.has(f), `${f} is in the first load`).toBe(false);
      const size = files.reduce((n, f) => n + gz(f), 0);
      console.log(`lazy ${name} half: ${(size / 1024).toFixed(1)} KB gzip (${files.join(', ')})`);
    }
    // The worker opens each half with import(), never statically.
    const dyn = dynamicImports(worker);
    expect(dyn.some((f) => halves.openpgp.includes(f))).toBe(true);
    expect(dyn.some((f) => halves.smime.includes(f))).toBe(true);
    // Loading one half never drags in the other.
    const pgp = closure(
      dyn.filter((f) => halves.openpgp.includes(f)),
      staticImports,
    );
    for (const f of pgp) expect(halves.smime).not.toContain(f);
  });

  it('the noble libraries (post-quantum, Ed448/X448, ChaCha20-Poly1305) load only for what needs them', () => {
    // What opening any S/MIME message loads before it knows its algorithms: the S/MIME half's
    // entries the worker imports (but post-quantum key generation's), with their static imports.
    const lazy = /^assets\/smime-(ml-kem|ml-dsa|slh-dsa|ed448|chacha|generate-pq)-/;
    const smimeFirst = closure(
      dynamicImports(worker).filter((f) => /^assets\/smime-/.test(f) && !lazy.test(f)),
      staticImports,
    );
    const assets = readdirSync(join(OUT, 'assets')).map((f) => `assets/${f}`);
    const names = ['ml-kem', 'ml-dsa', 'slh-dsa', 'ed448', 'chacha', 'generate-pq'];
    for (const n of names)
      expect(
        assets.some((f) => f.startsWith(`assets/smime-${n}-`)),
        `a chunk of its own for ${n}`,
      ).toBe(true);
    for (const f of smimeFirst) expect(f, `${f} loads with every S/MIME message`).not.toMatch(lazy);
    for (const f of firstLoad) expect(f).not.toMatch(lazy);
  });
});
