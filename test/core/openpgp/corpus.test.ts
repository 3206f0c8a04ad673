/**
 * The OpenPGP messages of ../shared/corpus (15–22), opened at the OpenPGP level: the armored
 * blocks and PGP/MIME parts are taken out of the .eml here; whole messages are open.ts's test.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { MemoryKeyring } from '../../../src/core/index.ts';
import { decryptOpenPgp, openOpenPgpSigned, verifyOpenPgpDetached } from '../../../src/core/openpgp/index.ts';
import { CORPUS, requireShared } from '../../helpers/paths.ts';
import {
  armorBlock,
  context,
  corpusKey,
  keyringOf,
  latin1,
  parseEml,
  read,
  sealpostError,
  splitParts,
  text,
} from './helpers.ts';

const message = (name: string): Uint8Array => read(join(CORPUS, 'messages', `${name}.eml`));
const expected = (name: string): Record<string, unknown> =>
  JSON.parse(readFileSync(join(CORPUS, 'expected', `${name}.json`), 'utf8')) as Record<string, unknown>;
const key = (name: string): string => corpusKey(CORPUS, name);

describe.skipIf(!requireShared('the shared corpus (OpenPGP messages)'))('OpenPGP: ../shared/corpus', () => {
  let keyring: MemoryKeyring;
  beforeAll(async () => {
    keyring = await keyringOf([
      { path: key('bob.sec.asc'), passphrase: 'bob-pass' },
      { path: key('alice.pub.asc'), trusted: true },
    ]);
  });

  it('15: inline signed+encrypted: decrypts and verifies the combined signature', async () => {
    const name = '15-pgp-inline-signed-encrypted';
    const eml = parseEml(message(name));
    const r = await decryptOpenPgp(armorBlock(eml.body), context(keyring, eml.from));
    expect(text(r.content)).toContain(expected(name).textContains);
    expect(r.layer).toMatchObject({ kind: 'encrypted', format: 'openpgp', integrityProtected: true });
    expect(r.layer.contentAlgorithm).toBe('AES-256');
    expect(r.layer.recipients[0]).toMatchObject({ type: 'openpgp-public-key', algorithm: 'RSA' });
    expect(r.layer.openedBy).toMatchObject({ recipient: 0 });
    expect(r.signed?.signatures).toHaveLength(1);
    const sig = r.signed!.signatures[0]!;
    expect(sig).toMatchObject({
      status: 'valid',
      signer: 'alice@example.org',
      fromMatches: true,
      problems: [],
    });
    expect(sig.digestAlgorithm).toMatch(/^SHA-(256|512)$/);
    expect(sig.signedAt).toMatch(/^2026-/);
    expect(sig.openpgpKey).toMatchObject({
      version: 4,
      userIds: [expect.stringContaining('alice@example.org')],
    });
    expect(sig.openpgpKey!.fingerprint).toMatch(/^[0-9a-f]{40}$/);
  });

  it('16: PGP/MIME encrypted with a combined signature', async () => {
    const name = '16-pgpmime-encrypted-combined-signature';
    const eml = parseEml(message(name));
    expect(eml.contentType).toBe('multipart/encrypted');
    const parts = splitParts(eml.body, eml.boundary!);
    const encrypted = parseEml(parts[1]!).body;
    const r = await decryptOpenPgp(encrypted, context(keyring, eml.from));
    expect(latin1(r.content)).toContain(expected(name).textContains);
    expect(r.signed!.signatures[0]).toMatchObject({
      status: 'valid',
      signer: 'alice@example.org',
      fromMatches: true,
    });
  });

  it('17: PGP/MIME signed-then-encrypted: the decrypted content is a PGP/MIME signed entity', async () => {
    const name = '17-pgpmime-signed-then-encrypted';
    const eml = parseEml(message(name));
    const parts = splitParts(eml.body, eml.boundary!);
    const r = await decryptOpenPgp(parseEml(parts[1]!).body, context(keyring, eml.from));
    expect(r.signed).toBeNull();
    const inner = parseEml(r.content);
    expect(inner.contentType).toBe('multipart/signed');
    const innerParts = splitParts(inner.body, inner.boundary!);
    const layer = await verifyOpenPgpDetached(
      innerParts[0]!,
      parseEml(innerParts[1]!).body,
      context(keyring, eml.from),
    );
    expect(layer.format).toBe('pgp-mime');
    expect(layer.signatures[0]).toMatchObject({
      status: 'valid',
      signer: 'alice@example.org',
      fromMatches: true,
    });
    expect(latin1(innerParts[0]!)).toContain(expected(name).textContains);
  });

  const detached = async (name: string, from?: string | null) => {
    const eml = parseEml(message(name));
    expect(eml.contentType).toBe('multipart/signed');
    const parts = splitParts(eml.body, eml.boundary!);
    expect(latin1(parts[0]!)).toContain('\r\n'); // the exact CRLF bytes of the signed part
    return verifyOpenPgpDetached(parts[0]!, parseEml(parts[1]!).body, context(keyring, from ?? eml.from));
  };

  it('18: PGP/MIME signed', async () => {
    const layer = await detached('18-pgpmime-signed');
    expect(layer.signatures).toHaveLength(1);
    expect(layer.signatures[0]).toMatchObject({
      status: 'valid',
      signer: 'alice@example.org',
      fromMatches: true,
    });
  });

  it('18: fromMatches is false for another From address, null without one', async () => {
    expect((await detached('18-pgpmime-signed', 'mallory@example.com')).signatures[0]).toMatchObject({
      status: 'valid',
      signer: 'alice@example.org',
      fromMatches: false,
    });
    const eml = parseEml(message('18-pgpmime-signed'));
    const parts = splitParts(eml.body, eml.boundary!);
    const layer = await verifyOpenPgpDetached(parts[0]!, parseEml(parts[1]!).body, context(keyring, null));
    expect(layer.signatures[0]).toMatchObject({ status: 'valid', fromMatches: null });
  });

  it('18: the same signature over LF (not canonical) content is invalid', async () => {
    const eml = parseEml(message('18-pgpmime-signed'));
    const parts = splitParts(eml.body, eml.boundary!);
    const lf = new TextEncoder().encode(latin1(parts[0]!).replace(/\r\n/g, '\n'));
    // text-mode signatures canonicalise line ends themselves; binary ones must not: either way the
    // result is a definite status, never an exception.
    const layer = await verifyOpenPgpDetached(lf, parseEml(parts[1]!).body, context(keyring, eml.from));
    expect(['valid', 'invalid']).toContain(layer.signatures[0]!.status);
  });

  it('18: a known but untrusted signer is untrusted', async () => {
    const untrusted = await keyringOf([{ path: key('alice.pub.asc'), trusted: false }]);
    const eml = parseEml(message('18-pgpmime-signed'));
    const parts = splitParts(eml.body, eml.boundary!);
    const layer = await verifyOpenPgpDetached(
      parts[0]!,
      parseEml(parts[1]!).body,
      context(untrusted, eml.from),
    );
    expect(layer.signatures[0]).toMatchObject({
      status: 'untrusted',
      signer: 'alice@example.org',
      fromMatches: true,
    });
    expect(layer.signatures[0]!.problems.join(' ')).toMatch(/not trusted/);
  });

  it('19: PGP/MIME signed, tampered: invalid', async () => {
    const layer = await detached('19-pgpmime-signed-tampered');
    expect(expected('19-pgpmime-signed-tampered').signature).toBe('invalid');
    expect(layer.signatures[0]!.status).toBe('invalid');
  });

  it('20: PGP/MIME signed by an unknown key: unknown-signer', async () => {
    const layer = await detached('20-pgpmime-signed-unknown-key');
    expect(layer.signatures[0]).toMatchObject({ status: 'unknown-signer', signer: null, fromMatches: null });
    expect(layer.signatures[0]!.problems[0]).toMatch(/key ID [0-9a-f]{16}/);
  });

  it('21: password message', async () => {
    const name = '21-pgp-inline-password';
    const eml = parseEml(message(name));
    const r = await decryptOpenPgp(
      armorBlock(eml.body),
      context(keyring, eml.from, { password: expected(name).password as string }),
    );
    expect(text(r.content)).toContain(expected(name).textContains);
    expect(r.signed).toBeNull();
    expect(r.layer.recipients).toEqual([expect.objectContaining({ type: 'openpgp-password' })]);
    expect(r.layer.openedBy).toMatchObject({ description: 'the password' });
    expect(r.layer.contentAlgorithm).toBe('AES-256');
  });

  it('21: a password message without a password: bad-password, passwordRequired', async () => {
    const eml = parseEml(message('21-pgp-inline-password'));
    const e = await sealpostError(() => decryptOpenPgp(armorBlock(eml.body), context(keyring, eml.from)));
    expect(e.code).toBe('bad-password');
    expect(e.details.passwordRequired).toBe(true);
  });

  it('22: wrong password: bad-password', async () => {
    const name = '22-pgp-inline-wrong-password';
    const eml = parseEml(message(name));
    const e = await sealpostError(() =>
      decryptOpenPgp(
        armorBlock(eml.body),
        context(keyring, eml.from, { password: expected(name).password as string }),
      ),
    );
    expect(e.code).toBe(expected(name).error);
  });

  it('no secret key: no-matching-key naming the recipients (with user IDs of known keys)', async () => {
    const eml = parseEml(message('15-pgp-inline-signed-encrypted'));
    const bare = await keyringOf([]);
    const e = await sealpostError(() => decryptOpenPgp(armorBlock(eml.body), context(bare, eml.from)));
    expect(e.code).toBe('no-matching-key');
    const recipients = e.details.recipients as string[];
    expect(recipients.length).toBeGreaterThan(0);
    expect(recipients[0]).toMatch(/key ID [0-9a-f]{16}/);
    const knowsBob = await keyringOf([{ path: key('bob.pub.asc') }]);
    const e2 = await sealpostError(() => decryptOpenPgp(armorBlock(eml.body), context(knowsBob, eml.from)));
    expect(e2.code).toBe('no-matching-key');
    expect((e2.details.recipients as string[])[0]).toMatch(/bob@example\.net/);
  });

  it('a signed-only message given to decrypt says notEncrypted; openOpenPgpSigned refuses encrypted data', async () => {
    const eml = parseEml(message('15-pgp-inline-signed-encrypted'));
    const e = await sealpostError(() => openOpenPgpSigned(armorBlock(eml.body), context(keyring, eml.from)));
    expect(e.code).toBe('malformed');
  });
});
