/**
 * Slow and hostile clients on real sockets: an HTTP upload that stalls or trickles is dropped with
 * 408 and its staged file removed; one address cannot hold more than --max-connections-per-ip HTTP
 * connections (loopback, where health checks come from, is exempt); SMTP logins are limited per
 * address and per account; AUTH is not offered before STARTTLS; the header From of forwarded mail
 * must be the authenticated sender (--smtp-from-check).
 */
import { connect, type Socket } from 'node:net';
import { networkInterfaces } from 'node:os';
import { afterAll, describe, expect, it } from 'vitest';
import { crashMessage } from '../helpers/crash-trials.ts';
import { sleep, startTestServer, storedFiles } from './helpers.ts';
import { createUpstream, plainAuth, RawSmtp, sendWithNodemailer, startRelay } from './relay/helpers.ts';

const closers: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of closers) await c();
});

/** Sends headers and `first` bytes of a declared 1 MB upload, then `trickle` bytes every 200 ms. */
function slowUpload(
  url: string,
  apiKey: string,
  trickle: number,
): Promise<{ status: number; body: string; ms: number }> {
  const u = new URL(url);
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const s = connect(Number(u.port), u.hostname);
    let answer = '';
    let timer: NodeJS.Timeout | undefined;
    s.on('data', (c: Buffer) => (answer += c.toString()));
    s.on('error', () => undefined);
    s.on('close', () => {
      clearInterval(timer);
      const m = /^HTTP\/1\.1 (\d{3})/.exec(answer);
      if (!m) return reject(new Error(`no answer: ${answer}`));
      resolve({
        status: Number(m[1]),
        body: answer.slice(answer.indexOf('\r\n\r\n') + 4),
        ms: Date.now() - t0,
      });
    });
    const msg = crashMessage(1_000_000);
    s.write(
      `POST /api/v1/messages HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${apiKey}\r\n` +
        `Content-Type: message/rfc822\r\nContent-Length: ${msg.length}\r\n\r\n`,
    );
    s.write(msg.subarray(0, 100_000));
    let off = 100_000;
    if (trickle > 0)
      timer = setInterval(() => {
        if (s.destroyed) return;
        s.write(msg.subarray(off, off + trickle));
        off += trickle;
      }, 200);
  });
}

describe('slow HTTP uploads', () => {
  it('drops an upload that stops sending (idle) or takes too long (total) with 408, keeping nothing', async () => {
    const t = await startTestServer({ args: ['--upload-idle-timeout', '700ms', '--upload-timeout', '2s'] });
    closers.push(() => t.close());
    const idle = await slowUpload(t.url, t.apiKey, 0);
    expect(idle.status).toBe(408);
    expect(idle.body).toContain('"timeout"');
    expect(idle.ms).toBeLessThan(5000);
    const trickling = await slowUpload(t.url, t.apiKey, 1000);
    expect(trickling.status).toBe(408);
    expect(trickling.body).toMatch(/took longer/);
    expect(trickling.ms).toBeGreaterThanOrEqual(1900);
    await sleep(100);
    const files = await storedFiles(t.dir);
    expect(files.tmp).toEqual([]);
    expect(files.messages).toEqual([]);
  });
});

const external = Object.values(networkInterfaces())
  .flat()
  .find((a) => a && a.family === 'IPv4' && !a.internal)?.address;
describe('HTTP connections per client address', () => {
  it('closes connections past --max-connections-per-ip from one address; loopback still gets through', async () => {
    // Loopback is exempt by design: the test needs an address of this machine that is not loopback.
    if (!external) throw new Error('this machine has no non-loopback IPv4 address to connect from');
    const t = await startTestServer({ args: ['--host', '0.0.0.0', '--max-connections-per-ip', '5'] });
    closers.push(() => t.close());
    const port = Number(new URL(t.url).port);
    const open = async (): Promise<Socket> => {
      const s = connect(port, external!);
      s.on('error', () => undefined);
      await new Promise<void>((r) => s.once('connect', () => r()));
      return s;
    };
    const held: Socket[] = [];
    for (let i = 0; i < 5; i++) held.push(await open());
    const refused = await open();
    const closed = await new Promise<boolean>((r) => {
      refused.once('close', () => r(true));
      setTimeout(() => r(false), 2000);
    });
    expect(closed).toBe(true);
    for (const s of held) expect(s.destroyed).toBe(false);
    expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(200);
    held.pop()!.destroy();
    await sleep(100);
    const again = await open();
    await sleep(300);
    expect(again.destroyed).toBe(false); // a place came free
    for (const s of [...held, again]) s.destroy();
  });
});

describe('SMTP logins and AUTH', () => {
  it('does not offer AUTH before STARTTLS, and limits failed logins per address and per account', async () => {
    const t = await startRelay(null, ['--smtp-auth-ip-limit', '3', '--smtp-auth-account-limit', '5'], {
      insecureAuth: false,
    });
    closers.push(() => t.close());
    const c = await RawSmtp.connect(t.smtpPort);
    await c.reply();
    expect(await c.command('EHLO client.example')).not.toMatch(/AUTH/);
    await c.startTls();
    expect(await c.command('EHLO client.example')).toMatch(/AUTH PLAIN LOGIN/);
    for (let i = 0; i < 3; i++)
      expect(await c.command(`AUTH PLAIN ${plainAuth(t.senderEmail, 'sp_wrong')}`)).toMatch(/^535 /);
    // Past the limit, even the right key is refused, with the same answer whatever the key.
    expect(await c.command(`AUTH PLAIN ${plainAuth(t.senderEmail, t.apiKey)}`)).toMatch(/^454 4\.7\.0 /);
    await c.command('QUIT');
  });

  it('forwards plain mail only when its header From is the authenticated sender (unless --smtp-from-check false)', async () => {
    const up = await createUpstream();
    await up.start();
    closers.push(() => up.stop());
    const raw = (from: string) =>
      Buffer.from(
        `From: ${from}\r\nTo: bob@example.net\r\nSubject: plain\r\nMIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\nhello\r\n`,
      );
    const t = await startRelay(up.port, ['--smtp-from-check', 'true']);
    closers.push(() => t.close());
    const send = (r: typeof t, from: string) =>
      sendWithNodemailer({
        port: r.smtpPort,
        from: r.senderEmail,
        to: ['bob@example.net'],
        raw: raw(from),
        auth: { user: r.senderEmail, pass: r.apiKey },
      });
    const spoofed = await send(t, 'The CEO <ceo@example.org>');
    expect(spoofed.code).toBe(550);
    expect(spoofed.response).toMatch(/5\.7\.1 .*From header/);
    expect((await send(t, `Alice <${t.senderEmail}>`)).ok).toBe(true);

    const off = await startRelay(up.port, ['--smtp-from-check', 'false']);
    closers.push(() => off.close());
    expect((await send(off, 'The CEO <ceo@example.org>')).ok).toBe(true);
  });
});
