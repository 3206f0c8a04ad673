/**
 * Rows of both stores (SQLite and PostgreSQL) as the Store port's records. The two databases differ
 * only in how they return booleans (0/1 or true/false) and lists (JSON text or an array).
 */
import type { DeliveryRecord, DeliveryState, MessageRecord, NewForward, SenderRecord } from './port.ts';

export type Row = Record<string, unknown>;

const flag = (v: unknown): boolean => v === true || v === 1;
const list = (v: unknown): string[] =>
  Array.isArray(v) ? (v as string[]) : (JSON.parse(v as string) as string[]);

export function messageFromRow(r: Row): MessageRecord {
  return {
    id: r.id as string,
    senderId: r.sender_id as string,
    senderEmail: r.sender_email as string,
    size: r.size as number,
    sha256: r.sha256 as string,
    protocol: r.protocol as string,
    encrypted: flag(r.encrypted),
    signed: flag(r.signed),
    contentType: r.content_type as string,
    fromHeader: (r.from_header as string | null) ?? null,
    subject: r.subject as string,
    headerDate: (r.header_date as string | null) ?? null,
    headerMessageId: (r.header_message_id as string | null) ?? null,
    createdAt: r.created_at as number,
    expiresAt: r.expires_at as number,
    revokedAt: (r.revoked_at as number | null) ?? null,
    purgedAt: (r.purged_at as number | null) ?? null,
    receiptRequested: flag(r.receipt_requested),
  };
}

export function deliveryFromRow(r: Row): DeliveryRecord {
  return {
    id: r.id as string,
    messageId: r.message_id as string,
    recipient: r.recipient as string,
    state: r.state as DeliveryState,
    createdAt: r.created_at as number,
    updatedAt: r.updated_at as number,
  };
}

export function senderFromRow(r: Row): SenderRecord {
  return {
    id: r.id as string,
    email: r.email as string,
    createdAt: r.created_at as number,
    revokedAt: (r.revoked_at as number | null) ?? null,
  };
}

export function forwardFromRow(r: Row): NewForward {
  return {
    id: r.id as string,
    mailFrom: r.mail_from as string,
    recipients: list(r.recipients),
    size: r.size as number,
    sha256: r.sha256 as string,
    senderId: (r.sender_id as string | null) ?? null,
    createdAt: r.created_at as number,
    expiresAt: r.expires_at as number,
  };
}
