/**
 * The embedded Store: SQLite (better-sqlite3, WAL, synchronous=FULL) for metadata, and one file per
 * message under <data>/messages. A body is streamed into <data>/tmp, fsynced, renamed into place,
 * and the directory fsynced, before the metadata transaction commits; a crash in between leaves an
 * orphan file that no row points at, removed by recover() at the next start.
 */
import Database from 'better-sqlite3';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, readdir, rename, rm, unlink } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { SQLITE_MIGRATIONS } from './sqlite-migrations.ts';
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

/** Read size for message bodies: 1 MiB (64 KiB reads halve download throughput). */
export const BODY_READ_CHUNK = 1024 * 1024;
const WRITE_BATCH = 1024 * 1024;

/**
 * The queries read on every /metrics scrape and by the retention pass, each answered from an index
 * (migration 3; store-sqlite.test.ts checks the query plans).
 */
export const SQLITE_INDEXED_QUERIES = {
  mailCounts: 'SELECT state, COUNT(*) AS n FROM outbox GROUP BY state',
  mailOldestQueued: "SELECT MIN(created_at) AS t FROM outbox WHERE state = 'queued'",
  forwardCounts: 'SELECT state, COUNT(*) AS n FROM forward_queue GROUP BY state',
  forwardOldestQueued: "SELECT MIN(created_at) AS t FROM forward_queue WHERE state = 'queued'",
  // Only finished rows have a done_at: walk that index oldest first and stop at the limit (the
  // planner would otherwise pick the state index and sort every finished row).
  pruneMails: `SELECT id FROM outbox INDEXED BY outbox_done
    WHERE done_at IS NOT NULL AND done_at < ? AND state IN ('sent', 'failed', 'cancelled')
    ORDER BY done_at LIMIT ?`,
  pruneForwards: `SELECT id, body_path FROM forward_queue INDEXED BY forward_queue_done
    WHERE done_at IS NOT NULL AND done_at < ? AND state IN ('sent', 'failed')
    ORDER BY done_at LIMIT ?`,
} as const;

async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

const MESSAGE_SELECT = `SELECT m.*, s.email AS sender_email FROM messages m JOIN senders s ON s.id = m.sender_id`;

class FileBodyWriter implements BodyWriter {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private size = 0;
  private readonly hash = createHash('sha256');
  private done = false;
  constructor(
    private readonly fh: FileHandle,
    readonly path: string,
    readonly ref: string,
  ) {}

  async write(chunk: Uint8Array): Promise<void> {
    if (this.done) throw new Error('The body writer is closed.');
    const b = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    this.hash.update(b);
    this.size += b.length;
    // Copy: callers may reuse their buffer once write() resolves.
    this.pending.push(Buffer.from(b));
    this.pendingBytes += b.length;
    if (this.pendingBytes >= WRITE_BATCH) await this.flush();
  }

  private async flush(): Promise<void> {
    if (this.pendingBytes === 0) return;
    const bufs = this.pending;
    this.pending = [];
    this.pendingBytes = 0;
    await this.fh.writev(bufs);
  }

  async finish(): Promise<StagedBody> {
    await this.flush();
    await this.fh.sync();
    await this.fh.close();
    this.done = true;
    return { ref: this.ref, size: this.size, sha256: this.hash.digest('hex') };
  }

  async abort(): Promise<void> {
    if (!this.done) {
      this.done = true;
      this.pending = [];
      await this.fh.close().catch(() => undefined);
    }
    await unlink(this.path).catch(() => undefined);
  }
}

export interface SqliteStoreOptions {
  dataDir: string;
}

export class SqliteStore implements Store {
  readonly kind = 'sqlite';
  readonly dataDir: string;
  private readonly db: Database.Database;
  private readonly tmpDir: string;
  private readonly messagesDir: string;
  private readonly relayDir: string;

  private constructor(dataDir: string, db: Database.Database) {
    this.dataDir = dataDir;
    this.db = db;
    this.tmpDir = join(dataDir, 'tmp');
    this.messagesDir = join(dataDir, 'messages');
    this.relayDir = join(dataDir, 'relay');
  }

  /** Opens (creating when needed) the store in a data folder and migrates its schema. */
  static async open(options: SqliteStoreOptions): Promise<SqliteStore> {
    const dataDir = resolve(options.dataDir);
    await mkdir(join(dataDir, 'tmp'), { recursive: true, mode: 0o700 });
    await mkdir(join(dataDir, 'messages'), { recursive: true, mode: 0o700 });
    await mkdir(join(dataDir, 'relay'), { recursive: true, mode: 0o700 });
    const db = new Database(join(dataDir, 'sealpost.db'));
    db.pragma('journal_mode = WAL');
    // FULL: a committed transaction survives power loss, not only a process crash.
    db.pragma('synchronous = FULL');
    db.pragma('foreign_keys = ON');
    db.pragma('busy_timeout = 5000');
    const store = new SqliteStore(dataDir, db);
    await store.migrate();
    return store;
  }

  async migrate(): Promise<void> {
    this.db.exec(
      'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)',
    );
    const applied = new Set(
      (this.db.prepare('SELECT version FROM schema_migrations').all() as { version: number }[]).map(
        (r) => r.version,
      ),
    );
    for (const m of SQLITE_MIGRATIONS) {
      if (applied.has(m.version)) continue;
      this.db
        .transaction(() => {
          this.db.exec(m.sql);
          this.db
            .prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)')
            .run(m.version, m.name, Date.now());
        })
        .immediate();
    }
  }

  /** The newest applied schema version. */
  schemaVersion(): number {
    const r = this.db.prepare('SELECT MAX(version) AS v FROM schema_migrations').get() as {
      v: number | null;
    };
    return r.v ?? 0;
  }

  async recover(): Promise<{ removedStaged: number; removedOrphans: number }> {
    let removedStaged = 0;
    for (const name of await readdir(this.tmpDir)) {
      await rm(join(this.tmpDir, name), { force: true, recursive: true });
      removedStaged++;
    }
    const known = this.db.prepare('SELECT 1 FROM messages WHERE id = ? AND purged_at IS NULL');
    const queued = this.db.prepare("SELECT 1 FROM forward_queue WHERE id = ? AND state = 'queued'");
    const removedOrphans =
      (await this.removeOrphans(this.messagesDir, (name) => known.get(name) !== undefined)) +
      (await this.removeOrphans(this.relayDir, (name) => queued.get(name) !== undefined));
    return { removedStaged, removedOrphans };
  }

  /** Removes the files under <dir>/<shard>/ that `owned` does not claim; returns how many. */
  private async removeOrphans(root: string, owned: (name: string) => boolean): Promise<number> {
    let removed = 0;
    for (const shard of await readdir(root)) {
      const dir = join(root, shard);
      let names: string[];
      try {
        names = await readdir(dir);
      } catch {
        continue;
      }
      for (const name of names) {
        if (!owned(name)) {
          await rm(join(dir, name), { force: true });
          removed++;
        }
      }
    }
    return removed;
  }

  async ping(): Promise<void> {
    this.db.prepare('SELECT 1').get();
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }

  // --- senders

  async addSender(input: {
    id: string;
    email: string;
    apiKeyHash: string;
    at: number;
  }): Promise<SenderRecord> {
    try {
      this.db
        .prepare('INSERT INTO senders (id, email, api_key_hash, created_at) VALUES (?, ?, ?, ?)')
        .run(input.id, input.email, input.apiKeyHash, input.at);
    } catch (e) {
      if ((e as { code?: string }).code?.startsWith('SQLITE_CONSTRAINT'))
        throw new StoreConflictError(`A sender with the address ${input.email} already exists.`);
      throw e;
    }
    return { id: input.id, email: input.email, createdAt: input.at, revokedAt: null };
  }

  async listSenders(): Promise<SenderRecord[]> {
    return (this.db.prepare('SELECT * FROM senders ORDER BY created_at, email').all() as Row[]).map(
      senderFromRow,
    );
  }

  async revokeSender(email: string, at: number): Promise<boolean> {
    return (
      this.db
        .prepare('UPDATE senders SET revoked_at = ? WHERE email = ? AND revoked_at IS NULL')
        .run(at, email).changes > 0
    );
  }

  async findSenderByApiKeyHash(hash: string): Promise<SenderRecord | null> {
    const r = this.db
      .prepare('SELECT * FROM senders WHERE api_key_hash = ? AND revoked_at IS NULL')
      .get(hash) as Row | undefined;
    return r ? senderFromRow(r) : null;
  }

  async findSenderByEmail(email: string): Promise<SenderRecord | null> {
    const r = this.db
      .prepare('SELECT * FROM senders WHERE email = ? AND revoked_at IS NULL')
      .get(email.toLowerCase()) as Row | undefined;
    return r ? senderFromRow(r) : null;
  }

  // --- bodies and messages

  async createBodyWriter(): Promise<BodyWriter> {
    const ref = `${randomBytes(16).toString('hex')}.part`;
    const path = join(this.tmpDir, ref);
    const fh = await open(path, 'wx', 0o600);
    return new FileBodyWriter(fh, path, ref);
  }

  private stagedPath(body: StagedBody): string {
    if (!/^[0-9a-f]{32}\.part$/.test(body.ref)) throw new Error('Not a staged body of this store.');
    return join(this.tmpDir, body.ref);
  }

  private bodyPath(
    messageId: string,
    area: 'messages' | 'relay' = 'messages',
  ): { rel: string; dir: string; abs: string } {
    if (!/^[A-Za-z0-9_-]{8,64}$/.test(messageId)) throw new Error('Malformed message id.');
    const shard = messageId.slice(0, 2);
    const root = area === 'messages' ? this.messagesDir : this.relayDir;
    const dir = join(root, shard);
    return { rel: join(area, shard, messageId), dir, abs: join(dir, messageId) };
  }

  /** Moves a staged body into its place and makes the move durable; returns where it went. */
  private async placeBody(
    body: StagedBody,
    id: string,
    area: 'messages' | 'relay',
  ): Promise<{ rel: string; abs: string }> {
    const staged = this.stagedPath(body);
    const { rel, dir, abs } = this.bodyPath(id, area);
    const created = await mkdir(dir, { recursive: true, mode: 0o700 });
    if (created) await fsyncDir(area === 'messages' ? this.messagesDir : this.relayDir);
    await rename(staged, abs);
    await fsyncDir(dir);
    return { rel, abs };
  }

  async createMessage(input: NewMessage, body: StagedBody): Promise<void> {
    const staged = this.stagedPath(body);
    let placed: string | null = null;
    try {
      if (body.size !== input.size || body.sha256 !== input.sha256)
        throw new Error('The staged body does not match the message metadata.');
      const { rel, dir, abs } = this.bodyPath(input.id);
      const created = await mkdir(dir, { recursive: true, mode: 0o700 });
      if (created) await fsyncDir(this.messagesDir);
      await rename(staged, abs);
      placed = abs;
      await fsyncDir(dir);
      this.db
        .transaction(() => {
          this.db
            .prepare(
              `INSERT INTO messages (id, sender_id, size, sha256, protocol, encrypted, signed, content_type,
               from_header, subject, header_date, header_message_id, body_path, receipt_requested,
               created_at, expires_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
            )
            .run(
              input.id,
              input.senderId,
              input.size,
              input.sha256,
              input.protocol,
              input.encrypted ? 1 : 0,
              input.signed ? 1 : 0,
              input.contentType,
              input.fromHeader,
              input.subject,
              input.headerDate,
              input.headerMessageId,
              rel,
              input.receiptRequested ? 1 : 0,
              input.createdAt,
              input.expiresAt,
            );
          const insertDelivery = this.db.prepare(
            `INSERT INTO deliveries (id, message_id, recipient, secret_hash, state, created_at, updated_at)
           VALUES (?, ?, ?, ?, 'pending', ?, ?)`,
          );
          for (const d of input.deliveries) {
            insertDelivery.run(d.id, input.id, d.recipient, d.secretHash, input.createdAt, input.createdAt);
            this.insertEvent(d.id, 'created', null, input.createdAt);
          }
          this.insertMails(input.mails, input.createdAt);
        })
        .immediate();
    } catch (e) {
      if (placed) await unlink(placed).catch(() => undefined);
      await unlink(staged).catch(() => undefined);
      throw e;
    }
  }

  private insertEvent(deliveryId: string, type: string, detail: string | null, at: number): void {
    this.db
      .prepare('INSERT INTO delivery_events (delivery_id, at, type, detail) VALUES (?, ?, ?, ?)')
      .run(deliveryId, at, type, detail);
  }

  private insertMails(mails: NewMail[], at: number): void {
    const insert = this.db.prepare(
      `INSERT INTO outbox (id, kind, delivery_id, recipient, payload, state, next_attempt_at, created_at)
       VALUES (?, ?, ?, ?, ?, 'queued', ?, ?)`,
    );
    for (const m of mails)
      insert.run(
        m.id,
        m.kind,
        m.deliveryId,
        m.recipient,
        m.payload ? Buffer.from(m.payload) : null,
        m.notBefore ?? at,
        at,
      );
  }

  async getMessage(id: string): Promise<MessageRecord | null> {
    const r = this.db.prepare(`${MESSAGE_SELECT} WHERE m.id = ?`).get(id) as Row | undefined;
    return r ? messageFromRow(r) : null;
  }

  async listDeliveries(messageId: string): Promise<DeliveryRecord[]> {
    return (
      this.db.prepare('SELECT * FROM deliveries WHERE message_id = ? ORDER BY rowid').all(messageId) as Row[]
    ).map(deliveryFromRow);
  }

  async listEvents(deliveryId: string): Promise<DeliveryEvent[]> {
    return (
      this.db
        .prepare('SELECT at, type, detail FROM delivery_events WHERE delivery_id = ? ORDER BY seq')
        .all(deliveryId) as Row[]
    ).map((r) => ({
      at: r.at as number,
      type: r.type as string,
      detail: (r.detail as string | null) ?? null,
    }));
  }

  async getDelivery(id: string): Promise<DeliveryWithMessage | null> {
    const d = this.db.prepare('SELECT * FROM deliveries WHERE id = ?').get(id) as Row | undefined;
    if (!d) return null;
    const m = this.db.prepare(`${MESSAGE_SELECT} WHERE m.id = ?`).get(d.message_id) as Row;
    return { delivery: deliveryFromRow(d), secretHash: d.secret_hash as string, message: messageFromRow(m) };
  }

  async openBody(messageId: string, range?: ByteRange): Promise<Readable | null> {
    const r = this.db.prepare('SELECT body_path, purged_at FROM messages WHERE id = ?').get(messageId) as
      Row | undefined;
    if (!r || r.purged_at !== null) return null;
    let fh: FileHandle;
    try {
      fh = await open(join(this.dataDir, r.body_path as string), 'r');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    }
    return fh.createReadStream({
      highWaterMark: BODY_READ_CHUNK,
      ...(range ? { start: range.start, end: range.end } : {}),
    });
  }

  // --- delivery states

  async transition(input: TransitionInput): Promise<boolean> {
    return this.db.transaction(() => this.transitionSync(input)).immediate();
  }

  private transitionSync(input: TransitionInput): boolean {
    if (input.from.length === 0) return false;
    const marks = input.from.map(() => '?').join(', ');
    const changed =
      this.db
        .prepare(`UPDATE deliveries SET state = ?, updated_at = ? WHERE id = ? AND state IN (${marks})`)
        .run(input.to, input.at, input.deliveryId, ...input.from).changes > 0;
    if (changed) {
      this.insertEvent(input.deliveryId, input.event, input.detail ?? null, input.at);
      if (input.enqueue) this.insertMails(input.enqueue, input.at);
    }
    return changed;
  }

  async addEvent(deliveryId: string, type: string, detail: string | null, at: number): Promise<void> {
    this.insertEvent(deliveryId, type, detail, at);
  }

  /** Ends the deliveries of a message (revoked or expired); processed ones only get the event. */
  private endDeliveries(messageId: string, to: 'revoked' | 'expired', at: number): void {
    const rows = this.db
      .prepare('SELECT id, state FROM deliveries WHERE message_id = ?')
      .all(messageId) as Row[];
    for (const r of rows) {
      const state = r.state as DeliveryState;
      if (state === 'revoked' || state === 'expired') continue;
      if (state === 'processed') {
        this.insertEvent(r.id as string, to, null, at);
        continue;
      }
      this.transitionSync({ deliveryId: r.id as string, from: [state], to, event: to, at });
      this.db
        .prepare(
          `UPDATE outbox SET state = 'cancelled', payload = NULL, done_at = ?, lease_token = NULL, lease_until = NULL
           WHERE delivery_id = ? AND state = 'queued' AND kind = 'notification'`,
        )
        .run(at, r.id);
    }
  }

  async revokeMessage(messageId: string, at: number): Promise<boolean> {
    return this.db
      .transaction(() => {
        const changed =
          this.db
            .prepare('UPDATE messages SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL')
            .run(at, messageId).changes > 0;
        if (changed) this.endDeliveries(messageId, 'revoked', at);
        return changed;
      })
      .immediate();
  }

  async expireDue(now: number, limit: number): Promise<string[]> {
    return this.db
      .transaction(() => {
        const ids = (
          this.db
            .prepare(
              'SELECT id FROM messages WHERE expires_at <= ? AND expired_at IS NULL AND revoked_at IS NULL ORDER BY expires_at LIMIT ?',
            )
            .all(now, limit) as Row[]
        ).map((r) => r.id as string);
        for (const id of ids) {
          this.db.prepare('UPDATE messages SET expired_at = ? WHERE id = ?').run(now, id);
          this.endDeliveries(id, 'expired', now);
        }
        return ids;
      })
      .immediate();
  }

  async listPurgeable(now: number, limit: number): Promise<string[]> {
    return (
      this.db
        .prepare(
          'SELECT id FROM messages WHERE purged_at IS NULL AND (expires_at <= ? OR revoked_at IS NOT NULL) LIMIT ?',
        )
        .all(now, limit) as Row[]
    ).map((r) => r.id as string);
  }

  async purgeBody(messageId: string, at: number): Promise<void> {
    const r = this.db.prepare('SELECT body_path FROM messages WHERE id = ?').get(messageId) as
      Row | undefined;
    if (!r) return;
    await unlink(join(this.dataDir, r.body_path as string)).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'ENOENT') throw e;
    });
    this.db
      .prepare('UPDATE messages SET purged_at = ? WHERE id = ? AND purged_at IS NULL')
      .run(at, messageId);
  }

  async noteBadSecret(deliveryId: string, now: number, windowMs: number): Promise<number> {
    return this.db
      .transaction(() => {
        const r = this.db
          .prepare('SELECT bad_secret_count, bad_secret_since FROM deliveries WHERE id = ?')
          .get(deliveryId) as Row | undefined;
        if (!r) return 0;
        const since = r.bad_secret_since as number | null;
        const fresh = since === null || since <= now - windowMs;
        const count = fresh ? 1 : (r.bad_secret_count as number) + 1;
        this.db
          .prepare('UPDATE deliveries SET bad_secret_count = ?, bad_secret_since = ? WHERE id = ?')
          .run(count, fresh ? now : since, deliveryId);
        return count;
      })
      .immediate();
  }

  async badSecretCount(deliveryId: string, now: number, windowMs: number): Promise<number> {
    const r = this.db
      .prepare('SELECT bad_secret_count, bad_secret_since FROM deliveries WHERE id = ?')
      .get(deliveryId) as Row | undefined;
    if (!r || r.bad_secret_since === null || (r.bad_secret_since as number) <= now - windowMs) return 0;
    return r.bad_secret_count as number;
  }

  // --- outbox

  async claimMail(now: number, leaseMs: number, limit: number): Promise<MailItem[]> {
    return this.db
      .transaction(() => {
        const rows = this.db
          .prepare(
            `SELECT * FROM outbox WHERE state = 'queued' AND next_attempt_at <= ?
               AND (lease_until IS NULL OR lease_until <= ?) ORDER BY next_attempt_at, created_at LIMIT ?`,
          )
          .all(now, now, limit) as Row[];
        const claim = this.db.prepare(
          'UPDATE outbox SET lease_token = ?, lease_until = ?, attempts = attempts + 1 WHERE id = ?',
        );
        return rows.map((r) => {
          const token = randomBytes(12).toString('hex');
          claim.run(token, now + leaseMs, r.id);
          return {
            id: r.id as string,
            kind: r.kind as MailItem['kind'],
            deliveryId: r.delivery_id as string,
            recipient: r.recipient as string,
            payload: r.payload ? new Uint8Array(r.payload as Buffer) : null,
            attempts: (r.attempts as number) + 1,
            createdAt: r.created_at as number,
            leaseToken: token,
          };
        });
      })
      .immediate();
  }

  async completeMail(id: string, leaseToken: string, at: number): Promise<boolean> {
    return this.db
      .transaction(() => {
        const r = this.db
          .prepare(
            "SELECT kind, delivery_id FROM outbox WHERE id = ? AND lease_token = ? AND state = 'queued'",
          )
          .get(id, leaseToken) as Row | undefined;
        if (!r) return false;
        this.db
          .prepare(
            `UPDATE outbox SET state = 'sent', payload = NULL, done_at = ?, lease_token = NULL, lease_until = NULL,
               last_error = NULL WHERE id = ?`,
          )
          .run(at, id);
        if (r.kind === 'notification')
          this.transitionSync({
            deliveryId: r.delivery_id as string,
            from: ['pending'],
            to: 'notified',
            event: 'notified',
            at,
          });
        else this.insertEvent(r.delivery_id as string, 'receipt-sent', null, at);
        return true;
      })
      .immediate();
  }

  async retryMail(id: string, leaseToken: string, nextAttemptAt: number, error: string): Promise<boolean> {
    return (
      this.db
        .prepare(
          `UPDATE outbox SET lease_token = NULL, lease_until = NULL, next_attempt_at = ?, last_error = ?
           WHERE id = ? AND lease_token = ? AND state = 'queued'`,
        )
        .run(nextAttemptAt, error.slice(0, 500), id, leaseToken).changes > 0
    );
  }

  async failMail(id: string, leaseToken: string, at: number, error: string): Promise<boolean> {
    return this.db
      .transaction(() => {
        const r = this.db
          .prepare(
            "SELECT kind, delivery_id FROM outbox WHERE id = ? AND lease_token = ? AND state = 'queued'",
          )
          .get(id, leaseToken) as Row | undefined;
        if (!r) return false;
        this.db
          .prepare(
            `UPDATE outbox SET state = 'failed', payload = NULL, done_at = ?, lease_token = NULL, lease_until = NULL,
               last_error = ? WHERE id = ?`,
          )
          .run(at, error.slice(0, 500), id);
        if (r.kind === 'notification')
          this.transitionSync({
            deliveryId: r.delivery_id as string,
            from: ['pending'],
            to: 'failed',
            event: 'failed',
            detail: error.slice(0, 200),
            at,
          });
        else this.insertEvent(r.delivery_id as string, 'receipt-failed', error.slice(0, 200), at);
        return true;
      })
      .immediate();
  }

  async mailStats(): Promise<MailStats> {
    const counts = this.db.prepare(SQLITE_INDEXED_QUERIES.mailCounts).all() as Row[];
    const by = (s: string): number => (counts.find((c) => c.state === s)?.n as number | undefined) ?? 0;
    const oldest = this.db.prepare(SQLITE_INDEXED_QUERIES.mailOldestQueued).get() as Row;
    return {
      queued: by('queued'),
      sent: by('sent'),
      failed: by('failed'),
      cancelled: by('cancelled'),
      oldestQueuedAt: (oldest.t as number | null) ?? null,
    };
  }

  async addLocalMail(mail: LocalMail): Promise<void> {
    this.db
      .prepare(
        'INSERT OR IGNORE INTO local_mailbox (id, to_addr, subject, text, html, created_at) VALUES (?, ?, ?, ?, ?, ?)',
      )
      .run(mail.id, mail.to, mail.subject, mail.text, mail.html, mail.createdAt);
  }

  async listLocalMail(limit: number): Promise<LocalMail[]> {
    return (
      this.db
        .prepare('SELECT * FROM local_mailbox ORDER BY created_at DESC, rowid DESC LIMIT ?')
        .all(limit) as Row[]
    ).map((r) => ({
      id: r.id as string,
      to: r.to_addr as string,
      subject: r.subject as string,
      text: r.text as string,
      html: r.html as string,
      createdAt: r.created_at as number,
    }));
  }

  // --- SMTP relay forward queue

  private insertForward(input: NewForward, rel: string): void {
    if (input.recipients.length === 0) throw new Error('A forward needs at least one recipient.');
    this.db
      .prepare(
        `INSERT INTO forward_queue (id, mail_from, recipients, size, sha256, sender_id, body_path, state,
           next_attempt_at, created_at, expires_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, 'queued', ?, ?, ?)`,
      )
      .run(
        input.id,
        input.mailFrom,
        JSON.stringify(input.recipients),
        input.size,
        input.sha256,
        input.senderId,
        rel,
        input.createdAt,
        input.createdAt,
        input.expiresAt,
      );
  }

  /** Places a staged forward body; the caller commits the row (or removes the file on failure). */
  private async placeForward(input: NewForward, body: StagedBody): Promise<{ rel: string; abs: string }> {
    if (body.size !== input.size || body.sha256 !== input.sha256) {
      await unlink(this.stagedPath(body)).catch(() => undefined);
      throw new Error('The staged body does not match the forward metadata.');
    }
    try {
      return await this.placeBody(body, input.id, 'relay');
    } catch (e) {
      await unlink(this.stagedPath(body)).catch(() => undefined);
      throw e;
    }
  }

  async enqueueForward(input: NewForward, body: StagedBody): Promise<void> {
    const { rel, abs } = await this.placeForward(input, body);
    try {
      this.db.transaction(() => this.insertForward(input, rel)).immediate();
    } catch (e) {
      await unlink(abs).catch(() => undefined);
      throw e;
    }
  }

  async getForward(id: string): Promise<ForwardRecord | null> {
    const r = this.db.prepare('SELECT * FROM forward_queue WHERE id = ?').get(id) as Row | undefined;
    if (!r) return null;
    return {
      ...forwardFromRow(r),
      state: r.state as ForwardState,
      attempts: r.attempts as number,
      nextAttemptAt: r.next_attempt_at as number,
      lastError: (r.last_error as string | null) ?? null,
      doneAt: (r.done_at as number | null) ?? null,
    };
  }

  async claimForwards(now: number, leaseMs: number, limit: number): Promise<ForwardItem[]> {
    return this.db
      .transaction(() => {
        const rows = this.db
          .prepare(
            `SELECT * FROM forward_queue WHERE state = 'queued' AND next_attempt_at <= ?
               AND (lease_until IS NULL OR lease_until <= ?) ORDER BY next_attempt_at, created_at LIMIT ?`,
          )
          .all(now, now, limit) as Row[];
        const claim = this.db.prepare(
          'UPDATE forward_queue SET lease_token = ?, lease_until = ?, attempts = attempts + 1 WHERE id = ?',
        );
        return rows.map((r) => {
          const token = randomBytes(12).toString('hex');
          claim.run(token, now + leaseMs, r.id);
          return { ...forwardFromRow(r), attempts: (r.attempts as number) + 1, leaseToken: token };
        });
      })
      .immediate();
  }

  async openForwardBody(id: string): Promise<Readable | null> {
    const r = this.db
      .prepare("SELECT body_path FROM forward_queue WHERE id = ? AND state = 'queued'")
      .get(id) as Row | undefined;
    if (!r || r.body_path === null) return null;
    try {
      const fh = await open(join(this.dataDir, r.body_path as string), 'r');
      return fh.createReadStream({ highWaterMark: BODY_READ_CHUNK });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    }
  }

  /** Ends a leased forward (sent or failed) in the current transaction; the body path or null. */
  private endForward(id: string, leaseToken: string, state: ForwardState, at: number, error: string | null) {
    const r = this.db
      .prepare("SELECT body_path FROM forward_queue WHERE id = ? AND lease_token = ? AND state = 'queued'")
      .get(id, leaseToken) as Row | undefined;
    if (!r) return null;
    this.db
      .prepare(
        `UPDATE forward_queue SET state = ?, body_path = NULL, done_at = ?, lease_token = NULL, lease_until = NULL,
           last_error = ? WHERE id = ?`,
      )
      .run(state, at, error === null ? null : error.slice(0, 500), id);
    return { path: (r.body_path as string | null) ?? null };
  }

  private async removeForwardBody(rel: string | null): Promise<void> {
    // After the commit: a crash before this leaves an orphan file that recover() removes.
    if (rel) await unlink(join(this.dataDir, rel)).catch(() => undefined);
  }

  async completeForward(id: string, leaseToken: string, at: number): Promise<boolean> {
    const ended = this.db.transaction(() => this.endForward(id, leaseToken, 'sent', at, null)).immediate();
    if (!ended) return false;
    await this.removeForwardBody(ended.path);
    return true;
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
    return (
      this.db
        .prepare(
          `UPDATE forward_queue SET lease_token = NULL, lease_until = NULL, next_attempt_at = ?, last_error = ?,
             recipients = COALESCE(?, recipients)
           WHERE id = ? AND lease_token = ? AND state = 'queued'`,
        )
        .run(
          nextAttemptAt,
          error.slice(0, 500),
          recipients ? JSON.stringify(recipients) : null,
          id,
          leaseToken,
        ).changes > 0
    );
  }

  async failForward(
    id: string,
    leaseToken: string,
    at: number,
    error: string,
    bounce?: { forward: NewForward; body: StagedBody },
  ): Promise<boolean> {
    const placed = bounce ? await this.placeForward(bounce.forward, bounce.body) : null;
    let ended: { path: string | null } | null;
    try {
      ended = this.db
        .transaction(() => {
          const e = this.endForward(id, leaseToken, 'failed', at, error);
          if (e && bounce && placed) this.insertForward(bounce.forward, placed.rel);
          return e;
        })
        .immediate();
    } catch (e) {
      if (placed) await unlink(placed.abs).catch(() => undefined);
      throw e;
    }
    if (!ended) {
      if (placed) await unlink(placed.abs).catch(() => undefined);
      return false;
    }
    await this.removeForwardBody(ended.path);
    return true;
  }

  async forwardStats(): Promise<ForwardStats> {
    const counts = this.db.prepare(SQLITE_INDEXED_QUERIES.forwardCounts).all() as Row[];
    const by = (s: string): number => (counts.find((c) => c.state === s)?.n as number | undefined) ?? 0;
    const oldest = this.db.prepare(SQLITE_INDEXED_QUERIES.forwardOldestQueued).get() as Row;
    return {
      queued: by('queued'),
      sent: by('sent'),
      failed: by('failed'),
      oldestQueuedAt: (oldest.t as number | null) ?? null,
    };
  }

  // --- history retention

  async pruneHistory(before: number, limit: number): Promise<PrunedHistory> {
    const { mails, forwards, paths } = this.db
      .transaction(() => {
        const mailIds = (this.db.prepare(SQLITE_INDEXED_QUERIES.pruneMails).all(before, limit) as Row[]).map(
          (r) => r.id as string,
        );
        const deleteMail = this.db.prepare('DELETE FROM outbox WHERE id = ?');
        for (const id of mailIds) deleteMail.run(id);
        const fwd = this.db.prepare(SQLITE_INDEXED_QUERIES.pruneForwards).all(before, limit) as Row[];
        const deleteForward = this.db.prepare('DELETE FROM forward_queue WHERE id = ?');
        for (const r of fwd) deleteForward.run(r.id);
        return {
          mails: mailIds.length,
          forwards: fwd.length,
          // Finished forwards have no body any more; one left by an interrupted removal goes now.
          paths: fwd.map((r) => (r.body_path as string | null) ?? null),
        };
      })
      .immediate();
    for (const p of paths) await this.removeForwardBody(p);
    return { mails, forwards };
  }

  // --- directory

  async publishDirectoryEntry(entry: DirectoryEntry): Promise<void> {
    this.db
      .prepare(
        `INSERT INTO directory (email, kind, data, fingerprint, delivery_id, published_at) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (email, kind) DO UPDATE SET data = excluded.data, fingerprint = excluded.fingerprint,
           delivery_id = excluded.delivery_id, published_at = excluded.published_at`,
      )
      .run(entry.email, entry.kind, entry.data, entry.fingerprint, entry.deliveryId, entry.publishedAt);
  }

  async lookupDirectory(email: string): Promise<DirectoryEntry[]> {
    return (this.db.prepare('SELECT * FROM directory WHERE email = ? ORDER BY kind').all(email) as Row[]).map(
      (r) => ({
        email: r.email as string,
        kind: r.kind as DirectoryEntry['kind'],
        data: r.data as string,
        fingerprint: r.fingerprint as string,
        deliveryId: r.delivery_id as string,
        publishedAt: r.published_at as number,
      }),
    );
  }
}
