/**
 * The HTTP edge's error mapping: every error leaves as JSON `{"error": {"code", "message"}}` with a
 * stable code and a human sentence. Services throw ServerError with a code; only this file knows
 * HTTP statuses.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ServerError, isServerError, type ServerErrorCode } from '../errors.ts';
import { asStoreFault } from '../store/faults.ts';

export const HTTP_STATUS: Record<ServerErrorCode, number> = {
  'bad-request': 400,
  unauthorized: 401,
  'bad-secret': 401,
  forbidden: 403,
  'not-found': 404,
  expired: 410,
  revoked: 410,
  'not-secure': 415,
  'too-large': 413,
  'no-recipients': 400,
  'too-many-recipients': 400,
  'unsupported-media-type': 415,
  'range-not-satisfiable': 416,
  timeout: 408,
  conflict: 409,
  'rate-limited': 429,
  'too-many-attempts': 429,
  unavailable: 503,
  'insufficient-storage': 507,
  internal: 500,
};

export interface ErrorBody {
  error: { code: string; message: string; details?: Record<string, unknown> };
}

export function errorBody(e: ServerError): ErrorBody {
  return Object.keys(e.details).length > 0
    ? { error: { code: e.code, message: e.message, details: e.details } }
    : { error: { code: e.code, message: e.message } };
}

/** Turns what a route, a hook or Fastify itself threw into a ServerError. */
export function toServerError(err: unknown): ServerError {
  if (isServerError(err)) return err;
  // A full disk or a database outage: temporary, and typed (507 / 503), never `500 internal`.
  const fault = asStoreFault(err);
  if (fault) return new ServerError(fault.code, fault.message);
  const fe = err as Partial<FastifyError> & { statusCode?: number };
  switch (fe.code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new ServerError(
        'unsupported-media-type',
        'This endpoint does not accept that Content-Type (messages are sent as message/rfc822).',
      );
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new ServerError('too-large', 'The request body is too large.');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new ServerError('bad-request', 'The request body could not be read.');
    default:
      break;
  }
  if (fe.validation || (fe.statusCode && fe.statusCode >= 400 && fe.statusCode < 500)) {
    if (fe.statusCode === 404) return new ServerError('not-found', 'Nothing is here.');
    if (fe.statusCode === 429)
      return new ServerError('rate-limited', 'Too many requests: slow down and retry.');
    if (fe.statusCode === 413) return new ServerError('too-large', 'The request body is too large.');
    if (fe.statusCode === 415)
      return new ServerError('unsupported-media-type', 'This endpoint does not accept that Content-Type.');
    return new ServerError('bad-request', 'The request is not valid.');
  }
  return new ServerError('internal', 'Something went wrong on the server; it has been logged.');
}

/** Codes that may refuse an upload midway (the rest of its body is not read). */
const REFUSED_UPLOAD = new Set<ServerErrorCode>([
  'too-large',
  'not-secure',
  'insufficient-storage',
  'unavailable',
  'bad-request',
  'timeout',
]);

export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((err: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const e = toServerError(err);
    const status = HTTP_STATUS[e.code];
    if (status >= 500) request.log.error({ err }, 'request failed');
    else request.log.info({ code: e.code }, 'request refused');
    if (e.code === 'unauthorized') reply.header('www-authenticate', 'Bearer realm="sealpost"');
    if (e.retryAfter !== undefined) reply.header('retry-after', String(e.retryAfter));
    else if (e.code === 'unavailable' || e.code === 'insufficient-storage') reply.header('retry-after', '30');
    // A refused upload leaves the rest of its body unread: close the connection after answering.
    if (REFUSED_UPLOAD.has(e.code) && !request.raw.complete) reply.header('connection', 'close');
    void reply.code(status).type('application/json; charset=utf-8').send(errorBody(e));
  });
  app.setNotFoundHandler((request, reply) => {
    void reply
      .code(404)
      .type('application/json; charset=utf-8')
      .send(errorBody(new ServerError('not-found', 'Nothing is here.')));
  });
}
