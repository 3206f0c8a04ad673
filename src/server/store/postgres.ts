/**
 * The scale-out Store: PostgreSQL (`pg`) for everything — metadata, the notification outbox, the
 * directory, and the message bodies themselves in 1 MiB bytea chunks — so any number of server
 * nodes can share one database and no disk.
 *
 * - Bodies: a BodyWriter stages a body (a `staged_bodies` row owned by this store instance) and
 *   appends each full 1 MiB chunk in its own committed statement as the upload arrives (PostgreSQL's
 *   commit is the fsync), so memory stays at one chunk per upload and no connection is held between
 *   chunks; a body under 1 MiB is staged by finish() in one statement. `createMessage` turns the staged ref into a `messages` row in one transaction
 *   with the deliveries, events and mails. Reads fetch one chunk per query (sliced on the
 *   server for ranges), one chunk ahead at most.
 * - Workers on every node: `claimMail` leases due mails with FOR UPDATE SKIP LOCKED; `expireDue`
 *   takes its messages with SKIP LOCKED; `purgeBody` locks the message row (SKIP LOCKED) so two
 *   nodes never delete the same body twice. Compare-and-set transitions rely on row locks.
 * - History retention (`pruneHistory`): finished outbox mails and forwards are deleted in batches
 *   of rows locked with SKIP LOCKED, so nodes pruning at the same time never wait for each other.
 * - Staged bodies of a crashed node are dropped when untouched for STALE_STAGED (by `recover()` at
 *   any node's start, and by the purge pass through `expireDue`).
 * - Times are the callers' epoch milliseconds (BIGINT), except the staging bookkeeping, which uses
 *   the database clock so nodes with skewed clocks agree on staleness.
 */
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import pg from 'pg';
import { POSTGRES_MIGRATIONS } from './postgres-migrations.ts';
import {
  StoreConflictError,
  type BodyWriter,
  type ByteRange,
  type DeliveryEvent,
  type DeliveryRecord,
  type DeliveryState,
  type DeliveryWithMessage,
  type DirectoryEntry,
  type ForwardItem,
  type ForwardRecord,
  type ForwardState,
  type ForwardStats,
  type LocalMail,
  type MailItem,
  type MailStats,
  type MessageRecord,
  type NewMail,
  type NewForward,
  type NewMessage,
  type PrunedHistory,
  type SenderRecord,
  type StagedBody,
  type Store,
  type TransitionInput,
} from './port.ts';
import { deliveryFromRow, forwardFromRow, messageFromRow, senderFromRow, type Row } from './rows.ts';

/** Size of a body chunk row: 1 MiB. */
export const PG_CHUNK_SIZE = 1024 * 1024;
/** A staged body untouched this long belongs to a dead upload (its node crashed). */
export const STALE_STAGED = '1 hour';

type Queryable = pg.Pool | pg.PoolClient;

const INT8 = 20;

/** int8 (BIGINT, COUNT, BIGSERIAL) as a JS number: every value here is an epoch ms or a count. */
const TYPES = {
  getTypeParser(oid: number, format?: string) {
    if (oid === INT8 && format !== 'binary') return (v: string) => Number(v);
    return pg.types.getTypeParser(oid, format as 'text');
  },
} as unknown as pg.CustomTypesConfig;

/**
 * A body chunk (or the slice $n, $n+1 = 1-based start and length) as base64 text: pg's protocol
 * parser decodes every field as UTF-8, so binary results would corrupt bytea, and base64 is two thirds
 * the size of bytea's hex output and twice as fast to fetch. substring() of an EXTERNAL
 * (uncompressed) value reads only the slice from TOAST.
 */
function chunkExpr(column: string, whole: boolean, n = 3): string {
  return whole
    ? `encode(${column}, 'base64')`
    : `encode(substring(${column} FROM $${n} FOR $${n + 1}), 'base64')`;
}

/**
 * The queries read on every /metrics scrape and by the retention pass: each an index range scan
 * (migration 4; store-postgres.test.ts checks the plans), never a pass over the whole table.
 */
export const PG_INDEXED_QUERIES = {
  mailStats: `SELECT (SELECT COUNT(*) FROM outbox WHERE state = 'queued') AS queued,
            (SELECT COUNT(*) FROM outbox WHERE state = 'sent') AS sent,
            (SELECT COUNT(*) FROM outbox WHERE state = 'failed') AS failed,
            (SELECT COUNT(*) FROM outbox WHERE state = 'cancelled') AS cancelled,
            (SELECT MIN(created_at) FROM outbox WHERE state = 'queued') AS oldest`,
  forwardStats: `SELECT (SELECT COUNT(*) FROM forward_queue WHERE state = 'queued') AS queued,
            (SELECT COUNT(*) FROM forward_queue WHERE state = 'sent') AS sent,
            (SELECT COUNT(*) FROM forward_queue WHERE state = 'failed') AS failed,
            (SELECT MIN(created_at) FROM forward_queue WHERE state = 'queued') AS oldest`,
  pruneMails: `DELETE FROM outbox WHERE id IN (
       SELECT id FROM outbox
       WHERE done_at IS NOT NULL AND done_at < $1 AND state IN ('sent', 'failed', 'cancelled')
       ORDER BY done_at LIMIT $2
       FOR UPDATE SKIP LOCKED)`,
  pruneForwards: `DELETE FROM forward_queue WHERE id IN (
       SELECT id FROM forward_queue
       WHERE done_at IS NOT NULL AND done_at < $1 AND state IN ('sent', 'failed')
       ORDER BY done_at LIMIT $2
       FOR UPDATE SKIP LOCKED)
     RETURNING body_ref`,
} as const;

const MESSAGE_SELECT = `SELECT m.*, s.email AS sender_email FROM messages m JOIN senders s ON s.id = m.sender_id`;

class PgBodyWriter implements BodyWriter {
  private buf: Buffer = Buffer.allocUnsafe(PG_CHUNK_SIZE);
  private filled = 0;
  private seq = 0;
  private size = 0;
  private readonly hash = createHash('sha256');
  private done = false;
  private finished: StagedBody | null = null;

  constructor(
    private readonly pool: pg.Pool,
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
    const staged =
      this.seq === 0
        ? `INSERT INTO staged_bodies (ref, owner, size, sha256) VALUES ($1, $2, $3, $4) RETURNING ref`
        : `UPDATE staged_bodies SET touched_at = now(), size = COALESCE($3, size), sha256 = COALESCE($4, sha256)
           WHERE ref = $1 AND owner = $2 RETURNING ref`;
    const r = await this.pool.query(
      data
        ? `WITH s AS (${staged}) INSERT INTO body_chunks (ref, seq, data) SELECT s.ref, $5, $6 FROM s RETURNING 1`
        : `WITH s AS (${staged}) SELECT 1 FROM s`,
      [this.ref, this.owner, final?.size ?? null, final?.sha256 ?? null, ...(data ? [this.seq, data] : [])],
    );
    if (r.rowCount !== 1) throw new Error('The staged body was dropped while it was being written.');
    if (data) this.seq++;
    else if (this.seq === 0) this.seq = 1; // the row exists now
    this.filled = 0;
  }

  async finish(): Promise<StagedBody> {
    if (this.finished) return this.finished;
    if (this.done) throw new Error('The body writer is closed.');
    const sha256 = this.hash.digest('hex');
    await this.put({ size: this.size, sha256 });
    this.done = true;
    this.buf = Buffer.alloc(0);
    this.finished = { ref: this.ref, size: this.size, sha256 };
    return this.finished;
  }

  async abort(): Promise<void> {
    this.done = true;
    this.buf = Buffer.alloc(0);
    await discardStaged(this.pool, this.ref);
  }
}

/** Drops a staged body unless a message already owns it. */
async function discardStaged(db: Queryable, ref: string): Promise<void> {
  await db.query(
    `WITH s AS (DELETE FROM staged_bodies WHERE ref = $1 RETURNING ref)
     DELETE FROM body_chunks WHERE ref IN (SELECT ref FROM s)`,
    [ref],
  );
}

export interface PostgresStoreOptions {
  /** postgres:// or postgresql:// URL. */
  url: string;
  /** Schema to use (search_path); default: the URL's or the server's default. */
  schema?: string;
  /** Connections per node (default 10). */
  poolSize?: number;
  /** Called when an idle pooled connection fails (the pool replaces it). */
  onError?: (err: Error) => void;
}

export class PostgresStore implements Store {
  readonly kind = 'postgres';
  /** Owner of the staged bodies this instance writes. */
  readonly instanceId = randomBytes(9).toString('base64url');
  private readonly pool: pg.Pool;
  private closed = false;

  private constructor(pool: pg.Pool) {
    this.pool = pool;
  }

  /** Connects, and migrates the schema (under an advisory lock). */
  static async open(options: PostgresStoreOptions): Promise<PostgresStore> {
    if (options.schema !== undefined && !/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(options.schema))
      throw new Error('Malformed schema name.');
    const pool = new pg.Pool({
      connectionString: options.url,
      max: options.poolSize ?? 10,
      types: TYPES,
      keepAlive: true,
      connectionTimeoutMillis: 30_000,
      application_name: 'sealpost',
      // 201/250 promise durability: never let a server-wide synchronous_commit=off weaken a commit.
      options: `-c synchronous_commit=on${options.schema ? ` -c search_path=${options.schema}` : ''}`,
    });
    pool.on('error', (err) => options.onError?.(err));
    const store = new PostgresStore(pool);
    try {
      await store.migrate();
    } catch (e) {
      await pool.end().catch(() => undefined);
      throw e;
    }
    return store;
  }

  private async tx<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    const c = await this.pool.connect();
    let broken: Error | undefined;
    try {
      await c.query('BEGIN');
      const r = await fn(c);
      await c.query('COMMIT');
      return r;
    } catch (e) {
      await c.query('ROLLBACK').catch((err: Error) => {
        broken = err;
      });
      throw e;
    } finally {
      c.release(broken);
    }
  }

  async migrate(): Promise<void> {
    const c = await this.pool.connect();
    let broken: Error | undefined;
    try {
      // One migrator per schema at a time, across all nodes starting together.
      await c.query(`SELECT pg_advisory_lock(hashtext('sealpost-migrate:' || current_schema()))`);
      try {
        await c.query(
          'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)',
        );
        const applied = new Set(
          (await c.query('SELECT version FROM schema_migrations')).rows.map((r: Row) => r.version as number),
        );
        for (const m of POSTGRES_MIGRATIONS) {
          if (applied.has(m.version)) continue;
          await c.query('BEGIN');
          try {
            await c.query(m.sql);
            await c.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [
              m.version,
              m.name,
              Date.now(),
            ]);
            await c.query('COMMIT');
          } catch (e) {
            await c.query('ROLLBACK').catch(() => undefined);
            throw e;
          }
        }
      } finally {
        await c.query(`SELECT pg_advisory_unlock(hashtext('sealpost-migrate:' || current_schema()))`);
      }
    } catch (e) {
      broken = e as Error;
      throw e;
    } finally {
      c.release(broken);
    }
  }

  /** The newest applied schema version. */
  async schemaVersion(): Promise<number> {
    const r = await this.pool.query('SELECT MAX(version) AS v FROM schema_migrations');
    return (r.rows[0]?.v as number | null) ?? 0;
  }

  async recover(): Promise<{ removedStaged: number; removedOrphans: number }> {
    const removedStaged = await this.dropStaleStaged(true);
    // Chunks that no staged body, stored message or queued forward owns (should not happen: both hand-offs
    // are transactional; kept as a safety net, like the embedded store's orphan files).
    const r = await this.pool.query(
      `WITH d AS (
         DELETE FROM body_chunks c
         WHERE NOT EXISTS (SELECT 1 FROM staged_bodies s WHERE s.ref = c.ref)
           AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.body_ref = c.ref AND m.purged_at IS NULL)
           AND NOT EXISTS (SELECT 1 FROM forward_queue f WHERE f.body_ref = c.ref)
         RETURNING c.ref)
       SELECT COUNT(DISTINCT ref) AS n FROM d`,
    );
    return { removedStaged, removedOrphans: (r.rows[0]?.n as number | undefined) ?? 0 };
  }

  /** Drops staged bodies untouched for STALE_STAGED, and (mine) this instance's own. */
  private async dropStaleStaged(mine: boolean): Promise<number> {
    const r = await this.pool.query(
      `WITH s AS (
         DELETE FROM staged_bodies
         WHERE touched_at < now() - interval '${STALE_STAGED}' OR ($1 AND owner = $2)
         RETURNING ref),
       c AS (DELETE FROM body_chunks WHERE ref IN (SELECT ref FROM s))
       SELECT COUNT(*) AS n FROM s`,
      [mine, this.instanceId],
    );
    return (r.rows[0]?.n as number | undefined) ?? 0;
  }

  async ping(): Promise<void> {
    await this.pool.query('SELECT 1');
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }

  // --- senders

  async addSender(input: {
    id: string;
    email: string;
    apiKeyHash: string;
    at: number;
  }): Promise<SenderRecord> {
    try {
      await this.pool.query(
        'INSERT INTO senders (id, email, api_key_hash, created_at) VALUES ($1, $2, $3, $4)',
        [input.id, input.email, input.apiKeyHash, input.at],
      );
    } catch (e) {
      if ((e as { code?: string }).code === '23505')
        throw new StoreConflictError(`A sender with the address ${input.email} already exists.`);
      throw e;
    }
    return { id: input.id, email: input.email, createdAt: input.at, revokedAt: null };
  }

  async listSenders(): Promise<SenderRecord[]> {
    return (await this.pool.query('SELECT * FROM senders ORDER BY created_at, email')).rows.map(
      senderFromRow,
    );
  }

  async revokeSender(email: string, at: number): Promise<boolean> {
    const r = await this.pool.query(
      'UPDATE senders SET revoked_at = $1 WHERE email = $2 AND revoked_at IS NULL',
      [at, email],
    );
    return (r.rowCount ?? 0) > 0;
  }

  async findSenderByApiKeyHash(hash: string): Promise<SenderRecord | null> {
    const r = await this.pool.query('SELECT * FROM senders WHERE api_key_hash = $1 AND revoked_at IS NULL', [
      hash,
    ]);
    return r.rows[0] ? senderFromRow(r.rows[0] as Row) : null;
  }

  async findSenderByEmail(email: string): Promise<SenderRecord | null> {
    const r = await this.pool.query('SELECT * FROM senders WHERE email = $1 AND revoked_at IS NULL', [
      email.toLowerCase(),
    ]);
    return r.rows[0] ? senderFromRow(r.rows[0] as Row) : null;
  }

  // --- bodies and messages

  async createBodyWriter(): Promise<BodyWriter> {
    // The staged row is written with the first chunk (or at finish), so a small body costs one commit.
    return new PgBodyWriter(this.pool, randomBytes(16).toString('hex'), this.instanceId);
  }

  async createMessage(input: NewMessage, body: StagedBody): Promise<void> {
    try {
      if (body.size !== input.size || body.sha256 !== input.sha256)
        throw new Error('The staged body does not match the message metadata.');
      await this.tx(async (c) => {
        const staged = await c.query(
          'DELETE FROM staged_bodies WHERE ref = $1 AND size = $2 AND sha256 = $3 RETURNING ref',
          [body.ref, body.size, body.sha256],
        );
        if (staged.rowCount !== 1) throw new Error('Not a finished staged body of this store.');
        await c.query(
          `INSERT INTO messages (id, sender_id, size, sha256, protocol, encrypted, signed, content_type,
             from_header, subject, header_date, header_message_id, body_ref, chunk_size, receipt_requested,
             created_at, expires_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)`,
          [
            input.id,
            input.senderId,
            input.size,
            input.sha256,
            input.protocol,
            input.encrypted,
            input.signed,
            input.contentType,
            input.fromHeader,
            input.subject,
            input.headerDate,
            input.headerMessageId,
            body.ref,
            PG_CHUNK_SIZE,
            input.receiptRequested,
            input.createdAt,
            input.expiresAt,
          ],
        );
        if (input.deliveries.length > 0) {
          await c.query(
            `INSERT INTO deliveries (id, message_id, recipient, secret_hash, state, created_at, updated_at)
             SELECT d.id, $1, d.recipient, d.secret_hash, 'pending', $5, $5
             FROM unnest($2::text[], $3::text[], $4::text[]) WITH ORDINALITY AS d(id, recipient, secret_hash, ord)
             ORDER BY d.ord`,
            [
              input.id,
              input.deliveries.map((d) => d.id),
              input.deliveries.map((d) => d.recipient),
              input.deliveries.map((d) => d.secretHash),
              input.createdAt,
            ],
          );
          await c.query(
            `INSERT INTO delivery_events (delivery_id, at, type, detail)
             SELECT d.id, $2, 'created', NULL FROM unnest($1::text[]) WITH ORDINALITY AS d(id, ord) ORDER BY d.ord`,
            [input.deliveries.map((d) => d.id), input.createdAt],
          );
        }
        await this.insertMails(c, input.mails, input.createdAt);
      });
    } catch (e) {
      await discardStaged(this.pool, body.ref).catch(() => undefined);
      throw e;
    }
  }

  private async insertEvent(
    db: Queryable,
    deliveryId: string,
    type: string,
    detail: string | null,
    at: number,
  ): Promise<void> {
    await db.query('INSERT INTO delivery_events (delivery_id, at, type, detail) VALUES ($1, $2, $3, $4)', [
      deliveryId,
      at,
      type,
      detail,
    ]);
  }

  private async insertMails(db: Queryable, mails: NewMail[], at: number): Promise<void> {
    if (mails.length === 0) return;
    await db.query(
      `INSERT INTO outbox (id, kind, delivery_id, recipient, payload, state, next_attempt_at, created_at)
       SELECT m.id, m.kind, m.delivery_id, m.recipient, m.payload, 'queued', m.not_before, $7
       FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bytea[], $6::bigint[])
         AS m(id, kind, delivery_id, recipient, payload, not_before)`,
      [
        mails.map((m) => m.id),
        mails.map((m) => m.kind),
        mails.map((m) => m.deliveryId),
        mails.map((m) => m.recipient),
        mails.map((m) => (m.payload ? Buffer.from(m.payload) : null)),
        mails.map((m) => m.notBefore ?? at),
        at,
      ],
    );
  }

  async getMessage(id: string): Promise<MessageRecord | null> {
    const r = await this.pool.query(`${MESSAGE_SELECT} WHERE m.id = $1`, [id]);
    return r.rows[0] ? messageFromRow(r.rows[0] as Row) : null;
  }

  async listDeliveries(messageId: string): Promise<DeliveryRecord[]> {
    return (
      await this.pool.query('SELECT * FROM deliveries WHERE message_id = $1 ORDER BY seq', [messageId])
    ).rows.map(deliveryFromRow);
  }

  async listEvents(deliveryId: string): Promise<DeliveryEvent[]> {
    return (
      await this.pool.query(
        'SELECT at, type, detail FROM delivery_events WHERE delivery_id = $1 ORDER BY seq',
        [deliveryId],
      )
    ).rows.map((r: Row) => ({
      at: r.at as number,
      type: r.type as string,
      detail: (r.detail as string | null) ?? null,
    }));
  }

  async getDelivery(id: string): Promise<DeliveryWithMessage | null> {
    const r = await this.pool.query(
      `SELECT d.id AS d_id, d.message_id AS d_message_id, d.recipient AS d_recipient, d.state AS d_state,
         d.created_at AS d_created_at, d.updated_at AS d_updated_at, d.secret_hash AS d_secret_hash,
         m.*, s.email AS sender_email
       FROM deliveries d JOIN messages m ON m.id = d.message_id JOIN senders s ON s.id = m.sender_id
       WHERE d.id = $1`,
      [id],
    );
    const row = r.rows[0] as Row | undefined;
    if (!row) return null;
    return {
      delivery: {
        id: row.d_id as string,
        messageId: row.d_message_id as string,
        recipient: row.d_recipient as string,
        state: row.d_state as DeliveryState,
        createdAt: row.d_created_at as number,
        updatedAt: row.d_updated_at as number,
      },
      secretHash: row.d_secret_hash as string,
      message: messageFromRow(row),
    };
  }

  async openBody(messageId: string, range?: ByteRange): Promise<Readable | null> {
    // One round trip for the metadata and the first chunk (its slice), assuming today's chunk size;
    // a body written with another chunk size takes the general path.
    const cs = PG_CHUNK_SIZE;
    const start = range ? Math.max(0, range.start) : 0;
    const first = Math.floor(start / cs);
    const from = start - first * cs;
    const to = range ? Math.min(range.end - first * cs, cs - 1) : cs - 1;
    const r = await this.pool.query(
      `SELECT m.body_ref, m.chunk_size, m.size, m.purged_at, ${chunkExpr('c.data', from === 0 && to === cs - 1, 3)} AS data
       FROM messages m LEFT JOIN body_chunks c ON c.ref = m.body_ref AND c.seq = $2
       WHERE m.id = $1`,
      from === 0 && to === cs - 1
        ? [messageId, first]
        : [messageId, first, from + 1, Math.max(0, to - from + 1)],
    );
    const row = r.rows[0] as Row | undefined;
    if (!row || row.purged_at !== null) return null;
    const ref = row.body_ref as string;
    const size = row.size as number;
    if (row.chunk_size !== cs) return this.streamChunks(ref, row.chunk_size as number, size, range);
    const data = row.data as string | null;
    return this.streamChunks(ref, cs, size, range, data === null ? null : Buffer.from(data, 'base64'));
  }

  /**
   * A body as a stream, one chunk query at a time (the stream's buffer holds at most one chunk). The
   * first chunk is fetched before returning, so a body removed meanwhile answers null rather than a
   * stream that breaks at once.
   */
  private async streamChunks(
    ref: string,
    cs: number,
    size: number,
    range?: ByteRange,
    /** The first chunk's slice, when the caller fetched it already. */
    prefetched?: Buffer | null,
  ): Promise<Readable | null> {
    const start = range ? Math.max(0, range.start) : 0;
    const end = range ? Math.min(range.end, size - 1) : size - 1;
    if (end < start) return Readable.from([]);
    const first = Math.floor(start / cs);
    const last = Math.floor(end / cs);
    const fetchChunk = async (seq: number): Promise<Buffer | null> => {
      const from = seq === first ? start - seq * cs : 0;
      const to = seq === last ? end - seq * cs : cs - 1;
      const q = await this.pool.query(
        `SELECT ${chunkExpr('data', from === 0 && to === cs - 1)} AS data FROM body_chunks WHERE ref = $1 AND seq = $2`,
        from === 0 && to === cs - 1 ? [ref, seq] : [ref, seq, from + 1, to - from + 1],
      );
      const text = q.rows[0]?.data as string | null | undefined;
      return text == null ? null : Buffer.from(text, 'base64');
    };
    const head = prefetched === undefined ? await fetchChunk(first) : prefetched;
    if (!head) return null;
    // One chunk in the stream's buffer and the next one on its way: the database round trip overlaps
    // the client's reading, and memory stays at about two chunks per download.
    let next: number = first + 1;
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

  // --- delivery states

  async transition(input: TransitionInput): Promise<boolean> {
    if (input.from.length === 0) return false;
    if (input.enqueue && input.enqueue.length > 0) return this.tx((c) => this.transitionIn(c, input));
    // Without mails to queue: the compare-and-set and its event in one statement.
    const r = await this.pool.query(
      `WITH u AS (
         UPDATE deliveries SET state = $1, updated_at = $2 WHERE id = $3 AND state = ANY($4::text[]) RETURNING id)
       INSERT INTO delivery_events (delivery_id, at, type, detail) SELECT u.id, $2, $5, $6 FROM u`,
      [input.to, input.at, input.deliveryId, [...input.from], input.event, input.detail ?? null],
    );
    return (r.rowCount ?? 0) > 0;
  }

  private async transitionIn(c: Queryable, input: TransitionInput): Promise<boolean> {
    if (input.from.length === 0) return false;
    const r = await c.query(
      'UPDATE deliveries SET state = $1, updated_at = $2 WHERE id = $3 AND state = ANY($4::text[])',
      [input.to, input.at, input.deliveryId, [...input.from]],
    );
    const changed = (r.rowCount ?? 0) > 0;
    if (changed) {
      await this.insertEvent(c, input.deliveryId, input.event, input.detail ?? null, input.at);
      if (input.enqueue) await this.insertMails(c, input.enqueue, input.at);
    }
    return changed;
  }

  async addEvent(deliveryId: string, type: string, detail: string | null, at: number): Promise<void> {
    await this.insertEvent(this.pool, deliveryId, type, detail, at);
  }

  /** Ends the deliveries of a message (revoked or expired); processed ones only get the event. */
  private async endDeliveries(
    c: pg.PoolClient,
    messageId: string,
    to: 'revoked' | 'expired',
    at: number,
  ): Promise<void> {
    const rows = (
      await c.query('SELECT id, state FROM deliveries WHERE message_id = $1 ORDER BY seq FOR UPDATE', [
        messageId,
      ])
    ).rows as Row[];
    for (const r of rows) {
      const state = r.state as DeliveryState;
      const id = r.id as string;
      if (state === 'revoked' || state === 'expired') continue;
      if (state === 'processed') {
        await this.insertEvent(c, id, to, null, at);
        continue;
      }
      await this.transitionIn(c, { deliveryId: id, from: [state], to, event: to, at });
      await c.query(
        `UPDATE outbox SET state = 'cancelled', payload = NULL, done_at = $1, lease_token = NULL, lease_until = NULL
         WHERE delivery_id = $2 AND state = 'queued' AND kind = 'notification'`,
        [at, id],
      );
    }
  }

  async revokeMessage(messageId: string, at: number): Promise<boolean> {
    return this.tx(async (c) => {
      const r = await c.query('UPDATE messages SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL', [
        at,
        messageId,
      ]);
      const changed = (r.rowCount ?? 0) > 0;
      if (changed) await this.endDeliveries(c, messageId, 'revoked', at);
      return changed;
    });
  }

  async expireDue(now: number, limit: number): Promise<string[]> {
    const ids = await this.tx(async (c) => {
      const found = (
        await c.query(
          `SELECT id FROM messages WHERE expires_at <= $1 AND expired_at IS NULL AND revoked_at IS NULL
           ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED`,
          [now, limit],
        )
      ).rows.map((r: Row) => r.id as string);
      if (found.length > 0)
        await c.query('UPDATE messages SET expired_at = $1 WHERE id = ANY($2::text[])', [now, found]);
      for (const id of found) await this.endDeliveries(c, id, 'expired', now);
      return found;
    });
    // Housekeeping that rides on the purge pass: uploads of crashed nodes.
    await this.dropStaleStaged(false);
    return ids;
  }

  async listPurgeable(now: number, limit: number): Promise<string[]> {
    return (
      await this.pool.query(
        // Two index scans (expired; revoked) rather than one pass over every stored message.
        `SELECT id FROM (
           (SELECT id, expires_at FROM messages WHERE purged_at IS NULL AND expires_at <= $1
            ORDER BY expires_at LIMIT $2)
           UNION
           (SELECT id, expires_at FROM messages WHERE purged_at IS NULL AND revoked_at IS NOT NULL LIMIT $2)
         ) p ORDER BY expires_at LIMIT $2`,
        [now, limit],
      )
    ).rows.map((r: Row) => r.id as string);
  }

  async purgeBody(messageId: string, at: number): Promise<void> {
    await this.tx(async (c) => {
      // Another node purging the same message holds the row: leave it to them.
      const r = await c.query(
        'SELECT body_ref, purged_at FROM messages WHERE id = $1 FOR UPDATE SKIP LOCKED',
        [messageId],
      );
      const row = r.rows[0] as Row | undefined;
      if (!row || row.purged_at !== null) return;
      await c.query('DELETE FROM body_chunks WHERE ref = $1', [row.body_ref]);
      await c.query('UPDATE messages SET purged_at = $1 WHERE id = $2', [at, messageId]);
    });
  }

  async noteBadSecret(deliveryId: string, now: number, windowMs: number): Promise<number> {
    const r = await this.pool.query(
      `UPDATE deliveries SET
         bad_secret_count = CASE WHEN bad_secret_since IS NULL OR bad_secret_since <= $2::bigint - $3::bigint
                                 THEN 1 ELSE bad_secret_count + 1 END,
         bad_secret_since = CASE WHEN bad_secret_since IS NULL OR bad_secret_since <= $2::bigint - $3::bigint
                                 THEN $2 ELSE bad_secret_since END
       WHERE id = $1 RETURNING bad_secret_count`,
      [deliveryId, now, windowMs],
    );
    return (r.rows[0]?.bad_secret_count as number | undefined) ?? 0;
  }

  async badSecretCount(deliveryId: string, now: number, windowMs: number): Promise<number> {
    const r = await this.pool.query(
      'SELECT bad_secret_count, bad_secret_since FROM deliveries WHERE id = $1',
      [deliveryId],
    );
    const row = r.rows[0] as Row | undefined;
    if (!row || row.bad_secret_since === null || (row.bad_secret_since as number) <= now - windowMs) return 0;
    return row.bad_secret_count as number;
  }

  // --- outbox

  async claimMail(now: number, leaseMs: number, limit: number): Promise<MailItem[]> {
    const r = await this.pool.query(
      `WITH due AS (
         SELECT id FROM outbox
         WHERE state = 'queued' AND next_attempt_at <= $1 AND (lease_until IS NULL OR lease_until <= $1)
         ORDER BY next_attempt_at, created_at LIMIT $3
         FOR UPDATE SKIP LOCKED)
       UPDATE outbox o SET lease_token = replace(gen_random_uuid()::text, '-', ''), lease_until = $1::bigint + $2::bigint,
         attempts = o.attempts + 1
       FROM due WHERE o.id = due.id
       RETURNING o.*`,
      [now, leaseMs, limit],
    );
    return (r.rows as Row[])
      .sort(
        (a, b) =>
          (a.next_attempt_at as number) - (b.next_attempt_at as number) ||
          (a.created_at as number) - (b.created_at as number),
      )
      .map((row) => ({
        id: row.id as string,
        kind: row.kind as MailItem['kind'],
        deliveryId: row.delivery_id as string,
        recipient: row.recipient as string,
        payload: row.payload ? new Uint8Array(row.payload as Buffer) : null,
        attempts: row.attempts as number,
        createdAt: row.created_at as number,
        leaseToken: row.lease_token as string,
      }));
  }

  async completeMail(id: string, leaseToken: string, at: number): Promise<boolean> {
    // One statement: the mail sent (payload wiped) only under its lease, the delivery pending →
    // notified with its event, or the receipt's event.
    const r = await this.pool.query(
      `WITH o AS (
         UPDATE outbox SET state = 'sent', payload = NULL, done_at = $3, lease_token = NULL, lease_until = NULL,
           last_error = NULL
         WHERE id = $1 AND lease_token = $2 AND state = 'queued' RETURNING kind, delivery_id),
       d AS (
         UPDATE deliveries SET state = 'notified', updated_at = $3
         WHERE id IN (SELECT delivery_id FROM o WHERE kind = 'notification') AND state = 'pending'
         RETURNING id),
       e AS (
         INSERT INTO delivery_events (delivery_id, at, type, detail)
         SELECT id, $3, 'notified', NULL FROM d
         UNION ALL SELECT delivery_id, $3, 'receipt-sent', NULL FROM o WHERE kind <> 'notification')
       SELECT COUNT(*) AS n FROM o`,
      [id, leaseToken, at],
    );
    return ((r.rows[0] as Row).n as number) > 0;
  }

  async retryMail(id: string, leaseToken: string, nextAttemptAt: number, error: string): Promise<boolean> {
    const r = await this.pool.query(
      `UPDATE outbox SET lease_token = NULL, lease_until = NULL, next_attempt_at = $3, last_error = $4
       WHERE id = $1 AND lease_token = $2 AND state = 'queued'`,
      [id, leaseToken, nextAttemptAt, error.slice(0, 500)],
    );
    return (r.rowCount ?? 0) > 0;
  }

  async failMail(id: string, leaseToken: string, at: number, error: string): Promise<boolean> {
    return this.tx(async (c) => {
      const r = await c.query(
        `UPDATE outbox SET state = 'failed', payload = NULL, done_at = $3, lease_token = NULL, lease_until = NULL,
           last_error = $4
         WHERE id = $1 AND lease_token = $2 AND state = 'queued' RETURNING kind, delivery_id`,
        [id, leaseToken, at, error.slice(0, 500)],
      );
      const row = r.rows[0] as Row | undefined;
      if (!row) return false;
      const deliveryId = row.delivery_id as string;
      if (row.kind === 'notification')
        await this.transitionIn(c, {
          deliveryId,
          from: ['pending'],
          to: 'failed',
          event: 'failed',
          detail: error.slice(0, 200),
          at,
        });
      else await this.insertEvent(c, deliveryId, 'receipt-failed', error.slice(0, 200), at);
      return true;
    });
  }

  async mailStats(): Promise<MailStats> {
    const r = await this.pool.query(PG_INDEXED_QUERIES.mailStats);
    const row = r.rows[0] as Row;
    return {
      queued: row.queued as number,
      sent: row.sent as number,
      failed: row.failed as number,
      cancelled: row.cancelled as number,
      oldestQueuedAt: (row.oldest as number | null) ?? null,
    };
  }

  async addLocalMail(mail: LocalMail): Promise<void> {
    await this.pool.query(
      `INSERT INTO local_mailbox (id, to_addr, subject, text, html, created_at) VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (id) DO NOTHING`,
      [mail.id, mail.to, mail.subject, mail.text, mail.html, mail.createdAt],
    );
  }

  async listLocalMail(limit: number): Promise<LocalMail[]> {
    return (
      await this.pool.query('SELECT * FROM local_mailbox ORDER BY created_at DESC, seq DESC LIMIT $1', [
        limit,
      ])
    ).rows.map((r: Row) => ({
      id: r.id as string,
      to: r.to_addr as string,
      subject: r.subject as string,
      text: r.text as string,
      html: r.html as string,
      createdAt: r.created_at as number,
    }));
  }

  // --- SMTP relay forward queue

  private async insertForward(c: pg.PoolClient, input: NewForward, body: StagedBody): Promise<void> {
    if (input.recipients.length === 0) throw new Error('A forward needs at least one recipient.');
    if (body.size !== input.size || body.sha256 !== input.sha256)
      throw new Error('The staged body does not match the forward metadata.');
    const staged = await c.query(
      'DELETE FROM staged_bodies WHERE ref = $1 AND size = $2 AND sha256 = $3 RETURNING ref',
      [body.ref, body.size, body.sha256],
    );
    if (staged.rowCount !== 1) throw new Error('Not a finished staged body of this store.');
    await c.query(
      `INSERT INTO forward_queue (id, mail_from, recipients, size, sha256, sender_id, body_ref, chunk_size, state,
         next_attempt_at, created_at, expires_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'queued', $9, $9, $10)`,
      [
        input.id,
        input.mailFrom,
        input.recipients,
        input.size,
        input.sha256,
        input.senderId,
        body.ref,
        PG_CHUNK_SIZE,
        input.createdAt,
        input.expiresAt,
      ],
    );
  }

  async enqueueForward(input: NewForward, body: StagedBody): Promise<void> {
    try {
      await this.tx((c) => this.insertForward(c, input, body));
    } catch (e) {
      await discardStaged(this.pool, body.ref).catch(() => undefined);
      throw e;
    }
  }

  async getForward(id: string): Promise<ForwardRecord | null> {
    const r = await this.pool.query('SELECT * FROM forward_queue WHERE id = $1', [id]);
    const row = r.rows[0] as Row | undefined;
    if (!row) return null;
    return {
      ...forwardFromRow(row),
      state: row.state as ForwardState,
      attempts: row.attempts as number,
      nextAttemptAt: row.next_attempt_at as number,
      lastError: (row.last_error as string | null) ?? null,
      doneAt: (row.done_at as number | null) ?? null,
    };
  }

  async claimForwards(now: number, leaseMs: number, limit: number): Promise<ForwardItem[]> {
    const r = await this.pool.query(
      `WITH due AS (
         SELECT id FROM forward_queue
         WHERE state = 'queued' AND next_attempt_at <= $1 AND (lease_until IS NULL OR lease_until <= $1)
         ORDER BY next_attempt_at, created_at LIMIT $3
         FOR UPDATE SKIP LOCKED)
       UPDATE forward_queue f SET lease_token = replace(gen_random_uuid()::text, '-', ''),
         lease_until = $1::bigint + $2::bigint, attempts = f.attempts + 1
       FROM due WHERE f.id = due.id
       RETURNING f.*`,
      [now, leaseMs, limit],
    );
    return (r.rows as Row[])
      .sort(
        (a, b) =>
          (a.next_attempt_at as number) - (b.next_attempt_at as number) ||
          (a.created_at as number) - (b.created_at as number),
      )
      .map((row) => ({
        ...forwardFromRow(row),
        attempts: row.attempts as number,
        leaseToken: row.lease_token as string,
      }));
  }

  async openForwardBody(id: string): Promise<Readable | null> {
    const r = await this.pool.query(
      "SELECT body_ref, chunk_size, size FROM forward_queue WHERE id = $1 AND state = 'queued'",
      [id],
    );
    const row = r.rows[0] as Row | undefined;
    if (!row || row.body_ref === null) return null;
    return this.streamChunks(row.body_ref as string, row.chunk_size as number, row.size as number);
  }

  /** Ends a leased forward (sent or failed) and deletes its body, in the caller's transaction. */
  private async endForward(
    c: pg.PoolClient,
    id: string,
    leaseToken: string,
    state: ForwardState,
    at: number,
    error: string | null,
  ): Promise<boolean> {
    const r = await c.query(
      `WITH old AS (
         SELECT id, body_ref FROM forward_queue WHERE id = $1 AND lease_token = $2 AND state = 'queued' FOR UPDATE)
       UPDATE forward_queue f SET state = $3, body_ref = NULL, done_at = $4, lease_token = NULL,
         lease_until = NULL, last_error = $5
       FROM old WHERE f.id = old.id
       RETURNING old.body_ref`,
      [id, leaseToken, state, at, error === null ? null : error.slice(0, 500)],
    );
    const row = r.rows[0] as Row | undefined;
    if (!row) return false;
    if (row.body_ref !== null) await c.query('DELETE FROM body_chunks WHERE ref = $1', [row.body_ref]);
    return true;
  }

  async completeForward(id: string, leaseToken: string, at: number): Promise<boolean> {
    return this.tx((c) => this.endForward(c, id, leaseToken, 'sent', at, null));
  }

  async retryForward(
    id: string,
    leaseToken: string,
    nextAttemptAt: number,
    error: string,
    recipients?: string[],
  ): Promise<boolean> {
    if (recipients !== undefined && recipients.length === 0)
      throw new Error('A forward needs at least one recipient.');
    const r = await this.pool.query(
      `UPDATE forward_queue SET lease_token = NULL, lease_until = NULL, next_attempt_at = $3, last_error = $4,
         recipients = COALESCE($5::text[], recipients)
       WHERE id = $1 AND lease_token = $2 AND state = 'queued'`,
      [id, leaseToken, nextAttemptAt, error.slice(0, 500), recipients ?? null],
    );
    return (r.rowCount ?? 0) > 0;
  }

  async failForward(
    id: string,
    leaseToken: string,
    at: number,
    error: string,
    bounce?: { forward: NewForward; body: StagedBody },
  ): Promise<boolean> {
    let ended: boolean;
    try {
      ended = await this.tx(async (c) => {
        const e = await this.endForward(c, id, leaseToken, 'failed', at, error);
        if (e && bounce) await this.insertForward(c, bounce.forward, bounce.body);
        return e;
      });
    } catch (e) {
      if (bounce) await discardStaged(this.pool, bounce.body.ref).catch(() => undefined);
      throw e;
    }
    if (!ended && bounce) await discardStaged(this.pool, bounce.body.ref).catch(() => undefined);
    return ended;
  }

  async forwardStats(): Promise<ForwardStats> {
    const r = await this.pool.query(PG_INDEXED_QUERIES.forwardStats);
    const row = r.rows[0] as Row;
    return {
      queued: row.queued as number,
      sent: row.sent as number,
      failed: row.failed as number,
      oldestQueuedAt: (row.oldest as number | null) ?? null,
    };
  }

  // --- history retention

  async pruneHistory(before: number, limit: number): Promise<PrunedHistory> {
    // Two short statements (each its own transaction): a batch of mails, then one of forwards.
    const mails = await this.pool.query(PG_INDEXED_QUERIES.pruneMails, [before, limit]);
    const forwards = await this.tx(async (c) => {
      const r = await c.query(PG_INDEXED_QUERIES.pruneForwards, [before, limit]);
      // Finished forwards have no body any more; one left behind would go with its row.
      const refs = r.rows.map((x: Row) => x.body_ref as string | null).filter((x) => x !== null);
      if (refs.length > 0) await c.query('DELETE FROM body_chunks WHERE ref = ANY($1::text[])', [refs]);
      return r.rowCount ?? 0;
    });
    return { mails: mails.rowCount ?? 0, forwards };
  }

  // --- directory

  async publishDirectoryEntry(entry: DirectoryEntry): Promise<void> {
    await this.pool.query(
      `INSERT INTO directory (email, kind, data, fingerprint, delivery_id, published_at)
       VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (email, kind) DO UPDATE SET data = excluded.data, fingerprint = excluded.fingerprint,
         delivery_id = excluded.delivery_id, published_at = excluded.published_at`,
      [entry.email, entry.kind, entry.data, entry.fingerprint, entry.deliveryId, entry.publishedAt],
    );
  }

  async lookupDirectory(email: string): Promise<DirectoryEntry[]> {
    return (
      await this.pool.query('SELECT * FROM directory WHERE email = $1 ORDER BY kind', [email])
    ).rows.map((r: Row) => ({
      email: r.email as string,
      kind: r.kind as DirectoryEntry['kind'],
      data: r.data as string,
      fingerprint: r.fingerprint as string,
      deliveryId: r.delivery_id as string,
      publishedAt: r.published_at as number,
    }));
  }

  /** For `sealpost migrate` and tests: run a function in one transaction on this store's database. */
  async withTransaction<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    return this.tx(fn);
  }
}
