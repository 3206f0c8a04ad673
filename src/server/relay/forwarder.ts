/**
 * The forward queue worker: claims due forwards with a lease, streams each stored message unchanged
 * to the upstream mail server with its original envelope, and marks it sent. A temporary failure
 * (connection refused, 4xx) is retried with exponential backoff (`--smtp-retry-base` doubling up to
 * `--smtp-retry-max`) until the forward's lifetime (`--smtp-queue-lifetime`) is over; then — or at
 * once for a permanent refusal (5xx) — the sender gets a bounce (RFC 3464 DSN), queued atomically
 * with the failure. A bounce is sent with the null sender and never bounced itself.
 * At-least-once: a crash between the upstream's 250 and the commit sends that message again.
 */
import nodemailer from 'nodemailer';
import type { Readable } from 'node:stream';
import type { ServerContext } from '../context.ts';
import { PollingWorker, type PollingWorkerOptions } from '../polling.ts';
import { randomId } from '../secrets.ts';
import type { ForwardItem, NewForward } from '../store/port.ts';
import { buildDsn, headerBlock, type FailedRecipient } from './dsn.ts';

/** The upstream's verdict on one recipient. */
interface Refusal {
  recipient: string;
  code: number | null;
  text: string;
}

export interface ForwardResult {
  accepted: string[];
  /** Recipients the upstream refused (with the reply), when at least one was accepted. */
  refused: Refusal[];
}

/** Sends a stored message with its envelope to the upstream. */
export interface ForwardTransport {
  send(envelope: { from: string; to: string[] }, raw: Readable): Promise<ForwardResult>;
  close(): void;
}

interface SmtpError {
  code?: string;
  responseCode?: number;
  response?: string;
  command?: string;
  message?: string;
  rejectedErrors?: { recipient?: string; responseCode?: number; response?: string; message?: string }[];
}

export function createForwardTransport(url: string, name: string): ForwardTransport {
  const u = new URL(url);
  const transporter = nodemailer.createTransport({
    host: u.hostname,
    port: u.port ? Number(u.port) : u.protocol === 'smtps:' ? 465 : 25,
    secure: u.protocol === 'smtps:',
    name,
    ...(u.username
      ? { auth: { user: decodeURIComponent(u.username), pass: decodeURIComponent(u.password) } }
      : {}),
    pool: true,
    maxConnections: 4,
    maxMessages: 1000,
    connectionTimeout: 15_000,
    greetingTimeout: 15_000,
    socketTimeout: 120_000,
  });
  return {
    async send(envelope, raw) {
      const info = (await transporter.sendMail({ envelope, raw })) as {
        accepted?: (string | { address: string })[];
        rejectedErrors?: SmtpError['rejectedErrors'];
      };
      const refused = (info.rejectedErrors ?? []).map((r) => ({
        recipient: r.recipient ?? '',
        code: r.responseCode ?? null,
        text: (r.response ?? r.message ?? 'refused').slice(0, 500),
      }));
      return {
        accepted: (info.accepted ?? []).map((a) => (typeof a === 'string' ? a : a.address)),
        refused,
      };
    },
    close: () => transporter.close(),
  };
}

export type ForwardWorkerOptions = PollingWorkerOptions;

export class ForwardWorker extends PollingWorker {
  constructor(
    ctx: ServerContext,
    private readonly transport: ForwardTransport,
    private readonly hostname: string,
    options: ForwardWorkerOptions = {},
  ) {
    super(ctx, 'forward worker', options, 10 * 60_000);
  }

  /** Stops polling, waits for the forwards being sent right now, closes the upstream connections. */
  override async stop(): Promise<void> {
    await super.stop();
    this.transport.close();
  }

  /** One round; true when the batch was full (there may be more). */
  async tick(): Promise<boolean> {
    const items = await this.ctx.store.forwards.claim(this.ctx.now(), this.leaseMs, this.batch);
    await Promise.all(items.map((i) => this.process(i)));
    return items.length === this.batch;
  }

  private backoff(attempts: number): number {
    const { smtpRetryBaseMs, smtpRetryMaxMs } = this.ctx.config;
    return PollingWorker.backoff(attempts, smtpRetryBaseMs, smtpRetryMaxMs);
  }

  private async process(item: ForwardItem): Promise<void> {
    const { store, logger } = this.ctx;
    const log = { forwardId: item.id, attempts: item.attempts, recipients: item.recipients.length };
    let body: Readable | null = null;
    try {
      body = await store.forwards.openBody(item.id);
      if (!body) {
        await store.forwards.fail(item.id, item.leaseToken, this.ctx.now(), 'the stored message is missing');
        logger.error(log, 'forward failed: the stored message is missing');
        return;
      }
      const result = await this.transport.send({ from: item.mailFrom, to: item.recipients }, body);
      const permanent = result.refused.filter((r) => r.code !== null && r.code >= 500);
      const temporary = result.refused.filter((r) => !(r.code !== null && r.code >= 500));
      const now = this.ctx.now();
      if (temporary.length > 0 && now < item.expiresAt) {
        if (permanent.length > 0) await this.queueBounce(item, permanent.map(refusedRecipient));
        const next = now + this.backoff(item.attempts);
        await store.forwards.retry(
          item.id,
          item.leaseToken,
          next,
          temporary.map((t) => `${t.recipient}: ${t.text}`).join('; '),
          temporary.map((t) => t.recipient),
        );
        logger.warn({ ...log, deferred: temporary.length }, 'forward partly deferred, will retry');
        return;
      }
      const failed = [
        ...permanent.map(refusedRecipient),
        ...temporary.map((t) => ({ ...refusedRecipient(t), status: '4.4.7' })),
      ];
      if (failed.length > 0) await this.queueBounce(item, failed);
      await store.forwards.complete(item.id, item.leaseToken, now);
      logger.info({ ...log, refused: failed.length }, 'forwarded');
    } catch (e) {
      body?.destroy();
      const err = e as SmtpError;
      const error = describe(err);
      const now = this.ctx.now();
      const perRecipient = err.rejectedErrors ?? [];
      const permanentAll =
        typeof err.responseCode === 'number' &&
        err.responseCode >= 500 &&
        (perRecipient.length === 0 || perRecipient.every((r) => (r.responseCode ?? 0) >= 500));
      if (permanentAll || now >= item.expiresAt) {
        const failed: FailedRecipient[] = item.recipients.map((address) => {
          const r = perRecipient.find((x) => x.recipient === address);
          const code = r?.responseCode ?? err.responseCode;
          const text = r?.response ?? err.response ?? null;
          return {
            address,
            status: permanentAll ? statusOf(code, text) : '4.4.7',
            diagnostic: text ?? (code ? String(code) : error),
          };
        });
        const reason = permanentAll
          ? 'The next mail server refused the message.'
          : `The message could not be passed on within ${Math.round(this.ctx.config.smtpQueueLifetimeMs / 3_600_000)} hours; the last error was: ${error}`;
        const bounced = await this.failWithBounce(item, failed, reason, error);
        logger.warn({ ...log, error, bounced }, 'forward failed for good');
      } else {
        const next = now + this.backoff(item.attempts);
        await store.forwards.retry(item.id, item.leaseToken, next, error);
        logger.warn({ ...log, error, retryAt: new Date(next).toISOString() }, 'forward not sent, will retry');
      }
    }
  }

  /** Marks the forward failed and, unless it is a bounce itself, queues a DSN to its sender. */
  private async failWithBounce(
    item: ForwardItem,
    failed: FailedRecipient[],
    reason: string,
    error: string,
  ): Promise<boolean> {
    const { store } = this.ctx;
    const now = this.ctx.now();
    const bounce = item.mailFrom === '' ? null : await this.stageBounce(item, failed, reason);
    await store.forwards.fail(item.id, item.leaseToken, now, error, bounce ?? undefined);
    if (bounce) this.kick();
    return bounce !== null;
  }

  /** Queues a DSN for some recipients of a forward that goes on (or went out to the others). */
  private async queueBounce(item: ForwardItem, failed: FailedRecipient[]): Promise<void> {
    if (item.mailFrom === '') return;
    const reason = failed.every((f) => f.status.startsWith('5'))
      ? 'The next mail server refused these recipients.'
      : 'The next mail server did not accept these recipients in time.';
    const bounce = await this.stageBounce(item, failed, reason);
    await this.ctx.store.forwards.enqueue(bounce.forward, bounce.body);
    this.kick();
  }

  private async stageBounce(item: ForwardItem, failed: FailedRecipient[], reason: string) {
    const { store } = this.ctx;
    const now = this.ctx.now();
    const original = await readHead(await store.forwards.openBody(item.id));
    const id = randomId(16);
    const raw = await buildDsn({
      from: `"Mail Delivery System" <MAILER-DAEMON@${this.hostname}>`,
      to: item.mailFrom,
      reportingHost: this.hostname,
      arrivalDate: new Date(item.createdAt),
      lastAttempt: new Date(now),
      recipients: failed,
      originalHeaders: headerBlock(original),
      reason,
      messageId: `<${id}@${this.hostname}>`,
      date: new Date(now),
    });
    const writer = await store.bodies.createWriter();
    try {
      await writer.write(raw);
      const staged = await writer.finish();
      const forward: NewForward = {
        id,
        mailFrom: '',
        recipients: [item.mailFrom],
        size: staged.size,
        sha256: staged.sha256,
        senderId: null,
        createdAt: now,
        expiresAt: now + this.ctx.config.smtpQueueLifetimeMs,
      };
      return { forward, body: staged };
    } catch (e) {
      await writer.abort();
      throw e;
    }
  }
}

function refusedRecipient(r: Refusal): FailedRecipient {
  return { address: r.recipient, status: statusOf(r.code ?? undefined, r.text), diagnostic: r.text };
}

/** The RFC 3463 status in a reply ("550 5.1.1 …"), else one derived from the reply code. */
function statusOf(code: number | undefined, text: string | null): string {
  const m = /\b([245]\.\d{1,3}\.\d{1,3})\b/.exec(text ?? '');
  if (m) return m[1]!;
  if (code !== undefined && code >= 500) return '5.0.0';
  return '4.0.0';
}

/** The first 64 KiB of a stored message (for the bounce's copy of its headers). */
async function readHead(stream: Readable | null): Promise<Buffer> {
  if (!stream) return Buffer.alloc(0);
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of stream) {
    chunks.push(c as Buffer);
    n += (c as Buffer).length;
    if (n >= 64 * 1024) break;
  }
  stream.destroy();
  return Buffer.concat(chunks);
}

function describe(e: SmtpError): string {
  const parts = [e.code, e.responseCode ? String(e.responseCode) : undefined, e.message?.slice(0, 200)];
  return parts.filter(Boolean).join(' ') || 'unknown error';
}
