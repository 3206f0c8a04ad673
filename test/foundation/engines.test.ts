/**
 * package.json's `engines.node` is true: every Node version it admits is admitted by every installed
 * package (package-lock.json records their `engines`), except the exceptions below, each checked to
 * work on the Node running this test; this Node is inside the range; and scripts/test.mjs's own
 * range check (it runs before `npm install`, without semver) agrees with semver.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
// @ts-expect-error: a plain-JavaScript script without declarations (it runs before npm install)
import { satisfiesNodeRange } from '../../scripts/node-range.mjs';
import { ROOT } from '../helpers/paths.ts';

const require = createRequire(import.meta.url);
const semver = require('semver') as {
  satisfies(version: string, range: string, options?: { includePrerelease?: boolean }): boolean;
};
const checkRange = satisfiesNodeRange as (version: string, range: string) => boolean;

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string } };
const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as {
  packages: Record<string, { version?: string; engines?: { node?: string } | string[]; optional?: boolean }>;
};
const range = pkg.engines.node;

/**
 * Packages whose declared range is narrower than ours, and why it does not bind. Each one is exercised
 * on this machine's Node below.
 */
const EXCEPTIONS: Record<string, string> = {
  // cookie 2 is an ES module only; light-my-request (fastify's inject) require()s it. Node 20.19 runs
  // require() of ES modules without a flag, which is all `>=22` stands for.
  cookie: 'ES-module only; require(esm) works from Node 20.19 on',
};

/** Every x.y.0 release line from Node 18 to 30, and a few patch levels around the boundaries. */
const VERSIONS = [
  ...Array.from({ length: 13 }, (_, i) => 18 + i).flatMap((major) =>
    Array.from({ length: 26 }, (_, minor) => `${major}.${minor}.0`),
  ),
  '20.18.3',
  '20.19.0',
  '20.20.2',
  '22.12.0',
  '22.13.0',
  '22.13.1',
  '26.9.9',
  '27.0.0',
];

describe('engines.node', () => {
  it('admits the Node running the tests', () => {
    expect(semver.satisfies(process.versions.node, range), `${process.version} vs ${range}`).toBe(true);
  });

  it('admits no Node that an installed package refuses (package-lock.json engines)', () => {
    const ours = VERSIONS.filter((v) => semver.satisfies(v, range));
    expect(ours).toContain('20.19.0');
    expect(ours).not.toContain('20.18.3');
    const offenders: string[] = [];
    for (const [path, entry] of Object.entries(lock.packages)) {
      const theirs = !entry.engines || Array.isArray(entry.engines) ? undefined : entry.engines.node;
      if (!path || !theirs) continue;
      const name = path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length);
      if (name in EXCEPTIONS) continue;
      const refused = ours.filter((v) => !semver.satisfies(v, theirs));
      if (refused.length > 0)
        offenders.push(`${name}@${entry.version} (${theirs}) refuses ${refused.join(', ')}`);
    }
    expect(offenders).toEqual([]);
  });

  it('the exceptions work on this Node: fastify inject with cookies loads cookie 2 through require()', async () => {
    const { default: Fastify } = await import('fastify');
    const app = Fastify();
    app.get('/', (req, reply) => {
      void reply.header('set-cookie', 'a=b; Path=/');
      return req.headers.cookie ?? '';
    });
    const res = await app.inject({ url: '/', cookies: { x: '1' } });
    expect(res.body).toBe('x=1');
    expect(res.cookies).toEqual([{ name: 'a', value: 'b', path: '/' }]);
    await app.close();
  });

  it('scripts/test.mjs checks the range as semver does', () => {
    const ranges = [range, '>=20', '^20.19.0 || >=22.12.0', '20.x || 22.x', '>=18 <21'];
    for (const r of ranges)
      for (const v of VERSIONS) expect(checkRange(v, r), `${v} in ${r}`).toBe(semver.satisfies(v, r));
    expect(() => checkRange('20.0.0', '~20.1')).toThrow(/unsupported/);
  });
});
