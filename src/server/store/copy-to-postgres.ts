/**
 * `sealpost migrate`: copies an embedded store (a data folder: SQLite database + message files) into
 * an empty PostgreSQL store — every table, and every stored body into chunks — in one PostgreSQL
 * transaction, so the target shows everything or nothing. Both sides are the one schema
 * (schema.ts), so rows copy as they are; only the bodies move from one body store to the other.
 *
 * The source is read in one SQLite transaction that holds its write lock (a consistent snapshot,
 * and no writer meanwhile), and each body is checked against its recorded size and SHA-256 while
 * it is copied. A data folder from an older release is migrated when it is opened, as `serve`
 * would. Stop the server that uses the data folder first.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Kysely } from 'kysely';
import type { StagedBody } from './blobs.ts';
import { transaction, type StoreDb } from './db.ts';
import { insertionOrder } from './dialect.ts';
import { openPostgresStore } from './postgres.ts';
import { flag, isSet, type Database } from './schema.ts';
import { openSqliteStore } from './sqlite.ts';

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

/** Rows per INSERT. */
const BATCH = 500;

async function insertAll<T>(rows: T[], insert: (batch: T[]) => Promise<unknown>): Promise<number> {
  for (let i = 0; i < rows.length; i += BATCH) await insert(rows.slice(i, i + BATCH));
  return rows.length;
}

/**
 * Copies one body from the source's body store into the target's staging area, checked against its
 * recorded size and digest; null when the source has no such body.
 */
async function copyBody(
  from: StoreDb,
  to: StoreDb,
  ref: string,
  expect: { size: number; sha256: string },
): Promise<StagedBody | null> {
  const source = await from.blobs.open(ref, expect.size);
  if (!source) return null;
  const writer = await to.blobs.createWriter();
  try {
    for await (const piece of source) await writer.write(piece);
  } catch (e) {
    await writer.abort();
    throw e;
  }
  const staged = await writer.finish();
  if (staged.size !== expect.size || staged.sha256 !== expect.sha256) {
    await writer.abort();
    throw new CopyError(
      `${ref} does not match its recorded size and SHA-256 (damaged?); nothing was copied.`,
    );
  }
  return staged;
}

async function isEmpty(tx: Kysely<Database>): Promise<boolean> {
  for (const table of [
    'senders',
    'messages',
    'outbox',
    'local_mailbox',
    'directory',
    'forward_queue',
    'wks_keys',
  ] as const) {
    const r = await tx
      .selectFrom(table)
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirst();
    if ((r?.n ?? 0) > 0) return false;
  }
  return true;
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
  const source = await openSqliteStore({ dataDir });
  const staged: StagedBody[] = [];
  try {
    const target = await openPostgresStore({ url: options.to, poolSize: 2 });
    try {
      return await transaction(source.db, (src) =>
        transaction(target.db, async (dst) => {
          if (!(await isEmpty(dst)))
            throw new CopyError('The PostgreSQL store is not empty: copy into a new database (or schema).');
          const r = await copyRows(src, dst, source.db, target.db, staged, log);
          // The target's rows own their bodies from the commit on.
          for (const body of staged) await target.db.blobs.adopt(dst, body);
          return r;
        }),
      );
    } catch (e) {
      for (const body of staged) await target.db.blobs.discard(body, null);
      throw e;
    } finally {
      await target.close();
    }
  } finally {
    await source.close();
  }
}

async function copyRows(
  src: Kysely<Database>,
  dst: Kysely<Database>,
  from: StoreDb,
  to: StoreDb,
  staged: StagedBody[],
  log: (line: string) => void,
): Promise<CopyReport> {
  const now = Date.now();
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
  const body = async (
    id: string,
    ref: string,
    area: 'messages' | 'relay',
    expect: { size: number; sha256: string },
  ) => {
    const copied = await copyBody(from, to, ref, expect);
    if (!copied) {
      report.missingBodies.push(id);
      return null;
    }
    staged.push(copied);
    report.bodies++;
    report.bytes += copied.size;
    return to.blobs.place(copied, area, id);
  };

  const senders = await src.selectFrom('senders').selectAll().orderBy('created_at').execute();
  report.senders = await insertAll(senders, (b) => dst.insertInto('senders').values(b).execute());
  log(`senders: ${report.senders}`);

  const messages = [];
  for (const m of await src.selectFrom('messages').selectAll().orderBy('created_at').execute()) {
    let bodyRef = randomBytes(16).toString('hex'); // a purged message keeps a ref to nothing
    let purgedAt = m.purged_at;
    if (purgedAt === null) {
      const ref = await body(m.id, m.body_ref, 'messages', m);
      // The embedded store answers 410 for a message whose file is gone; record it as purged.
      if (ref === null) purgedAt = now;
      else bodyRef = ref;
    }
    messages.push({
      ...m,
      encrypted: flag(isSet(m.encrypted)),
      signed: flag(isSet(m.signed)),
      receipt_requested: flag(isSet(m.receipt_requested)),
      body_ref: bodyRef,
      purged_at: purgedAt,
    });
    if (messages.length % 100 === 0) log(`messages: ${messages.length} (${report.bytes} bytes)`);
  }
  report.messages = await insertAll(messages, (b) => dst.insertInto('messages').values(b).execute());
  log(`messages: ${report.messages}, bodies: ${report.bodies} (${report.bytes} bytes)`);

  const deliveries = await src
    .selectFrom('deliveries')
    .selectAll()
    .orderBy(insertionOrder(from.dialect, 'deliveries'))
    .execute();
  report.deliveries = await insertAll(deliveries, (b) => dst.insertInto('deliveries').values(b).execute());
  const events = await src
    .selectFrom('delivery_events')
    .select(['delivery_id', 'at', 'type', 'detail'])
    .orderBy('seq')
    .execute();
  report.events = await insertAll(events, (b) => dst.insertInto('delivery_events').values(b).execute());
  log(`deliveries: ${report.deliveries}, events: ${report.events}`);

  // A lease of the stopped server means nothing to the new nodes.
  const mails = (await src.selectFrom('outbox').selectAll().orderBy('created_at').execute()).map((m) => ({
    ...m,
    lease_token: null,
    lease_until: null,
  }));
  report.sealedPending = mails.filter((m) => m.state === 'queued' && m.payload !== null).length;
  report.mails = await insertAll(mails, (b) => dst.insertInto('outbox').values(b).execute());
  const local = await src
    .selectFrom('local_mailbox')
    .selectAll()
    .orderBy(insertionOrder(from.dialect, 'local_mailbox'))
    .execute();
  report.localMails = await insertAll(local, (b) => dst.insertInto('local_mailbox').values(b).execute());
  const directory = await src.selectFrom('directory').selectAll().orderBy('email').orderBy('kind').execute();
  report.directory = await insertAll(directory, (b) => dst.insertInto('directory').values(b).execute());
  // Web Key Service submission keys (sealed: the nodes need the data folder's sealing key). Pending
  // publication requests are not copied: their senders ask again.
  const wksKeys = await src.selectFrom('wks_keys').selectAll().orderBy('domain').execute();
  await insertAll(wksKeys, (b) => dst.insertInto('wks_keys').values(b).execute());
  log(`outbox: ${report.mails}, built-in outbox: ${report.localMails}, directory: ${report.directory}`);

  const forwards = [];
  for (const f of await src.selectFrom('forward_queue').selectAll().orderBy('created_at').execute()) {
    const row = { ...f, lease_token: null, lease_until: null };
    if (f.state === 'queued' && f.body_ref !== null) {
      row.body_ref = await body(f.id, f.body_ref, 'relay', f);
      if (row.body_ref === null) {
        row.state = 'failed';
        row.last_error = 'the queued body was missing when the store was copied to PostgreSQL';
        row.done_at = now;
      }
    }
    forwards.push(row);
  }
  report.forwards = await insertAll(forwards, (b) => dst.insertInto('forward_queue').values(b).execute());
  log(`relay forward queue: ${report.forwards}`);
  return report;
}
