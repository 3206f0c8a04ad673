/**
 * What the two work queues — the notification outbox (outbox.ts) and the relay's forward queue
 * (forward-queue.ts) — do alike: leased claims of due rows, counts by state, and the deletion of
 * finished rows by age. Rows are claimed with `FOR UPDATE SKIP LOCKED` where the dialect has row
 * locks, so nodes split the due rows between them; a claim's lease token proves it later.
 */
import type { Kysely } from 'kysely';
import { randomBytes } from 'node:crypto';
import { lockRows } from './dialect.ts';
import type { StoreDb } from './db.ts';
import type { Database } from './schema.ts';

export type QueueTable = 'outbox' | 'forward_queue';

/**
 * Leases up to `limit` due queued rows of `table` for `leaseMs` (counting an attempt for each);
 * returns their ids and lease token, oldest due first.
 */
export async function claimDue(
  db: StoreDb,
  table: QueueTable,
  now: number,
  leaseMs: number,
  limit: number,
): Promise<{ ids: string[]; leaseToken: string }> {
  // The node's name first: a node starting again releases its dead predecessor's leases (store.ts).
  const leaseToken = `${db.nodeId}.${randomBytes(12).toString('hex')}`;
  const rows = await db.kysely
    .with(
      (cte) => cte('due').materialized(),
      (q) =>
        lockRows(
          db.dialect,
          q
            .selectFrom(table)
            .select(['id', 'next_attempt_at', 'created_at'])
            .where('state', '=', 'queued')
            .where('next_attempt_at', '<=', now)
            .where((eb) => eb.or([eb('lease_until', 'is', null), eb('lease_until', '<=', now)]))
            .orderBy('next_attempt_at')
            .orderBy('created_at')
            .limit(limit),
          'skip-locked',
        ),
    )
    .updateTable(table)
    .set((eb) => ({ lease_token: leaseToken, lease_until: now + leaseMs, attempts: eb('attempts', '+', 1) }))
    .where('id', 'in', (eb) => eb.selectFrom('due').select('due.id'))
    .returning(['id', 'next_attempt_at', 'created_at'])
    .execute();
  rows.sort((a, b) => a.next_attempt_at - b.next_attempt_at || a.created_at - b.created_at);
  return { ids: rows.map((r) => r.id), leaseToken };
}

/** Rows of `table` by state (an index-only pass over the state index, for /metrics). */
export function stateCountsQuery(q: Kysely<Database>, table: QueueTable) {
  return q
    .selectFrom(table)
    .select((eb) => ['state', eb.fn.countAll<number>().as('n')])
    .groupBy('state');
}

/** The creation time of the oldest queued row (one step down the state index). */
export function oldestQueuedQuery(q: Kysely<Database>, table: QueueTable) {
  return q
    .selectFrom(table)
    .select((eb) => eb.fn.min('created_at').as('t'))
    .where('state', '=', 'queued');
}

/** Counts by state and the oldest queued row. */
export async function queueStats(
  q: Kysely<Database>,
  table: QueueTable,
): Promise<{ count(state: string): number; oldestQueuedAt: number | null }> {
  const counts = await stateCountsQuery(q, table).execute();
  const oldest = await oldestQueuedQuery(q, table).executeTakeFirst();
  return {
    count: (state) => counts.find((c) => c.state === state)?.n ?? 0,
    oldestQueuedAt: oldest?.t ?? null,
  };
}

/**
 * Deletes up to `limit` rows of `table` that finished before `before`, oldest first; rows another
 * node is deleting are left to it. Queued rows have no `done_at` and are never touched.
 */
export function pruneFinishedQuery(
  db: StoreDb,
  q: Kysely<Database>,
  table: QueueTable,
  before: number,
  limit: number,
) {
  return q.deleteFrom(table).where('id', 'in', () =>
    lockRows(
      db.dialect,
      q
        .selectFrom(table)
        .select('id')
        // Finished rows only (state written out, so that the done_at index is the one to use).
        .where('done_at', 'is not', null)
        .where('done_at', '<', before)
        .where('state', '<>', 'queued')
        .orderBy('done_at')
        .limit(limit),
      'skip-locked',
    ),
  );
}

/**
 * The queries read on every /metrics scrape and by the retention pass, by name: each must be
 * answered from an index, never a pass over the whole table (store-sqlite.test.ts and
 * store-postgres.test.ts check the plans).
 */
export function indexedQueries(db: StoreDb) {
  const q = db.kysely;
  return {
    mailCounts: stateCountsQuery(q, 'outbox'),
    mailOldestQueued: oldestQueuedQuery(q, 'outbox'),
    forwardCounts: stateCountsQuery(q, 'forward_queue'),
    forwardOldestQueued: oldestQueuedQuery(q, 'forward_queue'),
    pruneMails: pruneFinishedQuery(db, q, 'outbox', 3000, 10),
    pruneForwards: pruneFinishedQuery(db, q, 'forward_queue', 3000, 10),
  };
}
