/**
 * PostgreSQL faults against a running node (its own database): backends terminated with
 * pg_terminate_backend (57P01) while idle in the pool and while checked out for a transaction —
 * the node must not exit — and a whole outage, made by cutting a TCP proxy between the node and
 * PostgreSQL: HTTP 503 `unavailable`, SMTP 451 4.3.0, /readyz not ready, nothing acknowledged that
 * was not committed, and recovery without a restart (the notification worker included).
 */
import { randomBytes } from 'node:crypto';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { linkIn, outbox, sleep, submit, waitUntil } from './helpers.ts';
import { createTestDatabase, PG_URL, requirePostgres } from './pg.ts';
import { sendWithNodemailer, startRelay, type RelayServer } from './relay/helpers.ts';

const hasPg = await requirePostgres('PostgreSQL outage tests');

/** A TCP proxy to PostgreSQL that can be cut (every connection dropped, new ones refused) and restored. */
class CuttableProxy {
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();
  up = true;
  port = 0;
  constructor(
    private readonly host: string,
    private readonly targetPort: number,
  ) {}
  async start(): Promise<void> {
    this.server = createServer((client) => {
      if (!this.up) return client.destroy();
      const upstream = connect(this.targetPort, this.host);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('error', () => undefined);
        s.on('close', () => {
          this.sockets.delete(s);
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream);
      upstream.pipe(client);
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    const a = this.server.address();
    this.port = typeof a === 'object' && a ? a.port : 0;
  }
  cut(): void {
    this.up = false;
    for (const s of this.sockets) s.destroy();
  }
  restore(): void {
    this.up = true;
  }
  async stop(): Promise<void> {
    this.cut();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }
}

function message(size: number): Buffer {
  const head = Buffer.from(
    'From: alice@example.org\r\nTo: bob@example.net\r\nSubject: outage\r\nMIME-Version: 1.0\r\n' +
      'Content-Type: application/pkcs7-mime; smime-type=enveloped-data; name=smime.p7m\r\n' +
      'Content-Transfer-Encoding: base64\r\n\r\n',
  );
  return Buffer.concat([head, Buffer.from(randomBytes(Math.floor((size * 3) / 4)).toString('base64'))]);
}

describe.skipIf(!hasPg)('PostgreSQL connection loss', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let proxy: CuttableProxy;
  let t: RelayServer;
  let admin: pg.Client;

  const terminateBackends = async (): Promise<number> => {
    const r = await admin.query<{ n: string }>(
      `SELECT COUNT(pg_terminate_backend(pid)) AS n FROM pg_stat_activity
       WHERE datname = $1 AND application_name = 'sealpost' AND pid <> pg_backend_pid()`,
      [db.name],
    );
    return Number(r.rows[0]?.n ?? 0);
  };

  beforeAll(async () => {
    db = await createTestDatabase();
    const u = new URL(db.url);
    proxy = new CuttableProxy(u.hostname, Number(u.port || 5432));
    await proxy.start();
    u.host = `127.0.0.1:${proxy.port}`;
    t = await startRelay(null, [
      '--database',
      u.toString(),
      '--sealing-key',
      randomBytes(32).toString('base64'),
      '--base-url',
      'https://sealpost.example.org',
    ]);
    admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
  });
  afterAll(async () => {
    await t?.close();
    await proxy?.stop();
    await admin?.end();
    await db?.drop();
  });

  it('survives backends terminated while idle and while checked out for a transaction', async () => {
    expect((await submit(t, message(10_000))).status).toBe(201);
    expect(await terminateBackends()).toBeGreaterThan(0); // idle pooled connections
    await sleep(200);
    expect((await submit(t, message(10_000))).status).toBe(201);

    // A connection held by a transaction: without an 'error' listener the node exits here.
    const kysely = t.server.store.db.kysely;
    const failed = await kysely
      .transaction()
      .execute(async (tx) => {
        await sql`SELECT 1`.execute(tx);
        await terminateBackends();
        await sleep(300); // the 57P01 arrives while the transaction waits
        await sql`SELECT 1`.execute(tx);
      })
      .then(
        () => null,
        (e: unknown) => e,
      );
    expect(failed).toBeInstanceOf(Error);
    expect((await submit(t, message(10_000))).status).toBe(201);
    expect((await fetch(`${t.url}/readyz`)).status).toBe(200);
  });

  it('answers 503 / 451 4.3.0 while the database is unreachable, acknowledges nothing, and recovers by itself', async () => {
    proxy.cut();
    await sleep(100);

    const ready = await fetch(`${t.url}/readyz`);
    expect(ready.status).toBe(503);
    const r = await submit(t, message(100_000));
    expect(r.status).toBe(503);
    expect(((await r.json()) as { error: { code: string } }).error.code).toBe('unavailable');
    expect(r.headers.get('retry-after')).toBe('30');

    const smtp = await sendWithNodemailer({
      port: t.smtpPort,
      from: t.senderEmail,
      to: ['carol@example.net'],
      raw: message(20_000),
      auth: { user: t.senderEmail, pass: t.apiKey },
    });
    expect(smtp.ok).toBe(false);
    expect([451, 454]).toContain(smtp.code);
    expect(smtp.response).toMatch(/4\.3\.0|4\.7\.0/);
    // Still alive: the process answers.
    expect((await fetch(`${t.url}/healthz`)).status).toBe(200);

    proxy.restore();
    await waitUntil(async () => (await fetch(`${t.url}/readyz`)).status === 200, 15_000, 'ready again');
    const body = message(1_500_000);
    const ok = await submit(t, body);
    expect(ok.status).toBe(201);
    const smtpOk = await sendWithNodemailer({
      port: t.smtpPort,
      from: t.senderEmail,
      to: ['carol@example.net'],
      raw: message(20_000),
      auth: { user: t.senderEmail, pass: t.apiKey },
    });
    expect(smtpOk.ok).toBe(true);

    // Only what was acknowledged is there: 3 + 1 over HTTP, 1 over SMTP.
    const rows = await sql<{ n: number }>`SELECT COUNT(*) AS n FROM messages`.execute(
      t.server.store.db.kysely,
    );
    expect(Number(rows.rows[0]?.n)).toBe(5);
    const staged = await sql<{ n: number }>`SELECT COUNT(*) AS n FROM staged_bodies`.execute(
      t.server.store.db.kysely,
    );
    expect(Number(staged.rows[0]?.n)).toBe(0);

    // The notification worker kept going: carol's notification comes, and her link opens the message.
    let text: string | undefined;
    await waitUntil(
      async () => {
        text = (await outbox(t.url)).find((m) => m.to === 'carol@example.net')?.text;
        return text !== undefined;
      },
      15_000,
      'the notification after the outage',
    );
    const link = linkIn(text!);
    const got = await fetch(`${t.url}/api/v1/pickup/${link.id}/content`, {
      headers: { 'x-sealpost-secret': link.secret },
    });
    expect(got.status).toBe(200);
  });
});
