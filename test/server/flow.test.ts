/**
 * The whole delivery over real HTTP and real SMTP: submit a corpus message → one notification per
 * recipient at the upstream SMTP sink, with a working link → the page → metadata → content bytes
 * identical (whole, by range, ETag) → receipt → state processed and an MDN to the sender.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireShared } from '../helpers/paths.ts';
import {
  corpusMessage,
  createSmtpSink,
  linkIn,
  parseMail,
  startTestServer,
  submit,
  waitUntil,
  type SmtpSink,
  type TestServer,
} from './helpers.ts';

const shared = requireShared('server delivery flow over the interop corpus');

describe.skipIf(!shared)('delivery flow (HTTP + SMTP upstream)', () => {
  let t: TestServer;
  let sink: SmtpSink;

  beforeAll(async () => {
    sink = await createSmtpSink();
    await sink.start();
    t = await startTestServer({
      args: [
        '--smtp-upstream',
        `smtp://127.0.0.1:${sink.port}`,
        '--base-url',
        'https://sealpost.example.org',
      ],
    });
  });
  afterAll(async () => {
    await t?.close();
    await sink?.stop();
  });

  it('delivers an S/MIME message end to end', async () => {
    const bytes = readFileSync(corpusMessage('08-smime-sign-then-encrypt.eml'));
    const res = await submit(t, bytes, '?to=bob@example.net&to=Carol@Example.com&receipt=true');
    expect(res.status).toBe(201);
    const created = (await res.json()) as {
      id: string;
      size: number;
      protocol: string;
      deliveries: { id: string; recipient: string }[];
    };
    expect(created.size).toBe(bytes.length);
    expect(created.protocol).toBe('smime');
    expect(created.deliveries.map((d) => d.recipient)).toEqual(['bob@example.net', 'carol@example.com']);

    // One notification per recipient, from the upstream.
    await sink.waitFor(2);
    const mails = await Promise.all(
      sink.mails.map(async (m) => ({ env: m, parsed: await parseMail(m.raw) })),
    );
    const toBob = mails.find((m) => m.env.to.includes('bob@example.net'))!;
    expect(toBob.parsed.subject).toContain('alice@example.org sent you a secure message');
    expect(toBob.parsed.text).toContain('How to tell this notice is genuine');
    expect(toBob.parsed.text).toContain('Available until');
    expect(toBob.parsed.html).toContain('Open the secure message');
    const { link, id, secret } = linkIn(toBob.parsed.text!);
    expect(link.startsWith('https://sealpost.example.org/m/')).toBe(true);
    expect(secret.length).toBeGreaterThanOrEqual(22); // ≥ 128 bits in base64url
    expect(toBob.parsed.html).toContain(secret);
    const bobDelivery = created.deliveries.find((d) => d.recipient === 'bob@example.net')!;
    expect(id).toBe(bobDelivery.id);

    const status = async () => {
      const r = await fetch(`${t.url}/api/v1/messages/${created.id}`, {
        headers: { authorization: `Bearer ${t.apiKey}` },
      });
      return (await r.json()) as { deliveries: { id: string; state: string; events: { type: string }[] }[] };
    };
    await waitUntil(
      async () => (await status()).deliveries.every((d) => d.state === 'notified'),
      10_000,
      'notified',
    );

    // The page: served without the secret, changes nothing.
    const pageRes = await fetch(`${t.url}/m/${id}`);
    expect(pageRes.status).toBe(200);
    expect(pageRes.headers.get('content-type')).toMatch(/text\/html/);
    expect(pageRes.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(pageRes.headers.get('referrer-policy')).toBe('no-referrer');
    const html = await pageRes.text();
    expect(html).toMatch(/<script[^>]+src="\/receiver\//);
    expect(html).toContain('<script type="application/json" id="sealpost-config">');
    expect((await status()).deliveries.find((d) => d.id === id)!.state).toBe('notified');

    const h = { 'x-sealpost-secret': secret };
    const meta = await fetch(`${t.url}/api/v1/pickup/${id}`, { headers: h });
    expect(meta.status).toBe(200);
    expect(meta.headers.get('cache-control')).toBe('no-store');
    const m = (await meta.json()) as Record<string, unknown>;
    expect(m).toMatchObject({
      id,
      recipient: 'bob@example.net',
      sender: 'alice@example.org',
      size: bytes.length,
      protocol: 'smime',
      encrypted: true,
    });
    expect((await status()).deliveries.find((d) => d.id === id)!.state).toBe('opened');

    const content = await fetch(`${t.url}/api/v1/pickup/${id}/content`, { headers: h });
    expect(content.status).toBe(200);
    expect(content.headers.get('cache-control')).toBe('no-store');
    expect(content.headers.get('accept-ranges')).toBe('bytes');
    const etag = content.headers.get('etag')!;
    expect(Buffer.from(await content.arrayBuffer()).equals(bytes)).toBe(true);

    const part = await fetch(`${t.url}/api/v1/pickup/${id}/content`, {
      headers: { ...h, range: 'bytes=100-4195' },
    });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe(`bytes 100-4195/${bytes.length}`);
    expect(Buffer.from(await part.arrayBuffer()).equals(bytes.subarray(100, 4196))).toBe(true);
    const suffix = await fetch(`${t.url}/api/v1/pickup/${id}/content`, {
      headers: { ...h, range: 'bytes=-10' },
    });
    expect(Buffer.from(await suffix.arrayBuffer()).equals(bytes.subarray(bytes.length - 10))).toBe(true);
    const stale = await fetch(`${t.url}/api/v1/pickup/${id}/content`, {
      headers: { ...h, range: 'bytes=0-9', 'if-range': '"other"' },
    });
    expect(stale.status).toBe(200);
    await stale.arrayBuffer();
    const beyond = await fetch(`${t.url}/api/v1/pickup/${id}/content`, {
      headers: { ...h, range: 'bytes=999999-' },
    });
    expect(beyond.status).toBe(416);
    expect(beyond.headers.get('content-range')).toBe(`bytes */${bytes.length}`);
    const notModified = await fetch(`${t.url}/api/v1/pickup/${id}/content`, {
      headers: { ...h, 'if-none-match': etag },
    });
    expect(notModified.status).toBe(304);
    const head = await fetch(`${t.url}/api/v1/pickup/${id}/content`, { method: 'HEAD', headers: h });
    expect(head.headers.get('content-length')).toBe(String(bytes.length));

    const receipt = await fetch(`${t.url}/api/v1/pickup/${id}/receipt`, {
      method: 'POST',
      headers: { ...h, 'content-type': 'application/json' },
      body: JSON.stringify({ protocol: 'smime', signature: 'valid', attachments: 1 }),
    });
    expect(receipt.status).toBe(200);
    expect(await receipt.json()).toEqual({ id, state: 'processed' });
    // A second receipt changes nothing and sends no second MDN.
    await fetch(`${t.url}/api/v1/pickup/${id}/receipt`, { method: 'POST', headers: h });

    const final = await status();
    const bob = final.deliveries.find((d) => d.id === id)!;
    expect(bob.state).toBe('processed');
    expect(bob.events.map((e) => e.type)).toEqual(
      ['created', 'notified', 'opened', 'processed', 'receipt-sent'].slice(0, bob.events.length),
    );
    expect(final.deliveries.find((d) => d.id !== id)!.state).toBe('notified');

    // The MDN to the sender.
    await sink.waitFor(3);
    const mdn = sink.mails[2]!;
    expect(mdn.to).toEqual(['alice@example.org']);
    const raw = mdn.raw.toString('latin1');
    expect(raw).toMatch(/Content-Type: multipart\/report; report-type=disposition-notification/i);
    expect(raw).toMatch(/Content-Type: message\/disposition-notification/i);
    expect(raw).toMatch(/Disposition: automatic-action\/MDN-sent-automatically; processed/);
    expect(raw).toContain('Final-Recipient: rfc822;bob@example.net');
    expect(raw).not.toMatch(/[^\r]\n/);
    await new Promise((r) => setTimeout(r, 300));
    expect(sink.mails).toHaveLength(3);
    for (const line of t.logs)
      expect((JSON.parse(line) as { level: number }).level, line.slice(0, 300)).toBeLessThan(40);
    const bobAfter = (await status()).deliveries.find((d) => d.id === id)! as {
      events: { type: string; detail?: string }[];
    };
    expect(bobAfter.events[3]!.detail).toBe('protocol=smime signature=valid attachments=1');
    expect(bobAfter.events.map((e) => e.type)).toEqual([
      'created',
      'notified',
      'opened',
      'processed',
      'receipt-sent',
    ]);
  });

  it('takes recipients from To and Cc and accepts every secure corpus message', async () => {
    const names = [
      '01-smime-signed-detached.eml',
      '03-smime-enveloped-rsa15-aes256cbc.eml',
      '06-smime-authenveloped-aes256gcm.eml',
      '15-pgp-inline-signed-encrypted.eml',
      '16-pgpmime-encrypted-combined-signature.eml',
      '18-pgpmime-signed.eml',
      '21-pgp-inline-password.eml',
    ];
    for (const name of names) {
      const bytes = readFileSync(corpusMessage(name));
      const res = await submit(t, bytes);
      expect(res.status, name).toBe(201);
      const body = (await res.json()) as { deliveries: { recipient: string }[]; protocol: string };
      expect(body.deliveries.map((d) => d.recipient)).toEqual(['bob@example.net']);
      expect(body.protocol).not.toBe('plain');
    }
  });
});
