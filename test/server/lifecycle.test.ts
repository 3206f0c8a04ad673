/**
 * Expiry, revocation and an upstream mail server that is down and comes back (the notification
 * arrives, exactly once), with a clock the test moves.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireShared } from '../helpers/paths.ts';
import {
  corpusMessage,
  createSmtpSink,
  linkIn,
  outbox,
  parseMail,
  sleep,
  startTestServer,
  storedFiles,
  submit,
  waitUntil,
  type TestServer,
} from './helpers.ts';

const shared = requireShared('server lifecycle tests over the interop corpus');
const message = (): Buffer => readFileSync(corpusMessage('05-smime-enveloped-ecdh-p256.eml'));

async function statusOf(t: TestServer, id: string) {
  const r = await fetch(`${t.url}/api/v1/messages/${id}`, {
    headers: { authorization: `Bearer ${t.apiKey}` },
  });
  return (await r.json()) as {
    revoked: boolean;
    expiresAt: string;
    deliveries: { id: string; state: string; events: { type: string }[] }[];
  };
}

describe.skipIf(!shared)('expiry and revocation', () => {
  let t: TestServer;
  let offset = 0;
  beforeAll(async () => {
    t = await startTestServer({ now: () => Date.now() + offset, args: ['--purge-interval', '1h'] });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('expires a link at its expiry and purges the stored message', async () => {
    const res = await submit(t, message(), '?to=exp@example.net&expires=2h');
    expect(res.status).toBe(201);
    const { id, expiresAt } = (await res.json()) as { id: string; expiresAt: string };
    expect(Date.parse(expiresAt) - Date.now()).toBeGreaterThan(2 * 3600_000 - 60_000);
    let d!: { id: string; secret: string };
    await waitUntil(async () => {
      const m = (await outbox(t.url)).find((x) => x.to === 'exp@example.net');
      if (m) d = linkIn(m.text);
      return m !== undefined;
    });
    const h = { 'x-sealpost-secret': d.secret };
    expect((await fetch(`${t.url}/api/v1/pickup/${d.id}`, { headers: h })).status).toBe(200);
    const filesBefore = (await storedFiles(t.dir)).messages.length;
    offset = 2 * 3600_000 + 1000;
    const gone = await fetch(`${t.url}/api/v1/pickup/${d.id}/content`, { headers: h });
    expect(gone.status).toBe(410);
    expect(((await gone.json()) as { error: { code: string } }).error.code).toBe('expired');
    await t.server.purgeNow();
    expect((await storedFiles(t.dir)).messages.length).toBe(filesBefore - 1);
    const s = await statusOf(t, id);
    expect(s.deliveries[0]!.state).toBe('expired');
    expect(s.deliveries[0]!.events.map((e) => e.type)).toEqual(['created', 'notified', 'opened', 'expired']);
    offset = 0;
  });

  it('uses the default expiry of 28 days', async () => {
    const res = await submit(t, message(), '?to=default@example.net');
    const { expiresAt } = (await res.json()) as { expiresAt: string };
    expect(Math.round((Date.parse(expiresAt) - Date.now()) / 86_400_000)).toBe(28);
  });

  it('revokes a message: links stop working, the body is deleted, the sender sees it', async () => {
    const res = await submit(t, message(), '?to=rev1@example.net&to=rev2@example.net');
    const { id } = (await res.json()) as { id: string };
    let d!: { id: string; secret: string };
    await waitUntil(async () => {
      const m = (await outbox(t.url)).find((x) => x.to === 'rev1@example.net');
      if (m) d = linkIn(m.text);
      return m !== undefined;
    });
    const before = (await storedFiles(t.dir)).messages.length;
    const other = await t.addSender('mallory@example.org');
    const notYours = await fetch(`${t.url}/api/v1/messages/${id}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${other}` },
    });
    expect(notYours.status).toBe(404);
    const del = await fetch(`${t.url}/api/v1/messages/${id}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${t.apiKey}` },
    });
    expect(del.status).toBe(200);
    const s = (await del.json()) as Awaited<ReturnType<typeof statusOf>>;
    expect(s.revoked).toBe(true);
    expect(s.deliveries.map((x) => x.state)).toEqual(['revoked', 'revoked']);
    const r = await fetch(`${t.url}/api/v1/pickup/${d.id}`, { headers: { 'x-sealpost-secret': d.secret } });
    expect(r.status).toBe(410);
    expect(((await r.json()) as { error: { code: string } }).error.code).toBe('revoked');
    expect((await storedFiles(t.dir)).messages.length).toBe(before - 1);
  });
});

describe.skipIf(!shared)('upstream mail server down, then back', () => {
  it('keeps retrying and delivers each notification exactly once', async () => {
    const sink = await createSmtpSink(); // not started: connections are refused
    const t = await startTestServer({
      args: [
        '--smtp-upstream',
        `smtp://127.0.0.1:${sink.port}`,
        '--notify-retry-base',
        '200ms',
        '--notify-retry-max',
        '400ms',
      ],
    });
    try {
      const res = await submit(t, message(), '?to=one@example.net&to=two@example.net');
      const { id } = (await res.json()) as { id: string };
      await waitUntil(
        async () => {
          const text = await (await fetch(`${t.url}/metrics`)).text();
          return /sealpost_mails_total\{kind="notification",result="retry"\} [3-9]/.test(text);
        },
        15_000,
        'failed attempts',
      );
      expect((await statusOf(t, id)).deliveries.map((d) => d.state)).toEqual(['pending', 'pending']);
      await sink.start();
      await sink.waitFor(2, 15_000);
      await waitUntil(async () => (await statusOf(t, id)).deliveries.every((d) => d.state === 'notified'));
      await sleep(1000);
      expect(sink.mails.map((m) => m.to[0]).sort()).toEqual(['one@example.net', 'two@example.net']);
      const parsed = await parseMail(sink.mails[0]!.raw);
      expect(linkIn(parsed.text!).link).toContain('/m/');
      const stats = await t.server.store.outbox.stats();
      expect(stats).toMatchObject({ queued: 0, sent: 2, failed: 0 });
    } finally {
      await t.close();
      await sink.stop();
    }
  });

  it('cancels queued notifications of a revoked message', async () => {
    const sink = await createSmtpSink();
    const t = await startTestServer({
      args: ['--smtp-upstream', `smtp://127.0.0.1:${sink.port}`, '--notify-retry-base', '10s'],
    });
    try {
      const res = await submit(t, message(), '?to=never@example.net');
      const { id } = (await res.json()) as { id: string };
      await waitUntil(async () => (await statusOf(t, id)).deliveries.length === 1);
      await fetch(`${t.url}/api/v1/messages/${id}`, {
        method: 'DELETE',
        headers: { authorization: `Bearer ${t.apiKey}` },
      });
      await sink.start();
      await sleep(500);
      expect(sink.mails).toHaveLength(0);
      expect((await t.server.store.outbox.stats()).cancelled).toBe(1);
    } finally {
      await t.close();
      await sink.stop();
    }
  });
});
