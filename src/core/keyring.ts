/**
 * The keyring interface. Storage-agnostic: entries are plain, structured-cloneable data, so the
 * browser can keep them in IndexedDB (encrypted at rest by the receiver), the CLI in memory, and a
 * worker can receive them with postMessage. Parsing into library objects (PKI.js, OpenPGP.js)
 * happens lazily in the smime/ and openpgp/ modules, so a message of one kind never loads the other.
 */

/** An S/MIME identity: a private key with its certificate (and the chain that came with it). */
export interface SmimePrivateEntry {
  type: 'smime-private';
  id: string; // SHA-256 fingerprint of the certificate, hex
  label: string; // e.g. "bob@example.net (issued by Example Issuing CA)"
  certificate: Uint8Array; // DER
  chain: Uint8Array[]; // DER, other certificates from the same PKCS#12
  pkcs8: Uint8Array; // DER PrivateKeyInfo, unencrypted (this entry lives only in memory or encrypted at rest)
}

/** An OpenPGP secret key, unlocked. */
export interface OpenPgpPrivateEntry {
  type: 'openpgp-private';
  id: string; // primary key fingerprint, hex
  label: string; // primary user ID
  armored: string; // armored secret key with its secret key material decrypted
}

/** Somebody's certificate, or a trust anchor when `trusted`. */
export interface CertificateEntry {
  type: 'certificate';
  id: string; // SHA-256 fingerprint, hex
  label: string;
  certificate: Uint8Array; // DER
  trusted: boolean; // a trust anchor for path validation
}

/** Somebody's OpenPGP public key; signatures by a `trusted` key verify as valid. */
export interface OpenPgpPublicEntry {
  type: 'openpgp-public';
  id: string; // primary key fingerprint, hex
  label: string;
  armored: string;
  trusted: boolean;
}

export type KeyEntry = SmimePrivateEntry | OpenPgpPrivateEntry | CertificateEntry | OpenPgpPublicEntry;

/** What `openMessage` needs from a keyring: a read-only list of entries. */
export interface Keyring {
  entries(): readonly KeyEntry[];
}

/** An in-memory keyring. Adding an entry with an existing id and type replaces it. */
export class MemoryKeyring implements Keyring {
  #entries: KeyEntry[] = [];

  constructor(entries: Iterable<KeyEntry> = []) {
    for (const e of entries) this.add(e);
  }

  entries(): readonly KeyEntry[] {
    return this.#entries;
  }

  add(entry: KeyEntry): void {
    const i = this.#entries.findIndex((e) => e.type === entry.type && e.id === entry.id);
    if (i >= 0) {
      const old = this.#entries[i]!;
      // Trust is only ever added by an explicit import of the same key as trusted.
      if ('trusted' in old && 'trusted' in entry && old.trusted && !entry.trusted)
        entry = { ...entry, trusted: true };
      this.#entries[i] = entry;
    } else {
      this.#entries.push(entry);
    }
  }

  addAll(entries: Iterable<KeyEntry>): void {
    for (const e of entries) this.add(e);
  }

  remove(type: KeyEntry['type'], id: string): boolean {
    const before = this.#entries.length;
    this.#entries = this.#entries.filter((e) => !(e.type === type && e.id === id));
    return this.#entries.length !== before;
  }

  ofType<T extends KeyEntry['type']>(type: T): Extract<KeyEntry, { type: T }>[] {
    return this.#entries.filter((e): e is Extract<KeyEntry, { type: T }> => e.type === type);
  }
}

export function entriesOfType<T extends KeyEntry['type']>(
  keyring: Keyring,
  type: T,
): Extract<KeyEntry, { type: T }>[] {
  return keyring.entries().filter((e): e is Extract<KeyEntry, { type: T }> => e.type === type);
}
