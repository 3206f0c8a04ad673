/**
 * `sealpost migrate --from DIR --to postgres://…`: an embedded store with every kind of row (active
 * and revoked senders; stored, revoked+purged and expired messages with multi-chunk bodies;
 * deliveries in several states with events and wrong-secret counts; sent, queued and cancelled mails;
 * the built-in outbox; the directory; queued and sent relay forwards) is copied into an empty
 * PostgreSQL database and read back through the Store port, equal in every respect. A second copy
 * into the now non-empty database is refused and changes nothing.
 */
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeliveryWithMessage, NewMessage, Store } from '../../src/server/store/port.ts';
import { openPostgresStore } from '../../src/server/store/postgres.ts';
import { openSqliteStore } from '../../src/server/store/sqlite.ts';
import { ROOT } from '../helpers/paths.ts';
import { createTestDatabase, requirePostgres } from './pg.ts';

const hasPg = await requirePostgres('sealpost migrate (SQLite data folder → PostgreSQL)');

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
const T0 = 1_700_000_000_000;

async function readAll(s: Readable | null): Promise<Buffer | null> {
  if (!s) return null;
  const chunks: Buffer[] = [];
  for await (const c of s) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

async function stage(store: Store, bytes: Uint8Array) {
  const w = await store.bodies.createWriter();
  for (let i = 0; i < bytes.length; i += 65_536) await w.write(bytes.subarray(i, i + 65_536));
  return w.finish();
}

let n = 0;
const nid = (p: string): string => `${p}${String(++n).padStart(10, '0')}`;

async function populate(
  store: Store,
): Promise<{ messages: string[]; forwards: string[]; keys: string[] }> {
  const keys = [sha(randomBytes(8)), sha(randomBytes(8)), sha(randomBytes(8))];
  const alice = await store.senders.add({
    id: nid('s'),
    email: 'alice@example.org',
    apiKeyHash: keys[0]!,
    at: T0,
  });
  await store.senders.add({ id: nid('s'), email: 'old@example.org', apiKeyHash: keys[1]!, at: T0 + 1 });
  await store.senders.revoke('old@example.org', T0 + 2);
  await store.senders.add({ id: nid('s'), email: 'bob@example.org', apiKeyHash: keys[2]!, at: T0 + 3 });
  const messages: string[] = [];
  const sizes = [2_500_000, 10_000, 300_000];
  for (const [i, size] of sizes.entries()) {
    const bytes = new Uint8Array(randomBytes(size));
    const body = await stage(store, bytes);
    const deliveries = ['x@example.com', 'y@example.com'].map((r) => ({
      id: nid('d'),
      recipient: r,
      secretHash: sha(randomBytes(8)),
    }));
    const input: NewMessage = {
      id: nid('m'),
      senderId: alice.id,
      size,
      sha256: sha(bytes),
      protocol: i === 1 ? 'openpgp' : 'smime',
      encrypted: true,
      signed: i === 2,
      contentType: 'application/pkcs7-mime',
      fromHeader: i === 0 ? 'Alice <alice@example.org>' : null,
      subject: `message ${i}`,
      headerDate: 'Sun, 29 Nov 2026 04:00:00 +0000',
      headerMessageId: `<m${i}@example.org>`,
      createdAt: T0 + 10 * i,
      expiresAt: i === 2 ? T0 + 1000 : T0 + 86_400_000,
      receiptRequested: i === 0,
      deliveries,
      mails: deliveries.map((d) => ({
        id: nid('o'),
        kind: 'notification' as const,
        deliveryId: d.id,
        recipient: d.recipient,
        payload: new Uint8Array(randomBytes(40)),
      })),
    };
    await store.submissions.create(input, body);
    messages.push(input.id);
  }
  // Message 0: one notification sent, the delivery opened and processed with a receipt queued; wrong secrets.
  const [m0d0] = await store.deliveries.listByMessage(messages[0]!);
  const claimed = await store.outbox.claim(T0 + 100, 60_000, 1);
  await store.outbox.complete(claimed[0]!.id, claimed[0]!.leaseToken, T0 + 101);
  await store.deliveries.transition({
    deliveryId: m0d0!.id,
    from: ['notified', 'pending'],
    to: 'opened',
    event: 'opened',
    at: T0 + 200,
  });
  await store.deliveries.transition({
    deliveryId: m0d0!.id,
    from: ['opened'],
    to: 'processed',
    event: 'processed',
    detail: 'receiver 1.0',
    at: T0 + 300,
    enqueue: [
      { id: nid('o'), kind: 'receipt', deliveryId: m0d0!.id, recipient: 'alice@example.org', payload: null },
    ],
  });
  await store.deliveries.noteBadSecret(m0d0!.id, T0 + 400, 3_600_000);
  await store.deliveries.noteBadSecret(m0d0!.id, T0 + 401, 3_600_000);
  // Message 1: revoked and purged. Message 2: expired.
  await store.submissions.revoke(messages[1]!, T0 + 500);
  await store.retention.purgeBody(messages[1]!, T0 + 501);
  await store.retention.expireDue(T0 + 1000, 10);
  await store.localMail.add({
    id: nid('l'),
    to: 'x@example.com',
    subject: 'S1',
    text: 't1',
    html: '<p>1</p>',
    createdAt: T0,
  });
  await store.localMail.add({
    id: nid('l'),
    to: 'y@example.com',
    subject: 'S2',
    text: 't2',
    html: '<p>2</p>',
    createdAt: T0,
  });
  await store.directory.publish({
    email: 'x@example.com',
    kind: 'x509',
    data: '-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n',
    fingerprint: 'ab',
    deliveryId: m0d0!.id,
    publishedAt: T0 + 300,
  });
  await store.directory.publish({
    email: 'x@example.com',
    kind: 'openpgp',
    data: 'KEY',
    fingerprint: 'cd',
    deliveryId: m0d0!.id,
    publishedAt: T0 + 301,
  });
  // Relay: one forward queued (retried once, narrowed), one sent.
  const forwards: string[] = [];
  for (let i = 0; i < 2; i++) {
    const bytes = new Uint8Array(randomBytes(1_200_000 + i));
    const body = await stage(store, bytes);
    const f = {
      id: nid('f'),
      mailFrom: i === 0 ? 'alice@example.org' : '',
      recipients: ['p@example.net', 'q@example.net'],
      size: bytes.length,
      sha256: sha(bytes),
      senderId: i === 0 ? alice.id : null,
      createdAt: T0 + 600 + i,
      expiresAt: T0 + 5 * 86_400_000,
    };
    await store.forwards.enqueue(f, body);
    forwards.push(f.id);
  }
  const fs = await store.forwards.claim(T0 + 700, 60_000, 10);
  const f0 = fs.find((f) => f.id === forwards[0])!;
  const f1 = fs.find((f) => f.id === forwards[1])!;
  await store.forwards.retry(f0.id, f0.leaseToken, T0 + 10_000, '421 later', ['q@example.net']);
  await store.forwards.complete(f1.id, f1.leaseToken, T0 + 701);
  return { messages, forwards, keys };
}

/** A delivery with its message, less the body's ref (each store has its own kind of ref). */
function withoutRef(d: DeliveryWithMessage | null) {
  return d && { ...d, message: { ...d.message, bodyRef: undefined } };
}

/** Everything the Store port can say about the data, for comparison (body refs differ by nature). */
async function snapshot(store: Store, ids: { messages: string[]; forwards: string[]; keys: string[] }) {
  const messages = [];
  for (const id of ids.messages) {
    const deliveries = await store.deliveries.listByMessage(id);
    const ds = [];
    for (const d of deliveries)
      ds.push({
        d,
        full: withoutRef(await store.deliveries.get(d.id)),
        events: await store.deliveries.listEvents(d.id),
        bad: await store.deliveries.badSecretCount(d.id, T0 + 500, 3_600_000),
      });
    const body = await readAll(await store.submissions.openBody(id));
    const part = await readAll(await store.submissions.openBody(id, { start: 1_048_570, end: 1_048_590 }));
    messages.push({
      m: { ...(await store.submissions.get(id)), bodyRef: undefined },
      ds,
      body: body ? sha(body) : null,
      part: part?.toString('hex') ?? null,
    });
  }
  const forwards = [];
  for (const id of ids.forwards) {
    const body = await readAll(await store.forwards.openBody(id));
    forwards.push({ f: await store.forwards.get(id), body: body ? sha(body) : null });
  }
  return {
    senders: await store.senders.list(),
    byKey: await Promise.all(ids.keys.map((k) => store.senders.findByApiKeyHash(k))),
    messages,
    forwards,
    mailStats: await store.outbox.stats(),
    forwardStats: await store.forwards.stats(),
    local: await store.localMail.list(10),
    directory: await store.directory.lookup('x@example.com'),
    purgeable: await store.retention.listPurgeable(T0 + 2000, 10),
    // What the workers would pick up next (leases differ by nature).
    due: (await store.outbox.claim(T0 + 20_000, 60_000, 100))
      .map(({ leaseToken: _l, ...rest }) => rest)
      .sort((x, y) => x.id.localeCompare(y.id)),
    dueForwards: (await store.forwards.claim(T0 + 20_000, 60_000, 100)).map(
      ({ leaseToken: _l, ...rest }) => rest,
    ),
  };
}

describe.skipIf(!hasPg)('sealpost migrate --from DIR --to postgres://…', () => {
  let dir: string;
  let db: Awaited<ReturnType<typeof createTestDatabase>>;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sealpost-migrate-'));
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db?.drop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('copies every table and every body, equal through the Store port; refuses a second copy', async () => {
    const sqlite = await openSqliteStore({ dataDir: dir });
    const ids = await populate(sqlite);
    await sqlite.close();

    const run = (): ReturnType<typeof spawnSync> =>
      spawnSync(
        process.execPath,
        [join(ROOT, 'bin/sealpost.mjs'), 'migrate', '--from', dir, '--to', db.url],
        {
          encoding: 'utf8',
          timeout: 120_000,
        },
      );
    const r = run();
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/Done: 3 senders, 3 messages \(3 bodies, \d+ bytes\), 6 deliveries/);
    expect(r.stdout).toContain('sealing.key'); // queued notifications need the data folder's key

    // Compare on fresh handles (claims below change both sides the same way).
    const a = await openSqliteStore({ dataDir: dir });
    const b = await openPostgresStore({ url: db.url });
    try {
      const want = await snapshot(a, ids);
      const got = await snapshot(b, ids);
      expect(got).toEqual(want);
      // Sanity: the snapshot saw real data.
      expect(want.messages[0]!.body).not.toBeNull();
      expect(want.messages[1]!.body).toBeNull(); // purged before the copy
      expect(want.mailStats.sent).toBe(1);
      expect(want.due.length).toBeGreaterThan(0);
      expect(want.dueForwards).toHaveLength(1);
    } finally {
      await a.close();
      await b.close();
    }

    const again = run();
    expect(again.status).toBe(1);
    expect(again.stderr).toMatch(/not empty/);
  });
});
