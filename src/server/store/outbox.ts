/**
 * The notification outbox: notification and receipt mails waiting to be sent. Workers on any node
 * claim due mails with a lease (queues.ts), send them, and complete, retry or fail them under that
 * lease; a sent notification moves its delivery from pending to notified. Payloads arrive sealed
 * (opaque bytes) and are wiped when the mail is done.
 */
import type { Kysely } from 'kysely';
import { transaction, type StoreDb } from './db.ts';
import { insertEvent, transitionIn } from './deliveries.ts';
import { claimDue, queueStats } from './queues.ts';
import type { Database, MailKind } from './schema.ts';

export type { MailKind } from './schema.ts';

export interface NewMail {
  id: string;
  kind: MailKind;
  deliveryId: string;
  recipient: string;
  /** Sealed (opaque) data the sender of the mail needs, e.g. the link secret; null when none. */
  payload: Uint8Array | null;
  /** Earliest send time (defaults to the creation time). */
  notBefore?: number;
}

export interface MailItem {
  id: string;
  kind: MailKind;
  deliveryId: string;
  recipient: string;
  payload: Uint8Array | null;
  attempts: number;
  createdAt: number;
  /** Proof of the claim: completing or retrying needs it, so a stale worker cannot clobber. */
  leaseToken: string;
}

export interface MailStats {
  queued: number;
  sent: number;
  failed: number;
  cancelled: number;
  /** createdAt of the oldest queued mail, or null. */
  oldestQueuedAt: number | null;
}

export interface Outbox {
  /** Claims up to `limit` due mails for `leaseMs`, counting an attempt for each. */
  claim(now: number, leaseMs: number, limit: number): Promise<MailItem[]>;
  /**
   * The mail went out: marks it sent and wipes its payload; a notification moves its delivery from
   * pending to notified (event "notified"). False when the lease was lost.
   */
  complete(id: string, leaseToken: string, at: number): Promise<boolean>;
  /** Releases the claim and schedules the next attempt. */
  retry(id: string, leaseToken: string, nextAttemptAt: number, error: string): Promise<boolean>;
  /** Gives up: marks the mail failed (payload wiped); a notification fails its pending delivery. */
  fail(id: string, leaseToken: string, at: number, error: string): Promise<boolean>;
  stats(): Promise<MailStats>;
}

/** Queues mails in the caller's transaction. */
export async function insertMails(q: Kysely<Database>, mails: readonly NewMail[], at: number): Promise<void> {
  if (mails.length === 0) return;
  await q
    .insertInto('outbox')
    .values(
      mails.map((m) => ({
        id: m.id,
        kind: m.kind,
        delivery_id: m.deliveryId,
        recipient: m.recipient,
        payload: m.payload ? Buffer.from(m.payload) : null,
        state: 'queued' as const,
        next_attempt_at: m.notBefore ?? at,
        created_at: at,
      })),
    )
    .execute();
}

/** Cancels the queued notifications of a delivery (revoked or expired), in the caller's transaction. */
export async function cancelNotifications(
  q: Kysely<Database>,
  deliveryId: string,
  at: number,
): Promise<void> {
  await q
    .updateTable('outbox')
    .set({ state: 'cancelled', payload: null, done_at: at, lease_token: null, lease_until: null })
    .where('delivery_id', '=', deliveryId)
    .where('state', '=', 'queued')
    .where('kind', '=', 'notification')
    .execute();
}

export class SqlOutbox implements Outbox {
  constructor(private readonly db: StoreDb) {}

  async claim(now: number, leaseMs: number, limit: number): Promise<MailItem[]> {
    const { ids, leaseToken } = await claimDue(this.db, 'outbox', now, leaseMs, limit);
    if (ids.length === 0) return [];
    const rows = await this.db.kysely
      .selectFrom('outbox')
      .select(['id', 'kind', 'delivery_id', 'recipient', 'payload', 'attempts', 'created_at'])
      .where('id', 'in', ids)
      .where('lease_token', '=', leaseToken)
      .execute();
    const byId = new Map(rows.map((r) => [r.id, r]));
    return ids.flatMap((id) => {
      const r = byId.get(id);
      if (!r) return [];
      return [
        {
          id: r.id,
          kind: r.kind,
          deliveryId: r.delivery_id,
          recipient: r.recipient,
          payload: r.payload ? new Uint8Array(r.payload) : null,
          attempts: r.attempts,
          createdAt: r.created_at,
          leaseToken,
        },
      ];
    });
  }

  /** Ends a leased mail (sent or failed) in the caller's transaction; what it was, or null. */
  private async end(
    tx: Kysely<Database>,
    id: string,
    leaseToken: string,
    state: 'sent' | 'failed',
    at: number,
    error: string | null,
  ) {
    return tx
      .updateTable('outbox')
      .set({ state, payload: null, done_at: at, lease_token: null, lease_until: null, last_error: error })
      .where('id', '=', id)
      .where('lease_token', '=', leaseToken)
      .where('state', '=', 'queued')
      .returning(['kind', 'delivery_id'])
      .executeTakeFirst();
  }

  async complete(id: string, leaseToken: string, at: number): Promise<boolean> {
    return transaction(this.db, async (tx) => {
      const mail = await this.end(tx, id, leaseToken, 'sent', at, null);
      if (!mail) return false;
      if (mail.kind === 'notification')
        await transitionIn(tx, {
          deliveryId: mail.delivery_id,
          from: ['pending'],
          to: 'notified',
          event: 'notified',
          at,
        });
      else await insertEvent(tx, mail.delivery_id, 'receipt-sent', null, at);
      return true;
    });
  }

  async retry(id: string, leaseToken: string, nextAttemptAt: number, error: string): Promise<boolean> {
    const r = await this.db.kysely
      .updateTable('outbox')
      .set({
        lease_token: null,
        lease_until: null,
        next_attempt_at: nextAttemptAt,
        last_error: error.slice(0, 500),
      })
      .where('id', '=', id)
      .where('lease_token', '=', leaseToken)
      .where('state', '=', 'queued')
      .executeTakeFirst();
    return r.numUpdatedRows > 0n;
  }

  async fail(id: string, leaseToken: string, at: number, error: string): Promise<boolean> {
    return transaction(this.db, async (tx) => {
      const mail = await this.end(tx, id, leaseToken, 'failed', at, error.slice(0, 500));
      if (!mail) return false;
      const detail = error.slice(0, 200);
      if (mail.kind === 'notification')
        await transitionIn(tx, {
          deliveryId: mail.delivery_id,
          from: ['pending'],
          to: 'failed',
          event: 'failed',
          detail,
          at,
        });
      else await insertEvent(tx, mail.delivery_id, 'receipt-failed', detail, at);
      return true;
    });
  }

  async stats(): Promise<MailStats> {
    const s = await queueStats(this.db.kysely, 'outbox');
    return {
      queued: s.count('queued'),
      sent: s.count('sent'),
      failed: s.count('failed'),
      cancelled: s.count('cancelled'),
      oldestQueuedAt: s.oldestQueuedAt,
    };
  }
}
