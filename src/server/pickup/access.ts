/**
 * Who may read a delivery: whoever presents its link secret. The secret travels in a header
 * (`X-Sealpost-Secret: <secret>` or `Authorization: Sealpost <secret>`), never in the URL. It is
 * hashed and compared with the stored hash in constant time.
 *
 * Wrong secrets are counted per client (its address, an IPv6 client by its /64: client-bucket.ts),
 * in the store so every node sees the same count: across all deliveries (`--bad-secret-ip-limit`
 * per 15 minutes) and for each delivery (`--bad-secret-delivery-limit` per hour). Past either limit
 * that client's requests get 429 before any secret is looked at. Nothing is counted per delivery
 * alone: a client that keeps presenting a wrong secret (a stale tab, a scanner, an attacker) locks
 * out only itself, never the rightful recipient opening the link from elsewhere. A link secret has
 * 128 random bits or more, so the per-delivery count is not needed against guessing.
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

/** The store's counter keys: wrong secrets of a client, and of a client for one delivery. */
export const badSecretKeys = (bucket: string, deliveryId: string) => ({
  client: `bad-secret:${bucket}`,
  delivery: `bad-secret:${bucket}:${deliveryId}`,
});

export class PickupAccess {
  constructor(private readonly ctx: ServerContext) {}

  /**
   * The delivery behind `id` when the request carries its secret. Throws not-found, bad-secret,
   * too-many-attempts, expired or revoked.
   */
  async authorize(request: FastifyRequest, id: string): Promise<DeliveryWithMessage> {
    const { config, store, metrics } = this.ctx;
    const now = this.ctx.now();
    const bucket = clientBucket(request.ip);
    const validId = ID_PATTERN.test(id);
    const keys = badSecretKeys(bucket, validId ? id : '-');
    const perClient = await store.counters.window(keys.client, now, IP_WINDOW_MS);
    if (perClient.count >= config.badSecretIpLimit)
      throw new ServerError(
        'too-many-attempts',
        'Too many wrong links from this address: wait 15 minutes.',
      ).retryIn(perClient.resetAt - now);
    const perDelivery = validId ? await store.counters.window(keys.delivery, now, DELIVERY_WINDOW_MS) : null;
    if (perDelivery && perDelivery.count >= config.badSecretDeliveryLimit)
      throw new ServerError(
        'too-many-attempts',
        'This link was tried with a wrong secret too often from this address; wait an hour, or open the link exactly as it came in the notification.',
      ).retryIn(perDelivery.resetAt - now);
    const found = validId ? await store.deliveries.get(id) : null;
    const secret = presentedSecret(request);
    const ok = secretMatches(secret ?? '', found?.secretHash ?? null);
    if (!ok || !found) {
      await store.counters.hit(keys.client, now, IP_WINDOW_MS);
      if (found) await store.counters.hit(keys.delivery, now, DELIVERY_WINDOW_MS);
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
