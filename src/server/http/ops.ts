/**
 * Operations: /healthz (the process answers), /readyz (the store answers, the data folder has its
 * reserve of free space, and the server is not shutting down), /metrics (Prometheus; loopback only by default), the OpenAPI document, and — only
 * with no upstream SMTP server, only from loopback — the built-in outbox.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ServerContext } from '../context.ts';
import { ServerError } from '../errors.ts';
import { openApiDocument } from './openapi.ts';
import { escapeHtml, page } from './pages.ts';
import { sealedMailbox } from '../notify/sealed-mailbox.ts';
import { MAIL_PREVIEW_CSP, isLocalRequest } from './security.ts';

export async function opsRoutes(
  app: FastifyInstance,
  opts: { ctx: ServerContext; isReady: () => boolean },
): Promise<void> {
  const { ctx, isReady } = opts;
  const noLimit = { config: { rateLimit: false } };

  app.get('/healthz', noLimit, async () => ({ status: 'ok' }));

  app.get('/readyz', noLimit, async (_request, reply) => {
    if (!isReady())
      return reply.code(503).send({ status: 'unavailable', reason: 'starting or shutting down' });
    try {
      await ctx.store.ping();
    } catch {
      return reply.code(503).send({ status: 'unavailable', reason: 'the store does not answer' });
    }
    if (await ctx.disk.low())
      return reply.code(503).send({
        status: 'unavailable',
        reason: 'the data folder has less free space than --min-free-space',
        freeBytes: await ctx.disk.free(),
        minFreeBytes: ctx.disk.reserve,
      });
    return { status: 'ready' };
  });

  app.get('/metrics', noLimit, async (request, reply) => {
    if (ctx.config.metrics === 'off' || (ctx.config.metrics === 'loopback' && !isLocalRequest(request)))
      throw new ServerError('not-found', 'Nothing is here.');
    return reply.type(ctx.metrics.registry.contentType).send(await ctx.metrics.registry.metrics());
  });

  const openapi = openApiDocument();
  app.get('/api/v1/openapi.json', async () => openapi);

  if (!ctx.outboxMode) return;

  const localOnly = async (request: FastifyRequest): Promise<void> => {
    if (!isLocalRequest(request)) throw new ServerError('not-found', 'Nothing is here.');
  };

  app.get('/api/v1/outbox', { onRequest: localOnly }, async () =>
    (await sealedMailbox(ctx.store.localMail, ctx.sealer).list(500)).map((m) => ({
      to: m.to,
      subject: m.subject,
      text: m.text,
      html: m.html,
      createdAt: new Date(m.createdAt).toISOString(),
    })),
  );

  app.get('/outbox', { onRequest: localOnly }, async (_request, reply) => {
    const mails = await sealedMailbox(ctx.store.localMail, ctx.sealer).list(200);
    const linkify = (text: string): string =>
      escapeHtml(text).replace(/(https?:\/\/[^\s<>"']+)/g, (u) => `<a href="${u}" rel="noreferrer">${u}</a>`);
    const items = mails
      .map(
        (m) => `<article class="card mail">
<h2>${escapeHtml(m.subject)}</h2>
<p class="meta">To ${escapeHtml(m.to)} · ${escapeHtml(new Date(m.createdAt).toUTCString())} · <a href="/outbox/${encodeURIComponent(m.id)}.html">HTML version</a></p>
<pre>${linkify(m.text)}</pre>
</article>`,
      )
      .join('\n');
    const body = `<h1>Outbox</h1>
<p>No upstream mail server is configured (<code>--smtp-upstream</code>), so notifications and receipts
are kept here instead of being sent. This page is only served to this machine.</p>
${items || '<p>No mail yet. Submit a message (<a href="/send">/send</a> or <code>sealpost send</code>) and reload.</p>'}`;
    return reply
      .type('text/html; charset=utf-8')
      .header('cache-control', 'no-store')
      .send(page({ title: 'Outbox', brandName: ctx.config.brandName, body }));
  });

  app.get('/outbox/:file', { onRequest: localOnly }, async (request, reply) => {
    const file = (request.params as { file: string }).file;
    const id = file.replace(/\.html$/, '');
    const mail = (await sealedMailbox(ctx.store.localMail, ctx.sealer).list(1000)).find((m) => m.id === id);
    if (!mail) throw new ServerError('not-found', 'There is no such mail in the outbox.');
    return reply
      .type('text/html; charset=utf-8')
      .header('content-security-policy', MAIL_PREVIEW_CSP)
      .header('cache-control', 'no-store')
      .send(mail.html);
  });
}
