/**
 * Modern and post-quantum S/MIME in a real Chromium against a real server: each message is wrapped
 * as an S/MIME entity, submitted over HTTP, and opened through the link the notification carries.
 *
 *   ML-KEM-768 KEMRecipientInfo (Bouncy Castle), with its PKCS#8 key and certificate chosen together
 *   ML-DSA-65 (Bouncy Castle) and SLH-DSA (OpenSSL 3.5) SignedData chaining to ta.der as a trusted CA
 *   Ed25519 under the RFC 9216 Ed25519 CA; X25519 (HKDF) and ChaCha20-Poly1305 (draft-ireland-examples-cms)
 *   KEKRecipientInfo with the pre-shared key typed in (wrong, then right)
 *   a post-quantum pair generated on the Keys page, published, and a message encrypted to it
 *   tampered copies: altered ciphertext, altered signature
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildKemRecipientInfo } from '../../src/core/smime/kem-recipient.ts';
import { envelope } from '../core/smime/cms-build.ts';
import { cmsFields, flipAt, signedDataPlaces, wrapSmime } from '../core/smime/modern-helpers.ts';
import { requireChromium } from '../helpers/browser.ts';
import { FIXTURES, VECTORS, requireFixtures, requireShared } from '../helpers/paths.ts';
import {
  deliver,
  deliveryState,
  newPage,
  screenshot,
  secretLeaks,
  signatureText,
  startE2E,
  waitForState,
  waitShown,
  type Delivered,
  type E2E,
} from './helpers.ts';

const ready =
  requireChromium('receiver e2e (modern and post-quantum S/MIME)') &&
  requireShared('receiver e2e over the post-quantum vectors') &&
  requireFixtures('receiver e2e: the KEK fixture');

const PQC = join(VECTORS, 'pqc-cms');
const EXAMPLES = join(VECTORS, 'examples-cms');
const RFC9216 = join(VECTORS, 'rfc9216');
const KEM768 = join(PQC, 'bc', 'ml-kem-768-2.16.840.1.101.3.4.4.2');
const KEYRING = 'pq-keyring-pass';
const read = (p: string): Uint8Array => new Uint8Array(readFileSync(p));
const example = (n: string): Uint8Array => read(join(EXAMPLES, 'binary-files', `${n}.p7m`));
const exampleKey = (n: string): string => join(EXAMPLES, 'certs-and-keys', n);

describe.skipIf(!ready)('receiver e2e: modern and post-quantum S/MIME', () => {
  let e: E2E;
  const errors: string[] = [];
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    e = await startE2E();
  });
  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => undefined);
    await e?.close();
  });

  /** A fresh browser (no keyring), its errors collected. */
  async function fresh(): Promise<Page> {
    const p = await newPage(e);
    contexts.push(p.context);
    p.page.on('pageerror', (err) => errors.push(err.message));
    return p.page;
  }

  /**
   * The delivery becomes 'processed' (a message that needs no key only once a person acts on the
   * page, not when a link scanner loads it: a key press stands for that).
   */
  async function processed(page: Page, d: Delivered): Promise<void> {
    await page.keyboard.press('Shift');
    await waitForState(e.t, d, 'processed');
  }

  /** Waits until the page shows the message, a problem, or a form's verdict after a submit. */
  async function settle(page: Page): Promise<void> {
    await page.waitForFunction(
      () =>
        !document.querySelector('article[aria-busy="true"]') &&
        !Array.from(document.querySelectorAll('button[type=submit]')).some(
          (b) => (b as HTMLButtonElement).disabled,
        ),
      undefined,
      { timeout: 60_000 },
    );
    await waitShown(page);
  }

  /** Opens the link; if a key is asked for, chooses `files` together and imports them (kept). */
  async function openWithKeyFiles(page: Page, d: Delivered, files: string[]): Promise<string> {
    await page.goto(d.link);
    await waitShown(page, 60_000);
    if (files.length && (await page.getByLabel('Key file').count())) {
      await page.getByLabel('Key file').setInputFiles(files);
      await page.getByLabel('Passphrase', { exact: true }).fill(KEYRING);
      await page.getByRole('button', { name: 'Import key' }).click();
      await page
        .locator('.signature [role=status], .problem:not(.key-prompt .problem), .form-error')
        .first()
        .waitFor({ timeout: 60_000 });
    }
    return page.locator('main').innerText();
  }

  it('ML-KEM-768 (KEMRecipientInfo, AuthEnvelopedData, ukm): PKCS#8 key + certificate chosen together', async () => {
    const page = await fresh();
    const d = await deliver(e.t, wrapSmime(read(`${KEM768}_kemri_auth_id-alg-hkdf-with-sha256_ukm.der`)));
    const text = await openWithKeyFiles(page, d, [`${KEM768}_priv.der`, `${KEM768}_ee.der`]);
    await screenshot(page, 'modern-ml-kem-768');
    expect(text).toContain('Hello, World!');
    expect(text).toMatch(/Encrypted with ML-KEM-768 \(post-quantum, HKDF-SHA256\), AES-\d+-GCM\./);
    await processed(page, d);

    // The key was kept: a tampered copy (a changed kemct byte) unlocks the keyring and fails.
    const der = read(`${KEM768}_kemri_auth_id-alg-hkdf-with-sha256_ukm.der`);
    const ri = cmsFields(der)[1]!;
    const bad = await deliver(e.t, wrapSmime(flipAt(der, ri.contentStart + 120)));
    await page.goto(bad.link);
    await page.getByRole('button', { name: 'Unlock', exact: true }).waitFor({ timeout: 60_000 });
    await page.getByLabel('Passphrase', { exact: true }).fill(KEYRING);
    await page.getByRole('button', { name: 'Unlock', exact: true }).click();
    await page.locator('.problem h2', { hasText: 'The message was altered' }).waitFor({ timeout: 60_000 });
    expect(await page.locator('main').innerText()).not.toContain('Hello, World!');
    await expect
      .poll(async () => (await deliveryState(e.t, bad)).events.map((x) => x.type))
      .toContain('receiver-failed');
  });

  it('ML-DSA-65 and SLH-DSA SignedData chain to ta.der as a trusted CA; the dialog says post-quantum', async () => {
    const page = await fresh();
    const cases = [
      [
        'bc',
        'ml-dsa-65-2.16.840.1.101.3.4.3.18_signed_attrs.der',
        'ML-DSA-65 (post-quantum)',
        'BC ml-dsa-44 Test TA',
      ],
      [
        'ossl35',
        'slh-dsa-sha2-128s-2.16.840.1.101.3.4.3.20_signed_attrs.der',
        'SLH-DSA-SHA2-128s (post-quantum)',
        'OpenSSL 3.5 ml-dsa-44 Root',
      ],
    ] as const;
    for (const [dir, file] of cases) {
      const d = await deliver(e.t, wrapSmime(read(join(PQC, dir, file)), { smimeType: 'signed-data' }));
      await page.goto(d.link);
      await settle(page);
      // Without the anchor: the chain is not trusted.
      expect(await signatureText(page)).toMatch(/does not chain to a trusted certificate authority/);
    }
    // Trust both ta.der (Keys page), then the same messages chain to them.
    await page.getByRole('button', { name: 'Keys', exact: true }).click();
    const anchors = page.locator('section[aria-labelledby=trusted] li.entry');
    for (const dir of ['bc', 'ossl35']) {
      const before = await anchors.count();
      await page.getByLabel('Key file').setInputFiles(join(PQC, dir, 'ta.der'));
      await page.getByRole('checkbox', { name: /Trust this certificate/ }).check();
      await page.getByRole('button', { name: 'Import key' }).click();
      await expect.poll(() => anchors.count()).toBe(before + 1);
    }
    for (const [dir, file, keyName, root] of cases) {
      const content = readFileSync(join(PQC, dir, 'expected_plaintext.txt'), 'utf8').trim();
      const der = read(join(PQC, dir, file));
      const d = await deliver(e.t, wrapSmime(der, { smimeType: 'signed-data' }));
      await page.goto(d.link);
      await settle(page);
      const sig = await signatureText(page);
      expect(sig).not.toMatch(/does not chain|Invalid signature/);
      // The vectors' certificates name no e-mail address: never "verified" for a mail sender.
      expect(sig).toMatch(/names no e-mail address/);
      expect(sig).not.toMatch(/— verified/);
      const shown = await page.locator('main').innerText();
      expect(shown, shown).toContain(content);
      await page.getByRole('button', { name: 'Show certificate' }).click();
      const dialog = page.getByRole('dialog', { name: 'Signer’s certificate' });
      const words = await dialog.innerText();
      expect(words).toContain(keyName);
      expect(words).toContain('ML-DSA-44 (post-quantum)'); // the CA's signature on it
      expect(words).toMatch(new RegExp(`Issued through\\s+CN=${root}.*\\(trusted root\\)`));
      await screenshot(page, `modern-${file.slice(0, 9)}-dialog`);
      await dialog.getByRole('button', { name: 'Close' }).click();
      await processed(page, d);

      // A changed signature byte: invalid, nothing shown.
      const places = signedDataPlaces(der);
      const bad = await deliver(
        e.t,
        wrapSmime(flipAt(der, places.signatures[0]! - 10), { smimeType: 'signed-data' }),
      );
      await page.goto(bad.link);
      await settle(page);
      expect(await signatureText(page)).toMatch(/Invalid signature/);
      expect(await page.locator('main').innerText()).not.toContain(content);
    }
  });

  it('Ed25519 under the RFC 9216 Ed25519 CA: "Signed by carlos@smime.example — verified"', async () => {
    const page = await fresh();
    await page.goto(`${e.t.url}/receiver/`);
    await page
      .getByLabel('Key file')
      .setInputFiles(join(RFC9216, 'Sample_LAMPS_Ed25519_Certification_Authority.selfsigned.pem'));
    await page.getByRole('checkbox', { name: /Trust this certificate/ }).check();
    await page.getByRole('button', { name: 'Import key' }).click();
    await page.locator('.form-status').waitFor();
    const d = await deliver(
      e.t,
      wrapSmime(example('signedByCarlosEd25519'), { from: 'carlos@smime.example', smimeType: 'signed-data' }),
    );
    await page.goto(d.link);
    await settle(page);
    expect(await signatureText(page)).toContain('Signed by carlos@smime.example — verified');
    expect(await page.locator('main').innerText()).toContain('This is some sample content.');
    await page.getByRole('button', { name: 'Show certificate' }).click();
    const words = await page.getByRole('dialog', { name: 'Signer’s certificate' }).innerText();
    expect(words).toMatch(/Key\s+Ed25519/);
    expect(words).toMatch(/Signed with\s+Ed25519/);
    expect(words).not.toContain('post-quantum');
    await processed(page, d);
  });

  it('X25519 (HKDF) and ChaCha20-Poly1305: PKCS#8 PEM keys with their certificates', async () => {
    const cases = [
      [
        'authEnvelopedForDanaX25519HKDF',
        'lamps-dana.decrypt.p8.pem',
        'lamps-dana.encrypt.crt',
        /X25519 \(dhSinglePass-stdDH-hkdf-sha256\), AES-128-GCM/,
      ],
      [
        'authEnvelopedForBobChaCha20Poly1305',
        'lamps-bob.decrypt.p8.pem',
        'lamps-bob.encrypt.crt',
        /RSAES-OAEP-SHA256, ChaCha20-Poly1305/,
      ],
    ] as const;
    for (const [name, key, cert, algorithms] of cases) {
      const page = await fresh();
      const d = await deliver(e.t, wrapSmime(example(name)));
      const text = await openWithKeyFiles(page, d, [exampleKey(key), exampleKey(cert)]);
      await screenshot(page, `modern-${name}`);
      expect(text).toContain('This is some sample content.');
      expect(text).toMatch(algorithms);
      await processed(page, d);
    }
    // The key alone (no certificate chosen or kept): the prompt says what is missing.
    const page = await fresh();
    const d = await deliver(e.t, wrapSmime(example('authEnvelopedForDanaX25519HKDF')));
    await page.goto(d.link);
    await waitShown(page, 60_000);
    await page.getByLabel('Key file').setInputFiles(exampleKey('lamps-dana.decrypt.p8.pem'));
    await page.getByRole('button', { name: 'Import key' }).click();
    await page.locator('.form-error').waitFor({ timeout: 60_000 });
    expect(await page.locator('.form-error').innerText()).toMatch(/without its certificate/);
  });

  it('KEKRecipientInfo: asks for the pre-shared key by name; a wrong key is refused, the right one opens', async () => {
    const page = await fresh();
    const d = await deliver(e.t, readFileSync(join(FIXTURES, 'messages', 'smime-kek.eml')));
    await page.goto(d.link);
    await page.getByLabel('Pre-shared key').waitFor({ timeout: 60_000 });
    expect(await page.locator('main').innerText()).toMatch(/pre-shared key \(“team-key-1”\)/);
    await page.getByLabel('Pre-shared key').fill('00'.repeat(32));
    await page.getByRole('button', { name: 'Open message' }).click();
    await page.getByText(/is not correct/).waitFor({ timeout: 60_000 });
    await page
      .getByLabel('Pre-shared key')
      .fill('3c5f1e0a 9b8d7c6e 5f4a3b2c 1d0e0f1a 2b3c4d5e 6f708192 a3b4c5d6 e7f80910');
    await page.getByRole('button', { name: 'Open message' }).click();
    await page.locator('.signature [role=status]').waitFor({ timeout: 60_000 });
    expect(await page.locator('main').innerText()).toContain('MARK-smime-kek');
    await processed(page, d);
    // draft-ireland-examples-cms encryptedKekri: the prompt names its key identifier and size.
    const x = await deliver(e.t, wrapSmime(example('encryptedKekri')));
    await page.goto(x.link);
    await page.getByLabel('Pre-shared key').waitFor({ timeout: 60_000 });
    const words = await page.locator('main').innerText();
    expect(words).toMatch(/pre-shared key \(“keyid”\)/);
    expect(words).toMatch(/256 bits/);
  });

  it('Keys page: generates an ML-KEM-768 + ML-DSA-65 pair, publishes the ML-KEM certificate; mail to it opens', async () => {
    const page = await fresh();
    const to = 'quinn@example.net';
    const first = await deliver(e.t, wrapSmime(example('encryptedKekri'), { to }), to);
    await page.goto(first.link);
    await page.getByLabel('Pre-shared key').waitFor({ timeout: 60_000 });
    await page.getByRole('button', { name: 'Keys', exact: true }).click();
    await page.getByLabel('Passphrase', { exact: true }).first().fill(KEYRING);
    await page.getByRole('button', { name: 'Create keyring' }).click();
    await page.getByText('Keyring created and unlocked.').waitFor();
    await page.getByLabel('Kind').selectOption('smime-pq');
    await page.getByLabel('Name').fill('Quinn');
    await page.getByRole('button', { name: 'Generate key pair' }).click();
    await page
      .getByText(
        /Generated a new post-quantum S\/MIME key pair .* for quinn@example\.net\. Its public part is published/,
      )
      .waitFor({ timeout: 60_000 });
    // The certificate dialog of the encryption key names its algorithms plainly.
    await page
      .locator('li.entry', { hasText: 'ML-KEM-768, post-quantum encryption' })
      .getByRole('button', { name: 'Certificate' })
      .click();
    const dialog = page.getByRole('dialog', { name: /Certificate of/ });
    const words = await dialog.innerText();
    expect(words).toMatch(/Key\s+ML-KEM-768 \(post-quantum\)/);
    expect(words).toMatch(/Signed with\s+ML-DSA-65 \(post-quantum\)/);
    expect(words).toMatch(/Key usage\s+keyEncipherment/);
    await screenshot(page, 'modern-pq-keys-page');
    await dialog.getByRole('button', { name: 'Close' }).click();
    // Exported as PKCS#12 (to be imported in another browser below).
    const kemEntry = page.locator('li.entry', { hasText: 'ML-KEM-768, post-quantum encryption' });
    await kemEntry.getByLabel('Export password').fill('pq-export-pass');
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      kemEntry.getByRole('button', { name: 'Export', exact: true }).click(),
    ]);
    expect(download.suggestedFilename()).toMatch(/\.p12$/);
    const p12 = await download.path();

    // A sender looks the address up in the directory and encrypts to the ML-KEM certificate.
    const dir = (await (await fetch(`${e.t.url}/api/v1/directory/${to}`)).json()) as {
      entries: { kind: string; data: string }[];
    };
    expect(dir.entries.map((x) => x.kind)).toEqual(['x509']);
    const pem = dir.entries[0]!.data;
    const cert = new Uint8Array(Buffer.from(pem.replace(/-----[A-Z ]+-----|\s/g, ''), 'base64'));
    const body = new TextEncoder().encode(
      'Content-Type: text/plain; charset=utf-8\r\n\r\nMARK-pq-generated: harvest now, decrypt never.\r\n',
    );
    const der = await envelope(body, async (cek) => [await buildKemRecipientInfo(cert, cek)], 'aes-256-gcm');
    const d = await deliver(e.t, wrapSmime(der, { to }), to);
    await page.goto(d.link);
    await page.getByRole('button', { name: 'Unlock', exact: true }).waitFor({ timeout: 60_000 });
    await page.getByLabel('Passphrase', { exact: true }).fill(KEYRING);
    await page.getByRole('button', { name: 'Unlock', exact: true }).click();
    await page.locator('.signature [role=status]').waitFor({ timeout: 60_000 });
    const text = await page.locator('main').innerText();
    expect(text).toContain('MARK-pq-generated');
    expect(text).toMatch(/Encrypted with ML-KEM-768 \(post-quantum, HKDF-SHA256\), AES-256-GCM\./);
    await processed(page, d);

    // Another browser: the exported PKCS#12 (ML-KEM-768 key inside) opens the same message.
    const other = await fresh();
    await other.goto(d.link);
    await other.getByLabel('Key file').waitFor({ timeout: 60_000 });
    await other.getByLabel('Key file').setInputFiles(p12);
    await other.getByLabel('Passphrase', { exact: true }).fill('pq-export-pass');
    await other.getByRole('button', { name: 'Import key' }).click();
    await other.locator('.signature [role=status]').waitFor({ timeout: 60_000 });
    expect(await other.locator('main').innerText()).toContain('MARK-pq-generated');
  });

  it('no page error, and no request carried a link secret', () => {
    expect(errors).toEqual([]);
    expect(secretLeaks(e)).toEqual([]);
  });
});
