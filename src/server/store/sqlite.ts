/**
 * The embedded store: SQLite (better-sqlite3: WAL, synchronous=FULL) for the metadata, and message
 * bodies as files in the data folder (blob-files.ts). This file holds only what is SQLite's own:
 * opening the database, its side of dialect.ts, and bringing a data folder made by the first
 * release to the one schema.
 */
import Database from 'better-sqlite3';
import {
  CompiledQuery,
  Kysely,
  SqliteDialect,
  SqliteDriver,
  type DatabaseConnection,
  type Driver,
  type SqliteDatabase,
} from 'kysely';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { FileBlobStore } from './blob-files.ts';
import type { Dialect } from './dialect.ts';
import type { Database as Schema } from './schema.ts';
import { createStore, type Store } from './store.ts';

/** SQLite's transactions take the write lock at BEGIN, so two writers queue instead of deadlocking. */
class ImmediateSqliteDriver extends SqliteDriver {
  constructor(
    database: SqliteDatabase,
    private readonly raw: Database.Database,
  ) {
    super({ database });
  }
  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }
  /**
   * SQLite rolls a transaction back by itself when a statement or the commit fails with
   * SQLITE_FULL (a full disk), SQLITE_IOERR or SQLITE_NOMEM; Kysely's ROLLBACK would then fail with
   * "no transaction is active" and hide the real error (a 500 instead of a 507).
   */
  override async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    if (!this.raw.inTransaction) return;
    await super.rollbackTransaction(connection);
  }
}

class ImmediateSqliteDialect extends SqliteDialect {
  constructor(
    private readonly database: SqliteDatabase,
    private readonly raw: Database.Database,
  ) {
    super({ database });
  }
  override createDriver(): Driver {
    return new ImmediateSqliteDriver(this.database, this.raw);
  }
}

/** Prepared statements kept by their SQL (Kysely prepares each query anew otherwise). */
function withStatementCache(db: Database.Database, max = 200): SqliteDatabase {
  const cache = new Map<string, Database.Statement>();
  return {
    close: () => db.close(),
    prepare(text) {
      let statement = cache.get(text);
      if (!statement) {
        statement = db.prepare(text);
        if (cache.size >= max) cache.delete(cache.keys().next().value ?? '');
        cache.set(text, statement);
      }
      return statement;
    },
  };
}

export const sqliteDialect: Dialect = {
  name: 'sqlite',
  isUniqueViolation: (e) =>
    typeof e === 'object' &&
    e !== null &&
    'code' in e &&
    (e.code === 'SQLITE_CONSTRAINT_UNIQUE' || e.code === 'SQLITE_CONSTRAINT_PRIMARYKEY'),
  // BEGIN IMMEDIATE already keeps every other writer out.
  lockForMigration: async () => undefined,
  // Bodies are files in the data folder (blob-files.ts).
  createBodyTables: async () => undefined,
  async convergeLegacy(tx) {
    // The first release named the body's place body_path (a path in the data folder): it is the ref.
    for (const table of await tx.introspection.getTables())
      if (
        (table.name === 'messages' || table.name === 'forward_queue') &&
        table.columns.some((c) => c.name === 'body_path')
      )
        await tx.schema.alterTable(table.name).renameColumn('body_path', 'body_ref').execute();
    // Its indexes that the one schema defines differently (PostgreSQL's were the better ones).
    for (const index of ['outbox_due', 'forward_queue_due', 'messages_purge'])
      await tx.schema.dropIndex(index).ifExists().execute();
  },
};

export interface SqliteStoreOptions {
  dataDir: string;
  /** This node's lasting name (node-id.ts): its leases are marked with it. */
  nodeId?: string;
}

/** Opens (creating when needed) the embedded store in a data folder and migrates its schema. */
export async function openSqliteStore(options: SqliteStoreOptions): Promise<Store> {
  const dataDir = resolve(options.dataDir);
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const db = new Database(join(dataDir, 'sealpost.db'));
  db.pragma('journal_mode = WAL');
  // FULL: a committed transaction survives power loss, not only a process crash.
  db.pragma('synchronous = FULL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  const kysely = new Kysely<Schema>({ dialect: new ImmediateSqliteDialect(withStatementCache(db), db) });
  return createStore({
    kind: 'sqlite',
    kysely,
    dialect: sqliteDialect,
    blobs: await FileBlobStore.open(dataDir),
    ...(options.nodeId ? { nodeId: options.nodeId } : {}),
    close: () => kysely.destroy(),
  });
}
