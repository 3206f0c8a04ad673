/**
 * Every `pattern` attribute on the server's pages compiles as browsers compile it: HTML says a
 * pattern is a regular expression with the `v` flag, and a pattern that does not compile is ignored,
 * so the field then takes any text (the upload form's API-key field had `[…_-]`, which the `v` flag
 * refuses: Chromium accepted any key-shaped nonsense).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newApiKey } from '../../src/server/secrets.ts';
import { startTestServer, type TestServer } from './helpers.ts';

const unescapeAttr = (s: string): string =>
  s
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');

/** The HTML rule: the whole value must match `^(?:pattern)$` compiled with the v flag. */
const compile = (pattern: string): RegExp => new RegExp(`^(?:${pattern})$`, 'v');

describe('form patterns', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer();
  });
  afterAll(async () => {
    await t?.close();
  });

  it('every pattern on the pages compiles with the v flag, and the API key field checks the key', async () => {
    const patterns: { page: string; name: string; pattern: string }[] = [];
    for (const page of ['/', '/send']) {
      const html = await (await fetch(`${t.url}${page}`)).text();
      for (const m of html.matchAll(/<input\b[^>]*>/g)) {
        const pattern = /\spattern="([^"]*)"/.exec(m[0])?.[1];
        if (pattern === undefined) continue;
        patterns.push({
          page,
          name: /\sname="([^"]*)"/.exec(m[0])?.[1] ?? '?',
          pattern: unescapeAttr(pattern),
        });
      }
    }
    expect(patterns.map((p) => p.name)).toContain('apiKey');
    for (const p of patterns)
      expect(() => compile(p.pattern), `${p.page} ${p.name}: ${p.pattern}`).not.toThrow();
    const key = compile(patterns.find((p) => p.name === 'apiKey')!.pattern);
    expect(key.test(newApiKey())).toBe(true);
    for (const bad of ['hunter2', 'sp_short', `sp_${'a'.repeat(42)}!`, `xx_${'a'.repeat(43)}`])
      expect(key.test(bad), bad).toBe(false);
  });
});
