/**
 * The Store port: everything the server keeps, behind one interface. The embedded implementation is
 * SQLite + message files (store/sqlite.ts); the scale-out one (PostgreSQL, message bodies in chunked
 * rows) implements the same interface and must pass the same contract tests
 * (test/server/store-contract.ts).
 *
 * Rules every implementation keeps:
 * - All methods are async; times are epoch milliseconds; identifiers are opaque strings made by the
 *   caller (the store never invents ids, so a retried call can be recognised).
 * - A message body is written through a BodyWriter into a staging area, made durable by `finish()`,
 *   and becomes visible only with `createMessage`, atomically with its metadata, deliveries, first
 *   events and notification mails. A crash at any point leaves either nothing visible or everything.
 *   Staged bodies that were never committed are removed by `recover()`.
 * - Secrets are never given to the store: only their SHA-256 hashes (hex). Outbox payloads arrive
 *   sealed (opaque bytes) and are wiped when the mail is completed or failed.
 * - State changes go through compare-and-set (`from` states), so two nodes doing the same work do it
 *   once.
 */
import type { Readable } from 'node:stream';

export const DELIVERY_STATES = [
  'pending',
  'notified',
  'opened',
  'processed',
  'expired',
  'revoked',
  'failed',
] as const;
export type DeliveryState = (typeof DELIVERY_STATES)[number];

export interface SenderRecord {
  id: string;
  email: string;
  createdAt: number;
  revokedAt: number | null;
}

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
}

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

export type MailKind = 'notification' | 'receipt';

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

/** A mail "delivered" into the built-in outbox (used when no upstream SMTP server is set). */
export interface LocalMail {
  id: string;
  to: string;
  subject: string;
  text: string;
  html: string;
  createdAt: number;
}

export type DirectoryKind = 'x509' | 'openpgp';

export interface DirectoryEntry {
  email: string;
  kind: DirectoryKind;
  /** PEM certificate or ASCII-armored OpenPGP public key. */
  data: string;
  fingerprint: string;
  deliveryId: string;
  publishedAt: number;
}

export interface NewMessage {
  id: string;
  senderId: string;
  size: number;
  sha256: string;
  protocol: string;
  encrypted: boolean;
  signed: boolean;
  contentType: string;
  fromHeader: string | null;
  subject: string;
  headerDate: string | null;
  headerMessageId: string | null;
  createdAt: number;
  expiresAt: number;
  receiptRequested: boolean;
  deliveries: { id: string; recipient: string; secretHash: string }[];
  /** Mails to queue in the same transaction (one notification per delivery). */
  mails: NewMail[];
}

/** A body in the staging area: durable (fsynced) but not yet visible. */
export interface StagedBody {
  readonly ref: string;
  readonly size: number;
  readonly sha256: string;
}

export interface BodyWriter {
  /** Appends bytes; resolves when they may be reused (backpressure). */
  write(chunk: Uint8Array): Promise<void>;
  /** Flushes and makes the staged bytes durable. */
  finish(): Promise<StagedBody>;
  /** Drops everything written so far. Safe to call more than once and after finish(). */
  abort(): Promise<void>;
}

/** An inclusive byte range. */
export interface ByteRange {
  start: number;
  end: number;
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

/** State of a mail in the SMTP relay's forward queue. */
export type ForwardState = 'queued' | 'sent' | 'failed';

/** A message the SMTP relay accepted to pass on unchanged to the upstream mail server. */
export interface NewForward {
  id: string;
  /** Envelope sender (MAIL FROM); '' is the null sender (a bounce, which is never bounced). */
  mailFrom: string;
  /** Envelope recipients (RCPT TO), at least one. */
  recipients: string[];
  size: number;
  sha256: string;
  /** The authenticated sender; null for a trusted-network client or a bounce. */
  senderId: string | null;
  createdAt: number;
  /** When the queue gives up on it (and bounces it to mailFrom). */
  expiresAt: number;
}

export interface ForwardRecord extends NewForward {
  state: ForwardState;
  attempts: number;
  nextAttemptAt: number;
  lastError: string | null;
  doneAt: number | null;
}

export interface ForwardItem extends NewForward {
  attempts: number;
  /** Proof of the claim: completing, retrying or failing needs it. */
  leaseToken: string;
}

export interface ForwardStats {
  queued: number;
  sent: number;
  failed: number;
  /** createdAt of the oldest queued forward, or null. */
  oldestQueuedAt: number | null;
}

/** What one `pruneHistory` call deleted. */
export interface PrunedHistory {
  /** Outbox mails (sent, failed or cancelled). */
  mails: number;
  /** Relay forwards (sent or failed). */
  forwards: number;
}

export interface Store {
  readonly kind: string;
  /** Schema migrations to the newest version (idempotent). */
  migrate(): Promise<void>;
  /** Start-of-server housekeeping: drop staged bodies and files that no committed message owns. */
  recover(): Promise<{ removedStaged: number; removedOrphans: number }>;
  /** Throws when the store cannot serve (for /readyz). */
  ping(): Promise<void>;
  close(): Promise<void>;

  // senders
  /** Throws StoreConflictError when the e-mail address already has an active sender. */
  addSender(input: { id: string; email: string; apiKeyHash: string; at: number }): Promise<SenderRecord>;
  listSenders(): Promise<SenderRecord[]>;
  /** Revokes the active sender with this address; false when there is none. */
  revokeSender(email: string, at: number): Promise<boolean>;
  /** The active (not revoked) sender owning this API key hash. */
  findSenderByApiKeyHash(hash: string): Promise<SenderRecord | null>;
  /** The active (not revoked) sender with this address (lower case). */
  findSenderByEmail(email: string): Promise<SenderRecord | null>;

  // message bodies and messages
  createBodyWriter(): Promise<BodyWriter>;
  /**
   * Makes the staged body and all metadata visible in one step. On failure the staged body is
   * discarded and nothing is visible.
   */
  createMessage(input: NewMessage, body: StagedBody): Promise<void>;
  getMessage(id: string): Promise<MessageRecord | null>;
  listDeliveries(messageId: string): Promise<DeliveryRecord[]>;
  listEvents(deliveryId: string): Promise<DeliveryEvent[]>;
  getDelivery(id: string): Promise<DeliveryWithMessage | null>;
  /** The stored bytes (optionally a range) of a committed, not purged message; null when absent. */
  openBody(messageId: string, range?: ByteRange): Promise<Readable | null>;

  // delivery states
  /** Compare-and-set of a delivery's state with an event; false when its state was not in `from`. */
  transition(input: TransitionInput): Promise<boolean>;
  addEvent(deliveryId: string, type: string, detail: string | null, at: number): Promise<void>;
  /**
   * Revokes a message: every delivery not yet processed, expired or revoked becomes revoked (with an
   * event), queued mails for them are cancelled. False when the message does not exist or was
   * already revoked.
   */
  revokeMessage(messageId: string, at: number): Promise<boolean>;
  /**
   * Marks the deliveries of messages whose expiry has passed as expired (except processed ones,
   * which get an event), cancels their queued mails; returns the ids of messages newly expired.
   */
  expireDue(now: number, limit: number): Promise<string[]>;
  /** Messages that are expired or revoked and whose body is still stored. */
  listPurgeable(now: number, limit: number): Promise<string[]>;
  /** Deletes a message body (idempotent) and records when. */
  purgeBody(messageId: string, at: number): Promise<void>;
  /** Counts a wrong secret for a delivery; returns the failures within the window ending now. */
  noteBadSecret(deliveryId: string, now: number, windowMs: number): Promise<number>;
  badSecretCount(deliveryId: string, now: number, windowMs: number): Promise<number>;

  // notification outbox
  /** Claims up to `limit` due mails for `leaseMs`, counting an attempt for each. */
  claimMail(now: number, leaseMs: number, limit: number): Promise<MailItem[]>;
  /**
   * The mail went out: marks it sent and wipes its payload; a notification moves its delivery from
   * pending to notified (event "notified"). False when the lease was lost.
   */
  completeMail(id: string, leaseToken: string, at: number): Promise<boolean>;
  /** Releases the claim and schedules the next attempt. */
  retryMail(id: string, leaseToken: string, nextAttemptAt: number, error: string): Promise<boolean>;
  /** Gives up: marks the mail failed (payload wiped); a notification fails its pending delivery. */
  failMail(id: string, leaseToken: string, at: number, error: string): Promise<boolean>;
  mailStats(): Promise<MailStats>;

  // built-in outbox (no upstream SMTP)
  /** Idempotent by id. */
  addLocalMail(mail: LocalMail): Promise<void>;
  listLocalMail(limit: number): Promise<LocalMail[]>;

  // SMTP relay forward queue (bodies are staged with createBodyWriter, like messages)
  /**
   * Makes the staged body and the queue entry durable and visible in one step (state queued, due
   * now). On failure the staged body is discarded and nothing is queued.
   */
  enqueueForward(input: NewForward, body: StagedBody): Promise<void>;
  getForward(id: string): Promise<ForwardRecord | null>;
  /** Claims up to `limit` due queued forwards for `leaseMs`, counting an attempt for each. */
  claimForwards(now: number, leaseMs: number, limit: number): Promise<ForwardItem[]>;
  /** The stored bytes of a queued forward; null when it is not queued any more. */
  openForwardBody(id: string): Promise<Readable | null>;
  /** It went out: state sent, body removed. False when the lease was lost. */
  completeForward(id: string, leaseToken: string, at: number): Promise<boolean>;
  /**
   * Releases the claim and schedules the next attempt; `recipients` narrows the envelope to those
   * still to be tried (the others were accepted or refused for good).
   */
  retryForward(
    id: string,
    leaseToken: string,
    nextAttemptAt: number,
    error: string,
    recipients?: string[],
  ): Promise<boolean>;
  /**
   * Gives up: state failed, body removed; `bounce` (a DSN to the envelope sender, staged like any
   * body) is queued in the same step. False when the lease was lost (and the bounce is discarded).
   */
  failForward(
    id: string,
    leaseToken: string,
    at: number,
    error: string,
    bounce?: { forward: NewForward; body: StagedBody },
  ): Promise<boolean>;
  forwardStats(): Promise<ForwardStats>;

  // history retention
  /**
   * Deletes finished history finished before `before` (doneAt < before): up to `limit` outbox mails
   * that were sent, failed or cancelled, and up to `limit` relay forwards that were sent or failed.
   * Queued rows (and their bodies) are never touched. Safe to run on several nodes at once: each
   * row is deleted by one of them. Call again while either count equals `limit`.
   */
  pruneHistory(before: number, limit: number): Promise<PrunedHistory>;

  // directory
  /** Replaces the entry of this kind for this address. */
  publishDirectoryEntry(entry: DirectoryEntry): Promise<void>;
  lookupDirectory(email: string): Promise<DirectoryEntry[]>;
}

export class StoreConflictError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StoreConflictError';
  }
}
