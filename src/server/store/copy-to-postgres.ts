/**
 * `sealpost migrate`: copies an embedded store (a data folder: SQLite database + message files) into
 * an empty PostgreSQL store — every table, and every stored body into 1 MiB chunks — in one
 * PostgreSQL transaction, so the target ends up with everything or nothing.
 *
 * The source is read from one SQLite snapshot (a read transaction), and each body is checked against
 * its recorded size and SHA-256 while it is copied. Stop the server that uses the data folder first:
 * what it accepts after the snapshot would not be copied.
 */
import Database from 'better-sqlite3';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type pg from 'pg';
import { PG_CHUNK_SIZE, PostgresStore } from './postgres.ts';
import { SQLITE_MIGRATIONS } from './sqlite-migrations.ts';

export interface CopyReport {
  senders: number;
  messages: number;
  deliveries: number;
  events: number;
  mails: number;
  localMails: number;
  directory: number;
  forwards: number;
  /** Bodies copied, and their total size. */
  bodies: number;
  bytes: number;
  /** Bodies whose file was absent (such messages are recorded as purged, such forwards as failed). */
  missingBodies: string[];
  /** Queued mails carrying a sealed payload: the nodes need the data folder's sealing key. */
  sealedPending: number;
}

export class CopyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CopyError';
  }
}

type Row = Record<string, unknown>;

/** Streams a file into body_chunks under `ref`; checks its size and SHA-256. */
async function copyBody(
  c: pg.PoolClient,
  path: string,
  ref: string,
  expect: { size: number; sha256: string },
): Promise<number> {
  const hash = createHash('sha256');
  let buf = Buffer.allocUnsafe(PG_CHUNK_SIZE);
  let filled = 0;
  let seq = 0;
  let size = 0;
  const flush = async (): Promise<void> => {
    if (filled === 0) return;
    await c.query('INSERT INTO body_chunks (ref, seq, data) VALUES ($1, $2, $3)', [
      ref,
      seq++,
      buf.subarray(0, filled),
    ]);
    buf = Buffer.allocUnsafe(PG_CHUNK_SIZE);
    filled = 0;
  };
  for await (const piece of createReadStream(path, { highWaterMark: PG_CHUNK_SIZE })) {
    const b = piece as Buffer;
    hash.update(b);
    size += b.length;
    let off = 0;
    while (off < b.length) {
      const n = Math.min(PG_CHUNK_SIZE - filled, b.length - off);
      b.copy(buf, filled, off, off + n);
      filled += n;
      off += n;
      if (filled === PG_CHUNK_SIZE) await flush();
    }
  }
  await flush();
  const digest = hash.digest('hex');
  if (size !== expect.size || digest !== expect.sha256)
    throw new CopyError(
      `${path} does not match its recorded size and SHA-256 (damaged?); nothing was copied.`,
    );
  return size;
}

export async function copySqliteToPostgres(options: {
  from: string;
  to: string;
  /** Progress lines. */
  log?: (line: string) => void;
}): Promise<CopyReport> {
  const log = options.log ?? (() => undefined);
  const dataDir = resolve(options.from);
  const dbPath = join(dataDir, 'sealpost.db');
  if (!existsSync(dbPath))
    throw new CopyError(`${dbPath} does not exist: --from must be a Sealpost data folder.`);
  const src = new Database(dbPath, { fileMustExist: true });
  const target = await PostgresStore.open({ url: options.to, poolSize: 2 });
  try {
    src.pragma('busy_timeout = 5000');
    const version =
      (src.prepare('SELECT MAX(version) AS v FROM schema_migrations').get() as { v: number | null }).v ?? 0;
    const known = SQLITE_MIGRATIONS.at(-1)!.version;
    if (version > known)
      throw new CopyError(
        `The data folder has schema version ${version}; this sealpost knows ${known}: upgrade it.`,
      );
    if (version < known)
      throw new CopyError(
        `The data folder has schema version ${version}: start this sealpost on it once (it migrates), stop it, then copy.`,
      );
    // One consistent snapshot of the source for the whole copy.
    src.exec('BEGIN');
    const all = (sql: string): Row[] => src.prepare(sql).all() as Row[];
    const report: CopyReport = {
      senders: 0,
      messages: 0,
      deliveries: 0,
      events: 0,
      mails: 0,
      localMails: 0,
      directory: 0,
      forwards: 0,
      bodies: 0,
      bytes: 0,
      missingBodies: [],
      sealedPending: 0,
    };
    const now = Date.now();
    await target.withTransaction(async (c) => {
      const existing = await c.query(
        `SELECT (SELECT COUNT(*) FROM senders) + (SELECT COUNT(*) FROM messages) + (SELECT COUNT(*) FROM outbox)
              + (SELECT COUNT(*) FROM local_mailbox) + (SELECT COUNT(*) FROM directory)
              + (SELECT COUNT(*) FROM forward_queue) AS n`,
      );
      if ((existing.rows[0] as Row).n !== 0)
        throw new CopyError('The PostgreSQL store is not empty: copy into a new database (or schema).');

      for (const r of all('SELECT * FROM senders ORDER BY rowid')) {
        await c.query(
          'INSERT INTO senders (id, email, api_key_hash, created_at, revoked_at) VALUES ($1, $2, $3, $4, $5)',
          [r.id, r.email, r.api_key_hash, r.created_at, r.revoked_at],
        );
        report.senders++;
      }
      log(`senders: ${report.senders}`);

      for (const r of all('SELECT * FROM messages ORDER BY rowid')) {
        const ref = randomBytes(16).toString('hex');
        let purgedAt = r.purged_at as number | null;
        if (purgedAt === null) {
          const path = join(dataDir, r.body_path as string);
          if (existsSync(path)) {
            report.bytes += await copyBody(c, path, ref, {
              size: r.size as number,
              sha256: r.sha256 as string,
            });
            report.bodies++;
          } else {
            // The embedded store answers 410 for such a message; record it as purged.
            report.missingBodies.push(r.id as string);
            purgedAt = now;
          }
        }
        await c.query(
          `INSERT INTO messages (id, sender_id, size, sha256, protocol, encrypted, signed, content_type, from_header,
             subject, header_date, header_message_id, body_ref, chunk_size, receipt_requested, created_at,
             expires_at, expired_at, revoked_at, purged_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)`,
          [
            r.id,
            r.sender_id,
            r.size,
            r.sha256,
            r.protocol,
            r.encrypted === 1,
            r.signed === 1,
            r.content_type,
            r.from_header,
            r.subject,
            r.header_date,
            r.header_message_id,
            ref,
            PG_CHUNK_SIZE,
            r.receipt_requested === 1,
            r.created_at,
            r.expires_at,
            r.expired_at,
            r.revoked_at,
            purgedAt,
          ],
        );
        report.messages++;
        if (report.messages % 100 === 0) log(`messages: ${report.messages} (${report.bytes} bytes)`);
      }
      log(`messages: ${report.messages}, bodies: ${report.bodies} (${report.bytes} bytes)`);

      for (const r of all('SELECT * FROM deliveries ORDER BY rowid')) {
        await c.query(
          `INSERT INTO deliveries (id, message_id, recipient, secret_hash, state, created_at, updated_at,
             bad_secret_count, bad_secret_since) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
          [
            r.id,
            r.message_id,
            r.recipient,
            r.secret_hash,
            r.state,
            r.created_at,
            r.updated_at,
            r.bad_secret_count,
            r.bad_secret_since,
          ],
        );
        report.deliveries++;
      }
      for (const r of all('SELECT * FROM delivery_events ORDER BY seq')) {
        await c.query('INSERT INTO delivery_events (delivery_id, at, type, detail) VALUES ($1, $2, $3, $4)', [
          r.delivery_id,
          r.at,
          r.type,
          r.detail,
        ]);
        report.events++;
      }
      log(`deliveries: ${report.deliveries}, events: ${report.events}`);

      for (const r of all('SELECT * FROM outbox ORDER BY rowid')) {
        await c.query(
          `INSERT INTO outbox (id, kind, delivery_id, recipient, payload, state, attempts, next_attempt_at,
             lease_token, lease_until, last_error, created_at, done_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
          [
            r.id,
            r.kind,
            r.delivery_id,
            r.recipient,
            r.payload,
            r.state,
            r.attempts,
            r.next_attempt_at,
            // A lease of the stopped server means nothing to the new nodes.
            null,
            null,
            r.last_error,
            r.created_at,
            r.done_at,
          ],
        );
        if (r.state === 'queued' && r.payload !== null) report.sealedPending++;
        report.mails++;
      }
      for (const r of all('SELECT * FROM local_mailbox ORDER BY rowid')) {
        await c.query(
          'INSERT INTO local_mailbox (id, to_addr, subject, text, html, created_at) VALUES ($1, $2, $3, $4, $5, $6)',
          [r.id, r.to_addr, r.subject, r.text, r.html, r.created_at],
        );
        report.localMails++;
      }
      for (const r of all('SELECT * FROM directory ORDER BY rowid')) {
        await c.query(
          `INSERT INTO directory (email, kind, data, fingerprint, delivery_id, published_at)
           VALUES ($1, $2, $3, $4, $5, $6)`,
          [r.email, r.kind, r.data, r.fingerprint, r.delivery_id, r.published_at],
        );
        report.directory++;
      }
      log(`outbox: ${report.mails}, built-in outbox: ${report.localMails}, directory: ${report.directory}`);

      for (const r of all('SELECT * FROM forward_queue ORDER BY rowid')) {
        let ref: string | null = null;
        let state = r.state as string;
        let lastError = r.last_error as string | null;
        let doneAt = r.done_at as number | null;
        if (state === 'queued' && r.body_path !== null) {
          const path = join(dataDir, r.body_path as string);
          if (existsSync(path)) {
            ref = randomBytes(16).toString('hex');
            report.bytes += await copyBody(c, path, ref, {
              size: r.size as number,
              sha256: r.sha256 as string,
            });
            report.bodies++;
          } else {
            report.missingBodies.push(r.id as string);
            state = 'failed';
            lastError = 'the queued body was missing when the store was copied to PostgreSQL';
            doneAt = now;
          }
        }
        await c.query(
          `INSERT INTO forward_queue (id, mail_from, recipients, size, sha256, sender_id, body_ref, chunk_size, state,
             attempts, next_attempt_at, lease_token, lease_until, last_error, created_at, expires_at, done_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, NULL, NULL, $12, $13, $14, $15)`,
          [
            r.id,
            r.mail_from,
            JSON.parse(r.recipients as string) as string[],
            r.size,
            r.sha256,
            r.sender_id,
            ref,
            PG_CHUNK_SIZE,
            state,
            r.attempts,
            r.next_attempt_at,
            lastError,
            r.created_at,
            r.expires_at,
            doneAt,
          ],
        );
        report.forwards++;
      }
      log(`relay forward queue: ${report.forwards}`);
    });
    return report;
  } finally {
    if (src.inTransaction) src.exec('ROLLBACK');
    src.close();
    await target.close();
  }
}
