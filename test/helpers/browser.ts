/**
 * Launches Debian's Chromium through playwright-core for browser tests. Never a downloaded browser.
 */
import { existsSync } from 'node:fs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext } from 'playwright-core';
import { provided } from './paths.ts';

export const CHROMIUM = process.env.SEALPOST_CHROMIUM ?? '/usr/bin/chromium';
export const hasChromium = existsSync(CHROMIUM);

/** Chromium is installed by `npm test` (scripts/test.mjs): missing, it fails CI (see paths.ts). */
export function requireChromium(what: string): boolean {
  return provided(what, hasChromium, `${CHROMIUM} is missing (apt-get install chromium)`);
}

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-dev-shm-usage',
];

export interface LaunchedBrowser {
  browser: Browser;
  /** A persistent context (IndexedDB, service workers survive reloads within it). */
  newContext(): Promise<BrowserContext>;
  close(): Promise<void>;
}

export async function launchChromium(): Promise<LaunchedBrowser> {
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
  const dirs: string[] = [];
  return {
    browser,
    async newContext() {
      const dir = mkdtempSync(join(tmpdir(), 'sealpost-chromium-'));
      dirs.push(dir);
      return browser.newContext({ acceptDownloads: true });
    },
    async close() {
      await browser.close();
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
    },
  };
}
