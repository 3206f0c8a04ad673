/**
 * OpenPGP in a real Chromium against a real server: corpus messages (gpg-made) and the project's
 * fixtures, each submitted, picked up from the outbox link, opened as the recipient would (key
 * file, keyring unlock, message password), checked against the expected JSON: marker text, the
 * signature panel in words, attachment SHA-256 of the saved files, delivery state on the server.
 * Also: the keyring survives a reload, unlocks with its passphrase, and is encrypted at rest.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CORPUS, FIXTURES, requireFixtures, requireShared } from '../helpers/paths.ts';
import { requireChromium } from '../helpers/browser.ts';
import {
  checkCase,
  corpusKey,
  deliver,
  deliveryState,
  importOnKeysPage,
  newPage,
  secretLeaks,
  signatureText,
  startE2E,
  type CaseExpected,
  type E2E,
} from './helpers.ts';

const ready = requireChromium('receiver e2e (OpenPGP)') && requireShared('receiver e2e over the corpus');
const fixtures = requireFixtures('receiver e2e over the project fixtures');

const corpusCase = (name: string): CaseExpected =>
  JSON.parse(readFileSync(join(CORPUS, 'expected', `${name}.json`), 'utf8')) as CaseExpected;

describe.skipIf(!ready)('receiver e2e: OpenPGP', () => {
  let e: E2E;
  let context: BrowserContext;
  let page: Page;
  let errors: string[];

  beforeAll(async () => {
    e = await startE2E();
    ({ page, context, errors } = await newPage(e));
    // The recipient knows Alice's key: imported once, as a trusted signer, on the Keys page.
    await page.goto(`${e.t.url}/receiver/`);
  });
  afterAll(async () => {
    await e?.close();
  });

  /** Submits a corpus or fixture message, opens it, checks what the expected JSON says. */
  const check = async (dir: string, name: string, opts: { keyringPassphrase?: string } = {}) => {
    const r = await checkCase(e, page, dir, name, { ...opts, shotPrefix: 'openpgp' });
    return { text: r.text, page };
  };

  it('trusts Alice’s key from the Keys page', async () => {
    await importOnKeysPage(page, corpusKey('alice.pub.asc'), true);
    expect(await page.locator('section:has(#trusted)').innerText()).toContain('alice@example.org');
  });

  it('16 PGP/MIME encrypted + signed: imports bob’s key, verified, attachment saved, processed', async () => {
    await check(CORPUS, '16-pgpmime-encrypted-combined-signature');
    expect(await signatureText(page)).toContain('Signed by alice@example.org — verified');
  });

  it('the keyring is stored encrypted: no secret key material in IndexedDB', async () => {
    const dump = await page.evaluate(async () => {
      const db = await new Promise<IDBDatabase>((resolve, reject) => {
        const r = indexedDB.open('sealpost-keyring');
        r.onsuccess = () => resolve(r.result);
        r.onerror = () => reject(r.error);
      });
      const all = (store: string) =>
        new Promise<unknown[]>((resolve, reject) => {
          const r = db.transaction(store).objectStore(store).getAll();
          r.onsuccess = () => resolve(r.result);
          r.onerror = () => reject(r.error);
        });
      const text = (v: unknown): string =>
        JSON.stringify(v, (_k, x: unknown) =>
          x instanceof Uint8Array ? `bytes:${new TextDecoder('latin1').decode(x)}` : x,
        );
      const entries = (await all('entries')) as { type: string; entry?: unknown; sealed?: Uint8Array }[];
      return {
        text: text(await all('meta')) + text(entries),
        privates: entries
          .filter((x) => x.type.endsWith('-private'))
          .map((x) => ({ clear: !!x.entry, sealed: x.sealed?.length ?? 0 })),
        meta: (await all('meta')) as { iterations: number }[],
      };
    });
    expect(dump.privates.length).toBeGreaterThan(0);
    for (const p of dump.privates) expect(p).toEqual({ clear: false, sealed: expect.any(Number) });
    expect(dump.privates.every((p) => p.sealed > 500)).toBe(true);
    expect(dump.meta[0]!.iterations).toBeGreaterThanOrEqual(600_000);
    expect(dump.text).not.toContain('PRIVATE KEY');
    expect(dump.text).not.toContain('pkcs8');
  });

  it('after a reload the keyring is locked and unlocks with its passphrase (15 inline signed+encrypted)', async () => {
    await page.reload();
    await page.getByRole('button', { name: 'Unlock', exact: true }).first().waitFor({ timeout: 20_000 });
    const { text } = await check(CORPUS, '15-pgp-inline-signed-encrypted', { keyringPassphrase: 'bob-pass' });
    expect(text).toContain('MARK-1d36f0cd');
  });

  it('a wrong keyring passphrase is refused in plain words', async () => {
    const d = await deliver(
      e.t,
      readFileSync(join(CORPUS, 'messages', '17-pgpmime-signed-then-encrypted.eml')),
    );
    await page.goto(d.link);
    await page.getByRole('button', { name: 'Unlock', exact: true }).waitFor();
    await page.getByLabel('Passphrase', { exact: true }).fill('not-the-pass');
    await page.getByRole('button', { name: 'Unlock', exact: true }).click();
    await expect.poll(() => page.locator('.form-error').count()).toBe(1);
    expect(await page.locator('.form-error').innerText()).toMatch(/passphrase does not unlock/);
    expect((await deliveryState(e.t, d)).state).toBe('opened');
  });

  it('17 PGP/MIME signed then encrypted', async () => {
    await check(CORPUS, '17-pgpmime-signed-then-encrypted', { keyringPassphrase: 'bob-pass' });
  });

  it('18 PGP/MIME signed only', async () => {
    await check(CORPUS, '18-pgpmime-signed');
  });

  it('19 tampered: "Invalid signature", nothing of the content, never "verified"', async () => {
    const { text } = await check(CORPUS, '19-pgpmime-signed-tampered');
    expect(text).not.toContain('MARK-');
    expect(await page.locator('.body').count()).toBe(0);
  });

  it('20 unknown signer: content shown, signature "not verified"', async () => {
    await check(CORPUS, '20-pgpmime-signed-unknown-key');
  });

  it('21 password-encrypted: asks for the message password', async () => {
    await check(CORPUS, '21-pgp-inline-password');
  });

  it('22 a wrong message password is refused, and the prompt stays', async () => {
    const { text } = await check(CORPUS, '22-pgp-inline-wrong-password');
    expect(text).toMatch(/password does not open this message/);
    expect(corpusCase('22-pgp-inline-wrong-password').error).toBe('bad-password');
  });

  it.skipIf(!fixtures)(
    'fixture: PGP/MIME encrypted (key without passphrase, used for the session)',
    async () => {
      await check(FIXTURES, 'pgp-mime-encrypted', { keyringPassphrase: 'bob-pass' });
    },
  );

  it.skipIf(!fixtures)('fixture: P-384 key, two recipients', async () => {
    await check(FIXTURES, 'pgp-nistp384-two-recipients', { keyringPassphrase: 'bob-pass' });
  });

  it('no page error on the way', () => {
    expect(errors).toEqual([]);
  });

  it('no request ever carried a link secret in its URL or Referer', () => {
    expect(e.requests.length).toBeGreaterThan(20);
    expect(e.secrets.length).toBeGreaterThan(5);
    expect(secretLeaks(e)).toEqual([]);
    for (const r of e.requests) expect(r.referer ?? '').toBe('');
    // The secret did travel, in its header, to the pickup API only.
    const withSecret = e.requests.filter((r) => r.headers['x-sealpost-secret']);
    expect(withSecret.length).toBeGreaterThan(5);
    for (const r of withSecret) expect(new URL(r.url).pathname).toMatch(/^\/api\/v1\/pickup\//);
    void context;
  });
});
