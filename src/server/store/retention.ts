/**
 * Retention: what the purge pass (src/server/purge.ts) does on every node. Messages past their
 * expiry are expired (their deliveries end, queued notifications are cancelled); bodies of expired
 * or revoked messages are removed; finished queue history older than --history-days is deleted. Rows
 * are taken with SKIP LOCKED where the dialect has row locks, so nodes never do the same work twice.
 */
import type { StoreDb } from './db.ts';
import { releaseBodies, transaction } from './db.ts';
import { endDeliveries } from './deliveries.ts';
import { lockRows } from './dialect.ts';
import { pruneFinishedQuery } from './queues.ts';

/** What one `pruneHistory` call deleted. */
export interface PrunedHistory {
  /** Outbox mails (sent, failed or cancelled). */
  mails: number;
  /** Relay forwards (sent or failed). */
  forwards: number;
}

export interface Retention {
  /**
   * Marks the deliveries of messages whose expiry has passed as expired (except processed ones,
   * which get an event), cancels their queued mails; returns the ids of messages newly expired.
   */
  expireDue(now: number, limit: number): Promise<string[]>;
  /** Messages that are expired or revoked and whose body is still stored. */
  listPurgeable(now: number, limit: number): Promise<string[]>;
  /** Deletes a message body (idempotent) and records when. */
  purgeBody(messageId: string, at: number): Promise<void>;
  /**
   * Deletes finished history finished before `before` (doneAt < before): up to `limit` outbox mails
   * that were sent, failed or cancelled, and up to `limit` relay forwards that were sent or failed.
   * Queued rows (and their bodies) are never touched. Safe to run on several nodes at once: each
   * row is deleted by one of them. Call again while either count equals `limit`.
   */
  pruneHistory(before: number, limit: number): Promise<PrunedHistory>;
}

export class SqlRetention implements Retention {
  constructor(private readonly db: StoreDb) {}

  async expireDue(now: number, limit: number): Promise<string[]> {
    const ids = await transaction(this.db, async (tx) => {
      const due = await lockRows(
        this.db.dialect,
        tx
          .selectFrom('messages')
          .select('id')
          .where('expires_at', '<=', now)
          .where('expired_at', 'is', null)
          .where('revoked_at', 'is', null)
          .orderBy('expires_at')
          .limit(limit),
        'skip-locked',
      ).execute();
      const found = due.map((r) => r.id);
      if (found.length > 0)
        await tx.updateTable('messages').set({ expired_at: now }).where('id', 'in', found).execute();
      for (const id of found) await endDeliveries(this.db, tx, id, 'expired', now);
      return found;
    });
    // Housekeeping that rides on the purge pass: uploads of crashed nodes.
    await this.db.blobs.sweep(this.db.kysely);
    return ids;
  }

  async listPurgeable(now: number, limit: number): Promise<string[]> {
    const q = this.db.kysely;
    // Two index scans (expired; revoked) rather than one pass over every stored message.
    const expired = q
      .selectFrom('messages')
      .select(['id', 'expires_at'])
      .where('purged_at', 'is', null)
      .where('expires_at', '<=', now)
      .orderBy('expires_at')
      .limit(limit);
    const revoked = q
      .selectFrom('messages')
      .select(['id', 'expires_at'])
      .where('purged_at', 'is', null)
      .where('revoked_at', 'is not', null)
      .limit(limit);
    const rows = await q
      .selectFrom(expired.as('e'))
      .select(['e.id', 'e.expires_at'])
      .union(q.selectFrom(revoked.as('r')).select(['r.id', 'r.expires_at']))
      .orderBy('expires_at')
      .limit(limit)
      .execute();
    return rows.map((r) => r.id);
  }

  async purgeBody(messageId: string, at: number): Promise<void> {
    await transaction(this.db, async (tx, afterCommit) => {
      // Another node purging the same message holds the row: leave it to them.
      const m = await lockRows(
        this.db.dialect,
        tx.selectFrom('messages').select(['body_ref', 'purged_at']).where('id', '=', messageId),
        'skip-locked',
      ).executeTakeFirst();
      if (!m || m.purged_at !== null) return;
      await releaseBodies(this.db, tx, [m.body_ref], afterCommit);
      await tx.updateTable('messages').set({ purged_at: at }).where('id', '=', messageId).execute();
    });
  }

  async pruneHistory(before: number, limit: number): Promise<PrunedHistory> {
    // Two short statements (each its own transaction): a batch of mails, then one of forwards.
    // Finished forwards have no body any more (it went when they finished).
    const mails = await pruneFinishedQuery(
      this.db,
      this.db.kysely,
      'outbox',
      before,
      limit,
    ).executeTakeFirst();
    const forwards = await pruneFinishedQuery(
      this.db,
      this.db.kysely,
      'forward_queue',
      before,
      limit,
    ).executeTakeFirst();
    return { mails: Number(mails.numDeletedRows), forwards: Number(forwards.numDeletedRows) };
  }
}
