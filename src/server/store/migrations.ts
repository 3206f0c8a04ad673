/**
 * The migrations of the one schema (schema.ts), run by both dialects, recorded in
 * `schema_migrations`. Adding a table is one entry at the end of MIGRATIONS, written once with
 * Kysely's schema builder and the dialect's column types. Never edit a released migration.
 *
 * Versions 1–4 were the first release's, written twice (SQLite and PostgreSQL) and different in
 * places; version 5 creates the one schema in a new database, and brings such an older database to
 * exactly the same shape (the dialect's `convergeLegacy`, then whatever is still missing), keeping
 * every row. test/server/store-upgrade.test.ts checks both on databases made by that release.
 *
 * All pending migrations run in one transaction, after the dialect's migration lock (PostgreSQL: an
 * advisory lock per schema, so N nodes starting together migrate once): a database is at one
 * version or the next, never in between.
 */
import { sql, type CreateTableBuilder, type Kysely } from 'kysely';
import { columnTypes, insertionKey, insertionOrdered, serialKey, type Dialect } from './dialect.ts';
import type { Database } from './schema.ts';

export interface Migration {
  version: number;
  name: string;
  up(tx: Kysely<Database>, d: Dialect): Promise<void>;
}

/** Creates every table and index of the one schema that does not exist yet. */
async function createOneSchema(tx: Kysely<Database>, d: Dialect): Promise<void> {
  const s = tx.schema;
  const { int64, boolean, bytes } = columnTypes(d);
  /** The columns of a work queue's row (outbox, forward queue): its state and its lease. */
  const leased = <T extends string, C extends string>(t: CreateTableBuilder<T, C>) =>
    t
      .addColumn('state', 'text', (c) => c.notNull())
      .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('next_attempt_at', int64, (c) => c.notNull())
      .addColumn('lease_token', 'text')
      .addColumn('lease_until', int64)
      .addColumn('last_error', 'text');
  await s
    .createTable('senders')
    .ifNotExists()
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('email', 'text', (c) => c.notNull())
    .addColumn('api_key_hash', 'text', (c) => c.notNull().unique())
    .addColumn('created_at', int64, (c) => c.notNull())
    .addColumn('revoked_at', int64)
    .execute();
  await s
    .createTable('messages')
    .ifNotExists()
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('sender_id', 'text', (c) => c.notNull().references('senders.id'))
    .addColumn('size', int64, (c) => c.notNull())
    .addColumn('sha256', 'text', (c) => c.notNull())
    .addColumn('protocol', 'text', (c) => c.notNull())
    .addColumn('encrypted', boolean, (c) => c.notNull())
    .addColumn('signed', boolean, (c) => c.notNull())
    .addColumn('content_type', 'text', (c) => c.notNull())
    .addColumn('from_header', 'text')
    .addColumn('subject', 'text', (c) => c.notNull())
    .addColumn('header_date', 'text')
    .addColumn('header_message_id', 'text')
    .addColumn('body_ref', 'text', (c) => c.notNull())
    .addColumn('receipt_requested', boolean, (c) => c.notNull())
    .addColumn('created_at', int64, (c) => c.notNull())
    .addColumn('expires_at', int64, (c) => c.notNull())
    .addColumn('expired_at', int64)
    .addColumn('revoked_at', int64)
    .addColumn('purged_at', int64)
    .execute();
  await insertionOrdered(
    d,
    s
      .createTable('deliveries')
      .ifNotExists()
      .addColumn('id', 'text', (c) => c.primaryKey()),
  )
    .addColumn('message_id', 'text', (c) => c.notNull().references('messages.id'))
    .addColumn('recipient', 'text', (c) => c.notNull())
    .addColumn('secret_hash', 'text', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('created_at', int64, (c) => c.notNull())
    .addColumn('updated_at', int64, (c) => c.notNull())
    .addColumn('bad_secret_count', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('bad_secret_since', int64)
    .execute();
  await serialKey(d, s.createTable('delivery_events').ifNotExists())
    .addColumn('delivery_id', 'text', (c) => c.notNull().references('deliveries.id'))
    .addColumn('at', int64, (c) => c.notNull())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('detail', 'text')
    .execute();
  await s
    .createTable('outbox')
    .ifNotExists()
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('delivery_id', 'text', (c) => c.notNull().references('deliveries.id'))
    .addColumn('recipient', 'text', (c) => c.notNull())
    .addColumn('payload', bytes)
    .$call(leased)
    .addColumn('created_at', int64, (c) => c.notNull())
    .addColumn('done_at', int64)
    .execute();
  await insertionOrdered(
    d,
    s
      .createTable('local_mailbox')
      .ifNotExists()
      .addColumn('id', 'text', (c) => c.primaryKey()),
  )
    .addColumn('to_addr', 'text', (c) => c.notNull())
    .addColumn('subject', 'text', (c) => c.notNull())
    .addColumn('text', 'text', (c) => c.notNull())
    .addColumn('html', 'text', (c) => c.notNull())
    .addColumn('created_at', int64, (c) => c.notNull())
    .execute();
  await s
    .createTable('directory')
    .ifNotExists()
    .addColumn('email', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('data', 'text', (c) => c.notNull())
    .addColumn('fingerprint', 'text', (c) => c.notNull())
    .addColumn('delivery_id', 'text', (c) => c.notNull())
    .addColumn('published_at', int64, (c) => c.notNull())
    .addPrimaryKeyConstraint('directory_pkey', ['email', 'kind'])
    .execute();
  await s
    .createTable('forward_queue')
    .ifNotExists()
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('mail_from', 'text', (c) => c.notNull())
    .addColumn('recipients', 'text', (c) => c.notNull())
    .addColumn('size', int64, (c) => c.notNull())
    .addColumn('sha256', 'text', (c) => c.notNull())
    .addColumn('sender_id', 'text', (c) => c.references('senders.id'))
    .addColumn('body_ref', 'text')
    .$call(leased)
    .addColumn('created_at', int64, (c) => c.notNull())
    .addColumn('expires_at', int64, (c) => c.notNull())
    .addColumn('done_at', int64)
    .execute();
  await d.createBodyTables(tx);

  const index = (name: string) => s.createIndex(name).ifNotExists();
  const queued = sql<boolean>`state = 'queued'`;
  const done = sql<boolean>`done_at IS NOT NULL`;
  await index('senders_active_email')
    .unique()
    .on('senders')
    .column('email')
    .where(sql.ref('revoked_at'), 'is', null)
    .execute();
  await index('messages_body_ref').unique().on('messages').column('body_ref').execute();
  await index('messages_expiry')
    .on('messages')
    .column('expires_at')
    .where(sql<boolean>`expired_at IS NULL AND revoked_at IS NULL`)
    .execute();
  await index('messages_purge')
    .on('messages')
    .column('expires_at')
    .where(sql.ref('purged_at'), 'is', null)
    .execute();
  await index('messages_revoked_unpurged')
    .on('messages')
    .column('revoked_at')
    .where(sql<boolean>`purged_at IS NULL AND revoked_at IS NOT NULL`)
    .execute();
  await index('deliveries_message')
    .on('deliveries')
    .columns(['message_id', ...insertionKey(d)])
    .execute();
  await index('delivery_events_delivery').on('delivery_events').columns(['delivery_id', 'seq']).execute();
  // Due mail, oldest first; per delivery (revocation and expiry cancel its notifications); counts by
  // state and the oldest queued (every /metrics scrape); finished rows by age (the retention pass).
  await index('outbox_due').on('outbox').columns(['next_attempt_at', 'created_at']).where(queued).execute();
  await index('outbox_delivery').on('outbox').column('delivery_id').execute();
  await index('outbox_state_created').on('outbox').columns(['state', 'created_at']).execute();
  await index('outbox_done').on('outbox').column('done_at').where(done).execute();
  await index('forward_queue_body_ref').unique().on('forward_queue').column('body_ref').execute();
  await index('forward_queue_due')
    .on('forward_queue')
    .columns(['next_attempt_at', 'created_at'])
    .where(queued)
    .execute();
  await index('forward_queue_state_created').on('forward_queue').columns(['state', 'created_at']).execute();
  await index('forward_queue_done').on('forward_queue').column('done_at').where(done).execute();
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 5,
    name: 'one schema for SQLite and PostgreSQL',
    async up(tx, d) {
      const before = await tx
        .selectFrom('schema_migrations')
        .select((eb) => eb.fn.max('version').as('v'))
        .executeTakeFirst();
      if ((before?.v ?? 0) > 0) await d.convergeLegacy(tx);
      await createOneSchema(tx, d);
    },
  },
  {
    version: 6,
    name: 'counters in fixed windows (wrong link secrets per client)',
    async up(tx, d) {
      const { int64 } = columnTypes(d);
      await tx.schema
        .createTable('counters')
        .ifNotExists()
        .addColumn('key', 'text', (c) => c.primaryKey())
        .addColumn('count', 'integer', (c) => c.notNull())
        .addColumn('window_start', int64, (c) => c.notNull())
        .execute();
      await tx.schema
        .createIndex('counters_window_start')
        .ifNotExists()
        .on('counters')
        .column('window_start')
        .execute();
    },
  },
  {
    version: 7,
    name: 'Web Key Service: submission keys and pending publication requests',
    async up(tx, d) {
      const { int64, bytes } = columnTypes(d);
      await tx.schema
        .createTable('wks_keys')
        .ifNotExists()
        .addColumn('domain', 'text', (c) => c.primaryKey())
        .addColumn('fingerprint', 'text', (c) => c.notNull())
        .addColumn('public_key', 'text', (c) => c.notNull())
        .addColumn('private_key', bytes, (c) => c.notNull())
        .addColumn('created_at', int64, (c) => c.notNull())
        .execute();
      await tx.schema
        .createTable('wks_pending')
        .ifNotExists()
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('email', 'text', (c) => c.notNull())
        .addColumn('fingerprint', 'text', (c) => c.notNull())
        .addColumn('key_data', 'text', (c) => c.notNull())
        .addColumn('created_at', int64, (c) => c.notNull())
        .addColumn('expires_at', int64, (c) => c.notNull())
        .execute();
      await tx.schema
        .createIndex('wks_pending_expires')
        .ifNotExists()
        .on('wks_pending')
        .column('expires_at')
        .execute();
    },
  },
];

/** The schema version this code writes and reads. */
export const SCHEMA_VERSION = MIGRATIONS.reduce((v, m) => Math.max(v, m.version), 0);

/** Runs the pending migrations (idempotent); refuses a database newer than this code. */
export async function migrate(db: Kysely<Database>, d: Dialect): Promise<void> {
  await db.transaction().execute(async (tx) => {
    await d.lockForMigration(tx);
    await tx.schema
      .createTable('schema_migrations')
      .ifNotExists()
      .addColumn('version', 'integer', (c) => c.primaryKey())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('applied_at', columnTypes(d).int64, (c) => c.notNull())
      .execute();
    const applied = new Set(
      (await tx.selectFrom('schema_migrations').select('version').execute()).map((r) => r.version),
    );
    const newest = Math.max(0, ...applied);
    if (newest > SCHEMA_VERSION)
      throw new Error(
        `The store has schema version ${newest}; this sealpost knows ${SCHEMA_VERSION}: run a newer sealpost.`,
      );
    for (const m of MIGRATIONS) {
      if (applied.has(m.version)) continue;
      await m.up(tx, d);
      await tx
        .insertInto('schema_migrations')
        .values({ version: m.version, name: m.name, applied_at: Date.now() })
        .execute();
    }
  });
}

/** The newest applied schema version (0 for an empty database). */
export async function schemaVersion(db: Kysely<Database>): Promise<number> {
  const r = await db
    .selectFrom('schema_migrations')
    .select((eb) => eb.fn.max('version').as('v'))
    .executeTakeFirst();
  return r?.v ?? 0;
}
