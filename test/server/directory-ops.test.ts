/**
 * The directory (publish with a delivery's secret, look up by address), trust anchors for the
 * receiver, health/readiness, the OpenAPI document, and graceful shutdown finishing an upload.
 */
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CORPUS, requireShared } from '../helpers/paths.ts';
import {
  corpusMessage,
  linkIn,
  outbox,
  sleep,
  startTestServer,
  submit,
  waitUntil,
  type TestServer,
} from './helpers.ts';

const shared = requireShared('server directory and operations tests over the interop corpus');
const key = (name: string): string => readFileSync(join(CORPUS, 'keys', name), 'utf8');

describe.skipIf(!shared)('directory, trust anchors, operations', () => {
  let t: TestServer;
  let d: { id: string; secret: string };
  beforeAll(async () => {
    t = await startTestServer({ args: ['--trust-anchors', join(CORPUS, 'keys', 'ca.pem')] });
    expect(
      (await submit(t, readFileSync(corpusMessage('03-smime-enveloped-rsa15-aes256cbc.eml')))).status,
    ).toBe(201);
    await waitUntil(async () => (await outbox(t.url)).length > 0);
    d = linkIn((await outbox(t.url))[0]!.text);
  });
  afterAll(async () => {
    await t?.close();
  });

  const publish = (body: unknown, secret = d.secret) =>
    fetch(`${t.url}/api/v1/directory`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-sealpost-secret': secret },
      body: JSON.stringify(body),
    });

  it('publishes the recipient’s certificate and OpenPGP key and looks them up', async () => {
    expect((await fetch(`${t.url}/api/v1/directory/bob@example.net`)).status).toBe(404);
    const cert = await publish({ deliveryId: d.id, kind: 'x509', data: key('bob.pem') });
    expect(cert.status).toBe(201);
    expect(((await cert.json()) as { email: string }).email).toBe('bob@example.net');
    const pgp = await publish({ deliveryId: d.id, kind: 'openpgp', data: key('bob.pub.asc') });
    expect(pgp.status).toBe(201);
    const r = await fetch(`${t.url}/api/v1/directory/Bob@Example.NET`);
    expect(r.status).toBe(200);
    const body = (await r.json()) as {
      email: string;
      entries: { kind: string; data: string; fingerprint: string }[];
    };
    expect(body.email).toBe('bob@example.net');
    expect(body.entries.map((e) => e.kind)).toEqual(['openpgp', 'x509']);
    expect(body.entries[1]!.data).toContain('BEGIN CERTIFICATE');
    expect(body.entries[0]!.data).toContain('BEGIN PGP PUBLIC KEY BLOCK');
  });

  it('refuses keys for another address, private keys and wrong secrets', async () => {
    const other = await publish({ deliveryId: d.id, kind: 'x509', data: key('alice.pem') });
    expect(other.status).toBe(403);
    const priv = await publish({ deliveryId: d.id, kind: 'openpgp', data: key('bob.sec.asc') });
    expect(priv.status).toBe(400);
    expect(((await priv.json()) as { error: { message: string } }).error.message).toMatch(/private key/);
    const junk = await publish({ deliveryId: d.id, kind: 'x509', data: 'hello' });
    expect(junk.status).toBe(400);
    const wrong = await publish({ deliveryId: d.id, kind: 'x509', data: key('bob.pem') }, 'x'.repeat(43));
    expect(wrong.status).toBe(401);
  });

  it('hands the trust anchors to the receiver, as PEM, as JSON and inside the page', async () => {
    const pem = await fetch(`${t.url}/receiver/trust-anchors.pem`);
    expect(pem.status).toBe(200);
    const text = await pem.text();
    expect(text).toContain('BEGIN CERTIFICATE');
    const json = (await (await fetch(`${t.url}/api/v1/trust-anchors`)).json()) as {
      sha256: string;
      anchors: { subject: string }[];
    };
    expect(json.anchors).toHaveLength(1);
    expect(pem.headers.get('etag')).toBe(`"${json.sha256}"`);
    const page = await (await fetch(`${t.url}/m/${d.id}`)).text();
    const cfg = /<script type="application\/json" id="sealpost-config">([^<]*)<\/script>/.exec(page);
    expect(cfg).not.toBeNull();
    const parsed = JSON.parse(cfg![1]!) as { trustAnchors: string[] };
    expect(parsed.trustAnchors[0]).toContain('BEGIN CERTIFICATE');
  });

  it('answers health, readiness and the OpenAPI document', async () => {
    expect(await (await fetch(`${t.url}/healthz`)).json()).toEqual({ status: 'ok' });
    expect(await (await fetch(`${t.url}/readyz`)).json()).toEqual({ status: 'ready' });
    const doc = (await (await fetch(`${t.url}/api/v1/openapi.json`)).json()) as {
      openapi: string;
      paths: Record<string, unknown>;
    };
    expect(doc.openapi).toMatch(/^3\./);
    // Every API route the server has is described.
    const routes = t.server.app
      .printRoutes({ commonPrefix: false })
      .split('\n')
      .map((l) => /(\/api\/v1\/\S*)/.exec(l)?.[1])
      .filter((p): p is string => p !== undefined)
      .map((p) => p.replace(/:(\w+)/g, '{$1}'));
    for (const r of routes) expect(Object.keys(doc.paths), r).toContain(r);
  });
});

describe('graceful shutdown', () => {
  it('finishes an upload in progress before stopping', async () => {
    const t = await startTestServer();
    const u = new URL(`${t.url}/api/v1/messages?to=late@example.net`);
    const msg = Buffer.from(
      'From: a@example.org\r\nContent-Type: application/pkcs7-mime; smime-type=enveloped-data\r\n\r\n' +
        'QUJD'.repeat(100_000),
    );
    const result = new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(
        {
          host: u.hostname,
          port: u.port,
          path: `${u.pathname}${u.search}`,
          method: 'POST',
          headers: { authorization: `Bearer ${t.apiKey}`, 'content-type': 'message/rfc822' },
        },
        (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        },
      );
      req.on('error', reject);
      req.write(msg.subarray(0, 1000));
      setTimeout(() => {
        req.end(msg.subarray(1000));
      }, 600);
    });
    await sleep(200);
    const closing = t.close();
    const r = await result;
    expect(r.status).toBe(201);
    await closing;
  });
});
