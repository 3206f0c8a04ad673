/**
 * AES key wrap (RFC 3394), as CMS uses it to carry the content-encryption key under a KEK. WebCrypto
 * does it for 128- and 256-bit KEKs; Chromium has no 192-bit AES, so that size (and any runtime
 * without AES-KW) goes to @noble/ciphers.
 */
import { toArrayBuffer } from '../bytes.ts';

/** The unwrapped key, or null when the integrity check fails (wrong KEK or altered data). */
export async function aesKeyUnwrap(kek: Uint8Array, wrapped: Uint8Array): Promise<Uint8Array | null> {
  if (wrapped.length < 24 || wrapped.length % 8 !== 0) return null;
  if (kek.length !== 24) {
    try {
      const kw = await crypto.subtle.importKey('raw', toArrayBuffer(kek), 'AES-KW', false, ['unwrapKey']);
      // Unwrapped as an (exportable) HMAC key: the only way WebCrypto hands back raw key bytes.
      const key = await crypto.subtle.unwrapKey(
        'raw',
        toArrayBuffer(wrapped),
        kw,
        'AES-KW',
        { name: 'HMAC', hash: 'SHA-256' },
        true,
        ['sign'],
      );
      return new Uint8Array(await crypto.subtle.exportKey('raw', key));
    } catch (e) {
      if ((e as { name?: string }).name !== 'NotSupportedError') return null;
    }
  }
  const { aeskw } = await import('@noble/ciphers/aes.js');
  try {
    return aeskw(kek).decrypt(wrapped);
  } catch {
    return null;
  }
}

export async function aesKeyWrap(kek: Uint8Array, key: Uint8Array): Promise<Uint8Array> {
  const { aeskw } = await import('@noble/ciphers/aes.js');
  return aeskw(kek).encrypt(key);
}
