/**
 * Bodies as files in the data folder (the embedded store). A body is written into <data>/tmp,
 * fsynced, then — before the metadata transaction commits — renamed to <data>/<area>/<shard>/<id>
 * and the directory fsynced; its ref is that relative path. A crash between the rename and the commit
 * leaves a file no row owns, and a crash between a row's deletion and the unlink leaves one too:
 * recover() removes both at the next start.
 */
import type { Kysely } from 'kysely';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, readdir, rename, rm, unlink } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { BlobStore, BodyArea, BodyWriter, ByteRange, OwnedBodies, StagedBody } from './blobs.ts';
import { NO_SPACE_MESSAGE, rethrowAsFault, StoreFault } from './faults.ts';
import type { Database } from './schema.ts';

/** Read size for bodies: 1 MiB (64 KiB reads halve download throughput). */
export const BODY_READ_CHUNK = 1024 * 1024;
const WRITE_BATCH = 1024 * 1024;
const AREAS: readonly BodyArea[] = ['messages', 'relay'];

async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** The buffers after the first `n` bytes of `bufs`. */
function skipBytes(bufs: Buffer[], n: number): Buffer[] {
  const out: Buffer[] = [];
  for (const b of bufs) {
    if (n >= b.length) {
      n -= b.length;
      continue;
    }
    out.push(n > 0 ? b.subarray(n) : b);
    n = 0;
  }
  return out;
}

const isMissing = (e: unknown): boolean =>
  typeof e === 'object' && e !== null && 'code' in e && e.code === 'ENOENT';

class FileBodyWriter implements BodyWriter {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private size = 0;
  /** Bytes the file system took (writev's counts). */
  private written = 0;
  private readonly hash = createHash('sha256');
  private done = false;
  constructor(
    private readonly fh: FileHandle,
    readonly path: string,
    readonly ref: string,
  ) {}

  async write(chunk: Uint8Array): Promise<void> {
    if (this.done) throw new Error('The body writer is closed.');
    const b = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    this.hash.update(b);
    this.size += b.length;
    // Copy: callers may reuse their buffer once write() resolves.
    this.pending.push(Buffer.from(b));
    this.pendingBytes += b.length;
    if (this.pendingBytes >= WRITE_BATCH) await this.flush();
  }

  /**
   * Writes the batch whole. writev() may write fewer bytes than asked — on a disk that fills up
   * midway it does, and Node reports ENOSPC only on the next call — so the rest is written again
   * until every byte is in the file or the file system refuses with an error.
   */
  private async flush(): Promise<void> {
    if (this.pendingBytes === 0) return;
    let bufs = this.pending;
    let left = this.pendingBytes;
    this.pending = [];
    this.pendingBytes = 0;
    while (left > 0) {
      const { bytesWritten } = await this.fh.writev(bufs).catch(rethrowAsFault);
      if (bytesWritten <= 0) throw new StoreFault('insufficient-storage', NO_SPACE_MESSAGE); // no progress: a full disk
      this.written += bytesWritten;
      left -= bytesWritten;
      if (left > 0) bufs = skipBytes(bufs, bytesWritten);
    }
  }

  /**
   * Flushes, fsyncs and checks that the file holds every byte handed to write() before anything
   * may acknowledge it. The digest is of those same bytes: every one of them was counted into the
   * file above and the file's size is checked here, so reading the body back to hash it again
   * would double each upload's disk reads without catching anything more.
   */
  async finish(): Promise<StagedBody> {
    if (this.done) throw new Error('The body writer is closed.');
    try {
      await this.flush();
      await this.fh.sync();
      const stored = (await this.fh.stat()).size;
      if (stored !== this.size || this.written !== this.size)
        throw new StoreFault(
          'insufficient-storage',
          `Only ${stored} of ${this.size} bytes of the message reached the disk: it was not stored; retry later.`,
        );
    } catch (e) {
      rethrowAsFault(e);
    }
    await this.fh.close();
    this.done = true;
    return { ref: this.ref, size: this.size, sha256: this.hash.digest('hex') };
  }

  async abort(): Promise<void> {
    if (!this.done) {
      this.done = true;
      this.pending = [];
      await this.fh.close().catch(() => undefined);
    }
    await unlink(this.path).catch(() => undefined);
  }
}

export class FileBlobStore implements BlobStore {
  readonly kind = 'files';
  private readonly tmpDir: string;

  private constructor(private readonly dataDir: string) {
    this.tmpDir = join(dataDir, 'tmp');
  }

  static async open(dataDir: string): Promise<FileBlobStore> {
    for (const dir of ['tmp', ...AREAS]) await mkdir(join(dataDir, dir), { recursive: true, mode: 0o700 });
    return new FileBlobStore(dataDir);
  }

  async createWriter(): Promise<BodyWriter> {
    const ref = `${randomBytes(16).toString('hex')}.part`;
    const path = join(this.tmpDir, ref);
    const fh = await open(path, 'wx', 0o600).catch(rethrowAsFault);
    return new FileBodyWriter(fh, path, ref);
  }

  private stagedPath(body: StagedBody): string {
    if (!/^[0-9a-f]{32}\.part$/.test(body.ref)) throw new Error('Not a staged body of this store.');
    return join(this.tmpDir, body.ref);
  }

  async place(body: StagedBody, area: BodyArea, id: string): Promise<string> {
    const staged = this.stagedPath(body);
    try {
      if (!/^[A-Za-z0-9_-]{8,64}$/.test(id)) throw new Error('Malformed message id.');
      const shard = id.slice(0, 2);
      const dir = join(this.dataDir, area, shard);
      const created = await mkdir(dir, { recursive: true, mode: 0o700 });
      if (created) await fsyncDir(join(this.dataDir, area));
      await rename(staged, join(dir, id));
      await fsyncDir(dir);
      return join(area, shard, id);
    } catch (e) {
      await unlink(staged).catch(() => undefined);
      rethrowAsFault(e);
    }
  }

  /** Nothing to claim in the transaction: the file is in place already. */
  async adopt(): Promise<void> {}

  async discard(body: StagedBody, ref: string | null): Promise<void> {
    if (ref) await unlink(join(this.dataDir, ref)).catch(() => undefined);
    await unlink(join(this.tmpDir, body.ref)).catch(() => undefined);
  }

  async release(_tx: Kysely<Database>, refs: readonly string[]): Promise<() => Promise<void>> {
    // After the commit: a crash before the unlink leaves an orphan that recover() removes.
    return async () => {
      for (const ref of refs)
        await unlink(join(this.dataDir, ref)).catch((e: unknown) => {
          if (!isMissing(e)) throw e;
        });
    };
  }

  async open(ref: string, _size: number, range?: ByteRange): Promise<Readable | null> {
    let fh: FileHandle;
    try {
      fh = await open(join(this.dataDir, ref), 'r');
    } catch (e) {
      if (isMissing(e)) return null;
      throw e;
    }
    return fh.createReadStream({
      highWaterMark: BODY_READ_CHUNK,
      ...(range ? { start: range.start, end: range.end } : {}),
    });
  }

  async recover(
    _db: Kysely<Database>,
    owned: OwnedBodies,
  ): Promise<{ removedStaged: number; removedOrphans: number }> {
    let removedStaged = 0;
    for (const name of await readdir(this.tmpDir)) {
      await rm(join(this.tmpDir, name), { force: true, recursive: true });
      removedStaged++;
    }
    let removedOrphans = 0;
    for (const area of AREAS)
      for (const shard of await readdir(join(this.dataDir, area))) {
        let names: string[];
        try {
          names = await readdir(join(this.dataDir, area, shard));
        } catch {
          continue;
        }
        for (const name of names) {
          const ref = join(area, shard, name);
          if (await owned.has(ref)) continue;
          await rm(join(this.dataDir, ref), { force: true });
          removedOrphans++;
        }
      }
    return { removedStaged, removedOrphans };
  }

  /** Staged files of this process's own dead uploads go at the next start (recover). */
  async sweep(): Promise<void> {}
}
