/**
 * Upgrade: a data folder (SQLite + files) and a PostgreSQL database made by the first release —
 * the two hand-written stores of commit OLD_RELEASE, schema versions SQLite 3 and PostgreSQL 4 —
 * open with today's store, migrate to the one schema, and say exactly what they said before through
 * the Store port: every sender, message, body, delivery, event, mail, forward and directory entry.
 * Their schema then equals a new database's, column by column and index by index.
 *
 * How the old data is made: honestly, by the old release's own code. Its store (src/server/store at
 * OLD_RELEASE, which imports nothing but better-sqlite3, pg and node:*) is taken from git history
 * (`git archive`) into .tmp/ and run here to fill the stores; nothing of it is copied into the repo.
 */
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { sql, type Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SCHEMA_VERSION } from '../../src/server/store/migrations.ts';
import type { Store } from '../../src/server/store/port.ts';
import { openPostgresStore } from '../../src/server/store/postgres.ts';
import type { Database } from '../../src/server/store/schema.ts';
import { openSqliteStore } from '../../src/server/store/sqlite.ts';
import { ROOT } from '../helpers/paths.ts';
import { PG_URL, createTestSchema, requirePostgres } from './pg.ts';

/** The last commit of the first release's store. */
const OLD_RELEASE = 'd9d0dca686499c83c3920cd0d57c33ca9c307679';
const T0 = 1_700_000_000_000;
const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

const hasPg = await requirePostgres('store upgrade from the first release (PostgreSQL half)');

/** The old release's store module (src/server/store/index.ts at OLD_RELEASE), extracted once. */
async function oldRelease(): Promise<OldModule> {
  const dir = join(ROOT, '.tmp', `old-release-${OLD_RELEASE.slice(0, 12)}`);
  if (!existsSync(join(dir, 'src/server/store/index.ts'))) {
    await mkdir(dir, { recursive: true });
    let archive: Buffer;
    try {
      archive = execFileSync('git', ['-C', ROOT, 'archive', OLD_RELEASE, 'src/server/store'], {
        maxBuffer: 64 * 1024 * 1024,
      });
    } catch (e) {
      throw new Error(
        `The upgrade test builds its old data with the first release's code, taken from git history (commit ${OLD_RELEASE}); it is not there: ${(e as Error).message}`,
        { cause: e },
      );
    }
    execFileSync('tar', ['-x', '-C', dir], { input: archive });
  }
  const sqlite = (await import(/* @vite-ignore */ join(dir, 'src/server/store/sqlite.ts'))) as {
    SqliteStore: { open(o: { dataDir: string }): Promise<OldStore> };
  };
  const postgres = (await import(/* @vite-ignore */ join(dir, 'src/server/store/postgres.ts'))) as {
    PostgresStore: { open(o: { url: string; schema: string }): Promise<OldStore> };
  };
  return {
    openSqlite: (dataDir) => sqlite.SqliteStore.open({ dataDir }),
    openPostgres: (url, schema) => postgres.PostgresStore.open({ url, schema }),
  };
}

/** The old release's Store: one flat interface (its src/server/store/port.ts). */
type OldStore = {
  close(): Promise<void>;
  [method: string]: (...args: never[]) => Promise<unknown>;
};
interface OldModule {
  openSqlite(dataDir: string): Promise<OldStore>;
  openPostgres(url: string, schema: string): Promise<OldStore>;
}
/** Calls a method of the old store by name (the test speaks both ports). */
const call = <T>(s: OldStore, method: string, ...args: unknown[]): Promise<T> =>
  (s[method] as unknown as (...a: unknown[]) => Promise<T>)(...args);

interface Made {
  messages: string[];
  forwards: string[];
  keys: string[];
  bodies: Map<string, string>;
}

let n = 0;
const nid = (p: string): string => `${p}${String(++n).padStart(10, '0')}`;

async function stageOld(store: OldStore, bytes: Uint8Array): Promise<unknown> {
  const w = await call<{ write(c: Uint8Array): Promise<void>; finish(): Promise<unknown> }>(
    store,
    'createBodyWriter',
  );
  for (let i = 0; i < bytes.length; i += 65_536) await w.write(bytes.subarray(i, i + 65_536));
  return w.finish();
}

/** Fills an old-release store with every kind of row, the way the old server would have. */
async function populateOld(store: OldStore): Promise<Made> {
  const made: Made = { messages: [], forwards: [], keys: [], bodies: new Map() };
  made.keys = [sha(randomBytes(8)), sha(randomBytes(8)), sha(randomBytes(8))];
  const alice = nid('s');
  await call(store, 'addSender', { id: alice, email: 'alice@example.org', apiKeyHash: made.keys[0], at: T0 });
  await call(store, 'addSender', {
    id: nid('s'),
    email: 'old@example.org',
    apiKeyHash: made.keys[1],
    at: T0 + 1,
  });
  await call(store, 'revokeSender', 'old@example.org', T0 + 2);
  await call(store, 'addSender', {
    id: nid('s'),
    email: 'bob@example.org',
    apiKeyHash: made.keys[2],
    at: T0 + 3,
  });
  for (const [i, size] of [2_500_000, 10_000, 300_000, 0].entries()) {
    const bytes = new Uint8Array(randomBytes(size));
    const body = await stageOld(store, bytes);
    const deliveries = ['x@example.com', 'y@example.com', 'z@example.com'].map((r) => ({
      id: nid('d'),
      recipient: r,
      secretHash: sha(randomBytes(8)),
    }));
    const id = nid('m');
    await call(
      store,
      'createMessage',
      {
        id,
        senderId: alice,
        size,
        sha256: sha(bytes),
        protocol: i === 1 ? 'openpgp' : 'smime',
        encrypted: i !== 3,
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
          kind: 'notification',
          deliveryId: d.id,
          recipient: d.recipient,
          payload: new Uint8Array(randomBytes(40)),
        })),
      },
      body,
    );
    made.messages.push(id);
    made.bodies.set(id, sha(bytes));
  }
  const [m0] = made.messages;
  const [d0] = await call<{ id: string }[]>(store, 'listDeliveries', m0);
  const [first] = await call<{ id: string; leaseToken: string }[]>(store, 'claimMail', T0 + 100, 60_000, 1);
  await call(store, 'completeMail', first!.id, first!.leaseToken, T0 + 101);
  await call(store, 'transition', {
    deliveryId: d0!.id,
    from: ['notified', 'pending'],
    to: 'opened',
    event: 'opened',
    at: T0 + 200,
  });
  await call(store, 'transition', {
    deliveryId: d0!.id,
    from: ['opened'],
    to: 'processed',
    event: 'processed',
    detail: 'receiver 1.0',
    at: T0 + 300,
    enqueue: [
      { id: nid('o'), kind: 'receipt', deliveryId: d0!.id, recipient: 'alice@example.org', payload: null },
    ],
  });
  await call(store, 'noteBadSecret', d0!.id, T0 + 400, 3_600_000);
  await call(store, 'noteBadSecret', d0!.id, T0 + 401, 3_600_000);
  const [failing] = await call<{ id: string; leaseToken: string }[]>(store, 'claimMail', T0 + 500, 60_000, 1);
  await call(store, 'failMail', failing!.id, failing!.leaseToken, T0 + 501, '550 no such user');
  await call(store, 'revokeMessage', made.messages[1], T0 + 600);
  await call(store, 'purgeBody', made.messages[1], T0 + 601);
  await call(store, 'expireDue', T0 + 1000, 10);
  for (const [i, to] of ['x@example.com', 'y@example.com'].entries())
    await call(store, 'addLocalMail', {
      id: nid('l'),
      to,
      subject: `S${i}`,
      text: `t${i}`,
      html: `<p>${i}</p>`,
      createdAt: T0,
    });
  for (const [kind, data, fp] of [
    ['x509', '-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n', 'ab'],
    ['openpgp', 'KEY', 'cd'],
  ] as const)
    await call(store, 'publishDirectoryEntry', {
      email: 'x@example.com',
      kind,
      data,
      fingerprint: fp,
      deliveryId: d0!.id,
      publishedAt: T0 + 300,
    });
  // Relay: one forward queued (retried once, narrowed), one sent, one failed with a queued bounce.
  for (let i = 0; i < 3; i++) {
    const bytes = new Uint8Array(randomBytes(1_200_000 + i));
    const body = await stageOld(store, bytes);
    const id = nid('f');
    await call(
      store,
      'enqueueForward',
      {
        id,
        mailFrom: i === 0 ? 'alice@example.org' : '',
        recipients: ['p@example.net', 'q@example.net'],
        size: bytes.length,
        sha256: sha(bytes),
        senderId: i === 0 ? alice : null,
        createdAt: T0 + 700 + i,
        expiresAt: T0 + 5 * 86_400_000,
      },
      body,
    );
    made.forwards.push(id);
    made.bodies.set(id, sha(bytes));
  }
  const leased = await call<{ id: string; leaseToken: string }[]>(
    store,
    'claimForwards',
    T0 + 800,
    60_000,
    10,
  );
  const lease = (id: string): string => leased.find((f) => f.id === id)!.leaseToken;
  const [f0, f1, f2] = made.forwards as [string, string, string];
  await call(store, 'retryForward', f0, lease(f0), T0 + 10_000, '421 later', ['q@example.net']);
  await call(store, 'completeForward', f1, lease(f1), T0 + 801);
  const dsn = new Uint8Array(Buffer.from('From: MAILER-DAEMON\r\n\r\nbounce\r\n'));
  const bounce = {
    id: nid('f'),
    mailFrom: '',
    recipients: ['alice@example.org'],
    size: dsn.length,
    sha256: sha(dsn),
    senderId: null,
    createdAt: T0 + 802,
    expiresAt: T0 + 6 * 86_400_000,
  };
  await call(store, 'failForward', f2, lease(f2), T0 + 802, '550 gone', {
    forward: bounce,
    body: await stageOld(store, dsn),
  });
  made.forwards.push(bounce.id);
  made.bodies.set(bounce.id, sha(dsn));
  return made;
}

async function digest(s: Readable | null): Promise<string | null> {
  if (!s) return null;
  const h = createHash('sha256');
  for await (const c of s) h.update(c as Buffer);
  return h.digest('hex');
}

/**
 * Everything the port can say about the data, asked through `ask` (the old flat port or today's
 * namespaced one); refs and leases differ by nature and are left out.
 */
async function snapshot(
  ask: (method: string, ...args: unknown[]) => Promise<unknown>,
  made: Made,
  claimAt = T0 + 20_000,
) {
  const messages = [];
  for (const id of made.messages) {
    const deliveries = (await ask('listDeliveries', id)) as { id: string }[];
    const ds = [];
    for (const d of deliveries) {
      const full = (await ask('getDelivery', d.id)) as { message: Record<string, unknown> } | null;
      ds.push({
        d,
        full: full && { ...full, message: { ...full.message, bodyRef: undefined } },
        events: await ask('listEvents', d.id),
        bad: await ask('badSecretCount', d.id, T0 + 500, 3_600_000),
      });
    }
    const m = (await ask('getMessage', id)) as Record<string, unknown>;
    messages.push({
      m: { ...m, bodyRef: undefined },
      ds,
      body: await digest((await ask('openBody', id)) as Readable | null),
      part: await digest(
        (await ask('openBody', id, { start: 1_048_570, end: 1_048_590 })) as Readable | null,
      ),
    });
  }
  const forwards = [];
  for (const id of made.forwards)
    forwards.push({
      f: await ask('getForward', id),
      body: await digest((await ask('openForwardBody', id)) as Readable | null),
    });
  const noLease = <T extends { leaseToken: string }>(xs: T[]) =>
    xs.map(({ leaseToken: _l, ...rest }) => rest);
  return {
    senders: await ask('listSenders'),
    byKey: await Promise.all(made.keys.map((k) => ask('findSenderByApiKeyHash', k))),
    byEmail: await ask('findSenderByEmail', 'bob@example.org'),
    messages,
    forwards,
    mailStats: await ask('mailStats'),
    forwardStats: await ask('forwardStats'),
    local: await ask('listLocalMail', 10),
    directory: await ask('lookupDirectory', 'x@example.com'),
    purgeable: await ask('listPurgeable', T0 + 2000, 10),
    // What the workers pick up next (claimed for 60 s: counts an attempt).
    due: noLease((await ask('claimMail', claimAt, 60_000, 100)) as { id: string; leaseToken: string }[]).sort(
      (x, y) => x.id.localeCompare(y.id),
    ),
    dueForwards: noLease((await ask('claimForwards', claimAt, 60_000, 100)) as { leaseToken: string }[]),
  };
}

type Snapshot = Awaited<ReturnType<typeof snapshot>>;

/**
 * What today's store must say after the old snapshot: the same, except that the old snapshot's
 * claims counted an attempt for each mail and forward they leased (today's snapshot claims them
 * again once those leases ran out).
 */
function afterOldClaims(want: Snapshot): Snapshot {
  const claimed = new Set(want.dueForwards.map((f) => (f as { id: string }).id));
  const bump = <T>(x: T): T => ({ ...x, attempts: (x as { attempts: number }).attempts + 1 });
  return {
    ...want,
    forwards: want.forwards.map((f) =>
      f.f && claimed.has((f.f as { id: string }).id) ? { ...f, f: bump(f.f) } : f,
    ),
    due: want.due.map(bump),
    dueForwards: want.dueForwards.map(bump),
  };
}

/** Claims by today's snapshot: after the old snapshot's 60 s leases ran out. */
const RECLAIM_AT = T0 + 20_000 + 60_001;

/** Today's namespaced port, asked by the old method names. */
function today(store: Store) {
  const s = store;
  const methods: Record<string, (...a: never[]) => Promise<unknown>> = {
    listDeliveries: (id: string) => s.deliveries.listByMessage(id),
    getDelivery: (id: string) => s.deliveries.get(id),
    listEvents: (id: string) => s.deliveries.listEvents(id),
    badSecretCount: (id: string, now: number, w: number) => s.deliveries.badSecretCount(id, now, w),
    getMessage: (id: string) => s.submissions.get(id),
    openBody: (id: string, r?: { start: number; end: number }) => s.submissions.openBody(id, r),
    getForward: (id: string) => s.forwards.get(id),
    openForwardBody: (id: string) => s.forwards.openBody(id),
    listSenders: () => s.senders.list(),
    findSenderByApiKeyHash: (k: string) => s.senders.findByApiKeyHash(k),
    findSenderByEmail: (e: string) => s.senders.findByEmail(e),
    mailStats: () => s.outbox.stats(),
    forwardStats: () => s.forwards.stats(),
    listLocalMail: (l: number) => s.localMail.list(l),
    lookupDirectory: (e: string) => s.directory.lookup(e),
    listPurgeable: (now: number, l: number) => s.retention.listPurgeable(now, l),
    claimMail: (now: number, lease: number, l: number) => s.outbox.claim(now, lease, l),
    claimForwards: (now: number, lease: number, l: number) => s.forwards.claim(now, lease, l),
  };
  return (method: string, ...args: unknown[]) =>
    (methods[method] as unknown as (...a: unknown[]) => Promise<unknown>)(...args);
}

const norm = (text: string | null): string => (text ?? '').toLowerCase().replace(/["`\s]/g, '');

/** Tables, columns, indexes and foreign keys of a SQLite database, comparable across histories. */
async function sqliteSchema(db: Kysely<Database>) {
  const q = async <T>(text: string) => (await sql<T>`${sql.raw(text)}`.execute(db)).rows;
  const tables = await q<{ name: string }>(
    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
  );
  const out: Record<string, unknown> = {};
  for (const { name } of tables) {
    const columns = (
      await q<{ name: string; type: string; notnull: number; pk: number; dflt_value: string | null }>(
        `PRAGMA table_info("${name}")`,
      )
    )
      .map((c) => `${c.name} ${c.type.toLowerCase()} notnull=${c.notnull} pk=${c.pk} default=${c.dflt_value}`)
      .sort();
    const indexes = [];
    for (const i of await q<{ name: string; unique: number; origin: string; partial: number }>(
      `PRAGMA index_list("${name}")`,
    )) {
      const cols = (await q<{ name: string }>(`PRAGMA index_info("${i.name}")`)).map((c) => c.name).join(',');
      const [def] = await q<{ sql: string | null }>(`SELECT sql FROM sqlite_master WHERE name = '${i.name}'`);
      const where = norm(def?.sql ?? null).split('where')[1] ?? '';
      // Automatic indexes of UNIQUE / PRIMARY KEY constraints are named by position; keep their meaning.
      indexes.push(`${i.origin === 'c' ? i.name : i.origin} (${cols}) unique=${i.unique} where=${where}`);
    }
    const fks = (await q<{ table: string; from: string; to: string }>(`PRAGMA foreign_key_list("${name}")`))
      .map((f) => `${f.from} -> ${f.table}.${f.to}`)
      .sort();
    out[name] = { columns, indexes: indexes.sort(), fks };
  }
  return out;
}

/** The same for the PostgreSQL schema the store uses. */
async function postgresSchema(db: Kysely<Database>) {
  const columns = await sql<{
    table_name: string;
    column_name: string;
    data_type: string;
    is_nullable: string;
    column_default: string | null;
  }>`
    SELECT table_name, column_name, data_type, is_nullable, column_default FROM information_schema.columns
    WHERE table_schema = current_schema() ORDER BY table_name, column_name`.execute(db);
  const indexes = await sql<{ indexname: string; indexdef: string }>`
    SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() ORDER BY indexname`.execute(
    db,
  );
  const constraints = await sql<{ conname: string; def: string }>`
    SELECT conname, pg_get_constraintdef(c.oid) AS def FROM pg_constraint c
    JOIN pg_namespace n ON n.oid = c.connamespace WHERE n.nspname = current_schema() ORDER BY conname`.execute(
    db,
  );
  const storage = await sql<{ attname: string; attstorage: string }>`
    SELECT attname, attstorage FROM pg_attribute WHERE attrelid = 'body_chunks'::regclass AND attnum > 0 AND NOT attisdropped
    ORDER BY attname`.execute(db);
  const schemaName = (await sql<{ s: string }>`SELECT current_schema() AS s`.execute(db)).rows[0]!.s;
  return {
    columns: columns.rows.map(
      (c) => `${c.table_name}.${c.column_name} ${c.data_type} ${c.is_nullable} ${c.column_default}`,
    ),
    indexes: indexes.rows.map((i) => i.indexdef.replaceAll(`${schemaName}.`, '')),
    constraints: constraints.rows.map((c) => `${c.conname} ${c.def}`),
    storage: storage.rows.map((a) => `${a.attname} ${a.attstorage}`),
  };
}

describe('upgrade from the first release', () => {
  let old: OldModule;
  const dirs: string[] = [];
  beforeAll(async () => {
    old = await oldRelease();
  }, 60_000);
  afterAll(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('a data folder made by it opens, migrates and keeps every row and body', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sealpost-upgrade-'));
    dirs.push(dir);
    const before = await old.openSqlite(dir);
    const made = await populateOld(before);
    const want = await snapshot((m, ...a) => call(before, m, ...a), made);
    await before.close();

    const after = await openSqliteStore({ dataDir: dir });
    try {
      expect(await after.schemaVersion()).toBe(SCHEMA_VERSION);
      const got = await snapshot(today(after), made, RECLAIM_AT);
      expect(got).toEqual(afterOldClaims(want));
      // Sanity: real data was compared, bodies included.
      expect(want.messages[0]!.body).toBe(made.bodies.get(made.messages[0]!));
      expect(want.messages[1]!.body).toBeNull(); // purged before the upgrade
      expect(want.forwards[0]!.body).toBe(made.bodies.get(made.forwards[0]!));
      expect(want.due.length).toBeGreaterThan(0);
      // Nothing was removed as an orphan: every file still belongs to its row.
      expect(await after.recover()).toEqual({ removedStaged: 0, removedOrphans: 0 });
      // And it works on: a new message with a body, in the upgraded folder.
      const fresh = await mkdtemp(join(tmpdir(), 'sealpost-upgrade-fresh-'));
      dirs.push(fresh);
      const made2 = await openSqliteStore({ dataDir: fresh });
      try {
        expect(await sqliteSchema(after.db.kysely)).toEqual(await sqliteSchema(made2.db.kysely));
      } finally {
        await made2.close();
      }
    } finally {
      await after.close();
    }
  }, 120_000);

  it.skipIf(!hasPg)(
    'a PostgreSQL database made by it opens, migrates and keeps every row and body',
    async () => {
      const legacy = await createTestSchema();
      const freshSchema = await createTestSchema();
      try {
        const before = await old.openPostgres(PG_URL, legacy.schema);
        const made = await populateOld(before);
        const want = await snapshot((m, ...a) => call(before, m, ...a), made);
        await before.close();

        const after = await openPostgresStore({ url: PG_URL, schema: legacy.schema });
        const fresh = await openPostgresStore({ url: PG_URL, schema: freshSchema.schema });
        try {
          expect(await after.schemaVersion()).toBe(SCHEMA_VERSION);
          expect(await snapshot(today(after), made, RECLAIM_AT)).toEqual(afterOldClaims(want));
          expect(want.messages[0]!.body).toBe(made.bodies.get(made.messages[0]!));
          expect(await after.recover()).toEqual({ removedStaged: 0, removedOrphans: 0 });
          expect(await postgresSchema(after.db.kysely)).toEqual(await postgresSchema(fresh.db.kysely));
        } finally {
          await after.close();
          await fresh.close();
        }
      } finally {
        await legacy.drop();
        await freshSchema.drop();
      }
    },
    120_000,
  );
});
