/**
 * The built-in outbox: where notifications go when no upstream mail server is set (`/outbox`).
 */
import type { StoreDb } from './db.ts';
import { insertionOrder } from './dialect.ts';

/** A mail "delivered" into the built-in outbox. */
export interface LocalMail {
  id: string;
  to: string;
  subject: string;
  text: string;
  html: string;
  createdAt: number;
}

export interface LocalMailbox {
  /** Idempotent by id. */
  add(mail: LocalMail): Promise<void>;
  /** The newest first. */
  list(limit: number): Promise<LocalMail[]>;
}

export class SqlLocalMailbox implements LocalMailbox {
  constructor(private readonly db: StoreDb) {}

  async add(mail: LocalMail): Promise<void> {
    await this.db.kysely
      .insertInto('local_mailbox')
      .values({
        id: mail.id,
        to_addr: mail.to,
        subject: mail.subject,
        text: mail.text,
        html: mail.html,
        created_at: mail.createdAt,
      })
      .onConflict((oc) => oc.column('id').doNothing())
      .execute();
  }

  async list(limit: number): Promise<LocalMail[]> {
    const rows = await this.db.kysely
      .selectFrom('local_mailbox')
      .selectAll()
      .orderBy('created_at', 'desc')
      .orderBy(insertionOrder(this.db.dialect, 'local_mailbox'), 'desc')
      .limit(limit)
      .execute();
    return rows.map((r) => ({
      id: r.id,
      to: r.to_addr,
      subject: r.subject,
      text: r.text,
      html: r.html,
      createdAt: r.created_at,
    }));
  }
}
