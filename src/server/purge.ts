/**
 * The purge worker: marks the deliveries of messages past their expiry as expired, and deletes the
 * stored bodies of expired and revoked messages (metadata and events stay for the sender's status).
 */
import type { ServerContext } from './context.ts';

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
      .catch((err: unknown) => this.ctx.logger.error({ err }, 'purge failed'))
      .finally(() => {
        this.current = null;
      });
    return this.current;
  }

  private async pass(): Promise<void> {
    const { store, logger } = this.ctx;
    for (;;) {
      if (this.stopped) return;
      const expired = await store.expireDue(this.ctx.now(), 100);
      if (expired.length > 0) logger.info({ messages: expired.length }, 'messages expired');
      if (expired.length < 100) break;
    }
    for (;;) {
      if (this.stopped) return;
      const ids = await store.listPurgeable(this.ctx.now(), 100);
      for (const id of ids) await store.purgeBody(id, this.ctx.now());
      if (ids.length > 0) logger.info({ messages: ids.length }, 'message bodies purged');
      if (ids.length < 100) break;
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.current;
  }
}
