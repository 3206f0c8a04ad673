/**
 * Link secrets: wrong, missing and unknown (401/404), rate limits per delivery and per client
 * address (429, even for the right secret afterwards), security headers; the outbox and metrics only
 * for loopback; and the log test: no API key, link secret or its hash ever reaches a log line.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashToken } from '../../src/server/secrets.ts';
import { requireShared } from '../helpers/paths.ts';
import {
  corpusMessage,
  linkIn,
  outbox,
  startTestServer,
  submit,
  waitUntil,
  type TestServer,
} from './helpers.ts';

const shared = requireShared('server pickup security tests over the interop corpus');

async function deliver(
  t: TestServer,
  to: string,
): Promise<{ id: string; secret: string; messageId: string }> {
  const res = await submit(t, readFileSync(corpusMessage('04-smime-enveloped-rsa-oaep.eml')), `?to=${to}`);
  expect(res.status).toBe(201);
  const { id: messageId } = (await res.json()) as { id: string };
  let found: { id: string; secret: string } | null = null;
  await waitUntil(
    async () => {
      const m = (await outbox(t.url)).find((x) => x.to === to);
      if (m) found = linkIn(m.text);
      return m !== undefined;
    },
    10_000,
    'notification in the outbox',
  );
  return { ...found!, messageId };
}

describe.skipIf(!shared)('pickup access control', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({
      args: ['--trust-proxy', '--bad-secret-ip-limit', '6', '--bad-secret-delivery-limit', '3'],
    });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('refuses wrong, missing and unknown secrets, then locks the delivery for that client only', async () => {
    const d = await deliver(t, 'locked@example.net');
    const ip = { 'x-forwarded-for': '198.51.100.7' };
    const get = (headers: Record<string, string>) =>
      fetch(`${t.url}/api/v1/pickup/${d.id}`, { headers: { ...ip, ...headers } });
    const missing = await get({});
    expect(missing.status).toBe(401);
    expect(((await missing.json()) as { error: { code: string } }).error.code).toBe('bad-secret');
    const wrong = await get({
      'x-sealpost-secret': d.secret.slice(0, -1) + (d.secret.endsWith('A') ? 'B' : 'A'),
    });
    expect(wrong.status).toBe(401);
    const other = await fetch(`${t.url}/api/v1/pickup/${d.id}/content`, {
      headers: { ...ip, authorization: 'Sealpost not-the-secret' },
    });
    expect(other.status).toBe(401);
    // Three failures for this delivery from this client: now even its right secret is refused for a while.
    const locked = await get({ 'x-sealpost-secret': d.secret });
    expect(locked.status).toBe(429);
    expect(((await locked.json()) as { error: { code: string } }).error.code).toBe('too-many-attempts');
    // The rightful recipient, elsewhere, is not locked out by that client (issue 10: a reload that
    // took "#main" for the secret locked the delivery for everyone).
    const recipient = await fetch(`${t.url}/api/v1/pickup/${d.id}`, {
      headers: { 'x-forwarded-for': '192.0.2.44', 'x-sealpost-secret': d.secret },
    });
    expect(recipient.status).toBe(200);
    // Another address in the same IPv6 /64 counts as the same client.
    const v6 = (a: string) => ({ 'x-forwarded-for': a, 'x-sealpost-secret': 'main' });
    for (let i = 0; i < 3; i++)
      await fetch(`${t.url}/api/v1/pickup/${d.id}`, { headers: v6(`2001:db8:7:7::${i + 1}`) });
    const sameNet = await fetch(`${t.url}/api/v1/pickup/${d.id}`, {
      headers: { 'x-forwarded-for': '2001:db8:7:7:ffff::9', 'x-sealpost-secret': d.secret },
    });
    expect(sameNet.status).toBe(429);
    const otherNet = await fetch(`${t.url}/api/v1/pickup/${d.id}`, {
      headers: { 'x-forwarded-for': '2001:db8:7:8::1', 'x-sealpost-secret': d.secret },
    });
    expect(otherNet.status).toBe(200);
    // Unknown deliveries are 404.
    const unknown = await fetch(`${t.url}/api/v1/pickup/AAAAAAAAAAAAAAAAAAAAAA`, {
      headers: { 'x-forwarded-for': '198.51.100.8', 'x-sealpost-secret': d.secret },
    });
    expect(unknown.status).toBe(404);
  });

  it('accepts the secret in either header and limits wrong secrets per client address', async () => {
    const d = await deliver(t, 'ip@example.net');
    const ok1 = await fetch(`${t.url}/api/v1/pickup/${d.id}`, { headers: { 'x-sealpost-secret': d.secret } });
    expect(ok1.status).toBe(200);
    const ok2 = await fetch(`${t.url}/api/v1/pickup/${d.id}`, {
      headers: { authorization: `Sealpost ${d.secret}` },
    });
    expect(ok2.status).toBe(200);
    const attacker = { 'x-forwarded-for': '203.0.113.9' };
    for (let i = 0; i < 6; i++) {
      const r = await fetch(`${t.url}/api/v1/pickup/AAAAAAAAAAAAAAAAAAAA${String(i).padStart(2, '0')}`, {
        headers: { ...attacker, 'x-sealpost-secret': 'x'.repeat(43) },
      });
      expect(r.status).toBe(404);
    }
    const blocked = await fetch(`${t.url}/api/v1/pickup/${d.id}`, {
      headers: { ...attacker, 'x-sealpost-secret': d.secret },
    });
    expect(blocked.status).toBe(429);
    // Another address is not affected.
    const fine = await fetch(`${t.url}/api/v1/pickup/${d.id}`, {
      headers: { 'x-forwarded-for': '203.0.113.10', 'x-sealpost-secret': d.secret },
    });
    expect(fine.status).toBe(200);
  });

  it('sends security headers and a strict CSP everywhere', async () => {
    for (const path of ['/', '/send', '/api/v1/openapi.json', '/outbox', '/assets/send.js']) {
      const r = await fetch(`${t.url}${path}`);
      expect(r.status, path).toBe(200);
      const csp = r.headers.get('content-security-policy') ?? '';
      expect(csp, path).toContain("default-src 'none'");
      expect(csp, path).not.toContain('unsafe-inline');
      expect(r.headers.get('x-content-type-options')).toBe('nosniff');
      expect(r.headers.get('referrer-policy')).toBe('no-referrer');
      expect(r.headers.get('x-frame-options')).toBe('DENY');
      const body = await r.text();
      if (r.headers.get('content-type')?.includes('html')) {
        expect(body, path).not.toMatch(/<script(?![^>]*\bsrc=)(?![^>]*type="application\/json")[^>]*>/);
        expect(body, path).not.toMatch(/\son[a-z]+=/i);
        expect(body, path).not.toMatch(/style="/);
      }
    }
  });

  it('serves the outbox and metrics to loopback only', async () => {
    const remote = { 'x-forwarded-for': '192.0.2.44' };
    expect((await fetch(`${t.url}/api/v1/outbox`, { headers: remote })).status).toBe(404);
    expect((await fetch(`${t.url}/outbox`, { headers: remote })).status).toBe(404);
    expect((await fetch(`${t.url}/metrics`, { headers: remote })).status).toBe(404);
    const metrics = await fetch(`${t.url}/metrics`);
    expect(metrics.status).toBe(200);
    const text = await metrics.text();
    expect(text).toContain('sealpost_submissions_total{result="stored"}');
    expect(text).toContain('sealpost_bad_secrets_total');
    expect(text).toContain('sealpost_outbox_mails{state="sent"}');
  });

  it('writes no API key, link secret or secret hash to any log line', async () => {
    const d = await deliver(t, 'logs@example.net');
    const h = { 'x-sealpost-secret': d.secret };
    await fetch(`${t.url}/api/v1/pickup/${d.id}`, { headers: h });
    await (await fetch(`${t.url}/api/v1/pickup/${d.id}/content`, { headers: h })).arrayBuffer();
    await fetch(`${t.url}/api/v1/pickup/${d.id}/receipt`, { method: 'POST', headers: h });
    await fetch(`${t.url}/api/v1/pickup/${d.id}?secret=${d.secret}`, {
      headers: { authorization: `Sealpost ${d.secret}` },
    });
    await fetch(`${t.url}/m/${d.id}`);
    await fetch(`${t.url}/api/v1/messages/${d.messageId}`, {
      headers: { authorization: `Bearer ${t.apiKey}` },
    });
    await fetch(`${t.url}/api/v1/messages`, {
      method: 'POST',
      headers: { authorization: `Bearer ${t.apiKey}x` },
    });
    const mails = await outbox(t.url);
    const secrets = mails.map((m) => linkIn(m.text).secret);
    expect(secrets.length).toBeGreaterThanOrEqual(3);
    const needles = [t.apiKey, t.apiKey.slice(3), hashToken(t.apiKey), ...secrets, ...secrets.map(hashToken)];
    expect(t.logs.length).toBeGreaterThan(20);
    for (const line of t.logs) {
      expect(() => JSON.parse(line)).not.toThrow();
      // No request ended in a server-side error along the way.
      expect((JSON.parse(line) as { level: number }).level, line.slice(0, 300)).toBeLessThan(50);
      for (const n of needles)
        expect(line.includes(n), `log line leaks a secret: ${line.slice(0, 200)}`).toBe(false);
    }
  });
});
