/**
 * Free space in the data folder, against the reserve `--min-free-space`. The embedded store keeps
 * message files and its SQLite database there; the reserve keeps room for the metadata commits and
 * state changes of messages already accepted, so below it new uploads are refused (507
 * insufficient-storage, SMTP 452 4.3.1) and /readyz reports not-ready; both clear by themselves once
 * space is freed. statfs() is asked at most once a second.
 */
import { statfs } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { ServerError } from './errors.ts';
import { NO_SPACE_MESSAGE } from './store/faults.ts';

export class DiskSpace {
  private cached: { at: number; free: number | null } | null = null;
  private pending: Promise<number | null> | null = null;

  /** `dir` null: nothing to watch (the PostgreSQL store keeps no bodies in the data folder). */
  constructor(
    private readonly dir: string | null,
    readonly reserve: number,
    private readonly maxAgeMs = 1000,
  ) {}

  get watching(): boolean {
    return this.dir !== null && this.reserve > 0;
  }

  /** Bytes an unprivileged writer may still use there; null when not watched or unknown. */
  async free(): Promise<number | null> {
    if (this.dir === null) return null;
    const t = performance.now();
    if (this.cached && t - this.cached.at < this.maxAgeMs) return this.cached.free;
    const dir = this.dir;
    this.pending ??= statfs(dir)
      .then(
        (s) => s.bavail * s.bsize,
        () => null,
      )
      .then((free) => {
        this.cached = { at: performance.now(), free };
        this.pending = null;
        return free;
      });
    return this.pending;
  }

  /** True while free space is under the reserve. */
  async low(): Promise<boolean> {
    if (!this.watching) return false;
    const free = await this.free();
    return free !== null && free < this.reserve;
  }

  /** Throws insufficient-storage when `bytes` more would leave less than the reserve. */
  async assertRoom(bytes = 0): Promise<void> {
    if (!this.watching) return;
    const free = await this.free();
    if (free !== null && free - bytes < this.reserve)
      throw new ServerError('insufficient-storage', NO_SPACE_MESSAGE);
  }
}
