/**
 * The server's minimal built-in receiver page (served when no built receiver app exists): it reads
 * the secret from the link, takes it out of the address bar, keeps working on reload, and never sends
 * it anywhere but in the pickup requests' header.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { builtinAssets } from '../../src/server/pickup/assets.ts';
import { launchChromium, requireChromium, type LaunchedBrowser } from '../helpers/browser.ts';
import { CORPUS, requireShared } from '../helpers/paths.ts';
import { linkIn, outbox, startTestServer, submit, waitUntil, type TestServer } from '../server/helpers.ts';

const ready = requireChromium('minimal receiver page') && requireShared('minimal receiver page');

describe.skipIf(!ready)('minimal built-in receiver page', () => {
  let t: TestServer;
  let b: LaunchedBrowser;
  beforeAll(async () => {
    t = await startTestServer({ receiverAssets: builtinAssets('Sealpost') });
    b = await launchChromium();
  }, 60_000);
  afterAll(async () => {
    await b?.close();
    await t?.close();
  });

  it('hides the secret from the address bar and keeps working on reload', async () => {
    const message = readFileSync(join(CORPUS, 'messages/03-smime-enveloped-rsa15-aes256cbc.eml'));
    expect((await submit(t, message)).status).toBe(201);
    await waitUntil(async () => (await outbox(t.url)).length > 0);
    const { link, secret } = linkIn((await outbox(t.url))[0]!.text);
    const page = await b.browser.newPage();
    const urls: string[] = [];
    page.on('request', (r) => urls.push(r.url() + ' ' + (r.headers()['referer'] ?? '')));
    await page.goto(link);
    await page
      .getByText(/Save the encrypted message|encrypted message/i)
      .first()
      .waitFor({ timeout: 20_000 });
    expect(page.url()).not.toContain(secret);
    await page.reload();
    await page
      .getByText(/Save the encrypted message|encrypted message/i)
      .first()
      .waitFor({ timeout: 20_000 });
    expect(page.url()).not.toContain(secret);
    expect(urls.filter((u) => u.includes(secret))).toEqual([]);
    await page.close();
  });
});
