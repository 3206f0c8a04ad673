/**
 * The key directory: certificates and OpenPGP keys that recipients published from the receiver, one
 * per address and kind, the newest winning.
 */
import type { StoreDb } from './db.ts';
import type { DirectoryKind } from './schema.ts';

export type { DirectoryKind } from './schema.ts';

export interface DirectoryEntry {
  email: string;
  kind: DirectoryKind;
  /** PEM certificate or ASCII-armored OpenPGP public key. */
  data: string;
  fingerprint: string;
  deliveryId: string;
  publishedAt: number;
}

export interface Directory {
  /** Replaces the entry of this kind for this address. */
  publish(entry: DirectoryEntry): Promise<void>;
  lookup(email: string): Promise<DirectoryEntry[]>;
  /** Every entry of this kind for addresses at exactly this domain (lowercase, validated by the caller). */
  listDomain(domain: string, kind: DirectoryKind): Promise<DirectoryEntry[]>;
  /** Removes the entry of this kind for this address (a revoked key); true when there was one. */
  remove(email: string, kind: DirectoryKind): Promise<boolean>;
}

type DirectoryRow = {
  email: string;
  kind: DirectoryKind;
  data: string;
  fingerprint: string;
  delivery_id: string;
  published_at: number;
};

function entryOf(r: DirectoryRow): DirectoryEntry {
  return {
    email: r.email,
    kind: r.kind,
    data: r.data,
    fingerprint: r.fingerprint,
    deliveryId: r.delivery_id,
    publishedAt: r.published_at,
  };
}

export class SqlDirectory implements Directory {
  constructor(private readonly db: StoreDb) {}

  async publish(entry: DirectoryEntry): Promise<void> {
    const row = {
      email: entry.email,
      kind: entry.kind,
      data: entry.data,
      fingerprint: entry.fingerprint,
      delivery_id: entry.deliveryId,
      published_at: entry.publishedAt,
    };
    await this.db.kysely
      .insertInto('directory')
      .values(row)
      .onConflict((oc) =>
        oc.columns(['email', 'kind']).doUpdateSet({
          data: row.data,
          fingerprint: row.fingerprint,
          delivery_id: row.delivery_id,
          published_at: row.published_at,
        }),
      )
      .execute();
  }

  async lookup(email: string): Promise<DirectoryEntry[]> {
    const rows = await this.db.kysely
      .selectFrom('directory')
      .selectAll()
      .where('email', '=', email)
      .orderBy('kind')
      .execute();
    return rows.map(entryOf);
  }

  async listDomain(domain: string, kind: DirectoryKind): Promise<DirectoryEntry[]> {
    if (/[%_\\]/.test(domain)) return []; // no LIKE wildcards: domains are validated, this is a backstop
    const rows = await this.db.kysely
      .selectFrom('directory')
      .selectAll()
      .where('email', 'like', `%@${domain}`)
      .where('kind', '=', kind)
      .orderBy('email')
      .execute();
    return rows.map(entryOf);
  }

  async remove(email: string, kind: DirectoryKind): Promise<boolean> {
    const r = await this.db.kysely
      .deleteFrom('directory')
      .where('email', '=', email)
      .where('kind', '=', kind)
      .executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }
}
