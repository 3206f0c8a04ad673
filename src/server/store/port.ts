/**
 * The Store port: everything the server keeps, behind small interfaces by job (store.ts lists
 * them). The embedded implementation is SQLite + message files, the scale-out one PostgreSQL with
 * bodies in chunk rows; both are the same code on Kysely and pass the same contract tests
 * (test/server/store-contract.ts).
 *
 * Rules every job keeps:
 * - All methods are async; times are epoch milliseconds; identifiers are opaque strings made by the
 *   caller (the store never invents ids, so a retried call can be recognised).
 * - A message body is written through a BodyWriter into a staging area, made durable by `finish()`,
 *   and becomes visible only with `submissions.create`, atomically with its metadata, deliveries,
 *   first events and notification mails. A crash at any point leaves either nothing visible or
 *   everything. Staged bodies that were never committed are removed by `recover()`.
 * - Secrets are never given to the store: only their SHA-256 hashes (hex). Outbox payloads arrive
 *   sealed (opaque bytes) and are wiped when the mail is completed or failed.
 * - State changes go through compare-and-set (`from` states), so two nodes doing the same work do it
 *   once.
 */
export type { BodyWriter, ByteRange, StagedBody } from './blobs.ts';
export { StoreConflictError } from './db.ts';
export { asStoreFault, isStoreFault, StoreFault, type StoreFaultCode } from './faults.ts';
export {
  DELIVERY_STATES,
  type Deliveries,
  type DeliveryEvent,
  type DeliveryRecord,
  type DeliveryState,
  type DeliveryWithMessage,
  type TransitionInput,
} from './deliveries.ts';
export type { Directory, DirectoryEntry, DirectoryKind } from './directory.ts';
export type {
  ForwardItem,
  ForwardQueue,
  ForwardRecord,
  ForwardState,
  ForwardStats,
  NewForward,
} from './forward-queue.ts';
export type { LocalMail, LocalMailbox } from './local-mailbox.ts';
export type { MailItem, MailKind, MailStats, NewMail, Outbox } from './outbox.ts';
export type { PrunedHistory, Retention } from './retention.ts';
export type { Counters } from './counters.ts';
export type { WebKeyServiceStore, WksKeyRecord, WksPending } from './wks.ts';
export type { SenderRecord, Senders } from './senders.ts';
export type { BodyStaging, Store } from './store.ts';
export type { MessageRecord, NewMessage, Submissions } from './submissions.ts';
