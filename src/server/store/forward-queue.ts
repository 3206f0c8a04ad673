/**
 * The SMTP relay's forward queue: plain mail the relay accepted to pass on unchanged to the upstream
 * mail server. A forward's body is staged like a message's and queued with its row in one step;
 * workers claim due forwards with a lease (queues.ts), and complete, retry (narrowing the envelope)
 * or fail them — a failure queues its bounce (DSN) in the same step. Done forwards lose their body.
 */
import type { Kysely, Selectable } from 'kysely';
import type { Readable } from 'node:stream';
import type { AfterCommit, StagedBody } from './blobs.ts';
import { commitWithBody, releaseBodies, transaction, type StoreDb } from './db.ts';
import { lockRows } from './dialect.ts';
import { claimDue, queueStats } from './queues.ts';
import {
  decodeList,
  encodeList,
  type Database,
  type ForwardQueueTable,
  type ForwardState,
} from './schema.ts';

export type { ForwardState } from './schema.ts';

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

export interface ForwardQueue {
  /**
   * Makes the staged body and the queue entry durable and visible in one step (state queued, due
   * now). On failure the staged body is discarded and nothing is queued.
   */
  enqueue(input: NewForward, body: StagedBody): Promise<void>;
  get(id: string): Promise<ForwardRecord | null>;
  /** Claims up to `limit` due queued forwards for `leaseMs`, counting an attempt for each. */
  claim(now: number, leaseMs: number, limit: number): Promise<ForwardItem[]>;
  /** The stored bytes of a queued forward; null when it is not queued any more. */
  openBody(id: string): Promise<Readable | null>;
  /** It went out: state sent, body removed. False when the lease was lost. */
  complete(id: string, leaseToken: string, at: number): Promise<boolean>;
  /**
   * Releases the claim and schedules the next attempt; `recipients` narrows the envelope to those
   * still to be tried (the others were accepted or refused for good).
   */
  retry(
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
  fail(
    id: string,
    leaseToken: string,
    at: number,
    error: string,
    bounce?: { forward: NewForward; body: StagedBody },
  ): Promise<boolean>;
  stats(): Promise<ForwardStats>;
}

const forward = (r: Selectable<ForwardQueueTable>): NewForward => ({
  id: r.id,
  mailFrom: r.mail_from,
  recipients: decodeList(r.recipients),
  size: r.size,
  sha256: r.sha256,
  senderId: r.sender_id,
  createdAt: r.created_at,
  expiresAt: r.expires_at,
});

function checkRecipients(recipients: readonly string[] | undefined): void {
  if (recipients !== undefined && recipients.length === 0)
    throw new Error('A forward needs at least one recipient.');
}

export class SqlForwardQueue implements ForwardQueue {
  constructor(private readonly db: StoreDb) {}

  /** Queues `input` with its body (placed at `ref`), in the caller's transaction. */
  private async insert(tx: Kysely<Database>, input: NewForward, ref: string): Promise<void> {
    await tx
      .insertInto('forward_queue')
      .values({
        id: input.id,
        mail_from: input.mailFrom,
        recipients: encodeList(input.recipients),
        size: input.size,
        sha256: input.sha256,
        sender_id: input.senderId,
        body_ref: ref,
        state: 'queued',
        next_attempt_at: input.createdAt,
        created_at: input.createdAt,
        expires_at: input.expiresAt,
      })
      .execute();
  }

  /** What commitWithBody needs; the staged body is discarded when the forward is malformed. */
  private async handover(input: NewForward, body: StagedBody) {
    try {
      checkRecipients(input.recipients);
    } catch (e) {
      await this.db.blobs.discard(body, null);
      throw e;
    }
    return { body, area: 'relay' as const, id: input.id, size: input.size, sha256: input.sha256 };
  }

  async enqueue(input: NewForward, body: StagedBody): Promise<void> {
    await commitWithBody(this.db, await this.handover(input, body), async (tx, ref) => {
      await this.insert(tx, input, ref);
      return true;
    });
  }

  async get(id: string): Promise<ForwardRecord | null> {
    const r = await this.db.kysely
      .selectFrom('forward_queue')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    if (!r) return null;
    return {
      ...forward(r),
      state: r.state,
      attempts: r.attempts,
      nextAttemptAt: r.next_attempt_at,
      lastError: r.last_error,
      doneAt: r.done_at,
    };
  }

  async claim(now: number, leaseMs: number, limit: number): Promise<ForwardItem[]> {
    const { ids, leaseToken } = await claimDue(this.db, 'forward_queue', now, leaseMs, limit);
    if (ids.length === 0) return [];
    const rows = await this.db.kysely
      .selectFrom('forward_queue')
      .selectAll()
      .where('id', 'in', ids)
      .where('lease_token', '=', leaseToken)
      .execute();
    const byId = new Map(rows.map((r) => [r.id, r]));
    return ids.flatMap((id) => {
      const r = byId.get(id);
      return r ? [{ ...forward(r), attempts: r.attempts, leaseToken }] : [];
    });
  }

  async openBody(id: string): Promise<Readable | null> {
    const r = await this.db.kysely
      .selectFrom('forward_queue')
      .select(['body_ref', 'size'])
      .where('id', '=', id)
      .where('state', '=', 'queued')
      .executeTakeFirst();
    if (!r || r.body_ref === null) return null;
    return this.db.blobs.open(r.body_ref, r.size);
  }

  /** Ends a leased forward (sent or failed) and releases its body, in the caller's transaction. */
  private async end(
    tx: Kysely<Database>,
    afterCommit: (work: AfterCommit) => void,
    id: string,
    leaseToken: string,
    state: 'sent' | 'failed',
    at: number,
    error: string | null,
  ): Promise<boolean> {
    const leased = await lockRows(
      this.db.dialect,
      tx
        .selectFrom('forward_queue')
        .select('body_ref')
        .where('id', '=', id)
        .where('lease_token', '=', leaseToken)
        .where('state', '=', 'queued'),
      'wait',
    ).executeTakeFirst();
    if (!leased) return false;
    await tx
      .updateTable('forward_queue')
      .set({
        state,
        body_ref: null,
        done_at: at,
        lease_token: null,
        lease_until: null,
        last_error: error === null ? null : error.slice(0, 500),
      })
      .where('id', '=', id)
      .execute();
    await releaseBodies(this.db, tx, [leased.body_ref], afterCommit);
    return true;
  }

  async complete(id: string, leaseToken: string, at: number): Promise<boolean> {
    return transaction(this.db, (tx, afterCommit) =>
      this.end(tx, afterCommit, id, leaseToken, 'sent', at, null),
    );
  }

  async retry(
    id: string,
    leaseToken: string,
    nextAttemptAt: number,
    error: string,
    recipients?: string[],
  ): Promise<boolean> {
    checkRecipients(recipients);
    const r = await this.db.kysely
      .updateTable('forward_queue')
      .set({
        lease_token: null,
        lease_until: null,
        next_attempt_at: nextAttemptAt,
        last_error: error.slice(0, 500),
        ...(recipients ? { recipients: encodeList(recipients) } : {}),
      })
      .where('id', '=', id)
      .where('lease_token', '=', leaseToken)
      .where('state', '=', 'queued')
      .executeTakeFirst();
    return r.numUpdatedRows > 0n;
  }

  async fail(
    id: string,
    leaseToken: string,
    at: number,
    error: string,
    bounce?: { forward: NewForward; body: StagedBody },
  ): Promise<boolean> {
    if (!bounce)
      return transaction(this.db, (tx, afterCommit) =>
        this.end(tx, afterCommit, id, leaseToken, 'failed', at, error),
      );
    return commitWithBody(
      this.db,
      await this.handover(bounce.forward, bounce.body),
      async (tx, ref, afterCommit) => {
        if (!(await this.end(tx, afterCommit, id, leaseToken, 'failed', at, error))) return false;
        await this.insert(tx, bounce.forward, ref);
        return true;
      },
    );
  }

  async stats(): Promise<ForwardStats> {
    const s = await queueStats(this.db.kysely, 'forward_queue');
    return {
      queued: s.count('queued'),
      sent: s.count('sent'),
      failed: s.count('failed'),
      oldestQueuedAt: s.oldestQueuedAt,
    };
  }
}
