/**
 * The scale-out store: PostgreSQL (`pg`) for everything — the metadata and the message bodies in
 * 1 MiB chunk rows (blob-chunks.ts) — so any number of server nodes share one database and no
 * disk. This file holds only what is PostgreSQL's own: the connection pool, its side of dialect.ts,
 * and bringing a database made by the first release to the one schema.
 *
 * Nodes work side by side: the workers claim with `FOR UPDATE SKIP LOCKED` and leases, state changes
 * are compare-and-set, and migrations run under an advisory lock (ADR 35).
 */
import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import { ChunkBlobStore, createChunkTables, PG_CHUNK_SIZE } from './blob-chunks.ts';
import type { Dialect } from './dialect.ts';
import type { Database } from './schema.ts';
import { createStore, type Store } from './store.ts';

/** int8 (BIGINT, COUNT, BIGSERIAL) as a JS number: every value here is an epoch ms, a size or a count. */
function int8AsNumber(): pg.TypeOverrides {
  const types = new pg.TypeOverrides();
  types.setTypeParser(pg.types.builtins.INT8, 'text', Number);
  return types;
}

export const postgresDialect: Dialect = {
  name: 'postgres',
  createBodyTables: createChunkTables,
  isUniqueViolation: (e) => typeof e === 'object' && e !== null && 'code' in e && e.code === '23505',
  async lockForMigration(tx) {
    await sql`SELECT pg_advisory_xact_lock(hashtext('sealpost-migrate:' || current_schema()))`.execute(tx);
  },
  async convergeLegacy(tx) {
    const tables = await tx.introspection.getTables();
    const column = (table: string, name: string) =>
      tables.find((t) => t.name === table)?.columns.find((c) => c.name === name);
    for (const table of ['messages', 'forward_queue'] as const) {
      // The first release kept each body's chunk size beside it; it was always PG_CHUNK_SIZE, which
      // blob-chunks.ts assumes now. Refuse rather than lose a body written otherwise.
      if (column(table, 'chunk_size')) {
        const odd = await sql<{ n: number }>`SELECT COUNT(*) AS n FROM ${sql.table(table)}
          WHERE chunk_size <> ${PG_CHUNK_SIZE}`.execute(tx);
        if ((odd.rows[0]?.n ?? 0) > 0)
          throw new Error(`${table} has bodies in chunks other than ${PG_CHUNK_SIZE} bytes: cannot upgrade.`);
        await tx.schema.alterTable(table).dropColumn('chunk_size').execute();
      }
      // The body ref's uniqueness is a named index in the one schema.
      await sql`ALTER TABLE ${sql.table(table)} DROP CONSTRAINT IF EXISTS ${sql.id(`${table}_body_ref_key`)}`.execute(
        tx,
      );
    }
    // Envelope recipients were a text[]; the one schema keeps lists as JSON text.
    if (column('forward_queue', 'recipients')?.dataType === '_text')
      await sql`ALTER TABLE forward_queue ALTER COLUMN recipients TYPE text USING array_to_json(recipients)::text`.execute(
        tx,
      );
  },
};

export interface PostgresStoreOptions {
  /** postgres:// or postgresql:// URL. */
  url: string;
  /** Schema to use (search_path); default: the URL's or the server's default. */
  schema?: string;
  /** Connections per node (default 10). */
  poolSize?: number;
  /** This node's lasting name (node-id.ts): its uploads and leases are marked with it. */
  nodeId?: string;
  /** Called when an idle pooled connection fails (the pool replaces it). */
  onError?: (err: Error) => void;
}

/** Connects, and migrates the schema (under an advisory lock). */
export async function openPostgresStore(options: PostgresStoreOptions): Promise<Store> {
  if (options.schema !== undefined && !/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(options.schema))
    throw new Error('Malformed schema name.');
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.poolSize ?? 10,
    types: int8AsNumber(),
    keepAlive: true,
    // A database that does not answer fails a request with 503 after this, rather than holding it.
    connectionTimeoutMillis: 10_000,
    application_name: 'sealpost',
    // 201/250 promise durability: never let a server-wide synchronous_commit=off weaken a commit.
    options: `-c synchronous_commit=on${options.schema ? ` -c search_path=${options.schema}` : ''}`,
  });
  pool.on('error', (err) => options.onError?.(err));
  // pg-pool listens for errors only on idle clients: a client checked out for a transaction (Kysely
  // holds one from BEGIN to COMMIT) has no 'error' listener, and when PostgreSQL terminates its
  // backend (57P01: pg_terminate_backend, a restart, a failover) the client emits 'error' and the
  // whole node exits on the unhandled event. Every client gets a listener for its whole life; the
  // query in flight fails by itself, and pg-pool drops the client when it is released (not queryable).
  pool.on('connect', (client) => {
    client.on('error', (err) => options.onError?.(err));
  });
  const kysely = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  try {
    return await createStore({
      kind: 'postgres',
      kysely,
      dialect: postgresDialect,
      blobs: new ChunkBlobStore(kysely, pool, options.nodeId),
      ...(options.nodeId ? { nodeId: options.nodeId } : {}),
      close: () => kysely.destroy(),
    });
  } catch (e) {
    await kysely.destroy().catch(() => undefined);
    throw e;
  }
}
