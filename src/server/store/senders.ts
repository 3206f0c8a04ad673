/**
 * Senders: who may submit. Each has an address and an API key, kept only as its SHA-256; one active
 * (not revoked) sender per address.
 */
import type { Selectable } from 'kysely';
import { StoreConflictError, type StoreDb } from './db.ts';
import type { SendersTable } from './schema.ts';

export interface SenderRecord {
  id: string;
  email: string;
  createdAt: number;
  revokedAt: number | null;
}

export interface Senders {
  /** Throws StoreConflictError when the address already has an active sender (or the key is taken). */
  add(input: { id: string; email: string; apiKeyHash: string; at: number }): Promise<SenderRecord>;
  list(): Promise<SenderRecord[]>;
  /** Revokes the active sender with this address; false when there is none. */
  revoke(email: string, at: number): Promise<boolean>;
  /** The active sender owning this API key hash. */
  findByApiKeyHash(hash: string): Promise<SenderRecord | null>;
  /** The active sender with this address (lower case). */
  findByEmail(email: string): Promise<SenderRecord | null>;
}

const sender = (r: Selectable<SendersTable>): SenderRecord => ({
  id: r.id,
  email: r.email,
  createdAt: r.created_at,
  revokedAt: r.revoked_at,
});

export class SqlSenders implements Senders {
  constructor(private readonly db: StoreDb) {}

  async add(input: { id: string; email: string; apiKeyHash: string; at: number }): Promise<SenderRecord> {
    try {
      await this.db.kysely
        .insertInto('senders')
        .values({ id: input.id, email: input.email, api_key_hash: input.apiKeyHash, created_at: input.at })
        .execute();
    } catch (e) {
      if (this.db.dialect.isUniqueViolation(e))
        throw new StoreConflictError(`A sender with the address ${input.email} already exists.`);
      throw e;
    }
    return { id: input.id, email: input.email, createdAt: input.at, revokedAt: null };
  }

  async list(): Promise<SenderRecord[]> {
    const rows = await this.db.kysely
      .selectFrom('senders')
      .selectAll()
      .orderBy('created_at')
      .orderBy('email')
      .execute();
    return rows.map(sender);
  }

  async revoke(email: string, at: number): Promise<boolean> {
    const r = await this.db.kysely
      .updateTable('senders')
      .set({ revoked_at: at })
      .where('email', '=', email)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    return r.numUpdatedRows > 0n;
  }

  private async findActive(column: 'api_key_hash' | 'email', value: string): Promise<SenderRecord | null> {
    const r = await this.db.kysely
      .selectFrom('senders')
      .selectAll()
      .where(column, '=', value)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    return r ? sender(r) : null;
  }

  findByApiKeyHash(hash: string): Promise<SenderRecord | null> {
    return this.findActive('api_key_hash', hash);
  }

  findByEmail(email: string): Promise<SenderRecord | null> {
    return this.findActive('email', email.toLowerCase());
  }
}
