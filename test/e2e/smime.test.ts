/**
 * S/MIME in a real Chromium against a real server, over the OpenSSL-made corpus: RSA PKCS#1 v1.5 and
 * OAEP, ECDH, AES-GCM, 3DES with a legacy .p12, password (PWRI), detached and opaque signatures,
 * sign-then-encrypt, tampered, untrusted, From-mismatch, truncated, not for us. The server's trust
 * anchor (the corpus CA, `--trust-anchors`) reaches the app in its page.
 *
 * Importing the PKCS#12 keys is the code under test: if it breaks, these cases fail (they used to be
 * skipped while core/smime was being written, which let a broken import pass CI as 14 skips).
 */
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireChromium } from '../helpers/browser.ts';
import { CORPUS, requireShared } from '../helpers/paths.ts';
import {
  SHOTS,
  checkCase,
  deliveryState,
  newPage,
  secretLeaks,
  startE2E,
  type E2E,
} from './helpers.ts';

const ready =
  requireChromium('receiver e2e (S/MIME)') && requireShared('receiver e2e over the S/MIME corpus');

describe.skipIf(!ready)('receiver e2e: S/MIME', () => {
  let e: E2E;
  let page: Page;
  let errors: string[];
  const check = (name: string, p: Page = page) =>
    checkCase(e, p, CORPUS, name, { keyringPassphrase: 'bob-pass', shotPrefix: 'smime' });

  beforeAll(async () => {
    e = await startE2E();
    ({ page, errors } = await newPage(e));
  });
  afterAll(async () => {
    await e?.close();
  });

  it('03 RSA PKCS#1 v1.5 + AES-256-CBC: imports bob.p12 (kept), attachment saved', async () => {
    await check('03-smime-enveloped-rsa15-aes256cbc');
  });
  it('04 RSA-OAEP (keyring unlocked with its passphrase)', async () => {
    await check('04-smime-enveloped-rsa-oaep');
  });
  it('06 AuthEnvelopedData AES-256-GCM', async () => {
    await check('06-smime-authenveloped-aes256gcm');
  });
  it('08 sign-then-encrypt: "Signed by alice@example.org — verified"', async () => {
    const { text } = await check('08-smime-sign-then-encrypt');
    expect(text).toContain('Signed by alice@example.org — verified');
    // The certificate dialog: subject, issuer chain up to the server's anchor, fingerprints, usage.
    await page.getByRole('button', { name: 'Show certificate' }).click();
    const dialog = page.getByRole('dialog', { name: 'Signer’s certificate' });
    await dialog.waitFor();
    const words = await dialog.innerText();
    await page.screenshot({ path: join(SHOTS, 'smime-certificate-dialog.png') });
    expect(words).toContain('alice@example.org');
    expect(words).toMatch(/Issuer\s+.*Public Corpus Issuing CA/);
    expect(words).toMatch(/SHA-256 fingerprint\s+([0-9A-F]{4} ){15}[0-9A-F]{4}/);
    expect(words).toMatch(
      /Issued through\s+CN=Public Corpus Issuing CA.*\s+CN=Public Corpus Root CA.*\(trusted root\)/,
    );
    expect(words).toMatch(/Key usage\s+\S/);
    await dialog.getByRole('button', { name: 'Close' }).click();
  });
  it('01 detached signature, chained to the server’s trust anchor', async () => {
    await check('01-smime-signed-detached');
  });
  it('02 opaque signature', async () => {
    await check('02-smime-signed-opaque');
  });
  it('10 tampered: invalid, no content, never "verified", reported failed', async () => {
    const { text, delivered } = await check('10-smime-signed-tampered');
    expect(text).not.toContain('MARK-');
    const s = await deliveryState(e.t, delivered);
    expect(s.events.map((x) => x.type)).toContain('receiver-failed');
  });
  it('11 untrusted signer: "not verified"', async () => {
    await check('11-smime-signed-untrusted');
  });
  it('12 From ≠ signer: a warning, not "verified"', async () => {
    await check('12-smime-signed-from-mismatch');
  });
  it('09 password (PWRI): the message password opens it', async () => {
    await check('09-smime-password-pwri');
  });
  it('13 truncated: plain words, receipt "failed"', async () => {
    const { text, delivered } = await check('13-smime-enveloped-truncated');
    expect(text).toMatch(/incomplete|cannot be read/);
    await expect
      .poll(async () => (await deliveryState(e.t, delivered)).events.map((x) => x.type))
      .toContain('receiver-failed');
  });
  it('14 not for this key: says for whom it is encrypted', async () => {
    const { text } = await check('14-smime-enveloped-no-matching-key');
    expect(text).toMatch(/It is encrypted for: .+/);
  });
  it('07 3DES with a legacy .p12 (fresh browser)', async () => {
    const fresh = await newPage(e);
    await check('07-smime-enveloped-3des-legacy-p12', fresh.page);
    await fresh.context.close();
  });
  it('05 ECDH P-256 with carol.p12 (fresh browser)', async () => {
    const fresh = await newPage(e);
    await check('05-smime-enveloped-ecdh-p256', fresh.page);
    await fresh.context.close();
  });

  it('no page error, and no request carried a link secret', () => {
    expect(errors).toEqual([]);
    expect(secretLeaks(e)).toEqual([]);
  });
});
