/**
 * Submission API (POST/GET/DELETE /api/v1/messages, GET /api/v1/sender) and the upload form /send.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Readable } from 'node:stream';
import { parseDuration } from '../config.ts';
import type { ServerContext } from '../context.ts';
import { ServerError } from '../errors.ts';
import { authenticateSender } from '../http/auth.ts';
import { escapeHtml, page } from '../http/pages.ts';
import type { MessageRecord } from '../store/port.ts';
import { SubmissionService } from './service.ts';
import { countSubmission } from './sender-limit.ts';

/**
 * The upload's bytes, failing with 408 `timeout` when nothing arrives for `idleMs` or the whole
 * upload takes longer than `totalMs`: a client that stops sending would otherwise hold its
 * connection and its staged file open indefinitely (the submission removes the file when it fails).
 */
export async function* withTimeouts(
  body: AsyncIterable<Uint8Array>,
  idleMs: number,
  totalMs: number,
): AsyncGenerator<Uint8Array> {
  const it = body[Symbol.asyncIterator]();
  const deadline = Date.now() + totalMs;
  for (;;) {
    const left = deadline - Date.now();
    const total = left <= idleMs;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new ServerError(
              'timeout',
              total
                ? `The upload took longer than ${Math.round(totalMs / 1000)} s: it was dropped.`
                : `The upload sent nothing for ${Math.round(idleMs / 1000)} s: it was dropped.`,
            ),
          ),
        Math.max(0, Math.min(idleMs, left)),
      );
    });
    try {
      const r = await Promise.race([it.next(), timeout]);
      if (r.done) return;
      yield r.value;
    } finally {
      clearTimeout(timer);
    }
  }
}

export const MESSAGE_CONTENT_TYPES = ['message/rfc822', 'application/octet-stream'];

function asList(v: unknown): string[] {
  if (v === undefined || v === null) return [];
  const arr = Array.isArray(v) ? v : [v];
  return arr
    .flatMap((x) => String(x).split(','))
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

function parseExpiry(v: unknown, now: number): number | null {
  if (v === undefined || v === '') return null;
  const s = String(v);
  const d = parseDuration(s);
  if (d !== null) return d;
  const t = Date.parse(s);
  if (!Number.isNaN(t) && /^\d{4}-\d{2}-\d{2}/.test(s)) return t - now;
  throw new ServerError(
    'bad-request',
    '?expires= takes a duration such as 7d or 12h, or an ISO date such as 2030-01-31.',
  );
}

function parseBool(v: unknown, name: string): boolean | null {
  if (v === undefined) return null;
  const s = String(v).toLowerCase();
  if (['1', 'true', 'yes'].includes(s)) return true;
  if (['0', 'false', 'no'].includes(s)) return false;
  throw new ServerError('bad-request', `?${name}= takes true or false.`);
}

export async function messageStatus(ctx: ServerContext, m: MessageRecord) {
  const deliveries = await ctx.store.deliveries.listByMessage(m.id);
  return {
    id: m.id,
    createdAt: new Date(m.createdAt).toISOString(),
    expiresAt: new Date(m.expiresAt).toISOString(),
    size: m.size,
    protocol: m.protocol,
    encrypted: m.encrypted,
    signed: m.signed,
    subject: m.subject,
    revoked: m.revokedAt !== null,
    receiptRequested: m.receiptRequested,
    deliveries: await Promise.all(
      deliveries.map(async (d) => ({
        id: d.id,
        recipient: d.recipient,
        state: d.state,
        events: (await ctx.store.deliveries.listEvents(d.id)).map((e) => ({
          at: new Date(e.at).toISOString(),
          type: e.type,
          ...(e.detail ? { detail: e.detail } : {}),
        })),
      })),
    ),
  };
}

export async function submitRoutes(app: FastifyInstance, opts: { ctx: ServerContext }): Promise<void> {
  const { ctx } = opts;
  const service = new SubmissionService(ctx);
  // The body stays a stream: the handler writes it to disk as it arrives.
  app.addContentTypeParser(MESSAGE_CONTENT_TYPES, (_request, payload, done) => done(null, payload));

  const auth = async (request: FastifyRequest): Promise<void> => {
    request.sender = await authenticateSender(ctx, request);
  };
  // One per-sender count for the API, the form and the SMTP relay, in the store (sender-limit.ts).
  const limitSender = async (request: FastifyRequest): Promise<void> => {
    await countSubmission(ctx, request.sender!.id);
  };

  async function ownMessage(request: FastifyRequest): Promise<MessageRecord> {
    const { id } = request.params as { id: string };
    const m = await ctx.store.submissions.get(id);
    if (!m || m.senderId !== request.sender!.id)
      throw new ServerError('not-found', 'There is no such message.');
    return m;
  }

  app.post('/api/v1/messages', { onRequest: [auth, limitSender] }, async (request, reply) => {
    // Fastify parses JSON and text/plain bodies itself: only the message types arrive as a stream.
    if (!(request.body instanceof Readable))
      throw new ServerError(
        'unsupported-media-type',
        `POST the message itself as ${MESSAGE_CONTENT_TYPES.join(' or ')}, not as ${String(
          request.headers['content-type'] ?? 'no Content-Type',
        )
          .split(';')[0]!
          .slice(0, 100)}.`,
      );
    const q = request.query as Record<string, unknown>;
    const to = asList(q.to);
    const length = request.headers['content-length'];
    const result = await service.submit({
      sender: request.sender!,
      body: withTimeouts(request.body, ctx.config.uploadIdleTimeoutMs, ctx.config.uploadTimeoutMs),
      declaredLength: length !== undefined && /^\d+$/.test(length) ? Number(length) : null,
      to: to.length > 0 ? to : null,
      expiresInMs: parseExpiry(q.expires, ctx.now()),
      receipt: parseBool(q.receipt, 'receipt'),
    });
    return reply.code(201).header('location', `/api/v1/messages/${result.id}`).send(result);
  });

  app.get('/api/v1/messages/:id', { onRequest: auth }, async (request) =>
    messageStatus(ctx, await ownMessage(request)),
  );

  app.delete('/api/v1/messages/:id', { onRequest: auth }, async (request) => {
    const m = await ownMessage(request);
    const now = ctx.now();
    if (await ctx.store.submissions.revoke(m.id, now)) {
      await ctx.store.retention.purgeBody(m.id, now);
      ctx.logger.info({ messageId: m.id }, 'message revoked');
    }
    return messageStatus(ctx, (await ctx.store.submissions.get(m.id))!);
  });

  app.get('/api/v1/sender', { onRequest: auth }, async (request) => ({
    email: request.sender!.email,
    createdAt: new Date(request.sender!.createdAt).toISOString(),
  }));

  app.get('/send', async (_request, reply) => {
    const days = Math.round(ctx.config.defaultExpiryMs / 86_400_000);
    const body = `
<h1>Send a secure message</h1>
<p>Upload a message that is already S/MIME- or OpenPGP-encrypted or signed (an <code>.eml</code>,
<code>.p7m</code> or <code>.asc</code> file). Each recipient gets a notification with a private link.</p>
<form id="send-form" class="card" autocomplete="off">
  <fieldset>
    <legend>Sign in</legend>
    <label>Your e-mail address <input type="email" name="email" required autocomplete="username"></label>
    <label>API key <input type="password" name="apiKey" required autocomplete="current-password"
      pattern="sp_[A-Za-z0-9_\\-]{43}" title="The key printed by sealpost senders add (starts with sp_)"></label>
  </fieldset>
  <fieldset>
    <legend>Message</legend>
    <label>File <input type="file" name="file" required accept=".eml,.p7m,.asc,.pgp,.gpg,message/rfc822"></label>
    <label>Recipients <textarea name="to" rows="2" placeholder="Leave empty to use the message's To and Cc"></textarea></label>
    <label>Link expires after
      <select name="expires">
        <option value="">${days} days (default)</option>
        <option value="1d">1 day</option>
        <option value="7d">7 days</option>
        <option value="90d">90 days</option>
      </select>
    </label>
    <label class="check"><input type="checkbox" name="receipt" value="1"> Send me a receipt when it is opened</label>
  </fieldset>
  <button type="submit">Send</button>
</form>
<section id="send-result" aria-live="polite"></section>
<noscript><p class="error">This form needs JavaScript. Without it, use <code>sealpost send</code> or the HTTP API.</p></noscript>`;
    return reply
      .type('text/html; charset=utf-8')
      .header('cache-control', 'no-store')
      .send(page({ title: 'Send', brandName: ctx.config.brandName, body, scripts: ['/assets/send.js'] }));
  });

  app.get('/', async (_request, reply) => {
    const body = `
<h1>${escapeHtml(ctx.config.brandName)}</h1>
<p>Secure e-mail delivered to any browser. Senders hand over an S/MIME or OpenPGP message; each
recipient gets a notification with a private link, and the message is decrypted in their browser.</p>
<ul>
  <li><a href="/send">Send a secure message</a></li>
  ${ctx.outboxMode ? '<li><a href="/outbox">Outbox</a> (notifications of this trial server)</li>' : ''}
  <li><a href="/api/v1/openapi.json">HTTP API (OpenAPI)</a></li>
</ul>`;
    return reply
      .type('text/html; charset=utf-8')
      .send(page({ title: 'Home', brandName: ctx.config.brandName, body }));
  });
}
