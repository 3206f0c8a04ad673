/**
 * `sealpost open` and `sealpost keys` with post-quantum and modern S/MIME: an ML-KEM message opened
 * with a bare PKCS#8 private key and its certificate given as two --key files, a pre-shared KEK given
 * with --password; ML-KEM keys in the expanded (Bouncy Castle), seed (PEM with its certificates) and
 * both forms and inside a PKCS#12 made by `keys export`; X25519 with a PKCS#8 PEM key.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURES, ROOT, VECTORS, readBytes, requireFixtures, requireShared } from '../helpers/paths.ts';
import { generateIdentity, type SmimePrivateEntry } from '../../src/core/index.ts';
import { tlv } from '../../src/core/smime/kdf.ts';
import { buildKemRecipientInfo } from '../../src/core/smime/kem-recipient.ts';
import { alg, envelope, octet, seq } from '../core/smime/cms-build.ts';
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

/** Runs any sealpost subcommand; never throws. */
async function sealpost(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(process.execPath, [join(ROOT, 'bin/sealpost.mjs'), ...args], { timeout: 60_000 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

const pemOf = (label: string, der: Uint8Array): string =>
  `-----BEGIN ${label}-----\n${Buffer.from(der)
    .toString('base64')
    .replace(/.{64}/g, '$&\n')
    .replace(/\n?$/, '\n')}-----END ${label}-----\n`;

describe.skipIf(!ready)('sealpost keys and open: post-quantum and modern key files', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sealpost-keys-pq-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));
  const kem = join(VECTORS, 'pqc-cms/bc/ml-kem-1024-2.16.840.1.101.3.4.4.3');

  it('keys show pairs a PKCS#8 key with its certificate and names the algorithm; keys export makes a PKCS#12 that open takes', async () => {
    const shown = await sealpost(['keys', 'show', `${kem}_priv.der`, `${kem}_ee.der`, '--json']);
    expect(shown.code, shown.stderr).toBe(0);
    const rows = JSON.parse(shown.stdout) as { type: string; algorithm?: string }[];
    expect(rows).toEqual([expect.objectContaining({ type: 'smime-private', algorithm: 'ML-KEM-1024' })]);
    const lonely = await sealpost(['keys', 'show', `${kem}_priv.der`]);
    expect(lonely.code).toBe(1);
    expect(lonely.stderr).toMatch(/without its certificate/);

    const p12 = join(dir, 'kem1024.p12');
    const exported = await sealpost([
      'keys',
      'export',
      `${kem}_priv.der`,
      `${kem}_ee.der`,
      '--out',
      p12,
      '--new-passphrase',
      'p12-pass-1024',
    ]);
    expect(exported.code, exported.stderr).toBe(0);
    const eml = join(dir, 'kem1024.eml');
    await writeFile(eml, wrapSmime(readBytes(`${kem}_kemri_id-alg-hkdf-with-sha256.der`)));
    const ok = await open([eml, '--key', p12, '--passphrase', 'p12-pass-1024']);
    expect(ok.code, JSON.stringify(ok.out)).toBe(0);
    expect(ok.out['text']).toMatch(/Hello, World!/);
    const wrong = await open([eml, '--key', p12, '--passphrase', 'not-the-pass']);
    expect((wrong.out['error'] as { code: string }).code).toBe('bad-passphrase');
  });

  it('ML-KEM-768 keys in the seed form (one PEM with key and certificates) and the both form (DER + DER)', async () => {
    const [enc] = (await generateIdentity('smime-pq', 'Pat', 'pat@example.net')) as SmimePrivateEntry[];
    const cek = async (c: Uint8Array) => [await buildKemRecipientInfo(enc!.certificate, c)];
    const body = new TextEncoder().encode('Content-Type: text/plain\r\n\r\nMARK-cli-pq\r\n');
    const eml = join(dir, 'pat.eml');
    await writeFile(eml, wrapSmime(await envelope(body, cek, 'aes-256-gcm'), { to: 'pat@example.net' }));

    // Seed form, PEM: the key and its certificate (and the ML-DSA issuer) in one file.
    const onePem = join(dir, 'pat.pem');
    await writeFile(
      onePem,
      pemOf('PRIVATE KEY', enc!.pkcs8) +
        pemOf('CERTIFICATE', enc!.certificate) +
        pemOf('CERTIFICATE', enc!.chain[0]!),
    );
    const seed = await open([eml, '--key', onePem]);
    expect(seed.code, JSON.stringify(seed.out)).toBe(0);
    expect(seed.out['text']).toMatch(/MARK-cli-pq/);

    // Both form: SEQUENCE { seed, expandedKey } made from the same seed, in DER beside the DER certificate.
    const { ml_kem768 } = await import('@noble/post-quantum/ml-kem.js');
    const seedBytes = enc!.pkcs8.subarray(enc!.pkcs8.length - 64);
    const expanded = ml_kem768.keygen(seedBytes).secretKey;
    const both = seq(octet(seedBytes), octet(expanded));
    const pkcs8 = seq(tlv(0x02, Uint8Array.of(0)), alg('2.16.840.1.101.3.4.4.2'), octet(both));
    await writeFile(join(dir, 'pat-both.der'), pkcs8);
    await writeFile(join(dir, 'pat.der'), enc!.certificate);
    const bothOk = await open([eml, '--key', join(dir, 'pat-both.der'), '--key', join(dir, 'pat.der')]);
    expect(bothOk.code, JSON.stringify(bothOk.out)).toBe(0);
    expect(bothOk.out['text']).toMatch(/MARK-cli-pq/);
    // A "both" whose expanded key is not its seed's is refused.
    const broken = new Uint8Array(pkcs8);
    broken[broken.length - 5]! ^= 0xff;
    await writeFile(join(dir, 'pat-broken.der'), broken);
    const refused = await open([eml, '--key', join(dir, 'pat-broken.der'), '--key', join(dir, 'pat.der')]);
    expect(refused.code).not.toBe(0);
    expect((refused.out['error'] as { message: string }).message).toMatch(
      /seed and expanded key do not match/,
    );
  });

  it('X25519 (HKDF) with a PKCS#8 PEM key and its certificate: draft-ireland-examples-cms for Dana', async () => {
    const ex = join(VECTORS, 'examples-cms');
    const eml = join(dir, 'dana.eml');
    await writeFile(eml, wrapSmime(readBytes(join(ex, 'binary-files/authEnvelopedForDanaX25519HKDF.p7m'))));
    const ok = await open([
      eml,
      '--key',
      join(ex, 'certs-and-keys/lamps-dana.decrypt.p8.pem'),
      '--key',
      join(ex, 'certs-and-keys/lamps-dana.encrypt.crt'),
    ]);
    expect(ok.code, JSON.stringify(ok.out)).toBe(0);
    expect(ok.out['text']).toMatch(/This is some sample content/);
    const layer = (ok.out['layers'] as { recipients: { algorithm: string }[] }[])[0]!;
    expect(layer.recipients[0]!.algorithm).toMatch(/^X25519/);
  });
});
