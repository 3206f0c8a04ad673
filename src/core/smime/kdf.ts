/**
 * Key derivation for CMS key agreement and key encapsulation: the ANSI X9.63 KDF (RFC 5753, RFC
 * 8418), HKDF (RFC 5869, with the CMS OIDs of RFC 8619 and the key-agreement schemes of RFC 8418),
 * and the DER structures they take as "other info" (ECC-CMS-SharedInfo, CMSORIforKEMOtherInfo).
 */
import { concatBytes, toArrayBuffer } from '../bytes.ts';
import { derLength } from './ber.ts';

/** HKDF key-derivation algorithms of RFC 8619 (KEMRecipientInfo kdf), by OID. */
export const HKDF_KDFS: Record<string, { name: string; hash: 'SHA-256' | 'SHA-384' | 'SHA-512' }> = {
  '1.2.840.113549.1.9.16.3.28': { name: 'HKDF-SHA256', hash: 'SHA-256' },
  '1.2.840.113549.1.9.16.3.29': { name: 'HKDF-SHA384', hash: 'SHA-384' },
  '1.2.840.113549.1.9.16.3.30': { name: 'HKDF-SHA512', hash: 'SHA-512' },
};

/** A DER element: identifier octet, length, body. */
export function tlv(identifier: number, body: Uint8Array): Uint8Array {
  return concatBytes([Uint8Array.of(identifier), derLength(body.length), body]);
}

/** DER INTEGER of a small non-negative number. */
export function derInteger(n: number): Uint8Array {
  const bytes: number[] = [];
  do {
    bytes.unshift(n & 0xff);
    n = Math.floor(n / 256);
  } while (n > 0);
  if (bytes[0]! & 0x80) bytes.unshift(0);
  return tlv(0x02, Uint8Array.from(bytes));
}

/** ECC-CMS-SharedInfo (RFC 5753 §7.2, RFC 8418 §2.3), DER. `keyInfo` is the DER wrap AlgorithmIdentifier. */
export function eccCmsSharedInfo(keyInfo: Uint8Array, ukm: Uint8Array | null, kekBytes: number): Uint8Array {
  const bits = kekBytes * 8;
  const parts = [keyInfo];
  if (ukm) parts.push(tlv(0xa0, tlv(0x04, ukm)));
  parts.push(
    tlv(0xa2, tlv(0x04, Uint8Array.of(bits >>> 24, (bits >>> 16) & 0xff, (bits >>> 8) & 0xff, bits & 0xff))),
  );
  return tlv(0x30, concatBytes(parts));
}

/**
 * CMSORIforKEMOtherInfo (RFC 9629 §5), DER:
 *   SEQUENCE { wrap KeyEncryptionAlgorithmIdentifier, kekLength INTEGER, ukm [0] EXPLICIT OCTET STRING OPTIONAL }
 */
export function kemOtherInfo(wrap: Uint8Array, kekLength: number, ukm: Uint8Array | null): Uint8Array {
  const parts = [wrap, derInteger(kekLength)];
  if (ukm) parts.push(tlv(0xa0, tlv(0x04, ukm)));
  return tlv(0x30, concatBytes(parts));
}

/** ANSI X9.63 KDF. */
export async function x963Kdf(
  hash: string,
  z: Uint8Array,
  info: Uint8Array,
  length: number,
): Promise<Uint8Array> {
  const out: Uint8Array[] = [];
  let have = 0;
  for (let counter = 1; have < length; counter++) {
    const block = concatBytes([
      z,
      Uint8Array.of(counter >>> 24, (counter >>> 16) & 0xff, (counter >>> 8) & 0xff, counter & 0xff),
      info,
    ]);
    const d = new Uint8Array(await crypto.subtle.digest(hash, toArrayBuffer(block)));
    out.push(d);
    have += d.length;
  }
  return concatBytes(out).subarray(0, length);
}

/** HKDF with no salt (RFC 5869: HashLen zero bytes), as RFC 8418 and RFC 9629 use it. */
export async function hkdf(
  hash: string,
  ikm: Uint8Array,
  info: Uint8Array,
  length: number,
): Promise<Uint8Array> {
  const key = await crypto.subtle.importKey('raw', toArrayBuffer(ikm), 'HKDF', false, ['deriveBits']);
  return new Uint8Array(
    await crypto.subtle.deriveBits(
      { name: 'HKDF', hash, salt: new Uint8Array(0), info: toArrayBuffer(info) },
      key,
      length * 8,
    ),
  );
}
