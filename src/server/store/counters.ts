/**
 * Counters in fixed windows, kept in the store so every node sees the same count (PostgreSQL) and a
 * restart does not reset them: wrong link secrets per client, and per client and delivery
 * (pickup/access.ts). A counter is a row keyed by an opaque string the caller makes; it starts
 * again at 1 once its window has passed. The purge pass deletes counters whose window is long over.
 */
import type { StoreDb } from './db.ts';

export interface Counters {
  /** Counts one event under `key`; returns the events within the window that started at its first. */
  hit(key: string, now: number, windowMs: number): Promise<number>;
  /** The events under `key` in the window still open at `now` (0 when there is none). */
  count(key: string, now: number, windowMs: number): Promise<number>;
  /** Deletes counters whose window started before `before`; returns how many. */
  prune(before: number): Promise<number>;
}

export class SqlCounters implements Counters {
  constructor(private readonly db: StoreDb) {}

  async hit(key: string, now: number, windowMs: number): Promise<number> {
    // One statement on both dialects (INSERT … ON CONFLICT DO UPDATE … RETURNING): two nodes
    // counting at once both count.
    const stale = now - windowMs;
    const r = await this.db.kysely
      .insertInto('counters')
      .values({ key, count: 1, window_start: now })
      .onConflict((oc) =>
        oc.column('key').doUpdateSet((eb) => ({
          count: eb
            .case()
            .when('counters.window_start', '<=', stale)
            .then(1)
            .else(eb('counters.count', '+', 1))
            .end(),
          window_start: eb
            .case()
            .when('counters.window_start', '<=', stale)
            .then(now)
            .else(eb.ref('counters.window_start'))
            .end(),
        })),
      )
      .returning('count')
      .executeTakeFirst();
    return r?.count ?? 1;
  }

  async count(key: string, now: number, windowMs: number): Promise<number> {
    const r = await this.db.kysely
      .selectFrom('counters')
      .select(['count', 'window_start'])
      .where('key', '=', key)
      .executeTakeFirst();
    return r && r.window_start > now - windowMs ? r.count : 0;
  }

  async prune(before: number): Promise<number> {
    const r = await this.db.kysely
      .deleteFrom('counters')
      .where('window_start', '<', before)
      .executeTakeFirst();
    return Number(r.numDeletedRows);
  }
}
