/**
 * What every job of the store shares: the Kysely handle, the dialect and the body store, and the
 * two ways work reaches the database — one transaction (`transaction`), and a transaction that
 * hands a staged body to the row it writes (`commitWithBody`). Faults of the database (a lost
 * connection, a full disk) surface here first.
 */
import type { Kysely } from 'kysely';
import type { AfterCommit, BlobStore, BodyArea, StagedBody } from './blobs.ts';
import type { Dialect } from './dialect.ts';
import type { Database } from './schema.ts';

export interface StoreDb {
  readonly kysely: Kysely<Database>;
  readonly dialect: Dialect;
  readonly blobs: BlobStore;
  /** This node's name in lease tokens (node-id.ts; random when not given). */
  readonly nodeId: string;
}

/** Thrown when a row would break a unique rule (e.g. a second active sender for an address). */
export class StoreConflictError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StoreConflictError';
  }
}

/**
 * Runs `fn` in one transaction; `afterCommit` queues work for after a successful commit (removing
 * files of bodies whose rows the transaction deleted).
 */
export async function transaction<T>(
  db: StoreDb,
  fn: (tx: Kysely<Database>, afterCommit: (work: AfterCommit) => void) => Promise<T>,
): Promise<T> {
  const later: AfterCommit[] = [];
  const result = await db.kysely.transaction().execute((tx) => fn(tx, (work) => later.push(work)));
  for (const work of later) await work();
  return result;
}

/** In a transaction: the bodies at `refs` go with the rows that owned them. */
export async function releaseBodies(
  db: StoreDb,
  tx: Kysely<Database>,
  refs: readonly (string | null)[],
  afterCommit: (work: AfterCommit) => void,
): Promise<void> {
  const present = refs.filter((r): r is string => r !== null);
  if (present.length > 0) afterCommit(await db.blobs.release(tx, present));
}

/** A staged body given to the row `id` of `area`, which records this size and digest. */
export interface BodyHandover {
  body: StagedBody;
  area: BodyArea;
  id: string;
  size: number;
  sha256: string;
}

/**
 * Gives a staged body to the row that `write` inserts, in one transaction with everything else
 * `write` does: the body is checked against the row's size and digest, placed, adopted in the
 * transaction, and discarded when the transaction fails or `write` answers false (a lost lease).
 */
export async function commitWithBody(
  db: StoreDb,
  handover: BodyHandover,
  write: (tx: Kysely<Database>, ref: string, afterCommit: (work: AfterCommit) => void) => Promise<boolean>,
): Promise<boolean> {
  const { body } = handover;
  if (body.size !== handover.size || body.sha256 !== handover.sha256) {
    await db.blobs.discard(body, null);
    throw new Error(
      `The staged body does not match the ${handover.area === 'messages' ? 'message' : 'forward'} metadata.`,
    );
  }
  const ref = await db.blobs.place(body, handover.area, handover.id);
  let kept = false;
  try {
    kept = await transaction(db, async (tx, afterCommit) => {
      const keep = await write(tx, ref, afterCommit);
      if (keep) await db.blobs.adopt(tx, body);
      return keep;
    });
    return kept;
  } finally {
    if (!kept) await db.blobs.discard(body, ref);
  }
}
