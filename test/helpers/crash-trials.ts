/**
 * kill -9 trials, shared by the CI crash test (a dozen trials) and `npm run soak` (thousands): a
 * `sealpost serve` process takes a stream of HTTP submissions from a few clients and is killed with
 * SIGKILL at a random moment, then started again, `trials` times. Clients behave like real ones: a
 * message that got no 201 is sent again (the same bytes) to the next process. At the end the store
 * is restarted once cleanly (its recovery runs) and checked:
 *
 *   acknowledged   messages that got a 201
 *   lost           acknowledged, but not in the store
 *   truncated      acknowledged and in the store, but its body is not the bytes sent
 *   duplicated     stored more than once (a commit whose 201 the kill cut off, sent again)
 *   leftover       staged uploads or bodies that no row owns, still there after the recovery
 *
 * A correct store has lost = truncated = leftover = 0; duplicates are allowed (at-least-once).
 */
import { createHash, randomBytes, randomInt } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { sql } from 'kysely';
import pg from 'pg';
import { randomId } from '../../src/server/secrets.ts';
import type { Store } from '../../src/server/store/port.ts';
import { seedSender, spawnServe, type ServeProcess } from './serve.ts';

export interface CrashTrialOptions {
  store: 'sqlite' | 'postgres';
  trials: number;
  /** Concurrent clients (default 4). */
  clients?: number;
  /** How long a process lives before its kill, ms (default 300–1200). */
  lifeMs?: [number, number];
  /** Share of large messages (200 KB – 3 MB; default 0.25); the others are 500 B – 20 KB. */
  largeShare?: number;
  /** PostgreSQL server (a database is created and dropped). */
  pgUrl?: string;
  /** The checkout to run (default this one). */
  root?: string;
  /** Called after every trial. */
  onTrial?: (done: number, r: CrashTrialCounts) => void;
}

export interface CrashTrialCounts {
  trials: number;
  attempts: number;
  acknowledged: number;
}

export interface CrashTrialReport extends CrashTrialCounts {
  store: 'sqlite' | 'postgres';
  lost: number;
  truncated: number;
  duplicated: number;
  /** Stored although no 201 reached the client (the kill came between commit and answer). */
  storedUnacknowledged: number;
  leftover: number;
  seconds: number;
}

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

export function crashMessage(size: number): Buffer {
  const head = Buffer.from(
    `From: alice@example.org\r\nTo: bob@example.net\r\nSubject: crash ${randomId(6)}\r\nMIME-Version: 1.0\r\n` +
      'Content-Type: application/pkcs7-mime; smime-type=enveloped-data; name=smime.p7m\r\n' +
      'Content-Transfer-Encoding: base64\r\n\r\n',
  );
  const body = randomBytes(Math.max(0, Math.floor(((size - head.length) * 3) / 4)))
    .toString('base64')
    .replace(/(.{76})/g, '$1\r\n');
  return Buffer.concat([head, Buffer.from(body), Buffer.from('\r\n')]);
}

/** POSTs a message in 64 KiB pieces; the id on 201, null on anything else or a dropped connection. */
export function postMessage(url: string, apiKey: string, body: Buffer): Promise<string | null> {
  return new Promise((resolve) => {
    const u = new URL(`${url}/api/v1/messages`);
    const req = request(
      {
        host: u.hostname,
        port: u.port,
        path: u.pathname,
        method: 'POST',
        headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'message/rfc822' },
      },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => {
          if (res.statusCode !== 201) return resolve(null);
          try {
            resolve((JSON.parse(text) as { id: string }).id);
          } catch {
            resolve(null);
          }
        });
        res.on('error', () => resolve(null));
      },
    );
    req.on('error', () => resolve(null));
    let off = 0;
    const pump = (): void => {
      while (off < body.length) {
        const piece = body.subarray(off, off + 64 * 1024);
        off += piece.length;
        if (!req.write(piece)) {
          req.once('drain', pump);
          return;
        }
      }
      req.end();
    };
    pump();
  });
}

export async function readAll(s: Readable | null): Promise<Buffer> {
  if (!s) throw new Error('no body');
  const chunks: Buffer[] = [];
  for await (const c of s) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

interface Target {
  args: string[];
  openStore(): Promise<Store>;
  /** Staged leftovers and bodies no row owns, after the recovery. */
  leftover(store: Store): Promise<number>;
  drop(): Promise<void>;
}

async function sqliteTarget(): Promise<Target> {
  const dir = await mkdtemp(join(tmpdir(), 'sealpost-crash-'));
  const { openSqliteStore } = await import('../../src/server/store/sqlite.ts');
  return {
    args: ['--data', dir],
    openStore: () => openSqliteStore({ dataDir: dir }),
    async leftover(store) {
      let n = (await readdir(join(dir, 'tmp'))).length;
      const owned = new Set(
        (await store.db.kysely.selectFrom('messages').select('body_ref').execute()).map((r) => r.body_ref),
      );
      for (const shard of await readdir(join(dir, 'messages')))
        for (const f of await readdir(join(dir, 'messages', shard)))
          if (!owned.has(join('messages', shard, f))) n++;
      return n;
    },
    drop: () => rm(dir, { recursive: true, force: true }),
  };
}

async function postgresTarget(pgUrl: string): Promise<Target> {
  const name = `sealpost_crash_${randomBytes(6).toString('hex')}`;
  const admin = async (q: string): Promise<void> => {
    const c = new pg.Client({ connectionString: pgUrl });
    await c.connect();
    try {
      await c.query(q);
    } finally {
      await c.end();
    }
  };
  await admin(`CREATE DATABASE ${name}`);
  const u = new URL(pgUrl);
  u.pathname = `/${name}`;
  const url = u.toString();
  const dir = await mkdtemp(join(tmpdir(), 'sealpost-crash-pg-'));
  const { openPostgresStore } = await import('../../src/server/store/postgres.ts');
  return {
    // prettier-ignore
    args: ['--database', url, '--data', dir, '--sealing-key', randomBytes(32).toString('base64'),
      '--base-url', 'https://sealpost.example.org'],
    openStore: () => openPostgresStore({ url, poolSize: 2 }),
    async leftover(store) {
      const r = await sql<{ staged: number; orphans: number }>`SELECT
          (SELECT COUNT(*) FROM staged_bodies) AS staged,
          (SELECT COUNT(DISTINCT c.ref) FROM body_chunks c WHERE NOT EXISTS
            (SELECT 1 FROM messages m WHERE m.body_ref = c.ref)
            AND NOT EXISTS (SELECT 1 FROM staged_bodies s WHERE s.ref = c.ref)) AS orphans`.execute(
        store.db.kysely,
      );
      return Number(r.rows[0]?.staged ?? 0) + Number(r.rows[0]?.orphans ?? 0);
    },
    async drop() {
      await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export async function runCrashTrials(o: CrashTrialOptions): Promise<CrashTrialReport> {
  const started = Date.now();
  const target =
    o.store === 'sqlite'
      ? await sqliteTarget()
      : await postgresTarget(o.pgUrl ?? 'postgres://postgres@127.0.0.1:5432/test');
  try {
    const setup = await target.openStore();
    const apiKey = await seedSender(setup);
    await setup.close();

    const start = (): Promise<ServeProcess> =>
      spawnServe(
        // prettier-ignore
        [...target.args, '--port', '0', '--smtp-port', 'off', '--log-level', 'warn',
          '--rate-limit', '100000000', '--sender-rate-limit', '100000000', '--min-free-space', '0'],
        { timeoutMs: 60_000, ...(o.root ? { root: o.root } : {}) },
      );

    const sent = new Map<string, Buffer | null>(); // digest → body (dropped once acknowledged)
    const acknowledged = new Set<string>();
    const retry: Buffer[] = []; // sent, not acknowledged: clients send them again
    const counts: CrashTrialCounts = { trials: 0, attempts: 0, acknowledged: 0 };
    const [minLife, maxLife] = o.lifeMs ?? [300, 1200];
    const largeShare = o.largeShare ?? 0.25;
    const nextBody = (): Buffer => {
      const again = retry.shift();
      if (again) return again;
      const size = Math.random() < largeShare ? randomInt(200_000, 3_000_000) : randomInt(500, 20_000);
      const body = crashMessage(size);
      sent.set(sha(body), body);
      return body;
    };

    for (let trial = 0; trial < o.trials; trial++) {
      const { child, url, exited } = await start();
      let alive = true;
      const clients = Array.from({ length: o.clients ?? 4 }, async () => {
        while (alive) {
          const body = nextBody();
          counts.attempts++;
          const id = await postMessage(url, apiKey, body);
          const digest = sha(body);
          if (id) {
            acknowledged.add(digest);
            sent.set(digest, null);
          } else retry.push(body);
        }
      });
      await new Promise((r) => setTimeout(r, randomInt(minLife, maxLife + 1)));
      child.kill('SIGKILL');
      await exited;
      alive = false;
      await Promise.all(clients);
      counts.trials++;
      counts.acknowledged = acknowledged.size;
      o.onTrial?.(counts.trials, counts);
    }

    // A clean start (recovery runs) and stop, then the check.
    const last = await start();
    const lastExit = last.exited;
    last.child.kill('SIGTERM');
    await lastExit;

    const store = await target.openStore();
    try {
      const rows = await store.db.kysely.selectFrom('messages').select(['id', 'sha256']).execute();
      const bySha = new Map<string, string[]>();
      for (const r of rows) bySha.set(r.sha256, [...(bySha.get(r.sha256) ?? []), r.id]);
      let lost = 0;
      let truncated = 0;
      let duplicated = 0;
      let storedUnacknowledged = 0;
      for (const digest of sent.keys()) {
        const ids = bySha.get(digest) ?? [];
        if (ids.length > 1) duplicated += ids.length - 1;
        if (!acknowledged.has(digest)) {
          if (ids.length > 0) storedUnacknowledged++;
          continue;
        }
        if (ids.length === 0) {
          lost++;
          continue;
        }
        for (const id of ids) {
          const body = await readAll(await store.submissions.openBody(id)).catch(() => Buffer.alloc(0));
          if (sha(body) !== digest) truncated++;
        }
      }
      return {
        store: o.store,
        ...counts,
        acknowledged: acknowledged.size,
        lost,
        truncated,
        duplicated,
        storedUnacknowledged,
        leftover: await target.leftover(store),
        seconds: Math.round((Date.now() - started) / 1000),
      };
    } finally {
      await store.close();
    }
  } finally {
    await target.drop();
  }
}
