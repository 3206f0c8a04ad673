/**
 * Submissions: stored messages. A body and its metadata — the message, one delivery per recipient
 * with its first event, and the notification mails — become visible in one step, or not at all.
 * The sender may revoke a message; expiry and the removal of bodies are retention.ts.
 */
import type { Selectable } from 'kysely';
import type { Readable } from 'node:stream';
import type { ByteRange, StagedBody } from './blobs.ts';
import { commitWithBody, transaction, type StoreDb } from './db.ts';
import { endDeliveries } from './deliveries.ts';
import { insertMails, type NewMail } from './outbox.ts';
import { flag, isSet, type MessagesTable } from './schema.ts';

export interface MessageRecord {
  id: string;
  senderId: string;
  senderEmail: string;
  size: number;
  /** SHA-256 of the stored bytes, hex. */
  sha256: string;
  protocol: string;
  encrypted: boolean;
  signed: boolean;
  contentType: string;
  /** The outer From header as written by the sender's software (not verified). */
  fromHeader: string | null;
  subject: string;
  headerDate: string | null;
  headerMessageId: string | null;
  createdAt: number;
  expiresAt: number;
  revokedAt: number | null;
  purgedAt: number | null;
  /** Did the sender ask for a receipt mail (MDN)? */
  receiptRequested: boolean;
  /** Where the body store keeps the body (opaque). */
  bodyRef: string;
}

/** A message to store: its record less what the store adds, with its deliveries and mails. */
export interface NewMessage extends Omit<
  MessageRecord,
  'senderEmail' | 'revokedAt' | 'purgedAt' | 'bodyRef'
> {
  deliveries: { id: string; recipient: string; secretHash: string }[];
  /** Mails to queue in the same transaction (one notification per delivery). */
  mails: NewMail[];
}

export interface Submissions {
  /**
   * Makes the staged body and all metadata visible in one step. On failure the staged body is
   * discarded and nothing is visible.
   */
  create(input: NewMessage, body: StagedBody): Promise<void>;
  get(id: string): Promise<MessageRecord | null>;
  /**
   * The stored bytes (optionally a range) of a message that is not purged; null when absent. Given
   * the record (as a pickup has it), no metadata query is needed.
   */
  openBody(message: MessageRecord | string, range?: ByteRange): Promise<Readable | null>;
  /**
   * Revokes a message: every delivery not yet processed, expired or revoked becomes revoked (with an
   * event), queued notifications for them are cancelled. False when the message does not exist or
   * was already revoked.
   */
  revoke(id: string, at: number): Promise<boolean>;
}

/** A messages row (with its sender's address) as a record. */
export function messageRecord(r: Selectable<MessagesTable> & { sender_email: string }): MessageRecord {
  return {
    id: r.id,
    senderId: r.sender_id,
    senderEmail: r.sender_email,
    size: r.size,
    sha256: r.sha256,
    protocol: r.protocol,
    encrypted: isSet(r.encrypted),
    signed: isSet(r.signed),
    contentType: r.content_type,
    fromHeader: r.from_header,
    subject: r.subject,
    headerDate: r.header_date,
    headerMessageId: r.header_message_id,
    createdAt: r.created_at,
    expiresAt: r.expires_at,
    revokedAt: r.revoked_at,
    purgedAt: r.purged_at,
    receiptRequested: isSet(r.receipt_requested),
    bodyRef: r.body_ref,
  };
}

export class SqlSubmissions implements Submissions {
  constructor(private readonly db: StoreDb) {}

  async create(input: NewMessage, body: StagedBody): Promise<void> {
    const handover = {
      body,
      area: 'messages' as const,
      id: input.id,
      size: input.size,
      sha256: input.sha256,
    };
    await commitWithBody(this.db, handover, async (tx, ref) => {
      await tx
        .insertInto('messages')
        .values({
          id: input.id,
          sender_id: input.senderId,
          size: input.size,
          sha256: input.sha256,
          protocol: input.protocol,
          encrypted: flag(input.encrypted),
          signed: flag(input.signed),
          content_type: input.contentType,
          from_header: input.fromHeader,
          subject: input.subject,
          header_date: input.headerDate,
          header_message_id: input.headerMessageId,
          body_ref: ref,
          receipt_requested: flag(input.receiptRequested),
          created_at: input.createdAt,
          expires_at: input.expiresAt,
        })
        .execute();
      if (input.deliveries.length > 0) {
        await tx
          .insertInto('deliveries')
          .values(
            input.deliveries.map((d) => ({
              id: d.id,
              message_id: input.id,
              recipient: d.recipient,
              secret_hash: d.secretHash,
              state: 'pending' as const,
              created_at: input.createdAt,
              updated_at: input.createdAt,
            })),
          )
          .execute();
        await tx
          .insertInto('delivery_events')
          .values(input.deliveries.map((d) => ({ delivery_id: d.id, at: input.createdAt, type: 'created' })))
          .execute();
      }
      await insertMails(tx, input.mails, input.createdAt);
      return true;
    });
  }

  async get(id: string): Promise<MessageRecord | null> {
    const r = await this.db.kysely
      .selectFrom('messages')
      .innerJoin('senders', 'senders.id', 'messages.sender_id')
      .selectAll('messages')
      .select('senders.email as sender_email')
      .where('messages.id', '=', id)
      .executeTakeFirst();
    return r ? messageRecord(r) : null;
  }

  async openBody(message: MessageRecord | string, range?: ByteRange): Promise<Readable | null> {
    const m = typeof message === 'string' ? await this.get(message) : message;
    if (!m || m.purgedAt !== null) return null;
    return this.db.blobs.open(m.bodyRef, m.size, range);
  }

  async revoke(id: string, at: number): Promise<boolean> {
    return transaction(this.db, async (tx) => {
      const r = await tx
        .updateTable('messages')
        .set({ revoked_at: at })
        .where('id', '=', id)
        .where('revoked_at', 'is', null)
        .executeTakeFirst();
      if (r.numUpdatedRows === 0n) return false;
      await endDeliveries(this.db, tx, id, 'revoked', at);
      return true;
    });
  }
}
