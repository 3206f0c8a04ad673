/**
 * Schema migrations of the PostgreSQL store, applied in order at start under an advisory lock (so N
 * nodes starting together migrate once), each in its own transaction, recorded in
 * `schema_migrations`. Never edit a released migration: add the next one.
 *
 * Times are epoch milliseconds (BIGINT), like the embedded store, so rows copy across unchanged.
 * Message bodies live in `body_chunks` (fixed-size bytea chunks keyed by a body ref); a body is
 * staged (a `staged_bodies` row owned by the writing node) until `createMessage` hands its ref to a
 * `messages` row in one transaction.
 */
import type { Migration } from './sqlite-migrations.ts';

export const POSTGRES_MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: 'initial schema',
    sql: `
      CREATE TABLE senders (
        id TEXT PRIMARY KEY,
        email TEXT NOT NULL,
        api_key_hash TEXT NOT NULL UNIQUE,
        created_at BIGINT NOT NULL,
        revoked_at BIGINT
      );
      CREATE UNIQUE INDEX senders_active_email ON senders (email) WHERE revoked_at IS NULL;

      CREATE TABLE staged_bodies (
        ref TEXT PRIMARY KEY,
        owner TEXT NOT NULL,
        size BIGINT,
        sha256 TEXT,
        created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
        touched_at TIMESTAMPTZ NOT NULL DEFAULT now()
      );

      CREATE TABLE body_chunks (
        ref TEXT NOT NULL,
        seq INTEGER NOT NULL,
        data BYTEA NOT NULL,
        PRIMARY KEY (ref, seq)
      );
      -- Chunks are written once and read whole: keep them out of line and uncompressed (ciphertext).
      ALTER TABLE body_chunks ALTER COLUMN data SET STORAGE EXTERNAL;

      CREATE TABLE messages (
        id TEXT PRIMARY KEY,
        sender_id TEXT NOT NULL REFERENCES senders (id),
        size BIGINT NOT NULL,
        sha256 TEXT NOT NULL,
        protocol TEXT NOT NULL,
        encrypted BOOLEAN NOT NULL,
        signed BOOLEAN NOT NULL,
        content_type TEXT NOT NULL,
        from_header TEXT,
        subject TEXT NOT NULL,
        header_date TEXT,
        header_message_id TEXT,
        body_ref TEXT NOT NULL UNIQUE,
        chunk_size INTEGER NOT NULL,
        receipt_requested BOOLEAN NOT NULL,
        created_at BIGINT NOT NULL,
        expires_at BIGINT NOT NULL,
        expired_at BIGINT,
        revoked_at BIGINT,
        purged_at BIGINT
      );
      CREATE INDEX messages_expiry ON messages (expires_at) WHERE expired_at IS NULL AND revoked_at IS NULL;
      CREATE INDEX messages_purge ON messages (expires_at) WHERE purged_at IS NULL;

      CREATE TABLE deliveries (
        seq BIGSERIAL UNIQUE,
        id TEXT PRIMARY KEY,
        message_id TEXT NOT NULL REFERENCES messages (id),
        recipient TEXT NOT NULL,
        secret_hash TEXT NOT NULL,
        state TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL,
        bad_secret_count INTEGER NOT NULL DEFAULT 0,
        bad_secret_since BIGINT
      );
      CREATE INDEX deliveries_message ON deliveries (message_id, seq);

      CREATE TABLE delivery_events (
        seq BIGSERIAL PRIMARY KEY,
        delivery_id TEXT NOT NULL REFERENCES deliveries (id),
        at BIGINT NOT NULL,
        type TEXT NOT NULL,
        detail TEXT
      );
      CREATE INDEX delivery_events_delivery ON delivery_events (delivery_id, seq);

      CREATE TABLE outbox (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        delivery_id TEXT NOT NULL REFERENCES deliveries (id),
        recipient TEXT NOT NULL,
        payload BYTEA,
        state TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at BIGINT NOT NULL,
        lease_token TEXT,
        lease_until BIGINT,
        last_error TEXT,
        created_at BIGINT NOT NULL,
        done_at BIGINT
      );
      CREATE INDEX outbox_due ON outbox (next_attempt_at, created_at) WHERE state = 'queued';
      CREATE INDEX outbox_delivery ON outbox (delivery_id);

      CREATE TABLE local_mailbox (
        seq BIGSERIAL UNIQUE,
        id TEXT PRIMARY KEY,
        to_addr TEXT NOT NULL,
        subject TEXT NOT NULL,
        text TEXT NOT NULL,
        html TEXT NOT NULL,
        created_at BIGINT NOT NULL
      );

      CREATE TABLE directory (
        email TEXT NOT NULL,
        kind TEXT NOT NULL,
        data TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        delivery_id TEXT NOT NULL,
        published_at BIGINT NOT NULL,
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
        recipients TEXT[] NOT NULL,
        size BIGINT NOT NULL,
        sha256 TEXT NOT NULL,
        sender_id TEXT REFERENCES senders (id),
        body_ref TEXT UNIQUE,
        chunk_size INTEGER NOT NULL,
        state TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at BIGINT NOT NULL,
        lease_token TEXT,
        lease_until BIGINT,
        last_error TEXT,
        created_at BIGINT NOT NULL,
        expires_at BIGINT NOT NULL,
        done_at BIGINT
      );
      CREATE INDEX forward_queue_due ON forward_queue (next_attempt_at, created_at) WHERE state = 'queued';
    `,
  },
  {
    version: 3,
    name: 'index for the purge of revoked messages',
    sql: `
      CREATE INDEX messages_revoked_unpurged ON messages (revoked_at) WHERE purged_at IS NULL AND revoked_at IS NOT NULL;
    `,
  },
  {
    version: 4,
    name: 'indexes for queue statistics and the history retention',
    sql: `
      -- Counts by state and the oldest queued row (read on every /metrics scrape) by index range scans.
      CREATE INDEX outbox_state_created ON outbox (state, created_at);
      CREATE INDEX forward_queue_state_created ON forward_queue (state, created_at);
      -- Finished rows by age, for the retention pass (--history-days).
      CREATE INDEX outbox_done ON outbox (done_at) WHERE done_at IS NOT NULL;
      CREATE INDEX forward_queue_done ON forward_queue (done_at) WHERE done_at IS NOT NULL;
    `,
  },
];
