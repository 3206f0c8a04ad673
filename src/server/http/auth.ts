/**
 * Sender authentication: `Authorization: Bearer <apiKey>`; the key is hashed and looked up, never
 * stored or logged in clear.
 */
import type { FastifyRequest } from 'fastify';
import type { ServerContext } from '../context.ts';
import { ServerError } from '../errors.ts';
import { hashToken } from '../secrets.ts';
import type { SenderRecord } from '../store/port.ts';

declare module 'fastify' {
  interface FastifyRequest {
    sender: SenderRecord | null;
  }
}

export function bearerToken(request: FastifyRequest): string | null {
  const h = request.headers.authorization;
  if (!h) return null;
  const m = /^Bearer[ ]+([A-Za-z0-9_\-.~+/=]{1,256})\s*$/.exec(h);
  return m ? m[1]! : null;
}

export async function authenticateSender(ctx: ServerContext, request: FastifyRequest): Promise<SenderRecord> {
  const key = bearerToken(request);
  if (!key)
    throw new ServerError(
      'unauthorized',
      'Authenticate with "Authorization: Bearer <API key>" (sealpost senders add).',
    );
  const sender = await ctx.store.senders.findByApiKeyHash(hashToken(key));
  if (!sender) throw new ServerError('unauthorized', 'The API key is unknown or was revoked.');
  return sender;
}
