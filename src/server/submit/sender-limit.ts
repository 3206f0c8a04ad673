/**
 * The per-sender submission limit (`--sender-rate-limit` per minute): one count per sender for the
 * HTTP API, the upload form and the SMTP relay together, kept in the store's counters so every node
 * sharing a PostgreSQL database counts the same submissions (and a restart does not reset it).
 */
import type { ServerContext } from '../context.ts';
import { ServerError } from '../errors.ts';

export const SENDER_WINDOW_MS = 60_000;

/** Counts one submission by `senderId`; throws `rate-limited` (with its retry time) over the limit. */
export async function countSubmission(
  ctx: Pick<ServerContext, 'store' | 'config' | 'now'>,
  senderId: string,
): Promise<void> {
  await countPerMinute(ctx, `sender:${senderId}`);
}

/** One event under `key` against `--sender-rate-limit` a minute (also the relay's Web Key Service mail). */
export async function countPerMinute(
  ctx: Pick<ServerContext, 'store' | 'config' | 'now'>,
  key: string,
): Promise<void> {
  const now = ctx.now();
  const w = await ctx.store.counters.hitWindow(key, now, SENDER_WINDOW_MS);
  if (w.count > ctx.config.senderRateLimit)
    throw new ServerError(
      'rate-limited',
      'Too many submissions from this sender: retry in a minute.',
    ).retryIn(w.resetAt - now);
}
