/**
 * The forward queue: 250 means durably queued, so a message survives the upstream being down and
 * goes out byte for byte when it returns; a recipient the upstream defers is retried alone; after
 * the queue lifetime — or at once for a permanent refusal — the sender gets an RFC 3464 bounce
 * (multipart/report; report-type=delivery-status) from the null sender.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { parseMail, sleep, waitUntil } from '../helpers.ts';
import {
  createUpstream,
  idIn,
  sendWithNodemailer,
  startRelay,
  type RelayServer,
  type Upstream,
} from './helpers.ts';

const plain = (tag: string): Buffer =>
  Buffer.from(
    `From: alice@example.org\r\nTo: bob@example.net\r\nSubject: queued ${tag}\r\nMessage-ID: <${tag}@example.org>\r\n` +
      `MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nBody of ${tag}.\r\n`,
  );

describe('SMTP relay forward queue', () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });
  async function setup(args: string[] = []): Promise<{ t: RelayServer; up: Upstream }> {
    const up = await createUpstream();
    const t = await startRelay(up.port, args);
    cleanup.push(
      () => up.stop(),
      () => t.close(),
    );
    return { t, up };
  }
  const send = (t: RelayServer, raw: Buffer, to = ['bob@example.net']) =>
    sendWithNodemailer({
      port: t.smtpPort,
      from: t.senderEmail,
      to,
      raw,
      auth: { user: t.senderEmail, pass: t.apiKey },
    });

  it('keeps mail while the upstream is down and delivers it byte for byte when it is back', async () => {
    const { t, up } = await setup(); // upstream not started: connection refused
    const msgs = [plain('down-1'), plain('down-2'), plain('down-3')];
    const ids: string[] = [];
    for (const m of msgs) {
      const r = await send(t, m);
      expect(r.response).toMatch(/^250 2\.0\.0 Queued as /);
      ids.push(idIn(r.response).id);
    }
    await waitUntil(
      async () => ((await t.server.store.forwards.get(ids[0]!))?.attempts ?? 0) >= 2,
      15_000,
      'retries',
    );
    const f = (await t.server.store.forwards.get(ids[0]!))!;
    expect(f.state).toBe('queued');
    expect(f.lastError).toMatch(/ECONNREFUSED|ESOCKET|ECONNECTION/);
    expect((await t.server.store.forwards.stats()).queued).toBe(3);
    await up.start();
    await waitUntil(
      () => msgs.every((m) => up.mails.some((x) => x.original.equals(m))),
      20_000,
      'all forwarded',
    );
    // The upstream's 250 comes just before the commit.
    for (const id of ids)
      await waitUntil(async () => (await t.server.store.forwards.get(id))!.state === 'sent', 5000, 'sent');
    expect(t.logs.join('\n')).toContain('forward not sent, will retry');
  });

  it('bounces a permanently refused recipient at once (DSN 5.1.1) and delivers to the others', async () => {
    const { t, up } = await setup();
    up.refuse.set('nobody@example.net', 550);
    await up.start();
    const raw = plain('refused');
    const r = await send(t, raw, ['bob@example.net', 'nobody@example.net']);
    expect(r.ok).toBe(true);
    await waitUntil(() => up.mails.some((m) => m.original.equals(raw)), 10_000, 'forwarded to bob');
    expect(up.mails.find((m) => m.original.equals(raw))!.to).toEqual(['bob@example.net']);
    await waitUntil(
      () => up.mails.some((m) => m.from === '' && m.to.includes(t.senderEmail)),
      10_000,
      'bounce',
    );
    const bounce = up.mails.find((m) => m.from === '')!;
    const text = bounce.raw.toString('latin1');
    expect(text).toMatch(/Content-Type: multipart\/report;\s*report-type=delivery-status/i);
    expect(text).toContain('Final-Recipient: rfc822; nobody@example.net');
    expect(text).toContain('Action: failed');
    expect(text).toMatch(/Status: 5\.\d\.\d/);
    expect(text).toMatch(/Diagnostic-Code: smtp; 550/);
    expect(text).not.toContain('Final-Recipient: rfc822; bob@example.net');
    expect(bounce.raw.includes('\r\n')).toBe(true);
    expect(/[^\r]\n/.test(text)).toBe(false); // CRLF throughout (newline: 'windows')
  });

  it('retries a deferred recipient alone and bounces it after the queue lifetime (DSN 4.4.7)', async () => {
    const { t, up } = await setup(['--smtp-queue-lifetime', '2s']);
    up.refuse.set('later@example.net', 451);
    await up.start();
    const raw = plain('expiring');
    const r = await send(t, raw, ['bob@example.net', 'later@example.net']);
    const { id } = idIn(r.response);
    await waitUntil(() => up.mails.some((m) => m.original.equals(raw)), 10_000, 'forwarded to bob');
    await waitUntil(async () => (await t.server.store.forwards.get(id))!.attempts >= 2, 10_000, 'retried');
    expect((await t.server.store.forwards.get(id))!.recipients).toEqual(['later@example.net']);
    await waitUntil(
      async () => (await t.server.store.forwards.get(id))!.state !== 'queued',
      15_000,
      'given up',
    );
    // Bob had it on the first attempt; what was left (later@) failed and is bounced.
    expect((await t.server.store.forwards.get(id))!.state).toBe('failed');
    await waitUntil(() => up.mails.some((m) => m.from === ''), 10_000, 'bounce');
    const bounce = up.mails.find((m) => m.from === '')!;
    expect(bounce.to).toEqual([t.senderEmail]);
    const mail = await parseMail(bounce.raw);
    expect(mail.subject).toBe('Undelivered Mail Returned to Sender');
    const text = bounce.raw.toString('latin1');
    expect(text).toContain('Final-Recipient: rfc822; later@example.net');
    expect(text).toContain('Status: 4.4.7');
    expect(text).toContain('Content-Type: text/rfc822-headers');
    expect(text).toContain('Message-ID: <expiring@example.org>');
    // Bob got it once: retries went to the deferred recipient only.
    expect(up.mails.filter((m) => m.original.equals(raw))).toHaveLength(1);
  });

  it('bounces a message whose upstream stays down past its lifetime once the bounce can go', async () => {
    const { t, up } = await setup(['--smtp-queue-lifetime', '1s']);
    const raw = plain('never');
    const { id } = idIn((await send(t, raw)).response);
    await waitUntil(
      async () => (await t.server.store.forwards.get(id))!.state === 'failed',
      15_000,
      'failed',
    );
    expect((await t.server.store.forwards.get(id))!.lastError).toMatch(/ECONNREFUSED|ESOCKET|ECONNECTION/);
    // The bounce is queued itself (with its own lifetime) and goes out when the upstream is back.
    await sleep(100);
    expect((await t.server.store.forwards.stats()).queued).toBe(1);
    await up.start();
    await waitUntil(
      () => up.mails.some((m) => m.from === '' && m.to.includes(t.senderEmail)),
      15_000,
      'bounce',
    );
    expect(up.mails.some((m) => m.original.equals(raw))).toBe(false);
  });
});
