/**
 * Schema migrations of the embedded store, applied in order, each in its own transaction, recorded
 * in `schema_migrations`. Never edit a released migration: add the next one.
 */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const SQLITE_MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: 'initial schema',
    sql: `
      CREATE TABLE senders (
        id TEXT PRIMARY KEY,
        email TEXT NOT NULL,
        api_key_hash TEXT NOT NULL UNIQUE,
        created_at INTEGER NOT NULL,
        revoked_at INTEGER
      );
      CREATE UNIQUE INDEX senders_active_email ON senders (email) WHERE revoked_at IS NULL;

      CREATE TABLE messages (
        id TEXT PRIMARY KEY,
        sender_id TEXT NOT NULL REFERENCES senders (id),
        size INTEGER NOT NULL,
        sha256 TEXT NOT NULL,
        protocol TEXT NOT NULL,
        encrypted INTEGER NOT NULL,
        signed INTEGER NOT NULL,
        content_type TEXT NOT NULL,
        from_header TEXT,
        subject TEXT NOT NULL,
        header_date TEXT,
        header_message_id TEXT,
        body_path TEXT NOT NULL,
        receipt_requested INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        expired_at INTEGER,
        revoked_at INTEGER,
        purged_at INTEGER
      );
      CREATE INDEX messages_expiry ON messages (expires_at) WHERE expired_at IS NULL AND revoked_at IS NULL;
      CREATE INDEX messages_purge ON messages (purged_at);

      CREATE TABLE deliveries (
        id TEXT PRIMARY KEY,
        message_id TEXT NOT NULL REFERENCES messages (id),
        recipient TEXT NOT NULL,
        secret_hash TEXT NOT NULL,
        state TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        bad_secret_count INTEGER NOT NULL DEFAULT 0,
        bad_secret_since INTEGER
      );
      CREATE INDEX deliveries_message ON deliveries (message_id);

      CREATE TABLE delivery_events (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        delivery_id TEXT NOT NULL REFERENCES deliveries (id),
        at INTEGER NOT NULL,
        type TEXT NOT NULL,
        detail TEXT
      );
      CREATE INDEX delivery_events_delivery ON delivery_events (delivery_id, seq);

      CREATE TABLE outbox (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        delivery_id TEXT NOT NULL REFERENCES deliveries (id),
        recipient TEXT NOT NULL,
        payload BLOB,
        state TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at INTEGER NOT NULL,
        lease_token TEXT,
        lease_until INTEGER,
        last_error TEXT,
        created_at INTEGER NOT NULL,
        done_at INTEGER
      );
      CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE state = 'queued';

      CREATE TABLE local_mailbox (
        id TEXT PRIMARY KEY,
        to_addr TEXT NOT NULL,
        subject TEXT NOT NULL,
        text TEXT NOT NULL,
        html TEXT NOT NULL,
        created_at INTEGER NOT NULL
      );

      CREATE TABLE directory (
        email TEXT NOT NULL,
        kind TEXT NOT NULL,
        data TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        delivery_id TEXT NOT NULL,
        published_at INTEGER NOT NULL,
        PRIMARY KEY (email, kind)
      );
    `,
  },
  {
    version: 2,
    name: 'SMTP relay forward queue',
    sql: `
      CREATE TABLE forward_queue (
        id TEXT PRIMARY KEY,
        mail_from TEXT NOT NULL,
        recipients TEXT NOT NULL,
        size INTEGER NOT NULL,
        sha256 TEXT NOT NULL,
        sender_id TEXT REFERENCES senders (id),
        body_path TEXT,
        state TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at INTEGER NOT NULL,
        lease_token TEXT,
        lease_until INTEGER,
        last_error TEXT,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        done_at INTEGER
      );
      CREATE INDEX forward_queue_due ON forward_queue (next_attempt_at) WHERE state = 'queued';
    `,
  },
  {
    version: 3,
    name: 'indexes for queue statistics and the history retention',
    sql: `
      -- Counts by state and the oldest queued row (read on every /metrics scrape) from the index alone.
      CREATE INDEX outbox_state_created ON outbox (state, created_at);
      CREATE INDEX forward_queue_state_created ON forward_queue (state, created_at);
      -- Finished rows by age, for the retention pass (--history-days).
      CREATE INDEX outbox_done ON outbox (done_at) WHERE done_at IS NOT NULL;
      CREATE INDEX forward_queue_done ON forward_queue (done_at) WHERE done_at IS NOT NULL;
    `,
  },
];
