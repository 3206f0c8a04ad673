/**
 * The store, composed of its jobs, each behind its own small interface in its own file:
 *
 *   senders.ts        who may submit (API keys)
 *   submissions.ts    stored messages: body + metadata made visible together; revocation
 *   deliveries.ts     one delivery per recipient and its state machine (opened, processed, …)
 *   outbox.ts         notification and receipt mails, claimed with leases
 *   local-mailbox.ts  the built-in outbox (no upstream SMTP server)
 *   forward-queue.ts  the SMTP relay's forward queue
 *   directory.ts      published certificates and keys
 *   retention.ts      expiry, body removal, history pruning (the purge pass)
 *   counters.ts       counts in fixed windows shared by all nodes (wrong link secrets per client)
 *   wks.ts            Web Key Service submission keys and pending publication requests
 *
 * written once on Kysely for SQLite and PostgreSQL (schema.ts, migrations.ts; the differences in
 * dialect.ts), with the bodies behind their own interface (blobs.ts: files or PostgreSQL chunks).
 * sqlite.ts and postgres.ts open a store; index.ts picks one from the settings.
 */
import { sql, type Kysely, type SqlBool } from 'kysely';
import { randomBytes } from 'node:crypto';
import type { BlobStore, BodyWriter, OwnedBodies } from './blobs.ts';
import { SqlCounters, type Counters } from './counters.ts';
import type { StoreDb } from './db.ts';
import { SqlDeliveries, type Deliveries } from './deliveries.ts';
import type { Dialect } from './dialect.ts';
import { StoreFault, UNAVAILABLE_MESSAGE } from './faults.ts';
import { SqlDirectory, type Directory } from './directory.ts';
import { SqlForwardQueue, type ForwardQueue } from './forward-queue.ts';
import { SqlLocalMailbox, type LocalMailbox } from './local-mailbox.ts';
import { migrate, schemaVersion } from './migrations.ts';
import { SqlOutbox, type Outbox } from './outbox.ts';
import { SqlRetention, type Retention } from './retention.ts';
import type { Database } from './schema.ts';
import { SqlSenders, type Senders } from './senders.ts';
import { SqlSubmissions, type Submissions } from './submissions.ts';
import { SqlWebKeyService, type WebKeyServiceStore } from './wks.ts';

/** Where bodies are written before they belong to a message or a queued forward. */
export interface BodyStaging {
  /** A writer into the staging area; hand its `finish()` result to submissions or forwards. */
  createWriter(): Promise<BodyWriter>;
}

export interface Store {
  readonly kind: 'sqlite' | 'postgres';
  readonly bodies: BodyStaging;
  readonly senders: Senders;
  readonly submissions: Submissions;
  readonly deliveries: Deliveries;
  readonly outbox: Outbox;
  readonly localMail: LocalMailbox;
  readonly forwards: ForwardQueue;
  readonly directory: Directory;
  readonly retention: Retention;
  readonly counters: Counters;
  readonly wks: WebKeyServiceStore;
  /** Schema migrations to the newest version (idempotent). */
  migrate(): Promise<void>;
  /** The newest applied schema version. */
  schemaVersion(): Promise<number>;
  /** Start-of-server housekeeping: drop staged bodies and bodies that no committed row owns. */
  recover(): Promise<{ removedStaged: number; removedOrphans: number }>;
  /**
   * Start-of-server: mails and forwards this node's previous (dead) process had claimed are due
   * again now, not when their lease runs out. Returns how many.
   */
  releaseOwnClaims(): Promise<number>;
  /** Throws when the store cannot serve (for /readyz). */
  ping(): Promise<void>;
  close(): Promise<void>;
  /** The typed database, dialect and body store underneath (for `sealpost migrate` and tests). */
  readonly db: StoreDb;
}

/** The refs that rows own: a stored, not purged message's body; a queued forward's body. */
function ownedBodies(kysely: Kysely<Database>): OwnedBodies {
  const messages = (q: Kysely<Database>) =>
    q.selectFrom('messages').select('body_ref as ref').where('purged_at', 'is', null);
  const forwards = (q: Kysely<Database>) =>
    q
      .selectFrom('forward_queue')
      .select('body_ref as ref')
      .where('state', '=', 'queued')
      .where('body_ref', 'is not', null)
      .$narrowType<{ ref: string }>(); // the IS NOT NULL above
  return {
    async has(ref) {
      const found = await messages(kysely)
        .where('body_ref', '=', ref)
        .unionAll(forwards(kysely).where('body_ref', '=', ref))
        .executeTakeFirst();
      return found !== undefined;
    },
    owns: (q, area, ref) =>
      area === 'messages'
        ? sql<SqlBool>`EXISTS (${messages(q).where('body_ref', '=', ref)})`
        : sql<SqlBool>`EXISTS (${forwards(q).where('body_ref', '=', ref)})`,
  };
}

export async function createStore(parts: {
  kind: 'sqlite' | 'postgres';
  kysely: Kysely<Database>;
  dialect: Dialect;
  blobs: BlobStore;
  /** This node's lasting name (node-id.ts); random when not given. */
  nodeId?: string;
  close(): Promise<void>;
}): Promise<Store> {
  const nodeId = parts.nodeId ?? randomBytes(12).toString('base64url');
  const db: StoreDb = { kysely: parts.kysely, dialect: parts.dialect, blobs: parts.blobs, nodeId };
  let closed: Promise<void> | null = null;
  const store: Store = {
    kind: parts.kind,
    db,
    bodies: { createWriter: () => parts.blobs.createWriter() },
    senders: new SqlSenders(db),
    submissions: new SqlSubmissions(db),
    deliveries: new SqlDeliveries(db),
    outbox: new SqlOutbox(db),
    localMail: new SqlLocalMailbox(db),
    forwards: new SqlForwardQueue(db),
    directory: new SqlDirectory(db),
    retention: new SqlRetention(db),
    counters: new SqlCounters(db),
    wks: new SqlWebKeyService(db),
    migrate: () => migrate(parts.kysely, parts.dialect),
    schemaVersion: () => schemaVersion(parts.kysely),
    recover: () => parts.blobs.recover(parts.kysely, ownedBodies(parts.kysely)),
    async releaseOwnClaims() {
      // The lease token starts with the node's name (queues.ts).
      let releasedClaims = 0;
      for (const table of ['outbox', 'forward_queue'] as const) {
        const r = await parts.kysely
          .updateTable(table)
          .set({ lease_token: null, lease_until: null })
          .where('state', '=', 'queued')
          .where('lease_token', 'like', `${nodeId}.%`)
          .executeTakeFirst();
        releasedClaims += Number(r.numUpdatedRows);
      }
      return releasedClaims;
    },
    async ping() {
      // Bounded: a database that does not answer must not hold /readyz open.
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          sql`SELECT 1`.execute(parts.kysely),
          new Promise((_, reject) => {
            timer = setTimeout(() => reject(new StoreFault('unavailable', UNAVAILABLE_MESSAGE)), 3000);
          }),
        ]);
      } finally {
        clearTimeout(timer);
      }
    },
    close: () => (closed ??= parts.close()),
  };
  try {
    await store.migrate();
  } catch (e) {
    await store.close().catch(() => undefined);
    throw e;
  }
  return store;
}
