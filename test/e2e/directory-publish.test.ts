/**
 * Publishing from the Keys page: a recipient who opened a message with an imported PKCS#12 publishes
 * its certificate to the server's directory with one click (the delivery link is the proof of the
 * address); senders then find it at /api/v1/directory/:email.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireChromium } from '../helpers/browser.ts';
import { CORPUS, requireShared } from '../helpers/paths.ts';
import { checkCase, newPage, startE2E, type E2E } from './helpers.ts';

const ready =
  requireChromium('receiver e2e (publish a key)') && requireShared('receiver e2e over the S/MIME corpus');

describe.skipIf(!ready)('receiver e2e: publishing an imported certificate', () => {
  let e: E2E;
  let page: Page;
  beforeAll(async () => {
    e = await startE2E();
    ({ page } = await newPage(e));
  });
  afterAll(async () => {
    await e?.close();
  });

  it('publishes bob.p12’s certificate from the Keys page of his delivery', async () => {
    await checkCase(e, page, CORPUS, '03-smime-enveloped-rsa15-aes256cbc', {
      keyringPassphrase: 'bob-pass',
      shotPrefix: 'publish',
    });
    expect((await fetch(`${e.t.url}/api/v1/directory/bob@example.net`)).status).toBe(404);
    await page.getByRole('button', { name: 'Keys', exact: true }).click();
    const own = page
      .locator('section:has(#yours) li.entry, li.entry')
      .filter({ hasText: 'bob@example.net' })
      .first();
    await own.getByRole('button', { name: 'Publish' }).click();
    await page.locator('.form-status').filter({ hasText: 'Published' }).waitFor();
    const r = (await (await fetch(`${e.t.url}/api/v1/directory/bob@example.net`)).json()) as {
      entries: { kind: string; data: string; fingerprint: string }[];
    };
    expect(r.entries.map((x) => x.kind)).toEqual(['x509']);
    const mine = new X509Certificate(readFileSync(join(CORPUS, 'keys', 'bob.pem')));
    expect(r.entries[0]!.fingerprint).toBe(mine.fingerprint256.replace(/:/g, '').toLowerCase());
  });
});
