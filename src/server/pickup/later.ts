/**
 * State changes that a recipient's visit makes ("opened") but the store cannot record right now —
 * a full disk, a database outage. The recipient still gets the message (reading needs no write),
 * and the change is kept here and retried until it is recorded, with the time it happened. This
 * node's memory only, bounded: a change lost with the process costs an "opened" event, never a
 * message (the next visit records it again).
 */
import type { Logger } from 'pino';
import { asStoreFault } from '../store/faults.ts';
import type { Deliveries, TransitionInput } from '../store/port.ts';

export class LaterTransitions {
  private readonly queue = new Map<string, TransitionInput>();
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> | null = null;

  constructor(
    private readonly deliveries: Deliveries,
    private readonly logger: Logger,
    private readonly retryMs = 2000,
    private readonly max = 10_000,
  ) {}

  get size(): number {
    return this.queue.size;
  }

  /**
   * Records the change now; when the store cannot (a StoreFault), keeps it for later and resolves.
   * Any other error is thrown.
   */
  async record(input: TransitionInput): Promise<void> {
    try {
      await this.deliveries.transition(input);
    } catch (e) {
      const fault = asStoreFault(e);
      if (!fault) throw e;
      this.logger.warn(
        { deliveryId: input.deliveryId, to: input.to, code: fault.code },
        'state change not recorded now (store fault): kept to record later',
      );
      this.keep(input);
    }
  }

  private keep(input: TransitionInput): void {
    if (!this.queue.has(input.deliveryId) && this.queue.size >= this.max) {
      const oldest = this.queue.keys().next();
      if (!oldest.done) this.queue.delete(oldest.value);
    }
    this.queue.set(input.deliveryId, input);
    this.timer ??= setTimeout(() => {
      this.timer = null;
      void this.flush();
    }, this.retryMs);
    this.timer.unref();
  }

  /** Retries what is kept; stops at the first store fault and tries again later. */
  flush(): Promise<void> {
    this.flushing ??= (async () => {
      try {
        for (const [id, input] of [...this.queue]) {
          try {
            await this.deliveries.transition(input);
            this.queue.delete(id);
          } catch (e) {
            if (asStoreFault(e)) {
              this.keep(input);
              return;
            }
            this.queue.delete(id);
            this.logger.error({ err: e, deliveryId: id }, 'a kept state change failed; dropped');
          }
        }
        if (this.queue.size === 0) this.logger.info('kept state changes recorded');
      } finally {
        this.flushing = null;
      }
    })();
    return this.flushing;
  }

  /** Stops retrying (after one last try). */
  async close(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.queue.size > 0) await this.flush().catch(() => undefined);
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
