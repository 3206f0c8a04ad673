/**
 * OpenPGP keys: reading the keyring's entries into OpenPGP.js objects (lazily, cached per entry),
 * describing a key for reports, and importing/exporting key files.
 */
import * as openpgp from 'openpgp';
import { SealpostError, malformed } from '../errors.ts';
import type { KeyEntry, Keyring, OpenPgpPrivateEntry, OpenPgpPublicEntry } from '../keyring.ts';
import type { OpenPgpKeyInfo } from '../report.ts';
import { internals } from './internals.ts';
import { errorText, keyAlgorithmName, pgpError, readInput, strictConfig } from './lib.ts';

/** A public key we may verify with, and what the keyring says about it. */
export interface VerificationKey {
  key: openpgp.PublicKey;
  fingerprint: string;
  /** Signatures by this key can be `valid`: a trusted public entry, or one of our own secret keys. */
  trusted: boolean;
  own: boolean;
}

// Parsed keys, cached per keyring entry object (entries are immutable plain data).
const publicCache = new WeakMap<object, Promise<openpgp.PublicKey | null>>();
const privateCache = new WeakMap<object, Promise<openpgp.PrivateKey | null>>();

function parsePublic(entry: OpenPgpPublicEntry): Promise<openpgp.PublicKey | null> {
  let p = publicCache.get(entry);
  if (!p) {
    p = openpgp
      .readKey({ armoredKey: entry.armored, config: strictConfig() })
      .then((k) => k.toPublic())
      .catch(() => null); // a damaged keyring entry must not keep other messages from opening
    publicCache.set(entry, p);
  }
  return p;
}

function parsePrivate(entry: OpenPgpPrivateEntry): Promise<openpgp.PrivateKey | null> {
  let p = privateCache.get(entry);
  if (!p) {
    p = openpgp
      .readPrivateKey({ armoredKey: entry.armored, config: strictConfig() })
      .then((k) => (k.isDecrypted() ? k : null))
      .catch(() => null);
    privateCache.set(entry, p);
  }
  return p;
}

/** Our own secret keys (the `openpgp-private` entries), unlocked. */
export async function privateKeys(keyring: Keyring): Promise<openpgp.PrivateKey[]> {
  const out: openpgp.PrivateKey[] = [];
  for (const e of keyring.entries()) {
    if (e.type !== 'openpgp-private') continue;
    const k = await parsePrivate(e);
    if (k) out.push(k);
  }
  return out;
}

/**
 * Every public key the keyring knows: our own keys first (they count as trusted), then trusted
 * public keys, then the others. One entry per fingerprint, trusted if any entry for it is.
 */
export async function verificationKeys(keyring: Keyring): Promise<VerificationKey[]> {
  const byFpr = new Map<string, VerificationKey>();
  const add = (key: openpgp.PublicKey, trusted: boolean, own: boolean): void => {
    const fingerprint = key.getFingerprint().toLowerCase();
    const seen = byFpr.get(fingerprint);
    if (seen) {
      seen.trusted ||= trusted;
      seen.own ||= own;
    } else {
      byFpr.set(fingerprint, { key, fingerprint, trusted, own });
    }
  };
  const entries = keyring.entries();
  for (const e of entries) {
    if (e.type !== 'openpgp-private') continue;
    const k = await parsePrivate(e);
    if (k) add(k.toPublic(), true, true);
  }
  for (const e of entries) {
    if (e.type !== 'openpgp-public') continue;
    const k = await parsePublic(e);
    if (k) add(k, e.trusted, false);
  }
  const rank = (v: VerificationKey): number => (v.own ? 0 : v.trusted ? 1 : 2);
  return [...byFpr.values()].sort((a, b) => rank(a) - rank(b));
}

/** The e-mail address in a user ID ("Name <a@b>", or a bare address), lower case. */
export function emailOf(userId: openpgp.UserIDPacket | string): string | null {
  const packet = typeof userId === 'string' ? null : userId;
  const text = packet ? packet.userID : (userId as string);
  const email =
    packet?.email || /<([^<>\s]+@[^<>\s]+)>/.exec(text)?.[1] || /^\s*([^\s<>]+@[^\s<>]+)\s*$/.exec(text)?.[1];
  return email ? email.toLowerCase() : null;
}

/** User IDs with a valid self-certification at `date` (unsigned or revoked ones are not the key's). */
export async function validUserIds(key: openpgp.PublicKey, date: Date): Promise<openpgp.UserIDPacket[]> {
  const out: openpgp.UserIDPacket[] = [];
  const config = strictConfig();
  for (const user of key.users) {
    if (!user.userID) continue;
    try {
      await user.verify(date, config);
      out.push(user.userID);
    } catch {
      // Not bound to the key (or revoked): it says nothing about who holds the key.
    }
  }
  return out;
}

/** The key's primary user ID, or its first valid one, or null (v6 keys may have none). */
export async function primaryUserId(
  key: openpgp.PublicKey,
  date: Date,
): Promise<openpgp.UserIDPacket | null> {
  try {
    const { user } = await key.getPrimaryUser(date, undefined, strictConfig());
    if (user.userID) return user.userID;
  } catch {
    // fall through
  }
  return (await validUserIds(key, date))[0] ?? null;
}

export async function keyInfo(key: openpgp.PublicKey, date: Date): Promise<OpenPgpKeyInfo> {
  let expires: string | null = null;
  try {
    const t = await key.getExpirationTime(undefined, strictConfig());
    if (t instanceof Date) expires = t.toISOString();
  } catch {
    expires = null;
  }
  const userIds = (await validUserIds(key, date)).map((u) => u.userID);
  return {
    fingerprint: key.getFingerprint().toLowerCase(),
    keyId: key.getKeyID().toHex().toLowerCase(),
    userIds,
    algorithm: keyAlgorithmName(key.getAlgorithmInfo()),
    version: key.keyPacket.version,
    created: key.getCreationTime().toISOString(),
    expires,
  };
}

/** Short words for a key in messages: "Bob <bob@example.net> (key ID 8eb2b218aabcf19f)". */
export async function describeKey(key: openpgp.PublicKey, date: Date): Promise<string> {
  const uid = await primaryUserId(key, date);
  const id = key.getKeyID().toHex().toLowerCase();
  return uid ? `${uid.userID} (key ID ${id})` : `key ID ${id}`;
}

async function label(key: openpgp.PublicKey): Promise<string> {
  const uid = await primaryUserId(key, new Date());
  return uid?.userID ?? key.getUserIDs()[0] ?? key.getFingerprint().toLowerCase();
}

const KEY_BLOCK = /-----BEGIN PGP (PUBLIC|PRIVATE) KEY BLOCK-----[\s\S]*?-----END PGP \1 KEY BLOCK-----/g;

/**
 * Reads armored (one or several blocks, public and private mixed) or binary keys. Secret keys are
 * unlocked with `passphrase` and become `openpgp-private` entries holding the unlocked key; public
 * keys become `openpgp-public` entries. A secret key gets no separate public entry: its private
 * entry already counts as a trusted signer (see docs/openpgp.md).
 */
export async function importKeys(
  data: Uint8Array,
  passphrase: string | undefined,
  trusted: boolean,
): Promise<KeyEntry[]> {
  const config = strictConfig();
  const ec = { what: 'The OpenPGP key' };
  const input = readInput(data, 'The OpenPGP key file');
  let keys: openpgp.Key[] = [];
  try {
    if (input.armored !== undefined) {
      const blocks = input.armored.match(KEY_BLOCK) ?? [];
      if (blocks.length === 0) throw malformed('The file holds no OpenPGP key block.');
      for (const block of blocks) keys.push(...(await openpgp.readKeys({ armoredKeys: block, config })));
    } else {
      keys = await openpgp.readKeys({ binaryKeys: input.binary, config });
    }
  } catch (e) {
    throw pgpError(e, ec);
  }
  if (keys.length === 0) throw malformed('The file holds no OpenPGP key.');

  const entries: KeyEntry[] = [];
  for (const key of keys) {
    const id = key.getFingerprint().toLowerCase();
    if (key.isPrivate()) {
      const unlocked = await unlock(key, passphrase);
      entries.push({
        type: 'openpgp-private',
        id,
        label: await label(unlocked),
        armored: unlocked.armor(config),
      });
    } else {
      entries.push({
        type: 'openpgp-public',
        id,
        label: await label(key),
        armored: key.armor(config),
        trusted,
      });
    }
  }
  return entries;
}

async function unlock(key: openpgp.PrivateKey, passphrase: string | undefined): Promise<openpgp.PrivateKey> {
  const config = strictConfig();
  if (key.isDecrypted()) {
    try {
      await internals.privateKey(key).validate(config);
    } catch (e) {
      throw pgpError(e, { what: 'The OpenPGP secret key' });
    }
    return key;
  }
  if (passphrase === undefined) {
    throw new SealpostError(
      'bad-passphrase',
      `The OpenPGP secret key ${key.getKeyID().toHex()} is protected by a passphrase; none was given.`,
      { passphraseRequired: true },
    );
  }
  try {
    return await openpgp.decryptKey({ privateKey: key, passphrase, config });
  } catch (e) {
    if (/passphrase/i.test(errorText(e))) {
      throw new SealpostError(
        'bad-passphrase',
        `The passphrase does not unlock the OpenPGP secret key ${key.getKeyID().toHex()}.`,
        {},
        { cause: e },
      );
    }
    throw pgpError(e, { what: 'The OpenPGP secret key' });
  }
}

/**
 * Armors the secret key encrypted under `passphrase`, in the form GnuPG 2.2 reads: iterated and
 * salted S2K with CFB (no Argon2, no AEAD key protection, which GnuPG 2.2 lacks).
 */
export async function exportKey(entry: OpenPgpPrivateEntry, passphrase: string): Promise<string> {
  if (passphrase === '') throw malformed('Exporting a secret key needs a passphrase to protect it.');
  const config: openpgp.Config = {
    ...strictConfig(),
    s2kType: openpgp.enums.s2k.iterated,
    aeadProtect: false,
  };
  let key: openpgp.PrivateKey;
  try {
    key = await openpgp.readPrivateKey({ armoredKey: entry.armored, config });
  } catch (e) {
    throw pgpError(e, { what: 'The stored OpenPGP key' });
  }
  if (!key.isDecrypted()) throw malformed('The stored OpenPGP secret key is not unlocked.');
  try {
    const locked = await openpgp.encryptKey({ privateKey: key, passphrase, config });
    return locked.armor(config);
  } catch (e) {
    throw pgpError(e, { what: 'The OpenPGP secret key' });
  }
}
