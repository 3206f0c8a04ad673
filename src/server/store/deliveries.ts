/**
 * Deliveries — one per recipient of a message — and their state machine:
 *
 *   pending ──notified──▶ notified ──opened──▶ opened ──processed──▶ processed
 *      │ (notification failed for good: failed)        revoked / expired end any but processed
 *
 * Every change is a compare-and-set (`from` states) with an event, so two nodes doing the same work
 * do it once; mails a change triggers (a receipt) are queued in the same transaction. A delivery is
 * marked opened by `transition` from pending or notified (pickup/routes.ts), notified by the outbox
 * (outbox.ts), revoked by the sender (submissions.ts) and expired by the purge pass (retention.ts).
 */
import type { Kysely } from 'kysely';
import { insertionOrder, lockRows } from './dialect.ts';
import { transaction, type StoreDb } from './db.ts';
import { cancelNotifications, insertMails, type NewMail } from './outbox.ts';
import type { Database, DeliveryState } from './schema.ts';
import { messageRecord, type MessageRecord } from './submissions.ts';

export type { DeliveryState } from './schema.ts';

export const DELIVERY_STATES: readonly DeliveryState[] = [
  'pending',
  'notified',
  'opened',
  'processed',
  'expired',
  'revoked',
  'failed',
];

export interface DeliveryRecord {
  id: string;
  messageId: string;
  recipient: string;
  state: DeliveryState;
  createdAt: number;
  updatedAt: number;
}

export interface DeliveryEvent {
  at: number;
  type: string;
  detail: string | null;
}

export interface DeliveryWithMessage {
  delivery: DeliveryRecord;
  secretHash: string;
  message: MessageRecord;
}

export interface TransitionInput {
  deliveryId: string;
  from: readonly DeliveryState[];
  to: DeliveryState;
  event: string;
  detail?: string | null;
  at: number;
  /** Mails to queue in the same transaction, only if the transition happens. */
  enqueue?: NewMail[];
}

export interface Deliveries {
  /** A delivery with its message and the hash of its link secret. */
  get(id: string): Promise<DeliveryWithMessage | null>;
  /** The deliveries of a message, in the order of its recipients. */
  listByMessage(messageId: string): Promise<DeliveryRecord[]>;
  listEvents(deliveryId: string): Promise<DeliveryEvent[]>;
  /** Compare-and-set of a delivery's state with an event; false when its state was not in `from`. */
  transition(input: TransitionInput): Promise<boolean>;
  addEvent(deliveryId: string, type: string, detail: string | null, at: number): Promise<void>;
  /**
   * Counts a wrong secret for a delivery; returns the failures within the window ending now. The
   * pickup no longer uses it (a count per delivery let one client lock out the recipient: wrong
   * secrets are counted per client in `counters`); kept so older databases' columns stay readable.
   */
  noteBadSecret(deliveryId: string, now: number, windowMs: number): Promise<number>;
  badSecretCount(deliveryId: string, now: number, windowMs: number): Promise<number>;
}

export async function insertEvent(
  q: Kysely<Database>,
  deliveryId: string,
  type: string,
  detail: string | null,
  at: number,
): Promise<void> {
  await q.insertInto('delivery_events').values({ delivery_id: deliveryId, at, type, detail }).execute();
}

/** The compare-and-set, its event and its mails, in the caller's transaction. */
export async function transitionIn(q: Kysely<Database>, input: TransitionInput): Promise<boolean> {
  if (input.from.length === 0) return false;
  const r = await q
    .updateTable('deliveries')
    .set({ state: input.to, updated_at: input.at })
    .where('id', '=', input.deliveryId)
    .where('state', 'in', input.from)
    .executeTakeFirst();
  if (r.numUpdatedRows === 0n) return false;
  await insertEvent(q, input.deliveryId, input.event, input.detail ?? null, input.at);
  if (input.enqueue) await insertMails(q, input.enqueue, input.at);
  return true;
}

/**
 * Ends the deliveries of a message (revoked or expired) in the caller's transaction: processed ones
 * only get the event; the others change state and their queued notifications are cancelled.
 */
export async function endDeliveries(
  db: StoreDb,
  q: Kysely<Database>,
  messageId: string,
  to: 'revoked' | 'expired',
  at: number,
): Promise<void> {
  const rows = await lockRows(
    db.dialect,
    q
      .selectFrom('deliveries')
      .select(['id', 'state'])
      .where('message_id', '=', messageId)
      .orderBy(insertionOrder(db.dialect, 'deliveries')),
    'wait',
  ).execute();
  for (const r of rows) {
    if (r.state === 'revoked' || r.state === 'expired') continue;
    if (r.state === 'processed') {
      await insertEvent(q, r.id, to, null, at);
      continue;
    }
    await transitionIn(q, { deliveryId: r.id, from: [r.state], to, event: to, at });
    await cancelNotifications(q, r.id, at);
  }
}

export class SqlDeliveries implements Deliveries {
  constructor(private readonly db: StoreDb) {}

  async get(id: string): Promise<DeliveryWithMessage | null> {
    const r = await this.db.kysely
      .selectFrom('deliveries as d')
      .innerJoin('messages', 'messages.id', 'd.message_id')
      .innerJoin('senders', 'senders.id', 'messages.sender_id')
      .selectAll('messages')
      .select([
        'd.id as d_id',
        'd.message_id as d_message_id',
        'd.recipient as d_recipient',
        'd.state as d_state',
        'd.created_at as d_created_at',
        'd.updated_at as d_updated_at',
        'd.secret_hash as d_secret_hash',
        'senders.email as sender_email',
      ])
      .where('d.id', '=', id)
      .executeTakeFirst();
    if (!r) return null;
    return {
      delivery: {
        id: r.d_id,
        messageId: r.d_message_id,
        recipient: r.d_recipient,
        state: r.d_state,
        createdAt: r.d_created_at,
        updatedAt: r.d_updated_at,
      },
      secretHash: r.d_secret_hash,
      message: messageRecord(r),
    };
  }

  async listByMessage(messageId: string): Promise<DeliveryRecord[]> {
    const rows = await this.db.kysely
      .selectFrom('deliveries')
      .select(['id', 'message_id', 'recipient', 'state', 'created_at', 'updated_at'])
      .where('message_id', '=', messageId)
      .orderBy(insertionOrder(this.db.dialect, 'deliveries'))
      .execute();
    return rows.map((r) => ({
      id: r.id,
      messageId: r.message_id,
      recipient: r.recipient,
      state: r.state,
      createdAt: r.created_at,
      updatedAt: r.updated_at,
    }));
  }

  async listEvents(deliveryId: string): Promise<DeliveryEvent[]> {
    return this.db.kysely
      .selectFrom('delivery_events')
      .select(['at', 'type', 'detail'])
      .where('delivery_id', '=', deliveryId)
      .orderBy('seq')
      .execute();
  }

  async transition(input: TransitionInput): Promise<boolean> {
    if (input.from.length === 0) return false;
    return transaction(this.db, (tx) => transitionIn(tx, input));
  }

  async addEvent(deliveryId: string, type: string, detail: string | null, at: number): Promise<void> {
    await insertEvent(this.db.kysely, deliveryId, type, detail, at);
  }

  async noteBadSecret(deliveryId: string, now: number, windowMs: number): Promise<number> {
    // One statement: a count that starts again once the window has passed.
    const r = await this.db.kysely
      .updateTable('deliveries')
      .set((eb) => {
        const fresh = eb.or([
          eb('bad_secret_since', 'is', null),
          eb('bad_secret_since', '<=', now - windowMs),
        ]);
        return {
          bad_secret_count: eb
            .case()
            .when(fresh)
            .then(1)
            .else(eb('bad_secret_count', '+', 1))
            .end(),
          bad_secret_since: eb.case().when(fresh).then(now).else(eb.ref('bad_secret_since')).end(),
        };
      })
      .where('id', '=', deliveryId)
      .returning('bad_secret_count')
      .executeTakeFirst();
    return r?.bad_secret_count ?? 0;
  }

  async badSecretCount(deliveryId: string, now: number, windowMs: number): Promise<number> {
    const r = await this.db.kysely
      .selectFrom('deliveries')
      .select(['bad_secret_count', 'bad_secret_since'])
      .where('id', '=', deliveryId)
      .executeTakeFirst();
    if (!r || r.bad_secret_since === null || r.bad_secret_since <= now - windowMs) return 0;
    return r.bad_secret_count;
  }
}
