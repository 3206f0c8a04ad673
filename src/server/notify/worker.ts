/**
 * The outbox worker: claims due mails from the store with a lease, writes them (the link secret is
 * unsealed only now, in memory), sends them, and marks them sent. A failure schedules a retry with
 * exponential backoff; only a permanent refusal of the recipient, or the message's expiry, gives up.
 * At-least-once: a crash between send and mark means one more send of the same mail, with the same
 * Message-ID (so it is recognisable as a duplicate); in normal operation every mail goes out once.
 */
import type { ServerContext } from '../context.ts';
import { PollingWorker, type PollingWorkerOptions } from '../polling.ts';
import { escapeHtml } from '../http/pages.ts';
import type { MailItem } from '../store/port.ts';
import type { NotificationPayload } from '../submit/service.ts';
import { buildMdn } from './mdn.ts';
import { renderNotification, renderReceiptText, type Brand } from './templates.ts';
import { isPermanentMailError, type MailTransport, type OutgoingMail } from './transport.ts';

export type OutboxWorkerOptions = PollingWorkerOptions;

export class OutboxWorker extends PollingWorker {
  constructor(
    ctx: ServerContext,
    private readonly transport: MailTransport,
    options: OutboxWorkerOptions = {},
  ) {
    super(ctx, 'outbox worker', options, 5 * 60_000);
  }

  /** One round; true when the batch was full (there may be more). */
  async tick(): Promise<boolean> {
    const claimedAt = this.ctx.now();
    const items = await this.ctx.store.outbox.claim(claimedAt, this.leaseMs, this.batch);
    await Promise.all(items.map((i) => this.process(i, claimedAt)));
    return items.length === this.batch;
  }

  private backoff(attempts: number): number {
    const { notifyRetryBaseMs, notifyRetryMaxMs } = this.ctx.config;
    return PollingWorker.backoff(attempts, notifyRetryBaseMs, notifyRetryMaxMs);
  }

  private async process(item: MailItem, claimedAt: number): Promise<void> {
    const { store, logger, metrics } = this.ctx;
    let expiresAt = Number.POSITIVE_INFINITY;
    try {
      const found = await store.deliveries.get(item.deliveryId);
      if (found) expiresAt = found.message.expiresAt;
      const mail = found ? await this.compose(item, found) : null;
      if (!mail) {
        await store.outbox.fail(
          item.id,
          item.leaseToken,
          this.ctx.now(),
          'the delivery no longer needs this mail',
        );
        return;
      }
      // A send starts only in the first half of the lease, so it has the other half to finish before
      // another node may take the mail over (several nodes share one outbox on PostgreSQL).
      if (this.ctx.now() - claimedAt > this.leaseMs / 2) {
        await store.outbox.retry(item.id, item.leaseToken, this.ctx.now(), 'lease half over before sending');
        return;
      }
      await this.transport.send(mail);
      await store.outbox.complete(item.id, item.leaseToken, this.ctx.now());
      metrics.notifications.inc({ kind: item.kind, result: 'sent' });
      logger.info(
        { mailId: item.id, kind: item.kind, deliveryId: item.deliveryId, attempts: item.attempts },
        'mail sent',
      );
    } catch (e) {
      const error = describe(e);
      const now = this.ctx.now();
      if (isPermanentMailError(e) || now >= expiresAt) {
        await store.outbox.fail(item.id, item.leaseToken, now, error);
        metrics.notifications.inc({ kind: item.kind, result: 'failed' });
        logger.warn(
          { mailId: item.id, kind: item.kind, deliveryId: item.deliveryId, error },
          'mail failed for good',
        );
      } else {
        const next = now + this.backoff(item.attempts);
        await store.outbox.retry(item.id, item.leaseToken, next, error);
        metrics.notifications.inc({ kind: item.kind, result: 'retry' });
        logger.warn(
          {
            mailId: item.id,
            kind: item.kind,
            deliveryId: item.deliveryId,
            attempts: item.attempts,
            error,
            retryAt: new Date(next).toISOString(),
          },
          'mail not sent, will retry',
        );
      }
    }
  }

  private brand(): Brand {
    const c = this.ctx.config;
    return { name: c.brandName, logoUrl: c.brandLogoUrl, color: c.brandColor, footer: c.brandFooter };
  }

  private async compose(
    item: MailItem,
    found: NonNullable<Awaited<ReturnType<ServerContext['store']['deliveries']['get']>>>,
  ): Promise<OutgoingMail | null> {
    const { delivery, message } = found;
    const baseUrl = this.ctx.baseUrl();
    const host = new URL(baseUrl).hostname;
    const messageId = `<${item.id}@${host}>`;
    if (item.kind === 'notification') {
      if (delivery.state !== 'pending' || !item.payload) return null;
      const { secret } = JSON.parse(
        new TextDecoder().decode(this.ctx.sealer.open(item.payload)),
      ) as NotificationPayload;
      const rendered = renderNotification({
        brand: this.brand(),
        baseUrl,
        link: `${baseUrl}/m/${delivery.id}#${secret}`,
        recipient: delivery.recipient,
        senderEmail: message.senderEmail,
        fromHeader: message.fromHeader,
        subject: message.subject,
        size: message.size,
        protocol: message.protocol,
        encrypted: message.encrypted,
        signed: message.signed,
        expiresAt: message.expiresAt,
        reference: delivery.id.slice(0, 8),
      });
      return {
        id: item.id,
        from: this.ctx.mailFrom(),
        to: delivery.recipient,
        ...rendered,
        messageId,
        headers: {
          'Auto-Submitted': 'auto-generated',
          'X-Auto-Response-Suppress': 'All',
          'X-Sealpost-Delivery': delivery.id,
        },
      };
    }
    const events = await this.ctx.store.deliveries.listEvents(delivery.id);
    const processedAt = [...events].reverse().find((e) => e.type === 'processed')?.at ?? this.ctx.now();
    const { subject, text } = renderReceiptText({
      brand: this.brand(),
      recipient: delivery.recipient,
      subject: message.subject,
      sentAt: message.createdAt,
      processedAt,
    });
    const raw = await buildMdn({
      from: this.ctx.mailFrom(),
      to: item.recipient,
      subject,
      text,
      reportingHost: host,
      finalRecipient: delivery.recipient,
      originalMessageId: message.headerMessageId,
      messageId,
      date: new Date(processedAt),
    });
    return {
      id: item.id,
      from: this.ctx.mailFrom(),
      to: item.recipient,
      subject,
      text,
      html: `<pre>${escapeHtml(text)}</pre>`,
      messageId,
      headers: {},
      raw,
    };
  }
}

function describe(e: unknown): string {
  const err = e as { code?: string; responseCode?: number; message?: string };
  const parts = [
    err.code,
    err.responseCode ? String(err.responseCode) : undefined,
    err.message?.slice(0, 200),
  ];
  return parts.filter(Boolean).join(' ') || 'unknown error';
}
