/**
 * `sealpost senders` and `sealpost send` against a real server: add a sender (JSON), submit a
 * corpus message with the CLI, list and revoke.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../src/server/main.ts';
import { CORPUS, ROOT, requireShared } from '../helpers/paths.ts';

const run = promisify(execFile);
const shared = requireShared('sealpost send over the interop corpus');

async function cli(args: string[], env: NodeJS.ProcessEnv = {}) {
  try {
    const r = await run(process.execPath, [join(ROOT, 'bin/sealpost.mjs'), ...args], {
      env: { ...process.env, ...env },
      timeout: 60_000,
    });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

describe.skipIf(!shared)('sealpost senders and send', () => {
  let dir: string;
  let server: RunningServer;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sealpost-cli-'));
    server = await startServer(
      ['--data', dir, '--port', '0', '--smtp-port', 'off', '--log-level', 'silent'],
      {
        env: {},
        print: null,
      },
    );
  });
  afterAll(async () => {
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('adds a sender, sends a message, lists and revokes', async () => {
    const added = await cli(['senders', 'add', 'Alice@Example.org', '--data', dir, '--json']);
    expect(added.code).toBe(0);
    const { email, apiKey } = JSON.parse(added.stdout) as { email: string; apiKey: string };
    expect(email).toBe('alice@example.org');
    expect(apiKey).toMatch(/^sp_[A-Za-z0-9_-]{43}$/);
    expect((await cli(['senders', 'add', 'alice@example.org', '--data', dir])).code).toBe(1);

    const file = join(CORPUS, 'messages', '16-pgpmime-encrypted-combined-signature.eml');
    const sent = await cli(
      ['send', file, '--to', 'bob@example.net', '--to', 'carol@example.com', '--server', server.url],
      {
        SEALPOST_API_KEY: apiKey,
      },
    );
    expect(sent.code).toBe(0);
    expect(sent.stdout).toMatch(/Stored message \S+ \(\d+ bytes, pgp-mime, encrypted\)/);
    expect(sent.stdout).toContain('bob@example.net');
    expect(sent.stdout).toContain('carol@example.com');

    const json = await cli(['send', file, '--json', '--server', server.url, '--api-key', apiKey]);
    expect(JSON.parse(json.stdout).deliveries).toHaveLength(1);

    const plain = await cli([
      'send',
      join(CORPUS, 'messages', '23-plain-text.eml'),
      '--server',
      server.url,
      '--api-key',
      apiKey,
    ]);
    expect(plain.code).toBe(1);
    expect(plain.stderr).toContain('not-secure');

    const list = await cli(['senders', 'list', '--data', dir, '--json']);
    expect(JSON.parse(list.stdout)).toMatchObject([{ email: 'alice@example.org', active: true }]);
    expect((await cli(['senders', 'revoke', 'alice@example.org', '--data', dir])).code).toBe(0);
    const refused = await cli(['send', file, '--server', server.url, '--api-key', apiKey]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('unauthorized');
  });

  it('explains a missing key and an unreachable server', async () => {
    const file = join(CORPUS, 'messages', '03-smime-enveloped-rsa15-aes256cbc.eml');
    const noKey = await cli(['send', file], { SEALPOST_API_KEY: '' });
    expect(noKey.code).toBe(64);
    const down = await cli(['send', file, '--server', 'http://127.0.0.1:9', '--api-key', 'sp_x']);
    expect(down.code).toBe(69);
    expect(down.stderr).toContain('cannot reach');
  });
});
