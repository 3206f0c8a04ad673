/**
 * The relay's small parts on their own: the DSN's machine-readable part and header copy, the
 * self-signed certificate, trusted-network matching, and the SMTP replies for service errors.
 */
import { X509Certificate } from 'node:crypto';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ServerError } from '../../../src/server/errors.ts';
import { buildDsn, deliveryStatus, headerBlock } from '../../../src/server/relay/dsn.ts';
import { parseNetworks } from '../../../src/server/relay/networks.ts';
import { toSmtpReply } from '../../../src/server/relay/replies.ts';
import { loadRelayTls, makeSelfSigned } from '../../../src/server/relay/tls.ts';
import { parseMail } from '../helpers.ts';

const input = {
  from: '"Mail Delivery System" <MAILER-DAEMON@relay.example.org>',
  to: 'alice@example.org',
  reportingHost: 'relay.example.org',
  arrivalDate: new Date('2026-11-20T10:00:00Z'),
  lastAttempt: new Date('2026-11-25T10:00:00Z'),
  recipients: [
    { address: 'bob@example.net', status: '4.4.7', diagnostic: 'smtp; 451 4.3.0 try later' },
    { address: 'carol@example.net', status: '5.1.1', diagnostic: '550 5.1.1 no such user\r\nInjected: x' },
  ],
  originalHeaders: Buffer.from('From: alice@example.org\r\nSubject: Grüße\r\n\r\n', 'utf8'),
  reason: 'Gave up.',
  messageId: '<dsn1@relay.example.org>',
  date: new Date('2026-11-25T10:00:01Z'),
};

describe('delivery status notification (RFC 3464)', () => {
  it('writes one per-recipient block with action, status and diagnostic, no header injection', () => {
    const ds = deliveryStatus(input);
    expect(ds).toMatch(/^Reporting-MTA: dns; relay\.example\.org\r\nArrival-Date: .*\+0000\r\n\r\n/);
    expect(ds).toContain('Final-Recipient: rfc822; bob@example.net\r\nAction: failed\r\nStatus: 4.4.7\r\n');
    expect(ds).toContain('Status: 5.1.1');
    expect(ds).not.toMatch(/\r\nInjected:/);
  });

  it('is a multipart/report with text, message/delivery-status and text/rfc822-headers, CRLF', async () => {
    const raw = await buildDsn(input);
    const text = raw.toString('latin1');
    expect(text).toMatch(/Content-Type: multipart\/report;\s*report-type=delivery-status;\s*boundary=/i);
    expect(text).toContain('Content-Type: message/delivery-status');
    expect(text).toContain('Content-Type: text/rfc822-headers');
    expect(text).toContain('Auto-Submitted: auto-replied');
    expect(/[^\r]\n/.test(text)).toBe(false);
    const mail = await parseMail(raw);
    expect(mail.to?.[0]?.address).toBe('alice@example.org');
    expect(mail.messageId).toBe('<dsn1@relay.example.org>');
  });

  it('copies only the header block of the original', () => {
    expect(headerBlock(Buffer.from('A: 1\r\nB: 2\r\n\r\nbody\r\n')).toString()).toBe('A: 1\r\nB: 2\r\n\r\n');
    expect(headerBlock(Buffer.from('A: 1\nB: 2\n\nbody\n')).toString()).toBe('A: 1\nB: 2\n\n');
    expect(headerBlock(Buffer.alloc(100_000, 65)).length).toBe(64 * 1024);
  });
});

describe('relay TLS certificate', () => {
  it('makes a self-signed serverAuth certificate for the host name', () => {
    const { cert, key } = makeSelfSigned('mail.example.org');
    const x = new X509Certificate(cert);
    expect(x.subject).toBe('CN=mail.example.org');
    expect(x.subjectAltName).toBe('DNS:mail.example.org');
    expect(x.checkHost('mail.example.org')).toBe('mail.example.org');
    expect(x.verify(x.publicKey)).toBe(true);
    expect(key).toContain('BEGIN PRIVATE KEY');
  });

  it('keeps the generated pair in the data folder and reuses it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sealpost-tls-'));
    try {
      const a = await loadRelayTls({ dataDir: dir, certFile: null, keyFile: null, hostname: 'h.example' });
      const b = await loadRelayTls({ dataDir: dir, certFile: null, keyFile: null, hostname: 'h.example' });
      expect(a.source).toBe('self-signed');
      expect(b.cert.equals(a.cert)).toBe(true);
      expect((await stat(join(dir, 'smtp-tls.key'))).mode & 0o777).toBe(0o600);
      const c = await loadRelayTls({
        dataDir: dir,
        certFile: join(dir, 'smtp-tls.crt'),
        keyFile: join(dir, 'smtp-tls.key'),
        hostname: 'x',
      });
      expect(c.source).toBe('configured');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('trusted networks', () => {
  it('matches IPv4, IPv4-mapped IPv6 and IPv6 blocks; nothing when empty', () => {
    const n = parseNetworks('192.168.0.0/16 10.1.2.3, 2001:db8::/32');
    expect(n.contains('192.168.44.1')).toBe(true);
    expect(n.contains('::ffff:192.168.44.1')).toBe(true);
    expect(n.contains('10.1.2.3')).toBe(true);
    expect(n.contains('10.1.2.4')).toBe(false);
    expect(n.contains('2001:db8:1::5')).toBe(true);
    expect(n.contains('2001:db9::5')).toBe(false);
    expect(n.contains(undefined)).toBe(false);
    expect(n.contains('not-an-ip')).toBe(false);
    expect(parseNetworks('').contains('127.0.0.1')).toBe(false);
    expect(() => parseNetworks('::1/129')).toThrow(/is not a network/);
  });
});

describe('SMTP replies at the edge', () => {
  it('maps service errors to codes; anything unexpected is 451 (retry later)', () => {
    expect(toSmtpReply(new ServerError('too-large', 'x', { limit: 10 })).message).toMatch(/^5\.3\.4 /);
    expect(toSmtpReply(new ServerError('too-large', 'x', { limit: 10 })).responseCode).toBe(552);
    expect(toSmtpReply(new ServerError('too-many-recipients', 'x')).responseCode).toBe(552);
    expect(toSmtpReply(new ServerError('rate-limited', 'x')).responseCode).toBe(451);
    expect(toSmtpReply(new Error('SQLITE_FULL: database or disk is full')).responseCode).toBe(451);
    expect(toSmtpReply(new Error('SQLITE_FULL')).message).not.toContain('SQLITE');
  });
});
