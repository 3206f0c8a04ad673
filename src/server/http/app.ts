/**
 * Builds the Fastify application from the shared context: security headers, rate limits, request
 * logs and metrics, error mapping, and the route groups of each part of the server.
 */
import rateLimit from '@fastify/rate-limit';
import Fastify, { LogController, type FastifyInstance } from 'fastify';
import { clientBucket } from '../client-bucket.ts';
import type { ServerContext } from '../context.ts';
import { directoryRoutes } from '../directory/routes.ts';
import { wkdRoutes } from '../directory/wkd.ts';
import { ServerError } from '../errors.ts';
import { pathOnly } from '../log.ts';
import { PickupAccess } from '../pickup/access.ts';
import type { ReceiverAssets } from '../pickup/assets.ts';
import { pickupRoutes } from '../pickup/routes.ts';
import { randomId } from '../secrets.ts';
import { submitRoutes } from '../submit/routes.ts';
import { capConnectionsPerClient } from './connections.ts';
import { installErrorHandling } from './errors.ts';
import { installRequestMetrics } from './metrics.ts';
import { opsRoutes } from './ops.ts';
import { loadBuiltinAssets } from './pages.ts';
import { installSecurityHeaders } from './security.ts';

export interface AppOptions {
  assets: ReceiverAssets;
  tls: { key: Buffer; cert: Buffer } | null;
  isReady(): boolean;
  /** True once shutdown began: answers then close their connection instead of keeping it alive. */
  isClosing(): boolean;
}

export async function buildApp(ctx: ServerContext, opts: AppOptions): Promise<FastifyInstance> {
  const reqPrefix = `${randomId(4)}-`;
  let reqCounter = 0;
  const app = Fastify({
    loggerInstance: ctx.logger,
    logController: new LogController({ disableRequestLogging: true }),
    trustProxy: ctx.config.trustProxy,
    bodyLimit: 1024 * 1024,
    // Large uploads on slow links: no overall request deadline; headers must still come quickly.
    requestTimeout: 0,
    connectionTimeout: 0,
    keepAliveTimeout: 10_000,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    genReqId: () => `${reqPrefix}${(++reqCounter).toString(36)}`,
    ...(opts.tls ? { https: { key: opts.tls.key, cert: opts.tls.cert } } : {}),
  }) as unknown as FastifyInstance;

  if (!ctx.config.trustProxy) capConnectionsPerClient(app.server, ctx.config.maxConnectionsPerIp, ctx.logger);
  app.decorateRequest('sender', null);
  installErrorHandling(app);
  installSecurityHeaders(app, { hsts: opts.tls !== null || ctx.baseUrl().startsWith('https:') });
  installRequestMetrics(app, ctx.metrics);
  app.addHook('onSend', async (_request, reply, payload) => {
    if (opts.isClosing()) reply.header('connection', 'close');
    return payload;
  });
  // One log line per request: method, path without query, status, time, client address.
  app.addHook('onResponse', async (request, reply) => {
    request.log.info(
      {
        method: request.method,
        path: pathOnly(request.url),
        status: reply.statusCode,
        ms: Math.round(reply.elapsedTime),
        ip: request.ip,
      },
      'request',
    );
  });

  await app.register(rateLimit, {
    global: true,
    max: ctx.config.rateLimit,
    timeWindow: 60_000,
    // Per client address; an IPv6 client per /64, which it can otherwise rotate through.
    keyGenerator: (request) => clientBucket(request.ip),
    errorResponseBuilder: (_request, context) =>
      new ServerError('rate-limited', `Too many requests from this address: retry in ${context.after}.`),
  });

  const builtin = loadBuiltinAssets();
  app.get('/assets/:name', async (request, reply) => {
    const a = builtin.get((request.params as { name: string }).name);
    if (!a) throw new ServerError('not-found', 'There is no such file.');
    reply.header('etag', a.etag).header('cache-control', 'no-cache');
    if (request.headers['if-none-match'] === a.etag) return reply.code(304).send();
    return reply.type(a.type).send(a.body);
  });

  const access = new PickupAccess(ctx);
  await app.register(opsRoutes, { ctx, isReady: opts.isReady });
  await app.register(submitRoutes, { ctx });
  await app.register(pickupRoutes, { ctx, assets: opts.assets, access });
  await app.register(directoryRoutes, { ctx, access });
  await app.register(wkdRoutes, { ctx });
  return app;
}
