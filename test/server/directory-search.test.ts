/**
 * The directory for senders: the search page (one exact address), the .asc/.cer downloads, the
 * JSON lookup with fingerprints of both kinds, and the per-client lookup limit.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readKey } from 'openpgp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOOKUPS_PER_MINUTE } from '../../src/server/directory/routes.ts';
import { CORPUS, requireShared } from '../helpers/paths.ts';
import {
  corpusMessage,
  linkIn,
  outbox,
  startTestServer,
  submit,
  waitUntil,
  type TestServer,
} from './helpers.ts';

const shared = requireShared('directory search tests over the interop corpus');
const key = (name: string): string => readFileSync(join(CORPUS, 'keys', name), 'utf8');

describe.skipIf(!shared)('directory search and downloads', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer();
    expect(
      (await submit(t, readFileSync(corpusMessage('03-smime-enveloped-rsa15-aes256cbc.eml')))).status,
    ).toBe(201);
    await waitUntil(async () => (await outbox(t.url)).length > 0);
    const d = linkIn((await outbox(t.url))[0]!.text);
    for (const [kind, data] of [
      ['x509', key('bob.pem')],
      ['openpgp', key('bob.pub.asc')],
    ] as const) {
      const r = await fetch(`${t.url}/api/v1/directory`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-sealpost-secret': d.secret },
        body: JSON.stringify({ deliveryId: d.id, kind, data }),
      });
      expect(r.status).toBe(201);
    }
  });
  afterAll(async () => {
    await t?.close();
  });

  it('finds an exact address on the page, with fingerprints and download links', async () => {
    const html = await (await fetch(`${t.url}/directory?email=Bob%40Example.NET`)).text();
    expect(html).toContain('f0d5f5c97ee0cc35199b040b82386b2a20daf17d');
    const certFpr = new X509Certificate(key('bob.pem')).fingerprint256.replace(/:/g, '').toLowerCase();
    expect(html).toContain(certFpr);
    expect(html).toContain('href="/api/v1/directory/bob%40example.net/openpgp.asc"');
    expect(html).toContain('href="/api/v1/directory/bob%40example.net/x509.cer"');
    // No listing and no partial matches.
    for (const q of ['bob', '%25%40example.net', '*%40example.net', 'example.net']) {
      const other = await (await fetch(`${t.url}/directory?email=${q}`)).text();
      expect(other, q).not.toContain('f0d5f5c97ee0cc35199b040b82386b2a20daf17d');
    }
    const empty = await fetch(`${t.url}/directory`);
    expect(empty.status).toBe(200);
    expect(empty.headers.get('content-security-policy')).toContain("script-src 'self'");
  });

  it('downloads the key as .asc and the certificate as DER .cer', async () => {
    const asc = await fetch(`${t.url}/api/v1/directory/bob%40example.net/openpgp.asc`);
    expect(asc.status).toBe(200);
    expect(asc.headers.get('content-type')).toMatch(/^application\/pgp-keys/);
    expect(asc.headers.get('content-disposition')).toBe('attachment; filename="bob@example.net.asc"');
    expect((await readKey({ armoredKey: await asc.text() })).getFingerprint()).toBe(
      'f0d5f5c97ee0cc35199b040b82386b2a20daf17d',
    );
    const cer = await fetch(`${t.url}/api/v1/directory/bob%40example.net/x509.cer`);
    expect(cer.status).toBe(200);
    expect(cer.headers.get('content-type')).toBe('application/pkix-cert');
    const der = Buffer.from(await cer.arrayBuffer());
    expect(new X509Certificate(der).subjectAltName).toContain('bob@example.net');
    expect((await fetch(`${t.url}/api/v1/directory/nobody%40example.net/x509.cer`)).status).toBe(404);
    expect((await fetch(`${t.url}/api/v1/directory/bob%40example.net/passwd`)).status).toBe(404);
  });

  it('limits lookups per client', async () => {
    let limited = 0;
    for (let i = 0; i <= LOOKUPS_PER_MINUTE; i++) {
      const r = await fetch(`${t.url}/api/v1/directory/guess${i}%40example.net`);
      if (r.status === 429) limited++;
    }
    expect(limited).toBeGreaterThan(0);
  });
});
