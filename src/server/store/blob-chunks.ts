/**
 * Bodies as 1 MiB bytea chunk rows in PostgreSQL (the scale-out store), so nodes share no disk.
 *
 * - Writing: a body is staged (a `staged_bodies` row owned by this store instance) and each full
 *   chunk is appended in its own committed statement as the upload arrives (PostgreSQL's commit is
 *   the fsync), so memory stays at one chunk per upload and no connection is held between chunks; a
 *   body under 1 MiB is staged by finish() in one statement. The row's transaction adopts the
 *   staged ref (deletes the staged row), so the chunks belong to the row from its commit on.
 * - Reading: one chunk per query (sliced on the server for ranges), the next one prefetched while
 *   the client reads, so memory stays at about two chunks per download. Chunks travel as base64
 *   text: pg's protocol parser decodes every field as text, and base64 is two thirds the size of
 *   bytea's hex output and twice as fast to fetch. substring() of an EXTERNAL (uncompressed) value
 *   reads only the slice from TOAST.
 * - Staged bodies of a crashed node are dropped when untouched for STALE_STAGED (by recover() at
 *   any node's start, and by sweep() in the purge pass). The staging bookkeeping uses the database
 *   clock, so nodes with skewed clocks agree on staleness.
 */
import { sql, type Kysely, type SqlBool } from 'kysely';
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import type pg from 'pg';
import type { BlobStore, BodyArea, BodyWriter, ByteRange, OwnedBodies, StagedBody } from './blobs.ts';
import type { Database } from './schema.ts';

/** Size of a body chunk row: 1 MiB. */
export const PG_CHUNK_SIZE = 1024 * 1024;
/** A staged body untouched this long belongs to a dead upload (its node crashed). */
export const STALE_STAGED = '1 hour';

/**
 * A chunk (or its slice $3..$3+$4-1, 1-based) as base64 text. Sent through the pg pool itself, not
 * Kysely: this is the one query per MiB of every download, and in a node serving 100 MB downloads
 * the extra layer kept the peak memory ~50 MB higher (test/server/scale.test.ts measures it).
 */
const CHUNK_QUERY = "SELECT encode(data, 'base64') AS data FROM body_chunks WHERE ref = $1 AND seq = $2";
const SLICE_QUERY =
  "SELECT encode(substring(data FROM $3::int FOR $4::int), 'base64') AS data FROM body_chunks WHERE ref = $1 AND seq = $2";

/** The tables of this body store (migration 5 creates them; the first release had the same). */
export async function createChunkTables(tx: Kysely<Database>): Promise<void> {
  await tx.schema
    .createTable('staged_bodies')
    .ifNotExists()
    .addColumn('ref', 'text', (c) => c.primaryKey())
    .addColumn('owner', 'text', (c) => c.notNull())
    .addColumn('size', 'bigint')
    .addColumn('sha256', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('touched_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await tx.schema
    .createTable('body_chunks')
    .ifNotExists()
    .addColumn('ref', 'text', (c) => c.notNull())
    .addColumn('seq', 'integer', (c) => c.notNull())
    .addColumn('data', 'bytea', (c) => c.notNull())
    .addPrimaryKeyConstraint('body_chunks_pkey', ['ref', 'seq'])
    .execute();
  // Chunks are written once and read whole: out of line and uncompressed (ciphertext).
  await sql`ALTER TABLE body_chunks ALTER COLUMN data SET STORAGE EXTERNAL`.execute(tx);
}

class ChunkBodyWriter implements BodyWriter {
  private buf: Buffer = Buffer.allocUnsafe(PG_CHUNK_SIZE);
  private filled = 0;
  private seq = 0;
  private size = 0;
  private readonly hash = createHash('sha256');
  private done = false;
  private finished: StagedBody | null = null;

  constructor(
    private readonly store: ChunkBlobStore,
    private readonly db: Kysely<Database>,
    readonly ref: string,
    private readonly owner: string,
  ) {}

  async write(chunk: Uint8Array): Promise<void> {
    if (this.done) throw new Error('The body writer is closed.');
    this.hash.update(chunk);
    this.size += chunk.byteLength;
    let off = 0;
    while (off < chunk.byteLength) {
      const n = Math.min(PG_CHUNK_SIZE - this.filled, chunk.byteLength - off);
      this.buf.set(chunk.subarray(off, off + n), this.filled);
      this.filled += n;
      off += n;
      if (this.filled === PG_CHUNK_SIZE) await this.put(null);
    }
  }

  /**
   * One statement, one commit: the buffered chunk (if any) with its staged_bodies row — created with
   * the first chunk, afterwards required to still exist (recover() of a restarted owner or the stale
   * sweep may have dropped it, and the body would have a hole). `final` records size and digest.
   */
  private async put(final: { size: number; sha256: string } | null): Promise<void> {
    const data = this.filled > 0 ? this.buf.subarray(0, this.filled) : null;
    const size = final?.size ?? null;
    const sha256 = final?.sha256 ?? null;
    const staged =
      this.seq === 0
        ? sql`INSERT INTO staged_bodies (ref, owner, size, sha256) VALUES (${this.ref}, ${this.owner}, ${size}, ${sha256})
              RETURNING ref`
        : sql`UPDATE staged_bodies SET touched_at = now(), size = COALESCE(${size}, size),
                sha256 = COALESCE(${sha256}, sha256)
              WHERE ref = ${this.ref} AND owner = ${this.owner} RETURNING ref`;
    const r = await (
      data
        ? sql<{ ok: number }>`WITH s AS (${staged})
            INSERT INTO body_chunks (ref, seq, data) SELECT s.ref, ${this.seq}, ${data} FROM s RETURNING 1 AS ok`
        : sql<{ ok: number }>`WITH s AS (${staged}) SELECT 1 AS ok FROM s`
    ).execute(this.db);
    if (r.rows.length !== 1) throw new Error('The staged body was dropped while it was being written.');
    if (data) this.seq++;
    else if (this.seq === 0) this.seq = 1; // the row exists now
    this.filled = 0;
  }

  async finish(): Promise<StagedBody> {
    if (this.finished) return this.finished;
    if (this.done) throw new Error('The body writer is closed.');
    const sha256 = this.hash.digest('hex');
    await this.put({ size: this.size, sha256 });
    // What is committed must be the whole body before anything may acknowledge it: count the
    // chunks and their bytes as stored (octet_length of an out-of-line value reads its header only).
    const stored = await sql<{ n: number; bytes: number }>`SELECT COUNT(*) AS n,
        COALESCE(SUM(octet_length(data)), 0) AS bytes FROM body_chunks WHERE ref = ${this.ref}`.execute(
      this.db,
    );
    const row = stored.rows[0];
    if (!row || Number(row.bytes) !== this.size || Number(row.n) !== Math.ceil(this.size / PG_CHUNK_SIZE))
      throw new Error(
        `The staged body has ${row?.bytes ?? 0} of ${this.size} bytes in the database: it was not stored.`,
      );
    this.done = true;
    this.buf = Buffer.alloc(0);
    this.finished = { ref: this.ref, size: this.size, sha256 };
    return this.finished;
  }

  async abort(): Promise<void> {
    this.done = true;
    this.buf = Buffer.alloc(0);
    await this.store.dropStaged(this.ref);
  }
}

export class ChunkBlobStore implements BlobStore {
  readonly kind = 'chunks';
  /**
   * Owner of the staged bodies this instance writes: the node's lasting name when it has one, so
   * that its restart drops its dead predecessor's half-finished uploads at once (recover()).
   */
  readonly instanceId: string;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly pool: pg.Pool,
    nodeId?: string,
  ) {
    this.instanceId = nodeId ?? randomBytes(9).toString('base64url');
  }

  async createWriter(): Promise<BodyWriter> {
    // The staged row is written with the first chunk (or at finish), so a small body costs one commit.
    return new ChunkBodyWriter(this, this.db, randomBytes(16).toString('hex'), this.instanceId);
  }

  /** Drops a staged body unless a row adopted it already. */
  async dropStaged(ref: string): Promise<void> {
    await sql`WITH s AS (DELETE FROM staged_bodies WHERE ref = ${ref} RETURNING ref)
      DELETE FROM body_chunks WHERE ref IN (SELECT ref FROM s)`.execute(this.db);
  }

  /** The staged ref is the body's ref for good: nothing moves. */
  async place(body: StagedBody): Promise<string> {
    if (!/^[0-9a-f]{32}$/.test(body.ref)) throw new Error('Not a staged body of this store.');
    return body.ref;
  }

  async adopt(tx: Kysely<Database>, body: StagedBody): Promise<void> {
    const claimed = await tx
      .deleteFrom('staged_bodies')
      .where('ref', '=', body.ref)
      .where('size', '=', body.size)
      .where('sha256', '=', body.sha256)
      .returning('ref')
      .execute();
    if (claimed.length !== 1) throw new Error('Not a finished staged body of this store.');
  }

  async discard(body: StagedBody): Promise<void> {
    await this.dropStaged(body.ref).catch(() => undefined);
  }

  async release(tx: Kysely<Database>, refs: readonly string[]): Promise<() => Promise<void>> {
    if (refs.length > 0) await tx.deleteFrom('body_chunks').where('ref', 'in', refs).execute();
    return async () => undefined;
  }

  /**
   * A body as a stream, one chunk query at a time (the stream's buffer holds at most one chunk). The
   * first chunk is fetched before returning, so a body removed meanwhile answers null rather than a
   * stream that breaks at once.
   */
  async open(ref: string, size: number, range?: ByteRange): Promise<Readable | null> {
    const cs = PG_CHUNK_SIZE;
    const start = range ? Math.max(0, range.start) : 0;
    const end = range ? Math.min(range.end, size - 1) : size - 1;
    if (end < start) return Readable.from([]);
    const first = Math.floor(start / cs);
    const last = Math.floor(end / cs);
    const fetchChunk = async (seq: number): Promise<Buffer | null> => {
      const from = seq === first ? start - seq * cs : 0;
      const to = seq === last ? end - seq * cs : cs - 1;
      const whole = from === 0 && to === cs - 1;
      const r = await this.pool.query<{ data: string }>(
        whole ? CHUNK_QUERY : SLICE_QUERY,
        whole ? [ref, seq] : [ref, seq, from + 1, to - from + 1],
      );
      const row = r.rows[0];
      return row ? Buffer.from(row.data, 'base64') : null;
    };
    const head = await fetchChunk(first);
    if (!head) return null;
    // One chunk in the stream's buffer and the next one on its way: the database round trip overlaps
    // the client's reading, and memory stays at about two chunks per download.
    let next = first + 1;
    let pending: Promise<Buffer | null> | null = null;
    const fetchNext = (): void => {
      if (next > last) {
        pending = null;
        return;
      }
      pending = fetchChunk(next++);
      pending.catch(() => undefined); // handled in read(); a destroyed stream may never ask
    };
    let headOut: Buffer | null = head;
    return new Readable({
      highWaterMark: cs,
      read() {
        if (headOut) {
          const b = headOut;
          headOut = null;
          fetchNext();
          this.push(b);
          if (first === last) this.push(null);
          return;
        }
        const p = pending;
        if (!p) {
          this.push(null);
          return;
        }
        const isLast = next > last;
        p.then(
          (b) => {
            if (!b) {
              this.destroy(new Error('The body was removed while it was being read.'));
              return;
            }
            fetchNext();
            this.push(b);
            if (isLast) this.push(null);
          },
          (err: Error) => this.destroy(err),
        );
      },
    });
  }

  /** Drops staged bodies untouched for STALE_STAGED, and (mine) this instance's own. */
  private async dropStale(mine: boolean): Promise<number> {
    const r = await sql<{ n: number }>`WITH s AS (
        DELETE FROM staged_bodies
        WHERE touched_at < now() - ${STALE_STAGED}::interval OR (${mine}::boolean AND owner = ${this.instanceId})
        RETURNING ref),
      c AS (DELETE FROM body_chunks WHERE ref IN (SELECT ref FROM s))
      SELECT COUNT(*) AS n FROM s`.execute(this.db);
    return r.rows[0]?.n ?? 0;
  }

  async recover(
    db: Kysely<Database>,
    owned: OwnedBodies,
  ): Promise<{ removedStaged: number; removedOrphans: number }> {
    const removedStaged = await this.dropStale(true);
    // Chunks that no staged body, stored message or queued forward owns (should not happen: both
    // hand-offs are transactional; kept as a safety net, like the embedded store's orphan files).
    // NOT EXISTS, so that PostgreSQL anti-joins on the ref indexes however many bodies there are.
    const orphan = (area: BodyArea) => sql<SqlBool>`NOT ${owned.owns(db, area, sql.ref('c.ref'))}`;
    const r = await db
      .with('d', (q) =>
        q
          .deleteFrom('body_chunks as c')
          .where(({ not, exists, selectFrom }) =>
            not(exists(selectFrom('staged_bodies as s').select('s.ref').whereRef('s.ref', '=', 'c.ref'))),
          )
          .where(orphan('messages'))
          .where(orphan('relay'))
          .returning('c.ref'),
      )
      .selectFrom('d')
      .select((eb) => eb.fn.count<number>('d.ref').distinct().as('n'))
      .executeTakeFirst();
    return { removedStaged, removedOrphans: r?.n ?? 0 };
  }

  async sweep(): Promise<void> {
    await this.dropStale(false);
  }
}
