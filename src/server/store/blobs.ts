/**
 * Message bodies, apart from the metadata (as Send keeps its storage backends behind one small
 * interface): the embedded store keeps them as files (blob-files.ts), the PostgreSQL store as 1 MiB
 * chunk rows (blob-chunks.ts). The metadata store records only a body's `ref` in the row that owns
 * it (a message, a queued forward) and hands bodies over in two steps around its transaction, so a
 * crash at any point leaves either nothing visible or everything:
 *
 *   writer = createWriter(); write()…; staged = finish()      durable, not yet visible
 *   ref = place(staged, area, id)        before the row's transaction (files: renamed into place)
 *   adopt(tx, staged)                    in it (chunks: the staged row is claimed)
 *   discard(staged, ref)                 instead, when the transaction failed or was refused
 *
 * and away again with `release(tx, refs)` in the transaction that drops the owning row (chunks are
 * deleted in it; files are unlinked after the commit). What a crash leaves over (staged leftovers,
 * bodies no row owns) is removed by `recover()` at the next start.
 */
import type { Expression, Kysely, SqlBool } from 'kysely';
import type { Readable } from 'node:stream';
import type { Database } from './schema.ts';

/** A body in the staging area: durable (fsynced) but not yet visible. */
export interface StagedBody {
  readonly ref: string;
  readonly size: number;
  readonly sha256: string;
}

export interface BodyWriter {
  /** Appends bytes; resolves when they may be reused (backpressure). */
  write(chunk: Uint8Array): Promise<void>;
  /** Flushes and makes the staged bytes durable. */
  finish(): Promise<StagedBody>;
  /** Drops everything written so far. Safe to call more than once and after finish(). */
  abort(): Promise<void>;
}

/** An inclusive byte range. */
export interface ByteRange {
  start: number;
  end: number;
}

/** What a body belongs to: a stored message, or a message queued by the SMTP relay. */
export type BodyArea = 'messages' | 'relay';

/** Work left for after the commit (files to unlink); run it once the transaction committed. */
export type AfterCommit = () => Promise<void>;

export interface BlobStore {
  readonly kind: 'files' | 'chunks';
  /** Starts a body in the staging area. */
  createWriter(): Promise<BodyWriter>;
  /**
   * Step 1 of handing a staged body to a row, before the row's transaction: checks that it is a
   * finished staged body of this store and puts it where the row will find it; returns the ref to
   * record. Throws (and discards the staged body) when it is not.
   */
  place(body: StagedBody, area: BodyArea, id: string): Promise<string>;
  /** Step 2, in the transaction that writes the row; throws when the staged body is gone. */
  adopt(tx: Kysely<Database>, body: StagedBody): Promise<void>;
  /** Undoes step 1 (and drops the staged body) when the row was not written. Never throws. */
  discard(body: StagedBody, ref: string | null): Promise<void>;
  /** In the transaction that drops the rows owning `refs`; returns what to do after the commit. */
  release(tx: Kysely<Database>, refs: readonly string[]): Promise<AfterCommit>;
  /** The bytes (optionally a range) of a body of `size` bytes; null when it is not there. */
  open(ref: string, size: number, range?: ByteRange): Promise<Readable | null>;
  /** Start-of-server housekeeping: staged leftovers, and bodies that no row owns. */
  recover(
    db: Kysely<Database>,
    owned: OwnedBodies,
  ): Promise<{ removedStaged: number; removedOrphans: number }>;
  /** Periodic housekeeping (the purge pass): uploads abandoned by crashed nodes. */
  sweep(db: Kysely<Database>): Promise<void>;
}

/** Which refs the metadata still owns; recover() removes the others. */
export interface OwnedBodies {
  /** One ref: is it owned? */
  has(ref: string): Promise<boolean>;
  /**
   * Whether a row of `area` owns the body at `ref`, as a condition (`EXISTS …`) a body store inside
   * the same database can put in its own query, correlated to its rows.
   */
  owns(db: Kysely<Database>, area: BodyArea, ref: Expression<string>): Expression<SqlBool>;
}
