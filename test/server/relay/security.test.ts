/**
 * Who may relay and what the relay refuses: never an open relay (530/550 for clients that neither
 * authenticated nor sit in a trusted network), AUTH only after STARTTLS (self-signed certificate made
 * at first start), API keys checked like the HTTP API, sender addresses bound to the login, and the
 * limits — size (552 while reading, nothing kept), recipients, connections per address, data timeout
 * — with the right enhanced status codes. Client resets never crash the server.
 */
import { stat, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../../src/server/config.ts';
import { sleep, startTestServer, waitUntil } from '../helpers.ts';
import {
  createUpstream,
  idIn,
  plainAuth,
  RawSmtp,
  requireSwaks,
  sendWithNodemailer,
  startRelay,
  swaks,
  type RelayServer,
  type Upstream,
} from './helpers.ts';

const ENCRYPTED = Buffer.from(
  'From: alice@example.org\r\nTo: bob@example.net\r\nSubject: sealed\r\nMIME-Version: 1.0\r\n' +
    'Content-Type: application/pkcs7-mime; smime-type=enveloped-data; name=smime.p7m\r\n' +
    'Content-Transfer-Encoding: base64\r\n\r\n' +
    `${Buffer.alloc(3000, 7)
      .toString('base64')
      .replace(/(.{76})/g, '$1\r\n')}\r\n`,
);
const plain = (size = 500): Buffer =>
  Buffer.from(
    `From: alice@example.org\r\nTo: bob@example.net\r\nSubject: plain\r\n\r\n${'hello world\r\n'.repeat(Math.ceil(size / 13))}`,
  );

async function files(dir: string, sub: string): Promise<string[]> {
  const out: string[] = [];
  for (const name of await readdir(join(dir, sub))) {
    const s = await stat(join(dir, sub, name));
    if (s.isDirectory()) for (const f of await readdir(join(dir, sub, name))) out.push(`${name}/${f}`);
    else out.push(name);
  }
  return out;
}

describe('SMTP relay settings', () => {
  it('has safe defaults: relay on 2525, no trusted networks, AUTH only after STARTTLS', () => {
    const c = loadConfig([], {});
    expect(c).toMatchObject({
      smtpPort: 2525,
      smtpHost: null,
      smtpAllowInsecureAuth: false,
      divertSigned: false,
      smtpQueueLifetimeMs: 5 * 86_400_000,
    });
    expect(c.smtpTrustedNetworks.list).toEqual([]);
    expect(c.smtpTrustedNetworks.contains('127.0.0.1')).toBe(false);
    expect(c.smtpTrustedNetworks.contains('::1')).toBe(false);
  });

  it('reads flags and SEALPOST_* variables; off turns the relay off', () => {
    const c = loadConfig(['--smtp-port', 'off', '--divert-signed'], {
      SEALPOST_SMTP_TRUSTED_NETWORKS: '10.0.0.0/8, 192.0.2.7 fd00::/8',
      SEALPOST_SMTP_QUEUE_LIFETIME: '2d',
    });
    expect(c.smtpPort).toBeNull();
    expect(c.divertSigned).toBe(true);
    expect(c.smtpQueueLifetimeMs).toBe(2 * 86_400_000);
    expect(c.smtpTrustedNetworks.list).toEqual(['10.0.0.0/8', '192.0.2.7/32', 'fd00::/8']);
    expect(c.smtpTrustedNetworks.contains('10.1.2.3')).toBe(true);
    expect(c.smtpTrustedNetworks.contains('::ffff:10.1.2.3')).toBe(true);
    expect(c.smtpTrustedNetworks.contains('192.0.2.8')).toBe(false);
    expect(c.smtpTrustedNetworks.contains('fd12::1')).toBe(true);
  });

  it('refuses bad networks, ports and durations with a sentence naming the flag', () => {
    for (const [args, flag] of [
      [['--smtp-trusted-networks', '10.0.0.0/33'], '--smtp-trusted-networks'],
      [['--smtp-trusted-networks', 'everyone'], '--smtp-trusted-networks'],
      [['--smtp-port', 'on'], '--smtp-port'],
      [['--smtp-queue-lifetime', 'forever'], '--smtp-queue-lifetime'],
      [['--smtp-max-connections-per-ip', '0'], '--smtp-max-connections-per-ip'],
    ] as const) {
      let err: unknown;
      try {
        loadConfig([...args], {});
      } catch (e) {
        err = e;
      }
      expect(err, args.join(' ')).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).problems.join('\n')).toContain(flag);
    }
  });
});

describe('SMTP relay: authentication and refusals', () => {
  let up: Upstream;
  let t: RelayServer;
  beforeAll(async () => {
    up = await createUpstream();
    await up.start();
    t = await startRelay(up.port, ['--max-recipients', '3', '--max-message-size', '50KB'], {
      insecureAuth: false,
    });
  });
  afterAll(async () => {
    await t.close();
    await up.stop();
  });

  it('advertises the extensions, and AUTH only after STARTTLS', async () => {
    const c = await RawSmtp.connect(t.smtpPort);
    expect(await c.reply()).toMatch(/^220 /);
    const ehlo = await c.command('EHLO client.example');
    for (const ext of ['PIPELINING', '8BITMIME', 'ENHANCEDSTATUSCODES', 'STARTTLS', 'SIZE 50000'])
      expect(ehlo).toContain(ext);
    // AUTH is offered only once the session is encrypted, and refused before.
    expect(ehlo).not.toMatch(/AUTH/);
    expect(await c.command(`AUTH PLAIN ${plainAuth(t.senderEmail, t.apiKey)}`)).toMatch(/^538 /);
    expect(await c.startTls()).toMatch(/^220 /);
    const after = await c.command('EHLO client.example');
    expect(after).toMatch(/AUTH PLAIN LOGIN/);
    expect(after).not.toContain('STARTTLS');
    // The certificate is the self-signed one made at first start and kept in the data folder.
    const pem = await readFile(join(t.dir, 'smtp-tls.crt'));
    expect(c.peerCertificate?.fingerprint256).toBe(new X509Certificate(pem).fingerprint256);
    expect((await stat(join(t.dir, 'smtp-tls.key'))).mode & 0o077).toBe(0);
    expect(await c.command(`AUTH PLAIN ${plainAuth(t.senderEmail, 'sp_wrong')}`)).toMatch(/^535 5\.7\.8 /);
    // A valid key presented under another address is refused too.
    const other = await t.addSender('mallory@example.org');
    expect(await c.command(`AUTH PLAIN ${plainAuth(t.senderEmail, other)}`)).toMatch(/^535 5\.7\.8 /);
    expect(await c.command(`AUTH PLAIN ${plainAuth(t.senderEmail, t.apiKey)}`)).toMatch(/^235 /);
    // Bound to the login: no sending as somebody else.
    expect(await c.command('MAIL FROM:<ceo@example.org>')).toMatch(/^553 5\.7\.1 /);
    expect(await c.command(`MAIL FROM:<${t.senderEmail}>`)).toMatch(/^250 /);
    for (const r of ['a@example.net', 'b@example.net', 'c@example.net'])
      expect(await c.command(`RCPT TO:<${r}>`)).toMatch(/^250 /);
    expect(await c.command('RCPT TO:<d@example.net>')).toMatch(/^452 4\.5\.3 /);
    expect(await c.command('RCPT TO:<not an address>')).toMatch(/^5\d\d /);
    expect(await c.command('QUIT')).toMatch(/^221 /);
    c.destroy();
  });

  it('is not an open relay: unauthenticated loopback clients are refused, nothing is kept', async () => {
    const c = await RawSmtp.connect(t.smtpPort);
    await c.reply();
    await c.command('EHLO client.example');
    expect(await c.command('MAIL FROM:<alice@example.org>')).toMatch(/^530 5\.7\.0 /);
    expect(await c.command('RCPT TO:<bob@example.net>')).toMatch(/^(503|530|550) /);
    c.destroy();
    const r = await sendWithNodemailer({
      port: t.smtpPort,
      from: 'alice@example.org',
      to: ['bob@example.net'],
      raw: plain(),
    });
    expect(r.ok).toBe(false);
    expect(r.code).toBe(530);
    expect(await t.server.store.forwards.stats()).toMatchObject({ queued: 0, sent: 0 });
    expect(up.mails).toHaveLength(0);
  });

  it('takes mail from an authenticated sender over STARTTLS, and never logs the API key', async () => {
    const r = await sendWithNodemailer({
      port: t.smtpPort,
      from: t.senderEmail,
      to: ['bob@example.net'],
      raw: ENCRYPTED,
      auth: { user: t.senderEmail, pass: t.apiKey },
      tls: true,
    });
    expect(r.ok, r.response).toBe(true);
    expect(idIn(r.response).kind).toBe('diverted');
    const logs = t.logs.join('\n');
    expect(logs).toContain('smtp: authenticated');
    expect(logs).not.toContain(t.apiKey);
    expect(logs).not.toContain(plainAuth(t.senderEmail, t.apiKey));
  });

  it.skipIf(!requireSwaks())(
    'takes mail from swaks over STARTTLS with AUTH, refuses it without',
    async () => {
      const base = ['--port', String(t.smtpPort), '--from', t.senderEmail, '--to', 'bob@example.net'];
      const ok = await swaks([
        ...base,
        '--tls',
        '--auth',
        'PLAIN',
        '--auth-user',
        t.senderEmail,
        '--auth-password',
        t.apiKey,
        '--header',
        'Subject: over TLS',
      ]);
      expect(ok.code, ok.out).toBe(0);
      expect(ok.out).toMatch(/250 2\.0\.0 Queued as/);
      const refused = await swaks(base);
      expect(refused.code).not.toBe(0);
      expect(refused.out).toMatch(/530 5\.7\.0/);
    },
  );

  it('answers 552 for an oversize message, counted while reading, and keeps none of it', async () => {
    const c = await RawSmtp.connect(t.smtpPort);
    await c.reply();
    await c.command('EHLO client.example');
    // Declared too large: refused before any data.
    expect(await c.command('MAIL FROM:<x@example.org> SIZE=60000')).toMatch(/^552 /);
    await c.startTls();
    await c.command('EHLO client.example');
    await c.command(`AUTH PLAIN ${plainAuth(t.senderEmail, t.apiKey)}`);
    expect(await c.command(`MAIL FROM:<${t.senderEmail}>`)).toMatch(/^250 /);
    expect(await c.command('RCPT TO:<bob@example.net>')).toMatch(/^250 /);
    expect(await c.command('DATA')).toMatch(/^354 /);
    // 400 KB, eight times the limit: only the start is ever held, nothing is written to disk.
    const big = plain(400_000);
    for (let i = 0; i < big.length; i += 16_384) c.write(big.subarray(i, i + 16_384));
    c.write('.\r\n');
    expect(await c.reply()).toMatch(/^552 5\.3\.4 /);
    expect(await files(t.dir, 'tmp')).toEqual([]);
    expect(await files(t.dir, 'relay')).toEqual([]);
    // The session goes on: a small message in the same connection is taken.
    expect(await c.command(`MAIL FROM:<${t.senderEmail}>`)).toMatch(/^250 /);
    expect(await c.command('RCPT TO:<bob@example.net>')).toMatch(/^250 /);
    expect(await c.command('DATA')).toMatch(/^354 /);
    c.write(plain());
    expect(await c.command('.')).toMatch(/^250 2\.0\.0 Queued as /);
    c.destroy();
  });

  it('survives clients that reset in the middle of a message', async () => {
    for (let i = 0; i < 5; i++) {
      const c = await RawSmtp.connect(t.smtpPort);
      await c.reply();
      await c.command('EHLO client.example');
      await c.startTls();
      await c.command('EHLO client.example');
      await c.command(`AUTH PLAIN ${plainAuth(t.senderEmail, t.apiKey)}`);
      await c.command(`MAIL FROM:<${t.senderEmail}>`);
      await c.command('RCPT TO:<bob@example.net>');
      await c.command('DATA');
      c.write(i % 2 === 0 ? ENCRYPTED.subarray(0, 2000) : plain(20_000));
      await sleep(50);
      c.destroy();
    }
    await sleep(200);
    const r = await sendWithNodemailer({
      port: t.smtpPort,
      from: t.senderEmail,
      to: ['bob@example.net'],
      raw: ENCRYPTED,
      auth: { user: t.senderEmail, pass: t.apiKey },
      tls: true,
    });
    expect(r.ok, r.response).toBe(true);
    await waitUntil(async () => (await files(t.dir, 'tmp')).length === 0, 5000, 'tmp emptied');
  });
});

describe('SMTP relay: trusted networks, connection limits, timeouts', () => {
  let up: Upstream;
  let t: RelayServer;
  beforeAll(async () => {
    up = await createUpstream();
    await up.start();
    t = await startRelay(up.port, [
      '--smtp-trusted-networks',
      '127.0.0.1/32,::1',
      '--smtp-max-connections-per-ip',
      '3',
      '--smtp-data-timeout',
      '1s',
    ]);
  });
  afterAll(async () => {
    await t.close();
    await up.stop();
  });

  it('relays for a trusted network without AUTH; diverts only for registered senders', async () => {
    const p = plain();
    const r1 = await sendWithNodemailer({
      port: t.smtpPort,
      from: 'anyone@example.com',
      to: ['bob@example.net'],
      raw: p,
    });
    expect(idIn(r1.response).kind).toBe('queued');
    await waitUntil(() => up.mails.some((m) => m.original.equals(p)), 10_000, 'forwarded');
    const r2 = await sendWithNodemailer({
      port: t.smtpPort,
      from: t.senderEmail,
      to: ['bob@example.net'],
      raw: ENCRYPTED,
    });
    const { kind, id } = idIn(r2.response);
    expect(kind).toBe('diverted');
    expect((await t.server.store.submissions.get(id))!.senderEmail).toBe(t.senderEmail);
    const r3 = await sendWithNodemailer({
      port: t.smtpPort,
      from: 'stranger@example.com',
      to: ['bob@example.net'],
      raw: ENCRYPTED,
    });
    expect(r3.ok).toBe(false);
    expect(r3.response).toMatch(/^550 5\.7\.1 .*not a registered sender/);
  });

  it('limits connections per client address (421) and frees the slots on close', async () => {
    const open = await Promise.all([1, 2, 3].map(() => RawSmtp.connect(t.smtpPort)));
    for (const c of open) expect(await c.reply()).toMatch(/^220 /);
    const fourth = await RawSmtp.connect(t.smtpPort);
    expect(await fourth.reply()).toMatch(/^421 4\.7\.0 /);
    fourth.destroy();
    for (const c of open) c.destroy();
    await sleep(200);
    const again = await RawSmtp.connect(t.smtpPort);
    expect(await again.reply()).toMatch(/^220 /);
    again.destroy();
  });

  it('closes a message transfer that takes longer than --smtp-data-timeout (421 4.4.2)', async () => {
    const c = await RawSmtp.connect(t.smtpPort);
    await c.reply();
    await c.command('EHLO client.example');
    await c.command('MAIL FROM:<anyone@example.com>');
    await c.command('RCPT TO:<bob@example.net>');
    expect(await c.command('DATA')).toMatch(/^354 /);
    c.write('Subject: slow\r\n\r\none line, then nothing\r\n');
    expect(await c.reply(5000)).toMatch(/^421 4\.4\.2 /);
    await waitUntil(() => c.closed, 5000, 'connection closed');
    await waitUntil(async () => (await files(t.dir, 'tmp')).length === 0, 5000, 'tmp emptied');
  });
});

describe('SMTP relay without an upstream (built-in outbox)', () => {
  it('takes secure mail and refuses plain mail with 550 5.7.1', async () => {
    const t = await startTestServer({
      args: ['--smtp-port', '0', '--smtp-allow-insecure-auth'],
    });
    try {
      const port = t.server.smtpPort!;
      const auth = { user: t.senderEmail, pass: t.apiKey };
      const r1 = await sendWithNodemailer({
        port,
        from: t.senderEmail,
        to: ['b@example.net'],
        raw: plain(),
        auth,
      });
      expect(r1.ok).toBe(false);
      expect(r1.response).toMatch(/^550 5\.7\.1 /);
      const r2 = await sendWithNodemailer({
        port,
        from: t.senderEmail,
        to: ['b@example.net'],
        raw: ENCRYPTED,
        auth,
      });
      expect(idIn(r2.response).kind).toBe('diverted');
    } finally {
      await t.close();
    }
  });
});
