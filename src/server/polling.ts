/**
 * The loop every queue worker runs (notification outbox, relay forward queue): poll the store every
 * `pollMs`, or at once when kicked; one round at a time; another round right away while rounds come
 * back full; stop waits for the round in flight. Subclasses claim and process one batch in `tick`.
 */
import type { ServerContext } from './context.ts';
import { asStoreFault } from './store/faults.ts';

export interface PollingWorkerOptions {
  pollMs?: number;
  leaseMs?: number;
  batch?: number;
}

export abstract class PollingWorker {
  private timer: NodeJS.Timeout | null = null;
  private current: Promise<void> | null = null;
  private stopped = false;
  private again = false;
  /** The last round failed with a store fault (logged once until a round succeeds). */
  private faulted = false;
  protected readonly pollMs: number;
  protected readonly leaseMs: number;
  protected readonly batch: number;

  protected constructor(
    protected readonly ctx: ServerContext,
    /** For the log line when a round fails, e.g. "outbox worker". */
    private readonly name: string,
    options: PollingWorkerOptions,
    defaultLeaseMs: number,
  ) {
    this.pollMs = options.pollMs ?? 1000;
    this.leaseMs = options.leaseMs ?? defaultLeaseMs;
    this.batch = options.batch ?? 8;
  }

  /** One round; true when the batch was full (there may be more). */
  abstract tick(): Promise<boolean>;

  start(): void {
    this.schedule(0);
  }

  /** Work was queued: look now rather than at the next poll. */
  kick(): void {
    if (this.stopped) return;
    if (this.current) this.again = true;
    else this.schedule(0);
  }

  /** Stops polling and waits for the round in flight. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.current;
  }

  /** Exponential backoff from `baseMs`, capped at `maxMs`, with ±10 % jitter. */
  protected static backoff(attempts: number, baseMs: number, maxMs: number): number {
    const d = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempts - 1));
    return Math.round(d * (0.9 + Math.random() * 0.2));
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.run(), ms);
    this.timer.unref();
  }

  private run(): void {
    if (this.current || this.stopped) return;
    this.current = this.tick()
      .then((full) => {
        if (full) this.again = true;
      })
      .then(() => {
        if (this.faulted) this.ctx.logger.info(`${this.name}: the store answers again`);
        this.faulted = false;
      })
      .catch((err: unknown) => {
        // A full disk or a database outage: say so once, keep polling; the round is retried.
        const fault = asStoreFault(err);
        if (!fault) this.ctx.logger.error({ err }, `${this.name} failed`);
        else if (!this.faulted)
          this.ctx.logger.warn({ code: fault.code, err }, `${this.name}: store fault, retrying`);
        this.faulted = fault !== null;
      })
      .finally(() => {
        this.current = null;
        const again = this.again;
        this.again = false;
        this.schedule(again ? 0 : this.pollMs);
      });
  }
}
