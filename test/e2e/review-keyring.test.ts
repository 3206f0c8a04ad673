/**
 * Security review regression: creating a keyring never replaces one that exists. Two tabs of the
 * Keys page opened before any keyring existed both offer "Create keyring"; once the first tab has
 * made one and stored a private key in it, the second tab's "Create keyring" must not overwrite its
 * salt and verifier (that would leave every stored private key sealed under a key nobody can derive).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireChromium } from '../helpers/browser.ts';
import { requireShared } from '../helpers/paths.ts';
import { startE2E, type E2E } from './helpers.ts';

const ready =
  requireChromium('receiver e2e (keyring review)') && requireShared('receiver e2e (keyring review)');

describe.skipIf(!ready)('keyring at rest', () => {
  let e: E2E;
  beforeAll(async () => {
    e = await startE2E();
  }, 180_000);
  afterAll(async () => {
    await e?.close();
  });

  it('a stale "Create keyring" in another tab does not replace the keyring', async () => {
    const context = await e.browser.browser.newContext({ serviceWorkers: 'block' });
    const a = await context.newPage();
    const b = await context.newPage();
    for (const p of [a, b]) {
      await p.goto(`${e.t.url}/receiver/`);
      await p.getByRole('button', { name: 'Create keyring' }).waitFor();
    }
    // Tab A: a keyring and a private key in it.
    await a.getByLabel('Passphrase', { exact: true }).first().fill('first-keyring-pass');
    await a.getByRole('button', { name: 'Create keyring' }).click();
    await a.getByText('Keyring created and unlocked.').waitFor();
    // What the recipient typed stays when the key list refreshes and the page re-renders.
    const email = a.getByLabel('E-mail address');
    await email.fill('erin@example.net');
    await a.waitForTimeout(500);
    expect(await email.inputValue()).toBe('erin@example.net');
    await a.getByRole('button', { name: 'Generate key pair' }).click();
    await a.getByText(/Generated a new OpenPGP key for erin@example\.net/).waitFor({ timeout: 60_000 });

    // Tab B still shows "Create keyring": it must refuse, and offer to unlock instead.
    await b.getByLabel('Passphrase', { exact: true }).first().fill('second-keyring-pass');
    await b.getByRole('button', { name: 'Create keyring' }).click();
    await b.locator('.form-error').waitFor({ timeout: 20_000 });
    expect(await b.locator('.form-error').innerText()).toMatch(/already/i);
    await b.getByRole('button', { name: 'Unlock' }).waitFor();

    // A fresh tab: the first passphrase still unlocks, and the stored private key still opens.
    const c = await context.newPage();
    await c.goto(`${e.t.url}/receiver/`);
    await c.getByLabel('Passphrase', { exact: true }).first().fill('first-keyring-pass');
    await c.getByRole('button', { name: 'Unlock' }).click();
    await c.getByText('Keyring unlocked.').waitFor({ timeout: 20_000 });
    await c.getByLabel('Export password').first().fill('export-pass-1');
    const [download] = await Promise.all([
      c.waitForEvent('download'),
      c.getByRole('button', { name: 'Export', exact: true }).first().click(),
    ]);
    expect(download.suggestedFilename()).toMatch(/\.asc$/);
    await context.close();
  }, 120_000);
});
