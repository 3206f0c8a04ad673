/**
 * Web Key Directory addressing (draft-koch-openpgp-webkey-service, section 3.1): where a mail
 * address's OpenPGP key is published. Shared by the server (which serves the directory) and the
 * receiver (which looks a signer's key up in the signer's domain).
 *
 *   "The so mapped local-part is hashed using the SHA-1 algorithm. The resulting 160 bit digest is
 *    encoded using the Z-Base-32 method as described in [RFC6189], section 5.1.6. The resulting
 *    string has a fixed length of 32 octets."
 *
 * The local part is lowercased first (ASCII only, as GnuPG does: "the local-part is mapped to
 * lowercase").
 */
import { base32nopad } from '@scure/base';
import { sha1 } from '@noble/hashes/legacy.js';

/** RFC 4648 base32 alphabet, position for position against z-base-32's (RFC 6189, 5.1.6). */
const RFC4648 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
const ZBASE32 = 'ybndrfg8ejkmcpqxot1uwisza345h769';

/**
 * z-base-32 of a byte string whose bit length is a multiple of 5 (a SHA-1 digest: 160 bits). Both
 * encodings read the input as a stream of 5-bit groups, most significant bit first; only the
 * alphabet differs. So the audited base32 does the bit packing and we swap the alphabet.
 */
export function zBase32(bytes: Uint8Array): string {
  if ((bytes.length * 8) % 5 !== 0) throw new RangeError('z-base-32 here takes whole 5-bit groups only');
  let out = '';
  for (const c of base32nopad.encode(bytes)) out += ZBASE32[RFC4648.indexOf(c)];
  return out;
}

/** ASCII-only lowercasing, as GnuPG maps the local part (non-ASCII characters stay as they are). */
function asciiLower(s: string): string {
  return s.replace(/[A-Z]/g, (c) => c.toLowerCase());
}

/** The 32-character WKD hash of a local part (before hashing it is lowercased). */
export function wkdHash(localPart: string): string {
  return zBase32(sha1(new TextEncoder().encode(asciiLower(localPart))));
}

export interface WkdUrls {
  /** `https://openpgpkey.<domain>/.well-known/openpgpkey/<domain>/hu/<hash>?l=<local>` */
  advanced: string;
  /** `https://<domain>/.well-known/openpgpkey/hu/<hash>?l=<local>` */
  direct: string;
  hash: string;
  domain: string;
  localPart: string;
}

/** Both lookup URLs of an address, or null when it is not `local@domain`. */
export function wkdUrls(address: string): WkdUrls | null {
  const at = address.lastIndexOf('@');
  if (at < 1 || at === address.length - 1) return null;
  // GnuPG lowercases the local part of the `l` parameter too; the server hashes it again anyway.
  const localPart = asciiLower(address.slice(0, at));
  const domain = address.slice(at + 1).toLowerCase();
  if (!/^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+$/.test(domain)) return null;
  const hash = wkdHash(localPart);
  const l = encodeURIComponent(localPart);
  return {
    advanced: `https://openpgpkey.${domain}/.well-known/openpgpkey/${domain}/hu/${hash}?l=${l}`,
    direct: `https://${domain}/.well-known/openpgpkey/hu/${hash}?l=${l}`,
    hash,
    domain,
    localPart,
  };
}
