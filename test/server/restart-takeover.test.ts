/**
 * A single node killed with SIGKILL and started again on the same data folder knows that what its
 * name (data/node-id) held belongs to its dead predecessor: the notification it was sending is sent
 * at once — not after --notify-lease — and, on PostgreSQL, its half-finished upload is dropped at
 * once — not after the stale-upload hour.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';
import { openPostgresStore } from '../../src/server/store/postgres.ts';
import { openSqliteStore } from '../../src/server/store/sqlite.ts';
import { crashMessage } from '../helpers/crash-trials.ts';
import { seedSender, spawnServe } from '../helpers/serve.ts';
import { createSmtpSink, sleep, waitUntil } from './helpers.ts';
import { createTestDatabase, requirePostgres } from './pg.ts';

const hasPg = await requirePostgres('restart takeover on PostgreSQL');
const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

/** An SMTP server that accepts connections and never says a word: a send hangs there. */
async function blackHole(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((s) => {
    sockets.add(s);
    s.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const a = server.address();
  return {
    port: typeof a === 'object' && a ? a.port : 0,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

describe('a node restarted on its data folder takes its own work back at once', () => {
  it('sends the notification its killed predecessor had claimed, well before the lease runs out', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sealpost-takeover-'));
    dirs.push(dir);
    const setup = await openSqliteStore({ dataDir: dir });
    const apiKey = await seedSender(setup);
    await setup.close();
    const hole = await blackHole();
    const sink = await createSmtpSink();
    await sink.start();
    try {
      // prettier-ignore
      const args = ['--data', dir, '--port', '0', '--smtp-port', 'off', '--log-level', 'warn',
        '--notify-lease', '10m', '--base-url', 'https://sealpost.example.org'];
      const first = await spawnServe([...args, '--smtp-upstream', `smtp://127.0.0.1:${hole.port}`]);
      const r = await fetch(`${first.url}/api/v1/messages`, {
        method: 'POST',
        headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'message/rfc822' },
        body: new Uint8Array(crashMessage(5000)),
      });
      expect(r.status).toBe(201);
      await sleep(1500); // the worker claims the notification and hangs in the black hole
      first.child.kill('SIGKILL');
      await first.exited;

      const check = await openSqliteStore({ dataDir: dir });
      const claimed = await check.db.kysely
        .selectFrom('outbox')
        .select(['state', 'lease_until'])
        .executeTakeFirstOrThrow();
      await check.close();
      expect(claimed.state).toBe('queued');
      expect(claimed.lease_until).toBeGreaterThan(Date.now() + 5 * 60_000); // leased for 10 minutes

      const second = await spawnServe([...args, '--smtp-upstream', `smtp://127.0.0.1:${sink.port}`]);
      try {
        await sink.waitFor(1, 10_000);
        expect(sink.mails[0]!.to).toEqual(['bob@example.net']);
      } finally {
        second.child.kill('SIGTERM');
        await second.exited;
      }
    } finally {
      await hole.close();
      await sink.stop();
    }
  }, 60_000);

  it.skipIf(!hasPg)(
    "drops its predecessor's half-finished PostgreSQL upload at the restart",
    async () => {
      const db = await createTestDatabase();
      const dir = await mkdtemp(join(tmpdir(), 'sealpost-takeover-pg-'));
      dirs.push(dir);
      try {
        const setup = await openPostgresStore({ url: db.url, poolSize: 1 });
        const apiKey = await seedSender(setup);
        // prettier-ignore
        const args = ['--data', dir, '--database', db.url, '--port', '0', '--smtp-port', 'off',
        '--log-level', 'warn', '--sealing-key', randomBytes(32).toString('base64'),
        '--base-url', 'https://sealpost.example.org'];
        const first = await spawnServe(args);
        // 3 MB announced, 2.5 MB sent (two chunks committed), then the upload stalls.
        const body = crashMessage(3_000_000);
        const u = new URL(first.url);
        const req = request({
          host: u.hostname,
          port: u.port,
          path: '/api/v1/messages',
          method: 'POST',
          headers: {
            authorization: `Bearer ${apiKey}`,
            'content-type': 'message/rfc822',
            'content-length': String(body.length),
          },
        });
        req.on('error', () => undefined);
        req.write(body.subarray(0, 2_500_000));
        const staged = async (): Promise<number> =>
          Number(
            (await sql<{ n: number }>`SELECT COUNT(*) AS n FROM body_chunks`.execute(setup.db.kysely)).rows[0]
              ?.n ?? 0,
          );
        await waitUntil(async () => (await staged()) >= 2, 15_000, 'two chunks staged');
        first.child.kill('SIGKILL');
        await first.exited;
        req.destroy();
        expect(await staged()).toBeGreaterThanOrEqual(2);

        const second = await spawnServe(args);
        try {
          expect(await staged()).toBe(0);
          const rows = await sql<{ n: number }>`SELECT COUNT(*) AS n FROM staged_bodies`.execute(
            setup.db.kysely,
          );
          expect(Number(rows.rows[0]?.n)).toBe(0);
        } finally {
          second.child.kill('SIGTERM');
          await second.exited;
          await setup.close();
        }
      } finally {
        await db.drop();
      }
    },
    60_000,
  );
});
