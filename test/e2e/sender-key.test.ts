/**
 * Finding and trusting a sender's key: a message signed by Alice's OpenPGP key shows "unknown
 * signer"; one click looks her key up in the server's directory (published there with proof of her
 * address), shows its fingerprint and that it made the signature, and one explicit trust click turns
 * the verdict into "verified" — kept across a reload.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { createCleartextMessage, generateKey, sign } from 'openpgp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireChromium } from '../helpers/browser.ts';
import { CORPUS, requireShared } from '../helpers/paths.ts';
import { startTestServer, type TestServer } from '../server/helpers.ts';
import { deliver, newPage, signatureText, startE2E, waitShown, type E2E } from './helpers.ts';

const ready =
  requireChromium('receiver e2e (sender keys)') && requireShared('receiver e2e over the OpenPGP corpus');
const read = (dir: string, name: string) => readFileSync(join(CORPUS, dir, name));

/**
 * Alice publishes her key to `server`'s directory: her own delivery's link proves her address.
 * Returns that delivery (its secret publishes again later).
 */
async function publishAlicesKey(server: TestServer, data = read('keys', 'alice.pub.asc').toString()) {
  const hers = await deliver(
    server,
    read('messages', '03-smime-enveloped-rsa15-aes256cbc.eml'),
    'alice@example.org',
  );
  const r = await fetch(`${server.url}/api/v1/directory`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-sealpost-secret': hers.secret },
    body: JSON.stringify({ deliveryId: hers.deliveryId, kind: 'openpgp', data }),
  });
  expect(r.status).toBe(201);
  return hers;
}

/** A cleartext-signed text mail from `from`, signed with a new key made here. */
async function signedWithNewKey(
  from: string,
): Promise<{ mail: string; publicKey: string; fingerprint: string }> {
  const { privateKey, publicKey } = await generateKey({
    userIDs: [{ email: from }],
    type: 'ecc',
    format: 'object',
  });
  const signed = await sign({
    message: await createCleartextMessage({ text: 'MARK-newkey: I changed my key.' }),
    signingKeys: privateKey,
  });
  const mail = `From: ${from}\r\nTo: bob@example.net\r\nSubject: my new key\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n${signed.replace(/\r?\n/g, '\r\n')}`;
  return { mail, publicKey: publicKey.armor(), fingerprint: publicKey.getFingerprint().toUpperCase() };
}

describe.skipIf(!ready)('receiver e2e: finding and trusting the sender’s key', () => {
  let e: E2E;
  let page: Page;
  let errors: string[];
  let hers: Awaited<ReturnType<typeof deliver>>;
  beforeAll(async () => {
    e = await startE2E();
    ({ page, errors } = await newPage(e));
    hers = await publishAlicesKey(e.t);
  });
  afterAll(async () => {
    await e?.close();
  });

  it('unknown signer → look up → fingerprint shown → trust → verified', async () => {
    const d = await deliver(e.t, read('messages', '18-pgpmime-signed.eml'));
    await page.goto(d.link);
    await waitShown(page);
    expect(await signatureText(page)).toMatch(/unknown signer — not verified/);
    await page.getByRole('button', { name: 'Look up the sender’s key' }).click();
    const lookup = page.locator('section.signer-lookup');
    await lookup.getByText('and it made this signature').waitFor();
    const words = await lookup.innerText();
    expect(words).toContain('alice@example.org');
    const fpr = /Fingerprint ((?:[0-9A-F]{4} ){9}[0-9A-F]{4})/.exec(words)?.[1];
    expect(fpr, words).toBeDefined();
    expect(await signatureText(page)).toMatch(/Signed by alice@example\.org — not verified/);
    await page.getByRole('button', { name: 'Trust this key for alice@example.org' }).click();
    await expect.poll(() => signatureText(page)).toContain('Signed by alice@example.org — verified');
    expect(await page.locator('section.signer-lookup').count()).toBe(0);

    // Kept: the next message from Alice is verified at once.
    const next = await deliver(e.t, read('messages', '18-pgpmime-signed.eml'));
    await page.goto(next.link);
    await waitShown(page);
    expect(await signatureText(page)).toContain('Signed by alice@example.org — verified');
    expect(errors).toEqual([]);
  });

  it('a later message signed with another key for the same address is flagged, not verified', async () => {
    const next = await signedWithNewKey('alice@example.org');
    // Someone publishes another key for Alice (here: Alice herself, having changed keys).
    const r = await fetch(`${e.t.url}/api/v1/directory`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-sealpost-secret': hers.secret },
      body: JSON.stringify({ deliveryId: hers.deliveryId, kind: 'openpgp', data: next.publicKey }),
    });
    expect(r.status).toBe(201);
    const d = await deliver(e.t, next.mail);
    await page.goto(d.link);
    await waitShown(page);
    expect(await signatureText(page)).toMatch(/unknown signer — not verified/);
    await page.getByRole('button', { name: 'Look up the sender’s key' }).click();
    await page.getByText('with a different key — not verified').waitFor();
    const words = await signatureText(page);
    expect(words).toContain('Signed by alice@example.org with a different key — not verified');
    const grouped = (hex: string) => (hex.match(/.{4}/g) ?? []).join(' ');
    expect(words).toContain(grouped(next.fingerprint));
    expect(words).toMatch(/You trusted the key ([0-9A-F]{4} ){9}[0-9A-F]{4} for alice@example\.org/);
    expect(words).not.toContain('— verified');
    // The recipient decides: the new key is hers.
    await page.getByRole('button', { name: 'Trust this key for alice@example.org' }).click();
    await expect.poll(() => signatureText(page)).toContain('Signed by alice@example.org — verified');
    expect(await page.locator('main').innerText()).toContain('MARK-newkey');
  });

  it('says so when nothing is published for the sender', async () => {
    const { page: p } = await newPage(e);
    const unknown = await deliver(e.t, read('messages', '20-pgpmime-signed-unknown-key.eml'));
    await p.goto(unknown.link);
    await waitShown(p);
    expect(await signatureText(p)).toMatch(/unknown signer/);
    await p.getByRole('button', { name: 'Look up the sender’s key' }).click();
    await p.locator('section.signer-lookup [role=status]').waitFor();
    expect(await p.locator('section.signer-lookup').innerText()).toContain(
      'No OpenPGP key is published for mallory@example.com on this server or in the Web Key Directory of its domain.',
    );
  });
});

describe.skipIf(!ready)('receiver e2e: the sender’s key from the Web Key Directory of their domain', () => {
  let e: E2E;
  /** example.org's own server, publishing Alice's key by WKD (another Sealpost here). */
  let remote: TestServer;
  beforeAll(async () => {
    e = await startE2E();
    remote = await startTestServer({ args: ['--wkd-domain', 'example.org'] });
    await publishAlicesKey(remote);
  });
  afterAll(async () => {
    await e?.close();
    await remote?.close();
  });

  it('found by WKD from the browser (CSP and CORS allow it), trusted with one click: verified', async () => {
    const { page, context, errors } = await newPage(e);
    // https://openpgpkey.example.org and https://example.org are example.org's server: the browser's
    // requests (after its CSP check) are answered by the remote server's real WKD routes.
    const asked: string[] = [];
    for (const origin of ['https://openpgpkey.example.org', 'https://example.org'])
      await context.route(`${origin}/**`, async (route) => {
        const u = new URL(route.request().url());
        asked.push(u.href);
        const res = await fetch(`${remote.url}${u.pathname}${u.search}`, { headers: { host: u.host } });
        await route.fulfill({
          status: res.status,
          headers: Object.fromEntries(res.headers),
          body: Buffer.from(await res.arrayBuffer()),
        });
      });
    const d = await deliver(e.t, read('messages', '18-pgpmime-signed.eml'));
    await page.goto(d.link);
    await waitShown(page);
    expect(await signatureText(page)).toMatch(/unknown signer — not verified/);
    await page.getByRole('button', { name: 'Look up the sender’s key' }).click();
    const lookup = page.locator('section.signer-lookup');
    await lookup.getByText('and it made this signature').waitFor();
    expect(await lookup.innerText()).toContain(
      'the Web Key Directory of example.org (openpgpkey.example.org)',
    );
    expect(asked[0]).toMatch(
      /^https:\/\/openpgpkey\.example\.org\/\.well-known\/openpgpkey\/example\.org\/hu\/[a-z0-9]{32}\?l=alice$/,
    );
    await page.getByRole('button', { name: 'Trust this key for alice@example.org' }).click();
    await expect.poll(() => signatureText(page)).toContain('Signed by alice@example.org — verified');
    // This server's directory had nothing for her (its 404 is logged by the browser); nothing else failed.
    expect(errors.filter((m) => !/status of 404/.test(m))).toEqual([]);
  });
});
