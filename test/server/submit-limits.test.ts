/**
 * Submission refusals: oversize (413, declared or counted while streaming; nothing left on disk),
 * not secure (415), no recipients, bad authentication, wrong Content-Type, per-sender rate limit;
 * and --accept-plain.
 */
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireShared } from '../helpers/paths.ts';
import { corpusMessage, startTestServer, storedFiles, submit, type TestServer } from './helpers.ts';

const shared = requireShared('server submission limit tests over the interop corpus');

/** Streams `total` bytes (a secure header, then filler) in chunks without a Content-Length. */
function streamUpload(
  t: TestServer,
  total: number,
  opts: { declare?: boolean } = {},
): Promise<{ status: number; body: string }> {
  const head = Buffer.from(
    'From: alice@example.org\r\nTo: bob@example.net\r\nMIME-Version: 1.0\r\n' +
      'Content-Type: application/pkcs7-mime; smime-type=enveloped-data; name=smime.p7m\r\n' +
      'Content-Transfer-Encoding: base64\r\n\r\n',
  );
  const line = Buffer.from(`${'QUFBQUFB'.repeat(9)}\r\n`);
  return new Promise((resolve, reject) => {
    const url = new URL(`${t.url}/api/v1/messages`);
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: 'POST',
        headers: {
          authorization: `Bearer ${t.apiKey}`,
          'content-type': 'message/rfc822',
          ...(opts.declare ? { 'content-length': String(total) } : {}),
        },
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        res.on('error', reject);
      },
    );
    req.on('error', (e) => reject(e));
    let sent = 0;
    const pump = (): void => {
      while (sent < total) {
        const chunk = sent === 0 ? head : line;
        const piece = chunk.subarray(0, Math.min(chunk.length, total - sent));
        sent += piece.length;
        if (!req.write(piece)) {
          req.once('drain', pump);
          return;
        }
      }
      req.end();
    };
    req.on('error', () => undefined);
    pump();
  });
}

describe.skipIf(!shared)('submission limits', () => {
  let t: TestServer;
  let plain: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ args: ['--max-message-size', '2MiB', '--sender-rate-limit', '1000'] });
    plain = await startTestServer({ args: ['--accept-plain', '--sender-rate-limit', '2'] });
  });
  afterAll(async () => {
    await t?.close();
    await plain?.close();
  });

  it('refuses a message over the limit while streaming (413) and leaves nothing on disk', async () => {
    const r = await streamUpload(t, 6 * 1024 * 1024);
    expect(r.status).toBe(413);
    expect(JSON.parse(r.body).error.code).toBe('too-large');
    const declared = await streamUpload(t, 3 * 1024 * 1024, { declare: true }).catch((e: Error) => ({
      status: -1,
      body: e.message,
    }));
    expect([413, -1]).toContain(declared.status);
    expect(await storedFiles(t.dir)).toEqual({ tmp: [], messages: [] });
    const ok = await streamUpload(t, 1024 * 1024);
    expect(ok.status).toBe(201);
    expect((await storedFiles(t.dir)).messages).toHaveLength(1);
  });

  it('refuses a plain message (415 not-secure) and keeps nothing', async () => {
    const before = await storedFiles(t.dir);
    const r = await submit(t, readFileSync(corpusMessage('23-plain-text.eml')));
    expect(r.status).toBe(415);
    const body = (await r.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('not-secure');
    expect(body.error.message).toMatch(/S\/MIME/);
    expect(await storedFiles(t.dir)).toEqual(before);
  });

  it('refuses plain text dressed as secure: x.pgp, armor after a greeting, a nested multipart/encrypted', async () => {
    const armor = '-----BEGIN PGP MESSAGE-----\r\n\r\nhQEMA1234\r\n-----END PGP MESSAGE-----\r\n';
    const head = 'From: alice@example.org\r\nTo: bob@example.net\r\nSubject: t\r\nMIME-Version: 1.0\r\n';
    const disguised = [
      `${head}Content-Type: text/plain; name=x.pgp\r\nContent-Disposition: attachment; filename=x.pgp\r\n\r\nhello\r\n`,
      `${head}Content-Type: text/plain\r\n\r\nHi Bob, see below.\r\n\r\n${armor}`,
      `${head}Content-Type: multipart/mixed; boundary=o\r\n\r\n--o\r\nContent-Type: text/plain\r\n\r\nclick here\r\n--o\r\n` +
        'Content-Type: multipart/encrypted; protocol="application/pgp-encrypted"; boundary=i\r\n\r\n' +
        `--i\r\nContent-Type: application/pgp-encrypted\r\n\r\nVersion: 1\r\n--i\r\nContent-Type: application/octet-stream\r\n\r\n${armor}--i--\r\n--o--\r\n`,
    ];
    for (const m of disguised) {
      const r = await submit(t, m);
      expect(r.status, m.slice(0, 200)).toBe(415);
      expect(((await r.json()) as { error: { code: string } }).error.code).toBe('not-secure');
    }
  });

  it('accepts plain messages when configured to', async () => {
    const r = await submit(plain, readFileSync(corpusMessage('23-plain-text.eml')));
    expect(r.status).toBe(201);
    expect(((await r.json()) as { protocol: string }).protocol).toBe('plain');
  });

  it('refuses missing recipients, bad keys, wrong types, empty bodies and bad parameters', async () => {
    const noTo =
      'From: a@example.org\r\nContent-Type: application/pkcs7-mime; smime-type=enveloped-data\r\n\r\nAAAA\r\n';
    const e = async (r: Response) => [r.status, ((await r.json()) as { error: { code: string } }).error.code];
    expect(await e(await submit(t, noTo))).toEqual([400, 'no-recipients']);
    expect(await e(await submit(t, noTo, '?to=not-an-address'))).toEqual([400, 'bad-request']);
    expect((await submit(t, noTo, '?to=x@example.org')).status).toBe(201);
    expect(await e(await submit(t, noTo, '?to=x@example.org&expires=9999d'))).toEqual([400, 'bad-request']);
    expect(await e(await submit({ url: t.url, apiKey: 'sp_nope' }, noTo, '?to=x@example.org'))).toEqual([
      401,
      'unauthorized',
    ]);
    const noAuth = await fetch(`${t.url}/api/v1/messages`, { method: 'POST', body: noTo });
    expect(noAuth.status).toBe(401);
    expect(noAuth.headers.get('www-authenticate')).toMatch(/Bearer/);
    expect(await e(await submit(t, noTo, '?to=x@example.org', { 'content-type': 'text/html' }))).toEqual([
      415,
      'unsupported-media-type',
    ]);
    expect(await e(await submit(t, '', '?to=x@example.org'))).toEqual([400, 'bad-request']);
    // The types Fastify parses itself (a message sent as text or JSON by mistake): 415, not 500.
    for (const type of ['text/plain', 'text/plain; charset=utf-8', 'application/json']) {
      const body = type === 'application/json' ? JSON.stringify({ message: noTo }) : noTo;
      expect(await e(await submit(t, body, '?to=x@example.org', { 'content-type': type }))).toEqual([
        415,
        'unsupported-media-type',
      ]);
    }
    // Recipients with control characters or percent-escapes are refused (?to= and To/Cc).
    for (const to of [
      'x%40evil.example@example.org',
      'x%00@example.org',
      'x\u0001y@example.org',
      'x\u007f@example.org',
    ])
      expect(await e(await submit(t, noTo, `?to=${encodeURIComponent(to)}`))).toEqual([400, 'bad-request']);
    const withPercent =
      'From: a@example.org\r\nTo: "C" <c%d@example.net>, e%f@example.net\r\n' +
      'Content-Type: application/pkcs7-mime; smime-type=enveloped-data\r\n\r\nAAAA\r\n';
    expect(await e(await submit(t, withPercent))).toEqual([400, 'no-recipients']);
  });

  it('limits submissions per sender', async () => {
    const msg = readFileSync(corpusMessage('23-plain-text.eml'));
    expect((await submit(plain, msg)).status).toBe(201); // second of 2 (one above)
    const third = await submit(plain, msg);
    expect(third.status).toBe(429);
    expect(((await third.json()) as { error: { code: string } }).error.code).toBe('rate-limited');
    // Another sender is not affected.
    const other = await plain.addSender('other@example.org');
    expect((await submit({ url: plain.url, apiKey: other }, msg)).status).toBe(201);
  });
});
