/**
 * Reads an smtp-server DATA stream chunk by chunk with backpressure, and can drain it: a reply may
 * only be sent once the client finished the message (the terminating dot), so a refused message is
 * read to its end and thrown away — never destroyed mid-way, which would leave the rest of the
 * message to be read as commands.
 */
import type { Readable } from 'node:stream';

export class ChunkReader {
  private queue: Buffer[] = [];
  private queued = 0;
  private ended = false;
  private failure: Error | null = null;
  private wake: (() => void) | null = null;
  private discarding = false;

  constructor(
    private readonly stream: Readable,
    private readonly highWater = 1024 * 1024,
  ) {
    stream.on('data', (c: Buffer) => {
      if (this.discarding) return;
      this.queue.push(c);
      this.queued += c.length;
      if (this.queued >= this.highWater) stream.pause();
      this.notify();
    });
    stream.once('end', () => {
      this.ended = true;
      this.notify();
    });
    stream.once('error', (e: Error) => this.fail(e));
    stream.once('close', () => {
      if (!this.ended) this.fail(new Error('The connection closed before the end of the message.'));
    });
  }

  private notify(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  /** Stops reading with this error (e.g. a timeout); pending and later next() calls reject. */
  fail(e: Error): void {
    if (this.failure || this.ended) return;
    this.failure = e;
    this.notify();
  }

  get done(): boolean {
    return this.ended;
  }

  /** The next chunk, or null at the end of the message. */
  async next(): Promise<Buffer | null> {
    for (;;) {
      if (this.failure) throw this.failure;
      const c = this.queue.shift();
      if (c) {
        this.queued -= c.length;
        if (this.queued < this.highWater && this.stream.isPaused()) this.stream.resume();
        return c;
      }
      if (this.ended) return null;
      if (this.stream.isPaused()) this.stream.resume();
      await new Promise<void>((r) => (this.wake = r));
    }
  }

  /** Throws away the rest of the message; resolves at its end (or when reading failed). */
  async drain(): Promise<void> {
    this.discarding = true;
    this.queue = [];
    this.queued = 0;
    while (!this.ended && !this.failure) {
      if (this.stream.isPaused()) this.stream.resume();
      await new Promise<void>((r) => (this.wake = r));
    }
  }
}
