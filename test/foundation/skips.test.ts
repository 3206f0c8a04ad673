/**
 * Skips are only for what may not exist on the machine, named loudly (helpers/paths.ts). A guard that
 * probes the project's own code (it once turned a broken PKCS#12 import into 14 skipped e2e tests)
 * or something `npm test` provides must fail CI instead.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { ROOT, provided } from '../helpers/paths.ts';

/** The named guards; each prints a banner, and the `provided` ones fail under CI. */
const GUARDS = [
  'requireShared', // ../shared beside the clone: may not exist
  'requirePostgres', // a PostgreSQL server: may not exist
  'requireChromium', // installed by npm test: fails under CI (provided)
  'requireSwaks', // installed by npm test: fails under CI (provided)
  'requireFixtures', // made by npm test: fails under CI (provided)
  'requireRoot', // root privileges: may not exist for a developer; as root a failing probe fails
];

function testFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) =>
    d.isDirectory()
      ? d.name === 'fixtures'
        ? []
        : testFiles(join(dir, d.name))
      : d.name.endsWith('.ts')
        ? [join(dir, d.name)]
        : [],
  );
}

/** The text inside the parentheses that open at `open`. */
function argumentAt(text: string, open: number): string {
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    if (text[i] === '(') depth++;
    else if (text[i] === ')' && --depth === 0) return text.slice(open + 1, i);
  }
  return text.slice(open + 1);
}

/** Why a skip condition is not made of named guards, or null when it is. */
export function unguardedSkip(source: string, condition: string): string | null {
  const guardCall = new RegExp(`\\b(?:${GUARDS.join('|')})\\(`);
  if (guardCall.test(condition)) return null;
  for (const [name] of condition.matchAll(/[A-Za-z_$][\w$]*/g)) {
    const def = new RegExp(`(?:const|let)\\s+${name}\\b[^=]*=([^;]*);`).exec(source);
    if (!def) return `${name} is not a guard defined in this file`;
    if (!guardCall.test(def[1]!)) return `${name} is not made by a named guard (${GUARDS.join(', ')})`;
  }
  return null;
}

describe('skip conditions', () => {
  it('every skipIf/runIf in test/ is made of the named guards only', () => {
    const offenders: string[] = [];
    for (const file of testFiles(join(ROOT, 'test'))) {
      const source = readFileSync(file, 'utf8');
      for (const m of source.matchAll(/\.(?:skipIf|runIf)\(/g)) {
        const condition = argumentAt(source, m.index + m[0].length - 1);
        const why = unguardedSkip(source, condition);
        if (why) offenders.push(`${relative(ROOT, file)}: skipIf(${condition}): ${why}`);
      }
    }
    expect(offenders).toEqual([]);
  });

  it('recognises a guard that probes the code under test (the old PKCS#12 one) as unguarded', () => {
    const old = [
      "const ready = requireChromium('e2e') && requireShared('corpus');",
      'const smimeReady = await detectSmime();',
    ].join('\n');
    expect(unguardedSkip(old, '!ready')).toBeNull();
    expect(unguardedSkip(old, '!smimeReady')).toMatch(/not made by a named guard/);
    expect(unguardedSkip(old, "!fixture('x')")).toMatch(/not a guard/);
  });

  it('a missing provided capability throws under CI and skips loudly only outside it', () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    try {
      expect(provided('x', true, 'gone', { CI: '1' })).toBe(true);
      expect(() => provided('chromium tests', false, '/usr/bin/chromium is missing', { CI: '1' })).toThrow(
        /chromium tests: \/usr\/bin\/chromium is missing.*fails CI/,
      );
      expect(provided('chromium tests', false, 'gone', {})).toBe(false);
      expect(warn).toHaveBeenCalledWith(expect.stringContaining('SKIPPED (not under CI): chromium tests'));
    } finally {
      warn.mockRestore();
    }
  });
});
