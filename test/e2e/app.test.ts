/**
 * The receiver app itself in a real Chromium: its delivery (CSP, SRI, security headers), the
 * sandboxed HTML body (remote images, CSS URLs and a form cause zero requests outside the origin,
 * while sanitized inline styles and data: images render), accessibility (axe-core, keyboard only),
 * the service worker and the version check, and that an OpenPGP message never loads the S/MIME half.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { unzipSync } from 'fflate';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireChromium } from '../helpers/browser.ts';
import { ROOT, requireShared } from '../helpers/paths.ts';
import {
  axeViolations,
  corpusKey,
  deliver,
  importKeyInPrompt,
  newPage,
  pgpMimeToBob,
  screenshot,
  secretLeaks,
  signatureText,
  startE2E,
  startEvilServer,
  waitForState,
  waitShown,
  type E2E,
} from './helpers.ts';

const ready = requireChromium('receiver e2e (app)') && requireShared('receiver e2e (app)');

/** A 2×2 red PNG. */
const PNG =
  'iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAFklEQVR4nGP8z8DAwMDAxMDAwMDAAAANHQEDasKb6QAAAABJRU5ErkJggg==';

/** An HTML mail that tries every way to reach out, encrypted with gpg to bob (PGP/MIME). */
function htmlMessage(evil: string): string {
  const html = `<html><head><style>.loud{font-weight:700;color:rgb(0,0,160)} body{background:url(${evil}/css-bg)}</style>
<link rel="stylesheet" href="${evil}/link.css"></head><body>
<p id="styled" style="color: rgb(200, 0, 0); font-size: 20px">Styled text MARK-html-7f3a</p>
<p class="loud">Loud class</p>
<img id="inline-img" alt="inline" src="data:image/png;base64,${PNG}">
<img alt="remote" src="${evil}/remote.png">
<img alt="cid" src="cid:logo@x">
<div style="background-image: url('${evil}/style-bg')">bg</div>
<div id="escaped" style="background: \\75 rl(${evil}/escaped)">escaped url</div>
<style>.esc{background:u\\rl(${evil}/escaped-sheet)}</style>
<table background="${evil}/table-bg"><tr><td>cell</td></tr></table>
<form action="${evil}/form" method="post"><input name="q" value="x"><button>Go</button></form>
<a href="${evil}/link">a link</a>
<video src="${evil}/v.mp4"></video><iframe src="${evil}/frame"></iframe>
<object data="${evil}/obj"></object>
<script>fetch('${evil}/script')</script>
<img src="x" onerror="fetch('${evil}/onerror')">
<svg><image href="${evil}/svg.png"/></svg>
</body></html>`;
  const inner = [
    'Content-Type: multipart/related; boundary="rel"',
    '',
    '--rel',
    'Content-Type: text/html; charset=utf-8',
    '',
    html,
    '--rel',
    'Content-Type: image/png',
    'Content-ID: <logo@x>',
    'Content-Transfer-Encoding: base64',
    '',
    PNG,
    '--rel',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Disposition: attachment; filename="notes.txt"',
    '',
    'NOTES-9c1e',
    '--rel--',
    '',
  ].join('\r\n');
  return pgpMimeToBob(inner, 'HTML with remote content');
}

describe.skipIf(!ready)('receiver e2e: the app', () => {
  let e: E2E;
  let evil: Awaited<ReturnType<typeof startEvilServer>>;
  let page: Page;
  let errors: string[];
  let htmlLink = '';

  beforeAll(async () => {
    e = await startE2E();
    evil = await startEvilServer();
    ({ page, errors } = await newPage(e));
  });
  afterAll(async () => {
    await e?.close();
    await evil?.close();
  });

  it('serves the page with a strict CSP, SRI on every script and stylesheet, no inline script', async () => {
    const d = await deliver(e.t, readFileSync(join(ROOT, '../shared/corpus/messages/18-pgpmime-signed.eml')));
    const res = await fetch(`${e.t.url}/m/${d.deliveryId}`);
    const csp = res.headers.get('content-security-policy') ?? '';
    const directives = new Map(
      csp.split(';').map((d) => {
        const [name, ...values] = d.trim().split(/\s+/);
        return [name!, values.join(' ')];
      }),
    );
    expect(directives.get('default-src')).toBe("'none'");
    expect(directives.get('script-src')).toBe("'self'");
    expect(directives.get('worker-src')).toBe("'self'");
    // https: only for the Web Key Directory of a sender's domain (docs/security.md).
    expect(directives.get('connect-src')).toBe("'self' https:");
    expect(directives.get('object-src')).toBe("'none'");
    expect(directives.get('base-uri')).toBe("'none'");
    expect(directives.get('frame-src')).toBe("'none'");
    expect(directives.get('frame-ancestors')).toBe("'none'");
    expect(csp).not.toContain('unsafe-');
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    const html = await res.text();
    const tags = html.match(/<(script|link)\b[^>]*>/g) ?? [];
    const code = tags.filter((t) => /\b(src|href)="\/receiver\/assets\//.test(t));
    expect(code.length).toBeGreaterThanOrEqual(2);
    for (const t of code) expect(t).toMatch(/integrity="sha384-[A-Za-z0-9+/=]{64}"/);
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)(?![^>]*type="application\/json")[^>]*>/);
    expect(html).toContain('id="sealpost-config"');
  });

  it('an HTML mail with remote images, CSS URLs and a form: zero requests outside the origin', async () => {
    const d = await deliver(e.t, htmlMessage(evil.url));
    htmlLink = d.link;
    const outside: string[] = [];
    const violations: string[] = [];
    page.on('request', (r) => {
      if (!r.url().startsWith(e.t.url) && !r.url().startsWith('data:') && !r.url().startsWith('blob:'))
        outside.push(r.url());
    });
    page.on('console', (m) => {
      if (/Content Security Policy/i.test(m.text())) violations.push(m.text());
    });
    await page.goto(d.link);
    await waitShown(page);
    await importKeyInPrompt(page, corpusKey('bob.sec.asc'), 'bob-pass');
    await page.locator('.signature [role=status]').waitFor({ timeout: 30_000 });
    const frame = page.frameLocator('iframe.html-frame');
    await frame.locator('#styled').waitFor();
    await page.waitForTimeout(500); // give anything that would load the time to try
    await screenshot(page, 'app-html-body');
    expect(outside).toEqual([]);
    expect(evil.hits).toEqual([]);
    // What was sanitized away is said, and the rest renders: inline styles (through the CSSOM)
    // and data: images (including the cid: image turned into data:).
    expect(await page.locator('.notice').innerText()).toMatch(/remote resources? (was|were) blocked/);
    // CSS escapes do not smuggle a url() past the sanitizer (the frame's policy would still block it).
    // (The browser's parser resolves the escape; the declaration that fetched is gone, what else the
    // shorthand set may stay: css-clean.ts.)
    expect((await frame.locator('#escaped').getAttribute('style')) ?? '').not.toMatch(/url|escaped/i);
    expect(await frame.locator('body').evaluate((b) => b.innerHTML)).not.toContain('escaped-sheet');
    const styled = await frame.locator('#styled').evaluate((el) => getComputedStyle(el).color);
    expect(styled).toBe('rgb(200, 0, 0)');
    expect(await frame.locator('.loud').evaluate((el) => getComputedStyle(el).fontWeight)).toBe('700');
    const widths = await frame
      .locator('img')
      .evaluateAll((imgs) =>
        imgs.map((i) => [(i as HTMLImageElement).alt, (i as HTMLImageElement).naturalWidth]),
      );
    expect(widths).toContainEqual(['inline', 2]);
    expect(widths).toContainEqual(['cid', 2]);
    expect(await frame.locator('form, input, script, iframe, object, video, svg').count()).toBe(0);
    // The frame is sandboxed without scripts.
    const sandbox = await page.locator('iframe.html-frame').getAttribute('sandbox');
    expect(sandbox?.split(/\s+/)).not.toContain('allow-scripts');
    // Parsing the raw mail (inertly, for the sanitizer) makes Chromium report what the page's CSP
    // would block in it (inline handlers, style attributes): reports only, nothing ran or loaded.
    expect(violations.every((v) => /violates the following Content Security Policy/.test(v))).toBe(true);
    await waitForState(e.t, d, 'processed');
    // "Save all": one ZIP with both files.
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: 'Save all' }).click(),
    ]);
    expect(download.suggestedFilename()).toBe('HTML with remote content attachments.zip');
    const files = unzipSync(new Uint8Array(readFileSync(await download.path())));
    expect(Object.keys(files).sort()).toEqual(['attachment-1.png', 'notes.txt']);
    expect(new TextDecoder().decode(files['notes.txt'])).toContain('NOTES-9c1e');
    expect(Buffer.from(files['attachment-1.png']!).toString('base64')).toBe(PNG);
  });

  it('axe-core finds no serious or critical violations (key prompt and message)', async () => {
    const run = axeViolations;
    // The message shown (from the previous test) ...
    expect(await run(page)).toEqual([]);
    // ... the key prompt, in a fresh browser profile ...
    const fresh = await newPage(e);
    const d = await deliver(
      e.t,
      readFileSync(join(ROOT, '../shared/corpus/messages/16-pgpmime-encrypted-combined-signature.eml')),
    );
    await fresh.page.goto(d.link);
    await fresh.page.getByLabel('Key file').waitFor();
    expect(await run(fresh.page)).toEqual([]);
    // ... and the keys page.
    await fresh.page.getByRole('button', { name: 'Keys', exact: true }).click();
    await fresh.page.getByRole('heading', { name: 'Your keys' }).waitFor();
    expect(await run(fresh.page)).toEqual([]);
    await fresh.context.close();
  });

  it('works by keyboard alone: key file, passphrase, import, save', async () => {
    const { page: p, context } = await newPage(e);
    const d = await deliver(
      e.t,
      readFileSync(join(ROOT, '../shared/corpus/messages/16-pgpmime-encrypted-combined-signature.eml')),
    );
    await p.goto(d.link);
    await p.getByLabel('Key file').waitFor();
    // Tab from the top of the page to the file field.
    await p.locator('body').focus();
    let onFile = false;
    for (let i = 0; i < 15 && !onFile; i++) {
      await p.keyboard.press('Tab');
      onFile = await p.evaluate(() => document.activeElement?.id === 'key-file');
    }
    expect(onFile).toBe(true);
    const [chooser] = await Promise.all([p.waitForEvent('filechooser'), p.keyboard.press('Space')]);
    await chooser.setFiles(corpusKey('bob.sec.asc'));
    await p.keyboard.press('Tab');
    expect(await p.evaluate(() => document.activeElement?.id)).toBe('key-passphrase');
    await p.keyboard.type('bob-pass');
    await p.keyboard.press('Enter');
    await p.locator('.signature [role=status]').waitFor({ timeout: 30_000 });
    expect(await signatureText(p)).toMatch(/unknown signer|verified/);
    // Tab to "Save photo.jpg" and press Enter: the download starts.
    let onSave = false;
    for (let i = 0; i < 20 && !onSave; i++) {
      await p.keyboard.press('Tab');
      onSave = await p.evaluate(() => document.activeElement?.textContent === 'Save photo.jpg');
    }
    expect(onSave).toBe(true);
    const [download] = await Promise.all([p.waitForEvent('download'), p.keyboard.press('Enter')]);
    expect(download.suggestedFilename()).toBe('photo.jpg');
    // The focus is visible (an outline) on the focused control.
    const outline = await p.evaluate(() => getComputedStyle(document.activeElement!).outlineStyle);
    expect(outline).not.toBe('none');
    await screenshot(p, 'app-keyboard');
    await context.close();
  });

  it('loads only the OpenPGP half for an OpenPGP message (never the S/MIME one)', async () => {
    const { page: p, context } = await newPage(e);
    const scripts: string[] = [];
    p.on('request', (r) => {
      if (r.url().endsWith('.js')) scripts.push(new URL(r.url()).pathname);
    });
    const d = await deliver(e.t, readFileSync(join(ROOT, '../shared/corpus/messages/18-pgpmime-signed.eml')));
    await p.goto(d.link);
    await p.locator('.signature [role=status]').waitFor({ timeout: 30_000 });
    // Chunks are named after the half they hold (vite.receiver.config.ts).
    expect(scripts.some((s) => /\/openpgp-/.test(s))).toBe(true);
    expect(scripts.filter((s) => /\/smime-/.test(s))).toEqual([]);
    await context.close();
  });

  it('installs its service worker and shows the version that /receiver/version.json names', async () => {
    const { page: p, context } = await newPage(e);
    await p.goto(`${e.t.url}/receiver/`);
    await p.getByRole('heading', { name: 'Your keys' }).waitFor();
    const scope = await p.evaluate(async () => {
      const reg = await navigator.serviceWorker.ready;
      return { scope: reg.scope, script: reg.active?.scriptURL ?? null };
    });
    expect(scope.scope).toBe(`${e.t.url}/`);
    expect(scope.script).toBe(`${e.t.url}/receiver/sw.js`);
    const version = (await (await fetch(`${e.t.url}/receiver/version.json`)).json()) as {
      version: string;
      build: string;
    };
    expect(await p.getByTestId('version').innerText()).toBe(version.version);
    expect(await p.locator('footer').innerText()).toContain(version.build.slice(0, 12));
    // The app caches itself: with the service worker in control, a reload needs no server for assets.
    await p.reload();
    expect(await p.evaluate(() => navigator.serviceWorker.controller?.scriptURL)).toBe(
      `${e.t.url}/receiver/sw.js`,
    );
    const cached = await p.evaluate(async () => {
      const names = await caches.keys();
      const c = await caches.open(names.find((n) => n.startsWith('sealpost-receiver-'))!);
      return (await c.keys()).map((r) => new URL(r.url).pathname);
    });
    expect(cached.some((u) => u.startsWith('/receiver/assets/index-'))).toBe(true);
    // Only the first load is precached: the halves are cached when a message first needs them.
    expect(cached.filter((u) => /\/(openpgp|smime)-/.test(u))).toEqual([]);
    await context.close();
  });

  it('Keys page: generates an OpenPGP key, publishes it to the directory, exports it', async () => {
    const { page: p, context } = await newPage(e);
    const d = await deliver(
      e.t,
      readFileSync(join(ROOT, '../shared/corpus/messages/18-pgpmime-signed.eml')),
      'dora@example.net',
    );
    await p.goto(d.link);
    await p.locator('.signature [role=status]').waitFor({ timeout: 30_000 });
    await p.getByRole('button', { name: 'Keys', exact: true }).click();
    // A keyring first (its passphrase protects what is generated).
    await p.getByLabel('Passphrase', { exact: true }).first().fill('dora-keyring-pass');
    await p.getByRole('button', { name: 'Create keyring' }).click();
    await p.getByText('Keyring created and unlocked.').waitFor();
    expect(await p.getByLabel('E-mail address').inputValue()).toBe('dora@example.net');
    await p.getByLabel('Name').fill('Dora');
    await p.getByRole('button', { name: 'Generate key pair' }).click();
    await p
      .getByText(/Generated a new OpenPGP key for dora@example.net\. Its public part is published/)
      .waitFor({
        timeout: 60_000,
      });
    const dir = (await (await fetch(`${e.t.url}/api/v1/directory/dora@example.net`)).json()) as {
      entries: { kind: string; data: string }[];
    };
    expect(dir.entries.map((x) => x.kind)).toEqual(['openpgp']);
    expect(dir.entries[0]!.data).toContain('BEGIN PGP PUBLIC KEY BLOCK');
    expect(dir.entries[0]!.data).not.toContain('PRIVATE');
    // Export the secret key under a new password.
    await p.getByLabel('Export password').first().fill('export-pass-1');
    const [download] = await Promise.all([
      p.waitForEvent('download'),
      p.getByRole('button', { name: 'Export', exact: true }).first().click(),
    ]);
    expect(download.suggestedFilename()).toMatch(/\.asc$/);
    expect(readFileSync(await download.path(), 'utf8')).toContain('BEGIN PGP PRIVATE KEY BLOCK');
    await screenshot(p, 'app-keys-page');
    await context.close();
  });

  it('updates itself once when the server has another build', async () => {
    const context = await e.browser.browser.newContext({ serviceWorkers: 'block' });
    const p = await context.newPage();
    let versionCalls = 0;
    await context.route('**/receiver/version.json', async (route) => {
      versionCalls++;
      await route.fulfill({ json: { version: '9.9.9', build: 'ffffffffffffffff', assets: [] } });
    });
    await p.goto(`${e.t.url}/receiver/`);
    // The app reloads once into "the new version" and then does not loop.
    await expect.poll(() => versionCalls, { timeout: 20_000 }).toBeGreaterThanOrEqual(2);
    await p.getByRole('heading', { name: 'Your keys' }).waitFor();
    await p.waitForTimeout(1000);
    expect(versionCalls).toBe(2);
    expect(await p.evaluate(() => sessionStorage.getItem('sealpost:updated-to'))).toBe('ffffffffffffffff');
    await context.close();
  });

  it('errors in plain words: a wrong key-file passphrase, a withdrawn message', async () => {
    const { page: p, context } = await newPage(e);
    const d = await deliver(
      e.t,
      readFileSync(join(ROOT, '../shared/corpus/messages/16-pgpmime-encrypted-combined-signature.eml')),
    );
    await p.goto(d.link);
    await importKeyInPrompt(p, corpusKey('bob.sec.asc'), 'wrong-pass');
    await p.locator('.form-error').waitFor({ timeout: 20_000 });
    expect(await p.locator('.form-error').innerText()).toMatch(/passphrase/i);
    expect(await p.locator('.signature').count()).toBe(0);
    // The sender withdraws it: the link now says so, with what to do.
    const r = await fetch(`${e.t.url}/api/v1/messages/${d.messageId}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${e.t.apiKey}` },
    });
    expect(r.status).toBe(200);
    await p.reload();
    const alert = await p.getByRole('alert').first().innerText();
    expect(alert).toMatch(/withdrawn/);
    expect(alert).toMatch(/Ask the sender/);
    await screenshot(p, 'app-withdrawn');
    await context.close();
  });

  it('the server’s trust anchors are installed, and one it no longer lists is removed', async () => {
    const { page: p, context } = await newPage(e);
    await p.goto(`${e.t.url}/receiver/`);
    const trusted = p.locator('section:has(#trusted)');
    await trusted.getByText('Public Corpus Root CA').waitFor();
    expect(await trusted.innerText()).toContain('provided by this server');
    // An anchor an earlier version of the server's list had.
    await p.evaluate(async () => {
      const db = await new Promise<IDBDatabase>((resolve, reject) => {
        const r = indexedDB.open('sealpost-keyring');
        r.onsuccess = () => resolve(r.result);
        r.onerror = () => reject(r.error);
      });
      const entry = {
        type: 'certificate',
        id: 'deadbeef',
        label: 'Withdrawn CA',
        certificate: new Uint8Array([48]),
        trusted: true,
      };
      await new Promise<void>((resolve, reject) => {
        const tx = db.transaction('entries', 'readwrite');
        tx.objectStore('entries').put({
          key: 'certificate:deadbeef',
          type: 'certificate',
          id: 'deadbeef',
          label: 'Withdrawn CA',
          addedAt: new Date().toISOString(),
          source: 'server',
          entry,
        });
        tx.oncomplete = () => resolve();
        tx.onerror = () => reject(tx.error);
      });
      db.close();
    });
    await p.reload();
    await trusted.getByText('Public Corpus Root CA').waitFor();
    expect(await trusted.innerText()).not.toContain('Withdrawn CA');
    await context.close();
  });

  it('reopening the HTML message link in a new tab without the fragment says the link is incomplete', async () => {
    const { page: p, context } = await newPage(e);
    await p.goto(htmlLink.split('#')[0]!);
    expect(await p.getByRole('alert').innerText()).toMatch(/link is incomplete/);
    await context.close();
  });

  it('no page error, and no request carried a link secret', () => {
    expect(
      errors.filter((x) => !/Content Security Policy|ERR_BLOCKED|Failed to load resource/.test(x)),
    ).toEqual([]);
    expect(secretLeaks(e)).toEqual([]);
  });
});
