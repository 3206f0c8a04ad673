/**
 * The recipient's keyring in IndexedDB. Private keys are encrypted at rest with AES-256-GCM under
 * a key derived from the recipient's passphrase with PBKDF2-SHA256 (600,000 iterations); the key
 * lives in memory only while the keyring is unlocked (this page session). Certificates, public keys
 * and trust anchors are public and stored in the clear, so they are listed while locked.
 */
import type { KeyEntry } from '../core/index.ts';

const DB_NAME = 'sealpost-keyring';
const DB_VERSION = 1;
const ITERATIONS = 600_000;
const VERIFIER_TEXT = 'sealpost keyring v1';

interface MetaRecord {
  id: 'meta';
  salt: Uint8Array;
  iterations: number;
  verifierIv: Uint8Array;
  verifier: Uint8Array; // AES-GCM(VERIFIER_TEXT): tells a wrong passphrase from a right one
}

interface StoredEntry {
  key: string; // `${type}:${id}`
  type: KeyEntry['type'];
  id: string;
  label: string;
  addedAt: string;
  /** Public entries: the entry itself. */
  entry?: KeyEntry;
  /** Private entries: AES-GCM(JSON of the entry). */
  iv?: Uint8Array;
  sealed?: Uint8Array;
  /** Who added a public entry: the recipient, or the server's trust list. */
  source: 'user' | 'server';
}

export interface ListedEntry {
  type: KeyEntry['type'];
  id: string;
  label: string;
  addedAt: string;
  source: 'user' | 'server';
  locked: boolean;
  trusted?: boolean;
}

/** The key the recipient decided to trust for an address ("Trust this key for <address>"). */
export interface Pin {
  address: string;
  fingerprint: string;
  at: string;
}

interface PinsRecord {
  id: 'pins';
  pins: Record<string, Pin>;
}

export class KeystoreError extends Error {
  constructor(
    readonly code: 'bad-passphrase' | 'locked' | 'unavailable' | 'exists',
    message: string,
  ) {
    super(message);
  }
}

function request<T>(r: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
}

function openDb(): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    if (typeof indexedDB === 'undefined') {
      reject(new KeystoreError('unavailable', 'This browser does not offer storage for keys (IndexedDB).'));
      return;
    }
    const r = indexedDB.open(DB_NAME, DB_VERSION);
    r.onupgradeneeded = () => {
      const db = r.result;
      if (!db.objectStoreNames.contains('meta')) db.createObjectStore('meta', { keyPath: 'id' });
      if (!db.objectStoreNames.contains('entries')) db.createObjectStore('entries', { keyPath: 'key' });
    };
    r.onsuccess = () => resolve(r.result);
    r.onerror = () =>
      reject(new KeystoreError('unavailable', `The key storage could not be opened: ${String(r.error)}`));
  });
}

async function deriveKey(passphrase: string, salt: Uint8Array, iterations: number): Promise<CryptoKey> {
  const base = await crypto.subtle.importKey('raw', new TextEncoder().encode(passphrase), 'PBKDF2', false, [
    'deriveKey',
  ]);
  return crypto.subtle.deriveKey(
    { name: 'PBKDF2', hash: 'SHA-256', salt: salt.slice(), iterations },
    base,
    { name: 'AES-GCM', length: 256 },
    false,
    ['encrypt', 'decrypt'],
  );
}

async function seal(
  key: CryptoKey,
  data: Uint8Array,
  aad: string,
): Promise<{ iv: Uint8Array; sealed: Uint8Array }> {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const sealed = new Uint8Array(
    await crypto.subtle.encrypt(
      { name: 'AES-GCM', iv, additionalData: new TextEncoder().encode(aad) },
      key,
      data.slice(),
    ),
  );
  return { iv, sealed };
}

async function unseal(key: CryptoKey, iv: Uint8Array, sealed: Uint8Array, aad: string): Promise<Uint8Array> {
  return new Uint8Array(
    await crypto.subtle.decrypt(
      { name: 'AES-GCM', iv: iv.slice(), additionalData: new TextEncoder().encode(aad) },
      key,
      sealed.slice(),
    ),
  );
}

const isPrivate = (type: KeyEntry['type']): boolean => type === 'smime-private' || type === 'openpgp-private';

/** Serializes an entry (with its byte arrays) to JSON bytes for sealing. */
function encodeEntry(entry: KeyEntry): Uint8Array {
  return new TextEncoder().encode(
    JSON.stringify(entry, (_k, v: unknown) => (v instanceof Uint8Array ? { $bytes: Array.from(v) } : v)),
  );
}

function decodeEntry(bytes: Uint8Array): KeyEntry {
  return JSON.parse(new TextDecoder().decode(bytes), (_k, v: unknown) =>
    v && typeof v === 'object' && '$bytes' in v ? new Uint8Array((v as { $bytes: number[] }).$bytes) : v,
  ) as KeyEntry;
}

export class Keystore {
  #db: IDBDatabase | null = null;
  #key: CryptoKey | null = null;

  async #open(): Promise<IDBDatabase> {
    this.#db ??= await openDb();
    return this.#db;
  }

  get unlocked(): boolean {
    return this.#key !== null;
  }

  async exists(): Promise<boolean> {
    const db = await this.#open();
    const meta = await request(db.transaction('meta').objectStore('meta').get('meta'));
    return meta !== undefined;
  }

  /**
   * Creates the keyring's passphrase protection (first use), and unlocks it. Never replaces an
   * existing keyring (another tab may have made one since this one looked): its private keys are
   * sealed under its own salt and passphrase, and would be lost.
   */
  async create(passphrase: string): Promise<void> {
    if (passphrase.length < 8)
      throw new KeystoreError('bad-passphrase', 'Choose a passphrase of at least 8 characters.');
    const db = await this.#open();
    const salt = crypto.getRandomValues(new Uint8Array(16));
    const key = await deriveKey(passphrase, salt, ITERATIONS);
    const v = await seal(key, new TextEncoder().encode(VERIFIER_TEXT), 'meta');
    const meta: MetaRecord = {
      id: 'meta',
      salt,
      iterations: ITERATIONS,
      verifierIv: v.iv,
      verifier: v.sealed,
    };
    try {
      // add(), not put(): fails when a keyring exists, in the same transaction as the check.
      await request(db.transaction('meta', 'readwrite').objectStore('meta').add(meta));
    } catch (e) {
      if ((e as DOMException | null)?.name === 'ConstraintError')
        throw new KeystoreError(
          'exists',
          'A keyring already exists in this browser (perhaps made in another tab): unlock it with its passphrase.',
        );
      throw e;
    }
    this.#key = key;
  }

  async unlock(passphrase: string): Promise<void> {
    const db = await this.#open();
    const meta = (await request(db.transaction('meta').objectStore('meta').get('meta'))) as
      MetaRecord | undefined;
    if (!meta) throw new KeystoreError('locked', 'There is no keyring in this browser yet.');
    const key = await deriveKey(passphrase, meta.salt, meta.iterations);
    try {
      await unseal(key, meta.verifierIv, meta.verifier, 'meta');
    } catch {
      throw new KeystoreError(
        'bad-passphrase',
        'That passphrase does not unlock the keyring in this browser.',
      );
    }
    this.#key = key;
  }

  lock(): void {
    this.#key = null;
  }

  async list(): Promise<ListedEntry[]> {
    const db = await this.#open();
    const all = (await request(db.transaction('entries').objectStore('entries').getAll())) as StoredEntry[];
    return all
      .map((s) => ({
        type: s.type,
        id: s.id,
        label: s.label,
        addedAt: s.addedAt,
        source: s.source,
        locked: isPrivate(s.type) && !this.#key,
        ...(s.entry && 'trusted' in s.entry ? { trusted: s.entry.trusted } : {}),
      }))
      .sort((a, b) => a.type.localeCompare(b.type) || a.label.localeCompare(b.label));
  }

  /** Adds entries; private ones need the keyring unlocked. */
  async add(entries: KeyEntry[], source: 'user' | 'server' = 'user'): Promise<void> {
    const db = await this.#open();
    const records: StoredEntry[] = [];
    for (const entry of entries) {
      const key = `${entry.type}:${entry.id}`;
      const base = {
        key,
        type: entry.type,
        id: entry.id,
        label: entry.label,
        addedAt: new Date().toISOString(),
        source,
      };
      if (isPrivate(entry.type)) {
        if (!this.#key) throw new KeystoreError('locked', 'Unlock the keyring before adding a private key.');
        records.push({ ...base, ...(await seal(this.#key, encodeEntry(entry), key)) });
      } else {
        records.push({ ...base, entry });
      }
    }
    const tx = db.transaction('entries', 'readwrite');
    for (const r of records) tx.objectStore('entries').put(r);
    await new Promise<void>((resolve, reject) => {
      tx.oncomplete = () => resolve();
      tx.onerror = () => reject(tx.error);
    });
  }

  async remove(type: KeyEntry['type'], id: string): Promise<void> {
    const db = await this.#open();
    await request(db.transaction('entries', 'readwrite').objectStore('entries').delete(`${type}:${id}`));
  }

  /** Every entry usable now: public ones always, private ones when unlocked. */
  async entries(): Promise<KeyEntry[]> {
    const db = await this.#open();
    const all = (await request(db.transaction('entries').objectStore('entries').getAll())) as StoredEntry[];
    const out: KeyEntry[] = [];
    for (const s of all) {
      if (s.entry) out.push(s.entry);
      else if (s.iv && s.sealed && this.#key)
        out.push(decodeEntry(await unseal(this.#key, s.iv, s.sealed, s.key)));
    }
    return out;
  }

  async entry(type: KeyEntry['type'], id: string): Promise<KeyEntry | null> {
    return (await this.entries()).find((e) => e.type === type && e.id === id) ?? null;
  }

  /**
   * The certificates kept in the clear (other people's, trust anchors): a PKCS#8 private key
   * imported alone finds its certificate among them.
   */
  async certificates(): Promise<Uint8Array[]> {
    const db = await this.#open();
    const all = (await request(db.transaction('entries').objectStore('entries').getAll())) as StoredEntry[];
    return all.flatMap((s) => (s.entry?.type === 'certificate' ? [s.entry.certificate] : []));
  }

  /** The key trusted for this address, if the recipient pinned one. */
  async pinFor(address: string): Promise<Pin | null> {
    const db = await this.#open();
    const r = (await request(db.transaction('meta').objectStore('meta').get('pins'))) as
      PinsRecord | undefined;
    return r?.pins[address.toLowerCase()] ?? null;
  }

  /** Remembers `fingerprint` as the key trusted for `address` (replacing an earlier decision). */
  async pin(address: string, fingerprint: string): Promise<void> {
    const db = await this.#open();
    const tx = db.transaction('meta', 'readwrite');
    const store = tx.objectStore('meta');
    const r = ((await request(store.get('pins'))) as PinsRecord | undefined) ?? { id: 'pins', pins: {} };
    r.pins[address.toLowerCase()] = {
      address: address.toLowerCase(),
      fingerprint,
      at: new Date().toISOString(),
    };
    store.put(r);
    await new Promise<void>((resolve, reject) => {
      tx.oncomplete = () => resolve();
      tx.onerror = () => reject(tx.error);
    });
  }

  /** Whether the store holds private keys the recipient could unlock. */
  async hasPrivateKeys(): Promise<boolean> {
    return (await this.list()).some((e) => isPrivate(e.type));
  }
}
