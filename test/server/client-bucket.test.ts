/**
 * Per-address limits count an IPv6 client by its /64 (one host can rotate through a whole /64),
 * an IPv4 client by its address, and an IPv4-mapped IPv6 address as the IPv4 address: the helper,
 * the HTTP limits (wrong link secrets, requests) and the relay's connections per address.
 */
import type { SMTPServerSession } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientBucket } from '../../src/server/client-bucket.ts';
import { loadConfig } from '../../src/server/config.ts';
import type { ServerContext } from '../../src/server/context.ts';
import { RelayServer } from '../../src/server/relay/server.ts';
import { makeSelfSigned } from '../../src/server/relay/tls.ts';
import { startTestServer, type TestServer } from './helpers.ts';

describe('clientBucket', () => {
  it('keeps IPv4 addresses as they are', () => {
    expect(clientBucket('192.0.2.7')).toBe('192.0.2.7');
    expect(clientBucket('10.0.0.1')).toBe('10.0.0.1');
    expect(clientBucket('192.0.2.8')).not.toBe(clientBucket('192.0.2.7'));
  });

  it('counts an IPv4-mapped IPv6 address as its IPv4 address', () => {
    expect(clientBucket('::ffff:192.0.2.7')).toBe('192.0.2.7');
    expect(clientBucket('::FFFF:192.0.2.7')).toBe('192.0.2.7');
    expect(clientBucket('::ffff:c000:207')).toBe('192.0.2.7');
    expect(clientBucket('0:0:0:0:0:ffff:127.0.0.1')).toBe('127.0.0.1');
  });

  it('buckets IPv6 addresses by their /64, however they are written', () => {
    const a = clientBucket('2001:db8:1:2::1');
    expect(a).toBe('2001:db8:1:2::/64');
    for (const same of [
      '2001:db8:1:2:ffff:ffff:ffff:ffff',
      '2001:0DB8:0001:0002:1234:5678:9abc:def0',
      '2001:db8:1:2:a::',
      '2001:db8:1:2::99%eth0',
      '2001:db8:1:2:0:ffff:192.0.2.7',
    ])
      expect(clientBucket(same), same).toBe(a);
    expect(clientBucket('2001:db8:1:3::1')).toBe('2001:db8:1:3::/64');
    expect(clientBucket('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(clientBucket('::1')).toBe('0:0:0:0::/64');
    expect(clientBucket('::')).toBe('0:0:0:0::/64');
    expect(clientBucket('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
    // NAT64 and other embedded-IPv4 forms are IPv6 networks, not the IPv4 address.
    expect(clientBucket('64:ff9b::192.0.2.7')).toBe('64:ff9b:0:0::/64');
    expect(clientBucket('::192.0.2.7')).toBe('0:0:0:0::/64');
  });

  it('returns what is not an address unchanged', () => {
    expect(clientBucket(undefined)).toBe('');
    expect(clientBucket('')).toBe('');
    expect(clientBucket('not-an-address')).toBe('not-an-address');
    expect(clientBucket('2001:db8::1::2')).toBe('2001:db8::1::2');
  });
});

describe('per-address HTTP limits count an IPv6 /64 as one client', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ args: ['--trust-proxy', '--bad-secret-ip-limit', '4'] });
  });
  afterAll(async () => {
    await t?.close();
  });

  const tryLink = (from: string, n: number) =>
    fetch(`${t.url}/api/v1/pickup/AAAAAAAAAAAAAAAAAAAA${String(n).padStart(2, '0')}`, {
      headers: { 'x-forwarded-for': from, 'x-sealpost-secret': 'x'.repeat(43) },
    });

  it('wrong link secrets from rotating addresses of one /64 share one limit', async () => {
    for (let i = 0; i < 4; i++) expect((await tryLink(`2001:db8:7:7::${i + 1}`, i)).status).toBe(404);
    // A fresh address of the same /64 is already blocked ...
    const blocked = await tryLink('2001:db8:7:7:abcd:ef01:2345:6789', 10);
    expect(blocked.status).toBe(429);
    expect(((await blocked.json()) as { error: { code: string } }).error.code).toBe('too-many-attempts');
    // ... the next /64 is not.
    expect((await tryLink('2001:db8:7:8::1', 11)).status).toBe(404);
  });

  it('an IPv4 client and its IPv4-mapped form share one limit; its neighbour does not', async () => {
    for (let i = 0; i < 2; i++) expect((await tryLink('198.51.100.20', i)).status).toBe(404);
    for (let i = 2; i < 4; i++) expect((await tryLink('::ffff:198.51.100.20', i)).status).toBe(404);
    expect((await tryLink('198.51.100.20', 5)).status).toBe(429);
    expect((await tryLink('198.51.100.21', 6)).status).toBe(404);
  });
});

describe('the request rate limit counts an IPv6 /64 as one client', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ args: ['--trust-proxy', '--rate-limit', '5'] });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('answers 429 to a new address of a /64 that used up the limit', async () => {
    const get = (from: string) =>
      fetch(`${t.url}/api/v1/openapi.json`, { headers: { 'x-forwarded-for': from } });
    for (let i = 0; i < 5; i++) expect((await get(`2001:db8:42:1::${i + 1}`)).status).toBe(200);
    expect((await get('2001:db8:42:1:ffff::1')).status).toBe(429);
    expect((await get('2001:db8:42:2::1')).status).toBe(200);
  });
});

describe('the relay counts concurrent SMTP connections of an IPv6 /64 together', () => {
  it('refuses a connection from a fresh address of a /64 that holds the limit, and frees it on close', () => {
    // One machine has only ::1 to connect from: the connection hooks are driven directly.
    const warnings: unknown[] = [];
    const ctx = {
      config: loadConfig(['--smtp-max-connections-per-ip', '2'], {}),
      now: Date.now,
      logger: { warn: (o: unknown) => warnings.push(o), info: () => undefined, debug: () => undefined },
    } as unknown as ServerContext;
    const { key, cert } = makeSelfSigned('relay.example.org');
    const relay = new RelayServer(ctx, {
      tls: { key: Buffer.from(key), cert: Buffer.from(cert), source: 'self-signed' },
      hostname: 'relay.example.org',
      onQueued: () => undefined,
    });
    const hooks = relay as unknown as {
      onConnect(s: SMTPServerSession, cb: (err?: Error | null) => void): void;
      onClose(s: SMTPServerSession): void;
    };
    let n = 0;
    const connect = (remoteAddress: string) => {
      const session = { id: `s${n++}`, remoteAddress } as SMTPServerSession;
      let refused: Error | null | undefined;
      hooks.onConnect(session, (err) => (refused = err));
      return { session, refused: refused ?? null };
    };
    const a = connect('2001:db8:5:5::1');
    const b = connect('2001:db8:5:5::2');
    expect([a.refused, b.refused]).toEqual([null, null]);
    const c = connect('2001:db8:5:5:dead:beef::3');
    expect(c.refused?.message).toMatch(/4\.7\.0/);
    expect(warnings).toEqual([{ client: '2001:db8:5:5:dead:beef::3', bucket: '2001:db8:5:5::/64' }]);
    expect(connect('2001:db8:5:6::1').refused).toBeNull(); // another /64
    // IPv4 and its mapped form are one client.
    expect(connect('192.0.2.1').refused).toBeNull();
    expect(connect('::ffff:192.0.2.1').refused).toBeNull();
    expect(connect('192.0.2.1').refused).not.toBeNull();
    // Closing one connection of the /64 frees a slot for any address in it.
    hooks.onClose(a.session);
    hooks.onClose(c.session); // the refused one was never counted
    expect(connect('2001:db8:5:5::77').refused).toBeNull();
    expect(connect('2001:db8:5:5::78').refused).not.toBeNull();
  });
});
