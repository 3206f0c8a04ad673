/**
 * Security review regression: the loopback-only routes (the outbox, whose mails carry link secrets,
 * and /metrics) judge the connection itself, not a forwarded address a client can write, and refuse
 * requests a reverse proxy relayed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from './helpers.ts';

const LOCAL_ONLY = ['/api/v1/outbox', '/outbox', '/metrics'];

describe('loopback-only routes behind a proxy', () => {
  let proxied: TestServer;
  let direct: TestServer;
  beforeAll(async () => {
    proxied = await startTestServer({ args: ['--trust-proxy'] });
    direct = await startTestServer();
  });
  afterAll(async () => {
    await proxied?.close();
    await direct?.close();
  });

  it('refuses a forwarded 127.0.0.1 under --trust-proxy (the outbox holds link secrets)', async () => {
    for (const path of LOCAL_ONLY) {
      for (const headers of <Record<string, string>[]>[
        { 'x-forwarded-for': '127.0.0.1' },
        { 'x-forwarded-for': '127.0.0.1, 203.0.113.5' },
        { 'x-forwarded-for': '::1' },
      ]) {
        const r = await fetch(`${proxied.url}${path}`, { headers });
        expect(r.status, `${path} ${JSON.stringify(headers)}`).toBe(404);
      }
      expect((await fetch(`${proxied.url}${path}`)).status, path).toBe(200);
    }
  });

  it('refuses requests relayed by a reverse proxy on this machine (without --trust-proxy)', async () => {
    for (const path of LOCAL_ONLY) {
      for (const headers of <Record<string, string>[]>[
        { 'x-forwarded-for': '203.0.113.5' },
        { forwarded: 'for=203.0.113.5;proto=https' },
        { 'x-real-ip': '203.0.113.5' },
      ]) {
        const r = await fetch(`${direct.url}${path}`, { headers });
        expect(r.status, `${path} ${JSON.stringify(headers)}`).toBe(404);
      }
      expect((await fetch(`${direct.url}${path}`)).status, path).toBe(200);
    }
  });
});
