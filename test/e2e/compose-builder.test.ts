/**
 * Core's message builder runs in the browser as it will for secure reply (issue 14): bundled for the
 * browser (no Node APIs), run in real Chromium, its S/MIME output opens and verifies with openssl
 * (cms -decrypt, cms -verify against the root CA) and its PGP/MIME output with gpg.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
// esbuild comes with tsx (a dependency) and vite; it bundles core the way the receiver's build would.
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, requireChromium, type LaunchedBrowser } from '../helpers/browser.ts';
import { FIXTURES, ROOT, requireFixtures } from '../helpers/paths.ts';

const ready =
  requireChromium('message builder in the browser') && requireFixtures('message builder in the browser');
const K = join(FIXTURES, 'keys');
const tmp = mkdtempSync(join(tmpdir(), 'sealpost-compose-browser-'));
const b64 = (args: string[]): string => execFileSync('openssl', args).toString('base64');

describe.skipIf(!ready)('message builder in Chromium', () => {
  let b: LaunchedBrowser;
  let bundle: string;
  beforeAll(async () => {
    const out = await build({
      stdin: {
        contents: "export { buildSmimeMessage, buildPgpMimeMessage } from './src/core/compose.ts';",
        resolveDir: ROOT,
        loader: 'ts',
      },
      bundle: true,
      format: 'iife',
      globalName: 'SealpostCompose',
      platform: 'browser',
      write: false,
      logLevel: 'error',
    });
    bundle = out.outputFiles[0]!.text;
    b = await launchChromium();
  }, 60_000);
  afterAll(async () => {
    await b?.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('builds a signed, encrypted S/MIME message and a PGP/MIME message that openssl and gpg open', async () => {
    const page = await b.browser.newPage();
    // A secure context (WebCrypto) without a server: the page is answered from here.
    await page.route('https://compose.test/', (r) =>
      r.fulfill({ contentType: 'text/html', body: '<!doctype html><title>t</title>' }),
    );
    await page.goto('https://compose.test/');
    await page.addScriptTag({ content: bundle });
    const keys = {
      alice: b64(['x509', '-in', join(K, 'alice.pem'), '-outform', 'DER']),
      inter: b64(['x509', '-in', join(K, 'inter.pem'), '-outform', 'DER']),
      aliceKey: b64(['pkcs8', '-topk8', '-nocrypt', '-in', join(K, 'alice.key'), '-outform', 'DER']),
      bob: b64(['x509', '-in', join(K, 'bob.pem'), '-outform', 'DER']),
      dave: b64(['x509', '-in', join(K, 'dave.pem'), '-outform', 'DER']),
      pgpSigner: readFileSync(join(K, 'alice.pgp.sec.asc'), 'utf8'),
      pgpBob: readFileSync(join(K, 'bob.pgp.pub.asc'), 'utf8'),
    };
    const [smimeB64, pgpB64] = await page.evaluate(async (k) => {
      const d = (s: string): Uint8Array => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
      const e = (u: Uint8Array): string => btoa(Array.from(u, (c) => String.fromCharCode(c)).join(''));
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      const lib = (globalThis as any).SealpostCompose;
      const input = {
        from: 'alice@example.test',
        to: ['bob@example.test'],
        subject: 'From Chromium',
        text: 'MARK-browser-build\n',
      };
      const s = await lib.buildSmimeMessage(input, {
        signer: { certificate: d(k.alice), chain: [d(k.inter)], pkcs8: d(k.aliceKey) },
        recipients: [
          { certificate: d(k.bob), rsaPadding: 'oaep', gcm: true },
          { certificate: d(k.dave), gcm: true },
        ],
      });
      const p = await lib.buildPgpMimeMessage(input, { signingKey: k.pgpSigner, encryptionKeys: [k.pgpBob] });
      return [e(s.message), e(p.message)];
    }, keys);
    await page.close();

    const smime = join(tmp, 'smime.eml');
    writeFileSync(smime, Buffer.from(smimeB64, 'base64'));
    const dec = join(tmp, 'dec.eml');
    execFileSync('openssl', [
      'cms',
      '-decrypt',
      '-in',
      smime,
      '-recip',
      join(K, 'bob.pem'),
      '-inkey',
      join(K, 'bob.key'),
      '-out',
      dec,
    ]);
    const verified = execFileSync(
      'openssl',
      ['cms', '-verify', '-in', dec, '-CAfile', join(K, 'root.pem'), '-purpose', 'any'],
      {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    expect(verified).toContain('MARK-browser-build');
    expect(verified).toContain('Subject: From Chromium');

    const home = join(tmp, 'gnupg');
    cpSync(join(FIXTURES, 'gnupg'), home, { recursive: true, filter: (src) => !/\/S\.[^/]*$/.test(src) });
    const armored = /-----BEGIN PGP MESSAGE-----[\s\S]*?-----END PGP MESSAGE-----/.exec(
      Buffer.from(pgpB64, 'base64').toString('utf8'),
    )?.[0];
    writeFileSync(join(tmp, 'm.asc'), armored ?? '');
    const status = join(tmp, 'status');
    try {
      const out = execFileSync(
        'gpg',
        [
          '--homedir',
          home,
          '--batch',
          '--no-tty',
          '--pinentry-mode',
          'loopback',
          '--passphrase',
          'bob-pass',
          '--trust-model',
          'always',
          '--status-file',
          status,
          '--decrypt',
          join(tmp, 'm.asc'),
        ],
        { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
      );
      expect(out).toContain('MARK-browser-build');
      expect(readFileSync(status, 'utf8')).toMatch(/^\[GNUPG:\] VALIDSIG /m);
    } finally {
      execFileSync('gpgconf', ['--homedir', home, '--kill', 'gpg-agent'], { stdio: 'ignore' });
    }
  }, 60_000);
});
