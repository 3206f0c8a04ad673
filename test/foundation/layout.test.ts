import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/paths.ts';

async function lint(filePath: string, code: string): Promise<string[]> {
  const eslint = new ESLint({ cwd: ROOT });
  const [result] = await eslint.lintText(code, { filePath: join(ROOT, filePath) });
  return (result?.messages ?? []).map((m) => `${m.ruleId}: ${m.message}`);
}

describe('one-way imports (ESLint)', () => {
  it('refuses node:fs in src/core', async () => {
    const messages = await lint(
      'src/core/_lint_probe.ts',
      "import { readFileSync } from 'node:fs';\nexport const x = readFileSync;\n",
    );
    expect(messages.some((m) => m.startsWith('no-restricted-imports'))).toBe(true);
  });

  it('refuses bare Node builtins and server packages in src/core', async () => {
    expect((await lint('src/core/_p.ts', "import fs from 'fs';\nexport const x = fs;\n")).join()).toMatch(
      /no-restricted-imports/,
    );
    expect(
      (await lint('src/core/_p.ts', "import D from 'better-sqlite3';\nexport const x = D;\n")).join(),
    ).toMatch(/no-restricted-imports/);
  });

  it('refuses DOM and Node globals in src/core', async () => {
    const messages = await lint(
      'src/core/_p.ts',
      'export const x = () => [document.title, process.env, Buffer.from("")];\n',
    );
    expect(messages.filter((m) => m.startsWith('no-restricted-globals'))).toHaveLength(3);
  });

  it('refuses core importing the other areas', async () => {
    expect(
      (
        await lint(
          'src/core/_p.ts',
          "import { startServer } from '../server/main.ts';\nexport const x = startServer;\n",
        )
      ).join(),
    ).toMatch(/no-restricted-imports/);
  });

  it('lets server import core only through its entry file', async () => {
    expect(
      await lint(
        'src/server/_p.ts',
        "import { SealpostError } from '../core/index.ts';\nexport const x = SealpostError;\n",
      ),
    ).toEqual([]);
    expect(
      (
        await lint(
          'src/server/_p.ts',
          "import { SealpostError } from '../core/errors.ts';\nexport const x = SealpostError;\n",
        )
      ).join(),
    ).toMatch(/no-restricted-imports/);
  });

  it('accepts web-standard APIs in src/core', async () => {
    expect(
      await lint(
        'src/core/_p.ts',
        'export const x = () => crypto.subtle.digest("SHA-256", new TextEncoder().encode("a"));\n',
      ),
    ).toEqual([]);
  });
});

describe('the sealpost command', () => {
  const bin = join(ROOT, 'bin/sealpost.mjs');
  it('lists its commands with --help', () => {
    const out = execFileSync(process.execPath, [bin, '--help'], { encoding: 'utf8' });
    for (const c of ['serve', 'send', 'open', 'senders', 'keys'])
      expect(out).toMatch(new RegExp(`^  ${c}\\b`, 'm'));
  });
  it('refuses an unknown command with a non-zero exit', () => {
    const r = spawnSync(process.execPath, [bin, 'frobnicate'], { encoding: 'utf8' });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/unknown command/);
  });
});
