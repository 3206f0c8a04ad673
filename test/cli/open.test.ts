/**
 * `sealpost open`, the contract other tools rely on: one JSON object on stdout with --json, exit 0
 * when processed (even with an invalid signature), non-zero and {"error": {...}} otherwise; a readable
 * report without --json; --save-attachments writes the files.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CORPUS, ROOT, requireShared } from '../helpers/paths.ts';

const run = promisify(execFile);
const shared = requireShared('sealpost open over the interop corpus');
const keys = join(CORPUS, 'keys');
const msg = (n: string): string => join(CORPUS, 'messages', `${n}.eml`);

async function open(args: string[]) {
  try {
    const r = await run(process.execPath, [join(ROOT, 'bin/sealpost.mjs'), 'open', ...args], {
      timeout: 60_000,
    });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

describe.skipIf(!shared)('sealpost open', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sealpost-open-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('--json: sign-then-encrypt S/MIME with a PKCS#12 key and a trusted CA; attachments saved', async () => {
    const out = join(dir, 'att');
    const r = await open([
      msg('08-smime-sign-then-encrypt'),
      '--key',
      join(keys, 'bob.p12'),
      '--passphrase',
      'bob-pass',
      '--trust',
      join(keys, 'ca.pem'),
      '--json',
      '--save-attachments',
      out,
    ]);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const report = JSON.parse(lines[0]!) as Record<string, unknown> & {
      signature: { status: string; signer: string; certificate: { sha256Fingerprint: string } };
      layers: { kind: string }[];
      attachments: { filename: string; sha256: string; size: number }[];
    };
    expect(report.protocol).toBe('smime');
    expect(report.encrypted).toBe(true);
    expect(report.layers.map((l) => l.kind)).toEqual(['encrypted', 'signed']);
    expect(report.signature.status).toBe('valid');
    expect(report.signature.certificate.sha256Fingerprint).toMatch(/^[0-9a-f]{64}$/);
    for (const k of ['from', 'to', 'subject', 'date', 'text', 'html']) expect(report).toHaveProperty(k);
    const expected = JSON.parse(
      await readFile(join(CORPUS, 'expected/08-smime-sign-then-encrypt.json'), 'utf8'),
    ) as {
      attachments: { filename: string; sha256: string; size: number }[];
    };
    expect(report.attachments.map((a) => [a.filename, a.size, a.sha256])).toEqual(
      expected.attachments.map((a) => [a.filename, a.size, a.sha256]),
    );
    const files = await readdir(out);
    for (const a of expected.attachments) {
      expect(files).toContain(a.filename);
      const bytes = await readFile(join(out, a.filename));
      expect(createHash('sha256').update(bytes).digest('hex')).toBe(a.sha256);
    }
  });

  it('--json: an invalid signature is processed (exit 0) with status invalid and no content', async () => {
    const r = await open([
      msg('19-pgpmime-signed-tampered'),
      '--trust',
      join(keys, 'alice.pub.asc'),
      '--json',
    ]);
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout) as {
      signature: { status: string };
      text: string;
      attachments: unknown[];
    };
    expect(report.signature.status).toBe('invalid');
    expect(report.text).toBe('');
    expect(report.attachments).toEqual([]);
  });

  it('--json: errors are one object with a stable code and a non-zero exit', async () => {
    for (const [name, args, code] of [
      [
        '14-smime-enveloped-no-matching-key',
        ['--key', join(keys, 'bob.p12'), '--passphrase', 'bob-pass'],
        'no-matching-key',
      ],
      [
        '03-smime-enveloped-rsa15-aes256cbc',
        ['--key', join(keys, 'bob.p12'), '--passphrase', 'wrong'],
        'bad-passphrase',
      ],
      ['09-smime-password-pwri', ['--password', 'not it'], 'bad-password'],
      [
        '13-smime-enveloped-truncated',
        ['--key', join(keys, 'bob.p12'), '--passphrase', 'bob-pass'],
        'truncated|malformed',
      ],
    ] as const) {
      const r = await open([msg(name), ...args, '--json']);
      expect(r.code, name).not.toBe(0);
      const body = JSON.parse(r.stdout) as { error: { code: string; message: string } };
      expect(code.split('|'), name).toContain(body.error.code);
      expect(body.error.message.length).toBeGreaterThan(10);
    }
  });

  it('without --json: a readable report naming the signer and the verdict', async () => {
    const r = await open([msg('01-smime-signed-detached'), '--trust', join(keys, 'ca.pem')]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/alice@example\.org/);
    expect(r.stdout.toLowerCase()).toMatch(/valid/);
  });
});
