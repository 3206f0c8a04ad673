/**
 * Where SQLite and PostgreSQL differ, by name — everything else in src/server/store is written once
 * on Kysely for both. The small differences are the helpers below; what takes more than a line
 * (opening the database, the migration lock, the first release's history) is each dialect's
 * `Dialect`, in sqlite.ts and postgres.ts.
 *
 * What needs no helper: upserts (`ON CONFLICT … DO UPDATE/NOTHING`), `RETURNING`, CTEs, JSON lists
 * (JSON text in both, schema.ts) and booleans (0/1 in, `isSet` out) are the same in both.
 */
import {
  sql,
  type ColumnDataType,
  type CreateTableBuilder,
  type Expression,
  type Kysely,
  type SelectQueryBuilder,
} from 'kysely';
import type { Database } from './schema.ts';

export type DialectName = 'sqlite' | 'postgres';

export interface Dialect {
  readonly name: DialectName;
  /** Did this error come from a unique constraint? */
  isUniqueViolation(e: unknown): boolean;
  /** Holds off every other migrator until the migration transaction `tx` ends. */
  lockForMigration(tx: Kysely<Database>): Promise<void>;
  /** Creates the tables of the dialect's body store, if it keeps bodies in the database. */
  createBodyTables(tx: Kysely<Database>): Promise<void>;
  /**
   * Brings a database made before the one schema (the first release's migrations 1–4, which
   * differed between SQLite and PostgreSQL) to the shape the one schema has, without losing a row;
   * migrations.ts then creates whatever is still missing.
   */
  convergeLegacy(tx: Kysely<Database>): Promise<void>;
}

/** Column types of the one schema. */
const COLUMN_TYPES = {
  /** Epoch milliseconds, sizes and counts. */
  int64: { sqlite: 'integer', postgres: 'bigint' },
  /** Booleans (schema.ts `Flag`). */
  boolean: { sqlite: 'integer', postgres: 'boolean' },
  /** Bytes (sealed outbox payloads). */
  bytes: { sqlite: 'blob', postgres: 'bytea' },
} as const satisfies Record<string, Record<DialectName, ColumnDataType>>;

export function columnTypes(d: Dialect): { [K in keyof typeof COLUMN_TYPES]: ColumnDataType } {
  return {
    int64: COLUMN_TYPES.int64[d.name],
    boolean: COLUMN_TYPES.boolean[d.name],
    bytes: COLUMN_TYPES.bytes[d.name],
  };
}

/** Adds `seq`, an ever-growing integer primary key. */
export function serialKey<T extends string, C extends string>(
  d: Dialect,
  t: CreateTableBuilder<T, C>,
): CreateTableBuilder<T, C | 'seq'> {
  return d.name === 'sqlite'
    ? t.addColumn('seq', 'integer', (c) => c.primaryKey().autoIncrement())
    : t.addColumn('seq', 'bigserial', (c) => c.primaryKey());
}

/** Tables whose rows are listed in insertion order. */
export type OrderedTable = 'deliveries' | 'local_mailbox';

/** Adds what keeps insertion order: nothing in SQLite (its rowid), a `seq` column in PostgreSQL. */
export function insertionOrdered<T extends string, C extends string>(
  d: Dialect,
  t: CreateTableBuilder<T, C>,
): CreateTableBuilder<T, C> {
  return d.name === 'sqlite' ? t : t.addColumn('seq', 'bigserial', (c) => c.unique());
}

/** The insertion order of a table's rows, to sort by. */
export function insertionOrder(d: Dialect, table: OrderedTable): Expression<number> {
  return sql.ref<number>(`${table}.${d.name === 'sqlite' ? 'rowid' : 'seq'}`);
}

/** The columns that keep insertion order, for an index that lists rows in that order. */
export function insertionKey(d: Dialect): string[] {
  return d.name === 'sqlite' ? [] : ['seq'];
}

/**
 * `FOR UPDATE` (rows the transaction changes next) or `FOR UPDATE SKIP LOCKED` (rows another node
 * holds are left to it), so that nodes sharing PostgreSQL split work instead of waiting for each
 * other. SQLite needs no row locks: its write transactions run one at a time (`BEGIN IMMEDIATE`,
 * sqlite.ts).
 */
export function lockRows<DB, TB extends keyof DB, O>(
  d: Dialect,
  qb: SelectQueryBuilder<DB, TB, O>,
  mode: 'wait' | 'skip-locked',
): SelectQueryBuilder<DB, TB, O> {
  if (d.name === 'sqlite') return qb;
  return mode === 'wait' ? qb.forUpdate() : qb.forUpdate().skipLocked();
}
