/**
 * End-to-end helpers: a real server (built receiver, the corpus CA as trust anchor, the built-in
 * outbox), a real Chromium (playwright-core, Debian's /usr/bin/chromium), and the recipient's
 * steps: follow the link from the outbox, import a key, type a password, save attachments.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import type { BrowserContext, Page, Request } from 'playwright-core';
import { hasChromium, launchChromium, type LaunchedBrowser } from '../helpers/browser.ts';
import { CORPUS, ROOT } from '../helpers/paths.ts';
import { linkIn, outbox, sleep, startTestServer, submit, type TestServer } from '../server/helpers.ts';

export { hasChromium };
export const SHOTS = join(ROOT, 'test-results/e2e');
export const corpusKey = (name: string): string => join(CORPUS, 'keys', name);

/**
 * Builds the receiver into a folder of this run's own (other test files, and people editing core,
 * rebuild dist/receiver at any time; a server must keep the assets its page names).
 */
export function buildReceiver(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sealpost-receiver-'));
  const r = spawnSync(process.execPath, [join(ROOT, 'scripts/build-receiver.mjs'), '--out', dir], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`receiver build failed:\n${r.stdout}\n${r.stderr}`);
  return dir;
}

export interface E2E {
  t: TestServer;
  browser: LaunchedBrowser;
  /** Every request any page of this run made (URL and Referer), for the secret-leak check. */
  requests: { url: string; referer: string | undefined; headers: Record<string, string> }[];
  /** The built receiver this run's server serves. */
  receiverDir: string;
  /** Every link secret handed out in this run. */
  secrets: string[];
  close(): Promise<void>;
}

export async function startE2E(args: string[] = []): Promise<E2E> {
  const receiverDir = buildReceiver();
  const t = await startTestServer({
    args: ['--trust-anchors', corpusKey('ca.pem'), '--receiver-dir', receiverDir, ...args],
  });
  const browser = await launchChromium();
  secrets.length = 0;
  mkdirSync(SHOTS, { recursive: true });
  return {
    t,
    browser,
    requests: [],
    secrets,
    receiverDir,
    async close() {
      await browser.close();
      await t.close();
      rmSync(receiverDir, { recursive: true, force: true });
    },
  };
}

const secrets: string[] = [];

/** Checks that no recorded request carried a link secret in its URL, Referer or a header other than X-Sealpost-Secret. */
export function secretLeaks(e: E2E): string[] {
  const leaks: string[] = [];
  for (const r of e.requests)
    for (const s of e.secrets) {
      if (r.url.includes(s)) leaks.push(`URL ${r.url}`);
      for (const [k, v] of Object.entries(r.headers))
        if (k !== 'x-sealpost-secret' && v.includes(s)) leaks.push(`${k} of ${r.url}`);
    }
  return leaks;
}

export interface Delivered {
  messageId: string;
  deliveryId: string;
  link: string;
  secret: string;
}

/** Submits a message for `to` and takes its link from the built-in outbox. */
export async function deliver(
  t: TestServer,
  bytes: Uint8Array | string,
  to = 'bob@example.net',
): Promise<Delivered> {
  const res = await submit(t, bytes, `?to=${encodeURIComponent(to)}`);
  if (res.status !== 201) throw new Error(`submit: HTTP ${res.status} ${await res.text()}`);
  const created = (await res.json()) as { id: string; deliveries: { id: string }[] };
  const deliveryId = created.deliveries[0]!.id;
  for (let i = 0; i < 200; i++) {
    for (const mail of await outbox(t.url)) {
      if (!mail.text.includes(`/m/${deliveryId}#`)) continue;
      const { link, secret } = linkIn(mail.text);
      secrets.push(secret);
      return { messageId: created.id, deliveryId, link, secret };
    }
    await sleep(50);
  }
  throw new Error(`no notification for delivery ${deliveryId}`);
}

/** The delivery's state and events as the sender sees them. */
export async function deliveryState(
  t: TestServer,
  d: Delivered,
): Promise<{ state: string; events: { type: string; detail?: string }[] }> {
  const r = await fetch(`${t.url}/api/v1/messages/${d.messageId}`, {
    headers: { authorization: `Bearer ${t.apiKey}` },
  });
  const body = (await r.json()) as {
    deliveries: { id: string; state: string; events: { type: string; detail?: string }[] }[];
  };
  return body.deliveries.find((x) => x.id === d.deliveryId)!;
}

export async function waitForState(t: TestServer, d: Delivered, state: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if ((await deliveryState(t, d)).state === state) return;
    await sleep(50);
  }
  throw new Error(
    `delivery ${d.deliveryId} never became ${state}: ${JSON.stringify(await deliveryState(t, d))}`,
  );
}

/** A page that records every request (and fails the test on page errors via `errors`). */
export async function newPage(
  e: E2E,
  context?: BrowserContext,
): Promise<{ page: Page; context: BrowserContext; errors: string[] }> {
  const ctx = context ?? (await e.browser.newContext());
  const page = await ctx.newPage();
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('request', (r: Request) => {
    const headers = r.headers();
    e.requests.push({ url: r.url(), referer: headers['referer'], headers });
  });
  return { page, context: ctx, errors };
}

/** The signature panel's text (the role=status region). */
export async function signatureText(page: Page): Promise<string> {
  return page.locator('.signature [role=status]').innerText();
}

/** Waits until the message is shown (the signature panel is there) or a problem is shown. */
export async function waitShown(page: Page, timeout = 30_000): Promise<void> {
  await page.locator('.signature [role=status], .problem, .key-prompt').first().waitFor({ timeout });
}

/** Imports a key file in the message's key prompt (and keeps it in the browser). */
export async function importKeyInPrompt(page: Page, file: string, passphrase: string): Promise<void> {
  await page.getByLabel('Key file').setInputFiles(file);
  await page.getByLabel('Passphrase', { exact: true }).fill(passphrase);
  await page.getByRole('button', { name: 'Import key' }).click();
}

/** On the Keys page: imports a certificate or public key, optionally as trusted. */
export async function importOnKeysPage(page: Page, file: string, trusted: boolean): Promise<void> {
  await page.getByRole('button', { name: 'Keys', exact: true }).click();
  await page.getByLabel('Key file').setInputFiles(file);
  if (trusted) await page.getByRole('checkbox', { name: /Trust this certificate/ }).check();
  await page.getByRole('button', { name: 'Import key' }).click();
  await page.locator('.form-status, .form-error').first().waitFor();
  const err = await page.locator('.form-error').count();
  if (err) throw new Error(`import failed: ${await page.locator('.form-error').innerText()}`);
}

/** Clicks "Save <name>" and returns the SHA-256 of the saved file. */
export async function saveAttachment(
  page: Page,
  name: string,
): Promise<{ sha256: string; filename: string }> {
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('button', { name: `Save ${name}`, exact: true }).click(),
  ]);
  const path = await download.path();
  return {
    sha256: createHash('sha256').update(readFileSync(path)).digest('hex'),
    filename: download.suggestedFilename(),
  };
}

export async function screenshot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

/** A server on another port standing in for an attacker's: counts every request it gets. */
export async function startEvilServer(): Promise<{ url: string; hits: string[]; close(): Promise<void> }> {
  const hits: string[] = [];
  const server: Server = createServer((req, res) => {
    hits.push(req.url ?? '');
    res.writeHead(200, { 'content-type': 'image/png' });
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    hits,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export interface CaseExpected {
  keys: string[];
  passphrase?: string;
  password?: string;
  error?: string;
  signature?: string;
  signer?: string | null;
  fromMatches?: boolean;
  textContains?: string | null;
  attachments?: { filename: string; size: number; sha256: string }[];
}

/** What the recipient's page should say for each signature status (never "verified" unless valid). */
export const SIGNATURE_WORDS: Record<string, RegExp> = {
  valid: /— verified/,
  untrusted: /— not verified/,
  'unknown-signer': /unknown signer — not verified/,
  invalid: /Invalid signature/,
  none: /not signed|Not signed/,
};

/**
 * Opens a delivered message in `page` as its recipient would, giving what the case needs: the
 * message password, an unlock of the stored keyring, or an import of the key file (kept).
 * Returns the text of the page's main region once the message (or an error) is shown.
 */
export async function openAsRecipient(
  page: Page,
  d: Delivered,
  c: CaseExpected,
  keysDir: string,
  keyringPassphrase?: string,
): Promise<string> {
  await page.goto(d.link);
  // A form error that still lets the message open (the key is used, just not kept) is not final.
  const finalError = async (): Promise<boolean> =>
    (await page.locator('.form-error').count()) > 0 &&
    !(await page.locator('.form-error').innerText()).includes('used for now');
  // Marks the form's field, so that a prompt shown again (a new element) counts as a new state.
  const mark = (id: string) =>
    page.evaluate((x) => {
      const el = document.getElementById(x);
      if (el) el.dataset.e2eSeen = '1';
    }, id);
  for (let round = 0; round < 3; round++) {
    await waitShown(page);
    if (await page.locator('.signature [role=status]').count()) break;
    let field: string;
    if (await page.getByLabel('Message password').count()) {
      field = 'message-password';
      await mark(field);
      await page.getByLabel('Message password').fill(c.password ?? '');
      await page.getByRole('button', { name: 'Open message' }).click();
    } else if (await page.getByRole('button', { name: 'Unlock', exact: true }).count()) {
      field = 'unlock-passphrase';
      await mark(field);
      await page.getByLabel('Passphrase', { exact: true }).fill(keyringPassphrase ?? c.passphrase ?? '');
      await page.getByRole('button', { name: 'Unlock', exact: true }).click();
    } else if (await page.getByLabel('Key file').count()) {
      if (c.keys.length === 0) break;
      field = 'key-file';
      await mark(field);
      await importKeyInPrompt(page, join(keysDir, c.keys[0]!), c.passphrase ?? '');
    } else {
      break; // a problem, shown as such
    }
    // Wait until the page moved on: the message shown, another prompt or problem in place of this
    // form, or this form saying why not (an error, or the password refused).
    await page.waitForFunction(
      (id) => {
        if (document.querySelector('.signature [role=status]')) return true;
        if (document.querySelector('article[aria-busy="true"]')) return false;
        if (
          Array.from(document.querySelectorAll('button[type=submit]')).some(
            (b) => (b as HTMLButtonElement).disabled,
          )
        )
          return false;
        const el = document.getElementById(id);
        if (!el || !el.dataset.e2eSeen) return true;
        const err = document.querySelector('.form-error');
        if (err && !err.textContent?.includes('used for now')) return true;
        return document.body.innerText.includes('That password does not open');
      },
      field,
      { timeout: 60_000 },
    );
    await sleep(50);
    if (await finalError()) break;
    if (round === 2 || (c.password && (await page.getByText('That password does not open').count()))) break;
    // The key was imported and the message still asks for one: it is not for this key.
    if (field === 'key-file' && (await page.getByLabel('Key file').count())) break;
  }
  return page.locator('main').innerText();
}

/**
 * Submits a corpus or fixture message, opens it as the recipient, and checks what the expected
 * JSON says: the marker text, the signature panel in words (never "verified" unless valid), every
 * attachment saved with its SHA-256, and the delivery state on the server ('processed'; 'opened'
 * with a receiver-failed event when the content was refused).
 */
export async function checkCase(
  e: E2E,
  page: Page,
  dir: string,
  name: string,
  opts: { keyringPassphrase?: string; shotPrefix: string },
): Promise<{ text: string; delivered: Delivered; expected: CaseExpected }> {
  const c = JSON.parse(readFileSync(join(dir, 'expected', `${name}.json`), 'utf8')) as CaseExpected;
  const d = await deliver(e.t, readFileSync(join(dir, 'messages', `${name}.eml`)));
  const text = await openAsRecipient(page, d, c, join(dir, 'keys'), opts.keyringPassphrase);
  await screenshot(page, `${opts.shotPrefix}-${name}`);
  const fail = (msg: string): never => {
    throw new Error(`${name}: ${msg}\n--- page ---\n${text.slice(0, 1500)}`);
  };
  const verifiedOk = c.signature === 'valid' && c.fromMatches !== false;
  if (/— verified/.test(text) && !verifiedOk) fail('says "verified"');
  if (c.error) return { text, delivered: d, expected: c };
  if ((await page.locator('.signature [role=status]').count()) === 0) fail('the message was not shown');
  const sig = await signatureText(page);
  const words =
    c.fromMatches === false ? /claims to be from someone else/ : SIGNATURE_WORDS[c.signature ?? 'none']!;
  if (!words.test(sig)) fail(`signature panel: ${sig}`);
  if (c.signer && c.signature !== 'unknown-signer' && !sig.includes(c.signer)) fail(`signer missing: ${sig}`);
  if (c.fromMatches === false && !/claims to be from someone else/.test(sig)) fail(`no From warning: ${sig}`);
  if (c.textContains && !text.includes(c.textContains)) fail(`marker ${c.textContains} missing`);
  for (const a of c.attachments ?? []) {
    const saved = await saveAttachment(page, a.filename);
    if (saved.sha256 !== a.sha256 || saved.filename !== a.filename)
      fail(`attachment ${a.filename}: saved ${saved.filename} ${saved.sha256}`);
  }
  // A message that needs no key is only "processed" once a person acts on the page (receipt.ts):
  // a key press stands for that here.
  await page.keyboard.press('Shift');
  await waitForState(e.t, d, c.signature === 'invalid' ? 'opened' : 'processed');
  return { text, delivered: d, expected: c };
}

/**
 * A PGP/MIME message to bob@example.net (encrypted with gpg to `bob.pub.asc`) whose plaintext is
 * `inner` (a MIME entity, CRLF).
 */
export function pgpMimeToBob(inner: string, subject: string): string {
  const home = mkdtempSync(join(tmpdir(), 'sealpost-gpg-'));
  try {
    const gpg = (args: string[]): string => {
      const r = spawnSync('gpg', ['--homedir', home, '--batch', '--yes', ...args], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`gpg ${args.join(' ')}: ${r.stderr}`);
      return r.stdout;
    };
    gpg(['--import', corpusKey('bob.pub.asc')]);
    writeFileSync(join(home, 'inner.eml'), inner);
    const armored = gpg([
      '--trust-model',
      'always',
      '--armor',
      '--encrypt',
      '-r',
      'bob@example.net',
      '-o',
      '-',
      join(home, 'inner.eml'),
    ]);
    return [
      'From: alice@example.org',
      'To: bob@example.net',
      `Subject: ${subject}`,
      'Date: Sat, 28 Nov 2026 12:00:00 +0000',
      'MIME-Version: 1.0',
      'Content-Type: multipart/encrypted; protocol="application/pgp-encrypted"; boundary="enc"',
      '',
      '--enc',
      'Content-Type: application/pgp-encrypted',
      '',
      'Version: 1',
      '',
      '--enc',
      'Content-Type: application/octet-stream; name="encrypted.asc"',
      '',
      armored.trimEnd(),
      '--enc--',
      '',
    ].join('\r\n');
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}

/**
 * axe-core's serious and critical WCAG 2.x A/AA violations on the page, as "rule: targets" lines.
 * axe is evaluated through DevTools: the pages' CSP forbids inline script.
 */
export async function axeViolations(page: Page): Promise<string[]> {
  await page.evaluate(readFileSync(join(ROOT, 'node_modules/axe-core/axe.min.js'), 'utf8'));
  return page.evaluate(async () => {
    const w = window as unknown as {
      axe: {
        run(
          ctx: Document,
          opts: object,
        ): Promise<{ violations: { id: string; impact: string; nodes: { target: string[] }[] }[] }>;
      };
    };
    const r = await w.axe.run(document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21aa', 'wcag22aa'] },
    });
    return r.violations
      .filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  });
}
