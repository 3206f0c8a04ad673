/**
 * The PGP/MIME message builder against real peers: gpg decrypts what core builds and verifies
 * alice's signature; Sealpost's openMessage opens it and shows the protected (RFC 9788) headers; a
 * password (SKESK) copy opens with gpg --passphrase and with openMessage.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MemoryKeyring, importKeyFile, openMessage } from '../../../src/core/index.ts';
import { buildPgpMimeMessage, type ComposeInput } from '../../../src/core/compose.ts';
import { FIXTURES, requireFixtures } from '../../helpers/paths.ts';

requireFixtures('PGP/MIME builder tests (alice, bob, carol OpenPGP keys)');
const K = join(FIXTURES, 'keys');
const tmp = mkdtempSync(join(tmpdir(), 'sealpost-pgp-build-'));
const home = join(tmp, 'gnupg');
// A copy of the fixtures' GnuPG home (its sockets left behind): gpg never writes to the fixtures.
cpSync(join(FIXTURES, 'gnupg'), home, { recursive: true, filter: (src) => !/\/S\.[^/]*$/.test(src) });
afterAll(() => {
  try {
    execFileSync('gpgconf', ['--homedir', home, '--kill', 'gpg-agent'], { stdio: 'ignore' });
  } catch {
    // no agent was started
  }
  rmSync(tmp, { recursive: true, force: true });
});

const key = (name: string): string => readFileSync(join(K, name), 'utf8');

const input: ComposeInput = {
  from: 'Alice Test <alice@example.test>',
  to: ['bob@example.test', 'carol@example.test'],
  subject: 'Protected plans ✓',
  date: new Date('2026-12-02T12:00:00Z'),
  text: 'MARK-build-pgp\nSecond line.\n',
};

/** gpg --decrypt of the PGP/MIME body part; returns the plaintext and gpg's status lines. */
function gpgDecrypt(message: Uint8Array, passphrase: string): { out: string; status: string } {
  const armored = /-----BEGIN PGP MESSAGE-----[\s\S]*?-----END PGP MESSAGE-----/.exec(
    new TextDecoder().decode(message),
  )?.[0];
  expect(armored).toBeTruthy();
  const f = join(tmp, 'm.asc');
  writeFileSync(f, armored!);
  const statusFile = join(tmp, 'status');
  const out = execFileSync(
    'gpg',
    [
      '--homedir',
      home,
      '--batch',
      '--no-tty',
      '--pinentry-mode',
      'loopback',
      '--passphrase',
      passphrase,
      '--trust-model',
      'always',
      '--status-file',
      statusFile,
      '--decrypt',
      f,
    ],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
  );
  return { out, status: readFileSync(statusFile, 'utf8') };
}

describe('buildPgpMimeMessage', () => {
  it('signs and encrypts to several keys; gpg decrypts and verifies; openMessage shows the protected headers', async () => {
    const built = await buildPgpMimeMessage(input, {
      signingKey: key('alice.pgp.sec.asc'),
      encryptionKeys: [key('bob.pgp.pub.asc'), key('carol.pgp.pub.asc'), key('alice.pgp.pub.asc')],
    });
    const text = new TextDecoder().decode(built.message);
    expect(text).toMatch(/multipart\/encrypted; protocol="application\/pgp-encrypted"/);
    expect(text).toMatch(/^Subject: \.\.\.\r$/m);
    expect(text).not.toContain('Protected plans');
    for (const pass of ['bob-pass', 'carol-pass']) {
      const { out, status } = gpgDecrypt(built.message, pass);
      expect(out).toContain('MARK-build-pgp');
      expect(out).toMatch(/hp="cipher"/);
      expect(status).toMatch(/^\[GNUPG:\] GOODSIG \S+ Alice Test <alice@example.test>/m);
      expect(status).toMatch(/^\[GNUPG:\] VALIDSIG /m);
    }
    const keyring = new MemoryKeyring([
      ...(await importKeyFile(readFileSync(join(K, 'bob.pgp.sec.asc')), { passphrase: 'bob-pass' })),
      ...(await importKeyFile(readFileSync(join(K, 'alice.pgp.pub.asc')), { trusted: true })),
    ]);
    const opened = await openMessage(built.message, { keyring });
    expect(opened.protocol).toBe('pgp-mime');
    expect(opened.encrypted).toBe(true);
    expect(opened.signature.status).toBe('valid');
    expect(opened.subject).toBe('Protected plans ✓');
    expect(opened.to).toEqual(['bob@example.test', 'carol@example.test']);
    expect(opened.text).toContain('MARK-build-pgp');
  });

  it('a password (SKESK) copy opens with gpg and with openMessage', async () => {
    const built = await buildPgpMimeMessage(input, {
      encryptionKeys: [],
      passwords: ['correct horse battery'],
    });
    expect(gpgDecrypt(built.message, 'correct horse battery').out).toContain('MARK-build-pgp');
    const opened = await openMessage(built.message, {
      keyring: new MemoryKeyring(),
      password: 'correct horse battery',
    });
    expect(opened.subject).toBe('Protected plans ✓');
    expect(opened.signature.status).toBe('none');
  });

  it('refuses a message without any recipient', async () => {
    await expect(buildPgpMimeMessage(input, { encryptionKeys: [] })).rejects.toMatchObject({
      code: 'malformed',
    });
  });
});
