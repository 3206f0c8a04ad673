/**
 * The S/MIME message builder against real peers: openssl `cms -decrypt` then `cms -verify` (against
 * the signer's CA) opens what core builds for RSA-OAEP, RSA PKCS#1 v1.5 and ECDH recipients, with
 * AES-256-GCM and AES-256-CBC; `-pwri_password` opens a password copy; Sealpost's own openMessage
 * opens them and shows the protected (RFC 9788) headers, not the outer placeholder.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MemoryKeyring, importKeyFile, openMessage } from '../../../src/core/index.ts';
import { buildSmimeMessage, type ComposeInput } from '../../../src/core/compose.ts';
import { generatePostQuantumIdentity } from '../../../src/core/smime/generate-pq.ts';
import { FIXTURES, requireFixtures } from '../../helpers/paths.ts';

requireFixtures('S/MIME builder tests (alice, bob, dave keys)');
const K = join(FIXTURES, 'keys');
const tmp = mkdtempSync(join(tmpdir(), 'sealpost-smime-build-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const der = (args: string[]): Uint8Array => new Uint8Array(execFileSync('openssl', args));
const cert = (name: string): Uint8Array => der(['x509', '-in', join(K, `${name}.pem`), '-outform', 'DER']);
const pkcs8 = (name: string): Uint8Array =>
  der(['pkcs8', '-topk8', '-nocrypt', '-in', join(K, `${name}.key`), '-outform', 'DER']);

const alice = { certificate: cert('alice'), chain: [cert('inter')], pkcs8: pkcs8('alice') };
const dave = { certificate: cert('dave'), chain: [cert('inter')], pkcs8: pkcs8('dave') };

const input: ComposeInput = {
  from: 'Alice <alice@example.test>',
  to: ['bob@example.test'],
  cc: ['Dave Ünïcode <dave@example.test>'],
  subject: 'Quarterly numbers — secret',
  date: new Date('2026-12-02T12:00:00Z'),
  inReplyTo: '<orig@example.test>',
  references: ['<orig@example.test>'],
  text: 'MARK-build-smime\nSecond line.\n',
  attachments: [
    { filename: 'report.csv', contentType: 'text/csv', content: new TextEncoder().encode('a,b\n1,2\n') },
  ],
};

function run(args: string[]): string {
  return execFileSync('openssl', args, { encoding: 'latin1', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** openssl cms -decrypt, then cms -verify against root.pem; returns the verified payload. */
function opensslOpen(message: Uint8Array, key: string, signed = true): string {
  const m = join(tmp, 'm.eml');
  const d = join(tmp, 'd.eml');
  writeFileSync(m, message);
  run([
    'cms',
    '-decrypt',
    '-in',
    m,
    '-recip',
    join(K, `${key}.pem`),
    '-inkey',
    join(K, `${key}.key`),
    '-out',
    d,
  ]);
  if (!signed) return readFileSync(d, 'latin1');
  return run(['cms', '-verify', '-in', d, '-CAfile', join(K, 'root.pem'), '-purpose', 'any']);
}

async function keyring(name: string): Promise<MemoryKeyring> {
  const entries = await importKeyFile(readFileSync(join(K, `${name}.p12`)), { passphrase: `${name}-pass` });
  const root = await importKeyFile(readFileSync(join(K, 'root.pem')), { trusted: true });
  return new MemoryKeyring([...entries, ...root]);
}

describe('buildSmimeMessage', () => {
  it('signs then encrypts with AES-256-GCM to RSA-OAEP and ECDH recipients; openssl and openMessage open it', async () => {
    const built = await buildSmimeMessage(input, {
      signer: alice,
      recipients: [
        { certificate: cert('bob'), rsaPadding: 'oaep', gcm: true },
        { certificate: cert('dave'), gcm: true },
      ],
    });
    expect(built.contentEncryption).toBe('aes-256-gcm');
    const text = new TextDecoder().decode(built.message);
    expect(text).toMatch(/smime-type=authEnveloped-data/);
    expect(text).toMatch(/^Subject: \.\.\.\r$/m);
    expect(text).not.toContain('Quarterly');
    for (const who of ['bob', 'dave']) {
      const inner = opensslOpen(built.message, who);
      expect(inner).toContain('MARK-build-smime');
      expect(inner).toMatch(/hp="cipher"/);
      expect(inner).toMatch(/^HP-Outer: Subject: \.\.\.\r?$/m);
    }
    const opened = await openMessage(built.message, { keyring: await keyring('bob') });
    expect(opened.encrypted).toBe(true);
    expect(opened.signature.status).toBe('valid');
    expect(opened.signature.signer).toBe('alice@example.test');
    expect(opened.subject).toBe('Quarterly numbers — secret');
    expect(opened.text).toContain('MARK-build-smime');
    expect(opened.attachments.map((a) => a.filename)).toContain('report.csv');
  });

  it('falls back to AES-256-CBC EnvelopedData with PKCS#1 v1.5 when a recipient is not known to read GCM', async () => {
    const built = await buildSmimeMessage(input, {
      signer: dave, // ECDSA P-384 signer
      recipients: [
        { certificate: cert('bob'), rsaPadding: 'pkcs1', gcm: true },
        { certificate: cert('alice') },
      ],
    });
    expect(built.contentEncryption).toBe('aes-256-cbc');
    expect(new TextDecoder().decode(built.message)).toMatch(/smime-type=enveloped-data/);
    for (const who of ['bob', 'alice']) expect(opensslOpen(built.message, who)).toContain('MARK-build-smime');
    const opened = await openMessage(built.message, { keyring: await keyring('alice') });
    expect(opened.signature.signer).toBe('dave@example.test');
    expect(opened.subject).toBe('Quarterly numbers — secret');
  });

  it('encrypts only (no signer), and a password copy opens with openssl -pwri_password and openMessage', async () => {
    const built = await buildSmimeMessage(input, {
      recipients: [{ certificate: cert('bob') }],
      passwords: ['correct horse battery staple'],
    });
    expect(opensslOpen(built.message, 'bob', false)).toContain('MARK-build-smime');
    const m = join(tmp, 'pw.eml');
    writeFileSync(m, built.message);
    const out = run(['cms', '-decrypt', '-in', m, '-pwri_password', 'correct horse battery staple']);
    expect(out).toContain('MARK-build-smime');
    const opened = await openMessage(built.message, {
      keyring: new MemoryKeyring(),
      password: 'correct horse battery staple',
    });
    expect(opened.signature.status).toBe('none');
    expect(opened.subject).toBe('Quarterly numbers — secret');
    await expect(
      openMessage(built.message, { keyring: new MemoryKeyring(), password: 'wrong' }),
    ).rejects.toMatchObject({ code: 'bad-password' });
  });

  it('encrypts to an ML-KEM certificate (KEMRecipientInfo) beside an RSA one; both open it', async () => {
    // No peer on this machine writes or reads ML-KEM CMS (OpenSSL 3.0): openMessage reads the KEM
    // recipient (its reader is tested against Bouncy Castle's vectors), openssl the RSA one.
    const pq = await generatePostQuantumIdentity('Erin PQ', 'erin-pq@example.test');
    const kem = pq.find((e) => e.label.includes('ML-KEM')) ?? pq[pq.length - 1]!;
    const built = await buildSmimeMessage(input, {
      signer: alice,
      recipients: [
        { certificate: kem.certificate, gcm: true },
        { certificate: cert('bob'), gcm: true },
      ],
    });
    expect(new TextDecoder().decode(built.message)).toMatch(/smime-type=authEnveloped-data/);
    expect(opensslOpen(built.message, 'bob')).toContain('MARK-build-smime');
    const root = await importKeyFile(readFileSync(join(K, 'root.pem')), { trusted: true });
    const opened = await openMessage(built.message, { keyring: new MemoryKeyring([...pq, ...root]) });
    expect(opened.layers[0]).toMatchObject({ kind: 'encrypted' });
    expect(JSON.stringify(opened.layers[0])).toContain('ML-KEM-768');
    expect(opened.signature.status).toBe('valid');
    expect(opened.subject).toBe('Quarterly numbers — secret');
  });

  it('refuses a message without any recipient', async () => {
    await expect(buildSmimeMessage(input, { recipients: [] })).rejects.toMatchObject({ code: 'malformed' });
  });
});
