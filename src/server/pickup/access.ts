/**
 * Who may read a delivery: whoever presents its link secret. The secret travels in a header
 * (`X-Sealpost-Secret: <secret>` or `Authorization: Sealpost <secret>`), never in the URL. It is
 * hashed and compared with the stored hash in constant time. Wrong secrets are counted per client
 * address (an IPv6 client by its /64: client-bucket.ts; in memory, this node) and per delivery (in the store, shared by all nodes); past either
 * limit the answer is 429 before any secret is looked at.
 */
import type { FastifyRequest } from 'fastify';
import { clientBucket } from '../client-bucket.ts';
import type { ServerContext } from '../context.ts';
import { ServerError } from '../errors.ts';
import { secretMatches } from '../secrets.ts';
import type { DeliveryWithMessage } from '../store/port.ts';

export const SECRET_HEADER = 'x-sealpost-secret';
const IP_WINDOW_MS = 15 * 60_000;
const DELIVERY_WINDOW_MS = 60 * 60_000;
const ID_PATTERN = /^[A-Za-z0-9_-]{8,64}$/;

export function presentedSecret(request: FastifyRequest): string | null {
  const h = request.headers[SECRET_HEADER];
  if (typeof h === 'string' && h.length > 0) return h.trim().slice(0, 200);
  const auth = request.headers.authorization;
  const m = auth ? /^Sealpost[ ]+(\S{1,200})\s*$/.exec(auth) : null;
  return m ? m[1]! : null;
}

/** Failures per client address in a fixed window (bounded map; oldest windows dropped first). */
class FailureCounter {
  private readonly map = new Map<string, { count: number; since: number }>();
  constructor(
    private readonly windowMs: number,
    private readonly maxKeys = 100_000,
  ) {}
  count(key: string, now: number): number {
    const e = this.map.get(key);
    return e && e.since > now - this.windowMs ? e.count : 0;
  }
  note(key: string, now: number): number {
    const e = this.map.get(key);
    if (!e || e.since <= now - this.windowMs) {
      this.map.delete(key);
      if (this.map.size >= this.maxKeys) {
        const first = this.map.keys().next();
        if (!first.done) this.map.delete(first.value);
      }
      this.map.set(key, { count: 1, since: now });
      return 1;
    }
    e.count++;
    return e.count;
  }
}

export class PickupAccess {
  private readonly perIp = new FailureCounter(IP_WINDOW_MS);
  constructor(private readonly ctx: ServerContext) {}

  /**
   * The delivery behind `id` when the request carries its secret. Throws not-found, bad-secret,
   * too-many-attempts, expired or revoked.
   */
  async authorize(request: FastifyRequest, id: string): Promise<DeliveryWithMessage> {
    const { config, store, metrics } = this.ctx;
    const now = this.ctx.now();
    const ip = clientBucket(request.ip);
    if (this.perIp.count(ip, now) >= config.badSecretIpLimit)
      throw new ServerError('too-many-attempts', 'Too many wrong links from this address: wait 15 minutes.');
    const found = ID_PATTERN.test(id) ? await store.deliveries.get(id) : null;
    if (
      found &&
      (await store.deliveries.badSecretCount(found.delivery.id, now, DELIVERY_WINDOW_MS)) >=
        config.badSecretDeliveryLimit
    )
      throw new ServerError(
        'too-many-attempts',
        'This link was tried with a wrong secret too often; it is locked for an hour. Open the link exactly as it came in the notification.',
      );
    const secret = presentedSecret(request);
    const ok = secretMatches(secret ?? '', found?.secretHash ?? null);
    if (!ok || !found) {
      this.perIp.note(ip, now);
      if (found) await store.deliveries.noteBadSecret(found.delivery.id, now, DELIVERY_WINDOW_MS);
      metrics.badSecrets.inc({ scope: found ? 'delivery' : 'unknown' });
      if (!found) throw new ServerError('not-found', 'There is no such delivery.');
      throw new ServerError(
        'bad-secret',
        secret
          ? 'The secret does not match this delivery: open the link exactly as it came in the notification.'
          : `The secret is missing: send it in the ${SECRET_HEADER} header.`,
      );
    }
    const { delivery, message } = found;
    if (delivery.state === 'revoked' || message.revokedAt !== null)
      throw new ServerError('revoked', 'The sender withdrew this message.');
    if (delivery.state === 'expired' || message.expiresAt <= now || message.purgedAt !== null)
      throw new ServerError('expired', `This link expired on ${new Date(message.expiresAt).toUTCString()}.`);
    return found;
  }
}
