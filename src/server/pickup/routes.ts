/**
 * Pickup: the receiver page (/m/:id, no state change, so link scanners do no harm), the receiver's
 * static files, the trust anchors, and the secret-protected API: metadata, content (Range, ETag,
 * no-store, 1 MiB reads) and the receipt.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { ServerContext } from '../context.ts';
import { ServerError } from '../errors.ts';
import { RECEIVER_CSP } from '../http/security.ts';
import { randomId } from '../secrets.ts';
import type { ByteRange, DeliveryWithMessage } from '../store/port.ts';
import type { PickupAccess } from './access.ts';
import { LaterTransitions } from './later.ts';
import type { ReceiverAssets } from './assets.ts';

/** Parses a single-range `Range: bytes=…` header; null = serve everything, 'unsatisfiable' = 416. */
export function parseRange(header: string | undefined, size: number): ByteRange | 'unsatisfiable' | null {
  if (!header) return null;
  const m = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
  if (!m) return null; // several ranges or another unit: answer with the whole body
  const [, a, b] = m;
  if (a === '' && b === '') return null;
  if (a === '') {
    const n = Number(b);
    if (n === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(a);
  const end = b === '' ? size - 1 : Math.min(Number(b), size - 1);
  if (b !== '' && Number(b) < start) return null; // invalid: ignore
  if (start >= size) return 'unsatisfiable';
  return { start, end };
}

const ReceiptBody = z
  .object({
    outcome: z.enum(['processed', 'failed']).default('processed'),
    detail: z.string().max(200).optional(),
    receiver: z.string().max(100).optional(),
  })
  .loose();

/** A short, log-safe summary of what the receiver reported (simple values only). */
function receiptDetail(body: Record<string, unknown>): string | null {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(body)) {
    if (k === 'outcome' || parts.length >= 8) continue;
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean')
      parts.push(
        `${k.replace(/[^\w-]/g, '').slice(0, 30)}=${String(v)
          .replace(/[^\x20-\x7e\u00a0-\uffff]+/g, ' ')
          .slice(0, 60)}`,
      );
  }
  const s = parts.join(' ').slice(0, 200);
  return s === '' ? null : s;
}

/** Where the server puts its configuration for the receiver in index.html. */
export const CONFIG_PLACEHOLDER = '<!--sealpost-config-->';

/**
 * The receiver page with the server's configuration (trust anchors, branding) as inert JSON in
 * `<script type="application/json" id="sealpost-config">` (it never runs, so the strict CSP holds).
 */
export function receiverPage(assets: ReceiverAssets, config: Record<string, unknown>): Buffer {
  const html = assets.indexHtml().toString('utf8');
  const json = JSON.stringify(config)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026');
  const tag = `<script type="application/json" id="sealpost-config">${json}</script>`;
  return Buffer.from(html.includes(CONFIG_PLACEHOLDER) ? html.replace(CONFIG_PLACEHOLDER, () => tag) : html);
}

export async function pickupRoutes(
  app: FastifyInstance,
  opts: { ctx: ServerContext; assets: ReceiverAssets; access: PickupAccess },
): Promise<void> {
  const { ctx, assets, access } = opts;

  // A visit is recorded as "opened"; when the store cannot write (full disk, database outage) the
  // recipient still gets the message and the change is recorded later (later.ts).
  const later = new LaterTransitions(ctx.store.deliveries, ctx.logger);
  app.addHook('onClose', async () => later.close());

  async function markOpened(found: DeliveryWithMessage): Promise<void> {
    const s = found.delivery.state;
    if (s === 'pending' || s === 'notified')
      await later.record({
        deliveryId: found.delivery.id,
        from: ['pending', 'notified'],
        to: 'opened',
        event: 'opened',
        at: ctx.now(),
      });
  }

  const pageHtml = receiverPage(assets, {
    trustAnchors: ctx.trustAnchors.anchors.map((a) => a.pem),
    trustAnchorSubjects: ctx.trustAnchors.anchors.map((a) => a.subject),
    trustAnchorsSha256: ctx.trustAnchors.sha256,
    brand: { name: ctx.config.brandName, color: ctx.config.brandColor },
  });

  const sendPage = (reply: FastifyReply): FastifyReply =>
    reply
      .type('text/html; charset=utf-8')
      .header('content-security-policy', RECEIVER_CSP)
      .header('cache-control', 'no-store')
      .header('x-robots-tag', 'noindex, nofollow')
      .send(pageHtml);

  // No lookup, no state change: the page reads the secret from the fragment and calls the API.
  app.get('/m/:id', async (_request, reply) => sendPage(reply));
  // The installed app's start page (the keys page when no message link is open).
  if (assets.kind === 'dist') app.get('/receiver/', async (_request, reply) => sendPage(reply));

  app.get('/receiver/*', async (request, reply) => {
    const rel = (request.params as { '*': string })['*'];
    const f = await assets.file(rel);
    if (!f) throw new ServerError('not-found', 'There is no such receiver file.');
    // The receiver's service worker (/receiver/sw.js) controls the whole origin.
    if (rel === 'sw.js') reply.header('service-worker-allowed', '/');
    return reply
      .type(f.type)
      .header('content-length', String(f.size))
      .header('cache-control', f.immutable ? 'public, max-age=31536000, immutable' : 'no-cache')
      .send(f.body);
  });

  app.get('/receiver/trust-anchors.pem', async (request, reply) => {
    const etag = `"${ctx.trustAnchors.sha256}"`;
    reply.header('etag', etag).header('cache-control', 'no-cache');
    if (request.headers['if-none-match'] === etag) return reply.code(304).send();
    return reply.type('application/pem-certificate-chain').send(ctx.trustAnchors.pem);
  });

  app.get('/api/v1/trust-anchors', async () => ({
    sha256: ctx.trustAnchors.sha256,
    anchors: ctx.trustAnchors.anchors,
  }));

  const idOf = (request: FastifyRequest): string => (request.params as { id: string }).id;

  app.get('/api/v1/pickup/:id', async (request) => {
    const found = await access.authorize(request, idOf(request));
    await markOpened(found);
    const { delivery, message } = found;
    return {
      id: delivery.id,
      recipient: delivery.recipient,
      sender: message.senderEmail,
      from: message.fromHeader,
      subject: message.subject,
      size: message.size,
      protocol: message.protocol,
      encrypted: message.encrypted,
      signed: message.signed,
      contentType: message.contentType,
      sha256: message.sha256,
      createdAt: new Date(message.createdAt).toISOString(),
      expiresAt: new Date(message.expiresAt).toISOString(),
      state: delivery.state === 'pending' || delivery.state === 'notified' ? 'opened' : delivery.state,
      contentUrl: `/api/v1/pickup/${delivery.id}/content`,
      receiptUrl: `/api/v1/pickup/${delivery.id}/receipt`,
    };
  });

  async function content(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const found = await access.authorize(request, idOf(request));
    const { message, delivery } = found;
    const etag = `"${message.sha256}"`;
    reply
      .header('etag', etag)
      .header('accept-ranges', 'bytes')
      .header('cache-control', 'no-store')
      .header('content-disposition', `attachment; filename="sealpost-${delivery.id}.eml"`)
      .type('message/rfc822');
    await markOpened(found);
    const inm = request.headers['if-none-match'];
    if (inm && inm.split(',').some((t) => t.trim() === etag || t.trim() === '*'))
      return reply.code(304).send();
    const ifRange = request.headers['if-range'];
    const rangeHeader = ifRange === undefined || ifRange === etag ? request.headers.range : undefined;
    const range = parseRange(rangeHeader, message.size);
    if (range === 'unsatisfiable') {
      reply.header('content-range', `bytes */${message.size}`);
      throw new ServerError('range-not-satisfiable', `The message has ${message.size} bytes.`);
    }
    const length = range ? range.end - range.start + 1 : message.size;
    reply.header('content-length', String(length));
    if (range) reply.code(206).header('content-range', `bytes ${range.start}-${range.end}/${message.size}`);
    if (request.method === 'HEAD') return reply.send();
    const stream = await ctx.store.submissions.openBody(message, range ?? undefined);
    if (!stream) throw new ServerError('expired', 'This message is no longer stored.');
    reply.raw.once('finish', () => ctx.metrics.pickupBytes.inc(length));
    return reply.send(stream);
  }

  app.route({ method: 'GET', url: '/api/v1/pickup/:id/content', exposeHeadRoute: false, handler: content });
  app.route({ method: 'HEAD', url: '/api/v1/pickup/:id/content', handler: content });

  app.post('/api/v1/pickup/:id/receipt', { bodyLimit: 16 * 1024 }, async (request) => {
    const found = await access.authorize(request, idOf(request));
    const parsed = ReceiptBody.safeParse(request.body ?? {});
    if (!parsed.success)
      throw new ServerError(
        'bad-request',
        'The receipt takes {"outcome": "processed"|"failed", "detail"?, "receiver"?}.',
      );
    const { delivery, message } = found;
    const now = ctx.now();
    if (parsed.data.outcome === 'failed') {
      await ctx.store.deliveries.addEvent(delivery.id, 'receiver-failed', receiptDetail(parsed.data), now);
      return { id: delivery.id, state: delivery.state };
    }
    const wantMdn =
      ctx.config.receipts === 'always' || (ctx.config.receipts === 'requested' && message.receiptRequested);
    const changed = await ctx.store.deliveries.transition({
      deliveryId: delivery.id,
      from: ['pending', 'notified', 'opened', 'failed'],
      to: 'processed',
      event: 'processed',
      detail: receiptDetail(parsed.data),
      at: now,
      enqueue: wantMdn
        ? [
            {
              id: randomId(16),
              kind: 'receipt',
              deliveryId: delivery.id,
              recipient: message.senderEmail,
              payload: null,
            },
          ]
        : [],
    });
    if (changed) {
      ctx.metrics.receipts.inc();
      ctx.logger.info({ deliveryId: delivery.id, messageId: message.id }, 'delivery processed');
      if (wantMdn) ctx.kickOutbox();
    }
    return { id: delivery.id, state: 'processed' };
  });
}
