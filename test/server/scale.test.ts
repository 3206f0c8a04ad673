/**
 * Scale-out: two `sealpost serve` processes on different ports sharing one PostgreSQL database (and
 * no disk), with an smtp-server sink as the upstream mail server.
 *
 * - A message submitted through node A is picked up through node B (metadata, whole content, a
 *   range), and a ~100 MB message streams in and out with bounded memory on both nodes.
 * - With both nodes' workers running, every notification reaches the sink exactly once.
 * - Node A is killed (SIGKILL) while it is sending notifications: node B takes over A's leases when
 *   they expire, every notification still arrives, and every copy of one notification carries the
 *   same Message-ID and link (at-least-once + idempotent: exactly once after dedupe by Message-ID).
 */
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/server/config.ts';
import { startServer } from '../../src/server/main.ts';
import { ROOT } from '../helpers/paths.ts';
import { spawnServe, type ServeProcess } from '../helpers/serve.ts';
import { freePort, linkIn, parseMail, sleep, waitUntil } from './helpers.ts';
import { createTestDatabase, requirePostgres } from './pg.ts';

const hasPg = await requirePostgres('two-node scale-out tests (two sealpost serve processes on PostgreSQL)');

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
const BASE_URL = 'https://sealpost.example.org';
const SEALING_KEY = randomBytes(32).toString('base64');

describe('settings for the PostgreSQL store', () => {
  it('accepts a postgres URL and asks for the settings every node must share', () => {
    const c = loadConfig(
      [
        '--database',
        'postgres://sp:secret@db.example.org:5432/sealpost',
        '--sealing-key',
        SEALING_KEY,
        '--base-url',
        BASE_URL,
      ],
      {},
    );
    expect(c.database).toBe('postgres://sp:secret@db.example.org:5432/sealpost');
    expect(c.databasePool).toBe(10);
    expect(c.notifyLeaseMs).toBe(5 * 60_000);
    expect(loadConfig([], { SEALPOST_DATABASE: '' }).database).toBeNull();
    expect(() => loadConfig(['--database', 'mysql://x/y'], {})).toThrow(/postgres:\/\//);
    // A bad URL is not echoed (it may hold a password).
    expect(() => loadConfig(['--database', 'mysql://u:hunter2@x/y'], {})).toThrow(
      /^(?![\s\S]*hunter2)[\s\S]*$/,
    );
    expect(() => loadConfig(['--database', 'postgres://h/db', '--base-url', BASE_URL], {})).toThrow(
      /--sealing-key/,
    );
    expect(() => loadConfig(['--database', 'postgres://h/db', '--sealing-key', SEALING_KEY], {})).toThrow(
      /--base-url/,
    );
  });
});

describe('a node whose PostgreSQL cannot be reached', () => {
  it('stops with a settings error naming the database (password hidden), not a stack trace', async () => {
    const port = await freePort(); // nothing listens there
    const dir = await mkdtemp(join(tmpdir(), 'sealpost-nodb-'));
    try {
      await expect(
        startServer(
          [
            '--database',
            `postgres://sp:hunter2@127.0.0.1:${port}/sealpost`,
            '--sealing-key',
            SEALING_KEY,
            '--base-url',
            BASE_URL,
            '--data',
            dir,
            '--port',
            '0',
            '--smtp-port',
            'off',
          ],
          { env: {}, print: null, logDestination: { write: () => undefined } },
        ),
      ).rejects.toThrow(
        /--database: cannot open the PostgreSQL store at postgres:\/\/sp:\*\*\*@127\.0\.0\.1/,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

type Node = ServeProcess;

function startNode(database: string, dataDir: string, sinkPort: number): Promise<Node> {
  return spawnServe(
    // prettier-ignore
    ['--database', database, '--data', dataDir, '--port', '0', '--smtp-port', 'off',
      '--base-url', BASE_URL, '--smtp-upstream', `smtp://127.0.0.1:${sinkPort}`,
      '--notify-lease', '5s', '--notify-retry-base', '200ms', '--log-level', 'warn',
      '--rate-limit', '1000000', '--sender-rate-limit', '1000000'],
    { env: { SEALPOST_SEALING_KEY: SEALING_KEY } },
  );
}

/** Peak resident memory of a process (VmHWM), in bytes. */
function peakRss(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

function smimeMessage(to: string, size: number): Buffer {
  const head = Buffer.from(
    `From: alice@example.org\r\nTo: ${to}\r\nSubject: scale ${randomBytes(4).toString('hex')}\r\nMIME-Version: 1.0\r\n` +
      'Content-Type: application/pkcs7-mime; smime-type=enveloped-data; name=smime.p7m\r\n' +
      'Content-Transfer-Encoding: base64\r\n\r\n',
  );
  const line = randomBytes(57).toString('base64'); // 76 characters
  const lines = Math.max(1, Math.floor((size - head.length) / 78));
  return Buffer.concat([head, Buffer.from(`${line}\r\n`.repeat(lines))]);
}

/** POSTs a body, streaming it in 1 MiB pieces; resolves with the JSON answer. */
function submitStream(url: string, apiKey: string, body: Buffer): Promise<{ status: number; json: unknown }> {
  return new Promise((resolve, reject) => {
    const u = new URL(`${url}/api/v1/messages`);
    const req = request(
      {
        host: u.hostname,
        port: u.port,
        path: u.pathname,
        method: 'POST',
        headers: {
          authorization: `Bearer ${apiKey}`,
          'content-type': 'message/rfc822',
          'content-length': body.length,
        },
      },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, json: text ? JSON.parse(text) : null }));
      },
    );
    req.on('error', reject);
    let off = 0;
    const pump = (): void => {
      while (off < body.length) {
        const piece = body.subarray(off, off + 1024 * 1024);
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

interface SinkMail {
  messageId: string;
  delivery: string;
  link: string;
  to: string[];
}

describe.skipIf(!hasPg)('two sealpost serve nodes sharing PostgreSQL', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let admin: pg.Client;
  const dirs: string[] = [];
  let a: Node;
  let b: Node;
  let apiKey: string;
  let sink: SMTPServer;
  let sinkPort: number;
  const received: SinkMail[] = [];
  let parsing: Promise<void> = Promise.resolve();
  /** How long the sink holds its 250 after a mail's last byte, and how many it holds right now. */
  let ackDelay = 150;
  let pendingAcks = 0;

  beforeAll(async () => {
    db = await createTestDatabase();
    admin = new pg.Client({ connectionString: db.url });
    await admin.connect();
    // The upstream: acknowledges each mail `ackDelay` ms after its last byte, keeping sends in flight.
    sinkPort = await freePort();
    sink = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS', 'AUTH'],
      logger: false,
      onData(stream, session, callback) {
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => {
          pendingAcks++;
          setTimeout(() => {
            pendingAcks--;
            // The upstream takes responsibility here (and answers 250), whether or not the client
            // is still there to read it.
            const raw = Buffer.concat(chunks);
            parsing = parsing.then(async () => {
              const p = await parseMail(raw);
              received.push({
                messageId: p.messageId ?? '',
                delivery: p.headers.find((h) => h.key === 'x-sealpost-delivery')?.value ?? '',
                link: linkIn(p.text ?? '').link,
                to: session.envelope.rcptTo.map((r) => r.address),
              });
            });
            callback();
          }, ackDelay);
        });
      },
    });
    sink.on('error', () => undefined);
    await new Promise<void>((r) => sink.listen(sinkPort, '127.0.0.1', () => r()));

    dirs.push(
      await mkdtemp(join(tmpdir(), 'sealpost-node-a-')),
      await mkdtemp(join(tmpdir(), 'sealpost-node-b-')),
    );
    [a, b] = await Promise.all([
      startNode(db.url, dirs[0]!, sinkPort),
      startNode(db.url, dirs[1]!, sinkPort),
    ]);

    // A sender, made with the CLI against the same database.
    const out = await new Promise<string>((resolve, reject) => {
      const c = spawn(
        process.execPath,
        [
          join(ROOT, 'bin/sealpost.mjs'),
          'senders',
          'add',
          'alice@example.org',
          '--database',
          db.url,
          '--json',
        ],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      );
      let text = '';
      c.stdout.on('data', (d: Buffer) => (text += d.toString()));
      c.on('exit', (code) => (code === 0 ? resolve(text) : reject(new Error(`senders add: ${code}`))));
    });
    apiKey = (JSON.parse(out) as { apiKey: string }).apiKey;
  });

  afterAll(async () => {
    for (const n of [a, b]) {
      if (n && n.child.exitCode === null && n.child.signalCode === null) {
        n.child.kill('SIGTERM');
        await n.exited;
      }
    }
    await new Promise<void>((r) => (sink ? sink.close(() => r()) : r()));
    await admin?.end();
    await db?.drop();
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  async function outboxCounts(): Promise<Record<string, number>> {
    const r = await admin.query('SELECT state, COUNT(*)::int AS n FROM outbox GROUP BY state');
    return Object.fromEntries(r.rows.map((x: { state: string; n: number }) => [x.state, x.n]));
  }

  it('takes a submission on node A and hands it out on node B, ranges included', async () => {
    const body = smimeMessage('bob@example.net', 2_600_000); // three body chunks
    const res = await submitStream(a.url, apiKey, body);
    expect(res.status).toBe(201);
    const created = res.json as { id: string; deliveries: { id: string }[] };
    const deliveryId = created.deliveries[0]!.id;
    await waitUntil(() => received.some((m) => m.delivery === deliveryId), 20_000, 'the notification');
    const { id, secret } = linkIn(received.find((m) => m.delivery === deliveryId)!.link);
    expect(id).toBe(deliveryId);

    const h = { 'x-sealpost-secret': secret };
    const meta = await fetch(`${b.url}/api/v1/pickup/${id}`, { headers: h });
    expect(meta.status).toBe(200);
    const content = await fetch(`${b.url}/api/v1/pickup/${id}/content`, { headers: h });
    expect(content.status).toBe(200);
    expect(sha(new Uint8Array(await content.arrayBuffer()))).toBe(sha(body));
    const start = 1024 * 1024 - 10;
    const end = 2 * 1024 * 1024 + 10;
    const part = await fetch(`${b.url}/api/v1/pickup/${id}/content`, {
      headers: { ...h, range: `bytes=${start}-${end}` },
    });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe(`bytes ${start}-${end}/${body.length}`);
    expect(Buffer.from(await part.arrayBuffer()).equals(body.subarray(start, end + 1))).toBe(true);
    // The sender sees the state from either node.
    const status = await fetch(`${a.url}/api/v1/messages/${created.id}`, {
      headers: { authorization: `Bearer ${apiKey}` },
    });
    expect(status.status).toBe(200);
  });

  it('streams a ~100 MB message in and out with bounded memory on both nodes', async () => {
    const body = smimeMessage('carol@example.net', 99_000_000);
    const digest = sha(body);
    const beforeA = peakRss(a.child.pid!);
    const res = await submitStream(a.url, apiKey, body);
    expect(res.status).toBe(201);
    const deliveryId = (res.json as { deliveries: { id: string }[] }).deliveries[0]!.id;
    await waitUntil(() => received.some((m) => m.delivery === deliveryId), 30_000, 'the notification');
    const { id, secret } = linkIn(received.find((m) => m.delivery === deliveryId)!.link);
    const beforeB = peakRss(b.child.pid!);
    const r = await fetch(`${b.url}/api/v1/pickup/${id}/content`, {
      headers: { 'x-sealpost-secret': secret },
    });
    expect(r.status).toBe(200);
    const hash = createHash('sha256');
    let n = 0;
    for await (const c of r.body!) {
      hash.update(c);
      n += c.length;
    }
    expect(n).toBe(body.length);
    expect(hash.digest('hex')).toBe(digest);
    const growthA = peakRss(a.child.pid!) - beforeA;
    const growthB = peakRss(b.child.pid!) - beforeB;
    console.log(
      `100 MB through PostgreSQL: peak RSS growth node A (upload) ${(growthA / 1e6).toFixed(1)} MB, node B (download) ${(growthB / 1e6).toFixed(1)} MB`,
    );
    // Below the message size: the body never sits in memory whole. Per transfer the store holds
    // about two 1 MiB chunks; the rest of the growth is garbage V8 has not collected yet.
    expect(growthA).toBeLessThan(75_000_000);
    expect(growthB).toBeLessThan(75_000_000);
  });

  it('sends every notification exactly once while both nodes work the outbox', async () => {
    await parsing;
    const before = received.length;
    const n = 16;
    const ids: string[] = [];
    await Promise.all(
      Array.from({ length: n }, async (_, i) => {
        const node = i % 2 === 0 ? a : b;
        const res = await submitStream(node.url, apiKey, smimeMessage(`r${i}@example.com`, 3000));
        expect(res.status).toBe(201);
        ids.push((res.json as { deliveries: { id: string }[] }).deliveries[0]!.id);
      }),
    );
    await waitUntil(async () => (await outboxCounts()).queued === undefined, 30_000, 'the outbox to drain');
    await sleep(500);
    await parsing;
    const mine = received.slice(before);
    expect(mine.map((m) => m.delivery).sort()).toEqual([...ids].sort());
    expect(new Set(mine.map((m) => m.messageId)).size).toBe(n);
  });

  it('loses no notification and sends none twice (by Message-ID) when a node is killed mid-send', async () => {
    await parsing;
    const before = received.length;
    const n = 40;
    const ids = new Set<string>();
    const submitOne = async (i: number): Promise<void> => {
      const res = await submitStream(a.url, apiKey, smimeMessage(`k${i}@example.com`, 3000));
      expect(res.status).toBe(201);
      ids.add((res.json as { deliveries: { id: string }[] }).deliveries[0]!.id);
    };
    // The sink now holds each 250 for 3 s. The first submission wakes A's worker at once (B only
    // polls each second): A claims it and sends it, and is waiting for the 250 …
    ackDelay = 3000;
    await submitOne(0);
    await waitUntil(() => pendingAcks >= 1, 10_000, "A's first mail to reach the sink");
    // … while the others are submitted, and A (and B) claim and send more of them …
    for (let i = 1; i < n; i += 13)
      await Promise.all(Array.from({ length: Math.min(13, n - i) }, (_, j) => submitOne(i + j)));
    // … when A is killed, holding leases on mails in flight.
    a.child.kill('SIGKILL');
    await a.exited;
    ackDelay = 150;
    const killedAt = Date.now();
    // B sends the rest, and A's leased mails once the 5 s lease has run out.
    await waitUntil(async () => (await outboxCounts()).queued === undefined, 60_000, 'the outbox to drain');
    await sleep(500);
    await parsing;
    const mine = received.slice(before);
    const byId = new Map<string, SinkMail[]>();
    for (const m of mine) byId.set(m.messageId, [...(byId.get(m.messageId) ?? []), m]);
    // Every notification arrived …
    expect(new Set(mine.map((m) => m.delivery))).toEqual(ids);
    expect(byId.size).toBe(n);
    // … and each distinct Message-ID is one delivery, with one link, however often it was sent.
    for (const copies of byId.values()) {
      expect(new Set(copies.map((c) => c.delivery)).size).toBe(1);
      expect(new Set(copies.map((c) => c.link)).size).toBe(1);
    }
    const duplicates = mine.length - byId.size;
    // Resends only for what A had claimed when it died (at most one batch of 8).
    expect(duplicates).toBeLessThanOrEqual(8);
    const counts = await outboxCounts();
    expect(counts.sent).toBeGreaterThanOrEqual(n);
    // A died holding leases: those mails were claimed again (a second attempt) once the lease ran out.
    const takenOver = (
      await admin.query(
        "SELECT COUNT(*)::int AS n FROM outbox WHERE delivery_id = ANY($1::text[]) AND state = 'sent' AND attempts >= 2",
        [[...ids]],
      )
    ).rows[0].n as number;
    expect(takenOver).toBeGreaterThanOrEqual(1);
    expect(duplicates).toBeLessThanOrEqual(takenOver);
    const notified = await admin.query(
      "SELECT COUNT(*)::int AS n FROM deliveries WHERE id = ANY($1::text[]) AND state = 'notified'",
      [[...ids]],
    );
    expect(notified.rows[0].n).toBe(n);
    console.log(
      `node A killed mid-send: ${n} notifications, ${takenOver} taken over after A's lease ran out, ${mine.length} mails at the sink, ${duplicates} resent with the same Message-ID, drained ${((Date.now() - killedAt) / 1000).toFixed(1)} s after the kill`,
    );
  });
});
