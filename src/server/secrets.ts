/**
 * Identifiers, link secrets and API keys. Secrets and keys are 256 random bits, shown once and
 * stored only as SHA-256 hashes; a presented secret is compared with the stored hash in constant
 * time.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** A random identifier, base64url (16 bytes = 128 bits → 22 characters). */
export function randomId(bytes = 16): string {
  return randomBytes(bytes).toString('base64url');
}

/** A link secret: 32 random bytes, base64url (43 characters). */
export function newLinkSecret(): string {
  return randomBytes(32).toString('base64url');
}

/** An API key: "sp_" and 32 random bytes, base64url. */
export function newApiKey(): string {
  return `sp_${randomBytes(32).toString('base64url')}`;
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

const DUMMY_HASH = hashToken('sealpost-no-such-delivery');

/**
 * Does `presented` hash to `storedHashHex`? Constant time in the secret; with a null stored hash
 * (unknown delivery) it does the same work and answers false.
 */
export function secretMatches(presented: string, storedHashHex: string | null): boolean {
  const a = createHash('sha256').update(presented, 'utf8').digest();
  const b = Buffer.from(storedHashHex ?? DUMMY_HASH, 'hex');
  const equal = b.length === a.length && timingSafeEqual(a, b);
  return equal && storedHashHex !== null;
}

/** Well-formed link secrets are 43 base64url characters; anything else cannot match. */
export function looksLikeSecret(s: string): boolean {
  return /^[A-Za-z0-9_-]{43}$/.test(s);
}
