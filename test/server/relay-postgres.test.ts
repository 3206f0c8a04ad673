/**
 * The SMTP relay on the PostgreSQL store: plain mail is queued in `forward_queue` (its body in
 * chunks, here a 2.5 MB message over three of them) and forwarded byte for byte; a permanent refusal
 * bounces through the same queue. The relay code is store-agnostic; this checks the wiring end to end.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitUntil } from './helpers.ts';
import { createTestDatabase, requirePostgres } from './pg.ts';
import {
  createUpstream,
  idIn,
  sendWithNodemailer,
  startRelay,
  type RelayServer,
  type Upstream,
} from './relay/helpers.ts';

const hasPg = await requirePostgres('SMTP relay on the PostgreSQL store');

describe.skipIf(!hasPg)('SMTP relay forward queue on PostgreSQL', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let up: Upstream;
  let t: RelayServer;

  beforeAll(async () => {
    db = await createTestDatabase();
    up = await createUpstream();
    await up.start();
    t = await startRelay(up.port, [
      '--database',
      db.url,
      '--sealing-key',
      randomBytes(32).toString('base64'),
      '--base-url',
      'https://sealpost.example.org',
    ]);
  });
  afterAll(async () => {
    await t?.close();
    await up?.stop();
    await db?.drop();
  });

  it('queues plain mail in PostgreSQL and forwards it byte for byte; bounces a refused recipient', async () => {
    expect(t.server.store.kind).toBe('postgres');
    const body = randomBytes(1_900_000)
      .toString('base64')
      .replace(/(.{76})/g, '$1\r\n');
    const raw = Buffer.from(
      'From: alice@example.org\r\nTo: bob@example.net\r\nSubject: big plain\r\nMessage-ID: <big@example.org>\r\n' +
        `MIME-Version: 1.0\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n${body}\r\n`,
    );
    up.refuse.set('nobody@example.net', 550);
    const r = await sendWithNodemailer({
      port: t.smtpPort,
      from: t.senderEmail,
      to: ['bob@example.net', 'nobody@example.net'],
      raw,
      auth: { user: t.senderEmail, pass: t.apiKey },
    });
    expect(r.response).toMatch(/^250 2\.0\.0 Queued as /);
    const { id } = idIn(r.response);
    await waitUntil(() => up.mails.some((m) => m.original.equals(raw)), 20_000, 'forwarded');
    expect(up.mails.find((m) => m.original.equals(raw))!.to).toEqual(['bob@example.net']);
    // The refused recipient gets a bounce to the sender, queued and sent through the same table.
    await waitUntil(
      () => up.mails.some((m) => m.from === '' && m.to.includes('alice@example.org')),
      20_000,
      'bounce',
    );
    await waitUntil(
      async () => (await t.server.store.forwards.stats()).queued === 0,
      10_000,
      'queue drained',
    );
    const f = await t.server.store.forwards.get(id);
    expect(f?.state).toBe('sent');
    expect(await t.server.store.forwards.openBody(id)).toBeNull();
  });
});
