/**
 * The Web Key Service's state (draft-koch-openpgp-webkey-service, section 4): the submission key
 * of each served domain (its private half sealed under the sealing key by the caller), and the
 * publication requests waiting for their confirmation response, keyed by the SHA-256 of the nonce
 * that was mailed (encrypted) to the address.
 */
import type { StoreDb } from './db.ts';

export interface WksKeyRecord {
  domain: string;
  fingerprint: string;
  /** ASCII-armored public key (served by WKD for the submission address). */
  publicKey: string;
  /** The armored private key, sealed (opaque bytes). */
  sealedPrivateKey: Uint8Array;
  createdAt: number;
}

export interface WksPending {
  /** SHA-256 (hex) of the nonce. */
  id: string;
  email: string;
  fingerprint: string;
  /** ASCII-armored public key to publish once confirmed. */
  keyData: string;
  createdAt: number;
  expiresAt: number;
}

export interface WebKeyServiceStore {
  key(domain: string): Promise<WksKeyRecord | null>;
  /** Stores the domain's key unless one exists; returns the one stored (another node may have won). */
  putKeyIfAbsent(record: WksKeyRecord): Promise<WksKeyRecord>;
  addPending(p: WksPending): Promise<void>;
  /** Deletes and returns the request with this id when it has not expired at `now`. */
  takePending(id: string, now: number): Promise<WksPending | null>;
  /** Deletes requests that expired before `now`; returns how many. */
  prunePending(now: number): Promise<number>;
}

export class SqlWebKeyService implements WebKeyServiceStore {
  constructor(private readonly db: StoreDb) {}

  async key(domain: string): Promise<WksKeyRecord | null> {
    const r = await this.db.kysely
      .selectFrom('wks_keys')
      .selectAll()
      .where('domain', '=', domain)
      .executeTakeFirst();
    return r
      ? {
          domain: r.domain,
          fingerprint: r.fingerprint,
          publicKey: r.public_key,
          sealedPrivateKey: new Uint8Array(r.private_key),
          createdAt: r.created_at,
        }
      : null;
  }

  async putKeyIfAbsent(record: WksKeyRecord): Promise<WksKeyRecord> {
    await this.db.kysely
      .insertInto('wks_keys')
      .values({
        domain: record.domain,
        fingerprint: record.fingerprint,
        public_key: record.publicKey,
        private_key: Buffer.from(record.sealedPrivateKey),
        created_at: record.createdAt,
      })
      .onConflict((oc) => oc.column('domain').doNothing())
      .execute();
    const stored = await this.key(record.domain);
    if (!stored) throw new Error('The submission key was not stored.');
    return stored;
  }

  async addPending(p: WksPending): Promise<void> {
    await this.db.kysely
      .insertInto('wks_pending')
      .values({
        id: p.id,
        email: p.email,
        fingerprint: p.fingerprint,
        key_data: p.keyData,
        created_at: p.createdAt,
        expires_at: p.expiresAt,
      })
      .execute();
  }

  async takePending(id: string, now: number): Promise<WksPending | null> {
    const r = await this.db.kysely
      .deleteFrom('wks_pending')
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirst();
    if (!r || r.expires_at <= now) return null;
    return {
      id: r.id,
      email: r.email,
      fingerprint: r.fingerprint,
      keyData: r.key_data,
      createdAt: r.created_at,
      expiresAt: r.expires_at,
    };
  }

  async prunePending(now: number): Promise<number> {
    const r = await this.db.kysely
      .deleteFrom('wks_pending')
      .where('expires_at', '<=', now)
      .executeTakeFirst();
    return Number(r.numDeletedRows);
  }
}
