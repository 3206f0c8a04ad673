/**
 * The one schema of both stores, as Kysely table types: every query in src/server/store is typed
 * by these, so a row is read as what it is without casts. The tables themselves are created by
 * migrations.ts, for SQLite and PostgreSQL alike (dialect.ts names the few differences).
 *
 * Conventions: times are epoch milliseconds and sizes are byte counts, INTEGER in SQLite and BIGINT
 * in PostgreSQL (read as numbers: postgres.ts); identifiers are opaque text made by the callers;
 * booleans are `Flag`s; lists are JSON text.
 */
import type { ColumnType, Generated } from 'kysely';

/**
 * A boolean column: INTEGER 0/1 in SQLite, BOOLEAN in PostgreSQL. Written as 0/1 (PostgreSQL takes
 * '1' and '0' for a boolean) and read with `isSet`.
 */
export type Flag = ColumnType<number | boolean, 0 | 1, 0 | 1>;

export const isSet = (v: number | boolean): boolean => v === true || v === 1;
export const flag = (b: boolean): 0 | 1 => (b ? 1 : 0);

export type DeliveryState =
  'pending' | 'notified' | 'opened' | 'processed' | 'expired' | 'revoked' | 'failed';
export type MailKind = 'notification' | 'receipt';
export type MailState = 'queued' | 'sent' | 'failed' | 'cancelled';
export type ForwardState = 'queued' | 'sent' | 'failed';
export type DirectoryKind = 'x509' | 'openpgp';

export interface SendersTable {
  id: string;
  email: string;
  api_key_hash: string;
  created_at: number;
  revoked_at: number | null;
}

export interface MessagesTable {
  id: string;
  sender_id: string;
  size: number;
  sha256: string;
  protocol: string;
  encrypted: Flag;
  signed: Flag;
  content_type: string;
  from_header: string | null;
  subject: string;
  header_date: string | null;
  header_message_id: string | null;
  /** Where the body store keeps the body (blobs.ts). */
  body_ref: string;
  receipt_requested: Flag;
  created_at: number;
  expires_at: number;
  expired_at: number | null;
  revoked_at: number | null;
  purged_at: number | null;
}

export interface DeliveriesTable {
  id: string;
  message_id: string;
  recipient: string;
  secret_hash: string;
  state: DeliveryState;
  created_at: number;
  updated_at: number;
  bad_secret_count: Generated<number>;
  bad_secret_since: number | null;
}

export interface DeliveryEventsTable {
  seq: Generated<number>;
  delivery_id: string;
  at: number;
  type: string;
  detail: string | null;
}

/** The columns of a work queue's row (outbox, forward queue): its lease and its history. */
interface LeasedRow {
  attempts: Generated<number>;
  next_attempt_at: number;
  lease_token: string | null;
  lease_until: number | null;
  last_error: string | null;
  created_at: number;
  done_at: number | null;
}

export interface OutboxTable extends LeasedRow {
  id: string;
  kind: MailKind;
  delivery_id: string;
  recipient: string;
  /** Sealed bytes; wiped when the mail is done. */
  payload: Buffer | null;
  state: MailState;
}

export interface LocalMailboxTable {
  id: string;
  to_addr: string;
  subject: string;
  text: string;
  html: string;
  created_at: number;
}

export interface DirectoryTable {
  email: string;
  kind: DirectoryKind;
  data: string;
  fingerprint: string;
  delivery_id: string;
  published_at: number;
}

export interface ForwardQueueTable extends LeasedRow {
  id: string;
  mail_from: string;
  /** JSON array of addresses. */
  recipients: string;
  size: number;
  sha256: string;
  sender_id: string | null;
  /** Null once the forward is done (its body is gone). */
  body_ref: string | null;
  state: ForwardState;
  expires_at: number;
}

/** Bodies being uploaded, by their writing node (blob-chunks.ts; PostgreSQL only). */
export interface StagedBodiesTable {
  ref: string;
  owner: string;
  size: number | null;
  sha256: string | null;
  created_at: Generated<Date>;
  touched_at: Generated<Date>;
}

/** Body bytes in 1 MiB chunks (blob-chunks.ts; PostgreSQL only). */
export interface BodyChunksTable {
  ref: string;
  seq: number;
  data: Buffer;
}

export interface SchemaMigrationsTable {
  version: number;
  name: string;
  applied_at: number;
}

/** A count in a fixed window (counters.ts): wrong link secrets per client, and the like. */
export interface CountersTable {
  key: string;
  count: number;
  window_start: number;
}

/** A served domain's Web Key Service submission key (store/wks.ts). */
export interface WksKeysTable {
  domain: string;
  fingerprint: string;
  public_key: string;
  /** The armored private key, sealed under the sealing key. */
  private_key: Buffer;
  created_at: number;
}

/** A key publication waiting for its confirmation response (store/wks.ts). */
export interface WksPendingTable {
  id: string;
  email: string;
  fingerprint: string;
  key_data: string;
  created_at: number;
  expires_at: number;
}

export interface Database {
  senders: SendersTable;
  messages: MessagesTable;
  deliveries: DeliveriesTable;
  delivery_events: DeliveryEventsTable;
  outbox: OutboxTable;
  local_mailbox: LocalMailboxTable;
  directory: DirectoryTable;
  forward_queue: ForwardQueueTable;
  staged_bodies: StagedBodiesTable;
  body_chunks: BodyChunksTable;
  counters: CountersTable;
  wks_keys: WksKeysTable;
  wks_pending: WksPendingTable;
  schema_migrations: SchemaMigrationsTable;
}

/** JSON text of a list of addresses, and back (refusing anything that is not a list of strings). */
export function encodeList(list: readonly string[]): string {
  return JSON.stringify(list);
}

export function decodeList(text: string): string[] {
  const v: unknown = JSON.parse(text);
  if (!Array.isArray(v) || !v.every((x): x is string => typeof x === 'string'))
    throw new Error('A stored address list is not a JSON list of strings.');
  return v;
}
