/**
 * `sealpost open` with post-quantum and modern S/MIME: an ML-KEM message opened with a bare PKCS#8
 * private key and its certificate given as two --key files, and a pre-shared KEK given with
 * --password.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURES, ROOT, VECTORS, readBytes, requireFixtures, requireShared } from '../helpers/paths.ts';
import { wrapSmime } from '../core/smime/modern-helpers.ts';

const run = promisify(execFile);
const ready =
  requireShared('sealpost open over the post-quantum vectors') &&
  requireFixtures('sealpost open: KEK fixture');

async function open(args: string[]) {
  try {
    const r = await run(process.execPath, [join(ROOT, 'bin/sealpost.mjs'), 'open', ...args, '--json'], {
      timeout: 60_000,
    });
    return { code: 0, out: JSON.parse(r.stdout) as Record<string, unknown> };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return {
      code: err.code,
      out: JSON.parse(err.stdout || '{}') as Record<string, unknown>,
      stderr: err.stderr,
    };
  }
}

describe.skipIf(!ready)('sealpost open: post-quantum and pre-shared keys', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sealpost-open-pq-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('ML-KEM-768 with --key priv.der --key cert.der; without the certificate it says what is missing', async () => {
    const base = join(VECTORS, 'pqc-cms/bc/ml-kem-768-2.16.840.1.101.3.4.4.2');
    const eml = join(dir, 'kem.eml');
    await writeFile(eml, wrapSmime(readBytes(`${base}_kemri_auth_id-alg-hkdf-with-sha256.der`)));
    const ok = await open([eml, '--key', `${base}_priv.der`, '--key', `${base}_ee.der`]);
    expect(ok.code, JSON.stringify(ok.out)).toBe(0);
    expect(ok.out['text']).toMatch(/Hello, World!/);
    const layer = (ok.out['layers'] as { recipients: { type: string; algorithm: string }[] }[])[0]!;
    expect(layer.recipients[0]).toMatchObject({
      type: 'key-encapsulation',
      algorithm: 'ML-KEM-768 (HKDF-SHA256)',
    });
    const lonely = await open([eml, '--key', `${base}_priv.der`]);
    expect(lonely.code).not.toBe(0);
    expect((lonely.out['error'] as { message: string }).message).toMatch(/without its certificate/);
  });

  it('a pre-shared KEK with --password; without it, bad-password naming the key', async () => {
    const eml = join(FIXTURES, 'messages', 'smime-kek.eml');
    const kek = '3c5f1e0a9b8d7c6e5f4a3b2c1d0e0f1a2b3c4d5e6f708192a3b4c5d6e7f80910';
    const ok = await open([eml, '--password', kek]);
    expect(ok.code).toBe(0);
    expect(ok.out['text']).toMatch(/MARK-smime-kek/);
    const ask = await open([eml]);
    expect((ask.out['error'] as { code: string; message: string }).code).toBe('bad-password');
    expect((ask.out['error'] as { message: string }).message).toMatch(/pre-shared key \(“team-key-1”\)/);
  });
});
