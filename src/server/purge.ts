/**
 * The purge worker: marks the deliveries of messages past their expiry as expired, deletes the
 * stored bodies of expired and revoked messages (metadata and events stay for the sender's status),
 * and deletes finished queue history older than --history-days (sent, failed and cancelled
 * notification mails; sent and failed relay forwards). It runs on every node: the store hands each
 * row to one of them.
 */
import type { ServerContext } from './context.ts';
import { asStoreFault } from './store/faults.ts';

const DAY_MS = 86_400_000;
/** Rows per retention batch: short transactions, however much history has piled up. */
export const HISTORY_BATCH = 500;

export class PurgeWorker {
  private timer: NodeJS.Timeout | null = null;
  private current: Promise<void> | null = null;
  private stopped = false;

  constructor(private readonly ctx: ServerContext) {}

  start(): void {
    this.timer = setInterval(() => void this.runOnce(), this.ctx.config.purgeIntervalMs);
    this.timer.unref();
    void this.runOnce();
  }

  /** One pass; concurrent calls share the pass in progress. */
  runOnce(): Promise<void> {
    if (this.current) return this.current;
    this.current = this.pass()
      .catch((err: unknown) =>
        asStoreFault(err)
          ? this.ctx.logger.warn({ err }, 'purge not done: store fault, retried at the next pass')
          : this.ctx.logger.error({ err }, 'purge failed'),
      )
      .finally(() => {
        this.current = null;
      });
    return this.current;
  }

  private async pass(): Promise<void> {
    const { store, logger } = this.ctx;
    for (;;) {
      if (this.stopped) return;
      const expired = await store.retention.expireDue(this.ctx.now(), 100);
      if (expired.length > 0) logger.info({ messages: expired.length }, 'messages expired');
      if (expired.length < 100) break;
    }
    for (;;) {
      if (this.stopped) return;
      const ids = await store.retention.listPurgeable(this.ctx.now(), 100);
      for (const id of ids) await store.retention.purgeBody(id, this.ctx.now());
      if (ids.length > 0) logger.info({ messages: ids.length }, 'message bodies purged');
      if (ids.length < 100) break;
    }
    // Counters' windows are an hour at most (pickup/access.ts): a day later they count nothing.
    await store.counters.prune(this.ctx.now() - DAY_MS);
    const before = this.ctx.now() - this.ctx.config.historyDays * DAY_MS;
    let mails = 0;
    let forwards = 0;
    for (;;) {
      if (this.stopped) break;
      const pruned = await store.retention.pruneHistory(before, HISTORY_BATCH);
      mails += pruned.mails;
      forwards += pruned.forwards;
      if (pruned.mails < HISTORY_BATCH && pruned.forwards < HISTORY_BATCH) break;
    }
    if (mails > 0 || forwards > 0)
      logger.info({ mails, forwards, days: this.ctx.config.historyDays }, 'queue history pruned');
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.current;
  }
}
