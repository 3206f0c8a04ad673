/**
 * AEAD_CHACHA20_POLY1305 content encryption in AuthEnvelopedData (RFC 8103): the parameters are the
 * 12-byte nonce, the MAC is the 16-byte Poly1305 tag, the authenticated attributes (DER, as a SET)
 * are the additional data. WebCrypto has no ChaCha20-Poly1305: @noble/ciphers does it, imported
 * only for such messages.
 */
import { SealpostError } from '../errors.ts';
import { T, UNIVERSAL, content, expect, type Tlv } from './ber.ts';
import { integrityFailure } from './failures.ts';

export const CHACHA20_POLY1305 = '1.2.840.113549.1.9.16.3.18';

export async function decryptChaCha20Poly1305(
  der: Uint8Array,
  params: Tlv | null,
  cek: Uint8Array,
  encrypted: Uint8Array,
  mac: Uint8Array,
  aad: Uint8Array | undefined,
): Promise<Uint8Array> {
  // AEADChaCha20Poly1305Nonce ::= OCTET STRING (SIZE(12))
  const nonce = content(
    der,
    expect(params ?? undefined, UNIVERSAL, T.OCTET_STRING, 'ChaCha20-Poly1305 nonce'),
  );
  if (nonce.length !== 12)
    throw new SealpostError('malformed', 'The ChaCha20-Poly1305 nonce is not 12 bytes long.');
  if (mac.length !== 16)
    throw new SealpostError('malformed', 'The ChaCha20-Poly1305 tag is not 16 bytes long.');
  if (cek.length !== 32)
    throw new SealpostError('malformed', 'The ChaCha20-Poly1305 key is not 32 bytes long.');
  const { chacha20poly1305 } = await import('@noble/ciphers/chacha.js');
  const sealed = new Uint8Array(encrypted.length + 16);
  sealed.set(encrypted);
  sealed.set(mac, encrypted.length);
  try {
    return chacha20poly1305(cek, nonce, aad).decrypt(sealed);
  } catch (e) {
    throw integrityFailure(e);
  }
}
