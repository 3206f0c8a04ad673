/**
 * Counters in fixed windows, kept in the store so every node sees the same count (PostgreSQL) and a
 * restart does not reset them: wrong link secrets per client, and per client and delivery
 * (pickup/access.ts). A counter is a row keyed by an opaque string the caller makes; it starts
 * again at 1 once its window has passed. The purge pass deletes counters whose window is long over.
 */
import type { StoreDb } from './db.ts';

/** A counter's open window: its events, and when it closes (ms since the epoch). */
export interface CounterWindow {
  count: number;
  resetAt: number;
}

export interface Counters {
  /** Counts one event under `key`; returns the events within the window that started at its first. */
  hit(key: string, now: number, windowMs: number): Promise<number>;
  /** `hit`, with when the window closes (for `Retry-After`). */
  hitWindow(key: string, now: number, windowMs: number): Promise<CounterWindow>;
  /** The events under `key` in the window still open at `now` (0 when there is none). */
  count(key: string, now: number, windowMs: number): Promise<number>;
  /** `count`, with when the window closes (`now` when there is none). */
  window(key: string, now: number, windowMs: number): Promise<CounterWindow>;
  /** Deletes counters whose window started before `before`; returns how many. */
  prune(before: number): Promise<number>;
}

export class SqlCounters implements Counters {
  constructor(private readonly db: StoreDb) {}

  async hit(key: string, now: number, windowMs: number): Promise<number> {
    return (await this.hitWindow(key, now, windowMs)).count;
  }

  async hitWindow(key: string, now: number, windowMs: number): Promise<CounterWindow> {
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
      .returning(['count', 'window_start'])
      .executeTakeFirst();
    return r
      ? { count: r.count, resetAt: Number(r.window_start) + windowMs }
      : { count: 1, resetAt: now + windowMs };
  }

  async count(key: string, now: number, windowMs: number): Promise<number> {
    return (await this.window(key, now, windowMs)).count;
  }

  async window(key: string, now: number, windowMs: number): Promise<CounterWindow> {
    const r = await this.db.kysely
      .selectFrom('counters')
      .select(['count', 'window_start'])
      .where('key', '=', key)
      .executeTakeFirst();
    return r && r.window_start > now - windowMs
      ? { count: r.count, resetAt: Number(r.window_start) + windowMs }
      : { count: 0, resetAt: now };
  }

  async prune(before: number): Promise<number> {
    const r = await this.db.kysely
      .deleteFrom('counters')
      .where('window_start', '<', before)
      .executeTakeFirst();
    return Number(r.numDeletedRows);
  }
}
