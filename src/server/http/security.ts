/**
 * Security headers for every response, with a strict Content-Security-Policy (no inline script or
 * style anywhere), and the loopback test used by the outbox and metrics routes.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/** The default policy of pages and API answers. */
export const STRICT_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "form-action 'self'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ');

/**
 * The receiver app's policy: its crypto runs in a Web Worker (a same-origin script, never blob:),
 * attachments are saved through blob: URLs (downloads, not subresources), HTML bodies render in a
 * sandboxed srcdoc frame (about:srcdoc is not a fetch, so `frame-src 'none'` still lets it exist and
 * forbids every other frame). The frame inherits this policy: it can load data: images only
 * ('self' images are removed by the sanitizer), and its styles are applied through the CSSOM,
 * which CSP does not govern. No inline script or style, no third-party origin.
 */
export const RECEIVER_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "worker-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  // https: for one purpose: looking a sender's key up in the Web Key Directory of their domain
  // (any domain; CSP cannot name it in advance). docs/security.md gives the reasoning.
  "connect-src 'self' https:",
  "frame-src 'none'",
  "child-src 'none'",
  "manifest-src 'self'",
  "form-action 'none'",
  "base-uri 'none'",
  "object-src 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** For previewing a notification's HTML in the built-in outbox: inline styles, no script. */
export const MAIL_PREVIEW_CSP =
  "default-src 'none'; style-src 'unsafe-inline'; img-src https: data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

export function installSecurityHeaders(app: FastifyInstance, opts: { hsts: boolean }): void {
  app.addHook('onSend', async (request: FastifyRequest, reply: FastifyReply, payload) => {
    if (!reply.hasHeader('content-security-policy')) reply.header('content-security-policy', STRICT_CSP);
    reply.header('x-content-type-options', 'nosniff');
    reply.header('referrer-policy', 'no-referrer');
    reply.header('x-frame-options', 'DENY');
    reply.header('cross-origin-opener-policy', 'same-origin');
    // A route meant for other origins (the Web Key Directory) sets its own.
    if (!reply.hasHeader('cross-origin-resource-policy'))
      reply.header('cross-origin-resource-policy', 'same-origin');
    reply.header('permissions-policy', 'camera=(), microphone=(), geolocation=(), payment=(), usb=()');
    if (opts.hsts) reply.header('strict-transport-security', 'max-age=31536000');
    if (request.url.startsWith('/api/') && !reply.hasHeader('cache-control'))
      reply.header('cache-control', 'no-store');
    return payload;
  });
}

export function isLoopback(ip: string): boolean {
  return ip === '::1' || /^127\./.test(ip) || /^::ffff:127\./i.test(ip);
}

/** Headers a reverse proxy adds: a request carrying one was relayed for some other client. */
const FORWARDING_HEADERS = [
  'forwarded',
  'x-forwarded-for',
  'x-forwarded-host',
  'x-forwarded-proto',
  'x-real-ip',
  'x-client-ip',
  'true-client-ip',
  'cf-connecting-ip',
  'via',
];

/**
 * Is the client this machine itself? Judged by the connection's peer address, never by
 * X-Forwarded-For (a client can put 127.0.0.1 there, and `--trust-proxy` would believe it); and a
 * request that came through a reverse proxy is not local even when the proxy runs on this machine.
 * Guards the loopback-only routes (the outbox, whose mails carry link secrets, and /metrics).
 */
export function isLocalRequest(request: FastifyRequest): boolean {
  if (!isLoopback(request.raw.socket?.remoteAddress ?? '')) return false;
  return FORWARDING_HEADERS.every((h) => request.headers[h] === undefined);
}
